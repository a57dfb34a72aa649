//! The client patterns Tier's users run on ElastiCache, written as they write them
//! with the `redis` crate: cache-aside with JSON and a TTL, a fixed-window rate
//! limiter (a pipeline of INCR and EXPIRE), sessions in hashes with a sliding expiry,
//! a lock taken with SET NX PX and released under WATCH/MULTI or by a Lua
//! check-and-delete, and events over pub/sub. Each runs on keys in RAM and again after
//! they went to the cold tier.

use crate::harness::*;
use redis::Commands;
use std::time::Duration;

/// A node whose tier takes any value, so each pattern can run on cold keys too.
fn node() -> TestServer {
    TestServer::start_with(&["--tier-min-value-size", "1"])
}

/// Moves `keys` to the cold tier.
fn demote(con: &mut redis::Connection, keys: &[&str]) {
    let moved: i64 = redis::cmd("DEBUG")
        .arg("DEMOTE")
        .arg(keys)
        .query(con)
        .expect("DEBUG DEMOTE");
    assert_eq!(moved, keys.len() as i64, "{keys:?} were in RAM");
}

/// Cache-aside: a miss loads from "the database" and caches the JSON with a TTL; a
/// hit (also from the cold tier) returns it without touching the database.
#[test]
fn cache_aside_with_json_and_ttl() {
    let server = node();
    let mut con = server.client();
    let mut database_reads = 0;
    let mut fetch = |con: &mut redis::Connection, id: u32| -> serde_json::Value {
        let key = format!("user:{id}");
        if let Some(cached) = con.get::<_, Option<String>>(&key).expect("GET") {
            return serde_json::from_str(&cached).expect("cached JSON");
        }
        database_reads += 1;
        let user =
            serde_json::json!({ "id": id, "name": format!("user {id}"), "tags": ["a", "b"] });
        let _: () = con.set_ex(&key, user.to_string(), 300).expect("SET EX");
        user
    };
    let first = fetch(&mut con, 7);
    assert_eq!(fetch(&mut con, 7), first);
    demote(&mut con, &["user:7"]);
    assert_eq!(fetch(&mut con, 7), first, "a hit from the cold tier");
    assert_eq!(database_reads, 1);
    let ttl: i64 = con.ttl("user:7").expect("TTL");
    assert!(
        (290..=300).contains(&ttl),
        "the TTL survives demotion: {ttl}"
    );
}

/// A fixed-window rate limiter: INCR and EXPIRE NX in one pipeline per request; the
/// 11th request in the window is refused; the window's key expires.
#[test]
fn rate_limiter_with_a_pipeline() {
    let server = node();
    let mut con = server.client();
    let allow = |con: &mut redis::Connection| -> bool {
        let (count, _): (i64, i64) = redis::pipe()
            .incr("rate:client:42", 1)
            .cmd("EXPIRE")
            .arg("rate:client:42")
            .arg(1)
            .arg("NX")
            .query(con)
            .expect("pipeline");
        count <= 10
    };
    let allowed = (0..15).filter(|_| allow(&mut con)).count();
    assert_eq!(allowed, 10);
    demote(&mut con, &["rate:client:42"]);
    assert!(!allow(&mut con), "the count is kept while cold");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(allow(&mut con), "a new window");
}

/// Sessions in hashes: each request reads the session and slides its expiry forward;
/// an idle one expires.
#[test]
fn sessions_with_sliding_expiry() {
    let server = node();
    let mut con = server.client();
    let _: () = redis::pipe()
        .hset_multiple("session:abc", &[("user", "42"), ("cart", "3 items")])
        .expire("session:abc", 2)
        .query(&mut con)
        .expect("create");
    for round in 0..4 {
        if round == 2 {
            demote(&mut con, &["session:abc"]);
        }
        std::thread::sleep(Duration::from_millis(700));
        let (user, _): (Option<String>, i64) = redis::pipe()
            .hget("session:abc", "user")
            .expire("session:abc", 2)
            .query(&mut con)
            .expect("touch");
        assert_eq!(user.as_deref(), Some("42"), "round {round}: slid forward");
    }
    std::thread::sleep(Duration::from_millis(2200));
    let user: Option<String> = con.hget("session:abc", "user").expect("HGET");
    assert_eq!(user, None, "an idle session expires");
}

/// Takes the lock `key` for `token` with SET NX PX (500 ms); says whether it did.
fn take_lock(con: &mut redis::Connection, key: &str, token: &str) -> bool {
    redis::cmd("SET")
        .arg(key)
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(500)
        .query::<Option<String>>(con)
        .expect("SET NX PX")
        .is_some()
}

/// A lock: SET NX PX takes it (a second taker fails), the owner releases it with a
/// check-and-delete under WATCH/MULTI (another owner's token is not deleted), and an
/// abandoned lock expires.
#[test]
fn lock_with_set_nx_px_and_watch_release() {
    let server = node();
    let mut con = server.client();
    let mut other = server.client();
    let take = |con: &mut redis::Connection, token: &str| take_lock(con, "lock:report", token);
    // Releases the lock if it still holds `token`; says whether it did.
    let release = |con: &mut redis::Connection, token: &str| -> bool {
        let _: () = redis::cmd("WATCH")
            .arg("lock:report")
            .query(con)
            .expect("WATCH");
        let holder: Option<String> = con.get("lock:report").expect("GET");
        if holder.as_deref() != Some(token) {
            let _: () = redis::cmd("UNWATCH").query(con).expect("UNWATCH");
            return false;
        }
        let done: Option<(i64,)> = redis::pipe()
            .atomic()
            .del("lock:report")
            .query(con)
            .expect("MULTI/EXEC");
        done == Some((1,))
    };
    assert!(take(&mut con, "token-a"));
    assert!(!take(&mut other, "token-b"), "held");
    demote(&mut con, &["lock:report"]);
    assert!(!release(&mut other, "token-b"), "not the owner");
    assert!(release(&mut con, "token-a"));
    assert!(take(&mut other, "token-b"), "free again");
    std::thread::sleep(Duration::from_millis(600));
    assert!(take(&mut con, "token-c"), "an abandoned lock expires");
}

/// The lock of Redis's documentation: SET NX PX takes it, a Lua script deletes it only
/// if it still holds the caller's token (one atomic step), also when the lock's value
/// was moved to the cold tier.
#[test]
fn lock_with_set_nx_px_and_lua_release() {
    let server = node();
    let mut con = server.client();
    let mut other = server.client();
    let release_script = redis::Script::new(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) \
         else return 0 end",
    );
    let take = |con: &mut redis::Connection, token: &str| take_lock(con, "lock:job", token);
    let release = |con: &mut redis::Connection, token: &str| -> bool {
        let deleted: i64 = release_script
            .key("lock:job")
            .arg(token)
            .invoke(con)
            .expect("release script");
        deleted == 1
    };
    assert!(take(&mut con, "token-a"));
    assert!(!take(&mut other, "token-b"), "held");
    assert!(!release(&mut other, "token-b"), "not the owner");
    demote(&mut con, &["lock:job"]);
    assert!(!release(&mut other, "token-b"), "not the owner, cold");
    assert!(release(&mut con, "token-a"));
    assert!(!release(&mut con, "token-a"), "released already");
    assert!(take(&mut other, "token-b"), "free again");
    std::thread::sleep(Duration::from_millis(600));
    assert!(!release(&mut other, "token-b"), "expired meanwhile");
    assert!(take(&mut con, "token-c"), "an abandoned lock expires");
}

/// Events over pub/sub: a worker subscribed to a pattern gets every event a
/// producer publishes, in order, with its channel.
#[test]
fn events_over_pubsub() {
    let server = node();
    let mut producer = server.client();
    let mut worker = server.client();
    let mut events = worker.as_pubsub();
    events.psubscribe("events:*").expect("PSUBSCRIBE");
    events
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    for (i, kind) in ["created", "paid", "shipped"].iter().enumerate() {
        let listeners: i64 = producer
            .publish(format!("events:{kind}"), format!("order {i}"))
            .expect("PUBLISH");
        assert_eq!(listeners, 1);
    }
    for (i, kind) in ["created", "paid", "shipped"].iter().enumerate() {
        let message = events.get_message().expect("event");
        assert_eq!(message.get_channel_name(), format!("events:{kind}"));
        let payload: String = message.get_payload().expect("payload");
        assert_eq!(payload, format!("order {i}"));
    }
}
