//! The ACL log (ACL LOG): recent denials, newest first, as Redis 7.0 keeps them. A
//! denial like one of the ten newest entries (same reason, context, object and user,
//! within a minute) bumps that entry's count instead of adding one.

use parking_lot::Mutex;
use std::collections::VecDeque;

/// Entries this close in time (ms) may be merged.
const GROUPING_MAX_TIME_DELTA: u64 = 60_000;
/// How many of the newest entries a denial is compared with.
const MATCH_SCAN: usize = 10;

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One denial (or several alike).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command, key or channel denied; for AUTH the command name as sent.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix ms of the last denial.
    pub time_ms: u64,
    /// The client, as a CLIENT LIST line (its last denial's).
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
}

impl AclLog {
    /// Records a denial (`count` is ignored: 1), keeping at most `max_len` entries.
    pub fn add(&self, entry: Entry, max_len: usize) {
        let mut entries = self.entries.lock();
        let alike = entries.iter().take(MATCH_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.time_ms.abs_diff(entry.time_ms) <= GROUPING_MAX_TIME_DELTA
                && e.object == entry.object
                && e.username == entry.username
        });
        match alike.and_then(|i| entries.remove(i)) {
            Some(mut existing) => {
                existing.count += 1;
                existing.time_ms = entry.time_ms;
                existing.client_info = entry.client_info;
                entries.push_front(existing);
            }
            None => {
                entries.push_front(Entry { count: 1, ..entry });
                entries.truncate(max_len);
            }
        }
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Drops the oldest entries beyond `max_len` (CONFIG SET acllog-max-len).
    pub fn trim(&self, max_len: usize) {
        self.entries.lock().truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, time_ms: u64) -> Entry {
        Entry {
            count: 0,
            reason: Reason::Command,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            time_ms,
            client_info: format!("at {time_ms}"),
        }
    }

    #[test]
    fn alike_denials_are_counted_together() {
        let log = AclLog::default();
        log.add(entry("get", 1000), 10);
        log.add(entry("set", 2000), 10);
        log.add(entry("get", 3000), 10);
        let newest = log.newest(10);
        assert_eq!(newest.len(), 2);
        assert_eq!(
            (newest[0].object.as_slice(), newest[0].count),
            (&b"get"[..], 2)
        );
        assert_eq!(newest[0].client_info, "at 3000");
        log.add(entry("get", 3000 + GROUPING_MAX_TIME_DELTA + 1), 10);
        assert_eq!(log.newest(10).len(), 3, "too late to be merged");
    }

    #[test]
    fn bounded_by_max_len() {
        let log = AclLog::default();
        for i in 0..5 {
            log.add(entry(&i.to_string(), 0), 3);
        }
        let objects: Vec<Vec<u8>> = log.newest(10).into_iter().map(|e| e.object).collect();
        assert_eq!(objects, [b"4".to_vec(), b"3".to_vec(), b"2".to_vec()]);
        log.trim(1);
        assert_eq!(log.newest(10).len(), 1);
        log.reset();
        assert!(log.newest(10).is_empty());
    }
}
