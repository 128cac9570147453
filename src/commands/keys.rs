//! Keyspace commands (`db.c`, `expire.c`, `object.c`): databases, deletion, renaming,
//! iteration, introspection and TTLs.

use super::args::{parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::strings::ExpireUnit;
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::{RStr, Value};
use crate::engine::propagate::argv as argv_of;
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;

/// Table rows of the keyspace family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("select", 2, "loading stale fast", "@fast @connection", (0, 0, 0), "", "", Some(select)),
        cmd("swapdb", 3, "write fast", "@keyspace @write @fast @dangerous", (0, 0, 0), "", "", Some(swapdb)),
        cmd("move", 3, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(move_)),
        cmd("copy", -3, "write denyoom", "@keyspace @write @slow", (1, 2, 1), "RO,access|i1|r0,1,0;OW,update|i2|r0,1,0", "", Some(copy)),
        cmd("flushdb", -1, "write", "@keyspace @write @slow @dangerous", (0, 0, 0), "", "request_policy:all_shards response_policy:all_succeeded", Some(flushdb)),
        cmd("flushall", -1, "write", "@keyspace @write @slow @dangerous", (0, 0, 0), "", "request_policy:all_shards response_policy:all_succeeded", Some(flushall)),
        cmd("dbsize", 1, "readonly fast", "@keyspace @read @fast", (0, 0, 0), "", "request_policy:all_shards response_policy:agg_sum", Some(dbsize)),
        cmd("del", -2, "write", "@keyspace @write @slow", (1, -1, 1), "RM,delete|i1|r-1,1,0", "request_policy:multi_shard response_policy:agg_sum", Some(del)),
        cmd("unlink", -2, "write fast", "@keyspace @write @fast", (1, -1, 1), "RM,delete|i1|r-1,1,0", "request_policy:multi_shard response_policy:agg_sum", Some(unlink)),
        cmd("exists", -2, "readonly fast", "@keyspace @read @fast", (1, -1, 1), "RO|i1|r-1,1,0", "request_policy:multi_shard response_policy:agg_sum", Some(exists)),
        cmd("type", 2, "readonly fast", "@keyspace @read @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(type_)),
        cmd("rename", 3, "write", "@keyspace @write @slow", (1, 2, 1), "RW,access,delete|i1|r0,1,0;OW,update|i2|r0,1,0", "", Some(rename)),
        cmd("renamenx", 3, "write fast", "@keyspace @write @fast", (1, 2, 1), "RW,access,delete|i1|r0,1,0;OW,insert|i2|r0,1,0", "", Some(renamenx)),
        cmd("touch", -2, "readonly fast", "@keyspace @read @fast", (1, -1, 1), "RO|i1|r-1,1,0", "request_policy:multi_shard response_policy:agg_sum", Some(touch)),
        cmd("keys", 2, "readonly", "@keyspace @read @slow @dangerous", (0, 0, 0), "", "request_policy:all_shards nondeterministic_output_order", Some(keys)),
        cmd("scan", -2, "readonly", "@keyspace @read @slow", (0, 0, 0), "", "nondeterministic_output request_policy:special", Some(scan)),
        cmd("randomkey", 1, "readonly", "@keyspace @read @slow", (0, 0, 0), "", "request_policy:all_shards nondeterministic_output", Some(randomkey)),
        cmd("object", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("object|encoding", 3, "readonly", "@keyspace @read @slow", (2, 2, 1), "RO|i2|r0,1,0", "nondeterministic_output", Some(object_encoding)),
            cmd("object|freq", 3, "readonly", "@keyspace @read @slow", (2, 2, 1), "RO|i2|r0,1,0", "nondeterministic_output", Some(object_freq)),
            cmd("object|help", 2, "loading stale", "@keyspace @slow", (0, 0, 0), "", "", Some(object_help)),
            cmd("object|idletime", 3, "readonly", "@keyspace @read @slow", (2, 2, 1), "RO|i2|r0,1,0", "nondeterministic_output", Some(object_idletime)),
            cmd("object|refcount", 3, "readonly", "@keyspace @read @slow", (2, 2, 1), "RO|i2|r0,1,0", "nondeterministic_output", Some(object_refcount)),
        ]),
        cmd("expire", -3, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(expire)),
        cmd("pexpire", -3, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(pexpire)),
        cmd("expireat", -3, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(expireat)),
        cmd("pexpireat", -3, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(pexpireat)),
        cmd("ttl", 2, "readonly fast", "@keyspace @read @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(ttl)),
        cmd("pttl", 2, "readonly fast", "@keyspace @read @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(pttl)),
        cmd("expiretime", 2, "readonly fast", "@keyspace @read @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(expiretime)),
        cmd("pexpiretime", 2, "readonly fast", "@keyspace @read @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(pexpiretime)),
        cmd("persist", 2, "write fast", "@keyspace @write @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(persist)),
    ]
}

// ---------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------

fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CommandError> {
    let id = parse_int(arg)?;
    if id < 0 || id >= ctx.eng.dbs.len() as i64 {
        return Err(CommandError::err("DB index is out of range"));
    }
    Ok(id as usize)
}

/// SELECT index
pub fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.db = db_index(ctx, &argv[1])?;
    Ok(Reply::ok())
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_int(&argv[1]).map_err(|_| CommandError::err("invalid first DB index"))?;
    let b = parse_int(&argv[2]).map_err(|_| CommandError::err("invalid second DB index"))?;
    let n = ctx.eng.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(CommandError::err("DB index is out of range"));
    }
    if a != b {
        // Watchers of keys in either db, and clients blocked there, must notice.
        ctx.eng.db_changed(a as usize, Some(b as usize));
        ctx.eng.db_changed(b as usize, Some(a as usize));
        ctx.eng.dbs.swap(a as usize, b as usize);
    }
    ctx.dirty(1);
    Ok(Reply::ok())
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let dst = db_index(ctx, &argv[2])?;
    let src = ctx.client.db;
    if src == dst {
        return Err(CommandError::err("source and destination objects are the same"));
    }
    if !ctx.exists(key) {
        return Ok(Reply::Int(0));
    }
    if !ctx.expire_if_needed_in(dst, key) && ctx.eng.dbs[dst].keys.contains_key(key) {
        return Ok(Reply::Int(0));
    }
    let when = ctx.eng.dbs[src].get_expire(key);
    let Some(val) = ctx.eng.dbs[src].remove(key) else { return Ok(Reply::Int(0)) };
    let lru = crate::engine::lfu::initial(ctx.eng.lfu_params().is_some());
    ctx.eng.dbs[dst].set(key, val, lru, false);
    if let Some(w) = when {
        ctx.eng.dbs[dst].set_expire(key, w);
    }
    ctx.changed(key, 1);
    ctx.eng.key_changed(dst, key);
    ctx.notify(notify::GENERIC, "move_from", key);
    ctx.eng.notify(notify::GENERIC, "move_to", key, dst);
    Ok(Reply::Int(1))
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src_key, dst_key) = (&argv[1], &argv[2]);
    let src = ctx.client.db;
    let mut dst = src;
    let mut replace = false;
    let mut a = Args::at(argv, 3);
    while let Some(opt) = a.next_opt() {
        if opt.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"DB") && a.remaining() > 0 {
            dst = db_index(ctx, a.next_bytes()?)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if src == dst && src_key == dst_key {
        return Err(CommandError::err("source and destination objects are the same"));
    }
    let Some(entry) = ctx.lookup_write(src_key) else { return Ok(Reply::Int(0)) };
    let val = entry.val.clone();
    let when = ctx.eng.dbs[src].get_expire(src_key);
    if !ctx.expire_if_needed_in(dst, dst_key) && ctx.eng.dbs[dst].keys.contains_key(dst_key) {
        if !replace {
            return Ok(Reply::Int(0));
        }
        ctx.eng.dbs[dst].remove(dst_key);
    }
    let lru = crate::engine::lfu::initial(ctx.eng.lfu_params().is_some());
    ctx.eng.dbs[dst].set(dst_key, val, lru, false);
    if let Some(w) = when {
        ctx.eng.dbs[dst].set_expire(dst_key, w);
    }
    ctx.eng.key_changed(dst, dst_key);
    ctx.eng.notify(notify::GENERIC, "copy_to", dst_key, dst);
    ctx.dirty(1);
    Ok(Reply::Int(1))
}

fn flush_option(argv: &[Bytes]) -> Result<(), CommandError> {
    match argv.len() {
        1 => Ok(()),
        2 if argv[1].eq_ignore_ascii_case(b"ASYNC") || argv[1].eq_ignore_ascii_case(b"SYNC") => Ok(()),
        _ => Err(CommandError::Syntax),
    }
}

/// FLUSHDB [ASYNC | SYNC]
pub fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_option(argv)?;
    let n = ctx.db().len() as u64;
    let db = ctx.client.db;
    ctx.eng.db_changed(db, None);
    ctx.db().clear();
    ctx.dirty(n + 1);
    Ok(Reply::ok())
}

/// FLUSHALL [ASYNC | SYNC]
pub fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_option(argv)?;
    let n = ctx.eng.total_keys() as u64;
    for db in 0..ctx.eng.dbs.len() {
        ctx.eng.db_changed(db, None);
        ctx.eng.dbs[db].clear();
    }
    // As Redis: with save points, the file is rewritten at once (empty), and a
    // background save of the old data is abandoned, so a restart cannot bring the
    // flushed keys back.
    if !ctx.eng.config.save.is_empty() && !ctx.eng.in_script {
        ctx.eng.abandon_bgsave();
        let _ = ctx.eng.save_now();
    }
    ctx.dirty(n + 1);
    Ok(Reply::ok())
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.db().len() as i64))
}

// ---------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------

/// DEL key [key ...]
pub fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.delete(key) {
            ctx.notify(notify::GENERIC, "del", key);
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

/// UNLINK key [key ...]
pub fn unlink(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    del(ctx, argv)
}

/// EXISTS key [key ...]
pub fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = argv[1..].iter().filter(|k| ctx.exists(k)).count();
    Ok(Reply::Int(n as i64))
}

/// TYPE key
pub fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = if ctx.expire_if_needed(&argv[1]) {
        "none"
    } else {
        ctx.db().keys.get(&argv[1]).map(|e| e.val.type_name()).unwrap_or("none")
    };
    Ok(Reply::Status(t.to_string()))
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    if !ctx.exists(src) {
        return Err(CommandError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::ok() });
    }
    if ctx.exists(dst) {
        if nx {
            return Ok(Reply::Int(0));
        }
        ctx.db().remove(dst);
    }
    let lru = crate::engine::lfu::initial(ctx.eng.lfu_params().is_some());
    let db = ctx.db();
    let when = db.get_expire(src);
    let val = db.remove(src).ok_or(CommandError::NoSuchKey)?;
    db.set(dst, val, lru, false);
    if let Some(w) = when {
        db.set_expire(dst, w);
    }
    ctx.changed(src, 1);
    ctx.changed(dst, 0);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = argv[1..].iter().filter(|k| ctx.lookup_read(k).is_some()).count();
    Ok(Reply::Int(n as i64))
}

/// KEYS pattern
pub fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pattern = &argv[1];
    let all = pattern.as_ref() == b"*";
    // Expired keys are left out, except for the primary's stream on a replica,
    // which sees every key until the primary's DEL (as lookups do).
    let now = if ctx.client.flags.master && ctx.eng.is_replica() { i64::MIN } else { ctx.now() };
    let db = ctx.db();
    let mut skipped_expired = false;
    let out: Vec<Reply> = db
        .keys
        .iter()
        .filter(|(k, _)| {
            let wanted = all || glob_match(pattern, k, false);
            let expired = wanted && db.is_expired(k, now);
            skipped_expired |= expired;
            wanted && !expired
        })
        .map(|(k, _)| Reply::bulk_from(k))
        .collect();
    // Which keys are expired depends on this node's clock.
    ctx.eng.script_replay_unsafe |= skipped_expired && ctx.eng.in_script;
    Ok(Reply::Array(out))
}

/// Parses a SCAN cursor as Redis does with `strtoul`: an optional sign, decimal
/// digits, no leading space; a negative value wraps around. Else "invalid cursor".
pub fn parse_cursor(b: &[u8]) -> Result<u64, CommandError> {
    let invalid = || CommandError::err("invalid cursor");
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let v: u64 = std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or_else(invalid)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&argv[1])?;
    let mut pattern: Option<&Bytes> = None;
    let mut count = 10i64;
    let mut typ: Option<String> = None;
    let mut a = Args::at(argv, 2);
    while let Some(opt) = a.next_opt() {
        if a.remaining() == 0 {
            return Err(CommandError::Syntax);
        }
        if opt.eq_ignore_ascii_case(b"COUNT") {
            count = a.next_i64()?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
        } else if opt.eq_ignore_ascii_case(b"MATCH") {
            pattern = Some(a.next_bytes()?);
        } else if opt.eq_ignore_ascii_case(b"TYPE") {
            typ = Some(String::from_utf8_lossy(a.next_bytes()?).to_ascii_lowercase());
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut found: Vec<(Vec<u8>, &'static str)> = Vec::new();
    let db = ctx.db();
    let mut iterations = count * 10;
    loop {
        cursor = db.keys.scan(cursor, |k, e| found.push((k.to_vec(), e.val.type_name())));
        iterations -= 1;
        if cursor == 0 || iterations <= 0 || found.len() as i64 >= count {
            break;
        }
    }
    let pattern = pattern.filter(|p| p.as_ref() != b"*");
    let mut out = Vec::with_capacity(found.len());
    for (k, t) in found {
        if let Some(p) = pattern {
            if !glob_match(p, &k, false) {
                continue;
            }
        }
        if let Some(want) = &typ {
            if want != t {
                continue;
            }
        }
        if ctx.expire_if_needed(&k) {
            continue;
        }
        out.push(Reply::bulk(k));
    }
    Ok(Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(out)]))
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // Retry a bounded number of times when the picked key turns out expired.
    for _ in 0..100 {
        let dbi = ctx.client.db;
        let eng = &mut *ctx.eng;
        let Some((k, _)) = eng.dbs[dbi].keys.random(&mut eng.rng) else {
            return Ok(Reply::Nil);
        };
        let k = k.to_vec();
        if !ctx.expire_if_needed(&k) {
            return Ok(Reply::bulk(k));
        }
    }
    Ok(Reply::Nil)
}

// ---------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------

/// The entry at `key` without touching its access time (OBJECT never does).
fn peek<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Entry> {
    if ctx.expire_if_needed(key) {
        return None;
    }
    ctx.db().keys.get(key)
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(peek(ctx, &argv[2]).map(|e| Reply::bulk(e.val.encoding())).unwrap_or(Reply::Nil))
}

/// OBJECT REFCOUNT key
pub fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match peek(ctx, &argv[2]) {
        None => Reply::Nil,
        // Redis shares the integers 0..9999 between keys and reports them as immortal.
        Some(Entry { val: Value::Str(RStr::Int(n)), .. }) if (0..10000).contains(n) => Reply::Int(i32::MAX as i64),
        Some(_) => Reply::Int(1),
    })
}

const LFU_NOTE: &str =
    "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// OBJECT IDLETIME key
pub fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.eng.config.maxmemory_policy.is_lfu() {
        return Err(CommandError::err(format!(
            "An LFU maxmemory policy is selected, idle time not tracked. {LFU_NOTE}"
        )));
    }
    let Some(e) = peek(ctx, &argv[2]) else { return Ok(Reply::Nil) };
    let now = crate::engine::Engine::lru_clock();
    let idle = if now >= e.lru { now - e.lru } else { now + (0x00FF_FFFF - e.lru) };
    Ok(Reply::Int(idle as i64))
}

/// OBJECT FREQ key
pub fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !ctx.eng.config.maxmemory_policy.is_lfu() {
        return Err(CommandError::err(format!(
            "An LFU maxmemory policy is not selected, access frequency not tracked. {LFU_NOTE}"
        )));
    }
    let decay = ctx.eng.config.lfu_decay_time;
    let Some(e) = peek(ctx, &argv[2]) else { return Ok(Reply::Nil) };
    Ok(Reply::Int(crate::engine::lfu::decayed_counter(e.lru, decay as u64) as i64))
}

/// OBJECT HELP
pub fn object_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used to store the value of <key>.",
            "FREQ <key>",
            "    Return the access frequency index of <key> (LFU maxmemory policies only).",
            "IDLETIME <key>",
            "    Return the idle time of <key>, in seconds (not with LFU policies).",
            "REFCOUNT <key>",
            "    Return the number of references of the value of <key>.",
        ],
    ))
}

/// A HELP reply in Redis's layout: a header line, the lines, and the HELP entry.
pub fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Status(format!("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd))];
    out.extend(lines.iter().map(|l| Reply::Status(l.to_string())));
    out.push(Reply::Status("HELP".into()));
    out.push(Reply::Status("    Print this help.".into()));
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's `expireGenericCommand`).
fn expire_generic(ctx: &mut Ctx, argv: &[Bytes], unit: ExpireUnit, absolute: bool) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &argv[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(CommandError::err(format!("Unsupported option {}", String::from_utf8_lossy(opt)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::err("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CommandError::err("GT and LT options at the same time are not compatible"));
    }
    let mut when = parse_int(&argv[2])?;
    let invalid = || CommandError::err(format!("invalid expire time in '{}' command", name));
    if unit == ExpireUnit::Seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    if !absolute {
        if when > i64::MAX - ctx.now() {
            return Err(invalid());
        }
        when += ctx.now();
    }
    let key = &argv[1];
    if !ctx.exists(key) {
        return Ok(Reply::Int(0));
    }
    let current = ctx.db().get_expire(key);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Int(0));
    }
    if when <= ctx.now() {
        // Already in the past: the key goes now, and replicas get the DEL.
        ctx.delete(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate(argv_of([b"DEL".as_slice(), key]));
    } else {
        ctx.db().set_expire(key, when);
        ctx.changed(key, 1);
        ctx.notify(notify::GENERIC, "expire", key);
        // Replicas get the absolute deadline, with the same condition flag.
        let mut effect = argv_of([b"PEXPIREAT".as_slice(), key, when.to_string().as_bytes()]);
        effect.extend(argv[3..].iter().cloned());
        ctx.propagate(effect);
    }
    Ok(Reply::Int(1))
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Seconds, false)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Milliseconds, false)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Seconds, true)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Milliseconds, true)
}

/// TTL-family reply: -2 missing, -1 no deadline, else the value from `f`.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], f: impl Fn(i64, i64) -> i64) -> CmdResult {
    if !ctx.exists(key) {
        return Ok(Reply::Int(-2));
    }
    let now = ctx.now();
    Ok(Reply::Int(match ctx.db().get_expire(key) {
        None => -1,
        Some(when) => f(when, now),
    }))
}

/// TTL key
pub fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], |when, now| ((when - now).max(0) + 500) / 1000)
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], |when, now| (when - now).max(0))
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], |when, _| (when + 500) / 1000)
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &argv[1], |when, _| when)
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !ctx.exists(&argv[1]) {
        return Ok(Reply::Int(0));
    }
    if ctx.db().remove_expire(&argv[1]) {
        ctx.changed(&argv[1], 1);
        ctx.notify(notify::GENERIC, "persist", &argv[1]);
        return Ok(Reply::Int(1));
    }
    Ok(Reply::Int(0))
}
