//! [`DirectFile`]: a file opened with O_DIRECT, the only kind the I/O engines accept,
//! so every transfer bypasses the page cache and RAM stays the budget `maxmemory` says.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::ALIGN;

/// A file opened read-write with `O_DIRECT | O_CLOEXEC`. Share it as `Arc<DirectFile>`:
/// each request holds a clone, so the descriptor stays open until the kernel is done.
#[derive(Debug)]
pub struct DirectFile {
    file: File,
    path: PathBuf,
}

impl DirectFile {
    /// Creates `path`, truncating it if it exists.
    pub fn create(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        DirectFile::open_with(path.as_ref(), &options)
    }

    /// Opens an existing `path` for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        DirectFile::open_with(path.as_ref(), &options)
    }

    fn open_with(path: &Path, options: &OpenOptions) -> io::Result<DirectFile> {
        let mut options = options.clone();
        options.custom_flags(libc::O_DIRECT | libc::O_CLOEXEC);
        match options.open(path) {
            Ok(file) => Ok(DirectFile {
                file,
                path: path.to_path_buf(),
            }),
            // open(2) answers EINVAL to O_DIRECT on a filesystem that cannot do it.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the filesystem holding {} refuses O_DIRECT (tmpfs before Linux 6.6, \
                     some FUSE and network filesystems): put the tier directory on a \
                     local disk",
                    path.display()
                ),
            )),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot open {}: {e}", path.display()),
            )),
        }
    }

    /// Reserves disk blocks for the first `len` bytes (fallocate(2)), growing the file to
    /// `len` if it is shorter, so later writes cannot fail for want of space. Where the
    /// filesystem has no fallocate, the file is only extended (sparse). `len` must be a
    /// multiple of [`ALIGN`].
    pub fn allocate(&self, len: u64) -> io::Result<()> {
        if !len.is_multiple_of(ALIGN as u64) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("preallocated length {len} is not a multiple of {ALIGN}"),
            ));
        }
        let off_len = libc::off_t::try_from(len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("preallocated length {len} is too large"),
            )
        })?;
        if off_len == 0 {
            return Ok(());
        }
        // SAFETY: plain syscall on a descriptor this struct owns; no memory is passed.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, off_len) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
            if self.len()? < len {
                self.file.set_len(len)?;
            }
            return Ok(());
        }
        Err(io::Error::new(
            err.kind(),
            format!(
                "cannot preallocate {len} bytes for {}: {err}",
                self.path.display()
            ),
        ))
    }

    /// The file's size in bytes.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// True when the file holds no bytes.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The path the file was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
