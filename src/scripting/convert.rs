//! Conversions between replies and Lua values (scripting spec §4):
//! command replies → Lua for `redis.call` (by the script's protocol, `redis.setresp`),
//! the script's return value → a reply for the caller, and the error tables.

use crate::protocol::Reply;
use bytes::Bytes;
use mlua::{ffi, Lua, Table, Value};

/// Nesting beyond which a returned table is not converted any further (a
/// self-referencing table would otherwise never end). Redis stops at its Lua stack
/// limit with the same text.
const MAX_DEPTH: usize = 1000;

/// Most tables one reply may expand to: tables that share sub-tables
/// (`a = {b, b}; b = {c, c}; ...`) would otherwise expand exponentially.
const MAX_TABLES: usize = 1 << 20;

/// Redis's `luaPushErrorBuff` normalisation of an error line (without its `-`):
/// the first word is the code, `ERR` when there is no space; the message is trimmed
/// of CR/LF at both ends.
pub fn normalize_error(text: &str) -> String {
    match text.split_once(' ') {
        Some((code, msg)) => format!("{code} {}", msg.trim_matches(['\r', '\n'])),
        None => format!("ERR {}", text.trim_matches(['\r', '\n'])),
    }
}

/// `{err = <normalised text>}`; `from_command` marks errors that already counted in
/// the error stats (Redis's `ignore_error_stats_update`).
pub fn error_table(lua: &Lua, text: &str, from_command: bool) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", lua.create_string(normalize_error(text))?)?;
    if from_command {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(t)
}

/// Pushes a command reply onto `l` as the script sees it (`redisProtocolToLuaType`),
/// decoded as the script's protocol `resp` would deliver it. Raw Lua API calls:
/// this runs inside `redis.call`, a Lua C function (see `api::redis_call`).
///
/// # Safety
/// `l` is a running Lua state with the memory limit lifted (an allocation error
/// would unwind through this frame), inside a C function call.
pub unsafe fn push_reply(l: *mut ffi::lua_State, reply: &Reply, resp: u8) {
    let resp3 = resp >= 3;
    // The caller cleared the stack; replies nest a few levels at most, so this
    // only fails thousands of levels deep, where nil beats an error unwinding
    // through Rust frames.
    if ffi::lua_checkstack(l, 4) == 0 {
        ffi::lua_pushnil(l);
        return;
    }
    match reply {
        Reply::Int(n) => ffi::lua_pushnumber(l, *n as f64),
        Reply::Bulk(b) => push_bytes(l, b),
        Reply::Status(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, s.as_bytes());
            ffi::lua_setfield(l, -2, c"ok".as_ptr());
        }
        Reply::Error(e) => push_error_table(l, e, true),
        Reply::Nil | Reply::NilArray | Reply::NoReply => {
            if resp3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Reply::Array(items) | Reply::Push(items) => push_array(l, items.iter(), items.len(), resp),
        Reply::Set(items) if resp3 => {
            ffi::lua_createtable(l, 0, items.len() as i32);
            for m in items {
                push_reply(l, m, resp);
                if ffi::lua_isnil(l, -1) != 0 {
                    ffi::lua_pop(l, 1);
                } else {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawset(l, -3);
                }
            }
            wrap(l, c"set");
        }
        Reply::Set(items) => push_array(l, items.iter(), items.len(), resp),
        Reply::Map(pairs) if resp3 => {
            ffi::lua_createtable(l, 0, pairs.len() as i32);
            for (k, v) in pairs {
                push_reply(l, k, resp);
                if ffi::lua_isnil(l, -1) != 0 {
                    ffi::lua_pop(l, 1);
                } else {
                    push_reply(l, v, resp);
                    ffi::lua_rawset(l, -3);
                }
            }
            wrap(l, c"map");
        }
        Reply::Map(pairs) => push_array(l, pairs.iter().flat_map(|(k, v)| [k, v]), pairs.len() * 2, resp),
        Reply::Double(d) if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, *d);
            ffi::lua_setfield(l, -2, c"double".as_ptr());
        }
        Reply::Double(d) => push_bytes(l, crate::util::num::format_g17(*d).as_bytes()),
        Reply::Bool(b) if resp3 => ffi::lua_pushboolean(l, *b as i32),
        Reply::Bool(b) => ffi::lua_pushnumber(l, if *b { 1.0 } else { 0.0 }),
        Reply::Verbatim(text) => push_verbatim(l, b"txt", text, resp3),
        Reply::VerbatimAs { format, text } => push_verbatim(l, format, text, resp3),
        Reply::BigNumber(digits) if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, digits);
            ffi::lua_setfield(l, -2, c"big_number".as_ptr());
        }
        Reply::BigNumber(digits) => push_bytes(l, digits),
        Reply::Raw(_) => push_reply(l, &reply.clone().decode_raw(), resp),
        Reply::Many(items) => match items.first() {
            Some(first) => push_reply(l, first, resp),
            None => ffi::lua_pushnil(l),
        },
    }
}

/// Pushes `{err = <normalised text>}` (with Redis's `ignore_error_stats_update`
/// when the error came from a command, which counted it already).
///
/// # Safety
/// As `push_reply`.
pub unsafe fn push_error_table(l: *mut ffi::lua_State, text: &str, from_command: bool) {
    ffi::lua_createtable(l, 0, 2);
    push_bytes(l, normalize_error(text).as_bytes());
    ffi::lua_setfield(l, -2, c"err".as_ptr());
    if from_command {
        ffi::lua_pushboolean(l, 1);
        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
    }
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr().cast(), b.len());
}

/// An array table; nil elements (RESP3) leave holes, as Redis's conversion does:
/// the table then grows as in Redis (not pre-sized), so `#t` agrees with Redis.
unsafe fn push_array<'a>(l: *mut ffi::lua_State, items: impl Iterator<Item = &'a Reply>, len: usize, resp: u8) {
    let presize = if resp >= 3 { 0 } else { len.min(i32::MAX as usize) as i32 };
    ffi::lua_createtable(l, presize, 0);
    for (i, r) in items.enumerate() {
        push_reply(l, r, resp);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
        } else {
            ffi::lua_rawseti_(l, -2, (i + 1) as i32);
        }
    }
}

/// Replaces the table on top with `{key = table}`.
unsafe fn wrap(l: *mut ffi::lua_State, key: &std::ffi::CStr) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_insert(l, -2);
    ffi::lua_setfield(l, -2, key.as_ptr());
}

unsafe fn push_verbatim(l: *mut ffi::lua_State, format: &[u8], text: &[u8], resp3: bool) {
    if !resp3 {
        return push_bytes(l, text);
    }
    ffi::lua_createtable(l, 0, 2);
    push_bytes(l, format);
    ffi::lua_setfield(l, -2, c"format".as_ptr());
    push_bytes(l, text);
    ffi::lua_setfield(l, -2, c"string".as_ptr());
    wrap(l, c"verbatim_string");
}

/// A Lua number (mlua shows integral numbers as `Integer` even on Lua 5.1).
pub fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// C's `(long long)d` on x86-64: NaN and values outside the range give i64::MIN
/// (Rust's `as` saturates instead).
pub fn x86_cast(d: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if d.is_nan() || !(-LIMIT..LIMIT).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// CR and LF become spaces: a status or error line must stay one line
/// (CVE-2025-67733).
fn one_line(s: &[u8]) -> String {
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

/// The script's return value as a reply (`luaReplyToRedisReply`). `script_resp` is
/// the protocol the script selected with `redis.setresp` (it decides how booleans
/// are returned); the caller's protocol is applied later by the encoder.
pub fn lua_to_reply(v: &Value, script_resp: u8) -> Reply {
    let mut budget = MAX_TABLES;
    let r = to_reply(v, script_resp, 0, &mut budget);
    if budget == 0 {
        return Reply::Error(format!("ERR reply of the script is too large (more than {MAX_TABLES} tables)"));
    }
    r
}

fn to_reply(v: &Value, script_resp: u8, depth: usize, budget: &mut usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::Error("ERR reached lua stack limit".into());
    }
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Number(n) => Reply::Int(x86_cast(*n)),
        Value::Integer(i) => Reply::Int(*i),
        Value::Boolean(b) if script_resp >= 3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Table(t) => table_to_reply(t, script_resp, depth, budget),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, script_resp: u8, depth: usize, budget: &mut usize) -> Reply {
    if *budget == 0 {
        return Reply::Nil;
    }
    *budget -= 1;
    let get = |k: &str| t.raw_get::<Value>(k).unwrap_or(Value::Nil);
    if let Value::String(e) = get("err") {
        let raw = e.as_bytes();
        let trimmed = String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']).to_string();
        return Reply::Error(one_line(trimmed.as_bytes()));
    }
    if let Value::String(s) = get("ok") {
        return Reply::Status(one_line(&s.as_bytes()));
    }
    if let Some(d) = as_number(&get("double")) {
        return Reply::Double(d);
    }
    if let Value::String(s) = get("big_number") {
        return Reply::BigNumber(Bytes::from(one_line(&s.as_bytes())));
    }
    if let Value::Table(v) = get("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            return Reply::VerbatimAs {
                format: Bytes::copy_from_slice(&f.as_bytes()),
                text: Bytes::copy_from_slice(&s.as_bytes()),
            };
        }
    }
    if let Value::Table(m) = get("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            if *budget == 0 {
                break;
            }
            let k = to_reply(&k, script_resp, depth + 1, budget);
            pairs.push((k, to_reply(&v, script_resp, depth + 1, budget)));
        }
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = get("set") {
        let mut members = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            if *budget == 0 {
                break;
            }
            members.push(to_reply(&k, script_resp, depth + 1, budget));
        }
        return Reply::Set(members);
    }
    let mut items = Vec::new();
    for i in 1.. {
        if *budget == 0 {
            break;
        }
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, script_resp, depth + 1, budget)),
        }
    }
    Reply::Array(items)
}

/// Sorts a reply whose order depends on hash layout (commands with the
/// `nondeterministic_output_order` tip) so a script sees the same order on every
/// server: arrays and sets of strings by bytes, maps by key. Byte order is what
/// Redis's `strcoll` gives in the C locale.
pub fn sort_reply(reply: Reply) -> Reply {
    fn key(r: &Reply) -> &[u8] {
        match r {
            Reply::Bulk(b) => b,
            Reply::Status(s) => s.as_bytes(),
            _ => b"",
        }
    }
    match reply.decode_raw() {
        Reply::Array(mut items) if items.iter().all(|r| matches!(r, Reply::Bulk(_) | Reply::Status(_))) => {
            items.sort_by(|a, b| key(a).cmp(key(b)));
            Reply::Array(items)
        }
        Reply::Set(mut items) => {
            items.sort_by(|a, b| key(a).cmp(key(b)));
            Reply::Set(items)
        }
        Reply::Map(mut pairs) => {
            pairs.sort_by(|a, b| key(&a.0).cmp(key(&b.0)));
            Reply::Map(pairs)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_like_x86() {
        assert_eq!(x86_cast(3.99), 3);
        assert_eq!(x86_cast(-3.99), -3);
        assert_eq!(x86_cast(f64::NAN), i64::MIN);
        assert_eq!(x86_cast(f64::INFINITY), i64::MIN);
        assert_eq!(x86_cast(f64::NEG_INFINITY), i64::MIN);
        assert_eq!(x86_cast(9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(x86_cast(9_007_199_254_740_993.0), 9_007_199_254_740_992);
    }

    #[test]
    fn error_normalisation() {
        assert_eq!(normalize_error("MY err"), "MY err");
        assert_eq!(normalize_error("FOO"), "ERR FOO");
        assert_eq!(normalize_error("X y\r\n"), "X y");
    }

    #[test]
    fn sorted_replies() {
        let r = sort_reply(Reply::encoded_bulk_array([&b"b"[..], b"a", b"c"].into_iter()));
        assert_eq!(r, Reply::Array(vec![Reply::bulk(&b"a"[..]), Reply::bulk(&b"b"[..]), Reply::bulk(&b"c"[..])]));
    }
}
