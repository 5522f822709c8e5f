//! The sessattr native host.
//!
//! It runs the one sessattr WebAssembly module (the rules) in wasmtime and
//! carries out what the module asks for: it reads and writes a redb store,
//! supplies the clock and entropy, and speaks HTTP. Every rule runs inside the
//! module; this crate uses `sessattr-core` only for the JSON types of the step
//! protocol (`docs/abi.md`).

pub mod cli;
pub mod clock;
pub mod commands;
pub mod console;
pub mod cors;
pub mod datadir;
pub mod engine;
pub mod error;
pub mod gate;
pub mod health;
pub mod http;
pub mod keyfile;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod module_source;
#[cfg(feature = "bench")]
pub mod native;
pub mod retry;
pub mod runner;
pub mod server;
pub mod service;
pub mod settings;
pub mod store;
pub mod test_clock;
pub mod transfer;

pub use error::Error;
