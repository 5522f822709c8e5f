//! Throughput of the create call on a Redis Cluster with one host and with
//! two hosts (same machine, same total concurrency): `cargo xtask bench
//! redis-cluster` runs it and rewrites its table in docs/BENCHMARKS.md.
//!
//! Each case: a fresh 3-master cluster of Debian's `redis-server`, the real
//! `sessattr` binary(ies) on it, 256 target sessions, and `wrk` at 64
//! connections: 2 s of warm-up, then 10 s measured, 3 runs. Every request
//! is a create of a new name with an encrypted 64-byte value (so each one
//! writes); any answer other than 200 fails the run. Besides req/s and
//! latency, the CPU time of the server processes (hosts and redis-servers,
//! from `/proc/PID/stat`) per request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::redis::RedisCluster;
use common::{Server, add_user, client, login};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Bn01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Bn02";
const CONNECTIONS: usize = 64;
const SESSIONS: usize = 256;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURED: Duration = Duration::from_secs(10);
const RUNS: usize = 3;

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
    /// The redis-servers' share of it.
    redis_cpu_us_per_request: f64,
}

/// What `wrk` reported.
struct WrkReport {
    requests: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick pass: one short run per case.
    let quick = !std::env::args().any(|a| a == "--bench");
    for tool in ["wrk", "redis-server", "redis-cli"] {
        let found = Command::new(tool).arg("--version").output().is_ok();
        assert!(found, "{tool} is missing: `cargo xtask bench` installs it");
    }
    let (runs, measured) = if quick {
        (1, Duration::from_secs(1))
    } else {
        (RUNS, MEASURED)
    };
    let mut table = Vec::new();
    for hosts in [1, 2] {
        let results: Vec<Run> = (0..runs).map(|_| one_run(hosts, measured)).collect();
        eprintln!("{hosts} host(s): {results:?}");
        table.push((hosts, results));
    }
    let text = render(&table, measured);
    print!("{text}");
    if !quick {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/BENCHMARKS.md");
        replace_section(&doc, "redis-cluster", &text);
        eprintln!("rewrote the redis-cluster table of {}", doc.display());
    }
}

/// Starts a cluster and `hosts` servers, fills sessions, runs wrk.
fn one_run(hosts: usize, measured: Duration) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("sessattr.toml"),
        format!("store = \"{}\"\n", cluster.url()),
    )
    .unwrap();
    let cli_log = tmp.path().join("cli.log");
    add_user(&data, &cli_log, "admin", ADMIN_PASSWORD, true);
    add_user(&data, &cli_log, "alice", ALICE_PASSWORD, false);
    let servers: Vec<Server> = (0..hosts)
        .map(|i| Server::start(&data, &tmp.path().join(format!("host{i}.log")), &[]))
        .collect();
    let http = client();
    let admin = login(&http, &servers[0], "admin", ADMIN_PASSWORD);
    let targets: Vec<String> = (0..SESSIONS)
        .map(|i| login(&http, &servers[i % hosts], "alice", ALICE_PASSWORD))
        .collect();
    let script = write_script(tmp.path(), &admin, &targets);

    let per_host = CONNECTIONS / hosts;
    let _ = wrk_all(&servers, &script, per_host, WARM_UP, "warm");
    let hosts: Vec<u32> = servers.iter().map(Server::pid).collect();
    let redis: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    let (hosts_before, redis_before) = (cpu_micros(&hosts), cpu_micros(&redis));
    let reports = wrk_all(&servers, &script, per_host, measured, "run");
    let redis_cpu = cpu_micros(&redis) - redis_before;
    let cpu = cpu_micros(&hosts) - hosts_before + redis_cpu;
    for server in servers {
        assert!(server.stop().success());
    }
    let requests: u64 = reports.iter().map(|r| r.requests).sum();
    let weighted = |f: fn(&WrkReport) -> f64| {
        reports
            .iter()
            .map(|r| f(r) * r.requests as f64)
            .sum::<f64>()
            / requests as f64
    };
    Run {
        requests_per_sec: reports.iter().map(|r| r.requests as f64 / r.seconds).sum(),
        p50_ms: weighted(|r| r.p50_ms),
        p99_ms: reports.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        cpu_us_per_request: cpu as f64 / requests as f64,
        redis_cpu_us_per_request: redis_cpu as f64 / requests as f64,
    }
}

/// The wrk script: each request creates a new name on one of the target
/// sessions, in turn, with an encrypted 64-byte value.
fn write_script(dir: &Path, admin: &str, targets: &[String]) -> PathBuf {
    let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let value = "v".repeat(64);
    let script = format!(
        r#"local targets = {{{list}}}
local n = 0
function init(args)
  salt = args[1]
end
function request()
  n = n + 1
  local target = targets[(n % #targets) + 1]
  local body = '{{"current_ust":"{admin}","target_ust":"' .. target ..
    '","current_app":"CRM","name":"n' .. salt .. '-' .. n ..
    '","value":"{value}","encrypt":true}}'
  return wrk.format("POST", "/zato/sso/session/attr",
    {{["Content-Type"] = "application/json"}}, body)
end
"#,
        list = list.join(","),
    );
    let path = dir.join("create.lua");
    std::fs::write(&path, script).unwrap();
    path
}

/// Runs one wrk per server at the same time for `duration`.
fn wrk_all(
    servers: &[Server],
    script: &Path,
    connections: usize,
    duration: Duration,
    label: &str,
) -> Vec<WrkReport> {
    let children: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(index, server)| {
            let mut command = if Command::new("taskset").arg("-V").output().is_ok() {
                // The load generator on its own core where it can be.
                let mut c = Command::new("taskset");
                c.args(["-c", "1", "wrk"]);
                c
            } else {
                Command::new("wrk")
            };
            command
                .args(["-t", "1", "-c", &connections.to_string()])
                .args(["-d", &format!("{}s", duration.as_secs().max(1))])
                .args(["--timeout", "10s", "--latency", "-s"])
                .arg(script)
                .arg(&server.base)
                // Names are unique per wrk process and phase.
                .args(["--", &format!("{label}{index}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn wrk")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(output.status.success(), "wrk ({label}) failed: {text}");
            assert!(
                !text.contains("Non-2xx"),
                "wrk ({label}) saw answers other than 200:\n{text}"
            );
            assert!(!text.contains("Socket errors"), "wrk ({label}):\n{text}");
            parse_wrk(&text)
        })
        .collect()
}

fn parse_wrk(text: &str) -> WrkReport {
    let ms = |value: &str| -> f64 {
        let (number, unit) = value.split_at(value.find(|c: char| c.is_alphabetic()).unwrap());
        let number: f64 = number.parse().unwrap();
        match unit {
            "us" => number / 1_000.0,
            "ms" => number,
            "s" => number * 1_000.0,
            other => panic!("unit {other}"),
        }
    };
    let percentile = |p: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p))
            .map(|rest| ms(rest.trim()))
            .unwrap_or_else(|| panic!("no {p} in:\n{text}"))
    };
    // "  123456 requests in 10.00s, 12.34MB read"
    let line = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .unwrap_or_else(|| panic!("no request count in:\n{text}"));
    let mut words = line.split_whitespace();
    let requests: u64 = words.next().unwrap().parse().unwrap();
    let seconds = words
        .nth(2)
        .unwrap()
        .trim_end_matches(',')
        .trim_end_matches('s')
        .parse()
        .unwrap();
    WrkReport {
        requests,
        seconds,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    }
}

/// User + system CPU time of `pids`, in microseconds.
fn cpu_micros(pids: &[u32]) -> u64 {
    let ticks_per_sec = 100; // USER_HZ on Linux
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            // Fields after the command name (which is in parentheses).
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields[11].parse().unwrap();
            let stime: u64 = fields[12].parse().unwrap();
            (utime + stime) * 1_000_000 / ticks_per_sec
        })
        .sum()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn render(table: &[(usize, Vec<Run>)], measured: Duration) -> String {
    let mut out = String::new();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Measured {date} by `cargo xtask bench redis-cluster`: a 3-master cluster of \
         redis-server {}, {CONNECTIONS} connections in total (split evenly over the hosts), \
         {} s after {} s of warm-up, median of {} runs (min–max).\n",
        redis_version(),
        measured.as_secs(),
        WARM_UP.as_secs(),
        table.first().map_or(0, |(_, runs)| runs.len()),
    );
    let _ = writeln!(
        out,
        "| hosts | create req/s | vs 1 host | p50 | p99 | server CPU per request | of which redis |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let mut first = None;
    for (hosts, runs) in table {
        let mut rps: Vec<f64> = runs.iter().map(|r| r.requests_per_sec).collect();
        let (min, max) = (
            rps.iter().copied().fold(f64::MAX, f64::min),
            rps.iter().copied().fold(0.0, f64::max),
        );
        let rps_median = median(&mut rps);
        let base = *first.get_or_insert(rps_median);
        let mut p50: Vec<f64> = runs.iter().map(|r| r.p50_ms).collect();
        let mut p99: Vec<f64> = runs.iter().map(|r| r.p99_ms).collect();
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu_us_per_request).collect();
        let mut redis: Vec<f64> = runs.iter().map(|r| r.redis_cpu_us_per_request).collect();
        let _ = writeln!(
            out,
            "| {hosts} | {rps_median:.0} ({min:.0}–{max:.0}) | {:.2}× | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} µs |",
            rps_median / base,
            median(&mut p50),
            median(&mut p99),
            median(&mut cpu),
            median(&mut redis),
        );
    }
    out
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

/// Replaces what is between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn replace_section(doc: &Path, name: &str, text: &str) {
    let current = std::fs::read_to_string(doc).unwrap();
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = current.find(&begin).expect("begin marker") + begin.len();
    let stop = current.find(&end).expect("end marker");
    let next = format!("{}\n{text}{}", &current[..start], &current[stop..]);
    std::fs::write(doc, next).unwrap();
}
