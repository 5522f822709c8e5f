//! The rules of sessattr, with no I/O.
//!
//! This crate parses and validates requests, authorizes them, encrypts and
//! decrypts values, enforces expiry and limits, lays out store keys and
//! records, and shapes every response. It never reads a clock, a random source
//! or a store: the embedding passes time and entropy in and carries out the
//! reads and writes the core asks for (see [`protocol`] and `docs/abi.md`).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod config;
pub mod crypto;
pub mod entropy;
pub mod error;
pub mod http;
pub mod ops;
pub mod password;
pub mod protocol;
pub mod store;
pub mod time;
pub mod ust;

use alloc::string::String;
use alloc::vec::Vec;

use config::Config;
use crypto::Keyring;
use entropy::Entropy;
use ops::{Ctx, Stop, reads::Reads};
use protocol::{Decision, LogFields, Operation, WriteSet};
pub use protocol::{StepInput, StepOutput};

/// Version of the raw host ABI and step protocol this core speaks.
pub const ABI_VERSION: u32 = 5;

/// A configuration checked once and its keyring built once: what an
/// embedding sets up per module instance (`sessattr_configure`,
/// docs/abi.md), so that steps need not carry, parse and rebuild it.
pub struct Prepared {
    config: Config,
    keyring: Keyring,
}

impl Prepared {
    /// Checks `config` and builds its keyring; a malformed key is refused
    /// without detail about it, and so are argon2 costs beyond
    /// [`password::check_params`] (one login could otherwise allocate
    /// gigabytes inside the module).
    pub fn new(config: Config) -> Result<Self, &'static str> {
        let keyring = Keyring::new(&config.keys).map_err(|_| KEYRING_MALFORMED)?;
        password::check_params(config.argon2)
            .map_err(|_| "the argon2 costs are beyond what the module may hash")?;
        Ok(Self { config, keyring })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl core::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The keyring holds keys: never print them.
        f.debug_struct("Prepared").finish_non_exhaustive()
    }
}

/// Why a configuration was refused (no detail about the key).
const KEYRING_MALFORMED: &str = "a key of the keyring is malformed";

/// Runs one step of the protocol: asks for reads, or decides. The input
/// must carry its configuration.
pub fn step(input: &StepInput) -> StepOutput {
    step_with(input, None)
}

/// Runs one step with `configured` as the configuration of an input that
/// carries none (an input's own configuration wins).
pub fn step_with(input: &StepInput, configured: Option<&Prepared>) -> StepOutput {
    let carried;
    let prepared = match (&input.config, configured) {
        (Some(config), _) => match Prepared::new(config.clone()) {
            Ok(prepared) => {
                carried = prepared;
                &carried
            }
            Err(why) => return StepOutput::Rejected(String::from(why)),
        },
        (None, Some(prepared)) => prepared,
        (None, None) => {
            return StepOutput::Rejected(String::from(
                "the step input has no config and none was configured",
            ));
        }
    };
    decide(input, prepared)
}

/// One step over a prepared configuration.
fn decide(input: &StepInput, prepared: &Prepared) -> StepOutput {
    let Ok(mut entropy) = Entropy::from_seed_text(&input.seed) else {
        return StepOutput::Rejected(String::from("seed must be 32 bytes, base64"));
    };
    let keyring = prepared.keyring.for_decision(input.encryption_budget);
    let cid = entropy.cid();
    let mut ctx = Ctx {
        config: &prepared.config,
        now: input.now,
        entropy,
        keyring: &keyring,
        reads: Reads::new(&input.records, &input.scans),
        log: LogFields {
            cid: cid.clone(),
            ..LogFields::default()
        },
    };
    let outcome = match &input.op {
        Operation::Http(request) => http::handle(&mut ctx, request),
        Operation::UserAdd(command) => ops::users::add(&mut ctx, command),
        Operation::UserList(_) => ops::users::list(&mut ctx),
        Operation::UserLock(user) => ops::users::lock(&mut ctx, user),
        Operation::UserUnlock(user) => ops::users::unlock(&mut ctx, user),
        Operation::UserDelete(user) => ops::users::delete(&mut ctx, user),
        Operation::UserPasswd(command) => ops::users::passwd(&mut ctx, command),
        Operation::Rekey(command) => ops::rekey::run(&mut ctx, command),
    };
    let mut log = ctx.log;
    let (response, writes, run_again) = match outcome {
        Err(Stop::Need(need)) => return StepOutput::Need(need),
        Ok(reply) => {
            log.status = String::from("ok");
            let response = http::response::ok(&cid, reply.fields);
            (response, reply.writes, reply.run_again)
        }
        Err(Stop::Fail(failure)) => {
            log.status = String::from("error");
            log.sub_status = alloc::vec![String::from(failure.error.code())];
            let response = http::response::error(&cid, &failure);
            (response, WriteSet::default(), false)
        }
    };
    StepOutput::Done(Decision {
        response,
        writes,
        log,
        encryptions: keyring.sealed_count(),
        run_again,
    })
}

/// Runs one step on JSON bytes, answering JSON bytes: the shared entry point of
/// both faces of the module.
pub fn step_json(input: &[u8]) -> Vec<u8> {
    step_json_with(input, None)
}

/// [`step_json`] with `configured` as the configuration of an input that
/// carries none (the raw ABI's `sessattr_step` after `sessattr_configure`).
pub fn step_json_with(input: &[u8], configured: Option<&Prepared>) -> Vec<u8> {
    let output = match serde_json::from_slice::<StepInput>(input) {
        Ok(input) => step_with(&input, configured),
        Err(_) => StepOutput::Rejected(String::from("step input is not a valid StepInput")),
    };
    serde_json::to_vec(&output)
        .unwrap_or_else(|_| Vec::from(&br#"{"rejected":"unserializable output"}"#[..]))
}

/// Prepares a configuration from its JSON bytes (a [`Config`]): the
/// prepared configuration, or `None`, and the JSON answer of the raw ABI's
/// `sessattr_configure` (`{"configured":true}` or `{"rejected":"…"}`,
/// never with detail about a key).
pub fn configure_json(input: &[u8]) -> (Option<Prepared>, Vec<u8>) {
    let prepared = serde_json::from_slice::<Config>(input)
        .map_err(|_| "the configuration is not a valid Config")
        .and_then(Prepared::new);
    let answer = match &prepared {
        Ok(_) => serde_json::json!({ "configured": true }),
        Err(why) => serde_json::json!({ "rejected": why }),
    };
    let answer = serde_json::to_vec(&answer)
        .unwrap_or_else(|_| Vec::from(&br#"{"rejected":"unserializable answer"}"#[..]));
    (prepared.ok(), answer)
}

/// Encodes 32 seed bytes the way [`StepInput::seed`] expects them.
pub fn encode_seed(seed: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(seed)
}
