//! The load benchmarks of `docs/BENCHMARKS.md` (`cargo xtask bench load`):
//! HTTP on loopback, `wrk` at 64 connections, 10 s after 1 s of warm-up,
//! 3 runs of every case, run side by side so that their ratios hold on a
//! noisy shared machine.
//!
//! * **redb**: create (single, encrypted, 64 B) and get (single, decrypt)
//!   through the module in wasmtime, the same host running the core
//!   natively (`--bench-native-core`, feature `native-core`: the module's
//!   cost), and a bare axum endpoint answering the same JSON size (the HTTP
//!   limit of the machine).
//! * **peer**: sessattr against the app a Node user would pick, Express +
//!   express-session + connect-redis (`bench/node/peer-express.mjs`), on a
//!   fresh redis-server each.
//! * **memory**: the host's RSS idle and at 1 000 keep-alive connections.
//!
//! Besides req/s and latency, the CPU time of every server process (host,
//! redis-server, node) per request, from `/proc/PID/stat`. Any answer other
//! than 2xx fails the run. `cargo test --benches` makes one short pass.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::{Server, client};
use support::{Baseline, CONNECTIONS, Measured, Pace, Spread};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Ld01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Ld02";
/// Target sessions the requests go round.
const SESSIONS: usize = 256;
/// The attribute every target session holds for the gets.
const READ_NAME: &str = "a";
/// Connections of the memory case.
const MANY_CONNECTIONS: usize = 1_000;
/// The host's RSS target at [`MANY_CONNECTIONS`].
const RSS_TARGET: u64 = 150 << 20;

fn main() {
    let pace = Pace::from_args();
    support::require_tools(&["wrk", "redis-server", "node"]);
    let redb = redb_cases(pace);
    let peer = peer_cases(pace);
    let memory = memory_case(pace);
    let texts = [
        ("load-redb", render_redb(&redb, pace)),
        ("load-peer", render_peer(&peer, pace)),
        ("memory", render_memory(&memory, pace)),
    ];
    for (name, text) in &texts {
        println!("{name}:\n{text}");
        if !pace.quick {
            support::replace_section(name, text);
        }
    }
}

/// A sessattr host on a fresh data dir with 256 target sessions, each
/// holding attribute [`READ_NAME`] (encrypted, 64 B).
struct Host {
    server: Server,
    admin: String,
    targets: Vec<String>,
    tmp: tempfile::TempDir,
}

impl Host {
    /// On redb, or on the Redis `store` URL; `extra` serve flags.
    fn start(store: Option<&str>, extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        support::write_config(&data, store);
        let log = tmp.path().join("host.log");
        let passwords = (ADMIN_PASSWORD, ALICE_PASSWORD);
        let support::Seeded {
            server,
            admin,
            targets,
        } = support::seeded_host(&data, &log, extra, passwords, SESSIONS, READ_NAME);
        Self {
            server,
            admin,
            targets,
            tmp,
        }
    }

    fn scripts(&self) -> (PathBuf, PathBuf) {
        let dir = self.tmp.path();
        (
            support::create_script(dir, &self.admin, &self.targets),
            support::get_script(dir, &self.admin, &self.targets, READ_NAME),
        )
    }

    /// The size of one get answer's body, in bytes.
    fn get_answer_bytes(&self) -> usize {
        let url = format!(
            "{}/zato/sso/session/attr?current_ust={}&target_ust={}&current_app=CRM&name={READ_NAME}",
            self.server.base, self.admin, self.targets[0]
        );
        let answer = client().get(url).send().unwrap();
        assert!(answer.status().is_success());
        answer.bytes().unwrap().len()
    }

    fn stop(self) {
        assert!(self.server.stop().success());
    }
}

/// The rows of the redb table: every run's figures per case.
#[derive(Default)]
struct RedbRuns {
    create_module: Vec<Measured>,
    create_native: Vec<Measured>,
    get_module: Vec<Measured>,
    get_native: Vec<Measured>,
    get_bare: Vec<Measured>,
    answer_bytes: usize,
}

fn redb_cases(pace: Pace) -> RedbRuns {
    let mut runs = RedbRuns::default();
    for run in 0..pace.runs {
        for native in [false, true] {
            let extra: &[&str] = if native {
                &["--bench-native-core"]
            } else {
                &[]
            };
            let host = Host::start(None, extra);
            let (create, get) = host.scripts();
            let pid = [host.server.pid()];
            let base = &host.server.base;
            let got = support::measure(base, &get, &pid, &[], pace, &format!("g{run}"));
            let made = support::measure(base, &create, &pid, &[], pace, &format!("c{run}"));
            if native {
                runs.get_native.push(got);
                runs.create_native.push(made);
            } else {
                runs.answer_bytes = host.get_answer_bytes();
                runs.get_module.push(got);
                runs.create_module.push(made);
            }
            host.stop();
        }
        let bare = Baseline::start(
            Command::new(bare_axum())
                .args(["--listen", "127.0.0.1:0"])
                .args(["--bytes", &runs.answer_bytes.to_string()]),
        );
        let dir = tempfile::tempdir().unwrap();
        let get = support::get_script(dir.path(), "x", &["y".into()], READ_NAME);
        let got = support::measure(&bare.base, &get, &[bare.pid()], &[], pace, "b");
        runs.get_bare.push(got);
    }
    runs
}

/// The bare axum example, built beside this benchmark
/// (`target/release/examples/bare_axum`).
fn bare_axum() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(Path::parent).unwrap();
    let path = release.join("examples").join("bare_axum");
    assert!(
        path.is_file(),
        "{} is missing: `cargo xtask bench` builds it (cargo build --release --example bare_axum)",
        path.display()
    );
    path
}

/// sessattr and the Node peer on one redis-server each, per run.
#[derive(Default)]
struct PeerRuns {
    create_sessattr: Vec<Measured>,
    get_sessattr: Vec<Measured>,
    create_peer: Vec<Measured>,
    get_peer: Vec<Measured>,
}

fn peer_cases(pace: Pace) -> PeerRuns {
    let mut runs = PeerRuns::default();
    for run in 0..pace.runs {
        {
            let tmp = tempfile::tempdir().unwrap();
            let redis = RedisServer::start(&tmp.path().join("redis"));
            let host = Host::start(Some(&redis.url()), &[]);
            let (create, get) = host.scripts();
            let (pid, store) = ([host.server.pid()], [redis.pid()]);
            let base = &host.server.base;
            let tag = format!("s{run}");
            runs.get_sessattr
                .push(support::measure(base, &get, &pid, &store, pace, &tag));
            runs.create_sessattr
                .push(support::measure(base, &create, &pid, &store, pace, &tag));
            host.stop();
        }
        let tmp = tempfile::tempdir().unwrap();
        let redis = RedisServer::start(&tmp.path().join("redis"));
        let peer = Baseline::start(
            Command::new("node")
                .arg(node_bench("peer-express.mjs"))
                .args(["--port", "0", "--redis", &redis.url()]),
        );
        let cookies = peer_sessions(&peer.base);
        let create = support::peer_script(tmp.path(), &cookies, true);
        let get = support::peer_script(tmp.path(), &cookies, false);
        let (pid, store) = ([peer.pid()], [redis.pid()]);
        let tag = format!("p{run}");
        runs.get_peer
            .push(support::measure(&peer.base, &get, &pid, &store, pace, &tag));
        runs.create_peer.push(support::measure(
            &peer.base, &create, &pid, &store, pace, &tag,
        ));
    }
    runs
}

/// A script of `bench/node/`.
fn node_bench(script: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bench/node")
        .join(script);
    assert!(
        path.with_file_name("node_modules").is_dir(),
        "bench/node/node_modules is missing: `cargo xtask bench` runs npm ci there"
    );
    path
}

/// Logs [`SESSIONS`] sessions into the peer, each holding attribute `a`;
/// answers their cookies.
fn peer_sessions(base: &str) -> Vec<String> {
    let output = Command::new("node")
        .arg(node_bench("peer-sessions.mjs"))
        .args(["--url", base, "--count", &SESSIONS.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "peer-sessions.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cookies: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cookies.len(), SESSIONS);
    cookies
}

/// The host's memory, per run.
#[derive(Default)]
struct MemoryRuns {
    idle: Vec<f64>,
    busy: Vec<f64>,
    busy_rate: Vec<f64>,
}

/// RSS after start-up (256 sessions logged in), and its peak while wrk
/// holds [`MANY_CONNECTIONS`] keep-alive connections doing gets.
fn memory_case(pace: Pace) -> MemoryRuns {
    let mut runs = MemoryRuns::default();
    for run in 0..pace.runs {
        let host = Host::start(None, &[]);
        let (_, get) = host.scripts();
        let pid = host.server.pid();
        runs.idle.push(support::rss_bytes(pid) as f64);
        let label = format!("r{run}");
        let wrk = support::spawn_wrk(
            &host.server.base,
            &get,
            MANY_CONNECTIONS,
            pace.measured,
            &label,
        );
        let started = Instant::now();
        let mut peak = 0;
        while started.elapsed() < pace.measured {
            peak = peak.max(support::rss_bytes(pid));
            std::thread::sleep(Duration::from_millis(100));
        }
        let report = support::finish_wrk(wrk, &label);
        runs.busy.push(peak as f64);
        runs.busy_rate.push(report.rate());
        host.stop();
    }
    runs
}

/// `met` / `not met`.
fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn header(pace: Pace, what: &str) -> String {
    format!(
        "Measured {} by `cargo xtask bench load` (machine above): {what}, wrk {} thread pinned to CPU 1, \
         {} s after {} s of warm-up, median of {} runs (min–max).\n\n",
        support::today(),
        1,
        pace.measured.as_secs(),
        pace.warm_up.as_secs(),
        pace.runs,
    )
}

/// One table row: rate, latencies, CPU per request.
fn row(out: &mut String, case: &str, runs: &[Measured], with_store: bool) {
    let median = |f: fn(&Measured) -> f64| Spread::of(runs.iter().map(f)).median;
    let rate = Spread::of(runs.iter().map(|r| r.rate));
    let store = if with_store {
        format!(" | {:.0} µs", median(|r| r.store_cpu_us))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "| {case} | {} | {:.2} ms | {:.2} ms | {:.1} µs{store} |",
        rate.show(0),
        median(|r| r.p50_ms),
        median(|r| r.p99_ms),
        median(|r| r.cpu_us),
    );
}

fn median_rate(runs: &[Measured]) -> f64 {
    Spread::of(runs.iter().map(|r| r.rate)).median
}

fn median_cpu(runs: &[Measured]) -> f64 {
    Spread::of(runs.iter().map(|r| r.cpu_us)).median
}

fn median_p99(runs: &[Measured]) -> f64 {
    Spread::of(runs.iter().map(|r| r.p99_ms)).median
}

fn render_redb(runs: &RedbRuns, pace: Pace) -> String {
    let mut out = header(
        pace,
        &format!("the redb store (durable commits), {CONNECTIONS} connections"),
    );
    out.push_str(
        "| case | req/s | p50 | p99 | server CPU per request |\n|---|---:|---:|---:|---:|\n",
    );
    row(
        &mut out,
        "get (decrypt), module in wasmtime",
        &runs.get_module,
        false,
    );
    row(
        &mut out,
        "get (decrypt), core native",
        &runs.get_native,
        false,
    );
    row(
        &mut out,
        &format!("bare axum, {} B of JSON", runs.answer_bytes),
        &runs.get_bare,
        false,
    );
    row(
        &mut out,
        "create (encrypted, 64 B), module in wasmtime",
        &runs.create_module,
        false,
    );
    row(
        &mut out,
        "create (encrypted, 64 B), core native",
        &runs.create_native,
        false,
    );
    out.push_str("\n| target | measured | verdict |\n|---|---:|---|\n");
    let ratio = |a: &[Measured], b: &[Measured]| median_rate(a) / median_rate(b);
    for (target, value, floor) in [
        (
            "module cost: get through wasm ≥ 90 % of native",
            ratio(&runs.get_module, &runs.get_native),
            0.9,
        ),
        (
            "module cost: create through wasm ≥ 90 % of native",
            ratio(&runs.create_module, &runs.create_native),
            0.9,
        ),
        (
            "HTTP limit: get ≥ 60 % of bare axum",
            ratio(&runs.get_module, &runs.get_bare),
            0.6,
        ),
        (
            "HTTP limit: create on redb ≥ 40 % of bare axum",
            ratio(&runs.create_module, &runs.get_bare),
            0.4,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {target} | {:.0} % | {} |",
            value * 100.0,
            verdict(value >= floor)
        );
    }
    out
}

fn render_peer(runs: &PeerRuns, pace: Pace) -> String {
    let mut out = header(
        pace,
        &format!(
            "one fresh redis-server {} per system, {CONNECTIONS} connections; the peer is \
             Express + express-session + connect-redis on one Node {} process",
            support::redis_version(),
            node_version()
        ),
    );
    out.push_str(
        "| case | req/s | p50 | p99 | server CPU per request | of which redis |\n|---|---:|---:|---:|---:|---:|\n",
    );
    row(&mut out, "sessattr get (decrypt)", &runs.get_sessattr, true);
    row(
        &mut out,
        "peer get (read one session attribute)",
        &runs.get_peer,
        true,
    );
    row(
        &mut out,
        "sessattr create (encrypted, 64 B)",
        &runs.create_sessattr,
        true,
    );
    row(
        &mut out,
        "peer set (one session attribute, 64 B)",
        &runs.create_peer,
        true,
    );
    out.push_str("\n| target | measured | verdict |\n|---|---:|---|\n");
    for (verb, ours, theirs) in [
        ("get", &runs.get_sessattr, &runs.get_peer),
        ("create", &runs.create_sessattr, &runs.create_peer),
    ] {
        let rate = median_rate(ours) / median_rate(theirs);
        let cpu = median_cpu(ours) / median_cpu(theirs);
        let (p99, peer_p99) = (median_p99(ours), median_p99(theirs));
        let _ = writeln!(
            out,
            "| {verb}: ≥ 5× the peer's req/s | {rate:.1}× | {} |",
            verdict(rate >= 5.0)
        );
        let _ = writeln!(
            out,
            "| {verb}: ≤ 1/5 of the peer's server CPU per request | 1/{:.1} | {} |",
            1.0 / cpu,
            verdict(cpu <= 0.2)
        );
        let _ = writeln!(
            out,
            "| {verb}: lower p99 than the peer | {p99:.2} ms vs {peer_p99:.2} ms | {} |",
            verdict(p99 < peer_p99)
        );
    }
    out
}

fn render_memory(runs: &MemoryRuns, pace: Pace) -> String {
    let mib = |values: &[f64]| {
        let spread = Spread::of(values.iter().map(|v| v / f64::from(1 << 20)));
        format!("{} MiB", spread.show(1))
    };
    let peak = Spread::of(runs.busy.iter().copied()).median;
    let module = std::fs::metadata(common::built_module()).map_or(0, |m| m.len());
    let mut out = format!(
        "Measured {} by `cargo xtask bench load` (machine above): the host on redb with {SESSIONS} \
         sessions; peak RSS sampled every 100 ms while wrk holds {MANY_CONNECTIONS} keep-alive \
         connections doing gets for {} s ({} req/s); median of {} runs (min–max).\n\n",
        support::today(),
        pace.measured.as_secs(),
        Spread::of(runs.busy_rate.iter().copied()).show(0),
        pace.runs,
    );
    out.push_str("| figure | measured | target | verdict |\n|---|---:|---:|---|\n");
    let _ = writeln!(out, "| host RSS, idle | {} | | |", mib(&runs.idle));
    let _ = writeln!(
        out,
        "| host RSS, {MANY_CONNECTIONS} connections | {} | ≤ 150 MiB | {} |",
        mib(&runs.busy),
        verdict(peak <= RSS_TARGET as f64)
    );
    let _ = writeln!(
        out,
        "| module, raw | {:.1} KiB | ≤ 400 KiB | {} |",
        module as f64 / 1024.0,
        verdict(module <= 400 * 1024)
    );
    out
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
