//! A snapshot file opened for reading, with a progress bar of the bytes read on
//! stderr: drawn only when stderr is a terminal, so scripts and pipes see nothing.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::Path;

use indicatif::{ProgressBar, ProgressBarIter, ProgressDrawTarget, ProgressStyle};

/// The file at `path`, reading through a progress bar (which the caller clears when
/// done). A directory is refused here rather than failing on its first read.
pub fn open(path: &Path) -> io::Result<(ProgressBarIter<File>, ProgressBar)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory, not a snapshot file",
        ));
    }
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(meta.len()), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    // The file's name only, so the bar fits the line.
    let name = path.file_name().unwrap_or(path.as_os_str());
    bar.set_message(name.to_string_lossy().into_owned());
    Ok((bar.wrap_read(file), bar))
}
