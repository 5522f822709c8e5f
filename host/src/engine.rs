//! The module in wasmtime: one engine, the module compiled once, an
//! `InstancePre`, and a pool of warm instances (each in its own `Store`):
//! an operation checks one out, or instantiates a fresh one when none is
//! idle, and checks it back in when it is done. An instance that trapped,
//! grew its memory past [`KEEP_MEMORY_BYTES`] or served [`MAX_USES`]
//! operations is dropped instead, so a fault or a huge request never
//! lingers.
//!
//! Follows wasmtime's `fast_instantiation` example: the pooling allocator
//! (with an on-demand fallback where the pool cannot be reserved), epoch
//! interruption driven by a background thread, and per-store limits. The
//! module's imports (wasm-bindgen's JavaScript glue) are defined as traps: the
//! host ABI never calls them.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap,
    TypedFunc,
};

use crate::Error;
use crate::error::one_line;
use crate::module_source::ModuleSource;
use crate::runner::Step;

/// How often the epoch advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The export that tells the ABI version (`docs/abi.md`).
pub const EXPORT_ABI_VERSION: &str = "sessattr_abi_version";
/// Allocates a guest buffer.
pub const EXPORT_ALLOC: &str = "sessattr_alloc";
/// Frees a guest buffer.
pub const EXPORT_FREE: &str = "sessattr_free";
/// Runs one step.
pub const EXPORT_STEP: &str = "sessattr_step";
/// Sets the configuration of the steps that follow.
pub const EXPORT_CONFIGURE: &str = "sessattr_configure";
/// The guest's memory.
pub const EXPORT_MEMORY: &str = "memory";

/// An instance whose linear memory grew past this is not kept warm (its
/// memory goes back to the system when it is dropped).
pub const KEEP_MEMORY_BYTES: usize = 32 << 20;
/// Operations one instance serves before it is replaced by a fresh one
/// (bounds the guest allocator's fragmentation).
pub const MAX_USES: u32 = 10_000;

/// Resource limits of one operation's instance: the settings
/// `guest.memory_mib` and `guest.time_limit_ms` (defaults here), and the
/// pool's size.
#[derive(Debug, Clone, Copy)]
pub struct GuestLimits {
    /// Largest linear memory of an instance, in bytes.
    pub memory_bytes: usize,
    /// Longest run of one step of the guest before it is interrupted (the
    /// host's waits on the store between steps do not count).
    pub time_limit: Duration,
    /// Most instances alive at once (the pool's size).
    pub max_instances: u32,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            time_limit: Duration::from_secs(10),
            max_instances: 64,
        }
    }
}

/// Per-store host state.
struct GuestState {
    limits: StoreLimits,
    /// Set when the guest asked for more memory than the limit allows (its
    /// `memory.grow` then fails; a Rust guest aborts), so that the failure
    /// it leads to is reported as the memory limit.
    memory_denied: bool,
}

impl GuestState {
    fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            memory_denied: false,
        }
    }
}

/// [`StoreLimits`], remembering a denied memory growth.
impl ResourceLimiter for GuestState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.memory_denied |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The loaded, checked module, ready to instantiate.
pub struct Runtime {
    engine: Engine,
    pre: InstancePre<GuestState>,
    /// Idle instances, most recently used last.
    warm: Mutex<Vec<Instance>>,
    limits: GuestLimits,
    pooling: bool,
    label: String,
    sha256: String,
    size: usize,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("module", &self.label)
            .field("sha256", &self.sha256)
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Compiles and checks the module: WebAssembly, ABI version
    /// [`sessattr_core::ABI_VERSION`], and the required exports.
    pub fn load(source: &ModuleSource, limits: GuestLimits) -> Result<Self, Error> {
        let module_label = source.label().to_owned();
        if !source.bytes().starts_with(b"\0asm") {
            return Err(Error::NotWasm {
                module: module_label,
            });
        }
        let (engine, pooling) = new_engine(&limits)?;
        let module = Module::new(&engine, source.bytes()).map_err(|err| Error::ModuleCompile {
            module: module_label.clone(),
            reason: one_line(&format!("{err:#}")),
        })?;
        check_export_kinds(&module, &module_label)?;

        let mut linker: Linker<GuestState> = Linker::new(&engine);
        let start_error = |err: wasmtime::Error| Error::ModuleStart {
            module: module_label.clone(),
            reason: one_line(&format!("{err:#}")),
        };
        linker
            .define_unknown_imports_as_traps(&module)
            .map_err(start_error)?;
        let pre = linker.instantiate_pre(&module).map_err(start_error)?;
        start_epoch_ticker(&engine)?;

        let runtime = Self {
            engine,
            pre,
            warm: Mutex::new(Vec::new()),
            limits,
            pooling,
            label: module_label,
            sha256: source.sha256_hex(),
            size: source.bytes().len(),
        };
        runtime.probe()?;
        Ok(runtime)
    }

    /// Where the module came from.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// SHA-256 of the module bytes (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size of the module in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether instances come from the pooling allocator.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// The limits instances run under.
    pub fn limits(&self) -> GuestLimits {
        self.limits
    }

    /// An instance for one operation: a warm one when one is idle, a fresh
    /// one otherwise. Hand it back with [`Runtime::check_in`].
    pub fn check_out(&self) -> Result<Instance, Error> {
        match self.idle().pop() {
            Some(instance) => Ok(instance),
            None => self.instantiate(),
        }
    }

    /// Keeps `instance` warm for the next operation, unless it trapped,
    /// grew past [`KEEP_MEMORY_BYTES`], served [`MAX_USES`] operations, or
    /// the pool already holds `max_instances` idle ones.
    pub fn check_in(&self, mut instance: Instance) {
        instance.uses = instance.uses.saturating_add(1);
        let keep = !instance.poisoned
            && instance.uses < MAX_USES
            && instance.memory.data_size(&instance.store) <= KEEP_MEMORY_BYTES;
        let mut idle = self.idle();
        if keep && idle.len() < self.limits.max_instances as usize {
            idle.push(instance);
        }
    }

    /// How many instances are idle and warm now.
    pub fn idle_instances(&self) -> usize {
        self.idle().len()
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // The list stays consistent whatever a panicking holder did.
        self.warm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh instance for one operation.
    pub fn instantiate(&self) -> Result<Instance, Error> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(1)
            .build();
        let mut store = Store::new(&self.engine, GuestState::new(limits));
        store.limiter(|state| state);
        let ticks = self.limits.time_limit.as_millis() / EPOCH_TICK.as_millis().max(1);
        let step_ticks = u64::try_from(ticks).unwrap_or(u64::MAX).max(1);
        store.set_epoch_deadline(step_ticks);
        store.epoch_deadline_trap();
        let instance = self.pre.instantiate(&mut store).map_err(guest_error)?;
        let missing = |export: &'static str| Error::MissingExport {
            module: self.label.clone(),
            export,
        };
        let memory = instance
            .get_memory(&mut store, EXPORT_MEMORY)
            .ok_or_else(|| missing(EXPORT_MEMORY))?;
        let abi_version = instance
            .get_typed_func::<(), i32>(&mut store, EXPORT_ABI_VERSION)
            .map_err(|_| missing(EXPORT_ABI_VERSION))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, EXPORT_ALLOC)
            .map_err(|_| missing(EXPORT_ALLOC))?;
        let free = instance
            .get_typed_func::<(i32, i32), ()>(&mut store, EXPORT_FREE)
            .map_err(|_| missing(EXPORT_FREE))?;
        let step = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, EXPORT_STEP)
            .map_err(|_| missing(EXPORT_STEP))?;
        let configure = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, EXPORT_CONFIGURE)
            .map_err(|_| missing(EXPORT_CONFIGURE))?;
        Ok(Instance {
            store,
            memory,
            abi_version,
            alloc,
            free,
            step,
            configure,
            configured: None,
            step_ticks,
            limits: self.limits,
            uses: 0,
            poisoned: false,
        })
    }

    /// Instantiates once and checks the ABI version and the exports' types.
    fn probe(&self) -> Result<(), Error> {
        // The version first: a module of another ABI may lack our exports.
        let mut store = Store::new(
            &self.engine,
            GuestState::new(
                StoreLimitsBuilder::new()
                    .memory_size(self.limits.memory_bytes)
                    .build(),
            ),
        );
        store.limiter(|state| state);
        store.set_epoch_deadline(1_000);
        store.epoch_deadline_trap();
        let start_error = |err: wasmtime::Error| Error::ModuleStart {
            module: self.label.clone(),
            reason: one_line(&format!("{err:#}")),
        };
        let instance = self.pre.instantiate(&mut store).map_err(start_error)?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, EXPORT_ABI_VERSION)
            .map_err(|_| Error::MissingExport {
                module: self.label.clone(),
                export: EXPORT_ABI_VERSION,
            })?
            .call(&mut store, ())
            .map_err(start_error)?;
        if u32::try_from(version).ok() != Some(sessattr_core::ABI_VERSION) {
            return Err(Error::AbiMismatch {
                module: self.label.clone(),
                found: i64::from(version),
                expected: sessattr_core::ABI_VERSION,
            });
        }
        drop(store);
        let mut instance = self.instantiate()?;
        instance.check_version()
    }
}

/// Checks that the module exports the version function. The other exports
/// are checked after the version (a module of another ABI may lack them), by
/// [`Runtime::probe`].
fn check_export_kinds(module: &Module, label: &str) -> Result<(), Error> {
    match module.get_export(EXPORT_ABI_VERSION) {
        Some(ExternType::Func(_)) => Ok(()),
        _ => Err(Error::MissingExport {
            module: label.to_owned(),
            export: EXPORT_ABI_VERSION,
        }),
    }
}

/// The engine, with the pooling allocator when the pool can be reserved.
fn new_engine(limits: &GuestLimits) -> Result<(Engine, bool), Error> {
    let mut pool = PoolingAllocationConfig::new();
    let instances = limits.max_instances.max(1);
    // GC heaps (the wasm-bindgen module uses externref, hence `gc`) take
    // their slots from the memory pool: one linear memory and one GC heap
    // per instance.
    pool.total_core_instances(instances)
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_module(4)
        .total_gc_heaps(instances)
        .max_memory_size(limits.memory_bytes);
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, true)),
        Err(pool_err) => {
            tracing::warn!(reason = %one_line(&format!("{pool_err:#}")), "pooling allocator unavailable; instances are allocated on demand");
            Engine::new(&base_config())
                .map(|engine| (engine, false))
                .map_err(|err| Error::Engine(one_line(&format!("{err:#}"))))
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    // BENCHMARK ONLY: let `perf` name the guest's functions.
    #[cfg(feature = "bench")]
    if std::env::var_os("SESSATTR_BENCH_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped. The epoch follows the clock, not the count of wake-ups: a
/// sleep overslept (a busy machine wakes the thread late, measured 10–15 %
/// late on 2 shared CPUs) is made up with extra ticks, so that a time limit
/// of N ms interrupts after N ms, not after N ms plus the lateness of N/10
/// wake-ups.
fn start_epoch_ticker(engine: &Engine) -> Result<(), Error> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("sessattr-epoch".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let mut ticks: u128 = 0;
            loop {
                thread::sleep(EPOCH_TICK);
                let Some(engine) = weak.upgrade() else { break };
                let due = started.elapsed().as_nanos() / EPOCH_TICK.as_nanos().max(1);
                while ticks < due {
                    engine.increment_epoch();
                    ticks += 1;
                }
            }
        })
        .map(drop)
        .map_err(|err| Error::Engine(format!("cannot start the epoch thread: {err}")))
}

fn guest_error(err: wasmtime::Error) -> Error {
    Error::Guest(one_line(&format!("{err:#}")))
}

/// One instance of the module in its own store; serves every step of one
/// operation at a time, and operation after operation while it stays
/// healthy ([`Runtime::check_in`]).
pub struct Instance {
    store: Store<GuestState>,
    memory: Memory,
    abi_version: TypedFunc<(), i32>,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    step: TypedFunc<(i32, i32), i64>,
    configure: TypedFunc<(i32, i32), i64>,
    /// The configuration the guest was given by `sessattr_configure`.
    configured: Option<sessattr_core::config::Config>,
    /// Epoch ticks each step may run: the time limit counts the guest's
    /// own work only, not the host's waits on the store between steps.
    step_ticks: u64,
    /// The limits it runs under (for the failure messages).
    limits: GuestLimits,
    /// Operations served so far.
    uses: u32,
    /// Set when a call into the guest failed: its state is unknown, so it
    /// is never reused.
    poisoned: bool,
}

impl Instance {
    /// Marks the instance as unfit for another operation (its guest
    /// answered something the host could not use).
    pub fn discard(&mut self) {
        self.poisoned = true;
    }
}

impl Instance {
    fn check_version(&mut self) -> Result<(), Error> {
        let version = self
            .abi_version
            .call(&mut self.store, ())
            .map_err(guest_error)?;
        if u32::try_from(version).ok() == Some(sessattr_core::ABI_VERSION) {
            Ok(())
        } else {
            Err(Error::Guest(format!(
                "module changed its ABI version to {version}"
            )))
        }
    }

    /// Copies `input` into a guest buffer, runs `export` (`sessattr_step`
    /// or `sessattr_configure`) on it, and copies the output back (freeing
    /// the guest's buffer).
    fn call_with_buffer(&mut self, export: BufferExport, input: &[u8]) -> Result<Vec<u8>, Error> {
        let len = i32::try_from(input.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::Guest(format!(
                    "step input of {} bytes cannot be passed",
                    input.len()
                ))
            })?;
        let ptr = self.alloc.call(&mut self.store, len).map_err(guest_error)?;
        if ptr == 0 {
            return Err(Error::Guest(
                "the module could not allocate the step input".into(),
            ));
        }
        self.memory
            .write(&mut self.store, ptr as u32 as usize, input)
            .map_err(|err| Error::Guest(format!("step input buffer out of bounds: {err}")))?;
        let export = match export {
            BufferExport::Step => &self.step,
            BufferExport::Configure => &self.configure,
        };
        let packed = match export.call(&mut self.store, (ptr, len)) {
            Ok(packed) => packed as u64,
            Err(err) => return Err(self.call_error(err)),
        };
        let out_ptr = (packed >> 32) as u32;
        let out_len = (packed & 0xffff_ffff) as u32;
        let mut output = vec![0u8; out_len as usize];
        self.memory
            .read(&self.store, out_ptr as usize, &mut output)
            .map_err(|err| Error::Guest(format!("step output buffer out of bounds: {err}")))?;
        self.free
            .call(&mut self.store, (out_ptr as i32, out_len as i32))
            .map_err(guest_error)?;
        Ok(output)
    }

    /// Why a call into the guest failed, its limit first when one was
    /// reached (a long wasm backtrace would push the cause out of a
    /// truncated log line). Never the input: only the trap and where.
    fn call_error(&self, err: wasmtime::Error) -> Error {
        if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return Error::Guest(format!(
                "time limit of {} ms reached (the step was interrupted)",
                self.limits.time_limit.as_millis()
            ));
        }
        if self.store.data().memory_denied {
            // The trap it led to, without the backtrace.
            return Error::Guest(format!(
                "memory limit of {} MiB reached ({})",
                self.limits.memory_bytes >> 20,
                one_line(&err.root_cause().to_string())
            ));
        }
        guest_error(err)
    }

    /// Runs `export` on `input` under a fresh deadline; a failure poisons
    /// the instance.
    fn call_guarded(&mut self, export: BufferExport, input: &[u8]) -> Result<Vec<u8>, Error> {
        // A fresh deadline per call: a slow store between two steps (Redis
        // timing out, a lost race's back-off) is not the guest's time.
        self.store.set_epoch_deadline(self.step_ticks);
        self.store.data_mut().memory_denied = false;
        let output = self.call_with_buffer(export, input);
        if output.is_err() {
            self.poisoned = true;
        }
        output
    }
}

/// The exports that take an input buffer and answer an output buffer.
#[derive(Debug, Clone, Copy)]
enum BufferExport {
    Step,
    Configure,
}

/// The guest's answer to `sessattr_configure`.
#[derive(serde::Deserialize)]
struct ConfigureAnswer {
    #[serde(default)]
    configured: bool,
    #[serde(default)]
    rejected: Option<String>,
}

impl Step for Instance {
    fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.call_guarded(BufferExport::Step, input)
    }

    /// Configures the guest once, and again only when `config` changed (a
    /// reloaded key file): steps then carry no configuration.
    fn configure(&mut self, config: &sessattr_core::config::Config) -> Result<bool, Error> {
        if self.configured.as_ref() == Some(config) {
            return Ok(true);
        }
        self.configured = None;
        let input = serde_json::to_vec(config)
            .map_err(|err| Error::Guest(format!("cannot encode the configuration: {err}")))?;
        let answer = self.call_guarded(BufferExport::Configure, &input)?;
        match serde_json::from_slice::<ConfigureAnswer>(&answer) {
            Ok(ConfigureAnswer {
                configured: true, ..
            }) => {
                self.configured = Some(config.clone());
                Ok(true)
            }
            Ok(ConfigureAnswer {
                rejected: Some(why),
                ..
            }) => Err(Error::Guest(format!(
                "the module refused the configuration: {}",
                one_line(&why)
            ))),
            _ => {
                self.poisoned = true;
                Err(Error::Guest(
                    "the module's answer to configure is not valid".into(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module speaking ABI `version` whose step always answers `answer`
    /// (bump allocator, free does nothing).
    /// The ABI version this host speaks, as the guest returns it.
    const ABI: i32 = sessattr_core::ABI_VERSION as i32;

    /// `text` as a WAT data string's escaped bytes.
    fn wat_bytes(text: &str) -> String {
        text.bytes().map(|b| format!("\\{b:02x}")).collect()
    }

    /// The fake modules' answer to `sessattr_configure`.
    const CONFIGURED: &str = r#"{"configured":true}"#;

    fn fake_module(version: i32, answer: &str, step_body: &str) -> Vec<u8> {
        let escaped = wat_bytes(answer);
        let text = format!(
            r#"(module
                (import "wbg" "__wbg_random_1234" (func $js (param i32)))
                (memory (export "memory") 1)
                (global $next (mut i32) (i32.const 1024))
                (data (i32.const 16) "{escaped}")
                (func (export "sessattr_abi_version") (result i32) i32.const {version})
                (func (export "sessattr_alloc") (param $len i32) (result i32)
                    (local $ptr i32)
                    global.get $next
                    local.set $ptr
                    global.get $next
                    local.get $len
                    i32.add
                    global.set $next
                    local.get $ptr)
                (func (export "sessattr_free") (param i32 i32))
                (func (export "sessattr_step") (param $ptr i32) (param $len i32) (result i64)
                    {step_body}
                    i64.const {packed})
                (data (i32.const 768) "{configured_escaped}")
                (func (export "sessattr_configure") (param i32 i32) (result i64)
                    i64.const {configured})
            )"#,
            packed = (16i64 << 32) | answer.len() as i64,
            configured = (768i64 << 32) | CONFIGURED.len() as i64,
            configured_escaped = wat_bytes(CONFIGURED),
        );
        wat::parse_str(text).expect("valid wat")
    }

    fn load(bytes: Vec<u8>) -> Result<Runtime, Error> {
        Runtime::load(
            &ModuleSource::from_bytes(bytes, "/x/y.wasm"),
            GuestLimits::default(),
        )
    }

    #[test]
    fn refuses_text() {
        let err = load(b"hello, world\n".to_vec())
            .expect_err("not wasm")
            .to_string();
        assert_eq!(err, "module /x/y.wasm is not a WebAssembly module");
    }

    #[test]
    fn refuses_broken_wasm_on_one_line() {
        let mut bytes = fake_module(ABI, "{}", "");
        bytes.truncate(bytes.len() - 5);
        let err = load(bytes).expect_err("broken").to_string();
        assert!(
            err.starts_with("module /x/y.wasm cannot be compiled: "),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn refuses_another_abi_version() {
        let other = ABI + 1;
        let bytes = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1)
                (func (export "sessattr_abi_version") (result i32) i32.const {other}))"#
        ))
        .expect("wat");
        let err = load(bytes).expect_err("another abi").to_string();
        assert_eq!(
            err,
            format!("module /x/y.wasm speaks ABI {other}, this host speaks {ABI}")
        );
    }

    #[test]
    fn refuses_missing_exports() {
        let bytes = wat::parse_str(r#"(module (memory (export "memory") 1))"#).expect("wat");
        let err = load(bytes).expect_err("no version").to_string();
        assert!(err.contains("`sessattr_abi_version` is missing"), "{err}");

        let bytes = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1)
                (func (export "sessattr_abi_version") (result i32) i32.const {ABI}))"#
        ))
        .expect("wat");
        let err = load(bytes).expect_err("no step").to_string();
        assert!(err.contains("is not a sessattr module"), "{err}");
    }

    #[test]
    fn runs_steps_through_guest_memory() {
        let answer = r#"{"rejected":"not built yet"}"#;
        let runtime = load(fake_module(ABI, answer, "")).expect("loads");
        assert_eq!(runtime.sha256().len(), 64);
        let mut instance = runtime.instantiate().expect("instance");
        for _ in 0..3 {
            let out = instance.step(br#"{"some":"input"}"#).expect("step");
            assert_eq!(out, answer.as_bytes());
        }
    }

    #[test]
    fn a_trap_is_an_error_not_a_crash() {
        let runtime = load(fake_module(ABI, "{}", "unreachable")).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        let err = instance.step(b"{}").expect_err("traps").to_string();
        assert!(err.starts_with("module call failed"), "{err}");
    }

    #[test]
    fn calling_a_js_import_traps() {
        let runtime = load(fake_module(ABI, "{}", "i32.const 0\ncall $js")).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        assert!(instance.step(b"{}").is_err());
    }

    #[test]
    fn an_endless_loop_is_interrupted() {
        let limits = GuestLimits {
            time_limit: Duration::from_millis(100),
            ..GuestLimits::default()
        };
        let source = ModuleSource::from_bytes(fake_module(ABI, "{}", "(loop $l (br $l))"), "loop");
        let runtime = Runtime::load(&source, limits).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        let started = std::time::Instant::now();
        let err = instance.step(b"{}").expect_err("interrupted").to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err,
            "module call failed: time limit of 100 ms reached (the step was interrupted)"
        );
    }

    #[test]
    fn growing_past_the_memory_limit_fails_and_says_so() {
        let limits = GuestLimits {
            memory_bytes: 16 << 20,
            ..GuestLimits::default()
        };
        // 300 pages (18.75 MiB) more than the one it has: refused, and the
        // guest gives up (like a Rust guest whose allocation failed).
        let grow = "(if (i32.eq (memory.grow (i32.const 300)) (i32.const -1)) (then unreachable))";
        let source = ModuleSource::from_bytes(fake_module(ABI, "{}", grow), "grow");
        let runtime = Runtime::load(&source, limits).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        let err = instance.step(b"{}").expect_err("out of memory").to_string();
        assert_eq!(
            err,
            "module call failed: memory limit of 16 MiB reached \
             (wasm trap: wasm `unreachable` instruction executed)"
        );

        // Within the limit, the same growth is no failure.
        let runtime = load(fake_module(ABI, "{}", grow)).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        instance.step(b"{}").expect("grows within 512 MiB");
    }

    /// The pool serves `max_instances` live instances of the real module at
    /// once, each having run a step (wasm-bindgen modules use externref, so
    /// each instance may hold a GC heap beside its linear memory).
    #[test]
    fn the_pool_holds_max_instances_of_the_workspace_module() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pkg/dist/node/sessattr_wasm_bg.wasm");
        let source = ModuleSource::from_file(&path).expect("run `cargo xtask build` first");
        let limits = GuestLimits {
            max_instances: 8,
            ..GuestLimits::default()
        };
        let runtime = Runtime::load(&source, limits).expect("loads");
        assert!(runtime.pooling(), "the pooling allocator is available here");
        let mut held = Vec::new();
        for n in 0..limits.max_instances {
            let mut instance = runtime
                .instantiate()
                .unwrap_or_else(|e| panic!("instance {n} of {}: {e}", limits.max_instances));
            instance.step(b"{}").expect("step");
            held.push(instance);
        }
    }

    #[test]
    fn a_healthy_instance_is_kept_warm_and_served_again() {
        let runtime = load(fake_module(ABI, "{}", "")).expect("loads");
        let mut instance = runtime.check_out().expect("instance");
        instance.step(b"{}").expect("step");
        runtime.check_in(instance);
        assert_eq!(runtime.idle_instances(), 1);
        // The warm one is served: no second instance is made.
        let mut again = runtime.check_out().expect("warm instance");
        assert_eq!(runtime.idle_instances(), 0);
        assert_eq!(again.uses, 1, "the instance checked in before");
        again.step(b"{}").expect("step");
        runtime.check_in(again);
        assert_eq!(runtime.idle_instances(), 1);
    }

    #[test]
    fn an_instance_that_trapped_or_was_discarded_is_never_reused() {
        let runtime = load(fake_module(ABI, "{}", "unreachable")).expect("loads");
        let mut instance = runtime.check_out().expect("instance");
        assert!(instance.step(b"{}").is_err());
        runtime.check_in(instance);
        assert_eq!(runtime.idle_instances(), 0, "a trapped instance is dropped");

        let healthy = load(fake_module(ABI, "{}", "")).expect("loads");
        let mut instance = healthy.check_out().expect("instance");
        instance.discard();
        healthy.check_in(instance);
        assert_eq!(
            healthy.idle_instances(),
            0,
            "a discarded instance is dropped"
        );
    }

    #[test]
    fn an_instance_that_grew_past_the_keep_limit_or_served_its_uses_is_dropped() {
        let pages = u32::try_from(KEEP_MEMORY_BYTES / 65_536 + 1).expect("pages");
        let grow = format!("i32.const {pages}\nmemory.grow\ndrop");
        let runtime = load(fake_module(ABI, "{}", &grow)).expect("loads");
        let mut instance = runtime.check_out().expect("instance");
        instance.step(b"{}").expect("step");
        assert!(instance.memory.data_size(&instance.store) > KEEP_MEMORY_BYTES);
        runtime.check_in(instance);
        assert_eq!(runtime.idle_instances(), 0, "a grown instance is dropped");

        let small = load(fake_module(ABI, "{}", "")).expect("loads");
        let mut instance = small.check_out().expect("instance");
        instance.uses = MAX_USES - 1;
        small.check_in(instance);
        assert_eq!(small.idle_instances(), 0, "a worn instance is dropped");
    }

    /// The workspace's module, configured once: steps without a config are
    /// decided with it, a changed config is sent again, and a refused one
    /// leaves the instance unconfigured without showing the key.
    #[test]
    fn the_workspace_module_keeps_its_configuration() {
        use sessattr_core::protocol::{HttpRequest, Operation, StepInput, StepOutput};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pkg/dist/node/sessattr_wasm_bg.wasm");
        let source = ModuleSource::from_file(&path).expect("run `cargo xtask build` first");
        let runtime = Runtime::load(&source, GuestLimits::default()).expect("loads");
        let mut instance = runtime.instantiate().expect("instance");
        let names = |app: &str| {
            let input = StepInput {
                config: None,
                op: Operation::Http(HttpRequest {
                    method: "GET".into(),
                    path: "/zato/sso/session/attr/names".into(),
                    query: format!("current_app={app}"),
                    ..HttpRequest::default()
                }),
                now: 1_796_324_400_000_000,
                seed: sessattr_core::encode_seed(&[1; 32]),
                records: Default::default(),
                scans: Default::default(),
                encryption_budget: None,
            };
            serde_json::to_vec(&input).expect("encode")
        };
        let decide = |instance: &mut Instance, app: &str| -> StepOutput {
            let out = instance.step(&names(app)).expect("step");
            serde_json::from_slice(&out).expect("a StepOutput")
        };
        let code = |out: StepOutput| match out {
            StepOutput::Done(done) => {
                let body: serde_json::Value =
                    serde_json::from_str(&done.response.body).expect("json");
                body["sub_status"][0].as_str().unwrap_or("").to_owned()
            }
            other => format!("{other:?}"),
        };

        let unconfigured = decide(&mut instance, "CRM");
        assert!(
            matches!(unconfigured, StepOutput::Rejected(_)),
            "{unconfigured:?}"
        );

        let mut config = sessattr_core::config::Config::default();
        assert!(instance.configure(&config).expect("configures"));
        // CRM is an app of the default config: the request goes on to its
        // USTs (none: E007001); ERP is not (E004001).
        assert_eq!(code(decide(&mut instance, "CRM")), "E007001");
        assert_eq!(code(decide(&mut instance, "ERP")), "E004001");

        config.apps = vec!["ERP".into()];
        assert!(instance.configure(&config).expect("configures again"));
        assert_eq!(code(decide(&mut instance, "ERP")), "E007001");
        assert_eq!(code(decide(&mut instance, "CRM")), "E004001");

        let secret = "c2VjcmV0LWtleS1tYXRlcmlhbC10b28tc2hvcnQ=";
        config.keys.push(sessattr_core::config::KeyEntry {
            id: "k-bad".into(),
            key: secret.into(),
            state: sessattr_core::config::KeyState::Primary,
        });
        let err = instance
            .configure(&config)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("refused the configuration"), "{err}");
        assert!(!err.contains(secret), "{err}");
        let after = decide(&mut instance, "ERP");
        assert!(matches!(after, StepOutput::Rejected(_)), "{after:?}");
    }

    /// The module built from this workspace (raw cargo output and the
    /// wasm-bindgen output): loads, and answers with a StepOutput.
    #[test]
    fn the_workspace_module_loads_when_built() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let candidates = [
            root.join("pkg/dist/node/sessattr_wasm_bg.wasm"),
            root.join("target/wasm32-unknown-unknown/wasm-release/sessattr_wasm.wasm"),
        ];
        let built: Vec<_> = candidates.iter().filter(|p| p.is_file()).collect();
        assert!(
            !built.is_empty(),
            "no module built: run `cargo xtask build` first"
        );
        for path in built {
            let source = ModuleSource::from_file(path).expect("read");
            let runtime =
                Runtime::load(&source, GuestLimits::default()).expect("the built module loads");
            let mut instance = runtime.instantiate().expect("instance");
            let out = instance.step(b"{}").expect("step");
            let out: sessattr_core::protocol::StepOutput =
                serde_json::from_slice(&out).expect("a StepOutput");
            assert!(
                matches!(out, sessattr_core::protocol::StepOutput::Rejected(_)),
                "{out:?}"
            );
        }
    }
}
