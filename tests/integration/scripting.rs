//! Lua scripting through a real tierd: EVAL and EVALSHA with `redis::Script`, the
//! script cache (SCRIPT LOAD, EXISTS, FLUSH), EVAL_RO, scripts inside MULTI, atomicity
//! seen from another client, scripts on keys in the cold tier, `lua-time-limit` with
//! `-BUSY`, SCRIPT KILL and UNKILLABLE, `-OOM` over maxmemory, and script writes
//! surviving a restart. (Reply and error texts are compared with redis-server in
//! `differential.rs`.)

use crate::harness::*;
use redis::Commands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_server::resp::Frame;

/// A script that never ends by itself, and one that writes first.
const ENDLESS: &str = "local i = 0 while true do i = i + 1 end";
const ENDLESS_AFTER_A_WRITE: &str =
    "redis.call('set', KEYS[1], 'written') local i = 0 while true do i = i + 1 end";

/// `redis::Script` loads a script on NOSCRIPT and runs it by its SHA1 after; keys and
/// arguments arrive as KEYS and ARGV; the cache answers SCRIPT EXISTS and is emptied
/// by SCRIPT FLUSH.
#[test]
fn eval_evalsha_and_the_script_cache() {
    let server = TestServer::start();
    let mut con = server.client();
    let script = redis::Script::new(
        "redis.call('set', KEYS[1], ARGV[1]) return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
    );
    let reply: (String, String, i64, i64) =
        script.key("k").arg("v").invoke(&mut con).expect("invoke");
    assert_eq!(reply, ("k".into(), "v".into(), 1, 1));
    assert_eq!(con.get::<_, String>("k").expect("GET"), "v");

    let sha = script.get_hash().to_owned();
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(&sha)
        .arg("0000000000000000000000000000000000000000")
        .query(&mut con)
        .expect("SCRIPT EXISTS");
    assert_eq!(exists, [true, false]);
    let mut raw = server.raw();
    assert_eq!(
        number(&info(&mut raw, &["memory"]), "number_of_cached_scripts"),
        1
    );

    let loaded: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return ARGV[1] .. 'x'")
        .query(&mut con)
        .expect("SCRIPT LOAD");
    assert_eq!(
        loaded,
        tier_server::script::sha1hex(b"return ARGV[1] .. 'x'")
    );
    let by_sha: String = redis::cmd("EVALSHA")
        .arg(loaded.to_uppercase())
        .arg(0)
        .arg("y")
        .query(&mut con)
        .expect("EVALSHA");
    assert_eq!(by_sha, "yx");

    assert_eq!(raw.cmd(&["SCRIPT", "FLUSH", "ASYNC"]), ok());
    assert_eq!(
        raw.cmd(&["EVALSHA", &loaded, "0"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    assert_eq!(
        number(&info(&mut raw, &["memory"]), "number_of_cached_scripts"),
        0
    );
    // `redis::Script` loads it again on NOSCRIPT.
    let again: (String, String, i64, i64) = script
        .key("k2")
        .arg("w")
        .invoke(&mut con)
        .expect("invoke after FLUSH");
    assert_eq!(again, ("k2".into(), "w".into(), 1, 1));
}

/// EVAL_RO and EVALSHA_RO run reads and refuse writes, naming the script.
#[test]
fn read_only_scripts_refuse_writes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(
        raw.cmd(&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"]),
        bulk("v")
    );
    let body = "return redis.call('del', KEYS[1])";
    let sha = tier_server::script::sha1hex(body.as_bytes());
    assert_eq!(raw.cmd(&["SCRIPT", "LOAD", body]), bulk(&sha));
    assert_eq!(
        raw.cmd(&["EVALSHA_RO", &sha, "1", "k"]),
        err(&format!(
            "ERR Write commands are not allowed from read-only scripts. script: {sha}, on \
             @user_script:1."
        ))
    );
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(raw.cmd(&["EVALSHA", &sha, "1", "k"]), int(1));
}

/// A script queued in MULTI runs at EXEC with the others, in order; the keys it
/// declares are loaded from the cold tier before EXEC runs anything.
#[test]
fn scripts_inside_multi() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["MULTI"]), ok());
    let queued = Frame::Simple("QUEUED".into());
    assert_eq!(raw.cmd(&["SET", "n", "1"]), queued);
    assert_eq!(
        raw.cmd(&[
            "EVAL",
            "return redis.call('incrby', KEYS[1], ARGV[1])",
            "1",
            "n",
            "41"
        ]),
        queued
    );
    assert_eq!(raw.cmd(&["GET", "n"]), queued);
    assert_eq!(raw.cmd(&["EXEC"]), array(vec![ok(), int(42), bulk("42")]));
    assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "n"]), int(1));
    assert_eq!(raw.cmd(&["MULTI"]), ok());
    assert_eq!(
        raw.cmd(&[
            "EVAL",
            "return redis.call('append', KEYS[1], '!')",
            "1",
            "n"
        ]),
        queued
    );
    assert_eq!(raw.cmd(&["EXEC"]), array(vec![int(3)]));
    assert_eq!(raw.cmd(&["GET", "n"]), bulk("42!"));
}

/// Another client never sees a script half done: two keys the script keeps equal are
/// always read equal, while the script runs thousands of commands.
#[test]
fn another_client_never_sees_half_a_script() {
    let server = TestServer::start();
    let mut con = server.client();
    let _: () = con.mset(&[("a", 0), ("b", 0)]).expect("MSET");
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let (done, mut watcher) = (done.clone(), server.client());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Acquire) {
                let (a, b): (i64, i64) = redis::cmd("MGET")
                    .arg("a")
                    .arg("b")
                    .query(&mut watcher)
                    .expect("MGET");
                assert_eq!(a, b, "a script was seen half done");
                reads += 1;
            }
            reads
        })
    };
    let script = redis::Script::new(
        "for i = 1, tonumber(ARGV[1]) do redis.call('incr', KEYS[1]) redis.call('incr', KEYS[2]) end \
         return redis.call('get', KEYS[1])",
    );
    for _ in 0..20 {
        let _: i64 = script
            .key("a")
            .key("b")
            .arg(2000)
            .invoke(&mut con)
            .expect("script");
    }
    done.store(true, Ordering::Release);
    let reads = observer.join().expect("observer");
    assert!(reads > 0);
    assert_eq!(con.get::<_, i64>("a").expect("GET"), 40_000);
}

/// A script's declared keys are loaded from the cold tier before it runs; a key it
/// did not declare that is cold is an error (the script must not wait for the disk).
#[test]
fn scripts_on_cold_keys() {
    let server = TestServer::start_with(&["--tier-min-value-size", "1"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "cold value"]);
    raw.cmd(&["RPUSH", "l", "a", "b", "c"]);
    raw.cmd(&["SET", "other", "also cold"]);
    assert_eq!(raw.cmd(&["DEBUG", "DEMOTE", "k", "l", "other"]), int(3));
    assert_eq!(
        raw.cmd(&[
            "EVAL",
            "return {redis.call('get', KEYS[1]), redis.call('lrange', KEYS[2], 0, -1), redis.call('append', KEYS[1], '!')}",
            "2",
            "k",
            "l"
        ]),
        array(vec![
            bulk("cold value"),
            array(vec![bulk("a"), bulk("b"), bulk("c")]),
            int(11)
        ])
    );
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("cold value!"));
    let body = "return redis.pcall('get', 'other')";
    assert_eq!(
        raw.cmd(&["EVAL", body, "0"]),
        err("ERR the value of key 'other' is in the cold tier; name it in the script's KEYS so that it is loaded first")
    );
    assert_eq!(
        raw.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "other"]),
        bulk("also cold")
    );
}

/// Waits until `raw`'s PING is answered `-BUSY` (a script runs past the limit).
fn wait_busy(raw: &mut RawClient) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = err(
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    );
    while raw.cmd(&["PING"]) != busy {
        assert!(Instant::now() < deadline, "the script never got busy");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Before `lua-time-limit` a command waits for the running script and then runs; after
/// it, other clients get `-BUSY`, SCRIPT KILL stops a script that has not written
/// (its caller gets Redis's error), and one that wrote is UNKILLABLE until SHUTDOWN
/// NOSAVE.
#[test]
fn busy_scripts_and_script_kill() {
    let server = TestServer::start_with(&["--appendonly", "no", "--save", ""]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["SCRIPT", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "lua-time-limit", "300"]), ok());
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "busy-reply-threshold"]),
        array(vec![bulk("busy-reply-threshold"), bulk("300")])
    );

    // A short script: a command sent meanwhile waits for it, then sees its write.
    let mut runner = server.raw();
    runner.send(&encode_command(&[
        b"EVAL",
        b"local i = 0 while i < 3000000 do i = i + 1 end redis.call('set', 'short', 'done') return i",
        b"0",
    ]));
    std::thread::sleep(Duration::from_millis(20));
    let got = raw.cmd(&["GET", "short"]);
    assert_eq!(runner.read_frame(), Some(int(3_000_000)));
    assert!(
        got == bulk("done") || got == nil(),
        "a command during a script runs before or after it: {got:?}"
    );

    // A script that runs forever without writing: killed.
    let sha = tier_server::script::sha1hex(ENDLESS.as_bytes());
    runner.send(&encode_command(&[b"EVAL", ENDLESS.as_bytes(), b"0"]));
    wait_busy(&mut raw);
    assert_eq!(
        raw.cmd(&["GET", "x"]),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    // Inside MULTI, SCRIPT KILL is let through and queued (as Redis), and EXEC sent
    // while busy discards the transaction.
    let busy =
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    assert_eq!(raw.cmd(&["MULTI"]), ok());
    assert_eq!(raw.cmd(&["SCRIPT", "KILL"]), Frame::Simple("QUEUED".into()));
    assert_eq!(
        raw.cmd(&["EXEC"]),
        err(&format!(
            "EXECABORT Transaction discarded because of: {busy}"
        ))
    );
    assert_eq!(
        raw.cmd(&["EXEC"]),
        err(&format!(
            "EXECABORT Transaction discarded because of: {busy}"
        ))
    );
    // A command refused inside MULTI makes the EXEC after the script fail.
    assert_eq!(raw.cmd(&["MULTI"]), ok());
    assert_eq!(raw.cmd(&["INCR", "x"]), err(busy));
    let mut killer = server.raw();
    assert_eq!(killer.cmd(&["SCRIPT", "KILL"]), ok());
    assert_eq!(
        runner.read_frame(),
        Some(err(&format!(
            "ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1."
        )))
    );
    assert_eq!(
        raw.cmd(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
    assert_eq!(
        raw.cmd(&["SCRIPT", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );

    // One that wrote: it cannot be killed; SHUTDOWN NOSAVE stops the server.
    runner.send(&encode_command(&[
        b"EVAL",
        ENDLESS_AFTER_A_WRITE.as_bytes(),
        b"1",
        b"w",
    ]));
    wait_busy(&mut raw);
    assert_eq!(
        raw.cmd(&["SCRIPT", "KILL"]),
        err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN"]),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    raw.send(&encode_command(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(raw.is_closed(), "SHUTDOWN NOSAVE closes the connection");
    let mut server = server;
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "SHUTDOWN NOSAVE stops the server while a script runs"
    );
}

/// What scripts wrote is in the AOF, as one transaction each: a restart (after kill -9)
/// has it all.
#[test]
fn script_writes_survive_a_restart() {
    let server = TestServer::start_with(&["--appendfsync", "always"]);
    let mut con = server.client();
    let script = redis::Script::new(
        "redis.call('hset', KEYS[1], 'f', ARGV[1]) redis.call('rpush', KEYS[2], ARGV[1], ARGV[1]) \
         redis.call('select', 3) redis.call('set', KEYS[3], ARGV[1]) redis.call('del', 'nothing') \
         return redis.call('incr', KEYS[4])",
    );
    for i in 1..=5 {
        let n: i64 = script
            .key("h")
            .key("l")
            .key("s")
            .key("n")
            .arg(i)
            .invoke(&mut con)
            .expect("script");
        assert_eq!(n, i);
    }
    // A script that failed half way keeps what it did before the error, as Redis.
    let failed: redis::RedisResult<()> = redis::Script::new(
        "redis.call('set', 'before', '1') redis.call('incr', 'h') redis.call('set', 'after', '1')",
    )
    .invoke(&mut con);
    assert!(failed.is_err());
    let dir = server.kill9();
    let again = TestServer::start_in(dir, &["--appendfsync", "always"]);
    let mut con = again.client();
    assert_eq!(con.hget::<_, _, String>("h", "f").expect("HGET"), "5");
    assert_eq!(con.llen::<_, i64>("l").expect("LLEN"), 10);
    assert_eq!(
        con.get::<_, Option<String>>("before").expect("GET"),
        Some("1".into())
    );
    assert_eq!(con.get::<_, Option<String>>("after").expect("GET"), None);
    // The script's SELECT moved its later commands to database 3.
    assert_eq!(con.get::<_, Option<String>>("s").expect("GET"), None);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).expect("SELECT");
    assert_eq!(con.get::<_, String>("s").expect("GET"), "5");
    assert_eq!(con.get::<_, i64>("n").expect("GET"), 5);
}

/// Over `maxmemory` (with nothing the tier can move), a script's commands that may
/// grow memory are refused with Redis's `-OOM`; reads and deletions run.
#[test]
fn scripts_over_maxmemory() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "1"]), ok());
    let write = "return redis.call('set', KEYS[1], 'x')";
    let sha = tier_server::script::sha1hex(write.as_bytes());
    assert_eq!(
        raw.cmd(&["EVAL", write, "1", "k2"]),
        err(&format!(
            "OOM command not allowed when used memory > 'maxmemory'. script: {sha}, on \
             @user_script:1."
        ))
    );
    assert_eq!(
        raw.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]),
        bulk("v")
    );
    assert_eq!(
        raw.cmd(&["EVAL", "return redis.call('del', KEYS[1])", "1", "k"]),
        int(1)
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    assert_eq!(raw.cmd(&["EVAL", write, "1", "k2"]), ok());
}

/// A script runs its commands as its caller's ACL user: a denied command or key is
/// Redis's script error, logged in ACL LOG with the context `lua`.
#[test]
fn scripts_run_as_the_callers_acl_user() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "lim", "on", "nopass", "~k*", "+@all", "-set"]),
        ok()
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["AUTH", "lim", "x"]), ok());
    let set = "return redis.call('set', 'k1', 1)";
    let sha = tier_server::script::sha1hex(set.as_bytes());
    assert_eq!(
        raw.cmd(&["EVAL", set, "0"]),
        err(&format!(
            "ERR The user executing the script can't run this command or subcommand script: \
             {sha}, on @user_script:1."
        ))
    );
    let get = "return redis.pcall('get', 'other')";
    assert_eq!(
        raw.cmd(&["EVAL", get, "0"]),
        err(
            "ERR The user executing the script can't access at least one of the keys \
             mentioned in the command arguments"
        )
    );
    assert_eq!(
        raw.cmd(&["EVAL", "return redis.call('incr', 'k2')", "0"]),
        int(1)
    );
    let Frame::Array(entries) = admin.cmd(&["ACL", "LOG"]) else {
        panic!("ACL LOG is an array");
    };
    assert_eq!(entries.len(), 2);
    for entry in entries {
        let Frame::Array(fields) = entry else {
            panic!("an ACL LOG entry is an array");
        };
        let context = fields
            .chunks(2)
            .find(|pair| pair[0] == bulk("context"))
            .map(|pair| pair[1].clone());
        assert_eq!(context, Some(bulk("lua")));
    }
}
