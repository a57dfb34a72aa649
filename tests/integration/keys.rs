//! The generic keyspace family against a real tierd: DEL/UNLINK/EXISTS/TOUCH, TYPE,
//! the EXPIRE and TTL families with every option and error, real-time expiry (lazy
//! and active), KEYS, SCAN (also while another client grows the table), RANDOMKEY,
//! RENAME, COPY, MOVE, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB and OBJECT. Expected replies
//! were checked against redis-server 7.0.

use crate::harness::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// The strings of an array of bulk strings, sorted.
fn sorted_strings(frame: Frame) -> Vec<String> {
    let Frame::Array(items) = frame else {
        panic!("expected an array, got {frame:?}");
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8(b.to_vec()).expect("utf-8 key"),
            other => panic!("expected a bulk string, got {other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// One SCAN call: the next cursor (as text) and the keys.
fn scan_step(raw: &mut RawClient, args: &[&str]) -> (String, Vec<String>) {
    let Frame::Array(mut parts) = raw.cmd(args) else {
        panic!("SCAN replies with an array");
    };
    assert_eq!(parts.len(), 2, "SCAN replies with [cursor, keys]");
    let keys = sorted_strings(parts.pop().expect("keys"));
    let Some(Frame::Bulk(cursor)) = parts.pop() else {
        panic!("SCAN's cursor is a bulk string");
    };
    (
        String::from_utf8(cursor.to_vec()).expect("cursor text"),
        keys,
    )
}

/// A whole SCAN iteration with the given options: every key returned, with repeats.
fn scan_all(raw: &mut RawClient, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let (next, keys) = scan_step(raw, &args);
        all.extend(keys);
        if next == "0" {
            return all;
        }
        cursor = next;
    }
}

fn set(raw: &mut RawClient, key: &str, value: &str) {
    assert_eq!(raw.cmd(&["SET", key, value]), ok());
}

fn integer(frame: Frame) -> i64 {
    match frame {
        Frame::Integer(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

#[test]
fn del_unlink_exists_touch_count_each_name() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "a", "1");
    set(&mut raw, "b", "2");
    assert_eq!(raw.cmd(&["EXISTS", "a", "a", "b", "nope"]), int(3));
    assert_eq!(raw.cmd(&["TOUCH", "a", "a", "nope"]), int(2));
    assert_eq!(raw.cmd(&["DEL", "a", "b", "c", "a"]), int(2));
    assert_eq!(raw.cmd(&["EXISTS", "a", "b"]), int(0));
    set(&mut raw, "a", "1");
    assert_eq!(raw.cmd(&["UNLINK", "a", "a"]), int(1));
    assert_eq!(raw.cmd(&["UNLINK", "a"]), int(0));
    for cmd in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
        let lower = cmd.to_lowercase();
        assert_eq!(
            raw.cmd(&[cmd]),
            err(&format!(
                "ERR wrong number of arguments for '{lower}' command"
            ))
        );
    }
    // Many keys spread over many stripes, all locked by one command.
    let names: Vec<String> = (0..500).map(|i| format!("many:{i}")).collect();
    for name in &names {
        set(&mut raw, name, "x");
    }
    let mut del = vec!["DEL"];
    del.extend(names.iter().map(String::as_str));
    assert_eq!(raw.cmd(&del), int(500));
    assert_eq!(raw.cmd(&["DBSIZE"]), int(0));
}

#[test]
fn type_reports_the_value_type() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "s", "hello");
    assert_eq!(raw.cmd(&["TYPE", "s"]), Frame::Simple("string".into()));
    assert_eq!(raw.cmd(&["TYPE", "nokey"]), Frame::Simple("none".into()));
    assert_eq!(
        raw.cmd(&["TYPE", "a", "b"]),
        err("ERR wrong number of arguments for 'type' command")
    );
}

#[test]
fn expire_options_and_errors() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "k", "v");
    // No TTL yet: XX and GT refuse, NX and LT accept.
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "XX"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "GT"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "NX"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "k"]), int(100));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "200", "NX"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "200", "xx"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "GT"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "300", "gt"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "400", "LT"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "50", "Lt"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "k"]), int(50));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "60", "XX", "GT"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "70", "NX", "NX"]), int(0));
    assert_eq!(raw.cmd(&["PERSIST", "k"]), int(1));
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "100", "LT"]),
        int(1),
        "no TTL counts as infinite for LT"
    );
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "300000", "LT"]), int(0));
    let pttl = integer(raw.cmd(&["PTTL", "k"]));
    assert!((99_000..=100_000).contains(&pttl), "PTTL {pttl}");

    let nx_conflict = err("ERR NX and XX, GT or LT options at the same time are not compatible");
    let gt_lt = err("ERR GT and LT options at the same time are not compatible");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "10", "NX", "XX"]), nx_conflict);
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "10", "NX", "GT", "LT"]),
        nx_conflict
    );
    assert_eq!(raw.cmd(&["EXPIRE", "k", "10", "GT", "LT"]), gt_lt);
    assert_eq!(raw.cmd(&["EXPIRE", "k", "10", "XX", "GT", "LT"]), gt_lt);
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "10", "bogus"]),
        err("ERR Unsupported option bogus")
    );
    // Options are checked before the number.
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "soon", "bogus"]),
        err("ERR Unsupported option bogus")
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "soon"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "1.5"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );
    // A refused condition leaves the TTL alone.
    assert!(integer(raw.cmd(&["TTL", "k"])) > 90);
}

#[test]
fn expire_overflow_rules() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "k", "v");
    let invalid = |cmd: &str| err(&format!("ERR invalid expire time in '{cmd}' command"));
    // Seconds times 1000 must fit, and so must the sum with now.
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "9223372036854776"]),
        invalid("expire")
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "9223372036854775"]),
        invalid("expire")
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "-9223372036854776"]),
        invalid("expire")
    );
    assert_eq!(
        raw.cmd(&["Expire", "k", "-9223372036854776"]),
        invalid("expire")
    );
    assert_eq!(
        raw.cmd(&["PEXPIRE", "k", "9223372036854775807"]),
        invalid("pexpire")
    );
    assert_eq!(
        raw.cmd(&["EXPIREAT", "k", "9223372036854776"]),
        invalid("expireat")
    );
    assert_eq!(
        raw.cmd(&["PEXPIREAT", "k", "9223372036854775808"]),
        err("ERR value is not an integer or out of range")
    );
    // The largest deadlines are accepted and read back exactly.
    assert_eq!(raw.cmd(&["EXPIREAT", "k", "9223372036854775"]), int(1));
    assert_eq!(
        raw.cmd(&["PEXPIRETIME", "k"]),
        int(9_223_372_036_854_775_000)
    );
    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "9223372036854775807"]), int(1));
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), int(i64::MAX));
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), int(9_223_372_036_854_776));
    // A hugely negative relative time is a time in the past: the key goes.
    assert_eq!(raw.cmd(&["EXPIRE", "k", "-9223372036854775"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "k"]), int(0));
    set(&mut raw, "k", "v");
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "-9223372036854775808"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "k"]), int(0));
}

#[test]
fn a_deadline_in_the_past_deletes_the_key() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for (cmd, arg) in [
        ("EXPIRE", "0"),
        ("EXPIRE", "-1"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "0"),
    ] {
        set(&mut raw, "k", "v");
        assert_eq!(raw.cmd(&[cmd, "k", arg]), int(1), "{cmd} {arg}");
        assert_eq!(raw.cmd(&["GET", "k"]), nil(), "{cmd} {arg}");
        assert_eq!(raw.cmd(&["DBSIZE"]), int(0), "{cmd} {arg} deletes at once");
    }
    // Conditions still apply first.
    set(&mut raw, "k", "v");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "-1", "XX"]), int(0));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRE", "k", "-1", "LT"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "k"]), int(0));
}

#[test]
fn ttl_family_and_persist() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(raw.cmd(&[cmd, "nokey"]), int(-2), "{cmd}");
    }
    set(&mut raw, "k", "v");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(raw.cmd(&[cmd, "k"]), int(-1), "{cmd}");
    }
    assert_eq!(raw.cmd(&["PERSIST", "k"]), int(0));
    assert_eq!(raw.cmd(&["PERSIST", "nokey"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "nokey", "100"]), int(0));
    assert_eq!(raw.cmd(&["PEXPIREAT", "nokey", "99999999999999"]), int(0));

    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "99999999999999"]), int(1));
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), int(99_999_999_999_999));
    assert_eq!(
        raw.cmd(&["EXPIRETIME", "k"]),
        int(100_000_000_000),
        "rounded to the nearest second"
    );
    assert_eq!(raw.cmd(&["EXPIREAT", "k", "4102444800"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), int(4_102_444_800));
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), int(4_102_444_800_000));

    // TTL rounds to the nearest second: 1.8 s (less the time the reply takes) is 2.
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "1800"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "k"]), int(2));
    let pttl = integer(raw.cmd(&["PTTL", "k"]));
    assert!((1_500..=1_800).contains(&pttl), "PTTL {pttl}");
    assert_eq!(raw.cmd(&["PERSIST", "k"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "k"]), int(-1));
    assert_eq!(raw.cmd(&["PERSIST", "k"]), int(0));

    // SET clears a TTL; SET KEEPTTL keeps it.
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100"]), int(1));
    set(&mut raw, "k", "w");
    assert_eq!(raw.cmd(&["TTL", "k"]), int(-1));
    assert_eq!(
        raw.cmd(&["TTL", "a", "b"]),
        err("ERR wrong number of arguments for 'ttl' command")
    );
}

#[test]
fn expired_keys_vanish_for_every_command() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "gone", "v", "PX", "100"]), ok());
    assert_eq!(raw.cmd(&["SET", "stays", "v", "PX", "60000"]), ok());
    assert_eq!(raw.cmd(&["EXISTS", "gone"]), int(1));
    thread::sleep(Duration::from_millis(200));
    assert_eq!(raw.cmd(&["GET", "gone"]), nil());
    assert_eq!(raw.cmd(&["EXISTS", "gone", "stays"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "gone"]), int(-2));
    assert_eq!(raw.cmd(&["TYPE", "gone"]), Frame::Simple("none".into()));
    assert_eq!(raw.cmd(&["KEYS", "*"]), array(vec![bulk("stays")]));
    assert_eq!(scan_all(&mut raw, &[]), vec!["stays".to_string()]);
    assert_eq!(raw.cmd(&["RENAME", "gone", "x"]), err("ERR no such key"));
    assert_eq!(raw.cmd(&["PERSIST", "gone"]), int(0));
    assert_eq!(raw.cmd(&["EXPIRE", "gone", "100"]), int(0));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "gone"]), nil());
    assert_eq!(raw.cmd(&["RANDOMKEY"]), bulk("stays"));
    assert_eq!(raw.cmd(&["DBSIZE"]), int(1));
}

#[test]
fn active_expiry_frees_keys_nobody_reads() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET")
            .arg(format!("temp:{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .ignore();
    }
    let _: () = pipe.query(&mut con).expect("pipeline of SETs");
    let mut raw = server.raw();
    let start = Instant::now();
    loop {
        let n = integer(raw.cmd(&["DBSIZE"]));
        if n == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{n} keys still there after 2 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_matches_patterns() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for key in ["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", ""] {
        set(&mut raw, key, "v");
    }
    let all = sorted_strings(raw.cmd(&["KEYS", "*"]));
    assert_eq!(
        all,
        ["", "a*b", "hallo", "heeeello", "hello", "hllo", "hxllo"],
        "`*` includes the empty key"
    );
    assert_eq!(
        sorted_strings(raw.cmd(&["KEYS", "h?llo"])),
        ["hallo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted_strings(raw.cmd(&["KEYS", "h*llo"])),
        ["hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(
        sorted_strings(raw.cmd(&["KEYS", "h[ae]llo"])),
        ["hallo", "hello"]
    );
    assert_eq!(
        sorted_strings(raw.cmd(&["KEYS", "h[^e]llo"])),
        ["hallo", "hxllo"]
    );
    assert_eq!(sorted_strings(raw.cmd(&["KEYS", "h[a-b]llo"])), ["hallo"]);
    assert_eq!(sorted_strings(raw.cmd(&["KEYS", "a\\*b"])), ["a*b"]);
    assert_eq!(
        sorted_strings(raw.cmd(&["KEYS", "**"])),
        ["a*b", "hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(sorted_strings(raw.cmd(&["KEYS", ""])), [""]);
    assert_eq!(raw.cmd(&["KEYS", "nomatch*"]), array(vec![]));
    assert_eq!(
        raw.cmd(&["KEYS"]),
        err("ERR wrong number of arguments for 'keys' command")
    );
}

#[test]
fn keys_lists_a_big_keyspace_once() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET").arg(format!("k:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("pipeline of SETs");
    let mut raw = server.raw();
    let keys = sorted_strings(raw.cmd(&["KEYS", "k:*"]));
    assert_eq!(keys.len(), 20_000);
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        20_000,
        "no key twice"
    );
    assert_eq!(sorted_strings(raw.cmd(&["KEYS", "k:1999?"])).len(), 10);
}

#[test]
fn scan_arguments_and_errors() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "a", "1");
    let invalid = err("ERR invalid cursor");
    for cursor in [
        " 1",
        "1 ",
        "abc",
        "1.5",
        "0x10",
        "--1",
        "+-1",
        "-",
        "18446744073709551616",
    ] {
        assert_eq!(raw.cmd(&["SCAN", cursor]), invalid, "cursor {cursor:?}");
    }
    // strtoul's forms: a sign, wrap-around for minus, leading zeros, the empty string.
    for cursor in ["0", "", "-0", "+0", "00"] {
        let (next, keys) = scan_step(&mut raw, &["SCAN", cursor, "COUNT", "100000"]);
        assert_eq!(
            (next.as_str(), keys),
            ("0", vec!["a".to_string()]),
            "cursor {cursor:?}"
        );
    }
    for cursor in ["-1", "+1", "01", "18446744073709551615"] {
        assert!(
            matches!(raw.cmd(&["SCAN", cursor]), Frame::Array(_)),
            "cursor {cursor:?}"
        );
    }
    let syntax = err("ERR syntax error");
    assert_eq!(raw.cmd(&["SCAN", "0", "COUNT", "0"]), syntax);
    assert_eq!(raw.cmd(&["SCAN", "0", "COUNT", "-1"]), syntax);
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(raw.cmd(&["SCAN", "0", "COUNT"]), syntax);
    assert_eq!(raw.cmd(&["SCAN", "0", "MATCH"]), syntax);
    assert_eq!(raw.cmd(&["SCAN", "0", "TYPE"]), syntax);
    assert_eq!(raw.cmd(&["SCAN", "0", "FOO", "bar"]), syntax);
    assert_eq!(
        raw.cmd(&["SCAN", "0", "MATCH", "*", "COUNT", "1", "TYPE"]),
        syntax
    );
    assert_eq!(
        raw.cmd(&["SCAN", "x", "COUNT", "0"]),
        invalid,
        "the cursor is read first"
    );
    assert_eq!(
        raw.cmd(&["SCAN"]),
        err("ERR wrong number of arguments for 'scan' command")
    );
}

#[test]
fn scan_match_count_and_type() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut expected = Vec::new();
    for i in 0..300 {
        let key = format!("key:{i}");
        set(&mut raw, &key, "v");
        expected.push(key);
    }
    set(&mut raw, "", "empty");
    set(&mut raw, "other", "v");
    let mut all = scan_all(&mut raw, &[]);
    all.sort();
    all.dedup();
    let mut everything = expected.clone();
    everything.extend(["".to_string(), "other".to_string()]);
    everything.sort();
    assert_eq!(all, everything, "MATCH-less SCAN returns the empty key too");

    let mut with_star = scan_all(&mut raw, &["MATCH", "*", "COUNT", "7"]);
    with_star.sort();
    with_star.dedup();
    assert_eq!(with_star, everything, "MATCH * is no filter");

    let mut matched = scan_all(&mut raw, &["MATCH", "key:1*", "COUNT", "50"]);
    matched.sort();
    matched.dedup();
    let mut want: Vec<String> = expected
        .iter()
        .filter(|k| k.starts_with("key:1"))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(matched, want);

    let mut strings = scan_all(&mut raw, &["TYPE", "STRING", "COUNT", "1000"]);
    strings.sort();
    strings.dedup();
    assert_eq!(strings, everything, "TYPE compares without case");
    assert!(scan_all(&mut raw, &["TYPE", "list"]).is_empty());
    assert!(scan_all(&mut raw, &["TYPE", "nonsense"]).is_empty());

    // COUNT bounds the keys visited per call (a bucket is never split, so a little more).
    let (_, keys) = scan_step(&mut raw, &["SCAN", "0", "COUNT", "5"]);
    assert!(keys.len() < 20, "COUNT 5 returned {} keys", keys.len());
}

/// SCAN's guarantee while the table resizes under it: a key present for the whole scan
/// is returned at least once, and nothing is returned that never existed.
#[test]
fn scan_sees_every_key_while_another_client_grows_the_table() {
    const BASE: usize = 5_000;
    const ADDED: usize = 50_000;
    let server = TestServer::start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..BASE {
        pipe.cmd("SET").arg(format!("base:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("pipeline of SETs");

    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (written, done) = (written.clone(), done.clone());
        let mut con = server.client();
        thread::spawn(move || {
            for chunk in 0..ADDED / 250 {
                let mut pipe = redis::pipe();
                for i in chunk * 250..(chunk + 1) * 250 {
                    pipe.cmd("SET").arg(format!("new:{i}")).arg(i).ignore();
                }
                let _: () = pipe.query(&mut con).expect("pipeline of SETs");
                written.store((chunk + 1) * 250, Ordering::Relaxed);
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut raw = server.raw();
    let mut full_scans = 0;
    let mut overlapping = 0;
    loop {
        let before = written.load(Ordering::Relaxed);
        let seen: HashSet<String> = scan_all(&mut raw, &["COUNT", "20"]).into_iter().collect();
        let after = written.load(Ordering::Relaxed);
        full_scans += 1;
        if before < ADDED && after > before {
            overlapping += 1;
        }
        for i in 0..BASE {
            assert!(
                seen.contains(&format!("base:{i}")),
                "scan {full_scans} missed base:{i}"
            );
        }
        for i in 0..before {
            assert!(
                seen.contains(&format!("new:{i}")),
                "scan {full_scans} missed new:{i}"
            );
        }
        for key in &seen {
            let known = key
                .strip_prefix("base:")
                .map(|n| n.parse::<usize>().is_ok_and(|n| n < BASE))
                .or_else(|| {
                    key.strip_prefix("new:")
                        .map(|n| n.parse::<usize>().is_ok_and(|n| n < ADDED))
                });
            assert_eq!(
                known,
                Some(true),
                "scan returned a key never written: {key}"
            );
        }
        if done.load(Ordering::Acquire) && full_scans > 1 {
            break;
        }
    }
    writer.join().expect("writer");
    assert!(overlapping > 0, "no scan ran while keys were being added");
    let seen: HashSet<String> = scan_all(&mut raw, &["COUNT", "1000"]).into_iter().collect();
    assert_eq!(seen.len(), BASE + ADDED);
}

#[test]
fn randomkey_picks_a_live_key() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RANDOMKEY"]), nil());
    set(&mut raw, "only", "1");
    assert_eq!(raw.cmd(&["RANDOMKEY"]), bulk("only"));
    set(&mut raw, "two", "2");
    let mut seen = HashSet::new();
    for _ in 0..200 {
        match raw.cmd(&["RANDOMKEY"]) {
            Frame::Bulk(k) => seen.insert(k),
            other => panic!("RANDOMKEY replied {other:?}"),
        };
    }
    assert_eq!(seen.len(), 2, "both keys come up");
    assert_eq!(
        raw.cmd(&["RANDOMKEY", "x"]),
        err("ERR wrong number of arguments for 'randomkey' command")
    );
}

#[test]
fn rename_and_renamenx() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RENAME", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(
        raw.cmd(&["RENAME", "nokey", "nokey"]),
        err("ERR no such key")
    );
    assert_eq!(raw.cmd(&["RENAMENX", "nokey", "x"]), err("ERR no such key"));
    assert_eq!(
        raw.cmd(&["RENAMENX", "nokey", "nokey"]),
        err("ERR no such key")
    );

    set(&mut raw, "a", "1");
    assert_eq!(raw.cmd(&["RENAME", "a", "a"]), ok());
    assert_eq!(raw.cmd(&["RENAMENX", "a", "a"]), int(0));
    assert_eq!(raw.cmd(&["GET", "a"]), bulk("1"));

    assert_eq!(raw.cmd(&["SET", "t", "v", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["RENAME", "t", "u"]), ok());
    assert_eq!(raw.cmd(&["EXISTS", "t"]), int(0));
    assert_eq!(raw.cmd(&["GET", "u"]), bulk("v"));
    assert_eq!(raw.cmd(&["TTL", "u"]), int(100), "RENAME keeps the TTL");

    // Over an existing key: RENAME replaces it (and its TTL), RENAMENX refuses.
    assert_eq!(raw.cmd(&["SET", "b", "2", "EX", "500"]), ok());
    assert_eq!(raw.cmd(&["RENAMENX", "u", "b"]), int(0));
    assert_eq!(raw.cmd(&["GET", "b"]), bulk("2"));
    assert_eq!(raw.cmd(&["RENAME", "a", "b"]), ok());
    assert_eq!(raw.cmd(&["GET", "b"]), bulk("1"));
    assert_eq!(
        raw.cmd(&["TTL", "b"]),
        int(-1),
        "the persistent source replaces a volatile key"
    );
    assert_eq!(raw.cmd(&["RENAMENX", "u", "fresh"]), int(1));
    assert_eq!(raw.cmd(&["TTL", "fresh"]), int(100));
    assert_eq!(raw.cmd(&["DBSIZE"]), int(2));
    assert_eq!(
        raw.cmd(&["RENAME", "a"]),
        err("ERR wrong number of arguments for 'rename' command")
    );
    assert_eq!(
        raw.cmd(&["RENAMENX", "a", "b", "c"]),
        err("ERR wrong number of arguments for 'renamenx' command")
    );
}

#[test]
fn copy_within_and_across_databases() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "src", "v", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["COPY", "nokey", "dst"]), int(0));
    assert_eq!(raw.cmd(&["COPY", "src", "dst"]), int(1));
    assert_eq!(raw.cmd(&["GET", "dst"]), bulk("v"));
    assert_eq!(
        raw.cmd(&["TTL", "dst"]),
        int(100),
        "the copy has the source's TTL"
    );
    assert_eq!(raw.cmd(&["GET", "src"]), bulk("v"));
    set(&mut raw, "other", "w");
    assert_eq!(raw.cmd(&["COPY", "other", "dst"]), int(0));
    assert_eq!(raw.cmd(&["GET", "dst"]), bulk("v"));
    assert_eq!(raw.cmd(&["COPY", "other", "dst", "REPLACE"]), int(1));
    assert_eq!(raw.cmd(&["GET", "dst"]), bulk("w"));
    assert_eq!(
        raw.cmd(&["TTL", "dst"]),
        int(-1),
        "REPLACE replaces the TTL too"
    );

    let same = err("ERR source and destination objects are the same");
    assert_eq!(raw.cmd(&["COPY", "src", "src"]), same);
    assert_eq!(raw.cmd(&["COPY", "src", "src", "DB", "0"]), same);
    assert_eq!(raw.cmd(&["COPY", "nokey", "nokey"]), same);

    // To another database, under the same name or not.
    assert_eq!(raw.cmd(&["COPY", "src", "src", "DB", "1"]), int(1));
    assert_eq!(raw.cmd(&["COPY", "src", "src", "DB", "1"]), int(0));
    assert_eq!(
        raw.cmd(&["COPY", "other", "src", "REPLACE", "DB", "1"]),
        int(1)
    );
    assert_eq!(raw.cmd(&["COPY", "src", "elsewhere", "db", "15"]), int(1));
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    assert_eq!(raw.cmd(&["GET", "src"]), bulk("w"));
    assert_eq!(raw.cmd(&["COPY", "src", "back", "DB", "0"]), int(1));
    assert_eq!(raw.cmd(&["SELECT", "15"]), ok());
    assert_eq!(raw.cmd(&["GET", "elsewhere"]), bulk("v"));
    assert_eq!(raw.cmd(&["TTL", "elsewhere"]), int(100));
    assert_eq!(raw.cmd(&["SELECT", "0"]), ok());
    assert_eq!(raw.cmd(&["GET", "back"]), bulk("w"));

    let syntax = err("ERR syntax error");
    assert_eq!(raw.cmd(&["COPY", "src", "x", "DB"]), syntax);
    assert_eq!(raw.cmd(&["COPY", "src", "x", "FOO"]), syntax);
    assert_eq!(
        raw.cmd(&["COPY", "src", "x", "REPLACE", "REPLACE", "FOO"]),
        syntax
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "x", "DB", "x"]),
        err("ERR value is not an integer or out of range")
    );
    let out_of_range = err("ERR DB index is out of range");
    assert_eq!(raw.cmd(&["COPY", "src", "x", "DB", "16"]), out_of_range);
    assert_eq!(raw.cmd(&["COPY", "src", "x", "DB", "-1"]), out_of_range);
    assert_eq!(
        raw.cmd(&["COPY", "src", "x", "DB", "99999999999"]),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    assert_eq!(
        raw.cmd(&["COPY", "src"]),
        err("ERR wrong number of arguments for 'copy' command")
    );
}

#[test]
fn move_between_databases() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v", "PX", "100000"]), ok());
    assert_eq!(
        raw.cmd(&["MOVE", "k", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        raw.cmd(&["MOVE", "nokey", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(raw.cmd(&["MOVE", "nokey", "1"]), int(0));
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "k"]), int(0));
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), int(0));
    // The destination already has the key: nothing moves.
    set(&mut raw, "k", "here");
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), int(0));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("here"));
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));
    let pttl = integer(raw.cmd(&["PTTL", "k"]));
    assert!(
        (90_000..=100_000).contains(&pttl),
        "MOVE keeps the TTL, PTTL {pttl}"
    );
    assert_eq!(raw.cmd(&["MOVE", "k", "0"]), int(0));
    assert_eq!(raw.cmd(&["MOVE", "k", "15"]), int(1));
    assert_eq!(raw.cmd(&["DBSIZE"]), int(0));

    let out_of_range = err("ERR DB index is out of range");
    assert_eq!(raw.cmd(&["MOVE", "k", "16"]), out_of_range);
    assert_eq!(raw.cmd(&["MOVE", "k", "-1"]), out_of_range);
    assert_eq!(
        raw.cmd(&["MOVE", "k", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.cmd(&["MOVE", "k", "99999999999"]),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    assert_eq!(
        raw.cmd(&["MOVE", "k"]),
        err("ERR wrong number of arguments for 'move' command")
    );
}

#[test]
fn dbsize_flushdb_flushall() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "a", "1");
    set(&mut raw, "b", "2");
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    set(&mut raw, "c", "3");
    assert_eq!(raw.cmd(&["DBSIZE"]), int(1));
    assert_eq!(raw.cmd(&["SELECT", "0"]), ok());
    assert_eq!(raw.cmd(&["DBSIZE"]), int(2));
    assert_eq!(
        raw.cmd(&["DBSIZE", "x"]),
        err("ERR wrong number of arguments for 'dbsize' command")
    );

    let syntax = err("ERR syntax error");
    assert_eq!(raw.cmd(&["FLUSHDB", "now"]), syntax);
    assert_eq!(raw.cmd(&["FLUSHDB", "ASYNC", "SYNC"]), syntax);
    assert_eq!(raw.cmd(&["FLUSHALL", "now"]), syntax);
    assert_eq!(
        raw.cmd(&["DBSIZE"]),
        int(2),
        "a refused flush flushes nothing"
    );

    assert_eq!(raw.cmd(&["FLUSHDB"]), ok());
    assert_eq!(raw.cmd(&["DBSIZE"]), int(0));
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    assert_eq!(
        raw.cmd(&["DBSIZE"]),
        int(1),
        "FLUSHDB leaves other databases alone"
    );
    assert_eq!(raw.cmd(&["FLUSHDB", "async"]), ok());
    assert_eq!(raw.cmd(&["DBSIZE"]), int(0));

    for mode in [None, Some("SYNC"), Some("ASYNC")] {
        set(&mut raw, "x", "1");
        assert_eq!(raw.cmd(&["SELECT", "0"]), ok());
        assert_eq!(raw.cmd(&["SET", "y", "1", "EX", "100"]), ok());
        let mut cmd = vec!["FLUSHALL"];
        cmd.extend(mode);
        assert_eq!(raw.cmd(&cmd), ok());
        assert_eq!(raw.cmd(&["DBSIZE"]), int(0));
        assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
        assert_eq!(raw.cmd(&["DBSIZE"]), int(0));
    }
    // A flushed database takes keys (and TTLs) again.
    assert_eq!(raw.cmd(&["SET", "z", "1", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["TTL", "z"]), int(100));
}

#[test]
fn swapdb_is_seen_by_clients_of_both_databases() {
    let server = TestServer::start();
    let mut zero = server.raw();
    let mut one = server.raw();
    assert_eq!(one.cmd(&["SELECT", "1"]), ok());
    set(&mut zero, "k", "from-0");
    set(&mut zero, "only0", "x");
    assert_eq!(one.cmd(&["SET", "k", "from-1", "EX", "100"]), ok());

    assert_eq!(zero.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(zero.cmd(&["GET", "k"]), bulk("from-1"));
    assert_eq!(zero.cmd(&["TTL", "k"]), int(100));
    assert_eq!(zero.cmd(&["DBSIZE"]), int(1));
    assert_eq!(one.cmd(&["GET", "k"]), bulk("from-0"));
    assert_eq!(one.cmd(&["GET", "only0"]), bulk("x"));
    assert_eq!(one.cmd(&["DBSIZE"]), int(2));

    assert_eq!(one.cmd(&["SWAPDB", "1", "0"]), ok());
    assert_eq!(zero.cmd(&["GET", "k"]), bulk("from-0"));
    assert_eq!(one.cmd(&["GET", "k"]), bulk("from-1"));
    assert_eq!(zero.cmd(&["SWAPDB", "0", "0"]), ok());
    assert_eq!(zero.cmd(&["GET", "k"]), bulk("from-0"));

    // Keys written after a swap expire in their new home.
    assert_eq!(zero.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(one.cmd(&["SET", "short", "v", "PX", "50"]), ok());
    thread::sleep(Duration::from_millis(100));
    assert_eq!(one.cmd(&["GET", "short"]), nil());

    let out_of_range = err("ERR DB index is out of range");
    assert_eq!(zero.cmd(&["SWAPDB", "0", "16"]), out_of_range);
    assert_eq!(zero.cmd(&["SWAPDB", "-1", "0"]), out_of_range);
    assert_eq!(
        zero.cmd(&["SWAPDB", "x", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        zero.cmd(&["SWAPDB", "x", "y"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        zero.cmd(&["SWAPDB", "0", "x"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(
        zero.cmd(&["SWAPDB", "16", "x"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(
        zero.cmd(&["SWAPDB", "99999999999", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        zero.cmd(&["SWAPDB", "0"]),
        err("ERR wrong number of arguments for 'swapdb' command")
    );
}

/// Clients MOVE keys between databases 0 and 1 in both directions while another keeps
/// swapping the two: no command stalls, and no key is lost or doubled.
#[test]
fn moves_and_swaps_race_without_deadlock_or_loss() {
    const KEYS: usize = 200;
    let server = TestServer::start();
    let mut setup = server.raw();
    for i in 0..KEYS {
        set(&mut setup, &format!("m:{i}"), "v");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = (0..4)
        .map(|t| {
            let mut raw = server.raw();
            thread::spawn(move || {
                let from = t % 2;
                assert_eq!(raw.cmd(&["SELECT", &from.to_string()]), ok());
                let to = (1 - from).to_string();
                for round in 0..500 {
                    let key = format!("m:{}", (round * 13 + t) % KEYS);
                    let moved = integer(raw.cmd(&["MOVE", &key, &to]));
                    assert!(moved == 0 || moved == 1);
                    let copied = integer(raw.cmd(&["COPY", &key, "c", "DB", &to, "REPLACE"]));
                    assert!(copied == 0 || copied == 1);
                }
            })
        })
        .collect();
    let swapper = {
        let mut raw = server.raw();
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(raw.cmd(&["SWAPDB", "0", "1"]), ok());
            }
        })
    };
    for mover in movers {
        mover.join().expect("mover");
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("swapper");
    let mut keys = HashSet::new();
    for db in ["0", "1"] {
        assert_eq!(setup.cmd(&["SELECT", db]), ok());
        for key in sorted_strings(setup.cmd(&["KEYS", "m:*"])) {
            assert!(keys.insert(key.clone()), "{key} is in both databases");
        }
    }
    assert_eq!(keys.len(), KEYS);
}

#[test]
fn object_encoding_refcount_and_errors() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let cases = [
        ("123", "int"),
        ("-9223372036854775808", "int"),
        ("9223372036854775807", "int"),
        ("9223372036854775808", "embstr"),
        ("01", "embstr"),
        ("+1", "embstr"),
        ("", "embstr"),
        ("12345678901234567890123456789012345678901234", "embstr"),
        ("123456789012345678901234567890123456789012345", "raw"),
    ];
    for (value, encoding) in cases {
        set(&mut raw, "s", value);
        assert_eq!(
            raw.cmd(&["OBJECT", "ENCODING", "s"]),
            bulk(encoding),
            "value {value:?}"
        );
    }
    // Small integers are Redis's shared objects.
    for (value, refcount) in [
        ("0", 2_147_483_647),
        ("9999", 2_147_483_647),
        ("10000", 1),
        ("-1", 1),
        ("abc", 1),
    ] {
        set(&mut raw, "s", value);
        assert_eq!(
            raw.cmd(&["object", "refcount", "s"]),
            int(refcount),
            "value {value:?}"
        );
    }
    for sub in ["ENCODING", "REFCOUNT", "IDLETIME", "FREQ"] {
        assert_eq!(
            raw.cmd(&["OBJECT", sub, "nokey"]),
            nil(),
            "OBJECT {sub} of no key"
        );
    }
    assert_eq!(
        raw.cmd(&["OBJECT", "FREQ", "s"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "foo", "s"]),
        err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    assert_eq!(
        raw.cmd(&["OBJECT"]),
        err("ERR wrong number of arguments for 'object' command")
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "ENCODING"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "encoding", "s", "x"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "HELP", "x"]),
        err("ERR wrong number of arguments for 'object|help' command")
    );

    let Frame::Array(help) = raw.cmd(&["Object", "help"]) else {
        panic!("OBJECT HELP replies with an array");
    };
    assert_eq!(help.len(), 15);
    assert_eq!(
        help[0],
        Frame::Simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(help[1], Frame::Simple("ENCODING <key>".into()));
    assert_eq!(help[14], Frame::Simple("    Prints this help.".into()));

    // In RESP3 a missing key is the null type.
    let mut resp3 = server.raw();
    assert!(matches!(resp3.cmd(&["HELLO", "3"]), Frame::Map(_)));
    resp3.send(&encode_command(&[b"OBJECT", b"ENCODING", b"nokey"]));
    let mut rest = [0u8; 3];
    std::io::Read::read_exact(&mut resp3.stream, &mut rest).expect("the null reply");
    assert_eq!(&rest, b"_\r\n");
}

/// OBJECT IDLETIME, in whole seconds of a clock that may tick between two commands.
fn idle(raw: &mut RawClient, key: &str) -> i64 {
    integer(raw.cmd(&["OBJECT", "IDLETIME", key]))
}

#[test]
fn idletime_grows_until_the_key_is_used() {
    let server = TestServer::start();
    let mut raw = server.raw();
    set(&mut raw, "k", "v");
    set(&mut raw, "old", "v");
    assert!(idle(&mut raw, "k") <= 1);
    thread::sleep(Duration::from_millis(2_100));
    // Inspecting a key is not using it.
    for inspect in [
        ["EXISTS", "k"],
        ["TYPE", "k"],
        ["TTL", "k"],
        ["PTTL", "k"],
        ["EXPIRETIME", "k"],
    ] {
        raw.cmd(&inspect);
    }
    raw.cmd(&["OBJECT", "ENCODING", "k"]);
    let before = idle(&mut raw, "k");
    assert!((2..=3).contains(&before), "idle {before}");
    assert_eq!(raw.cmd(&["TOUCH", "k"]), int(1));
    assert!(idle(&mut raw, "k") <= 1, "TOUCH records an access");

    // COPY makes a new value, and reads (so touches) its source.
    assert!(idle(&mut raw, "old") >= 2);
    assert_eq!(raw.cmd(&["COPY", "old", "copy"]), int(1));
    assert!(idle(&mut raw, "copy") <= 1);
    assert!(idle(&mut raw, "old") <= 1, "COPY reads its source");
}

#[test]
fn object_under_lfu_and_lru_policies() {
    let lfu = TestServer::start_with(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut raw = lfu.raw();
    set(&mut raw, "k", "v");
    assert_eq!(
        raw.cmd(&["OBJECT", "FREQ", "k"]),
        int(5),
        "a fresh key starts at LFU_INIT_VAL"
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "IDLETIME", "k"]),
        err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "nokey"]), nil());
    set(&mut raw, "n", "7");
    assert_eq!(
        raw.cmd(&["OBJECT", "REFCOUNT", "n"]),
        int(2_147_483_647),
        "no maxmemory: still shared"
    );

    let lru = TestServer::start_with(&["--maxmemory-policy", "allkeys-lru", "--maxmemory", "1gb"]);
    let mut raw = lru.raw();
    set(&mut raw, "n", "7");
    assert_eq!(
        raw.cmd(&["OBJECT", "REFCOUNT", "n"]),
        int(1),
        "an LRU limit keeps per-key data"
    );
    assert!(idle(&mut raw, "n") <= 1);
}
