//! SAVE, BGSAVE and BGREWRITEAOF, and the cron's automatic saves (`save` points) and
//! rewrites (`auto-aof-rewrite-*`). Each job runs on a thread of its own, beside
//! traffic: a point-in-time capture of the keyspace written as a snapshot file (see
//! `tier_engine::snapshot::save`). One job at a time.

use super::{JobState, Persistence};
use crate::shared::Shared;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tier_engine::snapshot::{rewrite_aof, save, RewriteError, SaveError, SnapshotSummary};

/// Which job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Save,
    Rewrite,
}

impl Persistence {
    fn job(&self, kind: JobKind) -> &parking_lot::Mutex<JobState> {
        match kind {
            JobKind::Save => &self.save_job,
            JobKind::Rewrite => &self.rewrite_job,
        }
    }

    /// Whether a save or a rewrite is running.
    pub fn job_running(&self) -> Option<JobKind> {
        [JobKind::Save, JobKind::Rewrite]
            .into_iter()
            .find(|&kind| self.job(kind).lock().running_since.is_some())
    }

    /// Marks `kind` running unless a job is; returns whether it may start.
    fn start_job(&self, kind: JobKind) -> bool {
        // Both locks, in one order, so two jobs never both start.
        let mut save = self.save_job.lock();
        let mut rewrite = self.rewrite_job.lock();
        if save.running_since.is_some() || rewrite.running_since.is_some() {
            return false;
        }
        let state = match kind {
            JobKind::Save => &mut save,
            JobKind::Rewrite => &mut rewrite,
        };
        state.running_since = Some(Instant::now());
        true
    }

    /// Marks a save running unless a job is (BGSAVE, TIER SNAPSHOT).
    pub(super) fn claim_save(&self) -> Result<(), Refused> {
        if self.start_job(JobKind::Save) {
            Ok(())
        } else {
            Err(Refused::Busy(self.job_running().unwrap_or(JobKind::Save)))
        }
    }

    pub(super) fn end_job(&self, kind: JobKind, ok: bool) {
        let mut state = self.job(kind).lock();
        if let Some(since) = state.running_since.take() {
            state.last_secs = Some(since.elapsed().as_secs());
        }
        state.last_ok = Some(ok);
        state.runs += 1;
    }
}

/// Why a job could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Another job is running.
    Busy(JobKind),
    /// BGREWRITEAOF with `appendonly no`.
    NoAof,
}

/// SAVE: writes the snapshot file now and returns when it is durable. Blocks the
/// calling thread (not the runtime's other tasks: call it in `block_in_place`).
pub fn save_now(shared: &Shared) -> Result<(), String> {
    let persistence = &shared.persistence;
    if let Some(kind) = persistence.job_running() {
        return Err(busy_error(kind).to_owned());
    }
    if !persistence.start_job(JobKind::Save) {
        return Err(busy_error(JobKind::Save).to_owned());
    }
    dump(shared).map(|_| ()).map_err(|e| format!("ERR {e}"))
}

/// BGSAVE: starts writing the snapshot file on a thread of its own.
pub fn bgsave(shared: &Arc<Shared>) -> Result<(), Refused> {
    shared.persistence.claim_save()?;
    let shared = shared.clone();
    spawn_job("tier-bgsave", move || {
        let _ = dump(&shared);
    });
    Ok(())
}

/// BGREWRITEAOF: starts writing a new base for the AOF on a thread of its own. While
/// a BGSAVE runs it is scheduled instead (`Err(Busy(Save))`, and the cron starts it
/// after).
pub fn bgrewriteaof(shared: &Arc<Shared>) -> Result<(), Refused> {
    let persistence = &shared.persistence;
    if persistence.aof().is_none() {
        return Err(Refused::NoAof);
    }
    if !persistence.start_job(JobKind::Rewrite) {
        let running = persistence.job_running().unwrap_or(JobKind::Rewrite);
        if running == JobKind::Save {
            persistence.rewrite_scheduled.store(true, Ordering::Relaxed);
        }
        return Err(Refused::Busy(running));
    }
    persistence
        .rewrite_scheduled
        .store(false, Ordering::Relaxed);
    let shared = shared.clone();
    spawn_job("tier-aof-rewrite", move || {
        let _ = rewrite(&shared);
    });
    Ok(())
}

/// Redis's reply to a save asked for while `kind` runs.
pub fn busy_error(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Save => "ERR Background save already in progress",
        JobKind::Rewrite => "ERR Background append only file rewriting already in progress",
    }
}

pub(super) fn spawn_job(name: &str, job: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(job) {
        tracing::error!("cannot start {name}: {e}");
    }
}

/// Writes the snapshot file (`dir`/`dbfilename`) through a temporary file, and ends the
/// save job.
fn dump(shared: &Shared) -> Result<SnapshotSummary, String> {
    let persistence = &shared.persistence;
    let config = shared.config.load_full();
    let path = config.dump_path();
    let temp = config
        .dir
        .join(format!("temp-{}.tsnap", std::process::id()));
    let dirty = &persistence.dirty;
    let result = write_snapshot(shared, &temp, || {
        persistence
            .dirty_at_save_start
            .store(dirty.load(Ordering::Relaxed), Ordering::Relaxed);
    })
    .and_then(|summary| {
        std::fs::rename(&temp, &path).map_err(|e| format!("rename to {}: {e}", path.display()))?;
        sync_dir(&config.dir)?;
        Ok(summary)
    });
    match &result {
        Ok(summary) => {
            let at_start = persistence.dirty_at_save_start.load(Ordering::Relaxed);
            dirty.fetch_sub(
                at_start.min(dirty.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            shared
                .lastsave
                .store(tier_engine::now_ms() / 1000, Ordering::Relaxed);
            tracing::info!(
                "DB saved on disk: {} keys in {}",
                summary.records,
                path.display()
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            tracing::warn!("Background saving error: {e}");
        }
    }
    persistence.end_job(JobKind::Save, result.is_ok());
    result
}

/// Writes a new base for the AOF from a capture whose first instant opens the next
/// increment, installs it in the manifest, and ends the rewrite job.
fn rewrite(shared: &Shared) -> Result<(), String> {
    let persistence = &shared.persistence;
    let aof = persistence.aof().ok_or("the AOF is not open")?;
    let result = rewrite_aof(&shared.keyspace, shared.tier.get(), aof).map_err(|e| match e {
        RewriteError::Save {
            source: SaveError::Busy,
            ..
        } => busy_error(JobKind::Save).to_owned(),
        e => e.to_string(),
    });
    match &result {
        Ok(size) => {
            persistence.set_aof_base(*size + aof.status().incr_size);
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => tracing::warn!("Background AOF rewrite failed: {e}"),
    }
    persistence.end_job(JobKind::Rewrite, result.is_ok());
    result.map(|_| ())
}

/// Writes a snapshot of the keyspace to a new file at `path` and fsyncs it;
/// `at_start` runs in the capture's first instant.
fn write_snapshot(
    shared: &Shared,
    path: &Path,
    at_start: impl FnOnce(),
) -> Result<SnapshotSummary, String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let summary =
        save(&shared.keyspace, shared.tier.get(), &mut out, at_start).map_err(|e| match e {
            SaveError::Busy => busy_error(JobKind::Save).to_owned(),
            e => format!("{}: {e}", path.display()),
        })?;
    let file = out
        .into_inner()
        .map_err(|e| format!("{}: {}", path.display(), e.error()))?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", path.display()))?;
    Ok(summary)
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("fsync {}: {e}", dir.display()))
}

/// The cron's part: a BGSAVE when a `save` point is reached, a BGREWRITEAOF when one
/// is scheduled or the AOF has grown past `auto-aof-rewrite-percentage`.
pub fn cron_jobs(shared: &Arc<Shared>) {
    let persistence = &shared.persistence;
    if persistence.is_loading() || persistence.job_running().is_some() {
        return;
    }
    let config = shared.config.load();
    if persistence.rewrite_scheduled.load(Ordering::Relaxed) {
        let _ = bgrewriteaof(shared);
        return;
    }
    if persistence.save_scheduled.swap(false, Ordering::Relaxed) {
        let _ = bgsave(shared);
        return;
    }
    let dirty = persistence.dirty.load(Ordering::Relaxed);
    let since_save =
        (tier_engine::now_ms() / 1000).saturating_sub(shared.lastsave.load(Ordering::Relaxed));
    let due = config
        .save
        .iter()
        .any(|&(secs, changes)| dirty >= changes && since_save >= secs);
    // After a failed save, wait before the next try (Redis: 5 s).
    let retry_ok = {
        let job = persistence.save_job.lock();
        job.last_ok != Some(false) || since_save >= 5
    };
    if due && retry_ok {
        tracing::info!("{dirty} changes in {since_save} seconds. Saving...");
        let _ = bgsave(shared);
        return;
    }
    if persistence.aof().is_some() {
        let (base, size) = persistence.aof_sizes();
        let pct = config.auto_aof_rewrite_percentage;
        let grown = size.saturating_sub(base) * 100 / base.max(1);
        if pct > 0 && size >= config.auto_aof_rewrite_min_size && grown >= pct {
            tracing::info!("Starting automatic rewriting of AOF on {grown}% growth");
            let _ = bgrewriteaof(shared);
        }
    }
}
