//! The data: values (`value`), the incremental-rehash dictionary (`dict`), compact
//! byte strings for keys (`sbuf`) and one database with its expires (`keyspace`).
//! Knows nothing of RESP, clients or replication.

pub mod dict;
pub mod keyspace;
pub mod sbuf;
pub mod value;

pub use keyspace::Db;
pub use sbuf::SBuf;
pub use value::{RStr, Value};
