//! The cold tier through a real tierd: every string and keyspace command answers the
//! same on a demoted key as on a key in RAM; a dataset many times `maxmemory` is
//! written and read back whole while RAM stays in budget; promotion, deletes that
//! need no disk read, and the reclaimer freeing segments.

use crate::harness::*;
use redis::Commands;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// A server whose demoter is idle (no maxmemory) and that may demote any value, so a
/// test decides with DEBUG DEMOTE what is cold.
fn server() -> TestServer {
    TestServer::start_with(&["--tier-min-value-size", "1"])
}

fn tiering(raw: &mut RawClient) -> String {
    info(raw, &["tiering"])
}

fn demote(raw: &mut RawClient, keys: &[&str]) -> i64 {
    let mut args = vec!["DEBUG", "DEMOTE"];
    args.extend_from_slice(keys);
    match raw.cmd(&args) {
        Frame::Integer(n) => n,
        other => panic!("DEBUG DEMOTE replied {other:?}"),
    }
}

/// Runs each script twice, once on keys in RAM and once on the same keys demoted
/// right after they were written, and checks the replies are identical.
#[test]
fn commands_on_cold_keys_answer_as_on_hot_keys() {
    let server = server();
    let mut raw = server.raw();
    // (setup values, commands); `k`, `n`, `f` are the keys set up.
    let scripts: &[&[&[&str]]] = &[
        &[
            &["GET", "k"],
            &["STRLEN", "k"],
            &["GETRANGE", "k", "2", "-3"],
        ],
        &[&["APPEND", "k", "++"], &["GET", "k"]],
        &[&["SETRANGE", "k", "3", "XY"], &["GET", "k"]],
        &[
            &["INCR", "n"],
            &["INCRBY", "n", "10"],
            &["DECRBY", "n", "3"],
            &["GET", "n"],
        ],
        &[&["INCRBYFLOAT", "f", "0.25"], &["GET", "f"]],
        &[&["INCR", "k"], &["GET", "k"]],
        &[&["GETDEL", "k"], &["EXISTS", "k"]],
        &[
            &["GETEX", "k", "PX", "100000"],
            &["TYPE", "k"],
            &["GET", "k"],
        ],
        &[&["SET", "k", "new", "GET"], &["GET", "k"]],
        &[&["GETSET", "k", "other"], &["GET", "k"]],
        &[&["MGET", "k", "missing", "n", "f"]],
        &[&["TYPE", "k"], &["EXISTS", "k", "n", "k"], &["TOUCH", "k"]],
        &[&["OBJECT", "ENCODING", "k"], &["OBJECT", "ENCODING", "n"]],
        &[
            &["EXPIRE", "k", "100"],
            &["TTL", "k"],
            &["PERSIST", "k"],
            &["TTL", "k"],
            &["GET", "k"],
        ],
        &[&["RENAME", "k", "k2"], &["GET", "k2"], &["EXISTS", "k"]],
        &[&["RENAMENX", "n", "k"], &["GET", "n"]],
        &[&["COPY", "k", "k3"], &["GET", "k3"], &["GET", "k"]],
        &[
            &["MOVE", "k", "1"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["DEL", "k"],
            &["SELECT", "0"],
        ],
        &[&["DEL", "k", "n"], &["GET", "k"], &["DBSIZE"]],
        &[&["SET", "k", "overwritten"], &["GET", "k"]],
    ];
    let setup = |raw: &mut RawClient| {
        assert_eq!(raw.cmd(&["FLUSHALL"]), ok());
        assert_eq!(raw.cmd(&["SET", "k", "hello world of tiers"]), ok());
        assert_eq!(raw.cmd(&["SET", "n", "41"]), ok());
        assert_eq!(raw.cmd(&["SET", "f", "1.5"]), ok());
    };
    for script in scripts {
        setup(&mut raw);
        let hot: Vec<Frame> = script.iter().map(|c| raw.cmd(c)).collect();
        setup(&mut raw);
        assert_eq!(demote(&mut raw, &["k", "n", "f"]), 3);
        let text = tiering(&mut raw);
        assert_eq!(number(&text, "cold_keys"), 3, "{text}");
        let cold: Vec<Frame> = script.iter().map(|c| raw.cmd(c)).collect();
        assert_eq!(hot, cold, "script {script:?}");
    }
    let text = tiering(&mut raw);
    assert!(number(&text, "cold_reads") > 0, "{text}");
    assert_eq!(number(&text, "cold_read_errors"), 0, "{text}");
}

/// DEL, EXPIRE, TTL, TYPE and EXISTS on a cold key need no disk read.
#[test]
fn key_only_commands_read_nothing_from_disk() {
    let server = server();
    let mut raw = server.raw();
    for key in ["a", "b", "c"] {
        assert_eq!(raw.cmd(&["SET", key, "some value"]), ok());
    }
    assert_eq!(demote(&mut raw, &["a", "b", "c"]), 3);
    let reads = number(&tiering(&mut raw), "cold_reads");
    assert_eq!(raw.cmd(&["TYPE", "a"]), Frame::Simple("string".into()));
    assert_eq!(raw.cmd(&["EXISTS", "a", "b"]), Frame::Integer(2));
    assert_eq!(raw.cmd(&["EXPIRE", "a", "100"]), Frame::Integer(1));
    assert_eq!(raw.cmd(&["TTL", "a"]), Frame::Integer(100));
    assert_eq!(raw.cmd(&["DEL", "b"]), Frame::Integer(1));
    assert_eq!(raw.cmd(&["SET", "c", "new"]), ok());
    let text = tiering(&mut raw);
    assert_eq!(number(&text, "cold_reads"), reads, "{text}");
    assert_eq!(number(&text, "cold_keys"), 1, "{text}");
    assert_eq!(raw.cmd(&["GET", "a"]), Frame::Bulk("some value".into()));
    assert_eq!(number(&tiering(&mut raw), "cold_reads"), reads + 1);
}

/// A value read once stays cold; read again soon, it comes back to RAM.
#[test]
fn second_read_promotes() {
    let server = server();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "p", "promote me"]), ok());
    assert_eq!(demote(&mut raw, &["p"]), 1);
    assert_eq!(raw.cmd(&["GET", "p"]), Frame::Bulk("promote me".into()));
    let text = tiering(&mut raw);
    assert_eq!(
        number(&text, "cold_keys"),
        1,
        "one read does not promote: {text}"
    );
    assert_eq!(raw.cmd(&["GET", "p"]), Frame::Bulk("promote me".into()));
    let text = tiering(&mut raw);
    assert_eq!(number(&text, "promotions"), 1, "{text}");
    assert_eq!(number(&text, "cold_keys"), 0, "{text}");
    let reads = number(&text, "cold_reads");
    assert_eq!(raw.cmd(&["GET", "p"]), Frame::Bulk("promote me".into()));
    assert_eq!(
        number(&tiering(&mut raw), "cold_reads"),
        reads,
        "now read from RAM"
    );
}

/// The value of key `i`: `len` bytes that depend on `i` only.
fn value_of(i: u64, len: usize) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn key_of(i: u64) -> String {
    format!("key:{i:08}")
}

/// Writes `count` values of `len` bytes with pipelined SETs.
fn write_values(con: &mut redis::Connection, count: u64, len: usize) {
    const PIPELINE: u64 = 256;
    for start in (0..count).step_by(PIPELINE as usize) {
        let mut pipe = redis::pipe();
        for i in start..(start + PIPELINE).min(count) {
            pipe.set(key_of(i), value_of(i, len)).ignore();
        }
        pipe.query::<()>(con)
            .unwrap_or_else(|e| panic!("SET batch from {start} failed: {e}"));
    }
}

/// Reads back every key in `keys` with pipelined MGETs and compares.
fn check_values(con: &mut redis::Connection, keys: impl Iterator<Item = u64>, len: usize) {
    let keys: Vec<u64> = keys.collect();
    for chunk in keys.chunks(64) {
        let names: Vec<String> = chunk.iter().map(|&i| key_of(i)).collect();
        let got: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&names)
            .query(con)
            .unwrap_or_else(|e| panic!("MGET from {} failed: {e}", names[0]));
        for (&i, v) in chunk.iter().zip(got) {
            assert_eq!(v.as_deref(), Some(&value_of(i, len)[..]), "{}", key_of(i));
        }
    }
}

/// Waits up to `limit` for `done` to hold of the Tiering section.
fn wait_for(raw: &mut RawClient, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = tiering(raw);
        if done(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 256 MiB of 1 KiB values into a node with 32 MiB of RAM: every value reads back,
/// most of them from the tier, and the process stays within its budget plus the
/// stated slack. Then most keys are deleted and the reclaimer frees segments.
#[test]
fn dataset_eight_times_ram_reads_back_and_reclaims() {
    const MAXMEMORY: u64 = 32 << 20;
    const VALUE: usize = 1024;
    const COUNT: u64 = (256 << 20) / VALUE as u64;
    // Beyond maxmemory and what the empty process holds (the binary's pages, thread
    // stacks: 27 MiB for a debug build), RSS holds what the allocator keeps but does
    // not count: size class rounding, freed pages not yet returned.
    const RSS_SLACK: u64 = 32 << 20;
    let server = TestServer::start_with(&["--maxmemory", "32mb", "--tier-segment-size", "4mb"]);
    let mut con = server.client();
    let mut raw = server.raw();
    let empty_rss = rss_bytes(server.pid());
    write_values(&mut con, COUNT, VALUE);
    let text = tiering(&mut raw);
    let cold = number(&text, "cold_keys");
    assert!(cold > COUNT * 3 / 4, "most values are cold: {text}");
    assert_eq!(number(&text, "hot_keys") + cold, COUNT, "{text}");
    // Writes that got room at the same moment may overshoot by a command each, until
    // the demoter's next batch: the budget holds once it has run.
    let deadline = Instant::now() + Duration::from_secs(10);
    let used = loop {
        let used = number(&info(&mut raw, &["memory"]), "used_memory");
        if used <= MAXMEMORY || Instant::now() > deadline {
            break used;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rss = rss_bytes(server.pid());
    eprintln!(
        "{COUNT} keys of {VALUE} bytes: used_memory {used}, rss {rss} (empty {empty_rss}), \
         cold {cold}, index RAM per key {} bytes",
        used / COUNT
    );
    assert!(used <= MAXMEMORY, "used_memory {used} within maxmemory");
    assert!(
        rss <= empty_rss + MAXMEMORY + RSS_SLACK,
        "rss {rss} within the empty process's {empty_rss} + budget + slack"
    );

    check_values(&mut con, 0..COUNT, VALUE);
    let text = tiering(&mut raw);
    assert!(number(&text, "cold_reads") >= cold / 2, "{text}");
    assert_eq!(number(&text, "cold_read_errors"), 0, "{text}");

    // Delete three keys in four: segments fall below the reclaim threshold.
    for start in (0..COUNT).step_by(1024) {
        let doomed: Vec<String> = (start..(start + 1024).min(COUNT))
            .filter(|i| i % 4 != 0)
            .map(key_of)
            .collect();
        let _: u64 = redis::cmd("DEL").arg(&doomed).query(&mut con).expect("DEL");
    }
    let text = wait_for(&mut raw, Duration::from_secs(30), |t| {
        let ratio = field(t, "tier_live_ratio").and_then(|r| r.parse::<f64>().ok());
        number(t, "reclaimed_segments") > 0 && ratio.is_some_and(|r| r >= 0.5)
    });
    assert!(number(&text, "reclaimed_segments") > 0, "{text}");
    check_values(&mut con, (0..COUNT).filter(|i| i % 4 == 0), VALUE);
}

/// With RAM and the disk budget both full, `allkeys-lru` deletes keys (counted in
/// evicted_keys) so writes go on, and every key left holds its value; under
/// `noeviction` writes are refused with -OOM while reads go on.
#[test]
fn full_ram_and_disk_evict_by_policy_or_refuse_writes() {
    const VALUE: usize = 1024;
    const COUNT: u64 = 40_000;
    let flags = |policy| {
        [
            "--maxmemory",
            "16mb",
            "--tier-segment-size",
            "1mb",
            "--tier-max-size",
            "4mb",
            "--maxmemory-policy",
            policy,
        ]
    };
    let server = TestServer::start_with(&flags("allkeys-lru"));
    let mut con = server.client();
    let mut raw = server.raw();
    write_values(&mut con, COUNT, VALUE);
    let stats = info(&mut raw, &["stats"]);
    let evicted = number(&stats, "evicted_keys");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert!(evicted > 0, "{stats}");
    assert_eq!(
        keys + evicted,
        COUNT,
        "every key written is there or was evicted"
    );
    let disk = number(&tiering(&mut raw), "tier_disk_used");
    assert!(disk <= 4 << 20, "tier-max-size holds: {disk}");
    for start in (0..COUNT).step_by(500) {
        let names: Vec<String> = (start..start + 500).map(key_of).collect();
        let got: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&names)
            .query(&mut con)
            .expect("MGET");
        for (i, v) in (start..).zip(got) {
            if let Some(v) = v {
                assert_eq!(v, value_of(i, VALUE), "{}", key_of(i));
            }
        }
    }
    drop(server);

    let server = TestServer::start_with(&flags("noeviction"));
    let mut con = server.client();
    let refused = (0..COUNT).find_map(|i| {
        redis::cmd("SET")
            .arg(key_of(i))
            .arg(value_of(i, VALUE))
            .query::<()>(&mut con)
            .err()
            .map(|e| (i, e))
    });
    let (at, err) = refused.expect("writes are refused once RAM and disk are full");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    let stats = info(&mut server.raw(), &["stats"]);
    assert_eq!(number(&stats, "evicted_keys"), 0, "{stats}");
    let first: Vec<u8> = redis::cmd("GET")
        .arg(key_of(0))
        .query(&mut con)
        .expect("reads go on");
    assert_eq!(first, value_of(0, VALUE));
    assert!(at > 4_000, "RAM and disk took {at} values first");
}

/// With nothing demotable (every value under tier-min-value-size), a full RAM evicts
/// sampled keys: `volatile-ttl` only keys with a TTL, and with none left it refuses.
#[test]
fn sampled_eviction_takes_only_what_the_policy_allows() {
    let server = TestServer::start_with(&[
        "--maxmemory",
        "12mb",
        "--tier-min-value-size",
        "1mb",
        "--maxmemory-policy",
        "volatile-ttl",
    ]);
    let mut con = server.client();
    // Persistent keys first, then keys with a TTL, well past what RAM holds.
    let mut pipe = redis::pipe();
    for i in 0..2_000u64 {
        pipe.set(format!("keep:{i}"), value_of(i, 512)).ignore();
    }
    pipe.query::<()>(&mut con).expect("SET");
    let mut refused = None;
    for start in (0..30_000u64).step_by(250) {
        let mut pipe = redis::pipe();
        for i in start..start + 250 {
            pipe.cmd("SET")
                .arg(format!("ttl:{i}"))
                .arg(value_of(i, 512))
                .arg("EX")
                .arg(3600)
                .ignore();
        }
        if let Err(e) = pipe.query::<()>(&mut con) {
            refused = Some(e);
            break;
        }
    }
    let stats = info(&mut server.raw(), &["stats"]);
    assert!(number(&stats, "evicted_keys") > 0, "{stats}");
    for i in 0..2_000u64 {
        let v: Vec<u8> = con.get(format!("keep:{i}")).expect("persistent keys stay");
        assert_eq!(v, value_of(i, 512));
    }
    // Once only persistent keys are left to take, writes are refused.
    if let Some(e) = refused {
        assert_eq!(e.code(), Some("OOM"), "{e}");
    }
}

/// FLUSHALL gives the memory back (the old tables are freed in the background once
/// no reader can see them, even with no client sending anything after).
#[test]
fn flushall_frees_memory() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut raw = server.raw();
    let empty = number(&info(&mut raw, &["memory"]), "used_memory");
    write_values(&mut con, 20_000, 1024);
    assert_eq!(raw.cmd(&["FLUSHALL"]), ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    let used = loop {
        let used = number(&info(&mut raw, &["memory"]), "used_memory");
        if used < empty + (4 << 20) || Instant::now() > deadline {
            break used;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        used < empty + (4 << 20),
        "{used} bytes in use after FLUSHALL, {empty} when empty"
    );
}

/// CONFIG SET reaches the running tier: a smaller maxmemory makes the demoter move
/// values out, and tier-promote-window 0 keeps read values cold.
#[test]
fn config_set_turns_the_tiers_knobs() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut raw = server.raw();
    write_values(&mut con, 4_000, 1024);
    assert_eq!(
        number(&tiering(&mut raw), "cold_keys"),
        0,
        "no maxmemory, no demotion"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tier-promote-window", "0"]),
        ok()
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "1mb"]), ok());
    let text = wait_for(&mut raw, Duration::from_secs(30), |t| {
        number(t, "cold_keys") == 4_000
    });
    assert_eq!(number(&text, "cold_keys"), 4_000, "{text}");
    // Demotion off again: RAM has room, so only the window decides.
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    let read = |con: &mut redis::Connection| {
        let v: Vec<u8> = con.get(key_of(7)).expect("GET");
        assert_eq!(v, value_of(7, 1024));
    };
    for _ in 0..3 {
        read(&mut con);
    }
    assert_eq!(
        number(&tiering(&mut raw), "promotions"),
        0,
        "window 0 never promotes"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "tier-promote-window", "60"]),
        ok()
    );
    read(&mut con);
    let text = tiering(&mut raw);
    assert_eq!(number(&text, "promotions"), 1, "{text}");
    assert_eq!(number(&text, "cold_keys"), 3_999, "{text}");
}

/// The reply with its TIER TRACE mark taken off: the `cold` count, or None when the
/// reply came without an attribute.
fn cold_mark(reply: Frame) -> (Option<i64>, Frame) {
    match reply {
        Frame::Attribute { attributes, value } => match &attributes[..] {
            [(Frame::Simple(name), Frame::Integer(n))] if &name[..] == b"cold" => {
                (Some(*n), *value)
            }
            other => panic!("unexpected attributes {other:?}"),
        },
        plain => (None, plain),
    }
}

/// TIER TRACE ON marks the replies of commands that read the cold tier with a RESP3
/// attribute counting the values read, and no other reply; it needs RESP3, stops with
/// OFF, HELLO 2 or RESET.
#[test]
fn tier_trace_marks_replies_that_read_the_cold_tier() {
    let server =
        TestServer::start_with(&["--tier-min-value-size", "1", "--tier-promote-window", "0"]);
    let mut raw = server.raw();
    let mut stats = server.raw();
    assert_eq!(
        raw.cmd(&["TIER", "TRACE", "ON"]),
        err("ERR TIER TRACE needs RESP3 (HELLO 3): its marks are RESP3 attributes")
    );
    for key in ["cold1", "cold2", "hot"] {
        assert_eq!(raw.cmd(&["SET", key, &format!("value of {key}")]), ok());
    }
    assert_eq!(demote(&mut raw, &["cold1", "cold2"]), 2);
    assert!(matches!(raw.cmd(&["HELLO", "3"]), Frame::Map(_)));
    // Not traced yet: a cold read comes plain.
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold1"])),
        (None, bulk("value of cold1"))
    );
    assert_eq!(
        raw.cmd(&["TIER", "TRACE", "maybe"]),
        err("ERR syntax error")
    );
    assert_eq!(raw.cmd(&["TIER", "TRACE", "ON"]), ok());
    let reads = number(&tiering(&mut stats), "cold_reads");
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "hot"])),
        (None, bulk("value of hot"))
    );
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold1"])),
        (Some(1), bulk("value of cold1"))
    );
    assert_eq!(
        cold_mark(raw.cmd(&["MGET", "cold1", "hot", "cold2", "missing"])),
        (
            Some(2),
            Frame::Array(vec![
                bulk("value of cold1"),
                bulk("value of hot"),
                bulk("value of cold2"),
                Frame::Null,
            ])
        )
    );
    // Key-only commands read no value: no mark.
    assert_eq!(cold_mark(raw.cmd(&["EXISTS", "cold1"])), (None, int(1)));
    assert_eq!(cold_mark(raw.cmd(&["GET", "missing"])), (None, Frame::Null));
    assert_eq!(number(&tiering(&mut stats), "cold_reads"), reads + 3);
    // HELLO 2 leaves RESP3 and with it the marks; HELLO 3 brings them back.
    assert!(matches!(raw.cmd(&["HELLO", "2"]), Frame::Array(_)));
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold2"])),
        (None, bulk("value of cold2"))
    );
    assert!(matches!(raw.cmd(&["HELLO", "3"]), Frame::Map(_)));
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold2"])),
        (Some(1), bulk("value of cold2"))
    );
    assert_eq!(raw.cmd(&["TIER", "TRACE", "OFF"]), ok());
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold2"])),
        (None, bulk("value of cold2"))
    );
    assert_eq!(raw.cmd(&["TIER", "TRACE", "ON"]), ok());
    assert_eq!(raw.cmd(&["RESET"]), Frame::Simple("RESET".into()));
    assert!(matches!(raw.cmd(&["HELLO", "3"]), Frame::Map(_)));
    assert_eq!(
        cold_mark(raw.cmd(&["GET", "cold2"])),
        (None, bulk("value of cold2"))
    );
}

/// Writes that fill RAM go on while AOF rewrites run beside them: a capture keeps
/// only the old versions of keys changed since its start (no value the demoter
/// moves to disk), so the demoter keeps making room, and no write is refused with
/// -OOM. Four clients write at once; then every value reads back.
#[test]
fn writes_beyond_ram_go_on_during_rewrites() {
    const VALUE: usize = 1024;
    const CLIENTS: u64 = 4;
    const COUNT: u64 = (40 << 20) / VALUE as u64;
    let server = TestServer::start_with(&["--maxmemory", "16mb"]);
    let mut raw = server.raw();
    let rewrites = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let mut con = server.client();
                scope.spawn(move || {
                    let mine: Vec<u64> = (client..COUNT).step_by(CLIENTS as usize).collect();
                    for chunk in mine.chunks(1024) {
                        let mut pipe = redis::pipe();
                        for &i in chunk {
                            pipe.set(key_of(i), value_of(i, VALUE)).ignore();
                        }
                        pipe.query::<()>(&mut con).unwrap_or_else(|e| {
                            panic!("SET batch from {} failed: {e}", key_of(chunk[0]))
                        });
                    }
                })
            })
            .collect();
        // Rewrites back to back while the writers run.
        let mut started = 0;
        while writers.iter().any(|w| !w.is_finished()) {
            if let Frame::Simple(_) = raw.cmd(&["BGREWRITEAOF"]) {
                started += 1;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        started
    });
    assert!(rewrites >= 2, "{rewrites} rewrites");
    let text = tiering(&mut raw);
    assert!(number(&text, "cold_keys") > COUNT / 2, "{text}");
    check_values(&mut server.client(), 0..COUNT, VALUE);
}

/// Hashes and sets beyond `maxmemory` go to the tier by themselves (the demoter
/// picks collections as it picks strings), read back whole, and take writes while
/// cold; one over `tier-max-value-size` never leaves RAM.
#[test]
fn collections_beyond_ram_are_demoted_and_read_back() {
    const COUNT: usize = 1500;
    const FIELDS: usize = 40;
    let server = TestServer::start_with(&[
        "--maxmemory",
        "16mb",
        "--tier-segment-size",
        "4mb",
        "--tier-max-value-size",
        "64kb",
    ]);
    let mut con = server.client();
    let mut raw = server.raw();
    let value = |i: usize, f: usize| format!("{i}:{f}:{}", "v".repeat(200));
    // One hash too large to leave RAM (about 100 KiB of payload).
    let huge: Vec<(String, String)> = (0..400).map(|f| (format!("f{f}"), value(0, f))).collect();
    let _: () = con.hset_multiple("huge", &huge).unwrap();
    for i in 0..COUNT {
        let fields: Vec<(String, String)> = (0..FIELDS)
            .map(|f| (format!("f{f}"), value(i, f)))
            .collect();
        let _: () = con.hset_multiple(format!("h{i}"), &fields).unwrap();
        let members: Vec<String> = (0..FIELDS).map(|f| value(i, f)).collect();
        let _: () = con.sadd(format!("s{i}"), &members).unwrap();
    }
    let text = tiering(&mut raw);
    let cold = number(&text, "cold_keys");
    assert!(cold as usize > COUNT, "most collections are cold: {text}");
    // The huge hash is still in RAM: once allowed, DEBUG DEMOTE finds it there.
    assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "huge"]), int(0));
    raw.cmd(&["CONFIG", "SET", "tier-max-value-size", "128mb"]);
    assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "huge"]), int(1));
    // Writes to cold collections, then everything read back.
    for i in (0..COUNT).step_by(7) {
        let _: () = con.hset(format!("h{i}"), "extra", i).unwrap();
        let _: () = con.srem(format!("s{i}"), value(i, 0)).unwrap();
    }
    for i in 0..COUNT {
        let h: std::collections::HashMap<String, String> = con.hgetall(format!("h{i}")).unwrap();
        let extra = usize::from(i % 7 == 0);
        assert_eq!(h.len(), FIELDS + extra, "h{i}");
        assert_eq!(h["f3"], value(i, 3));
        let n: usize = con.scard(format!("s{i}")).unwrap();
        assert_eq!(n, FIELDS - extra, "s{i}");
        let has: bool = con.sismember(format!("s{i}"), value(i, 5)).unwrap();
        assert!(has, "s{i}");
    }
    let text = tiering(&mut raw);
    assert!(number(&text, "cold_reads") > 0, "{text}");
    assert_eq!(number(&text, "cold_read_errors"), 0, "{text}");
    let back: usize = con.hlen("huge").unwrap();
    assert_eq!(back, 400);
}

/// `allkeys-lfu` evicts by access frequency: keys read many times survive a flood of
/// keys written after them, which `allkeys-lru` (by recency) would keep instead.
/// Nothing can be demoted (every value is below `tier-min-value-size`), so RAM is
/// made by eviction alone.
#[test]
fn lfu_eviction_keeps_the_frequently_read_keys() {
    const HOT: u64 = 2_000;
    const FLOOD: u64 = 40_000;
    const VALUE: usize = 200;
    let server = TestServer::start_with(&[
        "--maxmemory",
        "8mb",
        "--tier-min-value-size",
        "100000",
        "--maxmemory-policy",
        "allkeys-lfu",
    ]);
    let mut con = server.client();
    let mut raw = server.raw();
    write_values(&mut con, HOT, VALUE);
    for _ in 0..20 {
        let names: Vec<String> = (0..HOT).map(key_of).collect();
        let _: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&names)
            .query(&mut con)
            .expect("MGET");
    }
    let hot_freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg(key_of(0))
        .query(&mut con)
        .expect("OBJECT FREQ");
    assert!(hot_freq > 5, "read keys count their reads: {hot_freq}");
    // The flood: keys HOT.. written once.
    let mut pipe = redis::pipe();
    for i in HOT..HOT + FLOOD {
        pipe.set(key_of(i), value_of(i, VALUE)).ignore();
        if i % 1000 == 0 {
            pipe.query::<()>(&mut con).expect("SET batch");
            pipe = redis::pipe();
        }
    }
    pipe.query::<()>(&mut con).expect("SET batch");
    let evicted = number(&info(&mut raw, &["stats"]), "evicted_keys");
    assert!(evicted > FLOOD / 4, "RAM was made by eviction: {evicted}");
    let names: Vec<String> = (0..HOT).map(key_of).collect();
    let hot_left = redis::cmd("MGET")
        .arg(&names)
        .query::<Vec<Option<Vec<u8>>>>(&mut con)
        .expect("MGET")
        .iter()
        .filter(|v| v.is_some())
        .count() as u64;
    let flood_left = FLOOD - evicted.min(FLOOD);
    assert!(
        hot_left * 100 / HOT >= 90 && hot_left * FLOOD > flood_left * HOT,
        "{hot_left} of {HOT} frequently read keys left, {flood_left} of {FLOOD} others"
    );
}
