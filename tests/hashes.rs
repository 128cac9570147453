//! Hashes as sequences: both encodings and the one-way listpack → hashtable
//! conversions (entry count, value length, HINCRBY* on long fields), HSCAN's
//! guarantee on a hashtable, HRANDFIELD's sampling properties for every strategy
//! (negative counts, distinct picks, the whole hash), counters, emptied keys.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it).

mod common;
use common::*;

use std::collections::{HashMap, HashSet};

/// Fills `key` with `n` fields `f{i}` → `v{i}`.
fn fill(con: &mut redis::Connection, key: &str, n: usize) {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for i in 0..n {
        cmd.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let added: usize = cmd.query(con).expect("HSET");
    assert_eq!(added, n);
}

fn encoding(con: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con).expect("OBJECT ENCODING")
}

#[test]
fn hashtable_hash_round_trip_and_emptied_key() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "h", 1000);
    assert_eq!(encoding(&mut con, "h"), "hashtable");
    let all: HashMap<String, String> = redis::cmd("HGETALL").arg("h").query(&mut con).unwrap();
    assert_eq!(all.len(), 1000);
    assert!(all.iter().all(|(f, v)| f[1..] == v[1..]));
    let keys: Vec<String> = redis::cmd("HKEYS").arg("h").query(&mut con).unwrap();
    let vals: Vec<String> = redis::cmd("HVALS").arg("h").query(&mut con).unwrap();
    // HKEYS and HVALS walk the table in the same order.
    assert!(keys.iter().zip(&vals).all(|(f, v)| f[1..] == v[1..]));
    let v: Option<String> = redis::cmd("HGET").arg("h").arg("f500").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v500"));
    let n: i64 = redis::cmd("HSTRLEN").arg("h").arg("f999").query(&mut con).unwrap();
    assert_eq!(n, 4);

    let mut del = redis::cmd("HDEL");
    del.arg("h").arg("nofield");
    for i in 0..1000 {
        del.arg(format!("f{i}"));
    }
    let n: i64 = del.query(&mut con).unwrap();
    assert_eq!(n, 1000);
    let exists: i64 = redis::cmd("EXISTS").arg("h").query(&mut con).unwrap();
    assert_eq!(exists, 0, "an emptied hash is deleted");
}

#[test]
fn encoding_conversions_are_one_way() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG SET hash-max-listpack-entries 4"), "+OK\r\n");
    assert_eq!(int(&mut r, "HSET h a 1 b 2 c 3 d 4"), 4);
    assert_eq!(c(&mut r, "OBJECT ENCODING h"), bulk("listpack"));
    // Updating an existing field does not grow the hash.
    assert_eq!(int(&mut r, "HSET h d 5"), 0);
    assert_eq!(c(&mut r, "OBJECT ENCODING h"), bulk("listpack"));
    assert_eq!(int(&mut r, "HSET h e 5"), 1);
    assert_eq!(c(&mut r, "OBJECT ENCODING h"), bulk("hashtable"));
    assert_eq!(int(&mut r, "HDEL h a b c d"), 4);
    assert_eq!(c(&mut r, "OBJECT ENCODING h"), bulk("hashtable"), "never converts back");

    // Value length: a long value or field converts, also through HINCRBY*.
    let long = "x".repeat(65);
    assert_eq!(int(&mut r, &format!("HSET v f {}", "x".repeat(64))), 1);
    assert_eq!(c(&mut r, "OBJECT ENCODING v"), bulk("listpack"));
    assert_eq!(int(&mut r, &format!("HSET v g {long}")), 1);
    assert_eq!(c(&mut r, "OBJECT ENCODING v"), bulk("hashtable"));
    assert_eq!(int(&mut r, "HSET w a 1"), 1);
    assert_eq!(int(&mut r, &format!("HINCRBY w {long} 7")), 7);
    assert_eq!(c(&mut r, "OBJECT ENCODING w"), bulk("hashtable"));
    // HSETNX on an existing field writes nothing and converts nothing.
    assert_eq!(int(&mut r, "HSET n a 1"), 1);
    assert_eq!(int(&mut r, &format!("HSETNX n a {long}")), 0);
    assert_eq!(c(&mut r, "OBJECT ENCODING n"), bulk("listpack"));
    assert_eq!(int(&mut r, &format!("HSETNX n b {long}")), 1);
    assert_eq!(c(&mut r, "OBJECT ENCODING n"), bulk("hashtable"));
}

#[test]
fn counters_on_both_encodings() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for key in ["small", "big"] {
        if key == "big" {
            let mut con = s.conn();
            fill(&mut con, key, 600);
        }
        assert_eq!(int(&mut r, &format!("HINCRBY {key} n 5")), 5);
        assert_eq!(int(&mut r, &format!("HINCRBY {key} n -15")), -10);
        assert_eq!(c(&mut r, &format!("HINCRBYFLOAT {key} x 10.5")), bulk("10.5"));
        assert_eq!(c(&mut r, &format!("HINCRBYFLOAT {key} x 0.1")), bulk("10.6"));
        assert_eq!(c(&mut r, &format!("HINCRBYFLOAT {key} n 1.5")), bulk("-8.5"));
        assert_eq!(c(&mut r, &format!("HINCRBY {key} n 1")), "-ERR hash value is not an integer\r\n");
        assert_eq!(c(&mut r, &format!("HGET {key} x")), bulk("10.6"));
    }
    assert_eq!(c(&mut r, "OBJECT ENCODING big"), bulk("hashtable"));
    assert_eq!(c(&mut r, "OBJECT ENCODING small"), bulk("listpack"));
}

#[test]
fn hscan_returns_every_field_of_a_hashtable() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "h", 2000);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(cursor).arg("COUNT").arg(20).query(&mut con).unwrap();
        assert_eq!(items.len() % 2, 0, "field/value pairs");
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
    assert!(seen.iter().all(|(f, v)| f[1..] == v[1..]));
    assert!(calls > 10, "COUNT bounds each call ({calls} calls)");

    // MATCH filters on the field and drops its value too.
    let mut matched = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("HSCAN").arg("h").arg(cursor).arg("MATCH").arg("f1??").query(&mut con).unwrap();
        for p in items.chunks(2) {
            assert_eq!(p[1], format!("v{}", &p[0][1..]));
            matched.insert(p[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(matched.len(), 100);
}

/// HRANDFIELD over every strategy: negative counts (repeats allowed), count 1,
/// the whole hash, distinct picks by removal (count close to the size) and by
/// sampling (count small), on both encodings.
#[test]
fn hrandfield_sampling() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "small", 10);
    fill(&mut con, "big", 300);
    for (key, size) in [("small", 10usize), ("big", 300)] {
        // Negative count: exactly |count| picks, and over many picks every field.
        let picks: Vec<String> = redis::cmd("HRANDFIELD").arg(key).arg(-(size as i64) * 30).query(&mut con).unwrap();
        assert_eq!(picks.len(), size * 30);
        let distinct: HashSet<_> = picks.iter().collect();
        assert_eq!(distinct.len(), size, "{key}: every field shows up");
        // Positive counts: distinct fields, min(count, size) of them.
        for count in [1, 2, size / 2, size - 1, size, size + 5] {
            let got: Vec<String> = redis::cmd("HRANDFIELD").arg(key).arg(count).query(&mut con).unwrap();
            let distinct: HashSet<_> = got.iter().collect();
            assert_eq!(got.len(), count.min(size), "{key} {count}");
            assert_eq!(distinct.len(), got.len(), "{key} {count}: distinct");
        }
        // WITHVALUES: pairs that belong together.
        let got: Vec<String> = redis::cmd("HRANDFIELD").arg(key).arg(-7).arg("WITHVALUES").query(&mut con).unwrap();
        assert_eq!(got.len(), 14);
        assert!(got.chunks(2).all(|p| p[0][1..] == p[1][1..]));
        let got: Vec<String> = redis::cmd("HRANDFIELD").arg(key).arg(5).arg("WITHVALUES").query(&mut con).unwrap();
        assert_eq!(got.len(), 10);
        assert!(got.chunks(2).all(|p| p[0][1..] == p[1][1..]));
        // Without a count: a single field, every one over many calls.
        let mut seen = HashSet::new();
        for _ in 0..size * 30 {
            let f: String = redis::cmd("HRANDFIELD").arg(key).query(&mut con).unwrap();
            seen.insert(f);
        }
        assert_eq!(seen.len(), size);
    }
    // Rough uniformity of negative-count picks on a small hash.
    let picks: Vec<String> = redis::cmd("HRANDFIELD").arg("small").arg(-10000).query(&mut con).unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in &picks {
        *counts.entry(p).or_default() += 1;
    }
    assert!(counts.values().all(|n| (700..1300).contains(n)), "{counts:?}");
}

#[test]
fn hrandfield_huge_counts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(int(&mut r, "HSET h a 1"), 1);
    assert_eq!(
        c(&mut r, "HRANDFIELD h -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(c(&mut r, "HRANDFIELD h -9223372036854775807 WITHVALUES"), "-ERR value is out of range\r\n");
    // Redis would stream until memory runs out; moonkv refuses (see MAX_RANDOM_REPLY).
    assert_eq!(c(&mut r, "HRANDFIELD h -9223372036854775807"), "-ERR value is out of range\r\n");
    assert_eq!(c(&mut r, "HRANDFIELD h 9223372036854775807"), "*1\r\n$1\r\na\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}
