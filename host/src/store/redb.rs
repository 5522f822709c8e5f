//! The default store: one redb file (`sessattr.redb`).
//!
//! Tables:
//! * `records`: key → record, the data itself;
//! * `expires_at`: key → unix micros, for records written with an expiry;
//! * `expiry`: (unix micros, key) → (), the same in time order, so that a
//!   sweeper finds due records without scanning everything.
//!
//! Each write set is one write transaction with a durable commit. The file is
//! opened in redb's multi-writer mode, so `sessattr user add` can run beside a
//! running server.

use std::fmt::Display;
use std::path::Path;

use redb::{
    ConcurrencyMode, Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition,
};
use sessattr_core::protocol::{WriteAction, WriteSet};

use super::{ApplyOutcome, Store, StoreError, StoredRecord, expect_holds};

const RECORDS: TableDefinition<&str, &str> = TableDefinition::new("records");
const EXPIRES_AT: TableDefinition<&str, i64> = TableDefinition::new("expires_at");
const EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("expiry");

/// A store in a redb file.
pub struct RedbStore {
    db: Database,
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
        let store = Self { db };
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
}

impl Store for RedbStore {
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
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut records = txn.open_table(RECORDS).map_err(backend)?;
            // Every precondition against the state before the set.
            for op in &writes.ops {
                let current = records.get(op.key.as_str()).map_err(backend)?;
                let holds = expect_holds(&op.expect, current.as_ref().map(|g| g.value()));
                if !holds {
                    drop(current);
                    drop(records);
                    txn.abort().map_err(backend)?;
                    return Ok(ApplyOutcome::PreconditionFailed);
                }
            }
            let mut expires_at = txn.open_table(EXPIRES_AT).map_err(backend)?;
            let mut expiry = txn.open_table(EXPIRY).map_err(backend)?;
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
        }
        txn.commit().map_err(backend)?;
        Ok(ApplyOutcome::Applied)
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
