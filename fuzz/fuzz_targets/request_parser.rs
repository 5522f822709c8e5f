//! Fuzz target `request_parser`: [`sessattr_fuzz::checks::request_parser`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sessattr_fuzz::checks::request_parser(data));
