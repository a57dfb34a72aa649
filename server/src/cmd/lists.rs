//! The list family, as Redis 7.0's t_list.c: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
//! LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS RPOPLPUSH LMOVE LMPOP, and the blocking
//! BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP. The value is the engine's
//! ([`tier_engine::value::List`]); a write stores a new list (see [`collection`]).
//!
//! A blocking command that finds every key empty registers its client as a waiter on
//! them (under the keys' stripes, so no push slips between the check and the
//! registration) and writes no reply; the connection then waits to be woken (see
//! [`crate::blocking`]) and runs the command again. Inside MULTI, or replayed from the
//! AOF, it answers as if its timeout had expired at once. Every pop is logged as its
//! non-blocking form, as Redis 7.0 propagates it: BLPOP as LPOP, BLMOVE as LMOVE,
//! BRPOPLPUSH as RPOPLPUSH, LMPOP and BLMPOP as LPOP or RPOP with the count taken.

use super::collection::{collection_of, modify_key, move_between, read, spec, store, Written};
use super::table::{CommandSpec, Flags, KeySpec};
use super::values::Replied;
use super::{key_locks, Ctx};
use crate::blocking::{block_on, parse_timeout, take_wake};
use crate::num::parse_i64;
use bytes::Bytes;
use tier_engine::value::list::End;
use tier_engine::value::List;
use tier_engine::LockMode;

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WM: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WMF: Flags = WM.union(Flags::FAST);
const B: Flags = Flags::WRITE.union(Flags::BLOCKING);
const BM: Flags = B.union(Flags::DENYOOM);

const ONE: KeySpec = KeySpec::ONE;
/// The source and the destination of a move.
const TWO: KeySpec = KeySpec::new(1, 2, 1);
/// Every argument but the timeout.
const BEFORE_TIMEOUT: KeySpec = KeySpec::new(1, -2, 1);

pub(super) const COMMANDS: &[CommandSpec] = &[
    spec("list", "lpush", -3, WMF, ONE, lpush, ["Prepend one or multiple elements to a list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"]),
    spec("list", "rpush", -3, WMF, ONE, rpush, ["Append one or multiple elements to a list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"]),
    spec("list", "lpushx", -3, WMF, ONE, lpushx, ["Prepend an element to a list, only if the list exists", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"]),
    spec("list", "rpushx", -3, WMF, ONE, rpushx, ["Append an element to a list, only if the list exists", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "key element [element ...]"]),
    spec("list", "lpop", -2, WF, ONE, lpop, ["Remove and get the first elements in a list", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"]),
    spec("list", "rpop", -2, WF, ONE, rpop, ["Remove and get the last elements in a list", "1.0.0", "O(N) where N is the number of elements returned", "key [count]"]),
    spec("list", "llen", 2, RF, ONE, llen, ["Get the length of a list", "1.0.0", "O(1)", "key"]),
    spec("list", "lrange", 4, R, ONE, lrange, ["Get a range of elements from a list", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "key start stop"]),
    spec("list", "lindex", 3, R, ONE, lindex, ["Get an element from a list by its index", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "key index"]),
    spec("list", "lset", 4, WM, ONE, lset, ["Set the value of an element in a list by its index", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "key index element"]),
    spec("list", "linsert", 5, WM, ONE, linsert, ["Insert an element before or after another element in a list", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "key BEFORE|AFTER pivot element"]),
    spec("list", "lrem", 4, W, ONE, lrem, ["Remove elements from a list", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "key count element"]),
    spec("list", "ltrim", 4, W, ONE, ltrim, ["Trim a list to the specified range", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "key start stop"]),
    spec("list", "lpos", -3, R, ONE, lpos, ["Return the index of matching elements on a list", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"]),
    spec("list", "rpoplpush", 3, WM, TWO, rpoplpush, ["Remove the last element in a list, prepend it to another list and return it", "1.2.0", "O(1)", "source destination"]),
    spec("list", "lmove", 5, WM, TWO, lmove, ["Pop an element from a list, push it to another list and return it", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT"]),
    spec("list", "lmpop", -4, W, KeySpec::counted_at(1), lmpop, ["Pop elements from a list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "numkeys key [key ...] LEFT|RIGHT [COUNT count]"]),
    spec("list", "blpop", -3, B.union(Flags::NO_SCRIPT), BEFORE_TIMEOUT, blpop, ["Remove and get the first element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout"]),
    spec("list", "brpop", -3, B.union(Flags::NO_SCRIPT), BEFORE_TIMEOUT, brpop, ["Remove and get the last element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys.", "key [key ...] timeout"]),
    spec("list", "brpoplpush", 4, BM.union(Flags::NO_SCRIPT), TWO, brpoplpush, ["Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", "O(1)", "source destination timeout"]),
    spec("list", "blmove", 6, BM.union(Flags::NO_SCRIPT), TWO, blmove, ["Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", "O(1)", "source destination LEFT|RIGHT LEFT|RIGHT timeout"]),
    spec("list", "blmpop", -5, B, KeySpec::counted_at(2), blmpop, ["Pop elements from a list, or block until one is available", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]"]),
];

/// LEFT or RIGHT, in any case.
fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Head)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Tail)
    } else {
        None
    }
}

/// The name of a pop from `end`, as logged.
fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    }
}

/// The reply to an integer argument that is not one; None then.
fn parse_long(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
    let n = parse_i64(arg);
    if n.is_none() {
        ctx.not_integer();
    }
    n
}

/// Redis's `getPositiveLongFromObjectOrReply` with `msg` for both a non-integer and a
/// negative value.
fn parse_positive(ctx: &mut Ctx<'_>, arg: &[u8], msg: &str) -> Option<i64> {
    let n = parse_i64(arg).filter(|&n| n >= 0);
    if n.is_none() {
        ctx.out.error(msg);
    }
    n
}

/// `index` of a list of `len` (negative from the tail), if within it.
fn list_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Redis's range arithmetic of LRANGE and LTRIM: the first and last index within a
/// list of `len`, or None for an empty range.
fn list_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// LPUSH, RPUSH, LPUSHX, RPUSHX: pushes every element at `end`; `only_existing`
/// leaves a missing key alone. Replies the length.
fn push(ctx: &mut Ctx<'_>, end: End, only_existing: bool) {
    let args = ctx.args;
    modify_key::<List>(ctx, |ctx, l, existed| {
        if only_existing && !existed {
            ctx.out.integer(0);
            return Written::Nothing;
        }
        for e in &args[2..] {
            l.push(end, e.clone());
        }
        ctx.out.integer(l.len() as i64);
        Written::Changed
    });
}

fn lpush(ctx: &mut Ctx<'_>) {
    push(ctx, End::Head, false);
}

fn rpush(ctx: &mut Ctx<'_>) {
    push(ctx, End::Tail, false);
}

fn lpushx(ctx: &mut Ctx<'_>) {
    push(ctx, End::Head, true);
}

fn rpushx(ctx: &mut Ctx<'_>) {
    push(ctx, End::Tail, true);
}

/// Takes up to `count` elements from `end` of `l`, in the order popped.
fn take(l: &mut List, end: End, count: usize) -> Vec<Bytes> {
    (0..count).map_while(|_| l.pop(end)).collect()
}

fn reply_elements(ctx: &mut Ctx<'_>, elements: &[Bytes]) {
    ctx.out.array_len(elements.len());
    for e in elements {
        ctx.out.bulk(e);
    }
}

/// LPOP and RPOP: one element as a bulk, or with a count up to that many as an array
/// (a missing key: a null array; a count of 0: an empty array).
fn pop(ctx: &mut Ctx<'_>, end: End) {
    let args = ctx.args;
    let count = match args.len() {
        2 => None,
        3 => match parse_positive(ctx, &args[2], "ERR value is out of range, must be positive") {
            Some(n) => Some(n as u64),
            None => return,
        },
        _ => return ctx.wrong_arity(if end == End::Head { "lpop" } else { "rpop" }),
    };
    modify_key::<List>(ctx, |ctx, l, existed| {
        if !existed {
            match count {
                Some(_) => ctx.out.null_array(),
                None => ctx.out.null(),
            }
            return Written::Nothing;
        }
        match count {
            Some(0) => {
                ctx.out.array_len(0);
                Written::Nothing
            }
            Some(n) => {
                let popped = take(l, end, usize::try_from(n).unwrap_or(usize::MAX));
                reply_elements(ctx, &popped);
                Written::Changed
            }
            None => {
                let e = l.pop(end).unwrap_or_default();
                ctx.out.bulk(&e);
                Written::Changed
            }
        }
    });
}

fn lpop(ctx: &mut Ctx<'_>) {
    pop(ctx, End::Head);
}

fn rpop(ctx: &mut Ctx<'_>) {
    pop(ctx, End::Tail);
}

fn llen(ctx: &mut Ctx<'_>) {
    if let Ok(l) = read::<List>(ctx) {
        ctx.out.integer(l.map_or(0, |l| l.len() as i64));
    }
}

fn lrange(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(start) = parse_long(ctx, &args[2]) else {
        return;
    };
    let Some(end) = parse_long(ctx, &args[3]) else {
        return;
    };
    let Ok(l) = read::<List>(ctx) else {
        return;
    };
    let l = l.unwrap_or_default();
    match list_range(start, end, l.len()) {
        None => ctx.out.array_len(0),
        Some((first, last)) => {
            ctx.out.array_len(last - first + 1);
            for e in l.range(first, last) {
                ctx.out.bulk(e);
            }
        }
    }
}

fn lindex(ctx: &mut Ctx<'_>) {
    let Ok(l) = read::<List>(ctx) else {
        return;
    };
    let Some(l) = l else {
        return ctx.out.null();
    };
    let Some(index) = parse_long(ctx, &ctx.args[2]) else {
        return;
    };
    match list_index(index, l.len()).and_then(|i| l.get(i)) {
        Some(e) => ctx.out.bulk(e),
        None => ctx.out.null(),
    }
}

fn lset(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    modify_key::<List>(ctx, |ctx, l, existed| {
        if !existed {
            ctx.out.error("ERR no such key");
            return Written::Nothing;
        }
        let Some(index) = parse_long(ctx, &args[2]) else {
            return Written::Nothing;
        };
        match list_index(index, l.len()) {
            Some(i) => {
                l.set(i, args[3].clone());
                ctx.out.ok();
                Written::Changed
            }
            None => {
                ctx.out.error("ERR index out of range");
                Written::Nothing
            }
        }
    });
}

fn linsert(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.syntax_error();
    };
    let (pivot, element) = (&args[3], &args[4]);
    modify_key::<List>(ctx, |ctx, l, existed| {
        if !existed {
            ctx.out.integer(0);
            return Written::Nothing;
        }
        let Some(at) = l.iter().position(|e| e == pivot) else {
            ctx.out.integer(-1);
            return Written::Nothing;
        };
        let at = at + usize::from(after);
        let mut rebuilt = List::new();
        for (i, e) in l.iter().enumerate() {
            if i == at {
                rebuilt.push(End::Tail, element.clone());
            }
            rebuilt.push(End::Tail, e.clone());
        }
        if at == l.len() {
            rebuilt.push(End::Tail, element.clone());
        }
        *l = rebuilt;
        ctx.out.integer(l.len() as i64);
        Written::Changed
    });
}

fn lrem(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(count) = parse_long(ctx, &args[2]) else {
        return;
    };
    let element = &args[3];
    modify_key::<List>(ctx, |ctx, l, _| {
        // From the tail for a negative count; 0 removes every match.
        let limit = match count {
            0 => u64::MAX,
            n => n.unsigned_abs(),
        };
        let mut removed = 0u64;
        let mut kept = List::new();
        let (elements, keep_at): (Box<dyn Iterator<Item = &Bytes>>, End) = match count < 0 {
            true => (Box::new(l.iter().rev()), End::Head),
            false => (Box::new(l.iter()), End::Tail),
        };
        for e in elements {
            if removed < limit && e == element {
                removed += 1;
            } else {
                kept.push(keep_at, e.clone());
            }
        }
        ctx.out.integer(removed as i64);
        if removed == 0 {
            return Written::Nothing;
        }
        *l = kept;
        Written::Changed
    });
}

fn ltrim(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(start) = parse_long(ctx, &args[2]) else {
        return;
    };
    let Some(end) = parse_long(ctx, &args[3]) else {
        return;
    };
    modify_key::<List>(ctx, |ctx, l, _| {
        let len = l.len();
        let (head, tail) = match list_range(start, end, len) {
            None => (len, 0),
            Some((first, last)) => (first, len - last - 1),
        };
        take(l, End::Head, head);
        take(l, End::Tail, tail);
        ctx.out.ok();
        match head + tail {
            0 => Written::Nothing,
            _ => Written::Changed,
        }
    });
}

/// LPOS's options, parsed as Redis 7.0 does (a RANK of i64::MIN is taken, and acts
/// as its arithmetic makes it act: every match from the tail qualifies).
fn lpos(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let element = &args[2];
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut opts = args[3..].iter();
    while let Some(opt) = opts.next() {
        let Some(value) = opts.next() else {
            return ctx.syntax_error();
        };
        match opt.to_ascii_uppercase().as_slice() {
            b"RANK" => match parse_long(ctx, value) {
                Some(0) => return ctx.out.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
                Some(n) => rank = n,
                None => return,
            },
            b"COUNT" => match parse_positive(ctx, value, "ERR COUNT can't be negative") {
                Some(n) => count = Some(n),
                None => return,
            },
            b"MAXLEN" => match parse_positive(ctx, value, "ERR MAXLEN can't be negative") {
                Some(n) => maxlen = n,
                None => return,
            },
            _ => return ctx.syntax_error(),
        }
    }
    let Ok(l) = read::<List>(ctx) else {
        return;
    };
    let Some(l) = l else {
        return match count {
            Some(_) => ctx.out.array_len(0),
            None => ctx.out.null(),
        };
    };
    let from_tail = rank < 0;
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let len = l.len();
    let elements: Box<dyn Iterator<Item = &Bytes>> = match from_tail {
        true => Box::new(l.iter().rev()),
        false => Box::new(l.iter()),
    };
    let mut matches = 0i64;
    let mut found = Vec::new();
    for (seen, e) in elements.enumerate() {
        if maxlen != 0 && seen as i64 >= maxlen {
            break;
        }
        if e != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - seen - 1 } else { seen });
        match count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            ctx.out.array_len(found.len());
            for i in found {
                ctx.out.integer(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.integer(i as i64),
            None => ctx.out.null(),
        },
    }
}

/// The move of LMOVE and friends: pops from `end` of the list at `src` and pushes to
/// `to` of `dst` (the same list for the same key), replying the element; logged as
/// `logged` (LMOVE, RPOPLPUSH). A destination of another type is WRONGTYPE, and
/// nothing changes. A missing source calls `on_empty` with the stripes still held.
fn move_element(
    ctx: &mut Ctx<'_>,
    (end, to): (End, End),
    logged: &[&[u8]],
    on_empty: impl FnOnce(&mut Ctx<'_>),
) {
    let args = ctx.args;
    let (src, dst) = (&args[1], &args[2]);
    move_between::<List>(ctx, on_empty, |ctx, txn, from, target| {
        let mut from = (*from).clone();
        let element = from.pop(end).unwrap_or_default();
        if src == dst {
            from.push(to, element.clone());
            store(txn, src, from, true, Written::Changed);
        } else {
            store(txn, src, from, true, Written::Changed);
            let existed = target.is_some();
            let mut target = target.map(|l| (*l).clone()).unwrap_or_default();
            target.push(to, element.clone());
            store(txn, dst, target, existed, Written::Changed);
        }
        ctx.log_as(logged);
        ctx.out.bulk(&element);
    });
}

/// LMOVE's LEFT|RIGHT LEFT|RIGHT (syntax error otherwise).
fn parse_ends(ctx: &mut Ctx<'_>, from: &[u8], to: &[u8]) -> Option<(End, End)> {
    let ends = parse_end(from).zip(parse_end(to));
    if ends.is_none() {
        ctx.syntax_error();
    }
    ends
}

fn rpoplpush(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let logged: [&[u8]; 3] = [b"RPOPLPUSH", &args[1], &args[2]];
    move_element(ctx, (End::Tail, End::Head), &logged, |ctx| ctx.out.null());
}

fn lmove(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(ends) = parse_ends(ctx, &args[3], &args[4]) else {
        return;
    };
    let logged: [&[u8]; 5] = [b"LMOVE", &args[1], &args[2], &args[3], &args[4]];
    move_element(ctx, ends, &logged, |ctx| ctx.out.null());
}

/// How a pop from several keys replies.
#[derive(Clone, Copy)]
enum Shape {
    /// BLPOP, BRPOP: `[key, element]`, logged as `LPOP key`.
    One,
    /// LMPOP, BLMPOP: `[key, [elements...]]` of up to `count`, logged as
    /// `LPOP key n` (n: the elements taken).
    Many(u64),
}

/// Pops from `end` of the first of `keys` holding a list (Redis checks each in turn:
/// a key of another type met first is WRONGTYPE). When every key is missing, calls
/// `on_empty` with their stripes still held.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    end: End,
    shape: Shape,
    on_empty: impl FnOnce(&mut Ctx<'_>),
) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(&key_locks(keys, LockMode::Exclusive), ctx.now, &guard);
    for key in keys {
        let entry = txn.get(key);
        let l = match collection_of::<List>(ctx, key, entry) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(Replied) => return,
        };
        let mut l = (*l).clone();
        ctx.out.array_len(2);
        ctx.out.bulk(key);
        match shape {
            Shape::One => {
                let e = l.pop(end).unwrap_or_default();
                ctx.out.bulk(&e);
                ctx.log_as(&[pop_name(end), key]);
            }
            Shape::Many(count) => {
                let popped = take(&mut l, end, usize::try_from(count).unwrap_or(usize::MAX));
                reply_elements(ctx, &popped);
                let n = popped.len().to_string();
                ctx.log_as(&[pop_name(end), key, n.as_bytes()]);
            }
        }
        store(&mut txn, key, l, true, Written::Changed);
        return;
    }
    on_empty(ctx);
}

/// LMPOP and BLMPOP's arguments after the key count at `numkeys_at`: the keys, the
/// end, the count. Writes the error on failure.
fn parse_mpop<'a>(ctx: &mut Ctx<'a>, numkeys_at: usize) -> Option<(&'a [Bytes], End, u64)> {
    let args = ctx.args;
    let Some(numkeys) = parse_i64(&args[numkeys_at]).filter(|&n| n > 0) else {
        ctx.out.error("ERR numkeys should be greater than 0");
        return None;
    };
    let end_at = (numkeys_at as u64)
        .saturating_add(numkeys as u64)
        .saturating_add(1);
    let Some(end) = args
        .get(end_at as usize)
        .filter(|_| end_at < args.len() as u64)
    else {
        ctx.syntax_error();
        return None;
    };
    let end_at = end_at as usize;
    let Some(end) = parse_end(end) else {
        ctx.syntax_error();
        return None;
    };
    let mut count = None;
    let mut rest = args[end_at + 1..].iter();
    while let Some(opt) = rest.next() {
        match rest.as_slice().first() {
            Some(value) if count.is_none() && opt.eq_ignore_ascii_case(b"COUNT") => {
                rest.next();
                match parse_i64(value).filter(|&n| n > 0) {
                    Some(n) => count = Some(n as u64),
                    None => {
                        ctx.out.error("ERR count should be greater than 0");
                        return None;
                    }
                }
            }
            _ => {
                ctx.syntax_error();
                return None;
            }
        }
    }
    Some((&args[numkeys_at + 1..end_at], end, count.unwrap_or(1)))
}

fn lmpop(ctx: &mut Ctx<'_>) {
    let Some((keys, end, count)) = parse_mpop(ctx, 1) else {
        return;
    };
    pop_first(ctx, keys, end, Shape::Many(count), |ctx| {
        ctx.out.null_array()
    });
}

/// BLPOP and BRPOP.
fn blocking_pop(ctx: &mut Ctx<'_>, end: End) {
    let held = take_wake(ctx);
    let args = ctx.args;
    let Some(timeout) = parse_timeout(ctx, &args[args.len() - 1]) else {
        return;
    };
    let keys = &args[1..args.len() - 1];
    pop_first(ctx, keys, end, Shape::One, |ctx| {
        block_on(ctx, keys, timeout, held, |ctx| ctx.out.null_array())
    });
}

fn blpop(ctx: &mut Ctx<'_>) {
    blocking_pop(ctx, End::Head);
}

fn brpop(ctx: &mut Ctx<'_>) {
    blocking_pop(ctx, End::Tail);
}

fn blmpop(ctx: &mut Ctx<'_>) {
    let held = take_wake(ctx);
    let Some(timeout) = parse_timeout(ctx, &ctx.args[1]) else {
        return;
    };
    let Some((keys, end, count)) = parse_mpop(ctx, 2) else {
        return;
    };
    pop_first(ctx, keys, end, Shape::Many(count), |ctx| {
        block_on(ctx, keys, timeout, held, |ctx| ctx.out.null_array())
    });
}

/// BRPOPLPUSH and BLMOVE: LMOVE, or a wait on the source. Inside MULTI the empty
/// source answers a null (not the null array of a timeout), as Redis.
fn blocking_move(ctx: &mut Ctx<'_>, ends: (End, End), timeout_at: usize, logged: &[&[u8]]) {
    let held = take_wake(ctx);
    let args = ctx.args;
    let Some(timeout) = parse_timeout(ctx, &args[timeout_at]) else {
        return;
    };
    move_element(ctx, ends, logged, |ctx| {
        block_on(ctx, &args[1..2], timeout, held, |ctx| ctx.out.null())
    });
}

fn brpoplpush(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let logged: [&[u8]; 3] = [b"RPOPLPUSH", &args[1], &args[2]];
    blocking_move(ctx, (End::Tail, End::Head), 3, &logged);
}

fn blmove(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(ends) = parse_ends(ctx, &args[3], &args[4]) else {
        return;
    };
    let logged: [&[u8]; 5] = [b"LMOVE", &args[1], &args[2], &args[3], &args[4]];
    blocking_move(ctx, ends, 5, &logged);
}
