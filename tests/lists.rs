//! List commands as sequences: blocking pops and moves (FIFO service, timeouts,
//! MULTI, a push served to the waiting client before anyone else, killed waiters,
//! keys of another type), keyspace notifications in Redis's order, WATCH and the
//! change counter.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it);
//! single-reply cases live in compat_lists.rs.

mod common;
use common::*;

use std::time::{Duration, Instant};

const NIL_ARRAY: &str = "*-1\r\n";

fn info_field(r: &mut Raw, section: &str, field: &str) -> i64 {
    let text = c(r, &format!("INFO {section}"));
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .expect("number")
}

fn wait_blocked(r: &mut Raw, n: i64) {
    wait_for(Duration::from_secs(5), &format!("{n} blocked clients"), || {
        info_field(r, "clients", "blocked_clients") == n
    });
}

/// Sends a command without reading its reply (the client is going to block).
fn send(r: &mut Raw, line: &str) {
    let args: Vec<&[u8]> = line.split(' ').map(|s| s.as_bytes()).collect();
    r.send(&resp(&args));
}

fn pair(key: &str, value: &str) -> String {
    format!("*2\r\n{}{}", bulk(key), bulk(value))
}

#[test]
fn blocked_clients_are_served_in_blocking_order() {
    let s = Server::start(&[]);
    let (mut a, mut b, mut p) = (s.raw(), s.raw(), s.raw());
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    send(&mut b, "BLPOP other k 0");
    wait_blocked(&mut p, 2);
    // The push replies with the length before anyone is served.
    assert_eq!(c(&mut p, "RPUSH k x y z"), ":3\r\n");
    assert_eq!(a.read_str(), pair("k", "x"));
    assert_eq!(b.read_str(), pair("k", "y"));
    assert_eq!(c(&mut p, "LRANGE k 0 -1"), format!("*1\r\n{}", bulk("z")));
    assert_eq!(info_field(&mut p, "clients", "blocked_clients"), 0);

    // BRPOP from the tail, on whichever of several keys gets data.
    send(&mut a, "BRPOP k1 k2 0");
    wait_blocked(&mut p, 1);
    assert_eq!(int(&mut p, "RPUSH k2 a b"), 2);
    assert_eq!(a.read_str(), pair("k2", "b"));
}

#[test]
fn timeouts_reply_null_after_the_timeout() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (line, reply) in [
        ("BLPOP k 0.1", NIL_ARRAY),
        ("BRPOP k1 k2 0.1", NIL_ARRAY),
        ("BLMPOP 0.1 1 k LEFT", NIL_ARRAY),
        // A timed-out move is a null array too (Redis 7.0), unlike its reply in MULTI.
        ("BLMOVE k d LEFT LEFT 0.1", NIL_ARRAY),
        ("BRPOPLPUSH k d 0.1", NIL_ARRAY),
    ] {
        let start = Instant::now();
        assert_eq!(c(&mut r, line), reply, "{line}");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(95) && took < Duration::from_millis(1000), "{line} took {took:?}");
    }
    // RESP3 has one null.
    c(&mut r, "HELLO 3");
    assert_eq!(c(&mut r, "BLPOP k 0.05"), "_\r\n");
    assert_eq!(c(&mut r, "BLMOVE k d LEFT LEFT 0.05"), "_\r\n");
    assert_eq!(info_field(&mut r, "clients", "blocked_clients"), 0);
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let start = Instant::now();
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    for line in ["BLPOP k 0", "BLMOVE k d LEFT LEFT 0", "BLMPOP 0 1 k LEFT", "RPUSH k v", "BLPOP k 0"] {
        assert_eq!(c(&mut r, line), "+QUEUED\r\n");
    }
    assert_eq!(c(&mut r, "EXEC"), format!("*5\r\n*-1\r\n$-1\r\n*-1\r\n:1\r\n{}", pair("k", "v")));
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_push_is_served_to_the_blocked_client_first() {
    let s = Server::start(&[]);
    let (mut a, mut p) = (s.raw(), s.raw());
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    // Pipelined: the LPOP runs right after the push, and still finds nothing.
    let mut pipeline = resp(&[b"RPUSH", b"k", b"v"]);
    pipeline.extend(resp(&[b"LPOP", b"k"]));
    p.send(&pipeline);
    assert_eq!(p.read_str(), ":1\r\n");
    assert_eq!(p.read_str(), "$-1\r\n");
    assert_eq!(a.read_str(), pair("k", "v"));

    // Inside MULTI too: the waiter is served after EXEC, before the next command.
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    c(&mut p, "MULTI");
    c(&mut p, "RPUSH k 1 2");
    c(&mut p, "LPOP k");
    assert_eq!(c(&mut p, "EXEC"), format!("*2\r\n:2\r\n{}", bulk("1")));
    assert_eq!(a.read_str(), pair("k", "2"));
    assert_eq!(int(&mut p, "EXISTS k"), 0);
}

#[test]
fn a_killed_blocked_client_does_not_break_the_others() {
    let s = Server::start(&[]);
    let (mut a, mut b, mut p) = (s.raw(), s.raw(), s.raw());
    let id = int(&mut a, "CLIENT ID");
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    send(&mut b, "BLPOP k 0");
    wait_blocked(&mut p, 2);
    assert_eq!(int(&mut p, &format!("CLIENT KILL ID {id}")), 1);
    wait_blocked(&mut p, 1);
    assert!(eof_within(&mut a, Duration::from_secs(5)));
    assert_eq!(int(&mut p, "RPUSH k v"), 1);
    assert_eq!(b.read_str(), pair("k", "v"));
    assert_eq!(int(&mut p, "EXISTS k"), 0);

    // CLIENT UNBLOCK ends a wait with the timeout reply.
    let id = int(&mut b, "CLIENT ID");
    send(&mut b, "BLMOVE k d LEFT LEFT 0");
    wait_blocked(&mut p, 1);
    assert_eq!(int(&mut p, &format!("CLIENT UNBLOCK {id}")), 1);
    assert_eq!(b.read_str(), NIL_ARRAY);
}

#[test]
fn moves_and_multi_pops_are_served_and_chain() {
    let s = Server::start(&[]);
    let (mut a, mut b, mut p) = (s.raw(), s.raw(), s.raw());
    // b waits on the destination of a's move: one push serves both.
    send(&mut a, "BLMOVE src dst RIGHT LEFT 0");
    wait_blocked(&mut p, 1);
    send(&mut b, "BLPOP dst 0");
    wait_blocked(&mut p, 2);
    assert_eq!(int(&mut p, "RPUSH src x y"), 2);
    assert_eq!(a.read_str(), bulk("y"));
    assert_eq!(b.read_str(), pair("dst", "y"));
    assert_eq!(c(&mut p, "LRANGE src 0 -1"), format!("*1\r\n{}", bulk("x")));
    assert_eq!(int(&mut p, "EXISTS dst"), 0);

    send(&mut a, "BRPOPLPUSH none dst 0");
    wait_blocked(&mut p, 1);
    assert_eq!(int(&mut p, "LPUSH none v"), 1);
    assert_eq!(a.read_str(), bulk("v"));
    assert_eq!(c(&mut p, "LRANGE dst 0 -1"), format!("*1\r\n{}", bulk("v")));

    send(&mut a, "BLMPOP 0 2 m1 m2 LEFT COUNT 2");
    wait_blocked(&mut p, 1);
    assert_eq!(int(&mut p, "RPUSH m2 a b c"), 3);
    assert_eq!(a.read_str(), format!("*2\r\n{}*2\r\n{}{}", bulk("m2"), bulk("a"), bulk("b")));
}

#[test]
fn a_key_of_another_type_keeps_the_client_waiting() {
    let s = Server::start(&[]);
    let (mut a, mut p) = (s.raw(), s.raw());
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    assert_eq!(c(&mut p, "SET k str"), "+OK\r\n");
    assert_eq!(info_field(&mut p, "clients", "blocked_clients"), 1);
    assert_eq!(int(&mut p, "DEL k"), 1);
    assert_eq!(int(&mut p, "RPUSH k v"), 1);
    assert_eq!(a.read_str(), pair("k", "v"));
}

#[test]
fn blocked_clients_wait_in_their_own_database() {
    let s = Server::start(&[]);
    let (mut a, mut p) = (s.raw(), s.raw());
    c(&mut a, "SELECT 1");
    send(&mut a, "BLPOP k 0");
    wait_blocked(&mut p, 1);
    assert_eq!(int(&mut p, "RPUSH k in-db-0"), 1);
    assert_eq!(info_field(&mut p, "clients", "blocked_clients"), 1);
    c(&mut p, "SELECT 1");
    assert_eq!(int(&mut p, "RPUSH k in-db-1"), 1);
    assert_eq!(a.read_str(), pair("k", "in-db-1"));
    // The client's own selected database is unchanged.
    assert_eq!(int(&mut a, "EXISTS k"), 0);
    c(&mut a, "SELECT 0");
    assert_eq!(int(&mut a, "LLEN k"), 1);
}

/// Reads pub/sub messages until `n` (event, key) pairs arrived.
fn events(r: &mut Raw, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let msg = r.read_str();
            let parts: Vec<&str> = msg.split("\r\n").collect();
            // *4 $8 pmessage $pat pat $chan chan $key key
            let chan = parts[6];
            (chan.rsplit(':').next().unwrap_or("").to_string(), parts[8].to_string())
        })
        .collect()
}

#[test]
fn keyspace_events_follow_redis_order() {
    let s = Server::start(&[]);
    let (mut sub, mut p) = (s.raw(), s.raw());
    c(&mut p, "CONFIG SET notify-keyspace-events KEA");
    c(&mut sub, "PSUBSCRIBE __keyevent@0__:*");
    for line in [
        "RPUSH src a b",
        "LMOVE src dst RIGHT LEFT",
        "LMOVE src dst LEFT LEFT",
        "LTRIM dst 5 10",
        "RPUSH s 1",
        "SORT s STORE out",
        "SORT nokey STORE out",
        "LPUSH q 1",
        "LREM q 0 1",
        "RPUSH l a b c",
        "LSET l 0 z",
        "LINSERT l BEFORE z y",
        "LPOP l 10",
    ] {
        c(&mut p, line);
    }
    let expected = [
        ("rpush", "src"),
        ("lpush", "dst"),
        ("rpop", "src"),
        ("lpush", "dst"),
        ("lpop", "src"),
        ("del", "src"),
        ("ltrim", "dst"),
        ("del", "dst"),
        ("rpush", "s"),
        ("sortstore", "out"),
        ("del", "out"),
        ("lpush", "q"),
        ("lrem", "q"),
        ("del", "q"),
        ("rpush", "l"),
        ("lset", "l"),
        ("linsert", "l"),
        ("lpop", "l"),
        ("del", "l"),
    ];
    let got = events(&mut sub, expected.len());
    let want: Vec<(String, String)> = expected.iter().map(|(e, k)| (e.to_string(), k.to_string())).collect();
    assert_eq!(got, want);
}

#[test]
fn watch_and_change_counts_match_redis() {
    // WATCH is broken by LTRIM even when it removes nothing (Redis signals the key).
    let s = Server::start(&[]);
    let (mut a, mut p) = (s.raw(), s.raw());
    c(&mut p, "RPUSH l a b");
    c(&mut a, "WATCH l");
    c(&mut p, "LTRIM l 0 -1");
    c(&mut a, "MULTI");
    c(&mut a, "PING");
    assert_eq!(c(&mut a, "EXEC"), NIL_ARRAY);
    // A failed LINSERT or an LREM of nothing does not.
    c(&mut a, "WATCH l");
    c(&mut p, "LINSERT l BEFORE zz x");
    c(&mut p, "LREM l 0 zz");
    c(&mut a, "MULTI");
    c(&mut a, "PING");
    assert_eq!(c(&mut a, "EXEC"), "*1\r\n+PONG\r\n");

    // rdb_changes_since_last_save after the same sequence on both servers.
    let Some(redis) = Server::start_redis(&[]) else { return };
    let lines = [
        "RPUSH d a b c d e f",
        "LPOP d 2",
        "LTRIM d 0 1",
        "LTRIM d 0 -1",
        "LREM d 0 c",
        "LINSERT d AFTER d x",
        "LSET d 0 y",
        "LMOVE d e LEFT LEFT",
        "SORT e ALPHA STORE f",
        "SORT none STORE f",
        "LMPOP 1 f LEFT COUNT 5",
        "LPUSHX none a",
    ];
    let moonkv = Server::start(&[]);
    let (mut m, mut r) = (moonkv.raw(), redis.raw());
    for line in lines {
        assert_eq!(c(&mut m, line), c(&mut r, line), "{line}");
        assert_eq!(
            info_field(&mut m, "persistence", "rdb_changes_since_last_save"),
            info_field(&mut r, "persistence", "rdb_changes_since_last_save"),
            "dirty after {line}"
        );
    }
}
