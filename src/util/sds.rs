//! Redis's string helpers for text with quotes: `split_args` (`sdssplitargs`, used
//! by inline commands and redis.conf lines) and `repr` (`sdscatrepr`, used by
//! MONITOR, CONFIG REWRITE and DEBUG output). One implementation for all callers.

/// Splits one line (an inline command or a configuration line) into arguments the
/// way redis-server does: blanks
/// separate arguments; `"..."` understands `\n \r \t \b \a \\ \" \xHH`; `'...'`
/// understands only `\'`; a closing quote must be followed by a blank or the end.
/// Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let c = *line.get(i)?;
                let hex = if line.get(i + 1) == Some(&b'x') { hex_pair(line, i + 2) } else { None };
                if let (b'\\', Some(byte)) = (c, hex) {
                    cur.push(byte);
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    i = closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_single {
                let c = *line.get(i)?;
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    i = closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

/// Position after the closing quote at `i`; `None` when the quote does not end the
/// argument (Redis requires a blank or the end of the line after it).
fn closing_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(c) if !c.is_ascii_whitespace() => None,
        _ => Some(i + 1),
    }
}

/// The byte encoded by two hex digits at `at`, if both are hex digits.
fn hex_pair(s: &[u8], at: usize) -> Option<u8> {
    let hi = (*s.get(at)? as char).to_digit(16)?;
    let lo = (*s.get(at + 1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

/// The double-quoted form Redis writes for a string (`sdscatrepr`): printable ASCII as
/// is, the usual escapes, anything else as `\xHH`. `split_args` reads it back exactly.
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}
