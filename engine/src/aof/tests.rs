//! The crash suite: random sequences of appends, waits, rotations and rewrites (a new
//! base installed in the manifest) run on a [`SimAofFs`] that loses power at a random
//! operation, or after the last one; a restart from what the disk kept (load the
//! manifest, read the base, replay the increments, cut a torn tail off) must give a
//! prefix of what was appended that holds every append a wait reported durable — for
//! `always`, every acknowledged one — and must accept new appends after it.

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const DIR: &str = "/data/appendonlydir";
const NAME: &str = "appendonly.aof";

type Args = Vec<Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    /// Appends a command of `len` value bytes.
    Append { len: u8 },
    /// Waits for the acknowledgment of the last append.
    Acked,
    /// Waits for an fsync covering the last append.
    Durable,
    /// Opens the next increment.
    Rotate,
    /// Rotates, writes a base holding every command before the cut, installs it.
    Rewrite,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => any::<u8>().prop_map(|len| Op::Append { len }),
        3 => Just(Op::Acked),
        2 => Just(Op::Durable),
        1 => Just(Op::Rotate),
        1 => Just(Op::Rewrite),
    ]
}

fn policy() -> impl Strategy<Value = FsyncPolicy> {
    proptest::sample::select(&FsyncPolicy::ALL[..])
}

fn config(fsync: FsyncPolicy) -> AofWriterConfig {
    AofWriterConfig {
        fsync,
        fsync_interval: Duration::from_millis(3),
        max_unsynced: Duration::from_millis(50),
    }
}

/// The `n`th command of a run: a SET of a key of its own.
fn command(n: usize, len: u8) -> Args {
    vec![
        b"SET".to_vec(),
        format!("key:{n}").into_bytes(),
        vec![b'v'; usize::from(len)],
    ]
}

fn encode(args: &Args) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(args, &mut out);
    out
}

/// What a run appended, and how much of it a wait reported durable.
#[derive(Default)]
struct Log {
    commands: Vec<Args>,
    /// The LSN each command ends at.
    lsns: Vec<Lsn>,
    /// The first `guaranteed` commands must survive a crash.
    guaranteed: usize,
}

/// Runs `ops` on a writer over `fs` until they end (operations that fail because the
/// power went are part of the run); the power goes right after op number
/// `power_off_after` if it is given.
fn run(
    fs: &Arc<SimAofFs>,
    fsync: FsyncPolicy,
    ops: &[Op],
    power_off_after: Option<(usize, u64)>,
) -> (Log, Option<AofWriter<SimAofFs>>) {
    let mut log = Log::default();
    let Ok(dir) = AofDir::open(Arc::clone(fs), DIR, NAME) else {
        return (log, None);
    };
    let Ok(writer) = AofWriter::open(dir, config(fsync)) else {
        return (log, None);
    };
    for (i, op) in ops.iter().enumerate() {
        if power_off_after.is_some_and(|(after, _)| after < i) {
            break;
        }
        match *op {
            Op::Append { len } => {
                let args = command(log.commands.len(), len);
                if let Ok(lsn) = writer.append(&encode(&args)) {
                    log.commands.push(args);
                    log.lsns.push(lsn);
                }
            }
            Op::Acked | Op::Durable => {
                let Some(&lsn) = log.lsns.last() else {
                    continue;
                };
                let (result, promises) = if matches!(op, Op::Acked) {
                    (writer.acked(lsn).wait(), fsync == FsyncPolicy::Always)
                } else {
                    (writer.durable(lsn).wait(), true)
                };
                if result.is_ok() && promises {
                    log.guaranteed = log.commands.len();
                }
            }
            Op::Rotate => {
                if let Ok(rotation) = writer.rotate() {
                    let _ = rotation.wait();
                }
            }
            Op::Rewrite => rewrite(fs, &writer, &log),
        }
        if let Some((_, seed)) = power_off_after.filter(|&(after, _)| after == i) {
            fs.power_loss_after(0, seed);
        }
    }
    (log, Some(writer))
}

/// A rewrite with a "snapshot" that is the commands before the cut, in RESP.
fn rewrite(fs: &SimAofFs, writer: &AofWriter<SimAofFs>, log: &Log) {
    let Ok(rotation) = writer.rotate() else {
        return;
    };
    let Ok(rotated) = rotation.wait() else {
        return;
    };
    let before_cut = log
        .lsns
        .iter()
        .take_while(|&&lsn| lsn <= rotated.cut)
        .count();
    let snapshot: Vec<u8> = log.commands[..before_cut].iter().flat_map(encode).collect();
    let Ok((base, path)) = writer.next_base() else {
        return;
    };
    let written = fs.create(&path).and_then(|file| {
        fs.append(&file, &snapshot)?;
        fs.sync_data(&file)
    });
    if written.is_ok() {
        let _ = writer.install_base(base, rotated.incr.seq);
    }
}

/// Every command of `text`, which must be whole commands.
fn parse_whole(text: Vec<u8>, name: &str) -> Vec<Args> {
    let mut reader = CommandReader::new(&text[..], name, ReplayLimits::default());
    let mut commands = Vec::new();
    loop {
        match reader.read_command().unwrap() {
            Parsed::Command(command) => commands.push(command.args),
            Parsed::End => return commands,
            torn => panic!("the base {name} is torn: {torn:?}"),
        }
    }
}

/// A restart from `fs`: the manifest, the base, the increments with a torn tail cut
/// off. Returns the commands and the directory.
fn recover(fs: &Arc<SimAofFs>) -> (Vec<Args>, AofDir<SimAofFs>) {
    let dir = AofDir::open(Arc::clone(fs), DIR, NAME).expect("the manifest loads");
    let mut commands = match dir.manifest().base() {
        Some(base) => {
            let path = dir.path_of(&base.name);
            let text = fs.contents(&path).expect("the base exists");
            parse_whole(text, &base.name)
        }
        None => Vec::new(),
    };
    let summary = dir
        .replay_incrs(ReplayLimits::default(), |_, command| {
            commands.push(command.args);
            Ok::<_, AofError>(())
        })
        .expect("the increments replay");
    if let Some(torn) = summary.torn {
        dir.truncate_torn_tail(&torn).unwrap();
        let again = dir
            .replay_incrs(ReplayLimits::default(), |_, _| Ok::<_, AofError>(()))
            .unwrap();
        assert_eq!(again.torn, None, "the cut left a whole last increment");
    }
    (commands, dir)
}

/// Checks the restart's commands against what was appended and promised durable.
fn check(recovered: &[Args], log: &Log) -> Result<(), TestCaseError> {
    prop_assert!(
        recovered.len() <= log.commands.len(),
        "{} commands recovered, {} appended",
        recovered.len(),
        log.commands.len()
    );
    prop_assert!(
        recovered == &log.commands[..recovered.len()],
        "the recovered commands are not a prefix of the appended ones"
    );
    prop_assert!(
        recovered.len() >= log.guaranteed,
        "{} commands recovered, {} were reported durable",
        recovered.len(),
        log.guaranteed
    );
    Ok(())
}

/// The restarted node appends after what it recovered, and a second restart finds
/// both.
fn restart_appends(fs: &Arc<SimAofFs>, dir: AofDir<SimAofFs>, recovered: &[Args]) {
    let writer = AofWriter::open(dir, config(FsyncPolicy::Always)).unwrap();
    let extra = command(usize::MAX, 3);
    writer
        .acked(writer.append(&encode(&extra)).unwrap())
        .wait()
        .unwrap();
    writer.close().unwrap();
    let (again, _) = recover(&Arc::new(fs.crash(0)));
    assert_eq!(again.len(), recovered.len() + 1);
    assert_eq!(&again[..recovered.len()], recovered);
    assert_eq!(again.last(), Some(&extra));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_crash_anywhere_keeps_a_prefix_with_everything_reported_durable(
        fsync in policy(),
        ops in proptest::collection::vec(op(), 1..60),
        power_loss_at in proptest::option::of(1u64..200),
        power_off_after in proptest::option::of(0usize..60),
        close_first in any::<bool>(),
        slow_sync in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let fs = SimAofFs::for_crash_test(slow_sync, power_loss_at, seed);
        let (mut log, writer) = run(&fs, fsync, &ops, power_off_after.map(|i| (i, seed)));
        if let Some(writer) = writer {
            if close_first && writer.close().is_ok() {
                // A clean close makes everything durable.
                log.guaranteed = log.commands.len();
            }
        }
        // The writer may still be running (dropped below): the image is the disk at
        // one instant.
        let image = Arc::new(fs.crash(seed));
        let (recovered, dir) = recover(&image);
        check(&recovered, &log)?;
        restart_appends(&image, dir, &recovered);
    }
}

/// Many threads append and wait under `always` while the power goes at a random
/// fsync: every acknowledged command survives, and what survives is a prefix of the
/// order of the appends (their LSNs).
#[test]
fn group_commit_loses_nothing_acknowledged() {
    for round in 0..16u64 {
        let fs = Arc::new(SimAofFs::new());
        fs.power_loss_after(20 + round * 7, round);
        let dir = AofDir::open(Arc::clone(&fs), DIR, NAME).unwrap();
        let writer = AofWriter::open(dir, config(FsyncPolicy::Always)).unwrap();
        let appended = std::sync::Mutex::new(Vec::new());
        thread::scope(|scope| {
            for t in 0..6 {
                let (writer, appended) = (&writer, &appended);
                scope.spawn(move || {
                    for i in 0..50 {
                        let args = command(t * 1000 + i, 8);
                        let Ok(lsn) = writer.append(&encode(&args)) else {
                            return;
                        };
                        let acked = writer.acked(lsn).wait().is_ok();
                        appended.lock().unwrap().push((lsn, args, acked));
                    }
                });
            }
        });
        drop(writer);
        let mut appended = appended.into_inner().unwrap();
        appended.sort_by_key(|(lsn, _, _)| *lsn);
        let log = Log {
            guaranteed: appended
                .iter()
                .rposition(|(_, _, acked)| *acked)
                .map_or(0, |i| i + 1),
            lsns: appended.iter().map(|(lsn, _, _)| *lsn).collect(),
            commands: appended.into_iter().map(|(_, args, _)| args).collect(),
        };
        let (recovered, _) = recover(&Arc::new(fs.crash(round)));
        check(&recovered, &log).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}

/// The files a run leaves are the ones the manifest names: history files are gone
/// once a rewrite is installed.
#[test]
fn a_rewrite_leaves_only_the_files_the_manifest_names() {
    let fs = Arc::new(SimAofFs::new());
    let ops: Vec<Op> = (0..5)
        .flat_map(|_| {
            [
                Op::Append { len: 4 },
                Op::Rotate,
                Op::Append { len: 1 },
                Op::Rewrite,
            ]
        })
        .collect();
    let (log, writer) = run(&fs, FsyncPolicy::Always, &ops, None);
    writer.unwrap().close().unwrap();
    let dir = Path::new(DIR);
    let manifest = AofDir::open(Arc::clone(&fs), DIR, NAME)
        .unwrap()
        .manifest()
        .clone();
    let mut expected: Vec<_> = manifest.entries().map(|e| dir.join(&e.name)).collect();
    expected.push(dir.join("appendonly.aof.manifest"));
    expected.sort();
    assert_eq!(fs.names(), expected);
    assert!(manifest.history().is_empty());
    let (recovered, _) = recover(&fs);
    assert_eq!(recovered, log.commands);
}

/// An AOF started from a snapshot file (the dataset was loaded from it): a power cut
/// at any step leaves either no AOF, so that a restart loads the snapshot file again,
/// or one whose base is the whole file; then the writer appends after it.
#[test]
fn starting_from_a_snapshot_file_is_atomic() {
    let snapshot: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let snapshot_path = Path::new("/data/dump.tsnap");
    // Runs in which the power outlived the start and the first append.
    let mut whole = 0;
    for at in 1..32u64 {
        let fs = Arc::new(SimAofFs::new());
        fs.create_dir_all(Path::new("/data")).unwrap();
        let file = fs.create(snapshot_path).unwrap();
        fs.append(&file, &snapshot).unwrap();
        fs.sync_data(&file).unwrap();
        fs.sync_dir(Path::new("/data")).unwrap();
        fs.power_loss_after(at, at);
        let started = AofDir::open(Arc::clone(&fs), DIR, NAME).and_then(|mut dir| {
            dir.start_from_snapshot(snapshot_path)?;
            AofWriter::open(dir, config(FsyncPolicy::Always))
        });
        if let Ok(writer) = &started {
            let args = command(0, 1);
            let _ = writer.acked(writer.append(&encode(&args)).unwrap()).wait();
            whole += usize::from(!fs.has_lost_power());
        }
        let image = Arc::new(fs.crash(at));
        assert_eq!(
            image.contents(snapshot_path).as_deref(),
            Some(&snapshot[..]),
            "the snapshot file is never touched"
        );
        let dir = AofDir::open(Arc::clone(&image), DIR, NAME).expect("the manifest loads");
        match dir.manifest().base() {
            None => assert!(
                dir.manifest().incrs().is_empty(),
                "power cut {at}: increments without the base they follow"
            ),
            Some(base) => {
                let copy = image.contents(&dir.path_of(&base.name));
                assert_eq!(copy.as_deref(), Some(&snapshot[..]), "power cut {at}");
            }
        }
        drop(started);
    }
    assert!(whole > 0, "no run got through the start");
}
