//! BENCHMARK ONLY (feature `bench`): the core's step compiled into
//! the host, in place of the module, so that `cargo xtask bench` can
//! measure what running the rules through wasmtime costs. Production
//! builds never have it: the rules run in the module.

use std::sync::Mutex;

use sessattr_core::Prepared;
use sessattr_core::config::Config;
use sessattr_core::protocol::Operation;

use crate::Error;
use crate::runner::{self, Context, Outcome, Step};

/// Steps the core natively: the same JSON in and out as the module's
/// `sessattr_step`, configured once like an instance of it.
#[derive(Debug, Default)]
pub struct NativeCore {
    configured: Option<Prepared>,
}

impl Step for NativeCore {
    fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(sessattr_core::step_json_with(
            input,
            self.configured.as_ref(),
        ))
    }

    fn configure(&mut self, config: &Config) -> Result<bool, Error> {
        if self.configured.as_ref().map(Prepared::config) != Some(config) {
            let prepared = Prepared::new(config.clone()).map_err(|why| {
                Error::Guest(format!("the core refused the configuration: {why}"))
            })?;
            self.configured = Some(prepared);
        }
        Ok(true)
    }
}

/// Native cores kept configured from operation to operation, like the
/// module's warm instances, so that the baseline does not pay for a
/// configuration the module does not pay for either.
#[derive(Debug, Default)]
pub struct NativeCores(Mutex<Vec<NativeCore>>);

impl NativeCores {
    /// Runs `op` on an idle core (a new one when none is idle).
    pub fn run(&self, ctx: &Context<'_>, op: &Operation) -> Outcome {
        let mut core = self.idle().pop().unwrap_or_default();
        let outcome = runner::run(&mut core, ctx, op);
        self.idle().push(core);
        outcome
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<NativeCore>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
