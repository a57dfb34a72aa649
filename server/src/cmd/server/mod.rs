//! Server commands: INFO, CONFIG, COMMAND, SLOWLOG, TIME, LASTSAVE, DEBUG and
//! SHUTDOWN, with Redis 7.0's replies and errors, and tierd's own TIER SNAPSHOT.
//! INFO lives in [`info`], CONFIG in [`config`], COMMAND in [`command`] (its argument
//! trees in [`command_docs`]), SLOWLOG in [`slowlog`].

mod command;
mod command_docs;
mod config;
mod info;
mod slowlog;

use super::table::{CommandSpec, Flags, KeySpec};
use super::{dispatch_subcommand, reply_help, Ctx};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::persist::{self, JobKind, Refused};
use crate::resp::Protocol;

/// Served while loading and while stale, as most server commands are (Redis adds
/// NOSCRIPT, which tierd does not model).
const SERVER: Flags = Flags::LOADING.union(Flags::STALE);
const ADMIN: Flags = SERVER.union(Flags::ADMIN);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "command",
        arity: -1,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get array of Redis command details",
        since: "2.8.13",
        complexity: "O(N) where N is the total number of Redis commands",
        syntax: "",
        handler: command::command,
        subcommands: COMMAND_SUBCOMMANDS,
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "server",
        summary: "A container for server configuration commands",
        since: "2.0.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: CONFIG_SUBCOMMANDS,
    },
    CommandSpec {
        name: "debug",
        arity: -2,
        flags: ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "A container for debugging commands",
        since: "1.0.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: debug,
        subcommands: &[],
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: SERVER.union(Flags::NONDETERMINISTIC),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get information and statistics about the server",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "[section [section ...]]",
        handler: info::info,
        subcommands: &[],
    },
    CommandSpec {
        name: "save",
        arity: 1,
        flags: Flags::ADMIN.union(Flags::NO_MULTI).union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Synchronously save the dataset to disk",
        since: "1.0.0",
        complexity: "O(N) where N is the total number of keys in all databases",
        syntax: "",
        handler: save,
        subcommands: &[],
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: Flags::ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Asynchronously save the dataset to disk",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "[SCHEDULE]",
        handler: bgsave,
        subcommands: &[],
    },
    CommandSpec {
        name: "bgrewriteaof",
        arity: 1,
        flags: Flags::ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Asynchronously rewrite the append-only file",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: bgrewriteaof,
        subcommands: &[],
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: SERVER.union(Flags::FAST).union(Flags::NONDETERMINISTIC),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: lastsave,
        subcommands: &[],
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: ADMIN.union(Flags::NO_MULTI).union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        since: "1.0.0",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        syntax: "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
        handler: shutdown,
        subcommands: &[],
    },
    CommandSpec {
        name: "slowlog",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "server",
        summary: "A container for slow log commands",
        since: "2.2.12",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: SLOWLOG_SUBCOMMANDS,
    },
    CommandSpec {
        name: "tier",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "server",
        summary: "A container for tierd's own commands",
        since: "7.0.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: TIER_SUBCOMMANDS,
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: SERVER.union(Flags::FAST).union(Flags::NONDETERMINISTIC),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Return the current server time",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "",
        handler: time,
        subcommands: &[],
    },
];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "count",
        arity: 2,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get total number of Redis commands",
        since: "2.8.13",
        complexity: "O(1)",
        syntax: "",
        handler: command::count,
        subcommands: &[],
    },
    CommandSpec {
        name: "docs",
        arity: -2,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get array of specific Redis command documentation",
        since: "7.0.0",
        complexity: "O(N) where N is the number of commands to look up",
        syntax: "[command-name [command-name ...]]",
        handler: command::docs,
        subcommands: &[],
    },
    CommandSpec {
        name: "getkeys",
        arity: -4,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Extract keys given a full Redis command",
        since: "2.8.13",
        complexity: "O(N) where N is the number of arguments to the command",
        syntax: "",
        handler: command::getkeys,
        subcommands: &[],
    },
    CommandSpec {
        name: "getkeysandflags",
        arity: -4,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Extract keys and access flags given a full Redis command",
        since: "7.0.0",
        complexity: "O(N) where N is the number of arguments to the command",
        syntax: "",
        handler: command::getkeysandflags,
        subcommands: &[],
    },
    CommandSpec::help("server", "5.0.0", command::help),
    CommandSpec {
        name: "info",
        arity: -2,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get array of specific Redis command details, or all when no argument is given.",
        since: "2.8.13",
        complexity: "O(N) where N is the number of commands to look up",
        syntax: "[command-name [command-name ...]]",
        handler: command::info,
        subcommands: &[],
    },
    CommandSpec {
        name: "list",
        arity: -2,
        flags: SERVER,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get an array of Redis command names",
        since: "7.0.0",
        complexity: "O(N) where N is the total number of Redis commands",
        syntax: "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
        handler: command::list,
        subcommands: &[],
    },
];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: -3,
        flags: ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get the values of configuration parameters",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "parameter [parameter ...]",
        handler: config::get,
        subcommands: &[],
    },
    CommandSpec::help("server", "5.0.0", config::help),
    CommandSpec {
        name: "resetstat",
        arity: 2,
        flags: ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Reset the stats returned by INFO",
        since: "2.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: config::resetstat,
        subcommands: &[],
    },
    CommandSpec {
        name: "rewrite",
        arity: 2,
        flags: ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Rewrite the configuration file with the in memory configuration",
        since: "2.8.0",
        complexity: "O(1)",
        syntax: "",
        handler: config::rewrite,
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -4,
        flags: ADMIN.union(Flags::NO_SCRIPT),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Set configuration parameters to the given values",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "parameter value [parameter value ...]",
        handler: config::set,
        subcommands: &[],
    },
];

const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: -2,
        flags: ADMIN.union(Flags::NONDETERMINISTIC),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get the slow log's entries",
        since: "2.2.12",
        complexity: "O(N) where N is the number of entries returned",
        syntax: "[count]",
        handler: slowlog::get,
        subcommands: &[],
    },
    CommandSpec::help("server", "6.2.0", slowlog::help),
    CommandSpec {
        name: "len",
        arity: 2,
        flags: ADMIN.union(Flags::NONDETERMINISTIC),
        keys: KeySpec::NONE,
        group: "server",
        summary: "Get the slow log's length",
        since: "2.2.12",
        complexity: "O(1)",
        syntax: "",
        handler: slowlog::len,
        subcommands: &[],
    },
    CommandSpec {
        name: "reset",
        arity: 2,
        flags: ADMIN,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Clear all entries from the slow log",
        since: "2.2.12",
        complexity: "O(N) where N is the number of entries in the slowlog",
        syntax: "",
        handler: slowlog::reset,
        subcommands: &[],
    },
];

const TIER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::help("server", "7.0.0", tier_help),
    CommandSpec {
        name: "snapshot",
        arity: 2,
        flags: Flags::ADMIN,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Stream a point-in-time snapshot file of the whole dataset",
        since: "7.0.0",
        complexity: "O(N) where N is the total number of keys in all databases",
        syntax: "",
        handler: tier_snapshot,
        subcommands: &[],
    },
    CommandSpec {
        name: "trace",
        arity: 3,
        flags: Flags::FAST,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Mark the replies of commands that read the cold tier (RESP3 attribute)",
        since: "7.0.0",
        complexity: "O(1)",
        syntax: "ON|OFF",
        handler: tier_trace,
        subcommands: &[],
    },
];

/// The config file tierd was started with, as an absolute path: the first argument
/// of the command line when it is not a flag, as `config::parse_args` reads it.
fn config_file() -> Option<&'static Path> {
    static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
    FILE.get_or_init(|| {
        let first = std::env::args_os().nth(1)?;
        if first.as_encoded_bytes().starts_with(b"-") {
            return None;
        }
        std::path::absolute(first).ok()
    })
    .as_deref()
}

fn time(ctx: &mut Ctx<'_>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array_len(2);
    ctx.out.bulk_integer(now.as_secs() as i64);
    ctx.out.bulk_integer(i64::from(now.subsec_micros()));
}

/// SAVE: the snapshot file written now; the client waits (others go on: the save
/// runs beside them, on this worker thread, which the runtime hands its other tasks).
fn save(ctx: &mut Ctx<'_>) {
    match tokio::task::block_in_place(|| persist::save_now(ctx.shared)) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(e),
    }
}

/// BGSAVE [SCHEDULE]: the snapshot file written by a thread of its own.
fn bgsave(ctx: &mut Ctx<'_>) {
    let schedule = match &ctx.args[1..] {
        [] => false,
        [arg] if arg.eq_ignore_ascii_case(b"schedule") => true,
        _ => return ctx.syntax_error(),
    };
    match persist::bgsave(ctx.shared) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(Refused::Busy(JobKind::Rewrite)) if schedule => {
            // The cron starts it once the rewrite ends.
            ctx.shared
                .persistence
                .save_scheduled
                .store(true, std::sync::atomic::Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled")
        }
        Err(Refused::Busy(JobKind::Rewrite)) => ctx.out.error(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ),
        Err(Refused::Busy(JobKind::Save)) => ctx.out.error(persist::busy_error(JobKind::Save)),
        Err(Refused::NoAof) => unreachable!("a save needs no AOF"),
    }
}

/// BGREWRITEAOF: a new AOF base written by a thread of its own, from a point-in-time
/// capture whose first instant starts the next increment.
fn bgrewriteaof(ctx: &mut Ctx<'_>) {
    match persist::bgrewriteaof(ctx.shared) {
        Ok(()) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Err(Refused::Busy(JobKind::Save)) => ctx
            .out
            .simple("Background append only file rewriting scheduled"),
        Err(Refused::Busy(JobKind::Rewrite)) => {
            ctx.out.error(persist::busy_error(JobKind::Rewrite))
        }
        Err(Refused::NoAof) => ctx
            .out
            .error("ERR tierd rewrites the AOF only with appendonly yes"),
    }
}

fn tier_help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "SNAPSHOT",
            "    Stream a snapshot file of the whole dataset as it is now (a RESP3 streamed string).",
            "TRACE ON|OFF",
            "    Precede the reply of each command that read values from the cold tier with",
            "    the RESP3 attribute |1 +cold :<values read> (RESP3 connections only).",
        ],
    );
}

/// TIER SNAPSHOT: the connection streams the snapshot as the reply (see
/// `persist::stream`); refused, as BGSAVE, while a save or a rewrite runs.
fn tier_snapshot(ctx: &mut Ctx<'_>) {
    match persist::stream::stream_snapshot(ctx.shared) {
        Ok(stream) => ctx.client.snapshot = Some(stream),
        Err(Refused::Busy(kind)) => ctx.out.error(persist::busy_error(kind)),
        Err(Refused::NoAof) => unreachable!("a snapshot needs no AOF"),
    }
}

/// TIER TRACE ON|OFF: turns the connection's cold-read attributes on or off. ON needs
/// RESP3 (attributes do not exist in RESP2); a later HELLO 2 stops them as well.
fn tier_trace(ctx: &mut Ctx<'_>) {
    let on = match &ctx.args[2] {
        arg if arg.eq_ignore_ascii_case(b"on") => true,
        arg if arg.eq_ignore_ascii_case(b"off") => false,
        _ => return ctx.syntax_error(),
    };
    if on && ctx.out.proto != Protocol::Resp3 {
        return ctx
            .out
            .error("ERR TIER TRACE needs RESP3 (HELLO 3): its marks are RESP3 attributes");
    }
    ctx.client.trace_cold = on;
    ctx.out.ok();
}

fn lastsave(ctx: &mut Ctx<'_>) {
    let at = ctx
        .shared
        .lastsave
        .load(std::sync::atomic::Ordering::Relaxed);
    ctx.out.integer(at as i64);
}

/// DEBUG SLEEP <seconds>, DEBUG HELP and tierd's own DEBUG DEMOTE <key> [<key> ...].
/// As if `enable-debug-command` were `yes`.
fn debug(ctx: &mut Ctx<'_>) {
    let sub = ctx.args[1].to_ascii_lowercase();
    match (sub.as_slice(), ctx.args.len()) {
        (b"help", 2) => reply_help(
            ctx,
            &[
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "DEMOTE <key> [<key> ...]",
                "    Move the values of the keys to the cold tier now. Returns how many moved.",
            ],
        ),
        (b"demote", 3..) => debug_demote(ctx),
        (b"sleep", 3) => {
            // Only this connection pauses; the others go on.
            let pause = sleep_duration(&ctx.args[2]);
            ctx.client.pause = (!pause.is_zero()).then_some(pause);
            ctx.out.ok();
        }
        _ => ctx.subcommand_syntax_error(),
    }
}

/// DEBUG DEMOTE: demotes each named key's value now, whatever maxmemory says (for
/// tests and for trying the cold path by hand). The write to the tier blocks, so the
/// runtime is told to move this worker's other tasks elsewhere meanwhile.
fn debug_demote(ctx: &mut Ctx<'_>) {
    let Some(tier) = ctx.shared.tier.get() else {
        return ctx.out.error("ERR the cold tier is not running");
    };
    let db = ctx.client.db;
    let mut demoted = 0;
    for key in &ctx.args[2..] {
        match tokio::task::block_in_place(|| tier.demote_key(db, key)) {
            Ok(moved) => demoted += i64::from(moved),
            Err(e) => return ctx.out.error(format!("ERR demotion failed: {e}")),
        }
    }
    ctx.out.integer(demoted);
}

/// DEBUG SLEEP's argument as Redis reads it: the longest prefix that `strtod` takes
/// as a number of seconds (nothing readable is 0); a negative, infinite or
/// unrepresentable time is no sleep.
fn sleep_duration(arg: &[u8]) -> Duration {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    let seconds = (1..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| {
            let prefix = &text[..end];
            // Rust also reads "inf", "nan" and "infinity", which are no sleep anyway.
            prefix.parse::<f64>().ok()
        })
        .unwrap_or(0.0);
    let micros = seconds * 1e6;
    if micros.is_finite() && micros >= 1.0 && micros < i64::MAX as f64 {
        Duration::from_micros(micros as u64)
    } else {
        Duration::ZERO
    }
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT], as Redis: the snapshot file is
/// saved first with SAVE, or by default when `save` points are set; a failed save
/// stops the shutdown unless FORCE. The AOF is made durable as the server exits. On
/// success nothing is replied: the connection closes as the server exits.
fn shutdown(ctx: &mut Ctx<'_>) {
    let (mut nosave, mut save, mut force, mut abort) = (false, false, false, false);
    if ctx.args.len() > 5 {
        return ctx.syntax_error();
    }
    for arg in &ctx.args[1..] {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            // No replicas to wait for: NOW changes nothing.
            b"now" => {}
            b"force" => force = true,
            b"abort" => abort = true,
            _ => return ctx.syntax_error(),
        }
    }
    if (abort && ctx.args.len() > 2) || (nosave && save) {
        return ctx.syntax_error();
    }
    if abort {
        return ctx.out.error("ERR No shutdown in progress.");
    }
    tracing::warn!("User requested shutdown...");
    if save || (!nosave && !ctx.config.save.is_empty()) {
        tracing::info!("Saving the final snapshot before exiting.");
        if let Err(e) = tokio::task::block_in_place(|| persist::save_now(ctx.shared)) {
            if !force {
                tracing::warn!("Error trying to save the DB, can't exit: {e}");
                return ctx.out.error("ERR Errors trying to SHUTDOWN. Check logs.");
            }
            tracing::warn!("Error trying to save the DB: {e}. Exit anyway.");
        }
    }
    ctx.shared.shutdown();
    ctx.client.close_after_reply = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_reads_like_strtod() {
        let ms = |arg: &str| sleep_duration(arg.as_bytes()).as_millis();
        assert_eq!(ms("0.5"), 500);
        assert_eq!(ms("1e-1"), 100);
        assert_eq!(ms(".25"), 250);
        assert_eq!(ms(" 0.5"), 500);
        assert_eq!(ms("1.5x"), 1500);
        assert_eq!(ms("2"), 2000);
        for none in [
            "",
            "abc",
            "-1",
            "-0.5",
            "0",
            "inf",
            "nan",
            "1e300",
            "0.0000001",
        ] {
            assert_eq!(ms(none), 0, "{none:?}");
        }
    }
}
