//! The module's per-call cost: the micro benchmark of the core's decision
//! (`core/benches/decide.rs`, the same cases) through wasmtime, as the host
//! runs it, against the same step loop running the core natively.
//!
//! Each iteration is one operation of the host's step loop
//! (`runner::run`): an instance from the warm pool (check-out, check-in),
//! the JSON step input copied in through the raw ABI, the step run, its
//! output copied out and parsed, the reads it asks for served from an
//! in-memory store. Writes are decided but not applied (a dry-run store),
//! so every iteration decides the same request from the same records, as
//! in the core's benchmark. Group `module/instance` times the acquisition
//! alone: a fresh instance against a warm one.
//!
//! `cargo xtask bench` runs it (criterion; feature `bench` for the
//! native rows); `cargo test --benches` makes one quick pass. To compare
//! two builds of the module, set `SESSATTR_BENCH_MODULE=FILE` (default:
//! the module built into the host).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../core/benches/cases/mod.rs"]
mod cases;
// The core tests' world: its configuration (one primary key, cheap argon2:
// only the set-up's logins hash passwords) is the one used here.
#[path = "../../core/tests/support/mod.rs"]
mod world;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use sessattr_core::config::Config;
use sessattr_core::protocol::{Operation, UserAdd, WriteSet};
use sessattr_host::clock::Clock;
use sessattr_host::engine::{GuestLimits, Runtime};
use sessattr_host::module_source::ModuleSource;
use sessattr_host::native::NativeCores;
use sessattr_host::retry::RetryLocks;
use sessattr_host::runner::{self, Context, Outcome};
use sessattr_host::store::{ApplyOutcome, MemoryStore, Store, StoreError, StoredRecord};

/// Reads from `inner`; decides writes but never applies them.
struct DryRun<'a>(&'a MemoryStore);

impl Store for DryRun<'_> {
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.0.get_many(keys)
    }
    fn scan_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.0.scan_keys(prefix, after, limit)
    }
    fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError> {
        self.0.scan_records(prefix)
    }
    fn apply(&self, _writes: &WriteSet) -> Result<ApplyOutcome, StoreError> {
        Ok(ApplyOutcome::Applied)
    }
    fn purge_expired(&self, _now: i64, _limit: usize) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// Everything an operation runs against, writes applied.
struct Bed {
    runtime: Runtime,
    store: MemoryStore,
    config: Config,
    clock: Clock,
    locks: RetryLocks,
    /// The native core, configured once like a warm instance.
    native: NativeCores,
}

impl Bed {
    fn new() -> Self {
        let source = match std::env::var_os("SESSATTR_BENCH_MODULE") {
            Some(path) => ModuleSource::from_file(path.as_ref()).expect("SESSATTR_BENCH_MODULE"),
            None => ModuleSource::builtin().expect("the built-in module"),
        };
        Self {
            runtime: Runtime::load(&source, GuestLimits::default()).expect("module"),
            store: MemoryStore::new(),
            config: world::World::new().config,
            clock: Clock::system(),
            locks: RetryLocks::new(),
            native: NativeCores::default(),
        }
    }

    /// Runs `op` through the module on `store`.
    fn run_on(&self, store: &dyn Store, op: &Operation) -> Outcome {
        let ctx = self.context(store);
        let mut instance = self.runtime.check_out().expect("instance");
        let outcome = runner::run(&mut instance, &ctx, op);
        self.runtime.check_in(instance);
        outcome
    }

    /// Runs `op` natively on `store`.
    fn run_native_on(&self, store: &dyn Store, op: &Operation) -> Outcome {
        self.native.run(&self.context(store), op)
    }

    fn context<'a>(&'a self, store: &'a dyn Store) -> Context<'a> {
        Context {
            store,
            config: &self.config,
            clock: &self.clock,
            locks: &self.locks,
            budget: None,
        }
    }

    /// Runs `op` for real; it must answer 200; answers its JSON body.
    fn ok(&self, op: &Operation) -> Value {
        let outcome = self.run_on(&self.store, op);
        assert_eq!(outcome.response.status, 200, "{}", outcome.response.body);
        serde_json::from_str(&outcome.response.body).unwrap_or(Value::Null)
    }

    fn login(&self, username: &str) -> String {
        let password = format!("{username}-Pa55word-Mc01");
        let add = Operation::UserAdd(UserAdd {
            username: username.into(),
            password: password.clone(),
            is_super_user: username == "admin",
        });
        self.ok(&add);
        let body = json!({"username": username, "password": password, "current_app": "CRM"});
        let answer = self.ok(&cases::http("POST", "/zato/sso/user/login", &body));
        answer["ust"].as_str().expect("ust").to_owned()
    }
}

fn operations(c: &mut Criterion) {
    for (verb, method) in cases::VERBS {
        let mut group = c.benchmark_group(format!("module/{verb}"));
        for count in cases::COUNTS {
            for (size_name, size) in cases::SIZES {
                for encrypt in [false, true] {
                    let bed = Bed::new();
                    let on = json!({
                        "current_ust": bed.login("admin"),
                        "target_ust": bed.login("alice"),
                        "current_app": "CRM",
                    });
                    if verb == "get" {
                        let create = cases::with(&on, cases::write_fields(count, size, encrypt));
                        bed.ok(&cases::attr_request("POST", &create));
                    }
                    let fields = cases::fields(verb, count, size, encrypt);
                    let op = cases::attr_request(method, &cases::with(&on, fields));
                    let dry = DryRun(&bed.store);
                    // Both answer 200 right before they are timed.
                    for outcome in [bed.run_on(&dry, &op), bed.run_native_on(&dry, &op)] {
                        assert_eq!(outcome.response.status, 200, "{}", outcome.response.body);
                    }
                    let id = cases::case_id(count, size_name, encrypt);
                    group.throughput(Throughput::Elements(count as u64));
                    group.bench_function(BenchmarkId::new("wasm", &id), |b| {
                        b.iter(|| black_box(bed.run_on(&dry, black_box(&op))))
                    });
                    group.bench_function(BenchmarkId::new("native", &id), |b| {
                        b.iter(|| black_box(bed.run_native_on(&dry, black_box(&op))))
                    });
                }
            }
        }
        group.finish();
    }
}

/// An instance for an operation: instantiated afresh, or from the pool.
fn acquisition(c: &mut Criterion) {
    let bed = Bed::new();
    let mut group = c.benchmark_group("module/instance");
    group.bench_function("fresh", |b| {
        b.iter(|| black_box(bed.runtime.instantiate().expect("instance")))
    });
    group.bench_function("warm", |b| {
        b.iter(|| {
            let instance = bed.runtime.check_out().expect("instance");
            bed.runtime.check_in(black_box(instance));
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = cases::criterion();
    targets = operations, acquisition
}
criterion_main!(benches);
