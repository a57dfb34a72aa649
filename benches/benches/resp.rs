//! The RESP codec, both ways:
//!
//! - the request parser: tier's `parse_command` (zero-copy slices of the input buffer)
//!   against a naive parser that copies every argument into a fresh `Vec<Vec<u8>>` per
//!   command, both cutting a pipeline of 1,000 `SET key value` requests, with 16-byte
//!   values (redis-benchmark's default size) and with 1 KiB values;
//! - the reply writer: `ReplyWriter` writing 1,000 GET replies (bulk strings of the
//!   same sizes, every tenth a null) and integers, against `write!` formatting of the
//!   same bytes into a `Vec`.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::io::Write as _;
use std::time::Duration;
use tier_server::resp::{parse_command, Limits, Protocol, ReplyWriter};

const COMMANDS: usize = 1_000;

/// `COMMANDS` multibulk SETs with `value_len`-byte values, as redis-benchmark -P sends
/// them.
fn pipeline(value_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..COMMANDS {
        let key = format!("key:{i:012}");
        let value = format!("{i:0value_len$}");
        out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
        for arg in [key.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Reads a decimal line ending in CRLF at `at`; returns the number and the next index.
fn naive_number(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let n = std::str::from_utf8(&buf[at..end]).ok()?.parse().ok()?;
    Some((n, end + 2))
}

/// The baseline: parses one multibulk command at `at`, copying each argument.
fn naive_parse(buf: &[u8], at: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    if buf.get(at) != Some(&b'*') {
        return None;
    }
    let (count, mut pos) = naive_number(buf, at + 1)?;
    let mut args = Vec::new();
    for _ in 0..count {
        if buf.get(pos) != Some(&b'$') {
            return None;
        }
        let (len, start) = naive_number(buf, pos + 1)?;
        args.push(buf.get(start..start + len)?.to_vec());
        pos = start + len + 2;
    }
    Some((args, pos))
}

fn codec(c: &mut Criterion) {
    for value_len in [16, 1024] {
        parse_pipeline(c, value_len);
        encode_replies(c, value_len);
    }
}

/// 1,000 replies as a pipeline of GETs and INCRs gets them: a bulk string of
/// `value_len` bytes (a null every tenth), then the integer `i`.
fn encode_replies(c: &mut Criterion, value_len: usize) {
    let value = vec![b'v'; value_len];
    let mut group = c.benchmark_group(format!("resp_encode_1000_replies_{value_len}b_values"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(COMMANDS as u64));
    group.bench_function("tier_reply_writer", |b| {
        let mut writer = ReplyWriter::new(Protocol::Resp2);
        b.iter(|| {
            writer.out.clear();
            for i in 0..COMMANDS {
                if i % 10 == 0 {
                    writer.null();
                } else {
                    writer.bulk(&value);
                }
                writer.integer(i as i64);
            }
            black_box(writer.out.len())
        });
    });
    group.bench_function("write_formatted", |b| {
        let mut out: Vec<u8> = Vec::new();
        b.iter(|| {
            out.clear();
            for i in 0..COMMANDS {
                if i % 10 == 0 {
                    out.extend_from_slice(b"$-1\r\n");
                } else {
                    write!(out, "${}\r\n", value.len()).expect("to a Vec");
                    out.extend_from_slice(&value);
                    out.extend_from_slice(b"\r\n");
                }
                write!(out, ":{i}\r\n").expect("to a Vec");
            }
            black_box(out.len())
        });
    });
    group.finish();
}

fn parse_pipeline(c: &mut Criterion, value_len: usize) {
    let input = pipeline(value_len);
    let mut group = c.benchmark_group(format!("resp_parse_1000_sets_{value_len}b_values"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(COMMANDS as u64));
    group.bench_function("tier_parse_command", |b| {
        let limits = Limits::default();
        let mut args: Vec<Bytes> = Vec::with_capacity(8);
        // A fresh copy of the input before each iteration (so it is as warm as the
        // baseline's), dropped after the timing.
        b.iter_batched_ref(
            || BytesMut::from(&input[..]),
            |buf| {
                let mut n = 0;
                while let Ok(true) = parse_command(buf, &limits, &mut args) {
                    n += args.len();
                }
                assert_eq!(n, 3 * COMMANDS);
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("naive_vec_of_vecs", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut n = 0;
            while let Some((args, next)) = naive_parse(black_box(&input), at) {
                n += args.len();
                at = next;
            }
            assert_eq!(n, 3 * COMMANDS);
        });
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
