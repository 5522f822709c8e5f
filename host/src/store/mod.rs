//! Record stores: where the host keeps what the module asks it to write.
//!
//! Keys and records are opaque UTF-8 strings laid out by the core. A store
//! gets keys, scans prefixes, and applies a [`WriteSet`] atomically: every
//! precondition (`expect`) is checked against the state before the set, and
//! either all writes happen or none.

pub mod group_commit;
pub mod memory;
pub mod redb;
pub mod redis;

use sessattr_core::protocol::{Expect, WriteSet};

pub use self::memory::MemoryStore;
pub use self::redb::RedbStore;
pub use self::redis::{RedisOptions, RedisStore, RedisTarget};

/// A failure of the store itself (not a failed precondition).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store open.
    #[error("store {path} is in use by another process")]
    InUse {
        /// The store file.
        path: String,
    },
    /// The store could not be opened.
    #[error("cannot open store {path}: {reason}")]
    Open {
        /// The store file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A read or write failed.
    #[error("store failure: {0}")]
    Backend(String),
}

/// One stored record with its expiry, as [`Store::scan_records`] reads it.
///
/// `Debug` never shows the value (it may be a password hash or a value
/// stored in clear).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The key.
    pub key: String,
    /// The record, as stored.
    pub value: String,
    /// When the store may forget the record (unix micros); `None` = never.
    pub expires_at: Option<i64>,
}

impl StoredRecord {
    /// Whether the record is still live at `now` (unix micros): it never
    /// expires or expires after `now`, the rule of the core and of
    /// [`Store::purge_expired`].
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl std::fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredRecord")
            .field("key", &self.key)
            .field("value_bytes", &self.value.len())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What happened to a write set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Every precondition held; every write was applied.
    Applied,
    /// At least one precondition failed; nothing was written.
    PreconditionFailed,
}

/// A key-value store of records.
pub trait Store: Send + Sync {
    /// Reads `keys`; the answer has one entry per key, `None` when absent.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError>;

    /// Up to `limit` keys that start with `prefix` and sort after `after`
    /// (from the first when `None`), in key order: a page of a walk over
    /// many keys. redb reads each page afresh and never holds all the
    /// keys; Redis, which cannot scan in order, sorts every key under the
    /// prefix at the walk's first page and pages through that snapshot.
    fn scan_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Every record whose key starts with `prefix`, with its expiry, in key
    /// order, read from one consistent state. Records past their expiry but
    /// not purged yet are included: the store does not know the time.
    fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError>;

    /// Every `(key, record)` whose key starts with `prefix`, in key order
    /// (what the module's scans get; only `user list` scans, so reading the
    /// expiries along is no cost worth a second implementation).
    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .scan_records(prefix)?
            .into_iter()
            .map(|record| (record.key, record.value))
            .collect())
    }

    /// Applies `writes` atomically: all of them when every `expect` holds
    /// against the state before the set, none otherwise.
    fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, StoreError>;

    /// True when a write set may hold keys of one hash tag only (Redis): a
    /// caller with keys of several tags (`store import`) splits them.
    fn one_tag_per_write_set(&self) -> bool {
        false
    }

    /// True when the store forgets expired records by itself (Redis), so
    /// that no sweeper needs to run [`Store::purge_expired`].
    fn expires_by_itself(&self) -> bool {
        false
    }

    /// Removes up to `limit` records whose `expires_at` is at or before `now`
    /// (unix micros); returns how many were removed.
    fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError>;

    /// Checks that the store answers at all (`GET /health`): one cheap
    /// round trip that reads nothing of note and writes nothing. Redis
    /// answers or fails within its `redis.timeout_ms`. By default, a read
    /// of [`PING_KEY`], which no record ever has.
    fn ping(&self) -> Result<(), StoreError> {
        self.get_many(&[PING_KEY.to_owned()]).map(drop)
    }
}

/// The key a default [`Store::ping`] reads: outside the core's `sa:` key
/// space, so never a record.
pub const PING_KEY: &str = "sessattr:ping";

/// Whether `current` (the record now stored, if any) satisfies `expect`.
pub fn expect_holds(expect: &Expect, current: Option<&str>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Value(value) => current == Some(value.as_str()),
    }
}

#[cfg(test)]
pub(crate) mod contract;
