//! SORT and SORT_RO: replies compared frame for frame with redis-server (RESP2 and
//! RESP3), through the `redis` crate, with the sorted key and the BY and GET keys
//! demoted to the cold tier (more of them than a command's retries), inside MULTI on
//! cold keys, and SORT ... STORE replayed from the AOF after a kill -9.

use crate::harness::*;
use redis::Commands;
use std::collections::HashSet;
use tier_server::resp::Frame;

/// Commands whose replies are the same on tierd and redis-server: no set in a
/// hashtable is listed unsorted (its order is each server's own).
const SCRIPT: &[&[&str]] = &[
    &[
        "RPUSH", "l", "3", "1", "2", " 4", "", "0x10", "-inf", "1.5e1",
    ],
    &["SORT", "l"],
    &["SORT", "l", "DESC"],
    &["SORT", "l", "LIMIT", "2", "3"],
    &["SORT", "l", "LIMIT", "-3", "2"],
    &["SORT", "l", "LIMIT", "7", "5"],
    &["SORT", "l", "LIMIT", "8", "1"],
    &["SORT", "l", "LIMIT", "1", "0"],
    &["SORT", "l", "LIMIT", "2", "9223372036854775807"],
    &["SORT", "l", "LIMIT", "1", "-1"],
    &["SORT", "l", "BY", "nosort"],
    &["SORT", "l", "BY", "nosort", "DESC"],
    &["SORT", "l", "BY", "nosort", "LIMIT", "1", "3"],
    &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "3"],
    &["SORT", "l", "BY", "nosort", "LIMIT", "20", "3"],
    &["SORT", "l", "BY", "nosort", "GET", "#", "GET", "nostar"],
    &[
        "RPUSH", "words", "pear", "Apple", "banana", "apple", "b\u{e9}", "b",
    ],
    &["SORT", "words"],
    &["SORT", "words", "ALPHA"],
    &["SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "3"],
    &["SORT", "words", "ALPHA", "STORE", "sorted"],
    &["LRANGE", "sorted", "0", "-1"],
    &["RPUSH", "bad", "1", "nan"],
    &["SORT", "bad"],
    // Sets: an intset lists in order; BY a constant with STORE sorts as ALPHA.
    &["SADD", "ids", "5", "3", "9", "1", "12"],
    &["SORT", "ids"],
    &["SORT", "ids", "BY", "nosort"],
    &["SORT", "ids", "BY", "nosort", "STORE", "out"],
    &["LRANGE", "out", "0", "-1"],
    &["SADD", "names", "carol", "alice", "bob", "dave"],
    &["SORT", "names", "ALPHA"],
    &["SORT", "names", "BY", "nosort", "STORE", "out"],
    &["LRANGE", "out", "0", "-1"],
    &["SORT", "names", "BY", "nosort", "LIMIT", "0", "0"],
    // BY and GET keys: strings and hash fields.
    &[
        "MSET", "w_1", "10", "w_3", "-1", "w_5", "3", "w_9", "7", "w_12", "3",
    ],
    &["HSET", "u_1", "name", "ann", "age", "31"],
    &["HSET", "u_3", "name", "bo", "age", "25"],
    &["HSET", "u_5", "name", "cy"],
    &["HSET", "u_9", "name", "di", "age", "x"],
    &["SORT", "ids", "BY", "w_*"],
    &["SORT", "ids", "BY", "w_*", "DESC"],
    &["SORT", "ids", "BY", "w_*", "LIMIT", "1", "2"],
    &[
        "SORT",
        "ids",
        "BY",
        "w_*",
        "GET",
        "#",
        "GET",
        "w_*",
        "GET",
        "u_*->name",
    ],
    &["SORT", "ids", "BY", "u_*->age"],
    &["SORT", "ids", "BY", "u_*->name", "ALPHA"],
    &[
        "SORT",
        "ids",
        "BY",
        "u_*->name",
        "ALPHA",
        "DESC",
        "GET",
        "u_*->name",
    ],
    &["SORT", "ids", "BY", "u_*->", "GET", "u_*->"],
    &["SORT", "ids", "BY", "missing_*", "GET", "missing_*"],
    &[
        "SORT",
        "ids",
        "BY",
        "w_*",
        "GET",
        "u_*->name",
        "STORE",
        "out",
    ],
    &["LRANGE", "out", "0", "-1"],
    &["SORT", "ids", "GET", "ids", "GET", "u_*"],
    &["SORT", "ids", "BY", "w_*", "STORE", "ids"],
    &["TYPE", "ids"],
    &["LRANGE", "ids", "0", "-1"],
    // Sorted sets: by the members' values, or BY a constant in score order.
    &["ZADD", "z", "3", "a", "1", "c", "2", "b", "2", "bb"],
    &["SORT", "z", "ALPHA"],
    &["SORT", "z", "BY", "nosort"],
    &["SORT", "z", "BY", "nosort", "DESC"],
    &["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
    &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
    &["SORT", "z", "BY", "nosort", "STORE", "zout"],
    &["LRANGE", "zout", "0", "-1"],
    &["SORT", "z"],
    // Sorting a sorted set makes it a skiplist, for good.
    &["ZADD", "small", "1", "x", "2", "y"],
    &["SORT", "small", "LIMIT", "0", "1"],
    &["OBJECT", "ENCODING", "small"],
    &["ZADD", "small2", "1", "x"],
    &["SORT_RO", "small2", "BY", "nosort"],
    &["OBJECT", "ENCODING", "small2"],
    &["ZADD", "small2", "2", "y"],
    &["OBJECT", "ENCODING", "small2"],
    // STORE: replaces any type, drops the TTL, deletes on an empty result.
    &["SET", "dst", "x", "EX", "100"],
    &["SORT", "l", "LIMIT", "0", "3", "STORE", "dst"],
    &["TTL", "dst"],
    &["LRANGE", "dst", "0", "-1"],
    &["SORT", "nokey", "STORE", "dst"],
    &["EXISTS", "dst"],
    &["SORT", "nokey"],
    // SORT_RO, errors.
    &["SORT_RO", "l", "LIMIT", "0", "2"],
    &["SORT_RO", "l", "STORE", "x"],
    &["SORT_RO", "words", "ALPHA", "BY", "nosort", "GET", "#"],
    &["SET", "str", "1"],
    &["SORT", "str"],
    &["SORT_RO", "u_1"],
    &["SORT", "l", "LIMIT", "1"],
    &["SORT", "l", "LIMIT", "a", "1"],
    &["SORT", "l", "GET"],
    &["SORT", "l", "BY"],
    &["SORT", "l", "STORE"],
    &["SORT", "l", "FOO"],
    &["SORT", "str", "FOO"],
    &["SORT"],
    &["SORT_RO"],
    // The command table.
    &["COMMAND", "INFO", "sort", "sort_ro"],
    &[
        "COMMAND", "GETKEYS", "SORT", "a", "STORE", "b", "BY", "x", "GET", "y", "STORE", "c",
    ],
    &[
        "COMMAND", "GETKEYS", "SORT", "a", "LIMIT", "STORE", "x", "1",
    ],
    &["COMMAND", "GETKEYS", "SORT_RO", "a", "BY", "w_*"],
    // Last: redis-server leaves C's errno set after a score out of range, and its
    // next numeric sorts may fail on it too.
    &["RPUSH", "huge", "1e400"],
    &["SORT", "huge"],
    &["SORT", "huge", "STORE", "sorted"],
    &["LRANGE", "sorted", "0", "-1"],
];

#[test]
fn sort_replies_as_redis() {
    let tierd = TestServer::start();
    let redis = ReferenceRedis::start();
    assert_script_matches_redis(&tierd, &redis, SCRIPT);
}

/// Through the `redis` crate: a leaderboard of user ids sorted by a score key, with
/// fields of each user's hash.
#[test]
fn sort_by_weights_and_get_hash_fields() {
    let server = TestServer::start();
    let mut con = server.client();
    let users = [("7", 300, "zoe"), ("2", 100, "al"), ("5", 200, "mo")];
    for (id, score, name) in users {
        let _: () = con.sadd("users", id).unwrap();
        let _: () = con.set(format!("score:{id}"), score).unwrap();
        let _: () = con.hset(format!("user:{id}"), "name", name).unwrap();
    }
    let sorted: Vec<String> = redis::cmd("SORT")
        .arg(&[
            "users",
            "BY",
            "score:*",
            "DESC",
            "GET",
            "#",
            "GET",
            "user:*->name",
        ])
        .query(&mut con)
        .unwrap();
    assert_eq!(sorted, ["7", "zoe", "5", "mo", "2", "al"]);
    let top: Vec<Option<String>> = redis::cmd("SORT_RO")
        .arg(&[
            "users",
            "BY",
            "score:*",
            "LIMIT",
            "0",
            "2",
            "GET",
            "user:*->age",
        ])
        .query(&mut con)
        .unwrap();
    assert_eq!(top, [None, None]);
    let stored: usize = redis::cmd("SORT")
        .arg(&["users", "BY", "user:*->name", "ALPHA", "STORE", "by_name"])
        .query(&mut con)
        .unwrap();
    assert_eq!(stored, 3);
    let by_name: Vec<String> = con.lrange("by_name", 0, -1).unwrap();
    assert_eq!(by_name, ["2", "5", "7"]);
    let err = redis::cmd("SORT")
        .arg(&["users", "BY", "user:*->name"])
        .query::<Vec<String>>(&mut con)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some("One or more scores can't be converted into double")
    );
}

/// The sorted list, its BY keys (strings and hashes) and its GET keys all cold: more
/// of them than a command is retried, as the BY and GET keys are named by no
/// argument and are loaded after a first run met them. Replies and stored results
/// are those of the same keys in RAM.
#[test]
fn sort_reads_cold_by_and_get_keys() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let n = 40;
    let mut setup: Vec<Vec<String>> = Vec::new();
    let mut list = vec!["RPUSH".to_owned(), "ids".to_owned()];
    let mut demote: Vec<String> = vec!["ids".into(), "tags".into()];
    for i in 0..n {
        list.push(i.to_string());
        // Weights in an order of their own, with ties broken by the element.
        let weight = (i * 7) % 13;
        setup.push(vec!["SET".into(), format!("w_{i}"), weight.to_string()]);
        setup.push(vec![
            "HSET".into(),
            format!("h_{i}"),
            "name".into(),
            format!("name-{}", (i * 11) % 17),
        ]);
        demote.extend([format!("w_{i}"), format!("h_{i}")]);
    }
    setup.push(list);
    setup.push(vec!["SADD".into(), "tags".into(), "x".into(), "y".into()]);
    let setup: Vec<Vec<&str>> = setup
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let setup: Vec<&[&str]> = setup.iter().map(Vec::as_slice).collect();
    let demote: Vec<&str> = demote.iter().map(String::as_str).collect();
    let scripts: &[&[&str]] = &[
        &["SORT", "ids", "BY", "w_*"],
        &[
            "SORT",
            "ids",
            "BY",
            "w_*",
            "DESC",
            "LIMIT",
            "3",
            "10",
            "GET",
            "#",
            "GET",
            "h_*->name",
        ],
        &["SORT_RO", "ids", "BY", "h_*->name", "ALPHA", "GET", "w_*"],
        &["SORT", "ids", "BY", "nosort", "GET", "h_*->name"],
        &[
            "SORT",
            "ids",
            "BY",
            "w_*",
            "GET",
            "h_*->name",
            "STORE",
            "out",
        ],
        &["LRANGE", "out", "0", "-1"],
        &["SORT", "tags", "BY", "w_*"],
        &["SORT", "ids", "BY", "h_*->name"],
    ];
    let runs = hot_and_cold_replies(&mut raw, &setup, &demote, scripts, |_, r| r);
    assert_eq!(runs[0], runs[1]);
    let Frame::Array(sorted) = &runs[0][0] else {
        panic!("SORT replied {:?}", runs[0][0]);
    };
    assert_eq!(sorted.len(), n);
    assert_eq!(
        runs[0][7],
        err("ERR One or more scores can't be converted into double")
    );
    let tiering = info(&mut raw, &["tiering"]);
    assert!(number(&tiering, "cold_reads") >= 2 * n as u64, "{tiering}");
    assert_eq!(number(&tiering, "cold_read_errors"), 0, "{tiering}");
}

/// Inside MULTI, the BY and GET keys of a SORT are loaded with the keys the
/// transaction names, before it runs.
#[test]
fn sort_in_a_transaction_loads_its_cold_pattern_keys() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let mut demote = vec!["DEBUG", "DEMOTE", "l"];
    let keys: Vec<(String, String)> = (0..30)
        .map(|i| (format!("w_{i}"), (100 - i).to_string()))
        .collect();
    for (i, (key, weight)) in keys.iter().enumerate() {
        raw.cmd(&["RPUSH", "l", &i.to_string()]);
        raw.cmd(&["SET", key, weight]);
        demote.push(key);
    }
    assert_eq!(raw.cmd(&demote), int(31));
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SORT", "l", "BY", "w_*", "LIMIT", "0", "3", "GET", "w_*"]);
    let expected: Vec<String> = (0..30).rev().map(|i| i.to_string()).collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(raw.cmd(&["EXEC"]), array(vec![bulks(&["71", "72", "73"])]),);
    raw.cmd(&["DEBUG", "DEMOTE", "l", "w_3"]);
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SORT", "l", "BY", "w_*", "STORE", "out"]);
    raw.cmd(&["LRANGE", "out", "0", "-1"]);
    assert_eq!(raw.cmd(&["EXEC"]), array(vec![int(30), bulks(&expected)]),);
}

/// SORT ... STORE is logged as the list it stored: a restart gives the same list,
/// even for a hashtable set sorted BY a constant (ALPHA) or by other keys, and an
/// empty result's deletion.
#[test]
fn sort_store_replays_from_the_aof() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut con = server.client();
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let _: () = con.sadd("s", &members).unwrap();
    for (i, m) in members.iter().enumerate() {
        let _: () = con.set(format!("w_{m}"), (i * 37) % 101).unwrap();
    }
    let sort_store = |con: &mut redis::Connection, args: &[&str]| -> usize {
        redis::cmd("SORT").arg(args).query(con).unwrap()
    };
    assert_eq!(
        sort_store(&mut con, &["s", "BY", "nosort", "STORE", "a"]),
        200
    );
    assert_eq!(
        sort_store(
            &mut con,
            &["s", "BY", "w_*", "LIMIT", "5", "50", "STORE", "b"]
        ),
        50
    );
    let _: () = con.set("gone", "x").unwrap();
    assert_eq!(sort_store(&mut con, &["nokey", "STORE", "gone"]), 0);
    let a: Vec<String> = con.lrange("a", 0, -1).unwrap();
    let b: Vec<String> = con.lrange("b", 0, -1).unwrap();
    let mut alpha = members.clone();
    alpha.sort();
    assert_eq!(a, alpha);
    assert_eq!(b.iter().collect::<HashSet<_>>().len(), 50);
    let incr = std::fs::read(last_incr(server.dir())).unwrap();
    let text = String::from_utf8_lossy(&incr);
    assert!(text.contains("RESTORE"), "SORT STORE logged as its list");
    assert!(!text.contains("SORT"), "SORT itself not logged");
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut con = again.client();
    assert_eq!(con.lrange::<_, Vec<String>>("a", 0, -1).unwrap(), a);
    assert_eq!(con.lrange::<_, Vec<String>>("b", 0, -1).unwrap(), b);
    assert!(!con.exists::<_, bool>("gone").unwrap());
}
