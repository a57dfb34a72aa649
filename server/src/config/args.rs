//! Building the [`Config`] at start-up the way redis-server does: `tierd
//! [/path/to/tier.conf] [--name value ...]`. The file holds one `name value...`
//! directive a line (`#` comments, blank lines, quoting as in [`split_args`]); the
//! flags then override it in order, each `--name` taking the words up to the next
//! `--name`. Errors name the line or flag and say why, in Redis's words.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::options::{lookup, Reason};
use super::Config;
use tier_engine::splitargs::split_args;

/// Printed for `tierd --help`.
pub const USAGE: &str = "\
Usage: tierd [/path/to/tier.conf] [--name value ...]
       tierd -v | --version
       tierd -h | --help

The optional file holds one `name value` directive a line, with Redis's names and
syntax; each `--name value` flag then sets one more, overriding the file.

Examples:
       tierd                                (127.0.0.1:6379, data under ./data)
       tierd /etc/tier/tier.conf
       tierd --port 7777 --maxmemory 2gb
       tierd /etc/tier/tier.conf --loglevel verbose --bind \"127.0.0.1 ::1\"
";

/// What the command line asks `tierd` to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// Run with this configuration.
    Run(Box<Config>),
    /// `-v` or `--version` as the first argument: print the version, exit 0.
    Version,
    /// `-h` or `--help` as the first argument: print [`USAGE`], exit 0.
    Help,
}

/// A configuration that cannot be loaded. The binary prints it after Redis's header
/// and exits 1: `eprintln!("\n*** FATAL CONFIG FILE ERROR ***\n{err}")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("Fatal error, can't open config file '{path}': {reason}")]
    Open {
        /// The file, as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A directive of the config file is wrong.
    #[error("Reading the configuration file {path}, at line {line}\n>>> '{text}'\n{reason}")]
    Line {
        /// The file, as given.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// The line, trimmed.
        text: String,
        /// Why, in Redis's words.
        reason: String,
    },
    /// A `--name value` flag is wrong.
    #[error("Reading the command line\n>>> '{text}'\n{reason}")]
    Flag {
        /// The flag and its values.
        text: String,
        /// Why, in Redis's words.
        reason: String,
    },
    /// An argument that is neither the config file nor part of a `--name value` flag.
    #[error("Reading the command line\n>>> '{arg}'\nunexpected argument: options are written --name value")]
    Argument {
        /// The argument.
        arg: String,
    },
}

/// Parses the command line of `tierd`, without the program name (`std::env::args_os()
/// .skip(1)`), reading the config file it names.
pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Startup, ConfigError> {
    let args: Vec<Vec<u8>> = args.into_iter().map(OsStringExt::into_vec).collect();
    let mut config = Config::default();
    let mut flags = args.as_slice();
    if let Some((first, rest)) = args.split_first() {
        match first.as_slice() {
            b"-v" | b"--version" => return Ok(Startup::Version),
            b"-h" | b"--help" => return Ok(Startup::Help),
            _ => {}
        }
        if !first.starts_with(b"-") {
            config.load_file(Path::new(OsStr::from_bytes(first)))?;
            flags = rest;
        }
    }
    for Directive { words, text } in group_flags(flags)? {
        if let Some((name, values)) = words.split_first() {
            config
                .apply_directive(name, values)
                .map_err(|reason| ConfigError::Flag { text, reason })?;
        }
    }
    Ok(Startup::Run(Box::new(config)))
}

/// One `--name value...` flag: its words (name first) and its text as typed.
struct Directive {
    words: Vec<Vec<u8>>,
    text: String,
}

/// Splits the flags into directives: `--name` starts one, the words after it are its
/// values. As in redis-server, the word right after a bare `--name` is a value even if
/// it starts with `--`, and `--"name value"` in one argument is a whole directive.
fn group_flags(flags: &[Vec<u8>]) -> Result<Vec<Directive>, ConfigError> {
    let mut groups: Vec<Directive> = Vec::new();
    let mut wants_value = false;
    for arg in flags {
        match arg.strip_prefix(b"--") {
            Some(directive) if !wants_value => {
                let text = String::from_utf8_lossy(arg).into_owned();
                let words = split_args(directive).map_err(|_| ConfigError::Flag {
                    text: text.clone(),
                    reason: "Unbalanced quotes in configuration line".to_owned(),
                })?;
                if words.is_empty() {
                    return Err(ConfigError::Argument { arg: text });
                }
                wants_value = words.len() == 1;
                groups.push(Directive { words, text });
            }
            _ => {
                let Some(Directive { words, text }) = groups.last_mut() else {
                    return Err(ConfigError::Argument {
                        arg: String::from_utf8_lossy(arg).into_owned(),
                    });
                };
                text.push(' ');
                text.push_str(&quote(arg));
                words.push(arg.clone());
                wants_value = false;
            }
        }
    }
    Ok(groups)
}

/// An argument as it would be typed: quoted if empty or holding spaces or quotes.
fn quote(arg: &[u8]) -> String {
    let text = String::from_utf8_lossy(arg);
    if arg.is_empty()
        || arg
            .iter()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
    {
        format!("{text:?}")
    } else {
        text.into_owned()
    }
}

impl Config {
    /// Applies the directives of the config file at `path` over this configuration.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let shown = path.to_string_lossy().into_owned();
        let text = std::fs::read(path).map_err(|e| ConfigError::Open {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        self.load_text(&text, &shown)
    }

    /// Applies the directives of a config file's contents; `path` names it in errors.
    pub fn load_text(&mut self, text: &[u8], path: &str) -> Result<(), ConfigError> {
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = raw.trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let error = |reason: Reason| ConfigError::Line {
                path: path.to_owned(),
                line: index + 1,
                text: String::from_utf8_lossy(line).into_owned(),
                reason,
            };
            let words = split_args(line)
                .map_err(|_| error("Unbalanced quotes in configuration line".to_owned()))?;
            if let Some((name, values)) = words.split_first() {
                self.apply_directive(name, values).map_err(error)?;
            }
        }
        Ok(())
    }

    /// Applies one directive, `name` (any case) with its `values`.
    fn apply_directive(&mut self, name: &[u8], values: &[Vec<u8>]) -> Result<(), Reason> {
        if name.eq_ignore_ascii_case(b"user") && !values.is_empty() {
            return self.add_user(values);
        }
        let (_, spec) =
            lookup(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_owned())?;
        spec.apply(self, values)
    }
}

impl Config {
    /// A `user <name> <rule>...` directive: its rules are checked now (as Redis's
    /// `ACLAppendUserForLoading`) and applied once the server starts.
    fn add_user(&mut self, words: &[Vec<u8>]) -> Result<(), Reason> {
        let name = &words[0];
        if self.users.iter().any(|u| u[0] == *name) {
            return Err(
                "Error in user declaration: Duplicate user found. A user can only be defined \
                 once in config files"
                    .to_owned(),
            );
        }
        if crate::acl::rules::has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".to_owned());
        }
        crate::acl::rules::user_from_words(&words[1..]).map_err(|(rule, e)| {
            format!(
                "Error in user declaration '{}': {}",
                String::from_utf8_lossy(&rule),
                e
            )
        })?;
        self.users.push(words.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LogLevel, MaxmemoryPolicy};
    use super::*;
    use std::io::Write;
    use tier_engine::io::IoEngineKind;

    fn run(args: &[&str]) -> Result<Config, ConfigError> {
        match parse_args(args.iter().map(OsString::from))? {
            Startup::Run(config) => Ok(*config),
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn text(conf: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config
            .load_text(conf.as_bytes(), "tier.conf")
            .map(|()| config)
    }

    fn line_error(conf: &str) -> (usize, String, String) {
        match text(conf) {
            Err(ConfigError::Line {
                line, text, reason, ..
            }) => (line, text, reason),
            other => panic!("{conf:?} gave {other:?}"),
        }
    }

    #[test]
    fn no_arguments_give_the_defaults() {
        assert_eq!(run(&[]), Ok(Config::default()));
    }

    #[test]
    fn version_and_help() {
        for (arg, want) in [
            ("-v", Startup::Version),
            ("--version", Startup::Version),
            ("-h", Startup::Help),
            ("--help", Startup::Help),
        ] {
            assert_eq!(
                parse_args([OsString::from(arg), OsString::from("--port")]),
                Ok(want)
            );
        }
    }

    #[test]
    fn file_with_comments_quotes_and_any_case() {
        let c = text(
            "# tier.conf\n\
             \n\
             \t port 7000 \r\n\
             MAXMEMORY 1gb\n\
             maxmemory-policy Allkeys-LFU\n\
             requirepass \"a b\\x41\"\n\
             bind 127.0.0.1 '::1'\n\
             dir '/var/lib/tier'\n\
             logfile \"\"\n\
             loglevel verbose\n\
             slowlog-log-slower-than -1\n\
             protected-mode no\n\
             hz 0\n\
             daemonize no\n\
             # the end",
        )
        .expect("valid");
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(c.maxmemory_policy, MaxmemoryPolicy::AllkeysLfu);
        assert_eq!(c.requirepass.as_deref(), Some(&b"a bA"[..]));
        assert_eq!(c.bind, ["127.0.0.1", "::1"]);
        assert_eq!(c.dir, Path::new("/var/lib/tier"));
        assert_eq!(c.logfile, None);
        assert_eq!(c.loglevel, LogLevel::Verbose);
        assert_eq!(c.slowlog_log_slower_than, -1);
        assert!(!c.protected_mode);
        assert_eq!(c.hz, 1);
        // Later lines override earlier ones.
        assert_eq!(text("port 1\nport 2").map(|c| c.port), Ok(2));
    }

    #[test]
    fn bind_forms() {
        assert_eq!(
            text("bind \"127.0.0.1 ::1\"").map(|c| c.bind),
            Ok(vec!["127.0.0.1".into(), "::1".into()])
        );
        assert_eq!(text("bind \"\"").map(|c| c.bind), Ok(vec![]));
        assert_eq!(text("bind").map(|c| c.bind), Ok(vec![]));
        assert_eq!(
            text("bind * -::*").map(|c| c.bind),
            Ok(vec!["*".into(), "-::*".into()])
        );
        let many = format!("bind {}", "a ".repeat(17));
        assert_eq!(line_error(&many).2, "Too many bind addresses specified.");
    }

    /// The reasons were read from redis-server 7.0.15's FATAL CONFIG FILE ERROR.
    #[test]
    fn file_errors_name_the_line() {
        assert_eq!(
            line_error("port 7779\n# c\n\n  maxmemory 10x  \n"),
            (
                4,
                "maxmemory 10x".to_owned(),
                "argument must be a memory value".to_owned()
            )
        );
        assert_eq!(
            line_error("port 7779\nfoo bar\n"),
            (
                2,
                "foo bar".to_owned(),
                "Bad directive or wrong number of arguments".to_owned()
            )
        );
        assert_eq!(line_error("port 7779 1").2, "wrong number of arguments");
        assert_eq!(line_error("port").2, "wrong number of arguments");
        assert_eq!(
            line_error("port \"7779").2,
            "Unbalanced quotes in configuration line"
        );
        assert_eq!(
            line_error("port 65536").2,
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            line_error("databases 0").2,
            "argument must be between 1 and 2147483647 inclusive"
        );
        assert_eq!(
            line_error("protected-mode 1").2,
            "argument must be 'yes' or 'no'"
        );
        assert!(line_error("daemonize yes")
            .2
            .starts_with("daemonize yes is not supported"));
        assert_eq!(
            line_error("daemonize maybe").2,
            "argument must be 'yes' or 'no'"
        );
        let err = text("\n\nnosuchoption 900 1\n").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "Reading the configuration file tier.conf, at line 3\n>>> 'nosuchoption 900 1'\n\
             Bad directive or wrong number of arguments"
        );
        assert_eq!(line_error("save 900").2, "Invalid save parameters");
        assert_eq!(line_error("save 900 x").2, "Invalid save parameters");
        assert_eq!(
            line_error("dbfilename a/b").2,
            "dbfilename can't be a path, just a filename"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"port 7000\nmaxmemory 1mb\nloglevel warning\n")
            .expect("write");
        let path = file.path().to_string_lossy().into_owned();
        let c = run(&[
            &path,
            "--port",
            "7001",
            "--MAXMEMORY",
            "2mb",
            "--bind",
            "10.0.0.1",
            "::1",
        ])
        .expect("valid");
        assert_eq!(c.port, 7001);
        assert_eq!(c.maxmemory, 2 << 20);
        assert_eq!(c.loglevel, LogLevel::Warning);
        assert_eq!(c.bind, ["10.0.0.1", "::1"]);
        // Without a file; a value may start with `-`, or even `--` right after a name.
        let c = run(&[
            "--slowlog-log-slower-than",
            "-1",
            "--requirepass",
            "--x",
            "--port 7002",
        ])
        .expect("valid");
        assert_eq!(c.slowlog_log_slower_than, -1);
        assert_eq!(c.requirepass.as_deref(), Some(&b"--x"[..]));
        assert_eq!(c.port, 7002);
        assert_eq!(
            run(&["--bind", "127.0.0.1 ::1"]).map(|c| c.bind.len()),
            Ok(2)
        );
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let err = run(&["--maxmemory", "10x"]).expect_err("bad value");
        assert_eq!(
            err.to_string(),
            "Reading the command line\n>>> '--maxmemory 10x'\nargument must be a memory value"
        );
        let err = run(&["--port", "1", "2"]).expect_err("two values");
        assert_eq!(
            err,
            ConfigError::Flag {
                text: "--port 1 2".into(),
                reason: "wrong number of arguments".into()
            }
        );
        let err = run(&["--port"]).expect_err("no value");
        assert_eq!(
            err,
            ConfigError::Flag {
                text: "--port".into(),
                reason: "wrong number of arguments".into()
            }
        );
        let err = run(&["--requirepass", "a b", "--nosuch", ""]).expect_err("unknown");
        assert_eq!(
            err,
            ConfigError::Flag {
                text: "--nosuch \"\"".into(),
                reason: "Bad directive or wrong number of arguments".into()
            }
        );
        assert_eq!(
            run(&["-p", "1"]),
            Err(ConfigError::Argument { arg: "-p".into() })
        );
        assert_eq!(
            run(&["--"]),
            Err(ConfigError::Argument { arg: "--".into() })
        );
        assert!(matches!(
            run(&["--daemonize", "yes"]),
            Err(ConfigError::Flag { .. })
        ));
    }

    #[test]
    fn tier_options_from_the_command_line_and_file() {
        let c = run(&[
            "--tier-segment-size",
            "8mb",
            "--tier-dir",
            "/mnt/nvme0/tier",
            "--tier-io-engine",
            "PSYNC",
            "--tier-max-size",
            "2gb",
            "--tier-min-value-size",
            "4kb",
            "--tier-reclaim-threshold",
            "25",
            "--tier-promote-window",
            "300",
        ])
        .expect("valid");
        assert_eq!(c.tier_segment_size, 8 << 20);
        assert_eq!(c.tier_dir, Path::new("/mnt/nvme0/tier"));
        assert_eq!(c.tier_path(), Path::new("/mnt/nvme0/tier"));
        assert_eq!(c.tier_io_engine, IoEngineKind::Psync);
        assert_eq!(c.tier_max_size, 2 << 30);
        assert_eq!(c.tier_min_value_size, 4096);
        assert_eq!(c.tier_reclaim_threshold, 25);
        assert_eq!(c.tier_promote_window, 300);

        let c = text(
            "dir /var/lib/tier
             tier-dir segments
             tier-io-engine uring
             tier-segment-size 1mb
             tier-min-value-size 0
",
        )
        .expect("valid");
        assert_eq!(c.tier_path(), Path::new("/var/lib/tier/segments"));
        assert_eq!(c.tier_io_engine, IoEngineKind::Uring);
        assert_eq!(c.tier_segment_size, 1 << 20);
        assert_eq!(c.tier_min_value_size, 0);
        // The bounds themselves, and a multiple of 4096 given in plain bytes.
        for (value, want) in [
            ("67108864", 64 << 20),
            ("64mb", 64 << 20),
            ("1048576", 1 << 20),
            ("1052672", (1 << 20) + 4096),
        ] {
            assert_eq!(
                run(&["--tier-segment-size", value]).map(|c| c.tier_segment_size),
                Ok(want),
                "{value}"
            );
        }
    }

    #[test]
    fn tier_option_errors() {
        let reason = |args: &[&str]| match run(args) {
            Err(ConfigError::Flag { reason, .. }) => reason,
            other => panic!("{args:?} gave {other:?}"),
        };
        let between = "argument must be between 1048576 and 67108864 inclusive";
        assert_eq!(reason(&["--tier-segment-size", "128mb"]), between);
        assert_eq!(reason(&["--tier-segment-size", "67112960"]), between);
        assert_eq!(reason(&["--tier-segment-size", "1044480"]), between);
        assert_eq!(reason(&["--tier-segment-size", "0"]), between);
        assert_eq!(
            reason(&["--tier-segment-size", "10m"]),
            "argument must be a multiple of 4096"
        );
        assert_eq!(
            reason(&["--tier-segment-size", "1048577"]),
            "argument must be a multiple of 4096"
        );
        assert_eq!(
            reason(&["--tier-segment-size", "8 mb"]),
            "argument must be a memory value"
        );
        assert_eq!(
            reason(&["--tier-io-engine", "aio"]),
            "argument(s) must be one of the following: auto, uring, psync"
        );
        assert_eq!(
            reason(&["--tier-io-engine", ""]),
            "argument(s) must be one of the following: auto, uring, psync"
        );
        assert_eq!(reason(&["--tier-dir", ""]), "tier-dir can't be empty");
        assert_eq!(
            reason(&["--tier-max-size", "1tb"]),
            "argument must be a memory value"
        );
        assert_eq!(
            reason(&["--tier-reclaim-threshold", "0"]),
            "argument must be between 1 and 100 inclusive"
        );
        assert_eq!(
            reason(&["--tier-reclaim-threshold", "50%"]),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            reason(&["--tier-promote-window", "-1"]),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        let err = run(&["--tier-segment-size", "100mb"]).expect_err("too large");
        assert_eq!(
            err.to_string(),
            "Reading the command line\n>>> '--tier-segment-size 100mb'\n\
             argument must be between 1048576 and 67108864 inclusive"
        );
        assert_eq!(
            line_error("port 7000\ntier-io-engine libaio\n"),
            (
                2,
                "tier-io-engine libaio".to_owned(),
                "argument(s) must be one of the following: auto, uring, psync".to_owned()
            )
        );
    }

    #[test]
    fn missing_file() {
        let err = run(&["/nonexistent/tier.conf"]).expect_err("no file");
        assert_eq!(
            err.to_string(),
            "Fatal error, can't open config file '/nonexistent/tier.conf': \
             No such file or directory (os error 2)"
        );
    }
}
