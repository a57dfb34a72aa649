//! [`AofError`]: every way an AOF call can fail. Messages name the file, and the line
//! or byte offset when there is one, so that a log line alone says where to look.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

/// An error of the AOF layer: its files, its manifest, its writer or its replay.
#[non_exhaustive]
#[derive(Error, Debug)]
pub enum AofError {
    /// A file operation failed on `path` (outside the writer's own appends, which
    /// fail as [`AofError::Failed`]).
    #[error("I/O error on {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The manifest is not one Redis 7 would load. `line` is 1-based; 0 when the
    /// problem is the file as a whole.
    #[error("bad AOF manifest {} at line {line}: {reason}", .path.display())]
    Manifest {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    /// An increment holds bytes that are not a command at `offset` (bytes from the
    /// start of the file). A torn tail of the last increment is not an error: replay
    /// reports it as a [`TornTail`](super::TornTail).
    #[error("corrupt AOF file {} at byte {offset}: {reason}", .path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: Malformed,
    },
    /// A write or fsync failed earlier: the writer accepts no more appends and answers
    /// every wait for bytes it had not synced with this error (Redis's `-MISCONF`).
    #[error("the AOF is not writable: {0}")]
    Failed(Arc<WriteFailure>),
    /// [`AofWriter::rotate`](super::AofWriter::rotate) was called while a rotation
    /// was still under way.
    #[error("an AOF rotation is already in progress")]
    RotationInProgress,
    /// A rotation could not open the next increment; the writer goes on appending to
    /// the current one, which still holds every byte (the rewrite that asked for the
    /// rotation must give up).
    #[error("cannot open the next AOF increment: {0}")]
    RotationFailed(Box<AofError>),
    /// `appendfilename` is not a plain file name (empty, `.`, `..`, or holding `/`,
    /// `\` or a NUL byte).
    #[error("invalid appendfilename {0:?}: it must be a plain file name")]
    InvalidName(String),
}

impl AofError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: io::Error) -> AofError {
        AofError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What made a writer fail: the operation, the file and the error the system gave.
#[derive(Debug)]
pub struct WriteFailure {
    pub op: WriteOp,
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} failed: {}",
            self.op,
            self.path.display(),
            self.error
        )
    }
}

/// The writer's operations whose failure is sticky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// Appending bytes to the current increment.
    Write,
    /// fdatasync of an increment.
    Fsync,
    /// Making a rotation's new manifest durable (after its rename, when the manifest
    /// on disk may already name the new increment).
    Manifest,
}

impl fmt::Display for WriteOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteOp::Write => "write",
            WriteOp::Fsync => "fsync",
            WriteOp::Manifest => "manifest switch",
        })
    }
}

/// Why bytes of an increment are not a command.
#[non_exhaustive]
#[derive(Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A command must start with `*` (an array of bulk strings).
    #[error("expected '*', found byte {0:#04x}")]
    ExpectedArray(u8),
    /// Each argument must start with `$` (a bulk string).
    #[error("expected '$', found byte {0:#04x}")]
    ExpectedBulk(u8),
    /// A count or length that is not a canonical decimal number (digits only, no
    /// sign, no leading zero, at most 19 digits) ended by CRLF.
    #[error("invalid number")]
    BadNumber,
    /// An array of no arguments: every command has a name.
    #[error("empty command")]
    EmptyCommand,
    /// More arguments than the limit (`max_args`).
    #[error("command of {0} arguments is above the limit")]
    TooManyArgs(u64),
    /// A bulk string longer than the limit (`proto-max-bulk-len`).
    #[error("argument of {0} bytes is above the limit (proto-max-bulk-len)")]
    BulkTooLong(u64),
    /// A bulk string not followed by CRLF.
    #[error("expected CRLF after an argument")]
    MissingCrlf,
    /// The file ends inside a command, and it is not the last increment (only the
    /// last may have a torn tail).
    #[error("incomplete command at the end of an increment that is not the last")]
    TornNotLast,
}
