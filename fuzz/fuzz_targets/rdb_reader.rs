//! Any byte string given to the RDB reader yields values or an error, never a panic,
//! a hang or an allocation the input cannot justify.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut keys = 0u64;
    let _ = moonkv::rdb::load(data, &mut |item| {
        if let moonkv::rdb::Item::Entry { .. } = item {
            keys += 1;
        }
        Ok(())
    });
});
