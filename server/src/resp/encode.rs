//! The reply writer: command handlers append RESP2 or RESP3 replies straight into the
//! connection's output buffer, in the connection's protocol (HELLO picks it). The
//! byte-level writers below it are shared with [`Frame::encode`](super::Frame::encode).
//! Numbers are formatted into stack buffers, never through `format!`.

use std::fmt::Write as _;

use bytes::BytesMut;

/// The protocol a connection speaks: RESP2 until `HELLO 3`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Appends replies to `out` in the shape `proto` asks for.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    pub out: BytesMut,
    pub proto: Protocol,
}

impl ReplyWriter {
    /// An empty writer for a connection speaking `proto`.
    pub fn new(proto: Protocol) -> Self {
        Self {
            out: BytesMut::new(),
            proto,
        }
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply, `+text`; any CR or LF in `text` becomes a space.
    pub fn simple(&mut self, text: &str) {
        put_line(&mut self.out, b'+', text.as_bytes());
    }

    /// An error reply; `msg` is the text after the `-`, code included, e.g.
    /// `"ERR syntax error"`. As Redis's `addReplyErrorFormat` does, CR and LF are
    /// trimmed from both ends and replaced by spaces inside.
    pub fn error(&mut self, msg: impl AsRef<[u8]>) {
        let msg = msg.as_ref();
        let start = msg
            .iter()
            .position(|b| !is_newline(*b))
            .unwrap_or(msg.len());
        let end = msg
            .iter()
            .rposition(|b| !is_newline(*b))
            .map_or(start, |i| i + 1);
        put_line(&mut self.out, b'-', &msg[start..end]);
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        put_int(&mut self.out, b':', n);
    }

    /// A bulk string, `$len` then the bytes.
    pub fn bulk(&mut self, data: &[u8]) {
        put_blob(&mut self.out, b'$', data);
    }

    /// `n` in decimal as a bulk string (Redis's `addReplyBulkLongLong`).
    pub fn bulk_integer(&mut self, n: i64) {
        let mut digits = Digits::new();
        digits.push_int(n);
        put_blob(&mut self.out, b'$', digits.as_bytes());
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.out.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.out.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The header of an array of `n` replies, which the caller writes next.
    pub fn array_len(&mut self, n: usize) {
        put_len(&mut self.out, b'*', n);
    }

    /// The header of a map of `n` key/value pairs (`2n` replies follow); RESP2 has no
    /// maps, so it gets a flat array of `2n` elements.
    pub fn map_len(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => put_len(&mut self.out, b'*', 2 * n),
            Protocol::Resp3 => put_len(&mut self.out, b'%', n),
        }
    }

    /// The header of a set of `n` replies: `~` in RESP3, an array in RESP2.
    pub fn set_len(&mut self, n: usize) {
        self.aggregate_len(b'~', n);
    }

    /// The header of an out-of-band push of `n` replies: `>` in RESP3, an array in RESP2.
    pub fn push_len(&mut self, n: usize) {
        self.aggregate_len(b'>', n);
    }

    /// The header of a RESP3 attribute of `n` key/value pairs, which the caller writes
    /// next, before the reply they describe (RESP3 only: RESP2 has no attributes).
    pub fn attribute_len(&mut self, n: usize) {
        debug_assert_eq!(self.proto, Protocol::Resp3);
        put_len(&mut self.out, b'|', n);
    }

    /// A double, formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`): a bulk string in
    /// RESP2, `,` in RESP3.
    pub fn double(&mut self, d: f64) {
        let mut text = DoubleText::new();
        let text = text.format(d);
        match self.proto {
            Protocol::Resp2 => put_blob(&mut self.out, b'$', text),
            Protocol::Resp3 => put_line(&mut self.out, b',', text),
        }
    }

    /// A boolean: `:1`/`:0` in RESP2, `#t`/`#f` in RESP3.
    pub fn boolean(&mut self, b: bool) {
        self.out.extend_from_slice(match (self.proto, b) {
            (Protocol::Resp2, true) => b":1\r\n",
            (Protocol::Resp2, false) => b":0\r\n",
            (Protocol::Resp3, true) => b"#t\r\n",
            (Protocol::Resp3, false) => b"#f\r\n",
        });
    }

    /// A big number (decimal digits, maybe a leading `-`): `(` in RESP3, a bulk string
    /// in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => put_line(&mut self.out, b'(', digits),
        }
    }

    /// A verbatim string such as `txt` or `mkd` text: `=` in RESP3, a plain bulk
    /// string in RESP2.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => put_blob(&mut self.out, b'$', text),
            Protocol::Resp3 => put_verbatim(&mut self.out, format, text),
        }
    }

    fn aggregate_len(&mut self, resp3_prefix: u8, n: usize) {
        let prefix = match self.proto {
            Protocol::Resp2 => b'*',
            Protocol::Resp3 => resp3_prefix,
        };
        put_len(&mut self.out, prefix, n);
    }
}

fn is_newline(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// Writes `prefix`, `text` with every CR and LF turned into a space, and CRLF.
pub(super) fn put_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.extend_from_slice(&[prefix]);
    let start = out.len();
    out.extend_from_slice(text);
    for b in &mut out[start..] {
        if is_newline(*b) {
            *b = b' ';
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes `prefix`, the decimal `n` and CRLF with a single copy.
pub(super) fn put_int(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut text = Digits::new();
    text.push_front(b"\r\n");
    text.push_int(n);
    text.push_front(&[prefix]);
    out.extend_from_slice(text.as_bytes());
}

/// Writes `prefix`, the length `n` and CRLF (aggregate and blob headers).
pub(super) fn put_len(out: &mut BytesMut, prefix: u8, n: usize) {
    let mut text = Digits::new();
    text.push_front(b"\r\n");
    text.push_uint(n as u64);
    text.push_front(&[prefix]);
    out.extend_from_slice(text.as_bytes());
}

/// Writes a length-prefixed blob: `prefix`, the length, CRLF, `data`, CRLF.
pub(super) fn put_blob(out: &mut BytesMut, prefix: u8, data: &[u8]) {
    out.reserve(data.len() + HEADER_MAX + 2);
    put_len(out, prefix, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Writes a RESP3 verbatim string: `=`, the length, CRLF, `format:text`, CRLF.
pub(super) fn put_verbatim(out: &mut BytesMut, format: &[u8; 3], text: &[u8]) {
    out.reserve(text.len() + HEADER_MAX + 6);
    put_len(out, b'=', text.len() + 4);
    out.extend_from_slice(format);
    out.extend_from_slice(b":");
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Writes a RESP3 double: `,`, the number as Redis 7.0 formats it, CRLF.
pub(super) fn put_double(out: &mut BytesMut, d: f64) {
    put_line(out, b',', DoubleText::new().format(d));
}

use crate::num::{Digits, HEADER_MAX};

/// A double as [`ReplyWriter::double`] writes it, as text (ZSCAN's scores, which are
/// bulk strings in either protocol).
pub fn double_text(d: f64) -> Vec<u8> {
    DoubleText::new().format(d).to_vec()
}

/// A stack buffer for a double formatted the way Redis 7.0 does: C's `%.17g` (17
/// significant digits, fixed notation for exponents -4 to 16, trailing zeros
/// dropped), with infinities spelled `inf`/`-inf` and NaN as glibc prints it.
struct DoubleText {
    buf: [u8; 32],
    len: usize,
}

impl std::fmt::Write for DoubleText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl DoubleText {
    /// `%.17g` gives 17 significant digits.
    const PRECISION: usize = 17;

    fn new() -> Self {
        Self {
            buf: [0; 32],
            len: 0,
        }
    }

    fn format(&mut self, d: f64) -> &[u8] {
        if d.is_nan() {
            return if d.is_sign_negative() {
                b"-nan"
            } else {
                b"nan"
            };
        }
        if d.is_infinite() {
            return if d > 0.0 { b"inf" } else { b"-inf" };
        }
        if d.fract() == 0.0 && d.abs() < 1e17 {
            // Whole numbers, the usual scores, have at most 17 digits here and print
            // exactly: skip the float formatter.
            let mut digits = Digits::new();
            digits.push_uint(d.abs() as u64);
            if d.is_sign_negative() {
                digits.push_front(b"-");
            }
            self.len = 0;
            self.push(digits.as_bytes());
            return &self.buf[..self.len];
        }
        // Rust rounds exactly, ties to even, as glibc does: `-d.dddddddddddddddde-ddd`
        // (at most 24 bytes, so the write cannot fail).
        let mut sci = Self::new();
        let _ = write!(sci, "{:.16e}", d.abs());
        let sci = &sci.buf[..sci.len];
        let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
        let exp: i32 = std::str::from_utf8(sci.get(e_at + 1..).unwrap_or_default())
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        let mut digits = [b'0'; Self::PRECISION];
        let mantissa = sci[..e_at].iter().filter(|b| b.is_ascii_digit());
        for (slot, &digit) in digits.iter_mut().zip(mantissa) {
            *slot = digit;
        }
        let n = digits.iter().rposition(|&b| b != b'0').map_or(1, |i| i + 1);
        let digits = &digits[..n];

        self.len = 0;
        if d.is_sign_negative() {
            self.push(b"-");
        }
        if exp < -4 || exp >= Self::PRECISION as i32 {
            self.push(&digits[..1]);
            if n > 1 {
                self.push(b".");
                self.push(&digits[1..]);
            }
            self.push(if exp < 0 { b"e-" } else { b"e+" });
            if exp.abs() < 10 {
                self.push(b"0");
            }
            let mut exp_digits = Digits::new();
            exp_digits.push_uint(u64::from(exp.unsigned_abs()));
            self.push(exp_digits.as_bytes());
        } else if exp < 0 {
            self.push(b"0.");
            for _ in exp..-1 {
                self.push(b"0");
            }
            self.push(digits);
        } else {
            let int_len = exp as usize + 1;
            if n <= int_len {
                self.push(digits);
                for _ in n..int_len {
                    self.push(b"0");
                }
            } else {
                self.push(&digits[..int_len]);
                self.push(b".");
                self.push(&digits[int_len..]);
            }
        }
        &self.buf[..self.len]
    }

    /// Appends bytes this formatter sized the buffer for (at most 24 in all).
    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(proto: Protocol, f: impl FnOnce(&mut ReplyWriter)) -> Vec<u8> {
        let mut w = ReplyWriter::new(proto);
        f(&mut w);
        w.out.to_vec()
    }

    fn both(f: impl Fn(&mut ReplyWriter)) -> (Vec<u8>, Vec<u8>) {
        (written(Protocol::Resp2, &f), written(Protocol::Resp3, &f))
    }

    fn glibc_g17(d: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is 64 bytes, the format takes exactly one double and
        // `%.17g` of any double needs at most 25 bytes.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), d) };
        String::from_utf8(buf[..n as usize].to_vec()).unwrap()
    }

    fn ours(d: f64) -> String {
        String::from_utf8(DoubleText::new().format(d).to_vec()).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(both(|w| w.ok()), (b"+OK\r\n".to_vec(), b"+OK\r\n".to_vec()));
        assert_eq!(written(Protocol::Resp2, |w| w.simple("PONG")), b"+PONG\r\n");
        for (n, text) in [
            (0, ":0\r\n"),
            (7, ":7\r\n"),
            (42, ":42\r\n"),
            (-1, ":-1\r\n"),
            (100, ":100\r\n"),
            (i64::MAX, ":9223372036854775807\r\n"),
            (i64::MIN, ":-9223372036854775808\r\n"),
        ] {
            assert_eq!(written(Protocol::Resp3, |w| w.integer(n)), text.as_bytes());
        }
        assert_eq!(written(Protocol::Resp2, |w| w.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(
            written(Protocol::Resp2, |w| w.bulk(b"a\r\nb")),
            b"$4\r\na\r\nb\r\n"
        );
        assert_eq!(
            written(Protocol::Resp2, |w| w.bulk_integer(-12)),
            b"$3\r\n-12\r\n"
        );
        assert_eq!(both(|w| w.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(|w| w.null_array()),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.boolean(true)),
            (b":1\r\n".to_vec(), b"#t\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.boolean(false)),
            (b":0\r\n".to_vec(), b"#f\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.verbatim(b"txt", b"hi")),
            (b"$2\r\nhi\r\n".to_vec(), b"=6\r\ntxt:hi\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.double(1.5)),
            (b"$3\r\n1.5\r\n".to_vec(), b",1.5\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.double(f64::NEG_INFINITY)),
            (b"$4\r\n-inf\r\n".to_vec(), b",-inf\r\n".to_vec())
        );
    }

    #[test]
    fn aggregate_headers() {
        assert_eq!(
            both(|w| w.array_len(3)),
            (b"*3\r\n".to_vec(), b"*3\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.map_len(2)),
            (b"*4\r\n".to_vec(), b"%2\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.set_len(5)),
            (b"*5\r\n".to_vec(), b"~5\r\n".to_vec())
        );
        assert_eq!(
            both(|w| w.push_len(1)),
            (b"*1\r\n".to_vec(), b">1\r\n".to_vec())
        );
    }

    #[test]
    fn errors_lose_their_newlines() {
        let w = |msg: &str| written(Protocol::Resp2, |w| w.error(msg));
        assert_eq!(w("ERR syntax error"), b"-ERR syntax error\r\n");
        assert_eq!(w("ERR a\r\nb\nc\r"), b"-ERR a  b c\r\n");
        assert_eq!(w("\r\nERR x\n\n"), b"-ERR x\r\n");
        assert_eq!(w("\r\n"), b"-\r\n");
        assert_eq!(written(Protocol::Resp3, |w| w.simple("a\nb")), b"+a b\r\n");
    }

    #[test]
    fn doubles_match_glibc_on_edge_cases() {
        let cases = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e16,
            1e17,
            99_999_999_999_999_984.0,
            -123.0,
            123456789012345678.0,
            1e-4,
            1.5e-5,
            1e-5,
            1e100,
            1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            3.0 / 7.0,
            1.0 + 1.0 / 131_072.0, // 1.00000762939453125: a tie at the 17th digit
            1_234_567_890_123_456.5,
        ];
        for d in cases {
            assert_eq!(ours(d), glibc_g17(d), "{d:e}");
        }
        assert_eq!(ours(f64::INFINITY), "inf");
        assert_eq!(ours(f64::NAN), glibc_g17(f64::NAN));
        assert_eq!(ours(-f64::NAN), glibc_g17(-f64::NAN));
    }

    proptest! {
        #[test]
        fn doubles_match_glibc(bits in any::<u64>()) {
            let d = f64::from_bits(bits);
            prop_assert_eq!(ours(d), glibc_g17(d));
        }

        #[test]
        fn whole_doubles_match_glibc(n in any::<i64>(), shift in 0..64u32) {
            let d = (n >> shift) as f64;
            prop_assert_eq!(ours(d), glibc_g17(d));
        }

        #[test]
        fn integers_match_std(n in any::<i64>()) {
            prop_assert_eq!(
                written(Protocol::Resp2, |w| w.integer(n)),
                format!(":{n}\r\n").into_bytes()
            );
        }
    }
}
