//! `cjson`, as lua-cjson 2.1.0 in Redis 7.0: `encode` (arrays found as lua-cjson
//! finds them, numbers as `%.14g`, `/` escaped), `decode` (its tokenizer and error
//! texts, `null` as `cjson.null`), the settings functions and `new`.

use super::{format_g, module, raising, Args, LibError, LibResult};
use crate::script::vm::{entries, exact_get};
use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use std::sync::Arc;

/// The depths where Redis's cjson finds Lua's stack (8000 slots) full, whatever the
/// settings allow: tables held while encoding, and while decoding.
const ENCODE_STACK_DEPTH: i64 = 7998;
const DECODE_STACK_DEPTH: i64 = 7999;

/// What `encode_invalid_numbers` chose.
#[derive(Clone, Copy, PartialEq)]
enum InvalidNumbers {
    Refuse,
    Write,
    AsNull,
}

/// One cjson module's settings (lua-cjson's `json_config_t`, its defaults).
#[derive(Clone, Copy)]
struct Settings {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    keep_buffer: bool,
    encode_invalid: InvalidNumbers,
    decode_invalid: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: InvalidNumbers::Refuse,
            decode_invalid: true,
        }
    }
}

type Shared = Arc<Mutex<Settings>>;

/// `cjson.null`: a light userdata holding NULL.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A new cjson module with its own default settings (the global one, and `cjson.new`).
pub(in crate::script) fn library(lua: &Lua) -> mlua::Result<Table> {
    let settings: Shared = Arc::default();
    let s = |settings: &Shared| settings.clone();
    let function = |f: mlua::Function| Value::Function(f);
    module(
        lua,
        vec![
            ("_NAME", Value::String(lua.create_string("cjson")?)),
            ("_VERSION", Value::String(lua.create_string("2.1.0")?)),
            ("null", null()),
            (
                "encode",
                function(raising(lua, "encode", {
                    let settings = s(&settings);
                    move |lua, args| encode(lua, &args, *settings.lock())
                })?),
            ),
            (
                "decode",
                function(raising(lua, "decode", {
                    let settings = s(&settings);
                    move |lua, args| decode(lua, &args, *settings.lock())
                })?),
            ),
            (
                "new",
                function(lua.create_function(|lua, _: MultiValue| library(lua))?),
            ),
            (
                "encode_sparse_array",
                function(raising(lua, "encode_sparse_array", {
                    let settings = s(&settings);
                    move |lua, args| {
                        let mut settings = settings.lock();
                        too_many(&args, 3)?;
                        bool_option(&args, 1, &mut settings.sparse_convert)?;
                        integer_option(lua, &args, 2, &mut settings.sparse_ratio, 0, i32::MAX)?;
                        integer_option(lua, &args, 3, &mut settings.sparse_safe, 0, i32::MAX)?;
                        Ok(MultiValue::from_vec(vec![
                            Value::Boolean(settings.sparse_convert),
                            Value::Number(settings.sparse_ratio as f64),
                            Value::Number(settings.sparse_safe as f64),
                        ]))
                    }
                })?),
            ),
            (
                "encode_max_depth",
                function(integer_setting(
                    lua,
                    "encode_max_depth",
                    &settings,
                    1,
                    i32::MAX,
                    |s| &mut s.encode_max_depth,
                )?),
            ),
            (
                "decode_max_depth",
                function(integer_setting(
                    lua,
                    "decode_max_depth",
                    &settings,
                    1,
                    i32::MAX,
                    |s| &mut s.decode_max_depth,
                )?),
            ),
            (
                "encode_number_precision",
                function(integer_setting(
                    lua,
                    "encode_number_precision",
                    &settings,
                    1,
                    14,
                    |s| &mut s.precision,
                )?),
            ),
            (
                "encode_keep_buffer",
                function(bool_setting(lua, "encode_keep_buffer", &settings, |s| {
                    &mut s.keep_buffer
                })?),
            ),
            (
                "decode_invalid_numbers",
                function(bool_setting(
                    lua,
                    "decode_invalid_numbers",
                    &settings,
                    |s| &mut s.decode_invalid,
                )?),
            ),
            (
                "encode_invalid_numbers",
                function(raising(lua, "encode_invalid_numbers", {
                    let settings = s(&settings);
                    move |lua, args| {
                        let mut settings = settings.lock();
                        too_many(&args, 1)?;
                        match args.get(1) {
                            Value::Nil => {}
                            Value::Boolean(on) => {
                                settings.encode_invalid = match on {
                                    true => InvalidNumbers::Write,
                                    false => InvalidNumbers::Refuse,
                                }
                            }
                            _ => {
                                settings.encode_invalid = match &args.string(lua, 1)?[..] {
                                    b"off" => InvalidNumbers::Refuse,
                                    b"on" => InvalidNumbers::Write,
                                    b"null" => InvalidNumbers::AsNull,
                                    other => {
                                        return Err(args.error(
                                            1,
                                            &format!(
                                                "invalid option '{}'",
                                                String::from_utf8_lossy(other)
                                            ),
                                        ))
                                    }
                                }
                            }
                        }
                        let now = match settings.encode_invalid {
                            InvalidNumbers::Refuse => Value::Boolean(false),
                            InvalidNumbers::Write => Value::Boolean(true),
                            InvalidNumbers::AsNull => Value::String(lua.create_string("null")?),
                        };
                        Ok(MultiValue::from_vec(vec![now]))
                    }
                })?),
            ),
        ],
    )
}

/// lua-cjson's `json_arg_init`: at most `most` arguments.
fn too_many(args: &Args, most: usize) -> LibResult<()> {
    match args.len() > most {
        true => Err(args.error(most + 1, "found too many arguments")),
        false => Ok(()),
    }
}

/// A boolean setting (`true`/`false` or `"on"`/`"off"`), left alone when not given.
fn bool_option(args: &Args, n: usize, setting: &mut bool) -> LibResult<()> {
    match args.get(n) {
        Value::Nil => Ok(()),
        Value::Boolean(on) => {
            *setting = *on;
            Ok(())
        }
        Value::String(s) => match &s.as_bytes()[..] {
            b"on" => {
                *setting = true;
                Ok(())
            }
            b"off" => {
                *setting = false;
                Ok(())
            }
            other => Err(args.error(
                n,
                &format!("invalid option '{}'", String::from_utf8_lossy(other)),
            )),
        },
        other => Err(args.error(n, &format!("string expected, got {}", other.type_name()))),
    }
}

/// An integer setting between `min` and `max`, left alone when not given.
fn integer_option(
    lua: &Lua,
    args: &Args,
    n: usize,
    setting: &mut i64,
    min: i32,
    max: i32,
) -> LibResult<()> {
    if args.get(n).is_nil() {
        return Ok(());
    }
    let value = args.number(lua, n)? as i64;
    if value < i64::from(min) || value > i64::from(max) {
        return Err(args.error(n, &format!("expected integer between {min} and {max}")));
    }
    *setting = value;
    Ok(())
}

/// A function that reads, and with an argument sets, one integer setting.
fn integer_setting(
    lua: &Lua,
    name: &'static str,
    settings: &Shared,
    min: i32,
    max: i32,
    field: fn(&mut Settings) -> &mut i64,
) -> mlua::Result<mlua::Function> {
    let settings = settings.clone();
    raising(lua, name, move |lua, args| {
        let mut settings = settings.lock();
        too_many(&args, 1)?;
        let setting = field(&mut settings);
        integer_option(lua, &args, 1, setting, min, max)?;
        Ok(MultiValue::from_vec(vec![Value::Number(*setting as f64)]))
    })
}

/// A function that reads, and with an argument sets, one boolean setting.
fn bool_setting(
    lua: &Lua,
    name: &'static str,
    settings: &Shared,
    field: fn(&mut Settings) -> &mut bool,
) -> mlua::Result<mlua::Function> {
    let settings = settings.clone();
    raising(lua, name, move |_, args| {
        let mut settings = settings.lock();
        too_many(&args, 1)?;
        let setting = field(&mut settings);
        bool_option(&args, 1, setting)?;
        Ok(MultiValue::from_vec(vec![Value::Boolean(*setting)]))
    })
}

// ---------------------------------------------------------------- encode

fn encode(lua: &Lua, args: &Args, settings: Settings) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(args.error(1, "expected 1 argument"));
    }
    let mut out = Vec::new();
    Encoder { lua, settings }.value(&mut out, args.get(1), 0)?;
    let text = lua.create_string(&out)?;
    Ok(MultiValue::from_vec(vec![Value::String(text)]))
}

struct Encoder<'a> {
    lua: &'a Lua,
    settings: Settings,
}

/// `Cannot serialise <type>: <why>`.
fn cannot(value: &Value, why: &str) -> LibError {
    LibError::Placed(format!("Cannot serialise {}: {why}", value.type_name()))
}

impl Encoder<'_> {
    fn value(&self, out: &mut Vec<u8>, value: &Value, depth: i64) -> LibResult<()> {
        crate::script::nested(|| {
            match value {
                Value::String(s) => write_string(out, &s.as_bytes()),
                Value::Number(_) | Value::Integer(_) => self.number(out, value)?,
                Value::Boolean(true) => out.extend_from_slice(b"true"),
                Value::Boolean(false) => out.extend_from_slice(b"false"),
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
                Value::Table(t) => {
                    let depth = depth + 1;
                    if depth > self.settings.encode_max_depth || depth >= ENCODE_STACK_DEPTH {
                        return Err(format!("Cannot serialise, excessive nesting ({depth})").into());
                    }
                    match self.array_length(t, value)? {
                        Some(len) if len > 0 => {
                            out.push(b'[');
                            for i in 1..=len {
                                if i > 1 {
                                    out.push(b',');
                                }
                                let item = exact_get(t, i)?;
                                self.value(out, &item, depth)?;
                            }
                            out.push(b']');
                        }
                        _ => self.object(out, t, depth)?,
                    }
                }
                other => return Err(cannot(other, "type not supported")),
            }
            Ok(())
        })
    }

    fn number(&self, out: &mut Vec<u8>, value: &Value) -> LibResult<()> {
        let x = match value {
            Value::Integer(n) => *n as f64,
            Value::Number(x) => *x,
            _ => 0.0,
        };
        if x.is_finite() {
            let precision = self.settings.precision as usize;
            out.extend_from_slice(format_g(x, precision).as_bytes());
            return Ok(());
        }
        let text = match self.settings.encode_invalid {
            InvalidNumbers::Refuse => return Err(cannot(value, "must not be NaN or Inf")),
            InvalidNumbers::AsNull => "null",
            InvalidNumbers::Write if x.is_nan() => "NaN",
            InvalidNumbers::Write if x < 0.0 => "-Infinity",
            InvalidNumbers::Write => "Infinity",
        };
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// lua-cjson's `lua_array_length`: the largest index if every key is a positive
    /// whole number (None: an object); a sparse array is refused or made an object.
    fn array_length(&self, t: &Table, value: &Value) -> LibResult<Option<usize>> {
        let (mut max, mut items) = (0.0f64, 0.0f64);
        for (key, _) in entries(self.lua, t)? {
            let k = match key {
                Value::Number(k) => k,
                Value::Integer(k) => k as f64,
                _ => return Ok(None),
            };
            if k.floor() != k || k < 1.0 {
                return Ok(None);
            }
            max = max.max(k);
            items += 1.0;
        }
        let s = &self.settings;
        if s.sparse_ratio > 0 && max > items * s.sparse_ratio as f64 && max > s.sparse_safe as f64 {
            if !s.sparse_convert {
                return Err(cannot(value, "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max as usize))
    }

    fn object(&self, out: &mut Vec<u8>, t: &Table, depth: i64) -> LibResult<()> {
        out.push(b'{');
        let mut first = true;
        for (key, item) in entries(self.lua, t)? {
            if !first {
                out.push(b',');
            }
            first = false;
            match &key {
                Value::Number(_) | Value::Integer(_) => {
                    out.push(b'"');
                    self.number(out, &key)?;
                    out.extend_from_slice(b"\":");
                }
                Value::String(s) => {
                    write_string(out, &s.as_bytes());
                    out.push(b':');
                }
                other => return Err(cannot(other, "table key must be a number or string")),
            }
            self.value(out, &item, depth)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string as lua-cjson escapes it: `"`, `\`, `/`, the C escapes, and other
/// control characters (and DEL) as `\u00XX`; other bytes as they are.
fn write_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

// ---------------------------------------------------------------- decode

fn decode(lua: &Lua, args: &Args, settings: Settings) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(args.error(1, "expected 1 argument"));
    }
    let text = args.string(lua, 1)?;
    // lua-cjson reads up to the first NUL, as a C string.
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err("JSON parser does not support UTF-16 or UTF-32".into());
    }
    let mut parser = Parser {
        lua,
        data: &text,
        at: 0,
        depth: 0,
        settings,
    };
    let token = parser.next_token();
    let value = parser.value(token)?;
    let token = parser.next_token();
    if !matches!(token.kind, Kind::End) {
        return Err(parser.unexpected("the end", &token));
    }
    Ok(MultiValue::from_vec(vec![value]))
}

enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Kind {
    /// lua-cjson's token names, as its errors say them.
    fn name(&self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::String(_) => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        }
    }
}

struct Token {
    kind: Kind,
    /// Where it starts (or where the error is), from 0.
    index: usize,
}

struct Parser<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    at: usize,
    depth: i64,
    settings: Settings,
}

impl Parser<'_> {
    /// The byte at `i`; NUL past the end (the text is read as a C string).
    fn byte(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn unexpected(&self, expected: &str, token: &Token) -> LibError {
        LibError::Placed(format!(
            "Expected {expected} but found {} at character {}",
            token.kind.name(),
            token.index + 1
        ))
    }

    fn error_here(&self, what: &'static str) -> Token {
        Token {
            kind: Kind::Error(what),
            index: self.at,
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.byte(self.at), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let index = self.at;
        let single = |kind| Token { kind, index };
        let kind = match self.byte(self.at) {
            b'{' => Kind::ObjBegin,
            b'}' => Kind::ObjEnd,
            b'[' => Kind::ArrBegin,
            b']' => Kind::ArrEnd,
            b',' => Kind::Comma,
            b':' => Kind::Colon,
            0 => return single(Kind::End),
            b'"' => return self.string_token(index),
            b'-' | b'0'..=b'9' => {
                if !self.settings.decode_invalid && self.invalid_number() {
                    return self.error_here("invalid number");
                }
                return self.number_token(index);
            }
            _ => {
                let rest = &self.data[self.at..];
                for (word, kind) in [
                    (&b"true"[..], Kind::Boolean(true)),
                    (b"false", Kind::Boolean(false)),
                    (b"null", Kind::Null),
                ] {
                    if rest.starts_with(word) {
                        self.at += word.len();
                        return single(kind);
                    }
                }
                if self.settings.decode_invalid
                    && matches!(self.byte(self.at), b'+' | b'i' | b'I' | b'n' | b'N')
                    && self.invalid_number()
                {
                    return self.number_token(index);
                }
                return self.error_here("invalid token");
            }
        };
        self.at += 1;
        single(kind)
    }

    /// lua-cjson's `json_is_invalid_number`: `+`, hex, leading zeros, inf, nan.
    fn invalid_number(&self) -> bool {
        let mut p = self.at;
        if self.byte(p) == b'+' {
            return true;
        }
        if self.byte(p) == b'-' {
            p += 1;
        }
        if self.byte(p) == b'0' {
            let next = self.byte(p + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        if self.byte(p) <= b'9' {
            return false;
        }
        let word = |w: &[u8]| {
            self.data
                .get(p..p + 3)
                .is_some_and(|s| s.eq_ignore_ascii_case(w))
        };
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self, index: usize) -> Token {
        match strtod(&self.data[self.at..]) {
            Some((x, used)) => {
                self.at += used;
                Token {
                    kind: Kind::Number(x),
                    index,
                }
            }
            None => self.error_here("invalid number"),
        }
    }

    fn string_token(&mut self, index: usize) -> Token {
        self.at += 1;
        let mut text = Vec::new();
        loop {
            let b = self.byte(self.at);
            match b {
                b'"' => break,
                0 => return self.error_here("unexpected end of string"),
                b'\\' => {
                    let escaped = match self.byte(self.at + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape(&mut text) {
                            true => continue,
                            false => return self.error_here("invalid unicode escape code"),
                        },
                        _ => return self.error_here("invalid escape code"),
                    };
                    text.push(escaped);
                    self.at += 2;
                }
                _ => {
                    text.push(b);
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        Token {
            kind: Kind::String(text),
            index,
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.data.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        match text.bytes().all(|b| b.is_ascii_hexdigit()) {
            true => u32::from_str_radix(text, 16).ok(),
            false => None,
        }
    }

    /// `\uXXXX` (or a surrogate pair of them) at `at`, appended as UTF-8.
    fn unicode_escape(&mut self, text: &mut Vec<u8>) -> bool {
        let Some(mut code) = self.hex4(self.at + 2) else {
            return false;
        };
        let mut length = 6;
        if code & 0xF800 == 0xD800 {
            if code & 0x400 != 0 {
                return false;
            }
            if self.byte(self.at + 6) != b'\\' || self.byte(self.at + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.at + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            length = 12;
        }
        let Some(c) = char::from_u32(code) else {
            return false;
        };
        let mut buf = [0u8; 4];
        text.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.at += length;
        true
    }

    fn descend(&mut self) -> LibResult<()> {
        self.depth += 1;
        match self.depth > self.settings.decode_max_depth || self.depth >= DECODE_STACK_DEPTH {
            true => Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.at
            )
            .into()),
            false => Ok(()),
        }
    }

    fn value(&mut self, token: Token) -> LibResult<Value> {
        crate::script::nested(|| {
            let lua = self.lua;
            Ok(match token.kind {
                Kind::String(s) => Value::String(lua.create_string(&s)?),
                Kind::Number(x) => Value::Number(x),
                Kind::Boolean(b) => Value::Boolean(b),
                Kind::Null => null(),
                Kind::ObjBegin => Value::Table(self.object()?),
                Kind::ArrBegin => Value::Table(self.array()?),
                _ => return Err(self.unexpected("value", &token)),
            })
        })
    }

    fn object(&mut self) -> LibResult<Table> {
        self.descend()?;
        let t = self.lua.create_table()?;
        let mut token = self.next_token();
        if matches!(token.kind, Kind::ObjEnd) {
            self.depth -= 1;
            return Ok(t);
        }
        loop {
            let Kind::String(key) = &token.kind else {
                return Err(self.unexpected("object key string", &token));
            };
            let key = self.lua.create_string(key)?;
            let colon = self.next_token();
            if !matches!(colon.kind, Kind::Colon) {
                return Err(self.unexpected("colon", &colon));
            }
            let next = self.next_token();
            let value = self.value(next)?;
            t.raw_set(key, value)?;
            token = self.next_token();
            match token.kind {
                Kind::ObjEnd => {
                    self.depth -= 1;
                    return Ok(t);
                }
                Kind::Comma => token = self.next_token(),
                _ => return Err(self.unexpected("comma or object end", &token)),
            }
        }
    }

    fn array(&mut self) -> LibResult<Table> {
        self.descend()?;
        let t = self.lua.create_table()?;
        let mut token = self.next_token();
        if matches!(token.kind, Kind::ArrEnd) {
            self.depth -= 1;
            return Ok(t);
        }
        for i in 1.. {
            let value = self.value(token)?;
            t.raw_set(i, value)?;
            token = self.next_token();
            match token.kind {
                Kind::ArrEnd => break,
                Kind::Comma => token = self.next_token(),
                _ => return Err(self.unexpected("comma or array end", &token)),
            }
        }
        self.depth -= 1;
        Ok(t)
    }
}

/// C's `strtod` on the start of `text`: the number and how many bytes it took, or
/// None if no number starts there. Decimal, hexadecimal, `inf`, `infinity`, `nan`.
fn strtod(text: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let negative = match at(0) {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    let signed = |x: f64| if negative { -x } else { x };
    let rest = &text[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return Some((signed(f64::INFINITY), i + 8));
    }
    if starts(b"inf") {
        return Some((signed(f64::INFINITY), i + 3));
    }
    if starts(b"nan") {
        return Some((signed(f64::NAN), i + 3));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' && at(i + 2).is_ascii_hexdigit() {
        return Some(hex_float(text, i + 2, signed));
    }
    let start = i;
    let digits = |mut i: usize| {
        while at(i).is_ascii_digit() {
            i += 1;
        }
        i
    };
    let whole_end = digits(i);
    let mut end = whole_end;
    let mut mantissa_digits = whole_end - i;
    if at(end) == b'.' {
        let fraction_end = digits(end + 1);
        mantissa_digits += fraction_end - end - 1;
        end = fraction_end;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if at(end) | 0x20 == b'e' {
        let mut e = end + 1;
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let exponent_end = digits(e);
        if exponent_end > e {
            end = exponent_end;
        }
    }
    let number = std::str::from_utf8(&text[start..end]).ok()?;
    let x: f64 = number.parse().ok()?;
    Some((signed(x), end))
}

/// The hexadecimal number whose digits start at `i` (after `0x`), with an optional
/// fraction and binary exponent (`p`).
fn hex_float(text: &[u8], mut i: usize, signed: impl Fn(f64) -> f64) -> (f64, usize) {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let digit = |b: u8| char::from(b).to_digit(16).map(f64::from);
    let mut x = 0.0;
    while let Some(d) = digit(at(i)) {
        x = x * 16.0 + d;
        i += 1;
    }
    if at(i) == b'.' {
        let mut scale = 1.0 / 16.0;
        i += 1;
        while let Some(d) = digit(at(i)) {
            x += d * scale;
            scale /= 16.0;
            i += 1;
        }
    }
    if at(i) | 0x20 == b'p' {
        let mut e = i + 1;
        let negative = at(e) == b'-';
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let start = e;
        let mut exponent: i32 = 0;
        while at(e).is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i32::from(at(e) - b'0'));
            e += 1;
        }
        if e > start {
            x *= 2f64.powi(if negative { -exponent } else { exponent });
            i = e;
        }
    }
    (signed(x), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_as_c() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"0x1F]"), Some((31.0, 4)));
        assert_eq!(strtod(b".5"), Some((0.5, 2)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert!(strtod(b"nan").is_some_and(|(x, n)| x.is_nan() && n == 3));
    }

    #[test]
    fn strings_escaped_as_lua_cjson() {
        let mut out = Vec::new();
        write_string(&mut out, b"a\"/\n\x01\x7f\xc3\xa9");
        assert_eq!(out, b"\"a\\\"\\/\\n\\u0001\\u007f\xc3\xa9\"");
    }
}
