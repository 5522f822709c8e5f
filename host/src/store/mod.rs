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

    /// Every `(key, record)` whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

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
