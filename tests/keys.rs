//! Keyspace commands as sequences: databases (SELECT, SWAPDB, MOVE, COPY) with TTLs,
//! RENAME, FLUSHDB/FLUSHALL, KEYS patterns, the SCAN guarantee across resizes,
//! SCAN options, RANDOMKEY and the expire family (NX/XX/GT/LT, negative TTLs,
//! PERSIST, TTL/PTTL/EXPIRETIME).
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it).

mod common;
use common::*;

use std::collections::HashSet;

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";

/// KEYS `pattern`, sorted.
fn keys(con: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let mut k: Vec<String> = redis::cmd("KEYS").arg(pattern).query(con).expect("KEYS");
    k.sort();
    k
}

/// One SCAN call: (next cursor, keys).
fn scan(con: &mut redis::Connection, cursor: u64, extra: &[&str]) -> (u64, Vec<String>) {
    redis::cmd("SCAN").arg(cursor).arg(extra).query(con).expect("SCAN")
}

/// Sets `key:{i}` for i in `range` with a pipeline.
fn fill(con: &mut redis::Connection, prefix: &str, range: std::ops::Range<u32>) {
    let mut p = redis::pipe();
    for i in range {
        p.cmd("SET").arg(format!("{prefix}:{i}")).arg(i).ignore();
    }
    p.query::<()>(con).expect("fill");
}

#[test]
fn select_swapdb_move_copy_keep_ttls() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();

    assert_eq!(c(&mut r, "SELECT 16"), "-ERR DB index is out of range\r\n");
    assert_eq!(c(&mut r, "SELECT 1"), OK);
    assert_eq!(c(&mut r, "SET k one EX 100"), OK);
    assert_eq!(c(&mut r, "SELECT 0"), OK);
    assert_eq!(int(&mut r, "EXISTS k"), 0);
    assert_eq!(c(&mut r, "SET k zero"), OK);

    // SWAPDB is seen by every client, TTLs travel with the data.
    assert_eq!(c(&mut r, "SWAPDB 0 16"), "-ERR DB index is out of range\r\n");
    assert_eq!(c(&mut r, "SWAPDB 0 1"), OK);
    assert_eq!(c(&mut other, "GET k"), bulk("one"));
    assert!((99..=100).contains(&int(&mut other, "TTL k")));
    assert_eq!(c(&mut other, "SELECT 1"), OK);
    assert_eq!(c(&mut other, "GET k"), bulk("zero"));
    assert_eq!(int(&mut other, "TTL k"), -1);

    // MOVE keeps the TTL and never overwrites.
    assert_eq!(int(&mut r, "MOVE k 2"), 1);
    assert_eq!(int(&mut r, "EXISTS k"), 0);
    assert_eq!(c(&mut r, "SELECT 2"), OK);
    assert_eq!(c(&mut r, "GET k"), bulk("one"));
    assert!((99..=100).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "MOVE k 2"), "-ERR source and destination objects are the same\r\n");
    assert_eq!(int(&mut r, "MOVE k 1"), 0, "destination exists");
    assert_eq!(c(&mut r, "GET k"), bulk("one"));
    assert_eq!(int(&mut r, "MOVE nokey 1"), 0);

    // COPY keeps the TTL; REPLACE replaces the value and the TTL.
    assert_eq!(int(&mut r, "COPY k k2"), 1);
    assert_eq!(c(&mut r, "GET k2"), bulk("one"));
    assert!((99..=100).contains(&int(&mut r, "TTL k2")));
    assert_eq!(c(&mut r, "SET plain p"), OK);
    assert_eq!(int(&mut r, "COPY plain k2"), 0);
    assert_eq!(c(&mut r, "GET k2"), bulk("one"));
    assert_eq!(int(&mut r, "COPY plain k2 REPLACE"), 1);
    assert_eq!(c(&mut r, "GET k2"), bulk("p"));
    assert_eq!(int(&mut r, "TTL k2"), -1);
    assert_eq!(c(&mut r, "COPY k k"), "-ERR source and destination objects are the same\r\n");
    assert_eq!(int(&mut r, "COPY k k DB 3"), 1);
    assert_eq!(int(&mut r, "COPY nokey x DB 3"), 0);
    assert_eq!(c(&mut r, "COPY k k DB 16"), "-ERR DB index is out of range\r\n");
    assert_eq!(c(&mut r, "SELECT 3"), OK);
    assert_eq!(c(&mut r, "GET k"), bulk("one"));
    assert!((99..=100).contains(&int(&mut r, "TTL k")));
    // The copy is independent of the original.
    assert_eq!(int(&mut r, "APPEND k !"), 4);
    assert_eq!(c(&mut r, "SELECT 2"), OK);
    assert_eq!(c(&mut r, "GET k"), bulk("one"));
    assert_eq!(int(&mut r, "DBSIZE"), 3);
}

#[test]
fn rename_keeps_ttl() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(c(&mut r, "SET a v EX 100"), OK);
    assert_eq!(c(&mut r, "RENAME a b"), OK);
    assert_eq!(int(&mut r, "EXISTS a"), 0);
    assert_eq!(c(&mut r, "GET b"), bulk("v"));
    assert!((99..=100).contains(&int(&mut r, "TTL b")));

    // Renaming over a key with a TTL: the destination takes the source's (no) TTL.
    assert_eq!(c(&mut r, "SET p plain"), OK);
    assert_eq!(c(&mut r, "RENAME p b"), OK);
    assert_eq!(c(&mut r, "GET b"), bulk("plain"));
    assert_eq!(int(&mut r, "TTL b"), -1);

    assert_eq!(c(&mut r, "RENAME nokey x"), "-ERR no such key\r\n");
    assert_eq!(c(&mut r, "RENAMENX nokey x"), "-ERR no such key\r\n");
    assert_eq!(c(&mut r, "RENAME b b"), OK);
    assert_eq!(int(&mut r, "RENAMENX b b"), 0);
    assert_eq!(c(&mut r, "SET c other EX 50"), OK);
    assert_eq!(int(&mut r, "RENAMENX b c"), 0);
    assert_eq!(c(&mut r, "GET c"), bulk("other"));
    assert_eq!(int(&mut r, "RENAMENX c d"), 1);
    assert!((49..=50).contains(&int(&mut r, "TTL d")));
}

#[test]
fn flushdb_and_flushall() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut con = s.conn();

    for db in 0..3 {
        assert_eq!(c(&mut r, &format!("SELECT {db}")), OK);
        fill(&mut con_for(&s, db), "k", 0..100);
        assert_eq!(c(&mut r, "SET t x EX 100"), OK);
    }
    assert_eq!(c(&mut r, "SELECT 1"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 101);
    assert_eq!(c(&mut r, "FLUSHDB"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 0);
    assert_eq!(int(&mut r, "TTL t"), -2);
    assert_eq!(c(&mut r, "SELECT 2"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 101);
    assert_eq!(c(&mut r, "FLUSHDB ASYNC"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 0);
    assert_eq!(c(&mut r, "FLUSHDB FOO"), "-ERR syntax error\r\n");
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(n, 101, "db 0 untouched");

    assert_eq!(c(&mut r, "SET again 1"), OK);
    assert_eq!(c(&mut r, "FLUSHALL SYNC"), OK);
    for db in 0..16 {
        assert_eq!(c(&mut r, &format!("SELECT {db}")), OK);
        assert_eq!(int(&mut r, "DBSIZE"), 0, "db {db}");
    }
    fill(&mut con, "k", 0..10);
    assert_eq!(c(&mut r, "FLUSHALL ASYNC"), OK);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(n, 0);
    assert_eq!(c(&mut r, "FLUSHALL SYNC ASYNC"), "-ERR syntax error\r\n");
}

/// A connection that has selected `db`.
fn con_for(s: &Server, db: u32) -> redis::Connection {
    let mut con = s.conn();
    redis::cmd("SELECT").arg(db).query::<()>(&mut con).expect("SELECT");
    con
}

#[test]
fn keys_patterns() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "a[b", "x?y", "xzy", "key:1", "key:2", "key:10"] {
        redis::cmd("SET").arg(k).arg(1).query::<()>(&mut con).expect("SET");
    }
    redis::cmd("SET").arg(&b"bin\0\r\nkey"[..]).arg(1).query::<()>(&mut con).expect("SET");

    assert_eq!(keys(&mut con, "*").len(), 13);
    assert_eq!(keys(&mut con, "h?llo"), ["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(keys(&mut con, "h*llo"), ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    assert_eq!(keys(&mut con, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&mut con, "h[^e]llo"), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys(&mut con, "h[a-f]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&mut con, "h\\*llo"), ["h*llo"]);
    assert_eq!(keys(&mut con, "x\\?y"), ["x?y"]);
    assert_eq!(keys(&mut con, "a\\[b"), ["a[b"]);
    assert_eq!(keys(&mut con, "key:?"), ["key:1", "key:2"]);
    assert_eq!(keys(&mut con, "key:*0"), ["key:10"]);
    assert!(keys(&mut con, "nomatch*").is_empty());
    let bin: Vec<Vec<u8>> = redis::cmd("KEYS").arg("bin*").query(&mut con).expect("KEYS");
    assert_eq!(bin, vec![b"bin\0\r\nkey".to_vec()]);

    // Expired keys are not listed.
    redis::cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).query::<()>(&mut con).expect("DEBUG");
    redis::cmd("PEXPIRE").arg("hello").arg(1).query::<()>(&mut con).expect("PEXPIRE");
    wait_for(std::time::Duration::from_secs(5), "hello to expire", || {
        !keys(&mut con, "h*").contains(&"hello".to_string())
    });
}

#[test]
fn scan_returns_every_stable_key_across_resizes() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "stable", 0..1000);

    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut added = 0u32;
    let mut deleted = 0u32;
    let mut calls = 0;
    loop {
        let (next, batch) = scan(&mut con, cursor, &["COUNT", "10"]);
        seen.extend(batch);
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        // Grow the table fast (forcing rehashes mid-scan), then shrink it again.
        if added < 20_000 {
            fill(&mut con, "temp", added..added + 1000);
            added += 1000;
        } else if deleted < 20_000 {
            let mut p = redis::pipe();
            for i in deleted..deleted + 2000 {
                p.cmd("DEL").arg(format!("temp:{i}")).ignore();
            }
            p.query::<()>(&mut con).expect("DEL");
            deleted += 2000;
        }
        assert!(calls < 100_000, "SCAN does not terminate");
    }
    assert_eq!(added, 20_000, "scan ended before the table grew ({calls} calls)");
    let missing: Vec<u32> = (0..1000).filter(|i| !seen.contains(&format!("stable:{i}"))).collect();
    assert!(missing.is_empty(), "SCAN missed {} stable keys: {:?}", missing.len(), &missing[..missing.len().min(20)]);

    // And a scan after the shrink still sees everything exactly as KEYS does.
    let mut all = HashSet::new();
    let mut cursor = 0;
    loop {
        let (next, batch) = scan(&mut con, cursor, &[]);
        all.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(all.len(), 1000 + 20_000 - deleted as usize);
}

#[test]
fn scan_match_count_type() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let mut r = s.raw();
    fill(&mut con, "user", 0..300);
    fill(&mut con, "item", 0..200);

    let full = |con: &mut redis::Connection, extra: &[&str]| {
        let mut out = HashSet::new();
        let mut cursor = 0;
        loop {
            let (next, batch) = scan(con, cursor, extra);
            out.extend(batch);
            cursor = next;
            if cursor == 0 {
                return out;
            }
        }
    };
    let users = full(&mut con, &["MATCH", "user:*"]);
    assert_eq!(users.len(), 300);
    assert!(users.iter().all(|k| k.starts_with("user:")));
    assert_eq!(full(&mut con, &["MATCH", "item:1?", "COUNT", "7"]).len(), 10);
    assert_eq!(full(&mut con, &["TYPE", "string"]).len(), 500);
    assert!(full(&mut con, &["TYPE", "list"]).is_empty());
    assert_eq!(full(&mut con, &["TYPE", "STRING", "MATCH", "item:*"]).len(), 200);

    // A COUNT larger than the keyspace returns everything in one call.
    let (cursor, batch) = scan(&mut con, 0, &["COUNT", "100000"]);
    assert_eq!((cursor, batch.len()), (0, 500));
    // COUNT is a hint, but a default scan does not return everything at once.
    let (cursor, batch) = scan(&mut con, 0, &[]);
    assert_ne!(cursor, 0);
    assert!(!batch.is_empty() && batch.len() < 100, "default COUNT 10 returned {}", batch.len());

    assert_eq!(c(&mut r, "SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(c(&mut r, "SCAN 0 COUNT x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c(&mut r, "SCAN 0 MATCH"), "-ERR syntax error\r\n");
    assert_eq!(c(&mut r, "SCAN abc"), "-ERR invalid cursor\r\n");
    assert_eq!(c(&mut r, "SCAN 18446744073709551616"), "-ERR invalid cursor\r\n");

    // Empty database.
    assert_eq!(c(&mut r, "SELECT 5"), OK);
    assert_eq!(c(&mut r, "SCAN 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn randomkey() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut con = s.conn();

    assert_eq!(c(&mut r, "RANDOMKEY"), NIL);
    fill(&mut con, "k", 0..50);
    let mut got = HashSet::new();
    for _ in 0..500 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut con).expect("RANDOMKEY");
        assert!(k.starts_with("k:"), "{k}");
        got.insert(k);
    }
    assert!(got.len() > 10, "RANDOMKEY is not random: {} distinct keys", got.len());

    // Only expired keys left: RANDOMKEY never returns one of them.
    assert_eq!(c(&mut r, "FLUSHALL"), OK);
    assert_eq!(c(&mut r, "DEBUG SET-ACTIVE-EXPIRE 0"), OK);
    assert_eq!(c(&mut r, "SET live v"), OK);
    for i in 0..20 {
        assert_eq!(c(&mut r, &format!("SET e:{i} v PX 1")), OK);
    }
    // Wait on the server's clock, not on the keys: touching them would delete them.
    let expired_at = server_ms(&mut con) + 2;
    wait_for(std::time::Duration::from_secs(5), "keys to expire", || server_ms(&mut con) > expired_at);
    for _ in 0..50 {
        assert_eq!(c(&mut r, "RANDOMKEY"), bulk("live"));
    }
}

#[test]
fn expire_nx_xx_gt_lt() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let pttl = |r: &mut Raw| int(r, "PTTL k");

    assert_eq!(int(&mut r, "EXPIRE nokey 100"), 0);
    assert_eq!(c(&mut r, "SET k v"), OK);
    // No TTL counts as an infinite TTL for GT/LT.
    assert_eq!(int(&mut r, "EXPIRE k 100 XX"), 0);
    assert_eq!(int(&mut r, "EXPIRE k 100 GT"), 0);
    assert_eq!(int(&mut r, "TTL k"), -1);
    assert_eq!(int(&mut r, "EXPIRE k 100 LT"), 1);
    assert!((99..=100).contains(&int(&mut r, "TTL k")));
    assert_eq!(c(&mut r, "PERSIST k"), ":1\r\n");
    assert_eq!(int(&mut r, "EXPIRE k 100 NX"), 1);
    assert_eq!(int(&mut r, "EXPIRE k 200 NX"), 0);
    assert!((99..=100).contains(&int(&mut r, "TTL k")));
    assert_eq!(int(&mut r, "EXPIRE k 200 XX"), 1);
    assert!((199..=200).contains(&int(&mut r, "TTL k")));
    assert_eq!(int(&mut r, "EXPIRE k 100 GT"), 0);
    assert_eq!(int(&mut r, "EXPIRE k 300 GT"), 1);
    assert!((299..=300).contains(&int(&mut r, "TTL k")));
    assert_eq!(int(&mut r, "EXPIRE k 400 LT"), 0);
    assert_eq!(int(&mut r, "PEXPIRE k 50000 LT"), 1);
    let p = pttl(&mut r);
    assert!(p > 49_000 && p <= 50_000, "{p}");
    assert_eq!(int(&mut r, "PEXPIRE k 60000 XX GT"), 1);
    let at = int(&mut r, "PEXPIRETIME k");
    assert_eq!(int(&mut r, &format!("PEXPIREAT k {} GT", at - 1)), 0);
    assert_eq!(int(&mut r, &format!("PEXPIREAT k {} LT", at - 1)), 1);
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at - 1);
    assert_eq!(int(&mut r, &format!("EXPIREAT k {} NX", at / 1000 + 10)), 0);

    let incompatible = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    assert_eq!(c(&mut r, "EXPIRE k 100 NX XX"), incompatible);
    assert_eq!(c(&mut r, "EXPIRE k 100 NX GT"), incompatible);
    assert_eq!(c(&mut r, "EXPIRE k 100 GT LT"), "-ERR GT and LT options at the same time are not compatible\r\n");
    assert_eq!(c(&mut r, "EXPIRE k 100 FOO"), "-ERR Unsupported option FOO\r\n");
    assert_eq!(c(&mut r, "EXPIRE k 9223372036854775807"), "-ERR invalid expire time in 'expire' command\r\n");
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at - 1, "refused EXPIREs change nothing");
}

#[test]
fn negative_ttl_deletes_and_ttl_queries() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    assert_eq!(int(&mut r, "TTL nokey"), -2);
    assert_eq!(int(&mut r, "PTTL nokey"), -2);
    assert_eq!(int(&mut r, "EXPIRETIME nokey"), -2);
    assert_eq!(int(&mut r, "PEXPIRETIME nokey"), -2);
    assert_eq!(c(&mut r, "SET k v"), OK);
    assert_eq!(int(&mut r, "TTL k"), -1);
    assert_eq!(int(&mut r, "PTTL k"), -1);
    assert_eq!(int(&mut r, "EXPIRETIME k"), -1);
    assert_eq!(int(&mut r, "PEXPIRETIME k"), -1);
    assert_eq!(int(&mut r, "PERSIST k"), 0);
    assert_eq!(int(&mut r, "PERSIST nokey"), 0);

    // Zero, negative and past deadlines delete the key at once.
    for cmd in ["EXPIRE k -1", "EXPIRE k 0", "PEXPIRE k -100", "EXPIREAT k 1", "PEXPIREAT k 1"] {
        assert_eq!(c(&mut r, "SET k v"), OK);
        assert_eq!(int(&mut r, cmd), 1, "{cmd}");
        assert_eq!(int(&mut r, "EXISTS k"), 0, "{cmd}");
        assert_eq!(int(&mut r, "TTL k"), -2, "{cmd}");
    }
    // ... even with GT, which compares against the current TTL first.
    assert_eq!(c(&mut r, "SET k v EX 100"), OK);
    assert_eq!(int(&mut r, "EXPIRE k -1 LT"), 1);
    assert_eq!(int(&mut r, "EXISTS k"), 0);

    // EXPIRETIME rounds to the nearest second: a deadline 700 ms into a second.
    let at = (server_ms(&mut s.conn()) / 1000 + 100) * 1000 + 700;
    assert_eq!(c(&mut r, &format!("SET k v PXAT {at}")), OK);
    assert_eq!(int(&mut r, "PEXPIRETIME k"), at as i64);
    assert_eq!(int(&mut r, "EXPIRETIME k"), (at / 1000 + 1) as i64);
    assert_eq!(int(&mut r, "PERSIST k"), 1);
    assert_eq!(int(&mut r, "TTL k"), -1);
    assert_eq!(c(&mut r, "GET k"), bulk("v"));

    // Writes that replace the value clear the TTL, in-place updates keep it.
    assert_eq!(c(&mut r, "SET k 1 EX 100"), OK);
    assert_eq!(int(&mut r, "APPEND k 0"), 2);
    assert_eq!(int(&mut r, "SETRANGE k 0 2"), 2);
    assert_eq!(int(&mut r, "INCR k"), 21);
    assert!(int(&mut r, "TTL k") > 0);
    assert_eq!(c(&mut r, "SET k 2"), OK);
    assert_eq!(int(&mut r, "TTL k"), -1);
}

#[test]
fn del_unlink_exists_touch_count_keys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "MSET a 1 b 2 c 3"), OK);
    assert_eq!(int(&mut r, "EXISTS a a b nokey"), 3);
    assert_eq!(int(&mut r, "TOUCH a b nokey"), 2);
    assert_eq!(c(&mut r, "TYPE a"), "+string\r\n");
    assert_eq!(c(&mut r, "TYPE nokey"), "+none\r\n");
    assert_eq!(int(&mut r, "DEL a a nokey"), 1);
    assert_eq!(int(&mut r, "UNLINK b c c"), 2);
    assert_eq!(int(&mut r, "DBSIZE"), 0);

    // Binary keys with NUL and CRLF.
    let key: &[u8] = b"k\0\r\n\xff";
    assert_eq!(r.cmd_args(&[b"SET", key, b"v"]), b"+OK\r\n");
    assert_eq!(r.cmd_args(&[b"EXISTS", key]), b":1\r\n");
    assert_eq!(r.cmd_args(&[b"EXISTS", b"k"]), b":0\r\n");
    assert_eq!(r.cmd_args(&[b"RENAME", key, b"k2\0"]), b"+OK\r\n");
    assert_eq!(r.cmd_args(&[b"GET", b"k2\0"]), b"$1\r\nv\r\n");
    assert_eq!(r.cmd_args(&[b"DEL", b"k2\0"]), b":1\r\n");
}
