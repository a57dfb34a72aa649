//! Start-up: loads the dataset while the server already answers (`-LOADING` to most
//! commands), then opens the AOF and hands the keyspace its command log.
//!
//! With `appendonly yes`: the AOF directory's base snapshot, then its increments in
//! order, each command run as a client would run it (cold values loaded, room made by
//! the demoter when RAM is full), at time 0 so that no key expires while the log is
//! replayed (the cron expires them after). A torn last command of the last increment
//! is cut off with a warning if `aof-load-truncated` says so; any other damage stops
//! the start with an error naming the file and the byte. A node that has no AOF yet
//! but a snapshot file loads that, and rewrites the AOF at once so it holds the data.
//! With `appendonly no`: the snapshot file, if there is one. [`load_read_only`]
//! loads the same way into a keyspace of its own, changing no file (offline tools).
//!
//! Files are read on blocking threads; the records and commands they yield are applied
//! by an async task, so the runtime never waits on the disk.

use super::{Aof, ChangeLog};
use crate::client::{Client, Clients};
use crate::cmd;
use crate::config::Config;
use crate::resp::{Protocol, ReplyWriter};
use crate::session::{wait_for_room, Session, LOADING_PATIENCE};
use crate::shared::Shared;
use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tier_engine::aof::{
    AofDir, AofWriter, AofWriterConfig, ReplayLimits, ReplaySummary, StdAofFs, TornTail,
};
use tier_engine::snapshot::{SnapshotReader, SnapshotRecord};
use tokio::sync::mpsc;

/// Records or commands read ahead of the task that applies them: few, since they
/// count in RAM the demoter cannot free (a record may be a large value).
const READ_AHEAD: usize = 16;

/// Loads the dataset (see the module docs), `loading` being on (the server sets it
/// before it listens). On success the keyspace logs its changes (to the AOF with
/// `appendonly yes`) from now on, and `loading` is off.
pub async fn load_at_start(shared: Arc<Shared>) -> anyhow::Result<()> {
    let persistence = &shared.persistence;
    persistence
        .loading_state
        .started_unix
        .store(tier_engine::now_ms() / 1000, Ordering::Relaxed);
    let started = Instant::now();
    let config = shared.config.load_full();
    if config.appendonly {
        load_aof(&shared, &config).await?;
    } else {
        load_dump(&shared, &config).await?;
    }
    let log = Arc::new(ChangeLog::new(shared.persistence.clone()));
    if !shared.keyspace.set_command_log(log) {
        bail!("the keyspace had a command log already");
    }
    persistence.set_loading(false);
    tracing::info!(
        "DB loaded from disk: {} keys, {:.3} seconds",
        shared.keyspace.total_keys(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Loads the AOF directory and opens its writer. An AOF that holds nothing yet,
/// beside a snapshot file that was loaded instead, starts with a copy of that file as
/// its base.
async fn load_aof(shared: &Arc<Shared>, config: &Config) -> anyhow::Result<()> {
    let path = config.aof_path();
    let name = config.appendfilename.clone();
    let dir = tokio::task::spawn_blocking(move || AofDir::open(Arc::new(StdAofFs), path, &name))
        .await??;
    let Replayed {
        dir,
        summary,
        size,
        loaded_from_dump,
    } = replay_aof(shared, config, dir).await?;
    let dir = match summary.torn {
        Some(torn) if config.aof_load_truncated => {
            tokio::task::spawn_blocking(move || dir.truncate_torn_tail(&torn).map(|()| dir))
                .await??
        }
        Some(torn) => bail!(
            "Bad file format reading the append only file {}: it ends inside a command at \
             byte {} (make a backup of it, then set aof-load-truncated yes to cut it there)",
            config.aof_path().join(&torn.name).display(),
            torn.valid_len
        ),
        None => dir,
    };
    let dir = if loaded_from_dump {
        let dump = config.dump_path();
        tracing::info!("Creating AOF base file from {}", dump.display());
        tokio::task::spawn_blocking(move || {
            let mut dir = dir;
            dir.start_from_snapshot(&dump).map(|_| dir)
        })
        .await??
    } else {
        dir
    };
    let writer_config = AofWriterConfig {
        fsync: config.appendfsync,
        ..AofWriterConfig::default()
    };
    let writer = tokio::task::spawn_blocking(move || AofWriter::open(dir, writer_config)).await??;
    shared.persistence.set_aof(Aof::new(writer));
    // A CONFIG SET appendfsync while it opened.
    shared.sync_aof_policy();
    shared.persistence.set_aof_base(size);
    tracing::info!(
        "AOF loaded: {} commands from {}",
        summary.commands,
        config.aof_path().display()
    );
    Ok(())
}

/// Loads what the data dir holds into the keyspace as tierd does at start, but reads
/// only: a torn tail of the last increment is left in place and returned (as much as
/// `aof-load-truncated yes` would keep is loaded), no AOF is opened and no file is
/// created or changed. The keyspace gets no command log. For offline tools
/// (`tierctl snapshot --dir`).
pub async fn load_read_only(shared: &Arc<Shared>) -> anyhow::Result<Option<TornTail>> {
    let config = shared.config.load_full();
    let dir = if config.appendonly {
        let (path, name) = (config.aof_path(), config.appendfilename.clone());
        tokio::task::spawn_blocking(move || AofDir::open_existing(Arc::new(StdAofFs), path, &name))
            .await??
    } else {
        None
    };
    match dir {
        Some(dir) => Ok(replay_aof(shared, &config, dir).await?.summary.torn),
        None => {
            load_dump(shared, &config).await?;
            Ok(None)
        }
    }
}

/// Loads the snapshot file (`dbfilename`), if there is one.
async fn load_dump(shared: &Arc<Shared>, config: &Config) -> anyhow::Result<()> {
    let dump = config.dump_path();
    if dump.exists() {
        load_snapshot(shared, &dump).await?;
    }
    Ok(())
}

/// What [`replay_aof`] went through.
struct Replayed {
    dir: AofDir<StdAofFs>,
    summary: ReplaySummary,
    /// Bytes loaded: the base's and the increments' commands.
    size: u64,
    /// No AOF was there: the snapshot file was loaded instead.
    loaded_from_dump: bool,
}

/// Loads the AOF's base (or, when the AOF is empty, the snapshot file) and replays
/// its increments, up to a torn tail of the last one, which it reports. Reads only.
async fn replay_aof(
    shared: &Arc<Shared>,
    config: &Config,
    dir: AofDir<StdAofFs>,
) -> anyhow::Result<Replayed> {
    let mut loaded_from_dump = false;
    let mut size = 0;
    match dir.manifest().base() {
        Some(base) => {
            let path = dir.path_of(&base.name);
            size += load_snapshot(shared, &path).await?;
        }
        None if dir.manifest().incrs().is_empty() && config.dump_path().exists() => {
            load_snapshot(shared, &config.dump_path()).await?;
            loaded_from_dump = true;
        }
        None => {}
    }
    let limits = ReplayLimits {
        max_bulk_len: config.proto_max_bulk_len,
        ..ReplayLimits::default()
    };
    let (tx, mut rx) = mpsc::channel::<(String, tier_engine::aof::Command)>(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || {
        let summary = dir.replay_incrs(limits, |entry, command| {
            tx.blocking_send((entry.name.clone(), command))
                .map_err(|_| anyhow!("the AOF replay stopped"))
        });
        (dir, summary)
    });
    let mut replayer = Replayer::new(shared, config);
    let mut file = None;
    // A MULTI whose EXEC has not been read yet: where it starts.
    let mut open_multi: Option<(String, u64)> = None;
    while let Some((name, command)) = rx.recv().await {
        if file.as_ref() != Some(&name) {
            // Each increment starts on database 0, as Redis loads them.
            replayer.session.client.set_db(0);
            file = Some(name.clone());
        }
        match &command.args[0] {
            w if w.eq_ignore_ascii_case(b"MULTI") => {
                open_multi = Some((name.clone(), command.offset))
            }
            w if w.eq_ignore_ascii_case(b"EXEC") => open_multi = None,
            _ => {}
        }
        replayer
            .run(command.args, command.len)
            .await
            .with_context(|| {
                format!(
                    "{} at byte {}",
                    config.aof_path().join(&name).display(),
                    command.offset
                )
            })?;
    }
    let (dir, summary) = reader.await?;
    let mut summary = summary?;
    if let Some((name, offset)) = open_multi {
        // A transaction the crash cut short: nothing of it ran (its commands were
        // queued); it is a torn tail from its MULTI on, as Redis reverts it.
        let last = dir.manifest().incrs().last().map(|e| e.name.clone());
        if last.as_ref() != Some(&name) {
            bail!(
                "{}: MULTI at byte {offset} has no EXEC, and a later AOF file follows",
                config.aof_path().join(&name).display()
            );
        }
        let file_len = std::fs::metadata(config.aof_path().join(&name))
            .map(|m| m.len())
            .unwrap_or(offset);
        tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
        summary.torn = Some(TornTail {
            name,
            valid_len: offset,
            file_len,
        });
    }
    size += summary.bytes;
    Ok(Replayed {
        dir,
        summary,
        size,
        loaded_from_dump,
    })
}

/// Runs the commands of the AOF as a client of its own would, at time 0.
struct Replayer<'s> {
    session: Session<'s>,
    config: &'s Config,
}

impl<'s> Replayer<'s> {
    fn new(shared: &'s Arc<Shared>, config: &'s Config) -> Replayer<'s> {
        let mut client = Client::new(Clients::unlisted(shared.acl.default_user().clone()), true);
        client.replaying = true;
        Replayer {
            session: Session::new(shared, client, ReplyWriter::new(Protocol::Resp2)),
            config,
        }
    }

    async fn run(&mut self, args: Vec<Vec<u8>>, len: u64) -> anyhow::Result<()> {
        self.session.args = args.into_iter().map(Bytes::from).collect();
        if cmd::table::resolve(&self.session.args).is_none() {
            let name = String::from_utf8_lossy(&self.session.args[0]).into_owned();
            bail!("Unknown command '{name}' reading the append only file");
        }
        self.session.run_one(self.config).await;
        // Replies go nowhere (an error, e.g. WRONGTYPE, was an error when it first ran
        // too, and changed nothing then either); a command that could not run here
        // (no room, a cold read failed) stops the load: skipping it would lose it.
        self.session.writer.out.clear();
        if let Some(why) = self.session.take_refusal() {
            bail!("cannot replay the command: {why}");
        }
        let progress = &self.session.shared.persistence.loading_state;
        progress.loaded_bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }
}

/// Loads a snapshot file into the keyspace; returns its size.
async fn load_snapshot(shared: &Arc<Shared>, path: &Path) -> anyhow::Result<u64> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = &shared.persistence.loading_state;
    progress.total_bytes.fetch_add(size, Ordering::Relaxed);
    tracing::info!("Loading {} ({size} bytes)", path.display());
    let (tx, mut rx) = mpsc::channel::<SnapshotRecord>(READ_AHEAD);
    let read = Arc::new(AtomicU64::new(0));
    let reader = {
        let (path, read) = (path.to_path_buf(), read.clone());
        tokio::task::spawn_blocking(move || read_records(file, &path, read, tx))
    };
    let config = shared.config.load_full();
    let databases = shared.keyspace.databases();
    let mut loaded_before = 0;
    while let Some(record) = rx.recv().await {
        let db = record.db as usize;
        if db >= databases {
            bail!(
                "{} holds a key of database {db}, but databases is {databases}",
                path.display()
            );
        }
        if let Some(tier) = shared.tier.get() {
            if cmd::over_maxmemory(&config) && !wait_for_room(tier, &config, LOADING_PATIENCE).await
            {
                bail!(
                    "out of memory loading {}: maxmemory is reached and the tier cannot \
                     make room",
                    path.display()
                );
            }
        }
        {
            let guard = tier_engine::pin();
            let db = shared.keyspace.db(db);
            db.lock_key(&record.key, 0, &guard).set(
                &record.key,
                record.value.fitted(&config.limits),
                record.expire_at,
            );
        }
        progress.loaded_keys.fetch_add(1, Ordering::Relaxed);
        let now_read = read.load(Ordering::Relaxed);
        progress
            .loaded_bytes
            .fetch_add(now_read - loaded_before, Ordering::Relaxed);
        loaded_before = now_read;
        key_load_delay(config.key_load_delay).await;
    }
    reader.await??;
    Ok(size)
}

/// `key-load-delay`: waits `delay` µs, or, when it is negative, 1 µs once in `-delay`
/// calls (chosen at random), as Redis's `debugDelay`.
async fn key_load_delay(delay: i64) {
    let micros = match delay {
        0 => return,
        1.. => delay.unsigned_abs(),
        _ => u64::from(rand::random::<u64>().is_multiple_of(delay.unsigned_abs())),
    };
    if micros > 0 {
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }
}

/// The reader thread of [`load_snapshot`]: sends every record, then checks the end.
fn read_records(
    file: File,
    path: &Path,
    read: Arc<AtomicU64>,
    tx: mpsc::Sender<SnapshotRecord>,
) -> anyhow::Result<()> {
    let counting = Counting { inner: file, read };
    let mut reader = SnapshotReader::new(BufReader::with_capacity(1 << 20, counting))
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    while let Some(record) = reader
        .next_record()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?
    {
        if tx.blocking_send(record).is_err() {
            // The loader stopped on an error of its own, which it reports.
            return Ok(());
        }
    }
    Ok(())
}

/// A reader that counts the bytes it read, for the loading progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
