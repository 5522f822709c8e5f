//! Fuzz target `abi_step_structured`: [`sessattr_fuzz::checks::abi_step_structured`] on every input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sessattr_fuzz::checks::abi_step_structured(data));
