//! A tierd data dir as `tierctl` reads it, never changing it: the AOF directory
//! (`appendonlydir/`: its manifest, base snapshot and increments) and the snapshot
//! file (`dump.tsnap`), under tierd's default names. [`DataDir::scan_increments`]
//! reads every command of every increment as tierd's replay would, and counts them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tier_engine::aof::{AofDir, ReplayLimits, StdAofFs};
use tier_server::cmd::table;
use tier_server::config::Config;

use crate::error::Failure;
use crate::progress;
use crate::text::printable;

/// A data dir: the AOF when its manifest is there, the snapshot file when it is.
pub struct DataDir {
    /// tierd's configuration for this dir, every other option at its default.
    pub config: Config,
    pub aof: Option<AofDir<StdAofFs>>,
    pub dump: Option<PathBuf>,
}

/// One increment of the AOF, read through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Increment {
    pub name: String,
    pub seq: u64,
    /// The file's length.
    pub file_bytes: u64,
    pub commands: u64,
    /// Bytes of the whole commands: the file's length but for a torn tail.
    pub command_bytes: u64,
    /// Commands by name, upper case.
    pub by_name: BTreeMap<String, u64>,
    /// The file ends inside a command (only the last increment may): tierd cuts it at
    /// `command_bytes` with `aof-load-truncated yes`.
    pub torn: bool,
}

impl DataDir {
    /// Opens the data dir `root` (reading its AOF manifest if it has one). Fails when
    /// the manifest is not sound, and when `root` holds neither an AOF nor a snapshot
    /// file.
    pub fn open(root: &Path) -> Result<DataDir, Failure> {
        let config = Config {
            dir: root.to_path_buf(),
            ..Config::default()
        };
        let aof = AofDir::open_existing(
            Arc::new(StdAofFs),
            config.aof_path(),
            &config.appendfilename,
        )?;
        let dump = Some(config.dump_path()).filter(|p| p.is_file());
        if aof.is_none() && dump.is_none() {
            return Err(Failure::Io(format!(
                "{}: not a tierd data dir: there is no {} and no {}",
                root.display(),
                Path::new(&config.appenddirname)
                    .join(format!("{}.manifest", config.appendfilename))
                    .display(),
                config.dbfilename
            )));
        }
        Ok(DataDir { config, aof, dump })
    }

    /// The AOF's base snapshot, if the manifest names one. A base the manifest names
    /// that is not there is corruption: tierd would not start.
    pub fn base(&self) -> Result<Option<PathBuf>, Failure> {
        let Some(aof) = &self.aof else {
            return Ok(None);
        };
        let Some(base) = aof.manifest().base() else {
            return Ok(None);
        };
        let path = aof.path_of(&base.name);
        std::fs::metadata(&path).map_err(|e| Failure::listed(&path, e))?;
        Ok(Some(path))
    }

    /// Reads every command of every increment, in manifest order, as tierd replays
    /// them: each must parse, and name a command tierd knows. A torn tail of the last
    /// increment is reported in its [`Increment::torn`]; anything else wrong fails,
    /// naming the file and the byte offset.
    pub fn scan_increments(&self) -> Result<Vec<Increment>, Failure> {
        let Some(aof) = &self.aof else {
            return Ok(Vec::new());
        };
        let mut increments = Vec::new();
        for entry in aof.manifest().incrs() {
            let path = aof.path_of(&entry.name);
            let file_bytes = std::fs::metadata(&path)
                .map_err(|e| Failure::listed(&path, e))?
                .len();
            increments.push(Increment {
                name: entry.name.clone(),
                seq: entry.seq,
                file_bytes,
                commands: 0,
                command_bytes: 0,
                by_name: BTreeMap::new(),
                torn: false,
            });
        }
        let total = increments.iter().map(|i| i.file_bytes).sum();
        let bar = progress::bar(Some(total), "increments");
        let limits = ReplayLimits {
            max_bulk_len: self.config.proto_max_bulk_len,
            ..ReplayLimits::default()
        };
        let mut at = 0;
        let summary = aof.replay_incrs(limits, |entry, command| {
            while increments[at].name != entry.name {
                at += 1;
            }
            let args: Vec<Bytes> = command.args.into_iter().map(Bytes::from).collect();
            if table::resolve(&args).is_none() {
                return Err(Failure::Corrupt(format!(
                    "{}: corrupt at byte {}: unknown command \"{}\" (tierd refuses to load it)",
                    aof.path_of(&entry.name).display(),
                    command.offset,
                    printable(&args[0])
                )));
            }
            let increment = &mut increments[at];
            increment.commands += 1;
            increment.command_bytes += command.len;
            let name = String::from_utf8_lossy(&args[0]).to_uppercase();
            *increment.by_name.entry(name).or_default() += 1;
            bar.inc(command.len);
            Ok(())
        });
        bar.finish_and_clear();
        if let Some(torn) = summary?.torn {
            let last = increments
                .last_mut()
                .expect("a torn tail is in an increment");
            debug_assert_eq!(last.name, torn.name);
            last.torn = true;
        }
        Ok(increments)
    }
}
