//! Glob-style pattern matching with exactly the semantics of Redis's `stringmatchlen`
//! (util.c), the matcher behind KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET — but
//! iterative, so no pattern can overflow the stack or take exponential time.
//!
//! The pattern language:
//! - `*` matches any run of bytes (several `*` in a row count as one);
//! - `?` matches any single byte;
//! - `[abc]` matches one byte of the set, `[^abc]` one byte not in it, `[a-z]` a range
//!   (a reversed range `[z-a]` means the same), `\x` inside brackets the byte `x`;
//!   a `[` that is never closed runs to the end of the pattern;
//! - `\x` matches the byte `x` literally; a `\` that ends the pattern matches `\`;
//! - any other byte matches itself (ASCII case folded when `nocase`).
//!
//! Quirks kept on purpose, because clients see them through Redis:
//! - an empty string matches only the empty pattern: `*` does not match `""`. KEYS and
//!   SCAN never call the matcher for the pattern `*` alone (they take every key), so
//!   callers should do the same to return an empty key for `KEYS *`;
//! - `nocase` does not apply to `\x` inside brackets, and a range's ends are swapped
//!   (if reversed) before they are case folded;
//! - range ends compare as C's signed `char` (Redis on x86-64), so a range with one end
//!   below 0x80 and the other at or above it covers the low end's bytes *downwards*:
//!   `[a-\xff]` is `\xff` plus every byte up to `a`.
//!
//! Redis answers by recursion on each `*` with its `skipLongerMatches` cut-off; here the
//! same answer comes from the classic loop that remembers only the last `*` and, on a
//! mismatch, lets that `*` swallow one more byte. Both are exact: once the text after
//! the last `*` fails from every start position, no longer match of an earlier `*` can
//! help. The cost is at most `O(pattern.len() * string.len())`, with constant stack.

/// Whether `string` matches the glob `pattern`; `nocase` folds ASCII case as Redis does.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    if string.is_empty() {
        // Redis's loop never runs on an empty string: only an empty pattern matches.
        return pattern.is_empty();
    }
    let mut p = 0;
    let mut s = 0;
    // After the last `*` seen: where the rest of the pattern starts, and where in the
    // string it is being tried.
    let mut last_star: Option<(usize, usize)> = None;
    loop {
        if s == string.len() {
            // The string is used up: only trailing stars may remain.
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
        } else if let Some(&c) = pattern.get(p) {
            if c == b'*' {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                last_star = Some((p, s));
                continue;
            }
            let (matched, next) = match_one(pattern, p, string[s], nocase);
            if matched {
                p = next;
                s += 1;
                continue;
            }
        }
        // A mismatch: let the last `*` swallow one more byte, if one is left to try.
        match last_star {
            Some((star_p, star_s)) if star_s + 1 < string.len() => {
                last_star = Some((star_p, star_s + 1));
                p = star_p;
                s = star_s + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the single-byte token (anything but `*`) that starts at `pattern[p]` against
/// `c`; returns whether it matched and where the next token starts.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match_class(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => (same(pattern[p + 1], c, nocase), p + 2),
        other => (same(other, c, nocase), p + 1),
    }
}

/// Matches the bracket class whose body starts at `pattern[i]` (just after the `[`),
/// mirroring Redis's loop step by step; returns the match and the index after the class.
fn match_class(pattern: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        let left = len - i;
        if left >= 2 && pattern[i] == b'\\' {
            i += 1;
            // Redis compares an escaped byte exactly, even with nocase.
            matched |= pattern[i] == c;
        } else if left >= 1 && pattern[i] == b']' {
            break;
        } else if left == 0 {
            // Unclosed: the class runs to the end of the pattern.
            i -= 1;
            break;
        } else if left >= 3 && pattern[i + 1] == b'-' {
            let (mut start, mut end) = (signed(pattern[i]), signed(pattern[i + 2]));
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            let mut ch = signed(c);
            if nocase {
                start = fold(start);
                end = fold(end);
                ch = fold(ch);
            }
            i += 2;
            matched |= start <= ch && ch <= end;
        } else {
            matched |= same(pattern[i], c, nocase);
        }
        i += 1;
    }
    (matched != negate, i + 1)
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// A byte as C's signed `char` on x86-64, the way Redis's range test reads it.
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

/// C's `tolower` in the "C" locale, on a signed `char` value.
fn fold(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    /// A straight port of Redis 7.0's recursive `stringmatchlen_impl`, the oracle for
    /// the property test. `at(x, i)` reads past the end as C reads the terminating NUL.
    fn redis_impl(pat: &[u8], st: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
        fn at(x: &[u8], i: usize) -> u8 {
            x.get(i).copied().unwrap_or(0)
        }
        let (mut p, mut s) = (0usize, 0usize);
        let (plen, slen) = (pat.len(), st.len());
        while p < plen && s < slen {
            match pat[p] {
                b'*' => {
                    while p < plen && at(pat, p + 1) == b'*' {
                        p += 1;
                    }
                    if plen - p == 1 {
                        return true;
                    }
                    while s < slen {
                        if redis_impl(&pat[p + 1..], &st[s..], nocase, skip_longer) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                        s += 1;
                    }
                    *skip_longer = true;
                    return false;
                }
                b'?' => s += 1,
                b'[' => {
                    p += 1;
                    let not = at(pat, p) == b'^';
                    if not {
                        p += 1;
                    }
                    let mut matched = false;
                    loop {
                        let left = plen - p;
                        if at(pat, p) == b'\\' && left >= 2 {
                            p += 1;
                            if pat[p] == st[s] {
                                matched = true;
                            }
                        } else if at(pat, p) == b']' {
                            break;
                        } else if left == 0 {
                            p -= 1;
                            break;
                        } else if left >= 3 && pat[p + 1] == b'-' {
                            let (mut a, mut b) = (signed(pat[p]), signed(pat[p + 2]));
                            let mut c = signed(st[s]);
                            if a > b {
                                std::mem::swap(&mut a, &mut b);
                            }
                            if nocase {
                                a = fold(a);
                                b = fold(b);
                                c = fold(c);
                            }
                            p += 2;
                            if c >= a && c <= b {
                                matched = true;
                            }
                        } else if same(pat[p], st[s], nocase) {
                            matched = true;
                        }
                        p += 1;
                    }
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    s += 1;
                }
                c => {
                    let lit = if c == b'\\' && plen - p >= 2 {
                        p += 1;
                        pat[p]
                    } else {
                        c
                    };
                    if !same(lit, st[s], nocase) {
                        return false;
                    }
                    s += 1;
                }
            }
            p += 1;
            if s == slen {
                while at(pat, p) == b'*' {
                    p += 1;
                }
                break;
            }
        }
        p >= plen && s == slen
    }

    fn redis(pat: &[u8], st: &[u8], nocase: bool) -> bool {
        redis_impl(pat, st, nocase, &mut false)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hellO"));
        assert!(mi("hello", "HeLLo"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "x"));
        assert!(m("**", "xyz"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a", "bba"));
        assert!(!m("*a", "ab"));
        assert!(m("*a*b*", "xaxxbx"));
        assert!(!m("", "a"));
        assert!(!m("a", "ab"));
        assert!(!m("ab", "a"));
    }

    #[test]
    fn empty_string_matches_only_empty_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(!m("[\\-]", "\\"));
        assert!(
            m("[a-]x", "]"),
            "`[a-]` is the range a..] and the class stays open"
        );
        assert!(m("[a-]x", "x"));
        assert!(m("[abc", "c"), "an unclosed class runs to the end");
        assert!(!m("[", "["));
        assert!(m("[^", "z"));
        assert!(m("[\\", "\\"));
        assert!(!m("[]", "]"), "`]` right after `[` closes an empty class");
        assert!(mi("[A-C]", "b"));
        assert!(!mi("[\\A]", "a"), "an escape in a class ignores nocase");
        assert!(m("[A-z]", "_"));
        assert!(!mi("[A-z]", "_"), "ends fold after the swap");
        assert!(!mi("[Z-a]", "z"));
    }

    #[test]
    fn signed_char_ranges() {
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"0", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(m("\\?x", "?x"));
        assert!(!m("\\?x", "ax"));
    }

    #[test]
    fn hostile_patterns_are_fast_and_shallow() {
        let string = vec![b'a'; 10_000];
        let mut pattern = b"a*".repeat(5_000);
        pattern.push(b'b');
        let start = std::time::Instant::now();
        assert!(!glob_match(&pattern, &string, false));
        // A million stars would overflow a recursive matcher's stack.
        let stars = b"*a".repeat(1_000_000);
        assert!(glob_match(&stars, &string, false) == (string.len() >= 1_000_000));
        assert!(glob_match(&stars, &vec![b'a'; 1_000_000], false));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn agrees_with_redis(
            pattern in proptest::collection::vec(
                prop::sample::select(b"ab*?[]^-\\A\xff".to_vec()), 0..10),
            string in proptest::collection::vec(
                prop::sample::select(b"abAB-]\\*\xff".to_vec()), 0..8),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(glob_match(&pattern, &string, nocase), redis(&pattern, &string, nocase));
        }
    }
}
