//! The command table: for every command its name, arity, flags, key positions and
//! handler, as Redis's `redisCommandTable`. The connection looks commands up here; the
//! COMMAND command reports from here; locking and ACLs (later) read the flags.

use super::Ctx;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Runs one command: reads `ctx.args` (the command name first) and writes one reply.
pub type Handler = fn(&mut Ctx<'_>);

/// Command properties, as the flags Redis reports in COMMAND INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    /// Changes the keyspace.
    pub const WRITE: Flags = Flags(1);
    /// Reads the keyspace.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use: refused with -OOM above maxmemory.
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// Runs before authentication.
    pub const NO_AUTH: Flags = Flags(1 << 4);
    /// Served while loading data.
    pub const LOADING: Flags = Flags(1 << 5);
    /// Served while the server is stale.
    pub const STALE: Flags = Flags(1 << 6);
    /// Fast: O(1) or O(log N).
    pub const FAST: Flags = Flags(1 << 7);
    /// Not recorded in SLOWLOG's arguments (AUTH, HELLO).
    pub const NO_SLOWLOG_ARGS: Flags = Flags(1 << 8);
    /// Output depends on time or randomness.
    pub const NONDETERMINISTIC: Flags = Flags(1 << 9);
    /// Allowed inside pub/sub context (RESP2).
    pub const PUBSUB: Flags = Flags(1 << 10);
    /// Blocks or may take long.
    pub const BLOCKING: Flags = Flags(1 << 11);
    /// Its keys are found from the arguments (a key count): COMMAND INFO's
    /// `movablekeys`. Set from the key spec, not in the table.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 14);
    /// Reads none of its keys' values (DEL, EXISTS, TTL, SET...): the connection
    /// loads no cold value before running it. Internal, not reported by COMMAND.
    pub const KEYS_ONLY: Flags = Flags(1 << 12);
    /// Refused inside MULTI (SAVE, SHUTDOWN, WATCH...).
    pub const NO_MULTI: Flags = Flags(1 << 13);
    /// Refused from a Lua script's `redis.call` (MULTI, SUBSCRIBE, BLPOP, CONFIG...).
    pub const NO_SCRIPT: Flags = Flags(1 << 15);

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flag names COMMAND INFO reports, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(Flags, &str); 13] = [
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::PUBSUB, "pubsub"),
            (Flags::NO_SCRIPT, "noscript"),
            (Flags::BLOCKING, "blocking"),
            (Flags::LOADING, "loading"),
            (Flags::STALE, "stale"),
            (Flags::FAST, "fast"),
            (Flags::NO_AUTH, "no_auth"),
            (Flags::NO_MULTI, "no_multi"),
            (Flags::MOVABLE_KEYS, "movablekeys"),
        ];
        NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|&(_, n)| n)
            .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// Where a command's key arguments are: `first..=last` stepping by `step`, with
/// `last` negative counting from the end (-1 = the last argument); or, with `numkeys`
/// set, as many keys as the argument at that index says, right after it (SINTERCARD:
/// Redis's `movablekeys`, whose legacy triple is all zero); both for ZUNIONSTORE's
/// destination then its sources; and with `parsed`, further keys only the command's
/// own syntax places (SORT's STORE). All zero: no keys.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
    pub numkeys: i32,
    pub parsed: Option<&'static ParsedKeys>,
}

/// Keys that only a command's own parser can place (Redis's `getkeys_proc`: SORT's
/// STORE destination may come anywhere among its options), and the key specs of
/// unknown place COMMAND INFO shows for them. Such a command is `movablekeys`.
#[derive(Debug)]
pub struct ParsedKeys {
    /// The indexes of such keys in a request (command name included).
    pub find: fn(&[bytes::Bytes]) -> SmallVec<[usize; 4]>,
    /// The flags of the ranged key spec (SORT reads its key although it writes).
    pub range_flags: &'static [&'static str],
    /// The key specs of unknown place after the ranged one: their notes and flags.
    pub unknown: &'static [(&'static str, &'static [&'static str])],
}

impl KeySpec {
    pub const NONE: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        numkeys: 0,
        parsed: None,
    };
    /// One key, the first argument.
    pub const ONE: KeySpec = KeySpec {
        first: 1,
        last: 1,
        step: 1,
        numkeys: 0,
        parsed: None,
    };
    /// Every argument is a key.
    pub const ALL: KeySpec = KeySpec {
        first: 1,
        last: -1,
        step: 1,
        numkeys: 0,
        parsed: None,
    };

    pub const fn new(first: i32, last: i32, step: i32) -> KeySpec {
        KeySpec {
            first,
            last,
            step,
            numkeys: 0,
            parsed: None,
        }
    }

    /// Keys counted by the argument at index `at`, following it.
    pub const fn counted_at(at: i32) -> KeySpec {
        KeySpec {
            numkeys: at,
            ..KeySpec::NONE
        }
    }

    /// These keys, then the keys counted by the argument at index `at` (ZUNIONSTORE's
    /// destination, then its sources).
    pub const fn and_counted_at(self, at: i32) -> KeySpec {
        KeySpec {
            numkeys: at,
            ..self
        }
    }

    /// These keys, then those `parsed` finds.
    pub const fn and_parsed(self, parsed: &'static ParsedKeys) -> KeySpec {
        KeySpec {
            parsed: Some(parsed),
            ..self
        }
    }

    /// Whether COMMAND INFO calls the command `movablekeys`: its keys are not all at
    /// fixed places.
    pub fn movable(&self) -> bool {
        self.numkeys != 0 || self.parsed.is_some()
    }

    /// Whether the command takes keys.
    pub fn has_keys(&self) -> bool {
        self.first != 0 || self.numkeys != 0
    }

    /// Indexes of the key arguments of `args` (command name included). A key count
    /// that is not a number, or that runs past the arguments, gives no counted keys.
    pub fn key_indexes(&self, args: &[bytes::Bytes]) -> SmallVec<[usize; 4]> {
        let mut keys: SmallVec<[usize; 4]> = self.positions(args.len()).collect();
        if let Some(parsed) = self.parsed {
            keys.extend((parsed.find)(args));
        }
        if self.numkeys == 0 {
            return keys;
        }
        let at = self.numkeys as usize;
        let count = args
            .get(at)
            .and_then(|n| crate::num::parse_i64(n))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| at + n < args.len());
        keys.extend(count.map_or(0..0, |n| at + 1..at + n + 1));
        keys
    }

    /// Indexes of the key arguments in `argc` arguments (command name included).
    fn positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let argc = argc as i64;
        let first = i64::from(self.first);
        let last = if self.last < 0 {
            argc + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        let step = i64::from(self.step.max(1));
        let end = if self.first == 0 {
            0
        } else {
            last.min(argc - 1) + 1
        };
        (first..end.max(first))
            .step_by(step as usize)
            .map(|i| i as usize)
    }
}

/// One command (or subcommand) of the table.
pub struct CommandSpec {
    /// Lower-case name; for a subcommand the subcommand alone (e.g. "getname").
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub flags: Flags,
    pub keys: KeySpec,
    /// Redis's command group, for COMMAND DOCS ("string", "generic", "server", ...).
    pub group: &'static str,
    /// One line, for COMMAND DOCS.
    pub summary: &'static str,
    /// Redis version that introduced it, for COMMAND DOCS.
    pub since: &'static str,
    /// Redis's complexity line, for COMMAND DOCS.
    pub complexity: &'static str,
    /// The argument syntax after the name, as Redis's docs write it, e.g.
    /// `key value [NX | XX]`; COMMAND DOCS and redis-cli's hints come from it.
    pub syntax: &'static str,
    /// Runs the command. For a container of subcommands, it dispatches to them.
    pub handler: Handler,
    /// Subcommands (CONFIG GET, CLIENT LIST, ...).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A container's HELP subcommand (`CONFIG HELP`, `CLIENT HELP`, ...): they differ
    /// only in group, version and handler.
    pub const fn help(group: &'static str, since: &'static str, handler: Handler) -> CommandSpec {
        CommandSpec {
            name: "help",
            arity: 2,
            flags: Flags::LOADING.union(Flags::STALE),
            keys: KeySpec::NONE,
            group,
            summary: "Show helpful text about the different subcommands",
            since,
            complexity: "O(1)",
            syntax: "",
            handler,
            subcommands: &[],
        }
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as i64;
        let argc = argc as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The subcommand named `name` (any case).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Every top-level command, by lower-case name.
pub fn commands() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        super::FAMILIES
            .iter()
            .flat_map(|family| family.iter())
            .map(|spec| (spec.name, spec))
            .collect()
    })
}

/// Looks a command up by name, in any case, without allocating for short names.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    commands().get(std::str::from_utf8(lower).ok()?).copied()
}

/// The spec that runs `argv` (a request, the command name first): the command's own,
/// or for a container (CONFIG, OBJECT...) its subcommand's. None for an unknown
/// command or subcommand.
pub fn resolve(argv: &[bytes::Bytes]) -> Option<&'static CommandSpec> {
    let base = lookup(argv.first()?)?;
    match base.subcommands {
        [] => Some(base),
        _ => argv.get(1).and_then(|sub| base.subcommand(sub)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions() {
        assert_eq!(KeySpec::ONE.positions(3).collect::<Vec<_>>(), [1]);
        assert_eq!(KeySpec::ALL.positions(4).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            KeySpec::new(1, -1, 2).positions(5).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(KeySpec::NONE.positions(5).count(), 0);
        let args = |a: &[&'static str]| -> Vec<bytes::Bytes> {
            a.iter()
                .map(|s| bytes::Bytes::from_static(s.as_bytes()))
                .collect()
        };
        let counted = KeySpec::counted_at(1);
        assert_eq!(
            counted.key_indexes(&args(&["sintercard", "2", "a", "b", "LIMIT", "1"]))[..],
            [2, 3]
        );
        let store = KeySpec::ONE.and_counted_at(2);
        assert_eq!(
            store.key_indexes(&args(&[
                "zunionstore",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ]))[..],
            [1, 3, 4]
        );
        assert_eq!(
            store.key_indexes(&args(&["zunionstore", "d", "x", "a"]))[..],
            [1]
        );
        for bad in [
            &["sintercard", "3", "a", "b"][..],
            &["sintercard", "x", "a"],
        ] {
            assert!(counted.key_indexes(&args(bad)).is_empty());
        }
    }

    #[test]
    fn every_command_is_unique_and_lower_case() {
        let total: usize = super::super::FAMILIES.iter().map(|f| f.len()).sum();
        assert_eq!(commands().len(), total, "a name appears twice");
        for name in commands().keys() {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
}
