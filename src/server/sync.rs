//! A full sync, served by the replica's own connection task (spec §2.1): wait for
//! the snapshot to start (keepalive newlines meanwhile), send `+FULLRESYNC <replid>
//! <offset>`, then the RDB written by a snapshot thread, framed `$EOF:<mark>` (streamed
//! as it is written) or `$<len>` (collected first). Stream bytes appended after the
//! snapshot point queue on the connection and follow the RDB.

use super::Shared;
use crate::engine::persist::{spawn_snapshot_writer, ReplPosition};
use crate::engine::Engine;
use crate::repl::{ReplicaState, SyncRequest};
use bytes::{Bytes, BytesMut};
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::futures::Notified;
use tokio::sync::{mpsc, watch};

/// RDB bytes cross from the snapshot thread to the connection in chunks this big.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight: the snapshot thread waits when the socket is slower.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A `Write` that hands each chunk to every replica of a shared full sync. A
/// replica whose connection closed is dropped from the group; the snapshot stops
/// only when none is left.
struct FanOut {
    members: Vec<mpsc::Sender<Bytes>>,
    buf: BytesMut,
}

impl FanOut {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.members.retain(|tx| tx.blocking_send(chunk.clone()).is_ok());
        if self.members.is_empty() {
            return Err(io::Error::other("every replica of the sync closed its connection"));
        }
        Ok(())
    }
}

impl Write for FanOut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// One replica's part of a full sync that started: where its stream begins, the
/// snapshot's bytes, and the snapshot's outcome once written.
pub struct SyncFeed {
    req: SyncRequest,
    replid: String,
    offset: u64,
    mark: String,
    /// `$EOF:` framing: the snapshot's bytes as they are written.
    chunks: Option<mpsc::Receiver<Bytes>>,
    /// `$<len>` framing: the file the snapshot is written to (its size is known
    /// only at the end; Redis's disk-backed sync).
    file: Option<Arc<SyncFile>>,
    outcome: watch::Receiver<Option<bool>>,
}

/// The file of a disk-backed full sync, removed when its last replica is done.
struct SyncFile {
    path: std::path::PathBuf,
}

impl Drop for SyncFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The contents of `file`, read by a blocking thread in chunks (ends early on a
/// read error: the length sent first then no longer matches).
fn read_chunks(file: Arc<SyncFile>) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let Ok(mut f) = std::fs::File::open(&file.path) else { return };
        loop {
            let mut buf = vec![0u8; CHUNK];
            match io::Read::read(&mut f, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Bytes::from(buf)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Writes the snapshot's chunks to replica `id` as they come, logging progress
/// every second. The bytes sent, or None when the replica is gone.
async fn send_chunks(
    shared: &Shared,
    stream: &mut TcpStream,
    chunks: &mut mpsc::Receiver<Bytes>,
    killed: &mut Pin<&mut Notified<'_>>,
    id: u64,
    io_timeout: Duration,
) -> Option<usize> {
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut sent = 0usize;
    while let Some(chunk) = chunks.recv().await {
        sent += chunk.len();
        shared.events.repl_output_bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if !write_chunk(stream, &chunk, killed, id, io_timeout).await {
            tracing::warn!("Full sync to replica id={id} failed after {sent} bytes");
            return None;
        }
        if last_log.elapsed() >= Duration::from_secs(1) {
            last_log = Instant::now();
            tracing::info!("Full sync to replica id={id}: {sent} bytes sent in {} ms", started.elapsed().as_millis());
        }
    }
    Some(sent)
}

/// Writes `data` unless the connection is killed meanwhile; false on failure.
async fn write(stream: &mut TcpStream, data: &[u8], killed: &mut Pin<&mut Notified<'_>>) -> bool {
    tokio::select! {
        r = stream.write_all(data) => r.is_ok(),
        _ = killed.as_mut() => false,
    }
}

/// `write` of a snapshot chunk: a replica that takes none of it for `timeout` is
/// dropped (it would hold back the other replicas of a shared snapshot).
async fn write_chunk(
    stream: &mut TcpStream,
    data: &[u8],
    killed: &mut Pin<&mut Notified<'_>>,
    id: u64,
    timeout: Duration,
) -> bool {
    match tokio::time::timeout(timeout, write(stream, data, killed)).await {
        Ok(ok) => ok,
        Err(_) => {
            tracing::warn!("Disconnecting timedout replica (full sync): id={id}");
            false
        }
    }
}

/// Starts the snapshot of a full sync for every replica waiting for one with the
/// same framing as `req` (Redis shares one snapshot between the replicas that
/// arrived within `repl-diskless-sync-delay`). Under the lock; false when another
/// snapshot runs.
fn start_sync(eng: &mut Engine, req: SyncRequest) -> bool {
    let Some(access) = eng.access.clone() else { return false };
    let Ok(mut snap) = eng.snapshot_begin() else { return false };
    eng.repl_script_cache_reset();
    let offset = eng.repl.offset;
    // A replica's sub-replica continues in the db its primary's stream has selected
    // (the forwarded stream repeats no SELECT); a primary selects anew.
    let stream_db = eng.repl_position().map_or(0, |p| p.stream_db);
    eng.repl.seldb = -1;
    let replid = eng.repl.replid.clone();
    snap.repl = Some(ReplPosition { stream_db, replid: replid.clone(), offset });
    let members: Vec<(u64, SyncRequest)> = eng
        .repl
        .sync_requests
        .iter()
        .filter(|(id, r)| r.eof == req.eof && eng.repl.replicas.contains_key(id))
        .map(|(&id, &r)| (id, r))
        .collect();
    let mark = crate::engine::random_hex(&mut eng.rng, 40);
    let (outcome_tx, outcome_rx) = watch::channel(None);
    let mut senders = Vec::new();
    let snapshot_id = snap.id;
    let file = match req.eof {
        true => None,
        false => {
            let path = eng.config.dir.join(format!("temp-sync-{}-{snapshot_id}.rdb", std::process::id()));
            match std::fs::File::create(&path) {
                Ok(f) => Some((f, Arc::new(SyncFile { path }))),
                Err(e) => {
                    tracing::warn!("Can't open the file for a disk-backed SYNC: {e}");
                    eng.snapshot_end(snapshot_id);
                    return false;
                }
            }
        }
    };
    for (id, r) in &members {
        eng.repl.sync_requests.remove(id);
        let chunks = req.eof.then(|| {
            let (tx, chunks) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
            senders.push(tx);
            chunks
        });
        let feed = SyncFeed {
            req: *r,
            replid: replid.clone(),
            offset,
            mark: mark.clone(),
            chunks,
            file: file.as_ref().map(|(_, f)| f.clone()),
            outcome: outcome_rx.clone(),
        };
        eng.repl.sync_feeds.insert(*id, feed);
        if let Some(info) = eng.repl.replicas.get_mut(id) {
            info.state = ReplicaState::SendBulk;
        }
        eng.stats.sync_full += 1;
    }
    let target = if req.eof { "replicas sockets" } else { "disk" };
    tracing::info!("Starting BGSAVE for SYNC with target: {target} ({} replicas)", members.len());
    let (compression, checksum) = (eng.config.rdbcompression, eng.config.rdbchecksum);
    let out: Box<dyn Write + Send> = match file {
        Some((f, _)) => Box::new(io::BufWriter::with_capacity(CHUNK, f)),
        None => Box::new(FanOut { members: senders, buf: BytesMut::with_capacity(CHUNK) }),
    };
    match spawn_snapshot_writer(snap, access, out, compression, checksum) {
        Ok(thread) => {
            // The outcome reaches the replicas once the thread is done.
            tokio::task::spawn_blocking(move || {
                let ok = matches!(thread.join(), Ok(Ok(())));
                if !ok {
                    tracing::warn!("Snapshot for SYNC failed");
                }
                let _ = outcome_tx.send(Some(ok));
            });
        }
        Err(e) => {
            tracing::warn!("Can't start the snapshot for SYNC: {e}");
            eng.snapshot_end(snapshot_id);
            let _ = outcome_tx.send(Some(false));
        }
    }
    true
}

/// Serves the full sync client `id` asked for. Returns None when the connection
/// must close, else whether the stream must wait for the replica's first ACK
/// (after an `$EOF:` transfer the mark must be the last bytes of the payload).
pub async fn full_sync(
    shared: &Arc<Shared>,
    id: u64,
    stream: &mut TcpStream,
    killed: &mut Pin<&mut Notified<'_>>,
) -> Option<bool> {
    let (req, delay, io_timeout) = {
        let eng = shared.engine().await;
        let req = match eng.repl.sync_requests.get(&id) {
            Some(r) => *r,
            None => eng.repl.sync_feeds.get(&id)?.req,
        };
        let delay = Duration::from_secs(eng.config.repl_diskless_sync_delay as u64);
        (req, delay, Duration::from_secs(eng.config.repl_timeout.max(1) as u64))
    };
    // Diskless: wait so that replicas arriving together share a snapshot, sending a
    // newline every second as Redis does. A replica that arrived later may be taken
    // into a snapshot another one starts; any may start one once its delay is over.
    let ready_at = Instant::now() + if req.eof { delay } else { Duration::ZERO };
    let mut keepalive = Instant::now();
    let mut feed = loop {
        {
            let mut eng = shared.engine().await;
            eng.repl.replicas.get(&id)?;
            if let Some(feed) = eng.repl.sync_feeds.remove(&id) {
                break feed;
            }
            // `repl-diskless-sync-max-replicas` waiting: no need to wait longer.
            let max = eng.config.repl_diskless_sync_max_replicas as usize;
            let enough = || max > 0 && eng.repl.sync_requests.values().filter(|r| r.eof == req.eof).count() >= max;
            if (Instant::now() >= ready_at || enough()) && start_sync(&mut eng, req) {
                continue;
            }
        }
        // Waiting for the delay, or for a running snapshot (BGSAVE or a sync for
        // replicas with the other framing) to end.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if keepalive.elapsed() >= Duration::from_secs(1) {
            keepalive = Instant::now();
            if !write(stream, b"\n", killed).await {
                return None;
            }
        }
    };
    if !feed.req.old_protocol
        && !write(stream, format!("+FULLRESYNC {} {}\r\n", feed.replid, feed.offset).as_bytes(), killed).await
    {
        return None;
    }
    let started = Instant::now();
    let sent = if let Some(chunks) = feed.chunks.as_mut() {
        if !write(stream, format!("$EOF:{}\r\n", feed.mark).as_bytes(), killed).await {
            return None;
        }
        send_chunks(shared, stream, chunks, killed, id, io_timeout).await?
    } else {
        // The file is complete once the snapshot succeeded; newlines keep the
        // replica's link alive meanwhile.
        loop {
            tokio::select! {
                o = async { feed.outcome.wait_for(|o| o.is_some()).await.map(|o| *o) } => match o {
                    Ok(Some(true)) => break,
                    _ => return None,
                },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if !write(stream, b"\n", killed).await {
                        return None;
                    }
                }
            }
        }
        let file = feed.file.clone()?;
        let len = std::fs::metadata(&file.path).ok()?.len();
        if let Some(r) = shared.engine().await.repl.replicas.get_mut(&id) {
            r.sending_file = true;
        }
        if !write(stream, format!("${len}\r\n").as_bytes(), killed).await {
            return None;
        }
        let sent = send_chunks(shared, stream, &mut read_chunks(file), killed, id, io_timeout).await?;
        if sent as u64 != len {
            return None;
        }
        sent
    };
    // Only a snapshot written completely counts.
    let outcome = feed.outcome.wait_for(|o| o.is_some()).await.map(|o| *o);
    if !matches!(outcome, Ok(Some(true))) {
        return None;
    }
    if req.eof && !write(stream, feed.mark.as_bytes(), killed).await {
        return None;
    }
    let mut eng = shared.engine().await;
    let addr = eng.clients.get(&id).map(|c| c.addr.clone()).unwrap_or_default();
    let r = eng.repl.replicas.get_mut(&id)?;
    r.state = ReplicaState::Online;
    r.ack_time = Instant::now();
    tracing::info!(
        "Synchronization with replica {addr} succeeded ({sent} bytes of RDB in {} ms)",
        started.elapsed().as_millis()
    );
    Some(req.eof)
}
