//! SORT and SORT_RO (`sort.c`): sorting lists, sets and sorted sets numerically or
//! lexicographically, by the element itself or by keys and hash fields built from a
//! pattern (`BY weight_*`, `BY h_*->f`), fetching other keys per element (`GET`),
//! with LIMIT, ASC/DESC, and STORE into a list.
//!
//! Sets and sorted sets are read only through their `members()` / `iter()` methods
//! and hashes through `iter()`, so this file does not depend on their encodings.
//! Differences from Redis 7.0: a sorted set is not converted to the skiplist
//! encoding by SORT (Redis converts it as a side effect), and ties that Redis leaves
//! to its unstable quicksort (ALPHA with BY and equal or missing weights) keep the
//! input order.

use super::args::parse_int;
use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::list::{End, ListValue};
use crate::db::Value;
use crate::engine::Ctx;
use crate::protocol::Reply;
use bytes::Bytes;
use std::cmp::Ordering;

/// Table rows of SORT and SORT_RO.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("sort", -2, "write denyoom movablekeys", "@write @set @sortedset @list @slow @dangerous", (1, 1, 1), "RO,access|i1|r0,1,0;RO,access|u|u;OW,update|u|u", "", Some(sort)),
        cmd("sort_ro", -2, "readonly movablekeys", "@read @set @sortedset @list @slow @dangerous", (1, 1, 1), "RO,access|i1|r0,1,0;RO,access|u|u", "", Some(sort_ro)),
    ]
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
/// [ASC|DESC] [ALPHA] [STORE destination]`
pub fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
/// [ASC|DESC] [ALPHA]`
pub fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The options of one SORT call.
#[derive(Default)]
struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    /// Negative: no limit.
    limit_count: i64,
    store: Option<&'a Bytes>,
    by: Option<&'a Bytes>,
    /// BY with a pattern without `*` (e.g. `nosort`): keep the native order.
    dontsort: bool,
    gets: Vec<&'a Bytes>,
}

impl<'a> SortOptions<'a> {
    /// Parses the options after the key, in Redis's order of checks.
    fn parse(argv: &'a [Bytes], readonly: bool) -> Result<Self, CommandError> {
        let mut o = SortOptions { limit_count: -1, ..Default::default() };
        let mut j = 2;
        while j < argv.len() {
            let left = argv.len() - j - 1;
            let a = &argv[j];
            if a.eq_ignore_ascii_case(b"asc") {
                o.desc = false;
            } else if a.eq_ignore_ascii_case(b"desc") {
                o.desc = true;
            } else if a.eq_ignore_ascii_case(b"alpha") {
                o.alpha = true;
            } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
                o.limit_start = parse_int(&argv[j + 1])?;
                o.limit_count = parse_int(&argv[j + 2])?;
                j += 2;
            } else if !readonly && a.eq_ignore_ascii_case(b"store") && left >= 1 {
                o.store = Some(&argv[j + 1]);
                j += 1;
            } else if a.eq_ignore_ascii_case(b"by") && left >= 1 {
                o.by = Some(&argv[j + 1]);
                // Redis never clears this once a BY without `*` was seen.
                if !argv[j + 1].contains(&b'*') {
                    o.dontsort = true;
                }
                j += 1;
            } else if a.eq_ignore_ascii_case(b"get") && left >= 1 {
                o.gets.push(&argv[j + 1]);
                j += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            j += 1;
        }
        Ok(o)
    }
}

/// What was found at the key to sort.
enum Source {
    /// Lists and sorted sets have a native order that `BY nosort` keeps.
    Ordered(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
}

/// One element being sorted with its sort key.
struct Item {
    ele: Vec<u8>,
    score: f64,
    /// ALPHA with BY: the looked-up value (`None` sorts first).
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = SortOptions::parse(argv, readonly)?;
    let source = match ctx.lookup_read(&argv[1]) {
        None => Source::Ordered(Vec::new()),
        Some(Entry { val: Value::List(l), .. }) => Source::Ordered(l.iter().map(|e| e.to_vec()).collect()),
        Some(Entry { val: Value::ZSet(z), .. }) => Source::Ordered(z.iter().map(|(m, _)| m.to_vec()).collect()),
        Some(Entry { val: Value::Set(s), .. }) => Source::Set(s.members()),
        Some(_) => return Err(CommandError::WrongType),
    };
    // A set has no order of its own: when the result is stored it is sorted
    // (ALPHA) so that replicas store the same list; a script sees the same order
    // on every server for the same reason.
    if o.dontsort && (o.store.is_some() || ctx.client.flags.script) && matches!(source, Source::Set(_)) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut elements = match source {
        Source::Ordered(mut v) => {
            if o.dontsort && o.desc {
                v.reverse();
            }
            v
        }
        Source::Set(v) => v,
    };

    // LIMIT as Redis clips it: an empty range when the offset is past the end.
    let len = elements.len() as i64;
    let mut start = o.limit_start.max(0);
    let mut end = if o.limit_count < 0 { len - 1 } else { start.saturating_add(o.limit_count) - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    if !o.dontsort {
        let mut items = Vec::with_capacity(elements.len());
        let mut conversion_error = false;
        for ele in elements {
            let byval = match o.by {
                Some(pattern) => lookup_by_pattern(ctx, pattern, &ele),
                None => None,
            };
            let mut item = Item { ele, score: 0.0, cmp: None };
            if o.alpha {
                item.cmp = byval;
            } else {
                let by = if o.by.is_some() { byval.as_deref() } else { Some(&item.ele[..]) };
                if let Some(b) = by {
                    match strtod_full(b) {
                        Some(s) => item.score = s,
                        None => conversion_error = true,
                    }
                }
            }
            items.push(item);
        }
        if conversion_error {
            return Err(CommandError::err("One or more scores can't be converted into double"));
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let ord = compare_items(a, b, alpha, by_pattern);
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
        elements = items.into_iter().map(|i| i.ele).collect();
    }

    let selected: &[Vec<u8>] = if end >= start { &elements[start as usize..=end as usize] } else { &[] };
    let outputlen = if o.gets.is_empty() { selected.len() } else { selected.len() * o.gets.len() };

    let Some(dest) = o.store else {
        let mut out = Vec::with_capacity(outputlen);
        for ele in selected {
            if o.gets.is_empty() {
                out.push(Reply::Bulk(Bytes::copy_from_slice(ele)));
            }
            for pattern in &o.gets {
                out.push(match lookup_by_pattern(ctx, pattern, ele) {
                    Some(v) => Reply::Bulk(Bytes::from(v)),
                    None => Reply::Nil,
                });
            }
        }
        return Ok(Reply::Array(out));
    };

    let mut list = ListValue::default();
    for ele in selected {
        if o.gets.is_empty() {
            list.push(End::Right, ele);
        }
        for pattern in &o.gets {
            let v = lookup_by_pattern(ctx, pattern, ele).unwrap_or_default();
            list.push(End::Right, &v);
        }
    }
    if outputlen > 0 {
        // Expire a stale destination first, as Redis's lookup before setKey does.
        ctx.expire_if_needed(dest);
        let lru = crate::engine::lfu::initial(ctx.eng.lfu_params().is_some());
        ctx.db().set(dest, Value::list(list), lru, false);
        ctx.changed(dest, outputlen as u64);
        ctx.notify(notify::LIST, "sortstore", dest);
    } else if ctx.delete(dest) {
        ctx.changed(dest, 0);
        ctx.notify(notify::GENERIC, "del", dest);
    }
    Ok(Reply::Int(outputlen as i64))
}

/// Redis's `sortCompare` before DESC: numeric by score with ties broken by the
/// elements' bytes; ALPHA by the BY values (missing ones first) or the elements.
fn compare_items(a: &Item, b: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.ele.cmp(&b.ele));
    }
    if by_pattern {
        return match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
    }
    a.ele.cmp(&b.ele)
}

/// The value a BY/GET pattern names for element `subst` (Redis's
/// `lookupKeyByPattern`): `#` is the element itself; the first `*` is replaced by
/// the element; `key->field` (with a non-empty field after the `*`) reads a hash
/// field, otherwise the key must hold a string. `None` when anything is missing or
/// of another type, or when the pattern has no `*`.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(subst.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->").filter(|&i| i + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(i) => (&after[..i], Some(&after[i + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(postfix);
    match (ctx.lookup_read(&key).map(|e| &e.val), field) {
        (Some(Value::Hash(h)), Some(f)) => h.iter().find(|(k, _)| *k == f).map(|(_, v)| v.to_vec()),
        (Some(Value::Str(s)), None) => Some(s.to_bytes().into_owned()),
        _ => None,
    }
}

/// Parses a sort weight the way Redis checks `strtod`: the whole string must be
/// consumed (up to a NUL byte; the empty string is 0), leading whitespace is
/// allowed, and NaN or an out-of-range value (overflow or underflow) is an error.
fn strtod_full(b: &[u8]) -> Option<f64> {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if b.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if body.len() > 2 && body[..2].eq_ignore_ascii_case("0x") {
        let v = parse_hex_float(&body[2..])?;
        if neg {
            -v
        } else {
            v
        }
    } else {
        t.parse::<f64>().ok()?
    };
    if v.is_nan() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let literal_inf = lower == "inf" || lower == "infinity";
    if v.is_infinite() && !literal_inf {
        return None;
    }
    let nonzero_digits =
        body.bytes().take_while(|c| !matches!(c, b'e' | b'E' | b'p' | b'P')).any(|c| (b'1'..=b'9').contains(&c));
    if (v == 0.0 && nonzero_digits) || v.is_subnormal() {
        return None;
    }
    Some(v)
}

/// The value of a C hexadecimal float body after `0x`: `h[.h][p[+-]d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::strtod_full;

    #[test]
    fn weights_parse_like_strtod() {
        assert_eq!(strtod_full(b""), Some(0.0));
        assert_eq!(strtod_full(b"  1.5"), Some(1.5));
        assert_eq!(strtod_full(b"1.5 "), None);
        assert_eq!(strtod_full(b" "), None);
        assert_eq!(strtod_full(b"0x10"), Some(16.0));
        assert_eq!(strtod_full(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_full(b"nan"), None);
        assert_eq!(strtod_full(b"1e400"), None);
        assert_eq!(strtod_full(b"1e-400"), None);
        assert_eq!(strtod_full(b"0e5"), Some(0.0));
        assert_eq!(strtod_full(b"12\0zz"), Some(12.0));
        assert_eq!(strtod_full(b"abc"), None);
    }
}
