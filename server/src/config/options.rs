//! The table of configuration options: for each Redis name, whether CONFIG SET may
//! change it at run time, how its arguments are parsed into a [`Config`] and how
//! CONFIG GET prints it. Value parsing and the error texts follow Redis 7.0's config.c
//! (`memtoull`, `string2ll`, `yesnotoi`, bounds and enum messages) word for word.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use tier_engine::cold::MAX_SEGMENT_SIZE;
use tier_engine::io::{IoEngineKind, ALIGN};

use super::{ClientClass, Config, LogLevel, MaxmemoryPolicy, OutputLimit, TlsAuthClients};
use tier_engine::splitargs::split_args;

/// Redis's limit on the number of `bind` addresses (`CONFIG_BINDADDR_MAX`).
const MAX_BIND_ADDRESSES: usize = 16;
/// One mebibyte, the smallest `proto-max-bulk-len` and `client-query-buffer-limit`.
const MB: u64 = 1024 * 1024;
/// `tier-segment-size` must be a multiple of this: the cold tier's block size, the
/// alignment of every O_DIRECT transfer.
const SEGMENT_ALIGN: u64 = ALIGN as u64;
/// `tier-io-engine`'s values, in the order its error message lists them.
const IO_ENGINE_KINDS: [IoEngineKind; 3] =
    [IoEngineKind::Auto, IoEngineKind::Uring, IoEngineKind::Psync];
/// Redis's bounds on `hz` after parsing: larger or smaller values are clamped.
const HZ_RANGE: std::ops::RangeInclusive<u32> = 1..=500;

/// A parse failure's reason, as Redis words it (no "ERR", no option name).
pub(super) type Reason = String;

/// One configuration option.
pub(super) struct OptionSpec {
    /// The Redis name, lowercase.
    pub name: &'static str,
    /// CONFIG SET may change it while the server runs.
    pub runtime: bool,
    pub set: Setter,
    /// The value as CONFIG GET prints it.
    pub get: fn(&Config) -> String,
}

/// How an option takes its arguments.
pub(super) enum Setter {
    /// Exactly one argument.
    One(fn(&mut Config, &[u8]) -> Result<(), Reason>),
    /// Any number of arguments; a single non-empty argument is split on spaces first,
    /// so `--bind "127.0.0.1 ::1"` works as Redis's does.
    Many(fn(&mut Config, &[Vec<u8>]) -> Result<(), Reason>),
}

impl OptionSpec {
    /// Parses `args` (the words after the option's name) into `config`.
    pub fn apply(&self, config: &mut Config, args: &[Vec<u8>]) -> Result<(), Reason> {
        match self.set {
            Setter::One(set) => match args {
                [arg] => set(config, arg),
                _ => Err("wrong number of arguments".to_owned()),
            },
            Setter::Many(set) => match args {
                [arg] if !arg.is_empty() => {
                    let words = split_args(arg)
                        .map_err(|_| "Unbalanced quotes in configuration line".to_owned())?;
                    set(config, &words)
                }
                _ => set(config, args),
            },
        }
    }
}

/// Finds an option by name, ignoring ASCII case.
pub(super) fn lookup(name: &[u8]) -> Option<(usize, &'static OptionSpec)> {
    OPTIONS
        .iter()
        .enumerate()
        .find(|(_, spec)| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

pub(super) static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "bind",
        runtime: false,
        set: Setter::Many(|c, args| {
            if args.len() > MAX_BIND_ADDRESSES {
                return Err("Too many bind addresses specified.".to_owned());
            }
            // A single empty argument means no address at all, as in Redis 7.
            let args = if matches!(args, [only] if only.is_empty()) {
                &[]
            } else {
                args
            };
            c.bind = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Ok(())
        }),
        get: |c| c.bind.join(" "),
    },
    OptionSpec {
        name: "port",
        runtime: false,
        set: Setter::One(|c, v| {
            c.port = int(v, 0, 65535)?;
            Ok(())
        }),
        get: |c| c.port.to_string(),
    },
    OptionSpec {
        name: "protected-mode",
        runtime: true,
        set: Setter::One(|c, v| {
            c.protected_mode = yes_no(v)?;
            Ok(())
        }),
        get: |c| yes_no_str(c.protected_mode),
    },
    OptionSpec {
        name: "requirepass",
        runtime: true,
        set: Setter::One(|c, v| {
            c.requirepass = (!v.is_empty()).then(|| v.to_vec());
            Ok(())
        }),
        get: |c| String::from_utf8_lossy(c.requirepass.as_deref().unwrap_or_default()).into_owned(),
    },
    OptionSpec {
        name: "dir",
        runtime: false,
        set: Setter::One(|c, v| {
            if v.is_empty() {
                return Err("dir can't be empty".to_owned());
            }
            c.dir = PathBuf::from(OsStr::from_bytes(v));
            Ok(())
        }),
        get: |c| c.dir.to_string_lossy().into_owned(),
    },
    OptionSpec {
        name: "maxmemory",
        runtime: true,
        set: Setter::One(|c, v| {
            c.maxmemory = memory(v, 0, u64::MAX)?;
            Ok(())
        }),
        get: |c| c.maxmemory.to_string(),
    },
    OptionSpec {
        name: "maxmemory-policy",
        runtime: true,
        set: Setter::One(|c, v| {
            c.maxmemory_policy = one_of(v, &MaxmemoryPolicy::ALL, |p| p.name())?;
            Ok(())
        }),
        get: |c| c.maxmemory_policy.name().to_owned(),
    },
    // The cold tier: where and how values demoted from RAM are kept on disk.
    OptionSpec {
        name: "tier-dir",
        runtime: false,
        set: Setter::One(|c, v| {
            if v.is_empty() {
                return Err("tier-dir can't be empty".to_owned());
            }
            c.tier_dir = PathBuf::from(OsStr::from_bytes(v));
            Ok(())
        }),
        get: |c| c.tier_dir.to_string_lossy().into_owned(),
    },
    OptionSpec {
        name: "tier-io-engine",
        runtime: false,
        set: Setter::One(|c, v| {
            c.tier_io_engine = one_of(v, &IO_ENGINE_KINDS, IoEngineKind::as_str)?;
            Ok(())
        }),
        get: |c| c.tier_io_engine.as_str().to_owned(),
    },
    OptionSpec {
        name: "tier-segment-size",
        runtime: false,
        set: Setter::One(|c, v| {
            let size = memory(v, MB, MAX_SEGMENT_SIZE)?;
            if size % SEGMENT_ALIGN != 0 {
                return Err(format!("argument must be a multiple of {SEGMENT_ALIGN}"));
            }
            c.tier_segment_size = size;
            Ok(())
        }),
        get: |c| c.tier_segment_size.to_string(),
    },
    OptionSpec {
        name: "tier-max-size",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tier_max_size = memory(v, 0, u64::MAX)?;
            Ok(())
        }),
        get: |c| c.tier_max_size.to_string(),
    },
    OptionSpec {
        name: "tier-min-value-size",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tier_min_value_size = memory(v, 0, u64::MAX)?;
            Ok(())
        }),
        get: |c| c.tier_min_value_size.to_string(),
    },
    OptionSpec {
        name: "tier-max-value-size",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tier_max_value_size = memory(v, 0, u64::MAX)?;
            Ok(())
        }),
        get: |c| c.tier_max_value_size.to_string(),
    },
    HASH_MAX_LISTPACK_ENTRIES,
    OptionSpec {
        name: "hash-max-ziplist-entries",
        ..HASH_MAX_LISTPACK_ENTRIES
    },
    HASH_MAX_LISTPACK_VALUE,
    OptionSpec {
        name: "hash-max-ziplist-value",
        ..HASH_MAX_LISTPACK_VALUE
    },
    LIST_MAX_LISTPACK_SIZE,
    OptionSpec {
        name: "list-max-ziplist-size",
        ..LIST_MAX_LISTPACK_SIZE
    },
    OptionSpec {
        name: "list-compress-depth",
        runtime: true,
        set: Setter::One(|c, v| {
            c.list_compress_depth = int(v, 0, i64::from(i32::MAX))?;
            Ok(())
        }),
        get: |c| c.list_compress_depth.to_string(),
    },
    OptionSpec {
        name: "set-max-intset-entries",
        runtime: true,
        set: Setter::One(|c, v| {
            c.limits.set_max_intset_entries = int(v, 0, i64::MAX)?;
            Ok(())
        }),
        get: |c| c.limits.set_max_intset_entries.to_string(),
    },
    ZSET_MAX_LISTPACK_ENTRIES,
    OptionSpec {
        name: "zset-max-ziplist-entries",
        ..ZSET_MAX_LISTPACK_ENTRIES
    },
    ZSET_MAX_LISTPACK_VALUE,
    OptionSpec {
        name: "zset-max-ziplist-value",
        ..ZSET_MAX_LISTPACK_VALUE
    },
    OptionSpec {
        name: "tier-reclaim-threshold",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tier_reclaim_threshold = int(v, 1, 100)?;
            Ok(())
        }),
        get: |c| c.tier_reclaim_threshold.to_string(),
    },
    OptionSpec {
        name: "tier-promote-window",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tier_promote_window = int(v, 0, i64::MAX)?;
            Ok(())
        }),
        get: |c| c.tier_promote_window.to_string(),
    },
    OptionSpec {
        name: "maxclients",
        runtime: true,
        set: Setter::One(|c, v| {
            c.maxclients = int(v, 1, u32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.maxclients.to_string(),
    },
    OptionSpec {
        name: "timeout",
        runtime: true,
        set: Setter::One(|c, v| {
            c.timeout = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.timeout.to_string(),
    },
    OptionSpec {
        name: "tcp-keepalive",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tcp_keepalive = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.tcp_keepalive.to_string(),
    },
    OptionSpec {
        name: "proto-max-bulk-len",
        runtime: true,
        set: Setter::One(|c, v| {
            c.proto_max_bulk_len = memory(v, MB, i64::MAX as u64)?;
            Ok(())
        }),
        get: |c| c.proto_max_bulk_len.to_string(),
    },
    OptionSpec {
        name: "client-query-buffer-limit",
        runtime: true,
        set: Setter::One(|c, v| {
            c.client_query_buffer_limit = memory(v, MB, i64::MAX as u64)?;
            Ok(())
        }),
        get: |c| c.client_query_buffer_limit.to_string(),
    },
    OptionSpec {
        name: "loglevel",
        runtime: true,
        set: Setter::One(|c, v| {
            c.loglevel = one_of(v, &LogLevel::ALL, |l| l.name())?;
            Ok(())
        }),
        get: |c| c.loglevel.name().to_owned(),
    },
    OptionSpec {
        name: "logfile",
        runtime: false,
        set: Setter::One(|c, v| {
            c.logfile = (!v.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(v)));
            Ok(())
        }),
        get: |c| {
            c.logfile
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        },
    },
    OptionSpec {
        name: "appendonly",
        runtime: false,
        set: Setter::One(|c, v| {
            c.appendonly = yes_no(v)?;
            Ok(())
        }),
        get: |c| yes_no_str(c.appendonly),
    },
    OptionSpec {
        name: "appendfsync",
        runtime: true,
        set: Setter::One(|c, v| {
            c.appendfsync = std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    "argument(s) must be one of the following: everysec, always, no".to_owned()
                })?;
            Ok(())
        }),
        get: |c| c.appendfsync.as_str().to_owned(),
    },
    OptionSpec {
        name: "appenddirname",
        runtime: false,
        set: Setter::One(|c, v| {
            c.appenddirname = plain_file_name(v, "appenddirname")?;
            Ok(())
        }),
        get: |c| c.appenddirname.clone(),
    },
    OptionSpec {
        name: "appendfilename",
        runtime: false,
        set: Setter::One(|c, v| {
            c.appendfilename = plain_file_name(v, "appendfilename")?;
            Ok(())
        }),
        get: |c| c.appendfilename.clone(),
    },
    OptionSpec {
        name: "aof-load-truncated",
        runtime: true,
        set: Setter::One(|c, v| {
            c.aof_load_truncated = yes_no(v)?;
            Ok(())
        }),
        get: |c| yes_no_str(c.aof_load_truncated),
    },
    OptionSpec {
        name: "key-load-delay",
        runtime: true,
        set: Setter::One(|c, v| {
            c.key_load_delay = int(v, i32::MIN.into(), i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.key_load_delay.to_string(),
    },
    OptionSpec {
        name: "auto-aof-rewrite-percentage",
        runtime: true,
        set: Setter::One(|c, v| {
            c.auto_aof_rewrite_percentage = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
    },
    OptionSpec {
        name: "auto-aof-rewrite-min-size",
        runtime: true,
        set: Setter::One(|c, v| {
            c.auto_aof_rewrite_min_size = memory(v, 0, i64::MAX as u64)?;
            Ok(())
        }),
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
    },
    OptionSpec {
        name: "dbfilename",
        runtime: true,
        set: Setter::One(|c, v| {
            c.dbfilename = plain_file_name(v, "dbfilename")?;
            Ok(())
        }),
        get: |c| c.dbfilename.clone(),
    },
    OptionSpec {
        name: "save",
        runtime: true,
        set: Setter::Many(|c, args| {
            c.save = save_points(args)?;
            Ok(())
        }),
        get: |c| {
            let words: Vec<String> = c.save.iter().map(|(s, n)| format!("{s} {n}")).collect();
            words.join(" ")
        },
    },
    OptionSpec {
        name: "lfu-log-factor",
        runtime: true,
        set: Setter::One(|c, v| {
            c.lfu_log_factor = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.lfu_log_factor.to_string(),
    },
    OptionSpec {
        name: "lfu-decay-time",
        runtime: true,
        set: Setter::One(|c, v| {
            c.lfu_decay_time = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.lfu_decay_time.to_string(),
    },
    OptionSpec {
        name: "client-output-buffer-limit",
        runtime: true,
        set: Setter::Many(|c, args| {
            for (class, limit) in output_limits(args)? {
                c.client_output_buffer_limit[class as usize] = limit;
            }
            Ok(())
        }),
        get: |c| {
            let classes = ["normal", "slave", "pubsub"];
            let words: Vec<String> = classes
                .iter()
                .zip(&c.client_output_buffer_limit)
                .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
                .collect();
            words.join(" ")
        },
    },
    OptionSpec {
        name: "databases",
        runtime: false,
        set: Setter::One(|c, v| {
            c.databases = int(v, 1, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.databases.to_string(),
    },
    OptionSpec {
        name: "slowlog-log-slower-than",
        runtime: true,
        set: Setter::One(|c, v| {
            c.slowlog_log_slower_than = int(v, -1, i64::MAX)?;
            Ok(())
        }),
        get: |c| c.slowlog_log_slower_than.to_string(),
    },
    BUSY_REPLY_THRESHOLD,
    OptionSpec {
        name: "lua-time-limit",
        ..BUSY_REPLY_THRESHOLD
    },
    OptionSpec {
        name: "aclfile",
        runtime: false,
        set: Setter::One(|c, v| {
            c.aclfile = (!v.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(v)));
            Ok(())
        }),
        get: |c| {
            c.aclfile
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        },
    },
    OptionSpec {
        name: "acllog-max-len",
        runtime: true,
        set: Setter::One(|c, v| {
            c.acllog_max_len = int(v, 0, i64::MAX)?;
            Ok(())
        }),
        get: |c| c.acllog_max_len.to_string(),
    },
    OptionSpec {
        name: "slowlog-max-len",
        runtime: true,
        set: Setter::One(|c, v| {
            c.slowlog_max_len = int(v, 0, i64::MAX)?;
            Ok(())
        }),
        get: |c| c.slowlog_max_len.to_string(),
    },
    OptionSpec {
        name: "hz",
        runtime: true,
        set: Setter::One(|c, v| {
            // Redis takes any non-negative int and clamps it ("hz is a hint").
            let hz: u32 = int(v, 0, i32::MAX.into())?;
            c.hz = hz.clamp(*HZ_RANGE.start(), *HZ_RANGE.end());
            Ok(())
        }),
        get: |c| c.hz.to_string(),
    },
    // TLS (see TlsConfig): applied, and checked, when TLS runs; see crate::tls.
    OptionSpec {
        name: "tls-port",
        runtime: false,
        set: Setter::One(|c, v| {
            c.tls.port = int(v, 0, 65535)?;
            Ok(())
        }),
        get: |c| c.tls.port.to_string(),
    },
    OptionSpec {
        name: "tls-cert-file",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.cert_file = optional_path(v);
            Ok(())
        }),
        get: |c| path_str(&c.tls.cert_file),
    },
    OptionSpec {
        name: "tls-key-file",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.key_file = optional_path(v);
            Ok(())
        }),
        get: |c| path_str(&c.tls.key_file),
    },
    OptionSpec {
        name: "tls-key-file-pass",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.key_file_pass = (!v.is_empty()).then(|| v.to_vec());
            Ok(())
        }),
        get: |c| {
            String::from_utf8_lossy(c.tls.key_file_pass.as_deref().unwrap_or_default()).into_owned()
        },
    },
    OptionSpec {
        name: "tls-ca-cert-file",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.ca_cert_file = optional_path(v);
            Ok(())
        }),
        get: |c| path_str(&c.tls.ca_cert_file),
    },
    OptionSpec {
        name: "tls-ca-cert-dir",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.ca_cert_dir = optional_path(v);
            Ok(())
        }),
        get: |c| path_str(&c.tls.ca_cert_dir),
    },
    OptionSpec {
        name: "tls-auth-clients",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.auth_clients = one_of(v, &TlsAuthClients::ALL, TlsAuthClients::name)?;
            Ok(())
        }),
        get: |c| c.tls.auth_clients.name().to_owned(),
    },
    OptionSpec {
        name: "tls-protocols",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.protocols = String::from_utf8_lossy(v).into_owned();
            Ok(())
        }),
        get: |c| c.tls.protocols.clone(),
    },
    OptionSpec {
        name: "tls-ciphers",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.ciphers = String::from_utf8_lossy(v).into_owned();
            Ok(())
        }),
        get: |c| c.tls.ciphers.clone(),
    },
    OptionSpec {
        name: "tls-ciphersuites",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.ciphersuites = String::from_utf8_lossy(v).into_owned();
            Ok(())
        }),
        get: |c| c.tls.ciphersuites.clone(),
    },
    OptionSpec {
        name: "tls-prefer-server-ciphers",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.prefer_server_ciphers = yes_no(v)?;
            Ok(())
        }),
        get: |c| yes_no_str(c.tls.prefer_server_ciphers),
    },
    OptionSpec {
        name: "tls-session-caching",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.session_caching = yes_no(v)?;
            Ok(())
        }),
        get: |c| yes_no_str(c.tls.session_caching),
    },
    OptionSpec {
        name: "tls-session-cache-size",
        runtime: true,
        set: Setter::One(|c, v| {
            c.tls.session_cache_size = int(v, 0, i32::MAX.into())?;
            Ok(())
        }),
        get: |c| c.tls.session_cache_size.to_string(),
    },
    OptionSpec {
        // Accepted as `no` so that configuration files written for Redis load.
        name: "daemonize",
        runtime: false,
        set: Setter::One(|_, v| {
            if yes_no(v)? {
                Err(
                    "daemonize yes is not supported: tierd stays in the foreground; \
                     run it under a service manager (systemd, a container runtime) instead"
                        .to_owned(),
                )
            } else {
                Ok(())
            }
        }),
        get: |_| yes_no_str(false),
    },
];

/// `hash-max-listpack-entries`, also known by its Redis 6 name `hash-max-ziplist-entries`.
/// `busy-reply-threshold`, also `lua-time-limit`.
const BUSY_REPLY_THRESHOLD: OptionSpec = OptionSpec {
    name: "busy-reply-threshold",
    runtime: true,
    set: Setter::One(|c, v| {
        c.busy_reply_threshold = int(v, 0, i64::MAX)?;
        Ok(())
    }),
    get: |c| c.busy_reply_threshold.to_string(),
};

const HASH_MAX_LISTPACK_ENTRIES: OptionSpec = OptionSpec {
    name: "hash-max-listpack-entries",
    runtime: true,
    set: Setter::One(|c, v| {
        c.limits.hash_max_listpack_entries = int(v, 0, i64::MAX)?;
        Ok(())
    }),
    get: |c| c.limits.hash_max_listpack_entries.to_string(),
};

/// `list-max-listpack-size`, also `list-max-ziplist-size`.
const LIST_MAX_LISTPACK_SIZE: OptionSpec = OptionSpec {
    name: "list-max-listpack-size",
    runtime: true,
    set: Setter::One(|c, v| {
        c.list_max_listpack_size = int(v, i64::from(i32::MIN), i64::from(i32::MAX))?;
        Ok(())
    }),
    get: |c| c.list_max_listpack_size.to_string(),
};

/// `hash-max-listpack-value` (a memory value), also `hash-max-ziplist-value`.
const HASH_MAX_LISTPACK_VALUE: OptionSpec = OptionSpec {
    name: "hash-max-listpack-value",
    runtime: true,
    set: Setter::One(|c, v| {
        let n = memory(v, 0, i64::MAX as u64)?;
        c.limits.hash_max_listpack_value = usize::try_from(n).unwrap_or(usize::MAX);
        Ok(())
    }),
    get: |c| c.limits.hash_max_listpack_value.to_string(),
};

/// `zset-max-listpack-entries`, also `zset-max-ziplist-entries`.
const ZSET_MAX_LISTPACK_ENTRIES: OptionSpec = OptionSpec {
    name: "zset-max-listpack-entries",
    runtime: true,
    set: Setter::One(|c, v| {
        c.limits.zset_max_listpack_entries = int(v, 0, i64::MAX)?;
        Ok(())
    }),
    get: |c| c.limits.zset_max_listpack_entries.to_string(),
};

/// `zset-max-listpack-value` (a memory value), also `zset-max-ziplist-value`.
const ZSET_MAX_LISTPACK_VALUE: OptionSpec = OptionSpec {
    name: "zset-max-listpack-value",
    runtime: true,
    set: Setter::One(|c, v| {
        let n = memory(v, 0, i64::MAX as u64)?;
        c.limits.zset_max_listpack_value = usize::try_from(n).unwrap_or(usize::MAX);
        Ok(())
    }),
    get: |c| c.limits.zset_max_listpack_value.to_string(),
};

/// Parses an integer as Redis's `string2ll` does (no sign but `-`, no leading zeros, no
/// spaces, no overflow) and checks it lies in `min..=max`, with Redis's messages.
fn int<T: TryFrom<i64>>(v: &[u8], min: i64, max: i64) -> Result<T, Reason> {
    let n = crate::num::parse_i64(v).ok_or("argument couldn't be parsed into an integer")?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    T::try_from(n).map_err(|_| format!("argument must be between {min} and {max} inclusive"))
}

/// Parses a memory value (see [`memtoull`]) and checks it lies in `min..=max`.
fn memory(v: &[u8], min: u64, max: u64) -> Result<u64, Reason> {
    let n = memtoull(v).ok_or("argument must be a memory value")?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// Redis's `yesnotoi`: `yes` or `no`, any case.
/// A file name without a directory part, as Redis checks `dbfilename` and
/// `appenddirname`.
fn plain_file_name(v: &[u8], option: &str) -> Result<String, Reason> {
    let name = std::str::from_utf8(v).map_err(|_| format!("{option} must be valid UTF-8"))?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("{option} can't be a path, just a filename"));
    }
    Ok(name.to_owned())
}

/// `save`'s (seconds, changes) pairs, as Redis parses them: an even number of
/// positive integers, or one empty argument for none.
fn save_points(args: &[Vec<u8>]) -> Result<Vec<(u64, u64)>, Reason> {
    let words: Vec<&Vec<u8>> = args.iter().filter(|a| !a.is_empty()).collect();
    let invalid = || "Invalid save parameters".to_owned();
    if !words.len().is_multiple_of(2) {
        return Err(invalid());
    }
    words
        .chunks(2)
        .map(|pair| Ok((int(pair[0], 1, i64::MAX)?, int(pair[1], 1, i64::MAX)?)))
        .collect::<Result<Vec<_>, Reason>>()
        .map_err(|_| invalid())
}

/// `client-output-buffer-limit` words: groups of `<class> <hard> <soft> <seconds>`.
fn output_limits(args: &[Vec<u8>]) -> Result<Vec<(ClientClass, OutputLimit)>, Reason> {
    let words: Vec<&Vec<u8>> = args.iter().filter(|a| !a.is_empty()).collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".to_owned());
    }
    words
        .chunks(4)
        .map(|group| {
            let class = match group[0].to_ascii_lowercase().as_slice() {
                b"normal" => ClientClass::Normal,
                b"slave" | b"replica" => ClientClass::Replica,
                b"pubsub" => ClientClass::Pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".to_owned(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_owned()
            };
            let seconds = std::str::from_utf8(group[3])
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            match (memtoull(group[1]), memtoull(group[2]), seconds) {
                (Some(hard), Some(soft), Some(soft_seconds)) => Ok((
                    class,
                    OutputLimit {
                        hard,
                        soft,
                        soft_seconds,
                    },
                )),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// A file option: the path, or none when empty.
fn optional_path(v: &[u8]) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(v)))
}

/// A file option as CONFIG GET prints it: empty when unset.
fn path_str(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn yes_no(v: &[u8]) -> Result<bool, Reason> {
    if v.eq_ignore_ascii_case(b"yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case(b"no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".to_owned())
    }
}

fn yes_no_str(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// One of an enum's names, any case; the error lists them all as Redis's does.
fn one_of<T: Copy>(v: &[u8], all: &[T], name: fn(T) -> &'static str) -> Result<T, Reason> {
    all.iter()
        .copied()
        .find(|&t| name(t).as_bytes().eq_ignore_ascii_case(v))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&t| name(t)).collect();
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
        })
}

/// Redis's `memtoull`: digits then an optional unit, `b` (bytes), `k` = 1000, `kb` =
/// 1024, `m` = 1000², `mb` = 1024², `g` = 1000³, `gb` = 1024³, any case. As in Redis a
/// missing number counts as 0 (`""`, `"kb"`). Unlike Redis 7.0, whose `strtoull`
/// saturates and whose multiplication wraps, a value beyond 2⁶⁴-1 is refused.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    let digits_end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits
        .iter()
        .try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?
        .checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_as_redis() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("100", 100),
            ("007", 7),
            ("1b", 1),
            ("1B", 1),
            ("1k", 1000),
            ("1K", 1000),
            ("1kb", 1024),
            ("1kB", 1024),
            ("1Kb", 1024),
            ("2m", 2_000_000),
            ("2mb", 2 * 1024 * 1024),
            ("2MB", 2 * 1024 * 1024),
            ("3g", 3_000_000_000),
            ("3gb", 3 * 1024 * 1024 * 1024),
            ("3gB", 3 * 1024 * 1024 * 1024),
            ("", 0),
            ("b", 0),
            ("kb", 0),
            ("18446744073709551615", u64::MAX),
            ("16777216gb", 16_777_216 * 1024 * 1024 * 1024),
        ];
        for &(text, want) in cases {
            assert_eq!(memtoull(text.as_bytes()), Some(want), "{text:?}");
        }
        for bad in [
            "-1",
            "-0",
            "+1",
            " 1",
            "1 ",
            "1 mb",
            "1.5mb",
            "0x10",
            "1tb",
            "1kbb",
            "mbk",
            "18446744073709551616",
            "17179869184gb",
        ] {
            assert_eq!(memtoull(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn value_errors_word_for_word() {
        assert_eq!(
            int::<u32>(b"x", 0, 5),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            int::<u32>(b"-1", 0, 5),
            Err("argument must be between 0 and 5 inclusive".into())
        );
        assert_eq!(
            memory(b"1", MB, 9),
            Err("argument must be between 1048576 and 9 inclusive".into())
        );
        assert_eq!(
            memory(b"1x", 0, 9),
            Err("argument must be a memory value".into())
        );
        assert_eq!(yes_no(b"YES"), Ok(true));
        assert_eq!(yes_no(b"No"), Ok(false));
        assert_eq!(yes_no(b"y"), Err("argument must be 'yes' or 'no'".into()));
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        for (i, spec) in OPTIONS.iter().enumerate() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert_eq!(
                lookup(spec.name.to_ascii_uppercase().as_bytes()).map(|(j, _)| j),
                Some(i)
            );
        }
    }
}
