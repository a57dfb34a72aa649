//! The cold tier: values demoted out of RAM into segment files on NVMe.
//!
//! A segment is a file of 4 KiB blocks ([`ALIGN`](crate::io::ALIGN)), written and read
//! with O_DIRECT through the [I/O engine](crate::io). It holds records of demoted
//! values, packed many to a block when small and spanning blocks when large; each
//! record carries its key, the index's hash of the key, the value's lengths and a
//! crc32, so a read checks that it got the record it asked for.
//!
//! What exists now:
//! - [`record`]: the byte layout of one record ([`encode_record`], [`decode_record`])
//!   and the walk over a run of blocks ([`records_in_block_run`]), documented byte by
//!   byte in `docs/FORMAT.md`.
//! - [`location`]: [`ColdLocation`], the one-word address of a record (segment,
//!   offset, length code, value type) an index entry of a cold key holds.
//! - [`ColdStore`] (`store`): the segment store. Appends records (packed, the tail
//!   block kept in RAM and rewritten by the next append; one write per segment
//!   touched), reads them back asynchronously (reads of the same span in flight at
//!   once share one device read), keeps each segment's live bytes, and gives the
//!   reclaimer what it needs (the emptiest sealed segment, all its records, retiring
//!   it). Its parts: `segment` (one file and its counters), `writer` (the append
//!   path), `reader` (read merging and record checks), `error` ([`ColdError`]).
//!
//! Still to come (issue 3, being written against [`ColdStore`]'s API): the demoter
//! (moving values out of RAM when memory runs short), promotion (bringing hot cold
//! values back), and the reclaimer thread.

mod error;
pub mod location;
mod reader;
pub mod record;
mod segment;
mod store;
mod writer;

#[cfg(test)]
mod tests;

pub use error::ColdError;
pub use location::{ColdLocation, MAX_RECORD_LEN, MAX_SEGMENT_ID, MAX_SEGMENT_SIZE};
pub use record::{
    decode_record, encode_record, record_len, record_start, records_in_block_run,
    records_in_block_run_from, BlockRunRecords, RecordError, RecordRef, KIND_VALUE,
    RECORD_HEADER_LEN, VALUE_TYPE_HASH, VALUE_TYPE_LIST, VALUE_TYPE_SET, VALUE_TYPE_STRING,
    VALUE_TYPE_ZSET,
};
pub use segment::{file_name as segment_file_name, parse_file_name as parse_segment_file_name};
pub use store::{
    ColdRecord, ColdStats, ColdStore, ColdStoreConfig, NewRecord, SegmentHold, SegmentRecords,
    DEFAULT_SEGMENT_SIZE, MIN_SEGMENT_SIZE,
};
