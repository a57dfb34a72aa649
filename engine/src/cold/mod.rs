//! The cold tier: values demoted out of RAM into segment files on NVMe.
//!
//! A segment is an append-only file of 4 KiB blocks ([`ALIGN`](crate::io::ALIGN)),
//! written and read with O_DIRECT through the [I/O engine](crate::io). It holds
//! records of demoted values, packed many to a block when small and spanning blocks
//! when large; each record carries its key, the index's hash of the key, the value's
//! lengths and a crc32, so a read checks that it got the record it asked for.
//!
//! What exists now:
//! - [`record`]: the byte layout of one record ([`encode_record`], [`decode_record`])
//!   and the walk over a run of blocks ([`records_in_block_run`]), documented byte by
//!   byte in `docs/FORMAT.md`.
//!
//! Still to come (issue 3): segment files and their writer (the flusher filling
//! [`AlignedBuf`](crate::io::AlignedBuf)s), the packed location (segment, offset,
//! length) an index entry of a cold key holds, the demoter, cold reads, promotion and
//! the reclaimer.

pub mod location;
pub mod record;

pub use location::{ColdLocation, MAX_RECORD_LEN, MAX_SEGMENT_ID, MAX_SEGMENT_SIZE};

pub use record::{
    decode_record, encode_record, record_len, record_start, records_in_block_run, BlockRunRecords,
    RecordError, RecordRef, KIND_VALUE, RECORD_HEADER_LEN, VALUE_TYPE_STRING,
};
