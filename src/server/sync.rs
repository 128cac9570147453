//! A full sync, served by the replica's own connection task (spec §2.1): wait for
//! the snapshot to start (keepalive newlines meanwhile), send `+FULLRESYNC <replid>
//! <offset>`, then the RDB written by a snapshot thread, framed `$EOF:<mark>` (streamed
//! as it is written) or `$<len>` (collected first). Stream bytes appended after the
//! snapshot point queue on the connection and follow the RDB.

use super::Shared;
use crate::engine::persist::{spawn_snapshot_writer, ReplPosition};
use crate::repl::ReplicaState;
use bytes::{Bytes, BytesMut};
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::futures::Notified;
use tokio::sync::mpsc;

/// RDB bytes cross from the snapshot thread to the connection in chunks this big.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight: the snapshot thread waits when the socket is slower.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A `Write` that hands chunks to the connection task.
struct ChunkSender {
    tx: mpsc::Sender<Bytes>,
    buf: BytesMut,
}

impl ChunkSender {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx.blocking_send(chunk).map_err(|_| io::Error::other("the replica's connection closed"))
    }
}

impl Write for ChunkSender {
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

/// Writes `data` unless the connection is killed meanwhile; false on failure.
async fn write(stream: &mut TcpStream, data: &[u8], killed: &mut Pin<&mut Notified<'_>>) -> bool {
    tokio::select! {
        r = stream.write_all(data) => r.is_ok(),
        _ = killed.as_mut() => false,
    }
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
    let (req, delay) = {
        let eng = shared.engine().await;
        let req = *eng.repl.sync_requests.get(&id)?;
        (req, Duration::from_secs(eng.config.repl_diskless_sync_delay as u64))
    };
    // Diskless: wait so that replicas arriving together could share a snapshot,
    // sending a newline every second as Redis does.
    let mut keepalive = Instant::now();
    if req.eof && !delay.is_zero() {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1).min(until - Instant::now())).await;
            if !write(stream, b"\n", killed).await {
                return None;
            }
        }
        keepalive = Instant::now();
    }
    // The snapshot point: under the lock, with the stream's offset.
    let (snap, access, compression, checksum, replid, offset) = loop {
        {
            let mut eng = shared.engine().await;
            eng.repl.replicas.get(&id)?;
            if let Ok(mut snap) = eng.snapshot_begin() {
                let offset = eng.repl.offset;
                eng.repl.seldb = -1;
                eng.repl.sync_requests.remove(&id);
                if let Some(r) = eng.repl.replicas.get_mut(&id) {
                    r.state = ReplicaState::SendBulk;
                }
                eng.stats.sync_full += 1;
                let replid = eng.repl.replid.clone();
                snap.repl = Some(ReplPosition { stream_db: 0, replid: replid.clone(), offset });
                let access = eng.access.clone()?;
                let target = if req.eof { "replicas sockets" } else { "disk" };
                tracing::info!("Starting BGSAVE for SYNC with target: {target}");
                break (snap, access, eng.config.rdbcompression, eng.config.rdbchecksum, replid, offset);
            }
        }
        // Another snapshot runs (BGSAVE or another sync): wait for it to end.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if keepalive.elapsed() >= Duration::from_secs(1) {
            keepalive = Instant::now();
            if !write(stream, b"\n", killed).await {
                return None;
            }
        }
    };
    if !req.old_protocol && !write(stream, format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes(), killed).await {
        return None;
    }
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let snapshot_id = snap.id;
    let writer = ChunkSender { tx, buf: BytesMut::with_capacity(CHUNK) };
    let thread = match spawn_snapshot_writer(snap, access, writer, compression, checksum) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("Can't start the snapshot for SYNC: {e}");
            shared.engine().await.snapshot_end(snapshot_id);
            let _ = write(stream, b"-ERR BGSAVE failed, replication can't continue\r\n", killed).await;
            return None;
        }
    };
    let started = Instant::now();
    let mut sent = 0usize;
    let mark = if req.eof {
        let mark = crate::engine::random_hex(&mut rand::thread_rng(), 40);
        if !write(stream, format!("$EOF:{mark}\r\n").as_bytes(), killed).await {
            return None;
        }
        while let Some(chunk) = rx.recv().await {
            sent += chunk.len();
            if !write(stream, &chunk, killed).await {
                return None;
            }
        }
        Some(mark)
    } else {
        let mut all = BytesMut::new();
        while let Some(chunk) = rx.recv().await {
            all.extend_from_slice(&chunk);
        }
        sent = all.len();
        if !write(stream, format!("${}\r\n", all.len()).as_bytes(), killed).await || !write(stream, &all, killed).await
        {
            return None;
        }
        None
    };
    let result = tokio::task::spawn_blocking(move || thread.join()).await;
    if !matches!(result, Ok(Ok(Ok(_)))) {
        tracing::warn!("Snapshot for SYNC failed");
        return None;
    }
    if let Some(mark) = &mark {
        if !write(stream, mark.as_bytes(), killed).await {
            return None;
        }
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
    Some(mark.is_some())
}
