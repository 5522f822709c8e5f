//! The host's one entry point for operations: a warm module instance, the
//! step loop, the store, the clock.

use std::sync::{Arc, RwLock};

use sessattr_core::config::{Config, KeyEntry};
use sessattr_core::protocol::Operation;

use crate::clock::Clock;
use crate::engine::Runtime;
use crate::keys::budget::NonceBudget;
use crate::retry::RetryLocks;
use crate::runner::{self, HostFailure, Outcome};
use crate::store::Store;

/// Everything needed to run operations. Cheap to share behind an `Arc`.
pub struct Service {
    runtime: Runtime,
    store: Arc<dyn Store>,
    /// Replaced whole when the keyring changes (a running server picks up
    /// the key file); each operation runs on the one it started with.
    config: RwLock<Arc<Config>>,
    clock: Clock,
    locks: RetryLocks,
    budget: NonceBudget,
    /// BENCHMARK ONLY: run the core natively on these instead of the module.
    #[cfg(feature = "bench")]
    native_cores: Option<crate::native::NativeCores>,
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
    /// and the clock every operation reads `now` from; every key may make
    /// `encryption_limit` encryptions ([`NonceBudget`]).
    pub fn new(
        runtime: Runtime,
        store: Arc<dyn Store>,
        config: Config,
        clock: Clock,
        encryption_limit: u64,
    ) -> Self {
        Self {
            runtime,
            store,
            config: RwLock::new(Arc::new(config)),
            clock,
            locks: RetryLocks::new(),
            budget: NonceBudget::new(encryption_limit),
            #[cfg(feature = "bench")]
            native_cores: None,
        }
    }

    /// Hands unspent reserved encryptions back to the store's counts; call
    /// it when no operation runs any more (clean shutdown, end of a command).
    pub fn release_budget(&self) {
        if let Err(err) = self.budget.release(self.store.as_ref()) {
            tracing::warn!(error = %err, "could not hand back reserved encryptions; the counts stay higher than what was made");
        }
    }

    /// Operations started from now on use `keys`.
    pub fn replace_keys(&self, keys: Vec<KeyEntry>) {
        let mut config = self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = Config::clone(&config);
        next.keys = keys;
        *config = Arc::new(next);
    }

    /// The clock operations read `now` from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The effective configuration.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(
            &self
                .config
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The id of the key that seals new values, if the keyring has one.
    pub fn primary_id(&self) -> Option<String> {
        self.config().primary_key().map(|k| k.id.clone())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The loaded module.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Runs one operation in a warm instance (a fresh one when none is
    /// idle). Blocking: call it from a blocking thread, never from the
    /// async runtime's workers.
    pub fn execute(&self, op: &Operation) -> Outcome {
        let config = self.config();
        let ctx = runner::Context {
            store: self.store.as_ref(),
            config: &config,
            clock: &self.clock,
            locks: &self.locks,
            budget: Some(&self.budget),
        };
        #[cfg(feature = "bench")]
        if let Some(cores) = &self.native_cores {
            return cores.run(&ctx, op);
        }
        match self.runtime.check_out() {
            Ok(mut instance) => {
                let outcome = runner::run(&mut instance, &ctx, op);
                if matches!(
                    outcome.failure,
                    Some(HostFailure::Module(_) | HostFailure::Rejected(_))
                ) {
                    instance.discard();
                }
                self.runtime.check_in(instance);
                outcome
            }
            Err(err) => Outcome::fallback(HostFailure::Module(err.to_string()), 1),
        }
    }

    /// BENCHMARK ONLY: run the core natively instead of the module, to
    /// measure what the module costs (`cargo xtask bench`).
    #[cfg(feature = "bench")]
    pub fn use_native_core(&mut self) {
        self.native_cores = Some(crate::native::NativeCores::default());
    }
}
