//! The default store: one redb file (`sessattr.redb`).
//!
//! Tables:
//! * `records`: key → record, the data itself;
//! * `expires_at`: key → unix micros, for records written with an expiry;
//! * `expiry`: (unix micros, key) → (), the same in time order, so that a
//!   sweeper finds due records without scanning everything.
//!
//! Write sets are committed durably, in groups: sets that arrive while a
//! commit is in progress share the next write transaction
//! ([`GroupCommit`]), each checked and applied as if it came alone, so that
//! concurrent writers pay for one `fsync` instead of one each. The file is
//! opened in redb's multi-writer mode, so `sessattr user add` can run beside a
//! running server.

use std::fmt::Display;
use std::path::Path;

use redb::{
    ConcurrencyMode, Database, DatabaseError, ReadableDatabase, ReadableTable, Table,
    TableDefinition, WriteTransaction,
};
use sessattr_core::protocol::{WriteAction, WriteSet};

use super::group_commit::{Applied, GroupCommit};
use super::{ApplyOutcome, Store, StoreError, StoredRecord, expect_holds};

const RECORDS: TableDefinition<&str, &str> = TableDefinition::new("records");
const EXPIRES_AT: TableDefinition<&str, i64> = TableDefinition::new("expires_at");
const EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("expiry");

/// A store in a redb file.
pub struct RedbStore {
    db: Database,
    group: GroupCommit,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn backend(err: impl Display) -> StoreError {
    StoreError::Backend(crate::error::one_line(&err.to_string()))
}

impl RedbStore {
    /// Opens the store at `path`, creating the file and its tables if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let db = Database::builder()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .create(path)
            .map_err(|err| match err {
                DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
                    StoreError::InUse {
                        path: shown.clone(),
                    }
                }
                other => StoreError::Open {
                    path: shown.clone(),
                    reason: crate::error::one_line(&other.to_string()),
                },
            })?;
        let store = Self {
            db,
            group: GroupCommit::default(),
        };
        store.create_tables().map_err(|err| StoreError::Open {
            path: shown,
            reason: err.to_string(),
        })?;
        Ok(store)
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        txn.open_table(RECORDS).map_err(backend)?;
        txn.open_table(EXPIRES_AT).map_err(backend)?;
        txn.open_table(EXPIRY).map_err(backend)?;
        txn.commit().map_err(backend)
    }

    /// Applies `sets` in one write transaction with one durable commit:
    /// each set whose preconditions hold against the state the earlier
    /// ones left is applied whole, the others not at all. A failure of the
    /// store fails every set (the transaction is not committed).
    fn apply_batch(&self, sets: &[WriteSet]) -> Vec<Applied> {
        let fail_all = |err: StoreError| {
            let reason = err.to_string();
            sets.iter()
                .map(|_| Err(StoreError::Backend(reason.clone())))
                .collect()
        };
        let txn = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(err) => return fail_all(backend(err)),
        };
        let outcomes = match apply_in(&txn, sets) {
            Ok(outcomes) => outcomes,
            Err(err) => {
                let _ = txn.abort();
                return fail_all(err);
            }
        };
        if outcomes.contains(&ApplyOutcome::Applied) {
            if let Err(err) = txn.commit() {
                return fail_all(backend(err));
            }
        } else if let Err(err) = txn.abort() {
            return fail_all(backend(err));
        }
        outcomes.into_iter().map(Ok).collect()
    }
}

/// Checks and applies each of `sets` in `txn`, in order.
fn apply_in(txn: &WriteTransaction, sets: &[WriteSet]) -> Result<Vec<ApplyOutcome>, StoreError> {
    let mut records = txn.open_table(RECORDS).map_err(backend)?;
    let mut expires_at = txn.open_table(EXPIRES_AT).map_err(backend)?;
    let mut expiry = txn.open_table(EXPIRY).map_err(backend)?;
    let mut outcomes = Vec::with_capacity(sets.len());
    for writes in sets {
        // Every precondition against the state before the set.
        let mut holds = true;
        for op in &writes.ops {
            let current = records.get(op.key.as_str()).map_err(backend)?;
            if !expect_holds(&op.expect, current.as_ref().map(|g| g.value())) {
                holds = false;
                break;
            }
        }
        if holds {
            write_set(writes, &mut records, &mut expires_at, &mut expiry)?;
            outcomes.push(ApplyOutcome::Applied);
        } else {
            outcomes.push(ApplyOutcome::PreconditionFailed);
        }
    }
    Ok(outcomes)
}

/// The writes of one set whose preconditions hold.
fn write_set(
    writes: &WriteSet,
    records: &mut Table<'_, &'static str, &'static str>,
    expires_at: &mut Table<'_, &'static str, i64>,
    expiry: &mut Table<'_, (i64, &'static str), ()>,
) -> Result<(), StoreError> {
    for op in &writes.ops {
        let key = op.key.as_str();
        // The record's new expiry, when this op sets one.
        let new_expiry = match &op.action {
            WriteAction::Check => continue,
            WriteAction::Put { value, expires_at } => {
                records.insert(key, value.as_str()).map_err(backend)?;
                *expires_at
            }
            WriteAction::Delete => {
                records.remove(key).map_err(backend)?;
                None
            }
            WriteAction::Expire { expires_at } => {
                if records.get(key).map_err(backend)?.is_none() {
                    continue;
                }
                *expires_at
            }
        };
        let old = expires_at.remove(key).map_err(backend)?.map(|g| g.value());
        if let Some(old) = old {
            expiry.remove((old, key)).map_err(backend)?;
        }
        if let Some(when) = new_expiry {
            expires_at.insert(key, when).map_err(backend)?;
            expiry.insert((when, key), ()).map_err(backend)?;
        }
    }
    Ok(())
}

impl Store for RedbStore {
    /// A read transaction that opens the records table and reads one key
    /// that is never a record: the file is open and readable. It writes
    /// nothing (a write would cost an `fsync` per probe).
    fn ping(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let records = txn.open_table(RECORDS).map_err(backend)?;
        records.get(super::PING_KEY).map_err(backend)?;
        Ok(())
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let records = txn.open_table(RECORDS).map_err(backend)?;
        keys.iter()
            .map(|key| {
                let found = records.get(key.as_str()).map_err(backend)?;
                Ok(found.map(|guard| guard.value().to_owned()))
            })
            .collect()
    }

    fn scan_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let records = txn.open_table(RECORDS).map_err(backend)?;
        let start = after.unwrap_or(prefix);
        let mut out = Vec::new();
        for item in records.range(start..).map_err(backend)? {
            let (key, _) = item.map_err(backend)?;
            let key = key.value();
            if !key.starts_with(prefix) || out.len() == limit {
                break;
            }
            if Some(key) != after {
                out.push(key.to_owned());
            }
        }
        Ok(out)
    }

    fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let records = txn.open_table(RECORDS).map_err(backend)?;
        let expires_at = txn.open_table(EXPIRES_AT).map_err(backend)?;
        let mut out = Vec::new();
        for item in records.range(prefix..).map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            let expiry = expires_at.get(key).map_err(backend)?.map(|g| g.value());
            out.push(StoredRecord {
                key: key.to_owned(),
                value: value.value().to_owned(),
                expires_at: expiry,
            });
        }
        Ok(out)
    }

    fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, StoreError> {
        self.group.submit(writes, |sets| self.apply_batch(sets))
    }

    fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(backend)?;
        let purged;
        {
            let mut expiry = txn.open_table(EXPIRY).map_err(backend)?;
            let mut due: Vec<(i64, String)> = Vec::new();
            for item in expiry.iter().map_err(backend)? {
                let (entry, ()) = item.map(|(k, v)| (k, v.value())).map_err(backend)?;
                let (when, key) = entry.value();
                if when > now || due.len() >= limit {
                    break;
                }
                due.push((when, key.to_owned()));
            }
            let mut records = txn.open_table(RECORDS).map_err(backend)?;
            let mut expires_at = txn.open_table(EXPIRES_AT).map_err(backend)?;
            for (when, key) in &due {
                expiry.remove((*when, key.as_str())).map_err(backend)?;
                expires_at.remove(key.as_str()).map_err(backend)?;
                records.remove(key.as_str()).map_err(backend)?;
            }
            purged = due.len();
        }
        txn.commit().map_err(backend)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;
    use sessattr_core::protocol::Expect;

    fn open() -> (tempfile::TempDir, RedbStore) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(&tmp.path().join("s.redb")).expect("open");
        (tmp, store)
    }

    #[test]
    fn preconditions_are_atomic() {
        let (_tmp, store) = open();
        contract::preconditions_are_atomic(&store);
    }

    #[test]
    fn get_and_scan() {
        let (_tmp, store) = open();
        contract::get_and_scan(&store);
    }

    #[test]
    fn purges_expired() {
        let (_tmp, store) = open();
        contract::purges_expired(&store);
    }

    #[test]
    fn scan_records_carry_expiry() {
        let (_tmp, store) = open();
        contract::scan_records_carry_expiry(&store, 0);
    }

    #[test]
    fn scan_keys_pages_in_key_order() {
        let (_tmp, store) = open();
        contract::scan_keys_pages_in_key_order(&store);
    }

    #[test]
    fn expire_and_check() {
        let (_tmp, store) = open();
        contract::expire_and_check(&store, 0);
    }

    #[test]
    fn a_batch_applies_each_set_against_what_the_earlier_ones_left() {
        let (_tmp, store) = open();
        let sets = [
            contract::set(vec![contract::put("k", "1", None, Expect::Absent)]),
            contract::set(vec![contract::put(
                "k",
                "2",
                None,
                Expect::Value("1".into()),
            )]),
            // Lost: `k` is no longer absent; nothing of this set is written.
            contract::set(vec![
                contract::put("j", "x", None, Expect::Absent),
                contract::put("k", "3", None, Expect::Absent),
            ]),
            contract::set(vec![contract::put("i", "y", Some(7), Expect::Absent)]),
        ];
        let outcomes: Vec<ApplyOutcome> = store
            .apply_batch(&sets)
            .into_iter()
            .map(|r| r.expect("no store failure"))
            .collect();
        use ApplyOutcome::{Applied, PreconditionFailed};
        assert_eq!(outcomes, [Applied, Applied, PreconditionFailed, Applied]);
        let keys = ["k".to_owned(), "j".to_owned(), "i".to_owned()];
        assert_eq!(
            store.get_many(&keys).expect("get"),
            vec![Some("2".into()), None, Some("y".into())]
        );
        assert_eq!(store.purge_expired(7, 10).expect("purge"), 1);
    }

    #[test]
    fn concurrent_creates_of_one_key_through_group_commit_let_exactly_one_win() {
        let (_tmp, store) = open();
        let store = std::sync::Arc::new(store);
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    let mine = contract::set(vec![
                        contract::put("same", &format!("v{i}"), None, Expect::Absent),
                        contract::put(&format!("own-{i}"), "x", None, Expect::Absent),
                    ]);
                    store.apply(&mine).expect("apply")
                })
            })
            .collect();
        let outcomes: Vec<ApplyOutcome> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let winners: Vec<usize> = (0..32)
            .filter(|&i| outcomes[i] == ApplyOutcome::Applied)
            .collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        // The winner's whole set was written, and nothing of the losers'.
        let won = winners[0];
        let same = store.get_many(&["same".into()]).expect("get");
        assert_eq!(same, vec![Some(format!("v{won}"))]);
        for i in 0..32 {
            let own = store.get_many(&[format!("own-{i}")]).expect("get");
            assert_eq!(own[0].is_some(), i == won, "own-{i}");
        }
    }

    #[test]
    fn data_survives_reopening() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("s.redb");
        {
            let store = RedbStore::open(&path).expect("open");
            let set = contract::set(vec![contract::put("k", "v", Some(5), Expect::Absent)]);
            assert_eq!(store.apply(&set).expect("apply"), ApplyOutcome::Applied);
        }
        let store = RedbStore::open(&path).expect("reopen");
        assert_eq!(
            store.get_many(&["k".into()]).expect("get"),
            vec![Some("v".into())]
        );
        assert_eq!(store.purge_expired(5, 10).expect("purge"), 1);
        assert_eq!(store.get_many(&["k".into()]).expect("get"), vec![None]);
    }
}
