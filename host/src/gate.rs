//! Back-pressure in front of the module: a few operations run at once (see
//! [`crate::http::concurrency`]), a bounded number wait for a turn, each
//! for a bounded time, and the rest are refused at once (`503 E008004`
//! with `Retry-After`) instead of queueing without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Shed;

/// Why [`Gate::enter`] gave no turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Shed: too many waiting, or waited too long.
    Shed(Shed),
    /// The gate was closed (the server is stopping).
    Closed,
}

/// The turns of the module.
#[derive(Debug)]
pub struct Gate {
    permits: Arc<Semaphore>,
    max_running: usize,
    queued: AtomicUsize,
    max_queued: usize,
    queue_timeout: Duration,
}

/// Counts one waiting operation for as long as it lives.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// A gate letting `max_running` operations run at once (at least 1)
    /// and `max_queued` wait, each at most `queue_timeout`.
    pub fn new(max_running: usize, max_queued: usize, queue_timeout: Duration) -> Self {
        let max_running = max_running.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max_running)),
            max_running,
            queued: AtomicUsize::new(0),
            max_queued,
            queue_timeout,
        }
    }

    /// A turn: at once when one is free, else after waiting in line (first
    /// come, first served) — unless `max_queued` already wait, or no turn
    /// comes within `queue_timeout`. Hold the permit while the operation
    /// runs.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Refused> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Refused::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        let _queued = Queued(&self.queued);
        if ahead >= self.max_queued {
            return Err(Refused::Shed(Shed::QueueFull));
        }
        match tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Refused::Closed),
            Err(_) => Err(Refused::Shed(Shed::QueueTimeout)),
        }
    }

    /// Operations running now.
    pub fn running(&self) -> usize {
        self.max_running
            .saturating_sub(self.permits.available_permits())
    }

    /// Most operations running at once.
    pub fn max_running(&self) -> usize {
        self.max_running
    }

    /// Operations waiting for a turn now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Most operations that may wait.
    pub fn max_queued(&self) -> usize {
        self.max_queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sheds_beyond_the_queue_and_after_the_timeout() {
        let gate = Arc::new(Gate::new(1, 1, Duration::from_millis(200)));
        let first = gate.enter().await.expect("a free turn");
        assert_eq!(gate.running(), 1);

        // One may wait; it gets the turn when the first is done.
        let waiter = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.enter().await.map(drop) })
        };
        while gate.queued() == 0 {
            tokio::task::yield_now().await;
        }
        // A second waiter is one too many.
        assert_eq!(
            gate.enter().await.map(drop),
            Err(Refused::Shed(Shed::QueueFull))
        );
        assert_eq!(gate.queued(), 1);
        drop(first);
        assert_eq!(waiter.await.expect("join"), Ok(()));
        assert_eq!(gate.queued(), 0);

        // A waiter that gets no turn in time gives up.
        let _held = gate.enter().await.expect("a free turn");
        assert_eq!(
            gate.enter().await.map(drop),
            Err(Refused::Shed(Shed::QueueTimeout))
        );
        assert_eq!(gate.queued(), 0);
    }

    #[tokio::test]
    async fn no_queue_at_all_sheds_whenever_every_turn_is_taken() {
        let gate = Gate::new(1, 0, Duration::from_secs(5));
        let _held = gate.enter().await.expect("a free turn");
        assert_eq!(
            gate.enter().await.map(drop),
            Err(Refused::Shed(Shed::QueueFull))
        );
    }
}
