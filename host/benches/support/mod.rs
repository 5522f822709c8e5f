//! What the load benchmarks share: `wrk` runs and their reports, the CPU
//! time and memory of server processes from `/proc`, medians, and the
//! rewriting of a table in docs/BENCHMARKS.md.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Connections of every load run (the issue's fixed concurrency).
pub const CONNECTIONS: usize = 64;

/// How long a case runs: `cargo bench` passes `--bench`, `cargo test
/// --benches` passes nothing and wants a quick pass.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Runs per case.
    pub runs: usize,
    /// Warm-up before each measured run.
    pub warm_up: Duration,
    /// The measured run.
    pub measured: Duration,
    /// True for the quick pass (nothing is written to the doc).
    pub quick: bool,
}

impl Pace {
    /// The pace this process was started for.
    pub fn from_args() -> Self {
        let quick = !std::env::args().any(|a| a == "--bench");
        if quick {
            Self {
                runs: 1,
                warm_up: Duration::from_secs(1),
                measured: Duration::from_secs(1),
                quick,
            }
        } else {
            Self {
                runs: 3,
                warm_up: Duration::from_secs(1),
                measured: Duration::from_secs(10),
                quick,
            }
        }
    }
}

/// What one `wrk` reported.
#[derive(Debug, Clone, Copy)]
pub struct WrkReport {
    /// Requests completed.
    pub requests: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// Latency percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

impl WrkReport {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Checks that the load tools are on PATH.
pub fn require_tools(tools: &[&str]) {
    for tool in tools {
        let found = Command::new(tool).arg("--version").output().is_ok();
        assert!(found, "{tool} is missing: `cargo xtask bench` installs it");
    }
}

/// A `wrk` with one thread and `connections` connections against `base`
/// for `duration`, driven by `script` (given `label` as its argument),
/// pinned to CPU 1 where `taskset` exists.
pub fn spawn_wrk(
    base: &str,
    script: &Path,
    connections: usize,
    duration: Duration,
    label: &str,
) -> Child {
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
        .arg(base)
        .args(["--", label])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wrk")
}

/// Waits for a `wrk` and reads its report; any answer other than 2xx, or
/// a socket error, fails the benchmark.
pub fn finish_wrk(child: Child, label: &str) -> WrkReport {
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk ({label}) failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "wrk ({label}) saw answers other than 2xx:\n{text}"
    );
    assert!(!text.contains("Socket errors"), "wrk ({label}):\n{text}");
    parse_wrk(&text)
}

/// Runs one `wrk` to its end ([`spawn_wrk`] then [`finish_wrk`]).
pub fn wrk(
    base: &str,
    script: &Path,
    connections: usize,
    duration: Duration,
    label: &str,
) -> WrkReport {
    finish_wrk(spawn_wrk(base, script, connections, duration, label), label)
}

/// Reads wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> WrkReport {
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
    // wrk writes the run's length as `10.00s`, `1.00m` or `1.00h`.
    let length = words.nth(2).unwrap().trim_end_matches(',');
    let (number, unit) = length.split_at(length.len() - 1);
    let number: f64 = number.parse().unwrap();
    let seconds = match unit {
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => panic!("unit {other} in {line:?}"),
    };
    WrkReport {
        requests,
        seconds,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    }
}

/// User + system CPU time of `pids` (and of their threads), in microseconds.
pub fn cpu_micros(pids: &[u32]) -> u64 {
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

/// The resident set of `pid`, in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// Median, min and max of `values` (not empty).
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    /// The median (the upper one of an even count).
    pub median: f64,
    /// The least value.
    pub min: f64,
    /// The greatest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().collect();
        assert!(!values.is_empty(), "no values");
        values.sort_by(f64::total_cmp);
        Self {
            median: values[values.len() / 2],
            min: values[0],
            max: values[values.len() - 1],
        }
    }

    /// `1234 (1200–1300)`, with `decimals` decimals.
    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = decimals
        )
    }
}

/// Today (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The version of Debian's `redis-server`.
pub fn redis_version() -> String {
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

/// docs/BENCHMARKS.md.
pub fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/BENCHMARKS.md")
}

/// Replaces what is between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// of docs/BENCHMARKS.md with `text`.
pub fn replace_section(name: &str, text: &str) {
    let doc = doc_path();
    let current = std::fs::read_to_string(&doc).unwrap();
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = current
        .find(&begin)
        .unwrap_or_else(|| panic!("no {begin} in {}", doc.display()))
        + begin.len();
    let stop = current
        .find(&end)
        .unwrap_or_else(|| panic!("no {end} in {}", doc.display()));
    let next = format!("{}\n{text}{}", &current[..start], &current[stop..]);
    std::fs::write(&doc, next).unwrap();
    eprintln!("rewrote the {name} table of {}", doc.display());
}

/// A server process other than `sessattr` (the bare axum baseline, the
/// Node peer), killed when dropped.
pub struct Baseline {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Baseline {
    /// Spawns `command` and waits (60 s at most) until it prints a line
    /// `listening on http://ADDR` or `listening PORT` on its stdout.
    pub fn start(command: &mut Command) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {command:?}: {err}"));
        let stdout = child.stdout.take().unwrap();
        let (found, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let base = line
                    .strip_prefix("listening on ")
                    .map(str::to_owned)
                    .or_else(|| {
                        let port = line.strip_prefix("listening ")?;
                        Some(format!("http://127.0.0.1:{}", port.trim()))
                    });
                if let (false, Some(base)) = (sent, base) {
                    sent = found.send(base).is_ok();
                }
            }
        });
        let base = ready
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{command:?} did not say it listens"));
        Self { child, base }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measured load run: rate, latency, and the server processes' CPU.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Requests per second.
    pub rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// CPU time of every server process per request, µs.
    pub cpu_us: f64,
    /// The share of it of the `store` processes (redis-server), µs.
    pub store_cpu_us: f64,
}

/// Warms up, then measures one `wrk` run against `base`; the CPU time of
/// `servers` and `stores` (processes) counts over the measured run.
pub fn measure(
    base: &str,
    script: &Path,
    servers: &[u32],
    stores: &[u32],
    pace: Pace,
    label: &str,
) -> Measured {
    let _ = wrk(
        base,
        script,
        CONNECTIONS,
        pace.warm_up,
        &format!("w{label}"),
    );
    let (server_before, store_before) = (cpu_micros(servers), cpu_micros(stores));
    let report = wrk(
        base,
        script,
        CONNECTIONS,
        pace.measured,
        &format!("m{label}"),
    );
    let store_cpu = cpu_micros(stores) - store_before;
    let cpu = cpu_micros(servers) - server_before + store_cpu;
    let requests = report.requests.max(1) as f64;
    Measured {
        rate: report.rate(),
        p50_ms: report.p50_ms,
        p99_ms: report.p99_ms,
        cpu_us: cpu as f64 / requests,
        store_cpu_us: store_cpu as f64 / requests,
    }
}

/// The config file of a benchmark's data dir: the store (redb when
/// `None`), and cheap argon2 costs, since the 256 logins of the set-up are
/// not what is measured.
pub fn write_config(data_dir: &Path, store: Option<&str>) {
    std::fs::create_dir_all(data_dir).unwrap();
    let mut text = String::from("[argon2]\nm_cost = 256\nt_cost = 1\np_cost = 1\n");
    if let Some(url) = store {
        text.insert_str(0, &format!("store = \"{url}\"\n"));
    }
    std::fs::write(data_dir.join("sessattr.toml"), text).unwrap();
}

/// A Lua list of strings.
fn lua_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|t| format!("\"{t}\"")).collect();
    format!("{{{}}}", quoted.join(","))
}

/// The value every benchmark writes: 64 bytes.
pub fn value_64() -> String {
    "v".repeat(64)
}

/// Writes `dir/file`: a wrk script whose requests go round `items` in
/// turn (`item` in `request_body`, the Lua of `request()` after it is
/// picked), numbered by `n`, with the wrk label of the run in `salt`.
fn round_robin_script(dir: &Path, file: &str, items: &[String], request_body: &str) -> PathBuf {
    let script = format!(
        r#"local items = {list}
local n = 0
function init(args)
  salt = args[1]
end
function request()
  n = n + 1
  local item = items[(n % #items) + 1]
  {request_body}
end
"#,
        list = lua_list(items),
    );
    let path = dir.join(file);
    std::fs::write(&path, script).unwrap();
    path
}

/// A wrk script of sessattr creates: each request creates a new name (its
/// wrk label and a counter) on one of `targets` in turn, with an
/// encrypted 64-byte value, on behalf of the super-user session `admin`.
pub fn create_script(dir: &Path, admin: &str, targets: &[String]) -> PathBuf {
    let request = format!(
        r#"local body = '{{"current_ust":"{admin}","target_ust":"' .. item ..
    '","current_app":"CRM","name":"n' .. salt .. '-' .. n ..
    '","value":"{value}","encrypt":true}}'
  return wrk.format("POST", "/zato/sso/session/attr",
    {{["Content-Type"] = "application/json"}}, body)"#,
        value = value_64(),
    );
    round_robin_script(dir, "create.lua", targets, &request)
}

/// A wrk script of sessattr gets: each request reads (and decrypts)
/// attribute `name` of one of `targets` in turn, its fields in the query
/// string (USTs are URL-safe).
pub fn get_script(dir: &Path, admin: &str, targets: &[String], name: &str) -> PathBuf {
    let request = format!(
        r#"return wrk.format("GET", "/zato/sso/session/attr?current_ust={admin}&target_ust=" ..
    item .. "&current_app=CRM&name={name}")"#
    );
    round_robin_script(dir, "get.lua", targets, &request)
}

/// A wrk script of the Node peer: each request carries one of `cookies`
/// in turn; creates POST a new name with the 64-byte value, gets read
/// attribute `a`.
pub fn peer_script(dir: &Path, cookies: &[String], create: bool) -> PathBuf {
    if create {
        let request = format!(
            r#"local body = '{{"name":"n' .. salt .. '-' .. n .. '","value":"{value}"}}'
  return wrk.format("POST", "/attr",
    {{["Content-Type"] = "application/json", ["Cookie"] = item}}, body)"#,
            value = value_64()
        );
        round_robin_script(dir, "peer-create.lua", cookies, &request)
    } else {
        let request = r#"return wrk.format("GET", "/attr?name=a", {["Cookie"] = item})"#;
        round_robin_script(dir, "peer-get.lua", cookies, request)
    }
}

/// A host started by [`seeded_host`]: the admin's UST and the target
/// sessions it seeded.
pub struct Seeded {
    /// The running host.
    pub server: crate::common::Server,
    /// The super-user's UST.
    pub admin: String,
    /// Alice's sessions, each holding the seeded attribute.
    pub targets: Vec<String>,
}

/// Starts a host on `data` (configured already) with `extra` serve flags,
/// users `admin` and `alice` with these passwords, and `sessions` sessions
/// of alice, each holding attribute `name` (encrypted, 64 B).
pub fn seeded_host(
    data: &Path,
    log: &Path,
    extra: &[&str],
    passwords: (&str, &str),
    sessions: usize,
    name: &str,
) -> Seeded {
    use crate::common::{Server, add_user, client, login, send_json};
    let (admin_password, alice_password) = passwords;
    add_user(data, log, "admin", admin_password, true);
    add_user(data, log, "alice", alice_password, false);
    let server = Server::start(data, log, extra);
    let http = client();
    let admin = login(&http, &server, "admin", admin_password);
    let targets: Vec<String> = (0..sessions)
        .map(|_| login(&http, &server, "alice", alice_password))
        .collect();
    for target in &targets {
        let create = serde_json::json!({
            "current_ust": admin, "target_ust": target, "current_app": "CRM",
            "name": name, "value": value_64(), "encrypt": true,
        });
        send_json(
            &http,
            "POST",
            &server.url("/zato/sso/session/attr"),
            &create,
        )
        .assert_ok();
    }
    Seeded {
        server,
        admin,
        targets,
    }
}
