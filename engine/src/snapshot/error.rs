//! What can be wrong with a snapshot file, or with a record given to the writer. Every
//! error found in a file names the byte offset in the file where it was found.

use std::fmt;
use std::io;

use thiserror::Error;

use super::format::{MAX_CHUNK_LEN, MAX_KEY_LEN, MAX_PAYLOAD_LEN, VERSION};

/// An error reading or writing a snapshot file.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// Reading or writing failed (other than the file ending early, which is
    /// [`SnapshotError::Truncated`]). `offset` is where in the file it happened.
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The file does not start with the snapshot magic `TIERSNAP` (`found`: its first
    /// bytes, up to 8).
    #[error("not a Tier snapshot: bad magic {found:02x?} at byte {offset}")]
    BadMagic { offset: u64, found: Vec<u8> },
    /// A version this build does not read.
    #[error("unsupported snapshot format version {version} at byte {offset} (this build reads version {VERSION})")]
    UnsupportedVersion { offset: u64, version: u32 },
    /// Header flags this build does not know (none are defined yet).
    #[error("unknown header flags {flags:#010x} at byte {offset}")]
    UnknownFlags { offset: u64, flags: u32 },
    /// A stored crc32 differs from the one computed over the bytes it covers.
    #[error(
        "{of} checksum mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Checksum {
        offset: u64,
        of: Checked,
        stored: u32,
        computed: u32,
    },
    /// The trailer's hash of every byte before it differs from the bytes read.
    #[error("whole-file hash mismatch at byte {offset} (the XXH3-64 of every byte before it): stored {stored:#018x}, computed {computed:#018x}")]
    FileHash {
        offset: u64,
        stored: u64,
        computed: u64,
    },
    /// The file ends early: `offset` is its length, `inside` what it ends in.
    #[error("file truncated at byte {offset}: it ends inside {inside}")]
    Truncated { offset: u64, inside: &'static str },
    /// A frame starts with a byte that is neither a chunk's nor the trailer's.
    #[error("bad frame kind {kind:#04x} at byte {offset}: expected a chunk (0x43, 'C') or the trailer (0x54, 'T')")]
    BadFrameKind { offset: u64, kind: u8 },
    /// A chunk frame declares a length of 0 or over [`MAX_CHUNK_LEN`].
    #[error("bad chunk at byte {offset}: {which} length {len} outside 1..={MAX_CHUNK_LEN}")]
    ChunkLength {
        offset: u64,
        which: &'static str,
        len: u32,
    },
    /// The chunk's bytes (whose crc matched) are not a valid zstd frame.
    #[error("bad zstd data in the chunk at byte {offset}: {reason}")]
    BadZstd { offset: u64, reason: String },
    /// The chunk decompresses to another length than its frame declares.
    #[error(
        "the chunk at byte {offset} decompresses to {actual} bytes, its frame says {declared}"
    )]
    ChunkSize {
        offset: u64,
        declared: u32,
        actual: usize,
    },
    /// A record in the (decompressed) record stream is invalid. `offset` is the file
    /// offset of the chunk the record starts in, `stream_offset` the record's offset in
    /// the record stream.
    #[error("bad record at byte {stream_offset} of the record stream (in the chunk at byte {offset}): {problem}")]
    BadRecord {
        offset: u64,
        stream_offset: u64,
        problem: RecordProblem,
    },
    /// The trailer came while a record was still incomplete: `offset` is the
    /// trailer's.
    #[error("the record stream ends inside the record at its byte {stream_offset} (the trailer is at byte {offset})")]
    RecordCutOff { offset: u64, stream_offset: u64 },
    /// A figure in the trailer differs from what the file holds.
    #[error("the trailer at byte {offset} says {stated} {what}, the file holds {counted}")]
    TrailerMismatch {
        offset: u64,
        what: Counted,
        stated: u64,
        counted: u64,
    },
    /// The trailer's own offset field does not point at the trailer.
    #[error("the trailer at byte {offset} says it starts at byte {stated}")]
    TrailerOffset { offset: u64, stated: u64 },
    /// The last 8 bytes are not the end magic `TIER-END`.
    #[error("bad end marker {found:02x?} at byte {offset}")]
    BadEndMarker { offset: u64, found: [u8; 8] },
    /// Bytes follow the end marker.
    #[error("trailing garbage after the end marker, at byte {offset}")]
    TrailingGarbage { offset: u64 },
    /// The writer was given a record it cannot write (nothing was written).
    #[error("record not written: {0}")]
    Unwritable(RecordProblem),
}

impl SnapshotError {
    /// The byte offset in the file the error names (none for
    /// [`SnapshotError::Unwritable`], which is about a record, not a file).
    pub fn offset(&self) -> Option<u64> {
        match *self {
            SnapshotError::Io { offset, .. }
            | SnapshotError::BadMagic { offset, .. }
            | SnapshotError::UnsupportedVersion { offset, .. }
            | SnapshotError::UnknownFlags { offset, .. }
            | SnapshotError::Checksum { offset, .. }
            | SnapshotError::FileHash { offset, .. }
            | SnapshotError::Truncated { offset, .. }
            | SnapshotError::BadFrameKind { offset, .. }
            | SnapshotError::ChunkLength { offset, .. }
            | SnapshotError::BadZstd { offset, .. }
            | SnapshotError::ChunkSize { offset, .. }
            | SnapshotError::BadRecord { offset, .. }
            | SnapshotError::RecordCutOff { offset, .. }
            | SnapshotError::TrailerMismatch { offset, .. }
            | SnapshotError::TrailerOffset { offset, .. }
            | SnapshotError::BadEndMarker { offset, .. }
            | SnapshotError::TrailingGarbage { offset } => Some(offset),
            SnapshotError::Unwritable(_) => None,
        }
    }
}

/// What is wrong with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordProblem {
    /// Flag bits other than the expiry bit.
    #[error("unknown record flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("key length {0} over the limit of {MAX_KEY_LEN} bytes")]
    KeyTooLong(u64),
    #[error("payload length {0} over the limit of {MAX_PAYLOAD_LEN} bytes")]
    PayloadTooLong(u64),
    /// A type byte this build does not know, or a payload that is no value of its
    /// type.
    #[error(transparent)]
    BadValue(#[from] crate::value::RecordValueError),
}

/// The part of a file a crc32 covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The file header.
    Header,
    /// A chunk frame's header (kind, lengths, data crc).
    ChunkHeader,
    /// A chunk's compressed bytes.
    ChunkData,
    /// The trailer (kind byte to trailer offset).
    Trailer,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Checked::Header => "header",
            Checked::ChunkHeader => "chunk header",
            Checked::ChunkData => "chunk data",
            Checked::Trailer => "trailer",
        })
    }
}

/// A figure the trailer states and the reader counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Records,
    Chunks,
    /// Uncompressed bytes of the record stream.
    RawBytes,
    /// Databases holding at least one key.
    Databases,
    /// Keys in one database.
    KeysInDb(u32),
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Counted::Records => f.write_str("records"),
            Counted::Chunks => f.write_str("chunks"),
            Counted::RawBytes => f.write_str("uncompressed record bytes"),
            Counted::Databases => f.write_str("databases"),
            Counted::KeysInDb(db) => write!(f, "keys in db {db}"),
        }
    }
}
