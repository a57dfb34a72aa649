//! Snapshot files: one self-contained, point-in-time copy of every key, written and
//! read as a stream.
//!
//! A file is a header (magic `TIERSNAP`, format version, creation time, flags, crc),
//! then the record stream cut into chunks (each zstd-compressed, framed with its
//! lengths and crc32s), then a trailer (record, chunk and per-database key counts, an
//! XXH3-64 hash of every byte before it, an end marker). A record is a key with its database,
//! value type byte, payload and optional absolute expiry; records run on across chunk
//! boundaries. `docs/FORMAT.md` ("Snapshot files") documents every byte.
//!
//! - [`SnapshotWriter`] writes a file record by record; [`SnapshotWriter::finish`]
//!   writes the trailer and returns a [`SnapshotSummary`].
//! - [`SnapshotReader`] gives the records back one by one, checking everything on the
//!   way; [`verify`] drains one and returns its summary.
//! - [`SnapshotError`] says what is wrong and at which byte of the file.
//! - [`save`] writes the keyspace as it is now, beside traffic; [`rewrite_aof`] makes
//!   such a snapshot the AOF's new base.
//!
//! Value type bytes are the cold tier's ([`Value::record_type`]), so both formats
//! name a type alike; a type added to [`Value`] is a new type byte, not a new format
//! version.

mod error;
mod format;
mod reader;
mod rewrite;
mod save;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Read;

use bytes::Bytes;

use crate::value::Value;

pub use error::{Checked, Counted, RecordProblem, SnapshotError};
pub use format::{CHUNK_TARGET, MAX_CHUNK_LEN, MAX_KEY_LEN, MAX_PAYLOAD_LEN, VERSION};
pub use reader::SnapshotReader;
pub use rewrite::{rewrite_aof, RewriteError};
pub use save::{save, SaveError};
pub use writer::SnapshotWriter;

/// One key as a snapshot holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub db: u32,
    pub key: Bytes,
    pub value: Value,
    /// Absolute expiry, Unix ms.
    pub expire_at: Option<u64>,
}

/// What a snapshot file holds: the writer's account of what it wrote, or the reader's
/// of what it read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// When the snapshot was taken, Unix ms (from the header).
    pub created_ms: u64,
    pub records: u64,
    /// Keys of each database that holds any.
    pub keys_per_db: BTreeMap<u32, u64>,
    /// Records of each value type byte (names: [`Value::type_name_of_record`]).
    pub records_per_type: BTreeMap<u8, u64>,
    /// Records with an expiry.
    pub expiring: u64,
    pub chunks: u64,
    /// Uncompressed bytes of the record stream.
    pub raw_bytes: u64,
    /// Length of the whole file.
    pub file_bytes: u64,
}

impl SnapshotSummary {
    /// Counts one record.
    fn count(&mut self, db: u32, value_type: u8, expiring: bool) {
        self.records += 1;
        *self.keys_per_db.entry(db).or_default() += 1;
        *self.records_per_type.entry(value_type).or_default() += 1;
        self.expiring += u64::from(expiring);
    }
}

/// Reads the whole snapshot in `input`, checking every checksum, record and count,
/// and returns what it holds, or the first error with its offset.
pub fn verify<R: Read>(input: R) -> Result<SnapshotSummary, SnapshotError> {
    let mut reader = SnapshotReader::new(input)?;
    while reader.next_record()?.is_some() {}
    Ok(reader.summary().clone())
}
