//! Per-connection state that commands read and change (selected db, protocol, name,
//! auth, reply mode, flags) and the handle other tasks use to reach a connection
//! (kill it, push MONITOR lines). The socket itself stays in the connection task.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// CLIENT REPLY state, with Redis's three flags: replies off, the current
/// command's reply skipped, the next command's reply to be skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyMode {
    pub off: bool,
    pub skip: bool,
    pub skip_next: bool,
}

impl ReplyMode {
    /// Whether the reply of the command that just ran is sent, and the advance of
    /// the skip flags to the next command (Redis's `call()` epilogue).
    pub fn after_command(&mut self) -> bool {
        let send = !self.off && !self.skip;
        self.skip = std::mem::take(&mut self.skip_next);
        send
    }
}

/// Ways to reach a connection task from elsewhere.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    /// Notified when the client is killed (CLIENT KILL, timeout, maxclients, shutdown).
    pub kill: Arc<Notify>,
    /// Out-of-band output (MONITOR lines, pub/sub messages, replies to a client
    /// that was blocked).
    pub push: mpsc::UnboundedSender<Bytes>,
    /// Bytes sent through `push` and not yet written to the socket (for the
    /// pub/sub output buffer limit); the connection subtracts what it writes.
    pub pending: Arc<std::sync::atomic::AtomicUsize>,
    /// Notified when a blocked client was served or unblocked.
    pub unblocked: Arc<Notify>,
}

/// A transaction being queued (between MULTI and EXEC).
#[derive(Debug, Default)]
pub struct MultiState {
    pub queue: Vec<Vec<Bytes>>,
    /// A queued command was refused: EXEC answers EXECABORT.
    pub errored: bool,
    /// Some queued command is a write (matters for CLIENT PAUSE WRITE).
    pub has_write: bool,
}

/// Why and until when a client is blocked (BLPOP and friends).
#[derive(Debug, Clone)]
pub struct BlockState {
    /// (db, key) pairs the client waits on.
    pub keys: Vec<(usize, Bytes)>,
    /// The command to re-run when a key changes.
    pub argv: Vec<Bytes>,
    pub deadline: Option<std::time::Instant>,
    /// The reply when the timeout passes (null array, or null bulk for BLMOVE).
    pub timeout_reply: crate::protocol::Reply,
    /// WAIT: (stream offset to reach, replicas wanted); its reply is the count.
    pub wait: Option<(u64, usize)>,
}

/// Client flags shown in CLIENT LIST and used by the gate.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientFlags {
    pub monitor: bool,
    pub no_evict: bool,
    pub no_touch: bool,
    pub close_after_reply: bool,
    pub killed: bool,
    /// The client scripts run their commands as (`CLIENT_SCRIPT`).
    pub script: bool,
    /// The link to this replica's primary: its commands bypass READONLY and
    /// staleness checks, and get no replies.
    pub master: bool,
    /// A replica attached with PSYNC/SYNC.
    pub replica: bool,
}

/// State of one client connection.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    /// The stream offset after this client's last command (what WAIT waits for).
    pub woff: u64,
    /// `ip:port` of the peer.
    pub addr: String,
    /// `ip:port` of our side.
    pub laddr: String,
    pub fd: i32,
    pub name: Option<Bytes>,
    pub db: usize,
    /// Protocol version: 2 or 3.
    pub resp: u8,
    pub authenticated: bool,
    pub created: Instant,
    pub last_interaction: Instant,
    /// Name of the last command (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    pub reply_mode: ReplyMode,
    pub flags: ClientFlags,
    pub handle: ClientHandle,
    /// Set between MULTI and EXEC/DISCARD.
    pub multi: Option<MultiState>,
    /// Keys this client WATCHes: (db, key).
    pub watched: Vec<(usize, Bytes)>,
    /// A watched key changed: the next EXEC fails.
    pub dirty_cas: bool,
    /// Pub/Sub channel and pattern subscriptions.
    pub channels: Vec<Bytes>,
    pub patterns: Vec<Bytes>,
    /// Set while blocked in BLPOP and friends.
    pub blocked: Option<BlockState>,
    /// Bytes in the query buffer / pending output, refreshed by the connection task.
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub omem: usize,
    pub net_in: u64,
    pub net_out: u64,
    pub commands: u64,
}

impl Client {
    /// A new client in db 0, RESP2, authenticated when no password is required.
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, authenticated: bool, handle: ClientHandle) -> Client {
        let now = Instant::now();
        Client {
            id,
            addr,
            laddr,
            fd,
            name: None,
            db: 0,
            resp: 2,
            authenticated,
            created: now,
            last_interaction: now,
            last_cmd: "NULL",
            reply_mode: ReplyMode::default(),
            flags: ClientFlags::default(),
            handle,
            multi: None,
            watched: Vec::new(),
            dirty_cas: false,
            channels: Vec::new(),
            patterns: Vec::new(),
            blocked: None,
            qbuf: 0,
            qbuf_free: 0,
            omem: 0,
            net_in: 0,
            net_out: 0,
            commands: 0,
            woff: 0,
        }
    }

    /// Number of channel and pattern subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The `flags=` field of CLIENT LIST.
    /// Closes the connection: its task stops at its next step.
    pub fn kill(&mut self) {
        self.flags.killed = true;
        self.handle.kill.notify_one();
    }

    /// Closes the connection because its pending output passed its class's limit.
    pub fn close_for_output_limit(&mut self) {
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            self.id,
            self.addr
        );
        self.kill();
    }

    /// The class CLIENT LIST/KILL TYPE filter on: normal, master, replica, pubsub.
    pub fn kind(&self) -> &'static str {
        if self.flags.master {
            "master"
        } else if self.flags.replica && !self.flags.monitor {
            "replica"
        } else if self.subscriptions() > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    pub fn flag_string(&self) -> String {
        let mut s = String::new();
        if self.flags.replica {
            s.push('S');
        }
        if self.flags.master {
            s.push('M');
        }
        if self.multi.is_some() {
            s.push('x');
        }
        if self.blocked.is_some() {
            s.push('b');
        }
        if self.dirty_cas {
            s.push('d');
        }
        if self.subscriptions() > 0 {
            s.push('P');
        }
        if self.flags.monitor {
            s.push('O');
        }
        if self.flags.close_after_reply {
            s.push('c');
        }
        if self.flags.no_evict {
            s.push('e');
        }
        if self.flags.no_touch {
            s.push('T');
        }
        if s.is_empty() {
            s.push('N');
        }
        s
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn info_line(&self, now: Instant) -> String {
        let name = self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        let events = if self.omem > 0 { "rw" } else { "r" };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events={} cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction).as_secs(),
            self.flag_string(),
            self.db,
            self.channels.len(),
            self.patterns.len(),
            self.multi.as_ref().map_or(-1, |m| m.queue.len() as i64),
            self.qbuf,
            self.qbuf_free,
            self.qbuf + self.qbuf_free,
            self.qbuf,
            self.omem,
            self.qbuf + self.qbuf_free + self.omem + std::mem::size_of::<Client>(),
            events,
            self.last_cmd,
            self.resp
        )
    }
}
