//! The AOF directory and its manifest, in Redis 7's multi-part layout: the directory
//! `appenddirname` (default `appendonlydir`) holds a manifest
//! `<appendfilename>.manifest` naming one base file and the increments after it, one
//! file a line, in exactly Redis 7's syntax:
//!
//! ```text
//! file appendonly.aof.2.base.tsnap seq 2 type b
//! file appendonly.aof.1.incr.aof seq 1 type h
//! file appendonly.aof.2.incr.aof seq 2 type i
//! file appendonly.aof.3.incr.aof seq 3 type i
//! ```
//!
//! - [`Manifest`]: parse (errors name the file and line), encode, and derive the next
//!   manifest: a new increment, a new base with the files it replaces marked history.
//! - [`AofDir`]: the directory on an [`AofFs`]: load an existing manifest or start a
//!   fresh one, switch to a new manifest atomically (write a temp file, fsync it,
//!   rename it over the manifest, fsync the directory), create the next increment,
//!   install a new base, and remove the history files once the switch is durable.
//!
//! Tier's base file is a Tier snapshot, named `<appendfilename>.<seq>.base.tsnap`
//! where Redis writes `.base.rdb`; here it is only a named file. Increments are RESP
//! command streams `<appendfilename>.<seq>.incr.aof` (see [`replay`](super::replay)).
//! The format is documented in `docs/FORMAT.md` ("AOF").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AofError, AofFs};
use crate::splitargs::{repr, split_args};

/// Default `appenddirname`: the directory, under `dir`, that holds the AOF files.
pub const DEFAULT_DIR_NAME: &str = "appendonlydir";
/// Default `appendfilename`: the stem of every AOF file name.
pub const DEFAULT_FILE_NAME: &str = "appendonly.aof";
/// The end of a base file's name (Redis writes `.base.rdb`).
pub const BASE_SUFFIX: &str = ".base.tsnap";
/// The end of an increment's name.
pub const INCR_SUFFIX: &str = ".incr.aof";
const MANIFEST_SUFFIX: &str = ".manifest";
const TEMP_PREFIX: &str = "temp-";

/// The longest manifest line, its `\n` included (Redis's `MANIFEST_MAX_LINE`).
const MAX_LINE: usize = 1024;
/// The largest manifest read (a sanity bound: a manifest is a few lines).
const MAX_MANIFEST_LEN: u64 = 1 << 20;
/// The largest sequence number (Redis reads them as `long long`).
const MAX_SEQ: u64 = i64::MAX as u64;

/// What a manifest line says a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `type b`: the base, loaded first. At most one.
    Base,
    /// `type h`: a file a rewrite replaced, not loaded, to be removed.
    History,
    /// `type i`: an increment, replayed after the base in manifest order.
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One line of a manifest: a file, its sequence number and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// A plain file name in the AOF directory.
    pub name: String,
    /// Increments' numbers rise in manifest order; bases have their own sequence.
    pub seq: u64,
    pub kind: FileKind,
}

/// The files of the AOF: one base (optional: without it the data set starts empty),
/// the history files a rewrite left behind, and the increments in replay order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    base: Option<ManifestEntry>,
    history: Vec<ManifestEntry>,
    incrs: Vec<ManifestEntry>,
}

/// The manifest's name for `appendfilename` `basename`.
pub fn manifest_name(basename: &str) -> String {
    format!("{basename}{MANIFEST_SUFFIX}")
}

/// The name of base number `seq`.
pub fn base_name(basename: &str, seq: u64) -> String {
    format!("{basename}.{seq}{BASE_SUFFIX}")
}

/// The name of increment number `seq`.
pub fn incr_name(basename: &str, seq: u64) -> String {
    format!("{basename}.{seq}{INCR_SUFFIX}")
}

/// Whether `name` names a file in its directory (and nothing else): not empty, not
/// `.` or `..`, no `/`, `\` or NUL.
fn is_plain_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\\', '\0'])
}

impl Manifest {
    /// Parses a manifest the way Redis 7 loads one (`aofLoadManifestFromFile`):
    /// lines starting with `#` are comments; every other line, trimmed of spaces,
    /// tabs and line ends, is `file <name> seq <n> type <b|h|i>` split as
    /// `sdssplitargs` does (quoted names allowed), keys in any order and any case,
    /// unknown key/value pairs ignored; at most one base; increments' numbers rising.
    /// Stricter than Redis where Redis would misread: `seq` must be a positive
    /// decimal, `type` one letter, names UTF-8 and each listed once.
    ///
    /// `path` only names the file in errors.
    pub fn parse(text: &[u8], path: &Path) -> Result<Manifest, AofError> {
        let error = |line: usize, reason: &'static str| AofError::Manifest {
            path: path.to_path_buf(),
            line,
            reason,
        };
        if text.is_empty() {
            return Err(error(0, "Found an empty AOF manifest"));
        }
        let mut manifest = Manifest::default();
        let mut rest = text;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (line, after) = match rest.iter().position(|&c| c == b'\n') {
                Some(end) => (&rest[..=end], &rest[end + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = after;
            if line.starts_with(b"#") {
                continue;
            }
            if line.len() > MAX_LINE || !line.ends_with(b"\n") {
                return Err(error(
                    number,
                    "The AOF manifest file contains too long line",
                ));
            }
            let entry = parse_line(line).map_err(|reason| error(number, reason))?;
            manifest
                .add(entry)
                .map_err(|reason| error(number, reason))?;
        }
        Ok(manifest)
    }

    /// Adds a parsed line, checking it against the lines before.
    fn add(&mut self, entry: ManifestEntry) -> Result<(), &'static str> {
        if self.entries().any(|e| e.name == entry.name) {
            return Err("Found a duplicate file name");
        }
        match entry.kind {
            FileKind::Base if self.base.is_some() => {
                return Err("Found duplicate base file information")
            }
            FileKind::Base => self.base = Some(entry),
            FileKind::History => self.history.push(entry),
            FileKind::Incr => {
                if self.incrs.last().is_some_and(|last| entry.seq <= last.seq) {
                    return Err("Found a non-monotonic sequence number");
                }
                self.incrs.push(entry);
            }
        }
        Ok(())
    }

    /// The manifest as Redis 7 writes it: the base, then the history files, then the
    /// increments, a line each; names that need it quoted as `sdscatrepr` does.
    pub fn encode(&self) -> Vec<u8> {
        self.entries().flat_map(encode_line).collect()
    }

    /// The base, if there is one.
    pub fn base(&self) -> Option<&ManifestEntry> {
        self.base.as_ref()
    }

    /// The increments, in replay order.
    pub fn incrs(&self) -> &[ManifestEntry] {
        &self.incrs
    }

    /// The files no longer referenced: a rewrite replaced them, and they are removed
    /// once the manifest that says so is durable.
    pub fn history(&self) -> &[ManifestEntry] {
        &self.history
    }

    /// Every line, in the order [`encode`](Self::encode) writes them.
    pub fn entries(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.base.iter().chain(&self.history).chain(&self.incrs)
    }

    /// This manifest with a new increment after the others, and that increment. Its
    /// number follows the last increment's, skipping any whose name is listed (a
    /// history file not removed yet). `None` once numbers would pass 2^63 - 1.
    pub fn with_next_incr(&self, basename: &str) -> Option<(Manifest, ManifestEntry)> {
        let last = self.incrs.last().map_or(0, |e| e.seq);
        let entry = self.next_entry(basename, last, FileKind::Incr)?;
        let mut next = self.clone();
        next.incrs.push(entry.clone());
        Some((next, entry))
    }

    /// The entry a new base would have: numbered after the current base, skipping any
    /// name already listed. `None` once numbers would pass 2^63 - 1.
    pub fn next_base(&self, basename: &str) -> Option<ManifestEntry> {
        let last = self.base.as_ref().map_or(0, |e| e.seq);
        self.next_entry(basename, last, FileKind::Base)
    }

    fn next_entry(&self, basename: &str, after: u64, kind: FileKind) -> Option<ManifestEntry> {
        let name_of = |seq| match kind {
            FileKind::Base => base_name(basename, seq),
            _ => incr_name(basename, seq),
        };
        let mut seq = after + 1;
        while self.entries().any(|e| e.name == name_of(seq)) {
            seq += 1;
        }
        (seq <= MAX_SEQ).then(|| ManifestEntry {
            name: name_of(seq),
            seq,
            kind,
        })
    }

    /// This manifest after a rewrite: `base` (from [`next_base`](Self::next_base))
    /// replaces the old base, and the increments numbered below `first_kept_incr`
    /// (those the base's point in time covers) become history with the old base.
    pub fn with_base(&self, base: ManifestEntry, first_kept_incr: u64) -> Manifest {
        let mut next = self.clone();
        let mut replaced: Vec<ManifestEntry> = next.base.take().into_iter().collect();
        let kept = next.incrs.split_off(
            next.incrs
                .iter()
                .position(|e| e.seq >= first_kept_incr)
                .unwrap_or(next.incrs.len()),
        );
        replaced.append(&mut next.incrs);
        next.incrs = kept;
        for entry in &mut replaced {
            entry.kind = FileKind::History;
        }
        // Redis lists the newest history first.
        replaced.append(&mut next.history);
        next.history = replaced;
        next.base = Some(ManifestEntry {
            kind: FileKind::Base,
            ..base
        });
        next
    }
}

/// The manifest line of `entry`, `\n` included.
fn encode_line(entry: &ManifestEntry) -> Vec<u8> {
    let mut out = b"file ".to_vec();
    out.extend_from_slice(&repr(entry.name.as_bytes()));
    out.extend_from_slice(format!(" seq {} type {}\n", entry.seq, entry.kind.letter()).as_bytes());
    out
}

/// Parses one line (not a comment, `\n` included) into an entry, or says why not in
/// Redis's words.
fn parse_line(line: &[u8]) -> Result<ManifestEntry, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let trimmed = line.trim_ascii_end().trim_ascii_start();
    if trimmed.is_empty() {
        return Err(INVALID);
    }
    let args = split_args(trimmed).map_err(|_| INVALID)?;
    if args.len() < 6 || args.len() % 2 != 0 {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, None, None);
    for pair in args.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if key.eq_ignore_ascii_case(b"file") {
            let text = std::str::from_utf8(value).map_err(|_| "File name is not UTF-8")?;
            if !is_plain_name(text) {
                return Err("File can't be a path, just a filename");
            }
            name = Some(text.to_owned());
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = Some(
                std::str::from_utf8(value)
                    .ok()
                    .filter(|v| v.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|v| v.parse::<i64>().ok())
                    .filter(|&n| n > 0)
                    .ok_or(INVALID)? as u64,
            );
        } else if key.eq_ignore_ascii_case(b"type") {
            kind = Some(match value.as_slice() {
                b"b" => FileKind::Base,
                b"h" => FileKind::History,
                b"i" => FileKind::Incr,
                _ => return Err("Unknown AOF file type"),
            });
        }
    }
    let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
        return Err(INVALID);
    };
    let entry = ManifestEntry { name, seq, kind };
    // Quoting may lengthen a name: a manifest that could not be written back would
    // stop the next switch, so it is refused now, at the line that says why.
    if encode_line(&entry).len() > MAX_LINE {
        return Err("File name too long to write back on one line");
    }
    Ok(entry)
}

/// The AOF directory: its files on an [`AofFs`] and the manifest that names them.
/// The manifest held here is always the one the manifest file holds, or is being
/// made durable.
pub struct AofDir<F: AofFs> {
    fs: Arc<F>,
    dir: PathBuf,
    basename: String,
    manifest: Manifest,
}

/// [`AofDir::start_from_snapshot`] copies in pieces this large.
const COPY_CHUNK: usize = 1 << 20;

impl<F: AofFs> AofDir<F> {
    /// Opens the AOF directory `dir` whose files are named after `basename`
    /// (`appendfilename`): loads its manifest, or starts an empty one (nothing is
    /// written until the first switch) when there is none. Creates `dir` if missing.
    pub fn open(
        fs: Arc<F>,
        dir: impl Into<PathBuf>,
        basename: &str,
    ) -> Result<AofDir<F>, AofError> {
        let dir = dir.into();
        if let Some(opened) = AofDir::open_existing(Arc::clone(&fs), &dir, basename)? {
            return Ok(opened);
        }
        fs.create_dir_all(&dir).map_err(|e| AofError::io(&dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| AofError::io(parent, e))?;
        }
        Ok(AofDir {
            fs,
            dir,
            basename: basename.to_owned(),
            manifest: Manifest::default(),
        })
    }

    /// Opens the AOF directory `dir` as [`open`](Self::open) does when it holds a
    /// manifest, and `None` when it does not; reads only, creates nothing (offline
    /// tools use it on a data dir they must not change).
    pub fn open_existing(
        fs: Arc<F>,
        dir: impl Into<PathBuf>,
        basename: &str,
    ) -> Result<Option<AofDir<F>>, AofError> {
        let longest = ManifestEntry {
            name: base_name(basename, MAX_SEQ),
            seq: MAX_SEQ,
            kind: FileKind::Base,
        };
        if !is_plain_name(basename) || encode_line(&longest).len() > MAX_LINE {
            return Err(AofError::InvalidName(basename.to_owned()));
        }
        let dir = dir.into();
        let path = dir.join(manifest_name(basename));
        let file = match fs.open_read(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AofError::io(&path, e)),
        };
        let mut text = Vec::new();
        file.take(MAX_MANIFEST_LEN + 1)
            .read_to_end(&mut text)
            .map_err(|e| AofError::io(&path, e))?;
        if text.len() as u64 > MAX_MANIFEST_LEN {
            return Err(AofError::Manifest {
                path,
                line: 0,
                reason: "The AOF manifest is larger than 1 MiB",
            });
        }
        let manifest = Manifest::parse(&text, &path)?;
        Ok(Some(AofDir {
            fs,
            dir,
            basename: basename.to_owned(),
            manifest,
        }))
    }

    /// The filesystem the files live on.
    pub fn fs(&self) -> &Arc<F> {
        &self.fs
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The path of the file `name` in the directory.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The path of the manifest file.
    pub fn manifest_path(&self) -> PathBuf {
        self.path_of(&manifest_name(&self.basename))
    }

    /// Makes `next` the manifest, atomically: writes it to a temp file, fsyncs it,
    /// renames it over the manifest and fsyncs the directory. On an error before the
    /// rename the manifest is unchanged; from the rename on, `next` is the manifest
    /// the directory names (durable or not: the error says the directory sync
    /// failed), and [`manifest`](Self::manifest) returns it.
    pub fn switch(&mut self, next: Manifest) -> Result<(), AofError> {
        let temp = self.path_of(&format!("{TEMP_PREFIX}{}", manifest_name(&self.basename)));
        let file = self.fs.create(&temp).map_err(|e| AofError::io(&temp, e))?;
        self.fs
            .append(&file, &next.encode())
            .and_then(|()| self.fs.sync_data(&file))
            .map_err(|e| AofError::io(&temp, e))?;
        drop(file);
        let path = self.manifest_path();
        self.fs
            .rename(&temp, &path)
            .map_err(|e| AofError::io(&path, e))?;
        self.manifest = next;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| AofError::io(&self.dir, e))
    }

    /// Creates the next increment (empty, truncating a leftover file of that name
    /// that no manifest lists) and switches to the manifest that lists it. Returns
    /// the file, open for appending, and its entry.
    pub fn create_next_incr(&mut self) -> Result<(F::File, ManifestEntry), AofError> {
        let (next, entry) = self
            .manifest
            .with_next_incr(&self.basename)
            .ok_or_else(|| self.exhausted())?;
        let path = self.path_of(&entry.name);
        let file = self.fs.create(&path).map_err(|e| AofError::io(&path, e))?;
        self.switch(next)?;
        Ok((file, entry))
    }

    /// The entry of the next base: write the snapshot to
    /// [`path_of`](Self::path_of)`(&entry.name)`, fsync it, then
    /// [`install_base`](Self::install_base) it.
    pub fn next_base(&self) -> Result<ManifestEntry, AofError> {
        self.manifest
            .next_base(&self.basename)
            .ok_or_else(|| self.exhausted())
    }

    fn exhausted(&self) -> AofError {
        AofError::Manifest {
            path: self.manifest_path(),
            line: 0,
            reason: "AOF sequence numbers are exhausted",
        }
    }

    /// Ends a rewrite: switches to the manifest whose base is `base` (complete and
    /// fsynced by the caller) and whose increments start at `first_kept_incr` (the
    /// one the rotation at the base's point in time opened); the files replaced
    /// become history, and are then removed ([`remove_history`](Self::remove_history)).
    pub fn install_base(
        &mut self,
        base: ManifestEntry,
        first_kept_incr: u64,
    ) -> Result<(), AofError> {
        let next = self.manifest.with_base(base, first_kept_incr);
        self.switch(next)?;
        self.remove_history()
    }

    /// Starts an AOF that holds nothing yet from the snapshot file `snapshot` (the
    /// dataset was just loaded from it): copies it in as the base, fsyncs the copy,
    /// and switches to a manifest naming it. Until that switch a restart finds no
    /// AOF and loads `snapshot` again; after it, the base. Returns the base's size.
    pub fn start_from_snapshot(&mut self, snapshot: &Path) -> Result<u64, AofError> {
        assert!(
            self.manifest.base().is_none() && self.manifest.incrs().is_empty(),
            "the AOF holds data already"
        );
        let base = self.next_base()?;
        let path = self.path_of(&base.name);
        let mut source = self
            .fs
            .open_read(snapshot)
            .map_err(|e| AofError::io(snapshot, e))?;
        let file = self.fs.create(&path).map_err(|e| AofError::io(&path, e))?;
        let mut chunk = vec![0; COPY_CHUNK];
        let mut size = 0;
        loop {
            let n = match source.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AofError::io(snapshot, e)),
            };
            self.fs
                .append(&file, &chunk[..n])
                .map_err(|e| AofError::io(&path, e))?;
            size += n as u64;
        }
        self.fs
            .sync_data(&file)
            .map_err(|e| AofError::io(&path, e))?;
        self.install_base(base, 0)?;
        Ok(size)
    }

    /// Removes the history files (one already gone is fine), then switches to the
    /// manifest without them. Call only when the manifest that made them history is
    /// durable. A file that cannot be removed stays listed, with a warning.
    pub fn remove_history(&mut self) -> Result<(), AofError> {
        if self.manifest.history.is_empty() {
            return Ok(());
        }
        let mut next = self.manifest.clone();
        next.history.retain(|entry| {
            let path = self.dir.join(&entry.name);
            match self.fs.remove(&path) {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    tracing::warn!("cannot remove the AOF history file {}: {e}", path.display());
                    true
                }
            }
        });
        self.switch(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::SimAofFs;

    fn parse(text: &str) -> Result<Manifest, AofError> {
        Manifest::parse(text.as_bytes(), Path::new("dir/appendonly.aof.manifest"))
    }

    fn entry(name: &str, seq: u64, kind: FileKind) -> ManifestEntry {
        ManifestEntry {
            name: name.to_owned(),
            seq,
            kind,
        }
    }

    /// The line number and reason of a parse error.
    fn failure(text: &str) -> (usize, &'static str) {
        match parse(text) {
            Err(AofError::Manifest { line, reason, .. }) => (line, reason),
            other => panic!("{text:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn parses_and_encodes_redis_7_syntax() {
        let text = "file appendonly.aof.2.base.tsnap seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n";
        let manifest = parse(text).unwrap();
        assert_eq!(
            manifest.base(),
            Some(&entry("appendonly.aof.2.base.tsnap", 2, FileKind::Base))
        );
        assert_eq!(
            manifest.history(),
            [entry("appendonly.aof.1.incr.aof", 1, FileKind::History)]
        );
        assert_eq!(manifest.incrs().len(), 2);
        assert_eq!(manifest.encode(), text.as_bytes());
    }

    #[test]
    fn accepts_what_redis_accepts() {
        // Comments, keys in any order and case, extra pairs, blanks around, CRLF,
        // quoted names, and the base anywhere.
        let text = "# a comment\n\
                    TYPE i Seq 1 FILE \"a b.1.incr.aof\" extra pair\r\n\
                    \t file base.tsnap seq 7 type b  \n";
        let manifest = parse(text).unwrap();
        assert_eq!(
            manifest.incrs(),
            [entry("a b.1.incr.aof", 1, FileKind::Incr)]
        );
        assert_eq!(manifest.base().unwrap().seq, 7);
        let again = parse(std::str::from_utf8(&manifest.encode()).unwrap()).unwrap();
        assert_eq!(again, manifest);
        // Only comments: a manifest with no files.
        assert_eq!(parse("# nothing\n").unwrap(), Manifest::default());
    }

    #[test]
    fn errors_name_the_line_and_the_reason() {
        let base = "file b.1.base.tsnap seq 1 type b\n";
        assert_eq!(failure(""), (0, "Found an empty AOF manifest"));
        assert_eq!(failure(&format!("{base}\n")).0, 2);
        assert_eq!(
            failure(&format!("{base}{base}")),
            (2, "Found a duplicate file name")
        );
        assert_eq!(
            failure(&format!("{base}file c.1.base.tsnap seq 2 type b\n")),
            (2, "Found duplicate base file information")
        );
        assert_eq!(
            failure("file a seq 2 type i\nfile b seq 2 type i\n"),
            (2, "Found a non-monotonic sequence number")
        );
        assert_eq!(
            failure("file a seq 1 type x\n"),
            (1, "Unknown AOF file type")
        );
        assert_eq!(failure("file a seq 1 type bb\n").1, "Unknown AOF file type");
        for path in ["../a", "d/a", "a\\\\b", ".."] {
            assert_eq!(
                failure(&format!("file \"{path}\" seq 1 type i\n")).1,
                "File can't be a path, just a filename",
                "{path}"
            );
        }
        let invalid = "Invalid AOF manifest file format";
        for line in [
            "file a seq 1\n",
            "file a seq 1 type i odd\n",
            "file a seq 0 type i\n",
            "file a seq -1 type i\n",
            "file a seq 1x type i\n",
            "file a seq 99999999999999999999 type i\n",
            "file a sequence 1 type i\n",
            "file \"a seq 1 type i\n",
        ] {
            assert_eq!(failure(line), (1, invalid), "{line:?}");
        }
        assert_eq!(
            failure("file \"\\xff\" seq 1 type i\n").1,
            "File name is not UTF-8"
        );
        let long = format!("file {} seq 1 type i\n", "a".repeat(MAX_LINE));
        assert_eq!(
            failure(&long).1,
            "The AOF manifest file contains too long line"
        );
        assert_eq!(
            failure("file a seq 1 type i").1,
            "The AOF manifest file contains too long line",
            "a last line without its newline was cut short"
        );
        let message = parse("x\n").unwrap_err().to_string();
        assert!(message.contains("appendonly.aof.manifest") && message.contains("line 1"));
    }

    #[test]
    fn every_manifest_that_parses_can_be_written_back() {
        // 300 raw control bytes fit a line; quoted (\x01 each) they would not.
        let raw = format!("file {} seq 1 type i\n", "\u{1}".repeat(300));
        assert_eq!(
            failure(&raw).1,
            "File name too long to write back on one line"
        );
        // The last sequence number parses, but has no next.
        let last = parse(&format!(
            "file a seq {MAX_SEQ} type i\nfile b seq {MAX_SEQ} type b\n"
        ))
        .unwrap();
        assert!(last.with_next_incr("t").is_none());
        assert!(last.next_base("t").is_none());
        assert_eq!(
            failure(&format!("file a seq {} type i\n", MAX_SEQ + 1)).1,
            "Invalid AOF manifest file format"
        );
    }

    #[test]
    fn next_files_skip_listed_names() {
        let manifest = parse(
            "file t.1.base.tsnap seq 1 type b\n\
             file t.2.incr.aof seq 2 type h\n\
             file t.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let (next, incr) = manifest.with_next_incr("t").unwrap();
        assert_eq!(incr, entry("t.3.incr.aof", 3, FileKind::Incr));
        assert_eq!(next.incrs().last(), Some(&incr));
        assert_eq!(
            manifest.next_base("t").unwrap(),
            entry("t.2.base.tsnap", 2, FileKind::Base)
        );
        assert_eq!(
            Manifest::default().with_next_incr("t").unwrap().1,
            entry("t.1.incr.aof", 1, FileKind::Incr)
        );
    }

    #[test]
    fn a_new_base_turns_what_it_covers_into_history() {
        let manifest = parse(
            "file t.1.base.tsnap seq 1 type b\n\
             file t.1.incr.aof seq 1 type i\n\
             file t.2.incr.aof seq 2 type i\n\
             file t.3.incr.aof seq 3 type i\n",
        )
        .unwrap();
        let base = manifest.next_base("t").unwrap();
        let next = manifest.with_base(base.clone(), 3);
        assert_eq!(next.base(), Some(&base));
        assert_eq!(next.incrs(), [entry("t.3.incr.aof", 3, FileKind::Incr)]);
        let history: Vec<_> = next.history().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(history, ["t.1.base.tsnap", "t.1.incr.aof", "t.2.incr.aof"]);
        assert!(next.history().iter().all(|e| e.kind == FileKind::History));
    }

    fn read(fs: &SimAofFs, path: &Path) -> Vec<u8> {
        fs.contents(path)
            .unwrap_or_else(|| panic!("{} is missing", path.display()))
    }

    #[test]
    fn a_fresh_directory_then_increments_and_a_base() {
        let fs = Arc::new(SimAofFs::new());
        let mut dir =
            AofDir::open(Arc::clone(&fs), "/data/appendonlydir", "appendonly.aof").unwrap();
        assert_eq!(dir.manifest(), &Manifest::default());
        assert!(
            fs.names().is_empty(),
            "nothing is written before the first switch"
        );

        let (_, first) = dir.create_next_incr().unwrap();
        let (_, second) = dir.create_next_incr().unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        let manifest_path = dir.manifest_path();
        assert_eq!(read(&fs, &manifest_path), dir.manifest().encode());

        let base = dir.next_base().unwrap();
        let base_path = dir.path_of(&base.name);
        let file = fs.create(&base_path).unwrap();
        fs.sync_data(&file).unwrap();
        dir.install_base(base.clone(), second.seq).unwrap();
        assert!(dir.manifest().history().is_empty());
        assert_eq!(dir.manifest().incrs(), std::slice::from_ref(&second));
        assert_eq!(
            fs.names(),
            [base_path, dir.path_of(&second.name), manifest_path.clone()]
        );

        // What a restart finds.
        let restarted = AofDir::open(
            Arc::new(fs.crash(0)),
            "/data/appendonlydir",
            "appendonly.aof",
        )
        .unwrap();
        assert_eq!(restarted.manifest(), dir.manifest());
    }

    #[test]
    fn a_crash_during_a_switch_leaves_the_old_or_the_new_manifest() {
        for at in 1..=6 {
            let fs = Arc::new(SimAofFs::new());
            let mut dir = AofDir::open(Arc::clone(&fs), "/a", "t").unwrap();
            dir.create_next_incr().unwrap();
            let old = dir.manifest().clone();
            let (next, _) = old.with_next_incr("t").unwrap();
            fs.power_loss_after(at, at);
            let result = dir.switch(next.clone());
            assert_eq!(
                result.is_ok(),
                !fs.has_lost_power(),
                "power loss at op {at}"
            );
            let after = AofDir::open(Arc::new(fs.crash(0)), "/a", "t").unwrap();
            let found = after.manifest();
            assert!(found == &old || found == &next, "op {at}: {found:?}");
            if result.is_ok() {
                assert_eq!(found, &next);
            }
        }
    }

    #[test]
    fn history_files_are_removed_and_missing_ones_forgotten() {
        let fs = Arc::new(SimAofFs::new());
        let mut dir = AofDir::open(Arc::clone(&fs), "/a", "t").unwrap();
        let (_, first) = dir.create_next_incr().unwrap();
        let (_, second) = dir.create_next_incr().unwrap();
        fs.remove(&dir.path_of(&first.name)).unwrap();
        let base = dir.next_base().unwrap();
        fs.create(&dir.path_of(&base.name)).unwrap();
        dir.install_base(base, second.seq).unwrap();
        assert!(dir.manifest().history().is_empty());
        assert!(fs.contents(&dir.path_of(&first.name)).is_none());
    }

    #[test]
    fn refuses_a_basename_that_is_a_path() {
        let fs = Arc::new(SimAofFs::new());
        let too_long = "x".repeat(MAX_LINE);
        for name in ["", "a/b", "..", "a\\b", &too_long] {
            assert!(matches!(
                AofDir::open(Arc::clone(&fs), "/a", name),
                Err(AofError::InvalidName(_))
            ));
        }
    }

    #[test]
    fn open_existing_reads_a_manifest_and_creates_nothing() {
        let fs = Arc::new(SimAofFs::new());
        assert!(AofDir::open_existing(Arc::clone(&fs), "/a", "t")
            .unwrap()
            .is_none());
        assert!(fs.names().is_empty(), "nothing is created");
        let mut dir = AofDir::open(Arc::clone(&fs), "/a", "t").unwrap();
        dir.create_next_incr().unwrap();
        let existing = AofDir::open_existing(Arc::clone(&fs), "/a", "t")
            .unwrap()
            .expect("the manifest is there");
        assert_eq!(existing.manifest(), dir.manifest());
        assert!(matches!(
            AofDir::open_existing(fs, "/a", "a/b"),
            Err(AofError::InvalidName(_))
        ));
    }
}
