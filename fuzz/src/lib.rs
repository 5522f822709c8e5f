//! The fuzz targets' checks, shared with the stable-toolchain regression
//! test `core/tests/fuzz_regressions.rs` (which includes [`checks`] by path).
//! See `docs/fuzzing.md`.

pub mod checks;
