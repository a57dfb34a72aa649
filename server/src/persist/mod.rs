//! Durability: the AOF every write reaches before its reply, snapshots (SAVE, BGSAVE,
//! the base of an AOF rewrite), and loading them at start.
//!
//! - [`Persistence`]: the node's persistence state, in [`Shared`]: the AOF once open,
//!   whether the dataset is loading, and the figures INFO reports.
//! - [`ChangeLog`]: the keyspace's command log (see `tier_engine::keyspace::log`): it
//!   counts changes for the `save` points and appends them to the AOF, with the SELECTs
//!   between, in the order they took effect.
//! - `load`: start-up: the AOF (its base snapshot, then its increments) or the
//!   snapshot file, while clients get `-LOADING`.
//! - `jobs`: SAVE, BGSAVE, BGREWRITEAOF, and their automatic triggers.
//! - [`stream`]: TIER SNAPSHOT, a snapshot streamed to a client.
//!
//! A write is acknowledged only once the AOF holds it as `appendfsync` promises: the
//! connection waits for the position of its last append before it sends the replies
//! of a batch (see [`take_appended`]).

mod jobs;
mod load;
pub mod stream;

pub use jobs::{bgrewriteaof, bgsave, busy_error, cron_jobs, save_now, JobKind, Refused};
pub use load::{load_at_start, load_read_only};

use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tier_engine::aof::{AofError, AofLog, Lsn, StdAofFs};
use tier_engine::keyspace::CommandLog;

/// The error a write gets while the AOF cannot be written (Redis's text).
pub fn misconf_error(why: &str) -> String {
    format!("MISCONF Errors writing to the AOF file: {why}")
}

/// The error a command gets while the dataset loads (Redis's text).
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// The open AOF (the SELECTs between commands are its business).
pub type Aof = AofLog<StdAofFs>;

/// The state of a background job (BGSAVE, BGREWRITEAOF) for INFO.
#[derive(Default)]
pub struct JobState {
    pub running_since: Option<std::time::Instant>,
    pub last_ok: Option<bool>,
    pub last_secs: Option<u64>,
    pub runs: u64,
}

/// Loading progress for INFO while `loading:1`.
#[derive(Default)]
pub struct LoadingState {
    pub started_unix: AtomicU64,
    pub total_bytes: AtomicU64,
    pub loaded_bytes: AtomicU64,
    pub loaded_keys: AtomicU64,
}

/// The node's persistence state.
pub struct Persistence {
    aof: OnceLock<Aof>,
    /// The dataset is being loaded: commands other than the few allowed then get
    /// `-LOADING`, and active expiry waits.
    loading: AtomicBool,
    pub loading_state: LoadingState,
    /// Changes since the last successful save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    /// `dirty` when the running save began (what a success clears).
    pub dirty_at_save_start: AtomicU64,
    pub save_job: Mutex<JobState>,
    pub rewrite_job: Mutex<JobState>,
    /// A BGREWRITEAOF asked for while a BGSAVE runs (`aof_rewrite_scheduled`).
    pub rewrite_scheduled: AtomicBool,
    /// A BGSAVE SCHEDULE asked for while a rewrite runs.
    pub save_scheduled: AtomicBool,
    /// The AOF's size after the last rewrite (or at start), and the writer's
    /// `bytes_written` then: the automatic rewrite's growth is measured from there
    /// (`aof_base_size`, `aof_current_size`).
    aof_base: Mutex<(u64, u64)>,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            aof: OnceLock::new(),
            loading: AtomicBool::new(false),
            loading_state: LoadingState::default(),
            dirty: AtomicU64::new(0),
            dirty_at_save_start: AtomicU64::new(0),
            save_job: Mutex::new(JobState::default()),
            rewrite_job: Mutex::new(JobState::default()),
            rewrite_scheduled: AtomicBool::new(false),
            save_scheduled: AtomicBool::new(false),
            aof_base: Mutex::new((0, 0)),
        }
    }
}

impl Persistence {
    /// The AOF, once open (with `appendonly yes`, after loading).
    pub fn aof(&self) -> Option<&Aof> {
        self.aof.get()
    }

    pub(crate) fn set_aof(&self, aof: Aof) {
        if self.aof.set(aof).is_err() {
            tracing::error!("the AOF was opened twice; keeping the first");
        }
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    pub(crate) fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::Release);
    }

    /// Why writes are refused now, if they are: the AOF failed a write or an fsync.
    pub fn write_refusal(&self) -> Option<String> {
        let failure = self.aof()?.writer.failure()?;
        Some(misconf_error(&failure.to_string()))
    }

    /// Records the AOF's size as the base of the automatic rewrite's growth.
    pub(crate) fn set_aof_base(&self, size: u64) {
        let written = self.aof().map_or(0, |aof| aof.status().bytes_written);
        *self.aof_base.lock() = (size, written);
    }

    /// `aof_base_size` and `aof_current_size`.
    pub fn aof_sizes(&self) -> (u64, u64) {
        let (base, written_then) = *self.aof_base.lock();
        let written = self.aof().map_or(0, |aof| aof.status().bytes_written);
        (base, base + written.saturating_sub(written_then))
    }

    /// Makes what the AOF holds durable (at shutdown).
    pub fn sync_aof(&self) -> Result<(), AofError> {
        match self.aof() {
            Some(aof) => aof.writer.durable(aof.status().appended).wait(),
            None => Ok(()),
        }
    }
}

/// What this thread's commands appended to the AOF since the last
/// [`take_appended`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Appended {
    #[default]
    Nothing,
    /// Up to this position.
    Upto(Lsn),
    /// An append failed: the change it carried is in RAM but not in the AOF, so the
    /// command must not be acknowledged.
    Failed,
}

impl Appended {
    /// Both: the later position, or a failure if either failed.
    pub fn and(self, other: Appended) -> Appended {
        match (self, other) {
            (Appended::Failed, _) | (_, Appended::Failed) => Appended::Failed,
            (Appended::Upto(a), Appended::Upto(b)) => Appended::Upto(a.max(b)),
            (Appended::Nothing, x) | (x, Appended::Nothing) => x,
        }
    }
}

thread_local! {
    static APPENDED: Cell<Appended> = const { Cell::new(Appended::Nothing) };
}

/// What the commands run on this thread appended since the last call. A command runs
/// on one thread from start to end (handlers do not await), so a connection calls
/// this right after each command to learn what to wait for before replying.
pub fn take_appended() -> Appended {
    APPENDED.with(|a| a.replace(Appended::Nothing))
}

/// The keyspace's command log (see the module docs).
pub struct ChangeLog {
    shared: Arc<Persistence>,
}

impl ChangeLog {
    pub fn new(shared: Arc<Persistence>) -> ChangeLog {
        ChangeLog { shared }
    }
}

impl CommandLog for ChangeLog {
    fn append(&self, db: usize, args: &[&[u8]]) {
        self.shared.dirty.fetch_add(1, Ordering::Relaxed);
        let Some(aof) = self.shared.aof() else {
            return;
        };
        let appended = match aof.append(db, args) {
            Ok(lsn) => Appended::Upto(lsn),
            Err(e) => {
                tracing::error!("cannot append to the AOF: {e}");
                Appended::Failed
            }
        };
        APPENDED.with(|a| a.set(a.get().and(appended)));
    }
}
