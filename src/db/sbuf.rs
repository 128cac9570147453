//! `SBuf`: a compact immutable byte string for keys (and small values): up to 22 bytes
//! are stored inline in the 24-byte handle, longer ones in one shared heap allocation.
//! Keys dominate per-key memory, so this matters for the memory-per-key target; the
//! allocation is reference-counted so that a snapshot's cut holds a long key (or an
//! `embstr` value) without copying it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE: usize = 22;

/// A compact, immutable byte string.
#[derive(Clone)]
pub enum SBuf {
    /// Short strings live inside the handle.
    Inline { len: u8, data: [u8; INLINE] },
    /// Longer strings share one exact-size allocation (plus its two counters).
    Heap(std::sync::Arc<[u8]>),
}

impl SBuf {
    /// Copies `b` into a new `SBuf`.
    pub fn from_slice(b: &[u8]) -> SBuf {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            SBuf::Inline { len: b.len() as u8, data }
        } else {
            SBuf::Heap(b.into())
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SBuf::Inline { len, data } => &data[..*len as usize],
            SBuf::Heap(b) => b,
        }
    }

    /// Bytes allocated outside the handle (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            SBuf::Inline { .. } => 0,
            SBuf::Heap(b) => b.len() + 2 * std::mem::size_of::<usize>(),
        }
    }
}

impl Deref for SBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for SBuf {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SBuf {
    fn eq(&self, other: &SBuf) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for SBuf {}

impl Hash for SBuf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialOrd for SBuf {
    fn partial_cmp(&self, other: &SBuf) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SBuf {
    fn cmp(&self, other: &SBuf) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for SBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for SBuf {
    fn from(b: &[u8]) -> SBuf {
        SBuf::from_slice(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn size_and_roundtrip() {
        assert_eq!(std::mem::size_of::<SBuf>(), 24);
        for n in [0usize, 1, 22, 23, 100] {
            let v = vec![7u8; n];
            assert_eq!(SBuf::from_slice(&v).as_bytes(), &v[..]);
        }
    }
}
