//! Runs the built `tierctl` on data dirs: `restore` makes one (and refuses to
//! overwrite, or leaves DATA as it was on an error), `verify` and `inspect` read one
//! (sound, with a torn tail, corrupt in many ways), `snapshot --dir` loads one as
//! tierd would and changes nothing in it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;
use tempfile::TempDir;
use tier_engine::aof::{encode_command, AofDir, StdAofFs};
use tier_engine::snapshot::{SnapshotReader, SnapshotWriter};
use tier_engine::Value;

use common::{path_str, stderr, stdout, tierctl};

const CREATED: u64 = 1_700_000_000_000;
const FAR: u64 = 4_000_000_000_000;

/// A snapshot file of a few keys, at `path`.
fn write_snapshot(path: &Path) {
    let mut w = SnapshotWriter::new(fs::File::create(path).unwrap(), CREATED).unwrap();
    for (db, key, value, expire_at) in [
        (0, "user:1", "alice", None),
        (0, "user:2", "bob", Some(FAR)),
        (2, "other", "db2", None),
    ] {
        w.write_record(
            db,
            key.as_bytes(),
            &Value::string(value.as_bytes()),
            expire_at,
        )
        .unwrap();
    }
    w.finish().unwrap();
}

fn commands(list: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for args in list {
        encode_command(args, &mut out);
    }
    out
}

/// The first increment's commands.
fn first_incr() -> Vec<u8> {
    commands(&[
        &["SELECT", "0"],
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["DEL", "user:1"],
        &["SELECT", "2"],
        &["SET", "c", "3", "PXAT", &FAR.to_string()],
    ])
}

/// The second increment's commands.
fn second_incr() -> Vec<u8> {
    commands(&[&["SELECT", "0"], &["INCR", "a"], &["SET", "d", "4"]])
}

/// A data dir made by `tierctl restore` from a small snapshot, then given two
/// increments of commands. Returns the work dir (the snapshot file and `data/`).
fn data_dir() -> (TempDir, PathBuf) {
    let work = TempDir::new().unwrap();
    let file = work.path().join("keys.tsnap");
    write_snapshot(&file);
    let data = work.path().join("data");
    let out = tierctl(&["restore", path_str(&file), "--dir", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let aof = data.join("appendonlydir");
    fs::write(aof.join("appendonly.aof.1.incr.aof"), first_incr()).unwrap();
    let mut dir = AofDir::open(Arc::new(StdAofFs), &aof, "appendonly.aof").unwrap();
    dir.create_next_incr().unwrap();
    fs::write(aof.join("appendonly.aof.2.incr.aof"), second_incr()).unwrap();
    (work, data)
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` and its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(contents(&path));
        } else {
            all.insert(path.clone(), fs::read(&path).unwrap());
        }
    }
    all
}

#[test]
fn restore_makes_a_data_dir_with_the_snapshot_as_its_base() {
    let (work, data) = data_dir();
    let aof = data.join("appendonlydir");
    assert_eq!(
        fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof.1.base.tsnap seq 1 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type i\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(
        fs::read(aof.join("appendonly.aof.1.base.tsnap")).unwrap(),
        fs::read(work.path().join("keys.tsnap")).unwrap()
    );
    // Nothing is left beside the new dir.
    assert_eq!(names(work.path()), ["data", "keys.tsnap"]);
}

#[test]
fn restore_refuses_a_non_empty_dir_and_replaces_it_with_force() {
    let (work, data) = data_dir();
    let file = work.path().join("keys.tsnap");
    let before = contents(&data);
    let out = tierctl(&["restore", path_str(&file), "--dir", path_str(&data)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(contents(&data), before);

    // A corrupt snapshot is refused, with or without --force, and DATA stays.
    let corrupt = work.path().join("corrupt.tsnap");
    let mut bytes = fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs::write(&corrupt, &bytes).unwrap();
    for target in [data.clone(), work.path().join("new")] {
        let out = tierctl(&[
            "restore",
            path_str(&corrupt),
            "--dir",
            path_str(&target),
            "--force",
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}: corrupt: ", corrupt.display())),
            "{err}"
        );
    }
    assert_eq!(contents(&data), before);
    assert!(!work.path().join("new").exists());

    // With --force, the old contents go and only the snapshot is there.
    fs::write(data.join("dump.tsnap"), b"old").unwrap();
    let out = tierctl(&[
        "restore",
        path_str(&file),
        "--dir",
        path_str(&data),
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("restored 3 keys"), "{}", stdout(&out));
    let after: Vec<PathBuf> = contents(&data).into_keys().collect();
    let aof = data.join("appendonlydir");
    assert_eq!(
        after,
        [
            aof.join("appendonly.aof.1.base.tsnap"),
            aof.join("appendonly.aof.1.incr.aof"),
            aof.join("appendonly.aof.manifest"),
        ]
    );
    assert_eq!(
        names(work.path()),
        ["corrupt.tsnap", "data", "keys.tsnap"],
        "nothing is left beside"
    );
}

#[test]
fn verify_and_inspect_a_sound_data_dir() {
    let (_work, data) = data_dir();
    let aof = data.join("appendonlydir");
    let out = tierctl(&["verify", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        format!("{}: OK\n", data.display()),
        format!(
            "  manifest   {}: 1 base, 2 increments\n",
            aof.join("appendonly.aof.manifest").display()
        ),
        format!(
            "  base       {}\n",
            aof.join("appendonly.aof.1.base.tsnap").display()
        ),
        "    records    3 (1 with an expiry)\n".to_string(),
        format!(
            "  increment  {}: 6 commands, {} bytes\n",
            aof.join("appendonly.aof.1.incr.aof").display(),
            first_incr().len()
        ),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }

    let out = tierctl(&["inspect", "--json", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let j: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(j["aof"]["base"]["total"]["keys"], 3);
    assert_eq!(j["aof"]["commands"], 9);
    assert_eq!(
        j["aof"]["command_bytes"],
        first_incr().len() + second_incr().len()
    );
    assert_eq!(j["aof"]["by_name"]["SET"], 4);
    assert_eq!(j["aof"]["by_name"]["SELECT"], 3);
    assert_eq!(j["aof"]["increments"][1]["by_name"]["INCR"], 1);
    assert_eq!(j["aof"]["increments"][1]["torn"], false);
    assert_eq!(j["snapshot"], Json::Null);

    let out = tierctl(&["inspect", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in [
        "increments 2 (9 commands, ",
        "  appendonly.aof.2.incr.aof  ",
        "    INCR 1, SELECT 1, SET 1\n",
        "  all  SET 4, SELECT 3, DEL 1, INCR 1\n",
        "keys       3 (",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn a_torn_tail_is_a_warning_and_snapshot_dir_loads_up_to_it() {
    let (work, data) = data_dir();
    let last = data.join("appendonlydir/appendonly.aof.2.incr.aof");
    let torn = b"*3\r\n$3\r\nSET\r\n$1\r\ne";
    let mut bytes = second_incr();
    bytes.extend_from_slice(torn);
    fs::write(&last, &bytes).unwrap();
    let before = contents(&data);

    let out = tierctl(&["verify", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "tierctl: warning: {} ends inside a command: {} bytes after its last whole \
             command, at byte {}",
            last.display(),
            torn.len(),
            second_incr().len()
        )),
        "{err}"
    );
    let out = tierctl(&["inspect", "--json", path_str(&data)]);
    assert_eq!(out.status.code(), Some(0));
    let j: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(j["aof"]["increments"][1]["torn"], true);
    assert_eq!(j["aof"]["increments"][1]["file_bytes"], bytes.len());

    let file = work.path().join("offline.tsnap");
    let out = tierctl(&["snapshot", "--dir", path_str(&data), "-o", path_str(&file)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("ends inside a command"));
    assert!(stdout(&out).contains("(6 keys)"), "{}", stdout(&out));
    assert_eq!(contents(&data), before, "the data dir is not changed");

    let mut reader = SnapshotReader::new(fs::File::open(&file).unwrap()).unwrap();
    let mut keys = BTreeMap::new();
    while let Some(r) = reader.next_record().unwrap() {
        keys.insert((r.db, r.key.to_vec()), (r.value, r.expire_at));
    }
    let key = |db: u32, k: &str, v: &str, at: Option<u64>| {
        (
            (db, k.as_bytes().to_vec()),
            (Value::string(v.as_bytes()), at),
        )
    };
    assert_eq!(
        keys,
        BTreeMap::from([
            key(0, "a", "2", None),
            key(0, "b", "2", None),
            key(0, "d", "4", None),
            key(0, "user:2", "bob", Some(FAR)),
            key(2, "c", "3", Some(FAR)),
            key(2, "other", "db2", None),
        ])
    );
}

/// Runs `verify` on `data` and expects exit 1 with `message` on stderr.
fn expect_corrupt(data: &Path, message: &str) {
    let out = tierctl(&["verify", path_str(data)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(message), "expected {message:?} in {err}");
    assert!(stdout(&out).is_empty());
    let out = tierctl(&["inspect", path_str(data)]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn corruption_anywhere_names_the_file_and_the_byte() {
    // A wrong byte in the middle of the first increment: the third command's `$`.
    let (_work, data) = data_dir();
    let aof = data.join("appendonlydir");
    let first = aof.join("appendonly.aof.1.incr.aof");
    let offset = commands(&[&["SELECT", "0"], &["SET", "a", "1"]]).len() + 4;
    let mut bytes = first_incr();
    assert_eq!(bytes[offset], b'$');
    bytes[offset] = b':';
    fs::write(&first, &bytes).unwrap();
    expect_corrupt(
        &data,
        &format!(
            "tierctl: corrupt AOF file {} at byte {offset}: expected '$', found byte 0x3a",
            first.display()
        ),
    );
    // The offline snapshot refuses it as tierd would, and writes nothing.
    let file = data.with_file_name("offline.tsnap");
    let out = tierctl(&["snapshot", "--dir", path_str(&data), "-o", path_str(&file)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("at byte {offset}")),
        "{}",
        stderr(&out)
    );
    assert!(!file.exists() && !data.with_file_name("offline.tsnap.tmp").exists());

    // Cut short, but not the last increment.
    let whole = first_incr();
    fs::write(&first, &whole[..whole.len() - 3]).unwrap();
    let cut = whole.len() - commands(&[&["SET", "c", "3", "PXAT", &FAR.to_string()]]).len();
    expect_corrupt(
        &data,
        &format!(
            "{} at byte {cut}: incomplete command at the end of an increment that is not \
             the last",
            first.display()
        ),
    );

    // A command tierd does not know.
    let mut unknown = commands(&[&["SET", "a", "1"]]);
    let at = unknown.len();
    unknown.extend(commands(&[&["FROB", "a"]]));
    fs::write(&first, &unknown).unwrap();
    expect_corrupt(
        &data,
        &format!(
            "{}: corrupt at byte {at}: unknown command \"FROB\"",
            first.display()
        ),
    );

    // A file the manifest lists is missing.
    fs::remove_file(&first).unwrap();
    expect_corrupt(
        &data,
        &format!(
            "{}: listed in the AOF manifest, but missing",
            first.display()
        ),
    );

    // A flipped byte in the base.
    let (_work, data) = data_dir();
    let base = data.join("appendonlydir/appendonly.aof.1.base.tsnap");
    let mut bytes = fs::read(&base).unwrap();
    bytes[50] ^= 0x10;
    fs::write(&base, &bytes).unwrap();
    expect_corrupt(&data, &format!("tierctl: {}: corrupt: ", base.display()));

    // A manifest tierd would not read.
    let manifest = data.join("appendonlydir/appendonly.aof.manifest");
    fs::write(&manifest, "file x seq 1 type z\n").unwrap();
    expect_corrupt(
        &data,
        &format!(
            "bad AOF manifest {} at line 1: Unknown AOF file type",
            manifest.display()
        ),
    );
}

#[test]
fn a_dir_that_is_not_a_data_dir_exits_2() {
    let empty = TempDir::new().unwrap();
    for cmd in ["verify", "inspect"] {
        let out = tierctl(&[cmd, path_str(empty.path())]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("not a tierd data dir"),
            "{}",
            stderr(&out)
        );
    }
    let file = empty.path().join("out.tsnap");
    let out = tierctl(&[
        "snapshot",
        "--dir",
        path_str(empty.path()),
        "-o",
        path_str(&file),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!file.exists());
    // Online and offline options do not mix.
    let out = tierctl(&["snapshot", "--dir", "x", "-p", "7000", "-o", "y"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_data_dir_with_only_a_snapshot_file() {
    let data = TempDir::new().unwrap();
    write_snapshot(&data.path().join("dump.tsnap"));
    let out = tierctl(&["verify", path_str(data.path())]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains(&format!(
        "  snapshot   {}",
        data.path().join("dump.tsnap").display()
    )));
    let out = tierctl(&["inspect", "--json", path_str(data.path())]);
    let j: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(j["aof"], Json::Null);
    assert_eq!(j["snapshot"]["total"]["keys"], 3);
}
