//! The deterministic generator behind `math.random` / `math.randomseed`: Redis's
//! portable copy of the 48-bit `lrand48` (`rand.c`), so a script draws exactly the
//! numbers it draws on redis-server. moonkv reseeds it before every script run
//! (Redis ≤ 6.2 semantics; 7.x stopped doing so) so that a script produces the same
//! numbers on every server and every run, which verbatim replication relies on.

const MULT: u64 = 0x5_DEEC_E66D;
const ADD: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// `REDIS_LRAND48_MAX`: `math.random()` divides by it.
pub const LRAND48_MAX: i64 = i32::MAX as i64;

/// The 48-bit generator state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lrand48 {
    x: u64,
}

impl Default for Lrand48 {
    /// The state at process start (`rand.c`'s initial X).
    fn default() -> Self {
        Lrand48 { x: 0x1234_ABCD_330E }
    }
}

impl Lrand48 {
    /// `redisSrand48(seed)`: the low 32 bits of `seed` become the high bits of X.
    pub fn seed(&mut self, seed: i32) {
        self.x = (((seed as u32) as u64) << 16) | 0x330E;
    }

    /// `redisLrand48()`: the next 31-bit value.
    pub fn next_int(&mut self) -> i64 {
        self.x = (MULT.wrapping_mul(self.x).wrapping_add(ADD)) & MASK;
        (self.x >> 17) as i64
    }

    /// `math.random()`'s real in [0, 1).
    pub fn next_real(&mut self) -> f64 {
        (self.next_int() % LRAND48_MAX) as f64 / LRAND48_MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g14(x: f64) -> String {
        crate::util::num::format_g(x, 14)
    }

    #[test]
    fn matches_redis_vectors() {
        // Vectors checked against redis-server 7.0.15 (scripting spec §8.1).
        let mut r = Lrand48::default();
        assert_eq!(g14(r.next_real()), "0.39646477363839");
        assert_eq!(g14(r.next_real()), "0.84048536971234");
        let range = |r: &mut Lrand48, l: i64, u: i64| (r.next_real() * (u - l + 1) as f64).floor() as i64 + l;
        r.seed(42);
        assert_eq!(range(&mut r, 1, 1_000_000), 744526);
        assert_eq!(range(&mut r, 1, 1_000_000), 342702);
        assert_eq!(g14(r.next_real()), "0.11108528222474");
        r.seed(0);
        assert_eq!(range(&mut r, 1, 1_000_000), 170829);
        assert_eq!(range(&mut r, 1, 1_000_000), 749902);
        r.seed(-7);
        assert_eq!(range(&mut r, 1, 1_000_000), 75212);
        assert_eq!(range(&mut r, 1, 100), 82);
        r.seed(0);
        assert_eq!(g14(r.next_real()), "0.17082803611217");
    }
}
