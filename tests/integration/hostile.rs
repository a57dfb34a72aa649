//! Hostile clients against a real tierd: many at once sending garbage, truncated
//! frames, absurd counts and lengths, deep nesting, TLS handshakes that never finish,
//! thousands of idle connections, and a client that never reads its replies. In
//! each case the server answers or closes that one connection, its memory (the RSS
//! of the tierd process) stays bounded, and other clients see no error.
//!
//! The exact error texts of each malformed request are checked one by one in
//! `protocol.rs`; here the point is what many of them at once cost the server.

use crate::harness::*;
use crate::tls::{raw_tls, Pki};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

const MB: u64 = 1024 * 1024;

/// Asserts the server's RSS grew by less than `limit` since `before`.
fn assert_rss_within(server: &TestServer, before: u64, limit: u64, what: &str) {
    let now = rss_bytes(server.pid());
    let grown = now.saturating_sub(before);
    assert!(
        grown < limit,
        "{what}: tierd's RSS grew by {} MB (from {} MB to {} MB)",
        grown / MB,
        before / MB,
        now / MB
    );
}

/// Raises this process's soft limit on open files (inherited by the tierd it
/// spawns) toward its hard limit, and returns the soft limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// One hostile request of each kind the suite mixes; `i` picks the kind.
fn hostile_bytes(i: usize, rng: &mut StdRng) -> Vec<u8> {
    match i % 6 {
        // Random bytes.
        0 => (0..rng.gen_range(1..4096)).map(|_| rng.gen()).collect(),
        // A multibulk count of 2^31: too big.
        1 => b"*2147483648\r\n".to_vec(),
        // The largest count allowed, then nothing: the server must not reserve for it.
        2 => b"*2147483647\r\n$3\r\nSET\r\n".to_vec(),
        // A bulk beyond proto-max-bulk-len (1mb here).
        3 => b"*2\r\n$3\r\nSET\r\n$1048577\r\n".to_vec(),
        // A bulk of exactly the limit, announced and never sent.
        4 => b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\nabc".to_vec(),
        // A frame cut in its middle.
        _ => {
            let whole = encode_command(&[b"SET", b"key", b"value"]);
            whole[..rng.gen_range(1..whole.len())].to_vec()
        }
    }
}

/// Too big a count or length (kinds 1 and 3 of [`hostile_bytes`]) is refused at
/// once with Redis's text, and the connection closed.
fn assert_refusals<S: Read + Write>(connections: &mut [(usize, RawClient<S>)]) {
    for (i, raw) in connections {
        let expected = match *i % 6 {
            1 => "ERR Protocol error: invalid multibulk length",
            3 => "ERR Protocol error: invalid bulk length",
            _ => continue,
        };
        assert_eq!(raw.read_frame(), Some(err(expected)));
        assert!(raw.is_closed());
    }
}

/// 600 connections at once, on the plain and the TLS port, each sending one kind of
/// hostile input and then holding the connection open: each is answered with an
/// error or waits, other clients go on, and the server's memory stays bounded.
#[test]
fn many_hostile_clients_at_once() {
    let pki = Pki::new();
    let server = pki.start_server("no", &["--proto-max-bulk-len", "1mb"]);
    let traffic = SteadyTraffic::start(&server);
    let before = rss_bytes(server.pid());
    let mut rng = StdRng::seed_from_u64(0x4057);
    let mut plain = Vec::new();
    let mut secure = Vec::new();
    for i in 0..600 {
        let bytes = hostile_bytes(i, &mut rng);
        if i % 4 == 3 {
            let mut raw = raw_tls(server.tls_port, &pki.ca.pem(), None);
            raw.send(&bytes);
            secure.push((i, raw));
        } else {
            let mut raw = server.raw();
            raw.send(&bytes);
            plain.push((i, raw));
        }
    }
    assert_rss_within(&server, before, 128 * MB, "600 hostile connections");
    assert_refusals(&mut plain);
    assert_refusals(&mut secure);
    let round_trips = traffic.finish();
    assert!(!round_trips.is_empty());
    drop(plain);
    drop(secure);
    assert_answers_ping(&server);
    assert_eq!(
        raw_tls(server.tls_port, &pki.ca.pem(), None).cmd(&["PING"]),
        Frame::Simple("PONG".into())
    );
}

/// Deep nesting: the request parser takes `*` then `$` only, so a nested aggregate
/// is a protocol error at its first level, whatever its depth (no recursion), and
/// RESP3 aggregate types are inline commands, each refused as unknown.
#[test]
fn deeply_nested_aggregates_are_refused_at_the_first_level() {
    let server = TestServer::start();
    let traffic = SteadyTraffic::start(&server);
    let before = rss_bytes(server.pid());
    for opener in [
        "*1\r\n",
        "*2\r\n",
        "*1\r\n%1\r\n",
        "*1\r\n~1\r\n",
        "*1\r\n>1\r\n",
    ] {
        let mut raw = server.raw();
        let nested = opener.repeat(100_000).into_bytes();
        raw.send_until_closed(&nested);
        let got = nested[4];
        assert_eq!(
            raw.read_frame(),
            Some(err(&format!(
                "ERR Protocol error: expected '$', got '{}'",
                got as char
            )))
        );
        assert!(raw.is_closed());
    }
    // RESP3 aggregates outside a multibulk are inline commands: each line answered.
    let mut raw = server.raw();
    raw.send(&"%1\r\n~1\r\n".repeat(1000).into_bytes());
    for _ in 0..2000 {
        match raw.read_frame() {
            Some(Frame::Error(e)) => assert!(e.starts_with(b"ERR unknown command"), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
    assert_rss_within(&server, before, 64 * MB, "nested aggregates");
    traffic.finish();
}

/// 300 TLS connections that start a handshake (a record header promising a
/// ClientHello) and never finish it: other TLS and plain clients are served
/// meanwhile, and each stalled connection is closed at the handshake deadline
/// (here the idle timeout, 2 s).
#[test]
fn stalled_tls_handshakes_are_closed_at_the_deadline() {
    let pki = Pki::new();
    let server = pki.start_server("no", &["--timeout", "2"]);
    let before = rss_bytes(server.pid());
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.tls_port)).expect("connect");
            // A handshake record of 16 KB announced, 4 bytes of it sent.
            s.write_all(&[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc])
                .expect("write");
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            s
        })
        .collect();
    let mut tls = raw_tls(server.tls_port, &pki.ca.pem(), None);
    assert_eq!(tls.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(server.raw().cmd(&["GET", "k"]), bulk("v"));
    assert_rss_within(&server, before, 64 * MB, "300 stalled handshakes");
    for s in &mut stalled {
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("a stalled handshake got {other:?}"),
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(8),
        "the stalled handshakes were closed after {waited:?}"
    );
    assert_eq!(
        raw_tls(server.tls_port, &pki.ca.pem(), None).cmd(&["GET", "k"]),
        bulk("v")
    );
}

/// Thousands of idle connections: each costs little memory; past `maxclients` new
/// ones get Redis's error and are closed; the others are served throughout.
#[test]
fn thousands_of_idle_connections() {
    let fds = raise_fd_limit();
    // Both ends of every connection live on this machine: the test's and tierd's.
    let total = 2000.min((fds / 2).saturating_sub(100) as usize);
    assert!(
        total >= 500,
        "the open-files limit ({fds}) leaves room for {total} connections only"
    );
    let max_clients = total - 400;
    let server = TestServer::start_with(&["--maxclients", &max_clients.to_string()]);
    let mut steady = server.raw();
    assert_eq!(steady.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let before = rss_bytes(server.pid());
    let mut admitted = Vec::new();
    let mut refused = 0;
    for _ in 0..total {
        let mut raw = server.raw();
        // One command each, so that the next connection is counted after this one.
        raw.send(&encode_command(&[b"PING"]));
        match raw.read_frame() {
            Some(Frame::Simple(pong)) if pong == "PONG" => admitted.push(raw),
            Some(Frame::Error(e)) if e == "ERR max number of clients reached" => {
                assert!(raw.is_closed());
                refused += 1;
            }
            other => panic!("connection {} got {other:?}", admitted.len() + refused),
        }
    }
    // The steady client is one of the maxclients.
    assert_eq!(admitted.len(), max_clients - 1);
    assert_eq!(refused, total - admitted.len());
    let per_connection = rss_bytes(server.pid()).saturating_sub(before) / admitted.len() as u64;
    assert!(
        per_connection < 64 * 1024,
        "{per_connection} bytes of RSS per idle connection"
    );
    let text = info(&mut steady, &["clients", "stats"]);
    assert_eq!(number(&text, "connected_clients"), max_clients as u64);
    assert_eq!(number(&text, "rejected_connections"), refused as u64);
    // Every idle connection still works, and so does the steady one.
    for raw in admitted.iter_mut().step_by(97) {
        assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
    }
    assert_eq!(steady.cmd(&["PING"]), Frame::Simple("PONG".into()));
    drop(admitted);
    let deadline = Instant::now() + Duration::from_secs(10);
    while number(&info(&mut steady, &["clients"]), "connected_clients") > 1 {
        assert!(Instant::now() < deadline, "closed connections linger");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A client that pipelines reads of a 64 KB value and never reads the replies: the
/// server stops reading from it once its socket is full (its memory stays
/// bounded), another client's PINGs keep a normal latency, and the idle `timeout`
/// closes the stuck client, as Redis closes a client that takes none of its
/// replies for that long.
#[test]
fn a_client_that_never_reads_its_replies() {
    let server = TestServer::start_with(&["--timeout", "3"]);
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["SET", "big", &"x".repeat(64 * 1024)]), ok());
    let before = rss_bytes(server.pid());
    let hog = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    hog.set_write_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let writer = {
        let mut hog = hog.try_clone().expect("clone");
        thread::spawn(move || {
            let request = encode_command(&[b"GET", b"big"]).repeat(256);
            let mut sent = 0u64;
            // Until the server stops reading: its replies fill both sockets' buffers.
            while hog.write_all(&request).is_ok() {
                sent += request.len() as u64;
            }
            sent
        })
    };
    // Another client's latency while the hog is stuck.
    let mut pinger = server.raw();
    let mut latencies = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        assert_eq!(pinger.cmd(&["PING"]), Frame::Simple("PONG".into()));
        latencies.push(started.elapsed());
        thread::sleep(Duration::from_millis(2));
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(p99 < Duration::from_millis(200), "PING p99 {p99:?}");
    let sent = writer.join().expect("the writer");
    assert!(sent > 0);
    assert_rss_within(&server, before, 64 * MB, "a client that never reads");
    // The stuck client is closed by the idle timeout, the others are not.
    let hog_addr = format!("addr={} ", hog.local_addr().expect("addr"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let Frame::Bulk(list) = pinger.cmd(&["CLIENT", "LIST"]) else {
            panic!("CLIENT LIST is a bulk string");
        };
        if !String::from_utf8_lossy(&list).contains(&hog_addr) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stuck client is still connected"
        );
        assert_eq!(pinger.cmd(&["PING"]), Frame::Simple("PONG".into()));
        thread::sleep(Duration::from_millis(200));
    }
    let _ = hog.shutdown(Shutdown::Both);
}
