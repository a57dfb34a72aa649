//! Transactions: WATCH failing EXEC on every kind of change by another client, EXEC
//! running atomically beside other clients, transactions on cold values, and
//! transactions in the AOF (replayed whole, or not at all when a crash cut one
//! short). Replies inside MULTI are compared with Redis's by the differential tests.

use crate::harness::*;
use redis::Commands;
use std::os::unix::fs::FileExt;
use std::time::Duration;
use tier_server::resp::Frame;

fn queued() -> Frame {
    Frame::Simple("QUEUED".into())
}

/// EXEC after WATCH of `key`, once `change` ran on another connection: the reply.
fn exec_after(server: &TestServer, key: &str, change: &[&str]) -> Frame {
    let mut watcher = server.raw();
    let mut other = server.raw();
    assert_eq!(watcher.cmd(&["WATCH", key]), ok());
    if !change.is_empty() {
        other.cmd(change);
    }
    assert_eq!(watcher.cmd(&["MULTI"]), ok());
    assert_eq!(watcher.cmd(&["GET", key]), queued());
    watcher.cmd(&["EXEC"])
}

#[test]
fn watch_fails_exec_on_any_change() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let reset = |raw: &mut RawClient| {
        raw.cmd(&["FLUSHALL"]);
        raw.cmd(&["SET", "k", "v"]);
    };
    let unchanged = array(vec![bulk("v")]);
    let changes: &[(&[&str], bool)] = &[
        (&[], false),
        (&["SET", "k", "w"], true),
        (&["SET", "k", "v"], true),
        (&["DEL", "k"], true),
        (&["EXPIRE", "k", "100"], true),
        (&["APPEND", "k", "x"], true),
        (&["RENAME", "k", "k2"], true),
        (&["FLUSHDB"], true),
        (&["FLUSHALL"], true),
        (&["SWAPDB", "0", "1"], true),
        // No change: nothing to fail for.
        (&["SET", "k", "w", "NX"], false),
        (&["DEL", "other"], false),
        (&["GET", "k"], false),
        (&["EXPIRE", "other", "100"], false),
    ];
    for (change, fails) in changes {
        reset(&mut raw);
        let reply = exec_after(&server, "k", change);
        let want = if *fails {
            Frame::Null
        } else {
            unchanged.clone()
        };
        assert_eq!(reply, want, "after {change:?}");
    }
    // A watched key that expires fails EXEC, even before anything deletes it.
    reset(&mut raw);
    raw.cmd(&["PEXPIRE", "k", "50"]);
    let mut watcher = server.raw();
    assert_eq!(watcher.cmd(&["WATCH", "k"]), ok());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(watcher.cmd(&["MULTI"]), ok());
    assert_eq!(watcher.cmd(&["EXEC"]), Frame::Null);
    // FLUSHDB of a watched key that does not exist changes nothing.
    raw.cmd(&["FLUSHALL"]);
    assert_eq!(
        exec_after(&server, "absent", &["FLUSHDB"]),
        array(vec![Frame::Null])
    );
    // CLIENT LIST shows MULTI (x, multi=N) and a broken watch (d).
    reset(&mut raw);
    let mut watcher = server.raw();
    watcher.cmd(&["WATCH", "k"]);
    raw.cmd(&["SET", "k", "changed"]);
    watcher.cmd(&["MULTI"]);
    watcher.cmd(&["GET", "k"]);
    let list = match raw.cmd(&["CLIENT", "LIST"]) {
        Frame::Bulk(text) => String::from_utf8(text.to_vec()).expect("text"),
        other => panic!("CLIENT LIST replied {other:?}"),
    };
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=xd ") && l.contains(" multi=1 ")),
        "{list}"
    );
}

/// Two clients add 2 to a counter in transactions (INCR, INCR) while a third reads
/// it: it is never odd, and the total is exact.
#[test]
fn exec_is_atomic_beside_other_clients() {
    const ROUNDS: usize = 400;
    let server = TestServer::start();
    let mut reader = server.client();
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let mut con = server.client();
                scope.spawn(move || {
                    for _ in 0..ROUNDS {
                        let (a, b): (i64, i64) = redis::pipe()
                            .atomic()
                            .incr("counter", 1)
                            .incr("counter", 1)
                            .query(&mut con)
                            .expect("transaction");
                        assert_eq!(b, a + 1, "another INCR ran inside the transaction");
                    }
                })
            })
            .collect();
        while writers.iter().any(|w| !w.is_finished()) {
            let value: Option<i64> = reader.get("counter").expect("GET");
            assert_eq!(value.unwrap_or(0) % 2, 0, "a transaction seen half done");
        }
    });
    let total: i64 = reader.get("counter").expect("GET");
    assert_eq!(total, 2 * 2 * ROUNDS as i64);
}

/// The keys of a transaction that are in the cold tier are loaded before it runs:
/// reads, writes, a RENAME then a read of the new name, on two databases.
#[test]
fn transactions_run_on_cold_values() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    for (db, key, value) in [("0", "a", "alpha"), ("0", "b", "beta"), ("1", "c", "gamma")] {
        raw.cmd(&["SELECT", db]);
        raw.cmd(&["SET", key, value]);
        assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", key]), int(1));
    }
    raw.cmd(&["SELECT", "0"]);
    assert_eq!(raw.cmd(&["MULTI"]), ok());
    for cmd in [
        &["GET", "a"][..],
        &["APPEND", "b", "!"],
        &["RENAME", "a", "a2"],
        &["GET", "a2"],
        &["SELECT", "1"],
        &["GETRANGE", "c", "0", "2"],
    ] {
        assert_eq!(raw.cmd(cmd), queued(), "{cmd:?}");
    }
    assert_eq!(
        raw.cmd(&["EXEC"]),
        array(vec![
            bulk("alpha"),
            int(5),
            ok(),
            bulk("alpha"),
            ok(),
            bulk("gam"),
        ])
    );
}

/// Transactions reach the AOF as MULTI ... EXEC and come back after a kill; one the
/// crash cut short (MULTI without EXEC at the end) is reverted, and the file cut
/// before it.
#[test]
fn transactions_in_the_aof() {
    let flags = ["--appendfsync", "always"];
    let server = TestServer::start_with(&flags);
    let mut con = server.client();
    let _: () = redis::pipe()
        .atomic()
        .set("x", "1")
        .set("y", "2")
        .incr("n", 5)
        .query(&mut con)
        .expect("transaction");
    let dir = server.kill9();
    let incr = last_incr(dir.path());
    let data = std::fs::read(&incr).expect("incr");
    let text = String::from_utf8_lossy(&data);
    let multi = text.find("MULTI").expect("MULTI logged");
    assert!(text[multi..].contains("EXEC"), "{text}");

    // A transaction cut short by the crash: MULTI and a SET, no EXEC.
    let whole = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64;
    let cut = b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n9\r\n";
    std::fs::OpenOptions::new()
        .write(true)
        .open(&incr)
        .and_then(|f| f.write_all_at(cut, whole))
        .expect("write into the increment");
    let server = TestServer::start_in(dir, &flags);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["MGET", "x", "y", "n", "z"]),
        array(vec![bulk("1"), bulk("2"), bulk("5"), Frame::Null])
    );
    let data = std::fs::read(&incr).expect("incr");
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1) as u64;
    assert_eq!(end, whole, "the incomplete transaction is cut off");
    assert_eq!(raw.cmd(&["SET", "after", "1"]), ok());
}

/// Writers run transactions (two SETs and an INCR each) under `appendfsync always`
/// while tierd is killed with SIGKILL, a BGREWRITEAOF started meanwhile: after the
/// restart every acknowledged transaction is there whole, and no transaction is
/// there in part.
#[test]
fn transactions_in_flight_survive_a_kill_whole() {
    const THREADS: usize = 3;
    let flags = ["--appendfsync", "always"];
    let server = TestServer::start_with(&flags);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acked, dir) = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let mut con = server.client();
                let stop = &stop;
                scope.spawn(move || {
                    let mut acked = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let done: redis::RedisResult<((), (), u64)> = redis::pipe()
                            .atomic()
                            .set(format!("t{t}:a{acked}"), acked)
                            .set(format!("t{t}:b{acked}"), acked)
                            .incr(format!("t{t}:n"), 1)
                            .query(&mut con);
                        match done {
                            Ok((_, _, n)) => {
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
        std::thread::sleep(Duration::from_millis(200));
        server.raw().cmd(&["BGREWRITEAOF"]);
        std::thread::sleep(Duration::from_millis(200 + rand::random::<u64>() % 300));
        // Killed under the writers' feet; they stop at their next error.
        let dir = server.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked: Vec<u64> = writers
            .into_iter()
            .map(|w| w.join().expect("writer"))
            .collect();
        (acked, dir)
    });
    let again = TestServer::start_in(dir, &flags);
    let mut con = again.client();
    for (t, &n) in acked.iter().enumerate() {
        assert!(n > 0, "thread {t} committed nothing before the kill");
        let counter: u64 = con.get(format!("t{t}:n")).expect("counter");
        assert!(
            counter == n || counter == n + 1,
            "thread {t}: {n} transactions acknowledged, the counter is {counter}"
        );
        for i in 0..counter {
            let pair: (Option<u64>, Option<u64>) = redis::pipe()
                .get(format!("t{t}:a{i}"))
                .get(format!("t{t}:b{i}"))
                .query(&mut con)
                .expect("MGET");
            assert_eq!(pair, (Some(i), Some(i)), "thread {t}, transaction {i}");
        }
        let beyond: Option<u64> = con.get(format!("t{t}:a{counter}")).expect("get");
        assert_eq!(beyond, None, "thread {t}: a transaction there in part");
    }
}
