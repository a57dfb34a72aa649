//! `tierctl`, Tier's operator tool: checks and reports on snapshot files and data
//! dirs (`verify`, `inspect`), snapshots of a running node or of a data dir
//! (`snapshot`), and data dirs made from a snapshot (`restore`). Exit status: 0 when
//! all is well, 1 when something is corrupt or the command refused, 2 on a usage,
//! I/O or connection error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tier_engine::snapshot;
use tier_tools::error::Failure;
use tier_tools::files::read_snapshot;
use tier_tools::{inspect, offline, online, restore, verify};

const EXIT_STATUS: &str = "\
Exit status:
  0  all is well (a torn tail of the last AOF increment is only a warning)
  1  something is corrupt (what is wrong, in which file and at which byte, goes to
     stderr), or the command refused (restore into a non-empty dir without --force)
  2  a usage, I/O or connection error (a file is missing or unreadable, the server
     cannot be reached or answers with an error, ...)";

#[derive(Parser)]
#[command(
    name = "tierctl",
    version,
    about = "Tier's operator tool: checks, inspects, takes and restores snapshots.",
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a snapshot file, or every file of a tierd data dir.
    ///
    /// For a file: every checksum, record and count. For a data dir: the AOF
    /// manifest, the base snapshot as a file, every command of every increment, and
    /// the snapshot file (dump.tsnap). A torn tail of the last increment (which tierd
    /// cuts off at start with aof-load-truncated yes) is a warning, not an error.
    #[command(after_help = EXIT_STATUS)]
    Verify {
        /// A snapshot file, or a data dir (tierd's --dir).
        path: PathBuf,
    },
    /// Report what a snapshot file or a data dir holds.
    ///
    /// Keys and their sizes by type and by database, TTLs (how many, the nearest and
    /// farthest expiry) and the biggest keys; for a data dir, that of its AOF base and
    /// snapshot file, and its increments' commands by name and sizes. Everything is
    /// checked on the way, as by `verify`, with the same exit status.
    #[command(after_help = EXIT_STATUS)]
    Inspect {
        /// A snapshot file, or a data dir (tierd's --dir).
        path: PathBuf,
        /// How many of the biggest keys (by value size) to list.
        #[arg(long, value_name = "N", default_value_t = 10)]
        top: usize,
        /// Print the report as JSON (keys are printable text, other bytes as \xNN).
        #[arg(long)]
        json: bool,
    },
    /// Make a data dir that tierd starts from with exactly a snapshot's keys.
    ///
    /// The snapshot (verified as it is copied) becomes the AOF's base, with an empty
    /// first increment and a manifest naming both. The new dir is built beside DATA and
    /// moved in place only when complete: on any error DATA is as it was. Stop tierd
    /// before restoring into its dir.
    #[command(after_help = EXIT_STATUS)]
    Restore {
        /// The snapshot file.
        file: PathBuf,
        /// The data dir to make (tierd's --dir).
        #[arg(long, value_name = "DATA")]
        dir: PathBuf,
        /// Replace what DATA holds (swapped atomically, then the old files removed).
        #[arg(long)]
        force: bool,
    },
    /// Take a snapshot of a running tierd, or of a data dir offline, into one file.
    ///
    /// Online (without --dir): a point-in-time snapshot of the node (TIER SNAPSHOT),
    /// streamed into FILE; the node serves its clients meanwhile. Offline (--dir): the
    /// data dir loaded as tierd would load it, without changing anything in it. FILE
    /// is written as FILE.tmp, fsynced, verified, then renamed.
    #[command(after_help = EXIT_STATUS, disable_help_flag = true)]
    Snapshot {
        /// The snapshot file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// The node's host.
        #[arg(short = 'h', long, default_value = "127.0.0.1", conflicts_with = "dir")]
        host: String,
        /// The node's port.
        #[arg(short, long, default_value_t = 6379, conflicts_with = "dir")]
        port: u16,
        /// The password, sent with AUTH first.
        #[arg(short = 'a', long, env = "REDISCLI_AUTH", hide_env_values = true)]
        #[arg(conflicts_with = "dir")]
        password: Option<String>,
        /// The user to authenticate as, with --password.
        #[arg(long, requires = "password", conflicts_with = "dir")]
        user: Option<String>,
        /// Snapshot this data dir offline instead (tierd's --dir; read only).
        #[arg(long, value_name = "DATA")]
        dir: Option<PathBuf>,
        /// With --dir: the number of databases (tierd's `databases`).
        #[arg(long, value_name = "N", default_value_t = 16, requires = "dir")]
        databases: u32,
        /// Print help.
        #[arg(long, action = ArgAction::Help)]
        help: Option<bool>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tierctl: {failure}");
            ExitCode::from(failure.exit_status())
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Verify { path } if path.is_dir() => {
            let checked = verify::verify_dir(&path)?;
            for warning in &checked.warnings {
                eprintln!("tierctl: warning: {warning}");
            }
            print!("{}", checked.report);
        }
        Command::Verify { path } => {
            let summary = read_snapshot(&path, snapshot::verify)?;
            println!("{}: OK", path.display());
            print!("{}", verify::report(&summary));
        }
        Command::Inspect { path, top, json } if path.is_dir() => {
            let report = inspect::inspect_dir(&path, top)?;
            print_report(&report, json, || print!("{report}"));
        }
        Command::Inspect { path, top, json } => {
            let report = read_snapshot(&path, |input| inspect::inspect(input, top))?;
            print_report(&report, json, || {
                println!("{}", path.display());
                print!("{report}");
            });
        }
        Command::Restore { file, dir, force } => {
            let restored = restore::restore(&file, &dir, force)?;
            if let Some((path, why)) = &restored.leftover {
                eprintln!("tierctl: warning: cannot remove the old contents of the dir, left in {path}: {why}");
            }
            println!(
                "{}: restored {} keys from {} (AOF base {})",
                dir.display(),
                restored.summary.records,
                file.display(),
                restored.base
            );
            print!("{}", verify::report(&restored.summary));
        }
        Command::Snapshot {
            output,
            dir: Some(dir),
            databases,
            ..
        } => {
            let taken = offline::snapshot(&dir, databases, &output)?;
            if let Some(torn) = &taken.torn {
                eprintln!(
                    "tierctl: warning: {} ends inside a command: loaded up to byte {} \
                     (as tierd with aof-load-truncated yes), the file left as it is",
                    torn.name, torn.valid_len
                );
            }
            written(&output, &dir, &taken.summary);
        }
        Command::Snapshot {
            output,
            host,
            port,
            password,
            user,
            dir: None,
            ..
        } => {
            let node = online::Node {
                host,
                port,
                password,
                user,
            };
            let summary = online::snapshot(&node, &output)?;
            written(
                &output,
                Path::new(&format!("{}:{}", node.host, node.port)),
                &summary,
            );
        }
    }
    Ok(())
}

/// Prints a report as JSON, or as `text` prints it.
fn print_report(report: &impl serde::Serialize, json: bool, text: impl FnOnce()) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("the report serializes")
        );
    } else {
        text();
    }
}

/// The report of a snapshot written from `source`.
fn written(output: &Path, source: &Path, summary: &snapshot::SnapshotSummary) {
    println!(
        "{}: OK, a snapshot of {} ({} keys)",
        output.display(),
        source.display(),
        summary.records
    );
    print!("{}", verify::report(summary));
}
