//! The sorted set family against a real tierd: every command's replies and errors
//! compared with a real redis-server 7.0.15's, frame for frame, in RESP2 and RESP3
//! (score formatting, infinities, range edge cases, WRONGTYPE), encodings as the
//! thresholds change, the same commands on sorted sets demoted to the cold tier,
//! memory accounting, and sorted sets through an AOF restart and a snapshot.

use crate::harness::*;
use tier_server::resp::Frame;

/// Commands of every kind, each run on both servers; random draws only where their
/// result is not random (a count of 0, or the whole set).
const SCRIPT: &[&[&str]] = &[
    &["zadd", "z", "1.1", "a", "2", "b", "inf", "c", "-0", "d"],
    &["zscore", "z", "a"],
    &["zscore", "z", "c"],
    &["zscore", "z", "d"],
    &["zadd", "z", "incr", "1.5", "a"],
    &["zincrby", "z", "2", "b"],
    &["zrange", "z", "0", "-1", "withscores"],
    &[
        "zadd",
        "z",
        "1e20",
        "big",
        "0.0001",
        "small",
        "123456789012345678",
        "i",
    ],
    &["zrange", "z", "0", "-1", "withscores"],
    &["zadd", "q", "GT", "LT", "1", "a"],
    &["zadd", "q", "nx", "xx", "1", "a"],
    &["zadd", "q", "incr", "1", "a", "2", "b"],
    &["zadd", "q", "1", "a", "nan"],
    &["zadd", "q", "abc", "a"],
    &["zadd", "q", "1", "a", "2"],
    &["zadd", "q"],
    &["zadd", "q", "nx"],
    &["zadd", "q", " 1", "a"],
    &["zadd", "q", "1 ", "a"],
    &["zadd", "q", "1e400", "a"],
    &["zadd", "q", "1e-400", "a"],
    &["zadd", "q", "0x10", "a"],
    &["zadd", "q", "+inf", "a", "-inf", "b"],
    &["zadd", "q", "incr", "+inf", "a"],
    &["zadd", "q", "incr", "-inf", "a"],
    &["zadd", "q", "xx", "5", "zz"],
    &["zadd", "q", "xx", "incr", "5", "zz"],
    &["zadd", "nokey", "xx", "1", "a"],
    &["zadd", "nokey", "xx", "incr", "1", "a"],
    &["exists", "nokey"],
    &["zadd", "q", "ch", "5", "a", "6", "new"],
    &["zadd", "q", "gt", "ch", "4", "a", "7", "b"],
    &["zadd", "q", "lt", "ch", "4", "a", "7", "b"],
    &["zadd", "q", "nx", "incr", "1", "a"],
    &["zadd", "q", "incr", "0", "a"],
    &["zrangebyscore", "z", "a", "b"],
    &["zrangebylex", "z", "a", "b"],
    &["zrangebyscore", "z", "-inf", "+inf", "withscores"],
    &[
        "zrangebyscore",
        "z",
        "(1",
        "(inf",
        "withscores",
        "limit",
        "1",
        "2",
    ],
    &["zrangebyscore", "z", "", "5"],
    &["zrangebyscore", "z", " 1", "5"],
    &[
        "zrevrangebyscore",
        "z",
        "+inf",
        "-inf",
        "withscores",
        "limit",
        "0",
        "2",
    ],
    &["zrevrangebyscore", "z", "5", "1"],
    &["zrangebyscore", "z", "1", "5", "limit", "-1", "2"],
    &["zrangebyscore", "z", "1", "5", "limit", "1", "-2"],
    &["zrangebyscore", "z", "1", "5", "limit", "a", "2"],
    &["zrangebyscore", "z", "1", "5", "limit", "1"],
    &["zrangebyscore", "z", "1", "5", "rev"],
    &["zrange", "z", "0", "1", "rev", "withscores"],
    &["zrange", "z", "5", "1", "byscore", "rev", "withscores"],
    &["zrange", "z", "1", "5", "byscore", "limit", "0", "1"],
    &["zrange", "z", "0", "-1", "limit", "0", "1"],
    &["zrange", "z", "-", "+", "bylex", "withscores"],
    &["zrange", "z", "0", "-1", "rev", "rev"],
    &["zrange", "z", "0", "-1", "byscore", "bylex"],
    &["zrange", "z", "-100", "100"],
    &["zrange", "z", "3", "2"],
    &["zrange", "z", "-2", "-1"],
    &["zrevrange", "z", "0", "1", "withscores"],
    &["zrevrange", "z", "0", "1", "limit", "0", "1"],
    &["zcard", "z"],
    &["zcard", "nokey"],
    &["zrank", "z", "a"],
    &["zrevrank", "z", "a"],
    &["zrank", "z", "nope"],
    &["zrank", "nokey", "a"],
    &["zcount", "z", "-inf", "+inf"],
    &["zcount", "z", "(1", "3"],
    &["zcount", "z", "a", "b"],
    &["zmscore", "z", "a", "nope", "c"],
    &["zmscore", "nokey", "a", "b"],
    &["set", "s", "v"],
    &["zadd", "s", "1", "a"],
    &["zscore", "s", "a"],
    &["zrange", "s", "0", "-1"],
    &["zcard", "s"],
    &[
        "zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f",
    ],
    &["zrangebylex", "l", "-", "+"],
    &["zrangebylex", "l", "[b", "(e"],
    &["zrangebylex", "l", "(b", "[e", "limit", "1", "2"],
    &["zrevrangebylex", "l", "+", "-", "limit", "0", "3"],
    &["zrevrangebylex", "l", "[e", "[b"],
    &["zrangebylex", "l", "b", "c"],
    &["zrangebylex", "l", "[a", "+x"],
    &["zrangebylex", "l", "", "+"],
    &["zlexcount", "l", "-", "+"],
    &["zlexcount", "l", "[c", "+"],
    &["zlexcount", "l", "+", "-"],
    &["zrangebylex", "l", "-", "+", "withscores"],
    &["zremrangebylex", "l", "[e", "+"],
    &["zremrangebyrank", "l", "0", "0"],
    &["zremrangebyrank", "l", "-1", "-1"],
    &["zremrangebyscore", "l", "0", "0"],
    &["exists", "l"],
    &["zremrangebyrank", "nokey", "0", "1"],
    &["zremrangebyrank", "z", "a", "b"],
    &["zrem", "z", "a", "nope"],
    &["zrem", "nokey", "a"],
    &[
        "zadd", "z", "1.1", "a", "2", "b", "inf", "c", "-0", "d", "1e20", "big", "0.0001", "small",
    ],
    &[
        "zrangebyscore",
        "z",
        "(1",
        "(inf",
        "withscores",
        "limit",
        "1",
        "2",
    ],
    &["zcount", "z", "(1", "3"],
    &[
        "zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f",
    ],
    &["zrangebylex", "l", "[b", "(e"],
    &["zrangebylex", "l", "(b", "[e", "limit", "1", "2"],
    &["zrange", "z", "(1", "5", "byscore", "withscores"],
    &["zrange", "z", "0", "-1", "withscores"],
    &["zpopmin", "z"],
    &["zpopmax", "z", "2"],
    &["zpopmin", "z", "0"],
    &["zpopmin", "z", "-1"],
    &["zpopmin", "z", "1", "2"],
    &["zpopmin", "nokey"],
    &["zpopmin", "nokey", "3"],
    &["zadd", "y", "1", "a", "2", "b", "3", "c"],
    &["zmpop", "2", "nokey", "y", "min", "count", "2"],
    &["zmpop", "2", "nokey", "y", "max"],
    &["zmpop", "2", "nokey", "nokey2", "max"],
    &["zmpop", "0", "y", "min"],
    &["zmpop", "1", "y", "mid"],
    &["zmpop", "3", "y", "min"],
    &["zmpop", "1", "y", "min", "count", "0"],
    &["zmpop", "1", "y", "min", "count", "1", "count", "1"],
    &["zmpop", "1", "y", "min", "foo"],
    &["zmpop", "a", "y", "min"],
    &["zadd", "u1", "1", "a", "2", "b", "3", "c"],
    &["zadd", "u2", "10", "b", "20", "c", "30", "d"],
    &["sadd", "s1", "a", "d", "e"],
    &["zunion", "2", "u1", "u2", "withscores"],
    &["zunion", "3", "u1", "u2", "s1", "withscores"],
    &["zinter", "2", "u1", "u2", "withscores"],
    &["zinter", "3", "u1", "u2", "s1", "withscores"],
    &[
        "zinter",
        "2",
        "u1",
        "u2",
        "weights",
        "2",
        "3",
        "aggregate",
        "max",
        "withscores",
    ],
    &[
        "zinter",
        "2",
        "u1",
        "u2",
        "weights",
        "2",
        "aggregate",
        "max",
        "withscores",
    ],
    &["zunion", "2", "u1", "u2", "aggregate", "min", "withscores"],
    &["zunion", "2", "u1", "u2", "aggregate", "foo"],
    &["zunion", "2", "u1", "u2", "weights", "a", "b"],
    &["zunion", "0", "u1"],
    &["zunion", "-1", "u1"],
    &["zunion", "x", "u1"],
    &["zunion", "3", "u1", "u2"],
    &["zdiff", "2", "u1", "u2", "withscores"],
    &["zdiff", "2", "u1", "s1", "withscores"],
    &["zdiff", "2", "u1", "u2", "weights", "1", "2"],
    &["zdiff", "2", "nokey", "u2", "withscores"],
    &["zunionstore", "dst", "2", "u1", "u2", "weights", "1", "-1"],
    &["zrange", "dst", "0", "-1", "withscores"],
    &["object", "encoding", "dst"],
    &["zinterstore", "dst", "2", "u1", "nokey"],
    &["exists", "dst"],
    &["zdiffstore", "dst", "2", "u1", "u2"],
    &["zrange", "dst", "0", "-1", "withscores"],
    &["zdiffstore", "dst", "2", "u1", "u2", "withscores"],
    &["zunionstore", "dst", "0", "u1"],
    &["zinterstore", "dst", "2", "u1", "u2", "aggregate", "sum"],
    &["zrange", "dst", "0", "-1", "withscores"],
    &["zintercard", "2", "u1", "u2"],
    &["zintercard", "2", "u1", "u2", "limit", "1"],
    &["zintercard", "2", "u1", "u2", "limit", "-1"],
    &["zintercard", "2", "u1", "u2", "limit", "a"],
    &["zintercard", "0", "u1"],
    &["zintercard", "2", "u1", "u2", "withscores"],
    &["set", "str", "x"],
    &["zunion", "2", "u1", "str"],
    &["zunion", "2", "str", "u1", "weights", "x"],
    &["zunion", "2", "u1", "str", "foo"],
    &["zintercard", "2", "u1", "str"],
    &["zrangestore", "d2", "u1", "0", "-1"],
    &["zrange", "d2", "0", "-1", "withscores"],
    &["zrangestore", "d2", "u1", "0", "-1", "withscores"],
    &[
        "zrangestore",
        "d2",
        "u1",
        "5",
        "1",
        "byscore",
        "rev",
        "limit",
        "0",
        "1",
    ],
    &["zrange", "d2", "0", "-1", "withscores"],
    &["zrangestore", "d2", "nokey", "0", "-1"],
    &["exists", "d2"],
    &["zrangestore", "d2", "str", "0", "-1"],
    &["zscan", "u1", "0"],
    &["zscan", "u1", "0", "match", "a*"],
    &["zscan", "nokey", "0"],
    &["zscan", "u1", "x"],
    &["zscan", "u1", "0", "count", "0"],
    &[
        "zadd",
        "sc",
        "1.5",
        "a",
        "-inf",
        "b",
        "3.3333333333333335",
        "c",
    ],
    &["zscan", "sc", "0"],
    &["zrandmember", "nokey"],
    &["zrandmember", "nokey", "5"],
    &["zrandmember", "u1", "0"],
    &["zrandmember", "u1", "5", "withscores"],
    &["zrandmember", "u1", "a"],
    &["zrandmember", "u1", "-9223372036854775808"],
    &["zrandmember", "u1", "9223372036854775807", "withscores"],
    &["type", "u1"],
    &["object", "encoding", "u1"],
    &["zremrangebyscore", "u1", "(1", "2"],
    &["zremrangebyscore", "u1", "a", "2"],
    &["zrange", "u1", "0", "-1", "withscores"],
];

/// Encoding changes at small thresholds, and other families meeting a sorted set.
const ENCODINGS: &[&[&str]] = &[
    &["config", "set", "zset-max-listpack-entries", "3"],
    &["config", "set", "zset-max-ziplist-value", "5"],
    &["zadd", "e", "1", "a", "2", "b", "3", "c"],
    &["object", "encoding", "e"],
    &["zadd", "e", "4", "d"],
    &["object", "encoding", "e"],
    &["zrem", "e", "d", "c"],
    &["object", "encoding", "e"],
    &["zadd", "e2", "1", "abcdef"],
    &["object", "encoding", "e2"],
    &["zadd", "e3", "-0", "a"],
    &["object", "encoding", "e3"],
    &["zscore", "e3", "a"],
    &[
        "zadd", "e4", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ],
    &["zadd", "e4", "-0", "z"],
    &["zscore", "e4", "z"],
    &["zrange", "e4", "0", "-1", "withscores"],
    &["zunionstore", "e5", "1", "e4"],
    &["object", "encoding", "e5"],
    &["zrangestore", "e6", "e4", "0", "1"],
    &["object", "encoding", "e6"],
    &["zunionstore", "e7", "1", "e4", "weights", "-1"],
    &["zrange", "e7", "0", "-1", "withscores"],
    &["zunion", "1", "e4", "weights", "-1", "withscores"],
    &["zinterstore", "e8", "1", "e4"],
    &["object", "encoding", "e8"],
    &["zremrangebyrank", "e8", "0", "2"],
    &["object", "encoding", "e8"],
    &["config", "set", "zset-max-listpack-entries", "128"],
    &["config", "set", "zset-max-listpack-value", "64"],
    &["config", "set", "zset-max-listpack-value", "1kb"],
    &["config", "set", "zset-max-listpack-value", "64"],
    &["zadd", "e", "1", "a"],
    &["get", "e"],
    &["sadd", "e", "x"],
    &["hset", "e", "f", "v"],
    &["incr", "e"],
    &["append", "e", "x"],
    &["type", "e"],
    &["zadd", "h", "1", "a"],
    &["rename", "e", "e100"],
    &["type", "e100"],
    &["copy", "e100", "e101"],
    &["zrange", "e101", "0", "-1", "withscores"],
    &["object", "encoding", "e101"],
    // A member already there converts nothing, whatever the limits became.
    &["config", "set", "zset-max-listpack-entries", "128"],
    &["config", "set", "zset-max-listpack-value", "64"],
    &["zadd", "k", "1", "a", "2", "b", "1", "abcdefgh"],
    &["config", "set", "zset-max-listpack-entries", "1"],
    &["config", "set", "zset-max-listpack-value", "3"],
    &["zadd", "k", "5", "a"],
    &["zadd", "k", "7", "abcdefgh"],
    &["zincrby", "k", "1", "b"],
    &["object", "encoding", "k"],
    &["zadd", "k", "1", "c"],
    &["object", "encoding", "k"],
];

/// Runs `script` on a fresh tierd and a fresh redis-server and compares every reply.
fn compare_with_redis(script: &[&[&str]], resp3: bool) {
    let tierd = TestServer::start();
    let redis = ReferenceRedis::start();
    let (mut t, mut r) = (tierd.raw(), redis.raw());
    if resp3 {
        t.cmd(&["HELLO", "3"]);
        r.cmd(&["HELLO", "3"]);
    }
    for cmd in script {
        assert_eq!(t.cmd(cmd), r.cmd(cmd), "{cmd:?} (RESP3: {resp3})");
    }
}

#[test]
fn zset_commands_reply_as_redis() {
    compare_with_redis(SCRIPT, false);
    compare_with_redis(SCRIPT, true);
    compare_with_redis(ENCODINGS, false);
}

/// The score formats, spelled out (as redis-server 7.0.15 gives them).
#[test]
fn scores_print_as_redis_prints_them() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&[
        "ZADD",
        "z",
        "1.1",
        "a",
        "inf",
        "b",
        "-inf",
        "c",
        "1e20",
        "d",
        "123456789012345678",
        "e",
    ]);
    assert_eq!(raw.cmd(&["ZSCORE", "z", "a"]), bulk("1.1000000000000001"));
    assert_eq!(raw.cmd(&["ZSCORE", "z", "b"]), bulk("inf"));
    assert_eq!(raw.cmd(&["ZSCORE", "z", "c"]), bulk("-inf"));
    assert_eq!(raw.cmd(&["ZSCORE", "z", "d"]), bulk("1e+20"));
    assert_eq!(
        raw.cmd(&["ZSCORE", "z", "e"]),
        bulk("1.2345678901234568e+17")
    );
    assert_eq!(raw.cmd(&["ZINCRBY", "z", "1", "b"]), bulk("inf"));
    assert_eq!(
        raw.cmd(&["ZINCRBY", "z", "-inf", "b"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(
        raw.cmd(&["ZADD", "z", "nan", "x"]),
        err("ERR value is not a valid float")
    );
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(raw.cmd(&["ZSCORE", "z", "a"]), Frame::Double(1.1));
    assert_eq!(
        raw.cmd(&["ZRANGE", "z", "0", "0", "WITHSCORES"]),
        array(vec![array(vec![
            bulk("c"),
            Frame::Double(f64::NEG_INFINITY)
        ])])
    );
}

#[test]
fn encodings_follow_the_thresholds() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let members: Vec<String> = (0..128).map(|i| format!("m{i}")).collect();
    let mut cmd = vec!["ZADD", "z"];
    for m in &members {
        cmd.extend(["1", m.as_str()]);
    }
    assert_eq!(raw.cmd(&cmd), int(128));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "z"]), bulk("listpack"));
    raw.cmd(&["ZADD", "z", "2", "one-more"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    raw.cmd(&["ZREMRANGEBYRANK", "z", "0", "-3"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    // A result built whole takes the small encoding when it fits.
    raw.cmd(&["ZUNIONSTORE", "u", "1", "z"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "u"]), bulk("listpack"));
    let long = "x".repeat(65);
    raw.cmd(&["ZADD", "l", "1", &long]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "l"]), bulk("skiplist"));
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "zset-max-ziplist-entries"]),
        array(vec![bulk("zset-max-ziplist-entries"), bulk("128")])
    );
    assert_eq!(raw.cmd(&["TYPE", "z"]), Frame::Simple("zset".into()));
}

/// INFO's hot_bytes follows a sorted set: 5 bytes of header, then 4 + length + 8 a
/// member.
#[test]
fn memory_accounting_follows_the_zset() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let before = hot_bytes(&mut raw);
    raw.cmd(&["ZADD", "z", "1", "abc"]);
    assert_eq!(hot_bytes(&mut raw) - before, 5 + 15);
    raw.cmd(&["ZADD", "z", "2", "abc", "3", "de"]);
    assert_eq!(hot_bytes(&mut raw) - before, 5 + 15 + 14);
    raw.cmd(&["ZREM", "z", "abc", "de"]);
    assert_eq!(hot_bytes(&mut raw), before);
}

#[test]
fn commands_on_a_cold_zset_answer_as_on_a_hot_one() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let scripts: &[&[&str]] = &[
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZCARD", "z"],
        &["ZSCORE", "z", "b"],
        &["ZMSCORE", "z", "a", "nope"],
        &["ZRANK", "z", "c"],
        &["ZREVRANK", "z", "c"],
        &["ZCOUNT", "z", "(1", "+inf"],
        &["ZLEXCOUNT", "z", "-", "+"],
        &[
            "ZRANGEBYSCORE",
            "z",
            "1",
            "2.5",
            "WITHSCORES",
            "LIMIT",
            "1",
            "5",
        ],
        &["ZREVRANGEBYLEX", "z", "+", "[b"],
        &["ZADD", "z", "INCR", "1.5", "a"],
        &["ZINCRBY", "z", "2", "new"],
        &["ZREM", "z", "b"],
        &["ZRANGESTORE", "d", "z", "0", "1"],
        &["ZUNIONSTORE", "u", "2", "z", "t", "WEIGHTS", "1", "2"],
        &["ZINTER", "2", "z", "t", "WITHSCORES"],
        &["ZDIFF", "2", "t", "z", "WITHSCORES"],
        &["ZINTERCARD", "2", "z", "t"],
        &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "t", "2"],
        &["ZMPOP", "2", "nope", "u", "MAX", "COUNT", "2"],
        &["ZREMRANGEBYSCORE", "u", "-inf", "2"],
        &["ZRANDMEMBER", "u", "100", "WITHSCORES"],
        &["ZSCAN", "u", "0", "COUNT", "1000"],
        &["OBJECT", "ENCODING", "u"],
    ];
    let setup: &[&[&str]] = &[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "t", "5", "b", "6", "c", "7", "d"],
    ];
    let runs = hot_and_cold_replies(&mut raw, setup, &["z", "t", "u", "d"], scripts, |_, r| r);
    assert_eq!(runs[0], runs[1]);
    let tiering = info(&mut raw, &["tiering"]);
    assert_ne!(field(&tiering, "cold_reads").as_deref(), Some("0"));
}

/// ZMPOP is logged as the ZPOPMIN or ZPOPMAX of what it took, every other write as
/// sent (ZADD INCR and ZINCRBY too, as Redis 7.0 propagates them); after a restart the
/// sorted sets are what they were, and after a rewrite too (through a snapshot, where
/// a skiplist that fits the limits comes back a listpack, as from an RDB file).
#[test]
fn zsets_survive_an_aof_restart_and_a_rewrite() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut raw = server.raw();
    raw.cmd(&["ZADD", "z", "1.1", "a", "2", "b", "-inf", "c", "3", "d"]);
    raw.cmd(&["ZADD", "z", "INCR", "0.2", "a"]);
    raw.cmd(&["ZINCRBY", "z", "1", "b"]);
    raw.cmd(&["ZPOPMIN", "z"]);
    assert_eq!(
        raw.cmd(&["ZMPOP", "2", "nope", "z", "MAX", "COUNT", "10"]),
        array(vec![
            bulk("z"),
            array(vec![
                array(vec![bulk("d"), bulk("3")]),
                array(vec![bulk("b"), bulk("3")]),
                array(vec![bulk("a"), bulk("1.3")]),
            ])
        ])
    );
    raw.cmd(&["ZADD", "z", "5", "e", "6", "f"]);
    let mut big = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..300 {
        big.push(format!("{}", f64::from(i) / 7.0));
        big.push(format!("m{i}"));
    }
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    raw.cmd(&big);
    raw.cmd(&["ZREMRANGEBYRANK", "big", "2", "-1"]);
    raw.cmd(&["EXPIRE", "big", "1000"]);
    let aof = std::fs::read(last_incr(server.dir())).expect("the AOF increment");
    let aof = String::from_utf8_lossy(&aof);
    assert!(
        aof.contains("$7\r\nZPOPMAX\r\n$1\r\nz\r\n$1\r\n3\r\n"),
        "{aof}"
    );
    assert!(!aof.to_ascii_uppercase().contains("ZMPOP"), "{aof}");
    assert!(aof.contains("$4\r\nINCR\r\n"), "{aof}");
    let want = raw.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
    let want_big = raw.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]);
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "big"]), bulk("skiplist"));
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut raw = again.raw();
    assert_eq!(raw.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), want);
    assert_eq!(
        raw.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]),
        want_big
    );
    rewrite_aof(&mut raw);
    let dir = again.kill9();
    let third = TestServer::start_in(dir, &[]);
    let mut raw = third.raw();
    assert_eq!(raw.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), want);
    assert_eq!(
        raw.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]),
        want_big
    );
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "big"]), bulk("listpack"));
    assert!(matches!(raw.cmd(&["TTL", "big"]), Frame::Integer(n) if n > 900));
}

/// ZUNIONSTORE names a destination and counted keys: COMMAND GETKEYS and INFO show
/// both, and EXEC loads every cold source before it runs.
#[test]
fn store_commands_name_their_destination_and_sources() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&[
            "COMMAND",
            "GETKEYS",
            "ZUNIONSTORE",
            "d",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2"
        ]),
        array(vec![bulk("d"), bulk("a"), bulk("b")])
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"]),
        array(vec![bulk("a"), bulk("b")])
    );
    // As Redis: the legacy triple names the destination; movablekeys, not no_multi.
    let Frame::Array(info) = raw.cmd(&["COMMAND", "INFO", "ZUNIONSTORE"]) else {
        panic!("COMMAND INFO replies with an array")
    };
    let Some(Frame::Array(entry)) = info.first() else {
        panic!("one entry: {info:?}")
    };
    assert_eq!(
        entry[2],
        array(vec![
            Frame::Simple("write".into()),
            Frame::Simple("denyoom".into()),
            Frame::Simple("movablekeys".into()),
        ])
    );
    assert_eq!(entry[3..6], [int(1), int(1), int(1)]);
    let keys: Vec<String> = (0..12).map(|i| format!("z{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        raw.cmd(&["ZADD", k, "1", "a", "2", "b", &i.to_string(), "c"]);
    }
    let mut demote = vec!["DEBUG", "DEMOTE"];
    demote.extend(keys.iter().map(String::as_str));
    assert_eq!(raw.cmd(&demote), int(12));
    raw.cmd(&["MULTI"]);
    let mut cmd = vec!["ZINTERSTORE", "dst", "12"];
    cmd.extend(keys.iter().map(String::as_str));
    raw.cmd(&cmd);
    raw.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    assert_eq!(
        raw.cmd(&["EXEC"]),
        array(vec![
            int(3),
            array(vec![
                bulk("a"),
                bulk("12"),
                bulk("b"),
                bulk("24"),
                bulk("c"),
                bulk("66")
            ])
        ])
    );
}

/// BZPOPMIN, BZPOPMAX and BZMPOP answer as Redis's: at once when a key holds a
/// sorted set, the null array after a timeout or inside MULTI, Redis's errors; a
/// blocked client is woken by another's ZADD, the first blocked first; and the pops
/// are logged so that a restart finds what was left.
#[test]
fn blocking_pops_match_redis_and_wake_in_order() {
    let tierd = TestServer::start_with(&["--appendfsync", "always"]);
    let redis = ReferenceRedis::start();
    let script: &[&[&str]] = &[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMAX", "nokey", "z", "0"],
        &["BZPOPMIN", "none", "0.05"],
        &["BZMPOP", "0", "2", "none", "z", "MIN"],
        &["BZMPOP", "0.05", "1", "none", "MAX", "COUNT", "2"],
        &["BZPOPMIN", "z"],
        &["BZPOPMIN", "z", "-1"],
        &["BZPOPMIN", "z", "abc"],
        &["SET", "s", "x"],
        &["BZPOPMIN", "s", "0"],
        &["BZMPOP", "0", "0", "z", "MIN"],
        &["BZMPOP", "0", "1", "z", "FOO"],
        &["MULTI"],
        &["BZPOPMIN", "none", "0"],
        &["BZMPOP", "0", "1", "none", "MIN"],
        &["EXEC"],
    ];
    assert_script_matches_redis(&tierd, &redis, script);
    // Two clients blocked on one key: a ZADD of one member serves the first, the
    // next ZADD the second.
    let mut first = tierd.raw();
    let mut second = tierd.raw();
    let mut writer = tierd.raw();
    first.send(&encode_command(&[b"BZPOPMAX", b"w", b"0"]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    second.send(&encode_command(&[b"BZPOPMIN", b"w", b"0"]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(writer.cmd(&["ZADD", "w", "9", "x"]), int(1));
    assert_eq!(
        first.read_frame(),
        Some(array(vec![bulk("w"), bulk("x"), bulk("9")]))
    );
    assert_eq!(writer.cmd(&["ZADD", "w", "5", "y", "7", "q"]), int(2));
    assert_eq!(
        second.read_frame(),
        Some(array(vec![bulk("w"), bulk("y"), bulk("5")]))
    );
    let dir = tierd.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    assert_eq!(
        again.raw().cmd(&["ZRANGE", "w", "0", "-1", "WITHSCORES"]),
        array(vec![bulk("q"), bulk("7")])
    );
}
