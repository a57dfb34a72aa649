//! Server commands against a real tierd: INFO, CONFIG, COMMAND, SLOWLOG, TIME,
//! LASTSAVE, DEBUG SLEEP and SHUTDOWN, with replies checked byte for byte where Redis
//! 7.0's are fixed.

use crate::harness::*;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tier_server::resp::Frame;

fn simple(text: &str) -> Frame {
    Frame::Simple(text.as_bytes().to_vec().into())
}

fn titles(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[test]
fn info_sections_and_formats() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let all = info(&mut raw, &[]);
    assert_eq!(
        titles(&all),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Cluster",
            "# Keyspace",
            "# Tiering"
        ]
    );
    assert!(
        all.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{all}"
    );
    // Every line ends with CRLF; sections are separated by an empty line.
    assert!(all.ends_with("\r\n"), "{all}");
    assert!(all.contains("\r\n\r\n# Keyspace\r\n"), "{all}");
    assert!(!all.replace("\r\n", "").contains('\n'));
    assert!(all.contains("\r\n\r\n# Clients\r\n"));
    assert_eq!(field(&all, "redis_mode").as_deref(), Some("standalone"));
    assert_eq!(number(&all, "tcp_port"), u64::from(server.port));
    assert_eq!(field(&all, "run_id").map(|id| id.len()), Some(40));
    assert_eq!(field(&all, "master_replid").map(|id| id.len()), Some(40));
    assert_eq!(field(&all, "config_file").as_deref(), Some(""));
    assert_eq!(
        field(&all, "tier_version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(field(&all, "role").as_deref(), Some("master"));
    assert_eq!(field(&all, "aof_enabled").as_deref(), Some("1"));
    assert_eq!(field(&all, "maxmemory_human").as_deref(), Some("0B"));
    assert_eq!(
        field(&all, "maxmemory_policy").as_deref(),
        Some("noeviction")
    );
    assert_eq!(field(&all, "cluster_enabled").as_deref(), Some("0"));
    assert_eq!(number(&all, "connected_clients"), 1);
    assert_eq!(number(&all, "maxclients"), 10_000);
    assert!(number(&all, "used_memory") > 0);
    assert!(number(&all, "used_memory_rss") > 0);
    let human = field(&all, "used_memory_human").unwrap_or_default();
    assert!(human.ends_with('K') || human.ends_with('M'), "{human}");
    let cpu = field(&all, "used_cpu_user").unwrap_or_default();
    assert!(
        cpu.split_once('.').is_some_and(|(_, frac)| frac.len() == 6),
        "{cpu}"
    );

    // Sections by name, any case, in INFO's order whatever the order asked; `all`,
    // `default` and `everything` are every section; unknown names give nothing.
    let some = info(&mut raw, &["CPU", "server", "cpu"]);
    assert_eq!(titles(&some), ["# Server", "# CPU"]);
    assert!(some.contains("\r\n\r\n# CPU\r\nused_cpu_sys:"));
    for every in ["all", "default", "everything"] {
        assert_eq!(titles(&info(&mut raw, &[every])).len(), 11);
    }
    assert_eq!(info(&mut raw, &["nosuch"]), "");
    assert_eq!(
        titles(&info(&mut raw, &["nosuch", "keyspace"])),
        ["# Keyspace"]
    );

    // RESP3: a verbatim string of format txt.
    raw.cmd(&["HELLO", "3"]);
    match raw.cmd(&["INFO", "cluster"]) {
        Frame::Verbatim { format, text } => {
            assert_eq!(&format, b"txt");
            assert_eq!(&text[..], b"# Cluster\r\ncluster_enabled:0\r\n");
        }
        other => panic!("INFO in RESP3 replied {other:?}"),
    }
}

#[test]
fn info_counts_keys_hits_misses_commands_and_expiries() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(info(&mut raw, &["keyspace"]), "# Keyspace\r\n");
    assert_eq!(raw.cmd(&["SET", "a", "1"]), ok());
    assert_eq!(raw.cmd(&["SET", "b", "2", "EX", "100"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "3"]), ok());
    assert_eq!(raw.cmd(&["SET", "z", "1"]), ok());
    assert_eq!(raw.cmd(&["SELECT", "0"]), ok());
    assert_eq!(
        info(&mut raw, &["keyspace"]),
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );

    let before = info(&mut raw, &["stats"]);
    assert_eq!(raw.cmd(&["GET", "a"]), bulk("1"));
    assert_eq!(raw.cmd(&["GET", "missing"]), nil());
    let after = info(&mut raw, &["stats"]);
    assert_eq!(
        number(&after, "keyspace_hits"),
        number(&before, "keyspace_hits") + 1
    );
    assert_eq!(
        number(&after, "keyspace_misses"),
        number(&before, "keyspace_misses") + 1
    );
    // The two GETs and the first INFO ran in between.
    assert_eq!(
        number(&after, "total_commands_processed"),
        number(&before, "total_commands_processed") + 3
    );
    assert!(number(&after, "total_net_input_bytes") > number(&before, "total_net_input_bytes"));
    assert!(number(&after, "total_net_output_bytes") > number(&before, "total_net_output_bytes"));
    assert!(number(&after, "total_connections_received") >= 1);

    assert_eq!(number(&after, "expired_keys"), 0);
    assert_eq!(raw.cmd(&["SET", "e", "v", "PX", "50"]), ok());
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(raw.cmd(&["GET", "e"]), nil());
    assert_eq!(number(&info(&mut raw, &["stats"]), "expired_keys"), 1);
}

#[test]
fn config_get_and_set_round_trip() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "timeout"]),
        array(vec![bulk("timeout"), bulk("0")])
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "timeout", "5", "hz", "20"]),
        ok()
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "timeout", "HZ"]),
        array(vec![bulk("timeout"), bulk("5"), bulk("HZ"), bulk("20")])
    );
    assert_eq!(number(&info(&mut raw, &["server"]), "configured_hz"), 20);
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory*"]),
        array(vec![
            bulk("maxmemory"),
            bulk("0"),
            bulk("maxmemory-policy"),
            bulk("noeviction")
        ])
    );
    assert_eq!(raw.cmd(&["CONFIG", "GET", "nosuch"]), array(vec![]));
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "1mb"]), ok());
    let memory = info(&mut raw, &["memory"]);
    assert_eq!(number(&memory, "maxmemory"), 1024 * 1024);
    assert_eq!(field(&memory, "maxmemory_human").as_deref(), Some("1.00M"));
    assert_eq!(raw.cmd(&["CONFIG", "SET", "loglevel", "verbose"]), ok());
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "loglevel"]),
        array(vec![bulk("loglevel"), bulk("verbose")])
    );

    // Errors, word for word.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "timeout", "1", "hz"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "timeout"]),
        err("ERR wrong number of arguments for 'config|set' command")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET"]),
        err("ERR wrong number of arguments for 'config|get' command")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "timeout", "7", "maxclients", "0"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive")
    );
    // All or nothing: timeout did not change.
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "timeout"]),
        array(vec![bulk("timeout"), bulk("5")])
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "FOO"]),
        err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "REWRITE"]),
        err("ERR The server is running without a config file")
    );
    match raw.cmd(&["CONFIG", "HELP"]) {
        Frame::Array(lines) => {
            assert_eq!(lines.len(), 11);
            assert_eq!(
                lines[0],
                simple("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
            );
            assert_eq!(lines[10], simple("    Prints this help."));
        }
        other => panic!("CONFIG HELP replied {other:?}"),
    }

    // RESP3: a map.
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory*"]),
        Frame::Map(vec![
            (bulk("maxmemory"), bulk("1048576")),
            (bulk("maxmemory-policy"), bulk("noeviction")),
        ])
    );
}

#[test]
fn config_set_maxmemory_refuses_writes_but_not_reads() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "1"]), ok());
    assert_eq!(
        raw.cmd(&["SET", "k2", "v"]),
        err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    assert_eq!(raw.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(raw.cmd(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    assert_eq!(raw.cmd(&["SET", "k2", "v"]), ok());
}

#[test]
fn config_resetstat_zeroes_the_counters_but_not_the_slowlog() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        ok()
    );
    raw.cmd(&["SET", "k", "v"]);
    raw.cmd(&["GET", "k"]);
    raw.cmd(&["GET", "nosuch"]);
    let stats = info(&mut raw, &["stats"]);
    assert!(number(&stats, "total_commands_processed") >= 4);
    assert_eq!(number(&stats, "keyspace_hits"), 1);
    let logged = match raw.cmd(&["SLOWLOG", "LEN"]) {
        Frame::Integer(n) => n,
        other => panic!("SLOWLOG LEN replied {other:?}"),
    };
    assert!(logged >= 4, "SET, GET, GET, INFO");
    assert_eq!(raw.cmd(&["CONFIG", "RESETSTAT"]), ok());
    let stats = info(&mut raw, &["stats"]);
    // RESETSTAT itself counts, as in Redis.
    assert_eq!(number(&stats, "total_commands_processed"), 1);
    assert_eq!(number(&stats, "keyspace_hits"), 0);
    assert_eq!(number(&stats, "keyspace_misses"), 0);
    assert_eq!(number(&stats, "total_connections_received"), 0);
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), int(logged + 3));
}

#[test]
fn slowlog_records_resets_and_trims() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let addr = raw.stream.local_addr().expect("local addr").to_string();
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        ok()
    );
    assert_eq!(raw.cmd(&["SET", "k", "v"]), ok());
    let Frame::Array(entries) = raw.cmd(&["SLOWLOG", "GET", "1"]) else {
        panic!("SLOWLOG GET is an array");
    };
    let [Frame::Array(entry)] = entries.as_slice() else {
        panic!("one entry: {entries:?}");
    };
    let [Frame::Integer(_id), Frame::Integer(at), Frame::Integer(micros), args, client, name] =
        entry.as_slice()
    else {
        panic!("an entry has six fields: {entry:?}");
    };
    assert!((*at as u64).abs_diff(now_secs()) <= 5);
    assert!(*micros >= 0);
    assert_eq!(*args, array(vec![bulk("SET"), bulk("k"), bulk("v")]));
    assert_eq!(*client, bulk(&addr));
    assert_eq!(*name, bulk(""));

    // Newest first; -1 is all; a count is checked.
    let Frame::Array(all) = raw.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!("SLOWLOG GET -1 is an array");
    };
    let logged: Vec<&Frame> = all
        .iter()
        .filter_map(|entry| match entry {
            Frame::Array(fields) => fields.get(3),
            _ => None,
        })
        .collect();
    assert_eq!(
        logged[..2],
        [
            &array(vec![bulk("SLOWLOG"), bulk("GET"), bulk("1")]),
            &array(vec![bulk("SET"), bulk("k"), bulk("v")])
        ]
    );
    assert_eq!(raw.cmd(&["SLOWLOG", "GET", "0"]), array(vec![]));
    let count_error = err("ERR count should be greater than or equal to -1");
    assert_eq!(raw.cmd(&["SLOWLOG", "GET", "-2"]), count_error);
    assert_eq!(raw.cmd(&["SLOWLOG", "GET", "x"]), count_error);
    assert_eq!(
        raw.cmd(&["SLOWLOG", "GET", "1", "2"]),
        err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "NOPE"]),
        err("ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.")
    );

    // RESET empties it (and is then logged itself, as in Redis).
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), int(1));
    for _ in 0..5 {
        raw.cmd(&["PING"]);
    }
    // As in Redis, a lower slowlog-max-len trims the log at the next entry, not before.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]),
        ok()
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "slowlog-max-len", "2"]), ok());
    assert!(matches!(raw.cmd(&["SLOWLOG", "LEN"]), Frame::Integer(n) if n > 2));
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        ok()
    );
    raw.cmd(&["PING"]);
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), int(2));
    // Off: nothing more is recorded.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]),
        ok()
    );
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), ok());
    raw.cmd(&["PING"]);
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), int(0));
}

#[test]
fn command_count_info_docs_list_and_getkeys() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let table_len = tier_server::cmd::table::commands().len() as i64;
    assert_eq!(raw.cmd(&["COMMAND", "COUNT"]), int(table_len));
    match raw.cmd(&["COMMAND"]) {
        Frame::Array(all) => assert_eq!(all.len() as i64, table_len),
        other => panic!("COMMAND replied {other:?}"),
    }

    // As redis-server 7.0.15 replies.
    let get_info = array(vec![
        bulk("get"),
        int(2),
        array(vec![simple("readonly"), simple("fast")]),
        int(1),
        int(1),
        int(1),
        array(vec![simple("@read"), simple("@string"), simple("@fast")]),
        array(vec![]),
        array(vec![array(vec![
            bulk("flags"),
            array(vec![simple("RO"), simple("access")]),
            bulk("begin_search"),
            array(vec![
                bulk("type"),
                bulk("index"),
                bulk("spec"),
                array(vec![bulk("index"), int(1)]),
            ]),
            bulk("find_keys"),
            array(vec![
                bulk("type"),
                bulk("range"),
                bulk("spec"),
                array(vec![
                    bulk("lastkey"),
                    int(0),
                    bulk("keystep"),
                    int(1),
                    bulk("limit"),
                    int(0),
                ]),
            ]),
        ])]),
        array(vec![]),
    ]);
    assert_eq!(
        raw.cmd(&["COMMAND", "INFO", "GET", "nosuch"]),
        array(vec![get_info, nil()])
    );
    let Frame::Array(config) = raw.cmd(&["COMMAND", "INFO", "config|get"]) else {
        panic!("COMMAND INFO is an array");
    };
    let Some(Frame::Array(config_get)) = config.first() else {
        panic!("config|get is known: {config:?}");
    };
    assert_eq!(config_get[0], bulk("config|get"));
    assert_eq!(config_get[1], int(-3));

    assert_eq!(
        raw.cmd(&["COMMAND", "DOCS", "get", "nosuch"]),
        array(vec![
            bulk("get"),
            array(vec![
                bulk("summary"),
                bulk("Get the value of a key"),
                bulk("since"),
                bulk("1.0.0"),
                bulk("group"),
                bulk("string"),
                bulk("complexity"),
                bulk("O(1)"),
                bulk("arguments"),
                array(vec![array(vec![
                    bulk("name"),
                    bulk("key"),
                    bulk("type"),
                    bulk("key"),
                    bulk("key_spec_index"),
                    int(0),
                ])]),
            ]),
        ])
    );
    // SHUTDOWN's arguments, as redis-server 7.0.15 gives them (without `since`).
    let Frame::Array(shutdown) = raw.cmd(&["COMMAND", "DOCS", "shutdown"]) else {
        panic!("COMMAND DOCS is an array");
    };
    let pure = |name: &str, token: &str| {
        vec![
            bulk("name"),
            bulk(name),
            bulk("type"),
            bulk("pure-token"),
            bulk("token"),
            bulk(token),
        ]
    };
    let optional = |mut fields: Vec<Frame>| {
        fields.extend([bulk("flags"), array(vec![simple("optional")])]);
        array(fields)
    };
    let Some(Frame::Array(docs)) = shutdown.get(1) else {
        panic!("docs of shutdown: {shutdown:?}");
    };
    assert_eq!(
        docs.last(),
        Some(&array(vec![
            array(vec![
                bulk("name"),
                bulk("nosave_save"),
                bulk("type"),
                bulk("oneof"),
                bulk("flags"),
                array(vec![simple("optional")]),
                bulk("arguments"),
                array(vec![
                    array(pure("nosave", "NOSAVE")),
                    array(pure("save", "SAVE"))
                ]),
            ]),
            optional(pure("now", "NOW")),
            optional(pure("force", "FORCE")),
            optional(pure("abort", "ABORT")),
        ]))
    );

    let Frame::Array(names) = raw.cmd(&["COMMAND", "LIST"]) else {
        panic!("COMMAND LIST is an array");
    };
    assert!(names.contains(&bulk("config|get")) && names.contains(&bulk("get")));
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "slowlog|*e?"]),
        array(vec![
            bulk("slowlog|get"),
            bulk("slowlog|len"),
            bulk("slowlog|reset")
        ])
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
        array(vec![])
    );
    let Frame::Array(admin) = raw.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"]) else {
        panic!("COMMAND LIST is an array");
    };
    assert!(admin.contains(&bulk("config|set")) && !admin.contains(&bulk("get")));
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "x", "y"]),
        err("ERR syntax error")
    );

    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "SET", "a", "b"]),
        array(vec![bulk("a")])
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYSANDFLAGS", "get", "a"]),
        array(vec![array(vec![
            bulk("a"),
            array(vec![simple("RO"), simple("access")])
        ])])
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        err("ERR Invalid command specified")
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "config", "get", "x"]),
        err("ERR The command has no key arguments")
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "get", "a", "b"]),
        err("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "NOPE"]),
        err("ERR unknown subcommand 'NOPE'. Try COMMAND HELP.")
    );

    // RESP3: COMMAND DOCS is a map, flags are sets.
    raw.cmd(&["HELLO", "3"]);
    match raw.cmd(&["COMMAND", "DOCS", "get"]) {
        Frame::Map(docs) => assert_eq!(docs[0].0, bulk("get")),
        other => panic!("COMMAND DOCS in RESP3 replied {other:?}"),
    }
    match raw.cmd(&["COMMAND", "INFO", "get"]) {
        Frame::Array(infos) => match &infos[0] {
            Frame::Array(info) => assert_eq!(
                info[2],
                Frame::Set(vec![simple("readonly"), simple("fast")])
            ),
            other => panic!("an info is an array: {other:?}"),
        },
        other => panic!("COMMAND INFO in RESP3 replied {other:?}"),
    }
}

#[test]
fn time_and_lastsave() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let Frame::Array(time) = raw.cmd(&["TIME"]) else {
        panic!("TIME is an array");
    };
    let parts: Vec<u64> = time
        .iter()
        .map(|f| match f {
            Frame::Bulk(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("a number"),
            other => panic!("TIME holds bulk strings: {other:?}"),
        })
        .collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].abs_diff(now_secs()) <= 5);
    assert!(parts[1] < 1_000_000);
    match raw.cmd(&["LASTSAVE"]) {
        Frame::Integer(at) => assert!((at as u64).abs_diff(now_secs()) <= 60),
        other => panic!("LASTSAVE replied {other:?}"),
    }
    assert_eq!(
        raw.cmd(&["TIME", "x"]),
        err("ERR wrong number of arguments for 'time' command")
    );
}

#[test]
fn debug_sleep_pauses_only_its_connection() {
    let server = TestServer::start();
    let mut sleeper = server.raw();
    let mut other = server.raw();
    let started = Instant::now();
    sleeper.send(&encode_command(&[b"DEBUG", b"SLEEP", b"0.5"]));
    std::thread::sleep(Duration::from_millis(50));
    let ping_at = Instant::now();
    assert_eq!(other.cmd(&["PING"]), simple("PONG"));
    assert!(
        ping_at.elapsed() < Duration::from_millis(250),
        "PING waited {:?}",
        ping_at.elapsed()
    );
    assert_eq!(sleeper.read_frame(), Some(ok()));
    assert!(started.elapsed() >= Duration::from_millis(500));

    assert_eq!(sleeper.cmd(&["DEBUG", "SLEEP", "0"]), ok());
    assert_eq!(
        sleeper.cmd(&["DEBUG", "NOPE"]),
        err("ERR unknown subcommand or wrong number of arguments for 'NOPE'. Try DEBUG HELP.")
    );
    assert_eq!(
        sleeper.cmd(&["DEBUG", "SLEEP"]),
        err("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.")
    );
    match sleeper.cmd(&["DEBUG", "HELP"]) {
        Frame::Array(lines) => assert_eq!(lines[1], simple("SLEEP <seconds>")),
        other => panic!("DEBUG HELP replied {other:?}"),
    }
}

#[test]
fn shutdown_exits_zero_without_a_reply() {
    let mut server = TestServer::start();
    let mut raw = server.raw();
    let mut bystander = server.raw();
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "ABORT"]),
        err("ERR No shutdown in progress.")
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "NOSAVE", "SAVE"]),
        err("ERR syntax error")
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "NOW", "ABORT"]),
        err("ERR syntax error")
    );
    assert_eq!(raw.cmd(&["SHUTDOWN", "LATER"]), err("ERR syntax error"));
    assert_eq!(raw.cmd(&["SET", "k", "v"]), ok());
    raw.stream
        .write_all(&encode_command(&[b"SHUTDOWN", b"SAVE", b"NOW"]))
        .expect("send");
    assert!(raw.is_closed(), "SHUTDOWN replies nothing and closes");
    assert!(bystander.is_closed(), "every client is disconnected");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("tierd exits after SHUTDOWN");
    assert!(status.success(), "{status:?}");
    let dump = server.dir().join("dump.tsnap");
    let summary = tier_engine::snapshot::verify(std::fs::File::open(&dump).expect("dump"))
        .expect("SHUTDOWN SAVE wrote a sound snapshot");
    assert_eq!(summary.records, 1);
}

#[test]
fn sigterm_exits_zero() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), simple("PONG"));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// The persistence options: the defaults (the AOF on, everysec, no save points), the
/// ones that can change at run time, and the ones that cannot.
#[test]
fn persistence_options() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let get = |raw: &mut RawClient, name: &str, value: &str| {
        assert_eq!(
            raw.cmd(&["CONFIG", "GET", name]),
            array(vec![bulk(name), bulk(value)]),
            "{name}"
        );
    };
    get(&mut raw, "save", "");
    get(&mut raw, "appendonly", "yes");
    get(&mut raw, "appendfsync", "everysec");
    get(&mut raw, "appenddirname", "appendonlydir");
    get(&mut raw, "dbfilename", "dump.tsnap");
    assert_eq!(raw.cmd(&["CONFIG", "SET", "save", "900 1"]), ok());
    get(&mut raw, "save", "900 1");
    assert_eq!(raw.cmd(&["CONFIG", "SET", "save", ""]), ok());
    get(&mut raw, "save", "");
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "save", "900"]),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
        )
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "appendonly", "no"]),
        err("ERR CONFIG SET failed (possibly related to argument 'appendonly') - can't set immutable config")
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "dbfilename", "../x"]),
        err("ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename")
    );
}

/// `logfile` sends the log to a file (through the writer thread), at `loglevel`.
#[test]
fn logfile_receives_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("tierd.log");
    let log_arg = log.to_str().expect("utf-8 path");
    let server = TestServer::start_with(&["--logfile", log_arg, "--loglevel", "notice"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), Frame::Simple("PONG".into()));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).expect("the log file exists");
    assert!(text.contains("Ready to accept connections"), "{text}");
    assert!(text.contains("Received SIGTERM"), "{text}");
}
