//! The engine's crash model: random writes to a keyspace whose changes reach an AOF
//! (through the keyspace's command log, as in tierd), with rewrites running beside
//! them, over a simulated file system that loses power at a random operation. A
//! restart from what the disk kept (the base snapshot, then the increments with a torn
//! tail cut off) must give the state a model of the keyspace had at some point no
//! earlier than the last write reported durable: under `appendfsync always`, every
//! acknowledged write is there.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use parking_lot::Mutex;
use proptest::prelude::*;

use tier_engine::aof::{
    AofDir, AofError, AofFs, AofLog, AofWriter, AofWriterConfig, FsyncPolicy, Lsn, ReplayLimits,
    SimAofFs,
};
use tier_engine::keyspace::log::run_command;
use tier_engine::keyspace::CommandLog;
use tier_engine::snapshot::{rewrite_aof, SnapshotReader};
use tier_engine::{Keyspace, Value};

const DIR: &str = "/data/appendonlydir";
const NAME: &str = "appendonly.aof";
const DATABASES: usize = 3;
const KEYS: u8 = 6;

/// Deadlines lie an hour or more ahead, so nothing expires while a case runs.
fn deadline(offset: u16) -> u64 {
    tier_engine::now_ms() + 3_600_000 + u64::from(offset)
}

#[derive(Debug, Clone)]
enum Op {
    Set {
        db: usize,
        key: u8,
        value: u16,
        ttl: Option<u16>,
    },
    Del {
        db: usize,
        key: u8,
    },
    Expire {
        db: usize,
        key: u8,
        ttl: u16,
    },
    Persist {
        db: usize,
        key: u8,
    },
    FlushDb {
        db: usize,
    },
    /// Starts a rewrite on a thread of its own, unless one runs.
    Rewrite,
    /// Waits for an fsync covering every write so far.
    Durable,
}

fn op() -> impl Strategy<Value = Op> {
    let db = 0..DATABASES;
    let key = 0..KEYS;
    prop_oneof![
        12 => (db.clone(), key.clone(), any::<u16>(), proptest::option::of(any::<u16>()))
            .prop_map(|(db, key, value, ttl)| Op::Set { db, key, value, ttl }),
        4 => (db.clone(), key.clone()).prop_map(|(db, key)| Op::Del { db, key }),
        2 => (db.clone(), key.clone(), any::<u16>())
            .prop_map(|(db, key, ttl)| Op::Expire { db, key, ttl }),
        1 => (db.clone(), key).prop_map(|(db, key)| Op::Persist { db, key }),
        1 => db.prop_map(|db| Op::FlushDb { db }),
        2 => Just(Op::Rewrite),
        2 => Just(Op::Durable),
    ]
}

fn policy() -> impl Strategy<Value = FsyncPolicy> {
    proptest::sample::select(&FsyncPolicy::ALL[..])
}

/// The writer as tierd runs it (its background fsync, a second apart, rarely comes
/// within a case: what is durable is what `Durable` waits for).
fn writer_config(fsync: FsyncPolicy) -> AofWriterConfig {
    AofWriterConfig {
        fsync,
        ..AofWriterConfig::default()
    }
}

/// Every key of every database: its value and deadline.
type State = BTreeMap<(usize, Vec<u8>), (Vec<u8>, Option<u64>)>;

fn key_name(key: u8) -> Vec<u8> {
    format!("key:{key}").into_bytes()
}

/// The keyspace's command log: the AOF, and what the last append returned.
struct Log {
    aof: AofLog<SimAofFs>,
    last: Mutex<Option<Result<Lsn, AofError>>>,
}

impl CommandLog for Log {
    fn append(&self, db: usize, args: &[&[u8]]) {
        *self.last.lock() = Some(self.aof.append(db, args));
    }
}

impl Log {
    /// What the last command appended, if it appended anything.
    fn take(&self) -> Option<Result<Lsn, AofError>> {
        self.last.lock().take()
    }
}

/// Runs the command `args` on database `db` of `keyspace` (`SELECT` changes the
/// database of the commands after it): the keyspace logs it if it changes anything.
fn apply(keyspace: &Keyspace, db: &mut usize, args: &[Vec<u8>]) {
    let name = args[0].to_ascii_uppercase();
    let number = |arg: &[u8]| -> u64 {
        std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a number: {arg:?}"))
    };
    if name == b"SELECT" {
        *db = number(&args[1]) as usize;
        return;
    }
    let words: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let guard = tier_engine::pin();
    let database = keyspace.db(*db);
    let now = tier_engine::now_ms();
    run_command(&words, || match &name[..] {
        b"SET" => {
            let expire_at = match args.get(3) {
                Some(option) if option.eq_ignore_ascii_case(b"PXAT") => Some(number(&args[4])),
                None => None,
                Some(option) => panic!("SET option {option:?}"),
            };
            database.lock_key(&args[1], now, &guard).set(
                &args[1],
                Value::string(&args[2]),
                expire_at,
            );
        }
        b"DEL" => {
            database.lock_key(&args[1], now, &guard).remove(&args[1]);
        }
        b"PEXPIREAT" => {
            let at = number(&args[2]);
            database
                .lock_key(&args[1], now, &guard)
                .set_expire(&args[1], Some(at));
        }
        b"PERSIST" => {
            let mut txn = database.lock_key(&args[1], now, &guard);
            if txn.get(&args[1]).is_some_and(|e| e.expire_at().is_some()) {
                txn.set_expire(&args[1], None);
            }
        }
        b"FLUSHDB" => database.flush(),
        other => panic!("no such command in the model: {other:?}"),
    });
}

/// The command an op runs, or `None` for the ops that are not commands.
fn command_of(op: &Op) -> Option<(usize, Vec<Vec<u8>>)> {
    let words = |db: usize, words: Vec<Vec<u8>>| Some((db, words));
    match *op {
        Op::Set {
            db,
            key,
            value,
            ttl,
        } => {
            let mut args = vec![
                b"SET".to_vec(),
                key_name(key),
                value.to_string().into_bytes(),
            ];
            if let Some(ttl) = ttl {
                args.push(b"PXAT".to_vec());
                args.push(deadline(ttl).to_string().into_bytes());
            }
            words(db, args)
        }
        Op::Del { db, key } => words(db, vec![b"DEL".to_vec(), key_name(key)]),
        Op::Expire { db, key, ttl } => words(
            db,
            vec![
                b"PEXPIREAT".to_vec(),
                key_name(key),
                deadline(ttl).to_string().into_bytes(),
            ],
        ),
        Op::Persist { db, key } => words(db, vec![b"PERSIST".to_vec(), key_name(key)]),
        Op::FlushDb { db } => words(db, vec![b"FLUSHDB".to_vec()]),
        Op::Rewrite | Op::Durable => None,
    }
}

/// The state of every model key in `keyspace`.
fn state_of(keyspace: &Keyspace) -> State {
    let guard = tier_engine::pin();
    let now = tier_engine::now_ms();
    let mut state = State::new();
    for db in 0..DATABASES {
        for key in 0..KEYS {
            let name = key_name(key);
            if let Some(entry) = keyspace.db(db).get(&name, now, &guard) {
                let Some(Value::Str(bytes)) = entry.hot() else {
                    panic!("a model value is not a hot string");
                };
                state.insert((db, name), (bytes.to_vec(), entry.expire_at()));
            }
        }
    }
    state
}

/// What a run did: the state after every write that reached the AOF, with the
/// position it reached, and how many of them were reported durable.
struct History {
    /// `states[0]` is the empty keyspace; `states[i]` follows the `i`th logged write.
    states: Vec<State>,
    lsns: Vec<Lsn>,
    /// `states[guaranteed]` or a later one must survive.
    guaranteed: usize,
}

impl History {
    /// Everything up to `lsn` is durable.
    fn durable_upto(&mut self, lsn: Lsn) {
        let covered = self.lsns.iter().take_while(|&&l| l <= lsn).count();
        self.guaranteed = self.guaranteed.max(covered - 1);
    }
}

/// Runs `ops` on a fresh keyspace logged to an AOF over `fs` until they end or a
/// write cannot be logged (the node would refuse writes from then on).
fn run(
    fs: &Arc<SimAofFs>,
    fsync: FsyncPolicy,
    ops: &[Op],
    power_off_after: Option<(usize, u64)>,
) -> History {
    let mut history = History {
        states: vec![State::new()],
        lsns: vec![0],
        guaranteed: 0,
    };
    let Ok(dir) = AofDir::open(Arc::clone(fs), DIR, NAME) else {
        return history;
    };
    let Ok(writer) = AofWriter::open(dir, writer_config(fsync)) else {
        return history;
    };
    let log = Arc::new(Log {
        aof: AofLog::new(writer),
        last: Mutex::new(None),
    });
    let keyspace = Keyspace::new(DATABASES);
    assert!(keyspace.set_command_log(log.clone()));
    thread::scope(|scope| {
        let mut rewriting: Option<thread::ScopedJoinHandle<'_, ()>> = None;
        for (i, op) in ops.iter().enumerate() {
            if let Some((db, args)) = command_of(op) {
                apply(&keyspace, &mut db.clone(), &args);
                match log.take() {
                    None => {}
                    Some(Ok(lsn)) => {
                        history.states.push(state_of(&keyspace));
                        history.lsns.push(lsn);
                        let acked = log.aof.writer.acked(lsn).wait().is_ok();
                        if acked && fsync == FsyncPolicy::Always {
                            history.durable_upto(lsn);
                        }
                    }
                    Some(Err(_)) => break,
                }
            }
            match op {
                Op::Rewrite if rewriting.as_ref().is_none_or(|r| r.is_finished()) => {
                    let (keyspace, log) = (&keyspace, &log);
                    rewriting = Some(scope.spawn(move || {
                        let _ = rewrite_aof(keyspace, None, &log.aof);
                    }));
                }
                Op::Durable => {
                    let lsn = *history.lsns.last().expect("never empty");
                    if log.aof.writer.durable(lsn).wait().is_ok() {
                        history.durable_upto(lsn);
                    }
                }
                _ => {}
            }
            if let Some((_, seed)) = power_off_after.filter(|&(after, _)| after == i) {
                fs.power_loss_after(0, seed);
            }
        }
        // What the writer reports durable at the end is promised too.
        if !fs.has_lost_power() {
            history.durable_upto(log.aof.status().durable);
        }
    });
    history
}

/// A restart from `fs`: the base, then the increments (a torn tail cut off), into a
/// fresh keyspace. Returns its state.
fn recover(fs: &Arc<SimAofFs>) -> State {
    let keyspace = Keyspace::new(DATABASES);
    let dir = AofDir::open(Arc::clone(fs), DIR, NAME).expect("the manifest loads");
    if let Some(base) = dir.manifest().base() {
        let path = dir.path_of(&base.name);
        load_base(&keyspace, fs, &path);
    }
    let mut db = 0;
    let mut file = None;
    let summary = dir
        .replay_incrs(ReplayLimits::default(), |entry, command| {
            if file.as_ref() != Some(&entry.name) {
                // Each increment starts on database 0.
                db = 0;
                file = Some(entry.name.clone());
            }
            apply(&keyspace, &mut db, &command.args);
            Ok::<_, AofError>(())
        })
        .expect("the increments replay");
    if let Some(torn) = summary.torn {
        dir.truncate_torn_tail(&torn).expect("the torn tail is cut");
    }
    state_of(&keyspace)
}

fn load_base(keyspace: &Keyspace, fs: &SimAofFs, path: &Path) {
    let input = fs.open_read(path).expect("the base is there");
    let mut reader = SnapshotReader::new(input).expect("the base's header is sound");
    let guard = tier_engine::pin();
    while let Some(record) = reader.next_record().expect("the base is sound") {
        keyspace
            .db(record.db as usize)
            .lock_key(&record.key, 0, &guard)
            .set(&record.key, record.value, record.expire_at);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        // A test file of its own: proptest would look for lib.rs to save failures by.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_restart_after_a_power_cut_finds_a_state_no_older_than_the_last_durable_write(
        fsync in policy(),
        ops in proptest::collection::vec(op(), 1..50),
        power_loss_at in proptest::option::of(1u64..150),
        power_off_after in proptest::option::of(0usize..50),
        slow_sync in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let fs = SimAofFs::for_crash_test(slow_sync, power_loss_at, seed);
        let history = run(&fs, fsync, &ops, power_off_after.map(|i| (i, seed)));
        let image = Arc::new(fs.crash(seed));
        let recovered = recover(&image);
        let matches: Vec<usize> = (0..history.states.len())
            .filter(|&i| history.states[i] == recovered)
            .collect();
        prop_assert!(
            matches.iter().any(|&i| i >= history.guaranteed),
            "the recovered state {recovered:?} is the state after writes {matches:?}, \
             but {} writes were reported durable (of {})",
            history.guaranteed,
            history.states.len() - 1
        );
    }
}
