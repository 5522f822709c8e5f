//! The one sessattr WebAssembly module.
//!
//! Two faces over the same core:
//! * [`js`]: wasm-bindgen exports for JavaScript (Node.js, workers, browsers);
//! * [`raw_abi`]: the small, versioned C-style ABI the native host calls
//!   through wasmtime (`docs/abi.md`).

pub mod js;
pub mod raw_abi;
