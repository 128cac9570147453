//! Effects of execution units (DESIGN.md "Propagation"): each write command records
//! what it really did, rewritten to be deterministic (absolute deadlines, SREM for
//! SPOP, ...), and the unit's effects are appended as one entry: nothing, a single
//! command, or several wrapped in MULTI/EXEC. Until the replication stream exists the
//! entries go to a bounded log that DEBUG and the tests read.

use super::{Ctx, Engine};
use bytes::Bytes;

/// Entries kept in the propagation log.
const LOG_LEN: usize = 1024;

impl<'a> Ctx<'a> {
    /// Records `argv` (in the selected db) as an effect of the current command, in
    /// place of propagating the command verbatim.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        self.eng.propagated_explicitly = true;
        // An effect that is not the command itself (an absolute deadline, the
        // members SPOP chose, a float's result) may not come out the same when the
        // command runs again: a script that did this is not replayed.
        self.eng.script_replay_unsafe |= self.eng.in_script;
        if self.eng.propagating && !self.eng.script_propagation_off {
            let db = self.client.db;
            self.eng.unit_effects.push((db, argv));
        }
    }

    /// Marks the current command as having nothing to propagate even though it
    /// counted changes (e.g. a write that only touched keys already expired).
    pub fn propagate_nothing(&mut self) {
        self.eng.propagated_explicitly = true;
        self.eng.script_replay_unsafe |= self.eng.in_script;
    }
}

/// Builds an argv from byte-like parts.
pub fn argv<I, T>(parts: I) -> Vec<Bytes>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    parts.into_iter().map(|p| Bytes::copy_from_slice(p.as_ref())).collect()
}

impl Engine {
    /// Records an effect produced outside a handler (lazy or active expiry).
    pub fn record_effect(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.propagating {
            self.unit_effects.push((db, argv));
        }
    }

    /// Ends an execution unit: its effects become one propagated entry, wrapped in
    /// MULTI/EXEC when there are several.
    pub fn end_unit(&mut self) {
        if self.unit_effects.is_empty() {
            return;
        }
        let mut effects = std::mem::take(&mut self.unit_effects);
        if effects.len() > 1 {
            let db = effects[0].0;
            effects.insert(0, (db, argv(["MULTI"])));
            let last_db = effects.last().map_or(db, |e| e.0);
            effects.push((last_db, argv(["EXEC"])));
        }
        // A replica forwards what it applied from its primary, byte for byte
        // (`repl::replica`); it never originates stream bytes.
        if self.repl_recording() && self.repl.master.is_none() {
            self.repl_feed_unit(&effects);
            self.repl_unit_appended();
        }
        // The log serves unit tests only; the server streams to replicas above.
        if cfg!(test) {
            self.propagation_log.push_back(effects);
            while self.propagation_log.len() > LOG_LEN {
                self.propagation_log.pop_front();
            }
        }
    }
}
