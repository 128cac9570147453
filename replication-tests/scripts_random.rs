//! Randomized script propagation (issue 7): random scripts (reads, writes,
//! random commands, conditionals on data, errors) run through EVAL, EVALSHA,
//! SCRIPT LOAD and SCRIPT FLUSH from several clients, the mode switched at
//! runtime, while replicas restart from their files (after a SHUTDOWN, or a
//! crash some time after a SAVE) and lose their links. At the
//! end every replica's digest is the primary's, no replica logged an error, and
//! every script the primary holds is held by every replica.
//!
//! `SCRIPT_SOAK_SECS` (default 8) and `SCRIPT_SOAK_SEED` make it longer or
//! replay a run.

use super::*;
use rand::{Rng, SeedableRng};

/// A key of family `p` from a small pool, so scripts and clients collide.
fn key(rng: &mut impl Rng, p: &str) -> String {
    format!("'{p}{}'", rng.gen_range(0..12))
}

/// One random Lua statement.
fn statement(rng: &mut impl Rng, depth: u32) -> String {
    let s = key(rng, "s");
    match rng.gen_range(0..24) {
        0 => format!("redis.call('set', {s}, ARGV[1])"),
        1 => format!("redis.call('incr', {})", key(rng, "i")),
        2 => format!("redis.call('rpush', {}, math.random(100))", key(rng, "l")),
        3 => format!("redis.call('lpop', {})", key(rng, "l")),
        4 => format!("redis.call('sadd', {}, math.random(30))", key(rng, "t")),
        5 => format!("redis.call('hset', {}, ARGV[1], math.random(9))", key(rng, "h")),
        6 => format!("redis.call('del', {s})"),
        7 => format!("redis.call('expire', {s}, 1000)"),
        8 => format!("redis.call('set', {s}, 'e', 'PX', {})", rng.gen_range(1..40)),
        9 => format!("redis.call('incrbyfloat', {}, '0.1')", key(rng, "f")),
        10 => format!("redis.call('spop', {})", key(rng, "t")),
        11 => format!("redis.call('set', {s}, redis.call('time')[2])"),
        12 => format!("redis.call('set', {s}, redis.call('randomkey') or 'none')"),
        13 => format!("redis.call('set', {s}, redis.call('srandmember', {}) or 'none')", key(rng, "t")),
        14 => format!(
            "for _, m in ipairs(redis.call('smembers', {})) do redis.call('rpush', {}, m) end",
            key(rng, "t"),
            key(rng, "l")
        ),
        15 => format!("redis.call('set', {s}, table.concat(redis.call('hgetall', {}), ','))", key(rng, "h")),
        16 => format!("redis.call('incr', {s})"),
        17 => "error('half way')".into(),
        18 => "redis.replicate_commands()".into(),
        19 => "redis.set_repl(redis.REPL_ALL)".into(),
        20 => format!(
            "redis.call('select', {}) redis.call('incr', {}) redis.call('select', 0)",
            rng.gen_range(0..3),
            key(rng, "i")
        ),
        21 => format!("redis.call('get', {s})"),
        22 => "redis.call('publish', 'ch', ARGV[1])".to_string(),
        _ if depth < 2 => format!(
            "if redis.call('exists', {s}) == 1 then {} else {} end",
            statement(rng, depth + 1),
            statement(rng, depth + 1)
        ),
        _ => format!("redis.call('ttl', {s})"),
    }
}

/// A random script of a few statements; unprotected calls may raise.
fn script(rng: &mut impl Rng, n: usize) -> String {
    let mut body: Vec<String> = (0..rng.gen_range(1..6)).map(|_| statement(rng, 0)).collect();
    body.push(format!("return {n}"));
    body.join("\n")
}

#[test]
fn random_scripts_from_several_clients_while_replicas_restart_converge() {
    let secs: u64 = std::env::var("SCRIPT_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let seed: u64 = std::env::var("SCRIPT_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(11);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let pool: Vec<String> = (0..80).map(|n| script(&mut rng, n)).collect();
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "1mb"]);
    let mut p = primary.conn();
    let shas: Vec<String> = pool.iter().map(|b| sha1_hex(b)).collect();
    let mut a = Server::start(FAST);
    let mut b = Server::start(&[]);
    attach(&mut a.conn(), &primary);
    attach(&mut b.conn(), &a);

    let port = primary.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|id| {
            let (stop, pool, shas) = (stop.clone(), pool.clone(), shas.clone());
            std::thread::spawn(move || {
                let mut c =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                let mut rng = rand::rngs::SmallRng::seed_from_u64(seed * 10 + id);
                let mut runs = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let i = rng.gen_range(0..pool.len());
                    let arg = rng.gen_range(0..5).to_string();
                    let cmd = match rng.gen_range(0..100) {
                        0 => redis::cmd("SCRIPT").arg("FLUSH").clone(),
                        1..=5 => redis::cmd("SCRIPT").arg("LOAD").arg(&pool[i]).clone(),
                        6..=10 => redis::cmd("EVAL_RO").arg(&pool[i]).arg(0).arg(&arg).clone(),
                        11..=50 => redis::cmd("EVAL").arg(&pool[i]).arg(0).arg(&arg).clone(),
                        _ => redis::cmd("EVALSHA").arg(&shas[i]).arg(0).arg(&arg).clone(),
                    };
                    // Errors (NOSCRIPT, script errors, refusals) are part of the mix.
                    let _ = cmd.query::<redis::Value>(&mut c);
                    runs += 1;
                }
                runs
            })
        })
        .collect();

    let modes = ["adaptive", "verbatim", "effects"];
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut actions = Vec::new();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..500)));
        match rng.gen_range(0..5) {
            0 => {
                let mode = modes[rng.gen_range(0..modes.len())];
                actions.push(mode);
                let _: () = q(&mut p, &["CONFIG", "SET", "script-replication", mode]);
            }
            1 => {
                actions.push("drop a's link");
                let _: redis::RedisResult<i64> =
                    redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("master").query(&mut a.conn());
            }
            2 => {
                actions.push("restart b");
                b = restart_from_file(b, a.port);
            }
            3 => {
                actions.push("restart a");
                a = restart_from_file(a, primary.port);
                // It listens elsewhere now: b follows it there (continuing).
                let _: () = q(&mut b.conn(), &["REPLICAOF", "127.0.0.1", &a.port.to_string()]);
            }
            _ => {
                // A crash some time after a save: b has what a applied since, a
                // restarts from before it.
                actions.push("crash a after a save");
                let _: () = q(&mut a.conn(), &["SAVE"]);
                std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
                let _ = a.child.kill();
                let _ = a.child.wait();
                a = restart_from_file(a, primary.port);
                let _: () = q(&mut b.conn(), &["REPLICAOF", "127.0.0.1", &a.port.to_string()]);
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let runs: u64 = clients.into_iter().map(|t| t.join().unwrap()).sum();
    // Keys set with PX live a few ms: the primary would go on deleting them
    // between its digest and the replicas', so its data stops changing here.
    let _: () = q(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let want = digest(&mut p);
    for server in [&a, &b] {
        let mut c = server.conn();
        wait_for(SYNC, "the replica's link", || repl_field(&mut c, "master_link_status") == "up");
    }
    for (server, name) in [(&a, "a"), (&b, "b")] {
        let mut c = server.conn();
        wait_caught_up(&mut p, &mut c);
        if digest(&mut c) != want {
            panic!(
                "{name}'s digest differs after {runs} runs and {actions:?}:\n{}\n{name}'s log:\n{}",
                dataset_difference(&primary, server),
                server.log()
            );
        }
        for sha in &shas {
            if script_exists(&mut p, sha) {
                assert!(script_exists(&mut c, sha), "{name} knows {sha}");
            }
        }
        assert_eq!(stat_of(&mut c, "unexpected_error_replies"), "0", "{name}: {}", server.log());
    }
    let stats = info_of(&mut p, "stats");
    assert!(runs > 100, "{runs} runs");
    assert!(field(&stats, "repl_script_runs_verbatim").unwrap() != "0", "{stats}");
    assert!(field(&stats, "repl_script_runs_effects").unwrap() != "0", "{stats}");
}

/// Stops `server` with SHUTDOWN SAVE (unless it was killed) and starts it
/// again from its file as a replica of `primary_port`.
fn restart_from_file(mut server: Server, primary_port: u16) -> Server {
    let file = if server.alive() { shutdown_save(&mut server) } else { file_left_by(&mut server) };
    let again = Server::start_with_files(
        &["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", &primary_port.to_string()],
        &[("dump.rdb", &file)],
    );
    wait_for(SYNC, "the restarted replica's link", || repl_field(&mut again.conn(), "master_link_status") == "up");
    again
}

fn sha1_hex(body: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
