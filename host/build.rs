//! Embeds the built-in module: `../pkg/dist/node/sessattr_wasm_bg.wasm` when
//! `cargo xtask build` has produced it, an empty placeholder otherwise (so that
//! `cargo check` and `cargo clippy` work on a clean checkout).
//!
//! Also embeds the web console: every file under `../www/dist/` (built by
//! `cargo xtask build`), listed in `$OUT_DIR/console_files.rs` as
//! `FILES: &[(&str, &[u8])]` (relative path with `/`, bytes through
//! `include_bytes!`), sorted by path; an empty list when the folder is missing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// The module, relative to this crate's folder.
const MODULE: &str = "../pkg/dist/node/sessattr_wasm_bg.wasm";

/// The built web console, relative to this crate's folder.
const CONSOLE: &str = "../www/dist";

/// The highest folder watched while the console is missing.
const CONSOLE_TOP: &str = "../www";

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
    write_if_changed(&target, &bytes);

    let console = manifest_dir.join(CONSOLE);
    let files = if console.is_dir() {
        // Cargo watches a folder recursively (every file's mtime).
        println!("cargo:rerun-if-changed={}", console.display());
        let mut files = Vec::new();
        collect_files(&console, "", &mut files);
        files.sort();
        files
    } else {
        // `nearest_existing_ancestor` skips the path itself: start below it.
        let probe = console.join("index.html");
        if let Some(dir) = nearest_existing_ancestor(&probe, &manifest_dir.join(CONSOLE_TOP)) {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
        Vec::new()
    };
    write_if_changed(
        &out_dir.join("console_files.rs"),
        console_listing(&files).as_bytes(),
    );
}

/// Writes `bytes` to `path` unless it already holds them (an unchanged
/// output does not make cargo rebuild the crate).
fn write_if_changed(path: &Path, bytes: &[u8]) {
    let unchanged = fs::read(path).map(|old| old == bytes).unwrap_or(false);
    if !unchanged {
        fs::write(path, bytes)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
    }
}

/// Every file under `dir` (symbolic links followed), as (path relative to
/// the console's folder with `/`, absolute path); `prefix` is `dir`'s own
/// relative path (empty for the console's folder).
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            panic!("{} is not a UTF-8 file name", path.display());
        };
        let relative = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::metadata(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        if meta.is_dir() {
            collect_files(&path, &relative, out);
        } else if meta.is_file() {
            let absolute = fs::canonicalize(&path)
                .unwrap_or_else(|err| panic!("cannot resolve {}: {err}", path.display()));
            out.push((relative, absolute));
        }
    }
}

/// The Rust source of the console's file list.
fn console_listing(files: &[(String, PathBuf)]) -> String {
    let mut text = String::from(
        "/// Every file of the built web console (`www/dist/`): path relative to\n\
         /// it (with `/`), bytes; sorted by path.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (relative, absolute) in files {
        let Some(absolute) = absolute.to_str() else {
            panic!("{} is not a UTF-8 path", absolute.display());
        };
        // `{:?}` writes a valid Rust string literal (quotes, backslashes and
        // control characters escaped).
        let _ = writeln!(text, "    ({relative:?}, include_bytes!({absolute:?})),");
    }
    text.push_str("];\n");
    text
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
