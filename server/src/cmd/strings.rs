//! String commands: GET, SET and the rest of Redis's string family.

use super::table::{CommandSpec, Flags, KeySpec};
use super::Ctx;
use tier_engine::{Value, LockMode};

const W: Flags = Flags::WRITE.union(Flags::DENYOOM);
const R: Flags = Flags::READONLY.union(Flags::FAST);

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: R,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Returns the string value of a key.",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key",
        handler: get,
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: W,
        keys: KeySpec::ONE,
        group: "string",
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
        handler: set,
        subcommands: &[],
    },
];

fn get(ctx: &mut Ctx<'_>) {
    let db = ctx.db();
    let guard = tier_engine::pin();
    match db.lookup_read(&ctx.args[1], ctx.now, &guard).map(|e| &e.value) {
        Some(Value::Str(s)) => ctx.out.bulk(s),
        None => ctx.out.null(),
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

/// Parses an expire argument of SET / GETEX / SETEX into an absolute Unix ms time,
/// writing Redis's error reply when it is not valid.
pub(super) fn parse_expire(ctx: &mut Ctx<'_>, arg: &[u8], unit: ExpireUnit) -> Option<u64> {
    let Some(n) = super::parse_i64(arg) else {
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
            ctx.out.error(format!("ERR invalid expire time in '{name}' command"));
            None
        }
    }
}

/// What SET does with the key's TTL.
enum SetTtl {
    Clear,
    Keep,
    At(u64),
}

fn set(ctx: &mut Ctx<'_>) {
    let (mut nx, mut xx, mut get_old) = (false, false, false);
    let mut ttl = SetTtl::Clear;
    let mut ttl_given = false;
    let mut i = 3;
    while i < ctx.args.len() {
        let opt = ctx.args[i].to_ascii_uppercase();
        let unit = match opt.as_slice() {
            b"NX" if !xx => {
                nx = true;
                None
            }
            b"XX" if !nx => {
                xx = true;
                None
            }
            b"GET" => {
                get_old = true;
                None
            }
            b"KEEPTTL" if !ttl_given => {
                ttl = SetTtl::Keep;
                ttl_given = true;
                None
            }
            b"EX" if !ttl_given => Some(ExpireUnit::Seconds),
            b"PX" if !ttl_given => Some(ExpireUnit::Millis),
            b"EXAT" if !ttl_given => Some(ExpireUnit::UnixSeconds),
            b"PXAT" if !ttl_given => Some(ExpireUnit::UnixMillis),
            _ => return ctx.syntax_error(),
        };
        if let Some(unit) = unit {
            let Some(arg) = ctx.args.get(i + 1).cloned() else {
                return ctx.syntax_error();
            };
            let Some(at) = parse_expire(ctx, &arg, unit) else {
                return;
            };
            ttl = SetTtl::At(at);
            ttl_given = true;
            i += 1;
        }
        i += 1;
    }
    let db = ctx.db();
    let guard = tier_engine::pin();
    let key = &ctx.args[1];
    let mut txn = db.lock(&[(key, LockMode::Exclusive)], ctx.now, &guard);
    let old = txn.get(key);
    if get_old {
        match old.map(|e| &e.value) {
            Some(Value::Str(s)) => ctx.out.bulk(s),
            None => ctx.out.null(),
            #[allow(unreachable_patterns)]
            Some(_) => return ctx.wrong_type(),
        }
    }
    if (nx && old.is_some()) || (xx && old.is_none()) {
        if !get_old {
            ctx.out.null();
        }
        return;
    }
    let value = Value::Str(ctx.args[2].clone());
    match ttl {
        SetTtl::Clear => txn.set(key, value, None),
        SetTtl::Keep => txn.set(key, value, old.and_then(|e| e.expire_at)),
        SetTtl::At(at) => txn.set(key, value, Some(at)),
    }
    if !get_old {
        ctx.out.ok();
    }
}
