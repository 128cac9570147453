//! Bad input on the replication link (issue 6, "Bad input"): a primary that sends
//! garbage, a truncated or corrupt snapshot, a wrong checksum, an unknown RDB
//! version, or disconnects at every stage of the handshake and transfer; a replica
//! that never ACKs or leaves mid-transfer; REPLICAOF to itself. The replica keeps
//! its old data and serves it, logs why and retries; the primary stays healthy.
//!
//! The misbehaving primary is played by the test (`FakePrimary`).

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

const REPLID: &str = "0123456789abcdef0123456789abcdef01234567";

/// A listener playing a primary: it answers the handshake and then sends what the
/// test wants.
struct FakePrimary {
    listener: TcpListener,
}

/// One connection from the replica under test.
struct FakeLink {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl FakePrimary {
    fn new() -> FakePrimary {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        FakePrimary { listener }
    }

    fn port(&self) -> String {
        self.listener.local_addr().expect("addr").port().to_string()
    }

    /// The replica's next connection (it retries once a second after a failure).
    fn accept(&self) -> FakeLink {
        let mut accepted = None;
        wait_for(SYNC, "the replica to connect to the fake primary", || {
            accepted = self.listener.accept().ok().map(|(s, _)| s);
            accepted.is_some()
        });
        let stream = accepted.expect("accepted");
        stream.set_nonblocking(false).expect("blocking");
        stream.set_read_timeout(Some(SYNC)).expect("timeout");
        FakeLink { reader: BufReader::new(stream.try_clone().expect("clone")), stream }
    }
}

impl FakeLink {
    /// Reads one command (a RESP array of bulk strings).
    fn command(&mut self) -> Vec<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("command header");
        let n: usize =
            line.trim_end().strip_prefix('*').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
        (0..n)
            .map(|_| {
                line.clear();
                self.reader.read_line(&mut line).expect("bulk header");
                let len: usize = line.trim_end()[1..].parse().expect("bulk length");
                let mut arg = vec![0; len + 2];
                self.reader.read_exact(&mut arg).expect("bulk");
                arg.truncate(len);
                String::from_utf8_lossy(&arg).into_owned()
            })
            .collect()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the replica");
    }

    /// Answers the handshake up to PSYNC, whose arguments it returns.
    fn handshake(&mut self) -> Vec<String> {
        loop {
            let cmd = self.command();
            match cmd[0].to_ascii_uppercase().as_str() {
                "PING" => self.send(b"+PONG\r\n"),
                "PSYNC" => return cmd,
                _ => self.send(b"+OK\r\n"),
            }
        }
    }

    /// Answers the handshake and starts a full sync.
    fn full_resync(&mut self) {
        self.handshake();
        self.send(format!("+FULLRESYNC {REPLID} 0\r\n").as_bytes());
    }

    /// A full sync with `payload` in the `$<len>` framing.
    fn counted_payload(&mut self, payload: &[u8]) {
        self.full_resync();
        self.send(format!("${}\r\n", payload.len()).as_bytes());
        self.send(payload);
    }
}

/// A valid full-sync payload holding `write_mix`'s dataset, and that dataset's digest.
fn valid_payload() -> (Vec<u8>, String) {
    let source = Server::start(FAST);
    let mut s = source.conn();
    write_mix(&mut s, "good");
    let mut raw = source.raw();
    raw.send(b"SYNC\r\n");
    (read_bulk_payload(&mut raw), digest(&mut s))
}

/// A server holding some data of its own, and its digest.
fn replica_with_data() -> (Server, redis::Connection, String) {
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    write_mix(&mut r, "old");
    let before = digest(&mut r);
    (replica, r, before)
}

fn replicaof(r: &mut redis::Connection, port: &str) {
    let _: () = q(r, &["REPLICAOF", "127.0.0.1", port]);
}

/// The replica still serves its old data, and says why in its log.
fn kept(replica: &Server, r: &mut redis::Connection, before: &str, why: &str) {
    assert_eq!(digest(r), before, "the old data is kept ({why})");
    let _: String = q(r, &["PING"]);
    wait_for(SYNC, why, || replica.log().contains(why));
}

#[test]
fn a_bad_snapshot_from_the_primary_keeps_the_old_data_and_is_retried() {
    let (good, good_digest) = valid_payload();
    let (replica, mut r, before) = replica_with_data();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x5a;
    let mut bad_checksum = good.clone();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] ^= 1;
    let mut future = good.clone();
    future[5..9].copy_from_slice(b"0012");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte", flipped),
        ("a wrong checksum", bad_checksum),
        ("an unknown RDB version", future),
        ("garbage", b"this is not an RDB file at all".to_vec()),
        ("a payload cut short by its length", good[..good.len() - 20].to_vec()),
    ];
    for (what, payload) in &cases {
        let mut link = fake.accept();
        link.counted_payload(payload);
        // The next connection shows the replica gave up on this payload and retries.
        let mut retry = fake.accept();
        kept(&replica, &mut r, &before, "Failed trying to load the MASTER synchronization DB");
        assert_eq!(repl_field(&mut r, "master_link_status"), "down", "{what}");
        // The same corruption in the EOF-mark framing.
        retry.full_resync();
        retry.send(format!("$EOF:{REPLID}\r\n").as_bytes());
        retry.send(payload);
        retry.send(REPLID.as_bytes());
        drop(fake.accept());
        assert_eq!(digest(&mut r), before, "{what}, EOF framing");
    }
    // A good payload replaces the old data at last.
    let mut link = fake.accept();
    link.counted_payload(&good);
    wait_for(SYNC, "the link to come up", || repl_field(&mut r, "master_link_status") == "up");
    assert_eq!(digest(&mut r), good_digest);
    let ack = link.command();
    assert_eq!(ack, ["REPLCONF", "ACK", "0"], "the first ACK after the load");
}

#[test]
fn a_primary_that_hangs_up_at_any_stage_is_retried_and_the_old_data_served() {
    let (good, _) = valid_payload();
    let (replica, mut r, before) = replica_with_data();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    // Each stage: what the fake does before hanging up.
    type Stage = Box<dyn Fn(&mut FakeLink)>;
    let half = good.len() / 2;
    let stages: Vec<(&str, Stage)> = vec![
        ("at once", Box::new(|_| {})),
        (
            "after PING",
            Box::new(|l| {
                l.command();
            }),
        ),
        (
            "after PONG",
            Box::new(|l| {
                l.command();
                l.send(b"+PONG\r\n");
            }),
        ),
        (
            "after the first REPLCONF",
            Box::new(|l| {
                l.command();
                l.send(b"+PONG\r\n");
                l.command();
            }),
        ),
        (
            "after PSYNC",
            Box::new(|l| {
                l.handshake();
            }),
        ),
        ("after +FULLRESYNC", Box::new(|l| l.full_resync())),
        (
            "after keepalives",
            Box::new(|l| {
                l.full_resync();
                l.send(b"\n\n\n");
            }),
        ),
        (
            "after the payload length",
            Box::new(move |l| {
                l.full_resync();
                l.send(format!("${}\r\n", half * 2).as_bytes());
            }),
        ),
        (
            "in the middle of the payload",
            Box::new({
                let part = good[..half].to_vec();
                move |l| {
                    l.full_resync();
                    l.send(format!("${}\r\n", part.len() * 2).as_bytes());
                    l.send(&part);
                }
            }),
        ),
        (
            "in the middle of an EOF-framed payload",
            Box::new({
                let part = good[..half].to_vec();
                move |l| {
                    l.full_resync();
                    l.send(format!("$EOF:{REPLID}\r\n").as_bytes());
                    l.send(&part);
                }
            }),
        ),
        (
            "with an error instead of the payload",
            Box::new(|l| {
                l.full_resync();
                l.send(b"-ERR something went wrong\r\n");
            }),
        ),
        (
            "with garbage instead of +FULLRESYNC",
            Box::new(|l| {
                l.handshake();
                l.send(b"+WHATEVER\r\n");
            }),
        ),
        (
            "with a malformed +FULLRESYNC",
            Box::new(|l| {
                l.handshake();
                l.send(b"+FULLRESYNC nonsense\r\n");
            }),
        ),
        (
            "with a malformed payload header",
            Box::new(|l| {
                l.full_resync();
                l.send(b"$12x\r\n");
            }),
        ),
    ];
    for (what, stage) in &stages {
        // Each accept after the first shows the replica retried.
        let mut link = fake.accept();
        stage(&mut link);
        drop(link);
        assert_eq!(digest(&mut r), before, "{what}");
        assert_eq!(repl_field(&mut r, "master_link_status"), "down", "{what}");
    }
    drop(fake.accept());
    kept(&replica, &mut r, &before, "MASTER aborted replication with an error");
    assert!(replica.log().contains("Unexpected reply to PSYNC from master"), "{}", replica.log());
}

#[test]
fn garbage_in_the_stream_drops_the_link_and_psync_continues_from_the_last_good_command() {
    let (good, good_digest) = valid_payload();
    let (replica, mut r, _) = replica_with_data();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    let mut link = fake.accept();
    link.counted_payload(&good);
    assert_eq!(link.command(), ["REPLCONF", "ACK", "0"]);
    let applied = resp(&[b"SET", b"from-stream", b"1"]);
    link.send(&applied);
    wait_for(SYNC, "the streamed write", || {
        let v: Option<String> = q(&mut r, &["GET", "from-stream"]);
        v.is_some()
    });
    link.send(b"*2\r\n$3\r\nSET\r\n$abc\r\n");
    let mut again = fake.accept();
    let psync = again.handshake();
    assert_eq!(
        psync,
        ["PSYNC".to_string(), REPLID.to_string(), (applied.len() + 1).to_string()],
        "PSYNC continues after the last command applied"
    );
    wait_for(SYNC, "the protocol error to be logged", || replica.log().contains("Protocol error from MASTER"));
    // The primary continues the history.
    again.send(format!("+CONTINUE {REPLID}\r\n").as_bytes());
    let del = resp(&[b"DEL", b"from-stream"]);
    again.send(&del);
    wait_for(SYNC, "the stream after +CONTINUE", || {
        let v: Option<String> = q(&mut r, &["GET", "from-stream"]);
        v.is_none()
    });
    assert_eq!(digest(&mut r), good_digest);
    assert_eq!(repl_field(&mut r, "slave_repl_offset"), (applied.len() + del.len()).to_string());
}

#[test]
fn replicaof_itself_or_a_closed_port_keeps_serving_and_retrying() {
    let (replica, mut r, before) = replica_with_data();
    let own = replica.port.to_string();
    replicaof(&mut r, &own);
    wait_for(SYNC, "the refusal to be logged", || {
        replica.log().contains("Master is currently unable to PSYNC but should be in the future: -NOMASTERLINK")
    });
    assert_eq!(digest(&mut r), before);
    assert_eq!(repl_field(&mut r, "master_link_status"), "down");
    let closed = CLOSED_PORT.to_string();
    replicaof(&mut r, &closed);
    wait_for(SYNC, "a second failed connection", || {
        replica.log().matches("Error condition on socket for SYNC").count() >= 2
    });
    assert_eq!(digest(&mut r), before);
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    let _: () = q(&mut r, &["SET", "writable", "again"]);
}

#[test]
fn the_primary_survives_replicas_that_never_ack_or_leave_mid_transfer() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--repl-timeout", "2"]);
    let mut p = primary.conn();
    write_mix(&mut p, "a");
    // A replica that takes the payload and then never acknowledges it.
    let mut silent = primary.raw();
    for cmd in ["REPLCONF listening-port 1", "REPLCONF capa eof capa psync2"] {
        assert_eq!(c(&mut silent, cmd), "+OK\r\n");
    }
    silent.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    // Replicas that leave in the middle of the transfer, in both framings.
    let mut leaving = Vec::new();
    for capa in [true, false] {
        let mut raw = primary.raw();
        if capa {
            assert_eq!(c(&mut raw, "REPLCONF capa eof"), "+OK\r\n");
        }
        raw.send(&resp(&[b"PSYNC", b"?", b"-1"]));
        let mut first = [0u8; 16];
        raw.reader.read_exact(&mut first).expect("the start of the reply");
        leaving.push(raw);
    }
    drop(leaving);
    for i in 0..100 {
        let _: () = q(&mut p, &["SET", &format!("during:{i}"), "v"]);
    }
    wait_for(SYNC, "the silent replica to be dropped after repl-timeout", || {
        let list: String = q(&mut p, &["CLIENT", "LIST", "TYPE", "replica"]);
        list.is_empty()
    });
    assert!(primary.log().contains("Disconnecting timedout replica"), "{}", primary.log());
    // It got +FULLRESYNC and the payload, and then its connection was closed.
    let mut got = Vec::new();
    silent.stream.set_read_timeout(Some(SYNC)).expect("timeout");
    let closed = silent.reader.read_to_end(&mut got);
    assert!(closed.is_ok(), "the silent replica's connection is closed: {closed:?}");
    assert!(got.starts_with(b"+FULLRESYNC "), "{:?}", String::from_utf8_lossy(&got[..got.len().min(60)]));
    // A well-behaved replica still syncs and follows.
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    write_mix(&mut p, "b");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
}

#[test]
fn a_primary_without_psync_is_followed_through_sync_without_acks() {
    let (good, good_digest) = valid_payload();
    let (replica, mut r, _) = replica_with_data();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    let mut link = fake.accept();
    link.handshake();
    link.send(b"-ERR unknown command 'PSYNC'\r\n");
    assert_eq!(link.command(), ["SYNC"]);
    link.send(format!("${}\r\n", good.len()).as_bytes());
    link.send(&good);
    wait_for(SYNC, "the link to come up", || repl_field(&mut r, "master_link_status") == "up");
    assert_eq!(digest(&mut r), good_digest);
    link.send(&resp(&[b"SET", b"after-sync", b"1"]));
    wait_for(SYNC, "the streamed write", || {
        let v: Option<String> = q(&mut r, &["GET", "after-sync"]);
        v.is_some()
    });
    assert!(replica.log().contains("Master does not support PSYNC"), "{}", replica.log());
    // Such a primary gets no REPLCONF ACK (it would answer each with an error).
    link.stream.set_read_timeout(Some(Duration::from_millis(2500))).expect("timeout");
    let mut byte = [0u8; 1];
    match link.reader.read(&mut byte) {
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
        other => panic!("the replica sent something to a pre-PSYNC primary: {other:?} {:?}", byte[0] as char),
    }
}

#[test]
fn a_command_from_the_primary_that_fails_is_reported_or_stops_the_replica_as_configured() {
    let (good, _) = valid_payload();
    let failing = resp(&[b"INCR", b"good:ttl"]);
    let in_exec =
        [resp(&[b"MULTI"]), resp(&[b"SET", b"x", b"1"]), resp(&[b"LPUSH", b"x", b"a"]), resp(&[b"EXEC"])].concat();
    for behaviour in ["ignore", "panic-on-replicas"] {
        let mut replica = Server::start(&["--propagation-error-behavior", behaviour]);
        let mut r = replica.conn();
        let fake = FakePrimary::new();
        replicaof(&mut r, &fake.port());
        let mut link = fake.accept();
        link.counted_payload(&good);
        assert_eq!(link.command(), ["REPLCONF", "ACK", "0"]);
        link.send(&failing);
        let critical = "== CRITICAL == This replica is sending an error to its master: 'ERR value is not an integer or out of range' after processing the command 'incr'";
        if behaviour == "panic-on-replicas" {
            wait_for(SYNC, "the replica to stop", || !replica.alive());
            assert!(replica.log().contains(critical), "{}", replica.log());
            continue;
        }
        wait_for(SYNC, "the error to be reported", || replica.log().contains(critical));
        link.send(&in_exec);
        wait_for(SYNC, "the error inside EXEC to be reported", || {
            replica.log().contains("after processing the command 'exec'")
        });
        assert_eq!(field(&info_of(&mut r, "stats"), "unexpected_error_replies").as_deref(), Some("2"));
        assert_eq!(repl_field(&mut r, "master_link_status"), "up", "ignore: the link stays");
    }
}

#[test]
fn a_silent_primary_times_out_and_a_loading_replica_sends_newlines() {
    let (good, _) = valid_payload();
    // Slow loading (µs per key) and a short timeout.
    let replica = Server::start(&["--repl-timeout", "2", "--key-load-delay", "10000"]);
    let mut r = replica.conn();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    let mut link = fake.accept();
    link.counted_payload(&good);
    // While it loads, the replica tells the primary it is alive.
    let mut newline = [0u8; 1];
    link.reader.read_exact(&mut newline).expect("a keepalive during the load");
    assert_eq!(&newline, b"\n");
    let mut line = String::new();
    wait_for(SYNC, "the first ACK after the load", || {
        line.clear();
        link.reader.read_line(&mut line).expect("read");
        line.starts_with('*')
    });
    // Then the primary stays silent: the replica gives up on it after repl-timeout
    // and connects again.
    let again = fake.accept();
    drop(again);
    assert!(replica.log().contains("MASTER timeout: no data nor PING received"), "{}", replica.log());
    assert!(replica.log().contains("Reconnecting to MASTER"), "{}", replica.log());
}

#[test]
fn the_replica_offset_moves_by_whole_transactions_and_getack_reports_the_offset_before_it() {
    let (good, _) = valid_payload();
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    let mut link = fake.accept();
    link.counted_payload(&good);
    assert_eq!(link.command(), ["REPLCONF", "ACK", "0"]);
    let open = [resp(&[b"MULTI"]), resp(&[b"SET", b"in-multi", b"1"])].concat();
    link.send(&open);
    // Read, but not applied: the offset waits for EXEC.
    wait_for(SYNC, "the open transaction to be read", || {
        repl_field(&mut r, "slave_read_repl_offset") == open.len().to_string()
    });
    assert_eq!(repl_field(&mut r, "slave_repl_offset"), "0");
    let exec = resp(&[b"EXEC"]);
    link.send(&exec);
    let applied = open.len() + exec.len();
    wait_for(SYNC, "the transaction to be applied", || repl_field(&mut r, "slave_repl_offset") == applied.to_string());
    // GETACK: the answer is the offset before the GETACK itself; the
    // once-a-second ACK afterwards includes it.
    let getack = resp(&[b"REPLCONF", b"GETACK", b"*"]);
    link.send(&getack);
    let mut acks = Vec::new();
    wait_for(SYNC, "an ACK that includes the GETACK", || {
        let ack = link.command();
        acks.push(ack[2].clone());
        ack[2] == (applied + getack.len()).to_string()
    });
    assert!(acks.contains(&applied.to_string()), "the GETACK was answered with the offset before it: {acks:?}");
}

#[test]
fn after_an_eof_transfer_the_stream_waits_for_the_first_ack() {
    let primary = Server::start(FAST);
    let mut p = primary.conn();
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, "REPLCONF capa eof capa psync2"), "+OK\r\n");
    raw.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    let mut header = String::new();
    wait_for(SYNC, "the payload header", || {
        header.clear();
        raw.reader.read_line(&mut header).expect("line");
        header.starts_with("$EOF:")
    });
    let mark = header.trim_end().trim_start_matches("$EOF:").as_bytes().to_vec();
    let mut payload = Vec::new();
    wait_for(SYNC, "the end mark", || {
        // Byte by byte: nothing after the mark may be consumed here.
        while !payload.ends_with(&mark) {
            let mut byte = [0u8; 1];
            raw.reader.read_exact(&mut byte).expect("payload");
            payload.push(byte[0]);
        }
        true
    });
    let _: () = q(&mut p, &["SET", "after", "1"]);
    // Nothing follows the mark until the replica acknowledges ...
    raw.stream.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let mut byte = [0u8; 1];
    assert!(raw.reader.read(&mut byte).is_err(), "stream bytes before the first ACK: {:?}", byte[0] as char);
    raw.stream.set_read_timeout(Some(SYNC)).expect("timeout");
    // ...which may carry a FACK as 7.2 replicas send.
    raw.send(&resp(&[b"REPLCONF", b"ACK", b"0", b"FACK", b"0"]));
    let mut stream = String::new();
    wait_for(SYNC, "the stream after the ACK", || {
        let mut line = String::new();
        raw.reader.read_line(&mut line).expect("stream");
        stream.push_str(&line);
        stream.contains("after")
    });
    assert!(stream.starts_with("*2\r\n$6\r\nSELECT\r\n"), "{stream:?}");
}

#[test]
fn stream_bytes_that_came_with_the_psync_reply_are_applied_at_once() {
    let (good, _) = valid_payload();
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    let fake = FakePrimary::new();
    replicaof(&mut r, &fake.port());
    // The payload and the first command in one write.
    let mut link = fake.accept();
    link.full_resync();
    let first = resp(&[b"SET", b"with-payload", b"1"]);
    link.send(&[format!("${}\r\n", good.len()).into_bytes(), good.clone(), first.clone()].concat());
    wait_for(SYNC, "the command sent with the payload", || {
        let v: Option<String> = q(&mut r, &["GET", "with-payload"]);
        v.is_some()
    });
    drop(link);
    // +CONTINUE and a command in one write; nothing follows (no heartbeat).
    let mut again = fake.accept();
    assert_eq!(again.handshake()[2], (first.len() + 1).to_string());
    let next = resp(&[b"SET", b"with-continue", b"1"]);
    again.send(&[format!("+CONTINUE {REPLID}\r\n").into_bytes(), next].concat());
    wait_for(SYNC, "the command sent with +CONTINUE", || {
        let v: Option<String> = q(&mut r, &["GET", "with-continue"]);
        v.is_some()
    });
}

#[test]
fn a_replica_started_with_replicaof_and_no_file_asks_for_a_full_sync() {
    let fake = FakePrimary::new();
    let _replica = Server::start(&["--replicaof", "127.0.0.1", &fake.port()]);
    let mut link = fake.accept();
    // No history to continue: not its own random id (which would count as a
    // failed partial resync on the primary).
    assert_eq!(link.handshake(), ["PSYNC", "?", "-1"]);
}
