//! The string family against a real tierd: GET/SET with every option and conflict,
//! SETNX/SETEX/PSETEX, MGET/MSET/MSETNX, GETSET/GETDEL/GETEX, APPEND/STRLEN,
//! GETRANGE/SUBSTR/SETRANGE, the INCR family and INCRBYFLOAT, TTL effects, size
//! limits, and INCR under concurrent clients. Expected replies (INCRBYFLOAT's digits
//! included) were taken from redis-server 7.0.15 on x86-64.

use crate::harness::*;
use std::thread;
use std::time::Duration;
use tier_server::resp::Frame;

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// The key's PTTL in milliseconds (-1: no TTL, -2: no key).
fn pttl(raw: &mut RawClient, key: &str) -> i64 {
    match raw.cmd(&["PTTL", key]) {
        Frame::Integer(n) => n,
        other => panic!("PTTL replies with an integer, got {other:?}"),
    }
}

/// Asserts the key has a TTL within `(max - 1000, max]` milliseconds.
fn assert_ttl_near(raw: &mut RawClient, key: &str, max: i64) {
    let ms = pttl(raw, key);
    assert!(
        ms > max - 1000 && ms <= max,
        "PTTL {key} = {ms}, expected about {max}"
    );
}

/// Unix time in milliseconds.
fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    since.as_millis() as i64
}

#[test]
fn set_and_get_round_trip() {
    let server = TestServer::start();
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "missing"]), nil());
    let binary: &[u8] = b"\x00\r\n\xff bytes";
    assert_eq!(raw.cmd_bytes(&[b"SET", b"bin", binary]), ok());
    assert_eq!(
        raw.cmd(&["GET", "bin"]),
        Frame::Bulk(binary.to_vec().into())
    );
    assert_eq!(raw.cmd(&["SET", "empty", ""]), ok());
    assert_eq!(raw.cmd(&["GET", "empty"]), bulk(""));
    assert_eq!(
        raw.cmd(&["get", "k", "x"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        raw.cmd(&["SET", "k"]),
        err("ERR wrong number of arguments for 'set' command")
    );
}

#[test]
fn set_conditions_and_get_option() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v1", "XX"]), nil());
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "v1", "NX"]), ok());
    assert_eq!(raw.cmd(&["SET", "k", "v2", "NX"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "v2", "nx", "NX"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "v2", "xx"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v2"));
    // GET replies the old value whether or not the write happens (NX + GET is 7.0's).
    assert_eq!(raw.cmd(&["SET", "k", "v3", "GET"]), bulk("v2"));
    assert_eq!(raw.cmd(&["SET", "k", "v4", "NX", "GET"]), bulk("v3"));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v3"));
    assert_eq!(raw.cmd(&["SET", "new", "v", "NX", "GET"]), nil());
    assert_eq!(raw.cmd(&["GET", "new"]), bulk("v"));
    assert_eq!(raw.cmd(&["SET", "none", "v", "XX", "GET"]), nil());
    assert_eq!(raw.cmd(&["GET", "none"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "v5", "GET", "GET"]), bulk("v3"));
    // Options that exclude each other, unknown words and a missing value.
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EXAT", "99999999999", "PXAT", "5"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "PX", "100", "KEEPTTL"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "GET", "EX"],
        &["SET", "k", "v", "foo"],
        &["SET", "k", "v", "NXX"],
    ] {
        assert_eq!(raw.cmd(bad), err(SYNTAX), "{bad:?}");
    }
    // Syntax is checked before the expire value: a bad number and a syntax error
    // together give the syntax error.
    assert_eq!(
        raw.cmd(&["SET", "k", "v", "EX", "abc", "NX", "XX"]),
        err(SYNTAX)
    );
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v5"));
}

#[test]
fn set_expirations() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v", "EX", "100"]), ok());
    assert_ttl_near(&mut raw, "k", 100_000);
    assert_eq!(raw.cmd(&["SET", "k", "v", "px", "5000"]), ok());
    assert_ttl_near(&mut raw, "k", 5000);
    let at = unix_ms() / 1000 + 200;
    assert_eq!(raw.cmd(&["SET", "k", "v", "EXAT", &at.to_string()]), ok());
    assert!(pttl(&mut raw, "k") > 190_000);
    let at = unix_ms() + 300_000;
    assert_eq!(raw.cmd(&["SET", "k", "v", "PXAT", &at.to_string()]), ok());
    assert_ttl_near(&mut raw, "k", 300_000);
    // KEEPTTL keeps it; a plain SET clears it.
    assert_eq!(raw.cmd(&["SET", "k", "v2", "KEEPTTL"]), ok());
    assert_ttl_near(&mut raw, "k", 300_000);
    assert_eq!(
        raw.cmd(&["SET", "k", "v3", "KEEPTTL", "KEEPTTL", "GET", "XX"]),
        bulk("v2")
    );
    assert_ttl_near(&mut raw, "k", 300_000);
    assert_eq!(raw.cmd(&["SET", "k", "v4"]), ok());
    assert_eq!(pttl(&mut raw, "k"), -1);
    // The same expiration repeated: the last one counts, and only it is validated.
    assert_eq!(raw.cmd(&["SET", "k", "v", "EX", "10", "EX", "20"]), ok());
    assert_ttl_near(&mut raw, "k", 20_000);
    assert_eq!(raw.cmd(&["SET", "k", "v", "EX", "abc", "EX", "30"]), ok());
    assert_ttl_near(&mut raw, "k", 30_000);
    // PXAT at the largest time is fine; anything that overflows in ms is not.
    assert_eq!(
        raw.cmd(&["SET", "k", "v", "PXAT", "9223372036854775807"]),
        ok()
    );
    let invalid = err("ERR invalid expire time in 'set' command");
    for arg in [
        &["EX", "0"][..],
        &["EX", "-1"],
        &["PX", "0"],
        &["EX", "9223372036854775"],
        &["EX", "9223372036854775807"],
        &["PX", "9223372036854775807"],
        &["EXAT", "9223372036854775807"],
        &["PXAT", "-5"],
    ] {
        let mut cmd = vec!["SET", "k", "v"];
        cmd.extend_from_slice(arg);
        assert_eq!(raw.cmd(&cmd), invalid, "{arg:?}");
    }
    for arg in ["1.5", " 1", "+1", "01", "abc", ""] {
        assert_eq!(
            raw.cmd(&["SET", "k", "v", "EX", arg]),
            err(NOT_INTEGER),
            "{arg:?}"
        );
    }
    assert_eq!(raw.cmd(&["SeT", "k", "v", "eX", "0"]), invalid);
}

#[test]
fn set_expiry_takes_effect_in_real_time() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v", "PX", "100"]), ok());
    assert_eq!(raw.cmd(&["SET", "kept", "v", "PX", "100"]), ok());
    assert_eq!(raw.cmd(&["SET", "kept", "v2", "KEEPTTL"]), ok());
    assert_eq!(raw.cmd(&["SET", "cleared", "v", "PX", "100"]), ok());
    assert_eq!(raw.cmd(&["SET", "cleared", "v2"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));
    thread::sleep(Duration::from_millis(250));
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(raw.cmd(&["GET", "kept"]), nil());
    assert_eq!(raw.cmd(&["GET", "cleared"]), bulk("v2"));
    // A deadline already past: the key is gone at once; NX sees it as missing.
    assert_eq!(raw.cmd(&["SET", "old", "v", "PXAT", "1"]), ok());
    assert_eq!(raw.cmd(&["GET", "old"]), nil());
    assert_eq!(raw.cmd(&["SET", "old", "v2", "NX", "GET"]), nil());
    assert_eq!(raw.cmd(&["GET", "old"]), bulk("v2"));
}

#[test]
fn setnx_setex_psetex() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SETNX", "k", "v1"]), int(1));
    assert_eq!(raw.cmd(&["SETNX", "k", "v2"]), int(0));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v1"));
    assert_eq!(
        raw.cmd(&["SETNX", "k"]),
        err("ERR wrong number of arguments for 'setnx' command")
    );

    assert_eq!(raw.cmd(&["SETEX", "k", "100", "v3"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v3"));
    assert_ttl_near(&mut raw, "k", 100_000);
    assert_eq!(raw.cmd(&["PSETEX", "k", "5000", "v4"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v4"));
    assert_ttl_near(&mut raw, "k", 5000);
    // SETNX on a key with a TTL leaves it alone.
    assert_eq!(raw.cmd(&["SETNX", "k", "v5"]), int(0));
    assert_ttl_near(&mut raw, "k", 5000);

    for (cmd, arg) in [
        ("setex", "0"),
        ("setex", "-5"),
        ("psetex", "0"),
        ("psetex", "-1"),
    ] {
        let want = err(&format!("ERR invalid expire time in '{cmd}' command"));
        assert_eq!(raw.cmd(&[cmd, "k", arg, "v"]), want);
    }
    assert_eq!(
        raw.cmd(&["SETEX", "k", "9223372036854775807", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        raw.cmd(&["PSETEX", "k", "9223372036854775807", "v"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(raw.cmd(&["SETEX", "k", "1.5", "v"]), err(NOT_INTEGER));
    assert_eq!(
        raw.cmd(&["SETEX", "k", "10"]),
        err("ERR wrong number of arguments for 'setex' command")
    );
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v4"));

    assert_eq!(raw.cmd(&["PSETEX", "short", "100", "v"]), ok());
    thread::sleep(Duration::from_millis(250));
    assert_eq!(raw.cmd(&["GET", "short"]), nil());
    assert_eq!(raw.cmd(&["SETNX", "short", "again"]), int(1));
}

#[test]
fn mget_mset_msetnx() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), ok());
    assert_eq!(
        raw.cmd(&["MGET", "a", "b", "nope", "c", "a"]),
        array(vec![bulk("1"), bulk("2"), nil(), bulk("3"), bulk("1")])
    );
    assert_eq!(raw.cmd(&["MGET", "nope"]), array(vec![nil()]));
    assert_eq!(
        raw.cmd(&["MGET"]),
        err("ERR wrong number of arguments for 'mget' command")
    );
    // A repeated key: the last value wins.
    assert_eq!(raw.cmd(&["MSET", "a", "x", "a", "y"]), ok());
    assert_eq!(raw.cmd(&["GET", "a"]), bulk("y"));
    let mset_arity = err("ERR wrong number of arguments for 'mset' command");
    assert_eq!(raw.cmd(&["MSET", "a"]), mset_arity);
    assert_eq!(raw.cmd(&["MSET", "a", "1", "b"]), mset_arity);
    assert_eq!(raw.cmd(&["GET", "b"]), bulk("2"));
    // MSET clears TTLs.
    assert_eq!(raw.cmd(&["SET", "t", "v", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["MSET", "t", "w"]), ok());
    assert_eq!(pttl(&mut raw, "t"), -1);

    // MSETNX: all or nothing.
    assert_eq!(raw.cmd(&["MSETNX", "a", "1", "new1", "n"]), int(0));
    assert_eq!(raw.cmd(&["GET", "new1"]), nil());
    assert_eq!(raw.cmd(&["MSETNX", "new1", "n1", "new2", "n2"]), int(1));
    assert_eq!(
        raw.cmd(&["MGET", "new1", "new2"]),
        array(vec![bulk("n1"), bulk("n2")])
    );
    assert_eq!(raw.cmd(&["MSETNX", "dup", "1", "dup", "2"]), int(1));
    assert_eq!(raw.cmd(&["GET", "dup"]), bulk("2"));
    let msetnx_arity = err("ERR wrong number of arguments for 'msetnx' command");
    assert_eq!(raw.cmd(&["MSETNX", "x", "1", "y"]), msetnx_arity);
    assert_eq!(raw.cmd(&["MSETNX", "x"]), msetnx_arity);
    assert_eq!(raw.cmd(&["GET", "x"]), nil());
    // An expired key does not count as present.
    assert_eq!(raw.cmd(&["SET", "gone", "v", "PX", "50"]), ok());
    thread::sleep(Duration::from_millis(150));
    assert_eq!(
        raw.cmd(&["MGET", "gone", "new1"]),
        array(vec![nil(), bulk("n1")])
    );
    assert_eq!(raw.cmd(&["MSETNX", "gone", "back"]), int(1));
    assert_eq!(raw.cmd(&["GET", "gone"]), bulk("back"));
}

#[test]
fn getset_and_getdel() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GETSET", "k", "v1"]), nil());
    assert_eq!(raw.cmd(&["GETSET", "k", "v2"]), bulk("v1"));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v2"));
    // GETSET clears the TTL, as SET.
    assert_eq!(raw.cmd(&["SET", "k", "v3", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["GETSET", "k", "v4"]), bulk("v3"));
    assert_eq!(pttl(&mut raw, "k"), -1);
    assert_eq!(
        raw.cmd(&["GETSET", "k"]),
        err("ERR wrong number of arguments for 'getset' command")
    );

    assert_eq!(raw.cmd(&["GETDEL", "k"]), bulk("v4"));
    assert_eq!(raw.cmd(&["GETDEL", "k"]), nil());
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(
        raw.cmd(&["GETDEL", "k", "x"]),
        err("ERR wrong number of arguments for 'getdel' command")
    );
}

#[test]
fn getex_options() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "hello"]), ok());
    assert_eq!(raw.cmd(&["GETEX", "k"]), bulk("hello"));
    assert_eq!(pttl(&mut raw, "k"), -1);
    assert_eq!(raw.cmd(&["GETEX", "k", "EX", "100"]), bulk("hello"));
    assert_ttl_near(&mut raw, "k", 100_000);
    assert_eq!(raw.cmd(&["GETEX", "k"]), bulk("hello"));
    assert_ttl_near(&mut raw, "k", 100_000);
    assert_eq!(raw.cmd(&["GETEX", "k", "PERSIST"]), bulk("hello"));
    assert_eq!(pttl(&mut raw, "k"), -1);
    assert_eq!(
        raw.cmd(&["GETEX", "k", "px", "5000", "PX", "6000"]),
        bulk("hello")
    );
    assert_ttl_near(&mut raw, "k", 6000);
    assert_eq!(
        raw.cmd(&["GETEX", "k", "PERSIST", "persist"]),
        bulk("hello")
    );
    assert_eq!(pttl(&mut raw, "k"), -1);
    let at = unix_ms() + 300_000;
    assert_eq!(
        raw.cmd(&["GETEX", "k", "PXAT", &at.to_string()]),
        bulk("hello")
    );
    assert_ttl_near(&mut raw, "k", 300_000);
    let at = unix_ms() / 1000 + 400;
    assert_eq!(
        raw.cmd(&["GETEX", "k", "EXAT", &at.to_string()]),
        bulk("hello")
    );
    assert!(pttl(&mut raw, "k") > 390_000);

    for bad in [
        &["GETEX", "k", "EX", "10", "PERSIST"][..],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "foo", "bar"],
        &["GETEX", "missing", "FOO"],
    ] {
        assert_eq!(raw.cmd(bad), err(SYNTAX), "{bad:?}");
    }
    let invalid = err("ERR invalid expire time in 'getex' command");
    assert_eq!(raw.cmd(&["GETEX", "k", "EX", "0"]), invalid);
    assert_eq!(raw.cmd(&["GETEX", "k", "PXAT", "-1"]), invalid);
    assert_eq!(
        raw.cmd(&["GETEX", "k", "EXAT", "9223372036854775807"]),
        invalid
    );
    assert_eq!(raw.cmd(&["GETEX", "k", "EX", "abc"]), err(NOT_INTEGER));
    // A missing key answers null before the expire value is looked at.
    assert_eq!(raw.cmd(&["GETEX", "missing", "EX", "abc"]), nil());
    assert_eq!(raw.cmd(&["GETEX", "missing", "EX", "0"]), nil());
    assert_eq!(raw.cmd(&["GETEX", "missing", "PERSIST"]), nil());
    assert_eq!(
        raw.cmd(&["GETEX"]),
        err("ERR wrong number of arguments for 'getex' command")
    );

    // A deadline in the past deletes the key, after replying its value.
    assert_eq!(raw.cmd(&["GETEX", "k", "EXAT", "1"]), bulk("hello"));
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(pttl(&mut raw, "k"), -2);
    // And a short one expires in real time.
    assert_eq!(raw.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(raw.cmd(&["GETEX", "k", "PX", "100"]), bulk("v"));
    thread::sleep(Duration::from_millis(250));
    assert_eq!(raw.cmd(&["GETEX", "k"]), nil());
}

#[test]
fn append_and_strlen() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["STRLEN", "k"]), int(0));
    assert_eq!(raw.cmd(&["APPEND", "k", "hello"]), int(5));
    assert_eq!(raw.cmd(&["APPEND", "k", " world"]), int(11));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("hello world"));
    assert_eq!(raw.cmd(&["STRLEN", "k"]), int(11));
    assert_eq!(raw.cmd(&["APPEND", "k", ""]), int(11));
    // APPEND of nothing to a missing key still creates it.
    assert_eq!(raw.cmd(&["APPEND", "empty", ""]), int(0));
    assert_eq!(raw.cmd(&["GET", "empty"]), bulk(""));
    assert_eq!(raw.cmd_bytes(&[b"APPEND", b"bin", b"\x00\x01"]), int(2));
    assert_eq!(raw.cmd_bytes(&[b"APPEND", b"bin", b"\xff"]), int(3));
    assert_eq!(
        raw.cmd(&["GET", "bin"]),
        Frame::Bulk(b"\x00\x01\xff".to_vec().into())
    );
    // APPEND keeps the TTL.
    assert_eq!(raw.cmd(&["SET", "t", "a", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["APPEND", "t", "b"]), int(2));
    assert_ttl_near(&mut raw, "t", 100_000);
    assert_eq!(
        raw.cmd(&["APPEND", "t"]),
        err("ERR wrong number of arguments for 'append' command")
    );
    assert_eq!(
        raw.cmd(&["STRLEN"]),
        err("ERR wrong number of arguments for 'strlen' command")
    );
}

#[test]
fn getrange_and_substr() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "hello"]), ok());
    let cases = [
        ("0", "-1", "hello"),
        ("1", "3", "ell"),
        ("-3", "-1", "llo"),
        ("3", "1", ""),
        ("10", "20", ""),
        ("0", "100", "hello"),
        ("-100", "-1", "hello"),
        ("-100", "2", "hel"),
        ("4", "4", "o"),
        ("5", "5", ""),
        ("-1", "-5", ""),
        ("-10", "-20", ""),
        ("0", "-100", "h"),
        ("-1", "0", ""),
        ("-9223372036854775808", "9223372036854775807", "hello"),
    ];
    for (start, end, want) in cases {
        assert_eq!(
            raw.cmd(&["GETRANGE", "k", start, end]),
            bulk(want),
            "{start} {end}"
        );
        assert_eq!(
            raw.cmd(&["SUBSTR", "k", start, end]),
            bulk(want),
            "{start} {end}"
        );
    }
    assert_eq!(raw.cmd(&["GETRANGE", "missing", "0", "-1"]), bulk(""));
    assert_eq!(raw.cmd(&["SET", "e", ""]), ok());
    assert_eq!(raw.cmd(&["GETRANGE", "e", "0", "-1"]), bulk(""));
    assert_eq!(raw.cmd(&["GETRANGE", "e", "0", "0"]), bulk(""));
    assert_eq!(raw.cmd(&["GETRANGE", "k", "a", "1"]), err(NOT_INTEGER));
    assert_eq!(raw.cmd(&["GETRANGE", "k", "1", "1.0"]), err(NOT_INTEGER));
    assert_eq!(
        raw.cmd(&["GETRANGE", "missing", "a", "1"]),
        err(NOT_INTEGER)
    );
    assert_eq!(
        raw.cmd(&["GETRANGE", "k", "0"]),
        err("ERR wrong number of arguments for 'getrange' command")
    );
    assert_eq!(
        raw.cmd(&["SUBSTR", "k", "0"]),
        err("ERR wrong number of arguments for 'substr' command")
    );
}

#[test]
fn setrange_pads_and_checks_limits() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "hello"]), ok());
    assert_eq!(raw.cmd(&["SETRANGE", "k", "1", "EL"]), int(5));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("hELlo"));
    assert_eq!(raw.cmd(&["SETRANGE", "k", "7", "X"]), int(8));
    assert_eq!(
        raw.cmd_bytes(&[b"GET", b"k"]),
        Frame::Bulk(b"hELlo\0\0X".to_vec().into())
    );
    assert_eq!(raw.cmd(&["SETRANGE", "k", "3", "longer tail"]), int(14));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("hELlonger tail"));
    // Nothing to write: the length as it is; no key created.
    assert_eq!(raw.cmd(&["SETRANGE", "k", "100", ""]), int(14));
    assert_eq!(raw.cmd(&["SETRANGE", "k", "536870912", ""]), int(14));
    assert_eq!(raw.cmd(&["SETRANGE", "missing", "10", ""]), int(0));
    assert_eq!(pttl(&mut raw, "missing"), -2);
    assert_eq!(raw.cmd(&["SETRANGE", "new", "3", "ab"]), int(5));
    assert_eq!(
        raw.cmd_bytes(&[b"GET", b"new"]),
        Frame::Bulk(b"\0\0\0ab".to_vec().into())
    );
    // SETRANGE keeps the TTL.
    assert_eq!(raw.cmd(&["SET", "t", "abc", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["SETRANGE", "t", "1", "X"]), int(3));
    assert_ttl_near(&mut raw, "t", 100_000);
    assert_eq!(raw.cmd(&["GET", "t"]), bulk("aXc"));

    assert_eq!(
        raw.cmd(&["SETRANGE", "k", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(raw.cmd(&["SETRANGE", "k", "a", "x"]), err(NOT_INTEGER));
    assert_eq!(raw.cmd(&["SETRANGE", "k", "536870911", "xx"]), err(TOO_BIG));
    assert_eq!(
        raw.cmd(&["SETRANGE", "k", "9223372036854775807", "x"]),
        err(TOO_BIG)
    );
    assert_eq!(
        raw.cmd(&["SETRANGE", "big", "536870912", "x"]),
        err(TOO_BIG)
    );
    assert_eq!(raw.cmd(&["GET", "big"]), nil());
    assert_eq!(raw.cmd(&["GET", "t"]), bulk("aXc"));
    assert_eq!(
        raw.cmd(&["SETRANGE", "k", "0"]),
        err("ERR wrong number of arguments for 'setrange' command")
    );
}

#[test]
fn size_limit_follows_proto_max_bulk_len() {
    let server = TestServer::start_with(&["--proto-max-bulk-len", "1048576"]);
    let mut raw = server.raw();
    let half = "x".repeat(600_000);
    assert_eq!(raw.cmd(&["APPEND", "k", &half]), int(600_000));
    assert_eq!(raw.cmd(&["APPEND", "k", &half]), err(TOO_BIG));
    assert_eq!(raw.cmd(&["STRLEN", "k"]), int(600_000));
    assert_eq!(raw.cmd(&["SETRANGE", "k", "1048576", "x"]), err(TOO_BIG));
    assert_eq!(raw.cmd(&["SETRANGE", "k", "1048575", "x"]), int(1_048_576));
    assert_eq!(raw.cmd(&["APPEND", "k", "y"]), err(TOO_BIG));
}

#[test]
fn incr_decr_family() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["INCR", "n"]), int(1));
    assert_eq!(raw.cmd(&["INCRBY", "n", "10"]), int(11));
    assert_eq!(raw.cmd(&["DECR", "n"]), int(10));
    assert_eq!(raw.cmd(&["DECRBY", "n", "15"]), int(-5));
    assert_eq!(raw.cmd(&["INCRBY", "n", "-5"]), int(-10));
    assert_eq!(raw.cmd(&["GET", "n"]), bulk("-10"));
    assert_eq!(raw.cmd(&["DECRBY", "fresh", "5"]), int(-5));
    // The value must be a whole string2ll integer.
    for value in [
        "x",
        " 1",
        "1 ",
        "+1",
        "00",
        "007",
        "-007",
        "1.0",
        "12abc",
        "",
        "123456789012345678901",
    ] {
        assert_eq!(raw.cmd(&["SET", "v", value]), ok());
        assert_eq!(raw.cmd(&["INCR", "v"]), err(NOT_INTEGER), "{value:?}");
        assert_eq!(raw.cmd(&["GET", "v"]), bulk(value));
    }
    for by in [
        "1.5",
        "",
        "+1",
        "99999999999999999999",
        "-9223372036854775809",
        "9223372036854775808",
    ] {
        assert_eq!(raw.cmd(&["INCRBY", "n", by]), err(NOT_INTEGER), "{by:?}");
        assert_eq!(raw.cmd(&["DECRBY", "n", by]), err(NOT_INTEGER), "{by:?}");
    }
    // Overflow at both ends.
    let overflow = err("ERR increment or decrement would overflow");
    assert_eq!(raw.cmd(&["SET", "n", "9223372036854775807"]), ok());
    assert_eq!(raw.cmd(&["INCR", "n"]), overflow);
    assert_eq!(raw.cmd(&["DECRBY", "n", "-1"]), overflow);
    assert_eq!(raw.cmd(&["INCRBY", "n", "0"]), int(i64::MAX));
    assert_eq!(raw.cmd(&["SET", "n", "-9223372036854775808"]), ok());
    assert_eq!(raw.cmd(&["DECR", "n"]), overflow);
    assert_eq!(raw.cmd(&["INCRBY", "n", "-9223372036854775808"]), overflow);
    assert_eq!(raw.cmd(&["INCRBY", "n", "0"]), int(i64::MIN));
    assert_eq!(
        raw.cmd(&["DECRBY", "n", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    assert_eq!(raw.cmd(&["SET", "n", "0"]), ok());
    assert_eq!(
        raw.cmd(&["INCRBY", "n", "9223372036854775807"]),
        int(i64::MAX)
    );
    assert_eq!(raw.cmd(&["INCRBY", "n", "1"]), overflow);
    assert_eq!(raw.cmd(&["GET", "n"]), bulk("9223372036854775807"));
    // The TTL stays.
    assert_eq!(raw.cmd(&["SET", "t", "10", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["INCR", "t"]), int(11));
    assert_eq!(raw.cmd(&["DECRBY", "t", "3"]), int(8));
    assert_ttl_near(&mut raw, "t", 100_000);
    for (cmd, args) in [
        ("incr", &[][..]),
        ("decr", &["k", "k"][..]),
        ("incrby", &["k"]),
        ("decrby", &["k"]),
    ] {
        let mut full = vec![cmd];
        full.extend_from_slice(args);
        let want = err(&format!(
            "ERR wrong number of arguments for '{cmd}' command"
        ));
        assert_eq!(raw.cmd(&full), want);
    }
}

#[test]
fn incrbyfloat_matches_redis() {
    let server = TestServer::start();
    let mut raw = server.raw();
    // (initial value, increment, Redis 7.0.15's reply on x86-64).
    let cases = [
        ("10.5", "0.1", "10.6"),
        ("0.1", "0.2", "0.3"),
        ("5.0e3", "2.0e2", "5200"),
        ("1e20", "0", "100000000000000000000"),
        ("1.1", "1.1", "2.2"),
        ("3.3", "1.1", "4.4"),
        ("100.1", "0.1", "100.2"),
        ("1234567.1", "0.1", "1234567.20000000000004547"),
        ("0", "1e-20", "0"),
        ("-1.5", "1.5", "0"),
        ("0", "-0", "0"),
        ("-0", "0", "0"),
        ("0", "0x1p3", "8"),
        ("0", "+1.5", "1.5"),
        ("0", "1.", "1"),
        ("0", ".5", "0.5"),
        ("12345678901234567.5", "0", "12345678901234567.5"),
        ("1.23456789012345678", "0", "1.23456789012345678"),
        ("0.000003814697265625", "0", "0.00000381469726562"),
        ("0.000003814697265626", "0", "0.00000381469726563"),
        ("-0.000003814697265625", "0", "-0.00000381469726562"),
        ("3", "1e-400", "3"),
        ("99999999999999999999", "1", "100000000000000000000"),
        ("1e300", "1", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
    ];
    for (value, by, want) in cases {
        assert_eq!(raw.cmd(&["SET", "f", value]), ok());
        assert_eq!(
            raw.cmd(&["INCRBYFLOAT", "f", by]),
            bulk(want),
            "{value} + {by}"
        );
        assert_eq!(raw.cmd(&["GET", "f"]), bulk(want));
    }
    // Accumulated error shows as Redis's does.
    let mut last = Frame::Null;
    for _ in 0..30 {
        last = raw.cmd(&["INCRBYFLOAT", "acc", "0.1"]);
    }
    assert_eq!(last, bulk("3"));
    // 1e400 is finite in long double.
    assert_eq!(raw.cmd(&["SET", "big", "1e400"]), ok());
    let Frame::Bulk(text) = raw.cmd(&["INCRBYFLOAT", "big", "0"]) else {
        panic!("a bulk reply");
    };
    assert_eq!(text.len(), 401);
    assert!(text.starts_with(b"10000000000000000000281880683947586514586"));

    for by in [
        "abc", "", " 1", "1 ", "1e", "nan", "1e-5000", "1e5000", "0x", "1..2",
    ] {
        assert_eq!(raw.cmd(&["INCRBYFLOAT", "f", by]), err(NOT_FLOAT), "{by:?}");
    }
    for value in ["abc", "", "1,5"] {
        assert_eq!(raw.cmd(&["SET", "f", value]), ok());
        assert_eq!(
            raw.cmd(&["INCRBYFLOAT", "f", "1"]),
            err(NOT_FLOAT),
            "{value:?}"
        );
    }
    let not_finite = err("ERR increment would produce NaN or Infinity");
    assert_eq!(raw.cmd(&["SET", "f", "1"]), ok());
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "f", "inf"]), not_finite);
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "f", "-Infinity"]), not_finite);
    assert_eq!(raw.cmd(&["SET", "f", "1e4932"]), ok());
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "f", "1e4932"]), not_finite);
    assert_eq!(raw.cmd(&["GET", "f"]), bulk("1e4932"));
    // The TTL stays.
    assert_eq!(raw.cmd(&["SET", "t", "1.5", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["INCRBYFLOAT", "t", "1"]), bulk("2.5"));
    assert_ttl_near(&mut raw, "t", 100_000);
    assert_eq!(
        raw.cmd(&["INCRBYFLOAT", "t"]),
        err("ERR wrong number of arguments for 'incrbyfloat' command")
    );
}

#[test]
fn concurrent_incr_loses_no_update() {
    const CLIENTS: usize = 8;
    const EACH: usize = 2000;
    let server = TestServer::start();
    let port = server.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            thread::spawn(move || {
                let mut raw = RawClient::connect(port);
                for _ in 0..EACH {
                    assert!(matches!(raw.cmd(&["INCR", "counter"]), Frame::Integer(_)));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["GET", "counter"]),
        bulk(&(CLIENTS * EACH).to_string())
    );
}

#[test]
fn mget_never_sees_half_an_mset() {
    const ROUNDS: usize = 2000;
    let server = TestServer::start();
    let port = server.port;
    let writer = thread::spawn(move || {
        let mut raw = RawClient::connect(port);
        for i in 0..ROUNDS {
            let v = i.to_string();
            assert_eq!(raw.cmd(&["MSET", "a", &v, "b", &v, "c", &v]), ok());
        }
    });
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["MSET", "a", "0", "b", "0", "c", "0"]), ok());
    while !writer.is_finished() {
        let Frame::Array(values) = raw.cmd(&["MGET", "a", "b", "c"]) else {
            panic!("MGET replies with an array");
        };
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "torn MSET: {values:?}"
        );
    }
    writer.join().expect("writer");
    let last = bulk(&(ROUNDS - 1).to_string());
    assert_eq!(
        raw.cmd(&["MGET", "a", "b", "c"]),
        array(vec![last.clone(), last.clone(), last])
    );
}
