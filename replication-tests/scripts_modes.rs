//! Script propagation in each `script-replication` mode (issue 7): every
//! interleaving of the list, ending with offsets equal, digests equal,
//! no replica error, and every script the primary ran or loaded known to every
//! replica and runnable after a promotion.

use super::*;

/// Scripts of every kind the issue lists: (body, keys). Each runs by EVAL, then
/// twice by EVALSHA.
const KINDS: &[(&str, &[&str])] = &[
    // Deterministic writes: verbatim where the mode allows.
    ("for i = 1, 10 do redis.call('set', KEYS[1] .. i, ARGV[1]) end return 10", &["ten:"]),
    ("redis.call('set', KEYS[1], math.random(1000000)) return 1", &["rand"]),
    (
        "for _, m in ipairs(redis.call('smembers', KEYS[1])) do redis.call('rpush', KEYS[2], m) end return 1",
        &["set", "order"],
    ),
    (
        "local h = redis.call('hgetall', KEYS[1]) redis.call('set', KEYS[2], table.concat(h, ',')) return 1",
        &["hash", "hflat"],
    ),
    ("redis.call('select', 5) redis.call('incr', KEYS[1]) return 1", &["in5"]),
    ("local v = redis.call('get', KEYS[1]) if v then redis.call('set', KEYS[2], v) end return v", &["maybe", "copy"]),
    // Non-deterministic: effects in adaptive mode, refused or effects in verbatim.
    ("local t = redis.call('time') redis.call('set', KEYS[1], t[1] .. t[2]) return 1", &["time"]),
    ("redis.replicate_commands() local t = redis.call('time') return redis.call('set', KEYS[1], t[2])", &["time2"]),
    ("redis.replicate_commands() return redis.call('spop', KEYS[1])", &["pool"]),
    ("redis.replicate_commands() redis.call('set', KEYS[1], redis.call('randomkey') or 'none') return 1", &["rk"]),
    ("redis.call('set', KEYS[1], 'v', 'EX', 1000) redis.call('pexpire', KEYS[2], 5000) return 1", &["ex", "ten:1"]),
    ("return redis.call('incrbyfloat', KEYS[1], '0.1')", &["float"]),
    ("redis.call('publish', 'ch', 'm') return redis.call('incr', KEYS[1])", &["pub"]),
    ("redis.call('rpush', KEYS[1], os.clock() >= 0 and 'a' or 'b') return 1", &["clock"]),
    // Reads a key that expired by the primary's clock.
    ("if redis.call('exists', KEYS[1]) == 0 then redis.call('incr', KEYS[2]) end return 1", &["short", "gone"]),
    // Errors half way, after writing; an error reply returned after writing
    // (replayable: the replica returns it too).
    ("redis.call('set', KEYS[1], 1) redis.call('incr', KEYS[2]) return 1", &["half", "str"]),
    ("redis.call('incr', KEYS[1]) return redis.error_reply('MY own error')", &["own"]),
    // Addresses and the collector's state.
    ("redis.call('set', KEYS[1], tostring({}) ~= '' and collectgarbage('count') > 0 and 1 or 0) return 1", &["addr"]),
    // Read-only, and writing only on some runs.
    ("return redis.call('get', KEYS[1])", &["ten:1"]),
    ("if ARGV[1] == 'w' then redis.call('incr', KEYS[1]) end return 1", &["sometimes"]),
];

fn eval_any(
    c: &mut redis::Connection,
    cmd: &str,
    script: &str,
    keys: &[&str],
    arg: &str,
) -> redis::RedisResult<redis::Value> {
    let mut command = redis::cmd(cmd);
    command.arg(script).arg(keys.len()).arg(keys).arg(arg);
    command.query(c)
}

/// Runs every kind by EVAL and EVALSHA (a run that writes nothing first, for the
/// ones that write on demand), some inside MULTI; returns their shas.
fn run_kinds(p: &mut redis::Connection, round: usize) -> Vec<String> {
    let _: () = q(p, &["SADD", "set", "a", "b", "c", "d", "e", "f"]);
    let _: () = q(p, &["HSET", "hash", "z", "1", "y", "2", "x", "3"]);
    let _: () = q(p, &["SADD", "pool", "1", "2", "3", "4", "5"]);
    let _: () = q(p, &["SET", "str", "not a number"]);
    let _: () = q(p, &["SET", "maybe", "x"]);
    // Expires before the script reads it (active expiry is off on the primary).
    let _: () = q(p, &["SET", "short", "1", "PX", "1"]);
    let until = std::time::Instant::now() + Duration::from_millis(3);
    while std::time::Instant::now() < until {}
    let mut shas = Vec::new();
    for (body, keys) in KINDS {
        let arg = format!("r{round}");
        let _ = eval_any(p, "EVAL", body, keys, &arg);
        let sha = script_load(p, body);
        let _ = eval_any(p, "EVALSHA", &sha, keys, &arg);
        let _ = eval_any(p, "EVALSHA", &sha, keys, "w");
        shas.push(sha);
    }
    // EVALSHA inside MULTI.
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (sha, (_, keys)) in shas.iter().zip(KINDS).take(6) {
        pipe.cmd("EVALSHA").arg(sha).arg(keys.len()).arg(*keys).arg("m");
    }
    let _: redis::Value = pipe.query(p).expect("EVALSHA in MULTI");
    shas
}

/// Waits for `replicas` to reach the primary's offset, then checks digests, the
/// scripts they know and their logs.
fn assert_converged(p: &mut redis::Connection, replicas: &[(&Server, &str)], shas: &[String]) {
    let want = digest(p);
    for (server, name) in replicas {
        let mut c = server.conn();
        wait_caught_up(p, &mut c);
        assert_eq!(digest(&mut c), want, "{name}'s digest");
        for sha in shas {
            assert!(script_exists(&mut c, sha), "{name} knows {sha}");
        }
        assert_eq!(stat_of(&mut c, "unexpected_error_replies"), "0", "{name} applied the stream without an error");
        assert!(!server.log().contains("CRITICAL"), "{name}'s log: {}", server.log());
    }
}

/// The interleavings, in `mode`: a chain primary → mid → leaf plus a
/// second direct replica; scripts loaded before the replicas joined; every kind
/// of script; a leaf restart continuing partially; SCRIPT FLUSH then the
/// scripts again; more than 500 distinct EVAL scripts (eviction); a killed and
/// a timed-out script; finally a promotion answering EVALSHA for everything.
fn interleavings(mode: &str) {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--script-replication",
        mode,
        "--busy-reply-threshold",
        "50",
    ]);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let early = script_load(&mut p, "return redis.call('incr', KEYS[1])");
    let _: i64 = q(&mut p, &["EVALSHA", &early, "1", "early"]);
    let mid = Server::start(FAST);
    let direct = Server::start(&[]);
    let mut leaf = Server::start(&[]);
    attach(&mut mid.conn(), &primary);
    attach(&mut direct.conn(), &primary);
    attach(&mut leaf.conn(), &mid);
    let mut shas = vec![early.clone()];
    shas.extend(run_kinds(&mut p, 1));
    assert_converged(&mut p, &[(&mid, "mid"), (&direct, "direct"), (&leaf, "leaf")], &shas);

    // The leaf restarts from its file and continues partially.
    let file = shutdown_save(&mut leaf);
    run_kinds(&mut p, 2);
    let leaf = Server::start_with_files(&["--replicaof", "127.0.0.1", &mid.port.to_string()], &[("dump.rdb", &file)]);
    wait_for(SYNC, "the restarted leaf's link", || repl_field(&mut leaf.conn(), "master_link_status") == "up");
    assert_converged(&mut p, &[(&mid, "mid"), (&direct, "direct"), (&leaf, "restarted leaf")], &shas);
    assert!(leaf.log().contains("Successful partial resynchronization"), "{}", leaf.log());

    // SCRIPT FLUSH, then EVALSHA fails and EVAL sends the scripts again.
    let _: () = q(&mut p, &["SCRIPT", "FLUSH"]);
    let gone = eval_any(&mut p, "EVALSHA", &shas[1], KINDS[0].1, "x").expect_err("flushed");
    assert_eq!(gone.code(), Some("NOSCRIPT"));
    let shas_again = run_kinds(&mut p, 3);
    assert_converged(&mut p, &[(&mid, "mid"), (&direct, "direct"), (&leaf, "leaf")], &shas_again);
    assert!(!script_exists(&mut mid.conn(), &early), "the flush reached the replicas");

    // More than 500 distinct EVAL scripts: the oldest are evicted on the
    // primary, and one run again after its eviction is sent again.
    let mut pipe = redis::pipe();
    for i in 0..520 {
        pipe.cmd("EVAL").arg(format!("return redis.call('set', KEYS[1], '{i}')")).arg(1).arg(format!("many:{}", i % 7));
    }
    let _: redis::Value = pipe.query(&mut p).expect("520 scripts");
    assert!(stat_of(&mut p, "evicted_scripts").parse::<u64>().unwrap() >= 20);
    let _: () = q(&mut p, &["EVAL", "return redis.call('set', KEYS[1], '0')", "1", "many:0"]);
    let first = script_load(&mut p, "return redis.call('set', KEYS[1], '0')");
    let _: () = q(&mut p, &["EVALSHA", &first, "1", "many:0"]);

    // A script killed before writing, and one that wrote past the busy threshold.
    let port = primary.port;
    let looping = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        redis::cmd("EVAL").arg("local i = 0 while true do i = i + 1 end").arg(0).query::<redis::Value>(&mut c)
    });
    let mut killer = primary.conn();
    wait_for(SYNC, "the script to be killable", || redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut killer).is_ok());
    let killed = looping.join().unwrap().expect_err("killed");
    assert!(killed.to_string().contains("Script killed by user"), "{killed}");
    let slow = "redis.call('set', KEYS[1], 'slow') local n = 0 for i = 1, 3000000 do n = n + i end return n";
    let _: i64 = q(&mut p, &["EVAL", slow, "1", "slow"]);
    let mut known = shas_again.clone();
    known.push(first);
    known.push(script_load(&mut p, slow));
    assert_converged(&mut p, &[(&mid, "mid"), (&direct, "direct"), (&leaf, "leaf")], &known);

    let stats = info_of(&mut p, "stats");
    let verbatim: u64 = field(&stats, "repl_script_runs_verbatim").unwrap().parse().unwrap();
    let effects: u64 = field(&stats, "repl_script_runs_effects").unwrap().parse().unwrap();
    assert!(effects > 0, "{stats}");
    if mode == "effects" {
        assert_eq!(verbatim, 0, "{stats}");
    } else {
        assert!(verbatim > 0, "{stats}");
    }

    // Promoted, the mid replica runs every script the old primary knew.
    drop(primary);
    let mut m = mid.conn();
    let _: () = q(&mut m, &["REPLICAOF", "NO", "ONE"]);
    for (i, sha) in known.iter().enumerate() {
        let keys = KINDS.get(i).map_or(&["x"][..], |k| k.1);
        if let Err(e) = eval_any(&mut m, "EVALSHA", sha, keys, "after") {
            assert_ne!(e.code(), Some("NOSCRIPT"), "{sha} after the promotion");
        }
    }
    wait_caught_up(&mut m, &mut leaf.conn());
    assert_eq!(digest(&mut m), digest(&mut leaf.conn()));
}

#[test]
fn scripts_interleavings_in_adaptive_mode() {
    interleavings("adaptive");
}

#[test]
fn scripts_interleavings_in_verbatim_mode() {
    interleavings("verbatim");
}

#[test]
fn scripts_interleavings_in_effects_mode() {
    interleavings("effects");
}

/// The redis-server replica's log has no error applying the stream.
fn assert_redis_applied_cleanly(server: &Server) {
    let log = server.log();
    assert!(!log.contains("CRITICAL"), "redis-server's log: {log}");
}

/// A redis-server 7.0 replica receives only what it can execute: while it is
/// attached (and while its dropped link could still continue) every run goes
/// as effects; a redis-server below a moonkv replica makes that replica
/// reconnect without `capa moonkv` first.
#[test]
fn a_redis_server_replica_receives_only_what_it_can_execute() {
    let Some(redis_direct) = Server::start_redis(&[]) else { return };
    let redis_leaf = Server::start_redis(&[]).expect("redis-server");
    let primary = Server::start(FAST);
    let mid = Server::start(FAST);
    let mut p = primary.conn();
    attach(&mut mid.conn(), &primary);
    attach(&mut redis_direct.conn(), &primary);
    run_kinds(&mut p, 1);
    assert_eq!(stat_of(&mut p, "repl_script_runs_verbatim"), "0", "a redis-server replica is attached");
    // Its link drops and scripts run meanwhile (mid still attached): still
    // effects, and it continues.
    // (Stopped, it cannot come back before the scripts ran; mid comes back.)
    let pid = redis_direct.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let _: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    wait_for(SYNC, "mid back alone", || {
        repl_field(&mut p, "connected_slaves") == "1" && repl_field(&mut p, "slave0").contains("online")
    });
    let mut shas = run_kinds(&mut p, 2);
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    wait_for(SYNC, "both replicas back", || repl_field(&mut p, "connected_slaves") == "2");
    assert_eq!(stat_of(&mut p, "repl_script_runs_verbatim"), "0", "the redis-server replica may still continue");
    let mut r = redis_direct.conn();
    wait_caught_up(&mut p, &mut r);
    assert_same(&dataset(&mut p), &dataset(&mut r), "redis-server replica");
    for sha in &shas {
        assert!(script_exists(&mut r, sha), "redis-server knows {sha}");
    }
    assert_redis_applied_cleanly(&redis_direct);
    // Without it, verbatim runs resume; a redis-server below mid then makes mid
    // reconnect without capa moonkv, and the runs go as effects again.
    drop(r);
    drop(redis_direct);
    let _: () = q(&mut p, &["CONFIG", "SET", "repl-backlog-size", "16384"]);
    let mut filler = redis::pipe();
    for i in 0..400 {
        filler.cmd("SET").arg(format!("fill:{i}")).arg("x".repeat(100));
    }
    let _: () = filler.query(&mut p).expect("fill the backlog past the old replica's position");
    wait_for(SYNC, "the redis-server replica gone", || repl_field(&mut p, "connected_slaves") == "1");
    run_kinds(&mut p, 3);
    assert_ne!(stat_of(&mut p, "repl_script_runs_verbatim"), "0", "only moonkv replicas left");
    let mut l = redis_leaf.conn();
    attach(&mut l, &mid);
    assert!(mid.log().contains("reconnecting to MASTER without it"), "{}", mid.log());
    let before = stat_of(&mut p, "repl_script_runs_verbatim");
    shas = run_kinds(&mut p, 4);
    assert_eq!(stat_of(&mut p, "repl_script_runs_verbatim"), before, "mid announced no capa moonkv");
    wait_caught_up(&mut p, &mut mid.conn());
    wait_caught_up(&mut p, &mut l);
    assert_same(&dataset(&mut p), &dataset(&mut l), "redis-server below mid");
    for sha in &shas {
        assert!(script_exists(&mut l, sha), "the redis-server leaf knows {sha}");
    }
    assert_redis_applied_cleanly(&redis_leaf);
}

/// A replica whose scripts were flushed behind its primary's back fails the
/// primary's EVALSHA: it says so loudly, drops the link and full-syncs instead of
/// going on diverged, and knows the scripts again afterwards.
#[test]
fn a_replica_that_fails_a_propagated_script_full_syncs() {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    let body = "for i = 1, 5 do redis.call('incr', KEYS[1]) end return 1";
    let _: i64 = q(&mut p, &["EVAL", body, "1", "n"]);
    let sha = script_load(&mut p, body);
    wait_caught_up(&mut p, &mut r);
    let _: () = q(&mut r, &["SCRIPT", "FLUSH"]);
    let _: i64 = q(&mut p, &["EVALSHA", &sha, "1", "n"]);
    wait_for(SYNC, "a second full sync", || stat_of(&mut p, "sync_full") == "2");
    wait_for(SYNC, "the link back up", || repl_field(&mut r, "master_link_status") == "up");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(script_exists(&mut r, &sha), "the snapshot carried the script");
    let log = replica.log();
    assert!(log.contains("this replica diverged"), "{log}");
    // `propagation-error-behavior resync` does the same for any error.
    let _: () = q(&mut r, &["CONFIG", "SET", "propagation-error-behavior", "resync"]);
    let _: () = q(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]);
    let _: () = q(&mut r, &["SET", "clash", "a string"]);
    let _: () = q(&mut p, &["RPUSH", "clash", "x"]);
    wait_for(SYNC, "a third full sync", || stat_of(&mut p, "sync_full") == "3");
    wait_for(SYNC, "the link back up", || repl_field(&mut r, "master_link_status") == "up");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
}

/// SCRIPT FLUSH while a replica full-syncs, a 100 MB script body, and SCRIPT
/// KILL racing the ends of scripts: defined outcomes, no divergence.
#[test]
fn script_flush_during_a_full_sync_a_huge_body_and_kill_races_leave_replicas_equal() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "1", "--busy-reply-threshold", "1"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "50000"]);
    let old = script_load(&mut p, "return redis.call('incr', KEYS[1])");
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    wait_for(SYNC, "the full sync to be under way", || repl_field(&mut p, "slave0").contains("wait_bgsave"));
    let _: () = q(&mut p, &["SCRIPT", "FLUSH"]);
    let new = script_load(&mut p, "return redis.call('incr', KEYS[1] .. ':new')");
    let _: i64 = q(&mut p, &["EVALSHA", &new, "1", "k"]);
    wait_for(SYNC, "the link up", || repl_field(&mut r, "master_link_status") == "up");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(!script_exists(&mut r, &old) && script_exists(&mut r, &new));

    // 100 MB of body (a long comment): loaded, sent once, known by the replica.
    let huge = format!("redis.call('set', KEYS[1], 'huge') return 1 --{}", "x".repeat(100 << 20));
    let _: i64 = q(&mut p, &["EVAL", &huge, "1", "h"]);
    let sha = script_load(&mut p, &huge);
    let _: i64 = q(&mut p, &["EVALSHA", &sha, "1", "h2"]);
    drop(huge);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert!(script_exists(&mut r, &sha));

    // SCRIPT KILL sent again and again while short scripts start and end.
    let port = primary.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
            let mut killed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                killed += redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut c).is_ok() as u32;
            }
            killed
        })
    };
    let racing = "local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + 1 end redis.call('incr', KEYS[1]) return n";
    let mut outcomes = [0, 0];
    for i in 0..300 {
        let loops = (i % 10 * 100_000).to_string();
        match eval_any(&mut p, "EVAL", racing, &["raced"], &loops) {
            Ok(_) => outcomes[0] += 1,
            Err(e) => {
                assert!(e.to_string().contains("Script killed by user"), "{e}");
                outcomes[1] += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    killer.join().unwrap();
    let raced: i64 = q::<Option<i64>>(&mut p, &["GET", "raced"]).unwrap_or(0);
    assert_eq!(raced, outcomes[0], "each run that was not killed wrote once");
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(stat_of(&mut r, "unexpected_error_replies"), "0");
}

/// A redis-server replica follows scripts in every mode (it only ever gets
/// effects and SCRIPT LOAD) and knows every script afterwards.
#[test]
fn a_redis_server_replica_follows_scripts_in_every_mode() {
    for mode in ["adaptive", "verbatim", "effects"] {
        let Some(redis) = Server::start_redis(&[]) else { return };
        let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--script-replication", mode]);
        let mut p = primary.conn();
        let _: () = q(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        let mut r = redis.conn();
        attach(&mut r, &primary);
        let shas = run_kinds(&mut p, 1);
        wait_caught_up(&mut p, &mut r);
        assert_same(&dataset(&mut p), &dataset(&mut r), mode);
        for sha in &shas {
            assert!(script_exists(&mut r, sha), "{mode}: redis-server knows {sha}");
        }
        assert_eq!(stat_of(&mut p, "repl_script_runs_verbatim"), "0", "{mode}");
        assert_redis_applied_cleanly(&redis);
    }
}

/// A replica runs its primary's long script to the end: its own clients get BUSY
/// meanwhile and SCRIPT KILL answers UNKILLABLE, as Redis does for a master's
/// script, whatever the replica's busy-reply-threshold.
#[test]
fn a_replica_runs_its_primary_long_script_to_the_end() {
    let primary = Server::start(FAST);
    let replica = Server::start(&["--busy-reply-threshold", "5"]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    attach(&mut r, &primary);
    let long = "redis.call('set', KEYS[1], 'start') local n = 0 for i = 1, 60000000 do n = n + 1 end redis.call('set', KEYS[1], n) return n";
    let port = primary.port;
    let body = long.to_string();
    let run = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        redis::cmd("EVAL").arg(body).arg(1).arg("long").query::<i64>(&mut c)
    });
    let mut refusals = Vec::new();
    wait_for(SYNC, "SCRIPT KILL on the replica to meet the primary's script", || {
        match redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut r) {
            Err(e) if e.code() == Some("UNKILLABLE") => {
                refusals.push(e.to_string());
                true
            }
            _ => false,
        }
    });
    assert!(refusals[0].contains("sent by a master instance"), "{refusals:?}");
    let busy = redis::cmd("GET").arg("long").query::<Option<String>>(&mut r).expect_err("busy");
    assert_eq!(busy.code(), Some("BUSY"), "{busy}");
    assert_eq!(run.join().unwrap().expect("the primary's run"), 60_000_000);
    wait_for(SYNC, "the replica's run to end", || redis::cmd("PING").query::<String>(&mut r).is_ok());
    wait_caught_up(&mut p, &mut r);
    assert_eq!(q::<String>(&mut r, &["GET", "long"]), "60000000");
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(stat_of(&mut p, "repl_script_runs_verbatim"), "1");
}
