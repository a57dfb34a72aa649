//! `tierd`: reads the configuration (a redis.conf-style file and `--name value`
//! flags), sets up logging, binds, and serves until shut down.

use std::process::ExitCode;
use std::sync::Arc;
use tier_engine::cold::ColdStoreConfig;
use tier_engine::tier::{Tier, TierConfig};
use tier_server::config::{self, Config, Startup};
use tier_server::shared::{LogLevelSetter, Shared};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, reload};

/// mimalloc (fast with many threads freeing each other's blocks, as the epoch
/// collector does), counted for `used_memory` and `maxmemory`.
#[global_allocator]
static ALLOCATOR: tier_engine::memory::CountingAllocator<mimalloc::MiMalloc> =
    tier_engine::memory::CountingAllocator::new(mimalloc::MiMalloc);

fn main() -> ExitCode {
    let config = match config::parse_args(std::env::args_os().skip(1)) {
        Ok(Startup::Run(config)) => *config,
        Ok(Startup::Version) => {
            println!(
                "tierd v={} (Redis 7.0 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            return ExitCode::SUCCESS;
        }
        Ok(Startup::Help) => {
            println!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR ***\n{e}");
            return ExitCode::FAILURE;
        }
    };
    // The guard flushes the log writer's queue when main returns.
    let (set_log_level, _log_flush) = match init_logging(&config) {
        Ok(logging) => logging,
        Err(e) => {
            eprintln!("cannot open the log file: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match serve(config, set_log_level) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config, set_log_level: LogLevelSetter) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listeners = tier_server::server::bind(&config)?;
    let tls = match config.tls.port {
        0 => None,
        _ => Some(
            tier_server::tls::server_config(&config.tls)
                .map_err(|why| anyhow::anyhow!("Failed to configure TLS: {why}"))?,
        ),
    };
    std::fs::create_dir_all(&config.dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {e}",
            config.dir.display()
        )
    })?;
    tracing::info!(
        "tierd {} starting, pid {}, data in {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        config.dir.display()
    );
    let tier_config = TierConfig {
        store: ColdStoreConfig {
            segment_size: config.tier_segment_size,
            ..ColdStoreConfig::new(config.tier_path())
        },
        io_engine: config.tier_io_engine,
        knobs: config.tier_knobs(),
    };
    let shared = Arc::new(Shared::new(config, set_log_level));
    shared
        .acl
        .load_at_start(&shared.config.load())
        .map_err(anyhow::Error::msg)?;
    if let Some(tls) = tls {
        shared.tls.install(tls);
    }
    let tier = Tier::start(shared.keyspace.clone(), tier_config)
        .map_err(|e| anyhow::anyhow!("cannot start the cold tier: {e}"))?;
    tier.reap_io_on(runtime.handle());
    if shared.tier.set(tier).is_err() {
        anyhow::bail!("the cold tier was started twice");
    }
    runtime.block_on(tier_server::server::run(shared, listeners))
}

/// Logs to stderr, or to `logfile`, at `loglevel`; returns the switch CONFIG SET
/// loglevel uses.
fn init_logging(config: &Config) -> anyhow::Result<(LogLevelSetter, WorkerGuard)> {
    let (filter, handle) = reload::Layer::new(config.loglevel.filter());
    // Log lines are handed to a writer thread: a runtime thread never waits on the
    // disk (or a blocked stderr pipe) to log.
    let (writer, flush_guard, ansi) = match &config.logfile {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let (writer, guard) = tracing_appender::non_blocking(file);
            (writer, guard, false)
        }
        None => {
            let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
            (writer, guard, true)
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(writer).with_ansi(ansi))
        .init();
    let setter: LogLevelSetter = Box::new(move |level: config::LogLevel| {
        let _ = handle.modify(|f| *f = level.filter());
    });
    Ok((setter, flush_guard))
}
