//! The lexical layer of redis.conf, shared by file loading, command-line options,
//! CONFIG SET and CONFIG REWRITE: argument splitting with Redis's quoting rules, the
//! quoted form Redis writes back (`repr`), memory values with units, and the turning of
//! `argv` into the options text that is parsed after the file.
//! It knows nothing of individual settings.

pub(crate) use crate::util::sds::{repr, split_args};

/// Parses a memory value: decimal digits with an optional unit `b`, `k` (1000),
/// `kb` (1024), `m`, `mb`, `g`, `gb`, case-insensitive. No sign, no blanks.
pub(crate) fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let unit = std::str::from_utf8(&s[digits..]).ok()?.to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    n.checked_mul(mul)
}

/// Formats a byte count the way CONFIG REWRITE does: the largest of gb/mb/kb that
/// divides it exactly, else plain bytes.
pub(crate) fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    for (size, unit) in [(KB * KB * KB, "gb"), (KB * KB, "mb"), (KB, "kb")] {
        if bytes != 0 && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// What redis-server's argv means: an optional configuration file, then option text.
#[derive(Debug, PartialEq)]
pub(crate) struct Argv {
    pub file: Option<String>,
    /// `--name value ...` turned into `name "value"` lines, parsed after the file.
    pub options: String,
}

/// Splits the arguments (without argv[0]) like redis-server: a first argument not
/// starting with `-` is the file; `--name` starts a new line; other arguments are
/// quoted values of the current line; an argument after a bare `--name` is its value
/// even if it starts with `--`; `--save` with no value means `save ""`.
/// Reading the configuration from stdin (`-`) is refused.
pub(crate) fn split_argv(args: &[String]) -> Result<Argv, String> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first() {
        if !first.starts_with('-') {
            file = Some(first.clone());
            rest = &args[1..];
        }
    }
    let mut options = String::new();
    // Whether the previous option already has a value, so that a following `--x`
    // starts a new option rather than being the value.
    let mut has_value = true;
    for (j, arg) in rest.iter().enumerate() {
        let last = j + 1 == rest.len();
        if arg == "-" && ((j == 0 && file.is_none()) || last) {
            return Err("moonkv cannot read its configuration from stdin: give a file name".into());
        }
        if has_value && arg.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&arg[2..]);
            options.push(' ');
            let words = split_args(arg.as_bytes()).map_or(0, |w| w.len());
            has_value = words != 1;
            if !has_value && arg.eq_ignore_ascii_case("--save") {
                let next_is_option = rest.get(j + 1).is_some_and(|n| n.starts_with("--"));
                if next_is_option || last {
                    options.push_str("\"\"");
                    has_value = true;
                }
            }
        } else {
            options.push_str(&repr(arg.as_bytes()));
            options.push(' ');
            has_value = true;
        }
    }
    Ok(Argv { file, options })
}

/// An OS error as `strerror` words, without Rust's " (os error N)" suffix.
pub(crate) fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_args(line.as_bytes())
            .expect("balanced")
            .into_iter()
            .map(|w| String::from_utf8(w).expect("utf8"))
            .collect()
    }

    #[test]
    fn splits_quotes_and_escapes() {
        assert_eq!(words("  save 900   1 "), ["save", "900", "1"]);
        assert_eq!(words(r#"a "b c" 'd e'"#), ["a", "b c", "d e"]);
        assert_eq!(words(r#""\n\r\t\\\"\x41\x4a" 'it\'s'"#), ["\n\r\t\\\"AJ", "it's"]);
        assert_eq!(split_args(br#""\x""#).expect("balanced"), vec![b"x".to_vec()]);
        assert_eq!(split_args(b"\"\\a\\b\"").expect("balanced"), vec![vec![7u8, 8]]);
        assert_eq!(words(r#"x "" ''"#), ["x", "", ""]);
        assert_eq!(words("pre\"mid\""), ["premid"]);
        assert!(words("").is_empty());
        assert!(split_args(b"\"abc").is_none());
        assert!(split_args(b"'abc").is_none());
        assert!(split_args(b"\"abc\"def").is_none());
    }

    #[test]
    fn repr_round_trips() {
        let raw = b"a b\"c\\\n\x01\xff".to_vec();
        let quoted = repr(&raw);
        assert_eq!(quoted, r#""a b\"c\\\n\x01\xff""#);
        assert_eq!(split_args(quoted.as_bytes()).expect("balanced"), vec![raw]);
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"2m"), Some(2_000_000));
        assert_eq!(parse_memory(b"2Mb"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory(b"1g"), Some(1_000_000_000));
        assert_eq!(parse_memory(b"1gb"), Some(1 << 30));
        assert_eq!(parse_memory(b"7b"), Some(7));
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1.5", b"1t", b"0x10", b"gb"] {
            assert_eq!(parse_memory(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(3 << 20), "3mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(2048), "2kb");
    }

    fn argv(a: &[&str]) -> Argv {
        split_argv(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("argv")
    }

    #[test]
    fn argv_like_redis_server() {
        let a = argv(&["x.conf", "--port", "7000", "--save", "--bind", "1.2.3.4", "::1"]);
        assert_eq!(a.file.as_deref(), Some("x.conf"));
        assert_eq!(a.options, "port \"7000\" \nsave \"\"\nbind \"1.2.3.4\" \"::1\" ");
        let a = argv(&["--requirepass", "--weird", "--port 7001"]);
        assert_eq!(a.file, None);
        assert_eq!(a.options, "requirepass \"--weird\" \nport 7001 ");
        assert_eq!(argv(&["--save"]).options, "save \"\"");
        assert!(split_argv(&["-".to_string()]).is_err());
        assert!(split_argv(&["a.conf".to_string(), "-".to_string()]).is_err());
    }
}
