//! The set family against a real tierd: replies and errors as redis-server 7.0.15
//! gives them (taken from it), intset/hashtable encodings, the set operations and
//! their STORE forms, random pops and how they reach the AOF, the same commands on a
//! set demoted to the cold tier, and sets surviving a restart.

use crate::harness::*;
use redis::Commands;
use std::collections::HashSet;
use tier_server::resp::Frame;

/// SMEMBERS as a sorted list (a hashtable's order is its own).
fn members(raw: &mut RawClient, key: &str) -> Vec<String> {
    let Frame::Array(items) = raw.cmd(&["SMEMBERS", key]) else {
        panic!("SMEMBERS replies with an array")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn set_commands_reply_as_redis() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SADD", "i", "5", "-3", "10", "5"]), int(3));
    // An intset lists its members in ascending order.
    assert_eq!(raw.cmd(&["SMEMBERS", "i"]), bulks(&["-3", "5", "10"]));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "i"]), bulk("intset"));
    assert_eq!(raw.cmd(&["SISMEMBER", "i", "5"]), int(1));
    assert_eq!(raw.cmd(&["SISMEMBER", "i", "05"]), int(0));
    assert_eq!(
        raw.cmd(&["SMISMEMBER", "i", "5", "6", "10"]),
        array(vec![int(1), int(0), int(1)])
    );
    assert_eq!(raw.cmd(&["SCARD", "i"]), int(3));
    assert_eq!(raw.cmd(&["SADD", "i", "x"]), int(1));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "i"]), bulk("hashtable"));
    assert_eq!(raw.cmd(&["SREM", "i", "x", "nope", "5"]), int(2));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "i"]), bulk("hashtable"));
    // Redis 7.0 has no listpack sets.
    raw.cmd(&["SADD", "w", "a"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "w"]), bulk("hashtable"));
    assert_eq!(raw.cmd(&["SREM", "w", "a"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "w"]), int(0));
    assert_eq!(raw.cmd(&["SMEMBERS", "w"]), array(vec![]));
    raw.cmd(&["CONFIG", "SET", "set-max-intset-entries", "2"]);
    raw.cmd(&["SADD", "small", "1", "2"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "small"]), bulk("intset"));
    raw.cmd(&["SADD", "small", "3"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "small"]), bulk("hashtable"));
    assert_eq!(raw.cmd(&["TYPE", "small"]), Frame::Simple("set".into()));
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&["SMEMBERS", "nope"]),
        Frame::Set(vec![]),
        "a set reply in RESP3"
    );
}

#[test]
fn set_operations_and_their_store_forms() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SADD", "a", "1", "2", "3", "4"]);
    raw.cmd(&["SADD", "b", "3", "4", "5"]);
    raw.cmd(&["SADD", "c", "x", "y", "3"]);
    raw.cmd(&["SET", "str", "v"]);
    assert_eq!(raw.cmd(&["SINTER", "a", "b"]), bulks(&["3", "4"]));
    assert_eq!(raw.cmd(&["SINTER", "a", "b", "c"]), bulks(&["3"]));
    assert_eq!(raw.cmd(&["SINTER", "a", "nope"]), array(vec![]));
    assert_eq!(
        raw.cmd(&["SUNION", "a", "b"]),
        bulks(&["1", "2", "3", "4", "5"])
    );
    assert_eq!(raw.cmd(&["SDIFF", "a", "b"]), bulks(&["1", "2"]));
    assert_eq!(raw.cmd(&["SDIFF", "nope", "a"]), array(vec![]));
    // Every key is type-checked, even after a missing one.
    let wrong = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(raw.cmd(&["SINTER", "nope", "str"]), wrong);
    assert_eq!(raw.cmd(&["SUNION", "str", "a"]), wrong);
    assert_eq!(raw.cmd(&["SINTERSTORE", "d", "a", "b"]), int(2));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "d"]), bulk("intset"));
    assert_eq!(raw.cmd(&["SUNIONSTORE", "d", "a", "c"]), int(6));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "d"]), bulk("hashtable"));
    assert_eq!(members(&mut raw, "d"), ["1", "2", "3", "4", "x", "y"]);
    raw.cmd(&["EXPIRE", "d", "100"]);
    assert_eq!(raw.cmd(&["SDIFFSTORE", "d", "a", "b", "c"]), int(2));
    assert_eq!(
        raw.cmd(&["TTL", "d"]),
        int(-1),
        "the result replaces the key"
    );
    assert_eq!(raw.cmd(&["SINTERSTORE", "d", "a", "nope"]), int(0));
    assert_eq!(raw.cmd(&["EXISTS", "d"]), int(0));
    assert_eq!(raw.cmd(&["SINTERCARD", "2", "a", "b"]), int(2));
    assert_eq!(
        raw.cmd(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        int(1)
    );
    assert_eq!(
        raw.cmd(&["SINTERCARD", "0", "a"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        raw.cmd(&["SINTERCARD", "3", "a", "b"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        raw.cmd(&["SINTERCARD", "1", "a", "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        raw.cmd(&["SINTERCARD", "1", "a", "FOO", "1"]),
        err("ERR syntax error")
    );
    // SMOVE.
    assert_eq!(raw.cmd(&["SMOVE", "a", "b", "1"]), int(1));
    assert_eq!(raw.cmd(&["SMOVE", "a", "b", "99"]), int(0));
    assert_eq!(raw.cmd(&["SMOVE", "nope", "str", "1"]), int(0));
    assert_eq!(raw.cmd(&["SMOVE", "a", "str", "2"]), wrong);
    assert_eq!(raw.cmd(&["SMOVE", "a", "a", "2"]), int(1));
    assert_eq!(raw.cmd(&["SMOVE", "a", "fresh", "2"]), int(1));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "fresh"]), bulk("intset"));
    raw.cmd(&["SADD", "m", "z"]);
    assert_eq!(raw.cmd(&["SMOVE", "m", "m2", "z"]), int(1));
    assert_eq!(raw.cmd(&["EXISTS", "m"]), int(0));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "m2"]), bulk("hashtable"));
}

#[test]
fn spop_and_srandmember() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SPOP", "nope"]), nil());
    assert_eq!(raw.cmd(&["SPOP", "nope", "3"]), array(vec![]));
    assert_eq!(
        raw.cmd(&["SPOP", "nope", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(raw.cmd(&["SRANDMEMBER", "nope"]), nil());
    assert_eq!(raw.cmd(&["SRANDMEMBER", "nope", "-5"]), array(vec![]));
    let mut con = server.client();
    let all: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let _: () = con.sadd("s", &all).unwrap();
    let two: Vec<String> = con.srandmember_multiple("s", 2).unwrap();
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let forty: HashSet<String> = con.srandmember_multiple("s", 40).unwrap();
    assert_eq!(forty.len(), 40);
    let repeats: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("s")
        .arg(-100)
        .query(&mut con)
        .unwrap();
    assert_eq!(repeats.len(), 100);
    assert!(repeats.iter().all(|m| all.contains(m)));
    let popped: Vec<String> = redis::cmd("SPOP").arg("s").arg(20).query(&mut con).unwrap();
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 20);
    assert_eq!(con.scard::<_, usize>("s").unwrap(), 30);
    let one: String = con.spop("s").unwrap();
    assert!(!popped.contains(&one));
    let rest: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(rest.len(), 29);
    assert_eq!(raw.cmd(&["EXISTS", "s"]), int(0));
    // A count covering the whole set: every member, in the intset's order.
    raw.cmd(&["SADD", "i", "3", "1", "2"]);
    assert_eq!(
        raw.cmd(&["SRANDMEMBER", "i", "10"]),
        bulks(&["1", "2", "3"])
    );
    assert_eq!(
        raw.cmd(&["SSCAN", "i", "0"]),
        array(vec![bulk("0"), bulks(&["1", "2", "3"])])
    );
    assert_eq!(
        raw.cmd(&["SSCAN", "i", "0", "MATCH", "2"]),
        array(vec![bulk("0"), bulks(&["2"])])
    );
}

/// SPOP is logged as the SREM of the members it took: after a restart, the set holds
/// exactly what it held before.
#[test]
fn random_pops_replay_exactly() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut con = server.client();
    let all: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    let _: () = con.sadd("s", &all).unwrap();
    let _: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(250)
        .query(&mut con)
        .unwrap();
    let _: String = con.spop("s").unwrap();
    let _: () = con.sadd("ints", &[1, 2, 3]).unwrap();
    let _: Vec<String> = redis::cmd("SPOP")
        .arg("ints")
        .arg(5)
        .query(&mut con)
        .unwrap();
    let before: HashSet<String> = con.smembers("s").unwrap();
    assert_eq!(before.len(), 349);
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut con = again.client();
    let after: HashSet<String> = con.smembers("s").unwrap();
    assert_eq!(after, before);
    assert!(!con.exists::<_, bool>("ints").unwrap());
}

#[test]
fn commands_on_a_cold_set_answer_as_on_a_hot_one() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let scripts: &[&[&str]] = &[
        &["SMEMBERS", "s"],
        &["SCARD", "s"],
        &["SISMEMBER", "s", "2"],
        &["SMISMEMBER", "s", "1", "9"],
        &["SADD", "s", "7", "x"],
        &["SREM", "s", "1"],
        &["SINTER", "s", "t"],
        &["SUNIONSTORE", "u", "s", "t"],
        &["SCARD", "u"],
        &["SINTERCARD", "2", "s", "t"],
        &["SMOVE", "s", "t", "2"],
        &["SRANDMEMBER", "t", "100"],
        &["SSCAN", "s", "0", "COUNT", "1000"],
        &["OBJECT", "ENCODING", "s"],
        &["SPOP", "t", "100"],
    ];
    let setup: &[&[&str]] = &[&["SADD", "s", "1", "2", "3"], &["SADD", "t", "2", "3", "4"]];
    let runs = hot_and_cold_replies(&mut raw, setup, &["s", "t", "u"], scripts, |cmd, reply| {
        match reply {
            // A hashtable's order is its own, hot or cold alike.
            Frame::Array(mut items) if cmd[0] == "SMEMBERS" => {
                items.sort_by_key(|f| format!("{f:?}"));
                Frame::Array(items)
            }
            other => other,
        }
    });
    assert_eq!(runs[0], runs[1]);
    let tiering = info(&mut raw, &["tiering"]);
    assert_ne!(field(&tiering, "cold_reads").as_deref(), Some("0"));
}

/// SINTERCARD finds its keys from numkeys: all its cold keys are read before it runs,
/// however many (more than a command's retries).
#[test]
fn sintercard_reads_all_its_cold_keys() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let keys: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let extra = i.to_string();
        raw.cmd(&["SADD", k, "a", "b", "c", &extra]);
    }
    let mut demote = vec!["DEBUG", "DEMOTE"];
    demote.extend(keys.iter().map(String::as_str));
    assert_eq!(raw.cmd(&demote), int(20));
    let mut cmd = vec!["SINTERCARD", "20"];
    cmd.extend(keys.iter().map(String::as_str));
    assert_eq!(raw.cmd(&cmd), int(3));
    cmd.extend(["LIMIT", "2"]);
    assert_eq!(raw.cmd(&cmd), int(2));
    assert_eq!(
        raw.cmd(&[
            "COMMAND",
            "GETKEYS",
            "SINTERCARD",
            "2",
            "a",
            "b",
            "LIMIT",
            "1"
        ]),
        bulks(&["a", "b"])
    );
}
