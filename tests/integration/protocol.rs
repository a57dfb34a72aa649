//! Protocol tests against a real tierd: pipelining, inline commands, malformed requests
//! and the request size limits (each answered with Redis 7.0's exact error text and a
//! closed connection, while other clients go on undisturbed), big values, many
//! clients at once, and a graceful shutdown on SIGTERM.

use crate::harness::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Commands;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// Sends `input` on a fresh connection, expects exactly the error `expected`, then EOF.
fn assert_error_then_closed(server: &TestServer, input: &[u8], expected: &str) {
    let mut raw = server.raw();
    raw.send(input);
    assert_eq!(
        raw.read_frame(),
        Some(err(expected)),
        "reply to {:?}",
        String::from_utf8_lossy(&input[..input.len().min(40)])
    );
    assert!(
        raw.is_closed(),
        "the connection stays open after {expected:?}"
    );
}

#[test]
fn redis_crate_pipeline_of_20k_commands() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.set(format!("pipe:{i}"), format!("value-{i}"));
    }
    for i in 0..10_000 {
        pipe.get(format!("pipe:{i}"));
    }
    let replies: Vec<redis::Value> = pipe.query(&mut con).expect("pipeline");
    assert_eq!(replies.len(), 20_000);
    for (i, reply) in replies[..10_000].iter().enumerate() {
        assert_eq!(*reply, redis::Value::Okay, "SET #{i}");
    }
    for (i, reply) in replies[10_000..].iter().enumerate() {
        assert_eq!(
            *reply,
            redis::Value::BulkString(format!("value-{i}").into_bytes()),
            "GET #{i}"
        );
    }
}

#[test]
fn raw_pipeline_of_10k_commands_in_one_write() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut payload = Vec::new();
    for i in 0..5_000 {
        let (key, value) = (format!("raw:{i}"), format!("v{i}"));
        payload.extend(encode_command(&[b"SET", key.as_bytes(), value.as_bytes()]));
        payload.extend(encode_command(&[b"GET", key.as_bytes()]));
    }
    // One write_all from another thread, so neither side can block the other.
    let mut writer = raw.stream.try_clone().expect("clone the socket");
    let sender = thread::spawn(move || writer.write_all(&payload));
    for i in 0..5_000 {
        assert_eq!(raw.read_frame(), Some(ok()), "SET #{i}");
        assert_eq!(raw.read_frame(), Some(bulk(&format!("v{i}"))), "GET #{i}");
    }
    sender
        .join()
        .expect("writer thread")
        .expect("one write of 10k commands");
    assert_eq!(raw.cmd(&["GET", "raw:4999"]), bulk("v4999"));
}

#[test]
fn inline_commands_as_telnet_sends_them() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"SET a \"b c\"\r\n");
    assert_eq!(raw.read_frame(), Some(ok()));
    raw.send(b"GET a\r\n");
    assert_eq!(raw.read_frame(), Some(bulk("b c")));
    // Blank lines get no reply at all: the next reply is the GET's.
    raw.send(b"\r\n\r\n\n   \r\n\t\nGET a\r\n");
    assert_eq!(raw.read_frame(), Some(bulk("b c")));
    // A bare LF ends a line too; quotes and escapes follow sdssplitargs.
    raw.send(b"SET 'q' \"\\x41\\n\\\"x\"\nGET q\n");
    assert_eq!(raw.read_frame(), Some(ok()));
    assert_eq!(raw.read_frame(), Some(bulk("A\n\"x")));
    // Inline and multibulk requests can be mixed in one write.
    let mut mixed = b"SET m 1\r\n".to_vec();
    mixed.extend(encode_command(&[b"GET", b"m"]));
    mixed.extend_from_slice(b"GET m\r\n");
    raw.send(&mixed);
    assert_eq!(raw.read_frame(), Some(ok()));
    assert_eq!(raw.read_frame(), Some(bulk("1")));
    assert_eq!(raw.read_frame(), Some(bulk("1")));
    assert_error_then_closed(
        &server,
        b"SET a \"b c\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
    assert_error_then_closed(
        &server,
        b"GET 'a'b\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
    // The replies already queued before the bad line are still sent.
    raw.send(b"GET a\r\nGET \"a\r\n");
    assert_eq!(raw.read_frame(), Some(bulk("b c")));
    assert_eq!(
        raw.read_frame(),
        Some(err("ERR Protocol error: unbalanced quotes in request"))
    );
    assert!(raw.is_closed());
}

#[test]
fn malformed_requests_get_redis_errors_and_close_only_their_connection() {
    let server = TestServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let traffic = SteadyTraffic::start(&server);
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*1\r\n+foo\r\n",
            "ERR Protocol error: expected '$', got '+'",
        ),
        (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*2\r\n$3\r\nSET\r\n$1048577\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*2147483648\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
        (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
    ];
    for &(input, expected) in cases {
        assert_error_then_closed(&server, input, expected);
    }
    assert_error_then_closed(
        &server,
        &vec![b'x'; 70 * 1024],
        "ERR Protocol error: too big inline request",
    );
    // A bulk of exactly proto-max-bulk-len is accepted.
    let mut raw = server.raw();
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(raw.cmd_bytes(&[b"SET", b"max", &value]), ok());
    assert_eq!(raw.cmd_bytes(&[b"GET", b"max"]), Frame::Bulk(value.into()));
    // So is a huge declared count: the server waits for the arguments instead of
    // reserving room for two billion of them.
    raw.send(b"*2147483647\r\n");
    drop(raw);
    traffic.finish();
    assert_answers_ping(&server);
}

/// The corpus the mutation rounds start from: a valid pipeline.
fn valid_pipeline() -> Vec<u8> {
    let mut out = encode_command(&[b"SET", b"fuzz", b"value"]);
    out.extend(encode_command(&[b"GET", b"fuzz"]));
    out.extend_from_slice(b"GET \"fuzz\"\r\n");
    out
}

/// The bytes a mutation writes: RESP's type bytes, digits, line ends, quotes.
const MUTATION_BYTES: &[u8] = b"*$+-:\r\n0123456789\"'\\ x\xff\0";

/// Random bytes, or a valid pipeline with a few bytes replaced, inserted or removed.
fn random_request(rng: &mut StdRng) -> Vec<u8> {
    if rng.gen_bool(0.5) {
        let len = rng.gen_range(1..2048);
        return (0..len).map(|_| rng.gen()).collect();
    }
    let mut bytes = valid_pipeline();
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..bytes.len());
        let byte = MUTATION_BYTES[rng.gen_range(0..MUTATION_BYTES.len())];
        match rng.gen_range(0..3) {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

#[test]
fn random_bytes_never_hurt_the_server() {
    let server = TestServer::start();
    let traffic = SteadyTraffic::start(&server);
    let mut rng = StdRng::seed_from_u64(0x71e5);
    let mut protocol_errors = 0;
    for round in 0..300 {
        let input = random_request(&mut rng);
        let mut raw = server.raw();
        raw.send(&input);
        raw.stream.shutdown(Shutdown::Write).expect("half close");
        // Every reply decodes, a protocol error is the last one, and the server
        // closes the connection (here at the latest when it sees our EOF).
        let mut replies = Vec::new();
        while let Some(frame) = raw.read_frame() {
            replies.push(frame);
        }
        if let Some(i) = replies
            .iter()
            .position(|f| matches!(f, Frame::Error(e) if e.starts_with(b"ERR Protocol error")))
        {
            protocol_errors += 1;
            assert_eq!(
                i + 1,
                replies.len(),
                "round {round}: a reply after a protocol error"
            );
        }
    }
    assert!(
        protocol_errors > 50,
        "only {protocol_errors} rounds hit a protocol error"
    );
    traffic.finish();
    assert_answers_ping(&server);
}

#[test]
fn query_buffer_limit_disconnects_a_streaming_client() {
    let server = TestServer::start_with(&["--client-query-buffer-limit", "1mb"]);
    let traffic = SteadyTraffic::start(&server);
    let mut raw = server.raw();
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    raw.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$104857600\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 16 * 1024 * 1024 {
        if raw.stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    // Redis closes such a client without a reply.
    let mut rest = [0u8; 64];
    match raw.stream.read(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("still connected after streaming {sent} bytes: {other:?}"),
    }
    traffic.finish();
    let mut con = server.client();
    let big: Option<Vec<u8>> = con.get("big").expect("GET big");
    assert_eq!(big, None);
    assert_answers_ping(&server);
}

#[test]
fn twenty_megabyte_value_round_trips() {
    let server = TestServer::start();
    let mut con = server.client();
    let value: Vec<u8> = (0..20 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let () = con.set("big", &value).expect("SET 20 MB");
    let got: Vec<u8> = con.get("big").expect("GET 20 MB");
    assert!(got == value, "the 20 MB value came back different");
}

#[test]
fn fifty_clients_at_once() {
    let server = TestServer::start();
    let workers: Vec<_> = (0..50)
        .map(|t| {
            let mut con = server.client();
            thread::spawn(move || {
                for i in 0..200 {
                    let (key, value) = (format!("c{t}:k{i}"), format!("c{t}:v{i}"));
                    let () = con.set(&key, &value).expect("SET");
                    let got: String = con.get(&key).expect("GET");
                    assert_eq!(got, value);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a client thread failed");
    }
    // Every key is still there, with its own client's value.
    let mut con = server.client();
    for t in 0..50 {
        let got: String = con.get(format!("c{t}:k199")).expect("GET");
        assert_eq!(got, format!("c{t}:v199"));
    }
}

#[test]
fn sigterm_exits_cleanly_with_clients_connected() {
    let server = TestServer::start();
    let mut con = server.client();
    let () = con.set("k", "v").expect("SET");
    let mut idle = server.raw();
    assert_eq!(idle.cmd(&["GET", "k"]), bulk("v"));
    // A client in the middle of sending a command.
    let mut partial = server.raw();
    partial.send(b"*2\r\n$3\r\nGET\r\n$1\r\n");
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "tierd exited with {status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(idle.is_closed());
    assert!(partial.is_closed());
}
