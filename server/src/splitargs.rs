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
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let Some(&c) = line.get(i) else {
                    return Err(UnbalancedQuotes);
                };
                if c == b'\\' && line.get(i + 1) == Some(&b'x') && hex_pair(line, i + 2).is_some() {
                    current.push(hex_pair(line, i + 2).unwrap_or_default());
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                let Some(&c) = line.get(i) else {
                    return Err(UnbalancedQuotes);
                };
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if line.get(i + 1).is_some_and(|&n| !is_space(n)) {
                        return Err(UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(&c) if is_space(c) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => current.push(c),
                }
            }
            i += 1;
        }
        args.push(current);
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
    }

    #[test]
    fn unbalanced_quotes_are_refused() {
        assert_eq!(split_args(b"set \"abc"), Err(UnbalancedQuotes));
        assert_eq!(split_args(b"set \"abc\"x"), Err(UnbalancedQuotes));
        assert_eq!(split_args(b"set 'abc"), Err(UnbalancedQuotes));
    }
}
