//! The user commands through the real binary, with no server and beside a
//! running one on the same data dir; what they do to sessions; that a dump
//! of the data dir holds no UST and no password; and that a login with an
//! unknown user name takes as long as one with a wrong password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ATTR: &str = "/zato/sso/session/attr";

fn cli(data: &Path, log: &Path, args: &[&str], stdin: &str) -> (Output, String, String) {
    let output = run_cli(data, log, args, stdin);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn ok(data: &Path, log: &Path, args: &[&str], stdin: &str) -> String {
    let (output, stdout, stderr) = cli(data, log, args, stdin);
    assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
    stdout
}

fn list(data: &Path, log: &Path) -> Value {
    serde_json::from_str(&ok(data, log, &["user", "list", "--json"], "")).unwrap()
}

fn summary(users: &Value) -> Vec<(String, bool, bool)> {
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["is_super_user"].as_bool().unwrap(),
                u["is_locked"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn user_commands_without_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("cli.log"));
    add_user(&data, &log, "admin", "admin-Pa55word-Us01", true);
    add_user(&data, &log, "alice", "alice-Pa55word-Us02", false);

    let table = ok(&data, &log, &["user", "list"], "");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("USERNAME") && lines[0].contains("LOCKED"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("admin ") && lines[1].contains(" yes "),
        "{table}"
    );
    assert!(
        lines[2].starts_with("alice ") && lines[2].contains(" no "),
        "{table}"
    );
    assert_eq!(lines[3], "2 user(s)");
    assert!(!table.contains("argon2"), "{table}");

    assert_eq!(
        ok(&data, &log, &["user", "lock", "alice"], ""),
        "locked user alice; their sessions ended\n"
    );
    assert_eq!(
        summary(&list(&data, &log)),
        [("admin".into(), true, false), ("alice".into(), false, true)]
    );
    ok(&data, &log, &["user", "unlock", "alice"], "");
    let out = ok(
        &data,
        &log,
        &["user", "passwd", "alice", "--password-stdin"],
        "new-pw-Us03\n",
    );
    assert_eq!(out, "changed the password of alice; their sessions ended\n");
    ok(&data, &log, &["user", "delete", "alice"], "");
    assert_eq!(summary(&list(&data, &log)), [("admin".into(), true, false)]);

    // Refusals: one line naming the code and what is wrong; exit 1.
    for (args, stdin, code, words) in [
        (
            &["user", "lock", "nobody"][..],
            "",
            "E001001",
            "no such user",
        ),
        (
            &["user", "delete", "nobody"][..],
            "",
            "E001001",
            "no such user",
        ),
        (
            &["user", "passwd", "nobody", "--password-stdin"][..],
            "pw-123\n",
            "E001001",
            "no such user",
        ),
        (
            &["user", "add", "two words", "--password-stdin"][..],
            "pw-123\n",
            "E001001",
            "whitespace",
        ),
        (
            &["user", "add", "bob", "--password-stdin"][..],
            "\n",
            "E008003",
            "password",
        ),
        (
            &["user", "add", "admin", "--password-stdin"][..],
            "pw-123\n",
            "E001002",
            "exists",
        ),
    ] {
        let (output, _, stderr) = cli(&data, &log, args, stdin);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(code) && stderr.contains(words),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn user_commands_beside_a_running_server_end_sessions_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("server.log"));
    let passwords = [
        "admin-Pa55word-Us11",
        "alice-Pa55word-Us12",
        "alice-NEW-pw-Us13",
        "bob-Pa55word-Us14",
    ];
    add_user(&data, &log, "admin", passwords[0], true);
    add_user(&data, &log, "alice", passwords[1], false);
    let server = Server::start(&data, &log, &[]);
    let client = client();
    let mut usts = Vec::new();
    let mut login_as = |user: &str, password: &str| {
        let ust = login(&client, &server, user, password);
        usts.push(ust.clone());
        ust
    };
    let admin = login_as("admin", passwords[0]);
    let alice = login_as("alice", passwords[1]);
    let http = common::client();
    let names = |target: &str| {
        send_json(
            &http,
            "GET",
            &server.url(&format!("{ATTR}/names")),
            &json!({"current_ust": admin, "target_ust": target, "current_app": "CRM"}),
        )
    };
    let body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                      "name": "a", "value": "plain value Us-1"});
    send_json(&client, "POST", &server.url(ATTR), &body).assert_ok();
    names(&alice).assert_ok();

    // A user added while the server runs can log in through it.
    add_user(&data, &log, "bob", passwords[3], false);
    let bob = login_as("bob", passwords[3]);
    names(&bob).assert_ok();

    let login_body =
        |password: &str| json!({"username": "alice", "password": password, "current_app": "CRM"});
    let login_url = server.url("/zato/sso/user/login");
    ok(&data, &log, &["user", "lock", "alice"], "");
    names(&alice).assert_error(403, "E007001");
    send_json(&client, "POST", &login_url, &login_body(passwords[1])).assert_error(403, "E005001");
    ok(&data, &log, &["user", "unlock", "alice"], "");
    names(&alice).assert_error(403, "E007001");
    let alice2 = login_as("alice", passwords[1]);
    names(&alice2).assert_ok();

    ok(
        &data,
        &log,
        &["user", "passwd", "alice", "--password-stdin"],
        &format!("{}\n", passwords[2]),
    );
    names(&alice2).assert_error(403, "E007001");
    send_json(&client, "POST", &login_url, &login_body(passwords[1])).assert_error(403, "E005001");
    let alice3 = login_as("alice", passwords[2]);
    names(&alice3).assert_ok();

    // Logout: the session and its attributes are gone from the store at once.
    let tagged = |ust: &str| {
        let tag = format!("{{{}}}", sessattr_core::ust::session_id(ust));
        let store = sessattr_host::store::RedbStore::open(&data.join("sessattr.redb")).unwrap();
        use sessattr_host::store::Store as _;
        store
            .scan_prefix("sa:")
            .unwrap()
            .into_iter()
            .filter(|(key, _)| key.contains(&tag))
            .count()
    };
    let on_alice3 = json!({"current_ust": admin, "target_ust": alice3, "current_app": "CRM",
                           "data": [{"name": "x", "value": "1"}, {"name": "y", "value": "2"}]});
    send_json(&client, "POST", &server.url(ATTR), &on_alice3).assert_ok();
    assert_eq!(tagged(&alice3), 4, "session, index, x, y");
    let logout = json!({"ust": alice3, "current_app": "CRM"});
    send_json(
        &client,
        "POST",
        &server.url("/zato/sso/user/logout"),
        &logout,
    )
    .assert_ok();
    assert_eq!(
        tagged(&alice3),
        0,
        "a key of the logged-out session remains"
    );
    names(&alice3).assert_error(403, "E007001");
    let alice3 = login_as("alice", passwords[2]);

    ok(&data, &log, &["user", "delete", "alice"], "");
    names(&alice3).assert_error(403, "E007001");
    add_user(&data, &log, "alice", passwords[1], false);
    names(&alice3).assert_error(403, "E007001");
    assert!(server.stop().success(), "graceful stop");

    // No UST and no password in any file of the data dir or in the log.
    let files = files_under(&data);
    assert!(files.len() >= 2, "{files:?}");
    let log_text = read_to_string(&log);
    for secret in usts.iter().map(String::as_str).chain(passwords) {
        for (path, bytes) in &files {
            assert!(
                !contains_bytes(bytes, secret.as_bytes()),
                "{secret} in {}",
                path.display()
            );
        }
        assert!(!log_text.contains(secret), "{secret} in the log");
    }
}

/// Wall time of one login answering 403 E005001.
fn refused_login(client: &reqwest::blocking::Client, url: &str, username: &str) -> Duration {
    let body = json!({"username": username, "password": "not-the-password", "current_app": "CRM"});
    let started = Instant::now();
    send_json(client, "POST", url, &body).assert_error(403, "E005001");
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// SPEC 2.4: no user enumeration, by code or by time. 20 logins of each
/// kind, interleaved so that machine noise hits both alike.
#[test]
fn refused_logins_take_comparable_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("server.log"));
    add_user(&data, &log, "alice", "alice-Pa55word-Us21", false);
    add_user(&data, &log, "locked", "locked-Pa55word-Us22", false);
    ok(&data, &log, &["user", "lock", "locked"], "");
    let server = Server::start(&data, &log, &[]);
    let client = client();
    let url = server.url("/zato/sso/user/login");
    refused_login(&client, &url, "alice");
    let (mut unknown, mut wrong, mut locked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20 {
        unknown.push(refused_login(&client, &url, "nobody-by-this-name"));
        wrong.push(refused_login(&client, &url, "alice"));
        locked.push(refused_login(&client, &url, "locked"));
    }
    let (unknown, wrong, locked) = (median(unknown), median(wrong), median(locked));
    eprintln!(
        "median refused login: unknown {unknown:?}, wrong password {wrong:?}, locked {locked:?}"
    );
    for (what, time) in [("unknown user", unknown), ("locked user", locked)] {
        let ratio = time.as_secs_f64() / wrong.as_secs_f64();
        assert!(
            (0.75..=1.25).contains(&ratio),
            "{what}: {time:?} vs wrong password {wrong:?}"
        );
    }
    assert!(server.stop().success(), "graceful stop");
}
