//! [`ColdStore`]: the segment store of the cold tier. It owns the tier directory's
//! segment files, the table of segments with their live-byte accounting, appends
//! (through [`writer`](super::writer)), cold reads merged per span (through
//! [`reader`](super::reader)), and the calls the reclaimer needs: the segment to
//! reclaim next, all records of a segment, and retiring a segment.
//!
//! The store is capacity, not durability: [`ColdStore::open`] deletes the segment
//! files it finds, and nothing is ever fsynced.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::io::{AlignedBuf, IoEngine, ALIGN};

use super::error::ColdError;
use super::location::{ColdLocation, MAX_RECORD_LEN, MAX_SEGMENT_SIZE};
use super::reader::{check_record, InFlight, SpanRead};
use super::record::{record_len, records_in_block_run_from, RecordError};
use super::segment::{self, Segment};
use super::writer::{Ctx, Table, Writer};

/// The default `tier-segment-size`: 64 MiB, the largest a location can address.
pub const DEFAULT_SEGMENT_SIZE: u64 = MAX_SEGMENT_SIZE;

/// The smallest `tier-segment-size`: 1 MiB.
pub const MIN_SEGMENT_SIZE: u64 = 1 << 20;

/// Where the segment files go and how large they may grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdStoreConfig {
    /// The tier directory (`tier-dir`).
    pub dir: PathBuf,
    /// Each segment file's preallocated size (`tier-segment-size`): a multiple of 4096
    /// from [`MIN_SEGMENT_SIZE`] to [`MAX_SEGMENT_SIZE`].
    pub segment_size: u64,
    /// The disk bytes all segment files may take (`tier-max-size`); 0 = unlimited.
    /// Otherwise at least one segment.
    pub max_size: u64,
}

impl ColdStoreConfig {
    /// `dir` with the default segment size and no disk budget.
    pub fn new(dir: impl Into<PathBuf>) -> ColdStoreConfig {
        ColdStoreConfig {
            dir: dir.into(),
            segment_size: DEFAULT_SEGMENT_SIZE,
            max_size: 0,
        }
    }

    fn validate(&self) -> Result<(), ColdError> {
        let size = self.segment_size;
        if !size.is_multiple_of(ALIGN as u64)
            || !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&size)
        {
            return Err(ColdError::InvalidConfig(format!(
                "tier-segment-size {size} is not a multiple of {ALIGN} from \
                 {MIN_SEGMENT_SIZE} to {MAX_SEGMENT_SIZE}"
            )));
        }
        if self.max_size != 0 && self.max_size < size {
            return Err(ColdError::InvalidConfig(format!(
                "tier-max-size {} is smaller than one segment ({size} bytes)",
                self.max_size
            )));
        }
        Ok(())
    }
}

/// A record to append: a value leaving RAM with its key.
#[derive(Clone, Copy, Debug)]
pub struct NewRecord<'a> {
    pub key: &'a [u8],
    /// The index's hash of `key`.
    pub hash: u64,
    /// The value's type byte (0..=7, as a [`ColdLocation`] holds it).
    pub value_type: u8,
    /// The serialized value.
    pub value: &'a [u8],
}

/// A record read back whole from a segment (for the reclaimer), with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColdRecord {
    /// The location [`ColdStore::append`] returned for this record.
    pub loc: ColdLocation,
    pub key: Bytes,
    pub hash: u64,
    pub value_type: u8,
    pub value: Bytes,
}

/// One window of a segment's records ([`ColdStore::segment_records`]).
#[derive(Debug)]
pub struct SegmentRecords {
    pub records: Vec<ColdRecord>,
    /// Where the next window starts; None after the last record.
    pub next: Option<u64>,
}

/// The store's figures (for INFO and the reclaimer).
#[derive(Default, Clone, Debug)]
pub struct ColdStats {
    /// Segment files that exist.
    pub segments: u64,
    /// The sum of their file sizes.
    pub disk_used: u64,
    /// Accounted bytes of records not yet marked dead, over existing segments.
    pub live_bytes: u64,
    /// Accounted bytes of all records appended to existing segments.
    pub written_bytes: u64,
    /// Cold reads of existing segments (merged ones included).
    pub reads: u64,
    /// Reads that failed: I/O errors, short reads, corrupt or mismatched records.
    pub read_errors: u64,
    /// Reads served by another read of the same span in flight.
    pub merged_reads: u64,
    /// Segments retired.
    pub reclaimed_segments: u64,
}

/// The counters reads update from their futures.
#[derive(Default)]
struct Counters {
    reads: AtomicU64,
    read_errors: AtomicU64,
    merged_reads: AtomicU64,
    reclaimed_segments: AtomicU64,
}

/// The segment store. `Send + Sync`; share it as `Arc<ColdStore>`.
pub struct ColdStore {
    config: ColdStoreConfig,
    /// The disk budget now: `config.max_size` until [`ColdStore::set_max_size`].
    max_size: AtomicU64,
    io: Arc<dyn IoEngine>,
    table: Table,
    /// Serializes appends (and retiring the active segment).
    writer: Mutex<Writer>,
    in_flight: Arc<InFlight>,
    counters: Arc<Counters>,
    /// How many [`SegmentHold`]s live: while any does, no segment is retired.
    holds: Mutex<usize>,
    holds_released: Condvar,
}

/// Keeps every segment file of a store in place while it lives (see
/// [`ColdStore::hold_segments`]).
pub struct SegmentHold {
    store: Arc<ColdStore>,
}

impl Drop for SegmentHold {
    fn drop(&mut self) {
        let mut holds = self.store.holds.lock();
        *holds -= 1;
        if *holds == 0 {
            self.store.holds_released.notify_all();
        }
    }
}

impl ColdStore {
    /// Creates `dir` if needed and deletes the segment files in it: files whose name
    /// is 8 decimal digits then `.seg`. Anything else in the directory is left alone.
    pub fn open(config: ColdStoreConfig, io: Arc<dyn IoEngine>) -> Result<ColdStore, ColdError> {
        config.validate()?;
        let dir = &config.dir;
        std::fs::create_dir_all(dir).map_err(|e| ColdError::io(dir, None, e))?;
        let entries = std::fs::read_dir(dir).map_err(|e| ColdError::io(dir, None, e))?;
        let mut deleted = 0;
        for entry in entries {
            let entry = entry.map_err(|e| ColdError::io(dir, None, e))?;
            let is_segment = entry
                .file_name()
                .to_str()
                .and_then(segment::parse_file_name)
                .is_some();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_segment && is_file {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| ColdError::io(&path, None, e))?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            tracing::info!(
                "cold tier: deleted {deleted} segment files left in {}",
                dir.display()
            );
        }
        Ok(ColdStore {
            max_size: AtomicU64::new(config.max_size),
            config,
            io,
            table: RwLock::new(HashMap::new()),
            writer: Mutex::new(Writer::new()),
            in_flight: Arc::new(InFlight::default()),
            counters: Arc::new(Counters::default()),
            holds: Mutex::new(0),
            holds_released: Condvar::new(),
        })
    }

    /// The name of the I/O engine the store reads and writes through.
    pub fn io_engine_name(&self) -> &'static str {
        self.io.name()
    }

    /// Lets the I/O engine settle completions on `runtime` (see [`IoEngine::reap_on`]).
    pub fn reap_io_on(&self, runtime: &tokio::runtime::Handle) {
        self.io.reap_on(runtime);
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &ColdStoreConfig {
        &self.config
    }

    /// Appends `records` to the active segment (opening new segments as needed) and
    /// returns their locations, in order, once their bytes are written (no fsync: the
    /// tier is not durable). Blocking: for background threads; concurrent calls are
    /// serialized. One write per segment touched.
    ///
    /// All or nothing: a record longer than [`MAX_RECORD_LEN`] is
    /// [`ColdError::TooLarge`] and a value type above 7
    /// [`ColdError::InvalidValueType`] before anything is written; if the segment
    /// files would outgrow `max_size` the whole call is [`ColdError::Full`]; on a
    /// write error no record counts as written and the store's state is unchanged.
    pub fn append(&self, records: &[NewRecord<'_>]) -> Result<Vec<ColdLocation>, ColdError> {
        for r in records {
            let len = record_len(r.key.len(), r.value.len());
            if len > MAX_RECORD_LEN {
                return Err(ColdError::TooLarge(len));
            }
            if ColdLocation::new(0, 0, len, r.value_type).is_none() {
                return Err(ColdError::InvalidValueType(r.value_type));
            }
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = Ctx {
            dir: &self.config.dir,
            segment_size: self.config.segment_size,
            max_size: self.max_size.load(Ordering::Relaxed),
            io: &*self.io,
            table: &self.table,
        };
        self.writer.lock().append(&ctx, records)
    }

    /// Reads the value of the record at `loc`: one aligned read of `loc.read_span()`,
    /// shared with any other read of the same span in flight. Checks the record's crc
    /// and that it holds `key`, `hash` and `loc`'s value type. Returns a copy of the
    /// value. The segment is looked up, and the read submitted or joined, at the call;
    /// no lock is held while awaiting. The future pins the segment (a
    /// [`retire_segment`](Self::retire_segment) waits for it) until it completes or
    /// is dropped: await it, do not park it.
    pub fn read(
        &self,
        loc: ColdLocation,
        key: &[u8],
        hash: u64,
    ) -> impl Future<Output = Result<Bytes, ColdError>> + Send + 'static {
        let started = self.start_read(loc);
        let key = key.to_vec();
        let counters = Arc::clone(&self.counters);
        async move {
            let (segment, span_read, span_len) = started?;
            let result = span_read.await;
            let value = match result {
                Ok(buf) => check_record(&buf, span_len, loc, &key, hash)
                    .map(|record| Bytes::copy_from_slice(record.value))
                    .map_err(|e| e.into_cold(loc, segment.path())),
                Err((kind, text)) => Err(ColdError::io(
                    segment.path(),
                    Some(loc.read_span().0),
                    io::Error::new(kind, text),
                )),
            };
            if let Err(e) = &value {
                counters.read_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("cold tier: read of {:?} failed: {e}", loc);
            }
            // The segment stays pinned (not retired) until here.
            drop(segment);
            value
        }
    }

    /// Looks the segment up and joins or starts the read of the span.
    fn start_read(&self, loc: ColdLocation) -> Result<(Arc<Segment>, SpanRead, usize), ColdError> {
        let segment = self
            .table
            .read()
            .get(&loc.segment())
            .cloned()
            .ok_or(ColdError::SegmentGone(loc.segment()))?;
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        let (start, len) = loc.read_span();
        let (span_read, merged) = self.in_flight.join(
            (segment.uid(), start, len),
            loc.offset(),
            || segment.end(),
            || self.io.read(segment.file(), start, len),
        );
        if merged {
            self.counters.merged_reads.fetch_add(1, Ordering::Relaxed);
        }
        Ok((segment, span_read, len))
    }

    /// [`read`](Self::read), waited for on the calling thread (not from a task).
    pub fn read_blocking(
        &self,
        loc: ColdLocation,
        key: &[u8],
        hash: u64,
    ) -> Result<Bytes, ColdError> {
        block_on(self.read(loc, key, hash))
    }

    /// [`read_blocking`](Self::read_blocking) of many records at once: every read is
    /// submitted before the first is waited for, so they run side by side (a
    /// capture's cold values, a stripe at a time).
    pub fn read_many_blocking(
        &self,
        records: &[(ColdLocation, &[u8], u64)],
    ) -> Vec<Result<Bytes, ColdError>> {
        let reads: Vec<_> = records
            .iter()
            .map(|&(loc, key, hash)| self.read(loc, key, hash))
            .collect();
        block_on(async move {
            let mut values = Vec::with_capacity(reads.len());
            for read in reads {
                values.push(read.await);
            }
            values
        })
    }

    /// Frees the buffer the writer keeps for the next append (up to 4 MiB), for a
    /// writer that goes idle: the demoter calls it when a pass is over, so RAM that
    /// is all index and cold keys holds no write buffer.
    pub fn release_write_buffer(&self) {
        self.writer.lock().release_spare();
    }

    /// A record became dead (its key deleted or overwritten, or its value promoted):
    /// its accounted length leaves its segment's live bytes. Ignored for a segment
    /// already gone.
    pub fn mark_dead(&self, loc: ColdLocation) {
        if let Some(segment) = self.table.read().get(&loc.segment()) {
            segment.mark_dead(loc);
        }
    }

    /// The store's figures, summed over the segments that exist.
    pub fn stats(&self) -> ColdStats {
        let mut stats = ColdStats {
            reads: self.counters.reads.load(Ordering::Relaxed),
            read_errors: self.counters.read_errors.load(Ordering::Relaxed),
            merged_reads: self.counters.merged_reads.load(Ordering::Relaxed),
            reclaimed_segments: self.counters.reclaimed_segments.load(Ordering::Relaxed),
            ..ColdStats::default()
        };
        for segment in self.table.read().values() {
            stats.segments += 1;
            stats.disk_used += segment.file_len();
            stats.live_bytes += segment.live();
            stats.written_bytes += segment.written();
        }
        stats
    }

    /// The sealed segment (never the active one) with the lowest live ratio (live /
    /// written bytes), if that ratio is below `threshold`; a sealed segment with no
    /// live bytes is always a candidate. Ties go to the lowest id.
    pub fn reclaim_candidate(&self, threshold: f64) -> Option<u32> {
        let table = self.table.read();
        table
            .values()
            .filter(|s| s.is_sealed())
            .filter(|s| s.live() == 0 || s.live_ratio() < threshold)
            .min_by(|a, b| {
                a.live_ratio()
                    .total_cmp(&b.live_ratio())
                    .then(a.id().cmp(&b.id()))
            })
            .map(|s| s.id())
    }

    /// The records of `segment` from byte `from` (0, or a `next` an earlier call gave)
    /// in file order, with the locations [`append`] returned for them: as many as one
    /// read of about `window` bytes holds (at least one record, however long).
    /// Blocking. The keys and values are slices of that read's buffer (no copy):
    /// copy what is kept for long. The reclaimer walks a segment window by window, so
    /// a 64 MiB segment never sits in RAM whole.
    ///
    /// [`append`]: Self::append
    pub fn segment_records(
        &self,
        segment: u32,
        from: u64,
        window: usize,
    ) -> Result<SegmentRecords, ColdError> {
        let seg = self
            .table
            .read()
            .get(&segment)
            .cloned()
            .ok_or(ColdError::SegmentGone(segment))?;
        let end = seg.end();
        let mut records = Vec::new();
        if from >= end {
            return Ok(SegmentRecords {
                records,
                next: None,
            });
        }
        // Windows start and end on block boundaries, so a walk never mistakes the cut
        // end of a block for its padding.
        let start = from - from % ALIGN as u64;
        let whole = (end - start).div_ceil(ALIGN as u64) * ALIGN as u64;
        let mut len = (window.max(ALIGN) as u64).div_ceil(ALIGN as u64) * ALIGN as u64;
        loop {
            len = len.min(whole);
            let buf = self
                .io
                .read(seg.file(), start, len as usize)
                .wait()
                .map_err(|e| ColdError::io(seg.path(), Some(start), e))?;
            let avail = len.min(end - start);
            if (buf.len() as u64) < avail {
                return Err(ColdError::io(
                    seg.path(),
                    Some(start),
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("short read: {} of {avail} bytes", buf.len()),
                    ),
                ));
            }
            let bytes = Bytes::from_owner(OwnedBuf(buf)).slice(..avail as usize);
            let last_window = start + avail >= end;
            let mut walk = records_in_block_run_from(&bytes, (from - start) as usize);
            while let Some(item) = walk.next() {
                let corrupt = |offset: usize, source| ColdError::Corrupt {
                    segment,
                    offset: start + offset as u64,
                    source,
                };
                let (offset, r) = match item {
                    Ok(found) => found,
                    // A record running past this window: the next call starts at it,
                    // or, if it is the first, this one reads a window that holds it.
                    Err(RecordError::Truncated { needed, .. }) if !last_window => {
                        let at = walk.offset();
                        if records.is_empty() {
                            len = ((at + needed) as u64).div_ceil(ALIGN as u64) * ALIGN as u64;
                            break;
                        }
                        return Ok(SegmentRecords {
                            records,
                            next: Some(start + at as u64),
                        });
                    }
                    Err(e) => return Err(corrupt(walk.offset(), e)),
                };
                let at = start + offset as u64;
                let loc = ColdLocation::new(segment, at, r.len, r.value_type)
                    .ok_or_else(|| corrupt(offset, RecordError::TooLarge { len: r.len }))?;
                records.push(ColdRecord {
                    loc,
                    key: bytes.slice_ref(r.key),
                    hash: r.hash,
                    value_type: r.value_type,
                    value: bytes.slice_ref(r.value),
                });
            }
            if walk.offset() >= bytes.len() || last_window {
                let next = (!last_window).then_some(start + avail);
                return Ok(SegmentRecords { records, next });
            }
        }
    }

    /// Keeps every record readable where it is until the hold is dropped: retiring a
    /// segment (the reclaimer's, the evictor's) waits meanwhile. For a point-in-time
    /// capture, whose cold values are read at the locations they had at its start,
    /// even if they moved or died since.
    pub fn hold_segments(self: &Arc<Self>) -> SegmentHold {
        *self.holds.lock() += 1;
        SegmentHold {
            store: self.clone(),
        }
    }

    /// Removes `segment` from the table (reads of its locations answer
    /// [`ColdError::SegmentGone`] from then on), waits until no read is in flight on
    /// it, deletes its file and counts it reclaimed. The caller has moved its live
    /// records elsewhere. Retiring the active segment seals it first (the next append
    /// opens a new one).
    pub fn retire_segment(&self, segment: u32) -> Result<(), ColdError> {
        {
            let mut holds = self.holds.lock();
            while *holds > 0 {
                self.holds_released.wait(&mut holds);
            }
        }
        let seg = {
            let mut writer = self.writer.lock();
            if writer
                .active
                .as_ref()
                .is_some_and(|a| a.segment.id() == segment)
            {
                writer.active = None;
            }
            self.table
                .write()
                .remove(&segment)
                .ok_or(ColdError::SegmentGone(segment))?
        };
        seg.seal();
        // Readers hold a clone of the Arc until their read is done.
        let mut pause = Duration::from_micros(50);
        while Arc::strong_count(&seg) > 1 {
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        std::fs::remove_file(seg.path()).map_err(|e| ColdError::io(seg.path(), None, e))?;
        self.counters
            .reclaimed_segments
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Changes the disk budget (`CONFIG SET tier-max-size`; 0 = unlimited). Segments
    /// already there stay; a budget below what they take only stops new segments.
    pub fn set_max_size(&self, max_size: u64) {
        self.max_size.store(max_size, Ordering::Relaxed);
    }

    /// The tier directory.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }
}

/// An [`AlignedBuf`] as the owner of a [`Bytes`].
struct OwnedBuf(AlignedBuf);

impl AsRef<[u8]> for OwnedBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on the calling thread, parking between polls.
fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}
