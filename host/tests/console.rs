//! The web console through the real binary: `/console/` serves the files of
//! `www/dist/` embedded at build time (the built module among them) with
//! their headers, other methods get 405, the module still answers every
//! other path, and `--no-console` leaves `/console/` to the module (404).
//!
//! These tests need the console built into the binary (`cargo xtask build`
//! before the host build); they fail, with that hint, when it is not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use common::*;
use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The policy every console answer carries.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The built module, as the console serves it.
const MODULE_PATH: &str = "/console/vendor/sessattr/dist/node/sessattr_wasm_bg.wasm";

/// A client that does not follow redirects.
fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A header's value as text, empty when absent.
fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Asserts the headers every console answer carries.
#[track_caller]
fn assert_console_headers(headers: &HeaderMap) {
    assert_eq!(
        header(headers, "content-security-policy"),
        CSP,
        "{headers:?}"
    );
    assert_eq!(header(headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer");
    assert_eq!(header(headers, "cache-control"), "no-cache");
}

/// Status, headers and body of `response`.
fn parts(response: Response) -> (u16, HeaderMap, Vec<u8>) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().unwrap().to_vec();
    (status, headers, body)
}

/// `GET path` over a plain TCP connection, the path sent exactly as given;
/// answers the head (status line and headers) and the body.
fn raw_get(server: &Server, path: &str) -> (String, String) {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a full answer");
    (format!("{head}\r\n"), body.to_owned())
}

/// A server on a fresh data dir, with `extra` serve flags and JSON logs.
fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--log-format", "json"];
    args.extend_from_slice(extra);
    Server::start(&dir.join("data"), &dir.join("server.log"), &args)
}

#[test]
fn the_console_is_served_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path(), &[]);
    let client = no_redirects();

    // The index, with the query string that must not reach the log.
    let (status, headers, body) = parts(
        client
            .get(server.url("/console/?ust=QUERY-SECRET-789"))
            .send()
            .unwrap(),
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        !(status == 404 && text.contains("not built")),
        "www/dist/ was not built: run cargo xtask build (then build the host again); \
         the binary answered {status} {text:?}"
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_console_headers(&headers);
    assert!(text.contains("<html"), "{text}");
    let etag = header(&headers, "etag");
    assert!(
        etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'),
        "{etag:?}"
    );

    // Revalidation: the same tag answers 304 without a body.
    let (status, headers, body) = parts(
        client
            .get(server.url("/console/"))
            .header("if-none-match", &etag)
            .send()
            .unwrap(),
    );
    assert_eq!((status, body.len()), (304, 0));
    assert_eq!(header(&headers, "etag"), etag);
    assert_console_headers(&headers);

    // HEAD: the headers of GET, no body.
    let (status, headers, body) = parts(client.head(server.url("/console/")).send().unwrap());
    let index_len = client
        .get(server.url("/console/index.html"))
        .send()
        .unwrap()
        .bytes()
        .unwrap()
        .len();
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&headers, "content-length"), index_len.to_string());
    assert_eq!(header(&headers, "etag"), etag);
    assert_console_headers(&headers);

    // The module, byte for byte what the build produced.
    let (status, headers, body) = parts(client.get(server.url(MODULE_PATH)).send().unwrap());
    assert_eq!(status, 200, "{MODULE_PATH} is not in www/dist/");
    assert_eq!(header(&headers, "content-type"), "application/wasm");
    assert_console_headers(&headers);
    let built = std::fs::read(built_module()).expect("pkg/dist/node/sessattr_wasm_bg.wasm");
    assert!(
        body == built,
        "the served module differs from {}",
        built_module().display()
    );

    // The bare path redirects into the folder.
    let (status, headers, _) = parts(client.get(server.url("/console")).send().unwrap());
    assert_eq!(status, 308);
    assert_eq!(header(&headers, "location"), "/console/");
    assert_console_headers(&headers);

    // Nothing but the embedded files: no folder, no way out. Sent raw:
    // an HTTP client would resolve the dot segments itself.
    for path in [
        "/console/no-such-file.js",
        "/console/vendor/",
        "/console/../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/..%2fCargo.toml",
        "/console/js/../index.html",
        "/console//index.html",
        "/console/js%5cmain.js",
    ] {
        let (head, body) = raw_get(&server, path);
        assert!(head.starts_with("HTTP/1.1 404 "), "{path}: {head}");
        assert_eq!(body, "not found\n", "{path}");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
            "{path}: {head}"
        );
        assert!(
            head.contains("\r\nx-content-type-options: nosniff\r\n"),
            "{path}: {head}"
        );
    }

    // Other methods: 405 with Allow, whatever the body.
    let (status, headers, _) = parts(
        client
            .post(server.url("/console/"))
            .body("{}")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), "GET, HEAD");
    assert_console_headers(&headers);

    // Every other path still goes to the module.
    let answer = send(
        &client,
        "GET",
        &server.url("/consoles"),
        Vec::new(),
        "application/json",
    );
    answer.assert_error(404, "E008001");

    assert!(server.stop().success(), "graceful stop");
    let log = read_to_string(&tmp.path().join("server.log"));
    assert!(
        !log.contains("QUERY-SECRET-789"),
        "query string logged:\n{log}"
    );
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let index_line = lines
        .iter()
        .find(|l| l["message"] == "console" && l["path"] == "/console/" && l["method"] == "GET")
        .unwrap_or_else(|| panic!("no console line for GET /console/:\n{log}"));
    assert_eq!(index_line["http_status"], 200, "{index_line}");
    assert_eq!(index_line["level"], "INFO", "{index_line}");
    assert!(index_line["elapsed_us"].as_u64().is_some(), "{index_line}");
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "console" && l["method"] == "POST" && l["http_status"] == 405),
        "no console line for the POST:\n{log}"
    );
}

#[test]
fn without_the_console_the_module_answers_404() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path(), &["--no-console"]);
    let client = no_redirects();
    for path in ["/console/", "/console", MODULE_PATH] {
        let answer = send(
            &client,
            "GET",
            &server.url(path),
            Vec::new(),
            "application/json",
        );
        answer.assert_error(404, "E008001");
        assert_eq!(answer.content_type, "application/json", "{path}");
    }
}
