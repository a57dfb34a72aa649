//! The client side of TIER SNAPSHOT's reply (`docs/COMMANDS.md`, "TIER SNAPSHOT"):
//! a RESP3 streamed string read as the snapshot file's bytes, in bounded memory.
//!
//! The reply is `$?\r\n`, then pieces `;<len>\r\n<len bytes>\r\n`, then `;0\r\n`;
//! an error line `-...\r\n` instead of the reply, or where a piece's header would
//! be, says why the server could not (go on). [`SnapshotStream`] checks every byte
//! of that framing: a length that is not a canonical decimal, above
//! [`MAX_PIECE_LEN`], or a line longer than [`MAX_LINE`] is a protocol error, and
//! so is the connection ending before `;0`.

use std::fmt;
use std::io::{self, BufRead, Read};

/// The longest piece accepted (the server sends at most 64 KiB).
pub const MAX_PIECE_LEN: u64 = 16 * 1024 * 1024;
/// The longest line accepted (a header, or an error), CRLF included.
pub const MAX_LINE: usize = 64 * 1024;

/// Why the stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The server answered with an error (the line, without its `-` and CRLF).
    Server(String),
    /// The bytes are not the reply's framing: what was expected, at which byte of
    /// the reply.
    Protocol { offset: u64, what: &'static str },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Server(message) => write!(f, "the server answered: {message}"),
            StreamError::Protocol { offset, what } => {
                write!(f, "bad reply at byte {offset}: {what}")
            }
        }
    }
}

impl std::error::Error for StreamError {}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> io::Error {
        let kind = match e {
            StreamError::Server(_) => io::ErrorKind::Other,
            StreamError::Protocol { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// The snapshot file's bytes, read from TIER SNAPSHOT's reply. Reading fails with an
/// `io::Error` wrapping a [`StreamError`] when the reply is an error or malformed.
pub struct SnapshotStream<R> {
    input: R,
    /// Bytes of the reply consumed.
    offset: u64,
    /// Bytes left in the current piece.
    left: u64,
    /// `;0` was read.
    ended: bool,
}

impl<R: BufRead> SnapshotStream<R> {
    /// Reads the reply's first line: `$?` starts the stream; an error line is the
    /// server's refusal.
    pub fn start(input: R) -> io::Result<SnapshotStream<R>> {
        let mut stream = SnapshotStream {
            input,
            offset: 0,
            left: 0,
            ended: false,
        };
        let line = stream.line()?;
        if line != b"$?" {
            return Err(stream
                .protocol(0, "expected '$?', a streamed string")
                .into());
        }
        Ok(stream)
    }

    /// The next piece's header: its length, 0 at the end.
    fn piece_header(&mut self) -> io::Result<u64> {
        let at = self.offset;
        let line = self.line()?;
        let digits = line
            .strip_prefix(b";")
            .ok_or_else(|| self.protocol(at, "expected ';', a piece of the stream"))?;
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0');
        let len = std::str::from_utf8(digits)
            .ok()
            .filter(|_| canonical)
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or_else(|| self.protocol(at + 1, "a piece's length must be a decimal number"))?;
        if len > MAX_PIECE_LEN {
            return Err(self
                .protocol(at + 1, "a piece is longer than the longest accepted")
                .into());
        }
        Ok(len)
    }

    /// One line without its CRLF; an error line is returned as the server's error.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        let (line, read) = read_line(&mut self.input, self.offset)?;
        self.offset += read;
        Ok(line)
    }

    fn protocol(&self, offset: u64, what: &'static str) -> StreamError {
        StreamError::Protocol { offset, what }
    }

    /// Reads the CRLF that ends a piece.
    fn piece_end(&mut self) -> io::Result<()> {
        let at = self.offset;
        let mut crlf = [0u8; 2];
        self.input
            .read_exact(&mut crlf)
            .map_err(|_| self.protocol(at, "the reply ends before the snapshot does"))?;
        self.offset += 2;
        if &crlf != b"\r\n" {
            return Err(self.protocol(at, "expected CRLF after a piece").into());
        }
        Ok(())
    }
}

/// Reads a status reply (`+OK` to AUTH): `Ok` for a `+` line, the server's error
/// for a `-` line, a protocol error for anything else.
pub fn read_status(input: &mut impl BufRead) -> io::Result<()> {
    let (line, _) = read_line(input, 0)?;
    if !line.starts_with(b"+") {
        return Err(StreamError::Protocol {
            offset: 0,
            what: "expected a status reply ('+')",
        }
        .into());
    }
    Ok(())
}

/// One line at byte `at` of the reply, without its CRLF, and the bytes it took; an
/// error line (`-`) is the server's error.
fn read_line(input: &mut impl BufRead, at: u64) -> io::Result<(Vec<u8>, u64)> {
    let mut line = Vec::new();
    let read = input
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        let what = if read == MAX_LINE {
            "a line is longer than the longest accepted"
        } else {
            "the reply ends before the snapshot does"
        };
        return Err(StreamError::Protocol { offset: at, what }.into());
    }
    line.truncate(line.len() - 2);
    if let Some(message) = line.strip_prefix(b"-") {
        return Err(StreamError::Server(String::from_utf8_lossy(message).into_owned()).into());
    }
    Ok((line, read as u64))
}

impl<R: BufRead> Read for SnapshotStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            self.left = self.piece_header()?;
            self.ended = self.left == 0;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.input.read(&mut buf[..want])?;
        if n == 0 {
            return Err(self
                .protocol(self.offset, "the reply ends before the snapshot does")
                .into());
        }
        self.offset += n as u64;
        self.left -= n as u64;
        if self.left == 0 {
            self.piece_end()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `reply` to its end through the stream.
    fn read(reply: &[u8]) -> Result<Vec<u8>, StreamError> {
        let to_stream_error = |e: io::Error| -> StreamError {
            *e.into_inner()
                .expect("a stream error")
                .downcast::<StreamError>()
                .expect("a stream error")
        };
        let mut stream = SnapshotStream::start(reply).map_err(to_stream_error)?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).map_err(to_stream_error)?;
        Ok(out)
    }

    #[test]
    fn pieces_make_the_file() {
        assert_eq!(
            read(b"$?\r\n;3\r\nabc\r\n;1\r\nd\r\n;0\r\n").unwrap(),
            b"abcd"
        );
        assert_eq!(read(b"$?\r\n;0\r\n").unwrap(), b"");
        // Bytes after the end belong to the next reply.
        let mut rest = &b"$?\r\n;1\r\nx\r\n;0\r\n+PONG\r\n"[..];
        let mut stream = SnapshotStream::start(&mut rest).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        assert_eq!(rest, b"+PONG\r\n");
    }

    #[test]
    fn errors_say_what_and_where() {
        let protocol = |offset, what| Err(StreamError::Protocol { offset, what });
        assert_eq!(
            read(b"-ERR Background save already in progress\r\n"),
            Err(StreamError::Server(
                "ERR Background save already in progress".into()
            ))
        );
        assert_eq!(
            read(b"$?\r\n;3\r\nabc\r\n-ERR snapshot failed: disk\r\n"),
            Err(StreamError::Server("ERR snapshot failed: disk".into()))
        );
        assert_eq!(
            read(b"+OK\r\n"),
            protocol(0, "expected '$?', a streamed string")
        );
        let ends = "the reply ends before the snapshot does";
        assert_eq!(read(b"$?\r\n;3\r\nab"), protocol(10, ends));
        assert_eq!(read(b"$?\r\n;3\r\nabc\r\n"), protocol(13, ends));
        assert_eq!(read(b"$?\r\n;3"), protocol(4, ends));
        assert_eq!(
            read(b"$?\r\n;3\r\nabcX\r\n"),
            protocol(11, "expected CRLF after a piece")
        );
        let length = "a piece's length must be a decimal number";
        for bad in [
            &b";03"[..],
            b";",
            b";-1",
            b";3x",
            b";99999999999999999999999",
        ] {
            let mut reply = b"$?\r\n".to_vec();
            reply.extend_from_slice(bad);
            reply.extend_from_slice(b"\r\n");
            assert_eq!(read(&reply), protocol(5, length), "{bad:?}");
        }
        assert_eq!(
            read(format!("$?\r\n;{}\r\n", MAX_PIECE_LEN + 1).as_bytes()),
            protocol(5, "a piece is longer than the longest accepted")
        );
        let long = vec![b'x'; MAX_LINE + 10];
        assert_eq!(
            read(&long),
            protocol(0, "a line is longer than the longest accepted")
        );
        assert_eq!(
            read(b"$?\r\n:1\r\n"),
            protocol(4, "expected ';', a piece of the stream")
        );
    }
}
