//! Fuzzes the cold tier's segment record format. Arbitrary bytes are decoded as one
//! record and walked as a block run, from the start and from an offset taken from
//! the input: nothing panics, and every record that decodes re-encodes to exactly
//! its bytes. Then records built from the input are packed into
//! blocks, one byte is optionally flipped, and the walk must give back only the
//! records written, at their offsets (a corrupt record is an error, never a record).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tier_engine::cold::{
    decode_record, encode_record, record_len, record_start, records_in_block_run,
    records_in_block_run_from, RecordRef,
};
use tier_engine::io::ALIGN;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = decode_record(data) {
        assert_reencodes(data, &record);
    }
    for item in records_in_block_run(data) {
        if let Ok((offset, record)) = item {
            assert_reencodes(&data[offset..], &record);
        }
    }
    // A walk resumed anywhere (the reclaimer resumes where a window ended) never
    // panics and yields only records that re-encode.
    if let [a, b, ..] = data {
        let from = usize::from(u16::from_le_bytes([*a, *b])) % (data.len() + 1);
        for item in records_in_block_run_from(data, from) {
            if let Ok((offset, record)) = item {
                assert_reencodes(&data[offset..], &record);
            }
        }
    }
    pack_corrupt_and_walk(data);
});

/// Encoding a decoded record again gives the bytes it was decoded from.
fn assert_reencodes(bytes: &[u8], record: &RecordRef<'_>) {
    let mut out = vec![0u8; record.len];
    let n = encode_record(
        &mut out,
        record.key,
        record.hash,
        record.value_type,
        record.value,
    )
    .expect("a decoded record re-encodes");
    assert_eq!(n, record.len);
    assert_eq!(out, bytes[..record.len]);
}

/// A record to write: key, hash, value type, value.
struct Rec<'a> {
    key: &'a [u8],
    hash: u64,
    value_type: u8,
    value: Vec<u8>,
}

/// `data` = flip offset (2 bytes), flip mask, then per record: key length (0..=63),
/// value length in 97-byte steps (so values reach several blocks), value fill byte,
/// value type, key bytes.
fn pack_corrupt_and_walk(data: &[u8]) {
    let [f0, f1, mask, rest @ ..] = data else {
        return;
    };
    let mut rest = rest;
    let mut recs = Vec::new();
    while let [k, v, fill, value_type, tail @ ..] = rest {
        let key_len = usize::from(k & 63).min(tail.len());
        let (key, tail) = tail.split_at(key_len);
        recs.push(Rec {
            key,
            hash: key.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }),
            value_type: *value_type,
            value: vec![*fill; usize::from(*v) * 97],
        });
        rest = tail;
    }
    let mut pos = 0;
    let mut offsets = Vec::with_capacity(recs.len());
    for rec in &recs {
        pos = record_start(pos);
        offsets.push(pos);
        pos += record_len(rec.key.len(), rec.value.len());
    }
    let mut run = vec![0u8; pos.div_ceil(ALIGN) * ALIGN];
    for (rec, &at) in recs.iter().zip(&offsets) {
        encode_record(
            &mut run[at..],
            rec.key,
            rec.hash,
            rec.value_type,
            &rec.value,
        )
        .expect("the run was sized for the records");
    }
    let flipped = *mask != 0 && !run.is_empty();
    if flipped {
        let at = usize::from(u16::from_le_bytes([*f0, *f1])) * 7 % run.len();
        run[at] ^= mask;
    }
    let mut walked = 0;
    for item in records_in_block_run(&run) {
        let Ok((offset, got)) = item else {
            assert!(flipped, "an intact run walks without errors");
            break;
        };
        let i = offsets
            .binary_search(&offset)
            .expect("a record comes back only at an offset one was written at");
        let rec = &recs[i];
        assert_eq!(i, walked, "records come back in order, none skipped");
        assert_eq!(got.key, rec.key);
        assert_eq!(got.hash, rec.hash);
        assert_eq!(got.value_type, rec.value_type);
        assert_eq!(got.value, &rec.value[..]);
        walked += 1;
    }
    if !flipped {
        assert_eq!(walked, recs.len(), "an intact run gives back every record");
    }
}
