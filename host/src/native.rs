//! BENCHMARK ONLY (feature `bench`): the core's step compiled into
//! the host, in place of the module, so that `cargo xtask bench` can
//! measure what running the rules through wasmtime costs. Production
//! builds never have it: the rules run in the module.

use crate::Error;
use crate::runner::Step;

/// Steps the core natively: the same JSON in and out as the module's
/// `sessattr_step`.
#[derive(Debug, Default)]
pub struct NativeCore;

impl Step for NativeCore {
    fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(sessattr_core::step_json(input))
    }
}
