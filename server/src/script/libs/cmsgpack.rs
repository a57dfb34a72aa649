//! `cmsgpack`, as lua-cmsgpack 0.4.0 in Redis 7.0: `pack` (each argument in turn;
//! whole numbers in the smallest integer form, others as a float when one holds them
//! exactly; a table as an array when its keys are 1..n, else a map; tables deeper than
//! 16 as nil), `unpack`, `unpack_one` and `unpack_limit` (a stream of values, from an
//! offset).

use super::{bad_key, module, raising, Args, LibError, LibResult};
use crate::script::vm::{entries, exact_get};
use mlua::{Lua, MultiValue, Table, Value};

/// How deep tables are packed; deeper ones are packed as nil (lua-cmsgpack's).
const MAX_NESTING: usize = 16;
/// How deep unpacking goes before the input is called bad (the stack's bound).
const MAX_UNPACK_DEPTH: usize = 1000;

pub(in crate::script) fn library(lua: &Lua) -> mlua::Result<Table> {
    let text = |s: &str| lua.create_string(s).map(Value::String);
    module(
        lua,
        vec![
            ("_NAME", text("cmsgpack")?),
            ("_VERSION", text("lua-cmsgpack 0.4.0")?),
            (
                "_COPYRIGHT",
                text("Copyright (C) 2012, Salvatore Sanfilippo")?,
            ),
            (
                "_DESCRIPTION",
                text("MessagePack C implementation for Lua")?,
            ),
            ("pack", Value::Function(raising(lua, "pack", pack)?)),
            (
                "unpack",
                Value::Function(raising(lua, "unpack", |lua, args| {
                    unpack(lua, &args, 0, 0)
                })?),
            ),
            (
                "unpack_one",
                Value::Function(raising(lua, "unpack_one", |lua, args| {
                    let offset = args.opt_integer(lua, 2, 0)?;
                    unpack(lua, &args, 1, offset)
                })?),
            ),
            (
                "unpack_limit",
                Value::Function(raising(lua, "unpack_limit", |lua, args| {
                    let limit = args.number(lua, 2)? as i64;
                    let offset = args.opt_integer(lua, 3, 0)?;
                    unpack(lua, &args, limit, offset)
                })?),
            ),
        ],
    )
}

fn pack(lua: &Lua, args: Args) -> LibResult<MultiValue> {
    if args.is_empty() {
        return Err(args.error(0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for n in 1..=args.len() {
        encode(lua, &mut out, args.get(n), 0)?;
    }
    let packed = lua.create_string(&out)?;
    Ok(MultiValue::from_vec(vec![Value::String(packed)]))
}

fn encode(lua: &Lua, out: &mut Vec<u8>, value: &Value, level: usize) -> mlua::Result<()> {
    crate::script::nested(|| {
        match value {
            Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Integer(n) => encode_integer(out, *n),
            Value::Number(x) => encode_number(out, *x),
            Value::String(s) => encode_bytes(out, &s.as_bytes()),
            Value::Table(t) if level < MAX_NESTING => encode_table(lua, out, t, level)?,
            _ => out.push(0xc0),
        }
        Ok(())
    })
}

fn encode_number(out: &mut Vec<u8>, x: f64) {
    // A whole number an int64 holds is packed as an integer.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.trunc() == x && (-LIMIT..LIMIT).contains(&x) {
        return encode_integer(out, x as i64);
    }
    let single = x as f32;
    if f64::from(single) == x {
        out.push(0xca);
        out.extend_from_slice(&single.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&x.to_be_bytes());
    }
}

fn encode_integer(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// The header of an array (`fix`, 16-bit, 32-bit codes) or a map of `len` items.
fn encode_length(out: &mut Vec<u8>, len: usize, fix: u8, long: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(long);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(long + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_table(lua: &Lua, out: &mut Vec<u8>, t: &Table, level: usize) -> mlua::Result<()> {
    let pairs = entries(lua, t)?;
    // An array: every key a positive whole number, the largest their count.
    let (mut max, mut array) = (0.0f64, true);
    for (key, _) in &pairs {
        match key {
            Value::Number(k) if k.trunc() == *k && *k >= 1.0 => max = max.max(*k),
            Value::Integer(k) if *k >= 1 => max = max.max(*k as f64),
            _ => {
                array = false;
                break;
            }
        }
    }
    if array && max == pairs.len() as f64 {
        encode_length(out, pairs.len(), 0x90, 0xdc);
        for i in 1..=pairs.len() {
            encode(lua, out, &exact_get(t, i)?, level + 1)?;
        }
    } else {
        encode_length(out, pairs.len(), 0x80, 0xde);
        for (key, value) in &pairs {
            encode(lua, out, key, level + 1)?;
            encode(lua, out, value, level + 1)?;
        }
    }
    Ok(())
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` values (all when neither a limit
/// nor an offset is given) from byte `offset`; but for a whole unpack, the offset to
/// go on from (-1 at the end) comes first.
fn unpack(lua: &Lua, args: &Args, limit: i64, offset: i64) -> LibResult<MultiValue> {
    let data = args.string(lua, 1)?;
    if offset < 0 || limit < 0 {
        return Err(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )
        .into());
    }
    let offset = offset as usize;
    if offset > data.len() {
        return Err(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )
        .into());
    }
    let whole = limit == 0 && offset == 0;
    let limit = if whole { i64::MAX } else { limit };
    let mut reader = Reader {
        lua,
        data: &data,
        at: offset,
    };
    let mut values = Vec::new();
    while reader.at < data.len() && (values.len() as i64) < limit {
        match reader.value(0) {
            Ok(value) => values.push(value),
            Err(Bad::Missing) => return Err("Missing bytes in input.".into()),
            Err(Bad::Format) => return Err("Bad data format in input.".into()),
            Err(Bad::Lua(e)) => return Err(e),
        }
    }
    if !whole {
        let next = match reader.at == data.len() {
            true => -1.0,
            false => reader.at as f64,
        };
        values.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_vec(values))
}

enum Bad {
    Missing,
    Format,
    Lua(LibError),
}

impl From<mlua::Error> for Bad {
    fn from(e: mlua::Error) -> Self {
        Bad::Lua(e.into())
    }
}

struct Reader<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Bad> {
        let bytes = self
            .data
            .get(self.at..self.at.saturating_add(n))
            .ok_or(Bad::Missing)?;
        self.at += n;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Bad> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    }

    fn value(&mut self, depth: usize) -> Result<Value, Bad> {
        crate::script::nested(|| {
            if depth > MAX_UNPACK_DEPTH {
                return Err(Bad::Format);
            }
            let code = self.take(1)?[0];
            let number = |x: f64| Ok(Value::Number(x));
            match code {
                0x00..=0x7f => number(f64::from(code)),
                0xe0..=0xff => number(f64::from(code as i8)),
                0xa0..=0xbf => self.string(usize::from(code & 0x1f)),
                0x90..=0x9f => self.array(usize::from(code & 0x0f), depth),
                0x80..=0x8f => self.map(usize::from(code & 0x0f), depth),
                0xc0 => Ok(Value::Nil),
                0xc2 => Ok(Value::Boolean(false)),
                0xc3 => Ok(Value::Boolean(true)),
                0xcc => number(self.uint(1)? as f64),
                0xcd => number(self.uint(2)? as f64),
                0xce => number(self.uint(4)? as f64),
                0xcf => number(self.uint(8)? as f64),
                0xd0 => number(f64::from(self.uint(1)? as u8 as i8)),
                0xd1 => number(f64::from(self.uint(2)? as u16 as i16)),
                0xd2 => number(f64::from(self.uint(4)? as u32 as i32)),
                0xd3 => number(self.uint(8)? as i64 as f64),
                0xca => number(f64::from(f32::from_bits(self.uint(4)? as u32))),
                0xcb => number(f64::from_bits(self.uint(8)?)),
                0xd9 => {
                    let len = self.uint(1)? as usize;
                    self.string(len)
                }
                0xda => {
                    let len = self.uint(2)? as usize;
                    self.string(len)
                }
                0xdb => {
                    let len = self.uint(4)? as usize;
                    self.string(len)
                }
                0xdc => {
                    let len = self.uint(2)? as usize;
                    self.array(len, depth)
                }
                0xdd => {
                    let len = self.uint(4)? as usize;
                    self.array(len, depth)
                }
                0xde => {
                    let len = self.uint(2)? as usize;
                    self.map(len, depth)
                }
                0xdf => {
                    let len = self.uint(4)? as usize;
                    self.map(len, depth)
                }
                _ => Err(Bad::Format),
            }
        })
    }

    fn string(&mut self, len: usize) -> Result<Value, Bad> {
        let lua = self.lua;
        let bytes = self.take(len)?;
        Ok(Value::String(lua.create_string(bytes)?))
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, Bad> {
        let t = self.lua.create_table()?;
        for i in 1..=len {
            let item = self.value(depth + 1)?;
            t.raw_set(i, item)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, Bad> {
        let t = self.lua.create_table()?;
        for _ in 0..len {
            let key = self.value(depth + 1)?;
            let item = self.value(depth + 1)?;
            if let Some(bad) = bad_key(&key) {
                return Err(Bad::Lua(bad));
            }
            t.raw_set(key, item)?;
        }
        Ok(Value::Table(t))
    }
}
