//! `cargo xtask bench`: every benchmark of docs/BENCHMARKS.md, each of
//! which rewrites its own tables there; and their one short pass inside
//! `cargo xtask test`, so that none can rot.
//!
//! Every cargo command here builds with the benchmark-only feature
//! `sessattr-host/bench` and `--workspace`, so that one feature set
//! serves them all and nothing (wasmtime above all) is compiled twice.

mod micro;
mod node;

use anyhow::{Context, Result, bail};

use crate::tools::{self, cargo, root, run};

/// The feature the benchmarks build the host with.
pub const FEATURES: [&str; 2] = ["--features", "sessattr-host/bench"];
/// The Node benchmarks' folder, relative to the root.
pub const NODE_BENCH: &str = "bench/node";

/// The benchmarks, by the name `cargo xtask bench NAME` takes.
const NAMES: [&str; 5] = ["size", "micro", "node", "load", "redis-cluster"];

/// Runs the benchmarks named in `only` (all when empty), after a build.
pub fn bench(only: &[String]) -> Result<()> {
    for name in only {
        if !NAMES.contains(&name.as_str()) {
            bail!("no benchmark `{name}`; there are: {}", NAMES.join(", "));
        }
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    tools::ensure_redis()?;
    tools::ensure_wrk()?;
    crate::build::build()?;
    tools::npm_ci(&root().join(NODE_BENCH))?;
    build_baselines()?;
    if only.is_empty() {
        write_machine()?;
    }
    if wanted("size") {
        crate::build::size()?;
    }
    if wanted("micro") {
        tools::progress("bench micro (criterion: core, module; Node: the JS face)…");
        for target in ["decide", "module_call"] {
            run(&mut cargo_bench(target))?;
        }
        micro::write_table(false)?;
    }
    if wanted("node") {
        tools::progress("bench node (the npm package beside iron-session)…");
        node::write_table(false)?;
    }
    for (name, target) in [("load", "load"), ("redis-cluster", "redis_cluster")] {
        if wanted(name) {
            tools::progress(&format!("bench {name}…"));
            run(&mut cargo_bench(target))?;
        }
    }
    Ok(())
}

/// `cargo bench` of one bench target, with the benchmarks' features.
fn cargo_bench(target: &str) -> std::process::Command {
    let mut command = cargo();
    command
        .args(["bench", "--locked", "--workspace"])
        .args(FEATURES)
        .args(["--bench", target]);
    command
}

/// The baselines the load runs start: the bare axum example.
fn build_baselines() -> Result<()> {
    run(cargo()
        .args(["build", "--locked", "--release", "--workspace"])
        .args(FEATURES)
        .args(["--example", "bare_axum"]))
}

/// One short pass of every benchmark, with no figure written: `cargo test
/// --bench NAME` runs them without `--bench` (criterion then runs each
/// case once, the load runs make one short run), and the Node benchmarks
/// run with `--quick`.
pub fn quick_pass() -> Result<()> {
    tools::npm_ci(&root().join(NODE_BENCH))?;
    build_baselines()?;
    let mut command = cargo();
    command
        .args(["test", "--locked", "--release", "--workspace"])
        .args(FEATURES);
    for target in ["decide", "module_call", "load", "redis_cluster", "soak"] {
        command.args(["--bench", target]);
    }
    run(&mut command)?;
    micro::write_table(true)?;
    node::write_table(true)
}

/// Runs `node bench/node/SCRIPT [--quick]` and parses the one JSON
/// document it prints.
fn node_json(script: &str, quick: bool) -> Result<serde_json::Value> {
    let dir = root().join(NODE_BENCH);
    let mut command = std::process::Command::new("node");
    command.arg(script).current_dir(&dir);
    if quick {
        command.arg("--quick");
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running node {script}"))?;
    anyhow::ensure!(
        output.status.success(),
        "node {NODE_BENCH}/{script} failed ({})",
        output.status
    );
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{NODE_BENCH}/{script} did not print one JSON document"))
}

/// Today (UTC), `YYYY-MM-DD`.
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Replaces what is between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// of docs/BENCHMARKS.md with `text`.
fn replace_section(name: &str, text: &str) -> Result<()> {
    let doc = root().join("docs/BENCHMARKS.md");
    let current =
        std::fs::read_to_string(&doc).with_context(|| format!("reading {}", doc.display()))?;
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = current
        .find(&begin)
        .with_context(|| format!("no {begin} in {}", doc.display()))?
        + begin.len();
    let stop = current
        .find(&end)
        .with_context(|| format!("no {end} in {}", doc.display()))?;
    let next = format!("{}\n{text}{}", &current[..start], &current[stop..]);
    std::fs::write(&doc, next).with_context(|| format!("writing {}", doc.display()))?;
    tools::progress(&format!("rewrote the {name} table of {}", doc.display()));
    Ok(())
}

/// Rewrites the machine section: what the figures below were measured on.
fn write_machine() -> Result<()> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let version = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let text = format!(
        "Last full run {}: {model}, {cores} cores, {gib:.0} GiB, Linux {}; {}, Node {}, {}.\n",
        today(),
        read("/proc/sys/kernel/osrelease").trim(),
        version("rustc", "--version"),
        version("node", "--version"),
        version("redis-server", "--version")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    replace_section("machine", &text)
}
