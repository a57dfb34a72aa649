//! Splits one line into arguments the way Redis's `sdssplitargs` does: spaces separate,
//! "double quotes" take `\n \r \t \b \a \\ \"` and `\xHH` escapes, 'single quotes' take
//! only `\'`, and a closing quote must be followed by a space or the end of the line.
//! Used for inline commands (what telnet and redis-cli send) and for config files.

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
}
