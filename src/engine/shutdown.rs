//! SHUTDOWN as in Redis 7.0. A primary whose replicas have not acknowledged its
//! whole stream pauses writes and waits up to `shutdown-timeout` seconds for
//! them, so that a replica promoted afterwards has every write and the saved
//! file ends where the replicas are (the node can rejoin them partially). Then
//! it saves (when asked or configured) and exits. SHUTDOWN and SIGTERM/SIGINT
//! share this path.

use super::{Engine, Pause};
use crate::repl::ReplicaState;
use std::time::{Duration, Instant};

/// What SHUTDOWN was asked: `SAVE`/`NOSAVE` (else the `save` points decide),
/// `NOW` (no waiting for replicas), `FORCE` (exit even if saving fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct ShutdownFlags {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
}

/// A shutdown waiting for lagging replicas.
#[derive(Debug)]
pub struct ShutdownWait {
    deadline: Instant,
    flags: ShutdownFlags,
    /// The clients whose SHUTDOWN is blocked until it ends.
    clients: Vec<u64>,
}

/// Redis's reply to a SHUTDOWN that did not go ahead.
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// How a shutdown request went.
#[derive(Debug, PartialEq, Eq)]
pub enum ShutdownStart {
    /// Saved as asked; the server exits.
    Exiting,
    /// Waiting for replicas (see `shutdown_cron`).
    Waiting,
    /// Saving failed: the server stays up.
    Failed,
}

impl Engine {
    /// Starts a shutdown: at once when `NOW`, `shutdown-timeout 0` or every
    /// online replica has acknowledged the whole stream, else writes are paused
    /// and the replicas are asked for ACKs. A shutdown already waiting is joined.
    pub fn prepare_shutdown(&mut self, flags: ShutdownFlags) -> ShutdownStart {
        if self.shutdown_wait.is_some() {
            return ShutdownStart::Waiting;
        }
        tracing::info!("User requested shutdown...");
        // A replica does not wait for its own replicas (Redis does): they can
        // take the stream from its primary again, and while that stream flows
        // they are never all caught up, so Redis waits out `shutdown-timeout`.
        let replica = self.is_replica();
        if flags.now || self.config.shutdown_timeout == 0 || replica || self.replicas_caught_up() {
            return self.finish_shutdown(flags);
        }
        tracing::info!("Waiting for replicas before shutting down.");
        let deadline = Instant::now() + Duration::from_secs(self.config.shutdown_timeout as u64);
        self.shutdown_wait = Some(ShutdownWait { deadline, flags, clients: Vec::new() });
        self.repl_request_acks();
        ShutdownStart::Waiting
    }

    /// A shutdown holds writes while it waits (as `CLIENT PAUSE WRITE`).
    pub(super) fn shutdown_pause(&self) -> Option<Pause> {
        self.shutdown_wait.as_ref().map(|w| Pause { until: w.deadline, all: false })
    }

    /// From the cron: finishes the shutdown once the replicas caught up or the
    /// timeout passed.
    pub fn shutdown_cron(&mut self) {
        let Some(w) = &self.shutdown_wait else { return };
        let timed_out = Instant::now() >= w.deadline;
        if !timed_out && !self.replicas_caught_up() {
            return;
        }
        if timed_out {
            for (id, r) in &self.repl.replicas {
                if r.state == ReplicaState::Online && r.ack_off != self.repl.offset {
                    let addr = self.clients.get(id).map_or("?", |c| c.addr.as_str());
                    tracing::warn!(
                        "Lagging replica {addr} reported offset {} behind master, lag={}, state=online.",
                        self.repl.offset.saturating_sub(r.ack_off),
                        r.ack_time.elapsed().as_secs()
                    );
                }
            }
        }
        let Some(w) = self.shutdown_wait.take() else { return };
        if self.finish_shutdown(w.flags) == ShutdownStart::Failed {
            self.end_shutdown_wait(w.clients);
        }
    }

    /// SHUTDOWN ABORT: false when no shutdown is waiting.
    pub fn abort_shutdown(&mut self) -> bool {
        let Some(w) = self.shutdown_wait.take() else { return false };
        tracing::warn!("Shutdown manually aborted.");
        self.end_shutdown_wait(w.clients);
        true
    }

    /// Adds a client whose SHUTDOWN waits with the one in progress.
    pub fn shutdown_add_waiter(&mut self, id: u64) {
        if let Some(w) = self.shutdown_wait.as_mut() {
            w.clients.push(id);
        }
    }

    /// `id` waits in a SHUTDOWN (which CLIENT UNBLOCK does not end).
    pub fn shutdown_waiter(&self, id: u64) -> bool {
        self.shutdown_wait.as_ref().is_some_and(|w| w.clients.contains(&id))
    }

    /// Writes flow again and the waiting SHUTDOWNs fail.
    fn end_shutdown_wait(&mut self, clients: Vec<u64>) {
        for id in clients {
            self.unblock_with(id, Some(crate::protocol::Reply::Error(SHUTDOWN_FAILED.into())));
        }
        self.events.unpause.notify_waiters();
    }

    /// Every online replica acknowledged the whole stream.
    fn replicas_caught_up(&self) -> bool {
        let offset = self.repl.offset;
        self.repl.replicas.values().all(|r| r.state != ReplicaState::Online || r.ack_off >= offset)
    }

    /// Saves as asked (SAVE, or save points without NOSAVE); unless that fails
    /// without FORCE, the server loop is told to exit.
    fn finish_shutdown(&mut self, flags: ShutdownFlags) -> ShutdownStart {
        // A dataset still loading is not saved over the file it comes from.
        let loading = self.persist.loading.is_some();
        let save = !loading && flags.save.unwrap_or(!self.config.save.is_empty());
        if save && self.shutdown_save().is_err() && !flags.force {
            tracing::warn!("Errors trying to shut down the server. Check the logs for more information.");
            return ShutdownStart::Failed;
        }
        if self.exit_process {
            // Redis exits inside the command too: a client served after the save
            // would get an answer for a write the file lacks.
            tracing::info!("moonkv is now ready to exit, bye bye...");
            std::process::exit(0);
        }
        ShutdownStart::Exiting
    }
}
