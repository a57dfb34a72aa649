//! The record format of cold-tier segments: one demoted value with its key, the key's
//! hash and a crc32, and the walk over a run of 4 KiB blocks packed with records.
//!
//! A record is a 24-byte header followed by the key bytes and the value bytes (all
//! integers little-endian; `docs/FORMAT.md` has the table):
//!
//! | offset | size | field                                                         |
//! |--------|------|---------------------------------------------------------------|
//! | 0      | 4    | crc32 (IEEE) of bytes 4..end of the record                    |
//! | 4      | 1    | kind: [`KIND_VALUE`] (0 is never a record: padding)           |
//! | 5      | 1    | value type: string 0, list 1, set 2, zset 3, hash 4 (`VALUE_*`)|
//! | 6      | 2    | reserved, zero                                                |
//! | 8      | 4    | key length (u32)                                              |
//! | 12     | 4    | value length (u32)                                            |
//! | 16     | 8    | key hash (u64, the index's hash)                              |
//! | 24     | ..   | key bytes, then value bytes                                   |
//!
//! In a segment, records follow one another with no gap; a record may run across block
//! boundaries. A record never starts in the last `RECORD_HEADER_LEN - 1` bytes of a
//! block ([`record_start`]), and the unused tail of a block is zero: at a record
//! position, 24 zero bytes (or a zero tail shorter than a header) mean "no more
//! records in this block", and the next record, if any, starts at the next boundary.

use thiserror::Error;

use crate::io::ALIGN;

/// Length of a record's header: crc, kind, value type, reserved, lengths and hash.
pub const RECORD_HEADER_LEN: usize = 24;

/// The kind byte of a value record. Kind 0 is reserved: a zero header is padding.
pub const KIND_VALUE: u8 = 1;

/// The value type byte of a string value.
pub const VALUE_TYPE_STRING: u8 = 0;
/// The value type byte of a list (Redis's RDB type number for lists).
pub const VALUE_TYPE_LIST: u8 = 1;
/// The value type byte of a set (Redis's RDB type number for sets).
pub const VALUE_TYPE_SET: u8 = 2;
/// The value type byte of a sorted set (Redis's type number for sorted sets).
pub const VALUE_TYPE_ZSET: u8 = 3;
/// The value type byte of a hash (Redis's RDB type number for hashes).
pub const VALUE_TYPE_HASH: u8 = 4;

const CRC_AT: usize = 0;
const KIND_AT: usize = 4;
const VALUE_TYPE_AT: usize = 5;
const RESERVED_AT: usize = 6;
const KEY_LEN_AT: usize = 8;
const VALUE_LEN_AT: usize = 12;
const HASH_AT: usize = 16;
/// The bytes the crc covers start here (everything after the crc itself).
const CHECKED_FROM: usize = KIND_AT;

/// What is wrong with a record, or with a buffer asked to hold one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The bytes end before the record does (its header, or the lengths it declares).
    #[error("record truncated: needs {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    /// The kind byte is not [`KIND_VALUE`].
    #[error("bad record kind {0}")]
    BadKind(u8),
    /// The reserved field (bytes 6..8) is not zero.
    #[error("reserved record bits set: {0:#06x}")]
    BadReserved(u16),
    /// The crc stored in the record differs from the crc of its bytes.
    #[error("record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    /// A key or value longer than a u32 length field can say.
    #[error("record field too large: {len} bytes (the limit is 4294967295)")]
    TooLarge { len: usize },
    /// The caller's buffer cannot hold the record being encoded.
    #[error("no room for the record: needs {needed} bytes, {available} available")]
    NoRoom { needed: usize, available: usize },
    /// A non-zero byte in the tail of a block after its records ended (offset within
    /// the block run).
    #[error("non-zero byte at offset {offset} in a block's padding")]
    BadPadding { offset: usize },
    /// A well-formed record whose value does not decode: a type byte this build does
    /// not know, or a collection payload that is not one.
    #[error(transparent)]
    BadValue(#[from] crate::value::RecordValueError),
}

/// A record decoded in place: borrows its key and value from the bytes it was read
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub key: &'a [u8],
    /// The index's hash of `key`, as stored by the writer.
    pub hash: u64,
    pub value_type: u8,
    pub value: &'a [u8],
    /// The record's whole length in bytes (header, key and value).
    pub len: usize,
}

/// The length of a record with a key and a value of these lengths. Saturates at
/// `usize::MAX` instead of overflowing (no buffer holds such a record, so encoding it
/// fails either way).
pub fn record_len(key_len: usize, value_len: usize) -> usize {
    RECORD_HEADER_LEN
        .saturating_add(key_len)
        .saturating_add(value_len)
}

/// Where the next record goes when the previous one ended at `pos` (an offset in the
/// segment, or in a block run that starts on a block boundary): `pos` itself, or the
/// next block boundary when fewer than [`RECORD_HEADER_LEN`] bytes are left in `pos`'s
/// block. A writer leaves the skipped bytes zero.
pub fn record_start(pos: usize) -> usize {
    let room = ALIGN - pos % ALIGN;
    if room < RECORD_HEADER_LEN {
        pos.saturating_add(room)
    } else {
        pos
    }
}

/// A length as its u32 field, or [`RecordError::TooLarge`].
fn len_field(len: usize) -> Result<u32, RecordError> {
    u32::try_from(len).map_err(|_| RecordError::TooLarge { len })
}

/// Writes one value record at the start of `out` (for instance a slice of an
/// [`AlignedBuf`](crate::io::AlignedBuf) being filled) and returns its length,
/// [`record_len`]`(key.len(), value.len())`. Bytes of `out` past the record are left
/// as they are. Fails, writing nothing, when `out` is too short or a length does not
/// fit in a u32.
pub fn encode_record(
    out: &mut [u8],
    key: &[u8],
    hash: u64,
    value_type: u8,
    value: &[u8],
) -> Result<usize, RecordError> {
    let key_len = len_field(key.len())?;
    let value_len = len_field(value.len())?;
    let len = record_len(key.len(), value.len());
    let available = out.len();
    let record = out.get_mut(..len).ok_or(RecordError::NoRoom {
        needed: len,
        available,
    })?;
    let (header, body) = record.split_at_mut(RECORD_HEADER_LEN);
    let (key_out, value_out) = body.split_at_mut(key.len());
    header[KIND_AT] = KIND_VALUE;
    header[VALUE_TYPE_AT] = value_type;
    header[RESERVED_AT..KEY_LEN_AT].fill(0);
    header[KEY_LEN_AT..VALUE_LEN_AT].copy_from_slice(&key_len.to_le_bytes());
    header[VALUE_LEN_AT..HASH_AT].copy_from_slice(&value_len.to_le_bytes());
    header[HASH_AT..].copy_from_slice(&hash.to_le_bytes());
    key_out.copy_from_slice(key);
    value_out.copy_from_slice(value);
    let crc = crc32fast::hash(&record[CHECKED_FROM..]);
    record[CRC_AT..KIND_AT].copy_from_slice(&crc.to_le_bytes());
    Ok(len)
}

/// The `N` bytes of `header` at `at` (constant offsets inside the fixed-size header).
fn field<const N: usize>(header: &[u8; RECORD_HEADER_LEN], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&header[at..at + N]);
    b
}

/// Decodes the record at the start of `bytes` (which may go on past it: the record's
/// length is in [`RecordRef::len`]). Checks, in this order, that the header is there,
/// the kind is [`KIND_VALUE`], the reserved bytes are zero, the declared lengths fit
/// in `bytes`, and the crc matches. Lengths are only compared, never allocated from.
pub fn decode_record(bytes: &[u8]) -> Result<RecordRef<'_>, RecordError> {
    let available = bytes.len();
    let header: &[u8; RECORD_HEADER_LEN] = bytes.first_chunk().ok_or(RecordError::Truncated {
        needed: RECORD_HEADER_LEN,
        available,
    })?;
    let kind = header[KIND_AT];
    if kind != KIND_VALUE {
        return Err(RecordError::BadKind(kind));
    }
    let reserved = u16::from_le_bytes(field(header, RESERVED_AT));
    if reserved != 0 {
        return Err(RecordError::BadReserved(reserved));
    }
    // u32 → usize is lossless on every target the engine builds for (64-bit Linux).
    let key_len = u32::from_le_bytes(field(header, KEY_LEN_AT)) as usize;
    let value_len = u32::from_le_bytes(field(header, VALUE_LEN_AT)) as usize;
    let len = record_len(key_len, value_len);
    let record = bytes.get(..len).ok_or(RecordError::Truncated {
        needed: len,
        available,
    })?;
    let stored = u32::from_le_bytes(field(header, CRC_AT));
    let computed = crc32fast::hash(&record[CHECKED_FROM..]);
    if stored != computed {
        return Err(RecordError::ChecksumMismatch { stored, computed });
    }
    let (key, value) = record[RECORD_HEADER_LEN..].split_at(key_len);
    Ok(RecordRef {
        key,
        hash: u64::from_le_bytes(field(header, HASH_AT)),
        value_type: header[VALUE_TYPE_AT],
        value,
        len,
    })
}

/// Walks a run of blocks (`bytes` starts on a block boundary, as a segment or an
/// aligned read does) and yields each record with its offset in `bytes`. A zero
/// header, or a zero block tail shorter than a header, ends the records of its block
/// (the tail must be zero all the way to the boundary, else [`RecordError::BadPadding`]).
/// The first error ends the walk: after it the record lengths cannot be trusted.
/// A last block shorter than [`ALIGN`] is walked the same way (its missing bytes count
/// as absent, so a record running past the end is [`RecordError::Truncated`]).
pub fn records_in_block_run(bytes: &[u8]) -> BlockRunRecords<'_> {
    records_in_block_run_from(bytes, 0)
}

/// [`records_in_block_run`] resumed at `pos`, the offset in `bytes` where a record
/// starts (or where padding does, or the end): for walking a segment window by window.
pub fn records_in_block_run_from(bytes: &[u8], pos: usize) -> BlockRunRecords<'_> {
    BlockRunRecords {
        bytes,
        pos,
        done: false,
    }
}

/// The iterator of [`records_in_block_run`].
#[derive(Debug, Clone)]
pub struct BlockRunRecords<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl BlockRunRecords<'_> {
    /// Where the walk stands: after an error, the offset of the record (or padding)
    /// that failed, so a verifier can report it.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Ends the walk with `err`.
    fn fail(&mut self, err: RecordError) -> Option<<Self as Iterator>::Item> {
        self.done = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for BlockRunRecords<'a> {
    type Item = Result<(usize, RecordRef<'a>), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done && self.pos < self.bytes.len() {
            let pos = self.pos;
            let block_end = pos - pos % ALIGN + ALIGN;
            let tail = &self.bytes[pos..block_end.min(self.bytes.len())];
            let padding =
                record_start(pos) != pos || tail.iter().take(RECORD_HEADER_LEN).all(|&b| b == 0);
            if !padding {
                return match decode_record(&self.bytes[pos..]) {
                    Ok(record) => {
                        self.pos = pos + record.len;
                        Some(Ok((pos, record)))
                    }
                    Err(err) => self.fail(err),
                };
            }
            if let Some(i) = tail.iter().position(|&b| b != 0) {
                return self.fail(RecordError::BadPadding { offset: pos + i });
            }
            self.pos = block_end;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// A record to write: key, hash, value type, value.
    type Rec = (Vec<u8>, u64, u8, Vec<u8>);

    fn arb_rec(max_value: usize) -> impl Strategy<Value = Rec> {
        (
            vec(any::<u8>(), 0..40),
            any::<u64>(),
            any::<u8>(),
            vec(any::<u8>(), 0..max_value),
        )
    }

    fn encode(rec: &Rec) -> Vec<u8> {
        let (key, hash, value_type, value) = rec;
        let mut out = vec![0u8; record_len(key.len(), value.len())];
        let n = encode_record(&mut out, key, *hash, *value_type, value).expect("fits");
        assert_eq!(n, out.len());
        out
    }

    fn assert_is(got: &RecordRef<'_>, rec: &Rec) {
        let (key, hash, value_type, value) = rec;
        assert_eq!(got.key, &key[..]);
        assert_eq!(got.hash, *hash);
        assert_eq!(got.value_type, *value_type);
        assert_eq!(got.value, &value[..]);
        assert_eq!(got.len, record_len(key.len(), value.len()));
    }

    /// Packs `recs` into a zeroed run of whole blocks, as a flusher would, and
    /// returns the run with each record's offset.
    fn pack(recs: &[Rec]) -> (Vec<u8>, Vec<usize>) {
        let mut pos = 0;
        let mut offsets = Vec::new();
        for (key, _, _, value) in recs {
            pos = record_start(pos);
            offsets.push(pos);
            pos += record_len(key.len(), value.len());
        }
        let mut run = vec![0u8; pos.div_ceil(ALIGN) * ALIGN];
        for (rec, &at) in recs.iter().zip(&offsets) {
            let (key, hash, value_type, value) = rec;
            encode_record(&mut run[at..], key, *hash, *value_type, value).expect("fits");
        }
        (run, offsets)
    }

    fn walk(run: &[u8]) -> Vec<Result<(usize, RecordRef<'_>), RecordError>> {
        records_in_block_run(run).collect()
    }

    #[test]
    fn layout_is_the_documented_one() {
        let mut out = [0xAAu8; 40];
        let n = encode_record(&mut out, b"key", 0x0102_0304_0506_0708, 0, b"value").unwrap();
        assert_eq!(n, 32);
        assert_eq!(out[4..8], [KIND_VALUE, VALUE_TYPE_STRING, 0, 0]);
        assert_eq!(out[8..12], 3u32.to_le_bytes());
        assert_eq!(out[12..16], 5u32.to_le_bytes());
        assert_eq!(out[16..24], [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&out[24..32], b"keyvalue");
        assert_eq!(out[..4], crc32fast::hash(&out[4..32]).to_le_bytes());
        assert_eq!(out[32..], [0xAA; 8], "bytes past the record are untouched");
    }

    #[test]
    fn encode_refuses_a_short_buffer_and_writes_nothing() {
        let mut out = [0u8; 31];
        assert_eq!(
            encode_record(&mut out, b"key", 1, 0, b"value"),
            Err(RecordError::NoRoom {
                needed: 32,
                available: 31
            })
        );
        assert_eq!(out, [0u8; 31]);
    }

    #[test]
    fn lengths_beyond_u32_are_too_large() {
        assert_eq!(len_field(u32::MAX as usize), Ok(u32::MAX));
        let len = u32::MAX as usize + 1;
        assert_eq!(len_field(len), Err(RecordError::TooLarge { len }));
        assert_eq!(record_len(usize::MAX, 1), usize::MAX);
    }

    #[test]
    fn decode_checks_kind_and_reserved_before_lengths() {
        let mut rec = encode(&(b"k".to_vec(), 9, 0, b"v".to_vec()));
        rec[KIND_AT] = 2;
        assert_eq!(decode_record(&rec), Err(RecordError::BadKind(2)));
        rec[KIND_AT] = KIND_VALUE;
        rec[RESERVED_AT + 1] = 0x80;
        assert_eq!(decode_record(&rec), Err(RecordError::BadReserved(0x8000)));
        rec[RESERVED_AT + 1] = 0;
        rec[KEY_LEN_AT..VALUE_LEN_AT].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_record(&rec),
            Err(RecordError::Truncated {
                needed: RECORD_HEADER_LEN + u32::MAX as usize + 1,
                available: rec.len()
            })
        );
    }

    #[test]
    fn record_start_skips_tails_shorter_than_a_header() {
        assert_eq!(record_start(0), 0);
        assert_eq!(
            record_start(ALIGN - RECORD_HEADER_LEN),
            ALIGN - RECORD_HEADER_LEN
        );
        assert_eq!(record_start(ALIGN - RECORD_HEADER_LEN + 1), ALIGN);
        assert_eq!(record_start(ALIGN - 1), ALIGN);
        assert_eq!(record_start(ALIGN), ALIGN);
        assert_eq!(record_start(3 * ALIGN + 5), 3 * ALIGN + 5);
    }

    #[test]
    fn a_record_spans_several_blocks() {
        let big: Rec = (
            b"big".to_vec(),
            7,
            0,
            (0..3 * ALIGN + 100).map(|i| i as u8).collect(),
        );
        let small: Rec = (b"small".to_vec(), 8, 0, b"after".to_vec());
        // A small record first, so the big one starts mid-block and ends mid-block.
        let recs = vec![small.clone(), big.clone(), small.clone()];
        let (run, offsets) = pack(&recs);
        assert_eq!(run.len(), 4 * ALIGN);
        assert_eq!(offsets, [0, 34, 34 + 24 + 3 + 3 * ALIGN + 100]);
        let got = walk(&run);
        assert_eq!(got.len(), 3);
        for ((item, rec), at) in got.iter().zip(&recs).zip(&offsets) {
            let (off, r) = item.as_ref().expect("valid record");
            assert_eq!(off, at);
            assert_is(r, rec);
        }
        // The big record read alone from an aligned read of the blocks holding it.
        let first_block = offsets[1] / ALIGN * ALIGN;
        let read = &run[first_block..];
        assert_is(
            &decode_record(&read[offsets[1] - first_block..]).unwrap(),
            &big,
        );
    }

    #[test]
    fn a_zero_header_skips_to_the_next_block() {
        let a: Rec = (b"a".to_vec(), 1, 0, vec![1; 100]);
        let b: Rec = (b"b".to_vec(), 2, 0, vec![2; 100]);
        let mut run = vec![0u8; 2 * ALIGN];
        encode_record(&mut run, &a.0, a.1, a.2, &a.3).unwrap();
        encode_record(&mut run[ALIGN..], &b.0, b.1, b.2, &b.3).unwrap();
        let got = walk(&run);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref().unwrap().0, ALIGN);
        // A stray byte in the padding is an error, at its offset.
        run[ALIGN - 1] = 1;
        let mut it = records_in_block_run(&run);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(
            it.next(),
            Some(Err(RecordError::BadPadding { offset: ALIGN - 1 }))
        );
        assert_eq!(it.offset(), 125);
        assert_eq!(it.next(), None, "the walk ends at the first error");
        // An empty run and an all-zero run hold no records.
        assert!(walk(&[]).is_empty());
        assert!(walk(&[0u8; 3 * ALIGN]).is_empty());
    }

    #[test]
    fn truncated_input_at_every_length() {
        let rec = (b"key".to_vec(), 5, 0, vec![7u8; 300]);
        let bytes = encode(&rec);
        for cut in 0..bytes.len() {
            let needed = if cut < RECORD_HEADER_LEN {
                RECORD_HEADER_LEN
            } else {
                bytes.len()
            };
            assert_eq!(
                decode_record(&bytes[..cut]),
                Err(RecordError::Truncated {
                    needed,
                    available: cut
                }),
                "cut at {cut}"
            );
            // Walked as a (short) block run: a truncated record, never a record.
            if cut >= RECORD_HEADER_LEN {
                assert!(matches!(
                    walk(&bytes[..cut])[..],
                    [Err(RecordError::Truncated { .. })]
                ));
            }
        }
        assert_is(&decode_record(&bytes).unwrap(), &rec);
    }

    proptest! {
        #[test]
        fn round_trip(rec in arb_rec(10_000), slack in 0usize..64) {
            let exact = encode(&rec);
            assert_is(&decode_record(&exact).unwrap(), &rec);
            // In a larger buffer: same length written, and decode stops at the record.
            let mut out = vec![0x55u8; exact.len() + slack];
            let n = encode_record(&mut out, &rec.0, rec.1, rec.2, &rec.3).unwrap();
            prop_assert_eq!(n, exact.len());
            prop_assert_eq!(&out[..n], &exact[..]);
            assert_is(&decode_record(&out).unwrap(), &rec);
        }

        #[test]
        fn packed_records_come_back_at_their_offsets(recs in vec(arb_rec(3000), 0..60)) {
            let (run, offsets) = pack(&recs);
            let got = walk(&run);
            prop_assert_eq!(got.len(), recs.len());
            for ((item, rec), at) in got.iter().zip(&recs).zip(&offsets) {
                let (off, r) = item.as_ref().expect("valid record");
                prop_assert_eq!(off, at);
                assert_is(r, rec);
            }
        }

        #[test]
        fn any_single_byte_corruption_is_an_error(
            rec in arb_rec(2000),
            at in any::<prop::sample::Index>(),
            mask in 1u8..,
        ) {
            let mut bytes = encode(&rec);
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
            prop_assert!(decode_record(&bytes).is_err(), "flip at {} decoded", at);
            // In a block run, followed by a valid record: the corrupt one never comes
            // back as a record (the walk stops, or reports an error, before it).
            let next: Rec = (b"next".to_vec(), 1, 0, b"v".to_vec());
            let (mut run, offsets) = pack(&[rec.clone(), next]);
            run[offsets[0] + at] ^= mask;
            let got = walk(&run);
            prop_assert!(got.first().is_some_and(|r| r.is_err()), "flip at {} walked", at);
        }
    }
}
