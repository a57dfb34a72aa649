//! Commands: the table ([`table`]), one file per family, and [`execute`], which checks
//! a request against the table (existence, arity, authentication, ACL permissions,
//! memory) and runs
//! its handler. Handlers write exactly one reply into the connection's writer.

pub mod table;
pub mod values;

mod acl;
mod collection;
mod connection;
mod expire;
mod hashes;
mod keys;
mod lists;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod sort;
mod strings;
mod transactions;
mod zsets;

pub(crate) use connection::REDIS_VERSION;
pub(crate) use sort::pattern_keys;
pub(crate) use transactions::runs_inside_multi;

use crate::client::Client;
use crate::config::Config;
use crate::num::parse_i64;
use crate::resp::ReplyWriter;
use crate::shared::Shared;
use bytes::Bytes;
use std::sync::Arc;
use table::{CommandSpec, Flags};
use tier_engine::{DbRef, Entry, LockMode};

/// The command families; [`table::commands`] indexes them by name.
pub(crate) const FAMILIES: &[&[CommandSpec]] = &[
    acl::COMMANDS,
    connection::COMMANDS,
    hashes::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    pubsub::COMMANDS,
    scripting::COMMANDS,
    server::COMMANDS,
    sets::COMMANDS,
    sort::COMMANDS,
    strings::COMMANDS,
    transactions::COMMANDS,
    zsets::COMMANDS,
];

/// Everything a handler may use while it runs one command.
pub struct Ctx<'a> {
    /// The request: the command name, then its arguments.
    pub args: &'a [Bytes],
    /// Where the reply goes.
    pub out: &'a mut ReplyWriter,
    /// The connection's state.
    pub client: &'a mut Client,
    /// Node-wide state.
    pub shared: &'a Arc<Shared>,
    /// The configuration as it was when this batch of commands started.
    pub config: &'a Config,
    /// The time the command runs at, Unix milliseconds.
    pub now: u64,
    /// Values of the command's keys loaded from the cold tier.
    pub cold: &'a mut values::ColdValues,
}

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&self) -> DbRef {
        self.shared.keyspace.db(self.client.db)
    }

    /// The value of `entry`, the entry of `key` (see [`values`]).
    pub fn value_of<'g>(
        &mut self,
        key: &[u8],
        entry: &'g Entry,
    ) -> Result<values::ValueRef<'g>, values::ColdMiss> {
        self.cold.value_of(key, entry)
    }

    /// Makes the running write log `args` instead of itself when it changes a key (a
    /// relative expiry logged as an absolute one, as Redis 7 propagates it).
    pub fn log_as(&self, args: &[&[u8]]) {
        tier_engine::keyspace::log::log_as(
            args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
        );
    }

    /// Writes Redis's reply for an argument that must be an integer and is not.
    pub fn not_integer(&mut self) {
        self.out
            .error("ERR value is not an integer or out of range");
    }

    pub fn syntax_error(&mut self) {
        self.out.error("ERR syntax error");
    }

    pub fn wrong_type(&mut self) {
        self.out
            .error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }

    /// Redis's arity error for the command `name` (its lower-case full name).
    pub fn wrong_arity(&mut self, name: &str) {
        self.out.error(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }

    /// The error for a subcommand this command does not have, as Redis words it.
    pub fn unknown_subcommand(&mut self) {
        self.subcommand_error("ERR unknown subcommand");
    }

    /// Redis's `addReplySubcommandSyntaxError`, for a subcommand a command parses
    /// itself (DEBUG, SLOWLOG GET with too many arguments).
    pub fn subcommand_syntax_error(&mut self) {
        self.subcommand_error("ERR unknown subcommand or wrong number of arguments for");
    }

    /// `<prefix> '<subcommand>'. Try <COMMAND> HELP.`
    fn subcommand_error(&mut self, prefix: &str) {
        let name = String::from_utf8_lossy(&self.args[0]).to_uppercase();
        let sub = String::from_utf8_lossy(&self.args[1]);
        self.out.error(format!(
            "{prefix} '{}'. Try {name} HELP.",
            truncate(&sub, 128)
        ));
    }

    /// Redis's `getIntFromObjectOrReply`: an argument that must be an integer within a
    /// C `int`. Writes `msg` as the error if given, else Redis's default texts.
    pub fn parse_int(&mut self, arg: &[u8], msg: Option<&str>) -> Option<i32> {
        let Some(n) = parse_i64(arg) else {
            match msg {
                Some(m) => self.out.error(m),
                None => self.not_integer(),
            }
            return None;
        };
        let fits = i32::try_from(n).ok();
        if fits.is_none() {
            self.out.error(msg.unwrap_or(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ));
        }
        fits
    }

    /// `n` as the number of an existing database.
    pub fn database(&self, n: i32) -> Option<usize> {
        usize::try_from(n)
            .ok()
            .filter(|&i| i < self.shared.keyspace.databases())
    }

    /// Redis's error for a database number that names no database.
    pub fn db_out_of_range(&mut self) {
        self.out.error("ERR DB index is out of range");
    }

    /// A database number parsed from `arg`, with Redis's errors (SELECT, MOVE, COPY
    /// ... DB).
    pub fn parse_db_index(&mut self, arg: &[u8]) -> Option<usize> {
        let n = self.parse_int(arg, None)?;
        let index = self.database(n);
        if index.is_none() {
            self.db_out_of_range();
        }
        index
    }
}

/// Redis's `addReplyHelp`: its header (`<COMMAND> <subcommand> ...`), `lines`, then
/// its HELP entry.
pub fn reply_help(ctx: &mut Ctx<'_>, lines: &[&str]) {
    let name = String::from_utf8_lossy(&ctx.args[0]).to_uppercase();
    ctx.out.array_len(lines.len() + 3);
    ctx.out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// The lock requests for `keys`, each taken in `mode`.
pub fn key_locks(keys: &[Bytes], mode: LockMode) -> Vec<(&[u8], LockMode)> {
    keys.iter().map(|k| (k.as_ref(), mode)).collect()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Redis's reply to a write refused for want of memory.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Runs one request (`ctx.args` is non-empty).
pub fn execute(ctx: &mut Ctx<'_>) {
    let Some(spec) = table::lookup(&ctx.args[0]) else {
        unknown_command(ctx);
        return;
    };
    run_spec(ctx, spec, spec.name);
}

/// Whether the command may run now: its arity, authentication, the user's ACL
/// permissions, loading, a failed AOF, memory. If not, writes the error (Redis's
/// `rejectCommand`) and returns false.
fn admit(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, full_name: &'static str) -> bool {
    if !spec.arity_ok(ctx.args.len()) {
        ctx.wrong_arity(full_name);
        return false;
    }
    if !ctx.client.authenticated
        && !spec.flags.contains(Flags::NO_AUTH)
        && !ctx.shared.acl.default_user().rules().needs_no_auth()
    {
        ctx.out.error("NOAUTH Authentication required.");
        return false;
    }
    // The fast path: a user allowed everything (the default user, normally) costs
    // one atomic load. The AOF loader's client runs whatever the log holds. A
    // container is judged by its subcommand, once dispatched.
    if !ctx.client.user.unrestricted()
        && !ctx.client.replaying
        && spec.subcommands.is_empty()
        && !acl::permits(ctx, spec, full_name)
    {
        return false;
    }
    // A container is judged by its subcommand (named `pubsub|channels`).
    if ctx.client.in_pubsub_mode()
        && spec.subcommands.is_empty()
        && !pubsub::allowed_when_subscribed(spec.name)
    {
        ctx.out.error(format!(
            "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
             QUIT / RESET are allowed in this context"
        ));
        return false;
    }
    let persistence = &ctx.shared.persistence;
    if !ctx.client.replaying {
        if persistence.is_loading() && !spec.flags.contains(Flags::LOADING) {
            ctx.out.error(crate::persist::LOADING_ERROR);
            return false;
        }
        if spec.flags.contains(Flags::WRITE) {
            if let Some(refusal) = persistence.write_refusal() {
                ctx.out.error(refusal);
                return false;
            }
        }
    }
    // With a tier, the connection checked it before the command: a write waits for the
    // demoter there, and is refused there if need be. Replayed writes happened.
    if spec.flags.contains(Flags::DENYOOM)
        && ctx.shared.tier.get().is_none()
        && !ctx.client.replaying
        && over_maxmemory(ctx.config)
    {
        ctx.out.error(OOM_ERROR);
        return false;
    }
    true
}

/// A command sent inside MULTI: checked as it would be run (Redis's order: the
/// command, its subcommand, then [`admit`]), and refused if it may not be queued.
/// Returns whether it may be queued; if not, the error is written.
pub fn admit_queued(ctx: &mut Ctx<'_>) -> bool {
    let Some(spec) = table::lookup(&ctx.args[0]) else {
        unknown_command(ctx);
        return false;
    };
    let (spec, name) = match spec.subcommands {
        [] => (spec, spec.name),
        _ if !spec.arity_ok(ctx.args.len()) => (spec, spec.name),
        _ => match spec.subcommand(&ctx.args[1]) {
            Some(sub) => (sub, subcommand_name(spec, sub)),
            None => {
                ctx.unknown_subcommand();
                return false;
            }
        },
    };
    if !admit(ctx, spec, name) {
        return false;
    }
    if spec.flags.contains(Flags::NO_MULTI) {
        ctx.out
            .error("ERR Command not allowed inside a transaction");
        return false;
    }
    true
}

fn run_spec(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, full_name: &'static str) {
    if !admit(ctx, spec, full_name) {
        return;
    }
    ctx.client.last_command = full_name;
    if spec.flags.contains(Flags::WRITE) {
        // What the command changes is logged as it happens (see tier_engine's
        // keyspace::log).
        tier_engine::keyspace::log::run_command(ctx.args, || (spec.handler)(ctx));
    } else {
        (spec.handler)(ctx);
    }
}

/// The ACL check of a command a Lua script runs, made before Redis's other checks for
/// scripts (`scriptVerifyACL`): false, with the error written, if the user may not run
/// it. (`admit` checks again when the command runs; it passes then.)
pub(crate) fn script_permits(ctx: &mut Ctx<'_>) -> bool {
    let Some(base) = table::lookup(&ctx.args[0]) else {
        return true;
    };
    let (spec, full_name) = match base.subcommands {
        [] => (base, base.name),
        _ => match ctx.args.get(1).and_then(|sub| base.subcommand(sub)) {
            Some(sub) => (sub, subcommand_name(base, sub)),
            None => return true,
        },
    };
    ctx.client.user.unrestricted() || acl::permits(ctx, spec, full_name)
}

/// The handler of a command made of subcommands (CONFIG, CLIENT, ...): finds the
/// subcommand named by the second argument and runs it.
pub fn dispatch_subcommand(ctx: &mut Ctx<'_>) {
    let parent = table::lookup(&ctx.args[0]).expect("dispatched from the table");
    match parent.subcommand(&ctx.args[1]) {
        Some(sub) => run_spec(ctx, sub, subcommand_name(parent, sub)),
        None => ctx.unknown_subcommand(),
    }
}

/// `parent|sub`, Redis's full name of a subcommand (arity errors, CLIENT LIST's
/// `cmd=`), built once for every subcommand of the table.
fn subcommand_name(parent: &'static CommandSpec, sub: &'static CommandSpec) -> &'static str {
    type Names = std::collections::HashMap<(&'static str, &'static str), &'static str>;
    static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let subcommands = table::commands()
            .values()
            .flat_map(|p| p.subcommands.iter().map(move |s| (p.name, s.name)));
        // A bounded, one-time allocation: one name per subcommand of the table.
        subcommands
            .map(|(p, s)| ((p, s), &*Box::leak(format!("{p}|{s}").into_boxed_str())))
            .collect()
    });
    names
        .get(&(parent.name, sub.name))
        .copied()
        .unwrap_or(sub.name)
}

/// Whether RAM in use is above `maxmemory` (never with no limit).
pub(crate) fn over_maxmemory(config: &Config) -> bool {
    config.maxmemory > 0 && tier_engine::memory::used_memory() as u64 > config.maxmemory
}

fn unknown_command(ctx: &mut Ctx<'_>) {
    let name = String::from_utf8_lossy(&ctx.args[0]);
    let mut args = String::new();
    for arg in &ctx.args[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(truncate(&String::from_utf8_lossy(arg), room));
        args.push_str("' ");
    }
    ctx.out.error(format!(
        "ERR unknown command '{}', with args beginning with: {args}",
        truncate(&name, 128)
    ));
}
