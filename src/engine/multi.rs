//! WATCH bookkeeping: which clients watch which keys, and the one function every
//! change to a key goes through (`key_changed`), which breaks WATCH and marks keys
//! with blocked clients as ready.

use super::Engine;
use bytes::Bytes;

impl Engine {
    /// A key of db `db` changed: watchers' next EXEC fails; clients blocked on it
    /// will be re-checked when the current command ends.
    pub fn key_changed(&mut self, db: usize, key: &[u8]) {
        self.repl.changed_since_shift = true;
        if !self.watched.is_empty() {
            let k = (db, Bytes::copy_from_slice(key));
            if let Some(ids) = self.watched.get(&k) {
                for id in ids.clone() {
                    self.mark_dirty_cas(id);
                }
            }
        }
        if !self.blocking.is_empty() {
            let k = (db, Bytes::copy_from_slice(key));
            if self.blocking.contains_key(&k) && !self.ready_keys.contains(&k) {
                self.ready_keys.push(k);
            }
        }
    }

    /// Every watched key of `db` that exists now or in `other_keys_exist` is touched
    /// (FLUSHDB, FLUSHALL, SWAPDB: Redis's `touchAllWatchedKeysInDb`).
    pub fn db_changed(&mut self, db: usize, also_db: Option<usize>) {
        self.repl.changed_since_shift = true;
        let keys: Vec<(usize, Bytes)> = self.watched.keys().filter(|(d, _)| *d == db).cloned().collect();
        for (d, key) in keys {
            let exists =
                self.dbs[d].keys.contains_key(&key) || also_db.is_some_and(|o| self.dbs[o].keys.contains_key(&key));
            if exists {
                self.key_changed(d, &key);
            }
        }
        let blocked: Vec<(usize, Bytes)> = self.blocking.keys().filter(|(d, _)| *d == db).cloned().collect();
        for k in blocked {
            if !self.ready_keys.contains(&k) {
                self.ready_keys.push(k);
            }
        }
    }

    fn mark_dirty_cas(&mut self, id: u64) {
        match self.clients.get_mut(&id) {
            Some(c) => c.dirty_cas = true,
            // The executing client is lent out; the gate applies this after the command.
            None => self.dirty_cas_pending.push(id),
        }
    }

    /// Starts watching `key` of `db` for client `id`.
    pub fn watch(&mut self, id: u64, db: usize, key: &Bytes) {
        let ids = self.watched.entry((db, key.clone())).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Stops watching the given keys for client `id`.
    pub fn unwatch(&mut self, id: u64, keys: &[(usize, Bytes)]) {
        for k in keys {
            if let Some(ids) = self.watched.get_mut(k) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    self.watched.remove(k);
                }
            }
        }
    }
}
