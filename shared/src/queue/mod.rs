//! `JobQueue` adapters: RabbitMQ (lapin) and the in-process queue of embedded mode.

pub mod amqp;
pub mod memory;

pub use amqp::AmqpQueue;
pub use memory::MemoryQueue;
