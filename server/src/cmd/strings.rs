//! The string family, as Redis 7.0's t_string.c: GET, SET (NX XX GET EX PX EXAT PXAT
//! KEEPTTL), SETNX, SETEX, PSETEX, MGET, MSET, MSETNX, GETSET, GETDEL, GETEX, APPEND,
//! STRLEN, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT, GETRANGE, SUBSTR and SETRANGE.
//!
//! Writes that change a string in place (APPEND, SETRANGE, the INCR family) keep the
//! key's TTL; the SET family replaces it. INCRBYFLOAT computes in x87 extended precision
//! ([`long_double`]) because that is what Redis's `long double` is on x86-64, and its
//! replies show it.

use super::expire::{invalid_expire_time, ExpireUnit};
use super::table::{CommandSpec, Flags, KeySpec};
use super::values::{ColdMiss, Replied, ValueRef};
use super::{key_locks, Ctx};
use crate::num::{format_i64, long_double, parse_i64};
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
        flags: WM.union(Flags::KEYS_ONLY),
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
        flags: WMF.union(Flags::KEYS_ONLY),
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
        flags: WM.union(Flags::KEYS_ONLY),
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
        flags: WM.union(Flags::KEYS_ONLY),
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
        flags: WM.union(Flags::KEYS_ONLY),
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
        flags: WM.union(Flags::KEYS_ONLY),
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

/// The string `value` holds; None for a value of another type. The one place that
/// knows which values are strings: a type added to [`Value`] makes the compiler stop
/// here, and every command of this family then answers WRONGTYPE for it.
fn as_str(value: &Value) -> Option<&Bytes> {
    match value {
        Value::Str(s) => Some(s),
        Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => None,
    }
}

/// The string of a looked-up key (None: no key); replies WRONGTYPE when the key holds
/// another type. Stops without a reply when the value is in the cold tier and was not
/// loaded (see [`super::values`]).
fn string_of<'g>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    entry: Option<&'g Entry>,
) -> Result<Option<StrRef<'g>>, Replied> {
    let Some(e) = entry else {
        return Ok(None);
    };
    let string = match ctx.value_of(key, e)? {
        ValueRef::Ram(v) => as_str(v).map(StrRef::Ram),
        ValueRef::Loaded(v) => as_str(&v).cloned().map(StrRef::Loaded),
    };
    match string {
        Some(s) => Ok(Some(s)),
        None => {
            ctx.wrong_type();
            Err(Replied)
        }
    }
}

/// A string a command reads: borrowed from RAM or loaded from the cold tier.
enum StrRef<'g> {
    Ram(&'g Bytes),
    Loaded(Bytes),
}

impl std::ops::Deref for StrRef<'_> {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        match self {
            StrRef::Ram(b) => b,
            StrRef::Loaded(b) => b,
        }
    }
}

/// Replies with the string of a looked-up key, or null without a key (Redis's
/// getGenericCommand).
fn reply_string(ctx: &mut Ctx<'_>, key: &[u8], entry: Option<&Entry>) -> Result<(), Replied> {
    match string_of(ctx, key, entry)? {
        Some(s) => ctx.out.bulk(&s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&ctx.args[1], ctx.now, &guard);
    let _ = reply_string(ctx, &ctx.args[1], entry);
}

fn strlen(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&ctx.args[1], ctx.now, &guard);
    if let Ok(s) = string_of(ctx, &ctx.args[1], entry) {
        ctx.out.integer(s.map_or(0, |s| s.len() as i64));
    }
}

fn mget(ctx: &mut Ctx<'_>) {
    let keys = &ctx.args[1..];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Shared), ctx.now, &guard);
    ctx.out.array_len(keys.len());
    for key in keys {
        let value = match txn.lookup_read(key) {
            Some(e) => match ctx.value_of(key, e) {
                Ok(v) => Some(v),
                Err(ColdMiss) => return,
            },
            None => None,
        };
        // As Redis: a key of another type reads as missing.
        match value.as_deref().and_then(as_str) {
            Some(s) => ctx.out.bulk(s),
            None => ctx.out.null(),
        }
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
    // Unlike EXPIRE's, this time must be positive.
    match unit.deadline(n, ctx.now).filter(|_| n > 0) {
        Some(at) => Some(at as u64),
        None => {
            invalid_expire_time(ctx);
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
        reply_string(ctx, key, old)?;
        old
    } else if matches!((cond, ttl), (SetIf::Always, SetTtl::Clear | SetTtl::At(_))) {
        // A plain overwrite needs nothing of the old entry.
        None
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
        SetTtl::Keep => old.and_then(Entry::expire_at),
        SetTtl::At(at) => {
            // As Redis 7: any relative or absolute expiry is logged as PXAT.
            ctx.log_as(&[b"SET", key, value, b"PXAT", at.to_string().as_bytes()]);
            Some(at)
        }
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
        return ctx.wrong_arity(if nx { "msetnx" } else { "mset" });
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
    if reply_string(ctx, key, entry).is_ok() && entry.is_some() {
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
    let value = match string_of(ctx, key, entry) {
        Ok(Some(value)) => value,
        Ok(None) => return ctx.out.null(),
        Err(Replied) => return,
    };
    let Ok(at) = deadline(ctx, opts.expire) else {
        return;
    };
    ctx.out.bulk(&value);
    match at {
        // EXAT / PXAT in the past delete the key.
        Some(at) if at <= ctx.now => {
            ctx.log_as(&[b"DEL", key]);
            txn.remove(key);
        }
        Some(at) => {
            ctx.log_as(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
            txn.set_expire(key, Some(at));
        }
        None if opts.persist && entry.is_some_and(|e| e.expire_at().is_some()) => {
            ctx.log_as(&[b"PERSIST", key]);
            txn.set_expire(key, None);
        }
        None => {}
    }
}

/// Stores `value` at `key`, whose entry was `entry`, keeping the key's TTL: a change
/// of the string in place, as Redis's dbOverwrite (APPEND, SETRANGE, the INCRs).
fn overwrite(txn: &mut Txn<'_, '_>, key: &[u8], entry: Option<&Entry>, value: Value) {
    txn.set(key, value, entry.and_then(Entry::expire_at));
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

/// Runs `f` on the key (`args[1]`) of a command that changes a string in place
/// (APPEND, SETRANGE, the INCRs) with the key held exclusively: `f` gets the
/// transaction, the key's entry and its string (None: no key). A key of another type
/// is answered WRONGTYPE and `f` does not run.
fn modify_string(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut Ctx<'_>, &mut Txn<'_, '_>, Option<&Entry>, Option<&Bytes>),
) {
    let key = &ctx.args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let entry = txn.get(key);
    if let Ok(old) = string_of(ctx, key, entry) {
        f(ctx, &mut txn, entry, old.as_deref());
    }
}

fn append(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (key, data) = (&args[1], &args[2]);
    modify_string(ctx, |ctx, txn, entry, old| match old {
        Some(old) => write_at(ctx, txn, entry, old, old.len() as u64, data),
        None => {
            txn.set(key, Value::string(data), None);
            ctx.out.integer(data.len() as i64);
        }
    });
}

fn setrange(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let data = &args[3];
    let Some(offset) = parse_i64(&args[2]) else {
        return ctx.not_integer();
    };
    let Ok(offset) = u64::try_from(offset) else {
        return ctx.out.error("ERR offset is out of range");
    };
    modify_string(ctx, |ctx, txn, entry, old| {
        if data.is_empty() {
            // Nothing to write: the length as it is, and no key is created.
            return ctx.out.integer(old.map_or(0, |s| s.len() as i64));
        }
        write_at(ctx, txn, entry, old.map_or(&[], |s| &s[..]), offset, data);
    });
}

fn getrange(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (Some(start), Some(end)) = (parse_i64(&args[2]), parse_i64(&args[3])) else {
        return ctx.not_integer();
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let entry = db.lookup_read(&args[1], ctx.now, &guard);
    let Ok(value) = string_of(ctx, &args[1], entry) else {
        return;
    };
    let value = value.as_deref().map_or(&[][..], |s| &s[..]);
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
    modify_string(ctx, |ctx, txn, entry, old| {
        let Some(old) = old.map_or(Some(0), |s| parse_i64(s)) else {
            return ctx.not_integer();
        };
        let Some(new) = old.checked_add(by) else {
            return ctx.out.error("ERR increment or decrement would overflow");
        };
        overwrite(txn, key, entry, Value::Str(format_i64(new)));
        ctx.out.integer(new);
    });
}

fn incrbyfloat(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (key, incr) = (&args[1], &args[2]);
    modify_string(ctx, |ctx, txn, entry, old| {
        match add_floats(old.map(|s| &s[..]), incr) {
            Ok(sum) => {
                ctx.out.bulk(&sum);
                // As Redis: the result is logged, not the increment, so a replay
                // cannot round differently.
                ctx.log_as(&[b"SET", key, &sum, b"KEEPTTL"]);
                overwrite(txn, key, entry, Value::Str(sum));
            }
            Err(msg) => ctx.out.error(msg),
        }
    });
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
        .checked_add(incr)
        .ok_or("ERR increment would produce NaN or Infinity")?;
    Ok(sum.to_human().into())
}
