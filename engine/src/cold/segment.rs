//! [`Segment`]: one segment file of the cold tier (`{id:08}.seg`) and its accounting:
//! the bytes written to it and still live, where its records end, how large its file
//! is, and whether it is sealed (no longer appended to).
//!
//! The segment table of [`ColdStore`](super::ColdStore) holds them as `Arc<Segment>`;
//! a reader clones the `Arc` for the duration of its read, so a segment being retired
//! is deleted only once no read is in flight on it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::io::DirectFile;

use super::error::ColdError;
use super::location::ColdLocation;

/// The suffix of a segment file's name.
const SUFFIX: &str = ".seg";

/// Digits in a segment file's name (segment ids have at most 7: 2^20 - 1).
const DIGITS: usize = 8;

/// The file name of segment `id`: its id in 8 decimal digits, then `.seg`.
pub fn file_name(id: u32) -> String {
    format!("{id:0DIGITS$}{SUFFIX}")
}

/// The segment id a file name stands for, if it matches the pattern of
/// [`file_name`] exactly (8 ASCII digits, then `.seg`). Only such files are ever
/// deleted by the store.
pub fn parse_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of segment `id` in `dir`.
pub fn path(dir: &Path, id: u32) -> PathBuf {
    dir.join(file_name(id))
}

/// One segment file and its counters. Counters are atomics: appends (under the
/// store's writer lock) add, [`mark_dead`](Segment::mark_dead) subtracts from any
/// thread, and statistics read them without a lock.
#[derive(Debug)]
pub(crate) struct Segment {
    id: u32,
    /// Unique among every segment this store ever opened (ids are reused, these are
    /// not): the key of in-flight reads.
    uid: u64,
    file: Arc<DirectFile>,
    /// Sum of `accounted_len` of the records appended.
    written: AtomicU64,
    /// `written` minus what [`mark_dead`](Segment::mark_dead) took away.
    live: AtomicU64,
    /// The end of the last record written (bytes past it hold no record of this
    /// segment, even if a failed append left some there).
    end: AtomicU64,
    /// The file's size: the preallocated segment size, or more when the last record
    /// runs past it.
    file_len: AtomicU64,
    sealed: AtomicBool,
}

impl Segment {
    /// Creates segment `id`'s file in `dir` (truncating a leftover) and preallocates
    /// `len` bytes.
    pub(crate) fn create(dir: &Path, id: u32, uid: u64, len: u64) -> Result<Segment, ColdError> {
        let path = path(dir, id);
        let file = DirectFile::create(&path).map_err(|e| ColdError::io(&path, None, e))?;
        if let Err(e) = file.allocate(len) {
            let _ = std::fs::remove_file(&path);
            return Err(ColdError::io(&path, None, e));
        }
        Ok(Segment {
            id,
            uid,
            file: Arc::new(file),
            written: AtomicU64::new(0),
            live: AtomicU64::new(0),
            end: AtomicU64::new(0),
            file_len: AtomicU64::new(len),
            sealed: AtomicBool::new(false),
        })
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    pub(crate) fn uid(&self) -> u64 {
        self.uid
    }

    pub(crate) fn file(&self) -> &Arc<DirectFile> {
        &self.file
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len.load(Ordering::Relaxed)
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    pub(crate) fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    /// Records that an append wrote `accounted` bytes of records ending at `end`, in a
    /// file now `file_len` bytes long.
    pub(crate) fn commit(&self, accounted: u64, end: u64, file_len: u64) {
        self.written.fetch_add(accounted, Ordering::Relaxed);
        self.live.fetch_add(accounted, Ordering::Relaxed);
        self.file_len.fetch_max(file_len, Ordering::Relaxed);
        self.end.fetch_max(end, Ordering::Release);
    }

    /// Subtracts the record at `loc` from the live bytes (never below zero: a record
    /// marked dead twice is a caller's bug, not a reason to wrap around).
    pub(crate) fn mark_dead(&self, loc: ColdLocation) {
        let len = loc.accounted_len() as u64;
        let _ = self
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
                Some(live.saturating_sub(len))
            });
    }

    /// live / written, 0 for a segment with nothing written.
    pub(crate) fn live_ratio(&self) -> f64 {
        let written = self.written();
        if written == 0 {
            0.0
        } else {
            self.live() as f64 / written as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cold::location::MAX_SEGMENT_ID;

    #[test]
    fn file_names() {
        assert_eq!(file_name(0), "00000000.seg");
        assert_eq!(file_name(42), "00000042.seg");
        assert_eq!(file_name(MAX_SEGMENT_ID), "01048575.seg");
        for id in [0, 1, 42, 99_999_999 % (MAX_SEGMENT_ID + 1), MAX_SEGMENT_ID] {
            assert_eq!(parse_file_name(&file_name(id)), Some(id));
        }
        for other in [
            "42.seg",
            "000000042.seg",
            "0000004a.seg",
            "00000042.seg.tmp",
            "00000042.SEG",
            "x00000042.seg",
            "+0000042.seg",
            ".seg",
            "notes.txt",
            "",
        ] {
            assert_eq!(parse_file_name(other), None, "{other:?}");
        }
        // Eight digits beyond the id range still match the pattern (a file of this
        // store's naming scheme, left by something); the caller deletes it too.
        assert_eq!(parse_file_name("99999999.seg"), Some(99_999_999));
    }
}
