//! What the commands that set a time to live share (SET, GETEX, SETEX and PSETEX in
//! [`strings`](super::strings), the EXPIRE family in [`keys`](super::keys)): the units
//! a time comes in, the deadline it gives, and Redis's error when that overflows.

use super::Ctx;

/// How a command gives a key's time to live.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ExpireUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: a Unix time in seconds.
    UnixSeconds,
    /// PXAT: a Unix time in milliseconds.
    UnixMillis,
}

impl ExpireUnit {
    /// The unit an option word of SET / GETEX names (any case).
    pub(super) fn from_option(word: &[u8]) -> Option<ExpireUnit> {
        [
            ("EX", ExpireUnit::Seconds),
            ("PX", ExpireUnit::Millis),
            ("EXAT", ExpireUnit::UnixSeconds),
            ("PXAT", ExpireUnit::UnixMillis),
        ]
        .into_iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, unit)| unit)
    }

    /// The deadline, in Unix milliseconds, that the time `n` in this unit gives at
    /// `now`; None when it does not fit in Redis's signed 64-bit milliseconds.
    pub(super) fn deadline(self, n: i64, now: u64) -> Option<i64> {
        let (millis, base) = match self {
            ExpireUnit::Seconds => (n.checked_mul(1000), now as i64),
            ExpireUnit::Millis => (Some(n), now as i64),
            ExpireUnit::UnixSeconds => (n.checked_mul(1000), 0),
            ExpireUnit::UnixMillis => (Some(n), 0),
        };
        millis?.checked_add(base)
    }
}

/// Redis's error for a time to live that is out of range, naming the command.
pub(super) fn invalid_expire_time(ctx: &mut Ctx<'_>) {
    let name = String::from_utf8_lossy(&ctx.args[0]).to_lowercase();
    ctx.out
        .error(format!("ERR invalid expire time in '{name}' command"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let now = 1_700_000_000_000;
        assert_eq!(
            ExpireUnit::Seconds.deadline(10, now),
            Some(now as i64 + 10_000)
        );
        assert_eq!(ExpireUnit::Millis.deadline(-5, now), Some(now as i64 - 5));
        assert_eq!(ExpireUnit::UnixSeconds.deadline(7, now), Some(7000));
        assert_eq!(
            ExpireUnit::UnixMillis.deadline(i64::MAX, now),
            Some(i64::MAX)
        );
        assert_eq!(ExpireUnit::Millis.deadline(i64::MAX, now), None);
        assert_eq!(
            ExpireUnit::UnixSeconds.deadline(i64::MAX / 1000 + 1, now),
            None
        );
        assert_eq!(
            ExpireUnit::UnixSeconds.deadline(i64::MIN / 1000 - 1, now),
            None
        );
    }
}
