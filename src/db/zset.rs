//! Sorted set values with Redis 7.0's two encodings: `listpack` (a small vector of
//! member/score pairs ordered by score then member, up to `zset-max-listpack-entries`
//! members of at most `zset-max-listpack-value` bytes) and `skiplist` (a `Dict` from
//! member to score plus `ScoreTree`, an order-statistic tree with O(log n) rank and
//! range operations). A value converts from listpack to skiplist when it outgrows the
//! limits and never back, as in Redis; stores (ZUNIONSTORE, ZRANGESTORE, ...) pick the
//! encoding of their result with `from_sorted`.
//!
//! Ranges (by rank, score or lex) are all answered as rank intervals `[start, end)`:
//! the number of members before the range's lower bound and the number up to its upper
//! bound, both found by one descent of the tree (a binary search on the listpack).

use super::dict::Dict;
use super::listpack::Listpack;
use super::sbuf::SBuf;
use bytes::Bytes;
use std::cmp::Ordering;

/// The encoding limits of `zset-max-listpack-entries` / `zset-max-listpack-value`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    /// Members and scores (8 bytes, little-endian f64) alternating in one buffer,
    /// sorted by (score, member).
    Listpack(Listpack),
    /// Member index plus ordered tree (OBJECT ENCODING says `skiplist`).
    Tree(Box<Indexed>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(Listpack::new())
    }
}

/// Orders (score, member) pairs as Redis does: by score, then by member bytes.
fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2).unwrap_or(Ordering::Equal).then_with(|| m1.cmp(m2))
}

/// The score a listpack keeps: Redis stores integral scores as integers there, so
/// `-0` reads back as `0` (the skiplist keeps `-0`).
fn listpack_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// A score interval (`ZRANGEBYSCORE` syntax: `(` makes a bound exclusive).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// True when `s` lies before the lower bound.
    fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// True when `s` does not exceed the upper bound.
    fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lex interval (`ZRANGEBYLEX` syntax).
#[derive(Debug, Clone)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m < x.as_slice(),
            LexBound::Excl(x) => m <= x.as_slice(),
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }
}

/// (member, score) pairs of a zset listpack, in order.
fn lp_pairs(lp: &Listpack) -> impl Iterator<Item = (&[u8], f64)> {
    lp.pairs().map(|(m, s)| (m, f64::from_le_bytes(s.try_into().unwrap_or([0; 8]))))
}

/// Pair index of `member`.
fn lp_position(lp: &Listpack, member: &[u8]) -> Option<usize> {
    lp_pairs(lp).position(|(m, _)| m == member)
}

/// Number of leading pairs for which `pred(score, member)` holds.
fn lp_partition_point(lp: &Listpack, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
    lp_pairs(lp).position(|(m, s)| !pred(s, m)).unwrap_or(lp.len() / 2)
}

/// Inserts a pair at pair index `i`.
fn lp_insert(lp: &mut Listpack, i: usize, member: &[u8], score: f64) {
    lp.insert(2 * i, member);
    lp.insert(2 * i + 1, &score.to_le_bytes());
}

/// Removes pair `i`; returns its score.
fn lp_remove(lp: &mut Listpack, i: usize) -> f64 {
    let score = lp_pairs(lp).nth(i).map_or(0.0, |(_, s)| s);
    lp.remove(2 * i, 2);
    score
}

impl ZSetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.len() / 2,
            ZSetValue::Tree(t) => t.dict.len(),
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
            ZSetValue::Tree(_) => "skiplist",
        }
    }

    /// (member, score) in score order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            ZSetValue::Listpack(v) => Box::new(lp_pairs(v)),
            ZSetValue::Tree(t) => Box::new(t.tree.iter()),
        }
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.heap_size(),
            ZSetValue::Tree(t) => {
                let members: usize = t.dict.iter().map(|(m, _)| m.heap_size()).sum();
                t.tree.heap_size() + members * 2 + t.dict.len() * 48 + t.dict.buckets() * 8
            }
        }
    }

    /// A sorted set holding `pairs` (already sorted by score then member, members
    /// distinct), in the encoding Redis gives a stored result: listpack when it fits
    /// the limits, else skiplist.
    pub fn from_sorted(pairs: Vec<(Bytes, f64)>, lim: Limits) -> ZSetValue {
        let fits = pairs.len() <= lim.entries && pairs.iter().all(|(m, _)| m.len() <= lim.value);
        if fits {
            let mut lp = Listpack::new();
            for (m, s) in pairs {
                lp.push(&m);
                lp.push(&listpack_score(s).to_le_bytes());
            }
            ZSetValue::Listpack(lp)
        } else {
            let mut t = Indexed::default();
            for (m, s) in pairs {
                t.insert(&m, s);
            }
            ZSetValue::Tree(Box::new(t))
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(v) => lp_pairs(v).find(|(m, _)| *m == member).map(|(_, s)| s),
            ZSetValue::Tree(t) => t.dict.get(member).copied(),
        }
    }

    /// Sets the score of `member` (adding it when missing; converting to skiplist
    /// first when the listpack would outgrow `lim`). Returns the previous score.
    pub fn set(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        if let ZSetValue::Listpack(v) = self {
            let score = listpack_score(score);
            if let Some(i) = lp_position(v, member) {
                // A new score that keeps the member's place is written in place
                // (the common case of repeated ZADD/ZINCRBY on one member).
                let n = v.len() / 2;
                let before_ok = i == 0
                    || lp_pairs(v).nth(i - 1).is_some_and(|(pm, ps)| cmp_key(ps, pm, score, member) == Ordering::Less);
                let after_ok = i + 1 == n
                    || lp_pairs(v).nth(i + 1).is_some_and(|(nm, ns)| cmp_key(score, member, ns, nm) == Ordering::Less);
                if before_ok && after_ok {
                    let old = lp_pairs(v).nth(i).map_or(0.0, |(_, s)| s);
                    v.replace(2 * i + 1, &score.to_le_bytes());
                    return Some(old);
                }
                let old = lp_remove(v, i);
                let pos = lp_partition_point(v, |ps, pm| cmp_key(ps, pm, score, member) == Ordering::Less);
                lp_insert(v, pos, member, score);
                return Some(old);
            }
            if v.len() / 2 < lim.entries && member.len() <= lim.value {
                let pos = lp_partition_point(v, |ps, pm| cmp_key(ps, pm, score, member) == Ordering::Less);
                lp_insert(v, pos, member, score);
                return None;
            }
            self.convert();
        }
        match self {
            ZSetValue::Tree(t) => t.insert(member, score),
            ZSetValue::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Converts a listpack to the skiplist encoding.
    fn convert(&mut self) {
        if let ZSetValue::Listpack(v) = self {
            let mut t = Indexed::default();
            for (m, s) in lp_pairs(v) {
                t.insert(m, s);
            }
            *self = ZSetValue::Tree(Box::new(t));
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(v) => {
                let i = lp_position(v, member)?;
                Some(lp_remove(v, i))
            }
            ZSetValue::Tree(t) => t.remove(member),
        }
    }

    /// 0-based rank (ascending) and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Listpack(v) => {
                lp_pairs(v).enumerate().find(|(_, (m, _))| *m == member).map(|(i, (_, s))| (i, s))
            }
            ZSetValue::Tree(t) => {
                let s = *t.dict.get(member)?;
                Some((t.tree.rank(s, member), s))
            }
        }
    }

    /// Number of leading members (in order) for which `pred(score, member)` holds;
    /// `pred` must hold for a prefix of the order and fail for the rest.
    fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(v) => lp_partition_point(v, pred),
            ZSetValue::Tree(t) => t.tree.count_prefix(pred),
        }
    }

    /// The ranks `[start, end)` of the members whose scores are in `r`.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.count_prefix(|s, _| r.below_min(s));
        let end = self.count_prefix(|s, _| r.within_max(s));
        (start, end.max(start))
    }

    /// The ranks `[start, end)` of the members in lex range `r` (meaningful when all
    /// scores are equal, as in Redis).
    pub fn lex_ranks(&self, r: &LexRange) -> (usize, usize) {
        let start = self.count_prefix(|_, m| r.below_min(m));
        let end = self.count_prefix(|_, m| r.within_max(m));
        (start, end.max(start))
    }

    /// Members of ranks `[start, end)` in ascending order.
    pub fn range(&self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match self {
            ZSetValue::Listpack(v) => {
                lp_pairs(v).skip(start).take(end - start).map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect()
            }
            ZSetValue::Tree(t) => {
                let mut out = Vec::with_capacity(end - start);
                t.tree.collect(t.tree.root, 0, start, end, &mut out);
                out
            }
        }
    }

    /// The member at rank `i` (ascending).
    pub fn at(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSetValue::Listpack(v) => lp_pairs(v).nth(i),
            ZSetValue::Tree(t) => t.tree.select(i),
        }
    }

    /// Removes the members of ranks `[start, end)`; returns them in ascending order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let gone = self.range(start, end);
        match self {
            ZSetValue::Listpack(v) => v.remove(2 * start, 2 * gone.len()),
            ZSetValue::Tree(t) => {
                for (m, _) in &gone {
                    t.remove(m);
                }
            }
        }
        gone
    }

    /// Visits members with their scores for ZSCAN from `cursor`: everything at once
    /// (next cursor 0) for a listpack, a `Dict::scan` step for a skiplist.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSetValue::Listpack(v) => {
                for (m, s) in lp_pairs(v) {
                    f(m, s);
                }
                0
            }
            ZSetValue::Tree(t) => {
                let mut cursor = cursor;
                let mut seen = 0usize;
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = t.dict.scan(cursor, |m, s| {
                        seen += 1;
                        f(m, *s)
                    });
                    budget = budget.saturating_sub(1);
                    if cursor == 0 || budget == 0 || seen >= count {
                        break;
                    }
                }
                cursor
            }
        }
    }
}

/// The skiplist encoding: member → score plus the ordered tree.
#[derive(Default)]
pub struct Indexed {
    dict: Dict<f64>,
    tree: ScoreTree,
}

impl Clone for Indexed {
    fn clone(&self) -> Self {
        let mut t = Indexed::default();
        for (m, s) in self.tree.iter() {
            t.insert(m, s);
        }
        t
    }
}

impl std::fmt::Debug for Indexed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Indexed({} members)", self.dict.len())
    }
}

impl Indexed {
    /// Adds or rescores `member`; returns the previous score.
    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        match self.dict.get_mut(member) {
            Some(cur) => {
                let old = *cur;
                *cur = score;
                if old.to_bits() != score.to_bits() {
                    self.tree.remove(old, member);
                    self.tree.insert(SBuf::from_slice(member), score);
                }
                Some(old)
            }
            None => {
                self.dict.insert(SBuf::from_slice(member), score);
                self.tree.insert(SBuf::from_slice(member), score);
                None
            }
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, s) = self.dict.remove(member)?;
        self.tree.remove(s, &m);
        Some(s)
    }
}

/* ----------------------------- ScoreTree ----------------------------- */

const NIL: u32 = u32::MAX;

struct Node {
    member: SBuf,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree (itself included): what makes rank queries O(log n).
    size: u32,
    /// Heap priority (random): keeps the tree balanced in expectation.
    prio: u32,
}

/// An order-statistic treap keyed by (score, member), its nodes in one arena vector
/// (32-bit links, freed slots reused, compacted when mostly free). Every operation is
/// one root-to-leaf descent, O(log n) expected; the recursion depth is the height.
pub struct ScoreTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
}

impl Default for ScoreTree {
    fn default() -> Self {
        ScoreTree { nodes: Vec::new(), free: Vec::new(), root: NIL, seed: 0x9E37_79B9_7F4A_7C15 }
    }
}

impl ScoreTree {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.size(self.root)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn n(&self, t: u32) -> &Node {
        &self.nodes[t as usize]
    }

    fn n_mut(&mut self, t: u32) -> &mut Node {
        &mut self.nodes[t as usize]
    }

    fn update(&mut self, t: u32) {
        let s = 1 + self.size(self.n(t).left) + self.size(self.n(t).right);
        self.n_mut(t).size = s as u32;
    }

    /// True when node `a` orders before node `b`.
    fn less(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.n(a), self.n(b));
        cmp_key(x.score, &x.member, y.score, &y.member) == Ordering::Less
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64: priorities only need to be independent of the keys.
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 32) as u32
    }

    fn alloc(&mut self, member: SBuf, score: f64) -> u32 {
        let prio = self.next_prio();
        let node = Node { member, score, left: NIL, right: NIL, size: 1, prio };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Inserts (score, member); the caller guarantees the member is not present.
    pub fn insert(&mut self, member: SBuf, score: f64) {
        let n = self.alloc(member, score);
        self.root = self.insert_at(self.root, n);
    }

    fn insert_at(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.n(n).prio > self.n(t).prio {
            let (l, r) = self.split(t, n);
            let node = self.n_mut(n);
            node.left = l;
            node.right = r;
            self.update(n);
            return n;
        }
        if self.less(n, t) {
            let l = self.insert_at(self.n(t).left, n);
            self.n_mut(t).left = l;
        } else {
            let r = self.insert_at(self.n(t).right, n);
            self.n_mut(t).right = r;
        }
        self.n_mut(t).size += 1;
        t
    }

    /// Splits subtree `t` into the nodes ordering before node `n` and the rest.
    fn split(&mut self, t: u32, n: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.less(t, n) {
            let (l, r) = self.split(self.n(t).right, n);
            self.n_mut(t).right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.n(t).left, n);
            self.n_mut(t).left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Joins two subtrees, every key of `a` ordering before every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.n(a).prio > self.n(b).prio {
            let r = self.merge(self.n(a).right, b);
            self.n_mut(a).right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.n(b).left);
            self.n_mut(b).left = l;
            self.update(b);
            b
        }
    }

    /// Removes (score, member); true when it was present.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (root, found) = self.remove_at(self.root, score, member);
        self.root = root;
        if found && self.nodes.len() > 1024 && self.len() * 4 < self.nodes.len() {
            self.compact();
        }
        found
    }

    fn remove_at(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        let node = self.n(t);
        match cmp_key(score, member, node.score, &node.member) {
            Ordering::Equal => {
                let m = self.merge(node.left, node.right);
                let dead = self.n_mut(t);
                dead.member = SBuf::from_slice(b"");
                dead.left = NIL;
                dead.right = NIL;
                self.free.push(t);
                (m, true)
            }
            Ordering::Less => {
                let (l, found) = self.remove_at(node.left, score, member);
                self.n_mut(t).left = l;
                if found {
                    self.n_mut(t).size -= 1;
                }
                (t, found)
            }
            Ordering::Greater => {
                let (r, found) = self.remove_at(node.right, score, member);
                self.n_mut(t).right = r;
                if found {
                    self.n_mut(t).size -= 1;
                }
                (t, found)
            }
        }
    }

    /// Rebuilds the arena without free slots, so a set that shrank gives memory back.
    fn compact(&mut self) {
        let mut order = Vec::with_capacity(self.len());
        self.collect_nodes(self.root, &mut order);
        let mut old = std::mem::take(&mut self.nodes);
        self.free.clear();
        self.root = NIL;
        for i in order {
            let member = std::mem::replace(&mut old[i as usize].member, SBuf::from_slice(b""));
            let score = old[i as usize].score;
            self.insert(member, score);
        }
    }

    fn collect_nodes(&self, t: u32, out: &mut Vec<u32>) {
        if t != NIL {
            self.collect_nodes(self.n(t).left, out);
            out.push(t);
            self.collect_nodes(self.n(t).right, out);
        }
    }

    /// Number of elements ordering before (score, member).
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_prefix(|s, m| cmp_key(s, m, score, member) == Ordering::Less)
    }

    /// Number of leading elements satisfying the monotone predicate `pred`.
    pub fn count_prefix(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let node = self.n(t);
            if pred(node.score, &node.member) {
                count += self.size(node.left) + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        count
    }

    /// The element of rank `i`.
    pub fn select(&self, mut i: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        while t != NIL {
            let node = self.n(t);
            let ls = self.size(node.left);
            match i.cmp(&ls) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some((&node.member, node.score)),
                Ordering::Greater => {
                    i -= ls + 1;
                    t = node.right;
                }
            }
        }
        None
    }

    /// Appends the elements of ranks `[start, end)` of subtree `t` (whose first
    /// element has rank `offset`) in order.
    fn collect(&self, t: u32, offset: usize, start: usize, end: usize, out: &mut Vec<(Bytes, f64)>) {
        if t == NIL || offset >= end || offset + self.size(t) <= start {
            return;
        }
        let node = self.n(t);
        self.collect(node.left, offset, start, end, out);
        let r = offset + self.size(node.left);
        if (start..end).contains(&r) {
            out.push((Bytes::copy_from_slice(&node.member), node.score));
        }
        self.collect(node.right, r + 1, start, end, out);
    }

    /// In-order iteration.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut stack = Vec::new();
        let mut cur = self.root;
        std::iter::from_fn(move || {
            while cur != NIL {
                stack.push(cur);
                cur = self.n(cur).left;
            }
            let t = stack.pop()?;
            let node = self.n(t);
            cur = node.right;
            Some((node.member.as_bytes(), node.score))
        })
    }

    /// Heap bytes of the arena (long members are counted by the caller).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn check(t: &ScoreTree, model: &[(f64, Vec<u8>)]) {
        assert_eq!(t.len(), model.len());
        let got: Vec<(f64, Vec<u8>)> = t.iter().map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(got, model);
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(t.rank(*s, m), i);
            assert_eq!(t.select(i).map(|(m, s)| (s, m.to_vec())), Some((*s, m.clone())));
        }
    }

    #[test]
    fn tree_matches_sorted_model() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut t = ScoreTree::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for round in 0..3000 {
            let m = format!("m{}", rng.gen_range(0..400)).into_bytes();
            let s = rng.gen_range(0..20) as f64;
            if let Some(i) = model.iter().position(|(_, x)| *x == m) {
                let (os, om) = model.remove(i);
                assert!(t.remove(os, &om));
            } else {
                t.insert(SBuf::from_slice(&m), s);
                let pos = model.partition_point(|(ps, pm)| cmp_key(*ps, pm, s, &m) == Ordering::Less);
                model.insert(pos, (s, m));
            }
            if round % 500 == 0 {
                check(&t, &model);
            }
        }
        check(&t, &model);
        assert!(!t.remove(1e9, b"nope"));
        let below5 = model.iter().filter(|(s, _)| *s < 5.0).count();
        assert_eq!(t.count_prefix(|s, _| s < 5.0), below5);
        let mut out = Vec::new();
        t.collect(t.root, 0, 3, 10, &mut out);
        let want: Vec<(Bytes, f64)> = model[3..10].iter().map(|(s, m)| (Bytes::from(m.clone()), *s)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn tree_compacts_after_mass_removal() {
        let mut t = ScoreTree::default();
        for i in 0..5000 {
            t.insert(SBuf::from_slice(format!("{i}").as_bytes()), i as f64);
        }
        for i in 0..4900 {
            assert!(t.remove(i as f64, format!("{i}").as_bytes()));
        }
        assert!(t.nodes.len() < 1000, "arena compacted, {} slots", t.nodes.len());
        assert_eq!(t.len(), 100);
        assert_eq!(t.select(0).map(|(m, _)| m.to_vec()), Some(b"4900".to_vec()));
    }

    #[test]
    fn ranges_and_conversion() {
        let lim = Limits { entries: 4, value: 8 };
        let mut z = ZSetValue::default();
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(z.set(m.as_bytes(), i as f64, lim), None);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.set(b"a", 10.0, lim), Some(0.0));
        assert_eq!(z.encoding(), "listpack");
        z.set(b"e", 4.0, lim);
        assert_eq!(z.encoding(), "skiplist");
        let r = ScoreRange { min: 1.0, max: 4.0, minex: true, maxex: false };
        assert_eq!(z.score_ranks(&r), (1, 4));
        assert_eq!(z.rank(b"a"), Some((4, 10.0)));
        assert_eq!(z.remove_range(0, 2).len(), 2);
        assert_eq!(
            z.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>(),
            vec![b"d".to_vec(), b"e".to_vec(), b"a".to_vec()]
        );
        let mut big = ZSetValue::default();
        big.set(b"123456789", 1.0, lim);
        assert_eq!(big.encoding(), "skiplist");
        let lex = LexRange { min: LexBound::Excl(b"a".to_vec()), max: LexBound::PosInf };
        let mut flat = ZSetValue::default();
        for m in ["a", "b", "c"] {
            flat.set(m.as_bytes(), 0.0, lim);
        }
        assert_eq!(flat.lex_ranks(&lex), (1, 3));
    }
}
