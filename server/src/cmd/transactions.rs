//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Inside MULTI the session
//! queues every other command (after checking it as it would run) and runs them at
//! EXEC, atomically (see `Session::exec`); the EXEC handler here answers only an EXEC
//! outside MULTI.

use super::table::{CommandSpec, Flags, KeySpec};
use super::Ctx;

const TRANSACTION: Flags = Flags::LOADING.union(Flags::STALE);
const TRANSACTION_FAST: Flags = TRANSACTION.union(Flags::FAST);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: TRANSACTION_FAST.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "transactions",
        summary: "Discard all commands issued after MULTI",
        since: "2.0.0",
        complexity: "O(N), when N is the number of queued commands",
        syntax: "",
        handler: discard,
        subcommands: &[],
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: TRANSACTION.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "transactions",
        summary: "Execute all commands issued after MULTI",
        since: "1.2.0",
        complexity: "Depends on commands in the transaction",
        syntax: "",
        handler: exec_without_multi,
        subcommands: &[],
    },
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: TRANSACTION_FAST.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "transactions",
        summary: "Mark the start of a transaction block",
        since: "1.2.0",
        complexity: "O(1)",
        syntax: "",
        handler: multi,
        subcommands: &[],
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: TRANSACTION_FAST.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "transactions",
        summary: "Forget about all watched keys",
        since: "2.2.0",
        complexity: "O(1)",
        syntax: "",
        handler: unwatch,
        subcommands: &[],
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: TRANSACTION_FAST.union(Flags::NO_SCRIPT),
        keys: KeySpec::ALL,
        group: "transactions",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        since: "2.2.0",
        complexity: "O(1) for every key.",
        syntax: "key [key ...]",
        handler: watch,
        subcommands: &[],
    },
];

/// Whether `name` runs at once inside MULTI rather than being queued (Redis's
/// `processCommand` list).
pub(crate) fn runs_inside_multi(name: &[u8]) -> bool {
    ["exec", "discard", "multi", "watch", "quit", "reset"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

fn multi(ctx: &mut Ctx<'_>) {
    if ctx.client.multi.is_some() {
        return ctx.out.error("ERR MULTI calls can not be nested");
    }
    ctx.client.begin_multi();
    ctx.out.ok();
}

/// EXEC reaches its handler only outside MULTI (inside, the session runs it).
fn exec_without_multi(ctx: &mut Ctx<'_>) {
    ctx.out.error("ERR EXEC without MULTI");
}

fn discard(ctx: &mut Ctx<'_>) {
    if ctx.client.multi.is_none() {
        return ctx.out.error("ERR DISCARD without MULTI");
    }
    ctx.client.end_multi();
    ctx.out.ok();
}

fn watch(ctx: &mut Ctx<'_>) {
    // Not queued (it is one of the commands that run inside MULTI), but refused.
    if ctx.client.multi.is_some() {
        return ctx.out.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    for key in &ctx.args[1..] {
        ctx.client
            .watching
            .watch(&ctx.shared.keyspace, db, key, ctx.now);
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx<'_>) {
    ctx.client.watching.unwatch_all();
    ctx.out.ok();
}
