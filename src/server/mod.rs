//! The network side: listeners, one task per connection, the cron (active expiry,
//! client timeouts, incremental rehash, stats samples) and shutdown.
//!
//! A connection task reads what the socket has, decodes every complete request,
//! takes the engine lock once for the batch (bounded to ~1 ms / 512 commands before
//! it lets others in), encodes the replies into one buffer and writes it once.

pub mod connection;
pub mod replica_link;
pub mod sync;

use crate::config::Config;
use crate::engine::shutdown::{ShutdownFlags, ShutdownStart};
use crate::engine::{Engine, Events};
use crate::scripting::ScriptRun;
use anyhow::Context as _;
use parking_lot::{Mutex, MutexGuard};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// State shared by every task: the engine behind its one lock, and the events the
/// engine raises.
pub struct Shared {
    pub engine: Mutex<Engine>,
    pub events: Arc<Events>,
    /// The running script, readable without the lock (BUSY, SCRIPT KILL).
    pub script: Arc<ScriptRun>,
}

impl Shared {
    /// The engine lock without waiting on it while a script holds it: `None` then
    /// (the caller answers BUSY or waits asynchronously). Other holders keep it for
    /// at most a batch, so a short blocking wait is fine for them.
    pub fn try_engine(&self) -> Option<MutexGuard<'_, Engine>> {
        loop {
            if let Some(g) = self.engine.try_lock() {
                return Some(g);
            }
            if self.script.is_running() {
                return None;
            }
            if let Some(g) = self.engine.try_lock_for(Duration::from_micros(200)) {
                return Some(g);
            }
        }
    }

    /// The engine lock for async code: while a script runs the task waits
    /// asynchronously, so no worker thread sits blocked on the lock (DESIGN.md
    /// "Long scripts").
    pub async fn engine(&self) -> MutexGuard<'_, Engine> {
        loop {
            if let Some(g) = self.try_engine() {
                return g;
            }
            self.script_done().await;
        }
    }

    /// Waits until the running script ends, its state changes, or a few ms pass.
    pub async fn script_done(&self) {
        let done = self.script.done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if self.script.is_running() {
            let _ = tokio::time::timeout(Duration::from_millis(5), done).await;
        }
    }
}

/// Parses a `bind` entry: `*` is every IPv4 address, `-` marks an address whose
/// bind failure is tolerated (Redis's `-::*` default).
fn bind_addrs(config: &Config) -> Vec<(String, bool)> {
    config
        .bind
        .iter()
        .map(|b| {
            let (optional, addr) = match b.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, b.as_str()),
            };
            let host = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                other => other,
            };
            (host.to_string(), optional)
        })
        .collect()
}

fn listen(host: &str, port: u16, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("invalid bind address '{host}'")))?;
    let addr = SocketAddr::new(ip, port);
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        // Keep IPv6 listeners IPv6-only so `* -::*` can bind both families.
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog as i32)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Runs the server until SHUTDOWN (or a termination signal).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let port = config.port;
    let backlog = config.tcp_backlog;
    let mut listeners = Vec::new();
    for (host, optional) in bind_addrs(&config) {
        match listen(&host, port, backlog) {
            Ok(l) => listeners.push(TcpListener::from_std(l)?),
            Err(e) if optional => {
                tracing::warn!("Could not create server TCP listening socket {host}:{port}: {e} (ignored)")
            }
            Err(e) => {
                return Err(e).with_context(|| format!("Could not create server TCP listening socket {host}:{port}"));
            }
        }
    }
    if listeners.is_empty() {
        anyhow::bail!("Failed listening on port {port} (tcp), aborting.");
    }
    let mut engine = Engine::new(config);
    engine.exit_process = true;
    let events = engine.events.clone();
    let script = engine.scripting.run_state.clone();
    let shared = Arc::new(Shared { engine: Mutex::new(engine), events: events.clone(), script });
    let weak = Arc::downgrade(&shared);
    shared.engine.lock().access = Some(Arc::new(move |f: &mut dyn FnMut(&mut Engine)| match weak.upgrade() {
        Some(shared) => {
            f(&mut shared.engine.lock());
            true
        }
        None => false,
    }));
    let rdb = {
        let eng = shared.engine.lock();
        eng.config.dir.join(&eng.config.dbfilename)
    };
    let has_file = rdb.exists();
    if has_file {
        // Loaded while connections are served: they get -LOADING until it is done
        // (the state is set before the first connection is accepted).
        shared.engine.lock().persist.loading = Some(crate::engine::persist::Loading::pending());
        let loader = shared.clone();
        // A replica keeps keys whose deadline passed: its primary's DELs will come.
        let replica = shared.engine.lock().config.replicaof.is_some();
        tokio::task::spawn_blocking(move || {
            match crate::engine::persist::load_file_as(&rdb, &loader.engine, replica) {
                Err(e) => {
                    tracing::error!("Fatal error loading the DB ({}): {e}. Exiting.", rdb.display());
                    std::process::exit(1);
                }
                Ok(summary) => {
                    // A replica connects once its file is loaded, continuing from it.
                    let mut eng = loader.engine.lock();
                    if let Some((host, port)) = eng.config.replicaof.clone() {
                        eng.replicaof(host, port);
                        // Without a position in the file: `PSYNC ? -1`.
                        eng.repl_restore_position(summary.repl);
                    } else if let Some((replid, offset, db)) = summary.repl {
                        eng.repl_restore_as_primary(replid, offset, db);
                    }
                }
            }
        });
    }
    for l in listeners {
        tracing::info!("Listening on {}", l.local_addr()?);
        tokio::spawn(accept_loop(shared.clone(), l));
    }
    tokio::spawn(cron(shared.clone()));
    tokio::spawn(replica_link::links(shared.clone()));
    tokio::spawn(replica_link::handovers(shared.clone()));
    if !has_file {
        let mut eng = shared.engine.lock();
        if let Some((host, port)) = eng.config.replicaof.clone() {
            eng.replicaof(host, port);
            eng.repl_restore_position(None);
        }
    }
    tracing::info!("Ready to accept connections tcp");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A shutdown that goes ahead (SHUTDOWN, a signal, the end of a wait for
    // replicas) ends the process where it is decided, under the engine lock.
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        };
        let mut eng = shared.engine().await;
        tracing::info!("Received {name} scheduling shutdown...");
        // As SHUTDOWN without arguments; the server stays up when saving fails.
        if eng.prepare_shutdown(ShutdownFlags::default()) == ShutdownStart::Failed {
            tracing::warn!(
                "{name} received but errors trying to shut down the server, check the logs for more information"
            );
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move { connection::serve(shared, stream, peer).await });
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Budget per cron tick for active expiry, as Redis's slow cycle (25% of a tick),
/// spent in slices of ~1 ms with the lock released in between.
const EXPIRE_SLICE: Duration = Duration::from_millis(1);

async fn cron(shared: Arc<Shared>) {
    let mut last_second = Instant::now();
    loop {
        let hz = shared.engine().await.config.hz.clamp(1, 500);
        let period = Duration::from_millis(1000 / hz as u64);
        tokio::time::sleep(period).await;
        let tick = Instant::now();
        let budget = period / 4;
        loop {
            let more = shared.engine().await.active_expire_slice(Instant::now() + EXPIRE_SLICE);
            if !more || tick.elapsed() >= budget {
                break;
            }
            tokio::task::yield_now().await;
        }
        crate::engine::Engine::update_lru_clock();
        let used = crate::commands::server::allocated_now();
        let mut eng = shared.engine().await;
        eng.used_memory_sample = used;
        // Clients whose blocking timeout passed (their own timers normally do this).
        eng.unblock_timed_out(Instant::now());
        // Keys that expired during the tick may have had blocked clients waiting.
        eng.serve_ready_keys();
        let spent = tick.elapsed().as_millis() as u64;
        eng.stats.expire_cycle_cpu_milliseconds += spent;
        eng.rehash_slice(Duration::from_millis(1));
        eng.persist_cron();
        eng.repl_cron();
        eng.failover_cron();
        eng.shutdown_cron();
        let repl_out = eng.events.repl_output_bytes.load(std::sync::atomic::Ordering::Relaxed);
        eng.stats.sample(crate::util::now_ms(), repl_out);
        if last_second.elapsed() >= Duration::from_secs(1) {
            last_second = Instant::now();
            let used = crate::commands::server::memory_figures().allocated;
            eng.mem_peak = eng.mem_peak.max(used);
            let timeout = eng.config.timeout;
            if timeout > 0 {
                let now = Instant::now();
                for c in eng.clients.values_mut() {
                    // As Redis: monitors, blocked clients, subscribers, replicas and
                    // the primary's link never idle out.
                    let exempt = c.flags.monitor
                        || c.blocked.is_some()
                        || c.subscriptions() > 0
                        || c.flags.replica
                        || c.flags.master;
                    if !exempt && now.duration_since(c.last_interaction).as_secs() > timeout {
                        tracing::info!("Closing idle client id={}", c.id);
                        c.kill();
                    }
                }
            }
        }
    }
}
