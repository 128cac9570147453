//! FAILOVER (spec §8.4): a primary hands its role to one of its replicas without
//! losing a write. Writes are paused; once a replica has acknowledged everything
//! (or the timeout passes with FORCE), this node becomes that replica's replica and
//! asks `PSYNC <replid> <offset+1> FAILOVER`, which makes the target promote itself
//! and continue our history. Any failure reverts this node to a primary.

use super::ReplicaState;
use crate::engine::Engine;
use std::time::Instant;

/// Where a FAILOVER is (INFO `master_failover_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverState {
    /// Writes paused, waiting for a replica to acknowledge the whole stream.
    WaitingForSync,
    /// This node is connecting to the target as its replica.
    InProgress,
}

#[derive(Debug)]
pub struct Failover {
    pub state: FailoverState,
    /// The replica to hand over to (TO host port), or the first one in sync.
    pub target: Option<(String, i64)>,
    pub force: bool,
    pub deadline: Option<Instant>,
}

/// `master_failover_state` when no FAILOVER runs.
pub const NO_FAILOVER: &str = "no-failover";

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::WaitingForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

impl Engine {
    /// The replica announced as `host:port` (its `ip-address`, or the address it
    /// connected from, and its `listening-port`), as Redis's `findReplica`.
    pub fn repl_find_replica(&self, host: &str, port: i64) -> Option<u64> {
        self.repl.replicas.iter().find_map(|(&id, r)| {
            let ip = match &r.ip {
                Some(ip) => ip.clone(),
                None => self.clients.get(&id).map(|c| peer_ip(&c.addr))?,
            };
            (ip.eq_ignore_ascii_case(host) && r.port == port).then_some(id)
        })
    }

    /// Starts a FAILOVER (the command checked its arguments and preconditions).
    pub fn failover_start(&mut self, target: Option<(String, i64)>, force: bool, timeout_ms: i64) {
        match &target {
            Some((host, port)) => tracing::info!("FAILOVER requested to {host}:{port}."),
            None => tracing::info!("FAILOVER requested to any replica."),
        }
        let deadline = (timeout_ms > 0).then(|| Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
        self.repl.failover = Some(Failover { state: FailoverState::WaitingForSync, target, force, deadline });
        // Writes are paused from now on: the replicas' answers say whether they
        // have everything.
        self.repl_request_acks();
    }

    /// From the cron and after commands: hands over once a replica is in sync, or
    /// gives up (or forces) at the deadline.
    pub fn failover_cron(&mut self) {
        let Some(f) = self.repl.failover.as_ref() else { return };
        if f.state != FailoverState::WaitingForSync {
            return;
        }
        if f.deadline.is_some_and(|d| Instant::now() >= d) {
            match (f.force, f.target.clone()) {
                (true, Some((host, port))) => {
                    tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                    self.failover_hand_over(host, port);
                }
                _ => self.failover_abort("Replica never caught up before timeout"),
            }
            return;
        }
        let offset = self.repl.offset;
        let synced = |r: &super::ReplicaInfo| r.state == ReplicaState::Online && r.ack_off == offset;
        let found = match &f.target {
            Some((host, port)) => self
                .repl_find_replica(host, *port)
                .filter(|id| self.repl.replicas.get(id).is_some_and(synced))
                .map(|_| (host.clone(), *port)),
            None => self.repl.replicas.iter().find(|(_, r)| synced(r)).map(|(&id, r)| {
                let ip = r.ip.clone().or_else(|| self.clients.get(&id).map(|c| peer_ip(&c.addr)));
                (ip.unwrap_or_default(), r.port)
            }),
        };
        if let Some((host, port)) = found {
            tracing::info!("Failover target {host}:{port} is synced, failing over.");
            self.failover_hand_over(host, port);
        }
    }

    /// Becomes the target's replica; the link asks `PSYNC … FAILOVER`.
    fn failover_hand_over(&mut self, host: String, port: i64) {
        let Some(f) = self.repl.failover.as_mut() else { return };
        f.state = FailoverState::InProgress;
        f.target = Some((host.clone(), port));
        self.replicaof(host, port.clamp(0, u16::MAX as i64) as u16);
    }

    /// The target accepted our PSYNC: the FAILOVER is done, writes flow again (they
    /// are now refused as on any replica).
    pub fn failover_done(&mut self) {
        if self.repl.failover.take().is_some() {
            tracing::info!("FAILOVER completed.");
            self.events.unpause.notify_waiters();
        }
    }

    /// Gives up: a node that already pointed at the target is a primary again.
    pub fn failover_abort(&mut self, why: &str) {
        let Some(f) = self.repl.failover.take() else { return };
        if f.state == FailoverState::InProgress {
            self.replicaof_no_one();
            self.config.replicaof = None;
        }
        self.events.unpause.notify_waiters();
        tracing::warn!("FAILOVER aborted: {why}");
    }

    /// True while a FAILOVER holds writes.
    pub fn failover_pauses_writes(&self) -> bool {
        self.repl.failover.is_some()
    }
}

/// The IP part of a peer address (`1.2.3.4:5678`, `[::1]:5678`).
fn peer_ip(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}
