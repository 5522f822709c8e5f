//! The step loop of `docs/abi.md`: call the module until it decides, fetch
//! what it asks for, apply its write set atomically, retry on a lost race
//! (see [`crate::retry`] for how).
//!
//! Everything here is synchronous; the HTTP server runs it on a blocking thread.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use sessattr_core::config::Config;
use sessattr_core::protocol::{HttpResponse, LogFields, Operation, StepInput, StepOutput};

use crate::keys::budget::{Claim, NonceBudget};

use crate::Error;
use crate::clock::Clock;
pub use crate::retry::MAX_RETRIES;
use crate::retry::{self, RetryLocks};
use crate::store::{ApplyOutcome, Store};
/// Steps of one attempt before the module is deemed stuck.
pub const MAX_STEPS: usize = 32;
/// The internal-error sub-status.
pub const E_INTERNAL: &str = "E008004";
/// The invalid-input sub-status.
pub const E_INVALID_INPUT: &str = "E008002";

/// Something that runs one step: the module instance (or a fake in tests).
pub trait Step {
    /// Runs one step on a JSON `StepInput`, answering a JSON `StepOutput`.
    fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error>;

    /// Makes `config` the configuration of the steps that follow, when the
    /// stepper keeps one (`sessattr_configure`); answers whether step inputs
    /// may then leave it out. A stepper that keeps none carries it in every
    /// input (the default).
    fn configure(&mut self, config: &Config) -> Result<bool, Error> {
        let _ = config;
        Ok(false)
    }
}

/// Why the host answered on its own instead of the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFailure {
    /// The store failed (503).
    Store(String),
    /// Preconditions kept failing (503).
    Contention,
    /// The module trapped, was stuck, or answered nonsense (500).
    Module(String),
    /// The module rejected the step input (500).
    Rejected(String),
    /// No random bytes (500).
    Random,
    /// The client's request body could not be read to its end (a broken
    /// or lying connection): 400 `E008002`.
    BodyUnreadable,
    /// The client did not send its whole request body within
    /// `http.body_timeout_ms`: 408 `E008002`; nothing was run.
    BodyTimeout,
    /// Too many operations were waiting for a turn in the module, or this
    /// one waited too long (`http.max_queued`, `http.queue_timeout_ms`):
    /// 503 `E008004` with `Retry-After`; nothing was run.
    Busy,
}

impl HostFailure {
    /// The HTTP status of the fallback answer.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Store(_) | Self::Contention | Self::Busy => 503,
            Self::Module(_) | Self::Rejected(_) | Self::Random => 500,
            Self::BodyUnreadable => 400,
            Self::BodyTimeout => 408,
        }
    }

    /// The sub-status code of the fallback answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyUnreadable | Self::BodyTimeout => E_INVALID_INPUT,
            _ => E_INTERNAL,
        }
    }

    /// The fixed message of the fallback answer (no detail: the cause is
    /// logged, not answered).
    pub fn message(&self) -> &'static str {
        match self {
            Self::Store(_) | Self::Contention => "the store is unavailable; nothing was written",
            Self::BodyUnreadable => "the request body could not be read",
            Self::BodyTimeout => "the request body did not arrive in time",
            Self::Busy => "the server is busy; nothing was done, retry later",
            Self::Module(_) | Self::Rejected(_) | Self::Random => "internal error",
        }
    }

    /// Whether the failure is the client's (logged as a warning) rather
    /// than the server's (an error).
    pub fn is_clients(&self) -> bool {
        matches!(self, Self::BodyUnreadable | Self::BodyTimeout)
    }
}

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(reason) => write!(f, "store unavailable: {reason}"),
            Self::Contention => write!(f, "write conflicts persisted after {MAX_RETRIES} retries"),
            Self::Module(reason) => write!(f, "module failure: {reason}"),
            Self::Rejected(reason) => write!(f, "module rejected the step input: {reason}"),
            Self::Random => write!(f, "the operating system's random source failed"),
            Self::BodyUnreadable => write!(f, "the request body could not be read"),
            Self::BodyTimeout => write!(f, "the request body did not arrive in time"),
            Self::Busy => write!(f, "too many operations waiting for the module: shed"),
        }
    }
}

/// The result of one operation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What to answer.
    pub response: HttpResponse,
    /// What to log (the module's fields, or the host's for a fallback).
    pub log: LogFields,
    /// Set when the host answered on its own.
    pub failure: Option<HostFailure>,
    /// Attempts made (1 unless a precondition failed).
    pub attempts: u32,
}

impl Outcome {
    /// The host's own error answer: the SPEC envelope with the failure's
    /// code and fixed message.
    pub fn fallback(failure: HostFailure, attempts: u32) -> Self {
        let cid = random_cid();
        let body = serde_json::json!({
            "cid": cid,
            "status": "error",
            "sub_status": [failure.code()],
            "message": failure.message(),
        })
        .to_string();
        Self {
            response: HttpResponse {
                status: failure.http_status(),
                headers: Vec::new(),
                body,
            },
            log: LogFields {
                cid,
                op: "-".into(),
                app: None,
                status: "error".into(),
                sub_status: vec![failure.code().into()],
                names: Vec::new(),
            },
            failure: Some(failure),
            attempts,
        }
    }
}

/// What the step loop runs against.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Where records are read and written.
    pub store: &'a dyn Store,
    /// The effective configuration passed to every step.
    pub config: &'a Config,
    /// Where every attempt's `now` comes from.
    pub clock: &'a Clock,
    /// The process's retry locks.
    pub locks: &'a RetryLocks,
    /// The nonce budget of the keys (`None`: no limit is passed to steps).
    pub budget: Option<&'a NonceBudget>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the keyring: never print it.
        f.debug_struct("Context")
            .field("clock", self.clock)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended.
enum Attempt {
    /// The module decided and its writes, if any, were applied.
    Decided(HttpResponse, LogFields),
    /// A precondition of this write set failed: retry.
    Lost(sessattr_core::protocol::WriteSet),
    /// The writes were applied and the module asked to run the operation
    /// again (`run_again`).
    Again,
}

/// How many times in a row one operation may ask to be run again.
const MAX_AGAIN: u32 = 3;

/// Runs `op` to completion, calling `guest` for every step. After a lost
/// race it pauses briefly ([`retry::backoff`]) and runs the decision again
/// under the lock of the lost write set's hash tag, at most
/// [`MAX_RETRIES`] times.
pub fn run(guest: &mut dyn Step, ctx: &Context<'_>, op: &Operation) -> Outcome {
    let mut attempt = 1;
    let mut again = 0;
    let carry_config = match guest.configure(ctx.config) {
        Ok(configured) => !configured || carry_config_anyway(),
        Err(err) => return Outcome::fallback(HostFailure::Module(err.to_string()), attempt),
    };
    let run_attempt = |guest: &mut dyn Step| run_attempt(guest, ctx, op, carry_config);
    let mut result = run_attempt(guest);
    loop {
        match result {
            Ok(Attempt::Decided(response, log)) => {
                return Outcome {
                    response,
                    log,
                    failure: None,
                    attempts: attempt,
                };
            }
            Err(failure) => return Outcome::fallback(failure, attempt),
            Ok(Attempt::Again) if again >= MAX_AGAIN => {
                return Outcome::fallback(
                    HostFailure::Module(format!("asked to run again more than {MAX_AGAIN} times")),
                    attempt,
                );
            }
            Ok(Attempt::Again) => {
                again += 1;
                result = run_attempt(guest);
            }
            Ok(Attempt::Lost(_)) if attempt > MAX_RETRIES => {
                return Outcome::fallback(HostFailure::Contention, attempt);
            }
            Ok(Attempt::Lost(writes)) => {
                std::thread::sleep(retry::backoff(attempt));
                let _guard = ctx.locks.lock(&retry::lock_tag(&writes));
                attempt += 1;
                result = run_attempt(guest);
            }
        }
    }
}

/// BENCHMARK ONLY: `SESSATTR_BENCH_CARRY_CONFIG` set makes every step
/// carry the configuration, as before ABI 5, for the side-by-side figures
/// of docs/BENCHMARKS.md.
#[cfg(feature = "bench")]
fn carry_config_anyway() -> bool {
    std::env::var_os("SESSATTR_BENCH_CARRY_CONFIG").is_some()
}

/// Production builds always leave a kept configuration out of the steps.
#[cfg(not(feature = "bench"))]
fn carry_config_anyway() -> bool {
    false
}

/// One attempt with a fresh seed and `now`; the configuration goes in
/// every step input when `carry_config` (the stepper keeps none).
fn run_attempt(
    guest: &mut dyn Step,
    ctx: &Context<'_>,
    op: &Operation,
    carry_config: bool,
) -> Result<Attempt, HostFailure> {
    let (store, config) = (ctx.store, ctx.config);
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| HostFailure::Random)?;
    let claim = claim_encryptions(ctx, op)?;
    let mut input = StepInput {
        config: carry_config.then(|| config.clone()),
        op: op.clone(),
        now: ctx.clock.now_micros(),
        seed: sessattr_core::encode_seed(&seed),
        records: BTreeMap::new(),
        scans: BTreeMap::new(),
        encryption_budget: ctx.budget.map(|_| claim.as_ref().map_or(0, Claim::granted)),
    };
    for _ in 0..MAX_STEPS {
        let bytes = serde_json::to_vec(&input)
            .map_err(|err| HostFailure::Module(format!("cannot encode step input: {err}")))?;
        let answer = guest
            .step(&bytes)
            .map_err(|err| HostFailure::Module(err.to_string()))?;
        let output: StepOutput = serde_json::from_slice(&answer).map_err(|err| {
            HostFailure::Module(format!(
                "step output is not valid (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        match output {
            StepOutput::Need(need) => {
                if need.get.is_empty() && need.scan.is_empty() {
                    return Err(HostFailure::Module("the module asked for nothing".into()));
                }
                let store_err = |err: crate::store::StoreError| HostFailure::Store(err.to_string());
                if !need.get.is_empty() {
                    let values = store.get_many(&need.get).map_err(store_err)?;
                    input.records.extend(need.get.into_iter().zip(values));
                }
                for prefix in need.scan {
                    let entries = store.scan_prefix(&prefix).map_err(store_err)?;
                    input.scans.insert(prefix, entries);
                }
            }
            StepOutput::Done(decision) => {
                if let Some(claim) = claim {
                    claim.settle(decision.encryptions);
                }
                if !decision.writes.is_empty() {
                    match store.apply(&decision.writes) {
                        Ok(ApplyOutcome::Applied) => {}
                        Ok(ApplyOutcome::PreconditionFailed) => {
                            return Ok(Attempt::Lost(decision.writes));
                        }
                        Err(err) => return Err(HostFailure::Store(err.to_string())),
                    }
                }
                if decision.run_again {
                    return Ok(Attempt::Again);
                }
                return Ok(Attempt::Decided(decision.response, decision.log));
            }
            StepOutput::Rejected(reason) => return Err(HostFailure::Rejected(reason)),
        }
    }
    Err(HostFailure::Module(format!(
        "no decision after {MAX_STEPS} steps"
    )))
}

/// The encryptions `op` may make, claimed from the primary key's budget:
/// none for operations that never encrypt (they get a budget of 0, so an
/// encryption there could not go uncounted), at most `data_max_items` for
/// the writes that may (one per item).
fn claim_encryptions<'a>(
    ctx: &Context<'a>,
    op: &Operation,
) -> Result<Option<Claim<'a>>, HostFailure> {
    let may_encrypt = match op {
        Operation::Http(request) => matches!(request.method.as_str(), "POST" | "PUT" | "PATCH"),
        Operation::Rekey(rekey) => rekey.rewrite,
        _ => false,
    };
    let primary = ctx.config.primary_key();
    let (Some(budget), Some(primary), true) = (ctx.budget, primary, may_encrypt) else {
        return Ok(None);
    };
    let wanted = match op {
        Operation::Rekey(rekey) => rekey.limit,
        _ => u32::try_from(ctx.config.limits.data_max_items).unwrap_or(u32::MAX),
    };
    budget
        .claim(ctx.store, &primary.id, wanted)
        .map(Some)
        .map_err(|err| HostFailure::Store(err.to_string()))
}

/// A fresh correlation id: 24 lowercase hex characters.
pub fn random_cid() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // Still unique enough to correlate a log line with an answer.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use sessattr_core::protocol::{
        Decision, Expect, HttpRequest, Need, WriteAction, WriteOp, WriteSet,
    };

    /// A fake module: asks for key `k`, then writes `k` if absent (create).
    struct CreateIfAbsent {
        calls: usize,
        inputs: Vec<StepInput>,
    }

    impl Step for CreateIfAbsent {
        fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
            self.calls += 1;
            let input: StepInput = serde_json::from_slice(input).expect("valid input");
            let output = match input.records.get("k") {
                None => StepOutput::Need(Need {
                    get: vec!["k".into()],
                    scan: vec!["p:".into()],
                }),
                Some(current) => {
                    let (status, writes) = match current {
                        Some(_) => (403, WriteSet::default()),
                        None => (
                            200,
                            WriteSet {
                                ops: vec![WriteOp {
                                    key: "k".into(),
                                    action: WriteAction::Put {
                                        value: "v".into(),
                                        expires_at: None,
                                    },
                                    expect: Expect::Absent,
                                }],
                            },
                        ),
                    };
                    StepOutput::Done(Decision {
                        response: HttpResponse {
                            status,
                            headers: vec![],
                            body: "{}".into(),
                        },
                        writes,
                        log: LogFields {
                            cid: "c".into(),
                            op: "t".into(),
                            status: "ok".into(),
                            ..Default::default()
                        },
                        encryptions: 0,
                        run_again: false,
                    })
                }
            };
            self.inputs.push(input);
            Ok(serde_json::to_vec(&output).expect("encode"))
        }
    }

    fn op() -> Operation {
        Operation::Http(HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            ..Default::default()
        })
    }

    /// Runs `op()` on `store` with the system clock and fresh locks.
    fn run_on(guest: &mut dyn Step, store: &dyn Store) -> Outcome {
        run_shared(guest, store, &RetryLocks::new())
    }

    fn run_shared(guest: &mut dyn Step, store: &dyn Store, locks: &RetryLocks) -> Outcome {
        let ctx = Context {
            store,
            config: &Config::default(),
            clock: &Clock::system(),
            locks,
            budget: None,
        };
        run(guest, &ctx, &op())
    }

    #[test]
    fn fetches_then_applies() {
        let store = MemoryStore::new();
        let mut guest = CreateIfAbsent {
            calls: 0,
            inputs: vec![],
        };
        let outcome = run_on(&mut guest, &store);
        assert_eq!(outcome.response.status, 200);
        assert!(outcome.failure.is_none());
        assert_eq!(guest.calls, 2);
        // Same seed and now within one attempt; scans passed back.
        assert_eq!(guest.inputs[0].seed, guest.inputs[1].seed);
        assert_eq!(guest.inputs[0].now, guest.inputs[1].now);
        assert_eq!(guest.inputs[1].scans.get("p:"), Some(&vec![]));
        assert_eq!(
            store.get_many(&["k".into()]).expect("get"),
            vec![Some("v".into())]
        );

        let outcome = run_on(&mut guest, &store);
        assert_eq!(outcome.response.status, 403);
    }

    /// The step output of a 200 decision writing `ops`.
    fn done(ops: Vec<WriteOp>, run_again: bool) -> Vec<u8> {
        let output = StepOutput::Done(Decision {
            response: HttpResponse {
                status: 200,
                headers: vec![],
                body: "{}".into(),
            },
            writes: WriteSet { ops },
            log: LogFields::default(),
            encryptions: 0,
            run_again,
        });
        serde_json::to_vec(&output).expect("encode")
    }

    /// A module that writes key `runN` on its N-th decision and asks to be
    /// run again the first `again` times.
    struct RunsAgain {
        again: usize,
        decisions: usize,
    }

    impl Step for RunsAgain {
        fn step(&mut self, _input: &[u8]) -> Result<Vec<u8>, Error> {
            self.decisions += 1;
            let put = WriteOp {
                key: format!("run{}", self.decisions),
                action: WriteAction::Put {
                    value: "v".into(),
                    expires_at: None,
                },
                expect: Expect::Absent,
            };
            Ok(done(vec![put], self.decisions <= self.again))
        }
    }

    #[test]
    fn a_decision_that_runs_again_is_applied_then_decided_anew() {
        let store = MemoryStore::new();
        let mut guest = RunsAgain {
            again: 1,
            decisions: 0,
        };
        let outcome = run_on(&mut guest, &store);
        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
        assert_eq!(outcome.response.status, 200);
        assert_eq!(guest.decisions, 2);
        let got = store
            .get_many(&["run1".into(), "run2".into()])
            .expect("get");
        assert_eq!(got, vec![Some("v".into()), Some("v".into())]);

        // A module that never stops asking is cut off, with a 500.
        let mut guest = RunsAgain {
            again: usize::MAX,
            decisions: 0,
        };
        let outcome = run_on(&mut guest, &MemoryStore::new());
        assert!(matches!(outcome.failure, Some(HostFailure::Module(_))));
        assert_eq!(guest.decisions, 1 + MAX_AGAIN as usize);
    }

    /// A module that always wants `k` absent while something else writes it.
    struct AlwaysLoses;

    impl Step for AlwaysLoses {
        fn step(&mut self, _input: &[u8]) -> Result<Vec<u8>, Error> {
            let delete = WriteOp {
                key: "taken".into(),
                action: WriteAction::Delete,
                expect: Expect::Absent,
            };
            Ok(done(vec![delete], false))
        }
    }

    #[test]
    fn gives_up_with_503_after_retries() {
        let store = MemoryStore::new();
        let set = WriteSet {
            ops: vec![WriteOp {
                key: "taken".into(),
                action: WriteAction::Put {
                    value: "x".into(),
                    expires_at: None,
                },
                expect: Expect::Any,
            }],
        };
        store.apply(&set).expect("seed store");
        let outcome = run_on(&mut AlwaysLoses, &store);
        assert_eq!(outcome.response.status, 503);
        assert_eq!(outcome.attempts, MAX_RETRIES + 1);
        assert_eq!(outcome.failure, Some(HostFailure::Contention));
        let body: serde_json::Value = serde_json::from_str(&outcome.response.body).expect("json");
        assert_eq!(body["status"], "error");
        assert_eq!(body["sub_status"], serde_json::json!(["E008004"]));
        let cid = body["cid"].as_str().expect("cid");
        assert!(
            cid.len() == 24
                && cid
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    struct Fixed(Result<&'static str, &'static str>);

    impl Step for Fixed {
        fn step(&mut self, _input: &[u8]) -> Result<Vec<u8>, Error> {
            match self.0 {
                Ok(text) => Ok(text.as_bytes().to_vec()),
                Err(msg) => Err(Error::Guest(msg.into())),
            }
        }
    }

    #[test]
    fn host_failures_answer_e008004() {
        let store = MemoryStore::new();
        let cases = [
            (Fixed(Ok(r#"{"rejected":"not built yet"}"#)), 500),
            (Fixed(Ok("garbage")), 500),
            (Fixed(Err("wasm trap: unreachable")), 500),
            (Fixed(Ok(r#"{"need":{"get":[],"scan":[]}}"#)), 500),
            (Fixed(Ok(r#"{"need":{"get":["x"]}}"#)), 500),
        ];
        for (mut guest, status) in cases {
            let outcome = run_on(&mut guest, &store);
            assert_eq!(outcome.response.status, status);
            assert!(outcome.failure.is_some());
            assert!(outcome.response.body.contains("E008004"));
        }
    }

    /// A store whose every call fails.
    struct Broken;

    impl Store for Broken {
        fn get_many(&self, _: &[String]) -> Result<Vec<Option<String>>, crate::store::StoreError> {
            Err(crate::store::StoreError::Backend("disk gone".into()))
        }
        fn scan_records(
            &self,
            _: &str,
        ) -> Result<Vec<crate::store::StoredRecord>, crate::store::StoreError> {
            Err(crate::store::StoreError::Backend("disk gone".into()))
        }
        fn scan_keys(
            &self,
            _: &str,
            _: Option<&str>,
            _: usize,
        ) -> Result<Vec<String>, crate::store::StoreError> {
            Err(crate::store::StoreError::Backend("disk gone".into()))
        }
        fn apply(&self, _: &WriteSet) -> Result<ApplyOutcome, crate::store::StoreError> {
            Err(crate::store::StoreError::Backend("disk gone".into()))
        }
        fn purge_expired(&self, _: i64, _: usize) -> Result<usize, crate::store::StoreError> {
            Err(crate::store::StoreError::Backend("disk gone".into()))
        }
    }

    #[test]
    fn store_failure_is_503() {
        let mut guest = CreateIfAbsent {
            calls: 0,
            inputs: vec![],
        };
        let outcome = run_on(&mut guest, &Broken);
        assert_eq!(outcome.response.status, 503);
        assert!(matches!(outcome.failure, Some(HostFailure::Store(_))));
    }

    /// A store that answers every read after `delay`.
    struct Slow {
        inner: MemoryStore,
        delay: std::time::Duration,
    }

    impl Store for Slow {
        fn get_many(
            &self,
            keys: &[String],
        ) -> Result<Vec<Option<String>>, crate::store::StoreError> {
            std::thread::sleep(self.delay);
            self.inner.get_many(keys)
        }
        fn scan_records(
            &self,
            prefix: &str,
        ) -> Result<Vec<crate::store::StoredRecord>, crate::store::StoreError> {
            std::thread::sleep(self.delay);
            self.inner.scan_records(prefix)
        }
        fn scan_keys(
            &self,
            prefix: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>, crate::store::StoreError> {
            self.inner.scan_keys(prefix, after, limit)
        }
        fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, crate::store::StoreError> {
            self.inner.apply(writes)
        }
        fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, crate::store::StoreError> {
            self.inner.purge_expired(now, limit)
        }
    }

    #[test]
    fn the_guest_time_limit_counts_the_guest_not_a_slow_store() {
        // The real module, allowed 300 ms per step, over a store that takes
        // 400 ms per read: the operation is slow, not interrupted.
        let limits = crate::engine::GuestLimits {
            time_limit: std::time::Duration::from_millis(300),
            ..crate::engine::GuestLimits::default()
        };
        let source = crate::module_source::ModuleSource::builtin().expect("built-in module");
        let runtime = crate::engine::Runtime::load(&source, limits).expect("module");
        let store = Slow {
            inner: MemoryStore::new(),
            delay: std::time::Duration::from_millis(400),
        };
        let ctx = Context {
            store: &store,
            config: &Config::default(),
            clock: &Clock::system(),
            locks: &RetryLocks::new(),
            budget: None,
        };
        let op = Operation::UserList(sessattr_core::protocol::UserList {});
        let outcome = run(&mut runtime.instantiate().expect("instance"), &ctx, &op);
        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
        assert_eq!(outcome.response.status, 200);
    }

    /// A module that increments the number stored at `sa:n:{s}`, with the
    /// number read as its precondition (like a set of one attribute).
    struct Increment;

    impl Step for Increment {
        fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
            let input: StepInput = serde_json::from_slice(input).expect("valid input");
            let key = "sa:n:{s}".to_owned();
            let output = match input.records.get(&key) {
                None => StepOutput::Need(Need {
                    get: vec![key],
                    scan: vec![],
                }),
                Some(current) => {
                    // A decision takes time, like the module's and the store's work.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    let n: u64 = current.as_deref().map_or(0, |t| t.parse().expect("number"));
                    let expect = current.clone().map_or(Expect::Absent, Expect::Value);
                    StepOutput::Done(Decision {
                        response: HttpResponse {
                            status: 200,
                            headers: vec![],
                            body: "{}".into(),
                        },
                        writes: WriteSet {
                            ops: vec![WriteOp {
                                key,
                                action: WriteAction::Put {
                                    value: (n + 1).to_string(),
                                    expires_at: None,
                                },
                                expect,
                            }],
                        },
                        log: LogFields::default(),
                        encryptions: 0,
                        run_again: false,
                    })
                }
            };
            Ok(serde_json::to_vec(&output).expect("encode"))
        }
    }

    #[test]
    fn contending_writers_of_one_key_all_succeed() {
        const WRITERS: usize = 64;
        let store = MemoryStore::new();
        let locks = RetryLocks::new();
        let barrier = std::sync::Barrier::new(WRITERS);
        let attempts: Vec<u32> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let outcome = run_shared(&mut Increment, &store, &locks);
                        assert_eq!(outcome.response.status, 200, "{:?}", outcome.failure);
                        outcome.attempts
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("writer"))
                .collect()
        });
        let stored = store.get_many(&["sa:n:{s}".into()]).expect("get");
        assert_eq!(stored, vec![Some(WRITERS.to_string())]);
        let worst = attempts.iter().max().copied().unwrap_or(0);
        let retried = attempts.iter().filter(|a| **a > 1).count();
        eprintln!("{WRITERS} writers of one key: {retried} retried, worst {worst} attempts");
        assert!(worst <= MAX_RETRIES + 1);
    }
}
