//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO and LCS over TCP.
//!
//! Every scenario runs against moonkv and, when it is installed, against a real
//! redis-server with the same assertions, so the expected replies are Redis's own.
//! A seeded random workload then compares the two servers' raw replies byte for byte.

mod common;

use common::{Raw, Server};
use redis::{Connection, FromRedisValue, Value};

/// Runs `scenario` on a fresh moonkv and, if installed, on a fresh redis-server.
fn on_both(scenario: impl Fn(&mut Connection)) {
    let moonkv = Server::start(&[]);
    scenario(&mut moonkv.conn());
    if let Some(redis) = Server::start_redis(&[]) {
        scenario(&mut redis.conn());
    }
}

/// Runs a command given as words and converts its reply.
fn q<T: FromRedisValue>(con: &mut Connection, words: &[&str]) -> T {
    let mut c = redis::cmd(words[0]);
    for w in &words[1..] {
        c.arg(*w);
    }
    c.query(con).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

/// Runs a command given as byte strings and converts its reply.
fn qb<T: FromRedisValue>(con: &mut Connection, args: &[&[u8]]) -> T {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

/// Runs a command that must fail and returns the full error line (`CODE message`).
fn err(con: &mut Connection, words: &[&str]) -> String {
    let mut c = redis::cmd(words[0]);
    for w in &words[1..] {
        c.arg(*w);
    }
    let e = c.query::<Value>(con).expect_err(&format!("{words:?} should fail"));
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_ERR: &str = "ERR bit is not an integer or out of range";
const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[test]
fn setbit_and_getbit() {
    on_both(|con| {
        assert_eq!(q::<i64>(con, &["SETBIT", "k", "7", "1"]), 0);
        assert_eq!(q::<Vec<u8>>(con, &["GET", "k"]), b"\x01");
        assert_eq!(q::<i64>(con, &["SETBIT", "k", "7", "1"]), 1);
        assert_eq!(q::<i64>(con, &["SETBIT", "k", "7", "0"]), 1);
        assert_eq!(q::<i64>(con, &["SETBIT", "k", "100", "1"]), 0);
        assert_eq!(q::<i64>(con, &["STRLEN", "k"]), 13, "grown with zero bytes");
        assert_eq!(q::<i64>(con, &["GETBIT", "k", "100"]), 1);
        assert_eq!(q::<i64>(con, &["GETBIT", "k", "101"]), 0);
        assert_eq!(q::<i64>(con, &["GETBIT", "k", "100000"]), 0, "past the end");
        assert_eq!(q::<i64>(con, &["GETBIT", "missing", "3"]), 0);
        assert_eq!(q::<String>(con, &["OBJECT", "ENCODING", "k"]), "raw");

        // Clearing a bit of a missing key still creates it.
        assert_eq!(q::<i64>(con, &["SETBIT", "z", "9", "0"]), 0);
        assert_eq!(q::<Vec<u8>>(con, &["GET", "z"]), b"\x00\x00");

        // An int-encoded string is a bit array of its digits and becomes raw.
        q::<()>(con, &["SET", "n", "12"]);
        assert_eq!(q::<i64>(con, &["GETBIT", "n", "2"]), 1, "'1' is 0x31");
        assert_eq!(q::<i64>(con, &["SETBIT", "n", "0", "1"]), 0);
        assert_eq!(q::<Vec<u8>>(con, &["GET", "n"]), b"\xb12");
        assert_eq!(q::<String>(con, &["OBJECT", "ENCODING", "n"]), "raw");

        // A TTL survives in-place changes.
        q::<()>(con, &["EXPIRE", "n", "100"]);
        q::<i64>(con, &["SETBIT", "n", "1", "1"]);
        assert!(q::<i64>(con, &["TTL", "n"]) > 0);

        for bad in ["-1", "4294967296", "abc", "#1", "1.5", ""] {
            assert_eq!(err(con, &["SETBIT", "k", bad, "1"]), OFFSET_ERR, "offset {bad:?}");
            assert_eq!(err(con, &["GETBIT", "k", bad]), OFFSET_ERR, "offset {bad:?}");
        }
        for bad in ["2", "-1", "x", "01"] {
            assert_eq!(err(con, &["SETBIT", "k", "0", bad]), BIT_ERR, "value {bad:?}");
        }
        // The offset is checked first.
        assert_eq!(err(con, &["SETBIT", "k", "-1", "2"]), OFFSET_ERR);
        assert_eq!(err(con, &["SETBIT", "k"]), "ERR wrong number of arguments for 'setbit' command");
    });
}

/// Changes counted by a command (INFO `rdb_changes_since_last_save`), which also
/// decides whether a write is propagated.
fn changes_by(con: &mut Connection, words: &[&str]) -> i64 {
    let counter = |con: &mut Connection| -> i64 {
        let info = q::<String>(con, &["INFO", "persistence"]);
        let line = info.lines().find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"));
        line.expect("rdb_changes_since_last_save in INFO").trim().parse().expect("a number")
    };
    let before = counter(con);
    q::<Value>(con, words);
    counter(con) - before
}

#[test]
fn writes_that_change_nothing_are_not_counted() {
    on_both(|con| {
        assert_eq!(changes_by(con, &["SETBIT", "k", "5", "1"]), 1, "created");
        assert_eq!(changes_by(con, &["SETBIT", "k", "5", "1"]), 0, "same bit");
        assert_eq!(changes_by(con, &["SETBIT", "k", "5", "0"]), 1, "flipped");
        assert_eq!(changes_by(con, &["SETBIT", "k", "100", "0"]), 1, "grown");
        assert_eq!(
            changes_by(con, &["BITFIELD", "b", "SET", "u8", "0", "1", "GET", "u8", "0", "INCRBY", "u8", "0", "1"]),
            2
        );
        assert_eq!(changes_by(con, &["BITFIELD", "b", "SET", "u8", "0", "2", "INCRBY", "u8", "0", "0"]), 0);
        assert_eq!(changes_by(con, &["BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"]), 0);
        assert_eq!(changes_by(con, &["BITFIELD", "b", "SET", "u8", "100", "0"]), 1, "grown");
        assert_eq!(changes_by(con, &["BITFIELD_RO", "b", "GET", "u8", "0"]), 0);
        assert_eq!(changes_by(con, &["BITOP", "OR", "d", "k"]), 1);
        assert_eq!(changes_by(con, &["BITOP", "OR", "d", "nokey"]), 1, "deleted");
        assert_eq!(changes_by(con, &["BITOP", "OR", "d", "nokey"]), 0, "nothing to delete");
    });
}

#[test]
fn offsets_are_bounded_by_proto_max_bulk_len() {
    on_both(|con| {
        q::<()>(con, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
        // 1mb = 1048576 bytes = 8388608 bits: the last addressable bit is 8388607.
        assert_eq!(err(con, &["SETBIT", "big", "8388608", "1"]), OFFSET_ERR);
        assert_eq!(err(con, &["BITFIELD", "big", "SET", "u8", "8388608", "1"]), OFFSET_ERR);
        assert_eq!(err(con, &["BITFIELD", "big", "GET", "u8", "#1048576"]), OFFSET_ERR);
        assert_eq!(q::<i64>(con, &["EXISTS", "big"]), 0, "refused before creating anything");
        assert_eq!(q::<i64>(con, &["SETBIT", "big", "8388607", "1"]), 0);
        assert_eq!(q::<i64>(con, &["STRLEN", "big"]), 1048576);
        // A field may start at the last bit and run past the limit, as in Redis.
        assert_eq!(q::<Vec<i64>>(con, &["BITFIELD", "big2", "SET", "u8", "8388607", "1"]), [0]);
        assert_eq!(q::<i64>(con, &["STRLEN", "big2"]), 1048577);
        q::<()>(con, &["CONFIG", "SET", "proto-max-bulk-len", "512mb"]);
        // The default limit: 512mb = 2^32 bits. Nothing is allocated for a refusal.
        assert_eq!(err(con, &["SETBIT", "huge", "4294967296", "1"]), OFFSET_ERR);
        assert_eq!(err(con, &["SETBIT", "huge", "9223372036854775807", "1"]), OFFSET_ERR);
        assert_eq!(err(con, &["SETBIT", "huge", "9223372036854775808", "1"]), OFFSET_ERR);
        assert_eq!(err(con, &["BITFIELD", "huge", "GET", "i64", "#67108864"]), OFFSET_ERR);
        assert_eq!(err(con, &["BITFIELD", "huge", "GET", "i64", "#-1"]), OFFSET_ERR);
        assert_eq!(q::<Vec<i64>>(con, &["BITFIELD", "huge", "GET", "i64", "#67108863"]), [0]);
        assert_eq!(q::<i64>(con, &["EXISTS", "huge"]), 0);
    });
}

#[test]
fn bitcount_ranges() {
    on_both(|con| {
        q::<()>(con, &["SET", "s", "foobar"]);
        let count = |con: &mut Connection, args: &[&str]| {
            let mut words = vec!["BITCOUNT", "s"];
            words.extend_from_slice(args);
            q::<i64>(con, &words)
        };
        assert_eq!(count(con, &[]), 26);
        assert_eq!(count(con, &["0", "0"]), 4);
        assert_eq!(count(con, &["1", "1"]), 6);
        assert_eq!(count(con, &["1", "1", "BYTE"]), 6);
        assert_eq!(count(con, &["1", "1", "byte"]), 6);
        assert_eq!(count(con, &["5", "30", "BIT"]), 17);
        assert_eq!(count(con, &["0", "-1", "bit"]), 26);
        assert_eq!(count(con, &["-1", "-1"]), 4);
        assert_eq!(count(con, &["-100", "100"]), 26);
        assert_eq!(count(con, &["4", "2"]), 0);
        assert_eq!(count(con, &["6", "10"]), 0);
        assert_eq!(count(con, &["-3", "-5"]), 0);
        assert_eq!(count(con, &["47", "47", "BIT"]), 0);
        assert_eq!(count(con, &["46", "46", "BIT"]), 1);

        q::<()>(con, &["SET", "sh", "ab"]);
        // Both ends negative and crossed: 0, although clamping would meet at 0.
        assert_eq!(q::<i64>(con, &["BITCOUNT", "sh", "-3", "-5"]), 0);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "sh", "-5", "-3"]), 3);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "sh", "-20", "-10", "BIT"]), 2);

        q::<()>(con, &["SET", "e", ""]);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "e"]), 0);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "e", "0", "-1"]), 0);
        q::<()>(con, &["SET", "n", "-1"]);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "n"]), 7, "'-' and '1'");

        // A missing key answers 0 before its arguments are looked at (Redis 7.0).
        assert_eq!(q::<i64>(con, &["BITCOUNT", "missing"]), 0);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "missing", "a", "b"]), 0);
        assert_eq!(q::<i64>(con, &["BITCOUNT", "missing", "1"]), 0);

        assert_eq!(err(con, &["BITCOUNT", "s", "1"]), "ERR syntax error");
        assert_eq!(err(con, &["BITCOUNT", "s", "0", "1", "foo"]), "ERR syntax error");
        assert_eq!(err(con, &["BITCOUNT", "s", "0", "1", "byte", "x"]), "ERR syntax error");
        assert_eq!(err(con, &["BITCOUNT", "s", "a", "1"]), "ERR value is not an integer or out of range");
        assert_eq!(err(con, &["BITCOUNT", "s", "0", "x", "foo"]), "ERR value is not an integer or out of range");
    });
}

#[test]
fn bitpos_ranges() {
    on_both(|con| {
        qb::<()>(con, &[b"SET", b"p", b"\xff\xf0\x00"]);
        let pos = |con: &mut Connection, args: &[&str]| {
            let mut words = vec!["BITPOS", "p"];
            words.extend_from_slice(args);
            q::<i64>(con, &words)
        };
        assert_eq!(pos(con, &["0"]), 12);
        assert_eq!(pos(con, &["1"]), 0);
        assert_eq!(pos(con, &["1", "1"]), 8);
        assert_eq!(pos(con, &["1", "2"]), -1);
        assert_eq!(pos(con, &["0", "2"]), 16);
        assert_eq!(pos(con, &["1", "-1"]), -1);
        assert_eq!(pos(con, &["1", "-2", "-1"]), 8);
        assert_eq!(pos(con, &["1", "12", "-1", "BIT"]), -1);
        assert_eq!(pos(con, &["1", "3", "-1", "BIT"]), 3);
        assert_eq!(pos(con, &["0", "3", "-1", "bit"]), 12);
        assert_eq!(pos(con, &["0", "0", "0", "byte"]), -1);
        assert_eq!(pos(con, &["1", "5", "3", "BIT"]), -1, "crossed range");
        assert_eq!(pos(con, &["1", "10", "20"]), -1, "start past the end");

        // No clear bit: past the string without an end, -1 with an explicit end.
        qb::<()>(con, &[b"SET", b"ff", b"\xff\xff"]);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0"]), 16);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0", "1"]), 16);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0", "-1"]), 16);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0", "0", "-1"]), -1);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0", "0", "100", "BIT"]), -1);
        assert_eq!(q::<i64>(con, &["BITPOS", "ff", "0", "5"]), -1);

        // BITPOS has no special case for crossed negative ends: both clamp to 0.
        q::<()>(con, &["SET", "sh", "ab"]);
        assert_eq!(q::<i64>(con, &["BITPOS", "sh", "1", "-3", "-5"]), 1);
        assert_eq!(q::<i64>(con, &["BITPOS", "sh", "0", "-5", "-3", "BIT"]), 11);
        assert_eq!(q::<i64>(con, &["BITPOS", "sh", "0", "-3", "-5", "BIT"]), -1);

        q::<()>(con, &["SET", "e", ""]);
        assert_eq!(q::<i64>(con, &["BITPOS", "e", "0"]), -1);
        assert_eq!(q::<i64>(con, &["BITPOS", "e", "1"]), -1);

        // A missing key is an endless run of zeros, whatever the range arguments.
        assert_eq!(q::<i64>(con, &["BITPOS", "missing", "0"]), 0);
        assert_eq!(q::<i64>(con, &["BITPOS", "missing", "1"]), -1);
        assert_eq!(q::<i64>(con, &["BITPOS", "missing", "1", "a"]), -1);

        let bit_err = "ERR The bit argument must be 1 or 0.";
        assert_eq!(err(con, &["BITPOS", "p", "2"]), bit_err);
        assert_eq!(err(con, &["BITPOS", "missing", "-1"]), bit_err);
        assert_eq!(err(con, &["BITPOS", "p", "x"]), "ERR value is not an integer or out of range");
        assert_eq!(err(con, &["BITPOS", "p", "1", "a"]), "ERR value is not an integer or out of range");
        assert_eq!(err(con, &["BITPOS", "p", "1", "0", "1", "foo"]), "ERR syntax error");
        // The unit is read before the end.
        assert_eq!(err(con, &["BITPOS", "p", "1", "0", "x", "foo"]), "ERR syntax error");
        assert_eq!(err(con, &["BITPOS", "p", "1", "0", "1", "bit", "x"]), "ERR syntax error");
    });
}

#[test]
fn bitop_operations() {
    on_both(|con| {
        qb::<()>(con, &[b"SET", b"a", b"\x0f\xf0"]);
        qb::<()>(con, &[b"SET", b"b", b"\xff"]);
        let op = |con: &mut Connection, words: &[&str]| -> (i64, Vec<u8>) {
            let n = q::<i64>(con, words);
            (n, q::<Vec<u8>>(con, &["GET", "d"]))
        };
        assert_eq!(op(con, &["BITOP", "AND", "d", "a", "b"]), (2, b"\x0f\x00".to_vec()));
        assert_eq!(op(con, &["BITOP", "or", "d", "a", "b"]), (2, b"\xff\xf0".to_vec()));
        assert_eq!(op(con, &["BITOP", "Xor", "d", "a", "b"]), (2, b"\xf0\xf0".to_vec()));
        assert_eq!(op(con, &["BITOP", "NOT", "d", "a"]), (2, b"\xf0\x0f".to_vec()));
        assert_eq!(op(con, &["BITOP", "XOR", "d", "a", "a", "b"]), (2, b"\xff\x00".to_vec()));
        assert_eq!(op(con, &["BITOP", "AND", "d", "b", "a"]), (2, b"\x0f\x00".to_vec()));
        // Missing sources are empty strings.
        assert_eq!(op(con, &["BITOP", "AND", "d", "a", "nokey"]), (2, b"\x00\x00".to_vec()));
        assert_eq!(op(con, &["BITOP", "OR", "d", "nokey", "b"]), (1, b"\xff".to_vec()));
        assert_eq!(q::<String>(con, &["OBJECT", "ENCODING", "d"]), "raw");
        // The destination may be a source; integers are read as their digits.
        q::<()>(con, &["SET", "i", "12"]);
        assert_eq!(op(con, &["BITOP", "OR", "d", "d", "i"]), (2, b"\xff2".to_vec()));

        // The result replaces the destination like SET: the TTL goes.
        q::<()>(con, &["EXPIRE", "d", "100"]);
        assert_eq!(q::<i64>(con, &["BITOP", "OR", "d", "a"]), 2);
        assert_eq!(q::<i64>(con, &["TTL", "d"]), -1);

        // An empty result deletes the destination.
        assert_eq!(q::<i64>(con, &["BITOP", "AND", "d", "nokey1", "nokey2"]), 0);
        assert_eq!(q::<i64>(con, &["EXISTS", "d"]), 0);
        q::<()>(con, &["SET", "e", ""]);
        assert_eq!(q::<i64>(con, &["BITOP", "NOT", "e", "e"]), 0);
        assert_eq!(q::<i64>(con, &["EXISTS", "e"]), 0);

        assert_eq!(err(con, &["BITOP", "NAND", "d", "a"]), "ERR syntax error");
        assert_eq!(
            err(con, &["BITOP", "NOT", "d", "a", "b"]),
            "ERR BITOP NOT must be called with a single source key."
        );
        assert_eq!(err(con, &["BITOP", "NOT", "d"]), "ERR wrong number of arguments for 'bitop' command");
    });
}

#[test]
fn bitfield_get_set_incrby() {
    on_both(|con| {
        let bf = |con: &mut Connection, words: &[&str]| q::<Vec<Option<i64>>>(con, words);
        assert_eq!(bf(con, &["BITFIELD", "k", "GET", "u8", "0", "GET", "i64", "100"]), [Some(0), Some(0)]);
        assert_eq!(q::<i64>(con, &["EXISTS", "k"]), 0, "GETs alone create nothing");
        assert_eq!(bf(con, &["BITFIELD", "k"]), Vec::<Option<i64>>::new());
        assert_eq!(bf(con, &["BITFIELD", "k", "OVERFLOW", "WRAP"]), Vec::<Option<i64>>::new());

        assert_eq!(
            bf(
                con,
                &["BITFIELD", "k", "SET", "u8", "#1", "255", "GET", "u8", "8", "GET", "i8", "8", "GET", "u4", "10"]
            ),
            [Some(0), Some(255), Some(-1), Some(15)]
        );
        assert_eq!(q::<Vec<u8>>(con, &["GET", "k"]), b"\x00\xff");
        assert_eq!(
            bf(con, &["BITFIELD", "k", "GET", "u16", "12", "GET", "i64", "0"]),
            [Some(0xF000), Some(0x00FF << 48)]
        );
        assert_eq!(
            bf(con, &["BITFIELD", "k", "INCRBY", "u1", "7", "1", "INCRBY", "i1", "6", "1", "INCRBY", "i1", "6", "-1"]),
            [Some(1), Some(-1), Some(0)]
        );
        assert_eq!(q::<String>(con, &["OBJECT", "ENCODING", "k"]), "raw");

        // SET replies with the old value; out-of-range values per OVERFLOW mode.
        assert_eq!(
            bf(
                con,
                &[
                    "BITFIELD",
                    "w",
                    "SET",
                    "i8",
                    "0",
                    "200",
                    "SET",
                    "i8",
                    "0",
                    "-200",
                    "OVERFLOW",
                    "SAT",
                    "SET",
                    "i8",
                    "8",
                    "200",
                    "SET",
                    "i8",
                    "8",
                    "-200",
                    "SET",
                    "u8",
                    "16",
                    "-1",
                    "OVERFLOW",
                    "WRAP",
                    "SET",
                    "u8",
                    "24",
                    "-1",
                    "SET",
                    "u63",
                    "32",
                    "-1",
                    "OVERFLOW",
                    "FAIL",
                    "SET",
                    "u8",
                    "0",
                    "-1",
                    "SET",
                    "u63",
                    "0",
                    "-1",
                    "SET",
                    "i64",
                    "0",
                    "-9223372036854775808",
                ]
            ),
            [Some(0), Some(-56), Some(0), Some(127), Some(0), Some(0), Some(0), None, None, Some(4071535538119639039)]
        );
        // The last SET wrote i64::MIN over bits 0..63: the u63 at 32 keeps its 31 low ones.
        assert_eq!(
            bf(con, &["BITFIELD", "w", "GET", "u8", "16", "GET", "u63", "32"]),
            [Some(0), Some(i32::MAX as i64)]
        );

        // Redis computes a signed SET's `max - value` in 64 bits; it wraps for values
        // near i64::MIN, which SAT then clamps to the maximum instead of the minimum.
        assert_eq!(
            bf(
                con,
                &[
                    "BITFIELD",
                    "q",
                    "OVERFLOW",
                    "SAT",
                    "SET",
                    "i8",
                    "0",
                    "-9223372036854775681",
                    "GET",
                    "i8",
                    "0",
                    "SET",
                    "i8",
                    "0",
                    "-9223372036854775680",
                    "GET",
                    "i8",
                    "0",
                ]
            ),
            [Some(0), Some(127), Some(127), Some(-128)]
        );
    });
}

#[test]
fn bitfield_i64_overflow_in_each_mode() {
    on_both(|con| {
        let r = q::<Vec<Option<i64>>>(
            con,
            &[
                "BITFIELD",
                "k",
                "SET",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "1",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "1",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "i64",
                "0",
                "1",
                "GET",
                "i64",
                "0",
                "OVERFLOW",
                "WRAP",
                "INCRBY",
                "i64",
                "0",
                "-9223372036854775808",
                "INCRBY",
                "i64",
                "0",
                "-9223372036854775808",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "-9223372036854775808",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "i64",
                "0",
                "-1",
            ],
        );
        let min = i64::MIN;
        assert_eq!(
            r,
            [
                Some(0),
                Some(min),
                Some(min + 1),
                Some(min),
                Some(min + 1),
                Some(min + 1),
                Some(1),
                Some(min + 1),
                Some(min),
                Some(min),
                None
            ]
        );
    });
}

#[test]
fn bitfield_u63_overflow_in_each_mode() {
    on_both(|con| {
        let r = q::<Vec<Option<i64>>>(
            con,
            &[
                "BITFIELD",
                "k",
                "SET",
                "u63",
                "0",
                "9223372036854775807",
                "INCRBY",
                "u63",
                "0",
                "1",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "u63",
                "0",
                "9223372036854775807",
                "INCRBY",
                "u63",
                "0",
                "-9223372036854775808",
                "INCRBY",
                "u63",
                "0",
                "-1",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "u63",
                "0",
                "-1",
                "OVERFLOW",
                "WRAP",
                "INCRBY",
                "u63",
                "0",
                "-1",
                "INCRBY",
                "u63",
                "0",
                "-9223372036854775808",
                "OVERFLOW",
                "SAT",
                "SET",
                "u63",
                "0",
                "-5",
                "INCRBY",
                "u63",
                "0",
                "9223372036854775807",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "u63",
                "0",
                "1",
            ],
        );
        let max = i64::MAX;
        assert_eq!(
            r,
            [Some(0), Some(0), Some(max), Some(0), Some(0), None, Some(max), Some(max), Some(max), Some(max), None]
        );
        // Small unsigned fields saturate at both ends.
        assert_eq!(
            q::<Vec<Option<i64>>>(
                con,
                &["BITFIELD", "s", "OVERFLOW", "SAT", "INCRBY", "u2", "0", "10", "INCRBY", "u2", "0", "-10"]
            ),
            [Some(3), Some(0)]
        );
    });
}

#[test]
fn bitfield_fail_still_creates_the_key() {
    on_both(|con| {
        assert_eq!(
            q::<Vec<Option<i64>>>(con, &["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"]),
            [None]
        );
        assert_eq!(q::<Vec<u8>>(con, &["GET", "k"]), b"\x00");
    });
}

#[test]
fn bitfield_errors() {
    on_both(|con| {
        for (words, expected) in [
            (&["BITFIELD", "k", "OVERFLOW", "foo", "GET", "u8", "0"][..], "ERR Invalid OVERFLOW type specified"),
            (&["BITFIELD", "k", "OVERFLOW"], "ERR syntax error"),
            (&["BITFIELD", "k", "GET", "u8"], "ERR syntax error"),
            (&["BITFIELD", "k", "SET", "u8", "0"], "ERR syntax error"),
            (&["BITFIELD", "k", "INCRBY", "u8", "0"], "ERR syntax error"),
            (&["BITFIELD", "k", "foo"], "ERR syntax error"),
            (&["BITFIELD", "k", "GET", "u64", "0"], TYPE_ERR),
            (&["BITFIELD", "k", "GET", "i65", "0"], TYPE_ERR),
            (&["BITFIELD", "k", "GET", "u0", "0"], TYPE_ERR),
            (&["BITFIELD", "k", "GET", "x8", "0"], TYPE_ERR),
            (&["BITFIELD", "k", "GET", "", "0"], TYPE_ERR),
            (&["BITFIELD", "k", "GET", "u8", "x"], OFFSET_ERR),
            (&["BITFIELD", "k", "GET", "u8", "#1x"], OFFSET_ERR),
            (&["BITFIELD", "k", "GET", "u8", "-1"], OFFSET_ERR),
            (&["BITFIELD", "k", "SET", "u8", "0", "x"], "ERR value is not an integer or out of range"),
            (&["BITFIELD", "k", "INCRBY", "u8", "0", "1.5"], "ERR value is not an integer or out of range"),
            // The earliest error wins, even after valid subcommands.
            (&["BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u99", "0"], TYPE_ERR),
        ] {
            assert_eq!(err(con, words), expected, "{words:?}");
        }
        assert_eq!(q::<i64>(con, &["EXISTS", "k"]), 0, "errors change nothing");
    });
}

#[test]
fn bitfield_ro_only_reads() {
    on_both(|con| {
        qb::<()>(con, &[b"SET", b"k", b"\x80\x01"]);
        assert_eq!(
            q::<Vec<i64>>(con, &["BITFIELD_RO", "k", "GET", "i8", "0", "GET", "u8", "#1", "GET", "u4", "100"]),
            [-128, 1, 0]
        );
        assert_eq!(q::<Vec<i64>>(con, &["BITFIELD_RO", "k"]), Vec::<i64>::new());
        assert_eq!(q::<Vec<i64>>(con, &["BITFIELD_RO", "k", "OVERFLOW", "FAIL", "GET", "u1", "0"]), [1]);
        let ro = "ERR BITFIELD_RO only supports the GET subcommand";
        assert_eq!(err(con, &["BITFIELD_RO", "k", "SET", "u8", "0", "1"]), ro);
        assert_eq!(err(con, &["BITFIELD_RO", "k", "GET", "u8", "0", "INCRBY", "u8", "0", "1"]), ro);
        // Arguments are parsed before the read-only check.
        assert_eq!(
            err(con, &["BITFIELD_RO", "k", "SET", "u8", "0", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(err(con, &["BITFIELD_RO", "k", "GET", "u8", "0", "GET", "u8", "foo"]), OFFSET_ERR);
        assert_eq!(q::<Vec<u8>>(con, &["GET", "k"]), b"\x80\x01");
    });
}

#[test]
fn lcs_variants() {
    on_both(|con| {
        q::<()>(con, &["MSET", "a", "ohmytext", "b", "mynewtext"]);
        assert_eq!(q::<String>(con, &["LCS", "a", "b"]), "mytext");
        assert_eq!(q::<i64>(con, &["LCS", "a", "b", "LEN"]), 6);
        assert_eq!(q::<String>(con, &["LCS", "a", "missing"]), "");
        assert_eq!(q::<i64>(con, &["LCS", "missing", "missing2", "len"]), 0);
        q::<()>(con, &["SET", "n", "1234"]);
        q::<()>(con, &["SET", "m", "x23y"]);
        assert_eq!(q::<String>(con, &["LCS", "n", "m"]), "23");

        let int = |n: i64| Value::Int(n);
        let pair = |s: i64, e: i64| Value::Array(vec![int(s), int(e)]);
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let idx = |matches: Vec<Value>, len: i64| {
            Value::Array(vec![bulk("matches"), Value::Array(matches), bulk("len"), int(len)])
        };
        assert_eq!(
            q::<Value>(con, &["LCS", "a", "b", "IDX"]),
            idx(vec![Value::Array(vec![pair(4, 7), pair(5, 8)]), Value::Array(vec![pair(2, 3), pair(0, 1)])], 6)
        );
        assert_eq!(
            q::<Value>(con, &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
            idx(vec![Value::Array(vec![pair(4, 7), pair(5, 8), int(4)])], 6)
        );
        assert_eq!(
            q::<Value>(con, &["LCS", "a", "b", "idx", "withmatchlen", "minmatchlen", "-3"]),
            idx(
                vec![
                    Value::Array(vec![pair(4, 7), pair(5, 8), int(4)]),
                    Value::Array(vec![pair(2, 3), pair(0, 1), int(2)])
                ],
                6
            )
        );
        assert_eq!(q::<Value>(con, &["LCS", "a", "missing", "IDX"]), idx(vec![], 0));
        // MINMATCHLEN and WITHMATCHLEN without IDX are accepted and ignored.
        assert_eq!(q::<String>(con, &["LCS", "a", "b", "MINMATCHLEN", "5", "WITHMATCHLEN"]), "mytext");

        assert_eq!(
            err(con, &["LCS", "a", "b", "LEN", "IDX"]),
            "ERR If you want both the length and indexes, please just use IDX."
        );
        assert_eq!(err(con, &["LCS", "a", "b", "foo"]), "ERR syntax error");
        assert_eq!(err(con, &["LCS", "a", "b", "MINMATCHLEN"]), "ERR syntax error");
        assert_eq!(err(con, &["LCS", "a", "b", "MINMATCHLEN", "x"]), "ERR value is not an integer or out of range");
        assert_eq!(err(con, &["LCS", "a"]), "ERR wrong number of arguments for 'lcs' command");
    });
}

#[test]
fn lcs_table_is_bounded_by_proto_max_bulk_len() {
    on_both(|con| {
        q::<()>(con, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
        // (511+1)^2 cells of 4 bytes is exactly 1mb: allowed; one more is not.
        let s511 = "x".repeat(511);
        let s512 = "x".repeat(512);
        q::<()>(con, &["MSET", "a", &s511, "b", &s511, "c", &s512]);
        assert_eq!(q::<i64>(con, &["LCS", "a", "b", "LEN"]), 511);
        assert_eq!(
            err(con, &["LCS", "a", "c", "LEN"]),
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        );
    });
}

/// LCS IDX is a map in RESP3; the raw bytes must match Redis's.
#[test]
fn lcs_idx_resp3_map() {
    let expected = "%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n";
    let moonkv = Server::start(&[]);
    let mut servers = vec![moonkv.raw()];
    let redis = Server::start_redis(&[]);
    servers.extend(redis.as_ref().map(|r| r.raw()));
    for raw in &mut servers {
        raw.cmd("HELLO 3");
        raw.cmd("MSET a ohmytext b mynewtext");
        let reply = raw.cmd("LCS a b IDX MINMATCHLEN 3 WITHMATCHLEN");
        assert_eq!(String::from_utf8_lossy(&reply), expected);
        assert_eq!(raw.cmd("BITFIELD k OVERFLOW FAIL SET u1 0 2"), b"*1\r\n_\r\n");
    }
}

// ---------------------------------------------------------------------------------
// Differential workload against a real redis-server
// ---------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn int(&mut self, lo: i64, hi: i64) -> String {
        (lo + self.below((hi - lo + 1) as u64) as i64).to_string()
    }

    /// A BITFIELD value: small, or near the ends of the 64-bit range.
    fn value(&mut self) -> String {
        match self.below(4) {
            0 => self.int(-300, 300),
            1 => (i64::MAX - self.below(3) as i64).to_string(),
            2 => (i64::MIN + self.below(3) as i64).to_string(),
            _ => (self.next() as i64).to_string(),
        }
    }
}

/// One random command of the family.
fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["k0", "k1", "k2", "k3"];
    let key = rng.pick(&keys).to_string();
    let mut w: Vec<String> = Vec::new();
    match rng.below(9) {
        0 => w.extend(["SETBIT".into(), key, rng.int(0, 80), rng.int(0, 1)]),
        1 => w.extend(["GETBIT".into(), key, rng.int(0, 90)]),
        2 => {
            w.extend(["BITCOUNT".into(), key]);
            if rng.below(4) > 0 {
                w.extend([rng.int(-14, 14), rng.int(-14, 14)]);
                if rng.below(2) == 0 {
                    w.push(rng.pick(&["BIT", "BYTE"]).into());
                }
            }
        }
        3 => {
            w.extend(["BITPOS".into(), key, rng.int(0, 1)]);
            let n = rng.below(5);
            if n >= 1 {
                w.push(rng.int(-20, 20));
            }
            if n >= 2 {
                w.push(rng.int(-20, 20));
            }
            if n >= 3 {
                w.push(rng.pick(&["BIT", "BYTE"]).into());
            }
        }
        4 => {
            let op = rng.pick(&["AND", "OR", "XOR", "NOT"]);
            w.extend(["BITOP".into(), op.into(), key]);
            let n = if op == "NOT" { 1 } else { 1 + rng.below(3) };
            for _ in 0..n {
                w.push(rng.pick(&keys).into());
            }
        }
        5 | 6 => {
            w.extend([rng.pick(&["BITFIELD", "BITFIELD", "BITFIELD_RO"]).into(), key]);
            for _ in 0..1 + rng.below(4) {
                if rng.below(3) == 0 {
                    w.extend(["OVERFLOW".into(), rng.pick(&["WRAP", "SAT", "FAIL"]).into()]);
                }
                let signed = rng.below(2) == 0;
                let bits = 1 + rng.below(if signed { 64 } else { 63 });
                let ty = format!("{}{}", if signed { "i" } else { "u" }, bits);
                let offset = if rng.below(4) == 0 { format!("#{}", rng.below(4)) } else { rng.int(0, 70) };
                match rng.pick(&["GET", "GET", "SET", "INCRBY"]) {
                    "GET" => w.extend(["GET".into(), ty, offset]),
                    op => w.extend([op.into(), ty, offset, rng.value()]),
                }
            }
        }
        7 => {
            w.extend(["LCS".into(), key, rng.pick(&keys).into()]);
            let opts = rng.pick(&["", "LEN", "IDX", "IDX WITHMATCHLEN", "IDX MINMATCHLEN 2"]);
            w.extend(opts.split_whitespace().map(String::from));
        }
        _ => {
            let values = ["", "a", "foobar", "12", "\u{7f}xyz", "0123456789abcdef", "mytext"];
            w.extend(["SET".into(), key, rng.pick(&values).into()]);
        }
    }
    w
}

fn send(raw: &mut Raw, words: &[String]) -> String {
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    String::from_utf8_lossy(&raw.cmd_args(&args)).into_owned()
}

#[test]
fn random_workload_matches_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server not installed: differential workload skipped");
        return;
    };
    let moonkv = Server::start(&[]);
    let (mut ours, mut theirs) = (moonkv.raw(), redis.raw());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..4000 {
        let words = random_command(&mut rng);
        let (a, b) = (send(&mut ours, &words), send(&mut theirs, &words));
        assert_eq!(a, b, "command #{i}: {words:?}");
        // Keep the keys short-lived enough to stay interesting.
        if i % 500 == 499 {
            let flush = ["FLUSHALL".to_string()];
            send(&mut ours, &flush);
            send(&mut theirs, &flush);
        }
    }
    for key in ["k0", "k1", "k2", "k3"] {
        let get = ["GET".to_string(), key.to_string()];
        assert_eq!(send(&mut ours, &get), send(&mut theirs, &get), "final {key}");
    }
}
