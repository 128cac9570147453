//! String commands (`t_string.c`): GET/SET and their variants, counters, APPEND,
//! ranges. Bit operations and LCS live in `bits`.

use super::args::{parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::{RStr, Value};
use crate::engine::propagate::argv as argv_of;
use crate::engine::Ctx;
use crate::protocol::Reply;
use bytes::Bytes;

/// Table rows of the string family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("get", 2, "readonly fast", "@read @string @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(get)),
        cmd("set", -3, "write denyoom", "@write @string @slow", (1, 1, 1), "RW,access,update,variable_flags|i1|r0,1,0", "", Some(set)),
        cmd("setnx", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "OW,insert|i1|r0,1,0", "", Some(setnx)),
        cmd("setex", 4, "write denyoom", "@write @string @slow", (1, 1, 1), "OW,update|i1|r0,1,0", "", Some(setex)),
        cmd("psetex", 4, "write denyoom", "@write @string @slow", (1, 1, 1), "OW,update|i1|r0,1,0", "", Some(psetex)),
        cmd("getset", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(getset)),
        cmd("getdel", 2, "write fast", "@write @string @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "", Some(getdel)),
        cmd("getex", -2, "write fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(getex)),
        cmd("mget", -2, "readonly fast", "@read @string @fast", (1, -1, 1), "RO,access|i1|r-1,1,0", "request_policy:multi_shard", Some(mget)),
        cmd("mset", -3, "write denyoom", "@write @string @slow", (1, -1, 2), "OW,update|i1|r-1,2,0", "request_policy:multi_shard response_policy:all_succeeded", Some(mset)),
        cmd("msetnx", -3, "write denyoom", "@write @string @slow", (1, -1, 2), "OW,insert|i1|r-1,2,0", "request_policy:multi_shard response_policy:agg_min", Some(msetnx)),
        cmd("incr", 2, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(incr)),
        cmd("decr", 2, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(decr)),
        cmd("incrby", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(incrby)),
        cmd("decrby", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(decrby)),
        cmd("incrbyfloat", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(incrbyfloat)),
        cmd("append", 3, "write denyoom fast", "@write @string @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(append)),
        cmd("strlen", 2, "readonly fast", "@read @string @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(strlen)),
        cmd("getrange", 4, "readonly", "@read @string @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(getrange)),
        cmd("setrange", 4, "write denyoom", "@write @string @slow", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(setrange)),
        cmd("substr", 4, "readonly", "@read @string @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(substr)),
    ]
}

// ---------------------------------------------------------------------------------
// Shared helpers (also used by `bits`)
// ---------------------------------------------------------------------------------

/// The string at `key` for reading: `None` when missing, WRONGTYPE for other types.
pub fn get_str<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c RStr>, CommandError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Entry { val: Value::Str(s), .. }) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The string at `key` for in-place change: `None` when missing, WRONGTYPE for
/// other types. The caller announces the change with `ctx.changed`.
pub fn get_str_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut RStr>, CommandError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Entry { val: Value::Str(s), .. }) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Fails with WRONGTYPE when `key` holds something other than a string.
fn check_string_type(ctx: &mut Ctx, key: &[u8]) -> Result<bool, CommandError> {
    match ctx.lookup_write(key) {
        None => Ok(false),
        Some(Entry { val: Value::Str(_), .. }) => Ok(true),
        #[allow(unreachable_patterns)]
        Some(_) => Err(CommandError::WrongType),
    }
}

fn str_reply(s: &RStr) -> Reply {
    match s {
        RStr::Int(n) => Reply::Bulk(Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes())),
        RStr::Emb(b) => Reply::bulk_from(b),
        RStr::Raw(v) => Reply::bulk_from(v),
    }
}

/// The largest string a write may produce (`proto-max-bulk-len`), with Redis's error.
pub fn check_string_length(ctx: &Ctx, len: u64) -> Result<(), CommandError> {
    if len > ctx.eng.config.proto_max_bulk_len {
        return Err(CommandError::err("string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    Ok(())
}

/// Unit of an expire argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExpireUnit {
    Seconds,
    Milliseconds,
}

/// Converts an expire argument to an absolute deadline in ms, with Redis's checks
/// (`getExpireMillisecondsOrReply`): non-positive or overflowing values are an
/// "invalid expire time in '<cmd>' command" error.
pub fn expire_deadline(
    ctx: &Ctx,
    arg: &[u8],
    unit: ExpireUnit,
    absolute: bool,
    cmd: &str,
) -> Result<i64, CommandError> {
    let v = parse_int(arg)?;
    let invalid = || CommandError::err(format!("invalid expire time in '{}' command", cmd));
    if v <= 0 || (unit == ExpireUnit::Seconds && v > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if unit == ExpireUnit::Seconds { v * 1000 } else { v };
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.now()).ok_or_else(invalid)
    }
}

// ---------------------------------------------------------------------------------
// GET / SET family
// ---------------------------------------------------------------------------------

/// GET key
pub fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(get_str(ctx, &argv[1])?.map(str_reply).unwrap_or(Reply::Nil))
}

#[derive(Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    expire_at: Option<i64>,
}

fn parse_set_options(ctx: &Ctx, argv: &[Bytes]) -> Result<SetOptions, CommandError> {
    let mut o = SetOptions::default();
    let mut has_expire = false;
    let mut a = Args::at(argv, 3);
    while let Some(opt) = a.next_opt() {
        let up = opt.to_ascii_uppercase();
        match up.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if !has_expire => o.keep_ttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !has_expire && !o.keep_ttl => {
                let val = a.next_bytes()?;
                let unit = if up[0] == b'E' { ExpireUnit::Seconds } else { ExpireUnit::Milliseconds };
                o.expire_at = Some(expire_deadline(ctx, val, unit, up.len() == 4, "set")?);
                has_expire = true;
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok(o)
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
/// EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
pub fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let opts = parse_set_options(ctx, argv)?;
    let key = &argv[1];
    set_generic(ctx, key, &argv[2], &opts, argv)
}

/// SET's shared body; `command` is the client's argv (for the propagated form).
fn set_generic(ctx: &mut Ctx, key: &[u8], val: &[u8], o: &SetOptions, command: &[Bytes]) -> CmdResult {
    let old = if o.get { get_str(ctx, key)?.map(str_reply).unwrap_or(Reply::Nil) } else { Reply::Nil };
    let exists = ctx.exists(key);
    if (o.nx && exists) || (o.xx && !exists) {
        return Ok(if o.get { old } else { Reply::Nil });
    }
    ctx.set_value(key, Value::string(val), o.keep_ttl);
    ctx.notify(notify::STRING, "set", key);
    // Propagated as 7.0 does: with an expiry, `SET k v PXAT <absolute ms>` (NX/XX/GET
    // were decided here); with GET, the command without its GET arguments;
    // otherwise verbatim.
    if let Some(when) = o.expire_at {
        ctx.db().set_expire(key, when);
        ctx.notify(notify::GENERIC, "expire", key);
        ctx.propagate(argv_of([b"SET".as_slice(), key, val, b"PXAT", when.to_string().as_bytes()]));
    } else if o.get {
        let effect = if command.first().is_some_and(|c| c.eq_ignore_ascii_case(b"set")) {
            command.iter().filter(|a| !a.eq_ignore_ascii_case(b"GET")).cloned().collect()
        } else {
            argv_of([b"SET".as_slice(), key, val])
        };
        ctx.propagate(effect);
    }
    Ok(if o.get { old } else { Reply::ok() })
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.exists(&argv[1]) {
        return Ok(Reply::Int(0));
    }
    ctx.set_value(&argv[1], Value::string(&argv[2]), false);
    ctx.notify(notify::STRING, "set", &argv[1]);
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut Ctx, argv: &[Bytes], unit: ExpireUnit, name: &str) -> CmdResult {
    let when = expire_deadline(ctx, &argv[2], unit, false, name)?;
    let o = SetOptions { expire_at: Some(when), ..Default::default() };
    set_generic(ctx, &argv[1], &argv[3], &o, argv)
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, ExpireUnit::Seconds, "setex")
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, ExpireUnit::Milliseconds, "psetex")
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = SetOptions { get: true, ..Default::default() };
    set_generic(ctx, &argv[1], &argv[2], &o, argv)
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let reply = match get_str(ctx, &argv[1])? {
        None => return Ok(Reply::Nil),
        Some(s) => str_reply(s),
    };
    ctx.delete(&argv[1]);
    ctx.notify(notify::GENERIC, "del", &argv[1]);
    ctx.propagate(argv_of(["DEL".as_bytes(), &argv[1]]));
    Ok(reply)
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
pub fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut expire_at = None;
    let mut persist = false;
    let mut a = Args::at(argv, 2);
    while let Some(opt) = a.next_opt() {
        let up = opt.to_ascii_uppercase();
        match up.as_slice() {
            b"PERSIST" if expire_at.is_none() && !persist => persist = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if expire_at.is_none() && !persist => {
                let val = a.next_bytes()?;
                let unit = if up[0] == b'E' { ExpireUnit::Seconds } else { ExpireUnit::Milliseconds };
                expire_at = Some(expire_deadline(ctx, val, unit, up.len() == 4, "getex")?);
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let key = &argv[1];
    let reply = match get_str(ctx, key)? {
        None => return Ok(Reply::Nil),
        Some(s) => str_reply(s),
    };
    if let Some(when) = expire_at {
        if when <= ctx.now() {
            // A deadline in the past deletes the key at once, as Redis does.
            ctx.delete(key);
            ctx.notify(notify::GENERIC, "del", key);
            ctx.propagate(argv_of(["DEL".as_bytes(), key]));
        } else {
            ctx.db().set_expire(key, when);
            ctx.changed(key, 1);
            ctx.notify(notify::GENERIC, "expire", key);
            ctx.propagate(argv_of([
                "PEXPIREAT".to_string(),
                String::from_utf8_lossy(key).into_owned(),
                when.to_string(),
            ]));
        }
    } else if persist && ctx.db().remove_expire(key) {
        ctx.changed(key, 1);
        ctx.notify(notify::GENERIC, "persist", key);
        ctx.propagate(argv_of(["PERSIST".as_bytes(), key]));
    }
    Ok(reply)
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        out.push(match ctx.lookup_read(key) {
            Some(Entry { val: Value::Str(s), .. }) => str_reply(s),
            _ => Reply::Nil,
        });
    }
    Ok(Reply::Array(out))
}

fn mset_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity(if nx { "msetnx" } else { "mset" }.into()));
    }
    if nx {
        for pair in argv[1..].chunks(2) {
            if ctx.exists(&pair[0]) {
                return Ok(Reply::Int(0));
            }
        }
    }
    for pair in argv[1..].chunks(2) {
        ctx.set_value(&pair[0], Value::string(&pair[1]), false);
        ctx.notify(notify::STRING, "set", &pair[0]);
    }
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    match get_str_mut(ctx, key)? {
        Some(s) => {
            let cur = s.as_i64().ok_or(CommandError::NotInteger)?;
            let new = cur.checked_add(by).ok_or(CommandError::Overflow)?;
            *s = RStr::Int(new);
            ctx.changed(key, 1);
            ctx.notify(notify::STRING, "incrby", key);
            Ok(Reply::Int(new))
        }
        None => {
            ctx.set_value(key, Value::Str(RStr::Int(by)), false);
            ctx.notify(notify::STRING, "incrby", key);
            Ok(Reply::Int(by))
        }
    }
}

/// INCR key
pub fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &argv[1], -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = parse_int(&argv[2])?;
    incr_generic(ctx, &argv[1], by)
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = parse_int(&argv[2])?;
    if by == i64::MIN {
        return Err(CommandError::err("decrement would overflow"));
    }
    incr_generic(ctx, &argv[1], -by)
}

/// INCRBYFLOAT key increment
pub fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let cur = get_str(ctx, key)?.map(|s| s.to_bytes().into_owned()).unwrap_or_else(|| b"0".to_vec());
    // Redis validates the stored value first, then the increment, with one message.
    crate::util::longdouble::LongDouble::parse(&cur).map_err(|_| CommandError::NotFloat)?;
    let text = crate::util::longdouble::incr_by_float(&cur, &argv[2])
        .map_err(|_| CommandError::NotFloat)?
        .ok_or_else(|| CommandError::err("increment would produce NaN or Infinity"))?;
    // An existing value is replaced in place, keeping its TTL (`dbReplaceValue`).
    match get_str_mut(ctx, key)? {
        Some(s) => {
            *s = RStr::text(text.as_bytes());
            ctx.changed(key, 1);
        }
        None => ctx.set_value(key, Value::Str(RStr::text(text.as_bytes())), false),
    }
    ctx.notify(notify::STRING, "incrbyfloat", key);
    // Replicas must not redo the float arithmetic: the result is propagated.
    ctx.propagate(argv_of(["SET".as_bytes(), key, text.as_bytes(), b"KEEPTTL"]));
    Ok(Reply::bulk(text))
}

// ---------------------------------------------------------------------------------
// APPEND, STRLEN, ranges
// ---------------------------------------------------------------------------------

/// APPEND key value
pub fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, add) = (&argv[1], &argv[2]);
    let cur_len = match get_str(ctx, key)? {
        None => {
            ctx.set_value(key, Value::string(add), false);
            ctx.notify(notify::STRING, "append", key);
            return Ok(Reply::Int(add.len() as i64));
        }
        Some(s) => s.len(),
    };
    check_string_length(ctx, (cur_len + add.len()) as u64)?;
    let s = get_str_mut(ctx, key)?.ok_or(CommandError::NoSuchKey)?;
    let raw = s.make_raw();
    raw.extend_from_slice(add);
    let n = raw.len();
    ctx.changed(key, 1);
    ctx.notify(notify::STRING, "append", key);
    Ok(Reply::Int(n as i64))
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(get_str(ctx, &argv[1])?.map(|s| s.len()).unwrap_or(0) as i64))
}

/// GETRANGE key start end
pub fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut start = parse_int(&argv[2])?;
    let mut end = parse_int(&argv[3])?;
    let Some(s) = get_str(ctx, &argv[1])? else {
        return Ok(Reply::bulk(Bytes::new()));
    };
    let bytes = s.to_bytes();
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::bulk(Bytes::new()));
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        return Ok(Reply::bulk(Bytes::new()));
    }
    Ok(Reply::bulk_from(&bytes[start as usize..=end as usize]))
}

/// SUBSTR key start end
pub fn substr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    getrange(ctx, argv)
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, val) = (&argv[1], &argv[3]);
    let offset = parse_int(&argv[2])?;
    if offset < 0 {
        return Err(CommandError::err("offset is out of range"));
    }
    let exists = check_string_type(ctx, key)?;
    if val.is_empty() {
        let len = if exists { get_str(ctx, key)?.map(|s| s.len()).unwrap_or(0) } else { 0 };
        return Ok(Reply::Int(len as i64));
    }
    check_string_length(ctx, offset as u64 + val.len() as u64)?;
    if !exists {
        ctx.set_value(key, Value::Str(RStr::Raw(Default::default())), false);
    }
    let s = get_str_mut(ctx, key)?.ok_or(CommandError::NoSuchKey)?;
    let raw = s.make_raw();
    let end = offset as usize + val.len();
    if raw.len() < end {
        raw.resize(end, 0);
    }
    raw[offset as usize..end].copy_from_slice(val);
    let n = raw.len();
    ctx.changed(key, 1);
    ctx.notify(notify::STRING, "setrange", key);
    Ok(Reply::Int(n as i64))
}
