//! Tests run against every engine through the same functions: round trips at random
//! aligned offsets, concurrent readers on threads and tokio tasks, refused misaligned
//! requests, the end of file, fsync, shutdown, and each fault of the injector.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

use super::*;

const BLOCKS: u64 = 1024;
const FILE_LEN: u64 = BLOCKS * ALIGN as u64;

/// Both real engines, small enough to run side by side in a test process.
fn engines() -> Vec<Arc<dyn IoEngine>> {
    engines_of_depth(32, 4)
}

/// Both real engines: io_uring with `depth` slots, psync with `threads` threads.
fn engines_of_depth(depth: u32, threads: usize) -> Vec<Arc<dyn IoEngine>> {
    vec![
        Arc::new(UringIoEngine::new(depth).expect("io_uring must be available to the tests")),
        Arc::new(PsyncIoEngine::new(threads).expect("psync engine")),
    ]
}

/// A temporary directory on a filesystem that accepts O_DIRECT: the system's temp dir
/// if it does (tmpfs before Linux 6.6 does not), else one beside the test binary.
fn scratch() -> TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    if DirectFile::create(tmp.path().join("probe")).is_ok() {
        return tmp;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let beside = exe.parent().unwrap_or(Path::new("."));
    tempfile::tempdir_in(beside).expect("temp dir beside the test binary")
}

/// Runs `test` once per engine, each with a fresh directory.
fn for_each_engine(test: impl Fn(&Arc<dyn IoEngine>, &Path)) {
    for_each_engine_in(engines(), test);
}

fn for_each_engine_in(engines: Vec<Arc<dyn IoEngine>>, test: impl Fn(&Arc<dyn IoEngine>, &Path)) {
    for engine in engines {
        // Printed so that a failure names the engine it happened on.
        println!("engine: {}", engine.name());
        let dir = scratch();
        test(&engine, dir.path());
    }
}

fn new_file(dir: &Path, name: &str, len: u64) -> Arc<DirectFile> {
    let file = DirectFile::create(dir.join(name)).expect("create");
    file.allocate(len).expect("allocate");
    Arc::new(file)
}

/// `len` bytes of block `b`'s pattern: every byte says which block and where it is.
fn pattern(first_block: u64, len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::zeroed(len).expect("buffer");
    for (i, byte) in buf.iter_mut().enumerate() {
        let block = first_block + (i / ALIGN) as u64;
        *byte = (block as u8) ^ (i as u8).wrapping_mul(31);
    }
    buf
}

/// A file of `BLOCKS` blocks, each filled with its `pattern`.
fn patterned_file(engine: &Arc<dyn IoEngine>, dir: &Path) -> Arc<DirectFile> {
    let file = new_file(dir, "patterned", FILE_LEN);
    engine
        .write(&file, 0, pattern(0, FILE_LEN as usize))
        .wait()
        .expect("write pattern");
    file
}

/// Reads `blocks` blocks at block `first` and checks them against the pattern.
fn check_pattern(buf: &AlignedBuf, first: u64, blocks: usize) {
    assert_eq!(buf.len(), blocks * ALIGN, "read length at block {first}");
    assert!(
        buf[..] == pattern(first, blocks * ALIGN)[..],
        "wrong bytes at block {first}"
    );
}

fn random_span(rng: &mut StdRng) -> (u64, usize) {
    let blocks = rng.gen_range(1..=8usize);
    let first = rng.gen_range(0..=BLOCKS - blocks as u64);
    (first, blocks)
}

#[test]
fn random_writes_read_back() {
    for_each_engine(|engine, dir| {
        let file = new_file(dir, "random", FILE_LEN);
        let mut model = vec![0u8; FILE_LEN as usize];
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..300 {
            let (first, blocks) = random_span(&mut rng);
            let offset = first * ALIGN as u64;
            let at = offset as usize;
            if round % 3 == 0 {
                let got = engine
                    .read(&file, offset, blocks * ALIGN)
                    .wait()
                    .expect("read");
                assert!(got[..] == model[at..at + got.len()], "round {round}");
                assert_eq!(got.len(), blocks * ALIGN);
            } else {
                let mut buf = AlignedBuf::zeroed(blocks * ALIGN).expect("buffer");
                rng.fill(&mut buf[..]);
                model[at..at + buf.len()].copy_from_slice(&buf);
                let back = engine.write(&file, offset, buf).wait().expect("write");
                assert_eq!(back.len(), blocks * ALIGN, "the buffer comes back whole");
            }
        }
        engine.fsync(&file).wait().expect("fsync");
        let reopened = Arc::new(DirectFile::open(file.path()).expect("reopen"));
        let all = engine
            .read(&reopened, 0, FILE_LEN as usize)
            .wait()
            .expect("read all");
        assert!(all[..] == model[..], "whole file after reopening");
    });
}

#[test]
fn concurrent_reads_from_threads() {
    for_each_engine(concurrent_reads);
}

/// With one slot or one thread, requests queue behind each other and all complete.
#[test]
fn a_queue_depth_of_one_serves_everything() {
    for_each_engine_in(engines_of_depth(1, 1), concurrent_reads);
}

/// Four threads each keep batches of 16 random reads in flight and check every block.
fn concurrent_reads(engine: &Arc<dyn IoEngine>, dir: &Path) {
    let file = patterned_file(engine, dir);
    thread::scope(|s| {
        for t in 0..4 {
            let (engine, file) = (Arc::clone(engine), Arc::clone(&file));
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..20 {
                    // A batch in flight at once, then waited for in order.
                    let batch: Vec<_> = (0..16)
                        .map(|_| {
                            let (first, blocks) = random_span(&mut rng);
                            let fut = engine.read(&file, first * ALIGN as u64, blocks * ALIGN);
                            (first, blocks, fut)
                        })
                        .collect();
                    for (first, blocks, fut) in batch {
                        check_pattern(&fut.wait().expect("read"), first, blocks);
                    }
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_from_tasks() {
    for engine in engines() {
        println!("engine: {}", engine.name());
        let dir = scratch();
        reads_from_tasks(&engine, dir.path()).await;
    }
}

/// 64 tasks each make 20 random reads, one at a time, and check every block.
async fn reads_from_tasks(engine: &Arc<dyn IoEngine>, dir: &Path) {
    let file = patterned_file(engine, dir);
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let (engine, file) = (Arc::clone(engine), Arc::clone(&file));
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..20 {
                    let (first, blocks) = random_span(&mut rng);
                    let buf = engine
                        .read(&file, first * ALIGN as u64, blocks * ALIGN)
                        .await
                        .expect("read");
                    check_pattern(&buf, first, blocks);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
}

/// io_uring with its completions reaped on a runtime: tasks and plain threads both get
/// their reads (with one slot, and with many), and once the runtime shuts down the
/// engine's own thread reaps again.
#[test]
fn uring_reaps_on_a_runtime_and_after_it() {
    for depth in [1, 32] {
        println!("queue depth {depth}");
        let engine: Arc<dyn IoEngine> =
            Arc::new(UringIoEngine::new(depth).expect("io_uring must be available to the tests"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        engine.reap_on(runtime.handle());
        let dir = scratch();
        runtime.block_on(reads_from_tasks(&engine, dir.path()));
        concurrent_reads(&engine, scratch().path());
        drop(runtime);
        concurrent_reads(&engine, scratch().path());
        let dir = scratch();
        let file = patterned_file(&engine, dir.path());
        let pending: Vec<_> = (0..100u64)
            .map(|i| engine.read(&file, (i % BLOCKS) * ALIGN as u64, ALIGN))
            .collect();
        drop(engine);
        for (i, fut) in pending.into_iter().enumerate() {
            check_pattern(&fut.wait().expect("read"), i as u64 % BLOCKS, 1);
        }
    }
}

fn assert_invalid<T>(result: io::Result<T>, what: &str) {
    match result {
        Ok(_) => panic!("{what}: accepted"),
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{what}: {err}"),
    }
}

#[test]
fn misaligned_requests_are_refused() {
    for_each_engine(|engine, dir| {
        let file = new_file(dir, "aligned", 4 * ALIGN as u64);
        assert_invalid(engine.read(&file, 1, ALIGN).wait(), "odd offset");
        assert_invalid(engine.read(&file, 512, ALIGN).wait(), "sector offset");
        assert_invalid(engine.read(&file, 0, 100).wait(), "odd length");
        assert_invalid(engine.read(&file, 0, 0).wait(), "empty read");
        assert_invalid(
            engine.read(&file, 0, MAX_IO_LEN + ALIGN).wait(),
            "oversized read",
        );
        assert_invalid(
            engine.read(&file, u64::MAX - 4095, ALIGN).wait(),
            "offset past off_t",
        );
        let buf = AlignedBuf::zeroed(ALIGN).expect("buffer");
        assert_invalid(engine.write(&file, 4097, buf).wait(), "odd write offset");
        let mut short = AlignedBuf::zeroed(ALIGN).expect("buffer");
        short.truncate(100);
        assert_invalid(engine.write(&file, 0, short).wait(), "odd write length");
        assert_invalid(file.allocate(100), "odd preallocation");
        // The engine still works after refusing.
        engine.read(&file, 0, ALIGN).wait().expect("aligned read");
    });
}

#[test]
fn reads_at_the_end_of_file_are_short() {
    for_each_engine(|engine, dir| {
        let file = Arc::new(DirectFile::create(dir.join("eof")).expect("create"));
        engine
            .write(&file, 0, pattern(0, 2 * ALIGN))
            .wait()
            .expect("write");
        assert_eq!(file.len().expect("len"), 2 * ALIGN as u64);
        let straddling = engine.read(&file, ALIGN as u64, 4 * ALIGN).wait();
        check_pattern(&straddling.expect("read across the end"), 1, 1);
        let at_end = engine.read(&file, 2 * ALIGN as u64, ALIGN).wait();
        assert!(at_end.expect("read at the end").is_empty());
        let past = engine.read(&file, 1 << 30, ALIGN).wait();
        assert!(past.expect("read past the end").is_empty());
    });
}

#[test]
fn fsync_and_writes_extend_the_file() {
    for_each_engine(|engine, dir| {
        let file = Arc::new(DirectFile::create(dir.join("grow")).expect("create"));
        assert!(file.is_empty().expect("len"));
        engine.fsync(&file).wait().expect("fsync of an empty file");
        let buf = pattern(3, ALIGN);
        engine
            .write(&file, 3 * ALIGN as u64, buf)
            .wait()
            .expect("write");
        engine.fsync(&file).wait().expect("fsync");
        assert_eq!(file.len().expect("len"), 4 * ALIGN as u64);
        let hole = engine.read(&file, 0, ALIGN).wait().expect("read hole");
        assert!(hole.iter().all(|&b| b == 0));
        check_pattern(
            &engine
                .read(&file, 3 * ALIGN as u64, ALIGN)
                .wait()
                .expect("read"),
            3,
            1,
        );
    });
}

#[test]
fn dropping_an_engine_finishes_its_requests() {
    // Dropped with work queued: every future settles (completed), none hangs.
    let dir = scratch();
    for engine in engines() {
        let file = patterned_file(&engine, dir.path());
        let futures: Vec<_> = (0..200u64)
            .map(|i| engine.read(&file, (i % BLOCKS) * ALIGN as u64, ALIGN))
            .collect();
        drop(engine);
        for fut in futures {
            assert_eq!(fut.wait().expect("read submitted before drop").len(), ALIGN);
        }
    }
    // Dropped while idle: the threads stop and the drop returns.
    for engine in engines() {
        drop(engine);
    }
}

#[test]
fn injected_faults() {
    for_each_engine(|inner, dir| {
        let sim = SimIoEngine::new(Arc::clone(inner));
        let file = patterned_file(inner, dir);

        sim.fail_read(2);
        check_pattern(&sim.read(&file, 0, ALIGN).wait().expect("read 1"), 0, 1);
        assert!(sim.read(&file, 0, ALIGN).wait().is_err(), "read 2 fails");
        check_pattern(&sim.read(&file, 0, ALIGN).wait().expect("read 3"), 0, 1);
        assert_eq!(sim.count(SimOp::Read), 3);

        sim.short_read(1, ALIGN);
        let short = sim.read(&file, 0, 2 * ALIGN).wait().expect("short read");
        check_pattern(&short, 0, 1);

        sim.fail_write(1);
        let failed = sim.write(&file, 0, AlignedBuf::zeroed(ALIGN).expect("buffer"));
        assert!(failed.wait().is_err(), "write fails");
        check_pattern(&sim.read(&file, 0, ALIGN).wait().expect("read"), 0, 1);
        let zeroes = AlignedBuf::zeroed(ALIGN).expect("buffer");
        sim.write(&file, 0, zeroes).wait().expect("next write");
        let back = sim.read(&file, 0, ALIGN).wait().expect("read");
        assert!(back.iter().all(|&b| b == 0), "the second write landed");
        assert_eq!(sim.count(SimOp::Write), 2);

        sim.fail_fsync(1);
        assert!(sim.fsync(&file).wait().is_err(), "fsync fails");
        sim.fsync(&file).wait().expect("next fsync");
        assert_eq!(sim.count(SimOp::Fsync), 2);
        assert_eq!(sim.name(), "sim");
    });
}

#[test]
fn open_io_engine_by_kind() {
    for (kind, name) in [
        (IoEngineKind::Auto, "io_uring"),
        (IoEngineKind::Uring, "io_uring"),
        (IoEngineKind::Psync, "psync"),
    ] {
        let engine = open_io_engine(kind).expect("engine");
        assert_eq!(engine.name(), name, "{kind}");
        assert_eq!(kind.to_string().parse::<IoEngineKind>(), Ok(kind));
    }
    assert_eq!("URING".parse::<IoEngineKind>(), Ok(IoEngineKind::Uring));
    assert!("aio".parse::<IoEngineKind>().is_err());
}

#[test]
fn direct_file_errors_and_preallocation() {
    let dir = scratch();
    let missing = DirectFile::open(dir.path().join("missing")).expect_err("no such file");
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    assert!(missing.to_string().contains("missing"), "{missing}");
    let file = DirectFile::create(dir.path().join("pre")).expect("create");
    file.allocate(8 * ALIGN as u64).expect("allocate");
    assert_eq!(file.len().expect("len"), 8 * ALIGN as u64);
    file.allocate(ALIGN as u64).expect("allocate less");
    assert_eq!(file.len().expect("len"), 8 * ALIGN as u64, "never shrinks");
    assert_eq!(file.path(), dir.path().join("pre"));
}

#[test]
fn bad_engine_sizes_are_refused() {
    assert_invalid(UringIoEngine::new(0), "zero depth");
    assert_invalid(UringIoEngine::new(1 << 20), "huge depth");
    assert_invalid(PsyncIoEngine::new(0), "zero threads");
}
