//! The `redis` table scripts see (`script_lua.c`): `redis.call`/`pcall` through the
//! same gate and handlers as clients, and the helpers (`error_reply`, `sha1hex`,
//! `log`, `setresp`, `set_repl`, ...), with Redis 7.0's argument checks and texts.
//!
//! A run context (`RunCtx`) exists only while a script runs; it lives on the stack of
//! the EVAL handler and the VM reaches it through `VmShared::run`. Everything here
//! that touches the engine goes through `RunCtx::call`.

use super::convert;
use super::shebang::ScriptFlags;
use super::ScriptRun;
use crate::commands::table::{CommandSpec, CommandTable};
use crate::engine::{Client, Engine, LookupRefusal};
use crate::protocol::Reply;
use bytes::Bytes;
use mlua::{ffi, Lua, MultiValue, Table, Value};
use std::cell::Cell;
use std::ffi::c_int;
use std::fmt;
use std::sync::Arc;

/// `redis.set_repl` flags.
pub const REPL_NONE: u8 = 0;
pub const REPL_AOF: u8 = 1;
pub const REPL_REPLICA: u8 = 2;
pub const REPL_ALL: u8 = 3;

/// An error that scripts see as a Redis error table `{err = text}` (Redis's
/// `luaPushError` + `luaError`), as opposed to a plain Lua string error.
#[derive(Debug, Clone)]
pub struct TableError(pub String);

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TableError {}

/// A `luaL_error` raised by one of the C-library ports (`libs`): only the message;
/// the error handler adds the position of the Lua code that called the library
/// function (the prefix `luaL_error` computes in C).
#[derive(Debug, Clone)]
pub struct LibError(pub String);

impl fmt::Display for LibError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LibError {}

/// True when `e` is a `LibError` still lacking its position.
pub fn needs_position(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => needs_position(cause),
        mlua::Error::ExternalError(ext) => ext.downcast_ref::<LibError>().is_some(),
        _ => false,
    }
}

/// Raises `{err = "ERR <msg>"}` from a Rust function.
pub fn table_error(msg: &str) -> mlua::Error {
    mlua::Error::external(TableError(format!("ERR {msg}")))
}

/// The text of an error raised by a Rust function (or by Lua), and whether it is
/// a Redis error table. mlua wraps callback errors; the innermost cause carries
/// the text.
pub fn error_text(e: &mlua::Error) -> (String, bool) {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        mlua::Error::ExternalError(ext) => match ext.downcast_ref::<TableError>() {
            Some(t) => (t.0.clone(), true),
            None => match ext.downcast_ref::<LibError>() {
                Some(l) => (l.0.clone(), false),
                None => (ext.to_string(), false),
            },
        },
        mlua::Error::RuntimeError(s) => (s.clone(), false),
        mlua::Error::MemoryError(_) => ("not enough memory".into(), false),
        other => (other.to_string(), false),
    }
}

/// Lua's `luaL_where(L, 1)`: the position of the code that called the running
/// Rust function, or nothing when that caller is a C function.
pub fn where_prefix(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// A plain Lua error raised by a Rust function, positioned like `luaL_error`.
pub fn lua_error(lua: &Lua, msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{msg}", where_prefix(lua)))
}

/// State shared between one VM and the Rust functions it holds. Each VM has its
/// own, so a VM can be freed on another thread (SCRIPT FLUSH ASYNC).
#[derive(Default)]
pub struct VmShared {
    /// The running script's context; null outside a run.
    pub run: Cell<*mut RunCtx>,
    /// The `math.random` generator.
    pub rand: Cell<super::rand::Lrand48>,
    /// A panic caught in `redis.call`, resumed once the VM is left.
    pub panic: Cell<Option<Box<dyn std::any::Any + Send>>>,
}

/// What one script run knows and records (Redis's `scriptRunCtx`).
pub struct RunCtx {
    /// The engine, borrowed from the EVAL handler for the duration of the run.
    pub eng: *mut Engine,
    /// When the last command of the script ended (the next one's start: one
    /// clock read per command, as for clients).
    pub clock: std::time::Instant,
    /// The client the script's commands run as.
    pub client: Box<Client>,
    pub sha: String,
    pub flags: ScriptFlags,
    /// EVAL_RO/EVALSHA_RO or a `no-writes` script: writes are refused.
    pub read_only: bool,
    /// The script came from this replica's primary (its writes are never refused).
    pub from_master: bool,
    /// Protocol the script's `redis.call` replies are converted from (`redis.setresp`).
    pub resp: u8,
    /// `redis.set_repl` flags.
    pub repl: u8,
    /// The run executed a write command.
    pub wrote: bool,
    /// The run executed a command whose output is not deterministic.
    pub random: bool,
    /// `redis.replicate_commands()` was called (only matters in verbatim mode).
    pub effects: bool,
    /// The `script-replication verbatim` rule is in force for this run.
    pub verbatim: bool,
    pub shared_run: Arc<ScriptRun>,
}

const RANDOM_WRITE: &str = "Write commands not allowed after non deterministic commands. Call redis.replicate_commands() at the start of your script in order to switch to single commands replication mode.";

impl RunCtx {
    /// Re-running the script on a replica might not do what this run did (it
    /// read something a replica sees differently, or asked for effects
    /// replication): the run must reach replicas as its effects.
    pub fn not_replayable(&mut self) {
        // SAFETY: as in `call`.
        unsafe { (*self.eng).script_replay_unsafe = true };
    }

    /// Runs one command for the script (`scriptCall`): the checks of the scripting
    /// spec §6.4, then the engine's own `call`. Rejections come back as error replies.
    pub fn call(&mut self, argv: &[Bytes]) -> Reply {
        // SAFETY: `eng` points to the engine the EVAL handler holds `&mut` to; the
        // handler does not touch it while the script runs, and scripts run on one
        // thread, so this is the only live access.
        let eng = unsafe { &mut *self.eng };
        let spec = match crate::engine::lookup(argv) {
            Ok(spec) => spec,
            Err(LookupRefusal::WrongArity(spec)) => {
                return reject(eng, spec, "ERR Wrong number of args calling Redis command from script")
            }
            Err(_) => return Reply::Error("ERR Unknown Redis command called from script".into()),
        };
        if spec.flags.noscript {
            return reject(eng, spec, "ERR This Redis command is not allowed from script");
        }
        // PUBLISH replicates too (Redis flags it may-replicate internally).
        let may_replicate = spec.flags.may_replicate || spec.flags.pubsub && spec.name.ends_with("publish");
        // PUBLISH answers how many clients received the message and PUBSUB
        // lists this node's subscribers, MEMORY USAGE measures its allocations:
        // a replica sees other values.
        if may_replicate || spec.name.starts_with("pubsub") || spec.name == "memory|usage" {
            eng.script_replay_unsafe = true;
        }
        if self.read_only && (spec.flags.write || may_replicate) {
            return reject(eng, spec, "ERR Write commands are not allowed from read-only scripts.");
        }
        let random = is_random(spec);
        if spec.flags.write && self.verbatim && !self.effects && self.random {
            return reject(eng, spec, &format!("ERR {RANDOM_WRITE}"));
        }
        // The server's state can refuse writes until the script's first one (a
        // script that started writing finishes its work): a read-only replica
        // (unless the script came from the primary), a failed save, too few
        // replicas (Redis's `scriptVerifyWriteCommandAllow`).
        // These refusals depend on this node's state, which a replica does not
        // share: a run that met one (and went on) must not be replayed.
        if spec.flags.write && !self.wrote && !self.from_master {
            if eng.is_replica() && eng.config.replica_read_only {
                eng.script_replay_unsafe = true;
                return reject(eng, spec, crate::repl::replica::READONLY);
            }
            if eng.writes_refused_on_save_error() {
                eng.script_replay_unsafe = true;
                return reject(eng, spec, crate::engine::persist::MISCONF);
            }
            if eng.repl_too_few_replicas() {
                eng.script_replay_unsafe = true;
                return reject(eng, spec, "NOREPLICAS Not enough good replicas to write.");
            }
        }
        // OOM: checked until the script's first write (a script that started
        // writing finishes its work), never for scripts declaring allow-oom.
        if spec.flags.denyoom && !self.wrote && !self.flags.allow_oom && !self.from_master && eng.over_maxmemory() {
            eng.script_replay_unsafe = true;
            return reject(eng, spec, "OOM command not allowed when used memory > 'maxmemory'.");
        }
        if spec.flags.write {
            self.wrote = true;
            self.shared_run.set_wrote();
        }
        self.random |= random;
        eng.script_propagation_off = self.repl & REPL_REPLICA == 0;
        self.client.resp = self.resp;
        let reply = eng.call_from_script(&mut self.client, spec, argv, &mut self.clock);
        eng.script_propagation_off = false;
        if spec.tips.contains(&"nondeterministic_output_order") {
            convert::sort_reply(reply)
        } else {
            reply
        }
    }
}

fn reject(eng: &mut Engine, spec: &'static CommandSpec, msg: &str) -> Reply {
    eng.stats.command(spec.id).rejected_calls += 1;
    Reply::Error(msg.into())
}

/// Commands whose output differs between servers or runs with the same dataset
/// (Redis ≤ 6.2's `random` flag; 7.0's `nondeterministic_output` tip).
pub fn is_random(spec: &CommandSpec) -> bool {
    spec.tips.contains(&"nondeterministic_output")
}

/// The running script did something a replica could not redo the same way
/// (read `os.clock`, caught an out-of-memory error): it reaches replicas as its
/// effects.
pub fn note_nondeterministic(shared: &VmShared) {
    let p = shared.run.get();
    if !p.is_null() {
        // SAFETY: as in `current`.
        unsafe { (*p).not_replayable() };
    }
}

/// The running script's context, or the error Redis 7.0 gives outside a run.
fn current(shared: &VmShared, what: &str) -> mlua::Result<&'static mut RunCtx> {
    let p = shared.run.get();
    if p.is_null() {
        return Err(table_error(&format!("{what} can only be called inside a script invocation")));
    }
    // SAFETY: set by the runner to a `RunCtx` that outlives the run and cleared
    // before it is dropped; Lua calls Rust functions one at a time.
    Ok(unsafe { &mut *p })
}

/// `redis.call` and `redis.pcall` as Lua C functions, as in Redis: arguments are
/// read from the Lua stack and the reply is pushed onto it directly, with no mlua
/// callback frame in between (BENCHMARKS.md, session 6). Each closes over the
/// VM's shared state (a light userdata upvalue; the VM owns both).
pub fn call_functions(lua: &Lua, shared: &std::rc::Rc<VmShared>) -> mlua::Result<(mlua::Function, mlua::Function)> {
    // SAFETY: `make_calls` follows the lua_CFunction contract.
    let make = unsafe { lua.create_c_function(make_calls)? };
    make.call(mlua::LightUserData(std::rc::Rc::as_ptr(shared) as *mut std::ffi::c_void))
}

/// `(shared) → redis.call, redis.pcall`.
unsafe extern "C-unwind" fn make_calls(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushcclosure(l, redis_call, 1);
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushcclosure(l, redis_pcall, 1);
    2
}

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    call_from_lua(l, false)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    call_from_lua(l, true)
}

/// `redis.call` (`is_pcall` false) and `redis.pcall`: runs a command and returns
/// the converted reply. An error reply is returned as `{err=...}` by pcall and
/// raised by call (as a Redis error table: `pcall(redis.call, ...)` then sees its
/// text). Being C functions, `return redis.call(...)` keeps the script's frame for
/// the error position.
///
/// `lua_error` unwinds with a longjmp: it is called here, where no Rust value
/// with a destructor is alive (`run_and_push` has dropped them all).
unsafe fn call_from_lua(l: *mut ffi::lua_State, is_pcall: bool) -> c_int {
    let raise = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_and_push(l, is_pcall)));
    match raise {
        Ok(false) => 1,
        Ok(true) => ffi::lua_error(l),
        Err(payload) => {
            // A panic must not unwind through Lua's C frames: Lua unwinds with
            // an error, and the runner resumes the panic once the VM is left.
            let shared = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const VmShared);
            shared.panic.set(Some(payload));
            let msg = c"ERR panic in a command called from the script";
            ffi::lua_pushlstring_(l, msg.as_ptr(), msg.to_bytes().len());
            ffi::lua_error(l)
        }
    }
}

/// Runs the command the arguments on `l` name and pushes its reply; true when
/// what was pushed is an error table to raise.
unsafe fn run_and_push(l: *mut ffi::lua_State, is_pcall: bool) -> bool {
    // SAFETY: the upvalue is the VM's `VmShared`, alive as long as the VM.
    let shared = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const VmShared);
    // Pushing the reply must not meet the script's memory limit (an allocation
    // error would unwind through this frame).
    let lua = mlua::Lua::get_or_init_from_ptr(l);
    let _unlimited = super::sandbox::Unlimited::new(lua);
    let fail = |text: &str| {
        convert::push_error_table(l, text, false);
        !is_pcall
    };
    let run = match current(shared, "redis.call/pcall") {
        Ok(r) => r,
        Err(_) => return fail("ERR redis.call/pcall can only be called inside a script invocation"),
    };
    let Some(argv) = stack_argv(l) else {
        return fail(if ffi::lua_gettop(l) == 0 {
            "ERR Please specify at least one argument for this redis lib call"
        } else {
            "ERR Lua redis lib command arguments must be strings or integers"
        });
    };
    // The arguments are copied: their stack slots are the reply's now.
    ffi::lua_settop(l, 0);
    match run.call(&argv) {
        Reply::Error(e) if !is_pcall => {
            convert::push_error_table(l, &e, false);
            true
        }
        reply => {
            convert::push_reply(l, &reply, run.resp);
            false
        }
    }
}

/// Lua arguments → argv (`luaArgsToRedisArgv`): strings as they are, numbers as
/// `%.17g` (Redis 7.0), anything else is an error.
fn args_to_argv(args: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, ()> {
    let mut argv = Vec::new();
    for v in args {
        match v {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(_) | Value::Integer(_) => {
                let n = convert::as_number(&v).unwrap_or_default();
                argv.push(Bytes::from(crate::util::num::format_g17(n)))
            }
            _ => return Err(()),
        }
    }
    Ok(argv)
}

/// The call's arguments on the Lua stack → argv, as `args_to_argv`: strings as they are,
/// numbers as `%.17g` (Redis 7.0); None for no argument or any other type.
unsafe fn stack_argv(l: *mut ffi::lua_State) -> Option<Vec<Bytes>> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return None;
    }
    let mut argv = Vec::with_capacity(n as usize);
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                argv.push(Bytes::copy_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len)));
            }
            ffi::LUA_TNUMBER => argv.push(Bytes::from(crate::util::num::format_g17(ffi::lua_tonumber(l, i)))),
            _ => return None,
        }
    }
    Some(argv)
}

/// `lua_tonumber`: numbers, numeric strings, else 0.
fn to_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Integer(i) => *i as f64,
        Value::String(s) => crate::util::num::parse_f64(&s.as_bytes()).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn single_string_arg(args: &MultiValue) -> Option<mlua::String> {
    match args.len() {
        1 => match &args[0] {
            Value::String(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Builds the `redis` table.
pub fn redis_table(lua: &Lua, shared: &std::rc::Rc<VmShared>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let (call, pcall) = call_functions(lua, shared)?;
    t.set("call", call)?;
    t.set("pcall", pcall)?;

    t.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let Some(s) = single_string_arg(&args) else {
                return convert::error_table(lua, "ERR wrong number or type of arguments", false);
            };
            // 7.0: a missing leading '-' is added, then the code is normalised.
            let text = s.to_string_lossy();
            convert::error_table(lua, text.strip_prefix('-').unwrap_or(&text), false)
        })?,
    )?;
    t.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let Some(s) = single_string_arg(&args) else {
                return convert::error_table(lua, "ERR wrong number or type of arguments", false);
            };
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Ok(t)
        })?,
    )?;
    t.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(table_error("wrong number of arguments"));
            }
            let _ = lua;
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(_) | Value::Integer(_) => {
                    crate::util::num::format_g(convert::as_number(&args[0]).unwrap_or_default(), 14).into_bytes()
                }
                _ => Vec::new(),
            };
            Ok(super::sha1_hex(&bytes))
        })?,
    )?;
    t.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return Err(table_error("redis.log() requires two arguments or more."));
            }
            let level = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(i) => *i,
                Value::String(s) if crate::util::num::parse_f64(&s.as_bytes()).is_some() => to_number(&args[0]) as i64,
                _ => return Err(table_error("First argument must be a number (log level).")),
            };
            if !(0..=3).contains(&level) {
                return Err(table_error("Invalid debug level."));
            }
            let mut msg = String::new();
            for v in args.iter().skip(1) {
                let part = match v {
                    Value::String(s) => s.to_string_lossy(),
                    Value::Number(_) | Value::Integer(_) => {
                        crate::util::num::format_g(convert::as_number(v).unwrap_or_default(), 14)
                    }
                    _ => continue,
                };
                if !msg.is_empty() {
                    msg.push(' ');
                }
                msg.push_str(&part);
            }
            let _ = lua;
            match level {
                0 => tracing::debug!("{msg}"),
                1 => tracing::info!(target: "moonkv::script", "{msg}"),
                2 => tracing::info!("{msg}"),
                _ => tracing::warn!("{msg}"),
            }
            Ok(())
        })?,
    )?;
    let s = shared.clone();
    t.set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            let run = current(&s, "redis.setresp")?;
            if args.len() != 1 {
                return Err(table_error("redis.setresp() requires one argument."));
            }
            match to_number(&args[0]) as i64 {
                v @ (2 | 3) => run.resp = v as u8,
                _ => return Err(table_error("RESP version must be 2 or 3.")),
            }
            Ok(())
        })?,
    )?;
    let s = shared.clone();
    t.set(
        "set_repl",
        lua.create_function(move |_, args: MultiValue| {
            let run = current(&s, "redis.set_repl")?;
            if run.verbatim && !run.effects {
                // Redis ≤ 6.2 (S-106).
                return Err(table_error("You can set the replication behavior only after turning on single commands replication with redis.replicate_commands()."));
            }
            if args.len() != 1 {
                return Err(table_error("redis.set_repl() requires two arguments."));
            }
            let flags = to_number(&args[0]) as i64;
            if flags & !(REPL_ALL as i64) != 0 {
                return Err(table_error(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            let flags = flags as u8;
            run.repl = flags;
            // The script chose what replicas get: its effects, filtered.
            run.not_replayable();
            Ok(())
        })?,
    )?;
    let s = shared.clone();
    t.set(
        "replicate_commands",
        lua.create_function(move |_, ()| {
            // 7.x: always true. In every mode the run then reaches replicas as
            // its effects.
            let Ok(run) = current(&s, "redis.replicate_commands") else { return Ok(true) };
            run.not_replayable();
            if run.verbatim && !run.effects {
                // Redis ≤ 6.2 (S-102, S-106): too late after a write; else the
                // refusal of writes after random commands is lifted and
                // math.random gets fresh numbers.
                if run.wrote {
                    return Ok(false);
                }
                run.effects = true;
                let mut r = s.rand.get();
                r.seed(crate::util::now_us() as i32);
                s.rand.set(r);
            }
            Ok(true)
        })?,
    )?;
    t.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    t.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    t.set(
        "acl_check_cmd",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(table_error("Please specify at least one argument for this redis lib call"));
            }
            let Ok(argv) = args_to_argv(args.into_iter()) else {
                return Err(table_error("Lua redis lib command arguments must be strings or integers"));
            };
            let _ = lua;
            match CommandTable::get().resolve(&argv) {
                // moonkv has one user, `default`, allowed every command.
                Some(_) => Ok(true),
                None => Err(table_error("Invalid command passed to redis.acl_check_cmd()")),
            }
        })?,
    )?;
    for (name, v) in [("REPL_NONE", REPL_NONE), ("REPL_AOF", REPL_AOF), ("REPL_SLAVE", REPL_REPLICA)] {
        t.set(name, v)?;
    }
    t.set("REPL_REPLICA", REPL_REPLICA)?;
    t.set("REPL_ALL", REPL_ALL)?;
    for (i, name) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].iter().enumerate() {
        t.set(*name, i as u8)?;
    }
    t.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    t.set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    Ok(t)
}

/// `0x00MMmmpp` of a `major.minor.patch` version.
fn version_num(v: &str) -> i64 {
    let mut parts = v.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a << 16) | (b << 8) | c
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_number() {
        assert_eq!(super::version_num("7.0.15"), 0x0007000f);
    }
}
