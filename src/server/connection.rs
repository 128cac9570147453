//! One client connection: read, decode, execute a batch under the lock, write once.
//! Only framing errors close a connection (after `-ERR Protocol error: ...`); a
//! command error is just a reply.

use super::Shared;
use crate::engine::{Client, ClientHandle, Exec};
use crate::protocol::{encode, DecodeLimits, Reply, RequestDecoder};
use crate::scripting::ScriptRun;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::futures::Notified;
use tokio::sync::{mpsc, Notify};

/// Most commands run per lock acquisition, and longest time the lock is held for
/// one batch, before other connections get a turn.
const BATCH_MAX_COMMANDS: usize = 512;
const BATCH_MAX_TIME: Duration = Duration::from_millis(1);

const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Reads what the socket has into `rbuf`, first making room for a full read: a
/// `BytesMut` with no spare capacity would otherwise grow by 64 bytes per read.
async fn read_some(stream: &mut TcpStream, rbuf: &mut BytesMut) -> std::io::Result<usize> {
    if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
        rbuf.reserve(READ_CHUNK);
    }
    stream.read_buf(rbuf).await
}

/// The replication stream gathers this long (one timer tick) before it is written
/// to a replica, unless `REPL_COALESCE_BYTES` are queued (see `Conn::run`).
const REPL_COALESCE: Duration = Duration::from_micros(500);
const REPL_COALESCE_BYTES: usize = 64 * 1024;

/// Bytes made available for each socket read (Redis's `PROTO_IOBUF_LEN`).
const READ_CHUNK: usize = 16 * 1024;

/// After answering, a connection polls for its next request this long before it
/// lets the worker park. A client that answers quickly (LRANGE_600 at -P 1 in
/// redis-benchmark) is then served without the wake-up latency of a parked worker:
/// measured 0.86 → 1.02 of redis-server's throughput for LRANGE_100/600, at the
/// price of CPU spent polling while a client is active (never while idle).
/// Not while replicas are attached: the worker would then run in tiny rounds, each
/// ending with a small write to every replica and waking it; measured with 2
/// replicas, SET -P 1: 110k ops/s and 3× the replicas' CPU with polling, 140k
/// without (redis-server: 134k).
const IDLE_POLL: Duration = Duration::from_micros(50);

fn fmt_addr(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("{}:{}", v6.ip(), v6.port()),
    }
}

fn set_keepalive(fd: i32, secs: u64) {
    if secs == 0 {
        return;
    }
    // SAFETY: `fd` is the connection's socket, open for as long as the connection
    // task (which calls this) runs.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&fd);
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)));
    if let Err(e) = sock.set_tcp_keepalive(&ka) {
        tracing::debug!("tcp-keepalive: {e}");
    }
}

/// What the socket loop must do after a batch.
enum After {
    Continue,
    /// Clients are paused: wait, then run the remaining requests.
    Paused(Instant),
    /// The client asked for a full sync (PSYNC/SYNC): serve it, then stream.
    FullSync,
    /// The client blocked (BLPOP and friends) until the deadline, if any.
    Blocked(Option<Instant>),
    /// A script holds the engine: answer what can be answered without it, wait.
    ScriptBusy,
    /// The next command may run a script that is not known to be fast: run it
    /// off the I/O thread.
    NeedsScriptThread,
    Close,
}

/// Serves one accepted connection until it closes.
pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let laddr = stream.local_addr().map(|a| fmt_addr(&a)).unwrap_or_default();
    let kill = Arc::new(Notify::new());
    let (push_tx, push_rx) = mpsc::unbounded_channel::<Bytes>();
    let pending = Arc::new(AtomicUsize::new(0));
    let unblocked = Arc::new(Notify::new());
    let handle =
        ClientHandle { kill: kill.clone(), push: push_tx, pending: pending.clone(), unblocked: unblocked.clone() };
    let registration = Registration {
        handle,
        addr: fmt_addr(&peer),
        laddr,
        fd: stream.as_raw_fd(),
        loopback: peer.ip().is_loopback(),
    };
    let mut conn = Conn {
        shared: shared.clone(),
        id: 0,
        registration: Some(registration),
        decoder: RequestDecoder::new(),
        pending: VecDeque::new(),
        // Until the client is registered (only delayed while a script runs) the
        // default limits apply.
        limits: DecodeLimits { max_bulk_len: 512 << 20, authenticated: true },
        qbuf_limit: 1 << 30,
        read_bytes: 0,
        push_rx,
        pushed_bytes: pending,
        unblocked,
        resp: 2,
        hold_stream: false,
        replica: false,
    };
    // Register at once when the engine is free; while a script runs the client is
    // registered with its first batch, and is answered BUSY meanwhile.
    let refused = match shared.try_engine() {
        Some(mut eng) => conn.register(&mut eng).err(),
        None => None,
    };
    if let Some(msg) = refused {
        let _ = stream.write_all(msg.as_bytes()).await;
        return;
    }
    conn.run(&mut stream, &kill).await;
    let _ = stream.shutdown().await;
    if conn.id != 0 {
        shared.engine().await.remove_client(conn.id);
    }
}

/// What registering a connection as a client needs.
struct Registration {
    handle: ClientHandle,
    addr: String,
    laddr: String,
    fd: i32,
    loopback: bool,
}

struct Conn {
    shared: Arc<Shared>,
    /// The client id; 0 until registered.
    id: u64,
    /// Present until the connection is registered as a client.
    registration: Option<Registration>,
    decoder: RequestDecoder,
    /// Decoded requests not yet executed (pipelined behind a pause).
    pending: VecDeque<Vec<Bytes>>,
    /// Decoder limits, refreshed after every batch (AUTH and CONFIG SET change them).
    limits: DecodeLimits,
    /// `client-query-buffer-limit`, refreshed after every batch.
    qbuf_limit: u64,
    /// Bytes read since the last batch (for stats).
    read_bytes: usize,
    /// Out-of-band output from the engine (MONITOR, pub/sub, served blocked replies).
    push_rx: mpsc::UnboundedReceiver<Bytes>,
    /// Bytes queued in `push_rx` (shared with the engine for the output limit).
    pushed_bytes: Arc<AtomicUsize>,
    /// Notified when this client, blocked, was served or timed out by the engine.
    unblocked: Arc<Notify>,
    /// The client's protocol as of its last batch (for replies given without the
    /// engine while a script is busy).
    resp: u8,
    /// A replica after an `$EOF:` transfer: stream bytes wait for its first ACK.
    hold_stream: bool,
    /// The peer is a replica (PSYNC/SYNC): its pushes are the replication stream.
    replica: bool,
}

impl Conn {
    /// Registers the connection as a client (protected mode and maxclients checks);
    /// the refusal line to send otherwise.
    fn register(&mut self, eng: &mut crate::engine::Engine) -> Result<(), &'static str> {
        let Some(r) = self.registration.take() else { return Ok(()) };
        self.id = register_client(eng, r)?;
        self.refresh_limits(eng);
        Ok(())
    }

    /// Decoder limits from the configuration and the client's authentication.
    fn refresh_limits(&mut self, eng: &crate::engine::Engine) {
        let authenticated = eng.clients.get(&self.id).is_some_and(|c| c.authenticated);
        self.limits = DecodeLimits { max_bulk_len: eng.config.proto_max_bulk_len, authenticated };
        self.qbuf_limit = eng.config.client_query_buffer_limit;
    }

    async fn run(&mut self, stream: &mut TcpStream, kill: &Notify) {
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
        // Created once: a `Notified` registered anew on every request would take the
        // Notify's internal lock twice per command.
        let mut killed = std::pin::pin!(kill.notified());
        loop {
            tokio::select! {
                biased;
                _ = &mut killed => return,
                msg = self.push_rx.recv(), if !self.hold_stream => {
                    let Some(msg) = msg else { return };
                    if self.replica {
                        // Let the stream gather before writing it: each write wakes
                        // the replica's process. Without this the replica's task ran
                        // right after each writer (tokio's LIFO slot): one syscall per
                        // command per replica. Yielding (the other ready connections
                        // run first, as Redis writes to replicas once per event-loop
                        // iteration) still wrote twice as often as redis-server;
                        // waiting one timer tick cut the replicas' CPU by 3 and SET
                        // -P 1 with 2 replicas went 133k -> 160k ops/s (redis-server:
                        // 173k). Not while a WAIT waits for ACKs, nor once much is
                        // queued.
                        let wanted = self.shared.events.acks_wanted.load(Ordering::Relaxed);
                        if wanted || self.pushed_bytes.load(Ordering::Relaxed) >= REPL_COALESCE_BYTES {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::select! {
                                _ = tokio::time::sleep(REPL_COALESCE) => {}
                                _ = &mut killed => return,
                            }
                        }
                    }
                    self.take_pushed(msg, &mut wbuf);
                    // A subscriber that stops reading must still be killable.
                    tokio::select! {
                        r = stream.write_all(&wbuf) => if r.is_err() { return },
                        _ = killed.as_mut() => return,
                    }
                    wbuf.clear();
                }
                r = read_some(stream, &mut rbuf) => {
                    match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => self.read_bytes += n,
                    }
                    if !self.process_input(&mut rbuf, &mut wbuf, stream, &mut killed).await {
                        return;
                    }
                    // Poll briefly for the next request before parking (see IDLE_POLL).
                    let poll = if self.shared.events.has_replicas.load(Ordering::Relaxed) { Duration::ZERO } else { IDLE_POLL };
                    let until = Instant::now() + poll;
                    while Instant::now() < until {
                        tokio::task::yield_now().await;
                        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                            rbuf.reserve(READ_CHUNK);
                        }
                        match stream.try_read_buf(&mut rbuf) {
                            Ok(0) => return,
                            Ok(n) => {
                                self.read_bytes += n;
                                if !self.process_input(&mut rbuf, &mut wbuf, stream, &mut killed).await {
                                    return;
                                }
                                break;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => return,
                        }
                    }
                }
            }
        }
    }

    /// Moves `first` and every other queued push message into `wbuf`.
    fn take_pushed(&mut self, first: Bytes, wbuf: &mut BytesMut) {
        let mut n = first.len();
        wbuf.extend_from_slice(&first);
        while let Ok(m) = self.push_rx.try_recv() {
            n += m.len();
            wbuf.extend_from_slice(&m);
        }
        self.pushed_bytes.fetch_sub(n.min(self.pushed_bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
        if self.replica {
            self.shared.events.repl_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Moves whatever push messages are queued into `wbuf`.
    fn drain_pushed(&mut self, wbuf: &mut BytesMut) {
        if let Ok(m) = self.push_rx.try_recv() {
            self.take_pushed(m, wbuf);
        }
    }

    /// Decodes and executes everything complete in `rbuf`, writing the replies once
    /// per batch. Returns false when the connection must close.
    async fn process_input(
        &mut self,
        rbuf: &mut BytesMut,
        wbuf: &mut BytesMut,
        stream: &mut TcpStream,
        killed: &mut std::pin::Pin<&mut Notified<'_>>,
    ) -> bool {
        loop {
            let mut framing_error = None;
            loop {
                match self.decoder.decode(rbuf, &self.limits) {
                    Ok(Some(argv)) => {
                        self.pending.push_back(argv);
                        // An unauthenticated client's limits change once AUTH has run.
                        if !self.limits.authenticated {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        framing_error = Some(e);
                        break;
                    }
                }
            }
            if rbuf.len() as u64 > self.qbuf_limit {
                tracing::warn!(
                    "Closing client id={} that reached max query buffer length ({} bytes)",
                    self.id,
                    rbuf.len()
                );
                return false;
            }
            if self.pending.is_empty() && framing_error.is_none() {
                if self.replica {
                    // Newlines a loading replica sends: it is alive (Redis refreshes
                    // its ACK time on an empty inline command).
                    let mut eng = self.shared.engine().await;
                    if let Some(r) = eng.repl.replicas.get_mut(&self.id) {
                        r.ack_time = std::time::Instant::now();
                    }
                }
                return true;
            }
            let mut after = self.run_batch(wbuf, rbuf.len(), rbuf.capacity() - rbuf.len());
            if matches!(after, After::Continue) {
                // The other connections that are ready run their requests before this
                // reply is written, so replies leave together, as Redis writes them
                // in `beforeSleep`: a write that wakes a sleeping client costs the
                // server a cross-CPU wake-up (several µs on our 2-core VMs). With one
                // write per request, EVAL of a 1000-step loop at -c 50 spent 25% of
                // the server's CPU there and ran at 0.65 of redis-server's rate; with
                // the yield 0.87, and GET/SET at -P 1 and -P 16 unchanged.
                tokio::task::yield_now().await;
            }
            loop {
                if !wbuf.is_empty() {
                    if stream.write_all(wbuf).await.is_err() {
                        return false;
                    }
                    wbuf.clear();
                }
                match after {
                    After::Continue => break,
                    After::Close => return false,
                    After::FullSync => {
                        match super::sync::full_sync(&self.shared, self.id, stream, killed).await {
                            Some(hold) => self.hold_stream = hold,
                            None => return false,
                        }
                        after = After::Continue;
                    }
                    // run_batch handles it; kept for exhaustiveness.
                    After::NeedsScriptThread => {
                        after = self.run_batch(wbuf, rbuf.len(), rbuf.capacity() - rbuf.len());
                    }
                    After::ScriptBusy => {
                        let answered = tokio::select! {
                            a = self.answer_busy(wbuf) => a,
                            _ = killed.as_mut() => return false,
                        };
                        match answered {
                            Answered::Close => {
                                after = After::Close;
                                continue;
                            }
                            Answered::Some => continue,
                            Answered::Nothing => {}
                        }
                        if self.pending.is_empty() {
                            after = After::Continue;
                            continue;
                        }
                        tokio::select! {
                            _ = self.shared.script_done() => {}
                            _ = killed.as_mut() => return false,
                        }
                        after = self.run_batch(wbuf, rbuf.len(), rbuf.capacity() - rbuf.len());
                    }
                    After::Paused(until) => {
                        let unpause = self.shared.events.unpause.notified();
                        tokio::select! {
                            _ = tokio::time::sleep_until(until.into()) => {}
                            _ = unpause => {}
                            _ = killed.as_mut() => return false,
                        }
                        after = self.run_batch(wbuf, rbuf.len(), rbuf.capacity() - rbuf.len());
                    }
                    After::Blocked(deadline) => {
                        // Wait until the engine serves us, the timeout passes, or we
                        // are killed; the reply arrives through the push channel.
                        let unblocked = self.unblocked.clone();
                        let timeout = async {
                            match deadline {
                                Some(d) => tokio::time::sleep_until(d.into()).await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            _ = unblocked.notified() => {}
                            _ = timeout => {
                                self.shared.engine().await.unblock_with(self.id, None);
                            }
                            _ = killed.as_mut() => return false,
                        }
                        self.drain_pushed(wbuf);
                        after = self.run_batch(wbuf, rbuf.len(), rbuf.capacity() - rbuf.len());
                    }
                }
            }
            if let Some(e) = framing_error {
                let mut out = BytesMut::new();
                encode(&Reply::Error(e.0), 2, &mut out);
                let _ = stream.write_all(&out).await;
                return false;
            }
        }
    }

    /// Runs pending requests. A script not known to be fast runs in
    /// `block_in_place`: the worker's other connections move to another thread and
    /// can answer BUSY (and take SCRIPT KILL) if it turns out to be long. Known-fast
    /// scripts run inline: handing the worker to another thread costs more than
    /// they do (measured: EVALSHA of an INCR script, -c 50 -P 16, 118k/s with a
    /// hand-off per batch against 284k/s inline).
    fn run_batch(&mut self, wbuf: &mut BytesMut, qbuf: usize, qbuf_free: usize) -> After {
        match self.execute_pending(wbuf, qbuf, qbuf_free, false) {
            After::NeedsScriptThread => {
                tokio::task::block_in_place(|| self.execute_pending(wbuf, qbuf, qbuf_free, true))
            }
            after => after,
        }
    }

    /// While a script is timed out: answers the leading pending commands, without
    /// the engine (BUSY, SCRIPT KILL, SHUTDOWN NOSAVE, unknown commands, arity
    /// errors) or through the script's hook (the other allow-busy commands).
    async fn answer_busy(&mut self, wbuf: &mut BytesMut) -> Answered {
        let mut answered = Answered::Nothing;
        while self.shared.script.is_timed_out() {
            let Some(argv) = self.pending.front() else { break };
            let reply = match busy_reply(argv, &self.shared.script) {
                Busy::Reply(r) => {
                    if self.id != 0 {
                        // The refusal counts as for any refused command, and makes
                        // an open transaction fail at EXEC (EXECABORT), as in Redis.
                        let (id, name) = (self.id, argv[0].clone());
                        let code = match &r {
                            Reply::Error(e) => e.split(' ').next().unwrap_or("ERR").to_string(),
                            _ => String::new(),
                        };
                        let _ = self.shared.script.submit(Box::new(move |eng| {
                            eng.note_refused_while_busy(id, &name, &code);
                            Ok((Reply::NoReply, id))
                        }));
                    }
                    r
                }
                Busy::ViaHook => {
                    // Registers the connection too when it arrived during the script.
                    let slot = Arc::new(parking_lot::Mutex::new(self.registration.take()));
                    let (id, job_slot, cmd) = (self.id, slot.clone(), argv.clone());
                    let job: crate::scripting::BusyJob = Box::new(move |eng| {
                        let id = match job_slot.lock().take() {
                            Some(r) => register_client(eng, r)?,
                            None => id,
                        };
                        Ok((eng.run_while_busy(id, &cmd), id))
                    });
                    let Some(rx) = self.shared.script.submit(job) else {
                        // The script just ended: run the command normally.
                        self.registration = slot.lock().take();
                        break;
                    };
                    match rx.await {
                        Ok(Ok((reply, id))) => {
                            self.id = id;
                            reply
                        }
                        Ok(Err(line)) => {
                            wbuf.extend_from_slice(line.as_bytes());
                            return Answered::Close;
                        }
                        // Accepted jobs always run; a dropped one means the engine
                        // went away (shutdown).
                        Err(_) => return Answered::Close,
                    }
                }
            };
            let quit = argv[0].eq_ignore_ascii_case(b"quit");
            self.pending.pop_front();
            encode(&reply, self.resp, wbuf);
            answered = Answered::Some;
            if quit {
                return Answered::Close;
            }
        }
        answered
    }

    /// Runs pending requests under the lock, in bounded batches; encodes replies
    /// into `wbuf`.
    /// `off_io_thread`: running inside `block_in_place`, where any script may run.
    fn execute_pending(&mut self, wbuf: &mut BytesMut, qbuf: usize, qbuf_free: usize, off_io_thread: bool) -> After {
        let mut first = true;
        while !self.pending.is_empty() || first {
            let shared = self.shared.clone();
            let Some(mut eng) = shared.try_engine() else { return After::ScriptBusy };
            if self.id == 0 {
                if let Err(msg) = self.register(&mut eng) {
                    wbuf.extend_from_slice(msg.as_bytes());
                    return After::Close;
                }
            }
            let Some(mut client) = eng.clients.remove(&self.id) else { return After::Close };
            if first {
                first = false;
                let read_bytes = std::mem::take(&mut self.read_bytes);
                if read_bytes > 0 {
                    eng.stats.total_net_input_bytes += read_bytes as u64;
                    eng.stats.total_reads_processed += 1;
                    client.net_in += read_bytes as u64;
                    client.last_interaction = Instant::now();
                }
            }
            client.qbuf = qbuf;
            client.qbuf_free = qbuf_free;
            let start = Instant::now();
            let mut clock = start;
            let before = wbuf.len();
            let mut outcome = After::Continue;
            let mut n = 0;
            while let Some(argv) = self.pending.pop_front() {
                if client.flags.killed {
                    outcome = After::Close;
                    break;
                }
                if !off_io_thread && may_run_long_script(&eng, &client, &argv) {
                    self.pending.push_front(argv);
                    outcome = After::NeedsScriptThread;
                    break;
                }
                if self.hold_stream && is_replconf_ack(&argv) {
                    // The replica loaded the `$EOF:` payload: the stream may follow.
                    self.hold_stream = false;
                }
                match eng.execute(&mut client, &argv, &mut clock) {
                    Exec::Paused(until) => {
                        self.pending.push_front(argv);
                        outcome = After::Paused(until);
                        break;
                    }
                    Exec::Reply(reply) => {
                        if let Some(b) = &client.blocked {
                            // No reply yet: it comes when the client is served.
                            outcome = After::Blocked(b.deadline);
                            break;
                        }
                        if client.reply_mode.after_command() {
                            encode(&reply, client.resp, wbuf);
                        }
                    }
                }
                if client.flags.close_after_reply {
                    outcome = After::Close;
                    break;
                }
                if eng.repl.sync_requests.contains_key(&self.id) {
                    outcome = After::FullSync;
                    break;
                }
                n += 1;
                if n >= BATCH_MAX_COMMANDS || clock.duration_since(start) >= BATCH_MAX_TIME {
                    break;
                }
            }
            let written = (wbuf.len() - before) as u64;
            eng.stats.total_net_output_bytes += written;
            if written > 0 {
                eng.stats.total_writes_processed += 1;
            }
            client.net_out += written;
            client.omem = wbuf.len();
            self.limits =
                DecodeLimits { max_bulk_len: eng.config.proto_max_bulk_len, authenticated: client.authenticated };
            self.qbuf_limit = eng.config.client_query_buffer_limit;
            self.resp = client.resp;
            self.replica = client.flags.replica;
            eng.clients.insert(self.id, client);
            drop(eng);
            if !matches!(outcome, After::Continue) {
                return outcome;
            }
        }
        After::Continue
    }
}

/// `REPLCONF ACK <offset> ...`
fn is_replconf_ack(argv: &[Bytes]) -> bool {
    argv.len() >= 3 && argv[0].eq_ignore_ascii_case(b"replconf") && argv[1].eq_ignore_ascii_case(b"ack")
}

/// Commands that may run Lua (EXEC may hold an EVAL).
/// True when `argv` may run a script not known to be fast, which must run off
/// the worker (`block_in_place`) so that other clients get BUSY meanwhile.
pub(crate) fn may_run_long_script(eng: &crate::engine::Engine, client: &Client, argv: &[Bytes]) -> bool {
    may_run_script(argv) && !script_is_known_fast(eng, client, argv)
}

fn may_run_script(argv: &[Bytes]) -> bool {
    let Some(name) = argv.first() else { return false };
    ["eval", "evalsha", "eval_ro", "evalsha_ro", "exec"].iter().any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// True when `argv` (a `may_run_script` command) runs only scripts known to be
/// fast (`Scripting::is_known_fast`); for EXEC, every queued script must be.
fn script_is_known_fast(eng: &crate::engine::Engine, client: &Client, argv: &[Bytes]) -> bool {
    if argv[0].eq_ignore_ascii_case(b"exec") {
        return client
            .multi
            .as_ref()
            .is_none_or(|m| m.queue.iter().filter(|q| may_run_script(q)).all(|q| eng.scripting.is_known_fast(q)));
    }
    eng.scripting.is_known_fast(argv)
}

/// Registers a connection as a client (protected mode and maxclients checks);
/// the refusal line to send otherwise.
fn register_client(eng: &mut crate::engine::Engine, r: Registration) -> Result<u64, &'static str> {
    let cfg = &eng.config;
    if cfg.protected_mode && cfg.requirepass.is_none() && !r.loopback {
        eng.stats.rejected_connections += 1;
        return Err(PROTECTED_MODE_DENIED);
    }
    if eng.clients.len() as u64 >= cfg.maxclients {
        eng.stats.rejected_connections += 1;
        return Err("-ERR max number of clients reached\r\n");
    }
    let authenticated = cfg.requirepass.is_none();
    set_keepalive(r.fd, cfg.tcp_keepalive);
    Ok(eng.add_client(|id| Client::new(id, r.addr, r.laddr, r.fd, authenticated, r.handle)))
}

/// What `answer_busy` did.
enum Answered {
    Nothing,
    Some,
    /// QUIT was answered: close.
    Close,
}

/// How a command is answered while a script is timed out.
enum Busy {
    Reply(Reply),
    /// An allow-busy command that needs the engine (MULTI, WATCH, HELLO, AUTH, ...):
    /// the script's hook runs it, as Redis's hook does.
    ViaHook,
}

/// How to answer `argv` while a script is timed out.
fn busy_reply(argv: &[Bytes], run: &ScriptRun) -> Busy {
    let spec = match crate::engine::lookup(argv) {
        Ok(spec) => spec,
        Err(refusal) => return Busy::Reply(refusal.error(argv).into_reply()),
    };
    match spec.name {
        "script|kill" => Busy::Reply(run.request_kill().reply()),
        "shutdown" if argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) => {
            tracing::warn!("User requested shutdown while a script was running (SHUTDOWN NOSAVE): exiting now.");
            std::process::exit(0);
        }
        // Saving needs the dataset the script is changing.
        "shutdown" => Busy::Reply(Reply::Error(crate::scripting::BUSY_TEXT.into())),
        _ if spec.flags.allow_busy => Busy::ViaHook,
        _ => Busy::Reply(Reply::Error(crate::scripting::BUSY_TEXT.into())),
    }
}
