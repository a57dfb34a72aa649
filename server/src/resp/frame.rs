//! [`Frame`], any RESP2 or RESP3 value, with a complete decoder ([`decode_frame`]) and
//! encoder ([`Frame::encode`]) for clients, tools, tests and fuzzing. The decoder is
//! strict (lines end in CRLF, lengths and numbers are well formed), bounds nesting, and
//! reserves memory only for elements that have arrived.

use bytes::{Bytes, BytesMut};

use super::encode::{put_blob, put_double, put_int, put_len, put_line, put_verbatim};
use crate::num::parse_i64;

/// A nesting limit for [`decode_frame`] that no real reply comes near.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// The most elements reserved ahead of their arrival.
const MAX_PREALLOC: usize = 1024;

/// One RESP value. Lines (`Simple`, `Error`, `BigNumber`) hold the text between the
/// type byte and the CRLF.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`.
    Simple(Bytes),
    /// `-ERR ...`, without the `-`.
    Error(Bytes),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`.
    Bulk(Bytes),
    /// RESP2 `$-1` and `*-1`, RESP3 `_`.
    Null,
    /// `*n`.
    Array(Vec<Frame>),
    /// RESP3 `%n`, pairs in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n`.
    Set(Vec<Frame>),
    /// RESP3 `>n`.
    Push(Vec<Frame>),
    /// RESP3 `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(123...`: an optional `-` and decimal digits.
    BigNumber(Bytes),
    /// RESP3 `=n\r\ntxt:...`.
    Verbatim { format: [u8; 3], text: Bytes },
    /// RESP3 `!n\r\n...`.
    BlobError(Bytes),
    /// RESP3 `|n` attributes and the value they describe.
    Attribute {
        attributes: Vec<(Frame, Frame)>,
        value: Box<Frame>,
    },
}

/// Why a buffer does not hold valid RESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown RESP type byte {0:#04x}")]
    UnknownType(u8),
    #[error("a line does not end in CRLF")]
    BadLineEnd,
    #[error("invalid length")]
    InvalidLength,
    #[error("invalid integer")]
    InvalidInteger,
    #[error("invalid double")]
    InvalidDouble,
    #[error("invalid boolean")]
    InvalidBoolean,
    #[error("invalid null")]
    InvalidNull,
    #[error("invalid big number")]
    InvalidBigNumber,
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    #[error("aggregates nested deeper than the limit")]
    TooDeep,
}

/// Decodes the frame at the front of `buf`: `Ok(Some((frame, consumed)))`, or `Ok(None)`
/// if `buf` ends before the frame does. Aggregates may nest `max_depth` levels (0 allows
/// only scalars); deeper ones are refused, so the recursion is bounded.
pub fn decode_frame(buf: &[u8], max_depth: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut cursor = Cursor { buf, pos: 0 };
    match cursor.frame(max_depth) {
        Ok(frame) => Ok(Some((frame, cursor.pos))),
        Err(Halt::Incomplete) => Ok(None),
        Err(Halt::Invalid(e)) => Err(e),
    }
}

impl Frame {
    /// Appends the frame's wire form to `out`. `Null` is written as RESP3 `_`; CR and LF
    /// inside line variants become spaces, as [`ReplyWriter`](super::ReplyWriter) does.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(text) => put_line(out, b'+', text),
            Frame::Error(text) => put_line(out, b'-', text),
            Frame::Integer(n) => put_int(out, b':', *n),
            Frame::Bulk(data) => put_blob(out, b'$', data),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Array(items) => encode_items(out, b'*', items),
            Frame::Map(pairs) => encode_pairs(out, b'%', pairs),
            Frame::Set(items) => encode_items(out, b'~', items),
            Frame::Push(items) => encode_items(out, b'>', items),
            Frame::Double(d) => put_double(out, *d),
            Frame::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(digits) => put_line(out, b'(', digits),
            Frame::Verbatim { format, text } => put_verbatim(out, format, text),
            Frame::BlobError(text) => put_blob(out, b'!', text),
            Frame::Attribute { attributes, value } => {
                encode_pairs(out, b'|', attributes);
                value.encode(out);
            }
        }
    }
}

fn encode_items(out: &mut BytesMut, prefix: u8, items: &[Frame]) {
    put_len(out, prefix, items.len());
    for item in items {
        item.encode(out);
    }
}

fn encode_pairs(out: &mut BytesMut, prefix: u8, pairs: &[(Frame, Frame)]) {
    put_len(out, prefix, pairs.len());
    for (key, value) in pairs {
        key.encode(out);
        value.encode(out);
    }
}

/// Why decoding stopped early.
enum Halt {
    Incomplete,
    Invalid(FrameError),
}

impl From<FrameError> for Halt {
    fn from(e: FrameError) -> Self {
        Halt::Invalid(e)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn frame(&mut self, depth: usize) -> Result<Frame, Halt> {
        let &kind = self.buf.get(self.pos).ok_or(Halt::Incomplete)?;
        self.pos += 1;
        Ok(match kind {
            b'+' => Frame::Simple(Bytes::copy_from_slice(self.line()?)),
            b'-' => Frame::Error(Bytes::copy_from_slice(self.line()?)),
            b':' => Frame::Integer(parse_i64(self.line()?).ok_or(FrameError::InvalidInteger)?),
            b'$' => match self.length()? {
                Some(len) => Frame::Bulk(Bytes::copy_from_slice(self.blob(len)?)),
                None => Frame::Null,
            },
            b'*' => match self.length()? {
                Some(n) => Frame::Array(self.items(n, depth)?),
                None => Frame::Null,
            },
            b'_' if self.line()?.is_empty() => Frame::Null,
            b'_' => return Err(FrameError::InvalidNull.into()),
            b'%' => Frame::Map(self.pairs(depth)?),
            b'~' => Frame::Set(self.counted_items(depth)?),
            b'>' => Frame::Push(self.counted_items(depth)?),
            b',' => Frame::Double(
                std::str::from_utf8(self.line()?)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(FrameError::InvalidDouble)?,
            ),
            b'#' => Frame::Boolean(match self.line()? {
                b"t" => true,
                b"f" => false,
                _ => return Err(FrameError::InvalidBoolean.into()),
            }),
            b'(' => {
                let line = self.line()?;
                let digits = line.strip_prefix(b"-").unwrap_or(line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(FrameError::InvalidBigNumber.into());
                }
                Frame::BigNumber(Bytes::copy_from_slice(line))
            }
            b'=' => {
                let len = self.required_length()?;
                let blob = self.blob(len)?;
                match blob.split_first_chunk::<3>() {
                    Some((format, [b':', text @ ..])) => Frame::Verbatim {
                        format: *format,
                        text: Bytes::copy_from_slice(text),
                    },
                    _ => return Err(FrameError::InvalidVerbatim.into()),
                }
            }
            b'!' => {
                let len = self.required_length()?;
                Frame::BlobError(Bytes::copy_from_slice(self.blob(len)?))
            }
            b'|' => {
                let attributes = self.pairs(depth)?;
                let value = self.frame(nested(depth)?)?;
                Frame::Attribute {
                    attributes,
                    value: Box::new(value),
                }
            }
            other => return Err(FrameError::UnknownType(other).into()),
        })
    }

    /// The rest of the current line, which must end in CRLF and hold no other CR or LF.
    fn line(&mut self) -> Result<&'a [u8], Halt> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .ok_or(Halt::Incomplete)?;
        match rest.get(end..end + 2) {
            Some(b"\r\n") => {
                self.pos += end + 2;
                Ok(&rest[..end])
            }
            None if rest[end] == b'\r' => Err(Halt::Incomplete),
            _ => Err(FrameError::BadLineEnd.into()),
        }
    }

    /// A length line: `None` for `-1` (a RESP2 null).
    fn length(&mut self) -> Result<Option<usize>, Halt> {
        match parse_i64(self.line()?) {
            Some(-1) => Ok(None),
            Some(n) => Ok(Some(
                usize::try_from(n).map_err(|_| FrameError::InvalidLength)?,
            )),
            None => Err(FrameError::InvalidLength.into()),
        }
    }

    /// A length line of a type that has no null form.
    fn required_length(&mut self) -> Result<usize, Halt> {
        self.length()?.ok_or(FrameError::InvalidLength.into())
    }

    /// `len` bytes followed by CRLF.
    fn blob(&mut self, len: usize) -> Result<&'a [u8], Halt> {
        let end = self.pos.checked_add(len).ok_or(FrameError::InvalidLength)?;
        match self.buf.get(end..end.saturating_add(2)) {
            Some(b"\r\n") => {
                let blob = &self.buf[self.pos..end];
                self.pos = end + 2;
                Ok(blob)
            }
            Some(crlf) if crlf.len() == 2 => Err(FrameError::BadLineEnd.into()),
            _ => Err(Halt::Incomplete),
        }
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Vec<Frame>, Halt> {
        self.collect(n, depth, |cursor, depth| cursor.frame(depth))
    }

    /// A count line and that many elements.
    fn counted_items(&mut self, depth: usize) -> Result<Vec<Frame>, Halt> {
        let n = self.required_length()?;
        self.items(n, depth)
    }

    /// A pair count line and that many key/value pairs.
    fn pairs(&mut self, depth: usize) -> Result<Vec<(Frame, Frame)>, Halt> {
        let n = self.required_length()?;
        self.collect(n, depth, |cursor, depth| {
            Ok((cursor.frame(depth)?, cursor.frame(depth)?))
        })
    }

    /// `n` elements one level below `depth`, read by `one`.
    fn collect<T>(
        &mut self,
        n: usize,
        depth: usize,
        mut one: impl FnMut(&mut Self, usize) -> Result<T, Halt>,
    ) -> Result<Vec<T>, Halt> {
        let depth = nested(depth)?;
        let mut items = Vec::with_capacity(n.min(MAX_PREALLOC));
        for _ in 0..n {
            items.push(one(self, depth)?);
        }
        Ok(items)
    }
}

/// The depth left inside an aggregate found with `depth` levels left.
fn nested(depth: usize) -> Result<usize, FrameError> {
    depth.checked_sub(1).ok_or(FrameError::TooDeep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(input: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        decode_frame(input, DEFAULT_MAX_DEPTH)
    }

    fn frame(input: &[u8]) -> Frame {
        let (frame, used) = decode(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        frame
    }

    fn encoded(frame: &Frame) -> Vec<u8> {
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        out.to_vec()
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn resp2_values() {
        assert_eq!(frame(b"+OK\r\n"), Frame::Simple(Bytes::from_static(b"OK")));
        assert_eq!(
            frame(b"-ERR x\r\n"),
            Frame::Error(Bytes::from_static(b"ERR x"))
        );
        assert_eq!(frame(b":-12\r\n"), Frame::Integer(-12));
        assert_eq!(frame(b"$3\r\na\r\n\r\n"), bulk("a\r\n"));
        assert_eq!(frame(b"$-1\r\n"), Frame::Null);
        assert_eq!(frame(b"*-1\r\n"), Frame::Null);
        assert_eq!(
            frame(b"*2\r\n$1\r\na\r\n*0\r\n"),
            Frame::Array(vec![bulk("a"), Frame::Array(vec![])])
        );
    }

    #[test]
    fn resp3_values() {
        assert_eq!(frame(b"_\r\n"), Frame::Null);
        assert_eq!(frame(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(frame(b",-inf\r\n"), Frame::Double(f64::NEG_INFINITY));
        assert!(matches!(frame(b",nan\r\n"), Frame::Double(d) if d.is_nan()));
        assert_eq!(frame(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(
            frame(b"(-123\r\n"),
            Frame::BigNumber(Bytes::from_static(b"-123"))
        );
        assert_eq!(
            frame(b"=7\r\ntxt:a:b\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"a:b")
            }
        );
        assert_eq!(
            frame(b"!3\r\nERR\r\n"),
            Frame::BlobError(Bytes::from_static(b"ERR"))
        );
        assert_eq!(
            frame(b"%1\r\n+k\r\n~1\r\n:1\r\n"),
            Frame::Map(vec![(
                Frame::Simple(Bytes::from_static(b"k")),
                Frame::Set(vec![Frame::Integer(1)])
            )])
        );
        assert_eq!(
            frame(b">1\r\n#f\r\n"),
            Frame::Push(vec![Frame::Boolean(false)])
        );
        assert_eq!(
            frame(b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"),
            Frame::Attribute {
                attributes: vec![(Frame::Simple(Bytes::from_static(b"ttl")), Frame::Integer(3))],
                value: Box::new(bulk("v")),
            }
        );
    }

    #[test]
    fn malformed_input() {
        for (input, error) in [
            (&b"?\r\n"[..], FrameError::UnknownType(b'?')),
            (b"+a\nb\r\n", FrameError::BadLineEnd),
            (b"+a\rb\r\n", FrameError::BadLineEnd),
            (b":1x\r\n", FrameError::InvalidInteger),
            (b":+1\r\n", FrameError::InvalidInteger),
            (b"$-2\r\n", FrameError::InvalidLength),
            (b"$x\r\n", FrameError::InvalidLength),
            (b"$1\r\nabc\r\n", FrameError::BadLineEnd),
            (b"%-1\r\n", FrameError::InvalidLength),
            (b"!-1\r\n", FrameError::InvalidLength),
            (b",x\r\n", FrameError::InvalidDouble),
            (b"#x\r\n", FrameError::InvalidBoolean),
            (b"_x\r\n", FrameError::InvalidNull),
            (b"(12a\r\n", FrameError::InvalidBigNumber),
            (b"(\r\n", FrameError::InvalidBigNumber),
            (b"=3\r\ntxt\r\n", FrameError::InvalidVerbatim),
            (b"=4\r\ntxt-\r\n", FrameError::InvalidVerbatim),
        ] {
            assert_eq!(
                decode(input),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn incomplete_input() {
        for input in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"*2\r\n:1\r\n",
        ] {
            assert_eq!(
                decode(input),
                Ok(None),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // A huge count reserves nothing before its elements arrive.
        assert_eq!(decode(b"*9223372036854775807\r\n:1\r\n"), Ok(None));
        assert_eq!(decode(b"$9223372036854775807\r\n"), Ok(None));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = b"*1\r\n".repeat(1_000_000);
        assert_eq!(decode(&deep), Err(FrameError::TooDeep));
        let attributes = b"|0\r\n".repeat(1_000_000);
        assert_eq!(decode(&attributes), Err(FrameError::TooDeep));
        assert_eq!(decode_frame(b"*0\r\n", 0), Err(FrameError::TooDeep));
        assert_eq!(decode_frame(b"*1\r\n*0\r\n", 2).unwrap().unwrap().1, 8);
        assert_eq!(
            decode_frame(b":1\r\n", 0).unwrap().unwrap().0,
            Frame::Integer(1)
        );
    }

    #[test]
    fn encoding() {
        let nested = Frame::Array(vec![bulk("ab"), Frame::Null, Frame::Double(-0.0)]);
        assert_eq!(encoded(&nested), b"*3\r\n$2\r\nab\r\n_\r\n,-0\r\n");
        let err = Frame::Error(Bytes::from_static(b"ERR a\r\nb"));
        assert_eq!(encoded(&err), b"-ERR a  b\r\n");
        let double = Frame::Double(0.1);
        assert_eq!(encoded(&double), b",0.10000000000000001\r\n");
    }

    fn line() -> impl Strategy<Value = Bytes> {
        prop::collection::vec(
            any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
            0..20,
        )
        .prop_map(Bytes::from)
    }

    fn blob() -> impl Strategy<Value = Bytes> {
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        let leaf = prop_oneof![
            line().prop_map(Frame::Simple),
            line().prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            blob().prop_map(Frame::Bulk),
            Just(Frame::Null),
            any::<f64>()
                .prop_filter("NaN != NaN", |d| !d.is_nan())
                .prop_map(Frame::Double),
            any::<bool>().prop_map(Frame::Boolean),
            "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
            (any::<[u8; 3]>(), blob()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
            blob().prop_map(Frame::BlobError),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            let items = prop::collection::vec(inner.clone(), 0..6);
            let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
            prop_oneof![
                items.clone().prop_map(Frame::Array),
                items.clone().prop_map(Frame::Set),
                items.prop_map(Frame::Push),
                pairs.clone().prop_map(Frame::Map),
                (pairs, inner).prop_map(|(attributes, value)| Frame::Attribute {
                    attributes,
                    value: Box::new(value),
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn frames_round_trip(frame in arb_frame(), tail in blob()) {
            let mut bytes = encoded(&frame);
            let len = bytes.len();
            for cut in 0..len {
                prop_assert_eq!(decode(&bytes[..cut]), Ok(None));
            }
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(decode(&bytes), Ok(Some((frame, len))));
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Some((frame, used))) = decode(&input) {
                prop_assert!(used <= input.len());
                let again = encoded(&frame);
                let (decoded, len) = decode(&again).unwrap().unwrap();
                prop_assert_eq!(len, again.len());
                prop_assert_eq!(encoded(&decoded), again);
                // A frame holding NaN is not equal even to itself.
                #[allow(clippy::eq_op)]
                let comparable = frame == frame;
                if comparable {
                    prop_assert_eq!(decoded, frame);
                }
            }
        }
    }
}
