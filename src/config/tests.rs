//! Unit tests of the configuration subsystem. Expected texts come from redis-server
//! 7.0.15 (its CONFIG GET * defaults are in `redis-7.0.15-defaults.tsv`).

use std::path::{Path, PathBuf};

use super::table::{self, Access, Ctx, SETTINGS};
use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("moonkv-config-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(std::fs::canonicalize(&dir).expect("canonical temp dir"))
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(t: &str) -> Config {
    Config::from_text(t).unwrap_or_else(|e| panic!("{e}"))
}

fn text_err(t: &str) -> String {
    Config::from_text(t).expect_err("should fail").message
}

fn args(a: &[&str]) -> Result<Config, ConfigError> {
    Config::from_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn banner(line: usize, shown: &str, reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (moonkv {}) ***\nReading the configuration file, at line {line}\n>>> '{shown}'\n{reason}",
        env!("CARGO_PKG_VERSION")
    )
}

fn get1(c: &Config, name: &str) -> String {
    let all = c.get(name.as_bytes());
    assert_eq!(all.len(), 1, "{name}: {all:?}");
    all[0].1.clone()
}

fn set(c: &mut Config, pairs: &[(&str, &str)]) -> Result<(), String> {
    let pairs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
    c.set(&pairs)
}

// ---- the table itself

#[test]
fn names_are_unique_and_lowercase() {
    let mut seen = std::collections::HashSet::new();
    for name in Config::names() {
        assert_eq!(name, name.to_ascii_lowercase());
        assert!(seen.insert(name), "{name} twice");
    }
}

/// CONFIG GET output is accepted back by CONFIG SET, and REWRITE lines are accepted
/// back by the file parser, without changing anything.
#[test]
fn every_value_round_trips_through_its_own_parser() {
    let c = text("maxmemory 3mb\nslaveof 10.0.0.1 6380\nsave 10 1\nnotify-keyspace-events Elx\nrequirepass x");
    for s in SETTINGS {
        let lines = s.rewrite_lines(&c);
        let reloaded = text(&lines.join("\n"));
        assert_eq!(s.show(&reloaded), s.show(&c), "{}: {lines:?}", s.name);
        if s.flags & table::IMMUTABLE != 0 {
            continue;
        }
        let mut again = Config { enable_protected_configs: EnableCmd::Yes, ..c.clone() };
        let shown = s.show(&c);
        set(&mut again, &[(s.name, &shown)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, Config { enable_protected_configs: EnableCmd::Yes, ..c.clone() }, "{}", s.name);
    }
}

#[test]
fn defaults_match_redis_7_0() {
    // Settings moonkv accepts only with a value that differs from Redis's default,
    // because that value is what moonkv really does.
    let deviations =
        ["crash-log-enabled", "crash-memcheck-enabled", "disable-thp", "jemalloc-bg-thread", "set-proc-title"];
    let c = Config::default();
    let ours: Vec<(String, String)> = c.get(b"*");
    let mut redis_names = Vec::new();
    for line in include_str!("redis-7.0.15-defaults.tsv").lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once('\t').expect("tab");
        redis_names.push(name);
        let mine = ours.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing"));
        if deviations.contains(&name) {
            assert_ne!(mine.1, value, "{name} no longer deviates: drop it from the list");
        } else {
            assert_eq!(mine.1, value, "{name}");
        }
    }
    for (name, _) in &ours {
        assert!(
            redis_names.contains(&name.as_str())
                || name == "dir"
                || name == "script-replication"
                || name == "lua-memory-limit"
                || name == "promotion-handover-timeout",
            "{name}"
        );
    }
}

#[test]
fn fixed_values_are_canonical_and_refuse_others() {
    for s in SETTINGS {
        if let Access::Fixed { value, .. } = s.access {
            let mut c = Config::default();
            let words = if s.flags & table::MULTI_ARG != 0 {
                value.split(' ').map(|w| w.as_bytes().to_vec()).collect()
            } else {
                vec![value.as_bytes().to_vec()]
            };
            s.apply(&mut c, &words, &mut Ctx::runtime()).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }
    assert_eq!(
        text_err("appendonly yes"),
        banner(1, "appendonly yes", "moonkv has no AOF (append only file) (appendonly must be no)")
    );
    assert!(text_err("daemonize yes")
        .ends_with("moonkv does not daemonize: run it in the foreground under a supervisor (daemonize must be no)"));
    assert!(text_err("cluster-enabled yes").contains("moonkv has no cluster mode"));
    assert!(text_err("aclfile /etc/users.acl").ends_with("(aclfile must be \"\")"));
    // Syntax errors keep Redis's text even for fixed settings.
    assert!(text_err("appendonly maybe").ends_with("\nargument must be 'yes' or 'no'"));
    let c = text("appendonly no\nio-threads 1\nlazyfree-lazy-user-del no\noom-score-adj-values 0 200 800\nshutdown-on-sigterm default");
    assert_eq!(get1(&c, "appendonly"), "no");
    assert!(text_err("shutdown-on-sigterm save nosave")
        .ends_with("shutdown options SAVE and NOSAVE can't be used simultaneously"));
    assert!(text_err("shutdown-on-sigterm now").ends_with("(shutdown-on-sigterm must be default)"));
}

// ---- parsing

#[test]
fn empty_text_is_the_default() {
    assert_eq!(text(""), Config::default());
    assert_eq!(text("# only a comment\n\n   \t\n"), Config::default());
}

#[test]
fn parses_quotes_escapes_and_comments() {
    let c = text("# comment\n  requirepass \"p\\x41ss\\n\"  \nmasterauth 'it\\'s'\nlogfile \"\"\n\tport 7000\r\n");
    assert_eq!(c.requirepass.as_deref(), Some(&b"pAss\n"[..]));
    assert_eq!(c.masterauth.as_deref(), Some(&b"it's"[..]));
    assert_eq!(c.logfile, "");
    assert_eq!(c.port, 7000);
    assert_eq!(text("requirepass \"\"").requirepass, None);
    assert_eq!(
        text_err("port 1\nrequirepass \"abc"),
        banner(2, "requirepass \"abc", "Unbalanced quotes in configuration line")
    );
}

#[test]
fn parses_units_booleans_and_enums() {
    let c = text(
        "maxmemory 1gb\nrepl-backlog-size 10MB\nproto-max-bulk-len 2g\nhash-max-listpack-value 1k\n\
         protected-mode NO\nmaxmemory-policy ALLKEYS-LFU\nloglevel warning\nenable-debug-command local\n\
         script-replication effects\nhz 1000\nslowlog-log-slower-than -1\nlist-max-listpack-size -3",
    );
    assert_eq!(c.maxmemory, 1 << 30);
    assert_eq!(c.repl_backlog_size, 10 << 20);
    assert_eq!(c.proto_max_bulk_len, 2_000_000_000);
    assert_eq!(c.hash_max_listpack_value, 1000);
    assert!(!c.protected_mode);
    assert_eq!(c.maxmemory_policy, MaxmemoryPolicy::AllkeysLfu);
    assert!(c.maxmemory_policy.is_lfu());
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.enable_debug_command, EnableCmd::Local);
    assert_eq!(c.script_replication, ScriptReplication::Effects);
    assert_eq!(c.hz, 500);
    assert_eq!(c.slowlog_log_slower_than, -1);
    assert_eq!(c.list_max_listpack_size, -3);
}

#[test]
fn aliases_map_to_modern_fields() {
    let c = text(
        "slaveof 10.0.0.1 6380\nslave-read-only no\nlua-time-limit 100\nhash-max-ziplist-entries 7\n\
         zset-max-ziplist-value 9\nlist-max-ziplist-size 5\nslave-priority 3\nrepl-ping-slave-period 2\n\
         min-slaves-to-write 1\nmin-slaves-max-lag 4\nslave-announce-ip 1.2.3.4\nslave-serve-stale-data no\n\
         slave-announce-port 9\nslave-ignore-maxmemory no",
    );
    assert_eq!(c.replicaof, Some(("10.0.0.1".to_string(), 6380)));
    assert!(!c.replica_read_only);
    assert_eq!(c.busy_reply_threshold, 100);
    assert_eq!(c.hash_max_listpack_entries, 7);
    assert_eq!(c.zset_max_listpack_value, 9);
    assert_eq!(c.list_max_listpack_size, 5);
    assert_eq!(c.replica_priority, 3);
    assert_eq!(c.repl_ping_replica_period, 2);
    assert_eq!(c.min_replicas_to_write, 1);
    assert_eq!(c.min_replicas_max_lag, 4);
    assert_eq!(c.replica_announce_ip.as_deref(), Some("1.2.3.4"));
    assert!(!c.replica_serve_stale_data);
    assert_eq!(c.replica_announce_port, 9);
    assert!(!c.replica_ignore_maxmemory);
    assert_eq!(text("slaveof 1.2.3.4 6380\nreplicaof no one").replicaof, None);
    assert!(text_err("replicaof host").ends_with("\nwrong number of arguments"));
    assert!(text_err("replicaof host 70000").ends_with("\nInvalid master port"));
}

#[test]
fn multi_argument_directives() {
    // Save lines add to each other; the first replaces the defaults.
    let c = text("save 900 1\nsave 300 10\nsave \"60 10000\"");
    assert_eq!(c.save, vec![(900, 1), (300, 10), (60, 10000)]);
    assert_eq!(text("save 900 1\nsave \"\"").save, vec![]);
    assert_eq!(text("save \"\"\nsave 900 1").save, vec![(900, 1)]);
    assert_eq!(text("save ''").save, vec![]);
    assert!(text_err("save 1").ends_with("\nInvalid save parameters"));
    assert!(text_err("save 0 1").ends_with("\nInvalid save parameters"));
    assert!(text_err("save a 1").ends_with("\nInvalid save parameters"));
    // Bind replaces.
    let c = text("bind 1.2.3.4\nbind 127.0.0.1 -::1");
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(text("bind \"127.0.0.1 ::1\"").bind, vec!["127.0.0.1", "::1"]);
    assert!(
        text_err(&format!("bind {}", vec!["1.1.1.1"; 17].join(" "))).ends_with("\nToo many bind addresses specified.")
    );
    let c = text("client-output-buffer-limit normal 1mb 2kb 3\nclient-output-buffer-limit slave 1 2 3 pubsub 4 5 6");
    assert_eq!(c.client_output_buffer_limit.normal, BufferLimit { hard: 1 << 20, soft: 2048, soft_seconds: 3 });
    assert_eq!(c.client_output_buffer_limit.replica, BufferLimit { hard: 1, soft: 2, soft_seconds: 3 });
    assert_eq!(c.client_output_buffer_limit.pubsub, BufferLimit { hard: 4, soft: 5, soft_seconds: 6 });
    assert!(text_err("client-output-buffer-limit master 1 2 3")
        .ends_with("\nInvalid client class specified in buffer limit configuration."));
    assert!(text_err("client-output-buffer-limit normal 1 2")
        .ends_with("\nWrong number of arguments in buffer limit configuration."));
    assert!(text_err("client-output-buffer-limit normal 1 2 -3")
        .ends_with("\nError in hard, soft or soft_seconds setting in buffer limit configuration."));
    // A single-argument directive with two arguments.
    assert_eq!(text_err("port 1 2"), banner(1, "port 1 2", "wrong number of arguments"));
}

#[test]
fn bad_directive_names_the_line() {
    assert_eq!(text_err("port 7000\nfoo bar\n"), banner(2, "foo bar", "Bad directive or wrong number of arguments"));
    assert_eq!(text_err("\n\nmaxmemory abc"), banner(3, "maxmemory abc", "argument must be a memory value"));
    assert!(text_err("rename-command FLUSHALL \"\"").ends_with("\nmoonkv does not support rename-command"));
    assert!(text_err("lua-replicate-commands yes").contains("script-replication"));
    assert!(text_err("user alice on").contains("no ACL users"));
    assert!(text_err("loadmodule /x.so").contains("modules"));
    assert!(text_err("databases 0").ends_with("\nargument must be between 1 and 2147483647 inclusive"));
    assert!(text_err("dir /nonexistent/moonkv").ends_with("\nNo such file or directory"));
    assert!(text_err("dbfilename a/b.rdb").ends_with("\ndbfilename can't be a path, just a filename"));
}

#[test]
fn command_line_follows_the_file() {
    let tmp = TempDir::new("argv");
    let file = tmp.file("a.conf", "port 7000\nmaxmemory 1mb\n");
    let c =
        args(&[file.to_str().expect("utf8"), "--port", "7001", "--save", "--bind", "127.0.0.1", "::1"]).expect("load");
    assert_eq!(c.port, 7001);
    assert_eq!(c.maxmemory, 1 << 20);
    assert_eq!(c.save, vec![]);
    assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    // Options are numbered as lines after the file, like redis-server.
    let e = args(&[file.to_str().expect("utf8"), "--foo", "1"]).expect_err("bad").message;
    assert_eq!(e, banner(4, "foo \"1\"", "Bad directive or wrong number of arguments"));
    let e = args(&["--port", "99999"]).expect_err("bad").message;
    assert_eq!(e, banner(2, "port \"99999\"", "argument must be between 0 and 65535 inclusive"));
    assert_eq!(args(&["--port 7002", "--requirepass", "--x"]).expect("load").requirepass.as_deref(), Some(&b"--x"[..]));
    assert!(args(&["-"]).is_err());
    let missing = args(&["/nonexistent/moonkv.conf"]).expect_err("missing").message;
    assert_eq!(missing, "Fatal error, can't open config file '/nonexistent/moonkv.conf': No such file or directory");
    assert_eq!(args(&[]).expect("no args"), Config::default());
}

#[test]
fn include_files_and_globs() {
    let tmp = TempDir::new("include");
    tmp.file("b.conf", "maxmemory 2mb\n");
    tmp.file("frag-1.conf", "port 7100\n");
    tmp.file("frag-2.conf", "port 7200\ntimeout 5\n");
    let inner = tmp.0.join("b.conf");
    let main = tmp.file(
        "main.conf",
        &format!("port 7000\ninclude {}\ninclude {}/frag-*.conf\n", inner.display(), tmp.0.display()),
    );
    let c = args(&[main.to_str().expect("utf8")]).expect("load");
    assert_eq!(c.maxmemory, 2 << 20);
    assert_eq!(c.port, 7200);
    assert_eq!(c.timeout, 5);
    let bad = tmp.file("bad.conf", "\nfoo 1\n");
    let e = text_err(&format!("include {}", bad.display()));
    assert!(e.contains(&format!("at line 2 of included file '{}'", bad.display())), "{e}");
    assert!(e.ends_with("\n>>> 'foo 1'\nBad directive or wrong number of arguments"), "{e}");
    assert!(text_err("include /nonexistent/x.conf").contains("can't open config file '/nonexistent/x.conf'"));
    let looped = tmp.0.join("loop.conf");
    std::fs::write(&looped, format!("include {}\n", looped.display())).expect("write");
    assert!(text_err(&format!("include {}", looped.display())).contains("include loop"));
}

#[test]
fn dir_is_absolute_and_must_exist() {
    let tmp = TempDir::new("dir");
    let c = text(&format!("dir {}/./", tmp.0.display()));
    assert_eq!(c.dir, tmp.0);
    assert!(c.dir.is_absolute());
    let file = tmp.file("f", "");
    assert!(text_err(&format!("dir {}", file.display())).ends_with("\nNot a directory"));
}

#[test]
fn the_shipped_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/moonkv.conf");
    let conf = std::fs::read_to_string(&path).expect("configs/moonkv.conf");
    // `dir ./data` is relative to where the server starts (the Makefile creates it).
    assert!(conf.lines().any(|l| l == "dir ./data"));
    let tmp = TempDir::new("shipped");
    let c = text(&conf.replace("dir ./data", &format!("dir {}", tmp.0.display())));
    assert_eq!(c.port, 6379);
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.enable_debug_command, EnableCmd::Local);
    assert_eq!(c.save, Config::default().save);
    assert_eq!(c.dir, tmp.0);
}

// ---- CONFIG GET

#[test]
fn get_with_globs_and_aliases() {
    let c = text("maxmemory 100mb\nnotify-keyspace-events KEA");
    assert_eq!(c.get(b"maxmemory"), vec![("maxmemory".to_string(), "104857600".to_string())]);
    assert_eq!(c.get(b"PORT"), vec![("PORT".to_string(), "6379".to_string())]);
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get1(&c, "bind"), "* -::*");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "lua-time-limit"), "5000");
    let mut slave: Vec<String> = c.get(b"slave*").into_iter().map(|(n, _)| n).collect();
    slave.sort();
    assert_eq!(
        slave,
        [
            "slave-announce-ip",
            "slave-announce-port",
            "slave-ignore-maxmemory",
            "slave-lazy-flush",
            "slave-priority",
            "slave-read-only",
            "slave-serve-stale-data",
            "slaveof"
        ]
    );
    let maxmem: Vec<String> = c.get(b"MAXMEMORY*").into_iter().map(|(n, _)| n).collect();
    assert_eq!(maxmem.len(), 5, "{maxmem:?}");
    // Hidden settings answer only to their exact name.
    let delays: Vec<String> = c.get(b"*-delay").into_iter().map(|(n, _)| n).collect();
    assert_eq!(delays, ["repl-diskless-sync-delay"]);
    assert_eq!(get1(&c, "rdb-key-save-delay"), "0");
    assert!(c.get(b"nosuch").is_empty());
    assert_eq!(c.get_many(&[b"port", b"PORT", b"p?rt"]).len(), 1);
}

#[test]
fn notify_keyspace_events_format() {
    let show = |s: &str| get1(&text(&format!("notify-keyspace-events \"{s}\"")), "notify-keyspace-events");
    assert_eq!(show("Eg$"), "g$E");
    assert_eq!(show("KEA"), "AKE");
    assert_eq!(show("Anm"), "Anm");
    assert_eq!(show("Ex"), "xE");
    assert_eq!(show(""), "");
    assert!(text_err("notify-keyspace-events Z").ends_with("\nInvalid event class character. Use 'Ag$lshzxeKEtmdn'."));
}

// ---- CONFIG SET

#[test]
fn set_error_texts_match_redis() {
    let mut c = Config::default();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("foo", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&[("maxmemory", "1"), ("foo", "2"), ("daemonize", "yes")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&[("maxmemory", "abc")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&[("maxmemory", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&[("daemonize", "yes")], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&[("maxmemory", "1"), ("MAXMEMORY", "2")], "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter"),
        (&[("daemonize", "yes"), ("maxmemory", "1"), ("maxmemory", "2")], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&[("SLAVE-PRIORITY", "abc")], "ERR CONFIG SET failed (possibly related to argument 'slave-priority') - argument couldn't be parsed into an integer"),
        (&[("dir", "/tmp")], "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"),
        (&[("dbfilename", "x.rdb")], "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"),
        (&[("replicaof", "a 1")], "ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config"),
        (&[("port", "70000")], "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"),
        (&[("timeout", "-1")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
        (&[("hz", " 5")], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"),
        (&[("protected-mode", "maybe")], "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"),
        (&[("maxmemory-policy", "foo")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        (&[("loglevel", " notice")], "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"),
        (&[("save", "1")], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&[("save", "10 1"), ("save", "20 2")], "ERR CONFIG SET failed (possibly related to argument 'save') - duplicate parameter"),
        (&[("client-output-buffer-limit", "foo 1 2 3")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."),
        (&[("proto-max-bulk-len", "18446744073709551615")], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"),
        (&[("slowlog-log-slower-than", "-5")], "ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive"),
        (&[("maxmemory-clients", "101%")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"),
        (&[("maxmemory-clients", "abc")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value"),
        (&[("latency-tracking-info-percentiles", "50 200")], "ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
        (&[("appendonly", "yes")], "ERR CONFIG SET failed (possibly related to argument 'appendonly') - moonkv has no AOF (append only file) (appendonly must be no)"),
    ];
    for (pairs, expected) in cases {
        assert_eq!(set(&mut c, pairs).expect_err("must fail"), *expected, "{pairs:?}");
        assert_eq!(c, Config::default(), "{pairs:?} changed something");
    }
}

#[test]
fn set_is_all_or_nothing() {
    let mut c = Config::default();
    let err = set(&mut c, &[("maxmemory", "1mb"), ("timeout", "5"), ("hz", "x")]).expect_err("hz");
    assert!(err.contains("'hz'"));
    assert_eq!(c, Config::default());
    set(
        &mut c,
        &[("maxmemory", "1mb"), ("timeout", "5"), ("hz", "0"), ("slave-priority", "1"), ("replica-priority", "2")],
    )
    .expect("set");
    assert_eq!(c.maxmemory, 1 << 20);
    assert_eq!(c.timeout, 5);
    assert_eq!(c.hz, 1);
    assert_eq!(c.replica_priority, 2);
    set(&mut c, &[("save", ""), ("bind", "127.0.0.1    -::1"), ("notify-keyspace-events", "Eg$")]).expect("set");
    assert!(c.save.is_empty());
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(get1(&c, "notify-keyspace-events"), "g$E");
    set(&mut c, &[("save", "100 10 200 20"), ("client-output-buffer-limit", "replica 1 2 3 normal 4 5 6")])
        .expect("set");
    assert_eq!(get1(&c, "save"), "100 10 200 20");
    assert_eq!(get1(&c, "client-output-buffer-limit"), "normal 4 5 6 slave 1 2 3 pubsub 33554432 8388608 60");
    set(&mut c, &[("maxmemory-clients", "0%"), ("requirepass", "secret"), ("hz", "1000")]).expect("set");
    assert_eq!(c.requirepass.as_deref(), Some(&b"secret"[..]));
    assert_eq!(get1(&c, "hz"), "500");
    set(&mut c, &[("requirepass", "")]).expect("set");
    assert_eq!(c.requirepass, None);
    assert!(Config::is_sensitive(b"REQUIREPASS") && !Config::is_sensitive(b"port"));
}

#[test]
fn protected_configs_follow_enable_protected_configs() {
    let tmp = TempDir::new("protected");
    let dir = tmp.0.display().to_string();
    let mut c = text("enable-protected-configs local");
    let pairs: [(&[u8], &[u8]); 2] = [(b"dir", dir.as_bytes()), (b"dbfilename", b"x.rdb")];
    assert!(c.set_from(&pairs, false).expect_err("remote").contains("can't set protected config"));
    c.set_from(&pairs, true).expect("local");
    assert_eq!(c.dir, tmp.0);
    assert_eq!(c.dbfilename, "x.rdb");
    let mut c = text("enable-protected-configs yes");
    let err = set(&mut c, &[("dir", "/nonexistent/x")]).expect_err("missing dir");
    assert_eq!(err, "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory");
}

// ---- CONFIG REWRITE

const OLD_FILE: &str = "# top comment
port 7399

# persistence
save 900 1
save 300 10
slave-read-only yes
maxmemory 100mb
hash-max-ziplist-entries 100
dbfilename \"dump.rdb\"
requirepass \"\"
timeout 0
timeout 5
include /dev/null
bind 127.0.0.1
";

#[test]
fn rewrite_keeps_comments_and_order() {
    let tmp = TempDir::new("rewrite");
    let path = tmp.file("r.conf", OLD_FILE);
    let mut c = args(&[path.to_str().expect("utf8")]).expect("load");
    set(
        &mut c,
        &[
            ("maxmemory", "200mb"),
            ("lfu-log-factor", "20"),
            ("slave-priority", "5"),
            ("maxmemory-policy", "allkeys-lru"),
            ("masterauth", "a b\"c"),
            ("notify-keyspace-events", "KEA"),
            ("client-output-buffer-limit", "normal 1mb 0 0"),
        ],
    )
    .expect("set");
    c.rewrite().expect("rewrite");
    let expected = format!(
        "# top comment
port 7399

# persistence
save 900 1
save 300 10
replica-read-only yes
maxmemory 200mb
hash-max-listpack-entries 100
dbfilename \"dump.rdb\"

timeout 5

include /dev/null
bind 127.0.0.1
# Generated by CONFIG REWRITE
client-output-buffer-limit normal 1mb 0 0
notify-keyspace-events \"AKE\"
maxmemory-policy allkeys-lru
lfu-log-factor 20
dir \"{}\"
masterauth \"a b\\\"c\"
replica-priority 5
",
        c.dir.display()
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), expected);
    // The rewritten file loads back into the same configuration.
    assert_eq!(args(&[path.to_str().expect("utf8")]).expect("reload"), c);

    // Fewer save points, defaults again: orphaned lines go, the marker is not repeated.
    set(&mut c, &[("save", "60 1"), ("maxmemory", "0"), ("bind", "127.0.0.1 -::1"), ("masterauth", "")]).expect("set");
    c.rewrite().expect("rewrite");
    let again = std::fs::read_to_string(&path).expect("read");
    assert!(again.contains("# persistence\nsave 60 1\n\nreplica-read-only yes\nmaxmemory 0\n"), "{again}");
    assert_eq!(again.matches(MARKER_FOR_TESTS).count(), 1);
    assert!(!again.contains("masterauth"));
    assert!(again.contains("bind 127.0.0.1 -::1\n"));
    assert_eq!(args(&[path.to_str().expect("utf8")]).expect("reload"), c);
}

const MARKER_FOR_TESTS: &str = super::rewrite::MARKER;

#[test]
fn rewrite_of_a_new_file_and_errors() {
    let tmp = TempDir::new("rewrite-new");
    let path = tmp.0.join("new.conf");
    let mut c = Config { config_file: Some(path.clone()), ..Config::default() };
    set(&mut c, &[("maxmemory", "1000"), ("repl-backlog-size", "3mb"), ("appendonly", "no"), ("protected-mode", "no")])
        .expect("set");
    c.rewrite().expect("rewrite");
    let written = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        written,
        format!(
            "# Generated by CONFIG REWRITE\nprotected-mode no\nmaxmemory 1000\nsave 3600 1\nsave 300 100\nsave 60 10000\n\
             dir \"{}\"\nrepl-backlog-size 3mb\n",
            c.dir.display()
        )
    );
    assert_eq!(Config::default().rewrite(), Err("ERR The server is running without a config file".into()));
    let bad = Config { config_file: Some(tmp.0.join("no/such/dir/x.conf")), ..Config::default() };
    assert_eq!(bad.rewrite(), Err("ERR Rewriting config file: No such file or directory".into()));
}

#[test]
fn rewrite_comments_out_unparsable_lines() {
    let c = Config::default();
    let out = super::rewrite::rewritten(&c, "# ok\nport 6379\nsave \"oops\n");
    assert!(out.starts_with("# ok\nport 6379\n# ??? save \"oops\n"), "{out}");
}
