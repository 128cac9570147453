//! Request decoder: turns bytes from a client into argument vectors.
//!
//! Requests are either multibulk (`*<n>\r\n$<len>\r\n<bytes>\r\n...`) or inline
//! (a line of words as typed into telnet, with Redis's quoting rules). The decoder keeps
//! the state of a partly received multibulk request so a big request arriving in many
//! reads is scanned once. Limits and error texts follow Redis 7.0's `networking.c`;
//! every error is a framing error after which the connection is closed.

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;

/// Longest inline request, and longest `*<n>` / `$<n>` header line (Redis's
/// `PROTO_INLINE_MAX_SIZE`).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Bulk lengths at or above this are received into a buffer reserved up front.
const PROTO_MBULK_BIG_ARG: usize = 32 * 1024;

/// The limits that depend on configuration and on the client's authentication.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// Unauthenticated clients may only send small requests (10 args, 16 KiB bulks).
    pub authenticated: bool,
}

/// A framing error: the reply text (without `-`); the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn proto_err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(format!("ERR Protocol error: {}", msg.into()))
}

/// Incremental decoder state for one connection.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// Arguments still expected for the multibulk request in progress (0: none).
    pending: usize,
    /// Length of the bulk being received, once its header was read.
    bulk_len: Option<usize>,
    argv: Vec<Bytes>,
}

fn find_byte(buf: &[u8], b: u8) -> Option<usize> {
    buf.iter().position(|&c| c == b)
}

impl RequestDecoder {
    /// Creates a decoder with no request in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk request is partly received.
    pub fn in_progress(&self) -> bool {
        self.pending > 0
    }

    /// Decodes the next complete request from `buf`, consuming its bytes.
    /// `Ok(None)` means more bytes are needed. Empty requests (`*0`, blank inline
    /// lines) are skipped.
    pub fn decode(&mut self, buf: &mut BytesMut, limits: &DecodeLimits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.pending == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match decode_inline(buf)? {
                        None => return Ok(None),
                        Some(argv) if argv.is_empty() => continue,
                        Some(argv) => return Ok(Some(argv)),
                    }
                }
                let Some(cr) = header_line(buf, "too big mbulk count string")? else {
                    return Ok(None);
                };
                let n = crate::util::num::parse_i64(&buf[1..cr]);
                let n = match n {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(proto_err("invalid multibulk length")),
                };
                if n > 10 && !limits.authenticated {
                    return Err(proto_err("unauthenticated multibulk length"));
                }
                buf.advance(cr + 2);
                if n <= 0 {
                    continue;
                }
                self.pending = n as usize;
                // Cap the up-front allocation: the count is client controlled.
                self.argv = Vec::with_capacity(self.pending.min(1024));
                self.bulk_len = None;
            }
            while self.pending > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        let Some(cr) = header_line(buf, "too big bulk count string")? else {
                            return Ok(None);
                        };
                        if buf[0] != b'$' {
                            return Err(proto_err(format!("expected '$', got '{}'", buf[0] as char)));
                        }
                        let len = match crate::util::num::parse_i64(&buf[1..cr]) {
                            Some(l) if l >= 0 && (l as u64) <= limits.max_bulk_len => l as usize,
                            _ => return Err(proto_err("invalid bulk length")),
                        };
                        if len > 16384 && !limits.authenticated {
                            return Err(proto_err("unauthenticated bulk length"));
                        }
                        buf.advance(cr + 2);
                        if len >= PROTO_MBULK_BIG_ARG {
                            // Receive a big argument without repeated reallocation.
                            buf.reserve(len + 2);
                        }
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    return Ok(None);
                }
                let arg = buf.split_to(len).freeze();
                // Like Redis, the two bytes after the payload are skipped unchecked.
                buf.advance(2);
                self.argv.push(arg);
                self.bulk_len = None;
                self.pending -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.argv)));
        }
    }
}

/// Finds the CR ending a `*<n>` or `$<n>` header line; `None` until the whole line
/// (CR LF) is buffered. A header that is still open after 64 KiB is `too_big`.
fn header_line(buf: &[u8], too_big: &str) -> Result<Option<usize>, ProtocolError> {
    match find_byte(buf, b'\r') {
        Some(cr) if cr + 1 < buf.len() => Ok(Some(cr)),
        Some(_) => Ok(None),
        None if buf.len() > PROTO_INLINE_MAX_SIZE => Err(proto_err(too_big)),
        None => Ok(None),
    }
}

/// Decodes one inline request line, or returns `None` when the line is incomplete.
fn decode_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = find_byte(buf, b'\n') else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(proto_err("too big inline request"));
        }
        return Ok(None);
    };
    let mut end = nl;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    let argv = crate::util::sds::split_args(&buf[..end]).ok_or_else(|| proto_err("unbalanced quotes in request"))?;
    buf.advance(nl + 1);
    Ok(Some(argv.into_iter().map(Bytes::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: DecodeLimits = DecodeLimits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };

    fn all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        while let Some(argv) = d.decode(&mut buf, &LIM)? {
            out.push(argv.iter().map(|b| b.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_pipelining() {
        let r = all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(r, vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]);
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*2\r\n$3\r\nSET\r\n$5\r\na\r\nbc\r\n";
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &c in input.iter() {
            buf.extend_from_slice(&[c]);
            if let Some(a) = d.decode(&mut buf, &LIM).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[1].as_ref(), b"a\r\nbc");
    }

    #[test]
    fn inline() {
        let r = all(b"set k \"a b\\x41\"\r\n\r\nget 'it\\'s'\n").unwrap();
        assert_eq!(
            r,
            vec![vec![b"set".to_vec(), b"k".to_vec(), b"a bA".to_vec()], vec![b"get".to_vec(), b"it's".to_vec()]]
        );
        assert_eq!(all(b"set \"a\r\n").unwrap_err().0, "ERR Protocol error: unbalanced quotes in request");
    }

    #[test]
    fn errors() {
        assert_eq!(all(b"*a\r\n").unwrap_err().0, "ERR Protocol error: invalid multibulk length");
        assert_eq!(all(b"*1\r\n+x\r\n").unwrap_err().0, "ERR Protocol error: expected '$', got '+'");
        assert_eq!(all(b"*1\r\n$-1\r\n").unwrap_err().0, "ERR Protocol error: invalid bulk length");
        assert_eq!(all(b"*1\r\n$536870913\r\n").unwrap_err().0, "ERR Protocol error: invalid bulk length");
        assert_eq!(all(b"*0\r\n*-1\r\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
        let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        assert_eq!(all(&big).unwrap_err().0, "ERR Protocol error: too big inline request");
        let unauth = DecodeLimits { authenticated: false, ..LIM };
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(d.decode(&mut buf, &unauth).unwrap_err().0, "ERR Protocol error: unauthenticated multibulk length");
    }
}
