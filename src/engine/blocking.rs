//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...), as Redis does them: a command
//! that finds nothing registers its client on the keys and gets no reply yet; when
//! one of the keys changes, the command is run again for the waiting clients in the
//! order they blocked (FIFO), right after the change (so a push is served to a
//! blocked client before anyone else can pop). Inside MULTI (and scripts) blocking
//! commands behave as non-blocking ones.

use super::{BlockState, Client, Ctx, Engine};
use crate::commands::error::{CmdResult, CommandError};
use crate::protocol::{encode, Reply};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, Instant};

/// Parses a blocking timeout in seconds (decimals allowed) as Redis does: the value
/// times 1000, truncated to whole milliseconds; 0 (after truncation) waits forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CommandError> {
    let secs = crate::util::num::parse_f64(arg)
        .filter(|v| v.is_finite())
        .ok_or_else(|| CommandError::err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).trunc();
    if ms < 0.0 {
        return Err(CommandError::err("timeout is negative"));
    }
    if ms >= (i64::MAX / 2) as f64 {
        return Err(CommandError::err("timeout is out of range"));
    }
    Ok(if ms == 0.0 { None } else { Some(Duration::from_millis(ms as u64)) })
}

impl<'a> Ctx<'a> {
    /// `keys` in the order a blocking command should try them: when the command is
    /// re-run because one key got data, that key first (Redis serves the key that
    /// became ready, not the first one in argument order).
    pub fn blocking_key_order<'k>(&self, keys: &'k [Bytes]) -> Vec<&'k Bytes> {
        let mut out: Vec<&Bytes> = keys.iter().collect();
        if let Some(ready) = &self.eng.serving_key {
            if let Some(pos) = out.iter().position(|k| *k == ready) {
                let k = out.remove(pos);
                out.insert(0, k);
            }
        }
        out
    }

    /// True when the command may block: not inside MULTI/EXEC (nor, later, a script).
    pub fn may_block(&self) -> bool {
        // Inside EXEC and inside scripts blocking commands behave as non-blocking.
        !self.eng.in_exec && !self.eng.in_script
    }

    /// Blocks the calling client on `keys` (in the selected db) for `timeout`
    /// (`None` = forever); `timeout_reply` is sent if nothing arrives in time. The
    /// command is re-run when a key changes. Returns the (absent) reply.
    pub fn block(&mut self, keys: &[Bytes], timeout: Option<Duration>, timeout_reply: Reply) -> CmdResult {
        if self.eng.serving_blocked {
            // Re-run for a waiting client and still nothing: it keeps waiting.
            self.eng.still_blocked = true;
            return Ok(Reply::NoReply);
        }
        let db = self.client.db;
        let id = self.client.id;
        let keys: Vec<(usize, Bytes)> = keys.iter().map(|k| (db, k.clone())).collect();
        for k in &keys {
            let q = self.eng.blocking.entry(k.clone()).or_default();
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        self.client.blocked = Some(BlockState {
            keys,
            argv: Vec::new(),
            deadline: timeout.map(|t| Instant::now() + t),
            timeout_reply,
            wait: None,
        });
        Ok(Reply::NoReply)
    }
}

impl Engine {
    /// Removes client `c` from every key it waits on.
    fn forget_blocked(&mut self, id: u64, state: &BlockState) {
        for k in &state.keys {
            if let Some(q) = self.blocking.get_mut(k) {
                q.retain(|&i| i != id);
                if q.is_empty() {
                    self.blocking.remove(k);
                }
            }
        }
    }

    /// Sends `reply` to a blocked client (not executing) and wakes its connection.
    fn deliver(&mut self, c: &mut Client, reply: &Reply) {
        let mut buf = BytesMut::new();
        if c.reply_mode.after_command() {
            encode(reply, c.resp, &mut buf);
        }
        c.handle.pending.fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
        let _ = c.handle.push.send(buf.freeze());
        c.handle.unblocked.notify_one();
    }

    /// Ends the wait of client `id` with `reply` (timeout, CLIENT UNBLOCK). Returns
    /// false when the client was not blocked.
    pub fn unblock_with(&mut self, id: u64, reply: Option<Reply>) -> bool {
        let Some(mut c) = self.clients.remove(&id) else { return false };
        let Some(state) = c.blocked.take() else {
            self.clients.insert(id, c);
            return false;
        };
        self.forget_blocked(id, &state);
        let reply = match (reply, state.wait) {
            (Some(r), _) => r,
            (None, Some((woff, _))) => Reply::Int(self.repl_acked(woff) as i64),
            (None, None) => state.timeout_reply,
        };
        self.deliver(&mut c, &reply);
        self.clients.insert(id, c);
        true
    }

    /// Unblocks every client whose deadline has passed (called by their connection
    /// tasks' timers and by the cron as a backstop).
    pub fn unblock_timed_out(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .clients
            .values()
            .filter(|c| c.blocked.as_ref().is_some_and(|b| b.deadline.is_some_and(|d| d <= now)))
            .map(|c| c.id)
            .collect();
        for id in due {
            self.unblock_with(id, None);
        }
    }

    /// Serves clients blocked on keys that changed, FIFO per key, each run being its
    /// own execution unit. Called when a unit ends.
    pub fn serve_ready_keys(&mut self) {
        let mut guard = 0;
        while !self.ready_keys.is_empty() && guard < 100_000 {
            guard += 1;
            let key = self.ready_keys.remove(0);
            let Some(queue) = self.blocking.get(&key).cloned() else { continue };
            for id in queue {
                let Some(mut c) = self.clients.remove(&id) else { continue };
                let Some(state) = c.blocked.take() else {
                    self.clients.insert(id, c);
                    continue;
                };
                let saved_db = c.db;
                c.db = key.0;
                self.serving_key = Some(key.1.clone());
                self.serving_blocked = true;
                self.still_blocked = false;
                let mut clock = Instant::now();
                let reply = self.run_blocked_command(&mut c, &state.argv, &mut clock);
                self.serving_blocked = false;
                self.serving_key = None;
                c.db = saved_db;
                if self.still_blocked {
                    c.blocked = Some(state);
                    self.clients.insert(id, c);
                    continue;
                }
                self.forget_blocked(id, &state);
                self.deliver(&mut c, &reply);
                self.clients.insert(id, c);
                self.end_unit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;
    use std::time::Duration;

    #[test]
    fn timeouts_truncate_to_milliseconds() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"0.0001"), Ok(None));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(None));
        assert_eq!(parse_timeout(b"0.1"), Ok(Some(Duration::from_millis(100))));
        assert!(parse_timeout(b"-1").is_err());
        assert!(parse_timeout(b"x").is_err());
    }
}
