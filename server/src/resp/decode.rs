//! The request parser: cuts one command at a time off the front of a connection's input
//! buffer, exactly as Redis 7.0's `processMultibulkBuffer` and `processInlineBuffer`
//! do, with the same limits, quirks and error texts. Arguments are zero-copy slices of
//! the buffer. The parser keeps no state between calls: when a command is incomplete it
//! re-reads only the headers (never the payload bytes) on the next call.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

// Also the integer rule of RESP replies (`frame`).
use crate::num::parse_i64;
use tier_engine::splitargs::split_args;

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request or header line.
const INLINE_MAX: usize = 64 * 1024;
/// Until a client authenticates, Redis refuses multibulk counts above this...
const UNAUTHENTICATED_MAX_MULTIBULK: usize = 10;
/// ...and bulk lengths above this.
const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// The request size limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk argument (`proto-max-bulk-len`, 512 MiB by default).
    pub max_bulk_len: usize,
    /// The most bytes an inline request or a `*`/`$` header may span before its line
    /// ends (Redis's `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub max_inline_len: usize,
    /// The most arguments in a multibulk request (Redis 7.0 allows `INT_MAX`).
    pub max_multibulk_len: usize,
    /// The client has not authenticated and the server wants a password (Redis's
    /// `authRequired`): multibulk counts above 10 and bulk lengths above 16384 are
    /// then refused.
    pub auth_required: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_inline_len: INLINE_MAX,
            max_multibulk_len: i32::MAX as usize,
            auth_required: false,
        }
    }
}

/// A malformed request. Redis replies with [`message`](Self::message) and closes the
/// connection once the reply is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigMbulkCountString,
    /// A multibulk element did not start with `$`; holds the byte found instead.
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
    TooBigBulkCountString,
    TooBigInlineRequest,
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply's text after the `-`, byte for byte as Redis 7.0 sends it (the
    /// byte in "expected '$', got 'x'" is raw, so this is not always UTF-8).
    pub fn message(&self) -> Cow<'static, [u8]> {
        let text: &'static str = match self {
            Self::InvalidMultibulkLength => "ERR Protocol error: invalid multibulk length",
            Self::UnauthenticatedMultibulkLength => {
                "ERR Protocol error: unauthenticated multibulk length"
            }
            Self::TooBigMbulkCountString => "ERR Protocol error: too big mbulk count string",
            Self::InvalidBulkLength => "ERR Protocol error: invalid bulk length",
            Self::UnauthenticatedBulkLength => "ERR Protocol error: unauthenticated bulk length",
            Self::TooBigBulkCountString => "ERR Protocol error: too big bulk count string",
            Self::TooBigInlineRequest => "ERR Protocol error: too big inline request",
            Self::UnbalancedQuotes => "ERR Protocol error: unbalanced quotes in request",
            Self::ExpectedDollar(got) => {
                // Redis formats this one with addReplyErrorFormat, which turns CR and
                // LF into spaces.
                let got = if matches!(got, b'\r' | b'\n') {
                    b' '
                } else {
                    *got
                };
                let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
                text.extend_from_slice(&[got, b'\'']);
                return Cow::Owned(text);
            }
        };
        Cow::Borrowed(text.as_bytes())
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message()))
    }
}

impl std::error::Error for ProtocolError {}

/// Parses at most one command from the front of `buf`.
///
/// On success removes the command's bytes from `buf`, fills `args` (cleared first)
/// with slices of them and returns `Ok(true)`; `Ok(false)` means more bytes are
/// needed, and `buf` keeps every byte of the incomplete command. Blank inline lines
/// and `*0`/`*-1` multibulks are consumed and skipped. After an error the connection
/// should reply with [`ProtocolError::message`] and close.
///
/// The slices share `buf`'s allocation: a value kept beyond the command should be
/// copied, or it pins the whole read buffer.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: &Limits,
    args: &mut Vec<Bytes>,
) -> Result<bool, ProtocolError> {
    args.clear();
    while let Some(&first) = buf.first() {
        if first == b'*' {
            let Some(len) = walk_multibulk(buf, limits, |_| {})? else {
                return Ok(false);
            };
            // All of it is here: walk it again to slice the arguments out.
            let request = buf.split_to(len).freeze();
            walk_multibulk(&request, limits, |arg| args.push(request.slice(arg)))?;
        } else {
            let Some(len) = find_line_end(buf, b'\n') else {
                return if buf.len() > limits.max_inline_len {
                    Err(ProtocolError::TooBigInlineRequest)
                } else {
                    Ok(false)
                };
            };
            let line = buf[..len].strip_suffix(b"\r").unwrap_or(&buf[..len]);
            let words = split_args(line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
            buf.advance(len + 1);
            args.extend(words.into_iter().map(Bytes::from));
        }
        if !args.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Walks the multibulk request at the front of `buf` (which starts with `*`), calling
/// `on_arg` with the range of each argument. Returns the request's length, or `None`
/// if it has not all arrived. Only header lines are scanned; payloads are skipped.
fn walk_multibulk(
    buf: &[u8],
    limits: &Limits,
    mut on_arg: impl FnMut(Range<usize>),
) -> Result<Option<usize>, ProtocolError> {
    let Some(cr) = header_line(buf, limits, ProtocolError::TooBigMbulkCountString)? else {
        return Ok(None);
    };
    let count = parse_i64(&buf[1..cr])
        .filter(|&n| usize::try_from(n).map_or(true, |n| n <= limits.max_multibulk_len))
        .ok_or(ProtocolError::InvalidMultibulkLength)?;
    // A count of zero or less is an empty request, which the caller skips.
    let count = usize::try_from(count).unwrap_or(0);
    if count > UNAUTHENTICATED_MAX_MULTIBULK && limits.auth_required {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    // Like Redis, the byte after each CR and the two after each payload are skipped
    // unread.
    let mut pos = cr + 2;
    for _ in 0..count {
        let Some((header, len)) = bulk_header(&buf[pos..], limits)? else {
            return Ok(None);
        };
        let start = pos + header;
        if buf.len() - start < len.saturating_add(2) {
            return Ok(None);
        }
        on_arg(start..start + len);
        pos = start + len + 2;
    }
    Ok(Some(pos))
}

/// Reads the `$len` header of a bulk argument at the front of `buf`: the header's
/// length (CRLF included) and the payload's, or `None` until the header has arrived.
fn bulk_header(buf: &[u8], limits: &Limits) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(cr) = header_line(buf, limits, ProtocolError::TooBigBulkCountString)? else {
        return Ok(None);
    };
    if buf[0] != b'$' {
        return Err(ProtocolError::ExpectedDollar(buf[0]));
    }
    let len = parse_i64(&buf[1..cr])
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= limits.max_bulk_len)
        .ok_or(ProtocolError::InvalidBulkLength)?;
    if len > UNAUTHENTICATED_MAX_BULK && limits.auth_required {
        return Err(ProtocolError::UnauthenticatedBulkLength);
    }
    Ok(Some((cr + 2, len)))
}

/// Finds the CR ending the header line at the front of `buf`: `Ok(None)` until the
/// line and one byte after its CR have arrived, `too_big` once more than
/// `max_inline_len` bytes are waiting without one.
fn header_line(
    buf: &[u8],
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    match find_line_end(buf, b'\r') {
        Some(cr) if cr + 2 <= buf.len() => Ok(Some(cr)),
        Some(_) => Ok(None),
        None if buf.len() > limits.max_inline_len => Err(too_big),
        None => Ok(None),
    }
}

/// Where `end` first occurs in `buf`, unless a NUL byte comes first: Redis looks for
/// line ends with `strchr`, which stops at NUL, so a line holding one never ends.
fn find_line_end(buf: &[u8], end: u8) -> Option<usize> {
    buf.iter()
        .position(|&b| b == end || b == 0)
        .filter(|&i| buf[i] == end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(
        input: &[u8],
        limits: &Limits,
    ) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>, usize) {
        let mut buf = BytesMut::from(input);
        let mut args = Vec::new();
        let mut commands = Vec::new();
        loop {
            match parse_command(&mut buf, limits, &mut args) {
                Ok(true) => commands.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(false) => return (commands, Ok(()), buf.len()),
                Err(e) => return (commands, Err(e), buf.len()),
            }
        }
    }

    fn commands(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let (commands, result, left) = parse_all(input, &Limits::default());
        assert_eq!(result, Ok(()));
        assert_eq!(left, 0, "unparsed bytes");
        commands
    }

    fn error(input: &[u8]) -> ProtocolError {
        error_with(input, &Limits::default())
    }

    fn error_with(input: &[u8], limits: &Limits) -> ProtocolError {
        parse_all(input, limits).1.unwrap_err()
    }

    fn incomplete(input: &[u8]) -> bool {
        let (commands, result, left) = parse_all(input, &Limits::default());
        commands.is_empty() && result.is_ok() && left == input.len()
    }

    fn cmd(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn multibulk_pipeline() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(commands(input), [cmd(&["SET", "k", ""]), cmd(&["PING"])]);
    }

    #[test]
    fn every_split_point_waits_then_parses() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\n";
        for cut in 0..input.len() {
            let mut buf = BytesMut::from(&input[..cut]);
            let mut args = vec![Bytes::from_static(b"stale")];
            let limits = Limits::default();
            let complete = parse_command(&mut buf, &limits, &mut args).unwrap();
            // The first command is the first 25 bytes.
            assert_eq!(complete, cut >= 25, "cut {cut}");
            if !complete {
                assert_eq!(buf.len(), cut);
                assert!(args.is_empty());
            }
            buf.extend_from_slice(&input[cut..]);
            if !complete {
                assert!(parse_command(&mut buf, &limits, &mut args).unwrap());
            }
            assert_eq!(args, [&b"ECHO"[..], b"hello"]);
            assert!(parse_command(&mut buf, &limits, &mut args).unwrap());
            assert_eq!(args, [&b"PING"[..]]);
            assert!(!parse_command(&mut buf, &limits, &mut args).unwrap());
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn empty_multibulks_and_blank_lines_are_skipped() {
        assert_eq!(
            commands(b"*0\r\n*-1\r\n*-5\r\n\r\n\n \t\n*1\r\n$4\r\nPING\r\n"),
            [cmd(&["PING"])]
        );
        assert!(commands(b"*0\r\n\r\n").is_empty());
    }

    #[test]
    fn inline_commands() {
        assert_eq!(
            commands(b"SET k \"a b\"\r\nGET k\nECHO \"\"\r\n"),
            [
                cmd(&["SET", "k", "a b"]),
                cmd(&["GET", "k"]),
                cmd(&["ECHO", ""])
            ]
        );
        // Only one CR is stripped; the rest of the line is split as sdssplitargs does.
        assert_eq!(
            commands(b"PING\r\r\nECHO a\rb\r\n"),
            [cmd(&["PING"]), cmd(&["ECHO", "a", "b"])]
        );
        assert!(incomplete(b"PING"));
        assert!(incomplete(b"PING\r"));
    }

    #[test]
    fn redis_quirks() {
        // The byte after a header's CR and the two after a payload are not checked.
        assert_eq!(
            commands(b"*1\rx$4\r\nPINGxy*1\r\n$4\r\nPING\r\n"),
            [cmd(&["PING"]), cmd(&["PING"])]
        );
        // A NUL before the line end hides it, as strchr does.
        assert!(incomplete(b"PING\0\n"));
        assert!(incomplete(b"*1\0\r\n"));
        assert!(incomplete(b"*1\r\n$4\0\r\nPING\r\n"));
    }

    #[test]
    fn error_texts() {
        let text = |e: ProtocolError| String::from_utf8(e.message().into_owned()).unwrap();
        for (input, expected) in [
            (
                &b"*abc\r\n"[..],
                "ERR Protocol error: invalid multibulk length",
            ),
            (b"*\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*+1\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*-0\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1 \r\n", "ERR Protocol error: invalid multibulk length"),
            (
                b"*2147483648\r\n",
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                b"*-99999999999999999999\r\n",
                "ERR Protocol error: invalid multibulk length",
            ),
            (b"*1\r\nx\r\n", "ERR Protocol error: expected '$', got 'x'"),
            (b"*1\r\n\r\n", "ERR Protocol error: expected '$', got ' '"),
            (b"*1\r\n\n\r\n", "ERR Protocol error: expected '$', got ' '"),
            (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
            (
                b"*1\r\n$+3\r\nfoo\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$03\r\nfoo\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$536870913\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (
                b"ECHO \"a\r\n",
                "ERR Protocol error: unbalanced quotes in request",
            ),
            (
                b"ECHO 'a'x\n",
                "ERR Protocol error: unbalanced quotes in request",
            ),
        ] {
            assert_eq!(
                text(error(input)),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            error(b"*1\r\n\xff\r\n").message().as_ref(),
            b"ERR Protocol error: expected '$', got '\xff'"
        );
        assert_eq!(
            error(b"*1\r\n\xff\r\n").to_string(),
            "ERR Protocol error: expected '$', got '\u{fffd}'"
        );
    }

    #[test]
    fn commands_before_an_error_are_returned_first() {
        let (commands, result, _) = parse_all(b"PING\r\n*1\r\nx\r\n", &Limits::default());
        assert_eq!(commands, [cmd(&["PING"])]);
        assert_eq!(result, Err(ProtocolError::ExpectedDollar(b'x')));
    }

    #[test]
    fn size_limits() {
        let inline_max = INLINE_MAX;
        assert!(incomplete(&vec![b'x'; inline_max]));
        assert_eq!(
            error(&vec![b'x'; inline_max + 1]),
            ProtocolError::TooBigInlineRequest
        );
        let mut nul_line = b"PING\0".to_vec();
        nul_line.resize(inline_max + 1, b'1');
        assert_eq!(error(&nul_line), ProtocolError::TooBigInlineRequest);
        for (prefix, too_big, invalid) in [
            (
                &b"*"[..],
                ProtocolError::TooBigMbulkCountString,
                ProtocolError::InvalidMultibulkLength,
            ),
            (
                b"*1\r\n$",
                ProtocolError::TooBigBulkCountString,
                ProtocolError::InvalidBulkLength,
            ),
        ] {
            let mut header = prefix.to_vec();
            header.resize(prefix.len() - 1 + inline_max, b'1');
            assert!(incomplete(&header));
            header.push(b'1');
            assert!(incomplete(&header[..header.len() - 1]));
            assert_eq!(error(&header), too_big);
            header.push(b'\r');
            assert!(incomplete(&header));
            header.push(b'\n');
            assert_eq!(error(&header), invalid);
        }
        // A long inline line is fine once its end has arrived.
        let mut long = vec![b'x'; 70_000];
        long.push(b'\n');
        assert_eq!(commands(&long).len(), 1);
    }

    #[test]
    fn configured_limits() {
        let limits = Limits {
            max_bulk_len: 5,
            max_multibulk_len: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse_all(b"*2\r\n$5\r\nhello\r\n$0\r\n\r\n", &limits)
                .0
                .len(),
            1
        );
        let small = Limits {
            max_inline_len: 4,
            ..Limits::default()
        };
        for (input, limits, expected) in [
            (
                &b"*3\r\n"[..],
                &limits,
                ProtocolError::InvalidMultibulkLength,
            ),
            (b"*1\r\n$6\r\n", &limits, ProtocolError::InvalidBulkLength),
            (b"PINGX", &small, ProtocolError::TooBigInlineRequest),
            (b"*1\r\n$1234", &small, ProtocolError::TooBigBulkCountString),
        ] {
            let input_text = String::from_utf8_lossy(input);
            assert_eq!(error_with(input, limits), expected, "{input_text:?}");
        }
        // Redis 7.0 takes up to INT_MAX arguments, waiting for them to arrive.
        assert!(incomplete(b"*2147483647\r\n"));
        assert!(incomplete(b"*1\r\n$536870912\r\n"));
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            auth_required: true,
            ..Limits::default()
        };
        let unauth = |input: &[u8]| parse_all(input, &limits);
        for (input, expected) in [
            (
                &b"*11\r\n"[..],
                ProtocolError::UnauthenticatedMultibulkLength,
            ),
            (
                b"*1\r\n$16385\r\n",
                ProtocolError::UnauthenticatedBulkLength,
            ),
            (b"*2147483648\r\n", ProtocolError::InvalidMultibulkLength),
            (b"*1\r\n$536870913\r\n", ProtocolError::InvalidBulkLength),
        ] {
            let input_text = String::from_utf8_lossy(input);
            assert_eq!(unauth(input).1, Err(expected), "{input_text:?}");
        }
        assert_eq!(unauth(b"*10\r\n$16384\r\n"), (vec![], Ok(()), 13));
        assert_eq!(
            String::from_utf8_lossy(&ProtocolError::UnauthenticatedBulkLength.message()),
            "ERR Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn waiting_for_a_big_bulk_keeps_the_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$10\r\n01234"[..]);
        let mut args = Vec::new();
        let limits = Limits::default();
        assert!(!parse_command(&mut buf, &limits, &mut args).unwrap());
        assert_eq!(buf.len(), 23);
        buf.extend_from_slice(b"56789\r\n");
        assert!(parse_command(&mut buf, &limits, &mut args).unwrap());
        assert_eq!(args, [&b"SET"[..], b"0123456789"]);
    }

    proptest! {
        #[test]
        fn encoded_commands_parse_back_at_any_split(
            cmds in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let input: Vec<u8> = cmds.iter().flat_map(|c| multibulk(c)).collect();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
            cuts.push(input.len());
            cuts.sort_unstable();
            let limits = Limits::default();
            let mut buf = BytesMut::new();
            let mut args = Vec::new();
            let mut parsed = Vec::new();
            let mut fed = 0;
            for cut in cuts {
                buf.extend_from_slice(&input[fed..cut]);
                fed = cut;
                while parse_command(&mut buf, &limits, &mut args)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                {
                    parsed.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                }
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(parsed, cmds);
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&input, &Limits::default());
        }
    }
}
