//! A session holding ~100 MB of values, through the real binary: every
//! decision reads the session's attribute index, never all its values, so
//! writes, names, exists, a 1 000-name get, delete, renew and logout all
//! work within the module's memory limit (a fresh-clone review found writes
//! failing with 500 at ~1 370 attributes of 65 000 bytes when decisions
//! read every record).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Lg01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Lg02";
const ATTR: &str = "/zato/sso/session/attr";
/// Attributes written, and bytes in each value.
const COUNT: usize = 1_500;
const VALUE_BYTES: usize = 65_000;
/// Items per write: 15 × 65 000 bytes stays under the 1 MiB body limit.
const PER_CALL: usize = 15;

fn big_value(i: usize) -> String {
    format!("{i:06}").repeat(VALUE_BYTES / 6)
}

#[test]
fn a_session_with_100_mb_of_values_keeps_working() {
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
    let base = |extra: Value| {
        let mut body = json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    for start in (0..COUNT).step_by(PER_CALL) {
        let data: Vec<Value> = (start..start + PER_CALL)
            .map(|i| json!({"name": format!("big-{i:05}"), "value": big_value(i)}))
            .collect();
        let answer = send_json(&client, "PUT", &url, &base(json!({"data": data})));
        assert_eq!(answer.status, 200, "at {start}: {:?}", answer.body);
    }

    // Writes of every kind still decide within the limits.
    let one = json!({"name": "one-more", "value": big_value(COUNT), "encrypt": true});
    send_json(&client, "POST", &url, &base(one)).assert_ok();
    let set = json!({"name": "big-00007", "value": big_value(7_000)});
    send_json(&client, "PUT", &url, &base(set)).assert_ok();
    let update = json!({"name": "big-00008", "value": "small now", "expiration": 600});
    send_json(&client, "PATCH", &url, &base(update)).assert_ok();

    let names = send_json(
        &client,
        "GET",
        &server.url(&format!("{ATTR}/names")),
        &base(json!({})),
    );
    names.assert_ok();
    assert_eq!(names.body["result"].as_array().unwrap().len(), COUNT + 1);

    let wanted: Vec<String> = (0..1_000).map(|i| format!("big-{i:05}")).collect();
    let exists = send_json(
        &client,
        "GET",
        &server.url(&format!("{ATTR}/exists")),
        &base(json!({"data": wanted})),
    );
    exists.assert_ok();
    assert!(
        exists.body["result"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == true)
    );
    let got = send_json(&client, "GET", &url, &base(json!({"data": wanted})));
    assert_eq!(
        got.status,
        200,
        "get of 1 000 names of 65 000 bytes; log: {}",
        tail(&read_to_string(&log))
    );
    let result = got.body["result"].as_object().unwrap();
    assert_eq!(result.len(), 1_000);
    assert_eq!(result["big-00000"]["value"], big_value(0));
    assert_eq!(result["big-00007"]["value"], big_value(7_000));
    assert_eq!(result["big-00008"]["value"], "small now");

    // 24 such gets at once: they queue for the module (a few run at a
    // time) instead of sharing the CPUs until all pass its time limit.
    let body = serde_json::to_vec(&base(json!({"data": wanted}))).unwrap();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|_| {
                scope.spawn(|| {
                    let answer = client
                        .get(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .unwrap();
                    let status = answer.status().as_u16();
                    let bytes = answer.bytes().unwrap().len();
                    assert!(status != 200 || bytes > 65_000_000, "{bytes} bytes");
                    status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{statuses:?}; {}",
        tail(&read_to_string(&log))
    );

    let doomed: Vec<String> = (1_000..1_100).map(|i| format!("big-{i:05}")).collect();
    send_json(&client, "DELETE", &url, &base(json!({"data": doomed}))).assert_ok();
    let renewed = send_json(
        &client,
        "PATCH",
        &server.url("/zato/sso/user/session"),
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    renewed.assert_ok();
    let names = send_json(
        &client,
        "GET",
        &server.url(&format!("{ATTR}/names")),
        &base(json!({})),
    );
    assert_eq!(
        names.body["result"].as_array().unwrap().len(),
        COUNT + 1 - 100
    );

    let out = send_json(
        &client,
        "POST",
        &server.url("/zato/sso/user/logout"),
        &json!({"ust": alice, "current_app": "CRM"}),
    );
    out.assert_ok();
    send_json(
        &client,
        "GET",
        &server.url(&format!("{ATTR}/names")),
        &base(json!({})),
    )
    .assert_error(403, "E007001");
    assert!(server.stop().success(), "graceful stop");
    let text = read_to_string(&log);
    assert!(!text.contains("ERROR"), "{}", tail(&text));
}

/// The last lines of a log.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
