//! Property test: random datasets written with `RdbWriter` and read back with
//! `load` come back equal (same keys, values, encodings' contents and deadlines),
//! with compression and checksums on and off.

use super::{load, Item, RdbWriter};
use crate::db::hash::HashValue;
use crate::db::keyspace::value_digest;
use crate::db::list::{End, ListValue};
use crate::db::set::SetValue;
use crate::db::zset::{Limits as ZLimits, ZSetValue};
use crate::db::Value;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random_bytes(rng: &mut SmallRng) -> Vec<u8> {
    match rng.gen_range(0..6) {
        // Integers of every width, canonical or not.
        0 => rng.gen_range(-70000i64..70000).to_string().into_bytes(),
        1 => rng.gen::<i64>().to_string().into_bytes(),
        2 => format!("0{}", rng.gen_range(0..100)).into_bytes(),
        // Short, long (LZF candidates) and binary strings.
        3 => (0..rng.gen_range(0..30)).map(|_| rng.gen_range(b'a'..=b'z')).collect(),
        4 => "abc".repeat(rng.gen_range(7..200)).into_bytes(),
        _ => (0..rng.gen_range(0..80)).map(|_| rng.gen()).collect(),
    }
}

fn random_value(rng: &mut SmallRng) -> Value {
    // Sizes on both sides of the listpack / intset thresholds.
    let n = if rng.gen_bool(0.2) { rng.gen_range(100..700) } else { rng.gen_range(1..20) };
    match rng.gen_range(0..5) {
        0 => Value::string(&random_bytes(rng)),
        1 => {
            let mut l = ListValue::default();
            for _ in 0..n {
                l.push(End::Right, &random_bytes(rng));
            }
            Value::list(l)
        }
        2 => {
            let mut h = HashValue::default();
            for _ in 0..n {
                h.set(&random_bytes(rng), &random_bytes(rng), 512, 64);
            }
            Value::hash(h)
        }
        3 => {
            let mut s = SetValue::default();
            let ints = rng.gen_bool(0.5);
            for _ in 0..n {
                let m =
                    if ints { rng.gen_range(-100000i64..100000).to_string().into_bytes() } else { random_bytes(rng) };
                s.add(&m, 512);
            }
            Value::set(s)
        }
        _ => {
            let mut z = ZSetValue::default();
            for _ in 0..n {
                let score = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-1000i64..1000) as f64,
                    1 => rng.gen::<f64>() * 1e6,
                    2 => f64::INFINITY * if rng.gen() { 1.0 } else { -1.0 },
                    _ => rng.gen_range(-1e300..1e300),
                };
                z.set(&random_bytes(rng), score, ZLimits { entries: 128, value: 64 });
            }
            Value::zset(z)
        }
    }
}

/// A generated key: name, value, deadline.
type Key = (Vec<u8>, Value, Option<i64>);

fn digest(v: &Value, expire: Option<i64>) -> [u8; 20] {
    let mut d = [0u8; 20];
    value_digest(&mut d, v, expire);
    d
}

#[test]
fn random_datasets_round_trip() {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for round in 0..60 {
        let (compression, checksum) = (round % 2 == 0, round % 3 != 0);
        let mut dbs: Vec<(u32, Vec<Key>)> = Vec::new();
        for db in [0u32, 1, 7, 15] {
            if rng.gen_bool(0.3) {
                continue;
            }
            let mut keys = std::collections::BTreeMap::new();
            for i in 0..rng.gen_range(1..40) {
                let key = format!("k{i}:{}", rng.gen::<u16>()).into_bytes();
                let expire = rng.gen_bool(0.3).then(|| rng.gen_range(1i64..1i64 << 45));
                keys.insert(key, (random_value(&mut rng), expire));
            }
            dbs.push((db, keys.into_iter().map(|(k, (v, e))| (k, v, e)).collect()));
        }
        let mut w = RdbWriter::new(Vec::new(), compression, checksum);
        w.header().unwrap();
        w.aux(b"redis-ver", b"7.0.15").unwrap();
        for (db, entries) in &dbs {
            w.select_db(*db, entries.len() as u64, 0).unwrap();
            for (k, v, e) in entries {
                w.entry(k, v, *e).unwrap();
            }
        }
        let bytes = w.finish().unwrap();
        let mut read: Vec<(u64, Vec<u8>, [u8; 20])> = Vec::new();
        load(&bytes[..], &mut |item| {
            if let Item::Entry { db, key, value, expire_ms, .. } = item {
                read.push((db, key, digest(&value, expire_ms)));
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let want: Vec<(u64, Vec<u8>, [u8; 20])> = dbs
            .iter()
            .flat_map(|(db, entries)| entries.iter().map(move |(k, v, e)| (*db as u64, k.clone(), digest(v, *e))))
            .collect();
        assert_eq!(read, want, "round {round} (compression {compression}, checksum {checksum})");
    }
}
