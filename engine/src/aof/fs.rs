//! [`AofFs`]: the file operations of the AOF layer, so that the same writer, manifest
//! and replay run over the real filesystem ([`StdAofFs`]) and over a simulated one
//! that can lose power at any point ([`SimAofFs`](super::SimAofFs)).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// The file operations the AOF layer needs, and nothing more. Paths are whole paths
/// (directory and name). Durability is explicit: bytes are durable only after
/// [`sync_data`](Self::sync_data) of their file, and a name (created, renamed or
/// removed) only after [`sync_dir`](Self::sync_dir) of its directory.
pub trait AofFs: Send + Sync + 'static {
    /// An open file, appended to by the writer's thread and synced by another.
    type File: Send + Sync + 'static;

    /// Creates `path` empty for appending; truncates a file that is already there.
    fn create(&self, path: &Path) -> io::Result<Self::File>;

    /// Opens the existing file `path` for appending at its end; also returns its
    /// length.
    fn open_append(&self, path: &Path) -> io::Result<(Self::File, u64)>;

    /// Appends all of `buf` at the end of `file`. On an error some prefix of `buf` may
    /// have been appended.
    fn append(&self, file: &Self::File, buf: &[u8]) -> io::Result<()>;

    /// Makes every byte appended to `file` so far durable (fdatasync).
    fn sync_data(&self, file: &Self::File) -> io::Result<()>;

    /// Opens `path` for reading from its start.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;

    /// Cuts `path` to `len` bytes and makes the cut durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;

    /// Renames `from` to `to`, replacing `to` if it exists (atomically, as rename(2)).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Creates the directory `dir` and its missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Makes the names in `dir` durable (fsync of the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A [`Write`] that appends to a file of an [`AofFs`] (a rewrite's base
/// goes through it) and counts what it appended.
pub struct AppendWriter<'a, F: AofFs> {
    fs: &'a F,
    file: &'a F::File,
    appended: u64,
}

impl<'a, F: AofFs> AppendWriter<'a, F> {
    pub fn new(fs: &'a F, file: &'a F::File) -> AppendWriter<'a, F> {
        AppendWriter {
            fs,
            file,
            appended: 0,
        }
    }

    /// Bytes appended so far.
    pub fn appended(&self) -> u64 {
        self.appended
    }
}

impl<F: AofFs> Write for AppendWriter<'_, F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fs.append(self.file, buf)?;
        self.appended += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`AofFs`] over `std::fs`: the one `tierd` runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdAofFs;

impl AofFs for StdAofFs {
    type File = File;

    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    fn open_append(&self, path: &Path) -> io::Result<(File, u64)> {
        let file = OpenOptions::new().append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    fn append(&self, mut file: &File, buf: &[u8]) -> io::Result<()> {
        file.write_all(buf)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path)?))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_data()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::aof::{
        encode_command, AofDir, AofError, AofWriter, AofWriterConfig, FsyncPolicy, ReplayLimits,
    };

    fn replay(dir: &AofDir<StdAofFs>) -> (Vec<Vec<Vec<u8>>>, Option<crate::aof::TornTail>) {
        let mut commands = Vec::new();
        let summary = dir
            .replay_incrs(ReplayLimits::default(), |_, command| {
                commands.push(command.args);
                Ok::<_, AofError>(())
            })
            .unwrap();
        (commands, summary.torn)
    }

    /// The whole cycle on a real directory: write, rotate, restart with a torn tail
    /// cut off, append again.
    #[test]
    fn the_aof_on_a_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("appendonlydir");
        let fs = Arc::new(StdAofFs);
        let config = AofWriterConfig {
            fsync: FsyncPolicy::Always,
            ..AofWriterConfig::default()
        };
        let command = |key: &str| {
            let mut out = Vec::new();
            encode_command(&["SET", key, "v"], &mut out);
            out
        };

        let dir = AofDir::open(Arc::clone(&fs), &path, "appendonly.aof").unwrap();
        let writer = AofWriter::open(dir, config).unwrap();
        writer
            .acked(writer.append(&command("a")).unwrap())
            .wait()
            .unwrap();
        let rotated = writer.rotate().unwrap().wait().unwrap();
        writer
            .acked(writer.append(&command("b")).unwrap())
            .wait()
            .unwrap();
        writer.close().unwrap();
        let incr = path.join(&rotated.incr.name);
        let mut torn = OpenOptions::new().append(true).open(&incr).unwrap();
        torn.write_all(&command("c")[..9]).unwrap();
        drop(torn);

        let dir = AofDir::open(Arc::clone(&fs), &path, "appendonly.aof").unwrap();
        let (commands, tail) = replay(&dir);
        assert_eq!(commands.len(), 2);
        dir.truncate_torn_tail(&tail.unwrap()).unwrap();
        assert_eq!(fs::read(&incr).unwrap(), command("b"));
        let writer = AofWriter::open(dir, config).unwrap();
        writer
            .acked(writer.append(&command("d")).unwrap())
            .wait()
            .unwrap();
        writer.close().unwrap();

        let dir = AofDir::open(fs, &path, "appendonly.aof").unwrap();
        let (commands, tail) = replay(&dir);
        let keys: Vec<&[u8]> = commands.iter().map(|c| &c[1][..]).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"d"]);
        assert_eq!(tail, None);
        let manifest = fs::read_to_string(path.join("appendonly.aof.manifest")).unwrap();
        assert_eq!(
            manifest,
            "file appendonly.aof.1.incr.aof seq 1 type i\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }
}
