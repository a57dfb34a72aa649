//! Pub/Sub: who listens to which channel and pattern ([`PubSub`], node-wide), and each
//! subscriber's [`Mailbox`], where PUBLISH leaves messages for the subscriber's
//! connection to write out (in RESP2 arrays or RESP3 pushes, as that connection
//! speaks). A subscriber that does not read its messages is disconnected by
//! `client-output-buffer-limit pubsub` once what waits for it passes the hard limit,
//! or the soft limit for longer than its seconds; its memory is freed.
//!
//! The commands are in `cmd::pubsub`; the connection waits on its mailbox beside its
//! socket (`conn.rs`).

use crate::client::ClientHandle;
use crate::config::OutputLimit;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_engine::glob::glob_match;
use tokio::sync::Notify;

/// One message for a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How it was subscribed to: its channel (a `message`), a pattern it matched (a
    /// `pmessage`, the pattern here), or its shard channel (an `smessage`).
    pub kind: Kind,
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
}

impl Message {
    /// About the bytes its reply takes, for the output buffer limit.
    fn size(&self) -> usize {
        const FRAMING: usize = 48;
        FRAMING
            + self.pattern.as_ref().map_or(0, Bytes::len)
            + self.channel.len()
            + self.payload.len()
    }
}

/// The messages waiting for one subscriber's connection.
pub struct Mailbox {
    queue: Mutex<Queue>,
    ready: Notify,
    client: Arc<ClientHandle>,
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    bytes: usize,
    /// Since when `bytes` is above the soft limit.
    soft_since: Option<Instant>,
    /// The limit was passed: the client is being closed, nothing more is kept.
    overflowed: bool,
}

impl Mailbox {
    pub fn new(client: Arc<ClientHandle>) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            queue: Mutex::default(),
            ready: Notify::new(),
            client,
        })
    }

    /// Leaves `message` for the connection, unless that passes `limit`: then the
    /// client is killed and its messages dropped.
    fn post(&self, message: Message, limit: OutputLimit) {
        let mut queue = self.queue.lock();
        if queue.overflowed {
            return;
        }
        queue.bytes += message.size();
        queue.messages.push_back(message);
        let bytes = queue.bytes as u64;
        let now = Instant::now();
        let soft_over = limit.soft > 0 && bytes > limit.soft;
        if !soft_over {
            queue.soft_since = None;
        }
        let since = *queue.soft_since.get_or_insert(now);
        let over = (limit.hard > 0 && bytes > limit.hard)
            || (soft_over && now - since >= Duration::from_secs(limit.soft_seconds));
        if over {
            queue.overflowed = true;
            queue.messages = VecDeque::new();
            queue.bytes = 0;
            drop(queue);
            tracing::warn!(
                id = self.client.id,
                addr = %self.client.addr,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits."
            );
            self.client.kill();
            return;
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Takes every waiting message.
    pub fn take(&self) -> VecDeque<Message> {
        let mut queue = self.queue.lock();
        queue.bytes = 0;
        queue.soft_since = None;
        std::mem::take(&mut queue.messages)
    }

    /// Resolves once messages may be waiting.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Bytes waiting (CLIENT LIST's `omem` share).
    pub fn pending_bytes(&self) -> usize {
        self.queue.lock().bytes
    }
}

/// A subscription: the subscriber's mailbox, by client id.
type Subscribers = BTreeMap<u64, Arc<Mailbox>>;

/// Every channel and pattern with its subscribers.
#[derive(Default)]
pub struct PubSub {
    channels: Mutex<BTreeMap<Bytes, Subscribers>>,
    patterns: Mutex<BTreeMap<Bytes, Subscribers>>,
    shard_channels: Mutex<BTreeMap<Bytes, Subscribers>>,
}

/// Channels, patterns, or shard channels (SSUBSCRIBE: a namespace of their own, which
/// SPUBLISH reaches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    fn table(&self, kind: Kind) -> &Mutex<BTreeMap<Bytes, Subscribers>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Adds `mailbox` as a subscriber of `name`; false if it was one already.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, mailbox: &Arc<Mailbox>) -> bool {
        self.table(kind)
            .lock()
            .entry(name.clone())
            .or_default()
            .insert(mailbox.client.id, mailbox.clone())
            .is_none()
    }

    /// Removes client `id` from the subscribers of `name`; false if it was not one.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        let mut table = self.table(kind).lock();
        let Some(subscribers) = table.get_mut(name) else {
            return false;
        };
        let removed = subscribers.remove(&id).is_some();
        if subscribers.is_empty() {
            table.remove(name);
        }
        removed
    }

    /// PUBLISH (or SPUBLISH, with `kind` Shard): leaves the message with every
    /// subscriber of `channel` (and, for PUBLISH, of every pattern matching it);
    /// returns how many got it (a client counted once per subscription).
    pub fn publish(
        &self,
        kind: Kind,
        channel: &Bytes,
        payload: &Bytes,
        limit: OutputLimit,
    ) -> usize {
        let post = |kind: Kind, pattern: Option<&Bytes>, subscribers: &Subscribers| {
            for mailbox in subscribers.values() {
                let message = Message {
                    kind,
                    pattern: pattern.cloned(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                mailbox.post(message, limit);
            }
            subscribers.len()
        };
        let mut receivers = 0;
        if let Some(subscribers) = self.table(kind).lock().get(channel) {
            receivers += post(kind, None, subscribers);
        }
        if kind == Kind::Channel {
            for (pattern, subscribers) in self.patterns.lock().iter() {
                if glob_match(pattern, channel, false) {
                    receivers += post(Kind::Pattern, Some(pattern), subscribers);
                }
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS (SHARDCHANNELS): the channels of `kind` with a subscriber,
    /// matching `pattern` if given.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.table(kind)
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB (SHARDNUMSUB): the subscribers of `channel`.
    pub fn subscribers(&self, kind: Kind, channel: &[u8]) -> usize {
        self.table(kind)
            .lock()
            .get(channel)
            .map_or(0, BTreeMap::len)
    }

    /// How many names of `kind` have a subscriber (INFO, NUMPAT).
    pub fn count(&self, kind: Kind) -> usize {
        self.table(kind).lock().len()
    }
}

/// A client's subscriptions, kept in the order they were made, and its mailbox
/// (made at the first subscription). Dropped, it leaves every channel and pattern.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: Vec<Bytes>,
    pub patterns: Vec<Bytes>,
    pub shard_channels: Vec<Bytes>,
    pub mailbox: Option<Arc<Mailbox>>,
    registry: Option<Arc<PubSub>>,
}

impl Subscriptions {
    /// The channels or the patterns subscribed to.
    pub fn list(&self, kind: Kind) -> &Vec<Bytes> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn list_mut(&mut self, kind: Kind) -> &mut Vec<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// The count a confirmation of `kind` carries: channels and patterns, or shard
    /// channels (Redis counts them apart).
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard_channels.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// Whether any subscription is held (RESP2's subscribed mode).
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty())
    }

    /// Subscribes the client `handle` to `name`; false if it was already.
    pub fn subscribe(
        &mut self,
        registry: &Arc<PubSub>,
        handle: &Arc<ClientHandle>,
        kind: Kind,
        name: &Bytes,
    ) -> bool {
        if self.list(kind).contains(name) {
            return false;
        }
        let mailbox = self
            .mailbox
            .get_or_insert_with(|| Mailbox::new(handle.clone()))
            .clone();
        self.registry.get_or_insert_with(|| registry.clone());
        registry.subscribe(kind, name, &mailbox);
        self.list_mut(kind).push(name.clone());
        true
    }

    /// Unsubscribes from `name`; false if not subscribed.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8]) -> bool {
        let list = self.list_mut(kind);
        let Some(at) = list.iter().position(|n| n == name) else {
            return false;
        };
        list.remove(at);
        if let (Some(registry), Some(mailbox)) = (&self.registry, &self.mailbox) {
            registry.unsubscribe(kind, name, mailbox.client.id);
        }
        true
    }

    /// Leaves every channel and pattern (RESET, disconnection).
    pub fn clear(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(self.list_mut(kind)) {
                if let (Some(registry), Some(mailbox)) = (&self.registry, &self.mailbox) {
                    registry.unsubscribe(kind, &name, mailbox.client.id);
                }
            }
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.clear();
    }
}
