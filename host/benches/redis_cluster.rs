//! Throughput of the create call on a Redis Cluster with one host and with
//! two hosts (same machine, same total concurrency): `cargo xtask bench
//! redis-cluster` runs it and rewrites its table in docs/BENCHMARKS.md.
//!
//! Each case: a fresh 3-master cluster of Debian's `redis-server`, the real
//! `sessattr` binary(ies) on it, 256 target sessions, and `wrk` at 64
//! connections: 1 s of warm-up, then 10 s measured, 3 runs. Every request
//! is a create of a new name with an encrypted 64-byte value (so each one
//! writes); any answer other than 200 fails the run. Besides req/s and
//! latency, the CPU time of the server processes (hosts and redis-servers,
//! from `/proc/PID/stat`) per request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use common::redis::RedisCluster;
use common::{Server, add_user, client, login};
use support::{CONNECTIONS, Pace, Spread, WrkReport, cpu_micros};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Bn01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Bn02";
const SESSIONS: usize = 256;

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

fn main() {
    let pace = Pace::from_args();
    support::require_tools(&["wrk", "redis-server", "redis-cli"]);
    let mut table = Vec::new();
    for hosts in [1, 2] {
        let results: Vec<Run> = (0..pace.runs).map(|_| one_run(hosts, pace)).collect();
        eprintln!("{hosts} host(s): {results:?}");
        table.push((hosts, results));
    }
    let text = render(&table, pace);
    print!("{text}");
    if !pace.quick {
        support::replace_section("redis-cluster", &text);
    }
}

/// Starts a cluster and `hosts` servers, fills sessions, runs wrk.
fn one_run(hosts: usize, pace: Pace) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = tmp.path().join("data");
    support::write_config(&data, Some(&cluster.url()));
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
    let script = support::create_script(tmp.path(), &admin, &targets);

    let per_host = CONNECTIONS / hosts;
    let _ = wrk_all(&servers, &script, per_host, pace.warm_up, "warm");
    let hosts: Vec<u32> = servers.iter().map(Server::pid).collect();
    let redis: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    let (hosts_before, redis_before) = (cpu_micros(&hosts), cpu_micros(&redis));
    let reports = wrk_all(&servers, &script, per_host, pace.measured, "run");
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
        requests_per_sec: reports.iter().map(WrkReport::rate).sum(),
        p50_ms: weighted(|r| r.p50_ms),
        p99_ms: reports.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        cpu_us_per_request: cpu as f64 / requests as f64,
        redis_cpu_us_per_request: redis_cpu as f64 / requests as f64,
    }
}

/// Runs one wrk per server at the same time for `duration`.
fn wrk_all(
    servers: &[Server],
    script: &Path,
    connections: usize,
    duration: Duration,
    label: &str,
) -> Vec<WrkReport> {
    // Names are unique per wrk process and phase.
    let children: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(index, server)| {
            let label = format!("{label}{index}");
            let child = support::spawn_wrk(&server.base, script, connections, duration, &label);
            (child, label)
        })
        .collect();
    children
        .into_iter()
        .map(|(child, label)| support::finish_wrk(child, &label))
        .collect()
}

fn render(table: &[(usize, Vec<Run>)], pace: Pace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} by `cargo xtask bench redis-cluster` (machine above): a 3-master cluster of \
         redis-server {}, {CONNECTIONS} connections in total (split evenly over the hosts), \
         {} s after {} s of warm-up, median of {} runs (min–max).\n",
        support::today(),
        support::redis_version(),
        pace.measured.as_secs(),
        pace.warm_up.as_secs(),
        pace.runs,
    );
    let _ = writeln!(
        out,
        "| hosts | create req/s | vs 1 host | p50 | p99 | server CPU per request | of which redis |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let mut first = None;
    for (hosts, runs) in table {
        let rate = Spread::of(runs.iter().map(|r| r.requests_per_sec));
        let base = *first.get_or_insert(rate.median);
        let median = |f: fn(&Run) -> f64| Spread::of(runs.iter().map(f)).median;
        let _ = writeln!(
            out,
            "| {hosts} | {} | {:.2}× | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} µs |",
            rate.show(0),
            rate.median / base,
            median(|r| r.p50_ms),
            median(|r| r.p99_ms),
            median(|r| r.cpu_us_per_request),
            median(|r| r.redis_cpu_us_per_request),
        );
    }
    out
}
