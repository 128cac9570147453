//! `Reply`: a value a command returns, independent of the protocol version. The encoder
//! decides how each variant looks in RESP2 and RESP3 (maps flatten to arrays in RESP2,
//! doubles become bulk strings, nulls become `$-1`/`*-1`, ...).

use bytes::Bytes;

/// A reply value. Handlers build these; only the encoder turns them into bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text` (simple string, must not contain CR or LF).
    Status(String),
    /// `-CODE text`: the full error line without the leading `-`.
    Error(String),
    /// `:n`
    Int(i64),
    /// `$len\r\nbytes`
    Bulk(Bytes),
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// `*n` followed by the elements.
    Array(Vec<Reply>),
    /// RESP3 map `%n`; flattened to an array of 2n elements in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set `~n`; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double `,`; a bulk string (`%.17g`) in RESP2.
    Double(f64),
    /// RESP3 boolean `#t`/`#f`; `:1`/`:0` in RESP2.
    Bool(bool),
    /// RESP3 verbatim string `=len\r\ntxt:...`; a bulk string in RESP2.
    Verbatim(Bytes),
    /// RESP3 verbatim string with its own 3-letter format (scripts choose it).
    VerbatimAs { format: Bytes, text: Bytes },
    /// RESP3 big number `(digits`; a bulk string in RESP2.
    BigNumber(Bytes),
    /// RESP3 push `>n`; an array in RESP2 (pub/sub messages, invalidations).
    Push(Vec<Reply>),
    /// Nothing is sent (SHUTDOWN closes the connection without a reply).
    NoReply,
    /// Several replies to one command, sent one after the other (SUBSCRIBE with
    /// several channels confirms each).
    Many(Vec<Reply>),
    /// Bytes already encoded, identical in RESP2 and RESP3 (an array of bulk
    /// strings): built without an allocation per element (LRANGE, MGET-like replies).
    Raw(Bytes),
}

impl Reply {
    /// Decodes a `Raw` reply back into an `Array` of bulk strings (what scripts need
    /// to see); any other reply is returned unchanged.
    pub fn decode_raw(self) -> Reply {
        let Reply::Raw(b) = self else { return self };
        fn line(b: &[u8], pos: &mut usize) -> Option<i64> {
            let start = *pos + 1;
            let end = start + b.get(start..)?.windows(2).position(|w| w == b"\r\n")?;
            *pos = end + 2;
            std::str::from_utf8(&b[start..end]).ok()?.parse().ok()
        }
        let mut pos = 0;
        let Some(n) = line(&b, &mut pos) else { return Reply::Error("ERR internal reply".into()) };
        if n < 0 {
            return Reply::NilArray;
        }
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            match line(&b, &mut pos) {
                Some(len) if len >= 0 => {
                    let len = len as usize;
                    items.push(Reply::Bulk(b.slice(pos..pos + len)));
                    pos += len + 2;
                }
                _ => items.push(Reply::Nil),
            }
        }
        Reply::Array(items)
    }
}

impl Reply {
    /// `+OK`
    pub fn ok() -> Reply {
        Reply::Status("OK".into())
    }

    /// A bulk string from anything byte-like.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string copied from a byte slice.
    pub fn bulk_from(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// An array of bulk strings copied from slices.
    pub fn bulk_array<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Reply {
        Reply::Array(items.into_iter().map(Reply::bulk_from).collect())
    }

    /// An array of bulk strings encoded at once (same bytes in RESP2 and RESP3).
    pub fn encoded_bulk_array<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Reply {
        let mut out = bytes::BytesMut::with_capacity(16 + items.len() * 16);
        super::encode_bulk_array(items, &mut out);
        Reply::Raw(out.freeze())
    }

    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}
