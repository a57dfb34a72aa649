//! SORT and SORT_RO, as Redis 7.0's sort.c: the elements of a list, set or sorted set,
//! sorted by their numeric value, as strings (ALPHA), or by the values of other keys
//! (BY `weight_*`, `hash_*->field`), or not at all (BY a pattern without `*`); then
//! LIMIT, and GET of other keys' values for each element. SORT ... STORE replaces its
//! destination with the result as a list and is logged as the RESTORE of that list:
//! the BY and GET keys are read without their locks, and a set's order is tierd's, so
//! the command itself might give another list when replayed.
//!
//! The keys BY and GET read are named by no argument: the session cannot load them
//! from the cold tier before the command runs. A run that meets such cold values
//! records every one of them (see [`super::values`]) and stops; the session loads
//! them all and runs the command again.

use super::collection::{spec, store_result};
use super::table::{CommandSpec, Flags, KeySpec, ParsedKeys};
use super::values::{ColdValues, Replied};
use super::Ctx;
use crate::num::{parse_i64, strtod};
use bytes::Bytes;
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::sync::Arc;
use tier_engine::cold::{VALUE_TYPE_HASH, VALUE_TYPE_STRING};
use tier_engine::value::list::End;
use tier_engine::value::{dump, List};
use tier_engine::{Db, Entry, LockMode, SlotRef, Txn, Value};

const SYNTAX: &str =
    "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] \
     [STORE destination]";
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to \
     sort, and M the number of returned elements. When the elements are not sorted, complexity \
     is O(N).";
/// Redis's notes on SORT's key specs of unknown place.
const PATTERN_NOTES: &str = "For the optional BY/GET keyword. It is marked 'unknown' because \
     the key names derive from the content of the key we sort";
const STORE_NOTES: &str = "For the optional STORE keyword. It is marked 'unknown' because the \
     keyword can appear anywhere in the argument array";

/// SORT's keys: the sorted key, then STORE's destination wherever it is.
static SORT_KEYS: ParsedKeys = ParsedKeys {
    find: store_key,
    range_flags: &["RO", "access"],
    unknown: &[
        (PATTERN_NOTES, &["RO", "access"]),
        (STORE_NOTES, &["OW", "update"]),
    ],
};
/// SORT_RO's: the sorted key (BY and GET keys are named by no argument).
static SORT_RO_KEYS: ParsedKeys = ParsedKeys {
    find: |_| SmallVec::new(),
    range_flags: &["RO", "access"],
    unknown: &[(PATTERN_NOTES, &["RO", "access"])],
};

pub(super) const COMMANDS: &[CommandSpec] = &[
    spec("generic", "sort", -2, Flags::WRITE.union(Flags::DENYOOM), KeySpec::ONE.and_parsed(&SORT_KEYS), sort, ["Sort the elements in a list, set or sorted set", "1.0.0", COMPLEXITY, SYNTAX]),
    spec("generic", "sort_ro", -2, Flags::READONLY, KeySpec::ONE.and_parsed(&SORT_RO_KEYS), sort_ro, ["Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0", COMPLEXITY, "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]"]),
];

/// Redis's `sortGetKeys`: the index of the destination of the last STORE option,
/// skipping the arguments of LIMIT, GET and BY.
fn store_key(args: &[Bytes]) -> SmallVec<[usize; 4]> {
    let mut found = SmallVec::new();
    let mut i = 2;
    while i < args.len() {
        let word = args[i].to_ascii_lowercase();
        match word.as_slice() {
            b"limit" => i += 2,
            b"get" | b"by" => i += 1,
            b"store" if i + 1 < args.len() => found = SmallVec::from_slice(&[i + 1]),
            _ => {}
        }
        i += 1;
    }
    found
}

fn sort(ctx: &mut Ctx<'_>) {
    sort_command(ctx, false);
}

fn sort_ro(ctx: &mut Ctx<'_>) {
    sort_command(ctx, true);
}

/// SORT's options, as parsed.
struct Options<'a> {
    /// The BY pattern, if it has a `*` (else the elements are not sorted).
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the collection's order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    /// LIMIT's offset and count (-1: all).
    offset: i64,
    count: i64,
    store: Option<&'a Bytes>,
}

/// Parses the options after the key as Redis does (the last of each wins), or gives
/// the error to reply. SORT_RO (`readonly`) knows no STORE. A BY pattern with `*`, or
/// any GET, needs `reads_any_key`: the user's ACL rules let it read every key (they
/// read keys no argument names, which the check at dispatch could not see).
fn parse(args: &[Bytes], readonly: bool, reads_any_key: bool) -> Result<Options<'_>, &'static str> {
    let mut o = Options {
        by: None,
        dontsort: false,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        match args[j].to_ascii_lowercase().as_slice() {
            b"asc" => o.desc = false,
            b"desc" => o.desc = true,
            b"alpha" => o.alpha = true,
            b"limit" if left >= 2 => {
                let (Some(offset), Some(count)) =
                    (parse_i64(&args[j + 1]), parse_i64(&args[j + 2]))
                else {
                    return Err("ERR value is not an integer or out of range");
                };
                (o.offset, o.count) = (offset, count);
                j += 2;
            }
            b"store" if !readonly && left >= 1 => {
                o.store = Some(&args[j + 1]);
                j += 1;
            }
            b"by" if left >= 1 => {
                let pattern = &args[j + 1][..];
                o.dontsort = star(pattern).is_none();
                if !o.dontsort && !reads_any_key {
                    return Err(
                        "ERR BY option of SORT denied due to insufficient ACL permissions.",
                    );
                }
                o.by = Some(pattern);
                j += 1;
            }
            b"get" if left >= 1 => {
                if !reads_any_key {
                    return Err(
                        "ERR GET option of SORT denied due to insufficient ACL permissions.",
                    );
                }
                o.gets.push(&args[j + 1]);
                j += 1;
            }
            _ => return Err("ERR syntax error"),
        }
        j += 1;
    }
    Ok(o)
}

/// The position of a pattern's first `*`, read as a C string (up to a NUL byte), as
/// Redis's `strchr`.
fn star(pattern: &[u8]) -> Option<usize> {
    c_str(pattern).iter().position(|&b| b == b'*')
}

/// `s` up to its first NUL byte: what C's string functions see of it.
fn c_str(s: &[u8]) -> &[u8] {
    s.split(|&b| b == 0).next().unwrap_or_default()
}

/// One element to output, with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    /// ALPHA BY: the value of the element's BY key (None: no such key).
    by_value: Option<Bytes>,
}

impl Item {
    fn new(element: Bytes) -> Item {
        Item {
            element,
            score: 0.0,
            by_value: None,
        }
    }
}

fn sort_command(ctx: &mut Ctx<'_>, readonly: bool) {
    let args = ctx.args;
    let user = &ctx.client.user;
    let name: &[u8] = if readonly { b"sort_ro" } else { b"sort" };
    let reads_any_key = user.unrestricted()
        || crate::acl::catalog::by_name(name)
            .is_some_and(|info| user.rules().reads_any_key(info, args));
    let mut o = match parse(args, readonly, reads_any_key) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let db = ctx.db();
    let guard = tier_engine::pin();
    let src = &args[1];
    // The sorted key is taken exclusively: a sorted set may change its encoding.
    let mut locks: SmallVec<[(&[u8], LockMode); 2]> =
        SmallVec::from_slice(&[(&src[..], LockMode::Exclusive)]);
    locks.extend(o.store.map(|dst| (&dst[..], LockMode::Exclusive)));
    let mut txn = db.lock(&locks, ctx.now, &guard);
    let entry = txn.lookup_read(src);
    let value = match entry.map(|e| ctx.value_of(src, e)).transpose() {
        Ok(v) => v,
        Err(_) => return,
    };
    let source = match value.as_deref().map(Source::of) {
        None => Source::Empty,
        // Redis makes a sorted set a skiplist before it sorts it, for good.
        Some(Some(Source::ZSet(z))) => {
            let skiplist = z.as_skiplist();
            if !Arc::ptr_eq(&z, &skiplist) {
                txn.reencode(src, Value::ZSet(skiplist.clone()));
            }
            Source::ZSet(skiplist)
        }
        Some(Some(source)) => source,
        Some(None) => return ctx.wrong_type(),
    };
    // A set is sorted for STORE even BY a constant: its order would differ elsewhere.
    if o.dontsort && matches!(source, Source::Set(_)) && o.store.is_some() {
        (o.dontsort, o.alpha, o.by) = (false, true, None);
    }
    let len = source.len() as i128;
    // Redis's LIMIT sanity checks.
    let mut start = i128::from(o.offset.max(0));
    let mut end = match o.count {
        c if c < 0 => len - 1,
        c => start + i128::from(c) - 1,
    };
    if start >= len {
        (start, end) = (len - 1, len - 2);
    }
    end = end.min(len - 1);
    let mut items: Vec<Item>;
    if o.dontsort && source.ordered() {
        // The range alone, in the collection's order (reversed for DESC).
        items = match end >= start {
            true => source.range(start as usize, end as usize, o.desc),
            false => Vec::new(),
        };
        (start, end) = (0, items.len() as i128 - 1);
    } else {
        items = source.all();
        if !o.dontsort && !sort_items(ctx, &mut txn, &o, &mut items) {
            return;
        }
    }
    let selected = match end >= start {
        true => &items[start as usize..=end as usize],
        false => &[][..],
    };
    let Ok(output) = output(ctx, &mut txn, &o.gets, selected) else {
        return;
    };
    match o.store {
        None => {
            ctx.out.array_len(output.len());
            for value in &output {
                match value {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dst) => {
            let mut list = List::new();
            for value in output {
                list.push(End::Tail, value.unwrap_or_default());
            }
            // Logged as the list it made (see the module's docs).
            let list = Arc::new(list);
            match list.is_empty() {
                true => ctx.log_as(&[b"DEL", dst]),
                false => {
                    let payload = dump::encode_dump(&Value::List(list.clone()));
                    ctx.log_as(&[b"RESTORE", dst, b"0", &payload, b"REPLACE"]);
                }
            }
            store_result(ctx, &mut txn, dst, list);
        }
    }
}

/// The collection SORT sorts.
enum Source {
    Empty,
    List(Arc<List>),
    Set(Arc<tier_engine::value::Set>),
    ZSet(Arc<tier_engine::value::ZSet>),
}

impl Source {
    /// The collection `value` holds; None for a string or a hash.
    fn of(value: &Value) -> Option<Source> {
        match value {
            Value::List(l) => Some(Source::List(l.clone())),
            Value::Set(s) => Some(Source::Set(s.clone())),
            Value::ZSet(z) => Some(Source::ZSet(z.clone())),
            Value::Str(_) | Value::Hash(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Empty => 0,
            Source::List(l) => l.len(),
            Source::Set(s) => s.len(),
            Source::ZSet(z) => z.len(),
        }
    }

    /// Whether it has an order of its own (a list, a sorted set) that BY a constant
    /// keeps, with LIMIT and DESC applied to it.
    fn ordered(&self) -> bool {
        !matches!(self, Source::Set(_))
    }

    /// Every element, in the collection's order.
    fn all(&self) -> Vec<Item> {
        match self {
            Source::Empty => Vec::new(),
            Source::List(l) => l.iter().cloned().map(Item::new).collect(),
            Source::Set(s) => s
                .iter()
                .map(|m| Item::new(Bytes::copy_from_slice(&m)))
                .collect(),
            Source::ZSet(z) => z.iter_from(0).map(|(m, _)| Item::new(m.clone())).collect(),
        }
    }

    /// The elements from position `start` to `end` (both within it) of the order, or
    /// of the reversed order when `desc`, in that order.
    fn range(&self, start: usize, end: usize, desc: bool) -> Vec<Item> {
        let n = self.len();
        let (lo, hi) = match desc {
            true => (n - 1 - end, n - 1 - start),
            false => (start, end),
        };
        let mut items: Vec<Item> = match self {
            Source::List(l) => l.range(lo, hi).cloned().map(Item::new).collect(),
            Source::ZSet(z) => z
                .iter_from(lo)
                .take(hi - lo + 1)
                .map(|(m, _)| Item::new(m.clone()))
                .collect(),
            Source::Empty | Source::Set(_) => Vec::new(),
        };
        if desc {
            items.reverse();
        }
        items
    }
}

/// Gives each item what it sorts by and sorts them. Returns false (with the reply
/// written, or nothing after a cold miss) when the command stops.
fn sort_items(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    o: &Options<'_>,
    items: &mut [Item],
) -> bool {
    let mut not_a_number = false;
    for item in items.iter_mut() {
        let by_value = match o.by {
            Some(pattern) => match lookup_by_pattern(ctx, txn, pattern, &item.element) {
                Some(v) => v,
                None => continue,
            },
            None => item.element.clone(),
        };
        if o.alpha {
            if o.by.is_some() {
                item.by_value = Some(by_value);
            }
        } else {
            match sort_score(&by_value) {
                Some(score) => item.score = score,
                None => not_a_number = true,
            }
        }
    }
    // Cold BY keys: every one was recorded; the session loads them and runs again.
    if ctx.cold.has_missed() {
        return false;
    }
    if not_a_number {
        ctx.out
            .error("ERR One or more scores can't be converted into double");
        return false;
    }
    let (by, store) = (o.by.is_some(), o.store.is_some());
    let text = |a: &[u8], b: &[u8]| match store {
        true => a.cmp(b),
        false => collate(a, b),
    };
    let compare = |a: &Item, b: &Item| {
        let order = if !o.alpha {
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.element.cmp(&b.element))
        } else if by {
            match (&a.by_value, &b.by_value) {
                (Some(x), Some(y)) => text(x, y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        } else {
            text(&a.element, &b.element)
        };
        match o.desc {
            true => order.reverse(),
            false => order,
        }
    };
    items.sort_by(compare);
    true
}

/// A value SORT sorts by, as a number: Redis reads it with `strtod` up to a NUL byte,
/// refusing what is left over, an overflow or underflow, and NaN (the empty string is
/// 0, and leading spaces pass).
fn sort_score(value: &[u8]) -> Option<f64> {
    let text = c_str(value);
    let (score, read, erange) = strtod(text);
    (read == text.len() && !erange && !score.is_nan()).then_some(score)
}

/// Redis's `strcoll` of two strings in the C locale (`C.UTF-8` compares the same):
/// byte by byte, up to a NUL byte.
fn collate(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// For each item, its element (no GET), or the value of each GET pattern (None: no
/// such key). Stops after recording every cold key it met (an error without reply).
fn output(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    gets: &[&[u8]],
    items: &[Item],
) -> Result<Vec<Option<Bytes>>, Replied> {
    if gets.is_empty() {
        return Ok(items.iter().map(|i| Some(i.element.clone())).collect());
    }
    let mut out = Vec::with_capacity(items.len() * gets.len());
    for item in items {
        for pattern in gets {
            out.push(lookup_by_pattern(ctx, txn, pattern, &item.element));
        }
    }
    match ctx.cold.has_missed() {
        true => Err(Replied),
        false => Ok(out),
    }
}

/// The key a BY or GET pattern names for `element`: the pattern's first `*` replaced
/// by the element, and the hash field after `->` if there is one (Redis's
/// `lookupKeyByPattern`, whose C strings end at a NUL byte). None for `#` or a
/// pattern without `*`.
fn pattern_key<'p>(pattern: &'p [u8], element: &[u8]) -> Option<(Vec<u8>, Option<&'p [u8]>)> {
    let star = star(pattern)?;
    let after = &pattern[star + 1..];
    // `->` after the `*` (within the C string), followed by at least one byte.
    let arrow = c_str(after)
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&at| after.get(at + 2).is_some_and(|&b| b != 0));
    let (postfix, field) = match arrow {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    Some(([&pattern[..star], element, postfix].concat(), field))
}

/// What a BY or GET pattern reads for `element` (Redis's `lookupKeyByPattern`): `#`
/// is the element itself; else the string value of the key [`pattern_key`] names,
/// or the value of its hash field. None for no such key or field, a key of another
/// type, or a cold value not loaded (recorded, for the session to load).
fn lookup_by_pattern(
    ctx: &mut Ctx<'_>,
    txn: &mut Txn<'_, '_>,
    pattern: &[u8],
    element: &Bytes,
) -> Option<Bytes> {
    if c_str(pattern) == b"#" {
        return Some(element.clone());
    }
    let (key, field) = pattern_key(pattern, element)?;
    let entry = txn.lookup_read(&key)?;
    let wanted = match field {
        Some(_) => VALUE_TYPE_HASH,
        None => VALUE_TYPE_STRING,
    };
    if entry.record_type() != wanted {
        return None;
    }
    let value = ctx.value_of(&key, entry).ok()?;
    match (&*value, field) {
        (Value::Str(s), None) => Some(s.clone()),
        (Value::Hash(h), Some(field)) => h.get(field).cloned(),
        _ => None,
    }
}

/// The keys a SORT or SORT_RO (`args`) would read through its BY and GET patterns,
/// for the elements its key holds now in `db` (none while that value is cold and not
/// in `cold`): EXEC loads them from the cold tier with the keys the transaction
/// names, so its SORTs find them in RAM.
pub(crate) fn pattern_keys(db: &Db, args: &[Bytes], now: u64, cold: &ColdValues) -> Vec<Bytes> {
    let readonly = args[0].eq_ignore_ascii_case(b"sort_ro");
    // Loaded as if the user may read them: the SORT itself checks that when it runs.
    let Some(o) = args.get(1).and_then(|_| parse(args, readonly, true).ok()) else {
        return Vec::new();
    };
    let by = o.by.filter(|_| !o.dontsort);
    let patterns: Vec<&[u8]> = by.into_iter().chain(o.gets.iter().copied()).collect();
    if patterns.iter().all(|p| star(p).is_none()) {
        return Vec::new();
    }
    let guard = tier_engine::pin();
    let entry = db.find(&args[1], &guard).filter(|e| !e.is_expired(now));
    let value = match entry.map(Entry::slot) {
        Some(SlotRef::Hot(v)) => v,
        Some(SlotRef::Cold(loc)) => match cold.loaded(loc) {
            Some(v) => v,
            None => return Vec::new(),
        },
        None => return Vec::new(),
    };
    let Some(source) = Source::of(value) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for item in source.all() {
        for pattern in &patterns {
            if let Some((key, _)) = pattern_key(pattern, &item.element) {
                keys.push(Bytes::from(key));
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn store_key_as_redis_finds_it() {
        let cases: &[(&[&str], &[usize])] = &[
            (&["sort", "a"], &[]),
            (&["sort", "a", "store", "b"], &[3]),
            (&["sort", "a", "STORE", "b", "by", "x", "store", "c"], &[7]),
            (&["sort", "a", "limit", "store", "x"], &[]),
            (&["sort", "a", "get", "store", "store", "d"], &[5]),
            (&["sort", "a", "by", "store"], &[]),
            (&["sort", "a", "store"], &[]),
        ];
        for (words, want) in cases {
            assert_eq!(&store_key(&args(words))[..], *want, "{words:?}");
        }
    }

    #[test]
    fn scores_as_strtod_reads_them() {
        assert_eq!(sort_score(b"12"), Some(12.0));
        assert_eq!(sort_score(b" 4"), Some(4.0));
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b"0x10"), Some(16.0));
        assert_eq!(sort_score(b"1\0junk"), Some(1.0));
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        for bad in [&b"4 "[..], b"abc", b"nan", b"1e400", b"1e-400", b" "] {
            assert_eq!(sort_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn collation_stops_at_nul() {
        assert_eq!(collate(b"a\0b", b"a\0c"), Ordering::Equal);
        assert_eq!(collate(b"B", b"a"), Ordering::Less);
        assert_eq!(collate(b"ab", b"a"), Ordering::Greater);
    }
}
