//! The server's metrics, answered at `GET /metrics` in the OpenMetrics text
//! format (which Prometheus scrapes), with the `prometheus-client` crate.
//!
//! Every label takes its value from a small fixed set, whatever the
//! clients send: a path is one of the API's (or `/health`, `/metrics`,
//! `/console/`, the test clock's) else `other`; a method one of seven else
//! `other`; a status the three digits answered; a sub-status one of the
//! SPEC's codes, `other`, or empty when there is none. So the number of
//! series stays bounded, and no UST, value, attribute name, application or
//! query string can ever reach the text.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use sessattr_core::http::route::{
    ATTR_PATH, EXISTS_PATH, LOGIN_PATH, LOGOUT_PATH, NAMES_PATH, SESSION_PATH, USER_PATH,
};

use crate::runner::HostFailure;

/// The path of the health check.
pub const HEALTH_PATH: &str = "/health";
/// The path of the metrics.
pub const METRICS_PATH: &str = "/metrics";
/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram's buckets, in seconds: from half
/// a millisecond (a get of a few small attributes) to 30 s (a queued
/// batch of 1 000 large values).
const LATENCY_BUCKETS: [f64; 15] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The sub-status codes a label may carry (SPEC 2.5, and the user
/// commands' two).
const CODES: [&str; 11] = [
    "E001001", "E001002", "E004001", "E005001", "E007001", "E008001", "E008002", "E008003",
    "E008004", "E009001", "E009002",
];

/// The labels of one request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    path: &'static str,
    method: &'static str,
    status: u16,
    sub_status: &'static str,
}

/// The path label of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

/// A label that names a kind, a cause or a phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The constructor of the latency histograms.
type NewHistogram = fn() -> Histogram;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Why an operation was answered `503` without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// `http.max_queued` operations were waiting already.
    QueueFull,
    /// It waited `http.queue_timeout_ms` without a turn.
    QueueTimeout,
}

impl Shed {
    fn label(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::QueueTimeout => "queue_timeout",
        }
    }
}

/// Which connection or request timeout struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// A request line and headers did not arrive within
    /// `http.header_timeout_ms`.
    Header,
    /// A request body did not arrive within `http.body_timeout_ms`.
    Body,
    /// A kept-alive connection sat idle for `http.idle_timeout_ms`.
    Idle,
}

impl Timeout {
    /// The label value, also logged.
    pub fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Body => "body",
            Self::Idle => "idle",
        }
    }
}

/// Where a store error was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum During {
    /// An API request (answered `503`).
    Request,
    /// The probe of `GET /health`.
    Health,
    /// The sweeper's purge.
    Sweep,
}

impl During {
    fn label(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Health => "health",
            Self::Sweep => "sweep",
        }
    }
}

/// What the gauges read at scrape time show: the module's instances and
/// the operations running and waiting for a turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSnapshot {
    /// Warm instances idle in the pool.
    pub idle_instances: usize,
    /// Operations running in the module now.
    pub running: usize,
    /// Most operations that run at once.
    pub max_running: usize,
    /// Operations waiting for a turn now.
    pub queued: usize,
    /// Most operations that may wait (`http.max_queued`).
    pub max_queued: usize,
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<PathLabels, Histogram, NewHistogram>,
    in_flight: Gauge,
    connections_open: Gauge,
    connections: Counter,
    timeouts: Family<KindLabels, Counter>,
    shed: Family<KindLabels, Counter>,
    store_errors: Family<KindLabels, Counter>,
    contention: Counter,
    module_failures: Family<KindLabels, Counter>,
    idle_instances: Gauge,
    running: Gauge,
    max_running: Gauge,
    queued: Gauge,
    max_queued: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Fresh metrics of a process running the module whose SHA-256 (hex)
    /// is `module_sha256`.
    pub fn new(module_sha256: &str) -> Self {
        let mut registry = Registry::with_prefix("sessattr");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by path (API paths, else `other`), method, HTTP status and sub_status",
            requests.clone(),
        );
        let latency = Family::<PathLabels, Histogram, NewHistogram>::new_with_constructor(
            latency_histogram as NewHistogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's headers to its answer, by path",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being answered now",
            in_flight.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "http_connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        let connections = Counter::default();
        registry.register(
            "http_connections",
            "Client connections accepted",
            connections.clone(),
        );
        let timeouts = Family::<KindLabels, Counter>::default();
        registry.register(
            "http_timeouts",
            "Connections closed or requests refused because the client was too slow: header, body or idle",
            timeouts.clone(),
        );
        let shed = Family::<KindLabels, Counter>::default();
        registry.register(
            "requests_shed",
            "Operations answered 503 without running because too many waited for the module (queue_full) or one waited too long (queue_timeout)",
            shed.clone(),
        );
        let store_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "store_errors",
            "Store failures, by where they were met: request, health, sweep",
            store_errors.clone(),
        );
        let contention = Counter::default();
        registry.register(
            "store_contention",
            "Operations answered 503 after their writes kept losing races",
            contention.clone(),
        );
        let module_failures = Family::<KindLabels, Counter>::default();
        registry.register(
            "module_failures",
            "Operations the module failed: failed (trap, time or memory limit, unusable answer), rejected (refused the step input), internal_error (answered 500)",
            module_failures.clone(),
        );
        let idle_instances = Gauge::default();
        registry.register(
            "module_instances_idle",
            "Warm module instances idle in the pool",
            idle_instances.clone(),
        );
        let running = Gauge::default();
        registry.register(
            "operations_running",
            "Operations running in the module now",
            running.clone(),
        );
        let max_running = Gauge::default();
        registry.register(
            "operations_running_max",
            "Most operations that run in the module at once",
            max_running.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "operations_queued",
            "Operations waiting for a turn in the module now",
            queued.clone(),
        );
        let max_queued = Gauge::default();
        registry.register(
            "operations_queued_max",
            "Most operations that may wait for a turn (http.max_queued)",
            max_queued.clone(),
        );
        let started = Gauge::<f64, AtomicU64>::default();
        started.set(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        registry.register(
            "start_time_seconds",
            "When the process started, unix seconds",
            started,
        );
        let short = module_sha256.get(..12).unwrap_or(module_sha256).to_owned();
        registry.register(
            "build",
            "The host's version and the first 12 hex digits of its module's SHA-256",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
                ("module_sha256", short),
            ]),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            connections_open,
            connections,
            timeouts,
            shed,
            store_errors,
            contention,
            module_failures,
            idle_instances,
            running,
            max_running,
            queued,
            max_queued,
        }
    }

    /// Counts one answered request and its time.
    pub fn request(
        &self,
        path: &str,
        method: &str,
        status: u16,
        sub_status: &str,
        elapsed: Duration,
    ) {
        let path = path_label(path);
        self.requests
            .get_or_create(&RequestLabels {
                path,
                method: method_label(method),
                status,
                sub_status: code_label(sub_status),
            })
            .inc();
        self.latency
            .get_or_create(&PathLabels { path })
            .observe(elapsed.as_secs_f64());
    }

    /// A request started (`true`) or was answered (`false`).
    pub fn in_flight(&self, started: bool) {
        if started {
            self.in_flight.inc();
        } else {
            self.in_flight.dec();
        }
    }

    /// A connection was accepted (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        if opened {
            self.connections.inc();
            self.connections_open.inc();
        } else {
            self.connections_open.dec();
        }
    }

    /// A client was too slow.
    pub fn timeout(&self, which: Timeout) {
        self.timeouts
            .get_or_create(&KindLabels {
                kind: which.label(),
            })
            .inc();
    }

    /// An operation was answered `503` without running.
    pub fn shed(&self, why: Shed) {
        self.shed
            .get_or_create(&KindLabels { kind: why.label() })
            .inc();
    }

    /// The store failed.
    pub fn store_error(&self, during: During) {
        self.store_errors
            .get_or_create(&KindLabels {
                kind: during.label(),
            })
            .inc();
    }

    /// Counts what an operation's host failure (or the module's own `500`,
    /// `status` without a failure) says about the store and the module.
    pub fn outcome(&self, failure: Option<&HostFailure>, status: u16) {
        let module = |kind| {
            self.module_failures
                .get_or_create(&KindLabels { kind })
                .inc();
        };
        match failure {
            Some(HostFailure::Store(_)) => self.store_error(During::Request),
            Some(HostFailure::Contention) => {
                self.contention.inc();
            }
            Some(HostFailure::Module(_)) => module("failed"),
            Some(HostFailure::Rejected(_)) => module("rejected"),
            None if status >= 500 => module("internal_error"),
            _ => {}
        }
    }

    /// The text of `GET /metrics`, with the pool's gauges as `pool` says.
    pub fn render(&self, pool: PoolSnapshot) -> String {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.idle_instances.set(gauge(pool.idle_instances));
        self.running.set(gauge(pool.running));
        self.max_running.set(gauge(pool.max_running));
        self.queued.set(gauge(pool.queued));
        self.max_queued.set(gauge(pool.max_queued));
        let mut text = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %err, "cannot encode the metrics");
            text.clear();
            text.push_str("# EOF\n");
        }
        text
    }
}

/// The path as a label: one of a fixed set, else `other`.
pub fn path_label(path: &str) -> &'static str {
    match path {
        ATTR_PATH => ATTR_PATH,
        EXISTS_PATH => EXISTS_PATH,
        NAMES_PATH => NAMES_PATH,
        LOGIN_PATH => LOGIN_PATH,
        LOGOUT_PATH => LOGOUT_PATH,
        SESSION_PATH => SESSION_PATH,
        USER_PATH => USER_PATH,
        HEALTH_PATH => HEALTH_PATH,
        METRICS_PATH => METRICS_PATH,
        crate::test_clock::PATH => crate::test_clock::PATH,
        p if p == "/console" || p.starts_with(crate::console::PREFIX) => crate::console::PREFIX,
        _ => "other",
    }
}

/// The method as a label: one of seven, else `other` (methods are
/// case-sensitive: `post` is `other`).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A sub-status as a label: one of [`CODES`], empty for none, else `other`.
fn code_label(code: &str) -> &'static str {
    if code.is_empty() {
        return "";
    }
    CODES
        .iter()
        .find(|known| **known == code)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(path_label(ATTR_PATH), ATTR_PATH);
        assert_eq!(path_label("/zato/sso/session/attr/"), "other");
        assert_eq!(path_label("/zato/sso/session/attr?x=1"), "other");
        assert_eq!(
            path_label("/pg_KKSw7xgJLYW3rfVe373mAGAvThWS4Ggn8N06fGJ8"),
            "other"
        );
        assert_eq!(path_label("/console/app.js"), "/console/");
        assert_eq!(path_label("/console"), "/console/");
        assert_eq!(method_label("post"), "other");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(code_label("E009001"), "E009001");
        assert_eq!(code_label("E999999"), "other");
        assert_eq!(code_label(""), "");
    }

    #[test]
    fn renders_counts_and_gauges() {
        let metrics = Metrics::new("0123456789abcdef");
        metrics.request(ATTR_PATH, "POST", 200, "", Duration::from_millis(2));
        metrics.request(ATTR_PATH, "POST", 403, "E009001", Duration::from_millis(2));
        metrics.request(
            "/secret-ust",
            "post",
            404,
            "E008001",
            Duration::from_millis(1),
        );
        metrics.shed(Shed::QueueFull);
        metrics.outcome(Some(&HostFailure::Store("down".into())), 503);
        let text = metrics.render(PoolSnapshot {
            idle_instances: 3,
            running: 1,
            max_running: 4,
            queued: 2,
            max_queued: 8,
        });
        for line in [
            r#"sessattr_http_requests_total{path="/zato/sso/session/attr",method="POST",status="200",sub_status=""} 1"#,
            r#"sessattr_http_requests_total{path="/zato/sso/session/attr",method="POST",status="403",sub_status="E009001"} 1"#,
            r#"sessattr_http_requests_total{path="other",method="other",status="404",sub_status="E008001"} 1"#,
            r#"sessattr_requests_shed_total{kind="queue_full"} 1"#,
            r#"sessattr_store_errors_total{kind="request"} 1"#,
            "sessattr_module_instances_idle 3",
            "sessattr_operations_queued 2",
            "sessattr_operations_queued_max 8",
            r#"sessattr_build_info{version="0.1.0",module_sha256="0123456789ab"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(text.contains("sessattr_http_request_duration_seconds_bucket"));
        assert!(!text.contains("secret-ust"));
        assert!(text.ends_with("# EOF\n"));
    }
}
