//! Hostile input that only raw HTTP can send (issue 10; the rest of the
//! battery is `tests/cases/hostile.json`, played against the host and the
//! JS handler): bytes that are not UTF-8 in the request line, URIs and
//! header blocks over hyper's limits, a 64 KiB header, a 10 MiB body. Each
//! gets its answer (sessattr's JSON, or hyper's bare status for what never
//! reaches sessattr) or a closed connection, nothing is written, and the
//! server answers the next request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Ho01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Ho02";
const ATTR: &str = "/zato/sso/session/attr";
const MIB: usize = 1 << 20;

/// What came back on a raw connection.
#[derive(Debug)]
struct RawAnswer {
    /// The status code, when an answer came before the connection ended.
    status: Option<u16>,
    /// The header block, lower-cased.
    head: String,
    /// The body bytes (by `content-length`).
    body: Vec<u8>,
    /// Whether the server closed the connection after the answer (or
    /// instead of one).
    closed: bool,
}

impl RawAnswer {
    /// The body as JSON.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// Sends `request` on a fresh connection while reading the answer (so a
/// server that answers before the request ends is heard), then sees whether
/// the connection is closed. Everything within 30 s.
fn exchange(server: &Server, request: Vec<u8>) -> RawAnswer {
    let addr = server.base.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        // The server may stop reading and close first: not an error here.
        let _ = writer.write_all(&request);
    });
    let started = Instant::now();
    let mut reader = stream;
    let mut bytes = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut closed = false;
    let mut answer_end = None;
    loop {
        if let Some(end) = answer_end
            && bytes.len() >= end
        {
            break;
        }
        match reader.read(&mut buffer) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(e) => panic!("no answer within 30 s: {e}"),
        }
        if answer_end.is_none()
            && let Some(at) = find(&bytes, b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&bytes[..at]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            answer_end = Some(at + 4 + length);
        }
    }
    let (head, body) = match find(&bytes, b"\r\n\r\n") {
        Some(at) => (
            String::from_utf8_lossy(&bytes[..at]).to_lowercase(),
            bytes[at + 4..].to_vec(),
        ),
        None => (String::new(), Vec::new()),
    };
    let status = head
        .strip_prefix("http/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    if !closed && head.contains("connection: close") {
        // Answered with `Connection: close`: the server must end it.
        let mut rest = Vec::new();
        closed = match reader.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        };
    }
    assert!(started.elapsed() < Duration::from_secs(30), "too slow");
    sending.join().unwrap();
    RawAnswer {
        status,
        head,
        body,
        closed,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A GET of `target` (raw bytes) with `headers`.
fn get(target: &[u8], headers: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nhost: sessattr\r\n");
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// The world of one test: a server, admin acting on alice's session.
struct World {
    users: TwoUsers,
}

impl World {
    fn start() -> Self {
        Self {
            users: TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]),
        }
    }

    fn server(&self) -> &Server {
        &self.users.server
    }

    /// The query string that names both sessions and the app.
    fn on(&self) -> String {
        format!(
            "current_ust={}&target_ust={}&current_app=CRM",
            self.users.admin, self.users.alice
        )
    }

    /// Creates attribute `name` in alice's session.
    fn create(&self, name: &str, value: &str) {
        let body = json!({"current_ust": self.users.admin, "target_ust": self.users.alice,
                          "current_app": "CRM", "name": name, "value": value});
        send_json(&self.users.client, "POST", &self.server().url(ATTR), &body).assert_ok();
    }

    /// The names in alice's session, through a normal request (the server
    /// is healthy when it answers it).
    #[track_caller]
    fn names(&self) -> Vec<String> {
        let url = self.server().url(&format!("{ATTR}/names?{}", self.on()));
        let answer = self.users.client.get(url).send().unwrap();
        assert_eq!(answer.status().as_u16(), 200, "the server answers");
        let body: Value = answer.json().unwrap();
        serde_json::from_value(body["result"].clone()).unwrap()
    }
}

#[test]
fn request_lines_that_are_not_utf8_or_too_long_never_reach_the_module() {
    let world = World::start();
    let server = world.server();
    world.create("keep", "v");
    world.create("\u{e9}", "composed");
    world.create("e\u{301}", "decomposed");
    let names = world.names();
    let on = world.on();

    // Bytes that are not UTF-8, or control bytes, in the request target:
    // hyper's bare 400, the connection closed.
    for target in [
        format!("{ATTR}?{on}&name=\u{0}").into_bytes(),
        [format!("{ATTR}?{on}&name=").as_bytes(), b"\xff"].concat(),
        [format!("{ATTR}?{on}&name=a").as_bytes(), b"\xc3"].concat(),
        [format!("{ATTR}?{on}&name=").as_bytes(), b"\xed\xa0\x80"].concat(),
        [ATTR.as_bytes(), b"\xff?", on.as_bytes()].concat(),
        format!("{ATTR}?{on}&name=a\x01b").into_bytes(),
    ] {
        let answer = exchange(server, get(&target, &[]));
        assert_eq!(answer.status, Some(400), "{answer:?}");
        assert!(answer.body.is_empty(), "hyper's bare answer: {answer:?}");
        assert!(answer.closed, "{answer:?}");
        assert_eq!(world.names(), names);
    }

    // UTF-8 sent unencoded is taken byte for byte: é composed and
    // decomposed are two names.
    for (raw, value) in [("\u{e9}", "composed"), ("e\u{301}", "decomposed")] {
        let target = format!("{ATTR}?{on}&name={raw}");
        let answer = exchange(server, get(target.as_bytes(), &[]));
        assert_eq!(answer.status, Some(200), "{answer:?}");
        assert_eq!(answer.json()["value"], value);
    }

    // Over the URI limit of the http crate (64 KiB): 414. A 10 MiB query
    // string overflows hyper's buffer for the request head first: 431, or
    // only the close when the rest of the request, unread, resets the
    // connection before the answer is read. Neither reaches sessattr, so
    // neither has a JSON body or a cid.
    let long = format!("{ATTR}?{on}&name={}", "x".repeat(100_000));
    let answer = exchange(server, get(long.as_bytes(), &[]));
    assert_eq!(answer.status, Some(414), "{answer:?}");
    assert!(answer.body.is_empty() && answer.closed, "{answer:?}");
    let huge = format!("{ATTR}?{on}&name={}", "x".repeat(10 * MIB));
    let answer = exchange(server, get(huge.as_bytes(), &[]));
    assert!(matches!(answer.status, None | Some(431)), "{answer:?}");
    assert!(answer.body.is_empty() && answer.closed, "{answer:?}");

    // Just under the URI limit, the module answers: a name that long is
    // E008002.
    let under = format!("{ATTR}?{on}&name={}", "x".repeat(60_000));
    let answer = exchange(server, get(under.as_bytes(), &[]));
    assert_eq!(answer.status, Some(403), "{answer:?}");
    assert_eq!(answer.json()["sub_status"], json!(["E008002"]));
    assert!(!answer.closed, "{answer:?}");

    assert_eq!(world.names(), names, "nothing was written");
    assert!(server_log_is_clean(&world));
}

#[test]
fn headers_of_64_kib_are_served_and_a_user_agent_is_recorded_cut() {
    let world = World::start();
    let server = world.server();
    let on = world.on();
    let names = world.names();

    // A 64 KiB header is within hyper's limits: the request is served, the
    // header ignored.
    let target = format!("{ATTR}/names?{on}");
    let pad = vec![b'p'; 64 * 1024];
    let answer = exchange(server, get(target.as_bytes(), &[("x-pad", pad.clone())]));
    assert_eq!(answer.status, Some(200), "{answer:?}");
    assert_eq!(answer.json()["result"], json!(names));

    // Over hyper's limits: more than 100 headers, and header blocks over
    // its read buffer, are 431, bare, the connection closed (the latter may
    // be reset before its answer is read: the rest of the block is still
    // unread). The buffer's limit is 400 KiB, but a read may fill the
    // buffer's whole capacity past it, so a head of 500 KiB is sometimes
    // served: 4 MiB is past it however the bytes arrive.
    let many: Vec<(&str, Vec<u8>)> = (0..200).map(|_| ("x-many", b"v".to_vec())).collect();
    let answer = exchange(server, get(target.as_bytes(), &many));
    assert_eq!(answer.status, Some(431), "{answer:?}");
    assert!(answer.body.is_empty() && answer.closed, "{answer:?}");
    let big = vec![b'p'; 4 * MIB];
    let answer = exchange(server, get(target.as_bytes(), &[("x-pad", big)]));
    assert!(matches!(answer.status, None | Some(431)), "{answer:?}");
    assert!(answer.body.is_empty() && answer.closed, "{answer:?}");
    assert_eq!(world.names(), names);

    // A 64 KiB User-Agent logs in, and the session records 512 bytes of it.
    let agent = "A".repeat(64 * 1024);
    let body = json!({"username": "alice", "password": ALICE_PASSWORD, "current_app": "CRM"});
    let login = world
        .users
        .client
        .post(server.url("/zato/sso/user/login"))
        .header("user-agent", &agent)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    let ust = login.json::<Value>().unwrap()["ust"]
        .as_str()
        .unwrap()
        .to_owned();
    let details = world
        .users
        .client
        .get(server.url(&format!(
            "/zato/sso/user/session?current_ust={}&target_ust={ust}&current_app=CRM",
            world.users.admin
        )))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(details["status"], "ok", "{details}");
    assert_eq!(details["user_agent"], "A".repeat(512));
    let names_of_new = world
        .users
        .client
        .get(server.url(&format!(
            "{ATTR}/names?current_ust={}&target_ust={ust}&current_app=CRM",
            world.users.admin
        )))
        .send()
        .unwrap();
    assert_eq!(names_of_new.status().as_u16(), 200);

    assert_eq!(world.names(), names, "nothing was written");
    assert!(server_log_is_clean(&world));
}

#[test]
fn a_body_of_10_mib_is_413_or_a_closed_connection() {
    let world = World::start();
    let server = world.server();
    world.create("keep", "v");
    let names = world.names();
    let users = &world.users;
    let ten_mib_value = format!(
        r#"{{"current_ust":"{}","target_ust":"{}","current_app":"CRM","name":"big","value":"{}"}}"#,
        users.admin,
        users.alice,
        "v".repeat(10 * MIB)
    );

    // Declared: 413 E008002 at once, before the body is sent, with
    // `Connection: close` (10 MiB is past the 8 MiB the host drains).
    let head = format!(
        "POST {ATTR} HTTP/1.1\r\nhost: sessattr\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        ten_mib_value.len()
    );
    let answer = exchange(server, head.into_bytes());
    assert_eq!(answer.status, Some(413), "{answer:?}");
    assert_eq!(answer.json()["sub_status"], json!(["E008002"]));
    assert!(answer.head.contains("connection: close"), "{answer:?}");
    assert!(answer.closed, "{answer:?}");
    assert_eq!(world.names(), names);

    // Declared and sent: the same answer, or a connection closed under
    // the sender (a client still sending when the server closes may see a
    // reset instead of the answer).
    let mut whole = format!(
        "POST {ATTR} HTTP/1.1\r\nhost: sessattr\r\ncontent-length: {}\r\n\r\n",
        ten_mib_value.len()
    )
    .into_bytes();
    whole.extend_from_slice(ten_mib_value.as_bytes());
    let answer = exchange(server, whole);
    assert!(
        answer.closed && matches!(answer.status, None | Some(413)),
        "{answer:?}"
    );
    assert_eq!(world.names(), names);

    // Chunked, so undeclared: read to the limit, drained up to 8 MiB, then
    // 413 and closed (or closed under the sender).
    let mut chunked =
        format!("PUT {ATTR} HTTP/1.1\r\nhost: sessattr\r\ntransfer-encoding: chunked\r\n\r\n")
            .into_bytes();
    for chunk in ten_mib_value.as_bytes().chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(server, chunked);
    assert!(
        answer.closed && matches!(answer.status, None | Some(413)),
        "{answer:?}"
    );
    if answer.status.is_some() {
        assert_eq!(answer.json()["sub_status"], json!(["E008002"]));
    }

    assert_eq!(world.names(), names, "nothing was written");
    assert!(server_log_is_clean(&world));
}

/// The server log has no panic and no internal error.
fn server_log_is_clean(world: &World) -> bool {
    let text = read_to_string(&world.users.log);
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("http_status=500"), "{text}");
    true
}
