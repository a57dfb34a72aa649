//! One client's command runner, with or without a socket: runs a parsed command the
//! way Tier must, loading the cold values of its keys first (without blocking other
//! clients), waiting for room when a write finds RAM full, and running it again if a
//! value moved meanwhile. Connections ([`crate::conn`]) and the AOF loader use it.

use crate::client::Client;
use crate::cmd::table::{CommandSpec, Flags};
use crate::cmd::values::ColdValues;
use crate::cmd::OOM_ERROR;
use crate::cmd::{self, Ctx};
use crate::config::Config;
use crate::persist::{self, Appended};
use crate::resp::ReplyWriter;
use crate::shared::Shared;
use bytes::Bytes;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_engine::tier::Tier;

/// How many times a command is run again after missing a cold value that moved
/// between its load and its run (once is the rare case; more means heavy churn).
const MAX_COLD_ATTEMPTS: usize = 16;
/// The longest a write waits for the demoter to bring RAM under `maxmemory` while
/// the demoter is making progress: writes faster than the disk takes demoted values
/// are slowed to its pace rather than refused.
const ROOM_WAIT: Duration = Duration::from_secs(30);
/// How long the demoter must have been unable to make room, with no RAM freed
/// meanwhile, before a write waiting for room is refused.
const STUCK_FOR: Duration = Duration::from_secs(2);
/// The same for a write the AOF loader replays (or a record it loads): refusing it
/// stops the start, so it waits out a slow demoter.
pub(crate) const LOADING_PATIENCE: Duration = Duration::from_secs(30);

/// A client's state and the buffers its commands use.
pub(crate) struct Session<'s> {
    pub(crate) shared: &'s Arc<Shared>,
    pub(crate) client: Client,
    /// The replies, written by handlers, flushed by the owner.
    pub(crate) writer: ReplyWriter,
    /// The command to run: its name, then its arguments.
    pub(crate) args: Vec<Bytes>,
    /// Cold values loaded for the command being run.
    cold: ColdValues,
    /// What the commands run since the replies were last sent appended to the AOF:
    /// the replies wait until the AOF holds it (see [`Session::take_appended`]).
    appended: Appended,
    /// Why a command was answered without running (see [`Session::take_refusal`]).
    refused: Option<String>,
}

impl<'s> Session<'s> {
    pub(crate) fn new(shared: &'s Arc<Shared>, client: Client, writer: ReplyWriter) -> Self {
        Session {
            shared,
            client,
            writer,
            args: Vec::with_capacity(8),
            cold: ColdValues::default(),
            appended: Appended::Nothing,
            refused: None,
        }
    }

    /// The time a command runs at: now, or 0 for the AOF loader (nothing expires
    /// while the log is replayed).
    fn now(&self) -> u64 {
        if self.client.replaying {
            0
        } else {
            tier_engine::now_ms()
        }
    }

    /// What the commands run since the last call appended to the AOF: the owner waits
    /// for it before it sends their replies.
    pub(crate) fn take_appended(&mut self) -> Appended {
        std::mem::take(&mut self.appended)
    }

    /// Runs the parsed command: first loads the cold values of its keys (and waits for
    /// room when a write finds RAM full and the tier can make some), then runs it,
    /// again after loading any cold value it missed (see [`cmd::values`]).
    pub(crate) async fn run_one(&mut self, config: &Config) {
        let now = self.now();
        let started = Instant::now();
        let shared: &'s Shared = self.shared;
        if let Some(tier) = shared.tier.get() {
            let spec = cmd::table::resolve(&self.args).filter(|s| s.arity_ok(self.args.len()));
            if let Some(spec) = spec {
                // The AOF loader waits longer: a replayed write is never dropped
                // because the demoter was slow, only when no room can be made.
                let patience = if self.client.replaying {
                    LOADING_PATIENCE
                } else {
                    STUCK_FOR
                };
                if spec.flags.contains(Flags::DENYOOM)
                    && !wait_for_room(tier, config, patience).await
                {
                    self.refuse(OOM_ERROR.to_owned());
                    return self.account(now, started);
                }
                if !spec.flags.contains(Flags::KEYS_ONLY) {
                    let cold = self.cold_keys(tier, spec, &[]);
                    if !cold.is_empty() && !self.load_cold(tier, &cold).await {
                        return self.account(now, started);
                    }
                }
            }
            // Each attempt runs at the time it runs (the loads took a while, and a key
            // may expire meanwhile); a value that keeps moving is given up on rather
            // than chased forever.
            for attempt in 1.. {
                let mark = self.writer.out.len();
                self.execute(config, self.now());
                let missed = self.cold.take_missed();
                if missed.is_empty() {
                    break;
                }
                self.writer.out.truncate(mark);
                if attempt == MAX_COLD_ATTEMPTS {
                    self.refuse(format!(
                        "ERR the cold value of key '{}' kept moving; try again",
                        String::from_utf8_lossy(&missed[0])
                    ));
                    break;
                }
                // A handler stops at its first miss: load every key of the command
                // that is cold now, not only that one.
                let cold = match spec {
                    Some(spec) => self.cold_keys(tier, spec, &missed),
                    None => missed,
                };
                if !self.load_cold(tier, &cold).await {
                    break;
                }
            }
            self.cold.clear();
        } else {
            self.execute(config, now);
        }
        self.account(now, started);
    }

    /// The keys of the command (by its table entry) whose values are in the cold tier
    /// now, and `also`.
    fn cold_keys(&self, tier: &Tier, spec: &CommandSpec, also: &[Bytes]) -> SmallVec<[Bytes; 1]> {
        let db = self.client.db;
        let mut cold: SmallVec<[Bytes; 1]> = spec
            .keys
            .key_indexes(&self.args)
            .into_iter()
            .map(|i| &self.args[i])
            .filter(|key| tier.is_cold(db, key))
            .cloned()
            .collect();
        for key in also {
            if !cold.contains(key) {
                cold.push(key.clone());
            }
        }
        cold
    }

    /// Reads the cold values of `keys` in the client's database, all at once, for the
    /// command about to run. On a failed read, replies with the error and returns
    /// false: the command does not run.
    async fn load_cold(&mut self, tier: &Tier, keys: &[Bytes]) -> bool {
        let db = self.client.db;
        let reads = keys
            .iter()
            .map(|key| async move { (key, tier.load(db, key).await) });
        for (key, read) in futures_util::future::join_all(reads).await {
            match read {
                Ok(Some((loc, value))) => self.cold.insert(loc, value),
                Ok(None) => {}
                Err(e) => {
                    self.cold.clear();
                    self.refuse(format!(
                        "ERR cold tier read of key '{}' failed: {e}",
                        String::from_utf8_lossy(key)
                    ));
                    return false;
                }
            }
        }
        true
    }

    /// Answers the command with `error` instead of running it, and remembers why
    /// (see [`Session::take_refusal`]).
    fn refuse(&mut self, error: String) {
        self.writer.error(&error);
        self.refused = Some(error);
    }

    /// Why the last commands were answered without running, if one was: the AOF
    /// loader stops there rather than skip a write.
    pub(crate) fn take_refusal(&mut self) -> Option<String> {
        self.refused.take()
    }

    fn execute(&mut self, config: &Config, now: u64) {
        let mut ctx = Ctx {
            args: &self.args,
            out: &mut self.writer,
            client: &mut self.client,
            shared: self.shared,
            config,
            now,
            cold: &mut self.cold,
        };
        cmd::execute(&mut ctx);
        self.appended = self.appended.and(persist::take_appended());
    }

    /// Counts the command and records it in the slow log if it took long.
    fn account(&mut self, now: u64, started: Instant) {
        self.shared.stats.commands_processed.incr();
        let handle = &self.client.handle;
        handle.last_interaction.store(now, Ordering::Relaxed);
        // The thresholds as they are now: a CONFIG SET of them applies to itself.
        let live = self.shared.config.load();
        let micros = started.elapsed().as_micros() as u64;
        if live.slowlog_log_slower_than >= 0
            && micros >= live.slowlog_log_slower_than as u64
            && !self.client.hide_from_slowlog
        {
            self.shared.slowlog.push(
                &self.args,
                micros,
                handle.addr.to_string(),
                handle.name.lock().clone().unwrap_or_default(),
                live.slowlog_max_len as usize,
            );
        }
        self.client.hide_from_slowlog = false;
    }
}

/// A write that finds RAM above `maxmemory` waits while the demoter makes room (at
/// most [`ROOM_WAIT`]); once the demoter, woken for this write, finds nothing more to
/// demote or evict (or the disk is full under `noeviction`), it is refused with -OOM
/// as without a tier. Returns whether there is room: writers that got it at the same
/// moment may overshoot the budget by a command each.
pub(crate) async fn wait_for_room(tier: &Tier, config: &Config, patience: Duration) -> bool {
    let full = || cmd::over_maxmemory(config);
    let deadline = Instant::now() + ROOM_WAIT.max(patience);
    // Since when the demoter has judged it cannot make room, and the RAM in use then.
    let mut stuck: Option<(Instant, usize)> = None;
    loop {
        if !full() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        if tier.can_make_room() {
            stuck = None;
            tier.wake_demoter();
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        // Woken for this write, the demoter judges again.
        let pass = tier.demoter_passes();
        tier.wake_demoter();
        let until = Instant::now() + Duration::from_millis(500);
        while tier.demoter_passes() == pass && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Refused once nothing was freed for a while either: RAM the demoter retired
        // (values it just moved to disk) may still be on its way back.
        let used = tier_engine::memory::used_memory();
        match stuck {
            Some((since, _)) if since.elapsed() >= patience => {
                if stuck.is_some_and(|(_, before)| used >= before) {
                    return false;
                }
                stuck = Some((Instant::now(), used));
            }
            Some(_) => {}
            None => stuck = Some((Instant::now(), used)),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
