//! The byte layout of a snapshot file: its constants, the file header, the chunk
//! frame header and the record header, encoded and decoded in one place for the
//! writer and the reader. `docs/FORMAT.md` ("Snapshot files") has the tables; all
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
/// Length of one per-database entry of the trailer: db, key count.
pub const TRAILER_DB_LEN: usize = 12;
/// Length of the trailer after its db entries: file hash, trailer offset, trailer
/// crc, end magic.
pub const TRAILER_TAIL_LEN: usize = 28;

/// The `N` bytes of `bytes` at `at` (constant offsets into fixed-size headers).
pub fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&bytes[at..at + N]);
    b
}

/// Little-endian u32 at `at`.
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(field(bytes, at))
}

/// Little-endian u64 at `at`.
pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(field(bytes, at))
}

/// The file header of a snapshot created at `created_ms` (Unix ms).
pub fn encode_header(created_ms: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    // Bytes 12..16: flags, none defined yet.
    h[16..24].copy_from_slice(&created_ms.to_le_bytes());
    let crc = crc32fast::hash(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
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
