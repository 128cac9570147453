//! The `cmsgpack` library (lua-cmsgpack 0.4.0 as embedded in Redis 7.0) for the scripting engine,
//! written from scratch: `pack(...)`, `unpack(s)`, `unpack_one(s [, offset])`,
//! `unpack_limit(s, limit [, offset])`.
//!
//! Encoding follows the C library: integral numbers use the smallest MessagePack integer encoding,
//! other numbers float 32 when that is lossless and float 64 otherwise; strings use fixstr/str8/
//! str16/str32; a table whose keys are exactly 1..n is an array, anything else a map (in `next`
//! order); tables nested 16 levels deep are encoded as nil; other types (functions, userdata,
//! threads) become nil. Decoding supports the same formats (no bin or ext types: "Bad data format
//! in input."), reads are bounds-checked (CVE-2018-11218), and the Lua stack limits of the C code
//! are reproduced, including its "stack overflow (...)" errors for deep nesting.
//!
//! Deliberate differences: errors carry only the message (no `chunk:line:` prefix), and a single
//! unpack call returns at most `MAX_RESULTS` values and `MAX_HELD_REFS` strings/tables; beyond that
//! it raises the C library's "too many return values" error even where C would still succeed.

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::bitop::lauxlib::{
    arg_error, check_integer, check_string, double_to_i32, double_to_i64, opt_integer, runtime_error, SpillStack,
    MAX_C_STACK, MAX_HELD_REFS, MAX_RESULTS,
};

/// Tables nested this deep are encoded as nil.
const MAX_NESTING: usize = 16;

const TOO_MANY_VALUES: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

/// The error `luaL_checkstack` raises with message `what`.
fn stack_overflow(what: &str) -> mlua::Error {
    runtime_error(format!("stack overflow ({what})"))
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    let i = double_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(out, i);
    } else {
        let f = n as f32;
        if f64::from(f) == n {
            out.push(0xca);
            out.extend_from_slice(&f.to_be_bytes());
        } else {
            out.push(0xcb);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Appends a container header: `fix` | n for n < 16, else the 16-bit or 32-bit form.
fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, wide: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// `Some(n)` when the table's keys are exactly 1..n (every key a positive integer fitting an int).
fn array_length(t: &Table) -> Result<Option<usize>> {
    let (mut count, mut max) = (0i64, 0i64);
    let mut is_array = true;
    // Values are read as booleans so that no Lua reference is created for them.
    let walk = t.for_each::<Value, bool>(|k, _| {
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => 0.0,
        };
        if n <= 0.0 || n.is_infinite() || f64::from(double_to_i32(n)) != n {
            is_array = false;
            // Stops the walk; the error itself is discarded below.
            return Err(mlua::Error::RuntimeError(String::new()));
        }
        max = max.max(n as i64);
        count += 1;
        Ok(())
    });
    if !is_array {
        return Ok(None);
    }
    walk?;
    Ok((max == count).then_some(count as usize))
}

/// Encodes `v`; `slots` is the number of Lua stack slots the C code would be using with `v` on top.
fn encode_value(out: &mut Vec<u8>, v: &Value, level: usize, slots: usize) -> Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if slots + 2 > MAX_C_STACK {
                return Err(stack_overflow("in function table_is_an_array"));
            }
            if let Some(len) = array_length(t)? {
                encode_header(out, len, 0x90, 0xdc);
                if slots + 1 > MAX_C_STACK {
                    return Err(stack_overflow("in function mp_encode_lua_table_as_array"));
                }
                for j in 1..=len {
                    let item: Value = t.raw_get(j)?;
                    encode_value(out, &item, level + 1, slots + 1)?;
                }
            } else {
                if slots + 3 > MAX_C_STACK {
                    return Err(stack_overflow("in function mp_encode_lua_table_as_map"));
                }
                let mut count = 0;
                t.for_each::<bool, bool>(|_, _| {
                    count += 1;
                    Ok(())
                })?;
                encode_header(out, count, 0x80, 0xde);
                t.for_each::<Value, Value>(|k, v| {
                    encode_value(out, &k, level + 1, slots + 3)?;
                    encode_value(out, &v, level + 1, slots + 2)
                })?;
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: MultiValue) -> Result<mlua::String> {
    let nargs = args.len();
    if nargs == 0 {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    if 2 * nargs > MAX_C_STACK {
        return Err(arg_error(lua, 0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for (i, v) in args.iter().enumerate() {
        // Each argument's encoding stays on the stack until the final concatenation.
        let slots = nargs + i;
        if slots + 1 > MAX_C_STACK {
            return Err(stack_overflow("in function mp_check"));
        }
        encode_value(&mut out, v, 0, slots + 1)?;
    }
    lua.create_string(&out)
}

/// Why decoding stopped early without a Lua error.
enum Stop {
    Eof,
    BadFormat,
}

/// An open container while decoding: `base` is the stack depth when it started.
enum Frame {
    Array { remaining: u64, index: i64, base: usize },
    Map { remaining: u64, have_key: bool, base: usize },
}

/// Kind of value a header byte announces.
enum Item {
    Value(Value),
    Array(u64),
    Map(u64),
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The `n` bytes after the current header byte, if present.
    fn field(&self, n: usize) -> std::result::Result<&[u8], Stop> {
        if self.left() < 1 + n {
            return Err(Stop::Eof);
        }
        Ok(&self.data[self.pos + 1..self.pos + 1 + n])
    }

    fn be(&self, n: usize) -> std::result::Result<u64, Stop> {
        Ok(self.field(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A string whose length field has `n` bytes (0: fixstr, length in the header byte).
    fn string(&mut self, lua: &Lua, n: usize) -> Result<std::result::Result<Item, Stop>> {
        let len = match self.be(n) {
            Ok(_) if n == 0 => usize::from(self.data[self.pos] & 0x1f),
            Ok(len) => len as usize,
            Err(stop) => return Ok(Err(stop)),
        };
        if self.left() - 1 - n < len {
            return Ok(Err(Stop::Eof));
        }
        let start = self.pos + 1 + n;
        let s = lua.create_string(&self.data[start..start + len])?;
        self.pos = start + len;
        Ok(Ok(Item::Value(Value::String(s))))
    }

    /// Reads one header (and the whole value for scalars).
    fn item(&mut self, lua: &Lua) -> Result<std::result::Result<Item, Stop>> {
        let b = self.data[self.pos];
        let num = |v: f64| Item::Value(Value::Number(v));
        let (item, size) = match b {
            0xc0 => (Item::Value(Value::Nil), 1),
            0xc2 => (Item::Value(Value::Boolean(false)), 1),
            0xc3 => (Item::Value(Value::Boolean(true)), 1),
            0xcc..=0xcf => {
                let n = 1 << (b - 0xcc);
                match self.be(n) {
                    // Pushed as a `lua_Integer`, so values of 2^63 and more wrap to negative.
                    Ok(v) => (num(v as i64 as f64), 1 + n),
                    Err(stop) => return Ok(Err(stop)),
                }
            }
            0xd0..=0xd3 => {
                let n = 1 << (b - 0xd0);
                match self.be(n) {
                    // Sign-extend the big-endian field.
                    Ok(v) => (num(((v << (64 - 8 * n)) as i64 >> (64 - 8 * n)) as f64), 1 + n),
                    Err(stop) => return Ok(Err(stop)),
                }
            }
            0xca => match self.be(4) {
                Ok(v) => (num(f64::from(f32::from_bits(v as u32))), 5),
                Err(stop) => return Ok(Err(stop)),
            },
            0xcb => match self.be(8) {
                Ok(v) => (num(f64::from_bits(v)), 9),
                Err(stop) => return Ok(Err(stop)),
            },
            0xd9 => return self.string(lua, 1),
            0xda => return self.string(lua, 2),
            0xdb => return self.string(lua, 4),
            0xdc..=0xdf => {
                let n = if b & 1 == 0 { 2 } else { 4 };
                match self.be(n) {
                    Ok(len) if b <= 0xdd => (Item::Array(len), 1 + n),
                    Ok(len) => (Item::Map(len), 1 + n),
                    Err(stop) => return Ok(Err(stop)),
                }
            }
            0x00..=0x7f => (num(f64::from(b)), 1),
            0xe0..=0xff => (num(f64::from(b as i8)), 1),
            0xa0..=0xbf => return self.string(lua, 0),
            0x90..=0x9f => (Item::Array(u64::from(b & 0xf)), 1),
            0x80..=0x8f => (Item::Map(u64::from(b & 0xf)), 1),
            _ => return Ok(Err(Stop::BadFormat)),
        };
        if self.left() < size {
            return Ok(Err(Stop::Eof));
        }
        self.pos += size;
        Ok(Ok(item))
    }

    /// Decodes one top-level value; `slots` is the stack depth before it and `refs` the number of
    /// Lua references already held by the caller.
    fn value(&mut self, lua: &Lua, slots: usize, refs: usize) -> Result<std::result::Result<Value, Stop>> {
        let mut frames: Vec<Frame> = Vec::new();
        let mut open = SpillStack::new();
        let mut slots = slots;
        loop {
            if self.left() < 1 {
                return Ok(Err(Stop::Eof));
            }
            if slots + 1 > MAX_C_STACK || refs + open.held_refs() > MAX_HELD_REFS {
                return Err(runtime_error(TOO_MANY_VALUES));
            }
            let mut value = match self.item(lua)? {
                Err(stop) => return Ok(Err(stop)),
                Ok(Item::Value(v)) => v,
                Ok(Item::Array(len)) => {
                    let t = lua.create_table()?;
                    if slots + 2 > MAX_C_STACK {
                        return Err(stack_overflow("in function mp_decode_to_lua_array"));
                    }
                    if len == 0 {
                        Value::Table(t)
                    } else {
                        open.push(lua, Value::Table(t))?;
                        frames.push(Frame::Array { remaining: len, index: 1, base: slots });
                        slots += 2;
                        continue;
                    }
                }
                Ok(Item::Map(len)) => {
                    let t = lua.create_table()?;
                    if len == 0 {
                        Value::Table(t)
                    } else {
                        open.push(lua, Value::Table(t))?;
                        frames.push(Frame::Map { remaining: len, have_key: false, base: slots });
                        slots += 1;
                        continue;
                    }
                }
            };
            // Store the finished value in its container, closing containers that become complete.
            loop {
                match frames.last_mut() {
                    None => return Ok(Ok(value)),
                    Some(Frame::Array { remaining, index, base }) => {
                        open.set_in_top(Value::Number(*index as f64), value)?;
                        *remaining -= 1;
                        *index += 1;
                        if *remaining > 0 {
                            slots = *base + 2;
                            break;
                        }
                    }
                    Some(Frame::Map { remaining, have_key, base }) => {
                        if !*have_key {
                            open.push(lua, value)?;
                            *have_key = true;
                            slots = *base + 2;
                            break;
                        }
                        let key = open.pop()?;
                        match key {
                            Value::Nil => return Err(runtime_error("table index is nil")),
                            Value::Number(n) if n.is_nan() => return Err(runtime_error("table index is NaN")),
                            _ => {}
                        }
                        open.set_in_top(key, value)?;
                        *have_key = false;
                        *remaining -= 1;
                        if *remaining > 0 {
                            slots = *base + 1;
                            break;
                        }
                    }
                }
                // The innermost container is complete: it becomes the value for its parent (whose
                // branch above sets `slots` for whatever is decoded next).
                frames.pop();
                value = open.pop()?;
            }
        }
    }
}

/// Shared body of the unpack functions (`mp_unpack_full`); `base` is the number of stack slots the
/// C function holds besides the results.
fn unpack_full(lua: &Lua, args: &MultiValue, limit: i64, offset: i64, base: usize) -> Result<MultiValue> {
    let s = check_string(lua, args, 1)?;
    let data = s.as_bytes();
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(runtime_error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(runtime_error(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i64::from(i32::MAX) } else { limit };
    let mut dec = Decoder { data: &data, pos: offset as usize };
    let mut results: Vec<Value> = Vec::new();
    let mut refs = 0;
    let extra = usize::from(!decode_all);
    while dec.left() > 0 && (results.len() as i64) < limit {
        if results.len() + 1 + extra > MAX_RESULTS {
            return Err(runtime_error(TOO_MANY_VALUES));
        }
        match dec.value(lua, base + results.len(), refs)? {
            Ok(v) => {
                refs += usize::from(matches!(v, Value::String(_) | Value::Table(_)));
                results.push(v);
            }
            Err(Stop::Eof) => return Err(runtime_error("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(runtime_error("Bad data format in input.")),
        }
    }
    let mut out = MultiValue::new();
    if !decode_all {
        if base + results.len() + 1 > MAX_C_STACK {
            return Err(stack_overflow("in function mp_unpack_full"));
        }
        let next = if dec.left() == 0 { -1.0 } else { dec.pos as f64 };
        out.push_back(Value::Number(next));
    }
    out.extend(results);
    Ok(out)
}

fn unpack(lua: &Lua, args: MultiValue) -> Result<MultiValue> {
    unpack_full(lua, &args, 0, 0, args.len())
}

fn unpack_one(lua: &Lua, args: MultiValue) -> Result<MultiValue> {
    let offset = opt_integer(lua, &args, 2, 0)?;
    unpack_full(lua, &args, 1, offset, 1)
}

fn unpack_limit(lua: &Lua, args: MultiValue) -> Result<MultiValue> {
    let limit = check_integer(lua, &args, 2)?;
    let offset = opt_integer(lua, &args, 3, 0)?;
    unpack_full(lua, &args, limit, offset, 1)
}

/// Builds the `cmsgpack` library table.
pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("unpack_one", lua.create_function(unpack_one)?)?;
    t.set("unpack_limit", lua.create_function(unpack_limit)?)?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::bitop::lauxlib::testing::check_all;

    // Expected values were produced by redis-server 7.0.15 running the same snippets.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return hex(cmsgpack.pack(0)), hex(cmsgpack.pack(127)), hex(cmsgpack.pack(128)), hex(cmsgpack.pack(255)), hex(cmsgpack.pack(256)), hex(cmsgpack.pack(65535)), hex(cmsgpack.pack(65536)), hex(cmsgpack.pack(2^32-1)), hex(cmsgpack.pack(2^32)), hex(cmsgpack.pack(2^53))"##,
            r##"true, "00", "7f", "cc80", "ccff", "cd0100", "cdffff", "ce00010000", "ceffffffff", "cf0000000100000000", "cf0020000000000000""##,
        ),
        (
            r##"return hex(cmsgpack.pack(-1)), hex(cmsgpack.pack(-32)), hex(cmsgpack.pack(-33)), hex(cmsgpack.pack(-128)), hex(cmsgpack.pack(-129)), hex(cmsgpack.pack(-32768)), hex(cmsgpack.pack(-32769)), hex(cmsgpack.pack(-2^31)), hex(cmsgpack.pack(-2^31-1)), hex(cmsgpack.pack(-2^63))"##,
            r##"true, "ff", "e0", "d0df", "d080", "d1ff7f", "d18000", "d2ffff7fff", "d280000000", "d3ffffffff7fffffff", "d38000000000000000""##,
        ),
        (
            r##"return hex(cmsgpack.pack(1.5)), hex(cmsgpack.pack(0.1)), hex(cmsgpack.pack(-0.0)), hex(cmsgpack.pack(1/0)), hex(cmsgpack.pack(-1/0)), hex(cmsgpack.pack(0/0)), hex(cmsgpack.pack(2^63)), hex(cmsgpack.pack(2^64)), hex(cmsgpack.pack(1e300))"##,
            r##"true, "ca3fc00000", "cb3fb999999999999a", "00", "caff800000", "ca7f800000", "cbfff8000000000000", "ca5f000000", "ca5f800000", "cb7e37e43c8800759c""##,
        ),
        (
            r##"return hex(cmsgpack.pack('')), hex(cmsgpack.pack('abc')), hex(cmsgpack.pack(string.rep('a', 31))):sub(1, 4), hex(cmsgpack.pack(string.rep('a', 32))):sub(1, 6), hex(cmsgpack.pack(string.rep('a', 255))):sub(1, 6), hex(cmsgpack.pack(string.rep('a', 256))):sub(1, 8), hex(cmsgpack.pack(string.rep('a', 65535))):sub(1, 8), hex(cmsgpack.pack(string.rep('a', 65536))):sub(1, 12)"##,
            r##"true, "a0", "a3616263", "bf61", "d92061", "d9ff61", "da010061", "daffff61", "db0001000061""##,
        ),
        (
            r##"return hex(cmsgpack.pack(true)), hex(cmsgpack.pack(false)), hex(cmsgpack.pack(nil)), hex(cmsgpack.pack(type)), hex(cmsgpack.pack(cjson.null)), hex(cmsgpack.pack(coroutine.create(function() end)))"##,
            r##"true, "c3", "c2", "c0", "c0", "c0", "c0""##,
        ),
        (
            r##"return hex(cmsgpack.pack({})), hex(cmsgpack.pack({1,2,3})), hex(cmsgpack.pack({a=1})), hex(cmsgpack.pack({[1]=1,[3]=3})), hex(cmsgpack.pack({[0]=1})), hex(cmsgpack.pack({[1.5]=1})), hex(cmsgpack.pack({[2^31]=1}))"##,
            r##"true, "90", "93010203", "81a16101", "8201010303", "810001", "81ca3fc0000001", "81ce8000000001""##,
        ),
        (
            r##"return hex(cmsgpack.pack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15})), hex(cmsgpack.pack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16})):sub(1,8)"##,
            r##"true, "9f0102030405060708090a0b0c0d0e0f", "dc001001""##,
        ),
        (
            r##"local t = {} for i = 1, 65536 do t[i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 12)"##,
            r##"true, "dd0001000000""##,
        ),
        (
            r##"local t = {} for i = 1, 16 do t['k' .. i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 6)"##,
            r##"true, "de0010""##,
        ),
        (
            r##"local t = {} for i = 1, 65536 do t['k' .. i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 10)"##,
            r##"true, "df00010000""##,
        ),
        (r##"return hex(cmsgpack.pack(1, 'a', {}, nil, true))"##, r##"true, "01a16190c0c3""##),
        (r##"return cmsgpack.pack()"##, r##"false, "bad argument #0 to 'pack' (MessagePack pack needs input.)""##),
        (r##"local t = {} t[1] = t return hex(cmsgpack.pack(t))"##, r##"true, "91919191919191919191919191919191c0""##),
        (
            r##"local t = {} for i = 1, 20 do t = {t} end return hex(cmsgpack.pack(t))"##,
            r##"true, "91919191919191919191919191919191c0""##,
        ),
        (
            r##"local t = {} t.a = t return hex(cmsgpack.pack(t))"##,
            r##"true, "81a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a161c0""##,
        ),
        (
            r##"return hex(cmsgpack.pack({a = {b = 1}, [true] = false, [{}] = 2}))"##,
            r##"true, "83a16181a16201c3c29002""##,
        ),
        (
            r##"return hex(cmsgpack.pack({1, nil, 3})), hex(cmsgpack.pack({nil, nil, 3}))"##,
            r##"true, "8201010303", "810303""##,
        ),
        (
            r##"return cmsgpack.unpack(cmsgpack.pack(1, -1, 1.5, 'x', true, false, {1, {2}}, {a = {b = 'c'}}))"##,
            r##"true, 1, -1, 1.5, "x", true, false, {[1]=1,[2]={[1]=2}}, {["a"]={["b"]="c"}}"##,
        ),
        (r##"return cmsgpack.unpack('')"##, r##"true"##),
        (r##"return cmsgpack.unpack('\192\192')"##, r##"true, nil, nil"##),
        (r##"return cmsgpack.unpack('\205\1')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\193')"##, r##"false, "Bad data format in input.""##),
        (r##"return cmsgpack.unpack('\196\1a')"##, r##"false, "Bad data format in input.""##),
        (r##"return cmsgpack.unpack('\199\1\1a')"##, r##"false, "Bad data format in input.""##),
        (r##"return cmsgpack.unpack('\212\1a')"##, r##"false, "Bad data format in input.""##),
        (r##"return cmsgpack.unpack('\146\1')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\130\1')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\129\192\1')"##, r##"false, "table index is nil""##),
        (r##"return cmsgpack.unpack('\129\203\255\248\0\0\0\0\0\0\1')"##, r##"false, "table index is NaN""##),
        (r##"return cmsgpack.unpack('\146\192\1'), cmsgpack.unpack('\147\192\192\192')"##, r##"true, {[2]=1}, {}"##),
        (
            r##"return cmsgpack.unpack('\204\255'), cmsgpack.unpack('\205\1\2'), cmsgpack.unpack('\206\255\255\255\255'), cmsgpack.unpack('\207\255\255\255\255\255\255\255\255'), cmsgpack.unpack('\208\128'), cmsgpack.unpack('\209\128\0'), cmsgpack.unpack('\210\128\0\0\0'), cmsgpack.unpack('\211\128\0\0\0\0\0\0\1'), cmsgpack.unpack('\211\255\255\255\255\255\255\255\255')"##,
            r##"true, 255, 258, 4294967295, -1, -128, -32768, -2147483648, -9.2233720368547758e+18, -1"##,
        ),
        (
            r##"return cmsgpack.unpack('\202\63\192\0\0'), cmsgpack.unpack('\203\63\248\0\0\0\0\0\0'), cmsgpack.unpack('\255'), cmsgpack.unpack('\224'), cmsgpack.unpack('\127')"##,
            r##"true, 1.5, 1.5, -1, -32, 127"##,
        ),
        (
            r##"return cmsgpack.unpack('\217\3abc'), cmsgpack.unpack('\218\0\3abc'), cmsgpack.unpack('\219\0\0\0\3abc'), cmsgpack.unpack('\160')"##,
            r##"true, "abc", "abc", "abc", """##,
        ),
        (r##"return cmsgpack.unpack('\219\255\255\255\255abc')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\221\255\255\255\255')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\223\255\255\255\255')"##, r##"false, "Missing bytes in input.""##),
        (
            r##"return cmsgpack.unpack('\220\0\2\1\2'), cmsgpack.unpack('\222\0\1\1\2'), cmsgpack.unpack('\221\0\0\0\1\5'), cmsgpack.unpack('\223\0\0\0\1\1\2')"##,
            r##"true, {[1]=1,[2]=2}, {[1]=2}, {[1]=5}, {[1]=2}"##,
        ),
        (r##"return cmsgpack.unpack()"##, r##"false, "bad argument #1 to 'unpack' (string expected, got no value)""##),
        (r##"return cmsgpack.unpack({})"##, r##"false, "bad argument #1 to 'unpack' (string expected, got table)""##),
        (r##"return cmsgpack.unpack(5), cmsgpack.unpack(12)"##, r##"true, 53, 49, 50"##),
        (r##"return cmsgpack.unpack('\1', 'x', 'y')"##, r##"true, 1"##),
        (
            r##"return cmsgpack.unpack_one('\1\2\3'), cmsgpack.unpack_one('\1\2\3', 1), cmsgpack.unpack_one('\1\2\3', 2), cmsgpack.unpack_one('\1\2\3', 3)"##,
            r##"true, 1, 2, -1, -1"##,
        ),
        (r##"return cmsgpack.unpack_one('\1\2\3', 4)"##, r##"false, "Start offset 4 greater than input length 3.""##),
        (
            r##"return cmsgpack.unpack_one('\1\2\3', -1)"##,
            r##"false, "Invalid request to unpack with offset of -1 and limit of 3.""##,
        ),
        (r##"return cmsgpack.unpack_one('')"##, r##"true, -1"##),
        (
            r##"return cmsgpack.unpack_one('\1\2\3', 'x')"##,
            r##"false, "bad argument #2 to 'unpack_one' (number expected, got string)""##,
        ),
        (r##"return cmsgpack.unpack_one('\1\2\3', '1')"##, r##"true, 2, 2"##),
        (
            r##"return cmsgpack.unpack_one()"##,
            r##"false, "bad argument #1 to 'unpack_one' (string expected, got no value)""##,
        ),
        (
            r##"return cmsgpack.unpack_limit('\1\2\3', 2), cmsgpack.unpack_limit('\1\2\3', 2, 1), cmsgpack.unpack_limit('\1\2\3', 5)"##,
            r##"true, 2, -1, -1, 1, 2, 3"##,
        ),
        (r##"return cmsgpack.unpack_limit('\1\2\3', 0)"##, r##"true, 1, 2, 3"##),
        (r##"return cmsgpack.unpack_limit('\1\2\3', 0, 1)"##, r##"true, 1"##),
        (r##"return cmsgpack.unpack_limit('\1\2\3', 0, 3)"##, r##"true, -1"##),
        (
            r##"return cmsgpack.unpack_limit('\1\2\3', -1)"##,
            r##"false, "Invalid request to unpack with offset of 0 and limit of 3.""##,
        ),
        (
            r##"return cmsgpack.unpack_limit('\1\2\3')"##,
            r##"false, "bad argument #2 to 'unpack_limit' (number expected, got no value)""##,
        ),
        (
            r##"return cmsgpack.unpack_limit('\1\2\3', 1, 2^32 + 1)"##,
            r##"false, "Start offset 1 greater than input length 3.""##,
        ),
        (r##"return cmsgpack.unpack_limit('\1\2\3', 2^32 + 1)"##, r##"true, -1, 1, 2, 3"##),
        (r##"return cmsgpack.unpack_limit('\1\2\3', 1.9, 1.9)"##, r##"true, 2, 2"##),
        (
            r##"return cmsgpack.unpack_limit('\1\2\3', 1, 2^31)"##,
            r##"false, "Start offset -2147483648 greater than input length 3.""##,
        ),
        (r##"return cmsgpack.unpack_one('\205\1')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack_one('\1\205\1', 1)"##, r##"false, "Missing bytes in input.""##),
        (
            r##"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION"##,
            r##"true, "cmsgpack", "lua-cmsgpack 0.4.0", "Copyright (C) 2012, Salvatore Sanfilippo", "MessagePack C implementation for Lua""##,
        ),
        (
            r##"local t = {} for k, v in pairs(cmsgpack) do t[#t+1] = k end table.sort(t) return table.concat(t, ",")"##,
            r##"true, "_COPYRIGHT,_DESCRIPTION,_NAME,_VERSION,pack,unpack,unpack_limit,unpack_one""##,
        ),
        (r##"return select('#', cmsgpack.unpack(string.rep('\145', 3997) .. '\1'))"##, r##"true, 1"##),
        (r##"return select('#', cmsgpack.unpack(string.rep('\145', 3998) .. '\1'))"##, r##"true, 1"##),
        (r##"return select('#', cmsgpack.unpack(string.rep('\145', 3999) .. '\1'))"##, r##"true, 1"##),
        (
            r##"return select('#', cmsgpack.unpack(string.rep('\145', 3999) .. '\144'))"##,
            r##"false, "stack overflow (in function mp_decode_to_lua_array)""##,
        ),
        (r##"return select('#', cmsgpack.unpack(string.rep('\145', 3998) .. '\144'))"##, r##"true, 1"##),
        (r##"return select('#', cmsgpack.unpack(string.rep('\129\1', 3998) .. '\1'))"##, r##"true, 1"##),
        (r##"return select('#', cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1'))"##, r##"true, 1"##),
        (
            r##"return select('#', cmsgpack.unpack(string.rep('\129\1', 4000) .. '\1'))"##,
            r##"false, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""##,
        ),
        (r##"return select('#', cmsgpack.unpack(string.rep('\129\1', 3999) .. '\128'))"##, r##"true, 1"##),
        (
            r##"return select('#', cmsgpack.unpack(string.rep('\129\1', 4000) .. '\128'))"##,
            r##"false, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""##,
        ),
        (
            r##"return hex(cmsgpack.pack({[1]={[1]={}}, [2]='x'})), hex(cmsgpack.pack({{a=1}})), hex(cmsgpack.pack(-0.5, 3.25, 1e10, -1e10, 2^31, -2^31 - 0.5))"##,
            r##"true, "929190a178", "9181a16101", "cabf000000ca40500000cf00000002540be400d3fffffffdabf41c00ce80000000cbc1e0000000100000""##,
        ),
        (r##"return cmsgpack.unpack('\146\147')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\222\0')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\217')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\217\5ab')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\202\0\0')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\1\2\193')"##, r##"false, "Bad data format in input.""##),
        (r##"return cmsgpack.unpack('\145\129\192')"##, r##"false, "Missing bytes in input.""##),
        (r##"return cmsgpack.unpack('\129\192')"##, r##"false, "Missing bytes in input.""##),
        (
            r##"return cmsgpack.unpack('\129\145\1\2'), cmsgpack.unpack('\130\1\192\2\3')"##,
            r##"true, {[{[1]=1}]=2}, {[2]=3}"##,
        ),
        (
            r##"return cmsgpack.unpack_one('\145\1\2', 0), cmsgpack.unpack_limit('\145\1\2\3', 2, 2)"##,
            r##"true, 2, -1, 2, 3"##,
        ),
        (r##"return select('#', cmsgpack.unpack(string.rep('\1', 7000)))"##, r##"true, 7000"##),
        (
            r##"return cmsgpack.unpack(cmsgpack.pack(string.rep('x', 70000))) == string.rep('x', 70000)"##,
            r##"true, true"##,
        ),
        (
            r##"local t = {} for i = 1, 20 do t[i] = i * 1.5 end return cmsgpack.unpack(cmsgpack.pack(t))"##,
            r##"true, {[10]=15,[11]=16.5,[12]=18,[13]=19.5,[14]=21,[15]=22.5,[16]=24,[17]=25.5,[18]=27,[19]=28.5,[1]=1.5,[20]=30,[2]=3,[3]=4.5,[4]=6,[5]=7.5,[6]=9,[7]=10.5,[8]=12,[9]=13.5}"##,
        ),
        (
            r##"return cmsgpack:pack()"##,
            r##"true, "\x88\xac_DESCRIPTION\xd9$MessagePack C implementation for Lua\xa4pack\xc0\xa5_NAME\xa8cmsgpack\xa6unpack\xc0\xaa_COPYRIGHT\xd9(Copyright (C) 2012, Salvatore Sanfilippo\xa8_VERSION\xb2lua-cmsgpack 0.4.0\xaaunpack_one\xc0\xacunpack_limit\xc0""##,
        ),
        (
            r##"return cmsgpack.unpack_limit({}, 'x')"##,
            r##"false, "bad argument #2 to 'unpack_limit' (number expected, got string)""##,
        ),
        (
            r##"return cmsgpack.unpack_one({}, 'x')"##,
            r##"false, "bad argument #2 to 'unpack_one' (number expected, got string)""##,
        ),
        (r##"local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))"##, r##"true, 11618"##),
        (
            r##"local t = {} for i = 1, 4001 do t[i] = i end return #cmsgpack.pack(unpack(t))"##,
            r##"false, "bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)""##,
        ),
        (
            r##"local t = {} for i = 1, 3999 do t[i] = i end t[4000] = {} return #cmsgpack.pack(unpack(t))"##,
            r##"false, "stack overflow (in function table_is_an_array)""##,
        ),
        (
            r##"local t = {} for i = 1, 3998 do t[i] = i end t[3999] = {} return #cmsgpack.pack(unpack(t))"##,
            r##"true, 11613"##,
        ),
        (
            r##"local t = {} for i = 1, 3998 do t[i] = i end t[3999] = {a = 1} return #cmsgpack.pack(unpack(t))"##,
            r##"false, "stack overflow (in function mp_encode_lua_table_as_map)""##,
        ),
        (
            r##"local t = {} for i = 1, 3997 do t[i] = i end t[3998] = {a = 1} return #cmsgpack.pack(unpack(t))"##,
            r##"true, 11613"##,
        ),
        (
            r##"local t = {} for i = 1, 3997 do t[i] = i end t[3998] = {{}} return #cmsgpack.pack(unpack(t))"##,
            r##"true, 11611"##,
        ),
    ];

    /// Where this implementation deliberately differs from redis-server (see the module docs).
    const DEVIATIONS: &[(&str, &str)] = &[
        // C returns 7998 values (it fails from 8000 on); at most MAX_RESULTS values are returned.
        (
            r"return select('#', cmsgpack.unpack(string.rep('\1', 7998)))",
            r#"false, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r"return select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 7998))",
            r#"false, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (r"return select('#', cmsgpack.unpack(string.rep('\1', 7500)))", "true, 7500"),
        (r"return select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 7499))", "true, 7500"),
        // C returns 5000 strings; at most MAX_HELD_REFS Lua references are held at once.
        (
            r"return select('#', cmsgpack.unpack(string.rep('\161a', 5000)))",
            r#"false, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (r"return select('#', cmsgpack.unpack(string.rep('\161a', 3900)))", "true, 3900"),
    ];

    #[test]
    fn matches_redis() {
        check_all(CASES);
    }

    #[test]
    fn documented_deviations() {
        check_all(DEVIATIONS);
    }
}
