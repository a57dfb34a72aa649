//! `struct`, as the struct library 0.2 in Redis 7.0: `pack`, `unpack` and `size` of
//! binary records described by a format (`<` `>` `!n` endianness and alignment;
//! `b B h H l L T i[n] I[n]` integers, `f d` floats, `c[n]` and `s` strings, `x`
//! padding), as on x86-64 Linux (little-endian, `long` of 8 bytes, alignment 8).

use super::{module, raising, Args, LibResult};
use mlua::{Lua, MultiValue, Table, Value};

/// The largest integer size, in bytes.
const MAX_INT_SIZE: usize = 32;
/// The default (and largest native) alignment.
const MAX_ALIGN: usize = 8;

pub(in crate::script) fn library(lua: &Lua) -> mlua::Result<Table> {
    module(
        lua,
        vec![
            ("pack", Value::Function(raising(lua, "pack", pack)?)),
            ("unpack", Value::Function(raising(lua, "unpack", unpack)?)),
            ("size", Value::Function(raising(lua, "size", size)?)),
        ],
    )
}

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// A format read one option at a time.
struct Format<'a> {
    text: &'a [u8],
    at: usize,
}

impl Format<'_> {
    fn next(&mut self) -> Option<u8> {
        let opt = *self.text.get(self.at)?;
        self.at += 1;
        Some(opt)
    }

    /// The number after an option, or `default`.
    fn number(&mut self, default: usize) -> LibResult<usize> {
        if !self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(&d) = self.text.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or("integral size overflow")?;
            self.at += 1;
        }
        Ok(n)
    }

    /// The size of option `opt` (0 for the options that are not data).
    fn size(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )
                    .into());
                }
                size
            }
            _ => 0,
        })
    }

    /// A control option (endianness, alignment, space); anything else is refused.
    fn control(&mut self, args: &Args, opt: u8, header: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => header.little = false,
            b'<' => header.little = true,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(format!("alignment {align} is not a power of 2").into());
                }
                header.align = align;
            }
            _ => return Err(args.error(1, &format!("invalid format option '{}'", char::from(opt)))),
        }
        Ok(())
    }
}

/// The padding before an item of `size` at `len`.
fn to_align(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn is_integer(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

fn ordered(bytes: &mut [u8], little: bool) {
    if little != cfg!(target_endian = "little") {
        bytes.reverse();
    }
}

fn lua_string(lua: &Lua, bytes: &[u8]) -> LibResult<Value> {
    Ok(Value::String(lua.create_string(bytes)?))
}

fn pack(lua: &Lua, args: Args) -> LibResult<MultiValue> {
    let args = args.with_nil_mark();
    let text = args.string(lua, 1)?;
    let mut format = Format { text: &text, at: 0 };
    let mut header = Header::default();
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 2;
    while let Some(opt) = format.next() {
        let mut size = format.size(opt)?;
        let pad = to_align(out.len(), &header, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer(opt) => {
                let n = args.number(lua, arg)?;
                arg += 1;
                let mut value = match n < 0.0 {
                    true => n as i64 as u64,
                    false => n as u64,
                };
                let mut bytes = vec![0u8; size];
                for byte in bytes.iter_mut() {
                    *byte = value as u8;
                    value >>= 8;
                }
                if !header.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let mut bytes = (args.number(lua, arg)? as f32).to_ne_bytes();
                arg += 1;
                ordered(&mut bytes, header.little);
                out.extend_from_slice(&bytes);
            }
            b'd' => {
                let mut bytes = args.number(lua, arg)?.to_ne_bytes();
                arg += 1;
                ordered(&mut bytes, header.little);
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = args.string(lua, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(args.error(arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => format.control(&args, opt, &mut header)?,
        }
    }
    Ok(MultiValue::from_vec(vec![lua_string(lua, &out)?]))
}

fn unpack(lua: &Lua, args: Args) -> LibResult<MultiValue> {
    let text = args.string(lua, 1)?;
    let data = args.string(lua, 2)?;
    let start = args.opt_integer(lua, 3, 1)?;
    if start <= 0 {
        return Err(args.error(3, "offset must be 1 or greater"));
    }
    let mut pos = (start - 1) as usize;
    let mut format = Format { text: &text, at: 0 };
    let mut header = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let short = |size: usize, pos: usize| size > data.len() || pos > data.len() - size;
    while let Some(opt) = format.next() {
        let mut size = format.size(opt)?;
        pos += to_align(pos, &header, opt, size);
        if short(size, pos) {
            return Err(args.error(2, "data string too short"));
        }
        match opt {
            _ if is_integer(opt) => {
                let bytes = &data[pos..pos + size];
                let mut value: u64 = 0;
                let mut push = |b: &u8| value = (value << 8) | u64::from(*b);
                match header.little {
                    true => bytes.iter().rev().for_each(&mut push),
                    false => bytes.iter().for_each(&mut push),
                }
                let number = match opt.is_ascii_lowercase() {
                    true => {
                        let mask = (!0u64).checked_shl((size * 8).saturating_sub(1) as u32);
                        match mask {
                            Some(mask) if value & mask != 0 => (value | mask) as i64 as f64,
                            _ => value as i64 as f64,
                        }
                    }
                    false => value as f64,
                };
                results.push(Value::Number(number));
            }
            b'x' => {}
            b'f' => {
                let mut bytes = [0u8; 4];
                bytes.copy_from_slice(&data[pos..pos + 4]);
                ordered(&mut bytes, header.little);
                results.push(Value::Number(f64::from(f32::from_ne_bytes(bytes))));
            }
            b'd' => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&data[pos..pos + 8]);
                ordered(&mut bytes, header.little);
                results.push(Value::Number(f64::from_ne_bytes(bytes)));
            }
            b'c' => {
                if size == 0 {
                    // The length is the number read before.
                    let Some(Value::Number(n)) = results.pop() else {
                        return Err("format 'c0' needs a previous size".into());
                    };
                    size = n as usize;
                    if short(size, pos) {
                        return Err(args.error(2, "data string too short"));
                    }
                }
                results.push(lua_string(lua, &data[pos..pos + size])?);
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err("unfinished string in data".into());
                };
                results.push(lua_string(lua, &data[pos..pos + end])?);
                size = end + 1;
            }
            _ => format.control(&args, opt, &mut header)?,
        }
        pos += size;
    }
    results.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(results))
}

fn size(lua: &Lua, args: Args) -> LibResult<MultiValue> {
    let text = args.string(lua, 1)?;
    let mut format = Format { text: &text, at: 0 };
    let mut header = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = format.next() {
        let size = format.size(opt)?;
        pos += to_align(pos, &header, opt, size);
        if opt == b's' {
            return Err(args.error(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(args.error(1, "option 'c0' has no fixed size"));
        }
        // Letters that are no option count for nothing here.
        if !opt.is_ascii_alphanumeric() {
            format.control(&args, opt, &mut header)?;
        }
        pos += size;
    }
    Ok(MultiValue::from_vec(vec![Value::Number(pos as f64)]))
}
