//! `sessattr store export` and `sessattr store import` through the real
//! binary: a data dir's sessions and attributes (encrypted and plain) moved
//! into a fresh data dir that has the same key file, served there to the
//! same UST; imports that are all or nothing; malformed documents refused
//! before anything is written; and no key or value in any message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Tr01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Tr02";
const ATTR: &str = "/zato/sso/session/attr";
/// The value of the encrypted attribute: never in clear outside the module.
const SEALED_VALUE: &str = "sealed-value-Tr03-never-in-clear";
/// The value of the plain attribute (stored in clear, so exported in clear).
const PLAIN_VALUE: &str = "plain-value-Tr04";
/// A value of the synthetic documents, which no message may show.
const SECRET: &str = "secret-record-value-Tr05";

/// Runs the CLI on `data`; answers the output and its stdout and stderr.
fn cli(data: &Path, log: &Path, args: &[&str], stdin: &str) -> (Output, String, String) {
    let output = run_cli(data, log, args, stdin);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// Runs the CLI, which must succeed; answers stdout and stderr.
#[track_caller]
fn ok(data: &Path, log: &Path, args: &[&str], stdin: &str) -> (String, String) {
    let (output, stdout, stderr) = cli(data, log, args, stdin);
    assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
    (stdout, stderr)
}

/// Runs the CLI, which must fail with exit code 1 and print nothing on
/// stdout; answers stderr.
#[track_caller]
fn refused(data: &Path, log: &Path, args: &[&str], stdin: &str) -> String {
    let (output, stdout, stderr) = cli(data, log, args, stdin);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// The data dir's live records, as `store export` writes them to stdout.
fn export(data: &Path, log: &Path) -> Value {
    let (stdout, _) = ok(data, log, &["store", "export"], "");
    serde_json::from_str(&stdout).expect("export is JSON")
}

/// The keys of an exported document.
fn keys(document: &Value) -> Vec<String> {
    records(document)
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect()
}

fn records(document: &Value) -> &Vec<Value> {
    document["records"].as_array().expect("records")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Unix micros an hour from now.
fn in_an_hour() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_micros()).unwrap() + 3_600_000_000
}

/// A records document of `records`.
fn document(records: Value) -> String {
    json!({"format": "sessattr-records", "version": 1, "records": records}).to_string()
}

/// Writes `text` to `dir/name`; answers the path as text.
fn file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Asserts that no key and no value of `document` occurs in `text`.
#[track_caller]
fn shows_no_record(text: &str, document: &Value) {
    // An encryption counter is a small number, no secret (and digits may
    // well appear in a message).
    let secret = |r: &&Value| !r["key"].as_str().unwrap_or("").starts_with("sa:keyuse:");
    for record in records(document).iter().filter(secret) {
        for field in ["key", "value"] {
            let part = record[field].as_str().unwrap();
            assert!(part.is_empty() || !text.contains(part), "{field} in {text}");
        }
    }
}

/// The GET of one attribute of `target`.
fn get(
    client: &reqwest::blocking::Client,
    server: &Server,
    current: &str,
    target: &str,
    name: &str,
) -> Answer {
    let body =
        json!({"current_ust": current, "target_ust": target, "current_app": "CRM", "name": name});
    send_json(client, "GET", &server.url(ATTR), &body)
}

#[test]
fn an_export_imported_into_a_fresh_data_dir_serves_the_same_attributes() {
    let TwoUsers {
        tmp,
        data,
        log,
        server,
        client,
        admin,
        alice,
    } = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    for (name, value, encrypt) in [
        ("sealed", SEALED_VALUE, true),
        ("plain", PLAIN_VALUE, false),
    ] {
        let body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                          "name": name, "value": value, "encrypt": encrypt, "expiration": 3600});
        send_json(&client, "POST", &server.url(ATTR), &body).assert_ok();
    }
    // The store admits several processes: an export beside the server works.
    let beside = export(&data, &log);
    assert!(server.stop().success());

    let out = tmp.path().join("records.json");
    let (stdout, stderr) = ok(
        &data,
        &log,
        &["store", "export", "--output", out.to_str().unwrap()],
        "",
    );
    assert_eq!(
        stdout,
        format!(
            "exported 8 records (0 expired, skipped) to {}\n",
            out.display()
        )
    );
    assert_eq!(mode(&out), 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    let exported: Value = serde_json::from_str(&text).unwrap();
    assert!(stderr.is_empty() && !stdout.contains(&text), "{stderr}");
    shows_no_record(&format!("{stdout}{stderr}"), &exported);
    // Beside the running server, its key's encryption counter still held
    // the server's reserved block; once stopped, the count of what was made.
    let without_counters = |doc: &Value| {
        let mut doc = doc.clone();
        doc["records"]
            .as_array_mut()
            .unwrap()
            .retain(|r| !r["key"].as_str().unwrap().starts_with("sa:keyuse:"));
        doc
    };
    assert_eq!(without_counters(&exported), without_counters(&beside));
    let counter = records(&exported)
        .iter()
        .find(|r| r["key"].as_str().unwrap().starts_with("sa:keyuse:"))
        .expect("the key's encryption counter is exported");
    assert_eq!(counter["value"], "1", "one encryption was made");

    // The document: two users, two sessions, one attribute index, two
    // attributes and one key's encryption counter, in key order; the sealed
    // value is not in clear.
    assert_eq!(exported["format"], "sessattr-records");
    assert_eq!(exported["version"], 1);
    assert!(
        text.starts_with(r#"{"format":"sessattr-records","version":1,"records":[{"key":"#)
            && text.ends_with("}]}\n")
            && text.lines().count() == 1
    );
    assert_eq!(exported.as_object().unwrap().len(), 3);
    let all = keys(&exported);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    let count = |prefix: &str| all.iter().filter(|k| k.starts_with(prefix)).count();
    assert_eq!(
        [
            count("sa:user:"),
            count("sa:s:"),
            count("sa:i:"),
            count("sa:a:"),
            count("sa:keyuse:")
        ],
        [2, 2, 1, 2, 1]
    );
    assert!(all.contains(&"sa:user:admin".to_owned()) && all.contains(&"sa:user:alice".to_owned()));
    for record in records(&exported) {
        let key = record["key"].as_str().unwrap();
        assert_eq!(record.as_object().unwrap().len(), 3, "{key}");
        let kept_forever = key.starts_with("sa:user:") || key.starts_with("sa:keyuse:");
        assert_eq!(record["expires_at"].is_null(), kept_forever, "{key}");
    }
    assert!(text.contains(PLAIN_VALUE) && !text.contains(SEALED_VALUE));

    // A fresh data dir with the same key file takes the whole document.
    let fresh = tmp.path().join("fresh");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&fresh)
        .unwrap();
    std::fs::copy(data.join("keys.json"), fresh.join("keys.json")).unwrap();
    std::fs::set_permissions(
        fresh.join("keys.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (stdout, stderr) = ok(
        &fresh,
        &log,
        &["store", "import", out.to_str().unwrap()],
        "",
    );
    assert_eq!(stdout, "imported 8 records (0 expired, skipped)\n");
    assert!(stderr.is_empty(), "{stderr}");

    // Served there, the same USTs read both values back.
    let fresh_log = tmp.path().join("fresh.log");
    let server = Server::start(&fresh, &fresh_log, &[]);
    let sealed = get(&client, &server, &admin, &alice, "sealed");
    sealed.assert_ok();
    assert_eq!(
        (
            &sealed.body["found"],
            &sealed.body["value"],
            &sealed.body["is_encrypted"]
        ),
        (&json!(true), &json!(SEALED_VALUE), &json!(true))
    );
    let plain = get(&client, &server, &admin, &alice, "plain");
    plain.assert_ok();
    assert_eq!(
        (&plain.body["value"], &plain.body["is_encrypted"]),
        (&json!(PLAIN_VALUE), &json!(false))
    );
    // Alice's own session works there too (owner of the UST).
    let owner = send_json(
        &client,
        "GET",
        &server.url("/zato/sso/user"),
        &json!({"current_ust": alice, "current_app": "CRM"}),
    );
    owner.assert_ok();
    assert_eq!(owner.body["username"], "alice");
    assert!(server.stop().success());

    // Nothing was lost or changed on the way: the same document again.
    let (again, stderr) = ok(&fresh, &log, &["store", "export"], "");
    assert_eq!(again, text);
    assert_eq!(stderr, "exported 8 records (0 expired, skipped)\n");
    let server_log = read_to_string(&fresh_log);
    assert!(!server_log.contains(SEALED_VALUE) && !server_log.contains(PLAIN_VALUE));
}

#[test]
fn an_import_is_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("cli.log"));
    let later = in_an_hour();
    // In key order, as an export writes them.
    let first = json!([
        {"key": "sa:a:{abc}:color", "value": "red-Tr07", "expires_at": later},
        {"key": "sa:s:{abc}", "value": "session-Tr06", "expires_at": later},
        {"key": "sa:user:zed", "value": SECRET, "expires_at": null},
    ]);
    let doc = file(tmp.path(), "first.json", &document(first.clone()));
    let (stdout, stderr) = ok(&data, &log, &["store", "import", &doc], "");
    assert_eq!(stdout, "imported 3 records (0 expired, skipped)\n");
    // The data dir has no key file: the note says what to do.
    assert!(
        stderr.starts_with("note: ") && stderr.contains("keys.json"),
        "{stderr}"
    );
    let before = export(&data, &log);
    assert_eq!(records(&before), first.as_array().unwrap());

    // The same document again: every key is taken; nothing is written.
    let stderr = refused(&data, &log, &["store", "import", &doc], "");
    assert_eq!(
        stderr,
        "error: 3 of the 3 records to import already exist in the store; nothing was imported\n"
    );
    shows_no_record(&stderr, &before);
    assert_eq!(export(&data, &log), before);

    // One new key and one taken: the new one is not written either.
    let overlap = json!([
        {"key": "sa:a:{abc}:size", "value": "large-Tr08", "expires_at": later},
        {"key": "sa:s:{abc}", "value": "other-session-Tr09", "expires_at": later},
    ]);
    let doc = file(tmp.path(), "overlap.json", &document(overlap.clone()));
    let stderr = refused(&data, &log, &["store", "import", &doc], "");
    assert!(stderr.contains("1 of the 2 records"), "{stderr}");
    shows_no_record(&stderr, &json!({"records": overlap}));
    assert_eq!(export(&data, &log), before);

    // From standard input; a record already expired is skipped and counted.
    let more = json!([
        {"key": "sa:a:{abc}:size", "value": "large-Tr08", "expires_at": later},
        {"key": "sa:a:{abc}:gone", "value": "gone-Tr10", "expires_at": 1},
    ]);
    let (stdout, _) = ok(
        &data,
        &log,
        &["store", "import", "-"],
        &document(more.clone()),
    );
    assert_eq!(stdout, "imported 1 records (1 expired, skipped)\n");
    let after = keys(&export(&data, &log));
    assert_eq!(
        after,
        [
            "sa:a:{abc}:color",
            "sa:a:{abc}:size",
            "sa:s:{abc}",
            "sa:user:zed"
        ]
    );
}

#[test]
fn malformed_documents_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("cli.log"));
    let seed = json!([{"key": "sa:user:zed", "value": SECRET, "expires_at": null}]);
    let seed_file = file(tmp.path(), "seed.json", &document(seed));
    ok(&data, &log, &["store", "import", &seed_file], "");
    let before = export(&data, &log);

    // Each document also holds a good record under a new key, which must
    // not be written.
    let good = json!({"key": "sa:s:{new}", "value": "new-session-Tr11", "expires_at": null});
    let with_good = |bad: Value| document(json!([good, bad]));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad JSON",
            format!(
                r#"{{"format": "sessattr-records", "version": 1, "records": [{good}, "{SECRET}""#
            ),
            "not JSON: EOF while parsing",
        ),
        (
            "wrong format",
            json!({"format": "other", "version": 1, "records": [good]}).to_string(),
            "`format` is not \"sessattr-records\"",
        ),
        (
            "other version",
            json!({"format": "sessattr-records", "version": 2, "records": [good]}).to_string(),
            "version 2 is not supported",
        ),
        (
            "key without sa:",
            with_good(json!({"key": format!("user:{SECRET}"), "value": "v", "expires_at": null})),
            "records[1]: `key` does not start with `sa:`",
        ),
        (
            "value not a string",
            with_good(json!({"key": "sa:user:x", "value": {"v": SECRET}, "expires_at": null})),
            "records[1]: `value` must be a string, not an object",
        ),
        (
            "expiry not an integer",
            with_good(json!({"key": "sa:user:x", "value": SECRET, "expires_at": "soon"})),
            "records[1]: `expires_at` must be an integer",
        ),
        (
            "unknown field",
            with_good(json!({"key": "sa:user:x", "value": SECRET, "expires_at": null, "note": 1})),
            "records[1] has an unknown field",
        ),
        (
            "missing field",
            with_good(json!({"key": "sa:user:x", "value": SECRET})),
            "records[1] lacks `expires_at`",
        ),
        (
            "a key twice",
            with_good(json!({"key": "sa:s:{new}", "value": SECRET, "expires_at": null})),
            "1 record(s) repeat the key of an earlier one",
        ),
    ];
    for (what, text, expected) in cases {
        let doc = file(tmp.path(), "bad.json", &text);
        let stderr = refused(&data, &log, &["store", "import", &doc], "");
        assert!(
            stderr.starts_with("error: invalid records document: ") && stderr.contains(expected),
            "{what}: {stderr}"
        );
        assert!(
            !stderr.contains(SECRET) && !stderr.contains("{new}"),
            "{what}: {stderr}"
        );
        let from_stdin = refused(&data, &log, &["store", "import", "-"], &text);
        assert_eq!(from_stdin, stderr, "{what}");
        assert_eq!(export(&data, &log), before, "{what} wrote something");
    }

    // A refused document creates no data dir; a missing file is named.
    let never = tmp.path().join("never");
    let bad = file(tmp.path(), "bad.json", "[]");
    refused(&never, &log, &["store", "import", &bad], "");
    let missing = tmp.path().join("missing.json");
    let stderr = refused(
        &never,
        &log,
        &["store", "import", missing.to_str().unwrap()],
        "",
    );
    assert!(stderr.contains("missing.json"), "{stderr}");
    assert!(!never.exists());
}

#[test]
fn export_never_replaces_a_file_and_needs_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, log) = (tmp.path().join("data"), tmp.path().join("cli.log"));
    let seed = json!([
        {"key": "sa:s:{abc}", "value": "session-Tr12", "expires_at": null},
        {"key": "sa:user:zed", "value": SECRET, "expires_at": null},
    ]);
    let seed_file = file(tmp.path(), "seed.json", &document(seed));
    ok(&data, &log, &["store", "import", &seed_file], "");

    // An existing file is refused and left as it was.
    let taken = file(tmp.path(), "taken.json", "keep me");
    let stderr = refused(&data, &log, &["store", "export", "--output", &taken], "");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");

    // --prefix picks records; one outside `sa:` is a usage error.
    let out: PathBuf = tmp.path().join("users.json");
    let (stdout, _) = ok(
        &data,
        &log,
        &[
            "store",
            "export",
            "--prefix",
            "sa:user:",
            "--output",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        stdout.starts_with("exported 1 records (0 expired, skipped)"),
        "{stdout}"
    );
    let users: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(keys(&users), ["sa:user:zed"]);
    let (output, _, stderr) = cli(&data, &log, &["store", "export", "--prefix", "user:"], "");
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must start with `sa:`"), "{stderr}");

    // A data dir without a store: an error, and nothing is created.
    let empty = tmp.path().join("empty");
    let stderr = refused(&empty, &log, &["store", "export"], "");
    assert!(stderr.contains("no store at"), "{stderr}");
    assert!(!empty.exists());
}
