//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO and CLIENT.
//! They change the calling client's state (`ctx.client`) or look at other clients.

use super::args::{parse_int, Args};
use super::error::{CmdResult, CommandError};
use super::keys::help_reply;
use super::table::{cmd, CommandSpec};
use crate::engine::{Ctx, Pause, ReplyMode};
use crate::protocol::Reply;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Table rows of the connection family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("ping", -1, "fast", "@fast @connection", (0, 0, 0), "", "request_policy:all_shards response_policy:all_succeeded", Some(ping)),
        cmd("echo", 2, "loading stale fast", "@fast @connection", (0, 0, 0), "", "", Some(echo)),
        cmd("quit", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection", (0, 0, 0), "", "", Some(quit)),
        cmd("reset", 1, "noscript loading stale fast no_auth allow_busy", "@fast @connection", (0, 0, 0), "", "", Some(reset)),
        cmd("auth", -2, "noscript loading stale fast no_auth allow_busy", "@fast @connection", (0, 0, 0), "", "", Some(auth)),
        cmd("hello", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection", (0, 0, 0), "", "", Some(hello)),
        cmd("client", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("client|getname", 2, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_getname)),
            cmd("client|help", 2, "loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_help)),
            cmd("client|id", 2, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_id)),
            cmd("client|info", 2, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "nondeterministic_output", Some(client_info)),
            cmd("client|kill", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "", Some(client_kill)),
            cmd("client|list", -2, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "nondeterministic_output", Some(client_list)),
            cmd("client|no-evict", 3, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "", Some(client_no_evict)),
            // NO-TOUCH arrived in Redis 7.2; its row follows 7.2's.
            cmd("client|no-touch", 3, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_no_touch)),
            cmd("client|pause", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "", Some(client_pause)),
            cmd("client|reply", 3, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_reply)),
            cmd("client|setname", 3, "noscript loading stale", "@slow @connection", (0, 0, 0), "", "", Some(client_setname)),
            cmd("client|unblock", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "", Some(client_unblock)),
            cmd("client|unpause", 2, "admin noscript loading stale", "@admin @slow @dangerous @connection", (0, 0, 0), "", "", Some(client_unpause)),
        ]),
    ]
}

/// PING [message]
pub fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.resp == 2 && ctx.client.subscriptions() > 0 && argv.len() <= 2 {
        // In the RESP2 subscriber context PING answers in the message format.
        let msg = argv.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![Reply::bulk(Bytes::from_static(b"pong")), Reply::Bulk(msg)]));
    }
    match argv.len() {
        1 => Ok(Reply::Status("PONG".into())),
        2 => Ok(Reply::Bulk(argv[1].clone())),
        _ => Err(CommandError::WrongArity("ping".into())),
    }
}

/// ECHO message
pub fn echo(_ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(argv[1].clone()))
}

/// QUIT
pub fn quit(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.client.flags.close_after_reply = true;
    Ok(Reply::ok())
}

/// RESET
pub fn reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // Leave MULTI, WATCH and every subscription.
    ctx.client.multi = None;
    let keys = std::mem::take(&mut ctx.client.watched);
    let id = ctx.client.id;
    ctx.eng.unwatch(id, &keys);
    ctx.client.dirty_cas = false;
    super::pubsub::unsubscribe_all(ctx);
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp = 2;
    c.name = None;
    c.reply_mode = ReplyMode::default();
    c.flags.no_evict = false;
    c.flags.no_touch = false;
    if c.flags.monitor {
        c.flags.monitor = false;
        let id = c.id;
        ctx.eng.monitors.retain(|&m| m != id);
    }
    ctx.client.authenticated = ctx.eng.config.requirepass.is_none();
    Ok(Reply::Status("RESET".into()))
}

/// Checks a username/password pair against the default user.
fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), CommandError> {
    if let Some(u) = user {
        if u != b"default" {
            return Err(CommandError::WrongPass);
        }
    }
    match &ctx.eng.config.requirepass {
        None => Ok(()),
        Some(p) if constant_time_eq(p, pass) => Ok(()),
        Some(_) => Err(CommandError::WrongPass),
    }
}

/// Compares secrets without an early exit that would leak the matching prefix length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CommandError::Syntax);
    }
    if argv.len() == 2 && ctx.eng.config.requirepass.is_none() {
        return Err(CommandError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) = if argv.len() == 3 { (Some(argv[1].as_ref()), &argv[2]) } else { (None, &argv[1]) };
    check_password(ctx, user, pass)?;
    ctx.client.authenticated = true;
    Ok(Reply::ok())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut resp = None;
    let mut a = Args::new(argv);
    if let Some(v) = a.next_opt() {
        let v = parse_int(v).map_err(|_| CommandError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CommandError::Coded("NOPROTO unsupported protocol version".into()));
        }
        resp = Some(v as u8);
    }
    let mut creds = None;
    let mut name = None;
    while let Some(opt) = a.next_opt() {
        if opt.eq_ignore_ascii_case(b"AUTH") && a.remaining() >= 2 {
            creds = Some((a.next_bytes()?.clone(), a.next_bytes()?.clone()));
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && a.remaining() >= 1 {
            let n = a.next_bytes()?;
            validate_name(n)?;
            name = Some(n.clone());
        } else {
            return Err(CommandError::err(format!("Syntax error in HELLO option '{}'", String::from_utf8_lossy(opt))));
        }
    }
    if let Some((u, p)) = &creds {
        check_password(ctx, Some(u), p)?;
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CommandError::Coded(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(n) = name {
        ctx.client.name = if n.is_empty() { None } else { Some(n) };
    }
    if let Some(r) = resp {
        ctx.client.resp = r;
    }
    let s = |t: &str| Reply::bulk(Bytes::copy_from_slice(t.as_bytes()));
    Ok(Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(crate::REDIS_VERSION)),
        (s("proto"), Reply::Int(ctx.client.resp as i64)),
        (s("id"), Reply::Int(ctx.client.id as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Reply::Array(vec![])),
    ]))
}

fn validate_name(n: &[u8]) -> Result<(), CommandError> {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CommandError::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// CLIENT ID
pub fn client_id(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.client.id as i64))
}

/// CLIENT SETNAME connection-name
pub fn client_setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    validate_name(&argv[2])?;
    ctx.client.name = if argv[2].is_empty() { None } else { Some(argv[2].clone()) };
    Ok(Reply::ok())
}

/// CLIENT GETNAME
pub fn client_getname(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(ctx.client.name.clone().map(Reply::Bulk).unwrap_or(Reply::Nil))
}

/// CLIENT INFO
pub fn client_info(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let line = ctx.client.info_line(Instant::now());
    Ok(Reply::Verbatim(Bytes::from(format!("{}\n", line))))
}

/// CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]
pub fn client_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut a = Args::at(argv, 2);
    let mut kind = None;
    while let Some(opt) = a.next_opt() {
        if opt.eq_ignore_ascii_case(b"TYPE") && a.remaining() >= 1 {
            kind = Some(client_kind(a.next_bytes()?)?);
        } else if opt.eq_ignore_ascii_case(b"ID") && a.remaining() >= 1 {
            let mut v = Vec::new();
            for id in a.rest() {
                let n = parse_int(id).ok().filter(|&n| n > 0).ok_or_else(|| CommandError::err("Invalid client ID"))?;
                v.push(n as u64);
            }
            ids = Some(v);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let now = Instant::now();
    let mut out = String::new();
    {
        for c in ctx.all_clients() {
            if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) || kind.is_some_and(|k| c.kind() != k) {
                continue;
            }
            out.push_str(&c.info_line(now));
            out.push('\n');
        }
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// A TYPE filter's class (`slave` is `replica`).
fn client_kind(t: &[u8]) -> Result<&'static str, CommandError> {
    match t.to_ascii_lowercase().as_slice() {
        b"normal" => Ok("normal"),
        b"master" => Ok("master"),
        b"replica" | b"slave" => Ok("replica"),
        b"pubsub" => Ok("pubsub"),
        _ => Err(CommandError::err(format!("Unknown client type '{}'", String::from_utf8_lossy(t)))),
    }
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [USER user] [ADDR ip:port]
/// [LADDR ip:port] [SKIPME yes/no]
pub fn client_kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    #[derive(Default)]
    struct Filter {
        id: Option<u64>,
        addr: Option<Bytes>,
        laddr: Option<Bytes>,
        kind: Option<&'static str>,
        skipme: bool,
    }
    let old_style = argv.len() == 3;
    let mut f = Filter { skipme: !old_style, ..Default::default() };
    if old_style {
        f.addr = Some(argv[2].clone());
    } else {
        let mut a = Args::at(argv, 2);
        while let Some(opt) = a.next_opt() {
            let Some(val) = a.next_opt() else { return Err(CommandError::Syntax) };
            match opt.to_ascii_lowercase().as_slice() {
                b"id" => {
                    let n = parse_int(val)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| CommandError::err("client-id should be greater than 0"))?;
                    f.id = Some(n as u64);
                }
                b"type" => f.kind = Some(client_kind(val)?),
                b"user" => {
                    if val.as_ref() != b"default" {
                        return Err(CommandError::err(format!("No such user '{}'", String::from_utf8_lossy(val))));
                    }
                }
                b"addr" => f.addr = Some(val.clone()),
                b"laddr" => f.laddr = Some(val.clone()),
                b"skipme" => match val.to_ascii_lowercase().as_slice() {
                    b"yes" => f.skipme = true,
                    b"no" => f.skipme = false,
                    _ => return Err(CommandError::Syntax),
                },
                _ => return Err(CommandError::Syntax),
            }
        }
    }
    let matches = |c: &crate::engine::Client| {
        f.kind.is_none_or(|k| c.kind() == k)
            && f.id.is_none_or(|id| c.id == id)
            && f.addr.as_ref().is_none_or(|a| a.as_ref() == c.addr.as_bytes())
            && f.laddr.as_ref().is_none_or(|a| a.as_ref() == c.laddr.as_bytes())
    };
    let mut killed = 0;
    for c in ctx.eng.clients.values_mut() {
        if matches(c) {
            c.kill();
            killed += 1;
        }
    }
    if !f.skipme && matches(ctx.client) {
        // Killing ourselves: reply first, then close (Redis's CLOSE_AFTER_REPLY).
        ctx.client.flags.close_after_reply = true;
        killed += 1;
    }
    if old_style {
        if killed == 0 {
            return Err(CommandError::err("No such client"));
        }
        return Ok(Reply::ok());
    }
    Ok(Reply::Int(killed))
}

/// CLIENT REPLY ON | OFF | SKIP
pub fn client_reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mode = &mut ctx.client.reply_mode;
    match argv[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            *mode = ReplyMode::default();
            Ok(Reply::ok())
        }
        // OFF and SKIP have no reply of their own.
        b"off" => {
            mode.off = true;
            Ok(Reply::NoReply)
        }
        b"skip" => {
            if !mode.off {
                mode.skip_next = true;
            }
            Ok(Reply::NoReply)
        }
        _ => Err(CommandError::Syntax),
    }
}

fn on_off(arg: &[u8]) -> Result<bool, CommandError> {
    match arg.to_ascii_lowercase().as_slice() {
        b"on" => Ok(true),
        b"off" => Ok(false),
        _ => Err(CommandError::Syntax),
    }
}

/// CLIENT NO-EVICT ON | OFF
pub fn client_no_evict(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.flags.no_evict = on_off(&argv[2])?;
    Ok(Reply::ok())
}

/// CLIENT NO-TOUCH ON | OFF
pub fn client_no_touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.flags.no_touch = on_off(&argv[2])?;
    Ok(Reply::ok())
}

/// CLIENT PAUSE timeout [WRITE | ALL]
pub fn client_pause(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ms = parse_int(&argv[2]).map_err(|_| CommandError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    let all = match argv.len() {
        3 => true,
        4 if argv[3].eq_ignore_ascii_case(b"ALL") => true,
        4 if argv[3].eq_ignore_ascii_case(b"WRITE") => false,
        4 => return Err(CommandError::err("CLIENT PAUSE mode must be WRITE or ALL")),
        _ => return Err(CommandError::Syntax),
    };
    let until = Instant::now() + Duration::from_millis(ms as u64);
    // A new pause never shortens an existing one, nor weakens ALL to WRITE.
    let pause = match ctx.eng.pause {
        Some(p) => Pause { until: p.until.max(until), all: p.all || all },
        None => Pause { until, all },
    };
    ctx.eng.pause = Some(pause);
    Ok(Reply::ok())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
pub fn client_unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_int(&argv[2])?;
    let reply = match argv.get(3).map(|a| a.to_ascii_lowercase()) {
        None => None,
        Some(m) if m == b"timeout" => None,
        Some(m) if m == b"error" => Some(Reply::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())),
        Some(_) => return Err(CommandError::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    if argv.len() > 4 {
        return Err(CommandError::Syntax);
    }
    // A SHUTDOWN waiting for replicas cannot be unblocked: its client would
    // be told it failed while the shutdown goes on (redis-server 7.0 aborts).
    if ctx.eng.shutdown_waiter(id as u64) {
        return Ok(Reply::Int(0));
    }
    Ok(Reply::Int(ctx.eng.unblock_with(id as u64, reply) as i64))
}

/// CLIENT UNPAUSE
pub fn client_unpause(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.eng.pause = None;
    ctx.eng.events.unpause.notify_waiters();
    Ok(Reply::ok())
}

/// CLIENT HELP
pub fn client_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID <client-id>, TYPE (NORMAL|MASTER|REPLICA|PUBSUB),",
            "    USER <username>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE <type>, ID <id> [...].",
            "NO-EVICT (ON|OFF)",
            "    Protect the current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Do not change the access time of keys read by this connection.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend clients (all commands, or writes only) for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
        ],
    ))
}
