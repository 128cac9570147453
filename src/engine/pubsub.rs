//! Pub/Sub registry: channel and pattern subscriptions by client id, and PUBLISH
//! delivery through each subscriber's push channel, encoded for its protocol
//! (RESP2 arrays or RESP3 pushes).

use super::Engine;
use crate::protocol::{encode, Reply};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;

/// Subscriptions of all clients.
#[derive(Debug, Default)]
pub struct PubSub {
    pub channels: HashMap<Bytes, Vec<u64>>,
    /// Patterns in subscription order, with their subscribers.
    pub patterns: Vec<(Bytes, Vec<u64>)>,
}

impl PubSub {
    /// Number of patterns with at least one subscriber (PUBSUB NUMPAT counts
    /// subscriptions, which is the same since a client subscribes a pattern once).
    pub fn numpat(&self) -> usize {
        self.patterns.iter().map(|(_, ids)| ids.len()).sum()
    }
}

impl Engine {
    /// Delivers `message` on `channel` to every subscriber; returns how many
    /// received it (PUBLISH's reply). The executing client (not in `clients`) gets
    /// its copy through `self_deliveries`, which the gate flushes after the command.
    pub fn publish(&mut self, channel: &Bytes, message: &Bytes) -> usize {
        let mut receivers = 0;
        let mut targets: Vec<(u64, Reply)> = Vec::new();
        if let Some(ids) = self.pubsub.channels.get(channel) {
            for &id in ids {
                let r = Reply::Push(vec![
                    Reply::bulk(Bytes::from_static(b"message")),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                targets.push((id, r));
            }
        }
        for (pattern, ids) in &self.pubsub.patterns {
            if crate::util::glob::glob_match(pattern, channel, false) {
                for &id in ids {
                    let r = Reply::Push(vec![
                        Reply::bulk(Bytes::from_static(b"pmessage")),
                        Reply::Bulk(pattern.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(message.clone()),
                    ]);
                    targets.push((id, r));
                }
            }
        }
        for (id, reply) in targets {
            // A client already scheduled for closing no longer receives messages.
            if self.clients.get(&id).is_some_and(|c| c.flags.killed) {
                continue;
            }
            receivers += 1;
            self.push_to_client(id, &reply);
        }
        receivers
    }

    /// Queues `reply` on client `id`'s connection, encoded for its protocol, and
    /// disconnects it when its pending output passes the pub/sub hard limit
    /// (`client-output-buffer-limit pubsub`).
    pub fn push_to_client(&mut self, id: u64, reply: &Reply) {
        let limit = self.config.client_output_buffer_limit.pubsub.hard;
        match self.clients.get_mut(&id) {
            Some(c) => {
                let mut buf = BytesMut::new();
                encode(reply, c.resp, &mut buf);
                let pending = c.handle.pending.fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed) + buf.len();
                if limit > 0 && pending as u64 > limit {
                    c.close_for_output_limit();
                    return;
                }
                let _ = c.handle.push.send(buf.freeze());
            }
            None => self.self_deliveries.push((id, reply.clone())),
        }
    }
}

impl Engine {
    /// Removes client `id` from `channel`'s subscribers.
    pub fn pubsub_forget_channel(&mut self, id: u64, channel: &Bytes) {
        if let Some(ids) = self.pubsub.channels.get_mut(channel) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.pubsub.channels.remove(channel);
            }
        }
    }

    /// Removes client `id` from `pattern`'s subscribers.
    pub fn pubsub_forget_pattern(&mut self, id: u64, pattern: &Bytes) {
        if let Some(pos) = self.pubsub.patterns.iter().position(|(p, _)| p == pattern) {
            self.pubsub.patterns[pos].1.retain(|&i| i != id);
            if self.pubsub.patterns[pos].1.is_empty() {
                self.pubsub.patterns.remove(pos);
            }
        }
    }
}
