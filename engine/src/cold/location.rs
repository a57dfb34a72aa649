//! [`ColdLocation`]: where a demoted value's record lives, packed into the one word an
//! index entry keeps for it, so a cold key costs RAM for its key and a few words only.
//!
//! | bits   | field                                                             |
//! |--------|-------------------------------------------------------------------|
//! | 0      | always 1: tells a location from a pointer to a value in RAM       |
//! | 1..4   | value type (the record's type byte, so TYPE needs no disk read)   |
//! | 4..24  | segment id (20 bits)                                              |
//! | 24..50 | byte offset of the record in its segment (26 bits: below 64 MiB) |
//! | 50..64 | length code (14 bits, see below)                                  |
//!
//! The length code holds a record's exact length when it is below
//! [`EXACT_LEN_LIMIT`]; above, the length rounded up to whole 4 KiB units
//! (`EXACT_LEN_LIMIT + units - 1`). Either way [`ColdLocation::accounted_len`] is what
//! the live-byte accounting adds and subtracts, and [`ColdLocation::read_span`] is an
//! aligned range that covers the whole record (for rounded lengths it may reach a
//! little past the record, or past the end of the file; a read stops there).

use std::num::NonZeroU64;

use crate::io::ALIGN;

const TAG_BITS: u32 = 1;
const TYPE_BITS: u32 = 3;
const SEGMENT_BITS: u32 = 20;
const OFFSET_BITS: u32 = 26;
const LEN_BITS: u32 = 14;

const TYPE_SHIFT: u32 = TAG_BITS;
const SEGMENT_SHIFT: u32 = TYPE_SHIFT + TYPE_BITS;
const OFFSET_SHIFT: u32 = SEGMENT_SHIFT + SEGMENT_BITS;
const LEN_SHIFT: u32 = OFFSET_SHIFT + OFFSET_BITS;

const fn mask(bits: u32) -> u64 {
    (1 << bits) - 1
}

/// The largest segment id.
pub const MAX_SEGMENT_ID: u32 = mask(SEGMENT_BITS) as u32;

/// Records start below this offset in their segment, so no segment is larger
/// (the most `tier-segment-size` may be).
pub const MAX_SEGMENT_SIZE: u64 = 1 << OFFSET_BITS;

/// Records shorter than this are located with their exact length.
pub const EXACT_LEN_LIMIT: usize = 1 << (LEN_BITS - 1);

/// The longest record a location can name (header, key and value): 32 MiB. A value
/// whose record would be longer stays in RAM.
pub const MAX_RECORD_LEN: usize = (mask(LEN_BITS) as usize - EXACT_LEN_LIMIT + 1) * ALIGN;

/// The place of one record in the cold tier. Never zero (bit 0 is always set), so an
/// `Option<ColdLocation>` is one word.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColdLocation(NonZeroU64);

impl ColdLocation {
    /// The location of a record of `record_len` bytes (header, key and value) at byte
    /// `offset` of segment `segment`, holding a value of type `value_type`. None when a
    /// field does not fit: a segment id above [`MAX_SEGMENT_ID`], an offset at or past
    /// [`MAX_SEGMENT_SIZE`], a record longer than [`MAX_RECORD_LEN`] or empty, or a
    /// value type above 7.
    pub fn new(segment: u32, offset: u64, record_len: usize, value_type: u8) -> Option<Self> {
        if segment > MAX_SEGMENT_ID
            || offset >= MAX_SEGMENT_SIZE
            || record_len == 0
            || record_len > MAX_RECORD_LEN
            || u64::from(value_type) > mask(TYPE_BITS)
        {
            return None;
        }
        let len_code = if record_len < EXACT_LEN_LIMIT {
            record_len
        } else {
            EXACT_LEN_LIMIT + record_len.div_ceil(ALIGN) - 1
        } as u64;
        let bits = 1
            | u64::from(value_type) << TYPE_SHIFT
            | u64::from(segment) << SEGMENT_SHIFT
            | offset << OFFSET_SHIFT
            | len_code << LEN_SHIFT;
        NonZeroU64::new(bits).map(ColdLocation)
    }

    /// A location from the word [`ColdLocation::bits`] gave; None unless bit 0 is set
    /// and the length code is not zero.
    pub fn from_bits(bits: u64) -> Option<Self> {
        let loc = NonZeroU64::new(bits).map(ColdLocation)?;
        (bits & 1 == 1 && loc.len_code() != 0).then_some(loc)
    }

    /// The packed word (bit 0 set).
    pub fn bits(self) -> u64 {
        self.0.get()
    }

    /// The value type byte of the record.
    pub fn value_type(self) -> u8 {
        (self.field(TYPE_SHIFT, TYPE_BITS)) as u8
    }

    /// The segment holding the record.
    pub fn segment(self) -> u32 {
        self.field(SEGMENT_SHIFT, SEGMENT_BITS) as u32
    }

    /// The record's byte offset in its segment.
    pub fn offset(self) -> u64 {
        self.field(OFFSET_SHIFT, OFFSET_BITS)
    }

    fn len_code(self) -> usize {
        self.field(LEN_SHIFT, LEN_BITS) as usize
    }

    fn field(self, shift: u32, bits: u32) -> u64 {
        (self.0.get() >> shift) & mask(bits)
    }

    /// Whether the length is exact (else it is rounded up to 4 KiB units).
    pub fn is_exact_len(self) -> bool {
        self.len_code() < EXACT_LEN_LIMIT
    }

    /// The record's length as the live-byte accounting counts it: exact below
    /// [`EXACT_LEN_LIMIT`], rounded up to a multiple of 4 KiB above.
    pub fn accounted_len(self) -> usize {
        let code = self.len_code();
        if code < EXACT_LEN_LIMIT {
            code
        } else {
            (code - EXACT_LEN_LIMIT + 1) * ALIGN
        }
    }

    /// The aligned byte range `(offset, len)` of the segment to read to get the whole
    /// record: from the start of the block it begins in to the end of the block that
    /// holds its last byte (by [`accounted_len`](Self::accounted_len)).
    pub fn read_span(self) -> (u64, usize) {
        let start = self.offset() - self.offset() % ALIGN as u64;
        let skip = (self.offset() - start) as usize;
        let len = (skip + self.accounted_len()).div_ceil(ALIGN) * ALIGN;
        (start, len)
    }
}

impl std::fmt::Debug for ColdLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColdLocation")
            .field("segment", &self.segment())
            .field("offset", &self.offset())
            .field("len", &self.accounted_len())
            .field("exact", &self.is_exact_len())
            .field("value_type", &self.value_type())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits() {
        assert_eq!(MAX_SEGMENT_SIZE, 64 << 20);
        assert_eq!(MAX_RECORD_LEN, 32 << 20);
        assert!(ColdLocation::new(MAX_SEGMENT_ID + 1, 0, 100, 0).is_none());
        assert!(ColdLocation::new(0, MAX_SEGMENT_SIZE, 100, 0).is_none());
        assert!(ColdLocation::new(0, 0, 0, 0).is_none());
        assert!(ColdLocation::new(0, 0, MAX_RECORD_LEN + 1, 0).is_none());
        assert!(ColdLocation::new(0, 0, 100, 8).is_none());
        let big = ColdLocation::new(MAX_SEGMENT_ID, MAX_SEGMENT_SIZE - 1, MAX_RECORD_LEN, 7)
            .expect("largest fields fit");
        assert_eq!(big.segment(), MAX_SEGMENT_ID);
        assert_eq!(big.offset(), MAX_SEGMENT_SIZE - 1);
        assert_eq!(big.accounted_len(), MAX_RECORD_LEN);
        assert_eq!(big.value_type(), 7);
        assert!(ColdLocation::from_bits(0).is_none());
        assert!(ColdLocation::from_bits(2).is_none());
        assert!(ColdLocation::from_bits(1).is_none(), "a zero length code");
    }

    #[test]
    fn read_span_covers_the_record() {
        let loc = ColdLocation::new(3, 4096 * 5 + 4000, 200, 0).expect("fits");
        assert_eq!(loc.read_span(), (4096 * 5, 8192));
        let loc = ColdLocation::new(3, 4096, 4096, 0).expect("fits");
        assert_eq!(loc.read_span(), (4096, 4096));
        let loc = ColdLocation::new(3, 100, EXACT_LEN_LIMIT + 1, 0).expect("fits");
        assert!(!loc.is_exact_len());
        assert_eq!(loc.accounted_len(), 12288);
        assert_eq!(loc.read_span(), (0, 16384));
    }

    proptest! {
        #[test]
        fn round_trip(
            segment in 0..=MAX_SEGMENT_ID,
            offset in 0..MAX_SEGMENT_SIZE,
            len in 1..=MAX_RECORD_LEN,
            value_type in 0u8..8,
        ) {
            let loc = ColdLocation::new(segment, offset, len, value_type).expect("fits");
            prop_assert_eq!(loc.bits() & 1, 1);
            prop_assert_eq!(ColdLocation::from_bits(loc.bits()), Some(loc));
            prop_assert_eq!(loc.segment(), segment);
            prop_assert_eq!(loc.offset(), offset);
            prop_assert_eq!(loc.value_type(), value_type);
            prop_assert!(loc.accounted_len() >= len);
            prop_assert!(loc.accounted_len() < len + ALIGN);
            prop_assert_eq!(loc.is_exact_len(), len < EXACT_LEN_LIMIT);
            if loc.is_exact_len() {
                prop_assert_eq!(loc.accounted_len(), len);
            }
            let (start, span) = loc.read_span();
            prop_assert_eq!(start % ALIGN as u64, 0);
            prop_assert_eq!(span % ALIGN, 0);
            prop_assert!(start <= offset);
            prop_assert!(start + span as u64 >= offset + len as u64);
        }
    }
}
