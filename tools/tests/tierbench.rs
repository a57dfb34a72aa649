//! `tierbench` run as a user runs it, against real servers: its JSON result agrees
//! with the server's INFO (requests, hits, cold reads split hot and cold on tierd,
//! unsplit on redis-server); `device` measures a real file; `plot` writes an SVG with
//! a curve per series; bad flags are refused with their name.

mod node;

use std::path::Path;
use std::process::{Command, Output};

use redis::Commands;
use serde_json::Value;
use tempfile::TempDir;

use node::Node;

fn tierbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tierbench"))
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .output()
        .expect("tierbench runs")
}

/// Runs tierbench, which must succeed, and returns its JSON result.
fn run_json(args: &[&str], json: &Path) -> Value {
    let out = tierbench(&[args, &["--json", json.to_str().expect("UTF-8 path")]].concat());
    assert!(
        out.status.success(),
        "tierbench {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).expect("the JSON file")).expect("JSON")
}

/// The series `name` of a result.
fn series<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no series {name} in {result}"))
}

fn count(result: &Value, name: &str) -> u64 {
    series(result, name)["count"].as_u64().expect("count")
}

fn info_number(con: &mut redis::Connection, name: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg("all").query(con).expect("INFO");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO"))
}

/// A scratch dir on the disk of the target dir (/tmp may be a tmpfs, which refuses
/// O_DIRECT).
fn disk_dir() -> TempDir {
    let exe = Path::new(env!("CARGO_BIN_EXE_tierbench"));
    tempfile::tempdir_in(exe.parent().expect("a bin dir")).expect("a temp dir")
}

#[test]
fn results_agree_with_tierds_info_and_split_hot_and_cold_gets() {
    let data = tempfile::tempdir().expect("temp dir");
    let node = Node::start(
        data.path(),
        &[
            "--tier-min-value-size",
            "1",
            "--tier-promote-window",
            "0",
            "--requirepass",
            "pw",
        ],
    );
    let port = node.port.to_string();
    let out = tempfile::tempdir().expect("temp dir");
    let common = [
        "-p", &port, "-a", "pw", "--keys", "2000", "-c", "4", "-t", "2",
    ];

    // --load writes every key once; -n 0 runs nothing after it.
    let loaded = run_json(
        &[
            &common[..],
            &["--load", "--value-size", "100-300", "-n", "0"],
        ]
        .concat(),
        &out.path().join("load.json"),
    );
    let mut con = node.client(Some("pw"));
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut con).expect("DBSIZE"),
        2000
    );
    assert_eq!(count(&loaded, "GET") + count(&loaded, "SET"), 0);
    let len: usize = con.strlen("key:000000001999").expect("STRLEN");
    assert!((100..=300).contains(&len), "{len}");

    // Half the keys cold.
    let mut demote = redis::cmd("DEBUG");
    demote.arg("DEMOTE");
    for i in 0..1000 {
        demote.arg(format!("key:{i:012}"));
    }
    assert_eq!(demote.query::<u64>(&mut con).expect("DEBUG DEMOTE"), 1000);

    let reads_before = info_number(&mut con, "cold_reads");
    let gets = run_json(
        &[&common[..], &["--ratio", "1:0", "-n", "3000", "-P", "4"]].concat(),
        &out.path().join("gets.json"),
    );
    let cold_reads = info_number(&mut con, "cold_reads") - reads_before;
    let (all, hot, cold) = (
        count(&gets, "GET"),
        count(&gets, "GET hot"),
        count(&gets, "GET cold"),
    );
    assert_eq!(all, 3000, "{gets}");
    assert_eq!(hot + cold, all);
    // Uniform over 2000 keys, 1000 of them cold (and never promoted).
    assert!((1200..1800).contains(&cold), "{cold} cold GETs of 3000");
    assert_eq!(cold, cold_reads, "cold GETs against INFO's cold_reads");
    let server = &gets["server"];
    assert_eq!(server["tierd"], true);
    assert_eq!(server["traced"], true);
    assert_eq!(server["cold_reads"], cold_reads);
    assert_eq!(server["traced_cold_values"], cold_reads);
    assert_eq!(server["commands_processed"], 3000);
    assert_eq!(server["keyspace_hits"], 3000);
    assert!(gets
        .get("series")
        .is_some_and(|s| s.as_array().is_some_and(|s| s.len() == 3)));
    for name in ["GET", "GET hot", "GET cold"] {
        let s = series(&gets, name);
        let lat = &s["latency_us"];
        let p = |k: &str| lat[k].as_f64().expect("a latency");
        assert!(
            p("p50") > 0.0 && p("p50") <= p("p99") && p("p99") <= p("max"),
            "{s}"
        );
        assert!(s["ops_per_sec"].as_f64().expect("ops/s") > 0.0);
        assert!(s["curve"].as_array().expect("curve").len() > 10, "{s}");
    }

    // SETs and GETs one for one, open loop; SETs read nothing from the tier.
    let mixed = run_json(
        &[
            &common[..],
            &["--ratio", "1:1", "-n", "400", "--rate", "2000"],
        ]
        .concat(),
        &out.path().join("mixed.json"),
    );
    assert_eq!((count(&mixed, "GET"), count(&mixed, "SET")), (200, 200));
    assert_eq!(mixed["server"]["commands_processed"], 400);
    assert_eq!(mixed["settings"]["rate"], "2000");
    // 400 requests at 2000/s take about 0.2 s, not less.
    assert!(
        mixed["elapsed_secs"].as_f64().expect("elapsed") >= 0.19,
        "{mixed}"
    );

    // Without TIER TRACE the GETs are not split.
    let plain = run_json(
        &[&common[..], &["--ratio", "1:0", "-n", "100", "--no-trace"]].concat(),
        &out.path().join("plain.json"),
    );
    assert_eq!(plain["series"].as_array().map(Vec::len), Some(1));
    assert_eq!(plain["server"]["traced"], false);
}

#[test]
fn against_redis_the_gets_are_not_split() {
    let data = tempfile::tempdir().expect("temp dir");
    let redis = Node::spawn(
        Path::new("redis-server"),
        data.path(),
        &["--save", "", "--appendonly", "no", "--loglevel", "warning"],
    );
    let port = redis.port.to_string();
    let json = data.path().join("redis.json");
    let result = run_json(
        &[
            "-p", &port, "--keys", "500", "--load", "-n", "600", "--ratio", "2:1", "-c", "3",
            "--name", "redis",
        ],
        &json,
    );
    assert_eq!(result["name"], "redis");
    let names: Vec<&str> = result["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| s["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["GET", "SET"]);
    assert_eq!((count(&result, "GET"), count(&result, "SET")), (400, 200));
    let server = &result["server"];
    assert_eq!(server["tierd"], false);
    assert_eq!(server["traced"], false);
    assert_eq!(server["cold_reads"], Value::Null);
    assert_eq!(server["commands_processed"], 600);
    // Every key was loaded: every GET hits.
    assert_eq!(server["keyspace_hits"], 400);
}

#[test]
fn device_and_plot_write_a_chart_of_every_series() {
    let dir = disk_dir();
    let device = run_json(
        &[
            "device",
            "--dir",
            dir.path().to_str().expect("UTF-8"),
            "--size",
            "4mb",
            "--duration",
            "200ms",
        ],
        &dir.path().join("device.json"),
    );
    assert_eq!(device["kind"], "device");
    for qd in ["read QD1", "read QD32"] {
        assert!(count(&device, qd) > 0, "{device}");
        assert_eq!(series(&device, qd)["errors"], 0);
    }
    // The test file is gone; only the JSON is left.
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // A second result, edited by hand as a user might, to plot beside it.
    let mut other = device.clone();
    other["name"] = "other disk".into();
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, other.to_string()).expect("write");
    let svg = dir.path().join("chart.svg");
    let out = tierbench(&[
        "plot",
        dir.path().join("device.json").to_str().expect("UTF-8"),
        other_path.to_str().expect("UTF-8"),
        "-o",
        svg.to_str().expect("UTF-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(text.starts_with("<svg"), "{}", &text[..100]);
    assert!(text.trim_end().ends_with("</svg>"));
    for label in [
        "device read QD1",
        "device read QD32",
        "other disk read QD1",
        "other disk read QD32",
    ] {
        assert!(text.contains(label), "no legend {label}");
    }
    // A curve per series, each with a point per percentile step: lines with many
    // points (the mesh's lines have two).
    let curves = text
        .split("<polyline")
        .skip(1)
        .filter_map(|l| l.split("points=\"").nth(1)?.split('"').next())
        .filter(|points| points.split_whitespace().count() > 2)
        .count();
    assert_eq!(curves, 4, "{text}");

    // Plotting something that is not a result says which file.
    let out = tierbench(&["plot", svg.to_str().expect("UTF-8"), "-o", "x.svg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chart.svg: not a tierbench result"));
}

#[test]
fn bad_flags_are_refused_by_name() {
    for (args, flag) in [
        (&["--ratio", "1-2"][..], "--ratio"),
        (&["--ratio", "0:0"], "--ratio"),
        (&["--key-pattern", "zipf:0"], "--key-pattern"),
        (&["--key-pattern", "gauss"], "--key-pattern"),
        (&["--value-size", "9-3"], "--value-size"),
        (&["--pipeline", "0"], "--pipeline"),
        (&["--clients", "0"], "--clients"),
        (&["--rate", "0"], "--rate"),
        (&["--rate=-5"], "--rate"),
        (&["--rate", "100", "--pipeline", "4"], "--pipeline"),
        (&["--duration", "soon"], "--duration"),
        (&["--duration", "1s", "--requests", "5"], "--requests"),
        (&["plot", "a.json"], "--output"),
        (&["device", "--dir", "/no/such/dir"], "--dir"),
        (&["device", "--dir", ".", "--size", "lots"], "--size"),
    ] {
        let out = tierbench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    // A server that is not there: the address is named.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
        .to_string();
    let out = tierbench(&["-p", &port, "-n", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")));
}
