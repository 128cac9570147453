//! Expiry: lazy expiry on access (with the active cycle switched off), the active
//! cycle deleting keys nobody touches, and a million keys expiring at once without
//! latency spikes for other clients.

mod common;
use common::*;

use std::time::{Duration, Instant};

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";

/// A field of `INFO <section>`, e.g. `expired_keys`.
fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{info}"))
        .to_string()
}

fn expired_keys(con: &mut redis::Connection) -> u64 {
    info_field(con, "stats", "expired_keys").parse().expect("expired_keys")
}

#[test]
fn lazy_expiry_on_access() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut con = s.conn();

    assert_eq!(c(&mut r, "DEBUG SET-ACTIVE-EXPIRE 0"), OK);
    let deadline = server_ms(&mut con) + 50;
    assert_eq!(c(&mut r, &format!("SET k v PXAT {deadline}")), OK);
    for name in ["s", "i", "a", "n", "x"] {
        assert_eq!(c(&mut r, &format!("SET {name} 5 PXAT {deadline}")), OK);
    }
    assert_eq!(c(&mut r, "SET keep v"), OK);
    wait_for(Duration::from_secs(5), "the server clock to pass the deadline", || server_ms(&mut con) > deadline + 1);

    // Nobody touched the keys and the active cycle is off: still stored and counted.
    assert_eq!(int(&mut r, "DBSIZE"), 7);
    assert_eq!(expired_keys(&mut con), 0);

    // Every access sees them as gone; a write treats the key as new.
    assert_eq!(c(&mut r, "GET k"), NIL);
    assert_eq!(int(&mut r, "DBSIZE"), 6);
    assert_eq!(expired_keys(&mut con), 1);
    assert_eq!(c(&mut r, "SET s w NX"), OK);
    assert_eq!(int(&mut r, "TTL s"), -1);
    assert_eq!(int(&mut r, "INCR i"), 1);
    assert_eq!(int(&mut r, "APPEND a xy"), 2);
    assert_eq!(int(&mut r, "EXISTS n"), 0);
    assert_eq!(int(&mut r, "TTL x"), -2);
    assert_eq!(int(&mut r, "DBSIZE"), 4);
    assert_eq!(expired_keys(&mut con), 6);

    // Switching the active cycle back on deletes the rest without any access.
    assert_eq!(c(&mut r, "DEBUG SET-ACTIVE-EXPIRE 0"), OK);
    assert_eq!(c(&mut r, "SET late v PX 20"), OK);
    assert_eq!(c(&mut r, "DEBUG SET-ACTIVE-EXPIRE 1"), OK);
    wait_for(Duration::from_secs(5), "the active cycle to delete 'late'", || expired_keys(&mut con) == 7);
    assert_eq!(int(&mut r, "DBSIZE"), 4);
}

#[test]
fn active_expiry_deletes_untouched_keys() {
    let s = Server::start(&[]);
    let mut con = s.conn();

    let mut p = redis::pipe();
    for db in [0, 3] {
        p.cmd("SELECT").arg(db).ignore();
        for i in 0..500 {
            p.cmd("SET").arg(format!("vol:{i}")).arg("v").arg("PX").arg(100 + i % 50).ignore();
        }
        for i in 0..10 {
            p.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
        }
    }
    p.cmd("SELECT").arg(0).ignore();
    p.query::<()>(&mut con).expect("fill");
    let keyspace = |con: &mut redis::Connection, db: u32| info_field(con, "keyspace", &format!("db{db}"));
    assert!(keyspace(&mut con, 0).starts_with("keys=510,expires=500,"), "{}", keyspace(&mut con, 0));

    wait_for(Duration::from_secs(10), "the active cycle to expire 1000 keys", || expired_keys(&mut con) == 1000);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(n, 10);
    assert_eq!(keyspace(&mut con, 0), "keys=10,expires=0,avg_ttl=0");
    assert_eq!(keyspace(&mut con, 3), "keys=10,expires=0,avg_ttl=0");
}

#[test]
fn a_million_keys_expiring_at_once_do_not_stall_other_clients() {
    const N: u64 = 1_000_000;
    let s = Server::start(&[]);
    let mut con = s.conn();

    redis::cmd("DEBUG").arg("POPULATE").arg(N).query::<()>(&mut con).expect("DEBUG POPULATE");
    let n: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(n, N);

    // One shared deadline a little after the pipeline is expected to end: every key
    // becomes due in the same millisecond.
    let deadline = server_ms(&mut con) + 4000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(20_000) {
        let mut p = redis::pipe();
        for i in chunk {
            p.cmd("PEXPIREAT").arg(format!("key:{i}")).arg(deadline).ignore();
        }
        p.query::<()>(&mut con).expect("PEXPIREAT pipeline");
    }
    let volatile = info_field(&mut con, "keyspace", "db0");
    assert!(volatile.starts_with(&format!("keys={N},expires=")), "{volatile}");

    // A second client pings throughout, from before the deadline until all are gone.
    let mut pinger = s.raw();
    let start = Instant::now();
    let mut max = Duration::ZERO;
    let mut pings = 0u64;
    loop {
        let t = Instant::now();
        assert_eq!(c(&mut pinger, "PING"), "+PONG\r\n");
        max = max.max(t.elapsed());
        pings += 1;
        if pings.is_multiple_of(20) && int(&mut pinger, "DBSIZE") == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "keys still present after 60 s: {}",
            int(&mut pinger, "DBSIZE")
        );
    }
    eprintln!("{N} keys expired within {:?}; {pings} pings, max latency {max:?}", start.elapsed());
    assert!(server_ms(&mut con) >= deadline);
    assert!(max < Duration::from_millis(200), "max PING latency {max:?} over {pings} pings while keys expired");
    assert_eq!(expired_keys(&mut con), N);
}
