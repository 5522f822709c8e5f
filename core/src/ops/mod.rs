//! Operations: each turns a parsed request and the records it read into a
//! [`Reply`] (result fields and a write set), or stops to ask for reads.

pub mod attr;
pub mod auth;
pub mod login;
pub mod reads;
pub mod rekey;
pub mod session;
pub mod users;

use alloc::string::String;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::crypto::Keyring;
use crate::entropy::Entropy;
use crate::error::{Error, Failure};
use crate::protocol::{LogFields, Need, WriteSet};
use reads::Reads;

/// A successful operation: result fields beside the envelope, and writes.
#[derive(Debug, Default)]
pub struct Reply {
    /// Flat result fields (e.g. `ust`, `found`).
    pub fields: Map<String, Value>,
    /// Writes to apply atomically.
    pub writes: WriteSet,
    /// Apply `writes`, then run the operation again ([`crate::protocol::Decision::run_again`]).
    pub run_again: bool,
}

/// Why an operation did not finish with a [`Reply`].
#[derive(Debug)]
pub enum Stop {
    /// It needs these reads first.
    Need(Need),
    /// It failed.
    Fail(Failure),
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Self::Fail(error.into())
    }
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Self::Fail(failure)
    }
}

/// What every operation may use: configuration, time, randomness, keys,
/// the records read so far, and the log line being built.
pub struct Ctx<'a> {
    /// Effective configuration.
    pub config: &'a Config,
    /// Current time, unix micros.
    pub now: i64,
    /// This decision's randomness.
    pub entropy: Entropy,
    /// The encryption keys.
    pub keyring: &'a Keyring,
    /// Records fetched so far.
    pub reads: Reads<'a>,
    /// Loggable facts, filled in as the operation learns them.
    pub log: LogFields,
}
