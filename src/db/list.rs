//! List values. Redis 7.0 always reports the `quicklist` encoding for lists; moonkv
//! keeps the elements in one ring buffer of compact strings (O(1) push/pop at both
//! ends, O(1) index).

use super::sbuf::SBuf;
use std::collections::VecDeque;

/// A list value.
#[derive(Clone, Debug, Default)]
pub struct ListValue {
    pub items: VecDeque<SBuf>,
}

impl ListValue {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty (an empty list is deleted by the command that emptied it).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<SBuf>() + self.items.iter().map(|s| s.heap_size()).sum::<usize>()
    }

    /// Elements in order, for DEBUG DIGEST and serialisation.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.items.iter().map(|s| s.as_bytes())
    }
}
