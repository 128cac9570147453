//! Replication scenarios with several processes: moonkv primaries and replicas,
//! and a real redis-server 7.0 on either side. Each scenario ends with equal
//! offsets and equal datasets (DEBUG DIGEST between moonkv nodes; key by key
//! against redis-server, whose digest does not cover deadlines the same way).

#[path = "../tests/common/mod.rs"]
mod common;
use common::*;
use std::time::Duration;

mod bad_input;
mod chart;
mod drills;
mod scripts_modes;
mod scripts_random;
mod shutdown;

const SYNC: Duration = Duration::from_secs(30);

/// A port nothing listens on. (A free port picked at random could be taken by a
/// server another test starts meanwhile.)
const CLOSED_PORT: u16 = 1;

/// Primaries start a full sync at once (the default waits 5 s for more replicas).
const FAST: &[&str] = &["--repl-diskless-sync-delay", "0"];

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn repl_field(c: &mut redis::Connection, name: &str) -> String {
    field(&info_of(c, "replication"), name).unwrap_or_default()
}

/// Points `replica` at `primary` and waits until the link is up.
fn attach(replica: &mut redis::Connection, primary: &Server) {
    let _: () = q(replica, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    wait_for(SYNC, "the replica's link to come up", || repl_field(replica, "master_link_status") == "up");
}

/// Waits until `replica` has applied everything `primary` has streamed.
fn wait_caught_up(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_for(SYNC, "the replica to reach the primary's offset", || {
        let want = repl_field(primary, "master_repl_offset");
        !want.is_empty() && repl_field(replica, "slave_repl_offset") == want
    });
}

/// The file `server` saved as it exited (SHUTDOWN SAVE, or a crash after a save).
fn file_left_by(server: &mut Server) -> Vec<u8> {
    wait_for(SYNC, "the server to exit", || !server.alive());
    std::fs::read(server.dir.path().join("dump.rdb")).expect("the server saved dump.rdb")
}

/// Stops `server` with SHUTDOWN SAVE (which answers nothing when it goes
/// ahead: the connection closes) and returns the file it saved.
fn shutdown_save(server: &mut Server) -> Vec<u8> {
    server.raw().send(b"SHUTDOWN SAVE\r\n");
    file_left_by(server)
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"])
}

/// Where two nodes' datasets differ, key by key in databases 0..16: keys one
/// side lacks, and keys whose value digest or deadline differ. For the message
/// of a failed digest comparison.
fn dataset_difference(want: &Server, got: &Server) -> String {
    let (mut w, mut g) = (want.conn(), got.conn());
    let mut out = String::new();
    for db in 0..16 {
        let keys_of = |c: &mut redis::Connection| -> std::collections::BTreeMap<String, (String, i64)> {
            let _: () = q(c, &["SELECT", &db.to_string()]);
            let keys: Vec<String> = q(c, &["KEYS", "*"]);
            keys.into_iter()
                .map(|k| {
                    let value: Vec<String> = q(c, &["DEBUG", "DIGEST-VALUE", &k]);
                    let deadline: i64 = q(c, &["PEXPIRETIME", &k]);
                    (k, (value.concat(), deadline))
                })
                .collect()
        };
        let (wk, gk) = (keys_of(&mut w), keys_of(&mut g));
        for (k, v) in &wk {
            match gk.get(k) {
                None => out += &format!("db {db}: {k} missing (deadline {})\n", v.1),
                Some(o) if o != v => out += &format!("db {db}: {k} is {o:?}, wanted {v:?}\n"),
                _ => {}
            }
        }
        for (k, v) in gk.iter().filter(|(k, _)| !wk.contains_key(*k)) {
            out += &format!("db {db}: {k} extra (deadline {})\n", v.1);
        }
    }
    out
}

/// Writes of every type, with expiries and several databases.
fn write_mix(c: &mut redis::Connection, tag: &str) {
    let mut p = redis::pipe();
    for i in 0..200 {
        p.cmd("SET").arg(format!("{tag}:s{i}")).arg(i);
        p.cmd("RPUSH").arg(format!("{tag}:l{}", i % 7)).arg(i);
        p.cmd("HSET").arg(format!("{tag}:h{}", i % 5)).arg(format!("f{i}")).arg(i);
        p.cmd("SADD").arg(format!("{tag}:set{}", i % 3)).arg(i);
        p.cmd("ZADD").arg(format!("{tag}:z{}", i % 4)).arg(i as f64 / 3.0).arg(format!("m{i}"));
    }
    p.cmd("SET").arg(format!("{tag}:ttl")).arg("v").arg("EX").arg(1000);
    p.cmd("PEXPIRE").arg(format!("{tag}:s1")).arg(500_000);
    p.cmd("INCRBYFLOAT").arg(format!("{tag}:f")).arg("1.5");
    p.cmd("SPOP").arg(format!("{tag}:set1"));
    p.cmd("SELECT").arg(3);
    p.cmd("SET").arg(format!("{tag}:db3")).arg("x");
    p.cmd("SELECT").arg(0);
    p.cmd("EVAL")
        .arg("redis.call('set', KEYS[1], 'a'); redis.call('append', KEYS[1], 'b')")
        .arg(1)
        .arg(format!("{tag}:lua"));
    p.cmd("MULTI").cmd("INCR").arg(format!("{tag}:m")).cmd("INCR").arg(format!("{tag}:m")).cmd("EXEC");
    p.cmd("DEL").arg(format!("{tag}:s2"));
    p.query::<()>(c).expect("write mix");
}

/// A moonkv primary and its replica, in sync: `write_mix(before)` goes through
/// the full sync, each of `after` through the stream.
fn synced_pair(before: &str, after: &[&str]) -> (Server, Server, redis::Connection, redis::Connection) {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    write_mix(&mut p, before);
    attach(&mut r, &primary);
    for tag in after {
        write_mix(&mut p, tag);
    }
    wait_caught_up(&mut p, &mut r);
    (primary, replica, p, r)
}

#[test]
fn full_sync_then_stream_then_partial_resync_after_a_dropped_link() {
    let (_primary, replica, mut p, mut r) = synced_pair("before", &["after"]);
    assert_eq!(digest(&mut p), digest(&mut r), "digests after full sync + stream");
    assert_eq!(q::<i64>(&mut p, &["DBSIZE"]), q::<i64>(&mut r, &["DBSIZE"]));
    let full = field(&info_of(&mut p, "stats"), "sync_full").unwrap_or_default();
    assert_eq!(full, "1");

    // Read-only replica.
    let mut raw = replica.raw();
    assert_eq!(c(&mut raw, "SET x 1"), "-READONLY You can't write against a read only replica.\r\n");
    // ROLE on both sides.
    let role: Vec<redis::Value> = q(&mut r, &["ROLE"]);
    assert_eq!(role.len(), 5);
    let prole: Vec<redis::Value> = q(&mut p, &["ROLE"]);
    assert_eq!(prole.len(), 3);

    // Drop the link (not the process): the replica continues with PSYNC.
    let killed: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    write_mix(&mut p, "during");
    wait_for(SYNC, "a partial resync", || field(&info_of(&mut p, "stats"), "sync_partial_ok").as_deref() == Some("1"));
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r), "digests after a partial resync");
    assert_eq!(field(&info_of(&mut p, "stats"), "sync_full").as_deref(), Some("1"), "no second full sync");
}

#[test]
fn backlog_overflow_forces_a_full_sync() {
    let primary = Server::start(&["--repl-backlog-size", "16kb", "--repl-diskless-sync-delay", "0"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    // Take the replica away, write more than the backlog holds, bring it back.
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    for i in 0..20 {
        write_mix(&mut p, &format!("big{i}"));
    }
    attach(&mut r, &primary);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(field(&info_of(&mut p, "stats"), "sync_full").as_deref(), Some("2"));
}

#[test]
fn promotion_lets_the_sibling_continue_partially() {
    let primary = Server::start(FAST);
    let a = Server::start(FAST);
    let b = Server::start(&[]);
    let (mut p, mut ra, mut rb) = (primary.conn(), a.conn(), b.conn());
    write_mix(&mut p, "x");
    attach(&mut ra, &primary);
    attach(&mut rb, &primary);
    write_mix(&mut p, "y");
    wait_caught_up(&mut p, &mut ra);
    wait_caught_up(&mut p, &mut rb);
    // Fail over to `a` (the old primary stays up but is left alone).
    let _: () = q(&mut ra, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(repl_field(&mut ra, "role"), "master");
    let old_id = repl_field(&mut p, "master_replid");
    assert_eq!(repl_field(&mut ra, "master_replid2"), old_id, "the old history id is kept as replid2");
    attach(&mut rb, &a);
    write_mix(&mut ra, "z");
    wait_caught_up(&mut ra, &mut rb);
    assert_eq!(digest(&mut ra), digest(&mut rb));
    assert_eq!(field(&info_of(&mut ra, "stats"), "sync_partial_ok").as_deref(), Some("1"));
    assert_eq!(field(&info_of(&mut ra, "stats"), "sync_full").as_deref(), Some("0"));
}

#[test]
fn chained_replicas_share_the_primary_history() {
    let primary = Server::start(FAST);
    let mid = Server::start(FAST);
    let leaf = Server::start(&[]);
    let (mut p, mut m, mut l) = (primary.conn(), mid.conn(), leaf.conn());
    write_mix(&mut p, "a");
    attach(&mut m, &primary);
    attach(&mut l, &mid);
    write_mix(&mut p, "b");
    wait_caught_up(&mut p, &mut m);
    wait_caught_up(&mut p, &mut l);
    assert_eq!(digest(&mut p), digest(&mut l));
    assert_eq!(repl_field(&mut l, "master_replid"), repl_field(&mut p, "master_replid"));
}

#[test]
fn a_real_redis_replica_follows_moonkv() {
    let Some(redis) = Server::start_redis(&[]) else { return };
    let primary = Server::start(FAST);
    let (mut p, mut r) = (primary.conn(), redis.conn());
    write_mix(&mut p, "before");
    attach(&mut r, &primary);
    write_mix(&mut p, "after");
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut p), &dataset(&mut r), "redis-server replica of moonkv");
    // A dropped link resumes partially.
    let _: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    write_mix(&mut p, "during");
    wait_for(SYNC, "a partial resync", || field(&info_of(&mut p, "stats"), "sync_partial_ok").as_deref() == Some("1"));
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut p), &dataset(&mut r), "after the partial resync");
}

#[test]
fn moonkv_follows_a_real_redis_primary() {
    let Some(redis) = Server::start_redis(FAST) else { return };
    let replica = Server::start(&[]);
    let (mut p, mut r) = (redis.conn(), replica.conn());
    write_mix(&mut p, "before");
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "2000"]);
    // Long repetitive values: redis-server compresses them with LZF in the payload.
    let _: () = q(&mut p, &["SET", "lzf", &"abcdefgh".repeat(500)]);
    let _: () = q(&mut p, &["RPUSH", "lzf-list", &"x".repeat(3000), &"y".repeat(3000)]);
    attach(&mut r, &redis);
    write_mix(&mut p, "after");
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut p), &dataset(&mut r), "moonkv replica of redis-server");
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, "WAIT 1 -1"), "-ERR timeout is negative\r\n");
    assert_eq!(c(&mut raw, "WAIT 0 0"), ":0\r\n");
    attach(&mut r, &primary);
    assert_eq!(c(&mut raw, "SET k v"), "+OK\r\n");
    // Acknowledged through REPLCONF GETACK well before the timeout.
    assert_eq!(c(&mut raw, "WAIT 1 5000"), ":1\r\n");
    // Two replicas can never be reached: the timeout answers with the count.
    assert_eq!(c(&mut raw, "WAIT 2 200"), ":1\r\n");
    let mut rr = replica.raw();
    assert!(c(&mut rr, "WAIT 1 100").starts_with("-ERR WAIT cannot be used with replica instances."));
    wait_caught_up(&mut p, &mut r);
}

#[test]
fn min_replicas_refuses_writes_without_enough_good_replicas() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--min-replicas-to-write", "1"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, "SET k v"), "-NOREPLICAS Not enough good replicas to write.\r\n");
    assert_eq!(c(&mut raw, "GET k"), "$-1\r\n", "reads still work");
    attach(&mut r, &primary);
    wait_for(SYNC, "the replica to count as good", || repl_field(&mut p, "min_slaves_good_slaves") == "1");
    assert_eq!(c(&mut raw, "SET k v"), "+OK\r\n");
    // A transaction queued while enough replicas were good is refused at EXEC,
    // and discarded, once they are not.
    assert_eq!(c(&mut raw, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut raw, "SET k w"), "+QUEUED\r\n");
    let _: () = q(&mut p, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert_eq!(
        c(&mut raw, "EXEC"),
        "-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(c(&mut raw, "EXEC"), "-ERR EXEC without MULTI\r\n");
    assert_eq!(c(&mut raw, "GET k"), "$1\r\nv\r\n");
}

#[test]
fn a_slow_replica_is_disconnected_by_its_output_buffer_limit() {
    let primary =
        Server::start(&["--repl-diskless-sync-delay", "0", "--client-output-buffer-limit", "replica 1mb 0 0"]);
    let mut replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    let pid = replica.child.id().to_string();
    let stop = std::process::Command::new("kill").args(["-STOP", &pid]).status().expect("kill -STOP");
    assert!(stop.success());
    let big = "x".repeat(100_000);
    for i in 0..400 {
        let _: () = q(&mut p, &["SET", &format!("big{i}"), &big]);
    }
    wait_for(SYNC, "the slow replica to be disconnected", || repl_field(&mut p, "connected_slaves") == "0");
    assert!(primary.log().contains("overcoming of output buffer limits"), "{}", primary.log());
    let cont = std::process::Command::new("kill").args(["-CONT", &pid]).status().expect("kill -CONT");
    assert!(cont.success());
    // It reconnects and catches up (a full sync: the backlog is 1 MB).
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(replica.alive());
}

#[test]
fn a_replica_over_the_soft_limit_for_its_seconds_is_disconnected() {
    let primary =
        Server::start(&["--repl-diskless-sync-delay", "0", "--client-output-buffer-limit", "replica 0 1mb 1"]);
    let mut replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    let pid = replica.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let big = "x".repeat(100_000);
    for i in 0..200 {
        let _: () = q(&mut p, &["SET", &format!("big{i}"), &big]);
    }
    wait_for(SYNC, "the replica to be dropped by the soft limit", || repl_field(&mut p, "connected_slaves") == "0");
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(replica.alive());
}

#[test]
fn a_restarted_replica_continues_partially() {
    let (primary, mut replica, mut p, _r) = synced_pair("a", &[]);
    let file = shutdown_save(&mut replica);
    write_mix(&mut p, "b");
    let port = primary.port.to_string();
    let again = Server::start_with_files(&["--replicaof", "127.0.0.1", &port], &[("dump.rdb", &file)]);
    let mut r2 = again.conn();
    wait_for(SYNC, "the restarted replica's link", || repl_field(&mut r2, "master_link_status") == "up");
    wait_caught_up(&mut p, &mut r2);
    assert_eq!(digest(&mut p), digest(&mut r2));
    let stats = info_of(&mut p, "stats");
    assert_eq!(field(&stats, "sync_full").as_deref(), Some("1"), "{stats}");
    assert_eq!(field(&stats, "sync_partial_ok").as_deref(), Some("1"), "{stats}");
}

/// A random write of any family, as arguments.
fn random_write(rng: &mut impl rand::Rng) -> Vec<String> {
    let k = |rng: &mut dyn rand::RngCore, p: &str| format!("{p}{}", rng.next_u32() % 64);
    let args: Vec<String> = match rng.gen_range(0..30) {
        0 => vec!["SET".into(), k(rng, "s"), rng.gen::<u32>().to_string()],
        1 => vec!["INCR".into(), k(rng, "i")],
        2 => vec!["APPEND".into(), k(rng, "s"), "x".into()],
        3 => vec!["DEL".into(), k(rng, "s"), k(rng, "l")],
        4 => vec!["EXPIRE".into(), k(rng, "s"), rng.gen_range(1000..5000).to_string()],
        5 => vec!["PERSIST".into(), k(rng, "s")],
        6 => vec!["RPUSH".into(), k(rng, "l"), rng.gen::<u16>().to_string(), "v".into()],
        7 => vec!["LPOP".into(), k(rng, "l")],
        8 => vec!["LTRIM".into(), k(rng, "l"), "0".into(), "5".into()],
        9 => vec!["HSET".into(), k(rng, "h"), k(rng, "f"), rng.gen::<u16>().to_string()],
        10 => vec!["HDEL".into(), k(rng, "h"), k(rng, "f")],
        11 => vec!["HINCRBYFLOAT".into(), k(rng, "h"), "n".into(), "0.1".into()],
        12 => vec!["SADD".into(), k(rng, "t"), rng.gen::<u8>().to_string()],
        13 => vec!["SREM".into(), k(rng, "t"), rng.gen::<u8>().to_string()],
        14 => vec!["SPOP".into(), k(rng, "t")],
        15 => vec!["ZADD".into(), k(rng, "z"), rng.gen_range(0..100).to_string(), k(rng, "m")],
        16 => vec!["ZINCRBY".into(), k(rng, "z"), "1.5".into(), k(rng, "m")],
        17 => vec!["ZPOPMIN".into(), k(rng, "z")],
        18 => vec!["INCRBYFLOAT".into(), k(rng, "fl"), "2.5".into()],
        19 => vec!["SET".into(), k(rng, "e"), "v".into(), "EX".into(), rng.gen_range(1000..9000).to_string()],
        20 => vec!["GETDEL".into(), k(rng, "s")],
        21 => vec!["RENAME".into(), k(rng, "s"), k(rng, "s")],
        22 => vec!["COPY".into(), k(rng, "h"), k(rng, "h2"), "REPLACE".into()],
        23 => vec!["LMOVE".into(), k(rng, "l"), k(rng, "l"), "LEFT".into(), "RIGHT".into()],
        24 => vec![
            "EVAL".into(),
            "redis.call('incr', KEYS[1]); redis.call('rpush', KEYS[2], redis.call('get', KEYS[1]))".into(),
            "2".into(),
            k(rng, "i"),
            k(rng, "l"),
        ],
        25 => vec!["SETRANGE".into(), k(rng, "s"), rng.gen_range(0..10).to_string(), "ab".into()],
        26 => vec!["SINTERSTORE".into(), k(rng, "t"), k(rng, "t"), k(rng, "t")],
        27 => vec!["ZUNIONSTORE".into(), k(rng, "z"), "2".into(), k(rng, "z"), k(rng, "z")],
        28 => vec!["PEXPIREAT".into(), k(rng, "h"), (4_000_000_000_000u64 + rng.gen_range(0..1000)).to_string()],
        _ => vec!["SETBIT".into(), k(rng, "b"), rng.gen_range(0..200).to_string(), "1".into()],
    };
    args
}

#[test]
fn soak_replicas_killed_restarted_and_reattached_converge() {
    use rand::{Rng, SeedableRng};
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let seed: u64 = std::env::var("SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64kb"]);
    let port = primary.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
            let mut c = client.get_connection().expect("connect");
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut p = redis::pipe();
                for _ in 0..20 {
                    if rng.gen_range(0..50) == 0 {
                        p.cmd("SELECT").arg(rng.gen_range(0..3));
                    }
                    let args = random_write(&mut rng);
                    let mut cmd = redis::cmd(&args[0]);
                    for a in &args[1..] {
                        cmd.arg(a);
                    }
                    p.add_command(cmd).ignore();
                }
                // Errors (WRONGTYPE and the like) are part of the mix.
                let _ = p.query::<()>(&mut c);
                n += 20;
            }
            n
        })
    };
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed + 1);
    let mut replicas: Vec<Server> = (0..2).map(|_| Server::start(&[])).collect();
    for r in &replicas {
        attach(&mut r.conn(), &primary);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut actions = Vec::new();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..800)));
        let i = rng.gen_range(0..replicas.len());
        match rng.gen_range(0..3) {
            0 => {
                actions.push("drop link");
                let _: redis::RedisResult<i64> =
                    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("master").query(&mut replicas[i].conn());
            }
            1 => {
                actions.push("restart");
                replicas[i] = Server::start(&[]);
                attach(&mut replicas[i].conn(), &primary);
            }
            _ => {
                actions.push("detach and re-attach");
                let mut c = replicas[i].conn();
                let _: () = q(&mut c, &["REPLICAOF", "NO", "ONE"]);
                attach(&mut c, &primary);
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    let mut p = primary.conn();
    for r in &replicas {
        let mut c = r.conn();
        wait_for(SYNC, "the replica's link", || repl_field(&mut c, "master_link_status") == "up");
        wait_caught_up(&mut p, &mut c);
        assert_eq!(digest(&mut p), digest(&mut c), "after {writes} writes and {actions:?}");
    }
    assert!(writes > 0 && !actions.is_empty());
}

#[test]
fn replication_commands_answer_like_redis() {
    compare_with_redis(
        &[
            "REPLCONF listening-port",
            "REPLCONF listening-port 7000",
            "REPLCONF listening-port x",
            "REPLCONF listening-port 70000",
            "REPLCONF listening-port -5",
            "REPLICAOF 127.0.0.1 abc",
            "REPLICAOF 127.0.0.1 -1",
            "WAIT 0 abc",
            "WAIT abc 0",
            "FAILOVER",
            "FAILOVER ABORT",
            "FAILOVER TIMEOUT 0",
            "FAILOVER TIMEOUT -5",
            "FAILOVER TIMEOUT abc",
            "FAILOVER TO 127.0.0.1 1234",
            "FAILOVER TO h abc",
            "FAILOVER FORCE",
            "FAILOVER foo",
            "FAILOVER ABORT TIMEOUT 10",
            "FAILOVER TO h 1 TO h 2",
            "FAILOVER TIMEOUT 100 FORCE",
            "PSYNC abc 1 FAILOVER",
            "REPLCONF capa eof capa psync2 capa whatever",
            "REPLCONF nosuchoption 1",
            "REPLICAOF 127.0.0.1 70000",
            "REPLICAOF NO ONE",
            "SLAVEOF NO ONE",
            "WAIT 0 -1",
            "WAIT x 0",
            "WAIT 0 0",
            "ROLE",
            "PSYNC",
            "PING",
        ],
        |_| true,
    );
}

/// Reads `$<len>\r\n` and then exactly `len` bytes from `raw`, skipping keepalive
/// newlines before the header.
fn read_bulk_payload(raw: &mut Raw) -> Vec<u8> {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    loop {
        line.clear();
        raw.reader.read_line(&mut line).expect("payload header");
        if line != "\n" {
            break;
        }
    }
    let len: usize =
        line.trim_end().strip_prefix('$').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    let mut payload = vec![0; len];
    raw.reader.read_exact(&mut payload).expect("payload");
    payload
}

#[test]
fn sync_sends_a_counted_payload_without_fullresync_line() {
    let primary = Server::start(FAST);
    let mut p = primary.conn();
    write_mix(&mut p, "a");
    let mut raw = primary.raw();
    raw.send(b"SYNC\r\n");
    let payload = read_bulk_payload(&mut raw);
    assert!(payload.starts_with(b"REDIS0010"), "{:?}", String::from_utf8_lossy(&payload[..20.min(payload.len())]));
    assert_eq!(payload[payload.len() - 9], 0xFF, "the payload ends with EOF and its checksum");
    // The stream follows the payload directly.
    let _: () = q(&mut p, &["SET", "after-sync", "1"]);
    let mut rest = String::new();
    wait_for(SYNC, "the stream after the payload", || {
        use std::io::BufRead;
        let mut line = String::new();
        raw.reader.read_line(&mut line).expect("stream");
        rest.push_str(&line);
        rest.contains("after-sync")
    });
    assert!(rest.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"), "{rest:?}");
}

#[test]
fn full_sync_without_diskless_uses_the_counted_framing() {
    let primary = Server::start(&["--repl-diskless-sync", "no"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    write_mix(&mut p, "a");
    attach(&mut r, &primary);
    write_mix(&mut p, "b");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(primary.log().contains("Starting BGSAVE for SYNC with target: disk"), "{}", primary.log());
    // The snapshot went through a file in `dir`, removed once sent.
    wait_for(SYNC, "the sync's file to be removed", || {
        std::fs::read_dir(primary.dir.path())
            .expect("dir")
            .all(|e| !e.expect("entry").file_name().to_string_lossy().starts_with("temp-sync-"))
    });
}

#[test]
fn a_replica_without_its_primary_reports_it() {
    // Nothing listens on this port: the link never comes up.
    let closed = CLOSED_PORT.to_string();
    let replica = Server::start(&["--replica-serve-stale-data", "no", "--replicaof", "127.0.0.1", &closed]);
    let mut r = replica.conn();
    let mut raw = replica.raw();
    assert_eq!(
        c(&mut raw, "GET k"),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_eq!(
        c(&mut raw, "PING").split("\r\n").next(),
        Some("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    );
    assert_eq!(repl_field(&mut r, "master_link_status"), "down", "INFO still answers");
    let role = c(&mut raw, "ROLE");
    let prefix = format!("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{closed}\r\n");
    assert!(role.starts_with(&prefix), "{role:?}");
    assert!(role.ends_with(":-1\r\n"), "no offset without a live link: {role:?}");
    // A sub-replica is refused while the link is down (PSYNC lacks the stale
    // flag, so it gets MASTERDOWN first unless stale data may be served).
    assert!(c(&mut raw, "PSYNC ? -1").starts_with("-MASTERDOWN"));
    assert_eq!(c(&mut raw, "CONFIG SET replica-serve-stale-data yes"), "+OK\r\n");
    assert_eq!(c(&mut raw, "PSYNC ? -1"), "-NOMASTERLINK Can't SYNC while not connected with my master\r\n");
    assert!(replica.log().contains("Error condition on socket for SYNC"), "{}", replica.log());
}

#[test]
fn info_replication_lists_redis_fields_in_redis_order() {
    let Some(redis_primary) = Server::start_redis(FAST) else { return };
    let redis_replica = Server::start_redis(&[]).expect("redis-server");
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let names = |c: &mut redis::Connection| -> Vec<String> {
        info_of(c, "replication").lines().filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string())).collect()
    };
    let (mut rp, mut rr, mut mp, mut mr) = (redis_primary.conn(), redis_replica.conn(), primary.conn(), replica.conn());
    attach(&mut rr, &redis_primary);
    attach(&mut mr, &primary);
    assert_eq!(names(&mut mp), names(&mut rp), "primary");
    assert_eq!(names(&mut mr), names(&mut rr), "replica");
    let role = primary.raw().cmd("ROLE");
    let text = String::from_utf8_lossy(&role);
    assert!(text.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{text:?}");
    assert!(
        text.contains(&format!(
            "*1\r\n*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{}\r\n",
            replica.port.to_string().len(),
            replica.port
        )),
        "{text:?}"
    );
}

#[test]
fn the_link_to_the_primary_never_idles_out() {
    let primary = Server::start(FAST);
    let replica = Server::start(&["--timeout", "1"]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    let master_client = |r: &mut redis::Connection| -> String { q(r, &["CLIENT", "LIST", "TYPE", "master"]) };
    let first = master_client(&mut r);
    assert!(first.contains("flags=M"), "{first}");
    let id = first.split_whitespace().next().unwrap_or_default().to_string();
    // The primary's client sends nothing the replica counts as interaction; with
    // `timeout 1` it would be closed within a couple of seconds if not exempt.
    wait_for(SYNC, "the primary's client to be idle for 3 s", || {
        master_client(&mut r)
            .split_whitespace()
            .any(|f| f.strip_prefix("idle=").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 3))
    });
    assert!(master_client(&mut r).starts_with(&id), "the same link is still there");
    assert_eq!(repl_field(&mut r, "master_link_status"), "up");
}

#[test]
fn replicas_arriving_together_share_one_snapshot_even_if_one_leaves() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "2"]);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "200000", "key", "50"]);
    write_mix(&mut p, "a");
    let replicas = [Server::start(&[]), Server::start(&[])];
    let mut conns: Vec<redis::Connection> = replicas.iter().map(|r| r.conn()).collect();
    // A third replica that leaves in the middle of the shared transfer.
    let mut leaving = primary.raw();
    assert_eq!(c(&mut leaving, "REPLCONF capa eof capa psync2"), "+OK\r\n");
    leaving.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    for r in conns.iter_mut() {
        let _: () = q(r, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    }
    wait_for(SYNC, "the shared transfer to start", || {
        use std::io::BufRead;
        let mut line = String::new();
        leaving.reader.read_line(&mut line).expect("keepalive or +FULLRESYNC");
        line.starts_with("+FULLRESYNC")
    });
    drop(leaving);
    for r in conns.iter_mut() {
        wait_for(SYNC, "the replica's link to come up", || repl_field(r, "master_link_status") == "up");
    }
    write_mix(&mut p, "b");
    for r in conns.iter_mut() {
        wait_caught_up(&mut p, r);
        assert_eq!(digest(&mut p), digest(r));
    }
    let log = primary.log();
    assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
    assert!(log.contains("Starting BGSAVE for SYNC with target: replicas sockets (3 replicas)"), "{log}");
    assert_eq!(field(&info_of(&mut p, "stats"), "sync_full").as_deref(), Some("3"));
}

#[test]
fn write_refusals_reach_exec_and_scripts_like_redis() {
    // NOREPLICAS, READONLY and MASTERDOWN for EXEC with queued writes, scripts that
    // write (checked at their first write) and scripts whose shebang declares
    // them writing or stale-safe; compared byte for byte with redis-server.
    compare_with_redis(
        &[
            "SET a 1",
            "MULTI",
            "SET a 2",
            "CONFIG SET min-replicas-to-write 1",
            "EXEC",
            "MULTI",
            "GET a",
            "EXEC",
            "MULTI",
            "SET a 3",
            "EXEC",
            "EVAL return\\sredis.call('get','a') 0",
            "EVAL return\\sredis.call('set','a','4') 0",
            "EVAL return\\sredis.pcall('set','a','4') 0",
            "EVAL #!lua\\nreturn\\s1 0",
            "EVAL #!lua\\sflags=no-writes\\nreturn\\sredis.call('get','a') 0",
            "EVAL_RO return\\sredis.call('get','a') 0",
            "EVAL return\\sredis.call('get','a') 0",
            "CONFIG SET min-replicas-to-write 0",
            "REPLICAOF 127.0.0.1 1",
            "SET a 5",
            "GET a",
            "EVAL return\\sredis.call('set','a','4') 0",
            "EVAL return\\sredis.pcall('incr','a') 0",
            "EVAL #!lua\\nreturn\\s1 0",
            "EVAL #!lua\\sflags=no-writes\\nreturn\\sredis.call('get','a') 0",
            "CONFIG SET replica-serve-stale-data no",
            "EVAL #!lua\\sflags=no-writes\\nreturn\\s1 0",
            "EVAL #!lua\\sflags=no-writes,allow-stale\\nreturn\\s1 0",
            "EVAL return\\s1 0",
            "GET a",
            "CONFIG SET replica-serve-stale-data yes",
            "REPLICAOF NO ONE",
            "GET a",
        ],
        |_| true,
    );
}

#[test]
fn a_restarted_primary_lets_its_replica_continue_partially() {
    let (primary, _replica, mut p, mut r) = synced_pair("a", &["b"]);
    let old_id = repl_field(&mut p, "master_replid");
    let mut primary = primary;
    let file = shutdown_save(&mut primary);
    // It waited for its replica to have everything (its GETACK included).
    let offset = repl_field(&mut r, "master_repl_offset");
    let again = Server::start_with_files(FAST, &[("dump.rdb", &file)]);
    let mut p2 = again.conn();
    wait_loaded(&mut p2);
    // The file's history is the restarted primary's previous one.
    assert_eq!(repl_field(&mut p2, "master_repl_offset"), offset);
    assert_eq!(repl_field(&mut p2, "master_replid2"), old_id);
    attach(&mut r, &again);
    write_mix(&mut p2, "c");
    wait_caught_up(&mut p2, &mut r);
    assert_eq!(digest(&mut p2), digest(&mut r));
    let stats = info_of(&mut p2, "stats");
    assert_eq!(field(&stats, "sync_partial_ok").as_deref(), Some("1"), "{stats}");
    assert_eq!(field(&stats, "sync_full").as_deref(), Some("0"), "{stats}");
}

#[test]
fn the_backlog_follows_its_size_and_is_freed_after_its_ttl_without_replicas() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--repl-backlog-ttl", "1"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    let big = "x".repeat(1000);
    for i in 0..200 {
        let _: () = q(&mut p, &["SET", &format!("k{i}"), &big]);
    }
    let histlen = |p: &mut redis::Connection| repl_field(p, "repl_backlog_histlen").parse::<usize>().unwrap_or(0);
    assert!(histlen(&mut p) > 200_000, "{}", histlen(&mut p));
    let _: () = q(&mut p, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
    let after = histlen(&mut p);
    assert!((16_384..16_384 + 2_000).contains(&after), "the live backlog shrank to its new size: {after}");
    let old_id = repl_field(&mut p, "master_replid");
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    wait_for(SYNC, "the backlog to be freed", || repl_field(&mut p, "repl_backlog_active") == "0");
    assert_ne!(repl_field(&mut p, "master_replid"), old_id, "a new history starts");
    assert!(primary.log().contains("Replication backlog freed after 1 seconds without connected replicas."));
    // A replica cannot continue the old history: it syncs in full.
    attach(&mut r, &primary);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
}

#[test]
fn info_counts_replication_traffic() {
    let (_primary, _replica, mut p, mut r) = synced_pair("a", &[]);
    let stat = |c: &mut redis::Connection, name: &str| -> f64 {
        field(&info_of(c, "stats"), name).and_then(|v| v.parse().ok()).unwrap_or(-1.0)
    };
    let offset: f64 = repl_field(&mut p, "master_repl_offset").parse().expect("offset");
    // The snapshot and the stream both count, on both sides.
    assert!(stat(&mut p, "total_net_repl_output_bytes") > offset);
    assert!(stat(&mut r, "total_net_repl_input_bytes") > offset);
    assert_eq!(stat(&mut r, "total_net_repl_output_bytes"), 0.0);
    // Rates follow a steady stream of writes.
    let mut i = 0;
    wait_for(SYNC, "nonzero replication rates", || {
        for _ in 0..50 {
            i += 1;
            let _: () = q(&mut p, &["SET", &format!("rate:{i}"), "some value"]);
        }
        stat(&mut p, "instantaneous_output_repl_kbps") > 0.0 && stat(&mut r, "instantaneous_input_repl_kbps") > 0.0
    });
    let mem = info_of(&mut p, "memory");
    assert!(field(&mem, "mem_total_replication_buffers").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) > 0, "{mem}");
    assert!(field(&mem, "mem_clients_slaves").is_some_and(|v| v.parse::<u64>().is_ok()), "{mem}");
}

#[test]
fn the_handshake_authenticates_and_announces_as_configured() {
    let announce: &[&str] = &["--replica-announce-ip", "10.1.2.3", "--replica-announce-port", "4567"];
    let mut primaries = vec![Server::start(&["--requirepass", "secret", "--repl-diskless-sync-delay", "0"])];
    primaries.extend(Server::start_redis(&["--requirepass", "secret", "--repl-diskless-sync-delay", "0"]));
    for primary in &primaries {
        let mut praw = primary.raw();
        assert_eq!(c(&mut praw, "AUTH secret"), "+OK\r\n");
        assert_eq!(c(&mut praw, "SET k v"), "+OK\r\n");
        let port = primary.port.to_string();
        // Without the password the primary refuses the sync.
        let refused = Server::start(&["--replicaof", "127.0.0.1", &port]);
        wait_for(SYNC, "the refusal to be logged", || refused.log().contains("NOAUTH"));
        let mut rr = refused.conn();
        assert_eq!(repl_field(&mut rr, "master_link_status"), "down");
        // With it, as `masterauth` alone and as `masteruser` + `masterauth`.
        for auth in [&["--masterauth", "secret"][..], &["--masteruser", "default", "--masterauth", "secret"][..]] {
            let args: Vec<&str> = [auth, announce, &["--replicaof", "127.0.0.1", &port][..]].concat();
            let replica = Server::start(&args);
            let mut r = replica.conn();
            wait_for(SYNC, "the authenticated link", || repl_field(&mut r, "master_link_status") == "up");
            let v: Option<String> = q(&mut r, &["GET", "k"]);
            assert_eq!(v.as_deref(), Some("v"));
            // The primary marks the replica online once its side of the transfer
            // is done, which may be just after the replica's link came up.
            wait_for(SYNC, "the announced address in ROLE and INFO", || {
                let role = String::from_utf8_lossy(&praw.cmd("ROLE")).into_owned();
                let info = String::from_utf8_lossy(&praw.cmd("INFO replication")).into_owned();
                role.contains("$8\r\n10.1.2.3\r\n$4\r\n4567\r\n")
                    && info.contains("slave0:ip=10.1.2.3,port=4567,state=online")
            });
            drop(replica);
            wait_for(SYNC, "the replica to be gone", || {
                !String::from_utf8_lossy(&praw.cmd("INFO replication")).contains("slave0:")
            });
        }
    }
}

fn stat_of(c: &mut redis::Connection, name: &str) -> String {
    field(&info_of(c, "stats"), name).unwrap_or_default()
}

#[test]
fn redis_replicas_follow_moonkv_through_chains_wait_and_promotion() {
    let Some(r1) = Server::start_redis(&[]) else { return };
    let r2 = Server::start_redis(&[]).expect("redis-server");
    let primary = Server::start(FAST);
    let middle = Server::start(FAST);
    let (mut p, mut m, mut c1, mut c2) = (primary.conn(), middle.conn(), r1.conn(), r2.conn());
    write_mix(&mut p, "a");
    // primary → middle (moonkv) → r2 (redis), and primary → r1 (redis).
    attach(&mut m, &primary);
    attach(&mut c1, &primary);
    attach(&mut c2, &middle);
    write_mix(&mut p, "b");
    // WAIT counts the direct replicas, redis-server's ACKs included.
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, "WAIT 2 10000"), ":2\r\n");
    wait_caught_up(&mut p, &mut m);
    wait_caught_up(&mut m, &mut c2);
    wait_caught_up(&mut p, &mut c1);
    let want = dataset(&mut p);
    assert_same(&want, &dataset(&mut c1), "redis replica of moonkv");
    assert_same(&want, &dataset(&mut c2), "redis replica of a moonkv replica");
    // Promote the middle node: its own redis replica and the redis sibling both
    // continue partially with the new primary.
    drop(primary);
    let _: () = q(&mut m, &["REPLICAOF", "NO", "ONE"]);
    let _: () = q(&mut c1, &["REPLICAOF", "127.0.0.1", &middle.port.to_string()]);
    write_mix(&mut m, "c");
    for c in [&mut c1, &mut c2] {
        wait_for(SYNC, "the redis replica's link", || repl_field(c, "master_link_status") == "up");
        wait_caught_up(&mut m, c);
    }
    let want = dataset(&mut m);
    assert_same(&want, &dataset(&mut c1), "redis sibling after the promotion");
    assert_same(&want, &dataset(&mut c2), "redis sub-replica after the promotion");
    assert_eq!(stat_of(&mut m, "sync_partial_ok"), "2", "both continued partially");
    assert_eq!(stat_of(&mut m, "sync_full"), "1", "only r2's first sync was full");
}

#[test]
fn moonkv_follows_redis_through_link_drops_restarts_and_promotion() {
    let Some(rp) = Server::start_redis(FAST) else { return };
    let rr = Server::start_redis(&[]).expect("redis-server");
    let replica = Server::start(&[]);
    let (mut p, mut s, mut r) = (rp.conn(), rr.conn(), replica.conn());
    write_mix(&mut p, "a");
    attach(&mut r, &rp);
    attach(&mut s, &rp);
    // A dropped link continues partially with redis-server.
    let _: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    write_mix(&mut p, "b");
    wait_for(SYNC, "a partial resync with redis", || stat_of(&mut p, "sync_partial_ok") == "1");
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut p), &dataset(&mut r), "after the partial resync");
    // A restarted moonkv replica continues partially from its file.
    let mut replica = replica;
    let file = shutdown_save(&mut replica);
    write_mix(&mut p, "c");
    let port = rp.port.to_string();
    let again = Server::start_with_files(&["--replicaof", "127.0.0.1", &port], &[("dump.rdb", &file)]);
    let mut r = again.conn();
    wait_for(SYNC, "the restarted replica's link", || repl_field(&mut r, "master_link_status") == "up");
    wait_for(SYNC, "a second partial resync with redis", || stat_of(&mut p, "sync_partial_ok") == "2");
    wait_caught_up(&mut p, &mut r);
    wait_caught_up(&mut p, &mut s);
    assert_same(&dataset(&mut p), &dataset(&mut r), "after the restart");
    // Promote moonkv: the redis sibling continues partially with it.
    drop(rp);
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    let _: () = q(&mut s, &["REPLICAOF", "127.0.0.1", &again.port.to_string()]);
    write_mix(&mut r, "d");
    wait_for(SYNC, "the redis sibling's link", || repl_field(&mut s, "master_link_status") == "up");
    wait_caught_up(&mut r, &mut s);
    assert_same(&dataset(&mut r), &dataset(&mut s), "redis sibling after promoting moonkv");
    assert_eq!(stat_of(&mut r, "sync_partial_ok"), "1");
    assert_eq!(stat_of(&mut r, "sync_full"), "0");
}

#[test]
fn an_intermediate_replica_adds_nothing_and_keeps_its_primary_db_for_new_sub_replicas() {
    let ping: &[&str] = &["--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1"];
    let primary = Server::start(ping);
    let mid = Server::start(ping);
    let (mut p, mut m) = (primary.conn(), mid.conn());
    attach(&mut m, &primary);
    // The primary's stream selects db 3 and stays there.
    let mut praw = primary.raw();
    assert_eq!(c(&mut praw, "SELECT 3"), "+OK\r\n");
    assert_eq!(c(&mut praw, "SET a 1"), "+OK\r\n");
    wait_caught_up(&mut p, &mut m);
    // A sub-replica full-syncs from the middle node while the stream is in db 3.
    let leaf = Server::start(&[]);
    let mut l = leaf.conn();
    attach(&mut l, &mid);
    assert_eq!(c(&mut praw, "SET b 2"), "+OK\r\n");
    // Several of the primary's heartbeats pass: the middle node only forwards them.
    let start: u64 = repl_field(&mut p, "master_repl_offset").parse().expect("offset");
    wait_for(SYNC, "two heartbeats", || {
        repl_field(&mut p, "master_repl_offset").parse::<u64>().is_ok_and(|o| o >= start + 28)
    });
    wait_caught_up(&mut p, &mut m);
    wait_caught_up(&mut p, &mut l);
    assert_eq!(repl_field(&mut m, "master_repl_offset"), repl_field(&mut p, "master_repl_offset"));
    assert_eq!(digest(&mut p), digest(&mut l), "b landed in db 3 on the sub-replica too");
}

#[test]
fn the_primary_commands_pass_a_replica_over_its_maxmemory() {
    let primary = Server::start(FAST);
    let replica = Server::start(&["--maxmemory", "1"]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    write_mix(&mut p, "a");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(!replica.log().contains("CRITICAL"), "{}", replica.log());
}

#[test]
fn a_stuck_replica_is_dropped_from_a_shared_full_sync_and_max_replicas_starts_it_early() {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "60",
        "--repl-diskless-sync-max-replicas",
        "2",
        "--repl-timeout",
        "2",
    ]);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "300000", "key", "100"]);
    // A replica that asks for the sync and then never reads.
    let mut stuck = primary.raw();
    assert_eq!(c(&mut stuck, "REPLCONF capa eof capa psync2"), "+OK\r\n");
    stuck.send(&resp(&[b"PSYNC", b"?", b"-1"]));
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    // The second replica makes two: the snapshot starts without the 60 s delay.
    attach(&mut r, &primary);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(primary.log().contains("Disconnecting timedout replica (full sync)"), "{}", primary.log());
    drop(stuck);
}

fn role_name(c: &mut redis::Connection) -> String {
    repl_field(c, "role")
}

#[test]
fn failover_hands_the_role_over_without_losing_a_write() {
    let primary = Server::start(FAST);
    let (a, b) = (Server::start(FAST), Server::start(&[]));
    let (mut p, mut ca, mut cb) = (primary.conn(), a.conn(), b.conn());
    write_mix(&mut p, "a");
    attach(&mut ca, &primary);
    attach(&mut cb, &primary);
    write_mix(&mut p, "b");
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, &format!("FAILOVER TO 127.0.0.1 {} TIMEOUT 10000", a.port)), "+OK\r\n");
    assert_eq!(c(&mut raw, "FAILOVER"), "-ERR FAILOVER already in progress.\r\n");
    wait_for(SYNC, "the old primary to follow the target", || {
        role_name(&mut p) == "slave" && repl_field(&mut p, "master_link_status") == "up"
    });
    assert_eq!(role_name(&mut ca), "master");
    assert_eq!(repl_field(&mut p, "master_failover_state"), "no-failover");
    assert_eq!(stat_of(&mut ca, "sync_partial_ok"), "1", "the old primary continued partially");
    assert_eq!(c(&mut raw, "SET x 1"), "-READONLY You can't write against a read only replica.\r\n");
    // The sibling follows the old primary, now a replica of the target.
    write_mix(&mut ca, "c");
    wait_for(SYNC, "the sibling's link", || repl_field(&mut cb, "master_link_status") == "up");
    wait_caught_up(&mut ca, &mut p);
    wait_caught_up(&mut ca, &mut cb);
    assert_eq!(digest(&mut ca), digest(&mut p));
    assert_eq!(digest(&mut ca), digest(&mut cb));
}

#[test]
fn failover_gives_up_when_no_replica_catches_up_and_writes_resume() {
    let primary = Server::start(FAST);
    let a = Server::start(&[]);
    let (mut p, mut ca) = (primary.conn(), a.conn());
    attach(&mut ca, &primary);
    let pid = a.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let mut raw = primary.raw();
    assert_eq!(c(&mut raw, "SET k 1"), "+OK\r\n");
    assert_eq!(c(&mut raw, "FAILOVER TIMEOUT 500"), "+OK\r\n");
    assert_eq!(repl_field(&mut p, "master_failover_state"), "waiting-for-sync");
    // A write waits for the outcome, and then runs on the primary it still is.
    let mut writer = primary.raw();
    writer.send(&resp(&[b"SET", b"k", b"2"]));
    assert_eq!(writer.read_str(), "+OK\r\n");
    assert_eq!(repl_field(&mut p, "master_failover_state"), "no-failover");
    assert_eq!(role_name(&mut p), "master");
    assert!(primary.log().contains("FAILOVER aborted: Replica never caught up before timeout"), "{}", primary.log());
    assert_eq!(c(&mut raw, "FAILOVER TIMEOUT 60000"), "+OK\r\n");
    assert_eq!(c(&mut raw, "FAILOVER ABORT"), "+OK\r\n");
    assert_eq!(c(&mut raw, "SET k 3"), "+OK\r\n");
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    wait_caught_up(&mut p, &mut ca);
    assert_eq!(digest(&mut p), digest(&mut ca));
}

#[test]
fn failover_between_moonkv_and_redis_server_both_ways() {
    let Some(rp) = Server::start_redis(FAST) else { return };
    // redis-server hands its role to a moonkv replica.
    let m = Server::start(FAST);
    let (mut p, mut cm) = (rp.conn(), m.conn());
    write_mix(&mut p, "a");
    attach(&mut cm, &rp);
    let _: () = q(&mut p, &["FAILOVER", "TO", "127.0.0.1", &m.port.to_string()]);
    wait_for(SYNC, "redis-server to follow moonkv", || {
        role_name(&mut p) == "slave" && repl_field(&mut p, "master_link_status") == "up"
    });
    assert_eq!(role_name(&mut cm), "master");
    write_mix(&mut cm, "b");
    wait_caught_up(&mut cm, &mut p);
    assert_same(&dataset(&mut cm), &dataset(&mut p), "redis-server after failing over to moonkv");
    assert_eq!(stat_of(&mut cm, "sync_partial_ok"), "1");
    // And moonkv hands it back.
    let _: () = q(&mut cm, &["FAILOVER"]);
    wait_for(SYNC, "moonkv to follow redis-server", || {
        role_name(&mut cm) == "slave" && repl_field(&mut cm, "master_link_status") == "up"
    });
    assert_eq!(role_name(&mut p), "master");
    write_mix(&mut p, "c");
    wait_caught_up(&mut p, &mut cm);
    assert_same(&dataset(&mut p), &dataset(&mut cm), "moonkv after failing over to redis-server");
}

#[test]
fn becoming_a_replica_unblocks_blocked_clients() {
    let node = Server::start(&[]);
    let mut blocked = node.raw();
    blocked.send(&resp(&[b"BLPOP", b"list", b"0"]));
    let mut r = node.conn();
    wait_for(SYNC, "the client to block", || {
        field(&info_of(&mut r, "clients"), "blocked_clients").as_deref() == Some("1")
    });
    let closed = CLOSED_PORT.to_string();
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &closed]);
    assert_eq!(
        blocked.read_str(),
        "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
    );
}

/// SHA1 of a script body, as SCRIPT LOAD answers it.
fn script_load(c: &mut redis::Connection, body: &str) -> String {
    q(c, &["SCRIPT", "LOAD", body])
}

fn script_exists(c: &mut redis::Connection, sha: &str) -> bool {
    let v: Vec<i64> = q(c, &["SCRIPT", "EXISTS", sha]);
    v == [1]
}

#[test]
fn every_script_the_primary_ran_or_loaded_survives_a_promotion() {
    let Some(redis_replica) = Server::start_redis(&[]) else { return };
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let (mut p, mut r, mut rr) = (primary.conn(), replica.conn(), redis_replica.conn());
    // Loaded before the replicas joined: the snapshot carries it to moonkv.
    let early = script_load(&mut p, "return 'early'");
    attach(&mut r, &primary);
    attach(&mut rr, &primary);
    // A read-only EVAL, an EVALSHA whose first run writes nothing, a SCRIPT LOAD.
    let _: Option<String> = q(&mut p, &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
    let reads = script_load(&mut p, "return redis.call('get', KEYS[1])");
    let writes_later = script_load(&mut p, "if ARGV[1] == 'w' then redis.call('incr', KEYS[1]) end return 1");
    let _: i64 = q(&mut p, &["EVALSHA", &writes_later, "1", "n", "r"]);
    let _: i64 = q(&mut p, &["EVALSHA", &writes_later, "1", "n", "w"]);
    let loaded = script_load(&mut p, "return 'loaded'");
    wait_caught_up(&mut p, &mut r);
    wait_caught_up(&mut p, &mut rr);
    for sha in [&early, &reads, &writes_later, &loaded] {
        assert!(script_exists(&mut r, sha), "moonkv replica knows {sha}");
    }
    for sha in [&reads, &writes_later, &loaded] {
        assert!(script_exists(&mut rr, sha), "redis-server replica knows {sha}");
    }
    assert_eq!(digest(&mut p), digest(&mut r));
    let stats = info_of(&mut p, "stats");
    assert_eq!(field(&stats, "repl_script_cache_resets").as_deref(), Some("2"), "two full syncs: {stats}");
    assert_eq!(field(&stats, "repl_script_cache_size").as_deref(), Some("3"), "{stats}");
    // SCRIPT FLUSH reaches the replicas; scripts run again are sent again.
    let _: () = q(&mut p, &["SCRIPT", "FLUSH"]);
    let _: i64 = q(&mut p, &["EVAL", "if ARGV[1] == 'w' then redis.call('incr', KEYS[1]) end return 1", "1", "n", "r"]);
    wait_caught_up(&mut p, &mut r);
    assert!(!script_exists(&mut r, &loaded), "flushed on the replica too");
    assert!(script_exists(&mut r, &writes_later), "known again");
    // The replica, promoted, answers EVALSHA for what the old primary had.
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    let v: i64 = q(&mut r, &["EVALSHA", &writes_later, "1", "n", "w"]);
    assert_eq!(v, 1);
}

#[test]
fn scripts_of_every_kind_leave_replicas_equal_and_knowing_them() {
    let primary = Server::start(FAST);
    let mid = Server::start(FAST);
    let mut leaf = Server::start(&[]);
    let (mut p, mut m, mut l) = (primary.conn(), mid.conn(), leaf.conn());
    attach(&mut m, &primary);
    attach(&mut l, &mid);
    let bodies = [
        // Random numbers, TIME, set iteration order, SELECT, expiries, floats.
        "redis.call('set', KEYS[1], math.random(1000000)) return 1",
        "local t = redis.call('time') redis.call('set', KEYS[1], t[1]) return 1",
        "for _, m in ipairs(redis.call('smembers', KEYS[1])) do redis.call('rpush', KEYS[1]..':l', m) end return 1",
        "redis.call('select', 5) redis.call('set', KEYS[1], 'in5') return 1",
        "redis.call('set', KEYS[1], 'v', 'EX', 1000) redis.call('pexpire', KEYS[1]..':x', 5000) return 1",
        "return redis.call('incrbyfloat', KEYS[1]..':f', '0.1')",
        "redis.call('spop', KEYS[1]) return 1",
        // Errors half way after writing.
        "redis.call('set', KEYS[1]..':half', 1) redis.call('incr', KEYS[1]..':nope:str') return 1",
    ];
    let _: () = q(&mut p, &["SADD", "s", "a", "b", "c", "d", "e"]);
    let _: () = q(&mut p, &["SET", "s:nope:str", "x"]);
    let mut shas = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let key = if i == 2 || i == 6 { "s" } else { "k" };
        let _ = redis::cmd("EVAL").arg(*body).arg(1).arg(key).query::<redis::Value>(&mut p);
        shas.push(script_load(&mut p, body));
    }
    // EVALSHA inside MULTI, and a restarted leaf continuing partially.
    let _: () = redis::pipe()
        .atomic()
        .cmd("EVALSHA")
        .arg(&shas[0])
        .arg(1)
        .arg("k2")
        .cmd("EVALSHA")
        .arg(&shas[5])
        .arg(1)
        .arg("k2")
        .query(&mut p)
        .expect("EVALSHA in MULTI");
    wait_caught_up(&mut p, &mut l);
    let file = shutdown_save(&mut leaf);
    for body in &bodies[..3] {
        let _ = redis::cmd("EVAL").arg(*body).arg(1).arg("k3").query::<redis::Value>(&mut p);
    }
    let again = Server::start_with_files(&["--replicaof", "127.0.0.1", &mid.port.to_string()], &[("dump.rdb", &file)]);
    let mut l = again.conn();
    wait_for(SYNC, "the restarted leaf's link", || repl_field(&mut l, "master_link_status") == "up");
    for c in [&mut m, &mut l] {
        wait_caught_up(&mut p, c);
        assert_eq!(digest(&mut p), digest(c));
        for sha in &shas {
            assert!(script_exists(c, sha), "{sha}");
        }
        let errors = field(&info_of(c, "stats"), "unexpected_error_replies");
        assert_eq!(errors.as_deref(), Some("0"), "no replica error applying the stream");
    }
    assert!(!mid.log().contains("CRITICAL") && !again.log().contains("CRITICAL"));
}

/// PUBLISH on a primary reaches subscribers on its replicas (moonkv and
/// redis-server), also from inside a script (its effects), as in Redis.
#[test]
fn published_messages_reach_subscribers_on_replicas() {
    let primary = Server::start(FAST);
    let mut replicas = vec![Server::start(&[])];
    replicas.extend(Server::start_redis(&[]));
    let mut conns = Vec::new();
    for r in &replicas {
        attach(&mut r.conn(), &primary);
        let c = r.conn();
        c.set_read_timeout(Some(SYNC)).unwrap();
        conns.push(c);
    }
    let mut subscribers: Vec<redis::PubSub> = conns
        .iter_mut()
        .map(|c| {
            let mut ps = c.as_pubsub();
            ps.subscribe("news").expect("SUBSCRIBE");
            ps
        })
        .collect();
    let mut p = primary.conn();
    let _: i64 = q(&mut p, &["PUBLISH", "news", "plain"]);
    let _: () = q(&mut p, &["EVAL", "redis.call('set', 'k', '1') redis.call('publish', 'news', 'scripted')", "0"]);
    for (sub, r) in subscribers.iter_mut().zip(&replicas) {
        for want in ["plain", "scripted"] {
            let msg = sub.get_message().unwrap_or_else(|e| panic!("replica on {}: {e}", r.port));
            assert_eq!(msg.get_payload::<String>().unwrap(), want);
        }
    }
}
