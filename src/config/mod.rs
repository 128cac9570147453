//! The configuration subsystem: the typed `Config` the rest of the server reads, the
//! settings table (`table.rs`, one row per redis.conf directive, read by every consumer
//! below), the redis.conf / command-line parser, CONFIG GET, CONFIG SET and CONFIG
//! REWRITE (`rewrite.rs`).
//!
//! Every directive of Redis 7.0 is in the table: either it is a typed field here, or it
//! is *fixed* (accepted only with the one value that describes what moonkv really does,
//! e.g. `appendonly no`), or it is refused with a message saying why. Nothing is
//! silently ignored. This module must not reach into the engine: applying a change
//! (rebinding listeners, resizing the backlog, ...) is the caller's job, it compares
//! the fields before and after CONFIG SET.
//!
//! Layout: `parse.rs` (quoting, units, argv), `table.rs` (rows and their value kinds),
//! `rewrite.rs` (CONFIG REWRITE), this file (types, loading, GET and SET).

mod parse;
mod rewrite;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use table::{Ctx, FieldValue, Setting, Value, SETTINGS};

/// What `Display` of a `ConfigError` names in its banner, in place of "Redis 7.0.15".
const BANNER_VERSION: &str = concat!("moonkv ", env!("CARGO_PKG_VERSION"));

/// Includes may nest; this bound turns an include loop into an error.
const MAX_INCLUDE_DEPTH: usize = 16;

/// A fatal configuration error; its `Display` is the whole message printed before
/// exiting with status 1, in redis-server's layout.
#[derive(Debug)]
pub struct ConfigError {
    /// The full text, starting with a newline like redis-server's banner.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

macro_rules! config_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The accepted names, in Redis's order (its error message lists them so).
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in redis.conf and shown by CONFIG GET.
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }

        impl FieldValue for $name {
            fn to_value(&self) -> Value {
                Value::Enum(*self as usize)
            }
            fn from_value(v: Value) -> Self {
                match v {
                    Value::Enum(i) if i < Self::ALL.len() => Self::ALL[i],
                    _ => Self::ALL[0],
                }
            }
        }
    };
}

config_enum! {
    /// `enable-debug-command`, `enable-protected-configs`: who may use the feature.
    EnableCmd { No = "no", Yes = "yes", Local = "local" }
}

impl EnableCmd {
    /// Whether a client (connected over loopback or a unix socket when `is_local`)
    /// may use the feature.
    pub fn allows(self, client_is_local: bool) -> bool {
        match self {
            EnableCmd::No => false,
            EnableCmd::Yes => true,
            EnableCmd::Local => client_is_local,
        }
    }
}

config_enum! {
    /// `loglevel`.
    LogLevel { Debug = "debug", Verbose = "verbose", Notice = "notice", Warning = "warning" }
}

impl LogLevel {
    /// The `tracing` filter directive with the same verbosity.
    pub fn tracing_filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "trace",
            LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
        }
    }
}

config_enum! {
    /// `maxmemory-policy`.
    MaxmemoryPolicy {
        VolatileLru = "volatile-lru",
        VolatileLfu = "volatile-lfu",
        VolatileRandom = "volatile-random",
        VolatileTtl = "volatile-ttl",
        AllkeysLru = "allkeys-lru",
        AllkeysLfu = "allkeys-lfu",
        AllkeysRandom = "allkeys-random",
        Noeviction = "noeviction",
    }
}

impl MaxmemoryPolicy {
    /// Keys carry LFU counters (instead of an idle clock) under this policy.
    pub fn is_lfu(self) -> bool {
        matches!(self, Self::VolatileLfu | Self::AllkeysLfu)
    }
    /// The policy evicts the least recently used keys.
    pub fn is_lru(self) -> bool {
        matches!(self, Self::VolatileLru | Self::AllkeysLru)
    }
    /// The policy only evicts keys that have an expire.
    pub fn is_volatile(self) -> bool {
        matches!(self, Self::VolatileLru | Self::VolatileLfu | Self::VolatileRandom | Self::VolatileTtl)
    }
}

config_enum! {
    /// `script-replication` (moonkv's own): how scripts reach replicas and the AOF-less
    /// replication stream. See DESIGN.md, "Script propagation".
    ScriptReplication { Verbatim = "verbatim", Effects = "effects", Adaptive = "adaptive" }
}

config_enum! {
    /// `repl-diskless-load`: how a replica loads the payload of a full sync.
    ReplDisklessLoad { Disabled = "disabled", OnEmptyDb = "on-empty-db", Swapdb = "swapdb" }
}

config_enum! {
    /// `propagation-error-behavior`: what a replica does when a command from its
    /// primary fails.
    PropagationErrorBehavior { Ignore = "ignore", Panic = "panic", PanicOnReplicas = "panic-on-replicas", Resync = "resync" }
}

config_enum! {
    /// `sanitize-dump-payload`: deep checks of RESTORE payloads and RDB files.
    SanitizeDumpPayload { No = "no", Yes = "yes", Clients = "clients" }
}

/// One class of `client-output-buffer-limit`: a client whose pending output exceeds
/// `hard`, or stays above `soft` for `soft_seconds`, is disconnected (0 = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit`, one entry per client class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    pub normal: BufferLimit,
    /// Replicas (`replica`, alias `slave`).
    pub replica: BufferLimit,
    pub pubsub: BufferLimit,
}

/// Keyspace notification classes (`notify-keyspace-events`), Redis's bit values.
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// What `A` stands for (not `m` nor `n`).
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The server's configuration. Fields are named after their directive (`-` → `_`,
/// the modern name of aliased ones). Defaults are Redis 7.0's unless noted.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The configuration file given on the command line (absolute), for CONFIG REWRITE.
    pub config_file: Option<PathBuf>,

    // ---- network and clients
    pub port: u16,
    /// Addresses to listen on; `*` is every IPv4 address, `::*` every IPv6 one, a
    /// leading `-` marks an address whose bind failure is tolerated.
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub tcp_backlog: u32,
    /// Seconds between TCP keepalive probes (0 = off).
    pub tcp_keepalive: u64,
    /// Idle client timeout in seconds (0 = never).
    pub timeout: u64,
    pub maxclients: u64,
    /// The default user's password; `None` means no AUTH needed (`requirepass ""`).
    pub requirepass: Option<Vec<u8>>,
    pub enable_debug_command: EnableCmd,
    /// Who may CONFIG SET protected settings (`dir`, `dbfilename`).
    pub enable_protected_configs: EnableCmd,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit: OutputBufferLimits,
    pub tracking_table_max_keys: u64,

    // ---- general
    /// Logical databases (immutable, at least 1).
    pub databases: usize,
    /// Timer frequency, always within 1..=500 (values outside are clamped like Redis).
    pub hz: u32,
    pub dynamic_hz: bool,
    pub loglevel: LogLevel,
    /// Log file; empty means standard output.
    pub logfile: String,
    /// PID file written at startup; empty means none.
    pub pidfile: String,
    pub activerehashing: bool,
    /// Active expiry effort, 1..=10.
    pub active_expire_effort: u32,
    /// Milliseconds after which a running script makes other clients get -BUSY
    /// (`busy-reply-threshold`, alias `lua-time-limit`).
    pub busy_reply_threshold: u64,
    /// Seconds SHUTDOWN waits for replicas to catch up.
    pub shutdown_timeout: u32,
    /// Microseconds; -1 disables the slow log, 0 logs everything.
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    /// Milliseconds; 0 disables the latency monitor.
    pub latency_monitor_threshold: u64,
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
    pub acllog_max_len: u64,
    /// Bit set of `notify::*` classes.
    pub notify_keyspace_events: u32,
    /// moonkv's own: how scripts are propagated (default adaptive).
    pub script_replication: ScriptReplication,
    /// Cap on the Lua VM's memory (`lua-memory-limit`, moonkv only): past it a
    /// script fails with a Lua out-of-memory error and the server keeps serving.
    pub lua_memory_limit: u64,
    /// moonkv's own: a promotion Sentinel asks for (SLAVEOF NO ONE) on a replica
    /// whose link is up first asks the primary for a FAILOVER to it, for up to
    /// this many ms (0: promote at once, as Redis).
    pub promotion_handover_timeout: u32,
    /// `SCRIPT FLUSH` (and FLUSHALL/FLUSHDB) without a mode frees in the background.
    pub lazyfree_lazy_user_flush: bool,
    pub propagation_error_behavior: PropagationErrorBehavior,
    pub sanitize_dump_payload: SanitizeDumpPayload,

    // ---- memory
    /// Bytes; 0 means no limit.
    pub maxmemory: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    pub maxmemory_samples: u32,
    pub maxmemory_eviction_tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,

    // ---- encodings of small values
    /// Alias `hash-max-ziplist-entries`.
    pub hash_max_listpack_entries: u64,
    /// Alias `hash-max-ziplist-value`.
    pub hash_max_listpack_value: u64,
    /// Alias `list-max-ziplist-size`: positive = entries per node, -1..-5 = 4kb..64kb.
    pub list_max_listpack_size: i32,
    pub list_compress_depth: u32,
    pub set_max_intset_entries: u64,
    /// Alias `zset-max-ziplist-entries`.
    pub zset_max_listpack_entries: u64,
    /// Alias `zset-max-ziplist-value`.
    pub zset_max_listpack_value: u64,
    pub hll_sparse_max_bytes: u64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: u64,

    // ---- persistence (RDB snapshots)
    /// Working directory for snapshots, absolute and canonical. moonkv never chdirs.
    pub dir: PathBuf,
    pub dbfilename: String,
    /// Save points (seconds, changes): snapshot when at least `changes` writes
    /// happened within `seconds`. Empty means no automatic snapshots.
    pub save: Vec<(u64, u64)>,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_save_incremental_fsync: bool,
    pub rdb_del_sync_files: bool,
    /// Hidden debug setting: microseconds slept per key while saving (tests use it).
    pub rdb_key_save_delay: i64,
    /// Hidden debug setting: microseconds slept per key while loading.
    pub key_load_delay: i64,
    /// Hidden: while loading, serve events every this many bytes.
    pub loading_process_events_interval_bytes: u64,

    // ---- replication
    /// Primary to replicate from (`replicaof host port`, alias `slaveof`); set at
    /// runtime by the REPLICAOF command, not CONFIG SET.
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<String>,
    /// Alias `slave-read-only`.
    pub replica_read_only: bool,
    /// Alias `slave-serve-stale-data`.
    pub replica_serve_stale_data: bool,
    /// Alias `slave-priority`.
    pub replica_priority: u32,
    pub replica_announced: bool,
    /// Alias `slave-announce-ip`.
    pub replica_announce_ip: Option<String>,
    /// Alias `slave-announce-port` (0 = the real port).
    pub replica_announce_port: u16,
    /// Alias `slave-ignore-maxmemory`.
    pub replica_ignore_maxmemory: bool,
    pub replica_ignore_disk_write_errors: bool,
    pub repl_diskless_sync: bool,
    /// Seconds to wait for more replicas before a diskless full sync starts.
    pub repl_diskless_sync_delay: u32,
    pub repl_diskless_sync_max_replicas: u32,
    pub repl_diskless_load: ReplDisklessLoad,
    pub repl_backlog_size: u64,
    /// Seconds without replicas after which the backlog is freed (0 = never).
    pub repl_backlog_ttl: u64,
    /// Seconds.
    pub repl_timeout: u32,
    /// Seconds (alias `repl-ping-slave-period`).
    pub repl_ping_replica_period: u32,
    pub repl_disable_tcp_nodelay: bool,
    /// Alias `min-slaves-to-write`.
    pub min_replicas_to_write: u32,
    /// Seconds (alias `min-slaves-max-lag`).
    pub min_replicas_max_lag: u32,
}

impl Default for Config {
    fn default() -> Config {
        const MB: u64 = 1024 * 1024;
        Config {
            config_file: None,
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            protected_mode: true,
            tcp_backlog: 511,
            tcp_keepalive: 300,
            timeout: 0,
            maxclients: 10000,
            requirepass: None,
            enable_debug_command: EnableCmd::No,
            enable_protected_configs: EnableCmd::No,
            proto_max_bulk_len: 512 * MB,
            client_query_buffer_limit: 1024 * MB,
            client_output_buffer_limit: OutputBufferLimits {
                normal: BufferLimit { hard: 0, soft: 0, soft_seconds: 0 },
                replica: BufferLimit { hard: 256 * MB, soft: 64 * MB, soft_seconds: 60 },
                pubsub: BufferLimit { hard: 32 * MB, soft: 8 * MB, soft_seconds: 60 },
            },
            tracking_table_max_keys: 1_000_000,
            databases: 16,
            hz: 10,
            dynamic_hz: true,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            pidfile: String::new(),
            activerehashing: true,
            active_expire_effort: 1,
            busy_reply_threshold: 5000,
            shutdown_timeout: 10,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            acllog_max_len: 128,
            notify_keyspace_events: 0,
            script_replication: ScriptReplication::Adaptive,
            lua_memory_limit: 1 << 30,
            promotion_handover_timeout: 1000,
            lazyfree_lazy_user_flush: false,
            propagation_error_behavior: PropagationErrorBehavior::Ignore,
            sanitize_dump_payload: SanitizeDumpPayload::No,
            maxmemory: 0,
            maxmemory_policy: MaxmemoryPolicy::Noeviction,
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            dbfilename: "dump.rdb".into(),
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            rdb_save_incremental_fsync: true,
            rdb_del_sync_files: false,
            rdb_key_save_delay: 0,
            key_load_delay: 0,
            loading_process_events_interval_bytes: 2 * MB,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_read_only: true,
            replica_serve_stale_data: true,
            replica_priority: 100,
            replica_announced: true,
            replica_announce_ip: None,
            replica_announce_port: 0,
            replica_ignore_maxmemory: true,
            replica_ignore_disk_write_errors: false,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: ReplDisklessLoad::Disabled,
            repl_backlog_size: MB,
            repl_backlog_ttl: 3600,
            repl_timeout: 60,
            repl_ping_replica_period: 10,
            repl_disable_tcp_nodelay: false,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
        }
    }
}

// ---------------------------------------------------------------------------------
// Loading: configuration file, includes, command-line options
// ---------------------------------------------------------------------------------

/// Where a line being loaded came from, for error messages.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The main file or the command-line options (which Redis numbers as lines that
    /// follow the file): the message is exactly redis-server's.
    Main,
    /// An included file: the message names it.
    Included(&'a Path),
}

/// State of one load (file, includes and options together).
struct Loader {
    cfg: Config,
    ctx: Ctx,
    depth: usize,
}

/// The fatal error banner for line `line_no` of `source`.
fn load_error(source: Source<'_>, line_no: usize, line: &[u8], reason: &str) -> ConfigError {
    let place = match source {
        Source::Main => format!("at line {line_no}"),
        Source::Included(path) => format!("at line {line_no} of included file '{}'", path.display()),
    };
    ConfigError {
        message: format!(
            "\n*** FATAL CONFIG FILE ERROR ({BANNER_VERSION}) ***\nReading the configuration file, {place}\n>>> '{}'\n{reason}",
            String::from_utf8_lossy(line)
        ),
    }
}

fn cant_open(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError {
        message: format!("Fatal error, can't open config file '{}': {}", path.display(), parse::os_error_text(e)),
    }
}

/// `path` made absolute against the current directory, without resolving links.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    }
}

impl Loader {
    /// Loads every line of `text`; the first line is numbered `first_line`.
    fn load_text(&mut self, text: &[u8], first_line: usize, source: Source<'_>) -> Result<(), ConfigError> {
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = raw.trim_ascii();
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let fail = |reason: &str| load_error(source, first_line + i, line, reason);
            let Some(mut argv) = parse::split_args(line) else {
                return Err(fail("Unbalanced quotes in configuration line"));
            };
            if argv.is_empty() {
                continue;
            }
            argv[0].make_ascii_lowercase();
            self.directive(&argv).map_err(|reason| fail(&reason))?;
        }
        Ok(())
    }

    /// Applies one directive (`argv[0]` lowercase).
    fn directive(&mut self, argv: &[Vec<u8>]) -> Result<(), String> {
        if let Some((setting, _)) = table::lookup(&argv[0]) {
            let multi = setting.flags & table::MULTI_ARG != 0;
            if !multi && argv.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            // `save "900 1 300 10"` is the same as `save 900 1 300 10`.
            let split;
            let args = if multi && argv.len() == 2 && !argv[1].is_empty() {
                split = parse::split_args(&argv[1]).ok_or("Unbalanced quotes in configuration line")?;
                &split[..]
            } else {
                &argv[1..]
            };
            return setting.apply(&mut self.cfg, args, &mut self.ctx);
        }
        let name = String::from_utf8_lossy(&argv[0]);
        match (name.as_ref(), argv.len()) {
            ("include", 2) => self.include(&argv[1]),
            ("rename-command", 3) => Err("moonkv does not support rename-command".into()),
            ("user", n) if n >= 2 => Err("moonkv has no ACL users: protect the default user with requirepass".into()),
            ("loadmodule", n) if n >= 2 => Err("moonkv does not support modules".into()),
            ("sentinel", _) => Err("moonkv is not a sentinel: sentinel directives are not supported".into()),
            ("list-max-ziplist-entries" | "list-max-ziplist-value", 2) => {
                Err(format!("{name} is obsolete (Redis ignores it): use list-max-listpack-size"))
            }
            ("lua-replicate-commands", 2) => {
                Err("lua-replicate-commands is obsolete: use script-replication verbatim|effects|adaptive".into())
            }
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }

    /// `include path`: relative to the current directory like Redis; a glob in the
    /// file name includes every matching file in name order.
    fn include(&mut self, pattern: &[u8]) -> Result<(), String> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!("includes nested more than {MAX_INCLUDE_DEPTH} deep (an include loop?)"));
        }
        let pattern = String::from_utf8_lossy(pattern).into_owned();
        let files = if pattern.contains(['*', '?', '[']) {
            glob_files(Path::new(&pattern))?
        } else {
            vec![PathBuf::from(&pattern)]
        };
        for file in files {
            let text = std::fs::read(&file).map_err(|e| cant_open(&file, &e).message)?;
            self.depth += 1;
            let loaded = self.load_text(&text, 1, Source::Included(&file));
            self.depth -= 1;
            loaded.map_err(|e| e.message)?;
        }
        Ok(())
    }
}

/// Files whose name matches the glob in the last component of `pattern`, sorted.
fn glob_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = match pattern.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if parent.to_string_lossy().contains(['*', '?', '[']) {
        return Err("include: wildcards are supported in the file name only".into());
    }
    let entries = std::fs::read_dir(&parent).map_err(|e| cant_open(pattern, &e).message)?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| crate::util::glob::glob_match(name.as_bytes(), e.file_name().to_string_lossy().as_bytes(), false))
        .map(|e| parent.join(e.file_name()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

// ---------------------------------------------------------------------------------
// Public API: startup, CONFIG GET, CONFIG SET, CONFIG REWRITE
// ---------------------------------------------------------------------------------

impl Config {
    /// `moonkv [config-file] [--directive value ...]`, exactly like redis-server's
    /// argv (`args` excludes argv[0]): directives from the file first, then those
    /// from the arguments, numbered as lines following the file like Redis does.
    /// Reading the configuration from stdin (`-`) is refused.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let argv = parse::split_argv(args).map_err(|message| ConfigError { message })?;
        let mut loader = Loader { cfg: Config::default(), ctx: Ctx::loading(), depth: 0 };
        let mut options_first_line = 2;
        if let Some(file) = &argv.file {
            let path = absolute(Path::new(file));
            let text = std::fs::read(&path).map_err(|e| cant_open(Path::new(file), &e))?;
            loader.cfg.config_file = Some(path);
            loader.load_text(&text, 1, Source::Main)?;
            options_first_line += text.iter().filter(|&&c| c == b'\n').count();
        }
        loader.load_text(argv.options.as_bytes(), options_first_line, Source::Main)?;
        Ok(loader.cfg)
    }

    /// Parses configuration text as if it were a whole file, without a file name.
    /// Handy for tests and for building a config in code.
    pub fn from_text(text: &str) -> Result<Config, ConfigError> {
        let mut loader = Loader { cfg: Config::default(), ctx: Ctx::loading(), depth: 0 };
        loader.load_text(text.as_bytes(), 1, Source::Main)?;
        Ok(loader.cfg)
    }

    /// CONFIG GET for one pattern: every (name, value) whose name or alias matches the
    /// glob, case-insensitively, in table order. A pattern without glob characters is
    /// an exact lookup that also finds hidden settings and answers with the name as
    /// given, like Redis 7.0.
    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
            return match table::lookup(pattern) {
                Some((setting, _)) => vec![(String::from_utf8_lossy(pattern).into_owned(), setting.show(self))],
                None => Vec::new(),
            };
        }
        let mut out = Vec::new();
        for setting in SETTINGS.iter().filter(|s| s.flags & table::HIDDEN == 0) {
            let mut value = None;
            for name in setting.names() {
                if crate::util::glob::glob_match(pattern, name.as_bytes(), true) {
                    let v = value.get_or_insert_with(|| setting.show(self)).clone();
                    out.push((name.to_string(), v));
                }
            }
        }
        out
    }

    /// CONFIG GET with several patterns, each (name, value) once, in first-match order.
    pub fn get_many(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pattern in patterns {
            for (name, value) in self.get(pattern) {
                if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                    out.push((name, value));
                }
            }
        }
        out
    }

    /// CONFIG SET from a client that is not local (so protected settings need
    /// `enable-protected-configs yes`). See `set_from`.
    pub fn set(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        self.set_from(pairs, false)
    }

    /// CONFIG SET name value [name value ...]: all or nothing, with Redis 7.0's
    /// checks and error texts (returned with the "ERR " prefix). `client_is_local`
    /// (loopback or unix socket) matters for `enable-protected-configs local`.
    /// An unknown name wins over every other error; then the first immutable,
    /// protected or duplicate name; then the first value that does not parse.
    pub fn set_from(&mut self, pairs: &[(&[u8], &[u8])], client_is_local: bool) -> Result<(), String> {
        let mut found = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            match table::lookup(name) {
                Some(hit) => found.push(hit),
                None => {
                    return Err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                        String::from_utf8_lossy(name)
                    ))
                }
            }
        }
        let failed =
            |name: &str, why: &str| format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}");
        for (i, ((setting, _), (name, _))) in found.iter().zip(pairs).enumerate() {
            let given = String::from_utf8_lossy(name);
            if setting.flags & table::IMMUTABLE != 0 {
                return Err(failed(&given, "can't set immutable config"));
            }
            if setting.flags & table::PROTECTED != 0 && !self.enable_protected_configs.allows(client_is_local) {
                return Err(failed(&given, "can't set protected config"));
            }
            // Aliases are separate entries in Redis, so only the same spelling clashes.
            if pairs[..i].iter().any(|(earlier, _)| earlier.eq_ignore_ascii_case(name)) {
                return Err(failed(&given, "duplicate parameter"));
            }
        }
        let mut next = self.clone();
        let mut ctx = Ctx::runtime();
        for ((setting, entry_name), (_, value)) in found.iter().zip(pairs) {
            let args: Vec<Vec<u8>> = if setting.flags & table::MULTI_ARG != 0 {
                value.split(|&c| c == b' ').filter(|w| !w.is_empty()).map(|w| w.to_vec()).collect()
            } else {
                vec![value.to_vec()]
            };
            setting.apply(&mut next, &args, &mut ctx).map_err(|why| failed(entry_name, &why))?;
        }
        *self = next;
        Ok(())
    }

    /// CONFIG REWRITE: rewrites `config_file` in place, keeping its comments and order
    /// (see `rewrite.rs` for the rules, which are Redis's).
    pub fn rewrite(&self) -> Result<(), String> {
        match &self.config_file {
            Some(path) => rewrite::rewrite_file(self, path),
            None => Err("ERR The server is running without a config file".into()),
        }
    }

    /// Whether CONFIG SET of `name` carries a secret that must not be shown in the
    /// slow log or MONITOR (`requirepass`, `masterauth`, ...).
    pub fn is_sensitive(name: &[u8]) -> bool {
        table::lookup(name).is_some_and(|(s, _)| s.flags & table::SENSITIVE != 0)
    }

    /// Every setting name and alias, hidden ones included (for CONFIG HELP, tests).
    pub fn names() -> impl Iterator<Item = &'static str> {
        SETTINGS.iter().flat_map(Setting::names)
    }
}
