//! The operational edges of the real binary over loopback HTTP: `GET
//! /health` (200, and 503 E008004 while Redis or a cluster master is
//! down), `GET /metrics` (counts that go up, bounded labels, no secret),
//! the drain on SIGTERM (the request in flight finishes with 200 and is
//! durable, new connections are refused, exit 0), the header, body and
//! idle timeouts (slowloris), the cap on connections, and back-pressure
//! (503 with `Retry-After` beyond the queue). No timing is asserted but
//! generous upper bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "conformance/openapi.rs"]
mod openapi;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisServer};
use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Op01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Op02";
const ATTR: &str = "/zato/sso/session/attr";
/// What every timeout may take beyond its setting before a test fails.
const SLACK: Duration = Duration::from_secs(5);

/// `host:port` of `server`.
fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// A raw connection to `server`, reads bounded by `read_timeout`.
fn raw(server: &Server, read_timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr(server)).unwrap();
    stream.set_read_timeout(Some(read_timeout)).unwrap();
    stream
}

/// Reads until the server closes `stream` (or the read timeout strikes);
/// what came, and how long it took.
fn read_until_closed(stream: &mut TcpStream) -> (String, Duration, bool) {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                break true;
            }
            Err(_) => break false,
        }
    };
    (
        String::from_utf8_lossy(&bytes).into_owned(),
        started.elapsed(),
        closed,
    )
}

/// A plain GET of `path`.
fn get(
    client: &reqwest::blocking::Client,
    server: &Server,
    path: &str,
) -> reqwest::blocking::Response {
    client.get(server.url(path)).send().unwrap()
}

/// The metrics' text.
fn metrics_text(client: &reqwest::blocking::Client, server: &Server) -> String {
    let answer = get(client, server, "/metrics");
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    answer.text().unwrap()
}

/// The value of the sample whose line starts with `series` (name and
/// labels, exactly), or 0 when there is none yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// Body of an attribute call by admin on alice's session.
fn on(users: &TwoUsers, fields: Value) -> Value {
    let mut body =
        json!({"current_ust": users.admin, "target_ust": users.alice, "current_app": "CRM"});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

/// The health answer, asserted well-formed and as docs/openapi.yaml says.
fn health(client: &reqwest::blocking::Client, server: &Server) -> Answer {
    let answer = send(
        client,
        "GET",
        &server.url("/health"),
        Vec::new(),
        "text/plain",
    );
    assert_cid(&answer.body);
    assert_eq!(answer.content_type, "application/json");
    documented("GET", "/health", answer.status, &answer.body);
    answer
}

/// Asserts `body` is what docs/openapi.yaml documents for this answer.
#[track_caller]
fn documented(method: &str, path: &str, status: u16, body: &Value) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let mut api = openapi::OpenApi::load(&file).unwrap();
    if let Err(errors) = api.validate(path, method, status, body) {
        panic!("{method} {path} {status}: {errors:?} in {body}");
    }
}

#[test]
fn health_and_metrics_need_no_ust_and_count_bounded_labels_without_secrets() {
    let users = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let (client, server) = (&users.client, &users.server);

    let ok = health(client, server);
    ok.assert_ok();
    assert_eq!(ok.body["store"], "ok", "{:?}", ok.body);
    assert_eq!(ok.body["store_kind"], "redb", "{:?}", ok.body);
    let sha = ok.body["module_sha256"].as_str().unwrap();
    assert!(
        sha.len() == 12 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sha}"
    );
    let info = run_cli(&users.data, &users.log, &["module-info", "--json"], "");
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(info["sha256"].as_str().unwrap().starts_with(sha), "{info}");
    assert!(ok.body["uptime_secs"].as_u64().is_some(), "{:?}", ok.body);

    // HEAD (load balancers probe with it): GET's status and headers, no
    // body.
    for path in ["/health", "/metrics"] {
        let get = client.get(server.url(path)).send().unwrap();
        let head = client.head(server.url(path)).send().unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"],
            "HEAD {path}"
        );
        let length: usize = head.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(length > 0, "HEAD {path}");
        assert!(head.bytes().unwrap().is_empty(), "HEAD {path}");
    }
    // Other methods: 405 with Allow, like the API's.
    for path in ["/health", "/metrics"] {
        for method in ["POST", "DELETE", "PUT", "get"] {
            let answer = client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    server.url(path),
                )
                .send()
                .unwrap();
            assert_eq!(answer.status(), 405, "{method} {path}");
            assert_eq!(answer.headers()["allow"], "GET, HEAD", "{method} {path}");
            let body: Value = answer.json().unwrap();
            assert_eq!(body["sub_status"], json!(["E008001"]), "{body}");
            assert_cid(&body);
            if !["get", "PUT"].contains(&method) {
                documented(method, path, 405, &body);
            }
        }
    }

    let before = metrics_text(client, server);
    let created = r#"sessattr_http_requests_total{path="/zato/sso/session/attr",method="POST",status="200",sub_status=""}"#;
    let exists = r#"sessattr_http_requests_total{path="/zato/sso/session/attr",method="POST",status="403",sub_status="E009001"}"#;
    let secret_value = "metrics-SECRET-value-Op03";
    let secret_name = "metrics-secret-name-Op04";
    let create = json!({"name": secret_name, "value": secret_value, "encrypt": true});
    send_json(
        client,
        "POST",
        &server.url(ATTR),
        &on(&users, create.clone()),
    )
    .assert_ok();
    send_json(client, "POST", &server.url(ATTR), &on(&users, create)).assert_error(403, "E009001");
    // A path made of a UST, a query string with one, an unknown app.
    let ust_path = format!("/{}", users.alice);
    assert_eq!(get(client, server, &ust_path).status(), 404);
    let query = format!(
        "{ATTR}/names?current_ust={}&current_app=Op05-APP",
        users.admin
    );
    assert_eq!(get(client, server, &query).status(), 403);
    assert_eq!(
        client.post(server.url("/health")).send().unwrap().status(),
        405
    );

    let after = metrics_text(client, server);
    assert_eq!(
        sample(&after, created),
        sample(&before, created) + 1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, exists),
        sample(&before, exists) + 1.0,
        "{after}"
    );
    let unknown = r#"sessattr_http_requests_total{path="other",method="GET",status="404",sub_status="E008001"}"#;
    assert!(sample(&after, unknown) >= 1.0, "{after}");
    let health_405 = r#"sessattr_http_requests_total{path="/health",method="POST",status="405",sub_status="E008001"}"#;
    assert!(sample(&after, health_405) >= 1.0, "{after}");
    assert!(
        sample(
            &after,
            r#"sessattr_http_request_duration_seconds_count{path="/zato/sso/session/attr"}"#
        ) >= 2.0
    );
    assert!(
        sample(&after, "sessattr_operations_running_max") >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "sessattr_operations_queued_max") >= 1024.0,
        "{after}"
    );
    assert!(
        sample(&after, "sessattr_module_instances_idle") >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "sessattr_http_connections_open") >= 1.0,
        "{after}"
    );
    // This very request is in flight.
    assert!(
        sample(&after, "sessattr_http_requests_in_flight") >= 1.0,
        "{after}"
    );
    assert!(after.ends_with("# EOF\n"));

    // Labels take their values from fixed sets only.
    let paths = [
        "/zato/sso/session/attr",
        "/zato/sso/session/attr/exists",
        "/zato/sso/session/attr/names",
        "/zato/sso/user/login",
        "/zato/sso/user/logout",
        "/zato/sso/user/session",
        "/zato/sso/user",
        "/health",
        "/metrics",
        "/console/",
        "/_sessattr/test/clock",
        "other",
    ];
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        for (label, value) in labels(line) {
            let allowed = match label.as_str() {
                "path" => paths.contains(&value.as_str()),
                "method" => [
                    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other",
                ]
                .contains(&value.as_str()),
                "status" => value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit()),
                "sub_status" => {
                    value.is_empty()
                        || value == "other"
                        || value.starts_with('E') && value.len() == 7
                }
                "kind" | "le" | "version" | "module_sha256" => true,
                other => panic!("unexpected label {other} in {line}"),
            };
            assert!(allowed, "label {label}={value:?} in {line}");
        }
    }
    for secret in [
        users.admin.as_str(),
        users.alice.as_str(),
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        secret_value,
        secret_name,
        "Op05-APP",
        "CRM",
    ] {
        assert!(!after.contains(secret), "{secret} in the metrics");
    }
    assert!(server_stops(users.server));
}

/// The `(label, value)` pairs of a sample line.
fn labels(line: &str) -> Vec<(String, String)> {
    let Some(open) = line.find('{') else {
        return Vec::new();
    };
    let close = line.rfind('}').unwrap();
    line[open + 1..close]
        .split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (label, value) = pair.split_once('=').unwrap();
            (label.to_owned(), value.trim_matches('"').to_owned())
        })
        .collect()
}

/// Stops `server` with SIGTERM; whether it exited 0.
fn server_stops(server: Server) -> bool {
    server.stop().success()
}

/// The health check on Redis: 503 within the Redis timeout (plus slack)
/// while the server is down, 200 again once it is back; on a cluster, 503
/// while one master is down.
#[test]
fn health_is_503_e008004_while_redis_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start(&tmp.path().join("redis"));
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let timeout_ms = 500;
    let server = Server::start(
        &data,
        &log,
        &[
            "--store",
            &redis.url(),
            "--redis-timeout-ms",
            &timeout_ms.to_string(),
        ],
    );
    let client = client();
    let ok = health(&client, &server);
    ok.assert_ok();
    assert_eq!(ok.body["store_kind"], "redis");

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let down = health(&client, &server);
        assert!(
            started.elapsed() < Duration::from_millis(timeout_ms) + SLACK,
            "{:?}",
            started.elapsed()
        );
        down.assert_error(503, "E008004");
        assert_eq!(down.body["store"], "unavailable", "{:?}", down.body);
    }
    let text = metrics_text(&client, &server);
    assert!(
        sample(&text, r#"sessattr_store_errors_total{kind="health"}"#) >= 3.0,
        "{text}"
    );
    let refused = r#"sessattr_http_requests_total{path="/health",method="GET",status="503",sub_status="E008004"}"#;
    assert!(sample(&text, refused) >= 3.0, "{text}");

    redis.restart();
    let started = Instant::now();
    loop {
        let answer = health(&client, &server);
        if answer.status == 200 {
            answer.assert_ok();
            break;
        }
        assert!(started.elapsed() < SLACK * 4, "still {:?}", answer.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.stop().success(), "graceful stop");
    let text = read_to_string(&log);
    assert!(
        text.contains("health check: the store is unavailable"),
        "{text}"
    );

    // A cluster with one master down is not healthy either.
    let mut cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = tmp.path().join("data-cluster");
    let server = Server::start(
        &data,
        &tmp.path().join("cluster.log"),
        &[
            "--store",
            &cluster.url(),
            "--redis-timeout-ms",
            &timeout_ms.to_string(),
        ],
    );
    let ok = health(&client, &server);
    ok.assert_ok();
    assert_eq!(ok.body["store_kind"], "redis-cluster");
    cluster.node_mut(1).stop();
    let started = Instant::now();
    let down = health(&client, &server);
    assert!(started.elapsed() < Duration::from_millis(timeout_ms) + SLACK);
    down.assert_error(503, "E008004");
    assert!(server.stop().success(), "graceful stop");
}

/// SIGTERM while a request's body is still coming: new connections are
/// refused at once, the request finishes with 200 and is on disk after a
/// restart, and the process exits 0.
#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let users = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &[]);
    let body = on(
        &users,
        json!({"data": (0..200).map(|i| json!({"name": format!("drain-{i:03}"), "value": "v".repeat(1000)})).collect::<Vec<_>>()}),
    )
    .to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = raw(&users.server, Duration::from_secs(60));
    write!(
        stream,
        "PUT {ATTR} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    // The server has the headers and half the body: the request is in flight.
    std::thread::sleep(Duration::from_millis(300));

    let TwoUsers {
        tmp: _tmp,
        data,
        log,
        server,
        client,
        admin,
        alice,
    } = users;
    let target = addr(&server);
    let stopping = std::thread::spawn(move || server.stop());
    let started = Instant::now();
    loop {
        match TcpStream::connect(&target) {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(err) => panic!("unexpected {err}"),
            Ok(_) => {
                assert!(started.elapsed() < SLACK, "new connections still accepted");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    stream.write_all(rest).unwrap();
    let (answer, _, _) = read_until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains(r#""status":"ok""#), "{answer}");
    let status = stopping.join().unwrap();
    assert!(status.success(), "exit status {status}");
    let text = read_to_string(&log);
    assert!(text.contains("shutting down"), "{text}");
    assert!(text.contains("every request in flight finished"), "{text}");

    // Durable: a new process on the same data dir has every item.
    let server = Server::start(&data, &log, &[]);
    let names = send_json(
        &client,
        "GET",
        &server.url(&format!("{ATTR}/names")),
        &json!({"current_ust": admin, "target_ust": alice, "current_app": "CRM"}),
    );
    names.assert_ok();
    assert_eq!(
        names.body["result"].as_array().unwrap().len(),
        200,
        "{:?}",
        names.body
    );
    assert!(server.stop().success());
}

/// A request still in flight when the grace period ends does not hold
/// the process: it exits 0 within the grace (plus slack), and says so.
#[test]
fn the_grace_period_bounds_the_drain() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("server.log");
    let server = Server::start(
        &tmp.path().join("data"),
        &log,
        &[
            "--http-shutdown-grace-ms",
            "500",
            "--http-body-timeout-ms",
            "600000",
        ],
    );
    let mut stuck = raw(&server, Duration::from_secs(30));
    stuck
        .write_all(
            b"PUT /zato/sso/session/attr HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    assert!(
        started.elapsed() < Duration::from_millis(500) + SLACK,
        "{:?}",
        started.elapsed()
    );
    let (answer, _, closed) = read_until_closed(&mut stuck);
    assert!(closed && answer.is_empty(), "{answer:?}");
    let text = read_to_string(&log);
    assert!(
        text.contains("stopping with requests still in flight"),
        "{text}"
    );
}

/// A client that sends its headers too slowly, or nothing at all, is cut
/// off within the header timeout; one that sends its body too slowly gets
/// 408 E008002 and nothing is written; an idle kept-alive connection is
/// closed within the idle timeout; a request slower than both, but within
/// the body timeout, is served. The server stays healthy.
#[test]
fn slow_clients_are_cut_off_within_their_timeouts() {
    let users = TwoUsers::start(
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        &[
            "--http-header-timeout-ms",
            "1000",
            "--http-idle-timeout-ms",
            "1000",
            "--http-body-timeout-ms",
            "4000",
        ],
    );
    let (client, server) = (&users.client, &users.server);
    let limit = |ms: u64| Duration::from_millis(ms) + SLACK;

    // Headers dripping in, one byte every 200 ms.
    let mut drip = raw(server, limit(1000));
    let dripper = {
        let mut stream = drip.try_clone().unwrap();
        std::thread::spawn(move || {
            for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
                .iter()
                .chain([b'a'; 200].iter())
            {
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let (answer, took, closed) = read_until_closed(&mut drip);
    assert!(closed && answer.is_empty(), "{answer:?} after {took:?}");
    assert!(took < limit(1000), "{took:?}");
    dripper.join().unwrap();

    // Nothing at all.
    let mut silent = raw(server, limit(1000));
    let (answer, took, closed) = read_until_closed(&mut silent);
    assert!(
        closed && answer.is_empty() && took < limit(1000),
        "{answer:?} {took:?}"
    );

    // An idle kept-alive connection.
    let mut idle = raw(server, limit(1000));
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (answer, took, closed) = read_until_closed(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(closed && took < limit(1000), "{took:?}");

    // A body that never finishes: 408, connection closed, nothing written.
    let create = on(&users, json!({"name": "never-written", "value": "v"})).to_string();
    let mut slow = raw(server, limit(4000));
    write!(
        slow,
        "POST {ATTR} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
        create.len() + 10,
        create
    )
    .unwrap();
    let (answer, took, closed) = read_until_closed(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains(r#""sub_status":["E008002"]"#), "{answer}");
    assert!(closed && took < limit(4000), "{took:?}");

    // Slower than the header and idle timeouts, within the body timeout:
    // a request being served is never cut off by them.
    let create = on(&users, json!({"name": "slow-but-fine", "value": "v"})).to_string();
    let (head, tail) = create.as_bytes().split_at(create.len() / 2);
    let mut patient = raw(server, limit(4000));
    write!(
        patient,
        "POST {ATTR} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        create.len()
    )
    .unwrap();
    patient.write_all(head).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    patient.write_all(tail).unwrap();
    let mut first = [0u8; 12];
    patient.read_exact(&mut first).unwrap();
    assert_eq!(
        &first,
        b"HTTP/1.1 200",
        "{}",
        String::from_utf8_lossy(&first)
    );

    let names = send_json(
        client,
        "GET",
        &server.url(&format!("{ATTR}/names")),
        &on(&users, json!({})),
    );
    names.assert_ok();
    assert_eq!(names.body["result"], json!(["slow-but-fine"]));
    health(client, server).assert_ok();
    let text = metrics_text(client, server);
    assert!(
        sample(&text, r#"sessattr_http_timeouts_total{kind="header"}"#) >= 2.0,
        "{text}"
    );
    assert!(
        sample(&text, r#"sessattr_http_timeouts_total{kind="idle"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, r#"sessattr_http_timeouts_total{kind="body"}"#) >= 1.0,
        "{text}"
    );
    let refused = r#"sessattr_http_requests_total{path="/zato/sso/session/attr",method="POST",status="408",sub_status="E008002"}"#;
    assert_eq!(sample(&text, refused), 1.0, "{text}");
    assert!(server_stops(users.server));
}

/// At `http.max_connections`, a further client waits in the backlog
/// unanswered; when a connection closes, it is served.
#[test]
fn connections_beyond_the_cap_wait_for_a_free_one() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &tmp.path().join("server.log"),
        &["--http-max-connections", "2"],
    );
    let first = raw(&server, Duration::from_secs(30));
    let second = raw(&server, Duration::from_secs(30));
    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    // Both slots are taken (each waits up to 10 s for its headers).
    assert!(impatient.get(server.url("/health")).send().is_err());
    drop(first);
    let answer = client().get(server.url("/health")).send().unwrap();
    assert_eq!(answer.status(), 200);
    drop(second);
    assert!(server.stop().success());
}

/// With no queue, operations beyond those running are shed at once with
/// 503 E008004 and `Retry-After`, counted; with a tiny queue timeout, the
/// ones that wait too long are. Either way nothing else fails, and the
/// server serves again afterwards.
#[test]
fn back_pressure_sheds_beyond_the_queue_with_retry_after() {
    for (flags, kind) in [
        (["--http-max-queued", "0"], "queue_full"),
        (["--http-queue-timeout-ms", "1"], "queue_timeout"),
    ] {
        let users = TwoUsers::start(ADMIN_PASSWORD, ALICE_PASSWORD, &flags);
        let url = users.server.url("/zato/sso/user/login");
        let login = json!({"username": "alice", "password": ALICE_PASSWORD, "current_app": "CRM"})
            .to_string();
        // Logins hash a password (argon2id, ~19 MiB): each takes a while.
        const CLIENTS: usize = 32;
        let barrier = std::sync::Barrier::new(CLIENTS);
        let answers: Vec<(u16, Option<String>, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    scope.spawn(|| {
                        let client = client();
                        barrier.wait();
                        let response = client.post(&url).body(login.clone()).send().unwrap();
                        let status = response.status().as_u16();
                        let retry = response
                            .headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_owned());
                        (status, retry, response.json().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut shed = 0;
        for (status, retry, body) in &answers {
            match status {
                200 => assert_eq!(body["status"], "ok", "{body}"),
                503 => {
                    shed += 1;
                    assert_eq!(retry.as_deref(), Some("1"), "{body}");
                    assert_eq!(body["sub_status"], json!(["E008004"]), "{body}");
                    assert_cid(body);
                }
                other => panic!("{other}: {body}"),
            }
        }
        assert!(shed >= 1, "{kind}: none of {CLIENTS} logins was shed");
        assert!(shed < CLIENTS, "{kind}: every login was shed");
        let text = metrics_text(&users.client, &users.server);
        let counted = sample(
            &text,
            &format!(r#"sessattr_requests_shed_total{{kind="{kind}"}}"#),
        );
        assert_eq!(counted, shed as f64, "{text}");
        // Afterwards: served as usual.
        login_ok(&users);
        let log = read_to_string(&users.log);
        assert!(log.contains("request refused by the host"), "{log}");
        assert!(server_stops(users.server));
    }
}

fn login_ok(users: &TwoUsers) {
    let _ = login(&users.client, &users.server, "alice", ALICE_PASSWORD);
}
