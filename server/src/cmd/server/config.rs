//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the live configuration
//! ([`SharedConfig`](crate::config::SharedConfig)), applying what a change implies
//! (the log filter, the TLS certificates) as soon as it is made.

use super::config_file;
use crate::cmd::{reply_help, Ctx};
use std::sync::atomic::Ordering;

/// CONFIG GET pattern [pattern ...]: name/value pairs (a map in RESP3).
pub(super) fn get(ctx: &mut Ctx<'_>) {
    let patterns: Vec<&[u8]> = ctx.args[2..].iter().map(|p| p.as_ref()).collect();
    let found = ctx.shared.config.get_matching(&patterns);
    ctx.out.map_len(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
pub(super) fn set(ctx: &mut Ctx<'_>) {
    let args = &ctx.args[2..];
    if args.len() % 2 == 1 {
        return ctx.syntax_error();
    }
    let pairs: Vec<(&[u8], &[u8])> = args
        .chunks_exact(2)
        .map(|p| (p[0].as_ref(), p[1].as_ref()))
        .collect();
    let shared = ctx.shared;
    match shared.config.set_checked(&pairs, |next, named| {
        crate::tls::reconfigure(shared, next, named)
    }) {
        Ok(changed) => {
            // A lower slowlog-max-len takes effect at the slow log's next entry, as
            // in Redis 7.0 (whose SLOWLOG LEN still counts the old entries till then).
            if changed.contains(&"loglevel") {
                ctx.shared.set_log_level(ctx.shared.config.load().loglevel);
            }
            if changed.contains(&"appendfsync") {
                ctx.shared.sync_aof_policy();
            }
            let live = ctx.shared.config.load();
            // requirepass is the default user's password, as in Redis.
            if changed.contains(&"requirepass") {
                ctx.shared
                    .acl
                    .set_default_password(live.requirepass.as_deref());
            }
            if changed.contains(&"acllog-max-len") {
                ctx.shared.acl.log.trim(live.acllog_max_len as usize);
            }
            ctx.shared.sync_tier_settings();
            ctx.out.ok();
        }
        Err(e) => ctx.out.error(e),
    }
}

/// CONFIG RESETSTAT: zeroes INFO's counters, as Redis's `resetServerStats` (the slow
/// log stays).
pub(super) fn resetstat(ctx: &mut Ctx<'_>) {
    let shared = ctx.shared;
    shared.stats.reset();
    shared.keyspace.stats().reset();
    shared.clients.total_received.store(0, Ordering::Relaxed);
    shared.clients.rejected.store(0, Ordering::Relaxed);
    ctx.out.ok();
}

pub(super) fn rewrite(ctx: &mut Ctx<'_>) {
    match config_file() {
        None => ctx
            .out
            .error("ERR The server is running without a config file"),
        Some(_) => ctx
            .out
            .error("ERR Rewriting config file: CONFIG REWRITE is not supported by tierd yet"),
    }
}

pub(super) fn help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}
