//! Snapshot files: `tier_engine::snapshot::SnapshotWriter` writing 16,384 records of
//! 1 KiB values (zstd-compressed 1 MiB chunks, crc32s, an XXH3 of the file), and
//! `SnapshotReader` reading them back with every check, against the same keys and
//! values written and read as plain length-prefixed records with no compression or
//! checksum. Both write into and read from memory (a `Vec` reserved once): the
//! figures are the format's CPU cost, which a file adds its I/O to (in the page
//! cache on this machine, recreating a 16 MiB file cost about 100 ms, for either).

use std::io::{Read, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tier_engine::snapshot::{SnapshotReader, SnapshotWriter};
use tier_engine::Value;

const RECORDS: usize = 16 << 10;
const VALUE_LEN: usize = 1024;

/// Keys and values: each value half random bytes, half a repeated text, so zstd has
/// something to do but cannot shrink it to nothing.
fn dataset() -> Vec<(Vec<u8>, Value)> {
    let mut rng = StdRng::seed_from_u64(1);
    (0..RECORDS)
        .map(|i| {
            let mut value = vec![0; VALUE_LEN];
            rng.fill_bytes(&mut value[..VALUE_LEN / 2]);
            for (j, b) in value[VALUE_LEN / 2..].iter_mut().enumerate() {
                *b = b"user:profile:field="[j % 19];
            }
            (format!("key:{i:012}").into_bytes(), Value::string(&value))
        })
        .collect()
}

fn write_snapshot(out: &mut Vec<u8>, data: &[(Vec<u8>, Value)]) {
    out.clear();
    let mut writer = SnapshotWriter::new(out, 0).expect("header");
    for (key, value) in data {
        writer.write_record(0, key, value, None).expect("record");
    }
    writer.finish().expect("trailer");
}

fn read_snapshot(file: &[u8]) -> usize {
    let mut reader = SnapshotReader::new(file).expect("header");
    let mut n = 0;
    while let Some(record) = reader.next_record().expect("record") {
        n += record.key.len();
    }
    n
}

/// The baseline's record: key length, value length (u32 LE each), key, value.
fn write_plain(out: &mut Vec<u8>, data: &[(Vec<u8>, Value)]) {
    out.clear();
    for (key, value) in data {
        let payload = value.record_payload();
        out.write_all(&(key.len() as u32).to_le_bytes())
            .expect("write");
        out.write_all(&(payload.len() as u32).to_le_bytes())
            .expect("write");
        out.write_all(key).expect("write");
        out.write_all(&payload).expect("write");
    }
}

fn read_plain(mut input: &[u8]) -> usize {
    let mut lens = [0u8; 8];
    let mut n = 0;
    while input.read_exact(&mut lens).is_ok() {
        let key_len = u32::from_le_bytes(lens[..4].try_into().expect("4 bytes")) as usize;
        let value_len = u32::from_le_bytes(lens[4..].try_into().expect("4 bytes")) as usize;
        let mut key = vec![0; key_len];
        let mut value = vec![0; value_len];
        input.read_exact(&mut key).expect("key");
        input.read_exact(&mut value).expect("value");
        n += key.len();
    }
    n
}

fn snapshot(c: &mut Criterion) {
    let data = dataset();
    let raw: usize = data
        .iter()
        .map(|(k, v)| k.len() + v.record_payload().len())
        .sum();
    let keys: usize = data.iter().map(|(k, _)| k.len()).sum();
    let (mut tsnap, mut plain) = (Vec::with_capacity(2 * raw), Vec::with_capacity(2 * raw));
    let mut group = c.benchmark_group("snapshot_16k_1kib_records");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(raw as u64));
    group.bench_function("write/tier_snapshot", |b| {
        b.iter(|| write_snapshot(&mut tsnap, &data))
    });
    group.bench_function("write/plain_records", |b| {
        b.iter(|| write_plain(&mut plain, &data))
    });
    group.bench_function("read/tier_snapshot", |b| {
        b.iter(|| assert_eq!(read_snapshot(&tsnap), keys))
    });
    group.bench_function("read/plain_records", |b| {
        b.iter(|| assert_eq!(read_plain(&plain), keys))
    });
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
