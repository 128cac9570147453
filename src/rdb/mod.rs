//! The RDB format (versions 1 to 11 read, 10 written), as redis-server 7.0 reads and
//! writes it: see ../shared/specs/replication.md §10.
//!
//! * `writer` – `RdbWriter` over any `Write` (files, sockets, tests) and `write_value`
//!   (the type byte + value, shared with DUMP); values are written in the encodings
//!   Redis 7.0 uses for them (listpack hashes/zsets, intsets, quicklist v2 lists).
//! * `reader` – `load` over any `Read`: every opcode of §10.3, every value type Redis
//!   1.x–7.2 writes except streams and modules, with every length and blob validated;
//!   values are rebuilt in the encoding Redis would choose for their size (`Limits`).
//! * `dump`   – DUMP / RESTORE payloads.
//! * `blobs`  – listpack (read and write), intset (read and write), ziplist and zipmap
//!   (read) blobs.
//! * `lzf`, `crc` – liblzf-compatible compression, CRC-64 and hashing wrappers.
//!
//! This module knows values (`crate::db`) but not the keyspace, the engine or
//! replication: callers decide what to do with each `Item` and which keys to write.

mod blobs;
pub mod crc;
pub mod dump;
pub mod lzf;
pub mod reader;
pub mod writer;

pub use dump::{dump, restore, RestoreError};
pub use reader::{load, load_buffered, load_with_limits, Item};
pub use writer::{write_value, RdbWriter};

use std::fmt;

/// The RDB version written (Redis 7.0), in file headers and DUMP payloads.
pub const RDB_VERSION: u16 = 10;
/// The newest RDB version read (Redis 7.2: every type it writes except streams).
pub const RDB_MAX_READ_VERSION: u16 = 11;
/// The newest version a DUMP payload may carry (Redis 7.0 refuses newer ones).
pub const DUMP_MAX_VERSION: u16 = 10;

// ---------------------------------------------------------------------------------
// Opcodes (§10.3)
// ---------------------------------------------------------------------------------

/// A function library (Redis 7.0+): one string.
pub(crate) const OPCODE_FUNCTION2: u8 = 245;
/// Pre-release 7.0 function format: refused.
pub(crate) const OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// Module auxiliary data.
pub(crate) const OPCODE_MODULE_AUX: u8 = 247;
/// LRU idle time of the next key, in seconds.
pub(crate) const OPCODE_IDLE: u8 = 248;
/// LFU counter of the next key.
pub(crate) const OPCODE_FREQ: u8 = 249;
/// Auxiliary field: string key, string value.
pub(crate) const OPCODE_AUX: u8 = 250;
/// Hash table size hints of the current database.
pub(crate) const OPCODE_RESIZEDB: u8 = 251;
/// Expire time of the next key, i64 LE milliseconds.
pub(crate) const OPCODE_EXPIRETIME_MS: u8 = 252;
/// Expire time of the next key, i32 LE seconds (files before version 3).
pub(crate) const OPCODE_EXPIRETIME: u8 = 253;
/// Database selector.
pub(crate) const OPCODE_SELECTDB: u8 = 254;
/// End of the file, then the checksum.
pub(crate) const OPCODE_EOF: u8 = 255;

// ---------------------------------------------------------------------------------
// Value types (§10.7)
// ---------------------------------------------------------------------------------

pub(crate) const TYPE_STRING: u8 = 0;
pub(crate) const TYPE_LIST: u8 = 1;
pub(crate) const TYPE_SET: u8 = 2;
pub(crate) const TYPE_ZSET: u8 = 3;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
pub(crate) const TYPE_MODULE_PRE_GA: u8 = 6;
pub(crate) const TYPE_MODULE_2: u8 = 7;
pub(crate) const TYPE_HASH_ZIPMAP: u8 = 9;
pub(crate) const TYPE_LIST_ZIPLIST: u8 = 10;
pub(crate) const TYPE_SET_INTSET: u8 = 11;
pub(crate) const TYPE_ZSET_ZIPLIST: u8 = 12;
pub(crate) const TYPE_HASH_ZIPLIST: u8 = 13;
pub(crate) const TYPE_LIST_QUICKLIST: u8 = 14;
pub(crate) const TYPE_STREAM_LISTPACKS: u8 = 15;
pub(crate) const TYPE_HASH_LISTPACK: u8 = 16;
pub(crate) const TYPE_ZSET_LISTPACK: u8 = 17;
pub(crate) const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub(crate) const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub(crate) const TYPE_SET_LISTPACK: u8 = 20;
pub(crate) const TYPE_STREAM_LISTPACKS_3: u8 = 21;

/// Quicklist v2 node container: the blob is one element.
pub(crate) const QUICKLIST_NODE_PLAIN: u64 = 1;
/// Quicklist v2 node container: the blob is a listpack.
pub(crate) const QUICKLIST_NODE_PACKED: u64 = 2;

// ---------------------------------------------------------------------------------
// Errors and limits
// ---------------------------------------------------------------------------------

/// A failed load: corrupt, truncated or unsupported data, or an error from the sink.
/// The message reads like redis-server's log line for the same problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    msg: String,
}

impl RdbError {
    /// An error with message `msg`.
    pub fn new(msg: impl Into<String>) -> RdbError {
        RdbError { msg: msg.into() }
    }

    /// Truncated input.
    pub(crate) fn eof() -> RdbError {
        RdbError::new("Unexpected EOF reading RDB file")
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for RdbError {}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> RdbError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            RdbError::eof()
        } else {
            RdbError::new(format!("Error reading RDB file: {e}"))
        }
    }
}

/// The encoding thresholds that decide how loaded values are stored (Redis's
/// `hash-max-listpack-*`, `zset-max-listpack-*`, `set-max-intset-entries`); the
/// default is Redis 7.0's default configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
        }
    }
}

impl Limits {
    /// The thresholds currently configured in `config`.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits {
            hash_max_listpack_entries: config.hash_max_listpack_entries,
            hash_max_listpack_value: config.hash_max_listpack_value,
            zset_max_listpack_entries: config.zset_max_listpack_entries,
            zset_max_listpack_value: config.zset_max_listpack_value,
            set_max_intset_entries: config.set_max_intset_entries,
        }
    }
}

/// A key for an error message: printable as is, other bytes escaped.
pub(crate) fn printable(key: &[u8]) -> String {
    key.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect()
}

#[cfg(test)]
mod property;

#[cfg(test)]
mod tests {
    use super::blobs::{intset_encode, ziplist_of, ListpackWriter};
    use super::writer::{put_len, put_string};
    use super::*;
    use crate::db::list::End;
    use crate::db::{zset, HashValue, ListValue, SetValue, Value, ZSetValue};

    /// A value in comparable form: content (hashes and sets sorted) and encoding.
    #[derive(Debug, PartialEq)]
    enum Canon {
        Str(Vec<u8>),
        List(Vec<Vec<u8>>),
        Hash(Vec<(Vec<u8>, Vec<u8>)>),
        Set(Vec<Vec<u8>>),
        ZSet(Vec<(Vec<u8>, u64)>),
    }

    fn canon(v: &Value) -> (Canon, &'static str) {
        let c = match v {
            Value::Str(s) => Canon::Str(s.to_bytes().into_owned()),
            Value::List(l) => Canon::List(l.iter().map(|e| e.to_vec()).collect()),
            Value::Hash(h) => {
                let mut pairs: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                pairs.sort();
                Canon::Hash(pairs)
            }
            Value::Set(s) => {
                let mut members = s.members();
                members.sort();
                Canon::Set(members)
            }
            Value::ZSet(z) => Canon::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect()),
        };
        (c, v.encoding())
    }

    const ZSET_LIMITS: zset::Limits = zset::Limits { entries: 128, value: 64 };

    fn list<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Value {
        let mut l = ListValue::default();
        for i in items {
            l.push(End::Right, i.as_ref());
        }
        Value::list(l)
    }

    fn hash<S: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (S, S)>) -> Value {
        let mut h = HashValue::default();
        for (f, v) in pairs {
            h.set(f.as_ref(), v.as_ref(), 512, 64);
        }
        Value::hash(h)
    }

    fn set<S: AsRef<[u8]>>(members: impl IntoIterator<Item = S>) -> Value {
        let mut s = SetValue::default();
        for m in members {
            s.add(m.as_ref(), 512);
        }
        Value::set(s)
    }

    fn zset<S: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (S, f64)>) -> Value {
        let mut z = ZSetValue::default();
        for (m, s) in pairs {
            z.set(m.as_ref(), s, ZSET_LIMITS);
        }
        Value::zset(z)
    }

    /// Values of every type in every encoding, with an expire on some.
    fn samples() -> Vec<(Vec<u8>, Value, Option<i64>)> {
        let n = |i: usize| format!("{i}");
        let mut out: Vec<(&str, Value, Option<i64>)> = vec![
            ("int", Value::string(b"12345"), None),
            ("bigint", Value::string(b"-9223372036854775808"), Some(1_700_000_000_123)),
            ("embstr", Value::string(b"hello"), None),
            ("empty-string", Value::string(b""), None),
            ("raw", Value::string(&[b'r'; 100]), Some(-5)),
            ("binary", Value::string(&(0..=255u8).collect::<Vec<_>>()), None),
            ("list-small", list(["a", "1", "", "-70000"]), None),
            ("list-nodes", list((0..5000).map(n)), None),
            ("list-big-elements", list([vec![b'x'; 10_000], vec![b'y'; 5], vec![b'z'; 70_000]]), None),
            ("hash-listpack", hash([("f", "v"), ("n", "12"), ("e", "")]), None),
            ("hash-long-value", hash([("f".to_string(), "v".repeat(65))]), None),
            ("hash-many", hash((0..600).map(|i| (n(i), n(i * 7)))), Some(4_102_444_800_000)),
            ("set-intset", set(["3", "-2", "100000", "9223372036854775807"]), None),
            ("set-strings", set(["a", "b", "1"]), None),
            ("set-many-ints", set((0..600).map(n)), None),
            ("zset-listpack", zset([("a", 1.5), ("b", -0.0), ("c", f64::INFINITY), ("d", 1e20), ("e", 3.0)]), None),
            ("zset-skiplist", zset((0..200).map(|i| (n(i), i as f64 / 3.0))), None),
            ("zset-long-member", zset([("m".repeat(65), 1.0), ("n".to_string(), f64::NEG_INFINITY)]), None),
        ];
        out.push(("key with spaces\n", Value::string(b"v"), None));
        out.into_iter().map(|(k, v, e)| (k.as_bytes().to_vec(), v, e)).collect()
    }

    fn write_file(values: &[(Vec<u8>, Value, Option<i64>)], compression: bool, checksum: bool) -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), compression, checksum);
        w.header().unwrap();
        w.aux(b"redis-ver", b"7.0.15").unwrap();
        w.aux(b"redis-bits", b"64").unwrap();
        let expires = values.iter().filter(|v| v.2.is_some()).count() as u64;
        w.select_db(0, values.len() as u64, expires).unwrap();
        for (k, v, e) in values {
            w.entry(k, v, *e).unwrap();
        }
        w.select_db(5, 1, 0).unwrap();
        w.entry(b"in-db-5", &Value::string(b"five"), None).unwrap();
        w.finish().unwrap()
    }

    fn load_all(bytes: &[u8]) -> Result<Vec<Item>, RdbError> {
        let mut items = Vec::new();
        load(bytes, &mut |item| {
            items.push(item);
            Ok(())
        })?;
        Ok(items)
    }

    type Entry = (u64, Vec<u8>, Value, Option<i64>);

    fn entries(items: Vec<Item>) -> Vec<Entry> {
        items
            .into_iter()
            .filter_map(|i| match i {
                Item::Entry { db, key, value, expire_ms, .. } => Some((db, key, value, expire_ms)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn round_trip_every_type_and_encoding() {
        let values = samples();
        for compression in [true, false] {
            for checksum in [true, false] {
                let file = write_file(&values, compression, checksum);
                assert_eq!(&file[..9], b"REDIS0010");
                if checksum {
                    assert_eq!(crc::crc64(&file), 0);
                } else {
                    assert_eq!(&file[file.len() - 9..], &[0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
                }
                let items = load_all(&file).unwrap();
                assert!(matches!(&items[0], Item::Aux { key, value } if key == b"redis-ver" && value == b"7.0.15"));
                assert!(matches!(&items[1], Item::Aux { key, value } if key == b"redis-bits" && value == b"64"));
                assert!(matches!(items[2], Item::SelectDb(0)));
                assert!(matches!(items[3], Item::ResizeDb { size, expires: 3 } if size == values.len() as u64));
                let got = entries(items);
                assert_eq!(got.len(), values.len() + 1);
                for ((db, key, value, expire), (k, v, e)) in got.iter().zip(&values) {
                    assert_eq!((*db, key, expire), (0, k, e));
                    assert_eq!(canon(value), canon(v), "{}", String::from_utf8_lossy(k));
                }
                let (db, key, value, _) = got.last().unwrap();
                assert_eq!((*db, &key[..]), (5, &b"in-db-5"[..]));
                assert_eq!(canon(value).0, Canon::Str(b"five".to_vec()));
            }
        }
    }

    #[test]
    fn writer_skips_empty_collections_and_nan() {
        let mut w = RdbWriter::new(Vec::new(), true, true);
        w.header().unwrap();
        w.entry(b"l", &Value::list(ListValue::default()), Some(5)).unwrap();
        w.entry(b"h", &Value::hash(HashValue::default()), None).unwrap();
        w.entry(b"s", &Value::set(SetValue::default()), None).unwrap();
        w.entry(b"z", &Value::zset(ZSetValue::default()), None).unwrap();
        w.entry(b"nan", &zset([("m", f64::NAN)]), None).unwrap();
        w.entry(b"ok", &Value::string(b"v"), None).unwrap();
        let file = w.finish().unwrap();
        let got = entries(load_all(&file).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, b"ok");
        assert_eq!(got[0].3, None, "an expire of a skipped key must not leak to the next one");
        let mut out = Vec::new();
        write_value(&mut out, &Value::list(ListValue::default()), true);
        assert!(out.is_empty());
    }

    #[test]
    fn sets_of_integers_in_a_hashtable_load_as_intsets() {
        // Redis writes a hashtable set as type 2 even when its members are integers;
        // a loader gives it the encoding a new set of those members would have.
        let mut s = SetValue::default();
        s.add(b"a", 512);
        s.add(b"1", 512);
        s.remove(b"a");
        let file = write_file(&[(b"s".to_vec(), Value::set(s), None)], true, true);
        let got = entries(load_all(&file).unwrap());
        assert_eq!(canon(&got[0].2), (Canon::Set(vec![b"1".to_vec()]), "intset"));
    }

    #[test]
    fn load_buffered_stops_at_the_checksum() {
        let mut stream = write_file(&samples(), true, true);
        stream.extend_from_slice(b"+after\r\n");
        let mut r = std::io::BufReader::with_capacity(16, &stream[..]);
        let mut n = 0;
        load_buffered(&mut r, &Limits::default(), &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert!(n > 20);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut rest).unwrap();
        assert_eq!(rest, b"+after\r\n");
    }

    #[test]
    fn default_limits_are_the_default_config() {
        assert_eq!(Limits::from_config(&crate::config::Config::default()), Limits::default());
    }

    #[test]
    fn custom_limits_choose_encodings() {
        let file = write_file(&[(b"h".to_vec(), hash([("a", "1"), ("b", "2"), ("c", "3")]), None)], true, true);
        let lim = Limits { hash_max_listpack_entries: 2, ..Limits::default() };
        let mut enc = "";
        load_with_limits(&file[..], &lim, &mut |i| {
            match i {
                Item::Entry { key, value, .. } if key == b"h" => enc = value.encoding(),
                _ => {}
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(enc, "hashtable");
    }

    /// A file of `version` with `body` between the header and EOF, and a valid CRC.
    fn file_of(version: &str, body: &[u8]) -> Vec<u8> {
        let mut f = format!("REDIS{version}").into_bytes();
        f.extend_from_slice(body);
        f.push(OPCODE_EOF);
        let crc = crc::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    /// `type key` followed by a value body.
    fn key_entry(body: &mut Vec<u8>, t: u8, key: &str) {
        body.push(t);
        put_string(body, key.as_bytes(), false);
    }

    /// A key entry holding `value`, built with `write_value`.
    fn modern_entry(body: &mut Vec<u8>, key: &str, value: &Value) {
        let mut v = Vec::new();
        write_value(&mut v, value, true);
        key_entry(body, v[0], key);
        body.extend_from_slice(&v[1..]);
    }

    fn listpack_of(items: &[&[u8]]) -> Vec<u8> {
        let mut lp = ListpackWriter::new();
        for i in items {
            lp.push(i);
        }
        lp.finish().unwrap()
    }

    /// Every opcode and every readable value type, legacy ones included.
    fn every_type_body() -> Vec<u8> {
        let mut b = Vec::new();
        b.push(OPCODE_AUX);
        put_string(&mut b, b"redis-ver", false);
        put_string(&mut b, b"6.2.0", false);
        // Module aux data with every field kind: skipped.
        b.extend_from_slice(&[OPCODE_MODULE_AUX, 0x80, 0x12, 0x34, 0x56, 0x78, 2, 2]);
        b.extend_from_slice(&[1, 5, 2, 6, 3, 0, 0, 0x80, 0x3f, 4, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 5, 2, b'h', b'i', 0]);
        b.push(OPCODE_FUNCTION2);
        put_string(&mut b, b"#!lua name=lib\nredis.register_function('f', function() return 1 end)", false);
        b.extend_from_slice(&[OPCODE_SELECTDB, 0, OPCODE_RESIZEDB, 20, 2]);
        b.push(OPCODE_EXPIRETIME);
        b.extend_from_slice(&1_000_000i32.to_le_bytes());
        key_entry(&mut b, TYPE_LIST, "list");
        b.push(2);
        put_string(&mut b, b"a", false);
        put_string(&mut b, b"1000", false);
        key_entry(&mut b, TYPE_ZSET, "zset");
        b.extend_from_slice(&[3, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254, 1, b'c', 255]);
        b.extend_from_slice(&[OPCODE_IDLE, 0x40, 0x80, OPCODE_FREQ, 7]);
        key_entry(&mut b, TYPE_HASH_ZIPMAP, "zipmap");
        put_string(&mut b, &[1, 1, b'f', 2, 0, b'v', b'w', 255], false);
        key_entry(&mut b, TYPE_LIST_ZIPLIST, "ziplist");
        put_string(&mut b, &ziplist_of(&[b"x", b"7", b"-300", b"5000000000"]), false);
        key_entry(&mut b, TYPE_ZSET_ZIPLIST, "zset-ziplist");
        put_string(&mut b, &ziplist_of(&[b"m", b"2", b"n", b"0.5"]), false);
        key_entry(&mut b, TYPE_HASH_ZIPLIST, "hash-ziplist");
        put_string(&mut b, &ziplist_of(&[b"f", b"1", b"g", b"two"]), false);
        key_entry(&mut b, TYPE_LIST_QUICKLIST, "quicklist");
        b.push(3);
        put_string(&mut b, &ziplist_of(&[b"q1", b"q2"]), false);
        put_string(&mut b, &ziplist_of(&[]), false);
        put_string(&mut b, &ziplist_of(&[b"3"]), false);
        key_entry(&mut b, TYPE_LIST_QUICKLIST_2, "quicklist2");
        b.push(2);
        put_len(&mut b, QUICKLIST_NODE_PLAIN);
        put_string(&mut b, b"plain element", false);
        put_len(&mut b, QUICKLIST_NODE_PACKED);
        put_string(&mut b, &listpack_of(&[b"p1", b"-5"]), false);
        key_entry(&mut b, TYPE_SET_LISTPACK, "set-listpack");
        put_string(&mut b, &listpack_of(&[b"1", b"x", b"2"]), false);
        key_entry(&mut b, TYPE_SET_INTSET, "intset");
        put_string(&mut b, &intset_encode(&[-1, 5, 70000]), false);
        b.extend_from_slice(&[OPCODE_SELECTDB, 1]);
        modern_entry(&mut b, "lzf", &Value::string(&[b'a'; 60]));
        modern_entry(&mut b, "hash", &hash([("f", "v"), ("g", "1")]));
        modern_entry(&mut b, "hash-table", &hash([("f".to_string(), "v".repeat(70))]));
        modern_entry(&mut b, "zset-lp", &zset([("m", 2.5), ("n", 3.0)]));
        modern_entry(&mut b, "zset-2", &zset([("m".repeat(70), 1.0)]));
        modern_entry(&mut b, "set", &set(["s", "t"]));
        b.push(OPCODE_EXPIRETIME_MS);
        b.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
        modern_entry(&mut b, "list2", &list(["a", "b", "c"]));
        b
    }

    #[test]
    fn legacy_types_and_every_opcode() {
        let file = file_of("0011", &every_type_body());
        let items = load_all(&file).unwrap();
        assert!(matches!(&items[1], Item::Function(f) if f.starts_with(b"#!lua name=lib")));
        let got = entries(items);
        let find = |k: &str| got.iter().find(|e| e.1 == k.as_bytes()).unwrap_or_else(|| panic!("{k}"));
        let strs = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(find("list").3, Some(1_000_000_000));
        assert_eq!(canon(&find("list").2).0, Canon::List(strs(&["a", "1000"])));
        assert_eq!(
            canon(&find("zset").2),
            (
                Canon::ZSet(vec![
                    (b"c".to_vec(), f64::NEG_INFINITY.to_bits()),
                    (b"a".to_vec(), 1.5f64.to_bits()),
                    (b"b".to_vec(), f64::INFINITY.to_bits())
                ]),
                "listpack"
            )
        );
        assert_eq!(find("zset").3, None);
        assert_eq!(canon(&find("zipmap").2), (Canon::Hash(vec![(b"f".to_vec(), b"vw".to_vec())]), "listpack"));
        assert_eq!(canon(&find("ziplist").2).0, Canon::List(strs(&["x", "7", "-300", "5000000000"])));
        assert_eq!(
            canon(&find("zset-ziplist").2).0,
            Canon::ZSet(vec![(b"n".to_vec(), 0.5f64.to_bits()), (b"m".to_vec(), 2f64.to_bits())])
        );
        assert_eq!(
            canon(&find("hash-ziplist").2).0,
            Canon::Hash(vec![(b"f".to_vec(), b"1".to_vec()), (b"g".to_vec(), b"two".to_vec())])
        );
        assert_eq!(canon(&find("quicklist").2).0, Canon::List(strs(&["q1", "q2", "3"])));
        assert_eq!(canon(&find("quicklist2").2).0, Canon::List(strs(&["plain element", "p1", "-5"])));
        assert_eq!(canon(&find("set-listpack").2), (Canon::Set(strs(&["1", "2", "x"])), "hashtable"));
        assert_eq!(canon(&find("intset").2), (Canon::Set(strs(&["-1", "5", "70000"])), "intset"));
        assert_eq!(find("lzf").0, 1);
        assert_eq!(canon(&find("hash-table").2).1, "hashtable");
        assert_eq!(canon(&find("zset-2").2).1, "skiplist");
        assert_eq!(find("list2").3, Some(1_700_000_000_000));
        // IDLE and FREQ apply to the next key only.
        let mut prefixes = Vec::new();
        load(&file[..], &mut |i| {
            if let Item::Entry { key, idle, freq, .. } = i {
                prefixes.push((key, idle, freq));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(prefixes[2], (b"zipmap".to_vec(), Some(128), Some(7)));
        assert_eq!(prefixes[3], (b"ziplist".to_vec(), None, None));
    }

    fn load_err(file: &[u8]) -> String {
        load_all(file).unwrap_err().to_string()
    }

    #[test]
    fn header_and_checksum() {
        assert_eq!(load_err(&file_of("0012", &[])), "Can't handle RDB format version 12");
        assert_eq!(load_err(&file_of("0000", &[])), "Can't handle RDB format version 0");
        assert_eq!(load_err(b"RUBIS0010\xff"), "Wrong signature trying to load DB from file");
        assert_eq!(load_err(b"REDIS"), "Unexpected EOF reading RDB file");
        assert!(load_all(&file_of("0009", &[])).is_ok());
        // Before version 5 there is no checksum.
        assert!(load_all(b"REDIS0004\xff").is_ok());
        let mut file = file_of("0010", &[OPCODE_SELECTDB, 0]);
        let n = file.len();
        file[n - 1] ^= 1;
        assert!(load_err(&file).starts_with("Wrong RDB checksum expected: ("), "{}", load_err(&file));
        file[n - 8..].fill(0);
        assert!(load_all(&file).is_ok(), "a zero checksum is not checked");
        // Truncated before or inside the trailer.
        for cut in 0..n {
            assert_eq!(load_err(&file[..cut]), "Unexpected EOF reading RDB file");
        }
    }

    #[test]
    fn refused_types_and_opcodes() {
        let mut b = Vec::new();
        key_entry(&mut b, TYPE_STREAM_LISTPACKS_2, "mystream");
        assert_eq!(load_err(&file_of("0010", &b)), "Unsupported type 19 (stream) for key 'mystream'");
        let mut b = Vec::new();
        key_entry(&mut b, TYPE_MODULE_2, "doc");
        // "ReJSON-RL" encoding version 3.
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let id =
            b"ReJSON-RL".iter().fold(0u64, |id, c| (id << 6) | charset.iter().position(|x| x == c).unwrap() as u64);
        put_len(&mut b, (id << 10) | 3);
        assert_eq!(load_err(&file_of("0010", &b)), "Unsupported type 7 (module 'ReJSON-RL') for key 'doc'");
        assert_eq!(load_err(&file_of("0010", &[OPCODE_FUNCTION_PRE_GA])), "Pre-release function format not supported.");
        assert_eq!(load_err(&file_of("0010", &[8])), "Unknown RDB encoding type 8");
        assert_eq!(load_err(&file_of("0010", &[22])), "Unknown RDB encoding type 22");
        assert_eq!(load_err(&file_of("0010", &[OPCODE_SELECTDB, 0x85])), "Unknown length encoding 133 in rdbLoadLen()");
        let mut b = Vec::new();
        key_entry(&mut b, TYPE_STRING, "k");
        b.push(0xC4);
        assert_eq!(load_err(&file_of("0010", &b)), "Unknown RDB string encoding type 4");
        // A sink error stops the load.
        let file = file_of("0010", &[OPCODE_SELECTDB, 20]);
        let r = load(&file[..], &mut |_| {
            Err(RdbError::new("FATAL: Data file was created with a Redis server configured to handle more than 16 databases. Exiting\n"))
        });
        assert!(r.unwrap_err().message().starts_with("FATAL"));
    }

    #[test]
    fn duplicates_nan_and_empty_values() {
        let with = |t: u8, value: &[u8]| {
            let mut b = Vec::new();
            key_entry(&mut b, t, "k");
            b.extend_from_slice(value);
            file_of("0010", &b)
        };
        assert_eq!(load_err(&with(TYPE_SET, &[2, 1, b'a', 1, b'a'])), "Duplicate set members detected");
        assert_eq!(load_err(&with(TYPE_HASH, &[2, 1, b'a', 0, 1, b'a', 0])), "Duplicate hash fields detected");
        assert_eq!(
            load_err(&with(TYPE_ZSET, &[2, 1, b'a', 1, b'1', 1, b'a', 1, b'2'])),
            "Duplicate zset fields detected"
        );
        assert_eq!(load_err(&with(TYPE_ZSET, &[1, 1, b'a', 253])), "Zset with NAN score detected");
        let mut nan = vec![1, 1, b'a'];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(load_err(&with(TYPE_ZSET_2, &nan)), "Zset with NAN score detected");
        let mut dup_lp = Vec::new();
        put_string(&mut dup_lp, &listpack_of(&[b"f", b"1", b"f", b"2"]), false);
        assert_eq!(load_err(&with(TYPE_HASH_LISTPACK, &dup_lp)), "Duplicate hash fields detected");
        let mut odd_lp = Vec::new();
        put_string(&mut odd_lp, &listpack_of(&[b"f", b"1", b"g"]), false);
        assert!(load_all(&with(TYPE_HASH_LISTPACK, &odd_lp)).is_err());
        let mut bad_intset = Vec::new();
        put_string(&mut bad_intset, &intset_encode(&[3, 2]), false);
        assert!(load_all(&with(TYPE_SET_INTSET, &bad_intset)).is_err());
        let mut bad_container = vec![1, 3];
        put_string(&mut bad_container, b"x", false);
        assert!(load_all(&with(TYPE_LIST_QUICKLIST_2, &bad_container)).is_err());
        // Empty collections are skipped, not loaded and not refused.
        for (t, v) in [(TYPE_LIST, vec![0]), (TYPE_SET, vec![0]), (TYPE_HASH, vec![0]), (TYPE_ZSET_2, vec![0])] {
            assert!(entries(load_all(&with(t, &v)).unwrap()).is_empty());
        }
        let mut empty_lp = Vec::new();
        put_string(&mut empty_lp, &listpack_of(&[]), false);
        assert!(entries(load_all(&with(TYPE_HASH_LISTPACK, &empty_lp)).unwrap()).is_empty());
    }

    #[test]
    fn hostile_lengths_fail_without_allocating() {
        let with = |t: u8, value: &[u8]| {
            let mut b = Vec::new();
            key_entry(&mut b, t, "k");
            b.extend_from_slice(value);
            b
        };
        let huge = [0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        for t in [TYPE_STRING, TYPE_LIST, TYPE_SET, TYPE_HASH, TYPE_ZSET_2, TYPE_LIST_QUICKLIST_2] {
            let mut b = with(t, &huge);
            b.extend_from_slice(&[1, 2, 3]);
            assert!(load_all(&b).is_err());
            let mut f = b"REDIS0010".to_vec();
            f.extend_from_slice(&b);
            assert_eq!(load_err(&f), "Unexpected EOF reading RDB file");
        }
        // An LZF string claiming a huge decompressed length.
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&with(TYPE_STRING, &[0xC3, 2, 0x81, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, b'a']));
        assert_eq!(load_err(&f), "Invalid LZF compressed string");
    }

    #[test]
    fn corruption_never_panics() {
        let body = every_type_body();
        let file = file_of("0011", &body);
        assert!(file.len() > 300 && file.len() < 1000, "{}", file.len());
        assert!(load_all(&file).is_ok());
        for cut in 0..file.len() {
            assert!(load_all(&file[..cut]).is_err(), "truncated at {cut}");
        }
        // Flips with the checksum zeroed, so the parser sees the damage.
        let mut unchecked = file.clone();
        let n = unchecked.len();
        unchecked[n - 8..].fill(0);
        for i in 0..n - 9 {
            for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
                let mut f = unchecked.clone();
                f[i] ^= mask;
                let _ = load_all(&f);
                if i >= 9 {
                    let mut b = f[..n - 9].to_vec();
                    b.push(0x5a);
                    let _ = load_all(&b);
                }
            }
        }
        // With the checksum on, any flip is detected (or breaks parsing).
        for i in 9..n {
            let mut f = file.clone();
            f[i] ^= 0x10;
            assert!(load_all(&f).is_err(), "flip at {i}");
        }
    }
}
