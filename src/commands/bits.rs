//! Bit operations on strings (`bitops.c`) and LCS: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO, LCS.
//!
//! A string is an array of bits, bit 0 being the most significant bit of byte 0.
//! Missing keys read as empty strings, reads past the end see zero bits, and writes
//! grow the string with zero bytes and leave it in the `raw` encoding. Offsets are
//! refused when their byte lies beyond `proto-max-bulk-len`, before anything is
//! allocated. This module owns no state: it reaches the keyspace only through the
//! lookups of `strings` and `Ctx`, and the pure bit helpers at the top know nothing
//! of keys or replies.

use super::args::{parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::strings::{get_str, get_str_mut};
use super::table::{cmd, CommandSpec};
use crate::db::keyspace::Entry;
use crate::db::{RStr, Value};
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::num::parse_i64;
use bytes::Bytes;

/// Table rows of the bit family (and LCS, which Redis files under strings).
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("setbit", 4, "write denyoom", "@write @bitmap @slow", (1, 1, 1), "RW,access,update|i1|r0,1,0", "", Some(setbit)),
        cmd("getbit", 3, "readonly fast", "@read @bitmap @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(getbit)),
        cmd("bitcount", -2, "readonly", "@read @bitmap @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(bitcount)),
        cmd("bitpos", -3, "readonly", "@read @bitmap @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(bitpos)),
        cmd("bitop", -4, "write denyoom", "@write @bitmap @slow", (2, -1, 1), "OW,update|i2|r0,1,0;RO,access|i3|r-1,1,0", "", Some(bitop)),
        cmd("bitfield", -2, "write denyoom", "@write @bitmap @slow", (1, 1, 1), "RW,access,update,variable_flags|i1|r0,1,0", "", Some(bitfield)),
        cmd("bitfield_ro", -2, "readonly fast", "@read @bitmap @fast", (1, 1, 1), "RO,access|i1|r0,1,0", "", Some(bitfield_ro)),
        cmd("lcs", -3, "readonly", "@read @string @slow", (1, 2, 1), "RO,access|i1|r1,1,0", "", Some(lcs)),
    ]
}

// ---------------------------------------------------------------------------------
// Pure bit helpers (no keys, no replies)
// ---------------------------------------------------------------------------------

/// The bit at `offset`; bits past the end of `s` are 0.
pub fn get_bit(s: &[u8], offset: u64) -> bool {
    match s.get((offset >> 3) as usize) {
        Some(b) => b & (0x80 >> (offset & 7)) != 0,
        None => false,
    }
}

/// Sets or clears the bit at `offset`; `s` must already cover it.
pub fn set_bit(s: &mut [u8], offset: u64, on: bool) {
    let mask = 0x80u8 >> (offset & 7);
    let byte = &mut s[(offset >> 3) as usize];
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// Set bits in `s`, eight bytes at a time.
fn popcount(s: &[u8]) -> u64 {
    let chunks = s.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().map(|b| b.count_ones() as u64).sum();
    chunks
        .map(|c| {
            // chunks_exact(8) yields exactly 8 bytes, so the conversion cannot fail.
            let word: [u8; 8] = c.try_into().expect("8-byte chunk");
            u64::from_ne_bytes(word).count_ones() as u64
        })
        .sum::<u64>()
        + tail
}

/// The mask of bit `first % 8` and every less significant bit of its byte.
fn head_mask(first: u64) -> u8 {
    0xFF >> (first & 7)
}

/// The mask of bit `last % 8` and every more significant bit of its byte.
fn tail_mask(last: u64) -> u8 {
    0xFF << (7 - (last & 7))
}

/// Set bits in the inclusive bit range `first..=last`, which must lie inside `s`.
pub fn count_bits(s: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    if fb == lb {
        return (s[fb] & head_mask(first) & tail_mask(last)).count_ones() as u64;
    }
    (s[fb] & head_mask(first)).count_ones() as u64
        + popcount(&s[fb + 1..lb])
        + (s[lb] & tail_mask(last)).count_ones() as u64
}

/// The first bit equal to `bit` in the inclusive bit range `first..=last`, which
/// must lie inside `s`.
pub fn find_bit(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complemented bytes.
    let flip = if bit { 0 } else { 0xFF };
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let hit = |i: usize, b: u8| Some(i as u64 * 8 + b.leading_zeros() as u64);
    let mut head = (s[fb] ^ flip) & head_mask(first);
    if fb == lb {
        head &= tail_mask(last);
    }
    if head != 0 {
        return hit(fb, head);
    }
    if fb == lb {
        return None;
    }
    if let Some(i) = s[fb + 1..lb].iter().position(|&b| b != flip) {
        return hit(fb + 1 + i, s[fb + 1 + i] ^ flip);
    }
    let tail = (s[lb] ^ flip) & tail_mask(last);
    if tail != 0 {
        return hit(lb, tail);
    }
    None
}

/// Reads `bits` (1..=64) bits at `offset` as an unsigned number, most significant
/// bit first; bits past the end of `s` read as 0.
pub fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0, |v, i| (v << 1) | get_bit(s, offset + i) as u64)
}

/// Writes the low `bits` bits of `value` at `offset`; `s` must already cover them.
pub fn write_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        set_bit(s, offset + i, (value >> (bits as u64 - 1 - i)) & 1 == 1);
    }
}

/// BITCOUNT/BITPOS range resolution: `start` and `end` count from the end when
/// negative and are clamped to `0..total`; `None` for an empty range.
fn resolve_range(start: i64, end: i64, total: i64) -> Option<(u64, u64)> {
    let start = if start < 0 { (start + total).max(0) } else { start };
    let end = if end < 0 { (end + total).max(0) } else { end }.min(total - 1);
    (start <= end).then_some((start as u64, end as u64))
}

// ---------------------------------------------------------------------------------
// Shared argument parsing
// ---------------------------------------------------------------------------------

/// Parses a bit offset (Redis's `getBitOffsetFromArgument`). With `field_bits`
/// (BITFIELD), `#N` means the N-th field of that width. Offsets whose byte is at or
/// beyond `proto-max-bulk-len` are refused, so no caller allocates for them.
fn parse_bit_offset(ctx: &Ctx, arg: &[u8], field_bits: Option<u32>) -> Result<u64, CommandError> {
    let err = || CommandError::err("bit offset is not an integer or out of range");
    let (digits, width) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) => (rest, bits as i64),
        _ => (arg, 1),
    };
    // Redis multiplies `#N` without an overflow check; wrapping gives its answers.
    let offset = parse_i64(digits).ok_or_else(err)?.wrapping_mul(width);
    if offset < 0 || (offset as u64 >> 3) >= ctx.eng.config.proto_max_bulk_len {
        return Err(err());
    }
    Ok(offset as u64)
}

/// Parses the `BYTE | BIT` unit of BITCOUNT and BITPOS: true for BIT.
fn parse_unit(arg: &[u8]) -> Result<bool, CommandError> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The inclusive bit range a BITCOUNT/BITPOS `start end [BYTE | BIT]` selects in a
/// string of `len` bytes, or `None` when it is empty.
fn bit_range(start: i64, end: i64, bit_unit: bool, len: usize) -> Option<(u64, u64)> {
    if bit_unit {
        resolve_range(start, end, len as i64 * 8)
    } else {
        resolve_range(start, end, len as i64).map(|(s, e)| (s * 8, e * 8 + 7))
    }
}

/// What `string_for_bit_write` had to do to the string.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Growth {
    /// The key was missing and was created (already counted as one change).
    Created,
    /// The string was extended with zero bytes.
    Grown,
    /// The string was long enough.
    Kept,
}

/// The string at `key` made `raw` and at least `len` bytes long (zero-padded),
/// created when missing (Redis's `lookupStringForBitCommand`). Like Redis, callers
/// count a change only when the string was created or grown or a value changed.
fn string_for_bit_write<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    len: usize,
) -> Result<(&'c mut Vec<u8>, Growth), CommandError> {
    let mut growth = Growth::Kept;
    if get_str_mut(ctx, key)?.is_none() {
        ctx.set_value(key, Value::Str(RStr::Raw(std::sync::Arc::new(vec![0; len]))), false);
        growth = Growth::Created;
    }
    // The key is a string now: it existed as one or was created just above.
    let raw = get_str_mut(ctx, key)?.ok_or(CommandError::NoSuchKey)?.make_raw();
    if raw.len() < len {
        raw.resize(len, 0);
        growth = Growth::Grown;
    }
    Ok((raw, growth))
}

// ---------------------------------------------------------------------------------
// SETBIT, GETBIT, BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------

/// SETBIT key offset value
///
/// Replies with the bit's previous value. The key is created (and grown) even when
/// the bit written is 0. Writing the bit a string already has changes nothing.
pub fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let offset = parse_bit_offset(ctx, &argv[2], None)?;
    let on = match parse_i64(&argv[3]) {
        Some(v @ (0 | 1)) => v == 1,
        _ => return Err(CommandError::err("bit is not an integer or out of range")),
    };
    let (raw, growth) = string_for_bit_write(ctx, key, (offset >> 3) as usize + 1)?;
    let old = get_bit(raw, offset);
    set_bit(raw, offset, on);
    if growth == Growth::Grown || (growth == Growth::Kept && old != on) {
        ctx.changed(key, 1);
    }
    if growth != Growth::Kept || old != on {
        ctx.notify(crate::config::notify::STRING, "setbit", key);
    }
    Ok(Reply::Int(old as i64))
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(ctx, &argv[2], None)?;
    let bit = get_str(ctx, &argv[1])?.is_some_and(|s| get_bit(&s.to_bytes(), offset));
    Ok(Reply::Int(bit as i64))
}

/// BITCOUNT key [start end [BYTE | BIT]]
///
/// As in Redis 7.0, a missing key answers 0 before the range arguments are looked
/// at, and the type is checked before them too.
pub fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(s) = get_str(ctx, &argv[1])? else {
        return Ok(Reply::Int(0));
    };
    let s = s.to_bytes();
    let range = match argv.len() {
        2 => (!s.is_empty()).then(|| (0, s.len() as u64 * 8 - 1)),
        4 | 5 => {
            let start = parse_int(&argv[2])?;
            let end = parse_int(&argv[3])?;
            // Both ends counted from the end but crossed: empty even if clamping
            // would make them meet at 0. Redis answers before reading the unit.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let bit_unit = argv.get(4).map(|u| parse_unit(u)).transpose()?.unwrap_or(false);
            bit_range(start, end, bit_unit, s.len())
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(Reply::Int(range.map_or(0, |(first, last)| count_bits(&s, first, last)) as i64))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
///
/// A missing key is an endless run of zeros: 0 for a clear bit, -1 for a set one.
/// When no clear bit is found and no end was given, the answer is the first bit past
/// the string, as if it were padded with zeros; with an explicit end it is -1.
pub fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bit = match parse_int(&argv[2])? {
        b @ (0 | 1) => b == 1,
        _ => return Err(CommandError::err("The bit argument must be 1 or 0.")),
    };
    let Some(s) = get_str(ctx, &argv[1])? else {
        return Ok(Reply::Int(if bit { -1 } else { 0 }));
    };
    let s = s.to_bytes();
    if argv.len() > 6 {
        return Err(CommandError::Syntax);
    }
    let start = argv.get(3).map(|a| parse_int(a)).transpose()?.unwrap_or(0);
    // Redis reads the unit before the end.
    let bit_unit = argv.get(5).map(|u| parse_unit(u)).transpose()?.unwrap_or(false);
    let end = argv.get(4).map(|a| parse_int(a)).transpose()?;
    let Some((first, last)) = bit_range(start, end.unwrap_or(-1), bit_unit, s.len()) else {
        return Ok(Reply::Int(-1));
    };
    let pos = match find_bit(&s, bit, first, last) {
        Some(pos) => pos as i64,
        None if !bit && end.is_none() => (last + 1) as i64,
        None => -1,
    };
    Ok(Reply::Int(pos))
}

// ---------------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
///
/// Missing sources are empty strings and shorter ones are zero-padded. Replies with
/// the length of the result; an empty result deletes `destkey`. The result replaces
/// `destkey` like SET (its TTL is dropped) in the `raw` encoding.
pub fn bitop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let op = match argv[1].to_ascii_lowercase().as_slice() {
        b"and" => BitOp::And,
        b"or" => BitOp::Or,
        b"xor" => BitOp::Xor,
        b"not" => BitOp::Not,
        _ => return Err(CommandError::Syntax),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CommandError::err("BITOP NOT must be called with a single source key."));
    }
    let dest = &argv[2];
    let mut res: Vec<u8> = Vec::new();
    for (i, key) in argv[3..].iter().enumerate() {
        let src = get_str(ctx, key)?.map(|s| s.to_bytes());
        let src: &[u8] = src.as_deref().unwrap_or_default();
        if i == 0 {
            res = match op {
                BitOp::Not => src.iter().map(|b| !b).collect(),
                _ => src.to_vec(),
            };
            continue;
        }
        // Zero padding: the result grows to the longest source, and each source
        // reads as 0 past its end (which zeroes the tail of an AND).
        if res.len() < src.len() {
            res.resize(src.len(), 0);
        }
        let padded = src.iter().copied().chain(std::iter::repeat(0));
        for (r, b) in res.iter_mut().zip(padded) {
            match op {
                BitOp::And => *r &= b,
                BitOp::Or => *r |= b,
                BitOp::Xor => *r ^= b,
                BitOp::Not => unreachable!("NOT has a single source"),
            }
        }
    }
    let len = res.len() as i64;
    if res.is_empty() {
        ctx.delete(dest);
    } else {
        ctx.set_value(dest, Value::Str(RStr::Raw(std::sync::Arc::new(res))), false);
    }
    Ok(Reply::Int(len))
}

// ---------------------------------------------------------------------------------
// BITFIELD, BITFIELD_RO
// ---------------------------------------------------------------------------------

/// What BITFIELD does when a SET or INCRBY result does not fit the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    /// Keep the low bits (two's complement for signed fields).
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Change nothing and reply nil.
    Fail,
}

/// A bitfield type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

impl FieldType {
    /// Parses `i16`, `u8`, ... (case-insensitive sign letter).
    fn parse(arg: &[u8]) -> Result<FieldType, CommandError> {
        let err = || {
            CommandError::err(
                "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
            )
        };
        let (sign, digits) = arg.split_first().ok_or_else(err)?;
        let signed = match sign.to_ascii_lowercase() {
            b'i' => true,
            b'u' => false,
            _ => return Err(err()),
        };
        let max_bits = if signed { 64 } else { 63 };
        match parse_i64(digits) {
            Some(bits) if (1..=max_bits).contains(&bits) => Ok(FieldType { signed, bits: bits as u32 }),
            _ => Err(err()),
        }
    }

    fn min(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    fn max(self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    /// The field's value read from `s` at `offset` (sign-extended for signed types).
    fn read(self, s: &[u8], offset: u64) -> i64 {
        let raw = read_field(s, offset, self.bits);
        if self.signed {
            // Move the field's sign bit to bit 63, then shift back arithmetically.
            let shift = 64 - self.bits;
            ((raw << shift) as i64) >> shift
        } else {
            // At most 63 bits: always fits.
            raw as i64
        }
    }

    /// The value stored for the exact result `v` of a SET or INCRBY, or `None` when
    /// it overflows under FAIL.
    fn fit(self, v: i128, overflow: Overflow) -> Option<i64> {
        if (self.min()..=self.max()).contains(&v) {
            return Some(v as i64);
        }
        match overflow {
            Overflow::Fail => None,
            Overflow::Sat => Some(v.clamp(self.min(), self.max()) as i64),
            Overflow::Wrap => {
                // Keep the low `bits` bits and read them back as the field would.
                let mut buf = [0u8; 8];
                write_field(&mut buf, 0, self.bits, v as u64);
                Some(self.read(&buf, 0))
            }
        }
    }
}

/// One BITFIELD operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// A parsed BITFIELD subcommand with the OVERFLOW mode in force where it appeared.
#[derive(Clone, Copy, Debug)]
struct FieldCmd {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// Parses the subcommands after the key. Errors come in Redis's order: a missing or
/// unknown subcommand, the type, the offset, then the value.
fn parse_bitfield(ctx: &Ctx, argv: &[Bytes]) -> Result<Vec<FieldCmd>, CommandError> {
    let mut cmds = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut a = Args::at(argv, 2);
    while let Some(sub) = a.next_opt() {
        let sub = sub.to_ascii_lowercase();
        let needed = match sub.as_slice() {
            b"get" => 2,
            b"set" | b"incrby" => 3,
            b"overflow" => 1,
            _ => return Err(CommandError::Syntax),
        };
        if a.remaining() < needed {
            return Err(CommandError::Syntax);
        }
        if sub == b"overflow" {
            overflow = match a.next_bytes()?.to_ascii_lowercase().as_slice() {
                b"wrap" => Overflow::Wrap,
                b"sat" => Overflow::Sat,
                b"fail" => Overflow::Fail,
                _ => return Err(CommandError::err("Invalid OVERFLOW type specified")),
            };
            continue;
        }
        let ty = FieldType::parse(a.next_bytes()?)?;
        let offset = parse_bit_offset(ctx, a.next_bytes()?, Some(ty.bits))?;
        let op = match sub.as_slice() {
            b"get" => FieldOp::Get,
            b"set" => FieldOp::Set(a.next_i64()?),
            _ => FieldOp::IncrBy(a.next_i64()?),
        };
        cmds.push(FieldCmd { op, ty, offset, overflow });
    }
    Ok(cmds)
}

/// Runs one subcommand on `s`, which covers every write. Returns its reply and, for
/// a write that happened (not a GET, not a FAIL), whether the value changed.
fn run_field_cmd(s: &mut [u8], c: &FieldCmd) -> (Reply, Option<bool>) {
    let old = c.ty.read(s, c.offset);
    // The exact result before fitting. Unsigned SET takes the argument as an
    // unsigned 64-bit number, so a negative value overflows upwards, as in Redis.
    let exact = match c.op {
        FieldOp::Get => return (Reply::Int(old), None),
        FieldOp::Set(v) if c.ty.signed => v as i128,
        FieldOp::Set(v) => v as u64 as i128,
        FieldOp::IncrBy(by) => old as i128 + by as i128,
    };
    // Redis picks the direction of a signed SET's overflow from `max - value` computed
    // in 64 bits, which wraps for values near i64::MIN and makes them look too large:
    // SAT then stores the maximum. Kept, as clients see it.
    let exact = match c.op {
        FieldOp::Set(_)
            if c.overflow == Overflow::Sat && exact < c.ty.min() && c.ty.max() - exact > i64::MAX as i128 =>
        {
            c.ty.max()
        }
        _ => exact,
    };
    let Some(new) = c.ty.fit(exact, c.overflow) else {
        return (Reply::Nil, None);
    };
    write_field(s, c.offset, c.ty.bits, new as u64);
    (Reply::Int(if matches!(c.op, FieldOp::Set(_)) { old } else { new }), Some(new != old))
}

/// BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
/// <SET encoding offset value | INCRBY encoding offset increment> ...]
pub fn bitfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

/// BITFIELD_RO key [GET encoding offset ...]
pub fn bitfield_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

/// Shared body of BITFIELD and BITFIELD_RO. Only GETs: a read that leaves a missing
/// key missing. Any write: the string is created or grown to the farthest bit
/// written first, even when every write then fails under OVERFLOW FAIL. As in Redis,
/// each write that happened counts as a change if it changed the value or the
/// string was created or grown.
fn bitfield_generic(ctx: &mut Ctx, argv: &[Bytes], readonly: bool) -> CmdResult {
    let key = &argv[1];
    let cmds = parse_bitfield(ctx, argv)?;
    let farthest_write = cmds.iter().filter(|c| c.op != FieldOp::Get).map(|c| c.offset + c.ty.bits as u64 - 1).max();
    let Some(farthest) = farthest_write else {
        let s = get_str(ctx, key)?.map(|s| s.to_bytes()).unwrap_or_default();
        return Ok(Reply::Array(cmds.iter().map(|c| Reply::Int(c.ty.read(&s, c.offset))).collect()));
    };
    if readonly {
        return Err(CommandError::err("BITFIELD_RO only supports the GET subcommand"));
    }
    let (raw, growth) = string_for_bit_write(ctx, key, (farthest >> 3) as usize + 1)?;
    let mut replies = Vec::with_capacity(cmds.len());
    let mut changes: u64 = 0;
    for c in &cmds {
        let (reply, written) = run_field_cmd(raw, c);
        if written.is_some_and(|changed| changed || growth != Growth::Kept) {
            changes += 1;
        }
        replies.push(reply);
    }
    // Creating the key counted one change already. (Redis counts none when every
    // write failed; we keep that one so the new key is not lost to replicas.)
    let changes = changes.saturating_sub((growth == Growth::Created) as u64);
    if changes > 0 {
        ctx.changed(key, changes);
        ctx.notify(crate::config::notify::STRING, "setbit", key);
    }
    Ok(Reply::Array(replies))
}

// ---------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------

/// The string at `key` for LCS: empty when missing. LCS has its own type error.
fn lcs_input(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<u8>, CommandError> {
    match ctx.lookup_read(key) {
        None => Ok(Vec::new()),
        Some(Entry { val: Value::Str(s), .. }) => Ok(s.to_bytes().into_owned()),
        #[allow(unreachable_patterns)]
        Some(_) => Err(CommandError::err("The specified keys must contain string values")),
    }
}

/// One common run of LCS IDX: inclusive ranges in both strings.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

/// The table of LCS lengths of every pair of prefixes: `at(i, j)` is the length of
/// the LCS of `a[..i]` and `b[..j]`.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

impl LcsTable {
    /// Fills the table, refusing (like Redis) when it would need more than
    /// `max_bytes` bytes.
    fn build(a: &[u8], b: &[u8], max_bytes: u64) -> Result<LcsTable, CommandError> {
        // The cells are u32, so longer strings cannot be represented.
        if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
            return Err(CommandError::err("String too long for LCS"));
        }
        let width = b.len() + 1;
        let n_cells = (a.len() as u64 + 1) * width as u64;
        let mut cells = Vec::new();
        if n_cells * 4 > max_bytes || cells.try_reserve_exact(n_cells as usize).is_err() {
            return Err(CommandError::err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
        }
        cells.resize(n_cells as usize, 0);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Ok(LcsTable { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end of both strings: the LCS itself and its runs of
    /// consecutive matches, last run first (Redis's order).
    fn trace(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
        let mut lcs = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut k = lcs.len();
        let mut runs = Vec::new();
        let mut run: Option<LcsMatch> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                k -= 1;
                lcs[k] = a[i - 1];
                // Walking back diagonally, a match right after a match always
                // extends the current run.
                run = Some(match run {
                    None => LcsMatch { a: (i - 1, i - 1), b: (j - 1, j - 1) },
                    Some(r) => LcsMatch { a: (i - 1, r.a.1), b: (j - 1, r.b.1) },
                });
                i -= 1;
                j -= 1;
            } else {
                // Ties move in `b`, as Redis does: it decides which runs are found.
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                runs.extend(run.take());
            }
        }
        runs.extend(run);
        (lcs, runs)
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
///
/// Missing keys are empty strings. The type is checked before the options.
pub fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a_res = lcs_input(ctx, &argv[1]);
    let b_res = lcs_input(ctx, &argv[2]);
    let (a, b) = (a_res?, b_res?);
    let (mut want_len, mut want_idx, mut with_len) = (false, false, false);
    let mut min_len = 0;
    let mut args = Args::at(argv, 3);
    while let Some(opt) = args.next_opt() {
        match opt.to_ascii_lowercase().as_slice() {
            b"len" => want_len = true,
            b"idx" => want_idx = true,
            b"withmatchlen" => with_len = true,
            b"minmatchlen" if !args.is_empty() => min_len = args.next_i64()?.max(0) as usize,
            _ => return Err(CommandError::Syntax),
        }
    }
    if want_len && want_idx {
        return Err(CommandError::err("If you want both the length and indexes, please just use IDX."));
    }
    let table = LcsTable::build(&a, &b, ctx.eng.config.proto_max_bulk_len)?;
    let total = table.at(a.len(), b.len()) as i64;
    if want_len {
        return Ok(Reply::Int(total));
    }
    let (common, runs) = table.trace(&a, &b);
    if !want_idx {
        return Ok(Reply::bulk(common));
    }
    let pair = |(s, e): (usize, usize)| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
    let matches = runs
        .into_iter()
        .filter(|r| r.a.1 - r.a.0 + 1 >= min_len)
        .map(|r| {
            let mut m = vec![pair(r.a), pair(r.b)];
            if with_len {
                m.push(Reply::Int((r.a.1 - r.a.0 + 1) as i64));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Map(vec![(Reply::bulk("matches"), Reply::Array(matches)), (Reply::bulk("len"), Reply::Int(total))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_bits() {
        let mut s = vec![0u8; 2];
        set_bit(&mut s, 0, true);
        set_bit(&mut s, 9, true);
        assert_eq!(s, [0x80, 0x40]);
        assert!(get_bit(&s, 0) && get_bit(&s, 9));
        assert!(!get_bit(&s, 1) && !get_bit(&s, 100));
        set_bit(&mut s, 0, false);
        assert_eq!(s, [0x00, 0x40]);
    }

    #[test]
    fn counting() {
        let s = b"foobar";
        assert_eq!(count_bits(s, 0, 47), 26);
        assert_eq!(count_bits(s, 0, 7), 4);
        assert_eq!(count_bits(s, 8, 15), 6);
        assert_eq!(count_bits(s, 5, 30), 17);
        assert_eq!(count_bits(&[0xFF], 3, 3), 1);
        assert_eq!(count_bits(&[0xFF; 20], 1, 158), 158);
        assert_eq!(popcount(&[0xFF; 17]), 136);
    }

    #[test]
    fn finding() {
        let s = [0xFF, 0xF0, 0x00];
        assert_eq!(find_bit(&s, false, 0, 23), Some(12));
        assert_eq!(find_bit(&s, true, 0, 23), Some(0));
        assert_eq!(find_bit(&s, true, 12, 23), None);
        assert_eq!(find_bit(&s, false, 0, 11), None);
        assert_eq!(find_bit(&s, true, 3, 3), Some(3));
        assert_eq!(find_bit(&s, false, 13, 13), Some(13));
        assert_eq!(find_bit(&[0, 0, 0, 1], true, 1, 31), Some(31));
        assert_eq!(find_bit(&[0, 0, 0, 1], true, 1, 30), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(0, -1, 6), Some((0, 5)));
        assert_eq!(resolve_range(-100, 100, 6), Some((0, 5)));
        assert_eq!(resolve_range(4, 2, 6), None);
        assert_eq!(resolve_range(0, -1, 0), None);
        assert_eq!(resolve_range(-3, -5, 2), Some((0, 0)));
        assert_eq!(bit_range(1, 1, false, 3), Some((8, 15)));
        assert_eq!(bit_range(-20, -10, true, 2), Some((0, 6)));
    }

    #[test]
    fn fields() {
        let mut s = [0u8; 3];
        write_field(&mut s, 4, 12, 0xABC);
        assert_eq!(s, [0x0A, 0xBC, 0x00]);
        assert_eq!(read_field(&s, 4, 12), 0xABC);
        assert_eq!(read_field(&s, 20, 8), 0);
        assert_eq!(read_field(&s, 22, 8), 0, "past the end reads zeros");
        let i8t = FieldType { signed: true, bits: 8 };
        write_field(&mut s, 0, 8, 0xFF);
        assert_eq!(i8t.read(&s, 0), -1);
        let i64t = FieldType { signed: true, bits: 64 };
        let mut w = [0u8; 8];
        write_field(&mut w, 0, 64, i64::MIN as u64);
        assert_eq!(i64t.read(&w, 0), i64::MIN);
    }

    #[test]
    fn field_types() {
        assert_eq!(FieldType::parse(b"i64"), Ok(FieldType { signed: true, bits: 64 }));
        assert_eq!(FieldType::parse(b"U63"), Ok(FieldType { signed: false, bits: 63 }));
        for bad in [&b"u64"[..], b"i65", b"i0", b"u", b"", b"x8", b"i-1", b"i08"] {
            assert!(FieldType::parse(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn overflow_modes() {
        let i8t = FieldType { signed: true, bits: 8 };
        assert_eq!(i8t.fit(200, Overflow::Wrap), Some(-56));
        assert_eq!(i8t.fit(-200, Overflow::Wrap), Some(56));
        assert_eq!(i8t.fit(200, Overflow::Sat), Some(127));
        assert_eq!(i8t.fit(-200, Overflow::Sat), Some(-128));
        assert_eq!(i8t.fit(200, Overflow::Fail), None);
        assert_eq!(i8t.fit(-128, Overflow::Fail), Some(-128));
        let i64t = FieldType { signed: true, bits: 64 };
        assert_eq!(i64t.fit(i64::MAX as i128 + 1, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(i64t.fit(i64::MIN as i128 - 1, Overflow::Sat), Some(i64::MIN));
        let u63t = FieldType { signed: false, bits: 63 };
        assert_eq!(u63t.fit(-1, Overflow::Wrap), Some(i64::MAX));
        assert_eq!(u63t.fit(-1, Overflow::Sat), Some(0));
        assert_eq!(u63t.fit(u64::MAX as i128, Overflow::Sat), Some(i64::MAX));
        assert_eq!(u63t.fit(i64::MAX as i128 + 1, Overflow::Wrap), Some(0));
        let u1t = FieldType { signed: false, bits: 1 };
        assert_eq!(u1t.fit(2, Overflow::Wrap), Some(0));
        assert_eq!(u1t.fit(2, Overflow::Sat), Some(1));
    }

    #[test]
    fn field_commands() {
        let u8t = FieldType { signed: false, bits: 8 };
        let mut s = [0u8; 1];
        let set = FieldCmd { op: FieldOp::Set(-1), ty: u8t, offset: 0, overflow: Overflow::Sat };
        assert_eq!(run_field_cmd(&mut s, &set), (Reply::Int(0), Some(true)));
        assert_eq!(run_field_cmd(&mut s, &set), (Reply::Int(255), Some(false)));
        assert_eq!(s, [0xFF], "a negative unsigned SET saturates upwards");
        let incr = FieldCmd { op: FieldOp::IncrBy(1), ty: u8t, offset: 0, overflow: Overflow::Fail };
        assert_eq!(run_field_cmd(&mut s, &incr), (Reply::Nil, None));
        assert_eq!(s, [0xFF]);
        // Redis's 64-bit `max - value` wraps for signed SETs near i64::MIN.
        let i8t = FieldType { signed: true, bits: 8 };
        let sat = |v: i64| FieldCmd { op: FieldOp::Set(v), ty: i8t, offset: 0, overflow: Overflow::Sat };
        run_field_cmd(&mut s, &sat(-9223372036854775681));
        assert_eq!(s, [0x7F]);
        run_field_cmd(&mut s, &sat(-9223372036854775680));
        assert_eq!(s, [0x80]);
        let incr_min = FieldCmd { op: FieldOp::IncrBy(i64::MIN), ty: i8t, offset: 0, overflow: Overflow::Sat };
        assert_eq!(run_field_cmd(&mut s, &incr_min).0, Reply::Int(-128), "INCRBY has no such quirk");
    }

    #[test]
    fn lcs_runs() {
        let (a, b) = (b"ohmytext", b"mynewtext");
        let t = LcsTable::build(a, b, u64::MAX).unwrap();
        assert_eq!(t.at(a.len(), b.len()), 6);
        let (common, runs) = t.trace(a, b);
        assert_eq!(common, b"mytext");
        let spans: Vec<_> = runs.iter().map(|r| (r.a, r.b)).collect();
        assert_eq!(spans, [((4, 7), (5, 8)), ((2, 3), (0, 1))]);
        assert!(LcsTable::build(a, b, 10).is_err());
    }
}
