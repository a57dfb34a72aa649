//! `tierctl`, Tier's operator tool: offline checks and reports on snapshot files
//! (`verify`, `inspect`). Exit status: 0 when the file is sound, 1 when it is corrupt,
//! 2 on a usage or I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::ProgressBarIter;
use tier_engine::snapshot::{self, SnapshotError};
use tier_tools::{inspect, progress, verify};

const EXIT_STATUS: &str = "\
Exit status:
  0  the file is sound
  1  the file is corrupt (what is wrong, and at which byte, goes to stderr)
  2  a usage or I/O error (the file is missing, unreadable, ...)";

#[derive(Parser)]
#[command(
    name = "tierctl",
    version,
    about = "Tier's operator tool: checks and inspects snapshot files offline.",
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every checksum, record and count of a snapshot file.
    #[command(after_help = EXIT_STATUS)]
    Verify {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Report what a snapshot file holds.
    ///
    /// Keys and their sizes by type and by database, TTLs (how many, the nearest and
    /// farthest expiry) and the biggest keys. The whole file is checked on the way, as
    /// by `verify`, with the same exit status.
    #[command(after_help = EXIT_STATUS)]
    Inspect {
        /// The snapshot file.
        file: PathBuf,
        /// How many of the biggest keys (by value size) to list.
        #[arg(long, value_name = "N", default_value_t = 10)]
        top: usize,
        /// Print the report as JSON (keys are printable text, other bytes as \xNN).
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match &cli.command {
        Command::Verify { file } => read(file, snapshot::verify).map(|summary| {
            println!("{}: OK", file.display());
            print!("{}", verify::report(&summary));
        }),
        Command::Inspect { file, top, json } => read(file, |input| inspect::inspect(input, *top))
            .map(|report| {
                if *json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).expect("the report serializes")
                    );
                } else {
                    println!("{}", file.display());
                    print!("{report}");
                }
            }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Runs `work` over the file at `path` read through a progress bar. On failure, says
/// what went wrong on stderr and gives the exit status: 1 for a corrupt file, 2 when
/// it could not be opened or read.
fn read<T>(
    path: &Path,
    work: impl FnOnce(ProgressBarIter<std::fs::File>) -> Result<T, SnapshotError>,
) -> Result<T, ExitCode> {
    let (input, bar) = progress::open(path).map_err(|e| {
        eprintln!("tierctl: {}: {e}", path.display());
        ExitCode::from(2)
    })?;
    let result = work(input);
    bar.finish_and_clear();
    result.map_err(|e| match e {
        SnapshotError::Io { .. } => {
            eprintln!("tierctl: {}: {e}", path.display());
            ExitCode::from(2)
        }
        corrupt => {
            eprintln!("tierctl: {}: corrupt: {corrupt}", path.display());
            ExitCode::from(1)
        }
    })
}
