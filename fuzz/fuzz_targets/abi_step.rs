//! Fuzz target `abi_step`: [`sessattr_fuzz::checks::abi_step`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sessattr_fuzz::checks::abi_step(data));
