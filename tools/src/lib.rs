//! Tier's command-line tools, as a library their binaries call. `tierctl` (the binary
//! in `src/bin/tierctl.rs`) checks, inspects, takes and restores snapshots;
//! `tierbench` (`src/bin/tierbench.rs`) loads a server and measures it.
//!
//! - [`bench`]: tierbench's load, device run, results and plots.
//! - [`verify`]: the report of a sound snapshot file; the check of a data dir.
//! - [`inspect`]: what a snapshot or a data dir holds, as text or JSON.
//! - [`datadir`]: a tierd data dir read without changing it: the AOF and the
//!   snapshot file, every increment's commands.
//! - [`restore`]: a snapshot installed as a data dir's AOF base, atomically.
//! - [`online`]: a snapshot of a running tierd (TIER SNAPSHOT), and [`stream`], its
//!   reply's decoder.
//! - [`offline`]: the snapshot of a data dir, loaded as tierd loads it.
//! - [`files`]: snapshot files read with a progress bar, and written whole or not at
//!   all; [`progress`]: the bars.
//! - [`error`]: why a command failed, and its exit status.
//! - [`text`]: how keys and times are printed.

pub mod bench;
pub mod datadir;
pub mod error;
pub mod files;
pub mod inspect;
pub mod offline;
pub mod online;
pub mod progress;
pub mod restore;
pub mod stream;
pub mod text;
pub mod verify;
