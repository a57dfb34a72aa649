//! How `tierctl` prints keys (binary-safe, as redis-cli quotes them), times and
//! lists.

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

/// `bytes` as printable text: printable ASCII as it is, `\\` and `"` escaped, the rest
/// as `\n`, `\r`, `\t` or `\xNN`.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// The first Unix second RFC 3339 cannot write (year 10000).
const YEAR_10000: u64 = 253_402_300_800;

/// A Unix time in ms as RFC 3339 UTC with milliseconds, e.g.
/// `2023-11-14T22:13:20.123Z`; past year 9999, the number of ms.
pub fn time(ms: u64) -> String {
    if ms / 1000 >= YEAR_10000 {
        return format!("{ms} ms after the Unix epoch");
    }
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Time `ms` relative to `base` (both Unix ms), e.g. `1h 2m 3s after` or `5s before`.
pub fn relative(ms: u64, base: u64) -> String {
    let (d, side) = if ms >= base {
        (ms - base, "after")
    } else {
        (base - ms, "before")
    };
    format!(
        "{} {side}",
        humantime::format_duration(Duration::from_millis(d))
    )
}

/// `items` joined with commas, or `none` when there are none.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_is_not_printable_ascii() {
        assert_eq!(printable(b"user:1"), "user:1");
        assert_eq!(printable(b"a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(printable(&[0, 0xff, b'\n', b' ']), "\\x00\\xff\\n ");
        assert_eq!(printable(b""), "");
    }

    #[test]
    fn times_print_as_rfc3339_or_ms() {
        assert_eq!(time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            time(u64::MAX),
            format!("{} ms after the Unix epoch", u64::MAX)
        );
        assert_eq!(relative(10_500, 500), "10s after");
        assert_eq!(relative(0, 3_600_000), "1h before");
    }
}
