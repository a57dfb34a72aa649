//! The generic keyspace family: DEL, EXISTS, TYPE, the EXPIRE and TTL families, KEYS,
//! SCAN, RANDOMKEY, RENAME, COPY, MOVE, TOUCH, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB and
//! OBJECT, with Redis 7.0's replies and error texts.

use super::collection::{reply_scan, ScanOptions};
use super::expire::{invalid_expire_time, ExpireUnit};
use super::table::{CommandSpec, Flags, KeySpec};
use super::values::{ColdMiss, ColdValues};
use super::{key_locks, reply_help, Ctx};
use crate::config::{Config, MaxmemoryPolicy};
use crate::num::parse_i64;
use bytes::Bytes;
use std::collections::HashSet;
use tier_engine::glob::glob_match;
use tier_engine::value::dump::{decode_dump, encode_dump};
use tier_engine::{Entry, LockMode, Txn, Value};

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const RND: Flags = Flags::READONLY.union(Flags::NONDETERMINISTIC);
const RFND: Flags = RF.union(Flags::NONDETERMINISTIC);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: W.union(Flags::KEYS_ONLY),
        keys: KeySpec::ALL,
        group: "generic",
        summary: "Delete a key",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        syntax: "key [key ...]",
        handler: del,
        subcommands: &[],
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ALL,
        group: "generic",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        syntax: "key [key ...]",
        handler: del,
        subcommands: &[],
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: RF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ALL,
        group: "generic",
        summary: "Determine if a key exists",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys to check.",
        syntax: "key [key ...]",
        handler: exists,
        subcommands: &[],
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: RF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ALL,
        group: "generic",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        complexity: "O(N) where N is the number of keys that will be touched.",
        syntax: "key [key ...]",
        handler: touch,
        subcommands: &[],
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: RF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Determine the type stored at key",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: type_,
        subcommands: &[],
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Set a key's time to live in seconds",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key seconds [NX | XX | GT | LT]",
        handler: expire,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Set a key's time to live in milliseconds",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "key milliseconds [NX | XX | GT | LT]",
        handler: pexpire,
        subcommands: &[],
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Set the expiration for a key as a UNIX timestamp",
        since: "1.2.0",
        complexity: "O(1)",
        syntax: "key unix-time-seconds [NX | XX | GT | LT]",
        handler: expireat,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "key unix-time-milliseconds [NX | XX | GT | LT]",
        handler: pexpireat,
        subcommands: &[],
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: RFND.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Get the time to live for a key in seconds",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: ttl,
        subcommands: &[],
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: RFND.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Get the time to live for a key in milliseconds",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "key",
        handler: pttl,
        subcommands: &[],
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: RF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Get the expiration Unix timestamp for a key",
        since: "7.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: expiretime,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: RF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        since: "7.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: pexpiretime,
        subcommands: &[],
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: WF.union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Remove the expiration from a key",
        since: "2.2.0",
        complexity: "O(1)",
        syntax: "key",
        handler: persist,
        subcommands: &[],
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: R,
        keys: KeySpec::NONE,
        group: "generic",
        summary: "Find all keys matching the given pattern",
        since: "1.0.0",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        syntax: "pattern",
        handler: keys,
        subcommands: &[],
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: RND,
        keys: KeySpec::NONE,
        group: "generic",
        summary: "Incrementally iterate the keys space",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]",
        handler: scan,
        subcommands: &[],
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: RND,
        keys: KeySpec::NONE,
        group: "generic",
        summary: "Return a random key from the keyspace",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: randomkey,
        subcommands: &[],
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: W,
        keys: KeySpec::new(1, 2, 1),
        group: "generic",
        summary: "Rename a key",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key newkey",
        handler: rename,
        subcommands: &[],
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: WF,
        keys: KeySpec::new(1, 2, 1),
        group: "generic",
        summary: "Rename a key, only if the new key does not exist",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key newkey",
        handler: renamenx,
        subcommands: &[],
    },
    CommandSpec {
        name: "dump",
        arity: 2,
        flags: Flags::READONLY.union(Flags::NONDETERMINISTIC),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Return a serialized version of the value stored at the specified key.",
        since: "2.6.0",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        syntax: "key",
        handler: dump,
        subcommands: &[],
    },
    CommandSpec {
        name: "restore",
        arity: -4,
        flags: Flags::WRITE.union(Flags::DENYOOM).union(Flags::KEYS_ONLY),
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
        since: "2.6.0",
        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        syntax: "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
        handler: restore,
        subcommands: &[],
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: Flags::WRITE.union(Flags::DENYOOM),
        keys: KeySpec::new(1, 2, 1),
        group: "generic",
        summary: "Copy a key",
        since: "6.2.0",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        syntax: "source destination [DB destination-db] [REPLACE]",
        handler: copy,
        subcommands: &[],
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: WF,
        keys: KeySpec::ONE,
        group: "generic",
        summary: "Move a key to another database",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key db",
        handler: move_,
        subcommands: &[],
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: RF,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Return the number of keys in the selected database",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "",
        handler: dbsize,
        subcommands: &[],
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: W,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Remove all keys from the current database",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys in the selected database",
        syntax: "[ASYNC | SYNC]",
        handler: flushdb,
        subcommands: &[],
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: W,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Remove all keys from all databases",
        since: "1.0.0",
        complexity: "O(N) where N is the total number of keys in all databases",
        syntax: "[ASYNC | SYNC]",
        handler: flushall,
        subcommands: &[],
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: WF,
        keys: KeySpec::NONE,
        group: "server",
        summary: "Swaps two Redis databases",
        since: "4.0.0",
        complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        syntax: "index1 index2",
        handler: swapdb,
        subcommands: &[],
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: Flags::NONE,
        keys: KeySpec::NONE,
        group: "generic",
        summary: "A container for object introspection commands",
        since: "2.2.3",
        complexity: "Depends on subcommand.",
        syntax: "",
        handler: super::dispatch_subcommand,
        subcommands: OBJECT_SUBCOMMANDS,
    },
];

/// OBJECT's subcommands; the key is the third argument (`OBJECT ENCODING key`).
const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    object_subcommand(
        "encoding",
        "Inspect the internal encoding of a Redis object",
        "2.2.3",
        object_encoding,
    ),
    object_subcommand(
        "freq",
        "Get the logarithmic access frequency counter of a Redis object",
        "4.0.0",
        object_freq,
    ),
    CommandSpec::help("generic", "6.2.0", object_help),
    object_subcommand(
        "idletime",
        "Get the time since a Redis object was last accessed",
        "2.2.3",
        object_idletime,
    ),
    object_subcommand(
        "refcount",
        "Get the number of references to the value of the key",
        "2.2.3",
        object_refcount,
    ),
];

/// An `OBJECT <name> key` subcommand: they differ only in name, docs and handler.
const fn object_subcommand(
    name: &'static str,
    summary: &'static str,
    since: &'static str,
    handler: super::table::Handler,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: 3,
        flags: RND,
        keys: KeySpec::new(2, 2, 1),
        group: "generic",
        summary,
        since,
        complexity: "O(1)",
        syntax: "key",
        handler,
        subcommands: &[],
    }
}

/// DEL and UNLINK (memory is always freed off the command path, so they are one).
fn del(ctx: &mut Ctx<'_>) {
    let keys = &ctx.args[1..];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Exclusive), ctx.now, &guard);
    let deleted = keys.iter().filter(|k| txn.remove(k)).count();
    ctx.out.integer(deleted as i64);
}

/// EXISTS and TOUCH: how many of the named keys exist, a key named twice counting
/// twice. TOUCH records an access; EXISTS does not.
fn count_existing(ctx: &mut Ctx<'_>, touch: bool) {
    let keys = &ctx.args[1..];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Shared), ctx.now, &guard);
    let found = keys
        .iter()
        .filter(|k| {
            if touch {
                txn.lookup_read(k).is_some()
            } else {
                txn.lookup_peek(k).is_some()
            }
        })
        .count();
    ctx.out.integer(found as i64);
}

fn exists(ctx: &mut Ctx<'_>) {
    count_existing(ctx, false);
}

fn touch(ctx: &mut Ctx<'_>) {
    count_existing(ctx, true);
}

fn type_(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let found = db.lookup_peek(&ctx.args[1], ctx.now, &guard);
    ctx.out.simple(found.map_or("none", Entry::type_name));
}

fn expire(ctx: &mut Ctx<'_>) {
    expire_generic(ctx, ExpireUnit::Seconds);
}

fn pexpire(ctx: &mut Ctx<'_>) {
    expire_generic(ctx, ExpireUnit::Millis);
}

fn expireat(ctx: &mut Ctx<'_>) {
    expire_generic(ctx, ExpireUnit::UnixSeconds);
}

fn pexpireat(ctx: &mut Ctx<'_>) {
    expire_generic(ctx, ExpireUnit::UnixMillis);
}

/// The NX / XX / GT / LT conditions of the EXPIRE commands.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    /// Parses the options after the time, as Redis's
    /// `parseExtendedExpireArgumentsOrReply`: every option first, then the conflicts.
    fn parse(opts: &[Bytes]) -> Result<Self, String> {
        let mut c = ExpireCondition::default();
        for opt in opts {
            let flag = match opt.to_ascii_uppercase().as_slice() {
                b"NX" => &mut c.nx,
                b"XX" => &mut c.xx,
                b"GT" => &mut c.gt,
                b"LT" => &mut c.lt,
                _ => {
                    return Err(format!(
                        "ERR Unsupported option {}",
                        String::from_utf8_lossy(opt)
                    ))
                }
            };
            *flag = true;
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
            );
        }
        if c.gt && c.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(c)
    }

    /// Whether the new deadline `when` may replace `current` (None: no TTL, which GT and
    /// LT treat as infinite).
    fn allows(&self, current: Option<i64>, when: i64) -> bool {
        match current {
            None => !self.xx && !self.gt,
            Some(at) => {
                let refused = self.nx || (self.gt && when <= at) || (self.lt && when >= at);
                !refused
            }
        }
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, as Redis's `expireGenericCommand`. A
/// deadline that is not in the future deletes the key (and still replies 1).
fn expire_generic(ctx: &mut Ctx<'_>, unit: ExpireUnit) {
    let condition = match ExpireCondition::parse(&ctx.args[3..]) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(e),
    };
    let Some(n) = parse_i64(&ctx.args[2]) else {
        return ctx.not_integer();
    };
    let Some(when) = unit.deadline(n, ctx.now) else {
        return invalid_expire_time(ctx);
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let key = &ctx.args[1];
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let Some(entry) = txn.get(key) else {
        return ctx.out.integer(0);
    };
    let current = entry.expire_at().map(clamp_i64);
    if !condition.allows(current, when) {
        return ctx.out.integer(0);
    }
    if when <= ctx.now as i64 {
        ctx.log_as(&[b"DEL", key]);
        txn.remove(key);
    } else {
        ctx.log_as(&[b"PEXPIREAT", key, when.to_string().as_bytes()]);
        txn.set_expire(key, Some(when as u64));
    }
    ctx.out.integer(1);
}

/// A stored deadline as Redis's signed milliseconds.
fn clamp_i64(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

fn ttl(ctx: &mut Ctx<'_>) {
    ttl_generic(ctx, false, false);
}

fn pttl(ctx: &mut Ctx<'_>) {
    ttl_generic(ctx, true, false);
}

fn expiretime(ctx: &mut Ctx<'_>) {
    ttl_generic(ctx, false, true);
}

fn pexpiretime(ctx: &mut Ctx<'_>) {
    ttl_generic(ctx, true, true);
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for no key, -1 for no TTL, else the time
/// left (or the deadline), never below 0, in ms or rounded to the nearest second.
fn ttl_generic(ctx: &mut Ctx<'_>, millis: bool, absolute: bool) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let Some(entry) = db.lookup_peek(&ctx.args[1], ctx.now, &guard) else {
        return ctx.out.integer(-2);
    };
    let Some(at) = entry.expire_at().map(clamp_i64) else {
        return ctx.out.integer(-1);
    };
    let left = if absolute {
        at
    } else {
        at.saturating_sub(ctx.now as i64).max(0)
    };
    // Rounded in 128 bits: Redis's `(ttl + 500) / 1000` near i64::MAX gives the exact
    // quotient, not a wrapped one.
    let reply = if millis {
        left
    } else {
        ((i128::from(left) + 500) / 1000) as i64
    };
    ctx.out.integer(reply);
}

fn persist(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let key = &ctx.args[1];
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let had_ttl = txn.get(key).is_some_and(|e| e.expire_at().is_some());
    if had_ttl {
        txn.set_expire(key, None);
    }
    ctx.out.integer(i64::from(had_ttl));
}

/// MATCH as KEYS and SCAN apply it: the pattern `*` alone is no filter at all (so even
/// the empty key passes), anything else goes through the glob matcher.
pub(super) fn key_filter(pattern: Option<&[u8]>) -> impl Fn(&[u8]) -> bool + '_ {
    let pattern = pattern.filter(|p| *p != b"*");
    move |key| pattern.is_none_or(|p| glob_match(p, key, false))
}

fn keys(ctx: &mut Ctx<'_>) {
    let matches = key_filter(Some(&ctx.args[1]));
    let db = ctx.db();
    let guard = tier_engine::pin();
    // A resize under way between two steps may show a key twice; KEYS lists it once.
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = db.scan(cursor, ctx.now, &guard, |key, _| {
            if matches(key) && seen.insert(key) {
                found.push(key);
            }
        });
        if cursor == 0 {
            break;
        }
    }
    ctx.out.array_len(found.len());
    for key in found {
        ctx.out.bulk(key);
    }
}

/// Parses a SCAN cursor as Redis does with `strtoul`: an optional sign then decimal
/// digits (a minus wraps around, "-1" is 2^64-1), nothing before or after, no overflow.
/// The empty string is cursor 0, and (C strings) the text ends at the first NUL.
pub(super) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    let (negative, digits) = match text.split_first() {
        None => return Some(0),
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        Some(_) => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some(if negative { n.wrapping_neg() } else { n })
}

fn scan(ctx: &mut Ctx<'_>) {
    let Some(mut cursor) = parse_cursor(&ctx.args[1]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let args = ctx.args;
    let Ok((options, type_name)) = ScanOptions::parse(ctx, &args[2..], true) else {
        return;
    };
    let (count, pattern) = (options.count, options.pattern);
    let matches = key_filter(pattern);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let count = count as u64;
    // As Redis: stop once COUNT keys were visited (before filtering), or after ten
    // times COUNT steps over a sparse table.
    let mut steps_left = count.saturating_mul(10);
    let mut visited = 0u64;
    let mut found = Vec::new();
    loop {
        cursor = db.scan(cursor, ctx.now, &guard, |key, entry| {
            visited += 1;
            let type_ok =
                type_name.is_none_or(|t| t.eq_ignore_ascii_case(entry.type_name().as_bytes()));
            if type_ok && matches(key) {
                found.push(key);
            }
        });
        if cursor == 0 || steps_left == 0 || visited >= count {
            break;
        }
        steps_left -= 1;
    }
    reply_scan(ctx, cursor, &found);
}

fn randomkey(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    match db.random_key(ctx.now, &guard) {
        Some(key) => ctx.out.bulk(key),
        None => ctx.out.null(),
    }
}

fn rename(ctx: &mut Ctx<'_>) {
    rename_generic(ctx, false);
}

fn renamenx(ctx: &mut Ctx<'_>) {
    rename_generic(ctx, true);
}

/// RENAME and RENAMENX: the entry moves whole (value, TTL, access time) to the new
/// name, replacing what was there unless NX.
fn rename_generic(ctx: &mut Ctx<'_>, nx: bool) {
    let (key, newkey) = (&ctx.args[1], &ctx.args[2]);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(
        &[(key, LockMode::Exclusive), (newkey, LockMode::Exclusive)],
        ctx.now,
        &guard,
    );
    let Some(entry) = txn.get(key) else {
        return ctx.out.error("ERR no such key");
    };
    entry.touch(ctx.now);
    let done = if key == newkey {
        !nx
    } else if nx && txn.get(newkey).is_some() {
        false
    } else {
        let Ok(moved) = ctx.cold.hot_entry(key, entry) else {
            return;
        };
        txn.put(newkey, moved);
        txn.remove(key);
        true
    };
    if nx {
        ctx.out.integer(i64::from(done));
    } else {
        ctx.out.ok();
    }
}

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

fn copy(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        match args[i].to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"DB" if i + 1 < args.len() => {
                let Some(n) = ctx.parse_db_index(&args[i + 1]) else {
                    return;
                };
                dst_db = n;
                i += 1;
            }
            _ => return ctx.syntax_error(),
        }
        i += 1;
    }
    let (key, newkey) = (&args[1], &args[2]);
    if src_db == dst_db && key == newkey {
        return ctx.out.error(SAME_OBJECT);
    }
    let guard = tier_engine::pin();
    let read = [(key.as_ref(), LockMode::Shared)];
    let write = [(newkey.as_ref(), LockMode::Exclusive)];
    let copied = if src_db == dst_db {
        let db = ctx.db();
        let mut txn = db.lock(&[read[0], write[0]], ctx.now, &guard);
        copy_locked(ctx.cold, &mut txn, None, key, newkey, replace)
    } else {
        ctx.shared.keyspace.with_pair(
            (src_db, &read),
            (dst_db, &write),
            ctx.now,
            &guard,
            |src, dst| copy_locked(ctx.cold, src, Some(dst), key, newkey, replace),
        )
    };
    if let Ok(copied) = copied {
        ctx.out.integer(i64::from(copied));
    }
}

/// COPY once its keys are held: `dst` is None when the copy stays in the source db.
/// The copy is a new value (fresh access time) with the source's TTL.
fn copy_locked<'a, 'g>(
    cold: &mut ColdValues,
    src: &mut Txn<'a, 'g>,
    dst: Option<&mut Txn<'a, 'g>>,
    key: &[u8],
    newkey: &[u8],
    replace: bool,
) -> Result<bool, ColdMiss> {
    let Some(entry) = src.lookup_read(key) else {
        return Ok(false);
    };
    let value = cold.value_of(key, entry)?.clone();
    let dst = match dst {
        Some(dst) => dst,
        None => src,
    };
    if !replace && dst.get(newkey).is_some() {
        return Ok(false);
    }
    dst.set(newkey, value, entry.expire_at());
    Ok(true)
}

fn move_(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(dst_db) = ctx.parse_db_index(&args[2]) else {
        return;
    };
    let src_db = ctx.client.db;
    if src_db == dst_db {
        return ctx.out.error(SAME_OBJECT);
    }
    let key = args[1].as_ref();
    let guard = tier_engine::pin();
    let lock = [(key, LockMode::Exclusive)];
    let cold = &mut *ctx.cold;
    let moved: Result<bool, ColdMiss> = ctx.shared.keyspace.with_pair(
        (src_db, &lock),
        (dst_db, &lock),
        ctx.now,
        &guard,
        |src, dst| {
            let Some(entry) = src.get(key) else {
                return Ok(false);
            };
            entry.touch(src.now());
            if dst.get(key).is_some() {
                return Ok(false);
            }
            dst.put(key, cold.hot_entry(key, entry)?);
            src.remove(key);
            Ok(true)
        },
    );
    if let Ok(moved) = moved {
        ctx.out.integer(i64::from(moved));
    }
}

fn dbsize(ctx: &mut Ctx<'_>) {
    let n = ctx.db().len();
    ctx.out.integer(n as i64);
}

/// FLUSHDB and FLUSHALL take an optional ASYNC or SYNC. Memory is always reclaimed
/// off the command path, so both mean the same here. False (after replying) if the
/// arguments are wrong.
fn flush_mode_ok(ctx: &mut Ctx<'_>) -> bool {
    let ok = match ctx.args.get(1..) {
        Some([]) => true,
        Some([mode]) => mode.eq_ignore_ascii_case(b"ASYNC") || mode.eq_ignore_ascii_case(b"SYNC"),
        _ => false,
    };
    if !ok {
        ctx.syntax_error();
    }
    ok
}

fn flushdb(ctx: &mut Ctx<'_>) {
    if flush_mode_ok(ctx) {
        ctx.db().flush();
        ctx.out.ok();
    }
}

fn flushall(ctx: &mut Ctx<'_>) {
    if flush_mode_ok(ctx) {
        ctx.shared.keyspace.flush_all();
        ctx.out.ok();
    }
}

fn swapdb(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(a) = ctx.parse_int(&args[1], Some("ERR invalid first DB index")) else {
        return;
    };
    let Some(b) = ctx.parse_int(&args[2], Some("ERR invalid second DB index")) else {
        return;
    };
    let (Some(a), Some(b)) = (ctx.database(a), ctx.database(b)) else {
        return ctx.db_out_of_range();
    };
    if a != b {
        ctx.shared.keyspace.swap_dbs(a, b);
    }
    ctx.out.ok();
}

/// Runs an OBJECT subcommand on the entry of its key, or replies null for no key.
/// OBJECT looks at a key without touching it.
/// DUMP key: the value's DUMP payload (see `tier_engine::value::dump`), or nil.
fn dump(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let key = &ctx.args[1];
    let Some(entry) = db.lookup_read(key, ctx.now, &guard) else {
        return ctx.out.null();
    };
    if let Ok(value) = ctx.value_of(key, entry) {
        let payload = encode_dump(&value);
        ctx.out.bulk(&payload);
    }
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle_seconds: Option<u64>,
    frequency: Option<u8>,
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in
/// Redis's order: the options, an existing key, the TTL, the payload.
fn restore(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(options) = restore_options(ctx, &args[4..]) else {
        return;
    };
    let (key, now) = (&args[1], ctx.now);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, now, &guard);
    if !options.replace && txn.get(key).is_some() {
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let Some(ttl) = parse_i64(&args[2]) else {
        return ctx.not_integer();
    };
    let Ok(ttl) = u64::try_from(ttl) else {
        return ctx.out.error("ERR Invalid TTL value, must be >= 0");
    };
    let value = match decode_dump(&args[3]) {
        Ok(value) => value.fitted(&ctx.config.limits),
        Err(e) => return ctx.out.error(format!("ERR {e}")),
    };
    let deleted = options.replace && txn.remove(key);
    let expire_at = match (ttl, options.absttl) {
        (0, _) => None,
        (at, true) => Some(at),
        (ttl, false) => Some(now.saturating_add(ttl)),
    };
    // Already expired (not while the AOF loads, whose clock is 0): no key, and a
    // key it replaced is logged as deleted.
    if expire_at.is_some_and(|at| at <= now) {
        if deleted {
            ctx.log_as(&[b"DEL", key]);
        }
        return ctx.out.ok();
    }
    txn.set(key, value, expire_at);
    if let Some(entry) = txn.get(key) {
        let policy = ctx.config.maxmemory_policy;
        let frequency = options.frequency.filter(|_| is_lfu(policy));
        let idle = options.idle_seconds.filter(|_| is_lru(policy));
        entry.restore_access(now, idle, frequency);
    }
    if let (Some(at), false) = (expire_at, options.absttl) {
        // Logged with its deadline absolute, as Redis propagates it.
        let at = at.to_string();
        let mut logged: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        logged[2] = at.as_bytes();
        logged.push(b"ABSTTL");
        ctx.log_as(&logged);
    }
    ctx.out.ok();
}

/// RESTORE's options, or None with the error written.
fn restore_options(ctx: &mut Ctx<'_>, words: &[Bytes]) -> Option<RestoreOptions> {
    let mut options = RestoreOptions::default();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let value = words.get(i + 1);
        if word.eq_ignore_ascii_case(b"replace") {
            options.replace = true;
        } else if word.eq_ignore_ascii_case(b"absttl") {
            options.absttl = true;
        } else if let (true, Some(n), None) = (
            word.eq_ignore_ascii_case(b"idletime"),
            value,
            options.frequency,
        ) {
            let Some(n) = parse_i64(n) else {
                ctx.not_integer();
                return None;
            };
            let Ok(n) = u64::try_from(n) else {
                ctx.out.error("ERR Invalid IDLETIME value, must be >= 0");
                return None;
            };
            options.idle_seconds = Some(n);
            i += 1;
        } else if let (true, Some(n), None) = (
            word.eq_ignore_ascii_case(b"freq"),
            value,
            options.idle_seconds,
        ) {
            let Some(n) = parse_i64(n) else {
                ctx.not_integer();
                return None;
            };
            let Ok(n) = u8::try_from(n) else {
                ctx.out
                    .error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                return None;
            };
            options.frequency = Some(n);
            i += 1;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    Some(options)
}

fn with_object(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Ctx<'_>, &Entry)) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    match db.lookup_peek(&ctx.args[2], ctx.now, &guard) {
        Some(entry) => f(ctx, entry),
        None => ctx.out.null(),
    }
}

/// Redis's OBJ_SHARED_INTEGERS: SET stores 0..10000 as shared integer objects.
const SHARED_INTEGERS: i64 = 10_000;
/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
const EMBSTR_SIZE_LIMIT: usize = 44;

/// Whether `policy` evicts by frequency (Redis's MAXMEMORY_FLAG_LFU).
fn is_lfu(policy: MaxmemoryPolicy) -> bool {
    matches!(
        policy,
        MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
    )
}

/// Whether `policy` evicts by recency (Redis's MAXMEMORY_FLAG_LRU).
fn is_lru(policy: MaxmemoryPolicy) -> bool {
    matches!(
        policy,
        MaxmemoryPolicy::AllkeysLru | MaxmemoryPolicy::VolatileLru
    )
}

fn object_encoding(ctx: &mut Ctx<'_>) {
    with_object(ctx, |ctx, entry| {
        let Ok(value) = ctx.value_of(&ctx.args[2], entry) else {
            return;
        };
        let encoding = match &*value {
            Value::Str(s) if parse_i64(s).is_some() => "int",
            Value::Str(s) if s.len() <= EMBSTR_SIZE_LIMIT => "embstr",
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        };
        ctx.out.bulk(encoding.as_bytes());
    });
}

/// What Redis reports as the value's reference count: a small integer string is one
/// of its shared objects (refcount INT_MAX) unless an LRU or LFU policy with a memory
/// limit asks for per-key access data; anything else has one reference.
fn refcount(value: &Value, config: &Config) -> i64 {
    let policy = config.maxmemory_policy;
    let sharing = config.maxmemory == 0 || !(is_lru(policy) || is_lfu(policy));
    let shared = match value {
        Value::Str(s) => parse_i64(s).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)),
        Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => false,
    };
    if sharing && shared {
        i64::from(i32::MAX)
    } else {
        1
    }
}

fn object_refcount(ctx: &mut Ctx<'_>) {
    with_object(ctx, |ctx, entry| {
        let Ok(value) = ctx.value_of(&ctx.args[2], entry) else {
            return;
        };
        let n = refcount(&value, ctx.config);
        ctx.out.integer(n);
    });
}

fn object_idletime(ctx: &mut Ctx<'_>) {
    with_object(ctx, |ctx, entry| {
        if is_lfu(ctx.config.maxmemory_policy) {
            return ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.out.integer(entry.idle_seconds(ctx.now) as i64);
    });
}

fn object_freq(ctx: &mut Ctx<'_>) {
    with_object(ctx, |ctx, entry| {
        if !is_lfu(ctx.config.maxmemory_policy) {
            return ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.out.integer(i64::from(entry.frequency(ctx.now)));
    });
}

fn object_help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
}
