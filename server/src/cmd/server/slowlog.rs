//! SLOWLOG GET / LEN / RESET / HELP over the node's [`SlowLog`](crate::slowlog::SlowLog).

use crate::cmd::{reply_help, Ctx};
use crate::num::parse_i64;

/// Entries SLOWLOG GET returns when no count is given.
const DEFAULT_COUNT: usize = 10;

/// SLOWLOG GET [count]: the newest entries first; a count of -1 means all.
pub(super) fn get(ctx: &mut Ctx<'_>) {
    if ctx.args.len() > 3 {
        return ctx.subcommand_syntax_error();
    }
    let count = match ctx.args.get(2) {
        None => DEFAULT_COUNT,
        Some(arg) => match parse_i64(arg) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return ctx
                    .out
                    .error("ERR count should be greater than or equal to -1")
            }
        },
    };
    let entries = ctx.shared.slowlog.get(Some(count));
    ctx.out.array_len(entries.len());
    for entry in entries {
        ctx.out.array_len(6);
        ctx.out.integer(entry.id as i64);
        ctx.out.integer(entry.time as i64);
        ctx.out.integer(entry.micros as i64);
        ctx.out.array_len(entry.args.len());
        for arg in &entry.args {
            ctx.out.bulk(arg);
        }
        ctx.out.bulk(entry.client_addr.as_bytes());
        ctx.out.bulk(&entry.client_name);
    }
}

pub(super) fn len(ctx: &mut Ctx<'_>) {
    ctx.out.integer(ctx.shared.slowlog.len() as i64);
}

pub(super) fn reset(ctx: &mut Ctx<'_>) {
    ctx.shared.slowlog.reset();
    ctx.out.ok();
}

pub(super) fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}
