//! MULTI/EXEC/DISCARD/WATCH against the real binary, and a byte-for-byte
//! comparison of transaction replies with redis-server.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn exec_runs_the_queue_in_order_and_errors_do_not_abort_the_rest() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut r, "SET s abc"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "INCR s"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "SET n 1"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
    assert_eq!(c(&mut r, "GET n"), bulk("1"));
}

#[test]
fn refused_commands_abort_with_execabort() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    c(&mut r, "MULTI");
    assert!(c(&mut r, "NOSUCH x").starts_with("-ERR unknown command 'NOSUCH'"));
    assert_eq!(c(&mut r, "SET a"), "-ERR wrong number of arguments for 'set' command\r\n");
    assert_eq!(c(&mut r, "SET a 1"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c(&mut r, "EXISTS a"), ":0\r\n");
}

#[test]
fn watch_is_broken_by_writes_flush_swapdb_rename_and_expiry() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let scenarios: [(&str, &[&str]); 5] = [
        ("SET k 1", &["SET k 2"]),
        ("SET k 1", &["FLUSHDB"]),
        ("SET k 1", &["SWAPDB 0 1"]),
        ("SET k 1", &["SET other x", "RENAME other k"]),
        ("SET k 1", &["DEL k"]),
    ];
    for (setup, breakers) in scenarios {
        c(&mut a, "FLUSHALL");
        c(&mut a, setup);
        c(&mut a, "WATCH k");
        for cmd in breakers {
            c(&mut b, cmd);
        }
        c(&mut a, "MULTI");
        c(&mut a, "SET k mine");
        assert_eq!(c(&mut a, "EXEC"), "*-1\r\n", "WATCH not broken by {breakers:?}");
    }
    // Expiry: the key vanishes by active expiry while watched.
    c(&mut a, "FLUSHALL");
    c(&mut a, "SET k v PX 50");
    c(&mut a, "WATCH k");
    let mut con = s.conn();
    wait_for(Duration::from_secs(5), "k to expire actively", || {
        redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap() == 0
    });
    c(&mut a, "MULTI");
    c(&mut a, "SET k mine");
    assert_eq!(c(&mut a, "EXEC"), "*-1\r\n");
    // A watch that nothing touched lets EXEC through, and EXEC unwatches.
    c(&mut a, "WATCH k");
    c(&mut a, "MULTI");
    c(&mut a, "SET k mine");
    assert_eq!(c(&mut a, "EXEC"), "*1\r\n+OK\r\n");
    c(&mut b, "SET k theirs");
    c(&mut a, "MULTI");
    c(&mut a, "SET k again");
    assert_eq!(c(&mut a, "EXEC"), "*1\r\n+OK\r\n");
}

#[test]
fn a_transaction_is_atomic_for_other_clients() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut cmds = String::from("MULTI\r\n");
    for _ in 0..1000 {
        cmds.push_str("INCR counter\r\n");
    }
    cmds.push_str("EXEC\r\n");
    a.send(cmds.as_bytes());
    let mut b = s.conn();
    // Any value another client reads is 0 (before) or 1000 (after), never between.
    for _ in 0..200 {
        let v: Option<i64> = redis::cmd("GET").arg("counter").query(&mut b).unwrap();
        assert!(matches!(v, None | Some(1000)), "saw a half-applied transaction: {v:?}");
    }
}

const CASES: &[&str] = &[
    "EXEC",
    "DISCARD",
    "MULTI",
    "MULTI",
    "WATCH k",
    "SET a 1",
    "GET a",
    "INCR a",
    "LPUSH a x",
    "EXEC",
    "MULTI",
    "SET b 2",
    "DISCARD",
    "GET b",
    "WATCH",
    "WATCH k j",
    "UNWATCH",
    "MULTI",
    "NOSUCH",
    "SET",
    "EXEC",
    "MULTI",
    "SHUTDOWN",
    "EXEC",
    "MULTI",
    "PING",
    "ECHO hi",
    "SELECT 2",
    "SET c 3",
    "SELECT 0",
    "EXEC",
    "GET c",
    "SELECT 2",
    "GET c",
    "SELECT 0",
    "MULTI",
    "EXEC",
    "MULTI",
    "MULTI",
    "EXEC",
];

#[test]
fn transaction_replies_match_redis() {
    compare_with_redis(CASES, |_| true);
}
