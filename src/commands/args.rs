//! `Args`: a typed cursor over a command's arguments. Parsing errors are Redis's
//! (`NotInteger`, `NotFloat`, `Syntax`), so handlers read arguments in one line each.

use super::error::CommandError;
use crate::util::num::{parse_f64, parse_i64};
use bytes::Bytes;

/// A cursor over `argv[start..]`.
pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor positioned after the command name (`argv[1]`).
    pub fn new(argv: &'a [Bytes]) -> Self {
        Args { argv, pos: 1 }
    }

    /// A cursor positioned at `pos`.
    pub fn at(argv: &'a [Bytes], pos: usize) -> Self {
        Args { argv, pos }
    }

    /// Arguments not yet consumed.
    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    /// True when every argument was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, or a syntax error when there is none.
    pub fn next_bytes(&mut self) -> Result<&'a Bytes, CommandError> {
        let a = self.argv.get(self.pos).ok_or(CommandError::Syntax)?;
        self.pos += 1;
        Ok(a)
    }

    /// The next argument if any.
    pub fn next_opt(&mut self) -> Option<&'a Bytes> {
        let a = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument as a Redis integer.
    pub fn next_i64(&mut self) -> Result<i64, CommandError> {
        parse_int(self.next_bytes()?)
    }

    /// The next argument as a Redis float.
    pub fn next_f64(&mut self) -> Result<f64, CommandError> {
        parse_float(self.next_bytes()?)
    }

    /// Consumes the next argument when it equals `kw` (ASCII case-insensitive).
    pub fn eat(&mut self, kw: &str) -> bool {
        match self.argv.get(self.pos) {
            Some(a) if a.eq_ignore_ascii_case(kw.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// The next argument uppercased, for keyword matching, without consuming it.
    pub fn peek_upper(&self) -> Option<String> {
        self.argv.get(self.pos).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
    }

    /// The rest of the arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = &self.argv[self.pos.min(self.argv.len())..];
        self.pos = self.argv.len();
        r
    }
}

/// Parses an integer argument with Redis's rules.
pub fn parse_int(b: &[u8]) -> Result<i64, CommandError> {
    parse_i64(b).ok_or(CommandError::NotInteger)
}

/// Parses a float argument with Redis's rules.
pub fn parse_float(b: &[u8]) -> Result<f64, CommandError> {
    parse_f64(b).ok_or(CommandError::NotFloat)
}

/// Lowercase copy of a command or keyword name.
pub fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor() {
        let argv: Vec<Bytes> = ["set", "k", "v", "EX", "10", "x"].iter().map(|s| Bytes::from(*s)).collect();
        let mut a = Args::new(&argv);
        assert_eq!(a.next_bytes().unwrap().as_ref(), b"k");
        assert_eq!(a.next_bytes().unwrap().as_ref(), b"v");
        assert!(!a.eat("px"));
        assert!(a.eat("ex"));
        assert_eq!(a.next_i64().unwrap(), 10);
        assert_eq!(a.next_i64(), Err(CommandError::NotInteger));
        assert!(a.is_empty());
        assert_eq!(a.next_bytes(), Err(CommandError::Syntax));
    }
}
