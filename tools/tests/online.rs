//! `tierctl snapshot` of a running tierd and `tierctl restore` of what it took, with
//! real processes: a node with values in RAM and in the cold tier, snapshotted,
//! restored into a new dir, a second node started there holds every key, value and
//! TTL of the first. And TIER SNAPSHOT on the wire: a point in time, other clients
//! served meanwhile, the connection usable after.

mod common;
mod node;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use tempfile::TempDir;
use tier_engine::snapshot::SnapshotReader;
use tier_tools::stream::SnapshotStream;

use common::{path_str, stderr, stdout, tierctl};
use node::{Node, Raw};

/// Every key of every database: value and absolute expiry (PEXPIRETIME, -1: none).
type Dataset = BTreeMap<(u32, Vec<u8>), (Vec<u8>, i64)>;

fn dataset(con: &mut redis::Connection) -> Dataset {
    let mut all = Dataset::new();
    for db in 0..16u32 {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(con)
            .expect("SELECT");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
        for key in keys {
            let value: Vec<u8> = redis::cmd("GET").arg(&key).query(con).expect("GET");
            let at: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(con)
                .expect("PEXPIRETIME");
            all.insert((db, key), (value, at));
        }
    }
    all
}

/// `len` bytes that zstd cannot shrink, different for each `seed`.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// A value in RAM or in the cold tier: the node has 8 MB of RAM for 12 MB of values.
/// Some with a TTL, some in another database, a binary key.
fn fill(con: &mut redis::Connection) {
    let mut pipe = redis::pipe();
    for i in 0..600u64 {
        pipe.cmd("SET")
            .arg(format!("big:{i}"))
            .arg(noise(i, 20_000));
        match i % 3 {
            0 => pipe.arg("EX").arg(3600 + i),
            1 => pipe.arg("PXAT").arg(4_000_000_000_000 + i),
            _ => &mut pipe,
        }
        .ignore();
    }
    for i in 0..100u64 {
        pipe.cmd("SET").arg(format!("small:{i}")).arg(i).ignore();
    }
    pipe.cmd("SELECT").arg(5).ignore();
    pipe.cmd("SET")
        .arg("elsewhere")
        .arg("db5")
        .arg("EX")
        .arg(100_000)
        .ignore();
    pipe.cmd("SET")
        .arg(b"bin\x00\xff".as_slice())
        .arg(b"\x00\x01".as_slice())
        .ignore();
    pipe.cmd("SELECT").arg(0).ignore();
    pipe.query::<()>(con).expect("the writes");
}

/// INFO's numeric `name:` field.
fn info_number(con: &mut redis::Connection, section: &str, name: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn snapshot_of_a_tiered_node_restores_every_key_and_ttl() {
    let data = TempDir::new().unwrap();
    let flags = ["--maxmemory", "8mb", "--requirepass", "secret"];
    let node = Node::start(data.path(), &flags);
    let mut con = node.client(Some("secret"));
    fill(&mut con);
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_number(&mut con, "tiering", "cold_keys") == 0 {
        assert!(Instant::now() < deadline, "nothing was demoted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = dataset(&mut con);
    assert_eq!(before.len(), 702);

    let work = TempDir::new().unwrap();
    let file = work.path().join("node.tsnap");
    let port = node.port.to_string();
    let out = tierctl(&[
        "snapshot",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-a",
        "secret",
        "--user",
        "default",
        "-o",
        path_str(&file),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("(702 keys)"), "{}", stdout(&out));
    assert!(!work.path().join("node.tsnap.tmp").exists());
    // The node goes on as before, and counts the snapshot as a save.
    assert_eq!(
        info_number(&mut con, "persistence", "rdb_bgsave_in_progress"),
        0
    );
    assert_eq!(dataset(&mut con), before);

    // A wrong password is refused, and nothing is written.
    let refused = work.path().join("refused.tsnap");
    let out = tierctl(&[
        "snapshot",
        "-p",
        &port,
        "-a",
        "nope",
        "-o",
        path_str(&refused),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("WRONGPASS"), "{}", stderr(&out));
    assert!(!refused.exists() && !work.path().join("refused.tsnap.tmp").exists());

    let restored = work.path().join("restored");
    let out = tierctl(&["restore", path_str(&file), "--dir", path_str(&restored)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let second = Node::start(&restored, &[]);
    let mut con = second.client(None);
    assert_eq!(dataset(&mut con), before);
}

#[test]
fn tier_snapshot_is_a_point_in_time_and_leaves_clients_be() {
    let data = TempDir::new().unwrap();
    let node = Node::start(data.path(), &[]);
    let mut con = node.client(None);
    // More than the socket buffers and the server's queue hold, so that the server
    // waits for this reader mid-way.
    const KEYS: u64 = 24_000;
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.cmd("SET")
            .arg(format!("k{i}"))
            .arg(noise(i, 1000))
            .ignore();
    }
    pipe.query::<()>(&mut con).expect("SET");

    // The snapshot, then a PING on the same connection, sent at once.
    let mut raw = Raw::connect(node.port).unwrap();
    raw.send(&["TIER", "SNAPSHOT"]);
    raw.send(&["PING"]);
    let mut stream = SnapshotStream::start(&mut raw.input).expect("the stream starts");
    let mut file = vec![0; 1000];
    stream.read_exact(&mut file).expect("a first piece");
    // The capture has started (the first piece is written after): writes now are not
    // in the snapshot, and they are served while the stream waits for its reader.
    redis::cmd("SET")
        .arg("k0")
        .arg("changed")
        .query::<()>(&mut con)
        .unwrap();
    redis::cmd("SET")
        .arg("new")
        .arg("after")
        .query::<()>(&mut con)
        .unwrap();
    redis::cmd("DEL").arg("k1").query::<()>(&mut con).unwrap();
    // It is still running: a second one waits for it.
    assert_eq!(
        info_number(&mut con, "persistence", "rdb_bgsave_in_progress"),
        1
    );
    let mut other = Raw::connect(node.port).unwrap();
    other.send(&["TIER", "SNAPSHOT"]);
    assert_eq!(other.line(), "-ERR Background save already in progress");

    stream.read_to_end(&mut file).expect("the whole stream");
    assert_eq!(raw.line(), "+PONG");

    let mut reader = SnapshotReader::new(&file[..]).expect("a snapshot");
    let mut keys = BTreeMap::new();
    while let Some(record) = reader.next_record().expect("a record") {
        keys.insert(record.key.to_vec(), record.value);
    }
    assert_eq!(keys.len() as u64, KEYS);
    assert!(!keys.contains_key(b"new".as_slice()));
    assert!(keys.contains_key(b"k1".as_slice()));
    assert_eq!(
        keys[b"k0".as_slice()],
        tier_engine::Value::string(&noise(0, 1000))
    );
}
