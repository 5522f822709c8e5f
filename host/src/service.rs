//! The host's one entry point for operations: a fresh module instance, the
//! step loop, the store.

use std::sync::Arc;

use sessattr_core::config::Config;
use sessattr_core::protocol::Operation;

use crate::engine::Runtime;
use crate::runner::{self, HostFailure, Outcome};
use crate::store::Store;

/// Everything needed to run operations. Cheap to share behind an `Arc`.
pub struct Service {
    runtime: Runtime,
    store: Arc<dyn Store>,
    config: Config,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the keyring: never print it.
        f.debug_struct("Service")
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service over a loaded module, a store and the effective configuration.
    pub fn new(runtime: Runtime, store: Arc<dyn Store>, config: Config) -> Self {
        Self {
            runtime,
            store,
            config,
        }
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
            Ok(mut instance) => runner::run(&mut instance, self.store.as_ref(), &self.config, op),
            Err(err) => Outcome::fallback(HostFailure::Module(err.to_string()), 1),
        }
    }
}
