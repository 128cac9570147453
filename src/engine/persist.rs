//! Snapshots and RDB persistence without fork.
//!
//! A snapshot is a consistent cut of every database taken under the engine lock: the
//! index of each database (key, value, deadline) is copied, but values are not —
//! collections and long strings are reference-counted, so the cut shares them with
//! the live dataset, and a write to a value the cut still holds copies that value
//! first (`Arc::make_mut` in the typed accessors: copy-on-write at value
//! granularity). A thread then serialises the cut as an RDB file while clients keep
//! reading and writing. For a big dataset BGSAVE prepares the cut's buffers outside
//! the lock first (`prefaulted`, driven by the server's `bgsave_cuts` task), so the
//! pause is the walk alone (~28 ms per million keys). SAVE, BGSAVE, the `save` points, SHUTDOWN SAVE and DEBUG
//! RELOAD all go through `Engine::snapshot` and `write_rdb`; full syncs will too.
//!
//! Files are written to a temporary name in `dir`, fsynced, renamed over
//! `dbfilename` and the directory fsynced, so a crash never leaves a torn file.

use super::Engine;
use crate::db::keyspace::Entry;
use crate::db::sbuf::SBuf;
use crate::db::Value;
use crate::rdb::{Item, Limits, RdbError, RdbWriter};
use bytes::Bytes;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Part of a database's cut: keys with their values (shared with the live
/// dataset), and the deadlines of the keys that have one, by position. Deadlines
/// sit apart so a key costs 48 bytes in the cut, not 64: the copy is bound by page
/// faults.
#[derive(Default)]
pub struct CutPart {
    pub entries: Vec<(SBuf, Value)>,
    pub expires: Vec<(usize, i64)>,
}

impl CutPart {
    /// The keys with their deadlines, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&SBuf, &Value, Option<i64>)> {
        let mut next = self.expires.iter().peekable();
        self.entries.iter().enumerate().map(move |(i, (k, v))| {
            let when = next.next_if(|(at, _)| *at == i).map(|(_, w)| *w);
            (k, v, when)
        })
    }
}

/// A consistent cut of the dataset and the script cache.
pub struct Snapshot {
    /// Non-empty databases: (index, entries in one or more parts).
    pub dbs: Vec<(u32, Vec<CutPart>)>,
    /// Bodies of every cached script (`lua` aux fields).
    pub scripts: Vec<Bytes>,
    /// Unix seconds when the cut was taken (`ctime`).
    pub ctime: i64,
    /// `used_memory` at the cut (`used-mem`).
    pub used_mem: u64,
    /// Keys in the cut.
    pub keys: u64,
    /// Replication position of the cut (`repl-stream-db`, `repl-id`, `repl-offset`
    /// aux fields), when the snapshot feeds or follows replication; a standalone
    /// server writes none, as Redis.
    pub repl: Option<ReplPosition>,
    /// Hidden `rdb-key-save-delay`: µs slept per key written (tests of slow saves).
    pub key_save_delay: Duration,
}

/// Where a snapshot sits in the replication stream.
pub struct ReplPosition {
    pub stream_db: u32,
    pub replid: String,
    pub offset: u64,
}

/// Where a running background save is.
pub struct Bgsave {
    pub started: Instant,
    /// `dirty` when the cut was taken: what the save covers.
    pub dirty_at_start: u64,
    pub keys_total: u64,
    pub keys_done: Arc<AtomicU64>,
    /// Set to make the writer stop and remove its temporary file (FLUSHALL).
    pub cancel: Arc<AtomicBool>,
    pub thread: std::thread::JoinHandle<io::Result<u64>>,
}

/// What a load in progress has done (INFO persistence `loading_*`).
pub struct Loading {
    pub started_unix: i64,
    pub total_bytes: u64,
    pub loaded_bytes: Arc<AtomicU64>,
    pub started: Instant,
}

impl Loading {
    /// The state between the decision to load and the file being opened.
    pub fn pending() -> Loading {
        Loading { started_unix: unix_now(), total_bytes: 0, loaded_bytes: Arc::default(), started: Instant::now() }
    }
}

/// The persistence state shown by INFO persistence and LASTSAVE.
pub struct Persistence {
    /// Unix seconds of the last successful save (start-up time before any).
    pub last_save: i64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    /// Unix seconds of the last background save attempt (retry delay after errors).
    pub last_bgsave_try: i64,
    pub saves: u64,
    pub bgsave: Option<Bgsave>,
    /// BGSAVE SCHEDULE arrived while a save was running.
    pub bgsave_scheduled: bool,
    /// A background save waits for its cut (`Engine::bgsave_cut`).
    pub bgsave_pending: bool,
    pub loading: Option<Loading>,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
}

impl Persistence {
    pub fn new(now_unix: i64) -> Persistence {
        Persistence {
            last_save: now_unix,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_bgsave_try: 0,
            saves: 0,
            bgsave: None,
            bgsave_scheduled: false,
            bgsave_pending: false,
            loading: None,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
        }
    }
}

/// Seconds to wait before retrying a failed background save from the save points
/// (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY: i64 = 5;

/// Keys per batch when a load applies what it read (the lock is released between
/// batches so INFO, PING and the -LOADING replies keep flowing).
const LOAD_BATCH: usize = 1024;

/// Databases with at least this many keys are cut by two threads.
const PARALLEL_CUT_KEYS: usize = 100_000;

/// The error text of writes refused after a failed background save.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

fn unix_now() -> i64 {
    crate::util::now_ms() / 1000
}

impl Engine {
    /// Takes a consistent cut of every database and the script cache. Runs under
    /// the lock: copies each index (key, value handle, deadline); values are shared.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_into(Vec::new())
    }

    /// The capacities of the cut's parts for the current dataset, with room for
    /// the keys that may arrive before the cut (see `snapshot_into`).
    pub fn cut_capacities(&self) -> Vec<usize> {
        let mut caps = Vec::new();
        for db in self.dbs.iter().filter(|db| !db.is_empty()) {
            let parts = if db.len() >= PARALLEL_CUT_KEYS { 2 } else { 1 };
            caps.extend(std::iter::repeat_n(db.len() / parts + db.len() / 8 + 1024, parts));
        }
        caps
    }

    /// `snapshot`, filling buffers from `pool` when one is big enough: buffers
    /// whose pages were touched before the lock was taken (`prefaulted`) spare the
    /// cut its page faults, about half of its time on a million keys.
    pub fn snapshot_into(&self, mut pool: Vec<Vec<(SBuf, Value)>>) -> Snapshot {
        let started = Instant::now();
        let mut dbs = Vec::new();
        let mut keys = 0u64;
        for (index, db) in self.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            // A big database is cut by two threads, each walking half the buckets
            // into its own part: the walk is bound by cache misses and the copy by
            // page faults (1M keys: 75 → ~63 ms; BENCHMARKS.md has the steps).
            let parts = if db.len() >= PARALLEL_CUT_KEYS { 2 } else { 1 };
            let mut buffers: Vec<Vec<(SBuf, Value)>> = (0..parts)
                .map(|_| match pool.iter().position(|b| b.capacity() >= db.len() / parts + 16) {
                    Some(i) => pool.swap_remove(i),
                    None => Vec::with_capacity(db.len() / parts + 16),
                })
                .collect();
            let cut_part = |part: usize, entries: Vec<(SBuf, Value)>| {
                let with_expires = !db.expires.is_empty();
                let mut cut = CutPart { entries, expires: Vec::new() };
                db.keys.for_each_part(part, parts, |key, Entry { val, .. }| {
                    if val.is_empty_collection() {
                        return;
                    }
                    if with_expires {
                        if let Some(&when) = db.expires.get(key) {
                            cut.expires.push((cut.entries.len(), when));
                        }
                    }
                    cut.entries.push((key.clone(), val.clone()));
                });
                cut
            };
            let cut: Vec<CutPart> = if parts == 1 {
                vec![cut_part(0, buffers.pop().unwrap_or_default())]
            } else {
                let (second, first) = (buffers.pop().unwrap_or_default(), buffers.pop().unwrap_or_default());
                std::thread::scope(|s| {
                    let other = s.spawn(|| cut_part(1, second));
                    let mine = cut_part(0, first);
                    vec![mine, other.join().expect("the cut's second thread panicked")]
                })
            };
            keys += cut.iter().map(|p| p.entries.len() as u64).sum::<u64>();
            dbs.push((index as u32, cut));
        }
        let scripts = self.scripting.bodies().cloned().collect();
        let took = started.elapsed();
        if took > Duration::from_millis(10) {
            tracing::info!("Snapshot of {keys} keys taken in {} ms", took.as_millis());
        }
        Snapshot {
            dbs,
            scripts,
            ctime: unix_now(),
            used_mem: self.used_memory_sample,
            keys,
            repl: None,
            key_save_delay: Duration::from_micros(self.config.rdb_key_save_delay.max(0) as u64),
        }
    }

    fn rdb_path(&self) -> PathBuf {
        self.config.dir.join(&self.config.dbfilename)
    }

    /// SAVE: a snapshot written by the calling thread (the server waits, as Redis).
    pub fn save_now(&mut self) -> Result<(), String> {
        if self.bgsave_in_progress() {
            return Err("ERR Background save already in progress".into());
        }
        let snap = self.snapshot();
        let started = Instant::now();
        let (dir, file) = (self.config.dir.clone(), self.config.dbfilename.clone());
        let (compress, checksum) = (self.config.rdbcompression, self.config.rdbchecksum);
        match save_to_file(&snap, &dir, &file, compress, checksum, &AtomicU64::new(0), &AtomicBool::new(false)) {
            Ok(bytes) => {
                tracing::info!("DB saved on disk ({bytes} bytes, {} ms)", started.elapsed().as_millis());
                self.dirty = 0;
                self.persist.last_save = unix_now();
                self.persist.last_bgsave_ok = true;
                self.persist.saves += 1;
                Ok(())
            }
            Err(e) => {
                tracing::warn!("Failed saving the DB: {e}");
                Err("ERR".into())
            }
        }
    }

    /// Abandons a running or pending background save: its writer stops and removes
    /// its temporary file, and is waited for, so it cannot rename an older dataset
    /// over a newer file afterwards.
    pub fn abandon_bgsave(&mut self) {
        self.persist.bgsave_pending = false;
        if let Some(b) = self.persist.bgsave.take() {
            b.cancel.store(true, Ordering::Relaxed);
            let _ = b.thread.join();
            tracing::info!("Background saving abandoned");
        }
    }

    /// The save before shutting down: a running background save is abandoned first
    /// (its file would be replaced anyway; Redis kills the child), then saves.
    pub fn shutdown_save(&mut self) -> Result<(), String> {
        self.abandon_bgsave();
        tracing::info!("Saving the final RDB snapshot before exiting.");
        self.save_now()
    }

    /// True while a background save runs or waits for its cut.
    pub fn bgsave_in_progress(&self) -> bool {
        self.persist.bgsave.is_some() || self.persist.bgsave_pending
    }

    /// BGSAVE: a snapshot written by a thread while the server keeps serving. A big
    /// dataset is cut a moment later, once the server's snapshot task has prepared
    /// the cut's buffers outside the lock (`events.bgsave`); the save counts as in
    /// progress from now on.
    pub fn bgsave_start(&mut self) -> Result<(), String> {
        if self.bgsave_in_progress() {
            return Err("ERR Background save already in progress".into());
        }
        if self.dbs.iter().map(|db| db.len()).sum::<usize>() >= PARALLEL_CUT_KEYS {
            self.persist.bgsave_pending = true;
            self.persist.last_bgsave_try = unix_now();
            self.events.bgsave.notify_one();
            tracing::info!("Background saving started");
            return Ok(());
        }
        let snap = self.snapshot();
        self.bgsave_spawn(snap)
    }

    /// Takes the pending background save's cut into `pool` and starts its writer.
    pub fn bgsave_cut(&mut self, pool: Vec<Vec<(SBuf, Value)>>) {
        if !self.persist.bgsave_pending {
            return;
        }
        self.persist.bgsave_pending = false;
        let snap = self.snapshot_into(pool);
        if let Err(e) = self.bgsave_spawn(snap) {
            tracing::warn!("{e}");
            self.persist.last_bgsave_ok = false;
        }
    }

    /// Starts the thread writing `snap`.
    fn bgsave_spawn(&mut self, snap: Snapshot) -> Result<(), String> {
        let keys_done = Arc::new(AtomicU64::new(0));
        let progress = keys_done.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let cancelled = cancel.clone();
        let (dir, file) = (self.config.dir.clone(), self.config.dbfilename.clone());
        let (compress, checksum) = (self.config.rdbcompression, self.config.rdbchecksum);
        let keys_total = snap.keys;
        let thread = std::thread::Builder::new()
            .name("bgsave".into())
            .spawn(move || save_to_file(&snap, &dir, &file, compress, checksum, &progress, &cancelled))
            .map_err(|e| format!("ERR can't start the background save: {e}"))?;
        self.persist.last_bgsave_try = unix_now();
        self.persist.bgsave =
            Some(Bgsave { started: Instant::now(), dirty_at_start: self.dirty, keys_total, keys_done, cancel, thread });
        if keys_total < PARALLEL_CUT_KEYS as u64 {
            tracing::info!("Background saving started");
        }
        Ok(())
    }

    /// From the cron: finishes a background save that ended, starts a scheduled one,
    /// and starts one when a `save` point is reached.
    pub fn persist_cron(&mut self) {
        if self.persist.bgsave.as_ref().is_some_and(|b| b.thread.is_finished()) {
            let b = self.persist.bgsave.take().expect("checked just above");
            let secs = b.started.elapsed().as_secs() as i64;
            let result = b.thread.join().unwrap_or_else(|_| Err(io::Error::other("the save thread panicked")));
            self.persist.last_bgsave_secs = secs;
            match result {
                Ok(bytes) => {
                    tracing::info!("Background saving terminated with success ({bytes} bytes)");
                    self.dirty = self.dirty.saturating_sub(b.dirty_at_start);
                    self.persist.last_save = unix_now();
                    self.persist.last_bgsave_ok = true;
                    self.persist.saves += 1;
                }
                Err(e) => {
                    tracing::warn!("Background saving error: {e}");
                    self.persist.last_bgsave_ok = false;
                }
            }
        }
        if self.bgsave_in_progress() || self.persist.loading.is_some() {
            return;
        }
        if self.persist.bgsave_scheduled {
            self.persist.bgsave_scheduled = false;
            let _ = self.bgsave_start();
            return;
        }
        let now = unix_now();
        let since = now - self.persist.last_save;
        let may_retry = self.persist.last_bgsave_ok || now - self.persist.last_bgsave_try > BGSAVE_RETRY_DELAY;
        let due = self.config.save.iter().find(|&&(secs, changes)| self.dirty >= changes && since > secs as i64);
        if let (Some(&(secs, changes)), true) = (due, may_retry) {
            tracing::info!("{changes} changes in {secs} seconds. Saving...");
            let _ = self.bgsave_start();
        }
    }

    /// True when writes must be refused because the last background save failed
    /// (`stop-writes-on-bgsave-error`).
    pub fn writes_refused_on_save_error(&self) -> bool {
        self.config.stop_writes_on_bgsave_error && !self.config.save.is_empty() && !self.persist.last_bgsave_ok
    }

    /// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty the databases, load the
    /// file back. With MERGE a key in the file replaces the same key in memory;
    /// without it a key present in both is an error, as in Redis.
    pub fn debug_reload(&mut self, save: bool, flush: bool, merge: bool) -> Result<(), String> {
        if save {
            self.save_now()?;
        }
        if flush {
            for db in &mut self.dbs {
                db.clear();
            }
        }
        let path = self.rdb_path();
        let file = std::fs::File::open(&path).map_err(|e| format!("ERR Error trying to load the RDB dump: {e}"))?;
        let mut sink = Applier::new(self.config.databases);
        sink.merge = merge;
        let limits = Limits::from_config(&self.config);
        crate::rdb::load_with_limits(io::BufReader::new(file), &limits, &mut |item| {
            if sink.push(item) {
                sink.flush(self)
            } else {
                Ok(())
            }
        })
        .map_err(|e| format!("ERR Error trying to load the RDB dump: {e}"))?;
        sink.flush(self).map_err(|e| format!("ERR Error trying to load the RDB dump: {e}"))?;
        Ok(())
    }
}

/// A buffer for `capacity` cut entries whose pages have been written once, so
/// filling it under the lock takes no page faults. Call outside the lock.
pub fn prefaulted(capacity: usize) -> Vec<(SBuf, Value)> {
    let mut v: Vec<(SBuf, Value)> = Vec::with_capacity(capacity);
    let bytes = capacity * std::mem::size_of::<(SBuf, Value)>();
    // SAFETY: the capacity is allocated and unused; zero bytes are written into it
    // only to fault its pages in. `len` stays 0, so nothing reads them as values.
    unsafe { std::ptr::write_bytes(v.as_mut_ptr() as *mut u8, 0, bytes) };
    v
}

/// Writes `snap` as an RDB stream. `keys_done` counts the keys written.
pub fn write_rdb<W: Write>(
    snap: &Snapshot,
    out: W,
    compression: bool,
    checksum: bool,
    keys_done: &AtomicU64,
) -> io::Result<W> {
    let mut w = RdbWriter::new(out, compression, checksum);
    w.header()?;
    w.aux(b"redis-ver", crate::REDIS_VERSION.as_bytes())?;
    w.aux(b"redis-bits", b"64")?;
    w.aux(b"ctime", snap.ctime.to_string().as_bytes())?;
    w.aux(b"used-mem", snap.used_mem.to_string().as_bytes())?;
    if let Some(r) = &snap.repl {
        w.aux(b"repl-stream-db", r.stream_db.to_string().as_bytes())?;
        w.aux(b"repl-id", r.replid.as_bytes())?;
        w.aux(b"repl-offset", r.offset.to_string().as_bytes())?;
    }
    w.aux(b"aof-base", b"0")?;
    for body in &snap.scripts {
        w.aux(b"lua", body)?;
    }
    if let Some((index, _)) = snap.dbs.iter().find(|(index, _)| *index >= 16) {
        // Written anyway (dropping the keys would lose them), as redis-server does.
        tracing::warn!("Saving database {index}: a redis-server with the default 16 databases refuses this file");
    }
    for (index, parts) in &snap.dbs {
        let size: usize = parts.iter().map(|p| p.entries.len()).sum();
        let expires: usize = parts.iter().map(|p| p.expires.len()).sum();
        w.select_db(*index, size as u64, expires as u64)?;
        for (n, (key, val, expire)) in parts.iter().flat_map(CutPart::iter).enumerate() {
            w.entry(key, val, expire)?;
            if !snap.key_save_delay.is_zero() {
                std::thread::sleep(snap.key_save_delay);
            }
            if n % 1024 == 1023 {
                keys_done.fetch_add(1024, Ordering::Relaxed);
            }
        }
        keys_done.fetch_add(size as u64 % 1024, Ordering::Relaxed);
    }
    w.finish()
}

/// A writer that stops when `cancel` is set (checked every 64 KiB written).
struct Cancellable<'a, W> {
    inner: W,
    cancel: &'a AtomicBool,
    since_check: usize,
}

impl<W: Write> Write for Cancellable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.since_check += buf.len();
        if self.since_check >= 1 << 16 {
            self.since_check = 0;
            if self.cancel.load(Ordering::Relaxed) {
                return Err(io::Error::other("background save abandoned"));
            }
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `snap` to `dir/file` through a temporary file, fsync and rename, and
/// returns the file's size. Gives up (removing the temporary file) once `cancel`
/// is set, at the latest just before the rename.
pub fn save_to_file(
    snap: &Snapshot,
    dir: &Path,
    file: &str,
    compression: bool,
    checksum: bool,
    keys_done: &AtomicU64,
    cancel: &AtomicBool,
) -> io::Result<u64> {
    let tmp = dir.join(format!("temp-{}-{:?}.rdb", std::process::id(), std::thread::current().id()));
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let out = Cancellable { inner: BufWriter::with_capacity(1 << 16, f), cancel, since_check: 0 };
        let w = write_rdb(snap, out, compression, checksum, keys_done)?;
        let f = w.inner.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let size = f.metadata()?.len();
        drop(f);
        if cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("background save abandoned"));
        }
        std::fs::rename(&tmp, dir.join(file))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(size)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A reader that counts the bytes it passes on (loading progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a finished load did.
pub struct LoadSummary {
    pub keys: u64,
    pub expired: u64,
}

/// Applies loaded items to an engine in batches.
struct Applier {
    databases: usize,
    batch: Vec<Item>,
    keys: u64,
    expired: u64,
    now_ms: i64,
    /// A key already in memory is replaced (DEBUG RELOAD MERGE), not an error.
    merge: bool,
}

impl Applier {
    fn new(databases: usize) -> Applier {
        Applier {
            databases,
            batch: Vec::with_capacity(LOAD_BATCH),
            keys: 0,
            expired: 0,
            now_ms: crate::util::now_ms(),
            merge: false,
        }
    }

    /// Batches one item; true when the batch is full and should be applied.
    fn push(&mut self, item: Item) -> bool {
        self.batch.push(item);
        self.batch.len() >= LOAD_BATCH
    }

    /// Applies what is batched.
    fn flush(&mut self, eng: &mut Engine) -> Result<(), RdbError> {
        for item in self.batch.drain(..) {
            match item {
                Item::Entry { db, key, value, expire_ms, idle, freq } => {
                    let db = db as usize;
                    if db >= self.databases {
                        return Err(RdbError::new(format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                            self.databases
                        )));
                    }
                    // A primary drops keys that expired while the file sat on disk.
                    if expire_ms.is_some_and(|when| when < self.now_ms) {
                        self.expired += 1;
                        continue;
                    }
                    let lfu = eng.lfu_params().is_some();
                    let store = &mut eng.dbs[db];
                    if !self.merge && store.keys.contains_key(&key) {
                        return Err(RdbError::new(format!(
                            "Duplicate key '{}' found in RDB file",
                            String::from_utf8_lossy(&key)
                        )));
                    }
                    // IDLE / FREQ from the file (written under an LRU / LFU policy).
                    let lru = match (lfu, idle, freq) {
                        (true, _, Some(f)) => (super::lfu::initial(true) & !0xFF) | f as u32,
                        (false, Some(idle), _) => {
                            Engine::lru_clock().wrapping_sub((idle & 0x00FF_FFFF) as u32) & 0x00FF_FFFF
                        }
                        _ => super::lfu::initial(lfu),
                    };
                    store.set(&key, value, lru, false);
                    if let Some(when) = expire_ms {
                        store.set_expire(&key, when);
                    }
                    self.keys += 1;
                }
                Item::Aux { key, value } if key == b"lua" => {
                    let body = Bytes::from(value);
                    if let Err(e) = eng.scripting.create(&body, false) {
                        tracing::warn!("Failed loading a Lua script from the RDB file: {e:?}");
                    }
                }
                Item::Function(_) => {
                    tracing::warn!("Skipping a function library from the RDB file: moonkv has no FUNCTION support");
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Loads `path` into the engine behind `engine`, a batch at a time under the lock
/// (the start-up load: the server answers -LOADING meanwhile). Logs progress.
pub fn load_file(path: &Path, engine: &parking_lot::Mutex<Engine>) -> Result<LoadSummary, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let count = Arc::new(AtomicU64::new(0));
    let (databases, key_delay, limits);
    {
        let mut eng = engine.lock();
        databases = eng.config.databases;
        limits = Limits::from_config(&eng.config);
        // Hidden debug setting: µs slept per key, to observe a slow load.
        key_delay = Duration::from_micros(eng.config.key_load_delay.max(0) as u64);
        eng.persist.loading = Some(Loading {
            started_unix: unix_now(),
            total_bytes: total,
            loaded_bytes: count.clone(),
            started: Instant::now(),
        });
    }
    let started = Instant::now();
    let mut last_log = Instant::now();
    let reader = io::BufReader::with_capacity(1 << 16, Counting { inner: file, count: count.clone() });
    let mut applier = Applier::new(databases);
    let mut result = crate::rdb::load_with_limits(reader, &limits, &mut |item| {
        if !key_delay.is_zero() && matches!(item, Item::Entry { .. }) {
            std::thread::sleep(key_delay);
        }
        if applier.push(item) {
            let mut eng = engine.lock();
            applier.flush(&mut eng)?;
            drop(eng);
            if last_log.elapsed() >= Duration::from_secs(1) {
                last_log = Instant::now();
                let done = count.load(Ordering::Relaxed);
                let perc = if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 };
                tracing::info!("Loading RDB: {} keys, {done} of {total} bytes ({perc:.1}%)", applier.keys);
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string());
    let mut eng = engine.lock();
    if result.is_ok() {
        result = applier.flush(&mut eng).map_err(|e| e.to_string());
    }
    eng.persist.loading = None;
    let summary = LoadSummary { keys: applier.keys, expired: applier.expired };
    eng.persist.last_load_keys_loaded = summary.keys;
    eng.persist.last_load_keys_expired = summary.expired;
    eng.persist.last_save = unix_now();
    drop(eng);
    result?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}. DB loaded from disk: {:.3} seconds",
        summary.keys,
        summary.expired,
        started.elapsed().as_secs_f64()
    );
    Ok(summary)
}

/// `moonkv --check-rdb FILE` (redis-check-rdb): reads the whole file, verifying its
/// structure, every value and the checksum, and reports what it holds. Returns the
/// report, as the error when the file is not valid.
pub fn check_rdb(path: &Path) -> Result<String, String> {
    let mut report = format!("[offset 0] Checking RDB file {}\n", path.display());
    let file =
        std::fs::File::open(path).map_err(|e| format!("{report}Fatal error: can't open {}: {e}", path.display()))?;
    let count = Arc::new(AtomicU64::new(0));
    let reader = io::BufReader::new(Counting { inner: file, count: count.clone() });
    let (mut keys, mut expires, mut expired, mut scripts) = (0u64, 0u64, 0u64, 0u64);
    let mut per_type: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let now = crate::util::now_ms();
    let result = crate::rdb::load_with_limits(reader, &Limits::default(), &mut |item| {
        match item {
            Item::Aux { key, value } if key == b"lua" => {
                let _ = value;
                scripts += 1;
            }
            Item::Aux { key, value } => {
                report.push_str(&format!(
                    "[offset {}] AUX FIELD {} = '{}'\n",
                    count.load(Ordering::Relaxed),
                    String::from_utf8_lossy(&key),
                    String::from_utf8_lossy(&value)
                ));
            }
            Item::Entry { value, expire_ms, .. } => {
                keys += 1;
                *per_type.entry(value.type_name()).or_default() += 1;
                if let Some(when) = expire_ms {
                    expires += 1;
                    if when < now {
                        expired += 1;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    });
    let offset = count.load(Ordering::Relaxed);
    match result {
        Ok(()) => {
            report.push_str(&format!("[offset {offset}] Checksum OK\n"));
            report.push_str(&format!("[offset {offset}] \\o/ RDB looks OK! \\o/\n"));
            report.push_str(&format!(
                "[info] {keys} keys read\n[info] {expires} expires\n[info] {expired} already expired\n"
            ));
            for (t, n) in per_type {
                report.push_str(&format!("[info] {n} {t} keys\n"));
            }
            report.push_str(&format!("[info] {scripts} Lua scripts\n"));
            Ok(report)
        }
        Err(e) => {
            report.push_str(&format!("--- RDB ERROR DETECTED ---\n[offset {offset}] {e}\n"));
            report.push_str(&format!("[additional info] {keys} keys read before the error\n"));
            Err(report)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_fields_include_the_replication_position_when_known() {
        let mut snap = Snapshot {
            dbs: Vec::new(),
            scripts: vec![Bytes::from_static(b"return 1")],
            ctime: 1,
            used_mem: 2,
            keys: 0,
            repl: None,
            key_save_delay: Duration::ZERO,
        };
        let aux = |snap: &Snapshot| {
            let bytes = write_rdb(snap, Vec::new(), true, true, &AtomicU64::new(0)).expect("write");
            let mut aux = Vec::new();
            crate::rdb::load(&bytes[..], &mut |item| {
                if let Item::Aux { key, value } = item {
                    aux.push((
                        String::from_utf8_lossy(&key).into_owned(),
                        String::from_utf8_lossy(&value).into_owned(),
                    ));
                }
                Ok(())
            })
            .expect("load");
            aux
        };
        let names: Vec<String> = aux(&snap).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base", "lua"]);
        snap.repl = Some(ReplPosition { stream_db: 3, replid: "a".repeat(40), offset: 12345 });
        let got = aux(&snap);
        assert!(got.contains(&("repl-stream-db".into(), "3".into())), "{got:?}");
        assert!(got.contains(&("repl-id".into(), "a".repeat(40))), "{got:?}");
        assert!(got.contains(&("repl-offset".into(), "12345".into())), "{got:?}");
        assert!(got.contains(&("lua".into(), "return 1".into())), "{got:?}");
    }
}
