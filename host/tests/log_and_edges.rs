//! Log lines that clients cannot forge or blow up, and the host's own
//! answers at the edges of HTTP, through the real binary (text logs):
//! attribute names are quoted as a JSON list, a `current_app` that is not
//! configured is logged by its length only, methods are case-sensitive,
//! and a body that ends early is the client's invalid input, not an
//! internal error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Lo01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Lo02";
const ATTR: &str = "/zato/sso/session/attr";
const FORGING_NAME: &str = "x elapsed_us=0 status=ok op=forged,y";

#[test]
fn log_lines_hold_what_clients_send_in_bounds() {
    let TwoUsers {
        tmp: _tmp,
        log,
        server,
        client,
        admin,
        alice,
        ..
    } = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let url = server.url(ATTR);

    let body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM",
                      "name": FORGING_NAME, "value": "v"});
    send_json(&client, "POST", &url, &body).assert_ok();
    // Not a run of one letter: a forged UST of the run may be one.
    let huge_app = "app-".repeat(25_000);
    let body = json!({"current_ust": admin, "target_ust": alice, "current_app": huge_app,
                      "name": "n", "value": "v"});
    send_json(&client, "POST", &url, &body).assert_error(403, "E004001");
    // A password typed into `current_app`: refused, and logged by length.
    let login = json!({"username": "alice", "password": ALICE_PASSWORD,
                       "current_app": ALICE_PASSWORD});
    send_json(&client, "POST", &server.url("/zato/sso/user/login"), &login)
        .assert_error(403, "E004001");

    // A path of 10 000 characters is an unknown path, logged by its length
    // only (an unknown path is the client's text: it may hold a UST).
    let long_path = server.url(&format!("/zato/{}", "p".repeat(10_000)));
    let answer = client.get(&long_path).send().unwrap();
    assert_eq!(answer.status().as_u16(), 404);

    // USTs in a query string: the query string is never logged.
    let names = server.url(&format!(
        "{ATTR}/names?current_ust={admin}&target_ust={alice}&current_app=CRM"
    ));
    assert_eq!(client.get(&names).send().unwrap().status().as_u16(), 200);

    // `post` is not `POST`.
    let lower = client
        .request(reqwest::Method::from_bytes(b"post").unwrap(), &url)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(lower.status().as_u16(), 405);
    let lower: Value = lower.json().unwrap();
    assert_eq!(lower["sub_status"], json!(["E008001"]));

    // A body that ends before its Content-Length: 400 E008002 with a message.
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            b"POST /zato/sso/session/attr HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n{}",
        )
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let json_start = answer.find('{').expect("a JSON body");
    let body: Value = serde_json::from_str(&answer[json_start..]).unwrap();
    assert_eq!(body["sub_status"], json!(["E008002"]), "{answer}");
    assert_eq!(body["message"], "the request body could not be read");
    assert_cid(&body);

    assert!(server.stop().success(), "graceful stop");
    let text = read_to_string(&log);
    let created = text
        .lines()
        .find(|l| l.contains("op=attr.create") && l.contains("status=ok"))
        .expect("the create's line");
    let quoted = serde_json::to_string(&[FORGING_NAME]).unwrap();
    assert!(created.contains(&format!("names={quoted} ")), "{created}");
    assert!(
        created.contains(r#"app="CRM""#),
        "a configured app is logged as sent: {created}"
    );
    let ops: Vec<&str> = fields(created)
        .into_iter()
        .filter(|f| f.starts_with("op="))
        .collect();
    assert_eq!(ops, ["op=attr.create"], "{created}");
    assert!(
        text.lines().all(|l| l.len() < 2_000),
        "a log line over 2 000 bytes"
    );
    let unknown = text
        .lines()
        .find(|l| l.contains("http_status=404"))
        .expect("the long path's line");
    assert!(
        unknown.contains("path=\"(unknown path of 10006 bytes)\""),
        "{unknown}"
    );
    assert!(!text.contains("ppppp"), "an unknown path reached the log");
    let unknown_apps: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sub_status=E004001"))
        .collect();
    assert_eq!(unknown_apps.len(), 2, "{text}");
    assert!(
        unknown_apps[0].contains(r#"app="(unknown app of 100000 bytes)""#),
        "{}",
        unknown_apps[0]
    );
    let typed_password = format!(r#"app="(unknown app of {} bytes)""#, ALICE_PASSWORD.len());
    assert!(
        unknown_apps[1].contains(&typed_password),
        "{}",
        unknown_apps[1]
    );
    assert!(!text.contains(ALICE_PASSWORD), "a password reached the log");
    assert!(!text.contains("app-app"), "an unknown app reached the log");
    assert!(
        text.contains("op=attr.names") && !text.contains(&admin) && !text.contains(&alice),
        "a UST of the query string reached the log:\n{text}"
    );
    let refused = text
        .lines()
        .find(|l| l.contains("could not be read"))
        .expect("the truncated body's line");
    assert!(refused.contains("WARN"), "{refused}");
}

/// The space-separated fields of a text log line, as a reader that
/// respects double quotes splits them.
fn fields(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                out.push(&line[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out
}
