//! The one error type of the host library.
//!
//! Every message is one line and never carries a secret (no key, password,
//! UST, attribute value or request body).

use std::path::PathBuf;

use crate::store::StoreError;

/// Everything that can go wrong in the host library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `keys rotate` / `keys status` page was refused by the module or
    /// failed in the host.
    #[error("{code}: {reason}")]
    Rekey {
        /// The sub-status (E008004 for a host failure).
        code: String,
        /// Why, without any value or key.
        reason: String,
    },
    /// A key id that is not in the keyring.
    #[error("no key {id} in the keyring")]
    UnknownKey {
        /// The id asked for.
        id: String,
    },
    /// A key change the keyring's rules refuse.
    #[error("key {id}: {reason}")]
    KeyChange {
        /// The key.
        id: String,
        /// Why.
        reason: String,
    },
    /// The keyring comes from the environment and cannot be edited.
    #[error(
        "the keyring comes from ${var}; change it there (the key commands edit key files only)"
    )]
    KeysFromEnv {
        /// The variable.
        var: &'static str,
    },
    /// `serve` without `--module` on a build that embeds no module.
    #[error("no built-in module: run `cargo xtask build` or pass --module FILE")]
    NoBuiltinModule,
    /// The module file could not be read.
    #[error("cannot read module {path}: {source}")]
    ModuleRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The module bytes are not WebAssembly at all.
    #[error("module {module} is not a WebAssembly module")]
    NotWasm {
        /// Where the module came from.
        module: String,
    },
    /// The module is WebAssembly but wasmtime refused it.
    #[error("module {module} cannot be compiled: {reason}")]
    ModuleCompile {
        /// Where the module came from.
        module: String,
        /// wasmtime's reason, on one line.
        reason: String,
    },
    /// The module speaks another version of the host ABI.
    #[error("module {module} speaks ABI {found}, this host speaks {expected}")]
    AbiMismatch {
        /// Where the module came from.
        module: String,
        /// The module's `sessattr_abi_version()`.
        found: i64,
        /// [`sessattr_core::ABI_VERSION`].
        expected: u32,
    },
    /// A required export is missing or has the wrong type.
    #[error(
        "module {module} is not a sessattr module: export `{export}` is missing or has the wrong type"
    )]
    MissingExport {
        /// Where the module came from.
        module: String,
        /// The export's name.
        export: &'static str,
    },
    /// The module could not be instantiated or trapped while being probed.
    #[error("module {module} cannot be started: {reason}")]
    ModuleStart {
        /// Where the module came from.
        module: String,
        /// wasmtime's reason, on one line.
        reason: String,
    },
    /// The wasmtime engine could not be configured.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// A call into the module failed (trap, time or memory limit, bad buffer).
    #[error("module call failed: {0}")]
    Guest(String),
    /// The module answered something the host cannot use.
    #[error("module answered an invalid step output: {0}")]
    Protocol(String),
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is unusable.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why (never the key).
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
    /// A setting (config file, environment variable or flag) is unusable.
    #[error("config: {what}: {reason}")]
    Config {
        /// Which setting, and from where.
        what: String,
        /// Why, or what is expected.
        reason: String,
    },
    /// The password could not be read.
    #[error("cannot read the password: {0}")]
    Password(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A records document (`store import`) is not JSON or not of the
    /// `sessattr-records` format. The reason names fields and record
    /// positions, never a key or a value.
    #[error("invalid records document: {reason}")]
    InvalidDocument {
        /// What is wrong, and where.
        reason: String,
    },
    /// Some keys of an import are stored already; nothing was written.
    #[error(
        "{existing} of the {total} records to import already exist in the store; nothing was imported"
    )]
    ImportConflict {
        /// How many of the keys are stored already.
        existing: usize,
        /// How many records the import would have written.
        total: usize,
    },
    /// `store import` into a store of one hash tag per write set (Redis)
    /// stopped on a store failure part way.
    #[error("the import stopped on a store failure ({cause}); {remains}")]
    ImportInterrupted {
        /// The failure.
        cause: StoreError,
        /// Whether what was written could be taken back.
        remains: &'static str,
    },
    /// `store export` on a data directory that has no store.
    #[error("no store at {path}: nothing to export")]
    NoStore {
        /// The store file that is missing.
        path: PathBuf,
    },
    /// `store export --output FILE` where FILE exists: it is never replaced.
    #[error("{path} already exists; export writes only a new file")]
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A file of `store export` or `store import` could not be read or
    /// written.
    #[error("{path}: {cause}")]
    File {
        /// The file (`-` for standard input or output).
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// Another I/O failure of the server.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// Squashes a multi-line message (wasmtime errors carry backtraces) onto one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\n\nc\n"), "a; b; c");
    }

    #[test]
    fn messages_are_one_line() {
        let err = Error::AbiMismatch {
            module: "/x/y.wasm".into(),
            found: 2,
            expected: 1,
        };
        assert_eq!(
            err.to_string(),
            "module /x/y.wasm speaks ABI 2, this host speaks 1"
        );
    }
}
