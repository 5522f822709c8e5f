//! Cross-origin requests (`serve --allow-origin`): an allowed origin's
//! preflight is answered and its answers may be read; any other origin's
//! requests, preflights included, go their usual way with no CORS header
//! but `Vary: Origin`, and without the flag no CORS header is ever sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::blocking::{Client, Response};

const ALLOWED: &str = "http://console.example:8080";
const OTHER: &str = "http://evil.example";

fn request(client: &Client, method: &str, url: &str, headers: &[(&str, &str)]) -> Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = client.request(method, url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.send().unwrap()
}

fn allow_origin(response: &Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

fn preflight(origin: &str) -> [(&str, &str); 3] {
    [
        ("origin", origin),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "content-type"),
    ]
}

#[test]
fn an_allowed_origin_may_call_the_api_and_others_may_not() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--allow-origin",
        &format!("{ALLOWED},http://second.example"),
    ];
    let server = Server::start(&tmp.path().join("data"), &tmp.path().join("log"), &args);
    let client = client();
    let names = server.url("/zato/sso/session/attr/names?current_app=CRM");

    let answer = request(&client, "OPTIONS", &names, &preflight(ALLOWED));
    assert_eq!(answer.status(), 204);
    assert_eq!(allow_origin(&answer).as_deref(), Some(ALLOWED));
    let methods = answer.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert_eq!(
        answer.headers()["access-control-allow-headers"],
        "content-type"
    );
    assert!(
        answer
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    // The real request: the module answers (E007001, no UST) and the
    // browser may read it.
    let answer = request(&client, "GET", &names, &[("origin", ALLOWED)]);
    assert_eq!(answer.status(), 403);
    assert_eq!(allow_origin(&answer).as_deref(), Some(ALLOWED));
    let answer = request(
        &client,
        "GET",
        &names,
        &[("origin", "http://second.example")],
    );
    assert_eq!(
        allow_origin(&answer).as_deref(),
        Some("http://second.example")
    );

    let answer = request(&client, "GET", &names, &[("origin", OTHER)]);
    assert_eq!(answer.status(), 403, "the module still answers");
    assert_eq!(
        allow_origin(&answer),
        None,
        "another origin may not read it"
    );
    let answer = request(&client, "OPTIONS", &names, &preflight(OTHER));
    assert_eq!(allow_origin(&answer), None);
}

#[test]
fn without_allowed_origins_no_cors_header_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &tmp.path().join("log"), &[]);
    let client = client();
    let names = server.url("/zato/sso/session/attr/names");
    let answer = request(&client, "OPTIONS", &names, &preflight(ALLOWED));
    assert_eq!(answer.status(), 405, "OPTIONS goes to the module");
    assert_eq!(allow_origin(&answer), None);
    let answer = request(&client, "GET", &names, &[("origin", ALLOWED)]);
    assert_eq!(allow_origin(&answer), None);
}

#[test]
fn a_malformed_origin_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        "console.example",
        "http://console.example/",
        "*",
        "https://a.example/path",
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sessattr"))
            .args(["--data-dir"])
            .arg(tmp.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-origin", bad])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--allow-origin"), "{bad}: {stderr}");
    }
}
