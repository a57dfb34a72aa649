//! The cold tier's segment store, on both I/O engines:
//!
//! - `ColdStore::append` of 256 records of 1 KiB values per call, against a plain
//!   `pwrite` of the same bytes: through the page cache; with O_DIRECT over one region
//!   written again and again; with O_DIRECT into fresh fallocated 64 MiB files (as the
//!   store writes); and the I/O engine's write of the already encoded bytes into such
//!   files (the engine's thread hand-off included).
//! - `ColdStore::read_blocking` of a random 1 KiB record, against the raw `IoEngine`
//!   read of one random 4 KiB block of the same file.
//!
//! Files live in a temporary directory beside the bench binary (the target
//! directory's disk: /tmp may be a tmpfs that refuses O_DIRECT).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_benches::scratch;
use tier_engine::cold::{record_len, ColdLocation, ColdStore, ColdStoreConfig, NewRecord};
use tier_engine::io::{AlignedBuf, DirectFile, IoEngine, PsyncIoEngine, UringIoEngine, ALIGN};

const VALUE_LEN: usize = 1024;
const BATCH: usize = 256;
/// Segments kept by the append bench before it retires the oldest (untimed), so a
/// long run does not fill the disk.
const KEEP_SEGMENTS: u64 = 4;
/// The region the pwrite baselines cycle over (one default segment).
const REGION: u64 = 64 << 20;
/// Records preloaded for the read bench (about 32 MiB).
const READ_RECORDS: usize = 32 << 10;

fn engines() -> Vec<Arc<dyn IoEngine>> {
    vec![
        Arc::new(UringIoEngine::new(128).expect("io_uring")),
        Arc::new(PsyncIoEngine::new(8).expect("psync")),
    ]
}

struct Rec {
    key: Vec<u8>,
    hash: u64,
    value: Vec<u8>,
}

fn records(n: usize, first: usize) -> Vec<Rec> {
    (first..first + n)
        .map(|i| Rec {
            key: format!("key:{i:012}").into_bytes(),
            hash: (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            value: (0..VALUE_LEN).map(|j| (i + j) as u8).collect(),
        })
        .collect()
}

fn new_records(recs: &[Rec]) -> Vec<NewRecord<'_>> {
    recs.iter()
        .map(|r| NewRecord {
            key: &r.key,
            hash: r.hash,
            value_type: 0,
            value: &r.value,
        })
        .collect()
}

fn open_store(dir: &Path, io: &Arc<dyn IoEngine>) -> ColdStore {
    ColdStore::open(ColdStoreConfig::new(dir.join("tier")), Arc::clone(io)).expect("open store")
}

/// `pwrite` of `buf` at offsets cycling over `REGION`, timed per call.
fn pwrite_loop(file: &File, buf: &[u8], iters: u64) -> Duration {
    let step = buf.len().div_ceil(ALIGN) as u64 * ALIGN as u64;
    let started = Instant::now();
    for i in 0..iters {
        let offset = i * step % (REGION - step);
        let offset = offset - offset % ALIGN as u64;
        file.write_all_at(buf, offset).expect("pwrite");
    }
    started.elapsed()
}

/// 64 MiB files, each created and fallocated when the previous one is full (four
/// names in turn, so the disk holds four at most), handing out where the next write
/// of `len` bytes goes.
struct FreshFiles {
    dir: PathBuf,
    name: String,
    created: u64,
    std: Option<(File, u64)>,
    direct: Option<(Arc<DirectFile>, u64)>,
}

impl FreshFiles {
    fn new(dir: &Path, name: &str) -> FreshFiles {
        FreshFiles {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            created: 0,
            std: None,
            direct: None,
        }
    }

    fn next_path(&mut self) -> PathBuf {
        self.created += 1;
        self.dir.join(format!("{}{}", self.name, self.created % 4))
    }

    /// A std `File` opened with O_DIRECT.
    fn next_std(&mut self, len: usize) -> (&File, u64) {
        let len = len as u64;
        let full = self.std.as_ref().is_none_or(|(_, at)| at + len > REGION);
        if full {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(self.next_path())
                .expect("create with O_DIRECT");
            // SAFETY: fallocate on a descriptor we own; no memory is passed.
            let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, REGION as libc::off_t) };
            assert_eq!(rc, 0, "fallocate");
            self.std = Some((file, 0));
        }
        let (file, at) = self.std.as_mut().expect("file");
        let offset = *at;
        *at += len;
        (file, offset)
    }

    /// A `DirectFile` for the I/O engine.
    fn next_direct(&mut self, len: usize) -> (Arc<DirectFile>, u64) {
        let len = len as u64;
        let full = self.direct.as_ref().is_none_or(|(_, at)| at + len > REGION);
        if full {
            let file = DirectFile::create(self.next_path()).expect("create");
            file.allocate(REGION).expect("fallocate");
            self.direct = Some((Arc::new(file), 0));
        }
        let (file, at) = self.direct.as_mut().expect("file");
        let offset = *at;
        *at += len;
        (Arc::clone(file), offset)
    }
}

fn append(c: &mut Criterion) {
    let recs = records(BATCH, 0);
    let batch = new_records(&recs);
    let bytes: usize = recs
        .iter()
        .map(|r| record_len(r.key.len(), r.value.len()))
        .sum();
    let mut group = c.benchmark_group("segment_append_256x1KiB");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(bytes as u64));
    for io in engines() {
        let dir = scratch();
        let store = open_store(dir.path(), &io);
        group.bench_function(format!("cold_store_{}", io.name()), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    black_box(store.append(&batch).expect("append"));
                    timed += started.elapsed();
                    if store.stats().segments > KEEP_SEGMENTS {
                        if let Some(oldest) = store.reclaim_candidate(2.0) {
                            store.retire_segment(oldest).expect("retire");
                        }
                    }
                }
                timed
            });
        });
    }
    // The baselines write the records' bytes as they are (no encoding, no crc).
    let plain: Vec<u8> = recs
        .iter()
        .flat_map(|r| r.key.iter().chain(&r.value).copied())
        .chain(std::iter::repeat_n(0, BATCH * 24))
        .collect();
    assert_eq!(plain.len(), bytes);
    let dir = scratch();
    let buffered = File::create(dir.path().join("buffered")).expect("create");
    group.bench_function("pwrite_page_cache", |b| {
        b.iter_custom(|iters| pwrite_loop(&buffered, &plain, iters));
    });
    let direct = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(dir.path().join("direct"))
        .expect("create with O_DIRECT");
    let mut aligned = AlignedBuf::zeroed(bytes.div_ceil(ALIGN) * ALIGN).expect("buffer");
    aligned[..bytes].copy_from_slice(&plain);
    group.bench_function("pwrite_o_direct", |b| {
        b.iter_custom(|iters| pwrite_loop(&direct, &aligned, iters));
    });
    // As the store's files are: each 64 MiB file created and fallocated (timed), then
    // written front to back, so every write lands in fresh (unwritten) extents.
    let mut fresh = FreshFiles::new(dir.path(), "fresh");
    group.bench_function("pwrite_o_direct_fresh_fallocated_files", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let (file, offset) = fresh.next_std(aligned.len());
                file.write_all_at(&aligned, offset).expect("pwrite");
            }
            started.elapsed()
        });
    });
    // The same, through the I/O engine (its thread hand-off included).
    for io in engines() {
        let mut fresh = FreshFiles::new(dir.path(), io.name());
        let mut spare = Some(AlignedBuf::zeroed(aligned.len()).expect("buffer"));
        group.bench_function(
            format!("engine_write_fresh_fallocated_files_{}", io.name()),
            |b| {
                b.iter_custom(|iters| {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let (file, offset) = fresh.next_direct(aligned.len());
                        let mut buf = spare.take().expect("buffer");
                        buf.copy_from_slice(&aligned);
                        spare = Some(io.write(&file, offset, buf).wait().expect("write"));
                    }
                    started.elapsed()
                });
            },
        );
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment_read_1KiB");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for io in engines() {
        let dir = scratch();
        let store = open_store(dir.path(), &io);
        let recs = records(READ_RECORDS, 0);
        let mut locs: Vec<ColdLocation> = Vec::with_capacity(recs.len());
        for chunk in recs.chunks(BATCH) {
            locs.extend(store.append(&new_records(chunk)).expect("append"));
        }
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        group.bench_function(format!("cold_store_{}", io.name()), |b| {
            b.iter(|| {
                let i = next(locs.len());
                let value = store
                    .read_blocking(locs[i], &recs[i].key, recs[i].hash)
                    .expect("read");
                assert_eq!(value.len(), VALUE_LEN);
            });
        });
        // The same file, read a random block at a time through the engine alone.
        let segment = locs[0].segment();
        let file = Arc::new(
            DirectFile::open(dir.path().join("tier").join(format!("{segment:08}.seg")))
                .expect("open segment"),
        );
        let blocks =
            (locs.iter().filter(|l| l.segment() == segment).count() * VALUE_LEN / ALIGN) as u64;
        group.bench_function(format!("raw_engine_read_4KiB_{}", io.name()), |b| {
            b.iter(|| {
                let block = next(blocks as usize) as u64;
                let buf = io
                    .read(&file, block * ALIGN as u64, ALIGN)
                    .wait()
                    .expect("read");
                assert_eq!(buf.len(), ALIGN);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append, read);
criterion_main!(benches);
