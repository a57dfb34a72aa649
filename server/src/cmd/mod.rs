//! Commands: the table ([`table`]), one file per family, and [`execute`], which checks
//! a request against the table (existence, arity, authentication, memory) and runs
//! its handler. Handlers write exactly one reply into the connection's writer.

pub mod table;

mod connection;
mod keys;
mod server;
mod strings;

use crate::client::Client;
use crate::config::Config;
use crate::resp::ReplyWriter;
use crate::shared::Shared;
use bytes::Bytes;
use std::sync::Arc;
use table::{CommandSpec, Flags};
use tier_engine::Db;

/// The command families; [`table::commands`] indexes them by name.
pub(crate) const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    keys::COMMANDS,
    server::COMMANDS,
    strings::COMMANDS,
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
}

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&self) -> Arc<Db> {
        self.shared.keyspace.db(self.client.db)
    }

    /// Writes Redis's reply for an argument that must be an integer and is not.
    pub fn not_integer(&mut self) {
        self.out.error("ERR value is not an integer or out of range");
    }

    pub fn syntax_error(&mut self) {
        self.out.error("ERR syntax error");
    }

    pub fn wrong_type(&mut self) {
        self.out.error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }

    /// The error for a subcommand this command does not have, as Redis words it.
    pub fn unknown_subcommand(&mut self) {
        let name = String::from_utf8_lossy(&self.args[0]).to_uppercase();
        let sub = String::from_utf8_lossy(&self.args[1]);
        self.out.error(format!(
            "ERR unknown subcommand '{}'. Try {name} HELP.",
            truncate(&sub, 128)
        ));
    }
}

/// Parses a whole argument as a signed 64-bit integer, as Redis's `string2ll`: no
/// spaces, no plus sign, no leading zeros.
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(arg).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros, and "-0", are not canonical integers for Redis.
    if digits.starts_with('0') && (digits.len() > 1 || s.starts_with('-')) {
        return None;
    }
    s.parse().ok()
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Runs one request (`ctx.args` is non-empty).
pub fn execute(ctx: &mut Ctx<'_>) {
    let Some(spec) = table::lookup(&ctx.args[0]) else {
        unknown_command(ctx);
        return;
    };
    run_spec(ctx, spec, spec.name);
}

fn run_spec(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, full_name: &'static str) {
    if !spec.arity_ok(ctx.args.len()) {
        ctx.out.error(format!("ERR wrong number of arguments for '{full_name}' command"));
        return;
    }
    if !ctx.client.authenticated && !spec.flags.contains(Flags::NO_AUTH) {
        ctx.out.error("NOAUTH Authentication required.");
        return;
    }
    if spec.flags.contains(Flags::DENYOOM) && over_maxmemory(ctx.config) {
        ctx.out.error("OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    ctx.client.last_command = full_name;
    (spec.handler)(ctx);
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
    names.get(&(parent.name, sub.name)).copied().unwrap_or(sub.name)
}

fn over_maxmemory(config: &Config) -> bool {
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
