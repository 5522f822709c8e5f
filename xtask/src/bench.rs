//! `cargo xtask bench`: the load benchmarks, which rewrite their tables in
//! docs/BENCHMARKS.md; and their one short pass inside `cargo xtask test`.

use anyhow::{Result, bail};

use crate::tools::{self, cargo, run};

/// The benchmarks: (name, cargo bench target). `core` is criterion's
/// (the core's decision, `core/benches/decide.rs`); the others are load
/// runs of the host (`host/benches/`).
const CASES: [(&str, &str); 2] = [("core", "decide"), ("redis-cluster", "redis_cluster")];

/// Runs the benchmarks named in `only` (all when empty), after a build.
pub fn bench(only: &[String]) -> Result<()> {
    for name in only {
        if !CASES.iter().any(|(case, _)| case == name) {
            let known: Vec<&str> = CASES.iter().map(|(case, _)| *case).collect();
            bail!("no benchmark `{name}`; there are: {}", known.join(", "));
        }
    }
    tools::ensure_redis()?;
    tools::ensure_wrk()?;
    crate::build::build()?;
    for (name, target) in CASES {
        if only.is_empty() || only.iter().any(|o| o == name) {
            tools::progress(&format!("bench {name}…"));
            run(cargo().args(["bench", "--locked", "--workspace", "--bench", target]))?;
        }
    }
    Ok(())
}

/// One short pass of every benchmark (no figures written), so they cannot
/// rot: `cargo test --bench NAME` runs them without `--bench` (criterion
/// then runs each case once, the load runs make one short run).
pub fn quick_pass() -> Result<()> {
    // `--workspace`, as the test step: the same feature unification, so
    // nothing (wasmtime above all) is built a second time.
    let mut command = cargo();
    command.args(["test", "--locked", "--release", "--workspace"]);
    for (_, target) in CASES {
        command.args(["--bench", target]);
    }
    run(&mut command)
}
