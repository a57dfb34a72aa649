//! Reading the increments back: [`CommandReader`] parses one file as Redis writes an
//! AOF (RESP arrays of bulk strings, nothing else) into commands and the byte offset
//! each starts at, and [`AofDir::replay_incrs`] runs it over every increment the
//! manifest lists, in order.
//!
//! A file that ends inside a command has a torn tail: a write the crash cut short.
//! That is reported apart from corruption ([`Parsed::Torn`], [`TornTail`]) and only
//! for the last increment; the caller may cut it off ([`AofDir::truncate_torn_tail`],
//! `aof-load-truncated yes`). Anything else that is not a command — a wrong type byte,
//! a bad length, garbage in the middle, a torn tail in an earlier increment — is an
//! [`AofError::Corrupt`] naming the file and the byte offset.
//!
//! An increment may end in zero bytes: room reserved ahead of appends
//! ([`AofFs::reserve`]), which RESP never puts where a command or the frame of an
//! argument starts. A zero byte there ends the data: followed by zeros alone at a
//! command boundary, it is the end of the file; otherwise — inside a command, or
//! followed by other bytes (writes after a region the crash left unwritten, never
//! synced) — everything from the command it falls in on is a torn tail. Lengths are checked
//! against [`ReplayLimits`] before anything is allocated for them, and an argument's
//! buffer grows only as its bytes are actually read, so a hostile length costs nothing.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use super::{AofDir, AofError, AofFs, Malformed, ManifestEntry};

/// The most digits a count or length may have (`u64` holds any 19-digit number).
const MAX_DIGITS: u32 = 19;
/// The most argument slots reserved ahead of reading them.
const PREALLOCATED_ARGS: usize = 64;
/// The most bytes reserved ahead of reading an argument.
const PREALLOCATED_BYTES: u64 = 64 * 1024;
/// The read buffer of a replay.
const READ_BUFFER: usize = 256 * 1024;

/// The largest command a replay accepts. Set them to what the server accepts from
/// clients, so that everything it logged reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayLimits {
    /// The longest argument: `proto-max-bulk-len`. Default: 512 MiB.
    pub max_bulk_len: u64,
    /// The most arguments in one command. Default: 2^31 - 1, as the server's
    /// request parser (Redis 7's `INT_MAX`).
    pub max_args: u64,
}

impl Default for ReplayLimits {
    fn default() -> Self {
        ReplayLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: i32::MAX as u64,
        }
    }
}

/// One command read from an increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The name and arguments.
    pub args: Vec<Vec<u8>>,
    /// Where the command starts in its file.
    pub offset: u64,
    /// Its length in bytes: the next command starts at `offset + len`.
    pub len: u64,
}

/// What [`CommandReader::read_command`] found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// The file ends after its last command.
    End,
    /// The file ends inside a command that starts at `valid_len` (every byte before it
    /// is whole commands) and runs to `file_len`.
    Torn {
        valid_len: u64,
        file_len: u64,
    },
}

/// The end of the last increment, cut off inside a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The increment's name.
    pub name: String,
    /// The length of its whole commands: where to cut.
    pub valid_len: u64,
    /// Its length now.
    pub file_len: u64,
}

/// What [`AofDir::replay_incrs`] went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Commands handed to the caller.
    pub commands: u64,
    /// Bytes of those commands.
    pub bytes: u64,
    /// The torn tail of the last increment, if it has one (not cut off yet).
    pub torn: Option<TornTail>,
}

/// Appends `args` to `out` as Redis logs a command: `*<count>\r\n`, then
/// `$<len>\r\n<bytes>\r\n` for each argument.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    let mut header = |out: &mut Vec<u8>, kind: u8, n: usize| {
        out.push(kind);
        out.extend_from_slice(digits.format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    header(out, b'*', args.len());
    for arg in args {
        let arg = arg.as_ref();
        header(out, b'$', arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses the commands of one increment, in order, from a buffered reader.
pub struct CommandReader<R> {
    input: R,
    path: PathBuf,
    limits: ReplayLimits,
    /// Bytes consumed from the input.
    offset: u64,
    /// The byte consumed last.
    last: u8,
}

/// Why a command could not be read.
enum Stop {
    /// The input ended inside the command.
    Eof,
    Malformed(u64, Malformed),
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

impl<R: BufRead> CommandReader<R> {
    /// A reader of `input`, the contents of the file `path` (named in errors) from its
    /// start.
    pub fn new(input: R, path: impl Into<PathBuf>, limits: ReplayLimits) -> CommandReader<R> {
        CommandReader {
            input,
            path: path.into(),
            limits,
            offset: 0,
            last: 0,
        }
    }

    /// The next command, the end of the file, or its torn tail.
    pub fn read_command(&mut self) -> Result<Parsed, AofError> {
        let start = self.offset;
        match self.input.fill_buf() {
            Ok([]) => return Ok(Parsed::End),
            Ok(_) => {}
            Err(e) => return Err(self.io(e)),
        }
        match self.command() {
            Ok(args) => Ok(Parsed::Command(Command {
                args,
                offset: start,
                len: self.offset - start,
            })),
            Err(Stop::Eof) => Ok(Parsed::Torn {
                valid_len: start,
                file_len: self.offset,
            }),
            // A zero byte where a command or a part of one must be: the data ends
            // there (see the module docs).
            Err(Stop::Malformed(offset, _)) if self.last == 0 && offset + 1 == self.offset => {
                let zeros_only = self.skip_to_end().map_err(|e| self.io(e))?;
                if zeros_only && offset == start {
                    Ok(Parsed::End)
                } else {
                    Ok(Parsed::Torn {
                        valid_len: start,
                        file_len: self.offset,
                    })
                }
            }
            Err(Stop::Malformed(offset, reason)) => Err(AofError::Corrupt {
                path: self.path.clone(),
                offset,
                reason,
            }),
            Err(Stop::Io(e)) => Err(self.io(e)),
        }
    }

    /// Consumes the rest of the input; says whether it was all zero bytes.
    fn skip_to_end(&mut self) -> io::Result<bool> {
        let mut zeros_only = true;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(zeros_only);
            }
            zeros_only &= buf.iter().all(|&b| b == 0);
            let n = buf.len();
            self.input.consume(n);
            self.offset += n as u64;
        }
    }

    fn io(&self, e: io::Error) -> AofError {
        AofError::io(&self.path, e)
    }

    fn command(&mut self) -> Result<Vec<Vec<u8>>, Stop> {
        let at = self.offset;
        match self.byte()? {
            b'*' => {}
            other => return Err(Stop::Malformed(at, Malformed::ExpectedArray(other))),
        }
        let count = self.number()?;
        if count == 0 {
            return Err(Stop::Malformed(at, Malformed::EmptyCommand));
        }
        if count > self.limits.max_args {
            return Err(Stop::Malformed(at, Malformed::TooManyArgs(count)));
        }
        let mut args = Vec::with_capacity(count.min(PREALLOCATED_ARGS as u64) as usize);
        for _ in 0..count {
            args.push(self.bulk()?);
        }
        Ok(args)
    }

    fn bulk(&mut self) -> Result<Vec<u8>, Stop> {
        let at = self.offset;
        match self.byte()? {
            b'$' => {}
            other => return Err(Stop::Malformed(at, Malformed::ExpectedBulk(other))),
        }
        let len = self.number()?;
        if len > self.limits.max_bulk_len {
            return Err(Stop::Malformed(at, Malformed::BulkTooLong(len)));
        }
        let mut arg = Vec::with_capacity(len.min(PREALLOCATED_BYTES) as usize);
        let read = self.input.by_ref().take(len).read_to_end(&mut arg)?;
        self.offset += read as u64;
        if (read as u64) < len {
            return Err(Stop::Eof);
        }
        for expected in *b"\r\n" {
            let at = self.offset;
            if self.byte()? != expected {
                return Err(Stop::Malformed(at, Malformed::MissingCrlf));
            }
        }
        Ok(arg)
    }

    /// A canonical decimal ended by CRLF.
    fn number(&mut self) -> Result<u64, Stop> {
        let mut value: u64 = 0;
        let mut digits = 0;
        loop {
            let at = self.offset;
            let c = self.byte()?;
            let bad = Stop::Malformed(at, Malformed::BadNumber);
            match c {
                b'0'..=b'9' => {
                    // No leading zero, and no more digits than a u64 surely holds.
                    if (digits == 1 && value == 0) || digits == MAX_DIGITS {
                        return Err(bad);
                    }
                    value = value * 10 + u64::from(c - b'0');
                    digits += 1;
                }
                b'\r' if digits > 0 => {
                    let at = self.offset;
                    return match self.byte()? {
                        b'\n' => Ok(value),
                        _ => Err(Stop::Malformed(at, Malformed::BadNumber)),
                    };
                }
                _ => return Err(bad),
            }
        }
    }

    fn byte(&mut self) -> Result<u8, Stop> {
        let c = *self.input.fill_buf()?.first().ok_or(Stop::Eof)?;
        self.input.consume(1);
        self.offset += 1;
        self.last = c;
        Ok(c)
    }
}

impl<F: AofFs> AofDir<F> {
    /// Replays the manifest's increments in order (the base is the snapshot layer's
    /// to load first), handing each command and the entry of its file to `apply`;
    /// stops at the first error, `apply`'s included. A torn tail of the last
    /// increment ends the replay and is returned in the summary, for the caller to
    /// cut off ([`truncate_torn_tail`](Self::truncate_torn_tail)) or refuse; a torn
    /// tail anywhere else is corruption. A listed increment that does not exist is an
    /// error, as in Redis.
    pub fn replay_incrs<E: From<AofError>>(
        &self,
        limits: ReplayLimits,
        mut apply: impl FnMut(&ManifestEntry, Command) -> Result<(), E>,
    ) -> Result<ReplaySummary, E> {
        let mut summary = ReplaySummary::default();
        let incrs = self.manifest().incrs();
        for (i, entry) in incrs.iter().enumerate() {
            let path = self.path_of(&entry.name);
            let file = self
                .fs()
                .open_read(&path)
                .map_err(|e| AofError::io(&path, e))?;
            let mut reader =
                CommandReader::new(BufReader::with_capacity(READ_BUFFER, file), &path, limits);
            loop {
                match reader.read_command()? {
                    Parsed::Command(command) => {
                        summary.commands += 1;
                        summary.bytes += command.len;
                        apply(entry, command)?;
                    }
                    Parsed::End => break,
                    Parsed::Torn { valid_len, .. } if i + 1 < incrs.len() => {
                        return Err(AofError::Corrupt {
                            path,
                            offset: valid_len,
                            reason: Malformed::TornNotLast,
                        }
                        .into());
                    }
                    Parsed::Torn {
                        valid_len,
                        file_len,
                    } => {
                        summary.torn = Some(TornTail {
                            name: entry.name.clone(),
                            valid_len,
                            file_len,
                        });
                        break;
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Cuts the torn tail off its increment (at the end of its last whole command) and
    /// makes the cut durable, with a warning in the log: `aof-load-truncated yes`.
    pub fn truncate_torn_tail(&self, torn: &TornTail) -> Result<(), AofError> {
        let path = self.path_of(&torn.name);
        tracing::warn!(
            "the AOF file {} ends inside a command: truncating it from {} to {} bytes \
             (aof-load-truncated)",
            path.display(),
            torn.file_len,
            torn.valid_len
        );
        self.fs()
            .truncate(&path, torn.valid_len)
            .map_err(|e| AofError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::aof::SimAofFs;

    type Args = Vec<Vec<u8>>;

    fn commands(list: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for args in list {
            encode_command(args, &mut out);
        }
        out
    }

    /// Reads `input` to its end: the commands' args and offsets, then the end.
    fn read_all(
        input: &[u8],
        limits: ReplayLimits,
    ) -> (Vec<(Args, u64)>, Result<Parsed, AofError>) {
        let mut reader = CommandReader::new(Cursor::new(input), "dir/t.1.incr.aof", limits);
        let mut out = Vec::new();
        let mut next = 0;
        loop {
            match reader.read_command() {
                Ok(Parsed::Command(c)) => {
                    assert_eq!(c.offset, next, "commands follow one another");
                    next = c.offset + c.len;
                    out.push((c.args, c.offset));
                }
                end => return (out, end),
            }
        }
    }

    /// The offset and reason of the corruption `input` holds.
    fn corruption(input: &[u8]) -> (u64, Malformed) {
        match read_all(input, ReplayLimits::default()).1 {
            Err(AofError::Corrupt { offset, reason, .. }) => (offset, reason),
            other => panic!("{input:?}: {other:?}"),
        }
    }

    #[test]
    fn reads_commands_and_their_offsets() {
        let input = commands(&[&["SET", "k", "v"], &["DEL", ""], &["PING"]]);
        let (read, end) = read_all(&input, ReplayLimits::default());
        assert!(matches!(end, Ok(Parsed::End)));
        let args: Vec<_> = read.iter().map(|(a, _)| a.clone()).collect();
        assert_eq!(
            args,
            [
                vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()],
                vec![b"DEL".to_vec(), vec![]],
                vec![b"PING".to_vec()]
            ]
        );
        assert_eq!(read[1].1, commands(&[&["SET", "k", "v"]]).len() as u64);
        assert!(matches!(
            read_all(b"", ReplayLimits::default()).1,
            Ok(Parsed::End)
        ));
    }

    #[test]
    fn every_cut_inside_a_command_is_a_torn_tail() {
        let first = commands(&[&["SET", "key", "value"]]);
        let input = commands(&[&["SET", "key", "value"], &["INCR", "counter"]]);
        for cut in first.len() + 1..input.len() {
            let (read, end) = read_all(&input[..cut], ReplayLimits::default());
            assert_eq!(read.len(), 1, "cut at {cut}");
            assert_eq!(
                end.unwrap(),
                Parsed::Torn {
                    valid_len: first.len() as u64,
                    file_len: cut as u64
                },
                "cut at {cut}"
            );
        }
    }

    /// Zero bytes after the last command (room reserved ahead of appends) end the
    /// file; a zero byte inside a command, or zeros followed by other bytes (writes
    /// that reached the disk past a region that did not), make a torn tail from the
    /// command they fall in on.
    #[test]
    fn zero_bytes_end_the_data() {
        let first = commands(&[&["SET", "key", "value"]]);
        let both = commands(&[&["SET", "key", "value"], &["INCR", "counter"]]);
        let padded = |data: &[u8], zeros: usize| {
            let mut out = data.to_vec();
            out.resize(data.len() + zeros, 0);
            out
        };
        for zeros in [1, 7, 300_000] {
            let (read, end) = read_all(&padded(&both, zeros), ReplayLimits::default());
            assert_eq!(read.len(), 2);
            assert_eq!(end.unwrap(), Parsed::End, "{zeros} zeros");
        }
        // Every cut of the second command, the rest zeros: a torn tail, whose zeros
        // count in the file's length.
        for cut in first.len() + 1..both.len() {
            let input = padded(&both[..cut], 64);
            let (read, end) = read_all(&input, ReplayLimits::default());
            assert_eq!(read.len(), 1, "cut at {cut}");
            assert_eq!(
                end.unwrap(),
                Parsed::Torn {
                    valid_len: first.len() as u64,
                    file_len: input.len() as u64
                },
                "cut at {cut}"
            );
        }
        // A zero-filled hole, then more commands: torn at the hole.
        let mut holed = padded(&first, 4096);
        holed.extend_from_slice(&both);
        let (read, end) = read_all(&holed, ReplayLimits::default());
        assert_eq!(read.len(), 1);
        assert_eq!(
            end.unwrap(),
            Parsed::Torn {
                valid_len: first.len() as u64,
                file_len: holed.len() as u64
            }
        );
        // A zero inside an argument is data.
        let zero_value = commands(&[&["SET", "k", "a\0\0"]]);
        let (read, end) = read_all(&zero_value, ReplayLimits::default());
        assert_eq!(end.unwrap(), Parsed::End);
        assert_eq!(read[0].0[2], b"a\0\0");
    }

    #[test]
    fn malformations_name_their_offset() {
        let set = commands(&[&["SET", "k", "v"]]);
        let mut garbage = set.clone();
        garbage.extend_from_slice(b"xyz");
        garbage.extend_from_slice(&set);
        assert_eq!(
            corruption(&garbage),
            (set.len() as u64, Malformed::ExpectedArray(b'x'))
        );
        assert_eq!(
            corruption(b"*1\r\n:1\r\n"),
            (4, Malformed::ExpectedBulk(b':'))
        );
        assert_eq!(corruption(b"*0\r\n"), (0, Malformed::EmptyCommand));
        assert_eq!(corruption(b"*01\r\n"), (2, Malformed::BadNumber));
        assert_eq!(corruption(b"*-1\r\n"), (1, Malformed::BadNumber));
        assert_eq!(corruption(b"*\r\n"), (1, Malformed::BadNumber));
        assert_eq!(corruption(b"*1\rx"), (3, Malformed::BadNumber));
        assert_eq!(corruption(b"*1 \r\n"), (2, Malformed::BadNumber));
        assert_eq!(
            corruption(b"*12345678901234567890\r\n"),
            (20, Malformed::BadNumber)
        );
        assert_eq!(
            corruption(b"*1\r\n$1\r\nab\r\n"),
            (9, Malformed::MissingCrlf)
        );
        assert_eq!(
            corruption(b"*1\r\n$1\r\na\rx"),
            (10, Malformed::MissingCrlf)
        );
        // Torn or not, a wrong byte is corruption.
        assert_eq!(
            corruption(b"*1\r\n$3\r\nabcX"),
            (11, Malformed::MissingCrlf)
        );
        let message = read_all(b"*1\r\n:", ReplayLimits::default())
            .1
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("dir/t.1.incr.aof") && message.contains("byte 4"),
            "{message}"
        );
    }

    #[test]
    fn hostile_lengths_are_refused_before_any_allocation() {
        let limits = ReplayLimits {
            max_bulk_len: 16,
            max_args: 3,
        };
        let check = |input: &[u8], expected| match read_all(input, limits).1 {
            Err(AofError::Corrupt { reason, .. }) => assert_eq!(reason, expected),
            other => panic!("{other:?}"),
        };
        check(b"*4\r\n", Malformed::TooManyArgs(4));
        check(b"*1\r\n$17\r\n", Malformed::BulkTooLong(17));
        // Within the limits, a length beyond the file is a torn tail, found without
        // reserving the length.
        let huge = b"*1\r\n$536870912\r\nab";
        let (_, end) = read_all(huge, ReplayLimits::default());
        assert_eq!(
            end.unwrap(),
            Parsed::Torn {
                valid_len: 0,
                file_len: huge.len() as u64
            }
        );
        let (_, end) = read_all(b"*2147483647\r\n$1\r\na\r\n", ReplayLimits::default());
        assert!(matches!(end, Ok(Parsed::Torn { .. })));
    }

    /// A directory whose manifest lists increments with these contents.
    fn dir_with(incrs: &[&[u8]]) -> (Arc<SimAofFs>, AofDir<SimAofFs>) {
        let fs = Arc::new(SimAofFs::new());
        let mut dir = AofDir::open(Arc::clone(&fs), "/a", "t").unwrap();
        for contents in incrs {
            let (file, _) = dir.create_next_incr().unwrap();
            fs.append(&file, contents).unwrap();
            fs.sync_data(&file).unwrap();
        }
        (fs, dir)
    }

    fn replay(dir: &AofDir<SimAofFs>) -> Result<(Vec<(u64, Args)>, ReplaySummary), AofError> {
        let mut seen = Vec::new();
        let summary = dir.replay_incrs(ReplayLimits::default(), |entry, command| {
            seen.push((entry.seq, command.args));
            Ok::<_, AofError>(())
        })?;
        Ok((seen, summary))
    }

    #[test]
    fn replays_increments_in_order_and_truncates_the_last_ones_torn_tail() {
        let one = commands(&[&["SET", "a", "1"]]);
        let two = commands(&[&["SET", "b", "2"], &["DEL", "a"]]);
        let mut torn = two.clone();
        torn.extend_from_slice(b"*2\r\n$3\r\nDEL");
        let (fs, dir) = dir_with(&[&one, b"", &torn]);
        let (seen, summary) = replay(&dir).unwrap();
        let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [1, 3, 3]);
        assert_eq!(summary.commands, 3);
        assert_eq!(summary.bytes, (one.len() + two.len()) as u64);
        let tail = summary.torn.unwrap();
        assert_eq!(
            tail,
            TornTail {
                name: "t.3.incr.aof".into(),
                valid_len: two.len() as u64,
                file_len: torn.len() as u64
            }
        );
        dir.truncate_torn_tail(&tail).unwrap();
        assert_eq!(fs.contents(&dir.path_of(&tail.name)).unwrap(), two);
        // The cut is durable.
        let after = AofDir::open(Arc::new(fs.crash(5)), "/a", "t").unwrap();
        assert_eq!(replay(&after).unwrap().1.torn, None);
    }

    #[test]
    fn a_torn_tail_before_the_last_increment_is_corruption() {
        let one = commands(&[&["SET", "a", "1"]]);
        let (_, dir) = dir_with(&[&one[..one.len() - 1], &one]);
        match replay(&dir) {
            Err(AofError::Corrupt {
                path,
                offset: 0,
                reason: Malformed::TornNotLast,
            }) => assert_eq!(path, Path::new("/a/t.1.incr.aof")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_increment_and_an_apply_error_stop_the_replay() {
        let one = commands(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        let (fs, dir) = dir_with(&[&one]);
        let mut calls = 0;
        let result = dir.replay_incrs(ReplayLimits::default(), |_, _| {
            calls += 1;
            Err(AofError::InvalidName("stop".into()))
        });
        assert!(matches!(result, Err(AofError::InvalidName(_))));
        assert_eq!(calls, 1);
        fs.remove(&dir.path_of("t.1.incr.aof")).unwrap();
        assert!(matches!(replay(&dir), Err(AofError::Io { .. })));
    }
}
