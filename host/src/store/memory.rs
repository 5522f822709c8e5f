//! An in-memory store (tests).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use sessattr_core::protocol::{WriteAction, WriteSet};

use super::{ApplyOutcome, Store, StoreError, StoredRecord, expect_holds};

/// A record with its expiry.
#[derive(Debug, Clone)]
struct Entry {
    value: String,
    expires_at: Option<i64>,
}

/// A store in a `BTreeMap` behind a mutex; linearizable, not persistent.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Entry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, BTreeMap<String, Entry>>, StoreError> {
        self.map
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    /// Always answers, unless a writer panicked while holding the map.
    fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(drop)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let map = self.lock()?;
        Ok(keys
            .iter()
            .map(|k| map.get(k).map(|e| e.value.clone()))
            .collect())
    }

    fn scan_keys(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let map = self.lock()?;
        let start = after.unwrap_or(prefix).to_owned();
        Ok(map
            .range(start..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .filter(|k| Some(k.as_str()) != after)
            .take(limit)
            .cloned()
            .collect())
    }

    fn scan_records(&self, prefix: &str) -> Result<Vec<StoredRecord>, StoreError> {
        let map = self.lock()?;
        Ok(map
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, e)| StoredRecord {
                key: k.clone(),
                value: e.value.clone(),
                expires_at: e.expires_at,
            })
            .collect())
    }

    fn apply(&self, writes: &WriteSet) -> Result<ApplyOutcome, StoreError> {
        let mut map = self.lock()?;
        let all_hold = writes
            .ops
            .iter()
            .all(|op| expect_holds(&op.expect, map.get(&op.key).map(|e| e.value.as_str())));
        if !all_hold {
            return Ok(ApplyOutcome::PreconditionFailed);
        }
        for op in &writes.ops {
            match &op.action {
                WriteAction::Put { value, expires_at } => {
                    map.insert(
                        op.key.clone(),
                        Entry {
                            value: value.clone(),
                            expires_at: *expires_at,
                        },
                    );
                }
                WriteAction::Delete => {
                    map.remove(&op.key);
                }
                WriteAction::Expire { expires_at } => {
                    if let Some(entry) = map.get_mut(&op.key) {
                        entry.expires_at = *expires_at;
                    }
                }
                WriteAction::Check => {}
            }
        }
        Ok(ApplyOutcome::Applied)
    }

    fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let mut map = self.lock()?;
        let mut due: Vec<(i64, String)> = map
            .iter()
            .filter_map(|(k, e)| e.expires_at.filter(|&t| t <= now).map(|t| (t, k.clone())))
            .collect();
        due.sort();
        due.truncate(limit);
        for (_, key) in &due {
            map.remove(key);
        }
        Ok(due.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;

    #[test]
    fn preconditions_are_atomic() {
        contract::preconditions_are_atomic(&MemoryStore::new());
    }

    #[test]
    fn get_and_scan() {
        contract::get_and_scan(&MemoryStore::new());
    }

    #[test]
    fn purges_expired() {
        contract::purges_expired(&MemoryStore::new());
    }

    #[test]
    fn scan_records_carry_expiry() {
        contract::scan_records_carry_expiry(&MemoryStore::new(), 0);
    }

    #[test]
    fn scan_keys_pages_in_key_order() {
        contract::scan_keys_pages_in_key_order(&MemoryStore::new());
    }

    #[test]
    fn expire_and_check() {
        contract::expire_and_check(&MemoryStore::new(), 0);
    }
}
