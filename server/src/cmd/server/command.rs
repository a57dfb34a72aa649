//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS,
//! HELP): what the command table says about each command, in Redis 7.0's reply
//! shapes. What the table does not record is derived as Redis derives it: ACL
//! categories ([`catalog`]), a key spec from the key range, the
//! `nondeterministic_output` tip from the NONDETERMINISTIC flag, and the arguments of
//! COMMAND DOCS from the syntax string ([`command_docs`](super::command_docs)).

use super::command_docs;
use crate::acl::catalog;
use crate::cmd::table::{self, CommandSpec, Flags, KeySpec};
use crate::cmd::{dispatch_subcommand, reply_help, Ctx};
use crate::resp::ReplyWriter;
use bytes::Bytes;
use tier_engine::glob::glob_match;

/// COMMAND: with no subcommand, the details of every command.
pub(super) fn command(ctx: &mut Ctx<'_>) {
    if ctx.args.len() == 1 {
        write_all_infos(ctx.out);
    } else {
        dispatch_subcommand(ctx);
    }
}

pub(super) fn count(ctx: &mut Ctx<'_>) {
    ctx.out.integer(table::commands().len() as i64);
}

pub(super) fn info(ctx: &mut Ctx<'_>) {
    if ctx.args.len() == 2 {
        return write_all_infos(ctx.out);
    }
    ctx.out.array_len(ctx.args.len() - 2);
    for name in &ctx.args[2..] {
        match lookup_full(name) {
            Some((full, spec)) => write_info(ctx.out, &full, spec),
            None => ctx.out.null(),
        }
    }
}

pub(super) fn docs(ctx: &mut Ctx<'_>) {
    let found: Vec<(String, &CommandSpec)> = if ctx.args.len() == 2 {
        sorted_commands()
            .into_iter()
            .map(|spec| (spec.name.to_owned(), spec))
            .collect()
    } else {
        ctx.args[2..]
            .iter()
            .filter_map(|name| lookup_full(name))
            .collect()
    };
    ctx.out.map_len(found.len());
    for (full, spec) in found {
        ctx.out.bulk(full.as_bytes());
        write_docs(ctx.out, &full, spec);
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
pub(super) fn list(ctx: &mut Ctx<'_>) {
    let filter = match &ctx.args[2..] {
        [] => None,
        [by, kind, value] if by.eq_ignore_ascii_case(b"filterby") => {
            let kind = kind.to_ascii_lowercase();
            if !matches!(kind.as_slice(), b"module" | b"aclcat" | b"pattern") {
                return ctx.syntax_error();
            }
            Some((kind, value))
        }
        _ => return ctx.syntax_error(),
    };
    let keep = |full: &str, spec: &'static CommandSpec| match &filter {
        None => true,
        // Tier has no modules.
        Some((kind, _)) if kind == b"module" => false,
        Some((kind, category)) if kind == b"aclcat" => acl_categories(spec)
            .iter()
            .any(|c| c.as_bytes().eq_ignore_ascii_case(category)),
        Some((_, pattern)) => glob_match(pattern, full.as_bytes(), true),
    };
    let mut names = Vec::new();
    for spec in sorted_commands() {
        if keep(spec.name, spec) {
            names.push(spec.name.to_owned());
        }
        for sub in spec.subcommands {
            let full = full_name(spec, sub);
            if keep(&full, sub) {
                names.push(full);
            }
        }
    }
    ctx.out.array_len(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
}

pub(super) fn getkeys(ctx: &mut Ctx<'_>) {
    if let Some((_, keys)) = keys_of(ctx) {
        ctx.out.array_len(keys.len());
        for key in keys {
            ctx.out.bulk(&key);
        }
    }
}

pub(super) fn getkeysandflags(ctx: &mut Ctx<'_>) {
    let Some((spec, keys)) = keys_of(ctx) else {
        return;
    };
    let flags = key_flags(spec.flags);
    ctx.out.array_len(keys.len());
    for key in keys {
        ctx.out.array_len(2);
        ctx.out.bulk(&key);
        ctx.out.set_len(flags.len());
        for flag in flags {
            ctx.out.simple(flag);
        }
    }
}

pub(super) fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

/// The command in `ctx.args[2..]` (GETKEYS) and its keys, or None after writing
/// Redis's error.
fn keys_of(ctx: &mut Ctx<'_>) -> Option<(&'static CommandSpec, Vec<Bytes>)> {
    let argv = &ctx.args[2..];
    let spec = table::resolve(argv);
    let error = match spec {
        None => "ERR Invalid command specified",
        Some(spec) if !spec.keys.has_keys() => "ERR The command has no key arguments",
        Some(spec) if !spec.arity_ok(argv.len()) => {
            "ERR Invalid number of arguments specified for command"
        }
        Some(spec) => {
            let keys: Vec<Bytes> = spec
                .keys
                .key_indexes(argv)
                .into_iter()
                .map(|i| argv[i].clone())
                .collect();
            if !keys.is_empty() {
                return Some((spec, keys));
            }
            "ERR Invalid arguments specified for command"
        }
    };
    ctx.out.error(error);
    None
}

/// A command by its full name (`get`, `config|get`), any case, with that name in
/// lower case.
fn lookup_full(name: &[u8]) -> Option<(String, &'static CommandSpec)> {
    let mut parts = name.split(|&b| b == b'|');
    let base = table::lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some((base.name.to_owned(), base)),
        (Some(sub), None) => {
            let sub = base.subcommand(sub)?;
            Some((full_name(base, sub), sub))
        }
        (Some(_), Some(_)) => None,
    }
}

fn full_name(parent: &CommandSpec, sub: &CommandSpec) -> String {
    format!("{}|{}", parent.name, sub.name)
}

/// The top-level commands, by name.
fn sorted_commands() -> Vec<&'static CommandSpec> {
    let mut all: Vec<&'static CommandSpec> = table::commands().values().copied().collect();
    all.sort_unstable_by_key(|spec| spec.name);
    all
}

fn write_all_infos(out: &mut ReplyWriter) {
    let all = sorted_commands();
    out.array_len(all.len());
    for spec in all {
        write_info(out, spec.name, spec);
    }
}

/// One command's COMMAND INFO entry: name, arity, flags, first key, last key, step,
/// ACL categories, tips, key specs, subcommands.
fn write_info(out: &mut ReplyWriter, full: &str, spec: &'static CommandSpec) {
    out.array_len(10);
    out.bulk(full.as_bytes());
    out.integer(i64::from(spec.arity));
    let movable = match spec.keys.movable() {
        false => Flags::NONE,
        true => Flags::MOVABLE_KEYS,
    };
    let flags = (spec.flags | movable).names();
    out.set_len(flags.len());
    for flag in flags {
        out.simple(flag);
    }
    out.integer(i64::from(spec.keys.first));
    out.integer(i64::from(spec.keys.last));
    out.integer(i64::from(spec.keys.step));
    let categories = acl_categories(spec);
    out.set_len(categories.len());
    for category in categories {
        out.simple(&format!("@{category}"));
    }
    if spec.flags.contains(Flags::NONDETERMINISTIC) {
        out.set_len(1);
        out.bulk(b"nondeterministic_output");
    } else {
        out.set_len(0);
    }
    write_key_specs(out, spec);
    if spec.subcommands.is_empty() {
        out.set_len(0);
    } else {
        out.array_len(spec.subcommands.len());
        for sub in spec.subcommands {
            write_info(out, &full_name(spec, sub), sub);
        }
    }
}

/// The key specs equivalent to the table's keys: from index `first` to `last`, every
/// `step`, then those counted by the argument at `numkeys` (either may be absent),
/// then those of unknown place a command's parser finds.
fn write_key_specs(out: &mut ReplyWriter, spec: &CommandSpec) {
    let keys = spec.keys;
    if !keys.has_keys() {
        return out.set_len(0);
    }
    let ranged = keys.first != 0;
    let counted = keys.numkeys != 0;
    let unknown = keys.parsed.map_or(&[][..], |p| p.unknown);
    out.set_len(usize::from(ranged) + usize::from(counted) + unknown.len());
    if ranged {
        let flags = keys.parsed.map_or(key_flags(spec.flags), |p| p.range_flags);
        out.map_len(3);
        write_key_spec_flags(out, flags);
        write_range_key_spec(out, keys);
    }
    if counted {
        // The count, then the keys right after it.
        out.map_len(3);
        write_key_spec_flags(out, key_flags(spec.flags));
        write_key_spec_step(
            out,
            b"begin_search",
            b"index",
            &[(b"index", i64::from(keys.numkeys))],
        );
        write_key_spec_step(
            out,
            b"find_keys",
            b"keynum",
            &[(b"keynumidx", 0), (b"firstkey", 1), (b"keystep", 1)],
        );
    }
    for &(notes, flags) in unknown {
        out.map_len(4);
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
        write_key_spec_flags(out, flags);
        write_key_spec_step(out, b"begin_search", b"unknown", &[]);
        write_key_spec_step(out, b"find_keys", b"unknown", &[]);
    }
}

/// A key spec's flags.
fn write_key_spec_flags(out: &mut ReplyWriter, flags: &[&str]) {
    out.bulk(b"flags");
    out.set_len(flags.len());
    for flag in flags {
        out.simple(flag);
    }
}

/// The steps of keys from index `first` to `last`, every `step`.
fn write_range_key_spec(out: &mut ReplyWriter, keys: KeySpec) {
    write_key_spec_step(
        out,
        b"begin_search",
        b"index",
        &[(b"index", i64::from(keys.first))],
    );
    // The last key relative to the first, or counted from the end when negative.
    let lastkey = if keys.last < 0 {
        keys.last
    } else {
        keys.last - keys.first
    };
    write_key_spec_step(
        out,
        b"find_keys",
        b"range",
        &[
            (b"lastkey", i64::from(lastkey)),
            (b"keystep", i64::from(keys.step)),
            (b"limit", 0),
        ],
    );
}

/// One step of a key spec: `name => {type => kind, spec => {field => n, ...}}`.
fn write_key_spec_step(out: &mut ReplyWriter, name: &[u8], kind: &[u8], spec: &[(&[u8], i64)]) {
    out.bulk(name);
    out.map_len(2);
    out.bulk(b"type");
    out.bulk(kind);
    out.bulk(b"spec");
    out.map_len(spec.len());
    for &(field, n) in spec {
        out.bulk(field);
        out.integer(n);
    }
}

/// The key-spec flags a command's flags imply: a read-only command reads its keys, a
/// writing one may read and update them.
fn key_flags(flags: Flags) -> &'static [&'static str] {
    if flags.contains(Flags::WRITE) {
        &["RW", "access", "update"]
    } else if flags.contains(Flags::READONLY) {
        &["RO", "access"]
    } else {
        &[]
    }
}

/// One command's COMMAND DOCS entry: summary, since, group, complexity, arguments,
/// subcommands.
fn write_docs(out: &mut ReplyWriter, full: &str, spec: &CommandSpec) {
    let args = command_docs::parse(spec.syntax, spec.keys.has_keys()).unwrap_or_else(|e| {
        tracing::warn!(
            "the syntax of '{full}' cannot be read ({}): {:?}",
            e.0,
            spec.syntax
        );
        Vec::new()
    });
    let fields = 3
        + usize::from(!spec.complexity.is_empty())
        + usize::from(!args.is_empty())
        + usize::from(!spec.subcommands.is_empty());
    out.map_len(fields);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    if !spec.complexity.is_empty() {
        out.bulk(b"complexity");
        out.bulk(spec.complexity.as_bytes());
    }
    if !args.is_empty() {
        out.bulk(b"arguments");
        command_docs::write_args(out, &args);
    }
    if !spec.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map_len(spec.subcommands.len());
        for sub in spec.subcommands {
            let full = full_name(spec, sub);
            out.bulk(full.as_bytes());
            write_docs(out, &full, sub);
        }
    }
}

/// A command's ACL categories (see [`catalog`]).
fn acl_categories(spec: &'static CommandSpec) -> Vec<&'static str> {
    catalog::of(spec).categories.names().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names() {
        assert_eq!(lookup_full(b"Get").map(|(n, _)| n), Some("get".to_owned()));
        assert_eq!(
            lookup_full(b"config|set").map(|(n, _)| n),
            Some("config|set".to_owned())
        );
        assert!(lookup_full(b"config|nosuch").is_none());
        assert!(lookup_full(b"config|get|x").is_none());
        assert!(lookup_full(b"get|x").is_none());
        assert!(lookup_full(b"").is_none());
    }
}
