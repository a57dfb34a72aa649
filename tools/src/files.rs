//! Snapshot files as `tierctl` reads and writes them: read through a progress bar
//! with errors told apart (corrupt or I/O), and written whole or not at all (to
//! `FILE.tmp`, fsynced, verified, renamed over `FILE`, the directory fsynced).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBarIter;
use tier_engine::snapshot::{self, SnapshotError, SnapshotSummary};

use crate::error::Failure;
use crate::progress;

/// Runs `work` over the snapshot file at `path`, read through a progress bar.
pub fn read_snapshot<T>(
    path: &Path,
    work: impl FnOnce(ProgressBarIter<File>) -> Result<T, SnapshotError>,
) -> Result<T, Failure> {
    let (input, bar) = progress::open(path).map_err(|e| Failure::io(path, e))?;
    let result = work(input);
    bar.finish_and_clear();
    result.map_err(|e| Failure::snapshot(path, e))
}

/// Writes the snapshot file `dest` through `FILE.tmp`: `fill` writes the bytes, which
/// are fsynced and verified before the rename; on any error `dest` is as it was and
/// the temp file is gone. Returns what the file holds.
pub fn write_snapshot(
    dest: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), Failure>,
) -> Result<SnapshotSummary, Failure> {
    let mut name = dest.as_os_str().to_owned();
    name.push(".tmp");
    let temp = Removed::new(PathBuf::from(name));
    let file = File::create(temp.path()).map_err(|e| Failure::io(temp.path(), e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    fill(&mut out)?;
    out.flush().map_err(|e| Failure::io(temp.path(), e))?;
    let file = out
        .into_inner()
        .map_err(|e| Failure::io(temp.path(), e.error()))?;
    file.sync_all()
        .map_err(|e| Failure::io(temp.path(), format!("fsync: {e}")))?;
    drop(file);
    let summary = read_snapshot(temp.path(), snapshot::verify)?;
    fs::rename(temp.path(), dest).map_err(|e| Failure::io(dest, format!("rename: {e}")))?;
    temp.keep();
    sync_dir(parent(dest))?;
    Ok(summary)
}

/// The directory that holds `path` (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes the names in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), Failure> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Failure::io(dir, format!("fsync: {e}")))
}

/// A file or directory removed (with everything in it) when this is dropped, unless
/// [`keep`](Self::keep) was called: the work of a command that failed half-way.
pub struct Removed {
    path: PathBuf,
    armed: bool,
}

impl Removed {
    pub fn new(path: PathBuf) -> Removed {
        Removed { path, armed: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the path in place.
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the command already failed and says why.
            let _ = match fs::symlink_metadata(&self.path) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(&self.path),
                Ok(_) => fs::remove_file(&self.path),
                Err(_) => Ok(()),
            };
        }
    }
}
