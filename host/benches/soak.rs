//! The soak run (`cargo xtask soak --minutes N`, issue 10): the host on its
//! default redb store under mixed traffic for N minutes, from `wrk` at 64
//! connections in rounds of one minute, every answer checked.
//!
//! The traffic, request by request in turn over 64 target sessions: creates
//! of new names (encrypted, expiring after 20 s, so sessions stay under
//! their attribute limit while the sweeper purges), sets, batch sets of
//! five, updates, deletes, gets (decrypting), exists and names, and one
//! login in a hundred. Every request is one that must succeed: any answer
//! other than 2xx, or a socket error, is an error, and the run must end
//! with none.
//!
//! The host's RSS is sampled every second. After the first round (warm-up:
//! caches, the instance pool, the allocator's arenas), the peak RSS of
//! every later round must stay within [`RSS_GROWTH_PERCENT`] % (plus
//! [`RSS_GROWTH_SLACK`]) of the second round's: flat, not growing.
//!
//! `cargo test --benches` makes a 10 s pass (errors checked, RSS reported,
//! not judged); `cargo xtask soak` passes `--bench` and the minutes in
//! `SESSATTR_SOAK_MINUTES`, and writes its table into docs/BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::Server;

const ADMIN_PASSWORD: &str = "admin-Pa55word-Sk01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Sk02";
/// Target sessions the traffic goes round.
const SESSIONS: usize = 64;
/// Connections of wrk.
const CONNECTIONS: usize = 64;
/// The attribute every target holds from the start (updated, read).
const KEPT: &str = "kept";
/// Most growth of a round's peak RSS over the second round's, in percent.
const RSS_GROWTH_PERCENT: u64 = 10;
/// Growth always allowed on top (allocator and page-cache noise).
const RSS_GROWTH_SLACK: u64 = 8 << 20;

/// One round's figures.
struct Round {
    requests: u64,
    errors: u64,
    p99_ms: f64,
    rss_min: u64,
    rss_max: u64,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, round_length) = if full {
        let minutes: u64 = std::env::var("SESSATTR_SOAK_MINUTES")
            .ok()
            .and_then(|m| m.parse().ok())
            .filter(|&m| m > 0)
            .unwrap_or(10);
        (minutes, Duration::from_secs(60))
    } else {
        (2, Duration::from_secs(5))
    };
    support::require_tools(&["wrk"]);
    let tmp = tempfile::tempdir().unwrap();
    let (server, script) = start(tmp.path());
    let pid = server.pid();
    eprintln!("soak: {rounds} round(s) of {round_length:?}, {CONNECTIONS} connections, pid {pid}");
    let mut table = Vec::new();
    for round in 0..rounds {
        let wrk = support::spawn_wrk(
            &server.base,
            &script,
            CONNECTIONS,
            round_length,
            &format!("r{round}"),
        );
        let (rss_min, rss_max) = sample_rss(pid, round_length);
        let (requests, errors, p99_ms) = finish_wrk(wrk);
        eprintln!(
            "soak: round {}: {requests} requests, {errors} errors, p99 {p99_ms:.1} ms, RSS {}–{} MiB",
            round + 1,
            rss_min >> 20,
            rss_max >> 20
        );
        table.push(Round {
            requests,
            errors,
            p99_ms,
            rss_min,
            rss_max,
        });
    }
    let log = common::read_to_string(&server.log);
    assert!(server.stop().success(), "the host did not stop cleanly");
    assert!(
        !log.contains("panicked"),
        "the host panicked during the soak"
    );
    let errors: u64 = table.iter().map(|r| r.errors).sum();
    let text = render(&table, round_length);
    println!("soak:\n{text}");
    assert_eq!(errors, 0, "the soak saw {errors} errors");
    if full {
        check_flat(&table);
        support::replace_section("soak", &text);
    }
}

/// A host with [`SESSIONS`] target sessions each holding [`KEPT`], and the
/// wrk script of the traffic.
fn start(dir: &Path) -> (Server, PathBuf) {
    let data = dir.join("data");
    support::write_config(&data, None);
    // Sessions outlive any soak; the sweeper runs often.
    let config = data.join("sessattr.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.insert_str(0, "session_lifetime = 172800\nsweep_interval = 5\n");
    std::fs::write(&config, text).unwrap();
    let log = dir.join("host.log");
    let passwords = (ADMIN_PASSWORD, ALICE_PASSWORD);
    let support::Seeded {
        server,
        admin,
        targets,
    } = support::seeded_host(&data, &log, &[], passwords, SESSIONS, KEPT);
    let script = script(dir, &admin, &targets);
    (server, script)
}

/// The wrk script: request `n` goes to target `n mod 64` and is of kind
/// `n mod 20`.
fn script(dir: &Path, admin: &str, targets: &[String]) -> PathBuf {
    let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let value = support::value_64();
    let text = format!(
        r#"local targets = {{{targets}}}
local n = 0
local attr = "/zato/sso/session/attr"
local json = {{["Content-Type"] = "application/json"}}
function init(args)
  salt = args[1]
end
local function on(target)
  return '"current_ust":"{admin}","target_ust":"' .. target .. '","current_app":"CRM"'
end
function request()
  n = n + 1
  local target = targets[(n % #targets) + 1]
  local kind = n % 20
  local fixed = "s" .. (n % 8)
  if kind < 4 then
    return wrk.format("POST", attr, json, '{{' .. on(target) .. ',"name":"c' .. salt .. '-' .. n ..
      '","value":"{value}","encrypt":true,"expiration":20}}')
  elseif kind < 6 then
    return wrk.format("PUT", attr, json, '{{' .. on(target) .. ',"name":"' .. fixed ..
      '","value":"v' .. n .. '","encrypt":' .. tostring(n % 3 == 0) .. '}}')
  elseif kind == 6 then
    local items = {{}}
    for i = 1, 5 do
      items[i] = '{{"name":"b' .. i .. '","value":"batch-' .. n .. '"}}'
    end
    return wrk.format("PUT", attr, json, '{{' .. on(target) .. ',"data":[' .. table.concat(items, ",") .. ']}}')
  elseif kind == 7 then
    return wrk.format("PATCH", attr, json, '{{' .. on(target) .. ',"name":"{kept}","value":"u' .. n .. '","expiration":3600}}')
  elseif kind == 8 then
    return wrk.format("DELETE", attr, json, '{{' .. on(target) .. ',"name":"s' .. ((n + 3) % 8) .. '"}}')
  elseif kind == 9 then
    return wrk.format("GET", attr .. "/exists?current_ust={admin}&target_ust=" .. target ..
      "&current_app=CRM&data=b1&data=" .. fixed)
  elseif kind == 10 then
    return wrk.format("GET", attr .. "/names?current_ust={admin}&target_ust=" .. target .. "&current_app=CRM")
  elseif kind == 11 and n % 100 == 11 then
    return wrk.format("POST", "/zato/sso/user/login", json,
      '{{"username":"alice","password":"{alice}","current_app":"CRM"}}')
  else
    return wrk.format("GET", attr .. "?current_ust={admin}&target_ust=" .. target ..
      "&current_app=CRM&name=" .. ((n % 2 == 0) and "{kept}" or fixed))
  end
end
"#,
        targets = list.join(","),
        kept = KEPT,
        alice = ALICE_PASSWORD,
    );
    let path = dir.join("soak.lua");
    std::fs::write(&path, text).unwrap();
    path
}

/// Requests, errors (non-2xx answers and socket errors) and p99 of a wrk.
fn finish_wrk(child: Child) -> (u64, u64, f64) {
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    let report = support::parse_wrk(&text);
    let non_2xx: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .map_or(0, |n| n.trim().parse().unwrap());
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map_or(0, |rest| {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        });
    if non_2xx + socket > 0 {
        eprintln!("soak: wrk saw errors:\n{text}");
    }
    (report.requests, non_2xx + socket, report.p99_ms)
}

/// The least and the most RSS of `pid`, sampled every second for `length`.
fn sample_rss(pid: u32, length: Duration) -> (u64, u64) {
    let started = Instant::now();
    let (mut least, mut most) = (u64::MAX, 0);
    while started.elapsed() < length {
        let rss = support::rss_bytes(pid);
        least = least.min(rss);
        most = most.max(rss);
        std::thread::sleep(Duration::from_secs(1));
    }
    (least, most)
}

/// Fails when a round after the second peaks more than the allowed growth
/// above the second round's peak.
fn check_flat(table: &[Round]) {
    let Some(reference) = table.get(1).map(|r| r.rss_max) else {
        return;
    };
    let allowed = reference + reference * RSS_GROWTH_PERCENT / 100 + RSS_GROWTH_SLACK;
    for (index, round) in table.iter().enumerate().skip(2) {
        assert!(
            round.rss_max <= allowed,
            "RSS grew: round {} peaked at {} MiB, over {} MiB (round 2's {} MiB + {RSS_GROWTH_PERCENT} % + {} MiB)",
            index + 1,
            round.rss_max >> 20,
            allowed >> 20,
            reference >> 20,
            RSS_GROWTH_SLACK >> 20
        );
    }
}

fn render(table: &[Round], round_length: Duration) -> String {
    let mut text = format!(
        "Measured {} by `cargo xtask soak --minutes {}` (machine above): the host on redb, \
         {CONNECTIONS} connections of mixed traffic (creates, sets, batch sets, updates, deletes, \
         gets, exists, names, logins) over {SESSIONS} sessions, rounds of {} s; RSS sampled every second.\n\n\
         | round | requests | req/s | errors | p99 | RSS min | RSS max |\n|---:|---:|---:|---:|---:|---:|---:|\n",
        support::today(),
        table.len() as u64 * round_length.as_secs() / 60,
        round_length.as_secs()
    );
    for (index, round) in table.iter().enumerate() {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {} | {:.1} ms | {:.1} MiB | {:.1} MiB |",
            index + 1,
            round.requests,
            round.requests as f64 / round_length.as_secs_f64(),
            round.errors,
            round.p99_ms,
            round.rss_min as f64 / 1048576.0,
            round.rss_max as f64 / 1048576.0,
        );
    }
    let errors: u64 = table.iter().map(|r| r.errors).sum();
    let _ = write!(text, "\nErrors: {errors} (must be 0). ");
    // The same rounds as `check_flat` compares: round 2's peak, then the last.
    match (table.get(1), table.get(2).and(table.last())) {
        (Some(reference), Some(last)) => {
            let _ = write!(
                text,
                "Peak RSS from round 2 to the last: {:.1} → {:.1} MiB \
                 (must stay within {RSS_GROWTH_PERCENT} % + {} MiB).",
                reference.rss_max as f64 / 1048576.0,
                last.rss_max as f64 / 1048576.0,
                RSS_GROWTH_SLACK >> 20
            );
        }
        _ => text.push_str("Memory not checked: that needs at least 3 rounds."),
    }
    text.push('\n');
    text
}
