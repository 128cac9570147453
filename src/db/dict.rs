//! `Dict`: the keyspace hash table, shaped like Redis's `dict.c` because three Redis
//! guarantees depend on that shape:
//!
//! * SCAN with a reverse-binary cursor returns every element present for the whole
//!   iteration at least once, also when the table grows or shrinks between calls;
//! * rehashing is incremental (two tables, a bucket cursor moved a few steps per write
//!   and for ~1 ms per cron tick), so growing a million-key table causes no latency spike;
//! * a fair-ish random element (RANDOMKEY, eviction samples) is O(1) on average.
//!
//! Chained buckets of boxed nodes; power-of-two table sizes.

use super::sbuf::SBuf;

struct Node<V> {
    key: SBuf,
    val: V,
    next: Option<Box<Node<V>>>,
}

struct Table<V> {
    buckets: Vec<Option<Box<Node<V>>>>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Self {
        Table { buckets: Vec::new(), used: 0 }
    }
    fn with_size(n: usize) -> Self {
        let mut buckets = Vec::with_capacity(n);
        buckets.resize_with(n, || None);
        Table { buckets, used: 0 }
    }
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// Initial table size, as in Redis.
const INITIAL_SIZE: usize = 4;
/// Shrink when fewer than 1/MIN_FILL of the buckets are used.
const MIN_FILL: usize = 10;

/// A hash table from byte-string keys to `V` with incremental rehashing and a
/// resize-safe scan cursor.
pub struct Dict<V> {
    ht: [Table<V>; 2],
    /// Next bucket of `ht[0]` to move to `ht[1]`; `None` when not rehashing.
    rehash_idx: Option<usize>,
    /// While a background snapshot walks the dictionary, nodes stay in their
    /// buckets: no rehash steps, no resizes (`freeze`).
    frozen: bool,
    hasher: ahash::RandomState,
}

/// A place in a walk over the buckets of both tables, table 0 first (`walk_slice`).
/// While the dictionary is frozen, a key's place (`place_of`) does not change, so
/// comparing it with a walk's cursor tells whether the walk has passed the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkPos {
    table: usize,
    bucket: usize,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

fn rev(v: usize) -> usize {
    v.reverse_bits()
}

impl<V> Dict<V> {
    /// An empty dictionary (allocates on first insert).
    pub fn new() -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehash_idx: None,
            frozen: false,
            hasher: ahash::RandomState::new(),
        }
    }

    fn hash(&self, key: &[u8]) -> usize {
        self.hasher.hash_one(key) as usize
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets in both tables (for memory accounting and DEBUG HTSTATS).
    pub fn buckets(&self) -> usize {
        self.ht[0].buckets.len() + self.ht[1].buckets.len()
    }

    /// True while an incremental rehash is in progress.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.free_chains();
        self.ht = [Table::empty(), Table::empty()];
        self.rehash_idx = None;
        self.frozen = false;
    }

    /// Freezes (or thaws) the layout: while frozen, no rehash step runs and the
    /// table neither grows nor shrinks (chains get longer instead, as in Redis
    /// while a fork child runs), so every node keeps its bucket.
    pub fn freeze(&mut self, frozen: bool) {
        self.frozen = frozen;
    }

    /// Where `key` is, or would be inserted now (see `WalkPos`).
    pub fn place_of(&self, key: &[u8]) -> WalkPos {
        if self.ht[0].buckets.is_empty() {
            return WalkPos::default();
        }
        let h = self.hash(key);
        if let Some(ri) = self.rehash_idx {
            let b = h & self.ht[0].mask();
            let in_old = b >= ri && {
                let mut cur = self.ht[0].buckets[b].as_deref();
                loop {
                    match cur {
                        Some(n) if n.key.as_bytes() == key => break true,
                        Some(n) => cur = n.next.as_deref(),
                        None => break false,
                    }
                }
            };
            if !in_old {
                return WalkPos { table: 1, bucket: h & self.ht[1].mask() };
            }
        }
        WalkPos { table: 0, bucket: h & self.ht[0].mask() }
    }

    /// Visits whole buckets from `pos` on until at least `max` elements were seen,
    /// and moves `pos` past them. Returns true when the walk is complete. Meant for
    /// a frozen dictionary, walked in slices with the lock released in between.
    pub fn walk_slice(&self, pos: &mut WalkPos, max: usize, mut f: impl FnMut(&SBuf, &V)) -> bool {
        let mut seen = 0;
        while pos.table < 2 {
            let buckets = &self.ht[pos.table].buckets;
            while pos.bucket < buckets.len() {
                if let Some(Some(ahead)) = buckets.get(pos.bucket + PREFETCH_AHEAD) {
                    prefetch(&**ahead);
                }
                let mut cur = buckets[pos.bucket].as_deref();
                while let Some(n) = cur {
                    f(&n.key, &n.val);
                    seen += 1;
                    cur = n.next.as_deref();
                }
                pos.bucket += 1;
                if seen >= max {
                    return pos.table == 1 && pos.bucket == buckets.len();
                }
            }
            *pos = WalkPos { table: pos.table + 1, bucket: 0 };
        }
        true
    }

    fn find_node(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in 0..2 {
            let table = &self.ht[t];
            if !table.buckets.is_empty() {
                let mut cur = table.buckets[h & table.mask()].as_deref();
                while let Some(n) = cur {
                    if n.key.as_bytes() == key {
                        return Some(n);
                    }
                    cur = n.next.as_deref();
                }
            }
            if self.rehash_idx.is_none() {
                break;
            }
        }
        None
    }

    /// Looks a key up.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find_node(key).map(|n| &n.val)
    }

    /// Looks a key up and returns the stored key too.
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&SBuf, &V)> {
        self.find_node(key).map(|n| (&n.key, &n.val))
    }

    /// Looks a key up for modification.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.find_mut_hashed(h, key)
    }

    /// True when the key is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find_node(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: SBuf, val: V) -> Option<V> {
        let h = self.hash(key.as_bytes());
        self.rehash_step();
        if let Some(slot) = self.find_mut_hashed(h, key.as_bytes()) {
            return Some(std::mem::replace(slot, val));
        }
        self.insert_new_hashed(h, key, val);
        None
    }

    /// Replaces the value of `key`, or inserts it with the key made by `make_key`
    /// (so an existing key costs no allocation). One hash computation either way.
    pub fn upsert(&mut self, key: &[u8], make_key: impl FnOnce() -> SBuf, val: V) -> Option<V> {
        let h = self.hash(key);
        self.rehash_step();
        if let Some(slot) = self.find_mut_hashed(h, key) {
            return Some(std::mem::replace(slot, val));
        }
        self.insert_new_hashed(h, make_key(), val);
        None
    }

    fn find_mut_hashed(&mut self, h: usize, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        let rehashing = self.rehash_idx.is_some();
        for table in self.ht.iter_mut() {
            if !table.buckets.is_empty() {
                let mask = table.mask();
                let mut cur = table.buckets[h & mask].as_deref_mut();
                while let Some(n) = cur {
                    if n.key.as_bytes() == key {
                        return Some(&mut n.val);
                    }
                    cur = n.next.as_deref_mut();
                }
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    /// Links a node for a key known to be absent.
    fn insert_new_hashed(&mut self, h: usize, key: SBuf, val: V) {
        self.expand_if_needed();
        // New keys go to the new table while rehashing, so ht[0] only shrinks.
        let t = if self.rehash_idx.is_some() { 1 } else { 0 };
        let table = &mut self.ht[t];
        let idx = h & table.mask();
        let next = table.buckets[idx].take();
        table.buckets[idx] = Some(Box::new(Node { key, val, next }));
        table.used += 1;
    }

    /// Removes a key; returns the stored key and value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(SBuf, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        let rehashing = self.rehash_idx.is_some();
        for table in self.ht.iter_mut() {
            if !table.buckets.is_empty() {
                let idx = h & table.mask();
                let mut link = &mut table.buckets[idx];
                loop {
                    match link {
                        None => break,
                        Some(n) if n.key.as_bytes() == key => {
                            let mut node = link.take().expect("matched Some above");
                            *link = node.next.take();
                            table.used -= 1;
                            return Some((node.key, node.val));
                        }
                        Some(n) => link = &mut n.next,
                    }
                }
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        if self.ht[0].buckets.is_empty() {
            self.ht[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        if self.ht[0].used >= self.ht[0].buckets.len() && !self.frozen {
            self.start_resize((self.ht[0].used + 1).next_power_of_two());
        }
    }

    fn start_resize(&mut self, size: usize) {
        let size = size.max(INITIAL_SIZE);
        if self.rehash_idx.is_some() || size == self.ht[0].buckets.len() {
            return;
        }
        self.ht[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    /// Starts shrinking the table when it is mostly empty (called from the cron, as
    /// Redis's `tryResizeHashTables`).
    pub fn shrink_if_needed(&mut self) {
        let size = self.ht[0].buckets.len();
        if self.rehash_idx.is_none()
            && !self.frozen
            && size > INITIAL_SIZE
            && self.ht[0].used * 100 / size < 100 / MIN_FILL
        {
            self.start_resize(self.ht[0].used.next_power_of_two());
        }
    }

    /// Moves up to `n` buckets (visiting at most 10n empty ones) from the old table
    /// to the new. Returns true while more work remains.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx.filter(|_| !self.frozen) else { return false };
        let mut empty_visits = n * 10;
        let mut n = n;
        while n > 0 && self.ht[0].used > 0 {
            while self.ht[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.ht[0].buckets[idx].take();
            let mask = self.ht[1].mask();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let h = self.hasher.hash_one(node.key.as_bytes()) as usize & mask;
                node.next = self.ht[1].buckets[h].take();
                self.ht[1].buckets[h] = Some(node);
                self.ht[0].used -= 1;
                self.ht[1].used += 1;
            }
            idx += 1;
            n -= 1;
        }
        if self.ht[0].used == 0 {
            self.ht[0] = std::mem::replace(&mut self.ht[1], Table::empty());
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    fn rehash_step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    /// Rehashes in steps of 100 buckets until done or `budget` has elapsed.
    pub fn rehash_for(&mut self, budget: std::time::Duration) {
        let start = std::time::Instant::now();
        while self.rehash(100) {
            if start.elapsed() >= budget {
                break;
            }
        }
    }

    fn visit_bucket(table: &Table<V>, idx: usize, f: &mut impl FnMut(&SBuf, &V)) {
        let mut cur = table.buckets[idx].as_deref();
        while let Some(n) = cur {
            f(&n.key, &n.val);
            cur = n.next.as_deref();
        }
    }

    /// Visits the bucket(s) at `cursor` and returns the next cursor (0 when the
    /// iteration is complete). Redis's `dictScan`: every element present for the
    /// whole iteration is visited at least once, even across resizes.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&SBuf, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor as usize;
        if self.rehash_idx.is_none() {
            let t0 = &self.ht[0];
            let m0 = t0.mask();
            Self::visit_bucket(t0, v & m0, &mut f);
            v |= !m0;
            v = rev(rev(v).wrapping_add(1));
        } else {
            let (small, large) = if self.ht[0].buckets.len() <= self.ht[1].buckets.len() {
                (&self.ht[0], &self.ht[1])
            } else {
                (&self.ht[1], &self.ht[0])
            };
            let m0 = small.mask();
            let m1 = large.mask();
            Self::visit_bucket(small, v & m0, &mut f);
            loop {
                Self::visit_bucket(large, v & m1, &mut f);
                v |= !m1;
                v = rev(rev(v).wrapping_add(1));
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v as u64
    }

    /// A random element, or `None` when empty. Like Redis: a random non-empty bucket,
    /// then a random element of its chain.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&SBuf, &V)> {
        if self.is_empty() {
            return None;
        }
        let total = self.ht[0].buckets.len() + self.ht[1].buckets.len();
        loop {
            let (table, idx) = if let Some(ri) = self.rehash_idx {
                // Buckets below rehash_idx in ht[0] are known empty.
                let i = rng.gen_range(ri..total);
                if i < self.ht[0].buckets.len() {
                    (&self.ht[0], i)
                } else {
                    (&self.ht[1], i - self.ht[0].buckets.len())
                }
            } else {
                (&self.ht[0], rng.gen_range(0..self.ht[0].buckets.len()))
            };
            if let Some(head) = table.buckets[idx].as_deref() {
                let mut len = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.as_deref();
                }
                let mut pick = rng.gen_range(0..len);
                let mut cur = head;
                while pick > 0 {
                    cur = cur.next.as_deref().expect("pick < chain length");
                    pick -= 1;
                }
                return Some((&cur.key, &cur.val));
            }
        }
    }

    /// Iterates over all elements (no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&SBuf, &V)> {
        self.ht.iter().flat_map(|t| {
            t.buckets.iter().flat_map(|b| {
                let mut cur = b.as_deref();
                std::iter::from_fn(move || {
                    let n = cur?;
                    cur = n.next.as_deref();
                    Some((&n.key, &n.val))
                })
            })
        })
    }
}

/// Buckets ahead of the current one whose first node `for_each` prefetches.
const PREFETCH_AHEAD: usize = 16;

impl<V> Dict<V> {
    /// Calls `f` on every element, as fast as memory allows: a full walk is bound by
    /// cache misses on the nodes (one per element, ~75 ns each measured on a
    /// million keys), so the first node of the bucket `PREFETCH_AHEAD` places on is
    /// requested while the current one is processed (a snapshot's cut of 1M keys:
    /// 106 → 75 ms). Used where a walk runs under the engine lock.
    pub fn for_each(&self, f: impl FnMut(&SBuf, &V)) {
        self.for_each_part(0, 1, f)
    }

    /// `for_each` over part `part` of `parts` (contiguous bucket ranges of each
    /// table): the parts together visit every element once, so several threads can
    /// walk one dictionary.
    pub fn for_each_part(&self, part: usize, parts: usize, mut f: impl FnMut(&SBuf, &V)) {
        for t in &self.ht {
            let buckets = &t.buckets;
            let (from, to) = (buckets.len() * part / parts, buckets.len() * (part + 1) / parts);
            for i in from..to {
                let b = &buckets[i];
                if let Some(Some(ahead)) = buckets.get(i + PREFETCH_AHEAD) {
                    prefetch(&**ahead);
                }
                let mut cur = b.as_deref();
                while let Some(n) = cur {
                    f(&n.key, &n.val);
                    cur = n.next.as_deref();
                }
            }
        }
    }
}

/// Asks the CPU to bring `v` (its first two cache lines) into the cache.
#[inline]
fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = v as *const T as *const i8;
        // SAFETY: prefetching is a hint with no memory effects; `p` points into a
        // live allocation and the second line is only a hint too (never read).
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch(p, _MM_HINT_T0);
            _mm_prefetch(p.wrapping_add(64), _MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

impl<V> Dict<V> {
    /// Unlinks every chain iteratively so a long chain cannot overflow the stack.
    fn free_chains(&mut self) {
        for t in self.ht.iter_mut() {
            for b in t.buckets.iter_mut() {
                let mut cur = b.take();
                while let Some(mut n) = cur {
                    cur = n.next.take();
                }
            }
        }
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.free_chains();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: usize) -> SBuf {
        SBuf::from_slice(format!("key:{i}").as_bytes())
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            assert!(d.insert(key(i), i).is_none());
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
        assert_eq!(d.insert(key(5), 55), Some(5));
        for i in 0..10_000 {
            assert!(d.remove(&key(i)).is_some());
        }
        assert!(d.is_empty());
    }

    #[test]
    fn scan_guarantee_across_resizes() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(key(i), i);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, |_, v| {
                seen.insert(*v);
            });
            round += 1;
            // Grow mid-iteration, then shrink: keys 0..1000 stay throughout.
            if round == 10 {
                for i in 1000..5000 {
                    d.insert(key(i), i);
                }
            }
            if round == 40 {
                for i in 1000..5000 {
                    d.remove(&key(i));
                }
                d.shrink_if_needed();
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(&i), "key {i} missed");
        }
    }

    #[test]
    fn random_returns_members() {
        let mut d = Dict::new();
        let mut rng = rand::thread_rng();
        assert!(d.random(&mut rng).is_none());
        for i in 0..100 {
            d.insert(key(i), i);
        }
        for _ in 0..100 {
            let (_, v) = d.random(&mut rng).unwrap();
            assert!(*v < 100);
        }
    }
}
