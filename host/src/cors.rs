//! Cross-origin requests (CORS) for the origins of `serve --allow-origin`:
//! pages of those origins may call the API from a browser and read its
//! answers. Nothing else changes: without allowed origins no CORS header is
//! ever sent, and a request that is not a preflight of an allowed origin
//! goes its usual way (an `OPTIONS` to the module, which answers 405).
//!
//! No credentials: the API takes its tokens in the request, never from
//! cookies, so `Access-Control-Allow-Credentials` is never sent.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};

/// The methods of the API (SPEC 2.2, 2.4).
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// The one request header the console (or any client) needs beyond the simple ones.
const HEADERS: &str = "content-type";
/// How long a browser may keep a preflight answer, in seconds.
const MAX_AGE_SECS: &str = "600";

/// The allowed origins (exact, lowercase `scheme://host[:port]`).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<HeaderValue>,
}

/// A preflight's answer: status and headers, no body.
#[derive(Debug)]
pub struct Preflight {
    /// 204.
    pub status: StatusCode,
    /// The CORS headers.
    pub headers: HeaderMap,
}

impl Cors {
    /// CORS for `origins`; none means off.
    pub fn new(origins: Vec<HeaderValue>) -> Self {
        Self { origins }
    }

    /// `origin` (a request's `Origin`) when it is allowed.
    fn allowed<'a>(&self, origin: Option<&'a HeaderValue>) -> Option<&'a HeaderValue> {
        let origin = origin?;
        self.origins.iter().any(|o| o == origin).then_some(origin)
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`)
    /// of an allowed origin; `None` for every other request.
    pub fn preflight(&self, method: &Method, request: &HeaderMap) -> Option<Preflight> {
        if method != Method::OPTIONS || !request.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return None;
        }
        let origin = self.allowed(request.get(ORIGIN))?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECS),
        );
        headers.insert(VARY, HeaderValue::from_static("origin"));
        Some(Preflight {
            status: StatusCode::NO_CONTENT,
            headers,
        })
    }

    /// Adds to an answer's `headers` what lets an allowed `origin` (the
    /// request's `Origin`) read it, and `Vary: Origin` whenever CORS is on
    /// (the answer's headers depend on the origin: caches must not share them).
    pub fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if self.origins.is_empty() {
            return;
        }
        headers.append(VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = self.allowed(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
}

/// An origin for `--allow-origin`, normalized as browsers send it:
/// `http://` or `https://`, a host name or address, an optional port
/// (the scheme's default port left out), lowercase; nothing else (no path,
/// no trailing slash, no `*`).
pub fn parse_origin(text: &str) -> Result<String, String> {
    const SHAPE: &str = "an origin is http(s)://host[:port], without a path or a trailing slash";
    let lower = text.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or(SHAPE)?;
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return Err("an origin starts with http:// or https://".into()),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let bracketed = host.len() > 2
        && host.starts_with('[')
        && host.ends_with(']')
        && host[1..host.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    if host.is_empty() || !(host.chars().all(name) || bracketed) {
        return Err(SHAPE.into());
    }
    match port {
        None => Ok(format!("{scheme}://{host}")),
        Some(port) if port.parse::<u16>().is_ok_and(|p| p > 0) && !port.starts_with('0') => {
            if port == default_port {
                Ok(format!("{scheme}://{host}"))
            } else {
                Ok(format!("{scheme}://{host}:{port}"))
            }
        }
        Some(_) => Err("an origin's port is a number from 1 to 65535".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_as_browsers_send_them() {
        let ok = |text: &str| parse_origin(text).expect(text);
        assert_eq!(
            ok("http://console.example:8080"),
            "http://console.example:8080"
        );
        assert_eq!(ok("HTTPS://Console.Example"), "https://console.example");
        assert_eq!(ok("https://x.example:443"), "https://x.example");
        assert_eq!(ok("http://x.example:80"), "http://x.example");
        assert_eq!(ok("http://127.0.0.1:17010"), "http://127.0.0.1:17010");
        assert_eq!(ok("http://[::1]:9000"), "http://[::1]:9000");
        assert_eq!(ok("http://[::1]"), "http://[::1]");
        for bad in [
            "console.example",
            "ftp://x.example",
            "http://",
            "http://x.example/",
            "https://x.example/path",
            "*",
            "https://a:b:c",
            "http://x.example:0",
            "http://x.example:65536",
            "http://x.example:08080",
            "http://x.example:",
            "http://user@x.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    fn request(origin: Option<&str>, preflight: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
        }
        if preflight {
            headers.insert(
                ACCESS_CONTROL_REQUEST_METHOD,
                HeaderValue::from_static("PUT"),
            );
        }
        headers
    }

    #[test]
    fn only_preflights_of_allowed_origins_are_answered() {
        let cors = Cors::new(vec![HeaderValue::from_static("http://a.example")]);
        let answer = cors
            .preflight(&Method::OPTIONS, &request(Some("http://a.example"), true))
            .expect("preflight");
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        assert_eq!(
            answer.headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://a.example"
        );
        assert_eq!(answer.headers[ACCESS_CONTROL_ALLOW_METHODS], METHODS);
        for (method, origin, preflight) in [
            (Method::OPTIONS, Some("http://b.example"), true),
            (Method::OPTIONS, None, true),
            (Method::OPTIONS, Some("http://a.example"), false),
            (Method::GET, Some("http://a.example"), true),
        ] {
            assert!(
                cors.preflight(&method, &request(origin, preflight))
                    .is_none()
            );
        }
        assert!(
            Cors::default()
                .preflight(&Method::OPTIONS, &request(Some("http://a.example"), true))
                .is_none()
        );
    }

    #[test]
    fn answers_name_the_allowed_origin_only() {
        let cors = Cors::new(vec![HeaderValue::from_static("http://a.example")]);
        let mut headers = HeaderMap::new();
        cors.decorate(
            request(Some("http://a.example"), false).get(ORIGIN),
            &mut headers,
        );
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "http://a.example");
        assert_eq!(headers[VARY], "origin");
        let mut headers = HeaderMap::new();
        cors.decorate(
            request(Some("http://b.example"), false).get(ORIGIN),
            &mut headers,
        );
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(headers[VARY], "origin");
        let mut headers = HeaderMap::new();
        Cors::default().decorate(
            request(Some("http://a.example"), false).get(ORIGIN),
            &mut headers,
        );
        assert!(headers.is_empty());
    }
}
