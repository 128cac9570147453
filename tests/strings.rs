//! String commands as sequences: SET options and their TTL effects, GETEX, GETDEL,
//! counters and overflow, INCRBYFLOAT formatting, APPEND/SETRANGE growth and the
//! proto-max-bulk-len limit, MSET/MSETNX atomicity and OBJECT ENCODING transitions.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it);
//! single-reply cases live in compat.rs.

mod common;
use common::*;

use std::time::{SystemTime, UNIX_EPOCH};

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64
}

#[test]
fn set_expire_options_set_the_ttl() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "SET k v EX 100"), OK);
    assert!((99..=100).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "SET k v PX 5000"), OK);
    let pttl = int(&mut r, "PTTL k");
    assert!(pttl > 4000 && pttl <= 5000, "pttl {pttl}");
    assert_eq!(c(&mut r, &format!("SET k v EXAT {}", now_secs() + 200)), OK);
    assert!((198..=200).contains(&int(&mut r, "TTL k")));
    // A deadline 700 ms into a second, so rounding and truncating differ.
    let at = (now_ms() / 1000 + 300) * 1000 + 700;
    assert_eq!(c(&mut r, &format!("SET k v PXAT {at}")), OK);
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at as i64);
    // EXPIRETIME rounds to the nearest second, as Redis does.
    assert_eq!(int(&mut r, "EXPIRETIME k"), (at / 1000 + 1) as i64);

    // KEEPTTL keeps the deadline, a plain SET clears it.
    assert_eq!(c(&mut r, "SET k w KEEPTTL"), OK);
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at as i64);
    assert_eq!(c(&mut r, "GET k"), bulk("w"));
    assert_eq!(c(&mut r, "SET k x"), OK);
    assert_eq!(int(&mut r, "TTL k"), -1);

    // A deadline in the past deletes the key.
    assert_eq!(c(&mut r, "SET k v EXAT 1"), OK);
    assert_eq!(int(&mut r, "EXISTS k"), 0);
    assert_eq!(c(&mut r, "SET k v PXAT 1"), OK);
    assert_eq!(int(&mut r, "EXISTS k"), 0);

    // Out-of-range expiries are refused and change nothing.
    assert_eq!(c(&mut r, "SET k v"), OK);
    assert_eq!(c(&mut r, "SET k w EX 0"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(c(&mut r, "SET k w PX -5"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(c(&mut r, "SET k w EX 9223372036854775807"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(c(&mut r, "GET k"), bulk("v"));
    assert_eq!(int(&mut r, "TTL k"), -1);
}

#[test]
fn set_nx_xx_get_combinations() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "SET k v XX"), NIL);
    assert_eq!(int(&mut r, "EXISTS k"), 0);
    assert_eq!(c(&mut r, "SET k v NX"), OK);
    assert_eq!(c(&mut r, "SET k w NX"), NIL);
    assert_eq!(c(&mut r, "GET k"), bulk("v"));
    assert_eq!(c(&mut r, "SET k w XX"), OK);
    assert_eq!(c(&mut r, "GET k"), bulk("w"));

    // GET returns the old value whether or not the condition let the write happen.
    assert_eq!(c(&mut r, "SET k x NX GET"), bulk("w"));
    assert_eq!(c(&mut r, "GET k"), bulk("w"));
    assert_eq!(c(&mut r, "SET k x XX GET"), bulk("w"));
    assert_eq!(c(&mut r, "GET k"), bulk("x"));
    assert_eq!(c(&mut r, "SET n y XX GET"), NIL);
    assert_eq!(int(&mut r, "EXISTS n"), 0);
    assert_eq!(c(&mut r, "SET n y NX GET"), NIL);
    assert_eq!(c(&mut r, "GET n"), bulk("y"));

    // GET together with an expiry.
    assert_eq!(c(&mut r, "SET k z GET EX 50"), bulk("x"));
    assert!((49..=50).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "SET k z2 GET KEEPTTL"), bulk("z"));
    assert!((49..=50).contains(&int(&mut r, "TTL k")));

    // SETNX / SETEX / PSETEX / GETSET.
    assert_eq!(int(&mut r, "SETNX k q"), 0);
    assert_eq!(int(&mut r, "SETNX fresh q"), 1);
    assert_eq!(c(&mut r, "SETEX k 30 e"), OK);
    assert!((29..=30).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "PSETEX k 30000 p"), OK);
    assert!((29..=30).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "GETSET k g"), bulk("p"));
    assert_eq!(int(&mut r, "TTL k"), -1, "GETSET clears the TTL");
    assert_eq!(c(&mut r, "GETSET none g"), NIL);
    assert_eq!(c(&mut r, "GET none"), bulk("g"));
}

#[test]
fn getex_and_getdel() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "GETEX nokey EX 10"), NIL);
    assert_eq!(int(&mut r, "EXISTS nokey"), 0);
    assert_eq!(c(&mut r, "SET k v EX 100"), OK);
    assert_eq!(c(&mut r, "GETEX k"), bulk("v"));
    assert!((99..=100).contains(&int(&mut r, "TTL k")), "GETEX without options keeps the TTL");
    assert_eq!(c(&mut r, "GETEX k PERSIST"), bulk("v"));
    assert_eq!(int(&mut r, "TTL k"), -1);
    assert_eq!(c(&mut r, "GETEX k EX 20"), bulk("v"));
    assert!((19..=20).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "GETEX k PX 40000"), bulk("v"));
    assert!((39..=40).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, &format!("GETEX k EXAT {}", now_secs() + 60)), bulk("v"));
    assert!((58..=60).contains(&int(&mut r, "TTL k")));
    let at = now_ms() + 70_000;
    assert_eq!(c(&mut r, &format!("GETEX k PXAT {at}")), bulk("v"));
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at as i64);

    assert_eq!(c(&mut r, "GETEX k EX 0"), "-ERR invalid expire time in 'getex' command\r\n");
    assert_eq!(c(&mut r, "GETEX k EX 10 PX 10"), "-ERR syntax error\r\n");
    assert_eq!(c(&mut r, "GETEX k KEEPTTL"), "-ERR syntax error\r\n");
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at as i64, "a refused GETEX changes nothing");

    // A deadline in the past deletes the key after returning it.
    assert_eq!(c(&mut r, "GETEX k PXAT 1"), bulk("v"));
    assert_eq!(int(&mut r, "EXISTS k"), 0);

    assert_eq!(c(&mut r, "SET d val EX 100"), OK);
    assert_eq!(c(&mut r, "GETDEL d"), bulk("val"));
    assert_eq!(int(&mut r, "EXISTS d"), 0);
    assert_eq!(c(&mut r, "GETDEL d"), NIL);
}

#[test]
fn counters_and_overflow() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let not_int = "-ERR value is not an integer or out of range\r\n";
    let overflow = "-ERR increment or decrement would overflow\r\n";

    assert_eq!(int(&mut r, "INCR c"), 1);
    assert_eq!(int(&mut r, "INCRBY c 41"), 42);
    assert_eq!(int(&mut r, "DECR c"), 41);
    assert_eq!(int(&mut r, "DECRBY c 50"), -9);
    assert_eq!(int(&mut r, "DECRBY fresh 5"), -5);

    // A counter keeps its TTL.
    assert_eq!(c(&mut r, "SET t 10 EX 100"), OK);
    assert_eq!(int(&mut r, "INCR t"), 11);
    assert!((99..=100).contains(&int(&mut r, "TTL t")));

    assert_eq!(c(&mut r, "SET m 9223372036854775807"), OK);
    assert_eq!(c(&mut r, "INCR m"), overflow);
    assert_eq!(c(&mut r, "INCRBY m 1"), overflow);
    assert_eq!(int(&mut r, "DECRBY m 9223372036854775807"), 0);
    assert_eq!(c(&mut r, "SET m -9223372036854775808"), OK);
    assert_eq!(c(&mut r, "DECR m"), overflow);
    assert_eq!(c(&mut r, "DECRBY m -9223372036854775808"), "-ERR decrement would overflow\r\n");
    assert_eq!(c(&mut r, "INCRBY m 9223372036854775808"), not_int);
    assert_eq!(c(&mut r, "GET m"), bulk("-9223372036854775808"));

    // Only canonical integers count.
    for bad in ["01", " 1", "1 ", "1.0", "abc", "+1", "0x10", "99999999999999999999"] {
        let argv: [&[u8]; 3] = [b"SET", b"b", bad.as_bytes()];
        r.cmd_args(&argv);
        assert_eq!(c(&mut r, "INCR b"), not_int, "INCR on {bad:?}");
    }
    assert_eq!(c(&mut r, "SET b -0"), OK);
    assert_eq!(c(&mut r, "INCR b"), not_int);
}

#[test]
fn incrbyfloat_formatting() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "SET f 10.5"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(c(&mut r, "GET f"), bulk("10.6"));
    assert_eq!(c(&mut r, "SET g 3.0e3"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT g 0"), bulk("3000"));
    assert_eq!(c(&mut r, "SET h 5.0e3"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT h 2.0e2"), bulk("5200"));
    assert_eq!(c(&mut r, "INCRBYFLOAT a 0.1"), bulk("0.1"));
    // Redis computes in long double: 0.1 + 0.2 prints as 0.3, not 0.30000000000000004.
    assert_eq!(c(&mut r, "INCRBYFLOAT a 0.2"), bulk("0.3"));
    assert_eq!(c(&mut r, "INCRBYFLOAT z 1.1"), bulk("1.1"));
    assert_eq!(c(&mut r, "INCRBYFLOAT z -1.1"), bulk("0"));
    assert_eq!(c(&mut r, "INCRBYFLOAT big 1e20"), bulk("100000000000000000000"));
    assert_eq!(c(&mut r, "INCRBYFLOAT small 1e-5"), bulk("0.00001"));
    assert_eq!(c(&mut r, "SET d 1.5"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT d -0.5"), bulk("1"));

    assert_eq!(c(&mut r, "INCRBYFLOAT big inf"), "-ERR increment would produce NaN or Infinity\r\n");
    assert_eq!(c(&mut r, "SET s abc"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT s 1"), "-ERR value is not a valid float\r\n");
    assert_eq!(c(&mut r, "INCRBYFLOAT d abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(c(&mut r, "GET d"), bulk("1"));

    // Keeps the TTL.
    assert_eq!(c(&mut r, "SET t 1 EX 100"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT t 1.5"), bulk("2.5"));
    assert!((99..=100).contains(&int(&mut r, "TTL t")));
}

#[test]
fn append_setrange_growth_and_limits() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

    assert_eq!(int(&mut r, "APPEND a hello"), 5);
    assert_eq!(int(&mut r, "APPEND a _world"), 11);
    assert_eq!(c(&mut r, "GET a"), bulk("hello_world"));
    assert_eq!(int(&mut r, "STRLEN a"), 11);
    // APPEND of nothing still creates the key.
    assert_eq!(r.cmd_args(&[b"APPEND", b"e", b""]), b":0\r\n");
    assert_eq!(int(&mut r, "EXISTS e"), 1);

    // SETRANGE with an empty value never creates a key; past the end it pads with NULs.
    assert_eq!(r.cmd_args(&[b"SETRANGE", b"m", b"0", b""]), b":0\r\n");
    assert_eq!(int(&mut r, "EXISTS m"), 0);
    assert_eq!(int(&mut r, "SETRANGE m 3 ab"), 5);
    assert_eq!(r.cmd("GET m"), b"$5\r\n\0\0\0ab\r\n");
    assert_eq!(int(&mut r, "SETRANGE m 1 XY"), 5);
    assert_eq!(r.cmd("GET m"), b"$5\r\n\0XYab\r\n");
    assert_eq!(r.cmd_args(&[b"SETRANGE", b"m", b"100", b""]), b":5\r\n");
    assert_eq!(c(&mut r, "GETRANGE m 1 2"), bulk("XY"));
    assert_eq!(c(&mut r, "GETRANGE m -2 -1"), bulk("ab"));

    // Grow one string in many steps and check it byte for byte.
    let mut expect = Vec::new();
    for i in 0..200u32 {
        let piece = format!("{i:05}-").repeat(20);
        expect.extend_from_slice(piece.as_bytes());
        let reply = r.cmd_args(&[b"APPEND", b"grow", piece.as_bytes()]);
        assert_eq!(reply, format!(":{}\r\n", expect.len()).into_bytes());
    }
    let mut want = format!("${}\r\n", expect.len()).into_bytes();
    want.extend_from_slice(&expect);
    want.extend_from_slice(b"\r\n");
    assert_eq!(r.cmd("GET grow"), want);

    assert_eq!(c(&mut r, "SETRANGE m 536870912 x"), too_big);
    assert_eq!(c(&mut r, "SETRANGE nokey 536870912 x"), too_big);
    assert_eq!(c(&mut r, "SETRANGE m -1 x"), "-ERR offset is out of range\r\n");
    assert_eq!(c(&mut r, "CONFIG SET proto-max-bulk-len 1mb"), OK);
    assert_eq!(c(&mut r, "SETRANGE m 1048576 x"), too_big);
    assert_eq!(int(&mut r, "SETRANGE m 1048575 x"), 1048576);
    assert_eq!(c(&mut r, "APPEND m x"), too_big);
    assert_eq!(int(&mut r, "STRLEN m"), 1048576);
}

#[test]
fn mset_and_msetnx_are_atomic() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "MSET a 1 b 2 c 3"), OK);
    assert_eq!(c(&mut r, "MGET a b c d"), "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n");
    assert_eq!(c(&mut r, "MSET x 1 y"), "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_eq!(int(&mut r, "EXISTS x"), 0);

    // MSETNX sets nothing when any key exists.
    assert_eq!(int(&mut r, "MSETNX n1 1 n2 2 a 9"), 0);
    assert_eq!(int(&mut r, "EXISTS n1 n2"), 0);
    assert_eq!(c(&mut r, "GET a"), bulk("1"));
    assert_eq!(int(&mut r, "MSETNX n1 1 n2 2"), 1);
    assert_eq!(int(&mut r, "EXISTS n1 n2"), 2);
    // The same new key twice: the last value wins.
    assert_eq!(int(&mut r, "MSETNX dup 1 dup 2"), 1);
    assert_eq!(c(&mut r, "GET dup"), bulk("2"));
    assert_eq!(c(&mut r, "MSET dup 3 dup 4"), OK);
    assert_eq!(c(&mut r, "GET dup"), bulk("4"));

    // MSET replaces values and clears their TTLs.
    assert_eq!(c(&mut r, "SET a 1 EX 100"), OK);
    assert_eq!(c(&mut r, "MSET a 5"), OK);
    assert_eq!(int(&mut r, "TTL a"), -1);

    // Another client never sees half of an MSET.
    let mut reader = s.conn();
    let writer = {
        let mut w = s.raw();
        std::thread::spawn(move || {
            for i in 0..300 {
                let v = i.to_string();
                let reply = w.cmd_args(&[b"MSET", b"p", v.as_bytes(), b"q", v.as_bytes(), b"r", v.as_bytes()]);
                assert_eq!(reply, b"+OK\r\n");
            }
        })
    };
    while !writer.is_finished() {
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(&["p", "q", "r"]).query(&mut reader).expect("MGET");
        assert!(got[0] == got[1] && got[1] == got[2], "torn MSET: {got:?}");
    }
    writer.join().expect("writer");
}

#[test]
fn object_encoding_transitions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let enc = |r: &mut Raw, key: &str| c(r, &format!("OBJECT ENCODING {key}"));

    for (value, want) in [
        ("12345", "int"),
        ("-1", "int"),
        ("9223372036854775807", "int"),
        ("12345678901234567890", "embstr"),
        ("0123", "embstr"),
        ("abc", "embstr"),
        (&"a".repeat(44), "embstr"),
        (&"a".repeat(45), "raw"),
    ] {
        r.cmd_args(&[b"SET", b"e", value.as_bytes()]);
        assert_eq!(enc(&mut r, "e"), bulk(want), "SET e {value}");
    }

    assert_eq!(c(&mut r, "SET n 12345"), OK);
    assert_eq!(int(&mut r, "APPEND n 6"), 6);
    assert_eq!(enc(&mut r, "n"), bulk("raw"), "APPEND makes raw");
    assert_eq!(int(&mut r, "INCR n"), 123457);
    assert_eq!(enc(&mut r, "n"), bulk("int"), "INCR makes int");
    assert_eq!(c(&mut r, "SET s abc"), OK);
    assert_eq!(int(&mut r, "APPEND s d"), 4);
    assert_eq!(enc(&mut r, "s"), bulk("raw"));
    assert_eq!(c(&mut r, "SET s 123"), OK);
    assert_eq!(int(&mut r, "SETRANGE s 0 4"), 3);
    assert_eq!(enc(&mut r, "s"), bulk("raw"), "SETRANGE makes raw");
    // INCRBYFLOAT stores its result as a string even when it looks like an integer.
    assert_eq!(c(&mut r, "SET f 1.5"), OK);
    assert_eq!(c(&mut r, "INCRBYFLOAT f 1.5"), bulk("3"));
    assert_eq!(enc(&mut r, "f"), bulk("embstr"));
    assert_eq!(c(&mut r, "OBJECT ENCODING nokey"), NIL);
}
