//! Pub/Sub: a scripted session compared reply by reply with a real redis-server (RESP2
//! and RESP3), messages through the `redis` crate's pub/sub connection, a subscriber
//! that does not read being disconnected by `client-output-buffer-limit pubsub` while
//! others go on, and the normal class's limit.

use crate::harness::*;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// A subscriber and a publisher run the same script against tierd and redis-server;
/// every reply and message is the same (PUBSUB CHANNELS' order aside).
#[test]
fn pubsub_matches_redis() {
    for resp3 in [false, true] {
        let tierd = TestServer::start();
        let redis = ReferenceRedis::start();
        let run = |port: u16| -> Vec<Frame> {
            let (mut sub, mut publisher) = (RawClient::connect(port), RawClient::connect(port));
            if resp3 {
                sub.cmd(&["HELLO", "3"]);
            }
            let mut seen = Vec::new();
            // Commands on the subscriber: each has its replies (one per channel).
            let script: &[(&[&str], usize)] = &[
                (&["SUBSCRIBE", "news", "sport"], 2),
                (&["PSUBSCRIBE", "n*", "s?ort"], 2),
                (&["SSUBSCRIBE", "shard"], 1),
                (&["GET", "k"], 1),
                (&["PING"], 1),
                (&["PING", "hi"], 1),
            ];
            for (cmd, replies) in script {
                sub.send(&encode_command(
                    &cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
                ));
                for _ in 0..*replies {
                    seen.push(sub.read_frame().expect("reply"));
                }
            }
            // Published: the channel's subscriber and each matching pattern get it.
            seen.push(publisher.cmd(&["PUBLISH", "news", "first"]));
            for _ in 0..2 {
                seen.push(sub.read_frame().expect("message"));
            }
            seen.push(publisher.cmd(&["SPUBLISH", "shard", "to the shard"]));
            seen.push(sub.read_frame().expect("smessage"));
            seen.push(publisher.cmd(&["PUBLISH", "shard", "not a shard message"]));
            seen.push(publisher.cmd(&["PUBLISH", "nobody", "x"]));
            seen.push(publisher.cmd(&["PUBSUB", "NUMSUB", "news", "none"]));
            seen.push(publisher.cmd(&["PUBSUB", "NUMPAT"]));
            seen.push(publisher.cmd(&["PUBSUB", "SHARDNUMSUB", "shard"]));
            seen.push(publisher.cmd(&["PUBSUB", "CHANNELS", "n*"]));
            seen.push(publisher.cmd(&["PUBSUB", "CHANNELS", "a", "b"]));
            seen.push(publisher.cmd(&["PUBSUB", "HELP"]));
            let channels = match publisher.cmd(&["PUBSUB", "CHANNELS"]) {
                Frame::Array(mut items) => {
                    items.sort_by_key(|f| format!("{f:?}"));
                    Frame::Array(items)
                }
                other => other,
            };
            seen.push(channels);
            for (cmd, replies) in [
                (&["UNSUBSCRIBE", "news", "never"][..], 2),
                (&["PUNSUBSCRIBE"], 2),
                (&["SUNSUBSCRIBE"], 1),
                (&["UNSUBSCRIBE"], 1),
                (&["UNSUBSCRIBE"], 1),
                (&["GET", "k"], 1),
            ] {
                sub.send(&encode_command(
                    &cmd.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
                ));
                for _ in 0..replies {
                    seen.push(sub.read_frame().expect("reply"));
                }
            }
            seen.push(publisher.cmd(&["PUBLISH", "news", "nobody listens"]));
            seen
        };
        let (from_tierd, from_redis) = (run(tierd.port), run(redis.port));
        assert_eq!(from_tierd.len(), from_redis.len());
        for (i, (t, r)) in from_tierd.iter().zip(&from_redis).enumerate() {
            assert_eq!(t, r, "resp3 {resp3}: reply {i} differs");
        }
    }
}

/// The `redis` crate's pub/sub connection gets the messages, from channels and
/// patterns, in the order they were published.
#[test]
fn messages_reach_a_redis_crate_subscriber() {
    let server = TestServer::start();
    let mut con = server.client();
    let mut subscriber = server.client();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("orders").expect("subscribe");
    pubsub.psubscribe("order*").expect("psubscribe");
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    for i in 0..50 {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg("orders")
            .arg(format!("order {i}"))
            .query(&mut con)
            .expect("publish");
        assert_eq!(receivers, 2);
    }
    for i in 0..50 {
        for pattern in [None, Some("order*")] {
            let message = pubsub.get_message().expect("message");
            assert_eq!(message.get_channel_name(), "orders");
            let payload: String = message.get_payload().expect("payload");
            assert_eq!(payload, format!("order {i}"));
            let got: Option<String> = message.get_pattern().ok();
            assert_eq!(got.as_deref(), pattern);
        }
    }
}

/// A subscriber that never reads is disconnected once its messages pass the pubsub
/// hard limit; the publisher and another client go on, and the channel is left.
#[test]
fn a_subscriber_that_does_not_read_is_disconnected() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 256kb 60"
        ]),
        ok()
    );
    let mut lazy = server.raw();
    assert!(matches!(
        lazy.cmd(&["SUBSCRIBE", "firehose"]),
        Frame::Array(_)
    ));
    let payload = "x".repeat(16 * 1024);
    let mut publisher = server.raw();
    let started = Instant::now();
    let mut delivered_to_none = false;
    // Some MB: more than the socket buffers and the limit together.
    for _ in 0..2000 {
        match publisher.cmd(&["PUBLISH", "firehose", &payload]) {
            Frame::Integer(0) => {
                delivered_to_none = true;
                break;
            }
            Frame::Integer(1) => {}
            other => panic!("PUBLISH replied {other:?}"),
        }
    }
    assert!(delivered_to_none, "the subscriber was never disconnected");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(admin.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let text = info(&mut admin, &["stats"]);
    assert_eq!(number(&text, "pubsub_channels"), 0, "{text}");
}

/// `client-output-buffer-limit normal`: a reply beyond the hard limit closes that
/// client's connection, no other.
#[test]
fn the_normal_output_limit_closes_a_client() {
    let server = TestServer::start();
    let mut admin = server.raw();
    admin.cmd(&["SET", "big", &"v".repeat(300 * 1024)]);
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100kb 0 0"
        ]),
        ok()
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]),
        array(vec![
            bulk("client-output-buffer-limit"),
            bulk("normal 102400 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        ])
    );
    let mut reader = server.raw();
    reader.send(&encode_command(&[b"GET", b"big"]));
    assert!(reader.is_closed(), "the client stayed connected");
    assert_eq!(admin.cmd(&["STRLEN", "big"]), int(300 * 1024));
}
