//! Fuzzes the snapshot reader. Arbitrary bytes are read as a snapshot file, and again
//! as the record stream of one well-framed chunk (so the record decoder sees them
//! behind valid checksums): nothing panics, and a reader that gets to the end agrees
//! with itself. Then records built from the input are written with the engine's
//! writer, the file is left whole, has one byte flipped, or is cut short, and the
//! reader must give back exactly the records written (whole file) or a prefix of
//! them and then an error (never a wrong record, never a clean end).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tier_engine::snapshot::{SnapshotError, SnapshotReader, SnapshotRecord, SnapshotWriter};
use tier_engine::Value;

fuzz_target!(|data: &[u8]| {
    drain(data);
    drain(&in_one_chunk(data));
    write_damage_and_read(data);
});

/// Reads `file` to its end or its first error. A clean end has counted every record
/// given out and every byte of the file.
fn drain(file: &[u8]) {
    let (records, result) = read(file);
    if let Ok(summary) = result {
        assert_eq!(summary.records, records.len() as u64);
        assert_eq!(summary.file_bytes, file.len() as u64);
    }
}

/// The records `file` gives, and then the reader's summary or the error it stopped at.
fn read(
    file: &[u8],
) -> (
    Vec<SnapshotRecord>,
    Result<tier_engine::snapshot::SnapshotSummary, SnapshotError>,
) {
    let mut records = Vec::new();
    let mut reader = match SnapshotReader::new(file) {
        Ok(r) => r,
        Err(e) => return (records, Err(e)),
    };
    loop {
        match reader.next_record() {
            Ok(Some(r)) => records.push(r),
            Ok(None) => return (records, Ok(reader.summary().clone())),
            Err(e) => return (records, Err(e)),
        }
    }
}

/// A snapshot whose record stream is `stream`: a real header (from the writer), one
/// chunk frame around `stream` with right crcs, then the trailer of an empty snapshot
/// (whose counts and hash will not match: the records come first).
fn in_one_chunk(stream: &[u8]) -> Vec<u8> {
    static EMPTY: OnceLock<Vec<u8>> = OnceLock::new();
    let empty = EMPTY.get_or_init(|| {
        let mut empty = Vec::new();
        SnapshotWriter::new(&mut empty, 0)
            .and_then(|w| w.finish())
            .expect("an empty snapshot");
        empty
    });
    let (header, trailer) = empty.split_at(28);
    let compressed = zstd::bulk::compress(stream, 1).expect("zstd compresses");
    let mut file = header.to_vec();
    let frame_at = file.len();
    file.push(b'C');
    file.extend_from_slice(&(stream.len() as u32).to_le_bytes());
    file.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&compressed).to_le_bytes());
    let header_crc = crc32fast::hash(&file[frame_at..]);
    file.extend_from_slice(&header_crc.to_le_bytes());
    file.extend_from_slice(&compressed);
    file.extend_from_slice(trailer);
    file
}

/// `data` = damage (0: none, 1: flip, 2: truncate), position (2 bytes), flip mask,
/// then per record: db, key length (0..=63), value length (in 16411-byte steps when
/// its top two bits are set, so values reach past a 1 MiB chunk), value fill byte,
/// expiry (0: none), key bytes.
fn write_damage_and_read(data: &[u8]) {
    let [damage, p0, p1, mask, rest @ ..] = data else {
        return;
    };
    let mut rest = rest;
    let mut records = Vec::new();
    while let [db, k, v, fill, expiry, tail @ ..] = rest {
        let key_len = usize::from(k & 63).min(tail.len());
        let (key, tail) = tail.split_at(key_len);
        let value_len = if v & 0xc0 == 0xc0 {
            usize::from(v & 0x3f) * 16411
        } else {
            usize::from(*v)
        };
        records.push(SnapshotRecord {
            db: u32::from(*db),
            key: bytes::Bytes::copy_from_slice(key),
            value: Value::Str(vec![*fill; value_len].into()),
            expire_at: (*expiry != 0).then(|| u64::from(*expiry) << 32),
        });
        rest = tail;
    }
    let mut file = Vec::new();
    let mut writer = SnapshotWriter::new(&mut file, 1_700_000_000_000).expect("writer");
    for r in &records {
        writer
            .write_record(r.db, &r.key, &r.value, r.expire_at)
            .expect("a record within the limits");
    }
    let written = writer.finish().expect("finish");
    let at = usize::from(u16::from_le_bytes([*p0, *p1])) * 31 % file.len();
    let (got, result) = match damage % 3 {
        1 if *mask != 0 => {
            file[at] ^= mask;
            read(&file)
        }
        2 => read(&file[..at]),
        _ => {
            let (got, result) = read(&file);
            assert_eq!(result.expect("an intact file reads"), written);
            assert_eq!(got, records);
            return;
        }
    };
    let err = result.expect_err("a damaged file is an error");
    assert!(
        records.starts_with(&got),
        "only records that were written come back ({err})"
    );
}
