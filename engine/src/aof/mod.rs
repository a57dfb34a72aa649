//! The append-only file layer: where write commands go before their replies, and
//! where a restart finds them. It knows files, bytes and commands as RESP arrays; it
//! knows nothing of what the commands mean (the server encodes them and replays them).
//!
//! The layout is Redis 7's multi-part AOF: a directory holding a manifest that names
//! one base (a Tier snapshot, loaded by the snapshot layer) and the increments after
//! it (RESP command streams). Documented byte by byte in `docs/FORMAT.md` ("AOF").
//!
//! - [`manifest`]: [`Manifest`] (parse, encode, next files) and [`AofDir`] (load or
//!   start a directory, switch manifests atomically, remove history files).
//! - [`AofLog`]: the writer as the keyspace's command log uses it: commands on
//!   numbered databases, with the SELECTs between.
//! - [`writer`]: [`AofWriter`]: appends in order, group commit, the `appendfsync`
//!   policies ([`FsyncPolicy`]), sticky failure, rotation, status for INFO.
//! - [`replay`]: [`CommandReader`] and [`AofDir::replay_incrs`]: the increments read
//!   back, a torn tail of the last one told apart from corruption.
//! - [`AofFs`]: the file operations, over `std::fs` ([`StdAofFs`]) or simulated with
//!   power loss and faults ([`SimAofFs`]).
//!
//! Start-up, for the server: [`AofDir::open`]; load the base; replay the increments,
//! cutting a torn tail off the last one if `aof-load-truncated` allows; then
//! [`AofWriter::open`]. A rewrite: [`AofWriter::rotate`] at the snapshot's point in
//! time, write the snapshot to [`AofWriter::next_base`]'s path and fsync it, then
//! [`AofWriter::install_base`] (`crate::snapshot::rewrite_aof` does all of it).

mod error;
mod fs;
mod log;
pub mod manifest;
pub mod replay;
mod sim;
pub mod writer;

#[cfg(test)]
mod tests;

pub use error::{AofError, Malformed, WriteFailure, WriteOp};
pub use fs::{AofFs, AppendWriter, StdAofFs};
pub use log::AofLog;
pub use manifest::{AofDir, FileKind, Manifest, ManifestEntry};
pub use replay::{
    encode_command, Command, CommandReader, Parsed, ReplayLimits, ReplaySummary, TornTail,
};
pub use sim::{SimAofFs, SimFile};
pub use writer::{
    AofStatus, AofWait, AofWriter, AofWriterConfig, FsyncPolicy, Lsn, Rotated, Rotation,
    UnknownFsyncPolicy,
};
