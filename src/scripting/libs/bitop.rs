//! The `bit` library (LuaBitOp 1.0.2 semantics) for the scripting engine, written from scratch.
//!
//! Every argument is normalised to a 32-bit integer the way LuaBitOp does it on Lua 5.1: the number
//! (strings are coerced like `lua_tonumber` does) is added to 2^52+2^51 and the low 32 bits of the
//! resulting double are taken, so fractions round to nearest-even and out-of-range values wrap.
//! Results are signed 32-bit numbers. `tohex` clamps the digit count to 8, uses upper case for a
//! negative count and treats `INT32_MIN` like `INT32_MIN + 1` (the CVE-2024-31449 fix).
//!
//! This file also hosts [`lauxlib`], the argument-checking helpers shared by the sibling libraries
//! (`cjson`, `cmsgpack`, `struct`): they reproduce the texts of Lua 5.1's `luaL_arg*`/`luaL_check*`
//! errors, including the function name Lua derives from the call site.
//!
//! Errors carry only the message; the `chunk:line:` prefix that `luaL_error` adds in C is
//! added by the sandbox's error handler (`scripting::api::LibError`).

use mlua::{Lua, MultiValue, Result, Table};

use self::lauxlib::{arg_error_typed, to_number};

/// Lua 5.1 auxiliary-library behaviour (argument checks, error texts, C numeric casts) shared by the
/// script libraries.
pub(crate) mod lauxlib {
    use mlua::{Error, Lua, MultiValue, Result, Table, Value};

    /// How many stack slots a C function may use in Lua 5.1 (`LUAI_MAXCSTACK`); the C libraries
    /// fail with "stack overflow (...)" when a `lua_checkstack` would exceed it.
    pub(crate) const MAX_C_STACK: usize = 8000;

    /// Upper bound on the Lua references (strings, tables) a single library call keeps alive in Rust
    /// at once. mlua panics when its reference stack (also bounded by `LUAI_MAXCSTACK`) runs out, so
    /// calls that would need more fail with the library's stack-overflow error instead.
    pub(crate) const MAX_HELD_REFS: usize = 4000;

    /// Upper bound on the number of values one library call returns. A C function may return up to
    /// `LUAI_MAXCSTACK` minus its argument count, but mlua needs some of those slots for itself
    /// (and fails with a less helpful error), so calls that would return more fail earlier with
    /// the library's stack-overflow error.
    pub(crate) const MAX_RESULTS: usize = 7500;

    /// Builds the error a library function raises with `luaL_error` (message only: the
    /// sandbox's error handler adds the caller's position, see `scripting::api::LibError`).
    pub(crate) fn runtime_error(msg: impl Into<String>) -> Error {
        Error::external(crate::scripting::api::LibError(msg.into()))
    }

    /// The type name `luaL_typename` reports for argument `v` (`None` is a missing argument).
    pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
        match v {
            None => "no value",
            Some(Value::Nil) => "nil",
            Some(Value::Boolean(_)) => "boolean",
            Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
            Some(Value::String(_)) => "string",
            Some(Value::Table(_)) => "table",
            Some(Value::Function(_)) => "function",
            Some(Value::Thread(_)) => "thread",
            Some(_) => "userdata",
        }
    }

    /// The error of `luaL_argerror(L, narg, extramsg)` raised by the running Rust function: the
    /// function name comes from the call site as in Lua ("?" when unknown) and method calls do not
    /// count `self`.
    pub(crate) fn arg_error(lua: &Lua, narg: i64, extramsg: &str) -> Error {
        let info = lua.inspect_stack(0, |d| {
            let names = d.names();
            (names.name.map(|n| n.into_owned()), names.name_what)
        });
        let Some((name, what)) = info else {
            return runtime_error(format!("bad argument #{narg} ({extramsg})"));
        };
        let name = name.unwrap_or_else(|| "?".to_string());
        let mut narg = narg;
        if what == Some("method") {
            narg -= 1;
            if narg == 0 {
                return runtime_error(format!("calling '{name}' on bad self ({extramsg})"));
            }
        }
        runtime_error(format!("bad argument #{narg} to '{name}' ({extramsg})"))
    }

    /// The error of `luaL_typerror`: "`expected` expected, got `<type of arg>`".
    pub(crate) fn arg_error_typed(lua: &Lua, args: &MultiValue, narg: usize, expected: &str) -> Error {
        let got = type_name(args.get(narg.wrapping_sub(1)));
        arg_error(lua, narg as i64, &format!("{expected} expected, got {got}"))
    }

    /// `lua_tonumber`: numbers as they are, strings converted by Lua's own rules, else `None`.
    pub(crate) fn to_number(lua: &Lua, v: Option<&Value>) -> Result<Option<f64>> {
        Ok(match v {
            Some(Value::Number(n)) => Some(*n),
            Some(Value::Integer(i)) => Some(*i as f64),
            Some(s @ Value::String(_)) => lua.coerce_number(s.clone())?,
            _ => None,
        })
    }

    /// `luaL_checknumber` for the 1-based argument `narg`.
    pub(crate) fn check_number(lua: &Lua, args: &MultiValue, narg: usize) -> Result<f64> {
        to_number(lua, args.get(narg - 1))?.ok_or_else(|| arg_error_typed(lua, args, narg, "number"))
    }

    /// `luaL_checkinteger`: the number truncated to `lua_Integer` like the C cast does.
    pub(crate) fn check_integer(lua: &Lua, args: &MultiValue, narg: usize) -> Result<i64> {
        check_number(lua, args, narg).map(double_to_i64)
    }

    /// `luaL_optinteger`: `def` when the argument is missing or nil.
    pub(crate) fn opt_integer(lua: &Lua, args: &MultiValue, narg: usize, def: i64) -> Result<i64> {
        match args.get(narg - 1) {
            None | Some(Value::Nil) => Ok(def),
            Some(_) => check_integer(lua, args, narg),
        }
    }

    /// `luaL_checklstring`: strings as they are, numbers converted like `lua_tolstring` ("%.14g").
    pub(crate) fn check_string(lua: &Lua, args: &MultiValue, narg: usize) -> Result<mlua::String> {
        match args.get(narg - 1) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => {
                lua.coerce_string(v.clone())?.ok_or_else(|| arg_error_typed(lua, args, narg, "string"))
            }
            _ => Err(arg_error_typed(lua, args, narg, "string")),
        }
    }

    /// 2^63 as a double.
    const TWO63: f64 = (1u64 << 63) as f64;

    /// The C conversion `(int64_t)d` as x86-64 performs it: truncation, and `INT64_MIN` for NaN and
    /// out-of-range values.
    pub(crate) fn double_to_i64(d: f64) -> i64 {
        if d.is_nan() || !(-TWO63..TWO63).contains(&d) {
            i64::MIN
        } else {
            d as i64
        }
    }

    /// The C conversion `(uint64_t)d` as x86-64 code generated by GCC performs it (values below 2^63,
    /// and NaN, go through the signed conversion; the rest are offset by 2^63 first).
    pub(crate) fn double_to_u64(d: f64) -> u64 {
        if d >= TWO63 {
            (double_to_i64(d - TWO63) as u64) ^ (1 << 63)
        } else {
            double_to_i64(d) as u64
        }
    }

    /// The C conversion `(int)d` as x86-64 performs it: truncation, and `INT32_MIN` for NaN and
    /// out-of-range values.
    pub(crate) fn double_to_i32(d: f64) -> i32 {
        if d.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&d) {
            i32::MIN
        } else {
            d as i32
        }
    }

    /// Appends `n` formatted with C's `%.<precision>g` (what Lua and lua-cjson use for numbers).
    pub(crate) fn push_number_g(out: &mut Vec<u8>, n: f64, precision: i32) {
        let mut buf = [0u8; 64];
        // SAFETY: the format takes exactly one int and one double, which are passed; snprintf writes
        // at most `buf.len()` bytes including the terminating NUL.
        let len = unsafe {
            libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.*g".as_ptr(), precision as libc::c_int, n)
        };
        let len = usize::try_from(len).unwrap_or(0).min(buf.len() - 1);
        out.extend_from_slice(&buf[..len]);
    }

    /// A stack of Lua values (open tables and pending keys of a decoder) that holds at most a fixed
    /// number of Lua references in Rust and keeps deeper entries inside one Lua table, so arbitrarily
    /// deep input cannot exhaust mlua's reference stack.
    pub(crate) struct SpillStack {
        held: Vec<Value>,
        spill: Option<Table>,
        len: usize,
    }

    impl SpillStack {
        /// Entries kept as Rust values before spilling into the Lua table.
        const HELD: usize = 256;

        /// An empty stack.
        pub(crate) fn new() -> Self {
            SpillStack { held: Vec::new(), spill: None, len: 0 }
        }

        /// How many entries are held as Lua references in Rust (the rest live in the spill table).
        pub(crate) fn held_refs(&self) -> usize {
            self.held.len()
        }

        /// Pushes `v`.
        pub(crate) fn push(&mut self, lua: &Lua, v: Value) -> Result<()> {
            if self.len < Self::HELD {
                self.held.push(v);
            } else {
                let spill = match &self.spill {
                    Some(t) => t,
                    None => self.spill.insert(lua.create_table()?),
                };
                spill.raw_set(self.len + 1, v)?;
            }
            self.len += 1;
            Ok(())
        }

        /// Removes and returns the top entry (nil when empty).
        pub(crate) fn pop(&mut self) -> Result<Value> {
            if self.len == 0 {
                return Ok(Value::Nil);
            }
            let v = if self.len <= Self::HELD {
                self.held.pop().unwrap_or(Value::Nil)
            } else {
                match &self.spill {
                    Some(spill) => {
                        let v: Value = spill.raw_get(self.len)?;
                        spill.raw_set(self.len, Value::Nil)?;
                        v
                    }
                    None => Value::Nil,
                }
            };
            self.len -= 1;
            Ok(v)
        }

        /// Sets `key = value` in the table on top (decoders only call this when a table is on top).
        pub(crate) fn set_in_top(&self, key: Value, value: Value) -> Result<()> {
            if self.len == 0 {
                return Err(runtime_error("internal error: no open table"));
            }
            if self.len <= Self::HELD {
                if let Some(Value::Table(t)) = self.held.last() {
                    return t.raw_set(key, value);
                }
            } else if let Some(spill) = &self.spill {
                if let Value::Table(t) = spill.raw_get::<Value>(self.len)? {
                    return t.raw_set(key, value);
                }
            }
            Err(runtime_error("internal error: no open table"))
        }
    }

    impl Default for SpillStack {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Helpers shared by the libraries' unit tests: a Lua serialiser (identical to the one used to
    /// collect the expected values from redis-server 7.0) and a protected call that returns the
    /// library's error text the way `pcall` does in Redis.
    #[cfg(test)]
    pub(crate) mod testing {
        use mlua::{Error, Function, Lua, MultiValue, Value};

        const PRELUDE: &str = r#"
local function ser(v, depth)
  local t = type(v)
  if t == 'string' then
    return '"' .. v:gsub('.', function(c) local b = c:byte() if b < 32 or b > 126 or c == '"' or c == '\\' then return string.format('\\x%02x', b) end end) .. '"'
  elseif t == 'number' then
    return string.format('%.17g', v)
  elseif t == 'table' then
    if depth > 20 then return '{...}' end
    local items = {}
    for k, x in pairs(v) do items[#items + 1] = '[' .. ser(k, depth + 1) .. ']=' .. ser(x, depth + 1) end
    table.sort(items)
    return '{' .. table.concat(items, ',') .. '}'
  elseif v == cjson.null then
    return 'null'
  elseif t == 'nil' or t == 'boolean' then
    return tostring(v)
  else
    return '<' .. t .. '>'
  end
end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function dumpall(...)
  local out = {}
  for i = 1, select('#', ...) do out[i] = ser((select(i, ...)), 0) end
  return table.concat(out, ', ')
end
"#;

        fn root_message(e: &Error) -> String {
            crate::scripting::api::error_text(e).0
        }

        /// A Lua state with all four libraries registered as globals and `tpcall`.
        pub(crate) fn state() -> Lua {
            let lua = Lua::new();
            let g = lua.globals();
            g.set("bit", super::super::open(&lua).expect("bit")).expect("set");
            g.set("cjson", super::super::super::cjson::open(&lua).expect("cjson")).expect("set");
            g.set("cmsgpack", super::super::super::cmsgpack::open(&lua).expect("cmsgpack")).expect("set");
            g.set("struct", super::super::super::structlib::open(&lua).expect("struct")).expect("set");
            let tpcall = lua
                .create_function(|lua, (f, args): (Function, MultiValue)| {
                    let mut out = MultiValue::new();
                    match f.call::<MultiValue>(args) {
                        Ok(vals) => {
                            out.push_back(Value::Boolean(true));
                            out.extend(vals);
                        }
                        Err(e) => {
                            out.push_back(Value::Boolean(false));
                            out.push_back(Value::String(lua.create_string(root_message(&e))?));
                        }
                    }
                    Ok(out)
                })
                .expect("tpcall");
            g.set("tpcall", tpcall.clone()).expect("set");
            g.set("pcall", tpcall).expect("set");
            lua
        }

        /// Runs `body` (a Lua function body) protected and serialises `ok, results...`.
        pub(crate) fn run(body: &str) -> String {
            let lua = state();
            let chunk = format!("{PRELUDE}\nreturn dumpall(tpcall(function() {body} end))");
            lua.load(chunk).eval::<String>().unwrap_or_else(|e| format!("harness error: {e}"))
        }

        /// Checks every `(body, expected)` pair, reporting all mismatches at once.
        pub(crate) fn check_all(cases: &[(&str, &str)]) {
            let mut failures = Vec::new();
            for (body, expected) in cases {
                let got = run(body);
                if got != *expected {
                    failures.push(format!("case: {body}\n  expected: {expected}\n  got:      {got}"));
                }
            }
            assert!(
                failures.is_empty(),
                "{} of {} cases failed:\n{}",
                failures.len(),
                cases.len(),
                failures.join("\n")
            );
        }
    }
}

/// Normalises argument `narg` to 32 bits like LuaBitOp's `barg` (2^52+2^51 rounding trick).
fn barg(lua: &Lua, args: &MultiValue, narg: usize) -> Result<u32> {
    match to_number(lua, args.get(narg - 1))? {
        Some(n) => Ok((n + 6_755_399_441_055_744.0).to_bits() as u32),
        None => Err(arg_error_typed(lua, args, narg, "number")),
    }
}

fn ret(b: u32) -> Result<f64> {
    Ok(f64::from(b as i32))
}

fn tobit(lua: &Lua, args: MultiValue) -> Result<f64> {
    ret(barg(lua, &args, 1)?)
}

fn bnot(lua: &Lua, args: MultiValue) -> Result<f64> {
    ret(!barg(lua, &args, 1)?)
}

/// Folds arguments 1..n with `op`, checking them in LuaBitOp's order (1, then n down to 2).
fn fold(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> Result<f64> {
    let mut b = barg(lua, args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(lua, args, i)?);
    }
    ret(b)
}

fn band(lua: &Lua, args: MultiValue) -> Result<f64> {
    fold(lua, &args, |a, b| a & b)
}

fn bor(lua: &Lua, args: MultiValue) -> Result<f64> {
    fold(lua, &args, |a, b| a | b)
}

fn bxor(lua: &Lua, args: MultiValue) -> Result<f64> {
    fold(lua, &args, |a, b| a ^ b)
}

/// Applies a shift/rotate: the count is argument 2 taken modulo 32.
fn shift(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> Result<f64> {
    let b = barg(lua, args, 1)?;
    let n = barg(lua, args, 2)? & 31;
    ret(op(b, n))
}

fn lshift(lua: &Lua, args: MultiValue) -> Result<f64> {
    shift(lua, &args, |b, n| b << n)
}

fn rshift(lua: &Lua, args: MultiValue) -> Result<f64> {
    shift(lua, &args, |b, n| b >> n)
}

fn arshift(lua: &Lua, args: MultiValue) -> Result<f64> {
    shift(lua, &args, |b, n| ((b as i32) >> n) as u32)
}

fn rol(lua: &Lua, args: MultiValue) -> Result<f64> {
    shift(lua, &args, |b, n| b.rotate_left(n))
}

fn ror(lua: &Lua, args: MultiValue) -> Result<f64> {
    shift(lua, &args, |b, n| b.rotate_right(n))
}

fn bswap(lua: &Lua, args: MultiValue) -> Result<f64> {
    ret(barg(lua, &args, 1)?.swap_bytes())
}

fn tohex(lua: &Lua, args: MultiValue) -> Result<mlua::String> {
    let mut b = barg(lua, &args, 1)?;
    let mut n = if args.len() < 2 { 8 } else { barg(lua, &args, 2)? as i32 };
    // `-INT32_MIN` overflows; LuaBitOp 1.0.3 (and Redis) treat it as INT32_MIN + 1.
    if n == i32::MIN {
        n = i32::MIN + 1;
    }
    let digits: &[u8; 16] = if n < 0 { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let n = n.unsigned_abs().min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    lua.create_string(&buf[..n])
}

/// Builds the `bit` library table.
pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.set("tobit", lua.create_function(tobit)?)?;
    t.set("bnot", lua.create_function(bnot)?)?;
    t.set("band", lua.create_function(band)?)?;
    t.set("bor", lua.create_function(bor)?)?;
    t.set("bxor", lua.create_function(bxor)?)?;
    t.set("lshift", lua.create_function(lshift)?)?;
    t.set("rshift", lua.create_function(rshift)?)?;
    t.set("arshift", lua.create_function(arshift)?)?;
    t.set("rol", lua.create_function(rol)?)?;
    t.set("ror", lua.create_function(ror)?)?;
    t.set("bswap", lua.create_function(bswap)?)?;
    t.set("tohex", lua.create_function(tohex)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::lauxlib::testing::check_all;

    // Expected values were produced by redis-server 7.0.15 running the same snippets.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(2^53), bit.tobit(0/0), bit.tobit(1/0)"##,
            r##"true, -1, 5, -1, 2, 2, -2, 0, 0, 0"##,
        ),
        (
            r##"return bit.tobit("10"), bit.tobit("0x10"), bit.tobit(" 12 "), bit.tobit("1e3")"##,
            r##"true, 10, 16, 12, 1000"##,
        ),
        (r##"return bit.tobit("abc")"##, r##"false, "bad argument #1 to 'tobit' (number expected, got string)""##),
        (r##"return bit.tobit()"##, r##"false, "bad argument #1 to 'tobit' (number expected, got no value)""##),
        (r##"return bit.tobit(nil)"##, r##"false, "bad argument #1 to 'tobit' (number expected, got nil)""##),
        (r##"return bit.tobit({})"##, r##"false, "bad argument #1 to 'tobit' (number expected, got table)""##),
        (r##"return bit.tobit(true)"##, r##"false, "bad argument #1 to 'tobit' (number expected, got boolean)""##),
        (
            r##"return bit.tobit(cjson.null)"##,
            r##"false, "bad argument #1 to 'tobit' (number expected, got userdata)""##,
        ),
        (r##"return bit.tobit(type)"##, r##"false, "bad argument #1 to 'tobit' (number expected, got function)""##),
        (r##"return bit.bnot(0), bit.bnot(-1), bit.bnot(0x12345678)"##, r##"true, -1, 0, -305419897"##),
        (r##"return bit.band(0xff, 0x0f), bit.band(-1, 3, 5), bit.band(7)"##, r##"true, 15, 1, 7"##),
        (
            r##"return bit.bor(1, 2, 4, 8), bit.bxor(0xf0, 0xff), bit.bxor(1), bit.bor(0x80000000, 0)"##,
            r##"true, 15, 15, 1, -2147483648"##,
        ),
        (r##"return bit.band()"##, r##"false, "bad argument #1 to 'band' (number expected, got no value)""##),
        (r##"return bit.band(1, "a", "b")"##, r##"false, "bad argument #3 to 'band' (number expected, got string)""##),
        (r##"return bit.bor(1, 2, {})"##, r##"false, "bad argument #3 to 'bor' (number expected, got table)""##),
        (
            r##"return bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(1, -1), bit.rshift(-1, 28), bit.rshift(-1, 0), bit.arshift(-256, 4), bit.arshift(0x80000000, 31)"##,
            r##"true, -2147483648, 1, 2, -2147483648, 15, -1, -16, -1"##,
        ),
        (
            r##"return bit.rol(0x12345678, 4), bit.ror(0x12345678, 4), bit.rol(1, 32), bit.ror(1, 1), bit.rol(-1, 7)"##,
            r##"true, 591751041, -2128394905, 1, -2147483648, -1"##,
        ),
        (r##"return bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(0xff)"##, r##"true, 2018915346, -1, -16777216"##),
        (
            r##"return bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -2), bit.tohex(0x12345678, 12), bit.tohex(0x12345678, -12), bit.tohex(1, 0)"##,
            r##"true, "000000ff", "ffffffff", "ff", "FF", "12345678", "12345678", """##,
        ),
        (
            r##"return bit.tohex(0xabcdef, -2147483648), bit.tohex(0xabcdef, 2147483647), bit.tohex(0xabcdef, 2^31), bit.tohex(0xabcdef, -2^31-1)"##,
            r##"true, "00ABCDEF", "00abcdef", "00ABCDEF", "00abcdef""##,
        ),
        (r##"return bit.tohex(1, nil)"##, r##"false, "bad argument #2 to 'tohex' (number expected, got nil)""##),
        (r##"return bit.tohex(1, "x")"##, r##"false, "bad argument #2 to 'tohex' (number expected, got string)""##),
        (r##"return bit.lshift(1)"##, r##"false, "bad argument #2 to 'lshift' (number expected, got no value)""##),
        (r##"return bit.lshift()"##, r##"false, "bad argument #1 to 'lshift' (number expected, got no value)""##),
        (
            r##"return bit.tobit(2^31), bit.tobit(-2^31), bit.tobit(2^31-1), bit.tobit(3000000000.7)"##,
            r##"true, -2147483648, -2147483648, 2147483647, -1294967295"##,
        ),
        (
            r##"return bit.tobit(6755399441055744), bit.tobit(2^52+2^51+3), bit.tobit(-0.5), bit.tobit(0.5), bit.tobit(-2^63)"##,
            r##"true, 0, 2, 0, 0, 0"##,
        ),
        (r##"return bit.bnot("5"), bit.band("3", "5"), bit.lshift("1", "4")"##, r##"true, -6, 1, 16"##),
        (r##"return bit.tohex("255", "-4")"##, r##"true, "00FF""##),
        (
            r##"local t = {} for k, v in pairs(bit) do t[#t+1] = k end table.sort(t) return table.concat(t, ",")"##,
            r##"true, "arshift,band,bnot,bor,bswap,bxor,lshift,rol,ror,rshift,tobit,tohex""##,
        ),
        (
            r##"local f = bit.tohex return f("x")"##,
            r##"false, "bad argument #1 to 'f' (number expected, got string)""##,
        ),
        (r##"return bit.tohex("x", 1)"##, r##"false, "bad argument #1 to 'tohex' (number expected, got string)""##),
        (r##"return bit:tohex()"##, r##"false, "calling 'tohex' on bad self (number expected, got table)""##),
        (r##"return bit.tobit(-0)"##, r##"true, 0"##),
        (
            r##"return bit.rshift(0x80000000, 1), bit.arshift(0x80000000, 1), bit.rol(0x80000001, 1), bit.lshift(3, 30)"##,
            r##"true, 1073741824, -1073741824, 3, -1073741824"##,
        ),
        (
            r##"return coroutine.wrap(function() return pcall(bit.tohex, {}) end)()"##,
            r##"true, false, "bad argument #1 to '?' (number expected, got table)""##,
        ),
        (
            r##"return coroutine.wrap(function() return bit.tohex(1, 2, 3), bit.band(1, 3, 7, 15) end)()"##,
            r##"true, "01", 1"##,
        ),
        (r##"return bit.bxor(), 1"##, r##"false, "bad argument #1 to 'bxor' (number expected, got no value)""##),
        (
            r##"return bit.tohex(-1, -8), bit.tohex(0xdeadbeef, 4), bit.tohex(0xdeadbeef, -9), bit.tohex(7, 1)"##,
            r##"true, "FFFFFFFF", "beef", "DEADBEEF", "7""##,
        ),
        (
            r##"return bit.rol(0x12345678, -4), bit.ror(0x12345678, 36), bit.arshift(-1, 40), bit.rshift(0xf0, 2.5)"##,
            r##"true, -2128394905, -2128394905, -1, 60"##,
        ),
    ];

    #[test]
    fn matches_redis() {
        check_all(CASES);
    }
}
