//! Glob-style pattern matching with the semantics of Redis's `stringmatchlen`:
//! `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\x` escapes, on raw bytes.

/// Returns true when `s` matches the glob `pattern`. `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Redis bounds the recursion depth of `*` handling; an explicit budget keeps
    // hostile patterns such as "a*a*a*a*...b" from taking exponential time.
    let mut budget: u32 = 1_000_000;
    match_impl(pattern, s, nocase, &mut budget)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn match_impl(mut p: &[u8], mut s: &[u8], nocase: bool, budget: &mut u32) -> bool {
    while !p.is_empty() && !s.is_empty() || (!p.is_empty() && p[0] == b'*') {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                let rest = &p[1..];
                let mut t = s;
                loop {
                    if match_impl(rest, t, nocase, budget) {
                        return true;
                    }
                    if t.is_empty() || *budget == 0 {
                        return false;
                    }
                    t = &t[1..];
                }
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (fold(p[0], nocase), fold(p[2], nocase));
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let c = fold(s[0], nocase);
                        p = &p[2..];
                        if c >= lo && c <= hi {
                            matched = true;
                        }
                    } else if fold(p[0], nocase) == fold(s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if p.is_empty() {
                    // Unterminated class: Redis treats the end of pattern as `]`.
                    return (matched != not) && s.len() == 1;
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if fold(p[0], nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if fold(c, nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn basics() {
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"*", b"abc", false));
        assert!(glob_match(b"a*c", b"abbbc", false));
        assert!(!glob_match(b"a*c", b"abbbd", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"h\\*llo", b"hello", false));
        assert!(glob_match(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(!glob_match(b"abc", b"ab", false));
        assert!(!glob_match(b"ab", b"abc", false));
        assert!(glob_match(b"a**", b"a", false));
    }

    #[test]
    fn hostile_pattern_terminates() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 60];
        assert!(!glob_match(p, &s, false));
    }
}
