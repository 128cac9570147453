//! One database: the keyspace dictionary and the expires dictionary (deadlines in
//! Unix milliseconds), as in Redis's `redisDb`. Provides raw operations only; the
//! engine layers lazy expiry, stats, and change tracking on top.

use super::dict::{Dict, WalkPos};
use super::sbuf::SBuf;
use super::value::Value;
use sha1::{Digest, Sha1};

/// A stored value with its access clock (OBJECT IDLETIME / FREQ).
#[derive(Clone, Debug)]
pub struct Entry {
    pub val: Value,
    /// LRU clock (seconds, 24 bits like Redis) of the last access, or in LFU mode
    /// the access time in minutes (high 16 bits) and a log counter (low 8 bits).
    pub lru: u32,
}

/// One database.
#[derive(Default)]
pub struct Db {
    pub keys: Dict<Entry>,
    pub expires: Dict<i64>,
    /// Active expiry scans the expires dictionary with this cursor.
    pub expires_cursor: u64,
    /// Running estimate of the average TTL (ms) of keys with an expire (INFO keyspace).
    pub avg_ttl: i64,
    /// The background snapshot walking this database, if any.
    pub snap: Option<Box<DbSnap>>,
}

/// A key's state when a snapshot started: value and deadline, or absent.
pub type PreImage = Option<(Value, Option<i64>)>;

/// A background snapshot's view of one database (the write barrier's state). The
/// snapshot walks the frozen dictionary in slices; a key the walk has not passed
/// yet has its pre-image saved on its first change, and the walk then skips it.
/// So the snapshot costs memory only for what is written while it runs.
pub struct DbSnap {
    /// The database's index when the snapshot started (SWAPDB moves it along).
    pub index: u32,
    /// The next bucket to walk.
    pub cursor: WalkPos,
    /// Pre-images of the keys changed before the walk reached them.
    pub saved: ahash::HashMap<SBuf, PreImage>,
    /// The dictionaries as they were when FLUSHDB/FLUSHALL emptied the database:
    /// the snapshot walks them instead, and the barrier has nothing to do.
    pub detached: Option<(Dict<Entry>, Dict<i64>)>,
}

impl DbSnap {
    pub fn new(index: u32) -> DbSnap {
        DbSnap { index, cursor: WalkPos::default(), saved: Default::default(), detached: None }
    }
}

impl Db {
    /// An empty database.
    pub fn new() -> Db {
        Db::default()
    }

    /// Number of keys (including logically expired ones not yet removed).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The deadline of `key`, if it has one.
    pub fn get_expire(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// True when `key` has a deadline at or before `now`.
    pub fn is_expired(&self, key: &[u8], now: i64) -> bool {
        matches!(self.get_expire(key), Some(when) if when <= now)
    }

    /// The write barrier: called before `key` changes in any way.
    #[inline]
    fn before_change(&mut self, key: &[u8]) {
        if let Some(snap) = self.snap.as_deref_mut() {
            if snap.detached.is_none() {
                preserve(snap, &self.keys, &self.expires, key);
            }
        }
    }

    /// Looks a key up to change its value in place.
    pub fn get_mut_for_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.before_change(key);
        self.keys.get_mut(key)
    }

    /// Stores `val` under `key`, replacing any value. The expire is removed unless
    /// `keep_ttl`.
    pub fn set(&mut self, key: &[u8], val: Value, lru: u32, keep_ttl: bool) {
        self.before_change(key);
        self.keys.upsert(key, || SBuf::from_slice(key), Entry { val, lru });
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
    }

    /// Removes `key` and its expire; returns the value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        self.before_change(key);
        let (_, e) = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(e.val)
    }

    /// Sets the deadline of an existing key.
    pub fn set_expire(&mut self, key: &[u8], when: i64) {
        self.before_change(key);
        if let Some(slot) = self.expires.get_mut(key) {
            *slot = when;
        } else {
            self.expires.insert(SBuf::from_slice(key), when);
        }
    }

    /// Removes the deadline; true when there was one.
    pub fn remove_expire(&mut self, key: &[u8]) -> bool {
        if !self.expires.contains_key(key) {
            return false;
        }
        self.before_change(key);
        self.expires.remove(key).is_some()
    }

    /// Removes every key. A snapshot walking the database keeps the dictionaries.
    pub fn clear(&mut self) {
        match self.snap.as_deref_mut() {
            Some(snap) if snap.detached.is_none() => {
                snap.detached = Some((std::mem::take(&mut self.keys), std::mem::take(&mut self.expires)));
            }
            _ => {
                self.keys.clear();
                self.expires.clear();
            }
        }
        self.expires_cursor = 0;
        self.avg_ttl = 0;
    }
}

/// Saves `key`'s pre-image unless the walk has passed it or it is saved already.
#[cold]
fn preserve(snap: &mut DbSnap, keys: &Dict<Entry>, expires: &Dict<i64>, key: &[u8]) {
    if snap.saved.contains_key(key) || keys.place_of(key) < snap.cursor {
        return;
    }
    let pre = keys.get(key).map(|e| (e.val.clone(), expires.get(key).copied()));
    snap.saved.insert(SBuf::from_slice(key), pre);
}

/// SHA1 of `data` XORed into `digest` (Redis's `xorDigest`).
pub fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let h = Sha1::digest(data);
    for (d, x) in digest.iter_mut().zip(h.iter()) {
        *d ^= x;
    }
}

/// `xor_digest` followed by hashing the digest onto itself (Redis's `mixDigest`):
/// order-dependent mixing, used inside one key's digest.
pub fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    let h = Sha1::digest(&digest[..]);
    digest.copy_from_slice(&h);
}

/// The digest of one key's value and deadline (DEBUG DIGEST-VALUE and the per-key
/// part of DEBUG DIGEST). Same construction as Redis's `xorObjectDigest`, except
/// that the expire *deadline* is mixed in, not only its presence, so replicas with
/// a different TTL are caught.
pub fn value_digest(digest: &mut [u8; 20], val: &Value, expire: Option<i64>) {
    let type_id: u32 = match val {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    };
    mix_digest(digest, &type_id.to_be_bytes());
    // Ordered collections mix element by element; unordered ones XOR a digest per
    // element so the layout does not matter.
    let xor_element = |digest: &mut [u8; 20], parts: &[&[u8]]| {
        let mut ele = [0u8; 20];
        for p in parts {
            mix_digest(&mut ele, p);
        }
        xor_digest(digest, &ele);
    };
    match val {
        Value::Str(s) => mix_digest(digest, &s.to_bytes()),
        Value::List(l) => {
            for item in l.iter() {
                mix_digest(digest, item);
            }
        }
        Value::Set(s) => {
            for m in s.members() {
                xor_element(digest, &[&m]);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                xor_element(digest, &[f, v]);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                xor_element(digest, &[m, crate::util::num::format_g17(score).as_bytes()]);
            }
        }
    }
    if let Some(when) = expire {
        let mut buf = b"!!expire!!".to_vec();
        buf.extend_from_slice(&when.to_be_bytes());
        xor_digest(digest, &buf);
    }
}

/// Order-independent digest of one database, mixed into `final_digest`
/// (nothing when the database is empty, as in Redis).
pub fn db_digest(final_digest: &mut [u8; 20], index: u32, db: &Db) {
    if db.is_empty() {
        return;
    }
    mix_digest(final_digest, &index.to_be_bytes());
    for (key, entry) in db.keys.iter() {
        let mut d = [0u8; 20];
        mix_digest(&mut d, key);
        value_digest(&mut d, &entry.val, db.get_expire(key));
        xor_digest(final_digest, &d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(dbs: &[Db]) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (i, db) in dbs.iter().enumerate() {
            db_digest(&mut d, i as u32, db);
        }
        d
    }

    #[test]
    fn digest_is_order_independent_and_sees_ttl() {
        let mut a = Db::new();
        let mut b = Db::new();
        for i in 0..100 {
            a.set(format!("k{i}").as_bytes(), Value::string(b"v"), 0, false);
        }
        for i in (0..100).rev() {
            b.set(format!("k{i}").as_bytes(), Value::string(b"v"), 0, false);
        }
        assert_eq!(digest_of(&[a]), digest_of(&[b]));
        let mut c = Db::new();
        c.set(b"k", Value::string(b"v"), 0, false);
        c.set_expire(b"k", 1000);
        let mut d = Db::new();
        d.set(b"k", Value::string(b"v"), 0, false);
        d.set_expire(b"k", 1001);
        assert_ne!(digest_of(&[c]), digest_of(&[d]));
        assert_eq!(digest_of(&[Db::new()]), [0u8; 20]);
    }
}
