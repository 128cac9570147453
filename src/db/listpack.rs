//! `Listpack`: small collections stored as one byte buffer of length-prefixed
//! strings, like Redis's listpack, so a 5-field hash costs tens of bytes instead of a
//! node per field. Operations are linear scans, which is what the size thresholds
//! (`*-max-listpack-entries`, `*-max-listpack-value`) are for.

/// Buffers up to this size grow exactly.
const SMALL_BUFFER: usize = 512;

/// A sequence of byte strings in one buffer: each entry is a LEB128 length followed
/// by the bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
    count: u32,
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads the entry at byte offset `pos`: (start of bytes, length, offset of the next entry).
fn entry_at(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = buf[i];
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (i, len, i + len)
}

impl Listpack {
    /// An empty listpack.
    pub fn new() -> Listpack {
        Listpack::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes used by the buffer (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Small buffers grow exactly (most listpacks stay small, and doubling would
    /// waste up to half of them); larger ones grow by doubling as usual.
    fn reserve_for(&mut self, extra: usize) {
        if self.buf.len() + extra <= SMALL_BUFFER {
            self.buf.reserve_exact(extra);
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, s: &[u8]) {
        self.reserve_for(s.len() + 3);
        put_len(&mut self.buf, s.len());
        self.buf.extend_from_slice(s);
        self.count += 1;
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let buf = &self.buf;
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let (start, len, next) = entry_at(buf, pos);
            pos = next;
            Some(&buf[start..start + len])
        })
    }

    /// Consecutive entries taken two by two (hash fields and values).
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut it = self.iter();
        std::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }

    /// Byte offset of entry number `index`.
    fn offset_of(&self, index: usize) -> Option<usize> {
        let mut pos = 0;
        for _ in 0..index {
            if pos >= self.buf.len() {
                return None;
            }
            pos = entry_at(&self.buf, pos).2;
        }
        (pos < self.buf.len()).then_some(pos)
    }

    /// Index of the pair whose first entry equals `field`.
    pub fn find_pair(&self, field: &[u8]) -> Option<usize> {
        self.pairs().position(|(f, _)| f == field)
    }

    /// The value of the pair whose first entry equals `field`.
    pub fn get_pair(&self, field: &[u8]) -> Option<&[u8]> {
        self.pairs().find(|(f, _)| *f == field).map(|(_, v)| v)
    }

    /// Pair number `i`.
    pub fn nth_pair(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.pairs().nth(i)
    }

    /// Inserts `s` as entry number `index` (at the end when `index == len()`).
    pub fn insert(&mut self, index: usize, s: &[u8]) {
        let pos = self.offset_of(index).unwrap_or(self.buf.len());
        let mut enc = Vec::with_capacity(s.len() + 2);
        put_len(&mut enc, s.len());
        enc.extend_from_slice(s);
        self.reserve_for(enc.len());
        self.buf.splice(pos..pos, enc);
        self.count += 1;
    }

    /// Replaces entry number `index` with `s`.
    pub fn replace(&mut self, index: usize, s: &[u8]) {
        let Some(pos) = self.offset_of(index) else { return };
        let (_, _, next) = entry_at(&self.buf, pos);
        let mut enc = Vec::with_capacity(s.len() + 2);
        put_len(&mut enc, s.len());
        enc.extend_from_slice(s);
        self.buf.splice(pos..next, enc);
    }

    /// Removes `n` entries starting at entry number `index`.
    pub fn remove(&mut self, index: usize, n: usize) {
        let Some(start) = self.offset_of(index) else { return };
        let mut end = start;
        let mut removed = 0;
        while removed < n && end < self.buf.len() {
            end = entry_at(&self.buf, end).2;
            removed += 1;
        }
        self.buf.drain(start..end);
        self.count -= removed as u32;
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_iter_replace_remove() {
        let mut lp = Listpack::new();
        let long = vec![b'x'; 300];
        for s in [&b"a"[..], b"", &long, b"bb"] {
            lp.push(s);
        }
        assert_eq!(lp.len(), 4);
        let all: Vec<&[u8]> = lp.iter().collect();
        assert_eq!(all, vec![&b"a"[..], b"", &long[..], b"bb"]);
        lp.replace(2, b"short");
        assert_eq!(lp.iter().nth(2), Some(&b"short"[..]));
        lp.remove(0, 2);
        assert_eq!(lp.iter().collect::<Vec<_>>(), vec![&b"short"[..], b"bb"]);
        assert_eq!(lp.pairs().collect::<Vec<_>>(), vec![(&b"short"[..], &b"bb"[..])]);
        assert_eq!(lp.find_pair(b"short"), Some(0));
        assert_eq!(lp.get_pair(b"short"), Some(&b"bb"[..]));
        assert_eq!(lp.get_pair(b"bb"), None);
        lp.insert(0, b"first");
        lp.insert(3, b"last");
        assert_eq!(lp.iter().collect::<Vec<_>>(), vec![&b"first"[..], b"short", b"bb", b"last"]);
        assert_eq!(lp.len(), 4);
    }
}
