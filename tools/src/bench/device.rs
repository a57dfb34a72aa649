//! `tierbench device --dir DIR`: the disk's own 4 KiB random read latency, measured as
//! fio measures it (a preallocated file written through first, so reads touch the
//! device; random aligned offsets; O_DIRECT) at QD1 and QD32, through the engine's
//! io_uring engine with its completions reaped on a tokio runtime, as tierd reads its
//! cold values. The result has the shape of a server run, so `plot` draws it beside
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use tier_engine::io::{AlignedBuf, DirectFile, IoEngine, UringIoEngine, ALIGN};
use tokio::task::JoinSet;

use super::report::{Latencies, RunResult};
use crate::error::Failure;
use crate::progress;

/// The unit the file is written in.
const WRITE_CHUNK: usize = 1 << 20;

/// A device run.
pub struct DeviceRun {
    /// The directory the test file is made in (on the disk to measure).
    pub dir: PathBuf,
    /// The test file's size (rounded down to 1 MiB, at least 1 MiB).
    pub size: u64,
    /// How long each queue depth runs.
    pub duration: Duration,
    /// The queue depths, in order.
    pub depths: Vec<u32>,
    pub name: String,
}

/// The test file, removed when dropped.
struct TestFile(Arc<DirectFile>);

impl Drop for TestFile {
    fn drop(&mut self) {
        // Best effort: a file left behind is the worst outcome, and it is named.
        if let Err(e) = std::fs::remove_file(self.0.path()) {
            eprintln!("tierbench: cannot remove {}: {e}", self.0.path().display());
        }
    }
}

/// Runs the reads of `run` and returns one series per queue depth.
pub fn device(run: &DeviceRun) -> Result<RunResult, Failure> {
    let size = (run.size / WRITE_CHUNK as u64).max(1) * WRITE_CHUNK as u64;
    let path = run
        .dir
        .join(format!("tierbench-device.{}.dat", std::process::id()));
    let failed = |e: &dyn std::fmt::Display| Failure::io(&path, e);
    let depth = run.depths.iter().copied().max().unwrap_or(1).max(1);
    let engine: Arc<dyn IoEngine> = Arc::new(UringIoEngine::new(depth).map_err(|e| {
        Failure::Io(format!(
            "io_uring is not available here ({e}): the device run needs it"
        ))
    })?);
    let file = TestFile(Arc::new(DirectFile::create(&path).map_err(|e| failed(&e))?));
    file.0.allocate(size).map_err(|e| failed(&e))?;
    fill(&*engine, &file.0, size).map_err(|e| failed(&e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(format!("cannot start a tokio runtime: {e}")))?;
    engine.reap_on(runtime.handle());
    let started = Instant::now();
    let mut series = Vec::new();
    for &qd in &run.depths {
        let (latencies, elapsed) = runtime
            .block_on(random_reads(&engine, &file.0, size, qd, run.duration))
            .map_err(|e| failed(&e))?;
        series.push(latencies.series(&format!("read QD{qd}"), elapsed));
    }
    Ok(RunResult {
        name: run.name.clone(),
        kind: "device".into(),
        target: path.display().to_string(),
        settings: BTreeMap::from([
            ("engine".into(), engine.name().into()),
            ("block".into(), ALIGN.to_string()),
            ("size".into(), size.to_string()),
            ("duration".into(), format!("{:?}", run.duration)),
        ]),
        elapsed_secs: started.elapsed().as_secs_f64(),
        series,
        server: None,
    })
}

/// Writes the whole file with random bytes and flushes it: a file that was only
/// fallocated reads as zeros without touching the device.
fn fill(engine: &dyn IoEngine, file: &Arc<DirectFile>, size: u64) -> std::io::Result<()> {
    let bar = progress::bar(Some(size), &format!("writing {}", file.path().display()));
    let mut buf = AlignedBuf::zeroed(WRITE_CHUNK)?;
    let mut rng = SmallRng::from_entropy();
    let mut offset = 0;
    while offset < size {
        rng.fill_bytes(&mut buf);
        buf = engine.write(file, offset, buf).wait()?;
        offset += WRITE_CHUNK as u64;
        bar.inc(WRITE_CHUNK as u64);
    }
    bar.finish_and_clear();
    engine.fsync(file).wait()
}

/// `qd` tasks each reading one random 4 KiB block at a time for `duration`.
async fn random_reads(
    engine: &Arc<dyn IoEngine>,
    file: &Arc<DirectFile>,
    size: u64,
    qd: u32,
    duration: Duration,
) -> std::io::Result<(Latencies, Duration)> {
    let blocks = size / ALIGN as u64;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for task in 0..qd {
        let (engine, file) = (Arc::clone(engine), Arc::clone(file));
        tasks.spawn(async move {
            let mut rng = SmallRng::seed_from_u64(u64::from(task) ^ 0x5EED);
            let mut latencies = Latencies::default();
            while Instant::now() < deadline {
                let offset = rng.gen_range(0..blocks) * ALIGN as u64;
                let sent = Instant::now();
                let buf = engine.read(&file, offset, ALIGN).await?;
                if buf.len() == ALIGN {
                    latencies.record(sent.elapsed());
                } else {
                    latencies.error(sent.elapsed());
                }
            }
            Ok::<_, std::io::Error>(latencies)
        });
    }
    let mut all = Latencies::default();
    while let Some(done) = tasks.join_next().await {
        all.add(&done.map_err(std::io::Error::other)??);
    }
    Ok((all, started.elapsed()))
}

/// `--dir`'s parser: a directory that exists (the test file is made there).
pub fn existing_dir(arg: &str) -> Result<PathBuf, String> {
    let dir = Path::new(arg);
    if dir.is_dir() {
        Ok(dir.to_path_buf())
    } else {
        Err(format!("{arg} is not a directory"))
    }
}
