//! Where the module's bytes come from: the built-in module embedded by
//! `build.rs`, or a file given with `--module`.

use std::borrow::Cow;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;

/// The module embedded at build time (empty when `cargo xtask build` had not
/// produced `pkg/dist/node/sessattr_wasm_bg.wasm`).
static BUILTIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_module.wasm"));

/// Label used in messages for the embedded module.
pub const BUILTIN_LABEL: &str = "(built-in)";

/// The bytes of a module and a label naming where they came from.
#[derive(Clone)]
pub struct ModuleSource {
    bytes: Cow<'static, [u8]>,
    label: String,
}

impl ModuleSource {
    /// The module given by `--module`, or the built-in one.
    pub fn resolve(file: Option<&Path>) -> Result<Self, Error> {
        match file {
            Some(path) => Self::from_file(path),
            None => Self::builtin(),
        }
    }

    /// The built-in module.
    pub fn builtin() -> Result<Self, Error> {
        if BUILTIN.is_empty() {
            return Err(Error::NoBuiltinModule);
        }
        Ok(Self {
            bytes: Cow::Borrowed(BUILTIN),
            label: BUILTIN_LABEL.to_owned(),
        })
    }

    /// A module read from a file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::ModuleRead {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            bytes: Cow::Owned(bytes),
            label: path.display().to_string(),
        })
    }

    /// Module bytes given directly (tests, tools).
    pub fn from_bytes(bytes: Vec<u8>, label: impl Into<String>) -> Self {
        Self {
            bytes: Cow::Owned(bytes),
            label: label.into(),
        }
    }

    /// The module bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the bytes came from (a path, or [`BUILTIN_LABEL`]).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// SHA-256 of the bytes, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let source = ModuleSource::from_bytes(b"abc".to_vec(), "x");
        assert_eq!(
            source.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = ModuleSource::from_file(Path::new("/nonexistent/m.wasm"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("cannot read module /nonexistent/m.wasm"),
            "{err}"
        );
    }
}
