//! Small helpers shared by every subsystem: glob matching (Redis's `stringmatchlen`),
//! number parsing and formatting with Redis's exact rules, and time.

pub mod glob;
pub mod longdouble;
pub mod num;
pub mod sds;

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (wall clock), the unit of every expire deadline.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Microseconds since the Unix epoch (wall clock).
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}
