//! The cases of the micro benchmarks, shared by the core's (`decide.rs`)
//! and the module's (`host/benches/module_call.rs`): create and get of one
//! attribute or a batch of 100, plain or encrypted, 64 B or 64 KiB values.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{Value, json};
use sessattr_core::protocol::{HttpRequest, Operation};

/// Value sizes: a typical small value, and the largest allowed (SPEC 3).
pub const SIZES: [(&str, usize); 2] = [("64B", 64), ("64KiB", 65_536)];
/// Attributes per request: the single form, and a batch.
pub const COUNTS: [usize; 2] = [1, 100];
/// Criterion's settings of both micro benchmarks: 20 samples, short, so
/// that `cargo xtask bench` stays within its time (the confidence
/// intervals in the table show what the shortness costs).
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

/// The verbs measured, with their HTTP methods.
pub const VERBS: [(&str, &str); 2] = [("create", "POST"), ("get", "GET")];

/// One case: its benchmark id within its verb's group.
pub fn case_id(count: usize, size_name: &str, encrypt: bool) -> String {
    let kind = if encrypt { "encrypted" } else { "plain" };
    format!("{count}x{size_name}/{kind}")
}

/// The write fields of `count` attributes (`name` + `value`, or `data`).
pub fn write_fields(count: usize, size: usize, encrypt: bool) -> Value {
    let value = "v".repeat(size);
    if count == 1 {
        json!({"name": "attr-0", "value": value, "encrypt": encrypt})
    } else {
        let data: Vec<Value> = (0..count)
            .map(|i| json!({"name": format!("attr-{i}"), "value": value, "encrypt": encrypt}))
            .collect();
        json!({"data": data})
    }
}

/// The get fields of `count` attributes.
pub fn get_fields(count: usize) -> Value {
    if count == 1 {
        json!({"name": "attr-0"})
    } else {
        json!({"data": (0..count).map(|i| format!("attr-{i}")).collect::<Vec<_>>()})
    }
}

/// The fields of `verb` for `count` attributes.
pub fn fields(verb: &str, count: usize, size: usize, encrypt: bool) -> Value {
    if verb == "create" {
        write_fields(count, size, encrypt)
    } else {
        get_fields(count)
    }
}

/// `base` with the fields of `extra` added.
pub fn with(base: &Value, extra: Value) -> Value {
    let mut all = base.clone();
    for (key, value) in extra.as_object().unwrap() {
        all[key] = value.clone();
    }
    all
}

/// The request on the attribute endpoint with `body`.
pub fn attr_request(method: &str, body: &Value) -> Operation {
    http(method, "/zato/sso/session/attr", body)
}

/// A request of `method` on `path` with the JSON `body`.
pub fn http(method: &str, path: &str, body: &Value) -> Operation {
    Operation::Http(HttpRequest {
        method: method.into(),
        path: path.into(),
        body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        remote_addr: "127.0.0.1".into(),
        user_agent: "bench".into(),
        ..HttpRequest::default()
    })
}
