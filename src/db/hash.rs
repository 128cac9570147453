//! Hash values with Redis 7.0's two encodings: `listpack` (a small vector of
//! field/value pairs, up to `hash-max-listpack-entries` pairs whose strings are at most
//! `hash-max-listpack-value` bytes) and `hashtable` (a `Dict`, whose cursor HSCAN uses).
//!
//! Conversions happen exactly where Redis 7.0 makes them (`hashTypeTryConversion`
//! before a write with a long string, `hashTypeSet` after the pair count exceeds the
//! limit) and only from listpack to hashtable, never back. Knows nothing of commands.

use super::dict::Dict;
use super::listpack::Listpack;
use super::sbuf::SBuf;

/// A hash value.
pub enum HashValue {
    /// Fields and values alternating in one buffer, in insertion order (an update
    /// keeps the pair in place, as Redis's listpack).
    Listpack(Listpack),
    /// Field → value; boxed so a small hash stays small.
    Table(Box<Dict<SBuf>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(Listpack::new())
    }
}

impl Clone for HashValue {
    fn clone(&self) -> Self {
        match self {
            HashValue::Listpack(v) => HashValue::Listpack(v.clone()),
            HashValue::Table(d) => {
                let mut t = Dict::new();
                for (k, v) in d.iter() {
                    t.insert(k.clone(), v.clone());
                }
                HashValue::Table(Box::new(t))
            }
        }
    }
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashValue({} fields, {})", self.len(), self.encoding())
    }
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(lp) => lp.len() / 2,
            HashValue::Table(d) => d.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Field/value pairs (listpack order, or table order).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashValue::Listpack(lp) => Box::new(lp.pairs()),
            HashValue::Table(d) => Box::new(d.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Listpack(lp) => lp.get_pair(field),
            HashValue::Table(d) => d.get(field).map(|v| v.as_bytes()),
        }
    }

    /// True when `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts a listpack to a hashtable (no-op for a hashtable).
    pub fn convert_to_table(&mut self) {
        if let HashValue::Listpack(lp) = self {
            let mut d = Dict::new();
            for (f, v) in lp.pairs() {
                d.insert(SBuf::from_slice(f), SBuf::from_slice(v));
            }
            *self = HashValue::Table(Box::new(d));
        }
    }

    /// Redis's `hashTypeTryConversion`: before a write, a listpack becomes a hashtable
    /// when one of the strings about to be written is longer than `max_value`.
    pub fn convert_for_strings<'s>(&mut self, strings: impl IntoIterator<Item = &'s [u8]>, max_value: u64) {
        if matches!(self, HashValue::Listpack(_)) && strings.into_iter().any(|s| s.len() as u64 > max_value) {
            self.convert_to_table();
        }
    }

    /// Redis's `hashTypeSet`: sets `field` to `value`; true when the field is new.
    /// A listpack converts first when either string is longer than `max_value` (the
    /// HINCRBY* path, which skips `convert_for_strings`), and after the write when it
    /// holds more than `max_entries` pairs.
    pub fn set(&mut self, field: &[u8], value: &[u8], max_entries: u64, max_value: u64) -> bool {
        self.convert_for_strings([field, value], max_value);
        match self {
            HashValue::Listpack(lp) => {
                if let Some(i) = lp.find_pair(field) {
                    lp.replace(2 * i + 1, value);
                    return false;
                }
                lp.push(field);
                lp.push(value);
                if (lp.len() / 2) as u64 > max_entries {
                    self.convert_to_table();
                }
                true
            }
            HashValue::Table(d) => d.upsert(field, || SBuf::from_slice(field), SBuf::from_slice(value)).is_none(),
        }
    }

    /// Removes `field`; true when it was present. A hashtable shrinks when mostly
    /// empty, as Redis's `hashTypeDelete` does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(lp) => match lp.find_pair(field) {
                Some(i) => {
                    lp.remove(2 * i, 2);
                    true
                }
                None => false,
            },
            HashValue::Table(d) => {
                let gone = d.remove(field).is_some();
                if gone {
                    d.shrink_if_needed();
                }
                gone
            }
        }
    }

    /// A random field/value pair (uniform for a listpack; a random bucket then a
    /// random chain element for a hashtable, like Redis).
    pub fn random_pair(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Listpack(lp) if lp.is_empty() => None,
            HashValue::Listpack(lp) => lp.nth_pair(rng.gen_range(0..lp.len() / 2)),
            HashValue::Table(d) => d.random(rng).map(|(f, v)| (f.as_bytes(), v.as_bytes())),
        }
    }

    /// One HSCAN step: visits pairs and returns the next cursor. A listpack is visited
    /// whole and returns cursor 0 (as Redis); a hashtable stops once it collected
    /// `count` strings (a pair counts two, as in Redis's reply list) or after
    /// `count * 10` extra bucket steps (Redis's `scanGenericCommand`).
    pub fn scan(&self, cursor: u64, count: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            HashValue::Listpack(lp) => {
                for (k, v) in lp.pairs() {
                    f(k, v);
                }
                0
            }
            HashValue::Table(d) => {
                let mut visited = 0u64;
                let mut cursor = d.scan(cursor, |k, v| {
                    visited += 2;
                    f(k.as_bytes(), v.as_bytes())
                });
                let mut budget = count.saturating_mul(10);
                while cursor != 0 && budget > 0 && visited < count {
                    budget -= 1;
                    cursor = d.scan(cursor, |k, v| {
                        visited += 2;
                        f(k.as_bytes(), v.as_bytes())
                    });
                }
                cursor
            }
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let strings: usize = self.iter().map(|(f, v)| f.len() + v.len()).sum();
        match self {
            HashValue::Listpack(lp) => lp.heap_size(),
            HashValue::Table(d) => d.len() * 64 + d.buckets() * 8 + strings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_order_and_converts_on_count() {
        let mut h = HashValue::default();
        assert!(h.set(b"a", b"1", 2, 64));
        assert!(h.set(b"b", b"2", 2, 64));
        assert!(!h.set(b"a", b"3", 2, 64));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"a"[..], &b"3"[..]), (&b"b"[..], &b"2"[..])]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"c", b"4", 2, 64));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"3"[..]));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn long_strings_convert() {
        let mut h = HashValue::default();
        h.set(b"f", &[b'x'; 64], 128, 64);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"g", &[b'x'; 65], 128, 64);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::default();
        h.convert_for_strings([&b"short"[..], &[b'y'; 65][..]], 64);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn table_scan_visits_everything() {
        let mut h = HashValue::default();
        for i in 0..1000 {
            h.set(format!("f{i}").as_bytes(), b"v", 10, 64);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 10, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
