//! The nonce budget of each key (SPEC 4): every encryption draws a random
//! 96-bit nonce, so a key may seal at most [`DEFAULT_LIMIT`] (2^32) values
//! before the chance of a repeated nonce stops being negligible.
//!
//! Encryptions are counted **durably** in the store, under
//! `sa:keyuse:{KEY_ID}` (a decimal count), in reserved blocks: a host
//! reserves [`BLOCK`] encryptions at a time by raising the stored count
//! (compare-and-set, so several hosts on one store share it), then hands
//! them out to steps from memory. The stored count is therefore never below
//! the encryptions really made — it may be above by what running hosts hold
//! unspent (and by what a crashed host held). At half the limit every new
//! reservation logs a warning to rotate; at the limit nothing more is
//! reserved and steps get a budget of 0, so the module refuses to encrypt
//! (E008004) while everything else keeps working.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use sessattr_core::protocol::{Expect, WriteAction, WriteOp, WriteSet};

use crate::store::{ApplyOutcome, Store, StoreError};

/// Encryptions a key may make: 2^32.
pub const DEFAULT_LIMIT: u64 = 1 << 32;
/// Encryptions reserved in the store at a time.
pub const BLOCK: u64 = 1 << 16;
/// Prefix of the counters' keys.
pub const COUNTER_PREFIX: &str = "sa:keyuse:";
/// Attempts at raising a counter another host raises too.
const RESERVE_ATTEMPTS: usize = 64;

/// The store key of `key_id`'s counter.
pub fn counter_key(key_id: &str) -> String {
    format!("{COUNTER_PREFIX}{key_id}")
}

/// The stored count of `key_id`'s encryptions (0 when never counted).
pub fn stored_count(store: &dyn Store, key_id: &str) -> Result<u64, StoreError> {
    let [text] = read_counter(store, key_id)?;
    Ok(text.as_deref().map_or(0, parse_count))
}

fn read_counter(store: &dyn Store, key_id: &str) -> Result<[Option<String>; 1], StoreError> {
    let mut values = store.get_many(&[counter_key(key_id)])?;
    Ok([values.pop().flatten()])
}

/// A count as stored; an unreadable one counts as the limit (refuse rather
/// than risk reuse).
fn parse_count(text: &str) -> u64 {
    text.trim().parse().unwrap_or(u64::MAX)
}

/// The budgets of the keys this process encrypts with.
#[derive(Debug)]
pub struct NonceBudget {
    limit: u64,
    /// Reserved in the store and not yet handed out, per key id.
    available: Mutex<HashMap<String, u64>>,
    /// The keys whose refusal was logged (once per key and process).
    refusal_logged: Mutex<HashSet<String>>,
}

impl NonceBudget {
    /// Budgets refusing at `limit` encryptions per key (warning at half).
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            available: Mutex::new(HashMap::new()),
            refusal_logged: Mutex::new(HashSet::new()),
        }
    }

    /// Claims up to `wanted` encryptions of `key_id` for one step,
    /// reserving a block in `store` when this process holds too few. The
    /// grant may be smaller (0 at the limit).
    pub fn claim(
        &self,
        store: &dyn Store,
        key_id: &str,
        wanted: u32,
    ) -> Result<Claim<'_>, StoreError> {
        let mut available = self
            .available
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = available.entry(key_id.to_owned()).or_insert(0);
        if *held < u64::from(wanted) {
            *held += self.reserve(store, key_id, BLOCK.max(u64::from(wanted)))?;
        }
        let granted = u32::try_from((*held).min(u64::from(wanted))).unwrap_or(wanted);
        *held -= u64::from(granted);
        let first_refusal = granted == 0
            && wanted > 0
            && self
                .refusal_logged
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key_id.to_owned());
        if first_refusal {
            tracing::error!(
                key_id = %key_id,
                limit = self.limit,
                "key has reached its encryption limit: encrypting with it is refused (E008004) until a new key is promoted (logged once)"
            );
        }
        Ok(Claim {
            budget: self,
            key_id: key_id.to_owned(),
            granted,
            used: None,
        })
    }

    /// Raises the stored count of `key_id` by up to `amount` (never past
    /// the limit); answers by how much.
    fn reserve(&self, store: &dyn Store, key_id: &str, amount: u64) -> Result<u64, StoreError> {
        for _ in 0..RESERVE_ATTEMPTS {
            let [text] = read_counter(store, key_id)?;
            let count = text.as_deref().map_or(0, parse_count);
            let raised = count.saturating_add(amount).min(self.limit);
            if raised <= count {
                return Ok(0);
            }
            let expect = text.map_or(Expect::Absent, Expect::Value);
            let writes = WriteSet {
                ops: vec![WriteOp {
                    key: counter_key(key_id),
                    action: WriteAction::Put {
                        value: raised.to_string(),
                        expires_at: None,
                    },
                    expect,
                }],
            };
            if store.apply(&writes)? == ApplyOutcome::Applied {
                if raised >= self.limit / 2 {
                    tracing::warn!(
                        key_id = %key_id,
                        encryptions = raised,
                        limit = self.limit,
                        "key has made half or more of its encryption limit: rotate keys (sessattr keys generate, promote, rotate)"
                    );
                }
                return Ok(raised - count);
            }
        }
        Err(StoreError::Backend(format!(
            "the encryption counter of key {key_id} kept changing"
        )))
    }

    /// Hands every reserved but unspent encryption back to the store's
    /// counts (at a clean shutdown), so that they show what was made. A
    /// count is only ever lowered by what this process reserved itself.
    pub fn release(&self, store: &dyn Store) -> Result<(), StoreError> {
        let mut available = self
            .available
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key_id, held) in available.iter_mut() {
            if *held == 0 {
                continue;
            }
            for _ in 0..RESERVE_ATTEMPTS {
                let [text] = read_counter(store, key_id)?;
                let Some(text) = text else { break };
                let lowered = parse_count(&text).saturating_sub(*held);
                let writes = WriteSet {
                    ops: vec![WriteOp {
                        key: counter_key(key_id),
                        action: WriteAction::Put {
                            value: lowered.to_string(),
                            expires_at: None,
                        },
                        expect: Expect::Value(text),
                    }],
                };
                if store.apply(&writes)? == ApplyOutcome::Applied {
                    *held = 0;
                    break;
                }
            }
        }
        Ok(())
    }

    fn give_back(&self, key_id: &str, amount: u64) {
        if amount == 0 {
            return;
        }
        let mut available = self
            .available
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *available.entry(key_id.to_owned()).or_insert(0) += amount;
    }
}

/// Encryptions granted to one step. Unless [`Claim::settle`] says how many
/// were made, all of them count as made.
#[derive(Debug)]
pub struct Claim<'a> {
    budget: &'a NonceBudget,
    key_id: String,
    granted: u32,
    used: Option<u32>,
}

impl Claim<'_> {
    /// How many the step may make.
    pub fn granted(&self) -> u32 {
        self.granted
    }

    /// Records that the step made `used` encryptions; the rest go back.
    pub fn settle(mut self, used: u32) {
        self.used = Some(used.min(self.granted));
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(used) = self.used {
            self.budget
                .give_back(&self.key_id, u64::from(self.granted - used));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn reserves_blocks_durably_and_hands_back_what_was_not_used() {
        let store = MemoryStore::new();
        let budget = NonceBudget::new(DEFAULT_LIMIT);
        let claim = budget.claim(&store, "k1", 1000).expect("claim");
        assert_eq!(claim.granted(), 1000);
        assert_eq!(stored_count(&store, "k1").expect("count"), BLOCK);
        claim.settle(1);
        // 100 more steps of one encryption each reserve nothing new.
        for _ in 0..100 {
            budget.claim(&store, "k1", 1000).expect("claim").settle(1);
        }
        assert_eq!(stored_count(&store, "k1").expect("count"), BLOCK);
    }

    #[test]
    fn stops_at_the_limit_and_never_counts_below_what_was_made() {
        let store = MemoryStore::new();
        let budget = NonceBudget::new(10);
        let mut made = 0;
        for _ in 0..30 {
            let claim = budget.claim(&store, "k1", 1000).expect("claim");
            let used = claim.granted().min(1);
            made += used;
            claim.settle(used);
            assert!(stored_count(&store, "k1").expect("count") >= u64::from(made));
        }
        assert_eq!(made, 10);
        assert_eq!(
            budget.claim(&store, "k1", 1000).expect("claim").granted(),
            0
        );
    }

    #[test]
    fn release_lowers_the_count_to_what_was_made() {
        let store = MemoryStore::new();
        let budget = NonceBudget::new(DEFAULT_LIMIT);
        for _ in 0..3 {
            budget.claim(&store, "k1", 1000).expect("claim").settle(1);
        }
        let other = NonceBudget::new(DEFAULT_LIMIT);
        other.claim(&store, "k1", 1000).expect("claim").settle(2);
        budget.release(&store).expect("release");
        assert_eq!(stored_count(&store, "k1").expect("count"), BLOCK + 3);
        other.release(&store).expect("release");
        assert_eq!(stored_count(&store, "k1").expect("count"), 5);
    }

    #[test]
    fn an_unsettled_claim_counts_as_spent_and_a_new_process_continues_from_the_store() {
        let store = MemoryStore::new();
        let first = NonceBudget::new(100);
        drop(first.claim(&store, "k1", 60).expect("claim"));
        // Another process (or this one after a restart) shares the count.
        let second = NonceBudget::new(100);
        assert_eq!(second.claim(&store, "k1", 60).expect("claim").granted(), 0);
        assert_eq!(stored_count(&store, "k1").expect("count"), 100);
    }
}
