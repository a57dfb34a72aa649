//! The keyspace index: tier_engine's `Index` (lock-free reads, striped writes) against
//! `parking_lot::Mutex<HashMap>` and `dashmap::DashMap`, all hashing with ahash, for
//! lookups and inserts on one thread and on two threads at once.

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tier_engine::index::Index;
use tier_engine::LockMode;

/// Keys preloaded for the lookup benches, and inserted per iteration of the insert ones.
const KEYS: usize = 100_000;

type Hasher = ahash::RandomState;

/// The operations every map under test offers.
trait Map: Sync {
    fn empty() -> Self;
    fn get(&self, key: &[u8]) -> Option<u64>;
    fn insert(&self, key: &[u8], value: u64);
}

impl Map for Index<u64, ()> {
    fn empty() -> Self {
        Index::new()
    }
    fn get(&self, key: &[u8]) -> Option<u64> {
        let guard = tier_engine::pin();
        Index::get(self, key, self.hash(key), &guard).map(|node| *node.value())
    }
    fn insert(&self, key: &[u8], value: u64) {
        let hash = self.hash(key);
        let guard = tier_engine::pin();
        self.lock(&[(hash, LockMode::Exclusive)])
            .put(key, hash, value, &guard);
    }
}

impl Map for Mutex<HashMap<Vec<u8>, u64, Hasher>> {
    fn empty() -> Self {
        Mutex::new(HashMap::default())
    }
    fn get(&self, key: &[u8]) -> Option<u64> {
        self.lock().get(key).copied()
    }
    fn insert(&self, key: &[u8], value: u64) {
        self.lock().insert(key.to_vec(), value);
    }
}

impl Map for DashMap<Vec<u8>, u64, Hasher> {
    fn empty() -> Self {
        DashMap::default()
    }
    fn get(&self, key: &[u8]) -> Option<u64> {
        DashMap::get(self, key).map(|v| *v)
    }
    fn insert(&self, key: &[u8], value: u64) {
        DashMap::insert(self, key.to_vec(), value);
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// The keys in the order the benches touch them: a fixed permutation (7919 is prime
/// to `KEYS`), so that no map gains from keys allocated next to each other.
fn keys() -> Vec<Vec<u8>> {
    (0..KEYS).map(|i| key(i * 7919 % KEYS)).collect()
}

/// A map holding every key, inserted in ascending order.
fn filled<M: Map>() -> M {
    let map = M::empty();
    for i in 0..KEYS {
        map.insert(&key(i), i as u64);
    }
    map
}

/// Runs `op` over the key set on `threads` threads at once (each its own half when
/// there are two), `iters` times, and returns the wall time.
fn run_threads<M: Map>(
    map: &M,
    keys: &[Vec<u8>],
    threads: usize,
    iters: u64,
    op: fn(&M, &[u8], u64),
) -> Duration {
    let share = keys.len() / threads;
    let started = Instant::now();
    std::thread::scope(|s| {
        for part in keys.chunks(share) {
            s.spawn(move || {
                for round in 0..iters {
                    for k in part {
                        op(map, k, round);
                    }
                }
            });
        }
    });
    started.elapsed()
}

fn lookup<M: Map>(map: &M, key: &[u8], _round: u64) {
    black_box(map.get(key)).expect("preloaded key");
}

fn overwrite<M: Map>(map: &M, key: &[u8], round: u64) {
    map.insert(key, round);
}

fn bench_map<M: Map>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    keys: &[Vec<u8>],
    threads: usize,
) {
    let map: M = filled();
    group.bench_function(format!("get/{name}"), |b| {
        b.iter_custom(|iters| run_threads(&map, keys, threads, iters, lookup::<M>));
    });
    group.bench_function(format!("overwrite/{name}"), |b| {
        b.iter_custom(|iters| run_threads(&map, keys, threads, iters, overwrite::<M>));
    });
    if threads == 1 {
        group.bench_function(format!("insert_fresh/{name}"), |b| {
            // The filled map is returned so that dropping it is not timed.
            b.iter_batched(
                M::empty,
                |map| {
                    run_threads(&map, keys, 1, 1, overwrite::<M>);
                    map
                },
                BatchSize::PerIteration,
            );
        });
    }
}

fn maps(c: &mut Criterion) {
    let keys = keys();
    for threads in [1, 2] {
        let mut group = c.benchmark_group(format!("index_{threads}_thread"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(KEYS as u64));
        bench_map::<Index<u64, ()>>(&mut group, "tier_index", &keys, threads);
        bench_map::<Mutex<HashMap<Vec<u8>, u64, Hasher>>>(
            &mut group,
            "mutex_hashmap",
            &keys,
            threads,
        );
        bench_map::<DashMap<Vec<u8>, u64, Hasher>>(&mut group, "dashmap", &keys, threads);
        group.finish();
    }
}

criterion_group!(benches, maps);
criterion_main!(benches);
