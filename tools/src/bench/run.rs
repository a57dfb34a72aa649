//! The RESP load: `--load` (every key written once, with a progress bar), then the run
//! itself, either closed loop (each connection sends `--pipeline` requests, waits for
//! their replies, and sends again; a request's latency runs from its batch's send) or
//! open loop (`--rate`: each connection sends on a fixed schedule whatever the replies
//! do, and a request's latency runs from its *intended* send time, so a stall of the
//! server counts against every request it delayed: no coordinated omission).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::conn::{Conn, Reply, Target};
use super::keys::{key_name, value_bytes, KeyChooser, ValueLengths};
use super::report::{Latencies, RunResult, ServerCounts};
use super::spec::{KeyPattern, Ratio, ValueSize};
use crate::error::Failure;
use crate::progress;

/// Keys each load connection writes per round trip.
const LOAD_BATCH: u64 = 256;

/// Spinning (yielding) replaces sleeping for the last part of a wait in the open
/// loop: tokio's timer wakes at millisecond ticks, too coarse for a schedule.
const SPIN_BELOW: Duration = Duration::from_millis(1);

/// When a run ends.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    After(Duration),
    Requests(u64),
}

/// What to run against a server.
#[derive(Clone, Debug)]
pub struct Workload {
    pub target: Target,
    /// Connections in all (`--threads` × `--clients`).
    pub connections: u64,
    pub pipeline: u64,
    pub stop: Stop,
    pub ratio: Ratio,
    pub keys: u64,
    pub pattern: KeyPattern,
    pub value_size: ValueSize,
    /// Requests per second for all connections together (open loop).
    pub rate: Option<f64>,
    pub key_prefix: String,
    pub seed: u64,
    /// Ask tierd to mark cold reads (TIER TRACE); off, GETs are not split.
    pub trace: bool,
}

/// What one connection measured.
#[derive(Default, Clone)]
struct Measured {
    get: Latencies,
    get_hot: Latencies,
    get_cold: Latencies,
    set: Latencies,
    /// Cold values the traced replies counted.
    cold_values: u64,
}

impl Measured {
    fn add(&mut self, other: &Measured) {
        self.get.add(&other.get);
        self.get_hot.add(&other.get_hot);
        self.get_cold.add(&other.get_cold);
        self.set.add(&other.set);
        self.cold_values += other.cold_values;
    }

    /// Files one reply to a request of kind `get` that took `latency`.
    fn reply(&mut self, get: bool, traced: bool, reply: &Reply, latency: Duration) {
        let failed = reply.error().is_some();
        let file = |lat: &mut Latencies| {
            if failed {
                lat.error(latency)
            } else {
                lat.record(latency)
            }
        };
        if !get {
            return file(&mut self.set);
        }
        file(&mut self.get);
        if traced {
            match reply.cold {
                Some(n) => {
                    self.cold_values += n.max(0) as u64;
                    file(&mut self.get_cold);
                }
                None => file(&mut self.get_hot),
            }
        }
    }
}

/// One connection's requests: which are GETs, which keys, which values.
struct Requests {
    ratio: Ratio,
    chooser: KeyChooser,
    lengths: ValueLengths,
    values: Arc<Vec<u8>>,
    prefix: String,
    key: Vec<u8>,
}

impl Requests {
    /// Queues the request of number `n` on `conn`; returns whether it is a GET.
    fn queue(&mut self, n: u64, sender: &mut super::conn::Sender) -> bool {
        let get = self.ratio.is_get(n);
        key_name(&self.prefix, self.chooser.next_key(), &mut self.key);
        if get {
            sender.queue(&[&b"GET"[..], &self.key]);
        } else {
            let len = self.lengths.next_len();
            sender.queue(&[&b"SET"[..], &self.key, &self.values[..len]]);
        }
        get
    }
}

/// The numbers of the run's requests, over every connection: the GET:SET ratio
/// follows them (exact for the run as a whole), and `--requests` bounds them.
struct Sequence {
    next: AtomicU64,
    limit: u64,
}

impl Sequence {
    /// Takes up to `n` request numbers; an empty range when none are left.
    fn take(&self, n: u64) -> Range<u64> {
        let first = self.next.fetch_add(n, Ordering::Relaxed).min(self.limit);
        first..(first + n).min(self.limit)
    }
}

fn conn_failed(target: &Target, e: impl std::fmt::Display) -> Failure {
    Failure::Io(format!("{}: {e}", target.address()))
}

/// Writes every key `0..keys` once (SETs of `value_size`), on `connections`
/// connections, with a progress bar. An error reply stops the load.
pub async fn load(w: &Workload) -> Result<(), Failure> {
    let bar = progress::counter(w.keys, &format!("loading {} keys", w.keys));
    let next = Arc::new(AtomicU64::new(0));
    let values = Arc::new(value_bytes(w.value_size.max));
    let mut tasks = JoinSet::new();
    for client in 0..w.connections.min(w.keys.max(1)) {
        let (w, next, values, bar) = (w.clone(), next.clone(), values.clone(), bar.clone());
        tasks.spawn(async move {
            let mut conn = Conn::open(&w.target, false)
                .await
                .map_err(|e| conn_failed(&w.target, e))?;
            let mut lengths = ValueLengths::new(w.value_size, client, w.seed);
            let mut key = Vec::new();
            loop {
                let first = next.fetch_add(LOAD_BATCH, Ordering::Relaxed);
                if first >= w.keys {
                    return Ok(());
                }
                let last = (first + LOAD_BATCH).min(w.keys);
                for i in first..last {
                    key_name(&w.key_prefix, i, &mut key);
                    let len = lengths.next_len();
                    conn.sender.queue(&[&b"SET"[..], &key, &values[..len]]);
                }
                conn.sender
                    .flush()
                    .await
                    .map_err(|e| conn_failed(&w.target, e))?;
                for _ in first..last {
                    let reply = conn
                        .receiver
                        .reply()
                        .await
                        .map_err(|e| conn_failed(&w.target, e))?;
                    if let Some(e) = reply.error() {
                        return Err(Failure::Refused(format!(
                            "{}: the load's SET got {e}",
                            w.target.address()
                        )));
                    }
                }
                bar.inc(last - first);
            }
        });
    }
    let result = join_all(&mut tasks).await.map(|_: Vec<()>| ());
    bar.finish_and_clear();
    result
}

/// Waits for every task; the first failure wins.
async fn join_all<T: 'static>(tasks: &mut JoinSet<Result<T, Failure>>) -> Result<Vec<T>, Failure> {
    let mut done = Vec::new();
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(t)) => done.push(t),
            Ok(Err(e)) => {
                failed.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failed.get_or_insert(Failure::Io(format!("a client task failed: {e}")));
                tasks.abort_all();
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Runs the workload and returns what it measured, with the server's INFO deltas.
pub async fn run(
    w: &Workload,
    name: &str,
    settings: BTreeMap<String, String>,
) -> Result<RunResult, Failure> {
    let mut control = Conn::open(&w.target, false)
        .await
        .map_err(|e| conn_failed(&w.target, e))?;
    let sequence = Arc::new(Sequence {
        next: AtomicU64::new(0),
        limit: match w.stop {
            Stop::Requests(n) => n,
            Stop::After(_) => u64::MAX,
        },
    });
    let values = Arc::new(value_bytes(w.value_size.max));
    // Every connection is set up before the clock starts.
    let mut conns = Vec::new();
    for _ in 0..w.connections {
        conns.push(
            Conn::open(&w.target, w.trace)
                .await
                .map_err(|e| conn_failed(&w.target, e))?,
        );
    }
    let traced = conns.iter().all(|c| c.traced);
    // After the connections' own set-up commands, so the deltas are the run's.
    let before = control
        .info()
        .await
        .map_err(|e| conn_failed(&w.target, e))?;
    let started = Instant::now();
    let deadline = match w.stop {
        Stop::After(d) => Some(started + d),
        Stop::Requests(_) => None,
    };
    let mut tasks = JoinSet::new();
    for (client, conn) in (0..).zip(conns) {
        let requests = Requests {
            ratio: w.ratio,
            chooser: KeyChooser::new(w.pattern, w.keys, client, w.connections, w.seed),
            lengths: ValueLengths::new(w.value_size, client, w.seed),
            values: values.clone(),
            prefix: w.key_prefix.clone(),
            key: Vec::new(),
        };
        let (sequence, target) = (sequence.clone(), w.target.clone());
        let pipeline = w.pipeline;
        let interval = w
            .rate
            .map(|rate| Duration::from_secs_f64(w.connections as f64 / rate));
        tasks.spawn(async move {
            let measured = match interval {
                None => closed_loop(conn, requests, pipeline, &sequence, deadline).await,
                Some(every) => open_loop(conn, requests, every, started, &sequence, deadline).await,
            };
            measured.map_err(|e| conn_failed(&target, e))
        });
    }
    let mut measured = Measured::default();
    for m in join_all(&mut tasks).await? {
        measured.add(&m);
    }
    let elapsed = started.elapsed();
    let after = control
        .info()
        .await
        .map_err(|e| conn_failed(&w.target, e))?;
    let delta = |name: &str| {
        after
            .number(name)
            .zip(before.number(name))
            .map(|(a, b)| a.saturating_sub(b))
    };
    let tierd = after.number("tier_enabled").is_some();
    let mut series = vec![measured.get.series("GET", elapsed)];
    if traced {
        series.push(measured.get_hot.series("GET hot", elapsed));
        series.push(measured.get_cold.series("GET cold", elapsed));
    }
    series.push(measured.set.series("SET", elapsed));
    // A run of only SETs or only GETs has no use for the other lines.
    series.retain(|s| {
        if s.name == "SET" {
            w.ratio.sets > 0
        } else {
            w.ratio.gets > 0
        }
    });
    Ok(RunResult {
        name: name.to_owned(),
        kind: "server".into(),
        target: w.target.address(),
        settings,
        elapsed_secs: elapsed.as_secs_f64(),
        series,
        server: Some(ServerCounts {
            tierd,
            traced,
            // The first INFO is one of them.
            commands_processed: delta("total_commands_processed")
                .unwrap_or(0)
                .saturating_sub(1),
            keyspace_hits: delta("keyspace_hits").unwrap_or(0),
            keyspace_misses: delta("keyspace_misses").unwrap_or(0),
            cold_reads: delta("cold_reads"),
            traced_cold_values: traced.then_some(measured.cold_values),
        }),
    })
}

/// Sends `pipeline` requests, reads their replies, and again, until the requests or
/// the deadline runs out.
async fn closed_loop(
    mut conn: Conn,
    mut requests: Requests,
    pipeline: u64,
    sequence: &Sequence,
    deadline: Option<Instant>,
) -> std::io::Result<Measured> {
    let mut measured = Measured::default();
    let mut kinds = Vec::with_capacity(pipeline as usize);
    while deadline.is_none_or(|d| Instant::now() < d) {
        let numbers = sequence.take(pipeline);
        if numbers.is_empty() {
            break;
        }
        kinds.clear();
        for n in numbers {
            kinds.push(requests.queue(n, &mut conn.sender));
        }
        let sent = Instant::now();
        conn.sender.flush().await?;
        for &get in &kinds {
            let reply = conn.receiver.reply().await?;
            measured.reply(get, conn.traced, &reply, sent.elapsed());
        }
    }
    Ok(measured)
}

/// Sends request `n` at `start + n × every` (all that are due at once when behind),
/// while a second task reads the replies; each latency runs from the request's
/// intended send time.
async fn open_loop(
    conn: Conn,
    mut requests: Requests,
    every: Duration,
    start: Instant,
    sequence: &Sequence,
    deadline: Option<Instant>,
) -> std::io::Result<Measured> {
    let Conn {
        mut sender,
        mut receiver,
        traced,
    } = conn;
    let (due, mut sent) = mpsc::unbounded_channel::<(Instant, bool)>();
    let reader = tokio::spawn(async move {
        let mut measured = Measured::default();
        while let Some((intended, get)) = sent.recv().await {
            let reply = receiver.reply().await?;
            measured.reply(get, traced, &reply, intended.elapsed());
        }
        Ok::<_, std::io::Error>(measured)
    });
    let mut n: u32 = 0;
    'schedule: loop {
        let intended = start + every * n;
        if deadline.is_some_and(|d| intended >= d) {
            break;
        }
        wait_until(intended).await;
        // Everything due now goes in one write.
        let now = Instant::now();
        let mut next = intended;
        while next <= now {
            let Some(number) = sequence.take(1).next() else {
                sender.flush().await?;
                break 'schedule;
            };
            let get = requests.queue(number, &mut sender);
            // The reader is gone only if it failed: its error is returned below.
            if due.send((next, get)).is_err() {
                break 'schedule;
            }
            n += 1;
            next = start + every * n;
            if deadline.is_some_and(|d| next >= d) {
                break;
            }
        }
        sender.flush().await?;
    }
    drop(due);
    reader
        .await
        .map_err(|e| std::io::Error::other(format!("the reply reader failed: {e}")))?
}

/// Sleeps until `at` on tokio's timer, then yields until it is exactly time.
async fn wait_until(at: Instant) {
    let now = Instant::now();
    if at > now + SPIN_BELOW {
        tokio::time::sleep_until((at - SPIN_BELOW).into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}
