//! The string family, as Redis 7.0's t_string.c: GET, SET (NX XX GET EX PX EXAT PXAT
//! KEEPTTL), SETNX, SETEX, PSETEX, MGET, MSET, MSETNX, GETSET, GETDEL, GETEX, APPEND,
//! STRLEN, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT, GETRANGE, SUBSTR and SETRANGE.
//!
//! Writes that change a string in place (APPEND, SETRANGE, the INCR family) keep the
//! key's TTL; the SET family replaces it. INCRBYFLOAT computes in x87 extended precision
//! ([`long_double`]) because that is what Redis's `long double` is on x86-64, and its
//! replies show it.

use super::table::{CommandSpec, Flags, KeySpec};
use super::{parse_i64, Ctx};
use bytes::Bytes;
use tier_engine::{Entry, LockMode, Txn, Value};

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WM: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WMF: Flags = WM.union(Flags::FAST);

/// Every key of the command, two apart (MSET, MSETNX).
const PAIRS: KeySpec = KeySpec::new(1, -1, 2);

const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: RF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get the value of a key",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: get,
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WM,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Set the string value of a key",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
        handler: set,
        subcommands: &[],
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Set the value of a key, only if the key does not exist",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key value",
        handler: setnx,
        subcommands: &[],
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: WM,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Set the value and expiration of a key",
        since: "2.0.0",
        complexity: "O(1)",
        syntax: "key seconds value",
        handler: setex,
        subcommands: &[],
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: WM,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Set the value and expiration in milliseconds of a key",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "key milliseconds value",
        handler: psetex,
        subcommands: &[],
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: RF,
        keys: KeySpec::ALL,
        group: "string",
        summary: "Get the values of all the given keys",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys to retrieve.",
        syntax: "key [key ...]",
        handler: mget,
        subcommands: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: WM,
        keys: PAIRS,
        group: "string",
        summary: "Set multiple keys to multiple values",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        syntax: "key value [key value ...]",
        handler: mset,
        subcommands: &[],
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: WM,
        keys: PAIRS,
        group: "string",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        syntax: "key value [key value ...]",
        handler: msetnx,
        subcommands: &[],
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Set the string value of a key and return its old value",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key value",
        handler: getset,
        subcommands: &[],
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: WF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get the value of a key and delete the key",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "key",
        handler: getdel,
        subcommands: &[],
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: WF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get the value of a key and optionally set its expiration",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
        handler: getex,
        subcommands: &[],
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Append a value to a key",
        since: "2.0.0",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        syntax: "key value",
        handler: append,
        subcommands: &[],
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: RF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get the length of the value stored in a key",
        since: "2.2.0",
        complexity: "O(1)",
        syntax: "key",
        handler: strlen,
        subcommands: &[],
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Increment the integer value of a key by one",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: incr,
        subcommands: &[],
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Decrement the integer value of a key by one",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: decr,
        subcommands: &[],
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Increment the integer value of a key by the given amount",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key increment",
        handler: incrby,
        subcommands: &[],
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Decrement the integer value of a key by the given number",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key decrement",
        handler: decrby,
        subcommands: &[],
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: WMF,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Increment the float value of a key by the given amount",
        since: "2.6.0",
        complexity: "O(1)",
        syntax: "key increment",
        handler: incrbyfloat,
        subcommands: &[],
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: R,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get a substring of the string stored at a key",
        since: "2.4.0",
        complexity: RANGE_COMPLEXITY,
        syntax: "key start end",
        handler: getrange,
        subcommands: &[],
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: R,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Get a substring of the string stored at a key",
        since: "1.0.0",
        complexity: RANGE_COMPLEXITY,
        syntax: "key start end",
        handler: getrange,
        subcommands: &[],
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: WM,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Overwrite part of a string at key starting at the specified offset",
        since: "2.2.0",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        syntax: "key offset value",
        handler: setrange,
        subcommands: &[],
    },
];

/// The command has written its error reply and stops.
struct Replied;

/// The string `value` holds; None for a value of another type. The one place that
/// knows which values are strings: a type added to [`Value`] makes the compiler stop
/// here, and every command of this family then answers WRONGTYPE for it.
fn as_str(value: &Value) -> Option<&Bytes> {
    match value {
        Value::Str(s) => Some(s),
    }
}

/// The string of a looked-up key (None: no key); replies WRONGTYPE when the key holds
/// another type.
fn string_of<'g>(
    ctx: &mut Ctx<'_>,
    entry: Option<&'g Entry>,
) -> Result<Option<&'g Bytes>, Replied> {
    match entry {
        None => Ok(None),
        Some(e) => match as_str(&e.value) {
            Some(s) => Ok(Some(s)),
            None => {
                ctx.wrong_type();
                Err(Replied)
            }
        },
    }
}

/// Replies with the string of a looked-up key, or null without a key (Redis's
/// getGenericCommand).
fn reply_string(ctx: &mut Ctx<'_>, entry: Option<&Entry>) -> Result<(), Replied> {
    match string_of(ctx, entry)? {
        Some(s) => ctx.out.bulk(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&ctx.args[1], ctx.now, &guard);
    let _ = reply_string(ctx, entry);
}

fn strlen(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&ctx.args[1], ctx.now, &guard);
    if let Ok(s) = string_of(ctx, entry) {
        ctx.out.integer(s.map_or(0, |s| s.len() as i64));
    }
}

fn mget(ctx: &mut Ctx<'_>) {
    let keys = &ctx.args[1..];
    let wanted: Vec<(&[u8], LockMode)> = keys.iter().map(|k| (&k[..], LockMode::Shared)).collect();
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&wanted, ctx.now, &guard);
    ctx.out.array_len(keys.len());
    for key in keys {
        // As Redis: a key of another type reads as missing.
        match txn.lookup_read(key).and_then(|e| as_str(&e.value)) {
            Some(s) => ctx.out.bulk(s),
            None => ctx.out.null(),
        }
    }
}

/// How a command gives a key's time to live.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ExpireUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: a Unix time in seconds.
    UnixSeconds,
    /// PXAT: a Unix time in milliseconds.
    UnixMillis,
}

impl ExpireUnit {
    /// The unit an option word of SET / GETEX names (any case).
    fn from_option(word: &[u8]) -> Option<ExpireUnit> {
        [
            ("EX", ExpireUnit::Seconds),
            ("PX", ExpireUnit::Millis),
            ("EXAT", ExpireUnit::UnixSeconds),
            ("PXAT", ExpireUnit::UnixMillis),
        ]
        .into_iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, unit)| unit)
    }
}

/// Parses an expire argument of SET / GETEX / SETEX into an absolute Unix ms time,
/// writing Redis's error reply when it is not valid (Redis's
/// getExpireMillisecondsOrReply: not positive, or overflowing once in milliseconds).
pub(super) fn parse_expire(ctx: &mut Ctx<'_>, arg: &[u8], unit: ExpireUnit) -> Option<u64> {
    let Some(n) = parse_i64(arg) else {
        ctx.not_integer();
        return None;
    };
    let seconds = matches!(unit, ExpireUnit::Seconds | ExpireUnit::UnixSeconds);
    let millis = if n <= 0 {
        None
    } else if seconds {
        n.checked_mul(1000)
    } else {
        Some(n)
    };
    let at = millis.and_then(|ms| match unit {
        ExpireUnit::Seconds | ExpireUnit::Millis => ms.checked_add(ctx.now as i64),
        ExpireUnit::UnixSeconds | ExpireUnit::UnixMillis => Some(ms),
    });
    match at {
        Some(at) => Some(at as u64),
        None => {
            let name = String::from_utf8_lossy(&ctx.args[0]).to_lowercase();
            ctx.out
                .error(format!("ERR invalid expire time in '{name}' command"));
            None
        }
    }
}

/// The deadline an EX / PX / EXAT / PXAT option gives, if one was given.
fn deadline(
    ctx: &mut Ctx<'_>,
    expire: Option<(ExpireUnit, &[u8])>,
) -> Result<Option<u64>, Replied> {
    match expire {
        None => Ok(None),
        Some((unit, arg)) => parse_expire(ctx, arg, unit).map(Some).ok_or(Replied),
    }
}

/// The options of SET and GETEX, read as Redis's parseExtendedStringArgumentsOrReply
/// does: NX/XX exclude each other, and so do the expirations, KEEPTTL and PERSIST,
/// but an option may repeat (the last expiration given wins).
#[derive(Default)]
struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

impl<'a> Options<'a> {
    /// Reads `args` (the arguments after the key, or after SET's value); None on a
    /// syntax error. `set` tells SET's options from GETEX's.
    fn parse(args: &'a [Bytes], set: bool) -> Option<Options<'a>> {
        let mut o = Options::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let is = |word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
            if set && is("NX") && !o.xx {
                o.nx = true;
            } else if set && is("XX") && !o.nx {
                o.xx = true;
            } else if set && is("GET") {
                o.get = true;
            } else if set && is("KEEPTTL") && o.expire.is_none() {
                o.keepttl = true;
            } else if !set && is("PERSIST") && o.expire.is_none() {
                o.persist = true;
            } else {
                let unit = ExpireUnit::from_option(arg)?;
                let other_unit = o.expire.is_some_and(|(given, _)| given != unit);
                if o.keepttl || o.persist || other_unit {
                    return None;
                }
                o.expire = Some((unit, rest.next()?));
            }
        }
        Some(o)
    }
}

/// What a SET-like write does with the key's TTL.
#[derive(Clone, Copy)]
enum SetTtl {
    Clear,
    Keep,
    At(u64),
}

/// When a SET-like write goes ahead.
#[derive(Clone, Copy)]
enum SetIf {
    Always,
    /// NX: only if the key does not exist.
    Missing,
    /// XX: only if it does.
    Exists,
}

/// Redis's setGenericCommand, the write of SET, SETNX, SETEX, PSETEX and GETSET:
/// stores `value` at the key (`args[1]`) unless `cond` stops it. With `get`, replies
/// the old value first (and stops with WRONGTYPE if it is not a string); otherwise
/// the caller replies. Returns whether it wrote.
fn set_generic(
    ctx: &mut Ctx<'_>,
    value: &[u8],
    cond: SetIf,
    ttl: SetTtl,
    get: bool,
) -> Result<bool, Replied> {
    let key = &ctx.args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let old = if get {
        let old = txn.lookup_read(key);
        reply_string(ctx, old)?;
        old
    } else {
        txn.get(key)
    };
    let stopped = match cond {
        SetIf::Always => false,
        SetIf::Missing => old.is_some(),
        SetIf::Exists => old.is_none(),
    };
    if stopped {
        return Ok(false);
    }
    let expire_at = match ttl {
        SetTtl::Clear => None,
        SetTtl::Keep => old.and_then(|e| e.expire_at),
        SetTtl::At(at) => Some(at),
    };
    txn.set(key, Value::string(value), expire_at);
    Ok(true)
}

fn set(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(opts) = Options::parse(&args[3..], true) else {
        return ctx.syntax_error();
    };
    let Ok(at) = deadline(ctx, opts.expire) else {
        return;
    };
    let ttl = match at {
        Some(at) => SetTtl::At(at),
        None if opts.keepttl => SetTtl::Keep,
        None => SetTtl::Clear,
    };
    let cond = match (opts.nx, opts.xx) {
        (true, _) => SetIf::Missing,
        (_, true) => SetIf::Exists,
        _ => SetIf::Always,
    };
    match set_generic(ctx, &args[2], cond, ttl, opts.get) {
        Ok(_) if opts.get => {}
        Ok(true) => ctx.out.ok(),
        Ok(false) => ctx.out.null(),
        Err(Replied) => {}
    }
}

fn setnx(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if let Ok(written) = set_generic(ctx, &args[2], SetIf::Missing, SetTtl::Clear, false) {
        ctx.out.integer(i64::from(written));
    }
}

fn setex(ctx: &mut Ctx<'_>) {
    setex_generic(ctx, ExpireUnit::Seconds);
}

fn psetex(ctx: &mut Ctx<'_>) {
    setex_generic(ctx, ExpireUnit::Millis);
}

/// SETEX and PSETEX: `key ttl value`.
fn setex_generic(ctx: &mut Ctx<'_>, unit: ExpireUnit) {
    let args = ctx.args;
    let Some(at) = parse_expire(ctx, &args[2], unit) else {
        return;
    };
    if set_generic(ctx, &args[3], SetIf::Always, SetTtl::At(at), false).is_ok() {
        ctx.out.ok();
    }
}

fn getset(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let _ = set_generic(ctx, &args[2], SetIf::Always, SetTtl::Clear, true);
}

fn mset(ctx: &mut Ctx<'_>) {
    mset_generic(ctx, false);
}

fn msetnx(ctx: &mut Ctx<'_>) {
    mset_generic(ctx, true);
}

/// MSET, and MSETNX (`nx`): all the pairs or, with `nx` and any key present, none.
/// Every key is taken in one lock, so no client sees a half-done MSET.
fn mset_generic(ctx: &mut Ctx<'_>, nx: bool) {
    let pairs = ctx.args[1..].chunks_exact(2);
    if !pairs.remainder().is_empty() {
        let name = if nx { "msetnx" } else { "mset" };
        ctx.out.error(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return;
    }
    let wanted: Vec<(&[u8], LockMode)> = pairs
        .clone()
        .map(|p| (&p[0][..], LockMode::Exclusive))
        .collect();
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&wanted, ctx.now, &guard);
    if nx && pairs.clone().any(|p| txn.get(&p[0]).is_some()) {
        return ctx.out.integer(0);
    }
    for pair in pairs {
        txn.set(&pair[0], Value::string(&pair[1]), None);
    }
    if nx {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
}

fn getdel(ctx: &mut Ctx<'_>) {
    let key = &ctx.args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.lookup_read(key);
    if reply_string(ctx, entry).is_ok() && entry.is_some() {
        txn.remove(key);
    }
}

fn getex(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let key = &args[1];
    let Some(opts) = Options::parse(&args[2..], false) else {
        return ctx.syntax_error();
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.lookup_read(key);
    // As Redis: a missing key or a wrong type is answered before the TTL is checked.
    let value = match string_of(ctx, entry) {
        Ok(Some(value)) => value,
        Ok(None) => return ctx.out.null(),
        Err(Replied) => return,
    };
    let Ok(at) = deadline(ctx, opts.expire) else {
        return;
    };
    ctx.out.bulk(value);
    match at {
        // EXAT / PXAT in the past delete the key.
        Some(at) if at <= ctx.now => {
            txn.remove(key);
        }
        Some(at) => {
            txn.set_expire(key, Some(at));
        }
        None if opts.persist && entry.is_some_and(|e| e.expire_at.is_some()) => {
            txn.set_expire(key, None);
        }
        None => {}
    }
}

/// Stores `value` at `key`, whose entry was `entry`, keeping the key's TTL: a change
/// of the string in place, as Redis's dbOverwrite (APPEND, SETRANGE, the INCRs).
fn overwrite(txn: &mut Txn<'_, '_>, key: &[u8], entry: Option<&Entry>, value: Value) {
    txn.set(key, value, entry.and_then(|e| e.expire_at));
}

/// Refuses a string longer than proto-max-bulk-len (Redis's checkStringLength).
fn check_length(ctx: &mut Ctx<'_>, len: u64, extra: usize) -> Result<usize, Replied> {
    let total = len
        .checked_add(extra as u64)
        .filter(|&t| t <= ctx.config.proto_max_bulk_len);
    match total.and_then(|t| usize::try_from(t).ok()) {
        Some(total) => Ok(total),
        None => {
            ctx.out
                .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            Err(Replied)
        }
    }
}

/// The write of APPEND and SETRANGE: stores `old` with `data` written at `offset`
/// (zero-filling any gap), keeping the key's TTL, and replies the new length.
fn write_at(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    entry: Option<&Entry>,
    old: &[u8],
    offset: u64,
    data: &[u8],
) {
    let Ok(total) = check_length(ctx, offset, data.len()) else {
        return;
    };
    let start = total - data.len();
    let mut new = Vec::with_capacity(total.max(old.len()));
    new.extend_from_slice(&old[..start.min(old.len())]);
    new.resize(start, 0);
    new.extend_from_slice(data);
    new.extend_from_slice(old.get(total..).unwrap_or_default());
    let len = new.len();
    overwrite(txn, &ctx.args[1], entry, Value::Str(new.into()));
    ctx.out.integer(len as i64);
}

fn append(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (key, data) = (&args[1], &args[2]);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.get(key);
    match string_of(ctx, entry) {
        Ok(Some(old)) => write_at(ctx, &mut txn, entry, old, old.len() as u64, data),
        Ok(None) => {
            txn.set(key, Value::string(data), None);
            ctx.out.integer(data.len() as i64);
        }
        Err(Replied) => {}
    }
}

fn setrange(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (key, data) = (&args[1], &args[3]);
    let Some(offset) = parse_i64(&args[2]) else {
        return ctx.not_integer();
    };
    let Ok(offset) = u64::try_from(offset) else {
        return ctx.out.error("ERR offset is out of range");
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.get(key);
    let Ok(old) = string_of(ctx, entry) else {
        return;
    };
    if data.is_empty() {
        // Nothing to write: the length as it is, and no key is created.
        return ctx.out.integer(old.map_or(0, |s| s.len() as i64));
    }
    write_at(
        ctx,
        &mut txn,
        entry,
        old.map_or(&[], |s| &s[..]),
        offset,
        data,
    );
}

fn getrange(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        return ctx.not_integer();
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&args[1], ctx.now, &guard);
    let Ok(value) = string_of(ctx, entry) else {
        return;
    };
    let value = value.map_or(&[][..], |s| &s[..]);
    ctx.out.bulk(substring(value, start, end));
}

/// The bytes of `s` from `start` to `end` inclusive, negative indexes counting from the
/// end, as Redis's GETRANGE (empty when both are negative and start is after end).
fn substring(s: &[u8], start: i64, end: i64) -> &[u8] {
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let len = s.len() as i64;
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    if start > end {
        return &[];
    }
    &s[start as usize..=end as usize]
}

fn incr(ctx: &mut Ctx<'_>) {
    incr_by(ctx, 1);
}

fn decr(ctx: &mut Ctx<'_>) {
    incr_by(ctx, -1);
}

fn incrby(ctx: &mut Ctx<'_>) {
    match parse_i64(&ctx.args[2]) {
        Some(by) => incr_by(ctx, by),
        None => ctx.not_integer(),
    }
}

fn decrby(ctx: &mut Ctx<'_>) {
    match parse_i64(&ctx.args[2]) {
        Some(i64::MIN) => ctx.out.error("ERR decrement would overflow"),
        Some(by) => incr_by(ctx, -by),
        None => ctx.not_integer(),
    }
}

/// Adds `by` to the integer at the key (0 when missing), keeping its TTL.
fn incr_by(ctx: &mut Ctx<'_>, by: i64) {
    let key = &ctx.args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.get(key);
    let Ok(old) = string_of(ctx, entry) else {
        return;
    };
    let Some(old) = old.map_or(Some(0), |s| parse_i64(s)) else {
        return ctx.not_integer();
    };
    let Some(new) = old.checked_add(by) else {
        return ctx.out.error("ERR increment or decrement would overflow");
    };
    overwrite(&mut txn, key, entry, Value::Str(decimal(new)));
    ctx.out.integer(new);
}

/// `n` in decimal, built on the stack: the value INCR stores.
fn decimal(n: i64) -> Bytes {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    Bytes::copy_from_slice(&buf[at..])
}

fn incrbyfloat(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let key = &args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.get(key);
    let Ok(old) = string_of(ctx, entry) else {
        return;
    };
    match add_floats(old.map(|s| &s[..]), &args[2]) {
        Ok(sum) => {
            ctx.out.bulk(&sum);
            overwrite(&mut txn, key, entry, Value::Str(sum));
        }
        Err(msg) => ctx.out.error(msg),
    }
}

/// Redis's float increment (INCRBYFLOAT, HINCRBYFLOAT): `current` (absent: 0) plus
/// `incr`, both parsed as C's strtold, added in long double precision and written as
/// Redis writes a long double for humans. Err holds the error reply.
pub(super) fn add_floats(current: Option<&[u8]>, incr: &[u8]) -> Result<Bytes, &'static str> {
    const NOT_FLOAT: &str = "ERR value is not a valid float";
    let current = match current {
        Some(text) => long_double::parse(text).ok_or(NOT_FLOAT)?,
        None => long_double::Float::ZERO,
    };
    let incr = long_double::parse(incr).ok_or(NOT_FLOAT)?;
    let sum = current
        .add(incr)
        .ok_or("ERR increment would produce NaN or Infinity")?;
    Ok(sum.to_human().into())
}

/// C's `long double` on x86-64, the x87 80-bit extended format (a 64-bit significand),
/// computed in software: glibc's strtold (correctly rounded, decimal and hex), an
/// addition rounded to nearest-even, and printf's `%.17Lf`. Redis's INCRBYFLOAT
/// replies are these numbers: 1234567.1 + 0.1 is "1234567.20000000000004547" there,
/// which double precision cannot reproduce.
mod long_double {
    use std::cmp::Ordering;
    use std::fmt::Write as _;

    /// The exponent of the least subnormal bit: 2^-16445.
    const MIN_EXP: i64 = -16445;
    /// Every finite value is below 2^16384.
    const MAX_BITS: i64 = 16384;
    /// Where exponents written in a number saturate (far beyond any finite value).
    const EXP_CAP: i64 = 1 << 40;
    /// strtold input longer than this is refused (Redis's MAX_LONG_DOUBLE_CHARS).
    const MAX_CHARS: usize = 5 * 1024;

    /// A parsed number: finite, or an infinity (which any sum turns into an error).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub(super) enum Float {
        Finite(LongDouble),
        Infinite,
    }

    /// A finite long double, `(-1)^neg × mant × 2^exp` with `exp >= MIN_EXP` and the
    /// value below 2^16384: every such triple is one (normal or subnormal).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub(super) struct LongDouble {
        neg: bool,
        mant: u64,
        exp: i64,
    }

    impl Float {
        pub(super) const ZERO: Float = Float::Finite(LongDouble::ZERO);

        /// The sum, or None for an infinity or NaN.
        pub(super) fn add(self, other: Float) -> Option<LongDouble> {
            match (self, other) {
                (Float::Finite(a), Float::Finite(b)) => a.add(b),
                _ => None,
            }
        }
    }

    impl LongDouble {
        /// Zero; its sign would never show.
        const ZERO: LongDouble = LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        };

        /// The sum, rounded to nearest-even; None when it overflows.
        fn add(self, other: LongDouble) -> Option<LongDouble> {
            // A zero's sign never shows: Redis prints "-0" as "0".
            if self.mant == 0 {
                return Some(other);
            }
            if other.mant == 0 {
                return Some(self);
            }
            let (a, b) = (self.normalized(), other.normalized());
            let (big, small) = if a.exp >= b.exp { (a, b) } else { (b, a) };
            // 62 guard bits below each 64-bit significand; what the alignment shifts
            // out of the smaller one survives as a sticky last bit, which is all that
            // rounding needs of it.
            let hi = u128::from(big.mant) << 62;
            let full = u128::from(small.mant) << 62;
            let shift = (big.exp - small.exp) as u64;
            let lo = if shift >= 128 {
                1
            } else {
                (full >> shift) | u128::from(full & ((1u128 << shift) - 1) != 0)
            };
            let (neg, sum) = if big.neg == small.neg {
                (big.neg, hi + lo)
            } else if hi >= lo {
                (big.neg, hi - lo)
            } else {
                (small.neg, lo - hi)
            };
            round(&Big::from_u128(sum), big.exp - 62, false, neg)
        }

        /// The same value with the significand's top bit at bit 63.
        fn normalized(self) -> LongDouble {
            let shift = self.mant.leading_zeros();
            LongDouble {
                mant: self.mant << shift,
                exp: self.exp - i64::from(shift),
                ..self
            }
        }

        /// Redis's ld2string in LD_STR_HUMAN mode: printf's `%.17Lf` (exact, rounded
        /// half to even), trailing zeros and a trailing dot dropped, "-0" made "0".
        pub(super) fn to_human(self) -> String {
            const SCALE: u128 = 10u128.pow(17);
            let mut text = String::new();
            if self.neg {
                text.push('-');
            }
            if self.exp >= 0 {
                text.push_str(
                    &Big::from_u128(self.mant.into())
                        .shl(self.exp as u64)
                        .to_decimal(),
                );
            } else {
                // mant × 10^17 < 2^121: below 0.5 once shifted by more than 121 bits.
                let k = self.exp.unsigned_abs();
                let scaled = u128::from(self.mant) * SCALE;
                let q = if k > 121 {
                    0
                } else {
                    let (q, rem, half) = (scaled >> k, scaled & ((1 << k) - 1), 1u128 << (k - 1));
                    q + u128::from(rem > half || (rem == half && q & 1 == 1))
                };
                let _ = write!(text, "{}", q / SCALE);
                let frac = q % SCALE;
                if frac != 0 {
                    let _ = write!(text, ".{frac:017}");
                    text.truncate(text.trim_end_matches('0').len());
                }
            }
            if text == "-0" {
                text.remove(0);
            }
            text
        }
    }

    /// Rounds `(-1)^neg × n × 2^exp` to the nearest long double, ties to even; `sticky`
    /// says a nonzero amount below n's last bit was left out. None when it overflows.
    /// A nonzero value too small for the least subnormal comes back as zero.
    fn round(n: &Big, exp: i64, sticky: bool, neg: bool) -> Option<LongDouble> {
        let len = n.bit_len() as i64;
        let drop = (len - 64).max(MIN_EXP - exp);
        let (mant, exp) = if drop <= 0 {
            (n.bits_from(0), exp)
        } else {
            let d = drop as u64;
            let kept = u128::from(n.bits_from(d));
            let up = n.bit(d - 1) && (sticky || n.any_below(d - 1) || kept & 1 == 1);
            let kept = kept + u128::from(up);
            if kept >> 64 != 0 {
                ((kept >> 1) as u64, exp + drop + 1)
            } else {
                (kept as u64, exp + drop)
            }
        };
        if mant != 0 && exp + i64::from(64 - mant.leading_zeros()) > MAX_BITS {
            return None;
        }
        Some(LongDouble { neg, mant, exp })
    }

    /// Parses `text` as Redis's string2ld: all of it must be a number as glibc's
    /// strtold reads one (`[+-]` then decimal or `0x` hex digits with an optional
    /// point and exponent, or `inf`/`infinity`), with no spaces; NaN, and a value that
    /// overflows or underflows to zero, are refused.
    pub(super) fn parse(text: &[u8]) -> Option<Float> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Float::Infinite);
        }
        let (lit, hex) = match body {
            [b'0', b'x' | b'X', hex @ ..] => (Literal::parse(hex, 16, b'p')?, true),
            _ => (Literal::parse(body, 10, b'e')?, false),
        };
        if lit.digits.is_zero() {
            return Some(Float::ZERO);
        }
        let value = if hex {
            round(
                &lit.digits,
                lit.exp.saturating_sub(4 * lit.fraction),
                false,
                neg,
            )
        } else {
            lit.decimal_value(neg)
        }?;
        // Nonzero digits that came out zero underflowed: strtold's ERANGE.
        (value.mant != 0).then_some(Float::Finite(value))
    }

    /// The parts of a number: its digits as one integer, how many of them follow the
    /// point, and the exponent after the marker (`e`: of ten, `p`: of two).
    struct Literal {
        digits: Big,
        fraction: i64,
        exp: i64,
    }

    impl Literal {
        /// `digits[.digits][marker[+-]digits]` in `radix`, at least one digit before
        /// the marker; None unless all of `text` is that.
        fn parse(text: &[u8], radix: u32, marker: u8) -> Option<Literal> {
            let mut lit = Literal {
                digits: Big::default(),
                fraction: 0,
                exp: 0,
            };
            let (mut count, mut point, mut at) = (0, false, 0);
            while let Some(&b) = text.get(at) {
                if b == b'.' && !point {
                    point = true;
                } else if let Some(d) = char::from(b).to_digit(radix) {
                    lit.digits.mul_add(radix, d);
                    count += 1;
                    lit.fraction += i64::from(point);
                } else {
                    break;
                }
                at += 1;
            }
            if count == 0 {
                return None;
            }
            let Some((&m, exp)) = text[at..].split_first() else {
                return Some(lit);
            };
            let (neg, exp) = match exp {
                [b'-', rest @ ..] => (true, rest),
                [b'+', rest @ ..] => (false, rest),
                _ => (false, exp),
            };
            if !m.eq_ignore_ascii_case(&marker)
                || exp.is_empty()
                || !exp.iter().all(u8::is_ascii_digit)
            {
                return None;
            }
            let n = exp
                .iter()
                .fold(0i64, |n, &d| (n * 10 + i64::from(d - b'0')).min(EXP_CAP));
            lit.exp = if neg { -n } else { n };
            Some(lit)
        }

        /// The value of nonzero decimal digits, correctly rounded (zero if it
        /// underflows, None if it overflows): `digits × 10^p` exactly as an integer,
        /// or for p < 0 a quotient of 65 to 67 bits and whether a remainder was left.
        fn decimal_value(self, neg: bool) -> Option<LongDouble> {
            let p = self.exp - self.fraction;
            let bits = self.digits.bit_len() as i64;
            // log10(digits) lies in [(bits - 1) × 0.30103, bits × 0.30103): refuse at
            // once what is surely ≥ 1e4933 (overflow) or < 1e-4952 (rounds to zero).
            if (bits - 1) * 30103 / 100_000 + p > 4933 {
                return None;
            }
            if bits * 30103 / 100_000 + 1 + p < -4952 {
                return Some(LongDouble::ZERO);
            }
            if p >= 0 {
                let mut n = self.digits;
                n.mul_pow10(p as u64);
                return round(&n, 0, false, neg);
            }
            let den = Big::pow10(p.unsigned_abs());
            let shift = bits - den.bit_len() as i64 - 66;
            let (mut num, den) = if shift < 0 {
                (self.digits.shl(shift.unsigned_abs()), den)
            } else {
                (self.digits, den.shl(shift as u64))
            };
            let mut q: u128 = 0;
            for i in (0..67).rev() {
                let step = den.shl(i);
                if num.cmp(&step) != Ordering::Less {
                    num.sub_assign(&step);
                    q |= 1 << i;
                }
            }
            round(&Big::from_u128(q), shift, !num.is_zero(), neg)
        }
    }

    /// A non-negative integer of any size: little-endian 32-bit limbs, no zero limb
    /// on top (zero has none).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u128(mut n: u128) -> Big {
            let mut limbs = Vec::new();
            while n != 0 {
                limbs.push(n as u32);
                n >>= 32;
            }
            Big(limbs)
        }

        fn pow10(n: u64) -> Big {
            let mut b = Big(vec![1]);
            b.mul_pow10(n);
            b
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn bit_len(&self) -> u64 {
            self.0.last().map_or(0, |top| {
                self.0.len() as u64 * 32 - u64::from(top.leading_zeros())
            })
        }

        /// `self = self × m + a`.
        fn mul_add(&mut self, m: u32, a: u32) {
            let mut carry = u64::from(a);
            for limb in &mut self.0 {
                let t = u64::from(*limb) * u64::from(m) + carry;
                *limb = t as u32;
                carry = t >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }

        fn mul_pow10(&mut self, mut n: u64) {
            while n > 0 {
                let step = n.min(9);
                self.mul_add(10u32.pow(step as u32), 0);
                n -= step;
            }
        }

        fn shl(&self, bits: u64) -> Big {
            if self.is_zero() {
                return Big::default();
            }
            let (limbs, bits) = ((bits / 32) as usize, (bits % 32) as u32);
            let mut out = vec![0; limbs];
            if bits == 0 {
                out.extend_from_slice(&self.0);
            } else {
                let mut carry = 0;
                for &limb in &self.0 {
                    out.push((limb << bits) | carry);
                    carry = limb >> (32 - bits);
                }
                if carry != 0 {
                    out.push(carry);
                }
            }
            Big(out)
        }

        fn bit(&self, i: u64) -> bool {
            usize::try_from(i / 32)
                .ok()
                .and_then(|limb| self.0.get(limb))
                .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
        }

        /// Whether any bit below bit `i` is set.
        fn any_below(&self, i: u64) -> bool {
            let whole = usize::try_from(i / 32)
                .unwrap_or(usize::MAX)
                .min(self.0.len());
            let part = (i % 32) as u32;
            self.0[..whole].iter().any(|&l| l != 0)
                || (part != 0
                    && self
                        .0
                        .get(whole)
                        .is_some_and(|&l| l & ((1 << part) - 1) != 0))
        }

        /// Bits `from..from + 64` as a number.
        fn bits_from(&self, from: u64) -> u64 {
            (0..64)
                .filter(|&k| self.bit(from + k))
                .fold(0, |m, k| m | 1 << k)
        }

        fn cmp(&self, other: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&other.0.len())
                .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
        }

        /// `self -= other`, for `other <= self`.
        fn sub_assign(&mut self, other: &Big) {
            let mut borrow = false;
            for (i, limb) in self.0.iter_mut().enumerate() {
                let (d, b1) = limb.overflowing_sub(other.0.get(i).copied().unwrap_or(0));
                let (d, b2) = d.overflowing_sub(u32::from(borrow));
                *limb = d;
                borrow = b1 || b2;
            }
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        /// `self /= d`, returning the remainder.
        fn div_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for limb in self.0.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / u64::from(d)) as u32;
                rem = cur % u64::from(d);
            }
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
            rem as u32
        }

        fn to_decimal(&self) -> String {
            let mut n = self.clone();
            let mut chunks = Vec::new();
            while !n.is_zero() {
                chunks.push(n.div_small(1_000_000_000));
            }
            let mut text = String::new();
            let mut rev = chunks.iter().rev();
            let _ = write!(text, "{}", rev.next().copied().unwrap_or(0));
            for chunk in rev {
                let _ = write!(text, "{chunk:09}");
            }
            text
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn sum(a: &str, b: &str) -> Option<String> {
            let (a, b) = (parse(a.as_bytes())?, parse(b.as_bytes())?);
            a.add(b).map(LongDouble::to_human)
        }

        #[test]
        fn parses_what_strtold_accepts() {
            for ok in [
                "1",
                "-1",
                "+1.5",
                "1.",
                ".5",
                "1e3",
                "1E+3",
                "1e-3",
                "0x1p3",
                "0X1.8P1",
                "inf",
                "-Infinity",
                "0e999999999999999999",
            ] {
                assert!(parse(ok.as_bytes()).is_some(), "{ok}");
            }
            for bad in [
                "",
                " 1",
                "1 ",
                "+",
                "-",
                ".",
                "e1",
                "1e",
                "1e+",
                "0x",
                "0xp1",
                "0x1p",
                "nan",
                "NaN(1)",
                "infin",
                "1..2",
                "--1",
                "1e5000",
                "1e-5000",
                "0x1p99999",
                "0x1p-99999",
                "1\0",
            ] {
                assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
            }
            let longest = format!("0.{}", "1".repeat(MAX_CHARS - 3));
            assert!(parse(longest.as_bytes()).is_some());
            assert!(parse(format!("{longest}1").as_bytes()).is_none());
        }

        #[test]
        fn adds_and_prints_as_redis_on_x86_64() {
            // Replies of Redis 7.0.15 (x86-64) to SET k <a> then INCRBYFLOAT k <b>.
            let cases = [
                ("10.5", "0.1", "10.6"),
                ("0.1", "0.2", "0.3"),
                ("5.0e3", "2.0e2", "5200"),
                ("1e20", "0", "100000000000000000000"),
                ("1234567.1", "0.1", "1234567.20000000000004547"),
                ("0", "1e-20", "0"),
                ("-1.5", "1.5", "0"),
                ("0", "-0", "0"),
                ("0", "0x1p3", "8"),
                ("12345678901234567.5", "0", "12345678901234567.5"),
                ("1.23456789012345678", "0", "1.23456789012345678"),
                ("1e300", "1", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
            ];
            for (a, b, want) in cases {
                assert_eq!(sum(a, b).as_deref(), Some(want), "{a} + {b}");
            }
            assert_eq!(sum("inf", "1"), None);
            assert_eq!(sum("1e4932", "1e4932"), None);
        }

        #[test]
        fn rounds_ties_to_even() {
            fn value(text: &str) -> LongDouble {
                match parse(text.as_bytes()) {
                    Some(Float::Finite(v)) => v.normalized(),
                    other => panic!("{text}: {other:?}"),
                }
            }
            fn plus(a: &str, b: &str) -> LongDouble {
                Float::Finite(value(a))
                    .add(Float::Finite(value(b)))
                    .map(LongDouble::normalized)
                    .unwrap()
            }
            // One ulp of 1 is 2^-63: 1 + 2^-64 is a tie, and goes to the even side.
            assert_eq!(value("0x1.0000000000000001p0"), value("1"));
            assert_eq!(
                value("0x1.0000000000000003p0"),
                value("0x1.0000000000000004p0")
            );
            assert_eq!(
                value("0x1.00000000000000010001p0"),
                value("0x1.0000000000000002p0")
            );
            assert_eq!(plus("1", "0x1p-64"), value("1"));
            assert_eq!(
                plus("0x1.0000000000000002p0", "0x1p-64"),
                value("0x1.0000000000000004p0")
            );
            assert_eq!(plus("1", "0x1.0001p-64"), value("0x1.0000000000000002p0"));
            // Far below the last bit: only the sticky bit of it is left.
            assert_eq!(plus("1", "0x1p-200"), value("1"));
            assert_eq!(plus("1", "-0x1p-200"), value("1"));
            assert_eq!(plus("1", "-0x1p-65"), value("1"));
            assert_eq!(
                plus("1", "-0x1.0000000000000002p-65"),
                value("0x1.fffffffffffffffep-1")
            );
            // Subnormals.
            assert_eq!(value("0x1p-16445"), value("0x0.8p-16444"));
            assert_eq!(parse(b"0x1p-16446"), None);
            assert_eq!(value("0x1.8p-16446"), value("0x1p-16445"));
        }
    }
}
