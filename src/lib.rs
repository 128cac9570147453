//! moonkv: a Redis-compatible server whose speciality is replicating Lua scripts correctly.
//!
//! Module map (each module's own `//!` says what it owns and what it must not touch):
//! * `util`      – glob matching, Redis number parsing/formatting, clocks.
//! * `protocol`  – RESP2/RESP3 reply values, request decoder (multibulk + inline), encoder.
//! * `db`        – values, the incremental-rehash dictionary, keyspace with expires.
//! * `commands`  – the one command table, typed argument cursor, error type, and one
//!   file per command family with its table rows next to its handlers.
//! * `engine`    – the `Engine` behind the one lock: dbs, clients, stats, the gate,
//!   dispatch of a batch of commands.
//! * `config`    – the settings table, redis.conf parser, CONFIG GET/SET/REWRITE.
//! * `scripting` – the Lua VM and sandbox, the redis.* API, conversions, the script
//!   cache, determinism, the busy-script state.
//! * `rdb`       – the RDB format: reader, writer, LZF, CRC64, DUMP payloads.
//! * `server`    – listener, connection tasks, timers (active expiry, client timeouts).

/// The Redis version moonkv reports (INFO `redis_version`, HELLO `version`): the
/// Redis release whose behaviour it implements, so clients enable the same features.
pub const REDIS_VERSION: &str = "7.0.15";

pub mod commands;
pub mod config;
pub mod db;
pub mod engine;
pub mod protocol;
pub mod rdb;
pub mod repl;
pub mod scripting;
pub mod server;
pub mod util;
