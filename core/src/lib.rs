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
pub mod protocol;

use alloc::format;
use alloc::vec::Vec;

pub use protocol::{StepInput, StepOutput};

/// Version of the raw host ABI and step protocol this core speaks.
pub const ABI_VERSION: u32 = 1;

/// Runs one step of the protocol.
pub fn step(input: &StepInput) -> StepOutput {
    let _ = input;
    StepOutput::Rejected(format!("not built yet"))
}

/// Runs one step on JSON bytes, answering JSON bytes: the shared entry point of
/// both faces of the module.
pub fn step_json(input: &[u8]) -> Vec<u8> {
    let output = match serde_json::from_slice::<StepInput>(input) {
        Ok(input) => step(&input),
        Err(err) => StepOutput::Rejected(format!("bad step input: {err}")),
    };
    serde_json::to_vec(&output).unwrap_or_else(|_| Vec::from(&b"{\"rejected\":\"unserializable output\"}"[..]))
}

/// Encodes 32 seed bytes the way [`StepInput::seed`] expects them.
pub fn encode_seed(seed: &[u8; 32]) -> alloc::string::String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(seed)
}
