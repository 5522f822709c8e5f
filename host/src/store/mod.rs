//! Record stores: where the host keeps what the module asks it to write.
//!
//! Keys and records are opaque UTF-8 strings laid out by the core. A store
//! gets keys, scans prefixes, and applies a [`WriteSet`] atomically: every
//! precondition (`expect`) is checked against the state before the set, and
//! either all writes happen or none.

pub mod memory;
pub mod redb;

use sessattr_core::protocol::{Expect, WriteSet};

pub use self::memory::MemoryStore;
pub use self::redb::RedbStore;

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
    /// many keys that never holds all of them.
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

    /// Removes up to `limit` records whose `expires_at` is at or before `now`
    /// (unix micros); returns how many were removed.
    fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError>;
}

/// Whether `current` (the record now stored, if any) satisfies `expect`.
pub fn expect_holds(expect: &Expect, current: Option<&str>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Value(value) => current == Some(value.as_str()),
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! Tests every store implementation must pass.

    use super::*;
    use sessattr_core::protocol::{WriteAction, WriteOp};

    pub fn put(key: &str, value: &str, expires_at: Option<i64>, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            action: WriteAction::Put {
                value: value.into(),
                expires_at,
            },
            expect,
        }
    }

    pub fn delete(key: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            action: WriteAction::Delete,
            expect,
        }
    }

    pub fn expire(key: &str, expires_at: Option<i64>, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            action: WriteAction::Expire { expires_at },
            expect,
        }
    }

    pub fn check(key: &str, expect: Expect) -> WriteOp {
        WriteOp {
            key: key.into(),
            action: WriteAction::Check,
            expect,
        }
    }

    pub fn set(ops: Vec<WriteOp>) -> WriteSet {
        WriteSet { ops }
    }

    fn get(store: &dyn Store, key: &str) -> Option<String> {
        store
            .get_many(&[key.to_owned()])
            .expect("get")
            .pop()
            .flatten()
    }

    pub fn preconditions_are_atomic(store: &dyn Store) {
        let out = store
            .apply(&set(vec![
                put("a", "1", None, Expect::Absent),
                put("b", "1", None, Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);

        // `c` would be fine, `a` is not absent: nothing is written.
        let out = store
            .apply(&set(vec![
                put("c", "1", None, Expect::Absent),
                put("a", "2", None, Expect::Absent),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::PreconditionFailed);
        assert_eq!(get(store, "c"), None);
        assert_eq!(get(store, "a").as_deref(), Some("1"));

        // A stale Value precondition fails the whole set, deletes included.
        let out = store
            .apply(&set(vec![
                delete("b", Expect::Any),
                put("a", "3", None, Expect::Value("0".into())),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::PreconditionFailed);
        assert_eq!(get(store, "a").as_deref(), Some("1"));
        assert_eq!(get(store, "b").as_deref(), Some("1"));

        // A matching Value precondition applies everything.
        let out = store
            .apply(&set(vec![
                delete("b", Expect::Value("1".into())),
                put("a", "3", None, Expect::Value("1".into())),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        assert_eq!(get(store, "a").as_deref(), Some("3"));
        assert_eq!(get(store, "b"), None);

        // Absent on a deleted key holds again.
        let out = store
            .apply(&set(vec![put("b", "x", None, Expect::Absent)]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);

        // Value precondition on a missing key fails.
        let out = store
            .apply(&set(vec![put("zz", "x", None, Expect::Value("x".into()))]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::PreconditionFailed);
        assert_eq!(get(store, "zz"), None);
    }

    pub fn get_and_scan(store: &dyn Store) {
        let out = store
            .apply(&set(vec![
                put("sa:a:s1:x", "1", None, Expect::Any),
                put("sa:a:s1:y", "2", None, Expect::Any),
                put("sa:a:s10:z", "3", None, Expect::Any),
                put("sa:a:s2:x", "4", None, Expect::Any),
                put("sa:b", "5", None, Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        let got = store
            .get_many(&["sa:b".into(), "nope".into(), "sa:a:s1:x".into()])
            .expect("get");
        assert_eq!(got, vec![Some("5".into()), None, Some("1".into())]);
        let scan = store.scan_prefix("sa:a:s1:").expect("scan");
        assert_eq!(
            scan,
            vec![
                ("sa:a:s1:x".into(), "1".into()),
                ("sa:a:s1:y".into(), "2".into())
            ]
        );
        assert!(store.scan_prefix("zz").expect("scan").is_empty());
        assert_eq!(store.scan_prefix("").expect("scan all").len(), 5);
    }

    pub fn purges_expired(store: &dyn Store) {
        let out = store
            .apply(&set(vec![
                put("old", "1", Some(100), Expect::Any),
                put("older", "1", Some(50), Expect::Any),
                put("new", "1", Some(1_000), Expect::Any),
                put("never", "1", None, Expect::Any),
                put("moved", "1", Some(10), Expect::Any),
                put("gone", "1", Some(10), Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        // Re-putting moves the expiry; deleting removes it.
        let out = store
            .apply(&set(vec![
                put("moved", "2", Some(5_000), Expect::Any),
                delete("gone", Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);

        assert_eq!(store.purge_expired(100, 1).expect("purge"), 1);
        assert_eq!(store.purge_expired(100, 10).expect("purge"), 1);
        assert_eq!(store.purge_expired(100, 10).expect("purge"), 0);
        let keys: Vec<String> = store
            .scan_prefix("")
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec!["moved", "never", "new"]);
        assert_eq!(store.purge_expired(i64::MAX, 10).expect("purge"), 2);
        let keys: Vec<String> = store
            .scan_prefix("")
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec!["never"]);
    }

    pub fn scan_keys_pages_in_key_order(store: &dyn Store) {
        let puts = ["p:a", "p:b", "p:c", "p:d", "q:a"]
            .map(|key| put(key, "v", None, Expect::Any))
            .to_vec();
        assert_eq!(
            store.apply(&WriteSet { ops: puts }).expect("apply"),
            ApplyOutcome::Applied
        );
        assert_eq!(
            store.scan_keys("p:", None, 2).expect("page"),
            ["p:a", "p:b"]
        );
        assert_eq!(
            store.scan_keys("p:", Some("p:b"), 2).expect("page"),
            ["p:c", "p:d"]
        );
        assert!(
            store
                .scan_keys("p:", Some("p:d"), 2)
                .expect("page")
                .is_empty()
        );
        assert_eq!(store.scan_keys("q:", None, 10).expect("page"), ["q:a"]);
    }

    pub fn scan_records_carry_expiry(store: &dyn Store) {
        let record = |key: &str, value: &str, expires_at: Option<i64>| StoredRecord {
            key: key.into(),
            value: value.into(),
            expires_at,
        };
        let out = store
            .apply(&set(vec![
                put("sa:b", "5", Some(7), Expect::Any),
                put("sa:a:2", "2", None, Expect::Any),
                put("sa:a:1", "1", Some(100), Expect::Any),
                put("sa:a:3", "3", Some(5), Expect::Any),
                put("other", "x", None, Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        // Expire moves or drops an expiry; re-putting replaces it.
        let out = store
            .apply(&set(vec![
                expire("sa:a:1", None, Expect::Any),
                expire("sa:a:2", Some(300), Expect::Any),
                put("sa:a:3", "3b", None, Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        assert_eq!(
            store.scan_records("sa:a:").expect("scan"),
            vec![
                record("sa:a:1", "1", None),
                record("sa:a:2", "2", Some(300)),
                record("sa:a:3", "3b", None),
            ]
        );
        assert!(store.scan_records("zz").expect("scan").is_empty());
        let all = store.scan_records("").expect("scan all");
        let keys: Vec<&str> = all.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["other", "sa:a:1", "sa:a:2", "sa:a:3", "sa:b"]);
        assert_eq!(all[4], record("sa:b", "5", Some(7)));
        // Expired but not purged: still listed (the store knows no time);
        // purged: gone, and deleted records too.
        assert!(!all[4].is_live(7) && all[4].is_live(6));
        assert_eq!(store.purge_expired(7, 10).expect("purge"), 1);
        let out = store
            .apply(&set(vec![delete("other", Expect::Any)]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        assert_eq!(store.scan_records("").expect("scan all").len(), 3);
        assert_eq!(
            format!("{:?}", record("k", "secret", None)),
            r#"StoredRecord { key: "k", value_bytes: 6, expires_at: None }"#
        );
    }

    pub fn expire_and_check(store: &dyn Store) {
        let out = store
            .apply(&set(vec![
                put("a", "1", Some(10), Expect::Any),
                put("b", "1", None, Expect::Any),
                put("c", "1", Some(10), Expect::Any),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        // Expire moves (or drops) the expiry and keeps the value; on an
        // absent key it does nothing. Check writes nothing at all.
        let out = store
            .apply(&set(vec![
                expire("a", Some(1_000), Expect::Value("1".into())),
                expire("b", Some(20), Expect::Any),
                expire("c", None, Expect::Any),
                expire("absent", Some(5), Expect::Any),
                check("b", Expect::Value("1".into())),
                check("absent", Expect::Absent),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::Applied);
        assert_eq!(get(store, "a").as_deref(), Some("1"));
        assert_eq!(get(store, "absent"), None);
        assert_eq!(store.purge_expired(100, 10).expect("purge"), 1, "only b");
        assert_eq!(get(store, "b"), None);
        assert_eq!(store.purge_expired(999, 10).expect("purge"), 0);
        assert_eq!(store.purge_expired(1_000, 10).expect("purge"), 1, "a");
        assert_eq!(get(store, "c").as_deref(), Some("1"), "never expires now");
        // A failing check fails the set.
        let out = store
            .apply(&set(vec![
                put("d", "1", None, Expect::Absent),
                check("c", Expect::Value("other".into())),
            ]))
            .expect("apply");
        assert_eq!(out, ApplyOutcome::PreconditionFailed);
        assert_eq!(get(store, "d"), None);
    }
}
