//! One client's command runner, with or without a socket: runs a parsed command the
//! way Tier must, loading the cold values of its keys first (without blocking other
//! clients), waiting for room when a write finds RAM full, and running it again if a
//! value moved meanwhile. Connections ([`crate::conn`]) and the AOF loader use it.
//!
//! Scripts (EVAL and friends) run like EXEC: the cold values of their KEYS are loaded,
//! then the script runs holding the keyspace's gate alone, on a thread taken off the
//! async runtime for the while. Other clients never block a thread on the gate: they
//! await it, and once a script has run past `busy-reply-threshold` they are answered
//! `-BUSY` (but for the few commands Redis lets through, such as SCRIPT KILL).
//!
//! A connection that turned `TIER TRACE ON` (RESP3 only) gets the reply of each
//! command that read values from the cold tier preceded by the attribute
//! `|1\r\n+cold\r\n:<n>\r\n`, `n` the values it read from disk: the mark tierbench
//! splits hot and cold reads by. Clients that do not know attributes skip them.

use crate::client::Client;
use crate::cmd::table::{CommandSpec, Flags};
use crate::cmd::values::ColdValues;
use crate::cmd::OOM_ERROR;
use crate::cmd::{self, Ctx};
use crate::config::Config;
use crate::persist::{self, Appended};
use crate::resp::{Protocol, ReplyWriter};
use crate::script::{self, Busy, BUSY_ERROR};
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
/// The longest SCRIPT KILL waits for the script it stopped to let go of the keyspace.
const KILL_WAIT: Duration = Duration::from_secs(1);

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
    /// How many values the command being run read from the cold tier (its loads and
    /// reloads), for the TIER TRACE attribute.
    cold_loaded: usize,
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
            cold_loaded: 0,
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
        if self.refused_while_busy() {
            return;
        }
        if self.client.multi.is_some() {
            let exempt = cmd::runs_inside_multi(&self.args[0]);
            let arity_ok =
                cmd::table::resolve(&self.args).is_some_and(|s| s.arity_ok(self.args.len()));
            if self.args[0].eq_ignore_ascii_case(b"exec") {
                return match arity_ok {
                    true => self.exec(config).await,
                    false => self.abort_exec("wrong number of arguments for 'exec' command"),
                };
            }
            if !exempt || !arity_ok {
                return self.queue(config).await;
            }
        }
        if is_script(&self.args) {
            return self.eval(config).await;
        }
        let now = self.now();
        let started = Instant::now();
        let shared: &'s Shared = self.shared;
        if let Some(tier) = shared.tier.get() {
            let spec = cmd::table::resolve(&self.args).filter(|s| s.arity_ok(self.args.len()));
            if let Some(spec) = spec {
                // The AOF loader waits longer: a replayed write is never dropped
                // because the demoter was slow, only when no room can be made.
                if spec.flags.contains(Flags::DENYOOM)
                    && !wait_for_room(tier, config, self.patience()).await
                {
                    self.refuse(OOM_ERROR.to_owned());
                    return self.account(now, started);
                }
                if !spec.flags.contains(Flags::KEYS_ONLY) {
                    let cold = self.cold_keys(tier, spec, &[]);
                    if !cold.is_empty() && !self.load_cold(tier, self.client.db, &cold).await {
                        return self.account(now, started);
                    }
                }
            }
            // Each attempt runs at the time it runs (the loads took a while, and a key
            // may expire meanwhile); a value that keeps moving is given up on rather
            // than chased forever.
            for attempt in 1.. {
                let mark = self.writer.out.len();
                self.trace_cold_reads();
                if !self.execute_when_open(config).await {
                    break;
                }
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
                if !self.load_cold(tier, self.client.db, &cold).await {
                    break;
                }
            }
            self.cold.clear();
            self.cold_loaded = 0;
        } else {
            self.execute_when_open(config).await;
        }
        self.account(now, started);
    }

    /// EVAL, EVALSHA, EVAL_RO and EVALSHA_RO outside MULTI: loads the cold values of
    /// the script's KEYS, holds the keyspace's gate alone, and runs the script on this
    /// thread taken off the async runtime (a long script keeps one thread, not the
    /// runtime's workers). Its writes are logged inside MULTI ... EXEC, so that a
    /// replay applies all of them or none.
    async fn eval(&mut self, config: &Config) {
        let now = self.now();
        let started = Instant::now();
        // Room first, as for a write: the script's writes are refused with -OOM if RAM
        // is still over `maxmemory` when it starts (Redis's rule for scripts).
        if let Some(tier) = self.shared.tier.get() {
            wait_for_room(tier, config, self.patience()).await;
        }
        let script = [self.args.clone()];
        let Some(_alone) = self.hold_transaction(&script).await else {
            return self.account(now, started);
        };
        persist::begin_transaction();
        let now = self.now();
        off_runtime(|| self.execute(config, now));
        persist::end_transaction(&self.shared.persistence);
        self.appended = self.appended.and(persist::take_appended());
        self.cold.clear();
        self.account(now, started);
    }

    /// `busy-reply-threshold` as it is now.
    fn busy_threshold(&self) -> Duration {
        Duration::from_millis(self.shared.config.load().busy_reply_threshold)
    }

    /// While a script has run past `busy-reply-threshold`, a command Redis does not
    /// let through is answered `-BUSY` (inside MULTI, EXEC will then fail). Returns
    /// whether it was.
    fn refused_while_busy(&mut self) -> bool {
        let busy = matches!(self.shared.scripts.busy(self.busy_threshold()), Busy::Busy);
        if !busy || script::allowed_while_busy(&self.args) {
            return false;
        }
        self.answer_busy();
        if let Some(multi) = &mut self.client.multi {
            multi.aborted = true;
        }
        true
    }

    /// Answers `-BUSY`; to EXEC (in MULTI or not), as Redis: the transaction is
    /// discarded, and the error says why.
    fn answer_busy(&mut self) {
        if self.args[0].eq_ignore_ascii_case(b"exec") {
            self.abort_exec(BUSY_ERROR);
        } else {
            self.writer.error(BUSY_ERROR);
        }
    }

    /// How long to wait for the gate before looking again, while someone holds it
    /// alone; None once a script holding it is busy: the command is then answered
    /// `-BUSY` by the caller (or run at once if Redis lets it through).
    fn gate_wait(&self) -> Option<Duration> {
        match self.shared.scripts.busy(self.busy_threshold()) {
            Busy::Busy => None,
            Busy::Running(left) => Some(left),
            // A transaction: it is short.
            Busy::Idle => Some(Duration::from_millis(10)),
        }
    }

    /// Runs the command once the keyspace's gate lets commands through, awaiting
    /// (not blocking the thread) while a script or a transaction holds it alone. Once
    /// a script holding it is busy, the command is answered `-BUSY`, or run at once,
    /// without the gate, if Redis lets it through (SCRIPT KILL, SHUTDOWN NOSAVE...).
    /// Returns whether it ran.
    async fn execute_when_open(&mut self, config: &Config) -> bool {
        let shared: &'s Shared = self.shared;
        let gate = shared.keyspace.gate();
        loop {
            if let Some(_pass) = gate.try_shared() {
                self.execute(config, self.now());
                return true;
            }
            let Some(wait) = self.gate_wait() else {
                if script::allowed_while_busy(&self.args) {
                    self.execute(config, self.now());
                    // As in Redis, SCRIPT KILL answers once the script has stopped
                    // (at its next look at the kill, moments later).
                    if self.args[0].eq_ignore_ascii_case(b"script") {
                        let stopped = tokio::time::timeout(KILL_WAIT, gate.opened());
                        let _ = stopped.await;
                    }
                    return true;
                }
                self.answer_busy();
                return false;
            };
            tokio::select! {
                () = gate.opened() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Holds the keyspace's gate alone, awaiting (not blocking the thread) while
    /// someone else does. None (answered `-BUSY`) once a script holding it is busy.
    async fn hold_gate(&mut self) -> Option<tier_engine::keyspace::ExclusivePass<'s>> {
        let shared: &'s Shared = self.shared;
        let gate = shared.keyspace.gate();
        loop {
            if !gate.is_closed() {
                // Shared passes are short: waiting for them holds the thread briefly.
                if let Some(alone) = gate.try_exclusive_for(Duration::from_millis(10)) {
                    return Some(alone);
                }
            }
            let Some(wait) = self.gate_wait() else {
                self.answer_busy();
                return None;
            };
            tokio::select! {
                () = gate.opened() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// A command sent inside MULTI: checked as it would run, then queued (`+QUEUED`);
    /// refused, it makes EXEC fail (EXECABORT). Queueing takes memory: above
    /// `maxmemory` (once the tier could not make room) any command is refused.
    async fn queue(&mut self, config: &Config) {
        let shared: &'s Shared = self.shared;
        let admitted = self.with_ctx(config, self.now(), cmd::admit_queued);
        let admitted = admitted && {
            let room = match shared.tier.get() {
                Some(tier) => wait_for_room(tier, config, self.patience()).await,
                None => !cmd::over_maxmemory(config),
            };
            if !room {
                self.writer.error(OOM_ERROR);
            }
            room
        };
        if admitted {
            let args = std::mem::take(&mut self.args);
            self.client.queue(args);
            self.writer.simple("QUEUED");
        } else if let Some(multi) = &mut self.client.multi {
            multi.aborted = true;
        }
    }

    /// EXEC inside MULTI: EXECABORT if a command was refused while queued, a null
    /// reply if a watched key changed; else loads the cold values of every queued
    /// command, then runs them all while holding the keyspace's gate alone (no other
    /// command runs meanwhile, and no value moves), and replies with their replies. A
    /// transaction that changed anything is logged inside MULTI ... EXEC.
    async fn exec(&mut self, config: &Config) {
        let now = self.now();
        let started = Instant::now();
        let shared: &'s Shared = self.shared;
        let queued_with = |flag: Flags| {
            self.client.multi.as_ref().is_some_and(|q| {
                q.commands
                    .iter()
                    .any(|args| cmd::table::resolve(args).is_some_and(|s| s.flags.contains(flag)))
            })
        };
        let (grows, writes) = (queued_with(Flags::DENYOOM), queued_with(Flags::WRITE));
        // Redis refuses such an EXEC, and the transaction with it, above maxmemory or
        // while the AOF cannot be written.
        let room = match (grows, shared.tier.get()) {
            (false, _) => true,
            (true, Some(tier)) => wait_for_room(tier, config, self.patience()).await,
            (true, None) => !cmd::over_maxmemory(config),
        };
        if !room {
            self.abort_exec(OOM_ERROR);
            return self.account(now, started);
        }
        if let Some(refusal) = writes.then(|| shared.persistence.write_refusal()).flatten() {
            self.abort_exec(&refusal);
            return self.account(now, started);
        }
        let broken = self.client.watching.broken(now);
        // The client stays in MULTI for CLIENT LIST until the commands have run.
        self.client.watching.unwatch_all();
        let queued = self.client.multi.take().unwrap_or_default();
        let _ends = EndsMulti(self.client.handle.clone());
        self.client.last_command = "exec";
        if queued.aborted {
            self.writer
                .error("EXECABORT Transaction discarded because of previous errors.");
            return self.account(now, started);
        }
        if broken {
            self.writer.null_array();
            return self.account(now, started);
        }
        let Some(_alone) = self.hold_transaction(&queued.commands).await else {
            return self.account(now, started);
        };
        persist::begin_transaction();
        self.writer.array_len(queued.commands.len());
        // Inside a transaction a blocking command answers as if it timed out.
        self.client.deny_blocking = true;
        self.client.in_exec = true;
        let scripted = queued.commands.iter().any(|args| is_script(args));
        let run_all = || {
            for args in queued.commands {
                self.args = args;
                let now = self.now();
                let mark = self.writer.out.len();
                self.execute(config, now);
                if let Some(key) = self.cold.take_missed().first() {
                    // A key no table entry names was cold: it could not be loaded first.
                    self.writer.out.truncate(mark);
                    self.writer.error(format!(
                        "ERR the value of key '{}' is in the cold tier; run the command \
                         outside MULTI to load it",
                        String::from_utf8_lossy(key)
                    ));
                }
                self.shared.stats.commands_processed.incr();
            }
        };
        // A script may run long: not on a thread of the async runtime.
        match scripted {
            true => off_runtime(run_all),
            false => run_all(),
        }
        self.client.deny_blocking = false;
        self.client.in_exec = false;
        persist::end_transaction(&shared.persistence);
        self.appended = self.appended.and(persist::take_appended());
        self.cold.clear();
        self.account(now, started);
    }

    /// EXEC refused: the transaction is discarded, with `why` (Redis's
    /// `execCommandAbort`).
    fn abort_exec(&mut self, why: &str) {
        self.client.end_multi();
        self.writer
            .error(format!("EXECABORT Transaction discarded because of: {why}"));
    }

    /// Loads the cold values of every key the queued `commands` name (on the database
    /// each runs on: a queued SELECT moves the later ones), then takes the keyspace's
    /// gate alone and returns it, once no named key is cold without its value loaded.
    /// None (with the error written) if a read failed or values kept moving.
    async fn hold_transaction(
        &mut self,
        commands: &[Vec<Bytes>],
    ) -> Option<tier_engine::keyspace::ExclusivePass<'s>> {
        let shared: &'s Shared = self.shared;
        let Some(tier) = shared.tier.get() else {
            return self.hold_gate().await;
        };
        for _ in 0..MAX_COLD_ATTEMPTS {
            let missing = self.unloaded_keys(tier, commands);
            if missing.is_empty() {
                let alone = self.hold_gate().await?;
                // Under the gate nothing moves: what is loaded now stays loaded.
                if self.unloaded_keys(tier, commands).is_empty() {
                    return Some(alone);
                }
                continue;
            }
            for (db, keys) in missing {
                if !self.load_cold(tier, db, &keys).await {
                    return None;
                }
            }
        }
        self.refuse("ERR the cold values of the transaction kept moving; try again".into());
        None
    }

    /// The keys of `commands` that are cold and not loaded, by database. A key is
    /// looked for on the database its command runs on, or on every database if the
    /// transaction swaps some (SWAPDB changes what a number names).
    fn unloaded_keys(&self, tier: &Tier, commands: &[Vec<Bytes>]) -> Vec<(usize, Vec<Bytes>)> {
        let databases = self.shared.keyspace.databases();
        let swaps = commands
            .iter()
            .any(|args| args[0].eq_ignore_ascii_case(b"swapdb"));
        let mut db = self.client.db;
        let mut missing: Vec<(usize, Vec<Bytes>)> = Vec::new();
        for args in commands {
            let Some(spec) = cmd::table::resolve(args) else {
                continue;
            };
            if args[0].eq_ignore_ascii_case(b"select") {
                let n = std::str::from_utf8(&args[1])
                    .ok()
                    .and_then(|n| n.parse().ok());
                if let Some(n) = n.filter(|&n| n < databases) {
                    db = n;
                }
                continue;
            }
            let on = match swaps {
                true => 0..databases,
                false => db..db + 1,
            };
            // Every key, even of a command that reads none (a RENAME moves a cold
            // value to a key a later command reads), and the keys a SORT's patterns
            // read.
            let mut keys: Vec<Bytes> = spec
                .keys
                .key_indexes(args)
                .into_iter()
                .map(|i| args[i].clone())
                .collect();
            if matches!(spec.name, "sort" | "sort_ro") {
                let sorted_db = self.shared.keyspace.db(db);
                keys.extend(cmd::pattern_keys(&sorted_db, args, self.now(), &self.cold));
            }
            for key in &keys {
                for db in on.clone() {
                    let loaded = tier
                        .cold_location(db, key)
                        .is_none_or(|loc| self.cold.has(loc));
                    if !loaded {
                        match missing.iter_mut().find(|(d, _)| *d == db) {
                            Some((_, keys)) => keys.push(key.clone()),
                            None => missing.push((db, vec![key.clone()])),
                        }
                    }
                }
            }
        }
        missing
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
        // `also` may be long (SORT's BY keys), and may repeat keys.
        let mut seen: std::collections::HashSet<Bytes> = cold.iter().cloned().collect();
        for key in also {
            if seen.insert(key.clone()) {
                cold.push(key.clone());
            }
        }
        cold
    }

    /// Reads the cold values of `keys` in the client's database, all at once, for the
    /// command about to run. On a failed read, replies with the error and returns
    /// false: the command does not run.
    async fn load_cold(&mut self, tier: &Tier, db: usize, keys: &[Bytes]) -> bool {
        let reads = keys
            .iter()
            .map(|key| async move { (key, tier.load(db, key).await) });
        for (key, read) in futures_util::future::join_all(reads).await {
            match read {
                Ok(Some((loc, value))) => {
                    self.cold.insert(loc, value);
                    self.cold_loaded += 1;
                }
                Ok(None) => {}
                Err(e) => {
                    self.cold.clear();
                    self.cold_loaded = 0;
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

    /// Writes the TIER TRACE attribute ahead of the reply about to be written, if the
    /// connection asked for it, still speaks RESP3, and the command read values from
    /// the cold tier. A run that is taken back (a value moved) takes it back too.
    fn trace_cold_reads(&mut self) {
        if self.client.trace_cold && self.cold_loaded > 0 && self.writer.proto == Protocol::Resp3 {
            self.writer.attribute_len(1);
            self.writer.simple("cold");
            self.writer.integer(self.cold_loaded as i64);
        }
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

    /// Runs the command, then wakes the clients blocked on the keys it gave a list
    /// to. The caller has passed the keyspace's gate (or holds it alone).
    fn execute(&mut self, config: &Config, now: u64) {
        let shared: &'s Shared = self.shared;
        self.with_ctx(config, now, cmd::execute);
        self.appended = self.appended.and(persist::take_appended());
        shared.keyspace.wake_ready();
    }

    /// Calls `f` with the command's context.
    fn with_ctx<R>(&mut self, config: &Config, now: u64, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            args: &self.args,
            out: &mut self.writer,
            client: &mut self.client,
            shared: self.shared,
            config,
            now,
            cold: &mut self.cold,
        };
        f(&mut ctx)
    }

    /// How long a write waits for room before it is refused (see [`STUCK_FOR`]).
    fn patience(&self) -> Duration {
        if self.client.replaying {
            LOADING_PATIENCE
        } else {
            STUCK_FOR
        }
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

/// Whether `args` is EVAL, EVALSHA, EVAL_RO or EVALSHA_RO with enough arguments.
fn is_script(args: &[Bytes]) -> bool {
    ["eval", "evalsha", "eval_ro", "evalsha_ro"]
        .iter()
        .any(|name| args[0].eq_ignore_ascii_case(name.as_bytes()))
        && args.len() >= 3
}

/// Runs `f` on this thread taken off the async runtime's workers for the while (its
/// other tasks move on to other threads), if it is a multi-threaded runtime's.
fn off_runtime<R>(f: impl FnOnce() -> R) -> R {
    let multi_threaded = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    match multi_threaded {
        true => tokio::task::block_in_place(f),
        false => f(),
    }
}

/// Shows the client out of MULTI (CLIENT LIST) when dropped: once EXEC is done.
struct EndsMulti(Arc<crate::client::ClientHandle>);

impl Drop for EndsMulti {
    fn drop(&mut self) {
        self.0.multi.store(-1, Ordering::Relaxed);
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
