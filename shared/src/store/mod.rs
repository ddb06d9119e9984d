//! `JobStore` adapters: Redis (deadpool-redis) and the in-memory store of embedded mode.

pub mod memory;
pub mod redis;

pub use self::redis::RedisStore;
pub use memory::MemoryStore;
