//! How script runs reach the replication stream (DESIGN.md "Script propagation").
//!
//! A run's commands record their effects like any command (`engine::propagate`).
//! When the run is over, `repl_script_run` decides what replicas get instead:
//!
//! * **verbatim** — the EVAL itself (EVALSHA when every replica is known to hold
//!   the script, else EVAL with its body), in place of the run's effects. Only
//!   for a run that can be replayed (`RunSummary::replayable`), under
//!   `script-replication verbatim|adaptive`, and only while every attached replica
//!   announced `REPLCONF capa moonkv` (a redis-server replica would run the
//!   script without moonkv's determinism);
//! * **effects** — what the run's commands recorded, preceded by `SCRIPT LOAD
//!   <body>` when the replicas may not hold the script yet, so every replica can
//!   run every script its primary ran (EVALSHA after a promotion).
//!
//! The replication script cache (`Repl::script_cache`, Redis ≤ 6.2's
//! `repl_scriptcache_dict`) is the set of shas whose body reached the stream since
//! the last full sync.

use crate::config::ScriptReplication;
use crate::engine::Engine;
use bytes::Bytes;

/// Bytes of `argv` as a RESP array of bulk strings.
fn encoded_len(argv: &[Bytes]) -> usize {
    fn digits(n: usize) -> usize {
        n.checked_ilog10().unwrap_or(0) as usize + 1
    }
    3 + digits(argv.len()) + argv.iter().map(|a| 5 + digits(a.len()) + a.len()).sum::<usize>()
}

/// `MULTI` and `EXEC` around several effects.
const MULTI_EXEC_LEN: usize = 15 + 14;

/// What script propagation did (INFO stats, moonkv's own fields).
#[derive(Debug, Default, Clone)]
pub struct ScriptPropagationStats {
    /// Runs that wrote and reached the stream as EVAL/EVALSHA.
    pub verbatim_runs: u64,
    /// Runs that wrote and reached the stream as their effects.
    pub effects_runs: u64,
    /// Stream bytes the verbatim runs saved compared with their effects
    /// (negative when a short run's EVALSHA is longer than its one effect).
    pub bytes_saved: i64,
}

/// One finished run, as EVAL* saw it.
pub struct FinishedRun<'a> {
    /// The client's command (EVAL/EVALSHA/EVAL_RO/EVALSHA_RO and its arguments).
    pub argv: &'a [Bytes],
    pub by_sha: bool,
    pub sha: &'a str,
    /// The caller's db (the one the EVAL runs in on a replica).
    pub db: usize,
    /// Where the run's effects start in `Engine::unit_effects`.
    pub effects_from: usize,
    pub replayable: bool,
}

impl Engine {
    /// True when a replayable run may be sent verbatim: replicas are attached
    /// (without any, effects cost nothing but backlog), every one of them runs
    /// scripts as this node does, and no replica that cannot may still continue
    /// from the backlog (a redis-server replica whose link dropped).
    fn repl_replicas_replay_scripts(&self) -> bool {
        !self.repl.replicas.is_empty() && self.repl_no_plain_replicas()
    }

    /// True when no replica that cannot run scripts verbatim is attached or may
    /// still continue from the backlog. A replica announces `capa moonkv` to its
    /// own primary only then.
    pub fn repl_no_plain_replicas(&self) -> bool {
        let plain_may_return = self
            .repl
            .plain_detached_at
            .is_some_and(|at| self.repl.backlog.as_ref().is_some_and(|b| b.first_offset() <= at + 1));
        !plain_may_return && self.repl.replicas.values().all(|r| r.capa_moonkv)
    }

    /// Puts a finished run into its unit: verbatim or effects (see the module
    /// comment). Nothing changes where this node originates no stream.
    pub fn repl_script_run(&mut self, run: FinishedRun) {
        for evicted in std::mem::take(&mut self.scripting.evicted_recent) {
            self.repl.script_cache.remove(&evicted);
        }
        if !self.repl_originates() || !self.propagating {
            return;
        }
        let wrote = self.unit_effects.len() > run.effects_from;
        let known = self.repl.script_cache.contains(run.sha);
        let verbatim = wrote
            && run.replayable
            && self.config.script_replication != ScriptReplication::Effects
            && self.repl_replicas_replay_scripts();
        let Some(body) = (!known).then(|| self.scripting.body(run.sha).cloned()).flatten() else {
            if verbatim {
                // EVALSHA (or EVAL) as the client sent it.
                self.repl_run_verbatim(run.argv.to_vec(), &run, 0);
            } else if wrote {
                self.repl.script_stats.effects_runs += 1;
            }
            return;
        };
        let load = vec![Bytes::from_static(b"SCRIPT"), Bytes::from_static(b"LOAD"), body];
        if verbatim {
            let cmd = if run.by_sha {
                let mut cmd = Vec::with_capacity(run.argv.len());
                cmd.push(Bytes::from_static(b"EVAL"));
                cmd.push(load[2].clone());
                cmd.extend_from_slice(&run.argv[2..]);
                cmd
            } else {
                run.argv.to_vec()
            };
            self.repl_run_verbatim(cmd, &run, encoded_len(&load));
        } else {
            if wrote {
                self.repl.script_stats.effects_runs += 1;
            }
            self.unit_effects.insert(run.effects_from, (run.db, load));
        }
        self.repl.script_cache.insert(run.sha.to_string());
    }

    /// Replaces the run's effects with `cmd`. `load_len`: the SCRIPT LOAD the
    /// effects would have needed.
    fn repl_run_verbatim(&mut self, cmd: Vec<Bytes>, run: &FinishedRun, load_len: usize) {
        let effects = self.unit_effects.split_off(run.effects_from);
        let mut effects_len: usize = load_len + effects.iter().map(|(_, argv)| encoded_len(argv)).sum::<usize>();
        if effects.len() + (load_len > 0) as usize > 1 {
            effects_len += MULTI_EXEC_LEN;
        }
        let stats = &mut self.repl.script_stats;
        stats.verbatim_runs += 1;
        stats.bytes_saved += effects_len as i64 - encoded_len(&cmd) as i64;
        self.unit_effects.push((run.db, cmd));
        self.repl.unit_has_verbatim = true;
    }

    /// A unit was appended to the stream: remember where the last verbatim run
    /// ended, so a replica that cannot run scripts verbatim never continues from
    /// before it (it full-syncs instead).
    pub fn repl_unit_appended(&mut self) {
        if std::mem::take(&mut self.repl.unit_has_verbatim) {
            self.repl.verbatim_end = self.repl.offset;
        }
    }

    /// A full sync starts: replicas' knowledge of scripts is re-learned from here.
    pub fn repl_script_cache_reset(&mut self) {
        self.repl.script_cache.clear();
        self.repl.script_cache_resets += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_is_the_resp_size() {
        let argv: Vec<Bytes> = ["SET", "key:1", &"v".repeat(10)].iter().map(|s| Bytes::from(s.to_string())).collect();
        let mut buf = bytes::BytesMut::new();
        crate::protocol::encode_bulk_array(argv.iter().map(|a| a.as_ref()), &mut buf);
        assert_eq!(encoded_len(&argv), buf.len());
        assert_eq!(MULTI_EXEC_LEN, b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n".len());
    }
}
