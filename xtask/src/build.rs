//! `cargo xtask build`, `cargo xtask serve` and `cargo xtask size`, and the
//! test-only misbehaving module that `cargo xtask build` makes beside them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use wasm_bindgen_cli_support::Bindgen;

use crate::console;
use crate::tools::{self, WASM_TARGET, cargo, progress, run, target_dir};

/// The cargo profile of the module (LTO, size-optimized; root `Cargo.toml`).
const WASM_PROFILE: &str = "wasm-release";

/// Where the Node.js bindings go, relative to the root. The `_bg.wasm` file in
/// it is *the* module: the host embeds it and the npm package ships it.
pub const NODE_OUT_DIR: &str = "pkg/dist/node";

/// The npm package's folder, relative to the root.
pub const PKG_DIR: &str = "pkg";

/// Builds the module, its Node.js bindings, the npm package's generated
/// files and the release host binary.
pub fn build() -> Result<()> {
    // Cheap checks first, so a missing tool fails in seconds, not after a build.
    tools::check_node()?;
    tools::ensure_wasm_target()?;

    progress("building the module (sessattr-wasm, wasm32-unknown-unknown)…");
    let wasm = cargo_build_module(WASM_PROFILE, &[])?;

    progress(&format!(
        "generating the Node.js bindings in {NODE_OUT_DIR}/…"
    ));
    bindgen_nodejs(&wasm, &tools::root().join(NODE_OUT_DIR))?;

    build_hostile_module()?;

    progress("building the npm package's CommonJS entry and types (pkg/cjs/)…");
    let pkg = tools::root().join(PKG_DIR);
    tools::npm_ci(&pkg)?;
    run(Command::new("node")
        .args(["scripts/build.mjs"])
        .current_dir(&pkg))?;

    progress(&format!("building the web console ({})…", console::DIST));
    console::build_console()?;

    progress("building the host and every test target (release)…");
    run(cargo().args(HOST_BUILD))
}

/// `cargo build`s `sessattr-wasm` for the wasm target in `profile` with
/// `extra` arguments; returns the raw `.wasm` file cargo wrote.
fn cargo_build_module(profile: &str, extra: &[&str]) -> Result<PathBuf> {
    run(cargo()
        .args(["build", "--locked", "-p", "sessattr-wasm"])
        .args(["--target", WASM_TARGET, "--profile", profile])
        .args(extra))?;
    Ok(target_dir()
        .join(WASM_TARGET)
        .join(profile)
        .join("sessattr_wasm.wasm"))
}

/// TEST ONLY: the cargo profile of the misbehaving module (no LTO, so it
/// builds quickly; root `Cargo.toml`).
const HOSTILE_PROFILE: &str = "wasm-test";

/// Where the misbehaving module goes, relative to the target dir:
/// `host/tests/guest_limits.rs` runs `sessattr serve --module` on it.
pub const HOSTILE_MODULE: &str = "test-modules/hostile.wasm";

/// TEST ONLY: builds the module with the `hostile-test` feature (its step
/// loops or allocates without end on request, `wasm/src/hostile.rs`) into
/// [`HOSTILE_MODULE`]. Raw cargo output, no wasm-bindgen: the host runs the
/// raw ABI only, and accepts it. The file is rewritten only when its bytes
/// change. Never shipped: nothing embeds or packs it.
fn build_hostile_module() -> Result<()> {
    progress(&format!(
        "building the test-only misbehaving module (target/{HOSTILE_MODULE})…"
    ));
    let built = cargo_build_module(HOSTILE_PROFILE, &["--features", "hostile-test"])?;
    let bytes = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    let dest = target_dir().join(HOSTILE_MODULE);
    if fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&dest, &bytes).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(())
}

/// The one native build: the whole workspace, every target, release.
///
/// `cargo test --release --workspace` then finds everything built. Building
/// only `-p sessattr-host` would unify dependency features differently (no
/// dev-dependencies, no other members), and the test step would compile
/// wasmtime and the rest a second time (measured: +6 minutes on 2 cores).
pub const HOST_BUILD: &[&str] = &[
    "build",
    "--locked",
    "--release",
    "--workspace",
    "--all-targets",
];

/// Builds, then replaces this process with `target/release/sessattr serve ARGS…`
/// (so signals reach the server and its exit code is ours).
pub fn serve(args: &[String]) -> Result<()> {
    build()?;
    let binary = host_binary();
    progress(&format!(
        "starting {} serve {}",
        binary.display(),
        args.join(" ")
    ));
    let mut command = Command::new(&binary);
    command.arg("serve").args(args);
    exec(&mut command).with_context(|| format!("could not start {}", binary.display()))
}

/// Builds, then measures the module and rewrites its table in
/// docs/BENCHMARKS.md (`pkg/scripts/size.mjs`).
pub fn size() -> Result<()> {
    build()?;
    run(Command::new("node")
        .args(["scripts/size.mjs"])
        .current_dir(tools::root().join(PKG_DIR)))
}

/// The release host binary.
fn host_binary() -> PathBuf {
    target_dir()
        .join("release")
        .join(format!("sessattr{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `command` in place of this process; returns only on failure to start.
#[cfg(unix)]
fn exec(command: &mut Command) -> Result<()> {
    use std::os::unix::process::CommandExt;
    Err(command.exec().into())
}

/// Runs `command` and exits with its exit code.
#[cfg(not(unix))]
fn exec(command: &mut Command) -> Result<()> {
    let status = command.status()?;
    std::process::exit(status.code().unwrap_or(1));
}

/// Runs wasm-bindgen (target `nodejs`, with TypeScript declarations) on `wasm`
/// and puts the output in `out_dir`.
///
/// The output is generated in a scratch folder and only files whose bytes
/// changed are copied over, so an unchanged module keeps its modification
/// time and the host (whose build script embeds it) is not rebuilt.
fn bindgen_nodejs(wasm: &Path, out_dir: &Path) -> Result<()> {
    let scratch = target_dir().join("xtask").join("bindgen-nodejs");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("removing {}", scratch.display()))?;
    }
    Bindgen::new()
        .input_path(wasm)
        .nodejs(true)?
        .typescript(true)
        // The cargo profile keeps symbols (so wasm-bindgen can read the
        // target features); the names are dropped here instead.
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&scratch)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;
    // The bindings are CommonJS; pkg/package.json says `"type": "module"`
    // for the package's own sources, so this folder says otherwise.
    fs::write(scratch.join("package.json"), "{\"type\": \"commonjs\"}\n")
        .context("writing the bindings' package.json")?;
    let mut files = Vec::new();
    console::list_files(&scratch, Path::new(""), &mut files)?;
    console::sync_tree(&files, out_dir)
}
