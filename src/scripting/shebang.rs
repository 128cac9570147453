//! Script flags from a `#!lua flags=...` first line (Redis 7.0+, `evalExtractShebangFlags`).
//! A body without a shebang runs in compatibility mode: it may write, is not refused
//! up front when over maxmemory, and may touch keys of several slots.

/// The flags a script declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: the pre-7.0 rules (`EVAL_COMPAT_MODE`).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Flags of a script without shebang.
    pub const COMPAT: ScriptFlags = ScriptFlags {
        compat: true,
        no_writes: false,
        allow_oom: false,
        allow_stale: false,
        no_cluster: false,
        allow_cross_slot_keys: false,
    };
}

/// Parses the shebang of `body`, if any. Returns the flags and how many bytes of
/// the body the shebang line takes (excluding its `\n`, which stays in the compiled
/// chunk so line numbers do not move). Errors carry Redis's texts (without `ERR`).
pub fn parse(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::COMPAT, 0));
    }
    let Some(eol) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = &body[..eol];
    let parts = match crate::util::sds::split_args(line) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid engine in script shebang".into()),
    };
    if parts[0].as_slice() != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(&parts[0])));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!("Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        };
        // `flags=` alone means no flags; otherwise every item counts, even an empty one.
        for flag in list.split(|&c| c == b',').filter(|_| !list.is_empty()) {
            let slot = match flag {
                b"no-writes" => &mut flags.no_writes,
                b"allow-oom" => &mut flags.allow_oom,
                b"allow-stale" => &mut flags.allow_stale,
                b"no-cluster" => &mut flags.no_cluster,
                b"allow-cross-slot-keys" => &mut flags.allow_cross_slot_keys,
                other => {
                    return Err(format!("Unexpected flag in script shebang: {}", String::from_utf8_lossy(other)));
                }
            };
            *slot = true;
        }
    }
    Ok((flags, eol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_rules() {
        assert_eq!(parse(b"return 1"), Ok((ScriptFlags::COMPAT, 0)));
        assert_eq!(parse(b"#!lua").unwrap_err(), "Invalid script shebang");
        assert_eq!(parse(b"#!python\n").unwrap_err(), "Unexpected engine in script shebang: #!python");
        assert_eq!(parse(b"#!lua foo=bar\n").unwrap_err(), "Unknown lua shebang option: foo=bar");
        assert_eq!(parse(b"#!lua flags=bad\n").unwrap_err(), "Unexpected flag in script shebang: bad");
        let (f, n) = parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.no_writes && f.allow_oom && !f.compat);
        assert_eq!(n, 31);
        assert_eq!(parse(b"#!lua flags=no-writes,\n").unwrap_err(), "Unexpected flag in script shebang: ");
        let (f, _) = parse(b"#!lua flags=\n").unwrap();
        assert_eq!(f, ScriptFlags::default());
        let (f, _) = parse(b"#!lua\n").unwrap();
        assert!(!f.compat);
    }
}
