//! A user's ACL rules as Redis 7.0 keeps them: flags, SHA-256 password hashes, a root
//! selector and extra selectors `(...)`, each with a command set, key patterns and
//! channel patterns. [`UserRules::apply`] reads one rule (`on`, `>pass`, `+@read`,
//! `%R~key*`, ...) as ACL SETUSER and the aclfile do, [`UserRules::describe`] writes
//! them back in that syntax (ACL LIST, ACL SAVE), and [`UserRules::check`] judges a
//! command against them.

use super::catalog::{self, category_index, Channels, CommandInfo};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tier_engine::glob::glob_match;

/// Words of a selector's command set: one bit per command id, and the last bit for
/// "commands added later" (set only by `+@all`), as Redis's reserved bit.
const WORDS: usize = 8;
const FUTURE_BIT: usize = WORDS * 64 - 1;
/// How many commands and subcommands a selector can tell apart.
pub const MAX_COMMANDS: usize = FUTURE_BIT;

/// A rule that cannot be applied, with Redis's explanation (ACL SETUSER prints
/// `Error in ACL SETUSER modifier '<rule>': <this>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAllKeys,
    ChannelAfterAllChannels,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAllKeys => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAllChannels => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list of \
                 channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// Why a command is denied, and the argument at fault (for ACL LOG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// The index of the key argument.
    Key(usize),
    /// The index of the channel argument.
    Channel(usize),
}

impl Denied {
    /// Redis's order of relevance when several selectors deny: command < key <
    /// channel, then the later argument.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (0, 0),
            Denied::Key(i) => (1, i),
            Denied::Channel(i) => (2, i),
        }
    }
}

/// A key pattern and what it grants (`~` both, `%R~` read, `%W~` write).
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeyPattern {
    pattern: Vec<u8>,
    read: bool,
    write: bool,
}

/// A set of permissions: commands, keys, channels.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    commands: [u64; WORDS],
    /// `+@all` with nothing taken away since: every command, no bit test needed.
    all_commands: bool,
    /// `+cmd|arg`: first arguments allowed for a command otherwise denied, by id.
    first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    fn bit(&self, id: usize) -> bool {
        self.commands[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.commands[id / 64] |= 1 << (id % 64);
        } else {
            self.commands[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Allows or denies a command, and with a container every subcommand.
    fn change(&mut self, info: &CommandInfo, allow: bool) {
        self.set_bit(info.id, allow);
        self.first_args.remove(&info.id);
        for sub in catalog::subcommands_of(info) {
            self.set_bit(sub.id, allow);
        }
    }

    fn change_category(&mut self, index: usize, allow: bool) {
        for info in catalog::all() {
            if info.categories.contains(index) {
                self.change(info, allow);
            }
        }
    }

    fn set_all_commands(&mut self, allow: bool) {
        self.commands = [if allow { u64::MAX } else { 0 }; WORDS];
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies a selector rule (commands, keys, channels).
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            // Only a selector's quoted `""` gets here: Redis finds no rule in it.
            return Err(RuleError::Syntax);
        }
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all_commands(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all_commands(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAllChannels);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let index = category_index(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.change_category(index, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let info = catalog::by_name(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change(info, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`. As Redis 7.0 reads
    /// them: a `%` rule needs R or W (`%~a` is a syntax error), and one that ends
    /// before its `~` (`%R`, `%RW`) gives the empty pattern.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAllKeys);
        }
        let (mut read, mut write) = (false, false);
        let mut offset = 1;
        if op[0] == b'%' {
            while let Some(&c) = op.get(offset) {
                offset += 1;
                match c.to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => break,
                    _ => return Err(RuleError::Syntax),
                }
            }
            if !read && !write {
                return Err(RuleError::Syntax);
            }
        } else {
            (read, write) = (true, true);
        }
        let pattern = &op[offset..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|first-arg` for a command without
    /// subcommands.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let info = catalog::by_name(name).ok_or(RuleError::UnknownCommand)?;
            self.change(info, true);
            return Ok(());
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let base = catalog::by_name(base).ok_or(RuleError::UnknownCommand)?;
        if base.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !base.spec.subcommands.is_empty() {
            let sub = catalog::by_name(name).ok_or(RuleError::UnknownCommand)?;
            self.change(sub, true);
            return Ok(());
        }
        tracing::warn!(
            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a \
             misuse of ACL and may get disabled in the future (offender: +{})",
            String::from_utf8_lossy(name)
        );
        let args = self.first_args.entry(base.id).or_default();
        if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
            args.push(arg.to_vec());
        }
        Ok(())
    }

    /// Whether this selector lets `args` run as `info` (Redis's
    /// `ACLSelectorCheckCmd`).
    fn check(&self, info: &CommandInfo, args: &[Bytes]) -> Result<(), Denied> {
        let no_auth = info.spec.flags.contains(crate::cmd::table::Flags::NO_AUTH);
        if !self.all_commands && !no_auth && !self.bit(info.id) {
            let at = if info.parent.is_some() { 2 } else { 1 };
            let allowed = self.first_args.get(&info.id).is_some_and(|allowed| {
                args.get(at)
                    .is_some_and(|arg| allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)))
            });
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && info.has_keys {
            let indexes = info.spec.keys.key_indexes(args);
            for (nth, &i) in indexes.iter().enumerate() {
                let access = info.key_access(args, nth);
                let granted = self.keys.iter().any(|p| {
                    (p.read || !access.read)
                        && (p.write || !access.write)
                        && glob_match(&p.pattern, &args[i], false)
                });
                if !granted {
                    return Err(Denied::Key(i));
                }
            }
        }
        if !self.all_channels {
            let (range, literal) = match info.channels {
                Channels::None => (0..0, false),
                Channels::First => (1..args.len().min(2), false),
                Channels::All => (1..args.len(), false),
                Channels::AllPatterns => (1..args.len(), true),
            };
            for i in range {
                if !self.channel_allowed(&args[i], literal) {
                    return Err(Denied::Channel(i));
                }
            }
        }
        Ok(())
    }

    /// Whether this selector may read any key: `allkeys`, or a pattern `*` that
    /// allows reading (Redis's `ACLSelectorHasUnrestrictedKeyAccess` for reads).
    fn reads_any_key(&self) -> bool {
        self.all_keys || self.keys.iter().any(|p| p.read && p.pattern == b"*")
    }

    /// Whether a channel (or, `literal`, a pattern as PSUBSCRIBE names it) is allowed.
    fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| match literal {
                true => p == channel,
                false => glob_match(p, channel, false),
            })
    }

    /// Redis's `ACLDescribeSelector`: keys, channels, then the command rules.
    fn describe(&self, out: &mut Vec<u8>) {
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for pattern in &self.keys {
                describe_key_pattern(pattern, out);
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for channel in &self.channels {
                out.push(b'&');
                out.extend_from_slice(channel);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
    }

    /// The key patterns as ACL GETUSER shows them: `~*`, or each pattern.
    pub fn keys_text(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, pattern) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            describe_key_pattern(pattern, &mut out);
        }
        out
    }

    /// The channel patterns, as given.
    pub fn channels_list(&self) -> &[Vec<u8>] {
        &self.channels
    }

    /// The channel patterns as ACL GETUSER shows them.
    pub fn channels_text(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, channel) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(channel);
        }
        out
    }

    /// Redis's `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then the
    /// categories that fit best (each with more commands in common than not, fewest
    /// differences first), then single commands and first arguments for the rest.
    /// Single commands come in the table's name order (Redis's order is its hash
    /// table's, which changes from run to run).
    pub fn describe_commands(&self) -> Vec<u8> {
        let additive = !self.bit(FUTURE_BIT);
        let mut fake = Selector::default();
        fake.set_all_commands(!additive);
        let mut rules = Vec::from(if additive {
            &b"-@all "[..]
        } else {
            &b"+@all "[..]
        });
        let mut left = self.clone();
        let mut applied = [false; catalog::CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (index, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = left.count_category(index);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(index);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(index) = best else { break };
            fake.change_category(index, additive);
            left.change_category(index, !additive);
            rules.push(if additive { b'+' } else { b'-' });
            rules.push(b'@');
            rules.extend_from_slice(catalog::CATEGORIES[index].as_bytes());
            rules.push(b' ');
            applied[index] = true;
        }
        for info in catalog::all() {
            let mine = self.bit(info.id);
            if mine != fake.bit(info.id) {
                rules.push(if mine { b'+' } else { b'-' });
                rules.extend_from_slice(info.full_name.as_bytes());
                rules.push(b' ');
                fake.change(info, mine);
            }
            if !mine {
                for arg in self.first_args.get(&info.id).into_iter().flatten() {
                    rules.push(b'+');
                    rules.extend_from_slice(info.full_name.as_bytes());
                    rules.push(b'|');
                    // As given: a first argument is bytes, not necessarily UTF-8.
                    rules.extend_from_slice(arg);
                    rules.push(b' ');
                }
            }
        }
        rules.pop();
        rules
    }

    /// How many commands of a category this selector allows and denies.
    fn count_category(&self, index: usize) -> (usize, usize) {
        let mut on_off = (0, 0);
        for info in catalog::all() {
            if info.categories.contains(index) {
                match self.bit(info.id) {
                    true => on_off.0 += 1,
                    false => on_off.1 += 1,
                }
            }
        }
        on_off
    }

    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }
}

fn describe_key_pattern(pattern: &KeyPattern, out: &mut Vec<u8>) {
    match (pattern.read, pattern.write) {
        (true, false) => out.extend_from_slice(b"%R~"),
        (false, true) => out.extend_from_slice(b"%W~"),
        _ => out.push(b'~'),
    }
    out.extend_from_slice(&pattern.pattern);
}

/// Redis's `ACLStringHasSpaces`: spaces and control characters are not allowed in
/// patterns and user names.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b.is_ascii_whitespace() || b == 0)
}

/// The SHA-256 of a password: the only form a password is kept in.
pub type PasswordHash = [u8; 32];

pub fn hash_password(password: &[u8]) -> PasswordHash {
    Sha256::digest(password).into()
}

/// Compares two hashes in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &PasswordHash, b: &PasswordHash) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A hash given as `#hex` or `!hex`: exactly 64 lowercase hex characters.
fn parse_hash(hex: &[u8]) -> Result<PasswordHash, RuleError> {
    if hex.len() != 64 {
        return Err(RuleError::BadHash);
    }
    let mut hash = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(RuleError::BadHash),
        };
        hash[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Ok(hash)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sanitize-payload` / `skip-sanitize-payload`, shown only once set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayloadCheck {
    Unset,
    Sanitize,
    Skip,
}

/// Everything one user is: Redis's `user` struct without its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRules {
    pub enabled: bool,
    pub nopass: bool,
    sanitize: PayloadCheck,
    passwords: Vec<PasswordHash>,
    root: Selector,
    selectors: Vec<Selector>,
}

impl Default for UserRules {
    /// A new user: off, no password, no permission.
    fn default() -> Self {
        UserRules {
            enabled: false,
            nopass: false,
            sanitize: PayloadCheck::Unset,
            passwords: Vec::new(),
            root: Selector::default(),
            selectors: Vec::new(),
        }
    }
}

impl UserRules {
    /// The default user as Redis creates it: on, nopass, every permission.
    pub fn unrestricted_default() -> UserRules {
        let mut rules = UserRules::default();
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let applied = rules.apply(op.as_bytes());
            debug_assert!(applied.is_ok());
        }
        rules
    }

    /// Applies one rule (Redis's `ACLSetUser`); an empty rule does nothing.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = PayloadCheck::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = PayloadCheck::Sanitize;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = match op[0] {
                b'>' => hash_password(&op[1..]),
                _ => parse_hash(&op[1..])?,
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = match op[0] {
                b'<' => hash_password(&op[1..]),
                _ => parse_hash(&op[1..])?,
            };
            let at = self.passwords.iter().position(|p| *p == hash);
            self.passwords.remove(at.ok_or(RuleError::NoSuchPassword)?);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::default();
            let inner = &op[1..op.len() - 1];
            let words = tier_engine::splitargs::split_args(inner).map_err(|_| RuleError::Syntax)?;
            for word in words {
                selector.apply(&word)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            for op in [
                "resetpass",
                "resetkeys",
                "resetchannels",
                "off",
                "sanitize-payload",
            ] {
                self.apply(op.as_bytes())?;
            }
            self.selectors.clear();
            self.root.set_all_commands(false);
        } else {
            self.root.apply(op)?;
        }
        Ok(())
    }

    /// Whether `password` opens this user (on, and nopass or a matching hash). Every
    /// stored hash is compared, in constant time.
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(password);
        self.passwords
            .iter()
            .fold(false, |found, p| constant_time_eq(p, &hash) | found)
    }

    /// Whether a client is let in without AUTH (the default user when nopass).
    pub fn needs_no_auth(&self) -> bool {
        self.enabled && self.nopass
    }

    /// Whether every command, key and channel is allowed (the fast path).
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    /// Whether the user may run `args` as `info`: allowed if any selector allows;
    /// else the most relevant denial (Redis's `ACLCheckAllUserCommandPerm`).
    pub fn check(&self, info: &CommandInfo, args: &[Bytes]) -> Result<(), Denied> {
        let mut worst = Denied::Command;
        for selector in std::iter::once(&self.root).chain(&self.selectors) {
            match selector.check(info, args) {
                Ok(()) => return Ok(()),
                Err(denied) if denied.rank() > worst.rank() => worst = denied,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Whether a selector that lets `args` run as `info` may also read any key
    /// (Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess`): what SORT's BY and GET
    /// patterns need, as they name keys no argument shows.
    pub fn reads_any_key(&self, info: &CommandInfo, args: &[Bytes]) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.reads_any_key() && s.check(info, args).is_ok())
    }

    /// Whether the user may still use a channel (or pattern) it is subscribed to.
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.channel_allowed(channel, pattern))
    }

    /// Whether some selector allows every channel.
    pub fn all_channels(&self) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.all_channels)
    }

    /// The flags, as ACL GETUSER lists them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            PayloadCheck::Skip => flags.push("skip-sanitize-payload"),
            PayloadCheck::Sanitize => flags.push("sanitize-payload"),
            PayloadCheck::Unset => {}
        }
        flags
    }

    /// The password hashes, in hex.
    pub fn password_hashes(&self) -> Vec<String> {
        self.passwords.iter().map(|p| hex(p)).collect()
    }

    pub fn root(&self) -> &Selector {
        &self.root
    }

    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// Redis's `ACLDescribeUser`: the rules that rebuild this user, in ACL SETUSER
    /// syntax (ACL LIST, the aclfile).
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flag_names() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for hash in self.password_hashes() {
            out.push(b'#');
            out.extend_from_slice(hash.as_bytes());
            out.push(b' ');
        }
        self.root.describe(&mut out);
        for selector in &self.selectors {
            out.extend_from_slice(b" (");
            selector.describe(&mut out);
            out.push(b')');
        }
        out
    }
}

/// Joins rules spread over several words into selectors: `(~a* +get)` may come as
/// `(~a*` and `+get)` (Redis's `ACLMergeSelectorArguments`). An unclosed `(` gives
/// back the index of the word it starts in.
pub fn merge_selector_words(words: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::with_capacity(words.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, word) in words.iter().enumerate() {
        if let Some((_, selector)) = &mut open {
            selector.push(b' ');
            selector.extend_from_slice(word);
            if word.last() == Some(&b')') {
                merged.extend(open.take().map(|(_, s)| s));
            }
            continue;
        }
        if word.first() == Some(&b'(') && word.last() != Some(&b')') {
            open = Some((i, word.clone()));
            continue;
        }
        merged.push(word.clone());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(merged),
    }
}

/// A user made of `words` as a config file's `user` directive gives them (a selector
/// may span several words), or the rule that fails and why.
pub fn user_from_words(words: &[Vec<u8>]) -> Result<UserRules, (Vec<u8>, &'static str)> {
    let merged = merge_selector_words(words)
        .map_err(|i| (words[i].clone(), "Unmatched parenthesis in acl selector"))?;
    let mut user = UserRules::default();
    for rule in merged {
        user.apply(&rule).map_err(|e| (rule.clone(), e.message()))?;
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> Result<UserRules, (String, RuleError)> {
        let mut u = UserRules::default();
        for r in rules {
            u.apply(r.as_bytes()).map_err(|e| (r.to_string(), e))?;
        }
        Ok(u)
    }

    fn describe(rules: &[&str]) -> String {
        String::from_utf8(user(rules).expect("valid").describe()).expect("utf8")
    }

    fn args(a: &[&'static str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::from_static(s.as_bytes())).collect()
    }

    fn check(u: &UserRules, a: &[&'static str]) -> Result<(), Denied> {
        let argv = args(a);
        let spec = crate::cmd::table::resolve(&argv).expect("command");
        u.check(catalog::of(spec), &argv)
    }

    #[test]
    fn new_and_default_users() {
        assert_eq!(describe(&[]), "off resetchannels -@all");
        assert_eq!(
            String::from_utf8(UserRules::unrestricted_default().describe()).expect("utf8"),
            "on nopass ~* &* +@all"
        );
        assert!(UserRules::unrestricted_default().unrestricted());
        assert!(!user(&["+@all", "~*"]).expect("ok").unrestricted());
    }

    /// A first argument is bytes: two that differ only in bytes that are not UTF-8
    /// stay two, and their description loads back as it was.
    #[test]
    fn first_arguments_are_described_as_given() {
        let mut u = UserRules::default();
        u.apply(b"+select|\xe8\x30").expect("rule");
        u.apply(b"+select|\xeb\x30").expect("rule");
        let described = u.describe();
        assert!(
            described.ends_with(b"-@all +select|\xe8\x30 +select|\xeb\x30")
                || described.ends_with(b"-@all +select|\xeb\x30 +select|\xe8\x30"),
            "{}",
            String::from_utf8_lossy(&described)
        );
        let mut again = UserRules::default();
        for rule in described.split(|&b| b == b' ') {
            again.apply(rule).expect("described rule");
        }
        assert_eq!(again.describe(), described);
    }

    #[test]
    fn describes_like_redis() {
        assert_eq!(
            describe(&["on", "~a*", "%R~r*", "%W~w*", "&ch*", "+get", "+@hash", "-hdel"]),
            "on ~a* %R~r* %W~w* resetchannels &ch* -@all +@hash +get -hdel"
        );
        assert_eq!(describe(&["%R~a", "%W~a"]), "off ~a resetchannels -@all");
        // A `%` rule without its `~` is the empty pattern; `%RW~*` is a pattern, not
        // allkeys, and is described as `~*` all the same (redis-server 7.0.15 lists
        // exactly this, and cannot load it back: `~*` then means allkeys).
        assert_eq!(
            describe(&["%R", "%RW~*", "%W~a"]),
            "off %R~ ~* %W~a resetchannels -@all"
        );
        assert_eq!(describe(&["%wR"]), "off ~ resetchannels -@all");
        assert_eq!(
            describe(&["+@all", "-@dangerous"]),
            "off resetchannels +@all -@dangerous"
        );
        assert_eq!(
            describe(&["+config|get", "+select|0"]),
            "off resetchannels -@all +config|get +select|0"
        );
        assert_eq!(
            describe(&["(+get ~x)"]),
            "off resetchannels -@all (~x resetchannels -@all +get)"
        );
        assert_eq!(
            describe(&["reset"]),
            "off sanitize-payload resetchannels -@all"
        );
    }

    #[test]
    fn rule_errors() {
        let err = |rules: &[&str]| user(rules).err().map(|(_, e)| e);
        assert_eq!(err(&["badrule"]), Some(RuleError::Syntax));
        assert_eq!(err(&["+nosuch"]), Some(RuleError::UnknownCommand));
        assert_eq!(err(&["+@nosuch"]), Some(RuleError::UnknownCommand));
        assert_eq!(err(&["-get|x"]), Some(RuleError::UnknownCommand));
        assert_eq!(err(&["+config|nosuch"]), Some(RuleError::UnknownCommand));
        assert_eq!(
            err(&["+config|get|x"]),
            Some(RuleError::FirstArgOfSubcommand)
        );
        assert_eq!(err(&["+get|"]), Some(RuleError::Syntax));
        assert_eq!(err(&["(+get \"\")"]), Some(RuleError::Syntax));
        assert_eq!(err(&["#abc"]), Some(RuleError::BadHash));
        assert_eq!(err(&["#".repeat(65).as_str()]), Some(RuleError::BadHash));
        assert_eq!(err(&["<nopass"]), Some(RuleError::NoSuchPassword));
        assert_eq!(err(&["%X~a"]), Some(RuleError::Syntax));
        assert_eq!(err(&["%RR~a"]), Some(RuleError::Syntax));
        assert_eq!(err(&["%~a"]), Some(RuleError::Syntax));
        assert_eq!(err(&["%~"]), Some(RuleError::Syntax));
        assert_eq!(err(&["%"]), Some(RuleError::Syntax));
        assert_eq!(err(&["~*", "~a"]), Some(RuleError::KeyAfterAllKeys));
        assert_eq!(err(&["&*", "&a"]), Some(RuleError::ChannelAfterAllChannels));
        assert_eq!(err(&["~a b"]), Some(RuleError::Syntax));
        assert_eq!(err(&["(+get badrule)"]), Some(RuleError::Syntax));
        assert_eq!(err(&[""]), None);
    }

    #[test]
    fn passwords_are_hashed_and_checked() {
        let u = user(&["on", ">secret", ">other"]).expect("ok");
        assert!(u.accepts(b"secret") && u.accepts(b"other"));
        assert!(!u.accepts(b"Secret") && !u.accepts(b""));
        assert_eq!(u.password_hashes()[0], hex(&hash_password(b"secret")));
        let by_hash = format!("#{}", hex(&hash_password(b"x")));
        let u = user(&["on", &by_hash]).expect("ok");
        assert!(u.accepts(b"x"));
        let removed = format!("!{}", hex(&hash_password(b"x")));
        assert!(!user(&["on", &by_hash, &removed]).expect("ok").accepts(b"x"));
        assert!(!user(&[">x"]).expect("ok").accepts(b"x"), "off");
        assert!(user(&["on", "nopass"]).expect("ok").accepts(b"anything"));
        assert!(!user(&["on", "nopass", "resetpass"])
            .expect("ok")
            .accepts(b""));
    }

    #[test]
    fn constant_time_comparison() {
        let a = hash_password(b"a");
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!constant_time_eq(&a, &b));
    }

    #[test]
    fn commands_keys_and_channels() {
        let u = user(&["on", "+@read", "-hget", "+set", "~k*", "&news.*"]).expect("ok");
        assert_eq!(check(&u, &["get", "k1"]), Ok(()));
        assert_eq!(check(&u, &["get", "x"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["hget", "k", "f"]), Err(Denied::Command));
        assert_eq!(check(&u, &["mget", "k1", "x", "y"]), Err(Denied::Key(2)));
        assert_eq!(check(&u, &["del", "k"]), Err(Denied::Command));
        let pubsub = user(&["+@all", "allkeys", "&news.*"]).expect("ok");
        assert_eq!(check(&pubsub, &["publish", "news.a", "m"]), Ok(()));
        assert_eq!(
            check(&pubsub, &["publish", "other", "m"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(check(&pubsub, &["psubscribe", "news.*"]), Ok(()));
        assert_eq!(
            check(&pubsub, &["psubscribe", "news.a*"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(
            check(&pubsub, &["subscribe", "news.1", "x"]),
            Err(Denied::Channel(2))
        );
        // AUTH and friends run whatever the command set says.
        assert_eq!(check(&user(&[]).expect("ok"), &["auth", "p"]), Ok(()));
    }

    #[test]
    fn read_and_write_patterns() {
        let u = user(&["+@all", "%R~r*", "%W~w*", "~both*"]).expect("ok");
        assert_eq!(check(&u, &["get", "r1"]), Ok(()));
        assert_eq!(check(&u, &["get", "w1"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["set", "w1", "v"]), Ok(()));
        assert_eq!(check(&u, &["set", "w1", "v", "GET"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["incr", "w1"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["incr", "both1"]), Ok(()));
        assert_eq!(check(&u, &["sinterstore", "w1", "r1", "r2"]), Ok(()));
        assert_eq!(check(&u, &["sinterstore", "r0", "r1"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["lmove", "both", "w2", "left", "right"]), Ok(()));
        assert_eq!(
            check(&u, &["lmove", "r1", "w2", "left", "right"]),
            Err(Denied::Key(1))
        );
        assert_eq!(check(&u, &["copy", "r1", "w2"]), Ok(()));
        // TYPE reads no value: any matching pattern will do.
        assert_eq!(check(&u, &["type", "w1"]), Ok(()));
    }

    #[test]
    fn first_args_and_selectors() {
        let u = user(&["+select|0", "~*"]).expect("ok");
        assert_eq!(check(&u, &["select", "0"]), Ok(()));
        assert_eq!(check(&u, &["select", "1"]), Err(Denied::Command));
        let u = user(&["+get", "~a*", "(+set ~b*)"]).expect("ok");
        assert_eq!(check(&u, &["get", "a1"]), Ok(()));
        assert_eq!(check(&u, &["set", "b1", "v"]), Ok(()));
        assert_eq!(check(&u, &["get", "b1"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["set", "a1", "v"]), Err(Denied::Key(1)));
        assert_eq!(check(&u, &["del", "a1"]), Err(Denied::Command));
    }

    #[test]
    fn merges_selector_words() {
        let words = |w: &[&str]| w.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            merge_selector_words(&words(&["on", "(+get", "~a)", "(~b)"])),
            Ok(words(&["on", "(+get ~a)", "(~b)"]))
        );
        assert_eq!(merge_selector_words(&words(&["on", "(+get"])), Err(1));
    }
}
