//! Progress bars on stderr, drawn only when stderr is a terminal, so scripts and
//! pipes see nothing: of bytes read from a file, of a known total, or of bytes
//! received (total unknown); and of items done out of a known count (tierbench's
//! load).

use std::fs::File;
use std::io::{self, IsTerminal};
use std::path::Path;

use indicatif::{ProgressBar, ProgressBarIter, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` bytes (`None`: unknown, a count and a rate) named `name`, which
/// the caller clears when done.
pub fn bar(total: Option<u64>, name: &str) -> ProgressBar {
    let template = match total {
        Some(_) => "{msg} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        None => "{spinner} {msg} {bytes} {binary_bytes_per_sec} {elapsed}",
    };
    styled(total, template, name)
}

/// A bar of `total` items named `name` (a count and a rate per second), which the
/// caller clears when done.
pub fn counter(total: u64, name: &str) -> ProgressBar {
    styled(
        Some(total),
        "{msg} [{wide_bar}] {human_pos}/{human_len} {per_sec} eta {eta}",
        name,
    )
}

fn styled(total: Option<u64>, template: &str, name: &str) -> ProgressBar {
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(total, target);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(name.to_owned());
    bar
}

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
    // The file's name only, so the bar fits the line.
    let name = path.file_name().unwrap_or(path.as_os_str());
    let bar = bar(Some(meta.len()), &name.to_string_lossy());
    Ok((bar.wrap_read(file), bar))
}
