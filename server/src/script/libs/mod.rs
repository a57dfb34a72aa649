//! The C libraries Redis 7.0 builds into its Lua beside Lua's own, written again in
//! Rust (mlua's vendored Lua 5.1 has none of them): `cjson` (lua-cjson 2.1.0),
//! `cmsgpack` (lua-cmsgpack 0.4.0) and `struct` (Roberto Ierusalimschy's struct 0.2),
//! with their replies and error texts. `bit` is in `vm.rs`.
//!
//! Each function is a Lua C function: it gets its arguments as they were passed
//! ([`Args`]) and fails with the text Lua's `luaL_error` / `luaL_argerror` would
//! raise, prefixed with where the script called it ([`raising`]).

pub(super) mod cjson;
pub(super) mod cmsgpack;
pub(super) mod structlib;

use super::vm::{exact_get, RAISED};
use mlua::{ffi, Function, Lua, MultiValue, Table, Value};
use std::ffi::c_int;

/// A library function's outcome: its results, or the error it raises.
pub(super) type LibResult<T> = Result<T, LibError>;

/// The error a library function raises.
#[derive(Debug)]
pub(super) enum LibError {
    /// `luaL_error`'s: the text after where the script called the function.
    Placed(String),
    /// One Lua raises by itself from inside a C function: the text alone.
    Bare(String),
}

impl From<String> for LibError {
    fn from(text: String) -> Self {
        LibError::Placed(text)
    }
}

impl From<&str> for LibError {
    fn from(text: &str) -> Self {
        LibError::Placed(text.to_owned())
    }
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        LibError::Bare(e.to_string())
    }
}

/// Lua's own error for a table key that cannot be one (nil or NaN), as `rawset`
/// raises it. mlua's `raw_set` must never be given such a key: it lets Lua's error
/// jump over Rust frames.
pub(super) fn bad_key(key: &Value) -> Option<LibError> {
    let what = match key {
        Value::Nil => "nil",
        Value::Number(x) if x.is_nan() => "NaN",
        _ => return None,
    };
    Some(LibError::Bare(format!("table index is {what}")))
}

/// `f` as a Lua C function named `name`: an Err becomes a Lua error whose value is
/// the text, after `luaL_where(L, 1)` (`user_script:3: `), as `luaL_error` raises it.
/// The text is left where the sandbox's error handler and `pcall` take it (see
/// `vm.rs`), since mlua raises its own error value.
pub(super) fn raising<F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> LibResult<MultiValue> + Send + 'static,
{
    exact_c_function(lua, move |lua, values| {
        match f(
            lua,
            Args {
                name,
                values: values.into_vec(),
            },
        ) {
            Ok(results) => Ok(results),
            Err(error) => {
                let raised = match error {
                    LibError::Placed(text) => format!("{}{text}", caller_position(lua)),
                    LibError::Bare(text) => text,
                };
                lua.set_named_registry_value(RAISED, raised)?;
                Err(mlua::Error::runtime("library error"))
            }
        }
    })
}

/// `f` as a Lua C function that gets its arguments exact: mlua would make a number
/// near a whole one (1e-20) that whole number on the way in, so the function Lua calls
/// is a plain C closure ([`with_exact_args`]) that hands them to `f` in a table, read
/// with `exact_get`. A Lua error `f` returns is raised from a C function: a script's
/// frame (and line) stays below it.
pub(in crate::script) fn exact_c_function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> mlua::Result<MultiValue> + Send + 'static,
{
    let inner = lua.create_function(move |lua, (packed, n): (Table, usize)| {
        let values = (1..=n)
            .map(|i| exact_get(&packed, i))
            .collect::<mlua::Result<Vec<Value>>>()?;
        f(lua, MultiValue::from_vec(values))
    })?;
    // SAFETY: pops the one argument pushed (`inner`) and pushes one closure, which
    // `exec_raw` returns; nothing here can raise a Lua error but out of memory.
    unsafe {
        lua.exec_raw(inner, |state| {
            ffi::lua_pushcclosure(state, with_exact_args, 1);
        })
    }
}

/// The C function scripts call: packs its arguments into a table, without converting
/// them, and calls its upvalue (the Rust function) with the table and their count.
/// It owns nothing a Lua error jumping through it could leak.
unsafe extern "C-unwind" fn with_exact_args(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua calls it with a valid state, its arguments on the stack and the Rust
    // function as upvalue 1 (`raising`); it takes at most three slots past its
    // arguments, of the 20 (LUA_MINSTACK) Lua keeps free for a C function.
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_createtable(state, n, 0);
        for i in 1..=n {
            ffi::lua_pushvalue(state, i);
            ffi::lua_rawseti(state, -2, ffi::lua_Integer::from(i));
        }
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, -2);
        ffi::lua_pushinteger(state, ffi::lua_Integer::from(n));
        ffi::lua_call(state, 2, ffi::LUA_MULTRET);
        ffi::lua_gettop(state) - n
    }
}

/// `luaL_where(L, 1)` for the function scripts called: `source:line: ` of the Lua
/// function that called it (level 2 from the Rust function, under its C closure), or
/// nothing if it is not Lua code.
fn caller_position(lua: &Lua) -> String {
    let Some(caller) = lua.inspect_stack(2) else {
        return String::new();
    };
    let line = caller.curr_line();
    match caller.source().short_src {
        Some(src) if line > 0 => format!("{src}:{line}: "),
        _ => String::new(),
    }
}

/// A library function's arguments, checked as `luaL_check*` checks them.
pub(super) struct Args {
    name: &'static str,
    values: Vec<Value>,
}

impl Args {
    /// The arguments with a nil pushed after them, as a function that marks the end
    /// of its arguments so (struct's `pack`): a missing one is then `nil`.
    pub fn with_nil_mark(mut self) -> Args {
        self.values.push(Value::Nil);
        self
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Argument `n` (1-based); Nil if absent.
    pub fn get(&self, n: usize) -> &Value {
        self.values.get(n - 1).unwrap_or(&Value::Nil)
    }

    /// `luaL_argerror`: `bad argument #n to 'name' (why)`.
    pub fn error(&self, n: usize, why: &str) -> LibError {
        LibError::Placed(format!("bad argument #{n} to '{}' ({why})", self.name))
    }

    /// `luaL_typerror`: `<expected> expected, got <type>` (`no value` past the end).
    fn type_error(&self, n: usize, expected: &str) -> LibError {
        let got = match n > self.values.len() {
            true => "no value",
            false => self.get(n).type_name(),
        };
        self.error(n, &format!("{expected} expected, got {got}"))
    }

    /// `luaL_checklstring`: a string, or a number as Lua writes it.
    pub fn string(&self, lua: &Lua, n: usize) -> LibResult<Vec<u8>> {
        let value = self.get(n);
        let text = match value {
            Value::String(_) | Value::Number(_) | Value::Integer(_) => {
                lua.coerce_string(value.clone()).ok().flatten()
            }
            _ => None,
        };
        match text {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => Err(self.type_error(n, "string")),
        }
    }

    /// `luaL_checknumber`: a number, or a string Lua reads as one.
    pub fn number(&self, lua: &Lua, n: usize) -> LibResult<f64> {
        let value = self.get(n);
        let number = match value {
            Value::Number(x) => Some(*x),
            Value::Integer(x) => Some(*x as f64),
            Value::String(_) => lua.coerce_number(value.clone()).ok().flatten(),
            _ => None,
        };
        number.ok_or_else(|| self.type_error(n, "number"))
    }

    /// `luaL_optinteger`: `default` when absent or nil, else a number truncated.
    pub fn opt_integer(&self, lua: &Lua, n: usize, default: i64) -> LibResult<i64> {
        match self.get(n) {
            Value::Nil => Ok(default),
            _ => self.number(lua, n).map(|x| x as i64),
        }
    }
}

/// A Lua `%.14g` (or any precision): the shortest of fixed and exponent notation,
/// without trailing zeros, as C's printf writes it.
pub(super) fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, x);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_fraction(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim_fraction(&format!("{x:.decimals$}")).to_owned()
    }
}

/// `1.500` → `1.5`, `2.000` → `2`.
fn trim_fraction(text: &str) -> &str {
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => text,
    }
}

/// A table of functions and values: the module as a script sees it.
pub(super) fn module(lua: &Lua, entries: Vec<(&str, Value)>) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    for (name, value) in entries {
        t.raw_set(name, value)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::run_alone;
    use bytes::Bytes;

    fn run(body: &str, argv: &[&str]) -> String {
        let argv: Vec<Bytes> = argv
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        String::from_utf8_lossy(&run_alone(body.as_bytes(), &argv)).into_owned()
    }

    /// What each library decodes comes back the same when encoded again (`c0` takes
    /// its length from the number before it). Replies and errors are compared with
    /// redis-server in the differential test.
    #[test]
    fn libraries_round_trip() {
        let json = r#"{"a":[1,2.5,"x\/y",true,null,{"b":{}}]}"#;
        assert_eq!(
            run("return cjson.encode(cjson.decode(ARGV[1]))", &[json]),
            format!("${}\r\n{json}\r\n", json.len())
        );
        assert_eq!(
            run(
                "local t = {1, -70000, 2.5, 'abc', {k = 'v'}, true} \
                 local u = {cmsgpack.unpack(cmsgpack.pack(t))} \
                 return cjson.encode(u[1]) == cjson.encode(t)",
                &[]
            ),
            ":1\r\n"
        );
        assert_eq!(
            run(
                "return {struct.unpack('>i4 c0 !8 d', struct.pack('>i4 c0 !8 d', 3, 'abc', 0.5))}",
                &[]
            ),
            "*3\r\n$3\r\nabc\r\n:0\r\n:17\r\n"
        );
    }

    /// A library's error names the script's line, as `luaL_error` does; without a
    /// server, `redis.call` fails.
    #[test]
    fn errors_are_placed() {
        let reply = run("\nreturn cjson.decode('[')", &[]);
        assert!(
            reply.starts_with(
                "-ERR user_script:2: Expected value but found T_END at character 2 script: "
            ),
            "{reply}"
        );
        let reply = run("return redis.call('ping')", &[]);
        assert!(
            reply.starts_with("-ERR no server behind this script script: "),
            "{reply}"
        );
    }

    #[test]
    fn format_g_as_printf() {
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(1e14, 14), "1e+14");
        assert_eq!(format_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(1.5, 14), "1.5");
        assert_eq!(format_g(-42.0, 14), "-42");
        assert_eq!(format_g(12345678901234.0, 14), "12345678901234");
        assert_eq!(format_g(1.23456, 3), "1.23");
    }
}
