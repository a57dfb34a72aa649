//! tierd's configuration, Redis style: a [`Config`] built from an optional config file
//! and `--name value` flags ([`parse_args`]), then shared with the running server
//! through [`SharedConfig`], which also implements CONFIG GET and CONFIG SET with
//! Redis 7.0's names, value formats and error texts.

mod args;
mod options;

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tier_engine::aof::FsyncPolicy;
use tier_engine::cold::MAX_SEGMENT_SIZE;
use tier_engine::glob::glob_match;
use tier_engine::io::IoEngineKind;

pub use args::{parse_args, ConfigError, Startup, USAGE};
pub use options::memtoull;
use options::{lookup, OPTIONS};

/// The whole configuration of a tierd node. Option names are Redis's; each field says
/// its Redis name where the spelling differs only by `_` for `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `bind`: the addresses to listen on for TCP. A leading `-` marks an address as
    /// optional (Redis: skip it if it is unavailable). An empty list (`bind ""`) means
    /// no TCP listener. At most 16. Default: `["127.0.0.1"]`.
    pub bind: Vec<String>,
    /// `port`: the TCP port; 0 means no TCP listener. Default: 6379.
    pub port: u16,
    /// `protected-mode`: with no password set, refuse clients that do not come from
    /// a loopback address. Default: yes.
    pub protected_mode: bool,
    /// `requirepass`: the password of the default user; `None` (set as `""`) means
    /// no authentication. Default: none.
    pub requirepass: Option<Vec<u8>>,
    /// `dir`: the directory for the data files (AOF, snapshots), as given. Default:
    /// `./data`.
    pub dir: PathBuf,
    /// `maxmemory`: the RAM budget in bytes (index plus hot values); 0 means no limit.
    /// Default: 0.
    pub maxmemory: u64,
    /// `maxmemory-policy`: what to do once RAM (and disk) are full. Default:
    /// noeviction.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// `tier-dir`: the directory of the cold tier's segment files, as given; a
    /// relative path is taken relative to `dir` (see [`Config::tier_path`]). Default:
    /// `tier`.
    pub tier_dir: PathBuf,
    /// `tier-io-engine`: the I/O engine of the cold tier: `auto` (io_uring where the
    /// kernel allows it, else psync), `uring` or `psync`. Default: auto.
    pub tier_io_engine: IoEngineKind,
    /// `tier-segment-size`: the size of one segment file in bytes, a multiple of 4096
    /// between 1mb and 64mb ([`MAX_SEGMENT_SIZE`]). Default: 64mb.
    pub tier_segment_size: u64,
    /// `tier-max-size`: the most disk bytes the segment files may take; 0 means no
    /// limit. Default: 0.
    pub tier_max_size: u64,
    /// `tier-min-value-size`: values smaller than this many bytes stay in RAM.
    /// Default: 64.
    pub tier_min_value_size: u64,
    /// `tier-max-value-size`: values larger than this many bytes (a collection's
    /// record payload) stay in RAM. Default: 128mb.
    pub tier_max_value_size: u64,
    /// The compact encodings' thresholds: `hash-max-listpack-entries` (alias
    /// `hash-max-ziplist-entries`, default 512), `hash-max-listpack-value` (alias
    /// `hash-max-ziplist-value`, default 64), `set-max-intset-entries` (default 512),
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`, default 128),
    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`, default 64),
    /// the defaults of the redis-server 7.0.15 Tier is measured against.
    pub limits: tier_engine::value::Limits,
    /// `list-max-listpack-size` (alias `list-max-ziplist-size`): the size of a
    /// quicklist node in Redis (-2: 8 KB). Accepted and reported as Redis does; a
    /// Tier list has no nodes, so it changes nothing (docs/COMMANDS.md). Default: -2.
    pub list_max_listpack_size: i32,
    /// `list-compress-depth`: quicklist nodes Redis leaves uncompressed at each end
    /// (0: none compressed). Accepted and reported; Tier compresses lists only in
    /// snapshots. Default: 0.
    pub list_compress_depth: u32,
    /// `tier-reclaim-threshold`: a segment whose live bytes fall below this percentage
    /// (1..=100) of the bytes written to it is rewritten and freed. Default: 50.
    pub tier_reclaim_threshold: u32,
    /// `tier-promote-window`: a cold value read a second time within this many seconds
    /// of its previous read comes back to RAM; 0 turns promotion off. Default: 60.
    pub tier_promote_window: u64,
    /// `maxclients`: the most clients connected at once (at least 1). Default: 10000.
    pub maxclients: u32,
    /// `timeout`: close a client idle for this many seconds; 0 never does. Default: 0.
    pub timeout: u32,
    /// `tcp-keepalive`: TCP keepalive interval in seconds; 0 turns it off. Default: 300.
    pub tcp_keepalive: u32,
    /// `proto-max-bulk-len`: the largest bulk string a client may send, in bytes (at
    /// least 1mb). Default: 512mb.
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit`: the most bytes of unparsed input a client may have
    /// buffered, in bytes (at least 1mb). Default: 1gb.
    pub client_query_buffer_limit: u64,
    /// `loglevel`: how much to log. Default: notice.
    pub loglevel: LogLevel,
    /// `logfile`: the file to log to; `None` (set as `""`) logs to standard error.
    /// Default: none.
    pub logfile: Option<PathBuf>,
    /// `databases`: the number of logical databases (SELECT 0..n-1). Default: 16.
    pub databases: u32,
    /// `slowlog-log-slower-than`: log commands slower than this many microseconds in
    /// the slow log; -1 disables it, 0 logs every command. Default: 10000.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: how many entries the slow log keeps. Default: 128.
    pub slowlog_max_len: u64,
    /// `busy-reply-threshold` (alias `lua-time-limit`): once a script has run this
    /// many milliseconds, other clients get `-BUSY` and SCRIPT KILL may stop it; 0
    /// means at once. Default: 5000.
    pub busy_reply_threshold: u64,
    /// `aclfile`: the file of ACL users, loaded at start, by ACL LOAD, written by ACL
    /// SAVE (docs/FORMAT.md). Default: none (users live in memory only).
    pub aclfile: Option<PathBuf>,
    /// `acllog-max-len`: how many entries the ACL log keeps. Default: 128.
    pub acllog_max_len: u64,
    /// `user <name> <rule>...` directives of the config file, each as its words
    /// (name first), applied at start (not with an aclfile). Default: none.
    pub users: Vec<Vec<Vec<u8>>>,
    /// `hz`: how many times a second background tasks (active expiry, timeouts) run;
    /// values outside 1..=500 are clamped into it, as Redis does. Default: 10.
    pub hz: u32,
    /// `appendonly`: log every write to the AOF (in `dir`/`appenddirname`) and
    /// recover from it at start. Default: yes.
    pub appendonly: bool,
    /// `appendfsync`: when the AOF is fsynced (always, everysec, no). Default:
    /// everysec.
    pub appendfsync: FsyncPolicy,
    /// `appenddirname`: the AOF's directory under `dir`. Default: `appendonlydir`.
    pub appenddirname: String,
    /// `appendfilename`: the base name of the AOF's files. Default: `appendonly.aof`.
    pub appendfilename: String,
    /// `aof-load-truncated`: at start, cut a torn last command off the last AOF
    /// increment (with a warning) instead of refusing to start. Default: yes.
    pub aof_load_truncated: bool,
    /// `auto-aof-rewrite-percentage`: rewrite the AOF once it has grown by this many
    /// percent since the last rewrite; 0 turns automatic rewrites off. Default: 100.
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size`: no automatic rewrite while the AOF is smaller.
    /// Default: 64mb.
    pub auto_aof_rewrite_min_size: u64,
    /// `dbfilename`: the snapshot file SAVE and BGSAVE write, in `dir`. Default:
    /// `dump.tsnap`.
    pub dbfilename: String,
    /// `save`: (seconds, changes) points: a background save runs once at least
    /// `changes` writes happened and `seconds` passed since the last save. Default:
    /// none (Redis has 3600 1, 300 100, 60 10000: with the AOF on by default, and a
    /// dataset mostly on disk, which every snapshot reads whole, Tier saves on demand
    /// only).
    pub save: Vec<(u64, u64)>,
    /// `lfu-log-factor`: how many accesses a step of a key's LFU counter takes (it
    /// grows with the counter). Default: 10.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes of idleness per step down of the LFU counter; 0:
    /// never. Default: 1.
    pub lfu_decay_time: u32,
    /// `client-output-buffer-limit`: per client class (normal, replica, pubsub), the
    /// replies and messages that may wait for a client before it is disconnected.
    /// Default: none for normal clients, Redis's for the others.
    pub client_output_buffer_limit: [OutputLimit; 3],
    /// `key-load-delay`: microseconds to wait after loading each snapshot record at
    /// start (negative: one microsecond once in `-n` records), as Redis's debugging
    /// option. Default: 0.
    pub key_load_delay: i64,
    /// The TLS listener and its certificates: the `tls-*` options.
    pub tls: TlsConfig,
}

/// The `tls-*` options, as Redis names them. Every file is read when TLS is
/// configured: at start, and on a CONFIG SET of any of these options while TLS runs
/// (new connections get the new certificates; open ones keep theirs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `tls-port`: the port of the TLS listener, on the `bind` addresses; 0 means no
    /// TLS listener. Default: 0.
    pub port: u16,
    /// `tls-cert-file`: the server's certificate chain (PEM), leaf first. Default: none.
    pub cert_file: Option<PathBuf>,
    /// `tls-key-file`: the server certificate's private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1). Default: none.
    pub key_file: Option<PathBuf>,
    /// `tls-key-file-pass`: the passphrase of an encrypted `tls-key-file`. Tier reads
    /// only unencrypted keys: TLS refuses to start while this is set. Default: none.
    pub key_file_pass: Option<Vec<u8>>,
    /// `tls-ca-cert-file`: the CA certificates (PEM) client certificates are checked
    /// against. Default: none.
    pub ca_cert_file: Option<PathBuf>,
    /// `tls-ca-cert-dir`: a directory of CA certificates (PEM files), read as
    /// `tls-ca-cert-file` is. Default: none.
    pub ca_cert_dir: Option<PathBuf>,
    /// `tls-auth-clients`: whether a client must present a certificate signed by one
    /// of the CAs. Default: yes.
    pub auth_clients: TlsAuthClients,
    /// `tls-protocols`: the TLS versions allowed, space separated (`TLSv1.2`,
    /// `TLSv1.3`; `TLSv1` and `TLSv1.1` are not offered by Tier); empty means both.
    /// Default: empty.
    pub protocols: String,
    /// `tls-ciphers`: the TLS 1.2 cipher suites allowed, OpenSSL names separated by
    /// `:`; empty means all Tier has. Default: empty.
    pub ciphers: String,
    /// `tls-ciphersuites`: the TLS 1.3 cipher suites allowed, names separated by `:`;
    /// empty means all. Default: empty.
    pub ciphersuites: String,
    /// `tls-prefer-server-ciphers`: pick the cipher suite by the server's order of
    /// preference rather than the client's. Default: no.
    pub prefer_server_ciphers: bool,
    /// `tls-session-caching`: let clients resume TLS sessions. Default: yes.
    pub session_caching: bool,
    /// `tls-session-cache-size`: how many sessions the cache keeps. Default: 20480.
    pub session_cache_size: u32,
}

/// `tls-auth-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// `no`: no client certificate is asked for.
    No,
    /// `yes`: a client without a valid certificate is refused.
    Yes,
    /// `optional`: a client certificate is checked if one is given.
    Optional,
}

impl TlsAuthClients {
    /// Every value, in the order Redis's error message lists them.
    pub const ALL: [TlsAuthClients; 3] = [
        TlsAuthClients::No,
        TlsAuthClients::Yes,
        TlsAuthClients::Optional,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            port: 0,
            cert_file: None,
            key_file: None,
            key_file_pass: None,
            ca_cert_file: None,
            ca_cert_dir: None,
            auth_clients: TlsAuthClients::Yes,
            protocols: String::new(),
            ciphers: String::new(),
            ciphersuites: String::new(),
            prefer_server_ciphers: false,
            session_caching: true,
            session_cache_size: 20480,
        }
    }
}

/// A client class of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

/// One class's `client-output-buffer-limit`: disconnect a client once more than `hard`
/// bytes wait for it, or more than `soft` for `soft_seconds`; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    pub const NONE: OutputLimit = OutputLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    };
}

impl Config {
    /// The output buffer limit of clients of `class`.
    pub fn output_limit(&self, class: ClientClass) -> OutputLimit {
        self.client_output_buffer_limit[class as usize]
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".to_owned()],
            port: 6379,
            protected_mode: true,
            requirepass: None,
            dir: PathBuf::from("./data"),
            maxmemory: 0,
            maxmemory_policy: MaxmemoryPolicy::Noeviction,
            tier_dir: PathBuf::from("tier"),
            tier_io_engine: IoEngineKind::Auto,
            tier_segment_size: MAX_SEGMENT_SIZE,
            tier_max_size: 0,
            tier_min_value_size: 64,
            tier_max_value_size: 128 * 1024 * 1024,
            limits: tier_engine::value::Limits::default(),
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            tier_reclaim_threshold: 50,
            tier_promote_window: 60,
            maxclients: 10_000,
            timeout: 0,
            tcp_keepalive: 300,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            loglevel: LogLevel::Notice,
            logfile: None,
            databases: 16,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            busy_reply_threshold: 5000,
            aclfile: None,
            acllog_max_len: 128,
            users: Vec::new(),
            hz: 10,
            appendonly: true,
            appendfsync: FsyncPolicy::EverySec,
            appenddirname: "appendonlydir".to_owned(),
            appendfilename: "appendonly.aof".to_owned(),
            aof_load_truncated: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            dbfilename: "dump.tsnap".to_owned(),
            save: Vec::new(),
            key_load_delay: 0,
            tls: TlsConfig::default(),
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            client_output_buffer_limit: [
                OutputLimit::NONE,
                OutputLimit {
                    hard: 256 << 20,
                    soft: 64 << 20,
                    soft_seconds: 60,
                },
                OutputLimit {
                    hard: 32 << 20,
                    soft: 8 << 20,
                    soft_seconds: 60,
                },
            ],
        }
    }
}

impl Config {
    /// The directory of the cold tier's segment files: `tier-dir` itself when it is
    /// absolute, else `tier-dir` under `dir`.
    pub fn tier_path(&self) -> PathBuf {
        if self.tier_dir.is_absolute() {
            self.tier_dir.clone()
        } else {
            self.dir.join(&self.tier_dir)
        }
    }

    /// The AOF's directory: `appenddirname` under `dir`.
    pub fn aof_path(&self) -> PathBuf {
        self.dir.join(&self.appenddirname)
    }

    /// The snapshot file of SAVE and BGSAVE: `dbfilename` under `dir`.
    pub fn dump_path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }

    /// The tier's run-time knobs as this configuration sets them.
    pub fn tier_knobs(&self) -> tier_engine::tier::TierKnobs {
        tier_engine::tier::TierKnobs {
            maxmemory: self.maxmemory,
            min_value_size: self.tier_min_value_size,
            max_value_size: self.tier_max_value_size,
            reclaim_threshold_pct: self.tier_reclaim_threshold,
            promote_window_secs: self.tier_promote_window,
            policy: self.maxmemory_policy,
            max_disk: self.tier_max_size,
        }
    }

    /// CONFIG GET: every option matching one of `patterns`, once, in the order found,
    /// with its value formatted as Redis's CONFIG GET does (memory in plain bytes,
    /// booleans `yes`/`no`, lists space-separated, enums lowercase).
    ///
    /// As in Redis 7.0, a pattern with none of `[*?` is an exact, case-insensitive
    /// name, returned spelled as the client spelled it; a glob pattern matches names
    /// case-insensitively and returns them lowercase. An unknown name returns nothing.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut found = vec![false; OPTIONS.len()];
        let mut out = Vec::new();
        for &pattern in patterns {
            if !pattern.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
                if let Some((i, spec)) = lookup(pattern) {
                    if !found[i] {
                        found[i] = true;
                        let name = String::from_utf8_lossy(pattern).into_owned();
                        out.push((name, (spec.get)(self)));
                    }
                }
                continue;
            }
            for (i, spec) in OPTIONS.iter().enumerate() {
                if !found[i] && glob_match(pattern, spec.name.as_bytes(), true) {
                    found[i] = true;
                    out.push((spec.name.to_owned(), (spec.get)(self)));
                }
            }
        }
        out
    }

    /// CONFIG SET on a copy of this configuration: checks every name first, then parses
    /// every value. Returns the new configuration, the canonical names set and those of
    /// them whose value changed. Errors are Redis 7.0's texts, starting with `ERR `.
    fn config_set(&self, pairs: &[(&[u8], &[u8])]) -> Result<ConfigChange, String> {
        let mut specs = Vec::with_capacity(pairs.len());
        for &(name, _) in pairs {
            let shown = String::from_utf8_lossy(name);
            let Some((i, spec)) = lookup(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{shown}'"
                ));
            };
            let failed = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{shown}') - {why}")
            };
            if !spec.runtime {
                return Err(failed("can't set immutable config"));
            }
            if specs.iter().any(|&(j, _)| j == i) {
                return Err(failed("duplicate parameter"));
            }
            specs.push((i, spec));
        }
        let mut next = self.clone();
        for (&(_, spec), &(_, value)) in specs.iter().zip(pairs) {
            spec.apply(&mut next, &[value.to_vec()]).map_err(|why| {
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
                    spec.name
                )
            })?;
        }
        let changed = specs
            .iter()
            .filter(|(_, spec)| (spec.get)(self) != (spec.get)(&next))
            .map(|(_, spec)| spec.name)
            .collect();
        Ok(ConfigChange {
            next,
            named: specs.iter().map(|(_, spec)| spec.name).collect(),
            changed,
        })
    }
}

/// What a CONFIG SET would do: the configuration after it, and the options it names.
struct ConfigChange {
    next: Config,
    /// The canonical names of every option set, changed or not.
    named: Vec<&'static str>,
    /// Those of them whose value changed.
    changed: Vec<&'static str>,
}

/// `maxmemory-policy`: Redis's eight policies (the tier's evictor applies them).
pub use tier_engine::tier::MaxmemoryPolicy;

/// `loglevel`: Redis 7.0's four levels, from the most verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`: everything.
    Debug,
    /// `verbose`: much that is rarely useful.
    Verbose,
    /// `notice`: moderately verbose, what production wants.
    Notice,
    /// `warning`: only what matters.
    Warning,
}

impl LogLevel {
    /// Every level, in Redis's order.
    pub const ALL: [LogLevel; 4] = [
        LogLevel::Debug,
        LogLevel::Verbose,
        LogLevel::Notice,
        LogLevel::Warning,
    ];

    /// The Redis name, as CONFIG GET prints it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    /// The `tracing` filter that logs what this level logs: debug → TRACE, verbose →
    /// DEBUG, notice → INFO, warning → WARN.
    pub fn filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::Debug => LevelFilter::TRACE,
            LogLevel::Verbose => LevelFilter::DEBUG,
            LogLevel::Notice => LevelFilter::INFO,
            LogLevel::Warning => LevelFilter::WARN,
        }
    }
}

/// The configuration of the running server: readers take a snapshot without locking
/// ([`load`](Self::load)); CONFIG SET swaps in a new one atomically.
#[derive(Debug)]
pub struct SharedConfig {
    current: ArcSwap<Config>,
    /// Serializes CONFIG SETs so that two at once cannot lose one's changes.
    writer: Mutex<()>,
}

impl SharedConfig {
    /// Shares `config` as the current configuration.
    pub fn new(config: Config) -> Self {
        SharedConfig {
            current: ArcSwap::from_pointee(config),
            writer: Mutex::new(()),
        }
    }

    /// The current configuration: a few atomic operations, cheap enough for every
    /// batch of commands. Do not hold the guard across an `.await` (use
    /// [`load_full`](Self::load_full) there).
    pub fn load(&self) -> arc_swap::Guard<Arc<Config>> {
        self.current.load()
    }

    /// The current configuration as an owned `Arc`, to keep across awaits.
    pub fn load_full(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// CONFIG GET with one or more glob patterns; see [`Config::get_matching`].
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        self.current.load().get_matching(patterns)
    }

    /// CONFIG SET of one or more `(name, value)` pairs, all or none. Only options that
    /// may change at run time are accepted (maxmemory, maxmemory-policy, tier-max-size,
    /// tier-min-value-size, tier-max-value-size, tier-reclaim-threshold,
    /// tier-promote-window, hash-max-listpack-entries, hash-max-listpack-value,
    /// list-max-listpack-size, zset-max-listpack-entries, zset-max-listpack-value (and
    /// their ziplist aliases), list-compress-depth, set-max-intset-entries, maxclients,
    /// timeout, tcp-keepalive, proto-max-bulk-len, client-query-buffer-limit, loglevel,
    /// requirepass, protected-mode, appendfsync, aof-load-truncated, key-load-delay,
    /// lfu-log-factor, lfu-decay-time, client-output-buffer-limit,
    /// auto-aof-rewrite-*, dbfilename, save, slowlog-log-slower-than, slowlog-max-len,
    /// busy-reply-threshold (and its alias lua-time-limit),
    /// hz, and the tls-* options but tls-port).
    ///
    /// On success returns the canonical names of the options whose value changed, so
    /// the caller can react (e.g. re-filter logging when it holds `"loglevel"`). On
    /// failure nothing changed, and the error is Redis 7.0's text for the `-` reply,
    /// starting with `ERR ` (the first error by argument position wins, as in Redis).
    /// An odd number of arguments is the caller's to refuse, with `ERR syntax error`.
    pub fn set(&self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<&'static str>, String> {
        self.set_checked(pairs, |_, _| Ok(()))
    }

    /// CONFIG SET as [`set`](Self::set), with `apply` run first on the new
    /// configuration and the canonical names of every option set (changed or not: a
    /// TLS certificate file set again to the same path is read again). An error from
    /// `apply` (the option it blames and Redis's reason) leaves the configuration as
    /// it was.
    pub fn set_checked(
        &self,
        pairs: &[(&[u8], &[u8])],
        apply: impl FnOnce(&Config, &[&'static str]) -> Result<(), (&'static str, String)>,
    ) -> Result<Vec<&'static str>, String> {
        let _writer = self.writer.lock();
        let change = self.current.load().config_set(pairs)?;
        apply(&change.next, &change.named).map_err(|(name, why)| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        })?;
        if !change.changed.is_empty() {
            self.current.store(Arc::new(change.next));
        }
        Ok(change.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(config: &Config, patterns: &[&str]) -> Vec<(String, String)> {
        let patterns: Vec<&[u8]> = patterns.iter().map(|p| p.as_bytes()).collect();
        config.get_matching(&patterns)
    }

    fn pairs<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
        list.iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect()
    }

    fn one(config: &Config, name: &str) -> String {
        match get(config, &[name]).as_slice() {
            [(_, value)] => value.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn config_get_formats_as_redis() {
        let c = Config::default();
        let want = [
            ("bind", "127.0.0.1"),
            ("port", "6379"),
            ("protected-mode", "yes"),
            ("requirepass", ""),
            ("dir", "./data"),
            ("maxmemory", "0"),
            ("maxmemory-policy", "noeviction"),
            ("tier-dir", "tier"),
            ("tier-io-engine", "auto"),
            ("tier-segment-size", "67108864"),
            ("tier-max-size", "0"),
            ("tier-min-value-size", "64"),
            ("tier-max-value-size", "134217728"),
            ("hash-max-listpack-entries", "512"),
            ("hash-max-ziplist-entries", "512"),
            ("hash-max-listpack-value", "64"),
            ("hash-max-ziplist-value", "64"),
            ("list-max-listpack-size", "-2"),
            ("list-max-ziplist-size", "-2"),
            ("list-compress-depth", "0"),
            ("set-max-intset-entries", "512"),
            ("zset-max-listpack-entries", "128"),
            ("zset-max-ziplist-entries", "128"),
            ("zset-max-listpack-value", "64"),
            ("zset-max-ziplist-value", "64"),
            ("tier-reclaim-threshold", "50"),
            ("tier-promote-window", "60"),
            ("maxclients", "10000"),
            ("timeout", "0"),
            ("tcp-keepalive", "300"),
            ("proto-max-bulk-len", "536870912"),
            ("client-query-buffer-limit", "1073741824"),
            ("loglevel", "notice"),
            ("logfile", ""),
            ("appendonly", "yes"),
            ("appendfsync", "everysec"),
            ("appenddirname", "appendonlydir"),
            ("appendfilename", "appendonly.aof"),
            ("aof-load-truncated", "yes"),
            ("key-load-delay", "0"),
            ("auto-aof-rewrite-percentage", "100"),
            ("auto-aof-rewrite-min-size", "67108864"),
            ("dbfilename", "dump.tsnap"),
            ("save", ""),
            ("lfu-log-factor", "10"),
            ("lfu-decay-time", "1"),
            (
                "client-output-buffer-limit",
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            ),
            ("databases", "16"),
            ("aclfile", ""),
            ("acllog-max-len", "128"),
            ("slowlog-log-slower-than", "10000"),
            ("busy-reply-threshold", "5000"),
            ("lua-time-limit", "5000"),
            ("slowlog-max-len", "128"),
            ("hz", "10"),
            ("tls-port", "0"),
            ("tls-cert-file", ""),
            ("tls-key-file", ""),
            ("tls-key-file-pass", ""),
            ("tls-ca-cert-file", ""),
            ("tls-ca-cert-dir", ""),
            ("tls-auth-clients", "yes"),
            ("tls-protocols", ""),
            ("tls-ciphers", ""),
            ("tls-ciphersuites", ""),
            ("tls-prefer-server-ciphers", "no"),
            ("tls-session-caching", "yes"),
            ("tls-session-cache-size", "20480"),
            ("daemonize", "no"),
        ];
        for (name, value) in want {
            assert_eq!(one(&c, name), value, "{name}");
        }
        assert_eq!(get(&c, &["*"]).len(), want.len());
    }

    #[test]
    fn config_get_patterns() {
        let c = Config::default();
        let names = |patterns: &[&str]| -> Vec<String> {
            get(&c, patterns).into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names(&["maxmemory*"]), ["maxmemory", "maxmemory-policy"]);
        assert_eq!(names(&["MAXMEM*"]), ["maxmemory", "maxmemory-policy"]);
        // Several patterns; each option once.
        assert_eq!(
            names(&["maxmemory", "maxmemory*", "port", "PORT"]),
            ["maxmemory", "maxmemory-policy", "port"]
        );
        // An exact name comes back spelled as asked.
        assert_eq!(
            get(&c, &["MaxMemory"]),
            [("MaxMemory".to_owned(), "0".to_owned())]
        );
        assert_eq!(
            names(&["slowlog-*", "?z"]),
            ["slowlog-log-slower-than", "slowlog-max-len", "hz"]
        );
        assert_eq!(
            names(&["[pt][^l]*"]),
            [
                "port",
                "protected-mode",
                "tier-dir",
                "tier-io-engine",
                "tier-segment-size",
                "tier-max-size",
                "tier-min-value-size",
                "tier-max-value-size",
                "tier-reclaim-threshold",
                "tier-promote-window",
                "timeout",
                "tcp-keepalive",
                "proto-max-bulk-len"
            ]
        );
        assert!(names(&["nosuch", "nosuch*", "\\maxmemory"]).is_empty());
        assert!(names(&[]).is_empty());
    }

    #[test]
    fn config_set_changes_and_reports() {
        let shared = SharedConfig::new(Config::default());
        let changed = shared
            .set(&pairs(&[
                ("maxmemory", "2gb"),
                ("MAXMEMORY-POLICY", "ALLKEYS-LRU"),
                ("loglevel", "notice"),
                ("protected-mode", "NO"),
                ("requirepass", "secret"),
                ("hz", "1000"),
            ]))
            .expect("valid");
        assert_eq!(
            changed,
            [
                "maxmemory",
                "maxmemory-policy",
                "protected-mode",
                "requirepass",
                "hz"
            ]
        );
        let c = shared.load_full();
        assert_eq!(c.maxmemory, 2 << 30);
        assert_eq!(c.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
        assert!(!c.protected_mode);
        assert_eq!(c.requirepass.as_deref(), Some(&b"secret"[..]));
        assert_eq!(c.hz, 500);
        assert_eq!(shared.set(&pairs(&[("hz", "0")])), Ok(vec!["hz"]));
        assert_eq!(shared.load().hz, 1);
        assert_eq!(
            shared.set(&pairs(&[("loglevel", "warning")])),
            Ok(vec!["loglevel"])
        );
        assert_eq!(shared.load().loglevel, LogLevel::Warning);
        assert_eq!(
            shared.set(&pairs(&[("requirepass", "")])),
            Ok(vec!["requirepass"])
        );
        assert_eq!(shared.load().requirepass, None);
        assert_eq!(
            shared
                .set(&pairs(&[("slowlog-log-slower-than", "-1")]))
                .map(|c| c.len()),
            Ok(1)
        );
        assert_eq!(
            shared.set(&pairs(&[("maxmemory", "")])),
            Ok(vec!["maxmemory"])
        );
        assert_eq!(shared.set(&pairs(&[("maxmemory", "0")])), Ok(vec![]));
    }

    #[test]
    fn tier_defaults() {
        let c = Config::default();
        assert_eq!(c.tier_dir, PathBuf::from("tier"));
        assert_eq!(c.tier_io_engine, IoEngineKind::Auto);
        assert_eq!(c.tier_segment_size, 64 << 20);
        assert_eq!(c.tier_segment_size, MAX_SEGMENT_SIZE);
        assert_eq!(c.tier_max_size, 0);
        assert_eq!(c.tier_min_value_size, 64);
        assert_eq!(c.tier_reclaim_threshold, 50);
        assert_eq!(c.tier_promote_window, 60);
        assert_eq!(c.tier_path(), PathBuf::from("./data/tier"));
    }

    #[test]
    fn tier_path_joins_a_relative_tier_dir_onto_dir() {
        let relative = Config {
            dir: PathBuf::from("/var/lib/tier"),
            tier_dir: PathBuf::from("cold/segments"),
            ..Config::default()
        };
        assert_eq!(
            relative.tier_path(),
            PathBuf::from("/var/lib/tier/cold/segments")
        );
        let dotted = Config {
            dir: PathBuf::from("data"),
            tier_dir: PathBuf::from("../nvme"),
            ..Config::default()
        };
        assert_eq!(dotted.tier_path(), PathBuf::from("data/../nvme"));
        let absolute = Config {
            dir: PathBuf::from("/var/lib/tier"),
            tier_dir: PathBuf::from("/mnt/nvme0/tier"),
            ..Config::default()
        };
        assert_eq!(absolute.tier_path(), PathBuf::from("/mnt/nvme0/tier"));
    }

    #[test]
    fn config_set_tier_runtime_options() {
        let shared = SharedConfig::new(Config::default());
        let changed = shared
            .set(&pairs(&[
                ("tier-max-size", "100gb"),
                ("TIER-MIN-VALUE-SIZE", "1kb"),
                ("tier-reclaim-threshold", "100"),
                ("tier-promote-window", "0"),
            ]))
            .expect("valid");
        assert_eq!(
            changed,
            [
                "tier-max-size",
                "tier-min-value-size",
                "tier-reclaim-threshold",
                "tier-promote-window"
            ]
        );
        let c = shared.load_full();
        assert_eq!(c.tier_max_size, 100 << 30);
        assert_eq!(c.tier_min_value_size, 1024);
        assert_eq!(c.tier_reclaim_threshold, 100);
        assert_eq!(c.tier_promote_window, 0);
        assert_eq!(
            get(&c, &["tier-*"]),
            [
                ("tier-dir", "tier"),
                ("tier-io-engine", "auto"),
                ("tier-segment-size", "67108864"),
                ("tier-max-size", "107374182400"),
                ("tier-min-value-size", "1024"),
                ("tier-max-value-size", "134217728"),
                ("tier-reclaim-threshold", "100"),
                ("tier-promote-window", "0"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(
            shared.set(&pairs(&[("tier-reclaim-threshold", "1")])),
            Ok(vec!["tier-reclaim-threshold"])
        );
        assert_eq!(
            shared.set(&pairs(&[("tier-promote-window", "9223372036854775807")])),
            Ok(vec!["tier-promote-window"])
        );
        assert_eq!(shared.load().tier_promote_window, i64::MAX as u64);
    }

    #[test]
    fn config_set_is_all_or_nothing() {
        let shared = SharedConfig::new(Config::default());
        let before = shared.load_full();
        let err = shared
            .set(&pairs(&[
                ("maxmemory", "1mb"),
                ("timeout", "5"),
                ("maxclients", "0"),
            ]))
            .expect_err("maxclients 0 is out of range");
        assert_eq!(
            err,
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - \
             argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(*shared.load_full(), *before);
    }

    /// Every text here was read from redis-server 7.0.15.
    #[test]
    fn config_set_errors_word_for_word() {
        let shared = SharedConfig::new(Config::default());
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("foo", "bar")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
            (
                &[("maxmemory", "10x")],
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
            ),
            (
                &[("MAXMEMORY", "10x")],
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
            ),
            (
                &[("databases", "4")],
                "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config",
            ),
            (
                &[("Databases", "4")],
                "ERR CONFIG SET failed (possibly related to argument 'Databases') - can't set immutable config",
            ),
            (
                &[("logfile", "x")],
                "ERR CONFIG SET failed (possibly related to argument 'logfile') - can't set immutable config",
            ),
            (
                &[("DAEMONIZE", "no")],
                "ERR CONFIG SET failed (possibly related to argument 'DAEMONIZE') - can't set immutable config",
            ),
            (
                &[("maxmemory", "1"), ("maxmemory", "2")],
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter",
            ),
            (
                &[("maxmemory", "1"), ("MAXMEMORY", "2")],
                "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter",
            ),
            (
                &[("maxmemory-policy", "foo")],
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
            ),
            (
                &[("loglevel", "")],
                "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning",
            ),
            (
                &[("appendfsync", "sometimes")],
                "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no",
            ),
            (
                &[("tier-dir", "/tmp")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-dir') - can't set immutable config",
            ),
            (
                &[("tier-io-engine", "psync")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-io-engine') - can't set immutable config",
            ),
            (
                &[("tier-segment-size", "8mb")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-segment-size') - can't set immutable config",
            ),
            (
                &[("tier-max-size", "10x")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-max-size') - argument must be a memory value",
            ),
            (
                &[("tier-min-value-size", "-1")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-min-value-size') - argument must be a memory value",
            ),
            (
                &[("tier-reclaim-threshold", "0")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-reclaim-threshold') - argument must be between 1 and 100 inclusive",
            ),
            (
                &[("tier-reclaim-threshold", "101")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-reclaim-threshold') - argument must be between 1 and 100 inclusive",
            ),
            (
                &[("tier-promote-window", "-1")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-promote-window') - argument must be between 0 and 9223372036854775807 inclusive",
            ),
            (
                &[("tier-promote-window", "1.5")],
                "ERR CONFIG SET failed (possibly related to argument 'tier-promote-window') - argument couldn't be parsed into an integer",
            ),
            (
                &[("protected-mode", "maybe")],
                "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'",
            ),
            (
                &[("timeout", "abc")],
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer",
            ),
            (
                &[("timeout", "01")],
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer",
            ),
            (
                &[("timeout", "-1")],
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive",
            ),
            (
                &[("hz", "-1")],
                "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive",
            ),
            (
                &[("slowlog-log-slower-than", "-2")],
                "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive",
            ),
            (
                &[("slowlog-max-len", "-1")],
                "ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument must be between 0 and 9223372036854775807 inclusive",
            ),
            (
                &[("proto-max-bulk-len", "1")],
                "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive",
            ),
            (
                &[("client-query-buffer-limit", "1")],
                "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive",
            ),
            (
                &[("client-query-buffer-limit", "18446744073709551615")],
                "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive",
            ),
            (
                &[("maxclients", "4294967296")],
                "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive",
            ),
            // The first error by position wins, whatever its kind.
            (&[("maxmemory", "10x"), ("foo", "bar")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
            (
                &[("maxmemory", "10x"), ("databases", "4")],
                "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config",
            ),
            (&[("databases", "4"), ("foo", "bar")], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            (&[("foo", "bar"), ("databases", "4")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
            (
                &[("maxmemory", "5"), ("maxmemory", "10x"), ("foo", "1")],
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter",
            ),
            (
                &[("maxmemory", "1"), ("timeout", "x"), ("maxclients", "y")],
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer",
            ),
        ];
        for (list, want) in cases {
            assert_eq!(
                shared.set(&pairs(list)),
                Err((*want).to_owned()),
                "{list:?}"
            );
            assert_eq!(
                *shared.load_full(),
                Config::default(),
                "{list:?} changed the config"
            );
        }
    }

    #[test]
    fn every_runtime_option_is_the_briefs() {
        let runtime: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.runtime)
            .map(|o| o.name)
            .collect();
        assert_eq!(
            runtime,
            [
                "protected-mode",
                "requirepass",
                "maxmemory",
                "maxmemory-policy",
                "tier-max-size",
                "tier-min-value-size",
                "tier-max-value-size",
                "hash-max-listpack-entries",
                "hash-max-ziplist-entries",
                "hash-max-listpack-value",
                "hash-max-ziplist-value",
                "list-max-listpack-size",
                "list-max-ziplist-size",
                "list-compress-depth",
                "set-max-intset-entries",
                "zset-max-listpack-entries",
                "zset-max-ziplist-entries",
                "zset-max-listpack-value",
                "zset-max-ziplist-value",
                "tier-reclaim-threshold",
                "tier-promote-window",
                "maxclients",
                "timeout",
                "tcp-keepalive",
                "proto-max-bulk-len",
                "client-query-buffer-limit",
                "loglevel",
                "appendfsync",
                "aof-load-truncated",
                "key-load-delay",
                "auto-aof-rewrite-percentage",
                "auto-aof-rewrite-min-size",
                "dbfilename",
                "save",
                "lfu-log-factor",
                "lfu-decay-time",
                "client-output-buffer-limit",
                "slowlog-log-slower-than",
                "busy-reply-threshold",
                "lua-time-limit",
                "acllog-max-len",
                "slowlog-max-len",
                "hz",
                "tls-cert-file",
                "tls-key-file",
                "tls-key-file-pass",
                "tls-ca-cert-file",
                "tls-ca-cert-dir",
                "tls-auth-clients",
                "tls-protocols",
                "tls-ciphers",
                "tls-ciphersuites",
                "tls-prefer-server-ciphers",
                "tls-session-caching",
                "tls-session-cache-size",
            ]
        );
    }
}
