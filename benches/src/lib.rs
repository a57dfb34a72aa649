//! Holds the criterion benches in `benches/`; see README.md there. What several of
//! them share: [`scratch`], a directory on a real disk.

use std::path::Path;

use tempfile::TempDir;

/// A temporary directory beside the bench binary, on the target directory's disk:
/// /tmp may be a tmpfs, which refuses O_DIRECT and makes fsync free.
pub fn scratch() -> TempDir {
    let exe = std::env::current_exe().expect("bench binary path");
    let beside = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    tempfile::tempdir_in(beside).expect("temp dir beside the bench binary")
}
