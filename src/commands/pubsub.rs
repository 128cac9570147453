//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
//! PUBSUB CHANNELS/NUMSUB/NUMPAT. Delivery and the registry live in
//! `engine::pubsub`; the RESP2 subscriber-context restrictions live in the gate.

use super::error::CmdResult;
use super::keys::help_reply;
use super::table::{cmd, CommandSpec};
use crate::engine::Ctx;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use bytes::Bytes;

/// Table rows of the pub/sub family.
#[rustfmt::skip]
pub fn commands() -> Vec<CommandSpec> {
    vec![
        cmd("subscribe", -2, "pubsub noscript loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(subscribe)),
        cmd("unsubscribe", -1, "pubsub noscript loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(unsubscribe)),
        cmd("psubscribe", -2, "pubsub noscript loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(psubscribe)),
        cmd("punsubscribe", -1, "pubsub noscript loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(punsubscribe)),
        cmd("publish", 3, "pubsub loading stale fast", "@pubsub @fast", (0, 0, 0), "", "", Some(publish)),
        cmd("pubsub", -2, "", "@slow", (0, 0, 0), "", "", None).with_subcommands(vec![
            cmd("pubsub|channels", -2, "pubsub loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(pubsub_channels)),
            cmd("pubsub|help", 2, "loading stale", "@slow", (0, 0, 0), "", "", Some(pubsub_help)),
            cmd("pubsub|numpat", 2, "pubsub loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(pubsub_numpat)),
            cmd("pubsub|numsub", -2, "pubsub loading stale", "@pubsub @slow", (0, 0, 0), "", "", Some(pubsub_numsub)),
        ]),
    ]
}

/// A subscription confirmation: `[kind, name, count]` (a push in RESP3).
fn confirmation(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(Bytes::from_static(kind.as_bytes())),
        name.map(Reply::Bulk).unwrap_or(Reply::Nil),
        Reply::Int(count as i64),
    ])
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let mut out = Vec::new();
    for ch in &argv[1..] {
        if !ctx.client.channels.contains(ch) {
            ctx.client.channels.push(ch.clone());
            ctx.eng.pubsub.channels.entry(ch.clone()).or_default().push(id);
        }
        out.push(confirmation("subscribe", Some(ch.clone()), ctx.client.subscriptions()));
    }
    Ok(Reply::Many(out))
}

/// UNSUBSCRIBE [channel [channel ...]]
pub fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Bytes> = if argv.len() > 1 { argv[1..].to_vec() } else { ctx.client.channels.clone() };
    if targets.is_empty() {
        return Ok(confirmation("unsubscribe", None, ctx.client.subscriptions()));
    }
    let mut out = Vec::new();
    for ch in targets {
        if let Some(pos) = ctx.client.channels.iter().position(|c| *c == ch) {
            ctx.client.channels.remove(pos);
            ctx.eng.pubsub_forget_channel(id, &ch);
        }
        out.push(confirmation("unsubscribe", Some(ch), ctx.client.subscriptions()));
    }
    Ok(Reply::Many(out))
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let mut out = Vec::new();
    for p in &argv[1..] {
        if !ctx.client.patterns.contains(p) {
            ctx.client.patterns.push(p.clone());
            match ctx.eng.pubsub.patterns.iter_mut().find(|(q, _)| q == p) {
                Some((_, ids)) => ids.push(id),
                None => ctx.eng.pubsub.patterns.push((p.clone(), vec![id])),
            }
        }
        out.push(confirmation("psubscribe", Some(p.clone()), ctx.client.subscriptions()));
    }
    Ok(Reply::Many(out))
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
pub fn punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = ctx.client.id;
    let targets: Vec<Bytes> = if argv.len() > 1 { argv[1..].to_vec() } else { ctx.client.patterns.clone() };
    if targets.is_empty() {
        return Ok(confirmation("punsubscribe", None, ctx.client.subscriptions()));
    }
    let mut out = Vec::new();
    for p in targets {
        if let Some(pos) = ctx.client.patterns.iter().position(|c| *c == p) {
            ctx.client.patterns.remove(pos);
            ctx.eng.pubsub_forget_pattern(id, &p);
        }
        out.push(confirmation("punsubscribe", Some(p), ctx.client.subscriptions()));
    }
    Ok(Reply::Many(out))
}

/// Drops every subscription of the calling client (RESET).
pub fn unsubscribe_all(ctx: &mut Ctx) {
    let id = ctx.client.id;
    for ch in std::mem::take(&mut ctx.client.channels) {
        ctx.eng.pubsub_forget_channel(id, &ch);
    }
    for p in std::mem::take(&mut ctx.client.patterns) {
        ctx.eng.pubsub_forget_pattern(id, &p);
    }
}

/// PUBLISH channel message
pub fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Replicas deliver it to their own subscribers, as in Redis.
    ctx.propagate(argv.to_vec());
    Ok(Reply::Int(ctx.eng.publish(&argv[1], &argv[2]) as i64))
}

/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pattern = argv.get(2);
    let out = ctx
        .eng
        .pubsub
        .channels
        .keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
        .map(|c| Reply::Bulk(c.clone()))
        .collect();
    Ok(Reply::Array(out))
}

/// PUBSUB NUMSUB [channel [channel ...]]
pub fn pubsub_numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::new();
    for ch in &argv[2..] {
        let n = ctx.eng.pubsub.channels.get(ch).map_or(0, |ids| ids.len());
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(n as i64));
    }
    Ok(Reply::Array(out))
}

/// PUBSUB NUMPAT
pub fn pubsub_numpat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.eng.pubsub.numpat() as i64))
}

/// PUBSUB HELP
pub fn pubsub_help(_ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ],
    ))
}
