//! Counters behind INFO stats, commandstats and errorstats, and the SLOWLOG.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

/// Per-command counters (INFO commandstats).
#[derive(Debug, Default, Clone)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Server-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    /// Full syncs served, partial resyncs accepted and refused (INFO stats).
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Indexed by `CommandSpec::id`.
    pub commands: Vec<CommandStats>,
    pub errors: BTreeMap<String, u64>,
    /// Bytes read from this replica's primary (snapshot and stream).
    pub total_net_repl_input_bytes: u64,
    /// Samples for the instantaneous_* metrics.
    pub samples: VecDeque<Sample>,
}

/// Counters at one instant (the cron samples them for the instantaneous_* rates).
#[derive(Debug, Default, Clone, Copy)]
pub struct Sample {
    pub ms: i64,
    pub commands: u64,
    pub net_in: u64,
    pub net_out: u64,
    pub repl_in: u64,
    pub repl_out: u64,
}

/// Rates over the recent samples (INFO stats `instantaneous_*`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Rates {
    pub ops: u64,
    pub in_kbps: f64,
    pub out_kbps: f64,
    pub repl_in_kbps: f64,
    pub repl_out_kbps: f64,
}

impl Stats {
    /// Records a sample for the instantaneous metrics (called by the cron), with
    /// the bytes written to replicas so far (counted outside the lock).
    pub fn sample(&mut self, now_ms: i64, repl_out: u64) {
        self.samples.push_back(Sample {
            ms: now_ms,
            commands: self.total_commands_processed,
            net_in: self.total_net_input_bytes,
            net_out: self.total_net_output_bytes,
            repl_in: self.total_net_repl_input_bytes,
            repl_out,
        });
        while self.samples.len() > 16 {
            self.samples.pop_front();
        }
    }

    /// The rates over the recent samples.
    pub fn instantaneous(&self) -> Rates {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.ms > a.ms => {
                let dt = (b.ms - a.ms) as f64 / 1000.0;
                let kbps = |x: u64, y: u64| y.saturating_sub(x) as f64 / dt / 1024.0;
                Rates {
                    ops: (b.commands.saturating_sub(a.commands) as f64 / dt) as u64,
                    in_kbps: kbps(a.net_in, b.net_in),
                    out_kbps: kbps(a.net_out, b.net_out),
                    repl_in_kbps: kbps(a.repl_in, b.repl_in),
                    repl_out_kbps: kbps(a.repl_out, b.repl_out),
                }
            }
            _ => Rates::default(),
        }
    }

    /// Counters of the command with table id `id`.
    pub fn command(&mut self, id: usize) -> &mut CommandStats {
        if self.commands.len() <= id {
            self.commands.resize(crate::commands::table::CommandTable::get().rows.max(id + 1), CommandStats::default());
        }
        &mut self.commands[id]
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

/// The slow log: newest first, bounded by `slowlog-max-len`.
#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowlogEntry>,
    pub next_id: u64,
}

/// Most arguments kept per entry, and most bytes per argument (Redis's values).
const SLOWLOG_ENTRY_MAX_ARGC: usize = 32;
const SLOWLOG_ENTRY_MAX_STRING: usize = 128;

impl SlowLog {
    /// Adds an entry, trimming arguments as Redis does.
    pub fn push(&mut self, argv: &[Bytes], duration_us: u64, addr: &str, name: &Bytes, max_len: usize) {
        let mut args = Vec::new();
        let n = argv.len().min(SLOWLOG_ENTRY_MAX_ARGC);
        for (j, a) in argv.iter().take(n).enumerate() {
            if j == n - 1 && n < argv.len() {
                args.push(Bytes::from(format!("... ({} more arguments)", argv.len() - n + 1)));
            } else if a.len() > SLOWLOG_ENTRY_MAX_STRING {
                let mut t = a[..SLOWLOG_ENTRY_MAX_STRING].to_vec();
                t.extend_from_slice(format!("... ({} more bytes)", a.len() - SLOWLOG_ENTRY_MAX_STRING).as_bytes());
                args.push(Bytes::from(t));
            } else {
                args.push(a.clone());
            }
        }
        self.entries.push_front(SlowlogEntry {
            id: self.next_id,
            time: crate::util::now_ms() / 1000,
            duration_us,
            argv: args,
            addr: addr.to_string(),
            name: name.clone(),
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }
}
