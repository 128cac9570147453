//! Sets as sequences: intset ↔ hashtable conversions (one way, except the survivor
//! set of a large SPOP, as in Redis), the algebra on large hashtable sets against a
//! reference computation, SSCAN's guarantee, SPOP and SRANDMEMBER sampling for every
//! strategy, SMOVE across encodings, STORE forms dropping the TTL.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it).

mod common;
use common::*;

use std::collections::{BTreeSet, HashMap, HashSet};

fn sadd<T: redis::ToRedisArgs>(con: &mut redis::Connection, key: &str, members: impl IntoIterator<Item = T>) {
    let mut cmd = redis::cmd("SADD");
    cmd.arg(key);
    for m in members {
        cmd.arg(m);
    }
    let _: i64 = cmd.query(con).expect("SADD");
}

fn members(con: &mut redis::Connection, key: &str) -> HashSet<String> {
    redis::cmd("SMEMBERS").arg(key).query(con).expect("SMEMBERS")
}

fn encoding(con: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con).expect("OBJECT ENCODING")
}

#[test]
fn encodings_and_conversions() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    sadd(&mut con, "i", 1..=512);
    assert_eq!(encoding(&mut con, "i"), "intset");
    sadd(&mut con, "i", [513]);
    assert_eq!(encoding(&mut con, "i"), "hashtable");
    let n: i64 = redis::cmd("SREM").arg("i").arg((2..=513).collect::<Vec<_>>()).query(&mut con).unwrap();
    assert_eq!(n, 512);
    assert_eq!(encoding(&mut con, "i"), "hashtable", "SREM never converts back");

    sadd(&mut con, "m", [1, 2]);
    sadd(&mut con, "m", ["x"]);
    assert_eq!(encoding(&mut con, "m"), "hashtable");
    assert_eq!(members(&mut con, "m"), ["1", "2", "x"].iter().map(|s| s.to_string()).collect());

    // SMOVE of a string into an intset converts the destination.
    sadd(&mut con, "d", [7]);
    let moved: i64 = redis::cmd("SMOVE").arg("m").arg("d").arg("x").query(&mut con).unwrap();
    assert_eq!(moved, 1);
    assert_eq!(encoding(&mut con, "d"), "hashtable");

    // SPOP taking most of a hashtable set rebuilds the survivors: intset again.
    sadd(&mut con, "p", 1..=1000);
    let popped: Vec<String> = redis::cmd("SPOP").arg("p").arg(995).query(&mut con).unwrap();
    assert_eq!(popped.len(), 995);
    assert_eq!(encoding(&mut con, "p"), "intset");
    sadd(&mut con, "q", 1..=1000);
    let _: Vec<String> = redis::cmd("SPOP").arg("q").arg(10).query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "q"), "hashtable");
}

#[test]
fn algebra_matches_a_reference() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    // Deterministic pseudo-random members, mixing integers and strings.
    let mut x = 12345u64;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % 3000
    };
    let mut reference: Vec<HashSet<String>> = Vec::new();
    for k in 0..4 {
        let set: HashSet<String> =
            (0..1500).map(|_| next()).map(|n| if n % 2 == 0 { n.to_string() } else { format!("m{n}") }).collect();
        sadd(&mut con, &format!("s{k}"), set.iter());
        reference.push(set);
    }
    let keys = ["s0", "s1", "s2", "s3", "nokey"];
    let inter: HashSet<String> =
        reference[0].iter().filter(|m| reference[1..].iter().all(|s| s.contains(*m))).cloned().collect();
    let union: HashSet<String> = reference.iter().flatten().cloned().collect();
    let diff: HashSet<String> =
        reference[0].iter().filter(|m| reference[1..].iter().all(|s| !s.contains(*m))).cloned().collect();

    let got: HashSet<String> = redis::cmd("SINTER").arg(&keys[..4]).query(&mut con).unwrap();
    assert_eq!(got, inter);
    let got: HashSet<String> = redis::cmd("SINTER").arg(&keys[..]).query(&mut con).unwrap();
    assert!(got.is_empty());
    let got: HashSet<String> = redis::cmd("SUNION").arg(&keys[..]).query(&mut con).unwrap();
    assert_eq!(got, union);
    let got: HashSet<String> = redis::cmd("SDIFF").arg(&keys[..]).query(&mut con).unwrap();
    assert_eq!(got, diff);
    let card: usize = redis::cmd("SINTERCARD").arg(4).arg(&keys[..4]).query(&mut con).unwrap();
    assert_eq!(card, inter.len());
    let card: usize = redis::cmd("SINTERCARD").arg(4).arg(&keys[..4]).arg("LIMIT").arg(3).query(&mut con).unwrap();
    assert_eq!(card, inter.len().min(3));

    // STORE forms: replace the destination (dropping its TTL), or delete it when empty.
    let _: () = redis::cmd("SET").arg("dst").arg("x").arg("EX").arg(100).query(&mut con).unwrap();
    let n: usize = redis::cmd("SUNIONSTORE").arg("dst").arg(&keys[..]).query(&mut con).unwrap();
    assert_eq!(n, union.len());
    assert_eq!(members(&mut con, "dst"), union);
    let ttl: i64 = redis::cmd("TTL").arg("dst").query(&mut con).unwrap();
    assert_eq!(ttl, -1);
    let n: usize = redis::cmd("SDIFFSTORE").arg("dst").arg(&keys[..]).query(&mut con).unwrap();
    assert_eq!(n, diff.len());
    assert_eq!(members(&mut con, "dst"), diff);
    let n: usize = redis::cmd("SINTERSTORE").arg("dst").arg(&keys[..]).query(&mut con).unwrap();
    assert_eq!(n, 0);
    let exists: i64 = redis::cmd("EXISTS").arg("dst").query(&mut con).unwrap();
    assert_eq!(exists, 0);
    // A destination that is also a source.
    let n: usize = redis::cmd("SINTERSTORE").arg("s0").arg(&keys[..4]).query(&mut con).unwrap();
    assert_eq!(n, inter.len());
    assert_eq!(members(&mut con, "s0"), inter);
}

#[test]
fn sscan_returns_every_member_of_a_hashtable() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let all: HashSet<String> = (0..3000).map(|i| format!("m{i}")).collect();
    sadd(&mut con, "s", all.iter());
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("SSCAN").arg("s").arg(cursor).arg("COUNT").arg(50).query(&mut con).unwrap();
        seen.extend(items);
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen, all);
    assert!(calls > 10, "COUNT bounds each call ({calls} calls)");
    // An intset replies everything at once, whatever the cursor.
    sadd(&mut con, "i", 1..=20);
    let (next, items): (u64, Vec<String>) =
        redis::cmd("SSCAN").arg("i").arg(77).arg("MATCH").arg("1*").query(&mut con).unwrap();
    assert_eq!(next, 0);
    let expected: Vec<String> = [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].iter().map(|n| n.to_string()).collect();
    assert_eq!(items, expected);
}

/// SPOP with a count, both strategies (remove picks; keep survivors) and the whole
/// set: popped members are distinct, come from the set, and leave the rest.
#[test]
fn spop_count_strategies() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    for (size, count) in [(100usize, 3usize), (100, 90), (100, 100), (100, 150), (1000, 999)] {
        let all: BTreeSet<String> = (0..size).map(|i| format!("m{i}")).collect();
        let _: i64 = redis::cmd("DEL").arg("s").query(&mut con).unwrap();
        sadd(&mut con, "s", all.iter());
        let popped: Vec<String> = redis::cmd("SPOP").arg("s").arg(count).query(&mut con).unwrap();
        let popped_set: BTreeSet<String> = popped.iter().cloned().collect();
        assert_eq!(popped.len(), count.min(size), "{size}/{count}");
        assert_eq!(popped_set.len(), popped.len(), "distinct");
        let rest: BTreeSet<String> = members(&mut con, "s").into_iter().collect();
        assert!(popped_set.is_disjoint(&rest));
        let union: BTreeSet<String> = popped_set.union(&rest).cloned().collect();
        assert_eq!(union, all);
        let card: usize = redis::cmd("SCARD").arg("s").query(&mut con).unwrap();
        assert_eq!(card, size.saturating_sub(count));
    }
    let exists: i64 = redis::cmd("EXISTS").arg("s").query(&mut con).unwrap();
    assert_eq!(exists, 1);
    // Single pops until empty: the key goes away.
    sadd(&mut con, "t", [1, 2, 3]);
    let mut got = BTreeSet::new();
    for _ in 0..3 {
        let m: String = redis::cmd("SPOP").arg("t").query(&mut con).unwrap();
        got.insert(m);
    }
    assert_eq!(got, ["1", "2", "3"].iter().map(|s| s.to_string()).collect());
    let m: Option<String> = redis::cmd("SPOP").arg("t").query(&mut con).unwrap();
    assert_eq!(m, None);
    let exists: i64 = redis::cmd("EXISTS").arg("t").query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

/// SRANDMEMBER over every strategy on both encodings.
#[test]
fn srandmember_sampling() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    sadd(&mut con, "small", 0..10);
    sadd(&mut con, "big", (0..300).map(|i| format!("m{i}")));
    for (key, size) in [("small", 10usize), ("big", 300)] {
        let picks: Vec<String> = redis::cmd("SRANDMEMBER").arg(key).arg(-(size as i64) * 30).query(&mut con).unwrap();
        assert_eq!(picks.len(), size * 30);
        assert_eq!(picks.iter().collect::<HashSet<_>>().len(), size, "{key}: every member shows up");
        for count in [1, 2, size / 4, size / 2, size - 1, size, size * 2] {
            let got: Vec<String> = redis::cmd("SRANDMEMBER").arg(key).arg(count).query(&mut con).unwrap();
            assert_eq!(got.len(), count.min(size), "{key} {count}");
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len(), "{key} {count}: distinct");
        }
        let mut seen = HashSet::new();
        for _ in 0..size * 30 {
            let m: String = redis::cmd("SRANDMEMBER").arg(key).query(&mut con).unwrap();
            seen.insert(m);
        }
        assert_eq!(seen.len(), size);
    }
    let picks: Vec<String> = redis::cmd("SRANDMEMBER").arg("small").arg(-10000).query(&mut con).unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in &picks {
        *counts.entry(p).or_default() += 1;
    }
    assert!(counts.values().all(|n| (700..1300).contains(n)), "{counts:?}");
}

#[test]
fn srandmember_huge_counts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(int(&mut r, "SADD s a"), 1);
    assert_eq!(
        c(&mut r, "SRANDMEMBER s -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    // Redis would stream until memory runs out; moonkv refuses (see MAX_RANDOM_REPLY).
    assert_eq!(c(&mut r, "SRANDMEMBER s -9223372036854775807"), "-ERR value is out of range\r\n");
    assert_eq!(c(&mut r, "SRANDMEMBER s 9223372036854775807"), "*1\r\n$1\r\na\r\n");
    assert_eq!(c(&mut r, "SPOP s 9223372036854775807"), "*1\r\n$1\r\na\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}
