//! Reply encoder: one function turns a `Reply` into RESP2 or RESP3 bytes.

use super::reply::Reply;
use crate::util::num::format_g17;
use bytes::{BufMut, BytesMut};

fn put_len(out: &mut BytesMut, prefix: u8, n: i64) {
    out.put_u8(prefix);
    let mut buf = itoa::Buffer::new();
    out.put_slice(buf.format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    put_len(out, b'$', b.len() as i64);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Appends `args` as a RESP array of bulk strings (how commands travel: the
/// replication stream, requests to a primary).
pub fn encode_bulk_array<'a>(args: impl ExactSizeIterator<Item = &'a [u8]>, out: &mut BytesMut) {
    let mut num = itoa::Buffer::new();
    out.put_u8(b'*');
    out.put_slice(num.format(args.len()).as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        out.put_u8(b'$');
        out.put_slice(num.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// Appends the encoding of `reply` for protocol version `resp` (2 or 3) to `out`.
pub fn encode(reply: &Reply, resp: u8, out: &mut BytesMut) {
    match reply {
        Reply::NoReply => {}
        Reply::Raw(b) => out.put_slice(b),
        Reply::Many(items) => {
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Status(s) => {
            out.put_u8(b'+');
            out.put_slice(s.as_bytes());
            out.put_slice(b"\r\n");
        }
        Reply::Error(e) => {
            out.put_u8(b'-');
            // An error line must stay one line: Redis replaces CR/LF with spaces.
            for &c in e.as_bytes() {
                out.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
            }
            out.put_slice(b"\r\n");
        }
        Reply::Int(n) => put_len(out, b':', *n),
        Reply::Bulk(b) => put_bulk(out, b),
        Reply::Nil => {
            if resp >= 3 {
                out.put_slice(b"_\r\n")
            } else {
                out.put_slice(b"$-1\r\n")
            }
        }
        Reply::NilArray => {
            if resp >= 3 {
                out.put_slice(b"_\r\n")
            } else {
                out.put_slice(b"*-1\r\n")
            }
        }
        Reply::Array(items) => {
            put_len(out, b'*', items.len() as i64);
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Set(items) => {
            put_len(out, if resp >= 3 { b'~' } else { b'*' }, items.len() as i64);
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Push(items) => {
            put_len(out, if resp >= 3 { b'>' } else { b'*' }, items.len() as i64);
            for r in items {
                encode(r, resp, out);
            }
        }
        Reply::Map(pairs) => {
            if resp >= 3 {
                put_len(out, b'%', pairs.len() as i64);
            } else {
                put_len(out, b'*', 2 * pairs.len() as i64);
            }
            for (k, v) in pairs {
                encode(k, resp, out);
                encode(v, resp, out);
            }
        }
        Reply::Double(d) => {
            let s = format_g17(*d);
            if resp >= 3 {
                out.put_u8(b',');
                out.put_slice(s.as_bytes());
                out.put_slice(b"\r\n");
            } else {
                put_bulk(out, s.as_bytes());
            }
        }
        Reply::Bool(b) => {
            if resp >= 3 {
                out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
            } else {
                out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
            }
        }
        Reply::VerbatimAs { format, text } => {
            if resp >= 3 {
                put_len(out, b'=', text.len() as i64 + 4);
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            } else {
                put_bulk(out, text);
            }
        }
        Reply::BigNumber(b) => {
            if resp >= 3 {
                out.put_u8(b'(');
                out.put_slice(b);
                out.put_slice(b"\r\n");
            } else {
                put_bulk(out, b);
            }
        }
        Reply::Verbatim(b) => {
            if resp >= 3 {
                put_len(out, b'=', b.len() as i64 + 4);
                out.put_slice(b"txt:");
                out.put_slice(b);
                out.put_slice(b"\r\n");
            } else {
                put_bulk(out, b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn enc(r: &Reply, resp: u8) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode(r, resp, &mut b);
        b.to_vec()
    }

    #[test]
    fn resp2_and_resp3() {
        assert_eq!(enc(&Reply::ok(), 2), b"+OK\r\n");
        assert_eq!(enc(&Reply::Nil, 2), b"$-1\r\n");
        assert_eq!(enc(&Reply::Nil, 3), b"_\r\n");
        assert_eq!(enc(&Reply::Int(-5), 2), b":-5\r\n");
        let m = Reply::Map(vec![(Reply::bulk(Bytes::from_static(b"a")), Reply::Int(1))]);
        assert_eq!(enc(&m, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Error("ERR a\r\nb".into()), 2), b"-ERR a  b\r\n");
        assert_eq!(enc(&Reply::Verbatim(Bytes::from_static(b"hi")), 3), b"=6\r\ntxt:hi\r\n");
        let items: [&[u8]; 2] = [b"a", b""];
        let raw = Reply::encoded_bulk_array(items.iter().copied());
        let slow = Reply::Array(vec![Reply::bulk_from(b"a"), Reply::bulk_from(b"")]);
        assert_eq!(enc(&raw, 2), enc(&slow, 2));
        assert_eq!(enc(&raw, 3), enc(&slow, 3));
    }
}
