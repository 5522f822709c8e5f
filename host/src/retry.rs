//! How the step loop retries after a lost race (a write set whose
//! precondition failed): a short randomized pause, then the whole decision
//! again while holding an in-process lock for the write set's hash tag.
//!
//! Every key of one session carries the session id as a `{…}` hash tag, so
//! the lock serializes the retries of contending writers of one session:
//! a retrier can then lose only to a first attempt that committed during its
//! own short read-decide-apply, and the budget is never exhausted by writers
//! retrying against each other. Correctness still comes from the store's
//! preconditions; the lock only stops retriers from starving each other.

use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sessattr_core::protocol::WriteSet;
use sessattr_core::store::layout;

/// Retries after a failed precondition before giving up with 503.
pub const MAX_RETRIES: u32 = 16;
/// Longest pause before one retry.
pub const MAX_BACKOFF: Duration = Duration::from_millis(20);
/// The first retry pauses up to this long; each further retry doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_micros(500);
/// Locks that hash tags share.
pub const STRIPES: usize = 64;

/// The retry locks of one process.
#[derive(Debug)]
pub struct RetryLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for RetryLocks {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryLocks {
    /// [`STRIPES`] locks.
    pub fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Locks the stripe of `tag`; released when the guard is dropped. A
    /// thread holds at most one stripe at a time, so stripes cannot deadlock.
    pub fn lock(&self, tag: &str) -> MutexGuard<'_, ()> {
        let index = usize::try_from(self.hasher.hash_one(tag) % STRIPES as u64).unwrap_or(0);
        // The lock guards no data: a panic elsewhere leaves nothing to repair.
        self.stripes[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a retry of `writes` locks: the hash tag of its first key.
pub fn lock_tag(writes: &WriteSet) -> String {
    writes
        .ops
        .first()
        .map(|op| layout::hash_tag(&op.key).to_owned())
        .unwrap_or_default()
}

/// The pause before retry `retry` (1 for the first): a random duration up
/// to `FIRST_BACKOFF × 2^(retry-1)`, at most [`MAX_BACKOFF`] ("full jitter").
pub fn backoff(retry: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    if micros == 0 {
        return Duration::ZERO;
    }
    // Without random bytes, pause the full ceiling: still bounded.
    let random = getrandom::u64().unwrap_or(u64::MAX);
    Duration::from_micros(random % (micros + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessattr_core::protocol::{Expect, WriteAction, WriteOp};

    #[test]
    fn a_write_set_locks_the_tag_of_its_first_key() {
        let op = |key: &str| WriteOp {
            key: key.into(),
            action: WriteAction::Delete,
            expect: Expect::Any,
        };
        let set = WriteSet {
            ops: vec![op("sa:a:{s1}:b"), op("sa:a:{s1}:a")],
        };
        assert_eq!(lock_tag(&set), "s1");
        assert_eq!(lock_tag(&WriteSet::default()), "");
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for retry in 1..=MAX_RETRIES {
            let ceiling = FIRST_BACKOFF
                .saturating_mul(1u32 << (retry - 1).min(16))
                .min(MAX_BACKOFF);
            for _ in 0..20 {
                assert!(backoff(retry) <= ceiling);
            }
        }
        assert!(backoff(1) <= FIRST_BACKOFF);
        assert!(backoff(u32::MAX) <= MAX_BACKOFF);
    }

    #[test]
    fn one_tag_one_lock_at_a_time() {
        let locks = RetryLocks::new();
        let guard = locks.lock("s1");
        // The same stripe is taken until the guard goes.
        let index = usize::try_from(locks.hasher.hash_one("s1") % STRIPES as u64).unwrap_or(0);
        assert!(locks.stripes[index].try_lock().is_err());
        drop(guard);
        assert!(locks.stripes[index].try_lock().is_ok());
    }
}
