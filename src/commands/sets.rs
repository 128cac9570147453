//! Set commands (`t_set.c`): membership, SPOP/SRANDMEMBER, SMOVE, the algebra
//! (SINTER, SINTERCARD, SUNION, SDIFF and their STORE forms) and SSCAN. Encodings and
//! their conversions live in `db::set`; this file applies Redis 7.0's checks in
//! Redis's order, replies in Redis's shapes (sets are RESP3 sets), and announces
//! changes. SPOP propagates SREMs (or DEL when it empties the set).

use super::args::parse_int;
use super::error::{CmdResult, CommandError};
use super::hashes::{parse_scan_options, random_count_range_error, scan_reply, MAX_RANDOM_REPLY};
use super::keys::parse_cursor;
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::set::Member;
use crate::db::{SetValue, Value};
use crate::engine::propagate::argv as make_argv;
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;
use rand::Rng;

/// Table rows of the set family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("sadd", -3, "write denyoom fast", "@write @set @fast", (1, 1, 1), "RW,insert|i1|r0,1,0", "", Some(sadd)),
        cmd("srem", -3, "write fast", "@write @set @fast", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(srem)),
        cmd("scard", 2, "readonly fast", "@read @set @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(scard)),
        cmd("sismember", 3, "readonly fast", "@read @set @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(sismember)),
        cmd("smismember", -3, "readonly fast", "@read @set @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(smismember)),
        cmd("smembers", 2, "readonly", "@read @set @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output_order", Some(smembers)),
        cmd("spop", -2, "write fast", "@write @set @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "nondeterministic_output", Some(spop)),
        cmd("srandmember", -2, "readonly", "@read @set @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(srandmember)),
        cmd("smove", 4, "write fast", "@write @set @fast", (1, 2, 1), "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0", "", Some(smove)),
        cmd("sinter", -2, "readonly", "@read @set @slow", (1, -1, 1), "RO,access|i1|r-1,1,0", "nondeterministic_output_order", Some(sinter)),
        cmd("sintercard", -3, "readonly movablekeys", "@read @set @slow", (0, 0, 0), "RO,access|i1|n0,1,1", "", Some(sintercard)),
        cmd("sunion", -2, "readonly", "@read @set @slow", (1, -1, 1), "RO,access|i1|r-1,1,0", "nondeterministic_output_order", Some(sunion)),
        cmd("sdiff", -2, "readonly", "@read @set @slow", (1, -1, 1), "RO,access|i1|r-1,1,0", "nondeterministic_output_order", Some(sdiff)),
        cmd("sinterstore", -3, "write denyoom", "@write @set @slow", (1, -1, 1), "RW,update|i1|r0,1,0;RO,access|i2|r-1,1,0", "", Some(sinterstore)),
        cmd("sunionstore", -3, "write denyoom", "@write @set @slow", (1, -1, 1), "OW,update|i1|r0,1,0;RO,access|i2|r-1,1,0", "", Some(sunionstore)),
        cmd("sdiffstore", -3, "write denyoom", "@write @set @slow", (1, -1, 1), "OW,update|i1|r0,1,0;RO,access|i2|r-1,1,0", "", Some(sdiffstore)),
        cmd("sscan", -3, "readonly", "@read @set @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(sscan)),
    ]
}

/// SPOP with a count removes random members one by one while fewer than this many
/// times the count would remain; otherwise it picks the survivors instead (Redis's
/// `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

/// SRANDMEMBER with a positive count copies the set and removes members while the
/// set is at most this many times the count (Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`).
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

fn max_intset(ctx: &Ctx) -> u64 {
    ctx.eng.config.set_max_intset_entries
}

fn member_reply(m: Member<'_>) -> Reply {
    Reply::Bulk(m.to_bytes())
}

// ---------------------------------------------------------------------------------
// Single-set commands
// ---------------------------------------------------------------------------------

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let max = max_intset(ctx);
    let key = &argv[1];
    let s = ctx.set_or_create(key)?;
    let added = argv[2..].iter().filter(|m| s.add(m, max)).count();
    if added > 0 {
        ctx.changed(key, added as u64);
        ctx.notify(notify::SET, "sadd", key);
    }
    Ok(Reply::Int(added as i64))
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(s) = ctx.get_set_mut(key)? else { return Ok(Reply::Int(0)) };
    let mut deleted = 0;
    for m in &argv[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.changed(key, deleted);
        ctx.notify(notify::SET, "srem", key);
        ctx.delete_if_empty(key);
    }
    Ok(Reply::Int(deleted as i64))
}

/// SCARD key
pub fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_set(&argv[1])?.map_or(0, |s| s.len() as i64)))
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_set(&argv[1])?.is_some_and(|s| s.contains(&argv[2])) as i64))
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = ctx.get_set(&argv[1])?;
    Ok(Reply::Array(argv[2..].iter().map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64)).collect()))
}

/// SMEMBERS key (Redis 7.0 serves it with SINTER's code: a RESP3 set)
pub fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sinter_generic(ctx, &argv[1..2], None, None)
}

/// SMOVE source destination member
///
/// Both keys are looked up first; a missing source replies 0 before the
/// destination's type is checked, as in Redis.
pub fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src, dst, ele) = (&argv[1], &argv[2], &argv[3]);
    let is_set = |e: &mut Entry| matches!(e.val, Value::Set(_));
    let src_is_set = ctx.lookup_write(src).map(is_set);
    let dst_is_set = ctx.lookup_write(dst).map(is_set);
    match src_is_set {
        None => return Ok(Reply::Int(0)),
        Some(false) => return Err(CommandError::WrongType),
        Some(true) if dst_is_set == Some(false) => return Err(CommandError::WrongType),
        Some(true) => {}
    }
    if src == dst {
        return Ok(Reply::Int(ctx.get_set(src)?.is_some_and(|s| s.contains(ele)) as i64));
    }
    let max = max_intset(ctx);
    if !ctx.get_set_mut(src)?.is_some_and(|s| s.remove(ele)) {
        return Ok(Reply::Int(0));
    }
    ctx.notify(notify::SET, "srem", src);
    ctx.delete_if_empty(src);
    ctx.changed(src, 1);
    if ctx.set_or_create(dst)?.add(ele, max) {
        ctx.changed(dst, 1);
        ctx.notify(notify::SET, "sadd", dst);
    }
    Ok(Reply::Int(1))
}

// ---------------------------------------------------------------------------------
// Random members
// ---------------------------------------------------------------------------------

/// SPOP key [count]
///
/// Propagated as `SREM key member` per popped member (several are wrapped in
/// MULTI/EXEC), or as `DEL key` when a count takes the whole set (Redis 7.0).
pub fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return spop_with_count(ctx, argv),
        _ => return Err(CommandError::Syntax),
    }
    let key = &argv[1];
    let mut rng = ctx.eng.rng.clone();
    let Some(s) = ctx.get_set_mut(key)? else { return Ok(Reply::Nil) };
    let Some(ele) = s.pop_random(&mut rng) else { return Ok(Reply::Nil) };
    ctx.eng.rng = rng;
    ctx.notify(notify::SET, "spop", key);
    ctx.propagate(make_argv([&b"SREM"[..], key, &ele]));
    ctx.delete_if_empty(key);
    ctx.changed(key, 1);
    Ok(Reply::Bulk(ele))
}

/// SPOP key count: a RESP3 set of up to `count` distinct members.
fn spop_with_count(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let l = parse_int(&argv[2])
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| CommandError::err("value is out of range, must be positive"))?;
    let (key, count) = (&argv[1], l as u64);
    let max = max_intset(ctx);
    let mut rng = ctx.eng.rng.clone();
    let Some(s) = ctx.get_set_mut(key)? else { return Ok(Reply::Set(vec![])) };
    if count == 0 {
        return Ok(Reply::Set(vec![]));
    }
    let size = s.len() as u64;
    let popped: Vec<Bytes>;
    let whole = count >= size;
    if whole {
        popped = s.iter().map(Member::to_bytes).collect();
        *s = SetValue::default();
    } else if (size - count) * SPOP_MOVE_STRATEGY_MUL > count {
        popped = (0..count).filter_map(|_| s.pop_random(&mut rng)).collect();
    } else {
        // Few survivors: move random ones to a new set, pop everything else.
        let mut survivors = SetValue::default();
        for _ in 0..size - count {
            if let Some(m) = s.pop_random(&mut rng) {
                survivors.add(&m, max);
            }
        }
        popped = s.iter().map(Member::to_bytes).collect();
        *s = survivors;
    }
    ctx.eng.rng = rng;
    ctx.notify(notify::SET, "spop", key);
    if whole {
        ctx.delete_if_empty(key);
        ctx.propagate(make_argv([&b"DEL"[..], key]));
    } else {
        for m in &popped {
            ctx.propagate(make_argv([&b"SREM"[..], key, m]));
        }
    }
    // Redis counts the requested number, also when fewer members were there.
    ctx.changed(key, count);
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

/// SRANDMEMBER key [count]
///
/// A positive count returns distinct members (the whole set when count ≥ size); a
/// negative one returns |count| independent picks. Always an array, also in RESP3.
pub fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return srandmember_with_count(ctx, argv),
        _ => return Err(CommandError::Syntax),
    }
    let mut rng = ctx.eng.rng.clone();
    let reply = match ctx.get_set(&argv[1])? {
        Some(s) => s.random(&mut rng).map_or(Reply::Nil, member_reply),
        None => Reply::Nil,
    };
    ctx.eng.rng = rng;
    Ok(reply)
}

fn srandmember_with_count(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let l = parse_int(&argv[2])?;
    if l == i64::MIN {
        return Err(random_count_range_error());
    }
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    let mut rng = ctx.eng.rng.clone();
    let Some(s) = ctx.get_set(&argv[1])? else { return Ok(Reply::Array(vec![])) };
    if count == 0 {
        return Ok(Reply::Array(vec![]));
    }
    let size = s.len() as u64;
    let reply = if !unique || count == 1 {
        if count > MAX_RANDOM_REPLY {
            return Err(CommandError::err("value is out of range"));
        }
        Reply::Array((0..count).filter_map(|_| s.random(&mut rng)).map(member_reply).collect())
    } else if count >= size {
        Reply::Array(s.iter().map(member_reply).collect())
    } else if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Close to the whole set: drop random members until `count` remain.
        let mut all: Vec<Bytes> = s.iter().map(Member::to_bytes).collect();
        while all.len() as u64 > count {
            let i = rng.gen_range(0..all.len());
            all.swap_remove(i);
        }
        Reply::Array(all.into_iter().map(Reply::Bulk).collect())
    } else {
        // Much smaller than the set: random picks until `count` distinct ones.
        let mut seen = std::collections::HashSet::new();
        while (seen.len() as u64) < count {
            if let Some(m) = s.random(&mut rng) {
                seen.insert(m);
            }
        }
        Reply::Array(seen.into_iter().map(member_reply).collect())
    };
    ctx.eng.rng = rng;
    Ok(reply)
}

// ---------------------------------------------------------------------------------
// Algebra
// ---------------------------------------------------------------------------------

/// Type-checks `keys` in order (lazy expiry; WRONGTYPE for the first non-set, also
/// after a missing key, as Redis checks them all) and returns which exist. STORE
/// forms look up for writing (no hit/miss statistics), as Redis.
fn check_sets(ctx: &mut Ctx, keys: &[Bytes], store: bool) -> Result<Vec<bool>, CommandError> {
    keys.iter()
        .map(|k| if store { ctx.get_set_mut(k).map(|s| s.is_some()) } else { ctx.get_set(k).map(|s| s.is_some()) })
        .collect()
}

/// The sets at `keys` (checked by `check_sets`), `None` for missing keys.
fn sets_of<'c>(ctx: &'c Ctx, keys: &[Bytes]) -> Vec<Option<&'c SetValue>> {
    let db = &ctx.eng.dbs[ctx.client.db];
    keys.iter()
        .map(|k| match db.keys.get(k) {
            Some(Entry { val: Value::Set(s), .. }) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// Stores a non-empty result at `dst` (dropping its TTL) and replies its size, or
/// deletes `dst` and replies 0. An emptied destination propagates as `DEL dst`.
fn store_result(ctx: &mut Ctx, dst: &Bytes, result: SetValue, event: &str) -> CmdResult {
    let n = result.len() as i64;
    if n > 0 {
        ctx.set_value(dst, Value::set(result), false);
        ctx.notify(notify::SET, event, dst);
    } else if ctx.delete(dst) {
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.propagate(make_argv([&b"DEL"[..], dst]));
    }
    Ok(Reply::Int(n))
}

/// SINTER, SMEMBERS, SINTERSTORE (`dst`) and SINTERCARD (`limit`: `Some(0)` is no
/// limit). Iterates the smallest set and keeps members every other set holds, so
/// the reply follows the smallest set's order (ascending for an intset).
fn sinter_generic(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&Bytes>, limit: Option<u64>) -> CmdResult {
    let exist = check_sets(ctx, keys, dst.is_some())?;
    let max = max_intset(ctx);
    let mut found: Vec<Bytes> = Vec::new();
    let mut cardinality = 0u64;
    if exist.iter().all(|e| *e) {
        let mut sets: Vec<&SetValue> = sets_of(ctx, keys).into_iter().flatten().collect();
        sets.sort_by_key(|s| s.len());
        let (first, others) = sets.split_first().expect("at least one key (arity)");
        for m in first.iter() {
            if others.iter().all(|o| std::ptr::eq(*o, *first) || o.contains_member(m)) {
                cardinality += 1;
                match limit {
                    Some(l) if l > 0 && cardinality >= l => break,
                    Some(_) => {}
                    None => found.push(m.to_bytes()),
                }
            }
        }
    }
    if limit.is_some() {
        return Ok(Reply::Int(cardinality as i64));
    }
    match dst {
        Some(dst) => {
            let mut result = SetValue::default();
            for m in &found {
                result.add(m, max);
            }
            store_result(ctx, dst, result, "sinterstore")
        }
        None => Ok(Reply::Set(found.into_iter().map(Reply::Bulk).collect())),
    }
}

/// Set operations built by adding to (and, for SDIFF's second algorithm, removing
/// from) a fresh set, as Redis's `sunionDiffGenericCommand`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION, SDIFF and their STORE forms. The result is built as a set (starting as
/// an intset), so its encoding and reply order are what Redis's would be: ascending
/// when it stays an intset.
fn sunion_diff_generic(ctx: &mut Ctx, keys: &[Bytes], dst: Option<&Bytes>, op: SetOp) -> CmdResult {
    check_sets(ctx, keys, dst.is_some())?;
    let max = max_intset(ctx);
    let sets = sets_of(ctx, keys);
    let mut result = SetValue::default();
    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    m.with_bytes(|b| result.add(b, max));
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = sets[0].filter(|s| !s.is_empty()) {
                // Redis picks the cheaper algorithm; the result's encoding depends on
                // it (the second one may convert on the way and never converts back).
                let present = || sets.iter().flatten();
                let one = first.len() as u64 * sets.len() as u64 / 2;
                let two: u64 = present().map(|s| s.len() as u64).sum();
                if one <= two {
                    for m in first.iter() {
                        if !sets[1..].iter().flatten().any(|o| o.contains_member(m)) {
                            m.with_bytes(|b| result.add(b, max));
                        }
                    }
                } else {
                    for (j, s) in sets.iter().enumerate() {
                        let Some(s) = s else { continue };
                        for m in s.iter() {
                            m.with_bytes(|b| if j == 0 { result.add(b, max) } else { result.remove(b) });
                        }
                        if result.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
    }
    match dst {
        Some(dst) => {
            let event = if op == SetOp::Union { "sunionstore" } else { "sdiffstore" };
            store_result(ctx, dst, result, event)
        }
        None => Ok(Reply::Set(result.iter().map(member_reply).collect())),
    }
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sinter_generic(ctx, &argv[1..], None, None)
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sinter_generic(ctx, &argv[2..], Some(&argv[1]), None)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = parse_int(&argv[1])
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| CommandError::err("numkeys should be greater than 0"))?;
    if numkeys > argv.len() as i64 - 2 {
        return Err(CommandError::err("Number of keys can't be greater than number of args"));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut j = end;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"LIMIT") && j + 1 < argv.len() {
            limit = parse_int(&argv[j + 1])
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CommandError::err("LIMIT can't be negative"))? as u64;
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    sinter_generic(ctx, &argv[2..end], None, Some(limit))
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Union)
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &argv[2..], Some(&argv[1]), SetOp::Union)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Diff)
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sunion_diff_generic(ctx, &argv[2..], Some(&argv[1]), SetOp::Diff)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let Some(s) = ctx.get_set(&argv[1])? else { return Ok(scan_reply(0, vec![])) };
    let (pattern, count) = parse_scan_options(argv, 3)?;
    let mut out = Vec::new();
    let next = s.scan(cursor, count, |m| {
        m.with_bytes(|b| {
            if pattern.is_none_or(|p| glob_match(p, b, false)) {
                out.push(Reply::bulk_from(b));
            }
        })
    });
    Ok(scan_reply(next, out))
}

#[cfg(test)]
mod tests {
    use crate::commands::hashes::tests::{client, events, last, run, subscribe_keyevents};
    use crate::config::Config;
    use crate::engine::Engine;

    #[test]
    fn keyspace_events() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        let mut rx = subscribe_keyevents(&mut eng);
        for line in
            ["SADD s a b", "SADD s a", "SREM s x", "SREM s a", "SMOVE s d b", "SMOVE d d b", "SADD t 1", "SPOP t"]
        {
            run(&mut eng, &mut c, line);
        }
        assert_eq!(events(&mut rx), ["sadd s", "srem s", "srem s", "del s", "sadd d", "sadd t", "spop t", "del t"]);
        for line in ["SADD a 1 2", "SINTERSTORE x a", "SUNIONSTORE y a", "SDIFFSTORE z a", "SINTERSTORE x a nokey"] {
            run(&mut eng, &mut c, line);
        }
        assert_eq!(events(&mut rx), ["sadd a", "sinterstore x", "sunionstore y", "sdiffstore z", "del x"]);
        run(&mut eng, &mut c, "SPOP a 5");
        assert_eq!(events(&mut rx), ["spop a", "del a"]);
    }

    #[test]
    fn spop_propagates_srem() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "SADD s a b c");
        run(&mut eng, &mut c, "SPOP s");
        let e = last(&eng);
        assert_eq!(e.len(), 1);
        assert_eq!(&e[0][..2], ["SREM", "s"]);
        // The last member: still SREM (Redis 7.0), and the key is gone.
        run(&mut eng, &mut c, "SPOP s");
        run(&mut eng, &mut c, "SPOP s");
        assert_eq!(&last(&eng)[0][..2], ["SREM", "s"]);
        assert!(eng.dbs[0].keys.get(b"s".as_ref()).is_none());
    }

    #[test]
    fn spop_count_propagates_srem_per_member_in_multi() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "SADD s 1 2 3 4 5 6 7 8 9 10");
        // Few taken (remove strategy) and most taken (keep-survivors strategy).
        for n in [2, 7] {
            run(&mut eng, &mut c, &format!("SPOP s {n}"));
            let e = last(&eng);
            assert_eq!(e.len(), n + 2);
            assert_eq!(e[0], ["MULTI"]);
            assert_eq!(e[n + 1], ["EXEC"]);
            for srem in &e[1..=n] {
                assert_eq!(&srem[..2], ["SREM", "s"]);
            }
            run(&mut eng, &mut c, "SADD s 1 2 3 4 5 6 7 8 9 10");
        }
    }

    #[test]
    fn spop_count_taking_everything_propagates_del() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "SADD s a b c");
        run(&mut eng, &mut c, "SPOP s 3");
        assert_eq!(last(&eng), vec![vec!["DEL", "s"]]);
        run(&mut eng, &mut c, "SADD s a b c");
        run(&mut eng, &mut c, "SPOP s 100");
        assert_eq!(last(&eng), vec![vec!["DEL", "s"]]);
        let n = eng.propagation_log.len();
        run(&mut eng, &mut c, "SPOP s 0");
        run(&mut eng, &mut c, "SPOP nokey 3");
        assert_eq!(eng.propagation_log.len(), n, "nothing popped, nothing propagated");
    }

    #[test]
    fn empty_store_deletes_destination_and_propagates_del() {
        let mut eng = Engine::new(Config::default());
        let mut c = client();
        run(&mut eng, &mut c, "SADD a 1 2");
        run(&mut eng, &mut c, "SADD dst x");
        run(&mut eng, &mut c, "SINTERSTORE dst a nokey");
        assert_eq!(last(&eng), vec![vec!["DEL", "dst"]]);
        let n = eng.propagation_log.len();
        run(&mut eng, &mut c, "SDIFFSTORE dst a a");
        assert_eq!(eng.propagation_log.len(), n, "no destination, nothing to propagate");
        run(&mut eng, &mut c, "SUNIONSTORE dst a");
        assert_eq!(last(&eng), vec![vec!["SUNIONSTORE", "dst", "a"]]);
    }
}
