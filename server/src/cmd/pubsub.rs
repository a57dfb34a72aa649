//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the shard
//! channels' SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, and PUBSUB (CHANNELS, NUMSUB, NUMPAT,
//! SHARDCHANNELS, SHARDNUMSUB, HELP). The registry and the subscribers' mailboxes are
//! in [`crate::pubsub`]; the connection writes out what arrives in its mailbox.

use super::table::{CommandSpec, Flags, KeySpec};
use super::{dispatch_subcommand, reply_help, Ctx};
use crate::config::ClientClass;
use crate::pubsub::Kind;
use bytes::Bytes;

const PUBSUB: Flags = Flags::PUBSUB.union(Flags::LOADING).union(Flags::STALE);
/// The shard commands name their channels where keys go (cluster slots), but read no
/// value.
const SHARD: Flags = PUBSUB.union(Flags::KEYS_ONLY);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        flags: PUBSUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Listen for messages published to channels matching the given patterns",
        since: "2.0.0",
        complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
        syntax: "pattern [pattern ...]",
        handler: psubscribe,
        subcommands: &[],
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: PUBSUB.union(Flags::FAST),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Post a message to a channel",
        since: "2.0.0",
        complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        syntax: "channel message",
        handler: publish,
        subcommands: &[],
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "A container for Pub/Sub commands",
        since: "2.8.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: PUBSUB_SUBCOMMANDS,
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        flags: PUBSUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Stop listening for messages posted to channels matching the given patterns",
        since: "2.0.0",
        complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        syntax: "[pattern [pattern ...]]",
        handler: punsubscribe,
        subcommands: &[],
    },
    CommandSpec {
        name: "spublish",
        arity: 3,
        flags: SHARD.union(Flags::FAST),
        keys: KeySpec::ONE,
        group: "pubsub",
        summary: "Post a message to a shard channel",
        since: "7.0.0",
        complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        syntax: "shardchannel message",
        handler: spublish,
        subcommands: &[],
    },
    CommandSpec {
        name: "ssubscribe",
        arity: -2,
        flags: SHARD.union(Flags::NO_SCRIPT),
        keys: KeySpec::ALL,
        group: "pubsub",
        summary: "Listen for messages published to the given shard channels",
        since: "7.0.0",
        complexity: "O(N) where N is the number of shard channels to subscribe to.",
        syntax: "shardchannel [shardchannel ...]",
        handler: ssubscribe,
        subcommands: &[],
    },
    CommandSpec {
        name: "subscribe",
        arity: -2,
        flags: PUBSUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Listen for messages published to the given channels",
        since: "2.0.0",
        complexity: "O(N) where N is the number of channels to subscribe to.",
        syntax: "channel [channel ...]",
        handler: subscribe,
        subcommands: &[],
    },
    CommandSpec {
        name: "sunsubscribe",
        arity: -1,
        flags: SHARD.union(Flags::NO_SCRIPT),
        keys: KeySpec::ALL,
        group: "pubsub",
        summary: "Stop listening for messages posted to the given shard channels",
        since: "7.0.0",
        complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
        syntax: "[shardchannel [shardchannel ...]]",
        handler: sunsubscribe,
        subcommands: &[],
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        flags: PUBSUB.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Stop listening for messages posted to the given channels",
        since: "2.0.0",
        complexity: "O(N) where N is the number of clients already subscribed to a channel.",
        syntax: "[channel [channel ...]]",
        handler: unsubscribe,
        subcommands: &[],
    },
];

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "channels",
        arity: -2,
        flags: PUBSUB,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "List active channels",
        since: "2.8.0",
        complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        syntax: "[pattern]",
        handler: channels,
        subcommands: &[],
    },
    CommandSpec {
        name: "help",
        arity: 2,
        flags: Flags::LOADING.union(Flags::STALE),
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Show helpful text about the different subcommands",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "",
        handler: help,
        subcommands: &[],
    },
    CommandSpec {
        name: "numpat",
        arity: 2,
        flags: PUBSUB,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Get the count of unique patterns pattern subscriptions",
        since: "2.8.0",
        complexity: "O(1)",
        syntax: "",
        handler: numpat,
        subcommands: &[],
    },
    CommandSpec {
        name: "shardchannels",
        arity: -2,
        flags: PUBSUB,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "List active shard channels",
        since: "7.0.0",
        complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        syntax: "[pattern]",
        handler: shardchannels,
        subcommands: &[],
    },
    CommandSpec {
        name: "shardnumsub",
        arity: -2,
        flags: PUBSUB,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Get the count of subscribers for shard channels",
        since: "7.0.0",
        complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        syntax: "[shardchannel [shardchannel ...]]",
        handler: shardnumsub,
        subcommands: &[],
    },
    CommandSpec {
        name: "numsub",
        arity: -2,
        flags: PUBSUB,
        keys: KeySpec::NONE,
        group: "pubsub",
        summary: "Get the count of subscribers for channels",
        since: "2.8.0",
        complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        syntax: "[channel [channel ...]]",
        handler: numsub,
        subcommands: &[],
    },
];

/// Whether `name` may run in RESP2's subscribed mode (Redis's `processCommand` list).
pub(crate) fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn subscribe(ctx: &mut Ctx<'_>) {
    subscribe_to(ctx, Kind::Channel, "subscribe");
}

fn psubscribe(ctx: &mut Ctx<'_>) {
    subscribe_to(ctx, Kind::Pattern, "psubscribe");
}

fn ssubscribe(ctx: &mut Ctx<'_>) {
    subscribe_to(ctx, Kind::Shard, "ssubscribe");
}

fn sunsubscribe(ctx: &mut Ctx<'_>) {
    unsubscribe_from(ctx, Kind::Shard, "sunsubscribe");
}

fn unsubscribe(ctx: &mut Ctx<'_>) {
    unsubscribe_from(ctx, Kind::Channel, "unsubscribe");
}

fn punsubscribe(ctx: &mut Ctx<'_>) {
    unsubscribe_from(ctx, Kind::Pattern, "punsubscribe");
}

/// One confirmation per name: `[reply, name, subscriptions of its kind now]`, as a
/// push in RESP3.
fn confirm(ctx: &mut Ctx<'_>, kind: Kind, reply: &str, name: Option<&[u8]>) {
    ctx.out.push_len(3);
    ctx.out.bulk(reply.as_bytes());
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.integer(ctx.client.pubsub.count(kind) as i64);
}

fn subscribe_to(ctx: &mut Ctx<'_>, kind: Kind, reply: &str) {
    for name in &ctx.args[1..] {
        // Its own copy: the argument shares the connection's read buffer.
        let name = Bytes::copy_from_slice(name);
        let handle = ctx.client.handle.clone();
        ctx.client
            .pubsub
            .subscribe(&ctx.shared.pubsub, &handle, kind, &name);
        confirm(ctx, kind, reply, Some(&name));
    }
    ctx.client.count_subscriptions();
}

fn unsubscribe_from(ctx: &mut Ctx<'_>, kind: Kind, reply: &str) {
    let names: Vec<Bytes> = match &ctx.args[1..] {
        [] => ctx.client.pubsub.list(kind).clone(),
        given => given.to_vec(),
    };
    if names.is_empty() {
        confirm(ctx, kind, reply, None);
    }
    for name in names {
        ctx.client.pubsub.unsubscribe(kind, &name);
        confirm(ctx, kind, reply, Some(&name));
    }
    ctx.client.count_subscriptions();
}

fn publish(ctx: &mut Ctx<'_>) {
    publish_to(ctx, Kind::Channel);
}

fn spublish(ctx: &mut Ctx<'_>) {
    publish_to(ctx, Kind::Shard);
}

fn publish_to(ctx: &mut Ctx<'_>, kind: Kind) {
    // Copies: messages outlive the request, which shares the read buffer.
    let channel = Bytes::copy_from_slice(&ctx.args[1]);
    let message = Bytes::copy_from_slice(&ctx.args[2]);
    let limit = ctx.config.output_limit(ClientClass::Pubsub);
    let receivers = ctx.shared.pubsub.publish(kind, &channel, &message, limit);
    ctx.out.integer(receivers as i64);
}

fn channels(ctx: &mut Ctx<'_>) {
    list_channels(ctx, Kind::Channel);
}

fn shardchannels(ctx: &mut Ctx<'_>) {
    list_channels(ctx, Kind::Shard);
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn list_channels(ctx: &mut Ctx<'_>, kind: Kind) {
    if ctx.args.len() > 3 {
        return ctx.subcommand_syntax_error();
    }
    let pattern = ctx.args.get(2).map(|p| &p[..]);
    let channels = ctx.shared.pubsub.channels(kind, pattern);
    ctx.out.array_len(channels.len());
    for channel in channels {
        ctx.out.bulk(&channel);
    }
}

fn numsub(ctx: &mut Ctx<'_>) {
    count_subscribers(ctx, Kind::Channel);
}

fn shardnumsub(ctx: &mut Ctx<'_>) {
    count_subscribers(ctx, Kind::Shard);
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: each channel and its subscribers.
fn count_subscribers(ctx: &mut Ctx<'_>, kind: Kind) {
    let channels = &ctx.args[2..];
    ctx.out.array_len(channels.len() * 2);
    for channel in channels {
        ctx.out.bulk(channel);
        let n = ctx.shared.pubsub.subscribers(kind, channel);
        ctx.out.integer(n as i64);
    }
}

fn numpat(ctx: &mut Ctx<'_>) {
    let patterns = ctx.shared.pubsub.count(Kind::Pattern);
    ctx.out.integer(patterns as i64);
}

fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}
