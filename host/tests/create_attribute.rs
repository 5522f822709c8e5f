//! The issue "create session attributes end to end", through the real binary:
//! users added with the CLI, logins and creates over HTTP, a restart, and
//! checks that no secret reaches the log or the data directory in clear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Zq81";
const ALICE_PASSWORD: &str = "alice-Pa55word-Wx47";
const BOB_PASSWORD: &str = "bob-Pa55word-Kj22";
const ATTR_PATH: &str = "/zato/sso/session/attr";
/// Values written by this test that must never be logged.
const VALUES: [&str; 6] = [
    "my-rest-value",
    "data-value-one-q7",
    "data-value-two-q8",
    "data-value-three-q9",
    "form-value-x5",
    "long-name-value-y6",
];

/// The create request of the issue, from `current` on `target`.
fn create_body(current: &str, target: &str) -> Value {
    json!({
        "current_ust": current, "target_ust": target, "current_app": "CRM",
        "name": "my-rest-attribute", "value": "my-rest-value",
        "encrypt": true, "expiration": 3600
    })
}

fn random_ust() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Env {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    log: std::path::PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    Env {
        _tmp: tmp,
        data,
        log,
    }
}

#[test]
fn create_session_attributes_end_to_end() {
    let env = env();
    add_user(&env.data, &env.log, "admin", ADMIN_PASSWORD, true);
    add_user(&env.data, &env.log, "alice", ALICE_PASSWORD, false);

    // A taken name is refused through the module: E001002, non-zero exit.
    let again = run_cli(
        &env.data,
        &env.log,
        &["user", "add", "alice", "--password-stdin"],
        "other-pw-123\n",
    );
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("E001002"), "{stderr}");

    let server = Server::start(&env.data, &env.log, &[]);
    let client = client();
    let url = server.url(ATTR_PATH);
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    assert_ne!(admin, alice);

    // Create: 200 with exactly cid and status.
    let created = send_json(&client, "POST", &url, &create_body(&admin, &alice));
    created.assert_ok();
    assert_eq!(created.content_type, "application/json");
    let mut keys: Vec<&String> = created.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["cid", "status"]);

    // The same again: 403 E009001.
    send_json(&client, "POST", &url, &create_body(&admin, &alice)).assert_error(403, "E009001");

    // curl's default content type is accepted.
    let mut form = create_body(&admin, &alice);
    form["name"] = json!("form-attribute");
    form["value"] = json!("form-value-x5");
    send(
        &client,
        "POST",
        &url,
        form.to_string().into_bytes(),
        "application/x-www-form-urlencoded",
    )
    .assert_ok();

    // Three attributes in one `data` call.
    let many = json!({
        "current_ust": admin, "target_ust": alice, "current_app": "CRM", "expiration": 600,
        "data": [
            {"name": "d1", "value": "data-value-one-q7"},
            {"name": "d2", "value": "data-value-two-q8", "encrypt": true},
            {"name": "d3", "value": "data-value-three-q9", "expiration": 60}
        ]
    });
    send_json(&client, "POST", &url, &many).assert_ok();

    // One bad item (expiration 0 on the second): nothing written, item named.
    let bad = json!({
        "current_ust": admin, "target_ust": alice, "current_app": "CRM",
        "data": [
            {"name": "e1", "value": "a"},
            {"name": "e2", "value": "b", "expiration": 0},
            {"name": "e3", "value": "c"}
        ]
    });
    let refused = send_json(&client, "POST", &url, &bad);
    refused.assert_error(403, "E008002");
    assert_eq!(refused.body["item"], 1, "{:?}", refused.body);
    for name in ["e1", "e3"] {
        let mut single = create_body(&admin, &alice);
        single["name"] = json!(name);
        single["value"] = json!("z");
        send_json(&client, "POST", &url, &single).assert_ok();
    }

    // A regular user's session may not act on sessions: E005001.
    let mut body = create_body(&alice, &alice);
    body["name"] = json!("by-alice");
    send_json(&client, "POST", &url, &body).assert_error(403, "E005001");

    // Forged, malformed and missing USTs: E007001, never 500.
    let forged = random_ust();
    for (field, value) in [
        ("current_ust", json!(forged)),
        ("target_ust", json!(forged)),
        ("current_ust", json!("!!")),
        ("target_ust", json!("!!")),
        ("current_ust", Value::Null),
        ("target_ust", Value::Null),
    ] {
        let mut body = create_body(&admin, &alice);
        body["name"] = json!("ust-case");
        match value {
            Value::Null => {
                body.as_object_mut().unwrap().remove(field);
            }
            other => body[field] = other,
        }
        send_json(&client, "POST", &url, &body).assert_error(403, "E007001");
    }

    // Unknown app: E004001.
    let mut body = create_body(&admin, &alice);
    body["current_app"] = json!("NOT-AN-APP");
    send_json(&client, "POST", &url, &body).assert_error(403, "E004001");

    // Not JSON: 400 E008002.
    send(
        &client,
        "POST",
        &url,
        b"name=x&value=y".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .assert_error(400, "E008002");

    // Neither name nor data: E008003.
    let mut body = create_body(&admin, &alice);
    body.as_object_mut().unwrap().remove("name");
    send_json(&client, "POST", &url, &body).assert_error(403, "E008003");

    // Bad expirations: E008002, never clamped.
    for expiration in [
        json!(0),
        json!(-5),
        json!(1.5),
        json!("60"),
        json!(1_000_000_000_000_i64),
    ] {
        let mut body = create_body(&admin, &alice);
        body["name"] = json!("exp-case");
        body["expiration"] = expiration.clone();
        let answer = send_json(&client, "POST", &url, &body);
        assert_eq!(
            (answer.status, answer.codes()),
            (403, vec!["E008002".to_owned()]),
            "expiration {expiration}"
        );
    }

    // Name length: 191 bytes fine, 192 too long.
    let mut body = create_body(&admin, &alice);
    body["value"] = json!("long-name-value-y6");
    body["name"] = json!("n".repeat(192));
    send_json(&client, "POST", &url, &body).assert_error(403, "E008002");
    body["name"] = json!("n".repeat(191));
    send_json(&client, "POST", &url, &body).assert_ok();

    // A body over 1 MiB: 413 E008002 (when the client gets to read the answer).
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20));
    if let Ok(response) = client.post(&url).body(big).send() {
        assert_eq!(response.status().as_u16(), 413);
        let body: Value = response.json().unwrap();
        assert_eq!(body["sub_status"], json!(["E008002"]));
    }

    // `user add` works beside the running server.
    add_user(&env.data, &env.log, "bob", BOB_PASSWORD, false);
    let bob = login(&client, &server, "bob", BOB_PASSWORD);

    // Restart on the same data dir: the attribute (and the sessions) survived.
    assert!(server.stop().success(), "graceful stop");
    let server = Server::start(&env.data, &env.log, &[]);
    let url = server.url(ATTR_PATH);
    send_json(&client, "POST", &url, &create_body(&admin, &alice)).assert_error(403, "E009001");
    assert!(server.stop().success(), "graceful stop");

    // Encrypted at rest: the value's bytes are in no file of the data dir.
    for (path, bytes) in files_under(&env.data) {
        assert!(
            !contains_bytes(&bytes, b"my-rest-value"),
            "{} holds the value in clear",
            path.display()
        );
    }

    // The whole log: no value, password, key or UST.
    let text = read_to_string(&env.log);
    assert!(
        text.contains(created.body["cid"].as_str().unwrap()),
        "the create's cid is not logged:\n{text}"
    );
    let mut secrets: Vec<String> = VALUES.iter().map(|v| (*v).to_owned()).collect();
    secrets.extend([ADMIN_PASSWORD, ALICE_PASSWORD, BOB_PASSWORD].map(str::to_owned));
    secrets.extend([admin, alice, bob, forged]);
    secrets.extend(key_forms(&env.data.join("keys.json")));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the log holds a secret ({} chars):\n{text}",
            secret.len()
        );
    }
}

/// The key file's keys, as base64 and as hex (lower and upper case).
fn key_forms(path: &Path) -> Vec<String> {
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut forms = Vec::new();
    for key in file["keys"].as_array().unwrap() {
        let b64 = key["key"].as_str().unwrap().to_owned();
        let raw = STANDARD.decode(&b64).unwrap();
        assert_eq!(raw.len(), 32);
        forms.push(hex::encode(&raw));
        forms.push(hex::encode_upper(&raw));
        forms.push(URL_SAFE_NO_PAD.encode(&raw));
        forms.push(b64);
    }
    forms
}

#[test]
fn the_key_file_is_private_and_generated_once() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = env();
    add_user(&env.data, &env.log, "carol", "carol-Pa55word-Mm90", true);
    let key_path = env.data.join("keys.json");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(&env.data).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let before = std::fs::read(&key_path).unwrap();
    let log = read_to_string(&env.log);
    assert!(log.contains("generated encryption key k-"), "{log}");
    for form in key_forms(&key_path) {
        assert!(!log.contains(&form));
    }

    // A second command reuses the key.
    add_user(&env.data, &env.log, "dave", "dave-Pa55word-Nn91", false);
    assert_eq!(std::fs::read(&key_path).unwrap(), before);

    // A key file others may read is refused with one line.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run_cli(
        &env.data,
        &env.log,
        &["user", "add", "erin", "--password-stdin"],
        "erin-pw-123456\n",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("group or others"), "{stderr}");
}
