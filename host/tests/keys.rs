//! Keys an operator can run for years, through the real binary: rotation
//! under live traffic (generate, promote, rotate, retire) with no failed
//! request and no lost write; a rotation killed half way and run again; the
//! nonce budget with a lowered limit; SIGHUP; key file permissions, TOML
//! and `SESSATTR_KEYS`; and no key or value in any log or output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Ky01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Ky02";
const ATTR: &str = "/zato/sso/session/attr";
const BIN: &str = env!("CARGO_BIN_EXE_sessattr");

/// Runs the CLI; fails the test unless it succeeds. Answers stdout.
fn cli_ok(data: &Path, log: &Path, args: &[&str]) -> String {
    let output = run_cli(data, log, args, "");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "sessattr {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `keys status --json` as `id → (state, values, encryptions)`.
fn status(data: &Path, log: &Path) -> BTreeMap<String, (String, u64, u64)> {
    let out = cli_ok(data, log, &["keys", "status", "--json"]);
    let doc: Value = serde_json::from_str(&out).expect("status JSON");
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                (
                    k["state"].as_str().unwrap().to_owned(),
                    k["values"].as_u64().unwrap(),
                    k["encryptions"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The id of the key in `state`.
fn key_in(data: &Path, log: &Path, state: &str) -> String {
    status(data, log)
        .into_iter()
        .find(|(_, (s, _, _))| s == state)
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no {state} key"))
}

/// `keys generate` then `keys promote` of the new key; answers its id.
fn generate_and_promote(data: &Path, log: &Path) -> String {
    let generated = cli_ok(data, log, &["keys", "generate"]);
    let new = generated.lines().last().expect("id line").to_owned();
    assert!(new.starts_with("k-"), "{generated}");
    cli_ok(data, log, &["keys", "promote", &new]);
    new
}

/// The key material of the data dir's key file.
fn key_material(data: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(data.join("keys.json")).expect("key file");
    let doc: Value = serde_json::from_str(&text).expect("key file JSON");
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Writes `count` encrypted attributes `a-00000…` to the session `target`,
/// 500 per request; answers name → value.
fn fill(world: &TwoUsers, target: &str, prefix: &str, count: usize) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-{i:05}")).collect();
    for chunk in names.chunks(500) {
        let data: Vec<Value> = chunk
            .iter()
            .map(|name| {
                let value = format!("sealed {name} Ky03");
                values.insert(name.clone(), value.clone());
                json!({"name": name, "value": value, "encrypt": true})
            })
            .collect();
        let body = json!({"current_ust": world.admin, "target_ust": target, "current_app": "CRM", "data": data});
        send_json(&world.client, "PUT", &world.server.url(ATTR), &body).assert_ok();
    }
    values
}

/// Reads `names` of session `target` (500 per request); answers name → value.
fn read_all(world: &TwoUsers, target: &str, names: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for chunk in names.chunks(500) {
        let body = json!({"current_ust": world.admin, "target_ust": target, "current_app": "CRM", "data": chunk});
        let answer = send_json(&world.client, "GET", &world.server.url(ATTR), &body);
        answer.assert_ok();
        for (name, attr) in answer.body["result"].as_object().expect("result") {
            assert_eq!(attr["is_encrypted"], true, "{name} is still encrypted");
            out.insert(
                name.clone(),
                attr["value"].as_str().expect("value").to_owned(),
            );
        }
    }
    out
}

/// A client that keeps writing and reading one session until stopped,
/// counting requests and failures; its last written values.
struct Traffic {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    written: Arc<Mutex<BTreeMap<String, String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Traffic {
    fn start(world: &TwoUsers, target: &str, known: BTreeMap<String, String>) -> Self {
        let (stop, requests) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let failures = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(Mutex::new(BTreeMap::new()));
        let (url, admin, target) = (
            world.server.url(ATTR),
            world.admin.clone(),
            target.to_owned(),
        );
        let known: Vec<(String, String)> = known.into_iter().collect();
        let thread = {
            let (stop, requests, failures, written) = (
                stop.clone(),
                requests.clone(),
                failures.clone(),
                written.clone(),
            );
            std::thread::spawn(move || {
                let client = client();
                let base =
                    json!({"current_ust": admin, "target_ust": target, "current_app": "CRM"});
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let name = format!("live-{:02}", i % 40);
                    let value = format!("live value {i} Ky04");
                    let mut body = base.clone();
                    body["name"] = json!(name);
                    body["value"] = json!(value);
                    body["encrypt"] = json!(true);
                    let set = send_json(&client, "PUT", &url, &body);
                    if set.status == 200 {
                        written.lock().unwrap().insert(name, value);
                    } else {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("set: {} {}", set.status, set.body));
                    }
                    let (name, want) = &known[usize::try_from(i).unwrap() % known.len()];
                    let mut body = base.clone();
                    body["name"] = json!(name);
                    let got = send_json(&client, "GET", &url, &body);
                    if got.status != 200 || got.body["value"] != json!(want) {
                        failures.lock().unwrap().push(format!(
                            "get {name}: {} {}",
                            got.status, got.body["sub_status"]
                        ));
                    }
                    requests.fetch_add(2, Ordering::Relaxed);
                }
            })
        };
        Self {
            stop,
            requests,
            failures,
            written,
            thread,
        }
    }

    /// Stops; answers (requests, failures, last written values).
    fn finish(self) -> (u64, Vec<String>, BTreeMap<String, String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("traffic thread");
        let failures = self.failures.lock().unwrap().clone();
        let written = self.written.lock().unwrap().clone();
        (self.requests.load(Ordering::Relaxed), failures, written)
    }
}

#[test]
fn rotation_under_traffic_loses_nothing_and_retires_the_old_key() {
    let world = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let (data, log) = (world.data.clone(), world.log.clone());
    // 10 000 encrypted values over four sessions of alice.
    let mut sessions = vec![world.alice.clone()];
    for _ in 0..3 {
        sessions.push(login(&world.client, &world.server, "alice", ALICE_PASSWORD));
    }
    let mut stored: Vec<BTreeMap<String, String>> = Vec::new();
    for (i, session) in sessions.iter().enumerate() {
        stored.push(fill(&world, session, &format!("s{i}"), 2_500));
    }
    let old = key_in(&data, &log, "primary");
    assert_eq!(status(&data, &log)[&old].1, 10_000);

    let traffic = Traffic::start(&world, &sessions[0], stored[0].clone());
    std::thread::sleep(Duration::from_millis(500));
    let generated = cli_ok(&data, &log, &["keys", "generate"]);
    let new = generated.lines().last().expect("id line").to_owned();
    assert!(new.starts_with("k-") && new != old, "{generated}");
    cli_ok(&data, &log, &["keys", "promote", &new]);
    let started = Instant::now();
    let rotated = cli_ok(&data, &log, &["keys", "rotate"]);
    let rotate_secs = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let (requests, failures, written) = traffic.finish();
    eprintln!(
        "rotation of 10 000 values: {rotate_secs:.1} s with {requests} requests of traffic; {rotated}"
    );

    assert!(
        failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(requests > 20, "the traffic ran ({requests} requests)");
    let after = status(&data, &log);
    assert_eq!(after[&old].1, 0, "no value left on the old key: {after:?}");
    assert_eq!(after[&new].1, 10_000 + written.len() as u64, "{after:?}");
    assert!(
        after[&new].2 >= 10_000,
        "the new key's encryptions are counted: {after:?}"
    );

    cli_ok(&data, &log, &["keys", "retire", &old]);
    std::thread::sleep(Duration::from_millis(1_500)); // the server reloads
    assert_eq!(status(&data, &log)[&old].0, "retired");
    for (session, values) in sessions.iter().zip(&stored) {
        let names: Vec<String> = values.keys().cloned().collect();
        assert_eq!(
            &read_all(&world, session, &names),
            values,
            "every value reads back identical"
        );
    }
    let live: Vec<String> = written.keys().cloned().collect();
    assert_eq!(
        read_all(&world, &sessions[0], &live),
        written,
        "the traffic's last writes are there"
    );

    let server_log = read_to_string(&log);
    assert!(
        server_log.contains("keyring reloaded"),
        "the server picked up the key file"
    );
    for secret in key_material(&data)
        .iter()
        .chain(stored[0].values().take(50))
        .chain(written.values())
    {
        assert!(
            !server_log.contains(secret.as_str()),
            "a key or value is in the log"
        );
    }
}

#[test]
fn a_rotation_killed_half_way_leaves_every_value_readable_and_a_rerun_finishes() {
    /// Enough values (two sessions of 9 000) for a rotation to take well
    /// over a second here (about 7 700 values/s measured).
    const TOTAL: u64 = 18_000;
    let world = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let (data, log) = (world.data.clone(), world.log.clone());
    let second = login(&world.client, &world.server, "alice", ALICE_PASSWORD);
    let sessions = [world.alice.clone(), second];
    let values: Vec<BTreeMap<String, String>> = sessions
        .iter()
        .map(|s| fill(&world, s, "c", 9_000))
        .collect();
    let old = key_in(&data, &log, "primary");
    let new = generate_and_promote(&data, &log);
    std::thread::sleep(Duration::from_millis(2_300)); // so rotate starts at once

    // Kill it with SIGKILL at its first progress line that shows part of
    // the work done (it prints one a second when stderr is no terminal).
    let mut rotate = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["keys", "rotate"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rotate");
    let stderr = BufReader::new(rotate.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("line");
        seen.push(line.clone());
        let done: Option<u64> = line
            .strip_prefix("pass 1: ")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse().ok());
        if done.is_some_and(|n| n > 0 && n < TOTAL) {
            rotate.kill().expect("SIGKILL");
            break;
        }
    }
    assert!(
        !rotate.wait().expect("wait").success(),
        "rotate was killed before it finished: {seen:?}"
    );

    let half = status(&data, &log);
    eprintln!("after SIGKILL: {half:?} ({seen:?})");
    assert_eq!(
        half[&old].1 + half[&new].1,
        TOTAL,
        "every value is under one of the two keys"
    );
    assert!(
        half[&old].1 > 0 && half[&new].1 > 0,
        "the kill came half way: {half:?}"
    );
    let readable = |world: &TwoUsers| {
        for (session, values) in sessions.iter().zip(&values) {
            let names: Vec<String> = values.keys().cloned().collect();
            assert_eq!(
                &read_all(world, session, &names),
                values,
                "every value readable"
            );
        }
    };
    readable(&world);

    cli_ok(&data, &log, &["keys", "rotate"]);
    let done = status(&data, &log);
    assert_eq!((done[&old].1, done[&new].1), (0, TOTAL), "{done:?}");
    readable(&world);
}

#[test]
fn the_nonce_budget_refuses_to_encrypt_at_its_limit_durably_and_a_new_key_lifts_it() {
    let world = TwoUsers::start(
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        &["--key-encryption-limit", "20"],
    );
    let (data, log) = (world.data.clone(), world.log.clone());
    let create = |world: &TwoUsers, name: &str, encrypt: bool| {
        let body = json!({"current_ust": world.admin, "target_ust": world.alice, "current_app": "CRM",
                          "name": name, "value": "budget value Ky05", "encrypt": encrypt});
        send_json(&world.client, "POST", &world.server.url(ATTR), &body)
    };
    let mut sealed = 0;
    for i in 0..25 {
        let answer = create(&world, &format!("e{i}"), true);
        if answer.status == 200 {
            sealed += 1;
        } else {
            answer.assert_error(403, "E008004");
        }
    }
    assert_eq!(sealed, 20, "exactly the limit of encryptions is made");
    create(&world, "plain", false).assert_ok();
    let server_log = read_to_string(&log);
    assert!(
        server_log.contains("half or more of its encryption limit"),
        "a warning to rotate"
    );
    assert!(
        server_log.contains("reached its encryption limit"),
        "the refusal is logged"
    );
    let old = key_in(&data, &log, "primary");
    assert_eq!(status(&data, &log)[&old].2, 20);

    // Durable: a restarted server still refuses.
    let TwoUsers {
        server,
        client,
        admin,
        alice,
        tmp,
        ..
    } = world;
    assert!(server.stop().success());
    let server = Server::start(&data, &log, &["--key-encryption-limit", "20"]);
    let world = TwoUsers {
        tmp,
        data: data.clone(),
        log: log.clone(),
        server,
        client,
        admin,
        alice,
    };
    create(&world, "after-restart", true).assert_error(403, "E008004");

    generate_and_promote(&data, &log);
    std::thread::sleep(Duration::from_millis(1_500));
    create(&world, "fresh-key", true).assert_ok();
}

#[test]
fn sighup_reloads_the_key_file_and_does_not_stop_the_server() {
    let world = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let status = Command::new("kill")
        .args(["-HUP", &world.server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "the server got SIGHUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        read_to_string(&world.log).contains("the key file is usable; the keyring is unchanged")
    );
    let body = json!({"current_ust": world.admin, "target_ust": world.alice, "current_app": "CRM", "name": "n", "value": "v", "encrypt": true});
    send_json(&world.client, "POST", &world.server.url(ATTR), &body).assert_ok();
}

#[test]
fn key_files_group_readable_toml_and_from_the_environment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("log");
    // Group-readable: refused with a clear error that shows no key.
    let data = tmp.path().join("loose");
    cli_ok(&data, &log, &["keys", "generate"]);
    let key = key_material(&data)[0].clone();
    std::fs::set_permissions(
        data.join("keys.json"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let refused = run_cli(&data, &log, &["keys", "status"], "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("group or others"),
        "{stderr}"
    );
    assert!(!stderr.contains(&key));

    // TOML: used when there is no keys.json; rewritten as TOML.
    let data = tmp.path().join("toml");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let toml_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let path = data.join("keys.toml");
    std::fs::write(
        &path,
        format!("[[keys]]\nid = \"k-toml\"\nkey = \"{toml_key}\"\nstate = \"primary\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let new = cli_ok(&data, &log, &["keys", "generate"])
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[[keys]]") && text.contains(&new) && text.contains("k-toml"),
        "{text}"
    );
    assert!(!data.join("keys.json").exists());
    assert_eq!(status(&data, &log)["k-toml"].0, "primary");

    // SESSATTR_KEYS: the keyring for containers; the key commands refuse to edit it.
    let data = tmp.path().join("env");
    let keys = json!({"keys": [{"id": "k-env", "key": toml_key, "state": "primary"}]}).to_string();
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["keys", "generate"])
        .env("SESSATTR_KEYS", &keys)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("SESSATTR_KEYS"),
        "{stderr}"
    );
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["keys", "status", "--json"])
        .env("SESSATTR_KEYS", &keys)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("k-env"));
    assert!(
        !data.join("keys.json").exists(),
        "no key file is written for an environment keyring"
    );
}

#[test]
fn key_file_mistakes_are_refused_not_papered_over() {
    let world = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let (data, log) = (world.data.clone(), world.log.clone());
    let body = json!({"current_ust": world.admin, "target_ust": world.alice, "current_app": "CRM",
                      "name": "kept", "value": "kept value Ky06", "encrypt": true});
    send_json(&world.client, "POST", &world.server.url(ATTR), &body).assert_ok();
    let read = |world: &TwoUsers| {
        let body = json!({"current_ust": world.admin, "target_ust": world.alice, "current_app": "CRM", "name": "kept"});
        send_json(&world.client, "GET", &world.server.url(ATTR), &body)
    };
    let key_file = data.join("keys.json");
    let saved = tmp_copy(&key_file);

    // A missing key file: no command generates a new key over stored data.
    std::fs::remove_file(&key_file).unwrap();
    for args in [
        &["keys", "status"][..],
        &["keys", "generate"],
        &["user", "list"],
    ] {
        let out = run_cli(&data, &log, args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("is missing"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!key_file.exists(), "no key was generated");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        read(&world).body["value"],
        "kept value Ky06",
        "the server kept its keyring"
    );
    std::fs::copy(&saved, &key_file).unwrap();

    // keys.json beside keys.toml is ambiguous.
    std::fs::copy(&saved, data.join("keys.toml")).unwrap();
    let out = run_cli(&data, &log, &["keys", "status"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ambiguous"));
    std::fs::remove_file(data.join("keys.toml")).unwrap();

    // Key material pasted into `id` is never echoed.
    let key = key_material(&data)[0].clone();
    let original = std::fs::read_to_string(&key_file).unwrap();
    let mut swapped: Value = serde_json::from_str(&original).unwrap();
    swapped["keys"][0]["id"] = json!(key);
    write_private(&key_file, &swapped.to_string());
    let out = run_cli(&data, &log, &["keys", "status"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        !stderr.contains(&key) && stderr.contains("invalid id"),
        "{stderr}"
    );
    write_private(&key_file, &original);

    // A reload that drops a key still in use is refused; the server keeps reading.
    let generated = generate_and_promote(&data, &log);
    std::thread::sleep(Duration::from_millis(1_500));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let only_new: Vec<Value> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"] == json!(generated))
        .cloned()
        .collect();
    write_private(&key_file, &json!({"keys": only_new}).to_string());
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(read_to_string(&log).contains("no longer has a key that stored values may use"));
    assert_eq!(read(&world).body["value"], "kept value Ky06");

    // Key commands at the same time all land.
    write_private(&key_file, &original);
    std::thread::sleep(Duration::from_millis(1_200));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (data, log) = (data.clone(), log.clone());
            std::thread::spawn(move || {
                cli_ok(&data, &log, &["keys", "generate"])
                    .lines()
                    .last()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let after = status(&data, &log);
    for id in &ids {
        assert!(after.contains_key(id), "{id} was kept: {after:?}");
    }
}

/// A copy of `path` beside it, for restoring it later.
fn tmp_copy(path: &Path) -> std::path::PathBuf {
    let copy = path.with_extension("saved");
    std::fs::copy(path, &copy).unwrap();
    copy
}

/// Writes `text` to `path` with mode 0600, atomically (as an editor saving).
fn write_private(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).unwrap();
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&temp, path).unwrap();
}
