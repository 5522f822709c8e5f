//! Response shaping: the envelope of SPEC 2.1.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::error::{Error, Failure};
use crate::protocol::HttpResponse;

/// `200` with `cid`, `status: "ok"` and the result fields beside them.
pub fn ok(cid: &str, fields: Map<String, Value>) -> HttpResponse {
    let mut body = fields;
    body.insert("cid".into(), Value::String(cid.into()));
    body.insert("status".into(), Value::String("ok".into()));
    HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: Value::Object(body).to_string(),
    }
}

/// The error envelope: `cid`, `status: "error"`, `sub_status: [code]`, a
/// fixed human-readable `message`, and `item` for many-form calls.
pub fn error(cid: &str, failure: &Failure) -> HttpResponse {
    let mut body = Map::new();
    body.insert("cid".into(), Value::String(cid.into()));
    body.insert("status".into(), Value::String("error".into()));
    body.insert(
        "sub_status".into(),
        Value::Array(vec![Value::String(failure.error.code().into())]),
    );
    body.insert("message".into(), Value::String(failure.error.to_string()));
    if let Some(item) = failure.item {
        body.insert("item".into(), Value::from(item));
    }
    let headers = match failure.error {
        Error::MethodNotAllowed { allow } => vec![(String::from("allow"), String::from(allow))],
        _ => Vec::new(),
    };
    HttpResponse {
        status: failure.error.http_status(),
        headers,
        body: Value::Object(body).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_has_no_sub_status() {
        let response = ok("ab", Map::new());
        let body: Value = serde_json::from_str(&response.body).expect("json");
        assert_eq!(body, serde_json::json!({"cid": "ab", "status": "ok"}));
    }

    #[test]
    fn errors_carry_code_item_and_allow() {
        let response = error("ab", &Failure::at(Error::AttrExists, 2));
        assert_eq!(response.status, 403);
        let body: Value = serde_json::from_str(&response.body).expect("json");
        assert_eq!(body["sub_status"], serde_json::json!(["E009001"]));
        assert_eq!(body["item"], 2);
        let response = error("ab", &Error::MethodNotAllowed { allow: "POST" }.into());
        assert_eq!(response.status, 405);
        assert_eq!(response.headers, [("allow".into(), "POST".into())]);
    }
}
