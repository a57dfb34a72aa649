//! `tierctl restore FILE --dir DATA`: makes DATA a data dir tierd starts from with
//! exactly the snapshot's keys: the snapshot as the AOF's base
//! (`appendonlydir/appendonly.aof.1.base.tsnap`), an empty first increment, and a
//! manifest naming both, through the engine's AOF directory API.
//!
//! Nothing is written in DATA until the end: the new dir is built beside it
//! (`.<name>.tierctl-restore-<pid>`, every file and directory fsynced, the snapshot
//! verified as copied), then renamed to DATA, or, with `--force` over an existing
//! DATA, swapped with it in one atomic `renameat2(RENAME_EXCHANGE)` and the old
//! contents removed. On any error before that, DATA is as it was and the new dir is
//! gone.

use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tier_engine::aof::{AofDir, AofFs, StdAofFs};
use tier_engine::snapshot::{self, SnapshotSummary};
use tier_server::config::Config;

use crate::error::Failure;
use crate::files::{parent, read_snapshot, sync_dir, write_snapshot, Removed};

/// What a restore did.
pub struct Restored {
    /// What the installed base holds.
    pub summary: SnapshotSummary,
    /// The base's path, under DATA.
    pub base: String,
    /// The old contents of DATA could not be removed after the swap: where they are.
    pub leftover: Option<(String, String)>,
}

/// Restores the snapshot `file` into the data dir `data` (see the module docs).
/// Refuses a DATA that exists and is not empty unless `force`.
pub fn restore(file: &Path, data: &Path, force: bool) -> Result<Restored, Failure> {
    let replacing = match fs::read_dir(data) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(Failure::Refused(format!(
                    "{}: not empty; restore into an empty or new dir, or give --force to \
                     replace what it holds",
                    data.display()
                )));
            }
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(Failure::io(data, e)),
    };
    let name = data
        .file_name()
        .ok_or_else(|| Failure::Io(format!("{}: names no directory", data.display())))?;
    let beside = parent(data).join(format!(
        ".{}.tierctl-restore-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    fs::create_dir(&beside).map_err(|e| Failure::io(&beside, e))?;
    let staged = Removed::new(beside);
    if replacing {
        let permissions = fs::metadata(data)
            .map_err(|e| Failure::io(data, e))?
            .permissions();
        fs::set_permissions(staged.path(), permissions)
            .map_err(|e| Failure::io(staged.path(), e))?;
    }
    let config = Config {
        dir: staged.path().to_path_buf(),
        ..Config::default()
    };
    let (base, summary) = build(file, &config)?;
    sync_dir(staged.path())?;
    if replacing {
        exchange(staged.path(), data)?;
    } else {
        fs::rename(staged.path(), data).map_err(|e| Failure::io(data, e))?;
    }
    sync_dir(parent(data))?;
    // The new dir is DATA now; the staged path holds the old contents, if any.
    let leftover = match replacing.then(|| fs::remove_dir_all(staged.path())) {
        Some(Err(e)) => Some((staged.path().display().to_string(), e.to_string())),
        _ => None,
    };
    staged.keep();
    Ok(Restored {
        summary,
        base: data.join(base).display().to_string(),
        leftover,
    })
}

/// Swaps the directories `a` and `b` atomically.
fn exchange(a: &Path, b: &Path) -> Result<(), Failure> {
    let c_path = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|e| Failure::io(p, e));
    let (ca, cb) = (c_path(a)?, c_path(b)?);
    // SAFETY: two NUL-terminated paths that live across the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    Err(Failure::Io(format!(
        "cannot swap {} with {} (renameat2 RENAME_EXCHANGE: {e}); {} is unchanged",
        a.display(),
        b.display(),
        b.display()
    )))
}

/// Builds the AOF directory of `config` with a copy of `file` as its base, `file`
/// verified as it is read and the copy verified once written; returns the base's
/// path under the data dir and what it holds.
fn build(file: &Path, config: &Config) -> Result<(PathBuf, SnapshotSummary), Failure> {
    let fs = Arc::new(StdAofFs);
    let mut dir = AofDir::open(Arc::clone(&fs), config.aof_path(), &config.appendfilename)?;
    let base = dir.next_base()?;
    let path = dir.path_of(&base.name);
    let summary = write_snapshot(&path, |out| {
        read_snapshot(file, |input| snapshot::verify(Tee { input, out })).map(drop)
    })?;
    let (manifest, incr) = dir
        .manifest()
        .with_next_incr(&config.appendfilename)
        .ok_or_else(|| Failure::Io("no AOF sequence number left".to_owned()))?;
    let incr_path = dir.path_of(&incr.name);
    let created = fs
        .create(&incr_path)
        .map_err(|e| Failure::io(&incr_path, e))?;
    fs.sync_data(&created)
        .map_err(|e| Failure::io(&incr_path, e))?;
    dir.switch(manifest.with_base(base.clone(), incr.seq))?;
    Ok((Path::new(&config.appenddirname).join(&base.name), summary))
}

/// A reader that writes what it reads to `out`.
struct Tee<R, W> {
    input: R,
    out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.out
            .write_all(&buf[..n])
            .map_err(|e| io::Error::new(e.kind(), format!("writing the copy: {e}")))?;
        Ok(n)
    }
}
