//! What a run measured: latencies in HdrHistograms ([`Latencies`], nanoseconds, 3
//! significant digits), summed up per series (GET, GET hot, GET cold, SET; or a
//! device's reads) into the JSON result file `tierbench plot` reads back
//! ([`RunResult`]), and printed as a table.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The percentiles of the summary table and the `latency_us` object.
const SUMMARY: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
];

/// Points per decade of 1/(1-p) on a latency-by-percentile curve (50 %, 68 %, 80 %,
/// 87 %, 90 %... as HdrHistogram's plots).
const CURVE_STEPS_PER_DECADE: u32 = 5;

/// The latencies of one kind of request.
#[derive(Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
    errors: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            // 1 ns to an hour: auto-resizing is not needed.
            histogram: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
            errors: 0,
        }
    }
}

impl Latencies {
    /// Records one request that took `latency`.
    pub fn record(&mut self, latency: Duration) {
        let ns = (latency.as_nanos() as u64).clamp(1, self.histogram.high());
        self.histogram.saturating_record(ns);
    }

    /// Counts a request answered with an error (its latency is recorded too).
    pub fn error(&mut self, latency: Duration) {
        self.record(latency);
        self.errors += 1;
    }

    pub fn add(&mut self, other: &Latencies) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms of the same bounds");
        self.errors += other.errors;
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The series `name` of these latencies over `elapsed`.
    pub fn series(&self, name: &str, elapsed: Duration) -> Series {
        let h = &self.histogram;
        let us = |ns: u64| ns as f64 / 1000.0;
        let count = h.len();
        let mut curve = Vec::new();
        if count > 0 {
            // 1/(1-p) = 10^(k/steps) for k = 0, 1, ... while the samples support it.
            for k in 0.. {
                let inverse = 10f64.powf(f64::from(k) / f64::from(CURVE_STEPS_PER_DECADE));
                if inverse > count as f64 {
                    break;
                }
                let percentile = 100.0 * (1.0 - 1.0 / inverse);
                curve.push(Point {
                    percentile,
                    latency_us: us(h.value_at_percentile(percentile)),
                });
            }
            // The slowest request, at the percentile of the last sample.
            curve.push(Point {
                percentile: 100.0 * (1.0 - 1.0 / count as f64),
                latency_us: us(h.max()),
            });
        }
        Series {
            name: name.to_owned(),
            count,
            errors: self.errors,
            ops_per_sec: count as f64 / elapsed.as_secs_f64().max(1e-9),
            latency_us: Summary {
                mean: h.mean() / 1000.0,
                p50: us(h.value_at_percentile(50.0)),
                p90: us(h.value_at_percentile(90.0)),
                p99: us(h.value_at_percentile(99.0)),
                p99_9: us(h.value_at_percentile(99.9)),
                p99_99: us(h.value_at_percentile(99.99)),
                max: us(h.max()),
            },
            curve,
        }
    }
}

/// One measured series: a command (GET, SET), GETs split by TIER TRACE (GET hot,
/// GET cold), or a device's reads at one queue depth.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub name: String,
    /// Requests completed (errors included).
    pub count: u64,
    /// Requests answered with an error.
    pub errors: u64,
    pub ops_per_sec: f64,
    pub latency_us: Summary,
    /// Latency by percentile, from 0 % to the slowest request.
    pub curve: Vec<Point>,
}

/// The summary percentiles, in µs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    #[serde(rename = "p99.99")]
    pub p99_99: f64,
    pub max: f64,
}

impl Summary {
    fn percentiles(&self) -> [f64; 5] {
        [self.p50, self.p90, self.p99, self.p99_9, self.p99_99]
    }
}

/// One point of a latency-by-percentile curve.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub percentile: f64,
    pub latency_us: f64,
}

/// A whole run, as `--json FILE` writes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// The run's name, the curves' legend (`--name`).
    pub name: String,
    /// `server` (a RESP load) or `device` (raw reads of a disk).
    pub kind: String,
    /// `host:port`, or the device run's file.
    pub target: String,
    /// The settings of the run, as `flag: value`.
    pub settings: BTreeMap<String, String>,
    pub elapsed_secs: f64,
    pub series: Vec<Series>,
    /// What the server's INFO says changed over the run (server runs).
    pub server: Option<ServerCounts>,
}

/// The server's side of a run, from INFO before and after it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServerCounts {
    /// tierd (INFO has `tier_enabled`), or another Redis-compatible server.
    pub tierd: bool,
    /// Whether the GETs were split by TIER TRACE.
    pub traced: bool,
    /// INFO deltas over the run: `total_commands_processed`, `keyspace_hits`,
    /// `keyspace_misses` and, on tierd, `cold_reads`.
    pub commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub cold_reads: Option<u64>,
    /// The cold values the traced replies counted (None: not traced).
    pub traced_cold_values: Option<u64>,
}

impl RunResult {
    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

impl fmt::Display for RunResult {
    /// The run as a table: one line per series, then the server's counts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if self.name != self.target {
            write!(f, " ({})", self.target)?;
        }
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(f, ": {:.2} s; {}", self.elapsed_secs, settings.join(", "))?;
        let mut header = format!("{:<10} {:>10} {:>10}", "", "count", "ops/s");
        for (name, _) in SUMMARY {
            let _ = write!(header, " {:>9}", name);
        }
        writeln!(
            f,
            "{header} {:>9} {:>7}   (latencies in µs)",
            "max", "errors"
        )?;
        for s in &self.series {
            let mut line = format!("{:<10} {:>10} {:>10.0}", s.name, s.count, s.ops_per_sec);
            for p in s.latency_us.percentiles() {
                let _ = write!(line, " {:>9.1}", p);
            }
            writeln!(f, "{line} {:>9.1} {:>7}", s.latency_us.max, s.errors)?;
        }
        if let Some(server) = &self.server {
            write!(
                f,
                "server INFO over the run: total_commands_processed +{}, keyspace_hits +{}, keyspace_misses +{}",
                server.commands_processed, server.keyspace_hits, server.keyspace_misses
            )?;
            if let Some(reads) = server.cold_reads {
                write!(f, ", cold_reads +{reads}")?;
            }
            writeln!(f)?;
            match (server.cold_reads, server.traced_cold_values) {
                (Some(reads), Some(traced)) => writeln!(
                    f,
                    "cold values read by the traced replies: {traced}, {} INFO's cold_reads",
                    if traced == reads {
                        "the same as"
                    } else {
                        "NOT the same as (tierd read cold values for something else \
                         meanwhile: an AOF rewrite, a snapshot, other clients)"
                    }
                )?,
                (_, None) if !server.tierd => {
                    writeln!(f, "not tierd (no TIER TRACE): GETs are not split hot/cold")?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_sum_up_a_histogram() {
        let mut lat = Latencies::default();
        for us in 1..=1000u64 {
            lat.record(Duration::from_micros(us));
        }
        lat.error(Duration::from_micros(5000));
        let s = lat.series("GET", Duration::from_secs(2));
        assert_eq!((s.count, s.errors), (1001, 1));
        assert!((s.ops_per_sec - 500.5).abs() < 1e-9);
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(near(s.latency_us.p50, 501.0), "{:?}", s.latency_us);
        assert!(near(s.latency_us.p99, 991.0), "{:?}", s.latency_us);
        assert!(near(s.latency_us.max, 5000.0), "{:?}", s.latency_us);
        // The curve rises, starts at 0 % and ends at the slowest request.
        assert_eq!(s.curve[0].percentile, 0.0);
        assert!(s
            .curve
            .windows(2)
            .all(|w| w[0].percentile < w[1].percentile && w[0].latency_us <= w[1].latency_us));
        assert_eq!(s.curve.last().map(|p| p.latency_us), Some(s.latency_us.max));
        let mut merged = Latencies::default();
        merged.add(&lat);
        merged.add(&lat);
        assert_eq!(merged.series("x", Duration::from_secs(1)).errors, 2);
    }
}
