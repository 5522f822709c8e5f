//! The HTTP face and the step loop through the real binary, with a fake
//! module (no core needed): status, headers and body come from the module,
//! writes reach the redb store, a lost race ends in 503 E008004, and the log
//! never carries request bodies or query strings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// What the fake module answers when it decides.
const DONE_BODY: &str = r#"{"cid":"0123456789abcdef01234567","status":"ok"}"#;

/// The binary serving the fake module from `dir`, with `extra` serve flags;
/// answers the server and its log file.
fn fake_server(dir: &Path, extra: &[&str]) -> (Server, PathBuf) {
    let (data, log, module) = (
        dir.join("data"),
        dir.join("server.log"),
        dir.join("fake.wasm"),
    );
    std::fs::write(&module, fake_module(DONE_BODY)).unwrap();
    let mut args = vec!["--module", module.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&data, &log, &args), log)
}

#[test]
fn carries_the_modules_answer_and_applies_its_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, log) = fake_server(tmp.path(), &["--log-format", "json"]);
    let client = client();

    // First call: need → done; the put-if-absent is applied; 201 and headers pass through.
    let response = client
        .post(server.url("/anything/at/all?ust=QUERY-SECRET-123"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("BODY-SECRET-456")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["x-fake"], "yes");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().unwrap(), DONE_BODY);

    // Second call: the key exists now, every retry loses → 503 E008004.
    let second = send(
        &client,
        "PUT",
        &server.url("/x"),
        b"{}".to_vec(),
        "application/json",
    );
    second.assert_error(503, "E008004");
    assert_eq!(second.content_type, "application/json");

    assert!(server.stop().success(), "graceful stop");

    let text = read_to_string(&log);
    assert!(
        !text.contains("QUERY-SECRET-123"),
        "query string logged:\n{text}"
    );
    assert!(!text.contains("BODY-SECRET-456"), "body logged:\n{text}");
    // JSON lines only; one request line per request with the module's fields.
    let lines: Vec<Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"))
        })
        .collect();
    let ok_line = lines
        .iter()
        .find(|l| l["cid"] == "0123456789abcdef01234567")
        .unwrap_or_else(|| panic!("no request line:\n{text}"));
    assert_eq!(ok_line["op"], "fake.op");
    assert_eq!(ok_line["http_status"], 201);
    assert_eq!(ok_line["method"], "POST");
    // Not one of the host's API routes, so logged by its length only: a
    // path the host does not know could hold a secret.
    assert_eq!(ok_line["path"], "(unknown path of 16 bytes)");
    assert_eq!(ok_line["names"], r#"["fake-name"]"#);
    assert!(ok_line["elapsed_us"].as_u64().is_some());
    let failed = lines
        .iter()
        .find(|l| l["cid"] == second.body["cid"])
        .unwrap_or_else(|| panic!("no line for the 503:\n{text}"));
    assert_eq!(failed["http_status"], 503);
    assert_eq!(failed["sub_status"], "E008004");
    // Startup lines: module sha256, data dir, key id, listen address.
    assert!(
        lines
            .iter()
            .any(|l| l["sha256"].as_str().is_some_and(|s| s.len() == 64)),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["key_id"].as_str().is_some_and(|s| s.starts_with("k-"))),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["listen"].as_str().is_some()),
        "{text}"
    );
}

/// A body over the limit: up to the drain bound (8 MiB) it is read to its
/// end and thrown away, so the client finishes sending, reads the answer,
/// and may keep using the connection — whether the size was declared or the
/// body came chunked. A body declared beyond the bound is answered at once,
/// unread, with `Connection: close`.
#[test]
fn an_unread_body_closes_its_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, _log) = fake_server(tmp.path(), &[]);
    let client = client();
    let big = vec![b'x'; (1 << 20) + 1];

    for _ in 0..20 {
        // Every time: the client sees the answer, never a broken pipe.
        let declared = client
            .put(server.url("/x"))
            .body(big.clone())
            .send()
            .unwrap();
        assert!(
            declared.headers().get("connection").is_none(),
            "{:?}",
            declared.headers()
        );
    }
    let chunked = client
        .put(server.url("/x"))
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(big)))
        .send()
        .unwrap();
    assert!(chunked.headers().get("content-length").is_some());
    assert!(chunked.headers().get("connection").is_none());

    // Declared beyond the drain bound: the answer comes before any body byte.
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut raw = std::net::TcpStream::connect(&addr).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    raw.write_all(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    for _ in 0..3 {
        // The fake module's answer (201, then 503 once its key exists):
        // what matters is that the request travels.
        let next = client.get(server.url("/y")).send().unwrap();
        assert_eq!(next.headers()["content-type"], "application/json");
        assert!(
            next.headers().get("connection").is_none(),
            "{:?}",
            next.headers()
        );
    }
    assert!(server.stop().success(), "graceful stop");
}
