//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, HELP). The EVAL handlers run the script through [`crate::script`]; the
//! session reaches them holding the keyspace's gate alone (`Session::eval`, or EXEC
//! for a script queued in MULTI).

use super::table::{CommandSpec, Flags, KeySpec};
use super::{dispatch_subcommand, reply_help, Ctx};
use crate::num::parse_i64;
use crate::script::{self, Kill, Script};

const EVAL: Flags = Flags::NO_SCRIPT.union(Flags::STALE);
const EVAL_RO: Flags = EVAL.union(Flags::READONLY);
const SCRIPT: Flags = Flags::NO_SCRIPT;
const KEYS: KeySpec = KeySpec::counted_at(2);
const EVAL_SYNTAX: &str = "script numkeys [key [key ...]] [arg [arg ...]]";
const EVALSHA_SYNTAX: &str = "sha1 numkeys [key [key ...]] [arg [arg ...]]";

/// One EVAL-family command.
const fn eval_spec(
    name: &'static str,
    flags: Flags,
    summary: &'static str,
    since: &'static str,
    syntax: &'static str,
    handler: super::table::Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags,
        keys: KEYS,
        group: "scripting",
        summary,
        since,
        complexity: "Depends on the script that is executed.",
        syntax,
        handler,
        subcommands: &[],
    }
}

/// One SCRIPT subcommand.
const fn script_spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    summary: &'static str,
    complexity: &'static str,
    syntax: &'static str,
    handler: super::table::Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: KeySpec::NONE,
        group: "scripting",
        summary,
        since: "2.6.0",
        complexity,
        syntax,
        handler,
        subcommands: &[],
    }
}

pub(super) const COMMANDS: &[CommandSpec] = &[
    eval_spec(
        "eval",
        EVAL,
        "Execute a Lua script server side",
        "2.6.0",
        EVAL_SYNTAX,
        eval,
    ),
    eval_spec(
        "eval_ro",
        EVAL_RO,
        "Execute a read-only Lua script server side",
        "7.0.0",
        EVAL_SYNTAX,
        eval_ro,
    ),
    eval_spec(
        "evalsha",
        EVAL,
        "Execute a Lua script server side",
        "2.6.0",
        EVALSHA_SYNTAX,
        evalsha,
    ),
    eval_spec(
        "evalsha_ro",
        EVAL_RO,
        "Execute a read-only Lua script server side",
        "7.0.0",
        EVALSHA_SYNTAX,
        evalsha_ro,
    ),
    CommandSpec {
        name: "script",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "scripting",
        summary: "A container for Lua scripts management commands",
        since: "2.6.0",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: dispatch_subcommand,
        subcommands: SCRIPT_SUBCOMMANDS,
    },
];

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    script_spec(
        "exists",
        -3,
        SCRIPT,
        "Check existence of scripts in the script cache.",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        "sha1 [sha1 ...]",
        exists,
    ),
    script_spec(
        "flush",
        -2,
        SCRIPT,
        "Remove all the scripts from the script cache.",
        "O(N) with N being the number of scripts in cache",
        "[ASYNC | SYNC]",
        flush,
    ),
    CommandSpec::help("scripting", "5.0.0", help),
    script_spec(
        "kill",
        2,
        SCRIPT,
        "Kill the script currently in execution.",
        "O(1)",
        "",
        kill,
    ),
    script_spec(
        "load",
        3,
        SCRIPT.union(Flags::STALE),
        "Load the specified Lua script into the script cache.",
        "O(N) with N being the length in bytes of the script body.",
        "script",
        load,
    ),
];

fn eval(ctx: &mut Ctx<'_>) {
    run_script(ctx, false, false);
}

fn eval_ro(ctx: &mut Ctx<'_>) {
    run_script(ctx, false, true);
}

fn evalsha(ctx: &mut Ctx<'_>) {
    run_script(ctx, true, false);
}

fn evalsha_ro(ctx: &mut Ctx<'_>) {
    run_script(ctx, true, true);
}

/// The EVAL family: the script (cached by its SHA1, or found by it), its keys and
/// arguments, checked in Redis's order; then runs it.
fn run_script(ctx: &mut Ctx<'_>, by_sha: bool, read_only: bool) {
    let shared = ctx.shared;
    let scripts = &shared.scripts;
    let known = match by_sha {
        true => match scripts.body(&ctx.args[1]) {
            Some(body) => Some(body),
            None => {
                return ctx
                    .out
                    .error("NOSCRIPT No matching script. Please use EVAL.")
            }
        },
        false => None,
    };
    let Some(numkeys) = parse_i64(&ctx.args[2]) else {
        return ctx.not_integer();
    };
    if numkeys > (ctx.args.len() - 3) as i64 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return ctx.out.error("ERR Number of keys can't be negative");
    };
    let (body, sha) = match known {
        Some(body) => {
            let sha = String::from_utf8_lossy(&ctx.args[1]).to_ascii_lowercase();
            (body, sha)
        }
        None => {
            let body = ctx.args[1].clone();
            match scripts.load(&body) {
                Ok(sha) => (body, sha),
                Err(e) => return ctx.out.error(e),
            }
        }
    };
    let args = ctx.args;
    let (keys, argv) = args[3..].split_at(numkeys);
    script::run(
        ctx,
        Script {
            sha: &sha,
            body: &body,
            keys,
            argv,
            read_only,
        },
    );
}

fn exists(ctx: &mut Ctx<'_>) {
    let scripts = &ctx.shared.scripts;
    let found: Vec<bool> = ctx.args[2..]
        .iter()
        .map(|sha| scripts.body(sha).is_some())
        .collect();
    ctx.out.array_len(found.len());
    for found in found {
        ctx.out.integer(i64::from(found));
    }
}

/// SCRIPT FLUSH [ASYNC|SYNC]: both empty the cache at once (it is small).
fn flush(ctx: &mut Ctx<'_>) {
    let mode_ok = match &ctx.args[2..] {
        [] => true,
        [mode] => mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync"),
        _ => false,
    };
    if !mode_ok {
        return ctx
            .out
            .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.shared.scripts.flush();
    ctx.out.ok();
}

fn kill(ctx: &mut Ctx<'_>) {
    match ctx.shared.scripts.kill() {
        Kill::Killed => ctx.out.ok(),
        Kill::NotBusy => ctx.out.error("NOTBUSY No scripts in execution right now."),
        Kill::Unkillable => ctx.out.error(
            "UNKILLABLE Sorry the script already executed write commands against the \
             dataset. You can either wait the script termination or kill the server in a \
             hard way using the SHUTDOWN NOSAVE command.",
        ),
    }
}

fn load(ctx: &mut Ctx<'_>) {
    match ctx.shared.scripts.load(&ctx.args[2]) {
        Ok(sha) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.out.error(e),
    }
}

fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
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
        ],
    );
}
