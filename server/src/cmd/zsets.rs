//! The sorted set family, as Redis 7.0's t_zset.c, but for the blocking BZPOPMIN,
//! BZPOPMAX and BZMPOP: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT
//! ZLEXCOUNT, the ranges (ZRANGE with BYSCORE, BYLEX, REV, LIMIT, and the older
//! ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE, ZRANGESTORE),
//! ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX, ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER,
//! ZUNION ZINTER ZDIFF and their STORE forms, ZINTERCARD, ZSCAN. The encodings
//! (listpack, skiplist) are the engine's ([`tier_engine::value::ZSet`]); a write
//! stores a new sorted set (see [`collection`]). Every write is logged as sent but
//! ZMPOP, logged as the ZPOPMIN or ZPOPMAX of what it took, as Redis propagates it.

use super::collection::{
    collection_of, count_changes, draw, modify_key, read, read_at, reply_pairs, scan_command, spec,
    store, store_result, RandArgs, Written,
};
use super::table::{CommandSpec, Flags, KeySpec};
use super::values::Replied;
use super::{key_locks, Ctx};
use crate::blocking::{block_on, parse_timeout, take_wake};
use crate::num::{parse_f64, parse_i64, strtod};
use crate::resp::Protocol;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use tier_engine::value::zset::{LexBound, ScoreBound};
use tier_engine::value::{Limits, Set, ZSet};
use tier_engine::{LockMode, Txn, Value};

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WM: Flags = Flags::WRITE.union(Flags::DENYOOM);
const ND: Flags = Flags::NONDETERMINISTIC;

const ONE: KeySpec = KeySpec::ONE;
/// The keys counted by the first argument (ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP).
const COUNTED: KeySpec = KeySpec::counted_at(1);
/// A destination, then the keys counted by the second argument (ZUNIONSTORE...).
const STORE: KeySpec = KeySpec::ONE.and_counted_at(2);

const RANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_COMPLEXITY: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const INTER_COMPLEXITY: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_COMPLEXITY: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub(super) const COMMANDS: &[CommandSpec] = &[
    spec("sorted-set", "zadd", -4, WM.union(Flags::FAST), ONE, zadd, ["Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"]),
    spec("sorted-set", "zincrby", 4, WM.union(Flags::FAST), ONE, zincrby, ["Increment the score of a member in a sorted set", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "key increment member"]),
    spec("sorted-set", "zrem", -3, WF, ONE, zrem, ["Remove one or more members from a sorted set", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "key member [member ...]"]),
    spec("sorted-set", "zcard", 2, RF, ONE, zcard, ["Get the number of members in a sorted set", "1.2.0", "O(1)", "key"]),
    spec("sorted-set", "zscore", 3, RF, ONE, zscore, ["Get the score associated with the given member in a sorted set", "1.2.0", "O(1)", "key member"]),
    spec("sorted-set", "zmscore", -3, RF, ONE, zmscore, ["Get the score associated with the given members in a sorted set", "6.2.0", "O(N) where N is the number of members being requested.", "key member [member ...]"]),
    spec("sorted-set", "zrank", 3, RF, ONE, zrank, ["Determine the index of a member in a sorted set", "2.0.0", "O(log(N))", "key member"]),
    spec("sorted-set", "zrevrank", 3, RF, ONE, zrevrank, ["Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", "O(log(N))", "key member"]),
    spec("sorted-set", "zcount", 4, RF, ONE, zcount, ["Count the members in a sorted set with scores within the given values", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"]),
    spec("sorted-set", "zlexcount", 4, RF, ONE, zlexcount, ["Count the number of members in a sorted set between a given lexicographical range", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "key min max"]),
    spec("sorted-set", "zrange", -4, R, ONE, zrange, ["Return a range of members in a sorted set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"]),
    spec("sorted-set", "zrangestore", -5, WM, KeySpec::new(1, 2, 1), zrangestore, ["Store a range of members from sorted set into another key", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"]),
    spec("sorted-set", "zrangebyscore", -4, R, ONE, zrangebyscore, ["Return a range of members in a sorted set, by score", "1.0.5", RANGE_COMPLEXITY, "key min max [WITHSCORES] [LIMIT offset count]"]),
    spec("sorted-set", "zrevrangebyscore", -4, R, ONE, zrevrangebyscore, ["Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", RANGE_COMPLEXITY, "key max min [WITHSCORES] [LIMIT offset count]"]),
    spec("sorted-set", "zrangebylex", -4, R, ONE, zrangebylex, ["Return a range of members in a sorted set, by lexicographical range", "2.8.9", RANGE_COMPLEXITY, "key min max [LIMIT offset count]"]),
    spec("sorted-set", "zrevrangebylex", -4, R, ONE, zrevrangebylex, ["Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", RANGE_COMPLEXITY, "key max min [LIMIT offset count]"]),
    spec("sorted-set", "zrevrange", -4, R, ONE, zrevrange, ["Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "key start stop [WITHSCORES]"]),
    spec("sorted-set", "zremrangebyrank", 4, W, ONE, zremrangebyrank, ["Remove all members in a sorted set within the given indexes", "2.0.0", REMRANGE_COMPLEXITY, "key start stop"]),
    spec("sorted-set", "zremrangebyscore", 4, W, ONE, zremrangebyscore, ["Remove all members in a sorted set within the given scores", "1.2.0", REMRANGE_COMPLEXITY, "key min max"]),
    spec("sorted-set", "zremrangebylex", 4, W, ONE, zremrangebylex, ["Remove all members in a sorted set between the given lexicographical range", "2.8.9", REMRANGE_COMPLEXITY, "key min max"]),
    spec("sorted-set", "zpopmin", -2, WF, ONE, zpopmin, ["Remove and return members with the lowest scores in a sorted set", "5.0.0", POP_COMPLEXITY, "key [count]"]),
    spec("sorted-set", "zpopmax", -2, WF, ONE, zpopmax, ["Remove and return members with the highest scores in a sorted set", "5.0.0", POP_COMPLEXITY, "key [count]"]),
    spec("sorted-set", "zmpop", -4, W, COUNTED, zmpop, ["Remove and return members with scores in a sorted set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "numkeys key [key ...] <MIN | MAX> [COUNT count]"]),
    spec("sorted-set", "bzpopmin", -3, WF.union(Flags::BLOCKING).union(Flags::NO_SCRIPT), KeySpec::new(1, -2, 1), bzpopmin, ["Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout"]),
    spec("sorted-set", "bzpopmax", -3, WF.union(Flags::BLOCKING).union(Flags::NO_SCRIPT), KeySpec::new(1, -2, 1), bzpopmax, ["Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "key [key ...] timeout"]),
    spec("sorted-set", "bzmpop", -5, W.union(Flags::BLOCKING), KeySpec::counted_at(2), bzmpop, ["Remove and return members with scores in a sorted set or block until one is available", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"]),
    spec("sorted-set", "zrandmember", -2, R.union(ND), ONE, zrandmember, ["Get one or multiple random elements from a sorted set", "6.2.0", "O(N) where N is the number of elements returned", "key [count [WITHSCORES]]"]),
    spec("sorted-set", "zunion", -3, R, COUNTED, zunion, ["Add multiple sorted sets", "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"]),
    spec("sorted-set", "zinter", -3, R, COUNTED, zinter, ["Intersect multiple sorted sets", "6.2.0", INTER_COMPLEXITY, "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"]),
    spec("sorted-set", "zdiff", -3, R, COUNTED, zdiff, ["Subtract multiple sorted sets", "6.2.0", DIFF_COMPLEXITY, "numkeys key [key ...] [WITHSCORES]"]),
    spec("sorted-set", "zunionstore", -4, WM, STORE, zunionstore, ["Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"]),
    spec("sorted-set", "zinterstore", -4, WM, STORE, zinterstore, ["Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", INTER_COMPLEXITY, "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"]),
    spec("sorted-set", "zdiffstore", -4, WM, STORE, zdiffstore, ["Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", DIFF_COMPLEXITY, "destination numkeys key [key ...]"]),
    spec("sorted-set", "zintercard", -3, R, COUNTED, zintercard, ["Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "numkeys key [key ...] [LIMIT limit]"]),
    spec("sorted-set", "zscan", -3, R.union(ND), ONE, zscan, ["Incrementally iterate sorted sets elements and associated scores", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "key cursor [MATCH pattern] [COUNT count]"]),
];

const NOT_FLOAT: &str = "ERR value is not a valid float";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

/// ZADD's options (`zaddGenericCommand`'s flags).
#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one member's update did (`zsetAdd`'s out flags).
enum Added {
    New(f64),
    Updated(f64),
    /// Present, its score unchanged: processed, not counted.
    Same(f64),
    /// Skipped by NX, XX, GT or LT.
    Nop,
}

/// Redis's `zsetAdd` once the arguments are checked; Err for a NaN result.
fn zset_add(
    z: &mut ZSet,
    member: &[u8],
    score: f64,
    f: AddFlags,
    limits: &Limits,
) -> Result<Added, ()> {
    match z.score(member) {
        Some(_) if f.nx => Ok(Added::Nop),
        Some(current) => {
            let score = if f.incr { score + current } else { score };
            if score.is_nan() {
                return Err(());
            }
            if (f.lt && score >= current) || (f.gt && score <= current) {
                return Ok(Added::Nop);
            }
            if score == current {
                return Ok(Added::Same(score));
            }
            z.insert(member, score, limits);
            Ok(Added::Updated(score))
        }
        None if f.xx => Ok(Added::Nop),
        None => {
            z.insert(member, score, limits);
            Ok(Added::New(score))
        }
    }
}

fn zadd(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let mut f = AddFlags::default();
    let mut at = 2;
    while let Some(opt) = args.get(at) {
        let flag = match opt.to_ascii_uppercase().as_slice() {
            b"NX" => &mut f.nx,
            b"XX" => &mut f.xx,
            b"GT" => &mut f.gt,
            b"LT" => &mut f.lt,
            b"CH" => &mut f.ch,
            b"INCR" => &mut f.incr,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    add_pairs(ctx, f, &args[at..]);
}

fn zincrby(ctx: &mut Ctx<'_>) {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_pairs(ctx, f, &ctx.args[2..]);
}

/// ZADD and ZINCRBY once the options are read: `pairs` are scores and members.
fn add_pairs(ctx: &mut Ctx<'_>, f: AddFlags, pairs: &[Bytes]) {
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    if f.nx && f.xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && pairs.len() > 2 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        match parse_f64(&pair[0]) {
            Some(s) => scores.push(s),
            None => return ctx.out.error(NOT_FLOAT),
        }
    }
    let limits = ctx.config.limits;
    modify_key::<ZSet>(ctx, |ctx, z, existed| {
        let (mut added, mut updated, mut processed) = (0, 0, 0);
        let mut last = 0.0;
        if existed || !f.xx {
            for (pair, &score) in pairs.chunks(2).zip(&scores) {
                match zset_add(z, &pair[1], score, f, &limits) {
                    Err(()) => {
                        ctx.out.error(NAN_SCORE);
                        return Written::Nothing;
                    }
                    Ok(Added::New(s)) => (added, last) = (added + 1, s),
                    Ok(Added::Updated(s)) => (updated, last) = (updated + 1, s),
                    Ok(Added::Same(s)) => last = s,
                    Ok(Added::Nop) => continue,
                }
                processed += 1;
            }
        }
        match (f.incr, processed) {
            (true, 0) => ctx.out.null(),
            (true, _) => ctx.out.double(last),
            (false, _) if f.ch => ctx.out.integer(added + updated),
            (false, _) => ctx.out.integer(added),
        }
        match added + updated {
            0 => Written::Nothing,
            _ => Written::Changed,
        }
    });
}

fn zrem(ctx: &mut Ctx<'_>) {
    count_changes::<ZSet>(ctx, |z, member, _| z.remove(member).is_some());
}

fn zcard(ctx: &mut Ctx<'_>) {
    if let Ok(z) = read::<ZSet>(ctx) {
        ctx.out.integer(z.map_or(0, |z| z.len() as i64));
    }
}

fn zscore(ctx: &mut Ctx<'_>) {
    if let Ok(z) = read::<ZSet>(ctx) {
        match z.and_then(|z| z.score(&ctx.args[2])) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn zmscore(ctx: &mut Ctx<'_>) {
    if let Ok(z) = read::<ZSet>(ctx) {
        let members = &ctx.args[2..];
        ctx.out.array_len(members.len());
        for m in members {
            match z.as_deref().and_then(|z| z.score(m)) {
                Some(s) => ctx.out.double(s),
                None => ctx.out.null(),
            }
        }
    }
}

fn rank_command(ctx: &mut Ctx<'_>, rev: bool) {
    if let Ok(z) = read::<ZSet>(ctx) {
        let rank = z.as_deref().and_then(|z| {
            let r = z.rank(&ctx.args[2])?;
            Some(if rev { z.len() - 1 - r } else { r })
        });
        match rank {
            Some(r) => ctx.out.integer(r as i64),
            None => ctx.out.null(),
        }
    }
}

fn zrank(ctx: &mut Ctx<'_>) {
    rank_command(ctx, false);
}

fn zrevrank(ctx: &mut Ctx<'_>) {
    rank_command(ctx, true);
}

/// One end of a score range (`zslParseRange`): `(` for exclusive, then what C's
/// strtod reads up to the end (an empty or spaced number is read as strtod reads it).
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, arg),
    };
    let (score, read, _) = strtod(text);
    let c_len = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    (read == c_len && !score.is_nan()).then_some(ScoreBound { score, exclusive })
}

/// One end of a range by member (`zslParseLexRangeItem`).
fn lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg.split_first()? {
        (b'+', []) => Some(LexBound::PosInf),
        (b'-', []) => Some(LexBound::NegInf),
        (b'(', rest) => Some(LexBound::Exclusive(Bytes::copy_from_slice(rest))),
        (b'[', rest) => Some(LexBound::Inclusive(Bytes::copy_from_slice(rest))),
        _ => None,
    }
}

/// How a range selects its members.
enum By {
    /// Ranks as given (negative from the end).
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// Parses a range's two ends (`min`, `max`: for a reverse range by score or member,
/// already swapped), writing Redis's error if they do not parse.
fn parse_by(ctx: &mut Ctx<'_>, kind: Kind, min: &[u8], max: &[u8]) -> Option<By> {
    let by = match kind {
        Kind::Rank => match (parse_i64(min), parse_i64(max)) {
            (Some(a), Some(b)) => Some(By::Rank(a, b)),
            _ => {
                ctx.not_integer();
                return None;
            }
        },
        Kind::Score => score_bound(min)
            .zip(score_bound(max))
            .map(|(a, b)| By::Score(a, b)),
        Kind::Lex => lex_bound(min)
            .zip(lex_bound(max))
            .map(|(a, b)| By::Lex(a, b)),
    };
    if by.is_none() {
        ctx.out.error(match kind {
            Kind::Score => RANGE_NOT_FLOAT,
            _ => RANGE_NOT_LEX,
        });
    }
    by
}

/// The ranks `[start, end)` a range selects (rank ranges clamped as Redis does).
fn ranks(z: &ZSet, by: &By) -> (usize, usize) {
    let len = z.len() as i64;
    match by {
        By::Rank(start, end) => {
            let start = if *start < 0 { len + start } else { *start }.max(0);
            let end = if *end < 0 { len + end } else { *end };
            if start > end || start >= len {
                return (0, 0);
            }
            (start as usize, end.min(len - 1) as usize + 1)
        }
        By::Score(min, max) => z.score_range(*min, *max),
        By::Lex(min, max) => z.lex_range(min, max),
    }
}

/// The members a range selects, in the order it returns them: ranks `[start, end)`,
/// reversed for REV (a reverse rank range counts its ranks from the end), then
/// `offset` skipped (a negative one skips everything) and at most `limit` (negative:
/// no limit).
fn select(z: &ZSet, by: &By, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let len = z.len();
    let (start, end) = match (by, rev) {
        (By::Rank(..), true) => {
            let (s, e) = ranks(z, by);
            (len - e.max(s), len - s)
        }
        _ => ranks(z, by),
    };
    if offset < 0 {
        return Vec::new();
    }
    let span = end - start;
    let skip = (offset as u64).min(span as u64) as usize;
    let take = match limit {
        l if l < 0 => span - skip,
        l => (l as u64).min((span - skip) as u64) as usize,
    };
    match rev {
        false => z.slice(start + skip, start + skip + take),
        true => {
            let mut out = z.slice(end - skip - take, end - skip);
            out.reverse();
            out
        }
    }
}

/// Replies members, each with its score if `withscores` (see [`reply_pairs`]).
fn reply_members(ctx: &mut Ctx<'_>, members: &[(Bytes, f64)], withscores: bool) {
    let pairs = members.iter().map(|(m, s)| (m, *s));
    reply_pairs(ctx, pairs, withscores, |out, s| out.double(s));
}

/// What a range's ends are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// `zrangeGenericCommand`: the source key at `args[src]`, its range after it, then
/// options; `kind` and `rev` are fixed by the older commands, else read from the
/// options (BYSCORE, BYLEX, REV). With `dst`, the result replaces that key.
fn range_command(
    ctx: &mut Ctx<'_>,
    src: usize,
    dst: Option<usize>,
    kind: Option<Kind>,
    rev: Option<bool>,
) {
    let args = ctx.args;
    let (mut kind_opt, mut rev_opt) = (kind, rev);
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    let mut at = src + 3;
    while at < args.len() {
        let opt = args[at].to_ascii_uppercase();
        let left = args.len() - at - 1;
        match opt.as_slice() {
            b"WITHSCORES" if dst.is_none() => withscores = true,
            b"LIMIT" if left >= 2 => {
                match (parse_i64(&args[at + 1]), parse_i64(&args[at + 2])) {
                    (Some(o), Some(l)) => (offset, limit) = (o, l),
                    _ => return ctx.not_integer(),
                }
                at += 2;
            }
            b"REV" if rev_opt.is_none() => rev_opt = Some(true),
            b"BYLEX" if kind_opt.is_none() => kind_opt = Some(Kind::Lex),
            b"BYSCORE" if kind_opt.is_none() => kind_opt = Some(Kind::Score),
            _ => return ctx.syntax_error(),
        }
        at += 1;
    }
    let kind = kind_opt.unwrap_or(Kind::Rank);
    let rev = rev_opt.unwrap_or(false);
    if limit != -1 && kind == Kind::Rank {
        return ctx.out.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return ctx
            .out
            .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut min, mut max) = (&args[src + 1], &args[src + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let Some(by) = parse_by(ctx, kind, min, max) else {
        return;
    };
    let Some(dst) = dst else {
        if let Ok(z) = read_at::<ZSet>(ctx, src) {
            let members = z.map_or_else(Vec::new, |z| select(&z, &by, rev, offset, limit));
            reply_members(ctx, &members, withscores);
        }
        return;
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let keys = [args[dst].clone(), args[src].clone()];
    let mut txn = db.lock(&key_locks(&keys, LockMode::Exclusive), ctx.now, &guard);
    let entry = txn.lookup_read(&args[src]);
    let Ok(z) = collection_of::<ZSet>(ctx, &args[src], entry) else {
        return;
    };
    let members = z.map_or_else(Vec::new, |z| select(&z, &by, rev, offset, limit));
    // Built as Redis builds it: member by member into a new listpack.
    let limits = ctx.config.limits;
    let mut out = ZSet::default();
    for (m, s) in &members {
        out.insert(m, *s, &limits);
    }
    store_result(ctx, &mut txn, &args[dst], Arc::new(out));
}

fn zrange(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, None, None);
}

fn zrangestore(ctx: &mut Ctx<'_>) {
    range_command(ctx, 2, Some(1), None, None);
}

fn zrangebyscore(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, Some(Kind::Score), Some(false));
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, Some(Kind::Score), Some(true));
}

fn zrangebylex(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, Some(Kind::Lex), Some(false));
}

fn zrevrangebylex(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, Some(Kind::Lex), Some(true));
}

fn zrevrange(ctx: &mut Ctx<'_>) {
    range_command(ctx, 1, None, Some(Kind::Rank), Some(true));
}

/// ZCOUNT and ZLEXCOUNT.
fn count_command(ctx: &mut Ctx<'_>, kind: Kind) {
    let args = ctx.args;
    let Some(by) = parse_by(ctx, kind, &args[2], &args[3]) else {
        return;
    };
    if let Ok(z) = read::<ZSet>(ctx) {
        let (start, end) = z.map_or((0, 0), |z| ranks(&z, &by));
        ctx.out.integer((end - start) as i64);
    }
}

fn zcount(ctx: &mut Ctx<'_>) {
    count_command(ctx, Kind::Score);
}

fn zlexcount(ctx: &mut Ctx<'_>) {
    count_command(ctx, Kind::Lex);
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.
fn remrange_command(ctx: &mut Ctx<'_>, kind: Kind) {
    let args = ctx.args;
    let Some(by) = parse_by(ctx, kind, &args[2], &args[3]) else {
        return;
    };
    modify_key::<ZSet>(ctx, |ctx, z, _| {
        let (start, end) = ranks(z, &by);
        for (m, _) in z.slice(start, end) {
            z.remove(&m);
        }
        ctx.out.integer((end - start) as i64);
        match end - start {
            0 => Written::Nothing,
            _ => Written::Changed,
        }
    });
}

fn zremrangebyrank(ctx: &mut Ctx<'_>) {
    remrange_command(ctx, Kind::Rank);
}

fn zremrangebyscore(ctx: &mut Ctx<'_>) {
    remrange_command(ctx, Kind::Score);
}

fn zremrangebylex(ctx: &mut Ctx<'_>) {
    remrange_command(ctx, Kind::Lex);
}

/// Takes up to `count` members from the low end (or the high end for `max`), in the
/// order popped.
fn pop(z: &mut ZSet, max: bool, count: u64) -> Vec<(Bytes, f64)> {
    let len = z.len();
    let n = count.min(len as u64) as usize;
    let mut popped = match max {
        false => z.slice(0, n),
        true => z.slice(len - n, len),
    };
    if max {
        popped.reverse();
    }
    for (m, _) in &popped {
        z.remove(m);
    }
    popped
}

/// ZPOPMIN and ZPOPMAX: a flat array of members and scores, pairs in RESP3 when a
/// count was given.
fn pop_command(ctx: &mut Ctx<'_>, max: bool) {
    let args = ctx.args;
    let count = match args.len() {
        2 => None,
        3 => match parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.out.error("ERR value is out of range, must be positive"),
        },
        _ => return ctx.syntax_error(),
    };
    modify_key::<ZSet>(ctx, |ctx, z, existed| {
        if !existed || count == Some(0) {
            ctx.out.array_len(0);
            return Written::Nothing;
        }
        let popped = pop(z, max, count.unwrap_or(1));
        let nested = count.is_some() && ctx.out.proto == Protocol::Resp3;
        ctx.out.array_len(if nested {
            popped.len()
        } else {
            popped.len() * 2
        });
        for (m, s) in &popped {
            if nested {
                ctx.out.array_len(2);
            }
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
        Written::Changed
    });
}

fn zpopmin(ctx: &mut Ctx<'_>) {
    pop_command(ctx, false);
}

fn zpopmax(ctx: &mut Ctx<'_>) {
    pop_command(ctx, true);
}

/// `getRangeLongFromObjectOrReply` with a message: an integer in `1..`, else `msg`.
fn positive(ctx: &mut Ctx<'_>, arg: &[u8], msg: &str) -> Option<u64> {
    match parse_i64(arg) {
        Some(n) if n >= 1 => Some(n as u64),
        _ => {
            ctx.out.error(msg);
            None
        }
    }
}

/// ZMPOP's (and BZMPOP's) arguments after `numkeys_at`: where the keys end, MIN or
/// MAX, and the count. None with the error written.
fn parse_mpop(ctx: &mut Ctx<'_>, numkeys_at: usize) -> Option<(usize, bool, u64)> {
    let args = ctx.args;
    let numkeys = positive(
        ctx,
        &args[numkeys_at],
        "ERR numkeys should be greater than 0",
    )?;
    let where_at = numkeys_at + 1 + numkeys.min(args.len() as u64) as usize;
    let Some(side) = args.get(where_at) else {
        ctx.syntax_error();
        return None;
    };
    let max = match side.to_ascii_uppercase().as_slice() {
        b"MIN" => false,
        b"MAX" => true,
        _ => {
            ctx.syntax_error();
            return None;
        }
    };
    let mut count = None;
    let mut at = where_at + 1;
    while at < args.len() {
        if count.is_none() && args[at].eq_ignore_ascii_case(b"COUNT") && at + 1 < args.len() {
            count = Some(positive(
                ctx,
                &args[at + 1],
                "ERR count should be greater than 0",
            )?);
            at += 2;
        } else {
            ctx.syntax_error();
            return None;
        }
    }
    Some((where_at, max, count.unwrap_or(1)))
}

/// How a pop from the first non-empty of several sorted sets replies.
#[derive(Clone, Copy)]
enum PopReply {
    /// ZMPOP, BZMPOP: `[key, [[member, score] ...]]`.
    Many,
    /// BZPOPMIN, BZPOPMAX: `[key, member, score]`.
    One,
}

/// Pops `count` members from the first of `keys` that holds a sorted set, replies,
/// and logs it as ZPOPMIN or ZPOPMAX of that key (as Redis propagates every pop of
/// this family). With every key empty, calls `empty` instead.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: u64,
    reply: PopReply,
    empty: impl FnOnce(&mut Ctx<'_>),
) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Exclusive), ctx.now, &guard);
    for key in keys {
        let entry = txn.get(key);
        let Ok(found) = collection_of::<ZSet>(ctx, key, entry) else {
            return;
        };
        let Some(z) = found else {
            continue;
        };
        let mut z = (*z).clone();
        let popped = pop(&mut z, max, count);
        store(&mut txn, key, z, true, Written::Changed);
        match reply {
            PopReply::Many => {
                ctx.out.array_len(2);
                ctx.out.bulk(key);
                ctx.out.array_len(popped.len());
                for (m, s) in &popped {
                    ctx.out.array_len(2);
                    ctx.out.bulk(m);
                    ctx.out.double(*s);
                }
            }
            PopReply::One => {
                let (m, s) = &popped[0];
                ctx.out.array_len(3);
                ctx.out.bulk(key);
                ctx.out.bulk(m);
                ctx.out.double(*s);
            }
        }
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let n = popped.len().to_string();
        match reply {
            PopReply::Many => ctx.log_as(&[name, key, n.as_bytes()]),
            PopReply::One => ctx.log_as(&[name, key]),
        }
        return;
    }
    drop(txn);
    empty(ctx);
}

fn zmpop(ctx: &mut Ctx<'_>) {
    let Some((keys_end, max, count)) = parse_mpop(ctx, 1) else {
        return;
    };
    let keys = &ctx.args[2..keys_end];
    pop_first(ctx, keys, max, count, PopReply::Many, |ctx| {
        ctx.out.null_array()
    });
}

/// BZPOPMIN and BZPOPMAX: ZPOPMIN/ZPOPMAX of the first non-empty key, or a wait.
fn blocking_pop(ctx: &mut Ctx<'_>, max: bool) {
    let held = take_wake(ctx);
    let args = ctx.args;
    let Some(timeout) = parse_timeout(ctx, &args[args.len() - 1]) else {
        return;
    };
    let keys = &args[1..args.len() - 1];
    pop_first(ctx, keys, max, 1, PopReply::One, |ctx| {
        block_on(ctx, keys, timeout, held, |ctx| ctx.out.null_array())
    });
}

fn bzpopmin(ctx: &mut Ctx<'_>) {
    blocking_pop(ctx, false);
}

fn bzpopmax(ctx: &mut Ctx<'_>) {
    blocking_pop(ctx, true);
}

fn bzmpop(ctx: &mut Ctx<'_>) {
    let held = take_wake(ctx);
    let Some(timeout) = parse_timeout(ctx, &ctx.args[1]) else {
        return;
    };
    let Some((keys_end, max, count)) = parse_mpop(ctx, 2) else {
        return;
    };
    let keys = &ctx.args[3..keys_end];
    pop_first(ctx, keys, max, count, PopReply::Many, |ctx| {
        block_on(ctx, keys, timeout, held, |ctx| ctx.out.null_array())
    });
}

fn zrandmember(ctx: &mut Ctx<'_>) {
    let Ok(rand) = RandArgs::parse(ctx, b"withscores") else {
        return;
    };
    let Ok(z) = read::<ZSet>(ctx) else {
        return;
    };
    let mut rng = rand::thread_rng();
    let Some((count, withscores)) = rand else {
        match z.and_then(|z| z.random(&mut rng)) {
            Some((m, _)) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return;
    };
    let z = z.unwrap_or_default();
    let picked = draw(
        count,
        z.len(),
        // The whole set, highest first, as Redis returns it.
        || z.slice(0, z.len()).into_iter().rev().map(Member).collect(),
        || Member(z.random(&mut rng).unwrap_or_default()),
    );
    let picked: Vec<(Bytes, f64)> = picked.into_iter().map(|m| m.0).collect();
    reply_members(ctx, &picked, withscores);
}

/// A member with its score, compared by the member alone (for distinct draws).
#[derive(Clone)]
struct Member((Bytes, f64));

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.0 .0 == other.0 .0
    }
}

impl Eq for Member {}

impl std::hash::Hash for Member {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0 .0.hash(state);
    }
}

fn zscan(ctx: &mut Ctx<'_>) {
    scan_command::<ZSet>(ctx, |z, cursor, options, items| {
        z.scan(cursor, options.count, |m, s| {
            if options.matches(m) {
                items.push(Cow::Owned(m.to_vec()));
                items.push(Cow::Owned(crate::resp::double_text(s)));
            }
        })
    });
}

/// An input of ZUNION, ZINTER, ZDIFF: a sorted set, or a set (every score 1).
enum Source {
    Missing,
    ZSet(Arc<ZSet>),
    Set(Arc<Set>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(member),
            Source::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Every member with its score: a sorted set in order, a set in its own.
    fn members(&self) -> Vec<(Bytes, f64)> {
        match self {
            Source::Missing => Vec::new(),
            Source::ZSet(z) => z.slice(0, z.len()),
            Source::Set(s) => s
                .iter()
                .map(|m| (Bytes::copy_from_slice(&m), 1.0))
                .collect(),
        }
    }
}

/// The inputs at `keys`, each type-checked: a sorted set or a set, else WRONGTYPE.
/// Every cold key not loaded is noted before stopping, so they load together.
fn sources_of(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    keys: &[Bytes],
) -> Result<Vec<(Source, f64)>, Replied> {
    let mut sources = Vec::with_capacity(keys.len());
    let mut missed = false;
    for key in keys {
        let Some(entry) = txn.lookup_read(key) else {
            sources.push((Source::Missing, 1.0));
            continue;
        };
        let source = match ctx.value_of(key, entry) {
            Err(_) => {
                missed = true;
                continue;
            }
            Ok(v) => match &*v {
                Value::ZSet(z) => Source::ZSet(z.clone()),
                Value::Set(s) => Source::Set(s.clone()),
                _ => {
                    ctx.wrong_type();
                    return Err(Replied);
                }
            },
        };
        sources.push((source, 1.0));
    }
    match missed {
        true => Err(Replied),
        false => Ok(sources),
    }
}

/// The three operations, and how ZINTERCARD counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// `zunionInterAggregate`.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => *target = if value < *target { value } else { *target },
        Aggregate::Max => *target = if value > *target { value } else { *target },
    }
}

/// A weighted score, NaN (0 times infinity) read as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let s = score * weight;
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// `zunionInterDiffGenericCommand`: the count at `args[numkeys_at]`, the keys, then
/// the options; the result replies (WITHSCORES), is counted (ZINTERCARD, `card`), or
/// replaces `args[1]` (`store`).
fn op_command(ctx: &mut Ctx<'_>, op: Op, numkeys_at: usize, store: bool, card: bool) {
    let args = ctx.args;
    let Some(numkeys) = parse_i64(&args[numkeys_at]) else {
        return ctx.not_integer();
    };
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        return ctx.out.error(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if numkeys as u64 > (args.len() - numkeys_at - 1) as u64 {
        return ctx.syntax_error();
    }
    let keys_end = numkeys_at + 1 + numkeys as usize;
    let keys = &args[numkeys_at + 1..keys_end];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let locks = match store {
        // The destination and the sources (and the count between, harmlessly).
        true => key_locks(&args[1..keys_end], LockMode::Exclusive),
        false => key_locks(keys, LockMode::Shared),
    };
    let mut txn = db.lock(&locks, ctx.now, &guard);
    let Ok(mut sources) = sources_of(ctx, &mut txn, keys) else {
        return;
    };
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0u64);
    let mut at = keys_end;
    while at < args.len() {
        let left = args.len() - at;
        let opt = args[at].to_ascii_uppercase();
        match opt.as_slice() {
            b"WEIGHTS" if op != Op::Diff && !card && left > keys.len() => {
                for (source, arg) in sources.iter_mut().zip(&args[at + 1..]) {
                    match parse_f64(arg) {
                        Some(w) => source.1 = w,
                        None => return ctx.out.error("ERR weight value is not a float"),
                    }
                }
                at += 1 + keys.len();
            }
            b"AGGREGATE" if op != Op::Diff && !card && left >= 2 => {
                how = match args[at + 1].to_ascii_uppercase().as_slice() {
                    b"SUM" => Aggregate::Sum,
                    b"MIN" => Aggregate::Min,
                    b"MAX" => Aggregate::Max,
                    _ => return ctx.syntax_error(),
                };
                at += 2;
            }
            b"WITHSCORES" if !store && !card => {
                withscores = true;
                at += 1;
            }
            b"LIMIT" if card && left >= 2 => {
                match parse_i64(&args[at + 1]) {
                    Some(n) if n >= 0 => limit = n as u64,
                    _ => return ctx.out.error("ERR LIMIT can't be negative"),
                }
                at += 2;
            }
            _ => return ctx.syntax_error(),
        }
    }
    if op != Op::Diff {
        sources.sort_by_key(|s| s.0.len());
    }
    let ((first, first_weight), rest) = sources.split_first().expect("numkeys is at least 1");
    let mut result: HashMap<Bytes, f64> = HashMap::new();
    let mut cardinality = 0u64;
    match op {
        Op::Inter => {
            for (m, s) in first.members() {
                let mut score = weighted(s, *first_weight);
                let mut all = true;
                for (source, weight) in rest {
                    match source.score(&m) {
                        Some(v) => aggregate(&mut score, v * weight, how),
                        None => {
                            all = false;
                            break;
                        }
                    }
                }
                if !all {
                    continue;
                }
                cardinality += 1;
                if card {
                    if cardinality == limit {
                        break;
                    }
                    continue;
                }
                result.insert(m, score);
            }
        }
        Op::Union => {
            for (source, weight) in &sources {
                for (m, s) in source.members() {
                    let score = weighted(s, *weight);
                    result
                        .entry(m)
                        .and_modify(|t| aggregate(t, score, how))
                        .or_insert(score);
                }
            }
        }
        Op::Diff => {
            for (m, s) in first.members() {
                if rest.iter().all(|(source, _)| source.score(&m).is_none()) {
                    result.insert(m, s);
                }
            }
        }
    }
    if card {
        return ctx.out.integer(cardinality as i64);
    }
    let mut out = ZSet::skiplist();
    for (m, s) in result {
        out.insert(&m, s, &Limits::unbounded());
    }
    if store {
        let out = Arc::new(out).fitted(&ctx.config.limits);
        return store_result(ctx, &mut txn, &args[1], out);
    }
    reply_members(ctx, &out.slice(0, out.len()), withscores);
}

fn zunion(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Union, 1, false, false);
}

fn zinter(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Inter, 1, false, false);
}

fn zdiff(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Diff, 1, false, false);
}

fn zunionstore(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Union, 2, true, false);
}

fn zinterstore(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Inter, 2, true, false);
}

fn zdiffstore(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Diff, 2, true, false);
}

fn zintercard(ctx: &mut Ctx<'_>) {
    op_command(ctx, Op::Inter, 1, false, true);
}
