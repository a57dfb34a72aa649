//! [`ColdError`]: every way a segment-store call can fail. Messages name the segment
//! file and the byte offset involved, so a log line alone says where to look.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::record::RecordError;

/// An error of the cold tier's segment store.
#[non_exhaustive]
#[derive(Error, Debug)]
pub enum ColdError {
    /// The I/O engine or the filesystem failed (a short read included) on `path`, at
    /// byte `offset` when the operation has one.
    #[error("I/O error on {}{}: {source}", .path.display(), At(*.offset))]
    Io {
        path: PathBuf,
        offset: Option<u64>,
        source: io::Error,
    },
    /// The bytes read where a record should start are not a valid record (bad crc,
    /// kind, reserved bits, or lengths running past the bytes).
    #[error("corrupt record in segment {} at offset {offset}: {source}", SegmentName(*.segment))]
    Corrupt {
        segment: u32,
        offset: u64,
        source: RecordError,
    },
    /// The record at the location is valid but holds another key, hash or value type
    /// than the one asked for (a stale location).
    #[error("record in segment {} at offset {offset} is not the one asked for", SegmentName(*.segment))]
    Mismatch { segment: u32, offset: u64 },
    /// The location's segment was reclaimed: the caller re-reads the index.
    #[error("segment {} is gone (reclaimed)", SegmentName(*.0))]
    SegmentGone(u32),
    /// The disk budget (`tier-max-size`) cannot take the records of the append, or
    /// every segment id is in use.
    #[error("the cold tier is full (tier-max-size)")]
    Full,
    /// A record (header, key and value) longer than
    /// [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN).
    #[error("record of {0} bytes is too large for the cold tier")]
    TooLarge(usize),
    /// A value type a [`ColdLocation`](super::ColdLocation) cannot hold (above 7).
    #[error("value type {0} cannot be stored in the cold tier (the limit is 7)")]
    InvalidValueType(u8),
    /// A [`ColdStoreConfig`](super::ColdStoreConfig) value out of its range.
    #[error("invalid cold tier configuration: {0}")]
    InvalidConfig(String),
}

impl ColdError {
    /// An I/O error on `path` at `offset`.
    pub(crate) fn io(path: impl Into<PathBuf>, offset: Option<u64>, source: io::Error) -> Self {
        ColdError::Io {
            path: path.into(),
            offset,
            source,
        }
    }
}

/// " at offset N", or nothing.
struct At(Option<u64>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(offset) => write!(f, " at offset {offset}"),
            None => Ok(()),
        }
    }
}

/// A segment id as its file name (`00000042.seg`).
struct SegmentName(u32);

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", super::segment::file_name(self.0))
    }
}
