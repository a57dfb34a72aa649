//! `tierd`, the network face of Tier: it accepts RESP2/RESP3 connections, runs each
//! connection's commands in order through the command table, and writes the replies
//! in batches. It owns nothing about storage; the `tier-engine` crate does.
//!
//! - [`server`]: listeners (plain and TLS), accept loops, cron thread, shutdown.
//! - `conn`: one connection's read / parse / write loop.
//! - `session`: running one parsed command (cold loads, waiting for room, retries),
//!   queueing inside MULTI, and EXEC.
//! - [`acl`]: ACL users, their rules, the ACL log and the aclfile.
//! - [`blocking`]: a client blocked on keys (BLPOP...), as its connection waits.
//! - [`multi`]: a client's transaction state (queued commands, watched keys).
//! - [`cmd`]: the command table and the handlers, one file per family.
//! - [`resp`]: the RESP2/RESP3 codec.
//! - [`config`]: redis.conf-style configuration, CONFIG GET/SET.
//! - `num`: numbers as Redis reads and writes them (`string2ll`, `long double`).
//! - [`persist`]: the AOF, snapshots, and loading them at start.
//! - [`pubsub`]: channels, patterns and subscribers' mailboxes.
//! - [`script`]: Lua scripting (the script cache, the Lua state, SCRIPT KILL).
//! - [`tls`]: the TLS listener's configuration, certificate reloads, handshakes.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
mod conn;
pub mod multi;
pub mod num;
pub mod persist;
pub mod pubsub;
pub mod resp;
pub mod script;
pub mod server;
mod session;
pub mod shared;
pub mod slowlog;
pub mod tls;
