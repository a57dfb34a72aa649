//! Tests of snapshot files: round trips (unit and proptest, across many chunks),
//! every header, chunk, record and trailer error built by hand, and corruption: every
//! single flipped byte and every truncation of a small file is an error, after only
//! records that were written.

use bytes::Bytes;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::format::{
    encode_header, ChunkHeader, RecordHeader, CHUNK_HEADER_LEN, EXPIRY_LEN, FRAME_CHUNK,
    HEADER_LEN, RECORD_HEADER_LEN,
};
use super::*;
use crate::value::RecordValueError;

const CREATED: u64 = 1_700_000_000_123;

fn rec(db: u32, key: &[u8], value: &[u8], expire_at: Option<u64>) -> SnapshotRecord {
    SnapshotRecord {
        db,
        key: Bytes::copy_from_slice(key),
        value: Value::string(value),
        expire_at,
    }
}

/// A snapshot of `records` cut into chunks of `chunk_target` bytes, and the writer's
/// summary.
fn write(records: &[SnapshotRecord], chunk_target: usize) -> (Vec<u8>, SnapshotSummary) {
    let mut file = Vec::new();
    let mut w = SnapshotWriter::with_chunk_target(&mut file, CREATED, chunk_target).unwrap();
    for r in records {
        w.write_record(r.db, &r.key, &r.value, r.expire_at).unwrap();
    }
    let summary = w.finish().unwrap();
    (file, summary)
}

/// The records read from `file` before the reader stopped, and the error it stopped
/// at, if any.
fn read(file: &[u8]) -> (Vec<SnapshotRecord>, Option<SnapshotError>) {
    let mut out = Vec::new();
    let mut reader = match SnapshotReader::new(file) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match reader.next_record() {
            Ok(Some(r)) => out.push(r),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The error reading `file` stops at (it must stop at one).
fn error_of(file: &[u8]) -> SnapshotError {
    match verify(file) {
        Ok(summary) => panic!("expected an error, read {summary:?}"),
        Err(e) => e,
    }
}

/// A few records over several dbs, with and without expiries, empty keys and values.
fn sample() -> Vec<SnapshotRecord> {
    vec![
        rec(0, b"greeting", b"hello", None),
        rec(0, b"", b"empty key", Some(CREATED + 10_000)),
        rec(3, b"empty value", b"", None),
        rec(3, &[0, 255, 13, 10], &[0u8; 40], Some(1)),
        rec(15, b"k", &(0..=255).collect::<Vec<u8>>(), None),
        rec(u32::MAX, b"last db", b"x", Some(u64::MAX)),
    ]
}

/// A snapshot whose record stream is `stream` as given (a writer fed raw bytes): its
/// trailer counts only the chunks, none of the records.
fn raw_stream_file(stream: &[u8]) -> Vec<u8> {
    let mut file = Vec::new();
    let mut w = SnapshotWriter::with_chunk_target(&mut file, CREATED, 64).unwrap();
    w.push(stream).unwrap();
    w.finish().unwrap();
    file
}

/// The encoded header of a record.
fn record_header(value_type: u8, db: u32, key_len: u64, payload_len: u64) -> Vec<u8> {
    let h = RecordHeader {
        value_type,
        db,
        key_len,
        payload_len,
        expire_at: None,
    };
    h.encode()[..h.len()].to_vec()
}

/// `file` with `fix` applied to its bytes and the header crc made right again.
fn with_header(mut file: Vec<u8>, fix: impl FnOnce(&mut [u8])) -> Vec<u8> {
    fix(&mut file[..HEADER_LEN]);
    let crc = crc32fast::hash(&file[..24]);
    file[24..28].copy_from_slice(&crc.to_le_bytes());
    file
}

/// A header then one chunk frame with these fields and data (crcs made right).
fn file_with_chunk(raw_len: u32, data: &[u8]) -> Vec<u8> {
    let mut file = encode_header(CREATED).to_vec();
    let header = ChunkHeader {
        raw_len,
        compressed_len: data.len() as u32,
        data_crc: crc32fast::hash(data),
    };
    file.extend_from_slice(&header.encode());
    file.extend_from_slice(data);
    file
}

/// Offsets of the chunk frames in a well-formed `file`.
fn chunk_offsets(file: &[u8]) -> Vec<usize> {
    let mut at = HEADER_LEN;
    let mut out = Vec::new();
    while file[at] == FRAME_CHUNK {
        out.push(at);
        let h: &[u8; CHUNK_HEADER_LEN] = file[at..at + CHUNK_HEADER_LEN].try_into().unwrap();
        at += CHUNK_HEADER_LEN + ChunkHeader::decode(h).0.compressed_len as usize;
    }
    out
}

#[test]
fn round_trip_gives_back_every_record_and_the_same_summary() {
    let records = sample();
    for target in [1, 5, 64, CHUNK_TARGET] {
        let (file, written) = write(&records, target);
        let (read_back, err) = read(&file);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(read_back, records);
        let summary = verify(&file[..]).unwrap();
        assert_eq!(summary, written);
        assert_eq!(summary.created_ms, CREATED);
        assert_eq!(summary.records, 6);
        assert_eq!(summary.expiring, 3);
        assert_eq!(summary.file_bytes, file.len() as u64);
        assert_eq!(
            summary.keys_per_db.into_iter().collect::<Vec<_>>(),
            [(0, 2), (3, 2), (15, 1), (u32::MAX, 1)]
        );
        assert_eq!(
            summary.records_per_type.into_iter().collect::<Vec<_>>(),
            [(0, 6)]
        );
        if target == 1 {
            assert_eq!(summary.chunks, summary.raw_bytes);
        }
    }
}

/// Hashes and sets (type bytes 4 and 2) come back equal, in their encodings; a
/// payload that is no hash is a bad record naming its offset.
#[test]
fn collections_round_trip_and_a_bad_payload_is_a_bad_record() {
    use crate::value::{Hash, Limits, Set, ZSet};
    use std::sync::Arc;
    let limits = Limits::default();
    let mut hash = Hash::new();
    hash.set(b"f", b"v", &limits);
    hash.set(b"", b"empty field", &limits);
    let mut big = Hash::new();
    for i in 0..600 {
        big.set(format!("f{i}").as_bytes(), b"v", &limits);
    }
    let mut ints = Set::intset();
    for m in ["3", "-1", "2"] {
        ints.add(m.as_bytes(), &limits);
    }
    let words = {
        let mut s = Set::for_member(b"w");
        s.add(b"w", &limits);
        s.add(b"7", &limits);
        s
    };
    let mut small_zset = ZSet::default();
    small_zset.insert(b"a", 1.5, &limits);
    small_zset.insert(b"b", f64::NEG_INFINITY, &limits);
    let mut big_zset = ZSet::default();
    for i in 0..200 {
        big_zset.insert(format!("m{i}").as_bytes(), f64::from(i) / 3.0, &limits);
    }
    let values = [
        Value::Hash(Arc::new(hash)),
        Value::Hash(Arc::new(big)),
        Value::Set(Arc::new(ints)),
        Value::Set(Arc::new(words)),
        Value::ZSet(Arc::new(small_zset)),
        Value::ZSet(Arc::new(big_zset)),
        Value::List(Arc::new(
            ["head", "", "tail"].into_iter().map(Bytes::from).collect(),
        )),
    ];
    let records: Vec<SnapshotRecord> = values
        .iter()
        .enumerate()
        .map(|(i, value)| SnapshotRecord {
            db: 0,
            key: Bytes::from(format!("k{i}")),
            value: value.clone(),
            expire_at: None,
        })
        .collect();
    let (file, summary) = write(&records, 64);
    let (read_back, err) = read(&file);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(read_back, records);
    let encodings: Vec<&str> = read_back
        .iter()
        .map(|r| match &r.value {
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::List(l) => l.encoding(),
            Value::Str(_) => "string",
        })
        .collect();
    assert_eq!(
        encodings,
        [
            "listpack",
            "hashtable",
            "intset",
            "hashtable",
            "listpack",
            "skiplist",
            "quicklist"
        ]
    );
    assert_eq!(
        summary.records_per_type.into_iter().collect::<Vec<_>>(),
        [(1, 1), (2, 2), (3, 2), (4, 2)]
    );

    let mut stream = record_header(4, 0, 1, 2);
    stream.extend_from_slice(b"kxx");
    let (records, err) = read(&raw_stream_file(&stream));
    assert!(records.is_empty());
    assert!(matches!(
        err.unwrap(),
        SnapshotError::BadRecord {
            stream_offset: 0,
            problem: RecordProblem::BadValue(RecordValueError::Malformed { value_type: 4, .. }),
            ..
        }
    ));
}

#[test]
fn empty_snapshot_is_header_and_trailer() {
    let (file, summary) = write(&[], CHUNK_TARGET);
    // Header, then a trailer with no db entries: 29 + 28 bytes.
    assert_eq!(file.len(), HEADER_LEN + 29 + 28);
    assert_eq!(&file[..8], b"TIERSNAP");
    assert_eq!(&file[file.len() - 8..], b"TIER-END");
    assert_eq!(summary.records, 0);
    assert_eq!(summary.chunks, 0);
    let mut reader = SnapshotReader::new(&file[..]).unwrap();
    assert_eq!(reader.created_ms(), CREATED);
    assert!(reader.next_record().unwrap().is_none());
    assert!(reader.next_record().unwrap().is_none(), "stays at the end");
}

#[test]
fn header_bytes_are_as_documented() {
    let h = encode_header(0x0102_0304_0506_0708);
    assert_eq!(&h[..8], b"TIERSNAP");
    assert_eq!(h[8..12], [1, 0, 0, 0]);
    assert_eq!(h[12..16], [0, 0, 0, 0]);
    assert_eq!(h[16..24], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(h[24..28], crc32fast::hash(&h[..24]).to_le_bytes());
}

#[test]
fn record_bytes_are_as_documented() {
    let (file, _) = write(&[rec(2, b"ab", b"xyz", Some(9))], CHUNK_TARGET);
    let mut reader_stream = Vec::new();
    let offsets = chunk_offsets(&file);
    assert_eq!(offsets, [HEADER_LEN]);
    let h: &[u8; CHUNK_HEADER_LEN] = file[HEADER_LEN..HEADER_LEN + CHUNK_HEADER_LEN]
        .try_into()
        .unwrap();
    let (header, stored, computed) = ChunkHeader::decode(h);
    assert_eq!(stored, computed);
    let data = &file[HEADER_LEN + CHUNK_HEADER_LEN..][..header.compressed_len as usize];
    reader_stream.extend(zstd::bulk::decompress(data, 1 << 10).unwrap());
    let mut expected = vec![0u8, 1, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
    expected.extend_from_slice(&9u64.to_le_bytes());
    expected.extend_from_slice(b"abxyz");
    assert_eq!(reader_stream, expected);
    assert_eq!(header.raw_len as usize, RECORD_HEADER_LEN + EXPIRY_LEN + 5);
}

#[test]
fn big_values_span_full_size_chunks() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut big = vec![0u8; 3 * CHUNK_TARGET + 12_345];
    rng.fill_bytes(&mut big);
    let records = vec![
        rec(0, b"small", b"before", None),
        rec(1, b"big", &big, Some(CREATED + 1)),
        rec(1, b"small", b"after", None),
    ];
    let (file, written) = write(&records, CHUNK_TARGET);
    assert_eq!(
        written.chunks, 4,
        "3 full chunks of random bytes and a short one"
    );
    let (read_back, err) = read(&file);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(read_back, records);
}

#[test]
fn writer_and_reader_refuse_lengths_over_the_limits() {
    let too_long_key = record_header(0, 0, MAX_KEY_LEN + 1, 0);
    assert!(matches!(
        error_of(&raw_stream_file(&too_long_key)),
        SnapshotError::BadRecord {
            offset: 28,
            stream_offset: 0,
            problem: RecordProblem::KeyTooLong(n)
        } if n == MAX_KEY_LEN + 1
    ));
    let too_long_payload = record_header(0, 0, 1, MAX_PAYLOAD_LEN + 1);
    let e = error_of(&raw_stream_file(&too_long_payload));
    assert!(
        matches!(
            e,
            SnapshotError::BadRecord {
                problem: RecordProblem::PayloadTooLong(_),
                ..
            }
        ),
        "{e}"
    );
    // The largest lengths the header can state are refused as well, before any
    // allocation: the file has only a few bytes.
    let huge = record_header(0, 0, u64::from(u32::MAX), u64::MAX);
    assert!(matches!(
        error_of(&raw_stream_file(&huge)),
        SnapshotError::BadRecord {
            problem: RecordProblem::KeyTooLong(_),
            ..
        }
    ));
    // The writer checks the same limits (with a header, not a 512 MiB key).
    let header = RecordHeader {
        value_type: 0,
        db: 0,
        key_len: MAX_KEY_LEN + 1,
        payload_len: 0,
        expire_at: None,
    };
    assert_eq!(
        header.check_lengths(),
        Err(RecordProblem::KeyTooLong(MAX_KEY_LEN + 1))
    );
    let msg = SnapshotError::Unwritable(RecordProblem::KeyTooLong(MAX_KEY_LEN + 1)).to_string();
    assert_eq!(
        msg,
        "record not written: key length 536870913 over the limit of 536870912 bytes"
    );
}

#[test]
fn bad_records_name_their_stream_offset_and_chunk() {
    // A good record (18 + 1 + 1 bytes) then one of an unknown type, in chunks of 64.
    let mut stream = record_header(0, 0, 1, 1);
    stream.extend_from_slice(b"kv");
    let unknown_at = stream.len() as u64;
    stream.extend(record_header(6, 0, 1, 1));
    stream.extend_from_slice(b"kv");
    let file = raw_stream_file(&stream);
    let (records, err) = read(&file);
    assert_eq!(records, [rec(0, b"k", b"v", None)]);
    let err = err.unwrap();
    assert!(matches!(
        err,
        SnapshotError::BadRecord {
            offset: 28,
            stream_offset,
            problem: RecordProblem::BadValue(RecordValueError::UnknownType(6))
        } if stream_offset == unknown_at
    ));
    assert_eq!(
        err.to_string(),
        "bad record at byte 20 of the record stream (in the chunk at byte 28): unknown value type 6"
    );

    // Unknown flag bits, in a record that starts in the second chunk.
    let mut stream = vec![0u8; 0];
    for _ in 0..4 {
        stream.extend(record_header(0, 1, 1, 1));
        stream.extend_from_slice(b"kv");
    }
    let mut bad = record_header(0, 1, 1, 1);
    bad[1] = 0x82;
    stream.extend(bad);
    let file = raw_stream_file(&stream);
    let second_chunk = chunk_offsets(&file)[1] as u64;
    let (records, err) = read(&file);
    assert_eq!(records.len(), 4);
    assert!(matches!(
        err.unwrap(),
        SnapshotError::BadRecord {
            offset,
            stream_offset: 80,
            problem: RecordProblem::UnknownFlags(0x82)
        } if offset == second_chunk
    ));
}

#[test]
fn a_record_cut_off_by_the_trailer_is_an_error() {
    let mut stream = record_header(0, 0, 4, 4);
    stream.extend_from_slice(b"key");
    let file = raw_stream_file(&stream);
    let trailer = (file.len() - 29 - 28) as u64;
    assert!(matches!(
        error_of(&file),
        SnapshotError::RecordCutOff { offset, stream_offset: 0 } if offset == trailer
    ));
}

/// `file` with `fix` applied to its trailer and the trailer crc made right again.
fn with_trailer(mut file: Vec<u8>, fix: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let len = file.len();
    let at = u64::from_le_bytes(file[len - 20..len - 12].try_into().unwrap()) as usize;
    fix(&mut file[at..len - 12]);
    let crc = crc32fast::hash(&file[at..len - 12]);
    file[len - 12..len - 8].copy_from_slice(&crc.to_le_bytes());
    file
}

#[test]
fn trailer_counts_must_match() {
    let (file, _) = write(&sample(), 64);
    let trailer = (file.len() - 29 - 4 * 12 - 28) as u64;
    let records = with_trailer(file.clone(), |t| t[1] += 1);
    let e = error_of(&records);
    assert!(
        matches!(
            e,
            SnapshotError::TrailerMismatch { offset, what: Counted::Records, stated: 7, counted: 6 }
                if offset == trailer
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("the trailer at byte {trailer} says 7 records, the file holds 6")
    );
    let chunks = with_trailer(file.clone(), |t| t[9] += 1);
    assert!(matches!(
        error_of(&chunks),
        SnapshotError::TrailerMismatch {
            what: Counted::Chunks,
            ..
        }
    ));
    let raw = with_trailer(file.clone(), |t| t[17] += 1);
    assert!(matches!(
        error_of(&raw),
        SnapshotError::TrailerMismatch {
            what: Counted::RawBytes,
            ..
        }
    ));
    // The second db entry (db 3, 2 keys) says 5 keys.
    let keys = with_trailer(file.clone(), |t| t[29 + 12 + 4] = 5);
    assert_eq!(
        error_of(&keys).to_string(),
        format!("the trailer at byte {trailer} says 5 keys in db 3, the file holds 2")
    );
    let offset = with_trailer(file.clone(), |t| t[t.len() - 8] ^= 1);
    assert!(matches!(
        error_of(&offset),
        SnapshotError::TrailerOffset { offset, stated } if offset == trailer && stated == trailer ^ 1
    ));

    // A valid record the writer did not count: the trailer says 0 records, and no db.
    let mut stream = record_header(0, 0, 1, 1);
    stream.extend_from_slice(b"kv");
    let e = error_of(&raw_stream_file(&stream));
    assert!(
        matches!(
            e,
            SnapshotError::TrailerMismatch {
                what: Counted::Databases,
                stated: 0,
                counted: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn header_errors() {
    let (file, _) = write(&sample(), 64);
    assert!(matches!(
        error_of(&[]),
        SnapshotError::Truncated {
            offset: 0,
            inside: "the header"
        }
    ));
    assert!(matches!(
        error_of(&file[..27]),
        SnapshotError::Truncated { offset: 27, .. }
    ));
    let mut bad_magic = file.clone();
    bad_magic[0] = b'X';
    let e = error_of(&bad_magic);
    assert!(matches!(e, SnapshotError::BadMagic { offset: 0, .. }));
    assert!(
        e.to_string().starts_with("not a Tier snapshot: bad magic"),
        "{e}"
    );
    // Shorter than a header, and not a snapshot: said so, not "truncated".
    assert!(matches!(
        error_of(b"hello"),
        SnapshotError::BadMagic { offset: 0, found } if found == b"hello"
    ));
    let v2 = with_header(file.clone(), |h| h[8] = 2);
    let e = error_of(&v2);
    assert!(matches!(
        e,
        SnapshotError::UnsupportedVersion {
            offset: 8,
            version: 2
        }
    ));
    assert_eq!(
        e.to_string(),
        "unsupported snapshot format version 2 at byte 8 (this build reads version 1)"
    );
    let flags = with_header(file.clone(), |h| h[12] = 4);
    assert!(matches!(
        error_of(&flags),
        SnapshotError::UnknownFlags {
            offset: 12,
            flags: 4
        }
    ));
    let mut created = file.clone();
    created[20] ^= 1;
    assert!(matches!(
        error_of(&created),
        SnapshotError::Checksum {
            offset: 0,
            of: Checked::Header,
            ..
        }
    ));
}

#[test]
fn chunk_errors() {
    // Ten zero bytes: less than a record header.
    let data = zstd::bulk::compress(&[0; 10], 1).unwrap();
    // A bad frame kind right after the header.
    let mut file = encode_header(CREATED).to_vec();
    file.push(b'X');
    assert!(matches!(
        error_of(&file),
        SnapshotError::BadFrameKind {
            offset: 28,
            kind: b'X'
        }
    ));
    // Lengths out of bounds (with right crcs): refused before the data is read.
    for (raw_len, which) in [(0, "uncompressed"), (MAX_CHUNK_LEN + 1, "uncompressed")] {
        let e = error_of(&file_with_chunk(raw_len, &data));
        assert!(
            matches!(e, SnapshotError::ChunkLength { offset: 28, which: w, .. } if w == which),
            "{e}"
        );
    }
    let mut huge = encode_header(CREATED).to_vec();
    huge.extend_from_slice(
        &ChunkHeader {
            raw_len: 10,
            compressed_len: u32::MAX,
            data_crc: 0,
        }
        .encode(),
    );
    assert!(matches!(
        error_of(&huge),
        SnapshotError::ChunkLength {
            which: "compressed",
            len: u32::MAX,
            ..
        }
    ));
    // Not zstd, or another length than declared.
    assert!(matches!(
        error_of(&file_with_chunk(10, b"not zstd at all")),
        SnapshotError::BadZstd { offset: 28, .. }
    ));
    assert!(matches!(
        error_of(&file_with_chunk(11, &data)),
        SnapshotError::ChunkSize {
            offset: 28,
            declared: 11,
            actual: 10
        }
    ));
    assert!(matches!(
        error_of(&file_with_chunk(9, &data)),
        SnapshotError::BadZstd { offset: 28, .. }
    ));
    // A good chunk, then the file ends.
    let file = file_with_chunk(10, &data);
    let e = error_of(&file);
    assert!(
        matches!(e, SnapshotError::Truncated { offset, .. } if offset == file.len() as u64),
        "{e}"
    );
    // Data and header crcs.
    let (file, _) = write(&sample(), 64);
    let second = chunk_offsets(&file)[1];
    let mut bad_data = file.clone();
    bad_data[second + CHUNK_HEADER_LEN] ^= 0x10;
    assert!(matches!(
        error_of(&bad_data),
        SnapshotError::Checksum { of: Checked::ChunkData, offset, .. } if offset == second as u64
    ));
    let mut bad_len = file.clone();
    bad_len[second + 5] ^= 0x01;
    assert!(matches!(
        error_of(&bad_len),
        SnapshotError::Checksum { of: Checked::ChunkHeader, offset, .. } if offset == second as u64
    ));
}

#[test]
fn trailer_and_end_errors() {
    let (file, _) = write(&sample(), 64);
    let trailer = file.len() - 29 - 4 * 12 - 28;
    assert_eq!(file[trailer], b'T');
    let mut garbage = file.clone();
    garbage.push(0);
    assert!(matches!(
        error_of(&garbage),
        SnapshotError::TrailingGarbage { offset } if offset == file.len() as u64
    ));
    let mut end = file.clone();
    *end.last_mut().unwrap() = b'?';
    assert!(matches!(
        error_of(&end),
        SnapshotError::BadEndMarker { offset, .. } if offset == file.len() as u64 - 8
    ));
    let mut count = file.clone();
    count[trailer + 1] ^= 1;
    assert!(matches!(
        error_of(&count),
        SnapshotError::Checksum { of: Checked::Trailer, offset, .. } if offset == trailer as u64
    ));
    // The header of one snapshot spliced onto the body of another: every chunk and the
    // trailer check out, the whole-file checksum does not.
    let mut other = vec![0u8; 0];
    let mut w = SnapshotWriter::with_chunk_target(&mut other, CREATED + 1, 64).unwrap();
    for r in sample() {
        w.write_record(r.db, &r.key, &r.value, r.expire_at).unwrap();
    }
    w.finish().unwrap();
    let mut spliced = other[..HEADER_LEN].to_vec();
    spliced.extend_from_slice(&file[HEADER_LEN..]);
    let e = error_of(&spliced);
    assert!(
        matches!(e, SnapshotError::FileHash { offset, .. } if offset == trailer as u64),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with(&format!("whole-file hash mismatch at byte {trailer}")));
}

#[test]
fn dropped_or_swapped_chunks_are_errors() {
    let records: Vec<_> = (0..50u32)
        .map(|i| rec(i % 3, format!("key{i}").as_bytes(), &[i as u8; 30], None))
        .collect();
    let (file, _) = write(&records, 100);
    let chunks = chunk_offsets(&file);
    assert!(chunks.len() > 5);
    let (a, b, c) = (chunks[1], chunks[2], chunks[3]);
    let mut dropped = file[..a].to_vec();
    dropped.extend_from_slice(&file[b..]);
    let mut swapped = file[..a].to_vec();
    swapped.extend_from_slice(&file[b..c]);
    swapped.extend_from_slice(&file[a..b]);
    swapped.extend_from_slice(&file[c..]);
    for broken in [dropped, swapped] {
        // Chunks whose own checksums hold may decode to other records: only the end
        // of the file is sure to say something is wrong.
        assert!(read(&broken).1.is_some());
    }
}

/// Whatever a single flipped byte or a truncation does, the reader gives back a prefix
/// of what was written, then an error: never a wrong record, never `None`, no panic.
fn assert_detected(file: &[u8], records: &[SnapshotRecord], what: &str) {
    let (got, err) = read(file);
    let err = err.unwrap_or_else(|| panic!("{what}: read to the end without an error"));
    assert!(
        records.starts_with(&got),
        "{what}: records read differ from those written ({err})"
    );
    let offset = err.offset().expect("a file error has an offset");
    assert!(
        offset <= file.len() as u64,
        "{what}: offset {offset} past the end"
    );
}

#[test]
fn every_flipped_byte_is_detected() {
    let records = sample();
    let (file, _) = write(&records, 48);
    assert!(chunk_offsets(&file).len() >= 6);
    for at in 0..file.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut broken = file.clone();
            broken[at] ^= mask;
            assert_detected(&broken, &records, &format!("byte {at} ^ {mask:#x}"));
        }
    }
}

#[test]
fn every_truncation_is_detected_at_its_length() {
    let records = sample();
    let (file, _) = write(&records, 48);
    for len in 0..file.len() {
        assert_detected(&file[..len], &records, &format!("truncated to {len}"));
        let e = error_of(&file[..len]);
        assert!(
            matches!(e, SnapshotError::Truncated { offset, .. } if offset == len as u64),
            "truncated to {len}: {e}"
        );
    }
}

/// A record as proptest draws it: db, key, value, expiry.
fn arb_record() -> impl Strategy<Value = SnapshotRecord> {
    (
        prop_oneof![0u32..4, 0u32..16, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..24),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..8),
            prop::collection::vec(any::<u8>(), 0..600),
            (0usize..3000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        ],
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(db, key, value, expire_at)| rec(db, &key, &value, expire_at))
}

proptest! {
    #[test]
    fn prop_round_trip(
        records in prop::collection::vec(arb_record(), 0..60),
        chunk_target in prop_oneof![1usize..32, 32usize..600, Just(4096), Just(CHUNK_TARGET)],
    ) {
        let (file, written) = write(&records, chunk_target);
        let (read_back, err) = read(&file);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&read_back, &records);
        let summary = verify(&file[..]).unwrap();
        prop_assert_eq!(&summary, &written);
        prop_assert_eq!(summary.records, records.len() as u64);
        prop_assert_eq!(
            summary.expiring,
            records.iter().filter(|r| r.expire_at.is_some()).count() as u64
        );
        prop_assert_eq!(summary.chunks, summary.raw_bytes.div_ceil(chunk_target as u64));
    }

    #[test]
    fn prop_flip_or_truncate_is_detected(
        records in prop::collection::vec(arb_record(), 1..12),
        chunk_target in 16usize..400,
        at in any::<prop::sample::Index>(),
        mask in 1u8..,
        truncate in any::<bool>(),
    ) {
        let (mut file, _) = write(&records, chunk_target);
        let at = at.index(file.len());
        if truncate {
            file.truncate(at);
        } else {
            file[at] ^= mask;
        }
        assert_detected(&file, &records, &format!("at {at}, truncate {truncate}"));
    }
}

/// A writer that takes `room` bytes, then fails.
struct FullDisk {
    room: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left",
            ));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader of `file` that fails once `good` bytes have been read.
struct FailingRead<'a> {
    file: &'a [u8],
    good: usize,
}

impl std::io::Read for FailingRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good == 0 {
            return Err(std::io::Error::other("device error"));
        }
        let n = buf.len().min(self.good).min(self.file.len());
        buf[..n].copy_from_slice(&self.file[..n]);
        self.file = &self.file[n..];
        self.good -= n;
        Ok(n)
    }
}

#[test]
fn io_errors_name_their_offset() {
    // The header fits, the first chunk does not: the error names the offset of the
    // write that failed (the chunk frame, after the header).
    let mut w = SnapshotWriter::with_chunk_target(FullDisk { room: 40 }, CREATED, 64).unwrap();
    let e = (0..10)
        .map(|i| w.write_record(0, b"key", &Value::string(&[i; 30]), None))
        .find_map(Result::err)
        .expect("the disk fills");
    assert!(matches!(e, SnapshotError::Io { offset: 28, .. }), "{e}");
    assert_eq!(e.to_string(), "I/O error at byte 28: no space left");

    let (file, _) = write(&sample(), 64);
    let e = verify(FailingRead {
        file: &file,
        good: 100,
    })
    .unwrap_err();
    assert!(
        matches!(e, SnapshotError::Io { offset, .. } if offset <= 100),
        "{e}"
    );
}
