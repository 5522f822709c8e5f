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

use crypto::Keyring;
use entropy::Entropy;
use ops::{Ctx, Stop, reads::Reads};
use protocol::{Decision, LogFields, Operation, WriteSet};
pub use protocol::{StepInput, StepOutput};

/// Version of the raw host ABI and step protocol this core speaks.
pub const ABI_VERSION: u32 = 4;

/// Runs one step of the protocol: asks for reads, or decides.
pub fn step(input: &StepInput) -> StepOutput {
    let Ok(mut entropy) = Entropy::from_seed_text(&input.seed) else {
        return StepOutput::Rejected(String::from("seed must be 32 bytes, base64"));
    };
    let Ok(keyring) = Keyring::new(&input.config.keys) else {
        return StepOutput::Rejected(String::from("a key of the keyring is malformed"));
    };
    let keyring = keyring.with_budget(input.encryption_budget);
    let cid = entropy.cid();
    let mut ctx = Ctx {
        config: &input.config,
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
    let output = match serde_json::from_slice::<StepInput>(input) {
        Ok(input) => step(&input),
        Err(_) => StepOutput::Rejected(String::from("step input is not a valid StepInput")),
    };
    serde_json::to_vec(&output)
        .unwrap_or_else(|_| Vec::from(&br#"{"rejected":"unserializable output"}"#[..]))
}

/// Encodes 32 seed bytes the way [`StepInput::seed`] expects them.
pub fn encode_seed(seed: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(seed)
}
