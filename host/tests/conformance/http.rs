//! Sending one resolved request and reading the answer as the runner needs
//! it: status, the headers cases check, and the raw and parsed body.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// HTTP method.
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Encoded query string, without `?`; empty for none.
    pub query: String,
    /// The body bytes, if any.
    pub body: Option<Vec<u8>>,
    /// Its content type.
    pub content_type: String,
}

impl Outgoing {
    /// `path?query`.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Every header, lower-case names (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body as text (lossy).
    pub text: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

/// A blocking client for the runner: no redirects, generous timeout.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Sends `request` to `base`; a transport error is an `Err` with its text.
pub fn send(
    client: &reqwest::blocking::Client,
    base: &str,
    request: &Outgoing,
) -> Result<Answer, String> {
    crate::common::evidence::request(
        request.body.as_deref().unwrap_or_default(),
        &request.target(),
    );
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| format!("bad method {:?}: {e}", request.method))?;
    let mut builder = client.request(method, format!("{base}{}", request.target()));
    if let Some(body) = &request.body {
        builder = builder
            .header("content-type", &request.content_type)
            .body(body.clone());
    }
    let response = builder
        .send()
        .map_err(|e| format!("transport error: {e:#}"))?;
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let bytes = response
        .bytes()
        .map_err(|e| format!("reading the body: {e:#}"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    crate::common::evidence::answer(status, &text);
    let json = serde_json::from_slice(&bytes).ok();
    Ok(Answer {
        status,
        headers,
        text,
        json,
    })
}
