//! `POST /_sessattr/test/clock`: moves a test clock forward. For tests only.
//!
//! The HTTP handler answers this path itself, before the module, and only
//! when the server runs with `--test-clock`; otherwise the path goes to the
//! module like any other (which answers 404).
//!
//! Request: `{"advance_secs": N}` with N an integer 0 … [`MAX_ADVANCE_SECS`]
//! (unknown fields are ignored). Answer: `200 {"cid","status":"ok","now"}`
//! with the clock's new now; anything else is `400 E008002`, another method
//! `405 E008001` (with `Allow: POST`), a body over the limit `413 E008002`.

use serde::Deserialize;
use sessattr_core::protocol::{HttpResponse, LogFields};

use crate::clock::{Clock, MAX_ADVANCE_SECS, format_micros};
use crate::runner::{Outcome, random_cid};

/// The path of the test clock.
pub const PATH: &str = "/_sessattr/test/clock";
/// The operation label in the request log line.
pub const OP: &str = "test.clock";
/// Invalid input.
const E_INVALID_INPUT: &str = "E008002";
/// Invalid operation.
const E_INVALID_OPERATION: &str = "E008001";

/// The request body. Serde refuses a field given twice, a missing field and
/// anything that is not a non-negative integer; [`answer`] checks that the
/// body is an object.
#[derive(Debug, Deserialize)]
struct Advance {
    advance_secs: u64,
}

/// The body as the handler read it.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// Every byte of the body.
    Complete(&'a [u8]),
    /// The body was over the size limit.
    TooLarge,
}

/// Answers one request to [`PATH`] against `clock`.
pub fn answer(clock: &Clock, method: &str, body: Body<'_>) -> Outcome {
    let cid = random_cid();
    if method != "POST" {
        return error(
            cid,
            405,
            E_INVALID_OPERATION,
            "method not allowed",
            vec![("allow".into(), "POST".into())],
        );
    }
    let bytes = match body {
        Body::Complete(bytes) => bytes,
        Body::TooLarge => return error(cid, 413, E_INVALID_INPUT, "body too large", Vec::new()),
    };
    // Serde would also read a struct from a JSON array: only objects pass.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let parsed = serde_json::from_slice::<Advance>(bytes).ok();
    let Some(request) = parsed.filter(|_| is_object) else {
        let message = format!(
            "the body must be a JSON object with advance_secs, an integer from 0 to {MAX_ADVANCE_SECS}"
        );
        return error(cid, 400, E_INVALID_INPUT, &message, Vec::new());
    };
    match clock.advance(request.advance_secs) {
        Ok(now) => {
            let now = format_micros(now);
            tracing::warn!(
                cid = %cid,
                advance_secs = request.advance_secs,
                offset_secs = clock.offset_micros() / crate::clock::MICROS_PER_SEC,
                now = %now,
                "test clock advanced"
            );
            let body = serde_json::json!({"cid": cid, "status": "ok", "now": now});
            outcome(cid, 200, body, Vec::new())
        }
        Err(err) => error(cid, 400, E_INVALID_INPUT, &err.to_string(), Vec::new()),
    }
}

/// An error answer with the usual envelope.
fn error(
    cid: String,
    status: u16,
    code: &str,
    message: &str,
    headers: Vec<(String, String)>,
) -> Outcome {
    let body = serde_json::json!({
        "cid": cid, "status": "error", "sub_status": [code], "message": message,
    });
    outcome(cid, status, body, headers)
}

fn outcome(
    cid: String,
    status: u16,
    body: serde_json::Value,
    headers: Vec<(String, String)>,
) -> Outcome {
    let sub_status: Vec<String> = body["sub_status"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let log = LogFields {
        cid,
        op: OP.into(),
        app: None,
        status: body["status"].as_str().unwrap_or("error").to_owned(),
        sub_status,
        names: Vec::new(),
    };
    Outcome {
        response: HttpResponse {
            status,
            headers,
            body: body.to_string(),
        },
        log,
        failure: None,
        attempts: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn body_of(outcome: &Outcome) -> Value {
        serde_json::from_str(&outcome.response.body).expect("json")
    }

    #[test]
    fn advances_and_answers_the_new_now() {
        let clock = Clock::test();
        let outcome = answer(
            &clock,
            "POST",
            Body::Complete(br#"{"advance_secs": 10, "x": 1}"#),
        );
        assert_eq!(outcome.response.status, 200);
        let body = body_of(&outcome);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["cid"].as_str().map(str::len), Some(24));
        let now = body["now"].as_str().expect("now");
        assert_eq!(now.len(), 26, "{now}");
        assert_eq!(&now[10..11], "T");
        assert_eq!(clock.offset_micros(), 10_000_000);
        assert_eq!(outcome.log.op, OP);
        assert!(body.get("sub_status").is_none());
    }

    #[test]
    fn refuses_bad_input_with_e008002() {
        let clock = Clock::test();
        let bodies: [&[u8]; 14] = [
            b"",
            b"not json",
            b"[]",
            b"[10]",
            br#"{"advance_secs": 10} x"#,
            b"{}",
            br#"{"advance_secs": -1}"#,
            br#"{"advance_secs": 1.5}"#,
            br#"{"advance_secs": "10"}"#,
            br#"{"advance_secs": null}"#,
            br#"{"advance_secs": true}"#,
            br#"{"advance_secs": 315360001}"#,
            br#"{"advance_secs": 1e3}"#,
            br#"{"advance_secs": 1, "advance_secs": 2}"#,
        ];
        for bytes in bodies {
            let outcome = answer(&clock, "POST", Body::Complete(bytes));
            assert_eq!(
                outcome.response.status,
                400,
                "{}",
                String::from_utf8_lossy(bytes)
            );
            let body = body_of(&outcome);
            assert_eq!(body["status"], "error");
            assert_eq!(body["sub_status"], serde_json::json!(["E008002"]));
            assert!(body["message"].is_string());
            assert_eq!(outcome.log.sub_status, vec!["E008002"]);
        }
        assert_eq!(clock.offset_micros(), 0);
        let max = answer(
            &clock,
            "POST",
            Body::Complete(br#"{"advance_secs": 315360000}"#),
        );
        assert_eq!(max.response.status, 200);
    }

    #[test]
    fn other_methods_and_large_bodies() {
        let clock = Clock::test();
        let outcome = answer(&clock, "GET", Body::Complete(b"{}"));
        assert_eq!(outcome.response.status, 405);
        assert_eq!(
            outcome.response.headers,
            vec![("allow".into(), "POST".into())]
        );
        assert_eq!(
            body_of(&outcome)["sub_status"],
            serde_json::json!(["E008001"])
        );
        let outcome = answer(&clock, "POST", Body::TooLarge);
        assert_eq!(outcome.response.status, 413);
        assert_eq!(
            body_of(&outcome)["sub_status"],
            serde_json::json!(["E008002"])
        );
    }
}
