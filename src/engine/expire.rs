//! Active expiry in Redis's style (`activeExpireCycle`): walk each database's expires
//! dictionary with a scan cursor, sample keys, delete the expired ones, and keep
//! going while the sampled stale ratio stays high, all time-bounded. Unlike Redis we
//! work in slices of about a millisecond and the server releases the lock between
//! slices, so a million keys expiring at once never stalls other clients.

use super::Engine;
use std::time::Instant;

/// Keys sampled per loop at effort 1 (Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const KEYS_PER_LOOP: usize = 20;
/// Acceptable percentage of stale keys at effort 1.
const ACCEPTABLE_STALE: usize = 10;

impl Engine {
    /// Deletes an expired key from db `dbi` (both the lazy and the active path end
    /// here, so stats and change counting are the same for both).
    /// The deletion propagates as DEL, breaks WATCH and fires the `expired` event.
    pub fn delete_expired_key(&mut self, dbi: usize, key: &[u8]) {
        if self.dbs[dbi].remove(key).is_some() {
            self.stats.expired_keys += 1;
            self.dirty += 1;
            self.dirty_from_expiry += 1;
            self.record_effect(dbi, crate::engine::propagate::argv([&b"DEL"[..], key]));
            self.key_changed(dbi, key);
            self.notify(crate::config::notify::EXPIRED, "expired", key, dbi);
        }
    }

    /// Runs active expiry until `deadline`. Returns true when some database still has
    /// a high ratio of stale keys (the caller should run another slice soon).
    pub fn active_expire_slice(&mut self, deadline: Instant) -> bool {
        // No active expiry while disabled (DEBUG SET-ACTIVE-EXPIRE 0) or while
        // clients are paused: a pause promises an unchanging dataset.
        if !self.active_expire_enabled || self.current_pause().is_some() || self.repl.master.is_some() {
            return false;
        }
        let effort = self.config.active_expire_effort.clamp(1, 10) as usize - 1;
        let per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort;
        let acceptable = ACCEPTABLE_STALE - effort;
        let now = crate::util::now_ms();
        let mut more = false;
        let mut total_sampled = 0usize;
        let mut total_expired = 0usize;
        for dbi in 0..self.dbs.len() {
            loop {
                let db = &mut self.dbs[dbi];
                if db.expires.is_empty() {
                    db.expires_cursor = 0;
                    db.avg_ttl = 0;
                    break;
                }
                let mut sampled = 0usize;
                let mut expired_keys = Vec::new();
                let mut ttl_sum = 0i64;
                let mut ttl_samples = 0i64;
                let mut buckets = 0;
                let mut cursor = db.expires_cursor;
                // Visit buckets until enough keys were sampled (bounded number of
                // empty buckets, as Redis does).
                while sampled < per_loop && buckets < per_loop * 20 {
                    cursor = db.expires.scan(cursor, |k, &when| {
                        sampled += 1;
                        if when <= now {
                            expired_keys.push(k.as_bytes().to_vec());
                        } else {
                            ttl_sum += when - now;
                            ttl_samples += 1;
                        }
                    });
                    buckets += 1;
                    if cursor == 0 {
                        break;
                    }
                }
                db.expires_cursor = cursor;
                if ttl_samples > 0 {
                    let avg = ttl_sum / ttl_samples;
                    // Running average like Redis: 2% of the new estimate each loop.
                    db.avg_ttl = if db.avg_ttl == 0 { avg } else { (db.avg_ttl / 50) * 49 + avg / 50 };
                }
                let expired = expired_keys.len();
                for k in expired_keys {
                    self.delete_expired_key(dbi, &k);
                    // Each active-expiry DEL is its own propagated entry, as in Redis.
                    self.end_unit();
                }
                total_sampled += sampled;
                total_expired += expired;
                let stale_high = sampled > 0 && expired * 100 / sampled > acceptable;
                if Instant::now() >= deadline {
                    more |= stale_high;
                    if stale_high {
                        self.stats.expired_time_cap_reached_count += 1;
                    }
                    break;
                }
                if !stale_high || cursor == 0 {
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if total_sampled > 0 {
            let perc = total_expired as f64 / total_sampled as f64;
            self.stats.expired_stale_perc = perc * 0.05 + self.stats.expired_stale_perc * 0.95;
        }
        more
    }

    /// Incremental rehashing and shrinking of every db's dictionaries for up to
    /// `budget` (Redis's `databasesCron` resize/rehash part).
    pub fn rehash_slice(&mut self, budget: std::time::Duration) {
        for db in self.dbs.iter_mut() {
            db.keys.shrink_if_needed();
            db.expires.shrink_if_needed();
            if db.keys.is_rehashing() {
                db.keys.rehash_for(budget);
                return;
            }
            if db.expires.is_rehashing() {
                db.expires.rehash_for(budget);
                return;
            }
        }
    }
}
