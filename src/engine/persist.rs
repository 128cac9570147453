//! Snapshots and RDB persistence without fork.
//!
//! A snapshot is a consistent cut of every database and of the script cache, taken
//! without stopping the world and without copying the dataset. Starting one is O(1)
//! per database under the lock: each dictionary is frozen (no rehash, no resize, so
//! every key keeps its bucket) and gets a write barrier (`Db::snap`). The writer then
//! walks the dictionaries in slices of `SLICE_KEYS` keys under the lock, releasing it
//! in between, and serialises each slice outside it. A key changed before the walk
//! reached it has its pre-image (value handle and deadline, or "absent") saved on the
//! first change, and the walk skips it; values are reference-counted, so a pre-image
//! shares the value and a later change copies it first (`Arc::make_mut`: copy-on-
//! write at value granularity). Memory overhead is therefore bounded by what is
//! written while the snapshot runs, plus one slice; FLUSHDB/FLUSHALL hand the whole
//! dictionaries over to the snapshot instead of freeing them.
//!
//! SAVE, SHUTDOWN SAVE and DEBUG RELOAD hold the lock for the whole save and walk the
//! dictionaries directly. BGSAVE and the `save` points run a background snapshot
//! (`snapshot_begin`/`snapshot_next`) on a thread that takes the lock per slice
//! through `Engine::access`; full syncs will too.
//!
//! Files are written to a temporary name in `dir`, fsynced, renamed over
//! `dbfilename` and the directory fsynced, so a crash never leaves a torn file.

use super::Engine;
use crate::db::dict::{Dict, WalkPos};
use crate::db::keyspace::{Db, DbSnap, Entry};
use crate::db::sbuf::SBuf;
use crate::db::Value;
use crate::rdb::{Item, Limits, RdbError, RdbWriter};
use bytes::Bytes;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a snapshot produces, in order: each database's header, then its keys.
pub enum Piece {
    Db { index: u32, size: u64, expires: u64 },
    Entry(SBuf, Value, Option<i64>),
}

/// Keys per slice of a background snapshot's walk (~0.1–0.2 ms under the lock).
pub const SLICE_KEYS: usize = 4096;

/// Runs a closure on the engine under its lock from another thread; false when
/// the engine is gone. Installed by the server (`Engine::access`).
pub type EngineAccess = Arc<dyn Fn(&mut dyn FnMut(&mut Engine)) -> bool + Send + Sync>;

/// Where a background snapshot is (`Persistence::run`).
pub struct SnapshotRun {
    id: u64,
    /// The databases to write: index, keys and deadlines when the snapshot began.
    order: Vec<(u32, u64, u64)>,
    next_db: usize,
    stage: Stage,
}

enum Stage {
    /// The database's header is next.
    Header,
    /// Walking the database's dictionary.
    Walk,
    /// Writing the pre-images saved by the barrier.
    Saved(std::collections::hash_map::IntoIter<SBuf, crate::db::keyspace::PreImage>),
}

/// What a snapshot records when it begins, besides the keys (see `Piece`).
pub struct Snapshot {
    /// The background run producing the keys (`snapshot_next`); 0 for a snapshot
    /// walked under the lock in one go.
    pub id: u64,
    /// Bodies of every cached script (`lua` aux fields).
    pub scripts: Vec<Bytes>,
    /// Unix seconds when the cut was taken (`ctime`).
    pub ctime: i64,
    /// `used_memory` at the cut (`used-mem`).
    pub used_mem: u64,
    /// Keys when the snapshot began.
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
    /// The writer's temporary file.
    pub tmp: PathBuf,
    /// The background snapshot it writes.
    pub run: u64,
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
    /// The background snapshot in progress, if any.
    pub run: Option<SnapshotRun>,
    /// Background snapshots started so far (their ids).
    pub runs: u64,
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
            run: None,
            runs: 0,
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

/// The error text of writes refused after a failed background save.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

fn unix_now() -> i64 {
    crate::util::now_ms() / 1000
}

impl Engine {
    /// The snapshot's header: scripts, times and sizes as they are now.
    fn snapshot_header(&self, id: u64) -> Snapshot {
        Snapshot {
            id,
            scripts: self.scripting.bodies().cloned().collect(),
            ctime: unix_now(),
            used_mem: self.used_memory_sample,
            keys: self.dbs.iter().map(|db| db.len() as u64).sum(),
            repl: self.repl_position(),
            key_save_delay: Duration::from_micros(self.config.rdb_key_save_delay.max(0) as u64),
        }
    }

    /// Begins a background snapshot: freezes every non-empty database's dictionary
    /// and arms its write barrier. O(1) per database. The keys then come from
    /// `snapshot_next`, slice by slice.
    pub fn snapshot_begin(&mut self) -> Result<Snapshot, String> {
        if self.persist.run.is_some() {
            return Err("ERR Background save already in progress".into());
        }
        self.persist.runs += 1;
        let id = self.persist.runs;
        let mut order = Vec::new();
        for (index, db) in self.dbs.iter_mut().enumerate() {
            if !db.is_empty() {
                order.push((index as u32, db.len() as u64, db.expires.len() as u64));
                db.keys.freeze(true);
                db.snap = Some(Box::new(DbSnap::new(index as u32)));
            }
        }
        self.persist.run = Some(SnapshotRun { id, order, next_db: 0, stage: Stage::Header });
        Ok(self.snapshot_header(id))
    }

    /// Appends the next slice of background snapshot `id` to `out` (at least
    /// `budget` pieces unless it ends). Ok(false) once it is complete; an error
    /// when it was abandoned.
    pub fn snapshot_next(&mut self, id: u64, out: &mut Vec<Piece>, budget: usize) -> io::Result<bool> {
        let Some(run) = self.persist.run.as_mut().filter(|r| r.id == id) else {
            return Err(io::Error::other("background save abandoned"));
        };
        let stop = out.len().saturating_add(budget);
        while out.len() < stop {
            let Some(&(index, size, expires)) = run.order.get(run.next_db) else {
                self.persist.run = None;
                return Ok(false);
            };
            match &mut run.stage {
                Stage::Header => {
                    out.push(Piece::Db { index, size, expires });
                    run.stage = Stage::Walk;
                }
                Stage::Walk => {
                    let db = self
                        .dbs
                        .iter_mut()
                        .find(|db| db.snap.as_ref().is_some_and(|s| s.index == index))
                        .expect("a database being snapshotted keeps its barrier until walked");
                    let snap = db.snap.as_deref_mut().expect("found by its barrier");
                    let DbSnap { cursor, saved, detached, .. } = snap;
                    let (keys, exps) = match detached {
                        Some((keys, exps)) => (&*keys, &*exps),
                        None => (&db.keys, &db.expires),
                    };
                    let done = walk_slice(keys, exps, cursor, Some(saved), out, stop - out.len());
                    if done {
                        let snap = db.snap.take().expect("found by its barrier");
                        db.keys.freeze(false);
                        run.stage = Stage::Saved(snap.saved.into_iter());
                    }
                }
                Stage::Saved(pre_images) => {
                    for (key, pre) in pre_images.by_ref() {
                        if let Some((val, when)) = pre.filter(|(v, _)| !v.is_empty_collection()) {
                            out.push(Piece::Entry(key, val, when));
                            if out.len() >= stop {
                                break;
                            }
                        }
                    }
                    if pre_images.len() == 0 {
                        run.next_db += 1;
                        run.stage = Stage::Header;
                    }
                }
            }
        }
        Ok(true)
    }

    /// Ends background snapshot `id` if it still runs (its writer failed).
    pub fn snapshot_end(&mut self, id: u64) {
        if self.persist.run.as_ref().is_some_and(|r| r.id == id) {
            self.snapshot_abort();
        }
    }

    /// Ends the background snapshot, if any: barriers disarmed, dictionaries thawed.
    pub fn snapshot_abort(&mut self) {
        self.persist.run = None;
        for db in &mut self.dbs {
            if db.snap.take().is_some() {
                db.keys.freeze(false);
            }
        }
    }

    /// Writes a snapshot of the dataset as it is now, holding the lock throughout
    /// (SAVE, SHUTDOWN, DEBUG RELOAD): the dictionaries are walked directly.
    fn save_locked(&self, out_dir: &Path, file: &str) -> io::Result<u64> {
        let snap = self.snapshot_header(0);
        let mut dbs = self.dbs.iter().enumerate().filter(|(_, db)| !db.is_empty());
        let mut current = None;
        let mut cursor = WalkPos::default();
        let source = |out: &mut Vec<Piece>| -> io::Result<bool> {
            if current.is_none() {
                let Some((index, db)) = dbs.next() else { return Ok(false) };
                out.push(Piece::Db { index: index as u32, size: db.len() as u64, expires: db.expires.len() as u64 });
                current = Some(db);
                cursor = WalkPos::default();
            }
            let db = current.expect("set just above");
            if walk_slice(&db.keys, &db.expires, &mut cursor, None, out, SLICE_KEYS) {
                current = None;
            }
            Ok(true)
        };
        let (compress, checksum) = (self.config.rdbcompression, self.config.rdbchecksum);
        let never = AtomicBool::new(false);
        let tmp = temp_file_name(out_dir);
        save_to_file(&snap, source, out_dir, file, &tmp, compress, checksum, &AtomicU64::new(0), &never, |rename| {
            rename()
        })
    }

    fn rdb_path(&self) -> PathBuf {
        self.config.dir.join(&self.config.dbfilename)
    }

    /// SAVE: a snapshot written by the calling thread (the server waits, as Redis).
    pub fn save_now(&mut self) -> Result<(), String> {
        if self.bgsave_in_progress() {
            return Err("ERR Background save already in progress".into());
        }
        let started = Instant::now();
        match self.save_locked(&self.config.dir.clone(), &self.config.dbfilename.clone()) {
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

    /// Abandons a running background save: its snapshot ends at once, and its
    /// writer stops at its next slice. The writer renames its file only under the
    /// lock and after checking `cancel`, so it can never put an older dataset over
    /// a newer file afterwards; its temporary file is removed here.
    pub fn abandon_bgsave(&mut self) {
        if let Some(b) = self.persist.bgsave.take() {
            b.cancel.store(true, Ordering::Relaxed);
            self.snapshot_abort();
            let _ = std::fs::remove_file(&b.tmp);
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

    /// True while a background save runs.
    pub fn bgsave_in_progress(&self) -> bool {
        self.persist.bgsave.is_some()
    }

    /// BGSAVE: a background snapshot written by a thread while the server keeps
    /// serving. The thread takes the lock once per slice through `access`; without
    /// it (an engine driven by unit tests) the keys are collected now, as one slice.
    pub fn bgsave_start(&mut self) -> Result<(), String> {
        if self.bgsave_in_progress() {
            return Err("ERR Background save already in progress".into());
        }
        let snap = self.snapshot_begin()?;
        let mut collected = Vec::new();
        if self.access.is_none() {
            while self.snapshot_next(snap.id, &mut collected, usize::MAX).map_err(|e| e.to_string())? {}
        }
        let access = self.access.clone();
        let keys_done = Arc::new(AtomicU64::new(0));
        let progress = keys_done.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let cancelled = cancel.clone();
        let (dir, file) = (self.config.dir.clone(), self.config.dbfilename.clone());
        let tmp = temp_file_name(&dir);
        let tmp_path = tmp.clone();
        let (compress, checksum) = (self.config.rdbcompression, self.config.rdbchecksum);
        let keys_total = snap.keys;
        let id = snap.id;
        let save = move || {
            let mut collected = Some(collected);
            let source = |out: &mut Vec<Piece>| -> io::Result<bool> {
                let Some(access) = &access else {
                    out.extend(collected.take().into_iter().flatten());
                    return Ok(false);
                };
                let mut result = Err(io::Error::other("the server is gone"));
                access(&mut |eng| result = eng.snapshot_next(id, out, SLICE_KEYS));
                result
            };
            // The rename happens under the lock, after checking `cancel` (see
            // `abandon_bgsave`).
            let commit = |rename: &mut dyn FnMut() -> io::Result<()>| {
                let mut result = Err(io::Error::other("background save abandoned"));
                let mut guarded = || {
                    if !cancelled.load(Ordering::Relaxed) {
                        result = rename();
                    }
                };
                match &access {
                    Some(access) => {
                        access(&mut |_| guarded());
                    }
                    None => guarded(),
                }
                result
            };
            let result =
                save_to_file(&snap, source, &dir, &file, &tmp, compress, checksum, &progress, &cancelled, commit);
            if let (Err(_), Some(access)) = (&result, &access) {
                // Disarm the barriers now rather than at the cron's next look.
                access(&mut |eng| eng.snapshot_end(id));
            }
            result
        };
        let thread = match std::thread::Builder::new().name("bgsave".into()).spawn(save) {
            Ok(thread) => thread,
            Err(e) => {
                self.snapshot_abort();
                return Err(format!("ERR can't start the background save: {e}"));
            }
        };
        self.persist.last_bgsave_try = unix_now();
        self.persist.bgsave = Some(Bgsave {
            started: Instant::now(),
            dirty_at_start: self.dirty,
            keys_total,
            keys_done,
            cancel,
            tmp: tmp_path,
            run: id,
            thread,
        });
        tracing::info!("Background saving started");
        Ok(())
    }

    /// From the cron: finishes a background save that ended, starts a scheduled one,
    /// and starts one when a `save` point is reached.
    pub fn persist_cron(&mut self) {
        if self.persist.bgsave.as_ref().is_some_and(|b| b.thread.is_finished()) {
            let b = self.persist.bgsave.take().expect("checked just above");
            let secs = b.started.elapsed().as_secs() as i64;
            let result = b.thread.join().unwrap_or_else(|_| Err(io::Error::other("the save thread panicked")));
            self.snapshot_end(b.run);
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
        sink.create_scripts(self);
        Ok(())
    }
}

/// Appends the keys of one slice of a database's walk to `out`: at least `budget`
/// of them unless the walk ends (true then). Keys whose pre-image the barrier
/// saved (`saved`) are skipped here and written from the pre-image.
fn walk_slice(
    keys: &Dict<Entry>,
    expires: &Dict<i64>,
    cursor: &mut WalkPos,
    saved: Option<&ahash::HashMap<SBuf, crate::db::keyspace::PreImage>>,
    out: &mut Vec<Piece>,
    budget: usize,
) -> bool {
    let with_expires = !expires.is_empty();
    keys.walk_slice(cursor, budget, |key, Entry { val, .. }| {
        if val.is_empty_collection() || saved.is_some_and(|s| !s.is_empty() && s.contains_key(key.as_bytes())) {
            return;
        }
        let when = if with_expires { expires.get(key).copied() } else { None };
        out.push(Piece::Entry(key.clone(), val.clone(), when));
    })
}

/// Writes a snapshot as an RDB stream: `snap`'s aux fields, then the pieces that
/// `next` appends to its buffer until it returns false. Each key is dropped right
/// after it is written, so the writer holds at most one slice of value handles.
/// `keys_done` counts the keys written.
pub fn write_rdb<W: Write>(
    snap: &Snapshot,
    mut next: impl FnMut(&mut Vec<Piece>) -> io::Result<bool>,
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
    let mut slice = Vec::with_capacity(SLICE_KEYS + 64);
    loop {
        let more = next(&mut slice)?;
        let mut written = 0;
        for piece in slice.drain(..) {
            match piece {
                Piece::Db { index, size, expires } => {
                    if index >= 16 {
                        // Written anyway (dropping the keys would lose them), as redis-server does.
                        tracing::warn!(
                            "Saving database {index}: a redis-server with the default 16 databases refuses this file"
                        );
                    }
                    w.select_db(index, size, expires)?;
                }
                Piece::Entry(key, val, expire) => {
                    w.entry(&key, &val, expire)?;
                    written += 1;
                    if !snap.key_save_delay.is_zero() {
                        std::thread::sleep(snap.key_save_delay);
                    }
                }
            }
        }
        keys_done.fetch_add(written, Ordering::Relaxed);
        if !more {
            break;
        }
    }
    w.finish()
}

/// A fresh temporary file name in `dir` for a save.
fn temp_file_name(dir: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    dir.join(format!("temp-{}-{}.rdb", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
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

/// Starts a thread that writes background snapshot `snap` as an RDB stream into
/// `out`, taking the engine lock once per slice through `access`; on failure the
/// snapshot is ended so its barriers do not outlive it. Full syncs use it.
pub fn spawn_snapshot_writer<W: Write + Send + 'static>(
    snap: Snapshot,
    access: EngineAccess,
    out: W,
    compression: bool,
    checksum: bool,
) -> io::Result<std::thread::JoinHandle<io::Result<()>>> {
    std::thread::Builder::new().name("snapshot".into()).spawn(move || {
        let id = snap.id;
        let source = |out: &mut Vec<Piece>| -> io::Result<bool> {
            let mut result = Err(io::Error::other("the server is gone"));
            access(&mut |eng| result = eng.snapshot_next(id, out, SLICE_KEYS));
            result
        };
        // `out` is flushed and dropped here: its reader learns that the stream ended.
        let result =
            write_rdb(&snap, source, out, compression, checksum, &AtomicU64::new(0)).and_then(|mut w| w.flush());
        if result.is_err() {
            access(&mut |eng| eng.snapshot_end(id));
        }
        result
    })
}

/// Writes a snapshot (see `write_rdb`) to `dir/file` through the temporary file
/// `tmp`, fsync and rename, and returns the file's size. `commit` performs the
/// rename it is given, or refuses (a background save abandoned meanwhile). Gives up
/// (removing the temporary file) once `cancel` is set.
#[allow(clippy::too_many_arguments)]
pub fn save_to_file(
    snap: &Snapshot,
    next: impl FnMut(&mut Vec<Piece>) -> io::Result<bool>,
    dir: &Path,
    file: &str,
    tmp: &Path,
    compression: bool,
    checksum: bool,
    keys_done: &AtomicU64,
    cancel: &AtomicBool,
    commit: impl FnOnce(&mut dyn FnMut() -> io::Result<()>) -> io::Result<()>,
) -> io::Result<u64> {
    let result = (|| {
        let f = std::fs::File::create(tmp)?;
        let out = Cancellable { inner: BufWriter::with_capacity(1 << 16, f), cancel, since_check: 0 };
        let w = write_rdb(snap, next, out, compression, checksum, keys_done)?;
        let f = w.inner.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let size = f.metadata()?.len();
        drop(f);
        commit(&mut || std::fs::rename(tmp, dir.join(file)))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(size)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
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
    /// The replication position the file was saved at (`repl-id`, `repl-offset`,
    /// `repl-stream-db` aux fields), if it has one.
    pub repl: Option<(String, u64, usize)>,
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
    /// A replica keeps keys whose deadline passed: its primary's DEL will come.
    keep_expired: bool,
    /// `repl-id`, `repl-offset`, `repl-stream-db` as read.
    repl_id: Option<String>,
    repl_offset: Option<u64>,
    repl_db: usize,
    /// Bodies of the `lua` aux fields, created once the whole file is read.
    scripts: Vec<Bytes>,
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
            keep_expired: false,
            repl_id: None,
            repl_offset: None,
            repl_db: 0,
            scripts: Vec::new(),
        }
    }

    /// What was loaded, and the replication position the file carried.
    fn summary(&mut self) -> LoadSummary {
        let repl = match (self.repl_id.take(), self.repl_offset) {
            (Some(id), Some(offset)) => Some((id, offset, self.repl_db)),
            _ => None,
        };
        LoadSummary { keys: self.keys, expired: self.expired, repl }
    }

    /// Batches one item; true when the batch is full and should be applied.
    fn push(&mut self, item: Item) -> bool {
        self.batch.push(item);
        self.batch.len() >= LOAD_BATCH
    }

    /// Applies what is batched to the engine's databases.
    fn flush(&mut self, eng: &mut Engine) -> Result<(), RdbError> {
        let lfu = eng.lfu_params().is_some();
        self.flush_into(&mut eng.dbs, lfu)
    }

    /// Creates the scripts the file carried (after its keys loaded without error).
    fn create_scripts(&mut self, eng: &mut Engine) {
        for body in self.scripts.drain(..) {
            if let Err(e) = eng.scripting.create(&body, false) {
                tracing::warn!("Failed loading a Lua script from the RDB file: {e:?}");
            }
        }
    }

    /// Applies what is batched to `dbs`; `lfu`: the eviction policy counts frequency.
    fn flush_into(&mut self, dbs: &mut [Db], lfu: bool) -> Result<(), RdbError> {
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
                    if !self.keep_expired && expire_ms.is_some_and(|when| when < self.now_ms) {
                        self.expired += 1;
                        continue;
                    }
                    let store = &mut dbs[db];
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
                Item::Aux { key, value } if key == b"repl-id" && value.len() == 40 => {
                    self.repl_id = Some(String::from_utf8_lossy(&value).into_owned());
                }
                Item::Aux { key, value } if key == b"repl-offset" => {
                    self.repl_offset = std::str::from_utf8(&value).ok().and_then(|v| v.parse().ok());
                }
                Item::Aux { key, value } if key == b"repl-stream-db" => {
                    self.repl_db = std::str::from_utf8(&value).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
                }
                Item::Aux { key, value } if key == b"lua" => self.scripts.push(Bytes::from(value)),
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
    load_file_as(path, engine, false)
}

/// `load_file`; `replica`: a full sync's payload, whose expired keys are kept.
pub fn load_file_as(path: &Path, engine: &parking_lot::Mutex<Engine>, replica: bool) -> Result<LoadSummary, String> {
    let count = Arc::new(AtomicU64::new(0));
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    engine.lock().persist.loading = Some(Loading {
        started_unix: unix_now(),
        total_bytes: total,
        loaded_bytes: count.clone(),
        started: Instant::now(),
    });
    let mut applier = Applier::new(engine.lock().config.databases);
    applier.keep_expired = replica;
    let read = read_file(path, engine, &mut applier, &count, None, &mut |applier: &mut Applier| {
        applier.flush(&mut engine.lock())
    });
    let mut eng = engine.lock();
    if read.is_ok() {
        applier.create_scripts(&mut eng);
    }
    eng.persist.loading = None;
    let summary = applier.summary();
    eng.persist.last_load_keys_loaded = summary.keys;
    eng.persist.last_load_keys_expired = summary.expired;
    eng.persist.last_save = unix_now();
    read.map(|()| summary)
}

/// A full sync's dataset, loaded apart from the engine so the old one is served
/// (and kept, should the payload prove truncated or corrupt) until it is swapped in.
pub struct Detached {
    pub dbs: Vec<Db>,
    pub summary: LoadSummary,
    applier: Applier,
}

impl Detached {
    /// Creates the scripts the payload carried (once the dataset is swapped in).
    pub fn create_scripts(&mut self, eng: &mut Engine) {
        self.applier.create_scripts(eng);
    }
}

/// Loads `path` into fresh databases without touching the engine's (the lock is
/// taken only to read the configuration). Expired keys are kept: this is a
/// primary's payload, whose DELs will come.
pub fn load_file_detached(
    path: &Path,
    engine: &parking_lot::Mutex<Engine>,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Detached, String> {
    let (databases, lfu) = {
        let eng = engine.lock();
        (eng.config.databases, eng.lfu_params().is_some())
    };
    let mut dbs: Vec<Db> = (0..databases).map(|_| Db::new()).collect();
    let count = Arc::new(AtomicU64::new(0));
    let mut applier = Applier::new(databases);
    applier.keep_expired = true;
    let apply = &mut |applier: &mut Applier| applier.flush_into(&mut dbs, lfu);
    read_file(path, engine, &mut applier, &count, Some(cancel), apply)?;
    Ok(Detached { dbs, summary: applier.summary(), applier })
}

/// Reads `path` in batches handed to `apply`, logging progress every second.
/// Setting `cancel` stops the load (with an error) at the next key.
fn read_file(
    path: &Path,
    engine: &parking_lot::Mutex<Engine>,
    applier: &mut Applier,
    count: &Arc<AtomicU64>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
    apply: &mut dyn FnMut(&mut Applier) -> Result<(), RdbError>,
) -> Result<(), String> {
    let (key_delay, limits) = {
        let eng = engine.lock();
        // Hidden debug setting: µs slept per key, to observe a slow load.
        (Duration::from_micros(eng.config.key_load_delay.max(0) as u64), Limits::from_config(&eng.config))
    };
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let mut last_log = Instant::now();
    let reader = io::BufReader::with_capacity(1 << 16, Counting { inner: file, count: count.clone() });
    let result = crate::rdb::load_with_limits(reader, &limits, &mut |item| {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(RdbError::new("loading cancelled"));
        }
        if !key_delay.is_zero() && matches!(item, Item::Entry { .. }) {
            std::thread::sleep(key_delay);
        }
        if applier.push(item) {
            apply(applier)?;
            if last_log.elapsed() >= Duration::from_secs(1) {
                last_log = Instant::now();
                let done = count.load(Ordering::Relaxed);
                let perc = if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 };
                tracing::info!("Loading RDB: {} keys, {done} of {total} bytes ({perc:.1}%)", applier.keys);
            }
        }
        Ok(())
    })
    .and_then(|()| apply(applier));
    result.map_err(|e| e.to_string())?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}. DB loaded from disk: {:.3} seconds",
        applier.keys,
        applier.expired,
        started.elapsed().as_secs_f64()
    );
    Ok(())
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
        let snap = |repl: Option<ReplPosition>| Snapshot {
            id: 0,
            scripts: vec![Bytes::from_static(b"return 1")],
            ctime: 1,
            used_mem: 2,
            keys: 0,
            repl,
            key_save_delay: Duration::ZERO,
        };
        let aux = |snap: Snapshot| {
            let bytes = write_rdb(&snap, |_| Ok(false), Vec::new(), true, true, &AtomicU64::new(0)).expect("write");
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
        let names: Vec<String> = aux(snap(None)).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base", "lua"]);
        let got = aux(snap(Some(ReplPosition { stream_db: 3, replid: "a".repeat(40), offset: 12345 })));
        assert!(got.contains(&("repl-stream-db".into(), "3".into())), "{got:?}");
        assert!(got.contains(&("repl-id".into(), "a".repeat(40))), "{got:?}");
        assert!(got.contains(&("repl-offset".into(), "12345".into())), "{got:?}");
        assert!(got.contains(&("lua".into(), "return 1".into())), "{got:?}");
    }

    use crate::db::keyspace::value_digest;
    use crate::engine::testing::TestEngine;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    type Image = BTreeMap<(u32, Vec<u8>), [u8; 20]>;

    /// Every key of every database with the digest of its value and deadline.
    fn image(eng: &Engine) -> Image {
        let mut out = Image::new();
        for (index, db) in eng.dbs.iter().enumerate() {
            for (key, e) in db.keys.iter() {
                let mut d = [0u8; 20];
                value_digest(&mut d, &e.val, db.get_expire(key));
                out.insert((index as u32, key.to_vec()), d);
            }
        }
        out
    }

    /// What a snapshot's pieces say, in the same form.
    fn image_of(pieces: &[Piece]) -> Image {
        let mut out = Image::new();
        let mut db = None;
        for p in pieces {
            match p {
                Piece::Db { index, .. } => db = Some(*index),
                Piece::Entry(key, val, when) => {
                    let mut d = [0u8; 20];
                    value_digest(&mut d, val, *when);
                    let fresh = out.insert((db.expect("a header first"), key.to_vec()), d).is_none();
                    assert!(fresh, "key {key:?} written twice");
                }
            }
        }
        out
    }

    /// A random write, as a command line, in one of two databases.
    fn random_write(rng: &mut impl Rng, keys: usize) -> String {
        let k = rng.gen_range(0..keys * 2); // half of them new keys
        match rng.gen_range(0..100) {
            0..=24 => format!("SET k{k} v{}", rng.gen::<u32>()),
            25..=39 => format!("DEL k{k}"),
            40..=54 => format!("RPUSH l{k} x{}", rng.gen::<u16>()),
            55..=64 => format!("LPOP l{k}"),
            65..=74 => format!("PEXPIRE k{k} {}", rng.gen_range(100_000..200_000)),
            75..=79 => format!("PERSIST k{k}"),
            80..=84 => format!("APPEND k{k} {}", "y".repeat(rng.gen_range(1..40))),
            85..=89 => format!("RENAME k{k} k{}", rng.gen_range(0..keys * 2)),
            90..=93 => format!("SELECT {}", rng.gen_range(0..2)),
            94..=95 => "SWAPDB 0 1".to_string(),
            96 => "FLUSHDB".to_string(),
            _ => format!("HSET h{k} f{} {}", rng.gen::<u8>(), rng.gen::<u8>()),
        }
    }

    #[test]
    fn a_background_snapshot_is_the_dataset_when_it_began_whatever_is_written_meanwhile() {
        for seed in 0..40u64 {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut t = TestEngine::new();
            let keys = rng.gen_range(1..3000);
            for _ in 0..keys * 2 {
                let line = random_write(&mut rng, keys);
                if !line.starts_with("FLUSHDB") {
                    t.run(&line);
                }
            }
            let before = image(&t.eng);
            let snap = t.eng.snapshot_begin().expect("begin");
            assert!(t.eng.snapshot_begin().is_err(), "one background snapshot at a time");
            let mut pieces = Vec::new();
            let mut writes = 0;
            loop {
                let more = t.eng.snapshot_next(snap.id, &mut pieces, rng.gen_range(1..300)).expect("next");
                let saved: usize = t.eng.dbs.iter().filter_map(|db| db.snap.as_ref()).map(|s| s.saved.len()).sum();
                assert!(saved <= writes * 2, "pre-images are bounded by the writes ({saved} > 2 × {writes})");
                if !more {
                    break;
                }
                for _ in 0..rng.gen_range(0..40) {
                    t.run(&random_write(&mut rng, keys));
                    writes += 1;
                }
            }
            assert!(t.eng.persist.run.is_none() && t.eng.dbs.iter().all(|db| db.snap.is_none()));
            assert_eq!(image_of(&pieces), before, "seed {seed}");
            // Thawed: the dictionaries resize again.
            for i in 0..5000 {
                t.run(&format!("SET grow{i} v"));
            }
        }
    }

    #[test]
    fn an_abandoned_background_snapshot_disarms_its_barriers() {
        let mut t = TestEngine::new();
        for i in 0..100 {
            t.run(&format!("SET k{i} v"));
        }
        let snap = t.eng.snapshot_begin().expect("begin");
        t.eng.snapshot_abort();
        assert!(t.eng.dbs.iter().all(|db| db.snap.is_none()));
        assert!(t.eng.snapshot_next(snap.id, &mut Vec::new(), 10).is_err());
        t.run("SET k1 w");
        let again = t.eng.snapshot_begin().expect("begin again");
        let mut pieces = Vec::new();
        while t.eng.snapshot_next(again.id, &mut pieces, 7).expect("next") {}
        assert_eq!(image_of(&pieces), image(&t.eng));
    }
}
