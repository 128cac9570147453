//! `CommandError`: every error a command can return. One variant per Redis error
//! code; `Display` is Redis's exact text (without the leading `-`), and `into_reply`
//! is the one place an error becomes RESP.

use crate::protocol::Reply;
use std::fmt;

/// An error reply of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR syntax error`
    Syntax,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR wrong number of arguments for '<name>' command`
    WrongArity(String),
    /// `ERR unknown command '<name>', with args beginning with: ...`
    UnknownCommand { name: String, args: Vec<String> },
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand { sub: String, cmd: String },
    /// `NOAUTH Authentication required.`
    NoAuth,
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// `ERR <message>`: Redis's generic error code with a specific message.
    Err(String),
    /// An error with its own code, given in full: `CODE message`.
    Coded(String),
}

impl CommandError {
    /// `ERR <msg>`.
    pub fn err(msg: impl Into<String>) -> Self {
        CommandError::Err(msg.into())
    }

    /// The reply carrying this error.
    pub fn into_reply(self) -> Reply {
        Reply::Error(self.to_string())
    }

    /// The error code (first word), as counted in INFO errorstats.
    pub fn code(&self) -> String {
        let s = self.to_string();
        s.split(' ').next().unwrap_or("ERR").to_string()
    }
}

fn trunc(s: &str, n: usize) -> String {
    // Redis quotes at most 128 bytes of user input in these messages.
    let b = s.as_bytes();
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::WrongType => f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value"),
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::NotFloat => f.write_str("ERR value is not a valid float"),
            CommandError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CommandError::NoSuchKey => f.write_str("ERR no such key"),
            CommandError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{}' command", name)
            }
            CommandError::UnknownCommand { name, args } => {
                write!(f, "ERR unknown command '{}', with args beginning with: ", trunc(name, 128))?;
                for a in args {
                    write!(f, "'{}' ", trunc(a, 128))?;
                }
                Ok(())
            }
            CommandError::UnknownSubcommand { sub, cmd } => {
                write!(f, "ERR unknown subcommand '{}'. Try {} HELP.", trunc(sub, 128), cmd)
            }
            CommandError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CommandError::WrongPass => f.write_str("WRONGPASS invalid username-password pair or user is disabled."),
            CommandError::Err(m) => write!(f, "ERR {}", m),
            CommandError::Coded(m) => f.write_str(m),
        }
    }
}

/// Result type of every command handler.
pub type CmdResult = Result<Reply, CommandError>;
