//! Pub/Sub, the RESP2 subscriber context, RESP3 pushes, keyspace notifications and
//! the output limit for slow subscribers.

mod common;
use common::*;

#[test]
fn subscribe_publish_and_patterns() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    assert_eq!(c(&mut sub, "SUBSCRIBE news"), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    sub.send(&resp(&[b"PSUBSCRIBE", b"n*"]));
    assert_eq!(sub.read_str(), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n");
    let mut p = s.raw();
    assert_eq!(c(&mut p, "PUBLISH news hello"), ":2\r\n");
    assert_eq!(sub.read_str(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    assert_eq!(sub.read_str(), "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    assert_eq!(c(&mut p, "PUBSUB NUMSUB news other"), "*4\r\n$4\r\nnews\r\n:1\r\n$5\r\nother\r\n:0\r\n");
    assert_eq!(c(&mut p, "PUBSUB NUMPAT"), ":1\r\n");
    assert_eq!(c(&mut p, "PUBSUB CHANNELS n*"), "*1\r\n$4\r\nnews\r\n");
    // RESP2 subscriber context: only a few commands, PING answers as a message.
    assert_eq!(
        c(&mut sub, "GET k"),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(c(&mut sub, "PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub.send(&resp(&[b"UNSUBSCRIBE"]));
    assert_eq!(sub.read_str(), "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    sub.send(&resp(&[b"PUNSUBSCRIBE"]));
    assert_eq!(sub.read_str(), "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n");
    assert_eq!(c(&mut sub, "GET k"), "$-1\r\n");
    assert_eq!(c(&mut p, "PUBLISH news again"), ":0\r\n");
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_commands() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    c(&mut sub, "HELLO 3");
    assert_eq!(c(&mut sub, "SUBSCRIBE ch"), ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    assert_eq!(c(&mut sub, "SET k v"), "+OK\r\n");
    let mut p = s.raw();
    c(&mut p, "PUBLISH ch m");
    assert_eq!(sub.read_str(), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
}

#[test]
fn keyspace_notifications() {
    let s = Server::start(&["--notify-keyspace-events", "KEA"]);
    let mut sub = s.raw();
    sub.send(&resp(&[b"PSUBSCRIBE", b"__key*__:*"]));
    sub.read_reply();
    let mut w = s.raw();
    c(&mut w, "SET k v");
    assert_eq!(sub.read_str(), "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n");
    assert_eq!(sub.read_str(), "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n");
    c(&mut w, "PEXPIRE k 10");
    assert!(sub.read_str().contains("expire"));
    assert!(sub.read_str().contains("__keyevent@0__:expire"));
    // The expiry itself is announced once the key is gone.
    assert!(sub.read_str().contains("expired"));
    assert!(sub.read_str().contains("__keyevent@0__:expired"));
    c(&mut w, "DEL nokey");
    run_case(&mut w, "CONFIG SET notify-keyspace-events \\e");
    c(&mut w, "SET k2 v");
    c(&mut w, "CONFIG SET notify-keyspace-events Kg");
    c(&mut w, "DEL k2");
    assert_eq!(
        sub.read_str(),
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$17\r\n__keyspace@0__:k2\r\n$3\r\ndel\r\n"
    );
}

#[test]
fn slow_subscribers_are_disconnected_at_the_pubsub_limit() {
    let s = Server::start(&["--client-output-buffer-limit", "pubsub 100kb 0 0"]);
    let mut sub = s.raw();
    c(&mut sub, "SUBSCRIBE flood");
    let mut p = s.conn();
    let payload = vec![b'x'; 10_000];
    // The subscriber never reads: its pending output passes 100 KB quickly.
    let mut closed = false;
    for _ in 0..2000 {
        let n: i64 = redis::cmd("PUBLISH").arg("flood").arg(&payload).query(&mut p).unwrap();
        if n == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the slow subscriber was never disconnected");
    let pong: String = redis::cmd("PING").query(&mut p).unwrap();
    assert_eq!(pong, "PONG");
}

const CASES: &[&str] = &[
    "PUBLISH",
    "PUBLISH ch",
    "PUBLISH ch msg",
    "PUBSUB",
    "PUBSUB FOO",
    "PUBSUB CHANNELS",
    "PUBSUB NUMSUB",
    "PUBSUB NUMSUB a b",
    "PUBSUB NUMPAT",
    "PUBSUB NUMPAT x",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "UNSUBSCRIBE x y",
    "PUNSUBSCRIBE p*",
];

#[test]
fn pubsub_replies_match_redis() {
    compare_with_redis(CASES, |_| true);
}
