//! List commands (`t_list.c`): pushes and pops at both ends, index and range
//! access, LINSERT/LREM/LTRIM/LPOS, LMOVE and LMPOP, and their blocking forms.
//!
//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) do the non-blocking
//! work when data is there and record the non-blocking equivalent as their effect
//! (BLPOP → LPOP key, BLMPOP → LPOP key count, BLMOVE → LMOVE, ...); otherwise they
//! block through `Ctx::block` (or answer the timeout reply at once inside MULTI).
//! The engine re-runs them when a key they wait on changes. While serving a blocked
//! client, keys that hold another type are skipped (Redis 7.0 only serves list
//! keys; the client keeps waiting). Values live in `db::list`; this file never
//! touches their representation.

use super::args::{lower, parse_int};
use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::list::{End, ListValue};
use crate::db::Value;
use crate::engine::blocking::parse_timeout;
use crate::engine::propagate::argv as argv_of;
use crate::engine::Ctx;
use crate::protocol::Reply;
use bytes::Bytes;

/// Table rows of the list family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("lpush", -3, "write denyoom fast", "@write @list @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(lpush)),
        cmd("rpush", -3, "write denyoom fast", "@write @list @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(rpush)),
        cmd("lpushx", -3, "write denyoom fast", "@write @list @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(lpushx)),
        cmd("rpushx", -3, "write denyoom fast", "@write @list @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(rpushx)),
        cmd("lpop", -2, "write fast", "@write @list @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "", Some(lpop)),
        cmd("rpop", -2, "write fast", "@write @list @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "", Some(rpop)),
        cmd("llen", 2, "readonly fast", "@read @list @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(llen)),
        cmd("lrange", 4, "readonly", "@read @list @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(lrange)),
        cmd("lindex", 3, "readonly", "@read @list @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(lindex)),
        cmd("lset", 4, "write denyoom", "@write @list @slow", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(lset)),
        cmd("lrem", 4, "write", "@write @list @slow", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(lrem)),
        cmd("ltrim", 4, "write", "@write @list @slow", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(ltrim)),
        cmd("linsert", 5, "write denyoom", "@write @list @slow", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(linsert)),
        cmd("lpos", -3, "readonly", "@read @list @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(lpos)),
        cmd("lmove", 5, "write denyoom", "@write @list @slow", (1, 2, 1), "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0", "", Some(lmove)),
        cmd("rpoplpush", 3, "write denyoom", "@write @list @slow", (1, 2, 1), "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0", "", Some(rpoplpush)),
        cmd("lmpop", -4, "write movablekeys", "@write @list @slow", (0, 0, 0), "RW,access,delete|i1|n0,1,1", "", Some(lmpop)),
        cmd("blpop", -3, "write noscript blocking", "@write @list @slow @blocking", (1, -2, 1), "RW,access,delete|i1|r-2,1,0", "", Some(blpop)),
        cmd("brpop", -3, "write noscript blocking", "@write @list @slow @blocking", (1, -2, 1), "RW,access,delete|i1|r-2,1,0", "", Some(brpop)),
        cmd("blmove", 6, "write denyoom noscript blocking", "@write @list @slow @blocking", (1, 2, 1), "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0", "", Some(blmove)),
        cmd("brpoplpush", 4, "write denyoom noscript blocking", "@write @list @slow @blocking", (1, 2, 1), "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0", "", Some(brpoplpush)),
        cmd("blmpop", -5, "write blocking movablekeys", "@write @list @slow @blocking", (0, 0, 0), "RW,access,delete|i2|n0,1,1", "", Some(blmpop)),
    ]
}

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(b))
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// The non-blocking pop command for `end`, as Redis propagates it.
fn pop_command(end: End) -> &'static str {
    match end {
        End::Left => "LPOP",
        End::Right => "RPOP",
    }
}

/// Parses LEFT/RIGHT, or fails with a syntax error.
fn parse_end(b: &[u8]) -> Result<End, CommandError> {
    End::parse(b).ok_or(CommandError::Syntax)
}

/// Parses an integer in `[min, max]`; both a non-integer and an out-of-range value
/// fail with `ERR <msg>` (Redis's `getRangeLongFromObjectOrReply` with a message).
fn parse_ranged(b: &[u8], min: i64, msg: &str) -> Result<i64, CommandError> {
    match crate::util::num::parse_i64(b) {
        Some(n) if n >= min => Ok(n),
        _ => Err(CommandError::err(msg)),
    }
}

/// The announcements after `n` elements were popped from `key` at `end` (Redis's
/// `listElementsRemoved`): the pop event, the deletion of an emptied list, the
/// change count.
fn elements_removed(ctx: &mut Ctx, key: &[u8], end: End, n: usize) {
    ctx.notify(notify::LIST, pop_event(end), key);
    ctx.delete_if_empty(key);
    ctx.changed(key, n as u64);
}

/// The list at `key` to pop from: `None` when missing or empty. WRONGTYPE for other
/// types, except while serving a blocked client, where such keys are skipped.
fn pop_source<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ListValue>, CommandError> {
    let serving = ctx.eng.serving_blocked;
    match ctx.get_list_mut(key) {
        Ok(Some(l)) if !l.is_empty() => Ok(Some(l)),
        Ok(_) => Ok(None),
        Err(CommandError::WrongType) if serving => Ok(None),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------------

/// Pushes `argv[2..]` at `end`; with `only_existing` (LPUSHX/RPUSHX) a missing key
/// is left alone.
fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    if only_existing && ctx.get_list_mut(key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let list = ctx.list_or_create(key)?;
    for v in &argv[2..] {
        list.push(end, v);
    }
    let len = list.len();
    ctx.changed(key, (argv.len() - 2) as u64);
    ctx.notify(notify::LIST, push_event(end), key);
    Ok(Reply::Int(len as i64))
}

/// `LPUSH key element [element ...]`
pub fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, false)
}

/// `RPUSH key element [element ...]`
pub fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, false)
}

/// `LPUSHX key element [element ...]`
pub fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, true)
}

/// `RPUSHX key element [element ...]`
pub fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, true)
}

/// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 without the pivot,
/// 0 without the key.
pub fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let key = &argv[1];
    let Some(list) = ctx.get_list_mut(key)? else { return Ok(Reply::Int(0)) };
    if !list.insert(&argv[3], &argv[4], after) {
        return Ok(Reply::Int(-1));
    }
    let len = list.len();
    ctx.changed(key, 1);
    ctx.notify(notify::LIST, "linsert", key);
    Ok(Reply::Int(len as i64))
}

// ---------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------

/// LPOP/RPOP: one element as a bulk string, or with a count an array of up to count
/// elements (empty for count 0; a null array when the key is missing).
fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CommandError::WrongArity(lower(&argv[0])));
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_ranged(a, 0, "value is out of range, must be positive")? as usize),
        None => None,
    };
    let key = &argv[1];
    let Some(list) = ctx.get_list_mut(key)? else {
        return Ok(if count.is_some() { Reply::NilArray } else { Reply::Nil });
    };
    match count {
        None => {
            let Some(v) = list.pop(end) else { return Ok(Reply::Nil) };
            elements_removed(ctx, key, end, 1);
            Ok(bulk(&v))
        }
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let popped = list.pop_many(end, n);
            elements_removed(ctx, key, end, popped.len());
            Ok(Reply::Array(popped.iter().map(|v| bulk(v)).collect()))
        }
    }
}

/// `LPOP key [count]`
pub fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Left)
}

/// `RPOP key [count]`
pub fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Right)
}

/// Pops up to `count` elements from the first non-empty list of `keys` and records
/// `LPOP|RPOP key n` as the effect (LMPOP and BLMPOP, as Redis propagates them).
/// `None` when every list is missing or empty.
fn mpop_keys(ctx: &mut Ctx, keys: &[Bytes], end: End, count: usize) -> Result<Option<Reply>, CommandError> {
    for key in ctx.blocking_key_order(keys) {
        let Some(list) = pop_source(ctx, key)? else { continue };
        let popped = list.pop_many(end, count);
        elements_removed(ctx, key, end, popped.len());
        ctx.propagate(argv_of([pop_command(end).as_bytes(), key, popped.len().to_string().as_bytes()]));
        let elements = popped.iter().map(|v| bulk(v)).collect();
        return Ok(Some(Reply::Array(vec![bulk(key), Reply::Array(elements)])));
    }
    Ok(None)
}

/// Parses LMPOP/BLMPOP arguments from `numkeys_idx`: `numkeys key... LEFT|RIGHT
/// [COUNT count]` → (keys, end, count).
fn parse_mpop(argv: &[Bytes], numkeys_idx: usize) -> Result<(&[Bytes], End, usize), CommandError> {
    let numkeys = parse_ranged(&argv[numkeys_idx], 1, "numkeys should be greater than 0")?;
    let where_idx = (numkeys_idx as u64).saturating_add(numkeys as u64).saturating_add(1);
    if where_idx >= argv.len() as u64 {
        return Err(CommandError::Syntax);
    }
    let where_idx = where_idx as usize;
    let end = parse_end(&argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            j += 1;
            count = Some(parse_ranged(&argv[j], 1, "count should be greater than 0")? as usize);
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    Ok((&argv[numkeys_idx + 1..where_idx], end, count.unwrap_or(1)))
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(argv, 1)?;
    Ok(mpop_keys(ctx, keys, end, count)?.unwrap_or(Reply::NilArray))
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(argv, 2)?;
    let timeout = parse_timeout(&argv[1])?;
    if let Some(reply) = mpop_keys(ctx, keys, end, count)? {
        return Ok(reply);
    }
    if !ctx.may_block() {
        return Ok(Reply::NilArray);
    }
    ctx.block(keys, timeout, Reply::NilArray)
}

/// BLPOP/BRPOP: `[key, element]` from the first non-empty list, recorded as
/// `LPOP|RPOP key`; otherwise blocks on every key.
fn bpop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    let timeout = parse_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    for key in ctx.blocking_key_order(keys) {
        let Some(list) = pop_source(ctx, key)? else { continue };
        let Some(v) = list.pop(end) else { continue };
        elements_removed(ctx, key, end, 1);
        ctx.propagate(argv_of([pop_command(end).as_bytes(), key]));
        return Ok(Reply::Array(vec![bulk(key), bulk(&v)]));
    }
    if !ctx.may_block() {
        return Ok(Reply::NilArray);
    }
    ctx.block(keys, timeout, Reply::NilArray)
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, argv, End::Left)
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, argv, End::Right)
}

// ---------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------

/// Moves one element from `argv[1]`'s `from` end to `argv[2]`'s `to` end (Redis's
/// `lmoveGenericCommand`): `None` when the source is missing. The destination is
/// type-checked before anything changes; it is announced (push event) before the
/// source (pop event, deletion when emptied), as Redis does.
fn lmove_generic(ctx: &mut Ctx, argv: &[Bytes], from: End, to: End) -> Result<Option<Bytes>, CommandError> {
    let (src, dst) = (&argv[1], &argv[2]);
    if pop_source(ctx, src)?.is_none() {
        return Ok(None);
    }
    if let Some(Entry { val, .. }) = ctx.lookup_write(dst) {
        if !matches!(val, Value::List(_)) {
            return Err(CommandError::WrongType);
        }
    }
    let Some(v) = pop_source(ctx, src)?.and_then(|l| l.pop(from)) else { return Ok(None) };
    ctx.list_or_create(dst)?.push(to, &v);
    ctx.changed(dst, 0);
    ctx.notify(notify::LIST, push_event(to), dst);
    elements_removed(ctx, src, from, 1);
    Ok(Some(Bytes::copy_from_slice(&v)))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
pub fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    Ok(lmove_generic(ctx, argv, from, to)?.map_or(Reply::Nil, Reply::Bulk))
}

/// `RPOPLPUSH source destination`
pub fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(lmove_generic(ctx, argv, End::Right, End::Left)?.map_or(Reply::Nil, Reply::Bulk))
}

/// BLMOVE/BRPOPLPUSH: the move when the source has elements, recorded as
/// `effect`; otherwise blocks on the source (a null bulk at once inside MULTI).
fn blmove_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    from: End,
    to: End,
    timeout: Option<std::time::Duration>,
    effect: Vec<Bytes>,
) -> CmdResult {
    if let Some(v) = lmove_generic(ctx, argv, from, to)? {
        ctx.propagate(effect);
        return Ok(Reply::Bulk(v));
    }
    if !ctx.may_block() {
        return Ok(Reply::Nil);
    }
    // Redis 7.0 answers a timed-out (or unblocked) list wait with a null array,
    // BLMOVE included, although its immediate answer is a null bulk.
    ctx.block(&argv[1..2], timeout, Reply::NilArray)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let timeout = parse_timeout(&argv[5])?;
    let mut effect = argv[..5].to_vec();
    effect[0] = Bytes::from_static(b"LMOVE");
    blmove_generic(ctx, argv, from, to, timeout, effect)
}

/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[3])?;
    let effect = argv_of([&b"RPOPLPUSH"[..], &argv[1], &argv[2]]);
    blmove_generic(ctx, argv, End::Right, End::Left, timeout, effect)
}

// ---------------------------------------------------------------------------------
// Reads and in-place changes
// ---------------------------------------------------------------------------------

/// `LLEN key`
pub fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_list(&argv[1])?.map_or(0, |l| l.len() as i64)))
}

/// `LINDEX key index` (the key is looked up before the index is parsed).
pub fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(list) = ctx.get_list(&argv[1])? else { return Ok(Reply::Nil) };
    let index = parse_int(&argv[2])?;
    Ok(list.get(index).map_or(Reply::Nil, bulk))
}

/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let Some(list) = ctx.get_list(&argv[1])? else { return Ok(Reply::Array(Vec::new())) };
    Ok(match list.range_bounds(start, stop) {
        // Encoded in one buffer: no allocation per element (LRANGE_600 is hot).
        Some((s, e)) => Reply::encoded_bulk_array(list.range(s, e)),
        None => Reply::Array(Vec::new()),
    })
}

/// `LSET key index element`
pub fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(list) = ctx.get_list_mut(key)? else { return Err(CommandError::NoSuchKey) };
    let index = parse_int(&argv[2])?;
    if !list.set(index, &argv[3]) {
        return Err(CommandError::err("index out of range"));
    }
    ctx.changed(key, 1);
    ctx.notify(notify::LIST, "lset", key);
    Ok(Reply::Status("OK".into()))
}

/// `LTRIM key start stop`. Announces `ltrim` (and breaks WATCH) even when nothing
/// was removed, as Redis does; only removals count as changes.
pub fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let key = &argv[1];
    let Some(list) = ctx.get_list_mut(key)? else { return Ok(Reply::Status("OK".into())) };
    let keep = list.range_bounds(start, stop);
    let removed = list.trim(keep);
    ctx.notify(notify::LIST, "ltrim", key);
    ctx.delete_if_empty(key);
    ctx.changed(key, removed as u64);
    Ok(Reply::Status("OK".into()))
}

/// `LREM key count element`
pub fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = parse_int(&argv[2])?;
    let key = &argv[1];
    let Some(list) = ctx.get_list_mut(key)? else { return Ok(Reply::Int(0)) };
    let removed = list.remove(count, &argv[3]);
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", key);
        ctx.delete_if_empty(key);
        ctx.changed(key, removed as u64);
    }
    Ok(Reply::Int(removed as i64))
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, element) = (&argv[1], &argv[2]);
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = &argv[j];
        if opt.eq_ignore_ascii_case(b"rank") && more {
            j += 1;
            rank = parse_int(&argv[j])?;
            if rank == 0 {
                return Err(CommandError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            j += 1;
            count = Some(parse_ranged(&argv[j], 0, "COUNT can't be negative")?);
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            j += 1;
            maxlen = parse_ranged(&argv[j], 0, "MAXLEN can't be negative")?;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis negates it in a C long, so
    // LONG_MIN stays negative and then matches the first hit: wrapping keeps that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(list) = ctx.get_list(key)? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    let len = list.len();
    let scanned = if maxlen == 0 { len } else { len.min(maxlen as usize) };
    let position = |i: usize| if from_tail { len - 1 - i } else { i };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for i in 0..scanned {
        let pos = position(i);
        if list.get(pos as i64) != Some(element.as_ref()) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        match count {
            None => return Ok(Reply::Int(pos as i64)),
            Some(c) => {
                found.push(Reply::Int(pos as i64));
                if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c {
                    break;
                }
            }
        }
    }
    Ok(if count.is_some() { Reply::Array(found) } else { Reply::Nil })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::engine::{Client, ClientHandle, Engine, Exec};
    use crate::protocol::Reply;
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::Instant;

    fn client(id: u64) -> Client {
        let handle = ClientHandle {
            kill: Arc::new(tokio::sync::Notify::new()),
            push: tokio::sync::mpsc::unbounded_channel().0,
            pending: Default::default(),
            unblocked: Default::default(),
        };
        Client::new(id, "t".into(), "t".into(), -1, true, handle)
    }

    fn run(eng: &mut Engine, c: &mut Client, line: &str) -> Reply {
        let argv: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
        match eng.execute(c, &argv, &mut Instant::now()) {
            Exec::Reply(r) => r,
            Exec::Paused(_) => panic!("paused"),
        }
    }

    /// The last propagated unit, as text lines.
    fn last_unit(eng: &Engine) -> Vec<String> {
        let unit = eng.propagation_log.back().expect("something was propagated");
        unit.iter()
            .map(|(_, argv)| argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "))
            .collect()
    }

    fn setup() -> (Engine, Client) {
        let mut eng = Engine::new(Config::default());
        let mut c = client(1);
        run(&mut eng, &mut c, "RPUSH l a b c d");
        (eng, c)
    }

    #[test]
    fn blpop_propagates_lpop() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "BLPOP none l 0");
        assert_eq!(last_unit(&eng), ["LPOP l"]);
    }

    #[test]
    fn brpop_propagates_rpop() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "BRPOP l 1.5");
        assert_eq!(last_unit(&eng), ["RPOP l"]);
    }

    #[test]
    fn blmove_propagates_lmove() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "BLMOVE l d RIGHT left 0");
        assert_eq!(last_unit(&eng), ["LMOVE l d RIGHT left"]);
    }

    #[test]
    fn brpoplpush_propagates_rpoplpush() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "BRPOPLPUSH l d 0");
        assert_eq!(last_unit(&eng), ["RPOPLPUSH l d"]);
    }

    #[test]
    fn blmpop_propagates_pop_with_the_popped_count() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "BLMPOP 0 2 none l RIGHT COUNT 10");
        assert_eq!(last_unit(&eng), ["RPOP l 4"]);
    }

    #[test]
    fn lmpop_propagates_pop_with_the_popped_count() {
        let (mut eng, mut c) = setup();
        run(&mut eng, &mut c, "LMPOP 1 l LEFT COUNT 2");
        assert_eq!(last_unit(&eng), ["LPOP l 2"]);
    }

    #[test]
    fn nothing_popped_propagates_nothing() {
        let (mut eng, mut c) = setup();
        let before = eng.propagation_log.len();
        run(&mut eng, &mut c, "LMPOP 1 none LEFT");
        run(&mut eng, &mut c, "LPOP none");
        run(&mut eng, &mut c, "LTRIM l 0 -1");
        run(&mut eng, &mut c, "LREM l 0 zz");
        run(&mut eng, &mut c, "MULTI");
        run(&mut eng, &mut c, "BLPOP none 0");
        run(&mut eng, &mut c, "EXEC");
        assert_eq!(eng.propagation_log.len(), before);
    }

    /// A blocked client served by a later push records the non-blocking pop, in a
    /// unit of its own after the push.
    #[test]
    fn served_blocked_client_propagates_the_non_blocking_form() {
        let mut eng = Engine::new(Config::default());
        let mut waiter = client(1);
        let mut pusher = client(2);
        for (cmd, expected) in [
            ("BLPOP k 0", "LPOP k"),
            ("BLMPOP 0 1 k RIGHT COUNT 3", "RPOP k 2"),
            ("BLMOVE k d LEFT RIGHT 0", "LMOVE k d LEFT RIGHT"),
            ("BRPOPLPUSH k d 0", "RPOPLPUSH k d"),
        ] {
            run(&mut eng, &mut pusher, "DEL k");
            assert_eq!(run(&mut eng, &mut waiter, cmd), Reply::NoReply);
            eng.clients.insert(1, std::mem::replace(&mut waiter, client(1)));
            let before = eng.propagation_log.len();
            run(&mut eng, &mut pusher, "RPUSH k a b");
            assert_eq!(eng.propagation_log.len(), before + 2, "{cmd}");
            assert_eq!(last_unit(&eng), [expected], "{cmd}");
            waiter = eng.clients.remove(&1).expect("waiter");
            assert!(waiter.blocked.is_none(), "{cmd} was served");
        }
    }
}
