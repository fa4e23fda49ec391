//! Any bytes through a preview (section finder, mapper with overrides, planner), with mapping
//! overrides taken from the first line when it is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payscope_fuzz::check_preview(data));
