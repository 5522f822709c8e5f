//! The accept loop and the life of each connection (HTTP/1.1, hyper):
//!
//! * at most `http.max_connections` open at once; beyond that, accepting
//!   pauses and new clients wait in the listen backlog;
//! * a watchdog per connection closes it when its client is too slow to
//!   send a request's line and headers (`http.header_timeout_ms`, counted
//!   from the connection's start or from the first byte of a request on a
//!   kept-alive connection) or when it sits idle between requests
//!   (`http.idle_timeout_ms`, counted from the end of the last request or
//!   the last byte written, whichever is later); the body of a request has
//!   its own timeout in [`crate::http`];
//! * on shutdown, the listener is closed at once (new connections are
//!   refused), every connection finishes the request it is serving and
//!   closes, and [`serve`] returns when all are closed or when
//!   `http.shutdown_grace_ms` has passed, whichever comes first.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::http::{self, AppState};
use crate::metrics::Timeout;

/// The connection limits and times of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// See [`crate::settings::HttpSettings::header_timeout_ms`].
    pub header_timeout: Duration,
    /// See [`crate::settings::HttpSettings::idle_timeout_ms`].
    pub idle_timeout: Duration,
    /// See [`crate::settings::HttpSettings::max_connections`].
    pub max_connections: usize,
    /// See [`crate::settings::HttpSettings::shutdown_grace_ms`].
    pub shutdown_grace: Duration,
}

impl ServerLimits {
    /// The limits of `settings`.
    pub fn new(settings: &crate::settings::HttpSettings) -> Self {
        Self {
            header_timeout: Duration::from_millis(settings.header_timeout_ms),
            idle_timeout: Duration::from_millis(settings.idle_timeout_ms),
            max_connections: usize::try_from(settings.max_connections).unwrap_or(usize::MAX),
            shutdown_grace: Duration::from_millis(settings.shutdown_grace_ms),
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self::new(&crate::settings::HttpSettings::default())
    }
}

/// How [`serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection closed after its last request.
    Clean,
    /// The grace period ended (or a second signal came) with this many
    /// connections still open; they were dropped.
    CutShort(usize),
}

/// Serves `listener` until `shutdown` completes, then drains: no new
/// connection, requests in flight finish, within `limits.shutdown_grace`
/// — or until `force` completes (a second signal).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
    force: impl Future<Output = ()>,
) -> Drained {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Every connection task holds a receiver of `closing` (to hear of the
    // shutdown) and a clone of `open_rx` (so that `open_tx.closed()`
    // completes when the last one ends).
    let (closing_tx, closing_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            state: Arc::clone(&state),
            limits,
            peer,
            closing: closing_rx.clone(),
            _open: open_rx.clone(),
            _slot: slot,
        };
        tokio::spawn(connection.run(stream));
    }
    // Closing the listening socket makes new connections fail at once
    // (refused) rather than wait in a backlog nobody reads.
    drop(listener);
    drop(open_rx);
    let open = open_tx.receiver_count();
    tracing::info!(
        connections = open,
        grace_ms = u64::try_from(limits.shutdown_grace.as_millis()).unwrap_or(u64::MAX),
        "no longer accepting connections; finishing requests in flight"
    );
    let _ = closing_tx.send(true);
    let drained = tokio::select! {
        () = open_tx.closed() => true,
        () = tokio::time::sleep(limits.shutdown_grace) => false,
        () = force => false,
    };
    if drained {
        Drained::Clean
    } else {
        Drained::CutShort(open_tx.receiver_count())
    }
}

/// What to do when `accept` fails: a failed handshake of one client is
/// nothing; anything else (out of file descriptors…) pauses accepting for
/// a second rather than spinning.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One accepted connection.
struct Connection {
    state: Arc<AppState>,
    limits: ServerLimits,
    peer: SocketAddr,
    closing: watch::Receiver<bool>,
    /// Held for the connection's life: see [`serve`].
    _open: watch::Receiver<()>,
    /// One of `http.max_connections`, given back when the connection ends.
    _slot: OwnedSemaphorePermit,
}

/// Counts an open connection in the metrics for as long as it lives.
struct OpenConnection(Arc<AppState>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics().connection(false);
    }
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        self.state.metrics().connection(true);
        let _counted = OpenConnection(Arc::clone(&self.state));
        let watch = Arc::new(Watch::new());
        let io = TokioIo::new(WatchedIo {
            inner: stream,
            watch: Arc::clone(&watch),
        });
        let service = {
            let state = Arc::clone(&self.state);
            let watch = Arc::clone(&watch);
            let peer = self.peer;
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                // Busy from the moment the headers are parsed: neither
                // timeout of the watchdog applies while a request is served.
                let busy = watch.begin();
                let state = Arc::clone(&state);
                async move {
                    let response = http::handle(state, peer, request.map(Body::new)).await;
                    drop(busy);
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let mut conn =
            pin!(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        let mut closing = *self.closing.borrow();
        if closing {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            let (deadline, _) = watch.deadline(&self.limits);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(peer = %self.peer, error = %err, "connection ended with an error");
                    }
                    return;
                }
                () = watch.changed.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    if let (at, Some(which)) = watch.deadline(&self.limits)
                        && at <= Instant::now()
                    {
                        self.state.metrics().timeout(which);
                        tracing::debug!(peer = %self.peer, timeout = which.label(), "connection closed: client too slow");
                        return;
                    }
                }
                changed = self.closing.changed(), if !closing => {
                    closing = true;
                    if changed.is_ok() {
                        // Finishes the request in progress, if any, then closes.
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Where a connection is in its life, for the watchdog.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's line and headers, since then.
    Head(Instant),
    /// Serving requests (the count).
    Busy(u32),
    /// Between requests, since then.
    Idle(Instant),
}

/// A connection's phase, shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
struct Watch {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
}

/// Marks the connection busy for as long as it lives.
struct Busy(Arc<Watch>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Watch {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            // A new connection waits for its first request's headers.
            state: Mutex::new((Phase::Head(now), now)),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Phase, Instant)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes came in: on an idle connection, a request begins.
    fn read(&self) {
        let mut state = self.lock();
        if let Phase::Idle(_) = state.0 {
            state.0 = Phase::Head(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes went out: an idle connection still delivering its last answer
    /// to a slow reader is not idle.
    fn wrote(&self) {
        self.lock().1 = Instant::now();
    }

    /// A request's headers arrived: busy until the guard is dropped.
    fn begin(self: &Arc<Self>) -> Busy {
        let mut state = self.lock();
        state.0 = match state.0 {
            Phase::Busy(n) => Phase::Busy(n.saturating_add(1)),
            Phase::Head(_) | Phase::Idle(_) => Phase::Busy(1),
        };
        drop(state);
        self.changed.notify_one();
        Busy(Arc::clone(self))
    }

    fn end(&self) {
        let mut state = self.lock();
        state.0 = match state.0 {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        drop(state);
        self.changed.notify_one();
    }

    /// When the connection is due to close, and why (`None`: never, while
    /// busy; the returned instant is then an hour away, and any change of
    /// phase wakes the watchdog).
    fn deadline(&self, limits: &ServerLimits) -> (Instant, Option<Timeout>) {
        let (phase, wrote) = *self.lock();
        match phase {
            Phase::Head(since) => (since + limits.header_timeout, Some(Timeout::Header)),
            Phase::Idle(since) => (since.max(wrote) + limits.idle_timeout, Some(Timeout::Idle)),
            Phase::Busy(_) => (Instant::now() + Duration::from_secs(3600), None),
        }
    }
}

/// The connection's socket, telling its [`Watch`] of every read and write.
struct WatchedIo {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        }
    }

    #[tokio::test]
    async fn the_watch_follows_a_connections_phases() {
        let watch = Arc::new(Watch::new());
        let (at, which) = watch.deadline(&limits());
        assert_eq!(
            which,
            Some(Timeout::Header),
            "a new connection awaits headers"
        );
        assert!(at > Instant::now() + Duration::from_secs(9));

        let first = watch.begin();
        let second = watch.begin();
        assert_eq!(watch.deadline(&limits()).1, None, "busy: no deadline");
        drop(first);
        assert_eq!(watch.deadline(&limits()).1, None, "still one request");
        drop(second);
        let (at, which) = watch.deadline(&limits());
        assert_eq!(which, Some(Timeout::Idle));
        assert!(at > Instant::now() + Duration::from_secs(59));

        watch.read();
        assert_eq!(
            watch.deadline(&limits()).1,
            Some(Timeout::Header),
            "a byte on an idle connection starts a request"
        );
        let _busy = watch.begin();
        watch.read();
        assert_eq!(
            watch.deadline(&limits()).1,
            None,
            "body bytes change nothing"
        );
    }
}
