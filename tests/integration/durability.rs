//! Durability: what a tierd acknowledged is there after it is killed (SIGKILL, no
//! shutdown) and started again on its data dir; the AOF's rewrite and the snapshot
//! file; a torn or corrupt AOF at start.

use crate::harness::*;
use redis::Commands;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// Every key of every database with its value and deadline (PEXPIRETIME), as a map.
fn dataset(server: &TestServer) -> BTreeMap<(u32, String), (String, i64)> {
    let mut con = server.client();
    let mut all = BTreeMap::new();
    for db in 0..16u32 {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(&mut con)
            .expect("select");
        let keys: Vec<String> = con.keys("*").expect("keys");
        for key in keys {
            let value: String = con.get(&key).expect("get");
            let at: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(&mut con)
                .expect("pexpiretime");
            all.insert((db, key), (value, at));
        }
    }
    all
}

/// Writes of every kind the AOF logs are all there after a kill -9 and a restart,
/// exactly (values, databases, deadlines), under `appendfsync always`.
#[test]
fn every_kind_of_write_survives_a_kill() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut con = server.client();
    let _: () = con.set("plain", "v").expect("set");
    let _: () = con.set_ex("ttl", "v", 1000).expect("set ex");
    let _: () = redis::cmd("SET")
        .arg("px")
        .arg("v")
        .arg("PX")
        .arg(500_000)
        .query(&mut con)
        .expect("set px");
    let _: () = con.set("expiring", "v").expect("set");
    let _: bool = con.expire("expiring", 2000).expect("expire");
    let _: () = con.set_ex("persisted", "v", 100).expect("set ex");
    let _: bool = con.persist("persisted").expect("persist");
    let _: i64 = con.incr("counter", 5).expect("incr");
    let _: f64 = redis::cmd("INCRBYFLOAT")
        .arg("float")
        .arg("1.5")
        .query(&mut con)
        .expect("incrbyfloat");
    let _: i64 = con.append("appended", "ab").expect("append");
    let _: i64 = con.append("appended", "cd").expect("append");
    let _: () = con.mset(&[("m1", "1"), ("m2", "2")]).expect("mset");
    let _: () = con.set("gone", "v").expect("set");
    let _: i64 = con.del("gone").expect("del");
    let _: () = con.rename("m2", "renamed").expect("rename");
    let _: String = redis::cmd("GETEX")
        .arg("plain")
        .arg("EX")
        .arg(3000)
        .query(&mut con)
        .expect("getex");
    let _: () = con.set("past", "v").expect("set");
    let _: bool = con.expire("past", -1).expect("expire in the past deletes");
    redis::cmd("SELECT")
        .arg(3)
        .query::<()>(&mut con)
        .expect("select");
    let _: () = con.set("in3", "three").expect("set");
    let _: () = con.set("moved", "m").expect("set");
    let _: bool = redis::cmd("MOVE")
        .arg("moved")
        .arg(4)
        .query(&mut con)
        .expect("move");
    redis::cmd("SELECT")
        .arg(5)
        .query::<()>(&mut con)
        .expect("select");
    let _: () = con.set("flushed", "v").expect("set");
    redis::cmd("FLUSHDB")
        .query::<()>(&mut con)
        .expect("flushdb");
    redis::cmd("SWAPDB")
        .arg(3)
        .arg(6)
        .query::<()>(&mut con)
        .expect("swapdb");
    let before = dataset(&server);
    assert!(before.contains_key(&(6, "in3".into())), "{before:?}");
    assert!(!before.contains_key(&(0, "past".into())));
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    assert_eq!(dataset(&again), before);
}

/// Clients write concurrently under `appendfsync always` while the server is killed
/// at a random moment: every write acknowledged before the kill is there after the
/// restart, and at most the one in flight beyond it.
#[test]
fn acknowledged_writes_survive_a_kill_mid_traffic() {
    const THREADS: usize = 4;
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let mut con = server.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("t{t}:{acked}");
                    let set: redis::RedisResult<()> = con.set(&key, acked);
                    let incr: redis::RedisResult<u64> =
                        set.and_then(|()| con.incr(format!("t{t}:n"), 1));
                    match incr {
                        Ok(n) => {
                            assert_eq!(n, acked + 1);
                            acked += 1;
                        }
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300 + rand::random::<u64>() % 500));
    let dir = server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut con = again.client();
    for (t, &n) in acked.iter().enumerate() {
        assert!(n > 0, "thread {t} wrote nothing before the kill");
        let counter: u64 = con.get(format!("t{t}:n")).expect("counter");
        assert!(
            counter == n || counter == n + 1,
            "thread {t}: {n} increments acknowledged, {counter} recovered"
        );
        for i in 0..n {
            let v: Option<u64> = con.get(format!("t{t}:{i}")).expect("get");
            assert_eq!(v, Some(i), "thread {t}, key {i} of {n} acknowledged");
        }
    }
}

/// Round after round on one data dir: writers under `appendfsync always`, a
/// BGREWRITEAOF or a BGSAVE started, and tierd killed while it may still run; after
/// each restart every write acknowledged in any round so far is there. Three rounds
/// here; `TIER_KILL_ROUNDS=200` for the long run (see benches/README.md).
#[test]
fn kills_during_rewrites_and_saves_lose_no_acknowledged_write() {
    const THREADS: usize = 2;
    let rounds: usize = std::env::var("TIER_KILL_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let flags = ["--appendfsync", "always"];
    let mut dir = tempfile::tempdir().expect("temp dir");
    // Per thread: how many keys each round got acknowledged.
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); THREADS];
    for round in 0..rounds {
        let server = TestServer::start_in(dir, &flags);
        let mut con = server.client();
        for (t, rounds_acked) in acked.iter().enumerate() {
            for (r, &n) in rounds_acked.iter().enumerate() {
                for i in 0..n {
                    let key = format!("t{t}:r{r}:{i}");
                    let v: Option<u64> = con.get(&key).expect("get");
                    assert_eq!(v, Some(i), "{key} was acknowledged before a kill");
                }
            }
        }
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let mut con = server.client();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while con.set::<_, _, ()>(format!("t{t}:r{round}:{n}"), n).is_ok() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rand::random::<u64>() % 200));
        let job = if round % 2 == 0 {
            "BGREWRITEAOF"
        } else {
            "BGSAVE"
        };
        let _ = server.raw().cmd(&[job]);
        std::thread::sleep(Duration::from_millis(rand::random::<u64>() % 100));
        dir = server.kill9();
        for (t, w) in writers.into_iter().enumerate() {
            acked[t].push(w.join().expect("writer"));
        }
    }
    let server = TestServer::start_in(dir, &flags);
    let mut con = server.client();
    for (t, rounds_acked) in acked.iter().enumerate() {
        for (r, &n) in rounds_acked.iter().enumerate() {
            assert!(n > 0, "thread {t} wrote nothing in round {r}");
            let last: Option<u64> = con.get(format!("t{t}:r{r}:{}", n - 1)).expect("get");
            assert_eq!(last, Some(n - 1));
        }
    }
}

/// BGREWRITEAOF runs beside writes, several times: the manifest names the new base,
/// old files go, and after a kill every acknowledged write is there.
#[test]
fn rewrites_beside_writes_lose_nothing() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut con = server.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut acked = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: () = con.set(format!("k{}", acked % 500), acked).expect("set");
                let _: () = con.set("last", acked).expect("set");
                acked += 1;
            }
            acked
        })
    };
    let mut raw = server.raw();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        rewrite_aof(&mut raw);
    }
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    let text = info(&mut raw, &["persistence"]);
    assert_eq!(number(&text, "aof_rewrites"), 4);
    assert_eq!(
        field(&text, "aof_last_bgrewrite_status").as_deref(),
        Some("ok")
    );
    let before = dataset(&server);
    let aof_dir = server.dir().join("appendonlydir");
    let manifest =
        std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).expect("manifest");
    assert!(manifest.contains("type b"), "{manifest}");
    // One base and one increment: the files of earlier generations are gone.
    let files = std::fs::read_dir(&aof_dir).expect("dir").count();
    assert_eq!(files, 3, "{manifest}");
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    assert_eq!(dataset(&again), before);
    let mut con = again.client();
    let last: u64 = con.get("last").expect("last");
    assert_eq!(last, acked - 1);
}

/// Values that went to the cold tier come back after a restart: the AOF holds them,
/// and the replay rebuilds the tier as RAM fills.
#[test]
fn cold_values_come_back_after_a_kill() {
    let flags = ["--maxmemory", "16mb", "--tier-segment-size", "1mb"];
    let server = TestServer::start_with(&flags);
    let mut con = server.client();
    let value = |i: u32| format!("{i:0>2000}");
    for start in (0..16_000u32).step_by(200) {
        let mut pipe = redis::pipe();
        for i in start..start + 200 {
            pipe.set(format!("key{i}"), value(i)).ignore();
        }
        pipe.query::<()>(&mut con).expect("SET batch");
    }
    let mut raw = server.raw();
    assert!(number(&info(&mut raw, &["tiering"]), "cold_keys") > 8000);
    // everysec: a second for the background fsync.
    std::thread::sleep(Duration::from_millis(1500));
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &flags);
    let mut raw = again.raw();
    assert!(number(&info(&mut raw, &["tiering"]), "cold_keys") > 8000);
    let mut con = again.client();
    for i in (0..16_000u32).step_by(7) {
        let v: String = con.get(format!("key{i}")).expect("get");
        assert_eq!(v, value(i), "key{i}");
    }
}

/// Runs tierd on `dir` with `flags` until it exits (it is expected to refuse to
/// start) and returns whether it failed and what it logged.
fn run_until_exit(dir: &Path, flags: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tierd"))
        .args(["--port", &free_port().to_string(), "--loglevel", "warning"])
        .arg("--dir")
        .arg(dir)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tierd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "tierd did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        !output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A command cut off at the end of the last increment (a crash in the middle of a
/// write) is dropped with a warning under `aof-load-truncated yes`, and refuses the
/// start, naming the file and the byte, under `no`. Garbage in the middle of the file
/// always refuses it.
#[test]
fn torn_and_corrupt_aof_at_start() {
    let server = TestServer::start_with(&["--appendfsync", "always", "--save", ""]);
    let mut con = server.client();
    let _: () = con.set("a", "1").expect("set");
    let _: () = con.set("b", "2").expect("set");
    let dir = server.kill9();
    let incr = last_incr(dir.path());
    // The increment ends in zero bytes (room reserved for appends): a write cut
    // short leaves its first bytes where the data ends.
    let data = std::fs::read(&incr).expect("incr");
    let whole = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&incr)
        .and_then(|f| f.write_all_at(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1", whole))
        .expect("write into the increment");
    let (failed, log) = run_until_exit(dir.path(), &["--aof-load-truncated", "no"]);
    assert!(failed, "{log}");
    assert!(
        log.contains(&incr.display().to_string()) && log.contains(&format!("byte {whole}")),
        "{log}"
    );
    let server = TestServer::start_in(dir, &["--save", ""]);
    let mut con = server.client();
    assert_eq!(
        con.get::<_, Option<String>>("b").expect("b"),
        Some("2".into())
    );
    assert_eq!(con.get::<_, Option<String>>("c").expect("c"), None);
    assert_eq!(
        std::fs::metadata(&incr).expect("incr").len(),
        whole,
        "the torn command is cut off"
    );
    let dir = server.kill9();
    // A byte of the first command's header damaged: not a torn tail.
    let mut bytes = std::fs::read(&incr).expect("read");
    bytes[0] = b'X';
    std::fs::write(&incr, bytes).expect("write");
    let (failed, log) = run_until_exit(dir.path(), &[]);
    assert!(failed, "{log}");
    assert!(
        log.contains(&incr.display().to_string()) && log.contains("byte 0"),
        "{log}"
    );
}

/// With the AOF off: SAVE and BGSAVE write the snapshot file, LASTSAVE and INFO move,
/// and a restart loads it.
#[test]
fn snapshots_without_the_aof() {
    let flags = ["--appendonly", "no", "--save", ""];
    let server = TestServer::start_with(&flags);
    let mut raw = server.raw();
    let mut con = server.client();
    let _: () = con.set("a", "1").expect("set");
    let _: () = con.set_ex("b", "2", 1000).expect("set");
    let text = info(&mut raw, &["persistence"]);
    assert_eq!(field(&text, "aof_enabled").as_deref(), Some("0"));
    assert_eq!(number(&text, "rdb_changes_since_last_save"), 2);
    assert_eq!(raw.cmd(&["SAVE"]), ok());
    let text = info(&mut raw, &["persistence"]);
    assert_eq!(number(&text, "rdb_changes_since_last_save"), 0);
    assert_eq!(number(&text, "rdb_saves"), 1);
    let _: () = con.set("c", "3").expect("set");
    assert_eq!(
        raw.cmd(&["BGSAVE"]),
        Frame::Simple("Background saving started".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while number(&info(&mut raw, &["persistence"]), "rdb_saves") < 2 {
        assert!(Instant::now() < deadline, "BGSAVE never ends");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        err("ERR tierd rewrites the AOF only with appendonly yes")
    );
    let before = dataset(&server);
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &flags);
    assert_eq!(dataset(&again), before);
}

/// While the dataset loads, commands get `-LOADING` and INFO says `loading:1` with
/// the progress; once it is loaded every key is there. `key-load-delay` (1 ms a key)
/// makes the load last long enough to watch.
#[test]
fn clients_get_loading_while_the_dataset_loads() {
    let flags = ["--appendonly", "no", "--save", ""];
    let server = TestServer::start_with(&flags);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..1500 {
        pipe.set(format!("key{i}"), i).ignore();
    }
    pipe.query::<()>(&mut con).expect("SETs");
    assert_eq!(server.raw().cmd(&["SAVE"]), ok());
    let dir = server.kill9();

    let slow = [&flags[..], &["--key-load-delay", "1000"]].concat();
    let server = TestServer::spawn_in(dir, &slow);
    let mut raw = server.raw();
    let started = Instant::now();
    assert_eq!(
        raw.cmd(&["GET", "key1"]),
        err("LOADING Redis is loading the dataset in memory")
    );
    assert_eq!(
        raw.cmd(&["SET", "other", "1"]),
        err("LOADING Redis is loading the dataset in memory")
    );
    let text = info(&mut raw, &["persistence"]);
    assert_eq!(field(&text, "loading").as_deref(), Some("1"), "{text}");
    assert!(number(&text, "loading_total_bytes") > 0, "{text}");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "too slow to watch"
    );
    server.wait_loaded(None);
    assert_eq!(raw.cmd(&["DBSIZE"]), int(1500));
    assert_eq!(raw.cmd(&["GET", "key1499"]), bulk("1499"));
}

/// A disk that is full (the AOF's increment is /dev/full, which fails every write
/// with ENOSPC): the write that could not be logged is not acknowledged (its
/// connection closes), later writes answer `-MISCONF`, reads go on, and the files
/// left behind start a node holding everything acknowledged.
#[test]
fn a_full_disk_refuses_writes_and_serves_reads() {
    let flags = ["--appendonly", "no", "--save", ""];
    let server = TestServer::start_with(&flags);
    let mut con = server.client();
    for i in 0..100 {
        let _: () = con.set(format!("key{i}"), i).expect("SET");
    }
    assert_eq!(server.raw().cmd(&["SAVE"]), ok());
    let dir = server.kill9();
    // Loaded from the snapshot file, the AOF starts with a copy of it as base 1, and
    // increment 1 for the writes after it.
    let aof_dir = dir.path().join("appendonlydir");
    std::fs::create_dir(&aof_dir).expect("mkdir");
    let incr = aof_dir.join("appendonly.aof.1.incr.aof");
    std::os::unix::fs::symlink("/dev/full", &incr).expect("symlink");

    let server = TestServer::start_in(dir, &[]);
    let mut first = server.raw();
    first.send(&encode_command(&[b"SET", b"lost", b"1"]));
    let reply = first.read_frame();
    assert!(
        reply.is_none(),
        "an unlogged write must not be acknowledged: {reply:?}"
    );
    let mut raw = server.raw();
    let refused = match raw.cmd(&["SET", "b", "2"]) {
        Frame::Error(text) => String::from_utf8_lossy(&text).into_owned(),
        other => panic!("SET on a full disk: {other:?}"),
    };
    assert!(
        refused.starts_with("MISCONF Errors writing to the AOF file: write of ")
            && refused.ends_with("No space left on device (os error 28)"),
        "{refused}"
    );
    assert!(matches!(raw.cmd(&["DEL", "key1"]), Frame::Error(t) if t.starts_with(b"MISCONF")));
    assert_eq!(raw.cmd(&["GET", "key7"]), bulk("7"));
    assert_eq!(raw.cmd(&["EXISTS", "key99"]), int(1));
    let text = info(&mut raw, &["persistence"]);
    assert_eq!(
        field(&text, "aof_last_write_status").as_deref(),
        Some("err")
    );
    let dir = server.kill9();

    // The disk has room again: an empty increment where /dev/full was.
    std::fs::remove_file(&incr).expect("rm");
    std::fs::File::create(&incr).expect("touch");
    let server = TestServer::start_in(dir, &[]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), int(100));
    assert_eq!(raw.cmd(&["GET", "key42"]), bulk("42"));
    assert_eq!(raw.cmd(&["SET", "b", "2"]), ok());
}

/// CONFIG SET appendfsync takes effect at run time; writes acknowledged under
/// `always` survive a kill.
#[test]
fn appendfsync_changes_at_run_time() {
    let server = TestServer::start_with(&["--appendfsync", "no"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "before", "1"]), ok());
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendfsync", "always"]), ok());
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "appendfsync"]),
        array(vec![bulk("appendfsync"), bulk("always")])
    );
    assert_eq!(raw.cmd(&["SET", "after", "2"]), ok());
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &[]);
    let mut raw = again.raw();
    assert_eq!(raw.cmd(&["GET", "before"]), bulk("1"));
    assert_eq!(raw.cmd(&["GET", "after"]), bulk("2"));
}
