//! Server commands: INFO, CONFIG, COMMAND, TIME, SLOWLOG, MEMORY, MONITOR, SHUTDOWN,
//! DEBUG. INFO's field names and order follow Redis 7.0; every value is measured.

use super::args::{parse_float, parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::keys::help_reply;
use super::table::{cmd, CommandSpec, CommandTable};
use crate::db::keyspace::{value_digest, Entry};
use crate::db::Value;
use crate::engine::shutdown::{ShutdownFlags, ShutdownStart, SHUTDOWN_FAILED};
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;
use std::fmt::Write as _;

/// Table rows of the server family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("info", -1, "loading stale", "@slow @dangerous", (0, 0, 0), "", "nondeterministic_output request_policy:all_shards response_policy:special", Some(info)),
        cmd("config", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("config|get", -3, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(config_get)),
            cmd("config|help", 2, "loading stale", "@slow", (0, 0, 0), "", "", Some(config_help)),
            cmd("config|resetstat", 2, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(config_resetstat)),
            cmd("config|rewrite", 2, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(config_rewrite)),
            cmd("config|set", -4, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "request_policy:all_nodes response_policy:all_succeeded", Some(config_set)),
        ]),
        cmd("command", -1, "loading stale", "@slow @connection", (0, 0, 0), "", "nondeterministic_output_order", Some(command)).with_subcommands(vec![
            cmd("command|count", 2, "loading stale", "@slow @connection", (0, 0, 0), "", "", Some(command_count)),
            cmd("command|docs", -2, "loading stale", "@slow @connection", (0, 0, 0), "", "nondeterministic_output_order", Some(command_docs)),
            cmd("command|getkeys", -4, "loading stale", "@slow @connection", (0, 0, 0), "", "", Some(command_getkeys)),
            cmd("command|help", 2, "loading stale", "@slow @connection", (0, 0, 0), "", "", Some(command_help)),
            cmd("command|info", -2, "loading stale", "@slow @connection", (0, 0, 0), "", "nondeterministic_output_order", Some(command_info)),
            cmd("command|list", -2, "loading stale", "@slow @connection", (0, 0, 0), "", "nondeterministic_output_order", Some(command_list)),
        ]),
        cmd("time", 1, "loading stale fast", "@fast", (0, 0, 0), "", "nondeterministic_output", Some(time)),
        cmd("slowlog", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("slowlog|get", -2, "admin loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "request_policy:all_nodes nondeterministic_output", Some(slowlog_get)),
            cmd("slowlog|help", 2, "loading stale", "@slow", (0, 0, 0), "", "", Some(slowlog_help)),
            cmd("slowlog|len", 2, "admin loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "request_policy:all_nodes response_policy:agg_sum nondeterministic_output", Some(slowlog_len)),
            cmd("slowlog|reset", 2, "admin loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "request_policy:all_nodes response_policy:all_succeeded", Some(slowlog_reset)),
        ]),
        cmd("memory", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("memory|help", 2, "loading stale", "@slow", (0, 0, 0), "", "", Some(memory_help)),
            cmd("memory|stats", 2, "", "@slow", (0, 0, 0), "", "nondeterministic_output request_policy:all_shards response_policy:special", Some(memory_stats)),
            cmd("memory|usage", -3, "readonly", "@read @slow", (2, 2, 1), "RO|i2|r0,1,0", "", Some(memory_usage)),
        ]),
        cmd("monitor", 1, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(monitor)),
        cmd("shutdown", -1, "admin noscript loading stale no_multi allow_busy", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(shutdown)),
        cmd("debug", -2, "admin noscript loading stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(debug)),
        cmd("save", 1, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(save)),
        cmd("bgsave", -1, "admin noscript no_async_loading", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(bgsave)),
        cmd("lastsave", 1, "loading stale fast", "@admin @fast @dangerous", (0, 0, 0), "", "nondeterministic_output", Some(lastsave)),
    ]
}

// ---------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------

/// Memory figures from the allocator and the kernel.
pub struct MemoryFigures {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
}

/// Reads jemalloc's statistics (after advancing its epoch) and the process RSS.
/// Bytes allocated right now (jemalloc `stats.allocated`).
pub fn allocated_now() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    stats::allocated::read().unwrap_or(0) as u64
}

pub fn memory_figures() -> MemoryFigures {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    let active = stats::active::read().unwrap_or(0) as u64;
    let resident = stats::resident::read().unwrap_or(0) as u64;
    MemoryFigures { allocated, active, resident, rss: process_rss() }
}

fn process_rss() -> u64 {
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * page)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Memory held by client connections: buffers plus per-client state.
fn clients_memory(eng: &crate::engine::Engine, me: &crate::engine::Client) -> u64 {
    let one = |c: &crate::engine::Client| (c.qbuf + c.qbuf_free + c.omem + std::mem::size_of_val(c)) as u64;
    eng.clients.values().map(one).sum::<u64>() + one(me)
}

/// Memory that is not the dataset itself: the dictionaries' bucket arrays, the
/// clients, and what was allocated at start-up.
fn memory_overhead(eng: &crate::engine::Engine, me: &crate::engine::Client) -> u64 {
    let buckets: usize = eng.dbs.iter().map(|d| d.keys.buckets() + d.expires.buckets()).sum();
    eng.mem_startup + (buckets * std::mem::size_of::<usize>()) as u64 + clients_memory(eng, me)
}

/// Bytes in Redis's human format (`1.50M`).
pub fn bytes_human(n: u64) -> String {
    let n = n as f64;
    let units = [(1u64 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, suffix) in units {
        if n >= size as f64 {
            return format!("{:.2}{}", n / size as f64, suffix);
        }
    }
    format!("{}B", n as u64)
}

/// `sysname release machine` from uname(2), as Redis prints in INFO server.
fn os_name() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the zeroed struct we own; its fields are NUL-terminated.
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {} {}", field(&u.sysname), field(&u.release), field(&u.machine))
}

fn cpu_times() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the zeroed struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

/// INFO sections in output order, and whether plain `INFO` (or `default`) prints them;
/// `all` and `everything` print every one.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// INFO [section [section ...]]
pub fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut wanted: Vec<String> = Vec::new();
    let defaults = || SECTIONS.iter().filter(|(_, d)| *d).map(|(n, _)| n.to_string());
    for a in &argv[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"default" => wanted.extend(defaults()),
            b"all" | b"everything" => wanted.extend(SECTIONS.iter().map(|(n, _)| n.to_string())),
            other => wanted.push(String::from_utf8_lossy(other).into_owned()),
        }
    }
    if argv.len() == 1 {
        wanted.extend(defaults());
    }
    let mut out = String::new();
    for (name, _) in SECTIONS {
        if !wanted.iter().any(|w| w == name) {
            continue;
        }
        let body = info_section(ctx, name);
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str(&body);
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// One INFO section, header included.
pub fn info_section(ctx: &mut Ctx, name: &str) -> String {
    let eng = &*ctx.eng;
    let mut s = String::new();
    macro_rules! f {
        ($($arg:tt)*) => {{ let _ = write!(s, $($arg)*); s.push_str("\r\n"); }};
    }
    match name {
        "server" => {
            f!("# Server");
            f!("redis_version:{}", crate::REDIS_VERSION);
            f!("redis_git_sha1:00000000");
            f!("redis_git_dirty:0");
            f!("redis_build_id:0");
            f!("redis_mode:standalone");
            f!("os:{}", os_name());
            f!("arch_bits:64");
            f!("monotonic_clock:POSIX clock_gettime");
            f!("multiplexing_api:epoll");
            f!("atomicvar_api:c11-builtin");
            f!("gcc_version:0.0.0");
            f!("process_id:{}", std::process::id());
            f!("process_supervised:no");
            f!("run_id:{}", eng.run_id);
            f!("tcp_port:{}", eng.tcp_port);
            f!("server_time_usec:{}", crate::util::now_us());
            let up = eng.started.elapsed().as_secs();
            f!("uptime_in_seconds:{}", up);
            f!("uptime_in_days:{}", up / 86400);
            f!("hz:{}", eng.config.hz);
            f!("configured_hz:{}", eng.config.hz);
            f!("lru_clock:{}", crate::engine::Engine::lru_clock());
            f!("executable:{}", eng.executable);
            f!("config_file:{}", eng.config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            f!("io_threads_active:0");
            f!("moonkv_version:{}", env!("CARGO_PKG_VERSION"));
        }
        "clients" => {
            f!("# Clients");
            f!("connected_clients:{}", eng.clients.len() + 1);
            f!("cluster_connections:0");
            f!("maxclients:{}", eng.config.maxclients);
            let max_in = eng.clients.values().map(|c| c.qbuf).chain([ctx.client.qbuf]).max().unwrap_or(0);
            let max_out = eng.clients.values().map(|c| c.omem).chain([ctx.client.omem]).max().unwrap_or(0);
            f!("client_recent_max_input_buffer:{}", max_in);
            f!("client_recent_max_output_buffer:{}", max_out);
            f!("blocked_clients:{}", eng.clients.values().filter(|c| c.blocked.is_some()).count());
            f!("tracking_clients:0");
            f!("clients_in_timeout_table:0");
        }
        "memory" => {
            let m = memory_figures();
            let peak = m.allocated.max(eng.mem_peak);
            let startup = eng.mem_startup.min(m.allocated);
            let overhead = memory_overhead(eng, ctx.client).max(startup).min(m.allocated);
            let dataset = m.allocated - overhead;
            let pct = |a: u64, b: u64| if b > 0 { a as f64 * 100.0 / b as f64 } else { 0.0 };
            let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            let sys = total_system_memory();
            f!("# Memory");
            f!("used_memory:{}", m.allocated);
            f!("used_memory_human:{}", bytes_human(m.allocated));
            f!("used_memory_rss:{}", m.rss);
            f!("used_memory_rss_human:{}", bytes_human(m.rss));
            f!("used_memory_peak:{}", peak);
            f!("used_memory_peak_human:{}", bytes_human(peak));
            f!("used_memory_peak_perc:{:.2}%", pct(m.allocated, peak));
            f!("used_memory_overhead:{}", overhead);
            f!("used_memory_startup:{}", startup);
            f!("used_memory_dataset:{}", dataset);
            f!("used_memory_dataset_perc:{:.2}%", pct(dataset, m.allocated - startup));
            f!("allocator_allocated:{}", m.allocated);
            f!("allocator_active:{}", m.active);
            f!("allocator_resident:{}", m.resident);
            f!("total_system_memory:{}", sys);
            f!("total_system_memory_human:{}", bytes_human(sys));
            // The EVAL VM's bytes come from its allocator (exact, and part of
            // used_memory as in Redis 7.4); there is no FUNCTION VM.
            let lua = eng.scripting.vm_memory() as u64;
            let scripts = eng.scripting.cache_memory() as u64;
            f!("used_memory_lua:{lua}");
            f!("used_memory_vm_eval:{lua}");
            f!("used_memory_lua_human:{}", bytes_human(lua));
            f!("used_memory_scripts_eval:{scripts}");
            f!("number_of_cached_scripts:{}", eng.scripting.len());
            f!("number_of_functions:0");
            f!("number_of_libraries:0");
            f!("used_memory_vm_functions:0");
            f!("used_memory_vm_total:{lua}");
            f!("used_memory_vm_total_human:{}", bytes_human(lua));
            f!("used_memory_functions:0");
            f!("used_memory_scripts:{scripts}");
            f!("used_memory_scripts_human:{}", bytes_human(scripts));
            f!("maxmemory:{}", eng.config.maxmemory);
            f!("maxmemory_human:{}", bytes_human(eng.config.maxmemory));
            f!("maxmemory_policy:{}", eng.config.maxmemory_policy.name());
            f!("allocator_frag_ratio:{:.2}", ratio(m.active, m.allocated));
            f!("allocator_frag_bytes:{}", m.active as i64 - m.allocated as i64);
            f!("allocator_rss_ratio:{:.2}", ratio(m.resident, m.active));
            f!("allocator_rss_bytes:{}", m.resident as i64 - m.active as i64);
            f!("rss_overhead_ratio:{:.2}", ratio(m.rss, m.resident));
            f!("rss_overhead_bytes:{}", m.rss as i64 - m.resident as i64);
            f!("mem_fragmentation_ratio:{:.2}", ratio(m.rss, m.allocated));
            f!("mem_fragmentation_bytes:{}", m.rss as i64 - m.allocated as i64);
            f!("mem_not_counted_for_evict:0");
            f!("mem_replication_backlog:{}", eng.repl.backlog.as_ref().map_or(0, |b| b.histlen()));
            // Stream blocks are shared by the backlog and the replicas' queues.
            let replica_pending: Vec<u64> = eng
                .repl
                .replicas
                .keys()
                .filter_map(|id| eng.clients.get(id))
                .map(|c| c.handle.pending.load(std::sync::atomic::Ordering::Relaxed) as u64)
                .collect();
            let backlog = eng.repl.backlog.as_ref().map_or(0, |b| b.histlen() as u64);
            let most_pending = replica_pending.iter().copied().max().unwrap_or(0);
            f!("mem_total_replication_buffers:{}", backlog.max(most_pending));
            f!("mem_clients_slaves:{}", replica_pending.iter().sum::<u64>());
            f!("mem_clients_normal:{}", clients_memory(eng, ctx.client));
            f!("mem_cluster_links:0");
            f!("mem_aof_buffer:0");
            f!("mem_allocator:jemalloc-5.3.0");
            f!("active_defrag_running:0");
            f!("lazyfree_pending_objects:0");
            f!("lazyfreed_objects:0");
        }
        "persistence" => {
            let p = &eng.persist;
            f!("# Persistence");
            f!("loading:{}", p.loading.is_some() as u8);
            f!("async_loading:0");
            if let Some(l) = &p.loading {
                let done = l.loaded_bytes.load(std::sync::atomic::Ordering::Relaxed);
                let perc = if l.total_bytes > 0 { done as f64 * 100.0 / l.total_bytes as f64 } else { 0.0 };
                let elapsed = l.started.elapsed().as_secs_f64();
                let eta = if done > 0 {
                    ((l.total_bytes.saturating_sub(done)) as f64 * elapsed / done as f64) as u64
                } else {
                    1
                };
                f!("loading_start_time:{}", l.started_unix);
                f!("loading_total_bytes:{}", l.total_bytes);
                f!("loading_rdb_used_mem:0");
                f!("loading_loaded_bytes:{done}");
                f!("loading_loaded_perc:{perc:.2}");
                f!("loading_eta_seconds:{eta}");
            }
            f!("current_cow_peak:0");
            f!("current_cow_size:0");
            f!("current_cow_size_age:0");
            f!("current_fork_perc:0.00");
            let (done, total) = p
                .bgsave
                .as_ref()
                .map_or((0, 0), |b| (b.keys_done.load(std::sync::atomic::Ordering::Relaxed), b.keys_total));
            f!("current_save_keys_processed:{done}");
            f!("current_save_keys_total:{total}");
            f!("rdb_changes_since_last_save:{}", eng.dirty);
            f!("rdb_bgsave_in_progress:{}", eng.bgsave_in_progress() as u8);
            f!("rdb_last_save_time:{}", p.last_save);
            f!("rdb_last_bgsave_status:{}", if p.last_bgsave_ok { "ok" } else { "err" });
            f!("rdb_last_bgsave_time_sec:{}", p.last_bgsave_secs);
            f!(
                "rdb_current_bgsave_time_sec:{}",
                p.bgsave.as_ref().map_or(-1, |b| b.started.elapsed().as_secs() as i64)
            );
            f!("rdb_saves:{}", p.saves);
            f!("rdb_last_cow_size:0");
            f!("rdb_last_load_keys_expired:{}", p.last_load_keys_expired);
            f!("rdb_last_load_keys_loaded:{}", p.last_load_keys_loaded);
            f!("aof_enabled:0");
            f!("aof_rewrite_in_progress:0");
            f!("aof_rewrite_scheduled:0");
            f!("aof_last_rewrite_time_sec:-1");
            f!("aof_current_rewrite_time_sec:-1");
            f!("aof_last_bgrewrite_status:ok");
            f!("aof_rewrites:0");
            f!("aof_rewrites_consecutive_failures:0");
            f!("aof_last_write_status:ok");
            f!("aof_last_cow_size:0");
            f!("module_fork_in_progress:0");
            f!("module_fork_last_cow_size:0");
        }
        "stats" => {
            let st = &eng.stats;
            let rates = st.instantaneous();
            let repl_out = eng.events.repl_output_bytes.load(std::sync::atomic::Ordering::Relaxed);
            f!("# Stats");
            f!("total_connections_received:{}", st.total_connections_received);
            f!("total_commands_processed:{}", st.total_commands_processed);
            f!("instantaneous_ops_per_sec:{}", rates.ops);
            f!("total_net_input_bytes:{}", st.total_net_input_bytes);
            f!("total_net_output_bytes:{}", st.total_net_output_bytes);
            f!("total_net_repl_input_bytes:{}", st.total_net_repl_input_bytes);
            f!("total_net_repl_output_bytes:{}", repl_out);
            f!("instantaneous_input_kbps:{:.2}", rates.in_kbps);
            f!("instantaneous_output_kbps:{:.2}", rates.out_kbps);
            f!("instantaneous_input_repl_kbps:{:.2}", rates.repl_in_kbps);
            f!("instantaneous_output_repl_kbps:{:.2}", rates.repl_out_kbps);
            f!("rejected_connections:{}", st.rejected_connections);
            f!("sync_full:{}", st.sync_full);
            f!("sync_partial_ok:{}", st.sync_partial_ok);
            f!("sync_partial_err:{}", st.sync_partial_err);
            f!("expired_keys:{}", st.expired_keys);
            f!("expired_stale_perc:{:.2}", st.expired_stale_perc * 100.0);
            f!("expired_time_cap_reached_count:{}", st.expired_time_cap_reached_count);
            f!("expire_cycle_cpu_milliseconds:{}", st.expire_cycle_cpu_milliseconds);
            f!("evicted_keys:{}", st.evicted_keys);
            f!("evicted_clients:0");
            f!("evicted_scripts:{}", eng.scripting.evicted);
            // moonkv's own: the replication script cache (DESIGN.md "Script propagation").
            f!("repl_script_cache_size:{}", eng.repl.script_cache.len());
            f!("repl_script_cache_resets:{}", eng.repl.script_cache_resets);
            // How script runs that wrote reached the stream, and the bytes the
            // verbatim ones saved compared with their effects.
            let scripts = &eng.repl.script_stats;
            f!("repl_script_runs_verbatim:{}", scripts.verbatim_runs);
            f!("repl_script_runs_effects:{}", scripts.effects_runs);
            f!("repl_script_bytes_saved:{}", scripts.bytes_saved);
            f!("total_eviction_exceeded_time:0");
            f!("current_eviction_exceeded_time:0");
            f!("keyspace_hits:{}", st.keyspace_hits);
            f!("keyspace_misses:{}", st.keyspace_misses);
            f!("pubsub_channels:{}", eng.pubsub.channels.len());
            f!("pubsub_patterns:{}", eng.pubsub.patterns.len());
            f!("pubsubshard_channels:0");
            f!("latest_fork_usec:0");
            f!("total_forks:0");
            f!("migrate_cached_sockets:0");
            f!("slave_expires_tracked_keys:0");
            f!("active_defrag_hits:0");
            f!("active_defrag_misses:0");
            f!("active_defrag_key_hits:0");
            f!("active_defrag_key_misses:0");
            f!("total_active_defrag_time:0");
            f!("current_active_defrag_time:0");
            f!("tracking_total_keys:0");
            f!("tracking_total_items:0");
            f!("tracking_total_prefixes:0");
            f!("unexpected_error_replies:{}", st.unexpected_error_replies);
            f!("total_error_replies:{}", st.total_error_replies);
            f!("dump_payload_sanitizations:0");
            f!("total_reads_processed:{}", st.total_reads_processed);
            f!("total_writes_processed:{}", st.total_writes_processed);
            f!("io_threaded_reads_processed:0");
            f!("io_threaded_writes_processed:0");
            f!("reply_buffer_shrinks:0");
            f!("reply_buffer_expands:0");
        }
        "replication" => s.push_str(&super::replication::info_replication(eng)),
        "cpu" => {
            let (sys, user) = cpu_times();
            f!("# CPU");
            f!("used_cpu_sys:{:.6}", sys);
            f!("used_cpu_user:{:.6}", user);
            f!("used_cpu_sys_children:0.000000");
            f!("used_cpu_user_children:0.000000");
            f!("used_cpu_sys_main_thread:{:.6}", sys);
            f!("used_cpu_user_main_thread:{:.6}", user);
        }
        "modules" => {
            f!("# Modules");
        }
        "commandstats" => {
            f!("# Commandstats");
            for spec in CommandTable::get().all() {
                let Some(c) = eng.stats.commands.get(spec.id).filter(|c| c.calls + c.rejected_calls > 0) else {
                    continue;
                };
                let name = spec.name;
                let per = if c.calls > 0 { c.usec as f64 / c.calls as f64 } else { 0.0 };
                f!(
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                    name,
                    c.calls,
                    c.usec,
                    per,
                    c.rejected_calls,
                    c.failed_calls
                );
            }
        }
        "errorstats" => {
            f!("# Errorstats");
            for (code, n) in &eng.stats.errors {
                f!("errorstat_{}:count={}", code, n);
            }
        }
        "latencystats" => {
            f!("# Latencystats");
        }
        "cluster" => {
            f!("# Cluster");
            f!("cluster_enabled:0");
        }
        "keyspace" => {
            f!("# Keyspace");
            for (i, db) in eng.dbs.iter().enumerate() {
                if !db.is_empty() {
                    f!("db{}:keys={},expires={},avg_ttl={}", i, db.len(), db.expires.len(), db.avg_ttl);
                }
            }
        }
        _ => {}
    }
    s
}

// ---------------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------------

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for pat in &argv[2..] {
        for (k, v) in ctx.eng.config.get(pat) {
            if seen.insert(k.clone()) {
                out.push((Reply::bulk(k), Reply::bulk(v)));
            }
        }
    }
    Ok(Reply::Map(out))
}

/// CONFIG SET parameter value [parameter value ...]
pub fn config_set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = argv[2..].chunks(2).map(|p| (p[0].as_ref(), p[1].as_ref())).collect();
    let local = client_is_local(ctx);
    ctx.eng.config.set_from(&pairs, local).map_err(CommandError::Coded)?;
    // Settings that live outside the config struct follow it.
    ctx.eng.used_memory_sample = allocated_now();
    let limit = ctx.eng.config.lua_memory_limit;
    ctx.eng.scripting.set_memory_limit(limit);
    let backlog_size = ctx.eng.config.repl_backlog_size as usize;
    if let Some(backlog) = ctx.eng.repl.backlog.as_mut() {
        backlog.resize(backlog_size);
    }
    Ok(Reply::ok())
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.eng.stats.reset();
    ctx.eng.events.repl_output_bytes.store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.eng.scripting.evicted = 0;
    Ok(Reply::ok())
}

/// CONFIG REWRITE
pub fn config_rewrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.eng.config.rewrite().map_err(CommandError::Coded)?;
    Ok(Reply::ok())
}

/// CONFIG HELP
pub fn config_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}

// ---------------------------------------------------------------------------------
// COMMAND
// ---------------------------------------------------------------------------------

/// COMMAND
pub fn command(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(CommandTable::get().commands.iter().map(|c| c.info_reply()).collect()))
}

/// COMMAND COUNT
pub fn command_count(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(CommandTable::get().commands.len() as i64))
}

/// Looks up `name` or `parent|sub`.
fn lookup_full(name: &[u8]) -> Option<&'static CommandSpec> {
    let t = CommandTable::get();
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((parent, sub)) => t.lookup(parent.as_bytes())?.subcommand(sub.as_bytes()),
        None => t.lookup(name),
    }
}

/// COMMAND INFO [command-name [command-name ...]]
pub fn command_info(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return command(_ctx, argv);
    }
    Ok(Reply::Array(argv[2..].iter().map(|n| lookup_full(n).map(|c| c.info_reply()).unwrap_or(Reply::Nil)).collect()))
}

/// The documentation group of a command, from its ACL categories.
fn doc_group(c: &CommandSpec) -> &'static str {
    let cats = &c.acl_categories;
    let has = |x: &str| cats.contains(&x);
    if has("@string") {
        "string"
    } else if has("@bitmap") {
        "bitmap"
    } else if has("@keyspace") && !has("@connection") {
        "generic"
    } else if has("@connection") {
        "connection"
    } else {
        "server"
    }
}

/// COMMAND DOCS [command-name [command-name ...]]
///
/// moonkv keeps no prose documentation; each entry carries the command's group.
pub fn command_docs(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = CommandTable::get();
    let entry =
        |c: &CommandSpec| (Reply::bulk(c.name), Reply::Map(vec![(Reply::bulk("group"), Reply::bulk(doc_group(c)))]));
    let out = if argv.len() == 2 {
        t.commands.iter().map(entry).collect()
    } else {
        argv[2..].iter().filter_map(|n| lookup_full(n)).map(entry).collect()
    };
    Ok(Reply::Map(out))
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
pub fn command_list(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = CommandTable::get();
    let names = t.all().map(|c| c.name);
    let filtered: Vec<&str> = match argv.len() {
        2 => names.collect(),
        5 if argv[2].eq_ignore_ascii_case(b"FILTERBY") => {
            let val = &argv[4];
            match argv[3].to_ascii_lowercase().as_slice() {
                b"module" => vec![],
                b"aclcat" => {
                    let cat = format!("@{}", String::from_utf8_lossy(val).to_ascii_lowercase());
                    t.all().filter(|c| c.acl_categories.iter().any(|a| *a == cat)).map(|c| c.name).collect()
                }
                b"pattern" => names.filter(|n| glob_match(val, n.as_bytes(), true)).collect(),
                _ => return Err(CommandError::Syntax),
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    Ok(Reply::Array(filtered.into_iter().map(Reply::bulk).collect()))
}

/// COMMAND GETKEYS command [arg [arg ...]]
pub fn command_getkeys(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = &argv[2..];
    let spec = CommandTable::get().resolve(args).ok_or_else(|| CommandError::err("Invalid command specified"))?;
    if !spec.arity_ok(args.len()) {
        return Err(CommandError::err("Invalid number of arguments specified for command"));
    }
    let keys = spec.key_positions(args);
    if keys.is_empty() {
        return Err(CommandError::err("The command has no key arguments"));
    }
    Ok(Reply::Array(keys.into_iter().map(|i| Reply::Bulk(args[i].clone())).collect()))
}

/// COMMAND HELP
pub fn command_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
        ],
    ))
}

// ---------------------------------------------------------------------------------
// TIME, SLOWLOG, MEMORY, MONITOR, SHUTDOWN
// ---------------------------------------------------------------------------------

/// TIME
pub fn time(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let us = crate::util::now_us();
    Ok(Reply::Array(vec![Reply::bulk((us / 1_000_000).to_string()), Reply::bulk((us % 1_000_000).to_string())]))
}

/// SLOWLOG GET [count]
pub fn slowlog_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut count = 10i64;
    if argv.len() == 3 {
        count = parse_int(&argv[2]).map_err(|_| CommandError::err("count should be greater than or equal to -1"))?;
        if count < -1 {
            return Err(CommandError::err("count should be greater than or equal to -1"));
        }
    } else if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let n = if count == -1 { usize::MAX } else { count as usize };
    let out = ctx
        .eng
        .slowlog
        .entries
        .iter()
        .take(n)
        .map(|e| {
            Reply::Array(vec![
                Reply::Int(e.id as i64),
                Reply::Int(e.time),
                Reply::Int(e.duration_us as i64),
                Reply::Array(e.argv.iter().cloned().map(Reply::Bulk).collect()),
                Reply::bulk(e.addr.clone()),
                Reply::Bulk(e.name.clone()),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

/// SLOWLOG LEN
pub fn slowlog_len(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.eng.slowlog.entries.len() as i64))
}

/// SLOWLOG RESET
pub fn slowlog_reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.eng.slowlog.entries.clear();
    Ok(Reply::ok())
}

/// SLOWLOG HELP
pub fn slowlog_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}

/// Estimated bytes used by one key (MEMORY USAGE): the entry node, the key and
/// value allocations, and a share of the bucket array.
pub fn entry_memory(key: &[u8], e: &Entry, has_expire: bool) -> usize {
    let node = 24 + std::mem::size_of::<Entry>() + 8;
    let key_heap = if key.len() > 22 { key.len() } else { 0 };
    let expire = if has_expire { 24 + 8 + 8 + 8 } else { 0 };
    node + key_heap + e.val.heap_size() + 8 + expire
}

/// MEMORY USAGE key [SAMPLES count]
pub fn memory_usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut a = Args::at(argv, 3);
    while let Some(opt) = a.next_opt() {
        if opt.eq_ignore_ascii_case(b"SAMPLES") && a.remaining() > 0 {
            let n = a.next_i64()?;
            if n < 0 {
                return Err(CommandError::Syntax);
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let key = &argv[2];
    if ctx.expire_if_needed(key) {
        return Ok(Reply::Nil);
    }
    let has_expire = ctx.db().get_expire(key).is_some();
    Ok(match ctx.db().keys.get(key) {
        None => Reply::Nil,
        Some(e) => Reply::Int(entry_memory(key, e, has_expire) as i64),
    })
}

/// MEMORY STATS
pub fn memory_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let m = memory_figures();
    let keys = ctx.eng.total_keys() as u64;
    let s = |t: &str| Reply::bulk(Bytes::copy_from_slice(t.as_bytes()));
    let mut out = vec![
        (s("peak.allocated"), Reply::Int(m.allocated.max(ctx.eng.mem_peak) as i64)),
        (s("total.allocated"), Reply::Int(m.allocated as i64)),
        (s("keys.count"), Reply::Int(keys as i64)),
        (s("keys.bytes-per-key"), Reply::Int(m.allocated.checked_div(keys).unwrap_or(0) as i64)),
        (s("allocator.allocated"), Reply::Int(m.allocated as i64)),
        (s("allocator.active"), Reply::Int(m.active as i64)),
        (s("allocator.resident"), Reply::Int(m.resident as i64)),
        (s("rss"), Reply::Int(m.rss as i64)),
    ];
    for (i, db) in ctx.eng.dbs.iter().enumerate() {
        if !db.is_empty() {
            out.push((
                s(&format!("db.{}", i)),
                Reply::Map(vec![
                    (s("overhead.hashtable.main"), Reply::Int((db.keys.buckets() * 8) as i64)),
                    (s("overhead.hashtable.expires"), Reply::Int((db.expires.buckets() * 8) as i64)),
                ]),
            ));
        }
    }
    Ok(Reply::Map(out))
}

/// MEMORY HELP
pub fn memory_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "MEMORY",
        &[
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    ))
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if !ctx.client.flags.monitor {
        ctx.client.flags.monitor = true;
        ctx.eng.monitors.push(ctx.client.id);
    }
    Ok(Reply::ok())
}

/// SAVE
pub fn save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.eng.save_now().map_err(CommandError::Coded)?;
    Ok(Reply::ok())
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if argv.len() == 2 && a.eq_ignore_ascii_case(b"schedule") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if ctx.eng.bgsave_in_progress() {
        if schedule {
            ctx.eng.persist.bgsave_scheduled = true;
            return Ok(Reply::Status("Background saving scheduled".into()));
        }
        return Err(CommandError::err("Background save already in progress"));
    }
    ctx.eng.bgsave_start().map_err(CommandError::Coded)?;
    Ok(Reply::Status("Background saving started".into()))
}

/// LASTSAVE
pub fn lastsave(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.eng.persist.last_save))
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut flags, mut abort) = (ShutdownFlags::default(), false);
    for a in &argv[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"save" if flags.save != Some(false) => flags.save = Some(true),
            b"nosave" if flags.save != Some(true) => flags.save = Some(false),
            b"abort" => abort = true,
            b"now" => flags.now = true,
            b"force" => flags.force = true,
            _ => return Err(CommandError::Syntax),
        }
    }
    if abort && (flags.save.is_some() || flags.now || flags.force) {
        return Err(CommandError::Syntax);
    }
    if abort {
        return match ctx.eng.abort_shutdown() {
            true => Ok(Reply::ok()),
            false => Err(CommandError::err("No shutdown in progress.")),
        };
    }
    if !flags.now && !ctx.may_block() {
        return Err(CommandError::err("SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client"));
    }
    match ctx.eng.prepare_shutdown(flags) {
        ShutdownStart::Failed => Err(CommandError::Coded(SHUTDOWN_FAILED.into())),
        ShutdownStart::Waiting => {
            ctx.block(&[], None, Reply::Error(SHUTDOWN_FAILED.into()))?;
            ctx.eng.shutdown_add_waiter(ctx.client.id);
            Ok(Reply::NoReply)
        }
        // Redis closes the connection without a reply when the shutdown goes ahead.
        ShutdownStart::Exiting => {
            ctx.client.flags.close_after_reply = true;
            Ok(Reply::NoReply)
        }
    }
}

// ---------------------------------------------------------------------------------
// DEBUG
// ---------------------------------------------------------------------------------

/// True when the client connected over loopback (for `enable-*-command local`).
fn client_is_local(ctx: &Ctx) -> bool {
    let host = ctx.client.addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn debug_allowed(ctx: &Ctx) -> bool {
    ctx.eng.config.enable_debug_command.allows(client_is_local(ctx))
}

/// DEBUG subcommand [arg ...]
pub fn debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(CommandError::err(
            "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    let given = String::from_utf8_lossy(&argv[1]).into_owned();
    let sub = given.to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("help", 2) => Ok(help_reply(
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about the key and associated value.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>, or <prefix>:<num> if given.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Available <option> values:",
                "    * MERGE",
                "      Merge the RDB content with the current DB content.",
                "    * NOFLUSH",
                "      Don't flush the current DB content before loading the RDB.",
                "    * NOSAVE",
                "      Don't save the RDB before reloading.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        )),
        ("sleep", 3) => {
            let secs = parse_float(&argv[2])?;
            if secs > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            Ok(Reply::ok())
        }
        ("digest", 2) => Ok(Reply::Status(ctx.eng.digest())),
        ("reload", _) => {
            let (mut save, mut flush, mut merge) = (true, true, false);
            for opt in &argv[2..] {
                match opt.to_ascii_lowercase().as_slice() {
                    b"merge" => merge = true,
                    b"noflush" => flush = false,
                    b"nosave" => save = false,
                    _ => {
                        return Err(CommandError::err(
                            "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                        ))
                    }
                }
            }
            ctx.eng.debug_reload(save, flush, merge).map_err(CommandError::Coded)?;
            Ok(Reply::ok())
        }
        ("digest-value", _) => {
            let mut out = Vec::new();
            for key in &argv[2..] {
                let mut d = [0u8; 20];
                let when = ctx.db().get_expire(key);
                if let Some(e) = ctx.db().keys.get(key) {
                    value_digest(&mut d, &e.val, when);
                }
                out.push(Reply::Status(hex::encode(d)));
            }
            Ok(Reply::Array(out))
        }
        ("set-active-expire", 3) => {
            ctx.eng.active_expire_enabled = parse_int(&argv[2])? != 0;
            Ok(Reply::ok())
        }
        ("object", 3) => {
            let key = &argv[2];
            let has_expire = ctx.db().get_expire(key).is_some();
            let Some(e) = ctx.db().keys.get(key) else { return Err(CommandError::NoSuchKey) };
            let serialized = match &e.val {
                Value::Str(s) => s.len(),
                other => other.heap_size(),
            };
            let now = crate::engine::Engine::lru_clock();
            Ok(Reply::Status(format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{} ql_nodes:0 mem:{}",
                e as *const Entry,
                e.val.encoding(),
                serialized,
                e.lru,
                now.saturating_sub(e.lru),
                entry_memory(key, e, has_expire)
            )))
        }
        ("populate", 3..=5) => {
            let count = parse_int(&argv[2])
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| CommandError::err("value is out of range, must be positive"))?;
            let prefix = argv.get(3).map(|b| b.as_ref()).unwrap_or(b"key");
            let size = match argv.get(4) {
                Some(s) => Some(parse_int(s).ok().filter(|&n| n >= 0).ok_or(CommandError::NotInteger)? as usize),
                None => None,
            };
            let lru = crate::engine::lfu::initial(ctx.eng.lfu_params().is_some());
            // Neither propagated nor seen by WATCH (as in Redis), but the data
            // is no longer what the node's history says.
            ctx.eng.repl.changed_since_shift = true;
            let mut key = Vec::with_capacity(prefix.len() + 21);
            for i in 0..count {
                key.clear();
                key.extend_from_slice(prefix);
                key.push(b':');
                key.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                if ctx.db().keys.contains_key(&key) {
                    continue;
                }
                let mut val = format!("value:{}", i).into_bytes();
                if let Some(sz) = size {
                    val.resize(sz, 0);
                }
                ctx.db().set(&key, Value::string(&val), lru, false);
            }
            ctx.dirty(count as u64);
            Ok(Reply::ok())
        }
        _ => Err(CommandError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            given
        ))),
    }
}
