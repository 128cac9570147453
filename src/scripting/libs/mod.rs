//! The C libraries Redis embeds in its Lua environment, written in Rust.

pub mod bitop;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;
