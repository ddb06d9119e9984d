//! `JobQueue` adapters: RabbitMQ (lapin) and the in-process queue of embedded mode.

pub mod amqp;
mod held;
pub mod memory;

pub use amqp::AmqpQueue;
pub use memory::MemoryQueue;
