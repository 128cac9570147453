//! The link from a replica to its primary (spec §1, §2.2, §3.3, §4.3, §5): connect,
//! handshake, PSYNC, receive a full sync's RDB (`$<len>` or `$EOF:<mark>`) into a
//! temporary file and load it, then apply the command stream as the primary's
//! client, acknowledging once a second and on GETACK. The bytes applied are
//! appended to this node's own stream unchanged, so sub-replicas and the backlog
//! carry the primary's history byte for byte. A lost link is retried every second
//! with PSYNC from where it stopped.

use super::Shared;
use crate::engine::{Client, ClientHandle};
use crate::protocol::{encode_bulk_array, DecodeLimits, RequestDecoder};
use crate::repl::backlog::Backlog;
use crate::repl::replica::LinkState;
use bytes::BytesMut;
use std::io::Write as _;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

/// Timeout of each handshake exchange (Redis's `repl-syncio-timeout`).
const SYNC_IO: Duration = Duration::from_secs(5);
/// How long a primary may take to answer the handover's FAILOVER. A healthy
/// one answers at once; one that does not (stopped, hung, unreachable) is the
/// one Sentinel fails over from, and waiting for it only delays the promotion.
const HANDOVER_ANSWER: Duration = Duration::from_secs(1);

type Failure = String;

/// Starts a link task whenever REPLICAOF asks for one.
pub async fn links(shared: Arc<Shared>) {
    loop {
        shared.events.repl_link.notified().await;
        let generation = match shared.engine().await.repl.master.as_ref() {
            Some(m) => m.generation,
            None => continue,
        };
        tokio::spawn(run(shared.clone(), generation));
    }
}

/// True while link `generation` is still the one REPLICAOF asked for.
async fn current(shared: &Shared, generation: u64) -> bool {
    shared.engine().await.repl.master.as_ref().is_some_and(|m| m.generation == generation)
}

async fn run(shared: Arc<Shared>, generation: u64) {
    while current(&shared, generation).await {
        if let Err(e) = attempt(&shared, generation).await {
            tracing::warn!("{e}");
            // A FAILOVER whose target could not be reached: this node stays primary.
            let mut eng = shared.engine().await;
            if eng.repl.failover.is_some() {
                eng.failover_abort("Failover target handshake failed");
            }
        }
        let Some(was_up) = link_down(&mut *shared.engine().await, generation) else { return };
        // A link that was up reconnects at once (the backlog may not wait, as Redis
        // 7.0 reasons); failed attempts retry once a second.
        if was_up {
            tracing::info!("Reconnecting to MASTER");
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Runs a promotion's handover whenever REPLICAOF NO ONE asks for one
/// (`repl::replica::Handover`).
pub async fn handovers(shared: Arc<Shared>) {
    loop {
        shared.events.handover.notified().await;
        tokio::spawn(handover(shared.clone()));
    }
}

/// Asks the primary for `FAILOVER TO <us> TIMEOUT <ms>`, then waits for its
/// `PSYNC … FAILOVER` to promote us. Past the deadline, or when the primary
/// refuses, this node promotes itself as REPLICAOF NO ONE always did.
async fn handover(shared: Arc<Shared>) {
    let (host, port, auth, me_port, announce_ip, generation, deadline) = {
        let eng = shared.engine().await;
        let (Some(h), Some(m)) = (eng.repl.handover.clone(), eng.repl.master.as_ref()) else { return };
        let c = &eng.config;
        let auth = c.masterauth.clone().map(|pass| (c.masteruser.clone(), pass));
        let me_port = if c.replica_announce_port != 0 { c.replica_announce_port } else { c.port };
        (m.host.clone(), m.port, auth, me_port, c.replica_announce_ip.clone(), h.generation, h.deadline)
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let answer = left.min(HANDOVER_ANSWER);
    let asked = tokio::time::timeout(answer, ask_failover(&host, port, auth, me_port, announce_ip, left)).await;
    match asked {
        Ok(Ok(())) => {
            tracing::info!("MASTER accepted to hand its role over");
            while Instant::now() < deadline {
                {
                    let eng = shared.engine().await;
                    if eng.repl.handover.as_ref().is_none_or(|h| h.generation != generation) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tracing::warn!("MASTER did not hand its role over in time: promoting now");
        }
        Ok(Err(e)) => tracing::warn!("MASTER refused to hand its role over ({e}): promoting now"),
        Err(_) => tracing::warn!("No answer from MASTER to the handover: promoting now"),
    }
    let mut eng = shared.engine().await;
    if eng.repl.handover.as_ref().is_some_and(|h| h.generation == generation) {
        eng.replicaof_no_one();
    }
}

/// `FAILOVER TO <ip> <port> TIMEOUT <ms>` on a connection of its own to the
/// primary. Our address is the announced one, else the one the primary sees.
async fn ask_failover(
    host: &str,
    port: u16,
    auth: Option<(Option<String>, Vec<u8>)>,
    me_port: u16,
    announce_ip: Option<String>,
    timeout: Duration,
) -> Result<(), Failure> {
    let stream = TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
    let me_ip = match announce_ip {
        Some(ip) => ip,
        None => stream.local_addr().map_err(|e| e.to_string())?.ip().to_string(),
    };
    let mut link = Link { stream, buf: BytesMut::with_capacity(1024) };
    link.authenticate(&auth).await?;
    let ms = timeout.as_millis().max(1).to_string();
    let port = me_port.to_string();
    link.send(&[b"FAILOVER", b"TO", me_ip.as_bytes(), port.as_bytes(), b"TIMEOUT", ms.as_bytes()]).await?;
    let reply = link.line(SYNC_IO).await?;
    if reply.starts_with(b"+") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&reply).into_owned())
    }
}

/// Records a lost link: where the stream stopped is cached for PSYNC. Whether the
/// link had been up; None when REPLICAOF replaced this link.
fn link_down(eng: &mut crate::engine::Engine, generation: u64) -> Option<bool> {
    let m = eng.repl.master.as_mut().filter(|m| m.generation == generation)?;
    m.state = LinkState::Connect;
    m.down_since.get_or_insert_with(Instant::now);
    let Some(id) = eng.repl.master_client.take() else { return Some(false) };
    let db = eng.clients.get(&id).map_or(0, |c| c.db);
    let (replid, offset, diverged) = (eng.repl.replid.clone(), eng.repl.offset, eng.repl.diverged);
    if let Some(m) = eng.repl.master.as_mut() {
        // After a divergence nothing continues: the next sync is a full one.
        m.cached = (!diverged).then_some((replid, offset, db));
    }
    eng.remove_client(id);
    Some(true)
}

/// The socket to the primary with what has been read and not yet used.
struct Link {
    stream: TcpStream,
    buf: BytesMut,
}

impl Link {
    async fn fill(&mut self, timeout: Duration) -> Result<(), Failure> {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err("Timeout reading from MASTER".into()),
            Ok(Ok(0)) => Err("MASTER closed the connection".into()),
            Ok(Err(e)) => Err(format!("Error reading from MASTER: {e}")),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// One line without its CRLF (a bare `\n` keepalive gives an empty line).
    async fn line(&mut self, timeout: Duration) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line = self.buf.split_to(end + 1).to_vec();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            self.fill(timeout).await?;
        }
    }

    /// AUTH with `masteruser`/`masterauth`, when configured.
    async fn authenticate(&mut self, auth: &Option<(Option<String>, Vec<u8>)>) -> Result<(), Failure> {
        let Some((user, pass)) = auth else { return Ok(()) };
        match user {
            Some(u) => self.send(&[b"AUTH", u.as_bytes(), pass]).await?,
            None => self.send(&[b"AUTH", pass]).await?,
        }
        let reply = self.line(SYNC_IO).await?;
        if reply.starts_with(b"-") {
            return Err(format!("Unable to AUTH to MASTER: {}", String::from_utf8_lossy(&reply)));
        }
        Ok(())
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), Failure> {
        let mut out = BytesMut::new();
        encode_bulk_array(args.iter().copied(), &mut out);
        self.stream.write_all(&out).await.map_err(|e| format!("Error writing to MASTER: {e}"))
    }
}

async fn set_state(shared: &Shared, generation: u64, state: LinkState) -> Result<(), Failure> {
    let mut eng = shared.engine().await;
    match eng.repl.master.as_mut().filter(|m| m.generation == generation) {
        Some(m) => {
            m.state = state;
            Ok(())
        }
        None => Err("REPLICAOF changed the primary".into()),
    }
}

/// One connection to the primary, until it fails.
async fn attempt(shared: &Arc<Shared>, generation: u64) -> Result<(), Failure> {
    let (host, port, cached, auth, announce_port, announce_ip, timeout) = {
        let eng = shared.engine().await;
        let m = eng.repl.master.as_ref().filter(|m| m.generation == generation).ok_or("REPLICAOF changed")?;
        let c = &eng.config;
        let auth = c.masterauth.clone().map(|pass| (c.masteruser.clone(), pass));
        let port = if c.replica_announce_port != 0 { c.replica_announce_port } else { c.port };
        let timeout = Duration::from_secs(c.repl_timeout.max(1) as u64);
        (m.host.clone(), m.port, m.cached.clone(), auth, port, c.replica_announce_ip.clone(), timeout)
    };
    set_state(shared, generation, LinkState::Connecting).await?;
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut link = Link { stream, buf: BytesMut::with_capacity(64 * 1024) };
    set_state(shared, generation, LinkState::Handshake).await?;
    link.send(&[b"PING"]).await?;
    let pong = link.line(SYNC_IO).await?;
    let tolerated = [b"-NOAUTH".as_slice(), b"-NOPERM", b"-ERR operation not permitted"];
    if !pong.starts_with(b"+") && !tolerated.iter().any(|t| pong.starts_with(t)) {
        return Err(format!("Error reply to PING from master: '{}'", String::from_utf8_lossy(&pong)));
    }
    link.authenticate(&auth).await?;
    // Errors to REPLCONF are not critical (spec §1.1).
    link.send(&[b"REPLCONF", b"listening-port", announce_port.to_string().as_bytes()]).await?;
    link.line(SYNC_IO).await?;
    if let Some(ip) = &announce_ip {
        link.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
        link.line(SYNC_IO).await?;
    }
    // `capa moonkv`: this node runs scripts sent verbatim with the primary's
    // determinism (DESIGN.md "Script propagation"); other primaries ignore it.
    // Not while a sub-replica that cannot run them is attached, may continue,
    // or asks to attach (`plain_capa`): this node forwards what it gets.
    let moonkv = {
        let mut eng = shared.engine().await;
        let no_plain = eng.repl_no_plain_replicas();
        let m = eng.repl.master.as_mut().filter(|m| m.generation == generation).ok_or("REPLICAOF changed")?;
        m.announced_moonkv = no_plain && !m.plain_capa;
        m.announced_moonkv
    };
    if moonkv {
        link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2", b"capa", b"moonkv"]).await?;
    } else {
        link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    }
    link.line(SYNC_IO).await?;
    // A FAILOVER hands the role over: the target promotes itself on this PSYNC.
    let failover = shared.engine().await.repl.failover.is_some();
    match &cached {
        Some((replid, offset, _)) if failover => {
            tracing::info!("Trying a partial resynchronization with failover (request {replid}:{}).", offset + 1);
            link.send(&[b"PSYNC", replid.as_bytes(), (offset + 1).to_string().as_bytes(), b"FAILOVER"]).await?;
        }
        Some((replid, offset, _)) => {
            tracing::info!("Trying a partial resynchronization (request {replid}:{}).", offset + 1);
            link.send(&[b"PSYNC", replid.as_bytes(), (offset + 1).to_string().as_bytes()]).await?;
        }
        None => {
            tracing::info!("Partial resynchronization not possible (no cached master)");
            link.send(&[b"PSYNC", b"?", b"-1"]).await?;
        }
    }
    let reply = loop {
        let line = link.line(timeout).await?;
        if !line.is_empty() {
            break String::from_utf8_lossy(&line).into_owned();
        }
    };
    if failover {
        let mut eng = shared.engine().await;
        if reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE") {
            eng.failover_done();
        } else {
            eng.failover_abort("Failover target rejected psync request");
            return Err(format!("Failover target rejected PSYNC: {reply}"));
        }
    }
    let db = if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let (replid, offset) = match rest.trim().split_once(' ') {
            Some((id, off)) if id.len() == 40 => (id.to_string(), off.trim().parse().unwrap_or(0)),
            _ => {
                // As Redis: the transfer goes ahead; the history has no usable id.
                tracing::warn!("Master replied with wrong +FULLRESYNC syntax.");
                (crate::engine::random_hex(&mut rand::thread_rng(), 40), 0)
            }
        };
        tracing::info!("Full resync from master: {replid}:{offset}");
        full_sync(shared, generation, &mut link, &replid, offset, timeout).await?
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let (_, offset, db) = cached.ok_or("+CONTINUE without a cached master")?;
        let new_id = rest.trim();
        let mut eng = shared.engine().await;
        if new_id.len() == 40 && !new_id.eq_ignore_ascii_case(&eng.repl.replid) {
            // The primary's history moved on (it was promoted): the old id stays
            // valid up to here, and our own replicas must reconnect (spec §3.3).
            eng.repl.replid2 = std::mem::replace(&mut eng.repl.replid, new_id.to_string());
            eng.repl.second_offset = offset as i64 + 1;
            let replicas: Vec<u64> = eng.repl.replicas.keys().copied().collect();
            for id in replicas {
                eng.kill_client(id);
            }
        }
        if eng.repl.backlog.is_none() {
            let size = eng.config.repl_backlog_size as usize;
            eng.repl.backlog = Some(Backlog::new(offset + 1, size));
        }
        tracing::info!("Successful partial resynchronization with master.");
        db
    } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!("Master is currently unable to PSYNC but should be in the future: {reply}"));
    } else {
        // A primary older than PSYNC (or in an error state): SYNC, whose payload
        // follows directly. Its history has no id we could continue from later,
        // and it takes no ACKs (Redis's PSYNC_NOT_SUPPORTED).
        if reply.starts_with("-ERR") {
            tracing::info!("Master does not support PSYNC or is in error state (reply: {reply})");
        } else {
            tracing::warn!("Unexpected reply to PSYNC from master: {reply}");
        }
        tracing::info!("Retrying with SYNC...");
        link.send(&[b"SYNC"]).await?;
        let replid = crate::engine::random_hex(&mut rand::thread_rng(), 40);
        let db = full_sync(shared, generation, &mut link, &replid, 0, timeout).await?;
        return stream_loop(shared, generation, link, db, timeout, false).await;
    };
    stream_loop(shared, generation, link, db, timeout, true).await
}

/// Receives the RDB of a full sync and loads it in place of the dataset. Returns
/// the db the stream continues in (the payload's `repl-stream-db`).
async fn full_sync(
    shared: &Arc<Shared>,
    generation: u64,
    link: &mut Link,
    replid: &str,
    offset: u64,
    timeout: Duration,
) -> Result<usize, Failure> {
    set_state(shared, generation, LinkState::Sync).await?;
    if let Some(m) = shared.engine().await.repl.master.as_mut() {
        m.sync_total = -1;
        m.sync_read = 0;
    }
    let header = loop {
        let line = link.line(timeout).await?;
        if line.is_empty() {
            continue; // keepalive
        }
        if line.starts_with(b"-") {
            return Err(format!("MASTER aborted replication with an error: {}", String::from_utf8_lossy(&line)));
        }
        if !line.starts_with(b"$") {
            return Err(format!(
                "Bad protocol from MASTER, the first byte is not '$': {}",
                String::from_utf8_lossy(&line)
            ));
        }
        break String::from_utf8_lossy(&line[1..]).into_owned();
    };
    let mark = header.strip_prefix("EOF:").map(|m| m.as_bytes().to_vec());
    let total: Option<u64> = match &mark {
        Some(m) if m.len() == 40 => None,
        Some(_) => return Err("Bad EOF mark from MASTER".into()),
        None => Some(header.parse().map_err(|_| format!("Bad bulk length from MASTER: {header}"))?),
    };
    let dir = shared.engine().await.config.dir.clone();
    let tmp = dir.join(format!("temp-{}-replica.rdb", std::process::id()));
    let mut file = std::fs::File::create(&tmp)
        .map_err(|e| format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"))?;
    {
        let mut eng = shared.engine().await;
        if let Some(m) = eng.repl.master.as_mut() {
            m.sync_total = total.map_or(0, |t| t as i64);
            m.sync_read = 0;
        }
    }
    let started = Instant::now();
    let mut received: u64 = 0;
    let mut tail: Vec<u8> = Vec::new();
    let mut last_progress = Instant::now();
    // Bytes already counted in INFO's `total_net_repl_input_bytes`.
    let mut counted: u64 = 0;
    loop {
        if link.buf.is_empty() {
            link.fill(timeout).await.map_err(|e| format!("{e} (receiving bulk data from MASTER)"))?;
        }
        let take = match total {
            Some(t) => (t - received).min(link.buf.len() as u64) as usize,
            None => link.buf.len(),
        };
        let chunk = link.buf.split_to(take);
        file.write_all(&chunk).map_err(|e| format!("Write error writing to the temp file: {e}"))?;
        received += chunk.len() as u64;
        if mark.is_some() {
            tail.extend_from_slice(&chunk);
            if tail.len() > 40 {
                tail.drain(..tail.len() - 40);
            }
        }
        let done = total == Some(received) || mark.as_ref().is_some_and(|m| tail == *m);
        if done || last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            let mut eng = shared.engine().await;
            eng.stats.total_net_repl_input_bytes += received - counted;
            counted = received;
            if let Some(m) = eng.repl.master.as_mut() {
                m.sync_read = received;
                m.last_io = Some(Instant::now());
            }
            drop(eng);
            if !done {
                tracing::info!("MASTER <-> REPLICA sync: {received} bytes received so far");
            }
        }
        if done {
            break;
        }
    }
    if mark.is_some() {
        // The mark is not part of the RDB.
        file.set_len(received - 40).map_err(|e| e.to_string())?;
    }
    file.sync_all().map_err(|e| e.to_string())?;
    drop(file);
    tracing::info!(
        "MASTER <-> REPLICA sync: receiving {} bytes from master to disk in {} ms",
        received,
        started.elapsed().as_millis()
    );
    // The new dataset is loaded apart; the old one is served meanwhile and stays
    // should the payload prove bad.
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let mut last_newline = Instant::now();
    let loader = shared.clone();
    let path = tmp.clone();
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancelled = cancel.clone();
    let mut load = tokio::task::spawn_blocking(move || {
        crate::engine::persist::load_file_detached(&path, &loader.engine, &cancelled)
    });
    // A newline a second tells the primary the replica is alive while it loads
    // (it would drop a replica silent for `repl-timeout`). A REPLICAOF meanwhile
    // (a promotion, another primary) abandons the load.
    let loaded = loop {
        tokio::select! {
            r = &mut load => break r.map_err(|e| e.to_string())?,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                let replaced = {
                    let eng = shared.engine().await;
                    eng.repl.master.as_ref().is_none_or(|m| m.generation != generation)
                };
                if replaced {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if last_newline.elapsed() >= Duration::from_secs(1) {
                    last_newline = Instant::now();
                    let _ = link.stream.write_all(b"\n").await;
                }
            }
        }
    };
    let _ = std::fs::remove_file(&tmp);
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("REPLICAOF changed the primary during the load: the payload is abandoned".into());
    }
    let detached = loaded.map_err(|e| {
        format!("Failed trying to load the MASTER synchronization DB from disk, keeping the old data: {e}")
    })?;
    let stream_db = detached.summary.repl.as_ref().map_or(0, |r| r.2);
    let old = {
        let mut eng = shared.engine().await;
        if eng.repl.master.as_ref().is_none_or(|m| m.generation != generation) {
            return Err("REPLICAOF changed the primary during the transfer".into());
        }
        let old = eng.full_sync_loaded(detached, replid, offset);
        // The data is now the primary's at `offset`: until the link is up, a
        // PSYNC (after a REPLICAOF meanwhile, say) continues from there, not
        // from the position held before the sync.
        if let Some(m) = eng.repl.master.as_mut() {
            m.cached = Some((replid.to_string(), offset, stream_db));
        }
        old
    };
    // Freeing a big dataset takes a while: not under the lock.
    tokio::task::spawn_blocking(move || drop(old));
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    Ok(stream_db)
}

/// Applies the primary's stream until the link fails.
async fn stream_loop(
    shared: &Arc<Shared>,
    generation: u64,
    mut link: Link,
    db: usize,
    timeout: Duration,
    acks: bool,
) -> Result<(), Failure> {
    let kill = Arc::new(Notify::new());
    let (addr, laddr) = (
        link.stream.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
        link.stream.local_addr().map(|a| a.to_string()).unwrap_or_default(),
    );
    let offset = {
        let mut eng = shared.engine().await;
        let handle = ClientHandle {
            kill: kill.clone(),
            push: mpsc::unbounded_channel().0,
            pending: Arc::new(AtomicUsize::new(0)),
            unblocked: Arc::new(Notify::new()),
        };
        // A db announced by the primary that this node does not have: 0 (a SELECT
        // to it would fail the same way).
        let db = if db < eng.dbs.len() { db } else { 0 };
        let id = eng.add_client(|id| {
            let mut c = Client::new(id, addr.clone(), laddr.clone(), -1, true, handle);
            c.flags.master = true;
            c.db = db;
            c
        });
        eng.repl.master_client = Some(id);
        let offset = eng.repl.offset;
        let m = eng.repl.master.as_mut().filter(|m| m.generation == generation).ok_or("REPLICAOF changed")?;
        m.state = LinkState::Connected;
        // The live link replaces the cached position (`link_down` caches anew).
        m.cached = None;
        m.last_io = Some(Instant::now());
        m.down_since = None;
        m.read_offset = offset;
        tracing::info!("MASTER <-> REPLICA link is up");
        offset
    };
    // After a full sync the primary waits for this ACK before streaming.
    if acks {
        link.send(&[b"REPLCONF", b"ACK", offset.to_string().as_bytes()]).await?;
    }
    let mut decoder = RequestDecoder::new();
    let limits = DecodeLimits { max_bulk_len: 1 << 40, authenticated: true };
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    let mut killed = std::pin::pin!(kill.notified());
    // Bytes of an open MULTI from the primary: the offset moves at its EXEC.
    let mut in_multi = BytesMut::new();
    // Bytes of the frame being decoded.
    let mut frame = BytesMut::new();
    // Bytes read with the PSYNC reply or after the payload are applied at once,
    // not when more arrive (which may be a heartbeat period away).
    let mut leftover = !link.buf.is_empty();
    loop {
        if !leftover {
            tokio::select! {
                _ = &mut killed => return Err("The link to MASTER was closed".into()),
                _ = ack.tick() => {
                    // The read below restarts its timeout on every pass of this loop,
                    // so silence is measured here, from the last data received.
                    let (offset, silent) = {
                        let eng = shared.engine().await;
                        let last_io = eng.repl.master.as_ref().and_then(|m| m.last_io);
                        (eng.repl.offset, last_io.is_some_and(|t| t.elapsed() > timeout))
                    };
                    if silent {
                        return Err("MASTER timeout: no data nor PING received...".into());
                    }
                    if acks {
                        link.send(&[b"REPLCONF", b"ACK", offset.to_string().as_bytes()]).await?;
                    }
                    continue;
                }
                r = link.fill(timeout) => {
                    r.map_err(|e| if e.starts_with("Timeout") { "MASTER timeout: no data nor PING received...".to_string() } else { e })?;
                }
            }
        }
        leftover = false;
        let mut getacks = Vec::new();
        let applied_to;
        {
            let mut eng = shared.engine().await;
            let id = eng.repl.master_client.ok_or("The link to MASTER was closed")?;
            let Some(mut client) = eng.clients.remove(&id) else { return Err("The master client is gone".into()) };
            let mut result = Ok(());
            let mut clock = Instant::now();
            // What this read holds (one copy per read): the bytes of each
            // command applied are forwarded as they came, one block per read.
            let raw_all = link.buf.clone().freeze();
            let mut pos = 0;
            let mut applied = BytesMut::new();
            // Scripts the primary sent verbatim: sub-replicas that cannot run
            // them must not continue from before them.
            let mut scripts = false;
            loop {
                let before = link.buf.len();
                let decoded = decoder.decode(&mut link.buf, &limits);
                // The decoder consumes a frame's bytes as it parses them,
                // also when the frame is not complete yet.
                let consumed = before - link.buf.len();
                frame.extend_from_slice(&raw_all[pos..pos + consumed]);
                pos += consumed;
                let argv = match decoded {
                    Ok(Some(argv)) => argv,
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(format!("Protocol error from MASTER: {}", e.0));
                        break;
                    }
                };
                let raw = frame.split();
                if argv.len() >= 2
                    && argv[0].eq_ignore_ascii_case(b"replconf")
                    && argv[1].eq_ignore_ascii_case(b"getack")
                {
                    // The ACK reports the offset before the GETACK itself.
                    getacks.push(eng.repl.offset + applied.len() as u64);
                } else {
                    scripts |= argv[0].eq_ignore_ascii_case(b"eval") || argv[0].eq_ignore_ascii_case(b"evalsha");
                    // Replies are discarded, except errors, which must not
                    // happen; pauses do not apply to the primary's client
                    // (see `Engine::execute`).
                    // A script that may run long runs off the worker, so this
                    // node's clients get BUSY meanwhile (as for their own scripts).
                    let exec = if super::connection::may_run_long_script(&eng, &client, &argv) {
                        tokio::task::block_in_place(|| eng.execute(&mut client, &argv, &mut clock))
                    } else {
                        eng.execute(&mut client, &argv, &mut clock)
                    };
                    if let crate::engine::Exec::Reply(reply) = exec {
                        if eng.check_applied_reply(&argv, &reply) {
                            result = Err("Diverged from MASTER: full sync needed".to_string());
                        }
                    }
                }
                if client.multi.is_some() {
                    in_multi.extend_from_slice(&raw);
                } else {
                    applied.extend_from_slice(&in_multi.split());
                    applied.extend_from_slice(&raw);
                }
                if result.is_err() {
                    break;
                }
            }
            eng.stats.total_net_repl_input_bytes += raw_all.len() as u64;
            if !applied.is_empty() {
                eng.repl_feed(applied.freeze());
                if scripts {
                    eng.repl.verbatim_end = eng.repl.offset;
                }
            }
            let read = eng.repl.offset + (in_multi.len() + frame.len() + link.buf.len()) as u64;
            if let Some(m) = eng.repl.master.as_mut() {
                m.last_io = Some(Instant::now());
                m.read_offset = read;
            }
            eng.clients.insert(id, client);
            applied_to = eng.repl.offset;
            result?;
        }
        if acks && !getacks.is_empty() {
            for off in getacks {
                link.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
            }
            // A later ACK includes the GETACK: sent at once, so that a
            // primary waiting for this replica to have everything (FAILOVER,
            // SHUTDOWN) need not wait for the next periodic one.
            link.send(&[b"REPLCONF", b"ACK", applied_to.to_string().as_bytes()]).await?;
        }
    }
}
