//! Embeds the built-in module: `../pkg/dist/node/sessattr_wasm_bg.wasm` when
//! `cargo xtask build` has produced it, an empty placeholder otherwise (so that
//! `cargo check` and `cargo clippy` work on a clean checkout).

use std::path::{Path, PathBuf};
use std::{env, fs};

/// The module, relative to this crate's folder.
const MODULE: &str = "../pkg/dist/node/sessattr_wasm_bg.wasm";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let source = manifest_dir.join(MODULE);
    let target = out_dir.join("builtin_module.wasm");

    println!("cargo:rerun-if-changed=build.rs");
    let bytes = if source.is_file() {
        println!("cargo:rerun-if-changed={}", source.display());
        fs::read(&source).unwrap_or_else(|err| panic!("cannot read {}: {err}", source.display()))
    } else {
        // Watch the nearest existing folder so that the module appearing later
        // triggers a rebuild, without rerunning this script on every build.
        if let Some(dir) = nearest_existing_ancestor(&source, &manifest_dir.join("../pkg")) {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        Vec::new()
    };
    let unchanged = fs::read(&target).map(|old| old == bytes).unwrap_or(false);
    if !unchanged {
        fs::write(&target, &bytes)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", target.display()));
    }
}

/// The closest ancestor folder of `path` that exists, no higher than `top`
/// (watching a higher folder, such as the workspace with its `target/`, would
/// rerun this script on every build).
fn nearest_existing_ancestor(path: &Path, top: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .take_while(|dir| dir.starts_with(top))
        .find(|dir| dir.is_dir())
        .map(Path::to_path_buf)
}
