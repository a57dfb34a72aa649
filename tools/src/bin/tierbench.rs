//! `tierbench`, Tier's load generator (in the spirit of fio and memtier): GETs and SETs
//! against tierd or any Redis-compatible server, with latencies per command (GETs split
//! hot and cold on tierd), the raw disk's read latency (`device`), and latency plots
//! of the JSON results (`plot`). Exit status: 0 done, 1 the server refused the load
//! (an error reply) or nothing to plot, 2 a usage, I/O or connection error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use tier_tools::bench::conn::Target;
use tier_tools::bench::device::{self, DeviceRun};
use tier_tools::bench::plot;
use tier_tools::bench::report::RunResult;
use tier_tools::bench::run::{self, Stop, Workload};
use tier_tools::bench::spec::{parse_size, KeyPattern, Ratio, ValueSize};
use tier_tools::error::Failure;

#[derive(Parser)]
#[command(
    name = "tierbench",
    version,
    about = "Tier's load generator: GET/SET latencies of a RESP server (hot and cold on tierd), a disk's raw reads, and plots.",
    args_conflicts_with_subcommands = true,
    disable_help_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: LoadArgs,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Subcommand)]
enum Command {
    /// Draw latency-by-percentile curves of result files (--json) into one SVG.
    Plot {
        /// Result files written by --json (server runs and device runs alike).
        #[arg(required = true, value_name = "RESULT.json")]
        results: Vec<PathBuf>,
        /// The SVG file to write.
        #[arg(short, long, value_name = "FILE.svg")]
        output: PathBuf,
    },
    /// Measure a disk's 4 KiB random O_DIRECT reads (io_uring) at QD1 and QD32.
    ///
    /// As fio does: a file of --size in DIR is written through first (so reads reach
    /// the device), then read at random aligned offsets for --duration per queue
    /// depth. The file is removed at the end.
    Device {
        /// A directory on the disk to measure (tierd's tier-dir, for a comparison).
        #[arg(long, value_name = "DIR", value_parser = device::existing_dir)]
        dir: PathBuf,
        /// The test file's size (Redis units: 256mb, 1gb).
        #[arg(long, default_value = "1gb", value_parser = parse_size)]
        size: u64,
        /// How long each queue depth runs.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// The run's name in the report and the plot's legend.
        #[arg(long, default_value = "device")]
        name: String,
        /// Write the result as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

/// The RESP load (tierbench without a subcommand).
#[derive(Args)]
struct LoadArgs {
    /// The server's host.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    host: String,
    /// The server's port.
    #[arg(short, long, default_value_t = 6379)]
    port: u16,
    /// The password, sent with AUTH on every connection.
    #[arg(short = 'a', long, env = "REDISCLI_AUTH", hide_env_values = true)]
    password: Option<String>,
    /// Connections per thread.
    #[arg(short, long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    clients: u64,
    /// Threads (tokio workers) the connections are spread over.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: u64,
    /// Requests each connection sends before it waits for their replies (closed loop).
    #[arg(short = 'P', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    #[arg(conflicts_with = "rate")]
    pipeline: u64,
    /// How long the run lasts (10s, 1m...); the default unless --requests.
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Requests in all, over every connection (0 with --load: only load).
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// GETs to SETs, e.g. 1:10, 1:0 (GETs only), 0:1 (SETs only).
    #[arg(long, default_value = "1:10", value_name = "GET:SET")]
    ratio: Ratio,
    /// The keyspace: key:000000000000 to key:N-1.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// How requests pick keys: uniform, sequential, zipf:THETA, hotset:PCT (90 % of
    /// the requests on the first PCT % of the keys).
    #[arg(long, default_value = "uniform", value_name = "PATTERN")]
    key_pattern: KeyPattern,
    /// Value size of SETs in bytes, or a range MIN-MAX (uniform), Redis units allowed.
    #[arg(long, default_value = "32", value_name = "N|MIN-MAX")]
    value_size: ValueSize,
    /// Write every key once (SETs, --value-size) before the run, with a progress bar.
    #[arg(long)]
    load: bool,
    /// Open loop: this many requests per second over all connections, each request
    /// sent at its time whatever the replies do; latencies count from that time.
    #[arg(long, value_name = "OPS", value_parser = positive_rate)]
    rate: Option<f64>,
    /// Write the result as JSON to FILE (for `tierbench plot`).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The run's name in the report and the plot's legend (default: host:port).
    #[arg(long)]
    name: Option<String>,
    /// Do not ask tierd to mark cold reads (TIER TRACE): GETs are then not split.
    #[arg(long)]
    no_trace: bool,
    /// The seed of the key and value choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn positive_rate(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "'{arg}' is not a positive number of requests per second"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Plot { results, output }) => plot_files(&results, &output),
        Some(Command::Device {
            dir,
            size,
            duration,
            name,
            json,
        }) => {
            let run = DeviceRun {
                dir,
                size,
                duration,
                depths: vec![1, 32],
                name,
            };
            device::device(&run).and_then(|result| report(&result, json.as_deref()))
        }
        None => load(cli.load),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tierbench: {failure}");
            ExitCode::from(failure.exit_status())
        }
    }
}

fn plot_files(files: &[PathBuf], output: &std::path::Path) -> Result<(), Failure> {
    let mut runs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| Failure::io(file, e))?;
        let run: RunResult = serde_json::from_str(&text)
            .map_err(|e| Failure::Io(format!("{}: not a tierbench result: {e}", file.display())))?;
        runs.push(run);
    }
    plot::plot(&runs, output)?;
    println!("{}: {} runs plotted", output.display(), runs.len());
    Ok(())
}

/// Prints a result, and writes it as JSON to `json` if asked.
fn report(result: &RunResult, json: Option<&std::path::Path>) -> Result<(), Failure> {
    print!("{result}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(result).expect("the result serializes");
        std::fs::write(path, text + "\n").map_err(|e| Failure::io(path, e))?;
    }
    Ok(())
}

fn load(args: LoadArgs) -> Result<(), Failure> {
    let target = Target {
        host: args.host,
        port: args.port,
        password: args.password,
    };
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::After(d),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    let workload = Workload {
        connections: args.threads * args.clients,
        pipeline: args.pipeline,
        stop,
        ratio: args.ratio,
        keys: args.keys,
        pattern: args.key_pattern,
        value_size: args.value_size,
        rate: args.rate,
        key_prefix: "key:".into(),
        seed: args.seed,
        trace: !args.no_trace,
        target,
    };
    let mut settings = BTreeMap::from([
        ("threads".into(), args.threads.to_string()),
        ("clients".into(), args.clients.to_string()),
        ("pipeline".into(), args.pipeline.to_string()),
        ("ratio".into(), args.ratio.to_string()),
        ("keys".into(), args.keys.to_string()),
        ("key-pattern".into(), args.key_pattern.to_string()),
        ("value-size".into(), args.value_size.to_string()),
        (
            "stop".into(),
            match stop {
                Stop::Requests(n) => format!("{n} requests"),
                Stop::After(d) => format!("{d:?}"),
            },
        ),
    ]);
    if let Some(rate) = args.rate {
        settings.insert("rate".into(), rate.to_string());
    }
    let name = args.name.unwrap_or_else(|| workload.target.address());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads as usize)
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(format!("cannot start a tokio runtime: {e}")))?;
    runtime.block_on(async {
        if args.load {
            run::load(&workload).await?;
        }
        let result = run::run(&workload, &name, settings).await?;
        report(&result, args.json.as_deref())
    })
}
