//! The one command table. Each family file contributes its rows (`commands()`), next
//! to its handlers; this module assembles them once into a lookup table read by the
//! gate (arity, flags), COMMAND INFO/COUNT/LIST/DOCS/GETKEYS and, later, the
//! determinism rules for scripts.
//!
//! Rows are data written in Redis's own vocabulary so they can be checked against a
//! real redis-server's `COMMAND INFO` (a test does exactly that):
//! `cmd(name, arity, "flags", "acl categories", (first, last, step), "key specs", "tips", handler)`.
//! A key spec is `flags|begin_search|find_keys`, several separated by `;`:
//! begin_search `iN` (index N) or `kWORD,START` (keyword); find_keys `rLAST,STEP,LIMIT`
//! (range) or `nIDX,FIRST,STEP` (keynum); `u` for unknown.

use super::error::CmdResult;
use crate::engine::Ctx;
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::OnceLock;

/// A command handler: gets the execution context and `argv` (name included).
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Command flags as named fields, parsed from the row's flag words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmdFlags {
    pub write: bool,
    pub readonly: bool,
    pub denyoom: bool,
    pub admin: bool,
    pub pubsub: bool,
    pub noscript: bool,
    pub blocking: bool,
    pub loading: bool,
    pub stale: bool,
    pub skip_monitor: bool,
    pub skip_slowlog: bool,
    pub fast: bool,
    pub no_auth: bool,
    pub may_replicate: bool,
    pub no_mandatory_keys: bool,
    pub no_multi: bool,
    pub no_async_loading: bool,
    pub allow_busy: bool,
    pub movablekeys: bool,
}

impl CmdFlags {
    fn parse(words: &str) -> CmdFlags {
        let mut f = CmdFlags::default();
        for w in words.split_whitespace() {
            let slot = match w {
                "write" => &mut f.write,
                "readonly" => &mut f.readonly,
                "denyoom" => &mut f.denyoom,
                "admin" => &mut f.admin,
                "pubsub" => &mut f.pubsub,
                "noscript" => &mut f.noscript,
                "blocking" => &mut f.blocking,
                "loading" => &mut f.loading,
                "stale" => &mut f.stale,
                "skip_monitor" => &mut f.skip_monitor,
                "skip_slowlog" => &mut f.skip_slowlog,
                "fast" => &mut f.fast,
                "no_auth" => &mut f.no_auth,
                "may_replicate" => &mut f.may_replicate,
                "no_mandatory_keys" => &mut f.no_mandatory_keys,
                "no_multi" => &mut f.no_multi,
                "no_async_loading" => &mut f.no_async_loading,
                "allow_busy" => &mut f.allow_busy,
                "movablekeys" => &mut f.movablekeys,
                other => panic!("command table: unknown flag {other:?}"),
            };
            *slot = true;
        }
        f
    }
}

/// Where the search for a key spec's keys begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    Index(i64),
    Keyword { keyword: String, startfrom: i64 },
    Unknown,
}

/// How the keys are found from the begin-search position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    Range { lastkey: i64, step: i64, limit: i64 },
    Keynum { keynumidx: i64, firstkey: i64, step: i64 },
    Unknown,
}

/// One key specification (Redis 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: Vec<String>,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

/// One row of the command table.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Lowercase name; subcommands are `parent|sub`.
    pub name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: CmdFlags,
    /// The flag words in Redis's order, as COMMAND INFO prints them.
    pub flag_names: Vec<&'static str>,
    pub acl_categories: Vec<&'static str>,
    /// Legacy (first key, last key, step).
    pub legacy_keys: (i64, i64, i64),
    pub key_specs: Vec<KeySpec>,
    pub tips: Vec<&'static str>,
    /// `None` for container commands that only dispatch to subcommands.
    pub handler: Option<Handler>,
    /// Dense index of this row (subcommands included), for per-command stats.
    pub id: usize,
    pub subcommands: Vec<CommandSpec>,
}

fn parse_nums(s: &str) -> Vec<i64> {
    s.split(',').map(|n| n.parse().unwrap_or_else(|_| panic!("command table: bad number in {s:?}"))).collect()
}

fn parse_key_specs(s: &str) -> Vec<KeySpec> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(';')
        .map(|one| {
            let parts: Vec<&str> = one.split('|').collect();
            assert_eq!(parts.len(), 3, "command table: bad key spec {one:?}");
            let flags = parts[0].split(',').filter(|f| !f.is_empty()).map(str::to_string).collect();
            let begin = match parts[1].as_bytes().first() {
                Some(b'i') => BeginSearch::Index(parse_nums(&parts[1][1..])[0]),
                Some(b'k') => {
                    let (kw, start) = parts[1][1..].rsplit_once(',').expect("keyword,start");
                    BeginSearch::Keyword { keyword: kw.to_string(), startfrom: parse_nums(start)[0] }
                }
                _ => BeginSearch::Unknown,
            };
            let find = match parts[2].as_bytes().first() {
                Some(b'r') => {
                    let n = parse_nums(&parts[2][1..]);
                    FindKeys::Range { lastkey: n[0], step: n[1], limit: n[2] }
                }
                Some(b'n') => {
                    let n = parse_nums(&parts[2][1..]);
                    FindKeys::Keynum { keynumidx: n[0], firstkey: n[1], step: n[2] }
                }
                _ => FindKeys::Unknown,
            };
            KeySpec { flags, begin, find }
        })
        .collect()
}

fn words(s: &'static str) -> Vec<&'static str> {
    s.split_whitespace().collect()
}

/// Builds a table row. See the module documentation for the mini-language.
#[allow(clippy::too_many_arguments)]
pub fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static str,
    acl: &'static str,
    legacy_keys: (i64, i64, i64),
    key_specs: &'static str,
    tips: &'static str,
    handler: Option<Handler>,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: CmdFlags::parse(flags),
        flag_names: words(flags),
        acl_categories: words(acl),
        legacy_keys,
        key_specs: parse_key_specs(key_specs),
        tips: words(tips),
        handler,
        id: 0,
        subcommands: Vec::new(),
    }
}

impl CommandSpec {
    /// Attaches subcommand rows to a container command.
    pub fn with_subcommands(mut self, subs: Vec<CommandSpec>) -> CommandSpec {
        self.subcommands = subs;
        self
    }

    /// True when `argc` satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }

    /// The name as shown in errors and stats (`config|get`).
    pub fn full_name(&self) -> &'static str {
        self.name
    }

    /// The subcommand row for `sub`, if any.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&CommandSpec> {
        let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
        self.subcommands.iter().find(|s| s.name.split('|').nth(1) == Some(sub.as_str()))
    }

    /// Positions of the keys in `argv`, from the key specs (COMMAND GETKEYS, and
    /// later cluster slots and ACLs).
    pub fn key_positions(&self, argv: &[Bytes]) -> Vec<usize> {
        let argc = argv.len() as i64;
        let mut out = Vec::new();
        for ks in &self.key_specs {
            let start = match &ks.begin {
                BeginSearch::Index(i) => *i,
                BeginSearch::Keyword { keyword, startfrom } => {
                    let range: Vec<i64> = if *startfrom >= 0 {
                        (*startfrom..argc).collect()
                    } else {
                        (1..=(argc + startfrom)).rev().collect()
                    };
                    match range
                        .into_iter()
                        .find(|&i| i > 0 && argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => continue,
            };
            if start >= argc {
                continue;
            }
            match &ks.find {
                FindKeys::Range { lastkey, step, limit } => {
                    let last = if *lastkey >= 0 {
                        start + lastkey
                    } else if *limit <= 1 {
                        argc + lastkey
                    } else {
                        start + (argc - start) / limit + lastkey
                    };
                    let mut i = start;
                    while i <= last.min(argc - 1) {
                        out.push(i as usize);
                        i += (*step).max(1);
                    }
                }
                FindKeys::Keynum { keynumidx, firstkey, step } => {
                    let idx = start + keynumidx;
                    if idx >= argc {
                        continue;
                    }
                    let n = crate::util::num::parse_i64(&argv[idx as usize]).unwrap_or(0);
                    let first = start + firstkey;
                    for k in 0..n.max(0) {
                        let p = first + k * step;
                        if p < argc {
                            out.push(p as usize);
                        }
                    }
                }
                FindKeys::Unknown => {}
            }
        }
        out
    }

    /// The COMMAND INFO entry of this command.
    pub fn info_reply(&self) -> Reply {
        let status = |s: &str| Reply::Status(s.to_string());
        let bulk = |s: &str| Reply::bulk(Bytes::copy_from_slice(s.as_bytes()));
        let key_specs = self
            .key_specs
            .iter()
            .map(|ks| {
                let begin = match &ks.begin {
                    BeginSearch::Index(i) => Reply::Map(vec![
                        (bulk("type"), bulk("index")),
                        (bulk("spec"), Reply::Map(vec![(bulk("index"), Reply::Int(*i))])),
                    ]),
                    BeginSearch::Keyword { keyword, startfrom } => Reply::Map(vec![
                        (bulk("type"), bulk("keyword")),
                        (
                            bulk("spec"),
                            Reply::Map(vec![
                                (bulk("keyword"), bulk(keyword)),
                                (bulk("startfrom"), Reply::Int(*startfrom)),
                            ]),
                        ),
                    ]),
                    BeginSearch::Unknown => {
                        Reply::Map(vec![(bulk("type"), bulk("unknown")), (bulk("spec"), Reply::Map(vec![]))])
                    }
                };
                let find = match &ks.find {
                    FindKeys::Range { lastkey, step, limit } => Reply::Map(vec![
                        (bulk("type"), bulk("range")),
                        (
                            bulk("spec"),
                            Reply::Map(vec![
                                (bulk("lastkey"), Reply::Int(*lastkey)),
                                (bulk("keystep"), Reply::Int(*step)),
                                (bulk("limit"), Reply::Int(*limit)),
                            ]),
                        ),
                    ]),
                    FindKeys::Keynum { keynumidx, firstkey, step } => Reply::Map(vec![
                        (bulk("type"), bulk("keynum")),
                        (
                            bulk("spec"),
                            Reply::Map(vec![
                                (bulk("keynumidx"), Reply::Int(*keynumidx)),
                                (bulk("firstkey"), Reply::Int(*firstkey)),
                                (bulk("keystep"), Reply::Int(*step)),
                            ]),
                        ),
                    ]),
                    FindKeys::Unknown => {
                        Reply::Map(vec![(bulk("type"), bulk("unknown")), (bulk("spec"), Reply::Map(vec![]))])
                    }
                };
                Reply::Map(vec![
                    (bulk("flags"), Reply::Set(ks.flags.iter().map(|f| status(f)).collect())),
                    (bulk("begin_search"), begin),
                    (bulk("find_keys"), find),
                ])
            })
            .collect();
        Reply::Array(vec![
            bulk(self.name),
            Reply::Int(self.arity as i64),
            Reply::Set(self.flag_names.iter().map(|f| status(f)).collect()),
            Reply::Int(self.legacy_keys.0),
            Reply::Int(self.legacy_keys.1),
            Reply::Int(self.legacy_keys.2),
            Reply::Set(self.acl_categories.iter().map(|c| status(c)).collect()),
            Reply::Set(self.tips.iter().map(|t| bulk(t)).collect()),
            Reply::Array(key_specs),
            Reply::Array(self.subcommands.iter().map(|s| s.info_reply()).collect()),
        ])
    }
}

/// The assembled table: every top-level command by lowercase name.
pub struct CommandTable {
    pub commands: Vec<CommandSpec>,
    /// Open-addressing index from `name_hash` to position in `commands`; the lookup
    /// on every command must be cheap (no allocation, no lowercase copy).
    index: Vec<Option<(u64, u32)>>,
    /// Number of rows including subcommands (the range of `CommandSpec::id`).
    pub rows: usize,
}

/// FNV-1a over the ASCII-lowercased name.
fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ b.to_ascii_lowercase() as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl CommandTable {
    fn build() -> CommandTable {
        let mut commands = Vec::new();
        commands.extend(super::strings::commands());
        commands.extend(super::bits::commands());
        commands.extend(super::keys::commands());
        commands.extend(super::dump::commands());
        commands.extend(super::server::commands());
        commands.extend(super::connection::commands());
        commands.extend(super::lists::commands());
        commands.extend(super::hashes::commands());
        commands.extend(super::sets::commands());
        commands.extend(super::zsets::commands());
        commands.extend(super::sort::commands());
        commands.extend(super::transactions::commands());
        commands.extend(super::pubsub::commands());
        commands.extend(super::replication::commands());
        commands.extend(super::scripting::commands());
        commands.sort_by_key(|c| c.name);
        let mut rows = 0;
        for c in commands.iter_mut() {
            c.id = rows;
            rows += 1;
            for s in c.subcommands.iter_mut() {
                s.id = rows;
                rows += 1;
            }
        }
        let size = (commands.len() * 4).next_power_of_two();
        let mut index = vec![None; size];
        for (i, c) in commands.iter().enumerate() {
            let h = name_hash(c.name.as_bytes());
            let mut slot = h as usize & (size - 1);
            while index[slot].is_some() {
                slot = (slot + 1) & (size - 1);
            }
            index[slot] = Some((h, i as u32));
        }
        CommandTable { commands, index, rows }
    }

    /// The process-wide table.
    pub fn get() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(CommandTable::build)
    }

    /// Looks up a top-level command by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<&CommandSpec> {
        let h = name_hash(name);
        let mask = self.index.len() - 1;
        let mut slot = h as usize & mask;
        while let Some((sh, i)) = self.index[slot] {
            if sh == h {
                let c = &self.commands[i as usize];
                if c.name.as_bytes().eq_ignore_ascii_case(name) {
                    return Some(c);
                }
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// Looks up the spec that will run `argv` (resolving subcommands); `None` when
    /// the command is unknown. A container whose subcommand is unknown is returned
    /// itself (the gate reports the unknown subcommand).
    pub fn resolve(&self, argv: &[Bytes]) -> Option<&CommandSpec> {
        let top = self.lookup(argv.first()?)?;
        if !top.subcommands.is_empty() && argv.len() >= 2 {
            if let Some(sub) = top.subcommand(&argv[1]) {
                return Some(sub);
            }
        }
        Some(top)
    }

    /// Every spec, subcommands included.
    pub fn all(&self) -> impl Iterator<Item = &CommandSpec> {
        self.commands.iter().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's own consistency: names, arities, flags, key specs and handlers.
    #[test]
    fn table_is_consistent() {
        let t = CommandTable::get();
        assert!(t.commands.len() > 50);
        for c in t.all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase(), "{}", c.name);
            assert!(c.arity != 0, "{} arity", c.name);
            assert!(!(c.flags.write && c.flags.readonly), "{} write+readonly", c.name);
            if c.subcommands.is_empty() {
                assert!(c.handler.is_some(), "{} has no handler", c.name);
            } else {
                // Only COMMAND runs a handler of its own when called bare.
                assert!(c.handler.is_none() || c.name == "command", "{} container with handler", c.name);
                for s in &c.subcommands {
                    assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
                }
            }
            // Commands with keys declare key specs, and vice versa.
            if c.legacy_keys.0 != 0 {
                assert!(!c.key_specs.is_empty(), "{} has keys but no key specs", c.name);
            }
            for acl in &c.acl_categories {
                assert!(acl.starts_with('@'), "{} acl {}", c.name, acl);
            }
        }
    }

    #[test]
    fn key_positions_from_specs() {
        let t = CommandTable::get();
        let argv = |s: &str| s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect::<Vec<_>>();
        assert_eq!(t.resolve(&argv("get k")).unwrap().key_positions(&argv("get k")), vec![1]);
        let a = argv("mset a 1 b 2");
        assert_eq!(t.resolve(&a).unwrap().key_positions(&a), vec![1, 3]);
        let a = argv("del a b c");
        assert_eq!(t.resolve(&a).unwrap().key_positions(&a), vec![1, 2, 3]);
    }
}
