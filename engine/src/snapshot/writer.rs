//! The streaming snapshot writer: records in, a snapshot file out, one chunk
//! (compressed and checksummed) at a time.

use std::io::Write;

use xxhash_rust::xxh3::Xxh3;
use zstd::bulk::Compressor;
use zstd::zstd_safe;

use super::error::SnapshotError;
use super::format::{encode_header, ChunkHeader, RecordHeader, Trailer, CHUNK_TARGET, ZSTD_LEVEL};
use super::SnapshotSummary;
use crate::value::Value;

/// Writes one snapshot file to `W`: the header at once, then records cut into
/// compressed chunks of [`CHUNK_TARGET`] bytes as they come, and the trailer at
/// [`finish`](SnapshotWriter::finish). `W` need not be buffered (a write is a chunk
/// or a header); to fsync the file afterwards, write through `&mut File`. After an I/O
/// error the file is unusable (a reader finds it truncated or corrupt): drop the
/// writer and the file.
pub struct SnapshotWriter<W: Write> {
    out: Output<W>,
    /// The uncompressed record bytes of the chunk being filled.
    chunk: Vec<u8>,
    /// Cut the record stream into chunks of this many bytes.
    chunk_target: usize,
    /// The compressed chunk, reused from chunk to chunk.
    compressed: Vec<u8>,
    compressor: Compressor<'static>,
    summary: SnapshotSummary,
}

/// The file being written: where the next byte goes, and the hash of all before it.
struct Output<W> {
    out: W,
    written: u64,
    hash: Xxh3,
}

impl<W: Write> Output<W> {
    /// Writes `bytes`, adding them to the hash.
    fn emit(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.out
            .write_all(bytes)
            .map_err(|source| SnapshotError::Io {
                offset: self.written,
                source,
            })?;
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a snapshot taken at `created_ms` (Unix ms): writes its header.
    pub fn new(out: W, created_ms: u64) -> Result<SnapshotWriter<W>, SnapshotError> {
        SnapshotWriter::with_chunk_target(out, created_ms, CHUNK_TARGET)
    }

    /// [`SnapshotWriter::new`] cutting chunks of `chunk_target` bytes (tests use small
    /// ones to get many chunks out of little data).
    pub(super) fn with_chunk_target(
        out: W,
        created_ms: u64,
        chunk_target: usize,
    ) -> Result<SnapshotWriter<W>, SnapshotError> {
        let compressor = Compressor::new(ZSTD_LEVEL)
            .map_err(|source| SnapshotError::Io { offset: 0, source })?;
        let mut writer = SnapshotWriter {
            out: Output {
                out,
                written: 0,
                hash: Xxh3::new(),
            },
            chunk: Vec::with_capacity(chunk_target),
            chunk_target,
            compressed: Vec::new(),
            compressor,
            summary: SnapshotSummary {
                created_ms,
                ..SnapshotSummary::default()
            },
        };
        writer.out.emit(&encode_header(created_ms))?;
        Ok(writer)
    }

    /// Appends one record: `key` of database `db` holds `value`, and expires at
    /// `expire_at` (Unix ms) if given. A key or payload over the format's limits is
    /// refused with [`SnapshotError::Unwritable`], writing nothing.
    pub fn write_record(
        &mut self,
        db: u32,
        key: &[u8],
        value: &Value,
        expire_at: Option<u64>,
    ) -> Result<(), SnapshotError> {
        let payload = value.record_payload();
        let header = RecordHeader {
            value_type: value.record_type(),
            db,
            key_len: key.len() as u64,
            payload_len: payload.len() as u64,
            expire_at,
        };
        header.check_lengths().map_err(SnapshotError::Unwritable)?;
        self.push(&header.encode()[..header.len()])?;
        self.push(key)?;
        self.push(&payload)?;
        self.summary
            .count(db, header.value_type, expire_at.is_some());
        Ok(())
    }

    /// Writes the last chunk and the trailer, flushes `W`, and returns what the file
    /// holds.
    pub fn finish(mut self) -> Result<SnapshotSummary, SnapshotError> {
        self.flush_chunk()?;
        let s = &self.summary;
        let trailer = Trailer {
            records: s.records,
            chunks: s.chunks,
            raw_bytes: s.raw_bytes,
            keys_per_db: s.keys_per_db.iter().map(|(&db, &n)| (db, n)).collect(),
            file_hash: self.out.hash.digest(),
            offset: self.out.written,
        };
        self.out.emit(&trailer.encode())?;
        let offset = self.out.written;
        self.out
            .out
            .flush()
            .map_err(|source| SnapshotError::Io { offset, source })?;
        self.summary.file_bytes = offset;
        Ok(self.summary)
    }

    /// Adds `bytes` to the record stream, writing out each chunk that fills. (Tests
    /// also push hand-made records with it, to write malformed streams.)
    pub(super) fn push(&mut self, mut bytes: &[u8]) -> Result<(), SnapshotError> {
        while !bytes.is_empty() {
            let room = self.chunk_target - self.chunk.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.chunk.extend_from_slice(now);
            bytes = later;
            if self.chunk.len() == self.chunk_target {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    /// Compresses and writes the chunk being filled, if it holds anything.
    fn flush_chunk(&mut self) -> Result<(), SnapshotError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let offset = self.out.written;
        self.compressed.clear();
        self.compressed
            .reserve(zstd_safe::compress_bound(self.chunk.len()));
        self.compressor
            .compress_to_buffer(&self.chunk, &mut self.compressed)
            .map_err(|source| SnapshotError::Io { offset, source })?;
        // A chunk is at most the chunk target (1 MiB), its zstd frame at most the
        // compress bound of that: both fit a u32.
        let header = ChunkHeader {
            raw_len: self.chunk.len() as u32,
            compressed_len: self.compressed.len() as u32,
            data_crc: crc32fast::hash(&self.compressed),
        };
        self.out.emit(&header.encode())?;
        self.out.emit(&self.compressed)?;
        self.summary.chunks += 1;
        self.summary.raw_bytes += self.chunk.len() as u64;
        self.chunk.clear();
        Ok(())
    }
}
