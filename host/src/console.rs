//! The web console at `/console/`: static files embedded in the binary.
//!
//! `cargo xtask build` builds the console into `www/dist/`; the build script
//! embeds every file of that folder ([`FILES`]), and the HTTP handler answers
//! `/console` and `/console/…` itself, before the module, unless the server
//! runs with `--no-console` (then the paths go to the module like any other,
//! which answers 404). A binary built without `www/dist/` answers every
//! console path 404 with a hint to build it.
//!
//! # Paths
//!
//! * `/console` answers `308` to `/console/`, so that the page's relative
//!   URLs resolve under the folder.
//! * `/console/` is `index.html`; `/console/REL` is the embedded file whose
//!   path relative to `www/dist/` is exactly `REL`. Paths are compared byte
//!   for byte, never decoded or normalized: `..`, `%2e%2e`, `//`, `\` or a
//!   folder name match no file and answer `404`, so nothing outside the
//!   embedded list can ever be reached.
//! * Only `GET` and `HEAD` (`405` with `Allow: GET, HEAD` otherwise). `HEAD`
//!   has the status and headers of `GET` (including `Content-Length`) and no
//!   body.
//!
//! # Headers
//!
//! Every console answer carries:
//!
//! * [`CSP`]: the page may load scripts, styles, images and `fetch` targets
//!   from this server only, run no inline script or style, be framed by no
//!   one (clickjacking), and submit no form. `'wasm-unsafe-eval'` is there
//!   because the console's playground compiles the sessattr WebAssembly
//!   module in the browser (`WebAssembly.instantiate`), which browsers
//!   otherwise refuse under a `script-src` policy; it allows compiling
//!   WebAssembly only, not JavaScript `eval`.
//! * `X-Content-Type-Options: nosniff`, so that browsers trust the
//!   `Content-Type` set here from the file extension (and refuse, say, a
//!   script served as text).
//! * `Referrer-Policy: no-referrer`: console URLs go to no one else.
//! * `Cache-Control: no-cache`: browsers may keep a copy but revalidate it
//!   on every use, so a new binary's console is seen at once. Files carry an
//!   `ETag` (the first 16 bytes of the SHA-256 of their bytes, in hex), and
//!   a matching `If-None-Match` answers `304` without a body, so a
//!   revalidation costs no transfer.

use std::collections::HashMap;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/console_files.rs"));
}

pub use generated::FILES;

/// The exact path that redirects to [`PREFIX`].
pub const ROOT: &str = "/console";
/// The prefix of every console file's path.
pub const PREFIX: &str = "/console/";
/// The file `/console/` answers.
pub const INDEX: &str = "index.html";

/// `Content-Security-Policy` of every console answer (see the module docs).
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
                       style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                       base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The `Allow` header of a `405`.
pub const ALLOW: &str = "GET, HEAD";

/// The body of a `404` for a path that matches no file.
pub const NOT_FOUND: &str = "not found\n";

/// The body of a `404` when the binary embeds no console.
pub const NOT_BUILT: &str =
    "the web console is not built into this binary; build it with `cargo xtask build`\n";

/// The body of a `405`.
const NOT_ALLOWED: &str = "method not allowed\n";

/// `Content-Type` of the plain-text answers.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// An answer of the console: status, headers (lowercase names) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in lowercase.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for `HEAD`, `304` and `308`).
    pub body: &'a [u8],
}

impl Answer<'_> {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One embedded file, with what its answers need.
#[derive(Debug)]
struct Entry<'a> {
    bytes: &'a [u8],
    etag: String,
    content_type: &'static str,
}

/// The console's files indexed by relative path, each with its `ETag` and
/// `Content-Type` computed once.
#[derive(Debug)]
pub struct Console<'a> {
    files: HashMap<&'a str, Entry<'a>>,
}

/// The embedded console ([`FILES`]), indexed on first use.
static EMBEDDED: LazyLock<Console<'static>> = LazyLock::new(|| Console::new(FILES));

/// The console embedded in this binary.
pub fn embedded() -> &'static Console<'static> {
    &EMBEDDED
}

impl<'a> Console<'a> {
    /// Indexes `files` (relative path with `/`, bytes).
    pub fn new(files: &[(&'a str, &'a [u8])]) -> Self {
        let files = files
            .iter()
            .map(|&(path, bytes)| {
                let entry = Entry {
                    bytes,
                    etag: etag(bytes),
                    content_type: content_type(path),
                };
                (path, entry)
            })
            .collect();
        Self { files }
    }

    /// Whether the console holds no file (the binary was built without it).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The answer to `method path` (the path without its query string) with
    /// this `If-None-Match` header (several header lines joined with `,`);
    /// `None` when `path` is not the console's.
    pub fn answer(
        &self,
        method: &str,
        path: &str,
        if_none_match: Option<&str>,
    ) -> Option<Answer<'a>> {
        let relative = if path == ROOT {
            None
        } else {
            Some(path.strip_prefix(PREFIX)?)
        };
        let head = match method {
            "GET" => false,
            "HEAD" => true,
            _ => {
                let mut answer = text(405, NOT_ALLOWED, false);
                answer.headers.push(("allow", ALLOW.to_owned()));
                return Some(answer);
            }
        };
        let Some(relative) = relative else {
            let mut answer = Answer {
                status: 308,
                headers: common_headers(),
                body: b"",
            };
            answer.headers.push(("location", PREFIX.to_owned()));
            answer.headers.push(("content-length", "0".to_owned()));
            return Some(answer);
        };
        let relative = if relative.is_empty() { INDEX } else { relative };
        let Some(entry) = self.files.get(relative) else {
            let message = if self.is_empty() {
                NOT_BUILT
            } else {
                NOT_FOUND
            };
            return Some(text(404, message, head));
        };
        let mut headers = common_headers();
        headers.push(("etag", entry.etag.clone()));
        if if_none_match.is_some_and(|value| matches_etag(value, &entry.etag)) {
            return Some(Answer {
                status: 304,
                headers,
                body: b"",
            });
        }
        headers.push(("content-type", entry.content_type.to_owned()));
        headers.push(("content-length", entry.bytes.len().to_string()));
        Some(Answer {
            status: 200,
            headers,
            body: if head { b"" } else { entry.bytes },
        })
    }
}

/// [`Console::answer`] of the [`embedded`] console.
pub fn answer(method: &str, path: &str, if_none_match: Option<&str>) -> Option<Answer<'static>> {
    embedded().answer(method, path, if_none_match)
}

/// The headers every console answer carries.
fn common_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-security-policy", CSP.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("cache-control", "no-cache".to_owned()),
    ]
}

/// A plain-text answer (no body for `HEAD`).
fn text(status: u16, message: &'static str, head: bool) -> Answer<'static> {
    let mut headers = common_headers();
    headers.push(("content-type", TEXT_PLAIN.to_owned()));
    headers.push(("content-length", message.len().to_string()));
    Answer {
        status,
        headers,
        body: if head { b"" } else { message.as_bytes() },
    }
}

/// The `ETag` of `bytes`: the first 16 bytes of their SHA-256 in hex, quoted.
pub fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` value matches `etag`: `*`, or a
/// comma-separated list holding it (weak comparison, RFC 9110: `W/"…"`
/// matches `"…"`).
fn matches_etag(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The `Content-Type` of `path`, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => TEXT_PLAIN,
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX_HTML: &[u8] = b"<!doctype html><html><body>console</body></html>";
    const APP_JS: &[u8] = b"export const x = 1;\n";
    const FAKE: &[(&str, &[u8])] = &[
        ("index.html", INDEX_HTML),
        ("console.css", b"body { margin: 0 }\n"),
        ("js/app.js", APP_JS),
        ("js/lib.mjs", b"export {};\n"),
        ("vendor/m.wasm", b"\0asm\x01\0\0\0"),
        ("data.json", b"{}"),
        ("app.js.map", b"{}"),
        ("logo.svg", b"<svg/>"),
        ("logo.png", b"\x89PNG"),
        ("favicon.ico", b"\0\0\x01\0"),
        ("notes.txt", b"hi\n"),
        ("blob.bin", b"\x01\x02"),
    ];

    fn console() -> Console<'static> {
        Console::new(FAKE)
    }

    fn get(path: &str) -> Answer<'static> {
        console()
            .answer("GET", path, None)
            .unwrap_or_else(|| panic!("{path} is a console path"))
    }

    #[track_caller]
    fn assert_common_headers(answer: &Answer<'_>) {
        assert_eq!(answer.header("content-security-policy"), Some(CSP));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(answer.header("cache-control"), Some("no-cache"));
    }

    #[test]
    fn the_folder_serves_the_index() {
        let answer = get("/console/");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, INDEX_HTML);
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            answer.header("content-length"),
            Some(INDEX_HTML.len().to_string().as_str())
        );
        assert_eq!(answer.header("etag"), Some(etag(INDEX_HTML).as_str()));
        assert_common_headers(&answer);
        // The index also answers under its own name.
        assert_eq!(get("/console/index.html"), answer);
    }

    #[test]
    fn the_bare_path_redirects_to_the_folder() {
        let answer = get("/console");
        assert_eq!(answer.status, 308);
        assert_eq!(answer.header("location"), Some("/console/"));
        assert!(answer.body.is_empty());
        assert_common_headers(&answer);
        let head = console().answer("HEAD", "/console", None);
        assert_eq!(head.map(|a| a.status), Some(308));
    }

    #[test]
    fn files_answer_with_the_content_type_of_their_extension() {
        let cases = [
            ("/console/index.html", "text/html; charset=utf-8"),
            ("/console/console.css", "text/css; charset=utf-8"),
            ("/console/js/app.js", "text/javascript; charset=utf-8"),
            ("/console/js/lib.mjs", "text/javascript; charset=utf-8"),
            ("/console/vendor/m.wasm", "application/wasm"),
            ("/console/data.json", "application/json"),
            ("/console/app.js.map", "application/json"),
            ("/console/logo.svg", "image/svg+xml"),
            ("/console/logo.png", "image/png"),
            ("/console/favicon.ico", "image/x-icon"),
            ("/console/notes.txt", "text/plain; charset=utf-8"),
            ("/console/blob.bin", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            let answer = get(path);
            assert_eq!(answer.status, 200, "{path}");
            assert_eq!(answer.header("content-type"), Some(expected), "{path}");
            assert_common_headers(&answer);
        }
        assert_eq!(get("/console/js/app.js").body, APP_JS);
        assert_eq!(content_type("no_extension"), "application/octet-stream");
        assert_eq!(content_type("dir.d/file"), "application/octet-stream");
        assert_eq!(content_type("UPPER.HTML"), "text/html; charset=utf-8");
    }

    #[test]
    fn unknown_and_tricky_paths_are_not_found() {
        for path in [
            "/console/missing.js",
            "/console/../x",
            "/console/../index.html",
            "/console/%2e%2e/x",
            "/console/%2e%2e/index.html",
            "/console/index%2ehtml",
            "/console//index.html",
            "/console/./index.html",
            "/console/js/../index.html",
            "/console/js\\app.js",
            "/console/js/",
            "/console/js",
            "/console/vendor/",
            "/console/index.html/",
            "/console/INDEX.HTML",
        ] {
            let answer = get(path);
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.body, NOT_FOUND.as_bytes(), "{path}");
            assert_eq!(
                answer.header("content-type"),
                Some("text/plain; charset=utf-8"),
                "{path}"
            );
            assert_eq!(answer.header("etag"), None, "{path}");
            assert_common_headers(&answer);
        }
    }

    #[test]
    fn other_methods_are_not_allowed() {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "head"] {
            for path in [
                "/console/",
                "/console",
                "/console/js/app.js",
                "/console/nope",
            ] {
                let answer = console()
                    .answer(method, path, None)
                    .unwrap_or_else(|| panic!("{path} is a console path"));
                assert_eq!(answer.status, 405, "{method} {path}");
                assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{method} {path}");
                assert_common_headers(&answer);
            }
        }
    }

    #[test]
    fn head_has_the_headers_of_get_and_no_body() {
        for path in ["/console/", "/console/js/app.js", "/console/nope"] {
            let full = get(path);
            let head = console()
                .answer("HEAD", path, None)
                .unwrap_or_else(|| panic!("{path} is a console path"));
            assert!(!full.body.is_empty(), "{path}");
            assert!(head.body.is_empty(), "{path}");
            assert_eq!(
                (head.status, &head.headers),
                (full.status, &full.headers),
                "{path}"
            );
        }
    }

    #[test]
    fn a_matching_if_none_match_answers_304() {
        let tag = etag(APP_JS);
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert!(
            tag[1..33]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(tag, etag(INDEX_HTML));
        let path = "/console/js/app.js";
        let other = etag(INDEX_HTML);
        for (value, modified) in [
            (tag.clone(), false),
            ("*".to_owned(), false),
            (format!("{other}, {tag}"), false),
            (format!("{other},{tag} , \"x\""), false),
            (format!("W/{tag}"), false),
            (other.clone(), true),
            (tag.trim_matches('"').to_owned(), true),
            (String::new(), true),
        ] {
            for method in ["GET", "HEAD"] {
                let answer = console()
                    .answer(method, path, Some(&value))
                    .unwrap_or_else(|| panic!("{path} is a console path"));
                let expected = if modified { 200 } else { 304 };
                assert_eq!(answer.status, expected, "{method} If-None-Match: {value}");
                assert_eq!(answer.header("etag"), Some(tag.as_str()));
                assert_common_headers(&answer);
                if !modified {
                    assert!(answer.body.is_empty());
                    assert_eq!(answer.header("content-length"), None);
                }
            }
        }
        // A tag does not make a missing file exist.
        let missing = console().answer("GET", "/console/nope", Some("*"));
        assert_eq!(missing.map(|a| a.status), Some(404));
    }

    #[test]
    fn other_paths_are_not_the_consoles() {
        for path in [
            "/",
            "",
            "/consoles",
            "/console.html",
            "/consolex/",
            "/Console/",
            "/CONSOLE",
            "//console/",
            "/zato/sso/session/attr",
            "/x/console/",
        ] {
            assert_eq!(console().answer("GET", path, None), None, "{path}");
            assert_eq!(console().answer("POST", path, None), None, "{path}");
        }
    }

    #[test]
    fn without_files_every_console_path_says_it_is_not_built() {
        let empty = Console::new(&[]);
        assert!(empty.is_empty());
        for path in ["/console/", "/console/index.html", "/console/js/app.js"] {
            let answer = empty
                .answer("GET", path, None)
                .unwrap_or_else(|| panic!("{path} is a console path"));
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.body, NOT_BUILT.as_bytes());
            assert_eq!(
                answer.header("content-type"),
                Some("text/plain; charset=utf-8")
            );
            assert_common_headers(&answer);
        }
        assert_eq!(
            empty.answer("GET", "/console", None).map(|a| a.status),
            Some(308)
        );
        assert_eq!(empty.answer("GET", "/other", None), None);
    }

    #[test]
    fn the_embedded_list_is_sorted_and_relative() {
        assert!(
            FILES.iter().any(|(path, _)| *path == "index.html"),
            "www/dist/ was not built into this binary: run cargo xtask build"
        );
        assert!(
            FILES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        for (path, _) in FILES {
            assert!(
                !path.is_empty()
                    && !path.starts_with('/')
                    && !path.contains('\\')
                    && path
                        .split('/')
                        .all(|part| !part.is_empty() && part != "." && part != ".."),
                "{path}"
            );
        }
        assert_eq!(embedded().is_empty(), FILES.is_empty());
    }
}
