//! `tierctl snapshot --dir DATA -o FILE`: the snapshot a tierd started on DATA would
//! hold, taken offline and without changing DATA: the AOF's base and increments (or
//! the snapshot file) loaded into a keyspace in memory exactly as tierd loads them
//! at start (`tier_server::persist::load_read_only`: the same replay through the
//! command path; a torn tail of the last increment is read up to its last whole
//! command and left in place), then saved as one snapshot file.

use std::path::Path;
use std::sync::Arc;

use tier_engine::aof::{AofError, TornTail};
use tier_engine::snapshot::{save, SnapshotSummary};
use tier_server::config::Config;
use tier_server::persist;
use tier_server::shared::Shared;

use crate::datadir::DataDir;
use crate::error::Failure;
use crate::files::write_snapshot;

/// What an offline snapshot did.
pub struct Offline {
    pub summary: SnapshotSummary,
    /// The torn tail the load stopped at (left in DATA as it is).
    pub torn: Option<TornTail>,
}

/// Loads the data dir `data` (whose keys live in `databases` databases, as tierd's
/// `databases` option) and writes its snapshot to `out`.
pub fn snapshot(data: &Path, databases: u32, out: &Path) -> Result<Offline, Failure> {
    // The same check as `verify DIR`'s first: a data dir, and a sound manifest.
    DataDir::open(data)?;
    let config = Config {
        dir: data.to_path_buf(),
        databases,
        ..Config::default()
    };
    let shared = Arc::new(Shared::new(config, Box::new(|_| {})));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(format!("cannot start a runtime: {e}")))?;
    let torn = runtime
        .block_on(persist::load_read_only(&shared))
        .map_err(|e| {
            let message = format!("{}: cannot load it as tierd would: {e:#}", data.display());
            let io = e.chain().any(|cause| {
                cause.is::<std::io::Error>()
                    || matches!(cause.downcast_ref(), Some(AofError::Io { .. }))
            });
            if io {
                Failure::Io(message)
            } else {
                Failure::Corrupt(message)
            }
        })?;
    let summary = write_snapshot(out, |file| {
        save(&shared.keyspace, None, file, || {})
            .map(drop)
            .map_err(|e| Failure::io(out, e))
    })?;
    Ok(Offline { summary, torn })
}
