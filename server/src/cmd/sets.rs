//! The set family, as Redis 7.0's t_set.c: SADD SREM SMEMBERS SISMEMBER SMISMEMBER
//! SCARD SPOP SRANDMEMBER SMOVE SINTER SINTERSTORE SINTERCARD SUNION SUNIONSTORE SDIFF
//! SDIFFSTORE SSCAN. The encodings (intset, hashtable) are the engine's
//! ([`tier_engine::value::Set`]); a write stores a new set (see [`collection`]).
//! Random pops are logged as the SREM (or DEL) of what they took, as Redis propagates
//! them.

use super::collection::{
    collection_of, count_changes, distinct, draw, modify_key, move_between, read, scan_command,
    spec, store, store_result, Written,
};
use super::hashes::parse_count;
use super::table::{CommandSpec, Flags, KeySpec};
use super::values::Replied;
use super::{key_locks, Ctx};
use crate::num::parse_i64;
use bytes::Bytes;
use std::borrow::Cow;
use std::sync::Arc;
use tier_engine::value::Set;
use tier_engine::{LockMode, Txn};

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WM: Flags = Flags::WRITE.union(Flags::DENYOOM);
const ND: Flags = Flags::NONDETERMINISTIC;

const ONE: KeySpec = KeySpec::ONE;
const ALL: KeySpec = KeySpec::ALL;
/// SMOVE's source and destination.
const TWO: KeySpec = KeySpec::new(1, 2, 1);

pub(super) const COMMANDS: &[CommandSpec] = &[
    spec("set", "sadd", -3, WM.union(Flags::FAST), ONE, sadd, ["Add one or more members to a set", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key member [member ...]"]),
    spec("set", "srem", -3, WF, ONE, srem, ["Remove one or more members from a set", "1.0.0", "O(N) where N is the number of members to be removed.", "key member [member ...]"]),
    spec("set", "smembers", 2, R, ONE, smembers, ["Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality.", "key"]),
    spec("set", "sismember", 3, RF, ONE, sismember, ["Determine if a given value is a member of a set", "1.0.0", "O(1)", "key member"]),
    spec("set", "smismember", -3, RF, ONE, smismember, ["Returns the membership associated with the given elements for a set", "6.2.0", "O(N) where N is the number of elements being checked for membership", "key member [member ...]"]),
    spec("set", "scard", 2, RF, ONE, scard, ["Get the number of members in a set", "1.0.0", "O(1)", "key"]),
    spec("set", "spop", -2, WF.union(ND), ONE, spop, ["Remove and return one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "key [count]"]),
    spec("set", "srandmember", -2, R.union(ND), ONE, srandmember, ["Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "key [count]"]),
    spec("set", "smove", 4, WF, TWO, smove, ["Move a member from one set to another", "1.0.0", "O(1)", "source destination member"]),
    spec("set", "sinter", -2, R, ALL, sinter, ["Intersect multiple sets", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "key [key ...]"]),
    spec("set", "sinterstore", -3, WM, ALL, sinterstore, ["Intersect multiple sets and store the resulting set in a key", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "destination key [key ...]"]),
    spec("set", "sintercard", -3, R, KeySpec::counted_at(1), sintercard, ["Intersect multiple sets and return the cardinality of the result", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "numkeys key [key ...] [LIMIT limit]"]),
    spec("set", "sunion", -2, R, ALL, sunion, ["Add multiple sets", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"]),
    spec("set", "sunionstore", -3, WM, ALL, sunionstore, ["Add multiple sets and store the resulting set in a key", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"]),
    spec("set", "sdiff", -2, R, ALL, sdiff, ["Subtract multiple sets", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "key [key ...]"]),
    spec("set", "sdiffstore", -3, WM, ALL, sdiffstore, ["Subtract multiple sets and store the resulting set in a key", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "destination key [key ...]"]),
    spec("set", "sscan", -3, R.union(ND), ONE, sscan, ["Incrementally iterate Set elements", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "key cursor [MATCH pattern] [COUNT count]"]),
];

fn sadd(ctx: &mut Ctx<'_>) {
    count_changes::<Set>(ctx, |s, member, limits| s.add(member, limits));
}

fn srem(ctx: &mut Ctx<'_>) {
    count_changes::<Set>(ctx, |s, member, _| s.remove(member));
}

/// Replies the members as a set (`~` in RESP3).
fn reply_members<'a>(ctx: &mut Ctx<'_>, len: usize, members: impl Iterator<Item = Cow<'a, [u8]>>) {
    ctx.out.set_len(len);
    for m in members {
        ctx.out.bulk(&m);
    }
}

fn smembers(ctx: &mut Ctx<'_>) {
    if let Ok(s) = read::<Set>(ctx) {
        let s = s.unwrap_or_default();
        reply_members(ctx, s.len(), s.iter());
    }
}

fn sismember(ctx: &mut Ctx<'_>) {
    if let Ok(s) = read::<Set>(ctx) {
        let found = s.is_some_and(|s| s.contains(&ctx.args[2]));
        ctx.out.integer(i64::from(found));
    }
}

fn smismember(ctx: &mut Ctx<'_>) {
    if let Ok(s) = read::<Set>(ctx) {
        let members = &ctx.args[2..];
        ctx.out.array_len(members.len());
        for m in members {
            let found = s.as_deref().is_some_and(|s| s.contains(m));
            ctx.out.integer(i64::from(found));
        }
    }
}

fn scard(ctx: &mut Ctx<'_>) {
    if let Ok(s) = read::<Set>(ctx) {
        ctx.out.integer(s.map_or(0, |s| s.len() as i64));
    }
}

/// Logs the removal of `members` from `key` as the SREM Redis propagates.
fn log_srem<'a>(ctx: &Ctx<'_>, key: &'a [u8], members: &'a [Cow<'a, [u8]>]) {
    let mut args: Vec<&[u8]> = vec![b"SREM", key];
    args.extend(members.iter().map(|m| &m[..]));
    ctx.log_as(&args);
}

fn spop(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let key = &args[1];
    let count = match args.len() {
        2 => None,
        3 => match parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.out.error("ERR value is out of range, must be positive"),
        },
        _ => return ctx.syntax_error(),
    };
    modify_key::<Set>(ctx, |ctx, s, existed| {
        let Some(count) = count else {
            let Some(m) = s.random(&mut rand::thread_rng()).map(Cow::into_owned) else {
                ctx.out.null();
                return Written::Nothing;
            };
            s.remove(&m);
            ctx.out.bulk(&m);
            log_srem(ctx, key, &[Cow::Borrowed(&m)]);
            return Written::Changed;
        };
        if !existed || count == 0 {
            ctx.out.set_len(0);
            return Written::Nothing;
        }
        if count >= s.len() as u64 {
            reply_members(ctx, s.len(), s.iter());
            ctx.log_as(&[b"DEL", key]);
            *s = Set::default();
            return Written::Changed;
        }
        let len = s.len();
        let popped: Vec<Vec<u8>> = distinct(
            count as usize,
            len,
            || s.iter().map(Cow::into_owned).collect(),
            || {
                s.random(&mut rand::thread_rng())
                    .map(Cow::into_owned)
                    .unwrap_or_default()
            },
        );
        let popped: Vec<Cow<'_, [u8]>> = popped.into_iter().map(Cow::Owned).collect();
        for m in &popped {
            s.remove(m);
        }
        reply_members(ctx, popped.len(), popped.iter().cloned());
        log_srem(ctx, key, &popped);
        Written::Changed
    });
}

fn srandmember(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let count = match args.len() {
        2 => None,
        3 => match parse_count(ctx, &args[2]) {
            Some(n) => Some(n),
            None => return,
        },
        _ => return ctx.syntax_error(),
    };
    let Ok(s) = read::<Set>(ctx) else {
        return;
    };
    let Some(count) = count else {
        match s.as_deref().and_then(|s| s.random(&mut rand::thread_rng())) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return;
    };
    let s = s.unwrap_or_default();
    let mut rng = rand::thread_rng();
    let picked = draw(
        count,
        s.len(),
        || s.iter().collect(),
        || s.random(&mut rng).unwrap_or_default(),
    );
    ctx.out.array_len(picked.len());
    for m in picked {
        ctx.out.bulk(&m);
    }
}

fn smove(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let missing = |ctx: &mut Ctx<'_>| ctx.out.integer(0);
    move_between::<Set>(ctx, missing, |ctx, txn, from, to| {
        if src == dst {
            return ctx.out.integer(i64::from(from.contains(member)));
        }
        let mut from = (*from).clone();
        if !from.remove(member) {
            return ctx.out.integer(0);
        }
        let limits = ctx.config.limits;
        store(txn, src, from, true, Written::Changed);
        let existed = to.is_some();
        let mut to = to.map_or_else(|| Set::for_member(member), |s| (*s).clone());
        to.add(member, &limits);
        store(txn, dst, to, existed, Written::Changed);
        ctx.out.integer(1);
    });
}

/// The sets of `keys`, each type-checked (Redis checks every key before it uses any).
/// Every cold key not loaded is noted before stopping, so they load together.
fn sets_of(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    keys: &[Bytes],
) -> Result<Vec<Option<Arc<Set>>>, Replied> {
    let mut sets = Vec::with_capacity(keys.len());
    let mut missed = false;
    for key in keys {
        let entry = txn.lookup_read(key);
        match collection_of::<Set>(ctx, key, entry) {
            Ok(s) => sets.push(s),
            Err(Replied) if ctx.cold.has_missed() => missed = true,
            Err(Replied) => return Err(Replied),
        }
    }
    match missed {
        true => Err(Replied),
        false => Ok(sets),
    }
}

/// The intersection of `sets` as its members, in the order of the smallest set, at
/// most `limit` of them (0: no limit); empty if any set is missing.
fn intersect(sets: &[Option<Arc<Set>>], limit: usize) -> Vec<Vec<u8>> {
    let Some(mut sets) = sets.iter().cloned().collect::<Option<Vec<Arc<Set>>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let mut out = Vec::new();
    for m in first.iter() {
        if rest.iter().all(|s| s.contains(&m)) {
            out.push(m.into_owned());
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

/// SUNION or SDIFF of `sets`, built as Redis builds it: from an empty intset, member
/// by member (so an all-integer result is an intset, in ascending order).
fn union_or_diff(sets: &[Option<Arc<Set>>], diff: bool, ctx: &Ctx<'_>) -> Set {
    let limits = ctx.config.limits;
    let mut out = Set::intset();
    let mut present = sets.iter();
    if diff {
        if let Some(Some(first)) = present.next() {
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                    out.add(&m, &limits);
                }
            }
        }
        return out;
    }
    for s in present.flatten() {
        for m in s.iter() {
            out.add(&m, &limits);
        }
    }
    out
}

/// The three set operations.
#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// SINTER, SUNION, SDIFF: the result as a set reply.
fn op_reply(ctx: &mut Ctx<'_>, op: Op) {
    let keys = &ctx.args[1..];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Shared), ctx.now, &guard);
    let Ok(sets) = sets_of(ctx, &mut txn, keys) else {
        return;
    };
    match op {
        Op::Inter => {
            let members = intersect(&sets, 0);
            reply_members(
                ctx,
                members.len(),
                members.iter().map(|m| Cow::Borrowed(&m[..])),
            );
        }
        Op::Union | Op::Diff => {
            let s = union_or_diff(&sets, matches!(op, Op::Diff), ctx);
            reply_members(ctx, s.len(), s.iter());
        }
    }
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces the destination (and
/// its TTL); an empty result deletes it.
fn op_store(ctx: &mut Ctx<'_>, op: Op) {
    let args = ctx.args;
    let (dst, keys) = (&args[1], &args[2..]);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(&args[1..], LockMode::Exclusive), ctx.now, &guard);
    let Ok(sets) = sets_of(ctx, &mut txn, keys) else {
        return;
    };
    let result = match op {
        Op::Inter => {
            let limits = ctx.config.limits;
            let mut s = Set::intset();
            for m in intersect(&sets, 0) {
                s.add(&m, &limits);
            }
            s
        }
        Op::Union | Op::Diff => union_or_diff(&sets, matches!(op, Op::Diff), ctx),
    };
    store_result(ctx, &mut txn, dst, Arc::new(result));
}

fn sinter(ctx: &mut Ctx<'_>) {
    op_reply(ctx, Op::Inter);
}

fn sunion(ctx: &mut Ctx<'_>) {
    op_reply(ctx, Op::Union);
}

fn sdiff(ctx: &mut Ctx<'_>) {
    op_reply(ctx, Op::Diff);
}

fn sinterstore(ctx: &mut Ctx<'_>) {
    op_store(ctx, Op::Inter);
}

fn sunionstore(ctx: &mut Ctx<'_>) {
    op_store(ctx, Op::Union);
}

fn sdiffstore(ctx: &mut Ctx<'_>) {
    op_store(ctx, Op::Diff);
}

fn sintercard(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return ctx.out.error(NUMKEYS),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let keys = &args[2..2 + numkeys as usize];
    let mut limit = 0;
    let mut rest = &args[2 + numkeys as usize..];
    while let Some((opt, more)) = rest.split_first() {
        match more.first() {
            Some(value) if opt.eq_ignore_ascii_case(b"LIMIT") => {
                match parse_i64(value) {
                    Some(n) if n >= 0 => limit = n as usize,
                    _ => return ctx.out.error("ERR LIMIT can't be negative"),
                }
                rest = &more[1..];
            }
            _ => return ctx.syntax_error(),
        }
    }
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Shared), ctx.now, &guard);
    if let Ok(sets) = sets_of(ctx, &mut txn, keys) {
        ctx.out.integer(intersect(&sets, limit).len() as i64);
    }
}

fn sscan(ctx: &mut Ctx<'_>) {
    scan_command::<Set>(ctx, |s, cursor, options, items| {
        s.scan(cursor, options.count, |m| {
            if options.matches(&m) {
                items.push(m);
            }
        })
    });
}
