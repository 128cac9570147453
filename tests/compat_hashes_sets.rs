//! Hashes and sets against the installed redis-server: the same command sequence
//! runs on moonkv and redis-server and the raw replies must be byte-for-byte equal.
//! Only deterministic replies: listpack hashes and intsets (whose order is fixed),
//! single-member results, counts, errors, encodings. A RESP3 section checks reply
//! shapes (maps, sets, nulls, pairs). Skipped when redis-server is not installed.

mod common;
use common::*;

/// Hash cases, run in order.
#[rustfmt::skip]
const HASH_CASES: &[&str] = &[
    // HSET / HMSET / HSETNX / HGET / HMGET
    "HSET", "HSET h", "HSET h f", "HSET h f v g", "HMSET h f", "HMSET h f v g", "HSET h f v", "HSET h f v2 g w",
    "HGET h f", "HGET h nofield", "HGET nokey f", "HGET h", "HMSET h a 1 b 2", "HGETALL h", "HKEYS h", "HVALS h",
    "HLEN h", "HLEN nokey", "HMGET h f nofield g", "HMGET nokey a b", "HMGET h", "HSETNX h f x", "HSETNX h new x",
    "HSETNX h2 a b", "HGETALL h2", "HSETNX h", "HGET h new", "HSET h \\e \\e", "HGET h \\e", "HSTRLEN h \\e",
    "HSET h bin\\0f a\\r\\nb", "HGET h bin\\0f", "HGETALL h",
    // HEXISTS / HSTRLEN / HDEL
    "HEXISTS h f", "HEXISTS h nofield", "HEXISTS nokey f", "HSTRLEN h f", "HSTRLEN h nofield", "HSTRLEN nokey f",
    "HDEL h", "HDEL h nofield", "HDEL h f f g", "HDEL nokey f", "HGETALL h", "HDEL h2 a", "EXISTS h2",
    "HDEL h a b new \\e bin\\0f", "EXISTS h", "HGETALL nokey", "HKEYS nokey", "HVALS nokey",
    // WRONGTYPE
    "SET str v", "HSET str f v", "HMSET str f v", "HSETNX str f v", "HGET str f", "HMGET str f", "HDEL str f",
    "HLEN str", "HEXISTS str f", "HSTRLEN str f", "HKEYS str", "HVALS str", "HGETALL str", "HINCRBY str f 1",
    "HINCRBYFLOAT str f 1", "HRANDFIELD str", "HRANDFIELD str 1", "HSCAN str 0", "HINCRBY str f x",
    "HINCRBYFLOAT str f x", "HRANDFIELD str x",
    // HINCRBY
    "HINCRBY c f 1", "HINCRBY c f 10", "HINCRBY c f -20", "HINCRBY c f x", "HINCRBY c f 1.5",
    "HINCRBY c f 9223372036854775808", "HSET c s abc", "HINCRBY c s 1", "HSET c sp \\s1", "HINCRBY c sp 1",
    "HSET c max 9223372036854775807", "HINCRBY c max 1", "HINCRBY c max 0", "HINCRBY c max -1",
    "HSET c min -9223372036854775808", "HINCRBY c min -1", "HINCRBY c min 1", "HSET c lead 01", "HINCRBY c lead 1",
    "HINCRBY c new -9223372036854775808", "HGETALL c", "HINCRBY c", "HINCRBY c f 1 2",
    // HINCRBYFLOAT
    "HINCRBYFLOAT fl f 1.5", "HINCRBYFLOAT fl f 0.1", "HINCRBYFLOAT fl f -1.6", "HINCRBYFLOAT fl f 1e3",
    "HINCRBYFLOAT fl f x", "HINCRBYFLOAT fl f inf", "HINCRBYFLOAT fl f -inf", "HINCRBYFLOAT fl f nan",
    "HINCRBYFLOAT fl g 5.0e3", "HINCRBYFLOAT fl h 10.5", "HINCRBYFLOAT fl h 0.1", "HSET fl s abc",
    "HINCRBYFLOAT fl s 1", "HSET fl big 1e4932", "HINCRBYFLOAT fl big 1e4932", "HSET fl i 3", "HINCRBYFLOAT fl i 2",
    "HINCRBYFLOAT fl i 0x10", "HINCRBYFLOAT fl i \\s1", "HINCRBYFLOAT fl i \\e", "HINCRBYFLOAT nokey2 f inf",
    "EXISTS nokey2", "HGETALL fl",
    // HRANDFIELD (deterministic forms only)
    "HRANDFIELD nokey", "HRANDFIELD nokey 5", "HRANDFIELD nokey -5", "HRANDFIELD nokey 0",
    "HRANDFIELD nokey 1 WITHVALUES", "HRANDFIELD nokey x", "HRANDFIELD nokey 1 FOO",
    "HRANDFIELD nokey 1 WITHVALUES x", "HRANDFIELD nokey -9223372036854775808",
    "HRANDFIELD nokey -9223372036854775807", "HRANDFIELD nokey 9223372036854775807 WITHVALUES",
    "HRANDFIELD nokey -4611686018427387904 WITHVALUES", "HRANDFIELD nokey 4611686018427387903 withvalues",
    "HSET one f v", "HRANDFIELD one", "HRANDFIELD one 1", "HRANDFIELD one 5", "HRANDFIELD one -3",
    "HRANDFIELD one -3 WITHVALUES", "HRANDFIELD one 3 withvalues", "HRANDFIELD one 0", "HRANDFIELD one 0 WITHVALUES",
    "HMSET lp a 1 b 2 c 3", "HRANDFIELD lp 3", "HRANDFIELD lp 100 WITHVALUES", "HRANDFIELD lp 9223372036854775807",
    // HSCAN
    "HSCAN nokey 0", "HSCAN nokey x", "HSCAN nokey 0 FOO", "HSCAN lp 0", "HSCAN lp 123", "HSCAN lp 0 MATCH a*",
    "HSCAN lp 0 MATCH [ab] COUNT 1", "HSCAN lp 0 COUNT 0", "HSCAN lp 0 COUNT x", "HSCAN lp 0 COUNT",
    "HSCAN lp 0 MATCH", "HSCAN lp 0 TYPE hash", "HSCAN lp 0 FOO bar", "HSCAN lp x", "HSCAN lp -1",
    "HSCAN lp 18446744073709551616", "HSCAN lp 0 MATCH * COUNT 100", "HSCAN lp 0 match nomatch",
    // encodings
    "CONFIG SET hash-max-listpack-entries 3", "HSET e a 1 b 2 c 3", "OBJECT ENCODING e", "HSET e c 4",
    "OBJECT ENCODING e", "HSET e d 5", "OBJECT ENCODING e", "HDEL e a b c", "OBJECT ENCODING e", "HGETALL e",
    "CONFIG SET hash-max-listpack-entries 128",
    "HSET e2 f aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "OBJECT ENCODING e2",
    "HSET e2 f aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "OBJECT ENCODING e2",
    "HSET e3 a 1", "HSETNX e3 a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING e3", "HSETNX e3 b aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING e3", "HSET e4 a 1",
    "HINCRBY e4 ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff 1", "OBJECT ENCODING e4",
    "HSET e5 a 1", "HINCRBYFLOAT e5 ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff 1.5",
    "OBJECT ENCODING e5", "CONFIG SET hash-max-listpack-value 3", "HSET e6 abc def", "OBJECT ENCODING e6",
    "HSET e6 abcd x", "OBJECT ENCODING e6", "CONFIG SET hash-max-listpack-value 64",
    "CONFIG SET hash-max-listpack-entries 0", "HSET e7 a 1", "OBJECT ENCODING e7",
    "CONFIG SET hash-max-listpack-entries 128",
    // listpack order: updates stay in place, new fields go last
    "HMSET o a 1 b 2 c 3", "HDEL o b", "HSET o d 4", "HSET o a 9 b 5", "HGETALL o", "HSET r a 1 a 2", "HGET r a",
    "HSCAN o 0 COUNT 1", "HRANDFIELD o 4 WITHVALUES", "HMGET o d a b",
];

/// Set cases, run in order.
#[rustfmt::skip]
const SET_CASES: &[&str] = &[
    // SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS
    "SADD", "SADD s", "SADD s 3 1 2", "SADD s 2 4", "SMEMBERS s", "SCARD s", "SCARD nokey", "SISMEMBER s 1",
    "SISMEMBER s 5", "SISMEMBER s 01", "SISMEMBER nokey 1", "SMISMEMBER s 1 5 2 x", "SMISMEMBER nokey a b",
    "SMISMEMBER s", "SMEMBERS nokey", "SREM s", "SREM s 9", "SREM s 1 1 9", "SMEMBERS s", "SREM nokey a",
    "SREM s 2 3 4", "EXISTS s", "SADD s -5 0 -0 +1 007", "SCARD s", "OBJECT ENCODING s", "SISMEMBER s -0",
    "SISMEMBER s 0", "SADD n 9223372036854775807 -9223372036854775808 0", "SMEMBERS n", "OBJECT ENCODING n",
    "SADD n 9223372036854775808", "OBJECT ENCODING n", "SISMEMBER n 9223372036854775808", "SADD one x",
    "SMEMBERS one", "SADD one x", "SREM one x", "EXISTS one",
    // WRONGTYPE
    "SET str v", "SADD str a", "SREM str a", "SCARD str", "SISMEMBER str a", "SMISMEMBER str a", "SMEMBERS str",
    "SPOP str", "SPOP str 1", "SRANDMEMBER str", "SRANDMEMBER str 1", "SMOVE str s a", "SINTER str",
    "SINTER nokey str", "SINTERCARD 1 str", "SUNION s str", "SDIFF s str", "SDIFF nokey str", "SINTERSTORE d str",
    "SUNIONSTORE d str", "SDIFFSTORE d str", "SSCAN str 0",
    // SPOP
    "SPOP nokey", "SPOP nokey 1", "SPOP nokey 0", "SPOP nokey -1", "SPOP nokey x", "SPOP s 1 2", "SADD p1 only",
    "SPOP p1", "EXISTS p1", "SADD p2 1 2 3", "SPOP p2 0", "SPOP p2 -1", "SPOP p2 3", "EXISTS p2", "SADD p3 5 6",
    "SPOP p3 10", "EXISTS p3", "SADD p4 x", "SPOP p4 1", "EXISTS p4",
    // SRANDMEMBER
    "SRANDMEMBER nokey", "SRANDMEMBER nokey 5", "SRANDMEMBER nokey -5", "SRANDMEMBER nokey 0", "SRANDMEMBER nokey x",
    "SRANDMEMBER nokey 1 2", "SRANDMEMBER nokey -9223372036854775808", "SRANDMEMBER nokey -9223372036854775807",
    "SADD r1 only", "SRANDMEMBER r1", "SRANDMEMBER r1 1", "SRANDMEMBER r1 -3", "SRANDMEMBER r1 3", "SRANDMEMBER r1 0",
    "SADD r2 3 1 2", "SRANDMEMBER r2 3", "SRANDMEMBER r2 100", "SRANDMEMBER r2 9223372036854775807",
    "SRANDMEMBER r2 x",
    // SMOVE
    "SMOVE nokey d a", "SMOVE nokey str a", "SMOVE str nokey a", "SADD m1 1 2", "SMOVE m1 str 1", "SMOVE m1 m2 9",
    "SMOVE m1 m2 1", "SMEMBERS m1", "SMEMBERS m2", "OBJECT ENCODING m2", "SMOVE m1 m1 2", "SMOVE m1 m1 9",
    "SADD m2 2", "SMOVE m1 m2 2", "EXISTS m1", "SMEMBERS m2", "SMOVE m2 m3 a", "SMOVE", "SMOVE a b",
    // SINTER / SINTERCARD / SINTERSTORE
    "SADD a 1 2 3 4 5", "SADD b 2 3 4 6", "SADD c 3 4 7", "SINTER a b", "SINTER a b c", "SINTER c b a", "SINTER a",
    "SINTER a a", "SINTER a nokey", "SINTER nokey a", "SINTER", "SINTERCARD 2 a b", "SINTERCARD 3 a b c",
    "SINTERCARD 2 a b LIMIT 1", "SINTERCARD 2 a b LIMIT 0", "SINTERCARD 2 a b LIMIT 10", "SINTERCARD 2 a nokey",
    "SINTERCARD 1 a", "SINTERCARD 0 a", "SINTERCARD -1 a", "SINTERCARD x a", "SINTERCARD 3 a b",
    "SINTERCARD 2 a b LIMIT -1", "SINTERCARD 2 a b LIMIT x", "SINTERCARD 2 a b LIMIT", "SINTERCARD 2 a b FOO 1",
    "SINTERCARD 2 a b LIMIT 1 LIMIT 2", "SINTERCARD 1 a limit 2", "SINTERCARD", "SINTERCARD 1",
    "SINTERCARD 9999999999999999999 a", "SINTERSTORE d a b", "SMEMBERS d", "OBJECT ENCODING d",
    "SINTERSTORE d a nokey", "EXISTS d", "SINTERSTORE d a nokey", "SET d x", "SINTERSTORE d a b c", "SMEMBERS d",
    "TYPE d", "SET d x", "EXPIRE d 100", "SINTERSTORE d a", "TTL d", "SINTERSTORE a a b", "SMEMBERS a",
    // SUNION / SDIFF / STORE
    "SADD u1 1 2", "SADD u2 2 3", "SUNION u1 u2", "SUNION u1 nokey u2", "SUNION nokey", "SUNION", "SDIFF u1 u2",
    "SDIFF u2 u1", "SDIFF u1 u1", "SDIFF nokey u1", "SDIFF u1 nokey", "SDIFF u1 u2 u1", "SUNIONSTORE d2 u1 u2",
    "SMEMBERS d2", "SUNIONSTORE d2 nokey", "EXISTS d2", "SDIFFSTORE d3 u1 u2", "SMEMBERS d3", "SDIFFSTORE d3 u1 u1",
    "EXISTS d3", "SADD w1 1 2 3 4 5 6 7 8 9 10", "SADD w2 1", "SADD w3 2", "SDIFF w1 w2 w3", "SADD x1 1 2 z",
    "SADD x2 z", "SDIFF x1 x2", "SDIFFSTORE d4 x1 x2", "OBJECT ENCODING d4", "SADD y1 1 2 z", "SADD y2 z",
    "SADD y3 9", "SADD y4 8", "SDIFFSTORE d5 y1 y2 y3 y4", "SCARD d5", "OBJECT ENCODING d5", "SUNIONSTORE d6 u1 str",
    "SUNIONSTORE",
    // SSCAN
    "SSCAN nokey 0", "SSCAN nokey x", "SSCAN nokey 0 FOO", "SSCAN a 0", "SSCAN a 7 COUNT 1", "SSCAN a 0 MATCH 3*",
    "SSCAN a 0 MATCH [24]", "SSCAN a 0 COUNT 0", "SSCAN a 0 COUNT -1", "SSCAN a 0 COUNT x", "SSCAN a 0 MATCH",
    "SSCAN a 0 TYPE set", "SSCAN a 0 FOO bar", "SSCAN a x", "SSCAN one2 0", "SADD one2 m", "SSCAN one2 0",
    "SSCAN one2 0 MATCH m", "SSCAN one2 0 MATCH x",
    // encodings
    "CONFIG SET set-max-intset-entries 3", "SADD e 1 2 3", "OBJECT ENCODING e", "SADD e 4", "OBJECT ENCODING e",
    "SREM e 1 2 3", "OBJECT ENCODING e", "SADD e2 1 2 3 4", "OBJECT ENCODING e2", "SADD e3 a", "SREM e3 a",
    "SADD e3 1", "OBJECT ENCODING e3", "SADD e4 1 2 3", "SUNIONSTORE e5 e4 e", "OBJECT ENCODING e5",
    "SINTERSTORE e6 e4 e4", "OBJECT ENCODING e6", "CONFIG SET set-max-intset-entries 512", "SADD e7 1 x",
    "OBJECT ENCODING e7", "SREM e7 x", "OBJECT ENCODING e7",
    // mixed encodings with deterministic results
    "SADD mi 1 2 3", "SADD mh 3 z", "SINTER mi mh", "SINTER mh mi", "SINTERSTORE md mi mh", "SMEMBERS md",
    "OBJECT ENCODING md", "SDIFF mh mi", "SDIFF mi mh", "SDIFFSTORE md2 mi mh", "OBJECT ENCODING md2",
    "SINTERCARD 2 mi mh", "SMISMEMBER mh 3 z 1", "SMOVE mh mi z", "OBJECT ENCODING mi", "SISMEMBER mi z",
    "SMEMBERS mh", "SRANDMEMBER mh -2", "SPOP mh 1", "EXISTS mh",
];

/// RESP3 reply shapes: maps, sets, nulls and pairs.
#[rustfmt::skip]
const RESP3_CASES: &[&str] = &[
    "HELLO 3", "HSET h a 1 b 2", "HGETALL h", "HGETALL nokey", "HKEYS h", "HGET h nofield", "HRANDFIELD nokey",
    "HRANDFIELD h 5", "HRANDFIELD h 5 WITHVALUES", "HSET one f v", "HRANDFIELD one -2 WITHVALUES",
    "HRANDFIELD one 1 WITHVALUES", "HRANDFIELD nokey 3 WITHVALUES", "HSCAN h 0", "HMGET h a nofield",
    "HINCRBYFLOAT h a 1.5", "SADD s 2 1", "SMEMBERS s", "SMEMBERS nokey", "SINTER s", "SUNION s nokey",
    "SDIFF s nokey", "SPOP nokey", "SPOP nokey 2", "SPOP s 0", "SRANDMEMBER nokey", "SRANDMEMBER nokey 2",
    "SRANDMEMBER s 5", "SRANDMEMBER s 0", "SADD one1 x", "SRANDMEMBER one1 -2", "SRANDMEMBER one1 1",
    "SMISMEMBER s 1 9", "SSCAN s 0", "SPOP one1 1", "SADD one1 y", "SPOP one1",
];

#[test]
fn hashes_match_redis() {
    compare_with_redis(HASH_CASES, |_| true);
}

#[test]
fn sets_match_redis() {
    compare_with_redis(SET_CASES, |_| true);
}

#[test]
fn resp3_shapes_match_redis() {
    // HELLO's reply names the server and its version.
    compare_with_redis(RESP3_CASES, |line| !line.starts_with("HELLO"));
}

#[test]
fn enough_cases() {
    assert!(HASH_CASES.len() + SET_CASES.len() + RESP3_CASES.len() >= 150);
}
