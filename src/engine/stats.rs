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
    /// Samples for the instantaneous_* metrics: (ms, commands, net in, net out).
    pub samples: VecDeque<(i64, u64, u64, u64)>,
}

impl Stats {
    /// Records a sample for the instantaneous metrics (called by the cron).
    pub fn sample(&mut self, now_ms: i64) {
        self.samples.push_back((
            now_ms,
            self.total_commands_processed,
            self.total_net_input_bytes,
            self.total_net_output_bytes,
        ));
        while self.samples.len() > 16 {
            self.samples.pop_front();
        }
    }

    /// (ops/sec, input kbps, output kbps) over the recent samples.
    pub fn instantaneous(&self) -> (u64, f64, f64) {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let dt = (b.0 - a.0) as f64 / 1000.0;
                (((b.1 - a.1) as f64 / dt) as u64, (b.2 - a.2) as f64 / dt / 1024.0, (b.3 - a.3) as f64 / dt / 1024.0)
            }
            _ => (0, 0.0, 0.0),
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
