//! The wire protocol over raw sockets: inline and multibulk requests, pipelining,
//! RESP3, framing errors (which close only the offending connection), the
//! unauthenticated limits, AUTH/HELLO AUTH, client-query-buffer-limit, maxclients,
//! the idle timeout, binary safety, clients that vanish mid-request, very large
//! values, CLIENT REPLY, QUIT and RESET.
//!
//! Expected bytes are those of redis-server 7.0 (checked by hand against it).

mod common;
use common::*;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const OK: &str = "+OK\r\n";

/// Asserts that another connection is still served normally.
fn still_serving(s: &Server) {
    let mut other = s.raw();
    assert_eq!(c(&mut other, "PING"), "+PONG\r\n");
    assert_eq!(c(&mut other, "SET alive yes"), OK);
    assert_eq!(c(&mut other, "GET alive"), bulk("yes"));
}

/// Sends `bytes` on a fresh connection (while another one stays open) and expects
/// exactly `reply` followed by the server closing only that connection.
fn framing_error(s: &Server, bytes: &[u8], reply: &str) {
    let mut bystander = s.raw();
    assert_eq!(c(&mut bystander, "SET before 1"), OK);
    let mut r = s.raw();
    r.send(bytes);
    assert_eq!(r.read_str(), reply, "reply to {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(60)]));
    assert!(eof_within(&mut r, Duration::from_secs(5)), "connection not closed after {reply:?}");
    assert_eq!(c(&mut bystander, "GET before"), bulk("1"), "the other connection is unaffected");
    still_serving(s);
}

#[test]
fn inline_commands_with_quotes() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    r.send(b"SET k \"hello world\"\r\nGET k\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), bulk("hello world"));
    // Double quotes understand escapes, single quotes only \'; a bare \n ends a line;
    // blank lines are skipped.
    r.send(b"set x \"\\x41\\n\\t\\\"\"\nget x\n\r\n\nset y 'it\\'s \"raw\"'\r\nget y\r\n   PING   \r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), "$4\r\nA\n\t\"\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), bulk("it's \"raw\""));
    assert_eq!(r.read_str(), "+PONG\r\n");
    // Empty quoted arguments are arguments.
    r.send(b"SET e \"\"\r\nSTRLEN e\r\nEXISTS e\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), ":0\r\n");
    assert_eq!(r.read_str(), ":1\r\n");
    // Inline and multibulk mix on one connection.
    let mut mixed = resp(&[b"SET", b"m", b"multi"]);
    mixed.extend_from_slice(b"GET m\r\n");
    mixed.extend_from_slice(&resp(&[b"APPEND", b"m", b"!"]));
    r.send(&mixed);
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), bulk("multi"));
    assert_eq!(r.read_str(), ":6\r\n");
    // A request split over many writes, byte by byte.
    for b in resp(&[b"GET", b"m"]) {
        r.send(&[b]);
    }
    assert_eq!(r.read_str(), bulk("multi!"));
    // Empty and negative multibulk counts are skipped.
    r.send(b"*0\r\n*-5\r\nPING\r\n");
    assert_eq!(r.read_str(), "+PONG\r\n");

    framing_error(&s, b"set \"a\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
    framing_error(&s, b"set \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
}

#[test]
fn pipeline_of_ten_thousand_commands_in_one_write() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        let v = i.to_string();
        match i % 3 {
            0 => batch.extend_from_slice(&resp(&[b"SET", format!("k{i}").as_bytes(), v.as_bytes()])),
            1 => batch.extend_from_slice(&resp(&[b"INCR", b"counter"])),
            _ => batch.extend_from_slice(format!("ECHO {i}\r\n").as_bytes()),
        }
    }
    r.send(&batch);
    let mut incr = 0;
    for i in 0..10_000 {
        let reply = r.read_str();
        let want = match i % 3 {
            0 => OK.to_string(),
            1 => {
                incr += 1;
                format!(":{incr}\r\n")
            }
            _ => bulk(&i.to_string()),
        };
        assert_eq!(reply, want, "reply #{i}");
    }
    assert_eq!(c(&mut r, "DBSIZE"), ":3335\r\n");

    // The same from several connections at once: each gets its own replies in order.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let mut r = s.raw();
            std::thread::spawn(move || {
                let mut batch = Vec::new();
                for i in 0..5_000 {
                    batch.extend_from_slice(&resp(&[b"ECHO", format!("{w}:{i}").as_bytes()]));
                }
                r.send(&batch);
                for i in 0..5_000 {
                    assert_eq!(r.read_str(), bulk(&format!("{w}:{i}")));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
}

#[test]
fn resp3_via_hello() {
    let s = Server::start(&[]);
    let mut r = s.raw();

    let hello = c(&mut r, "HELLO 3");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"), "{hello:?}");
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"), "{hello:?}");
    assert!(
        hello.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
        "{hello:?}"
    );

    assert_eq!(c(&mut r, "GET nokey"), "_\r\n");
    assert_eq!(c(&mut r, "MGET nokey nokey"), "*2\r\n_\r\n_\r\n");
    assert_eq!(c(&mut r, "CONFIG GET port"), format!("%1\r\n$4\r\nport\r\n{}", bulk(&s.port.to_string())));
    let two = c(&mut r, "CONFIG GET maxmemory-policy databases");
    assert!(two.starts_with("%2\r\n"), "{two:?}");
    assert!(two.contains("$9\r\ndatabases\r\n$2\r\n16\r\n"), "{two:?}");
    assert_eq!(c(&mut r, "SET k v"), OK);
    assert_eq!(c(&mut r, "GET k"), bulk("v"));
    assert_eq!(c(&mut r, "INCRBYFLOAT f 1.5"), bulk("1.5"), "INCRBYFLOAT stays a bulk string");
    assert_eq!(c(&mut r, "CLIENT GETNAME"), "_\r\n");

    // HELLO with SETNAME, and back to RESP2.
    let hello = c(&mut r, "HELLO 2 SETNAME proto2");
    assert!(hello.starts_with("*14\r\n$6\r\nserver\r\n"), "{hello:?}");
    assert!(hello.contains("$5\r\nproto\r\n:2\r\n"), "{hello:?}");
    assert_eq!(c(&mut r, "CLIENT GETNAME"), bulk("proto2"));
    assert_eq!(c(&mut r, "GET nokey"), "$-1\r\n");
    assert_eq!(c(&mut r, "CONFIG GET port"), format!("*2\r\n$4\r\nport\r\n{}", bulk(&s.port.to_string())));
    // HELLO without a version just reports, in the current protocol.
    assert!(c(&mut r, "HELLO").starts_with("*14\r\n"));
    assert_eq!(c(&mut r, "HELLO 4"), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(c(&mut r, "GET nokey"), "$-1\r\n", "a refused HELLO keeps the protocol");
}

#[test]
fn framing_errors_close_only_that_connection() {
    let s = Server::start(&[]);

    framing_error(&s, b"*a\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    framing_error(&s, b"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    framing_error(&s, b"*1\r\n+x\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
    framing_error(&s, b"*2\r\n$3\r\nGET\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n");
    framing_error(&s, b"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    framing_error(&s, b"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    framing_error(&s, b"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n");

    let mut inline = vec![b'a'; 64 * 1024 + 100];
    framing_error(&s, &inline, "-ERR Protocol error: too big inline request\r\n");
    inline[0] = b'*';
    inline[1..].fill(b'1');
    framing_error(&s, &inline, "-ERR Protocol error: too big mbulk count string\r\n");
    let mut bulk_count = b"*1\r\n$".to_vec();
    bulk_count.resize(64 * 1024 + 100, b'1');
    framing_error(&s, &bulk_count, "-ERR Protocol error: too big bulk count string\r\n");

    // The limit follows proto-max-bulk-len.
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG SET proto-max-bulk-len 1mb"), OK);
    framing_error(&s, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    let at_limit = vec![b'x'; 1024 * 1024];
    let reply = r.cmd_args(&[b"ECHO", &at_limit]);
    assert_eq!(reply.len(), "$1048576\r\n".len() + at_limit.len() + 2);
}

#[test]
fn pong_then_error_then_close_for_pipelined_bad_frame() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"SET a 1\r\nPING\r\n*1\r\n$-1\r\nSET b 2\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), "+PONG\r\n");
    assert_eq!(r.read_str(), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(eof_within(&mut r, Duration::from_secs(5)));
    let mut other = s.raw();
    assert_eq!(c(&mut other, "GET a"), bulk("1"));
    assert_eq!(c(&mut other, "EXISTS b"), ":0\r\n", "nothing after the bad frame runs");
}

#[test]
fn unauthenticated_limits_and_auth_flows() {
    let s = Server::start(&["--requirepass", "s3cret"]);
    let noauth = "-NOAUTH Authentication required.\r\n";
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

    framing_error_authed(&s, b"*11\r\n", "-ERR Protocol error: unauthenticated multibulk length\r\n");
    framing_error_authed(&s, b"*2\r\n$3\r\nGET\r\n$16385\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n");

    // Right at the limits nothing is refused before AUTH.
    let mut r = s.raw();
    let mut ten: Vec<&[u8]> = vec![b"DEL"];
    ten.extend(std::iter::repeat_n(b"x" as &[u8], 9));
    assert_eq!(r.cmd_args(&ten), noauth.as_bytes());
    assert_eq!(r.cmd_args(&[b"ECHO", &[b'y'; 16384]]), noauth.as_bytes());

    assert_eq!(c(&mut r, "PING"), noauth);
    assert_eq!(c(&mut r, "CLIENT REPLY OFF"), noauth);
    assert_eq!(c(&mut r, "AUTH wrong"), wrongpass);
    assert_eq!(c(&mut r, "AUTH default wrong"), wrongpass);
    assert_eq!(c(&mut r, "AUTH nobody s3cret"), wrongpass);
    let hello_noauth = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";
    assert_eq!(c(&mut r, "HELLO 3"), hello_noauth);
    assert_eq!(c(&mut r, "HELLO 3 AUTH default wrong"), wrongpass);
    assert_eq!(c(&mut r, "AUTH s3cret"), OK);
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");

    // Authenticated: the big limits apply on the same connection.
    let mut eleven: Vec<&[u8]> = vec![b"MSET"];
    eleven.extend(std::iter::repeat_n(b"k" as &[u8], 10));
    assert_eq!(r.cmd_args(&eleven), b"+OK\r\n");
    let big = vec![b'z'; 100_000];
    assert_eq!(r.cmd_args(&[b"SET", b"big", &big]), b"+OK\r\n");
    assert_eq!(c(&mut r, "STRLEN big"), ":100000\r\n");

    // RESET drops the authentication.
    assert_eq!(c(&mut r, "RESET"), "+RESET\r\n");
    assert_eq!(c(&mut r, "GET big"), noauth);
    assert_eq!(c(&mut r, "AUTH default s3cret"), OK);
    assert_eq!(c(&mut r, "STRLEN big"), ":100000\r\n");

    // HELLO AUTH authenticates and switches protocol at once.
    let mut h = s.raw();
    let hello = c(&mut h, "HELLO 3 AUTH default s3cret SETNAME named");
    assert!(hello.starts_with("%7\r\n"), "{hello:?}");
    assert_eq!(c(&mut h, "GET nokey"), "_\r\n");
    assert_eq!(c(&mut h, "CLIENT GETNAME"), bulk("named"));
    let mut h2 = s.raw();
    assert!(c(&mut h2, "HELLO 2 AUTH default s3cret").starts_with("*14\r\n"));
    assert_eq!(c(&mut h2, "PING"), "+PONG\r\n");

    // QUIT works before AUTH.
    let mut q = s.raw();
    assert_eq!(c(&mut q, "QUIT"), OK);
    assert!(eof_within(&mut q, Duration::from_secs(5)));
}

/// Like `framing_error`, for a server with `requirepass s3cret`.
fn framing_error_authed(s: &Server, bytes: &[u8], reply: &str) {
    let mut bystander = s.raw();
    assert_eq!(c(&mut bystander, "AUTH s3cret"), OK);
    let mut r = s.raw();
    r.send(bytes);
    assert_eq!(r.read_str(), reply);
    assert!(eof_within(&mut r, Duration::from_secs(5)), "connection not closed after {reply:?}");
    assert_eq!(c(&mut bystander, "PING"), "+PONG\r\n");
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut bystander = s.raw();
    assert_eq!(c(&mut bystander, "SET k v"), OK);

    let mut r = s.raw();
    let two_mb = 2 * 1024 * 1024;
    r.send(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${two_mb}\r\n").as_bytes());
    // Write half the value; the server may close before taking it all.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < two_mb - 1024 {
        if r.stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(eof_within(&mut r, Duration::from_secs(5)), "client over the query buffer limit not closed");
    assert_eq!(c(&mut bystander, "GET k"), bulk("v"));
    assert_eq!(c(&mut bystander, "EXISTS big"), ":0\r\n");
    still_serving(&s);
}

#[test]
fn maxclients_refuses_extra_connections() {
    let s = Server::start(&["--maxclients", "2"]);
    let mut a = s.raw();
    let connected = |r: &mut Raw| {
        let info = c(r, "INFO clients");
        info.lines().find_map(|l| l.strip_prefix("connected_clients:")).expect("connected_clients").to_string()
    };
    // The harness's readiness probe may still be counted for a moment.
    wait_for(Duration::from_secs(5), "one connected client", || connected(&mut a) == "1");
    let mut b = s.raw();
    assert_eq!(c(&mut b, "PING"), "+PONG\r\n");

    let mut third = s.raw();
    assert_eq!(third.read_str(), "-ERR max number of clients reached\r\n");
    assert!(eof_within(&mut third, Duration::from_secs(5)));
    assert_eq!(c(&mut a, "PING"), "+PONG\r\n");
    let rejected = c(&mut a, "INFO stats");
    assert!(rejected.contains("rejected_connections:1\r\n"), "{rejected}");

    // Freeing a slot lets a new client in; raising the limit too.
    drop(b);
    wait_for(Duration::from_secs(5), "the closed client to go", || connected(&mut a) == "1");
    let mut d = s.raw();
    assert_eq!(c(&mut d, "PING"), "+PONG\r\n");
    assert_eq!(c(&mut a, "CONFIG SET maxclients 3"), OK);
    let mut e = s.raw();
    assert_eq!(c(&mut e, "PING"), "+PONG\r\n");
    let mut f = s.raw();
    assert_eq!(f.read_str(), "-ERR max number of clients reached\r\n");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = Server::start(&["--timeout", "1"]);
    let mut idle = s.raw();
    assert_eq!(c(&mut idle, "PING"), "+PONG\r\n");
    let mut busy = s.raw();
    let start = Instant::now();
    // The busy client talks every 10 ms; the idle one must be closed within ~3 s.
    let mut idle_closed_at = None;
    wait_for(Duration::from_secs(5), "the idle client to be closed", || {
        assert_eq!(c(&mut busy, "PING"), "+PONG\r\n");
        if idle_closed_at.is_none() && eof_within(&mut idle, Duration::from_millis(1)) {
            idle_closed_at = Some(start.elapsed());
        }
        idle_closed_at.is_some() && start.elapsed() > Duration::from_millis(2500)
    });
    let at = idle_closed_at.expect("closed");
    assert!(at >= Duration::from_millis(900), "closed too early: {at:?}");
    assert!(at <= Duration::from_secs(3), "closed too late: {at:?}");
    assert_eq!(c(&mut busy, "PING"), "+PONG\r\n", "an active client is never timed out");
}

#[test]
fn binary_keys_and_values_round_trip() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let keys: [&[u8]; 4] = [b"\0", b"a\r\nb", b"\r\n\r\n$3\r\n", &all[..300]];
    for (i, key) in keys.iter().enumerate() {
        let mut value = all.clone();
        value.push(i as u8);
        assert_eq!(r.cmd_args(&[b"SET", key, &value]), b"+OK\r\n");
        let mut want = format!("${}\r\n", value.len()).into_bytes();
        want.extend_from_slice(&value);
        want.extend_from_slice(b"\r\n");
        assert_eq!(r.cmd_args(&[b"GET", key]), want);
        assert_eq!(r.cmd_args(&[b"STRLEN", key]), format!(":{}\r\n", value.len()).into_bytes());
    }
    assert_eq!(c(&mut r, "DBSIZE"), ":4\r\n");
    assert_eq!(r.cmd_args(&[b"APPEND", b"\0", b"\r\n"]), b":1003\r\n");
    assert_eq!(r.cmd_args(&[b"GETRANGE", b"\0", b"-2", b"-1"]), b"$2\r\n\r\n\r\n");
    assert_eq!(r.cmd_args(&[b"ECHO", b"\0\r\n\0"]), b"$4\r\n\0\r\n\0\r\n");
}

#[test]
fn clients_that_vanish_mid_request_affect_nobody() {
    let s = Server::start(&[]);
    let mut other = s.raw();
    assert_eq!(c(&mut other, "SET k v"), OK);

    // Half a bulk, then gone.
    let mut half = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    half.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nhal").expect("write");
    drop(half);
    // A huge argument count, then gone.
    let mut huge = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    huge.write_all(b"*1000000\r\n$3\r\nSET\r\n").expect("write");
    drop(huge);
    let mut huge = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    huge.write_all(b"*2147483647\r\n").expect("write");
    drop(huge);
    // A large bulk announced, a little sent, then gone.
    let mut big = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc").expect("write");
    drop(big);
    // Many arguments actually sent, then gone.
    let mut many = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    let mut req = b"*1000000\r\n$4\r\nMSET\r\n".to_vec();
    for _ in 0..100_000 {
        req.extend_from_slice(b"$1\r\nx\r\n");
    }
    many.write_all(&req).expect("write");
    drop(many);

    wait_for(Duration::from_secs(5), "the vanished clients to be dropped", || {
        let info = c(&mut other, "INFO clients");
        info.contains("connected_clients:1\r\n")
    });
    assert_eq!(c(&mut other, "GET k"), bulk("v"));
    assert_eq!(c(&mut other, "DBSIZE"), ":1\r\n");
    still_serving(&s);
}

#[test]
fn a_100_mb_value_round_trips() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let len = 100 * 1024 * 1024;
    let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    assert_eq!(r.cmd_args(&[b"SET", b"huge", &value]), b"+OK\r\n");
    assert_eq!(c(&mut r, "STRLEN huge"), format!(":{len}\r\n"));
    let reply = r.cmd("GET huge");
    let header = format!("${len}\r\n");
    assert_eq!(&reply[..header.len()], header.as_bytes());
    assert!(reply[header.len()..header.len() + len] == value[..], "GET returned different bytes");
    assert_eq!(&reply[header.len() + len..], b"\r\n");
    let mut tail = b"$3\r\n".to_vec();
    tail.extend_from_slice(&value[len - 3..]);
    tail.extend_from_slice(b"\r\n");
    assert_eq!(r.cmd("GETRANGE huge -3 -1"), tail);
    still_serving(&s);
}

#[test]
fn client_reply_off_skip_on() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(
        b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\nCLIENT REPLY OFF\r\nSET b 2\r\nGET b\r\nNOSUCHCMD\r\n\
          CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nGET b\r\n",
    );
    assert_eq!(r.read_str(), bulk("1"), "SKIP hides only the next reply");
    assert_eq!(r.read_str(), OK, "ON answers +OK");
    assert_eq!(r.read_str(), bulk("2"), "commands ran while replies were off");
    // ON right after SKIP cancels the skip and answers.
    r.send(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), "+PONG\r\n");
    // SKIP followed by an error: the error is skipped too.
    r.send(b"CLIENT REPLY SKIP\r\nNOSUCHCMD\r\nPING\r\n");
    assert_eq!(r.read_str(), "+PONG\r\n");
    // SKIP twice in a row: the second SKIP's own reply is the one skipped... and it
    // arms a new skip for the command after it.
    r.send(b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nECHO one\r\nECHO two\r\n");
    assert_eq!(r.read_str(), bulk("two"));
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"SET a 1\r\nQUIT\r\nSET q 1\r\n");
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), OK);
    assert!(eof_within(&mut r, Duration::from_secs(5)));
    let mut other = s.raw();
    assert_eq!(c(&mut other, "EXISTS q"), ":0\r\n", "nothing after QUIT runs");
    let mut extra = s.raw();
    assert_eq!(c(&mut extra, "QUIT with arguments"), OK, "QUIT ignores its arguments");
    assert!(eof_within(&mut extra, Duration::from_secs(5)));
}

#[test]
fn reset_restores_connection_defaults() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SET k v"), OK);
    r.send(b"HELLO 3\r\nSELECT 5\r\nCLIENT SETNAME x\r\nCLIENT REPLY OFF\r\nRESET\r\n");
    assert!(r.read_str().starts_with("%7\r\n"));
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), OK);
    assert_eq!(r.read_str(), "+RESET\r\n");
    assert_eq!(c(&mut r, "GET nokey"), "$-1\r\n", "back to RESP2 with replies on");
    assert_eq!(c(&mut r, "CLIENT GETNAME"), "$-1\r\n");
    assert_eq!(c(&mut r, "GET k"), bulk("v"), "back to db 0");
    let info = c(&mut r, "CLIENT INFO");
    assert!(info.contains(" db=0 ") && info.contains(" name= ") && info.trim_end().ends_with(" resp=2"), "{info}");
}
