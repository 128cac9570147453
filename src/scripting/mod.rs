//! Lua scripting (`eval.c`, `script.c`, `script_lua.c`): the EVAL VM and its
//! sandbox, the script cache (sha → body, compiled chunk, flags; EVAL-created
//! scripts evicted least-recently-used beyond 500), one script run from start to
//! reply, and the state a long-running script shares with the other connections
//! (`ScriptRun`) so they can answer BUSY and SCRIPT KILL without the engine lock.
//!
//! Determinism is always on: every run starts from the same `math.random` state,
//! replies whose order depends on hash layout are sorted, and each run records
//! whether it wrote and whether it called a command with non-deterministic output
//! (`RunSummary`), which script propagation (replication) relies on.

pub mod api;
pub mod convert;
pub mod libs;
pub mod rand;
pub mod sandbox;
pub mod shebang;

use crate::commands::error::{CmdResult, CommandError};
use crate::engine::Ctx;
use crate::protocol::Reply;
use api::RunCtx;
use bytes::Bytes;
use sandbox::Vm;
use shebang::ScriptFlags;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// EVAL-created scripts kept before the least recently used is evicted (7.4's
/// `LRU_LIST_LENGTH`).
pub const EVAL_LRU_LENGTH: usize = 500;

/// Runs between two incremental GC steps (Redis's `LUA_GC_CYCLE_PERIOD`).
const GC_CYCLE_PERIOD: u32 = 50;

/// The seed every run starts from (Redis ≤ 6.2 reseeded with 0 before each script).
const RUN_SEED: i32 = 0;

/// Lowercase hex SHA1.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(data))
}

/// The running script as the other connections see it, without the engine lock
/// (DESIGN.md "Long scripts"): whether a script runs, since when, whether it has
/// passed `busy-reply-threshold`, whether it wrote, and a kill request.
#[derive(Debug, Default)]
pub struct ScriptRun {
    running: AtomicBool,
    timed_out: AtomicBool,
    wrote: AtomicBool,
    kill: AtomicBool,
    line_hook: AtomicBool,
    /// Times the hook fired during this run. Its instruction count carries over
    /// from run to run, so only a second firing proves a full hook period (100000
    /// instructions) inside this run.
    hooked: AtomicU64,
    from_primary: AtomicBool,
    /// Start of the run, in µs since `epoch`.
    started_us: AtomicU64,
    threshold_ms: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
    /// Notified when a run ends.
    pub done: tokio::sync::Notify,
    /// Commands Redis serves while a script is busy (MULTI, WATCH, HELLO, ...),
    /// waiting for the hook to run them (`BusyRequest`).
    requests: parking_lot::Mutex<Requests>,
}

/// Jobs for the hook, accepted only while a script runs.
#[derive(Debug, Default)]
struct Requests {
    accepting: bool,
    jobs: Vec<BusyRequest>,
}

/// Work of another connection to run from inside the busy script's hook, as
/// Redis processes `allow-busy` commands from its script hook. The job gets the
/// engine; what it returns goes back to the connection.
pub type BusyJob = Box<dyn FnOnce(&mut crate::engine::Engine) -> BusyOutcome + Send>;

/// What a `BusyJob` produced: the reply, and the client id when the job
/// registered the connection; or a line to send before closing.
pub type BusyOutcome = Result<(Reply, u64), &'static str>;

struct BusyRequest {
    job: BusyJob,
    reply: tokio::sync::oneshot::Sender<BusyOutcome>,
}

impl std::fmt::Debug for BusyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusyRequest")
    }
}

/// What SCRIPT KILL does to the running script.
#[derive(Debug, PartialEq, Eq)]
pub enum KillOutcome {
    Killed,
    NotBusy,
    Unkillable,
    UnkillablePrimary,
}

impl ScriptRun {
    fn now_us(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_micros() as u64
    }

    fn begin(&self, started: Instant, threshold_ms: u64, from_primary: bool) {
        self.timed_out.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.line_hook.store(false, Ordering::Relaxed);
        self.hooked.store(0, Ordering::Relaxed);
        self.from_primary.store(from_primary, Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        let epoch = *self.epoch.get_or_init(|| started);
        self.started_us.store(started.saturating_duration_since(epoch).as_micros() as u64, Ordering::Relaxed);
        self.requests.lock().accepting = true;
        self.running.store(true, Ordering::Release);
    }

    /// Queues a job for the hook of the running script; its outcome comes through
    /// the receiver. `None` when no script runs any more (go the normal way). A job
    /// accepted is always run: by the hook, or when the script ends.
    pub fn submit(&self, job: BusyJob) -> Option<tokio::sync::oneshot::Receiver<BusyOutcome>> {
        let mut q = self.requests.lock();
        if !q.accepting {
            return None;
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        q.jobs.push(BusyRequest { job, reply });
        Some(rx)
    }

    /// Runs the queued jobs (from the hook, with the engine of the running script).
    pub fn serve_requests(&self, eng: &mut crate::engine::Engine) {
        let jobs = std::mem::take(&mut self.requests.lock().jobs);
        for r in jobs {
            let _ = r.reply.send((r.job)(eng));
        }
    }

    /// Stops accepting jobs and runs those still queued (the run just ended).
    fn close_requests(&self, eng: &mut crate::engine::Engine) {
        let jobs = {
            let mut q = self.requests.lock();
            q.accepting = false;
            std::mem::take(&mut q.jobs)
        };
        for r in jobs {
            let _ = r.reply.send((r.job)(eng));
        }
    }

    /// True when jobs wait for the hook.
    pub fn has_requests(&self) -> bool {
        !self.requests.lock().jobs.is_empty()
    }

    fn end(&self) -> bool {
        self.running.store(false, Ordering::Release);
        self.done.notify_waiters();
        self.timed_out.load(Ordering::Relaxed)
    }

    /// A script is running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The running script passed `busy-reply-threshold`: others get BUSY.
    pub fn is_timed_out(&self) -> bool {
        self.is_running() && self.timed_out.load(Ordering::Relaxed)
    }

    fn set_wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// True once; afterwards the hook fires on every line.
    fn line_hook_set(&self) -> bool {
        self.line_hook.swap(true, Ordering::Relaxed)
    }

    /// Called by the hook: enters the timed-out state once the threshold passed.
    fn check_timeout(&self) {
        self.hooked.fetch_add(1, Ordering::Relaxed);
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 || self.timed_out.load(Ordering::Relaxed) {
            return;
        }
        let elapsed_ms = (self.now_us() - self.started_us.load(Ordering::Relaxed)) / 1000;
        if elapsed_ms >= threshold {
            self.timed_out.store(true, Ordering::Relaxed);
            tracing::warn!(
                "Slow script detected: still in execution after {elapsed_ms} milliseconds. You can try killing the script using the SCRIPT KILL command."
            );
            self.done.notify_waiters();
        }
    }

    /// SCRIPT KILL (answered without the engine lock).
    pub fn request_kill(&self) -> KillOutcome {
        if !self.is_running() {
            KillOutcome::NotBusy
        } else if self.from_primary.load(Ordering::Relaxed) {
            KillOutcome::UnkillablePrimary
        } else if self.wrote.load(Ordering::Relaxed) {
            KillOutcome::Unkillable
        } else {
            self.kill.store(true, Ordering::Relaxed);
            KillOutcome::Killed
        }
    }
}

impl KillOutcome {
    /// The reply Redis gives (`scriptKill`).
    pub fn reply(&self) -> Reply {
        match self {
            KillOutcome::Killed => Reply::ok(),
            KillOutcome::NotBusy => Reply::Error("NOTBUSY No scripts in execution right now.".into()),
            KillOutcome::UnkillablePrimary => Reply::Error(
                "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed."
                    .into(),
            ),
            KillOutcome::Unkillable => Reply::Error(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
                    .into(),
            ),
        }
    }
}

/// The text other clients get while a script is timed out.
pub const BUSY_TEXT: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// One cached script.
struct Script {
    body: Bytes,
    flags: ScriptFlags,
    func: mlua::Function,
    /// Position in the EVAL LRU list; `None` for SCRIPT LOAD scripts (never evicted).
    lru: Option<u64>,
    /// Runs so far, and whether any of them was long (see `is_known_fast`).
    runs: u64,
    slow: bool,
}

/// True when `body` cannot run for an unbounded time: it has no loop, defines no
/// function (so no recursion, no Lua callbacks) and loads no code. Found by words,
/// conservatively: such a word inside a string or comment also counts. Its run
/// time is then bounded by its length and the commands it calls.
pub fn is_straight_line(body: &[u8]) -> bool {
    const UNBOUNDED: [&[u8]; 6] = [b"while", b"for", b"repeat", b"function", b"load", b"loadstring"];
    body.split(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).all(|word| !UNBOUNDED.contains(&word))
}

/// What the last run did (for propagation and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub sha: String,
    pub wrote: bool,
    pub random: bool,
    /// Running the script again on a replica, on the same data, does exactly
    /// what this run did: it succeeded, called no random command, read nothing
    /// a replica sees differently, expired no key, and its commands' effects were
    /// their own argv (DESIGN.md "Script propagation").
    pub replayable: bool,
    /// The run raised an error (as opposed to returning an error reply).
    pub raised: bool,
}

/// The scripting state inside the engine.
pub struct Scripting {
    vm: Vm,
    scripts: ahash::AHashMap<String, Script>,
    /// EVAL-created scripts by last use.
    lru: BTreeMap<u64, String>,
    lru_clock: u64,
    /// Bytes of cached shas and bodies (`used_memory_scripts_eval` basis).
    scripts_mem: usize,
    /// INFO stats `evicted_scripts`.
    pub evicted: u64,
    /// Shas evicted since the engine last looked (the replication script cache
    /// forgets them).
    pub evicted_recent: Vec<String>,
    runs_since_gc: u32,
    pub last_run: RunSummary,
    pub run_state: Arc<ScriptRun>,
    memory_limit: usize,
}

impl Scripting {
    /// A fresh VM and an empty cache.
    pub fn new(memory_limit: u64, run_state: Arc<ScriptRun>) -> Scripting {
        let memory_limit = memory_limit.min(usize::MAX as u64) as usize;
        let vm = Vm::new(memory_limit, run_state.clone()).expect("building the Lua sandbox cannot fail");
        Scripting {
            vm,
            scripts: ahash::AHashMap::new(),
            lru: BTreeMap::new(),
            lru_clock: 0,
            scripts_mem: 0,
            evicted: 0,
            evicted_recent: Vec::new(),
            runs_since_gc: 0,
            last_run: RunSummary::default(),
            run_state,
            memory_limit,
        }
    }

    /// Applies a new `lua-memory-limit`.
    pub fn set_memory_limit(&mut self, limit: u64) {
        self.memory_limit = limit.min(usize::MAX as u64) as usize;
        self.vm.memory_limit = self.memory_limit;
    }

    /// Number of cached scripts (`number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// True when no script is cached.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes the Lua VM uses (`used_memory_lua`, `used_memory_vm_eval`).
    pub fn vm_memory(&self) -> usize {
        self.vm.lua.used_memory()
    }

    /// Cache overhead (`used_memory_scripts_eval`): shas, bodies and entries.
    pub fn cache_memory(&self) -> usize {
        self.scripts_mem + self.scripts.len() * (std::mem::size_of::<Script>() + 16) + self.lru.len() * 48
    }

    /// True when `sha` (any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(&s.to_ascii_lowercase()))
    }

    /// The body of a cached script.
    pub fn body(&self, sha: &str) -> Option<&Bytes> {
        self.scripts.get(sha).map(|s| &s.body)
    }

    /// The bodies of every cached script (for snapshots), in no particular order.
    pub fn bodies(&self) -> impl Iterator<Item = &Bytes> {
        self.scripts.values().map(|s| &s.body)
    }

    /// Compiles and caches `body` (`luaCreateFunction`); returns its sha. A script
    /// created by EVAL joins the LRU list (and may evict the oldest); one created by
    /// SCRIPT LOAD leaves it ("promoted", as Valkey does).
    pub fn create(&mut self, body: &Bytes, from_eval: bool) -> Result<String, CommandError> {
        let sha = sha1_hex(body);
        if let Some(s) = self.scripts.get_mut(&sha) {
            if !from_eval {
                if let Some(tick) = s.lru.take() {
                    self.lru.remove(&tick);
                }
            }
            return Ok(sha);
        }
        let (flags, shebang_len) = shebang::parse(body).map_err(CommandError::Err)?;
        let code = &body[shebang_len..];
        let func = self
            .vm
            .compile(code)
            .map_err(|msg| CommandError::err(format!("Error compiling script (new function): {msg}")))?;
        let lru = if from_eval {
            while self.lru.len() >= EVAL_LRU_LENGTH {
                let Some((_, oldest)) = self.lru.pop_first() else { break };
                if let Some(s) = self.scripts.remove(&oldest) {
                    self.scripts_mem -= oldest.len() + s.body.len();
                    self.evicted += 1;
                    self.evicted_recent.push(oldest);
                }
            }
            self.lru_clock += 1;
            self.lru.insert(self.lru_clock, sha.clone());
            Some(self.lru_clock)
        } else {
            None
        };
        self.scripts_mem += sha.len() + body.len();
        self.scripts.insert(sha.clone(), Script { body: body.clone(), flags, func, lru, runs: 0, slow: false });
        self.gc_step();
        Ok(sha)
    }

    /// SCRIPT FLUSH: a fresh VM at once; the old one is closed (full GC first) here
    /// or, when `background`, on another thread.
    pub fn flush(&mut self, background: bool) {
        let fresh = Vm::new(self.memory_limit, self.run_state.clone()).expect("building the Lua sandbox cannot fail");
        let old = std::mem::replace(&mut self.vm, fresh);
        let scripts = std::mem::take(&mut self.scripts);
        self.lru.clear();
        self.scripts_mem = 0;
        let free = move || {
            drop(scripts);
            old.close();
        };
        if background {
            let detached = SendBox(Box::new(free));
            std::thread::spawn(move || detached.run());
        } else {
            free();
        }
    }

    fn gc_step(&mut self) {
        self.runs_since_gc += 1;
        if self.runs_since_gc >= GC_CYCLE_PERIOD {
            self.runs_since_gc = 0;
            let _ = self.vm.lua.gc_step_kbytes(50);
        }
    }

    /// True when the script is straight-line code (`is_straight_line`) or no run of
    /// it so far executed a hook period (100000 Lua instructions, well under a
    /// millisecond). Counting instructions, not time: a run slowed by the machine
    /// or by a command it called (a rehash, a big reply) is not a long script, and
    /// a hook can only stop Lua code anyway. The server runs such scripts inline on
    /// its I/O thread; any other script runs where a long run cannot stall the
    /// other connections (see `server::connection`). A known-fast script that
    /// suddenly runs long stalls the others until it ends (they then cannot get
    /// BUSY or send SCRIPT KILL), and is treated as unknown from then on.
    pub fn is_known_fast(&self, argv: &[Bytes]) -> bool {
        let Some(name) = argv.first() else { return false };
        let mut buf = [0u8; 40];
        let sha = if name.eq_ignore_ascii_case(b"evalsha") || name.eq_ignore_ascii_case(b"evalsha_ro") {
            match argv.get(1) {
                Some(s) if s.len() == 40 => {
                    buf.copy_from_slice(s);
                    buf.make_ascii_lowercase();
                    match std::str::from_utf8(&buf) {
                        Ok(s) => s.to_string(),
                        Err(_) => return true,
                    }
                }
                _ => return true,
            }
        } else {
            match argv.get(1) {
                // Straight-line code needs no history (and no hashing of the body,
                // which the EVAL itself does next).
                Some(body) if is_straight_line(body) => return true,
                Some(body) => sha1_hex(body),
                None => return true,
            }
        };
        // Unknown shas fail (EVALSHA) or compile first (EVAL).
        match self.scripts.get(&sha) {
            Some(s) => !s.slow && (s.runs > 0 || is_straight_line(&s.body)),
            None => match argv.get(1) {
                Some(body) if name.eq_ignore_ascii_case(b"eval") || name.eq_ignore_ascii_case(b"eval_ro") => {
                    is_straight_line(body)
                }
                _ => true,
            },
        }
    }

    /// The flags of the script an EVAL-family `argv` would run: the cached entry, or
    /// the shebang of an EVAL body not cached yet. `None` for other commands and
    /// unknown shas.
    pub fn flags_for(&self, argv: &[Bytes]) -> Option<ScriptFlags> {
        let name = argv.first()?;
        let body = argv.get(1)?;
        if name.eq_ignore_ascii_case(b"evalsha") || name.eq_ignore_ascii_case(b"evalsha_ro") {
            let sha = std::str::from_utf8(body).ok()?.to_ascii_lowercase();
            return self.scripts.get(&sha).map(|s| s.flags);
        }
        if name.eq_ignore_ascii_case(b"eval") || name.eq_ignore_ascii_case(b"eval_ro") {
            return match self.scripts.get(&sha1_hex(body)) {
                Some(s) => Some(s.flags),
                None => shebang::parse(body).ok().map(|(f, _)| f),
            };
        }
        None
    }

    fn record_run(&mut self, sha: &str, long: bool) {
        if let Some(s) = self.scripts.get_mut(sha) {
            s.runs += 1;
            s.slow |= long;
        }
    }

    fn touch(&mut self, sha: &str) {
        let Some(s) = self.scripts.get_mut(sha) else { return };
        if let Some(tick) = s.lru {
            self.lru.remove(&tick);
            self.lru_clock += 1;
            self.lru.insert(self.lru_clock, sha.to_string());
            s.lru = Some(self.lru_clock);
        }
    }
}

// SAFETY: as for `Vm`: the cached functions belong to this engine's VM and are only
// used under the engine lock.
unsafe impl Send for Scripting {}

/// A closure that owns a VM and its scripts, sent to the thread that frees them.
struct SendBox(Box<dyn FnOnce()>);
// SAFETY: the closure owns a detached VM and its cached functions; nothing else
// refers to that VM any more (see `Vm`'s Send note).
unsafe impl Send for SendBox {}

impl SendBox {
    fn run(self) {
        (self.0)()
    }
}

/// How a script is invoked.
pub struct Invocation<'a> {
    pub sha: &'a str,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    /// EVAL_RO / EVALSHA_RO.
    pub read_only_command: bool,
}

/// Runs a cached script for the calling client (`evalGenericCommand` from step 5):
/// pre-run checks, the run itself, and the reply.
pub fn run_script(ctx: &mut Ctx, inv: Invocation) -> CmdResult {
    let scripting = &mut ctx.eng.scripting;
    let Some(script) = scripting.scripts.get(inv.sha) else {
        return Err(CommandError::Coded("NOSCRIPT No matching script. Please use EVAL.".into()));
    };
    let flags = script.flags;
    let func = script.func.clone();
    if !flags.compat && !flags.no_writes && inv.read_only_command {
        return Err(CommandError::err("Can not execute a script with write flag using *_ro command."));
    }
    let vm_lua = scripting.vm.lua.clone();
    let globals = scripting.vm.globals.clone();
    let shared = scripting.vm.shared.clone();
    let run_state = scripting.run_state.clone();

    // KEYS and ARGV for this run.
    let keys = string_table(&vm_lua, inv.keys).map_err(lua_failure)?;
    let argv = string_table(&vm_lua, inv.args).map_err(lua_failure)?;
    globals.raw_set("KEYS", keys).map_err(lua_failure)?;
    globals.raw_set("ARGV", argv).map_err(lua_failure)?;
    let mut rng = rand::Lrand48::default();
    rng.seed(RUN_SEED);
    shared.rand.set(rng);

    let mut client = ctx.eng.script_client.take().expect("one script runs at a time");
    client.db = ctx.client.db;
    client.resp = 2;
    // A script from the primary runs as the primary's client: its keys never
    // expire here (the primary's DELs come in the stream), nothing refuses it.
    let from_master = ctx.client.flags.master;
    client.flags.master = from_master;
    let now = ctx.now();
    let started = Instant::now();
    let verbatim = ctx.eng.config.script_replication == crate::config::ScriptReplication::Verbatim && !from_master;
    let mut run = RunCtx {
        eng: &mut *ctx.eng as *mut _,
        clock: started,
        client,
        sha: inv.sha.to_string(),
        flags,
        read_only: inv.read_only_command || flags.no_writes,
        from_master,
        resp: 2,
        repl: api::REPL_ALL,
        wrote: false,
        random: false,
        effects: false,
        verbatim,
        shared_run: run_state.clone(),
    };
    ctx.eng.frozen_now = now;
    ctx.eng.in_script = true;
    ctx.eng.script_replay_unsafe = false;
    run_state.begin(started, ctx.eng.config.busy_reply_threshold, from_master);
    shared.run.set(&mut run as *mut RunCtx);
    let result = enter_vm(ctx, &func, from_master);
    shared.run.set(std::ptr::null_mut());
    if let Some(payload) = shared.panic.take() {
        std::panic::resume_unwind(payload);
    }
    let long = run_state.hooked.load(Ordering::Relaxed) >= 2;
    let killed_mode = run_state.line_hook_set();
    run_state.close_requests(ctx.eng);
    run_state.end();
    ctx.eng.frozen_now = 0;
    ctx.eng.in_script = false;
    let RunCtx { mut client, wrote, random, resp: script_resp, .. } = run;
    client.flags.master = false;
    ctx.eng.script_client = Some(client);
    let replayable = !random && !ctx.eng.script_replay_unsafe && matches!(result, Ok((true, _)));
    let scripting = &mut ctx.eng.scripting;
    // Reuses the summary's buffer: no allocation per run.
    let last = &mut scripting.last_run;
    last.sha.clear();
    last.sha.push_str(inv.sha);
    (last.wrote, last.random, last.replayable) = (wrote, random, replayable);
    last.raised = !matches!(result, Ok((true, _)));
    if killed_mode {
        scripting.vm.reset_hook();
    }
    scripting.record_run(inv.sha, long);
    scripting.touch(inv.sha);
    scripting.gc_step();
    let reply = match result {
        Ok((true, v)) => convert::lua_to_reply(&v, script_resp),
        Ok((false, e)) => error_reply(&e, inv.sha),
        Err(e) => Reply::Error(format!("ERR Error running script {}, {:.100}", inv.sha, api::error_text(&e).0)),
    };
    let scripting = &ctx.eng.scripting;
    if vm_lua.used_memory() > (64 << 20).min(scripting.memory_limit / 2) {
        // A script that built something huge leaves it as garbage: give it back now
        // (also when it failed at the memory limit).
        scripting.vm.collect_garbage();
    }
    Ok(reply)
}

/// Enters the VM for a run. From here until the run is over the engine is reached
/// only through the run context's pointer (`RunCtx::eng`).
fn enter_vm(ctx: &mut Ctx, func: &mlua::Function, from_master: bool) -> mlua::Result<(bool, mlua::Value)> {
    let vm: *const Vm = &ctx.eng.scripting.vm;
    // SAFETY: the VM is not replaced while a script runs (SCRIPT FLUSH is a
    // noscript command, and the commands the hook runs meanwhile are allow-busy
    // ones, SCRIPT FLUSH not among them); Rust functions reach the engine only
    // through the run context, never through this reference.
    let vm = unsafe { &*vm };
    // A script from the primary succeeded there: no memory limit of this node's
    // may fail it here.
    if from_master {
        vm.run_unlimited(func)
    } else {
        vm.run(func)
    }
}

fn lua_failure(e: mlua::Error) -> CommandError {
    CommandError::err(format!("Error running script: {}", api::error_text(&e).0))
}

fn string_table(lua: &mlua::Lua, items: &[Bytes]) -> mlua::Result<mlua::Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

/// The reply for a script that raised (`luaCallFunction`): `-<err> script: <sha>,
/// on <source>:<line>.` for an error table, Redis's generic text otherwise.
fn error_reply(e: &mlua::Value, sha: &str) -> Reply {
    let mlua::Value::Table(t) = e else {
        let msg = match e {
            mlua::Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".into(),
        };
        let msg: String = msg.chars().take(100).collect();
        return Reply::Error(format!("ERR Error running script {sha}, {msg}"));
    };
    let text = match t.raw_get::<mlua::Value>("err") {
        Ok(mlua::Value::String(s)) => s.to_string_lossy(),
        Ok(v @ (mlua::Value::Number(_) | mlua::Value::Integer(_))) => {
            crate::util::num::format_g(convert::as_number(&v).unwrap_or_default(), 14)
        }
        _ => "ERR unknown error".into(),
    };
    let source = t.raw_get::<mlua::Value>("source").ok();
    let line = t.raw_get::<mlua::Value>("line").ok();
    match (source, line.as_ref().and_then(convert::as_number)) {
        (Some(mlua::Value::String(src)), Some(line)) => Reply::Error(format!(
            "{text} script: {sha}, on {}:{}.",
            src.to_string_lossy(),
            crate::util::num::format_g(line, 14)
        )),
        _ => Reply::Error(text),
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::testing::TestEngine;
    use crate::protocol::Reply;
    use bytes::Bytes;

    fn eval(t: &mut TestEngine, body: &str, keys: &[&str]) -> Reply {
        let mut argv = vec![Bytes::from_static(b"EVAL"), Bytes::copy_from_slice(body.as_bytes())];
        argv.push(Bytes::from(keys.len().to_string()));
        argv.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())));
        t.run_argv(&argv)
    }

    #[test]
    fn one_write_propagates_bare_several_in_multi_none_for_reads() {
        // Scripting spec S-110: effects, not the script (the 7.x rule; the
        // replication issues add the verbatim forms).
        let mut t = TestEngine::new();
        eval(&mut t, "redis.call('set', KEYS[1], 'v')", &["k"]);
        assert_eq!(t.propagated(), vec![vec!["set k v".to_string()]]);
        eval(&mut t, "redis.call('set', 'a', '1') redis.call('incr', 'a')", &[]);
        assert_eq!(t.propagated(), vec![vec!["MULTI", "set a 1", "incr a", "EXEC"]]);
        eval(&mut t, "return redis.call('get', 'a')", &[]);
        assert!(t.propagated().is_empty());
    }

    #[test]
    fn effects_are_rewritten_and_kept_before_an_error() {
        // S-112: SPOP → SREM, EXPIRE → PEXPIREAT; writes before an error stay.
        let mut t = TestEngine::new();
        t.run("SADD s a");
        t.propagated();
        let r = eval(&mut t, "redis.call('spop', 's') redis.call('set', 'x', '1') error('boom')", &[]);
        assert!(matches!(r, Reply::Error(ref e) if e.starts_with("ERR user_script:1: boom script: ")), "{r:?}");
        let p = t.propagated();
        assert_eq!(p[0][1], "SREM s a");
        assert_eq!(p[0][2], "set x 1");
    }

    #[test]
    fn set_repl_none_suppresses_propagation() {
        // S-111
        let mut t = TestEngine::new();
        eval(&mut t, "redis.set_repl(redis.REPL_NONE) redis.call('set', 'a', '1') redis.set_repl(redis.REPL_ALL) redis.call('set', 'b', '2')", &[]);
        assert_eq!(t.propagated(), vec![vec!["set b 2".to_string()]]);
    }

    #[test]
    fn each_run_records_writes_and_non_deterministic_commands() {
        let mut t = TestEngine::new();
        eval(&mut t, "return redis.call('get', 'a')", &[]);
        let last = t.eng.scripting.last_run.clone();
        assert!(!last.wrote && !last.random);
        eval(&mut t, "redis.call('time') redis.call('set', 'a', '1')", &[]);
        let last = t.eng.scripting.last_run.clone();
        assert!(last.wrote && last.random);
        eval(&mut t, "return redis.call('randomkey')", &[]);
        let last = t.eng.scripting.last_run.clone();
        assert!(!last.wrote && last.random);
    }

    #[test]
    fn a_run_is_replayable_only_when_a_replica_would_do_the_same() {
        let mut t = TestEngine::new();
        let replayable = |t: &mut TestEngine, body: &str| {
            eval(t, body, &[]);
            t.eng.scripting.last_run.replayable
        };
        assert!(replayable(&mut t, "redis.call('set', 'a', '1') return redis.call('incr', 'n')"));
        assert!(replayable(&mut t, "redis.call('sadd', 's', 'x', 'y') return redis.call('smembers', 's')"));
        assert!(replayable(&mut t, "return math.random()"));
        assert!(replayable(&mut t, "redis.call('select', '3') return redis.call('rpush', 'l', 'x')"));
        for unsafe_body in [
            "redis.call('time') return redis.call('set', 'a', '1')",
            "return redis.call('expire', 'a', '100')",
            "return redis.call('set', 'a', '1', 'EX', '100')",
            "return redis.call('incrbyfloat', 'f', '1.5')",
            "return redis.call('spop', 's')",
            "redis.call('publish', 'ch', 'm') return redis.call('set', 'a', '1')",
            "if os.clock() >= 0 then return redis.call('set', 'a', '1') end",
            "redis.replicate_commands() return redis.call('set', 'a', '1')",
            "redis.set_repl(redis.REPL_ALL) return redis.call('set', 'a', '1')",
            "redis.call('set', 'a', '1') error('half way')",
            "redis.call('set', 'a', '1') return redis.call('hget', 'a', 'f')",
        ] {
            assert!(!replayable(&mut t, unsafe_body), "{unsafe_body}");
        }
        // An out-of-memory error the script caught: the VM's state decided.
        t.eng.scripting.set_memory_limit(1 << 20);
        let body = "local ok = pcall(string.rep, 'x', 4000000) redis.call('set', 'a', tostring(ok)) return ok";
        assert_eq!(eval(&mut t, body, &[]), Reply::Nil);
        assert!(!t.eng.scripting.last_run.replayable);
        let body = "local ok = xpcall(function() return string.rep('x', 4000000) end, function(e) return e end) return redis.call('set', 'a', tostring(ok))";
        assert!(!replayable(&mut t, body));
        let body = "local ok = coroutine.resume(coroutine.create(function() return string.rep('x', 4000000) end)) return redis.call('set', 'a', tostring(ok))";
        assert!(!replayable(&mut t, body));
        t.eng.scripting.set_memory_limit(1 << 30);
        // Addresses and the collector's state.
        for body in [
            "redis.call('set', 'a', tostring({}))",
            "redis.call('set', 'a', tostring(redis.call))",
            "for k in pairs({[{}] = 1}) do end redis.call('set', 'a', '1')",
            "local n = 0 for k in next, {[print or {}] = 1} do n = n + 1 end redis.call('set', 'a', n)",
            "redis.call('set', 'a', collectgarbage('count'))",
            "redis.call('set', 'a', gcinfo())",
            "setmetatable({}, {__mode = 'v'}) redis.call('set', 'a', '1')",
        ] {
            assert!(!replayable(&mut t, body), "{body}");
        }
        for body in [
            "redis.call('set', 'a', tostring(12) .. tostring(true) .. tostring(nil))",
            "for k, v in pairs({x = 1, y = 2}) do redis.call('set', k, v) end",
            "return redis.error_reply('MY own error')",
        ] {
            assert!(replayable(&mut t, body), "{body}");
            assert!(!t.eng.scripting.last_run.raised, "{body}");
        }
        eval(&mut t, "redis.call('set', 'a', '1') return redis.call('nosuchcommand')", &[]);
        assert!(t.eng.scripting.last_run.raised);
        // KEYS leaving out a key that expired by this node's clock.
        t.run("set soon 1 px 1");
        let deadline = crate::util::now_ms() + 2;
        while crate::util::now_ms() < deadline {}
        assert!(!replayable(&mut t, "redis.call('set', 'n', #redis.call('keys', 's*'))"));
        // A key that expires during the run: the replica's clock decides otherwise.
        t.run("debug set-active-expire 0");
        t.run("set e 1 px 1");
        let deadline = crate::util::now_ms() + 2;
        while crate::util::now_ms() < deadline {}
        assert!(!replayable(&mut t, "redis.call('set', 'a', '1') return redis.call('get', 'e')"));
        // A write refused for this node's state (OOM) that the script caught.
        t.eng.config.maxmemory = 1;
        t.eng.used_memory_sample = 2;
        assert!(!replayable(&mut t, "redis.pcall('set', 'a', '1') return redis.call('del', 'a')"));
    }

    #[test]
    fn redis_call_replies_keep_redis_shapes_at_the_edges() {
        let mut t = TestEngine::new();
        t.run("set x v");
        // RESP3 nil elements leave holes and the table is not pre-sized: `#`
        // answers as in Redis (0 here).
        let r = eval(&mut t, "redis.setresp(3) local r = redis.call('mget', 'missing', 'x') return {#r, r[2]}", &[]);
        assert_eq!(r, Reply::Array(vec![Reply::Int(0), Reply::Bulk(Bytes::from_static(b"v"))]));
        // Nearly as many arguments as Lua's stack allows, and the whole reply.
        let body = "local t = {} for i = 1, 7990 do t[i] = 'x' end return #redis.call('mget', unpack(t))";
        assert_eq!(eval(&mut t, body, &[]), Reply::Int(7990));
    }

    #[test]
    fn verbatim_mode_refuses_a_write_after_a_random_command() {
        // S-103, in `script-replication verbatim` only.
        let mut t = TestEngine::new();
        t.eng.config.script_replication = crate::config::ScriptReplication::Verbatim;
        let r = eval(&mut t, "redis.call('randomkey') return redis.pcall('set', 'a', '1')", &[]);
        let Reply::Error(e) = r else { panic!("{r:?}") };
        assert!(e.starts_with("ERR Write commands not allowed after non deterministic commands."), "{e}");
        // redis.replicate_commands() lifts it for the run.
        let r =
            eval(&mut t, "redis.replicate_commands() redis.call('randomkey') return redis.call('set', 'a', '1')", &[]);
        assert_eq!(r, Reply::Status("OK".into()));
        // S-106: too late after a write; set_repl only after it.
        let r = eval(&mut t, "redis.call('set', 'a', '1') return redis.replicate_commands()", &[]);
        assert_eq!(r, Reply::Nil);
        let r = eval(&mut t, "redis.set_repl(redis.REPL_ALL)", &[]);
        let Reply::Error(e) = r else { panic!("{r:?}") };
        assert!(e.contains("You can set the replication behavior only after turning on single commands replication with redis.replicate_commands()."), "{e}");
        let r = eval(&mut t, "redis.replicate_commands() redis.set_repl(redis.REPL_ALL) return 1", &[]);
        assert_eq!(r, Reply::Int(1));
        // S-102: it reseeds math.random.
        let seeded = eval(&mut t, "return tostring(math.random())", &[]);
        let reseeded = eval(&mut t, "redis.replicate_commands() return tostring(math.random())", &[]);
        assert_ne!(seeded, reseeded);
        t.eng.config.script_replication = crate::config::ScriptReplication::Adaptive;
        let r = eval(&mut t, "redis.call('randomkey') return redis.call('set', 'a', '1')", &[]);
        assert_eq!(r, Reply::Status("OK".into()));
    }

    #[test]
    fn straight_line_scripts() {
        assert!(super::is_straight_line(b"return redis.call('INCR', KEYS[1])"));
        assert!(super::is_straight_line(b"local formula = 1 return formula"));
        assert!(!super::is_straight_line(b"while true do end"));
        assert!(!super::is_straight_line(b"for i=1,10 do end"));
        assert!(!super::is_straight_line(b"local f = function() end"));
        assert!(!super::is_straight_line(b"return loadstring('x')"));
        assert!(!super::is_straight_line(b"repeat until false"));
    }

    #[test]
    fn random_is_reseeded_before_every_run() {
        let mut t = TestEngine::new();
        let a = eval(&mut t, "return tostring(math.random())", &[]);
        let b = eval(&mut t, "math.random() math.random() return tostring(math.random())", &[]);
        let c = eval(&mut t, "return tostring(math.random())", &[]);
        assert_eq!(a, Reply::Bulk(Bytes::from_static(b"0.17082803611217")));
        assert_eq!(a, c);
        assert_ne!(a, b);
    }

    #[test]
    fn eval_lru_keeps_500_and_spares_loaded_scripts() {
        let mut t = TestEngine::new();
        let load = [&b"SCRIPT"[..], b"LOAD", b"return 'loaded'"].map(Bytes::copy_from_slice);
        assert!(matches!(t.run_argv(&load), Reply::Bulk(_)));
        for i in 0..=super::EVAL_LRU_LENGTH {
            eval(&mut t, &format!("return {i}"), &[]);
        }
        assert_eq!(t.eng.scripting.evicted, 1);
        assert_eq!(t.eng.scripting.len(), super::EVAL_LRU_LENGTH + 1);
        assert!(!t.eng.scripting.exists(super::sha1_hex(b"return 0").as_bytes()));
        assert!(t.eng.scripting.exists(super::sha1_hex(b"return 'loaded'").as_bytes()));
    }
}

#[cfg(test)]
mod oom_tests {
    use crate::engine::testing::TestEngine;
    use crate::protocol::Reply;
    use bytes::Bytes;

    #[test]
    fn over_maxmemory_refuses_denyoom_commands_and_writing_scripts() {
        // Scripting spec S-84 (moonkv does not evict: every policy acts as noeviction).
        let mut t = TestEngine::new();
        t.eng.config.maxmemory = 1;
        t.eng.used_memory_sample = 1 << 20;
        let oom = "OOM command not allowed when used memory > 'maxmemory'.";
        assert_eq!(t.run("SET a b"), Reply::Error(oom.into()));
        let eval = |t: &mut TestEngine, body: &str| {
            t.run_argv(&[
                Bytes::from_static(b"EVAL"),
                Bytes::copy_from_slice(body.as_bytes()),
                Bytes::from_static(b"0"),
            ])
        };
        let Reply::Error(e) = eval(&mut t, "return redis.call('set','a','b')") else { panic!() };
        assert!(e.starts_with(&format!("{oom} script: ")), "{e}");
        assert_eq!(eval(&mut t, "#!lua\nreturn redis.call('set','a','b')"), Reply::Error(oom.into()));
        assert_eq!(eval(&mut t, "#!lua flags=allow-oom\nreturn redis.call('set','a','b')"), Reply::Status("OK".into()));
        assert_eq!(eval(&mut t, "#!lua flags=no-writes\nreturn redis.call('get','a')"), Reply::Bulk("b".into()));
    }
}
