//! Hash values with Redis 7.0's two encodings: `listpack` (a small vector of
//! field/value pairs, up to `hash-max-listpack-entries` pairs whose strings are at most
//! `hash-max-listpack-value` bytes) and `hashtable` (a `Dict`, whose cursor HSCAN uses).

use super::dict::Dict;
use super::sbuf::SBuf;

/// A hash value.
pub enum HashValue {
    Listpack(Vec<(SBuf, SBuf)>),
    Table(Dict<SBuf>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(Vec::new())
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
                HashValue::Table(t)
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
            HashValue::Listpack(v) => v.len(),
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
            HashValue::Listpack(v) => Box::new(v.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))),
            HashValue::Table(d) => Box::new(d.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))),
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let strings: usize = self.iter().map(|(f, v)| f.len() + v.len()).sum();
        match self {
            HashValue::Listpack(v) => v.capacity() * 48 + strings,
            HashValue::Table(d) => d.len() * 64 + d.buckets() * 8 + strings,
        }
    }
}
