//! What the ACL rules know about each command of the table: an id (its bit in a
//! selector's command set), its ACL categories exactly as Redis 7.0 assigns them
//! (derived from the flags and the group, plus Redis's explicit extras), and how a
//! command touches each of its keys (read, write) for `%R~` / `%W~` patterns.

use crate::cmd::table::{self, CommandSpec, Flags};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Redis 7.0's ACL categories, in its order (ACL CAT, COMMAND INFO).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A set of categories: bit `i` is `CATEGORIES[i]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Categories(u32);

impl Categories {
    pub fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    fn with(self, name: &str) -> Categories {
        match category_index(name.as_bytes()) {
            Some(i) => Categories(self.0 | 1 << i),
            None => self,
        }
    }

    /// The names, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CATEGORIES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.contains(*i))
            .map(|(_, name)| *name)
    }
}

/// The index of a category name (any case) in [`CATEGORIES`].
pub fn category_index(name: &[u8]) -> Option<usize> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

/// Categories Redis 7.0 gives a command beyond those its flags and group imply (its
/// commands' JSON `acl_categories`). A container's subcommands have them too.
const EXTRA_CATEGORIES: &[(&str, &[&str])] = &[
    ("command", &["connection"]),
    ("dbsize", &["keyspace"]),
    ("flushall", &["keyspace", "dangerous"]),
    ("flushdb", &["keyspace", "dangerous"]),
    ("info", &["dangerous"]),
    ("keys", &["dangerous"]),
    ("lastsave", &["admin", "dangerous"]),
    ("restore", &["dangerous"]),
    ("sort", &["set", "sortedset", "list", "dangerous"]),
    ("sort_ro", &["set", "sortedset", "list", "dangerous"]),
    ("swapdb", &["keyspace", "dangerous"]),
];

/// Commands Redis 7.0 leaves out of their group's category: containers, the HELP of
/// PUBSUB, and SORT and SORT_RO (in the categories of the types they sort instead).
const WITHOUT_GROUP_CATEGORY: &[&str] = &[
    "client",
    "object",
    "pubsub",
    "pubsub|help",
    "script",
    "sort",
    "sort_ro",
];

/// How a command touches a key, as Redis's key-spec flags mean it to ACLs: `read`
/// (ACCESS: the value is returned or used), `write` (INSERT, UPDATE or DELETE).
/// Neither (TYPE, EXISTS...) means any key pattern of the user lets it through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyAccess {
    pub read: bool,
    pub write: bool,
}

const NONE: KeyAccess = KeyAccess {
    read: false,
    write: false,
};
const R: KeyAccess = KeyAccess {
    read: true,
    write: false,
};
const W: KeyAccess = KeyAccess {
    read: false,
    write: true,
};
const RW: KeyAccess = KeyAccess {
    read: true,
    write: true,
};

/// The key access of commands whose keys differ from what their flags say (a
/// read-only command reads every key, a writing one reads and writes them): the
/// first key's, then every other key's, from Redis 7.0's key specs.
const KEY_ACCESS: &[(&str, KeyAccess, KeyAccess)] = &[
    // Writes without reading the value.
    ("append", W, W),
    ("del", W, W),
    ("expire", W, W),
    ("expireat", W, W),
    ("hdel", W, W),
    ("hmset", W, W),
    ("hset", W, W),
    ("hsetnx", W, W),
    ("linsert", W, W),
    ("lpush", W, W),
    ("lpushx", W, W),
    ("lrem", W, W),
    ("lset", W, W),
    ("ltrim", W, W),
    ("mset", W, W),
    ("msetnx", W, W),
    ("persist", W, W),
    ("pexpire", W, W),
    ("pexpireat", W, W),
    ("psetex", W, W),
    ("restore", W, W),
    ("rpush", W, W),
    ("rpushx", W, W),
    ("sadd", W, W),
    ("setex", W, W),
    ("setnx", W, W),
    ("setrange", W, W),
    ("srem", W, W),
    ("unlink", W, W),
    ("zadd", W, W),
    ("zrem", W, W),
    ("zremrangebylex", W, W),
    ("zremrangebyrank", W, W),
    ("zremrangebyscore", W, W),
    // Look at the key, not its value.
    ("exists", NONE, NONE),
    ("hexists", NONE, NONE),
    ("hlen", NONE, NONE),
    ("hstrlen", NONE, NONE),
    ("llen", NONE, NONE),
    ("object|encoding", NONE, NONE),
    ("object|freq", NONE, NONE),
    ("object|idletime", NONE, NONE),
    ("object|refcount", NONE, NONE),
    ("scard", NONE, NONE),
    ("sismember", NONE, NONE),
    ("strlen", NONE, NONE),
    ("touch", NONE, NONE),
    ("type", NONE, NONE),
    ("watch", NONE, NONE),
    ("zcard", NONE, NONE),
    // A source taken from, then a destination written.
    ("blmove", RW, W),
    ("brpoplpush", RW, W),
    ("lmove", RW, W),
    ("rename", RW, W),
    ("renamenx", RW, W),
    ("rpoplpush", RW, W),
    ("smove", RW, W),
    ("copy", R, W),
    // The sorted key read, STORE's destination written.
    ("sort", R, W),
    // A destination written from sources read.
    ("sdiffstore", W, R),
    ("sinterstore", W, R),
    ("sunionstore", W, R),
    ("zdiffstore", W, R),
    ("zinterstore", W, R),
    ("zrangestore", W, R),
    ("zunionstore", W, R),
];

/// Commands whose key positions name shard channels, not keys (Redis's NOT_KEY key
/// specs): ACL key patterns do not apply to them.
const NOT_KEYS: &[&str] = &["spublish", "ssubscribe", "sunsubscribe"];

/// Where a command names Pub/Sub channels, for `&` patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    None,
    /// The first argument (PUBLISH, SPUBLISH).
    First,
    /// Every argument (SUBSCRIBE, SSUBSCRIBE).
    All,
    /// Every argument, each a pattern matched literally (PSUBSCRIBE).
    AllPatterns,
}

/// One command or subcommand, as ACLs see it.
pub struct CommandInfo {
    pub spec: &'static CommandSpec,
    /// `get`, or `config|get` for a subcommand.
    pub full_name: &'static str,
    /// The container of a subcommand.
    pub parent: Option<&'static CommandSpec>,
    /// Its bit in a selector's command set.
    pub id: usize,
    pub categories: Categories,
    first_key: KeyAccess,
    other_keys: KeyAccess,
    /// Whether its key positions are keys at all.
    pub has_keys: bool,
    pub channels: Channels,
}

impl CommandInfo {
    /// How the command touches its `nth` key (0 = the first of
    /// [`table::KeySpec::key_indexes`]), given the request `args`.
    pub fn key_access(&self, args: &[Bytes], nth: usize) -> KeyAccess {
        // SET reads the old value only with GET (Redis's VARIABLE_FLAGS).
        if self.full_name == "set" {
            let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            return if get { RW } else { W };
        }
        if nth == 0 {
            self.first_key
        } else {
            self.other_keys
        }
    }
}

struct Catalog {
    /// Top-level commands by name, each followed by its subcommands by name.
    commands: Vec<CommandInfo>,
    by_spec: HashMap<usize, usize>,
    by_name: HashMap<&'static str, usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut top: Vec<&'static CommandSpec> = table::commands().values().copied().collect();
        top.sort_unstable_by_key(|s| s.name);
        let mut commands = Vec::new();
        for spec in top {
            commands.push(describe(spec, None, spec.name));
            let mut subs: Vec<&'static CommandSpec> = spec.subcommands.iter().collect();
            subs.sort_unstable_by_key(|s| s.name);
            for sub in subs {
                // A bounded, one-time allocation: one name per subcommand of the table.
                let full: &'static str =
                    Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str());
                commands.push(describe(sub, Some(spec), full));
            }
        }
        assert!(
            commands.len() < super::rules::MAX_COMMANDS,
            "a selector's command set has room for {} commands",
            super::rules::MAX_COMMANDS
        );
        for (id, info) in commands.iter_mut().enumerate() {
            info.id = id;
        }
        let by_spec = commands.iter().map(|c| (spec_key(c.spec), c.id)).collect();
        let by_name = commands.iter().map(|c| (c.full_name, c.id)).collect();
        Catalog {
            commands,
            by_spec,
            by_name,
        }
    })
}

fn spec_key(spec: &'static CommandSpec) -> usize {
    spec as *const CommandSpec as usize
}

fn describe(
    spec: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    full_name: &'static str,
) -> CommandInfo {
    let base = parent.map_or(spec.name, |p| p.name);
    let (first_key, other_keys) = KEY_ACCESS
        .iter()
        .find(|(name, _, _)| *name == full_name)
        .map(|&(_, first, others)| (first, others))
        .unwrap_or_else(|| {
            let access = if spec.flags.contains(Flags::WRITE) {
                RW
            } else {
                R
            };
            (access, access)
        });
    let channels = match full_name {
        "publish" | "spublish" => Channels::First,
        "subscribe" | "ssubscribe" => Channels::All,
        "psubscribe" => Channels::AllPatterns,
        _ => Channels::None,
    };
    CommandInfo {
        spec,
        full_name,
        parent,
        id: 0,
        categories: categories_of(spec, full_name, base),
        first_key,
        other_keys,
        has_keys: spec.keys.has_keys() && !NOT_KEYS.contains(&full_name),
        channels,
    }
}

/// Redis's implicit categories (`setImplicitACLCategories`: from the flags), the
/// group's category, and the explicit extras.
fn categories_of(spec: &CommandSpec, full_name: &str, base: &str) -> Categories {
    let flags = spec.flags;
    let mut cats = Categories::default();
    let implied = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "read"),
        (Flags::ADMIN, "admin"),
        (Flags::ADMIN, "dangerous"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::FAST, "fast"),
        (Flags::BLOCKING, "blocking"),
    ];
    for (flag, name) in implied {
        // Redis leaves the read-only scripting commands (EVAL_RO...) out of `read`.
        let scripting_read = name == "read" && spec.group == "scripting";
        if flags.contains(flag) && !scripting_read {
            cats = cats.with(name);
        }
    }
    if !flags.contains(Flags::FAST) {
        cats = cats.with("slow");
    }
    let group = match spec.group {
        "generic" => "keyspace",
        "sorted-set" => "sortedset",
        "transactions" => "transaction",
        other => other,
    };
    if !WITHOUT_GROUP_CATEGORY.contains(&full_name) {
        cats = cats.with(group);
    }
    for (name, extra) in EXTRA_CATEGORIES {
        if *name == base {
            for category in *extra {
                cats = cats.with(category);
            }
        }
    }
    cats
}

/// Every command and subcommand, top-level commands by name, each followed by its
/// subcommands.
pub fn all() -> &'static [CommandInfo] {
    &catalog().commands
}

/// The entry of a spec of the table.
pub fn of(spec: &'static CommandSpec) -> &'static CommandInfo {
    let catalog = catalog();
    let id = catalog.by_spec[&spec_key(spec)];
    &catalog.commands[id]
}

/// A command by its full name (`get`, `config|get`), any case.
pub fn by_name(name: &[u8]) -> Option<&'static CommandInfo> {
    let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    let catalog = catalog();
    catalog
        .by_name
        .get(lower.as_str())
        .map(|&id| &catalog.commands[id])
}

/// The subcommands of a container, as catalog entries.
pub fn subcommands_of(info: &CommandInfo) -> &'static [CommandInfo] {
    let commands = &catalog().commands;
    let count = info.spec.subcommands.len();
    match info.parent {
        None => &commands[info.id + 1..info.id + 1 + count],
        Some(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(name: &str) -> Vec<&'static str> {
        by_name(name.as_bytes())
            .expect(name)
            .categories
            .names()
            .collect()
    }

    #[test]
    fn categories_as_redis_assigns_them() {
        assert_eq!(cats("get"), ["read", "string", "fast"]);
        assert_eq!(cats("set"), ["write", "string", "slow"]);
        assert_eq!(cats("config|get"), ["admin", "slow", "dangerous"]);
        assert_eq!(cats("keys"), ["keyspace", "read", "slow", "dangerous"]);
        assert_eq!(cats("command|info"), ["slow", "connection"]);
        assert_eq!(cats("client"), ["slow"]);
        assert_eq!(cats("pubsub|help"), ["slow"]);
        assert_eq!(
            cats("sort"),
            ["write", "set", "sortedset", "list", "slow", "dangerous"]
        );
    }

    #[test]
    fn ids_follow_the_listing() {
        for (i, info) in all().iter().enumerate() {
            assert_eq!(info.id, i);
            assert!(std::ptr::eq(of(info.spec), info));
        }
        let config = by_name(b"CONFIG").expect("config");
        let subs: Vec<&str> = subcommands_of(config).iter().map(|c| c.full_name).collect();
        assert!(subs.contains(&"config|get"));
        assert!(subs.iter().all(|s| s.starts_with("config|")));
    }

    #[test]
    fn key_access_by_shape() {
        let args = |a: &[&'static str]| -> Vec<Bytes> {
            a.iter().map(|s| Bytes::from_static(s.as_bytes())).collect()
        };
        let access = |name: &str, a: &[&'static str], nth| {
            by_name(name.as_bytes())
                .expect(name)
                .key_access(&args(a), nth)
        };
        assert_eq!(access("get", &["get", "k"], 0), R);
        assert_eq!(access("incr", &["incr", "k"], 0), RW);
        assert_eq!(access("set", &["set", "k", "v"], 0), W);
        assert_eq!(access("set", &["set", "k", "v", "get"], 0), RW);
        assert_eq!(access("sinterstore", &["sinterstore", "d", "a"], 0), W);
        assert_eq!(access("sinterstore", &["sinterstore", "d", "a"], 1), R);
        assert_eq!(access("lmove", &["lmove", "a", "b", "left", "left"], 1), W);
        assert_eq!(access("type", &["type", "k"], 0), NONE);
        assert_eq!(access("sort", &["sort", "k", "store", "d"], 0), R);
        assert_eq!(access("sort", &["sort", "k", "store", "d"], 1), W);
        assert!(!by_name(b"spublish").expect("spublish").has_keys);
    }
}
