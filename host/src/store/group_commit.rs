//! Group commit: write sets that arrive while a commit is in progress are
//! applied together in the next transaction, so that N concurrent writers
//! pay for one durable commit (one `fsync`) instead of N.
//!
//! The first submitter becomes the leader: it takes every queued set,
//! runs the batch, hands each submitter its own result and wakes them;
//! whoever then still waits with a queued set leads the next batch. Sets
//! of one batch are applied in queue order, each against the state the
//! earlier ones left, exactly as if they had come one after another.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use sessattr_core::protocol::WriteSet;

use super::{ApplyOutcome, StoreError};

/// The result of one write set.
pub type Applied = Result<ApplyOutcome, StoreError>;

/// The queue of write sets waiting for the next commit.
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    next_ticket: u64,
    queued: Vec<(u64, WriteSet)>,
    results: HashMap<u64, Applied>,
    leading: bool,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Queues `writes` and waits for its result; `run_batch` applies a
    /// batch in one transaction and answers one result per set, in order
    /// (it runs on whichever submitter leads that batch).
    pub fn submit(
        &self,
        writes: &WriteSet,
        run_batch: impl Fn(&[WriteSet]) -> Vec<Applied>,
    ) -> Applied {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queued.push((ticket, writes.clone()));
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.leading {
                state = self
                    .finished
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.leading = true;
            let (tickets, sets): (Vec<u64>, Vec<WriteSet>) =
                std::mem::take(&mut state.queued).into_iter().unzip();
            drop(state);
            let mut lead = Leader {
                group: self,
                tickets,
                results: None,
            };
            lead.results = Some(run_batch(&sets));
            drop(lead);
            state = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A batch being led: hands out its results when dropped, also when the
/// batch panicked (every set of it then fails, as none was committed).
struct Leader<'a> {
    group: &'a GroupCommit,
    tickets: Vec<u64>,
    results: Option<Vec<Applied>>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut results = self.results.take().unwrap_or_default().into_iter();
        let mut state = self.group.lock();
        for ticket in self.tickets.drain(..) {
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Backend(
                    "the batch of this write set failed; nothing of it was written".into(),
                ))
            });
            state.results.insert(ticket, result);
        }
        state.leading = false;
        self.group.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sessattr_core::protocol::{Expect, WriteAction, WriteOp};

    use super::*;

    fn set(key: &str) -> WriteSet {
        WriteSet {
            ops: vec![WriteOp {
                key: key.into(),
                expect: Expect::Any,
                action: WriteAction::Delete,
            }],
        }
    }

    #[test]
    fn every_submitter_gets_its_own_result_and_concurrent_sets_share_batches() {
        let group = Arc::new(GroupCommit::default());
        let batches = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let (group, batches) = (Arc::clone(&group), Arc::clone(&batches));
                std::thread::spawn(move || {
                    (0..50)
                        .map(|j| {
                            let key = format!("k{i}-{j}");
                            let answer = group.submit(&set(&key), |sets| {
                                batches.fetch_add(1, Ordering::SeqCst);
                                // A commit takes time: the others queue up.
                                std::thread::sleep(std::time::Duration::from_millis(1));
                                sets.iter()
                                    .map(|s| {
                                        // Odd keys "fail" their precondition.
                                        let odd = s.ops[0].key.ends_with(['1', '3', '5', '7', '9']);
                                        Ok(if odd {
                                            ApplyOutcome::PreconditionFailed
                                        } else {
                                            ApplyOutcome::Applied
                                        })
                                    })
                                    .collect()
                            });
                            let odd = key.ends_with(['1', '3', '5', '7', '9']);
                            let want = if odd {
                                ApplyOutcome::PreconditionFailed
                            } else {
                                ApplyOutcome::Applied
                            };
                            assert_eq!(answer.expect("applied"), want, "{key}");
                        })
                        .count()
                })
            })
            .collect();
        let done: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_eq!(done, 800);
        let batches = batches.load(Ordering::SeqCst);
        assert!(batches < 800, "no set shared a batch ({batches} batches)");
    }

    #[test]
    fn a_panicking_batch_fails_its_sets_and_the_next_batch_runs() {
        let group = Arc::new(GroupCommit::default());
        let first = {
            let group = Arc::clone(&group);
            std::thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    group.submit(&set("a"), |_| panic!("the store broke"))
                }))
            })
        };
        assert!(
            first.join().expect("thread").is_err(),
            "the leader's panic goes on"
        );
        let next = group.submit(&set("b"), |sets| {
            sets.iter().map(|_| Ok(ApplyOutcome::Applied)).collect()
        });
        assert_eq!(next.expect("applied"), ApplyOutcome::Applied);
    }
}
