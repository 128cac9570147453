//! The settings table: one row per redis.conf directive (name, aliases, flags, value
//! kind with its bounds or names, and where the value lives). File loading, CONFIG
//! GET, CONFIG SET and CONFIG REWRITE all read these rows; none of them knows a
//! setting by name except the few special rows at the end of this file.
//!
//! A row's value lives in one of three places:
//! * a typed `Config` field (`Access::Field`), default from `Config::default()`;
//! * nowhere (`Access::Fixed`): the directive is accepted only with the one value that
//!   states what moonkv really does (e.g. `appendonly no`), anything else is refused
//!   with the row's reason;
//! * a special parser/formatter (`Access::Special`) for the few multi-valued settings.

use super::parse::{format_memory, parse_memory, repr};
use super::{notify, Config};
use crate::util::num::parse_i64;

/// Takes several arguments in redis.conf (one space-separated string in CONFIG SET).
pub(crate) const MULTI_ARG: u8 = 1 << 0;
/// CONFIG SET refuses it ("can't set immutable config").
pub(crate) const IMMUTABLE: u8 = 1 << 1;
/// CONFIG SET needs `enable-protected-configs` ("can't set protected config").
pub(crate) const PROTECTED: u8 = 1 << 2;
/// Not matched by CONFIG GET patterns, only by its exact name.
pub(crate) const HIDDEN: u8 = 1 << 3;
/// Its value is a secret (redacted from the slow log and MONITOR by the caller).
pub(crate) const SENSITIVE: u8 = 1 << 4;
/// CONFIG REWRITE writes it even at its default value (Redis does so for these).
pub(crate) const ALWAYS_REWRITE: u8 = 1 << 5;

/// A parsed value, before it is stored in its field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    /// Integers and memory values; for `MemOrPercent` a negative number is a percent.
    Num(i128),
    /// Index into the kind's names.
    Enum(usize),
    Str(Vec<u8>),
}

/// How a value is written in redis.conf, checked, and shown.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A strict integer within bounds.
    Int { min: i64, max: i64 },
    /// A memory value with optional unit within bounds; REWRITE writes units.
    Mem { min: u64, max: u64 },
    /// A memory value or `N%` (0..=100).
    MemOrPercent,
    /// One of the names, case-insensitive.
    Enum(&'static [&'static str]),
    /// Several of the names (shutdown-on-sig*): `default` alone or a mix of the
    /// others, `save` and `nosave` excluding each other.
    Flags(&'static [&'static str]),
    /// Any bytes.
    Str,
    /// Several words kept as one space-joined string.
    Words,
}

/// Per-load state that some settings need.
pub(crate) struct Ctx {
    /// Reading redis.conf / options (as opposed to CONFIG SET).
    pub loading: bool,
    /// Whether a `save` line already replaced the default save points during this
    /// load: later `save` lines add points, like redis-server.
    pub save_seen: bool,
}

impl Ctx {
    pub(crate) fn loading() -> Ctx {
        Ctx { loading: true, save_seen: false }
    }
    pub(crate) fn runtime() -> Ctx {
        Ctx { loading: false, save_seen: false }
    }
}

/// Parses a special setting's arguments into the configuration.
pub(crate) type SpecialSet = fn(&mut Config, &[Vec<u8>], &mut Ctx) -> Result<(), String>;

/// Parser, CONFIG GET formatter and CONFIG REWRITE lines of a special setting.
pub(crate) struct Special {
    pub set: SpecialSet,
    pub show: fn(&Config) -> String,
    pub lines: fn(&Config) -> Vec<String>,
}

/// Where a row's value lives; see the module documentation.
pub(crate) enum Access {
    Field { kind: Kind, get: fn(&Config) -> Value, set: fn(&mut Config, Value) -> Result<(), String> },
    Fixed { kind: Kind, value: &'static str, why: &'static str },
    Special(Special),
}

/// One row of the table.
pub(crate) struct Setting {
    /// Canonical (modern) name.
    pub name: &'static str,
    /// Old names accepted everywhere and also listed by CONFIG GET (Redis 7.0 does).
    pub aliases: &'static [&'static str],
    pub flags: u8,
    pub access: Access,
}

/// Converts a field to and from `Value`; the row's kind guarantees the variant.
pub(crate) trait FieldValue: Sized {
    fn to_value(&self) -> Value;
    fn from_value(v: Value) -> Self;
}

impl FieldValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(v: Value) -> Self {
        v == Value::Bool(true)
    }
}

macro_rules! int_field_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_value(&self) -> Value {
                Value::Num(*self as i128)
            }
            // The row's bounds keep the number within the field's type.
            fn from_value(v: Value) -> Self {
                match v {
                    Value::Num(n) => n as $t,
                    _ => 0,
                }
            }
        }
    )*};
}
int_field_value!(u16, u32, u64, i32, i64, usize);

impl FieldValue for String {
    fn to_value(&self) -> Value {
        Value::Str(self.as_bytes().to_vec())
    }
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(s) => String::from_utf8_lossy(&s).into_owned(),
            _ => String::new(),
        }
    }
}

/// Empty means unset (`requirepass ""`).
impl FieldValue for Option<Vec<u8>> {
    fn to_value(&self) -> Value {
        Value::Str(self.clone().unwrap_or_default())
    }
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

/// Empty means unset.
impl FieldValue for Option<String> {
    fn to_value(&self) -> Value {
        Value::Str(self.clone().unwrap_or_default().into_bytes())
    }
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(s) if !s.is_empty() => Some(String::from_utf8_lossy(&s).into_owned()),
            _ => None,
        }
    }
}

impl Kind {
    /// Parses the arguments (one, except for `Flags` and `Words`) into a value,
    /// with Redis 7.0's error texts.
    fn parse(self, args: &[Vec<u8>]) -> Result<Value, String> {
        let arg: &[u8] = args.first().map_or(&[], |a| a.as_slice());
        let text = String::from_utf8_lossy(arg);
        match self {
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "yes" => Ok(Value::Bool(true)),
                "no" => Ok(Value::Bool(false)),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let n = parse_i64(arg).ok_or("argument couldn't be parsed into an integer")?;
                check_bounds(n as i128, min as i128, max as i128)
            }
            Kind::Mem { min, max } => {
                let n = parse_memory(arg).ok_or("argument must be a memory value")?;
                check_bounds(n as i128, min as i128, max as i128)
            }
            Kind::MemOrPercent => {
                if let Some(digits) = arg.strip_suffix(b"%") {
                    let pct =
                        parse_i64(digits).filter(|&p| p >= 0).ok_or("argument must be a memory or percent value")?;
                    if pct > 100 {
                        return Err("percentage argument must be less or equal to 100".into());
                    }
                    return Ok(Value::Num(-(pct as i128)));
                }
                let n = parse_memory(arg).ok_or("argument must be a memory or percent value")?;
                Ok(Value::Num(n as i128))
            }
            Kind::Enum(names) => names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(&text))
                .map(Value::Enum)
                .ok_or_else(|| names_error(names)),
            Kind::Flags(names) => {
                let mut set = vec![false; names.len()];
                for word in args.iter().flat_map(|a| a.split(|&c| c == b' ')).filter(|w| !w.is_empty()) {
                    let word = String::from_utf8_lossy(word);
                    let i =
                        names.iter().position(|n| n.eq_ignore_ascii_case(&word)).ok_or_else(|| names_error(names))?;
                    set[i] = true;
                }
                let chosen: Vec<&str> =
                    names.iter().zip(&set).skip(1).filter(|(_, on)| **on).map(|(n, _)| *n).collect();
                if chosen.contains(&"save") && chosen.contains(&"nosave") {
                    return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
                }
                // The first name is the "nothing else" word (`default`).
                Ok(Value::Str(if chosen.is_empty() { names[0].into() } else { chosen.join(" ").into_bytes() }))
            }
            Kind::Str => Ok(Value::Str(arg.to_vec())),
            Kind::Words => Ok(Value::Str(args.join(&b' '))),
        }
    }

    /// The value as CONFIG GET shows it.
    fn show(self, v: &Value) -> String {
        match (self, v) {
            (_, Value::Bool(b)) => yes_no(*b).into(),
            (Kind::MemOrPercent, Value::Num(n)) if *n < 0 => format!("{}%", -n),
            (_, Value::Num(n)) => n.to_string(),
            (Kind::Enum(names), Value::Enum(i)) => names.get(*i).copied().unwrap_or_default().into(),
            (_, Value::Enum(_)) => String::new(),
            (_, Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
        }
    }

    /// The value as CONFIG REWRITE writes it after the name; `None` means "no line"
    /// (an empty string, which is the same as an absent directive).
    fn rewrite_value(self, v: &Value) -> Option<String> {
        match (self, v) {
            (Kind::Mem { .. } | Kind::MemOrPercent, Value::Num(n)) if *n >= 0 => Some(format_memory(*n as u64)),
            (Kind::Str, Value::Str(s)) if s.is_empty() => None,
            (Kind::Str, Value::Str(s)) => Some(repr(s)),
            _ => Some(self.show(v)),
        }
    }
}

fn check_bounds(n: i128, min: i128, max: i128) -> Result<Value, String> {
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(Value::Num(n))
}

fn names_error(names: &[&str]) -> String {
    format!("argument(s) must be one of the following: {}", names.join(", "))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl Setting {
    /// The canonical name followed by the aliases.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Parses `args` and stores the value into `cfg`. Multi-argument settings get
    /// their words (an empty list for `""`), the others exactly one argument.
    pub(crate) fn apply(&self, cfg: &mut Config, args: &[Vec<u8>], ctx: &mut Ctx) -> Result<(), String> {
        let args = if args.len() == 1 && args[0].is_empty() && self.flags & MULTI_ARG != 0 { &[][..] } else { args };
        match &self.access {
            Access::Field { kind, set, .. } => set(cfg, kind.parse(args)?),
            Access::Fixed { kind, value, why } => {
                if kind.show(&kind.parse(args)?) == *value {
                    Ok(())
                } else {
                    let shown = if value.is_empty() { "\"\"" } else { value };
                    Err(format!("{why} ({} must be {shown})", self.name))
                }
            }
            Access::Special(special) => (special.set)(cfg, args, ctx),
        }
    }

    /// The value as CONFIG GET shows it.
    pub(crate) fn show(&self, cfg: &Config) -> String {
        match &self.access {
            Access::Field { kind, get, .. } => kind.show(&get(cfg)),
            Access::Fixed { value, .. } => value.to_string(),
            Access::Special(special) => (special.show)(cfg),
        }
    }

    /// The complete lines CONFIG REWRITE writes for this setting (possibly none).
    pub(crate) fn rewrite_lines(&self, cfg: &Config) -> Vec<String> {
        let with_name = |v: Option<String>| v.map(|v| format!("{} {v}", self.name)).into_iter().collect();
        match &self.access {
            Access::Field { kind, get, .. } => with_name(kind.rewrite_value(&get(cfg))),
            Access::Fixed { kind, value, .. } => {
                let v = match kind {
                    Kind::Str => Value::Str(value.as_bytes().to_vec()),
                    _ => kind.parse(&[value.as_bytes().to_vec()]).unwrap_or(Value::Str(value.as_bytes().to_vec())),
                };
                with_name(kind.rewrite_value(&v))
            }
            Access::Special(special) => (special.lines)(cfg),
        }
    }
}

/// The row named `name` (or one of its aliases), case-insensitively, with the
/// matched entry's lowercase name.
pub(crate) fn lookup(name: &[u8]) -> Option<(&'static Setting, &'static str)> {
    SETTINGS.iter().find_map(|s| s.names().find(|n| n.as_bytes().eq_ignore_ascii_case(name)).map(|n| (s, n)))
}

// ---------------------------------------------------------------------------------
// The rows
// ---------------------------------------------------------------------------------

/// A row stored in `Config::$field`; the optional check maps the parsed field value
/// to the stored one or refuses it.
macro_rules! field {
    ($kind:expr, $f:ident) => {
        Access::Field {
            kind: $kind,
            get: |c| FieldValue::to_value(&c.$f),
            set: |c, v| {
                c.$f = FieldValue::from_value(v);
                Ok(())
            },
        }
    };
    ($kind:expr, $f:ident, $check:expr) => {
        Access::Field {
            kind: $kind,
            get: |c| FieldValue::to_value(&c.$f),
            set: |c, v| {
                c.$f = ($check)(FieldValue::from_value(v))?;
                Ok(())
            },
        }
    };
}

const fn row(name: &'static str, aliases: &'static [&'static str], flags: u8, access: Access) -> Setting {
    Setting { name, aliases, flags, access }
}

const fn fixed(kind: Kind, value: &'static str, why: &'static str) -> Access {
    Access::Fixed { kind, value, why }
}

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const U32: i64 = u32::MAX as i64;
const PORT: Kind = Kind::Int { min: 0, max: 65535 };
const BYTES: Kind = Kind::Mem { min: 0, max: I64 as u64 };
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const NO_AOF: &str = "moonkv has no AOF (append only file)";
const NO_CLUSTER: &str = "moonkv has no cluster mode";
const NO_DEFRAG: &str = "moonkv has no active defragmentation";
const NO_TLS: &str = "moonkv has no TLS";
const NO_LAZYFREE: &str = "moonkv frees values synchronously";
const NO_CPULIST: &str = "moonkv does not pin its threads to CPUs";
const NO_SYSLOG: &str = "moonkv does not log to syslog";
const NO_PROCTITLE: &str = "moonkv does not change its process title";
const NO_UNIXSOCKET: &str = "moonkv does not listen on a unix socket";
const NO_IOTHREADS: &str = "moonkv has no Redis-style I/O threads (its async runtime serves connections)";
const NO_OOMSCORE: &str = "moonkv does not change its OOM score";
const NO_ACL: &str = "moonkv has no ACL users";
const NO_CRASHLOG: &str = "moonkv writes no crash report";

const ENABLE: &[&str] = super::EnableCmd::NAMES;
const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];

/// Every directive of Redis 7.0's redis.conf, plus moonkv's own. Order is the order
/// of CONFIG GET * and of the lines CONFIG REWRITE appends.
pub(crate) static SETTINGS: &[Setting] = &[
    // ---- network and clients
    row("port", &[], 0, field!(PORT, port)),
    row("bind", &[], MULTI_ARG, Access::Special(Special { set: set_bind, show: show_bind, lines: bind_lines })),
    row("protected-mode", &[], 0, field!(Kind::Bool, protected_mode)),
    row("tcp-backlog", &[], IMMUTABLE, field!(int(0, I32), tcp_backlog)),
    row("tcp-keepalive", &[], 0, field!(int(0, I32), tcp_keepalive)),
    row("timeout", &[], 0, field!(int(0, I32), timeout)),
    row("maxclients", &[], 0, field!(int(1, U32), maxclients)),
    row("requirepass", &[], SENSITIVE, field!(Kind::Str, requirepass)),
    row("enable-debug-command", &[], IMMUTABLE, field!(Kind::Enum(ENABLE), enable_debug_command)),
    row("enable-protected-configs", &[], IMMUTABLE, field!(Kind::Enum(ENABLE), enable_protected_configs)),
    row("proto-max-bulk-len", &[], 0, field!(Kind::Mem { min: 1024 * 1024, max: I64 as u64 }, proto_max_bulk_len)),
    row(
        "client-query-buffer-limit",
        &[],
        0,
        field!(Kind::Mem { min: 1024 * 1024, max: I64 as u64 }, client_query_buffer_limit),
    ),
    row(
        "client-output-buffer-limit",
        &[],
        MULTI_ARG,
        Access::Special(Special { set: set_output_limits, show: show_output_limits, lines: output_limits_lines }),
    ),
    row("tracking-table-max-keys", &[], 0, field!(int(0, I64), tracking_table_max_keys)),
    // ---- general
    row("databases", &[], IMMUTABLE, field!(int(1, I32), databases)),
    row("hz", &[], 0, field!(int(0, I32), hz, |hz: u32| -> Result<u32, String> { Ok(hz.clamp(1, 500)) })),
    row("dynamic-hz", &[], 0, field!(Kind::Bool, dynamic_hz)),
    row("loglevel", &[], 0, field!(Kind::Enum(super::LogLevel::NAMES), loglevel)),
    row("logfile", &[], IMMUTABLE, field!(Kind::Str, logfile)),
    row("pidfile", &[], IMMUTABLE, field!(Kind::Str, pidfile)),
    row("activerehashing", &[], 0, field!(Kind::Bool, activerehashing)),
    row("active-expire-effort", &[], 0, field!(int(1, 10), active_expire_effort)),
    row("busy-reply-threshold", &["lua-time-limit"], 0, field!(int(0, I64), busy_reply_threshold)),
    row("shutdown-timeout", &[], 0, field!(int(0, I32), shutdown_timeout)),
    row("slowlog-log-slower-than", &[], 0, field!(int(-1, I64), slowlog_log_slower_than)),
    row("slowlog-max-len", &[], 0, field!(int(0, I64), slowlog_max_len)),
    row("latency-monitor-threshold", &[], 0, field!(int(0, I64), latency_monitor_threshold)),
    row("latency-tracking", &[], 0, field!(Kind::Bool, latency_tracking)),
    row(
        "latency-tracking-info-percentiles",
        &[],
        MULTI_ARG,
        Access::Special(Special { set: set_percentiles, show: show_percentiles, lines: percentiles_lines }),
    ),
    row("acllog-max-len", &[], 0, field!(int(0, I64), acllog_max_len)),
    row(
        "notify-keyspace-events",
        &[],
        0,
        Access::Special(Special { set: set_notify, show: show_notify, lines: notify_lines }),
    ),
    row("script-replication", &[], 0, field!(Kind::Enum(super::ScriptReplication::NAMES), script_replication)),
    row("lua-memory-limit", &[], 0, field!(Kind::Mem { min: 1 << 20, max: u64::MAX }, lua_memory_limit)),
    row("promotion-handover-timeout", &[], 0, field!(int(0, I32), promotion_handover_timeout)),
    row(
        "propagation-error-behavior",
        &[],
        0,
        field!(Kind::Enum(super::PropagationErrorBehavior::NAMES), propagation_error_behavior),
    ),
    row("sanitize-dump-payload", &[], 0, field!(Kind::Enum(super::SanitizeDumpPayload::NAMES), sanitize_dump_payload)),
    // ---- memory
    row("maxmemory", &[], 0, field!(Kind::Mem { min: 0, max: u64::MAX }, maxmemory)),
    row("maxmemory-policy", &[], 0, field!(Kind::Enum(super::MaxmemoryPolicy::NAMES), maxmemory_policy)),
    row("maxmemory-samples", &[], 0, field!(int(1, I32), maxmemory_samples)),
    row("maxmemory-eviction-tenacity", &[], 0, field!(int(0, 100), maxmemory_eviction_tenacity)),
    row("lfu-log-factor", &[], 0, field!(int(0, I32), lfu_log_factor)),
    row("lfu-decay-time", &[], 0, field!(int(0, I32), lfu_decay_time)),
    // ---- encodings of small values
    row("hash-max-listpack-entries", &["hash-max-ziplist-entries"], 0, field!(int(0, I64), hash_max_listpack_entries)),
    row("hash-max-listpack-value", &["hash-max-ziplist-value"], 0, field!(BYTES, hash_max_listpack_value)),
    row(
        "list-max-listpack-size",
        &["list-max-ziplist-size"],
        0,
        field!(int(i32::MIN as i64, I32), list_max_listpack_size),
    ),
    row("list-compress-depth", &[], 0, field!(int(0, I32), list_compress_depth)),
    row("set-max-intset-entries", &[], 0, field!(int(0, I64), set_max_intset_entries)),
    row("zset-max-listpack-entries", &["zset-max-ziplist-entries"], 0, field!(int(0, I64), zset_max_listpack_entries)),
    row("zset-max-listpack-value", &["zset-max-ziplist-value"], 0, field!(BYTES, zset_max_listpack_value)),
    row("hll-sparse-max-bytes", &[], 0, field!(BYTES, hll_sparse_max_bytes)),
    row("stream-node-max-bytes", &[], 0, field!(BYTES, stream_node_max_bytes)),
    row("stream-node-max-entries", &[], 0, field!(int(0, I64), stream_node_max_entries)),
    // ---- persistence
    row(
        "save",
        &[],
        MULTI_ARG | ALWAYS_REWRITE,
        Access::Special(Special { set: set_save, show: show_save, lines: save_lines }),
    ),
    row(
        "dir",
        &[],
        PROTECTED | ALWAYS_REWRITE,
        Access::Special(Special { set: set_dir, show: show_dir, lines: dir_lines }),
    ),
    row("dbfilename", &[], PROTECTED, field!(Kind::Str, dbfilename, check_dbfilename)),
    row("rdbcompression", &[], 0, field!(Kind::Bool, rdbcompression)),
    row("rdbchecksum", &[], IMMUTABLE, field!(Kind::Bool, rdbchecksum)),
    row("stop-writes-on-bgsave-error", &[], 0, field!(Kind::Bool, stop_writes_on_bgsave_error)),
    row("rdb-save-incremental-fsync", &[], 0, field!(Kind::Bool, rdb_save_incremental_fsync)),
    row("rdb-del-sync-files", &[], 0, field!(Kind::Bool, rdb_del_sync_files)),
    row("rdb-key-save-delay", &[], HIDDEN, field!(int(i32::MIN as i64, I32), rdb_key_save_delay)),
    row("key-load-delay", &[], HIDDEN, field!(int(i32::MIN as i64, I32), key_load_delay)),
    row(
        "loading-process-events-interval-bytes",
        &[],
        HIDDEN,
        field!(int(1024, I32), loading_process_events_interval_bytes),
    ),
    // ---- replication
    row(
        "replicaof",
        &["slaveof"],
        MULTI_ARG | IMMUTABLE,
        Access::Special(Special { set: set_replicaof, show: show_replicaof, lines: replicaof_lines }),
    ),
    row("masterauth", &[], SENSITIVE, field!(Kind::Str, masterauth)),
    row("masteruser", &[], 0, field!(Kind::Str, masteruser)),
    row("replica-read-only", &["slave-read-only"], 0, field!(Kind::Bool, replica_read_only)),
    row("replica-serve-stale-data", &["slave-serve-stale-data"], 0, field!(Kind::Bool, replica_serve_stale_data)),
    row("replica-priority", &["slave-priority"], 0, field!(int(0, I32), replica_priority)),
    row("replica-announced", &[], 0, field!(Kind::Bool, replica_announced)),
    row("replica-announce-ip", &["slave-announce-ip"], 0, field!(Kind::Str, replica_announce_ip)),
    row("replica-announce-port", &["slave-announce-port"], 0, field!(PORT, replica_announce_port)),
    row("replica-ignore-maxmemory", &["slave-ignore-maxmemory"], 0, field!(Kind::Bool, replica_ignore_maxmemory)),
    row("replica-ignore-disk-write-errors", &[], 0, field!(Kind::Bool, replica_ignore_disk_write_errors)),
    row("repl-diskless-sync", &[], 0, field!(Kind::Bool, repl_diskless_sync)),
    row("repl-diskless-sync-delay", &[], 0, field!(int(0, I32), repl_diskless_sync_delay)),
    row("repl-diskless-sync-max-replicas", &[], 0, field!(int(0, I32), repl_diskless_sync_max_replicas)),
    row("repl-diskless-load", &[], 0, field!(Kind::Enum(super::ReplDisklessLoad::NAMES), repl_diskless_load)),
    row("repl-backlog-size", &[], 0, field!(Kind::Mem { min: 1, max: I64 as u64 }, repl_backlog_size)),
    row("repl-backlog-ttl", &[], 0, field!(int(0, I64), repl_backlog_ttl)),
    row("repl-timeout", &[], 0, field!(int(1, I32), repl_timeout)),
    row("repl-ping-replica-period", &["repl-ping-slave-period"], 0, field!(int(1, I32), repl_ping_replica_period)),
    row("repl-disable-tcp-nodelay", &[], 0, field!(Kind::Bool, repl_disable_tcp_nodelay)),
    row("min-replicas-to-write", &["min-slaves-to-write"], 0, field!(int(0, I32), min_replicas_to_write)),
    row("min-replicas-max-lag", &["min-slaves-max-lag"], 0, field!(int(0, I32), min_replicas_max_lag)),
    // ---- accepted only with the value that describes moonkv
    row(
        "daemonize",
        &[],
        IMMUTABLE,
        fixed(Kind::Bool, "no", "moonkv does not daemonize: run it in the foreground under a supervisor"),
    ),
    row(
        "supervised",
        &[],
        IMMUTABLE,
        fixed(Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no", "moonkv does not talk to a supervisor"),
    ),
    row("always-show-logo", &[], IMMUTABLE, fixed(Kind::Bool, "no", "moonkv has no ASCII-art logo")),
    row("set-proc-title", &[], IMMUTABLE, fixed(Kind::Bool, "no", NO_PROCTITLE)),
    row("proc-title-template", &[], 0, fixed(Kind::Str, "{title} {listen-addr} {server-mode}", NO_PROCTITLE)),
    row("syslog-enabled", &[], IMMUTABLE, fixed(Kind::Bool, "no", NO_SYSLOG)),
    row("syslog-ident", &[], IMMUTABLE, fixed(Kind::Str, "redis", NO_SYSLOG)),
    row(
        "syslog-facility",
        &[],
        IMMUTABLE,
        fixed(
            Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]),
            "local0",
            NO_SYSLOG,
        ),
    ),
    row("crash-log-enabled", &[], 0, fixed(Kind::Bool, "no", NO_CRASHLOG)),
    row("crash-memcheck-enabled", &[], 0, fixed(Kind::Bool, "no", NO_CRASHLOG)),
    row(
        "disable-thp",
        &[],
        IMMUTABLE,
        fixed(Kind::Bool, "no", "moonkv does not change transparent huge pages settings"),
    ),
    row("jemalloc-bg-thread", &[], 0, fixed(Kind::Bool, "no", "moonkv does not start jemalloc background threads")),
    row("ignore-warnings", &[], 0, fixed(Kind::Str, "", "moonkv has no startup warnings to silence")),
    row("enable-module-command", &[], IMMUTABLE, fixed(Kind::Enum(ENABLE), "no", "moonkv has no modules")),
    row(
        "shutdown-on-sigint",
        &[],
        MULTI_ARG,
        fixed(Kind::Flags(SHUTDOWN_FLAGS), "default", "moonkv handles SIGINT like SHUTDOWN without arguments"),
    ),
    row(
        "shutdown-on-sigterm",
        &[],
        MULTI_ARG,
        fixed(Kind::Flags(SHUTDOWN_FLAGS), "default", "moonkv handles SIGTERM like SHUTDOWN without arguments"),
    ),
    row("socket-mark-id", &[], IMMUTABLE, fixed(int(0, U32), "0", "moonkv does not mark its sockets")),
    row(
        "bind-source-addr",
        &[],
        0,
        fixed(Kind::Str, "", "moonkv does not choose the source address of its outgoing connections"),
    ),
    row("unixsocket", &[], IMMUTABLE, fixed(Kind::Str, "", NO_UNIXSOCKET)),
    row("unixsocketperm", &[], IMMUTABLE, fixed(Kind::Str, "0", NO_UNIXSOCKET)),
    row("io-threads", &[], IMMUTABLE, fixed(int(1, 128), "1", NO_IOTHREADS)),
    row("io-threads-do-reads", &[], IMMUTABLE, fixed(Kind::Bool, "no", NO_IOTHREADS)),
    row("server_cpulist", &[], IMMUTABLE, fixed(Kind::Str, "", NO_CPULIST)),
    row("bio_cpulist", &[], IMMUTABLE, fixed(Kind::Str, "", NO_CPULIST)),
    row("aof_rewrite_cpulist", &[], IMMUTABLE, fixed(Kind::Str, "", NO_CPULIST)),
    row("bgsave_cpulist", &[], IMMUTABLE, fixed(Kind::Str, "", NO_CPULIST)),
    row("oom-score-adj", &[], 0, fixed(Kind::Enum(&["no", "yes", "relative", "absolute"]), "no", NO_OOMSCORE)),
    row("oom-score-adj-values", &[], MULTI_ARG, fixed(Kind::Words, "0 200 800", NO_OOMSCORE)),
    row("maxmemory-clients", &[], 0, fixed(Kind::MemOrPercent, "0", "moonkv does not evict clients")),
    row("aclfile", &[], IMMUTABLE, fixed(Kind::Str, "", NO_ACL)),
    row("acl-pubsub-default", &[], 0, fixed(Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels", NO_ACL)),
    row("lazyfree-lazy-eviction", &[], 0, fixed(Kind::Bool, "no", NO_LAZYFREE)),
    row("lazyfree-lazy-expire", &[], 0, fixed(Kind::Bool, "no", NO_LAZYFREE)),
    row("lazyfree-lazy-server-del", &[], 0, fixed(Kind::Bool, "no", NO_LAZYFREE)),
    row("lazyfree-lazy-user-del", &[], 0, fixed(Kind::Bool, "no", NO_LAZYFREE)),
    row("lazyfree-lazy-user-flush", &[], 0, field!(Kind::Bool, lazyfree_lazy_user_flush)),
    row("replica-lazy-flush", &["slave-lazy-flush"], 0, fixed(Kind::Bool, "no", NO_LAZYFREE)),
    row("activedefrag", &[], 0, fixed(Kind::Bool, "no", NO_DEFRAG)),
    row("active-defrag-cycle-min", &[], 0, fixed(int(1, 99), "1", NO_DEFRAG)),
    row("active-defrag-cycle-max", &[], 0, fixed(int(1, 99), "25", NO_DEFRAG)),
    row("active-defrag-ignore-bytes", &[], 0, fixed(Kind::Mem { min: 1, max: I64 as u64 }, "104857600", NO_DEFRAG)),
    row("active-defrag-max-scan-fields", &[], 0, fixed(int(1, I64), "1000", NO_DEFRAG)),
    row("active-defrag-threshold-lower", &[], 0, fixed(int(0, 1000), "10", NO_DEFRAG)),
    row("active-defrag-threshold-upper", &[], 0, fixed(int(0, 1000), "100", NO_DEFRAG)),
    row("appendonly", &[], 0, fixed(Kind::Bool, "no", NO_AOF)),
    row("appendfilename", &[], IMMUTABLE, fixed(Kind::Str, "appendonly.aof", NO_AOF)),
    row("appenddirname", &[], IMMUTABLE, fixed(Kind::Str, "appendonlydir", NO_AOF)),
    row("appendfsync", &[], 0, fixed(Kind::Enum(&["everysec", "always", "no"]), "everysec", NO_AOF)),
    row("no-appendfsync-on-rewrite", &[], 0, fixed(Kind::Bool, "no", NO_AOF)),
    row("auto-aof-rewrite-percentage", &[], 0, fixed(int(0, I32), "100", NO_AOF)),
    row("auto-aof-rewrite-min-size", &[], 0, fixed(BYTES, "67108864", NO_AOF)),
    row("aof-load-truncated", &[], 0, fixed(Kind::Bool, "yes", NO_AOF)),
    row("aof-use-rdb-preamble", &[], 0, fixed(Kind::Bool, "yes", NO_AOF)),
    row("aof-timestamp-enabled", &[], 0, fixed(Kind::Bool, "no", NO_AOF)),
    row("aof-rewrite-incremental-fsync", &[], 0, fixed(Kind::Bool, "yes", NO_AOF)),
    row("aof-disable-auto-gc", &[], 0, fixed(Kind::Bool, "no", NO_AOF)),
    row("cluster-enabled", &[], IMMUTABLE, fixed(Kind::Bool, "no", NO_CLUSTER)),
    row("cluster-config-file", &[], IMMUTABLE, fixed(Kind::Str, "nodes.conf", NO_CLUSTER)),
    row("cluster-port", &[], IMMUTABLE, fixed(PORT, "0", NO_CLUSTER)),
    row("cluster-node-timeout", &[], 0, fixed(int(0, I64), "15000", NO_CLUSTER)),
    row("cluster-announce-ip", &[], 0, fixed(Kind::Str, "", NO_CLUSTER)),
    row("cluster-announce-hostname", &[], 0, fixed(Kind::Str, "", NO_CLUSTER)),
    row("cluster-announce-port", &[], 0, fixed(PORT, "0", NO_CLUSTER)),
    row("cluster-announce-bus-port", &[], 0, fixed(PORT, "0", NO_CLUSTER)),
    row("cluster-announce-tls-port", &[], 0, fixed(PORT, "0", NO_CLUSTER)),
    row("cluster-link-sendbuf-limit", &[], 0, fixed(Kind::Mem { min: 0, max: u64::MAX }, "0", NO_CLUSTER)),
    row("cluster-migration-barrier", &[], 0, fixed(int(0, I32), "1", NO_CLUSTER)),
    row("cluster-replica-validity-factor", &["cluster-slave-validity-factor"], 0, fixed(int(0, I32), "10", NO_CLUSTER)),
    row("cluster-replica-no-failover", &["cluster-slave-no-failover"], 0, fixed(Kind::Bool, "no", NO_CLUSTER)),
    row("cluster-allow-replica-migration", &[], 0, fixed(Kind::Bool, "yes", NO_CLUSTER)),
    row("cluster-require-full-coverage", &[], 0, fixed(Kind::Bool, "yes", NO_CLUSTER)),
    row("cluster-allow-reads-when-down", &[], 0, fixed(Kind::Bool, "no", NO_CLUSTER)),
    row("cluster-allow-pubsubshard-when-down", &[], 0, fixed(Kind::Bool, "yes", NO_CLUSTER)),
    row(
        "cluster-preferred-endpoint-type",
        &[],
        0,
        fixed(Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", NO_CLUSTER),
    ),
    row("tls-port", &[], 0, fixed(PORT, "0", NO_TLS)),
    row("tls-cluster", &[], 0, fixed(Kind::Bool, "no", NO_TLS)),
    row("tls-replication", &[], 0, fixed(Kind::Bool, "no", NO_TLS)),
    row("tls-auth-clients", &[], 0, fixed(Kind::Enum(&["no", "yes", "optional"]), "yes", NO_TLS)),
    row("tls-prefer-server-ciphers", &[], 0, fixed(Kind::Bool, "no", NO_TLS)),
    row("tls-session-caching", &[], 0, fixed(Kind::Bool, "yes", NO_TLS)),
    row("tls-session-cache-size", &[], 0, fixed(int(0, I32), "20480", NO_TLS)),
    row("tls-session-cache-timeout", &[], 0, fixed(int(0, I32), "300", NO_TLS)),
    row("tls-cert-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-key-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-key-file-pass", &[], SENSITIVE, fixed(Kind::Str, "", NO_TLS)),
    row("tls-client-cert-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-client-key-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-client-key-file-pass", &[], SENSITIVE, fixed(Kind::Str, "", NO_TLS)),
    row("tls-dh-params-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-ca-cert-file", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-ca-cert-dir", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-protocols", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-ciphers", &[], 0, fixed(Kind::Str, "", NO_TLS)),
    row("tls-ciphersuites", &[], 0, fixed(Kind::Str, "", NO_TLS)),
];

// ---------------------------------------------------------------------------------
// Special rows
// ---------------------------------------------------------------------------------

fn check_dbfilename(name: String) -> Result<String, String> {
    if name.contains('/') {
        return Err("dbfilename can't be a path, just a filename".into());
    }
    Ok(name)
}

/// `save [seconds changes ...]` / `save ""`. In redis.conf the first `save` line
/// replaces the default points and later lines add to them; CONFIG SET replaces.
fn set_save(c: &mut Config, args: &[Vec<u8>], ctx: &mut Ctx) -> Result<(), String> {
    const INVALID: &str = "Invalid save parameters";
    if !args.len().is_multiple_of(2) {
        return Err(INVALID.into());
    }
    let mut points = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let seconds = parse_i64(&pair[0]).filter(|&s| s >= 1).ok_or(INVALID)?;
        let changes = parse_i64(&pair[1]).filter(|&n| n >= 0).ok_or(INVALID)?;
        points.push((seconds as u64, changes as u64));
    }
    // `save ""` always clears; in redis.conf later lines add to earlier ones.
    if args.is_empty() || !ctx.loading || !ctx.save_seen {
        c.save.clear();
    }
    ctx.save_seen = true;
    c.save.extend(points);
    Ok(())
}

fn show_save(c: &Config) -> String {
    c.save.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(" ")
}

fn save_lines(c: &Config) -> Vec<String> {
    if c.save.is_empty() {
        return vec!["save \"\"".into()];
    }
    c.save.iter().map(|(s, n)| format!("save {s} {n}")).collect()
}

/// Redis refuses more bind addresses than this.
const MAX_BIND_ADDRS: usize = 16;

fn set_bind(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    if args.len() > MAX_BIND_ADDRS {
        return Err("Too many bind addresses specified.".into());
    }
    c.bind = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    Ok(())
}

fn show_bind(c: &Config) -> String {
    c.bind.join(" ")
}

fn bind_lines(c: &Config) -> Vec<String> {
    if c.bind.is_empty() {
        return vec!["bind \"\"".into()];
    }
    vec![format!("bind {}", c.bind.join(" "))]
}

/// `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]`: checks
/// every class_limits before changing any class.
fn set_output_limits(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut parsed = Vec::with_capacity(args.len() / 4);
    for class_limits in args.chunks(4) {
        let class = String::from_utf8_lossy(&class_limits[0]).to_ascii_lowercase();
        if !matches!(class.as_str(), "normal" | "replica" | "slave" | "pubsub") {
            return Err("Invalid client class specified in buffer limit configuration.".into());
        }
        let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(&class_limits[1]).ok_or(bad)?;
        let soft = parse_memory(&class_limits[2]).ok_or(bad)?;
        let soft_seconds = parse_i64(&class_limits[3]).filter(|&s| s >= 0).ok_or(bad)? as u64;
        parsed.push((class, super::BufferLimit { hard, soft, soft_seconds }));
    }
    for (class, limit) in parsed {
        let l = &mut c.client_output_buffer_limit;
        match class.as_str() {
            "normal" => l.normal = limit,
            "pubsub" => l.pubsub = limit,
            _ => l.replica = limit,
        }
    }
    Ok(())
}

fn output_limit_classes(c: &Config) -> [(&'static str, super::BufferLimit); 3] {
    let l = &c.client_output_buffer_limit;
    // CONFIG GET says "slave" like Redis 7.0; both names parse.
    [("normal", l.normal), ("slave", l.replica), ("pubsub", l.pubsub)]
}

fn show_output_limits(c: &Config) -> String {
    let classes = output_limit_classes(c);
    let parts: Vec<String> =
        classes.iter().map(|(n, l)| format!("{n} {} {} {}", l.hard, l.soft, l.soft_seconds)).collect();
    parts.join(" ")
}

fn output_limits_lines(c: &Config) -> Vec<String> {
    output_limit_classes(c)
        .iter()
        .map(|(n, l)| {
            let class = if *n == "slave" { "replica" } else { n };
            format!(
                "client-output-buffer-limit {class} {} {} {}",
                format_memory(l.hard),
                format_memory(l.soft),
                l.soft_seconds
            )
        })
        .collect()
}

/// The class characters of `notify-keyspace-events` and their bits (`A` is handled
/// apart: it is an alias for several classes).
const NOTIFY_CHARS: &[(u8, u32)] = &[
    (b'g', notify::GENERIC),
    (b'$', notify::STRING),
    (b'l', notify::LIST),
    (b's', notify::SET),
    (b'h', notify::HASH),
    (b'z', notify::ZSET),
    (b'x', notify::EXPIRED),
    (b'e', notify::EVICTED),
    (b't', notify::STREAM),
    (b'd', notify::MODULE),
    (b'n', notify::NEW),
];

fn set_notify(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    let mut flags = 0;
    for &ch in args.first().map_or(&[][..], |a| a.as_slice()) {
        flags |= match ch {
            b'A' => notify::ALL,
            b'K' => notify::KEYSPACE,
            b'E' => notify::KEYEVENT,
            b'm' => notify::KEY_MISS,
            _ => match NOTIFY_CHARS.iter().find(|(c, _)| *c == ch) {
                Some((_, bit)) => *bit,
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
        };
    }
    c.notify_keyspace_events = flags;
    Ok(())
}

fn show_notify(c: &Config) -> String {
    let flags = c.notify_keyspace_events;
    let mut out = String::new();
    if flags & notify::ALL == notify::ALL {
        out.push('A');
    }
    for (ch, bit) in NOTIFY_CHARS {
        // Classes inside `A` are already said by it; `n` is outside `A`.
        if flags & bit != 0 && (flags & notify::ALL != notify::ALL || bit & notify::ALL == 0) {
            out.push(*ch as char);
        }
    }
    for (ch, bit) in [('K', notify::KEYSPACE), ('E', notify::KEYEVENT), ('m', notify::KEY_MISS)] {
        if flags & bit != 0 {
            out.push(ch);
        }
    }
    out
}

fn notify_lines(c: &Config) -> Vec<String> {
    vec![format!("notify-keyspace-events {}", repr(show_notify(c).as_bytes()))]
}

/// `replicaof <host> <port>` or `replicaof no one`.
fn set_replicaof(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    if args.len() != 2 {
        return Err("wrong number of arguments".into());
    }
    if args[0].eq_ignore_ascii_case(b"no") && args[1].eq_ignore_ascii_case(b"one") {
        c.replicaof = None;
        return Ok(());
    }
    let port = parse_i64(&args[1]).filter(|p| (0..=65535).contains(p)).ok_or("Invalid master port")?;
    c.replicaof = Some((String::from_utf8_lossy(&args[0]).into_owned(), port as u16));
    Ok(())
}

fn show_replicaof(c: &Config) -> String {
    c.replicaof.as_ref().map(|(h, p)| format!("{h} {p}")).unwrap_or_default()
}

fn replicaof_lines(c: &Config) -> Vec<String> {
    c.replicaof.iter().map(|(h, p)| format!("replicaof {h} {p}")).collect()
}

/// `dir <path>`: must be an existing directory; stored absolute and canonical
/// (redis-server chdirs into it; moonkv never changes its working directory).
fn set_dir(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    let arg = args.first().map_or(&[][..], |a| a.as_slice());
    let text = String::from_utf8_lossy(arg);
    let path = std::path::Path::new(text.as_ref());
    let dir = std::fs::canonicalize(path).map_err(|e| super::parse::os_error_text(&e))?;
    if !dir.is_dir() {
        return Err("Not a directory".into());
    }
    c.dir = dir;
    Ok(())
}

fn show_dir(c: &Config) -> String {
    c.dir.display().to_string()
}

fn dir_lines(c: &Config) -> Vec<String> {
    vec![format!("dir {}", repr(c.dir.to_string_lossy().as_bytes()))]
}

fn set_percentiles(c: &mut Config, args: &[Vec<u8>], _: &mut Ctx) -> Result<(), String> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let p: f64 = std::str::from_utf8(a)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|p: &f64| p.is_finite())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
        }
        out.push(p);
    }
    c.latency_tracking_info_percentiles = out;
    Ok(())
}

fn show_percentiles(c: &Config) -> String {
    let parts: Vec<String> = c.latency_tracking_info_percentiles.iter().map(|p| p.to_string()).collect();
    parts.join(" ")
}

fn percentiles_lines(c: &Config) -> Vec<String> {
    let shown = show_percentiles(c);
    vec![format!("latency-tracking-info-percentiles {}", if shown.is_empty() { "\"\"".into() } else { shown })]
}
