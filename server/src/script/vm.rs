//! The Lua 5.1 state scripts run in ([`Vm`]): built once with the sandbox
//! (`sandbox.lua`, Redis 7.0's globals, read-only libraries and `redis` table), the
//! `bit` library, and each script compiled once into a function kept by its SHA1.

use super::libs::exact_c_function;
use crate::cmd::table;
use mlua::{Function, Lua, LuaOptions, MultiValue, RegistryKey, StdLib, Table, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Where a C function of `redis` leaves the error table it raises (a library
/// function, the text of its error).
pub(super) const RAISED: &str = "tier.raised";

/// Where the sandbox's `entries` function is kept.
const ENTRIES: &str = "tier.entries";

/// `t[key]`, a number exact. mlua makes a Lua 5.1 number that is within
/// `f64::EPSILON` of a whole number that whole number (1e-20 becomes 0) when it makes
/// a [`Value`]; reading the slot again as an `f64` takes it from the stack as it is.
pub(super) fn exact_get<K: mlua::IntoLua + Clone>(t: &Table, key: K) -> mlua::Result<Value> {
    match t.raw_get::<Value>(key.clone())? {
        Value::Integer(_) | Value::Number(_) => Ok(Value::Number(t.raw_get::<f64>(key)?)),
        other => Ok(other),
    }
}

/// The keys and values of `t` in Lua's `next` order, numbers exact. Rust code must
/// walk a script's tables so, not with mlua's `pairs`: its `lua_next` is unprotected,
/// and a key mlua rounded (see [`exact_get`]) makes Lua raise an error across Rust
/// frames.
pub(super) fn entries(lua: &Lua, t: &Table) -> mlua::Result<Vec<(Value, Value)>> {
    let collect: Function = lua.named_registry_value(ENTRIES)?;
    let (keys, values, n): (Table, Table, usize) = collect.call(t)?;
    (1..=n)
        .map(|i| Ok((exact_get(&keys, i)?, exact_get(&values, i)?)))
        .collect()
}

/// The chunk name of a script's code: errors say `user_script:<line>`.
pub(super) const SCRIPT_CHUNK: &str = "@user_script";

/// One Lua state and the scripts compiled in it.
pub(super) struct Vm {
    pub lua: Lua,
    /// The sandbox's runner table: `set_dispatch`, `set_arguments`, `run`, `env`.
    runner: RegistryKey,
    /// Compiled scripts by SHA1 (lower-case hex).
    functions: HashMap<String, RegistryKey>,
    /// The protocol `redis.setresp` chose for the running script (2 or 3).
    pub resp: Arc<AtomicU8>,
}

impl Vm {
    pub fn new() -> mlua::Result<Vm> {
        // Lua 5.1 has `coroutine` in its base library.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        // SAFETY: `debug` is loaded only so that the sandbox can keep `debug.getinfo`
        // for its error handler; the sandbox removes the library from every table a
        // script can reach before any script runs.
        let lua = unsafe { Lua::unsafe_new_with(libs | StdLib::DEBUG, LuaOptions::default()) };
        let resp = Arc::new(AtomicU8::new(2));
        let primitives = primitives(&lua, &resp)?;
        let runner: Table = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=[redis]")
            .call(primitives)?;
        lua.set_named_registry_value(ENTRIES, runner.get::<Function>("entries")?)?;
        Ok(Vm {
            runner: lua.create_registry_value(runner)?,
            lua,
            functions: HashMap::new(),
            resp,
        })
    }

    /// The runner table of the sandbox.
    pub fn runner(&self) -> mlua::Result<Table> {
        self.lua.registry_value(&self.runner)
    }

    /// The function of the script `sha`, compiling `body` the first time. Err is
    /// the compile error, as Lua words it.
    pub fn function(&mut self, sha: &str, body: &[u8]) -> Result<Function, String> {
        if let Some(key) = self.functions.get(sha) {
            return self.lua.registry_value(key).map_err(|e| e.to_string());
        }
        let env: Table = self
            .runner()
            .and_then(|r| r.get("env"))
            .map_err(|e| e.to_string())?;
        let function = self
            .lua
            .load(body)
            .set_name(SCRIPT_CHUNK)
            .set_environment(env)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })?;
        let key = self
            .lua
            .create_registry_value(function.clone())
            .map_err(|e| e.to_string())?;
        self.functions.insert(sha.to_owned(), key);
        Ok(function)
    }
}

/// The Rust functions the sandbox builds the `redis` table and `bit` on.
fn primitives(lua: &Lua, resp: &Arc<AtomicU8>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "sha1hex",
        lua.create_function(|_, text: mlua::String| Ok(super::sha1hex(&text.as_bytes())))?,
    )?;
    t.set(
        "log",
        lua.create_function(|_, (level, message): (u8, mlua::String)| {
            let message = message.to_string_lossy();
            match level {
                0 => tracing::debug!(target: "script", "{message}"),
                1 => tracing::info!(target: "script", "{message}"),
                2 => tracing::info!(target: "script", "{message}"),
                _ => tracing::warn!(target: "script", "{message}"),
            }
            Ok(())
        })?,
    )?;
    let chosen = resp.clone();
    t.set(
        "setresp",
        lua.create_function(move |_, resp: u8| {
            chosen.store(resp, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    t.set(
        "command_exists",
        lua.create_function(|_, name: mlua::String| Ok(table::lookup(&name.as_bytes()).is_some()))?,
    )?;
    // The error table a C function of `redis` raised, until the error handler (or
    // the script's pcall) takes it.
    t.set(
        "c_function",
        lua.create_function(|lua, implementation: Function| {
            exact_c_function(lua, move |lua, args| {
                let (failed, value): (bool, Value) = implementation.call(args)?;
                if failed {
                    lua.set_named_registry_value(RAISED, value)?;
                    return Err(mlua::Error::runtime("redis error"));
                }
                Ok(MultiValue::from_vec(vec![value]))
            })
        })?,
    )?;
    t.set(
        "take_raised",
        lua.create_function(|lua, ()| {
            let raised: Value = lua.named_registry_value(RAISED)?;
            lua.set_named_registry_value(RAISED, Value::Nil)?;
            Ok(raised)
        })?,
    )?;
    t.set("version", crate::cmd::REDIS_VERSION)?;
    t.set("version_num", version_num(crate::cmd::REDIS_VERSION))?;
    t.set("bit", bit_library(lua)?)?;
    t.set("cjson", super::libs::cjson::library(lua)?)?;
    t.set("cmsgpack", super::libs::cmsgpack::library(lua)?)?;
    t.set("struct", super::libs::structlib::library(lua)?)?;
    Ok(t)
}

/// `7.0.15` as Redis's `REDIS_VERSION_NUM`, 0x07000f.
fn version_num(version: &str) -> i64 {
    version
        .split('.')
        .map(|part| part.parse::<i64>().unwrap_or(0))
        .fold(0, |num, part| num * 256 + part)
}

/// LuaBitOp 1.0 (the `bit` library Redis embeds): 32-bit operations on numbers, each
/// argument first normalized as `bit.tobit` does.
fn bit_library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    let unary = |f: fn(i32) -> i32| move |_: &Lua, x: f64| Ok(f(tobit(x)));
    let fold = |f: fn(i32, i32) -> i32| {
        move |_: &Lua, args: mlua::Variadic<f64>| {
            Ok(args.iter().map(|&x| tobit(x)).reduce(f).unwrap_or(0))
        }
    };
    let shift = |f: fn(i32, u32) -> i32| {
        move |_: &Lua, (x, n): (f64, f64)| Ok(f(tobit(x), tobit(n) as u32 & 31))
    };
    bit.set("tobit", lua.create_function(unary(|x| x))?)?;
    bit.set("bnot", lua.create_function(unary(|x| !x))?)?;
    bit.set("bswap", lua.create_function(unary(i32::swap_bytes))?)?;
    bit.set("band", lua.create_function(fold(|a, b| a & b))?)?;
    bit.set("bor", lua.create_function(fold(|a, b| a | b))?)?;
    bit.set("bxor", lua.create_function(fold(|a, b| a ^ b))?)?;
    bit.set(
        "lshift",
        lua.create_function(shift(|x, n| ((x as u32) << n) as i32))?,
    )?;
    bit.set(
        "rshift",
        lua.create_function(shift(|x, n| ((x as u32) >> n) as i32))?,
    )?;
    bit.set("arshift", lua.create_function(shift(|x, n| x >> n))?)?;
    bit.set(
        "rol",
        lua.create_function(shift(|x, n| (x as u32).rotate_left(n) as i32))?,
    )?;
    bit.set(
        "ror",
        lua.create_function(shift(|x, n| (x as u32).rotate_right(n) as i32))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let x = tobit(x) as u32;
            let n = n.map_or(8, tobit);
            let (upper, digits) = (n < 0, n.unsigned_abs().min(8) as usize);
            let text = match upper {
                true => format!("{x:08X}"),
                false => format!("{x:08x}"),
            };
            Ok(text[8 - digits..].to_owned())
        })?,
    )?;
    Ok(bit)
}

/// LuaBitOp's `tobit`: the number modulo 2^32, as a signed 32-bit integer.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    x.round_ties_even().rem_euclid(4_294_967_296.0) as u64 as u32 as i32
}

/// Whether `value` is a string or a number (what a command argument may be).
pub(super) fn is_argument(value: &Value) -> bool {
    matches!(
        value,
        Value::String(_) | Value::Number(_) | Value::Integer(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_as_luabitop() {
        assert_eq!(tobit(0.0), 0);
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(4_294_967_296.0), 0);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(version_num("7.0.15"), 0x07000f);
    }
}
