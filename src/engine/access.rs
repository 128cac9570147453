//! Typed access to values for command handlers, and the one place where a change to
//! a key is announced: `changed` counts it (`dirty`), breaks WATCH, wakes clients
//! blocked on the key; `notify` publishes keyspace notifications.
//!
//! Every write handler ends with `ctx.changed(key, n)` (or uses `set_value`/`delete`,
//! which call it) and `ctx.notify(class, "event", key)` with Redis's event name.

use super::Ctx;
use crate::commands::error::CommandError;
use crate::config::notify;
use crate::db::keyspace::Entry;
use crate::db::{HashValue, ListValue, SetValue, Value, ZSetValue};
use bytes::Bytes;
use std::sync::Arc;

macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $create:ident, $variant:ident, $ty:ty) => {
        /// The value at `key` for reading (lazy expiry, stats): `None` when missing,
        /// WRONGTYPE when the key holds another type.
        pub fn $get(&mut self, key: &[u8]) -> Result<Option<&$ty>, CommandError> {
            match self.lookup_read(key) {
                None => Ok(None),
                Some(Entry { val: Value::$variant(v), .. }) => Ok(Some(v)),
                Some(_) => Err(CommandError::WrongType),
            }
        }

        /// The value at `key` for change: `None` when missing, WRONGTYPE otherwise.
        /// The caller announces the change with `changed` and removes an emptied
        /// value with `delete_if_empty` (which fires `del`).
        pub fn $get_mut(&mut self, key: &[u8]) -> Result<Option<&mut $ty>, CommandError> {
            match self.lookup_write(key) {
                None => Ok(None),
                Some(Entry { val: Value::$variant(v), .. }) => Ok(Some(Arc::make_mut(v))),
                Some(_) => Err(CommandError::WrongType),
            }
        }

        /// The value at `key`, created empty when missing (WRONGTYPE for another
        /// type). A command that then adds nothing must call `discard_if_empty`.
        pub fn $create(&mut self, key: &[u8]) -> Result<&mut $ty, CommandError> {
            // Presence first (lazy expiry included), then one lookup that both
            // checks the type and returns the value: two hash lookups, not three.
            if !self.exists(key) {
                let lru = super::lfu::initial(self.eng.lfu_params().is_some());
                self.db().set(key, Value::$variant(Arc::default()), lru, false);
            }
            match self.lookup_write(key) {
                Some(Entry { val: Value::$variant(v), .. }) => Ok(Arc::make_mut(v)),
                _ => Err(CommandError::WrongType),
            }
        }
    };
}

impl<'a> Ctx<'a> {
    typed_access!(get_list, get_list_mut, list_or_create, List, ListValue);
    typed_access!(get_hash, get_hash_mut, hash_or_create, Hash, HashValue);
    typed_access!(get_set, get_set_mut, set_or_create, Set, SetValue);
    typed_access!(get_zset, get_zset_mut, zset_or_create, ZSet, ZSetValue);

    /// Announces `n` changes to `key` in the selected db: counts them for
    /// persistence, breaks WATCH on the key, and makes clients blocked on it
    /// re-check (Redis's `signalModifiedKey` + `signalKeyAsReady`).
    pub fn changed(&mut self, key: &[u8], n: u64) {
        let db = self.client.db;
        self.eng.key_changed(db, key);
        self.eng.dirty += n;
    }

    /// Removes `key` when a command emptied its collection, with the `del` event
    /// Redis fires then; true when removed.
    pub fn delete_if_empty(&mut self, key: &[u8]) -> bool {
        let gone = self.discard_if_empty(key);
        if gone {
            self.notify(notify::GENERIC, "del", key);
        }
        gone
    }

    /// Removes `key` when it holds an empty collection, silently: for a value a
    /// command created (`*_or_create`) and then added nothing to, which no client
    /// ever saw. True when removed.
    pub fn discard_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self.db().keys.get(key).is_some_and(|e| e.val.is_empty_collection());
        if empty {
            self.db().remove(key);
            let db = self.client.db;
            self.eng.key_changed(db, key);
        }
        empty
    }

    /// Publishes a keyspace notification for `key` in the selected db when
    /// `notify-keyspace-events` enables `class` (Redis's `notifyKeyspaceEvent`).
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.eng.notify(class, event, key, db);
    }
}

impl super::Engine {
    /// Publishes `__keyspace@<db>__:<key>` → event and `__keyevent@<db>__:<event>` → key
    /// when the configured flags select `class`.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.config.notify_keyspace_events;
        if flags & class == 0 {
            return;
        }
        if flags & notify::KEYSPACE != 0 {
            let mut chan = format!("__keyspace@{}__:", db).into_bytes();
            chan.extend_from_slice(key);
            self.publish(&Bytes::from(chan), &Bytes::copy_from_slice(event.as_bytes()));
        }
        if flags & notify::KEYEVENT != 0 {
            let chan = format!("__keyevent@{}__:{}", db, event);
            self.publish(&Bytes::from(chan), &Bytes::copy_from_slice(key));
        }
    }
}
