//! [`SimAofFs`]: an in-memory [`AofFs`] that keeps what was written apart from what
//! was made durable, so that a test can cut the power at any point and see what a
//! real disk could have kept; it also fails or slows operations on command.
//!
//! The model:
//! - a file's bytes are durable up to its last `sync_data` (or `truncate`); the bytes
//!   appended after it are only written;
//! - a name (created, renamed over, removed) is durable once its directory is synced;
//!   until then a crash brings back the directory as it was at its last sync;
//! - at a crash, every surviving file keeps its durable bytes plus an arbitrary prefix
//!   (possibly empty, possibly all) of its written ones, chosen independently per file:
//!   unsynced appends are lost, or the last one survives torn at any byte.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::AofFs;

/// A simulated filesystem (cheap to clone: clones share the same files).
#[derive(Clone, Default)]
pub struct SimAofFs {
    state: Arc<Mutex<SimState>>,
}

/// A file of a [`SimAofFs`], by inode number.
#[derive(Debug)]
pub struct SimFile {
    inode: usize,
}

#[derive(Default)]
struct SimState {
    disk: Disk,
    /// Mutating operations performed so far.
    ops: u64,
    /// Power is lost just before this mutating operation (1-based), and the crash
    /// image is torn with this seed.
    power_loss_at: Option<(u64, u64)>,
    /// The disk as the power loss left it; every operation fails from then on.
    crashed: Option<Disk>,
    /// The `fail_write` / `fail_sync` targets, as 1-based operation counts.
    write_faults: Vec<u64>,
    sync_faults: Vec<u64>,
    writes: u64,
    syncs: u64,
    sync_delay: Duration,
}

/// Files and names.
#[derive(Clone, Default)]
struct Disk {
    inodes: Vec<Inode>,
    /// The names as the running process sees them.
    live: BTreeMap<PathBuf, usize>,
    /// The names as a crash would leave them.
    durable: BTreeMap<PathBuf, usize>,
}

#[derive(Clone, Default)]
struct Inode {
    data: Vec<u8>,
    /// `data[..synced]` is durable.
    synced: usize,
}

impl SimAofFs {
    /// An empty filesystem.
    /// A file system for a crash test: its fsyncs take a millisecond if
    /// `slow_sync` (so the power can go while one is in flight), and the power is
    /// lost just before operation `power_loss_at` (the image torn with `seed`) if
    /// given.
    pub fn for_crash_test(slow_sync: bool, power_loss_at: Option<u64>, seed: u64) -> Arc<SimAofFs> {
        let fs = Arc::new(SimAofFs::new());
        if slow_sync {
            fs.set_sync_delay(Duration::from_millis(1));
        }
        if let Some(at) = power_loss_at {
            fs.power_loss_after(at, seed);
        }
        fs
    }

    pub fn new() -> SimAofFs {
        SimAofFs::default()
    }

    /// The `nth` append from now (1 = the next) fails; it appends the first half of
    /// its bytes first, as a write cut short by a full disk.
    pub fn fail_write(&self, nth: u64) {
        let mut state = self.state.lock();
        let at = state.writes + nth;
        state.write_faults.push(at);
    }

    /// The `nth` `sync_data` from now fails; nothing becomes durable.
    pub fn fail_sync(&self, nth: u64) {
        let mut state = self.state.lock();
        let at = state.syncs + nth;
        state.sync_faults.push(at);
    }

    /// Every `sync_data` takes at least `delay` (a slow or stalled disk).
    pub fn set_sync_delay(&self, delay: Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// Power is lost just before the `nth` mutating operation from now (1 = the
    /// next; 0 = at once, whatever is in flight): the disk as it is then is kept for
    /// [`crash`](Self::crash) (torn with `seed`), and that operation and all later
    /// ones fail (an fsync under way when it happens never completes).
    pub fn power_loss_after(&self, nth: u64, seed: u64) {
        let mut state = self.state.lock();
        if nth == 0 {
            if state.crashed.is_none() {
                state.crashed = Some(state.disk.crash_image(seed));
            }
            return;
        }
        let at = state.ops + nth;
        state.power_loss_at = Some((at, seed));
    }

    /// The filesystem a restart would find: the image kept at the power loss set by
    /// [`power_loss_after`](Self::power_loss_after) if it happened, else the disk as
    /// it is now, torn with `seed`.
    pub fn crash(&self, seed: u64) -> SimAofFs {
        let state = self.state.lock();
        let disk = match &state.crashed {
            Some(image) => image.clone(),
            None => state.disk.crash_image(seed),
        };
        SimAofFs {
            state: Arc::new(Mutex::new(SimState {
                disk,
                ..SimState::default()
            })),
        }
    }

    /// Whether the power loss set by [`power_loss_after`](Self::power_loss_after)
    /// has happened.
    pub fn has_lost_power(&self) -> bool {
        self.state.lock().crashed.is_some()
    }

    /// The bytes of `path` as the running process sees them, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.state.lock();
        let inode = *state.disk.live.get(path)?;
        Some(state.disk.inodes[inode].data.clone())
    }

    /// The names that exist now, in order.
    pub fn names(&self) -> Vec<PathBuf> {
        self.state.lock().disk.live.keys().cloned().collect()
    }

    /// Counts a mutating operation; fails it if the power is lost.
    fn mutate(&self) -> io::Result<parking_lot::MutexGuard<'_, SimState>> {
        let mut state = self.state.lock();
        if state.crashed.is_some() {
            return Err(power_lost());
        }
        state.ops += 1;
        if let Some((at, seed)) = state.power_loss_at {
            if state.ops >= at {
                state.crashed = Some(state.disk.crash_image(seed));
                return Err(power_lost());
            }
        }
        Ok(state)
    }
}

impl Disk {
    /// The disk after a crash now: durable names, each file with its durable bytes and
    /// a random prefix of its written ones.
    fn crash_image(&self, seed: u64) -> Disk {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut image = Disk::default();
        let mut renumbered = BTreeMap::new();
        for (name, &inode) in &self.durable {
            let new = *renumbered.entry(inode).or_insert_with(|| {
                let old = &self.inodes[inode];
                let kept = rng.gen_range(old.synced..=old.data.len());
                image.inodes.push(Inode {
                    data: old.data[..kept].to_vec(),
                    synced: kept,
                });
                image.inodes.len() - 1
            });
            image.live.insert(name.clone(), new);
        }
        image.durable = image.live.clone();
        image
    }

    fn lookup(&self, path: &Path) -> io::Result<usize> {
        self.live.get(path).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        })
    }
}

fn power_lost() -> io::Error {
    io::Error::other("simulated power loss")
}

fn injected(op: &str) -> io::Error {
    io::Error::other(format!("injected {op} failure"))
}

/// Removes `at` from `faults` if it is there.
fn take_fault(faults: &mut Vec<u64>, at: u64) -> bool {
    let before = faults.len();
    faults.retain(|&f| f != at);
    faults.len() != before
}

impl AofFs for SimAofFs {
    type File = SimFile;

    fn create(&self, path: &Path) -> io::Result<SimFile> {
        let mut state = self.mutate()?;
        // Creating over an existing name truncates that file, and the truncation may
        // reach the disk at any time: its durable bytes are gone too.
        if let Some(&inode) = state.disk.live.get(path) {
            state.disk.inodes[inode] = Inode::default();
            return Ok(SimFile { inode });
        }
        state.disk.inodes.push(Inode::default());
        let inode = state.disk.inodes.len() - 1;
        state.disk.live.insert(path.to_path_buf(), inode);
        Ok(SimFile { inode })
    }

    fn open_append(&self, path: &Path) -> io::Result<(SimFile, u64)> {
        let state = self.state.lock();
        let inode = state.disk.lookup(path)?;
        Ok((
            SimFile { inode },
            state.disk.inodes[inode].data.len() as u64,
        ))
    }

    fn append(&self, file: &SimFile, buf: &[u8]) -> io::Result<()> {
        let mut state = self.mutate()?;
        state.writes += 1;
        let at = state.writes;
        let failed = take_fault(&mut state.write_faults, at);
        let written = if failed { &buf[..buf.len() / 2] } else { buf };
        state.disk.inodes[file.inode]
            .data
            .extend_from_slice(written);
        if failed {
            return Err(injected("write"));
        }
        Ok(())
    }

    /// The simulated disk keeps no room ahead of appends: a file is its bytes.
    fn reserve(&self, _file: &SimFile, _len: u64) -> io::Result<()> {
        Ok(())
    }

    fn sync_data(&self, file: &SimFile) -> io::Result<()> {
        // What the sync covers is what was written when it started; the power may go
        // while it runs, in which case it never completes.
        let (target, delay) = {
            let mut state = self.mutate()?;
            state.syncs += 1;
            let at = state.syncs;
            if take_fault(&mut state.sync_faults, at) {
                return Err(injected("fsync"));
            }
            (state.disk.inodes[file.inode].data.len(), state.sync_delay)
        };
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        let mut state = self.state.lock();
        if state.crashed.is_some() {
            return Err(power_lost());
        }
        let inode = &mut state.disk.inodes[file.inode];
        inode.synced = inode.synced.max(target.min(inode.data.len()));
        Ok(())
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let state = self.state.lock();
        let inode = state.disk.lookup(path)?;
        Ok(Box::new(Cursor::new(state.disk.inodes[inode].data.clone())))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.mutate()?;
        let inode = state.disk.lookup(path)?;
        let inode = &mut state.disk.inodes[inode];
        let len = usize::try_from(len).map_or(inode.data.len(), |l| l.min(inode.data.len()));
        inode.data.truncate(len);
        inode.synced = len;
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.mutate()?;
        let inode = state.disk.lookup(from)?;
        state.disk.live.remove(from);
        state.disk.live.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.mutate()?;
        state.disk.lookup(path)?;
        state.disk.live.remove(path);
        Ok(())
    }

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        // Directories are implicit: a name's parent always exists.
        self.mutate().map(drop)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.mutate()?;
        let state = &mut *state;
        state
            .disk
            .durable
            .retain(|name, _| name.parent() != Some(dir));
        for (name, &inode) in &state.disk.live {
            if name.parent() == Some(dir) {
                state.disk.durable.insert(name.clone(), inode);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(fs: &SimAofFs, path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        fs.open_read(path).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn synced_bytes_and_names_survive_a_crash_and_the_rest_may_not() {
        let fs = SimAofFs::new();
        let dir = Path::new("/d");
        let a = dir.join("a");
        let file = fs.create(&a).unwrap();
        fs.append(&file, b"durable").unwrap();
        fs.sync_data(&file).unwrap();
        fs.sync_dir(dir).unwrap();
        fs.append(&file, b"+written").unwrap();
        let b = dir.join("b");
        fs.create(&b).unwrap();

        let mut torn_lengths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let after = fs.crash(seed);
            assert_eq!(after.names(), vec![a.clone()], "b's name was never synced");
            let data = read(&after, &a);
            assert!(b"durable+written".starts_with(&data));
            assert!(data.len() >= b"durable".len());
            torn_lengths.insert(data.len());
        }
        // Every cut, from nothing written to all of it, happens.
        assert_eq!(torn_lengths.len(), b"+written".len() + 1);
    }

    #[test]
    fn a_rename_is_durable_only_after_the_directory_sync() {
        let fs = SimAofFs::new();
        let dir = Path::new("/d");
        let (old, tmp, target) = (dir.join("m"), dir.join("tmp"), dir.join("m"));
        let file = fs.create(&old).unwrap();
        fs.append(&file, b"old").unwrap();
        fs.sync_data(&file).unwrap();
        fs.sync_dir(dir).unwrap();
        let file = fs.create(&tmp).unwrap();
        fs.append(&file, b"new").unwrap();
        fs.sync_data(&file).unwrap();
        fs.rename(&tmp, &target).unwrap();
        assert_eq!(read(&fs.crash(1), &target), b"old");
        fs.sync_dir(dir).unwrap();
        let after = fs.crash(1);
        assert_eq!(read(&after, &target), b"new");
        assert_eq!(after.names(), vec![target]);
    }

    #[test]
    fn truncate_is_durable_and_faults_fire_once() {
        let fs = SimAofFs::new();
        let path = Path::new("/d/f");
        let file = fs.create(path).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        fs.append(&file, b"0123456789").unwrap();
        fs.truncate(path, 4).unwrap();
        assert_eq!(read(&fs.crash(3), path), b"0123");

        fs.fail_write(2);
        fs.fail_sync(1);
        fs.append(&file, b"ab").unwrap();
        assert!(fs.append(&file, b"cdef").is_err());
        assert_eq!(
            fs.contents(path).unwrap(),
            b"0123abcd",
            "half of the failed write"
        );
        assert!(fs.sync_data(&file).is_err());
        fs.sync_data(&file).unwrap();
        fs.append(&file, b"!").unwrap();
    }

    #[test]
    fn a_power_loss_freezes_the_disk_and_fails_what_follows() {
        let fs = SimAofFs::new();
        let path = Path::new("/d/f");
        let file = fs.create(path).unwrap();
        fs.append(&file, b"abc").unwrap();
        fs.sync_data(&file).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        fs.power_loss_after(2, 7);
        fs.append(&file, b"def").unwrap();
        assert!(fs.sync_data(&file).is_err());
        assert!(fs.has_lost_power());
        assert!(fs.append(&file, b"ghi").is_err());
        let data = read(&fs.crash(0), path);
        assert!(b"abcdef".starts_with(&data) && data.len() >= 3);
    }
}
