//! The data: values (`value`), the incremental-rehash dictionary (`dict`), compact
//! byte strings for keys (`sbuf`) and one database with its expires (`keyspace`).
//! Knows nothing of RESP, clients or replication.

pub mod dict;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod listpack;
pub mod sbuf;
pub mod set;
pub mod value;
pub mod zset;

pub use hash::HashValue;
pub use keyspace::Db;
pub use list::ListValue;
pub use sbuf::SBuf;
pub use set::SetValue;
pub use value::{RStr, Value};
pub use zset::ZSetValue;
