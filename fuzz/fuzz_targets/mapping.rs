//! A header and sample rows through the column mapper, for every stage.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payscope_fuzz::check_mapping(data));
