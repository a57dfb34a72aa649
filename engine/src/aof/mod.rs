//! The append-only file layer: where write commands go before their replies, and
//! where a restart finds them. It knows files, bytes and commands as RESP arrays; it
//! knows nothing of what the commands mean (the server encodes them and replays them).
//!
//! The layout is Redis 7's multi-part AOF: a directory holding a manifest that names
//! one base (a Tier snapshot, loaded by the snapshot layer) and the increments after
//! it (RESP command streams).
//!
//! - [`manifest`]: [`Manifest`] (parse, encode, next files) and [`AofDir`] (load or
//!   start a directory, switch manifests atomically, remove history files).
//! - [`replay`]: [`CommandReader`] and [`AofDir::replay_incrs`]: the increments read
//!   back, a torn tail of the last one told apart from corruption.
//! - [`AofFs`]: the file operations, over `std::fs` ([`StdAofFs`]) or simulated with
//!   power loss and faults ([`SimAofFs`]).

mod error;
mod fs;
pub mod manifest;
pub mod replay;
mod sim;

pub use error::{AofError, Malformed, WriteFailure, WriteOp};
pub use fs::{AofFs, StdAofFs};
pub use manifest::{AofDir, FileKind, Manifest, ManifestEntry};
pub use replay::{
    encode_command, Command, CommandReader, Parsed, ReplayLimits, ReplaySummary, TornTail,
};
pub use sim::{SimAofFs, SimFile};
