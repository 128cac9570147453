//! Set values with Redis 7.0's two encodings: `intset` (a sorted vector of integers, up
//! to `set-max-intset-entries`) and `hashtable` (a `Dict` with no values, whose cursor
//! SSCAN uses).
//!
//! A set starts as an intset when its first member is an integer (`setTypeCreate`)
//! and becomes a hashtable, for good, when a non-integer member arrives or it holds
//! more than `set-max-intset-entries` members. Knows nothing of commands.

use super::dict::Dict;
use super::sbuf::SBuf;
use crate::util::num::parse_i64;
use bytes::Bytes;

/// A set value.
pub enum SetValue {
    /// Sorted integers.
    Intset(Vec<i64>),
    /// Members as strings.
    Table(Dict<()>),
}

/// One member as stored: an intset integer or a hashtable string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member as bytes (integers in decimal).
    pub fn to_bytes(self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Member::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// Calls `f` with the member's bytes without allocating.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Str(s) => f(s),
        }
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Intset(Vec::new())
    }
}

impl Clone for SetValue {
    fn clone(&self) -> Self {
        match self {
            SetValue::Intset(v) => SetValue::Intset(v.clone()),
            SetValue::Table(d) => {
                let mut t = Dict::new();
                for (k, _) in d.iter() {
                    t.insert(k.clone(), ());
                }
                SetValue::Table(t)
            }
        }
    }
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SetValue({} members, {})", self.len(), self.encoding())
    }
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(v) => v.len(),
            SetValue::Table(d) => d.len(),
        }
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    /// Members as bytes (integers formatted), in no particular order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.iter().map(|m| m.with_bytes(|b| b.to_vec())).collect()
    }

    /// Members in storage order (ascending for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            SetValue::Intset(v) => Box::new(v.iter().map(|n| Member::Int(*n))),
            SetValue::Table(d) => Box::new(d.iter().map(|(k, _)| Member::Str(k.as_bytes()))),
        }
    }

    /// True when `m` (a member of another set) is a member, without formatting
    /// integers when both sides are intsets.
    pub fn contains_member(&self, m: Member<'_>) -> bool {
        match (self, m) {
            (SetValue::Intset(v), Member::Int(n)) => v.binary_search(&n).is_ok(),
            (_, m) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// True when `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetValue::Table(d) => d.contains_key(m),
        }
    }

    /// Converts an intset to a hashtable (no-op for a hashtable).
    pub fn convert_to_table(&mut self) {
        if let SetValue::Intset(v) = self {
            let mut d = Dict::new();
            let mut buf = itoa::Buffer::new();
            for n in v.iter() {
                d.insert(SBuf::from_slice(buf.format(*n).as_bytes()), ());
            }
            *self = SetValue::Table(d);
        }
    }

    /// Redis's `setTypeAdd`: adds `m`, true when it was not a member. An intset
    /// becomes a hashtable for a non-integer member or when it grows beyond
    /// `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: u64) -> bool {
        match self {
            SetValue::Table(d) => d.upsert(m, || SBuf::from_slice(m), ()).is_none(),
            SetValue::Intset(v) => match parse_i64(m) {
                Some(n) => {
                    let Err(pos) = v.binary_search(&n) else { return false };
                    v.insert(pos, n);
                    if v.len() as u64 > max_intset {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    self.add(m, max_intset)
                }
            },
        }
    }

    /// Removes `m`; true when it was a member. A hashtable shrinks when mostly empty,
    /// as Redis's `setTypeRemove` does.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(m).map(|n| v.binary_search(&n)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Table(d) => {
                let gone = d.remove(m).is_some();
                if gone {
                    d.shrink_if_needed();
                }
                gone
            }
        }
    }

    /// A random member (uniform for an intset; a random bucket then a random chain
    /// element for a hashtable, like Redis).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<Member<'_>> {
        match self {
            SetValue::Intset(v) if v.is_empty() => None,
            SetValue::Intset(v) => Some(Member::Int(v[rng.gen_range(0..v.len())])),
            SetValue::Table(d) => d.random(rng).map(|(k, _)| Member::Str(k.as_bytes())),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<Bytes> {
        let m = self.random(rng)?.to_bytes();
        self.remove(&m);
        Some(m)
    }

    /// One SSCAN step: visits members and returns the next cursor. An intset is
    /// visited whole and returns cursor 0 (as Redis); a hashtable stops once it
    /// collected `count` members or after `count * 10` extra bucket steps.
    pub fn scan(&self, cursor: u64, count: u64, mut f: impl FnMut(Member<'_>)) -> u64 {
        match self {
            SetValue::Intset(v) => {
                for n in v {
                    f(Member::Int(*n));
                }
                0
            }
            SetValue::Table(d) => {
                let mut visited = 0u64;
                let mut cursor = d.scan(cursor, |k, _| {
                    visited += 1;
                    f(Member::Str(k.as_bytes()))
                });
                let mut budget = count.saturating_mul(10);
                while cursor != 0 && budget > 0 && visited < count {
                    budget -= 1;
                    cursor = d.scan(cursor, |k, _| {
                        visited += 1;
                        f(Member::Str(k.as_bytes()))
                    });
                }
                cursor
            }
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Intset(v) => v.capacity() * 8,
            SetValue::Table(d) => d.iter().map(|(k, _)| 48 + k.heap_size()).sum::<usize>() + d.buckets() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_limit_or_string() {
        let mut s = SetValue::default();
        assert!(s.add(b"3", 3));
        assert!(s.add(b"1", 3));
        assert!(!s.add(b"1", 3));
        assert!(s.add(b"2", 3));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.members(), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert!(!s.contains(b"01"));
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"4") && s.contains(b"1"));
        let mut s = SetValue::default();
        s.add(b"1", 512);
        s.add(b"a", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.remove(b"1") && !s.remove(b"1"));
        let mut s = SetValue::default();
        s.add(b"-0", 512);
        assert_eq!(s.encoding(), "hashtable");
    }
}
