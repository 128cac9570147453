//! An engine with one client, driven without sockets, for unit tests of command
//! semantics and of what commands propagate.

use super::{Client, ClientHandle, Engine, Exec};
use crate::config::Config;
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// An engine plus the client that runs commands on it.
pub struct TestEngine {
    pub eng: Engine,
    pub client: Client,
}

impl Default for TestEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEngine {
    /// A fresh engine with default configuration and an authenticated RESP2 client.
    pub fn new() -> TestEngine {
        let mut eng = Engine::new(Config::default());
        eng.propagating = true;
        let handle = ClientHandle {
            kill: Arc::new(tokio::sync::Notify::new()),
            push: tokio::sync::mpsc::unbounded_channel().0,
            pending: Default::default(),
            unblocked: Default::default(),
        };
        let id = eng.next_client_id;
        eng.next_client_id += 1;
        let client = Client::new(id, "127.0.0.1:1".into(), "127.0.0.1:6379".into(), -1, true, handle);
        TestEngine { eng, client }
    }

    /// Runs a command given as space-separated words.
    pub fn run(&mut self, line: &str) -> Reply {
        let argv: Vec<Bytes> = line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        self.run_argv(&argv)
    }

    /// Runs a command given as arguments.
    pub fn run_argv(&mut self, argv: &[Bytes]) -> Reply {
        match self.eng.execute(&mut self.client, argv, &mut Instant::now()) {
            Exec::Reply(r) => r,
            Exec::Paused(_) => panic!("clients are paused"),
        }
    }

    /// The entries propagated since the last call, each as its commands joined by
    /// spaces (`["SET k v PXAT 123"]`, or `["MULTI", "...", "EXEC"]` for a unit).
    pub fn propagated(&mut self) -> Vec<Vec<String>> {
        self.eng
            .propagation_log
            .drain(..)
            .map(|unit| {
                unit.into_iter()
                    .map(|(_, argv)| {
                        argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
                    })
                    .collect()
            })
            .collect()
    }
}

/// The single entry propagated since the last call (panics when there is not
/// exactly one).
pub fn one(t: &mut TestEngine) -> Vec<String> {
    let p = t.propagated();
    assert_eq!(p.len(), 1, "expected one propagated entry, got {p:?}");
    p.into_iter().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_with_relative_expiry_becomes_pxat() {
        let mut t = TestEngine::new();
        t.run("SET k v EX 100 NX");
        let e = one(&mut t);
        let parts: Vec<&str> = e[0].split(' ').collect();
        assert_eq!(&parts[..4], &["SET", "k", "v", "PXAT"]);
        let when: i64 = parts[4].parse().unwrap();
        assert!((when - crate::util::now_ms() - 100_000).abs() < 2000);
    }

    #[test]
    fn setex_and_psetex_become_pxat() {
        let mut t = TestEngine::new();
        t.run("SETEX k 10 v");
        assert!(one(&mut t)[0].starts_with("SET k v PXAT "));
        t.run("PSETEX k 10000 v");
        assert!(one(&mut t)[0].starts_with("SET k v PXAT "));
    }

    #[test]
    fn set_get_drops_get_and_failed_set_propagates_nothing() {
        let mut t = TestEngine::new();
        t.run("SET k v GET");
        assert_eq!(one(&mut t), vec!["SET k v"]);
        t.run("SET k w NX");
        assert!(t.propagated().is_empty());
        t.run("GETSET k x");
        assert_eq!(one(&mut t), vec!["SET k x"]);
    }

    #[test]
    fn expire_family_becomes_pexpireat_or_del() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        t.propagated();
        t.run("EXPIRE k 100 NX");
        let e = one(&mut t);
        assert!(e[0].starts_with("PEXPIREAT k ") && e[0].ends_with(" NX"), "{e:?}");
        t.run("EXPIREAT k 1");
        assert_eq!(one(&mut t), vec!["DEL k"]);
        t.run("EXPIRE missing 10");
        assert!(t.propagated().is_empty());
    }

    #[test]
    fn getex_getdel_incrbyfloat_rewrites() {
        let mut t = TestEngine::new();
        t.run("SET k 1.5");
        t.propagated();
        t.run("GETEX k PX 5000");
        assert!(one(&mut t)[0].starts_with("PEXPIREAT k "));
        t.run("GETEX k PERSIST");
        assert_eq!(one(&mut t), vec!["PERSIST k"]);
        t.run("GETEX k PERSIST");
        assert!(t.propagated().is_empty());
        t.run("INCRBYFLOAT k 0.1");
        assert_eq!(one(&mut t), vec!["SET k 1.6 KEEPTTL"]);
        t.run("GETDEL k");
        assert_eq!(one(&mut t), vec!["DEL k"]);
    }

    #[test]
    fn lazy_expiry_propagates_del_before_the_command() {
        let mut t = TestEngine::new();
        t.run("SET k v PX 1");
        t.propagated();
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        while crate::util::now_ms() <= t.eng.dbs[0].get_expire(b"k").unwrap_or(0) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        t.run("SET k w NX");
        assert_eq!(one(&mut t), vec!["MULTI", "DEL k", "SET k w NX", "EXEC"]);
    }

    #[test]
    fn exec_is_one_unit() {
        let mut t = TestEngine::new();
        t.run("MULTI");
        t.run("SET a 1");
        t.run("INCR a");
        t.run("GET a");
        let r = t.run("EXEC");
        assert_eq!(r, Reply::Array(vec![Reply::ok(), Reply::Int(2), Reply::bulk(Bytes::from_static(b"2"))]));
        assert_eq!(one(&mut t), vec!["MULTI", "SET a 1", "INCR a", "EXEC"]);
    }

    #[test]
    fn no_op_writes_propagate_nothing() {
        let mut t = TestEngine::new();
        for cmd in ["DEL nokey", "PERSIST nokey", "EXPIRE nokey 10", "RENAMENX nokey x", "MSETNX"] {
            t.run(cmd);
        }
        assert!(t.propagated().is_empty());
    }
}
