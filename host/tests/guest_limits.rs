//! The guest limits (`guest.time_limit_ms`, `guest.memory_mib`) against
//! the real binary running the test-only misbehaving module
//! (`target/test-modules/hostile.wasm`, built by `cargo xtask build` from
//! the module's `hostile-test` feature: `wasm/src/hostile.rs`). Its step
//! spins for ever on `/_sessattr/test/loop`, allocates without end on
//! `/_sessattr/test/grow` (or `?mib=N` MiB, then answers like the real
//! module), and is the real module for every other request.
//!
//! * A step that never returns is interrupted at the time limit: `500
//!   E008004`, well before the 10 s default.
//! * While two of them spin, a login and a names call are answered by the
//!   same server, whose async runtime has one worker thread: guest calls
//!   never run on it.
//! * Memory within the limit is no failure; past it, or without end, the
//!   request answers `500 E008004` (64 MiB here: 100 MiB would fit the
//!   512 MiB default).
//! * Afterwards every request succeeds: an instance that was stopped is
//!   never used again (the misbehaving module would answer `rejected` if
//!   it were).
//! * Each failure is logged with its limit, and no log line or answer
//!   holds a password, a UST, a value or a key sent or used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Gl01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Gl02";
const SECRET_VALUE: &str = "secret-value-Gl03-never-logged";
/// The step time limit the server runs with.
const TIME_LIMIT_MS: u64 = 3_000;
/// The memory limit the server runs with.
const MEMORY_MIB: u64 = 64;
/// How late past the time limit an interrupted request may answer (the
/// machine is shared and slow; the default limit is 10 s, beyond this).
const MARGIN: Duration = Duration::from_secs(4);
const LOOP_PATH: &str = "/_sessattr/test/loop";
const GROW_PATH: &str = "/_sessattr/test/grow";

/// The misbehaving module `cargo xtask build` makes beside the binary.
fn hostile_module() -> PathBuf {
    let target = Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in TARGET/release/");
    let module = target.join("test-modules/hostile.wasm");
    assert!(
        module.is_file(),
        "{} is missing: run `cargo xtask build` first",
        module.display()
    );
    module
}

/// A request that carries every kind of secret, to `path`.
fn laden(admin: &str, alice: &str) -> Value {
    json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
           "name": "color", "value": SECRET_VALUE, "password": ADMIN_PASSWORD})
}

/// The log lines that report a failed request of `path`.
/// The log lines of requests that failed in the host with `reason`. The
/// test paths are not routes of the host, so a line names its path by its
/// length only (as for any unknown path, which could hold a secret).
fn failure_lines(log: &str, path: &str, reason: &str) -> Vec<String> {
    let logged_path = format!("path=\"(unknown path of {} bytes)\"", path.len());
    log.lines()
        .filter(|l| l.contains("request failed in the host") && l.contains(reason))
        .inspect(|l| assert!(l.contains(&logged_path), "{l}"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn guest_limits_stop_a_spinning_or_growing_module_and_the_server_goes_on() {
    let module = hostile_module();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    add_user(&data, &log, "admin", ADMIN_PASSWORD, true);
    add_user(&data, &log, "alice", ALICE_PASSWORD, false);
    let time_limit = TIME_LIMIT_MS.to_string();
    let memory = MEMORY_MIB.to_string();
    let server = Server::start_with_env(
        &data,
        &log,
        &[
            "--module",
            module.to_str().expect("utf-8 path"),
            "--guest-time-limit-ms",
            &time_limit,
        ],
        // One setting by flag, one from the environment; and one async
        // worker thread, which a guest call on it would block.
        &[
            ("SESSATTR_GUEST_MEMORY_MIB", memory.as_str()),
            ("TOKIO_WORKER_THREADS", "1"),
        ],
    );
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    let names_url = server.url("/zato/sso/session/attr/names");
    let names_body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
    let mut answers = Vec::new();

    // Two steps that never return, and other requests meanwhile.
    let limit = Duration::from_millis(TIME_LIMIT_MS);
    let (loops, meanwhile) = std::thread::scope(|scope| {
        let spinning: Vec<_> = (0..2)
            .map(|_| {
                let (url, body) = (server.url(LOOP_PATH), laden(&admin, &alice));
                scope.spawn(move || {
                    let started = Instant::now();
                    let answer = send_json(&common::client(), "POST", &url, &body);
                    (answer, started.elapsed())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let user = login(&client, &server, "alice", ALICE_PASSWORD);
        let login_took = started.elapsed();
        let names = send_json(&client, "GET", &names_url, &names_body);
        names.assert_ok();
        let both_took = started.elapsed();
        assert!(
            spinning.iter().all(|h| !h.is_finished()),
            "the loops ended before the other requests were answered ({both_took:?})"
        );
        let loops: Vec<(Answer, Duration)> = spinning
            .into_iter()
            .map(|h| h.join().expect("loop client"))
            .collect();
        (loops, (user, login_took, both_took))
    });
    let (_, login_took, both_took) = meanwhile;
    for (answer, took) in &loops {
        answer.assert_error(500, "E008004");
        assert_eq!(answer.body["message"], "internal error");
        assert!(
            *took < limit + MARGIN,
            "a spinning step answered after {took:?} (limit {limit:?})"
        );
        answers.push(answer.body.to_string());
    }
    eprintln!(
        "loop: answered 500 E008004 after {:?} and {:?} (limit {limit:?}); meanwhile a \
         login took {login_took:?}, login and names {both_took:?}",
        loops[0].1, loops[1].1
    );

    // Memory: within the limit, past it, without end.
    let grow = |query: &str| {
        let started = Instant::now();
        let url = format!("{}{query}", server.url(GROW_PATH));
        let answer = send_json(&client, "POST", &url, &laden(&admin, &alice));
        (answer, started.elapsed())
    };
    let (within, within_took) = grow("?mib=16");
    within.assert_error(404, "E008001");
    for query in ["?mib=100", ""] {
        let (answer, took) = grow(query);
        answer.assert_error(500, "E008004");
        assert!(took < limit + MARGIN, "grow{query} answered after {took:?}");
        eprintln!("grow{query}: answered 500 E008004 after {took:?}");
        answers.push(answer.body.to_string());
    }
    eprintln!("grow?mib=16: answered 404 (the real module's) after {within_took:?}");

    // Afterwards, every request succeeds, on several instances at once.
    let attr_url = server.url("/zato/sso/session/attr");
    let mut create = names_body.clone();
    create["name"] = json!("after");
    create["value"] = json!(SECRET_VALUE);
    create["encrypt"] = json!(true);
    send_json(&client, "POST", &attr_url, &create).assert_ok();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let client = common::client();
                for _ in 0..10 {
                    let names = send_json(&client, "GET", &names_url, &names_body);
                    names.assert_ok();
                    assert_eq!(names.body["result"], json!(["after"]));
                }
            });
        }
    });
    let mut get = names_body.clone();
    get["name"] = json!("after");
    let got = send_json(&client, "GET", &attr_url, &get);
    got.assert_ok();
    assert_eq!(got.body["value"], SECRET_VALUE);
    assert!(server.stop().success(), "a clean stop");

    let text = read_to_string(&log);
    assert!(
        !text.contains("used again"),
        "a stopped instance was reused:\n{text}"
    );
    let time_limit = format!("time limit of {TIME_LIMIT_MS} ms reached");
    assert_eq!(
        failure_lines(&text, LOOP_PATH, &time_limit).len(),
        2,
        "{text}"
    );
    let memory_limit = format!("memory limit of {MEMORY_MIB} MiB reached");
    assert_eq!(
        failure_lines(&text, GROW_PATH, &memory_limit).len(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("request failed in the host").count(),
        4,
        "only the four hostile calls fail:\n{text}"
    );
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("keys.json")).expect("key file"))
            .expect("json");
    let key_material: Vec<&str> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key"].as_str().expect("key"))
        .collect();
    let user_ust = meanwhile.0;
    let secrets = [
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        SECRET_VALUE,
        admin.as_str(),
        alice.as_str(),
        user_ust.as_str(),
    ];
    for secret in secrets.iter().chain(&key_material) {
        assert!(!text.contains(secret), "the log holds a secret:\n{text}");
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "an answer holds a secret: {answer}"
            );
        }
    }
}
