//! [`AofWriter`]: appends already-encoded commands to the current increment, and makes
//! them durable by the `appendfsync` policy ([`FsyncPolicy`]).
//!
//! [`append`](AofWriter::append) only copies the bytes into a buffer, in the order the
//! callers give them (they append while holding their keys' locks, so this is the
//! order of effect), and returns the command's [`Lsn`]. A dedicated thread (`aof-writer`)
//! writes the buffer to the increment; with `everysec` a second one (`aof-syncer`)
//! fsyncs in the background. A caller then waits, before it replies, for what the
//! policy promises ([`acked`](AofWriter::acked)), or for the fsync itself
//! ([`durable`](AofWriter::durable)), from a task (`.await`) or a thread (`.wait()`):
//!
//! - `always`: acknowledged once fsynced. Group commit: one write and one fdatasync
//!   cover everything every caller appended while the previous one ran.
//! - `everysec`: acknowledged once written; fsynced in the background about once a
//!   second. If an fsync stalls, the written but unsynced window grows; once its
//!   oldest byte is older than `max_unsynced` (2 s), acknowledgments wait for the
//!   fsync: writes slow down instead of the loss window growing (Redis postpones its
//!   write for up to 2 s, then blocks in it; `delayed_fsyncs` counts these stalls).
//! - `no`: acknowledged once written; never fsynced but on request
//!   ([`durable`](AofWriter::durable)), at a rotation and at close.
//!
//! A failed write or fsync is sticky: the writer refuses every later append, and
//! answers every wait for a byte it had not synced, with the cause (for the server's
//! `-MISCONF` replies). Nothing is ever reported durable that a completed fsync did
//! not cover.
//!
//! [`rotate`](AofWriter::rotate) opens the next increment for a rewrite: every byte
//! appended before the call is in the old increment, every byte after in the new one.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::{AofDir, AofError, AofFs, Manifest, ManifestEntry, WriteFailure, WriteOp};

/// A position in the stream of bytes appended since the writer opened: an append's
/// LSN is the position just past its last byte, so "durable >= lsn" covers it.
pub type Lsn = u64;

/// Buffers above this size are not kept for reuse after a write.
const MAX_KEPT_BUFFER: usize = 1 << 20;
/// How long the writer thread watches for the next append before it sleeps.
const WRITER_LINGER: Duration = Duration::from_micros(20);

/// `appendfsync`: when appended bytes are fsynced, and what an acknowledgment means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Acknowledge after the fsync that covers the append.
    Always,
    /// Acknowledge after the write; fsync about once a second.
    EverySec,
    /// Acknowledge after the write; the OS decides when it reaches the disk.
    No,
}

impl FsyncPolicy {
    /// The name `appendfsync` takes.
    /// Every policy.
    pub const ALL: [FsyncPolicy; 3] = [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No];

    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not `always`, `everysec` or `no`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFsyncPolicy(pub String);

impl fmt::Display for UnknownFsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown appendfsync policy {:?}", self.0)
    }
}

impl std::error::Error for UnknownFsyncPolicy {}

impl FromStr for FsyncPolicy {
    type Err = UnknownFsyncPolicy;

    /// Case-insensitive, as Redis reads config values.
    fn from_str(s: &str) -> Result<FsyncPolicy, UnknownFsyncPolicy> {
        FsyncPolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFsyncPolicy(s.to_owned()))
    }
}

/// How an [`AofWriter`] syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AofWriterConfig {
    /// `appendfsync` at open ([`AofWriter::set_fsync`] changes it). Default:
    /// `everysec`.
    pub fsync: FsyncPolicy,
    /// `everysec`: the time from one background fsync's start to the next. Default:
    /// 1 s.
    pub fsync_interval: Duration,
    /// `everysec`: the age of the oldest written but unsynced byte beyond which
    /// acknowledgments wait for the fsync. Default: 2 s.
    pub max_unsynced: Duration,
}

impl Default for AofWriterConfig {
    fn default() -> Self {
        AofWriterConfig {
            fsync: FsyncPolicy::EverySec,
            fsync_interval: Duration::from_secs(1),
            max_unsynced: Duration::from_secs(2),
        }
    }
}

/// The writer's figures, for INFO's persistence section.
#[derive(Debug, Clone)]
pub struct AofStatus {
    pub fsync: FsyncPolicy,
    /// Why the writer refuses writes, if it does (`aof_last_write_status:err`).
    pub failure: Option<Arc<WriteFailure>>,
    /// The increment being appended to.
    pub incr_name: String,
    /// Its size in bytes, including what it held when the writer opened it.
    pub incr_size: u64,
    /// Bytes written to increments since the writer opened.
    pub bytes_written: u64,
    /// Bytes appended but not written yet (`aof_buffer_length`).
    pub pending_bytes: u64,
    /// The end of the last append.
    pub appended: Lsn,
    /// Everything below is written to the increments.
    pub written: Lsn,
    /// Everything below is fsynced.
    pub durable: Lsn,
    /// Completed fsyncs of increments.
    pub fsyncs: u64,
    /// `everysec` stalls: times acknowledgments had to wait for a late fsync
    /// (`aof_delayed_fsync`).
    pub delayed_fsyncs: u64,
}

impl AofStatus {
    /// `aof_last_write_status`: no write or fsync has failed.
    pub fn last_write_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// The increment a rotation opened, and where it cut the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Bytes below this LSN are in the earlier increments, the rest in `incr`.
    pub cut: Lsn,
    /// The new increment: pass its `seq` to
    /// [`install_base`](AofWriter::install_base) as the first increment kept.
    pub incr: ManifestEntry,
}

/// Appends commands to the AOF and makes them durable; see the module docs.
pub struct AofWriter<F: AofFs> {
    shared: Arc<Shared<F>>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared<F: AofFs> {
    config: AofWriterConfig,
    fs: Arc<F>,
    dir_path: PathBuf,
    dir: Mutex<AofDir<F>>,
    state: Mutex<State<F>>,
    /// Wakes the writer thread: bytes appended, a sync or rotation asked for, close.
    work: Condvar,
    /// Wakes the syncer thread at close and when the policy changes.
    tick: Condvar,
    /// Wakes blocking waiters (async ones are in `State::wakers`).
    progress: Condvar,
    /// `State::appended`, readable without the lock: the writer thread watches it
    /// while it lingers before sleeping.
    appended_hint: AtomicU64,
}

struct State<F: AofFs> {
    /// The `appendfsync` policy now (it can change while the writer runs).
    fsync: FsyncPolicy,
    /// The appended bytes not taken by the writer thread yet: [taken, appended).
    pending: Vec<u8>,
    appended: Lsn,
    taken: Lsn,
    written: Lsn,
    durable: Lsn,
    /// A caller waits for everything below this to be durable.
    sync_wanted: Lsn,
    failure: Option<Arc<WriteFailure>>,
    rotation: Option<Arc<RotationSlot>>,
    file: Arc<F::File>,
    incr: ManifestEntry,
    incr_size: u64,
    bytes_written: u64,
    /// When the oldest written but unsynced byte may have been written.
    unsynced_since: Option<Instant>,
    /// The current everysec stall is counted in `delayed_fsyncs`.
    stall_counted: bool,
    fsyncs: u64,
    delayed_fsyncs: u64,
    wakers: Vec<std::task::Waker>,
    closing: bool,
}

struct RotationSlot {
    cut: Lsn,
    result: Mutex<Option<Result<Rotated, AofError>>>,
    done: Condvar,
}

impl RotationSlot {
    fn complete(&self, result: Result<Rotated, AofError>) {
        *self.result.lock() = Some(result);
        self.done.notify_all();
    }
}

/// A rotation under way: [`wait`](Self::wait) for the new increment.
#[must_use = "a rotation's outcome is only seen by waiting for it"]
pub struct Rotation {
    slot: Arc<RotationSlot>,
}

impl Rotation {
    /// Where the rotation cuts the stream (known at once).
    pub fn cut(&self) -> Lsn {
        self.slot.cut
    }

    /// Blocks until the new increment is open and listed in a durable manifest, or
    /// the rotation failed: [`AofError::RotationFailed`] if the writer goes on with
    /// the old increment, [`AofError::Failed`] if it failed for good.
    pub fn wait(self) -> Result<Rotated, AofError> {
        let mut result = self.slot.result.lock();
        loop {
            if let Some(result) = result.take() {
                return result;
            }
            self.slot.done.wait(&mut result);
        }
    }
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// What the policy promises before a reply.
    Acked,
    /// A completed fsync.
    Durable,
}

/// A wait for an LSN: `.await` it from a task, or [`wait`](Self::wait) from a thread.
#[must_use = "a wait does nothing unless awaited or waited for"]
pub struct AofWait<'a, F: AofFs> {
    shared: &'a Shared<F>,
    lsn: Lsn,
    target: Target,
}

impl<F: AofFs> AofWait<'_, F> {
    /// Blocks the calling thread until the wait is over. A task must `.await`
    /// instead, or it stalls its runtime's worker.
    pub fn wait(self) -> Result<(), AofError> {
        let mut state = self.shared.state.lock();
        loop {
            if let Some(result) = self.shared.check(&mut state, self.lsn, self.target) {
                return result;
            }
            self.shared.progress.wait(&mut state);
        }
    }
}

impl<F: AofFs> Future for AofWait<'_, F> {
    type Output = Result<(), AofError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.shared.state.lock();
        match self.shared.check(&mut state, self.lsn, self.target) {
            Some(result) => Poll::Ready(result),
            None => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// One step of the writer thread.
enum Job<F: AofFs> {
    Write(Vec<u8>),
    Sync(SyncJob<F>),
    Rotate(Arc<RotationSlot>),
}

/// An fsync of `file` (named `path`), which holds every byte below `target`.
struct SyncJob<F: AofFs> {
    file: Arc<F::File>,
    path: PathBuf,
    target: Lsn,
}

impl<F: AofFs> AofWriter<F> {
    /// Opens the writer on `dir`, appending to its last increment (or to a new one,
    /// listed in the manifest before this returns, when it has none). Replay the
    /// increments, and cut off a torn tail, before: appends go after the last byte.
    pub fn open(mut dir: AofDir<F>, config: AofWriterConfig) -> Result<AofWriter<F>, AofError> {
        let fs = Arc::clone(dir.fs());
        let (file, incr, incr_size) = match dir.manifest().incrs().last().cloned() {
            Some(incr) => {
                let path = dir.path_of(&incr.name);
                let (file, len) = fs.open_append(&path).map_err(|e| AofError::io(&path, e))?;
                (file, incr, len)
            }
            None => {
                let (file, incr) = dir.create_next_incr()?;
                (file, incr, 0)
            }
        };
        let dir_path = dir.dir().to_path_buf();
        let shared = Arc::new(Shared {
            config,
            fs,
            dir_path: dir_path.clone(),
            dir: Mutex::new(dir),
            state: Mutex::new(State {
                fsync: config.fsync,
                pending: Vec::new(),
                appended: 0,
                taken: 0,
                written: 0,
                durable: 0,
                sync_wanted: 0,
                failure: None,
                rotation: None,
                file: Arc::new(file),
                incr,
                incr_size,
                bytes_written: 0,
                unsynced_since: None,
                stall_counted: false,
                fsyncs: 0,
                delayed_fsyncs: 0,
                wakers: Vec::new(),
                closing: false,
            }),
            work: Condvar::new(),
            tick: Condvar::new(),
            progress: Condvar::new(),
            appended_hint: AtomicU64::new(0),
        });
        let mut writer = AofWriter {
            shared,
            threads: Vec::new(),
        };
        let spawn = |name: &str, run: fn(&Shared<F>), shared: &Arc<Shared<F>>| {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || run(&shared))
                .map_err(|e| AofError::io(&dir_path, e))
        };
        writer
            .threads
            .push(spawn("aof-writer", Shared::run_writer, &writer.shared)?);
        // It idles while the policy is not everysec.
        writer
            .threads
            .push(spawn("aof-syncer", Shared::run_syncer, &writer.shared)?);
        Ok(writer)
    }

    /// Appends `command` (RESP bytes, one or more whole commands) after everything
    /// appended before; returns its LSN. Never waits for I/O; fails only if the
    /// writer has failed.
    pub fn append(&self, command: &[u8]) -> Result<Lsn, AofError> {
        let mut state = self.shared.state.lock();
        if let Some(failure) = &state.failure {
            return Err(AofError::Failed(Arc::clone(failure)));
        }
        let was_idle = state.pending.is_empty();
        state.pending.extend_from_slice(command);
        state.appended += command.len() as u64;
        let lsn = state.appended;
        self.shared.appended_hint.store(lsn, Ordering::Release);
        drop(state);
        if was_idle {
            self.shared.work.notify_one();
        }
        Ok(lsn)
    }

    /// Waits until the append that returned `lsn` may be acknowledged under the
    /// policy (see the module docs). `lsn` must come from [`append`](Self::append).
    pub fn acked(&self, lsn: Lsn) -> AofWait<'_, F> {
        self.wait_for(lsn, Target::Acked)
    }

    /// Waits until an fsync covers `lsn`, asking for one at once if none is due (any
    /// policy). `lsn` must come from [`append`](Self::append).
    pub fn durable(&self, lsn: Lsn) -> AofWait<'_, F> {
        self.wait_for(lsn, Target::Durable)
    }

    fn wait_for(&self, lsn: Lsn, target: Target) -> AofWait<'_, F> {
        AofWait {
            shared: &self.shared,
            lsn,
            target,
        }
    }

    /// Starts a rotation: the bytes appended so far go to the current increment, and
    /// the writer thread then fsyncs it, creates the next one, lists it in a durable
    /// manifest and appends everything later there. Returns at once; the caller waits
    /// on the [`Rotation`] (appends go on meanwhile; they are written after it).
    pub fn rotate(&self) -> Result<Rotation, AofError> {
        let mut state = self.shared.state.lock();
        if let Some(failure) = &state.failure {
            return Err(AofError::Failed(Arc::clone(failure)));
        }
        if state.rotation.is_some() {
            return Err(AofError::RotationInProgress);
        }
        let slot = Arc::new(RotationSlot {
            cut: state.appended,
            result: Mutex::new(None),
            done: Condvar::new(),
        });
        state.rotation = Some(Arc::clone(&slot));
        drop(state);
        self.shared.work.notify_one();
        Ok(Rotation { slot })
    }

    /// The entry of the next base and where to write it, for a rewrite.
    pub fn next_base(&self) -> Result<(ManifestEntry, PathBuf), AofError> {
        let dir = self.shared.dir.lock();
        let entry = dir.next_base()?;
        let path = dir.path_of(&entry.name);
        Ok((entry, path))
    }

    /// Ends a rewrite: see [`AofDir::install_base`]. `base` must be complete and
    /// fsynced; `first_kept_incr` is the `seq` of the increment the rotation at the
    /// base's point in time opened.
    pub fn install_base(&self, base: ManifestEntry, first_kept_incr: u64) -> Result<(), AofError> {
        self.shared.dir.lock().install_base(base, first_kept_incr)
    }

    /// Changes the `appendfsync` policy from now on (CONFIG SET appendfsync). Writes
    /// waiting for their acknowledgment are judged by the new policy; switching to
    /// `always` fsyncs what is written at once.
    pub fn set_fsync(&self, fsync: FsyncPolicy) {
        let mut state = self.shared.state.lock();
        state.fsync = fsync;
        let woken = self.shared.take_waiters(&mut state);
        drop(state);
        self.shared.work.notify_one();
        self.shared.tick.notify_all();
        woken.into_iter().for_each(std::task::Waker::wake);
    }

    /// The file system the AOF lives on.
    pub fn fs(&self) -> &Arc<F> {
        &self.shared.fs
    }

    /// The current manifest.
    pub fn manifest(&self) -> Manifest {
        self.shared.dir.lock().manifest().clone()
    }

    /// Why the writer refuses writes, if it does: [`AofStatus::failure`] without the
    /// rest (asked before every write command).
    pub fn failure(&self) -> Option<Arc<WriteFailure>> {
        self.shared.state.lock().failure.clone()
    }

    /// The writer's figures.
    pub fn status(&self) -> AofStatus {
        let state = self.shared.state.lock();
        AofStatus {
            fsync: state.fsync,
            failure: state.failure.clone(),
            incr_name: state.incr.name.clone(),
            incr_size: state.incr_size,
            bytes_written: state.bytes_written,
            pending_bytes: state.appended - state.taken,
            appended: state.appended,
            written: state.written,
            durable: state.durable,
            fsyncs: state.fsyncs,
            delayed_fsyncs: state.delayed_fsyncs,
        }
    }

    /// Writes and fsyncs everything appended (whatever the policy, as Redis does at
    /// shutdown), stops the threads, and says whether all of it is durable.
    pub fn close(mut self) -> Result<(), AofError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), AofError> {
        if self.threads.is_empty() {
            return Ok(());
        }
        self.shared.state.lock().closing = true;
        self.shared.work.notify_all();
        self.shared.tick.notify_all();
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("an AOF thread panicked");
            }
        }
        match &self.shared.state.lock().failure {
            Some(failure) => Err(AofError::Failed(Arc::clone(failure))),
            None => Ok(()),
        }
    }
}

impl<F: AofFs> Drop for AofWriter<F> {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("closing the AOF: {e}");
        }
    }
}

impl<F: AofFs> Shared<F> {
    /// The outcome of a wait for `lsn` now, or `None` to keep waiting.
    fn check(
        &self,
        state: &mut State<F>,
        lsn: Lsn,
        target: Target,
    ) -> Option<Result<(), AofError>> {
        if state.durable >= lsn {
            return Some(Ok(()));
        }
        if let Some(failure) = &state.failure {
            return Some(Err(AofError::Failed(Arc::clone(failure))));
        }
        match (target, state.fsync) {
            (Target::Durable, _) | (Target::Acked, FsyncPolicy::Always) => {
                if state.sync_wanted < lsn {
                    state.sync_wanted = lsn.min(state.appended);
                    self.work.notify_one();
                }
            }
            (Target::Acked, FsyncPolicy::No) if state.written >= lsn => return Some(Ok(())),
            (Target::Acked, FsyncPolicy::EverySec) if state.written >= lsn => {
                let stalled = state
                    .unsynced_since
                    .is_some_and(|since| since.elapsed() > self.config.max_unsynced);
                if !stalled {
                    return Some(Ok(()));
                }
                if !state.stall_counted {
                    state.stall_counted = true;
                    state.delayed_fsyncs += 1;
                    tracing::warn!(
                        "the AOF fsync is taking too long (disk busy?): writes wait for it"
                    );
                }
            }
            (Target::Acked, _) => {}
        }
        None
    }

    /// Wakes every waiter to check its wait again.
    fn wake_waiters(&self, state: &mut State<F>) {
        for waker in self.take_waiters(state) {
            waker.wake();
        }
    }

    /// Wakes the blocking waiters and returns the tasks waiting, for the caller to
    /// wake once it has released the state: a task woken under the lock could find
    /// it held, and its worker thread would wait (the appends of every client go
    /// through this lock).
    fn take_waiters(&self, state: &mut State<F>) -> Vec<std::task::Waker> {
        self.progress.notify_all();
        std::mem::take(&mut state.wakers)
    }

    /// Fails the writer for good (the first failure is the one reported).
    fn fail(&self, state: &mut State<F>, op: WriteOp, path: PathBuf, error: std::io::Error) {
        let failure = Arc::clone(state.failure.get_or_insert_with(|| {
            let failure = Arc::new(WriteFailure { op, path, error });
            tracing::error!("the AOF refuses writes from now on: {failure}");
            failure
        }));
        if let Some(slot) = state.rotation.take() {
            slot.complete(Err(AofError::Failed(failure)));
        }
        self.wake_waiters(state);
    }

    fn incr_path(&self, state: &State<F>) -> PathBuf {
        self.dir_path.join(&state.incr.name)
    }

    /// An fsync of the current increment up to everything written.
    fn sync_job(&self, state: &State<F>) -> SyncJob<F> {
        SyncJob {
            file: Arc::clone(&state.file),
            path: self.incr_path(state),
            target: state.written,
        }
    }

    /// The writer thread's next step, if there is one: an fsync someone waits for
    /// first (so that a stream of appends cannot put it off: group commit is write
    /// everything pending, fsync, repeat), then a write, then a rotation.
    fn next_job(&self, state: &mut State<F>) -> Option<Job<F>> {
        if state.failure.is_some() {
            return None;
        }
        if state.durable < state.written
            && (state.fsync == FsyncPolicy::Always
                || state.sync_wanted > state.durable
                || state.rotation.is_some()
                || state.closing)
        {
            return Some(Job::Sync(self.sync_job(state)));
        }
        let end = state.rotation.as_ref().map_or(state.appended, |r| r.cut);
        if state.taken < end {
            let take = (end - state.taken) as usize;
            let batch = if take == state.pending.len() {
                std::mem::take(&mut state.pending)
            } else {
                state.pending.drain(..take).collect()
            };
            state.taken = end;
            return Some(Job::Write(batch));
        }
        state.rotation.clone().map(Job::Rotate)
    }

    fn run_writer(&self) {
        loop {
            let job = {
                let mut state = self.state.lock();
                let mut lingered = false;
                loop {
                    if let Some(job) = self.next_job(&mut state) {
                        break job;
                    }
                    if state.closing {
                        return;
                    }
                    // Whatever came while the lock was let go (an append, or a
                    // request whose wake-up found no sleeper) is seen by the next turn.
                    if !lingered {
                        lingered = true;
                        self.linger(&mut state);
                        continue;
                    }
                    self.work.wait(&mut state);
                }
            };
            match job {
                Job::Write(batch) => self.write(batch),
                Job::Sync(job) => self.sync(job),
                Job::Rotate(slot) => self.rotate(&slot),
            }
        }
    }

    /// Before the writer thread sleeps: watches for an append for a moment, with the
    /// state unlocked. Under a steady stream of writes the next one comes within
    /// microseconds, and a sleep and a wake-up (two context switches, and a futex
    /// call by the appender) would cost more than the wait.
    fn linger(&self, state: &mut MutexGuard<'_, State<F>>) {
        // Only with nothing left to take: else the loop would spin on appends that
        // the writer may not take yet (a failure, a rotation's cut).
        let taken = state.taken;
        if state.failure.is_some() || state.appended != taken {
            return;
        }
        MutexGuard::unlocked(state, || {
            let until = Instant::now() + WRITER_LINGER;
            while self.appended_hint.load(Ordering::Acquire) <= taken && Instant::now() < until {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
            }
        });
    }

    /// Writes `batch` to the current increment.
    fn write(&self, mut batch: Vec<u8>) {
        let (file, path) = {
            let state = self.state.lock();
            (Arc::clone(&state.file), self.incr_path(&state))
        };
        let started = Instant::now();
        // Room first: an fsync under `always` then writes the batch alone.
        let result = self
            .fs
            .reserve(&file, batch.len() as u64)
            .and_then(|()| self.fs.append(&file, &batch));
        let mut state = self.state.lock();
        let woken = match result {
            Ok(()) => {
                let len = batch.len() as u64;
                state.written += len;
                state.incr_size += len;
                state.bytes_written += len;
                if state.fsync == FsyncPolicy::Always {
                    // Every wait is for an fsync now: waking one would only put it back to sleep.
                    Vec::new()
                } else {
                    if state.unsynced_since.is_none() {
                        state.unsynced_since = Some(started);
                    }
                    self.take_waiters(&mut state)
                }
            }
            Err(e) => {
                self.fail(&mut state, WriteOp::Write, path, e);
                Vec::new()
            }
        };
        // The emptied batch becomes the pending buffer if that has taken nothing yet,
        // so that appends do not start from an empty allocation.
        batch.clear();
        if state.pending.is_empty() && batch.capacity() <= MAX_KEPT_BUFFER {
            std::mem::swap(&mut state.pending, &mut batch);
        }
        drop(state);
        woken.into_iter().for_each(std::task::Waker::wake);
    }

    /// Runs an fsync and records what it made durable.
    fn sync(&self, job: SyncJob<F>) {
        let started = Instant::now();
        let result = self.fs.sync_data(&job.file);
        let mut state = self.state.lock();
        let woken = match result {
            Ok(()) => {
                state.durable = state.durable.max(job.target);
                state.fsyncs += 1;
                state.stall_counted = false;
                // Bytes written after the fsync started may not be covered.
                state.unsynced_since = (state.written > state.durable).then_some(started);
                self.take_waiters(&mut state)
            }
            Err(e) => {
                self.fail(&mut state, WriteOp::Fsync, job.path, e);
                Vec::new()
            }
        };
        drop(state);
        woken.into_iter().for_each(std::task::Waker::wake);
    }

    /// Opens the next increment; the current one is written and fsynced to the cut.
    fn rotate(&self, slot: &RotationSlot) {
        let (result, switched) = {
            let mut dir = self.dir.lock();
            let before = dir.manifest().clone();
            let result = dir.create_next_incr();
            let switched = dir.manifest() != &before;
            (result, switched)
        };
        let mut state = self.state.lock();
        if state.failure.is_some() {
            // A failure meanwhile has already answered the rotation.
            return;
        }
        match result {
            Ok((file, incr)) => {
                tracing::info!("AOF: appending to the new increment {}", incr.name);
                state.file = Arc::new(file);
                state.incr = incr.clone();
                state.incr_size = 0;
                state.rotation = None;
                slot.complete(Ok(Rotated {
                    cut: slot.cut,
                    incr,
                }));
            }
            // The manifest on disk may name the new increment: appending to the old
            // one could put acknowledged bytes where a restart would not look.
            Err(e) if switched => {
                let (path, error) = match e {
                    AofError::Io { path, source } => (path, source),
                    other => (
                        self.dir_path.clone(),
                        std::io::Error::other(other.to_string()),
                    ),
                };
                self.fail(&mut state, WriteOp::Manifest, path, error);
            }
            Err(e) => {
                tracing::warn!("AOF rotation failed, appending to the same increment: {e}");
                state.rotation = None;
                slot.complete(Err(AofError::RotationFailed(Box::new(e))));
            }
        }
        drop(state);
        self.work.notify_one();
    }

    /// The `everysec` background fsync: one about every `fsync_interval` while
    /// something written is not synced, and the policy is everysec.
    fn run_syncer(&self) {
        let mut last = Instant::now();
        loop {
            let job = {
                let mut state = self.state.lock();
                loop {
                    if state.closing || state.failure.is_some() {
                        return;
                    }
                    let due = last + self.config.fsync_interval;
                    if state.fsync != FsyncPolicy::EverySec {
                        self.tick.wait(&mut state);
                        last = Instant::now();
                    } else if Instant::now() < due {
                        self.tick.wait_until(&mut state, due);
                    } else if state.durable < state.written {
                        break self.sync_job(&state);
                    } else {
                        last = Instant::now();
                    }
                }
            };
            last = Instant::now();
            self.sync(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::thread;

    use super::*;
    use crate::aof::{encode_command, ReplayLimits, SimAofFs};

    fn config(fsync: FsyncPolicy) -> AofWriterConfig {
        AofWriterConfig {
            fsync,
            fsync_interval: Duration::from_millis(20),
            max_unsynced: Duration::from_millis(100),
        }
    }

    fn open(fs: &Arc<SimAofFs>, config: AofWriterConfig) -> AofWriter<SimAofFs> {
        let dir = AofDir::open(Arc::clone(fs), "/aof", "t").unwrap();
        AofWriter::open(dir, config).unwrap()
    }

    fn set(key: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(
            &[b"SET".to_vec(), key.to_string().into_bytes(), b"v".to_vec()],
            &mut out,
        );
        out
    }

    /// The keys a restart from `fs` replays (cutting a torn tail off).
    fn replayed(fs: &SimAofFs) -> Vec<u64> {
        let dir = AofDir::open(Arc::new(fs.clone()), "/aof", "t").unwrap();
        let mut keys = Vec::new();
        dir.replay_incrs(ReplayLimits::default(), |_, command| {
            keys.push(
                std::str::from_utf8(&command.args[1])
                    .unwrap()
                    .parse()
                    .unwrap(),
            );
            Ok::<_, AofError>(())
        })
        .unwrap();
        keys
    }

    /// The policy changes while the writer runs: `no` acknowledges without an fsync,
    /// `always` then fsyncs before each acknowledgment, `everysec` syncs in the
    /// background.
    #[test]
    fn the_policy_changes_at_run_time() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::No));
        let lsn = writer.append(&set(1)).unwrap();
        writer.acked(lsn).wait().unwrap();
        assert_eq!(writer.status().fsyncs, 0);

        writer.set_fsync(FsyncPolicy::Always);
        assert_eq!(writer.status().fsync, FsyncPolicy::Always);
        let lsn = writer.append(&set(2)).unwrap();
        writer.acked(lsn).wait().unwrap();
        assert!(writer.status().durable >= lsn);

        writer.set_fsync(FsyncPolicy::EverySec);
        let lsn = writer.append(&set(3)).unwrap();
        writer.acked(lsn).wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while writer.status().durable < lsn {
            assert!(
                Instant::now() < deadline,
                "no background fsync under everysec"
            );
            thread::sleep(Duration::from_millis(5));
        }
        writer.close().unwrap();
        assert_eq!(replayed(&fs.crash(0)), [1, 2, 3]);
    }

    fn failure_op(result: Result<impl fmt::Debug, AofError>) -> WriteOp {
        match result {
            Err(AofError::Failed(failure)) => failure.op,
            other => panic!("expected a sticky failure, got {other:?}"),
        }
    }

    #[test]
    fn always_group_commits_and_acks_only_what_is_synced() {
        let fs = Arc::new(SimAofFs::new());
        fs.set_sync_delay(Duration::from_millis(2));
        let writer = open(&fs, config(FsyncPolicy::Always));
        let (threads, per_thread) = (8, 40);
        thread::scope(|scope| {
            for t in 0..threads {
                let writer = &writer;
                let fs = &fs;
                scope.spawn(move || {
                    for i in 0..per_thread {
                        let key = t * 1000 + i;
                        let lsn = writer.append(&set(key)).unwrap();
                        writer.acked(lsn).wait().unwrap();
                        // Acknowledged means it survives a crash now.
                        if i % 10 == 0 {
                            assert!(replayed(&fs.crash(key)).contains(&key));
                        }
                    }
                });
            }
        });
        let status = writer.status();
        assert_eq!(status.durable, status.appended);
        assert!(
            status.fsyncs < threads * per_thread,
            "{} fsyncs for {} appends: no group commit",
            status.fsyncs,
            threads * per_thread
        );
        assert_eq!(
            replayed(&fs.crash(0)).len(),
            (threads * per_thread) as usize
        );
        writer.close().unwrap();
    }

    #[test]
    fn everysec_acks_once_written_and_syncs_in_the_background() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::EverySec));
        let lsn = writer.append(&set(1)).unwrap();
        writer.acked(lsn).wait().unwrap();
        assert!(writer.status().written >= lsn);
        let deadline = Instant::now() + Duration::from_secs(10);
        while writer.status().durable < lsn {
            assert!(Instant::now() < deadline, "no background fsync");
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(replayed(&fs.crash(1)), [1]);
        assert_eq!(writer.status().delayed_fsyncs, 0);
    }

    #[test]
    fn everysec_waits_for_a_stalled_fsync_past_max_unsynced() {
        let fs = Arc::new(SimAofFs::new());
        let stall = Duration::from_millis(400);
        fs.set_sync_delay(stall);
        let config = config(FsyncPolicy::EverySec);
        let writer = open(&fs, config);
        let started = Instant::now();
        let mut slowest = Duration::ZERO;
        let mut appends = Vec::new();
        let mut key = 0;
        while started.elapsed() < Duration::from_millis(900) {
            let lsn = writer.append(&set(key)).unwrap();
            let before = Instant::now();
            writer.acked(lsn).wait().unwrap();
            let acked = Instant::now();
            slowest = slowest.max(acked - before);
            // At an acknowledgment, everything written more than max_unsynced ago
            // is durable (each earlier append was written by its own acknowledgment;
            // the slack covers this thread being descheduled).
            let durable = writer.status().durable;
            let bound = config.max_unsynced + Duration::from_millis(100);
            for &(written_by, lsn) in &appends {
                if written_by + bound < acked {
                    assert!(
                        lsn <= durable,
                        "acknowledged with an unsynced window over {bound:?}"
                    );
                }
            }
            appends.push((acked, lsn));
            key += 1;
            thread::sleep(Duration::from_millis(2));
        }
        let status = writer.status();
        assert!(status.delayed_fsyncs >= 1, "{status:?}");
        assert!(
            slowest >= Duration::from_millis(50),
            "acks never waited: {slowest:?}"
        );
        writer.close().unwrap();
        assert_eq!(replayed(&fs.crash(0)).len(), key as usize);
    }

    #[test]
    fn no_never_syncs_unless_asked() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::No));
        let lsn = writer.append(&set(7)).unwrap();
        writer.acked(lsn).wait().unwrap();
        thread::sleep(Duration::from_millis(60));
        assert_eq!(writer.status().fsyncs, 0);
        assert_eq!(writer.status().durable, 0);
        writer.durable(lsn).wait().unwrap();
        assert_eq!(writer.status().fsyncs, 1);
        assert_eq!(replayed(&fs.crash(3)), [7]);
    }

    #[test]
    fn close_writes_and_syncs_everything() {
        for fsync in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
            let fs = Arc::new(SimAofFs::new());
            let writer = open(&fs, config(fsync));
            for key in 0..100 {
                writer.append(&set(key)).unwrap();
            }
            writer.close().unwrap();
            assert_eq!(replayed(&fs.crash(9)).len(), 100, "{fsync}");
        }
    }

    #[test]
    fn a_failed_fsync_is_sticky_and_nothing_after_it_is_durable() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::Always));
        let first = writer.append(&set(1)).unwrap();
        writer.acked(first).wait().unwrap();
        fs.fail_sync(1);
        let second = writer.append(&set(2)).unwrap();
        assert_eq!(failure_op(writer.acked(second).wait()), WriteOp::Fsync);
        // What was synced before stays acknowledged; nothing else is.
        writer.acked(first).wait().unwrap();
        assert_eq!(failure_op(writer.durable(second).wait()), WriteOp::Fsync);
        assert_eq!(failure_op(writer.append(&set(3))), WriteOp::Fsync);
        assert_eq!(failure_op(writer.rotate().map(|r| r.cut())), WriteOp::Fsync);
        let status = writer.status();
        assert!(!status.last_write_ok());
        assert_eq!(status.durable, first);
        let message = status.failure.unwrap().to_string();
        assert!(
            message.contains("fsync of /aof/t.1.incr.aof failed"),
            "{message}"
        );
        assert_eq!(failure_op(writer.close()), WriteOp::Fsync);
    }

    #[test]
    fn a_failed_write_is_sticky_under_every_policy() {
        for fsync in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
            let fs = Arc::new(SimAofFs::new());
            let writer = open(&fs, config(fsync));
            fs.fail_write(1);
            let lsn = writer.append(&set(1)).unwrap();
            assert_eq!(
                failure_op(writer.acked(lsn).wait()),
                WriteOp::Write,
                "{fsync}"
            );
            assert_eq!(failure_op(writer.append(&set(2))), WriteOp::Write);
            assert_eq!(writer.status().durable, 0);
            // The half-written command is a torn tail, cut at the restart.
            assert!(replayed(&fs.crash(0)).is_empty());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_await_acknowledgments() {
        let fs = Arc::new(SimAofFs::new());
        let writer = Arc::new(open(&fs, config(FsyncPolicy::Always)));
        let mut tasks = Vec::new();
        for t in 0..16 {
            let writer = Arc::clone(&writer);
            tasks.push(tokio::spawn(async move {
                for i in 0..20 {
                    let lsn = writer.append(&set(t * 100 + i)).unwrap();
                    writer.acked(lsn).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(replayed(&fs.crash(0)).len(), 320);
    }

    #[test]
    fn a_rotation_cuts_the_stream_between_increments() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::EverySec));
        writer.append(&set(1)).unwrap();
        let rotation = writer.rotate().unwrap();
        assert!(matches!(writer.rotate(), Err(AofError::RotationInProgress)));
        let after = writer.append(&set(2)).unwrap();
        let rotated = rotation.wait().unwrap();
        assert_eq!(rotated.cut, set(1).len() as u64);
        assert_eq!(rotated.incr.name, "t.2.incr.aof");
        writer.append(&set(3)).unwrap();
        assert_eq!(writer.status().incr_name, "t.2.incr.aof");
        writer.acked(after).wait().unwrap();
        writer.close().unwrap();
        let contents = |name: &str| fs.contents(&Path::new("/aof").join(name)).unwrap();
        assert_eq!(contents("t.1.incr.aof"), set(1));
        assert_eq!(contents("t.2.incr.aof"), [set(2), set(3)].concat());
        assert_eq!(replayed(&fs.crash(0)), [1, 2, 3]);
    }

    #[test]
    fn a_rotation_that_cannot_write_the_manifest_keeps_the_old_increment() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::Always));
        writer
            .acked(writer.append(&set(1)).unwrap())
            .wait()
            .unwrap();
        // The rotation's next write is the temp manifest's.
        fs.fail_write(1);
        match writer.rotate().unwrap().wait() {
            Err(AofError::RotationFailed(_)) => {}
            other => panic!("{other:?}"),
        }
        assert!(writer.status().last_write_ok());
        writer
            .acked(writer.append(&set(2)).unwrap())
            .wait()
            .unwrap();
        assert_eq!(writer.status().incr_name, "t.1.incr.aof");
        assert_eq!(writer.manifest().incrs().len(), 1);
        assert_eq!(replayed(&fs.crash(0)), [1, 2]);
    }

    #[test]
    fn a_rewrite_installs_a_base_and_drops_what_it_covers() {
        let fs = Arc::new(SimAofFs::new());
        let writer = open(&fs, config(FsyncPolicy::Always));
        writer
            .acked(writer.append(&set(1)).unwrap())
            .wait()
            .unwrap();
        let rotated = writer.rotate().unwrap().wait().unwrap();
        let (base, path) = writer.next_base().unwrap();
        assert_eq!(base.name, "t.1.base.tsnap");
        let file = fs.create(&path).unwrap();
        fs.append(&file, b"snapshot").unwrap();
        fs.sync_data(&file).unwrap();
        writer.install_base(base.clone(), rotated.incr.seq).unwrap();
        let manifest = writer.manifest();
        assert_eq!(manifest.base(), Some(&base));
        assert_eq!(manifest.incrs(), [rotated.incr]);
        assert!(fs.contents(Path::new("/aof/t.1.incr.aof")).is_none());
    }

    #[test]
    fn fsync_policy_names() {
        for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
            assert_eq!(policy.to_string().parse::<FsyncPolicy>(), Ok(policy));
        }
        assert_eq!("EVERYSEC".parse::<FsyncPolicy>(), Ok(FsyncPolicy::EverySec));
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
    }
}
