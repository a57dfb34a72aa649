//! Connection commands against a real tierd: PING, ECHO, QUIT, RESET, SELECT, AUTH,
//! HELLO (RESP3 through the raw client and the redis crate) and CLIENT, plus the
//! per-connection limits they interact with (requirepass, maxclients, timeout).

use crate::harness::*;
use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// The field names of a Redis 7.0 CLIENT LIST line, in order.
const CLIENT_FIELDS: [&str; 28] = [
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

/// Sends a command on a raw connection and checks the reply byte for byte.
fn exact_reply(raw: &mut RawClient, args: &[&str], expected: &[u8]) {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send(&encode_command(&bytes));
    let mut got = vec![0u8; expected.len()];
    raw.stream.read_exact(&mut got).expect("a complete reply");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {args:?}"
    );
}

/// The text of a bulk or verbatim reply.
fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
        Frame::Verbatim { format, text } => {
            assert_eq!(&format, b"txt");
            String::from_utf8(text.to_vec()).expect("utf-8")
        }
        other => panic!("expected a bulk or verbatim string, got {other:?}"),
    }
}

/// One CLIENT LIST line as (field, value) pairs, checked against Redis's field order.
fn fields(line: &str) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = line
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("no '=' in {kv:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, CLIENT_FIELDS, "fields of {line:?}");
    for (k, v) in &pairs {
        let numeric = !matches!(
            k.as_str(),
            "addr" | "laddr" | "name" | "flags" | "events" | "cmd" | "user"
        );
        if numeric {
            assert!(
                v.parse::<i64>().is_ok(),
                "{k}={v} is not a number in {line:?}"
            );
        }
    }
    pairs
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    &pairs
        .iter()
        .find(|(k, _)| k == name)
        .expect("field present")
        .1
}

/// Every CLIENT LIST line of a reply, parsed, by client id.
fn client_list(raw: &mut RawClient, args: &[&str]) -> Vec<Vec<(String, String)>> {
    let listing = text(raw.cmd(args));
    assert!(listing.is_empty() || listing.ends_with('\n'), "{listing:?}");
    listing.lines().map(fields).collect()
}

fn id_of(raw: &mut RawClient) -> i64 {
    match raw.cmd(&["CLIENT", "ID"]) {
        Frame::Integer(id) => id,
        other => panic!("CLIENT ID gave {other:?}"),
    }
}

/// The HELLO reply as (key, value) pairs, in RESP3 (a map) or RESP2 (a flat array).
fn hello_pairs(frame: Frame) -> Vec<(Frame, Frame)> {
    match frame {
        Frame::Map(pairs) => pairs,
        Frame::Array(items) => items
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect(),
        other => panic!("HELLO gave {other:?}"),
    }
}

fn expected_hello(proto: i64, id: i64) -> Vec<(Frame, Frame)> {
    vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk("7.0.15")),
        (bulk("proto"), int(proto)),
        (bulk("id"), int(id)),
        (bulk("mode"), bulk("standalone")),
        (bulk("role"), bulk("master")),
        (bulk("modules"), array(vec![])),
    ]
}

/// A raw client that got through admission (a refused one reads an error and EOF).
fn admitted(server: &TestServer) -> RawClient {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut raw = server.raw();
        if raw.cmd(&["PING"]) == Frame::Simple("PONG".into()) {
            return raw;
        }
        assert!(Instant::now() < deadline, "no client admitted");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ping_and_echo() {
    let server = TestServer::start();
    let mut raw = server.raw();
    exact_reply(&mut raw, &["PING"], b"+PONG\r\n");
    exact_reply(
        &mut raw,
        &["ping", "hello world"],
        b"$11\r\nhello world\r\n",
    );
    assert_eq!(
        raw.cmd(&["PING", "a", "b"]),
        err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(raw.cmd(&["ECHO", ""]), bulk(""));
    assert_eq!(
        raw.cmd_bytes(&[b"ECHO", b"\x00\xff\r\n"]),
        Frame::Bulk(b"\x00\xff\r\n".to_vec().into())
    );
    assert_eq!(
        raw.cmd(&["ECHO"]),
        err("ERR wrong number of arguments for 'echo' command")
    );
    assert_eq!(
        raw.cmd(&["ECHO", "a", "b"]),
        err("ERR wrong number of arguments for 'echo' command")
    );
    exact_reply(&mut raw, &["HELLO", "3"], b"%7\r\n");
    let _ = hello_tail(&mut raw);
    exact_reply(&mut raw, &["PING"], b"+PONG\r\n");
    exact_reply(&mut raw, &["PING", "x"], b"$1\r\nx\r\n");

    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echoed: String = redis::cmd("ECHO").arg("hi").query(&mut con).unwrap();
    assert_eq!(echoed, "hi");
}

/// Reads the rest of a HELLO reply whose `%7` header was already consumed.
fn hello_tail(raw: &mut RawClient) -> Vec<Frame> {
    (0..14)
        .map(|_| raw.read_frame().expect("a HELLO field"))
        .collect()
}

#[test]
fn quit_replies_ok_then_closes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["QUIT"]), ok());
    assert!(raw.is_closed());

    // Commands pipelined after QUIT are not run.
    let mut raw = server.raw();
    raw.send(b"QUIT extra args\r\nSET after quit\r\n");
    assert_eq!(raw.read_frame(), Some(ok()));
    assert!(raw.is_closed());
    assert_eq!(server.raw().cmd(&["GET", "after"]), nil());
}

#[test]
fn select_isolates_databases() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "in0"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(raw.cmd(&["SET", "k", "in1"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "15"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), nil());
    assert_eq!(raw.cmd(&["SELECT", "0"]), ok());
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("in0"));

    // Another connection starts in db 0, independently of this one.
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    let mut other = server.raw();
    assert_eq!(other.cmd(&["GET", "k"]), bulk("in0"));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("in1"));

    let range = err("ERR DB index is out of range");
    let not_int = err("ERR value is not an integer or out of range");
    assert_eq!(raw.cmd(&["SELECT", "16"]), range);
    assert_eq!(raw.cmd(&["SELECT", "-1"]), range);
    assert_eq!(raw.cmd(&["SELECT", "-2147483648"]), range);
    assert_eq!(raw.cmd(&["SELECT", "abc"]), not_int);
    assert_eq!(raw.cmd(&["SELECT", "01"]), not_int);
    assert_eq!(raw.cmd(&["SELECT", " 1"]), not_int);
    assert_eq!(raw.cmd(&["SELECT", "1.0"]), not_int);
    let int_range = err("ERR value is out of range, value must between -2147483648 and 2147483647");
    assert_eq!(raw.cmd(&["SELECT", "4294967296"]), int_range);
    assert_eq!(raw.cmd(&["SELECT", "-2147483649"]), int_range);
    assert_eq!(
        raw.cmd(&["SELECT"]),
        err("ERR wrong number of arguments for 'select' command")
    );
    // A failed SELECT keeps the selected database.
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("in1"));
    let me = client_list(&mut raw, &["CLIENT", "INFO"]);
    assert_eq!(field(&me[0], "db"), "1");
    let all = client_list(&mut other, &["CLIENT", "LIST"]);
    let mine = id_of(&mut raw).to_string();
    let seen = all.iter().find(|c| field(c, "id") == mine).expect("listed");
    assert_eq!(field(seen, "db"), "1");

    // The redis crate selects through the URL.
    let mut con = redis::Client::open(format!("{}1", server.url()))
        .and_then(|c| c.get_connection())
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "in1");

    let server = TestServer::start_with(&["--databases", "2"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SELECT", "1"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "2"]), range);
}

#[test]
fn auth_without_a_password() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["AUTH", "x"]),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    // The default user has no password: any password is accepted for it.
    assert_eq!(raw.cmd(&["AUTH", "default", "anything"]), ok());
    assert_eq!(raw.cmd(&["AUTH", "Default", "anything"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["AUTH", "bob", "x"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["AUTH", "a", "b", "c"]), err("ERR syntax error"));
    assert_eq!(
        raw.cmd(&["AUTH"]),
        err("ERR wrong number of arguments for 'auth' command")
    );
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = TestServer::start_with(&["--requirepass", "s3cret"]);
    let noauth = err("NOAUTH Authentication required.");
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), noauth);
    assert_eq!(raw.cmd(&["GET", "k"]), noauth);
    assert_eq!(raw.cmd(&["SELECT", "1"]), noauth);
    assert_eq!(raw.cmd(&["CLIENT", "ID"]), noauth);
    // Unknown commands and arity errors come before the authentication check.
    assert_eq!(
        raw.cmd(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(raw.cmd(&["AUTH", "wrong"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["AUTH", "s3cret", "s3cret"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["AUTH", "default", "s3cre"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["AUTH", "default", "s3cret!"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["PING"]), noauth);
    assert_eq!(raw.cmd(&["AUTH", "s3cret"]), ok());
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
    assert_eq!(raw.cmd(&["SET", "k", "v"]), ok());
    // A failed AUTH does not log an authenticated client out.
    assert_eq!(raw.cmd(&["AUTH", "nope"]), err(WRONGPASS));
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));

    let mut other = server.raw();
    assert_eq!(other.cmd(&["AUTH", "default", "s3cret"]), ok());
    assert_eq!(other.cmd(&["GET", "k"]), bulk("v"));

    // RESET logs out when a password is set.
    assert_eq!(other.cmd(&["SELECT", "2"]), ok());
    assert_eq!(other.cmd(&["RESET"]), Frame::Simple("RESET".into()));
    assert_eq!(other.cmd(&["GET", "k"]), noauth);
    assert_eq!(other.cmd(&["AUTH", "s3cret"]), ok());
    assert_eq!(other.cmd(&["GET", "k"]), bulk("v"));

    // QUIT needs no authentication.
    let mut quitter = server.raw();
    assert_eq!(quitter.cmd(&["QUIT"]), ok());
    assert!(quitter.is_closed());

    // The redis crate authenticates through the URL, RESP2 and RESP3.
    for query in ["", "?protocol=resp3"] {
        let url = format!("redis://:s3cret@127.0.0.1:{}/{query}", server.port);
        let mut con = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
        assert_eq!(v, "v");
    }
    let url = format!("redis://:wrong@127.0.0.1:{}/", server.port);
    let refused = redis::Client::open(url).and_then(|c| c.get_connection());
    assert!(refused.is_err(), "a wrong password is refused");
}

#[test]
fn hello_authenticates_and_names_the_client() {
    let server = TestServer::start_with(&["--requirepass", "pw"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["HELLO"]), err(HELLO_NOAUTH));
    assert_eq!(raw.cmd(&["HELLO", "3"]), err(HELLO_NOAUTH));
    // SETNAME is checked before the authentication test but applied only after it.
    assert_eq!(raw.cmd(&["HELLO", "3", "SETNAME", "a b"]), err(BAD_NAME));
    assert_eq!(
        raw.cmd(&["HELLO", "3", "SETNAME", "early"]),
        err(HELLO_NOAUTH)
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default", "bad"]),
        err(WRONGPASS)
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "other", "pw"]),
        err(WRONGPASS)
    );
    assert_eq!(
        raw.cmd(&["HELLO", "4", "AUTH", "default", "pw"]),
        err("NOPROTO unsupported protocol version")
    );
    assert_eq!(raw.cmd(&["PING"]), err("NOAUTH Authentication required."));

    let reply = raw.cmd(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "named"]);
    let id = match &reply {
        Frame::Map(pairs) => match pairs[3].1 {
            Frame::Integer(id) => id,
            ref other => panic!("id is {other:?}"),
        },
        other => panic!("HELLO 3 gave {other:?}"),
    };
    assert_eq!(hello_pairs(reply), expected_hello(3, id));
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), bulk("named"));
    assert_eq!(raw.cmd(&["CLIENT", "ID"]), int(id));
    // Authenticated, HELLO needs no AUTH option.
    assert_eq!(hello_pairs(raw.cmd(&["HELLO", "2"])), expected_hello(2, id));

    // AUTH succeeds and stays even when a later option fails.
    let mut other = server.raw();
    assert_eq!(
        other.cmd(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x y"]),
        err(BAD_NAME)
    );
    assert_eq!(other.cmd(&["PING"]), Frame::Simple("PONG".into()));
    assert_eq!(other.cmd(&["CLIENT", "GETNAME"]), nil());
}

#[test]
fn hello_switches_protocols() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let id = id_of(&mut raw);
    // No argument: the current protocol, unchanged.
    assert_eq!(hello_pairs(raw.cmd(&["HELLO"])), expected_hello(2, id));
    exact_reply(&mut raw, &["GET", "missing"], b"$-1\r\n");

    exact_reply(
        &mut raw,
        &["HELLO", "3"],
        format!(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n\
             $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
             $7\r\nmodules\r\n*0\r\n"
        )
        .as_bytes(),
    );
    exact_reply(&mut raw, &["GET", "missing"], b"_\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), Frame::Null);
    let info = raw.cmd(&["CLIENT", "INFO"]);
    assert!(
        matches!(info, Frame::Verbatim { .. }),
        "CLIENT INFO in RESP3 is verbatim: {info:?}"
    );
    assert_eq!(field(&fields(text(info).trim_end()), "resp"), "3");
    assert_eq!(hello_pairs(raw.cmd(&["HELLO"])), expected_hello(3, id));

    // Errors leave the protocol as it was.
    let noproto = err("NOPROTO unsupported protocol version");
    assert_eq!(raw.cmd(&["HELLO", "1"]), noproto);
    assert_eq!(raw.cmd(&["HELLO", "4"]), noproto);
    assert_eq!(raw.cmd(&["HELLO", "-3"]), noproto);
    let not_int = err("ERR Protocol version is not an integer or out of range");
    assert_eq!(raw.cmd(&["HELLO", "three"]), not_int);
    assert_eq!(raw.cmd(&["HELLO", "03"]), not_int);
    assert_eq!(
        raw.cmd(&["HELLO", "3", "foo"]),
        err("ERR Syntax error in HELLO option 'foo'")
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default"]),
        err("ERR Syntax error in HELLO option 'AUTH'")
    );
    assert_eq!(
        raw.cmd(&["HELLO", "2", "setname"]),
        err("ERR Syntax error in HELLO option 'setname'")
    );
    assert_eq!(raw.cmd(&["HELLO", "2", "SETNAME", "a\nb"]), err(BAD_NAME));
    exact_reply(&mut raw, &["GET", "missing"], b"_\r\n");

    // Back to RESP2, naming the client on the way; the last SETNAME wins.
    let reply = raw.cmd(&["hello", "2", "setname", "first", "SETNAME", "second"]);
    assert!(
        matches!(reply, Frame::Array(_)),
        "RESP2 HELLO is a flat array: {reply:?}"
    );
    exact_reply(&mut raw, &["GET", "missing"], b"$-1\r\n");
    exact_reply(&mut raw, &["CLIENT", "GETNAME"], b"$6\r\nsecond\r\n");

    // Without a password, AUTH in HELLO accepts any password for the default user.
    assert_eq!(
        hello_pairs(raw.cmd(&["HELLO", "2", "AUTH", "default", "x"])),
        expected_hello(2, id)
    );
    assert_eq!(
        raw.cmd(&["HELLO", "2", "AUTH", "nobody", "x"]),
        err(WRONGPASS)
    );
}

#[test]
fn redis_crate_speaks_resp3() {
    let server = TestServer::start();
    let url = format!("{}?protocol=resp3", server.url());
    let mut con = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .unwrap();
    let hello: redis::Value = redis::cmd("HELLO").query(&mut con).unwrap();
    let redis::Value::Map(pairs) = hello else {
        panic!("HELLO over RESP3 is a map: {hello:?}");
    };
    assert_eq!(pairs.len(), 7);
    assert_eq!(
        pairs[2],
        (
            redis::Value::BulkString(b"proto".to_vec()),
            redis::Value::Int(3)
        )
    );
    let missing: redis::Value = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
    assert_eq!(missing, redis::Value::Nil);
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(
        info.contains(" resp=3\n") || info.ends_with(" resp=3"),
        "{info}"
    );
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "db0"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "3"]), ok());
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "before"]), ok());
    assert_eq!(raw.cmd(&["CLIENT", "NO-EVICT", "on"]), ok());
    let _ = raw.cmd(&["HELLO", "3"]);
    exact_reply(&mut raw, &["RESET"], b"+RESET\r\n");
    exact_reply(&mut raw, &["GET", "missing"], b"$-1\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("db0"));
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), nil());
    let me = client_list(&mut raw, &["CLIENT", "INFO"]);
    assert_eq!(field(&me[0], "db"), "0");
    assert_eq!(field(&me[0], "resp"), "2");
    assert_eq!(field(&me[0], "name"), "");
    // As in Redis 7.0, RESET keeps the no-evict flag.
    assert_eq!(field(&me[0], "flags"), "e");
    assert_eq!(
        raw.cmd(&["RESET", "x"]),
        err("ERR wrong number of arguments for 'reset' command")
    );
}

#[test]
fn client_names_and_ids() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut other = server.raw();
    let (a, b) = (id_of(&mut raw), id_of(&mut other));
    assert!(a > 0 && b > 0 && a != b);
    assert_eq!(raw.cmd(&["CLIENT", "ID"]), int(a));

    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), nil());
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "conn-1!~"]), ok());
    assert_eq!(raw.cmd(&["client", "getname"]), bulk("conn-1!~"));
    assert_eq!(other.cmd(&["CLIENT", "GETNAME"]), nil());
    for bad in ["a b", "a\nb", "tab\t", "é", "\x7f"] {
        assert_eq!(
            raw.cmd(&["CLIENT", "SETNAME", bad]),
            err(BAD_NAME),
            "{bad:?}"
        );
    }
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), bulk("conn-1!~"));
    // The empty name removes the name.
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", ""]), ok());
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), nil());

    assert_eq!(
        raw.cmd(&["CLIENT"]),
        err("ERR wrong number of arguments for 'client' command")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "ID", "x"]),
        err("ERR wrong number of arguments for 'client|id' command")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "GETNAME", "x"]),
        err("ERR wrong number of arguments for 'client|getname' command")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME"]),
        err("ERR wrong number of arguments for 'client|setname' command")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME", "a", "b"]),
        err("ERR wrong number of arguments for 'client|setname' command")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "nosuch"]),
        err("ERR unknown subcommand 'nosuch'. Try CLIENT HELP.")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "x"]),
        err("ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.")
    );
}

#[test]
fn client_list_and_info_format() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut other = server.raw();
    assert_eq!(other.cmd(&["CLIENT", "SETNAME", "worker"]), ok());
    assert_eq!(other.cmd(&["SELECT", "4"]), ok());
    let _ = other.cmd(&["HELLO", "3"]);
    assert_eq!(other.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let (me, them) = (id_of(&mut raw), id_of(&mut other));
    assert_eq!(other.cmd(&["ECHO", "x"]), Frame::Bulk("x".into()));
    thread::sleep(Duration::from_millis(1100));

    let all = client_list(&mut raw, &["CLIENT", "LIST"]);
    assert_eq!(all.len(), 2, "{all:?}");
    let ids: Vec<i64> = all
        .iter()
        .map(|c| field(c, "id").parse().unwrap())
        .collect();
    let mut expected = vec![me, them];
    expected.sort_unstable();
    assert_eq!(ids, expected, "listed in id order");
    let by_id = |id: i64| {
        all.iter()
            .find(|c| field(c, "id") == id.to_string())
            .unwrap()
    };
    let (mine, theirs) = (by_id(me), by_id(them));
    let laddr = format!("127.0.0.1:{}", server.port);

    assert_eq!(
        field(mine, "addr"),
        raw.stream.local_addr().unwrap().to_string()
    );
    assert_eq!(field(mine, "laddr"), laddr);
    assert_eq!(field(mine, "name"), "");
    assert_eq!(field(mine, "idle"), "0");
    assert_eq!(field(mine, "flags"), "N");
    assert_eq!(field(mine, "db"), "0");
    assert_eq!(field(mine, "cmd"), "client|list");
    assert_eq!(field(mine, "resp"), "2");
    assert_eq!(field(mine, "argv-mem"), "10");
    for (name, value) in [
        ("sub", "0"),
        ("psub", "0"),
        ("ssub", "0"),
        ("multi", "-1"),
        ("events", "r"),
        ("user", "default"),
        ("redir", "-1"),
    ] {
        assert_eq!(field(mine, name), value);
    }

    assert_eq!(
        field(theirs, "addr"),
        other.stream.local_addr().unwrap().to_string()
    );
    assert_eq!(field(theirs, "laddr"), laddr);
    assert_eq!(field(theirs, "name"), "worker");
    assert_eq!(field(theirs, "db"), "4");
    assert_eq!(field(theirs, "cmd"), "echo");
    assert_eq!(field(theirs, "resp"), "3");
    assert!(field(theirs, "idle").parse::<u64>().unwrap() >= 1);
    assert!(field(theirs, "age").parse::<u64>().unwrap() >= 1);

    // CLIENT INFO: this client's line, with a newline.
    let info = text(raw.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.ends_with('\n') && info.lines().count() == 1,
        "{info:?}"
    );
    let info = fields(info.trim_end());
    assert_eq!(field(&info, "id"), me.to_string());
    assert_eq!(field(&info, "cmd"), "client|info");
    assert_eq!(
        raw.cmd(&["CLIENT", "INFO", "x"]),
        err("ERR wrong number of arguments for 'client|info' command")
    );

    // Filters.
    assert_eq!(
        client_list(&mut raw, &["CLIENT", "LIST", "TYPE", "normal"]).len(),
        2
    );
    for kind in ["master", "replica", "SLAVE", "pubsub"] {
        assert_eq!(
            raw.cmd(&["CLIENT", "LIST", "TYPE", kind]),
            bulk(""),
            "{kind}"
        );
    }
    let by_id = client_list(
        &mut raw,
        &["CLIENT", "LIST", "ID", &them.to_string(), "999999", "-1"],
    );
    assert_eq!(by_id.len(), 1);
    assert_eq!(field(&by_id[0], "name"), "worker");
    let twice = client_list(
        &mut raw,
        &["client", "list", "id", &me.to_string(), &me.to_string()],
    );
    assert_eq!(twice.len(), 2);
    assert_eq!(raw.cmd(&["CLIENT", "LIST", "ID", "999999"]), bulk(""));
    assert_eq!(
        raw.cmd(&["CLIENT", "LIST", "TYPE", "foo"]),
        err("ERR Unknown client type 'foo'")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "LIST", "ID", "1", "x"]),
        err("ERR Invalid client ID")
    );
    assert_eq!(raw.cmd(&["CLIENT", "LIST", "ID"]), err("ERR syntax error"));
    assert_eq!(
        raw.cmd(&["CLIENT", "LIST", "TYPE", "normal", "x"]),
        err("ERR syntax error")
    );
    assert_eq!(raw.cmd(&["CLIENT", "LIST", "foo"]), err("ERR syntax error"));

    // A closed connection leaves the list.
    drop(other);
    let deadline = Instant::now() + Duration::from_secs(5);
    while client_list(&mut raw, &["CLIENT", "LIST"]).len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the closed client is still listed"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_no_evict() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["CLIENT", "NO-EVICT", "on"]), ok());
    assert_eq!(
        field(&client_list(&mut raw, &["CLIENT", "INFO"])[0], "flags"),
        "e"
    );
    assert_eq!(raw.cmd(&["client", "no-evict", "OFF"]), ok());
    assert_eq!(
        field(&client_list(&mut raw, &["CLIENT", "INFO"])[0], "flags"),
        "N"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "NO-EVICT", "maybe"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "NO-EVICT"]),
        err("ERR wrong number of arguments for 'client|no-evict' command")
    );
}

#[test]
fn client_help_lists_the_subcommands() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let Frame::Array(lines) = raw.cmd(&["CLIENT", "HELP"]) else {
        panic!("CLIENT HELP is an array");
    };
    assert_eq!(
        lines[0],
        Frame::Simple("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(
        lines[lines.len() - 2..],
        [
            Frame::Simple("HELP".into()),
            Frame::Simple("    Prints this help.".into())
        ]
    );
    for sub in [
        "GETNAME",
        "ID",
        "INFO",
        "KILL <ip:port>",
        "LIST [options ...]",
        "SETNAME <name>",
        "NO-EVICT (ON|OFF)",
    ] {
        assert!(lines.contains(&Frame::Simple(sub.into())), "{sub} missing");
    }
    assert_eq!(
        raw.cmd(&["CLIENT", "HELP", "x"]),
        err("ERR wrong number of arguments for 'client|help' command")
    );
}

#[test]
fn client_kill_closes_other_connections() {
    let server = TestServer::start();
    let mut raw = server.raw();

    // New form, by id: the count, and the victim sees EOF.
    let mut victim = server.raw();
    let id = id_of(&mut victim).to_string();
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "ID", &id]), int(1));
    assert!(victim.is_closed());
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "ID", &id]), int(0));

    // Old form, by address.
    let mut victim = server.raw();
    assert_eq!(victim.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let addr = victim.stream.local_addr().unwrap().to_string();
    assert_eq!(raw.cmd(&["CLIENT", "KILL", &addr]), ok());
    assert!(victim.is_closed());
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", &addr]),
        err("ERR No such client")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]),
        err("ERR No such client")
    );

    // New form, by address, local address, user, type: never this client by default.
    // (A PING first: the server registers a connection once it has accepted it.)
    let mut victim = server.raw();
    assert_eq!(victim.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let addr = victim.stream.local_addr().unwrap().to_string();
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "ADDR", &addr, "TYPE", "master"]),
        int(0)
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "ADDR", &addr, "USER", "default"]),
        int(1)
    );
    assert!(victim.is_closed());
    let mut victims = [server.raw(), server.raw()];
    for v in &mut victims {
        assert_eq!(v.cmd(&["PING"]), Frame::Simple("PONG".into()));
    }
    let laddr = format!("127.0.0.1:{}", server.port);
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "LADDR", &laddr, "SKIPME", "yes"]),
        int(2)
    );
    for v in &mut victims {
        assert!(v.is_closed());
    }
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), int(0));
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));

    // Errors.
    let positive = err("ERR client-id should be greater than 0");
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "ID", "0"]), positive);
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "ID", "-5"]), positive);
    assert_eq!(raw.cmd(&["CLIENT", "KILL", "ID", "abc"]), positive);
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "USER", "bob"]),
        err("ERR No such user 'bob'")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "TYPE", "foo"]),
        err("ERR Unknown client type 'foo'")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "SKIPME", "maybe"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "a", "b"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "ID", "1", "TYPE"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL"]),
        err("ERR wrong number of arguments for 'client|kill' command")
    );
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));

    // SKIPME no: a client may kill itself; it gets its reply, then EOF.
    let own = id_of(&mut raw).to_string();
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL", "ID", &own, "SKIPME", "no"]),
        int(1)
    );
    assert!(raw.is_closed());
    // The old form may kill the caller too.
    let mut raw = server.raw();
    let own_addr = raw.stream.local_addr().unwrap().to_string();
    assert_eq!(raw.cmd(&["CLIENT", "KILL", &own_addr]), ok());
    assert!(raw.is_closed());
}

#[test]
fn maxclients_refuses_extra_clients() {
    let server = TestServer::start_with(&["--maxclients", "2"]);
    let mut first = admitted(&server);
    let mut second = admitted(&server);
    let mut third = server.raw();
    assert_eq!(
        third.read_frame(),
        Some(err("ERR max number of clients reached"))
    );
    assert!(third.is_closed());
    assert_eq!(first.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(second.cmd(&["GET", "k"]), bulk("v"));
    // A slot freed is a slot for the next client.
    drop(first);
    let mut next = admitted(&server);
    assert_eq!(next.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(second.cmd(&["PING"]), Frame::Simple("PONG".into()));
}

#[test]
fn timeout_closes_idle_clients_only() {
    let server = TestServer::start_with(&["--timeout", "1"]);
    let mut idle = server.raw();
    assert_eq!(idle.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let started = Instant::now();
    let active = {
        let mut active = server.raw();
        thread::spawn(move || {
            while started.elapsed() < Duration::from_millis(2500) {
                assert_eq!(active.cmd(&["PING"]), Frame::Simple("PONG".into()));
                thread::sleep(Duration::from_millis(200));
            }
            active
        })
    };
    assert!(idle.is_closed());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "idle client closed after {waited:?}"
    );
    let mut active = active.join().expect("the active client kept working");
    assert_eq!(active.cmd(&["PING"]), Frame::Simple("PONG".into()));
}
