//! The npm package in Node beside the library a Node user would pick to
//! keep a value safe in a session, iron-session: `bench/node/package-vs-iron.mjs`.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{node_json, replace_section};

/// The package's target: create + get at least this many times the
/// operations per second of iron-session's seal + unseal.
const TARGET_RATIO: f64 = 10.0;

/// Median, min and max of the `ops_per_sec` runs of `side`.
fn spread(report: &Value, side: &str) -> Result<(f64, f64, f64)> {
    let mut runs: Vec<f64> = report[side]["ops_per_sec"]
        .as_array()
        .with_context(|| format!("package-vs-iron.mjs: no {side}.ops_per_sec"))?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    anyhow::ensure!(!runs.is_empty(), "package-vs-iron.mjs: no runs of {side}");
    runs.sort_by(f64::total_cmp);
    Ok((runs[runs.len() / 2], runs[0], runs[runs.len() - 1]))
}

/// Runs the comparison and renders its table; writes it into
/// docs/BENCHMARKS.md unless `quick` (then it is only printed).
pub fn write_table(quick: bool) -> Result<()> {
    let report = node_json("package-vs-iron.mjs", quick)?;
    let ours = spread(&report, "sessattr")?;
    let theirs = spread(&report, "iron_session")?;
    let ratio = ours.0 / theirs.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} by `cargo xtask bench node` in Node {}: {} operations in flight for {} s, \
         median of {} runs (min–max), every result checked. One sessattr operation is \
         `attrs.create` of a new name with an encrypted 64-byte value then `attrs.get` of it \
         (decrypted) on `memoryStore()`; one iron-session {} operation is `sealData` then \
         `unsealData` of an object holding the same value.\n",
        super::today(),
        report["node"].as_str().unwrap_or("?"),
        report["in_flight"],
        report["seconds"],
        report["sessattr"]["ops_per_sec"]
            .as_array()
            .map_or(0, Vec::len),
        report["iron_session_version"].as_str().unwrap_or("?"),
    );
    out.push_str("| library | ops/s | vs iron-session |\n|---|---:|---:|\n");
    let _ = writeln!(
        out,
        "| sessattr (create + get) | {:.0} ({:.0}–{:.0}) | {ratio:.1}× |",
        ours.0, ours.1, ours.2
    );
    let _ = writeln!(
        out,
        "| iron-session (seal + unseal) | {:.0} ({:.0}–{:.0}) | 1.0× |",
        theirs.0, theirs.1, theirs.2
    );
    let verdict = if ratio >= TARGET_RATIO {
        "met"
    } else {
        "**not met**"
    };
    let _ = writeln!(
        out,
        "\nTarget: sessattr ≥ {TARGET_RATIO:.0}× iron-session's ops/s: {verdict} ({ratio:.1}×)."
    );
    print!("{out}");
    if quick {
        return Ok(());
    }
    replace_section("node-package", &out)
}
