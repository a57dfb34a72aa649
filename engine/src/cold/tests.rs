//! Tests of the segment store, each run on both I/O engines (io_uring and psync) in a
//! fresh directory: round trips of many sizes across segments, the tail block rewrite,
//! merged reads, mismatches, the reclaimer's calls, the disk budget, reopening, the
//! I/O faults of the simulator, concurrent appends, and a proptest against a model.

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

use super::*;
use crate::io::{DirectFile, IoEngine, PsyncIoEngine, SimIoEngine, SimOp, UringIoEngine, ALIGN};

const MIB: u64 = 1 << 20;

fn engines() -> Vec<Arc<dyn IoEngine>> {
    vec![
        Arc::new(UringIoEngine::new(32).expect("io_uring must be available to the tests")),
        Arc::new(PsyncIoEngine::new(4).expect("psync engine")),
    ]
}

/// A temporary directory on a filesystem that accepts O_DIRECT (as io/tests.rs).
fn scratch() -> TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    if DirectFile::create(tmp.path().join("probe")).is_ok() {
        let _ = std::fs::remove_file(tmp.path().join("probe"));
        return tmp;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let beside = exe.parent().unwrap_or(Path::new("."));
    tempfile::tempdir_in(beside).expect("temp dir beside the test binary")
}

/// Every record of `segment`, walked a few blocks at a time (as the reclaimer walks
/// it, with a smaller window, so records cut by a window's end are common).
fn all_records(store: &ColdStore, segment: u32) -> Result<Vec<ColdRecord>, ColdError> {
    let mut all = Vec::new();
    let mut from = Some(0);
    while let Some(at) = from {
        let window = store.segment_records(segment, at, 3 * ALIGN)?;
        all.extend(window.records);
        from = window.next;
    }
    Ok(all)
}

fn config(dir: &Path, segment_size: u64, max_size: u64) -> ColdStoreConfig {
    ColdStoreConfig {
        dir: dir.join("tier"),
        segment_size,
        max_size,
    }
}

/// Runs `test` once per engine with a fresh directory.
fn for_each_engine(test: impl Fn(&Arc<dyn IoEngine>, &Path)) {
    for engine in engines() {
        // Printed so that a failure names the engine it happened on.
        println!("engine: {}", engine.name());
        let dir = scratch();
        test(&engine, dir.path());
    }
}

/// A store of 1 MiB segments with no budget.
fn small_store(io: &Arc<dyn IoEngine>, dir: &Path) -> ColdStore {
    ColdStore::open(config(dir, MIB, 0), Arc::clone(io)).expect("open")
}

/// An owned record: what the tests append and expect back.
#[derive(Clone, Debug)]
struct Rec {
    key: Vec<u8>,
    hash: u64,
    value_type: u8,
    value: Vec<u8>,
}

impl Rec {
    /// Record `i` with a value of `len` bytes; key, hash and bytes derive from `i`.
    fn new(i: u64, len: usize) -> Rec {
        let hash = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
        Rec {
            key: format!("key:{i}").into_bytes(),
            hash,
            value_type: (i % 3) as u8,
            value: (0..len).map(|j| (j as u64 ^ hash) as u8).collect(),
        }
    }

    fn new_record(&self) -> NewRecord<'_> {
        NewRecord {
            key: &self.key,
            hash: self.hash,
            value_type: self.value_type,
            value: &self.value,
        }
    }
}

fn append(store: &ColdStore, recs: &[Rec]) -> Result<Vec<ColdLocation>, ColdError> {
    let new: Vec<NewRecord<'_>> = recs.iter().map(Rec::new_record).collect();
    store.append(&new)
}

fn read_back(store: &ColdStore, loc: ColdLocation, rec: &Rec) -> Result<Bytes, ColdError> {
    store.read_blocking(loc, &rec.key, rec.hash)
}

fn check_all(store: &ColdStore, locs: &[ColdLocation], recs: &[Rec]) {
    assert_eq!(locs.len(), recs.len());
    for (i, (loc, rec)) in locs.iter().zip(recs).enumerate() {
        let got = read_back(store, *loc, rec).unwrap_or_else(|e| panic!("record {i}: {e}"));
        assert!(
            got[..] == rec.value[..],
            "record {i} at {loc:?}: wrong value"
        );
        assert_eq!(loc.value_type(), rec.value_type);
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn round_trip_of_many_sizes_across_segments() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        assert_eq!(store.io_engine_name(), io.name());
        let mut rng = StdRng::seed_from_u64(1);
        let mut recs = Vec::new();
        let mut locs = Vec::new();
        let mut i = 0;
        while recs.len() < 600 {
            let batch: Vec<Rec> = (0..rng.gen_range(1..40))
                .map(|_| {
                    i += 1;
                    let len = match i {
                        100 => 100 << 10,
                        300 => 5 << 20,
                        _ if i % 7 == 0 => rng.gen_range(0..64),
                        _ => rng.gen_range(0..20_000),
                    };
                    Rec::new(i, len)
                })
                .collect();
            locs.extend(append(&store, &batch).expect("append"));
            recs.extend(batch);
        }
        check_all(&store, &locs, &recs);

        let stats = store.stats();
        let segments = files_in(&store.config().dir);
        assert!(stats.segments >= 5, "{stats:?}");
        assert_eq!(segments.len() as u64, stats.segments);
        assert!(segments
            .iter()
            .all(|n| parse_segment_file_name(n).is_some()));
        let accounted: u64 = locs.iter().map(|l| l.accounted_len() as u64).sum();
        assert_eq!(stats.written_bytes, accounted);
        assert_eq!(stats.live_bytes, accounted);
        assert!(stats.disk_used >= stats.segments * MIB);
        assert_eq!(stats.read_errors, 0);
        assert_eq!(stats.reads, recs.len() as u64);
        // The 5 MiB record overhangs its 1 MiB segment, whose file grew to hold it.
        let big = locs[299];
        assert_eq!(recs[299].value.len(), 5 << 20);
        assert!(big.offset() < MIB);
        let file_len = std::fs::metadata(store.config().dir.join(segment_file_name(big.segment())))
            .expect("metadata")
            .len();
        assert!(file_len >= big.offset() + (5 << 20), "{file_len}");
        assert_eq!(file_len % ALIGN as u64, 0);

        // Records follow each other with no gap within a segment.
        for w in locs.windows(2) {
            if w[0].segment() == w[1].segment() && w[0].is_exact_len() {
                let end = w[0].offset() as usize + w[0].accounted_len();
                assert_eq!(w[1].offset() as usize, record_start(end), "{w:?}");
            } else if w[0].segment() != w[1].segment() {
                assert_eq!(w[1].offset(), 0);
            }
        }
    });
}

#[test]
fn single_record_appends_rewrite_the_tail_block() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let mut rng = StdRng::seed_from_u64(2);
        let recs: Vec<Rec> = (0..3000)
            .map(|i| Rec::new(i, rng.gen_range(0..700)))
            .collect();
        let mut locs = Vec::new();
        for (i, rec) in recs.iter().enumerate() {
            let loc = append(&store, std::slice::from_ref(rec)).expect("append")[0];
            // The record just written and the first of its block read back at once.
            read_back(&store, loc, rec).expect("fresh record");
            if let Some(prev) = locs.last().copied() {
                read_back(&store, prev, &recs[i - 1]).expect("previous record");
            }
            locs.push(loc);
        }
        check_all(&store, &locs, &recs);
        // Packed: the bytes used are the records' bytes plus block tails under 24.
        let first_segment: Vec<_> = locs
            .iter()
            .filter(|l| l.segment() == locs[0].segment())
            .collect();
        let last = first_segment.last().expect("records");
        let used = last.offset() as usize + last.accounted_len();
        let records: usize = first_segment.iter().map(|l| l.accounted_len()).sum();
        assert!(
            used - records < (used / ALIGN + 1) * RECORD_HEADER_LEN,
            "{used} {records}"
        );
        assert!(store.stats().segments >= 2, "crossed into a second segment");
    });
}

#[test]
fn reads_of_one_span_in_flight_share_one_device_read() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for inner in engines() {
        println!("engine: {}", inner.name());
        let dir = scratch();
        let sim = Arc::new(SimIoEngine::new(Arc::clone(&inner)));
        let io: Arc<dyn IoEngine> = sim.clone();
        let store = Arc::new(small_store(&io, dir.path()));
        // 30 records of 100 bytes: all in block 0.
        let recs: Vec<Rec> = (0..30).map(|i| Rec::new(i, 100)).collect();
        let locs = append(&store, &recs).expect("append");
        assert!(locs.iter().all(|l| l.read_span() == (0, ALIGN)));

        // Every read is started before any is awaited: one device read for all.
        let reads_before = sim.count(SimOp::Read);
        let futures: Vec<_> = (0..300)
            .map(|i| {
                let (loc, rec) = (locs[i % 30], &recs[i % 30]);
                (i % 30, store.read(loc, &rec.key, rec.hash))
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = futures
                .into_iter()
                .map(|(i, f)| (i, tokio::spawn(f)))
                .collect();
            for (i, task) in tasks {
                let value = task.await.expect("task").expect("read");
                assert!(value[..] == recs[i].value[..]);
            }
        });
        assert_eq!(sim.count(SimOp::Read) - reads_before, 1);
        let stats = store.stats();
        assert_eq!(stats.merged_reads, 299);
        assert_eq!(stats.reads, 300);

        // Many tasks reading at random, concurrently: all values right.
        rt.block_on(async {
            let tasks: Vec<_> = (0..64u64)
                .map(|t| {
                    let (store, recs, locs) = (Arc::clone(&store), recs.clone(), locs.clone());
                    tokio::spawn(async move {
                        let mut rng = StdRng::seed_from_u64(t);
                        for _ in 0..50 {
                            let i = rng.gen_range(0..recs.len());
                            let value = store
                                .read(locs[i], &recs[i].key, recs[i].hash)
                                .await
                                .expect("read");
                            assert!(value[..] == recs[i].value[..]);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        let stats = store.stats();
        assert_eq!(stats.reads, 300 + 64 * 50);
        assert_eq!(stats.read_errors, 0);
        println!("merged reads: {}", stats.merged_reads - 299);
    }
}

#[test]
fn a_record_appended_during_a_read_of_its_block_reads_back() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let first = vec![Rec::new(1, 100)];
        let first_loc = append(&store, &first).expect("append")[0];
        // A read of block 0 goes out, and is not awaited yet...
        let early = store.read(first_loc, &first[0].key, first[0].hash);
        thread::sleep(Duration::from_millis(10));
        // ...while a second record is appended into block 0.
        let second = vec![Rec::new(2, 100)];
        let second_loc = append(&store, &second).expect("append")[0];
        assert_eq!(second_loc.read_span(), first_loc.read_span());
        let value = store
            .read_blocking(second_loc, &second[0].key, second[0].hash)
            .expect("the new record, from a read of its own");
        assert!(value[..] == second[0].value[..]);
        assert_eq!(store.stats().merged_reads, 0);
        assert!(futures_block_on(early).expect("early read")[..] == first[0].value[..]);
    });
}

#[test]
fn a_dropped_read_does_not_stall_the_others() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let recs: Vec<Rec> = (0..2).map(|i| Rec::new(i, 100)).collect();
        let locs = append(&store, &recs).expect("append");
        let first = store.read(locs[0], &recs[0].key, recs[0].hash);
        let second = store.read(locs[1], &recs[1].key, recs[1].hash);
        drop(first);
        let value = futures_block_on(second).expect("read");
        assert!(value[..] == recs[1].value[..]);
    });
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn wrong_key_hash_or_type_is_a_mismatch() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let recs: Vec<Rec> = (0..3).map(|i| Rec::new(i, 5000)).collect();
        let locs = append(&store, &recs).expect("append");
        let (loc, rec) = (locs[1], &recs[1]);
        let mismatch = |r: Result<Bytes, ColdError>| match r {
            Err(ColdError::Mismatch { segment, offset }) => {
                assert_eq!((segment, offset), (loc.segment(), loc.offset()));
            }
            other => panic!("expected a mismatch, got {other:?}"),
        };
        mismatch(store.read_blocking(loc, b"other", rec.hash));
        mismatch(store.read_blocking(loc, &rec.key, rec.hash ^ 1));
        let retyped =
            ColdLocation::new(loc.segment(), loc.offset(), loc.accounted_len(), 7).expect("loc");
        mismatch(store.read_blocking(retyped, &rec.key, rec.hash));
        // A location in the middle of a record: not a record.
        let inside = ColdLocation::new(loc.segment(), loc.offset() + 40, 100, 0).expect("loc");
        assert!(matches!(
            store.read_blocking(inside, &rec.key, rec.hash),
            Err(ColdError::Corrupt { .. } | ColdError::Mismatch { .. })
        ));
        let err = store
            .read_blocking(loc, b"other", rec.hash)
            .expect_err("mismatch");
        let text = err.to_string();
        assert!(text.contains(&segment_file_name(loc.segment())), "{text}");
        assert!(text.contains(&format!("offset {}", loc.offset())), "{text}");
        assert_eq!(store.stats().read_errors, 5);
        read_back(&store, loc, rec).expect("the right key still reads");
    });
}

/// Appends records of `len` bytes in batches of `batch` until `segments` segments are
/// sealed.
fn fill_segments(store: &ColdStore, sealed: usize, len: usize) -> (Vec<ColdLocation>, Vec<Rec>) {
    let (mut locs, mut recs) = (Vec::new(), Vec::new());
    let mut i = 0;
    loop {
        let batch: Vec<Rec> = (0..16)
            .map(|_| {
                i += 1;
                Rec::new(i, len)
            })
            .collect();
        locs.extend(append(store, &batch).expect("append"));
        recs.extend(batch);
        let mut segs: Vec<u32> = locs.iter().map(|l| l.segment()).collect();
        segs.dedup();
        if segs.len() > sealed {
            return (locs, recs);
        }
    }
}

#[test]
fn reclaiming_a_segment() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let (locs, recs) = fill_segments(&store, 3, 3000);
        let segs: Vec<u32> = {
            let mut s: Vec<u32> = locs.iter().map(|l| l.segment()).collect();
            s.dedup();
            s
        };
        let active = *segs.last().expect("segments");
        assert_eq!(
            store.reclaim_candidate(1.0),
            None,
            "all live: none below 1.0"
        );

        // The active segment is never a candidate, even when empty of live bytes.
        for loc in locs.iter().filter(|l| l.segment() == active) {
            store.mark_dead(*loc);
        }
        assert_eq!(store.reclaim_candidate(0.5), None);

        // Half of segment 1 dead: a candidate below a threshold above 0.5.
        let in_seg = |s: u32| locs.iter().filter(move |l| l.segment() == s).copied();
        let seg1: Vec<ColdLocation> = in_seg(segs[1]).collect();
        for loc in seg1.iter().step_by(2) {
            store.mark_dead(*loc);
        }
        assert_eq!(store.reclaim_candidate(0.4), None);
        assert_eq!(store.reclaim_candidate(0.6), Some(segs[1]));
        // Segment 0 all dead: always the first candidate, whatever the threshold.
        for loc in in_seg(segs[0]) {
            store.mark_dead(loc);
        }
        assert_eq!(store.reclaim_candidate(0.0), Some(segs[0]));
        assert_eq!(store.reclaim_candidate(0.6), Some(segs[0]));

        // segment_records gives back every record of the segment, as appended.
        let got = all_records(&store, segs[1]).expect("records");
        let expected: Vec<(ColdLocation, &Rec)> = locs
            .iter()
            .zip(&recs)
            .filter(|(l, _)| l.segment() == segs[1])
            .map(|(l, r)| (*l, r))
            .collect();
        assert_eq!(got.len(), expected.len());
        for (record, (loc, rec)) in got.iter().zip(&expected) {
            assert_eq!(record.loc, *loc);
            assert_eq!(record.key[..], rec.key[..]);
            assert_eq!(record.hash, rec.hash);
            assert_eq!(record.value_type, rec.value_type);
            assert!(record.value[..] == rec.value[..]);
        }
        // The active segment too (its tail block is on disk).
        let active_records = all_records(&store, active).expect("active");
        assert_eq!(active_records.len(), in_seg(active).count());

        // Retire segment 0 while a read of it is in flight: the file goes only
        // after the read is done.
        let before = store.stats();
        let path = store.config().dir.join(segment_file_name(segs[0]));
        let seg0_len = std::fs::metadata(&path).expect("metadata").len();
        let (loc0, rec0) = (locs[0], &recs[0]);
        let in_flight = store.read(loc0, &rec0.key, rec0.hash);
        thread::scope(|s| {
            let retire = s.spawn(|| store.retire_segment(segs[0]));
            thread::sleep(Duration::from_millis(50));
            assert!(!retire.is_finished(), "waits for the read in flight");
            assert!(path.exists());
            // Gone from the table already.
            assert!(matches!(
                read_back(&store, locs[1], &recs[1]),
                Err(ColdError::SegmentGone(id)) if id == segs[0]
            ));
            let value = futures_block_on(in_flight).expect("the read in flight completes");
            assert!(value[..] == rec0.value[..]);
            retire.join().expect("join").expect("retire");
        });
        assert!(!path.exists(), "file deleted");
        for (loc, rec) in in_seg(segs[0]).zip(&recs) {
            assert!(matches!(
                read_back(&store, loc, rec),
                Err(ColdError::SegmentGone(_))
            ));
            store.mark_dead(loc); // ignored
        }
        assert!(matches!(
            all_records(&store, segs[0]),
            Err(ColdError::SegmentGone(_))
        ));
        assert!(matches!(
            store.retire_segment(segs[0]),
            Err(ColdError::SegmentGone(_))
        ));
        let after = store.stats();
        assert_eq!(after.reclaimed_segments, 1);
        assert_eq!(after.segments, before.segments - 1);
        assert_eq!(after.disk_used, before.disk_used - seg0_len);
        assert_eq!(store.reclaim_candidate(0.6), Some(segs[1]));

        // Retiring the active segment seals it; the next append opens another.
        store
            .retire_segment(active)
            .expect("retire the active segment");
        let more = vec![Rec::new(1_000_000, 10)];
        let loc = append(&store, &more).expect("append")[0];
        assert_ne!(loc.segment(), active);
        assert_eq!(loc.offset(), 0);
        check_all(&store, &[loc], &more);
        // Everything not retired still reads back.
        for (loc, rec) in locs.iter().zip(&recs) {
            if loc.segment() != segs[0] && loc.segment() != active {
                read_back(&store, *loc, rec).expect("surviving record");
            }
        }
    });
}

/// While a hold lives, retiring waits and every record stays readable where it was;
/// once it is dropped the retire goes through.
#[test]
fn held_segments_are_not_retired() {
    for_each_engine(|io, dir| {
        let store = Arc::new(small_store(io, dir));
        let (locs, recs) = fill_segments(&store, 1, 3000);
        let first = locs[0].segment();
        let hold = store.hold_segments();
        thread::scope(|s| {
            let retire = s.spawn(|| store.retire_segment(first));
            thread::sleep(Duration::from_millis(50));
            assert!(!retire.is_finished(), "waits for the hold");
            check_all(&store, &locs, &recs);
            drop(hold);
            retire.join().expect("join").expect("retire");
        });
        assert!(matches!(
            read_back(&store, locs[0], &recs[0]),
            Err(ColdError::SegmentGone(_))
        ));
    });
}

#[test]
fn the_disk_budget_refuses_a_segment_too_many() {
    for_each_engine(|io, dir| {
        // Room for three segments, each perhaps grown by a record running past its end.
        let store =
            ColdStore::open(config(dir, MIB, 3 * MIB + 64 * 1024), Arc::clone(io)).expect("open");
        let (mut locs, mut recs) = (Vec::new(), Vec::new());
        let mut i = 0;
        let full = loop {
            let batch: Vec<Rec> = (0..8)
                .map(|_| {
                    i += 1;
                    Rec::new(i, 10_000)
                })
                .collect();
            match append(&store, &batch) {
                Ok(l) => {
                    locs.extend(l);
                    recs.extend(batch);
                }
                Err(e) => break e,
            }
        };
        assert!(matches!(full, ColdError::Full), "{full:?}");
        let stats = store.stats();
        assert_eq!(stats.segments, 3);
        assert!(stats.disk_used <= 3 * MIB + 64 * 1024);
        // All or nothing: what was refused left no trace; the rest reads back.
        assert_eq!(
            stats.written_bytes,
            locs.iter().map(|l| l.accounted_len() as u64).sum::<u64>()
        );
        check_all(&store, &locs, &recs);
        // Small records still fit in the active segment's remaining room.
        let small = vec![Rec::new(999_999, 10)];
        let room = append(&store, &small);
        if let Ok(l) = &room {
            check_all(&store, l, &small);
        }
        // A segment retired makes room again.
        let first = locs[0].segment();
        store.retire_segment(first).expect("retire");
        let again: Vec<Rec> = (0..40).map(|j| Rec::new(2_000_000 + j, 10_000)).collect();
        let l = append(&store, &again).expect("room after retiring");
        check_all(&store, &l, &again);
    });
}

#[test]
fn reopening_deletes_segment_files_only() {
    for_each_engine(|io, dir| {
        let cfg = config(dir, MIB, 0);
        {
            let store = ColdStore::open(cfg.clone(), Arc::clone(io)).expect("open");
            fill_segments(&store, 2, 5000);
        }
        let tier = &cfg.dir;
        std::fs::write(tier.join("notes.txt"), b"keep").expect("write");
        std::fs::write(tier.join("00000007.seg.bak"), b"keep").expect("write");
        std::fs::write(tier.join("7.seg"), b"keep").expect("write");
        std::fs::create_dir(tier.join("00000009.seg")).expect("a directory named like one");
        assert!(
            files_in(tier)
                .iter()
                .filter(|n| parse_segment_file_name(n).is_some())
                .count()
                >= 4
        );
        let store = ColdStore::open(cfg.clone(), Arc::clone(io)).expect("reopen");
        assert_eq!(
            files_in(tier),
            ["00000007.seg.bak", "00000009.seg", "7.seg", "notes.txt"]
        );
        let stats = store.stats();
        assert_eq!(
            (stats.segments, stats.disk_used, stats.written_bytes),
            (0, 0, 0)
        );
        let recs = vec![Rec::new(1, 100)];
        let locs = append(&store, &recs).expect("append after reopening");
        check_all(&store, &locs, &recs);
    });
}

#[test]
fn bad_configs_and_records_are_refused() {
    let dir = scratch();
    let io: Arc<dyn IoEngine> = Arc::new(PsyncIoEngine::new(1).expect("psync"));
    for (segment_size, max_size) in [
        (MIB - ALIGN as u64, 0),
        (MIB + 1, 0),
        (MAX_SEGMENT_SIZE + ALIGN as u64, 0),
        (0, 0),
        (2 * MIB, MIB),
    ] {
        let cfg = config(dir.path(), segment_size, max_size);
        assert!(
            matches!(
                ColdStore::open(cfg, Arc::clone(&io)),
                Err(ColdError::InvalidConfig(_))
            ),
            "{segment_size} {max_size}"
        );
    }
    let default = ColdStoreConfig::new(dir.path().join("tier"));
    assert_eq!(default.segment_size, 64 * MIB);
    let store = ColdStore::open(config(dir.path(), MIB, 0), io).expect("open");
    let big = vec![0u8; MAX_RECORD_LEN];
    let too_large = NewRecord {
        key: b"k",
        hash: 0,
        value_type: 0,
        value: &big,
    };
    let ok = NewRecord {
        value: b"v",
        ..too_large
    };
    assert!(matches!(
        store.append(&[ok, too_large]),
        Err(ColdError::TooLarge(n)) if n == MAX_RECORD_LEN + 1 + RECORD_HEADER_LEN
    ));
    assert!(matches!(
        store.append(&[NewRecord {
            value_type: 8,
            ..ok
        }]),
        Err(ColdError::InvalidValueType(8))
    ));
    assert_eq!(
        store.stats().segments,
        0,
        "refused before anything was written"
    );
    assert!(store.append(&[]).expect("nothing").is_empty());
    // The largest record fits (in a segment it overhangs).
    let largest = vec![7u8; MAX_RECORD_LEN - RECORD_HEADER_LEN - 1];
    let loc = store
        .append(&[NewRecord {
            value: &largest,
            ..ok
        }])
        .expect("largest")[0];
    assert_eq!(loc.accounted_len(), MAX_RECORD_LEN);
    assert!(store.read_blocking(loc, b"k", 0).expect("read")[..] == largest[..]);
}

#[test]
fn injected_read_faults_are_errors() {
    for_each_engine(|inner, dir| {
        let sim = Arc::new(SimIoEngine::new(Arc::clone(inner)));
        let io: Arc<dyn IoEngine> = sim.clone();
        let store = small_store(&io, dir);
        // A small record first, so the big one crosses block boundaries.
        let recs = vec![Rec::new(1, 100), Rec::new(2, 3 * ALIGN)];
        let locs = append(&store, &recs).expect("append");
        // Rounded to 4 blocks, from offset 129: a span of 5 blocks, the record in 4.
        assert_eq!(locs[1].read_span(), (0, 5 * ALIGN));

        sim.fail_read(1);
        let err = read_back(&store, locs[1], &recs[1]).expect_err("failed read");
        assert!(matches!(err, ColdError::Io { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&segment_file_name(locs[1].segment())),
            "{err}"
        );
        read_back(&store, locs[1], &recs[1]).expect("the next read works");

        // Short reads at every block count: an error, never a value.
        for keep in [0, ALIGN, 2 * ALIGN, 3 * ALIGN] {
            sim.short_read(1, keep);
            let err = read_back(&store, locs[1], &recs[1]).expect_err("short read");
            match &err {
                ColdError::Io { source, .. } => {
                    assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof, "{err}")
                }
                other => panic!("keep {keep}: {other:?}"),
            }
        }
        // A short read that still holds the whole record gives that record.
        sim.short_read(1, 4 * ALIGN);
        read_back(&store, locs[1], &recs[1]).expect("record inside the bytes read");
        assert_eq!(store.stats().read_errors, 5);

        // segment_records: a failed or short read is an error too.
        sim.fail_read(1);
        assert!(matches!(
            all_records(&store, locs[0].segment()),
            Err(ColdError::Io { .. })
        ));
        sim.short_read(1, ALIGN);
        assert!(matches!(
            all_records(&store, locs[0].segment()),
            Err(ColdError::Io { .. })
        ));
        assert_eq!(
            all_records(&store, locs[0].segment())
                .expect("records")
                .len(),
            2
        );
    });
}

#[test]
fn a_failed_write_changes_nothing() {
    for_each_engine(|inner, dir| {
        let sim = Arc::new(SimIoEngine::new(Arc::clone(inner)));
        let io: Arc<dyn IoEngine> = sim.clone();
        let store = small_store(&io, dir);
        let mut recs: Vec<Rec> = (0..5).map(|i| Rec::new(i, 300)).collect();
        let mut locs = append(&store, &recs).expect("append");
        let before = store.stats();

        // A failed write into the tail block.
        sim.fail_write(1);
        let failed: Vec<Rec> = (100..103).map(|i| Rec::new(i, 200)).collect();
        let err = append(&store, &failed).expect_err("write fails");
        assert!(matches!(err, ColdError::Io { .. }), "{err:?}");
        let after = store.stats();
        assert_eq!(
            (after.segments, after.written_bytes, after.live_bytes),
            (before.segments, before.written_bytes, before.live_bytes)
        );
        check_all(&store, &locs, &recs);

        // The next append goes where the failed one would have.
        let next: Vec<Rec> = (200..203).map(|i| Rec::new(i, 200)).collect();
        let next_locs = append(&store, &next).expect("append after a failed write");
        assert_eq!(
            next_locs[0].offset(),
            (locs[4].offset() as usize + locs[4].accounted_len()) as u64
        );
        recs.extend(next);
        locs.extend(next_locs);
        check_all(&store, &locs, &recs);

        // A failed write in an append that opens a segment: the new file is deleted,
        // the old active segment stays active.
        let files = files_in(&store.config().dir);
        let segment = locs[0].segment();
        sim.fail_write(2);
        let spanning: Vec<Rec> = (300..310).map(|i| Rec::new(i, 200_000)).collect();
        assert!(append(&store, &spanning).is_err());
        assert_eq!(
            files_in(&store.config().dir),
            files,
            "new segment file removed"
        );
        let tail = vec![Rec::new(400, 10)];
        let tail_loc = append(&store, &tail).expect("append")[0];
        assert_eq!(tail_loc.segment(), segment, "still the active segment");
        recs.extend(tail);
        locs.push(tail_loc);
        let l = append(&store, &spanning).expect("the same records now fit");
        recs.extend(spanning);
        locs.extend(l);
        check_all(&store, &locs, &recs);
        let records: Vec<ColdLocation> = all_records(&store, segment)
            .expect("records")
            .iter()
            .map(|r| r.loc)
            .collect();
        let expected: Vec<ColdLocation> = locs
            .iter()
            .copied()
            .filter(|l| l.segment() == segment)
            .collect();
        assert_eq!(records, expected, "no trace of the failed appends");
    });
}

#[test]
fn concurrent_appends_and_reads() {
    for_each_engine(|io, dir| {
        let store = small_store(io, dir);
        let written: Vec<Vec<(ColdLocation, Rec)>> = thread::scope(|s| {
            let writers: Vec<_> = (0..2u64)
                .map(|t| {
                    let store = &store;
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(t);
                        let mut out = Vec::new();
                        for round in 0..100u64 {
                            let batch: Vec<Rec> = (0..rng.gen_range(1..10))
                                .map(|j| Rec::new(t << 32 | round << 8 | j, rng.gen_range(0..9000)))
                                .collect();
                            let locs = append(store, &batch).expect("append");
                            // Each freshly written record reads back at once.
                            for (loc, rec) in locs.iter().zip(&batch) {
                                assert!(
                                    read_back(store, *loc, rec).expect("read")[..] == rec.value[..]
                                );
                            }
                            out.extend(locs.into_iter().zip(batch));
                        }
                        out
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|w| w.join().expect("join"))
                .collect()
        });
        let all: Vec<&(ColdLocation, Rec)> = written.iter().flatten().collect();
        let mut places: Vec<(u32, u64)> =
            all.iter().map(|(l, _)| (l.segment(), l.offset())).collect();
        places.sort();
        places.dedup();
        assert_eq!(places.len(), all.len(), "no two records share a place");
        for (loc, rec) in all {
            assert!(read_back(&store, *loc, rec).expect("read")[..] == rec.value[..]);
        }
    });
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<usize>),
    Read(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    let len = prop_oneof![
        6 => 0usize..200,
        3 => 200usize..5000,
        1 => 5000usize..70_000,
    ];
    prop_oneof![
        2 => prop::collection::vec(len, 1..12).prop_map(Op::Append),
        3 => any::<prop::sample::Index>().prop_map(Op::Read),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random appends and reads agree with a model (a Vec of what was appended); at
    /// the end, walking every segment gives back exactly the model, in order.
    #[test]
    fn appends_and_reads_agree_with_a_model(ops in prop::collection::vec(op(), 1..60)) {
        for io in engines() {
            let dir = scratch();
            let store = small_store(&io, dir.path());
            let mut model: Vec<(ColdLocation, Rec)> = Vec::new();
            let mut i = 0u64;
            for op in &ops {
                match op {
                    Op::Append(lens) => {
                        let batch: Vec<Rec> = lens.iter().map(|&len| {
                            i += 1;
                            Rec::new(i, len)
                        }).collect();
                        let locs = append(&store, &batch).expect("append");
                        prop_assert_eq!(locs.len(), batch.len());
                        model.extend(locs.into_iter().zip(batch));
                    }
                    Op::Read(at) => {
                        if model.is_empty() {
                            continue;
                        }
                        let (loc, rec) = &model[at.index(model.len())];
                        let value = read_back(&store, *loc, rec).expect("read");
                        prop_assert!(value[..] == rec.value[..]);
                    }
                }
            }
            let mut segments: Vec<u32> = model.iter().map(|(l, _)| l.segment()).collect();
            segments.dedup();
            let walked: Vec<ColdRecord> = segments
                .iter()
                .flat_map(|&s| all_records(&store, s).expect("records"))
                .collect();
            prop_assert_eq!(walked.len(), model.len());
            for (got, (loc, rec)) in walked.iter().zip(&model) {
                prop_assert_eq!(got.loc, *loc);
                prop_assert_eq!(&got.key[..], &rec.key[..]);
                prop_assert!(got.value[..] == rec.value[..]);
            }
            let stats = store.stats();
            prop_assert_eq!(stats.segments as usize, segments.len());
            prop_assert_eq!(
                stats.live_bytes,
                model.iter().map(|(l, _)| l.accounted_len() as u64).sum::<u64>()
            );
        }
    }
}
