//! The backlog: the most recent bytes of the replication stream, as the blocks
//! they were appended in (shared with the replicas' queues), bounded by
//! `repl-backlog-size`.

use bytes::Bytes;
use std::collections::VecDeque;

pub struct Backlog {
    blocks: VecDeque<Bytes>,
    /// Stream offset of the first byte held (offsets count from 1).
    first: u64,
    /// Bytes held.
    held: usize,
    /// `repl-backlog-size`.
    size: usize,
}

impl Backlog {
    /// An empty backlog whose first byte will be `next_offset`.
    pub fn new(next_offset: u64, size: usize) -> Backlog {
        Backlog { blocks: VecDeque::new(), first: next_offset, held: 0, size: size.max(16 * 1024) }
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first_offset(&self) -> u64 {
        self.first
    }

    /// `repl_backlog_histlen`.
    pub fn histlen(&self) -> usize {
        self.held
    }

    /// `repl-backlog-size`.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Changes the size, dropping the oldest blocks that no longer fit.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(16 * 1024);
        self.trim();
    }

    /// Appends a block.
    pub fn push(&mut self, block: Bytes) {
        self.held += block.len();
        self.blocks.push_back(block);
        self.trim();
    }

    /// Drops whole blocks from the front while what remains still covers `size`
    /// (so the backlog holds at least `size` bytes once it has them).
    fn trim(&mut self) {
        while let Some(front) = self.blocks.front() {
            if self.held - front.len() < self.size {
                break;
            }
            self.held -= front.len();
            self.first += front.len() as u64;
            self.blocks.pop_front();
        }
    }

    /// The bytes from stream offset `offset` to the end, or None when `offset` is
    /// outside `first ..= end + 1`.
    pub fn range_from(&self, offset: u64) -> Option<Vec<Bytes>> {
        let end = self.first + self.held as u64;
        if offset < self.first || offset > end {
            return None;
        }
        let mut skip = (offset - self.first) as usize;
        let mut out = Vec::new();
        for b in &self.blocks {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            out.push(b.slice(skip..));
            skip = 0;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(v: Vec<Bytes>) -> Vec<u8> {
        v.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn keeps_at_least_its_size_and_serves_any_offset_it_holds() {
        let mut b = Backlog::new(1, 16 * 1024);
        let mut all = Vec::new();
        for i in 0..5000u32 {
            let block = Bytes::from(format!("block-{i};"));
            all.extend_from_slice(&block);
            b.push(block);
        }
        assert!(b.histlen() >= 16 * 1024 && b.histlen() < 16 * 1024 + 16);
        let first = b.first_offset();
        assert_eq!(first + b.histlen() as u64, all.len() as u64 + 1);
        assert!(b.range_from(first - 1).is_none());
        assert!(b.range_from(all.len() as u64 + 2).is_none());
        assert_eq!(b.range_from(all.len() as u64 + 1).map(joined), Some(Vec::new()));
        for off in [first, first + 1, first + 7, all.len() as u64 - 3] {
            assert_eq!(joined(b.range_from(off).expect("held")), all[(off - 1) as usize..].to_vec(), "offset {off}");
        }
        b.resize(16 * 1024);
        assert_eq!(b.size(), 16 * 1024);
    }
}
