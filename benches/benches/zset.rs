//! The sorted set's large encoding (`tier_engine::value::ZSet` as a skiplist: a
//! persistent order-statistic treap beside a member table) on 100,000 members:
//! a score update (a write on a copy, as every write in the index makes), ZRANK, a
//! ZRANGE of 10 members from a random rank, ZSCORE; against a mutable
//! `BTreeMap<(score, member)>` plus a `HashMap` of scores, which cannot be shared with
//! readers (no copy) and finds a rank by walking.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tier_engine::value::{Limits, ZSet};

const MEMBERS: usize = 100_000;

fn member(i: usize) -> Vec<u8> {
    format!("member:{i:08}").into_bytes()
}

/// Scores as ordered bits (positive scores only here).
type Baseline = (BTreeMap<(u64, Vec<u8>), ()>, HashMap<Vec<u8>, u64>);

fn zset() -> ZSet {
    let mut z = ZSet::skiplist();
    for i in 0..MEMBERS {
        z.insert(&member(i), (i * 7 % MEMBERS) as f64, &Limits::default());
    }
    z
}

fn baseline() -> Baseline {
    let mut b = Baseline::default();
    for i in 0..MEMBERS {
        let s = ((i * 7 % MEMBERS) as f64).to_bits();
        b.0.insert((s, member(i)), ());
        b.1.insert(member(i), s);
    }
    b
}

fn benches(c: &mut Criterion) {
    let z = zset();
    let b = baseline();
    let mut rng = StdRng::seed_from_u64(7);
    let mut g = c.benchmark_group("zset_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(2));

    g.bench_function("update/tier_copy_then_insert", |bench| {
        bench.iter_batched(
            || {
                (
                    z.clone(),
                    member(rng.gen_range(0..MEMBERS)),
                    rng.gen::<u32>(),
                )
            },
            |(mut copy, m, s)| {
                copy.insert(&m, f64::from(s), &Limits::default());
                copy
            },
            BatchSize::SmallInput,
        )
    });
    let mut mb = baseline();
    g.bench_function("update/btreemap_in_place", |bench| {
        bench.iter(|| {
            let m = member(rng.gen_range(0..MEMBERS));
            let s = f64::from(rng.gen::<u32>()).to_bits();
            let old = mb.1.insert(m.clone(), s).expect("member");
            mb.0.remove(&(old, m.clone()));
            mb.0.insert((s, m), ());
        })
    });
    g.bench_function("rank/tier", |bench| {
        bench.iter(|| black_box(z.rank(&member(rng.gen_range(0..MEMBERS)))))
    });
    g.bench_function("rank/btreemap_walk", |bench| {
        bench.iter(|| {
            let m = member(rng.gen_range(0..MEMBERS));
            let s = b.1[&m];
            black_box(b.0.range(..(s, m)).count())
        })
    });
    g.bench_function("range10/tier", |bench| {
        bench.iter(|| {
            let at = rng.gen_range(0..MEMBERS - 10);
            black_box(z.slice(at, at + 10))
        })
    });
    g.bench_function("range10/btreemap_skip", |bench| {
        bench.iter(|| {
            let at = rng.gen_range(0..MEMBERS - 10);
            black_box(b.0.keys().skip(at).take(10).count())
        })
    });
    g.bench_function("score/tier", |bench| {
        bench.iter(|| black_box(z.score(&member(rng.gen_range(0..MEMBERS)))))
    });
    g.bench_function("score/hashmap", |bench| {
        bench.iter(|| black_box(b.1.get(&member(rng.gen_range(0..MEMBERS)))))
    });
    g.finish();
    c.bench_function("zset_100k/build_by_zadd", |bench| {
        bench.iter(|| black_box(zset().len()))
    });
}

criterion_group!(zset_benches, benches);
criterion_main!(zset_benches);
