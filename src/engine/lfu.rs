//! Access tracking stored in each entry's 24-bit `lru` field, as Redis does: the LRU
//! clock in seconds, or under an LFU `maxmemory-policy` the access time in minutes
//! (high 16 bits) and a logarithmic access counter (low 8 bits).

/// Counter value of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u32 = 5;

fn minutes() -> u32 {
    ((crate::util::now_ms() / 60_000) as u32) & 0xFFFF
}

/// The `lru` field of a new entry.
pub fn initial(lfu: bool) -> u32 {
    if lfu {
        (minutes() << 8) | LFU_INIT_VAL
    } else {
        crate::engine::Engine::lru_clock()
    }
}

/// The counter after decaying one step per `decay_time` minutes since last access.
pub fn decayed_counter(field: u32, decay_time: u64) -> u32 {
    let last = field >> 8;
    let counter = field & 0xFF;
    let now = minutes();
    let elapsed = if now >= last { now - last } else { 0xFFFF - last + now };
    let periods = (elapsed as u64).checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods.min(255) as u32)
}

/// The new `lru` field after an access.
pub fn touched(field: u32, lfu: Option<(u64, u64)>, rng: &mut impl rand::Rng) -> u32 {
    let Some((log_factor, decay_time)) = lfu else {
        return crate::engine::Engine::lru_clock();
    };
    let mut counter = decayed_counter(field, decay_time);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * log_factor as f64 + 1.0);
        if rng.gen::<f64>() < p {
            counter += 1;
        }
    }
    (minutes() << 8) | counter
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn counter_grows_logarithmically() {
        let mut rng = rand::thread_rng();
        let mut f = initial(true);
        for _ in 0..1000 {
            f = touched(f, Some((10, 1)), &mut rng);
        }
        let c = f & 0xFF;
        assert!(c > LFU_INIT_VAL && c < 100, "counter {c}");
    }
}
