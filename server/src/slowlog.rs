//! SLOWLOG: the most recent commands that ran longer than `slowlog-log-slower-than`,
//! kept up to `slowlog-max-len` entries, with Redis's truncation of long arguments.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;

/// Arguments kept per entry, as Redis's SLOWLOG_ENTRY_MAX_ARGC.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument, as Redis's SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARG_LEN: usize = 128;

/// One slow command.
#[derive(Clone, Debug)]
pub struct SlowLogEntry {
    pub id: u64,
    /// Unix seconds when the command ran.
    pub time: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub client_addr: String,
    pub client_name: Vec<u8>,
}

/// The log, newest first.
#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    entries: VecDeque<SlowLogEntry>,
}

impl SlowLog {
    /// Records a command that took `micros`, keeping at most `max_len` entries.
    pub fn push(
        &self,
        args: &[Bytes],
        micros: u64,
        client_addr: String,
        client_name: Vec<u8>,
        max_len: usize,
    ) {
        let mut kept: Vec<Vec<u8>> = args
            .iter()
            .take(if args.len() > MAX_ARGS {
                MAX_ARGS - 1
            } else {
                MAX_ARGS
            })
            .map(|a| {
                if a.len() > MAX_ARG_LEN {
                    let mut v = a[..MAX_ARG_LEN].to_vec();
                    v.extend_from_slice(
                        format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes(),
                    );
                    v
                } else {
                    a.to_vec()
                }
            })
            .collect();
        if args.len() > MAX_ARGS {
            kept.push(format!("... ({} more arguments)", args.len() - MAX_ARGS + 1).into_bytes());
        }
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.entries.push_front(SlowLogEntry {
            id,
            time: tier_engine::now_ms() / 1000,
            micros,
            args: kept,
            client_addr,
            client_name,
        });
        inner.entries.truncate(max_len);
    }

    /// The newest `count` entries (all when None).
    pub fn get(&self, count: Option<usize>) -> Vec<SlowLogEntry> {
        let inner = self.inner.lock();
        inner
            .entries
            .iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_redis() {
        let log = SlowLog::default();
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(vec![b'a'; 100 + i])).collect();
        log.push(&args, 5, "1.2.3.4:5".into(), vec![], 10);
        let e = &log.get(None)[0];
        assert_eq!(e.args.len(), 32);
        assert_eq!(e.args[31], b"... (9 more arguments)");
        assert_eq!(e.args[30].len(), 128 + "... (2 more bytes)".len());
    }

    #[test]
    fn newest_first_and_bounded() {
        let log = SlowLog::default();
        for i in 0..5u64 {
            log.push(&[Bytes::from(i.to_string())], i, String::new(), vec![], 3);
        }
        let ids: Vec<u64> = log.get(None).iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        assert_eq!(log.get(Some(1)).len(), 1);
    }
}
