//! Numbers as Redis reads and writes them: [`parse_i64`] is its `string2ll`, the rule
//! every integer argument and every RESP length follows, and [`format_i64`] its
//! `ll2string`; [`long_double`] is C's x87 `long double`, which INCRBYFLOAT computes
//! and prints in; [`strtod`] is C's, which reads every score of a sorted set.

pub mod long_double;

use bytes::Bytes;

/// Parses a whole argument as a signed 64-bit integer, as Redis's `string2ll`: an
/// optional `-` then decimal digits, no `+`, no spaces, no leading zeros (so no `-0`),
/// at most 20 bytes, nothing out of range.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// C's `strtod` on `s` read as a C string (up to its first NUL byte, as Redis hands
/// arguments to it): the value, how many bytes it read, and whether it set ERANGE.
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let text = s.split(|&b| b == 0).next().unwrap_or_default();
    let Ok(c) = std::ffi::CString::new(text) else {
        return (0.0, 0, false);
    };
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a NUL-terminated string that outlives the call; strtod writes
    // `end` to a place within it, and errno is this thread's.
    unsafe {
        *libc::__errno_location() = 0;
        let value = libc::strtod(c.as_ptr(), &mut end);
        let erange = *libc::__errno_location() == libc::ERANGE;
        (value, end.offset_from(c.as_ptr()) as usize, erange)
    }
}

/// A whole argument as a double, as Redis's `getDoubleFromObject`: no leading space,
/// every byte read, no NaN, no overflow and no underflow to zero.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.first()
        .is_none_or(|&b| b == b' ' || (b'\t'..=b'\r').contains(&b))
    {
        return None;
    }
    let (value, read, erange) = strtod(s);
    let refused =
        read != s.len() || value.is_nan() || (erange && (value.is_infinite() || value == 0.0));
    (!refused).then_some(value)
}

/// `n` in decimal (Redis's `ll2string`), built on the stack: the value INCR stores.
pub fn format_i64(n: i64) -> Bytes {
    let mut digits = Digits::new();
    digits.push_int(n);
    Bytes::copy_from_slice(digits.as_bytes())
}

/// The longest header: a prefix, a sign, 20 digits and CRLF.
pub(crate) const HEADER_MAX: usize = 24;

const DIGIT_PAIRS: &[u8; 200] = b"00010203040506070809\
    10111213141516171819202122232425262728293031323334353637383940414243444546474849\
    50515253545556575859606162636465666768697071727374757677787980818283848586878889\
    90919293949596979899";

/// A stack buffer that a number (and its header bytes) is written into from the
/// right, two digits at a time.
pub(crate) struct Digits {
    buf: [u8; HEADER_MAX],
    start: usize,
}

impl Digits {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; HEADER_MAX],
            start: HEADER_MAX,
        }
    }

    /// Prepends bytes; the callers' prefix, sign, 20 digits and CRLF always fit.
    pub(crate) fn push_front(&mut self, bytes: &[u8]) {
        let start = self.start - bytes.len();
        self.buf[start..self.start].copy_from_slice(bytes);
        self.start = start;
    }

    pub(crate) fn push_uint(&mut self, mut n: u64) {
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            self.push_front(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            self.push_front(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            self.push_front(&[b'0' + n as u8]);
        }
    }

    pub(crate) fn push_int(&mut self, n: i64) {
        self.push_uint(n.unsigned_abs());
        if n < 0 {
            self.push_front(b"-");
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        for (s, v) in [
            (&b"0"[..], Some(0)),
            (b"7", Some(7)),
            (b"-1", Some(-1)),
            (b"10", Some(10)),
            (b"-100", Some(-100)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-9223372036854775809", None),
            (b"18446744073709551616", None),
            (b"", None),
            (b"-", None),
            (b"--1", None),
            (b"-0", None),
            (b"00", None),
            (b"01", None),
            (b"-01", None),
            (b"+1", None),
            (b"+0", None),
            (b" 1", None),
            (b"1 ", None),
            (b"1\0", None),
            (b"1.0", None),
            (b"1e3", None),
            (b"0x10", None),
            (b"\xd9\xa1", None),
            (b"99999999999999999999", None),
            (b"-99999999999999999999", None),
            (b"000000000000000000001", None),
        ] {
            assert_eq!(parse_i64(s), v, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn decimal_forms_read_back() {
        for n in [
            i64::MIN,
            i64::MIN + 1,
            -1_000_000,
            -10,
            -9,
            -1,
            0,
            1,
            9,
            10,
            42,
            99,
            100,
            i64::MAX - 1,
            i64::MAX,
        ] {
            let text = format_i64(n);
            assert_eq!(text, n.to_string().as_bytes(), "{n}");
            assert_eq!(parse_i64(&text), Some(n));
        }
    }
}
