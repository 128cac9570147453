//! LZF compression in liblzf's raw format (no header), as Redis uses for RDB strings
//! longer than 20 bytes (spec §10.6). The compressor reproduces liblzf 3.6 as Redis
//! builds it (`HLOG 16`, `VERY_FAST`), including its conservative output-bound checks,
//! so our RDB files and DUMP payloads match redis-server's byte for byte. The
//! decompressor checks every bound and never panics on hostile input.
//!
//! Format: a control byte `c`; `c < 32` is a literal run of `c + 1` bytes; otherwise
//! `c >> 5` is a length (7 means "add the next byte") and the low 5 bits with the next
//! byte an offset: copy `len + 2` bytes from `offset + 1` bytes back in the output.

use std::cell::RefCell;

/// log2 of the hash table size (liblzf's `HLOG`, 16 in Redis's build).
const HLOG: u32 = 16;
/// Entries in the hash table of 3-byte sequences.
const HSIZE: usize = 1 << HLOG;
/// Longest literal run.
const MAX_LIT: usize = 1 << 5;
/// Farthest back-reference (`offset + 1`).
const MAX_OFF: usize = 1 << 13;
/// Longest back-reference, in bytes beyond the first two.
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// Largest output/input ratio of valid LZF data: a 3-byte back-reference expands to
/// at most 264 bytes. Readers use it to refuse absurd declared lengths before
/// allocating.
pub const MAX_RATIO: u64 = 88;

/// liblzf's hash of the 3 bytes ending in `h`'s low byte (`IDX` in `VERY_FAST` mode).
/// `h` keeps older bytes in its high bits, as in C (an `unsigned int` shifted left).
fn idx(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & (HSIZE as u32 - 1)) as usize
}

/// The compressor's hash table, kept per thread so a call does not allocate and clear
/// 512 KiB. Each slot holds `generation << 32 | input position`; a slot written by an
/// earlier call (older generation) reads as empty, which makes the output deterministic
/// (liblzf's `INIT_HTAB` behaviour) without clearing the table on every call.
struct HashTable {
    generation: u32,
    slots: Vec<u64>,
}

thread_local! {
    static TABLE: RefCell<HashTable> = const { RefCell::new(HashTable { generation: 0, slots: Vec::new() }) };
}

/// Appends one literal byte to the current literal run; a full run (`MAX_LIT`
/// bytes) gets its control byte written and a new run is opened.
fn push_literal(out: &mut Vec<u8>, lit: &mut usize, b: u8) {
    *lit += 1;
    out.push(b);
    if *lit == MAX_LIT {
        let op = out.len();
        out[op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        out.push(0);
    }
}

/// Compresses `input` when the result is smaller than the input; `None` otherwise
/// (and for inputs shorter than 4 bytes, which cannot shrink).
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    compress_bounded(input, input.len().checked_sub(1)?)
}

/// Compresses `input` into at most `out_len` bytes, or `None` when liblzf's
/// `lzf_compress(input, out_len)` would fail for lack of room (its checks are slightly
/// conservative; reproducing them keeps the choice "compressed or raw" identical to
/// Redis's, which calls it with `out_len = len - 4`).
pub fn compress_bounded(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if input.is_empty() || out_len == 0 || input.len() > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.generation = t.generation.wrapping_add(1);
        if t.generation == 0 || t.slots.is_empty() {
            t.slots.clear();
            t.slots.resize(HSIZE, 0);
            t.generation = 1;
        }
        let generation = t.generation;
        compress_with(input, out_len, &mut t.slots, generation)
    })
}

/// The liblzf compression loop. `out.len()` plays the role of C's output pointer `op`;
/// a literal run reserves its control byte up front (`lit = 0; op++`) and drops it when
/// the run stays empty (`op -= !lit`).
fn compress_with(input: &[u8], out_len: usize, slots: &mut [u64], generation: u32) -> Option<Vec<u8>> {
    let in_len = input.len();
    let tag = (generation as u64) << 32;
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(in_len) + 1);
    let mut lit = 0usize;
    out.push(0);
    let mut ip = 0usize;
    let mut hval: u32 = if in_len >= 2 { ((input[0] as u32) << 8) | input[1] as u32 } else { 0 };
    while ip + 2 < in_len {
        hval = (hval << 8) | input[ip + 2] as u32;
        let slot = &mut slots[idx(hval)];
        let reference = (*slot >> 32 == generation as u64).then_some((*slot & 0xffff_ffff) as usize);
        *slot = tag | ip as u64;
        // Position 0 is never a reference (liblzf's `ref > in_data`).
        let matched =
            reference.filter(|&r| r > 0 && r < ip && ip - r - 1 < MAX_OFF && input[r..r + 3] == input[ip..ip + 3]);
        if let Some(r) = matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            let op = out.len();
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            // Close the literal run (or drop its reserved control byte).
            if lit == 0 {
                out.pop();
            } else {
                out[op - lit - 1] = (lit - 1) as u8;
            }
            // liblzf first compares 16 bytes without looking at `maxlen` (it may end
            // one or two bytes past it, still inside the input), then byte by byte.
            let mut done = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out.push(((off >> 8) + (len << 5)) as u8);
            } else {
                out.push(((off >> 8) + (7 << 5)) as u8);
                out.push((len - 7) as u8);
            }
            out.push(off as u8);
            lit = 0;
            out.push(0);
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // Hash the two positions just before the new `ip` (VERY_FAST mode).
            ip -= 2;
            hval = ((input[ip] as u32) << 8) | input[ip + 1] as u32;
            for _ in 0..2 {
                hval = (hval << 8) | input[ip + 2] as u32;
                slots[idx(hval)] = tag | ip as u64;
                ip += 1;
            }
        } else {
            if out.len() >= out_len {
                return None;
            }
            push_literal(&mut out, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if out.len() + 3 > out_len {
        return None;
    }
    while ip < in_len {
        push_literal(&mut out, &mut lit, input[ip]);
        ip += 1;
    }
    if lit == 0 {
        out.pop();
    } else {
        let op = out.len();
        out[op - lit - 1] = (lit - 1) as u8;
    }
    (out.len() <= out_len).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes. `None` for
/// anything malformed: a truncated literal run or back-reference, a reference before
/// the start of the output, output longer or shorter than `out_len`.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len as u64 > (input.len() as u64).saturating_mul(MAX_RATIO) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lits = input.get(ip..ip + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lits);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            let len = len + 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            if back >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: the reference reads bytes this copy produces.
                for i in 0..len {
                    out.push(out[start + i]);
                }
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data) {
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, data.len()).as_deref(), Some(data), "len {}", data.len());
        }
    }

    #[test]
    fn round_trips_random_and_repetitive_data() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for len in [0usize, 1, 2, 3, 4, 5, 20, 21, 33, 100, 1000, 9000, 70_000] {
            let random: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            round_trip(&random);
            let small_alphabet: Vec<u8> = (0..len).map(|_| b'a' + rng.gen_range(0..3)).collect();
            round_trip(&small_alphabet);
            let same = vec![b'x'; len];
            round_trip(&same);
            let pattern: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            round_trip(&pattern);
        }
        assert!(compress(&[b'a'; 100]).is_some());
        assert!(compress(b"abc").is_none());
    }

    #[test]
    fn deterministic_across_calls() {
        let a: Vec<u8> = (0..5000).map(|i| (i * 7 % 13) as u8).collect();
        let b: Vec<u8> = (0..5000).map(|i| (i * 3 % 17) as u8).collect();
        let first = compress(&a);
        compress(&b);
        assert_eq!(compress(&a), first);
    }

    #[test]
    fn known_vector() {
        // Redis 7.0.15 `DUMP` of a string of 52 'a': 0xC3, compressed len 9, len 52.
        let c = [0x01, b'a', b'a', 0xe0, 0x27, 0x00, 0x01, b'a', b'a'];
        assert_eq!(decompress(&c, 52), Some(vec![b'a'; 52]));
        assert_eq!(compress_bounded(&[b'a'; 52], 48).as_deref(), Some(&c[..]));
    }

    #[test]
    fn adversarial_inputs() {
        // Reference before the start.
        assert_eq!(decompress(&[0x20, 0x00], 3), None);
        assert_eq!(decompress(&[0x00, b'a', 0x20, 0x01], 4), None);
        // Truncated literal run and truncated references.
        assert_eq!(decompress(&[0x05, b'a'], 6), None);
        assert_eq!(decompress(&[0x00, b'a', 0xe0], 10), None);
        assert_eq!(decompress(&[0x00, b'a', 0xe0, 0x01], 10), None);
        assert_eq!(decompress(&[0x00, b'a', 0x20], 4), None);
        // Output overrun and short output.
        assert_eq!(decompress(&[0x00, b'a', 0x20, 0x00], 3), None);
        assert_eq!(decompress(&[0x01, b'a', b'b'], 3), None);
        assert_eq!(decompress(&[0x01, b'a', b'b'], 1), None);
        // Absurd declared length.
        assert_eq!(decompress(&[0x00, b'a'], usize::MAX), None);
        assert_eq!(decompress(&[], 0), Some(vec![]));
        // Random garbage never panics.
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..40);
            let junk: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let _ = decompress(&junk, rng.gen_range(0..200));
        }
    }
}
