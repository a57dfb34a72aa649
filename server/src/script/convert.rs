//! The conversions between Redis replies and Lua values, both ways, as Redis 7.0
//! documents them: a command's reply (RESP2 or RESP3, per `redis.setresp`) becomes a
//! Lua value for `redis.call` ([`reply_to_lua`]); the script's return value becomes
//! the client's reply ([`lua_to_reply`]).

use super::vm::{entries, exact_get};
use crate::resp::{Frame, ReplyWriter};
use mlua::{Lua, Table, Value};

/// How deep a script's reply may nest before the rest is cut (Redis's limit on the
/// Lua stack it walks).
const MAX_DEPTH: usize = 1000;

/// A command's reply as `redis.call` returns it: integers as numbers, bulk strings as
/// strings, a null as false (RESP2) or nil (RESP3), a status as `{ok=...}`, an error
/// as `{err=...}`, arrays as tables; under RESP3 also `{map=...}`, `{set=...}`,
/// `{double=...}`, booleans, `{big_number=...}` and `{verbatim_string=...}`.
pub(super) fn reply_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    crate::script::nested(|| {
        Ok(match frame {
            Frame::Integer(n) => Value::Number(n as f64),
            Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
            Frame::Simple(s) => single(lua, "ok", Value::String(lua.create_string(&s)?))?,
            Frame::Error(e) | Frame::BlobError(e) => {
                single(lua, "err", Value::String(lua.create_string(&e)?))?
            }
            Frame::Null if resp3 => Value::Nil,
            Frame::Null => Value::Boolean(false),
            Frame::Array(items) | Frame::Push(items) => {
                let t = lua.create_table_with_capacity(items.len(), 0)?;
                for (i, item) in items.into_iter().enumerate() {
                    t.raw_set(i + 1, reply_to_lua(lua, item, resp3)?)?;
                }
                Value::Table(t)
            }
            Frame::Map(pairs) => {
                let map = lua.create_table()?;
                for (k, v) in pairs {
                    let key = reply_to_lua(lua, k, resp3)?;
                    if can_be_key(&key) {
                        map.raw_set(key, reply_to_lua(lua, v, resp3)?)?;
                    }
                }
                single(lua, "map", Value::Table(map))?
            }
            Frame::Set(items) => {
                let set = lua.create_table()?;
                for item in items {
                    let member = reply_to_lua(lua, item, resp3)?;
                    if can_be_key(&member) {
                        set.raw_set(member, true)?;
                    }
                }
                single(lua, "set", Value::Table(set))?
            }
            Frame::Double(d) => single(lua, "double", Value::Number(d))?,
            Frame::Boolean(b) => Value::Boolean(b),
            Frame::BigNumber(n) => {
                single(lua, "big_number", Value::String(lua.create_string(&n)?))?
            }
            Frame::Verbatim { format, text } => {
                let verbatim = lua.create_table()?;
                verbatim.raw_set("format", lua.create_string(format)?)?;
                verbatim.raw_set("string", lua.create_string(&text)?)?;
                single(lua, "verbatim_string", Value::Table(verbatim))?
            }
            Frame::Attribute { value, .. } => reply_to_lua(lua, *value, resp3)?,
        })
    })
}

/// Whether `value` can be a table key: mlua's `raw_set` must not be given nil or NaN
/// (Lua's error would jump over Rust frames). No command replies with either as a
/// map key or set member.
fn can_be_key(value: &Value) -> bool {
    match value {
        Value::Nil => false,
        Value::Number(x) => !x.is_nan(),
        _ => true,
    }
}

/// A Lua number as Redis makes it an integer reply: C's `(long long)` cast on
/// x86-64, truncating, and the smallest integer for NaN and what is out of range.
fn truncate(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        true => i64::MIN,
        false => x as i64,
    }
}

/// `{name = value}`.
fn single(lua: &Lua, name: &str, value: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(Value::Table(t))
}

/// Writes the script's return value `value` as the client's reply: strings as bulk
/// strings, numbers as integers (truncated), true as 1 (RESP2 scripts) or a boolean
/// (after `redis.setresp(3)`), false and nil as a null, `{err=...}` as an error,
/// `{ok=...}` as a status, `{double=...}`, `{map=...}`, `{set=...}`,
/// `{big_number=...}`, `{verbatim_string=...}`, and other tables as arrays up to their
/// first nil.
pub(super) fn lua_to_reply(lua: &Lua, out: &mut ReplyWriter, value: &Value, resp3_script: bool) {
    write_value(lua, out, value, resp3_script, 0);
}

fn write_value(lua: &Lua, out: &mut ReplyWriter, value: &Value, resp3_script: bool, depth: usize) {
    crate::script::nested(|| match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Number(n) => out.integer(truncate(*n)),
        Value::Integer(n) => out.integer(*n),
        Value::Boolean(true) if !resp3_script => out.integer(1),
        Value::Boolean(false) if !resp3_script => out.null(),
        Value::Boolean(b) => out.boolean(*b),
        Value::Table(t) if depth < MAX_DEPTH => write_table(lua, out, t, resp3_script, depth),
        _ => out.null(),
    })
}

fn write_table(lua: &Lua, out: &mut ReplyWriter, t: &Table, resp3_script: bool, depth: usize) {
    let field = |name: &str| exact_get(t, name).unwrap_or(Value::Nil);
    if let Value::String(err) = field("err") {
        return out.error(err.as_bytes());
    }
    if let Value::String(ok) = field("ok") {
        return out.simple(&ok.to_string_lossy());
    }
    match field("double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(d) => return out.double(d as f64),
        _ => {}
    }
    if let Value::String(n) = field("big_number") {
        return out.big_number(&n.as_bytes());
    }
    if let Value::Table(map) = field("map") {
        let pairs = entries(lua, &map).unwrap_or_default();
        out.map_len(pairs.len());
        for (k, v) in &pairs {
            write_value(lua, out, k, resp3_script, depth + 1);
            write_value(lua, out, v, resp3_script, depth + 1);
        }
        return;
    }
    if let Value::Table(set) = field("set") {
        let members = entries(lua, &set).unwrap_or_default();
        out.set_len(members.len());
        for (member, _) in &members {
            write_value(lua, out, member, resp3_script, depth + 1);
        }
        return;
    }
    if let Value::Table(verbatim) = field("verbatim_string") {
        let format = verbatim.raw_get::<mlua::String>("format");
        let text = verbatim.raw_get::<mlua::String>("string");
        if let (Ok(format), Ok(text)) = (format, text) {
            if let Ok(format) = <[u8; 3]>::try_from(&format.as_bytes()[..]) {
                return out.verbatim(&format, &text.as_bytes());
            }
        }
    }
    let items: Vec<Value> = (1..)
        .map(|i| exact_get(t, i).unwrap_or(Value::Nil))
        .take_while(|v| !v.is_nil())
        .collect();
    out.array_len(items.len());
    for item in &items {
        write_value(lua, out, item, resp3_script, depth + 1);
    }
}
