//! Replication commands, primary side: REPLCONF, PSYNC, SYNC, ROLE, and the INFO
//! replication section (../shared/specs/replication.md §1.2, §3.2, §8).

use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::engine::{Ctx, Engine};
use crate::protocol::Reply;
use crate::repl::replica::LinkState;
use crate::repl::{ReplicaState, SyncRequest};
use crate::util::num::parse_i64;
use bytes::{Bytes, BytesMut};
use std::fmt::Write as _;

#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("replconf", -1, "admin noscript loading stale allow_busy", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(replconf)),
        cmd("psync", -3, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(psync)),
        cmd("sync", 1, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(sync)),
        cmd("replicaof", 3, "admin noscript stale no_async_loading", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(replicaof)),
        cmd("slaveof", 3, "admin noscript stale no_async_loading", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(replicaof)),
        cmd("wait", 3, "noscript", "@slow @connection", (0, 0, 0), "", "request_policy:all_shards response_policy:agg_min", Some(wait)),
        cmd("role", 1, "noscript loading stale fast", "@admin @fast @dangerous", (0, 0, 0), "", "", Some(role)),
        cmd("failover", -1, "admin noscript stale", "@admin @slow @dangerous", (0, 0, 0), "", "", Some(failover)),
    ]
}

fn err(msg: impl Into<String>) -> CommandError {
    CommandError::Coded(msg.into())
}

/// REPLCONF option value ...
pub fn replconf(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let id = ctx.client.id;
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (pair[0].to_ascii_lowercase(), &pair[1]);
        match opt.as_slice() {
            b"listening-port" => {
                let port = parse_i64(val).ok_or(CommandError::NotInteger)?;
                ctx.eng.repl.handshakes.entry(id).or_default().port = port;
            }
            b"ip-address" => {
                if val.len() >= 256 {
                    return Err(err(format!(
                        "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        val.len()
                    )));
                }
                ctx.eng.repl.handshakes.entry(id).or_default().ip = Some(String::from_utf8_lossy(val).into_owned());
            }
            b"capa" => {
                let h = ctx.eng.repl.handshakes.entry(id).or_default();
                if val.eq_ignore_ascii_case(b"eof") {
                    h.capa_eof = true;
                } else if val.eq_ignore_ascii_case(b"psync2") {
                    h.capa_psync2 = true;
                } else if val.eq_ignore_ascii_case(b"moonkv") {
                    h.capa_moonkv = true;
                }
            }
            b"ack" => {
                // Never answered; trailing pairs (7.2's FACK) are ignored.
                let off = parse_i64(val).unwrap_or(0).max(0) as u64;
                if let Some(r) = ctx.eng.repl.replicas.get_mut(&id) {
                    r.ack_off = r.ack_off.max(off);
                    r.ack_time = std::time::Instant::now();
                }
                ctx.eng.repl_serve_waits();
                return Ok(Reply::NoReply);
            }
            b"getack" => return Ok(Reply::NoReply),
            b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Err(err(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(&pair[0]))));
            }
        }
    }
    Ok(Reply::ok())
}

/// PSYNC replid offset [FAILOVER]: continue from the backlog, or a full sync. With
/// FAILOVER our primary hands its role to us: we promote ourselves first.
pub fn psync(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.eng.repl.replicas.contains_key(&ctx.client.id) {
        return Ok(Reply::NoReply);
    }
    if argv.len() > 3 && argv[3].eq_ignore_ascii_case(b"failover") {
        if !ctx.eng.is_replica() {
            return Err(err("ERR PSYNC FAILOVER can't be sent to a master."));
        }
        if !argv[1].eq_ignore_ascii_case(ctx.eng.repl.replid.as_bytes()) {
            return Err(err("ERR PSYNC FAILOVER replid must match my replid."));
        }
        tracing::info!("Failover request received for replid {}.", ctx.eng.repl.replid);
        ctx.eng.replicaof_no_one();
        ctx.eng.config.replicaof = None;
    }
    if ctx.eng.repl.failover.is_some() {
        return Err(err("NOMASTERLINK Can't SYNC while failing over"));
    }
    start_sync(ctx, Some((&argv[1], &argv[2])))
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (spec §8.4).
pub fn failover(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"abort") {
        if ctx.eng.repl.failover.is_none() {
            return Err(err("ERR No failover in progress."));
        }
        ctx.eng.failover_abort("Failover manually aborted");
        return Ok(Reply::ok());
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None);
    let mut j = 1;
    while j < argv.len() {
        let a = &argv[j];
        if a.eq_ignore_ascii_case(b"timeout") && j + 1 < argv.len() && timeout == 0 {
            timeout = parse_i64(&argv[j + 1]).ok_or(CommandError::NotInteger)?;
            if timeout <= 0 {
                return Err(err("ERR FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if a.eq_ignore_ascii_case(b"to") && j + 2 < argv.len() && target.is_none() {
            let port = parse_i64(&argv[j + 2]).ok_or(CommandError::NotInteger)?;
            target = Some((String::from_utf8_lossy(&argv[j + 1]).into_owned(), port));
            j += 3;
        } else if a.eq_ignore_ascii_case(b"force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let eng = &mut *ctx.eng;
    if eng.repl.failover.is_some() {
        return Err(err("ERR FAILOVER already in progress."));
    }
    if eng.is_replica() {
        return Err(err("ERR FAILOVER is not valid when server is a replica."));
    }
    if eng.repl.replicas.is_empty() {
        return Err(err("ERR FAILOVER requires connected replicas."));
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(err("ERR FAILOVER with force option requires both a timeout and target HOST and IP."));
    }
    if let Some((host, port)) = &target {
        let Some(id) = eng.repl_find_replica(host, *port) else {
            return Err(err("ERR FAILOVER target HOST and PORT is not a replica."));
        };
        if eng.repl.replicas.get(&id).is_none_or(|r| r.state != ReplicaState::Online) {
            return Err(err("ERR FAILOVER target replica is not online."));
        }
    }
    eng.failover_start(target, force, timeout);
    Ok(Reply::ok())
}

/// SYNC: the pre-PSYNC full sync (no `+FULLRESYNC` line).
pub fn sync(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    start_sync(ctx, None)
}

fn start_sync(ctx: &mut Ctx, psync: Option<(&Bytes, &Bytes)>) -> CmdResult {
    let id = ctx.client.id;
    if ctx.eng.repl.replicas.contains_key(&id) {
        return Ok(Reply::NoReply);
    }
    if ctx.eng.repl.failover.is_some() {
        return Err(err("NOMASTERLINK Can't SYNC while failing over"));
    }
    if ctx.eng.repl.master.as_ref().is_some_and(|m| m.state != LinkState::Connected) {
        return Err(err("NOMASTERLINK Can't SYNC while not connected with my master"));
    }
    let moonkv = ctx.eng.repl.handshakes.get(&id).is_some_and(|h| h.capa_moonkv);
    if !moonkv && ctx.eng.repl.master.as_ref().is_some_and(|m| m.announced_moonkv) {
        // This node's primary may send scripts verbatim, which this sub-replica
        // cannot run: reconnect upstream without `capa moonkv` first. The
        // sub-replica retries (as after any NOMASTERLINK).
        tracing::info!("A replica without capa moonkv asks to sync: reconnecting to MASTER without it");
        if let Some(m) = ctx.eng.repl.master.as_mut() {
            m.plain_capa = true;
        }
        if let Some(master) = ctx.eng.repl.master_client {
            ctx.eng.kill_client(master);
        }
        return Err(err("NOMASTERLINK Can't SYNC while not connected with my master"));
    }
    if !moonkv {
        // It attaches now; from here on it keeps `capa moonkv` off by itself
        // (`Engine::repl_no_plain_replicas`).
        if let Some(m) = ctx.eng.repl.master.as_mut() {
            m.plain_capa = false;
        }
    }
    // Replies already queued on this connection are written before the sync
    // starts (the connection flushes a batch's replies first), so Redis's "pending
    // output" refusal has no case here.
    let Some((replid, offset)) = psync else {
        ctx.client.flags.replica = true;
        ctx.eng.repl.sync_requests.insert(id, SyncRequest { eof: false, old_protocol: true });
        ctx.eng.repl_attach(id, ReplicaState::WaitBgsave, true);
        return Ok(Reply::NoReply);
    };
    let offset = parse_i64(offset).ok_or(CommandError::NotInteger)?;
    ctx.client.flags.replica = true;
    let replid = String::from_utf8_lossy(replid).into_owned();
    let eng = &mut *ctx.eng;
    let addr = ctx.client.addr.clone();
    // Nor may it continue from before a script sent verbatim.
    let replayable_backlog = moonkv || offset as u64 > eng.repl.verbatim_end;
    if replid != "?" && offset >= 0 && replayable_backlog && eng.repl.can_continue(&replid, offset as u64) {
        let psync2 = eng.repl.handshakes.get(&id).is_some_and(|h| h.capa_psync2);
        let backlog = eng.repl_backlog_from(offset as u64).expect("can_continue checked the range");
        eng.repl_attach(id, ReplicaState::Online, false);
        let mut out = BytesMut::new();
        if psync2 {
            out.extend_from_slice(format!("+CONTINUE {}\r\n", eng.repl.replid).as_bytes());
        } else {
            out.extend_from_slice(b"+CONTINUE\r\n");
        }
        let mut sent = 0;
        for b in backlog {
            sent += b.len();
            out.extend_from_slice(&b);
        }
        tracing::info!(
            "Partial resynchronization request from {addr} accepted. Sending {sent} bytes of backlog starting from offset {offset}."
        );
        eng.stats.sync_partial_ok += 1;
        return Ok(Reply::Raw(out.freeze()));
    }
    if replid != "?" {
        eng.stats.sync_partial_err += 1;
        if !replid.eq_ignore_ascii_case(&eng.repl.replid) && !replid.eq_ignore_ascii_case(&eng.repl.replid2) {
            tracing::info!(
                "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                eng.repl.replid,
                eng.repl.replid2
            );
        } else if !replayable_backlog {
            tracing::info!(
                "Partial resynchronization not accepted: replica {addr} has no capa moonkv and the backlog holds scripts sent verbatim (Replica request was: {offset})."
            );
        } else {
            tracing::info!(
                "Unable to partial resync with replica {addr} for lack of backlog (Replica request was: {offset})."
            );
        }
    } else {
        tracing::info!("Full resync requested by replica {addr}");
    }
    let eof = eng.config.repl_diskless_sync && eng.repl.handshakes.get(&id).is_some_and(|h| h.capa_eof);
    eng.repl.sync_requests.insert(id, SyncRequest { eof, old_protocol: false });
    eng.repl_attach(id, ReplicaState::WaitBgsave, false);
    Ok(Reply::NoReply)
}

/// REPLICAOF host port | REPLICAOF NO ONE (SLAVEOF is the same command).
pub fn replicaof(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.eng.repl.failover.is_some() {
        return Err(err("ERR REPLICAOF not allowed while failing over."));
    }
    if ctx.client.flags.master || ctx.eng.repl.replicas.contains_key(&ctx.client.id) {
        return Err(err("ERR Command is not valid when client is a replica."));
    }
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if ctx.eng.is_replica() {
            // A promotion Sentinel asks for hands over from the primary first
            // (`repl::replica::Handover`); any other is immediate, as in Redis.
            let by_sentinel = ctx.client.name.as_ref().is_some_and(|n| n.starts_with(b"sentinel-"));
            if by_sentinel {
                ctx.eng.promote();
            } else {
                ctx.eng.replicaof_no_one();
            }
            // The role to persist (CONFIG REWRITE) is primary's, also while a
            // handover runs.
            ctx.eng.config.replicaof = None;
        }
        return Ok(Reply::ok());
    }
    let port = parse_i64(&argv[2]).filter(|p| (0..=65535).contains(p)).ok_or_else(|| err("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some(m) = &ctx.eng.repl.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port == port as u16 {
            return Ok(Reply::Status("OK Already connected to specified master".into()));
        }
    }
    ctx.eng.replicaof(host.clone(), port as u16);
    ctx.eng.config.replicaof = Some((host, port as u16));
    Ok(Reply::ok())
}

/// WAIT numreplicas timeout: blocks until that many replicas acknowledged this
/// client's last write, or the timeout (ms, 0 = forever) passes; replies the count.
pub fn wait(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.eng.is_replica() {
        return Err(err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let wanted = parse_i64(&argv[1]).ok_or(CommandError::NotInteger)?;
    let timeout = parse_i64(&argv[2]).ok_or_else(|| err("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(err("ERR timeout is negative"));
    }
    let woff = ctx.client.woff;
    let acked = ctx.eng.repl_acked(woff);
    if acked as i64 >= wanted || !ctx.may_block() {
        return Ok(Reply::Int(acked as i64));
    }
    ctx.eng.repl_request_acks();
    let timeout = (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64));
    ctx.block(&[], timeout, Reply::Int(0))?;
    if let Some(b) = ctx.client.blocked.as_mut() {
        b.wait = Some((woff, wanted.max(0) as usize));
        b.argv = argv.to_vec();
    }
    Ok(Reply::NoReply)
}

/// ROLE
pub fn role(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let eng = &*ctx.eng;
    if let Some(m) = &eng.repl.master {
        let offset = if eng.repl.master_client.is_some() { eng.repl.offset as i64 } else { -1 };
        return Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"slave")),
            Reply::Bulk(Bytes::from(m.host.clone())),
            Reply::Int(m.port as i64),
            Reply::Bulk(Bytes::from_static(m.state.name().as_bytes())),
            Reply::Int(offset),
        ]));
    }
    let replicas = eng
        .repl
        .replicas
        .iter()
        .filter(|(_, r)| r.state == ReplicaState::Online)
        .map(|(id, r)| {
            Reply::Array(vec![
                Reply::Bulk(Bytes::from(replica_ip(eng, *id, r))),
                Reply::Bulk(Bytes::from(r.port.to_string())),
                Reply::Bulk(Bytes::from(r.ack_off.to_string())),
            ])
        })
        .collect();
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from_static(b"master")),
        Reply::Int(eng.repl.offset as i64),
        Reply::Array(replicas),
    ]))
}

/// The address a replica is reported with: what it announced, else its peer IP.
fn replica_ip(eng: &Engine, id: u64, r: &crate::repl::ReplicaInfo) -> String {
    if let Some(ip) = &r.ip {
        return ip.clone();
    }
    let addr = eng.clients.get(&id).map(|c| c.addr.as_str()).unwrap_or("");
    addr.rsplit_once(':').map_or(addr, |(ip, _)| ip).to_string()
}

/// The INFO replication section (spec §8.2), header included.
pub fn info_replication(eng: &Engine) -> String {
    let mut s = String::new();
    macro_rules! f {
        ($($arg:tt)*) => {{ let _ = write!(s, $($arg)*); s.push_str("\r\n"); }};
    }
    let repl = &eng.repl;
    f!("# Replication");
    match &repl.master {
        None => f!("role:master"),
        Some(m) => {
            f!("role:slave");
            f!("master_host:{}", m.host);
            f!("master_port:{}", m.port);
            let up = m.state == LinkState::Connected;
            f!("master_link_status:{}", if up { "up" } else { "down" });
            let io = match (repl.master_client, m.last_io) {
                (Some(_), Some(t)) => t.elapsed().as_secs() as i64,
                _ => -1,
            };
            f!("master_last_io_seconds_ago:{io}");
            f!("master_sync_in_progress:{}", (m.state == LinkState::Sync) as u8);
            let have = repl.master_client.is_some() || m.cached.is_some();
            f!("slave_read_repl_offset:{}", if have { m.read_offset.max(repl.offset) } else { 1 });
            f!("slave_repl_offset:{}", if have { repl.offset } else { 1 });
            if m.state == LinkState::Sync {
                let left = if m.sync_total > 0 { m.sync_total - m.sync_read as i64 } else { 0 };
                let perc = if m.sync_total > 0 { m.sync_read as f64 * 100.0 / m.sync_total as f64 } else { 0.0 };
                f!("master_sync_total_bytes:{}", m.sync_total);
                f!("master_sync_read_bytes:{}", m.sync_read);
                f!("master_sync_left_bytes:{left}");
                f!("master_sync_perc:{perc:.2}");
                f!("master_sync_last_io_seconds_ago:{}", m.last_io.map_or(0, |t| t.elapsed().as_secs()));
            }
            if !up {
                f!("master_link_down_since_seconds:{}", m.down_since.map_or(-1, |t| t.elapsed().as_secs() as i64));
            }
            f!("slave_priority:{}", eng.config.replica_priority);
            f!("slave_read_only:{}", eng.config.replica_read_only as u8);
            f!("replica_announced:{}", eng.config.replica_announced as u8);
        }
    }
    f!("connected_slaves:{}", repl.replicas.len());
    let (min_n, min_lag) = (eng.config.min_replicas_to_write, eng.config.min_replicas_max_lag);
    if min_n > 0 && min_lag > 0 {
        f!("min_slaves_good_slaves:{}", eng.repl_good_replicas());
    }
    for (i, (id, r)) in repl.replicas.iter().enumerate() {
        let lag = if r.state == ReplicaState::Online { r.ack_time.elapsed().as_secs() } else { 0 };
        f!(
            "slave{i}:ip={},port={},state={},offset={},lag={lag}",
            replica_ip(eng, *id, r),
            r.port,
            r.state_name(),
            r.ack_off
        );
    }
    f!(
        "master_failover_state:{}",
        eng.repl.failover.as_ref().map_or(crate::repl::failover::NO_FAILOVER, |f| f.state.name())
    );
    f!("master_replid:{}", repl.replid);
    f!("master_replid2:{}", repl.replid2);
    f!("master_repl_offset:{}", repl.offset);
    f!("second_repl_offset:{}", repl.second_offset);
    match &repl.backlog {
        Some(b) => {
            f!("repl_backlog_active:1");
            f!("repl_backlog_size:{}", eng.config.repl_backlog_size);
            f!("repl_backlog_first_byte_offset:{}", b.first_offset());
            f!("repl_backlog_histlen:{}", b.histlen());
        }
        None => {
            f!("repl_backlog_active:0");
            f!("repl_backlog_size:{}", eng.config.repl_backlog_size);
            f!("repl_backlog_first_byte_offset:0");
            f!("repl_backlog_histlen:0");
        }
    }
    s
}

impl Engine {
    /// Online replicas that acknowledged stream offset `woff`.
    pub fn repl_acked(&self, woff: u64) -> usize {
        self.repl.replicas.values().filter(|r| r.state == ReplicaState::Online && r.ack_off >= woff).count()
    }

    /// Asks every replica for an ACK (`REPLCONF GETACK *` in the stream). A
    /// replica never does: its stream is its primary's, byte for byte, and its
    /// own replicas ACK once a second.
    pub fn repl_request_acks(&mut self) {
        if !self.repl.replicas.is_empty() && !self.is_replica() {
            self.events.acks_wanted.store(true, std::sync::atomic::Ordering::Relaxed);
            self.repl_feed_plain(&[b"REPLCONF", b"GETACK", b"*"]);
        }
    }

    /// Answers the WAITs that enough replicas have now acknowledged.
    pub fn repl_serve_waits(&mut self) {
        let ready: Vec<(u64, usize)> = self
            .clients
            .values()
            .filter_map(|c| {
                let (woff, wanted) = c.blocked.as_ref()?.wait?;
                let acked = self.repl_acked(woff);
                (acked >= wanted).then_some((c.id, acked))
            })
            .collect();
        for (id, acked) in ready {
            self.unblock_with(id, Some(Reply::Int(acked as i64)));
        }
    }

    /// `min-replicas-to-write`: true when a primary has fewer good replicas.
    pub fn repl_too_few_replicas(&self) -> bool {
        let (n, lag) = (self.config.min_replicas_to_write, self.config.min_replicas_max_lag);
        n > 0 && lag > 0 && !self.is_replica() && self.repl_good_replicas() < n as usize
    }

    /// Online replicas whose last ACK is at most `min-replicas-max-lag` seconds old.
    pub fn repl_good_replicas(&self) -> usize {
        let lag = self.config.min_replicas_max_lag as u64;
        self.repl
            .replicas
            .values()
            .filter(|r| r.state == ReplicaState::Online && r.ack_time.elapsed().as_secs() <= lag)
            .count()
    }
}
