//! The micro table of docs/BENCHMARKS.md: criterion's medians of the
//! core's decision (`core/benches/decide.rs`) and of the host's step loop
//! natively and through the module (`host/benches/module_call.rs`), beside
//! the npm package's JS face in Node (`bench/node/micro.mjs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{node_json, replace_section};
use crate::tools::target_dir;

/// A criterion median and its 95 % confidence interval, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    median: f64,
    lower: f64,
    upper: f64,
}

/// Criterion's latest estimates under `target/criterion/`, by full id
/// (`core/create/1x64B/plain`, `module/get/wasm/100x64KiB/encrypted`).
fn criterion_estimates() -> Result<BTreeMap<String, Estimate>> {
    let mut found = BTreeMap::new();
    let dir = target_dir().join("criterion");
    if dir.is_dir() {
        walk(&dir, &mut found)?;
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut BTreeMap<String, Estimate>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let (benchmark, estimates) = (path.join("benchmark.json"), path.join("estimates.json"));
        if path.ends_with("new") && benchmark.is_file() && estimates.is_file() {
            let id = read_json(&benchmark)?["full_id"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no full_id in {}", benchmark.display()))?;
            let median = &read_json(&estimates)?["median"];
            let number = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
            found.insert(
                id,
                Estimate {
                    median: number(&median["point_estimate"]),
                    lower: number(&median["confidence_interval"]["lower_bound"]),
                    upper: number(&median["confidence_interval"]["upper_bound"]),
                },
            );
        } else {
            walk(&path, found)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `12.3 (12.1–12.6)` in µs, or `–` when criterion has no figure.
fn show(estimate: Option<&Estimate>) -> String {
    match estimate {
        Some(e) => format!(
            "{} ({}–{})",
            micros(e.median / 1_000.0),
            micros(e.lower / 1_000.0),
            micros(e.upper / 1_000.0)
        ),
        None => "–".into(),
    }
}

/// Microseconds to 3 significant digits (at least the units).
fn micros(us: f64) -> String {
    if us >= 100.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}

/// The case ids, as the benchmarks name them: `1x64B/plain`…
fn cases() -> Vec<String> {
    let mut ids = Vec::new();
    for count in [1, 100] {
        for size in ["64B", "64KiB"] {
            for kind in ["plain", "encrypted"] {
                ids.push(format!("{count}x{size}/{kind}"));
            }
        }
    }
    ids
}

/// Runs the Node micro benchmark and renders the table with criterion's
/// latest figures; writes it into docs/BENCHMARKS.md unless `quick` (then
/// it is only printed, and figures criterion has not made show as `–`).
pub fn write_table(quick: bool) -> Result<()> {
    let node = node_json("micro.mjs", quick)?;
    let mut node_us = BTreeMap::new();
    for case in node["cases"].as_array().context("micro.mjs: no cases")? {
        let id = case["case"]
            .as_str()
            .context("micro.mjs: a case without a name")?;
        let us = case["median_us"]
            .as_f64()
            .context("micro.mjs: no median_us")?;
        let (min, max) = (case["min_us"].as_f64(), case["max_us"].as_f64());
        node_us.insert(id.to_owned(), (us, min.unwrap_or(us), max.unwrap_or(us)));
    }
    let estimates = criterion_estimates()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} by `cargo xtask bench micro`. One operation each, run to its decision \
         over records in memory, writes decided but not applied. Criterion medians (95 % \
         confidence interval) of 20 samples (2 s each case); Node {}: median (min–max) of 3 runs of ~0.5 s, one \
         call at a time through the package's API on `memoryStore()` (which does apply the \
         writes).\n",
        super::today(),
        node["node"].as_str().unwrap_or("?"),
    );
    out.push_str(
        "| operation | attributes × value | core decision (Rust), µs | host step loop, core native, µs | \
         host step loop, module in wasmtime, µs | module / native | Node, npm package, µs |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut missing = Vec::new();
    for verb in ["create", "get"] {
        for case in cases() {
            let core = estimates.get(&format!("core/{verb}/{case}"));
            let native = estimates.get(&format!("module/{verb}/native/{case}"));
            let wasm = estimates.get(&format!("module/{verb}/wasm/{case}"));
            for (what, found) in [("core", core), ("native", native), ("wasm", wasm)] {
                if found.is_none() {
                    missing.push(format!("{what} {verb}/{case}"));
                }
            }
            let ratio = match (wasm, native) {
                (Some(w), Some(n)) => format!("{:.2}×", w.median / n.median),
                _ => "–".into(),
            };
            let js = node_us
                .get(&format!("{verb}/{case}"))
                .map_or("–".into(), |(us, min, max)| {
                    format!("{} ({}–{})", micros(*us), micros(*min), micros(*max))
                });
            let (count, kind) = case.split_once('/').unwrap_or((&case, ""));
            let _ = writeln!(
                out,
                "| {verb} | {} {kind} | {} | {} | {} | {ratio} | {js} |",
                count.replace('x', " × "),
                show(core),
                show(native),
                show(wasm),
            );
        }
    }
    let fresh = estimates.get("module/instance/fresh");
    let warm = estimates.get("module/instance/warm");
    let _ = writeln!(
        out,
        "\nInstance acquisition alone, µs: a fresh instance from `InstancePre` {}, a warm \
         one from the pool (check-out and check-in) {}.",
        show(fresh),
        show(warm),
    );
    print!("{out}");
    if quick {
        return Ok(());
    }
    anyhow::ensure!(
        missing.is_empty() && fresh.is_some() && warm.is_some(),
        "criterion has no figures for: {}",
        missing.join(", ")
    );
    replace_section("micro", &out)
}
