//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queueing happens in the gate
//! (`Engine::execute`); EXEC runs the queue as one execution unit, so its effects
//! propagate as one MULTI/EXEC entry and no other client interleaves.

use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::engine::{Ctx, MultiState};
use crate::protocol::Reply;
use bytes::Bytes;
use std::time::Instant;

/// Table rows of the transactions family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("multi", 1, "noscript loading stale fast allow_busy", "@fast @transaction", (0, 0, 0), "", "", Some(multi)),
        cmd("exec", 1, "noscript loading stale skip_slowlog", "@slow @transaction", (0, 0, 0), "", "", Some(exec)),
        cmd("discard", 1, "noscript loading stale fast allow_busy", "@fast @transaction", (0, 0, 0), "", "", Some(discard)),
        cmd("watch", -2, "noscript loading stale fast allow_busy", "@fast @transaction", (1, -1, 1), "RO|i1|r-1,1,0", "", Some(watch)),
        cmd("unwatch", 1, "noscript loading stale fast allow_busy", "@fast @transaction", (0, 0, 0), "", "", Some(unwatch)),
    ]
}

/// MULTI
pub fn multi(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(MultiState::default());
    Ok(Reply::ok())
}

fn unwatch_all(ctx: &mut Ctx) {
    let keys = std::mem::take(&mut ctx.client.watched);
    let id = ctx.client.id;
    ctx.eng.unwatch(id, &keys);
    ctx.client.dirty_cas = false;
}

/// EXEC
pub fn exec(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(state) = ctx.client.multi.take() else {
        return Err(CommandError::err("EXEC without MULTI"));
    };
    let aborted = ctx.client.dirty_cas;
    unwatch_all(ctx);
    if state.errored {
        return Err(CommandError::Coded("EXECABORT Transaction discarded because of previous errors.".into()));
    }
    if aborted {
        return Ok(Reply::NilArray);
    }
    let mut replies = Vec::with_capacity(state.queue.len());
    let mut clock = Instant::now();
    ctx.eng.in_exec = true;
    for argv in &state.queue {
        // A command failing at run time fails alone; the others still run.
        replies.push(ctx.eng.call_queued(ctx.client, argv, &mut clock));
    }
    ctx.eng.in_exec = false;
    // The queue's effects are this unit's; the gate wraps them in MULTI/EXEC.
    Ok(Reply::Array(replies))
}

/// DISCARD
pub fn discard(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CommandError::err("DISCARD without MULTI"));
    }
    unwatch_all(ctx);
    Ok(Reply::ok())
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    let id = ctx.client.id;
    for key in &argv[1..] {
        let k = (db, key.clone());
        if !ctx.client.watched.contains(&k) {
            ctx.client.watched.push(k);
            ctx.eng.watch(id, db, key);
        }
    }
    Ok(Reply::ok())
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    Ok(Reply::ok())
}
