//! An AOF rewrite: a new base for the AOF, a snapshot whose first instant is where the
//! next increment starts, written beside the AOF and then named in its manifest.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use thiserror::Error;

use super::{save, SaveError};
use crate::aof::{AofError, AofFs, AofLog, AppendWriter};
use crate::keyspace::Keyspace;
use crate::tier::Tier;

/// Why a rewrite failed. The manifest still names the old base then, and every
/// increment since, so nothing is lost; a partly written new base is not named.
#[derive(Debug, Error)]
pub enum RewriteError {
    /// Taking or writing the snapshot failed.
    #[error("{}: {source}", path.display())]
    Save { path: PathBuf, source: SaveError },
    /// Writing or fsyncing the base failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The AOF refused the rotation or the new manifest.
    #[error(transparent)]
    Aof(#[from] AofError),
}

/// The base is written through a buffer this large.
const BASE_BUFFER: usize = 1 << 20;

/// Writes a new base for `log` from the keyspace as it is now, and installs it:
/// the increment the capture's first instant opens, and those after it, follow the
/// new base; older files leave the manifest. Returns the base's size. Blocks the
/// calling thread for as long as the snapshot takes (see [`save`]).
pub fn rewrite_aof<F: AofFs>(
    keyspace: &Keyspace,
    tier: Option<&Tier>,
    log: &AofLog<F>,
) -> Result<u64, RewriteError> {
    let (base, path) = log.writer.next_base()?;
    let io_error = |source| RewriteError::Io {
        path: path.clone(),
        source,
    };
    let fs = log.writer.fs();
    let file = fs.create(&path).map_err(io_error)?;
    let mut out = BufWriter::with_capacity(BASE_BUFFER, AppendWriter::new(&**fs, &file));
    let mut rotation = None;
    save(keyspace, tier, &mut out, || {
        // Every stripe is held here: no append is under way, so the cut falls
        // between two commands, and the capture holds exactly what precedes it.
        rotation = Some(log.writer.rotate());
        log.forget_selected();
    })
    .map_err(|source| RewriteError::Save {
        path: path.clone(),
        source,
    })?;
    out.flush().map_err(io_error)?;
    let size = out.get_ref().appended();
    drop(out);
    fs.sync_data(&file).map_err(io_error)?;
    // save() ran `at_start` before it could succeed.
    let rotated = rotation.expect("the capture started")?.wait()?;
    log.writer.install_base(base, rotated.incr.seq)?;
    Ok(size)
}
