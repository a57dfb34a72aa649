//! Tier's command-line tools, as a library their binaries call. `tierctl` (the binary
//! in `src/bin/tierctl.rs`) checks and inspects snapshot files offline: `verify` and
//! `inspect`. Its online commands (`snapshot` of a running node, `restore`) come with
//! the server's durability work, and `tierbench` (the load generator) with the
//! benchmark issue.
//!
//! - [`progress`]: a snapshot file opened for reading, with a progress bar on stderr.
//! - [`verify`]: the report of a sound file.
//! - [`inspect`]: what a snapshot holds, by type and database, its TTLs and biggest
//!   keys, as text or JSON.
//! - [`text`]: how keys and times are printed.

pub mod inspect;
pub mod progress;
pub mod text;
pub mod verify;
