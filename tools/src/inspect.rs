//! What a snapshot holds, for `tierctl inspect`: counts and sizes by value type and
//! by database, TTLs (how many, the nearest and farthest expiry), and the biggest
//! keys. Built in one pass over the records; printed as text or serialized as JSON.
//! For a data dir, the same of its AOF base and snapshot file, and its increments'
//! commands by name and sizes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::{self, Display, Write};
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use tier_engine::snapshot::{SnapshotError, SnapshotReader, SnapshotRecord};

use crate::datadir::{DataDir, Increment};
use crate::error::Failure;
use crate::files::read_snapshot;
use crate::text::{list, printable, relative, time};

/// Keys and their sizes in one group (a type, a database, or the whole file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub keys: u64,
    /// Bytes of all key names.
    pub key_bytes: u64,
    /// Bytes of all values (payloads: a string's length).
    pub value_bytes: u64,
    /// Keys with an expiry.
    pub expiring: u64,
}

impl Tally {
    fn add(&mut self, r: &SnapshotRecord) {
        self.keys += 1;
        self.key_bytes += r.key.len() as u64;
        self.value_bytes += r.value.payload_len() as u64;
        self.expiring += u64::from(r.expire_at.is_some());
    }
}

/// One key named in the report: the biggest ones, the nearest and farthest expiries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyInfo {
    pub db: u32,
    /// The key's bytes, printable ASCII as it is and the rest escaped (`\xNN`).
    pub key: String,
    /// The value's type, as `TYPE` names it.
    #[serde(rename = "type")]
    pub value_type: &'static str,
    pub value_bytes: u64,
    /// Absolute expiry, Unix ms.
    pub expire_at_ms: Option<u64>,
}

impl KeyInfo {
    fn of(r: &SnapshotRecord) -> KeyInfo {
        KeyInfo {
            db: r.db,
            key: printable(&r.key),
            value_type: r.value.type_name(),
            value_bytes: r.value.payload_len() as u64,
            expire_at_ms: r.expire_at,
        }
    }
}

/// Everything `tierctl inspect` reports about one snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// When the snapshot was taken, Unix ms.
    pub created_ms: u64,
    pub file_bytes: u64,
    pub chunks: u64,
    /// Uncompressed bytes of the record stream.
    pub raw_bytes: u64,
    pub total: Tally,
    /// By value type name.
    pub types: BTreeMap<&'static str, Tally>,
    pub databases: BTreeMap<u32, Tally>,
    /// Keys whose expiry was already past when the snapshot was taken (strictly, as
    /// Redis: a key expiring at that very ms was still there).
    pub expired_when_taken: u64,
    /// The key that expires first (the first read among equals).
    pub nearest_expiry: Option<KeyInfo>,
    /// The key that expires last (the first read among equals).
    pub farthest_expiry: Option<KeyInfo>,
    /// The biggest values, biggest first (the first read among equals).
    pub biggest: Vec<KeyInfo>,
}

/// Reads the whole snapshot in `input` and reports on it, naming the `top` biggest
/// keys. Fails at the first error in the file, like `verify`.
pub fn inspect<R: Read>(input: R, top: usize) -> Result<Inspection, SnapshotError> {
    let mut reader = SnapshotReader::new(input)?;
    let created_ms = reader.created_ms();
    let mut total = Tally::default();
    let mut types: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut databases: BTreeMap<u32, Tally> = BTreeMap::new();
    let mut expired_when_taken = 0;
    let mut nearest: Option<KeyInfo> = None;
    let mut farthest: Option<KeyInfo> = None;
    // A min-heap of the `top` biggest so far, ranked by size then by reading order
    // (earlier first), so the smallest is the one to drop.
    let mut biggest: BinaryHeap<Reverse<(u64, Reverse<u64>, KeyInfo)>> = BinaryHeap::new();
    let mut seq = 0u64;
    while let Some(r) = reader.next_record()? {
        total.add(&r);
        types.entry(r.value.type_name()).or_default().add(&r);
        databases.entry(r.db).or_default().add(&r);
        if let Some(at) = r.expire_at {
            expired_when_taken += u64::from(at < created_ms);
            if nearest.as_ref().is_none_or(|k| Some(at) < k.expire_at_ms) {
                nearest = Some(KeyInfo::of(&r));
            }
            if farthest.as_ref().is_none_or(|k| Some(at) > k.expire_at_ms) {
                farthest = Some(KeyInfo::of(&r));
            }
        }
        if top > 0 {
            let size = r.value.payload_len() as u64;
            let smallest_kept = biggest.peek().map(|Reverse((s, ..))| *s);
            if biggest.len() < top || smallest_kept.is_some_and(|s| size > s) {
                biggest.push(Reverse((size, Reverse(seq), KeyInfo::of(&r))));
                if biggest.len() > top {
                    biggest.pop();
                }
            }
        }
        seq += 1;
    }
    let summary = reader.summary();
    Ok(Inspection {
        created_ms,
        file_bytes: summary.file_bytes,
        chunks: summary.chunks,
        raw_bytes: summary.raw_bytes,
        total,
        types,
        databases,
        expired_when_taken,
        nearest_expiry: nearest,
        farthest_expiry: farthest,
        biggest: biggest
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((.., key))| key)
            .collect(),
    })
}

impl Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.total;
        writeln!(
            f,
            "taken      {} ({} ms)",
            time(self.created_ms),
            self.created_ms
        )?;
        writeln!(
            f,
            "file       {} bytes, {} chunks, {} bytes uncompressed",
            self.file_bytes, self.chunks, self.raw_bytes
        )?;
        writeln!(
            f,
            "keys       {} ({} bytes of keys, {} bytes of values)",
            t.keys, t.key_bytes, t.value_bytes
        )?;
        writeln!(f)?;
        writeln!(f, "by type")?;
        for (name, tally) in &self.types {
            writeln!(f, "  {name:<12} {}", tally_line(tally))?;
        }
        writeln!(f, "by database")?;
        for (db, tally) in &self.databases {
            writeln!(f, "  {:<12} {}", format!("db{db}"), tally_line(tally))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "expiry     {} keys with a TTL, {} without; {} already expired when taken",
            t.expiring,
            t.keys - t.expiring,
            self.expired_when_taken
        )?;
        for (label, key) in [
            ("nearest", &self.nearest_expiry),
            ("farthest", &self.farthest_expiry),
        ] {
            if let Some(k) = key {
                let at = k.expire_at_ms.unwrap_or_default();
                writeln!(
                    f,
                    "  {label:<8} {} ({} the snapshot): db{} \"{}\"",
                    time(at),
                    relative(at, self.created_ms),
                    k.db,
                    k.key
                )?;
            }
        }
        writeln!(f)?;
        writeln!(f, "biggest {} keys", self.biggest.len())?;
        for (i, k) in self.biggest.iter().enumerate() {
            let mut ttl = String::new();
            if let Some(at) = k.expire_at_ms {
                let _ = write!(ttl, ", expires {}", time(at));
            }
            writeln!(
                f,
                "  {:>3}. {} bytes  {} db{} \"{}\"{ttl}",
                i + 1,
                k.value_bytes,
                k.value_type,
                k.db,
                k.key
            )?;
        }
        Ok(())
    }
}

/// One group's figures on a line.
fn tally_line(t: &Tally) -> String {
    list(&[
        format!("{} keys", t.keys),
        format!("{} key bytes", t.key_bytes),
        format!("{} value bytes", t.value_bytes),
        format!("{} with a TTL", t.expiring),
    ])
}

/// Everything `tierctl inspect DIR` reports about a data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirInspection {
    pub dir: String,
    pub aof: Option<AofInspection>,
    /// The snapshot file (`dump.tsnap`), if there is one.
    pub snapshot: Option<Inspection>,
}

/// The AOF of a data dir: its base and its increments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AofInspection {
    pub manifest: String,
    /// The base snapshot's path, and what it holds.
    pub base_file: Option<String>,
    pub base: Option<Inspection>,
    pub increments: Vec<Increment>,
    /// Over every increment.
    pub commands: u64,
    pub command_bytes: u64,
    pub by_name: BTreeMap<String, u64>,
}

/// Reads the whole data dir `root` and reports on it: the base as for a file
/// ([`inspect`], naming its `top` biggest keys), the increments' commands by name and
/// their sizes, the snapshot file. Fails at the first error, like `verify`.
pub fn inspect_dir(root: &Path, top: usize) -> Result<DirInspection, Failure> {
    let dir = DataDir::open(root)?;
    let aof = match &dir.aof {
        Some(aof) => {
            let base_file = dir.base()?;
            let base = match &base_file {
                Some(path) => Some(read_snapshot(path, |input| inspect(input, top))?),
                None => None,
            };
            let increments = dir.scan_increments()?;
            let mut by_name = BTreeMap::new();
            for incr in &increments {
                for (name, n) in &incr.by_name {
                    *by_name.entry(name.clone()).or_default() += n;
                }
            }
            Some(AofInspection {
                manifest: aof.manifest_path().display().to_string(),
                base_file: base_file.map(|p| p.display().to_string()),
                base,
                commands: increments.iter().map(|i| i.commands).sum(),
                command_bytes: increments.iter().map(|i| i.command_bytes).sum(),
                increments,
                by_name,
            })
        }
        None => None,
    };
    let snapshot = match &dir.dump {
        Some(path) => Some(read_snapshot(path, |input| inspect(input, top))?),
        None => None,
    };
    Ok(DirInspection {
        dir: root.display().to_string(),
        aof,
        snapshot,
    })
}

impl Display for DirInspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.dir)?;
        if let Some(aof) = &self.aof {
            writeln!(f)?;
            writeln!(f, "AOF {}", aof.manifest)?;
            match (&aof.base_file, &aof.base) {
                (Some(file), Some(report)) => {
                    writeln!(f, "base {file}")?;
                    write!(f, "{report}")?;
                }
                _ => writeln!(f, "base none: the increments start from an empty dataset")?,
            }
            writeln!(f)?;
            writeln!(
                f,
                "increments {} ({} commands, {} bytes)",
                aof.increments.len(),
                aof.commands,
                aof.command_bytes
            )?;
            for incr in &aof.increments {
                let torn = if incr.torn {
                    format!(
                        ", torn tail of {} bytes",
                        incr.file_bytes - incr.command_bytes
                    )
                } else {
                    String::new()
                };
                writeln!(
                    f,
                    "  {}  {} bytes, {} commands{torn}",
                    incr.name, incr.file_bytes, incr.commands
                )?;
                writeln!(f, "    {}", counts(&incr.by_name))?;
            }
            writeln!(f, "  all  {}", counts(&aof.by_name))?;
        }
        if let Some(report) = &self.snapshot {
            writeln!(f)?;
            writeln!(f, "snapshot file")?;
            write!(f, "{report}")?;
        }
        Ok(())
    }
}

/// Commands by name on a line, the most frequent first.
fn counts(by_name: &BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<(&String, &u64)> = by_name.iter().collect();
    sorted.sort_by_key(|&(name, n)| (Reverse(*n), name));
    let items: Vec<String> = sorted
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    list(&items)
}
