//! `GET /health` and `GET /metrics`: the host answers them itself, before
//! any body limit, queue or module, and they need no UST (load balancers
//! and scrapers call them).
//!
//! `/health` is `200` when the process runs and the store answers a probe
//! ([`Store::ping`]) within the probe's time (`redis.timeout_ms`), else
//! `503 E008004`; both in the SPEC envelope, with the store's state, the
//! module's SHA-256 (12 hex digits), the version and the uptime beside it.
//! `HEAD` answers as `GET` without the body (load balancers probe with
//! either). Any other method on either path is `405 E008001` with
//! `Allow: GET, HEAD`, like the API's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::metrics::{self, During, Metrics, PoolSnapshot};
use crate::runner::{E_INTERNAL, random_cid};
use crate::service::Service;
use crate::store::Store;

/// The method-not-allowed sub-status.
const E_INVALID_OPERATION: &str = "E008001";

/// What `/health` probes, and what it says beside the store's state.
pub struct Probe {
    store: Arc<dyn Store>,
    kind: &'static str,
    timeout: Duration,
    module_sha256: String,
    started: Instant,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// A probe of `service`'s store, named `kind` in the answer, that
    /// gives up after `timeout`; the uptime counts from now.
    pub fn new(service: &Service, kind: &'static str, timeout: Duration) -> Self {
        let sha = service.runtime().sha256();
        Self {
            store: Arc::clone(service.store()),
            kind,
            timeout,
            module_sha256: sha.get(..12).unwrap_or(sha).to_owned(),
            started: Instant::now(),
        }
    }

    /// Pings the store on a blocking thread, for at most the probe's time;
    /// the reason when it failed.
    async fn ping(&self) -> Result<(), String> {
        let store = Arc::clone(&self.store);
        let ping = tokio::task::spawn_blocking(move || store.ping());
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(err))) => Err(err.to_string()),
            Ok(Err(_)) => Err("the store probe panicked".into()),
            Err(_) => Err(format!(
                "the store did not answer within {} ms",
                self.timeout.as_millis()
            )),
        }
    }
}

/// An answer of the host's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `Content-Length`.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
    /// The correlation id logged with it (empty for the metrics' text).
    pub cid: String,
    /// The sub-status of an error answer.
    pub sub_status: Option<&'static str>,
}

/// Whether `method` reads an operational endpoint: `GET`, or `HEAD`.
fn reads(method: &str) -> bool {
    matches!(method, "GET" | "HEAD")
}

/// `answer` as `method` gets it: for `HEAD`, the headers and length `GET`
/// gets and no body (as the console's files answer `HEAD`).
fn as_asked(mut answer: Answer, method: &str) -> Answer {
    if method == "HEAD" {
        answer
            .headers
            .push(("content-length", answer.body.len().to_string()));
        answer.body.clear();
    }
    answer
}

/// `405 E008001` with `Allow: GET, HEAD`, in the SPEC envelope.
fn not_allowed() -> Answer {
    let cid = random_cid();
    let body = json!({
        "cid": cid,
        "status": "error",
        "sub_status": [E_INVALID_OPERATION],
        "message": "method not allowed on this endpoint",
    });
    Answer {
        status: 405,
        headers: vec![
            ("content-type", "application/json".into()),
            ("allow", "GET, HEAD".into()),
        ],
        body: body.to_string(),
        cid,
        sub_status: Some(E_INVALID_OPERATION),
    }
}

/// The answer to `METHOD /health`.
pub async fn answer(probe: &Probe, metrics: &Metrics, method: &str) -> Answer {
    if !reads(method) {
        return not_allowed();
    }
    let cid = random_cid();
    let checked = probe.ping().await;
    let mut body = json!({
        "cid": cid,
        "store_kind": probe.kind,
        "module_sha256": probe.module_sha256,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": probe.started.elapsed().as_secs(),
    });
    let (status, sub_status) = match checked {
        Ok(()) => {
            body["status"] = "ok".into();
            body["store"] = "ok".into();
            (200, None)
        }
        Err(reason) => {
            metrics.store_error(During::Health);
            tracing::warn!(cid = %cid, store = probe.kind, error = %crate::error::one_line(&reason), "health check: the store is unavailable");
            body["status"] = "error".into();
            body["sub_status"] = json!([E_INTERNAL]);
            body["message"] = "the store is unavailable".into();
            body["store"] = "unavailable".into();
            (503, Some(E_INTERNAL))
        }
    };
    let answer = Answer {
        status,
        headers: vec![
            ("content-type", "application/json".into()),
            ("cache-control", "no-store".into()),
        ],
        body: body.to_string(),
        cid,
        sub_status,
    };
    as_asked(answer, method)
}

/// The answer to `METHOD /metrics`.
pub fn metrics_answer(metrics: &Metrics, pool: PoolSnapshot, method: &str) -> Answer {
    if !reads(method) {
        return not_allowed();
    }
    let answer = Answer {
        status: 200,
        headers: vec![
            ("content-type", metrics::CONTENT_TYPE.into()),
            ("cache-control", "no-store".into()),
        ],
        body: metrics.render(pool),
        cid: String::new(),
        sub_status: None,
    };
    as_asked(answer, method)
}
