//! Replication, primary side: the replication stream, its backlog, and the
//! replicas attached to it (../shared/specs/replication.md §0–§4).
//!
//! Every execution unit's effects are encoded once as RESP (with SELECT inserted
//! when the stream's database changes) into one refcounted block. The block goes to
//! the backlog (the tail window of the stream, `repl-backlog-size`) and to each
//! attached replica's connection, so the bytes are shared, never copied per replica
//! (Redis 7's shared replication buffer). A replica whose pending bytes pass the
//! `client-output-buffer-limit replica` is disconnected, so nothing grows without
//! bound.

pub mod backlog;
pub mod failover;
pub mod replica;
pub mod scripts;

use crate::engine::Engine;
use crate::protocol::encode_bulk_array;
use backlog::Backlog;
use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Where an attached replica is (INFO replication `state=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for its snapshot to start.
    WaitBgsave,
    /// Receiving its snapshot; stream bytes queue behind it.
    SendBulk,
    /// Following the stream.
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What a replica announced with REPLCONF, and where it is.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    /// `REPLCONF ip-address`, else the peer's address.
    pub ip: Option<String>,
    /// `REPLCONF listening-port`, as announced (any integer, as Redis takes it).
    pub port: i64,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `REPLCONF capa moonkv`: runs scripts sent verbatim as this node does.
    pub capa_moonkv: bool,
    pub state: ReplicaState,
    /// Offset of the last REPLCONF ACK.
    pub ack_off: u64,
    pub ack_time: Instant,
    /// A pre-PSYNC replica (SYNC): never timed out for missing ACKs.
    pub old_protocol: bool,
    /// Since when its pending output has been over the soft limit.
    pub over_soft_since: Option<Instant>,
    /// A disk-backed full sync is sending this replica its file (INFO `send_bulk`;
    /// before that, and for the whole of a diskless transfer, `wait_bgsave`).
    pub sending_file: bool,
}

impl ReplicaInfo {
    /// INFO replication's `state=` as Redis 7.0 names it.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            ReplicaState::SendBulk if !self.sending_file => ReplicaState::WaitBgsave.name(),
            state => state.name(),
        }
    }
}

impl Default for ReplicaInfo {
    fn default() -> Self {
        ReplicaInfo {
            ip: None,
            port: 0,
            capa_eof: false,
            capa_psync2: false,
            capa_moonkv: false,
            state: ReplicaState::WaitBgsave,
            ack_off: 0,
            ack_time: Instant::now(),
            old_protocol: false,
            over_soft_since: None,
            sending_file: false,
        }
    }
}

/// A full sync a connection asked for with PSYNC or SYNC; its connection task
/// performs it (see `server::sync`).
#[derive(Clone, Copy, Debug)]
pub struct SyncRequest {
    /// `$EOF:` framing, streamed as the snapshot is written.
    pub eof: bool,
    /// SYNC: no `+FULLRESYNC` line.
    pub old_protocol: bool,
}

/// The replication state of this node.
pub struct Repl {
    /// The current history id (`master_replid`).
    pub replid: String,
    /// The previous history id, valid up to `second_offset - 1`.
    pub replid2: String,
    /// First offset not covered by `replid2`; -1 without one.
    pub second_offset: i64,
    /// Bytes ever appended to the stream (`master_repl_offset`).
    pub offset: u64,
    /// The dataset changed since this node's history began (a promotion, a
    /// restart from its file): set with every key's change (as WATCH sees them)
    /// and every write that went to the stream. Until then it holds exactly
    /// `replid2`'s data at `second_offset - 1`, whatever PUBLISHes or PINGs
    /// followed.
    pub changed_since_shift: bool,
    /// The stream's database where `replid2`'s history ends, when known.
    pub second_db: Option<usize>,
    /// Absent until the first replica attaches; nothing is recorded without it.
    pub backlog: Option<Backlog>,
    /// The database the stream last selected; -1 forces a SELECT.
    pub seldb: i64,
    /// Attached replicas by client id.
    pub replicas: BTreeMap<u64, ReplicaInfo>,
    /// What connections announced with REPLCONF before their PSYNC.
    pub handshakes: BTreeMap<u64, ReplicaInfo>,
    /// Full syncs asked for and not started yet.
    pub sync_requests: BTreeMap<u64, SyncRequest>,
    /// Full syncs started and not yet taken up by their connection.
    pub sync_feeds: BTreeMap<u64, crate::server::sync::SyncFeed>,
    /// When the last heartbeat `ping` was appended.
    pub last_ping: Instant,
    /// The primary this node replicates from; None on a primary.
    pub master: Option<replica::MasterLink>,
    /// The client the primary's stream runs as, while linked.
    pub master_client: Option<u64>,
    /// Since when a primary with a backlog has had no replica (`repl-backlog-ttl`).
    pub no_replicas_since: Option<Instant>,
    /// A FAILOVER in progress.
    pub failover: Option<failover::Failover>,
    /// The replication script cache (Redis ≤ 6.2's `repl_scriptcache_dict`): shas
    /// whose body reached the stream since the last full sync, so every replica
    /// holds them (DESIGN.md "Script propagation").
    pub script_cache: std::collections::HashSet<String>,
    /// Times the script cache was reset (a replica full-synced).
    pub script_cache_resets: u64,
    pub script_stats: scripts::ScriptPropagationStats,
    /// The unit being built holds a run sent verbatim.
    pub unit_has_verbatim: bool,
    /// Stream offset where the last unit holding a verbatim run ended.
    pub verbatim_end: u64,
    /// A promotion waiting for the primary's FAILOVER (replica side).
    pub handover: Option<replica::Handover>,
    /// A script from the primary failed here (replica side).
    pub script_failed: bool,
    /// Error replies that scripts from the primary returned as their result
    /// (replica side): the primary's runs returned them too.
    pub script_error_replies: usize,
    /// This replica's data diverged from its primary's: the next sync must be a
    /// full one, whatever REPLICAOF says meanwhile. Cleared by a full sync.
    pub diverged: bool,
    /// The offset when a replica without `capa moonkv` last left: while the
    /// backlog reaches back there, it may continue, so nothing goes verbatim.
    pub plain_detached_at: Option<u64>,
}

impl Repl {
    pub fn new(replid: String) -> Repl {
        Repl {
            replid,
            replid2: "0".repeat(40),
            second_offset: -1,
            changed_since_shift: true,
            second_db: None,
            offset: 0,
            backlog: None,
            seldb: -1,
            replicas: BTreeMap::new(),
            handshakes: BTreeMap::new(),
            sync_requests: BTreeMap::new(),
            sync_feeds: BTreeMap::new(),
            last_ping: Instant::now(),
            master: None,
            master_client: None,
            no_replicas_since: None,
            failover: None,
            script_cache: Default::default(),
            script_cache_resets: 0,
            script_stats: Default::default(),
            unit_has_verbatim: false,
            verbatim_end: 0,
            handover: None,
            script_failed: false,
            script_error_replies: 0,
            diverged: false,
            plain_detached_at: None,
        }
    }

    /// True when `(replid, offset)` from a PSYNC can continue from our backlog
    /// (spec §3.2: the id is ours, or our previous one up to where it ended, and the
    /// backlog holds everything from `offset` on).
    pub fn can_continue(&self, replid: &str, offset: u64) -> bool {
        let ours = replid.eq_ignore_ascii_case(&self.replid)
            || (replid.eq_ignore_ascii_case(&self.replid2) && (offset as i64) <= self.second_offset);
        ours && self.backlog.as_ref().is_some_and(|b| b.first_offset() <= offset && offset <= self.offset + 1)
    }
}

/// `*2\r\n$6\r\nSELECT\r\n$<n>\r\n<db>\r\n` into `out`.
fn encode_select(db: usize, out: &mut BytesMut) {
    let n = db.to_string();
    encode_bulk_array([b"SELECT".as_slice(), n.as_bytes()].into_iter(), out);
}

impl Engine {
    /// True when the stream records what is appended (a backlog exists).
    pub fn repl_recording(&self) -> bool {
        self.repl.backlog.is_some()
    }

    /// Creates the backlog (first replica): the stream starts recording at the
    /// next offset. A primary that had none starts a new history, as Redis does.
    pub fn repl_create_backlog(&mut self) {
        if self.repl.backlog.is_some() {
            return;
        }
        if self.repl.replicas.is_empty() {
            self.repl.replid = crate::engine::random_hex(&mut self.rng, 40);
            self.repl.replid2 = "0".repeat(40);
            self.repl.second_offset = -1;
        }
        self.repl.backlog = Some(Backlog::new(self.repl.offset + 1, self.config.repl_backlog_size as usize));
        self.propagating = true;
    }

    /// The stream originates here (a primary with replicas or a backlog): what a
    /// command appends reaches replicas. A replica only forwards its primary's.
    pub fn repl_originates(&self) -> bool {
        self.repl_recording() && !self.is_replica()
    }

    /// Appends one execution unit's effects to the stream.
    pub fn repl_feed_unit(&mut self, effects: &[(usize, Vec<Bytes>)]) {
        let publish =
            |argv: &Vec<Bytes>| argv[0].eq_ignore_ascii_case(b"publish") || argv[0].eq_ignore_ascii_case(b"spublish");
        if !effects.iter().all(|(_, argv)| publish(argv)) {
            self.repl.changed_since_shift = true;
        }
        let size: usize = effects.iter().flat_map(|(_, argv)| argv).map(|a| a.len() + 16).sum();
        let mut buf = BytesMut::with_capacity(size + 32);
        for (db, argv) in effects {
            if self.repl.seldb != *db as i64 {
                encode_select(*db, &mut buf);
                self.repl.seldb = *db as i64;
            }
            encode_bulk_array(argv.iter().map(|a| a.as_ref()), &mut buf);
        }
        self.repl_feed(buf.freeze());
    }

    /// Appends a command that belongs to no database (`ping`, `REPLCONF GETACK *`).
    pub fn repl_feed_plain(&mut self, argv: &[&[u8]]) {
        let mut buf = BytesMut::new();
        encode_bulk_array(argv.iter().copied(), &mut buf);
        self.repl_feed(buf.freeze());
    }

    /// Appends encoded stream bytes: the backlog keeps them, and every replica past
    /// its snapshot point gets them queued (shared, not copied).
    pub fn repl_feed(&mut self, block: Bytes) {
        let Some(backlog) = self.repl.backlog.as_mut() else { return };
        if block.is_empty() {
            return;
        }
        self.repl.offset += block.len() as u64;
        backlog.push(block.clone());
        let limit = self.config.client_output_buffer_limit.replica.hard;
        let mut over = Vec::new();
        for (&id, r) in &self.repl.replicas {
            if r.state == ReplicaState::WaitBgsave {
                continue;
            }
            let Some(c) = self.clients.get(&id) else { continue };
            let pending = c.handle.pending.fetch_add(block.len(), Ordering::Relaxed) + block.len();
            if limit > 0 && pending as u64 > limit {
                over.push(id);
                continue;
            }
            let _ = c.handle.push.send(block.clone());
        }
        for id in over {
            self.repl_drop_slow_replica(id);
        }
    }

    /// Disconnects a replica whose pending output passed its hard limit.
    fn repl_drop_slow_replica(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.close_for_output_limit();
        }
        self.repl_remove(id);
    }

    /// A primary without replicas for `repl-backlog-ttl` seconds frees its backlog
    /// and starts a new history (a replica never does: it may be promoted).
    fn repl_backlog_expire(&mut self) {
        let ttl = self.config.repl_backlog_ttl;
        let Some(since) = self.repl.no_replicas_since else { return };
        if ttl == 0 || self.is_replica() || self.repl.backlog.is_none() || since.elapsed().as_secs() < ttl {
            return;
        }
        self.repl.backlog = None;
        self.repl.no_replicas_since = None;
        self.repl.replid = crate::engine::random_hex(&mut self.rng, 40);
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
        tracing::info!("Replication backlog freed after {ttl} seconds without connected replicas.");
    }

    /// Attaches client `id` as a replica in `state`, with what it announced.
    pub fn repl_attach(&mut self, id: u64, state: ReplicaState, old_protocol: bool) {
        let mut info = self.repl.handshakes.remove(&id).unwrap_or_default();
        info.state = state;
        info.old_protocol = old_protocol;
        info.ack_time = Instant::now();
        self.repl_create_backlog();
        self.repl.replicas.insert(id, info);
        self.events.has_replicas.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes client `id` from the replicas.
    fn repl_remove(&mut self, id: u64) -> Option<ReplicaInfo> {
        let info = self.repl.replicas.remove(&id);
        if info.as_ref().is_some_and(|r| !r.capa_moonkv) {
            self.repl.plain_detached_at = Some(self.repl.offset);
        }
        let any = !self.repl.replicas.is_empty();
        self.events.has_replicas.store(any, std::sync::atomic::Ordering::Relaxed);
        if !any && info.is_some() {
            self.repl.no_replicas_since = Some(Instant::now());
        }
        info
    }

    /// A connection closed: forget it as a replica.
    pub fn repl_forget(&mut self, id: u64) {
        self.repl.handshakes.remove(&id);
        self.repl.sync_requests.remove(&id);
        self.repl.sync_feeds.remove(&id);
        if let Some(r) = self.repl_remove(id) {
            tracing::info!("Connection with replica {}:{} lost.", r.ip.as_deref().unwrap_or("?"), r.port);
        }
    }

    /// The stream bytes from `offset` on (a partial resync), or None when the
    /// backlog no longer holds them.
    pub fn repl_backlog_from(&self, offset: u64) -> Option<Vec<Bytes>> {
        self.repl.backlog.as_ref()?.range_from(offset)
    }

    /// From the cron, once a second: heartbeat pings, replica timeouts.
    pub fn repl_cron(&mut self) {
        if self.events.acks_wanted.load(std::sync::atomic::Ordering::Relaxed)
            && !self.clients.values().any(|c| c.blocked.as_ref().is_some_and(|b| b.wait.is_some()))
        {
            self.events.acks_wanted.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        if self.repl.replicas.is_empty() {
            self.repl_backlog_expire();
            return;
        }
        let period = std::time::Duration::from_secs(self.config.repl_ping_replica_period.max(1) as u64);
        // A replica's own replicas get its primary's pings, forwarded: one of its
        // own would put its offsets out of step with the primary's.
        // Nor while a FAILOVER with a timeout waits: the offset must hold still.
        let timed_failover = self.repl.failover.as_ref().is_some_and(|f| f.deadline.is_some());
        if self.repl.last_ping.elapsed() >= period && !self.is_replica() && !timed_failover {
            self.repl.last_ping = Instant::now();
            self.repl_feed_plain(&[b"ping"]);
        }
        // The soft output-buffer limit: over it for `soft_seconds` in a row.
        let limit = self.config.client_output_buffer_limit.replica;
        if limit.soft > 0 {
            let mut over = Vec::new();
            for (&id, r) in self.repl.replicas.iter_mut() {
                let pending = self.clients.get(&id).map_or(0, |c| c.handle.pending.load(Ordering::Relaxed) as u64);
                if pending <= limit.soft {
                    r.over_soft_since = None;
                } else if r.over_soft_since.get_or_insert_with(Instant::now).elapsed().as_secs() >= limit.soft_seconds {
                    over.push(id);
                }
            }
            for id in over {
                self.repl_drop_slow_replica(id);
            }
        }
        let timeout = std::time::Duration::from_secs(self.config.repl_timeout.max(1) as u64);
        let timed_out: Vec<u64> = self
            .repl
            .replicas
            .iter()
            .filter(|(_, r)| r.state == ReplicaState::Online && !r.old_protocol && r.ack_time.elapsed() > timeout)
            .map(|(&id, _)| id)
            .collect();
        for id in timed_out {
            if let Some(c) = self.clients.get(&id) {
                tracing::warn!("Disconnecting timedout replica (streaming sync): {}", c.addr);
            }
            self.kill_client(id);
            self.repl_remove(id);
        }
    }
}
