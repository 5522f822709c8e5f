//! The one sessattr WebAssembly module.
//!
//! Two faces over the same core:
//! * [`js`]: wasm-bindgen exports for JavaScript (Node.js, workers, browsers);
//! * [`raw_abi`]: the small, versioned C-style ABI the native host calls
//!   through wasmtime (`docs/abi.md`).
//!
//! With the test-only cargo feature `hostile-test`, `hostile` makes the
//! raw ABI misbehave on request (loop, grow without end), for the host's
//! guest-limit tests; no shipped build has it.

pub mod js;
pub mod raw_abi;

#[cfg(feature = "hostile-test")]
pub mod hostile;
