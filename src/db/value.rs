//! Values stored under keys. Strings keep Redis's three encodings (`int`, `embstr`,
//! `raw`) because OBJECT ENCODING reports them and they decide memory use; later data
//! types join the `Value` enum.

use super::sbuf::SBuf;
use crate::util::num::parse_i64;
use std::sync::Arc;

/// Longest string stored with the `embstr` encoding (Redis's
/// `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_LIMIT: usize = 44;

/// A string value.
#[derive(Clone, Debug)]
pub enum RStr {
    /// A string that is the canonical text of an i64 (`int` encoding).
    Int(i64),
    /// An immutable short string as created by SET (`embstr`).
    Emb(SBuf),
    /// A modifiable string (`raw`): long, or changed in place by APPEND/SETRANGE/SETBIT.
    /// Shared with snapshots: a change copies it first if a snapshot still holds it.
    Raw(Arc<Vec<u8>>),
}

impl RStr {
    /// The encoding Redis's `tryObjectEncoding` would choose for a new string.
    pub fn new(b: &[u8]) -> RStr {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return RStr::Int(n);
            }
        }
        if b.len() <= EMBSTR_LIMIT {
            RStr::Emb(SBuf::from_slice(b))
        } else {
            RStr::Raw(Arc::new(b.to_vec()))
        }
    }

    /// A string kept as text even when it looks like an integer (Redis's
    /// `createStringObject`: INCRBYFLOAT results are `embstr`, not `int`).
    pub fn text(b: &[u8]) -> RStr {
        if b.len() <= EMBSTR_LIMIT {
            RStr::Emb(SBuf::from_slice(b))
        } else {
            RStr::Raw(Arc::new(b.to_vec()))
        }
    }

    /// The string's bytes (integers are formatted).
    pub fn to_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            RStr::Int(n) => std::borrow::Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            RStr::Emb(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
            RStr::Raw(v) => std::borrow::Cow::Borrowed(v),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            RStr::Int(n) => itoa::Buffer::new().format(*n).len(),
            RStr::Emb(s) => s.len(),
            RStr::Raw(v) => v.len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts to the `raw` encoding and returns the bytes for in-place change.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, RStr::Raw(_)) {
            *self = RStr::Raw(Arc::new(self.to_bytes().into_owned()));
        }
        match self {
            RStr::Raw(v) => Arc::make_mut(v),
            _ => unreachable!("converted to Raw just above"),
        }
    }

    /// The integer value, if the string is a valid Redis integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            RStr::Int(n) => Some(*n),
            RStr::Emb(s) => parse_i64(s),
            RStr::Raw(v) => parse_i64(v),
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            RStr::Int(_) => "int",
            RStr::Emb(_) => "embstr",
            RStr::Raw(_) => "raw",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            RStr::Int(_) => 0,
            RStr::Emb(s) => s.heap_size(),
            RStr::Raw(v) => v.capacity(),
        }
    }
}

/// A value stored under a key. Collections sit behind one reference-counted pointer:
/// a `Value` stays small inside the keyspace node, and a snapshot holds the same
/// collections without copying them; a change to a collection a snapshot still holds
/// copies it first (`Arc::make_mut`: copy-on-write at value granularity).
#[derive(Clone, Debug)]
pub enum Value {
    Str(RStr),
    List(Arc<super::list::ListValue>),
    Hash(Arc<super::hash::HashValue>),
    Set(Arc<super::set::SetValue>),
    ZSet(Arc<super::zset::ZSetValue>),
}

impl Value {
    /// A new string value with Redis's encoding choice.
    pub fn string(b: &[u8]) -> Value {
        Value::Str(RStr::new(b))
    }

    /// A list value.
    pub fn list(l: super::list::ListValue) -> Value {
        Value::List(Arc::new(l))
    }

    /// A hash value.
    pub fn hash(h: super::hash::HashValue) -> Value {
        Value::Hash(Arc::new(h))
    }

    /// A set value.
    pub fn set(s: super::set::SetValue) -> Value {
        Value::Set(Arc::new(s))
    }

    /// A sorted-set value.
    pub fn zset(z: super::zset::ZSetValue) -> Value {
        Value::ZSet(Arc::new(z))
    }

    /// TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }

    /// True for an empty collection (which must not stay in the keyspace).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn encodings() {
        assert_eq!(RStr::new(b"123").encoding(), "int");
        assert_eq!(RStr::new(b"0123").encoding(), "embstr");
        assert_eq!(RStr::new(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(RStr::new(&[b'a'; 45]).encoding(), "raw");
        let mut s = RStr::new(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.to_bytes().as_ref(), b"123");
        assert_eq!(s.encoding(), "raw");
    }
}
