//! [`Failure`]: why a `tierctl` command failed, and the exit status that says so
//! (1: something is corrupt or the command refused; 2: usage, I/O or connection).

use std::fmt;
use std::io;
use std::path::Path;

use tier_engine::aof::AofError;
use tier_engine::snapshot::SnapshotError;

/// A failed command: its message (printed after `tierctl: `) and its kind.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: a file is not sound (what is wrong and where).
    Corrupt(String),
    /// Exit 1: the command would not do what it was asked (e.g. overwrite a data dir
    /// without `--force`).
    Refused(String),
    /// Exit 2: a file could not be read or written, a server could not be reached, or
    /// it answered with an error.
    Io(String),
}

impl Failure {
    /// The process's exit status for this failure.
    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Corrupt(_) | Failure::Refused(_) => 1,
            Failure::Io(_) => 2,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, e: impl fmt::Display) -> Failure {
        Failure::Io(format!("{}: {e}", path.display()))
    }

    /// An error reading the snapshot file `path`: corruption, or I/O.
    pub fn snapshot(path: &Path, e: SnapshotError) -> Failure {
        match e {
            SnapshotError::Io { .. } => Failure::io(path, e),
            corrupt => Failure::Corrupt(format!("{}: corrupt: {corrupt}", path.display())),
        }
    }

    /// An I/O error on `path`, a file the AOF manifest lists: missing, it is
    /// corruption (tierd would refuse to start).
    pub fn listed(path: &Path, e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::NotFound {
            Failure::Corrupt(format!(
                "{}: listed in the AOF manifest, but missing",
                path.display()
            ))
        } else {
            Failure::io(path, e)
        }
    }
}

/// An AOF error as `tierctl` reports it: a bad manifest or increment is corruption
/// (tierd would refuse to start), as a listed file that is missing.
impl From<AofError> for Failure {
    fn from(e: AofError) -> Failure {
        match e {
            AofError::Io { path, source } => Failure::listed(&path, source),
            corrupt => Failure::Corrupt(corrupt.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Corrupt(m) | Failure::Refused(m) | Failure::Io(m) => f.write_str(m),
        }
    }
}
