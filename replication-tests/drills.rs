//! Failover drills with real redis-sentinel 7.0 (issue 8): three sentinels watch
//! a moonkv primary and two replicas, as users deploy them.

use super::*;
use std::process::{Child, Command};

/// One drill at a time: each runs six processes that watch each other's
/// timing, and two at once on a 2-core machine starve them.
static DRILL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_drill_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    DRILL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The installed redis-sentinel, if any.
fn sentinel_bin() -> Option<&'static str> {
    ["/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// A redis-sentinel process watching `mymaster`; killed on drop.
struct Sentinel {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sentinel {
    /// Starts a sentinel watching the primary on `primary_port` (quorum 2,
    /// down after 2 s: shorter, and a loaded test machine fails healthy nodes
    /// over).
    fn start(bin: &str, primary_port: u16) -> Sentinel {
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().expect("tempdir");
            let conf = dir.path().join("sentinel.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir.path().display()
            );
            std::fs::write(&conf, text).expect("sentinel config");
            let log = std::fs::File::create(dir.path().join("sentinel.log")).expect("log");
            let child = Command::new(bin)
                .arg(&conf)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn redis-sentinel");
            let mut s = Sentinel { child, port, dir };
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(10) && matches!(s.child.try_wait(), Ok(None)) {
                if s.query(&["PING"]).is_some() {
                    return s;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = s.child.kill();
        }
        panic!("could not start redis-sentinel");
    }

    fn query(&self, args: &[&str]) -> Option<redis::Value> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).ok()?;
        let mut c = client.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c).ok()
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME mymaster`: the primary's port.
    fn primary_port(&self) -> Option<u16> {
        let v = self.query(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])?;
        let (_, port): (String, String) = redis::from_redis_value(&v).ok()?;
        port.parse().ok()
    }

    /// A field of `SENTINEL MASTER mymaster`.
    fn master_field(&self, name: &str) -> Option<String> {
        let v = self.query(&["SENTINEL", "MASTER", "mymaster"])?;
        let flat: Vec<String> = redis::from_redis_value(&v).ok()?;
        flat.chunks(2).find(|kv| kv[0] == name).map(|kv| kv[1].clone())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sentinel.log")).unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- sentinel on port {}, last log lines:", self.port);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `server` is a replica of the node on `port` with its link up (a
/// connection of its own: Sentinel kills normal clients when it reconfigures).
fn follows(server: &Server, port: u16) -> bool {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("client");
    let Ok(mut c) = client.get_connection() else { return false };
    let Ok(info) = redis::cmd("INFO").arg("replication").query::<String>(&mut c) else { return false };
    field(&info, "master_port") == Some(port.to_string()) && field(&info, "master_link_status").as_deref() == Some("up")
}

/// Keeps a killed node's port from other tests' servers (the sentinels still
/// watch it and would reconfigure whatever answered there): connections are
/// accepted and closed at once, so the node looks down. Released on drop.
struct PortHolder {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn hold_port(port: u16) -> PortHolder {
    wait_for(Duration::from_secs(10), "the killed node's port to be free", || {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    });
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the killed node's port");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
            if s.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
        }
    });
    PortHolder { port, stop, thread: Some(thread) }
}

impl Drop for PortHolder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stop` and closes the listener.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The scripts of drill 3, each writing its key: replayed as they are, with a
/// list and a counter, and one reading TIME (sent as its effects).
const DRILL_SCRIPTS: &[&str] = &[
    "redis.call('set', KEYS[1], ARGV[1]) return redis.call('incr', 'runs')",
    "redis.call('rpush', 'log', ARGV[1]) redis.call('set', KEYS[1], ARGV[1]) return redis.call('llen', 'log')",
    "local t = redis.call('time') redis.call('hset', 'seen', ARGV[1], t[1]) redis.call('set', KEYS[1], ARGV[1]) return 1",
    "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
];

/// Drill 3: drill 2 with script traffic. A client runs several scripts by
/// EVALSHA (adaptive mode), each followed by `WAIT 1 100`, while the primary
/// is killed with SIGKILL. Through Sentinel it goes on on the promoted replica
/// with no NOSCRIPT; every run WAIT acknowledged is there, every script runs,
/// and the other replica continues partially with an equal digest. The old
/// primary, restarted empty on its port, is made a replica and resyncs.
#[test]
fn drill_a_killed_primary_under_script_traffic_loses_no_acknowledged_write_or_script() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (mut primary, replicas, sentinels) = sentinel_trio(bin);
    let old_port = primary.port;
    let shas: Vec<String> = DRILL_SCRIPTS.iter().map(|b| script_load(&mut primary.conn(), b)).collect();
    let load = Load::start(&sentinels, &replicas[0], Acked::ByWait, shas.clone());
    let _ = primary.child.kill();
    let _ = primary.child.wait();
    let killed = load.now();
    // The sentinels still watch this address: no other test's server may take
    // it meanwhile (they would reconfigure it).
    let placeholder = hold_port(old_port);
    let new_port = await_promotion(&sentinels, old_port);
    let switched = load.now();
    let (promoted, other) =
        if replicas[0].port == new_port { (&replicas[0], &replicas[1]) } else { (&replicas[1], &replicas[0]) };
    load.resumed_on(promoted);
    let writes = load.stop();
    let mut n = promoted.conn();
    for (sha, body) in shas.iter().zip(DRILL_SCRIPTS) {
        let r = redis::cmd("EVALSHA").arg(sha).arg(1).arg("after").arg("x").query::<redis::Value>(&mut n);
        assert!(r.is_ok(), "EVALSHA {body} on the new primary: {r:?}");
    }
    // Sentinel's reconfiguration kills normal clients (CLIENT KILL TYPE
    // normal), so each poll connects anew, as clients do.
    wait_for(Duration::from_secs(60), "the other replica to follow the new primary", || follows(other, new_port));
    let mut o = other.conn();
    wait_caught_up(&mut n, &mut o);
    assert_eq!(digest(&mut n), digest(&mut o));

    // The old primary comes back (empty, SIGKILL left no file) and is made a
    // replica of the new one.
    drop(placeholder);
    let back = Server::start_on_port(old_port, NODE);
    wait_for(Duration::from_secs(60), "Sentinel to make the old primary a replica", || follows(&back, new_port));
    let mut b = back.conn();
    wait_caught_up(&mut n, &mut b);
    assert_eq!(digest(&mut n), digest(&mut b));
    for sha in &shas {
        assert!(script_exists(&mut b, sha), "the old primary knows {sha} again");
    }
    let lost = WriterOutcome {
        drill: "3",
        scenario: "kill -9 under EVALSHA traffic with WAIT 1 100",
        writes: &writes,
        acked: Acked::ByWait,
        new_primary: promoted,
        failure: killed,
        events: &[(killed, "KILL -9"), (switched, "PROMOTED")],
        resyncs: format!("other replica {}, old primary {} (no file)", resync_kind(other), resync_kind(&back)),
    }
    .publish();
    assert!(lost.is_empty(), "acknowledged runs lost: {lost:?}");
    assert_eq!(writes.noscript, 0, "NOSCRIPT errors");
    assert!(writes.acked.len() > 200);
    assert_eq!(resync_kind(other), "partial", "{}", other.log());
}

/// One request of the drill's client: when it started (since the writer's
/// start), how long it took (with its WAIT), whether it answered OK, and where
/// it went (0: no node to ask, Sentinel answered nothing).
struct Attempt {
    at: Duration,
    took: Duration,
    ok: bool,
    port: u16,
}

/// What a drill's writer did: write numbers that answered OK, those WAIT
/// acknowledged, how many were tried, the failed requests it retried past, and
/// every request in order.
struct Writes {
    ok: Vec<u64>,
    acked: Vec<u64>,
    tried: u64,
    errors: u64,
    /// Errors that were NOSCRIPT (a script the node did not know).
    noscript: u64,
    attempts: Vec<Attempt>,
}

impl Writes {
    /// Client-observed recovery: from `since` to the first write that answered
    /// OK on `port` after it.
    fn recovery(&self, since: Duration, port: u16) -> Option<Duration> {
        self.attempts.iter().find(|a| a.ok && a.port == port && a.at >= since).map(|a| a.at + a.took - since)
    }

    /// The writes tried that are not in `acknowledged` (sorted): those whose
    /// loss is allowed, and counted.
    fn unacknowledged(&self, acknowledged: &[u64]) -> Vec<u64> {
        (1..=self.tried).filter(|n| acknowledged.binary_search(n).is_err()).collect()
    }

    /// Writes that never answered OK although retried, apart from the one
    /// in flight when the writer stopped.
    fn given_up(&self) -> u64 {
        self.tried.saturating_sub(1).saturating_sub(self.ok.len() as u64)
    }
}

/// A client writing `SET w:<n> <n>` until `stop` (or, given scripts, running
/// them in turn by EVALSHA with key `w:<n>`), as Sentinel-aware clients do: it
/// finds the primary through the sentinels, and after an error asks them again
/// and retries the same write (each is idempotent) after a short pause. With
/// `wait`, each write that answered OK is followed by `WAIT 1 100`. Requests
/// are timed from `t0`.
fn sentinel_writer(
    sentinels: &[Sentinel],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    wait: bool,
    t0: std::time::Instant,
    scripts: Vec<String>,
) -> std::thread::JoinHandle<Writes> {
    let sentinel_ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    std::thread::spawn(move || {
        let mut w =
            Writes { ok: Vec::new(), acked: Vec::new(), tried: 0, errors: 0, noscript: 0, attempts: Vec::new() };
        let mut conn: Option<(redis::Connection, u16)> = None;
        let mut n = 1u64;
        let failed = |w: &mut Writes, started: std::time::Instant, port: u16| {
            w.errors += 1;
            w.attempts.push(Attempt { at: started - t0, took: started.elapsed(), ok: false, port });
            std::thread::sleep(Duration::from_millis(10));
        };
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let started = std::time::Instant::now();
            w.tried = n;
            let (c, port) = match conn.as_mut() {
                Some((c, port)) => (c, *port),
                None => {
                    let port = sentinel_ports.iter().find_map(|&p| {
                        let mut s =
                            redis::Client::open(format!("redis://127.0.0.1:{p}/")).ok()?.get_connection().ok()?;
                        let (_, port): (String, String) =
                            redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg("mymaster").query(&mut s).ok()?;
                        port.parse::<u16>().ok()
                    });
                    let client = port.and_then(|p| redis::Client::open(format!("redis://127.0.0.1:{p}/")).ok());
                    let (Some(port), Some(c)) =
                        (port, client.and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)).ok()))
                    else {
                        failed(&mut w, started, port.unwrap_or(0));
                        continue;
                    };
                    // A node that stopped answering is given up on, as clients
                    // with timeouts do.
                    let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
                    let _ = c.set_write_timeout(Some(Duration::from_millis(500)));
                    let (c, port) = conn.insert((c, port));
                    (c, *port)
                }
            };
            let write = match scripts.get(n as usize % scripts.len().max(1)) {
                Some(sha) => {
                    redis::cmd("EVALSHA").arg(sha).arg(1).arg(format!("w:{n}")).arg(n).query::<redis::Value>(c)
                }
                None => redis::cmd("SET").arg(format!("w:{n}")).arg(n).query::<redis::Value>(c),
            };
            if let Err(e) = write {
                w.noscript += u64::from(e.code() == Some("NOSCRIPT"));
                conn = None;
                failed(&mut w, started, port);
                continue;
            }
            w.ok.push(n);
            if wait {
                match redis::cmd("WAIT").arg(1).arg(100).query::<i64>(c) {
                    Ok(acks) if acks >= 1 => w.acked.push(n),
                    Ok(_) => {}
                    Err(_) => conn = None,
                }
            }
            w.attempts.push(Attempt { at: started - t0, took: started.elapsed(), ok: true, port });
            n += 1;
        }
        w
    })
}

/// Of the writes numbered `ns`, those `SET w:<n>` did not leave on the node
/// behind `c` (EXISTS, pipelined).
fn absent(c: &mut redis::Connection, ns: impl Iterator<Item = u64>) -> Vec<u64> {
    let ns: Vec<u64> = ns.collect();
    let mut gone = Vec::new();
    for chunk in ns.chunks(1000) {
        let mut pipe = redis::pipe();
        for n in chunk {
            pipe.cmd("EXISTS").arg(format!("w:{n}"));
        }
        let found: Vec<i64> = pipe.query(c).expect("EXISTS");
        gone.extend(chunk.iter().zip(found).filter(|(_, f)| *f == 0).map(|(n, _)| *n));
    }
    gone
}

/// `DRILL_SECS` (for `make drill`): how long each writer drill keeps its load
/// before the failure and after the recovery. Unset in `make test`: 0.
fn load_secs() -> Duration {
    Duration::from_secs(std::env::var("DRILL_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// Keeps the load on for `d` (the writer must stay alive meanwhile).
fn keep_load(d: Duration, writer: &std::thread::JoinHandle<Writes>) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        assert!(!writer.is_finished(), "the drill's writer stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One drill's outcome: a line `drill N: …` on stderr, and with `DRILL_OUT`
/// (set by `make drill`) a row of the table `$DRILL_OUT/report.txt`.
struct Outcome<'a> {
    drill: &'a str,
    scenario: &'a str,
    /// Writes acknowledged (WAIT where the drill waits, else answered OK).
    acknowledged: Option<usize>,
    acked_lost: Option<usize>,
    unacked_lost: Option<usize>,
    /// Requests that failed and were retried.
    retried: Option<u64>,
    /// Writes that never answered OK although retried.
    failed: Option<u64>,
    recovery: Option<Duration>,
    resyncs: String,
}

impl Outcome<'_> {
    fn report(&self) {
        let num = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let cells = [
            num(self.acknowledged.map(|v| v as u64)),
            num(self.acked_lost.map(|v| v as u64)),
            num(self.unacked_lost.map(|v| v as u64)),
            num(self.retried),
            num(self.failed),
            self.recovery.map_or("-".to_string(), |d| format!("{:.2}s", d.as_secs_f64())),
        ];
        eprintln!(
            "drill {}: {}: {} acknowledged, {} acknowledged lost, {} unacknowledged lost, {} requests retried, {} writes failed, recovery {}, resyncs: {}",
            self.drill, self.scenario, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], self.resyncs
        );
        let Some(dir) = std::env::var_os("DRILL_OUT") else { return };
        let path = std::path::Path::new(&dir).join("report.txt");
        let row = |c: [&str; 9]| {
            format!(
                "{:<5} {:<48} {:>8} {:>10} {:>12} {:>7} {:>6} {:>8}  {}",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
            )
        };
        let header = row([
            "drill",
            "scenario",
            "acked",
            "acked lost",
            "unacked lost",
            "retried",
            "failed",
            "recovery",
            "resyncs",
        ]);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut rows: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
        rows.push(row([
            self.drill,
            self.scenario,
            &cells[0],
            &cells[1],
            &cells[2],
            &cells[3],
            &cells[4],
            &cells[5],
            &self.resyncs,
        ]));
        rows.sort();
        std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).expect("the drill report");
    }
}

/// How a drill counts a write as acknowledged.
#[derive(Clone, Copy)]
enum Acked {
    /// `WAIT 1 100` after it answered at least 1.
    ByWait,
    /// It answered OK.
    ByOk,
}

/// The end of a drill with a writer: counts the acknowledged and other writes
/// missing on the new primary, reports the outcome and draws the chart (the
/// failure at `failure`, `events` marked). Returns the acknowledged writes lost.
struct WriterOutcome<'a> {
    drill: &'a str,
    scenario: &'a str,
    writes: &'a Writes,
    acked: Acked,
    new_primary: &'a Server,
    failure: Duration,
    events: &'a [(Duration, &'a str)],
    resyncs: String,
}

impl WriterOutcome<'_> {
    fn publish(self) -> Vec<u64> {
        let acknowledged = match self.acked {
            Acked::ByWait => &self.writes.acked,
            Acked::ByOk => &self.writes.ok,
        };
        let mut c = self.new_primary.conn();
        let lost = absent(&mut c, acknowledged.iter().copied());
        let unacked_lost = absent(&mut c, self.writes.unacknowledged(acknowledged).into_iter());
        Outcome {
            drill: self.drill,
            scenario: self.scenario,
            acknowledged: Some(acknowledged.len()),
            acked_lost: Some(lost.len()),
            unacked_lost: Some(unacked_lost.len()),
            retried: Some(self.writes.errors),
            failed: Some(self.writes.given_up()),
            recovery: self.writes.recovery(self.failure, self.new_primary.port),
            resyncs: self.resyncs,
        }
        .report();
        let title = format!("Drill {}: {}", self.drill, self.scenario);
        chart(self.drill, &title, self.writes, self.failure, self.events);
        lost
    }
}

/// A drill's write load: a writer through Sentinel (`sentinel_writer`), its
/// requests timed from `t0`.
struct Load {
    t0: std::time::Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writer: std::thread::JoinHandle<Writes>,
}

impl Load {
    /// Starts the writer (WAIT after each write for `Acked::ByWait`; the
    /// scripts' shas, if any, instead of SET) and returns once its writes reach
    /// `replica` and `DRILL_SECS` more have passed.
    fn start(sentinels: &[Sentinel], replica: &Server, acked: Acked, scripts: Vec<String>) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t0 = std::time::Instant::now();
        let wait = matches!(acked, Acked::ByWait);
        let writer = sentinel_writer(sentinels, stop.clone(), wait, t0, scripts);
        wait_for(Duration::from_secs(60), "writes to go through", || {
            q::<Option<String>>(&mut replica.conn(), &["GET", "w:200"]).is_some()
        });
        keep_load(load_secs(), &writer);
        Load { t0, stop, writer }
    }

    /// Time since the load started.
    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Waits until writes go on against `promoted`.
    fn resumed_on(&self, promoted: &Server) {
        let before: i64 = q(&mut promoted.conn(), &["DBSIZE"]);
        wait_for(Duration::from_secs(60), "writes to resume on the new primary", || {
            q::<i64>(&mut promoted.conn(), &["DBSIZE"]) > before + 100
        });
    }

    /// Keeps the load on for `DRILL_SECS` more, then stops it.
    fn stop(self) -> Writes {
        keep_load(load_secs(), &self.writer);
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.writer.join().expect("the drill's writer")
    }
}

/// Waits until every sentinel names a primary other than the one on
/// `old_port`; returns its port.
fn await_promotion(sentinels: &[Sentinel], old_port: u16) -> u16 {
    wait_for(Duration::from_secs(60), "the sentinels to promote a replica", || {
        sentinels.iter().all(|s| s.primary_port().is_some_and(|port| port != old_port))
    });
    sentinels[0].primary_port().expect("the new primary")
}

/// How `server` last resynced, from its log.
fn resync_kind(server: &Server) -> &'static str {
    if server.log().contains("Successful partial resynchronization") {
        "partial"
    } else {
        "full"
    }
}

/// With `DRILL_OUT` set, draws the writer's attempts around the failure at
/// `failure` (since `t0`) as `$DRILL_OUT/drill-<drill>.png`, with `events`
/// marked.
fn chart(drill: &str, title: &str, writes: &Writes, failure: Duration, events: &[(Duration, &str)]) {
    let Some(dir) = std::env::var_os("DRILL_OUT") else { return };
    let ms = |d: Duration| (d.as_secs_f64() - failure.as_secs_f64()) * 1000.0;
    let samples: Vec<crate::chart::Sample> = writes
        .attempts
        .iter()
        .map(|a| crate::chart::Sample { at_ms: ms(a.at), latency_ms: a.took.as_secs_f64() * 1000.0, ok: a.ok })
        .collect();
    let markers: Vec<crate::chart::Marker> =
        events.iter().map(|(at, label)| crate::chart::Marker { at_ms: ms(*at), label: label.to_string() }).collect();
    let png = crate::chart::render_png(title, &samples, &markers);
    std::fs::write(std::path::Path::new(&dir).join(format!("drill-{drill}.png")), png).expect("the drill chart");
}

/// The drills' nodes: a backlog that covers the writers' stream while a node
/// is away (a few MB/s), as a deployment sizes it for its rejoin window.
const NODE: &[&str] = &["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64mb"];

/// Starts a primary, two replicas and three sentinels that know them all.
fn sentinel_trio(bin: &str) -> (Server, [Server; 2], Vec<Sentinel>) {
    let primary = Server::start(NODE);
    let replicas = [Server::start(NODE), Server::start(NODE)];
    for r in &replicas {
        attach(&mut r.conn(), &primary);
    }
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(bin, primary.port)).collect();
    wait_for(Duration::from_secs(60), "the sentinels to know both replicas and each other", || {
        sentinels.iter().all(|s| {
            s.master_field("num-slaves").as_deref() == Some("2")
                && s.master_field("num-other-sentinels").as_deref() == Some("2")
        })
    });
    (primary, replicas, sentinels)
}

/// Drill 1: a planned switch-over (`SENTINEL FAILOVER`) under write load. The
/// promoted replica first asks its primary for a FAILOVER to it, which pauses
/// writes there until it has them all: every write that answered OK is on the
/// new primary, and the client, retrying through Sentinel, sees no failure it
/// could not retry past.
#[test]
fn drill_a_planned_switch_over_under_write_load_loses_no_write() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (primary, replicas, sentinels) = sentinel_trio(bin);
    let old_port = primary.port;
    let load = Load::start(&sentinels, &replicas[0], Acked::ByOk, Vec::new());
    let failover = load.now();
    assert!(sentinels[0].query(&["SENTINEL", "FAILOVER", "mymaster"]).is_some());
    let new_port = await_promotion(&sentinels, old_port);
    let switched = load.now();
    let promoted = replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    load.resumed_on(promoted);
    let writes = load.stop();
    let lost = WriterOutcome {
        drill: "1",
        scenario: "SENTINEL FAILOVER under write load",
        writes: &writes,
        acked: Acked::ByOk,
        new_primary: promoted,
        failure: failover,
        events: &[(failover, "SENTINEL FAILOVER"), (switched, "SWITCHED")],
        resyncs: "old primary partial (handover)".into(),
    }
    .publish();
    assert!(lost.is_empty(), "{} writes lost, first {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert_eq!(writes.given_up(), 0, "every write answered OK once retried");
    assert!(primary.log().contains("FAILOVER completed"), "{}", primary.log());
    // The old primary handed over: it follows the new one, nothing for
    // Sentinel to convert.
    wait_for(Duration::from_secs(60), "the old primary to follow the new one", || follows(&primary, new_port));
}

/// Drill 2: a primary killed with SIGKILL while a client writes, each write
/// followed by `WAIT 1 100`. The client finds the primary through Sentinel and,
/// after an error, asks Sentinel again and retries. Every write WAIT
/// acknowledged is on the promoted replica; the unacknowledged ones lost are
/// counted.
#[test]
fn drill_a_primary_killed_under_write_load_loses_no_acknowledged_write() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (mut primary, replicas, sentinels) = sentinel_trio(bin);
    let old_port = primary.port;
    let load = Load::start(&sentinels, &replicas[0], Acked::ByWait, Vec::new());
    let _ = primary.child.kill();
    let _ = primary.child.wait();
    let killed = load.now();
    let _placeholder = hold_port(old_port);
    let new_port = await_promotion(&sentinels, old_port);
    let switched = load.now();
    let promoted = replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    load.resumed_on(promoted);
    let writes = load.stop();
    let other = replicas.iter().find(|r| r.port != new_port).unwrap();
    wait_for(Duration::from_secs(60), "the other replica to follow the new primary", || follows(other, new_port));
    let lost = WriterOutcome {
        drill: "2",
        scenario: "kill -9 of the primary, writes with WAIT 1 100",
        writes: &writes,
        acked: Acked::ByWait,
        new_primary: promoted,
        failure: killed,
        events: &[(killed, "KILL -9"), (switched, "PROMOTED")],
        resyncs: format!("other replica {}", resync_kind(other)),
    }
    .publish();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(writes.acked.len() > 200);
}

/// A TCP proxy on loopback between a replica and its primary, which a drill can
/// stall (bytes held, both ways) or cut (both connections closed).
struct Proxy {
    port: u16,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let stalled = std::sync::Arc::new(AtomicBool::new(false));
        let generation = std::sync::Arc::new(AtomicU64::new(0));
        let (s, g) = (stalled.clone(), generation.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let mine = g.load(Ordering::SeqCst);
                for (from, to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let (s, g) = (s.clone(), g.clone());
                    std::thread::spawn(move || pump(from, to, &s, &g, mine));
                }
            }
        });
        Proxy { port, stalled, generation }
    }

    fn stall(&self, on: bool) {
        self.stalled.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Closes the connections open now (new ones are proxied again).
    fn cut(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either side closes or the proxy's generation
/// moves on; holds the bytes while stalled.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    stalled: &std::sync::atomic::AtomicBool,
    generation: &std::sync::atomic::AtomicU64,
    mine: u64,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    from.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if generation.load(Ordering::SeqCst) != mine {
            let _ = from.shutdown(std::net::Shutdown::Both);
            let _ = to.shutdown(std::net::Shutdown::Both);
            return;
        }
        if stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// Drill 4: network trouble on loopback while the primary takes writes. A
/// replica behind a proxy has its link stalled past `repl-timeout`, then cut
/// outright, and another replica is stopped with SIGSTOP and resumed. Each
/// comes back with a partial resync and an equal digest.
#[test]
fn drill_network_trouble_ends_in_partial_resyncs_and_equal_digests() {
    let _drill = one_drill_at_a_time();
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--repl-timeout", "2"]);
    let proxy = Proxy::start(primary.port);
    let behind_proxy = Server::start(&["--repl-timeout", "2"]);
    let stopped = Server::start(&[]);
    let mut p = primary.conn();
    let _: () = q(&mut behind_proxy.conn(), &["REPLICAOF", "127.0.0.1", &proxy.port.to_string()]);
    wait_for(SYNC, "the proxied replica's link", || follows(&behind_proxy, proxy.port));
    attach(&mut stopped.conn(), &primary);
    write_mix(&mut p, "before");
    let full_syncs = stat_of(&mut p, "sync_full");

    // A stall longer than repl-timeout: both sides give up on the link; the
    // replica reconnects and continues.
    proxy.stall(true);
    write_mix(&mut p, "stalled");
    wait_for(SYNC, "the stalled link to time out", || {
        repl_field(&mut behind_proxy.conn(), "master_link_status") == "down"
    });
    proxy.stall(false);
    wait_for(SYNC, "the link back after the stall", || follows(&behind_proxy, proxy.port));
    // A cut link.
    proxy.cut();
    write_mix(&mut p, "cut");
    wait_for(SYNC, "the link back after the cut", || follows(&behind_proxy, proxy.port));
    // A stopped replica.
    let pid = stopped.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    write_mix(&mut p, "while stopped");
    assert!(Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    write_mix(&mut p, "after");
    for (server, name) in [(&behind_proxy, "the proxied replica"), (&stopped, "the stopped replica")] {
        let mut c = server.conn();
        wait_caught_up(&mut p, &mut c);
        assert_eq!(digest(&mut p), digest(&mut c), "{name}");
    }
    assert_eq!(stat_of(&mut p, "sync_full"), full_syncs, "no full sync after the trouble");
    let partial: u64 = stat_of(&mut p, "sync_partial_ok").parse().unwrap();
    Outcome {
        drill: "4",
        scenario: "link stalled, link cut, replica stopped",
        acknowledged: None,
        acked_lost: None,
        unacked_lost: None,
        retried: None,
        failed: None,
        recovery: None,
        resyncs: format!("{partial} partial, 0 full, digests equal"),
    }
    .report();
    assert!(partial >= 2, "{partial} partial resyncs");
}

/// Sentinel's reconfiguration transactions, sent to a node without a config
/// file: CONFIG REWRITE fails with Redis's error and SLAVEOF still applies, byte
/// for byte as redis-server answers (spec §9.1, §9.2).
#[test]
fn sentinel_transactions_answer_like_redis_without_a_config_file() {
    compare_with_redis(
        &[
            "CLIENT SETNAME sentinel-55a0e20e-cmd",
            "MULTI",
            "SLAVEOF 127.0.0.1 1",
            "CONFIG REWRITE",
            "CLIENT KILL TYPE normal",
            "CLIENT KILL TYPE pubsub",
            "EXEC",
            "ROLE",
            "MULTI",
            "SLAVEOF NO ONE",
            "CONFIG REWRITE",
            "CLIENT KILL TYPE normal",
            "CLIENT KILL TYPE pubsub",
            "EXEC",
            "ROLE",
        ],
        |_| true,
    );
}

/// The handover's other outcomes, with a client named like Sentinel's: the
/// primary hands over (the old primary follows), refuses (the replica promotes
/// itself at once, the primary stays one), or the handover is off.
#[test]
fn a_sentinel_promotion_hands_over_or_falls_back_to_promoting_at_once() {
    let as_sentinel = |server: &Server| {
        let mut c = server.conn();
        let _: () = q(&mut c, &["CLIENT", "SETNAME", "sentinel-55a0e20e-cmd"]);
        c
    };
    // Handed over: the old primary becomes the new one's replica.
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    attach(&mut replica.conn(), &primary);
    let _: () = q(&mut as_sentinel(&replica), &["SLAVEOF", "NO", "ONE"]);
    wait_for(SYNC, "the old primary to follow", || follows(&primary, replica.port));
    assert_eq!(role_name(&mut replica.conn()), "master");
    assert!(replica.log().contains("MASTER accepted to hand its role over"), "{}", replica.log());
    // Refused (its primary is a replica itself): promoted at once.
    let top = Server::start(FAST);
    let middle = Server::start(FAST);
    let leaf = Server::start(&[]);
    attach(&mut middle.conn(), &top);
    attach(&mut leaf.conn(), &middle);
    let _: () = q(&mut as_sentinel(&leaf), &["SLAVEOF", "NO", "ONE"]);
    wait_for(SYNC, "the refused replica to promote itself", || role_name(&mut leaf.conn()) == "master");
    assert!(leaf.log().contains("MASTER refused to hand its role over"), "{}", leaf.log());
    assert_eq!(role_name(&mut middle.conn()), "slave");
    // Not handed over in time (the primary cannot reach the announced
    // address): promoted at the deadline; the primary gives up and stays one.
    let primary = Server::start(FAST);
    let replica = Server::start(&["--replica-announce-ip", "10.255.255.1", "--promotion-handover-timeout", "1000"]);
    attach(&mut replica.conn(), &primary);
    let _: () = q(&mut as_sentinel(&replica), &["SLAVEOF", "NO", "ONE"]);
    wait_for(SYNC, "the replica to promote itself at the deadline", || role_name(&mut replica.conn()) == "master");
    assert!(replica.log().contains("did not hand its role over in time"), "{}", replica.log());
    wait_for(SYNC, "the primary to give the failover up", || {
        role_name(&mut primary.conn()) == "master"
            && repl_field(&mut primary.conn(), "master_failover_state") == "no-failover"
    });
    // Off: promoted at once, no FAILOVER asked.
    let primary = Server::start(FAST);
    let replica = Server::start(&["--promotion-handover-timeout", "0"]);
    attach(&mut replica.conn(), &primary);
    let _: () = q(&mut as_sentinel(&replica), &["SLAVEOF", "NO", "ONE"]);
    assert_eq!(role_name(&mut replica.conn()), "master");
    assert!(!primary.log().contains("FAILOVER requested"), "{}", primary.log());
}

/// A primary stuck in a long read-only script. Sentinel's PINGs get `-BUSY`;
/// once a sentinel thinks the primary is down it sends SCRIPT KILL, as Sentinel
/// does on BUSY. The script is killed (nobody else sends SCRIPT KILL here), the
/// primary answers again, and the deployment ends with one primary that every
/// other node follows with an equal digest.
#[test]
fn sentinel_kills_a_long_script_on_a_busy_primary() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (primary, replicas, sentinels) = sentinel_trio(bin);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["CONFIG", "SET", "busy-reply-threshold", "100"]);
    let _: () = q(&mut p, &["SET", "before", "1"]);
    let port = primary.port;
    let script = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        redis::cmd("EVAL").arg("local i = 0 while true do i = i + 1 end").arg(0).query::<redis::Value>(&mut c)
    });
    wait_for(
        Duration::from_secs(10),
        "the primary to answer BUSY",
        || matches!(redis::cmd("PING").query::<String>(&mut primary.conn()), Err(e) if e.code() == Some("BUSY")),
    );
    let busy_at = std::time::Instant::now();
    wait_for(Duration::from_secs(60), "Sentinel to kill the script", || script.is_finished());
    let killed_after = busy_at.elapsed();
    let err = script.join().expect("script thread").expect_err("the script was killed");
    assert!(err.to_string().contains("Script killed by user with SCRIPT KILL"), "{err}");
    // Whoever is primary now, the others follow it with the same data.
    wait_for(Duration::from_secs(60), "one primary that the sentinels agree on and every node follows", || {
        let Some(now) = sentinels[0].primary_port() else { return false };
        sentinels.iter().all(|s| s.primary_port() == Some(now))
            && [&primary, &replicas[0], &replicas[1]].iter().filter(|n| n.port != now).all(|n| follows(n, now))
    });
    let now = sentinels[0].primary_port().unwrap();
    let nodes = [&primary, &replicas[0], &replicas[1]];
    let mut head = nodes.iter().find(|n| n.port == now).unwrap().conn();
    let _: () = q(&mut head, &["SET", "after", "1"]);
    for n in nodes.iter().filter(|n| n.port != now) {
        let mut c = n.conn();
        wait_caught_up(&mut head, &mut c);
        assert_eq!(digest(&mut head), digest(&mut c));
    }
    let outcome = if now == port { "the primary kept its role" } else { "a replica was promoted" };
    eprintln!("busy script: killed by Sentinel {killed_after:?} after the first BUSY, {outcome}");
}

/// A primary stuck in a script that wrote, so SCRIPT KILL answers UNKILLABLE:
/// Sentinel fails over to a replica (the handover's FAILOVER is answered BUSY,
/// so the replica promotes itself at once). When the script ends, the old
/// primary is made a replica; its script's write never reached the new primary
/// and is dropped by a full resync (Redis's rule), and as a replica it refuses
/// writes.
#[test]
fn sentinel_fails_over_from_a_primary_stuck_in_an_unkillable_script() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (primary, replicas, sentinels) = sentinel_trio(bin);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["CONFIG", "SET", "busy-reply-threshold", "100"]);
    let _: () = q(&mut p, &["SET", "before", "1"]);
    let _: i64 = q(&mut p, &["WAIT", "2", "5000"]);
    let old_port = primary.port;
    let script = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{old_port}/")).unwrap().get_connection().unwrap();
        redis::cmd("EVAL")
            .arg(
                "redis.call('set', 'stray', '1') local t0 = tonumber(redis.call('time')[1]) \
                 while tonumber(redis.call('time')[1]) < t0 + 8 do end return 1",
            )
            .arg(0)
            .query::<i64>(&mut c)
    });
    wait_for(
        Duration::from_secs(10),
        "the primary to answer BUSY",
        || matches!(redis::cmd("PING").query::<String>(&mut primary.conn()), Err(e) if e.code() == Some("BUSY")),
    );
    let unkillable = redis::cmd("SCRIPT").arg("KILL").query::<()>(&mut primary.conn()).expect_err("UNKILLABLE");
    assert_eq!(unkillable.code(), Some("UNKILLABLE"), "{unkillable}");
    let new_port = await_promotion(&sentinels, old_port);
    let promoted = replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    assert!(promoted.log().contains("MASTER refused to hand its role over"), "{}", promoted.log());
    assert_eq!(script.join().expect("script thread").expect("the script ran to its end"), 1);
    wait_for(Duration::from_secs(60), "Sentinel to make the old primary a replica", || follows(&primary, new_port));
    let mut n = promoted.conn();
    let _: () = q(&mut n, &["SET", "after", "1"]);
    for r in [&primary, &replicas[0], &replicas[1]].into_iter().filter(|r| r.port != new_port) {
        let mut c = r.conn();
        wait_caught_up(&mut n, &mut c);
        assert_eq!(digest(&mut n), digest(&mut c));
    }
    let mut old = primary.conn();
    assert_eq!(q::<Option<String>>(&mut old, &["GET", "stray"]), None, "the stuck script's write is dropped");
    assert_eq!(q::<Option<String>>(&mut old, &["GET", "before"]).as_deref(), Some("1"));
    let refused = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut old).expect_err("READONLY");
    assert_eq!(refused.code(), Some("READONLY"), "{refused}");
}

/// Drill 5: the primary is stopped gracefully (SHUTDOWN: it waits for its
/// replicas, writes paused, and saves) while a client writes through
/// Sentinel. A replica is promoted with every write that answered OK, and the
/// old primary, restarted from its file on its port, is made a replica by
/// Sentinel and continues partially: its file ends where the promoted
/// replica's previous history does.
#[test]
fn drill_a_gracefully_stopped_primary_rejoins_with_a_partial_resync() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (primary, replicas, sentinels) = sentinel_trio(bin);
    let old_port = primary.port;
    let load = Load::start(&sentinels, &replicas[0], Acked::ByOk, Vec::new());
    let stopped = load.now();
    let mut primary = primary;
    let file = shutdown_save(&mut primary);
    let placeholder = hold_port(old_port);
    let new_port = await_promotion(&sentinels, old_port);
    let switched = load.now();
    let promoted = replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    load.resumed_on(promoted);

    drop(placeholder);
    let back = Server::start_on_port_with_files(old_port, NODE, &[("dump.rdb", &file)]);
    wait_for(Duration::from_secs(60), "Sentinel to make the old primary a replica", || follows(&back, new_port));
    let rejoined = load.now();
    let writes = load.stop();
    let mut n = promoted.conn();
    let mut b = back.conn();
    wait_caught_up(&mut n, &mut b);
    assert_eq!(digest(&mut n), digest(&mut b));
    let lost = WriterOutcome {
        drill: "5",
        scenario: "SHUTDOWN of the primary, restarted from its file",
        writes: &writes,
        acked: Acked::ByOk,
        new_primary: promoted,
        failure: stopped,
        events: &[(stopped, "SHUTDOWN"), (switched, "PROMOTED"), (rejoined, "OLD PRIMARY REJOINED")],
        resyncs: format!("old primary {}", resync_kind(&back)),
    }
    .publish();
    assert!(lost.is_empty(), "{} writes lost, first {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert_eq!(resync_kind(&back), "partial", "{}", back.log());
}

/// Sentinel's commands in orders it does not normally send them, from a
/// client named like Sentinel's: each answers byte for byte as redis-server,
/// and a node made a replica refuses writes (also queued in MULTI).
#[test]
fn sentinel_commands_in_unexpected_order_answer_like_redis() {
    compare_with_redis(
        &[
            "CLIENT SETNAME sentinel-55a0e20e-cmd",
            "EXEC",
            "DISCARD",
            "CONFIG REWRITE",
            "SLAVEOF NO ONE",
            "MULTI",
            "MULTI",
            "SLAVEOF 127.0.0.1 1",
            "SLAVEOF 127.0.0.1 notaport",
            "EXEC",
            "SLAVEOF 127.0.0.1 1",
            "SET k v",
            "MULTI",
            "SET k v",
            "EXEC",
            "SCRIPT KILL",
            "CLIENT KILL TYPE master",
            "CLIENT KILL TYPE pubsub",
            "SLAVEOF NO ONE",
            "SLAVEOF NO ONE",
            "SET k v",
            "MULTI",
            "CLIENT KILL TYPE normal",
            "SLAVEOF NO",
            "EXEC",
            "ROLE",
        ],
        |_| true,
    );
}

/// A replica told to become a primary while it still loads a file at start-up
/// answers `-LOADING`, as Redis does (REPLICAOF is not allowed while loading),
/// and once loaded it is still a replica that refuses writes.
#[test]
fn a_replica_promoted_while_it_loads_its_file_answers_loading() {
    let src = Server::start(&[]);
    let mut c = src.conn();
    let _: () = q(&mut c, &["DEBUG", "POPULATE", "2000"]);
    let _: () = q(&mut c, &["SAVE"]);
    let file = std::fs::read(src.dir.path().join("dump.rdb")).expect("dump.rdb");
    // 1 ms per key: two seconds of loading.
    let replica = Server::start_with_files(
        &["--key-load-delay", "1000", "--replicaof", "127.0.0.1", &CLOSED_PORT.to_string()],
        &[("dump.rdb", &file)],
    );
    let mut raw = replica.raw();
    assert!(String::from_utf8_lossy(&raw.cmd("INFO persistence")).contains("loading:1"));
    let _ = raw.cmd("CLIENT SETNAME sentinel-55a0e20e-cmd");
    assert_eq!(raw.cmd("SLAVEOF NO ONE"), b"-LOADING Redis is loading the dataset in memory\r\n");
    let mut r = replica.conn();
    wait_loaded(&mut r);
    assert_eq!(role_name(&mut r), "slave");
    let refused = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut r).expect_err("READONLY");
    assert_eq!(refused.code(), Some("READONLY"));
}

/// A replica told to become a primary while it loads a full sync's payload
/// (old data still served meanwhile) gives the sync up: it keeps its old data,
/// becomes a primary that takes writes, and the payload it was loading is
/// never swapped in later.
#[test]
fn a_replica_promoted_during_a_full_sync_keeps_its_old_data() {
    let primary = Server::start(FAST);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "2000", "new"]);
    let replica = Server::start(&["--key-load-delay", "1000"]);
    let mut r = replica.conn();
    let _: () = q(&mut r, &["SET", "old", "1"]);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    wait_for(SYNC, "the replica to load the payload", || repl_field(&mut r, "master_sync_in_progress") == "1");
    let _: () = q(&mut r, &["CLIENT", "SETNAME", "sentinel-55a0e20e-cmd"]);
    let _: () = q(&mut r, &["SLAVEOF", "NO", "ONE"]);
    assert_eq!(role_name(&mut r), "master");
    let _: () = q(&mut r, &["SET", "written", "1"]);
    // The load (a key per ms, two seconds) is abandoned early and touches
    // nothing.
    wait_for(SYNC, "the primary to see its replica gone", || repl_field(&mut p, "connected_slaves") == "0");
    wait_for(SYNC, "the load to be abandoned", || replica.log().contains("the payload is abandoned"));
    let keys: Vec<String> = q(&mut r, &["KEYS", "*"]);
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["old", "written"]);
    assert!(!replica.log().contains("Done loading RDB"), "the load stopped early: {}", replica.log());
}

/// Two primaries at once: the primary hangs (SIGSTOP) and Sentinel promotes
/// a replica; when it resumes it still takes writes from a client that was
/// connected to it, until Sentinel makes it a replica. It then resyncs in full
/// (its history went on without the new primary), the stray write is dropped
/// (Redis's rule), every write the new primary took is there, and it refuses
/// writes from then on.
#[test]
fn two_primaries_after_a_partition_heals_end_as_one() {
    let Some(bin) = sentinel_bin() else { return };
    let _drill = one_drill_at_a_time();
    let (primary, replicas, sentinels) = sentinel_trio(bin);
    let old_port = primary.port;
    let mut stale = primary.conn();
    let _: () = q(&mut stale, &["SET", "before", "1"]);
    let _: i64 = q(&mut stale, &["WAIT", "2", "5000"]);
    let pid = primary.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let new_port = await_promotion(&sentinels, old_port);
    let promoted = replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    let mut n = promoted.conn();
    let _: () = q(&mut n, &["SET", "on the new primary", "1"]);
    assert!(Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    // The old primary still believes it is one: a client still connected to
    // it may write there (min-replicas-to-write is what prevents that).
    stale.set_read_timeout(Some(SYNC)).unwrap();
    let stray = redis::cmd("SET").arg("stray").arg("1").query::<()>(&mut stale);
    wait_for(Duration::from_secs(60), "Sentinel to make the old primary a replica", || follows(&primary, new_port));
    let mut old = primary.conn();
    wait_caught_up(&mut n, &mut old);
    assert_eq!(digest(&mut n), digest(&mut old));
    assert_eq!(q::<Option<String>>(&mut old, &["GET", "stray"]), None, "the stray write is dropped ({stray:?})");
    assert_eq!(q::<Option<String>>(&mut old, &["GET", "on the new primary"]).as_deref(), Some("1"));
    let refused = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut old).expect_err("READONLY");
    assert_eq!(refused.code(), Some("READONLY"));
    if stray.is_ok() {
        assert!(primary.log().contains("Full resync from master"), "{}", primary.log());
    }
}

/// The handover with a password: the replica authenticates its FAILOVER
/// connection with `masterauth` (and `masteruser`), as its link does.
#[test]
fn a_sentinel_promotion_hands_over_with_masterauth() {
    let auth: &[&str] = &["--repl-diskless-sync-delay", "0", "--requirepass", "s3cret", "--masterauth", "s3cret"];
    let primary = Server::start(auth);
    let replica = Server::start(auth);
    let open = |server: &Server| {
        let mut c = server.conn();
        let _: () = q(&mut c, &["AUTH", "s3cret"]);
        c
    };
    let mut r = open(&replica);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
    wait_for(SYNC, "the replica's link", || repl_field(&mut r, "master_link_status") == "up");
    let _: () = q(&mut r, &["CLIENT", "SETNAME", "sentinel-55a0e20e-cmd"]);
    let _: () = q(&mut r, &["SLAVEOF", "NO", "ONE"]);
    wait_for(SYNC, "the old primary to follow", || {
        let mut p = open(&primary);
        repl_field(&mut p, "master_port") == replica.port.to_string()
            && repl_field(&mut p, "master_link_status") == "up"
    });
    assert!(replica.log().contains("MASTER accepted to hand its role over"), "{}", replica.log());
}
