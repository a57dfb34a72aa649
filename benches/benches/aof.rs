//! The AOF under `appendfsync always`: `tier_engine::aof::AofWriter` (appends copied
//! into a buffer, one `aof-writer` thread writing and fdatasyncing everything appended
//! meanwhile: group commit) against a plain `write` + `fdatasync` per append on a
//! shared file (what each append costs without group commit), with 1, 4 and 16
//! appenders each waiting for its own append to be durable before the next, as
//! clients wait for their replies. The files are on the target directory's disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parking_lot::Mutex;
use tier_benches::scratch;
use tier_engine::aof::{encode_command, AofDir, AofWriter, AofWriterConfig, FsyncPolicy, StdAofFs};

/// One `SET key:%012d <value>` with a 64-byte value: about 100 bytes.
fn command(i: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(
        &[&b"SET"[..], format!("key:{i:012}").as_bytes(), &[b'v'; 64]],
        &mut out,
    );
    out
}

/// Runs `append` `iters` times spread over `threads` threads at once; returns the
/// wall time.
fn appenders(threads: u64, iters: u64, append: &(dyn Fn(u64) + Sync)) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let share = iters / threads + u64::from(t < iters % threads);
            s.spawn(move || {
                for i in 0..share {
                    append(t << 32 | i);
                }
            });
        }
    });
    started.elapsed()
}

fn open_writer(dir: &Path) -> AofWriter<StdAofFs> {
    let aof_dir = AofDir::open(
        Arc::new(StdAofFs),
        dir.join("appendonlydir"),
        "appendonly.aof",
    )
    .expect("AOF dir");
    let config = AofWriterConfig {
        fsync: FsyncPolicy::Always,
        ..AofWriterConfig::default()
    };
    AofWriter::open(aof_dir, config).expect("AOF writer")
}

/// A file written with `write` and made durable with `fdatasync` after each append,
/// under a lock (one append at a time, as a log's order demands).
struct PlainLog(Mutex<File>);

impl PlainLog {
    fn create(path: &Path) -> PlainLog {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
            .expect("create the log");
        PlainLog(Mutex::new(file))
    }

    fn append(&self, bytes: &[u8]) {
        let mut file = self.0.lock();
        file.write_all(bytes).expect("write");
        // SAFETY: fdatasync on a descriptor the locked File owns; no memory is passed.
        let rc = unsafe { libc::fdatasync(file.as_raw_fd()) };
        assert_eq!(rc, 0, "fdatasync: {}", std::io::Error::last_os_error());
    }
}

fn aof(c: &mut Criterion) {
    let dir = scratch();
    let mut group = c.benchmark_group("aof_append_fsync_always");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for threads in [1, 4, 16] {
        let writer = open_writer(&dir.path().join(format!("group-{threads}")));
        group.bench_function(format!("group_commit/{threads}_appenders"), |b| {
            b.iter_custom(|iters| {
                appenders(threads, iters, &|i| {
                    let lsn = writer.append(&command(i)).expect("append");
                    writer.acked(lsn).wait().expect("durable");
                })
            });
        });
        writer.close().expect("close the AOF");
        let plain = PlainLog::create(&dir.path().join(format!("plain-{threads}.aof")));
        group.bench_function(format!("write_fdatasync_each/{threads}_appenders"), |b| {
            b.iter_custom(|iters| appenders(threads, iters, &|i| plain.append(&command(i))));
        });
    }
    group.finish();
}

criterion_group!(benches, aof);
criterion_main!(benches);
