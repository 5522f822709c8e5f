//! `cargo xtask test`: build, then every check and test suite, in order,
//! stopping at the first failure.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::secrets;
use crate::tools::{self, WASM_TARGET, cargo, progress, root, run};

/// The Node tests' folder, relative to the root.
const NODE_TESTS: &str = "tests/node";
/// The browser tests' folder (the web console in Chromium), relative to the root.
const BROWSER_TESTS: &str = "tests/browser";

/// Runs the whole test pipeline.
pub fn test() -> Result<()> {
    let started = Instant::now();
    // Cheap checks first, so a missing tool fails in seconds, not after a build.
    tools::check_node()?;
    tools::ensure_redis()?;
    tools::ensure_wrk()?;
    tools::ensure_openssl()?;
    tools::ensure_chromium()?;
    tools::ensure_components(&["rustfmt", "clippy"])?;
    crate::fuzz::check_nightly()?;
    secrets::reset()?;

    let steps: [Step; 10] = [
        ("build", crate::build::build),
        ("cargo fmt --check", fmt_check),
        ("clippy (host target)", clippy_host),
        ("clippy (wasm target)", clippy_wasm),
        ("cargo test --release", cargo_test),
        ("node tests", node_tests),
        ("browser tests (web console in Chromium)", browser_tests),
        (
            "secrets scan (every log and error body of the run)",
            secrets::scan,
        ),
        ("fuzz, 30 s per target", crate::fuzz::ci),
        // Last: it builds the host with the benchmark-only feature, and the
        // Node and browser tests above run the production build.
        ("benchmarks, one short pass", crate::bench::quick_pass),
    ];
    for (index, (name, step)) in steps.iter().enumerate() {
        progress(&format!("[{}/{}] {name}…", index + 1, steps.len()));
        let step_started = Instant::now();
        step().with_context(|| format!("step `{name}` failed"))?;
        progress(&format!(
            "[{}/{}] {name}: ok ({})",
            index + 1,
            steps.len(),
            minutes(step_started.elapsed())
        ));
    }
    progress(&format!(
        "all {} steps passed in {}",
        steps.len(),
        minutes(started.elapsed())
    ));
    Ok(())
}

/// A named step of the pipeline.
type Step = (&'static str, fn() -> Result<()>);

/// `cargo fmt --all -- --check`.
fn fmt_check() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))
}

/// Clippy on every crate and target, for the host target, with the
/// benchmark-only feature on (so its code and the benchmarks that need it
/// are linted too; without it that code is only left out).
fn clippy_host() -> Result<()> {
    run(cargo()
        .args(["clippy", "--locked", "--workspace", "--all-targets"])
        .args(crate::bench::FEATURES)
        .args(["--", "-D", "warnings"]))
}

/// Clippy on the module, for the wasm target (its `cfg(target_arch)`
/// code), without and with the test-only feature `hostile-test`.
fn clippy_wasm() -> Result<()> {
    for features in [&[][..], &["--features", "hostile-test"][..]] {
        run(cargo()
            .args([
                "clippy",
                "--locked",
                "-p",
                "sessattr-wasm",
                "--target",
                WASM_TARGET,
            ])
            .args(features)
            .args(["--", "-D", "warnings"]))?;
    }
    Ok(())
}

/// Every crate's tests, in release: everything was compiled by `build`
/// ([`crate::build::HOST_BUILD`] has the same feature unification), so this
/// step only runs.
fn cargo_test() -> Result<()> {
    run(cargo()
        .args(["test", "--locked", "--release", "--workspace"])
        .env(secrets::EVIDENCE_ENV, secrets::evidence_dir()))
}

/// The Node tests of [`NODE_TESTS`].
fn node_tests() -> Result<()> {
    node_test_folder(NODE_TESTS)
}

/// The web console's end-to-end tests of [`BROWSER_TESTS`]: playwright-core
/// driving Debian's Chromium against a real host.
fn browser_tests() -> Result<()> {
    node_test_folder(BROWSER_TESTS)
}

/// `node --test` on every `*.test.mjs` of `folder` (listed explicitly:
/// how `node --test DIR` finds files differs between Node versions). Runs
/// `npm ci` there first when the folder has a `package-lock.json` (and its
/// `node_modules/` is older).
fn node_test_folder(folder: &str) -> Result<()> {
    let dir = root().join(folder);
    if dir.join("package-lock.json").is_file() {
        tools::npm_ci(&dir)?;
    }
    let mut files: Vec<String> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("{folder}/{name}"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no *.test.mjs files in {folder}/");
    run(std::process::Command::new("node")
        .arg("--test")
        .args(&files)
        .env(secrets::EVIDENCE_ENV, secrets::evidence_dir())
        .current_dir(root()))
}

/// `1m05s` / `7.2s`.
fn minutes(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", elapsed.as_secs_f64())
    }
}
