//! Runs the built `tierctl` on snapshot files written with the engine's writer: a
//! sound file, corrupt ones (exit 1, the byte offset named), a missing file and bad
//! usage (exit 2), and `inspect`'s figures, as text and as JSON.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use tempfile::TempDir;
use tier_engine::snapshot::SnapshotWriter;
use tier_engine::Value;

use common::{path_str, stderr, stdout, tierctl};

const CREATED: u64 = 1_700_000_000_000;

/// A key to write: db, key, value, expiry.
type Key = (u32, &'static [u8], Vec<u8>, Option<u64>);

fn keys() -> Vec<Key> {
    vec![
        (0, b"user:1", b"alice".to_vec(), None),
        (0, b"user:2", b"bob".to_vec(), Some(CREATED + 60_000)),
        (0, b"blob", vec![7; 5000], None),
        (
            2,
            b"session\x00\xff",
            vec![1; 300],
            Some(CREATED + 3_600_000),
        ),
        (2, b"", b"empty key".to_vec(), Some(CREATED - 1_000)),
        (9, b"big", vec![9; 20_000], None),
    ]
}

/// Writes `keys` as a snapshot in `dir` and returns its path.
fn write_snapshot(dir: &Path, keys: &[Key]) -> PathBuf {
    let path = dir.join("base.snap");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = SnapshotWriter::new(file, CREATED).unwrap();
    for (db, key, value, expire_at) in keys {
        w.write_record(*db, key, &Value::string(value), *expire_at)
            .unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn verify_passes_a_sound_file() {
    let dir = TempDir::new().unwrap();
    let path = write_snapshot(dir.path(), &keys());
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("{}: OK\n", path.display())),
        "{text}"
    );
    assert!(text.contains("records    6 (3 with an expiry)"), "{text}");
    assert!(text.contains("databases  db0 3, db2 2, db9 1"), "{text}");
    assert!(text.contains("types      string 6"), "{text}");
    assert!(
        text.contains("taken      2023-11-14T22:13:20.000Z"),
        "{text}"
    );
    assert!(
        stderr(&out).is_empty(),
        "no progress bar when stderr is a pipe"
    );
}

#[test]
fn verify_names_what_is_wrong_and_where() {
    let dir = TempDir::new().unwrap();
    let path = write_snapshot(dir.path(), &keys());
    let sound = std::fs::read(&path).unwrap();

    // A byte of the first chunk's compressed data (the chunk frame is at byte 28,
    // right after the header; its data starts 17 bytes later).
    let mut bytes = sound.clone();
    bytes[28 + 17 + 5] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "tierctl: {}: corrupt: chunk data checksum mismatch at byte 28",
            path.display()
        )),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    // Cut short.
    std::fs::write(&path, &sound[..sound.len() - 3]).unwrap();
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("file truncated at byte {}", sound.len() - 3)),
        "{err}"
    );

    // Not a snapshot at all.
    std::fs::write(&path, b"REDIS0011 and so on").unwrap();
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a Tier snapshot"),
        "{}",
        stderr(&out)
    );

    // inspect checks as much, with the same status.
    let out = tierctl(&["inspect", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_file_or_bad_usage_exits_2() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.snap");
    for cmd in ["verify", "inspect"] {
        let out = tierctl(&[cmd, path_str(&missing)]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("No such file"), "{err}");
    }
    // A directory is read as a data dir: this one is not.
    let out = tierctl(&["verify", path_str(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a tierd data dir"));
    assert_eq!(tierctl(&["verify"]).status.code(), Some(2));
    assert_eq!(tierctl(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        tierctl(&["inspect", "--top", "lots", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn inspect_reports_counts_sizes_ttls_and_the_biggest_keys() {
    let dir = TempDir::new().unwrap();
    let keys = keys();
    let path = write_snapshot(dir.path(), &keys);
    let out = tierctl(&["inspect", "--json", "--top", "3", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let j: Json = serde_json::from_str(&stdout(&out)).unwrap();

    let key_bytes: usize = keys.iter().map(|k| k.1.len()).sum();
    let value_bytes: usize = keys.iter().map(|k| k.2.len()).sum();
    assert_eq!(j["created_ms"], CREATED);
    assert_eq!(j["total"]["keys"], 6);
    assert_eq!(j["total"]["key_bytes"], key_bytes);
    assert_eq!(j["total"]["value_bytes"], value_bytes);
    assert_eq!(j["total"]["expiring"], 3);
    assert_eq!(j["types"]["string"]["keys"], 6);
    assert_eq!(j["databases"]["0"]["keys"], 3);
    assert_eq!(j["databases"]["0"]["value_bytes"], 5 + 3 + 5000);
    assert_eq!(j["databases"]["2"]["expiring"], 2);
    assert_eq!(j["databases"]["9"]["value_bytes"], 20_000);
    assert_eq!(j["expired_when_taken"], 1);
    assert_eq!(j["nearest_expiry"]["key"], "");
    assert_eq!(j["nearest_expiry"]["expire_at_ms"], CREATED - 1_000);
    assert_eq!(j["farthest_expiry"]["key"], "session\\x00\\xff");
    assert_eq!(j["farthest_expiry"]["db"], 2);
    let biggest: Vec<(&str, u64)> = j["biggest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap(),
                k["value_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        biggest,
        [("big", 20_000), ("blob", 5000), ("session\\x00\\xff", 300)]
    );
    assert_eq!(j["biggest"][0]["type"], "string");
    assert_eq!(j["file_bytes"], std::fs::metadata(&path).unwrap().len());

    let out = tierctl(&["inspect", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in [
        format!("keys       6 ({key_bytes} bytes of keys, {value_bytes} bytes of values)"),
        "  string       6 keys, ".to_string(),
        "  db9          1 keys, 3 key bytes, 20000 value bytes, 0 with a TTL".to_string(),
        "expiry     3 keys with a TTL, 3 without; 1 already expired when taken".to_string(),
        "  nearest  2023-11-14T22:13:19.000Z (1s before the snapshot): db2 \"\"".to_string(),
        "  farthest 2023-11-14T23:13:20.000Z (1h after the snapshot): db2 \"session\\x00\\xff\""
            .to_string(),
        "biggest 6 keys".to_string(),
        "    1. 20000 bytes  string db9 \"big\"".to_string(),
        "    6. 3 bytes  string db0 \"user:2\", expires 2023-11-14T22:14:20.000Z".to_string(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
}

/// Lists, hashes, sets and sorted sets are verified and counted by type.
#[test]
fn verify_and_inspect_count_lists_hashes_and_sets() {
    use std::sync::Arc;
    use tier_engine::value::{Hash, Limits, List, Set, ZSet};
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("collections.snap");
    let mut w = SnapshotWriter::new(std::fs::File::create(&path).unwrap(), CREATED).unwrap();
    let mut hash = Hash::new();
    hash.set(b"field", b"value", &Limits::default());
    let mut set = Set::intset();
    set.add(b"1", &Limits::default());
    let mut zset = ZSet::default();
    zset.insert(b"m", 2.5, &Limits::default());
    let values = [
        Value::string(b"s"),
        Value::Hash(Arc::new(hash)),
        Value::Set(Arc::new(set)),
        Value::ZSet(Arc::new(zset)),
        Value::List(Arc::new(
            ["a", "bc"]
                .into_iter()
                .map(bytes::Bytes::from)
                .collect::<List>(),
        )),
    ];
    for (i, value) in values.iter().enumerate() {
        w.write_record(0, format!("k{i}").as_bytes(), value, None)
            .unwrap();
    }
    w.finish().unwrap();
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("types      string 1, list 1, set 1, zset 1, hash 1"),
        "{}",
        stdout(&out)
    );
    let out = tierctl(&["inspect", path_str(&path)]);
    let text = stdout(&out);
    // A hash's size is its payload: 5 + 4 + 5 + 4 + 5 bytes.
    assert!(
        text.contains("  hash         1 keys, 2 key bytes, 23 value bytes"),
        "{text}"
    );
    assert!(
        text.contains("  set          1 keys, 2 key bytes, 10 value bytes"),
        "{text}"
    );
    // A sorted set's: 5 + 4 + 1 + 8 bytes.
    assert!(
        text.contains("  zset         1 keys, 2 key bytes, 18 value bytes"),
        "{text}"
    );
    // A list's: 5 + 4 + 1 + 4 + 2 bytes.
    assert!(
        text.contains("  list         1 keys, 2 key bytes, 16 value bytes"),
        "{text}"
    );
}

#[test]
fn inspect_an_empty_snapshot() {
    let dir = TempDir::new().unwrap();
    let path = write_snapshot(dir.path(), &[]);
    let out = tierctl(&["inspect", "--json", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0));
    let j: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(j["total"]["keys"], 0);
    assert_eq!(j["nearest_expiry"], Json::Null);
    assert_eq!(j["biggest"], Json::Array(vec![]));
    let out = tierctl(&["verify", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("databases  none"));
}
