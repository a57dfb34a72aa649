//! The hash family, as Redis 7.0's t_hash.c: HSET HSETNX HGET HMGET HMSET HDEL HLEN
//! HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN. The
//! encodings (listpack, hashtable) and their thresholds are the engine's
//! ([`tier_engine::value::Hash`]); a write stores a new hash (see [`collection`]).

use super::collection::{
    count_changes, draw, modify_key, read, reply_pairs, scan_command, spec, RandArgs, Written,
};
use super::table::{CommandSpec, Flags, KeySpec};
use super::Ctx;
use crate::num::{format_i64, long_double, parse_i64};
use std::borrow::Cow;
use tier_engine::value::Hash;

const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WMF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);

pub(super) const COMMANDS: &[CommandSpec] = &[
    spec("hash", "hset", -4, WMF, KeySpec::ONE, hset, ["Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "key field value [field value ...]"]),
    spec("hash", "hsetnx", 4, WMF, KeySpec::ONE, hsetnx, ["Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)", "key field value"]),
    spec("hash", "hmset", -4, WMF, KeySpec::ONE, hmset, ["Set multiple hash fields to multiple values", "2.0.0", "O(N) where N is the number of fields being set.", "key field value [field value ...]"]),
    spec("hash", "hget", 3, RF, KeySpec::ONE, hget, ["Get the value of a hash field", "2.0.0", "O(1)", "key field"]),
    spec("hash", "hmget", -3, RF, KeySpec::ONE, hmget, ["Get the values of all the given hash fields", "2.0.0", "O(N) where N is the number of fields being requested.", "key field [field ...]"]),
    spec("hash", "hdel", -3, WF, KeySpec::ONE, hdel, ["Delete one or more hash fields", "2.0.0", "O(N) where N is the number of fields to be removed.", "key field [field ...]"]),
    spec("hash", "hlen", 2, RF, KeySpec::ONE, hlen, ["Get the number of fields in a hash", "2.0.0", "O(1)", "key"]),
    spec("hash", "hstrlen", 3, RF, KeySpec::ONE, hstrlen, ["Get the length of the value of a hash field", "3.2.0", "O(1)", "key field"]),
    spec("hash", "hexists", 3, RF, KeySpec::ONE, hexists, ["Determine if a hash field exists", "2.0.0", "O(1)", "key field"]),
    spec("hash", "hkeys", 2, R, KeySpec::ONE, hkeys, ["Get all the fields in a hash", "2.0.0", "O(N) where N is the size of the hash.", "key"]),
    spec("hash", "hvals", 2, R, KeySpec::ONE, hvals, ["Get all the values in a hash", "2.0.0", "O(N) where N is the size of the hash.", "key"]),
    spec("hash", "hgetall", 2, R, KeySpec::ONE, hgetall, ["Get all the fields and values in a hash", "2.0.0", "O(N) where N is the size of the hash.", "key"]),
    spec("hash", "hincrby", 4, WMF, KeySpec::ONE, hincrby, ["Increment the integer value of a hash field by the given number", "2.0.0", "O(1)", "key field increment"]),
    spec("hash", "hincrbyfloat", 4, WMF, KeySpec::ONE, hincrbyfloat, ["Increment the float value of a hash field by the given amount", "2.6.0", "O(1)", "key field increment"]),
    spec("hash", "hrandfield", -2, R.union(Flags::NONDETERMINISTIC), KeySpec::ONE, hrandfield, ["Get one or multiple random fields from a hash", "6.2.0", "O(N) where N is the number of fields returned", "key [count [WITHVALUES]]"]),
    spec("hash", "hscan", -3, R.union(Flags::NONDETERMINISTIC), KeySpec::ONE, hscan, ["Incrementally iterate hash fields and associated values", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "key cursor [MATCH pattern] [COUNT count]"]),
];

/// HSET and HMSET: set every pair; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx<'_>, name: &str) -> Option<i64> {
    let args = ctx.args;
    if args.len() % 2 == 1 {
        ctx.wrong_arity(name);
        return None;
    }
    let limits = ctx.config.limits;
    let mut added = None;
    modify_key::<Hash>(ctx, |_, h, _| {
        h.prepare_for(args[2..].iter().map(|a| &a[..]), &limits);
        let new = args[2..]
            .chunks(2)
            .filter(|p| h.set(&p[0], &p[1], &limits))
            .count();
        added = Some(new as i64);
        Written::Changed
    });
    added
}

fn hset(ctx: &mut Ctx<'_>) {
    if let Some(n) = set_pairs(ctx, "hset") {
        ctx.out.integer(n);
    }
}

fn hmset(ctx: &mut Ctx<'_>) {
    if set_pairs(ctx, "hmset").is_some() {
        ctx.out.ok();
    }
}

fn hsetnx(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let limits = ctx.config.limits;
    modify_key::<Hash>(ctx, |ctx, h, _| {
        if h.get(&args[2]).is_some() {
            ctx.out.integer(0);
            return Written::Nothing;
        }
        h.prepare_for([&args[2][..], &args[3][..]], &limits);
        h.set(&args[2], &args[3], &limits);
        ctx.out.integer(1);
        Written::Changed
    });
}

fn hget(ctx: &mut Ctx<'_>) {
    if let Ok(h) = read::<Hash>(ctx) {
        match h.as_deref().and_then(|h| h.get(&ctx.args[2])) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

fn hmget(ctx: &mut Ctx<'_>) {
    let Ok(h) = read::<Hash>(ctx) else {
        return;
    };
    let fields = &ctx.args[2..];
    ctx.out.array_len(fields.len());
    for f in fields {
        match h.as_deref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

fn hdel(ctx: &mut Ctx<'_>) {
    count_changes::<Hash>(ctx, |h, field, _| h.remove(field));
}

fn hlen(ctx: &mut Ctx<'_>) {
    if let Ok(h) = read::<Hash>(ctx) {
        ctx.out.integer(h.map_or(0, |h| h.len() as i64));
    }
}

fn hstrlen(ctx: &mut Ctx<'_>) {
    if let Ok(h) = read::<Hash>(ctx) {
        let len = h
            .as_deref()
            .and_then(|h| h.get(&ctx.args[2]))
            .map_or(0, |v| v.len());
        ctx.out.integer(len as i64);
    }
}

fn hexists(ctx: &mut Ctx<'_>) {
    if let Ok(h) = read::<Hash>(ctx) {
        let found = h.as_deref().is_some_and(|h| h.get(&ctx.args[2]).is_some());
        ctx.out.integer(i64::from(found));
    }
}

/// HKEYS, HVALS, HGETALL: every field, value, or both (a map in RESP3).
fn reply_all(ctx: &mut Ctx<'_>, fields: bool, values: bool) {
    let Ok(h) = read::<Hash>(ctx) else {
        return;
    };
    let h = h.unwrap_or_default();
    if fields && values {
        ctx.out.map_len(h.len());
    } else {
        ctx.out.array_len(h.len());
    }
    for (f, v) in h.iter() {
        if fields {
            ctx.out.bulk(f);
        }
        if values {
            ctx.out.bulk(v);
        }
    }
}

fn hkeys(ctx: &mut Ctx<'_>) {
    reply_all(ctx, true, false);
}

fn hvals(ctx: &mut Ctx<'_>) {
    reply_all(ctx, false, true);
}

fn hgetall(ctx: &mut Ctx<'_>) {
    reply_all(ctx, true, true);
}

fn hincrby(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let Some(incr) = parse_i64(&args[3]) else {
        return ctx.not_integer();
    };
    let limits = ctx.config.limits;
    modify_key::<Hash>(ctx, |ctx, h, _| {
        let old = match h.get(&args[2]) {
            Some(v) => match parse_i64(v) {
                Some(n) => n,
                None => {
                    ctx.out.error("ERR hash value is not an integer");
                    return Written::Nothing;
                }
            },
            None => 0,
        };
        let Some(new) = old.checked_add(incr) else {
            ctx.out.error("ERR increment or decrement would overflow");
            return Written::Nothing;
        };
        h.set(&args[2], &format_i64(new), &limits);
        ctx.out.integer(new);
        Written::Changed
    });
}

fn hincrbyfloat(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    match long_double::parse(&args[3]) {
        None => return ctx.out.error("ERR value is not a valid float"),
        Some(long_double::Float::Infinite) => {
            return ctx.out.error("ERR value is NaN or Infinity");
        }
        Some(_) => {}
    }
    let limits = ctx.config.limits;
    modify_key::<Hash>(ctx, |ctx, h, _| {
        let old = h.get(&args[2]).cloned();
        if old
            .as_deref()
            .is_some_and(|v| long_double::parse(v).is_none())
        {
            ctx.out.error("ERR hash value is not a float");
            return Written::Nothing;
        }
        let sum = match super::strings::add_floats(old.as_deref(), &args[3]) {
            Ok(sum) => sum,
            Err(e) => {
                ctx.out.error(e);
                return Written::Nothing;
            }
        };
        h.set(&args[2], &sum, &limits);
        ctx.out.bulk(&sum);
        // As Redis: the result is logged, so a replay cannot round differently.
        ctx.log_as(&[b"HSET", &args[1], &args[2], &sum]);
        Written::Changed
    });
}

fn hrandfield(ctx: &mut Ctx<'_>) {
    let Ok(rand) = RandArgs::parse(ctx, b"withvalues") else {
        return;
    };
    let Some((count, with_values)) = rand else {
        let Ok(h) = read::<Hash>(ctx) else {
            return;
        };
        match h.as_deref().and_then(|h| h.random(&mut rand::thread_rng())) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return;
    };
    let Ok(h) = read::<Hash>(ctx) else {
        return;
    };
    let h = h.unwrap_or_default();
    let mut rng = rand::thread_rng();
    let picked = draw(
        count,
        h.len(),
        || h.iter().collect(),
        || h.random(&mut rng).unwrap_or_default(),
    );
    reply_pairs(ctx, picked.into_iter(), with_values, |out, v| out.bulk(v));
}

/// HRANDFIELD / SRANDMEMBER's count: any integer but i64::MIN, with Redis's errors.
pub(super) fn parse_count(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
    match parse_i64(arg) {
        None => {
            ctx.not_integer();
            None
        }
        Some(i64::MIN) => {
            ctx.out.error(format!(
                "ERR value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            ));
            None
        }
        Some(n) => Some(n),
    }
}

fn hscan(ctx: &mut Ctx<'_>) {
    scan_command::<Hash>(ctx, |h, cursor, options, items| {
        h.scan(cursor, options.count, |f, v| {
            if options.matches(f) {
                items.extend([Cow::Borrowed(f), Cow::Borrowed(v)]);
            }
        })
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_family_is_in_the_table() {
        for name in super::COMMANDS.iter().map(|c| c.name) {
            assert!(
                super::super::table::lookup(name.as_bytes()).is_some(),
                "{name}"
            );
        }
    }
}
