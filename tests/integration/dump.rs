//! DUMP and RESTORE: values of every type (hot or cold) come back whole with their
//! TTLs and access data; RESTORE's errors are Redis's, compared with a real
//! redis-server (on payloads neither accepts, since tierd's format is its own); the
//! AOF keeps a relative TTL as an absolute deadline.

use crate::harness::*;
use tier_server::resp::Frame;

fn dump(raw: &mut RawClient, key: &str) -> Vec<u8> {
    match raw.cmd(&["DUMP", key]) {
        Frame::Bulk(payload) => payload.to_vec(),
        other => panic!("DUMP {key} replied {other:?}"),
    }
}

fn restore(raw: &mut RawClient, key: &str, ttl: &str, payload: &[u8], options: &[&str]) -> Frame {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(options.iter().map(|o| o.as_bytes()));
    raw.cmd_bytes(&args)
}

#[test]
fn dump_and_restore_every_type_hot_and_cold() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "s", "a string value"]);
    raw.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    raw.cmd(&["SADD", "set", "1", "2", "three"]);
    assert_eq!(raw.cmd(&["DUMP", "missing"]), Frame::Null);
    for cold in [false, true] {
        if cold {
            assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "s", "h", "set"]), int(3));
        }
        for (key, read) in [
            ("s", &["GET", "s2"][..]),
            ("h", &["HGETALL", "h2"]),
            ("set", &["SMEMBERS", "set2"]),
        ] {
            let payload = dump(&mut raw, key);
            let copy = format!("{key}2");
            raw.cmd(&["DEL", &copy]);
            assert_eq!(restore(&mut raw, &copy, "0", &payload, &[]), ok());
            let original: Vec<&str> = read
                .iter()
                .map(|w| if *w == copy { key } else { w })
                .collect();
            let (mut a, mut b) = (raw.cmd(read), raw.cmd(&original));
            for reply in [&mut a, &mut b] {
                if let Frame::Array(items) = reply {
                    items.sort_by_key(|f| format!("{f:?}"));
                }
            }
            assert_eq!(a, b, "cold {cold}: {key}");
            assert_eq!(raw.cmd(&["TYPE", &copy]), raw.cmd(&["TYPE", key]));
        }
    }
    // TTLs: relative, absolute, already past; REPLACE and BUSYKEY.
    let payload = dump(&mut raw, "s");
    assert_eq!(
        restore(&mut raw, "s", "0", &payload, &[]),
        err("BUSYKEY Target key name already exists.")
    );
    assert_eq!(restore(&mut raw, "t", "100000", &payload, &[]), ok());
    assert!(matches!(raw.cmd(&["PTTL", "t"]), Frame::Integer(ms) if ms > 99_000));
    let at = (tier_engine::now_ms() + 500_000).to_string();
    assert_eq!(
        restore(&mut raw, "t", &at, &payload, &["REPLACE", "ABSTTL"]),
        ok()
    );
    assert_eq!(raw.cmd(&["PEXPIRETIME", "t"]), int(at.parse().unwrap()));
    assert_eq!(
        restore(&mut raw, "t", "1", &payload, &["REPLACE", "ABSTTL"]),
        ok()
    );
    assert_eq!(
        raw.cmd(&["EXISTS", "t"]),
        int(0),
        "a deadline in the past deletes"
    );
    // IDLETIME under an LRU policy, FREQ under an LFU one.
    raw.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    assert_eq!(
        restore(&mut raw, "idle", "0", &payload, &["IDLETIME", "1000"]),
        ok()
    );
    assert!(matches!(raw.cmd(&["OBJECT", "IDLETIME", "idle"]), Frame::Integer(s) if s >= 1000));
    raw.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    assert_eq!(
        restore(&mut raw, "freq", "0", &payload, &["FREQ", "100"]),
        ok()
    );
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "freq"]), int(100));
}

/// Each malformed RESTORE gets Redis's error, in Redis's order of checks.
#[test]
fn restore_errors_match_redis() {
    let tierd = TestServer::start();
    let redis = ReferenceRedis::start();
    let cases: &[&[&str]] = &[
        &["RESTORE", "k", "0", "garbage"],
        &["RESTORE", "exists", "0", "garbage"],
        &["RESTORE", "exists", "0", "garbage", "REPLACE"],
        &["RESTORE", "k", "-1", "garbage"],
        &["RESTORE", "k", "abc", "garbage"],
        &["RESTORE", "k", "0", "garbage", "IDLETIME", "-1"],
        &["RESTORE", "k", "0", "garbage", "IDLETIME", "x"],
        &["RESTORE", "k", "0", "garbage", "FREQ", "256"],
        &["RESTORE", "k", "0", "garbage", "FREQ", "1", "IDLETIME", "1"],
        &["RESTORE", "k", "0", "garbage", "FREQ"],
        &["RESTORE", "k", "0", "garbage", "NOPE"],
        &["RESTORE", "k", "0", ""],
        &["RESTORE", "k", "0"],
        &["DUMP"],
        &["DUMP", "a", "b"],
    ];
    let (mut t, mut r) = (tierd.raw(), redis.raw());
    for raw in [&mut t, &mut r] {
        raw.cmd(&["SET", "exists", "1"]);
    }
    for case in cases {
        assert_eq!(t.cmd(case), r.cmd(case), "{case:?}");
    }
}

/// A RESTORE with a relative TTL is logged with its deadline absolute: after a
/// restart the key expires when it would have.
#[test]
fn restore_survives_a_restart_with_its_deadline() {
    let flags = ["--appendfsync", "always"];
    let server = TestServer::start_with(&flags);
    let mut raw = server.raw();
    raw.cmd(&["HSET", "h", "f", "v"]);
    let payload = dump(&mut raw, "h");
    assert_eq!(restore(&mut raw, "copy", "600000", &payload, &[]), ok());
    let deadline = match raw.cmd(&["PEXPIRETIME", "copy"]) {
        Frame::Integer(at) => at,
        other => panic!("{other:?}"),
    };
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &flags);
    let mut raw = again.raw();
    assert_eq!(raw.cmd(&["HGET", "copy", "f"]), bulk("v"));
    assert_eq!(raw.cmd(&["PEXPIRETIME", "copy"]), int(deadline));
}
