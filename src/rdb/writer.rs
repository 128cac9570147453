//! Writing RDB files (version 10) and values, byte for byte as redis-server 7.0 with
//! its default configuration writes them (spec §10): strings int-encoded or LZF
//! compressed where Redis does it, lists as quicklist v2 nodes of at most 8 KiB of
//! listpack, intsets, listpack hashes and sorted sets while their in-memory encoding
//! is compact, plain hashes/sets and binary-double sorted sets otherwise.
//!
//! One writer serves files, replication sockets, DUMP and tests (it is generic over
//! `Write`); values are encoded into a scratch buffer first and written in one call,
//! so an unbuffered socket sees one write per key. Knows nothing of the keyspace:
//! the caller walks its databases and decides what to write.

use super::blobs::{intset_encode, ListpackWriter};
use super::crc::CrcWriter;
use super::*;
use crate::db::set::Member;
use crate::db::Value;
use crate::util::num::{format_g17, parse_i64};
use std::io::{self, Write};

/// Strings longer than this are candidates for LZF compression (Redis's rule).
const LZF_MIN_LEN: usize = 20;
/// Compression must save at least this many bytes to be used.
const LZF_MIN_SAVING: usize = 4;
/// Listpack bytes per quicklist node (`list-max-listpack-size -2`).
const QUICKLIST_NODE_BYTES: usize = 8192;
/// Redis's estimate of a listpack entry's bytes beyond its string length
/// (`SIZE_ESTIMATE_OVERHEAD`).
const QUICKLIST_ENTRY_OVERHEAD: usize = 8;
/// Elements this large get a PLAIN quicklist node of their own (Redis's
/// `packed_threshold`, 1 GiB).
const QUICKLIST_PLAIN_THRESHOLD: usize = 1 << 30;
/// The scratch buffer is released after a key larger than this.
const SCRATCH_KEEP: usize = 1 << 20;

/// Writes one RDB file: `header`, any `aux` fields, then per database `select_db`
/// and its `entry`s, then `finish`.
pub struct RdbWriter<W: Write> {
    out: CrcWriter<W>,
    compression: bool,
    checksum: bool,
    scratch: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// A writer over `w`; `compression` is `rdbcompression` (LZF for long strings),
    /// `checksum` is `rdbchecksum` (a CRC-64 trailer, else 8 zero bytes).
    pub fn new(w: W, compression: bool, checksum: bool) -> Self {
        RdbWriter { out: CrcWriter::new(w), compression, checksum, scratch: Vec::new() }
    }

    /// The magic and version: `REDIS0010`.
    pub fn header(&mut self) -> io::Result<()> {
        self.out.write_all(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    /// An AUX field. Values that are 32-bit integers in canonical form are written
    /// int-encoded, as Redis does for `redis-bits`, `ctime`, `used-mem`...
    pub fn aux(&mut self, key: &[u8], val: &[u8]) -> io::Result<()> {
        self.scratch.push(OPCODE_AUX);
        put_string(&mut self.scratch, key, self.compression);
        put_string(&mut self.scratch, val, self.compression);
        self.flush_scratch()
    }

    /// Starts database `index`: SELECTDB, then RESIZEDB with the number of keys and
    /// of keys with an expire (hints for the loader's table sizes).
    pub fn select_db(&mut self, index: u32, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.scratch.push(OPCODE_SELECTDB);
        put_len(&mut self.scratch, index as u64);
        self.scratch.push(OPCODE_RESIZEDB);
        put_len(&mut self.scratch, db_size);
        put_len(&mut self.scratch, expires_size);
        self.flush_scratch()
    }

    /// One key: `[EXPIRETIME_MS <ms>] <type> <key> <value>`. Writes nothing for an
    /// empty collection (Redis never stores one, and a loader would drop it) or a
    /// sorted set with a NaN score (a real loader refuses the file).
    pub fn entry(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) -> io::Result<()> {
        if let Some(ms) = expire_ms {
            self.scratch.push(OPCODE_EXPIRETIME_MS);
            self.scratch.extend_from_slice(&ms.to_le_bytes());
        }
        // The type byte precedes the key but is known once the value is encoded.
        let type_at = self.scratch.len();
        self.scratch.push(0);
        put_string(&mut self.scratch, key, self.compression);
        match put_value_body(&mut self.scratch, value, self.compression) {
            Some(type_byte) => {
                self.scratch[type_at] = type_byte;
                self.flush_scratch()
            }
            None => {
                self.scratch.clear();
                Ok(())
            }
        }
    }

    /// Ends the file: EOF and the CRC-64 of everything before it (8 zero bytes when
    /// checksums are off); flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[OPCODE_EOF])?;
        let crc = if self.checksum { self.out.crc() } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out.into_inner())
    }

    /// Writes and empties the scratch buffer.
    fn flush_scratch(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.scratch);
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
        r
    }
}

/// Appends the type byte and the value as they appear in an RDB file (DUMP's body).
/// Writes nothing for an empty collection or a sorted set with a NaN score, which
/// have no valid encoding.
pub fn write_value(out: &mut Vec<u8>, value: &Value, compression: bool) {
    let type_at = out.len();
    out.push(0);
    match put_value_body(out, value, compression) {
        Some(type_byte) => out[type_at] = type_byte,
        None => out.truncate(type_at),
    }
}

/// Appends the value (without its type byte) and returns its type; `None`, with
/// `out` unchanged, when the value must not be written.
fn put_value_body(out: &mut Vec<u8>, value: &Value, compression: bool) -> Option<u8> {
    let start = out.len();
    let type_byte = match value {
        Value::Str(s) => {
            put_string(out, &s.to_bytes(), compression);
            Some(TYPE_STRING)
        }
        Value::List(l) if l.is_empty() => None,
        Value::List(l) => put_list(out, l.iter(), compression),
        Value::Set(s) if s.is_empty() => None,
        Value::Set(s) => Some(put_set(out, s.encoding() == "intset", s.len(), || s.iter(), compression)),
        Value::Hash(h) if h.is_empty() => None,
        Value::Hash(h) => Some(put_hash(out, h.encoding() == "listpack", h.len(), || h.iter(), compression)),
        Value::ZSet(z) if z.is_empty() => None,
        Value::ZSet(z) => put_zset(out, z.encoding() == "listpack", z.iter(), compression),
    };
    if type_byte.is_none() {
        out.truncate(start);
    }
    type_byte
}

// ---------------------------------------------------------------------------------
// Lengths and strings (§10.5, §10.6)
// ---------------------------------------------------------------------------------

/// Appends a length in the shortest of the four forms.
pub(crate) fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a string as Redis's `rdbSaveRawString` does: INT8/16/32 when it is the
/// canonical text of a 32-bit integer, else LZF when `compression` is on, it is longer
/// than 20 bytes and compression saves at least 4 bytes, else length + bytes. Used for
/// every string, blobs included.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8], compression: bool) {
    if s.len() <= 11 {
        if let Some(n) = parse_i64(s) {
            if let Ok(v) = i8::try_from(n) {
                out.extend_from_slice(&[0xC0, v as u8]);
                return;
            } else if let Ok(v) = i16::try_from(n) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            } else if let Ok(v) = i32::try_from(n) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if compression && s.len() > LZF_MIN_LEN {
        if let Some(c) = lzf::compress_bounded(s, s.len() - LZF_MIN_SAVING) {
            out.push(0xC3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

// ---------------------------------------------------------------------------------
// Collections (§10.7)
// ---------------------------------------------------------------------------------

/// Redis 7.0's `_quicklistNodeAllowInsert` for `list-max-listpack-size -2`: whether
/// an element of `len` bytes still goes into a node whose listpack has `node_bytes`
/// bytes. Redis overestimates each entry's overhead as 8 bytes; using its estimate makes
/// our nodes split where Redis's do for a list built by pushes.
fn quicklist_node_allows(node_bytes: usize, len: usize) -> bool {
    node_bytes + len + QUICKLIST_ENTRY_OVERHEAD <= QUICKLIST_NODE_BYTES
}

/// A list as type 18 (quicklist v2): the node count, then per node its container
/// and blob. PACKED nodes hold listpacks filled as Redis fills them on RPUSH;
/// elements of 1 GiB or more get a PLAIN node of their own. `None` only if a node
/// cannot be encoded.
fn put_list<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>, compression: bool) -> Option<u8> {
    let mut body = Vec::new();
    let mut nodes = 0u64;
    let mut node = ListpackWriter::new();
    for item in items {
        let plain = item.len() >= QUICKLIST_PLAIN_THRESHOLD;
        if node.count() > 0 && (plain || !quicklist_node_allows(node.bytes(), item.len())) {
            put_packed_node(&mut body, std::mem::replace(&mut node, ListpackWriter::new()), compression)?;
            nodes += 1;
        }
        if plain {
            put_len(&mut body, QUICKLIST_NODE_PLAIN);
            put_string(&mut body, item, compression);
            nodes += 1;
        } else {
            node.push(item);
        }
    }
    if node.count() > 0 {
        put_packed_node(&mut body, node, compression)?;
        nodes += 1;
    }
    put_len(out, nodes);
    out.extend_from_slice(&body);
    Some(TYPE_LIST_QUICKLIST_2)
}

/// One PACKED quicklist node: container 2 and the listpack as a string.
fn put_packed_node(body: &mut Vec<u8>, node: ListpackWriter, compression: bool) -> Option<()> {
    let blob = node.finish()?;
    put_len(body, QUICKLIST_NODE_PACKED);
    put_string(body, &blob, compression);
    Some(())
}

/// A set: type 11 (intset) while it is intset-encoded in memory, else type 2.
fn put_set<'a, I>(out: &mut Vec<u8>, intset: bool, len: usize, members: impl Fn() -> I, compression: bool) -> u8
where
    I: Iterator<Item = Member<'a>>,
{
    if intset {
        let ints: Option<Vec<i64>> = members()
            .map(|m| match m {
                Member::Int(n) => Some(n),
                Member::Str(_) => None,
            })
            .collect();
        if let Some(mut ints) = ints {
            ints.sort_unstable();
            put_string(out, &intset_encode(&ints), compression);
            return TYPE_SET_INTSET;
        }
    }
    put_len(out, len as u64);
    for m in members() {
        m.with_bytes(|b| put_string(out, b, compression));
    }
    TYPE_SET
}

/// A hash: type 16 (one listpack of fields and values, in their order) while it is
/// listpack-encoded in memory, else type 4 (count, then field/value strings).
fn put_hash<'a, I>(out: &mut Vec<u8>, listpack: bool, len: usize, pairs: impl Fn() -> I, compression: bool) -> u8
where
    I: Iterator<Item = (&'a [u8], &'a [u8])>,
{
    if listpack {
        let mut lp = ListpackWriter::new();
        for (f, v) in pairs() {
            lp.push(f);
            lp.push(v);
        }
        if let Some(blob) = lp.finish() {
            put_string(out, &blob, compression);
            return TYPE_HASH_LISTPACK;
        }
    }
    put_len(out, len as u64);
    for (f, v) in pairs() {
        put_string(out, f, compression);
        put_string(out, v, compression);
    }
    TYPE_HASH
}

/// Redis's `double2ll`: the score as an integer when it is integral and within
/// ±2^62 (how 7.0 stores such scores in a listpack).
fn score_as_int(score: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if !(-LIMIT..=LIMIT).contains(&score) {
        return None;
    }
    let n = score as i64;
    (n as f64 == score).then_some(n)
}

/// A sorted set: type 17 (a listpack of member, score, ... in ascending order; scores
/// as Redis's `zzlInsertAt` stores them: integers when `double2ll` allows, else the
/// `%.17g` text) while it is listpack-encoded, else type 5 (count, then member and
/// little-endian binary double, highest score first, as Redis walks its skiplist).
/// `None` for a NaN score.
fn put_zset<'a>(
    out: &mut Vec<u8>,
    listpack: bool,
    pairs: impl Iterator<Item = (&'a [u8], f64)>,
    compression: bool,
) -> Option<u8> {
    let pairs: Vec<(&[u8], f64)> = pairs.collect();
    if pairs.iter().any(|(_, s)| s.is_nan()) {
        return None;
    }
    if listpack {
        let mut lp = ListpackWriter::new();
        for &(m, s) in &pairs {
            lp.push(m);
            match score_as_int(s) {
                Some(n) => lp.push_int(n),
                None => lp.push(format_g17(s).as_bytes()),
            }
        }
        if let Some(blob) = lp.finish() {
            put_string(out, &blob, compression);
            return Some(TYPE_ZSET_LISTPACK);
        }
    }
    put_len(out, pairs.len() as u64);
    for &(m, s) in pairs.iter().rev() {
        put_string(out, m, compression);
        out.extend_from_slice(&s.to_le_bytes());
    }
    Some(TYPE_ZSET_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_bytes(s: &[u8], compression: bool) -> Vec<u8> {
        let mut out = Vec::new();
        put_string(&mut out, s, compression);
        out
    }

    #[test]
    fn lengths_use_the_shortest_form() {
        let enc = |n| {
            let mut v = Vec::new();
            put_len(&mut v, n);
            v
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(63), [63]);
        assert_eq!(enc(64), [0x40, 64]);
        assert_eq!(enc(16383), [0x7f, 0xff]);
        assert_eq!(enc(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(u32::MAX as u64 + 1), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_int_lzf_raw() {
        assert_eq!(string_bytes(b"64", true), [0xC0, 64]);
        assert_eq!(string_bytes(b"-128", true), [0xC0, 0x80]);
        assert_eq!(string_bytes(b"12345", true), [0xC1, 0x39, 0x30]);
        assert_eq!(string_bytes(b"2147483647", true), [0xC2, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(string_bytes(b"2147483648", true)[0], 10);
        assert_eq!(string_bytes(b"012", true), [3, b'0', b'1', b'2']);
        assert_eq!(string_bytes(&[b'a'; 52], true)[..3], [0xC3, 9, 52]);
        assert_eq!(string_bytes(&[b'a'; 52], false)[0], 52);
        assert_eq!(string_bytes(&[b'a'; 20], true)[0], 20);
    }

    #[test]
    fn double2ll_bounds() {
        assert_eq!(score_as_int(3.0), Some(3));
        assert_eq!(score_as_int(-0.0), Some(0));
        assert_eq!(score_as_int(2.5), None);
        assert_eq!(score_as_int(1e20), None);
        assert_eq!(score_as_int(4611686018427387904.0), Some(4611686018427387904));
        assert_eq!(score_as_int(9223372036854775807.0), None);
        assert_eq!(score_as_int(f64::INFINITY), None);
        assert_eq!(score_as_int(f64::NAN), None);
    }

    #[test]
    fn quicklist_fill_rule() {
        assert!(quicklist_node_allows(8177, 7));
        assert!(!quicklist_node_allows(8183, 4));
    }
}
