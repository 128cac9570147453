//! Sorted sets as sequences: large sets stay fast for rank and range operations
//! (O(log n) per lookup), one-way encoding conversions, ZSCAN's guarantee on the
//! skiplist encoding, ZRANDMEMBER's sampling, blocking pops (FIFO, timeout, MULTI),
//! keyspace notifications and WATCH.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it).

mod common;
use common::*;

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Adds members `m{i}` with score `i` for `i` in `range`, 1000 per ZADD.
fn fill(con: &mut redis::Connection, key: &str, range: std::ops::Range<usize>) {
    let ids: Vec<usize> = range.collect();
    for chunk in ids.chunks(1000) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(key);
        for i in chunk {
            cmd.arg(*i).arg(format!("m{i}"));
        }
        let added: usize = cmd.query(con).expect("ZADD");
        assert_eq!(added, chunk.len());
    }
}

fn encoding(con: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con).expect("OBJECT ENCODING")
}

fn q<T: redis::FromRedisValue>(con: &mut redis::Connection, line: &str) -> T {
    let mut cmd = redis::cmd(line.split(' ').next().unwrap_or(""));
    for a in line.split(' ').skip(1) {
        cmd.arg(a);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn rank_and_range_on_100k_members_stay_fast() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "z", 0..100_000);
    assert_eq!(encoding(&mut con, "z"), "skiplist");
    assert_eq!(q::<i64>(&mut con, "ZCARD z"), 100_000);

    // 4000 rank/range lookups spread over the whole set: with a linear walk per
    // lookup this would be billions of steps; with O(log n) it is milliseconds.
    let start = Instant::now();
    let mut pipe = redis::pipe();
    for k in 0..1000 {
        let i = (k * 7919) % 100_000;
        pipe.cmd("ZRANK").arg("z").arg(format!("m{i}"));
        pipe.cmd("ZREVRANK").arg("z").arg(format!("m{i}"));
        pipe.cmd("ZRANGE").arg("z").arg(i).arg(i);
        pipe.cmd("ZRANGEBYSCORE").arg("z").arg(format!("({i}")).arg("+inf").arg("LIMIT").arg(0).arg(1);
    }
    let replies: Vec<redis::Value> = pipe.query(&mut con).expect("pipeline");
    let elapsed = start.elapsed();
    for (k, group) in replies.chunks(4).enumerate() {
        let i = ((k * 7919) % 100_000) as i64;
        assert_eq!(group[0], redis::Value::Int(i));
        assert_eq!(group[1], redis::Value::Int(99_999 - i));
        let one: Vec<String> = redis::from_redis_value(&group[2]).unwrap();
        assert_eq!(one, vec![format!("m{i}")]);
        let next: Vec<String> = redis::from_redis_value(&group[3]).unwrap();
        let want: Vec<String> = if i < 99_999 { vec![format!("m{}", i + 1)] } else { vec![] };
        assert_eq!(next, want);
    }
    assert!(elapsed < Duration::from_secs(3), "4000 lookups took {elapsed:?}");

    // Deep offsets and counts.
    let start = Instant::now();
    for _ in 0..200 {
        let v: Vec<String> = q(&mut con, "ZRANGEBYSCORE z -inf +inf LIMIT 90000 2");
        assert_eq!(v, ["m90000", "m90001"]);
        let v: Vec<String> = q(&mut con, "ZREVRANGEBYSCORE z +inf -inf LIMIT 90000 1");
        assert_eq!(v, ["m9999"]);
        assert_eq!(q::<i64>(&mut con, "ZCOUNT z (1000 50000"), 49_000);
        let v: Vec<String> = q(&mut con, "ZREVRANGE z 50000 50000");
        assert_eq!(v, ["m49999"]);
    }
    assert!(start.elapsed() < Duration::from_secs(3), "deep range queries took {:?}", start.elapsed());

    assert_eq!(q::<i64>(&mut con, "ZREMRANGEBYRANK z 0 49999"), 50_000);
    assert_eq!(q::<i64>(&mut con, "ZCARD z"), 50_000);
    assert_eq!(q::<Vec<String>>(&mut con, "ZRANGE z 0 0"), ["m50000"]);
    assert_eq!(q::<i64>(&mut con, "ZRANK z m60000"), 10_000);
    assert_eq!(q::<i64>(&mut con, "ZREMRANGEBYSCORE z -inf 74999"), 25_000);
    assert_eq!(q::<Vec<String>>(&mut con, "ZPOPMIN z"), ["m75000", "75000"]);
    assert_eq!(encoding(&mut con, "z"), "skiplist", "no conversion back");
}

#[test]
fn encoding_conversions_are_one_way() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "z", 0..128);
    assert_eq!(encoding(&mut con, "z"), "listpack");
    fill(&mut con, "z", 128..129);
    assert_eq!(encoding(&mut con, "z"), "skiplist");
    q::<i64>(&mut con, "ZREMRANGEBYRANK z 0 100");
    assert_eq!(encoding(&mut con, "z"), "skiplist");
    // A stored result picks its encoding from its own size.
    q::<i64>(&mut con, "ZUNIONSTORE small 1 z");
    assert_eq!(encoding(&mut con, "small"), "listpack");
    let long = "x".repeat(65);
    let _: i64 = redis::cmd("ZADD").arg("l").arg(1).arg("a").query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "l"), "listpack");
    let _: i64 = redis::cmd("ZADD").arg("l").arg(2).arg(&long).query(&mut con).unwrap();
    assert_eq!(encoding(&mut con, "l"), "skiplist");
    let v: Vec<String> = q(&mut con, "ZRANGE l 0 -1");
    assert_eq!(v, vec!["a".to_string(), long]);
    // Same replies on both encodings.
    fill(&mut con, "lp", 0..10);
    q::<String>(&mut con, "CONFIG SET zset-max-listpack-entries 0");
    fill(&mut con, "sl", 0..10);
    assert_eq!(encoding(&mut con, "sl"), "skiplist");
    for cmd in [
        "ZRANGE {} 2 5 WITHSCORES",
        "ZRANGE {} (2 +inf BYSCORE REV LIMIT 1 3",
        "ZRANGE {} [m3 [m6 BYLEX",
        "ZRANK {} m7",
        "ZREVRANK {} m7",
        "ZCOUNT {} 3 (7",
        "ZPOPMAX {} 2",
        "ZREMRANGEBYSCORE {} 0 1",
        "ZRANGE {} 0 -1 WITHSCORES",
    ] {
        let a: redis::Value = q(&mut con, &cmd.replace("{}", "lp"));
        let b: redis::Value = q(&mut con, &cmd.replace("{}", "sl"));
        assert_eq!(a, b, "{cmd}");
    }
}

#[test]
fn zscan_on_skiplist_returns_every_member() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    fill(&mut con, "z", 0..5000);
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut rounds = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd("ZSCAN").arg("z").arg(cursor).arg("COUNT").arg(100).query(&mut con).unwrap();
        for pair in items.chunks(2) {
            assert_eq!(pair[0][1..], pair[1], "member and score travel together");
            seen.insert(pair[0].clone());
        }
        rounds += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        if rounds == 5 {
            // Growing the set mid-scan must not lose the original members.
            fill(&mut con, "z", 5000..9000);
        }
    }
    assert!(rounds > 10, "a skiplist is scanned in steps");
    assert!((0..5000).all(|i| seen.contains(&format!("m{i}"))));
    let (_, only): (u64, Vec<String>) =
        redis::cmd("ZSCAN").arg("z").arg(0).arg("MATCH").arg("m1*").arg("COUNT").arg(100000).query(&mut con).unwrap();
    assert!(only.chunks(2).all(|p| p[0].starts_with("m1")));
}

#[test]
fn zrandmember_sampling() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    for (key, n) in [("small", 10), ("large", 1000)] {
        fill(&mut con, key, 0..n);
        let distinct: Vec<String> = redis::cmd("ZRANDMEMBER").arg(key).arg(5).query(&mut con).unwrap();
        assert_eq!(distinct.iter().collect::<HashSet<_>>().len(), 5, "{key}: positive count is distinct");
        let many: Vec<String> = redis::cmd("ZRANDMEMBER").arg(key).arg(-50).query(&mut con).unwrap();
        assert_eq!(many.len(), 50);
        let with: Vec<String> = redis::cmd("ZRANDMEMBER").arg(key).arg(-3).arg("WITHSCORES").query(&mut con).unwrap();
        assert!(with.chunks(2).all(|p| p[0][1..] == p[1]));
        let all: Vec<String> = redis::cmd("ZRANDMEMBER").arg(key).arg(n + 5).query(&mut con).unwrap();
        assert_eq!(all.len(), n);
        let one: String = redis::cmd("ZRANDMEMBER").arg(key).query(&mut con).unwrap();
        assert!(one.starts_with('m'));
    }
    // Over many picks every member of the small set shows up.
    let picks: Vec<String> = q(&mut con, "ZRANDMEMBER small -2000");
    assert_eq!(picks.iter().collect::<HashSet<_>>().len(), 10);
}

#[test]
fn blocking_pops_are_served_fifo() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut w = s.conn();
    a.send(&resp(&[b"BZPOPMIN", b"k", b"0"]));
    wait_for(Duration::from_secs(5), "a blocked", || q::<String>(&mut w, "INFO clients").contains("blocked_clients:1"));
    b.send(&resp(&[b"BZMPOP", b"0", b"2", b"other", b"k", b"MIN", b"COUNT", b"5"]));
    wait_for(Duration::from_secs(5), "b blocked", || q::<String>(&mut w, "INFO clients").contains("blocked_clients:2"));
    q::<i64>(&mut w, "ZADD k 2 x 1 y");
    // The first waiter gets the lowest member, the second what is left.
    assert_eq!(a.read_str(), "*3\r\n$1\r\nk\r\n$1\r\ny\r\n$1\r\n1\r\n");
    assert_eq!(b.read_str(), "*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n2\r\n");
    assert_eq!(q::<i64>(&mut w, "EXISTS k"), 0);
    // BZPOPMAX on several keys wakes on any of them.
    a.send(&resp(&[b"BZPOPMAX", b"k1", b"k2", b"0"]));
    wait_for(Duration::from_secs(5), "a blocked again", || {
        q::<String>(&mut w, "INFO clients").contains("blocked_clients:1")
    });
    q::<i64>(&mut w, "ZADD k2 1 a 5 b");
    assert_eq!(a.read_str(), "*3\r\n$2\r\nk2\r\n$1\r\nb\r\n$1\r\n5\r\n");
}

#[test]
fn blocking_pops_time_out_and_do_not_block_in_multi() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let start = Instant::now();
    assert_eq!(c(&mut r, "BZPOPMIN k 0.2"), "*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(180), "returned after {:?}", start.elapsed());
    assert_eq!(c(&mut r, "BZMPOP 0.1 1 k MAX"), "*-1\r\n");
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut r, "BZPOPMIN k 0"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "BZMPOP 0 1 k MIN"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "*2\r\n*-1\r\n*-1\r\n");
    c(&mut r, "SET str v");
    assert!(c(&mut r, "BZPOPMIN str 0").starts_with("-WRONGTYPE"));
    assert_eq!(c(&mut r, "BZPOPMIN k -1"), "-ERR timeout is negative\r\n");
}

#[test]
fn keyspace_notifications_and_watch() {
    let s = Server::start(&["--notify-keyspace-events", "KEA"]);
    let mut sub = s.raw();
    c(&mut sub, "PSUBSCRIBE __keyevent@0__:*");
    let mut w = s.raw();
    let mut expect = |cmd: &str, events: &[&str]| {
        c(&mut w, cmd);
        for e in events {
            let msg = sub.read_str();
            assert!(msg.contains(&format!("__keyevent@0__:{e}\r\n")), "{cmd}: expected {e}, got {msg:?}");
        }
    };
    expect("ZADD z 1 a 2 b 3 c", &["zadd"]);
    expect("ZINCRBY z 1 a", &["zincr"]);
    expect("ZADD z INCR 1 a", &["zincr"]);
    expect("ZREM z a", &["zrem"]);
    expect("ZPOPMIN z", &["zpopmin"]);
    expect("ZUNIONSTORE d 1 z", &["zunionstore"]);
    expect("ZRANGESTORE d2 z 0 -1", &["zrangestore"]);
    expect("ZREMRANGEBYSCORE d 0 10", &["zremrangebyscore", "del"]);
    expect("ZPOPMAX z 5", &["zpopmax", "del"]);
    expect("ZINTERSTORE d2 1 nokey", &["del"]);
    expect("ZADD q 1 a", &["zadd"]);

    // WATCH: a no-op ZADD does not touch the key, a real change does.
    let mut t = s.raw();
    c(&mut t, "WATCH q");
    c(&mut w, "ZADD q NX 5 a");
    c(&mut w, "ZREM q nosuch");
    c(&mut t, "MULTI");
    c(&mut t, "PING");
    assert_eq!(c(&mut t, "EXEC"), "*1\r\n+PONG\r\n");
    c(&mut t, "WATCH q");
    c(&mut w, "ZADD q 5 a");
    c(&mut t, "MULTI");
    c(&mut t, "PING");
    assert_eq!(c(&mut t, "EXEC"), "*-1\r\n");
}

#[test]
fn set_algebra_accepts_plain_sets_and_counts_changes() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let _: i64 = redis::cmd("SADD").arg("s").arg(&["a", "b", "c"]).query(&mut con).unwrap();
    let _: i64 = redis::cmd("SADD").arg("i").arg(&["1", "2", "3"]).query(&mut con).unwrap();
    q::<i64>(&mut con, "ZADD z 5 b 7 c 9 d");
    let v: Vec<String> = q(&mut con, "ZUNION 3 s z i WEIGHTS 1 2 3 WITHSCORES");
    assert_eq!(v, ["a", "1", "1", "3", "2", "3", "3", "3", "b", "11", "c", "15", "d", "18"]);
    let v: Vec<String> = q(&mut con, "ZINTER 2 z s AGGREGATE MAX WITHSCORES");
    assert_eq!(v, ["b", "5", "c", "7"]);
    let v: Vec<String> = q(&mut con, "ZDIFF 2 s z");
    assert_eq!(v, ["a"]);
    assert_eq!(q::<i64>(&mut con, "ZINTERCARD 2 s z"), 2);
    let before: String = q(&mut con, "INFO persistence");
    let dirty = |info: &str| -> i64 {
        info.lines().find_map(|l| l.strip_prefix("rdb_changes_since_last_save:")).unwrap_or("0").trim().parse().unwrap()
    };
    let d0 = dirty(&before);
    q::<i64>(&mut con, "ZADD z 1 x 2 y 5 b");
    q::<i64>(&mut con, "ZADD z NX 1 x");
    let after: String = q(&mut con, "INFO persistence");
    assert_eq!(dirty(&after) - d0, 2, "two members added, nothing else changed");
}

/// ZRANK/ZREVRANK WITHSCORE (Redis 7.2 semantics, beyond 7.0).
#[test]
fn zrank_withscore() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    c(&mut r, "ZADD z 1.5 a 2 b");
    assert_eq!(c(&mut r, "ZRANK z b WITHSCORE"), "*2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(c(&mut r, "ZREVRANK z a WITHSCORE"), "*2\r\n:1\r\n$3\r\n1.5\r\n");
    assert_eq!(c(&mut r, "ZRANK z nosuch WITHSCORE"), "*-1\r\n");
    assert_eq!(c(&mut r, "ZRANK z a FOO"), "-ERR syntax error\r\n");
    c(&mut r, "HELLO 3");
    assert_eq!(c(&mut r, "ZRANK z a WITHSCORE"), "*2\r\n:0\r\n,1.5\r\n");
}
