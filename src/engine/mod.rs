//! The `Engine`: everything behind the one lock (DESIGN.md "Engine behind one lock"):
//! the databases, the clients' state, stats, slowlog, monitors, configuration.
//!
//! `execute` is the one gate every command passes (clients now; scripts and the
//! primary link later): lookup, arity, authentication, pause, then the handler, then
//! stats, slowlog and MONITOR feed. Handlers get a `Ctx` and return a `Reply`; they
//! never touch sockets. Lazy expiry and keyspace statistics live in `Ctx`'s lookups
//! so every handler gets them without thinking about it.

pub mod access;
pub mod blocking;
pub mod client;
pub mod expire;
pub mod lfu;
pub mod multi;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod shutdown;
pub mod stats;
#[cfg(test)]
pub mod testing;

use crate::commands::error::CommandError;
use crate::commands::table::{CommandSpec, CommandTable};
use crate::config::Config;
use crate::db::keyspace::Entry;
use crate::db::{Db, Value};
use crate::protocol::Reply;
use bytes::Bytes;
pub use client::{BlockState, Client, ClientHandle, MultiState, ReplyMode};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use stats::{SlowLog, Stats};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// CLIENT PAUSE state.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    /// `ALL` pauses every command; `WRITE` only writes (and may-replicate ones).
    pub all: bool,
}

/// Signals from the engine to the server's tasks.
#[derive(Debug, Default)]
pub struct Events {
    /// Notified when clients are unpaused.
    pub unpause: Notify,
    /// Notified when REPLICAOF needs a new link task (see `server::replica_link`).
    pub repl_link: Notify,
    /// A promotion asks the primary for a FAILOVER first (`repl::replica`).
    pub handover: Notify,
    /// Replicas are attached (readable without the lock; see `IDLE_POLL`).
    pub has_replicas: std::sync::atomic::AtomicBool,
    /// A client waits for replicas' ACKs (WAIT): the stream is not coalesced.
    pub acks_wanted: std::sync::atomic::AtomicBool,
    /// Bytes written to replicas (snapshots and stream), counted by their
    /// connections outside the lock (INFO `total_net_repl_output_bytes`).
    pub repl_output_bytes: std::sync::atomic::AtomicU64,
}

/// The whole server state behind the lock.
pub struct Engine {
    pub config: Config,
    pub dbs: Vec<Db>,
    /// Clients not currently executing (the executing one is lent to `Ctx`).
    pub clients: BTreeMap<u64, Client>,
    pub next_client_id: u64,
    pub stats: Stats,
    pub slowlog: SlowLog,
    /// Ids of clients in MONITOR mode.
    pub monitors: Vec<u64>,
    pub run_id: String,
    /// Replication: history ids, offsets, backlog, replicas (see `crate::repl`).
    pub repl: crate::repl::Repl,
    pub started: Instant,
    pub started_unix_ms: i64,
    /// Writes since the last save (rdb_changes_since_last_save).
    pub dirty: u64,
    /// Saves, background saves, loading (see `persist`).
    pub persist: persist::Persistence,
    /// The engine under its lock, for threads that work in slices (background
    /// snapshots); set by the server.
    pub access: Option<persist::EngineAccess>,
    pub active_expire_enabled: bool,
    pub pause: Option<Pause>,
    /// A shutdown that goes ahead ends the process at once, under the engine
    /// lock, so that nothing is applied or acknowledged after the final save.
    /// Set by the server; an engine driven by unit tests only reports it.
    pub exit_process: bool,
    /// A shutdown waiting for lagging replicas.
    pub shutdown_wait: Option<shutdown::ShutdownWait>,
    pub rng: SmallRng,
    /// The actual TCP port (INFO server `tcp_port`).
    pub tcp_port: u16,
    pub executable: String,
    /// Highest `used_memory` seen by the cron (INFO `used_memory_peak`).
    pub mem_peak: u64,
    /// `used_memory` right after start-up (INFO `used_memory_startup`).
    pub mem_startup: u64,
    pub events: Arc<Events>,
    pub pubsub: pubsub::PubSub,
    /// Pub/Sub messages for the executing client (it is not in `clients`).
    pub self_deliveries: Vec<(u64, Reply)>,
    /// WATCHed keys: (db, key) → watching client ids.
    pub watched: HashMap<(usize, Bytes), Vec<u64>>,
    /// Clients blocked on a key: (db, key) → client ids in blocking order (FIFO).
    pub blocking: HashMap<(usize, Bytes), VecDeque<u64>>,
    /// Keys with blocked clients that changed during the current command.
    pub ready_keys: Vec<(usize, Bytes)>,
    /// Ids of clients (the executing one) whose watched key changed.
    pub dirty_cas_pending: Vec<u64>,
    /// Effects of the current execution unit: (db, argv) in execution order.
    pub unit_effects: Vec<(usize, Vec<Bytes>)>,
    /// The current command recorded its own effects (no verbatim propagation).
    pub propagated_explicitly: bool,
    /// The most recent propagated units, for tests, until replication consumes
    /// them (bounded). Filled only while `propagating` is set.
    pub propagation_log: VecDeque<Vec<(usize, Vec<Bytes>)>>,
    /// Effects are recorded only when something consumes them (the log in tests;
    /// the replication stream later): holding on to argv buffers costs a copy-free
    /// read path its buffer reuse (measured: SET -P 32 fell from 2.8M to 1.8M ops/s).
    pub propagating: bool,
    /// Set while EXEC runs its queue (blocking commands do not block there).
    pub in_exec: bool,
    /// Set while a blocked client's command is re-run.
    pub serving_blocked: bool,
    /// The key whose change caused the re-run.
    pub serving_key: Option<Bytes>,
    /// The re-run command found nothing again (the client keeps waiting).
    pub still_blocked: bool,
    /// Part of `dirty` caused by expiry (not by the executing command).
    pub dirty_from_expiry: u64,
    /// The EVAL VM and the script cache.
    pub scripting: crate::scripting::Scripting,
    /// The client scripts run their commands as; lent to the run while one runs.
    pub script_client: Option<Box<Client>>,
    /// While a script runs: the Unix ms time of its command, so keys cannot expire
    /// in the middle of a script (0 otherwise).
    pub frozen_now: i64,
    /// Set while a script runs (blocking commands do not block there).
    pub in_script: bool,
    /// The running script turned propagation off (`redis.set_repl`).
    pub script_propagation_off: bool,
    /// A command of the running script rewrote its effect or expired a key: the
    /// run cannot be replayed on a replica (see `RunSummary::replayable`).
    pub script_replay_unsafe: bool,
    /// `used_memory` as the cron last sampled it (the maxmemory check reads it).
    pub used_memory_sample: u64,
}

static LRU_CLOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// What the gate did with a command.
#[derive(Debug)]
pub enum Exec {
    /// The command ran (or was refused); send this reply.
    Reply(Reply),
    /// Clients are paused for this command: retry after the pause ends.
    Paused(Instant),
}

pub fn random_hex(rng: &mut impl rand::Rng, n: usize) -> String {
    (0..n).map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0')).collect()
}

impl Engine {
    /// A fresh engine for `config`.
    pub fn new(config: Config) -> Engine {
        Engine::update_lru_clock();
        let mut rng = SmallRng::from_entropy();
        let run_id = random_hex(&mut rng, 40);
        let replid = random_hex(&mut rng, 40);
        let dbs = (0..config.databases).map(|_| Db::new()).collect();
        let lua_memory_limit = config.lua_memory_limit;
        Engine {
            tcp_port: config.port,
            config,
            dbs,
            clients: BTreeMap::new(),
            next_client_id: 1,
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            monitors: Vec::new(),
            run_id,
            repl: crate::repl::Repl::new(replid),
            started: Instant::now(),
            started_unix_ms: crate::util::now_ms(),
            persist: persist::Persistence::new(crate::util::now_ms() / 1000),
            access: None,
            dirty: 0,
            active_expire_enabled: true,
            pause: None,
            exit_process: false,
            shutdown_wait: None,
            rng,
            executable: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            events: Arc::new(Events::default()),
            mem_peak: 0,
            mem_startup: crate::commands::server::memory_figures().allocated,
            pubsub: pubsub::PubSub::default(),
            self_deliveries: Vec::new(),
            watched: HashMap::new(),
            blocking: HashMap::new(),
            ready_keys: Vec::new(),
            dirty_cas_pending: Vec::new(),
            unit_effects: Vec::new(),
            propagated_explicitly: false,
            propagation_log: VecDeque::new(),
            // Unit tests read the propagation log; the server records effects only
            // once a consumer (replication) exists.
            propagating: cfg!(test),
            in_exec: false,
            serving_blocked: false,
            serving_key: None,
            still_blocked: false,
            dirty_from_expiry: 0,
            scripting: crate::scripting::Scripting::new(lua_memory_limit, Arc::default()),
            script_client: Some(Box::new(script_client())),
            frozen_now: 0,
            in_script: false,
            script_propagation_off: false,
            script_replay_unsafe: false,
            used_memory_sample: 0,
        }
    }

    /// True when `maxmemory` is set and memory use is above it. moonkv does not
    /// evict, so every policy behaves as `noeviction`: commands that may grow
    /// memory (`denyoom`) are refused until memory is freed.
    pub fn over_maxmemory(&self) -> bool {
        self.config.maxmemory > 0 && self.used_memory_sample > self.config.maxmemory
    }

    /// The LRU clock: seconds, 24 bits, as Redis's `LRU_CLOCK()`. Read from a value
    /// the cron refreshes at `hz` (Redis does the same), not from the system clock.
    pub fn lru_clock() -> u32 {
        LRU_CLOCK.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Refreshes the cached LRU clock (called by the cron and at start).
    pub fn update_lru_clock() {
        let v = ((crate::util::now_ms() / 1000) as u32) & 0x00FF_FFFF;
        LRU_CLOCK.store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// `(lfu-log-factor, lfu-decay-time)` when an LFU policy is selected.
    pub fn lfu_params(&self) -> Option<(u64, u64)> {
        if self.config.maxmemory_policy.is_lfu() {
            Some((self.config.lfu_log_factor as u64, self.config.lfu_decay_time as u64))
        } else {
            None
        }
    }

    /// Total keys in all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }

    /// Runs one command for `client` through the gate.
    /// `clock` holds the time the command started and is advanced to when it ended.
    pub fn execute(&mut self, client: &mut Client, argv: &[Bytes], clock: &mut Instant) -> Exec {
        let spec = match self.admit(client, argv) {
            Ok(spec) => spec,
            Err(reply) => return Exec::Reply(reply),
        };
        if let Some(multi) = client.multi.as_mut() {
            if !matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
                if spec.flags.no_multi {
                    multi.errored = true;
                    return Exec::Reply(
                        self.reject(Some(spec), CommandError::err("Command not allowed inside a transaction")),
                    );
                }
                multi.has_write |= spec.flags.write;
                multi.queue.push(argv.to_vec());
                return Exec::Reply(Reply::Status("QUEUED".into()));
            }
        }
        if let Some(p) = self.current_pause().filter(|_| !client.flags.master) {
            let exec_writes = spec.name == "exec" && client.multi.as_ref().is_some_and(|m| m.has_write);
            if p.all || spec.flags.write || spec.flags.may_replicate || exec_writes {
                return Exec::Paused(p.until);
            }
        }
        let reply = self.call(client, spec, argv, clock);
        self.end_unit();
        // WAIT's own GETACK request is not a write of its client (Redis appends it
        // after the command, before the event loop sleeps).
        if spec.name != "wait" {
            client.woff = self.repl.offset;
        }
        self.serve_ready_keys();
        Exec::Reply(reply)
    }

    /// The checks every command passes before it runs or is queued: lookup, arity,
    /// authentication, the RESP2 subscriber context. A refusal inside MULTI makes the
    /// transaction fail at EXEC (EXECABORT).
    fn admit(&mut self, client: &mut Client, argv: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
        let refuse = |eng: &mut Engine, client: &mut Client, spec: Option<&'static CommandSpec>, err| {
            if spec.is_some_and(|s| s.name == "exec") && client.multi.is_some() {
                // A refused EXEC discards the transaction (Redis's execCommandAbort).
                client.multi = None;
                let keys = std::mem::take(&mut client.watched);
                eng.unwatch(client.id, &keys);
                client.dirty_cas = false;
                let err = CommandError::Coded(format!("EXECABORT Transaction discarded because of: {err}"));
                return Err(eng.reject(spec, err));
            }
            if let Some(m) = client.multi.as_mut() {
                m.errored = true;
            }
            Err(eng.reject(spec, err))
        };
        let spec = match lookup(argv) {
            Ok(spec) => spec,
            Err(refusal) => {
                let err = refusal.error(argv);
                return refuse(self, client, refusal.spec(), err);
            }
        };
        if !client.authenticated && !spec.flags.no_auth {
            return refuse(self, client, Some(spec), CommandError::NoAuth);
        }
        // What the command may do, as Redis's `getCommandFlags`: only looked at in
        // the states that refuse writes, and never for the primary's own commands,
        // which nothing refuses (a script's flags cost a hash of its body).
        let refusing =
            self.is_replica() || self.config.min_replicas_to_write > 0 || self.writes_refused_on_save_error();
        let (writes, stale) = if refusing && !client.flags.master {
            self.effective_write_stale(client, spec, argv)
        } else {
            (spec.flags.write, spec.flags.stale)
        };
        if let Some(err) = self.repl_refusal(client, writes, stale) {
            return refuse(self, client, Some(spec), err);
        }
        if writes && self.repl_too_few_replicas() && !client.flags.master {
            return refuse(
                self,
                client,
                Some(spec),
                CommandError::Coded("NOREPLICAS Not enough good replicas to write.".into()),
            );
        }
        if self.persist.loading.is_some() && !spec.flags.loading {
            let err = CommandError::Coded("LOADING Redis is loading the dataset in memory".into());
            return refuse(self, client, Some(spec), err);
        }
        // The primary's commands are never refused for this node's own state (a
        // failed save, maxmemory): refusing them would make the replica diverge.
        if (writes || spec.name == "ping") && !client.flags.master && self.writes_refused_on_save_error() {
            // As Redis: writes (and PING, so monitoring notices) fail until a save
            // succeeds again.
            let err = CommandError::Coded(persist::MISCONF.into());
            return refuse(self, client, Some(spec), err);
        }
        if self.config.maxmemory > 0 && !client.flags.master && self.over_maxmemory() {
            // A script with a shebang declares whether it may write (7.0.1+).
            let denyoom = spec.flags.denyoom
                || self.scripting.flags_for(argv).is_some_and(|f| !f.compat && !f.allow_oom && !f.no_writes);
            if denyoom {
                let err = CommandError::Coded("OOM command not allowed when used memory > 'maxmemory'.".into());
                return refuse(self, client, Some(spec), err);
            }
        }
        if client.resp == 2
            && client.subscriptions() > 0
            && !matches!(
                spec.name,
                "ping"
                    | "subscribe"
                    | "ssubscribe"
                    | "unsubscribe"
                    | "sunsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "quit"
                    | "reset"
            )
        {
            let err = CommandError::err(format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            ));
            return refuse(self, client, Some(spec), err);
        }
        Ok(spec)
    }

    /// Whether `argv` writes and may run on a stale replica: EXEC writes when a
    /// queued command does; a script with a shebang writes unless it declared
    /// `no-writes`, and is stale-safe only with `allow-stale` (Redis's
    /// `scriptFlagsToCmdFlags`); one without is never stale-safe.
    fn effective_write_stale(&self, client: &Client, spec: &CommandSpec, argv: &[Bytes]) -> (bool, bool) {
        if spec.name == "exec" {
            return (client.multi.as_ref().is_some_and(|m| m.has_write), spec.flags.stale);
        }
        match self.scripting.flags_for(argv) {
            Some(f) if !f.compat => (!f.no_writes, f.allow_stale),
            // A script without shebang never runs on a stale replica (Redis's
            // `scriptPrepareForRun`).
            Some(_) => (spec.flags.write, false),
            None => (spec.flags.write, spec.flags.stale),
        }
    }

    /// Runs one command of an EXEC (already admitted when it was queued; a command
    /// that fails now only fails itself).
    pub fn call_queued(&mut self, client: &mut Client, argv: &[Bytes], clock: &mut Instant) -> Reply {
        match CommandTable::get().resolve(argv) {
            Some(spec) if spec.handler.is_some() => self.call(client, spec, argv, clock),
            _ => unknown_command(argv).into_reply(),
        }
    }

    /// Re-runs a blocked client's command (see `blocking`).
    pub fn run_blocked_command(&mut self, client: &mut Client, argv: &[Bytes], clock: &mut Instant) -> Reply {
        self.call_queued(client, argv, clock)
    }

    /// Runs an admitted command: handler, stats, slowlog, MONITOR.
    fn call(&mut self, client: &mut Client, spec: &'static CommandSpec, argv: &[Bytes], clock: &mut Instant) -> Reply {
        let handler = spec.handler.expect("gate admits only commands with a handler");
        client.last_cmd = spec.name;
        let db = client.db;
        let dirty_before = self.dirty;
        let expiry_before = self.dirty_from_expiry;
        self.propagated_explicitly = false;
        let result = {
            let mut ctx = Ctx::new(self, client);
            handler(&mut ctx, argv)
        };
        // Propagate what happened: the command verbatim when it changed something and
        // did not record its own (rewritten) effects.
        // Keys that merely expired during the command do not count as its changes
        // (their DELs are recorded separately, before the command's own effect).
        let own_changes = (self.dirty - dirty_before) - (self.dirty_from_expiry - expiry_before);
        if self.propagating
            && !self.propagated_explicitly
            && !self.script_propagation_off
            && spec.flags.write
            && own_changes > 0
        {
            self.unit_effects.push((db, argv.to_vec()));
        }
        self.propagated_explicitly = false;
        if let Some(b) = client.blocked.as_mut() {
            if b.argv.is_empty() {
                b.argv = argv.to_vec();
            }
        }
        // Entries for other lent clients (a script's caller) stay for their own call.
        if !self.dirty_cas_pending.is_empty() {
            if self.dirty_cas_pending.contains(&client.id) {
                client.dirty_cas = true;
            }
            let keep_others = self.in_script;
            self.dirty_cas_pending.retain(|&id| id != client.id && keep_others);
        }
        if !self.self_deliveries.is_empty() {
            let (mine, others): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.self_deliveries).into_iter().partition(|(id, _)| *id == client.id);
            if self.in_script {
                self.self_deliveries = others;
            }
            for (_, r) in mine {
                let mut buf = bytes::BytesMut::new();
                crate::protocol::encode(&r, client.resp, &mut buf);
                client.handle.pending.fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
                let _ = client.handle.push.send(buf.freeze());
            }
        }
        // One clock read per command: the end of this command is the start of the
        // next one in the batch (reading the clock is a measurable cost at 2M ops/s).
        let end = Instant::now();
        let usec = end.duration_since(*clock).as_micros() as u64;
        *clock = end;
        client.commands += 1;
        self.stats.total_commands_processed += 1;
        let cs = self.stats.command(spec.id);
        cs.calls += 1;
        cs.usec += usec;
        let reply = match result {
            Ok(r) => {
                if let Reply::Error(e) = &r {
                    // Some handlers return error replies as values (e.g. nested).
                    self.stats.command(spec.id).failed_calls += 1;
                    self.count_error(e.split(' ').next().unwrap_or("ERR"));
                }
                r
            }
            Err(e) => {
                self.stats.command(spec.id).failed_calls += 1;
                self.count_error(&e.code());
                e.into_reply()
            }
        };
        if !spec.flags.skip_slowlog
            && self.config.slowlog_log_slower_than >= 0
            && usec as i64 >= self.config.slowlog_log_slower_than
        {
            let name = client.name.clone().unwrap_or_default();
            let max = self.config.slowlog_max_len as usize;
            let redacted = redacted_args(argv);
            let shown: Vec<Bytes> = argv
                .iter()
                .enumerate()
                .map(|(i, a)| if redacted.contains(&i) { Bytes::from_static(b"(redacted)") } else { a.clone() })
                .collect();
            self.slowlog.push(&shown, usec, &client.addr, &name, max);
        }
        if !self.monitors.is_empty() && !spec.flags.skip_monitor && !spec.flags.admin {
            self.feed_monitors(client, argv);
        }
        reply
    }

    fn count_error(&mut self, code: &str) {
        self.stats.total_error_replies += 1;
        // Redis caps the number of distinct error codes it tracks at 128.
        if self.stats.errors.len() < 128 || self.stats.errors.contains_key(code) {
            *self.stats.errors.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// A command refused before running: counts rejected_calls and errorstats.
    fn reject(&mut self, spec: Option<&'static CommandSpec>, err: CommandError) -> Reply {
        if let Some(spec) = spec {
            self.stats.command(spec.id).rejected_calls += 1;
        }
        self.count_error(&err.code());
        err.into_reply()
    }

    /// Runs an allow-busy command of client `id` while a script is timed out
    /// (from the script's hook, as Redis does): only the gate and the handler, no
    /// end of execution unit (the script's unit is still open).
    pub fn run_while_busy(&mut self, id: u64, argv: &[Bytes]) -> Reply {
        let Some(mut client) = self.clients.remove(&id) else {
            return Reply::Error("ERR client is gone".into());
        };
        let reply = match self.admit(&mut client, argv) {
            Ok(spec) => self.call(&mut client, spec, argv, &mut Instant::now()),
            Err(reply) => reply,
        };
        self.clients.insert(id, client);
        reply
    }

    /// Books a command of client `id` refused while a script was busy: its
    /// transaction (if open) fails at EXEC, the refusal counts in the stats.
    pub fn note_refused_while_busy(&mut self, id: u64, name: &[u8], code: &str) {
        if let Some(m) = self.clients.get_mut(&id).and_then(|c| c.multi.as_mut()) {
            m.errored = true;
        }
        if let Some(spec) = CommandTable::get().resolve(std::slice::from_ref(&Bytes::copy_from_slice(name))) {
            self.stats.command(spec.id).rejected_calls += 1;
        }
        if !code.is_empty() {
            self.count_error(code);
        }
    }

    /// Runs a command for a script (`scriptCall` after its checks): the same `call`
    /// as clients, with the script's client.
    pub fn call_from_script(
        &mut self,
        client: &mut Client,
        spec: &'static CommandSpec,
        argv: &[Bytes],
        clock: &mut Instant,
    ) -> Reply {
        self.call(client, spec, argv, clock)
    }

    /// Sends `argv` as `client`'s command to every MONITOR.
    pub fn feed_monitors(&mut self, client: &Client, argv: &[Bytes]) {
        let now = crate::util::now_us();
        let mut line = format!("+{}.{:06} [{} {}]", now / 1_000_000, now % 1_000_000, client.db, client.addr);
        let redacted = redacted_args(argv);
        for (i, a) in argv.iter().enumerate() {
            line.push(' ');
            if redacted.contains(&i) {
                line.push_str("\"(redacted)\"");
            } else {
                line.push_str(&crate::util::sds::repr(a));
            }
        }
        line.push_str("\r\n");
        let line = Bytes::from(line);
        let ids = self.monitors.clone();
        for id in ids {
            if id == client.id {
                continue;
            }
            match self.clients.get(&id) {
                Some(m) => {
                    let _ = m.handle.push.send(line.clone());
                }
                None => self.monitors.retain(|&m| m != id),
            }
        }
    }

    /// The CLIENT PAUSE in force, if any; an elapsed pause is ended here.
    pub fn current_pause(&mut self) -> Option<Pause> {
        let mut client = self.pause;
        if client.is_some_and(|p| Instant::now() >= p.until) {
            self.pause = None;
            self.events.unpause.notify_waiters();
            client = None;
        }
        // A FAILOVER pauses writes until it ends (its end wakes the paused clients).
        if self.failover_pauses_writes() && !client.is_some_and(|p| p.all) {
            return Some(Pause { until: Instant::now() + std::time::Duration::from_secs(3600), all: false });
        }
        // So does a shutdown waiting for its replicas.
        client.or_else(|| self.shutdown_pause())
    }

    /// Registers a new client and returns its id.
    pub fn add_client(&mut self, make: impl FnOnce(u64) -> Client) -> u64 {
        let id = self.next_client_id;
        self.next_client_id += 1;
        self.clients.insert(id, make(id));
        self.stats.total_connections_received += 1;
        id
    }

    /// Forgets a client: its subscriptions, watched keys and blocked state too.
    pub fn remove_client(&mut self, id: u64) {
        self.repl_forget(id);
        if let Some(c) = self.clients.remove(&id) {
            let watched = c.watched.clone();
            self.unwatch(id, &watched);
            if let Some(b) = &c.blocked {
                for k in &b.keys {
                    if let Some(q) = self.blocking.get_mut(k) {
                        q.retain(|&i| i != id);
                        if q.is_empty() {
                            self.blocking.remove(k);
                        }
                    }
                }
            }
            for ch in &c.channels {
                self.pubsub_forget_channel(id, ch);
            }
            for p in &c.patterns {
                self.pubsub_forget_pattern(id, p);
            }
        }
        self.monitors.retain(|&m| m != id);
    }

    /// The order-independent digest of the whole dataset, 40 hex chars; all zeros
    /// for an empty dataset (DEBUG DIGEST).
    pub fn digest(&self) -> String {
        let mut d = [0u8; 20];
        for (i, db) in self.dbs.iter().enumerate() {
            crate::db::keyspace::db_digest(&mut d, i as u32, db);
        }
        hex::encode(d)
    }
}

/// The client scripts run their commands as: always authenticated, no connection
/// (its pushes go nowhere), shown as `lua` in MONITOR.
fn script_client() -> Client {
    let (push, _) = tokio::sync::mpsc::unbounded_channel();
    let handle = ClientHandle { kill: Arc::default(), push, pending: Arc::default(), unblocked: Arc::default() };
    let mut c = Client::new(0, "lua".into(), String::new(), -1, true, handle);
    c.flags.script = true;
    c
}

/// Positions of secrets in `argv` that MONITOR and SLOWLOG must not show
/// (Redis's `redactClientCommandArgument`): every AUTH argument, HELLO's AUTH pair.
pub fn redacted_args(argv: &[Bytes]) -> Vec<usize> {
    let Some(name) = argv.first() else { return Vec::new() };
    if name.eq_ignore_ascii_case(b"auth") {
        return (1..argv.len()).collect();
    }
    if name.eq_ignore_ascii_case(b"hello") {
        if let Some(p) = argv.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
            return (p + 1..(p + 3).min(argv.len())).collect();
        }
    }
    Vec::new()
}

/// Why `lookup` refused a command.
#[derive(Debug, Clone, Copy)]
pub enum LookupRefusal {
    UnknownCommand,
    /// A container command whose subcommand is unknown.
    UnknownSubcommand(&'static CommandSpec),
    WrongArity(&'static CommandSpec),
}

impl LookupRefusal {
    /// The command the refusal counts against (`rejected_calls`), if known.
    pub fn spec(&self) -> Option<&'static CommandSpec> {
        match *self {
            LookupRefusal::UnknownCommand => None,
            LookupRefusal::UnknownSubcommand(s) | LookupRefusal::WrongArity(s) => Some(s),
        }
    }

    /// The error a client gets.
    pub fn error(&self, argv: &[Bytes]) -> CommandError {
        match *self {
            LookupRefusal::UnknownCommand => unknown_command(argv),
            LookupRefusal::UnknownSubcommand(s) => CommandError::UnknownSubcommand {
                sub: String::from_utf8_lossy(&argv[1]).into_owned(),
                cmd: s.name.to_ascii_uppercase(),
            },
            LookupRefusal::WrongArity(s) => CommandError::WrongArity(s.name.to_string()),
        }
    }
}

/// The first check of the gate, shared by clients, scripts and busy-time replies:
/// the command (or subcommand) exists and its arity holds.
pub fn lookup(argv: &[Bytes]) -> Result<&'static CommandSpec, LookupRefusal> {
    let spec = CommandTable::get().resolve(argv).ok_or(LookupRefusal::UnknownCommand)?;
    if !spec.subcommands.is_empty() && argv.len() >= 2 {
        return Err(LookupRefusal::UnknownSubcommand(spec));
    }
    if spec.handler.is_none() || !spec.arity_ok(argv.len()) {
        return Err(LookupRefusal::WrongArity(spec));
    }
    Ok(spec)
}

/// The "unknown command" error with its argument preview (at most 128 bytes in all).
pub fn unknown_command(argv: &[Bytes]) -> CommandError {
    let mut args = Vec::new();
    let mut total = 0;
    for a in argv.iter().skip(1) {
        if total >= 128 {
            break;
        }
        let take = a.len().min(128 - total);
        let s = String::from_utf8_lossy(&a[..take]).into_owned();
        total += take + 3;
        args.push(s);
    }
    CommandError::UnknownCommand {
        name: String::from_utf8_lossy(argv.first().map(|b| b.as_ref()).unwrap_or(b"")).into_owned(),
        args,
    }
}

/// The execution context of one command: the engine, the calling client, and the
/// time the command started (every expiry decision inside one command uses it).
pub struct Ctx<'a> {
    pub eng: &'a mut Engine,
    pub client: &'a mut Client,
    /// The command's time in Unix ms, read from the clock on first use only
    /// (0 = not read yet): many commands never need it.
    now: std::cell::Cell<i64>,
}

impl<'a> Ctx<'a> {
    /// A context for one command of `client`.
    pub fn new(eng: &'a mut Engine, client: &'a mut Client) -> Ctx<'a> {
        // Inside a script every command sees the script's start time.
        let now = std::cell::Cell::new(eng.frozen_now);
        Ctx { eng, client, now }
    }

    /// The command's time (Unix ms): the same value for the whole command, so every
    /// expiry decision inside one command agrees.
    pub fn now(&self) -> i64 {
        let mut n = self.now.get();
        if n == 0 {
            n = crate::util::now_ms();
            self.now.set(n);
        }
        n
    }

    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.eng.dbs[self.client.db]
    }

    /// Deletes `key` from db `dbi` if its deadline has passed; true when deleted.
    /// (Redis's `expireIfNeeded`.)
    pub fn expire_if_needed_in(&mut self, dbi: usize, key: &[u8]) -> bool {
        if self.eng.dbs[dbi].expires.is_empty() {
            return false;
        }
        let now = self.now();
        if !self.eng.dbs[dbi].is_expired(key, now) {
            return false;
        }
        // The key's fate depends on this node's clock.
        self.eng.script_replay_unsafe |= self.eng.in_script;
        if self.eng.repl.master.is_some() {
            // A replica never expires keys itself: its primary's DEL will come.
            // Its own clients see the key as gone; the primary's stream sees it.
            return !self.client.flags.master;
        }
        // While writes are paused nothing may change the dataset: the key is
        // reported as gone but deleted only after the pause (as Redis does).
        if self.eng.current_pause().is_none() {
            self.eng.delete_expired_key(dbi, key);
        }
        true
    }

    /// Lazy-expires `key` in the selected db.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        let dbi = self.client.db;
        self.expire_if_needed_in(dbi, key)
    }

    /// Looks a key up for reading: lazy expiry, LRU touch, hits/misses.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&Entry> {
        if self.expire_if_needed(key) {
            self.eng.stats.keyspace_misses += 1;
            return None;
        }
        let no_touch = self.client.flags.no_touch;
        let dbi = self.client.db;
        let lfu = self.eng.lfu_params();
        let eng = &mut *self.eng;
        match eng.dbs[dbi].keys.get_mut(key) {
            Some(e) => {
                if !no_touch {
                    e.lru = lfu::touched(e.lru, lfu, &mut eng.rng);
                }
                eng.stats.keyspace_hits += 1;
                Some(&*e)
            }
            None => {
                eng.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Looks a key up for writing (lazy expiry, no stats).
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        let lfu = self.eng.lfu_params();
        let dbi = self.client.db;
        let eng = &mut *self.eng;
        let e = eng.dbs[dbi].get_mut_for_write(key)?;
        e.lru = lfu::touched(e.lru, lfu, &mut eng.rng);
        Some(e)
    }

    /// True when `key` exists (after lazy expiry), without touching it.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.db().keys.contains_key(key)
    }

    /// Stores a value (SET semantics: the TTL is dropped unless `keep_ttl`).
    pub fn set_value(&mut self, key: &[u8], val: Value, keep_ttl: bool) {
        let lru = lfu::initial(self.eng.lfu_params().is_some());
        self.db().set(key, val, lru, keep_ttl);
        self.changed(key, 1);
    }

    /// Deletes a key; true when it existed (after lazy expiry).
    pub fn delete(&mut self, key: &[u8]) -> bool {
        if self.expire_if_needed(key) {
            return false;
        }
        let gone = self.db().remove(key).is_some();
        if gone {
            self.changed(key, 1);
        }
        gone
    }

    /// Counts `n` changes to the dataset that belong to no single key (FLUSHALL).
    pub fn dirty(&mut self, n: u64) {
        self.eng.dirty += n;
    }

    /// Every client, the calling one included, in id order.
    pub fn all_clients(&self) -> Vec<&Client> {
        let mut v: Vec<&Client> = self.eng.clients.values().collect();
        let pos = v.partition_point(|c| c.id < self.client.id);
        v.insert(pos, &*self.client);
        v
    }
}
