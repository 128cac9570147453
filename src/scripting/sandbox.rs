//! One EVAL Lua VM: Lua 5.1 (mlua, vendored) with Redis 7.0's library set and
//! sandbox. The sandbox itself (read-only globals and library tables, the error
//! handler, the pcall wrapper) is Lua code in `prelude.lua`; this module builds the
//! Rust functions it is given: the `redis` table, text-only `loadstring`/`load`,
//! Redis's `math.random`, `os.clock`, and the `cjson`/`cmsgpack`/`struct`/`bit`
//! libraries with Lua's error positions.

use super::api::{self, error_text, lua_error, VmShared};
use super::ScriptRun;
use mlua::{ffi, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use std::ffi::c_int;
use std::rc::Rc;
use std::sync::Arc;

const PRELUDE: &str = include_str!("prelude.lua");

/// Instructions between two calls of the hook that watches for SCRIPT KILL and the
/// busy threshold (Redis's count hook).
const HOOK_EVERY: u32 = 100_000;

/// The chunk name of every EVAL script.
pub const SCRIPT_CHUNK_NAME: &str = "@user_script";

/// A ready VM.
pub struct Vm {
    pub lua: Lua,
    /// The prelude's runner: `run(f)` → `(true, value)` or `(false, error)`.
    runner: Function,
    /// The table the globals live in (KEYS and ARGV are set here per run).
    pub globals: Table,
    pub shared: Rc<VmShared>,
    /// Keeps the chunk name string alive so the parser never holds the only
    /// reference to it (CVE-2025-49844).
    _chunk_name: mlua::String,
    /// `lua-memory-limit`, in force only while script code runs (see `run`).
    pub memory_limit: usize,
}

/// Lifts the VM's memory limit while Rust code builds Lua values, and puts it
/// back when dropped. With a limit set, mlua wraps every table and string
/// operation in a protected call (an allocation could fail); Rust code only
/// builds values whose size the dataset already bounds, so it runs unprotected
/// (measured: redis.call of PING 1.6 µs → see BENCHMARKS.md).
pub struct Unlimited<'a> {
    lua: &'a Lua,
    limit: usize,
}

impl<'a> Unlimited<'a> {
    /// Lifts the limit of `lua` until the guard is dropped.
    pub fn new(lua: &'a Lua) -> Unlimited<'a> {
        let limit = lua.set_memory_limit(0).unwrap_or(0);
        Unlimited { lua, limit }
    }
}

impl Drop for Unlimited<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.limit);
    }
}

// SAFETY: a `Vm` and every Lua handle it owns are only used by the thread holding
// the engine lock (or, once detached by SCRIPT FLUSH ASYNC, by the one thread that
// frees it). Nothing of one VM (Rc counters included) is shared with another VM or
// with anything outside the engine, so no two threads ever touch it at once.
unsafe impl Send for Vm {}

impl Vm {
    /// Builds a fresh VM with its memory capped at `memory_limit` bytes.
    pub fn new(memory_limit: usize, run: Arc<ScriptRun>) -> mlua::Result<Vm> {
        // SAFETY: `debug` is opened only so the prelude can keep `debug.getinfo` for
        // the error handler; the prelude removes it from the globals before any
        // script can run.
        let lua = unsafe {
            Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new())
        };
        let shared = Rc::new(VmShared::default());
        let env = lua.create_table()?;
        env.set(
            "errtext",
            lua.create_function(|_, v: Value| {
                Ok(match v {
                    Value::Error(e) => {
                        let (text, is_table) = error_text(&e);
                        (text, is_table, api::needs_position(&e))
                    }
                    Value::String(s) => (s.to_string_lossy(), false, false),
                    other => (other.to_string().unwrap_or_default(), false, false),
                })
            })?,
        )?;
        env.set("redis", api::redis_table(&lua, &shared)?)?;
        env.set("cjson", super::libs::cjson::open(&lua)?)?;
        env.set("cmsgpack", super::libs::cmsgpack::open(&lua)?)?;
        env.set("struct", super::libs::structlib::open(&lua)?)?;
        env.set("bit", super::libs::bitop::open(&lua)?)?;
        let os = lua.create_table()?;
        let s = shared.clone();
        os.set(
            "clock",
            lua.create_function(move |_, ()| {
                api::note_nondeterministic(&s);
                Ok(process_cpu_seconds())
            })?,
        )?;
        env.set("os", os)?;
        // tostring, collectgarbage and gcinfo as Lua sees them, but noting that
        // the run showed an address or the collector's state (see `observing`).
        let observing = unsafe { lua.create_c_function(make_observing)? };
        let shared_ptr = mlua::LightUserData(Rc::as_ptr(&shared) as *mut std::ffi::c_void);
        let coroutine: Table = lua.globals().get("coroutine")?;
        for (i, name) in ["tostring", "collectgarbage", "gcinfo", "resume"].into_iter().enumerate() {
            let original: Function = if name == "resume" { coroutine.get(name)? } else { lua.globals().get(name)? };
            let wrapped: Function = observing.call((shared_ptr, original, i as i64))?;
            env.set(name, wrapped)?;
        }
        let s = shared.clone();
        env.set(
            "nondeterministic",
            lua.create_function(move |_, ()| {
                api::note_nondeterministic(&s);
                Ok(())
            })?,
        )?;
        let s = shared.clone();
        env.set("random", lua.create_function(move |lua, args: MultiValue| random(lua, &s, args))?)?;
        let s = shared.clone();
        env.set(
            "randomseed",
            lua.create_function(move |lua, args: MultiValue| {
                let seed = check_int(lua, &args, 1, "randomseed")?;
                let mut r = s.rand.get();
                r.seed(seed as i32);
                s.rand.set(r);
                Ok(())
            })?,
        )?;
        env.set("loadstring", lua.create_function(loadstring)?)?;
        // SAFETY: `unpack` follows the lua_CFunction contract (see its comment).
        env.set("unpack", unsafe { lua.create_c_function(unpack)? })?;
        guard_patterns(&lua)?;
        env.set("load", lua.create_function(load)?)?;
        let (runner, globals): (Function, Table) = lua.load(PRELUDE).set_name("=moonkv").call(env)?;
        lua.set_app_data(run);
        lua.set_app_data(shared.clone());
        lua.set_global_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), hook)?;
        let chunk_name = lua.create_string(SCRIPT_CHUNK_NAME)?;
        Ok(Vm { lua, runner, globals, shared, _chunk_name: chunk_name, memory_limit })
    }

    /// Compiles a script body (text only: a body starting with ESC is parsed as
    /// text and fails like any other bad token, CVE-2015-4335).
    pub fn compile(&self, code: &[u8]) -> Result<Function, String> {
        compile_text(&self.lua, code, SCRIPT_CHUNK_NAME)
    }

    /// Runs `f` under the message handler, with `lua-memory-limit` in force (and
    /// only then: see `Unlimited`).
    pub fn run(&self, f: &Function) -> mlua::Result<(bool, Value)> {
        let _ = self.lua.set_memory_limit(self.memory_limit);
        let result = self.runner.call::<(bool, Value)>(f);
        let _ = self.lua.set_memory_limit(0);
        result
    }

    /// Runs `f` under the message handler with no memory limit.
    pub fn run_unlimited(&self, f: &Function) -> mlua::Result<(bool, Value)> {
        self.runner.call::<(bool, Value)>(f)
    }

    /// The plain count hook with its count restarted (also after a kill switched it
    /// to every line).
    pub fn reset_hook(&self) {
        let _ = self.lua.set_global_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), hook);
    }

    /// A full collection (outside runs, where no limit is in force: Lua 5.1 has no
    /// emergency collection, so garbage a script left at the limit goes now).
    pub fn collect_garbage(&self) {
        let _ = self.lua.gc_collect();
    }

    /// Frees the VM after a full collection, so finalizers run while the state is
    /// still whole (CVE-2024-46981).
    pub fn close(self) {
        let _ = self.lua.gc_collect();
        drop(self);
    }
}

/// `os.clock()`: CPU time of the process, in seconds (C's `clock()`).
fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The count hook: raises the kill error once SCRIPT KILL was accepted (then on
/// every line, so `pcall` cannot keep the script alive), and marks the run as timed
/// out once it passes `busy-reply-threshold`.
fn hook(lua: &Lua, _: &mlua::Debug) -> mlua::Result<VmState> {
    let Some(run) = lua.app_data_ref::<Arc<ScriptRun>>() else { return Ok(VmState::Continue) };
    if run.kill_requested() {
        if !run.line_hook_set() {
            let _ = lua.set_global_hook(HookTriggers::EVERY_LINE.every_nth_instruction(HOOK_EVERY), hook);
        }
        return Err(api::table_error("Script killed by user with SCRIPT KILL..."));
    }
    run.check_timeout();
    if run.is_timed_out() {
        serve_while_busy(lua, &run);
    }
    Ok(VmState::Continue)
}

/// Runs the allow-busy commands other clients sent while the script is timed out.
fn serve_while_busy(lua: &Lua, run: &ScriptRun) {
    if !run.has_requests() {
        return;
    }
    let Some(shared) = lua.app_data_ref::<Rc<VmShared>>() else { return };
    let ctx = shared.run.get();
    if ctx.is_null() {
        return;
    }
    // SAFETY: as for `RunCtx::call`: the run context and the engine it points to
    // are live for the whole run, and only this thread touches them.
    let eng = unsafe { &mut *(*ctx).eng };
    run.serve_requests(eng);
}

/// Compiles `code` as text with chunk name `name`; the Lua message on failure.
pub fn compile_text(lua: &Lua, code: &[u8], name: &str) -> Result<Function, String> {
    // Anchor the name for the duration of the parse (CVE-2025-49844).
    let _anchor = lua.create_string(name).map_err(|e| error_text(&e).0)?;
    let src: std::borrow::Cow<[u8]> = if code.first() == Some(&0x1b) {
        // Lua 5.1 would undump a chunk starting with ESC; a leading space makes the
        // text parser see it (and refuse it: "unexpected symbol near 'char(27)'").
        let mut v = Vec::with_capacity(code.len() + 1);
        v.push(b' ');
        v.extend_from_slice(code);
        v.into()
    } else {
        code.into()
    };
    lua.load(&*src).set_name(name).set_mode(mlua::ChunkMode::Text).into_function().map_err(|e| match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => error_text(&other).0,
    })
}

/// A chunk name as a C string would see it (up to the first NUL), made valid UTF-8.
fn chunk_name(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::LightUserData(_)) => "userdata",
        Some(v) => v.type_name(),
    }
}

fn arg_error(lua: &Lua, n: usize, fname: &str, msg: &str) -> mlua::Error {
    lua_error(lua, &format!("bad argument #{n} to '{fname}' ({msg})"))
}

/// `luaL_checkint`: a number or numeric string, truncated to int.
fn check_int(lua: &Lua, args: &MultiValue, n: usize, fname: &str) -> mlua::Result<i64> {
    let v = args.get(n - 1);
    let d = match v {
        Some(Value::Number(d)) => Some(*d),
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::String(s)) => crate::util::num::parse_f64(&s.as_bytes()),
        _ => None,
    };
    match d {
        Some(d) => Ok(super::convert::x86_cast(d) as i32 as i64),
        None => Err(arg_error(lua, n, fname, &format!("number expected, got {}", type_name(v)))),
    }
}

/// `math.random([m [, n]])` on Redis's generator.
fn random(lua: &Lua, shared: &VmShared, args: MultiValue) -> mlua::Result<f64> {
    let mut g = shared.rand.get();
    let r = g.next_real();
    shared.rand.set(g);
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = check_int(lua, &args, 1, "random")?;
            if u < 1 {
                return Err(arg_error(lua, 1, "random", "interval is empty"));
            }
            Ok((r * u as f64).floor() + 1.0)
        }
        2 => {
            let l = check_int(lua, &args, 1, "random")?;
            let u = check_int(lua, &args, 2, "random")?;
            if l > u {
                return Err(arg_error(lua, 2, "random", "interval is empty"));
            }
            Ok((r * (u - l + 1) as f64).floor() + l as f64)
        }
        _ => Err(lua_error(lua, "wrong number of arguments")),
    }
}

fn string_arg(lua: &Lua, args: &MultiValue, n: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Number(_) | Value::Integer(_))) => {
            Ok(crate::util::num::format_g(super::convert::as_number(v).unwrap_or_default(), 14).into_bytes())
        }
        v => Err(arg_error(lua, n, fname, &format!("string expected, got {}", type_name(v)))),
    }
}

fn compiled(lua: &Lua, result: Result<Function, String>) -> mlua::Result<MultiValue> {
    Ok(match result {
        Ok(f) => MultiValue::from_iter([Value::Function(f)]),
        Err(msg) => MultiValue::from_iter([Value::Nil, Value::String(lua.create_string(msg)?)]),
    })
}

/// `unpack(t [, i [, j]])` (Lua's `luaB_unpack`) with overflow-safe range
/// arithmetic (CVE-2025-46817): the count is computed in 64 bits, so a range like
/// `1, 2^31-1` is "too many results" instead of wrapping. A C function, as in
/// Redis, so argument errors name the function and carry the caller's position.
unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    // luaL_optint / luaL_checkint: lua_Integer truncated to int.
    let i = ffi::luaL_optinteger(l, 2, 1) as c_int as i64;
    let e = if ffi::lua_type(l, 3) <= ffi::LUA_TNIL {
        ffi::lua_objlen(l, 1) as c_int as i64
    } else {
        ffi::luaL_checkinteger(l, 3) as c_int as i64
    };
    if i > e {
        return 0;
    }
    let n = e - i + 1;
    if n >= c_int::MAX as i64 || ffi::lua_checkstack(l, n as c_int) == 0 {
        return ffi::luaL_error(l, c"too many results to unpack".as_ptr());
    }
    for k in i..=e {
        ffi::lua_rawgeti_(l, 1, k as c_int);
    }
    n as c_int
}

/// `(shared, original, which) →` a C closure over both for `OBSERVING[which]`.
unsafe extern "C-unwind" fn make_observing(l: *mut ffi::lua_State) -> c_int {
    let which = ffi::lua_tointeger(l, 3) as usize;
    ffi::lua_settop(l, 2);
    ffi::lua_pushcclosure(l, OBSERVING[which], 2);
    1
}

/// Wrappers of library functions whose results depend on the VM's state rather
/// than on the script: `tostring` of a table, function, userdata or coroutine
/// (its address), `collectgarbage` and `gcinfo` (the collector's state), and
/// `coroutine.resume` when the coroutine ran out of memory. A run that sees such
/// a result reaches replicas as its effects (`api::note_nondeterministic`).
/// C functions, so their argument errors read as Lua's own.
const OBSERVING: [ffi::lua_CFunction; 4] = [observe_tostring, observe_collectgarbage, observe_gcinfo, observe_resume];

/// Calls the original (upvalue 2) with the arguments on the stack.
unsafe fn call_original(l: *mut ffi::lua_State, nondeterministic: bool) -> c_int {
    if nondeterministic {
        // SAFETY: upvalue 1 is the VM's `VmShared`, alive as long as the VM.
        api::note_nondeterministic(&*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const api::VmShared));
    }
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

unsafe extern "C-unwind" fn observe_tostring(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checkany(l, 1);
    ffi::lua_settop(l, 1);
    let t = ffi::lua_type(l, 1);
    call_original(l, matches!(t, ffi::LUA_TTABLE | ffi::LUA_TFUNCTION | ffi::LUA_TUSERDATA | ffi::LUA_TTHREAD))
}

unsafe extern "C-unwind" fn observe_collectgarbage(l: *mut ffi::lua_State) -> c_int {
    // Lua 5.1's own checks, so that errors name this function.
    let options = [
        c"stop".as_ptr(),
        c"restart".as_ptr(),
        c"collect".as_ptr(),
        c"count".as_ptr(),
        c"step".as_ptr(),
        c"setpause".as_ptr(),
        c"setstepmul".as_ptr(),
        std::ptr::null(),
    ];
    ffi::luaL_checkoption(l, 1, c"collect".as_ptr(), options.as_ptr());
    ffi::luaL_optinteger(l, 2, 0);
    call_original(l, true)
}

unsafe extern "C-unwind" fn observe_gcinfo(l: *mut ffi::lua_State) -> c_int {
    call_original(l, true)
}

unsafe extern "C-unwind" fn observe_resume(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_type(l, 1) != ffi::LUA_TTHREAD {
        return ffi::luaL_argerror(l, 1, c"coroutine expected".as_ptr());
    }
    let n = call_original(l, false);
    // `false, "not enough memory"`: the VM's state decided.
    if n >= 2 && ffi::lua_toboolean(l, 1) == 0 && ffi::lua_type(l, 2) == ffi::LUA_TSTRING {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, 2, &mut len);
        if std::slice::from_raw_parts(p.cast::<u8>(), len) == b"not enough memory" {
            api::note_nondeterministic(&*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const api::VmShared));
        }
    }
    n
}

/// Pattern items that make Lua 5.1's matcher recurse (`?`, `*`, `+`, `-`, `(`)
/// allowed in one pattern: it has no depth limit of its own, and a deep enough
/// pattern would overflow the thread's stack (32 MiB, set in main.rs).
const MAX_PATTERN_ITEMS: usize = 200_000;

/// Wraps `string.find/match/gmatch/gsub` to refuse patterns deep enough to
/// overflow the stack ("pattern too complex", Lua 5.2's text for its own limit).
fn guard_patterns(lua: &Lua) -> mlua::Result<()> {
    let string: Table = lua.globals().get("string")?;
    for name in ["find", "match", "gmatch", "gsub"] {
        let orig: Function = string.get(name)?;
        let guarded = lua.create_function(move |lua, args: MultiValue| {
            if let Some(Value::String(p)) = args.get(1) {
                let items = p.as_bytes().iter().filter(|c| matches!(c, b'?' | b'*' | b'+' | b'-' | b'(')).count();
                if items > MAX_PATTERN_ITEMS {
                    return Err(lua_error(lua, "pattern too complex"));
                }
            }
            orig.call::<MultiValue>(args).map_err(|e| {
                // Called from here, Lua cannot name the function nor place the
                // caller: put both back.
                let (text, is_table) = error_text(&e);
                if is_table {
                    return e;
                }
                lua_error(lua, &text.replace("to '?'", &format!("to '{name}'")))
            })
        })?;
        string.set(name, guarded)?;
    }
    Ok(())
}

/// `loadstring(s [, chunkname])`, text only.
fn loadstring(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let code = string_arg(lua, &args, 1, "loadstring")?;
    let name = match args.get(1) {
        None | Some(Value::Nil) => code.clone(),
        Some(_) => string_arg(lua, &args, 2, "loadstring")?,
    };
    compiled(lua, compile_text(lua, &code, &chunk_name(&name)))
}

/// `load(func [, chunkname])`: the pieces `func` returns, compiled as text.
fn load(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let Some(Value::Function(reader)) = args.front() else {
        return Err(arg_error(lua, 1, "load", &format!("function expected, got {}", type_name(args.front()))));
    };
    let name = match args.get(1) {
        None | Some(Value::Nil) => b"=(load)".to_vec(),
        Some(_) => string_arg(lua, &args, 2, "load")?,
    };
    let mut code = Vec::new();
    loop {
        match reader.call::<Value>(()) {
            Ok(Value::Nil) => break,
            Ok(Value::String(s)) if s.as_bytes().is_empty() => break,
            Ok(Value::String(s)) => code.extend_from_slice(&s.as_bytes()),
            Ok(_) => return compiled(lua, Err("reader function must return a string".into())),
            Err(e) => return compiled(lua, Err(error_text(&e).0)),
        }
    }
    compiled(lua, compile_text(lua, &code, &chunk_name(&name)))
}
