//! The streaming snapshot reader: a snapshot file in, its records out one by one,
//! every checksum, length and count checked on the way. The reader trusts no length
//! it reads: each is checked against the format's limits before use, and buffers grow
//! only with bytes actually read from the file.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};

use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3;
use zstd::bulk::Decompressor;

use super::error::{Checked, Counted, RecordProblem, SnapshotError};
use super::format::{
    ChunkHeader, FileHeader, RecordHeader, Trailer, CHUNK_HEADER_LEN, CHUNK_TARGET, END_MAGIC,
    FLAGS_AT, FRAME_CHUNK, FRAME_TRAILER, HEADER_LEN, MAGIC, MAX_CHUNK_LEN, TRAILER_DB_LEN,
    TRAILER_FIXED_LEN, TRAILER_TAIL_LEN, VERSION, VERSION_AT,
};
use super::{SnapshotRecord, SnapshotSummary};
use crate::value::Value;

/// Reads one snapshot file from `R`. [`next_record`](SnapshotReader::next_record)
/// gives the records in the order they were written, then `None` once the trailer and
/// the end of the file have been checked: a caller that drains the reader to `None`
/// has verified the whole file. A record is only given out of a chunk whose checksums
/// matched. `R` need not be buffered (reads are a few per chunk).
pub struct SnapshotReader<R: Read> {
    input: Input<R>,
    /// Hash of the header and the chunk frames read so far (the trailer holds the
    /// writer's).
    file_hash: Xxh3,
    /// Decompressed record-stream bytes; those before `pos` are consumed.
    stream: Vec<u8>,
    pos: usize,
    /// Offset in the record stream of `stream[0]`.
    stream_base: u64,
    /// (record-stream offset, file offset) of the start of each chunk whose bytes are
    /// in `stream`, oldest first: where a bad record's chunk is in the file.
    chunk_starts: VecDeque<(u64, u64)>,
    /// A chunk decompressed here, then moved into `stream`.
    scratch: Vec<u8>,
    compressed: Vec<u8>,
    decompressor: Decompressor<'static>,
    summary: SnapshotSummary,
    /// The trailer and the end of the file were checked: no more records.
    done: bool,
}

/// The file being read, and the offset of its next byte.
struct Input<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Input<R> {
    /// Fills `buf`. The file ending first is [`SnapshotError::Truncated`] at its
    /// length, `inside` saying in what.
    fn read_exact(&mut self, buf: &mut [u8], inside: &'static str) -> Result<(), SnapshotError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(SnapshotError::Truncated {
                        offset: self.offset,
                        inside,
                    })
                }
                Ok(n) => {
                    self.offset += n as u64;
                    filled += n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SnapshotError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads `len` bytes into `buf` (cleared first), growing it only as bytes arrive.
    fn read_vec(
        &mut self,
        buf: &mut Vec<u8>,
        len: u32,
        inside: &'static str,
    ) -> Result<(), SnapshotError> {
        buf.clear();
        // Room for a chunk the writer's size at once (more only as bytes arrive).
        buf.reserve((len as usize).min(CHUNK_TARGET));
        let start = self.offset;
        match (&mut self.inner).take(u64::from(len)).read_to_end(buf) {
            Ok(n) => {
                self.offset += n as u64;
                if n < len as usize {
                    return Err(SnapshotError::Truncated {
                        offset: self.offset,
                        inside,
                    });
                }
                Ok(())
            }
            Err(source) => Err(SnapshotError::Io {
                offset: start,
                source,
            }),
        }
    }

    /// Checks that the file has no byte left.
    fn expect_end(&mut self) -> Result<(), SnapshotError> {
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(SnapshotError::TrailingGarbage {
                        offset: self.offset,
                    })
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SnapshotError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
    }
}

/// What a frame turned out to be.
enum Frame {
    /// A chunk, now appended to the record stream.
    Chunk,
    /// The trailer, its integrity checked (its counts not yet).
    Trailer(Trailer),
}

impl<R: Read> SnapshotReader<R> {
    /// Opens a snapshot: reads and checks its header (magic, checksum, version,
    /// flags).
    pub fn new(inner: R) -> Result<SnapshotReader<R>, SnapshotError> {
        let mut input = Input { inner, offset: 0 };
        let mut h = [0u8; HEADER_LEN];
        let read = input.read_exact(&mut h, "the header");
        // A short file that is not a snapshot at all is said to be that, not truncated.
        let magic = &h[..input.offset.min(8) as usize];
        if magic != &MAGIC[..magic.len()] {
            return Err(SnapshotError::BadMagic {
                offset: 0,
                found: magic.to_vec(),
            });
        }
        read?;
        let (header, stored, computed) = FileHeader::decode(&h);
        if stored != computed {
            return Err(SnapshotError::Checksum {
                offset: 0,
                of: Checked::Header,
                stored,
                computed,
            });
        }
        if header.version != VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                offset: VERSION_AT as u64,
                version: header.version,
            });
        }
        if header.flags != 0 {
            return Err(SnapshotError::UnknownFlags {
                offset: FLAGS_AT as u64,
                flags: header.flags,
            });
        }
        let mut file_hash = Xxh3::new();
        file_hash.update(&h);
        Ok(SnapshotReader {
            input,
            file_hash,
            stream: Vec::new(),
            pos: 0,
            stream_base: 0,
            chunk_starts: VecDeque::new(),
            scratch: Vec::new(),
            compressed: Vec::new(),
            decompressor: Decompressor::new()
                .map_err(|source| SnapshotError::Io { offset: 0, source })?,
            summary: SnapshotSummary {
                created_ms: header.created_ms,
                ..SnapshotSummary::default()
            },
            done: false,
        })
    }

    /// When the snapshot was taken (Unix ms), from the header.
    pub fn created_ms(&self) -> u64 {
        self.summary.created_ms
    }

    /// The next record, or `None` after the last one once the trailer and the end of
    /// the file check out. After an error, the reader must not be used again.
    pub fn next_record(&mut self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(record) = self.take_record()? {
                return Ok(Some(record));
            }
            if let Frame::Trailer(trailer) = self.next_frame()? {
                // Its integrity checked, the trailer's offset field is its offset.
                if self.pos != self.stream.len() {
                    return Err(SnapshotError::RecordCutOff {
                        offset: trailer.offset,
                        stream_offset: self.stream_base + self.pos as u64,
                    });
                }
                self.check_counts(&trailer)?;
                self.input.expect_end()?;
                self.summary.file_bytes = self.input.offset;
                self.done = true;
            }
        }
    }

    /// What the file holds, as far as it has been read: all of it once
    /// [`next_record`](SnapshotReader::next_record) has returned `None`.
    pub fn summary(&self) -> &SnapshotSummary {
        &self.summary
    }

    /// The record at `pos` if the stream holds all of it (taking it out), `None` if
    /// more chunks are needed.
    fn take_record(&mut self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        let bytes = &self.stream[self.pos..];
        let header = match RecordHeader::decode(bytes) {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(None),
            Err(problem) => return Err(self.bad_record(problem)),
        };
        let start = header.len();
        // Lengths are within the limits, so the sum fits a usize.
        let key_end = start + header.key_len as usize;
        let end = key_end + header.payload_len as usize;
        if bytes.len() < end {
            return Ok(None);
        }
        let key = Bytes::copy_from_slice(&bytes[start..key_end]);
        let payload = Bytes::copy_from_slice(&bytes[key_end..end]);
        let value = Value::from_record(header.value_type, payload)
            .map_err(|e| self.bad_record(RecordProblem::BadValue(e)))?;
        self.pos += end;
        self.summary
            .count(header.db, header.value_type, header.expire_at.is_some());
        Ok(Some(SnapshotRecord {
            db: header.db,
            key,
            value,
            expire_at: header.expire_at,
        }))
    }

    /// [`SnapshotError::BadRecord`] for the record at `pos`.
    fn bad_record(&self, problem: RecordProblem) -> SnapshotError {
        let stream_offset = self.stream_base + self.pos as u64;
        let offset = self
            .chunk_starts
            .iter()
            .rev()
            .find(|&&(start, _)| start <= stream_offset)
            .map_or(0, |&(_, file_offset)| file_offset);
        SnapshotError::BadRecord {
            offset,
            stream_offset,
            problem,
        }
    }

    /// Reads the next frame: a chunk (appended to the record stream) or the trailer.
    fn next_frame(&mut self) -> Result<Frame, SnapshotError> {
        let offset = self.input.offset;
        let mut kind = [0u8; 1];
        self.input.read_exact(
            &mut kind,
            "the body (where a chunk or the trailer should start)",
        )?;
        match kind[0] {
            FRAME_CHUNK => {
                self.read_chunk(offset)?;
                Ok(Frame::Chunk)
            }
            FRAME_TRAILER => Ok(Frame::Trailer(self.read_trailer(offset)?)),
            kind => Err(SnapshotError::BadFrameKind { offset, kind }),
        }
    }

    /// Reads, checks and decompresses the chunk whose frame starts at `offset` (its
    /// kind byte read), and appends it to the record stream.
    fn read_chunk(&mut self, offset: u64) -> Result<(), SnapshotError> {
        let mut h = [0u8; CHUNK_HEADER_LEN];
        h[0] = FRAME_CHUNK;
        self.input
            .read_exact(&mut h[1..], "a chunk frame's header")?;
        let (header, stored, computed) = ChunkHeader::decode(&h);
        if stored != computed {
            return Err(SnapshotError::Checksum {
                offset,
                of: Checked::ChunkHeader,
                stored,
                computed,
            });
        }
        for (which, len) in [
            ("uncompressed", header.raw_len),
            ("compressed", header.compressed_len),
        ] {
            if len == 0 || len > MAX_CHUNK_LEN {
                return Err(SnapshotError::ChunkLength { offset, which, len });
            }
        }
        self.input.read_vec(
            &mut self.compressed,
            header.compressed_len,
            "a chunk's data",
        )?;
        self.file_hash.update(&h);
        self.file_hash.update(&self.compressed);
        let computed = crc32fast::hash(&self.compressed);
        if header.data_crc != computed {
            return Err(SnapshotError::Checksum {
                offset,
                of: Checked::ChunkData,
                stored: header.data_crc,
                computed,
            });
        }
        // The declared length bounds the output buffer: a frame that would decompress
        // to more fails instead of growing it.
        self.scratch.clear();
        self.scratch.reserve_exact(header.raw_len as usize);
        let actual = self
            .decompressor
            .decompress_to_buffer(&self.compressed, &mut self.scratch)
            .map_err(|e| SnapshotError::BadZstd {
                offset,
                reason: e.to_string(),
            })?;
        if actual != header.raw_len as usize {
            return Err(SnapshotError::ChunkSize {
                offset,
                declared: header.raw_len,
                actual,
            });
        }
        self.append_chunk(offset);
        self.summary.chunks += 1;
        self.summary.raw_bytes += u64::from(header.raw_len);
        Ok(())
    }

    /// Moves the chunk in `scratch`, whose frame is at `offset`, to the end of the
    /// record stream, dropping the consumed bytes before `pos`.
    fn append_chunk(&mut self, offset: u64) {
        if self.pos == self.stream.len() {
            std::mem::swap(&mut self.stream, &mut self.scratch);
        } else {
            self.stream.drain(..self.pos);
            self.stream.extend_from_slice(&self.scratch);
        }
        self.stream_base += self.pos as u64;
        self.pos = 0;
        // Keep the chunk the record at `pos` starts in, and those after it.
        while self
            .chunk_starts
            .get(1)
            .is_some_and(|&(start, _)| start <= self.stream_base)
        {
            self.chunk_starts.pop_front();
        }
        self.chunk_starts
            .push_back((self.summary.raw_bytes, offset));
        // A buffer grown for a big record is not kept for the rest of the file.
        self.scratch.clear();
        self.scratch.shrink_to(CHUNK_TARGET);
    }

    /// Reads the trailer whose kind byte was at `offset` and checks its integrity: its
    /// crc, the end marker, its own offset, and the hash of every byte before it.
    fn read_trailer(&mut self, offset: u64) -> Result<Trailer, SnapshotError> {
        let mut t = vec![FRAME_TRAILER; TRAILER_FIXED_LEN];
        self.input.read_exact(&mut t[1..], "the trailer")?;
        let dbs = Trailer::db_count(&t);
        let counted_dbs = self.summary.keys_per_db.len();
        // Checked before reading the entries, so a corrupt count cannot make the
        // reader walk a long way through the file.
        if dbs as usize != counted_dbs {
            return Err(SnapshotError::TrailerMismatch {
                offset,
                what: Counted::Databases,
                stated: u64::from(dbs),
                counted: counted_dbs as u64,
            });
        }
        let entries_at = t.len();
        t.resize(
            entries_at + TRAILER_DB_LEN * counted_dbs + TRAILER_TAIL_LEN,
            0,
        );
        self.input.read_exact(&mut t[entries_at..], "the trailer")?;
        let (trailer, stored, computed, end) = Trailer::decode(&t);
        if stored != computed {
            return Err(SnapshotError::Checksum {
                offset,
                of: Checked::Trailer,
                stored,
                computed,
            });
        }
        if end != END_MAGIC {
            return Err(SnapshotError::BadEndMarker {
                offset: self.input.offset - END_MAGIC.len() as u64,
                found: end,
            });
        }
        if trailer.offset != offset {
            return Err(SnapshotError::TrailerOffset {
                offset,
                stated: trailer.offset,
            });
        }
        let computed = self.file_hash.digest();
        if trailer.file_hash != computed {
            return Err(SnapshotError::FileHash {
                offset,
                stored: trailer.file_hash,
                computed,
            });
        }
        Ok(trailer)
    }

    /// Checks the trailer's counts against what was read.
    fn check_counts(&self, trailer: &Trailer) -> Result<(), SnapshotError> {
        let s = &self.summary;
        let mismatch = |what, stated, counted| SnapshotError::TrailerMismatch {
            offset: trailer.offset,
            what,
            stated,
            counted,
        };
        for (what, stated, counted) in [
            (Counted::Records, trailer.records, s.records),
            (Counted::Chunks, trailer.chunks, s.chunks),
            (Counted::RawBytes, trailer.raw_bytes, s.raw_bytes),
        ] {
            if stated != counted {
                return Err(mismatch(what, stated, counted));
            }
        }
        for (&(db, stated), (&counted_db, &counted)) in
            trailer.keys_per_db.iter().zip(&s.keys_per_db)
        {
            if (db, stated) != (counted_db, counted) {
                let counted = s.keys_per_db.get(&db).copied().unwrap_or(0);
                return Err(mismatch(Counted::KeysInDb(db), stated, counted));
            }
        }
        Ok(())
    }
}
