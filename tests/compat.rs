//! Compatibility with the installed redis-server: the same command sequence runs
//! against moonkv and redis-server and the raw reply bytes must be identical.
//! Also compares `COMMAND INFO` (arity, flags, key positions, ACL categories, key
//! specs) of every command moonkv implements.
//!
//! Skipped (with a message) only when redis-server is not installed; `make test`
//! installs it.

mod common;
use common::*;

/// Deterministic cases across the foundation's commands, run in order.
const CASES: &[&str] = &[
    // connection
    "PING", "PING hello", "PING a b", "ECHO", "ECHO hi", "ECHO \\e", "NOSUCHCMD", "NOSUCHCMD a b c",
    "nosuchcmd aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b",
    "AUTH x", "AUTH a b c", "AUTH default x", "HELLO 4", "HELLO x", "HELLO 2 FOO", "CLIENT", "CLIENT FOO",
    "CLIENT SETNAME a\\sb", "CLIENT SETNAME good", "CLIENT GETNAME", "CLIENT SETNAME \\e", "CLIENT GETNAME",
    "CLIENT REPLY FOO", "CLIENT PAUSE x", "CLIENT PAUSE -1", "CLIENT PAUSE 0 FOO", "CLIENT NO-EVICT maybe",
    "CLIENT KILL 1.2.3.4:5", "CLIENT KILL ID 0", "CLIENT KILL ID x", "CLIENT KILL TYPE foo x", "CLIENT KILL USER bob",
    "CLIENT KILL FOO bar", "CLIENT KILL ID 999999", "CLIENT LIST TYPE foo", "CLIENT LIST TYPE master", "CLIENT LIST ID x",
    "SELECT 16", "SELECT -1", "SELECT x", "SELECT 1", "SET k1 db1", "SELECT 0", "GET k1",
    // strings
    "SET", "SET k", "SET k v", "GET k", "GET", "GET nokey", "SET k v XX", "SET k2 v XX", "GET k2", "SET k2 v NX",
    "SET k2 w NX", "GET k2", "SET k2 w NX GET", "SET k2 w XX GET", "SET k2 x GET", "SET k v NX XX", "SET k v EX",
    "SET k v EX 0", "SET k v EX -1", "SET k v EX x", "SET k v PX 0", "SET k v EX 10 PX 10", "SET k v KEEPTTL EX 10",
    "SET k v EX 9223372036854775807", "SET k v PX 9223372036854775807", "SET k v EXAT 0", "SET k v FOO",
    "SET k v EX 100", "SET k v2 KEEPTTL", "GET k", "SET k v3", "TTL k", "SETNX k x", "SETNX newk x", "GET newk",
    "SETEX k 0 v", "SETEX k x v", "SETEX k -5 v", "PSETEX k 0 v", "SETEX sk 100 v", "GETSET k newv", "GETSET nokey2 v",
    "GET nokey2", "GETDEL nokey3", "GETDEL nokey2", "GET nokey2", "GETEX nokey", "GETEX k", "GETEX k EX 0", "GETEX k EX",
    "GETEX k PERSIST EX 10", "GETEX k FOO", "GETEX k PERSIST", "TTL k", "MGET k nokey k2", "MGET", "MSET a", "MSET a 1 b",
    "MSET a 1 b 2", "MGET a b", "MSETNX a 1 c 3", "MSETNX c 3 d 4", "MGET c d",
    "INCR cnt", "INCR cnt", "INCRBY cnt 10", "INCRBY cnt x", "DECR cnt", "DECRBY cnt 5", "DECRBY cnt -9223372036854775808",
    "INCRBY cnt 9223372036854775807", "SET big 9223372036854775807", "INCR big", "SET small -9223372036854775808",
    "DECR small", "SET s abc", "INCR s", "SET s 10\\s", "INCR s", "SET s 010", "INCR s", "SET s +1", "INCR s",
    "INCRBYFLOAT f 1.5", "INCRBYFLOAT f 0.1", "INCRBYFLOAT f -1.6", "INCRBYFLOAT f 1e3", "INCRBYFLOAT f x",
    "INCRBYFLOAT f inf", "INCRBYFLOAT f nan", "SET f 3.0", "INCRBYFLOAT f 2", "SET f abc", "INCRBYFLOAT f 1",
    "INCRBYFLOAT f2 5.0e3", "INCRBYFLOAT f3 10.5", "INCRBYFLOAT f3 0.1",
    "APPEND ap hello", "APPEND ap \\sworld", "GET ap", "STRLEN ap", "STRLEN nokey", "APPEND cnt 1", "GET cnt",
    "GETRANGE ap 0 4", "GETRANGE ap -5 -1", "GETRANGE ap 5 2", "GETRANGE ap -1 -5", "GETRANGE ap 0 -100", "GETRANGE ap 100 200",
    "GETRANGE ap x 1", "GETRANGE nokey 0 1", "SUBSTR ap 0 2", "SETRANGE sr 5 hi", "GET sr", "SETRANGE sr 0 XY", "GET sr",
    "SETRANGE sr -1 x", "SETRANGE sr 536870912 x", "SETRANGE sr 536870911 \\e", "SETRANGE nokey4 3 \\e", "EXISTS nokey4",
    "SETRANGE sr x y", "STRLEN sr",
    // binary safety
    "SET bin\\0key a\\r\\nb\\0c", "GET bin\\0key", "STRLEN bin\\0key", "EXISTS bin\\0key",
    // keys
    "DEL", "DEL a b nokey", "EXISTS a b c c nokey", "TYPE c", "TYPE nokey", "UNLINK c d", "RENAME nokey x",
    "SET r1 v", "RENAME r1 r1", "RENAME r1 r2", "GET r2", "EXISTS r1", "SET r3 x", "RENAMENX r2 r3", "RENAMENX r2 r4",
    "RENAMENX r4 r4", "RENAMENX nokey r9", "TOUCH r4 nokey r3", "DBSIZE", "MOVE r4 1", "MOVE r4 1", "MOVE r3 0",
    "MOVE r3 16", "MOVE r3 x", "SELECT 1", "GET r4", "SELECT 0", "COPY r3 r3", "COPY r3 r5", "COPY r3 r5", "COPY r3 r5 REPLACE",
    "COPY r3 r6 DB 2", "COPY r3 r6 DB 16", "COPY r3 r6 DB x", "COPY r3 r6 FOO", "COPY nokey r7", "SWAPDB 0 16", "SWAPDB x 1",
    "SWAPDB 1 y", "SWAPDB 0 2", "GET r6", "SWAPDB 0 2", "GET r6", "FLUSHDB FOO", "FLUSHDB ASYNC x", "FLUSHALL FOO",
    "SET e1 v", "EXPIRE e1", "EXPIRE e1 x", "EXPIRE e1 100 FOO", "EXPIRE e1 100 NX XX", "EXPIRE e1 100 GT LT",
    "EXPIRE e1 9223372036854775807", "PEXPIRE e1 9223372036854775807", "EXPIREAT e1 9223372036854775807",
    "EXPIRE nokey 100", "EXPIRE e1 100 XX", "EXPIRE e1 100 NX", "EXPIRE e1 50 GT", "EXPIRE e1 1000 GT", "TTL e1",
    "EXPIRE e1 10000 LT", "EXPIRE e1 100 LT", "TTL e1", "PERSIST e1", "PERSIST e1", "TTL e1", "PTTL e1", "EXPIRETIME e1",
    "PEXPIRETIME e1", "TTL nokey", "PTTL nokey", "EXPIRETIME nokey", "EXPIREAT e1 4102444800", "EXPIRETIME e1",
    "PEXPIRETIME e1", "PEXPIREAT e1 4102444800123", "PEXPIRETIME e1", "EXPIRE e1 -1", "EXISTS e1", "SET e2 v",
    "PEXPIRE e2 0", "EXISTS e2", "SET e3 v", "EXPIRE e3 100 LT", "TTL e3", "SET e4 v", "EXPIRE e4 100 GT", "TTL e4",
    "OBJECT ENCODING nokey", "SET o1 123", "OBJECT ENCODING o1", "OBJECT REFCOUNT o1", "SET o1 12345",
    "OBJECT REFCOUNT o1", "SET o2 abc", "OBJECT ENCODING o2", "APPEND o2 d", "OBJECT ENCODING o2",
    "SET o3 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "OBJECT ENCODING o3",
    "SET o3 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "OBJECT ENCODING o3", "SET o4 -0", "OBJECT ENCODING o4",
    "OBJECT FREQ o1", "OBJECT FOO", "OBJECT", "OBJECT ENCODING", "SCAN x", "SCAN 0 COUNT 0", "SCAN 0 COUNT x",
    "SCAN 0 MATCH", "SCAN 0 FOO bar", "KEYS", "FLUSHALL", "KEYS *", "SCAN 0", "SCAN -1", "RANDOMKEY", "SET only v", "KEYS *",
    "KEYS o*", "KEYS nomatch*", "RANDOMKEY", "SCAN 0 TYPE string", "SCAN 0 TYPE list", "SCAN 0 MATCH o*",
    "DBSIZE", "FLUSHDB", "DBSIZE",
    // server
    "CONFIG", "CONFIG FOO", "CONFIG GET", "CONFIG SET maxmemory", "CONFIG SET foo bar", "CONFIG GET maxmemory",
    "CONFIG SET maxmemory 10mb", "CONFIG GET maxmemory", "CONFIG SET maxmemory 0", "CONFIG SET maxmemory x",
    "CONFIG GET hz", "CONFIG GET timeout", "CONFIG SET timeout x", "CONFIG GET databases", "CONFIG SET databases 4",
    "CONFIG GET protected-mode", "CONFIG GET maxmemory-policy", "CONFIG SET maxmemory-policy foo",
    "CONFIG GET slowlog-log-slower-than", "CONFIG GET nosuchconfig", "CONFIG SET hz 20 hz 30",
    "COMMAND FOO", "COMMAND COUNT x", "COMMAND GETKEYS", "COMMAND GETKEYS get", "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS get a b", "COMMAND GETKEYS get a", "COMMAND GETKEYS set a b", "COMMAND GETKEYS mset a 1 b 2",
    "COMMAND GETKEYS ping", "COMMAND GETKEYS copy a b", "COMMAND INFO nosuch", "SLOWLOG", "SLOWLOG FOO",
    "SLOWLOG GET x", "SLOWLOG GET -2", "SLOWLOG RESET", "MEMORY", "MEMORY USAGE nokey", "MEMORY USAGE nokey SAMPLES x",
    "DEBUG", "DEBUG NOSUCH", "DEBUG DIGEST", "DEBUG DIGEST-VALUE nokey", "DEBUG SET-ACTIVE-EXPIRE 1",
    "DEBUG POPULATE x", "DEBUG POPULATE -1", "DEBUG OBJECT nokey", "TIME x", "DBSIZE x", "LASTSAVE x",
    "SHUTDOWN FOO", "SHUTDOWN SAVE NOSAVE", "SHUTDOWN ABORT",
];

#[test]
fn replies_match_redis_byte_for_byte() {
    assert!(CASES.len() >= 300, "only {} cases", CASES.len());
    // DEBUG DIGEST differs on purpose (moonkv mixes in TTL deadlines); LASTSAVE is
    // each server's own start-up time (tests/rdb.rs checks it moves with saves).
    compare_with_redis(CASES, |line| !line.starts_with("DEBUG DIGEST") && !line.starts_with("LASTSAVE"));
}

/// The same checks in RESP3 for the replies whose shape depends on the protocol.
#[test]
fn resp3_replies_match_redis() {
    let Some(redis) = Server::start_redis(&[]) else { return };
    let moonkv = Server::start(&[]);
    let cases = [
        "GET nokey",
        "SET k v",
        "GET k",
        "MGET k nokey",
        "CONFIG GET maxmemory",
        "CONFIG GET nosuch",
        "SET f 1.5",
        "INCRBYFLOAT f 1",
        "OBJECT ENCODING nokey",
        "SCAN 0 COUNT 1000 MATCH k",
        "TTL k",
        "CLIENT GETNAME",
        "EXISTS k",
        "SET n 1",
        "COMMAND INFO nosuch",
        "CONFIG SET hz 11",
        "SET k v GET",
        "DEBUG OBJECT nokey",
    ];
    let mut m = moonkv.raw();
    let mut r = redis.raw();
    run_case(&mut m, "HELLO 3");
    run_case(&mut r, "HELLO 3");
    for line in cases {
        let (a, b) = (run_case(&mut m, line), run_case(&mut r, line));
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "RESP3 reply of {line}");
    }
}

/// COMMAND INFO of every implemented command equals redis-server's, apart from
/// Redis's free-text key spec notes and commands newer than Redis 7.0.
#[test]
fn command_info_matches_redis() {
    let Some(redis) = Server::start_redis(&[]) else { return };
    let moonkv = Server::start(&[]);
    let mut mc = moonkv.conn();
    let mut rc = redis.conn();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut mc).expect("COMMAND LIST");
    assert!(names.len() > 60, "COMMAND LIST returned {}", names.len());
    let mut checked = 0;
    for name in names.iter().filter(|n| !n.contains('|')) {
        let ours: redis::Value = redis::cmd("COMMAND").arg("INFO").arg(name).query(&mut mc).expect("ours");
        let theirs: redis::Value = redis::cmd("COMMAND").arg("INFO").arg(name).query(&mut rc).expect("theirs");
        let (ours, theirs) = (normalize(ours, &names), normalize(theirs, &names));
        // ZRANK/ZREVRANK take Redis 7.2's WITHSCORE, so their arity is -3, not 3.
        let theirs = if name == "zrank" || name == "zrevrank" { with_arity(theirs, -3) } else { theirs };
        assert_eq!(ours, theirs, "COMMAND INFO {name}");
        checked += 1;
    }
    assert!(checked > 60);
}

/// Replaces the arity in a one-command COMMAND INFO reply.
fn with_arity(v: redis::Value, arity: i64) -> redis::Value {
    use redis::Value;
    match v {
        Value::Array(mut outer) if outer.len() == 1 => {
            if let Value::Array(info) = &mut outer[0] {
                info[1] = Value::Int(arity);
            }
            Value::Array(outer)
        }
        other => other,
    }
}

/// Removes `notes` entries of key specs (Redis's prose).
fn strip_notes(v: redis::Value) -> redis::Value {
    use redis::Value;
    match v {
        Value::Array(items) => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < items.len() {
                if let Value::BulkString(b) = &items[i] {
                    if b == b"notes" && i + 1 < items.len() {
                        i += 2;
                        continue;
                    }
                }
                out.push(strip_notes(items[i].clone()));
                i += 1;
            }
            Value::Array(out)
        }
        other => other,
    }
}

/// Makes two COMMAND INFO replies comparable: key spec notes removed, subcommands
/// restricted to those in 7.0 that moonkv implements, sorted by name (Redis lists
/// them in hash table order).
fn normalize(v: redis::Value, names: &[String]) -> redis::Value {
    use redis::Value;
    let name_of = |s: &Value| match s {
        Value::Array(f) => match f.first() {
            Some(Value::BulkString(n)) => String::from_utf8_lossy(n).into_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    match strip_notes(v) {
        Value::Array(mut outer) if outer.len() == 1 => {
            if let Value::Array(info) = &mut outer[0] {
                if let Some(Value::Array(subs)) = info.get_mut(9) {
                    // CLIENT NO-TOUCH is newer than 7.0.
                    subs.retain(|s| {
                        let n = name_of(s);
                        n != "client|no-touch" && names.contains(&n)
                    });
                    subs.sort_by_key(|s| name_of(s));
                }
            }
            Value::Array(outer)
        }
        other => other,
    }
}
