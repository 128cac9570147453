//! Commands: the one command table (`table`), the typed argument cursor (`args`), the
//! error type (`error`), and one file per family with its table rows next to its
//! handlers. Handlers return `Result<Reply, CommandError>` and never touch sockets.

pub mod args;
pub mod bits;
pub mod connection;
pub mod dump;
pub mod error;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod table;
pub mod transactions;
pub mod zsets;

pub use error::{CmdResult, CommandError};
