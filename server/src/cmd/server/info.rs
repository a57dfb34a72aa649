//! INFO [section ...]: the node's state as Redis 7.0's `name:value` lines, grouped in
//! `# Section` blocks in Redis's order, with Redis's field names and formats. Fields
//! report what is true of tierd: there is no persistence, replication or cluster yet,
//! so those sections say so with the values Redis gives when they are idle or off.

use super::config_file;
use crate::cmd::connection::REDIS_VERSION;
use crate::cmd::Ctx;
use crate::pubsub::Kind;
use crate::shared::Shared;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

/// The allocator tierd's binary installs (see `main.rs`), counted for `used_memory`.
const MEM_ALLOCATOR: &str = "mimalloc";

/// The sections, in the order INFO prints them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Server,
    Clients,
    Memory,
    Persistence,
    Stats,
    Replication,
    Cpu,
    Modules,
    Cluster,
    Keyspace,
    Tiering,
}

impl Section {
    const ALL: [Section; 11] = [
        Section::Server,
        Section::Clients,
        Section::Memory,
        Section::Persistence,
        Section::Stats,
        Section::Replication,
        Section::Cpu,
        Section::Modules,
        Section::Cluster,
        Section::Keyspace,
        Section::Tiering,
    ];

    /// The title after `# `; its lower-case form is the name INFO takes.
    fn title(self) -> &'static str {
        match self {
            Section::Server => "Server",
            Section::Clients => "Clients",
            Section::Memory => "Memory",
            Section::Persistence => "Persistence",
            Section::Stats => "Stats",
            Section::Replication => "Replication",
            Section::Cpu => "CPU",
            Section::Modules => "Modules",
            Section::Cluster => "Cluster",
            Section::Keyspace => "Keyspace",
            Section::Tiering => "Tiering",
        }
    }
}

/// Which sections the arguments ask for: none means `default`; `default`, `all` and
/// `everything` are every section tierd has; unknown names are ignored.
fn selected(args: &[bytes::Bytes]) -> [bool; Section::ALL.len()] {
    let mut chosen = [args.is_empty(); Section::ALL.len()];
    for arg in args {
        let name = arg.to_ascii_lowercase();
        let every = matches!(name.as_slice(), b"default" | b"all" | b"everything");
        for (i, section) in Section::ALL.iter().enumerate() {
            if every || section.title().as_bytes().eq_ignore_ascii_case(&name) {
                chosen[i] = true;
            }
        }
    }
    chosen
}

pub(super) fn info(ctx: &mut Ctx<'_>) {
    let chosen = selected(&ctx.args[1..]);
    let mut text = String::new();
    for (section, _) in Section::ALL.iter().zip(chosen).filter(|(_, on)| *on) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {}\r\n", section.title());
        let mut lines = Lines(&mut text);
        match section {
            Section::Server => server(&mut lines, ctx.shared),
            Section::Clients => clients(&mut lines, ctx.shared),
            Section::Memory => memory(&mut lines, ctx.shared),
            Section::Persistence => persistence(&mut lines, ctx.shared),
            Section::Stats => stats(&mut lines, ctx.shared),
            Section::Replication => replication(&mut lines, ctx.shared),
            Section::Cpu => cpu(&mut lines),
            Section::Modules => {}
            Section::Cluster => lines.field("cluster_enabled", 0),
            Section::Keyspace => keyspace(&mut lines, ctx.shared),
            Section::Tiering => tiering(&mut lines, ctx.shared),
        }
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
}

/// Appends `name:value\r\n` lines.
struct Lines<'a>(&'a mut String);

impl Lines<'_> {
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }

    /// A byte count and its `name_human` twin.
    fn bytes(&mut self, name: &str, n: u64) {
        self.field(name, n);
        self.field(&format!("{name}_human"), bytes_to_human(n));
    }
}

fn server(lines: &mut Lines<'_>, shared: &Shared) {
    let config = shared.config.load();
    let uptime = shared.started.elapsed().as_secs();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = config_file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    lines.field("redis_version", REDIS_VERSION);
    lines.field("tier_version", env!("CARGO_PKG_VERSION"));
    lines.field("redis_git_sha1", "00000000");
    lines.field("redis_git_dirty", 0);
    lines.field("redis_mode", "standalone");
    lines.field("os", os_name());
    lines.field("arch_bits", usize::BITS);
    // std's Instant reads CLOCK_MONOTONIC.
    lines.field("monotonic_clock", "POSIX clock_gettime");
    lines.field(
        "multiplexing_api",
        if cfg!(target_os = "linux") {
            "epoll"
        } else {
            "kqueue"
        },
    );
    lines.field("process_id", std::process::id());
    lines.field("process_supervised", "no");
    lines.field("run_id", &shared.run_id);
    lines.field("tcp_port", shared.port.load(Ordering::Relaxed));
    lines.field("server_time_usec", now_us);
    lines.field("uptime_in_seconds", uptime);
    lines.field("uptime_in_days", uptime / 86_400);
    lines.field("hz", config.hz);
    lines.field("configured_hz", config.hz);
    lines.field("executable", executable);
    lines.field("config_file", config_file);
}

fn clients(lines: &mut Lines<'_>, shared: &Shared) {
    lines.field("connected_clients", shared.clients.count());
    lines.field("cluster_connections", 0);
    lines.field("maxclients", shared.config.load().maxclients);
    lines.field("blocked_clients", shared.keyspace.waiting_clients());
    lines.field("tracking_clients", 0);
    lines.field(
        "clients_in_timeout_table",
        shared.clients.in_timeout_table.load(Ordering::Acquire),
    );
}

fn memory(lines: &mut Lines<'_>, shared: &Shared) {
    let config = shared.config.load();
    let used = tier_engine::memory::used_memory() as u64;
    let rss = rss_bytes();
    lines.bytes("used_memory", used);
    lines.bytes("used_memory_rss", rss);
    lines.bytes("total_system_memory", system_memory_bytes());
    lines.bytes("used_memory_lua", shared.scripts.lua_memory() as u64);
    lines.field("number_of_cached_scripts", shared.scripts.count());
    lines.bytes("maxmemory", config.maxmemory);
    lines.field("maxmemory_policy", config.maxmemory_policy.name());
    let ratio = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    lines.field("mem_fragmentation_ratio", format!("{ratio:.2}"));
    lines.field("mem_fragmentation_bytes", rss as i64 - used as i64);
    lines.field("mem_allocator", MEM_ALLOCATOR);
}

fn persistence(lines: &mut Lines<'_>, shared: &Shared) {
    let p = &shared.persistence;
    let loading = p.is_loading();
    lines.field("loading", i32::from(loading));
    lines.field("async_loading", 0);
    if loading {
        let state = &p.loading_state;
        let started = state.started_unix.load(Ordering::Relaxed);
        let total = state.total_bytes.load(Ordering::Relaxed);
        let loaded = state.loaded_bytes.load(Ordering::Relaxed);
        let elapsed = (tier_engine::now_ms() / 1000).saturating_sub(started);
        let perc = if total > 0 {
            loaded as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let eta = if loaded > 0 && total > loaded {
            (total - loaded) * elapsed.max(1) / loaded
        } else {
            1
        };
        lines.field("loading_start_time", started);
        lines.field("loading_total_bytes", total);
        lines.field("loading_loaded_bytes", loaded);
        lines.field("loading_loaded_perc", format!("{perc:.2}"));
        lines.field("loading_eta_seconds", eta);
        lines.field(
            "loading_loaded_keys",
            state.loaded_keys.load(Ordering::Relaxed),
        );
    }
    lines.field(
        "rdb_changes_since_last_save",
        p.dirty.load(Ordering::Relaxed),
    );
    let save = p.save_job.lock();
    lines.field(
        "rdb_bgsave_in_progress",
        i32::from(save.running_since.is_some()),
    );
    lines.field(
        "rdb_last_save_time",
        shared.lastsave.load(Ordering::Relaxed),
    );
    lines.field("rdb_last_bgsave_status", ok_err(save.last_ok));
    lines.field("rdb_last_bgsave_time_sec", secs(save.last_secs));
    lines.field(
        "rdb_current_bgsave_time_sec",
        running_secs(save.running_since),
    );
    lines.field("rdb_saves", save.runs);
    drop(save);
    let aof = p.aof();
    lines.field("aof_enabled", i32::from(aof.is_some()));
    let rewrite = p.rewrite_job.lock();
    lines.field(
        "aof_rewrite_in_progress",
        i32::from(rewrite.running_since.is_some()),
    );
    lines.field(
        "aof_rewrite_scheduled",
        i32::from(p.rewrite_scheduled.load(Ordering::Relaxed)),
    );
    lines.field("aof_last_rewrite_time_sec", secs(rewrite.last_secs));
    lines.field(
        "aof_current_rewrite_time_sec",
        running_secs(rewrite.running_since),
    );
    lines.field("aof_last_bgrewrite_status", ok_err(rewrite.last_ok));
    lines.field("aof_rewrites", rewrite.runs);
    drop(rewrite);
    let status = aof.map(|a| a.status());
    let write_ok = status.as_ref().is_none_or(|s| s.last_write_ok());
    lines.field("aof_last_write_status", if write_ok { "ok" } else { "err" });
    if let Some(status) = status {
        let (base, current) = p.aof_sizes();
        lines.field("aof_current_size", current);
        lines.field("aof_base_size", base);
        lines.field("aof_pending_rewrite", 0);
        lines.field("aof_buffer_length", status.pending_bytes);
        lines.field("aof_pending_bio_fsync", 0);
        lines.field("aof_delayed_fsync", status.delayed_fsyncs);
    }
}

/// A job's last status: "ok" also before it ever ran, as Redis.
fn ok_err(last_ok: Option<bool>) -> &'static str {
    if last_ok == Some(false) {
        "err"
    } else {
        "ok"
    }
}

fn secs(last: Option<u64>) -> i64 {
    last.map_or(-1, |s| s as i64)
}

fn running_secs(since: Option<std::time::Instant>) -> i64 {
    since.map_or(-1, |s| s.elapsed().as_secs() as i64)
}

fn stats(lines: &mut Lines<'_>, shared: &Shared) {
    let keyspace = shared.keyspace.stats();
    lines.field(
        "total_connections_received",
        shared.clients.total_received.load(Ordering::Relaxed),
    );
    lines.field(
        "total_commands_processed",
        shared.stats.commands_processed.get(),
    );
    lines.field(
        "instantaneous_ops_per_sec",
        shared.stats.instantaneous_ops_per_sec(),
    );
    lines.field("total_net_input_bytes", shared.stats.net_input_bytes.get());
    lines.field(
        "total_net_output_bytes",
        shared.stats.net_output_bytes.get(),
    );
    lines.field("total_net_repl_input_bytes", 0);
    lines.field("total_net_repl_output_bytes", 0);
    lines.field(
        "rejected_connections",
        shared.clients.rejected.load(Ordering::Relaxed),
    );
    lines.field("sync_full", 0);
    lines.field("sync_partial_ok", 0);
    lines.field("sync_partial_err", 0);
    lines.field("expired_keys", keyspace.expired_keys.get());
    lines.field("evicted_keys", keyspace.evicted_keys.get());
    lines.field("evicted_clients", 0);
    lines.field("keyspace_hits", keyspace.keyspace_hits.get());
    lines.field("keyspace_misses", keyspace.keyspace_misses.get());
    let pubsub = &shared.pubsub;
    lines.field("pubsub_channels", pubsub.count(Kind::Channel));
    lines.field("pubsub_patterns", pubsub.count(Kind::Pattern));
    lines.field("pubsubshard_channels", pubsub.count(Kind::Shard));
    lines.field("latest_fork_usec", 0);
    lines.field("total_forks", 0);
}

fn replication(lines: &mut Lines<'_>, shared: &Shared) {
    lines.field("role", "master");
    lines.field("connected_slaves", 0);
    lines.field("master_failover_state", "no-failover");
    lines.field("master_replid", &shared.replid);
    lines.field("master_replid2", "0000000000000000000000000000000000000000");
    lines.field("master_repl_offset", 0);
    lines.field("second_repl_offset", -1);
    lines.field("repl_backlog_active", 0);
    lines.field("repl_backlog_first_byte_offset", 0);
    lines.field("repl_backlog_histlen", 0);
}

fn cpu(lines: &mut Lines<'_>) {
    for (who, suffix) in [
        (libc::RUSAGE_SELF, ""),
        (libc::RUSAGE_CHILDREN, "_children"),
    ] {
        let usage = rusage(who);
        let time = |field: fn(&libc::rusage) -> libc::timeval| {
            usage
                .as_ref()
                .map(|u| seconds(field(u)))
                .unwrap_or_default()
        };
        lines.field(&format!("used_cpu_sys{suffix}"), time(|u| u.ru_stime));
        lines.field(&format!("used_cpu_user{suffix}"), time(|u| u.ru_utime));
    }
}

/// `db0:keys=3,expires=1,avg_ttl=0` for every database that holds keys.
fn keyspace(lines: &mut Lines<'_>, shared: &Shared) {
    for i in 0..shared.keyspace.databases() {
        let db = shared.keyspace.db(i);
        let keys = db.len();
        if keys > 0 {
            let expires = db.volatile_len();
            lines.field(
                &format!("db{i}"),
                format!("keys={keys},expires={expires},avg_ttl=0"),
            );
        }
    }
}

/// The `# Tiering` section tierd adds: keys and bytes by tier, the segments on
/// disk, and what the demoter, the reclaimer and cold reads have done.
fn tiering(lines: &mut Lines<'_>, shared: &Shared) {
    let gauges = shared.keyspace.gauges();
    let cold_keys = gauges.cold_keys.get();
    let keys = shared.keyspace.total_keys() as u64;
    lines.field("tier_enabled", u8::from(shared.tier.get().is_some()));
    lines.field("hot_keys", keys.saturating_sub(cold_keys));
    lines.field("cold_keys", cold_keys);
    lines.bytes("hot_bytes", gauges.hot_value_bytes.get());
    let Some(tier) = shared.tier.get() else {
        return;
    };
    let report = tier.report();
    let store = &report.store;
    lines.bytes("cold_bytes", store.live_bytes);
    lines.field("segments", store.segments);
    lines.bytes("tier_disk_used", store.disk_used);
    let ratio = if store.written_bytes == 0 {
        1.0
    } else {
        store.live_bytes as f64 / store.written_bytes as f64
    };
    lines.field("tier_live_ratio", format!("{ratio:.2}"));
    lines.field("demotions", report.demotions);
    lines.field("promotions", report.promotions);
    lines.field("cold_reads", store.reads);
    lines.field("cold_reads_merged", store.merged_reads);
    lines.field("cold_read_errors", store.read_errors);
    lines.field("reclaimed_segments", store.reclaimed_segments);
    lines.field("relocated_records", report.relocations);
    lines.field("demoter_stalled", u8::from(report.demoter_stalled));
    lines.field("io_engine", report.io_engine);
}

/// Redis's `bytesToHuman`: bytes below 1 KiB, then K, M, G, T, P with two decimals,
/// and bytes again from 1 EiB.
pub(super) fn bytes_to_human(n: u64) -> String {
    if n < 1024 {
        return format!("{n}B");
    }
    let mut unit_size = 1024u64;
    for unit in ["K", "M", "G", "T", "P"] {
        if n < unit_size * 1024 {
            return format!("{:.2}{unit}", n as f64 / unit_size as f64);
        }
        unit_size *= 1024;
    }
    format!("{n}B")
}

/// `sysname release machine`, as `uname -srm` prints them.
fn os_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        // SAFETY: utsname is plain old data; uname(2) fills it and returns 0 on success.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut uts) } != 0 {
            return String::new();
        }
        let field = |chars: &[libc::c_char]| {
            let bytes: Vec<u8> = chars
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        format!(
            "{} {} {}",
            field(&uts.sysname),
            field(&uts.release),
            field(&uts.machine)
        )
    })
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// The resident set size, from /proc/self/statm (0 where it cannot be read).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size())
}

fn system_memory_bytes() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    u64::try_from(pages).map_or(0, |pages| pages * page_size())
}

fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: rusage is plain old data; getrusage(2) fills it and returns 0 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    (unsafe { libc::getrusage(who, &mut usage) } == 0).then_some(usage)
}

/// A timeval as Redis prints CPU times: seconds with six decimals.
fn seconds(tv: libc::timeval) -> String {
    format!("{}.{:06}", tv.tv_sec, tv.tv_usec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn human_bytes_as_redis() {
        // Figures read from redis-server 7.0.15's INFO.
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(916_296), "894.82K");
        assert_eq!(bytes_to_human(6_811_648), "6.50M");
        assert_eq!(bytes_to_human(25_276_514_304), "23.54G");
        assert_eq!(bytes_to_human(3 << 40), "3.00T");
        assert_eq!(bytes_to_human(5 << 50), "5.00P");
        assert_eq!(bytes_to_human(1 << 60), "1152921504606846976B");
    }

    #[test]
    fn section_selection() {
        let pick = |args: &[&str]| {
            let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
            let chosen = selected(&args);
            Section::ALL
                .iter()
                .zip(chosen)
                .filter(|(_, on)| *on)
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&[]), Section::ALL);
        assert_eq!(pick(&["everything"]), Section::ALL);
        assert_eq!(
            pick(&["cpu", "SERVER", "cpu"]),
            [Section::Server, Section::Cpu]
        );
        assert_eq!(pick(&["nosuch"]), []);
        assert_eq!(pick(&["nosuch", "keyspace"]), [Section::Keyspace]);
    }
}
