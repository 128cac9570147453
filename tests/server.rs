//! Server commands as behaviour: INFO sections and fields, CONFIG GET/SET/REWRITE,
//! CLIENT LIST/INFO/KILL/PAUSE, SLOWLOG, MONITOR, DEBUG DIGEST/DIGEST-VALUE/POPULATE,
//! TIME, COMMAND and SHUTDOWN.
//!
//! Expected replies are those of redis-server 7.0 (checked by hand against it, and
//! compared live where a test says so).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const OK: &str = "+OK\r\n";

/// `INFO <section>` as text.
fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).expect("INFO")
}

/// One field of `INFO <section>`.
fn field(con: &mut redis::Connection, section: &str, name: &str) -> String {
    let text = info(con, section);
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}:\n{text}"))
        .to_string()
}

/// The `addr` of a raw connection as the server sees it.
fn addr_of(r: &Raw) -> String {
    r.stream.local_addr().expect("local addr").to_string()
}

/// The field names of each INFO section: `section -> names`, in order.
fn info_shape(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            out.push((h.to_string(), Vec::new()));
        } else if let Some((name, _)) = line.split_once(':') {
            out.last_mut().expect("field before a section header").1.push(name.to_string());
        }
    }
    out
}

#[test]
fn info_fields_move() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let mut r = s.raw();

    let run_id = field(&mut con, "server", "run_id");
    assert_eq!(run_id.len(), 40, "{run_id}");
    assert!(run_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{run_id}");
    assert_eq!(field(&mut con, "server", "run_id"), run_id, "run_id is stable");
    assert_eq!(field(&mut con, "server", "tcp_port"), s.port.to_string());
    assert_eq!(field(&mut con, "server", "process_id"), s.child.id().to_string());

    // connected_clients counts every open connection.
    wait_for(Duration::from_secs(5), "2 clients", || field(&mut con, "clients", "connected_clients") == "2");
    let extra: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    wait_for(Duration::from_secs(5), "5 clients", || field(&mut con, "clients", "connected_clients") == "5");
    drop(extra);
    wait_for(Duration::from_secs(5), "back to 2 clients", || field(&mut con, "clients", "connected_clients") == "2");

    // Keyspace line format.
    assert_eq!(info(&mut con, "keyspace").trim_end(), "# Keyspace");
    assert_eq!(c(&mut r, "MSET a 1 b 2 c 3"), OK);
    assert_eq!(c(&mut r, "EXPIRE a 1000"), ":1\r\n");
    assert_eq!(c(&mut r, "SELECT 2"), OK);
    assert_eq!(c(&mut r, "SET x 1"), OK);
    assert_eq!(c(&mut r, "SELECT 0"), OK);
    let ks = info(&mut con, "keyspace");
    let lines: Vec<&str> = ks.lines().collect();
    assert_eq!(lines.len(), 3, "{ks}");
    let db0 = lines[1].strip_prefix("db0:keys=3,expires=1,avg_ttl=").unwrap_or_else(|| panic!("{ks}"));
    let avg: u64 = db0.parse().expect("avg_ttl");
    assert!(avg <= 1_000_000, "avg_ttl {avg}");
    assert_eq!(lines[2], "db2:keys=1,expires=0,avg_ttl=0");

    // Hits and misses.
    let hits: u64 = field(&mut con, "stats", "keyspace_hits").parse().expect("hits");
    let misses: u64 = field(&mut con, "stats", "keyspace_misses").parse().expect("misses");
    assert_eq!(c(&mut r, "GET a"), bulk("1"));
    assert_eq!(c(&mut r, "GET b"), bulk("2"));
    assert_eq!(c(&mut r, "GET nokey"), "$-1\r\n");
    assert_eq!(c(&mut r, "MGET a nokey nokey2"), "*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n");
    assert_eq!(field(&mut con, "stats", "keyspace_hits"), (hits + 3).to_string());
    assert_eq!(field(&mut con, "stats", "keyspace_misses"), (misses + 3).to_string());

    // Commandstats and errorstats, from a clean slate.
    assert_eq!(c(&mut r, "CONFIG RESETSTAT"), OK);
    assert_eq!(field(&mut con, "stats", "keyspace_hits"), "0");
    assert_eq!(c(&mut r, "GET a"), bulk("1"));
    assert_eq!(c(&mut r, "GET a"), bulk("1"));
    assert_eq!(c(&mut r, "GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(c(&mut r, "SET s x"), OK);
    assert_eq!(c(&mut r, "INCR s"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c(&mut r, "NOSUCHCMD"), "-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n");
    let cs = info(&mut con, "commandstats");
    let get = cs.lines().find(|l| l.starts_with("cmdstat_get:")).unwrap_or_else(|| panic!("{cs}"));
    assert!(get.starts_with("cmdstat_get:calls=2,usec="), "{get}");
    assert!(get.contains(",usec_per_call="), "{get}");
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    let incr = cs.lines().find(|l| l.starts_with("cmdstat_incr:")).unwrap_or_else(|| panic!("{cs}"));
    assert!(incr.starts_with("cmdstat_incr:calls=1,") && incr.ends_with(",rejected_calls=0,failed_calls=1"), "{incr}");
    assert!(!cs.contains("cmdstat_nosuchcmd"), "{cs}");
    assert_eq!(info(&mut con, "errorstats").trim_end(), "# Errorstats\r\nerrorstat_ERR:count=3");
    assert_eq!(field(&mut con, "stats", "total_error_replies"), "3");
    assert_eq!(c(&mut r, "CONFIG RESETSTAT"), OK);
    assert_eq!(info(&mut con, "errorstats").trim_end(), "# Errorstats");

    // Section selection.
    let default = info(&mut con, "default");
    let headers: Vec<&str> = default.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    let all = info(&mut con, "all");
    assert!(all.contains("# Commandstats\r\n"), "INFO all has commandstats");
    let two: String = redis::cmd("INFO").arg("cpu").arg("server").query(&mut con).expect("INFO");
    let headers: Vec<&str> = two.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(headers, ["# Server", "# CPU"]);
    assert_eq!(info(&mut con, "nosuchsection"), "");
}

#[test]
fn info_field_names_match_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server not installed: skipping");
        return;
    };
    let s = Server::start(&[]);
    let mut ours = s.conn();
    let mut theirs = redis.conn();
    for con in [&mut ours, &mut theirs] {
        redis::cmd("SET").arg("k").arg("v").arg("EX").arg(100).query::<()>(con).expect("SET");
        redis::cmd("GET").arg("k").query::<String>(con).expect("GET");
    }
    let ours_shape = info_shape(&info(&mut ours, "everything"));
    let theirs_shape = info_shape(&info(&mut theirs, "everything"));
    let headers = |shape: &[(String, Vec<String>)]| shape.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>();
    assert_eq!(headers(&ours_shape), headers(&theirs_shape), "INFO everything sections");

    let mut missing = Vec::new();
    for (section, names) in &theirs_shape {
        if section == "Commandstats" || section == "Latencystats" {
            continue; // per-command lines, compared below
        }
        let ours_names: BTreeSet<&String> =
            ours_shape.iter().filter(|(h, _)| h == section).flat_map(|(_, n)| n).collect();
        for name in names {
            if !ours_names.contains(name) {
                missing.push(format!("{section}/{name}"));
            }
        }
    }
    assert!(missing.is_empty(), "INFO fields redis-server 7.0 prints and moonkv does not: {missing:?}");

    // CLIENT INFO has the same fields, in the same order.
    let names = |line: String| {
        line.split_whitespace().map(|kv| kv.split('=').next().unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    let ci_ours: String = redis::cmd("CLIENT").arg("INFO").query(&mut ours).expect("CLIENT INFO");
    let ci_theirs: String = redis::cmd("CLIENT").arg("INFO").query(&mut theirs).expect("CLIENT INFO");
    assert_eq!(names(ci_ours), names(ci_theirs), "CLIENT INFO fields");
}

#[test]
fn config_get_set_effects() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut con = s.conn();

    // Several at once, atomically: one bad value changes nothing.
    assert_eq!(c(&mut r, "CONFIG SET maxclients 50 hz 20"), OK);
    assert_eq!(c(&mut r, "CONFIG GET maxclients"), "*2\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n");
    assert_eq!(field(&mut con, "clients", "maxclients"), "50");
    assert_eq!(field(&mut con, "server", "hz"), "20");
    assert_eq!(
        c(&mut r, "CONFIG SET maxclients 60 timeout abc"),
        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(c(&mut r, "CONFIG GET maxclients"), "*2\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n");

    // Patterns.
    let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory*").query(&mut con).expect("CONFIG GET");
    let names: BTreeSet<&str> = got.iter().step_by(2).map(|s| s.as_str()).collect();
    for want in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
        assert!(names.contains(want), "{want} not in {names:?}");
    }
    assert!(names.iter().all(|n| n.starts_with("maxmemory")), "{names:?}");

    // requirepass applies to new connections; the current one stays authenticated.
    assert_eq!(c(&mut r, "CONFIG SET requirepass pw"), OK);
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    let mut fresh = s.raw();
    assert_eq!(c(&mut fresh, "PING"), "-NOAUTH Authentication required.\r\n");
    assert_eq!(c(&mut fresh, "AUTH pw"), OK);
    assert_eq!(c(&mut r, "CONFIG SET requirepass \"\""), OK);

    // proto-max-bulk-len changes what SETRANGE accepts.
    assert_eq!(c(&mut r, "CONFIG SET proto-max-bulk-len 2mb"), OK);
    assert_eq!(c(&mut r, "SETRANGE k 2097152 x"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    assert_eq!(int(&mut r, "SETRANGE k 2097151 x"), 2097152);

    // CONFIG REWRITE needs a file.
    assert_eq!(c(&mut r, "CONFIG REWRITE"), "-ERR The server is running without a config file\r\n");
}

#[test]
fn config_rewrite_keeps_comments_and_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("moonkv.conf");
    let original = format!(
        "# Top comment: keep me\n\
         port {port}\n\
         bind 127.0.0.1\n\
         \n\
         # Limits\n\
         timeout 0\n\
         maxclients 100\n\
         save \"\"\n\
         # dir comment\n\
         dir {}\n\
         enable-debug-command yes\n",
        dir.path().display()
    );
    std::fs::write(&conf, &original).expect("write config");
    let dir_path = dir.path().display().to_string();
    let s = start_with_config(&conf, port, dir);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG GET maxclients"), "*2\r\n$10\r\nmaxclients\r\n$3\r\n100\r\n");
    assert_eq!(c(&mut r, "CONFIG SET maxclients 50"), OK);
    assert_eq!(c(&mut r, "CONFIG SET hz 20"), OK);
    assert_eq!(c(&mut r, "CONFIG REWRITE"), OK);
    let info: String = redis::cmd("INFO").arg("server").query(&mut s.conn()).expect("INFO");
    assert!(info.contains(&format!("config_file:{}\r\n", conf.display())), "{info}");

    let rewritten = std::fs::read_to_string(&conf).expect("read config");
    let lines: Vec<&str> = rewritten.lines().collect();
    // The original lines stay where they were; only the changed one is replaced.
    assert_eq!(
        &lines[..6],
        &["# Top comment: keep me", &format!("port {port}"), "bind 127.0.0.1", "", "# Limits", "timeout 0"],
        "{rewritten}"
    );
    assert_eq!(lines[6], "maxclients 50", "{rewritten}");
    assert_eq!(lines[7], "save \"\"", "{rewritten}");
    assert_eq!(lines[8], "# dir comment", "{rewritten}");
    assert!(lines[9].starts_with("dir "), "{rewritten}");
    assert_eq!(lines[10], "enable-debug-command yes", "{rewritten}");
    // New settings are appended after Redis's marker.
    let marker =
        lines.iter().position(|l| *l == "# Generated by CONFIG REWRITE").unwrap_or_else(|| panic!("{rewritten}"));
    assert!(marker > 10);
    assert!(lines[marker..].contains(&"hz 20"), "{rewritten}");
    assert_eq!(rewritten.matches("maxclients").count(), 1, "{rewritten}");

    // The rewritten file starts a server with the new values.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let port2 = free_port();
    let conf2 = dir2.path().join("copy.conf");
    let copy = rewritten
        .replace(&format!("port {port}"), &format!("port {port2}"))
        .replace(&dir_path, &dir2.path().display().to_string());
    std::fs::write(&conf2, copy).expect("write copy");
    drop(s);
    let s2 = start_with_config(&conf2, port2, dir2);
    let mut r2 = s2.raw();
    assert_eq!(c(&mut r2, "CONFIG GET maxclients"), "*2\r\n$10\r\nmaxclients\r\n$2\r\n50\r\n");
    assert_eq!(c(&mut r2, "CONFIG GET hz"), "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n");
}

/// Starts moonkv with `conf` as its only argument (the file sets port and dir).
fn start_with_config(conf: &std::path::Path, port: u16, dir: tempfile::TempDir) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_moonkv"))
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn moonkv");
    let mut s = Server { child, port, dir };
    wait_for(Duration::from_secs(10), "the server to accept connections", || {
        assert!(s.alive(), "server exited at start-up");
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    s
}

#[test]
fn client_list_info_kill() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut named: Vec<Raw> = (0..4).map(|_| s.raw()).collect();
    let mut ids = Vec::new();
    for (i, r) in named.iter_mut().enumerate() {
        assert_eq!(c(r, &format!("CLIENT SETNAME conn{i}")), OK);
        ids.push(int(r, "CLIENT ID"));
    }

    let list = c(&mut admin, "CLIENT LIST");
    for (i, r) in named.iter().enumerate() {
        let line = list.lines().find(|l| l.contains(&format!(" name=conn{i} "))).unwrap_or_else(|| panic!("{list}"));
        assert!(line.starts_with(&format!("id={} addr={} ", ids[i], addr_of(r))), "{line}");
        assert!(line.contains(&format!(" laddr=127.0.0.1:{} ", s.port)), "{line}");
        assert!(line.contains(" db=0 ") && line.contains(" cmd=client|id "), "{line}");
    }
    let mine = c(&mut admin, "CLIENT INFO");
    assert!(mine.contains(" cmd=client|info "), "{mine}");
    let only = c(&mut admin, &format!("CLIENT LIST ID {} {}", ids[0], ids[2]));
    let only_lines: Vec<&str> = only.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(only_lines.len(), 2, "{only}");

    // KILL ID.
    assert_eq!(int(&mut admin, &format!("CLIENT KILL ID {}", ids[0])), 1);
    assert!(eof_within(&mut named[0], Duration::from_secs(5)));
    assert_eq!(int(&mut admin, &format!("CLIENT KILL ID {}", ids[0])), 0);
    // KILL ADDR, and the old form.
    let addr1 = addr_of(&named[1]);
    assert_eq!(int(&mut admin, &format!("CLIENT KILL ADDR {addr1}")), 1);
    assert!(eof_within(&mut named[1], Duration::from_secs(5)));
    let addr2 = addr_of(&named[2]);
    assert_eq!(c(&mut admin, &format!("CLIENT KILL {addr2}")), OK);
    assert!(eof_within(&mut named[2], Duration::from_secs(5)));
    assert_eq!(c(&mut admin, &format!("CLIENT KILL {addr2}")), "-ERR No such client\r\n");
    assert_eq!(c(&mut named[3], "PING"), "+PONG\r\n", "other clients untouched");

    // SKIPME: yes by default, so killing oneself by ID needs SKIPME no.
    let me = int(&mut admin, "CLIENT ID");
    assert_eq!(int(&mut admin, &format!("CLIENT KILL ID {me}")), 0);
    assert_eq!(int(&mut admin, &format!("CLIENT KILL LADDR 127.0.0.1:{} SKIPME yes", s.port)), 1);
    assert!(eof_within(&mut named[3], Duration::from_secs(5)));
    assert_eq!(c(&mut admin, "PING"), "+PONG\r\n");
    let mut last = s.raw();
    assert_eq!(c(&mut last, "PING"), "+PONG\r\n");
    assert_eq!(int(&mut admin, "CLIENT KILL USER default SKIPME yes"), 1);
    assert!(eof_within(&mut last, Duration::from_secs(5)));
    assert_eq!(int(&mut admin, &format!("CLIENT KILL ID {me} SKIPME no")), 1);
    assert!(eof_within(&mut admin, Duration::from_secs(5)));
    still(&s);
}

/// A fresh connection is served.
fn still(s: &Server) {
    let mut r = s.raw();
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn client_pause_write_blocks_writes_only() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut reader = s.raw();
    assert_eq!(c(&mut admin, "SET k old"), OK);

    // A timed pause: reads go through, a write waits for the pause to end.
    assert_eq!(c(&mut admin, "CLIENT PAUSE 600 WRITE"), OK);
    let start = Instant::now();
    assert_eq!(c(&mut reader, "GET k"), bulk("old"));
    assert_eq!(c(&mut reader, "PING"), "+PONG\r\n");
    assert!(start.elapsed() < Duration::from_millis(300), "reads were paused: {:?}", start.elapsed());
    let mut writer = s.raw();
    assert_eq!(c(&mut writer, "SET k new"), OK);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(500), "write not paused: {waited:?}");
    assert!(waited < Duration::from_secs(3), "write paused too long: {waited:?}");
    assert_eq!(c(&mut reader, "GET k"), bulk("new"));

    // UNPAUSE releases a waiting write at once.
    assert_eq!(c(&mut admin, "CLIENT PAUSE 20000 WRITE"), OK);
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let reply = c(&mut writer, "SET k released");
        (reply, Instant::now())
    });
    wait_for(Duration::from_secs(5), "the write to be held for 300 ms", || {
        start.elapsed() > Duration::from_millis(300)
    });
    assert!(!writer.is_finished(), "write ran during CLIENT PAUSE WRITE");
    assert_eq!(c(&mut reader, "GET k"), bulk("new"));
    let unpaused = Instant::now();
    assert_eq!(c(&mut admin, "CLIENT UNPAUSE"), OK);
    let (reply, done) = writer.join().expect("writer");
    assert_eq!(reply, OK);
    assert!(done.duration_since(unpaused) < Duration::from_secs(1), "UNPAUSE did not release the write");
    assert_eq!(c(&mut reader, "GET k"), bulk("released"));

    // PAUSE ALL holds reads too.
    assert_eq!(c(&mut admin, "CLIENT PAUSE 400 ALL"), OK);
    let start = Instant::now();
    assert_eq!(c(&mut reader, "GET k"), bulk("released"));
    assert!(start.elapsed() >= Duration::from_millis(300), "read not paused: {:?}", start.elapsed());
}

#[test]
fn slowlog_records_and_trims() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut con = s.conn();

    assert_eq!(c(&mut r, "CONFIG SET slowlog-log-slower-than 0"), OK);
    assert_eq!(c(&mut r, "SLOWLOG RESET"), OK);
    assert_eq!(c(&mut r, "CLIENT SETNAME slowpoke"), OK);
    assert_eq!(c(&mut r, "SET k v"), OK);
    let many: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(many.iter().map(|s| s.as_bytes()));
    assert_eq!(r.cmd_args(&del), b":0\r\n");
    let long = "a".repeat(200);
    assert_eq!(r.cmd_args(&[b"SET", b"k", long.as_bytes()]), b"+OK\r\n");

    type Entry = (i64, i64, i64, Vec<String>, String, String);
    let entries: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").arg(3).query(&mut con).expect("SLOWLOG GET");
    assert_eq!(entries.len(), 3);
    let (id_long, ts, us, args, addr, name) = &entries[0];
    assert_eq!(args, &["SET".to_string(), "k".into(), format!("{}... (72 more bytes)", "a".repeat(128))]);
    assert_eq!(addr, &addr_of(&r));
    assert_eq!(name, "slowpoke");
    assert!(*us >= 0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    assert!((now - ts).abs() <= 5, "timestamp {ts}");
    let (id_del, _, _, args, _, _) = &entries[1];
    assert_eq!(args.len(), 32);
    assert_eq!(args[0], "DEL");
    assert_eq!(args[30], "30");
    assert_eq!(args[31], "... (10 more arguments)");
    assert_eq!(*id_del + 1, *id_long, "ids count up");
    assert_eq!(entries[2].3, ["SET", "k", "v"]);

    // LEN counts everything logged since RESET (RESET itself included), max-len trims.
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).expect("LEN");
    assert!(len >= 5, "{len}");
    assert_eq!(c(&mut r, "CONFIG SET slowlog-max-len 2"), OK);
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    assert_eq!(int(&mut r, "SLOWLOG LEN"), 2);
    let all: Vec<Entry> = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(&mut con).expect("SLOWLOG GET");
    assert_eq!(all.len(), 2);

    // A high threshold logs nothing new.
    assert_eq!(c(&mut r, "CONFIG SET slowlog-log-slower-than 1000000"), OK);
    assert_eq!(c(&mut r, "SLOWLOG RESET"), OK);
    assert_eq!(c(&mut r, "SET k v"), OK);
    assert_eq!(int(&mut r, "SLOWLOG LEN"), 0);
    assert_eq!(c(&mut r, "DEBUG SLEEP 1.1"), OK);
    assert_eq!(int(&mut r, "SLOWLOG LEN"), 1, "DEBUG SLEEP 1.1 is slower than 1 s");
}

#[test]
fn monitor_streams_commands() {
    let s = Server::start(&[]);
    let mut mon = s.raw();
    assert_eq!(c(&mut mon, "MONITOR"), OK);
    let mut r = s.raw();
    let addr = addr_of(&r);
    assert_eq!(c(&mut r, "SET k v"), OK);
    assert_eq!(r.cmd_args(&[b"SET", b"a\"b", b"x\ty\0\xff"]), b"+OK\r\n");
    assert_eq!(c(&mut r, "SELECT 3"), OK);
    assert_eq!(c(&mut r, "GET k"), "$-1\r\n");
    assert_eq!(c(&mut r, "AUTH secret"), "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");

    let line = |mon: &mut Raw| {
        let l = mon.read_str();
        let rest = l.strip_prefix('+').unwrap_or_else(|| panic!("{l:?}"));
        let (ts, rest) = rest.split_once(' ').expect("timestamp");
        let (secs, micros) = ts.split_once('.').expect("secs.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6 && micros.parse::<u32>().is_ok(), "{l:?}");
        rest.trim_end_matches("\r\n").to_string()
    };
    assert_eq!(line(&mut mon), format!("[0 {addr}] \"SET\" \"k\" \"v\""));
    assert_eq!(line(&mut mon), format!("[0 {addr}] \"SET\" \"a\\\"b\" \"x\\ty\\x00\\xff\""));
    assert_eq!(line(&mut mon), format!("[3 {addr}] \"SELECT\" \"3\""));
    assert_eq!(line(&mut mon), format!("[3 {addr}] \"GET\" \"k\""));
    assert_eq!(line(&mut mon), format!("[3 {addr}] \"AUTH\" \"(redacted)\""));

    // The monitor connection itself takes only QUIT/RESET-like commands; a second
    // monitor sees the same stream.
    let mut mon2 = s.raw();
    assert_eq!(c(&mut mon2, "MONITOR"), OK);
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    assert_eq!(line(&mut mon), format!("[3 {addr}] \"PING\""));
    assert_eq!(line(&mut mon2), format!("[3 {addr}] \"PING\""));
    // HELLO's credentials are redacted too (the default user has no password here).
    assert!(c(&mut r, "HELLO 2 AUTH default pw").starts_with("*14\r\n"));
    let hello = format!("[3 {addr}] \"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\"");
    assert_eq!(line(&mut mon), hello);
    assert_eq!(line(&mut mon2), hello);
}

#[test]
fn debug_digest_is_order_independent() {
    let a = Server::start(&[]);
    let b = Server::start(&[]);
    let mut ra = a.raw();
    let mut rb = b.raw();
    let digest = |r: &mut Raw| {
        let d = c(r, "DEBUG DIGEST");
        assert!(d.starts_with("+") && d.len() == 43, "{d:?}");
        d
    };
    let zeros = format!("+{}\r\n", "0".repeat(40));
    assert_eq!(digest(&mut ra), zeros, "empty dataset");

    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64 + 3_600_000;
    for i in 0..200 {
        assert_eq!(c(&mut ra, &format!("SET k{i} v{i}")), OK);
    }
    assert_eq!(c(&mut ra, &format!("PEXPIREAT k7 {deadline}")).as_str(), ":1\r\n");
    assert_eq!(c(&mut ra, "SELECT 4"), OK);
    assert_eq!(c(&mut ra, "SET other x"), OK);

    // b: other order, detours through other values and deletes.
    assert_eq!(c(&mut rb, "SELECT 4"), OK);
    assert_eq!(c(&mut rb, "SET other y"), OK);
    assert_eq!(c(&mut rb, "APPEND junk 1"), ":1\r\n");
    assert_eq!(c(&mut rb, "SELECT 0"), OK);
    for i in (0..200).rev() {
        assert_eq!(c(&mut rb, &format!("SET k{i} tmp EX 100")), OK);
        assert_eq!(c(&mut rb, &format!("SET k{i} v{i}")), OK);
    }
    assert_eq!(c(&mut rb, &format!("PEXPIREAT k7 {deadline}")), ":1\r\n");
    assert_ne!(digest(&mut ra), digest(&mut rb));
    assert_eq!(c(&mut rb, "SELECT 4"), OK);
    assert_eq!(c(&mut rb, "SET other x"), OK);
    assert_eq!(c(&mut rb, "DEL junk"), ":1\r\n");
    assert_eq!(digest(&mut ra), digest(&mut rb), "equal datasets, equal digests");

    // The digest sees TTL deadlines (moonkv mixes in the deadline itself, where Redis
    // only mixes in that a key has one), databases and values.
    assert_eq!(c(&mut rb, "SELECT 0"), OK);
    assert_eq!(c(&mut rb, &format!("PEXPIREAT k7 {}", deadline + 1)), ":1\r\n");
    assert_ne!(digest(&mut ra), digest(&mut rb), "a different TTL");
    assert_eq!(c(&mut rb, &format!("PEXPIREAT k7 {deadline}")), ":1\r\n");
    assert_eq!(digest(&mut ra), digest(&mut rb));
    assert_eq!(c(&mut rb, "PERSIST k7"), ":1\r\n");
    assert_ne!(digest(&mut ra), digest(&mut rb), "no TTL");
    assert_eq!(c(&mut rb, &format!("PEXPIREAT k7 {deadline}")), ":1\r\n");
    assert_eq!(c(&mut rb, "MOVE k8 5"), ":1\r\n");
    assert_ne!(digest(&mut ra), digest(&mut rb), "another database");
    assert_eq!(c(&mut rb, "SELECT 5"), OK);
    assert_eq!(c(&mut rb, "MOVE k8 0"), ":1\r\n");
    assert_eq!(digest(&mut ra), digest(&mut rb));
    assert_eq!(c(&mut rb, "SELECT 0"), OK);
    assert_eq!(c(&mut rb, "SET k9 V9"), OK);
    assert_ne!(digest(&mut ra), digest(&mut rb), "another value");
    // Integer-encoded and string-encoded equal values digest the same.
    assert_eq!(c(&mut ra, "SELECT 0"), OK);
    assert_eq!(c(&mut ra, "SET k9 12"), OK);
    assert_eq!(c(&mut rb, "SET k9 1"), OK);
    assert_eq!(c(&mut rb, "APPEND k9 2"), ":2\r\n");
    assert_eq!(digest(&mut ra), digest(&mut rb));

    // DIGEST-VALUE: per key, zeros for missing keys.
    let dv = c(&mut ra, "DEBUG DIGEST-VALUE k1 k2 nokey");
    let parts: Vec<&str> = dv.split("\r\n").collect();
    assert_eq!(parts.len(), 5, "{dv:?}");
    assert_eq!(parts[0], "*3", "{dv:?}");
    assert!(parts[1].starts_with('+') && parts[1].len() == 41, "{dv:?}");
    assert_ne!(parts[1], parts[2], "{dv:?}");
    assert_eq!(parts[3], format!("+{}", "0".repeat(40)), "{dv:?}");
    assert_eq!(c(&mut rb, "DEBUG DIGEST-VALUE k1 k2 nokey"), dv, "same values, same digests");
    assert_eq!(c(&mut ra, "SET copy v1"), OK);
    let one = c(&mut ra, "DEBUG DIGEST-VALUE k1");
    assert_eq!(c(&mut ra, "DEBUG DIGEST-VALUE copy"), one, "the value digest ignores the key name");
    assert_eq!(c(&mut ra, "DEBUG DIGEST-VALUE"), "*0\r\n");
}

#[test]
fn debug_populate() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "DEBUG POPULATE 1000"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 1000);
    assert_eq!(c(&mut r, "GET key:0"), bulk("value:0"));
    assert_eq!(c(&mut r, "GET key:999"), bulk("value:999"));
    assert_eq!(c(&mut r, "DEBUG POPULATE 3 foo 12"), OK);
    assert_eq!(r.cmd("GET foo:1"), b"$12\r\nvalue:1\0\0\0\0\0\r\n");
    assert_eq!(c(&mut r, "DEBUG POPULATE 3 bar 4"), OK);
    assert_eq!(c(&mut r, "GET bar:2"), bulk("valu"));
    // Existing keys are left alone.
    assert_eq!(c(&mut r, "SET key:5 mine"), OK);
    assert_eq!(c(&mut r, "DEBUG POPULATE 10"), OK);
    assert_eq!(c(&mut r, "GET key:5"), bulk("mine"));
    assert_eq!(int(&mut r, "DBSIZE"), 1006);
    assert_eq!(c(&mut r, "SELECT 9"), OK);
    assert_eq!(c(&mut r, "DEBUG POPULATE 5"), OK);
    assert_eq!(int(&mut r, "DBSIZE"), 5, "populates the selected db");
}

#[test]
fn time_is_now_and_monotonic() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let mut last = 0u128;
    for _ in 0..50 {
        let (secs, micros): (String, String) = redis::cmd("TIME").query(&mut con).expect("TIME");
        let secs: u128 = secs.parse().expect("secs");
        let micros: u128 = micros.parse().expect("micros");
        assert!(micros < 1_000_000);
        let t = secs * 1_000_000 + micros;
        assert!(t >= last, "TIME went backwards");
        last = t;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_micros();
    assert!(now.abs_diff(last) < 2_000_000, "TIME {last} vs local {now}");
}

#[test]
fn command_introspection() {
    let s = Server::start(&[]);
    let mut con = s.conn();
    let mut r = s.raw();

    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut con).expect("COUNT");
    let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).expect("LIST");
    assert_eq!(count, list.iter().filter(|n| !n.contains('|')).count(), "COUNT counts top-level commands");
    let names: BTreeSet<&str> = list.iter().map(|s| s.as_str()).collect();
    for want in ["get", "set", "scan", "client", "config", "debug", "incrbyfloat", "swapdb", "bitfield"] {
        assert!(names.contains(want), "COMMAND LIST lacks {want}");
    }
    assert!(names.contains("config|get"), "COMMAND LIST includes subcommands");
    let mut get_star: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("PATTERN").arg("get*").query(&mut con).expect("LIST");
    get_star.sort();
    assert_eq!(get_star, ["get", "getbit", "getdel", "getex", "getrange", "getset"]);
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut con).expect("COMMAND");
    assert_eq!(all.len(), count);

    let info = c(&mut r, "COMMAND INFO get nosuch");
    assert!(
        info.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"),
        "{info:?}"
    );
    assert!(info.ends_with("$-1\r\n"), "unknown commands are nil: {info:?}");

    assert_eq!(c(&mut r, "COMMAND GETKEYS SET k v"), "*1\r\n$1\r\nk\r\n");
    assert_eq!(c(&mut r, "COMMAND GETKEYS MSET a 1 b 2"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c(&mut r, "COMMAND GETKEYS COPY a b DB 2"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c(&mut r, "COMMAND GETKEYS GET a b"), "-ERR Invalid number of arguments specified for command\r\n");
    assert_eq!(c(&mut r, "COMMAND GETKEYS PING x"), "-ERR The command has no key arguments\r\n");
    assert_eq!(c(&mut r, "COMMAND GETKEYS NOSUCH k"), "-ERR Invalid command specified\r\n");
}

#[test]
fn shutdown_nosave_exits() {
    let mut s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SET k v"), OK);
    r.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(eof_within(&mut r, Duration::from_secs(5)), "connection not closed by SHUTDOWN");
    wait_for(Duration::from_secs(10), "the process to exit", || !s.alive());
    let status = s.child.wait().expect("wait");
    assert!(status.success(), "exit status {status}");
}
