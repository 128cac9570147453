//! The compact blobs inside RDB values (spec §10.8): listpacks (written and read),
//! intsets (written and read), ziplists and zipmaps (read only, legacy). These are
//! Redis's byte formats; they have nothing to do with `crate::db::listpack`, moonkv's
//! in-memory layout.
//!
//! Readers validate the whole blob as they walk it (header sizes, every entry inside
//! the blob, back-lengths, terminators, counts, ascending intsets) and report
//! problems as `RdbError`s, never by panicking: blobs come from files and from
//! RESTORE payloads, both untrusted.

use super::RdbError;
use crate::util::num::parse_i64;

/// One element of a listpack or ziplist: an integer or a string, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// Calls `f` with the element's bytes (integers in decimal) without allocating.
    pub(crate) fn with_bytes<T>(self, f: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            Elem::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Elem::Str(s) => f(s),
        }
    }

    /// The element's bytes.
    pub(crate) fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A little-endian signed integer of `width` bytes (1..=8) at `at`.
fn int_le(b: &[u8], at: usize, width: usize) -> Option<i64> {
    let bytes = b.get(at..at + width)?;
    let mut v: u64 = 0;
    for (i, &x) in bytes.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    let shift = 64 - 8 * width as u32;
    Some(((v << shift) as i64) >> shift)
}

// ---------------------------------------------------------------------------------
// Listpack
// ---------------------------------------------------------------------------------

/// Size of a listpack header: u32 total bytes, u16 element count.
const LP_HEADER: usize = 6;
/// Terminator byte of listpacks and ziplists.
const END: u8 = 0xFF;
/// The element count a listpack header stores when the real count does not fit.
const LP_COUNT_UNKNOWN: u16 = u16::MAX;

/// Builds a listpack as Redis's `lpAppend` does: each string that is the canonical
/// text of an i64 becomes an integer entry, everything in the smallest encoding.
pub(crate) struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    /// An empty listpack.
    pub(crate) fn new() -> Self {
        ListpackWriter { buf: vec![0; LP_HEADER], count: 0 }
    }

    /// Bytes of the finished listpack if it ended now (Redis's `lpBytes`).
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Number of entries.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Appends `s`, as an integer entry when it is an integer's canonical text.
    pub(crate) fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(n) => self.push_int(n),
            None => self.push_str(s),
        }
    }

    /// Appends an integer entry in the smallest of the integer encodings.
    pub(crate) fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            self.buf.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// Appends a string entry (6-bit, 12-bit or 32-bit length).
    pub(crate) fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends the back-length of the entry that starts at `start`.
    fn finish_entry(&mut self, start: usize) {
        let len = self.buf.len() - start;
        let mut backlen = [0u8; 5];
        let n = encode_backlen(len as u64, &mut backlen);
        self.buf.extend_from_slice(&backlen[..n]);
        self.count += 1;
    }

    /// The finished listpack, or `None` when it would exceed 4 GiB (its header
    /// stores the size in 32 bits).
    pub(crate) fn finish(mut self) -> Option<Vec<u8>> {
        self.buf.push(END);
        let total = u32::try_from(self.buf.len()).ok()?;
        let count = u16::try_from(self.count).unwrap_or(LP_COUNT_UNKNOWN);
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        Some(self.buf)
    }
}

/// Redis's `lpEncodeBacklen`: the size `l` of an entry's encoding and data, stored
/// after it so it can be walked backwards: 7 bits per byte, most significant first,
/// the high bit set on every byte but the first. Returns the bytes used. The size
/// boundaries are Redis's (16383 already takes 3 bytes).
fn encode_backlen(l: u64, out: &mut [u8; 5]) -> usize {
    let n = if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    };
    for (i, b) in out[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        *b = ((l >> shift) & 127) as u8 | if i == 0 { 0 } else { 128 };
    }
    n
}

/// Decodes the listpack entry at `p` (which is not the terminator): the element and
/// the size of its encoding plus data.
fn lp_entry(b: &[u8], p: usize) -> Option<(Elem<'_>, usize)> {
    let e = *b.get(p)?;
    let string = |header: usize, len: usize| {
        let data = b.get(p + header..(p + header).checked_add(len)?)?;
        Some((Elem::Str(data), header + len))
    };
    match e {
        0x00..=0x7F => Some((Elem::Int(e as i64), 1)),
        0x80..=0xBF => string(1, (e & 0x3F) as usize),
        0xC0..=0xDF => {
            let u = (((e & 0x1F) as i64) << 8) | *b.get(p + 1)? as i64;
            Some((Elem::Int(if u >= 1 << 12 { u - (1 << 13) } else { u }), 2))
        }
        0xE0..=0xEF => string(2, (((e & 0x0F) as usize) << 8) | *b.get(p + 1)? as usize),
        0xF0 => string(5, u32_le(b, p + 1)? as usize),
        0xF1 => Some((Elem::Int(int_le(b, p + 1, 2)?), 3)),
        0xF2 => Some((Elem::Int(int_le(b, p + 1, 3)?), 4)),
        0xF3 => Some((Elem::Int(int_le(b, p + 1, 4)?), 5)),
        0xF4 => Some((Elem::Int(int_le(b, p + 1, 8)?), 9)),
        _ => None,
    }
}

/// Walks a listpack, calling `f` for each element in order; returns the number of
/// elements. The blob must be exactly one well-formed listpack: its stored size, each
/// entry's back-length, its count (unless 65535) and the final terminator are checked.
pub(crate) fn listpack_for_each<'a>(
    blob: &'a [u8],
    mut f: impl FnMut(Elem<'a>) -> Result<(), RdbError>,
) -> Result<usize, RdbError> {
    let bad = |what: &str| RdbError::new(format!("Listpack integrity check failed: {what}"));
    if blob.len() < LP_HEADER + 1 {
        return Err(bad("too short"));
    }
    if u32_le(blob, 0) != Some(blob.len() as u32) || blob.len() > u32::MAX as usize {
        return Err(bad("wrong total size"));
    }
    let declared = u16_le(blob, 4).unwrap_or(0);
    let mut p = LP_HEADER;
    let mut count = 0usize;
    loop {
        match blob.get(p) {
            None => return Err(bad("missing terminator")),
            Some(&END) if p + 1 == blob.len() => break,
            Some(&END) => return Err(bad("data after terminator")),
            Some(_) => {}
        }
        let (elem, len) = lp_entry(blob, p).ok_or_else(|| bad("bad entry"))?;
        let mut backlen = [0u8; 5];
        let n = encode_backlen(len as u64, &mut backlen);
        if blob.get(p + len..p + len + n) != Some(&backlen[..n]) {
            return Err(bad("bad entry back-length"));
        }
        p += len + n;
        count += 1;
        f(elem)?;
    }
    if declared != LP_COUNT_UNKNOWN && declared as usize != count {
        return Err(bad("wrong element count"));
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------
// Intset
// ---------------------------------------------------------------------------------

/// Encodes ascending distinct integers as an intset in the narrowest width that holds
/// them all.
pub(crate) fn intset_encode(values: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| values.iter().all(|v| (lo..=hi).contains(v));
    let width: usize = if fits(i16::MIN as i64, i16::MAX as i64) {
        2
    } else if fits(i32::MIN as i64, i32::MAX as i64) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Decodes an intset: u32 width (2, 4 or 8), u32 count, then exactly `count`
/// strictly ascending integers.
pub(crate) fn intset_decode(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    let bad = |what: &str| RdbError::new(format!("Intset integrity check failed: {what}"));
    let (Some(width), Some(count)) = (u32_le(blob, 0), u32_le(blob, 4)) else {
        return Err(bad("too short"));
    };
    if !matches!(width, 2 | 4 | 8) {
        return Err(bad("bad encoding"));
    }
    if (blob.len() as u64) != 8 + width as u64 * count as u64 {
        return Err(bad("wrong size"));
    }
    let width = width as usize;
    let mut values: Vec<i64> = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let v = int_le(blob, 8 + i * width, width).ok_or_else(|| bad("wrong size"))?;
        if values.last().is_some_and(|&last| last >= v) {
            return Err(bad("not strictly ascending"));
        }
        values.push(v);
    }
    Ok(values)
}

// ---------------------------------------------------------------------------------
// Ziplist (read only)
// ---------------------------------------------------------------------------------

/// Size of a ziplist header: u32 total bytes, u32 offset of the last entry, u16 count.
const ZL_HEADER: usize = 10;

/// Decodes the ziplist entry body (encoding + data) at `p`: the element and its size.
fn zl_entry(b: &[u8], p: usize) -> Option<(Elem<'_>, usize)> {
    let e = *b.get(p)?;
    let string = |header: usize, len: usize| {
        let data = b.get(p + header..(p + header).checked_add(len)?)?;
        Some((Elem::Str(data), header + len))
    };
    let int = |width: usize| Some((Elem::Int(int_le(b, p + 1, width)?), 1 + width));
    match e >> 6 {
        0 => string(1, (e & 0x3F) as usize),
        1 => string(2, (((e & 0x3F) as usize) << 8) | *b.get(p + 1)? as usize),
        2 => string(5, u32::from_be_bytes(b.get(p + 1..p + 5)?.try_into().ok()?) as usize),
        _ => match e {
            0xC0 => int(2),
            0xD0 => int(4),
            0xE0 => int(8),
            0xF0 => int(3),
            0xFE => int(1),
            0xF1..=0xFD => Some((Elem::Int((e & 0x0F) as i64 - 1), 1)),
            _ => None,
        },
    }
}

/// Walks a ziplist, calling `f` for each element in order; returns the number of
/// elements. Checks the stored size, each entry's previous-entry length, the offset of
/// the last entry, the count (unless 65535) and the terminator.
pub(crate) fn ziplist_for_each<'a>(
    blob: &'a [u8],
    mut f: impl FnMut(Elem<'a>) -> Result<(), RdbError>,
) -> Result<usize, RdbError> {
    let bad = |what: &str| RdbError::new(format!("Ziplist integrity check failed: {what}"));
    if blob.len() < ZL_HEADER + 1 {
        return Err(bad("too short"));
    }
    if u32_le(blob, 0) != Some(blob.len() as u32) || blob.len() > u32::MAX as usize {
        return Err(bad("wrong total size"));
    }
    let tail = u32_le(blob, 4).unwrap_or(0) as usize;
    let declared = u16_le(blob, 8).unwrap_or(0);
    let mut p = ZL_HEADER;
    let mut last = ZL_HEADER;
    let mut prev_len = 0usize;
    let mut count = 0usize;
    loop {
        let first = *blob.get(p).ok_or_else(|| bad("missing terminator"))?;
        if first == END {
            if p + 1 != blob.len() {
                return Err(bad("data after terminator"));
            }
            break;
        }
        let (prevlen, prevlen_size) = if first < 254 {
            (first as usize, 1)
        } else {
            (u32_le(blob, p + 1).ok_or_else(|| bad("bad entry"))? as usize, 5)
        };
        if prevlen != prev_len {
            return Err(bad("wrong previous-entry length"));
        }
        let (elem, len) = zl_entry(blob, p + prevlen_size).ok_or_else(|| bad("bad entry"))?;
        last = p;
        prev_len = prevlen_size + len;
        p += prev_len;
        count += 1;
        f(elem)?;
    }
    if tail != last {
        return Err(bad("wrong tail offset"));
    }
    if declared != u16::MAX && declared as usize != count {
        return Err(bad("wrong element count"));
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------
// Zipmap (read only, Redis <= 2.4 hashes)
// ---------------------------------------------------------------------------------

/// Walks a zipmap, calling `f` for each field/value pair; returns the number of pairs.
/// Layout: a count byte (254 = unknown), then pairs of `<len>field<len><free>value`
/// followed by `free` unused bytes, then 255. A length is one byte below 254, or 254
/// followed by a u32.
pub(crate) fn zipmap_for_each<'a>(
    blob: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), RdbError>,
) -> Result<usize, RdbError> {
    let bad = || RdbError::new("Zipmap integrity check failed");
    let declared = *blob.first().ok_or_else(bad)?;
    let read_len = |p: &mut usize| -> Option<usize> {
        match *blob.get(*p)? {
            b if b < 254 => {
                *p += 1;
                Some(b as usize)
            }
            254 => {
                let n = u32_le(blob, *p + 1)? as usize;
                *p += 5;
                Some(n)
            }
            _ => None,
        }
    };
    let take = |p: &mut usize, n: usize| -> Option<&'a [u8]> {
        let s = blob.get(*p..p.checked_add(n)?)?;
        *p += n;
        Some(s)
    };
    let mut p = 1usize;
    let mut count = 0usize;
    loop {
        if *blob.get(p).ok_or_else(bad)? == END {
            if p + 1 != blob.len() {
                return Err(bad());
            }
            break;
        }
        let field_len = read_len(&mut p).ok_or_else(bad)?;
        let field = take(&mut p, field_len).ok_or_else(bad)?;
        let value_len = read_len(&mut p).ok_or_else(bad)?;
        let free = *blob.get(p).ok_or_else(bad)? as usize;
        p += 1;
        let value = take(&mut p, value_len).ok_or_else(bad)?;
        take(&mut p, free).ok_or_else(bad)?;
        count += 1;
        f(field, value)?;
    }
    if declared < 254 && declared as usize != count {
        return Err(bad());
    }
    Ok(count)
}

#[cfg(test)]
/// A ziplist built by hand from entries already encoded (encoding + data).
pub(crate) fn ziplist_raw(entries: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut last = ZL_HEADER;
    for e in entries {
        last = ZL_HEADER + body.len();
        let start = body.len();
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(254);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        body.extend_from_slice(e);
        prev = body.len() - start;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&((ZL_HEADER + body.len() + 1) as u32).to_le_bytes());
    out.extend_from_slice(&(last as u32).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(END);
    out
}

/// A ziplist of `items` for tests: integers in their integer encodings, other strings
/// with 6- or 14-bit lengths.
#[cfg(test)]
pub(crate) fn ziplist_of(items: &[&[u8]]) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = items
        .iter()
        .map(|s| match parse_i64(s) {
            Some(n @ 0..=12) => vec![0xF1 + n as u8],
            Some(n) if i8::try_from(n).is_ok() => vec![0xFE, n as u8],
            Some(n) if i16::try_from(n).is_ok() => [&[0xC0][..], &(n as i16).to_le_bytes()].concat(),
            Some(n) => [&[0xE0][..], &n.to_le_bytes()].concat(),
            None if s.len() < 64 => [&[s.len() as u8][..], s].concat(),
            None => [&[0x40 | (s.len() >> 8) as u8, s.len() as u8][..], s].concat(),
        })
        .collect();
    let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
    ziplist_raw(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp_elems(blob: &[u8]) -> Result<Vec<Vec<u8>>, RdbError> {
        let mut v = Vec::new();
        listpack_for_each(blob, |e| {
            v.push(e.to_vec());
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn listpack_round_trip_every_encoding() {
        let long = vec![b'z'; 5000];
        let mid = vec![b'm'; 300];
        let items: Vec<Vec<u8>> = [
            &b"0"[..],
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-32768",
            b"32767",
            b"8388607",
            b"-8388608",
            b"8388608",
            b"2147483647",
            b"-2147483649",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"",
            b"a",
            b"007",
            &mid,
            &long,
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        let mut w = ListpackWriter::new();
        for s in &items {
            w.push(s);
        }
        let blob = w.finish().unwrap();
        assert_eq!(lp_elems(&blob).unwrap(), items);
    }

    #[test]
    fn listpack_known_bytes() {
        // Redis 7.0 `HSET h a 1`: the listpack of DUMP h.
        let mut w = ListpackWriter::new();
        w.push(b"a");
        w.push(b"1");
        let blob = w.finish().unwrap();
        assert_eq!(blob, [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff]);
        // Back-length boundaries are Redis's.
        let mut b = [0u8; 5];
        assert_eq!(encode_backlen(127, &mut b), 1);
        assert_eq!(encode_backlen(128, &mut b), 2);
        assert_eq!(&b[..2], &[1, 128]);
        assert_eq!(encode_backlen(16382, &mut b), 2);
        assert_eq!(encode_backlen(16383, &mut b), 3);
    }

    #[test]
    fn listpack_rejects_corruption() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        w.push(b"12345");
        let blob = w.finish().unwrap();
        for cut in 0..blob.len() {
            assert!(lp_elems(&blob[..cut]).is_err());
        }
        let mut wrong_count = blob.clone();
        wrong_count[4] = 3;
        assert!(lp_elems(&wrong_count).is_err());
        let mut unknown_count = blob.clone();
        unknown_count[4] = 0xff;
        unknown_count[5] = 0xff;
        assert_eq!(lp_elems(&unknown_count).unwrap().len(), 2);
        let mut bad_backlen = blob.clone();
        bad_backlen[12] ^= 1;
        assert!(lp_elems(&bad_backlen).is_err());
        for i in 0..blob.len() {
            for bit in 0..8 {
                let mut b = blob.clone();
                b[i] ^= 1 << bit;
                let _ = lp_elems(&b);
            }
        }
    }

    #[test]
    fn intset_round_trip_and_validation() {
        for values in [vec![1i64, 2, 3], vec![-70000, 5], vec![i64::MIN, 0, i64::MAX], vec![]] {
            let blob = intset_encode(&values);
            assert_eq!(intset_decode(&blob).unwrap(), values);
        }
        assert_eq!(intset_encode(&[1, 2])[0], 2);
        assert_eq!(intset_encode(&[1, 40000])[0], 4);
        assert!(intset_decode(&intset_encode(&[2, 1])).is_err());
        assert!(intset_decode(&intset_encode(&[1, 1])).is_err());
        let mut b = intset_encode(&[1, 2]);
        b[0] = 3;
        assert!(intset_decode(&b).is_err());
        let mut b = intset_encode(&[1, 2]);
        b.pop();
        assert!(intset_decode(&b).is_err());
        let mut b = intset_encode(&[1, 2]);
        b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(intset_decode(&b).is_err());
    }

    #[test]
    fn ziplist_every_encoding() {
        let long = vec![b'q'; 300];
        let mut e14 = vec![0x41, 0x2c];
        e14.extend_from_slice(&long);
        let entries: Vec<Vec<u8>> = vec![
            vec![0x03, b'a', b'b', b'c'],
            e14,
            vec![0x80, 0, 0, 0, 2, b'x', b'y'],
            vec![0xC0, 0x39, 0x30],
            vec![0xD0, 0xff, 0xff, 0xff, 0xff],
            vec![0xE0, 1, 0, 0, 0, 0, 0, 0, 0x80],
            vec![0xF0, 0xff, 0xff, 0x7f],
            vec![0xFE, 0x80],
            vec![0xF1],
            vec![0xFD],
        ];
        let refs: Vec<&[u8]> = entries.iter().map(|e| &e[..]).collect();
        let blob = ziplist_raw(&refs);
        let mut got = Vec::new();
        let n = ziplist_for_each(&blob, |e| {
            got.push(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 10);
        assert_eq!(got[0], Elem::Str(b"abc"));
        assert_eq!(got[1], Elem::Str(&long));
        assert_eq!(got[2], Elem::Str(b"xy"));
        assert_eq!(
            got[3..],
            [
                Elem::Int(12345),
                Elem::Int(-1),
                Elem::Int(i64::MIN + 1),
                Elem::Int(8388607),
                Elem::Int(-128),
                Elem::Int(0),
                Elem::Int(12)
            ]
        );
        for cut in 0..blob.len() {
            assert!(ziplist_for_each(&blob[..cut], |_| Ok(())).is_err());
        }
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x5a;
            let _ = ziplist_for_each(&b, |_| Ok(()));
        }
        let mut wrong_tail = blob.clone();
        wrong_tail[4] ^= 1;
        assert!(ziplist_for_each(&wrong_tail, |_| Ok(())).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        // {"foo" => "bar", "k" => "v"} with one free byte after "bar".
        let blob = [2, 3, b'f', b'o', b'o', 3, 1, b'b', b'a', b'r', 0, 1, b'k', 1, 0, b'v', 255];
        let mut got = Vec::new();
        zipmap_for_each(&blob, |f, v| {
            got.push((f.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![(b"foo".to_vec(), b"bar".to_vec()), (b"k".to_vec(), b"v".to_vec())]);
        for cut in 0..blob.len() {
            assert!(zipmap_for_each(&blob[..cut], |_, _| Ok(())).is_err());
        }
        let mut wrong = blob;
        wrong[0] = 3;
        assert!(zipmap_for_each(&wrong, |_, _| Ok(())).is_err());
    }
}
