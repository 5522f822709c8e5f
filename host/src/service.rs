//! The host's one entry point for operations: a fresh module instance, the
//! step loop, the store, the clock.

use std::sync::Arc;

use sessattr_core::config::Config;
use sessattr_core::protocol::Operation;

use crate::clock::Clock;
use crate::engine::Runtime;
use crate::retry::RetryLocks;
use crate::runner::{self, HostFailure, Outcome};
use crate::store::Store;

/// Everything needed to run operations. Cheap to share behind an `Arc`.
pub struct Service {
    runtime: Runtime,
    store: Arc<dyn Store>,
    config: Config,
    clock: Clock,
    locks: RetryLocks,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the keyring: never print it.
        f.debug_struct("Service")
            .field("runtime", &self.runtime)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service over a loaded module, a store, the effective configuration
    /// and the clock every operation reads `now` from.
    pub fn new(runtime: Runtime, store: Arc<dyn Store>, config: Config, clock: Clock) -> Self {
        Self {
            runtime,
            store,
            config,
            clock,
            locks: RetryLocks::new(),
        }
    }

    /// The clock operations read `now` from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The loaded module.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Runs one operation in a fresh instance. Blocking: call it from a
    /// blocking thread, never from the async runtime's workers.
    pub fn execute(&self, op: &Operation) -> Outcome {
        match self.runtime.instantiate() {
            Ok(mut instance) => {
                let ctx = runner::Context {
                    store: self.store.as_ref(),
                    config: &self.config,
                    clock: &self.clock,
                    locks: &self.locks,
                };
                runner::run(&mut instance, &ctx, op)
            }
            Err(err) => Outcome::fallback(HostFailure::Module(err.to_string()), 1),
        }
    }
}
