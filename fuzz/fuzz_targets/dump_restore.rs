//! RESTORE payloads: any bytes are refused cleanly or give a value whose DUMP
//! restores to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moonkv::rdb::{dump, restore, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(value) = restore(data, &limits) {
        let again = restore(&dump(&value), &limits).expect("a dumped value restores");
        assert_eq!(value.type_name(), again.type_name());
    }
});
