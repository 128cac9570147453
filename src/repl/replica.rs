//! Replication, replica side, engine part: the link to the primary as INFO and
//! ROLE show it, REPLICAOF, the READONLY / MASTERDOWN refusals, promotion with the
//! history-id shift (spec §3.4, §5). The link itself runs in `server::replica_link`.

use crate::commands::error::CommandError;
use crate::engine::{Client, Engine};
use std::time::Instant;

/// Where the link to the primary is (ROLE's state names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The primary this node replicates from.
#[derive(Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Bumped by every REPLICAOF: a link task whose generation is stale exits.
    pub generation: u64,
    /// Where a PSYNC continues from: (replid, offset applied, selected db).
    pub cached: Option<(String, u64, usize)>,
    /// Last data received from the primary.
    pub last_io: Option<Instant>,
    /// When the link went down (None: never connected yet).
    pub down_since: Option<Instant>,
    /// Payload size of a full sync in progress (-1 before its `$` line, 0 for `$EOF:`).
    pub sync_total: i64,
    pub sync_read: u64,
    /// Bytes read from the primary's stream (`slave_read_repl_offset`).
    pub read_offset: u64,
    /// Whether the current (or last) connection announced `capa moonkv`, so the
    /// primary may send scripts verbatim.
    pub announced_moonkv: bool,
    /// Announce no `capa moonkv` from now on: a sub-replica that cannot run
    /// scripts verbatim asks to follow this node (set by `start_sync`, cleared
    /// once it attached).
    pub plain_capa: bool,
}

/// A promotion waiting for the primary to hand its role over. When Sentinel
/// (a client named `sentinel-…`) promotes a replica whose link is up, the
/// replica asks its primary for `FAILOVER TO <itself>`, which pauses writes
/// there until the replica has them all and then makes it the primary
/// (`PSYNC … FAILOVER`). So `SENTINEL FAILOVER` loses no write, and the old
/// primary becomes a replica at once instead of accepting writes that would be
/// lost. Past `deadline` the replica promotes itself anyway.
#[derive(Debug, Clone)]
pub struct Handover {
    /// The link (`MasterLink::generation`) it was asked on.
    pub generation: u64,
    pub deadline: Instant,
}

/// `-READONLY` and `-MASTERDOWN` texts (spec §5).
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

impl Engine {
    /// The database the primary's stream has selected where this replica
    /// stands: the link's, or the one kept with its position while the link
    /// is down. A replica's stream is its primary's.
    fn primary_stream_db(&self) -> Option<usize> {
        let link_db = self.repl.master_client.and_then(|id| self.clients.get(&id)).map(|c| c.db);
        link_db.or_else(|| self.repl.master.as_ref()?.cached.as_ref().map(|c| c.2))
    }

    /// True when this node replicates from a primary.
    pub fn is_replica(&self) -> bool {
        self.repl.master.is_some()
    }

    /// The refusal a replica gives `client` for a command that `writes` and may run
    /// on stale data (`stale`), if any.
    pub fn repl_refusal(&self, client: &Client, writes: bool, stale: bool) -> Option<CommandError> {
        let link = self.repl.master.as_ref()?;
        if client.flags.master {
            return None;
        }
        if writes && self.config.replica_read_only {
            return Some(CommandError::Coded(READONLY.into()));
        }
        if link.state != LinkState::Connected && !self.config.replica_serve_stale_data && !stale {
            return Some(CommandError::Coded(MASTERDOWN.into()));
        }
        None
    }

    /// Where a snapshot taken now sits in the replication stream, when this node
    /// has a stream (a primary with a backlog, or a replica): files then carry it,
    /// so a restarted replica continues with PSYNC (spec §3.7).
    pub fn repl_position(&self) -> Option<crate::engine::persist::ReplPosition> {
        if self.repl.backlog.is_none() && !self.is_replica() {
            return None;
        }
        let stream_db = match self.primary_stream_db() {
            Some(db) => db as u32,
            None => self.repl.seldb.max(0) as u32,
        };
        Some(crate::engine::persist::ReplPosition {
            stream_db,
            replid: self.repl.replid.clone(),
            offset: self.repl.offset,
        })
    }

    /// At start-up, after loading a file saved at `(replid, offset, db)`: a replica
    /// continues that history with PSYNC; without one it asks for a full sync
    /// (`PSYNC ? -1`), as it knows no history.
    pub fn repl_restore_position(&mut self, position: Option<(String, u64, usize)>) {
        let Some(m) = self.repl.master.as_mut() else { return };
        m.cached = position.clone();
        if let Some((replid, offset, _)) = position {
            self.repl.replid = replid;
            self.repl.offset = offset;
        }
    }

    /// A primary restarted from a file saved at `(replid, offset)`: the file's
    /// history becomes our previous one up to `offset`, and the (empty) backlog
    /// starts there, so its replicas continue partially (as Redis 7.0 does).
    pub fn repl_restore_as_primary(&mut self, replid: String, offset: u64, db: usize) {
        tracing::info!("Replication history {replid} restored from the RDB file at offset {offset}");
        self.repl.replid2 = replid;
        self.repl.second_offset = offset as i64 + 1;
        self.repl.offset = offset;
        self.repl.changed_since_shift = false;
        self.repl.second_db = Some(db);
        self.repl.seldb = -1;
        self.repl.diverged = false;
        let size = self.config.repl_backlog_size as usize;
        self.repl.backlog = Some(crate::repl::backlog::Backlog::new(offset + 1, size));
        self.repl.no_replicas_since = Some(Instant::now());
        self.propagating = true;
    }

    /// REPLICAOF host port: follow that primary, first trying to continue our own
    /// history there (PSYNC <our replid> <our offset + 1>, spec §3.5).
    pub fn replicaof(&mut self, host: String, port: u16) {
        let generation = self.repl.master.as_ref().map_or(0, |m| m.generation) + 1;
        // What we applied so far continues our history: the primary's stream up to
        // our offset (a replica) or our own (a primary being demoted).
        let db = self.repl.master_client.and_then(|id| self.clients.get(&id)).map_or(0, |c| c.db);
        // Data that diverged from its primary continues nothing: a full sync.
        let cached = match self.repl.master.as_ref().and_then(|m| m.cached.clone()) {
            _ if self.repl.diverged => None,
            Some(cached) => Some(cached),
            None => {
                let (replid, offset, db) =
                    self.demoted_history().unwrap_or((self.repl.replid.clone(), self.repl.offset, db));
                if offset != self.repl.offset {
                    // What followed (PUBLISHes) is not part of the history asked
                    // for. Our replicas, which may have it, are dropped when the
                    // link continues (under the primary's id) or syncs in full.
                    self.repl.offset = offset;
                    let size = self.config.repl_backlog_size as usize;
                    self.repl.backlog = Some(crate::repl::backlog::Backlog::new(offset + 1, size));
                }
                Some((replid, offset, db))
            }
        };
        // As a replica its data follows another history from now on.
        self.repl.changed_since_shift = true;
        if let Some(id) = self.repl.master_client.take() {
            self.kill_client(id);
        }
        self.repl.handover = None;
        // What the replicas of this node knew of scripts stops being its concern:
        // its scripts follow the new primary (which may flush them). If it is
        // promoted again, its replicas learn every script anew.
        self.repl.script_cache.clear();
        // Blocked clients waited on a dataset this node no longer owns.
        let blocked: Vec<u64> = self.clients.values().filter(|c| c.blocked.is_some()).map(|c| c.id).collect();
        for id in blocked {
            let text = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";
            self.unblock_with(id, Some(crate::protocol::Reply::Error(text.into())));
        }
        tracing::info!("Connecting to MASTER {host}:{port}");
        self.repl.master = Some(MasterLink {
            host,
            port,
            state: LinkState::Connect,
            generation,
            cached,
            last_io: None,
            down_since: None,
            sync_total: -1,
            sync_read: 0,
            read_offset: 0,
            announced_moonkv: false,
            plain_capa: false,
        });
        self.events.repl_link.notify_one();
    }

    /// The history a primary being demoted continues, and from where (offset,
    /// stream database), when not its own. A primary whose dataset did not
    /// change since its history began (a restart from its file, a promotion)
    /// holds exactly the previous history's data where that one ends, so it
    /// asks to continue that one: the node it follows may know it (Redis asks
    /// with the new id and syncs in full). A FAILOVER asks with the id its
    /// target has.
    fn demoted_history(&self) -> Option<(String, u64, usize)> {
        let r = &self.repl;
        let untouched = r.master.is_none() && r.second_offset > 0 && !r.changed_since_shift && r.backlog.is_some();
        let db = r.second_db.filter(|_| untouched && r.failover.is_none())?;
        Some((r.replid2.clone(), r.second_offset as u64 - 1, db))
    }

    /// REPLICAOF NO ONE: become a primary. The history continues under a new id;
    /// the old one stays valid up to our offset, so former siblings continue
    /// partially (spec §3.4).
    /// REPLICAOF NO ONE from Sentinel: a handover first when the link is up and
    /// `promotion-handover-timeout` allows it (see `Handover`), else at once.
    pub fn promote(&mut self) {
        if self.repl.handover.is_some() {
            return;
        }
        let timeout = self.config.promotion_handover_timeout;
        match self.repl.master.as_ref() {
            Some(m) if timeout > 0 && m.state == LinkState::Connected => {
                let deadline = Instant::now() + std::time::Duration::from_millis(timeout as u64);
                self.repl.handover = Some(Handover { generation: m.generation, deadline });
                tracing::info!("Promotion requested: asking MASTER to hand its role over first (FAILOVER)");
                self.events.handover.notify_one();
            }
            _ => self.replicaof_no_one(),
        }
    }

    pub fn replicaof_no_one(&mut self) {
        self.repl.handover = None;
        if self.repl.master.is_none() {
            return;
        }
        self.repl.second_db = self.primary_stream_db();
        self.repl.master = None;
        if let Some(id) = self.repl.master_client.take() {
            self.kill_client(id);
        }
        self.repl.replid2 = std::mem::replace(&mut self.repl.replid, crate::engine::random_hex(&mut self.rng, 40));
        self.repl.second_offset = self.repl.offset as i64 + 1;
        self.repl.changed_since_shift = false;
        self.repl.seldb = -1;
        let replicas: Vec<u64> = self.repl.replicas.keys().copied().collect();
        for id in replicas {
            self.kill_client(id);
        }
        if self.repl.backlog.is_some() {
            self.propagating = true;
        }
        // `repl-backlog-ttl` counts from the promotion for a primary without replicas.
        self.repl.no_replicas_since = Some(Instant::now());
        tracing::info!("MASTER MODE enabled");
    }

    /// A full sync's dataset is loaded: it replaces ours (WATCHed keys that existed
    /// on either side are touched), our own replicas must sync again, running saves
    /// stop, and our history becomes the primary's at `offset`. Returns the old
    /// databases, to be freed outside the lock.
    pub fn full_sync_loaded(
        &mut self,
        mut loaded: crate::engine::persist::Detached,
        replid: &str,
        offset: u64,
    ) -> Vec<crate::db::keyspace::Db> {
        self.abandon_bgsave();
        self.snapshot_abort();
        let replicas: Vec<u64> = self.repl.replicas.keys().copied().collect();
        for id in replicas {
            self.kill_client(id);
        }
        for db in 0..self.dbs.len() {
            self.db_changed(db, None);
        }
        let old = std::mem::replace(&mut self.dbs, std::mem::take(&mut loaded.dbs));
        for db in 0..self.dbs.len() {
            self.db_changed(db, None);
        }
        self.serve_ready_keys();
        loaded.create_scripts(self);
        self.persist.last_load_keys_loaded = loaded.summary.keys;
        self.persist.last_load_keys_expired = loaded.summary.expired;
        self.repl.replid = replid.to_string();
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
        self.repl.offset = offset;
        self.repl.seldb = -1;
        self.repl.diverged = false;
        let size = self.config.repl_backlog_size as usize;
        self.repl.backlog = Some(crate::repl::backlog::Backlog::new(offset + 1, size));
        self.dirty += 1;
        old
    }

    /// A command from the primary answered `reply`: an error there (or in an EXEC's
    /// replies) means this replica is diverging. Logged loudly and counted
    /// (`unexpected_error_replies`); `propagation-error-behavior panic` and
    /// `panic-on-replicas` stop the server, as Redis does (only when read-only:
    /// a writable replica may have diverged on purpose).
    ///
    /// True when the replica must not go on: a script from the primary failed
    /// here (it succeeded there, so this replica diverged), or the behaviour is
    /// `resync`. The link is then dropped and the next connection full-syncs.
    pub fn check_applied_reply(&mut self, argv: &[bytes::Bytes], reply: &crate::protocol::Reply) -> bool {
        use crate::config::PropagationErrorBehavior as Behavior;
        use crate::protocol::Reply;
        let script_failed = std::mem::take(&mut self.repl.script_failed);
        let expected = std::mem::take(&mut self.repl.script_error_replies);
        let errors: Vec<&str> = match reply {
            Reply::Error(e) => vec![e.as_str()],
            Reply::Array(items) if argv[0].eq_ignore_ascii_case(b"exec") => items
                .iter()
                .filter_map(|r| match r {
                    Reply::Error(e) => Some(e.as_str()),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        };
        let errors = &errors[expected.min(errors.len())..];
        if errors.is_empty() && !script_failed {
            return false;
        }
        let name = String::from_utf8_lossy(&argv[0]).to_lowercase();
        for err in errors {
            self.stats.unexpected_error_replies += 1;
            tracing::error!(
                "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{name}'",
                err.chars().take(128).collect::<String>()
            );
        }
        let behavior = self.config.propagation_error_behavior;
        if matches!(behavior, Behavior::Panic | Behavior::PanicOnReplicas) && self.config.replica_read_only {
            tracing::error!(
                "This replica panicked sending an error to its master after processing the command '{name}' (propagation-error-behavior)"
            );
            std::process::exit(1);
        }
        let resync = script_failed || behavior == Behavior::Resync;
        if resync {
            tracing::error!(
                "== CRITICAL == '{name}' from the master failed here: this replica diverged. Dropping the link to MASTER to full-sync rather than go on diverged."
            );
            self.repl.diverged = true;
        }
        resync
    }

    /// Closes client `id`'s connection.
    pub fn kill_client(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.kill();
        }
    }
}
