//! Exact emulation of the x86 80-bit `long double` arithmetic Redis uses for
//! INCRBYFLOAT and HINCRBYFLOAT: parse like `strtold` (round to a 64-bit mantissa),
//! add with one rounding, print like `%.17Lf` with trailing zeros trimmed
//! (`ld2string(LD_STR_HUMAN)`). With plain f64, `INCRBYFLOAT k 0.1` then `0.2`
//! would print `0.30000000000000004` where Redis prints `0.3`.
//!
//! Values are `mantissa * 2^exp` with a 64-bit mantissa; intermediate results are
//! exact big integers, rounded half-to-even like the x87 FPU and glibc.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits_shim::{One, Zero};

/// The input is not a number `strtold` accepts (or it overflows/underflows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAFloat;

/// Largest binary exponent (of the value's top bit) a long double can hold.
const MAX_EXP2: i64 = 16384;

/// A finite long double: `(-1)^neg * mant * 2^exp`, `mant` has its top bit set (or is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// Rounds the non-negative `n * 2^exp` to a 64-bit mantissa (half to even).
fn round_to_ld(neg: bool, n: &BigUint, exp: i64) -> LongDouble {
    if n.is_zero() {
        return LongDouble { neg: false, mant: 0, exp: 0 };
    }
    let bits = n.bits() as i64;
    if bits <= 64 {
        let shift = 64 - bits;
        let mant = u64::try_from(n << shift as usize).unwrap_or(u64::MAX);
        return LongDouble { neg, mant, exp: exp - shift };
    }
    let shift = (bits - 64) as usize;
    let mut q: BigUint = n >> shift;
    let rem: BigUint = n - (&q << shift);
    let half: BigUint = BigUint::one() << (shift - 1);
    let odd = q.bit(0);
    if rem > half || (rem == half && odd) {
        q += 1u32;
    }
    let mut exp = exp + shift as i64;
    if q.bits() > 64 {
        q >>= 1;
        exp += 1;
    }
    LongDouble { neg, mant: u64::try_from(&q).unwrap_or(u64::MAX), exp }
}

impl LongDouble {
    /// The top-bit exponent, for range checks.
    fn magnitude_exp(&self) -> i64 {
        self.exp + 64
    }

    /// True when the value is beyond the long double range (it would be inf).
    pub fn is_overflow(&self) -> bool {
        self.mant != 0 && self.magnitude_exp() > MAX_EXP2
    }

    /// Parses a decimal number (`strtold` rules as Redis uses them): optional sign,
    /// digits with an optional point, optional exponent. `Ok(None)` for `inf`/`infinity`
    /// (a valid input whose sum is never finite); `Err` for anything that is not a
    /// valid float, including overflow and underflow to zero.
    pub fn parse(s: &[u8]) -> Result<Option<LongDouble>, NotAFloat> {
        let text = std::str::from_utf8(s).map_err(|_| NotAFloat)?;
        if text.is_empty() || text.len() > 5120 || text.starts_with(|c: char| c.is_ascii_whitespace()) {
            return Err(NotAFloat);
        }
        let (neg, body) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let lower = body.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            return Ok(None);
        }
        if let Some(hex) = lower.strip_prefix("0x") {
            return Self::parse_hex(neg, hex).map(Some);
        }
        let (mantissa, exp10) = match lower.find('e') {
            Some(i) => {
                let e: i64 = lower[i + 1..].parse().map_err(|_| NotAFloat)?;
                (&lower[..i], e)
            }
            None => (lower.as_str(), 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|c| c.is_ascii_digit())
            || !frac_part.bytes().all(|c| c.is_ascii_digit())
            || lower[..lower.find('e').unwrap_or(lower.len())].is_empty()
        {
            return Err(NotAFloat);
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Some(LongDouble { neg: false, mant: 0, exp: 0 }));
        }
        let exp10 = exp10 - frac_part.len() as i64;
        // Far outside the range: overflow, or underflow to zero (both ERANGE).
        let magnitude10 = exp10 + digits.len() as i64;
        if !(-4950..=4934).contains(&magnitude10) {
            return Err(NotAFloat);
        }
        let n = BigUint::parse_bytes(digits.as_bytes(), 10).ok_or(NotAFloat)?;
        let ld = if exp10 >= 0 {
            round_to_ld(neg, &(n * BigUint::from(10u32).pow(exp10 as u32)), 0)
        } else {
            let den = BigUint::from(10u32).pow((-exp10) as u32);
            // Scale so the quotient has at least 66 bits, then round once.
            let t = 66 + den.bits() as i64 - n.bits() as i64;
            let (num, den) = if t >= 0 { (n << t as usize, den) } else { (n, den << (-t) as usize) };
            let q = &num / &den;
            let r = &num - &q * &den;
            // Fold the remainder into a sticky bit below the 66 kept bits.
            let sticky = u32::from(!r.is_zero());
            round_to_ld(neg, &((q << 1usize) | BigUint::from(sticky)), -t - 1)
        };
        if ld.is_overflow() {
            return Err(NotAFloat);
        }
        Ok(Some(ld))
    }

    /// The hexadecimal form `strtold` accepts: `0x` digits, optional `.` digits,
    /// optional binary exponent `p[+-]N`.
    fn parse_hex(neg: bool, s: &str) -> Result<LongDouble, NotAFloat> {
        let (mantissa, exp2) = match s.find('p') {
            Some(i) => (&s[..i], s[i + 1..].parse::<i64>().map_err(|_| NotAFloat)?),
            None => (s, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_hex = |p: &str| p.bytes().all(|c| c.is_ascii_hexdigit());
        if (int_part.is_empty() && frac_part.is_empty()) || !all_hex(int_part) || !all_hex(frac_part) {
            return Err(NotAFloat);
        }
        if exp2.abs() > 20_000 {
            return Err(NotAFloat);
        }
        let digits = format!("{int_part}{frac_part}");
        let n = BigUint::parse_bytes(digits.as_bytes(), 16).ok_or(NotAFloat)?;
        let ld = round_to_ld(neg, &n, exp2 - 4 * frac_part.len() as i64);
        if ld.is_overflow() || (ld.mant != 0 && ld.magnitude_exp() < -16444) {
            return Err(NotAFloat);
        }
        Ok(ld)
    }

    fn to_bigint_at(&self, exp: i64) -> BigInt {
        let m = BigInt::from(self.mant) << (self.exp - exp) as usize;
        if self.neg {
            -m
        } else {
            m
        }
    }

    /// `self + other`, rounded once to a long double.
    pub fn add(&self, other: &LongDouble) -> LongDouble {
        if self.mant == 0 {
            return other.clone();
        }
        if other.mant == 0 {
            return self.clone();
        }
        let exp = self.exp.min(other.exp);
        let sum = self.to_bigint_at(exp) + other.to_bigint_at(exp);
        let (sign, mag) = sum.into_parts();
        round_to_ld(sign == Sign::Minus, &mag, exp)
    }

    /// `%.17Lf` with trailing zeros (and a trailing point) removed, `-0` as `0`.
    pub fn to_human_string(&self) -> String {
        let ten17 = BigUint::from(10u32).pow(17);
        let scaled: BigUint = if self.exp >= 0 {
            (BigUint::from(self.mant) << self.exp as usize) * ten17
        } else {
            let num = BigUint::from(self.mant) * ten17;
            let shift = (-self.exp) as usize;
            let q: BigUint = &num >> shift;
            let rem: BigUint = &num - (&q << shift);
            let half: BigUint = BigUint::one() << (shift - 1);
            if rem > half || (rem == half && q.bit(0)) {
                q + 1u32
            } else {
                q
            }
        };
        let digits = format!("{:0>18}", scaled.to_str_radix(10));
        let (int_part, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::new();
        if self.neg && !scaled.is_zero() {
            out.push('-');
        }
        out.push_str(int_part);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out
    }
}

/// The INCRBYFLOAT step: `current + incr` formatted as Redis stores it, or `None`
/// when the result is not finite. Errors when an argument is not a valid float.
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Option<String>, NotAFloat> {
    let (Some(a), Some(b)) = (LongDouble::parse(current)?, LongDouble::parse(incr)?) else {
        return Ok(None);
    };
    let sum = a.add(&b);
    if sum.is_overflow() {
        return Ok(None);
    }
    Ok(Some(sum.to_human_string()))
}

/// Minimal `One`/`Zero` helpers so this module does not depend on num-traits.
mod num_traits_shim {
    use num_bigint::BigUint;
    pub trait One {
        fn one() -> Self;
    }
    pub trait Zero {
        fn is_zero(&self) -> bool;
    }
    impl One for BigUint {
        fn one() -> Self {
            BigUint::from(1u32)
        }
    }
    impl Zero for BigUint {
        fn is_zero(&self) -> bool {
            self.bits() == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        incr_by_float(a.as_bytes(), b.as_bytes()).unwrap().unwrap()
    }

    /// Expected values are redis-server 7.0's replies.
    #[test]
    fn matches_redis() {
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("0", "5.0e3"), "5000");
        assert_eq!(incr("3.0", "2"), "5");
        assert_eq!(incr("1.5", "-1.5"), "0");
        assert_eq!(incr("-0", "0"), "0");
        assert_eq!(incr("1", "-1.6"), "-0.6");
        assert_eq!(incr("0", "1e-20"), "0");
        assert_eq!(incr("0", "0.00000000000000001"), "0.00000000000000001");
        assert_eq!(incr("1e20", "1"), "100000000000000000000");
        assert_eq!(incr("0", "1.1e-5"), "0.000011");
        assert_eq!(incr("0", "123456789.123456789"), "123456789.12345678899873747");
        assert_eq!(incr("123456789.12345678899873747", "0.000000000000000001"), "123456789.12345678899873747");
        assert_eq!(incr("0", "-1e-18"), "0");
        assert_eq!(incr("0", "0x10"), "16");
        assert_eq!(incr("0", "0x1.8p1"), "3");
        assert!(incr("1e4900", "1")
            .starts_with("10000000000000000000270831223069034983322405250407883434650293011195902851726069"));
        assert_eq!(incr("0", ".5"), "0.5");
        assert_eq!(incr("0", "+7"), "7");
        assert_eq!(incr("5.5", "0.1"), "5.6");
    }

    #[test]
    fn invalid_and_infinite() {
        assert!(incr_by_float(b"0", b"abc").is_err());
        assert!(incr_by_float(b"0", b" 1").is_err());
        assert!(incr_by_float(b"0", b"1e99999").is_err());
        assert!(incr_by_float(b"0", b".").is_err());
        assert!(incr_by_float(b"0", b"nan").is_err());
        assert_eq!(incr_by_float(b"0", b"inf").unwrap(), None);
        assert_eq!(incr_by_float(b"1e4932", b"1e4932").unwrap(), None);
        assert!(incr_by_float(b"0", b"1e-5000").is_err());
        assert!(incr_by_float(b"0", b"1e5000").is_err());
    }
}
