//! What the list, hash, set and sorted set families share: reading a key's collection
//! with Redis's type check (in RAM or loaded from the cold tier), writing it back (a
//! new value: values never change in place), HSCAN/SSCAN's arguments, and the choice
//! of members for HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a count.

use super::table::{CommandSpec, Flags, Handler, KeySpec};
use super::values::{Replied, ValueRef};
use super::Ctx;
use crate::num::parse_i64;
use crate::resp::{Protocol, ReplyWriter};
use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::Hash as StdHash;
use std::sync::Arc;
use tier_engine::value::Limits;
use tier_engine::{Entry, Txn, Value};

/// A table entry of a collection command: `docs` is its summary, the Redis version
/// that introduced it, its complexity and its syntax (COMMAND DOCS).
pub(super) const fn spec(
    group: &'static str,
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: KeySpec,
    handler: Handler,
    docs: [&'static str; 4],
) -> CommandSpec {
    let [summary, since, complexity, syntax] = docs;
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since,
        complexity,
        syntax,
        handler,
        subcommands: &[],
    }
}

/// A collection type of [`Value`].
pub(super) trait Collection: Clone + Default {
    /// The collection `value` holds; None for a value of another type.
    fn of(value: &Value) -> Option<&Arc<Self>>;
    fn wrap(self: Arc<Self>) -> Value;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
}

/// Implements [`Collection`] for the type a [`Value`] variant holds.
macro_rules! collection {
    ($variant:ident, $type:ty) => {
        impl Collection for $type {
            fn of(value: &Value) -> Option<&Arc<Self>> {
                match value {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn wrap(self: Arc<Self>) -> Value {
                Value::$variant(self)
            }
            fn len(&self) -> usize {
                <$type>::len(self)
            }
            fn is_empty(&self) -> bool {
                <$type>::len(self) == 0
            }
        }
    };
}

collection!(List, tier_engine::value::List);
collection!(Hash, tier_engine::value::Hash);
collection!(Set, tier_engine::value::Set);
collection!(ZSet, tier_engine::value::ZSet);

/// The collection of a looked-up key (None: no key); replies WRONGTYPE when the key
/// holds another type, and stops without a reply when its cold value was not loaded.
pub(super) fn collection_of<C: Collection>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    entry: Option<&Entry>,
) -> Result<Option<Arc<C>>, Replied> {
    let Some(e) = entry else {
        return Ok(None);
    };
    let found = match ctx.value_of(key, e)? {
        ValueRef::Ram(v) => C::of(v).cloned(),
        ValueRef::Loaded(v) => C::of(&v).cloned(),
    };
    match found {
        Some(c) => Ok(Some(c)),
        None => {
            ctx.wrong_type();
            Err(Replied)
        }
    }
}

/// Reads the collection at `ctx.args[1]` for a read-only command, without locks.
pub(super) fn read<C: Collection>(ctx: &mut Ctx<'_>) -> Result<Option<Arc<C>>, Replied> {
    read_at(ctx, 1)
}

/// Reads the collection at `ctx.args[at]`, without locks.
pub(super) fn read_at<C: Collection>(
    ctx: &mut Ctx<'_>,
    at: usize,
) -> Result<Option<Arc<C>>, Replied> {
    let db = ctx.db();
    let guard = tier_engine::pin();
    let key = &ctx.args[at];
    let entry = db.lookup_read(key, ctx.now, &guard);
    collection_of(ctx, key, entry)
}

/// What a write did to a collection.
#[derive(PartialEq, Eq)]
pub(super) enum Written {
    /// Changed its contents: stored and logged.
    Changed,
    /// Nothing.
    Nothing,
}

/// Runs `f` on a copy of `key`'s collection (an empty one when there is no key) under
/// the key's lock, then stores the result as `f` says: an emptied collection deletes
/// the key, which keeps its TTL otherwise. Replies WRONGTYPE for another type.
fn modify<C: Collection>(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut Ctx<'_>, &mut C, bool) -> Written,
) -> Result<(), Replied> {
    let entry = txn.get(key);
    let current = collection_of::<C>(ctx, key, entry)?;
    let existed = current.is_some();
    let mut c = current.map(|c| (*c).clone()).unwrap_or_default();
    let written = f(ctx, &mut c, existed);
    store(txn, key, c, existed, written);
    Ok(())
}

/// Stores `c` at `key` (see [`modify`]); `existed` tells whether the key held it.
pub(super) fn store<C: Collection>(
    txn: &mut Txn<'_, '_>,
    key: &[u8],
    c: C,
    existed: bool,
    written: Written,
) {
    match written {
        Written::Nothing => {}
        Written::Changed if c.is_empty() => {
            if existed {
                txn.remove(key);
            }
        }
        Written::Changed => txn.set_keep_ttl(key, Arc::new(c).wrap()),
    }
}

/// A collection computed whole (SUNIONSTORE, ZRANGESTORE...) replaces `dst` and its
/// TTL; an empty one deletes it. Replies its size.
pub(super) fn store_result<C: Collection>(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    dst: &[u8],
    c: Arc<C>,
) {
    let len = Collection::len(&*c);
    if len == 0 {
        txn.remove(dst);
    } else {
        txn.set(dst, c.wrap(), None);
    }
    ctx.out.integer(len as i64);
}

/// Locks `ctx.args[1]` and runs [`modify`] on it.
pub(super) fn modify_key<C: Collection>(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut Ctx<'_>, &mut C, bool) -> Written,
) {
    let key = &ctx.args[1];
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock_key(key, ctx.now, &guard);
    let _ = modify(ctx, &mut txn, key, f);
}

/// SMOVE, LMOVE and the like: locks the source and the destination (`ctx.args[1]`
/// and `[2]`, maybe the same key), then reads the source, and the destination only
/// if the source exists, as Redis checks them; either of another type is WRONGTYPE.
/// Calls `missing` for no source (the stripes still held), else `f` with the
/// transaction, the source and the destination (None: no key).
pub(super) fn move_between<C: Collection>(
    ctx: &mut Ctx<'_>,
    missing: impl FnOnce(&mut Ctx<'_>),
    f: impl FnOnce(&mut Ctx<'_>, &mut Txn<'_, '_>, Arc<C>, Option<Arc<C>>),
) {
    let args = ctx.args;
    let (src, dst) = (&args[1], &args[2]);
    let db = ctx.db();
    let guard = tier_engine::pin();
    let mut txn = db.lock(
        &super::key_locks(&args[1..3], tier_engine::LockMode::Exclusive),
        ctx.now,
        &guard,
    );
    let entry = txn.get(src);
    let from = match collection_of::<C>(ctx, src, entry) {
        Ok(Some(c)) => c,
        Ok(None) => return missing(ctx),
        Err(Replied) => return,
    };
    let entry = txn.get(dst);
    if let Ok(to) = collection_of::<C>(ctx, dst, entry) {
        f(ctx, &mut txn, from, to);
    }
}

/// HSCAN and SSCAN's options after the cursor: COUNT (default 10) and MATCH.
pub(super) struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Parses `args` (name/value pairs) as Redis's `scanGenericCommand`; `allow_type`
    /// for SCAN's TYPE. Writes the error reply on failure.
    pub fn parse(
        ctx: &mut Ctx<'_>,
        args: &'a [bytes::Bytes],
        allow_type: bool,
    ) -> Result<(ScanOptions<'a>, Option<&'a [u8]>), Replied> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
        };
        let mut type_name = None;
        for pair in args.chunks(2) {
            let [name, value] = pair else {
                ctx.syntax_error();
                return Err(Replied);
            };
            match name.to_ascii_uppercase().as_slice() {
                b"COUNT" => match parse_i64(value) {
                    None => {
                        ctx.not_integer();
                        return Err(Replied);
                    }
                    Some(n) if n < 1 => {
                        ctx.syntax_error();
                        return Err(Replied);
                    }
                    Some(n) => options.count = usize::try_from(n).unwrap_or(usize::MAX),
                },
                b"MATCH" => options.pattern = Some(value.as_ref()),
                b"TYPE" if allow_type => type_name = Some(value.as_ref()),
                _ => {
                    ctx.syntax_error();
                    return Err(Replied);
                }
            }
        }
        Ok((options, type_name))
    }

    /// Whether `member` passes MATCH (the pattern `*` alone passes everything).
    pub fn matches(&self, member: &[u8]) -> bool {
        super::keys::key_filter(self.pattern)(member)
    }
}

/// HDEL, SREM, SADD: applies `op` to the collection at `ctx.args[1]` with each further
/// argument, and replies how many of them changed it.
pub(super) fn count_changes<C: Collection>(
    ctx: &mut Ctx<'_>,
    op: impl Fn(&mut C, &[u8], &Limits) -> bool,
) {
    let args = ctx.args;
    let limits = ctx.config.limits;
    modify_key::<C>(ctx, |ctx, c, _| {
        let changed = args[2..].iter().filter(|a| op(c, a, &limits)).count();
        ctx.out.integer(changed as i64);
        match changed {
            0 => Written::Nothing,
            _ => Written::Changed,
        }
    });
}

/// HSCAN and SSCAN: checks the cursor, the key and the options in Redis's order, then
/// runs one `step` from the cursor, which pushes the items to reply (a hash's fields
/// and values, a set's members) and returns the next cursor.
pub(super) fn scan_command<C: Collection>(
    ctx: &mut Ctx<'_>,
    step: impl for<'a> FnOnce(&'a C, u64, &ScanOptions<'_>, &mut Vec<Cow<'a, [u8]>>) -> u64,
) {
    let args = ctx.args;
    let Some(cursor) = super::keys::parse_cursor(&args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    // As Redis: a missing key answers an empty scan before the options are read.
    let c = match read::<C>(ctx) {
        Ok(Some(c)) => c,
        Ok(None) => return reply_scan::<&[u8]>(ctx, 0, &[]),
        Err(Replied) => return,
    };
    let Ok((options, _)) = ScanOptions::parse(ctx, &args[3..], false) else {
        return;
    };
    let mut items = Vec::new();
    let next = step(&c, cursor, &options, &mut items);
    reply_scan(ctx, next, &items);
}

/// Replies `[cursor, [items...]]`.
pub(super) fn reply_scan<T: AsRef<[u8]>>(ctx: &mut Ctx<'_>, cursor: u64, items: &[T]) {
    ctx.out.array_len(2);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array_len(items.len());
    for item in items {
        ctx.out.bulk(item.as_ref());
    }
}

/// HRANDFIELD and ZRANDMEMBER's arguments after the key: none, or a count then
/// optionally `word` (WITHVALUES, WITHSCORES).
pub(super) struct RandArgs;

impl RandArgs {
    /// Parses them as Redis does: None without a count, else the count (any integer
    /// but i64::MIN) and whether `word` follows (which bounds the count to half the
    /// range). Writes the error reply on failure.
    pub fn parse(ctx: &mut Ctx<'_>, word: &[u8]) -> Result<Option<(i64, bool)>, Replied> {
        let args = ctx.args;
        let Some(count_arg) = args.get(2) else {
            return Ok(None);
        };
        let Some(count) = super::hashes::parse_count(ctx, count_arg) else {
            return Err(Replied);
        };
        let with = match args.get(3) {
            None => false,
            Some(a) if args.len() == 4 && a.eq_ignore_ascii_case(word) => {
                if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                    ctx.out.error("ERR value is out of range");
                    return Err(Replied);
                }
                true
            }
            Some(_) => {
                ctx.syntax_error();
                return Err(Replied);
            }
        };
        Ok(Some((count, with)))
    }
}

/// Replies `pairs` (a member or field, then its score or value), the second of each
/// only if `with_values`: one flat array in RESP2, an array of pairs in RESP3 (HRANDFIELD
/// WITHVALUES, ZRANGE and ZRANDMEMBER WITHSCORES...). `value` writes a second.
pub(super) fn reply_pairs<K: AsRef<[u8]>, V>(
    ctx: &mut Ctx<'_>,
    pairs: impl ExactSizeIterator<Item = (K, V)>,
    with_values: bool,
    value: impl Fn(&mut ReplyWriter, V),
) {
    let resp3 = ctx.out.proto == Protocol::Resp3;
    let per = if with_values && !resp3 { 2 } else { 1 };
    ctx.out.array_len(pairs.len() * per);
    for (k, v) in pairs {
        if with_values && resp3 {
            ctx.out.array_len(2);
        }
        ctx.out.bulk(k.as_ref());
        if with_values {
            value(ctx.out, v);
        }
    }
}

/// The members HRANDFIELD and SRANDMEMBER return for `count` from a collection of
/// `len` members, as Redis chooses them: none for a count of 0 or an empty collection;
/// a negative count draws that many, repeats allowed; a count at least the size takes
/// every member, in the collection's order; else that many distinct members (see
/// [`distinct`]).
pub(super) fn draw<T: StdHash + Eq + Clone>(
    count: i64,
    len: usize,
    all: impl FnOnce() -> Vec<T>,
    mut random: impl FnMut() -> T,
) -> Vec<T> {
    if count == 0 || len == 0 {
        return Vec::new();
    }
    if count < 0 {
        // Grows as drawn (nothing reserved from the count, which may be huge).
        let mut drawn = Vec::new();
        for _ in 0..count.unsigned_abs() {
            drawn.push(random());
        }
        return drawn;
    }
    if count as u64 >= len as u64 {
        return all();
    }
    distinct(count as usize, len, all, random)
}

/// `n` distinct members of a collection of `len`, as Redis picks them: when `n` is
/// more than a third of the collection, every member less random ones; else random
/// draws until `n` distinct came up.
pub(super) fn distinct<T: StdHash + Eq + Clone>(
    n: usize,
    len: usize,
    all: impl FnOnce() -> Vec<T>,
    mut random: impl FnMut() -> T,
) -> Vec<T> {
    let mut rng = rand::thread_rng();
    if n.saturating_mul(3) > len {
        let mut members = all();
        while members.len() > n {
            let i = rand::Rng::gen_range(&mut rng, 0..members.len());
            members.swap_remove(i);
        }
        return members;
    }
    let mut seen = HashSet::with_capacity(n);
    let mut picked = Vec::with_capacity(n);
    while picked.len() < n {
        let m = random();
        if seen.insert(m.clone()) {
            picked.push(m);
        }
    }
    picked
}
