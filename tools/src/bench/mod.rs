//! tierbench, the load generator of `src/bin/tierbench.rs`, in the spirit of fio and
//! memtier: a RESP load of GETs and SETs against tierd or any Redis-compatible server
//! (closed loop, or open loop at a fixed rate), latencies in HdrHistograms, GETs split
//! hot and cold on tierd by TIER TRACE; the raw disk's read latency beside it; and
//! latency-by-percentile plots of the JSON results.
//!
//! - [`spec`]: the flags' values (ratio, key pattern, value sizes, sizes).
//! - [`keys`]: key names, the key patterns, the values.
//! - [`conn`]: one connection (RESP out, frames and TIER TRACE marks in; INFO).
//! - [`run`]: the load, the closed and the open loop.
//! - [`report`]: histograms, the JSON result and the table.
//! - [`device`]: raw 4 KiB random reads of a disk at QD1 and QD32.
//! - [`plot`]: the SVG chart of results.

pub mod conn;
pub mod device;
pub mod keys;
pub mod plot;
pub mod report;
pub mod run;
pub mod spec;
