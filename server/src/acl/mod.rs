//! ACL users, as Redis 7.0's: the registry of users ([`Acl`]), each user's rules
//! ([`rules`]), what ACLs know about each command ([`catalog`]), the log of denials
//! ([`log`]) and the aclfile ([`file`]). The `default` user always exists; its
//! password is `requirepass`. A client holds its user ([`User`]), shared with the
//! registry, so ACL SETUSER changes what its connected clients may do at once.

pub mod catalog;
pub mod file;
pub mod log;
pub mod rules;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use rules::{RuleError, UserRules};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The user every connection starts as.
pub const DEFAULT_USER: &[u8] = b"default";

/// One user: a name and its rules.
pub struct User {
    pub name: Vec<u8>,
    rules: RwLock<UserRules>,
    /// Every command, key and channel allowed: the check at dispatch is this one
    /// load (the default user's case).
    unrestricted: AtomicBool,
}

impl User {
    fn new(name: &[u8], rules: UserRules) -> User {
        let unrestricted = AtomicBool::new(rules.unrestricted());
        User {
            name: name.to_vec(),
            rules: RwLock::new(rules),
            unrestricted,
        }
    }

    /// Whether the user may run anything: no rule to look at.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Acquire)
    }

    pub fn rules(&self) -> RwLockReadGuard<'_, UserRules> {
        self.rules.read()
    }

    /// Replaces the rules. A restriction shows before the new rules do, a freedom
    /// after, so the fast path never allows what the rules deny.
    pub fn set_rules(&self, rules: UserRules) {
        let unrestricted = rules.unrestricted();
        if !unrestricted {
            self.unrestricted.store(false, Ordering::Release);
        }
        *self.rules.write() = rules;
        if unrestricted {
            self.unrestricted.store(true, Ordering::Release);
        }
    }
}

/// The users of the node, the ACL log, and where the aclfile is.
pub struct Acl {
    users: Mutex<BTreeMap<Vec<u8>, Arc<User>>>,
    default: Arc<User>,
    pub log: log::AclLog,
}

/// What ACL SETUSER did: the user, and its rules before (None: a new user).
pub type SetUser = (Arc<User>, Option<UserRules>);

impl Acl {
    /// The registry with only the default user, whose password is `requirepass`.
    pub fn new(requirepass: Option<&[u8]>) -> Acl {
        let default = Arc::new(User::new(DEFAULT_USER, UserRules::unrestricted_default()));
        let acl = Acl {
            users: Mutex::new(BTreeMap::from([(DEFAULT_USER.to_vec(), default.clone())])),
            default,
            log: log::AclLog::default(),
        };
        acl.set_default_password(requirepass);
        acl
    }

    pub fn default_user(&self) -> &Arc<User> {
        &self.default
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.lock().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.lock().values().cloned().collect()
    }

    /// `requirepass`: the default user's only password, or nopass (Redis's
    /// `ACLUpdateDefaultUserPassword`).
    pub fn set_default_password(&self, password: Option<&[u8]>) {
        let mut rules = self.default.rules().clone();
        let applied = rules.apply(b"resetpass").and_then(|()| match password {
            Some(password) => rules.apply(&[b">", password].concat()),
            None => rules.apply(b"nopass"),
        });
        debug_assert!(applied.is_ok(), "password rules always apply");
        self.default.set_rules(rules);
    }

    /// At start: the config file's `user` directives or the aclfile, never both (as
    /// Redis's `ACLLoadUsersAtStartup`). An error stops the start.
    pub fn load_at_start(&self, config: &crate::config::Config) -> Result<(), String> {
        if config.aclfile.is_some() && !config.users.is_empty() {
            return Err(
                "Configuring Redis with users defined in redis.conf and at the same \
                        setting an ACL file path is invalid. This setup is very likely to lead \
                        to configuration errors and security holes, please define either an \
                        ACL file or declare users directly in your redis.conf, but not both."
                    .to_owned(),
            );
        }
        for words in &config.users {
            let name = &words[0];
            // The default user exists already: it starts over.
            let mut ops = match name.as_slice() {
                DEFAULT_USER => vec![b"reset".to_vec()],
                _ => Vec::new(),
            };
            let merged = rules::merge_selector_words(&words[1..])
                .map_err(|_| "Unmatched parenthesis in acl selector".to_owned())?;
            ops.extend(merged);
            self.set_user(name, &ops).map_err(|(rule, e)| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(&rule),
                    String::from_utf8_lossy(name),
                    e.message()
                )
            })?;
        }
        if let Some(path) = &config.aclfile {
            let loaded = file::load(path)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
            self.replace_all(loaded);
        }
        Ok(())
    }

    /// The user `name` if `password` opens it.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        self.user(name).filter(|u| u.rules().accepts(password))
    }

    /// ACL SETUSER: applies `ops` to a copy of the user (a new one if there is none)
    /// and keeps it only if every rule applied. Returns the user and its rules before,
    /// or the rule that failed.
    pub fn set_user(&self, name: &[u8], ops: &[Vec<u8>]) -> Result<SetUser, (Vec<u8>, RuleError)> {
        let mut users = self.users.lock();
        let existing = users.get(name).cloned();
        let before = existing.as_ref().map(|u| u.rules().clone());
        let mut rules = before.clone().unwrap_or_default();
        for op in ops {
            rules.apply(op).map_err(|e| (op.clone(), e))?;
        }
        let user = match existing {
            Some(user) => {
                user.set_rules(rules);
                user
            }
            None => {
                let user = Arc::new(User::new(name, rules));
                users.insert(name.to_vec(), user.clone());
                user
            }
        };
        Ok((user, before))
    }

    /// Removes users (never the default one); returns those removed.
    pub fn delete_users(&self, names: &[&[u8]]) -> Vec<Arc<User>> {
        let mut users = self.users.lock();
        names
            .iter()
            .filter(|n| **n != DEFAULT_USER)
            .filter_map(|n| users.remove(*n))
            .collect()
    }

    /// Replaces every user with `loaded` (ACL LOAD, the aclfile at start): the
    /// default user keeps its identity and takes the loaded rules (or the fresh
    /// default's). Returns the users that are gone (their clients must go too).
    pub fn replace_all(&self, loaded: Vec<(Vec<u8>, UserRules)>) -> Vec<Arc<User>> {
        let mut users = self.users.lock();
        let mut default_rules = UserRules::unrestricted_default();
        let mut fresh = BTreeMap::new();
        for (name, rules) in loaded {
            if name == DEFAULT_USER {
                default_rules = rules;
            } else {
                fresh.insert(name.clone(), Arc::new(User::new(&name, rules)));
            }
        }
        self.default.set_rules(default_rules);
        fresh.insert(DEFAULT_USER.to_vec(), self.default.clone());
        let old = std::mem::replace(&mut *users, fresh);
        old.into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn requirepass_is_the_default_users_password() {
        let acl = Acl::new(Some(b"pw"));
        assert!(acl.authenticate(b"default", b"pw").is_some());
        assert!(acl.authenticate(b"default", b"other").is_none());
        assert!(!acl.default_user().rules().needs_no_auth());
        acl.set_default_password(None);
        assert!(acl.default_user().rules().needs_no_auth());
        assert!(acl.default_user().unrestricted());
    }

    #[test]
    fn setuser_is_all_or_nothing() {
        let acl = Acl::new(None);
        let (alice, before) = acl.set_user(b"alice", &ops(&["on", ">p"])).expect("ok");
        assert!(before.is_none());
        let failed = acl.set_user(b"alice", &ops(&["off", "bad"]));
        assert_eq!(failed.err(), Some((b"bad".to_vec(), RuleError::Syntax)));
        assert!(alice.rules().enabled, "unchanged");
        assert!(acl.authenticate(b"alice", b"p").is_some());
        assert_eq!(acl.delete_users(&[b"alice", b"default"]).len(), 1);
        assert!(acl.user(b"alice").is_none() && acl.user(b"default").is_some());
    }

    #[test]
    fn fast_path_follows_the_rules() {
        let acl = Acl::new(None);
        assert!(acl.default_user().unrestricted());
        acl.set_user(b"default", &ops(&["-get"])).expect("ok");
        assert!(!acl.default_user().unrestricted());
        acl.set_user(b"default", &ops(&["+@all"])).expect("ok");
        assert!(acl.default_user().unrestricted());
    }

    #[test]
    fn replacing_keeps_the_default_user() {
        let acl = Acl::new(None);
        let (bob, _) = acl.set_user(b"bob", &ops(&["on"])).expect("ok");
        let mut rules = UserRules::default();
        rules.apply(b"on").expect("ok");
        let gone = acl.replace_all(vec![(b"carol".to_vec(), rules)]);
        assert_eq!(gone.len(), 1);
        assert!(Arc::ptr_eq(&gone[0], &bob));
        let names: Vec<Vec<u8>> = acl.users().iter().map(|u| u.name.clone()).collect();
        assert_eq!(names, [b"carol".to_vec(), b"default".to_vec()]);
        assert!(acl.default_user().unrestricted());
    }
}
