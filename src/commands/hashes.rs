//! Hash commands (`t_hash.c`): field access, counters, HRANDFIELD and HSCAN. Encodings
//! and their conversions live in `db::hash`; this file reads arguments, applies Redis
//! 7.0's checks in Redis's order, and announces changes (`changed`, `notify`).

use super::args::{parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::keys::parse_cursor;
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::engine::propagate::argv as make_argv;
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use crate::util::longdouble::{incr_by_float, LongDouble};
use crate::util::num::parse_i64;
use bytes::Bytes;

/// Table rows of the hash family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("hset", -4, "write denyoom fast", "@write @hash @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(hset)),
        cmd("hsetnx", 4, "write denyoom fast", "@write @hash @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(hsetnx)),
        cmd("hget", 3, "readonly fast", "@read @hash @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(hget)),
        cmd("hmget", -3, "readonly fast", "@read @hash @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(hmget)),
        cmd("hmset", -4, "write denyoom fast", "@write @hash @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(hmset)),
        cmd("hdel", -3, "write fast", "@write @hash @fast", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(hdel)),
        cmd("hlen", 2, "readonly fast", "@read @hash @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(hlen)),
        cmd("hexists", 3, "readonly fast", "@read @hash @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(hexists)),
        cmd("hkeys", 2, "readonly", "@read @hash @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output_order", Some(hkeys)),
        cmd("hvals", 2, "readonly", "@read @hash @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output_order", Some(hvals)),
        cmd("hgetall", 2, "readonly", "@read @hash @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output_order", Some(hgetall)),
        cmd("hincrby", 4, "write denyoom fast", "@write @hash @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(hincrby)),
        cmd("hincrbyfloat", 4, "write denyoom fast", "@write @hash @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(hincrbyfloat)),
        cmd("hstrlen", 3, "readonly fast", "@read @hash @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(hstrlen)),
        cmd("hrandfield", -2, "readonly", "@read @hash @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(hrandfield)),
        cmd("hscan", -3, "readonly", "@read @hash @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(hscan)),
    ]
}

// ---------------------------------------------------------------------------------
// Shared helpers (also used by `sets`)
// ---------------------------------------------------------------------------------

/// The most elements a random-sampling reply (HRANDFIELD, SRANDMEMBER with a negative
/// count) may hold. Redis streams such a reply and is only stopped by output-buffer
/// limits (with the default unlimited normal class, a count near -LONG_MAX exhausts
/// memory); moonkv builds replies in memory, so it refuses larger counts with Redis's
/// "value is out of range" error instead.
pub const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// Redis's error for a count below -LONG_MAX (`getRangeLongFromObjectOrReply`).
pub fn random_count_range_error() -> CommandError {
    CommandError::err("value is out of range, value must between -9223372036854775807 and 9223372036854775807")
}

/// Parses the `[MATCH pattern] [COUNT count]` options of HSCAN/SSCAN (Redis's
/// `scanGenericCommand`: a COUNT below 1, a missing option value, TYPE or any other
/// word is a syntax error). Returns the pattern (`None` for none or `*`) and count.
pub fn parse_scan_options(argv: &[Bytes], start: usize) -> Result<(Option<&Bytes>, u64), CommandError> {
    let mut pattern = None;
    let mut count = 10u64;
    let mut a = Args::at(argv, start);
    while let Some(opt) = a.next_opt() {
        if a.is_empty() {
            return Err(CommandError::Syntax);
        }
        if opt.eq_ignore_ascii_case(b"COUNT") {
            let n = a.next_i64()?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as u64;
        } else if opt.eq_ignore_ascii_case(b"MATCH") {
            let p = a.next_bytes()?;
            pattern = if p.as_ref() == b"*" { None } else { Some(p) };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((pattern, count))
}

/// The `[cursor, [elements...]]` reply of the *SCAN commands.
pub fn scan_reply(cursor: u64, elements: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(elements)])
}

/// `(hash-max-listpack-entries, hash-max-listpack-value)`.
fn limits(ctx: &Ctx) -> (u64, u64) {
    (ctx.eng.config.hash_max_listpack_entries, ctx.eng.config.hash_max_listpack_value)
}

// ---------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    hset_generic(ctx, argv, "hset")
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    hset_generic(ctx, argv, "hmset")
}

/// HSET and HMSET: every pair is written (also unchanged ones, which still count as
/// changes, as in Redis); HSET replies the number of new fields, HMSET `+OK`.
fn hset_generic(ctx: &mut Ctx, argv: &[Bytes], name: &str) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(CommandError::WrongArity(name.into()));
    }
    let (entries, max_value) = limits(ctx);
    let key = &argv[1];
    let h = ctx.hash_or_create(key)?;
    h.convert_for_strings(argv[2..].iter().map(|a| a.as_ref()), max_value);
    let created = argv[2..].chunks(2).filter(|p| h.set(&p[0], &p[1], entries, max_value)).count();
    ctx.changed(key, (argv.len() as u64 - 2) / 2);
    ctx.notify(notify::HASH, "hset", key);
    Ok(if name == "hmset" { Reply::ok() } else { Reply::Int(created as i64) })
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (entries, max_value) = limits(ctx);
    let (key, field, value) = (&argv[1], &argv[2], &argv[3]);
    let h = ctx.hash_or_create(key)?;
    if h.contains(field) {
        return Ok(Reply::Int(0));
    }
    h.convert_for_strings([field.as_ref(), value.as_ref()], max_value);
    h.set(field, value, entries, max_value);
    ctx.changed(key, 1);
    ctx.notify(notify::HASH, "hset", key);
    Ok(Reply::Int(1))
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(h) = ctx.get_hash_mut(key)? else { return Ok(Reply::Int(0)) };
    let mut deleted = 0;
    for field in &argv[2..] {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.changed(key, deleted);
        ctx.notify(notify::HASH, "hdel", key);
        ctx.delete_if_empty(key);
    }
    Ok(Reply::Int(deleted as i64))
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_int(&argv[3])?;
    let (entries, max_value) = limits(ctx);
    let (key, field) = (&argv[1], &argv[2]);
    let h = ctx.hash_or_create(key)?;
    let current = match h.get(field) {
        Some(v) => parse_i64(v).ok_or_else(|| CommandError::err("hash value is not an integer"))?,
        None => 0,
    };
    let value = current.checked_add(incr).ok_or(CommandError::Overflow)?;
    h.set(field, itoa::Buffer::new().format(value).as_bytes(), entries, max_value);
    ctx.changed(key, 1);
    ctx.notify(notify::HASH, "hincrby", key);
    Ok(Reply::Int(value))
}

/// HINCRBYFLOAT key field increment
///
/// Long double arithmetic as Redis; propagated as `HSET key field <new value>` so
/// replicas never redo the float math.
pub fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match LongDouble::parse(&argv[3]) {
        Err(_) => return Err(CommandError::NotFloat),
        Ok(None) => return Err(CommandError::err("value is NaN or Infinity")),
        Ok(Some(_)) => {}
    }
    let (entries, max_value) = limits(ctx);
    let (key, field) = (&argv[1], &argv[2]);
    let h = ctx.hash_or_create(key)?;
    let current = h.get(field).unwrap_or(b"0");
    // The increment parsed above, so an error here is about the stored value.
    let new = match incr_by_float(current, &argv[3]) {
        Ok(Some(v)) => v,
        Ok(None) => Err(CommandError::err("increment would produce NaN or Infinity"))?,
        Err(_) => Err(CommandError::err("hash value is not a float"))?,
    };
    h.set(field, new.as_bytes(), entries, max_value);
    ctx.changed(key, 1);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.propagate(make_argv([&b"HSET"[..], key, field, new.as_bytes()]));
    Ok(Reply::bulk(new))
}

// ---------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------

/// HGET key field
pub fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    Ok(h.and_then(|h| h.get(&argv[2])).map_or(Reply::Nil, Reply::bulk_from))
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    let get = |f: &Bytes| h.and_then(|h| h.get(f)).map_or(Reply::Nil, Reply::bulk_from);
    Ok(Reply::Array(argv[2..].iter().map(get).collect()))
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_hash(&argv[1])?.map_or(0, |h| h.len() as i64)))
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_hash(&argv[1])?.is_some_and(|h| h.contains(&argv[2])) as i64))
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    Ok(Reply::Int(h.and_then(|h| h.get(&argv[2])).map_or(0, |v| v.len() as i64)))
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    Ok(Reply::Array(h.map_or_else(Vec::new, |h| h.iter().map(|(f, _)| Reply::bulk_from(f)).collect())))
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    Ok(Reply::Array(h.map_or_else(Vec::new, |h| h.iter().map(|(_, v)| Reply::bulk_from(v)).collect())))
}

/// HGETALL key (a map in RESP3)
pub fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    let pairs =
        h.map_or_else(Vec::new, |h| h.iter().map(|(f, v)| (Reply::bulk_from(f), Reply::bulk_from(v))).collect());
    Ok(Reply::Map(pairs))
}

/// HRANDFIELD key [count [WITHVALUES]]
///
/// Without a count: one field or nil. A positive count returns distinct fields (the
/// whole hash when count ≥ size); a negative one returns |count| independent picks.
/// WITHVALUES replies field, value flat in RESP2 and as pairs in RESP3.
pub fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() < 3 {
        let mut rng = ctx.eng.rng.clone();
        let reply = match ctx.get_hash(&argv[1])? {
            Some(h) => h.random_pair(&mut rng).map_or(Reply::Nil, |(f, _)| Reply::bulk_from(f)),
            None => Reply::Nil,
        };
        ctx.eng.rng = rng;
        return Ok(reply);
    }
    let l = parse_int(&argv[2])?;
    if l == i64::MIN {
        return Err(random_count_range_error());
    }
    let withvalues = match argv.len() {
        3 => false,
        4 if argv[3].eq_ignore_ascii_case(b"WITHVALUES") => true,
        _ => return Err(CommandError::Syntax),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CommandError::err("value is out of range"));
    }
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    let mut rng = ctx.eng.rng.clone();
    let Some(h) = ctx.get_hash(&argv[1])? else { return Ok(Reply::Array(vec![])) };
    if count == 0 {
        return Ok(Reply::Array(vec![]));
    }
    let size = h.len() as u64;
    let pick = |h: &crate::db::HashValue, rng: &mut rand::rngs::SmallRng| {
        h.random_pair(rng).map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)))
    };
    let pairs: Vec<(Bytes, Bytes)> = if !unique || count == 1 {
        if count > MAX_RANDOM_REPLY {
            return Err(CommandError::err("value is out of range"));
        }
        (0..count).filter_map(|_| pick(h, &mut rng)).collect()
    } else if count >= size {
        h.iter().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect()
    } else if let crate::db::HashValue::Listpack(entries) = h {
        // Distinct positions, replied in listpack order (Redis's lpRandomPairsUnique).
        let mut idx = rand::seq::index::sample(&mut rng, entries.len() / 2, count as usize).into_vec();
        idx.sort_unstable();
        let all: Vec<(&[u8], &[u8])> = entries.pairs().collect();
        idx.into_iter().map(|i| (Bytes::copy_from_slice(all[i].0), Bytes::copy_from_slice(all[i].1))).collect()
    } else if count * 3 > size {
        // Close to the whole hash: drop random pairs until `count` remain.
        let mut all: Vec<(Bytes, Bytes)> =
            h.iter().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect();
        while all.len() as u64 > count {
            let i = rand::Rng::gen_range(&mut rng, 0..all.len());
            all.swap_remove(i);
        }
        all
    } else {
        // Much smaller than the hash: random picks until `count` distinct ones.
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(count as usize);
        while (out.len() as u64) < count {
            if let Some((f, v)) = pick(h, &mut rng) {
                if seen.insert(f.clone()) {
                    out.push((f, v));
                }
            }
        }
        out
    };
    ctx.eng.rng = rng;
    let resp3 = ctx.client.resp >= 3;
    let mut items = Vec::with_capacity(pairs.len() * if withvalues && !resp3 { 2 } else { 1 });
    for (f, v) in pairs {
        match (withvalues, resp3) {
            (false, _) => items.push(Reply::Bulk(f)),
            (true, false) => items.extend([Reply::Bulk(f), Reply::Bulk(v)]),
            (true, true) => items.push(Reply::Array(vec![Reply::Bulk(f), Reply::Bulk(v)])),
        }
    }
    Ok(Reply::Array(items))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let Some(h) = ctx.get_hash(&argv[1])? else { return Ok(scan_reply(0, vec![])) };
    let (pattern, count) = parse_scan_options(argv, 3)?;
    let mut out = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            out.extend([Reply::bulk_from(f), Reply::bulk_from(v)]);
        }
    });
    Ok(scan_reply(next, out))
}

/// Test helpers shared with the `sets` tests: an engine with a test client, command
/// lines, the last propagated entry, and keyspace events.
#[cfg(test)]
pub(crate) mod tests {
    use crate::config::{notify, Config};
    use crate::engine::{Client, ClientHandle, Engine};
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::Instant;
    use tokio::sync::mpsc::UnboundedReceiver;

    fn client_with(id: u64) -> (Client, UnboundedReceiver<Bytes>) {
        let (push, rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = ClientHandle {
            kill: Arc::new(tokio::sync::Notify::new()),
            push,
            pending: Default::default(),
            unblocked: Default::default(),
        };
        (Client::new(id, "t".into(), "t".into(), -1, true, handle), rx)
    }

    /// A test client.
    pub(crate) fn client() -> Client {
        client_with(1).0
    }

    /// Runs a space-separated command line.
    pub(crate) fn run(eng: &mut Engine, c: &mut Client, line: &str) {
        let argv: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
        eng.execute(c, &argv, &mut Instant::now());
    }

    /// The last propagated entry, as strings.
    pub(crate) fn last(eng: &Engine) -> Vec<Vec<String>> {
        let entry = eng.propagation_log.back().expect("something propagated");
        entry.iter().map(|(_, a)| a.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()).collect()
    }

    /// Enables every keyevent notification and subscribes a second client to them;
    /// returns its message receiver.
    pub(crate) fn subscribe_keyevents(eng: &mut Engine) -> UnboundedReceiver<Bytes> {
        eng.config.notify_keyspace_events = notify::ALL | notify::KEYEVENT;
        let (sub, rx) = client_with(99);
        eng.clients.insert(99, sub);
        eng.pubsub.patterns.push((Bytes::from_static(b"__keyevent@0__:*"), vec![99]));
        rx
    }

    /// Received keyevents as `event key`.
    pub(crate) fn events(rx: &mut UnboundedReceiver<Bytes>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(msg) = rx.try_recv() {
            let parts: Vec<String> = String::from_utf8_lossy(&msg).split("\r\n").map(String::from).collect();
            // *4 $8 pmessage $n pattern $n channel $n key
            let event = parts[6].trim_start_matches("__keyevent@0__:").to_string();
            out.push(format!("{event} {}", parts[8]));
        }
        out
    }

    #[test]
    fn keyspace_events() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        let mut rx = subscribe_keyevents(&mut eng);
        for line in ["HSET h a 1 b 2", "HSETNX h a 1", "HSETNX h c 3", "HINCRBY h a 1", "HINCRBYFLOAT h a 1.5"] {
            run(&mut eng, &mut c, line);
        }
        run(&mut eng, &mut c, "HDEL h nofield");
        run(&mut eng, &mut c, "HDEL h a b c");
        assert_eq!(events(&mut rx), ["hset h", "hset h", "hincrby h", "hincrbyfloat h", "hdel h", "del h"]);
    }

    #[test]
    fn hincrbyfloat_propagates_hset_with_the_new_value() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "HSET h f 10.5");
        run(&mut eng, &mut c, "HINCRBYFLOAT h f 0.1");
        assert_eq!(last(&eng), vec![vec!["HSET", "h", "f", "10.6"]]);
        run(&mut eng, &mut c, "HINCRBYFLOAT h g 5.0e3");
        assert_eq!(last(&eng), vec![vec!["HSET", "h", "g", "5000"]]);
        let n = eng.propagation_log.len();
        run(&mut eng, &mut c, "HINCRBYFLOAT h f abc");
        assert_eq!(eng.propagation_log.len(), n, "an error propagates nothing");
    }

    #[test]
    fn unchanged_writes_propagate_nothing() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "HSET h f v");
        let n = eng.propagation_log.len();
        run(&mut eng, &mut c, "HDEL h nofield");
        run(&mut eng, &mut c, "HSETNX h f w");
        assert_eq!(eng.propagation_log.len(), n);
        run(&mut eng, &mut c, "HDEL h f");
        assert_eq!(last(&eng), vec![vec!["HDEL", "h", "f"]]);
    }
}
