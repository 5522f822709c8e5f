//! Fuzz target `record_decoder`: [`sessattr_fuzz::checks::record_decoder`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sessattr_fuzz::checks::record_decoder(data));
