//! RDB persistence against the real thing: fixtures written by redis-server 7.0 load
//! into moonkv with the same dataset; files moonkv writes load into redis-server with
//! the same dataset; SAVE, BGSAVE, save points, LASTSAVE, SHUTDOWN SAVE, DEBUG
//! RELOAD, -LOADING while a file loads, MISCONF after a failed save, and start-up
//! with a corrupt file.
//!
//! Datasets are compared key by key through commands (type, contents, exact
//! deadline via PEXPIRETIME), in every database.

mod common;
use common::*;
use std::time::Duration;

fn wait_bgsave_done(r: &mut redis::Connection) {
    wait_for(Duration::from_secs(30), "the background save to finish", || {
        field(&info_of(r, "persistence"), "rdb_bgsave_in_progress").as_deref() == Some("0")
    });
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/rdb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn fixtures_written_by_redis_load_with_the_same_dataset() {
    if redis_server_bin().is_none() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    for name in ["all-types.rdb", "all-types-nocompress.rdb", "compressed-list.rdb"] {
        let bytes = fixture(name);
        let redis = Server::start_redis_with_files(&[], &[("dump.rdb", &bytes)]).expect("redis-server");
        let moonkv = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
        let (mut r, mut m) = (redis.conn(), moonkv.conn());
        wait_loaded(&mut r);
        wait_loaded(&mut m);
        let want = dataset(&mut r);
        assert!(!want.is_empty(), "{name}: the fixture holds no keys");
        assert_same(&want, &dataset(&mut m), name);
        let loaded = field(&info_of(&mut m, "persistence"), "rdb_last_load_keys_loaded");
        assert_eq!(loaded, Some(want.len().to_string()), "{name}: rdb_last_load_keys_loaded");
    }
}

/// A dataset with every type, encoding edge and expiries, in several databases.
fn fill(r: &mut redis::Connection) {
    let mut p = redis::pipe();
    p.cmd("SET").arg("s:int").arg("-123");
    p.cmd("SET").arg("s:i32max").arg("2147483647");
    p.cmd("SET").arg("s:i64").arg("9223372036854775807");
    p.cmd("SET").arg("s:lead0").arg("007");
    p.cmd("SET").arg("s:long").arg("L".repeat(5000));
    p.cmd("SET").arg("s:bin").arg(&b"\x00\x01\xff\r\n"[..]);
    p.cmd("SET").arg("s:empty").arg("");
    p.cmd("SET").arg("s:ttl").arg("v").arg("PXAT").arg(4102444800123i64);
    for i in 0..700 {
        p.cmd("RPUSH").arg("l:big").arg(format!("item-{i}-{}", "p".repeat(i % 50)));
        p.cmd("SADD").arg("set:bigint").arg(i * 7 - 300);
        p.cmd("SADD").arg("set:big").arg(format!("m{i}"));
        p.cmd("HSET").arg("h:big").arg(format!("f{i}")).arg(i);
        p.cmd("ZADD").arg("z:big").arg(i as f64 / 3.0).arg(format!("z{i}"));
    }
    p.cmd("RPUSH").arg("l:small").arg("a").arg("1").arg("-2").arg("4294967296").arg("");
    p.cmd("SADD").arg("set:small").arg(1).arg(2).arg(-3);
    p.cmd("SADD").arg("set:mixed").arg("a").arg(1);
    p.cmd("HSET").arg("h:small").arg("a").arg("1").arg("b").arg("x".repeat(100));
    p.cmd("ZADD").arg("z:small").arg(1.5).arg("a").arg("-inf").arg("b").arg("inf").arg("c").arg(0).arg("d");
    p.cmd("ZADD").arg("z:ints").arg(1).arg("a").arg(-2).arg("b").arg(1e15).arg("c");
    p.cmd("PEXPIREAT").arg("h:small").arg(4102444800999i64);
    p.cmd("SELECT").arg(3);
    p.cmd("SET").arg("db3").arg("three");
    p.cmd("RPUSH").arg("db3:list").arg("x");
    p.cmd("SELECT").arg(15);
    p.cmd("HSET").arg("db15").arg("f").arg("v");
    p.cmd("SELECT").arg(0);
    p.query::<()>(r).expect("fill");
}

#[test]
fn files_written_by_moonkv_load_in_redis_with_the_same_dataset() {
    if redis_server_bin().is_none() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    for compression in ["yes", "no"] {
        let moonkv = Server::start(&["--rdbcompression", compression]);
        let mut m = moonkv.conn();
        fill(&mut m);
        assert_eq!(redis::cmd("SAVE").query::<String>(&mut m).expect("save"), "OK");
        let want = dataset(&mut m);
        let bytes = std::fs::read(moonkv.dir.path().join("dump.rdb")).expect("dump.rdb written");
        let redis = Server::start_redis_with_files(&[], &[("dump.rdb", &bytes)]).expect("redis-server");
        let mut r = redis.conn();
        wait_loaded(&mut r);
        assert_same(
            &want,
            &dataset(&mut r),
            &format!("redis-server loading moonkv's file (rdbcompression {compression})"),
        );
        // And back: redis-server's own save of the same data loads in moonkv.
        assert_eq!(redis::cmd("SAVE").query::<String>(&mut r).expect("save"), "OK");
        let bytes = std::fs::read(redis.dir.path().join("dump.rdb")).expect("redis dump.rdb");
        let again = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
        let mut a = again.conn();
        wait_loaded(&mut a);
        assert_same(&want, &dataset(&mut a), "moonkv loading redis-server's save of the same data");
    }
}

#[test]
fn restart_loads_what_save_and_shutdown_wrote() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    fill(&mut c);
    let want = dataset(&mut c);
    let before: i64 = redis::cmd("LASTSAVE").query(&mut c).expect("lastsave");
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut c).expect("save"), "OK");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut c).expect("lastsave");
    assert!(after >= before, "LASTSAVE {before} -> {after}");
    let p = info_of(&mut c, "persistence");
    assert_eq!(field(&p, "rdb_changes_since_last_save").as_deref(), Some("0"), "{p}");
    assert_eq!(field(&p, "rdb_saves").as_deref(), Some("1"), "{p}");
    redis::cmd("SET").arg("after-save").arg("1").query::<()>(&mut c).expect("set");
    // SHUTDOWN SAVE writes the newest state; a new server in the same dir loads it.
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    let mut want = want;
    want.insert((0, b"after-save".to_vec()), ("string".into(), vec![b"1".to_vec()], -1));
    assert_same(&want, &dataset(&mut d), "restart after SHUTDOWN SAVE");
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    fill(&mut c);
    let want = dataset(&mut c);
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).expect("digest");
    assert_eq!(redis::cmd("DEBUG").arg("RELOAD").query::<String>(&mut c).expect("reload"), "OK");
    assert_eq!(redis::cmd("DEBUG").arg("DIGEST").query::<String>(&mut c).expect("digest"), digest);
    assert_same(&want, &dataset(&mut c), "DEBUG RELOAD");
    // NOSAVE reloads the file as it is: a key written since is gone.
    redis::cmd("SET").arg("extra").arg("1").query::<()>(&mut c).expect("set");
    assert_eq!(redis::cmd("DEBUG").arg("RELOAD").arg("NOSAVE").query::<String>(&mut c).expect("reload"), "OK");
    assert_same(&want, &dataset(&mut c), "DEBUG RELOAD NOSAVE");
    // NOFLUSH keeps what is in memory; a key in both is an error without MERGE.
    redis::cmd("SET").arg("extra").arg("1").query::<()>(&mut c).expect("set");
    let err = redis::cmd("DEBUG").arg("RELOAD").arg("NOSAVE").arg("NOFLUSH").query::<String>(&mut c).unwrap_err();
    assert!(format!("{err:?}").contains("Duplicate key"), "{err:?}");
    let reply: String =
        redis::cmd("DEBUG").arg("RELOAD").arg("NOSAVE").arg("NOFLUSH").arg("MERGE").query(&mut c).expect("merge");
    assert_eq!(reply, "OK");
    let mut with_extra = want.clone();
    with_extra.insert((0, b"extra".to_vec()), ("string".into(), vec![b"1".to_vec()], -1));
    assert_same(&with_extra, &dataset(&mut c), "DEBUG RELOAD NOSAVE NOFLUSH MERGE");
    let err = redis::cmd("DEBUG").arg("RELOAD").arg("FOO").query::<String>(&mut c).unwrap_err();
    assert!(format!("{err:?}").contains("only supports"), "{err:?}");
}

#[test]
fn bgsave_writes_the_cut_while_writes_continue() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    redis::cmd("DEBUG").arg("POPULATE").arg(5_000).query::<()>(&mut c).expect("populate");
    fill(&mut c);
    let want = dataset(&mut c);
    // 20 µs per key written: the save is still running while the writes below arrive.
    redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(20).query::<()>(&mut c).expect("delay");
    assert_eq!(redis::cmd("BGSAVE").query::<String>(&mut c).expect("bgsave"), "Background saving started");
    let p = info_of(&mut c, "persistence");
    assert_eq!(field(&p, "rdb_bgsave_in_progress").as_deref(), Some("1"), "{p}");
    // Writes right after the cut: none of them may reach the file.
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("key:{i}")).arg("changed");
        p.cmd("RPUSH").arg("l:big").arg(i);
        p.cmd("HSET").arg("h:big").arg(format!("f{i}")).arg("changed");
    }
    p.cmd("DEL").arg("z:big").arg("set:big");
    p.cmd("FLUSHDB").arg("ASYNC");
    p.query::<()>(&mut c).expect("writes during BGSAVE");
    wait_bgsave_done(&mut c);
    let p = info_of(&mut c, "persistence");
    assert_eq!(field(&p, "rdb_last_bgsave_status").as_deref(), Some("ok"), "{p}");
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    assert_same(&want, &dataset(&mut d), "the file of a BGSAVE holds the state at the cut");
}

#[test]
fn bgsave_schedule_and_save_points() {
    let s = Server::start(&["--save", "1 1"]);
    let mut c = s.conn();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut c).expect("set");
    wait_for(Duration::from_secs(10), "a save point to trigger a background save", || {
        field(&info_of(&mut c, "persistence"), "rdb_saves").is_some_and(|n| n != "0")
    });
    wait_bgsave_done(&mut c);
    assert!(s.dir.path().join("dump.rdb").exists());
    let reply = redis::cmd("BGSAVE").arg("SCHEDULE").query::<String>(&mut c).expect("bgsave schedule");
    assert!(reply == "Background saving started" || reply == "Background saving scheduled", "{reply}");
    let err = redis::cmd("BGSAVE").arg("FOO").query::<String>(&mut c).unwrap_err();
    assert!(format!("{err:?}").contains("syntax error"), "{err:?}");
}

#[test]
fn loading_replies_while_a_file_loads() {
    let src = Server::start(&[]);
    let mut c = src.conn();
    redis::cmd("DEBUG").arg("POPULATE").arg(3000).query::<()>(&mut c).expect("populate");
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut c).expect("save"), "OK");
    let bytes = std::fs::read(src.dir.path().join("dump.rdb")).expect("dump.rdb");
    // 1 ms per key: three seconds of loading.
    let s = Server::start_with_files(&["--key-load-delay", "1000"], &[("dump.rdb", &bytes)]);
    let mut r = s.raw();
    let info = String::from_utf8_lossy(&r.cmd("INFO persistence")).into_owned();
    assert!(info.contains("loading:1"), "{info}");
    assert!(info.contains("loading_total_bytes:"), "{info}");
    assert_eq!(c_str(&mut r, "GET key:1"), "-LOADING Redis is loading the dataset in memory\r\n");
    assert_eq!(c_str(&mut r, "PING"), "-LOADING Redis is loading the dataset in memory\r\n");
    let mut conn = s.conn();
    wait_loaded(&mut conn);
    assert_eq!(c_str(&mut r, "GET key:1"), "$7\r\nvalue:1\r\n");
    assert_eq!(c_str(&mut r, "DBSIZE"), ":3000\r\n");
}

fn c_str(r: &mut Raw, line: &str) -> String {
    String::from_utf8_lossy(&r.cmd(line)).into_owned()
}

#[test]
fn a_failed_save_refuses_writes_until_a_save_succeeds() {
    let s = Server::start(&["--save", "3600 1", "--enable-protected-configs", "yes"]);
    let mut c = s.conn();
    let gone = s.dir.path().join("gone");
    std::fs::create_dir(&gone).expect("mkdir");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("dir")
        .arg(gone.to_str().expect("utf-8 path"))
        .query::<()>(&mut c)
        .expect("config set dir");
    std::fs::remove_dir(&gone).expect("rmdir");
    assert_eq!(redis::cmd("BGSAVE").query::<String>(&mut c).expect("bgsave"), "Background saving started");
    wait_bgsave_done(&mut c);
    let p = info_of(&mut c, "persistence");
    assert_eq!(field(&p, "rdb_last_bgsave_status").as_deref(), Some("err"), "{p}");
    let mut r = s.raw();
    assert!(c_str(&mut r, "SET k v").starts_with("-MISCONF Redis is configured to save RDB snapshots"));
    assert!(c_str(&mut r, "PING").starts_with("-MISCONF"), "PING reports it too, as redis-server does");
    assert_eq!(c_str(&mut r, "GET k"), "$-1\r\n", "reads still work");
    // SAVE errors too, and SHUTDOWN (without FORCE) refuses to lose the data.
    assert!(c_str(&mut r, "SAVE").starts_with("-ERR"));
    assert_eq!(c_str(&mut r, "SHUTDOWN"), "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
    // A save that works again lifts the refusal.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("dir")
        .arg(s.dir.path().to_str().expect("utf-8 path"))
        .query::<()>(&mut c)
        .expect("config set dir");
    assert_eq!(c_str(&mut r, "BGSAVE"), "+Background saving started\r\n");
    wait_bgsave_done(&mut c);
    assert_eq!(c_str(&mut r, "SET k v"), "+OK\r\n");
}

#[test]
fn bad_input_corrupt_files_stop_the_start_up_with_a_message() {
    let good = fixture("all-types.rdb");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x5a;
    let truncated = good[..good.len() / 3].to_vec();
    let mut future = good.clone();
    future[5..9].copy_from_slice(b"0012");
    for (what, bytes) in [("a flipped byte", flipped), ("a truncated file", truncated), ("version 12", future)] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("dump.rdb"), &bytes).expect("write");
        let log_path = dir.path().join("log");
        let log_file = std::fs::File::create(&log_path).expect("log");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_moonkv"))
            .args(["--port", &free_port().to_string(), "--save", "", "--dir"])
            .arg(dir.path())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("run moonkv");
        let mut status = None;
        wait_for(Duration::from_secs(20), &format!("moonkv to exit on {what}"), || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(!status.expect("exited").success(), "{what}: moonkv started with a corrupt file");
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(log.contains("Fatal error loading the DB"), "{what}: {log}");
    }
}

#[test]
fn dump_payloads_move_between_moonkv_and_redis_in_both_directions() {
    if redis_server_bin().is_none() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let moonkv = Server::start(&[]);
    let redis = Server::start_redis(&[]).expect("redis-server");
    let (mut m, mut r) = (moonkv.conn(), redis.conn());
    fill(&mut m);
    let want = dataset(&mut m);
    // moonkv → redis-server, then redis-server → a fresh moonkv database.
    for (db, key) in want.keys() {
        redis::cmd("SELECT").arg(db).query::<()>(&mut m).expect("select");
        redis::cmd("SELECT").arg(db).query::<()>(&mut r).expect("select");
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut m).expect("dump");
        let deadline: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut m).expect("pexpiretime");
        let ttl = deadline.max(0);
        let mut restore = redis::cmd("RESTORE");
        restore.arg(key).arg(ttl).arg(&payload).arg("ABSTTL");
        let reply: Result<String, _> = restore.query(&mut r);
        assert_eq!(
            reply.as_deref().ok(),
            Some("OK"),
            "redis-server RESTORE of {:?}: {reply:?}",
            String::from_utf8_lossy(key)
        );
    }
    assert_same(&want, &dataset(&mut r), "redis-server restoring moonkv's DUMP payloads");
    let again = Server::start(&[]);
    let mut a = again.conn();
    for (db, key) in want.keys() {
        redis::cmd("SELECT").arg(db).query::<()>(&mut r).expect("select");
        redis::cmd("SELECT").arg(db).query::<()>(&mut a).expect("select");
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut r).expect("dump");
        let deadline: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut r).expect("pexpiretime");
        let reply: Result<String, _> =
            redis::cmd("RESTORE").arg(key).arg(deadline.max(0)).arg(&payload).arg("ABSTTL").query(&mut a);
        assert_eq!(
            reply.as_deref().ok(),
            Some("OK"),
            "moonkv RESTORE of {:?}: {reply:?}",
            String::from_utf8_lossy(key)
        );
    }
    assert_same(&want, &dataset(&mut a), "moonkv restoring redis-server's DUMP payloads");
    // A simple value's payload is byte-for-byte Redis's.
    redis::cmd("SELECT").arg(0).query::<()>(&mut r).expect("select");
    redis::cmd("SELECT").arg(0).query::<()>(&mut a).expect("select");
    for v in ["12345", "hello", "-1", &"x".repeat(100)] {
        redis::cmd("SET").arg("same").arg(v).query::<()>(&mut r).expect("set");
        redis::cmd("SET").arg("same").arg(v).query::<()>(&mut a).expect("set");
        let from_redis: Vec<u8> = redis::cmd("DUMP").arg("same").query(&mut r).expect("dump");
        let from_moonkv: Vec<u8> = redis::cmd("DUMP").arg("same").query(&mut a).expect("dump");
        assert_eq!(from_moonkv, from_redis, "DUMP of {v:?}");
    }
}

#[test]
fn restore_errors_match_redis() {
    compare_with_redis(
        &[
            "DUMP nokey",
            "RESTORE k 0 garbage",
            "RESTORE k -1 garbage",
            "RESTORE k x garbage",
            "RESTORE k 0 garbage IDLETIME -1",
            "RESTORE k 0 garbage IDLETIME x",
            "RESTORE k 0 garbage FREQ 256",
            "RESTORE k 0 garbage FREQ 1 IDLETIME 1",
            "RESTORE k 0 garbage FOO",
            "RESTORE k",
            "SET k 12345",
            "RESTORE k 0 garbage",
            // A correct payload (the integer 12345) with a broken checksum.
            "RESTORE k2 0 \\x00\\xc1\\x39\\x30\\x0a\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00",
            // Version 11 with a correct layout is refused by 7.0.
            "RESTORE k2 0 \\x00\\xc1\\x39\\x30\\x0b\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00",
            "EXISTS k2",
        ],
        |_| true,
    );
}

#[test]
fn scripts_travel_with_the_file() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let loaded: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 'loaded'").query(&mut c).expect("script load");
    let r: String = redis::cmd("EVAL").arg("return 'from eval'").arg(0).query(&mut c).expect("eval");
    assert_eq!(r, "from eval");
    let evald: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 'from eval'").query(&mut c).expect("sha");
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut c).expect("save"), "OK");
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    // The file names its scripts (lua aux fields, as Redis <= 6.2 wrote them).
    assert!(bytes.windows(b"return 'loaded'".len()).any(|w| w == b"return 'loaded'"), "script body in the file");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    let r: String = redis::cmd("EVALSHA").arg(&loaded).arg(0).query(&mut d).expect("evalsha after restart");
    assert_eq!(r, "loaded");
    let r: String = redis::cmd("EVALSHA").arg(&evald).arg(0).query(&mut d).expect("evalsha after restart");
    assert_eq!(r, "from eval");
    // redis-server 7.0 loads the same file and ignores the scripts.
    if let Some(redis) = Server::start_redis_with_files(&[], &[("dump.rdb", &bytes)]) {
        let mut r = redis.conn();
        wait_loaded(&mut r);
        let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(&loaded).query(&mut r).expect("exists");
        assert_eq!(exists, vec![0]);
    }
}

#[test]
fn check_rdb_reports_valid_and_corrupt_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.rdb");
    std::fs::write(&good, fixture("all-types.rdb")).expect("write");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_moonkv")).arg("--check-rdb").arg(&good).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("RDB looks OK"), "{text}");
    assert!(text.contains("AUX FIELD redis-ver = '7.0.15'"), "{text}");
    assert!(text.contains("keys read"), "{text}");
    let mut bytes = fixture("all-types.rdb");
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    let bad = dir.path().join("bad.rdb");
    std::fs::write(&bad, &bytes).expect("write");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_moonkv")).arg("--check-rdb").arg(&bad).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("RDB ERROR DETECTED"), "{text}");
}

#[test]
fn bgsave_of_a_big_dataset_walks_it_in_slices() {
    // The writer walks 150k keys in slices under the lock: the save is in progress
    // from the reply on, and the file holds the whole dataset.
    let s = Server::start(&[]);
    let mut c = s.conn();
    redis::cmd("DEBUG").arg("POPULATE").arg(150_000).query::<()>(&mut c).expect("populate");
    assert_eq!(redis::cmd("BGSAVE").query::<String>(&mut c).expect("bgsave"), "Background saving started");
    // The save takes a few ms at least (writing 150k keys); on a very
    // loaded machine it may already be over, which changes only what comes back here.
    match redis::cmd("BGSAVE").query::<String>(&mut c) {
        Err(e) => {
            assert!(format!("{e:?}").contains("Background save already in progress"), "{e:?}");
            let reply = redis::cmd("BGSAVE").arg("SCHEDULE").query::<String>(&mut c).expect("schedule");
            assert!(reply == "Background saving scheduled" || reply == "Background saving started", "{reply}");
        }
        Ok(reply) => assert_eq!(reply, "Background saving started"),
    }
    wait_for(Duration::from_secs(20), "both saves to finish", || {
        let p = info_of(&mut c, "persistence");
        field(&p, "rdb_saves").as_deref() == Some("2") && field(&p, "rdb_bgsave_in_progress").as_deref() == Some("0")
    });
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut d).expect("dbsize"), 150_000);
    assert_eq!(redis::cmd("GET").arg("key:149999").query::<String>(&mut d).expect("get"), "value:149999");
}

#[test]
fn sigterm_saves_when_save_points_are_configured() {
    let mut s = Server::start(&["--save", "3600 1"]);
    let mut c = s.conn();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut c).expect("set");
    let pid = s.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    wait_for(Duration::from_secs(10), "moonkv to exit on SIGTERM", || !s.alive());
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb written on SIGTERM");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    assert_eq!(redis::cmd("GET").arg("k").query::<String>(&mut d).expect("get"), "v");
}

#[test]
fn flushall_with_save_points_rewrites_the_file() {
    let s = Server::start(&["--save", "3600 1"]);
    let mut c = s.conn();
    redis::cmd("DEBUG").arg("POPULATE").arg(120_000).query::<()>(&mut c).expect("populate");
    assert_eq!(redis::cmd("SAVE").query::<String>(&mut c).expect("save"), "OK");
    // A background save of the old data is abandoned, not renamed over the new file.
    assert_eq!(redis::cmd("BGSAVE").query::<String>(&mut c).expect("bgsave"), "Background saving started");
    assert_eq!(redis::cmd("FLUSHALL").query::<String>(&mut c).expect("flushall"), "OK");
    // FLUSHALL waited for the abandoned writer, so the file is final now.
    wait_bgsave_done(&mut c);
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    let t = Server::start_with_files(&[], &[("dump.rdb", &bytes)]);
    let mut d = t.conn();
    wait_loaded(&mut d);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut d).expect("dbsize"), 0, "flushed keys came back");
}

#[test]
fn restore_sets_idle_time_and_frequency() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    redis::cmd("SET").arg("src").arg("v").query::<()>(&mut c).expect("set");
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut c).expect("dump");
    let ok: String =
        redis::cmd("RESTORE").arg("k").arg(0).arg(&payload).arg("IDLETIME").arg(1000).query(&mut c).expect("restore");
    assert_eq!(ok, "OK");
    let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg("k").query(&mut c).expect("idletime");
    assert!((1000..1010).contains(&idle), "OBJECT IDLETIME {idle}");
    redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("allkeys-lfu").query::<()>(&mut c).expect("lfu");
    let ok: String =
        redis::cmd("RESTORE").arg("f").arg(0).arg(&payload).arg("FREQ").arg(77).query(&mut c).expect("restore");
    assert_eq!(ok, "OK");
    let freq: i64 = redis::cmd("OBJECT").arg("FREQ").arg("f").query(&mut c).expect("freq");
    assert_eq!(freq, 77);
    // REPLACE counts one change, as one RESTORE.
    let before: i64 = info_field_num(&mut c, "rdb_changes_since_last_save");
    let ok: String = redis::cmd("RESTORE").arg("f").arg(0).arg(&payload).arg("REPLACE").query(&mut c).expect("replace");
    assert_eq!(ok, "OK");
    assert_eq!(info_field_num(&mut c, "rdb_changes_since_last_save"), before + 1);
}

fn info_field_num(c: &mut redis::Connection, name: &str) -> i64 {
    field(&info_of(c, "persistence"), name).and_then(|v| v.parse().ok()).expect("numeric INFO field")
}
