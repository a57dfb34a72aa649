//! The Tier engine: the keyspace of a Redis-compatible node. It owns the lock-free
//! index, the value types, expiry and memory accounting. It has no networking: a
//! program can embed it.
//!
//! - [`index`]: the concurrent hash table (epoch-guarded reads, striped writes).
//! - [`keyspace`]: databases, entries, TTLs, active expiry.
//! - [`value`]: the Redis values.
//! - [`memory`]: the counting allocator behind `used_memory`.
//! - [`io`]: the cold tier's I/O engine (io_uring or a thread pool, O_DIRECT).
//! - [`cold`]: the cold tier: records in 4 KiB blocks of segment files, and the
//!   segment store that appends, reads and reclaims them.
//! - [`snapshot`]: snapshot files, one point-in-time copy of every key, written and
//!   read as a stream of compressed, checksummed chunks.
//! - [`aof`]: the append-only file: the manifest and its increments, the writer with
//!   its fsync policies, and replay.
//! - [`splitargs`]: Redis's argument splitting and quoting (`sdssplitargs`).

pub mod aof;
pub mod cold;
pub mod glob;
pub mod index;
pub mod io;
pub mod keyspace;
pub mod memory;
pub mod snapshot;
pub mod splitargs;
pub mod stats;
pub mod tier;
pub mod value;

/// Pins the current thread's epoch: entries read under the guard stay valid until it
/// is dropped.
pub use crossbeam_epoch::{pin, Guard};
pub use index::LockMode;
pub use keyspace::{now_ms, Db, DbRef, DeadRecordSink, Entry, Keyspace, SlotRef, Txn};
pub use value::Value;
