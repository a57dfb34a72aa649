//! The hash family against a real tierd: every command's replies and errors as
//! redis-server 7.0.15 gives them (taken from it), listpack/hashtable encodings and
//! their thresholds, WRONGTYPE across families, the same commands on a hash demoted
//! to the cold tier, and hashes surviving an AOF restart and a snapshot (rewrite).

use crate::harness::*;
use redis::Commands;
use std::collections::HashMap;
use tier_server::resp::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn hash_commands_reply_as_redis() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]),
        int(3)
    );
    assert_eq!(raw.cmd(&["HSET", "h", "a", "5", "d", "4"]), int(1));
    assert_eq!(
        raw.cmd(&["HGETALL", "h"]),
        bulks(&["a", "5", "b", "2", "c", "3", "d", "4"])
    );
    assert_eq!(raw.cmd(&["HKEYS", "h"]), bulks(&["a", "b", "c", "d"]));
    assert_eq!(raw.cmd(&["HVALS", "h"]), bulks(&["5", "2", "3", "4"]));
    assert_eq!(raw.cmd(&["HGET", "h", "b"]), bulk("2"));
    assert_eq!(raw.cmd(&["HGET", "h", "zz"]), nil());
    assert_eq!(
        raw.cmd(&["HMGET", "h", "a", "zz", "d"]),
        array(vec![bulk("5"), nil(), bulk("4")])
    );
    assert_eq!(raw.cmd(&["HMGET", "none", "a"]), array(vec![nil()]));
    assert_eq!(raw.cmd(&["HLEN", "h"]), int(4));
    assert_eq!(raw.cmd(&["HSTRLEN", "h", "a"]), int(1));
    assert_eq!(raw.cmd(&["HSTRLEN", "h", "zz"]), int(0));
    assert_eq!(raw.cmd(&["HEXISTS", "h", "c"]), int(1));
    assert_eq!(raw.cmd(&["HSETNX", "h", "a", "9"]), int(0));
    assert_eq!(raw.cmd(&["HSETNX", "h", "e", "9"]), int(1));
    assert_eq!(raw.cmd(&["HDEL", "h", "a", "zz", "e"]), int(2));
    assert_eq!(raw.cmd(&["HMSET", "h", "x", "1"]), ok());
    assert_eq!(
        raw.cmd(&["HSET", "h", "a"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        raw.cmd(&["HMSET", "h", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    // The last field deleted deletes the key.
    assert_eq!(raw.cmd(&["HSET", "one", "f", "v"]), int(1));
    assert_eq!(raw.cmd(&["HDEL", "one", "f"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "one"]), int(0));
    assert_eq!(raw.cmd(&["HGETALL", "one"]), array(vec![]));
    assert_eq!(raw.cmd(&["TYPE", "h"]), Frame::Simple("hash".into()));
}

/// INFO's hot_bytes follows a hash as it grows and shrinks (its payload length).
#[test]
fn memory_accounting_follows_the_hash() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let before = hot_bytes(&mut raw);
    raw.cmd(&["HSET", "h", "field", "0123456789"]);
    // 5 bytes of header, then 4 + 5 and 4 + 10.
    assert_eq!(hot_bytes(&mut raw) - before, 28);
    raw.cmd(&["HSET", "h", "other", "x"]);
    assert_eq!(hot_bytes(&mut raw) - before, 28 + 14);
    raw.cmd(&["HSET", "h", "field", "0"]);
    assert_eq!(hot_bytes(&mut raw) - before, 28 + 14 - 9);
    raw.cmd(&["HDEL", "h", "field", "other"]);
    assert_eq!(hot_bytes(&mut raw), before);
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["HSET", "h", "s", "abc", "big", "9223372036854775807"]);
    assert_eq!(raw.cmd(&["HINCRBY", "h", "n", "-3"]), int(-3));
    assert_eq!(raw.cmd(&["HINCRBY", "h", "n", "10"]), int(7));
    assert_eq!(
        raw.cmd(&["HINCRBY", "h", "n", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.cmd(&["HINCRBY", "h", "s", "1"]),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        raw.cmd(&["HINCRBY", "h", "big", "1"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(raw.cmd(&["HINCRBYFLOAT", "h", "f", "0.1"]), bulk("0.1"));
    assert_eq!(raw.cmd(&["HINCRBYFLOAT", "h", "f", "0.2"]), bulk("0.3"));
    assert_eq!(raw.cmd(&["HINCRBYFLOAT", "h", "n", "1.5"]), bulk("8.5"));
    assert_eq!(
        raw.cmd(&["HINCRBYFLOAT", "h", "f", "inf"]),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        raw.cmd(&["HINCRBYFLOAT", "h", "f", "abc"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        raw.cmd(&["HINCRBYFLOAT", "h", "s", "1"]),
        err("ERR hash value is not a float")
    );
    assert_eq!(raw.cmd(&["HGET", "h", "f"]), bulk("0.3"));
}

#[test]
fn hrandfield_counts_and_values() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["HRANDFIELD", "none"]), nil());
    assert_eq!(raw.cmd(&["HRANDFIELD", "none", "3"]), array(vec![]));
    raw.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let Frame::Bulk(one) = raw.cmd(&["HRANDFIELD", "h"]) else {
        panic!("a field")
    };
    assert!([&b"a"[..], b"b", b"c"].contains(&&one[..]));
    assert_eq!(raw.cmd(&["HRANDFIELD", "h", "0"]), array(vec![]));
    // A count at least the size: every field, in the listpack's order.
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "h", "10", "WITHVALUES"]),
        bulks(&["a", "1", "b", "2", "c", "3"])
    );
    // Distinct fields for a positive count, repeats allowed for a negative one.
    let mut con = server.client();
    for _ in 0..20 {
        let two: Vec<String> = redis::cmd("HRANDFIELD")
            .arg("h")
            .arg(2)
            .query(&mut con)
            .unwrap();
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1]);
        let many: Vec<String> = redis::cmd("HRANDFIELD")
            .arg("h")
            .arg(-7)
            .query(&mut con)
            .unwrap();
        assert_eq!(many.len(), 7);
        let pairs: Vec<String> = redis::cmd("HRANDFIELD")
            .arg("h")
            .arg(-2)
            .arg("WITHVALUES")
            .query(&mut con)
            .unwrap();
        for p in pairs.chunks(2) {
            assert_eq!(p[1], (p[0].as_bytes()[0] - b'a' + 1).to_string());
        }
    }
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "h", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]),
        err("ERR value is out of range")
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "h", "1", "foo"]),
        err("ERR syntax error")
    );
    // RESP3: WITHVALUES gives pairs.
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
        array(vec![
            bulks(&["a", "1"]),
            bulks(&["b", "2"]),
            bulks(&["c", "3"])
        ])
    );
    assert_eq!(
        raw.cmd(&["HGETALL", "h"]),
        Frame::Map(vec![
            (bulk("a"), bulk("1")),
            (bulk("b"), bulk("2")),
            (bulk("c"), bulk("3"))
        ])
    );
}

#[test]
fn hscan_listpack_at_once_hashtable_by_cursor() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["HSET", "small", "a", "1", "b", "2"]);
    assert_eq!(
        raw.cmd(&["HSCAN", "small", "0", "COUNT", "1"]),
        array(vec![bulk("0"), bulks(&["a", "1", "b", "2"])])
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "small", "0", "MATCH", "b*"]),
        array(vec![bulk("0"), bulks(&["b", "2"])])
    );
    assert_eq!(raw.cmd(&["HSCAN", "small", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        raw.cmd(&["HSCAN", "small", "0", "COUNT", "0"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "small", "0", "TYPE", "hash"]),
        err("ERR syntax error")
    );
    // A missing key answers before its options are read, as Redis.
    for none in [
        &["HSCAN", "none", "0"][..],
        &["HSCAN", "none", "0", "COUNT", "0"],
    ] {
        assert_eq!(raw.cmd(none), array(vec![bulk("0"), array(vec![])]));
    }
    let mut con = server.client();
    let fields: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("f{i}"), i.to_string()))
        .collect();
    let _: () = con.hset_multiple("big", &fields).unwrap();
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "big"]), bulk("hashtable"));
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut con)
            .unwrap();
        calls += 1;
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!(calls > 10, "COUNT 100 over 2000 fields took {calls} calls");
    assert_eq!(seen.len(), 2000);
    assert_eq!(seen["f1234"], "1234");
}

#[test]
fn encodings_follow_the_thresholds() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        bulks(&["hash-max-listpack-entries", "512"])
    );
    raw.cmd(&["CONFIG", "SET", "hash-max-ziplist-entries", "3"]);
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        bulks(&["hash-max-listpack-entries", "3"])
    );
    raw.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
    raw.cmd(&["HSET", "h", "d", "4"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    raw.cmd(&["HDEL", "h", "a", "b", "c"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    let long = "x".repeat(65);
    raw.cmd(&["HSET", "l", "f", &long]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "l"]), bulk("hashtable"));
    raw.cmd(&["HINCRBY", "i", &long, "1"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "i"]), bulk("hashtable"));
    // HSETNX on an existing field converts nothing (7.0.15).
    raw.cmd(&["HSET", "n", "a", "b"]);
    raw.cmd(&["HSETNX", "n", "a", &long]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "n"]), bulk("listpack"));
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "hash-max-listpack-value", "abc"]),
        err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value")
    );
}

#[test]
fn wrongtype_across_families() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "s", "x"]);
    raw.cmd(&["HSET", "h", "f", "v"]);
    raw.cmd(&["SADD", "set", "m"]);
    for cmd in [
        &["HGET", "s", "f"][..],
        &["HSET", "s", "f", "v"],
        &["HGETALL", "set"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s", "1"],
        &["HINCRBYFLOAT", "set", "f", "1"],
        &["GET", "h"],
        &["APPEND", "h", "x"],
        &["INCR", "h"],
        &["SETRANGE", "h", "0", "x"],
        &["SADD", "h", "x"],
        &["SMEMBERS", "h"],
    ] {
        assert_eq!(raw.cmd(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    assert_eq!(raw.cmd(&["MGET", "h", "s"]), array(vec![nil(), bulk("x")]));
    assert_eq!(
        raw.cmd(&["SCAN", "0", "TYPE", "hash", "COUNT", "10000"]),
        array(vec![bulk("0"), bulks(&["h"])])
    );
    assert_eq!(raw.cmd(&["RENAME", "h", "h2"]), ok());
    assert_eq!(raw.cmd(&["COPY", "h2", "h3"]), int(1));
    assert_eq!(raw.cmd(&["HGETALL", "h3"]), bulks(&["f", "v"]));
    assert_eq!(raw.cmd(&["MOVE", "h3", "1"]), int(1));
    assert_eq!(raw.cmd(&["EXPIRE", "h2", "100"]), int(1));
    raw.cmd(&["HSET", "h2", "g", "w"]);
    assert!(
        matches!(raw.cmd(&["TTL", "h2"]), Frame::Integer(n) if n > 90),
        "a write keeps the TTL"
    );
    assert_eq!(raw.cmd(&["SET", "h2", "now a string"]), ok());
    assert_eq!(raw.cmd(&["TYPE", "h2"]), Frame::Simple("string".into()));
}

/// The same scripts on a hash in RAM and on the same hash demoted right after it was
/// written: identical replies.
#[test]
fn commands_on_a_cold_hash_answer_as_on_a_hot_one() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let scripts: &[&[&str]] = &[
        &["HGETALL", "h"],
        &["HGET", "h", "b"],
        &["HMGET", "h", "a", "q"],
        &["HLEN", "h"],
        &["HSTRLEN", "h", "a"],
        &["HEXISTS", "h", "b"],
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HSET", "h", "a", "9", "z", "1"],
        &["HDEL", "h", "b"],
        &["HINCRBY", "h", "n", "5"],
        &["HINCRBYFLOAT", "h", "n", "0.5"],
        &["HSETNX", "h", "new", "v"],
        &["HSCAN", "h", "0"],
        &["HRANDFIELD", "h", "100"],
        &["TYPE", "h"],
        &["OBJECT", "ENCODING", "h"],
        &["GET", "h"],
    ];
    let setup: &[&[&str]] = &[&["DEL", "h"], &["HSET", "h", "a", "1", "b", "2", "n", "10"]];
    let runs = hot_and_cold_replies(&mut raw, setup, &["h"], scripts, |_, r| r);
    assert_eq!(runs[0], runs[1]);
    let tiering = info(&mut raw, &["tiering"]);
    assert_ne!(field(&tiering, "cold_reads").as_deref(), Some("0"));
    // A hash over tier-max-value-size stays in RAM.
    raw.cmd(&["HGETALL", "h"]);
    raw.cmd(&["CONFIG", "SET", "tier-max-value-size", "10"]);
    assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "h"]), int(0));
}

#[test]
fn hashes_survive_an_aof_restart_and_a_rewrite() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut con = server.client();
    let _: () = con.hset_multiple("h", &[("a", "1"), ("b", "2")]).unwrap();
    let _: String = redis::cmd("HINCRBYFLOAT")
        .arg("h")
        .arg("f")
        .arg("0.1")
        .query(&mut con)
        .unwrap();
    let _: () = con.hdel("h", "a").unwrap();
    let big: Vec<(String, String)> = (0..600)
        .map(|i| (format!("f{i}"), "v".to_string()))
        .collect();
    let _: () = con.hset_multiple("big", &big).unwrap();
    let _: () = con.expire("big", 1000).unwrap();
    let _: () = con.hset_multiple("shrunk", &big).unwrap();
    let fields: Vec<&String> = big[2..].iter().map(|(f, _)| f).collect();
    let _: () = con.hdel("shrunk", fields).unwrap();
    let want: HashMap<String, String> = con.hgetall("h").unwrap();
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut con = again.client();
    let got: HashMap<String, String> = con.hgetall("h").unwrap();
    assert_eq!(got, want);
    assert_eq!(got["f"], "0.1");
    assert_eq!(con.hlen::<_, usize>("big").unwrap(), 600);
    // Through a snapshot: the rewrite's base holds the hashes.
    let mut raw = again.raw();
    rewrite_aof(&mut raw);
    let dir = again.kill9();
    let third = TestServer::start_in(dir, &[]);
    let mut con = third.client();
    let got: HashMap<String, String> = con.hgetall("h").unwrap();
    assert_eq!(got, want);
    let mut raw = third.raw();
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "big"]), bulk("hashtable"));
    // Loaded from a snapshot, a hashtable that fits the limits is a listpack again, as
    // Redis re-encodes a hash loaded from an RDB file.
    assert_eq!(raw.cmd(&["HLEN", "shrunk"]), int(2));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "shrunk"]), bulk("listpack"));
    assert!(matches!(raw.cmd(&["TTL", "big"]), Frame::Integer(n) if n > 900));
}
