//! Reading RDB files of versions 1 to 11 (spec §10.13): every opcode of §10.3 and
//! every value type Redis 1.x–7.2 writes, except streams and module values, which
//! are refused with an error naming the key.
//!
//! The input is untrusted (a file, a primary's transfer, a RESTORE payload): every
//! length is read before anything is allocated for it, strings grow as their bytes
//! actually arrive, collections never pre-allocate more than a few thousand slots,
//! and every compact blob is validated while it is decoded. Truncation and corruption
//! are `RdbError`s; nothing here panics or allocates in proportion to a declared
//! length that the input does not back.
//!
//! Values are rebuilt in the encoding Redis would give a value of that size
//! (`Limits`), whatever encoding the file used. Knows nothing of the keyspace: each
//! AUX field, database switch and key goes to the caller's sink as an `Item`.

use super::blobs::{intset_decode, listpack_for_each, ziplist_for_each, zipmap_for_each, Elem};
use super::crc::CrcReader;
use super::*;
use crate::db::list::End;
use crate::db::{zset, HashValue, ListValue, SetValue, Value, ZSetValue};
use crate::util::num::parse_f64;
use bytes::Bytes;
use std::cmp::Ordering;
use std::io::{BufRead, BufReader, Read};

/// Collections pre-allocate at most this many slots, whatever count the file claims.
const MAX_PREALLOC: usize = 4096;
/// Strings longer than this are read in growing chunks, so a hostile length costs
/// memory only as far as the input really goes.
const STRING_CHUNK: usize = 1 << 20;
/// Buffer size of the reader wrapped around the caller's input.
const READ_BUFFER: usize = 64 << 10;

/// Module value opcodes (how module data is walked to skip it).
const MODULE_OPCODE_EOF: u64 = 0;
const MODULE_OPCODE_SINT: u64 = 1;
const MODULE_OPCODE_UINT: u64 = 2;
const MODULE_OPCODE_FLOAT: u64 = 3;
const MODULE_OPCODE_DOUBLE: u64 = 4;
const MODULE_OPCODE_STRING: u64 = 5;

/// One thing found in an RDB file, in file order.
#[derive(Debug)]
pub enum Item {
    /// An AUX field (`redis-ver`, `repl-id`, 6.x's `lua` script bodies, ...).
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// SELECTDB: the following keys belong to this database (not range-checked here).
    SelectDb(u64),
    /// RESIZEDB: size hints for the current database (the counts are not trusted:
    /// cap anything allocated from them).
    ResizeDb { size: u64, expires: u64 },
    /// A key with its value and the EXPIRETIME / IDLE / FREQ prefixes that preceded it.
    /// Empty collections in the file are skipped, as Redis skips them.
    Entry { db: u64, key: Vec<u8>, value: Value, expire_ms: Option<i64>, idle: Option<u64>, freq: Option<u8> },
    /// A function library (FUNCTION2): its full source, `#!lua name=...` included.
    Function(Vec<u8>),
}

/// Loads an RDB file with Redis 7.0's default encoding limits: see `load_with_limits`.
pub fn load<R: Read>(r: R, sink: &mut impl FnMut(Item) -> Result<(), RdbError>) -> Result<(), RdbError> {
    load_with_limits(r, &Limits::default(), sink)
}

/// Loads an RDB file from `r`, buffered internally (so bytes after the file may be
/// consumed from `r`: use `load_buffered` when something follows it), building values
/// with `limits`' encodings. See `load_buffered`.
pub fn load_with_limits<R: Read>(
    r: R,
    limits: &Limits,
    sink: &mut impl FnMut(Item) -> Result<(), RdbError>,
) -> Result<(), RdbError> {
    load_buffered(BufReader::with_capacity(READ_BUFFER, r), limits, sink)
}

/// Loads an RDB file from an already buffered `r`, passing each item to `sink` in
/// order; an error from the sink stops the load and is returned. Checks the header
/// version (1..=11), reads up to and including the EOF opcode and the checksum
/// (version ≥ 5), which must match unless it is zero (saved with `rdbchecksum no`).
/// Consumes nothing after the checksum, so a caller passing `&mut` a `BufReader` can
/// go on reading what follows (an EOF mark, the replication stream).
pub fn load_buffered<R: BufRead>(
    r: R,
    limits: &Limits,
    sink: &mut impl FnMut(Item) -> Result<(), RdbError>,
) -> Result<(), RdbError> {
    let mut inp = Input::new(CrcReader::new(r));
    let magic: [u8; 9] = inp.array()?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::new("Wrong signature trying to load DB from file"));
    }
    // Like C's atoi: the leading digits.
    let version = magic[5..].iter().take_while(|b| b.is_ascii_digit()).fold(0u16, |v, b| v * 10 + (b - b'0') as u16);
    if !(1..=RDB_MAX_READ_VERSION).contains(&version) {
        return Err(RdbError::new(format!("Can't handle RDB format version {version}")));
    }
    let mut db = 0u64;
    let (mut expire_ms, mut idle, mut freq) = (None, None, None);
    loop {
        match inp.u8()? {
            OPCODE_EXPIRETIME => expire_ms = Some(i32::from_le_bytes(inp.array()?) as i64 * 1000),
            OPCODE_EXPIRETIME_MS => expire_ms = Some(i64::from_le_bytes(inp.array()?)),
            OPCODE_FREQ => freq = Some(inp.u8()?),
            OPCODE_IDLE => idle = Some(inp.len()?),
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                db = inp.len()?;
                sink(Item::SelectDb(db))?;
            }
            OPCODE_RESIZEDB => {
                let size = inp.len()?;
                let expires = inp.len()?;
                sink(Item::ResizeDb { size, expires })?;
            }
            OPCODE_AUX => {
                let key = inp.string()?;
                let value = inp.string()?;
                sink(Item::Aux { key, value })?;
            }
            OPCODE_MODULE_AUX => skip_module_aux(&mut inp)?,
            OPCODE_FUNCTION_PRE_GA => return Err(RdbError::new("Pre-release function format not supported.")),
            OPCODE_FUNCTION2 => sink(Item::Function(inp.string()?))?,
            t if is_value_type(t) => {
                let key = inp.string()?;
                let value = read_value(&mut inp, t, &key, limits)?;
                // The prefixes apply to this key only, loaded or skipped.
                let (expire_ms, idle, freq) = (expire_ms.take(), idle.take(), freq.take());
                if let Some(value) = value {
                    sink(Item::Entry { db, key, value, expire_ms, idle, freq })?;
                }
            }
            t => return Err(RdbError::new(format!("Unknown RDB encoding type {t}"))),
        }
    }
    if version >= 5 {
        let computed = inp.r.crc();
        let stored = u64::from_le_bytes(inp.array()?);
        if stored != 0 && stored != computed {
            return Err(RdbError::new(format!(
                "Wrong RDB checksum expected: ({computed:x}) got: ({stored:x}). Aborting now."
            )));
        }
    }
    Ok(())
}

/// True for a byte that starts a key entry (a value type Redis has defined up to
/// 7.2; reading may still refuse it).
fn is_value_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=21)
}

/// Skips a MODULE_AUX record: module id, `when` opcode (must be UINT) and value, then
/// the module's typed fields up to their EOF. Module data cannot be used without the
/// module, and it belongs to no key.
fn skip_module_aux<R: Read>(inp: &mut Input<R>) -> Result<(), RdbError> {
    let _module_id = inp.len()?;
    let when_opcode = inp.len()?;
    let _when = inp.len()?;
    if when_opcode != MODULE_OPCODE_UINT {
        return Err(RdbError::new("bad when_opcode"));
    }
    loop {
        match inp.len()? {
            MODULE_OPCODE_EOF => return Ok(()),
            MODULE_OPCODE_SINT | MODULE_OPCODE_UINT => {
                inp.len()?;
            }
            MODULE_OPCODE_FLOAT => {
                inp.array::<4>()?;
            }
            MODULE_OPCODE_DOUBLE => {
                inp.array::<8>()?;
            }
            MODULE_OPCODE_STRING => {
                inp.string()?;
            }
            op => return Err(RdbError::new(format!("Unknown module opcode {op} in module aux data"))),
        }
    }
}

// ---------------------------------------------------------------------------------
// Primitive input: bytes, lengths, strings
// ---------------------------------------------------------------------------------

/// A length or, for a first byte `11xxxxxx`, a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// The primitive decoders over any reader (the file reader, or a DUMP payload slice).
pub(crate) struct Input<R: Read> {
    pub(crate) r: R,
}

impl<R: Read> Input<R> {
    /// Decodes from `r`.
    pub(crate) fn new(r: R) -> Self {
        Input { r }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    /// `n` raw bytes; the buffer grows as they arrive.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let n = usize::try_from(n).map_err(|_| RdbError::eof())?;
        let mut v = vec![0u8; n.min(STRING_CHUNK)];
        self.r.read_exact(&mut v)?;
        while v.len() < n {
            let have = v.len();
            let more = (n - have).min(have.max(STRING_CHUNK));
            v.resize(have + more, 0);
            self.r.read_exact(&mut v[have..])?;
        }
        Ok(v)
    }

    fn len_or_encoding(&mut self) -> Result<Len, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError::new(format!("Unknown length encoding {b} in rdbLoadLen()"))),
            },
            _ => Len::Encoded(b & 0x3F),
        })
    }

    /// A length (§10.5).
    pub(crate) fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(e) => {
                Err(RdbError::new(format!("Unexpected string encoding {e} where a length was expected")))
            }
        }
    }

    /// A string in any of its encodings (§10.6): raw, INT8/16/32 (as decimal text) or
    /// LZF.
    pub(crate) fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        let int = |n: i64| itoa::Buffer::new().format(n).as_bytes().to_vec();
        match self.len_or_encoding()? {
            Len::Plain(n) => self.bytes(n),
            Len::Encoded(0) => Ok(int(i8::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(1) => Ok(int(i16::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(2) => Ok(int(i32::from_le_bytes(self.array()?) as i64)),
            Len::Encoded(3) => {
                let compressed_len = self.len()?;
                let len = self.len()?;
                if len > compressed_len.saturating_mul(lzf::MAX_RATIO) {
                    return Err(RdbError::new("Invalid LZF compressed string"));
                }
                let compressed = self.bytes(compressed_len)?;
                lzf::decompress(&compressed, len as usize).ok_or_else(|| RdbError::new("Invalid LZF compressed string"))
            }
            Len::Encoded(e) => Err(RdbError::new(format!("Unknown RDB string encoding type {e}"))),
        }
    }

    /// A type 3 score: a length byte (253 NaN, 254 +inf, 255 -inf) and decimal text.
    fn ascii_double(&mut self) -> Result<f64, RdbError> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.bytes(n as u64)?;
                parse_f64(&text).ok_or_else(|| RdbError::new("Invalid double value in sorted set"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Values (§10.7)
// ---------------------------------------------------------------------------------

/// Reads a value of type `t` for `key` (used in messages). `None` for an empty
/// collection, which Redis skips (RESTORE calls it bad data).
pub(crate) fn read_value<R: Read>(
    inp: &mut Input<R>,
    t: u8,
    key: &[u8],
    limits: &Limits,
) -> Result<Option<Value>, RdbError> {
    Ok(match t {
        TYPE_STRING => Some(Value::string(&inp.string()?)),
        TYPE_LIST => {
            let mut list = ListValue::default();
            for _ in 0..inp.len()? {
                list.push(End::Right, &inp.string()?);
            }
            list_value(list)
        }
        TYPE_SET => {
            let mut set = SetBuilder::new(limits);
            for _ in 0..inp.len()? {
                set.add(&inp.string()?)?;
            }
            set.finish()
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = inp.len()?;
            let mut zset = ZSetBuilder::new(limits, n);
            for _ in 0..n {
                let member = inp.string()?;
                let score = if t == TYPE_ZSET { inp.ascii_double()? } else { f64::from_le_bytes(inp.array()?) };
                zset.add(member, score)?;
            }
            zset.finish()?
        }
        TYPE_HASH => {
            let mut hash = HashBuilder::new(limits);
            for _ in 0..inp.len()? {
                let field = inp.string()?;
                let value = inp.string()?;
                hash.add(&field, &value)?;
            }
            hash.finish()
        }
        TYPE_HASH_ZIPMAP => {
            let blob = inp.string()?;
            let mut hash = HashBuilder::new(limits);
            zipmap_for_each(&blob, |f, v| hash.add(f, v))?;
            hash.finish()
        }
        TYPE_LIST_ZIPLIST => {
            let blob = inp.string()?;
            let mut list = ListValue::default();
            ziplist_for_each(&blob, |e| {
                e.with_bytes(|b| list.push(End::Right, b));
                Ok(())
            })?;
            list_value(list)
        }
        TYPE_SET_INTSET => {
            let mut set = SetBuilder::new(limits);
            let mut buf = itoa::Buffer::new();
            for n in intset_decode(&inp.string()?)? {
                set.add(buf.format(n).as_bytes())?;
            }
            set.finish()
        }
        TYPE_SET_LISTPACK => {
            let blob = inp.string()?;
            let mut set = SetBuilder::new(limits);
            listpack_for_each(&blob, |e| e.with_bytes(|b| set.add(b)))?;
            set.finish()
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = inp.string()?;
            let mut zset = ZSetBuilder::new(limits, 0);
            let mut pairs = Pairs::default();
            let mut add = |e| match pairs.push(e) {
                Some((member, score)) => zset.add(member.to_vec(), blob_score(score)?),
                None => Ok(()),
            };
            if t == TYPE_ZSET_ZIPLIST {
                ziplist_for_each(&blob, &mut add)?;
            } else {
                listpack_for_each(&blob, &mut add)?;
            }
            pairs.finish()?;
            zset.finish()?
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = inp.string()?;
            let mut hash = HashBuilder::new(limits);
            let mut pairs = Pairs::default();
            let mut add = |e| match pairs.push(e) {
                Some((f, v)) => f.with_bytes(|f| v.with_bytes(|v| hash.add(f, v))),
                None => Ok(()),
            };
            if t == TYPE_HASH_ZIPLIST {
                ziplist_for_each(&blob, &mut add)?;
            } else {
                listpack_for_each(&blob, &mut add)?;
            }
            pairs.finish()?;
            hash.finish()
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let mut list = ListValue::default();
            for _ in 0..inp.len()? {
                let container = if t == TYPE_LIST_QUICKLIST { QUICKLIST_NODE_PACKED } else { inp.len()? };
                let blob = inp.string()?;
                // Empty packed nodes add nothing: Redis skips them too.
                match container {
                    QUICKLIST_NODE_PLAIN => list.push(End::Right, &blob),
                    QUICKLIST_NODE_PACKED => {
                        let push = |e: Elem<'_>| {
                            e.with_bytes(|b| list.push(End::Right, b));
                            Ok(())
                        };
                        if t == TYPE_LIST_QUICKLIST {
                            ziplist_for_each(&blob, push)?;
                        } else {
                            listpack_for_each(&blob, push)?;
                        }
                    }
                    c => return Err(RdbError::new(format!("Quicklist integrity check failed: container {c}"))),
                }
            }
            list_value(list)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            return Err(unsupported(t, "stream".into(), key));
        }
        TYPE_MODULE_PRE_GA => return Err(unsupported(t, "module".into(), key)),
        TYPE_MODULE_2 => {
            let id = inp.len()?;
            return Err(unsupported(t, format!("module '{}'", module_name(id)), key));
        }
        _ => return Err(RdbError::new(format!("Unknown RDB encoding type {t}"))),
    })
}

/// The error for a value type moonkv does not implement.
fn unsupported(t: u8, what: String, key: &[u8]) -> RdbError {
    RdbError::new(format!("Unsupported type {t} ({what}) for key '{}'", printable(key)))
}

/// A module's name from its 64-bit type id: nine 6-bit characters above a 10-bit
/// encoding version.
fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for c in name.iter_mut().rev() {
        *c = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// A list value, or `None` when empty.
fn list_value(list: ListValue) -> Option<Value> {
    (!list.is_empty()).then(|| Value::list(list))
}

/// A score stored in a ziplist or listpack: an integer entry or decimal text.
fn blob_score(e: Elem<'_>) -> Result<f64, RdbError> {
    match e {
        Elem::Int(n) => Ok(n as f64),
        Elem::Str(s) => parse_f64(s).ok_or_else(|| RdbError::new("Invalid score in sorted set blob")),
    }
}

/// Groups a blob's elements two by two (field/value, member/score).
#[derive(Default)]
struct Pairs<'a> {
    pending: Option<Elem<'a>>,
}

impl<'a> Pairs<'a> {
    /// Takes the next element; returns a pair when it completes one.
    fn push(&mut self, e: Elem<'a>) -> Option<(Elem<'a>, Elem<'a>)> {
        match self.pending.take() {
            Some(first) => Some((first, e)),
            None => {
                self.pending = Some(e);
                None
            }
        }
    }

    /// An error when an element was left without its partner.
    fn finish(self) -> Result<(), RdbError> {
        match self.pending {
            Some(_) => Err(RdbError::new("Odd number of elements in a blob of pairs")),
            None => Ok(()),
        }
    }
}

/// Builds a set in Redis's encoding for its members: an intset while every member is
/// an integer and there are at most `set-max-intset-entries`, else a hashtable.
struct SetBuilder<'l> {
    set: SetValue,
    limits: &'l Limits,
}

impl<'l> SetBuilder<'l> {
    fn new(limits: &'l Limits) -> Self {
        SetBuilder { set: SetValue::default(), limits }
    }

    fn add(&mut self, member: &[u8]) -> Result<(), RdbError> {
        if self.set.add(member, self.limits.set_max_intset_entries) {
            Ok(())
        } else {
            Err(RdbError::new("Duplicate set members detected"))
        }
    }

    fn finish(self) -> Option<Value> {
        (!self.set.is_empty()).then(|| Value::set(self.set))
    }
}

/// Builds a hash: listpack while it has at most `hash-max-listpack-entries` fields and
/// no string longer than `hash-max-listpack-value`, else a hashtable.
struct HashBuilder<'l> {
    hash: HashValue,
    limits: &'l Limits,
}

impl<'l> HashBuilder<'l> {
    fn new(limits: &'l Limits) -> Self {
        HashBuilder { hash: HashValue::default(), limits }
    }

    fn add(&mut self, field: &[u8], value: &[u8]) -> Result<(), RdbError> {
        let lim = self.limits;
        if self.hash.set(field, value, lim.hash_max_listpack_entries, lim.hash_max_listpack_value) {
            Ok(())
        } else {
            Err(RdbError::new("Duplicate hash fields detected"))
        }
    }

    fn finish(self) -> Option<Value> {
        (!self.hash.is_empty()).then(|| Value::hash(self.hash))
    }
}

/// Collects a sorted set's members in any order, then checks them (no duplicate, no
/// NaN) and builds it sorted, in the encoding Redis gives a loaded set of that size.
struct ZSetBuilder<'l> {
    pairs: Vec<(Bytes, f64)>,
    limits: &'l Limits,
}

impl<'l> ZSetBuilder<'l> {
    fn new(limits: &'l Limits, expected: u64) -> Self {
        ZSetBuilder { pairs: Vec::with_capacity((expected as usize).min(MAX_PREALLOC)), limits }
    }

    fn add(&mut self, member: Vec<u8>, score: f64) -> Result<(), RdbError> {
        if score.is_nan() {
            return Err(RdbError::new("Zset with NAN score detected"));
        }
        self.pairs.push((Bytes::from(member), score));
        Ok(())
    }

    fn finish(mut self) -> Result<Option<Value>, RdbError> {
        if self.pairs.is_empty() {
            return Ok(None);
        }
        self.pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if self.pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(RdbError::new("Duplicate zset fields detected"));
        }
        // Redis's order: by score (no NaN here; -0 equals 0), then by member.
        self.pairs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
        let lim = zset::Limits {
            entries: usize::try_from(self.limits.zset_max_listpack_entries).unwrap_or(usize::MAX),
            value: usize::try_from(self.limits.zset_max_listpack_value).unwrap_or(usize::MAX),
        };
        Ok(Some(Value::zset(ZSetValue::from_sorted(self.pairs, lim))))
    }
}
