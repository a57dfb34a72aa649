//! The byte layout of a snapshot file: its constants, the file header, the chunk
//! frame header, the record header and the trailer, encoded and decoded in one place
//! for the writer and the reader. `docs/FORMAT.md` ("Snapshot files") has the tables; all
//! integers are little-endian.

use super::error::RecordProblem;

/// The first 8 bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"TIERSNAP";
/// The last 8 bytes of every snapshot file.
pub const END_MAGIC: [u8; 8] = *b"TIER-END";
/// The format version this build writes, and the only one it reads.
pub const VERSION: u32 = 1;
/// Length of the file header: magic, version, flags, creation time, crc.
pub const HEADER_LEN: usize = 28;

/// The kind byte of a chunk frame (`C`).
pub const FRAME_CHUNK: u8 = b'C';
/// The kind byte of the trailer (`T`).
pub const FRAME_TRAILER: u8 = b'T';
/// Length of a chunk frame's header: kind, raw and compressed lengths, data crc,
/// header crc.
pub const CHUNK_HEADER_LEN: usize = 17;
/// The writer cuts the record stream into chunks of this many uncompressed bytes (the
/// last chunk may be shorter).
pub const CHUNK_TARGET: usize = 1 << 20;
/// The largest chunk a reader accepts, compressed or uncompressed: a bigger length in
/// a frame header is corruption, refused before anything is allocated for it.
pub const MAX_CHUNK_LEN: u32 = 64 << 20;
/// The zstd level chunks are compressed at: fast, since a snapshot runs beside
/// clients.
pub const ZSTD_LEVEL: i32 = 1;

/// Length of a record header without its expiry: type, flags, db, key and payload
/// lengths.
pub const RECORD_HEADER_LEN: usize = 18;
/// Length of the expiry field that follows the record header when
/// [`RECORD_HAS_EXPIRY`] is set.
pub const EXPIRY_LEN: usize = 8;
/// Record flag: an absolute expiry (Unix ms, u64) follows the record header.
pub const RECORD_HAS_EXPIRY: u8 = 1;
/// The longest key a record may hold (Redis's limit on a key).
pub const MAX_KEY_LEN: u64 = 512 << 20;
/// The longest payload a record may hold (as the cold tier, whose value length is a
/// u32).
pub const MAX_PAYLOAD_LEN: u64 = u32::MAX as u64;

/// Length of the trailer's fixed start: kind, records, chunks, raw bytes, db count.
pub const TRAILER_FIXED_LEN: usize = 29;
/// Offset of the db count in the trailer.
const TRAILER_DBS_AT: usize = 25;
/// Length of one per-database entry of the trailer: db, key count.
pub const TRAILER_DB_LEN: usize = 12;
/// Length of the trailer after its db entries: file hash, trailer offset, trailer
/// crc, end magic.
pub const TRAILER_TAIL_LEN: usize = 28;

/// The `N` bytes of `bytes` at `at` (constant offsets into fixed-size headers).
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&bytes[at..at + N]);
    b
}

/// Little-endian u32 at `at`.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(field(bytes, at))
}

/// Little-endian u64 at `at`.
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(field(bytes, at))
}

/// Offset of the format version in the file header.
pub const VERSION_AT: usize = 8;
/// Offset of the flags in the file header.
pub const FLAGS_AT: usize = 12;
/// Offset of the creation time in the file header.
const CREATED_AT: usize = 16;
/// Offset of the crc in the file header (it covers the bytes before it).
const HEADER_CRC_AT: usize = 24;

/// The file header of a snapshot created at `created_ms` (Unix ms).
pub fn encode_header(created_ms: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..VERSION_AT].copy_from_slice(&MAGIC);
    h[VERSION_AT..FLAGS_AT].copy_from_slice(&VERSION.to_le_bytes());
    // Flags: none defined yet, zero.
    h[CREATED_AT..HEADER_CRC_AT].copy_from_slice(&created_ms.to_le_bytes());
    let crc = crc32fast::hash(&h[..HEADER_CRC_AT]);
    h[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The fields of a file header after its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    pub version: u32,
    pub flags: u32,
    pub created_ms: u64,
}

impl FileHeader {
    /// The header in `h`, the crc stored in it and the crc computed over it, for the
    /// caller to compare (before trusting the fields).
    pub fn decode(h: &[u8; HEADER_LEN]) -> (FileHeader, u32, u32) {
        let header = FileHeader {
            version: u32_at(h, VERSION_AT),
            flags: u32_at(h, FLAGS_AT),
            created_ms: u64_at(h, CREATED_AT),
        };
        let computed = crc32fast::hash(&h[..HEADER_CRC_AT]);
        (header, u32_at(h, HEADER_CRC_AT), computed)
    }
}

/// A chunk frame's header, as written before its compressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Uncompressed length of the chunk's piece of the record stream.
    pub raw_len: u32,
    /// Length of the zstd frame that follows the header.
    pub compressed_len: u32,
    /// crc32 of the compressed bytes.
    pub data_crc: u32,
}

impl ChunkHeader {
    /// The 17 header bytes: kind, lengths, data crc, then the crc of those 13 bytes.
    pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut h = [0u8; CHUNK_HEADER_LEN];
        h[0] = FRAME_CHUNK;
        h[1..5].copy_from_slice(&self.raw_len.to_le_bytes());
        h[5..9].copy_from_slice(&self.compressed_len.to_le_bytes());
        h[9..13].copy_from_slice(&self.data_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..13]);
        h[13..17].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// The header in `h` (whose kind byte the caller has read), and the crc stored in
    /// it and the crc computed over it, for the caller to compare.
    pub fn decode(h: &[u8; CHUNK_HEADER_LEN]) -> (ChunkHeader, u32, u32) {
        let header = ChunkHeader {
            raw_len: u32_at(h, 1),
            compressed_len: u32_at(h, 5),
            data_crc: u32_at(h, 9),
        };
        (header, u32_at(h, 13), crc32fast::hash(&h[..13]))
    }
}

/// The fixed fields of one record, as they precede its key and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub value_type: u8,
    pub db: u32,
    pub key_len: u64,
    pub payload_len: u64,
    pub expire_at: Option<u64>,
}

impl RecordHeader {
    /// Bytes of the header: [`RECORD_HEADER_LEN`], plus [`EXPIRY_LEN`] with an expiry.
    pub fn len(&self) -> usize {
        RECORD_HEADER_LEN + self.expire_at.map_or(0, |_| EXPIRY_LEN)
    }

    /// Checks the lengths against [`MAX_KEY_LEN`] and [`MAX_PAYLOAD_LEN`].
    pub fn check_lengths(&self) -> Result<(), RecordProblem> {
        if self.key_len > MAX_KEY_LEN {
            return Err(RecordProblem::KeyTooLong(self.key_len));
        }
        if self.payload_len > MAX_PAYLOAD_LEN {
            return Err(RecordProblem::PayloadTooLong(self.payload_len));
        }
        Ok(())
    }

    /// The header's bytes: the first [`len`](RecordHeader::len) of the array.
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN + EXPIRY_LEN] {
        let mut h = [0u8; RECORD_HEADER_LEN + EXPIRY_LEN];
        h[0] = self.value_type;
        h[1] = if self.expire_at.is_some() {
            RECORD_HAS_EXPIRY
        } else {
            0
        };
        h[2..6].copy_from_slice(&self.db.to_le_bytes());
        // Checked lengths: a key is at most MAX_KEY_LEN, which fits the u32 field.
        h[6..10].copy_from_slice(&(self.key_len as u32).to_le_bytes());
        h[10..18].copy_from_slice(&self.payload_len.to_le_bytes());
        h[18..26].copy_from_slice(&self.expire_at.unwrap_or(0).to_le_bytes());
        h
    }

    /// Decodes the header at the start of `bytes`: `Ok(None)` when `bytes` is too
    /// short to hold it all, an error when its flags or lengths are invalid.
    pub fn decode(bytes: &[u8]) -> Result<Option<RecordHeader>, RecordProblem> {
        let [value_type, flags, ..] = *bytes else {
            return Ok(None);
        };
        if flags & !RECORD_HAS_EXPIRY != 0 {
            return Err(RecordProblem::UnknownFlags(flags));
        }
        let has_expiry = flags & RECORD_HAS_EXPIRY != 0;
        let len = RECORD_HEADER_LEN + if has_expiry { EXPIRY_LEN } else { 0 };
        if bytes.len() < len {
            return Ok(None);
        }
        let header = RecordHeader {
            value_type,
            db: u32_at(bytes, 2),
            key_len: u64::from(u32_at(bytes, 6)),
            payload_len: u64_at(bytes, 10),
            expire_at: has_expiry.then(|| u64_at(bytes, RECORD_HEADER_LEN)),
        };
        header.check_lengths()?;
        Ok(Some(header))
    }
}

/// The trailer's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub records: u64,
    pub chunks: u64,
    /// Uncompressed bytes of the record stream.
    pub raw_bytes: u64,
    /// (db, keys) of each database holding keys, ascending.
    pub keys_per_db: Vec<(u32, u64)>,
    /// XXH3-64 of every byte of the file before the trailer.
    pub file_hash: u64,
    /// File offset of the trailer's kind byte.
    pub offset: u64,
}

impl Trailer {
    /// The trailer's bytes, kind byte to end marker.
    pub fn encode(&self) -> Vec<u8> {
        let dbs = self.keys_per_db.len();
        let mut t = Vec::with_capacity(TRAILER_FIXED_LEN + TRAILER_DB_LEN * dbs + TRAILER_TAIL_LEN);
        t.push(FRAME_TRAILER);
        t.extend_from_slice(&self.records.to_le_bytes());
        t.extend_from_slice(&self.chunks.to_le_bytes());
        t.extend_from_slice(&self.raw_bytes.to_le_bytes());
        // One entry per distinct u32 db at most, so the count fits a u32.
        t.extend_from_slice(&(dbs as u32).to_le_bytes());
        for (db, keys) in &self.keys_per_db {
            t.extend_from_slice(&db.to_le_bytes());
            t.extend_from_slice(&keys.to_le_bytes());
        }
        t.extend_from_slice(&self.file_hash.to_le_bytes());
        t.extend_from_slice(&self.offset.to_le_bytes());
        let crc = crc32fast::hash(&t);
        t.extend_from_slice(&crc.to_le_bytes());
        t.extend_from_slice(&END_MAGIC);
        t
    }

    /// The db count in the trailer's fixed start (`fixed`, [`TRAILER_FIXED_LEN`]
    /// bytes), which says how long the rest is.
    pub fn db_count(fixed: &[u8]) -> u32 {
        u32_at(fixed, TRAILER_DBS_AT)
    }

    /// The trailer in `t` (all of it: fixed start, [`Trailer::db_count`] entries,
    /// tail); the crc stored in it and the crc computed over it; and its end marker,
    /// for the caller to check.
    pub fn decode(t: &[u8]) -> (Trailer, u32, u32, [u8; 8]) {
        let tail = t.len() - TRAILER_TAIL_LEN;
        let trailer = Trailer {
            records: u64_at(t, 1),
            chunks: u64_at(t, 9),
            raw_bytes: u64_at(t, 17),
            keys_per_db: t[TRAILER_FIXED_LEN..tail]
                .chunks_exact(TRAILER_DB_LEN)
                .map(|e| (u32_at(e, 0), u64_at(e, 4)))
                .collect(),
            file_hash: u64_at(t, tail),
            offset: u64_at(t, tail + 8),
        };
        let stored = u32_at(t, tail + 16);
        let computed = crc32fast::hash(&t[..tail + 16]);
        (trailer, stored, computed, field(t, tail + 20))
    }
}
