//! Splits one line into arguments the way Redis's `sdssplitargs` does: spaces separate,
//! "double quotes" take `\n \r \t \b \a \\ \"` and `\xHH` escapes, 'single quotes' take
//! only `\'`, and a closing quote must be followed by a space or the end of the line;
//! and quotes one argument so that it splits back whole ([`repr`], Redis's
//! `sdscatrepr`). Used for inline commands and config files (the server) and for the
//! AOF manifest's file names.
//!
//! The server has its own copy of [`split_args`] in `server/src/splitargs.rs`, from
//! before the engine needed it; it is to become a re-export of this module.

/// The line has a quote that is not closed, or a closing quote followed by a non-space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

/// Splits `line` into arguments; an empty or all-blank line gives no arguments.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, UnbalancedQuotes> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        if i == line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        while let Some(&c) = line.get(i) {
            if is_space(c) {
                break;
            }
            i = match c {
                b'"' | b'\'' => read_quoted(line, i + 1, c, &mut current)?,
                _ => {
                    current.push(c);
                    i + 1
                }
            };
        }
        args.push(current);
    }
}

/// Reads a quoted part that starts at `i`, just after its opening `quote`, into
/// `out`; returns the index just after the closing quote.
fn read_quoted(
    line: &[u8],
    mut i: usize,
    quote: u8,
    out: &mut Vec<u8>,
) -> Result<usize, UnbalancedQuotes> {
    loop {
        let c = *line.get(i).ok_or(UnbalancedQuotes)?;
        if c == quote {
            // A closing quote must end the argument.
            if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
                return Err(UnbalancedQuotes);
            }
            return Ok(i + 1);
        }
        match (c, line.get(i + 1), quote) {
            (b'\\', Some(b'x'), b'"') if hex_pair(line, i + 2).is_some() => {
                out.push(hex_pair(line, i + 2).unwrap_or_default());
                i += 4;
            }
            (b'\\', Some(&escaped), b'"') => {
                out.push(match escaped {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            (b'\\', Some(b'\''), b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

fn hex_pair(line: &[u8], at: usize) -> Option<u8> {
    let hi = (*line.get(at)? as char).to_digit(16)?;
    let lo = (*line.get(at + 1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

/// Whether `arg` must be quoted to survive [`split_args`] whole: it is empty, or holds
/// a space, a quote, a backslash or a byte that is not printable ASCII. As Redis's
/// `sdsneedsrepr`, plus `'` (Redis writes a bare `'`, which `sdssplitargs` then reads
/// as an opening quote) and the empty argument (which splits to nothing unquoted).
pub fn needs_repr(arg: &[u8]) -> bool {
    arg.is_empty()
        || arg
            .iter()
            .any(|&c| matches!(c, b'\\' | b'"' | b'\'') || !c.is_ascii_graphic())
}

/// `arg` as [`split_args`] reads it back as one argument: unchanged when it needs no
/// quoting, else in double quotes with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` and
/// `\xHH` escapes (Redis's `sdscatrepr`).
pub fn repr(arg: &[u8]) -> Vec<u8> {
    if !needs_repr(arg) {
        return arg.to_vec();
    }
    let mut out = Vec::with_capacity(arg.len() + 2);
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b' '..=b'~' => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_args(s.as_bytes())
            .unwrap()
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn plain_words_and_blanks() {
        assert_eq!(split("  set  k v \r\n"), ["set", "k", "v"]);
        assert!(split("   ").is_empty());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(split(r#"set "a b\n" 'c\'d'"#), ["set", "a b\n", "c'd"]);
        assert_eq!(split(r#""\x41\x4a""#), ["AJ"]);
        assert_eq!(split(r#""""#), [""]);
        assert_eq!(split(r#"ab"c d"  'e\f'"#), ["abc d", "e\\f"]);
    }

    #[test]
    fn unbalanced_quotes_are_refused() {
        assert_eq!(split_args(b"set \"abc"), Err(UnbalancedQuotes));
        assert_eq!(split_args(b"set \"abc\"x"), Err(UnbalancedQuotes));
        assert_eq!(split_args(b"set 'abc"), Err(UnbalancedQuotes));
    }

    #[test]
    fn repr_splits_back_whole() {
        assert_eq!(repr(b"appendonly.aof"), b"appendonly.aof");
        assert_eq!(repr(b"a b"), br#""a b""#);
        assert_eq!(repr(b""), br#""""#);
        assert_eq!(repr(b"it's\x01\"\\\n"), br#""it's\x01\"\\\n""#);
        for arg in [
            &b"x y"[..],
            b"",
            b"'",
            b"\"\\",
            b"\xff\x00\r\t\x07\x08",
            b"plain",
        ] {
            assert_eq!(split_args(&repr(arg)).unwrap(), vec![arg.to_vec()]);
        }
    }
}
