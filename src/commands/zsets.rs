//! Sorted set commands (`t_zset.c`): ZADD and friends, ranges by rank, score and lex,
//! removals, pops (blocking ones included), set algebra (ZUNION, ZINTER, ZDIFF and
//! their STORE forms, over sorted sets and plain sets), ZRANDMEMBER and ZSCAN.
//!
//! Replies follow Redis 7.0: scores are doubles (bulk `%.17g` in RESP2, `,` in
//! RESP3), WITHSCORES replies are flat in RESP2 and nested pairs in RESP3.
//! Propagation rewrites: blocking and multi-key pops become ZPOPMIN/ZPOPMAX
//! (`propagate_pop`), a store that stores nothing becomes DEL (`propagate_store_nothing`).

use super::args::{lower, parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::keys::parse_cursor;
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::zset::{LexBound, LexRange, Limits, ScoreRange, ZSetValue};
use crate::db::Value;
use crate::engine::blocking::parse_timeout;
use crate::engine::propagate::argv as argv_of;
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;
use std::collections::HashMap;

/// Table rows of this family.
///
/// ZRANK/ZREVRANK keep 7.0's arity 3 (WITHSCORE arrived in 7.2); their handlers
/// already accept WITHSCORE, so only the arity needs changing to enable it.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("zadd", -4, "write denyoom fast", "@write @sortedset @fast", (1, 1, 1), "RW,update|i1|r0,1,0", "", Some(zadd)),
        cmd("zincrby", 4, "write denyoom fast", "@write @sortedset @fast", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(zincrby)),
        cmd("zscore", 3, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zscore)),
        cmd("zmscore", -3, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zmscore)),
        cmd("zcard", 2, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO|i1|r0,1,0", "", Some(zcard)),
        cmd("zcount", 4, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zcount)),
        cmd("zlexcount", 4, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zlexcount)),
        cmd("zrange", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrange)),
        cmd("zrangestore", -5, "write denyoom", "@write @sortedset @slow", (1, 2, 1), "OW,update|i1|r0,1,0;RO,access|i2|r0,1,0", "", Some(zrangestore)),
        cmd("zrangebyscore", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrangebyscore)),
        cmd("zrevrangebyscore", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrevrangebyscore)),
        cmd("zrangebylex", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrangebylex)),
        cmd("zrevrangebylex", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrevrangebylex)),
        cmd("zrevrange", -4, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrevrange)),
        // WITHSCORE (Redis 7.2) is supported, hence arity -3 where 7.0 says 3.
        cmd("zrank", -3, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrank)),
        cmd("zrevrank", -3, "readonly fast", "@read @sortedset @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(zrevrank)),
        cmd("zrem", -3, "write fast", "@write @sortedset @fast", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(zrem)),
        cmd("zremrangebyrank", 4, "write", "@write @sortedset @slow", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(zremrangebyrank)),
        cmd("zremrangebyscore", 4, "write", "@write @sortedset @slow", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(zremrangebyscore)),
        cmd("zremrangebylex", 4, "write", "@write @sortedset @slow", (1, 1, 1), "RW,delete|i1|r0,1,0", "", Some(zremrangebylex)),
        cmd("zpopmin", -2, "write fast", "@write @sortedset @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "", Some(zpopmin)),
        cmd("zpopmax", -2, "write fast", "@write @sortedset @fast", (1, 1, 1), "RW,access,delete|i1|r0,1,0", "", Some(zpopmax)),
        cmd("bzpopmin", -3, "write noscript blocking fast", "@write @sortedset @fast @blocking", (1, -2, 1), "RW,access,delete|i1|r-2,1,0", "", Some(bzpopmin)),
        cmd("bzpopmax", -3, "write noscript blocking fast", "@write @sortedset @fast @blocking", (1, -2, 1), "RW,access,delete|i1|r-2,1,0", "", Some(bzpopmax)),
        cmd("zmpop", -4, "write movablekeys", "@write @sortedset @slow", (0, 0, 0), "RW,access,delete|i1|n0,1,1", "", Some(zmpop)),
        cmd("bzmpop", -5, "write blocking movablekeys", "@write @sortedset @slow @blocking", (0, 0, 0), "RW,access,delete|i2|n0,1,1", "", Some(bzmpop)),
        cmd("zunion", -3, "readonly movablekeys", "@read @sortedset @slow", (0, 0, 0), "RO,access|i1|n0,1,1", "", Some(zunion)),
        cmd("zinter", -3, "readonly movablekeys", "@read @sortedset @slow", (0, 0, 0), "RO,access|i1|n0,1,1", "", Some(zinter)),
        cmd("zdiff", -3, "readonly movablekeys", "@read @sortedset @slow", (0, 0, 0), "RO,access|i1|n0,1,1", "", Some(zdiff)),
        cmd("zunionstore", -4, "write denyoom movablekeys", "@write @sortedset @slow", (1, 1, 1), "OW,update|i1|r0,1,0;RO,access|i2|n0,1,1", "", Some(zunionstore)),
        cmd("zinterstore", -4, "write denyoom movablekeys", "@write @sortedset @slow", (1, 1, 1), "OW,update|i1|r0,1,0;RO,access|i2|n0,1,1", "", Some(zinterstore)),
        cmd("zdiffstore", -4, "write denyoom movablekeys", "@write @sortedset @slow", (1, 1, 1), "OW,update|i1|r0,1,0;RO,access|i2|n0,1,1", "", Some(zdiffstore)),
        cmd("zintercard", -3, "readonly movablekeys", "@read @sortedset @slow", (0, 0, 0), "RO,access|i1|n0,1,1", "", Some(zintercard)),
        cmd("zrandmember", -2, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(zrandmember)),
        cmd("zscan", -3, "readonly", "@read @sortedset @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(zscan)),
    ]
}

/* ------------------------------ Parsing ------------------------------ */

/// C `strtod` on `s`: the value and the number of bytes consumed (0 when no number
/// was read). Leading whitespace, a sign, `inf`/`infinity`/`nan`, decimal and
/// hexadecimal (`0x1.8p3`) forms, like glibc. Also says whether the result
/// overflowed or underflowed (`ERANGE`).
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if starts(b"inf") {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if starts(b"nan") {
        return (f64::NAN, i + 3, false);
    }
    if (starts(b"0x") || starts(b"0X")) && rest.len() > 2 {
        if let Some((v, n)) = hex_float(&rest[2..]) {
            return (sign * v, i + 2 + n, v.is_infinite());
        }
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    let mut j = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        j += 1;
        digits += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] == b'e' || rest[j] == b'E') {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (sign * v, i + j, erange)
}

/// A hexadecimal float mantissa and optional binary exponent (after `0x`).
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut v = 0f64;
    let mut j = 0;
    let mut digits = 0;
    let mut scale = 0i32;
    while j < s.len() && s[j].is_ascii_hexdigit() {
        v = v * 16.0 + (s[j] as char).to_digit(16)? as f64;
        j += 1;
        digits += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        while j < s.len() && s[j].is_ascii_hexdigit() {
            v = v * 16.0 + (s[j] as char).to_digit(16)? as f64;
            scale -= 4;
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if j < s.len() && (s[j] == b'p' || s[j] == b'P') {
        let mut k = j + 1;
        let eneg = k < s.len() && s[k] == b'-';
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e = 0i32;
            while k < s.len() && s[k].is_ascii_digit() {
                e = e.saturating_mul(10).saturating_add((s[k] - b'0') as i32);
                k += 1;
            }
            scale = scale.saturating_add(if eneg { -e } else { e });
            j = k;
        }
    }
    Some((v * 2f64.powi(scale), j))
}

/// A score argument, as Redis's `string2d`: the whole argument is a number, no
/// leading space, no NaN, no overflow. Else "value is not a valid float".
fn parse_score(arg: &[u8]) -> Result<f64, CommandError> {
    let (v, used, erange) = strtod(arg);
    let bad = arg.is_empty()
        || arg[0].is_ascii_whitespace()
        || arg[0] == b'\x0b'
        || used != arg.len()
        || v.is_nan()
        || (erange && (v.is_infinite() || v == 0.0));
    if bad {
        Err(CommandError::NotFloat)
    } else {
        Ok(v)
    }
}

/// One end of a score range (Redis's `zslParseRange`, which calls `strtod` and only
/// asks that it stop at the end of the C string).
fn parse_range_end(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (v, used, _) = strtod(text);
    let stop_ok = used == text.len() || text[used] == 0;
    (stop_ok && !v.is_nan()).then_some((v, ex))
}

/// `min max` of ZRANGEBYSCORE and friends.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CommandError> {
    let bad = || CommandError::err("min or max is not a float");
    let (min, minex) = parse_range_end(min).ok_or_else(bad)?;
    let (max, maxex) = parse_range_end(max).ok_or_else(bad)?;
    Ok(ScoreRange { min, max, minex, maxex })
}

fn parse_lex_end(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'[' => Some(LexBound::Incl(arg[1..].to_vec())),
        b'(' => Some(LexBound::Excl(arg[1..].to_vec())),
        _ => None,
    }
}

/// `min max` of ZRANGEBYLEX and friends.
fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CommandError> {
    let bad = || CommandError::err("min or max not valid string range item");
    Ok(LexRange { min: parse_lex_end(min).ok_or_else(bad)?, max: parse_lex_end(max).ok_or_else(bad)? })
}

/// A positive count (`getPositiveLongFromObjectOrReply` without a message).
fn parse_positive(arg: &[u8]) -> Result<i64, CommandError> {
    match crate::util::num::parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v),
        _ => Err(CommandError::err("value is out of range, must be positive")),
    }
}

/// An integer in `1..` whose errors all read `msg` (numkeys, COUNT of ZMPOP).
fn parse_at_least_one(arg: &[u8], msg: &str) -> Result<usize, CommandError> {
    match crate::util::num::parse_i64(arg) {
        Some(v) if v >= 1 => Ok(v as usize),
        _ => Err(CommandError::err(msg)),
    }
}

/* ------------------------------ Helpers ------------------------------ */

fn limits(ctx: &Ctx) -> Limits {
    let c = &ctx.eng.config;
    Limits { entries: c.zset_max_listpack_entries as usize, value: c.zset_max_listpack_value as usize }
}

/// Member/score pairs as Redis replies them: members only, or with scores flat in
/// RESP2 and as `[member, score]` pairs in RESP3.
fn pairs_reply(ctx: &Ctx, pairs: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    if !withscores {
        return Reply::Array(pairs.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if ctx.client.resp >= 3 {
        Reply::Array(pairs.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect())
    } else {
        Reply::Array(pairs.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect())
    }
}

/// Stores `pairs` (sorted) at `dst` for a *STORE command, replying its size. An
/// empty result deletes `dst` instead.
fn store_result(ctx: &mut Ctx, dst: &Bytes, pairs: Vec<(Bytes, f64)>, event: &str) -> CmdResult {
    let n = pairs.len();
    if n == 0 {
        if ctx.delete(dst) {
            ctx.changed(dst, 0);
            ctx.notify(notify::GENERIC, "del", dst);
            propagate_store_nothing(ctx, dst);
        }
        return Ok(Reply::Int(0));
    }
    let lim = limits(ctx);
    ctx.set_value(dst, Value::zset(ZSetValue::from_sorted(pairs, lim)), false);
    ctx.changed(dst, 0);
    ctx.notify(notify::ZSET, event, dst);
    Ok(Reply::Int(n as i64))
}

/// Propagation rewrite: a store command that stored nothing only deleted `dst`.
fn propagate_store_nothing(ctx: &mut Ctx, dst: &Bytes) {
    ctx.propagate(argv_of([b"DEL".as_slice(), dst]));
}

/// Propagation rewrite of a pop that blocked or named several keys: what happened
/// is a ZPOPMIN/ZPOPMAX of one key (with the requested count for [B]ZMPOP).
fn propagate_pop(ctx: &mut Ctx, key: &Bytes, max: bool, count: Option<usize>) {
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut v = argv_of([name, key]);
    if let Some(c) = count {
        v.push(Bytes::from(c.to_string()));
    }
    ctx.propagate(v);
}

/* ------------------------------ ZADD ------------------------------ */

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, false)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, true)
}

/// ZADD and ZINCRBY (which Redis parses with the same code, flags included).
fn zadd_generic(ctx: &mut Ctx, argv: &[Bytes], mut incr: bool) -> CmdResult {
    let key = &argv[1];
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut i = 2;
    // Options are matched without allocating: ZADD is a hot command.
    while i < argv.len() {
        let a = argv[i].as_ref();
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        if is("nx") {
            nx = true;
        } else if is("xx") {
            xx = true;
        } else if is("gt") {
            gt = true;
        } else if is("lt") {
            lt = true;
        } else if is("ch") {
            ch = true;
        } else if is("incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if nx && xx {
        return Err(CommandError::err("XX and NX options at the same time are not compatible"));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CommandError::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && rest.len() > 2 {
        return Err(CommandError::err("INCR option supports a single increment-element pair"));
    }
    let scores = rest.chunks(2).map(|p| parse_score(&p[0])).collect::<Result<Vec<f64>, _>>()?;
    let lim = limits(ctx);
    let exists = ctx.exists(key);
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    let mut nan = false;
    if exists || !xx {
        let z = ctx.zset_or_create(key)?;
        for (pair, &score) in rest.chunks(2).zip(&scores) {
            let member = &pair[1];
            let mut score = score;
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = score;
                    if score != cur {
                        z.set(member, score, lim);
                        updated += 1;
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    z.set(member, score, lim);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
        if added + updated > 0 {
            ctx.changed(key, added + updated);
            ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
        } else {
            ctx.discard_if_empty(key);
        }
    }
    if nan {
        return Err(CommandError::err("resulting score is not a number (NaN)"));
    }
    Ok(if incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int((if ch { added + updated } else { added }) as i64)
    })
}

/* ------------------------------ Reads ------------------------------ */

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let score = ctx.get_zset(&argv[1])?.and_then(|z| z.score(&argv[2]));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let z = ctx.get_zset(&argv[1])?;
    let out = argv[2..].iter().map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double)).collect();
    Ok(Reply::Array(out))
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.get_zset(&argv[1])?.map_or(0, |z| z.len()) as i64))
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = parse_score_range(&argv[2], &argv[3])?;
    let n = ctx.get_zset(&argv[1])?.map_or(0, |z| {
        let (a, b) = z.score_ranks(&r);
        b - a
    });
    Ok(Reply::Int(n as i64))
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let r = parse_lex_range(&argv[2], &argv[3])?;
    let n = ctx.get_zset(&argv[1])?.map_or(0, |z| {
        let (a, b) = z.lex_ranks(&r);
        b - a
    });
    Ok(Reply::Int(n as i64))
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, argv, false)
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, argv, true)
}

/// ZRANK/ZREVRANK with Redis 7.2's optional WITHSCORE (`[rank, score]`, or a null
/// array when the member is missing).
fn zrank_generic(ctx: &mut Ctx, argv: &[Bytes], rev: bool) -> CmdResult {
    if argv.len() > 4 {
        return Err(CommandError::WrongArity(lower(&argv[0])));
    }
    let withscore = argv.len() == 4;
    if withscore && !argv[3].eq_ignore_ascii_case(b"withscore") {
        return Err(CommandError::Syntax);
    }
    let missing = if withscore { Reply::NilArray } else { Reply::Nil };
    let Some(z) = ctx.get_zset(&argv[1])? else { return Ok(missing) };
    let Some((rank, score)) = z.rank(&argv[2]) else { return Ok(missing) };
    let rank = if rev { z.len() - 1 - rank } else { rank } as i64;
    Ok(if withscore { Reply::Array(vec![Reply::Int(rank), Reply::Double(score)]) } else { Reply::Int(rank) })
}

/* ------------------------------ Ranges ------------------------------ */

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Clamps Redis rank arguments (negative from the end) to ranks `[start, end)`.
fn rank_window(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut s = if start < 0 { start + llen } else { start };
    let mut e = if end < 0 { end + llen } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    Some((s as usize, e as usize + 1))
}

/// The members selected by `spec` (ranks in the direction of `rev`), LIMIT applied.
fn select_range(z: &ZSetValue, spec: &RangeSpec, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let len = z.len();
    let (a, b) = match spec {
        RangeSpec::Rank(s, e) => {
            let Some((s, e)) = rank_window(len, *s, *e) else { return Vec::new() };
            if !rev {
                return z.range(s, e);
            }
            let mut v = z.range(len - e, len - s);
            v.reverse();
            return v;
        }
        RangeSpec::Score(r) => z.score_ranks(r),
        RangeSpec::Lex(r) => z.lex_ranks(r),
    };
    // A negative offset skips everything in Redis; a negative limit means "all".
    if offset < 0 || offset as u64 >= (b - a) as u64 {
        return Vec::new();
    }
    let avail = b - a - offset as usize;
    let take = if limit < 0 { avail } else { (limit as u64).min(avail as u64) as usize };
    let off = offset as usize;
    if !rev {
        z.range(a + off, a + off + take)
    } else {
        let mut v = z.range(b - off - take, b - off);
        v.reverse();
        v
    }
}

/// ZRANGE, ZRANGESTORE and the legacy range commands (Redis's
/// `zrangeGenericCommand`): `key_idx` is the source key's index; `kind` and `rev`
/// are fixed by the legacy commands and read from BYSCORE/BYLEX/REV otherwise.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    key_idx: usize,
    store: Option<&Bytes>,
    kind: Option<RangeKind>,
    rev: Option<bool>,
) -> CmdResult {
    // Each of BYSCORE/BYLEX and REV may appear once, and not in the legacy commands.
    let (mut kind_opt, mut rev_opt) = (kind, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = key_idx + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if store.is_none() && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            offset = parse_int(&argv[j + 1])?;
            limit = parse_int(&argv[j + 2])?;
            j += 2;
        } else if rev_opt.is_none() && a.eq_ignore_ascii_case(b"rev") {
            rev_opt = Some(true);
        } else if kind_opt.is_none() && a.eq_ignore_ascii_case(b"bylex") {
            kind_opt = Some(RangeKind::Lex);
        } else if kind_opt.is_none() && a.eq_ignore_ascii_case(b"byscore") {
            kind_opt = Some(RangeKind::Score);
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    let kind = kind_opt.unwrap_or(RangeKind::Rank);
    if limit != -1 && kind == RangeKind::Rank {
        return Err(CommandError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(CommandError::err("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut lo, mut hi) = (&argv[key_idx + 1], &argv[key_idx + 2]);
    if rev && kind != RangeKind::Rank {
        // BYSCORE/BYLEX ranges are given as max min when reversed.
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match kind {
        RangeKind::Rank => RangeSpec::Rank(parse_int(lo)?, parse_int(hi)?),
        RangeKind::Score => RangeSpec::Score(parse_score_range(lo, hi)?),
        RangeKind::Lex => RangeSpec::Lex(parse_lex_range(lo, hi)?),
    };
    let pairs = match ctx.get_zset(&argv[key_idx])? {
        Some(z) => select_range(z, &spec, rev, offset, limit),
        None => Vec::new(),
    };
    match store {
        Some(dst) => {
            let mut pairs = pairs;
            if rev {
                pairs.reverse();
            }
            store_result(ctx, dst, pairs, "zrangestore")
        }
        None => Ok(pairs_reply(ctx, pairs, withscores)),
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, None, None)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(&argv[1]), None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeKind::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeKind::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeKind::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeKind::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, Some(RangeKind::Lex), Some(true))
}

/* ------------------------------ Removal ------------------------------ */

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(z) = ctx.get_zset_mut(key)? else { return Ok(Reply::Int(0)) };
    let mut deleted = 0u64;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(notify::ZSET, "zrem", key);
        ctx.delete_if_empty(key);
        ctx.changed(key, deleted);
    }
    Ok(Reply::Int(deleted as i64))
}

/// ZREMRANGEBYRANK / BYSCORE / BYLEX (Redis's `zremrangeGenericCommand`).
fn zremrange_generic(ctx: &mut Ctx, argv: &[Bytes], kind: RangeKind) -> CmdResult {
    let key = &argv[1];
    let (spec, event) = match kind {
        RangeKind::Rank => (RangeSpec::Rank(parse_int(&argv[2])?, parse_int(&argv[3])?), "zremrangebyrank"),
        RangeKind::Score => (RangeSpec::Score(parse_score_range(&argv[2], &argv[3])?), "zremrangebyscore"),
        RangeKind::Lex => (RangeSpec::Lex(parse_lex_range(&argv[2], &argv[3])?), "zremrangebylex"),
    };
    let Some(z) = ctx.get_zset_mut(key)? else { return Ok(Reply::Int(0)) };
    let (a, b) = match &spec {
        RangeSpec::Rank(s, e) => rank_window(z.len(), *s, *e).unwrap_or((0, 0)),
        RangeSpec::Score(r) => z.score_ranks(r),
        RangeSpec::Lex(r) => z.lex_ranks(r),
    };
    let removed = z.remove_range(a, b).len() as u64;
    if removed > 0 {
        ctx.changed(key, removed);
        ctx.notify(notify::ZSET, event, key);
        ctx.delete_if_empty(key);
    }
    Ok(Reply::Int(removed as i64))
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeKind::Rank)
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeKind::Score)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeKind::Lex)
}

/* ------------------------------ Pops ------------------------------ */

/// The first of `keys` that holds a sorted set (WRONGTYPE if the first existing
/// key holds something else, as Redis stops there).
fn first_zset(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Option<Bytes>, CommandError> {
    for k in keys {
        if let Some(z) = ctx.get_zset_mut(k)? {
            if !z.is_empty() {
                return Ok(Some(k.clone()));
            }
        }
    }
    Ok(None)
}

/// Pops up to `count` members from the low (or high, `max`) end of the sorted set
/// at `key` (which exists), in pop order; notifies and deletes the emptied key.
fn pop_members(ctx: &mut Ctx, key: &Bytes, max: bool, count: usize) -> Result<Vec<(Bytes, f64)>, CommandError> {
    let Some(z) = ctx.get_zset_mut(key)? else { return Ok(Vec::new()) };
    let len = z.len();
    let n = count.min(len);
    let popped = if max {
        let mut v = z.remove_range(len - n, len);
        v.reverse();
        v
    } else {
        z.remove_range(0, n)
    };
    ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    ctx.delete_if_empty(key);
    ctx.changed(key, n as u64);
    Ok(popped)
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

/// ZPOPMIN/ZPOPMAX: flat pairs without a count (or in RESP2), nested pairs in RESP3
/// with a count. Propagated verbatim.
fn zpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let count = match argv.get(2) {
        Some(c) => Some(parse_positive(c)? as usize),
        None => None,
    };
    let key = first_zset(ctx, &argv[1..2])?;
    let Some(key) = key.filter(|_| count != Some(0)) else { return Ok(Reply::Array(Vec::new())) };
    let popped = pop_members(ctx, &key, max, count.unwrap_or(1))?;
    if count.is_some() {
        Ok(pairs_reply(ctx, popped, true))
    } else {
        Ok(Reply::Array(popped.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect()))
    }
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, true)
}

/// BZPOPMIN/BZPOPMAX: `[key, member, score]` from the first non-empty key, else
/// block (a null array on timeout, or at once inside MULTI).
fn bzpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let timeout = parse_timeout(&argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    if let Some(key) = first_zset(ctx, keys)? {
        let popped = pop_members(ctx, &key, max, 1)?;
        propagate_pop(ctx, &key, max, None);
        let mut out = vec![Reply::Bulk(key)];
        for (m, s) in popped {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
        return Ok(Reply::Array(out));
    }
    if ctx.may_block() {
        ctx.block(keys, timeout, Reply::NilArray)
    } else {
        Ok(Reply::NilArray)
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 1, false)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 2, true)
}

/// ZMPOP/BZMPOP: `[key, [[member, score], ...]]` or a null array; propagated as
/// ZPOPMIN/ZPOPMAX key count.
fn zmpop_generic(ctx: &mut Ctx, argv: &[Bytes], numkeys_idx: usize, blocking: bool) -> CmdResult {
    let numkeys = parse_at_least_one(&argv[numkeys_idx], "numkeys should be greater than 0")?;
    let where_idx = numkeys_idx.checked_add(numkeys).and_then(|v| v.checked_add(1)).filter(|&w| w < argv.len());
    let Some(where_idx) = where_idx else { return Err(CommandError::Syntax) };
    let max = match lower(&argv[where_idx]).as_str() {
        "min" => false,
        "max" => true,
        _ => return Err(CommandError::Syntax),
    };
    let mut count = None;
    let mut a = Args::at(argv, where_idx + 1);
    while let Some(opt) = a.next_opt() {
        if count.is_none() && opt.eq_ignore_ascii_case(b"count") && a.remaining() > 0 {
            count = Some(parse_at_least_one(a.next_bytes()?, "count should be greater than 0")?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let count = count.unwrap_or(1);
    let timeout = if blocking { parse_timeout(&argv[1])? } else { None };
    let keys = &argv[numkeys_idx + 1..where_idx];
    if let Some(key) = first_zset(ctx, keys)? {
        let popped = pop_members(ctx, &key, max, count)?;
        propagate_pop(ctx, &key, max, Some(count));
        let pairs = popped.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect();
        return Ok(Reply::Array(vec![Reply::Bulk(key), Reply::Array(pairs)]));
    }
    if blocking && ctx.may_block() {
        ctx.block(keys, timeout, Reply::NilArray)
    } else {
        Ok(Reply::NilArray)
    }
}

/* ------------------------------ Set algebra ------------------------------ */

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Folds `val` into `target` (a SUM of +inf and -inf is 0, as in Redis).
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// One input of a set operation: its members with scores (1 for a plain set).
struct Source {
    pairs: Vec<(Bytes, f64)>,
    index: HashMap<Bytes, f64>,
    weight: f64,
}

impl Source {
    fn find(&self, m: &Bytes) -> Option<f64> {
        self.index.get(m).copied()
    }
}

/// Reads one input: a sorted set, a set (scores 1), or nothing; other types are
/// WRONGTYPE.
/// `write` looks the key up as a write would (no hit/miss stats), as Redis does for
/// the inputs of the STORE forms.
fn read_source(ctx: &mut Ctx, key: &[u8], write: bool) -> Result<Source, CommandError> {
    let entry = if write { ctx.lookup_write(key).map(|e| &*e) } else { ctx.lookup_read(key) };
    let pairs: Vec<(Bytes, f64)> = match entry {
        None => Vec::new(),
        Some(Entry { val: Value::ZSet(z), .. }) => z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect(),
        Some(Entry { val: Value::Set(s), .. }) => s.members().into_iter().map(|m| (Bytes::from(m), 1.0)).collect(),
        Some(_) => return Err(CommandError::WrongType),
    };
    let index = pairs.iter().cloned().collect();
    Ok(Source { pairs, index, weight: 1.0 })
}

/// Redis's `zunionInterDiffGenericCommand`: ZUNION/ZINTER/ZDIFF, their STORE forms
/// (`dst`) and ZINTERCARD (`card`). Inputs are read (and type-checked) before the
/// options are parsed, as in Redis.
fn setop_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    numkeys_idx: usize,
    dst: Option<&Bytes>,
    op: SetOp,
    card: bool,
) -> CmdResult {
    let numkeys = parse_int(&argv[numkeys_idx])?;
    if numkeys < 1 {
        return Err(CommandError::err(format!("at least 1 input key is needed for '{}' command", lower(&argv[0]))));
    }
    if numkeys > (argv.len() - numkeys_idx - 1) as i64 {
        return Err(CommandError::Syntax);
    }
    let numkeys = numkeys as usize;
    let mut srcs = Vec::with_capacity(numkeys);
    for key in &argv[numkeys_idx + 1..numkeys_idx + 1 + numkeys] {
        srcs.push(read_source(ctx, key, dst.is_some())?);
    }
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_idx + 1 + numkeys;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && remaining > numkeys && a.eq_ignore_ascii_case(b"weights") {
            for (i, s) in srcs.iter_mut().enumerate() {
                s.weight =
                    parse_score(&argv[j + 1 + i]).map_err(|_| CommandError::err("weight value is not a float"))?;
            }
            j += 1 + numkeys;
        } else if op != SetOp::Diff && remaining >= 2 && a.eq_ignore_ascii_case(b"aggregate") {
            how = match lower(&argv[j + 1]).as_str() {
                "sum" => Aggregate::Sum,
                "min" => Aggregate::Min,
                "max" => Aggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
            j += 2;
        } else if dst.is_none() && !card && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && a.eq_ignore_ascii_case(b"limit") {
            limit = match crate::util::num::parse_i64(&argv[j + 1]) {
                Some(v) if v >= 0 => v as usize,
                _ => return Err(CommandError::err("LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if op != SetOp::Diff {
        // Smallest inputs first, as Redis does (it fixes the order of SUMs too).
        srcs.sort_by_key(|s| s.pairs.len());
    }
    if card {
        let mut n = 0usize;
        for (m, _) in &srcs[0].pairs {
            if srcs[1..].iter().all(|s| s.index.contains_key(m)) {
                n += 1;
                if limit > 0 && n >= limit {
                    break;
                }
            }
        }
        return Ok(Reply::Int(n as i64));
    }
    let mut result: Vec<(Bytes, f64)> = match op {
        SetOp::Inter => {
            let mut out = Vec::new();
            'members: for (m, s) in &srcs[0].pairs {
                let mut score = srcs[0].weight * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for other in &srcs[1..] {
                    match other.find(m) {
                        Some(v) => aggregate(&mut score, v * other.weight, how),
                        None => continue 'members,
                    }
                }
                out.push((m.clone(), score));
            }
            out
        }
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for src in &srcs {
                for (m, s) in &src.pairs {
                    let mut score = src.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(cur) => aggregate(cur, score, how),
                        None => {
                            acc.insert(m.clone(), score);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Diff => {
            srcs[0].pairs.iter().filter(|(m, _)| srcs[1..].iter().all(|s| !s.index.contains_key(m))).cloned().collect()
        }
    };
    result
        .sort_by(|(m1, s1), (m2, s2)| s1.partial_cmp(s2).unwrap_or(std::cmp::Ordering::Equal).then_with(|| m1.cmp(m2)));
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, dst, result, event)
        }
        None => Ok(pairs_reply(ctx, result, withscores)),
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Diff, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 2, Some(&argv[1]), SetOp::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    setop_generic(ctx, argv, 1, None, SetOp::Inter, true)
}

/* ------------------------------ Random and scan ------------------------------ */

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use rand::Rng;
    let mut count = None;
    let mut withscores = false;
    if argv.len() >= 3 {
        let l = parse_int(&argv[2])?;
        if l == i64::MIN {
            return Err(CommandError::err(format!(
                "value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            )));
        }
        if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withscores")) {
            return Err(CommandError::Syntax);
        }
        if argv.len() == 4 {
            withscores = true;
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
                return Err(CommandError::err("value is out of range"));
            }
        }
        count = Some(l);
    }
    // The value borrows the context: draw from a copy of the server's rng, then
    // store the advanced copy back.
    let mut rng = ctx.eng.rng.clone();
    let picked = {
        let Some(z) = ctx.get_zset(&argv[1])? else {
            return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
        };
        let size = z.len();
        let own = |i: usize| z.at(i).map(|(m, s)| (Bytes::copy_from_slice(m), s));
        match count {
            None => {
                let pick = own(rng.gen_range(0..size));
                Picked::Reply(pick.map_or(Reply::Nil, |(m, _)| Reply::Bulk(m)))
            }
            Some(0) => Picked::Pairs(Vec::new()),
            Some(l) if l < 0 => {
                let n = l.unsigned_abs() as usize;
                let v: Vec<(Bytes, f64)> = (0..n).filter_map(|_| own(rng.gen_range(0..size))).collect();
                Picked::Pairs(v)
            }
            Some(l) if l as usize >= size => {
                // The whole set, from the highest score down (Redis's iteration order here).
                let mut v = z.range(0, size);
                v.reverse();
                Picked::Pairs(v)
            }
            Some(l) => {
                let mut idx = rand::seq::index::sample(&mut rng, size, l as usize).into_vec();
                if matches!(z, ZSetValue::Listpack(_)) {
                    idx.sort_unstable();
                }
                Picked::Pairs(idx.into_iter().filter_map(own).collect())
            }
        }
    };
    ctx.eng.rng = rng;
    Ok(match picked {
        Picked::Reply(r) => r,
        Picked::Pairs(v) => pairs_reply(ctx, v, withscores),
    })
}

/// What ZRANDMEMBER picked: a finished reply or pairs to format.
enum Picked {
    Reply(Reply),
    Pairs(Vec<(Bytes, f64)>),
}

/// A score as Redis's `d2string` writes it (ZSCAN, listpack entries): integral
/// values within ±2^62 as integers, `-0`, `inf`, else `%.17g`.
fn d2string(v: f64) -> String {
    const BOUND: f64 = (i64::MAX / 2) as f64;
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if (-BOUND..=BOUND).contains(&v) && v.fract() == 0.0 {
        return (v as i64).to_string();
    }
    crate::util::num::format_g17(v)
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    if ctx.get_zset(&argv[1])?.is_none() {
        return Ok(empty());
    }
    let mut pattern: Option<&Bytes> = None;
    let mut count = 10i64;
    let mut i = 3;
    while i < argv.len() {
        let left = argv.len() - i;
        if argv[i].eq_ignore_ascii_case(b"count") && left >= 2 {
            count = parse_int(&argv[i + 1])?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
        } else if argv[i].eq_ignore_ascii_case(b"match") && left >= 2 {
            pattern = Some(&argv[i + 1]).filter(|p| p.as_ref() != b"*");
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let Some(z) = ctx.get_zset(&argv[1])? else { return Ok(empty()) };
    let mut out = Vec::new();
    let next = z.scan(cursor, count as usize, |m, s| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            out.push(Reply::bulk_from(m));
            out.push(Reply::bulk(d2string(s)));
        }
    });
    Ok(Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(out)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testing::{one, TestEngine};
    use crate::engine::{Client, ClientHandle};
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn bzpop_served_at_once_propagates_zpop() {
        let mut t = TestEngine::new();
        t.run("ZADD z 1 a 2 b 3 c");
        t.propagated();
        t.run("BZPOPMIN nokey z 0");
        assert_eq!(one(&mut t), vec!["ZPOPMIN z"]);
        t.run("BZPOPMAX z 1");
        assert_eq!(one(&mut t), vec!["ZPOPMAX z"]);
        t.run("ZPOPMIN z 5");
        assert_eq!(one(&mut t), vec!["ZPOPMIN z 5"], "ZPOPMIN itself stays verbatim");
        t.run("MULTI");
        t.run("BZPOPMIN z 0");
        assert_eq!(t.run("EXEC"), Reply::Array(vec![Reply::NilArray]));
        assert!(t.propagated().is_empty(), "nothing popped, nothing propagated");
    }

    #[test]
    fn zmpop_and_bzmpop_propagate_zpop_with_count() {
        let mut t = TestEngine::new();
        t.run("ZADD z 1 a 2 b 3 c");
        t.propagated();
        t.run("ZMPOP 2 nokey z MAX");
        assert_eq!(one(&mut t), vec!["ZPOPMAX z 1"]);
        t.run("BZMPOP 0 1 z MIN COUNT 10");
        assert_eq!(one(&mut t), vec!["ZPOPMIN z 10"]);
        t.run("ZMPOP 1 z MIN");
        assert!(t.propagated().is_empty());
    }

    #[test]
    fn bzpop_served_after_blocking_propagates_zpop() {
        let mut t = TestEngine::new();
        let handle = ClientHandle {
            kill: Arc::new(tokio::sync::Notify::new()),
            push: tokio::sync::mpsc::unbounded_channel().0,
            pending: Default::default(),
            unblocked: Default::default(),
        };
        let id = t.eng.next_client_id;
        t.eng.next_client_id += 1;
        let mut waiter = Client::new(id, "w".into(), "w".into(), -1, true, handle);
        let argv: Vec<Bytes> = ["BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"].iter().map(|s| Bytes::from(*s)).collect();
        t.eng.execute(&mut waiter, &argv, &mut Instant::now());
        assert!(waiter.blocked.is_some());
        t.eng.clients.insert(id, waiter);
        t.run("ZADD z 1 a 2 b 3 c");
        let p = t.propagated();
        assert_eq!(p, vec![vec!["ZADD z 1 a 2 b 3 c".to_string()], vec!["ZPOPMAX z 2".to_string()]]);
    }

    #[test]
    fn empty_store_propagates_del() {
        let mut t = TestEngine::new();
        t.run("ZADD a 1 x");
        t.run("SET dst v");
        t.propagated();
        t.run("ZINTERSTORE dst 2 a nokey");
        assert_eq!(one(&mut t), vec!["DEL dst"]);
        t.run("ZRANGESTORE dst a 5 10");
        assert!(t.propagated().is_empty(), "no destination, nothing changed");
        t.run("ZUNIONSTORE dst 1 a");
        assert_eq!(one(&mut t), vec!["ZUNIONSTORE dst 1 a"]);
        t.run("ZRANGESTORE dst a 5 10");
        assert_eq!(one(&mut t), vec!["DEL dst"]);
    }

    #[test]
    fn no_op_writes_propagate_nothing_and_incr_stays() {
        let mut t = TestEngine::new();
        t.run("ZADD z 1 a");
        t.propagated();
        for cmd in
            ["ZADD z NX 5 a", "ZADD z XX 1 b", "ZADD z 1 a", "ZREM z nosuch", "ZREMRANGEBYSCORE z 5 6", "ZPOPMIN nokey"]
        {
            t.run(cmd);
        }
        assert!(t.propagated().is_empty());
        t.run("ZINCRBY z 2 a");
        assert_eq!(one(&mut t), vec!["ZINCRBY z 2 a"]);
        t.run("ZADD z INCR 1 a");
        assert_eq!(one(&mut t), vec!["ZADD z INCR 1 a"]);
    }

    #[test]
    fn zrank_withscore_follows_redis_7_2() {
        let mut t = TestEngine::new();
        t.run("ZADD z 1 a 2 b");
        let mut ctx = Ctx::new(&mut t.eng, &mut t.client);
        let argv: Vec<Bytes> = ["ZREVRANK", "z", "a", "WITHSCORE"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(zrevrank(&mut ctx, &argv), Ok(Reply::Array(vec![Reply::Int(1), Reply::Double(1.0)])));
        let argv: Vec<Bytes> = ["ZRANK", "z", "x", "WITHSCORE"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(zrank(&mut ctx, &argv), Ok(Reply::NilArray));
        let argv: Vec<Bytes> = ["ZRANK", "z", "x", "FOO"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(zrank(&mut ctx, &argv), Err(CommandError::Syntax));
    }

    #[test]
    fn strtod_forms() {
        assert_eq!(strtod(b"  1.5x"), (1.5, 5, false));
        assert_eq!(strtod(b"0x10"), (16.0, 4, false));
        assert_eq!(strtod(b"0x1.8p1").0, 3.0);
        assert_eq!(strtod(b"-Infinity").0, f64::NEG_INFINITY);
        assert_eq!(strtod(b"e5").1, 0);
        assert_eq!(strtod(b"1e").1, 1);
        assert!(strtod(b"1e400").2);
        assert_eq!(parse_score(b"1e400"), Err(CommandError::NotFloat));
        assert_eq!(parse_score(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse_range_end(b"("), Some((0.0, true)));
        assert_eq!(parse_range_end(b"1 "), None);
        assert_eq!(d2string(123456789012345678.0), "123456789012345680");
        assert_eq!(d2string(i64::MAX as f64), "9.2233720368547758e+18");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(0.1), "0.10000000000000001");
    }
}
