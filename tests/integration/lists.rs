//! The list family against a real tierd and a real redis-server 7.0.15 side by side:
//! every command's replies and errors compared with Redis's, the same commands on a
//! list demoted to the cold tier, the blocking pops (wake by another client's push in
//! arrival order, several clients served by one push, timeouts, a disconnect while
//! blocked, inside MULTI, woken after an EXEC, by LMOVE, RENAME and SWAPDB, CLIENT
//! UNBLOCK, CLIENT LIST and INFO), how they are logged, and lists surviving an AOF
//! restart and a snapshot.

use crate::harness::*;
use std::thread::sleep;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// Runs each command of `script` on a fresh tierd and a fresh redis-server and checks
/// every reply is the same.
fn same_as_redis(script: &[&[&str]]) {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    let (mut tier, mut redis) = (server.raw(), reference.raw());
    for cmd in script {
        let (ours, theirs) = (tier.cmd(cmd), redis.cmd(cmd));
        if cmd[0] == "HELLO" {
            // Client ids differ.
            assert!(matches!((&ours, &theirs), (Frame::Map(_), Frame::Map(_))));
            continue;
        }
        assert_eq!(ours, theirs, "{cmd:?}");
    }
}

#[test]
fn list_commands_reply_as_redis() {
    same_as_redis(&[
        &["RPUSH", "l", "a", "b", "c", "a", "d", "a"],
        &["LPUSH", "l", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "l", "-100", "100"],
        &["LRANGE", "l", "2", "1"],
        &["LRANGE", "l", "-2", "-1"],
        &["LRANGE", "l", "x", "1"],
        &["LRANGE", "none", "0", "-1"],
        &["LRANGE", "none", "x", "1"],
        &["LINDEX", "l", "-1"],
        &["LINDEX", "l", "10"],
        &["LINDEX", "l", "-10"],
        &["LINDEX", "none", "x"],
        &["LINDEX", "l", "x"],
        &["LLEN", "l"],
        &["LLEN", "none"],
        &["LPOS", "l", "a"],
        &["LPOS", "l", "a", "RANK", "-1"],
        &["LPOS", "l", "a", "RANK", "2", "COUNT", "0"],
        &["LPOS", "l", "a", "COUNT", "2", "MAXLEN", "4"],
        &[
            "LPOS",
            "l",
            "a",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "0",
        ],
        &["LPOS", "l", "a", "RANK", "-9223372036854775808"],
        &["LPOS", "l", "a", "RANK", "-2", "COUNT", "2"],
        &["LPOS", "l", "a", "RANK", "5"],
        &["LPOS", "l", "a", "rank", "0"],
        &["LPOS", "l", "a", "COUNT", "-1"],
        &["LPOS", "l", "a", "MAXLEN", "x"],
        &["LPOS", "l", "a", "RANK"],
        &["LPOS", "l", "a", "FOO", "1"],
        &["LPOS", "none", "a"],
        &["LPOS", "none", "a", "COUNT", "1"],
        &["LPOS", "none", "a", "RANK", "0"],
        &["LINSERT", "l", "BEFORE", "a", "X"],
        &["LINSERT", "l", "after", "a", "Y"],
        &["LINSERT", "l", "AFTER", "d", "E"],
        &["LINSERT", "l", "AFTER", "zz", "Y"],
        &["LINSERT", "l", "MIDDLE", "a", "Y"],
        &["LINSERT", "none", "BEFORE", "a", "Y"],
        &["LINSERT", "none", "MIDDLE", "a", "Y"],
        &["LRANGE", "l", "0", "-1"],
        &["LREM", "l", "2", "a"],
        &["LREM", "l", "-1", "a"],
        &["LREM", "l", "0", "nothing"],
        &["LREM", "l", "x", "a"],
        &["LREM", "none", "1", "a"],
        &["LRANGE", "l", "0", "-1"],
        &["LSET", "l", "0", "Q"],
        &["LSET", "l", "-1", "T"],
        &["LSET", "l", "99", "Q"],
        &["LSET", "none", "0", "Q"],
        &["LSET", "l", "x", "Q"],
        &["LRANGE", "l", "0", "-1"],
        &["LTRIM", "l", "1", "-2"],
        &["LRANGE", "l", "0", "-1"],
        &["LTRIM", "l", "0", "-1"],
        &["LTRIM", "l", "x", "1"],
        &["LTRIM", "none", "0", "1"],
        &["LTRIM", "l", "5", "1"],
        &["EXISTS", "l"],
        &["RPUSH", "l", "1", "2", "3", "4", "5", "6"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LPOP", "l", "0"],
        &["LPOP", "l", "-1"],
        &["LPOP", "l", "x"],
        &["LPOP", "l", "1", "2"],
        &["LPOP", "l", "10"],
        &["LPOP", "l"],
        &["LPOP", "l", "1"],
        &["RPOP", "l", "0"],
        &["RPUSHX", "l", "a"],
        &["LPUSHX", "l", "a", "b"],
        &["LPUSH", "l", "a"],
        &["LPUSHX", "l", "b", "c"],
        &["RPUSHX", "l", "d"],
        &["LRANGE", "l", "0", "-1"],
        &["RPOPLPUSH", "l", "l"],
        &["LRANGE", "l", "0", "-1"],
        &["RPUSH", "src", "1", "2", "3"],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "right", "left"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "src", "src", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "LEFT", "MIDDLE"],
        &["LMOVE", "none", "dst", "LEFT", "LEFT"],
        &["RPOPLPUSH", "none", "dst"],
        &["SET", "s", "string"],
        &["LMOVE", "src", "s", "LEFT", "LEFT"],
        &["LMOVE", "s", "src", "LEFT", "LEFT"],
        &["LRANGE", "src", "0", "-1"],
        &["RPOPLPUSH", "src", "fresh"],
        &["EXISTS", "src"],
        &["LRANGE", "fresh", "0", "-1"],
        &["RPUSH", "m", "1", "2", "3"],
        &["LMPOP", "2", "none", "m", "LEFT", "COUNT", "2"],
        &["LMPOP", "2", "none", "m", "RIGHT", "COUNT", "9"],
        &["LMPOP", "2", "none", "m", "RIGHT"],
        &["LMPOP", "2", "none", "s", "RIGHT"],
        &["LMPOP", "2", "fresh", "s", "left"],
        &["LMPOP", "0", "m", "LEFT"],
        &["LMPOP", "-1", "m", "LEFT"],
        &["LMPOP", "x", "m", "LEFT"],
        &["LMPOP", "2", "m", "LEFT"],
        &["LMPOP", "1", "m", "UP"],
        &["LMPOP", "1", "m", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "m", "LEFT", "COUNT", "x"],
        &["LMPOP", "1", "m", "LEFT", "COUNT", "1", "COUNT", "1"],
        &["LMPOP", "1", "m", "LEFT", "COUNT"],
        &["LMPOP", "1", "m", "LEFT", "FOO"],
        &["LMPOP", "1"],
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["HSET", "h", "f", "v"],
        &["LLEN", "h"],
        &["RPUSH", "t", "x"],
        &["GET", "t"],
        &["HGET", "t", "f"],
        &["SADD", "t", "m"],
        &["TYPE", "t"],
        &["OBJECT", "ENCODING", "t"],
        &["RENAME", "t", "t2"],
        &["LRANGE", "t2", "0", "-1"],
        &["COPY", "t2", "t3"],
        &["LPUSH", "t3", "y"],
        &["LRANGE", "t2", "0", "-1"],
        &["MOVE", "t3", "1"],
        &["SELECT", "1"],
        &["LRANGE", "t3", "0", "-1"],
        &["SELECT", "0"],
        &["BLPOP", "none", "0.01"],
        &["BLPOP", "none", "s", "0"],
        &["BLPOP", "dst", "none", "0"],
        &["BLPOP", "none", "x"],
        &["BLPOP", "none", "-1"],
        &["BLPOP", "none", "inf"],
        &["BLPOP", "none", "nan"],
        &["BLPOP", "none", "1e30"],
        &["BLPOP", "none", "9223372036854776"],
        &["BLPOP", "none", "0.0001"],
        &["BRPOP", "none", "0.01"],
        &["RPUSH", "b", "1", "2", "3"],
        &["BLPOP", "none", "b", "0"],
        &["BRPOP", "b", "0"],
        &["BRPOPLPUSH", "none", "x", "0.01"],
        &["BRPOPLPUSH", "b", "x", "0"],
        &["BRPOPLPUSH", "s", "x", "0"],
        &["BRPOPLPUSH", "x", "s", "0"],
        &["BLMOVE", "none", "x", "LEFT", "LEFT", "0.01"],
        &["BLMOVE", "none", "x", "LEFT", "UP", "x"],
        &["BLMOVE", "x", "y", "RIGHT", "LEFT", "0"],
        &["BLMPOP", "0.01", "1", "none", "LEFT"],
        &["BLMPOP", "x", "1", "none", "LEFT"],
        &["BLMPOP", "0", "0", "none", "LEFT"],
        &["BLMPOP", "0", "1", "y", "LEFT", "COUNT", "5"],
        &["LLEN", "y"],
        &["OBJECT", "ENCODING", "y"],
    ]);
}

/// RESP3's nulls, an empty list's reply, and a list far past a quicklist node.
#[test]
fn resp3_and_a_long_list_reply_as_redis() {
    let long: Vec<String> = (0..3000).map(|i| format!("element-{i}")).collect();
    let mut push = vec!["RPUSH", "long"];
    push.extend(long.iter().map(String::as_str));
    same_as_redis(&[
        &["HELLO", "3"],
        &["LPOP", "none"],
        &["LPOP", "none", "2"],
        &["LMPOP", "1", "none", "LEFT"],
        &["BLPOP", "none", "0.01"],
        &["LINDEX", "none", "0"],
        &push,
        &["LLEN", "long"],
        &["LINDEX", "long", "1500"],
        &["LINDEX", "long", "-2999"],
        &["LRANGE", "long", "1495", "1505"],
        &["LSET", "long", "2000", "changed"],
        &["LPOS", "long", "changed"],
        &["LINSERT", "long", "BEFORE", "element-2500", "new"],
        &["LREM", "long", "-1", "element-10"],
        &["LTRIM", "long", "100", "-100"],
        &["LRANGE", "long", "1895", "-1"],
        &["OBJECT", "ENCODING", "long"],
        &["LPOP", "long", "5"],
        &["RPOP", "long", "5"],
        &["LLEN", "long"],
    ]);
}

/// Memory accounting follows the list: 5 bytes of header, 4 + length an element.
#[test]
fn memory_accounting_follows_the_list() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let hot = |raw: &mut RawClient| number(&info(raw, &["tiering"]), "hot_bytes") as i64;
    let before = hot(&mut raw);
    raw.cmd(&["RPUSH", "l", "0123456789", "x"]);
    assert_eq!(hot(&mut raw) - before, 5 + 14 + 5);
    raw.cmd(&["LSET", "l", "0", "0"]);
    assert_eq!(hot(&mut raw) - before, 5 + 5 + 5);
    raw.cmd(&["LPOP", "l"]);
    assert_eq!(hot(&mut raw) - before, 5 + 5);
    raw.cmd(&["RPOP", "l"]);
    assert_eq!(hot(&mut raw), before);
}

/// The same scripts on a list in RAM and on the same list demoted before each
/// command: identical replies.
#[test]
fn commands_on_a_cold_list_answer_as_on_a_hot_one() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    let scripts: &[&[&str]] = &[
        &["LRANGE", "l", "0", "-1"],
        &["LLEN", "l"],
        &["LINDEX", "l", "1"],
        &["LPOS", "l", "b", "COUNT", "0"],
        &["LPUSH", "l", "z"],
        &["RPUSH", "l", "y"],
        &["LSET", "l", "1", "Q"],
        &["LINSERT", "l", "AFTER", "Q", "R"],
        &["LREM", "l", "1", "b"],
        &["LTRIM", "l", "0", "8"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LMOVE", "l", "other", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "l"],
        &["LMPOP", "2", "none", "l", "LEFT"],
        &["BLPOP", "none", "l", "0"],
        &["BLMOVE", "l", "l", "RIGHT", "LEFT", "0"],
        &["TYPE", "l"],
        &["OBJECT", "ENCODING", "l"],
        &["GET", "l"],
        &["LRANGE", "l", "0", "-1"],
    ];
    let setup: &[&[&str]] = &[
        &["DEL", "l", "other"],
        &["RPUSH", "l", "a", "b", "c", "b", "d", "e", "f", "g"],
    ];
    // Then where LMOVE and friends put elements.
    let scripts = [scripts, &[&["LRANGE", "other", "0", "-1"][..]]].concat();
    let runs = hot_and_cold_replies(&mut raw, setup, &["l"], &scripts, |_, r| r);
    assert_eq!(runs[0], runs[1]);
    let tiering = info(&mut raw, &["tiering"]);
    assert_ne!(field(&tiering, "cold_reads").as_deref(), Some("0"));
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(raw: &mut RawClient, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while number(&info(raw, &["clients"]), "blocked_clients") != n {
        assert!(Instant::now() < deadline, "never {n} blocked clients");
        sleep(Duration::from_millis(5));
    }
}

/// A client blocked on a key is served by another client's push, and several blocked
/// clients by one push of several elements, in the order they blocked; other clients
/// go on meanwhile. The same on redis-server.
#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    for port in [server.port, reference.port] {
        let mut control = RawClient::connect(port);
        let mut waiters: Vec<RawClient> = (0..3).map(|_| RawClient::connect(port)).collect();
        for (i, w) in waiters.iter_mut().enumerate() {
            w.send(&encode_command(&[b"BLPOP", b"other", b"k", b"0"]));
            wait_blocked(&mut control, i as u64 + 1);
        }
        // Not stalled by the blocked clients.
        assert_eq!(control.cmd(&["SET", "x", "1"]), ok());
        assert_eq!(control.cmd(&["RPUSH", "k", "1", "2", "3", "4"]), int(4));
        for (w, want) in waiters.iter_mut().zip(["1", "2", "3"]) {
            assert_eq!(w.read_frame(), Some(bulks(&["k", want])), "port {port}");
        }
        wait_blocked(&mut control, 0);
        assert_eq!(control.cmd(&["LRANGE", "k", "0", "-1"]), bulks(&["4"]));
        // One element for two: the first served, the second still waits.
        control.cmd(&["DEL", "k"]);
        waiters[0].send(&encode_command(&[b"BRPOP", b"k", b"0"]));
        wait_blocked(&mut control, 1);
        waiters[1].send(&encode_command(&[
            b"BLMPOP", b"0", b"1", b"k", b"LEFT", b"COUNT", b"5",
        ]));
        wait_blocked(&mut control, 2);
        control.cmd(&["LPUSH", "k", "only"]);
        assert_eq!(waiters[0].read_frame(), Some(bulks(&["k", "only"])));
        wait_blocked(&mut control, 1);
        control.cmd(&["RPUSH", "k", "a", "b"]);
        assert_eq!(
            waiters[1].read_frame(),
            Some(array(vec![bulk("k"), bulks(&["a", "b"])]))
        );
        wait_blocked(&mut control, 0);
    }
}

/// Timeouts answer a null array (RESP3: null) once they expire, not before; a
/// client keeps its pipeline order.
#[test]
fn timeouts_expire_with_a_null() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let started = Instant::now();
    assert_eq!(raw.cmd(&["BLPOP", "k", "0.2"]), nil());
    assert!(started.elapsed() >= Duration::from_millis(200));
    let started = Instant::now();
    raw.send(&encode_command(&[b"BRPOPLPUSH", b"k", b"d", b"0.1"]));
    raw.send(&encode_command(&[b"PING"]));
    assert_eq!(raw.read_frame(), Some(nil()));
    assert_eq!(raw.read_frame(), Some(Frame::Simple("PONG".into())));
    assert!(started.elapsed() >= Duration::from_millis(100));
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(raw.cmd(&["BLMPOP", "0.05", "1", "k", "LEFT"]), nil());
    assert_eq!(
        raw.cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"]),
        nil()
    );
}

/// The bytes of the replies to `script`, sent at once on a new connection to `port`.
fn reply_bytes(port: u16, script: &[&[&str]]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for cmd in script {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        stream.write_all(&encode_command(&args)).expect("write");
    }
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

/// Nulls as bytes, where a decoded frame cannot tell `$-1` from `*-1`: missing keys,
/// timeouts, and blocking commands inside MULTI, in RESP2 and RESP3.
#[test]
fn nulls_byte_for_byte() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    let script: &[&[&str]] = &[
        &["LPOP", "none"],
        &["LPOP", "none", "2"],
        &["LINDEX", "none", "0"],
        &["LPOS", "none", "a"],
        &["RPOPLPUSH", "none", "d"],
        &["LMOVE", "none", "d", "LEFT", "LEFT"],
        &["LMPOP", "1", "none", "LEFT"],
        &["BLPOP", "none", "0.01"],
        &["BRPOPLPUSH", "none", "d", "0.01"],
        &["BLMOVE", "none", "d", "LEFT", "LEFT", "0.01"],
        &["BLMPOP", "0.01", "1", "none", "LEFT"],
        &["MULTI"],
        &["BLPOP", "none", "0"],
        &["BRPOPLPUSH", "none", "d", "0"],
        &["BLMOVE", "none", "d", "LEFT", "LEFT", "0"],
        &["BLMPOP", "0", "1", "none", "LEFT"],
        &["EXEC"],
    ];
    let mut resp3 = vec![&["HELLO", "3"][..]];
    resp3.extend_from_slice(script);
    // After HELLO's reply, which names each server's own client id.
    let after_hello = |bytes: Vec<u8>| {
        let text = String::from_utf8(bytes).expect("ASCII replies");
        match text.split_once("$7\r\nmodules\r\n*0\r\n") {
            Some((_, rest)) => rest.to_owned(),
            None => text,
        }
    };
    for script in [script, &resp3[..]] {
        let ours = after_hello(reply_bytes(server.port, script));
        let theirs = after_hello(reply_bytes(reference.port, script));
        assert_eq!(ours, theirs);
        assert!(
            ours.contains("+QUEUED"),
            "the whole script answered: {ours}"
        );
    }
}

/// A client that disconnects while blocked leaves the line: the next push stays in
/// the list, and the client after it in line is served.
#[test]
fn a_disconnect_while_blocked_leaves_the_line() {
    let server = TestServer::start();
    let mut control = server.raw();
    let mut gone = server.raw();
    gone.send(&encode_command(&[b"BLPOP", b"k", b"100"]));
    wait_blocked(&mut control, 1);
    let mut next = server.raw();
    next.send(&encode_command(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut control, 2);
    let timed = |raw: &mut RawClient| number(&info(raw, &["clients"]), "clients_in_timeout_table");
    assert_eq!(timed(&mut control), 1);
    drop(gone);
    wait_blocked(&mut control, 1);
    assert_eq!(timed(&mut control), 0);
    control.cmd(&["RPUSH", "k", "a", "b"]);
    assert_eq!(next.read_frame(), Some(bulks(&["k", "a"])));
    wait_blocked(&mut control, 0);
    assert_eq!(control.cmd(&["LRANGE", "k", "0", "-1"]), bulks(&["b"]));
    // Killed while blocked: the same.
    let mut killed = server.raw();
    let Frame::Integer(id) = killed.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID is an integer");
    };
    killed.send(&encode_command(&[b"BLPOP", b"none", b"0"]));
    wait_blocked(&mut control, 1);
    assert_eq!(
        control.cmd(&["CLIENT", "KILL", "ID", &id.to_string()]),
        int(1)
    );
    wait_blocked(&mut control, 0);
}

/// Inside MULTI a blocking command never blocks: it answers as if it timed out (a
/// null array; BRPOPLPUSH and BLMOVE a null), as redis-server does. A push inside an
/// EXEC wakes a client blocked outside once the EXEC is over.
#[test]
fn blocking_inside_and_around_multi() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    for port in [server.port, reference.port] {
        let mut raw = RawClient::connect(port);
        raw.cmd(&["MULTI"]);
        for cmd in [
            &["BLPOP", "k", "0"][..],
            &["BRPOPLPUSH", "k", "d", "0"],
            &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
            &["BLMPOP", "0", "1", "k", "LEFT"],
            &["RPUSH", "k", "a"],
            &["BRPOP", "k", "0"],
        ] {
            assert_eq!(raw.cmd(cmd), Frame::Simple("QUEUED".into()));
        }
        assert_eq!(
            raw.cmd(&["EXEC"]),
            array(vec![nil(), nil(), nil(), nil(), int(1), bulks(&["k", "a"]),]),
            "port {port}"
        );
        let mut waiter = RawClient::connect(port);
        waiter.send(&encode_command(&[b"BLPOP", b"k", b"0"]));
        wait_blocked(&mut raw, 1);
        raw.cmd(&["MULTI"]);
        raw.cmd(&["RPUSH", "k", "x"]);
        raw.cmd(&["RPUSH", "k", "y"]);
        assert_eq!(raw.cmd(&["EXEC"]), array(vec![int(1), int(2)]));
        assert_eq!(waiter.read_frame(), Some(bulks(&["k", "x"])));
        assert_eq!(raw.cmd(&["LRANGE", "k", "0", "-1"]), bulks(&["y"]));
    }
}

/// LMOVE, RENAME, SWAPDB, MOVE and BLMOVE chains wake a client blocked on the key they
/// fill; a SET of another type does not.
#[test]
fn other_writes_that_fill_a_key_wake_its_waiters() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    for port in [server.port, reference.port] {
        let mut raw = RawClient::connect(port);
        let mut waiter = RawClient::connect(port);
        raw.cmd(&["RPUSH", "src", "1", "2", "3", "4"]);
        let blpop = encode_command(&[b"BLPOP", b"k", b"0"]);
        waiter.send(&blpop);
        wait_blocked(&mut raw, 1);
        raw.cmd(&["SET", "k", "string"]);
        raw.cmd(&["DEL", "k"]);
        raw.cmd(&["LMOVE", "src", "k", "LEFT", "LEFT"]);
        assert_eq!(waiter.read_frame(), Some(bulks(&["k", "1"])), "port {port}");
        waiter.send(&blpop);
        wait_blocked(&mut raw, 1);
        raw.cmd(&["RENAME", "src", "k"]);
        assert_eq!(waiter.read_frame(), Some(bulks(&["k", "2"])));
        // SWAPDB: the key waited on in db 0 holds a list after the swap.
        raw.cmd(&["SELECT", "1"]);
        raw.cmd(&["RPUSH", "s", "from-db1"]);
        raw.cmd(&["SELECT", "0"]);
        waiter.send(&encode_command(&[b"BLPOP", b"s", b"0"]));
        wait_blocked(&mut raw, 1);
        raw.cmd(&["SWAPDB", "0", "1"]);
        assert_eq!(waiter.read_frame(), Some(bulks(&["s", "from-db1"])));
        raw.cmd(&["SWAPDB", "0", "1"]);
        // MOVE into the waited database.
        waiter.send(&encode_command(&[
            b"BLMOVE", b"m", b"chain", b"RIGHT", b"LEFT", b"0",
        ]));
        wait_blocked(&mut raw, 1);
        let mut chained = RawClient::connect(port);
        chained.send(&encode_command(&[b"BLPOP", b"chain", b"0"]));
        wait_blocked(&mut raw, 2);
        raw.cmd(&["SELECT", "1"]);
        raw.cmd(&["RPUSH", "m", "moved"]);
        assert_eq!(raw.cmd(&["MOVE", "m", "0"]), int(1));
        raw.cmd(&["SELECT", "0"]);
        assert_eq!(waiter.read_frame(), Some(bulk("moved")));
        assert_eq!(chained.read_frame(), Some(bulks(&["chain", "moved"])));
        wait_blocked(&mut raw, 0);
        raw.cmd(&["FLUSHALL"]);
    }
}

/// CLIENT LIST shows a blocked client with flag `b`; CLIENT UNBLOCK ends its wait as
/// a timeout or with an error, and answers 0 for a client not blocked.
#[test]
fn client_unblock_and_client_list() {
    let server = TestServer::start();
    let mut control = server.raw();
    let mut blocked = server.raw();
    let Frame::Integer(id) = blocked.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID is an integer");
    };
    let id = id.to_string();
    assert_eq!(control.cmd(&["CLIENT", "UNBLOCK", &id]), int(0));
    blocked.send(&encode_command(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut control, 1);
    let Frame::Bulk(list) = control.cmd(&["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST is a bulk string");
    };
    let line = String::from_utf8_lossy(&list).into_owned();
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=blpop "), "{line}");
    assert_eq!(control.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), int(1));
    assert_eq!(blocked.read_frame(), Some(nil()));
    wait_blocked(&mut control, 0);
    blocked.send(&encode_command(&[b"BRPOPLPUSH", b"k", b"d", b"0"]));
    wait_blocked(&mut control, 1);
    assert_eq!(control.cmd(&["CLIENT", "UNBLOCK", &id, "error"]), int(1));
    assert_eq!(
        blocked.read_frame(),
        Some(err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    );
    let Frame::Bulk(list) = control.cmd(&["CLIENT", "LIST", "ID", &id]) else {
        panic!("CLIENT LIST is a bulk string");
    };
    assert!(String::from_utf8_lossy(&list).contains(" flags=N "));
    same_as_redis(&[
        &["CLIENT", "UNBLOCK"],
        &["CLIENT", "UNBLOCK", "x"],
        &["CLIENT", "UNBLOCK", "99999"],
        &["CLIENT", "UNBLOCK", "x", "foo"],
        &["CLIENT", "UNBLOCK", "99999", "ERROR"],
        &["CLIENT", "UNBLOCK", "1", "2", "3"],
    ]);
}

/// Blocking pops reach the AOF as their non-blocking forms, as Redis 7.0 propagates
/// them; lists come back whole after a restart, and through a rewrite's snapshot.
#[test]
fn lists_survive_an_aof_restart_and_a_rewrite() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut raw = server.raw();
    let mut waiter = server.raw();
    raw.cmd(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
    raw.cmd(&["LPUSH", "l", "z"]);
    raw.cmd(&["LSET", "l", "1", "A"]);
    raw.cmd(&["LINSERT", "l", "BEFORE", "c", "C"]);
    raw.cmd(&["LREM", "l", "1", "d"]);
    raw.cmd(&["LTRIM", "l", "0", "4"]);
    assert_eq!(raw.cmd(&["BLPOP", "l", "0"]), bulks(&["l", "z"]));
    assert_eq!(
        raw.cmd(&["BLMOVE", "l", "m", "RIGHT", "LEFT", "0"]),
        bulk("c")
    );
    assert_eq!(raw.cmd(&["BRPOPLPUSH", "l", "m", "0"]), bulk("C"));
    assert_eq!(
        raw.cmd(&["LMPOP", "1", "m", "RIGHT", "COUNT", "9"]),
        array(vec![bulk("m"), bulks(&["c", "C"])])
    );
    waiter.send(&encode_command(&[
        b"BLMPOP", b"0", b"1", b"w", b"LEFT", b"COUNT", b"2",
    ]));
    wait_blocked(&mut raw, 1);
    raw.cmd(&["RPUSH", "w", "1", "2", "3"]);
    assert_eq!(
        waiter.read_frame(),
        Some(array(vec![bulk("w"), bulks(&["1", "2"])]))
    );
    raw.cmd(&["RPUSH", "big", "x"]);
    let many: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let mut push = vec!["RPUSH", "big"];
    push.extend(many.iter().map(String::as_str));
    raw.cmd(&push);
    raw.cmd(&["EXPIRE", "big", "1000"]);
    let want = raw.cmd(&["LRANGE", "l", "0", "-1"]);
    assert_eq!(want, bulks(&["A", "b"]));
    let log = std::fs::read(last_incr(server.dir())).expect("the increment");
    let log = String::from_utf8_lossy(&log);
    for logged in [
        "$4\r\nLPOP\r\n$1\r\nl\r\n",
        "$5\r\nLMOVE\r\n",
        "$9\r\nRPOPLPUSH\r\n",
        "$4\r\nRPOP\r\n$1\r\nm\r\n$1\r\n2\r\n",
        "$4\r\nLPOP\r\n$1\r\nw\r\n$1\r\n2\r\n",
    ] {
        assert!(log.contains(logged), "{logged:?} not in the AOF");
    }
    for never in ["BLPOP", "BLMOVE", "BRPOPLPUSH", "LMPOP", "BLMPOP"] {
        assert!(!log.contains(never), "{never} in the AOF");
    }
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut raw = again.raw();
    assert_eq!(raw.cmd(&["LRANGE", "l", "0", "-1"]), want);
    assert_eq!(raw.cmd(&["LRANGE", "w", "0", "-1"]), bulks(&["3"]));
    assert_eq!(raw.cmd(&["EXISTS", "m"]), int(0));
    assert_eq!(raw.cmd(&["LLEN", "big"]), int(2001));
    rewrite_aof(&mut raw);
    let dir = again.kill9();
    let third = TestServer::start_in(dir, &[]);
    let mut raw = third.raw();
    assert_eq!(raw.cmd(&["LRANGE", "l", "0", "-1"]), want);
    assert_eq!(raw.cmd(&["LINDEX", "big", "2000"]), bulk("1999"));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "big"]), bulk("quicklist"));
    assert!(matches!(raw.cmd(&["TTL", "big"]), Frame::Integer(n) if n > 900));
}

/// COMMAND INFO and DOCS of the list commands as redis-server 7.0.15 reports them:
/// arity, flags (less `noscript`, which tierd does not model), key positions, ACL
/// categories; summary, version, group and complexity.
#[test]
fn command_info_and_docs_as_redis() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    let (mut tier, mut redis) = (server.raw(), reference.raw());
    let without_noscript = |f: &Frame| match f {
        Frame::Array(items) => Frame::Array(
            items
                .iter()
                .filter(|i| **i != Frame::Simple("noscript".into()))
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    };
    for name in [
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "llen",
        "lrange",
        "lindex",
        "lset",
        "linsert",
        "lrem",
        "ltrim",
        "lpos",
        "rpoplpush",
        "lmove",
        "lmpop",
        "blpop",
        "brpop",
        "brpoplpush",
        "blmove",
        "blmpop",
    ] {
        let info = |raw: &mut RawClient| match raw.cmd(&["COMMAND", "INFO", name]) {
            Frame::Array(mut infos) => match infos.remove(0) {
                Frame::Array(fields) => fields,
                other => panic!("{name}: {other:?}"),
            },
            other => panic!("{name}: {other:?}"),
        };
        let (ours, theirs) = (info(&mut tier), info(&mut redis));
        assert_eq!(ours[..2], theirs[..2], "{name}");
        assert_eq!(
            without_noscript(&ours[2]),
            without_noscript(&theirs[2]),
            "{name}"
        );
        assert_eq!(ours[3..7], theirs[3..7], "{name}");
        let docs = |raw: &mut RawClient| match raw.cmd(&["COMMAND", "DOCS", name]) {
            Frame::Array(docs) => match &docs[1] {
                Frame::Array(fields) => fields[..8].to_vec(),
                other => panic!("{name}: {other:?}"),
            },
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(docs(&mut tier), docs(&mut redis), "{name}");
    }
}

/// SCAN with TYPE list finds the lists, and only them.
#[test]
fn scan_type_list() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["RPUSH", "l1", "a"]);
    raw.cmd(&["LPUSH", "l2", "b"]);
    raw.cmd(&["SET", "s", "x"]);
    raw.cmd(&["HSET", "h", "f", "v"]);
    let mut found = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let Frame::Array(step) = raw.cmd(&["SCAN", &cursor, "TYPE", "list"]) else {
            panic!("SCAN is an array");
        };
        let (Frame::Bulk(next), Frame::Array(keys)) = (&step[0], &step[1]) else {
            panic!("SCAN's reply: {step:?}");
        };
        found.extend(keys.iter().cloned());
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    found.sort_by_key(|f| format!("{f:?}"));
    assert_eq!(found, vec![bulk("l1"), bulk("l2")]);
}

#[test]
fn wrongtype_between_lists_and_other_families() {
    same_as_redis(&[
        &["RPUSH", "l", "a"],
        &["GET", "l"],
        &["APPEND", "l", "x"],
        &["INCR", "l"],
        &["HGET", "l", "f"],
        &["SMEMBERS", "l"],
        &["SADD", "set", "m"],
        &["LPUSH", "set", "x"],
        &["BLPOP", "set", "0"],
        &["LMOVE", "l", "set", "LEFT", "LEFT"],
        &["LRANGE", "l", "0", "-1"],
        &["SET", "l", "over"],
        &["TYPE", "l"],
    ]);
}

/// A RESP3 subscriber blocked in BLPOP still receives its messages, then its pop, as
/// from redis-server.
#[test]
fn a_blocked_resp3_subscriber_gets_its_messages() {
    let server = TestServer::start();
    let reference = ReferenceRedis::start();
    for port in [server.port, reference.port] {
        let mut control = RawClient::connect(port);
        let mut sub = RawClient::connect(port);
        sub.cmd(&["HELLO", "3"]);
        assert_eq!(
            sub.cmd(&["SUBSCRIBE", "ch"]),
            Frame::Push(vec![bulk("subscribe"), bulk("ch"), int(1)])
        );
        sub.send(&encode_command(&[b"BLPOP", b"k", b"0"]));
        wait_blocked(&mut control, 1);
        assert_eq!(control.cmd(&["PUBLISH", "ch", "hi"]), int(1));
        assert_eq!(
            sub.read_frame(),
            Some(Frame::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])),
            "port {port}"
        );
        control.cmd(&["RPUSH", "k", "v"]);
        assert_eq!(sub.read_frame(), Some(bulks(&["k", "v"])), "port {port}");
    }
}

/// A list's DUMP restores to the same list, and a RESTORE into a key a client waits
/// on wakes it.
#[test]
fn dump_and_restore_a_list() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["RPUSH", "l", "a", "", "c"]);
    let Frame::Bulk(payload) = raw.cmd(&["DUMP", "l"]) else {
        panic!("DUMP of a list is a bulk string");
    };
    let mut waiter = server.raw();
    waiter.send(&encode_command(&[b"BRPOP", b"copy", b"0"]));
    wait_blocked(&mut raw, 1);
    assert_eq!(raw.cmd_bytes(&[b"RESTORE", b"copy", b"0", &payload]), ok());
    assert_eq!(waiter.read_frame(), Some(bulks(&["copy", "c"])));
    assert_eq!(raw.cmd(&["LRANGE", "copy", "0", "-1"]), bulks(&["a", ""]));
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "copy"]), bulk("quicklist"));
}
