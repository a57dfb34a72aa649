//! ACL and its subcommands (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG,
//! SAVE, LOAD, GENPASS, DRYRUN, HELP) with Redis 7.0's replies and errors, and the
//! denial of a command by the client's user's rules ([`permits`]).

use super::table::{CommandSpec, Flags, KeySpec};
use super::{dispatch_subcommand, reply_help, Ctx};
use crate::acl::catalog::{self, CATEGORIES};
use crate::acl::log::{Context, Entry, Reason};
use crate::acl::rules::{has_spaces, merge_selector_words, Denied, Selector};
use crate::acl::{file, User};
use crate::num::parse_i64;
use std::sync::Arc;

const ACL_SUB: Flags = Flags::LOADING.union(Flags::STALE);
const ACL_ADMIN: Flags = ACL_SUB.union(Flags::ADMIN);

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// The most bits ACL GENPASS makes.
const GENPASS_MAX_BITS: i64 = 4096;

pub(super) const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: Flags::NONE,
    keys: KeySpec::NONE,
    group: "server",
    summary: "A container for Access List Control commands",
    since: "6.0.0",
    complexity: "Depends on subcommand.",
    syntax: "",
    handler: dispatch_subcommand,
    subcommands: SUBCOMMANDS,
}];

/// An ACL subcommand of the table: they differ in name, arity, flags, texts and
/// handler.
const fn sub(
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
        group: "server",
        summary,
        since: "6.0.0",
        complexity,
        syntax,
        handler,
        subcommands: &[],
    }
}

const CONFIGURED_USERS: &str = "O(N). Where N is the number of configured users.";

const SUBCOMMANDS: &[CommandSpec] = &[
    sub(
        "cat",
        -2,
        ACL_SUB,
        "List the ACL categories or the commands inside a category",
        "O(1) since the categories and commands are a fixed set.",
        "[categoryname]",
        cat,
    ),
    sub(
        "deluser",
        -3,
        ACL_ADMIN,
        "Remove the specified ACL users and the associated rules",
        "O(1) amortized time considering the typical user.",
        "username [username ...]",
        deluser,
    ),
    CommandSpec {
        since: "7.0.0",
        ..sub(
            "dryrun",
            -4,
            ACL_ADMIN,
            "Returns whether the user can execute the given command without executing the command.",
            "O(1).",
            "username command [arg [arg ...]]",
            dryrun,
        )
    },
    sub(
        "genpass",
        -2,
        ACL_SUB,
        "Generate a pseudorandom secure password to use for ACL users",
        "O(1)",
        "[bits]",
        genpass,
    ),
    sub(
        "getuser",
        3,
        ACL_ADMIN,
        "Get the rules for a specific ACL user",
        "O(N). Where N is the number of password, command and pattern rules that the user has.",
        "username",
        getuser,
    ),
    CommandSpec::help("server", "6.0.0", help),
    sub(
        "list",
        2,
        ACL_ADMIN,
        "List the current ACL rules in ACL config file format",
        CONFIGURED_USERS,
        "",
        list,
    ),
    sub(
        "load",
        2,
        ACL_ADMIN,
        "Reload the ACLs from the configured ACL file",
        CONFIGURED_USERS,
        "",
        load,
    ),
    sub(
        "log",
        -2,
        ACL_ADMIN,
        "List latest events denied because of ACLs in place",
        "O(N) with N being the number of entries shown.",
        "[count | RESET]",
        log,
    ),
    sub(
        "save",
        2,
        ACL_ADMIN,
        "Save the current ACL rules in the configured ACL file",
        CONFIGURED_USERS,
        "",
        save,
    ),
    sub(
        "setuser",
        -3,
        ACL_ADMIN,
        "Modify or create the rules for a specific ACL user",
        "O(N). Where N is the number of rules provided.",
        "username [rule [rule ...]]",
        setuser,
    ),
    sub(
        "users",
        2,
        ACL_ADMIN,
        "List the username of all the configured ACL rules",
        CONFIGURED_USERS,
        "",
        users,
    ),
    sub(
        "whoami",
        2,
        ACL_SUB,
        "Return the name of the user associated to the current connection",
        "O(1)",
        "",
        whoami,
    ),
];

/// Whether the client's user may run the command (`spec`, named `full_name`) with
/// its keys and channels. If not, writes Redis's NOPERM error, records the denial in
/// the ACL log, and returns false. The caller skips this for unrestricted users.
pub(super) fn permits(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, full_name: &str) -> bool {
    let info = catalog::of(spec);
    let denied = match ctx.client.user.rules().check(info, ctx.args) {
        Ok(()) => return true,
        Err(denied) => denied,
    };
    let in_exec = ctx.client.in_exec;
    let (reason, object) = match denied {
        Denied::Command => (Reason::Command, full_name.as_bytes().to_vec()),
        Denied::Key(i) => (Reason::Key, ctx.args[i].to_vec()),
        Denied::Channel(i) => (Reason::Channel, ctx.args[i].to_vec()),
    };
    let username = ctx.client.user.name.clone();
    record_denial(ctx, reason, object, username);
    let message = match (in_exec, denied) {
        // A script's command (Redis's `scriptCall`), also inside EXEC.
        _ if ctx.client.in_script => match denied {
            Denied::Command => {
                "ERR The user executing the script can't run this command or subcommand"
            }
            Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys \
                 mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned \
                 in the command"
            }
        }
        .to_owned(),
        (false, Denied::Command) => {
            format!("NOPERM this user has no permissions to run the '{full_name}' command")
        }
        (false, Denied::Key(_)) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_owned()
        }
        (false, Denied::Channel(_)) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_owned()
        }
        (true, denied) => format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and \
             the EXEC call. This command is no longer allowed for the following reason: {}",
            match denied {
                Denied::Command => "no permission to execute the command or subcommand",
                Denied::Key(_) => "no permission to touch the specified keys",
                Denied::Channel(_) => {
                    "no permission to access one of the channels used as arguments"
                }
            }
        ),
    };
    ctx.out.error(message);
    false
}

/// Adds a denial to the ACL log, with the client as CLIENT LIST shows it.
pub(super) fn record_denial(ctx: &mut Ctx<'_>, reason: Reason, object: Vec<u8>, username: Vec<u8>) {
    let context = match (
        ctx.client.in_script,
        ctx.client.multi.is_some() || ctx.client.in_exec,
    ) {
        (true, _) => Context::Lua,
        (false, true) => Context::Multi,
        (false, false) => Context::Toplevel,
    };
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        time_ms: tier_engine::now_ms(),
        client_info: super::connection::client_info(ctx),
    };
    let max_len = ctx.shared.config.load().acllog_max_len as usize;
    ctx.shared.acl.log.add(entry, max_len);
}

/// Closes every client authenticated as one of `users`: the caller after its reply.
fn disconnect_users(ctx: &mut Ctx<'_>, users: &[Arc<User>], only_subscribers: bool) {
    let me = ctx.client.handle.id;
    for client in ctx.shared.clients.all() {
        let theirs = client.user.lock().clone();
        if !users.iter().any(|u| Arc::ptr_eq(u, &theirs)) {
            continue;
        }
        let subscribed = client
            .subscribed
            .iter()
            .any(|n| n.load(std::sync::atomic::Ordering::Relaxed) > 0);
        if only_subscribers && !subscribed {
            continue;
        }
        if client.id == me {
            ctx.client.close_after_reply = true;
        } else {
            client.kill();
        }
    }
}

/// `ACL SETUSER name rule...`: all rules apply, or none.
fn setuser(ctx: &mut Ctx<'_>) {
    ctx.client.hide_from_slowlog = true;
    let args = ctx.args;
    let name = &args[2];
    if has_spaces(name) {
        return ctx
            .out
            .error("ERR Usernames can't contain spaces or null characters");
    }
    let words: Vec<Vec<u8>> = args[3..].iter().map(|a| a.to_vec()).collect();
    let rules = match merge_selector_words(&words) {
        Ok(rules) => rules,
        Err(at) => {
            return ctx.out.error(format!(
                "ERR Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&words[at])
            ))
        }
    };
    match ctx.shared.acl.set_user(name, &rules) {
        Ok((user, Some(before))) => {
            // Subscribers lose their connection when channels they may use are taken
            // away (Redis's ACLKillPubsubClientsIfNeeded, judged per user).
            let now = user.rules();
            let kept = now.all_channels()
                || before
                    .selectors()
                    .iter()
                    .chain(std::iter::once(before.root()))
                    .all(|s| {
                        s.channels_list()
                            .iter()
                            .all(|c| now.channel_allowed(c, true))
                    });
            drop(now);
            if !kept {
                disconnect_users(ctx, &[user], true);
            }
            ctx.out.ok();
        }
        Ok((_, None)) => ctx.out.ok(),
        Err((rule, e)) => ctx.out.error(format!(
            "ERR Error in ACL SETUSER modifier '{}': {}",
            String::from_utf8_lossy(&rule),
            e.message()
        )),
    }
}

fn deluser(ctx: &mut Ctx<'_>) {
    let names: Vec<&[u8]> = ctx.args[2..].iter().map(|a| &a[..]).collect();
    if names.contains(&crate::acl::DEFAULT_USER) {
        return ctx.out.error("ERR The 'default' user cannot be removed");
    }
    let deleted = ctx.shared.acl.delete_users(&names);
    disconnect_users(ctx, &deleted, false);
    ctx.out.integer(deleted.len() as i64);
}

fn getuser(ctx: &mut Ctx<'_>) {
    let Some(user) = ctx.shared.acl.user(&ctx.args[2]) else {
        return ctx.out.null();
    };
    let rules = user.rules();
    let out = &mut *ctx.out;
    out.map_len(6);
    out.bulk(b"flags");
    let flags = rules.flag_names();
    out.set_len(flags.len());
    for flag in flags {
        out.bulk(flag.as_bytes());
    }
    out.bulk(b"passwords");
    let hashes = rules.password_hashes();
    out.array_len(hashes.len());
    for hash in hashes {
        out.bulk(hash.as_bytes());
    }
    write_selector(out, rules.root());
    out.bulk(b"selectors");
    out.array_len(rules.selectors().len());
    for selector in rules.selectors() {
        out.map_len(3);
        write_selector(out, selector);
    }
}

/// A selector's `commands`, `keys` and `channels` fields of ACL GETUSER.
fn write_selector(out: &mut crate::resp::ReplyWriter, selector: &Selector) {
    out.bulk(b"commands");
    out.bulk(&selector.describe_commands());
    out.bulk(b"keys");
    out.bulk(&selector.keys_text());
    out.bulk(b"channels");
    out.bulk(&selector.channels_text());
}

/// ACL LIST and ACL USERS.
fn list(ctx: &mut Ctx<'_>) {
    let text = file::render(&ctx.shared.acl.users());
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    ctx.out.array_len(lines.len());
    for line in lines {
        ctx.out.bulk(line);
    }
}

fn users(ctx: &mut Ctx<'_>) {
    let users = ctx.shared.acl.users();
    ctx.out.array_len(users.len());
    for user in users {
        ctx.out.bulk(&user.name);
    }
}

fn whoami(ctx: &mut Ctx<'_>) {
    ctx.out.bulk(&ctx.client.user.name);
}

fn load(ctx: &mut Ctx<'_>) {
    let Some(path) = ctx.config.aclfile.clone() else {
        return ctx.out.error(NO_ACLFILE);
    };
    match tokio::task::block_in_place(|| file::load(&path)) {
        Ok(loaded) => {
            let gone = ctx.shared.acl.replace_all(loaded);
            disconnect_users(ctx, &gone, false);
            ctx.out.ok();
        }
        Err(errors) => ctx.out.error(format!("ERR {errors}")),
    }
}

fn save(ctx: &mut Ctx<'_>) {
    let Some(path) = ctx.config.aclfile.clone() else {
        return ctx.out.error(NO_ACLFILE);
    };
    let users = ctx.shared.acl.users();
    match tokio::task::block_in_place(|| file::save(&path, &users)) {
        Ok(()) => ctx.out.ok(),
        Err(e) => {
            tracing::warn!("Saving the ACL file {}: {e}", path.display());
            ctx.out.error(
                "ERR There was an error trying to save the ACLs. Please check the server logs \
                 for more information",
            )
        }
    }
}

fn cat(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    match args.len() {
        2 => {
            ctx.out.array_len(CATEGORIES.len());
            for name in CATEGORIES {
                ctx.out.bulk(name.as_bytes());
            }
        }
        3 => {
            let Some(index) = catalog::category_index(&args[2]) else {
                let name = String::from_utf8_lossy(&args[2]);
                let name: String = name.chars().take(128).collect();
                return ctx.out.error(format!("ERR Unknown category '{name}'"));
            };
            let names: Vec<&str> = catalog::all()
                .iter()
                .filter(|c| c.categories.contains(index))
                .map(|c| c.full_name)
                .collect();
            ctx.out.array_len(names.len());
            for name in names {
                ctx.out.bulk(name.as_bytes());
            }
        }
        _ => ctx.subcommand_syntax_error(),
    }
}

fn genpass(ctx: &mut Ctx<'_>) {
    let bits = match ctx.args.get(2) {
        None => 256,
        Some(arg) if ctx.args.len() == 3 => match parse_i64(arg) {
            Some(bits) => bits,
            None => return ctx.not_integer(),
        },
        Some(_) => return ctx.subcommand_syntax_error(),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return ctx.out.error(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to {GENPASS_MAX_BITS}"
        ));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let hex = crate::acl::rules::hex(&bytes);
    ctx.out.bulk(&hex.as_bytes()[..chars]);
}

/// `ACL LOG [count | RESET]`.
fn log(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let count = match args.get(2) {
        None => 10,
        Some(_) if args.len() > 3 => return ctx.subcommand_syntax_error(),
        Some(arg) if arg.eq_ignore_ascii_case(b"reset") => {
            ctx.shared.acl.log.reset();
            return ctx.out.ok();
        }
        Some(arg) => match parse_i64(arg) {
            Some(n) => n.max(0) as usize,
            None => return ctx.not_integer(),
        },
    };
    let entries = ctx.shared.acl.log.newest(count);
    let now = tier_engine::now_ms();
    let out = &mut *ctx.out;
    out.array_len(entries.len());
    for entry in entries {
        out.map_len(7);
        out.bulk(b"count");
        out.integer(entry.count as i64);
        out.bulk(b"reason");
        out.bulk(entry.reason.name().as_bytes());
        out.bulk(b"context");
        out.bulk(entry.context.name().as_bytes());
        out.bulk(b"object");
        out.bulk(&entry.object);
        out.bulk(b"username");
        out.bulk(&entry.username);
        out.bulk(b"age-seconds");
        out.double(now.saturating_sub(entry.time_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(entry.client_info.as_bytes());
    }
}

/// `ACL DRYRUN user command [arg ...]`: +OK, or why the user may not run it.
fn dryrun(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(user) = ctx.shared.acl.user(&args[2]) else {
        return ctx.out.error(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(&args[2])
        ));
    };
    let request = &args[3..];
    let spec = match super::table::lookup(&request[0]) {
        Some(spec) if !spec.subcommands.is_empty() && request.len() > 1 => {
            spec.subcommand(&request[1])
        }
        found => found,
    };
    let Some(spec) = spec else {
        return ctx.out.error(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&request[0])
        ));
    };
    let info = catalog::of(spec);
    if !spec.arity_ok(request.len()) {
        return ctx.wrong_arity(info.full_name);
    }
    let text = match user.rules().check(info, request) {
        Ok(()) => return ctx.out.ok(),
        Err(Denied::Command) => format!(
            "This user has no permissions to run the '{}' command",
            info.full_name
        ),
        Err(Denied::Key(i)) => format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(&request[i])
        ),
        Err(Denied::Channel(i)) => format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(&request[i])
        ),
    };
    ctx.out.bulk(text.as_bytes());
}

fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
}
