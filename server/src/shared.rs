//! Node-wide state every connection shares: the keyspace, the live configuration,
//! the client registry, ACL users, counters for INFO, the slow log, the TLS
//! configuration, and the shutdown signal.

use crate::client::Clients;
use crate::config::{Config, LogLevel, SharedConfig};
use crate::persist::Persistence;
use crate::slowlog::SlowLog;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tier_engine::stats::Counter;
use tier_engine::tier::Tier;
use tier_engine::Keyspace;
use tokio::sync::watch;

/// Changes the log filter when `loglevel` is set at run time.
pub type LogLevelSetter = Box<dyn Fn(LogLevel) + Send + Sync>;

/// Counters reported by INFO stats.
#[derive(Default)]
pub struct ServerStats {
    pub commands_processed: Counter,
    pub net_input_bytes: Counter,
    pub net_output_bytes: Counter,
    /// Recent samples of operations per second; their mean is
    /// `instantaneous_ops_per_sec`.
    ops_samples: Mutex<OpsSamples>,
}

#[derive(Default)]
struct OpsSamples {
    last_count: u64,
    last_at: Option<Instant>,
    rates: [u64; 16],
    next: usize,
}

impl ServerStats {
    /// Records a sample of the command rate (called from the cron).
    pub fn sample_ops(&self, now: Instant) {
        let count = self.commands_processed.get();
        let mut s = self.ops_samples.lock();
        if let Some(at) = s.last_at {
            let ms = now.duration_since(at).as_millis().max(1) as u64;
            let rate = count.saturating_sub(s.last_count) * 1000 / ms;
            let i = s.next;
            s.rates[i] = rate;
            s.next = (i + 1) % s.rates.len();
        }
        s.last_count = count;
        s.last_at = Some(now);
    }

    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        let s = self.ops_samples.lock();
        s.rates.iter().sum::<u64>() / s.rates.len() as u64
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.commands_processed.reset();
        self.net_input_bytes.reset();
        self.net_output_bytes.reset();
        *self.ops_samples.lock() = OpsSamples::default();
    }
}

/// What the whole node shares.
pub struct Shared {
    pub keyspace: Arc<Keyspace>,
    /// The AOF, snapshots, loading (see [`crate::persist`]).
    pub persistence: Arc<Persistence>,
    /// The cold tier, once started (`tierd` starts it after the keyspace exists; a
    /// node without one keeps every value in RAM).
    pub tier: OnceLock<Tier>,
    pub config: SharedConfig,
    pub clients: Clients,
    /// Pub/Sub channels and patterns.
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// Lua scripts: the cache, the Lua state, the script running.
    pub scripts: crate::script::Scripts,
    pub stats: ServerStats,
    pub slowlog: SlowLog,
    /// ACL users and the ACL log.
    pub acl: crate::acl::Acl,
    /// When the server started.
    pub started: Instant,
    /// Unix seconds of the last successful save (the start time until persistence
    /// exists), for LASTSAVE.
    pub lastsave: AtomicU64,
    /// 40 hex characters identifying this run, for INFO's run_id.
    pub run_id: String,
    /// 40 hex characters naming this node's replication history, for INFO's
    /// master_replid.
    pub replid: String,
    /// The TCP port actually listened on (the TLS one when there is no plain one).
    pub port: AtomicU64,
    /// The TLS configuration new TLS connections get (see [`crate::tls`]).
    pub tls: crate::tls::TlsContext,
    shutdown_tx: watch::Sender<bool>,
    shutting_down: AtomicBool,
    set_log_level: LogLevelSetter,
}

impl Shared {
    pub fn new(config: Config, set_log_level: LogLevelSetter) -> Self {
        let keyspace = Arc::new(Keyspace::new(config.databases as usize));
        tier_engine::keyspace::set_lfu_params(config.lfu_log_factor, config.lfu_decay_time);
        let (shutdown_tx, _) = watch::channel(false);
        let now_secs = tier_engine::now_ms() / 1000;
        Shared {
            keyspace,
            persistence: Arc::new(Persistence::default()),
            tier: OnceLock::new(),
            slowlog: SlowLog::default(),
            acl: crate::acl::Acl::new(config.requirepass.as_deref()),
            config: SharedConfig::new(config),
            clients: Clients::default(),
            pubsub: Arc::default(),
            scripts: crate::script::Scripts::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            lastsave: AtomicU64::new(now_secs),
            run_id: random_id(),
            replid: random_id(),
            port: AtomicU64::new(0),
            tls: crate::tls::TlsContext::default(),
            shutdown_tx,
            shutting_down: AtomicBool::new(false),
            set_log_level,
        }
    }

    /// Starts a graceful shutdown: listeners stop, connections close, a running
    /// script is stopped.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.scripts.abort();
        self.shutdown_tx.send_replace(true);
        for client in self.clients.all() {
            client.kill();
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Resolves when a shutdown starts.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Hands the engine's run-time knobs (maxmemory, tier-min-value-size, the LFU
    /// counter's ...) from the live configuration to the keyspace and the running
    /// tier, at start and after CONFIG SET.
    pub fn sync_tier_settings(&self) {
        let config = self.config.load();
        tier_engine::keyspace::set_lfu_params(config.lfu_log_factor, config.lfu_decay_time);
        if let Some(tier) = self.tier.get() {
            tier.configure(&config.tier_knobs());
        }
    }

    /// Gives the AOF writer the configuration's `appendfsync` (after CONFIG SET, and
    /// once the AOF opens).
    pub fn sync_aof_policy(&self) {
        if let Some(aof) = self.persistence.aof() {
            aof.writer.set_fsync(self.config.load().appendfsync);
        }
    }

    pub fn set_log_level(&self, level: LogLevel) {
        (self.set_log_level)(level);
    }
}

/// 40 random hex characters, as Redis's run and replication ids.
fn random_id() -> String {
    (0..40)
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
        .collect()
}
