//! Races over HTTP through the real binary: 64 clients at once, released by
//! a barrier, each with its own connection.
//!
//! * 64 creates of one name: exactly one wins, 63 get E009001, none 5xx.
//! * 64 sets of 64 names: all land, and `names` / `get` see every one.
//!
//! Run with `--nocapture` to see timings and the retries the host needed
//! (from the `attempts` field of its request log lines).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Rc11";
const ALICE_PASSWORD: &str = "alice-Pa55word-Rc12";
const ATTR_PATH: &str = "/zato/sso/session/attr";
const CLIENTS: usize = 64;

/// A server with a super-user and a user, both logged in.
struct Fixture {
    _tmp: tempfile::TempDir,
    log: PathBuf,
    server: Server,
    admin: String,
    alice: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    add_user(&data, &log, "admin", ADMIN_PASSWORD, true);
    add_user(&data, &log, "alice", ALICE_PASSWORD, false);
    let server = Server::start(&data, &log, &["--log-format", "json"]);
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    Fixture {
        _tmp: tmp,
        log,
        server,
        admin,
        alice,
    }
}

/// Sends `request(i)` from `CLIENTS` threads released together; answers
/// each client's answer and time, and the time of the whole race.
fn race(
    method: &'static str,
    url: &str,
    request: impl Fn(usize) -> Value + Sync,
) -> (Vec<(Answer, Duration)>, Duration) {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let request = &request;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    let client = client();
                    let body = request(i);
                    barrier.wait();
                    let started = Instant::now();
                    let answer = send_json(&client, method, url, &body);
                    (answer, started.elapsed())
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let answers: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect();
        (answers, started.elapsed())
    })
}

/// `attempts` of the request lines of `op` in the server's JSON log.
fn attempts_of(log: &Path, op: &str) -> Vec<u64> {
    read_to_string(log)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|l| l["op"] == op)
        .map(|l| l["attempts"].as_u64().expect("attempts logged"))
        .collect()
}

fn report(what: &str, answers: &[(Answer, Duration)], total: Duration, attempts: &[u64]) {
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    let retried = attempts.iter().filter(|a| **a > 1).count();
    eprintln!(
        "{what}: {CLIENTS} clients in {total:?}; per request median {:?}, max {:?}; \
         {retried} requests retried, worst needed {} attempt(s)",
        times[times.len() / 2],
        times[times.len() - 1],
        attempts.iter().max().copied().unwrap_or(0),
    );
}

#[test]
fn concurrent_creates_of_one_name_have_one_winner() {
    let fx = fixture();
    let url = fx.server.url(ATTR_PATH);
    let (answers, total) = race("POST", &url, |i| {
        json!({"current_ust": fx.admin, "target_ust": fx.alice, "current_app": "CRM",
               "name": "contended", "value": format!("value-{i}")})
    });
    for (answer, _) in &answers {
        assert!(
            answer.status < 500,
            "server error in a race: {} {:?}",
            answer.status,
            answer.body
        );
    }
    let winners = answers.iter().filter(|(a, _)| a.status == 200).count();
    assert_eq!(winners, 1, "exactly one create wins");
    for (answer, _) in answers.iter().filter(|(a, _)| a.status != 200) {
        answer.assert_error(403, "E009001");
    }
    assert!(fx.server.stop().success(), "graceful stop");
    let attempts = attempts_of(&fx.log, "attr.create");
    assert_eq!(attempts.len(), CLIENTS, "one request line per create");
    report("create race", &answers, total, &attempts);
    let budget = u64::from(sessattr_host::runner::MAX_RETRIES) + 1;
    assert!(attempts.iter().all(|a| *a <= budget));
}

/// Needs the core's `set`, `names` and `get` (PUT / GET).
#[test]
fn concurrent_sets_of_different_names_all_land() {
    let fx = fixture();
    let url = fx.server.url(ATTR_PATH);
    let (answers, total) = race("PUT", &url, |i| {
        json!({"current_ust": fx.admin, "target_ust": fx.alice, "current_app": "CRM",
               "name": format!("n{i}"), "value": format!("v{i}")})
    });
    for (i, (answer, _)) in answers.iter().enumerate() {
        assert_eq!(answer.status, 200, "set n{i}: {:?}", answer.body);
        answer.assert_ok();
    }

    let client = client();
    let names = send_json(
        &client,
        "GET",
        &fx.server.url("/zato/sso/session/attr/names"),
        &json!({"current_ust": fx.admin, "target_ust": fx.alice, "current_app": "CRM"}),
    );
    names.assert_ok();
    let mut expected: Vec<String> = (0..CLIENTS).map(|i| format!("n{i}")).collect();
    expected.sort();
    assert_eq!(names.body["result"], json!(expected), "{:?}", names.body);

    for i in 0..CLIENTS {
        // Every field from the query string (USTs are base64url).
        let query = format!(
            "{url}?current_ust={}&target_ust={}&current_app=CRM&name=n{i}",
            fx.admin, fx.alice
        );
        let got = send(&client, "GET", &query, Vec::new(), "application/json");
        got.assert_ok();
        assert_eq!(got.body["found"], true, "n{i}: {:?}", got.body);
        assert_eq!(got.body["name"], format!("n{i}"), "{:?}", got.body);
        assert_eq!(got.body["value"], format!("v{i}"), "{:?}", got.body);
    }
    assert!(fx.server.stop().success(), "graceful stop");
    let attempts = attempts_of(&fx.log, "attr.set");
    report("set race", &answers, total, &attempts);
}
