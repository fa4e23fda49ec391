//! Any input that sniffs as a network clearing file (Mastercard IPM, Visa Base II) goes
//! through the whole report parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payscope_core::ingest::detect::Format;

fuzz_target!(|data: &[u8]| {
    payscope_fuzz::check(data, Format::Ipm);
    payscope_fuzz::check(data, Format::Base2);
});
