//! Scripting commands (`eval.c`): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//! The run itself is `scripting::run_script`.

use super::error::{CmdResult, CommandError};
use super::table::{cmd, CommandSpec};
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::repl::scripts::FinishedRun;
use crate::scripting::{self, Invocation};
use bytes::Bytes;

#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("eval", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", "@slow @scripting", (0, 0, 0), "RW,access,update|i2|n0,1,1", "", Some(eval)),
        cmd("evalsha", -3, "noscript stale skip_monitor no_mandatory_keys movablekeys", "@slow @scripting", (0, 0, 0), "RW,access,update|i2|n0,1,1", "", Some(evalsha)),
        cmd("eval_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", "@slow @scripting", (0, 0, 0), "RO,access|i2|n0,1,1", "", Some(eval_ro)),
        cmd("evalsha_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys movablekeys", "@slow @scripting", (0, 0, 0), "RO,access|i2|n0,1,1", "", Some(evalsha_ro)),
        cmd("script", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("script|debug", 3, "noscript", "@slow @scripting", (0, 0, 0), "", "", Some(script_debug)),
            cmd("script|exists", -3, "noscript", "@slow @scripting", (0, 0, 0), "", "request_policy:all_shards response_policy:agg_logical_and", Some(script_exists)),
            cmd("script|flush", -2, "noscript", "@slow @scripting", (0, 0, 0), "", "request_policy:all_nodes response_policy:all_succeeded", Some(script_flush)),
            cmd("script|help", 2, "loading stale", "@slow @scripting", (0, 0, 0), "", "", Some(script_help)),
            cmd("script|kill", 2, "noscript allow_busy", "@slow @scripting", (0, 0, 0), "", "request_policy:all_shards response_policy:one_succeeded", Some(script_kill)),
            cmd("script|load", 3, "noscript stale", "@slow @scripting", (0, 0, 0), "", "request_policy:all_nodes response_policy:all_succeeded", Some(script_load)),
        ]),
    ]
}

fn noscript() -> CommandError {
    CommandError::Coded("NOSCRIPT No matching script. Please use EVAL.".into())
}

/// Parses `numkeys` and splits the arguments into keys and args.
fn keys_and_args(argv: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CommandError> {
    let n = crate::util::num::parse_i64(&argv[2]).ok_or(CommandError::NotInteger)?;
    let rest = &argv[3..];
    if n > rest.len() as i64 {
        return Err(CommandError::err("Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(CommandError::err("Number of keys can't be negative"));
    }
    Ok(rest.split_at(n as usize))
}

/// The EVAL family (`evalGenericCommand`): validation in Redis's order, the script
/// created on first sight (EVAL) or looked up (EVALSHA), then the run.
fn eval_generic(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    if by_sha && argv[1].len() != 40 {
        return Err(noscript());
    }
    let (keys, args) = keys_and_args(argv)?;
    // EVAL* skip the normal MONITOR feed so the script's own commands follow it.
    if !ctx.eng.monitors.is_empty() {
        ctx.eng.feed_monitors(ctx.client, argv);
    }
    let sha = if by_sha {
        let mut sha = argv[1].to_vec();
        sha.make_ascii_lowercase();
        match String::from_utf8(sha) {
            Ok(sha) if ctx.eng.scripting.body(&sha).is_some() => sha,
            _ => return Err(noscript()),
        }
    } else {
        // Scripts from the primary are never evicted on a replica: a promoted
        // replica must run every script its primary could.
        let evictable = !ctx.client.flags.master;
        ctx.eng.scripting.create(&argv[1], evictable)?
    };
    let effects_from = ctx.eng.unit_effects.len();
    let reply = scripting::run_script(ctx, Invocation { sha: &sha, keys, args, read_only_command: read_only })?;
    let replayable = ctx.eng.scripting.last_run.replayable;
    let db = ctx.client.db;
    ctx.eng.repl_script_run(FinishedRun { argv, by_sha, sha: &sha, db, effects_from, replayable });
    Ok(reply)
}

/// EVAL* for a client. A moonkv primary sends a run verbatim only when it ran to
/// its end there (it may return an error reply, which a replica returns too): a
/// run from the primary that raises here, or finds no script, did not do what it
/// did there, and the replica has diverged (see `Engine::check_applied_reply`).
/// (A Redis ≤ 6.2 primary in verbatim mode also sends runs that raised: such a
/// replica would full-sync on each.)
fn eval_checked(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    let result = eval_generic(ctx, argv, by_sha, read_only);
    if ctx.client.flags.master {
        if result.is_err() || ctx.eng.scripting.last_run.raised {
            ctx.eng.repl.script_failed = true;
        } else if matches!(result, Ok(Reply::Error(_))) {
            // The script's own error reply, as on the primary: not an error
            // applying the stream.
            ctx.eng.repl.script_error_replies += 1;
        }
    }
    result
}

/// EVAL script numkeys [key ...] [arg ...]
pub fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_checked(ctx, argv, false, false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_checked(ctx, argv, true, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
pub fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_checked(ctx, argv, false, true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
pub fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_checked(ctx, argv, true, true)
}

/// SCRIPT LOAD script
pub fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sha = ctx.eng.scripting.create(&argv[2], false)?;
    // Propagated, so replicas hold every script (Redis ≤ 6.2 did the same).
    if ctx.eng.repl_originates() {
        ctx.propagate(argv.to_vec());
        ctx.eng.repl.script_cache.insert(sha.clone());
    }
    Ok(Reply::bulk(sha))
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = &ctx.eng.scripting;
    Ok(Reply::Array(argv[2..].iter().map(|sha| Reply::Int(s.exists(sha) as i64)).collect()))
}

/// SCRIPT FLUSH [ASYNC | SYNC]
pub fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let background = match argv.get(2) {
        None => ctx.eng.config.lazyfree_lazy_user_flush,
        Some(m) if argv.len() == 3 && m.eq_ignore_ascii_case(b"async") => true,
        Some(m) if argv.len() == 3 && m.eq_ignore_ascii_case(b"sync") => false,
        Some(_) => return Err(CommandError::err("SCRIPT FLUSH only support SYNC|ASYNC option")),
    };
    ctx.eng.scripting.flush(background);
    if ctx.eng.repl_originates() {
        ctx.propagate(argv.to_vec());
        ctx.eng.repl.script_cache.clear();
    }
    Ok(Reply::ok())
}

/// SCRIPT KILL. While a script runs the connections answer this themselves
/// (`server::connection`), so reaching the engine means nothing is running.
pub fn script_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(ctx.eng.scripting.run_state.request_kill().reply())
}

/// SCRIPT DEBUG YES | SYNC | NO: moonkv has no Lua debugger.
pub fn script_debug(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mode = &argv[2];
    if mode.eq_ignore_ascii_case(b"no") {
        return Ok(Reply::ok());
    }
    if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        return Err(CommandError::err("SCRIPT DEBUG is not supported by moonkv"));
    }
    Err(CommandError::err("Use SCRIPT DEBUG YES/SYNC/NO"))
}

/// SCRIPT HELP
pub fn script_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let lines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(lines.iter().map(|l| Reply::Status((*l).into())).collect()))
}
