//! DUMP and RESTORE: one key's value in Redis's payload format (the RDB encoding of
//! the value, the RDB version, a CRC64), interchangeable with redis-server 7.0.

use super::args::Args;
use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::config::notify;
use crate::engine::propagate::argv as argv_of;
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::rdb::dump::{self, RestoreError};
use crate::util::num::parse_i64;
use bytes::Bytes;

#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("dump", 2, "readonly", "@keyspace @read @slow", (1, 1, 1), "RO,access|i1|r0,1,0", "nondeterministic_output", Some(dump_cmd)),
        cmd("restore", -4, "write denyoom", "@keyspace @write @slow @dangerous", (1, 1, 1), "OW,update|i1|r0,1,0", "", Some(restore)),
    ]
}

/// DUMP key
pub fn dump_cmd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match ctx.lookup_read(&argv[1]) {
        None => Ok(Reply::Nil),
        Some(entry) => Ok(Reply::Bulk(Bytes::from(dump::dump(&entry.val)))),
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut a = Args::at(argv, 4);
    while let Some(opt) = a.next_opt() {
        let opt = opt.to_ascii_lowercase();
        match opt.as_slice() {
            b"replace" => replace = true,
            b"absttl" => absttl = true,
            b"idletime" if a.remaining() > 0 && freq.is_none() => {
                let v = parse_i64(a.next_bytes()?).ok_or(CommandError::NotInteger)?;
                if v < 0 {
                    return Err(CommandError::err("Invalid IDLETIME value, must be >= 0"));
                }
                idle = Some(v);
            }
            b"freq" if a.remaining() > 0 && idle.is_none() => {
                let v = parse_i64(a.next_bytes()?).ok_or(CommandError::NotInteger)?;
                if !(0..=255).contains(&v) {
                    return Err(CommandError::err("Invalid FREQ value, must be >= 0 and <= 255"));
                }
                freq = Some(v);
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let ttl = parse_i64(&argv[2]).ok_or(CommandError::NotInteger)?;
    if ttl < 0 {
        return Err(CommandError::err("Invalid TTL value, must be >= 0"));
    }
    if !replace && ctx.exists(key) {
        return Err(CommandError::Coded("BUSYKEY Target key name already exists.".into()));
    }
    let limits = crate::rdb::Limits::from_config(&ctx.eng.config);
    let value = dump::restore(&argv[3], &limits).map_err(|e| match e {
        RestoreError::VersionOrChecksum => CommandError::err("DUMP payload version or checksum are wrong"),
        RestoreError::BadFormat => CommandError::err("Bad data format"),
    })?;
    let deadline = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(ctx.now().saturating_add(t)),
    };
    if deadline.is_some_and(|when| when <= ctx.now()) {
        // Already expired: nothing is created (a replaced key is gone), as Redis.
        if replace && ctx.delete(key) {
            ctx.propagate(argv_of([b"DEL".as_slice(), key]));
            ctx.notify(notify::GENERIC, "del", key);
        } else {
            ctx.propagate_nothing();
        }
        return Ok(Reply::ok());
    }
    // `set_value` replaces an existing key (REPLACE) and counts the one change.
    ctx.set_value(key, value, false);
    if let Some(when) = deadline {
        ctx.db().set_expire(key, when);
    }
    let lfu = ctx.eng.lfu_params().is_some();
    if let Some(e) = ctx.db().keys.get_mut(key) {
        if lfu {
            if let Some(f) = freq {
                e.lru = (e.lru & !0xFF) | f as u32;
            }
        } else if let Some(idle) = idle {
            let clock = crate::engine::Engine::lru_clock();
            e.lru = clock.wrapping_sub((idle as u64 & 0x00FF_FFFF) as u32) & 0x00FF_FFFF;
        }
    }
    // Propagated with an absolute deadline, as 7.0 does.
    let mut out: Vec<Bytes> = argv.to_vec();
    if let Some(when) = deadline {
        out[2] = Bytes::from(when.to_string());
        if !absttl {
            out.push(Bytes::from_static(b"ABSTTL"));
        }
    }
    ctx.propagate(out);
    ctx.notify(notify::GENERIC, "restore", key);
    Ok(Reply::ok())
}
