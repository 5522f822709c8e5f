//! The HTTP face: one handler for every method and path. Routing, 404 and
//! 405 are the module's business; the host only carries bytes — except
//! for `GET /health` and `GET /metrics` ([`crate::health`],
//! [`crate::metrics`]), the web console ([`crate::console`], `/console/…`),
//! which the host serves itself unless the server runs with
//! `--no-console`, and the test clock ([`crate::test_clock`]), which the
//! host answers itself when the server runs with `--test-clock`.
//!
//! Connections, their timeouts and the shutdown are [`crate::server`]'s;
//! here every request's body is read within `http.body_timeout_ms`, and
//! every operation waits for its turn in the module at the [`Gate`].

use std::borrow::Cow;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, IF_NONE_MATCH, ORIGIN, RETRY_AFTER, USER_AGENT,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sessattr_core::http::route::is_api_path;
use sessattr_core::protocol::{HttpRequest, HttpResponse, Operation, by_length};

use crate::console;
use crate::cors::Cors;
use crate::gate::{Gate, Refused};
use crate::health;
use crate::metrics::{self, Metrics, PoolSnapshot, Timeout};
use crate::runner::{HostFailure, Outcome};
use crate::service::Service;
use crate::settings::HttpSettings;
use crate::test_clock;

/// Seconds a shed client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

/// Shared state of the handler.
#[derive(Debug)]
pub struct AppState {
    service: Arc<Service>,
    gate: Gate,
    metrics: Arc<Metrics>,
    body_timeout: Duration,
    console: bool,
    cors: Cors,
    probe: health::Probe,
}

impl AppState {
    /// State over `service`, running at most [`concurrency`] operations at
    /// once, with the default `http.*` settings ([`AppState::with_http`]),
    /// serving the web console.
    pub fn new(service: Arc<Service>) -> Self {
        let metrics = Arc::new(Metrics::new(service.runtime().sha256()));
        let probe = health::Probe::new(&service, "store", Duration::from_secs(1));
        Self {
            service,
            // Replaced at once by `with_http`'s.
            gate: Gate::new(1, 0, Duration::from_secs(1)),
            metrics,
            body_timeout: Duration::ZERO,
            console: true,
            cors: Cors::default(),
            probe,
        }
        .with_http(&HttpSettings::default())
    }

    /// This state with the body timeout and the module's queue of
    /// `settings` (`http.body_timeout_ms`, `http.max_queued`,
    /// `http.queue_timeout_ms`).
    #[must_use]
    pub fn with_http(mut self, settings: &HttpSettings) -> Self {
        let running = concurrency(self.service.runtime().limits().max_instances);
        self.gate = Gate::new(
            running,
            usize::try_from(settings.max_queued).unwrap_or(usize::MAX),
            Duration::from_millis(settings.queue_timeout_ms),
        );
        self.body_timeout = Duration::from_millis(settings.body_timeout_ms);
        self
    }

    /// This state probing the store for `GET /health` within `timeout`
    /// (the Redis timeout), naming it `kind` (`redb`, `redis`,
    /// `redis-cluster`) in the answer.
    #[must_use]
    pub fn with_store_probe(mut self, kind: &'static str, timeout: Duration) -> Self {
        self.probe = health::Probe::new(&self.service, kind, timeout);
        self
    }

    /// This state answering cross-origin requests (CORS) from `origins`
    /// (`--allow-origin`, e.g. a console served from another site); none
    /// by default, and then no CORS header is ever sent.
    #[must_use]
    pub fn with_allowed_origins(mut self, origins: Vec<HeaderValue>) -> Self {
        self.cors = Cors::new(origins);
        self
    }

    /// This state serving the web console at `/console/` (`on`, the
    /// default) or leaving those paths to the module (`--no-console`).
    #[must_use]
    pub fn with_console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }

    /// The metrics every request, connection and failure is counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What the pool gauges of `GET /metrics` show now.
    pub fn pool(&self) -> PoolSnapshot {
        PoolSnapshot {
            idle_instances: self.service.runtime().idle_instances(),
            running: self.gate.running(),
            max_running: self.gate.max_running(),
            queued: self.gate.queued(),
            max_queued: self.gate.max_queued(),
        }
    }
}

/// How many operations run in the module at once: two per CPU (a step loop
/// also waits on the store), at least 4, at most the instance pool.
///
/// Running more at once only shares the same CPUs: each takes longer, the
/// slowest reach the module's time limit (measured: 24 concurrent gets of
/// 1 000 values of 65 000 bytes on 2 CPUs all answered 500 after 10 s), and
/// every running instance holds its memory (about 0.6 GB for such a get).
pub fn concurrency(max_instances: u32) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    (2 * cpus).max(4).min(max_instances.max(1) as usize)
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
}

/// The body as read: its bytes, or too large.
enum ReadBody {
    Complete(Vec<u8>),
    /// Over the limit; `drained` when the rest was read and thrown away, so
    /// the client has finished sending and can read the answer.
    TooLarge {
        drained: bool,
    },
}

impl ReadBody {
    /// Whether some of the body is still on the wire (too large to drain).
    fn unread(&self) -> Unread {
        match self {
            Self::Complete(_) | Self::TooLarge { drained: true } => Unread::No,
            Self::TooLarge { drained: false } => Unread::Yes,
        }
    }
}

/// Most bytes of an over-limit body read and thrown away so that its client
/// can read the 413 (a client still sending when the connection closes sees
/// a broken pipe, not the answer). Larger bodies get the 413 at once.
const DRAIN_MAX_BYTES: u64 = 8 << 20;
/// Longest time spent draining one over-limit body.
const DRAIN_MAX_TIME: Duration = Duration::from_secs(5);

/// Reads at most `limit` bytes of `body`; past that, drains the rest
/// within [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`].
async fn read_body(
    mut body: Body,
    limit: usize,
    declared: Option<u64>,
) -> Result<ReadBody, axum::Error> {
    let limit = limit as u64;
    if declared.is_some_and(|n| n > limit) || body.size_hint().lower() > limit {
        let drainable = declared.is_some_and(|n| n <= DRAIN_MAX_BYTES);
        let drained = drainable && drain(&mut body, 0).await;
        return Ok(ReadBody::TooLarge { drained });
    }
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                let seen = (bytes.len() + data.len()) as u64;
                let drained = drain(&mut body, seen).await;
                return Ok(ReadBody::TooLarge { drained });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(ReadBody::Complete(bytes))
}

/// Reads `body` to its end and throws it away, `seen` bytes of it already
/// read; whether it ended within the drain bounds.
async fn drain(body: &mut Body, mut seen: u64) -> bool {
    let rest = async {
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            let Ok(frame) = frame else { return false };
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > DRAIN_MAX_BYTES {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_MAX_TIME, rest)
        .await
        .unwrap_or(false)
}

/// The first sub-status code of an answer, kept in the response's
/// extensions for the request metrics.
#[derive(Debug, Clone)]
struct SubStatus(String);

/// Counts a request in flight for as long as it lives (also when the
/// client goes away mid-request and the handler is dropped).
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight(false);
    }
}

/// The one handler: CORS around [`serve_request`] (a preflight of an allowed
/// origin is answered here; see [`crate::cors`]), counted in the metrics.
pub async fn handle(state: Arc<AppState>, peer: SocketAddr, request: Request) -> Response {
    let started = Instant::now();
    state.metrics.in_flight(true);
    let _in_flight = InFlight(&state.metrics);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response =
        if let Some(preflight) = state.cors.preflight(request.method(), request.headers()) {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = preflight.status;
            *response.headers_mut() = preflight.headers;
            response
        } else {
            let origin = request.headers().get(ORIGIN).cloned();
            let mut response = serve_request(&state, peer, request).await;
            state.cors.decorate(origin.as_ref(), response.headers_mut());
            response
        };
    let sub_status = response
        .extensions()
        .get::<SubStatus>()
        .map_or("", |code| code.0.as_str());
    state.metrics.request(
        &path,
        method.as_str(),
        response.status().as_u16(),
        sub_status,
        started.elapsed(),
    );
    response
}

/// Reads the body within the body timeout: `None` when it did not arrive
/// in time (counted).
async fn read_body_in_time(
    state: &AppState,
    body: Body,
    limit: usize,
    declared: Option<u64>,
) -> Option<Result<ReadBody, axum::Error>> {
    match tokio::time::timeout(state.body_timeout, read_body(body, limit, declared)).await {
        Ok(read) => Some(read),
        Err(_) => {
            state.metrics.timeout(Timeout::Body);
            None
        }
    }
}

/// The answer to one request: the health check's, the metrics', the
/// console's file, the test clock's, or the module's.
async fn serve_request(state: &Arc<AppState>, peer: SocketAddr, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    // Methods are case-sensitive (RFC 9110): `post` is not POST.
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let limit = state.service.config().limits.body_max_bytes;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let operational = path == metrics::HEALTH_PATH || path == metrics::METRICS_PATH;
    let console = if state.console && !operational {
        let if_none_match = joined(&parts.headers, IF_NONE_MATCH);
        console::answer(&method, &path, if_none_match.as_deref())
    } else {
        None
    };
    if operational || console.is_some() {
        // These have no use for a body: any is drained (so that its client
        // can read the answer) and thrown away.
        let unread = match read_body_in_time(state, body, 0, declared).await {
            Some(Ok(body)) => body.unread(),
            _ => Unread::Yes,
        };
        return match console {
            Some(answer) => console_response(&method, &path, &answer, started, unread),
            None if path == metrics::HEALTH_PATH => {
                let answer = health::answer(&state.probe, &state.metrics, &method).await;
                operational_response(&method, &path, answer, started, unread)
            }
            None => {
                let answer = health::metrics_answer(&state.metrics, state.pool(), &method);
                operational_response(&method, &path, answer, started, unread)
            }
        };
    }
    let body = match read_body_in_time(state, body, limit, declared).await {
        Some(Ok(body)) => body,
        Some(Err(err)) => {
            let path = logged_path(&path, is_api_path(&path));
            tracing::debug!(method = %method, path = %path, error = %err, "cannot read request body");
            let outcome = Outcome::fallback(HostFailure::BodyUnreadable, 0);
            let status = StatusCode::BAD_REQUEST;
            return respond(&method, &path, &outcome, started, status, Unread::Yes);
        }
        None => {
            let outcome = Outcome::fallback(HostFailure::BodyTimeout, 0);
            let status = StatusCode::REQUEST_TIMEOUT;
            return respond(&method, &path, &outcome, started, status, Unread::Yes);
        }
    };
    // A body left unread (too large to drain) is still on the wire: the
    // connection cannot carry another request.
    let unread = body.unread();
    let clock = state.service.clock();
    if clock.is_test() && path == test_clock::PATH {
        let seen = match &body {
            ReadBody::Complete(bytes) => test_clock::Body::Complete(bytes),
            ReadBody::TooLarge { .. } => test_clock::Body::TooLarge,
        };
        let outcome = test_clock::answer(clock, &method, seen);
        let status = StatusCode::from_u16(outcome.response.status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return respond(&method, &path, &outcome, started, status, unread);
    }
    let (body, body_too_large) = match body {
        ReadBody::Complete(bytes) => (STANDARD.encode(bytes), false),
        ReadBody::TooLarge { .. } => (String::new(), true),
    };
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let op = Operation::Http(HttpRequest {
        method: method.clone(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body,
        body_too_large,
        remote_addr: peer.ip().to_string(),
        user_agent,
    });

    let outcome = match state.gate.enter().await {
        Ok(permit) => {
            let service = Arc::clone(&state.service);
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                service.execute(&op)
            })
            .await
            .unwrap_or_else(|_| {
                Outcome::fallback(HostFailure::Module("the operation panicked".into()), 1)
            })
        }
        Err(Refused::Shed(why)) => {
            state.metrics.shed(why);
            Outcome::fallback(HostFailure::Busy, 0)
        }
        Err(Refused::Closed) => {
            Outcome::fallback(HostFailure::Module("server is shutting down".into()), 0)
        }
    };
    state
        .metrics
        .outcome(outcome.failure.as_ref(), outcome.response.status);
    let status =
        StatusCode::from_u16(outcome.response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = respond(&method, &path, &outcome, started, status, unread);
    if outcome.failure == Some(HostFailure::Busy) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// Whether the answer goes out before the request body was read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// The whole body was read; the connection stays open.
    No,
    /// Some of the body is still unread: the answer says `Connection:
    /// close` and the connection closes after it, so that no client sends
    /// its next request on a connection that still carries this body.
    Yes,
}

/// Every value of header `name`, joined with `, ` (RFC 9110 §5.3); `None`
/// when absent. Values that are not visible ASCII are skipped.
fn joined(headers: &axum::http::HeaderMap, name: HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Logs the console request's line and builds its response.
fn console_response(
    method: &str,
    path: &str,
    answer: &console::Answer<'static>,
    started: Instant,
    unread: Unread,
) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let http_status = status.as_u16();
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // The path only (the query string is never logged), if it was served.
    let path = logged_path(path, http_status < 400);
    let path = path.as_ref();
    tracing::info!(method, path, http_status, elapsed_us, "console");
    let headers = answer
        .headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()));
    assemble(status, unread, headers, Body::from(answer.body))
}

/// Logs the request line and builds the response.
fn respond(
    method: &str,
    path: &str,
    outcome: &Outcome,
    started: Instant,
    status: StatusCode,
    unread: Unread,
) -> Response {
    log_request(method, path, status.as_u16(), outcome, started);
    let mut response = build_response(status, &outcome.response, unread);
    if let Some(code) = outcome.log.sub_status.first() {
        response.extensions_mut().insert(SubStatus(code.clone()));
    }
    response
}

/// Logs the line of a `/health` or `/metrics` request (at debug level when
/// it went well: load balancers and scrapers call them every few seconds)
/// and builds its response.
fn operational_response(
    method: &str,
    path: &str,
    answer: health::Answer,
    started: Instant,
    unread: Unread,
) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let http_status = status.as_u16();
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let sub_status = answer.sub_status.unwrap_or_default();
    if http_status == 200 {
        tracing::debug!(method, path, http_status, cid = %answer.cid, elapsed_us, "request");
    } else {
        tracing::warn!(method, path, http_status, cid = %answer.cid, sub_status, elapsed_us, "request");
    }
    let headers = answer
        .headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()));
    let mut response = assemble(status, unread, headers, Body::from(answer.body));
    if !sub_status.is_empty() {
        response
            .extensions_mut()
            .insert(SubStatus(sub_status.to_owned()));
    }
    response
}

fn build_response(status: StatusCode, response: &HttpResponse, unread: Unread) -> Response {
    // The module's headers, except those the host sets itself.
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .filter(|(name, _)| {
            ![CONTENT_TYPE, CONTENT_LENGTH, CONNECTION]
                .iter()
                .any(|own| own.as_str().eq_ignore_ascii_case(name))
        })
        .chain([("content-type", "application/json")]);
    assemble(status, unread, headers, Body::from(response.body.clone()))
}

/// A response of `status` with `headers` (any that is not valid HTTP left
/// out) and `body`; `Connection: close` when the request body is unread.
fn assemble<'a>(
    status: StatusCode,
    unread: Unread,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: Body,
) -> Response {
    let mut builder = Response::builder().status(status);
    if unread == Unread::Yes {
        builder = builder.header(CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder.body(body).unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::empty());
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// Longest `app` a log line carries.
const LOGGED_APP_CHARS: usize = 64;
/// What a log line says of a request's path: a path the host serves, as
/// is; any other only by its length, since it is the client's free text (a
/// UST pasted into a URL, found by the secrets scan).
fn logged_path(path: &str, served: bool) -> Cow<'_, str> {
    if served {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(by_length("path", path))
    }
}
/// Longest list of names a log line carries (then `…`).
const LOGGED_NAMES_CHARS: usize = 1_000;

/// One line per request; only the module's loggable fields (never the body,
/// the query string, values, passwords, keys or USTs), the attempts the step
/// loop made (more than 1 after lost races) and the time taken.
fn log_request(method: &str, path: &str, http_status: u16, outcome: &Outcome, started: Instant) {
    let path = logged_path(path, is_api_path(path) || path == test_clock::PATH);
    let path = path.as_ref();
    let log = &outcome.log;
    let attempts = outcome.attempts;
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // `app` is a configured application (bounded all the same) or, when
    // the client sent another, only its length (the module sees to it). Names are
    // checked (at most 191 bytes, no control characters) but may hold
    // spaces, `=` or commas: a JSON array keeps them apart in text logs.
    let app = truncate(log.app.as_deref().unwrap_or("-"), LOGGED_APP_CHARS);
    let sub_status = log.sub_status.join(",");
    let names = truncate(
        &serde_json::to_string(&log.names).unwrap_or_default(),
        LOGGED_NAMES_CHARS,
    );
    match &outcome.failure {
        // The module answered 500 itself (stored data it cannot read).
        None if http_status >= 500 => tracing::error!(
            method, path, http_status, cid = %log.cid, op = %log.op, app, status = %log.status,
            sub_status = %sub_status, names = %names, attempts, elapsed_us, "request failed in the module"
        ),
        None => tracing::info!(
            method, path, http_status, cid = %log.cid, op = %log.op, app, status = %log.status,
            sub_status = %sub_status, names = %names, attempts, elapsed_us, "request"
        ),
        Some(failure) if failure.is_clients() || *failure == HostFailure::Busy => tracing::warn!(
            method, path, http_status, cid = %log.cid, sub_status = %sub_status, elapsed_us,
            error = %failure, "request refused by the host"
        ),
        Some(failure) => {
            let error = truncate(&failure.to_string(), 300);
            tracing::error!(
                method, path, http_status, cid = %log.cid, op = %log.op, app, status = %log.status,
                sub_status = %sub_status, names = %names, attempts, elapsed_us, error = %error,
                "request failed in the host"
            );
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
