//! List values. Redis 7.0 always reports the `quicklist` encoding for lists; moonkv
//! keeps the elements in one ring buffer of compact strings (O(1) push/pop at both
//! ends, O(1) index). Index arithmetic that follows Redis's rules for negative and
//! out-of-range indexes lives here, so every list command agrees on it.

use super::sbuf::SBuf;
use std::collections::VecDeque;

/// An end of a list: LEFT is the head, RIGHT the tail (Redis's `LIST_HEAD` /
/// `LIST_TAIL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// Parses `LEFT` / `RIGHT` (any case).
    pub fn parse(b: &[u8]) -> Option<End> {
        if b.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if b.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

/// Lists shorter than this grow their buffer exactly.
const SMALL_LIST: usize = 16;

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

    /// Adds `v` at `end`.
    pub fn push(&mut self, end: End, v: &[u8]) {
        // Small lists grow one slot at a time: most lists are short, and doubling
        // would leave up to half of their buffer unused.
        if self.items.len() < SMALL_LIST && self.items.len() == self.items.capacity() {
            self.items.reserve_exact(1);
        }
        let v = SBuf::from_slice(v);
        match end {
            End::Left => self.items.push_front(v),
            End::Right => self.items.push_back(v),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<SBuf> {
        match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }
    }

    /// Removes up to `n` elements from `end`, in the order they are popped.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<SBuf> {
        let n = n.min(self.items.len());
        match end {
            End::Left => self.items.drain(..n).collect(),
            End::Right => {
                let at = self.items.len() - n;
                let mut v: Vec<SBuf> = self.items.drain(at..).collect();
                v.reverse();
                v
            }
        }
    }

    /// The position of Redis index `index` (negative counts from the tail), if any.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len.checked_add(index)? } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The element at Redis index `index`.
    pub fn get(&self, index: i64) -> Option<&[u8]> {
        self.resolve(index).map(|i| self.items[i].as_bytes())
    }

    /// Replaces the element at Redis index `index`; false when out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        match self.resolve(index) {
            Some(i) => {
                self.items[i] = SBuf::from_slice(v);
                true
            }
            None => false,
        }
    }

    /// Positions `[start, end]` (inclusive) selected by Redis's range rules (LRANGE,
    /// LTRIM): negative indexes count from the tail, the range is clipped, and it is
    /// empty (`None`) when start is past the end or after `end`.
    pub fn range_bounds(&self, start: i64, end: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 { len.saturating_add(start) } else { start };
        let mut end = if end < 0 { len.saturating_add(end) } else { end };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return None;
        }
        if end >= len {
            end = len - 1;
        }
        Some((start as usize, end as usize))
    }

    /// The elements in positions `[start, end]`.
    pub fn range(&self, start: usize, end: usize) -> impl ExactSizeIterator<Item = &[u8]> {
        self.items.range(start..=end).map(|s| s.as_bytes())
    }

    /// Keeps only positions `[start, end]` (or nothing); returns how many were removed.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) -> usize {
        let before = self.items.len();
        match keep {
            Some((start, end)) => {
                self.items.truncate(end + 1);
                self.items.drain(..start);
            }
            None => self.items.clear(),
        }
        before - self.items.len()
    }

    /// Inserts `v` before or after the first `pivot` (from the head); false when the
    /// pivot is not in the list.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], after: bool) -> bool {
        match self.items.iter().position(|e| e.as_bytes() == pivot) {
            Some(i) => {
                self.items.insert(if after { i + 1 } else { i }, SBuf::from_slice(v));
                true
            }
            None => false,
        }
    }

    /// Removes elements equal to `v`: the first `count` from the head when `count`
    /// is positive, the last `-count` from the tail when negative, all when zero.
    /// Returns how many were removed.
    pub fn remove(&mut self, count: i64, v: &[u8]) -> usize {
        let limit = if count == 0 { usize::MAX } else { count.unsigned_abs().min(usize::MAX as u64) as usize };
        let n = self.items.len();
        let order: Box<dyn Iterator<Item = usize>> = if count >= 0 { Box::new(0..n) } else { Box::new((0..n).rev()) };
        let mut hits: Vec<usize> = order.filter(|&i| self.items[i].as_bytes() == v).take(limit).collect();
        hits.sort_unstable();
        if hits.is_empty() {
            return 0;
        }
        let mut next = 0;
        let mut pos = 0;
        self.items.retain(|_| {
            let drop = next < hits.len() && hits[next] == pos;
            if drop {
                next += 1;
            }
            pos += 1;
            !drop
        });
        hits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::default();
        for i in items {
            l.push(End::Right, i.as_bytes());
        }
        l
    }

    fn items(l: &ListValue) -> Vec<String> {
        l.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
    }

    #[test]
    fn ranges_follow_redis_rules() {
        let l = list(&["a", "b", "c", "d"]);
        assert_eq!(l.range_bounds(0, -1), Some((0, 3)));
        assert_eq!(l.range_bounds(-100, 100), Some((0, 3)));
        assert_eq!(l.range_bounds(2, 1), None);
        assert_eq!(l.range_bounds(4, 10), None);
        assert_eq!(l.range_bounds(-2, -1), Some((2, 3)));
        assert_eq!(l.range_bounds(i64::MIN, i64::MAX), Some((0, 3)));
        assert_eq!(l.get(-1), Some(&b"d"[..]));
        assert_eq!(l.get(4), None);
        assert_eq!(l.get(i64::MIN), None);
    }

    #[test]
    fn remove_counts_from_either_end() {
        let mut l = list(&["x", "a", "x", "b", "x"]);
        assert_eq!(l.remove(-2, b"x"), 2);
        assert_eq!(items(&l), ["x", "a", "b"]);
        let mut l = list(&["x", "a", "x", "b", "x"]);
        assert_eq!(l.remove(1, b"x"), 1);
        assert_eq!(items(&l), ["a", "x", "b", "x"]);
        assert_eq!(l.remove(0, b"x"), 2);
        assert_eq!(items(&l), ["a", "b"]);
        assert_eq!(l.remove(i64::MIN, b"a"), 1);
    }

    #[test]
    fn pop_many_and_trim() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        let v: Vec<_> = l.pop_many(End::Right, 2).iter().map(|s| s.to_vec()).collect();
        assert_eq!(v, [b"e".to_vec(), b"d".to_vec()]);
        assert_eq!(l.trim(Some((1, 1))), 2);
        assert_eq!(items(&l), ["b"]);
        assert!(l.insert(b"b", b"z", true));
        assert!(l.insert(b"b", b"y", false));
        assert_eq!(items(&l), ["y", "b", "z"]);
    }
}
