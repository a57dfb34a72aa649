//! [`AofFs`]: the file operations of the AOF layer, so that the same writer, manifest
//! and replay run over the real filesystem ([`StdAofFs`]) and over a simulated one
//! that can lose power at any point ([`SimAofFs`](super::SimAofFs)).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file operations the AOF layer needs, and nothing more. Paths are whole paths
/// (directory and name). Durability is explicit: bytes are durable only after
/// [`sync_data`](Self::sync_data) of their file, and a name (created, renamed or
/// removed) only after [`sync_dir`](Self::sync_dir) of its directory.
pub trait AofFs: Send + Sync + 'static {
    /// An open file, appended to by the writer's thread and synced by another.
    type File: Send + Sync + 'static;

    /// Creates `path` empty for appending; truncates a file that is already there.
    fn create(&self, path: &Path) -> io::Result<Self::File>;

    /// Opens the existing file `path` for appending at its end (before the room
    /// [`reserve`](Self::reserve) made and appends did not fill: the zero bytes that
    /// end the file); also returns that length.
    fn open_append(&self, path: &Path) -> io::Result<(Self::File, u64)>;

    /// Appends all of `buf` at the end of `file`. On an error some prefix of `buf` may
    /// have been appended.
    fn append(&self, file: &Self::File, buf: &[u8]) -> io::Result<()>;

    /// Makes room for at least `len` bytes after the end of `file`, ahead of the
    /// appends that will fill it, so that making those durable later changes no file
    /// size (an fdatasync then writes data alone, no journal commit). The room reads
    /// as zero bytes until it is filled; a reader of the file takes zero bytes where
    /// data should start as its end. Implementations may do nothing.
    fn reserve(&self, file: &Self::File, len: u64) -> io::Result<()>;

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

/// [`AofFs`] over `std::fs`: the one `tierd` runs on. Files are written at an offset
/// it keeps (not `O_APPEND`), so appends can fill the room [`AofFs::reserve`] wrote
/// ahead of them as zero bytes, [`RESERVE_CHUNK`] at a time.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdAofFs;

/// The room [`StdAofFs`] reserves beyond what is asked, so that it grows a file once
/// in this many bytes of appends.
pub const RESERVE_CHUNK: u64 = 1024 * 1024;

/// A file of [`StdAofFs`]: appended to by one thread at a time, synced by any.
#[derive(Debug)]
pub struct StdAofFile {
    file: File,
    /// Where the next append goes.
    end: AtomicU64,
    /// The file's size: `end` and the zero bytes reserved after it.
    size: AtomicU64,
}

impl StdAofFile {
    fn new(file: File, end: u64, size: u64) -> StdAofFile {
        StdAofFile {
            file,
            end: AtomicU64::new(end),
            size: AtomicU64::new(size),
        }
    }
}

/// The length of `file` without the zero bytes that end it.
fn len_before_zeros(file: &File, size: u64) -> io::Result<u64> {
    let mut block = vec![0u8; 64 * 1024];
    let mut end = size;
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let chunk = &mut block[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(last) = chunk.iter().rposition(|&b| b != 0) {
            return Ok(start + last as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl AofFs for StdAofFs {
    type File = StdAofFile;

    fn create(&self, path: &Path) -> io::Result<StdAofFile> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(StdAofFile::new(file, 0, 0))
    }

    fn open_append(&self, path: &Path) -> io::Result<(StdAofFile, u64)> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let size = file.metadata()?.len();
        let end = len_before_zeros(&file, size)?;
        Ok((StdAofFile::new(file, end, size), end))
    }

    fn append(&self, file: &StdAofFile, buf: &[u8]) -> io::Result<()> {
        let end = file.end.load(Ordering::Acquire);
        file.file.write_all_at(buf, end)?;
        let end = end + buf.len() as u64;
        file.end.store(end, Ordering::Release);
        file.size.fetch_max(end, Ordering::AcqRel);
        Ok(())
    }

    fn reserve(&self, file: &StdAofFile, len: u64) -> io::Result<()> {
        let end = file.end.load(Ordering::Acquire);
        let size = file.size.load(Ordering::Acquire);
        if end + len <= size {
            return Ok(());
        }
        let target = end + len + RESERVE_CHUNK;
        let zeros = vec![0u8; (target - size).min(RESERVE_CHUNK) as usize];
        let mut at = size;
        while at < target {
            let n = (target - at).min(zeros.len() as u64) as usize;
            file.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        file.size.store(target, Ordering::Release);
        Ok(())
    }

    fn sync_data(&self, file: &StdAofFile) -> io::Result<()> {
        file.file.sync_data()
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

    /// Appends fill the room reserved ahead of them; reopened, the file appends after
    /// its last byte of data, not after the zeros, and reads back as data then zeros.
    #[test]
    fn std_files_append_into_reserved_room() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.incr.aof");
        let fs = StdAofFs;
        let file = fs.create(&path).unwrap();
        fs.reserve(&file, 10).unwrap();
        fs.append(&file, b"hello ").unwrap();
        fs.reserve(&file, 6).unwrap();
        fs.append(&file, b"world").unwrap();
        fs.sync_data(&file).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(size, 10 + RESERVE_CHUNK, "one reservation covered both");
        drop(file);

        let (file, len) = fs.open_append(&path).unwrap();
        assert_eq!(len, 11);
        // A reservation past the room grows the file by a chunk beyond it.
        fs.reserve(&file, RESERVE_CHUNK).unwrap();
        fs.append(&file, b"!").unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(size, 11 + 2 * RESERVE_CHUNK);
        let mut text = Vec::new();
        fs.open_read(&path).unwrap().read_to_end(&mut text).unwrap();
        assert_eq!(&text[..12], b"hello world!");
        assert!(text[12..].iter().all(|&b| b == 0));

        // Truncated to its data, a file appends at its end.
        fs.truncate(&path, 12).unwrap();
        let (file, len) = fs.open_append(&path).unwrap();
        assert_eq!(len, 12);
        fs.append(&file, b"?").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world!?");
        // An empty file and one of zeros alone have no data.
        std::fs::write(&path, [0u8; 100_000]).unwrap();
        assert_eq!(fs.open_append(&path).unwrap().1, 0);
    }
}
