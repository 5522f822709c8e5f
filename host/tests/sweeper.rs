//! The sweeper and the test clock through the real binary: expired
//! attributes stay in the store (invisible) until the sweeper purges them,
//! the sweeper and the rules read the same (test) clock, and the store
//! shrinks to exactly the live attributes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use sessattr_host::store::{RedbStore, Store};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Sw31";
const ALICE_PASSWORD: &str = "alice-Pa55word-Sw32";
const ATTR_PATH: &str = "/zato/sso/session/attr";
const CLOCK_PATH: &str = "/_sessattr/test/clock";
/// Attributes that expire, and how long they live.
const EXPIRING: usize = 20;
const EXPIRATION_SECS: u64 = 120;
/// Attributes without an expiration.
const KEPT: usize = 5;

/// `POST /_sessattr/test/clock {"advance_secs": secs}`.
fn advance(client: &reqwest::blocking::Client, server: &Server, secs: u64) -> Answer {
    send_json(
        client,
        "POST",
        &server.url(CLOCK_PATH),
        &json!({"advance_secs": secs}),
    )
}

/// Asserts an ok answer of the test clock and returns its `now`.
#[track_caller]
fn assert_clock_ok(answer: &Answer) -> String {
    answer.assert_ok();
    let now = answer.body["now"].as_str().expect("now").to_owned();
    let shape: Vec<bool> = now
        .chars()
        .enumerate()
        .map(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            _ => c.is_ascii_digit(),
        })
        .collect();
    assert!(
        now.len() == 26 && shape.iter().all(|ok| *ok),
        "bad now {now:?}"
    );
    now
}

/// Names of every attribute record in the store (all sessions), sorted.
fn stored_attribute_names(data: &Path) -> Vec<String> {
    let store = RedbStore::open(&data.join("sessattr.redb")).expect("open store");
    let mut names: Vec<String> = store
        .scan_prefix("sa:a:")
        .expect("scan")
        .into_iter()
        .map(|(key, _)| {
            let (_, name) = key.split_once("}:").expect("attribute key layout");
            name.to_owned()
        })
        .collect();
    names.sort();
    names
}

/// JSON log lines of `log`.
fn log_lines(log: &Path) -> Vec<Value> {
    read_to_string(log)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Records the sweeper reported purging, over all of `log`.
fn purged_total(log: &Path) -> u64 {
    log_lines(log)
        .iter()
        .filter(|l| l["message"] == "purged expired records")
        .map(|l| l["purged"].as_u64().expect("purged count"))
        .sum()
}

fn expiring_names() -> Vec<String> {
    (0..EXPIRING).map(|i| format!("t{i:02}")).collect()
}

fn kept_names() -> Vec<String> {
    (0..KEPT).map(|i| format!("keep{i}")).collect()
}

struct Env {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    dir: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    Env {
        data: tmp.path().join("data"),
        dir: tmp.path().to_path_buf(),
        _tmp: tmp,
    }
}

#[test]
fn the_store_shrinks_to_the_live_attributes() {
    let env = env();
    let cli_log = env.dir.join("cli.log");
    add_user(&env.data, &cli_log, "admin", ADMIN_PASSWORD, true);
    add_user(&env.data, &cli_log, "alice", ALICE_PASSWORD, false);

    // Run 1: a sweeper that will not run again, on a test clock.
    let log1 = env.dir.join("run1.log");
    let server = Server::start(
        &env.data,
        &log1,
        &[
            "--sweep-interval",
            "3600",
            "--test-clock",
            "--log-format",
            "json",
        ],
    );
    let client = client();
    let warned = log_lines(&log1).into_iter().any(|l| {
        l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("test clock enabled: "))
    });
    assert!(warned, "no test clock warning:\n{}", read_to_string(&log1));

    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    let url = server.url(ATTR_PATH);
    let data: Vec<Value> = expiring_names()
        .into_iter()
        .map(|name| json!({"name": name, "value": format!("value-of-{name}")}))
        .collect();
    send_json(
        &client,
        "POST",
        &url,
        &json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                "expiration": EXPIRATION_SECS, "data": data}),
    )
    .assert_ok();
    for name in kept_names() {
        send_json(
            &client,
            "POST",
            &url,
            &json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                    "name": name, "value": "kept"}),
        )
        .assert_ok();
    }
    let recreate = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                          "name": "t00", "value": "again", "expiration": 60});
    send_json(&client, "POST", &url, &recreate).assert_error(403, "E009001");

    // Bad input to the test clock: 400 E008002, the clock does not move.
    for body in [
        json!({}),
        json!({"advance_secs": -1}),
        json!({"advance_secs": 1.5}),
        json!({"advance_secs": "10"}),
        json!({"advance_secs": null}),
        json!({"advance_secs": 315_360_001}),
        json!([10]),
    ] {
        send_json(&client, "POST", &server.url(CLOCK_PATH), &body).assert_error(400, "E008002");
    }
    for raw in [
        &b"advance_secs=10"[..],
        br#"{"advance_secs": 1, "advance_secs": 2}"#,
    ] {
        send(
            &client,
            "POST",
            &server.url(CLOCK_PATH),
            raw.to_vec(),
            "application/x-www-form-urlencoded",
        )
        .assert_error(400, "E008002");
    }
    send_json(
        &client,
        "GET",
        &server.url(CLOCK_PATH),
        &json!({"advance_secs": 1}),
    )
    .assert_error(405, "E008001");

    // The clock moves past the expiry: the rules see it (the dead name is
    // free again), the store still holds every record.
    let before = assert_clock_ok(&advance(&client, &server, 0));
    let after = assert_clock_ok(&advance(&client, &server, 2 * EXPIRATION_SECS + 60));
    assert!(after > before, "{before} → {after}");
    send_json(&client, "POST", &url, &recreate).assert_ok();
    assert!(server.stop().success(), "graceful stop");
    assert_eq!(purged_total(&log1), 0, "{}", read_to_string(&log1));
    let mut all: Vec<String> = expiring_names().into_iter().chain(kept_names()).collect();
    all.sort();
    assert_eq!(
        stored_attribute_names(&env.data),
        all,
        "dead but not purged"
    );

    // Run 2: the clock starts at system time again (the offset is not
    // persisted); a sweeper every second purges nothing until it moves.
    let log2 = env.dir.join("run2.log");
    let server = Server::start(
        &env.data,
        &log2,
        &[
            "--sweep-interval",
            "1",
            "--test-clock",
            "--log-format",
            "json",
        ],
    );
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(purged_total(&log2), 0, "{}", read_to_string(&log2));
    assert_eq!(stored_attribute_names(&env.data), all, "nothing due yet");

    // Past every expiring attribute (the re-created t00 too), not the sessions.
    assert_clock_ok(&advance(&client, &server, 10 * EXPIRATION_SECS));
    let started = Instant::now();
    while purged_total(&log2) < EXPIRING as u64 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let waited = started.elapsed();
    assert_eq!(
        purged_total(&log2),
        EXPIRING as u64,
        "{}",
        read_to_string(&log2)
    );
    assert!(server.stop().success(), "graceful stop");
    eprintln!("sweeper purged {EXPIRING} records {waited:?} after the clock moved");
    assert_eq!(stored_attribute_names(&env.data), kept_names());
}

#[test]
fn the_test_clock_is_off_by_default() {
    let env = env();
    let log = env.dir.join("server.log");
    let server = Server::start(&env.data, &log, &["--sweep-interval", "5"]);
    let client = client();
    advance(&client, &server, 10).assert_error(404, "E008001");
    assert!(server.stop().success(), "graceful stop");
    let text = read_to_string(&log);
    assert!(!text.contains("test clock"), "{text}");

    // The interval is at least one second.
    for bad in ["0", "-1", "x"] {
        let arg = format!("--sweep-interval={bad}");
        let out = run_cli(
            &env.data,
            &log,
            &["serve", "--listen", "127.0.0.1:0", &arg],
            "",
        );
        assert!(!out.status.success(), "--sweep-interval {bad} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--sweep-interval"), "{stderr}");
    }
}

/// Every key of the store that belongs to users and sessions, sorted (the
/// keys' encryption counters, `sa:keyuse:…`, belong to neither and stay).
fn stored_keys(data: &Path) -> Vec<String> {
    let store = RedbStore::open(&data.join("sessattr.redb")).expect("open store");
    store
        .scan_prefix("")
        .expect("scan")
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| !key.starts_with("sa:keyuse:"))
        .collect()
}

#[test]
fn expired_sessions_are_purged_with_everything_they_own() {
    let env = env();
    let cli_log = env.dir.join("cli.log");
    add_user(&env.data, &cli_log, "admin", ADMIN_PASSWORD, true);
    add_user(&env.data, &cli_log, "alice", ALICE_PASSWORD, false);
    let log = env.dir.join("server.log");
    let server = Server::start(
        &env.data,
        &log,
        &[
            "--sweep-interval",
            "1",
            "--test-clock",
            "--log-format",
            "json",
        ],
    );
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    let body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                      "data": [{"name": "plain", "value": "v"},
                               {"name": "secret", "value": "s!", "encrypt": true},
                               {"name": "long", "value": "v", "expiration": 315_360_000}]});
    send_json(&client, "POST", &server.url(ATTR_PATH), &body).assert_ok();
    let own = json!({"current_ust": admin, "target_ust": admin, "current_app": "CRM",
                     "name": "mine", "value": "v"});
    send_json(&client, "POST", &server.url(ATTR_PATH), &own).assert_ok();
    // Two sessions, an index each, four attributes, two users.
    assert_eq!(stored_keys(&env.data).len(), 2 + 2 + 4 + 2);

    assert_clock_ok(&advance(&client, &server, 3_601));
    let started = Instant::now();
    while stored_keys(&env.data).len() > 2 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        stored_keys(&env.data),
        ["sa:user:admin", "sa:user:alice"],
        "a key of a dead session outlived it"
    );
    assert!(server.stop().success(), "graceful stop");
    assert_eq!(purged_total(&log), 8);
}
