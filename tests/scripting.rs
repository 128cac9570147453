//! Lua scripting behaviour that a byte-for-byte comparison with redis-server cannot
//! cover (those cases live in `compat_scripting.rs`): busy scripts, SCRIPT KILL and
//! SHUTDOWN NOSAVE (S-90..S-96), moonkv's deliberate determinism (PRNG reseeded
//! before every run, sorted replies, S-100..S-105), the environment differences
//! (`os.clock`, S-04), one test per Lua CVE of the spec's §2.9 table, bad input
//! (stack overflows, memory exhaustion under `lua-memory-limit`, huge ranges,
//! self-referencing tables), the script cache (S-71..S-73), INFO memory (S-76),
//! and SELECT/MONITOR/expiry/commandstats/WATCH seen from scripts (S-66, S-130,
//! S-131). Expected texts come from the spec or from redis-server 7.0.15.

mod common;
use common::*;
use std::io::BufRead;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BUSY: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const NOTBUSY: &str = "-NOTBUSY No scripts in execution right now.\r\n";
const UNKILLABLE: &str = "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
/// sha1("while true do end")
const LOOP_SHA: &str = "694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7";

/// EVAL `body` with no keys and no args; the raw reply.
fn eval(r: &mut Raw, body: &str) -> String {
    String::from_utf8_lossy(&r.cmd_args(&[b"EVAL", body.as_bytes(), b"0"])).into_owned()
}

/// EVAL `body` with `keys` and `args`; the raw reply.
fn eval_with(r: &mut Raw, body: &str, keys: &[&str], args: &[&str]) -> String {
    let n = keys.len().to_string();
    let mut argv: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), n.as_bytes()];
    argv.extend(keys.iter().chain(args).map(|s| s.as_bytes()));
    String::from_utf8_lossy(&r.cmd_args(&argv)).into_owned()
}

/// Sends a case line (`\s` is a space, see `case_args`); the raw reply.
fn case(r: &mut Raw, line: &str) -> String {
    String::from_utf8_lossy(&run_case(r, line)).into_owned()
}

/// The next reply if one starts arriving within `within`; `None` on timeout or EOF.
fn reply_within(r: &mut Raw, within: Duration) -> Option<String> {
    r.stream.set_read_timeout(Some(within)).expect("timeout");
    let ready = matches!(r.reader.fill_buf(), Ok(b) if !b.is_empty());
    r.stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    ready.then(|| r.read_str())
}

/// Runs EVAL `body` on a connection of its own (registered with a PING first, the
/// EVAL written before this returns); a thread yields its reply (`None` when the
/// connection closed first).
fn spawn_eval(s: &Server, body: &str) -> JoinHandle<Option<String>> {
    let mut r = s.raw();
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    r.send(&resp(&[b"EVAL", body.as_bytes(), b"0"]));
    std::thread::spawn(move || reply_within(&mut r, Duration::from_secs(20)))
}

/// Waits until `r` gets BUSY for PING (a PING that runs before the script started
/// gets PONG and is retried; one sent meanwhile waits for the threshold).
fn wait_busy(r: &mut Raw) {
    wait_for(Duration::from_secs(10), "PING to get BUSY from the running script", || c(r, "PING") == BUSY);
}

/// The error an EVAL of `sha` killed at line 1 gets.
fn killed(sha: &str) -> String {
    format!("-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n")
}

/// `name:value` of an INFO text.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()))
}

fn info(r: &mut Raw, section: &str) -> String {
    let reply = c(r, &format!("INFO {section}"));
    assert!(reply.starts_with('$'), "INFO {section}: {reply:?}");
    reply
}

fn info_num(info: &str, name: &str) -> i64 {
    let v = info_field(info, name).unwrap_or_else(|| panic!("INFO has no {name}:\n{info}"));
    v.parse().unwrap_or_else(|_| panic!("{name} is not a number: {v}"))
}

/// The elements of a flat RESP array of bulk strings without CR/LF inside.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let head = lines.next().unwrap_or_default();
    let n: usize =
        head.strip_prefix('*').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not an array: {reply:?}"));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = lines.next().expect("bulk header");
        assert!(len.starts_with('$'), "not a bulk: {len:?} in {reply:?}");
        out.push(lines.next().expect("bulk body").to_string());
    }
    out
}

/// Sends every command, then reads every reply.
fn pipeline(r: &mut Raw, cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in cmds {
        let refs: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
        out.extend_from_slice(&resp(&refs));
    }
    r.send(&out);
    cmds.iter().map(|_| r.read_str()).collect()
}

fn eval_cmd(body: &str) -> Vec<Vec<u8>> {
    vec![b"EVAL".to_vec(), body.as_bytes().to_vec(), b"0".to_vec()]
}

/// One-line error `-<prefix>... script: <sha>, on @user_script:1.` check.
fn assert_script_error(reply: &str, prefix: &str) {
    assert!(reply.starts_with(prefix), "expected {prefix:?}..., got {reply:?}");
    assert!(reply.ends_with(", on @user_script:1.\r\n"), "no script suffix: {reply:?}");
    assert_eq!(reply.matches("\r\n").count(), 1, "not one line: {reply:?}");
}

// ---------------------------------------------------------------------------
// Busy scripts (S-90..S-96)
// ---------------------------------------------------------------------------

#[test]
fn s90_busy_reply_threshold_and_lua_time_limit_are_aliases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG GET lua-time-limit"), "*2\r\n$14\r\nlua-time-limit\r\n$4\r\n5000\r\n");
    assert_eq!(c(&mut r, "CONFIG GET busy-reply-threshold"), "*2\r\n$20\r\nbusy-reply-threshold\r\n$4\r\n5000\r\n");
    assert_eq!(c(&mut r, "CONFIG SET lua-time-limit 150"), "+OK\r\n");
    assert_eq!(c(&mut r, "CONFIG GET busy-reply-threshold"), "*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n150\r\n");
    assert_eq!(c(&mut r, "CONFIG SET busy-reply-threshold 0"), "+OK\r\n");
    assert_eq!(c(&mut r, "CONFIG GET lua-time-limit"), "*2\r\n$14\r\nlua-time-limit\r\n$1\r\n0\r\n");

    let s = Server::start(&["--lua-time-limit", "120"]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG GET busy-reply-threshold"), "*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n120\r\n");
}

#[test]
fn s91_s95_busy_reply_after_threshold_then_script_kill() {
    let s = Server::start(&["--busy-reply-threshold", "150"]);
    let mut b = s.raw();
    assert_eq!(c(&mut b, "SET before 1"), "+OK\r\n");
    let script = spawn_eval(&s, "while true do end");
    wait_busy(&mut b);
    assert_eq!(c(&mut b, "PING"), BUSY);
    assert_eq!(c(&mut b, "GET before"), BUSY);
    assert_eq!(c(&mut b, "SET x 1"), BUSY);
    // A connection opened during the busy period gets BUSY too.
    let mut fresh = s.raw();
    assert_eq!(c(&mut fresh, "PING"), BUSY);
    assert_eq!(c(&mut fresh, "SCRIPT KILL"), "+OK\r\n");
    assert_eq!(script.join().expect("eval thread"), Some(killed(LOOP_SHA)));
    // Served normally afterwards; the data written before is intact.
    assert_eq!(c(&mut b, "PING"), "+PONG\r\n");
    assert_eq!(c(&mut b, "GET before"), bulk("1"));
    assert_eq!(c(&mut fresh, "EXISTS x"), ":0\r\n");
    assert_eq!(c(&mut fresh, "SCRIPT KILL"), NOTBUSY);
    assert_eq!(eval(&mut b, "return redis.call('incr', 'before')"), ":2\r\n");
}

#[test]
fn s91_before_the_threshold_other_clients_wait() {
    let s = Server::start(&["--busy-reply-threshold", "3000"]);
    let mut b = s.raw();
    let body = "local t = os.clock() while os.clock() - t < 0.4 do end return 'done'";
    // A PING that happens to run before the script starts is answered at once: retry.
    let mut attempts = 0;
    wait_for(Duration::from_secs(30), "a PING sent during the script to wait for it", || {
        attempts += 1;
        assert!(attempts <= 20, "the script never ran before the PING");
        let script = spawn_eval(&s, body);
        let start = Instant::now();
        let reply = c(&mut b, "PING");
        let waited = start.elapsed();
        assert_eq!(reply, "+PONG\r\n", "before the threshold a client waits, it does not get BUSY");
        assert_eq!(script.join().expect("eval thread").as_deref(), Some("$4\r\ndone\r\n"));
        waited >= Duration::from_millis(150)
    });
}

#[test]
fn s90_threshold_zero_disables_busy_and_kill() {
    let s = Server::start(&["--busy-reply-threshold", "0"]);
    let mut b = s.raw();
    let mut k = s.raw();
    let body = "local t = os.clock() while os.clock() - t < 0.3 do end return 'done'";
    let mut attempts = 0;
    wait_for(Duration::from_secs(30), "commands sent during the script to wait for it", || {
        attempts += 1;
        assert!(attempts <= 20, "the script never ran before the PING");
        let script = spawn_eval(&s, body);
        let start = Instant::now();
        b.send(&resp(&[b"PING"]));
        k.send(&resp(&[b"SCRIPT", b"KILL"]));
        assert_eq!(b.read_str(), "+PONG\r\n", "threshold 0: no BUSY");
        let waited = start.elapsed();
        assert_eq!(k.read_str(), NOTBUSY, "threshold 0: the script cannot be killed");
        assert_eq!(script.join().expect("eval thread").as_deref(), Some("$4\r\ndone\r\n"));
        waited >= Duration::from_millis(100)
    });
}

#[test]
fn s92_allow_busy_commands_are_answered_while_busy() {
    let s = Server::start(&["--busy-reply-threshold", "100"]);
    let mut b = s.raw();
    let script = spawn_eval(&s, "while true do end");
    wait_busy(&mut b);
    // Replies of redis-server 7.0.15 during a busy script (answered at once there).
    let cases = [
        ("MULTI", "+OK\r\n"),
        ("WATCH x", "+OK\r\n"),
        ("UNWATCH", "+OK\r\n"),
        ("RESET", "+RESET\r\n"),
        ("QUIT", "+OK\r\n"),
        ("HELLO 2", "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
    ];
    let mut missing = Vec::new();
    for (cmd, want) in cases {
        let mut r = s.raw();
        r.send(&resp(&cmd.split(' ').map(str::as_bytes).collect::<Vec<_>>()));
        match reply_within(&mut r, Duration::from_millis(300)) {
            Some(got) if got.starts_with(want) => {}
            got => missing.push(format!("{cmd}: want {want:?}, got {got:?}")),
        }
    }
    // Plain SHUTDOWN needs a save: BUSY.
    assert_eq!(c(&mut b, "SHUTDOWN"), BUSY);
    assert_eq!(c(&mut b, "SCRIPT KILL"), "+OK\r\n");
    assert_eq!(script.join().expect("eval thread"), Some(killed(LOOP_SHA)));
    assert!(missing.is_empty(), "allow-busy commands not answered during the busy script:\n{}", missing.join("\n"));
}

#[test]
fn s93_script_kill_with_nothing_running_is_notbusy() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SCRIPT KILL"), NOTBUSY);
    assert_eq!(eval(&mut r, "return 1"), ":1\r\n");
    assert_eq!(c(&mut r, "SCRIPT KILL"), NOTBUSY);
}

#[test]
fn s94_script_that_wrote_is_unkillable_and_shutdown_nosave_exits() {
    let mut s = Server::start(&["--busy-reply-threshold", "100"]);
    let mut b = s.raw();
    let script = spawn_eval(&s, "redis.call('set','k','v') while true do end");
    wait_busy(&mut b);
    assert_eq!(c(&mut b, "SCRIPT KILL"), UNKILLABLE);
    // The script goes on.
    assert_eq!(c(&mut b, "PING"), BUSY);
    assert_eq!(c(&mut b, "SHUTDOWN"), BUSY);
    b.send(&resp(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(eof_within(&mut b, Duration::from_secs(5)), "SHUTDOWN NOSAVE must close the connection");
    wait_for(Duration::from_secs(5), "the server process to exit after SHUTDOWN NOSAVE", || !s.alive());
    assert_eq!(script.join().expect("eval thread"), None, "the script's caller sees the connection close");
}

#[test]
fn s95_script_kill_sent_before_the_threshold_is_answered_once_it_passes() {
    let s = Server::start(&["--busy-reply-threshold", "150"]);
    let mut k = s.raw();
    let script = spawn_eval(&s, "while true do end");
    // NOTBUSY while the script has not started; then the kill waits for the threshold.
    wait_for(Duration::from_secs(10), "SCRIPT KILL to be accepted", || {
        let reply = c(&mut k, "SCRIPT KILL");
        assert!(reply == "+OK\r\n" || reply == NOTBUSY, "SCRIPT KILL: {reply:?}");
        reply == "+OK\r\n"
    });
    assert_eq!(script.join().expect("eval thread"), Some(killed(LOOP_SHA)));
    assert_eq!(c(&mut k, "PING"), "+PONG\r\n");
}

#[test]
fn s96_pcall_around_an_infinite_loop_is_still_killed() {
    let s = Server::start(&["--busy-reply-threshold", "100"]);
    let mut b = s.raw();
    let script = spawn_eval(&s, "while true do pcall(function() while true do end end) end");
    wait_busy(&mut b);
    assert_eq!(c(&mut b, "SCRIPT KILL"), "+OK\r\n");
    assert_eq!(script.join().expect("eval thread"), Some(killed("3d7b0cfd4124d0a72b8a39e531e7c806bc453d3e")));
    assert_eq!(c(&mut b, "PING"), "+PONG\r\n");
    // The kill does not stick to the VM: a later script runs to the end.
    assert_eq!(eval(&mut b, "local n = 0 for i = 1, 1000000 do n = n + 1 end return n"), ":1000000\r\n");
    let again = spawn_eval(&s, "while true do end");
    wait_busy(&mut b);
    assert_eq!(c(&mut b, "SCRIPT KILL"), "+OK\r\n");
    assert_eq!(again.join().expect("eval thread"), Some(killed(LOOP_SHA)));
}

// ---------------------------------------------------------------------------
// Determinism (moonkv reseeds the PRNG with 0 before every run; sorted replies)
// ---------------------------------------------------------------------------

#[test]
fn s102_prng_reseeded_before_every_run() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let first = bulk("0.17082803611217");
    assert_eq!(eval(&mut r, "return tostring(math.random())"), first);
    assert_eq!(eval(&mut r, "return tostring(math.random())"), first);
    assert_eq!(eval(&mut r, "return {math.random(1,1000000), math.random(1,1000000)}"), "*2\r\n:170829\r\n:749902\r\n");
    let seeded = "math.randomseed(42) return math.random(1,1000000)";
    assert_eq!(eval(&mut r, seeded), ":744526\r\n");
    assert_eq!(eval(&mut r, seeded), ":744526\r\n");
    // The seed a script chose does not leak into the next run.
    assert_eq!(eval(&mut r, "return tostring(math.random())"), first);
    let sha = case(&mut r, "SCRIPT LOAD return\\stostring(math.random())");
    assert!(sha.starts_with("$40\r\n"), "{sha}");
    // S-74: SCRIPT FLUSH changes nothing.
    assert_eq!(c(&mut r, "SCRIPT FLUSH"), "+OK\r\n");
    assert_eq!(eval(&mut r, "return tostring(math.random())"), first);
    assert_eq!(eval(&mut r, seeded), ":744526\r\n");
    assert_eq!(c(&mut r, "SCRIPT FLUSH ASYNC"), "+OK\r\n");
    assert_eq!(eval(&mut r, "return tostring(math.random())"), first);
}

#[test]
fn s104_unordered_replies_are_sorted_inside_scripts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let m1: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let m2: Vec<String> = (150..450).map(|i| format!("m{i}")).collect();
    let mut sadd1: Vec<&[u8]> = vec![b"SADD", b"s1"];
    sadd1.extend(m1.iter().map(|m| m.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&sadd1)), ":300\r\n");
    let mut sadd2: Vec<&[u8]> = vec![b"SADD", b"s2"];
    sadd2.extend(m2.iter().map(|m| m.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&sadd2)), ":300\r\n");
    let fields: Vec<(String, String)> =
        (0..300).map(|i| (format!("f{i}"), format!("v{}", (i * 7919) % 1000))).collect();
    let mut hset: Vec<&[u8]> = vec![b"HSET", b"h"];
    for (f, v) in &fields {
        hset.push(f.as_bytes());
        hset.push(v.as_bytes());
    }
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&hset)), ":300\r\n");
    let names: Vec<String> = (0..200).map(|i| format!("key{i}")).collect();
    let mut mset: Vec<&[u8]> = vec![b"MSET"];
    for n in &names {
        mset.push(n.as_bytes());
        mset.push(b"x");
    }
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&mset)), "+OK\r\n");

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // The test means something only if hash order is not sorted order.
    let plain = bulks(&c(&mut r, "SMEMBERS s1"));
    assert_ne!(plain, sorted(plain.clone()), "SMEMBERS outside a script happens to be sorted");

    let call = |r: &mut Raw, args: &str| {
        let quoted: Vec<String> = args.split(' ').map(|a| format!("'{a}'")).collect();
        bulks(&eval(r, &format!("return redis.call({})", quoted.join(","))))
    };
    assert_eq!(call(&mut r, "smembers s1"), sorted(m1.clone()));
    let union: Vec<String> = (0..450).map(|i| format!("m{i}")).collect();
    assert_eq!(call(&mut r, "sunion s1 s2"), sorted(union));
    assert_eq!(call(&mut r, "sinter s1 s2"), sorted((150..300).map(|i| format!("m{i}")).collect()));
    assert_eq!(call(&mut r, "sdiff s1 s2"), sorted((0..150).map(|i| format!("m{i}")).collect()));
    assert_eq!(call(&mut r, "hkeys h"), sorted(fields.iter().map(|(f, _)| f.clone()).collect()));
    assert_eq!(call(&mut r, "hvals h"), sorted(fields.iter().map(|(_, v)| v.clone()).collect()));
    let mut pairs = fields.clone();
    pairs.sort();
    let flat: Vec<String> = pairs.into_iter().flat_map(|(f, v)| [f, v]).collect();
    assert_eq!(call(&mut r, "hgetall h"), flat, "HGETALL: sorted by field, each value after its field");
    let mut all_keys = names.clone();
    all_keys.extend(["s1", "s2", "h"].map(String::from));
    assert_eq!(call(&mut r, "keys *"), sorted(all_keys));
}

#[test]
fn s105_sort_by_nosort_of_a_set_is_alphabetical_in_scripts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let words: Vec<String> = (0..200).map(|i| format!("w{}", (i * 37) % 200)).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"s"];
    sadd.extend(words.iter().map(|w| w.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&sadd)), ":200\r\n");
    let nums: Vec<String> = (1..=150).map(|i| i.to_string()).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"n"];
    sadd.extend(nums.iter().map(|w| w.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&sadd)), ":150\r\n");
    let mut alpha = words.clone();
    alpha.sort();
    assert_eq!(bulks(&eval(&mut r, "return redis.call('sort', 's', 'by', 'nosort')")), alpha);
    // Integers too: string order ("1", "10", "100", ...), not numeric order.
    let mut alpha = nums.clone();
    alpha.sort();
    assert_eq!(&alpha[..3], ["1", "10", "100"]);
    assert_eq!(bulks(&eval(&mut r, "return redis.call('sort', 'n', 'by', 'nosort')")), alpha);
}

// ---------------------------------------------------------------------------
// Environment differences on purpose (S-04)
// ---------------------------------------------------------------------------

#[test]
fn s04_os_has_only_clock_and_is_readonly() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(eval(&mut r, "local t = {} for k in pairs(os) do t[#t + 1] = k end return t"), "*1\r\n$5\r\nclock\r\n");
    assert_eq!(eval(&mut r, "return {type(os.clock), type(os.clock())}"), "*2\r\n$8\r\nfunction\r\n$6\r\nnumber\r\n");
    assert_eq!(eval(&mut r, "local a = os.clock() local b repeat b = os.clock() until b > a return b > a"), ":1\r\n");
    for name in ["execute", "exit", "getenv", "remove", "rename", "tmpname", "time", "date"] {
        assert_eq!(eval(&mut r, &format!("return tostring(os.{name})")), bulk("nil"), "os.{name}");
    }
    assert_script_error(
        &eval(&mut r, "os.clock = nil"),
        "-ERR user_script:1: Attempt to modify a readonly table script: ",
    );
    assert_script_error(
        &eval(&mut r, "os.execute = os.clock"),
        "-ERR user_script:1: Attempt to modify a readonly table script: ",
    );
    assert_script_error(&eval(&mut r, "os = {}"), "-ERR user_script:1: Attempt to modify a readonly table script: ");
    assert_script_error(&eval(&mut r, "rawset(os, 'x', 1)"), "-ERR Attempt to modify a readonly table script: ");
    assert_script_error(&eval(&mut r, "setmetatable(os, nil)"), "-ERR Attempt to modify a readonly table script: ");
    assert_eq!(eval(&mut r, "return type(os.clock)"), bulk("function"));
}

// ---------------------------------------------------------------------------
// CVEs of the spec's §2.9 table
// ---------------------------------------------------------------------------

#[test]
fn cve_2022_24735_globals_and_libraries_are_readonly() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let ro = "-ERR user_script:1: Attempt to modify a readonly table script: ";
    let raw_ro = "-ERR Attempt to modify a readonly table script: ";
    for body in [
        "a = 1",
        "KEYS = {}",
        "_G.x = 1",
        "string.x = 1",
        "string.upper = string.lower",
        "redis.call = nil",
        "redis.sha1hex = nil",
        "cjson.encode = nil",
        "cmsgpack.pack = nil",
        "struct.pack = nil",
        "bit.band = nil",
        "math.random = nil",
        "table.concat = nil",
        "coroutine.wrap = nil",
        "getmetatable(_G).__index = nil",
    ] {
        assert_script_error(&eval(&mut r, body), ro);
    }
    for body in ["rawset(_G, 'x', 1)", "setmetatable(_G, nil)", "table.insert(string, 'x')", "rawset(redis, 'call', 1)"]
    {
        assert_script_error(&eval(&mut r, body), raw_ro);
    }
    // An injection attempt leaves nothing behind for the next script.
    assert_eq!(
        eval(&mut r, "return {pcall(function() redis.call = function() return 'pwned' end end)}"),
        "*2\r\n$-1\r\n$49\r\nuser_script:1: Attempt to modify a readonly table\r\n"
    );
    assert_eq!(eval(&mut r, "return redis.call('ping')"), "+PONG\r\n");
    assert_eq!(eval(&mut r, "return string.upper('a')"), bulk("A"));
    // Script-created tables stay writable; KEYS/ARGV elements too (S-09).
    assert_eq!(eval(&mut r, "local t = {} t.x = 1 KEYS[1] = 'k' return {t.x, KEYS[1]}"), "*2\r\n:1\r\n$1\r\nk\r\n");
}

#[test]
fn cve_2015_4335_bytecode_refused() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let body: &[u8] = b"\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00";
    assert_eq!(
        String::from_utf8_lossy(&r.cmd_args(&[b"EVAL", body, b"0"])),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&r.cmd_args(&[b"SCRIPT", b"LOAD", body])),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'\r\n"
    );
    // string.dump works; what it makes cannot be loaded back.
    assert_eq!(eval(&mut r, "return string.dump(function() return 1 end):sub(1, 4)"), "$4\r\n\x1bLua\r\n");
    assert_eq!(
        eval(&mut r, "local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}"),
        "*2\r\n$3\r\nnil\r\n$53\r\n[string \"\x1bLuaQ\"]:1: unexpected symbol near 'char(27)'\r\n"
    );
    let via_load = "local d = string.dump(function() return 1 end) local done = false \
        local f, e = load(function() if done then return nil end done = true return d end) return {tostring(f), e}";
    assert_eq!(eval(&mut r, via_load), "*2\r\n$3\r\nnil\r\n$43\r\n(load):1: unexpected symbol near 'char(27)'\r\n");
}

#[test]
fn cve_2018_11218_cmsgpack_bounds() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let missing = "*2\r\n$-1\r\n$23\r\nMissing bytes in input.\r\n";
    let bad = "*2\r\n$-1\r\n$25\r\nBad data format in input.\r\n";
    for input in [
        r"\220\255\255",            // array16 of 65535, no elements
        r"\221\255\255\255\255",    // array32 of 2^32-1
        r"\219\255\255\255\255abc", // str32 of 4 GB, 3 bytes given
        r"\218\0\10ab",             // str16 of 10, 2 given
        r"\223\127\255\255\255",    // map32 of 2^31-1
        r"\146\1",                  // fixarray of 2, 1 given
        r"\203\0\0",                // float64, 2 of 8 bytes
    ] {
        assert_eq!(eval(&mut r, &format!("return {{pcall(cmsgpack.unpack, '{input}')}}")), missing, "{input}");
    }
    assert_eq!(eval(&mut r, r"return {pcall(cmsgpack.unpack_one, '\146\1')}"), missing);
    assert_eq!(eval(&mut r, r"return {pcall(cmsgpack.unpack_limit, '\146\1', 1)}"), missing);
    // 0xc1 is unused; bin8/bin32 are not lua-cmsgpack 0.4.0 types.
    for input in [r"\193", r"\196\10ab", r"\198\255\255\255\255"] {
        assert_eq!(eval(&mut r, &format!("return {{pcall(cmsgpack.unpack, '{input}')}}")), bad, "{input}");
    }
    // 100000 nested arrays: an error, not a crash.
    assert_eq!(
        eval(
            &mut r,
            r"local ok, v = pcall(cmsgpack.unpack, string.rep('\145', 100000) .. '\1') return {tostring(ok), v}"
        ),
        "*2\r\n$5\r\nfalse\r\n$51\r\nstack overflow (in function mp_decode_to_lua_array)\r\n"
    );
    assert_eq!(eval(&mut r, "return cmsgpack.unpack(cmsgpack.pack({1, 'a', {2}}))[3][1]"), ":2\r\n");
}

#[test]
fn cve_2015_8080_struct_count_overflow() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let overflow = "*2\r\n$-1\r\n$22\r\nintegral size overflow\r\n";
    for call in [
        "struct.pack, 'i99999999999', 1",
        "struct.pack, '!99999999999i', 1",
        "struct.unpack, 'c2147483648', 'x'",
        "struct.unpack, 'c99999999999999999999', 'x'",
        "struct.size, 'i99999999999'",
    ] {
        assert_eq!(eval(&mut r, &format!("return {{pcall({call})}}")), overflow, "{call}");
    }
    assert_eq!(
        eval(&mut r, "return {pcall(struct.unpack, 'c2147483647', 'x')}"),
        "*2\r\n$-1\r\n$46\r\nbad argument #2 to '?' (data string too short)\r\n"
    );
    assert_eq!(
        eval(&mut r, "return {pcall(struct.pack, 'c2147483647', 'x')}"),
        "*2\r\n$-1\r\n$41\r\nbad argument #3 to '?' (string too short)\r\n"
    );
    assert_eq!(eval(&mut r, "return struct.size('c2147483647c2147483647')"), ":4294967294\r\n");
    assert_eq!(eval(&mut r, "return {struct.unpack('>i2', struct.pack('>i2', -2))}"), "*2\r\n:-2\r\n:3\r\n");
}

#[test]
fn cve_2021_32626_huge_replies_and_arguments() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let reply = eval(&mut r, "local t = {} for i = 1, 100000 do t[i] = i end return t");
    assert!(reply.starts_with("*100000\r\n:1\r\n:2\r\n"), "{}", &reply[..40.min(reply.len())]);
    assert!(reply.ends_with(":99999\r\n:100000\r\n"));
    assert_eq!(reply.matches("\r\n").count(), 100001);

    let items: Vec<String> = (1..=100000).map(|i| i.to_string()).collect();
    let mut rpush: Vec<&[u8]> = vec![b"RPUSH", b"l"];
    rpush.extend(items.iter().map(|i| i.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&rpush)), ":100000\r\n");
    assert_eq!(eval_with(&mut r, "return #redis.call('lrange', KEYS[1], 0, -1)", &["l"], &[]), ":100000\r\n");
    let reply = eval_with(&mut r, "return redis.call('lrange', KEYS[1], 0, -1)", &["l"], &[]);
    assert!(reply.starts_with("*100000\r\n$1\r\n1\r\n$1\r\n2\r\n"));
    assert!(reply.ends_with("$6\r\n100000\r\n"));
    assert_eq!(bulks(&reply).len(), 100000);
    // 100000 arguments become ARGV.
    let mut argv: Vec<&[u8]> = vec![b"EVAL", b"return {#ARGV, ARGV[1], ARGV[#ARGV]}", b"0"];
    argv.extend(items.iter().map(|i| i.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&r.cmd_args(&argv)), "*3\r\n:100000\r\n$1\r\n1\r\n$6\r\n100000\r\n");
    // And back into a command from the script.
    assert_eq!(
        eval_with(
            &mut r,
            "return redis.call('rpush', KEYS[1], unpack(redis.call('lrange', KEYS[1], 0, 4999)))",
            &["l"],
            &[]
        ),
        ":105000\r\n"
    );
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn cve_2022_0543_no_package() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for name in ["package", "require", "module", "io", "loadfile", "dofile", "print", "debug", "loadlib", "newproxy"] {
        let reply = eval(&mut r, &format!("return type({name})"));
        assert_script_error(
            &reply,
            &format!("-ERR user_script:1: Script attempted to access nonexistent global variable '{name}' script: "),
        );
        assert_eq!(eval(&mut r, &format!("return rawget(_G, '{name}')")), "$-1\r\n", "{name}");
    }
}

#[test]
fn cve_2022_24834_cjson_huge_strings() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(eval(&mut r, "return #cjson.encode(string.rep('a', 50 * 1024 * 1024))"), ":52428802\r\n");
    // Every byte escaped: the output doubles.
    assert_eq!(eval(&mut r, "return #cjson.encode({string.rep('\"', 25 * 1024 * 1024)})"), ":52428804\r\n");
    assert_eq!(eval(&mut r, "return #cmsgpack.pack(string.rep('a', 50 * 1024 * 1024))"), ":52428805\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    assert_eq!(eval(&mut r, "return cjson.encode({1, 'x'})"), bulk("[1,\"x\"]"));
}

#[test]
fn cve_2024_31449_bit_tohex_clamped() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(eval(&mut r, "return bit.tohex(65535, -2147483648)"), bulk("0000FFFF"));
    assert_eq!(eval(&mut r, "return bit.tohex(65535, 2147483647)"), bulk("0000ffff"));
    assert_eq!(eval(&mut r, "return bit.tohex(1, -9999999)"), bulk("00000001"));
    assert_eq!(eval(&mut r, "return bit.tohex(1, 9999)"), bulk("00000001"));
    assert_eq!(eval(&mut r, "return bit.tohex(-1, -3)"), bulk("FFF"));
    assert_eq!(eval(&mut r, "return bit.tohex(255)"), bulk("000000ff"));
}

#[test]
fn cve_2024_46981_flush_after_gc_tricks() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let tricks = "collectgarbage('setpause', 1) collectgarbage('setstepmul', 1000) \
        local co = coroutine.create(function() local big = string.rep('x', 1000000) coroutine.yield(big) end) \
        coroutine.resume(co) \
        local w = setmetatable({}, {__mode = 'k'}) for i = 1, 10000 do w[{}] = string.rep('y', 100) end \
        local g = setmetatable({}, {__gc = function() end}) \
        collectgarbage('step') return collectgarbage('count') > 0";
    for flush in ["SCRIPT FLUSH", "SCRIPT FLUSH ASYNC", "SCRIPT FLUSH SYNC"] {
        assert_eq!(eval(&mut r, tricks), ":1\r\n");
        // GC parameters persist across scripts of one VM...
        assert_eq!(eval(&mut r, "return collectgarbage('setpause', 1)"), ":1\r\n");
        assert_eq!(c(&mut r, flush), "+OK\r\n");
        // ...and a flush gives a fresh VM with the defaults.
        assert_eq!(
            eval(&mut r, "return {collectgarbage('setpause', 200), collectgarbage('setstepmul', 200)}"),
            "*2\r\n:200\r\n:200\r\n"
        );
        assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    }
    for _ in 0..5 {
        assert_eq!(eval(&mut r, tricks), ":1\r\n");
        assert_eq!(c(&mut r, "SCRIPT FLUSH ASYNC"), "+OK\r\n");
    }
    assert_eq!(eval(&mut r, "return 'alive'"), bulk("alive"));
}

#[test]
fn cve_2025_49844_loadstring_gc_pressure() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let body = "collectgarbage('setpause', 1) collectgarbage('setstepmul', 1000) \
        for i = 1, 3000 do \
          local f = loadstring('return ' .. i, 'chunk' .. string.rep('n', i % 50) .. i) \
          collectgarbage('step') \
          assert(f() == i) \
        end \
        for i = 1, 500 do \
          local f, e = loadstring('return +', string.rep('c', i)) \
          collectgarbage('step') \
          assert(f == nil and e:find('unexpected symbol', 1, true)) \
        end return 'ok'";
    assert_eq!(eval(&mut r, body), bulk("ok"));
    assert_eq!(eval(&mut r, "local f = loadstring('return 41 + 1', 'named') return f()"), ":42\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn cve_2025_46817_unpack_range_checked() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for args in ["{}, 1, 1e8", "{}, -2147483648, 2147483647", "{}, 0, 2147483647", "{1, 2}, -1e8, 1e8"] {
        assert_script_error(
            &eval(&mut r, &format!("return {{unpack({args})}}")),
            "-ERR user_script:1: too many results to unpack script: ",
        );
    }
    assert_eq!(eval(&mut r, "return select('#', unpack({1, 2, 3}, 2147483646, 2147483647))"), ":2\r\n");
    assert_eq!(eval(&mut r, "return {unpack({1, 2, 3}, 2147483647, -2147483648)}"), "*0\r\n");
    // 2^31 wraps to -2^31 in luaL_checkint, as in redis-server: an empty range.
    assert_eq!(eval(&mut r, "return {unpack({1, 2}, 1, 2^31)}"), "*0\r\n");
    assert_eq!(eval(&mut r, "return {unpack({1, 2, 3}, 2)}"), "*2\r\n:2\r\n:3\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn cve_2025_46817_unpack_limit_matches_redis() {
    // redis-server 7.0.15: `unpack` of a table returns up to 7999 values (Lua's
    // LUAI_MAXCSTACK 8000, less the argument); 8000 is "too many results".
    let s = Server::start(&[]);
    let mut r = s.raw();
    let n = |k: u32| format!("local t = {{}} for i = 1, {k} do t[i] = i end return select('#', unpack(t))");
    assert_eq!(eval(&mut r, &n(7000)), ":7000\r\n");
    assert_script_error(&eval(&mut r, &n(8000)), "-ERR user_script:1: too many results to unpack script: ");
    assert_eq!(eval(&mut r, &n(7500)), ":7500\r\n");
    assert_eq!(eval(&mut r, &n(7999)), ":7999\r\n");
}

#[test]
fn cve_2025_46818_string_metatable_readonly() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_script_error(
        &eval(&mut r, "getmetatable('').__index = nil"),
        "-ERR user_script:1: Attempt to modify a readonly table script: ",
    );
    assert_script_error(
        &eval(&mut r, "getmetatable('').__index.upper = nil"),
        "-ERR user_script:1: Attempt to modify a readonly table script: ",
    );
    assert_script_error(
        &eval(&mut r, "rawset(getmetatable(''), 'x', 1)"),
        "-ERR Attempt to modify a readonly table script: ",
    );
    assert_script_error(
        &eval(&mut r, "setmetatable(getmetatable(''), nil)"),
        "-ERR Attempt to modify a readonly table script: ",
    );
    assert_eq!(eval(&mut r, "return ('abc'):upper()"), bulk("ABC"));
    for name in ["getfenv", "setfenv", "newproxy"] {
        assert_script_error(
            &eval(&mut r, &format!("return type({name})")),
            &format!("-ERR user_script:1: Script attempted to access nonexistent global variable '{name}' script: "),
        );
    }
}

#[test]
fn cve_2025_46819_lexer_malformed_input() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let compile = "-ERR Error compiling script (new function): user_script:1: ";
    let cases: [(&[u8], &str); 14] = [
        (b"[==[", "unfinished long string near '<eof>'"),
        (b"--[==[", "unfinished long comment near '<eof>'"),
        (b"return 0x", "malformed number near '0x'"),
        (b"return 1e+", "malformed number near '1e+'"),
        (b"return 1.2.3", "malformed number near '1.2.3'"),
        (b"return \"\\z", "unfinished string near '<eof>'"),
        (b"return \"\\", "unfinished string near '<eof>'"),
        (b"return '\\", "unfinished string near '<eof>'"),
        (b"return \"abc", "unfinished string near '<eof>'"),
        (b"return \"\\9999\"", "escape sequence too large near '\"'"),
        (b"return \"\\300\"", "escape sequence too large near '\"'"),
        (b"return [=", "invalid long string delimiter near '[='"),
        (b"x = [==[ ]=]", "unfinished long string near '<eof>'"),
        (b"return [[\\", "unfinished long string near '<eof>'"),
    ];
    for (body, msg) in cases {
        let got = String::from_utf8_lossy(&r.cmd_args(&[b"EVAL", body, b"0"])).into_owned();
        assert_eq!(got, format!("{compile}{msg}\r\n"), "{}", String::from_utf8_lossy(body));
    }
    // The same through loadstring, whose chunk name is the code.
    assert_eq!(
        eval(&mut r, "local f, e = loadstring('[==[') return e"),
        bulk("[string \"[==[\"]:1: unfinished long string near '<eof>'")
    );
    assert_eq!(
        eval(&mut r, "local f, e = loadstring('--[==[') return e"),
        bulk("[string \"--[==[\"]:1: unfinished long comment near '<eof>'")
    );
    assert_eq!(
        eval(&mut r, "local f, e = loadstring('return 0x') return e"),
        bulk("[string \"return 0x\"]:1: malformed number near '0x'")
    );
    assert_eq!(
        eval(&mut r, r#"local f, e = loadstring('return "\\z') return e"#),
        bulk("[string \"return \"\\z\"]:1: unfinished string near '<eof>'")
    );
    // A comment that is never closed is just a comment.
    assert_eq!(eval(&mut r, "--[="), "$-1\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn cve_2025_67733_crlf_in_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        eval(&mut r, r"return error('a\r\nb')"),
        "-ERR user_script:1: a  b script: 9aaec8e6affce298bfe0ce8b8001c573a0076099, on @user_script:1.\r\n"
    );
    assert_eq!(eval(&mut r, r"return {err='x\r\ny'}"), "-x  y\r\n");
    assert_eq!(eval(&mut r, r"return {ok='a\r\nb'}"), "+a  b\r\n");
    assert_eq!(eval(&mut r, r"return redis.error_reply('E a\r\nb')"), "-E a  b\r\n");
    assert_eq!(eval(&mut r, r"return redis.status_reply('a\r\nb\r\n')"), "+a  b  \r\n");
    assert_eq!(
        eval(&mut r, r"error({err='MY err\r\n+OK'})"),
        "-MY err  +OK script: 5d7f03042d26d8495256dccf9e44ec0bc257b1f3, on @user_script:1.\r\n"
    );
    assert_eq!(eval(&mut r, r"return {1, {err='x\r\n:5'}}"), "*2\r\n:1\r\n-x  :5\r\n");
    // The stream is still in step.
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

#[test]
fn bad_input_infinite_recursion_is_a_stack_overflow_error() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        eval(&mut r, "local function f() return f() + 1 end return f()"),
        "-ERR user_script:1: stack overflow script: 6ab18391d60e7e7bcbf4a881fd9b0c865dade0c6, on @user_script:1.\r\n"
    );
    assert_script_error(
        &eval(&mut r, "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x"),
        "-ERR user_script:1: C stack overflow script: ",
    );
    assert_eq!(eval(&mut r, "local function f() return pcall(f) end return tostring(f())"), bulk("true"));
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    assert_eq!(eval(&mut r, "return 1"), ":1\r\n");
}

#[test]
fn bad_input_deep_pattern_recursion_does_not_crash() {
    // Lua 5.1's pattern matcher recurses once per `a?`; redis-server 7.0.15 answers
    // `1 100000` (its Lua runs on the 8 MB main-thread stack).
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        eval(&mut r, "return {string.find(string.rep('a', 30000), string.rep('a?', 30000))}"),
        "*2\r\n:1\r\n:30000\r\n"
    );
    r.send(&resp(&[b"EVAL", b"return {string.find(string.rep('a', 100000), string.rep('a?', 100000))}", b"0"]));
    let reply = reply_within(&mut r, Duration::from_secs(10));
    assert_eq!(reply.as_deref(), Some("*2\r\n:1\r\n:100000\r\n"), "the server must survive deep pattern recursion");
    assert_eq!(c(&mut s.raw(), "PING"), "+PONG\r\n");
}

#[test]
fn bad_input_memory_exhaustion_under_lua_memory_limit() {
    let s = Server::start(&["--lua-memory-limit", "64mb"]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SET before v"), "+OK\r\n");
    // 2^40 truncates to 0 in luaL_checkint, as in redis-server: an empty string.
    assert_eq!(eval(&mut r, "return string.rep('x', 2^40)"), "$0\r\n\r\n");
    for body in [
        "local s = 'x' while true do s = s .. s end",
        "return #string.rep('x', 2^30)",
        "local t = {} for i = 1, 1e7 do t[i] = tostring(i) .. 'abcdefgh' end return #t",
    ] {
        let reply = eval(&mut r, body);
        assert!(reply.starts_with("-ERR") && reply.contains("memory"), "{body}: {reply:?}");
        assert_eq!(reply.matches("\r\n").count(), 1, "{reply:?}");
    }
    // The server still serves.
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
    assert_eq!(c(&mut r, "GET before"), bulk("v"));
    let mem = info(&mut r, "memory");
    assert!(info_field(&mem, "used_memory").is_some(), "{mem}");
    // And the VM recovers: later scripts run.
    assert_eq!(eval(&mut r, "return 1"), ":1\r\n", "a small script after a memory error");
    let sha = case(&mut r, "SCRIPT LOAD return\\s2");
    assert!(sha.starts_with("$40\r\n"), "SCRIPT LOAD after a memory error: {sha:?}");
    assert_eq!(eval(&mut r, "local t = {} for i = 1, 100000 do t[i] = i end return #t"), ":100000\r\n");
}

#[test]
fn bad_input_self_referencing_and_deep_tables() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let reply = eval(&mut r, "local t = {} t[1] = t return t");
    assert!(reply.len() < 1 << 20, "unbounded reply: {} bytes", reply.len());
    assert!(reply.contains("lua stack limit"), "{}", &reply[reply.len().saturating_sub(80)..]);
    let reply = eval(&mut r, "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return t");
    assert!(reply.len() < 1 << 20, "unbounded reply: {} bytes", reply.len());
    assert_eq!(eval(&mut r, "local t = {} t.self = t return t"), "*0\r\n");
    assert_eq!(c(&mut r, "PING"), "+PONG\r\n");
}

#[test]
fn bad_input_error_objects_without_text() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for body in ["error({})", "error({1})", "error(setmetatable({}, {}))", "error({err = {}})", "error({err = true})"] {
        let reply = eval(&mut r, body);
        assert!(reply.starts_with("-ERR unknown error"), "{body}: {reply:?}");
        assert_eq!(reply.matches("\r\n").count(), 1, "{reply:?}");
        assert_eq!(c(&mut r, "PING"), "+PONG\r\n", "after {body}");
    }
    let sha = sha_of(&mut r, "error()");
    assert_eq!(eval(&mut r, "error()"), format!("-ERR nil script: {sha}, on @user_script:1.\r\n"));
}

/// The sha of `body` computed by the server (a script of its own).
fn sha_of(r: &mut Raw, body: &str) -> String {
    let reply =
        String::from_utf8_lossy(&r.cmd_args(&[b"EVAL", b"return redis.sha1hex(ARGV[1])", b"0", body.as_bytes()]))
            .into_owned();
    reply.lines().nth(1).expect("sha").to_string()
}

#[test]
fn bad_input_numkeys_and_sha_length() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(case(&mut r, "EVAL return\\s1 2 a"), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(case(&mut r, "EVAL return\\s1 -1"), "-ERR Number of keys can't be negative\r\n");
    assert_eq!(case(&mut r, "EVAL return\\s1 x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        case(&mut r, "EVAL return\\s1 99999999999999999999"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(case(&mut r, "EVAL return\\s1 -9223372036854775808"), "-ERR Number of keys can't be negative\r\n");
    let noscript = "-NOSCRIPT No matching script. Please use EVAL.\r\n";
    let sha = case(&mut r, "SCRIPT LOAD return\\s7");
    let sha = sha.lines().nth(1).expect("sha").to_string();
    assert_eq!(c(&mut r, &format!("EVALSHA {sha} 0")), ":7\r\n");
    assert_eq!(c(&mut r, &format!("EVALSHA {} 0", &sha[..39])), noscript);
    assert_eq!(c(&mut r, &format!("EVALSHA {sha}0 0")), noscript);
    assert_eq!(c(&mut r, &format!("EVALSHA {} 0", sha.to_uppercase())), ":7\r\n");
    assert_eq!(c(&mut r, &format!("EVALSHA {sha} 5")), "-ERR Number of keys can't be greater than number of args\r\n");
}

#[test]
fn bad_input_one_megabyte_body() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let big = format!("return '{}'", "x".repeat(1 << 20));
    let reply = eval(&mut r, &big);
    assert!(reply.starts_with("$1048576\r\nxxxx"), "{}", &reply[..20]);
    assert_eq!(reply.len(), "$1048576\r\n".len() + 1048576 + 2);
    let line = "-- a comment line that makes the body long enough\n";
    let mut comments = line.repeat((1 << 20) / line.len() + 1);
    comments.push_str("return #KEYS + #ARGV");
    assert!(comments.len() >= 1 << 20);
    assert_eq!(eval_with(&mut r, &comments, &["k"], &["a", "b"]), ":3\r\n");
    assert_eq!(info_num(&info(&mut r, "memory"), "number_of_cached_scripts"), 2);
}

// ---------------------------------------------------------------------------
// Script cache (S-71..S-73)
// ---------------------------------------------------------------------------

#[test]
fn s71_s72_eval_scripts_evicted_least_recently_used() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let body = |i: usize| format!("return {i}");
    let shas =
        bulks(&eval(&mut r, "local t = {} for i = 0, 1299 do t[#t + 1] = redis.sha1hex('return ' .. i) end return t"));
    assert_eq!(shas.len(), 1300);
    assert_eq!(c(&mut r, "SCRIPT FLUSH"), "+OK\r\n");
    let exists = |r: &mut Raw, idx: &[usize]| -> Vec<i64> {
        let mut argv: Vec<&[u8]> = vec![b"SCRIPT", b"EXISTS"];
        argv.extend(idx.iter().map(|&i| shas[i].as_bytes()));
        let reply = String::from_utf8_lossy(&r.cmd_args(&argv)).into_owned();
        reply.lines().skip(1).map(|l| l[1..].parse().expect("int")).collect()
    };
    let evicted = |r: &mut Raw| info_num(&info(r, "stats"), "evicted_scripts");
    let before = evicted(&mut r);

    let cmds: Vec<_> = (0..500).map(|i| eval_cmd(&body(i))).collect();
    let replies = pipeline(&mut r, &cmds);
    assert!(replies.iter().enumerate().all(|(i, rep)| *rep == format!(":{i}\r\n")));
    assert_eq!(exists(&mut r, &[0, 1, 499]), [1, 1, 1]);
    assert_eq!(evicted(&mut r), before);
    assert_eq!(info_num(&info(&mut r, "memory"), "number_of_cached_scripts"), 500);

    // The 501st evicts the least recently used: script 0.
    assert_eq!(eval(&mut r, &body(500)), ":500\r\n");
    assert_eq!(exists(&mut r, &[0, 1, 2, 499, 500]), [0, 1, 1, 1, 1]);
    assert_eq!(evicted(&mut r), before + 1);
    assert_eq!(info_num(&info(&mut r, "memory"), "number_of_cached_scripts"), 500);

    // S-72: EVALSHA refreshes script 1, so script 2 goes next.
    assert_eq!(c(&mut r, &format!("EVALSHA {} 0", shas[1])), ":1\r\n");
    assert_eq!(eval(&mut r, &body(501)), ":501\r\n");
    assert_eq!(exists(&mut r, &[1, 2, 3, 501]), [1, 0, 1, 1]);
    // EVAL of the same body refreshes too: script 3 stays, script 4 goes.
    assert_eq!(eval(&mut r, &body(3)), ":3\r\n");
    assert_eq!(eval(&mut r, &body(502)), ":502\r\n");
    assert_eq!(exists(&mut r, &[3, 4, 5, 502]), [1, 0, 1, 1]);
    assert_eq!(evicted(&mut r), before + 3);
    // An evicted script is simply compiled again by EVAL.
    assert_eq!(c(&mut r, &format!("EVALSHA {} 0", shas[0])), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert_eq!(eval(&mut r, &body(0)), ":0\r\n");
    assert_eq!(exists(&mut r, &[0]), [1]);
}

#[test]
fn s71_script_load_scripts_are_never_evicted() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let loaded = case(&mut r, "SCRIPT LOAD return\\s'loaded'");
    let loaded = loaded.lines().nth(1).expect("sha").to_string();
    let evicted_before = info_num(&info(&mut r, "stats"), "evicted_scripts");
    let cmds: Vec<_> = (0..600).map(|i| eval_cmd(&format!("return 'e{i}'"))).collect();
    let replies = pipeline(&mut r, &cmds);
    assert!(replies.iter().enumerate().all(|(i, rep)| *rep == bulk(&format!("e{i}"))));
    assert_eq!(c(&mut r, &format!("SCRIPT EXISTS {loaded}")), "*1\r\n:1\r\n");
    assert_eq!(c(&mut r, &format!("EVALSHA {loaded} 0")), bulk("loaded"));
    assert_eq!(info_num(&info(&mut r, "stats"), "evicted_scripts"), evicted_before + 100);
    assert_eq!(info_num(&info(&mut r, "memory"), "number_of_cached_scripts"), 501);
}

#[test]
fn s73_script_flush_modes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (flush, lazy) in
        [("SCRIPT FLUSH ASYNC", "no"), ("SCRIPT FLUSH SYNC", "no"), ("SCRIPT FLUSH", "yes"), ("SCRIPT FLUSH", "no")]
    {
        assert_eq!(c(&mut r, &format!("CONFIG SET lazyfree-lazy-user-flush {lazy}")), "+OK\r\n");
        let a = case(&mut r, "SCRIPT LOAD return\\s'a'").lines().nth(1).expect("sha").to_string();
        assert_eq!(eval(&mut r, "return 'b'"), bulk("b"));
        let b = sha_of(&mut r, "return 'b'");
        // Enough scripts that an async flush has something to free in the background.
        let cmds: Vec<_> = (0..100).map(|i| eval_cmd(&format!("return {i}"))).collect();
        pipeline(&mut r, &cmds);
        assert_eq!(c(&mut r, &format!("SCRIPT EXISTS {a} {b}")), "*2\r\n:1\r\n:1\r\n");
        assert_eq!(c(&mut r, flush), "+OK\r\n", "{flush} with lazyfree-lazy-user-flush {lazy}");
        assert_eq!(c(&mut r, &format!("SCRIPT EXISTS {a} {b}")), "*2\r\n:0\r\n:0\r\n");
        assert_eq!(info_num(&info(&mut r, "memory"), "number_of_cached_scripts"), 0);
        assert_eq!(c(&mut r, &format!("EVALSHA {a} 0")), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
        assert_eq!(eval(&mut r, "return 'again'"), bulk("again"));
        assert_eq!(c(&mut r, "SCRIPT FLUSH"), "+OK\r\n");
    }
    assert_eq!(c(&mut r, "SCRIPT FLUSH bad"), "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
}

// ---------------------------------------------------------------------------
// INFO memory (S-76)
// ---------------------------------------------------------------------------

#[test]
fn s76_info_memory_script_fields() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let fields = [
        "used_memory_lua",
        "used_memory_lua_human",
        "used_memory_vm_eval",
        "used_memory_scripts_eval",
        "number_of_cached_scripts",
        "used_memory_scripts",
        "used_memory_scripts_human",
        "used_memory_vm_total",
    ];
    let mem = info(&mut r, "memory");
    let missing: Vec<_> = fields.iter().filter(|f| info_field(&mem, f).is_none()).collect();
    assert!(missing.is_empty(), "INFO memory lacks {missing:?}");
    assert_eq!(info_num(&mem, "number_of_cached_scripts"), 0);
    let lua = info_num(&mem, "used_memory_lua");
    assert!(lua > 0);
    assert_eq!(lua, info_num(&mem, "used_memory_vm_eval"));
    assert!(info_num(&mem, "used_memory_vm_total") >= lua);
    let scripts_empty = info_num(&mem, "used_memory_scripts_eval");

    for i in 0..3 {
        assert!(case(&mut r, &format!("SCRIPT LOAD return\\s{i}")).starts_with("$40\r\n"));
    }
    for i in 0..2 {
        assert_eq!(eval(&mut r, &format!("return 'x{i}'")), bulk(&format!("x{i}")));
    }
    // A compile error caches nothing.
    assert!(eval(&mut r, "return +").starts_with("-ERR Error compiling script"));
    let mem = info(&mut r, "memory");
    assert_eq!(info_num(&mem, "number_of_cached_scripts"), 5);
    assert_eq!(info_num(&mem, "used_memory_lua"), info_num(&mem, "used_memory_vm_eval"));
    let scripts = info_num(&mem, "used_memory_scripts_eval");
    assert!(scripts > scripts_empty, "{scripts} <= {scripts_empty}");
    assert!(info_num(&mem, "used_memory_scripts") >= scripts);
    assert!(info_field(&mem, "used_memory_lua_human").is_some_and(|h| h.ends_with(['B', 'K', 'M', 'G'])));

    assert_eq!(c(&mut r, "SCRIPT FLUSH"), "+OK\r\n");
    let mem = info(&mut r, "memory");
    assert_eq!(info_num(&mem, "number_of_cached_scripts"), 0);
    assert!(info_num(&mem, "used_memory_scripts_eval") <= scripts_empty);
    assert_eq!(info_num(&mem, "used_memory_lua"), info_num(&mem, "used_memory_vm_eval"));
}

// ---------------------------------------------------------------------------
// Misc (S-66, S-130, S-131, commandstats, WATCH)
// ---------------------------------------------------------------------------

#[test]
fn s66_select_inside_a_script_does_not_change_the_callers_db() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SET k db0"), "+OK\r\n");
    assert_eq!(c(&mut r, "SELECT 5"), "+OK\r\n");
    assert_eq!(c(&mut r, "SET k db5"), "+OK\r\n");
    assert_eq!(
        eval(&mut r, "return {redis.call('get', 'k'), redis.call('select', '0'), redis.call('get', 'k')}"),
        "*3\r\n$3\r\ndb5\r\n+OK\r\n$3\r\ndb0\r\n"
    );
    assert_eq!(c(&mut r, "GET k"), bulk("db5"));
    // Each run starts in the caller's DB again.
    assert_eq!(eval(&mut r, "redis.call('select', '0') return 1"), ":1\r\n");
    assert_eq!(eval(&mut r, "return redis.call('get', 'k')"), bulk("db5"));
    assert_eq!(eval(&mut r, "redis.call('select', '3') redis.call('set', 'k', 'db3') return 1"), ":1\r\n");
    assert_eq!(c(&mut r, "GET k"), bulk("db5"));
    assert_eq!(c(&mut r, "SELECT 3"), "+OK\r\n");
    assert_eq!(c(&mut r, "GET k"), bulk("db3"));
}

#[test]
fn s130_monitor_shows_eval_then_the_scripts_commands() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(c(&mut m, "MONITOR"), "+OK\r\n");
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SELECT 3"), "+OK\r\n");
    let body = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])";
    assert_eq!(eval_with(&mut r, body, &["mk"], &["mv"]), bulk("mv"));
    assert!(m.read_str().ends_with("] \"SELECT\" \"3\"\r\n"));
    let line = m.read_str();
    assert!(line.starts_with('+') && line.contains(" [3 127.0.0.1:"), "{line:?}");
    assert!(line.ends_with(&format!("] \"EVAL\" \"{body}\" \"1\" \"mk\" \"mv\"\r\n")), "{line:?}");
    let line = m.read_str();
    assert!(line.ends_with(" [3 lua] \"set\" \"mk\" \"mv\"\r\n"), "{line:?}");
    let line = m.read_str();
    assert!(line.ends_with(" [3 lua] \"get\" \"mk\"\r\n"), "{line:?}");
    // EVALSHA too.
    let sha = sha_of(&mut r, body);
    let line = m.read_str();
    assert!(line.contains("\"EVAL\" \"return redis.sha1hex(ARGV[1])\""), "{line:?}");
    assert_eq!(c(&mut r, &format!("EVALSHA {sha} 1 mk mv2")), bulk("mv2"));
    assert!(m.read_str().ends_with(&format!("\"EVALSHA\" \"{sha}\" \"1\" \"mk\" \"mv2\"\r\n")));
    assert!(m.read_str().ends_with(" [3 lua] \"set\" \"mk\" \"mv2\"\r\n"));
    assert!(m.read_str().ends_with(" [3 lua] \"get\" \"mk\"\r\n"));
}

#[test]
fn s131_keys_do_not_expire_in_the_middle_of_a_script() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // The script sets a 50 ms TTL itself, spins 150 ms of CPU, and still sees the key.
    let body = "redis.call('set', KEYS[1], 'v', 'px', 50) \
        local a = redis.call('get', KEYS[1]) \
        local t = os.clock() while os.clock() - t < 0.15 do end \
        local b = redis.call('get', KEYS[1]) \
        return {a, b, redis.call('exists', KEYS[1])}";
    assert_eq!(eval_with(&mut r, body, &["k"], &[]), "*3\r\n$1\r\nv\r\n$1\r\nv\r\n:1\r\n");
    assert_eq!(c(&mut r, "EXISTS k"), ":0\r\n", "expired once the script is over");
    // A key with a 1 ms TTL set by a client: whatever the script sees first, it
    // sees again after 20 ms.
    assert_eq!(c(&mut r, "PSETEX k2 1 v"), "+OK\r\n");
    let body = "local a = tostring(redis.call('get', KEYS[1])) \
        local t = os.clock() while os.clock() - t < 0.02 do end \
        local b = tostring(redis.call('get', KEYS[1])) \
        return {a, b}";
    let reply = eval_with(&mut r, body, &["k2"], &[]);
    let seen = bulks(&reply);
    assert_eq!(seen[0], seen[1], "{reply:?}");
}

#[test]
fn commandstats_count_commands_run_by_scripts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "CONFIG RESETSTAT"), "+OK\r\n");
    assert_eq!(
        eval(&mut r, "redis.call('set', 'a', '1') redis.call('set', 'b', '2') return redis.call('get', 'a')"),
        bulk("1")
    );
    let stats = info(&mut r, "commandstats");
    assert!(stats.contains("cmdstat_set:calls=2,"), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_eval:calls=1,"), "{stats}");
    // A rejected inner command counts as rejected, the failed EVAL as failed.
    let reply = eval(&mut r, "return redis.call('set', 'a')");
    assert!(reply.starts_with("-ERR Wrong number of args calling Redis command from script"), "{reply}");
    let stats = info(&mut r, "commandstats");
    let set_line = stats.lines().find(|l| l.starts_with("cmdstat_set:")).expect("cmdstat_set");
    assert!(set_line.starts_with("cmdstat_set:calls=2,"), "{set_line}");
    assert!(set_line.ends_with("rejected_calls=1,failed_calls=0"), "{set_line}");
    let eval_line = stats.lines().find(|l| l.starts_with("cmdstat_eval:")).expect("cmdstat_eval");
    assert!(eval_line.contains("calls=2,") && eval_line.ends_with("failed_calls=1"), "{eval_line}");
}

#[test]
fn watch_is_broken_by_a_script_write() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "WATCH wk"), "+OK\r\n");
    assert_eq!(eval(&mut r, "redis.call('set', 'wk', 'x') return 1"), ":1\r\n");
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut r, "GET wk"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "*-1\r\n");
    // A read-only script does not break it.
    assert_eq!(c(&mut r, "WATCH wk"), "+OK\r\n");
    assert_eq!(eval(&mut r, "return redis.call('get', 'wk')"), bulk("x"));
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut r, "GET wk"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "*1\r\n$1\r\nx\r\n");
    // Another client's script breaks it too.
    let mut other = s.raw();
    assert_eq!(c(&mut r, "WATCH wk"), "+OK\r\n");
    assert_eq!(eval(&mut other, "return redis.call('append', 'wk', 'y')"), ":2\r\n");
    assert_eq!(c(&mut r, "MULTI"), "+OK\r\n");
    assert_eq!(c(&mut r, "GET wk"), "+QUEUED\r\n");
    assert_eq!(c(&mut r, "EXEC"), "*-1\r\n");
}

/// S-92: a command refused with BUSY inside a transaction makes EXEC fail, as any
/// refused command does.
#[test]
fn s92_busy_refusal_inside_multi_aborts_the_transaction() {
    let s = Server::start(&["--busy-reply-threshold", "100"]);
    let mut a = s.raw();
    assert_eq!(c(&mut a, "MULTI"), "+OK\r\n");
    let script = spawn_eval(&s, "while true do end");
    let mut b = s.raw();
    wait_busy(&mut b);
    assert_eq!(c(&mut a, "SET k v"), BUSY);
    assert_eq!(c(&mut b, "SCRIPT KILL"), "+OK\r\n");
    assert_eq!(script.join().expect("eval thread"), Some(killed(LOOP_SHA)));
    assert_eq!(c(&mut a, "EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c(&mut a, "EXISTS k"), ":0\r\n");
}

/// `lua-memory-limit` set at runtime applies to the next script; lifting it again
/// lets the same script run.
#[test]
fn lua_memory_limit_changes_at_runtime() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let body = "return #string.rep('x', 100 * 1024 * 1024)";
    assert_eq!(eval(&mut r, body), ":104857600\r\n");
    assert_eq!(c(&mut r, "CONFIG SET lua-memory-limit 32mb"), "+OK\r\n");
    let reply = eval(&mut r, body);
    assert!(reply.starts_with("-ERR") && reply.contains("memory"), "{reply:?}");
    assert_eq!(c(&mut r, "CONFIG SET lua-memory-limit 1gb"), "+OK\r\n");
    assert_eq!(eval(&mut r, body), ":104857600\r\n");
}

/// moonkv has no Lua debugger: SCRIPT DEBUG NO is accepted, YES/SYNC refused with
/// a clear error, anything else gets Redis's usage text.
#[test]
fn script_debug_modes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, "SCRIPT DEBUG NO"), "+OK\r\n");
    assert_eq!(c(&mut r, "SCRIPT DEBUG YES"), "-ERR SCRIPT DEBUG is not supported by moonkv\r\n");
    assert_eq!(c(&mut r, "SCRIPT DEBUG SYNC"), "-ERR SCRIPT DEBUG is not supported by moonkv\r\n");
    assert_eq!(c(&mut r, "SCRIPT DEBUG MAYBE"), "-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n");
}
