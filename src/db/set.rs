//! Set values with Redis 7.0's two encodings: `intset` (a sorted vector of integers, up
//! to `set-max-intset-entries`) and `hashtable` (a `Dict` with no values, whose cursor
//! SSCAN uses).

use super::dict::Dict;

/// A set value.
pub enum SetValue {
    Intset(Vec<i64>),
    Table(Dict<()>),
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
        match self {
            SetValue::Intset(v) => v.iter().map(|n| n.to_string().into_bytes()).collect(),
            SetValue::Table(d) => d.iter().map(|(k, _)| k.to_vec()).collect(),
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
