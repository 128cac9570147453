//! Sorted set values with Redis 7.0's two encodings: `listpack` (a small vector of
//! member/score pairs ordered by score then member, up to `zset-max-listpack-entries`
//! members of at most `zset-max-listpack-value` bytes) and `skiplist` (an index from
//! member to score plus an ordered structure with O(log n) rank operations).

use super::sbuf::SBuf;

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    /// Pairs sorted by (score, member).
    Listpack(Vec<(SBuf, f64)>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(Vec::new())
    }
}

impl ZSetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.len(),
        }
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
        }
    }

    /// (member, score) in score order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            ZSetValue::Listpack(v) => Box::new(v.iter().map(|(m, s)| (m.as_bytes(), *s))),
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.iter().map(|(m, _)| m.len() + 40).sum()
    }
}
