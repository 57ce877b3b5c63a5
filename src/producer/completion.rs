//! One completion per batch: its outcome, the callbacks of its records, and
//! every waiter of every handle into it (P4 in `crate::implementation`).
//!
//! The flusher completes a batch once: it runs the records' callbacks in
//! record order (Kafka's order: callbacks first, so a thread that sees a handle
//! done also sees what its callback did), then stores the outcome, marks the
//! batch done, and wakes every blocked thread and every registered task waker.

use std::task::Waker;
use std::time::{Duration, Instant};

/// Longest single wait on the condvar before re-checking.
const POLL: Duration = Duration::from_secs(1);

use super::batch::Sealed;
use super::delivery::{Callback, DeliveryError, DeliveryResult, FailedRecord, RecordMetadata};
use super::error::ProducerError;
use super::user_code::run_user_code;
use crate::sync::{wait_until, AtomicBool, AtomicPtr, Condvar, Mutex, Ordering};

/// How a batch ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// In the log (or sent with `acks=0`: offsets unknown).
    Appended {
        partition: u32,
        base_offset: Option<u64>,
        timestamp_ms: Option<i64>,
        duplicate: bool,
    },
    /// Failed: the records are handed back with the error.
    Failed {
        topic: std::sync::Arc<str>,
        partition: u32,
        error: ProducerError,
        sealed: Sealed,
    },
}

/// A failed record's key and value, copied out of its batch.
pub(crate) type RecordBytes = (Option<bytes::Bytes>, bytes::Bytes);

/// A delivery callback waiting for its batch, in a push-only list.
struct CallbackNode {
    index: u32,
    callback: Callback,
    next: *mut CallbackNode,
}

/// The waiters' side, under the mutex.
#[derive(Default)]
struct Waiters {
    /// Set (with `done`) when the batch completes.
    complete: bool,
    /// One slot per pending handle that was polled (its latest waker), so a
    /// handle polled by many tasks in turn holds one, and a dropped one none.
    wakers: Vec<Option<Waker>>,
    /// Slots of `wakers` that are free again.
    free: Vec<usize>,
}

/// The completion of one batch (see the module comment).
pub(crate) struct Completion {
    /// The producer, for [`run_user_code`].
    owner: u64,
    /// Set by the one thread that completes the batch.
    claimed: AtomicBool,
    /// The outcome, set once by the completer before `done`.
    outcome: std::sync::OnceLock<Outcome>,
    /// The outcome is stored (set once, after it is).
    done: AtomicBool,
    waiters: Mutex<Waiters>,
    done_cv: Condvar,
    /// Callbacks of the batch's records (a Treiber stack: pushed by senders,
    /// taken once by the completer).
    callbacks: AtomicPtr<CallbackNode>,
}

// SAFETY: the raw `CallbackNode` pointers are owned by the stack: pushed by
// one thread, taken by one thread (the completer, or `Drop`), and a
// `Callback` is `Send`.
unsafe impl Send for Completion {}
// SAFETY: as above; every shared access goes through atomics or the mutex.
unsafe impl Sync for Completion {}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("done", &self.is_done())
            .finish()
    }
}

impl Completion {
    pub(crate) fn new(owner: u64) -> Self {
        Self {
            owner,
            claimed: AtomicBool::new(false),
            outcome: std::sync::OnceLock::new(),
            done: AtomicBool::new(false),
            waiters: Mutex::new(Waiters::default()),
            done_cv: Condvar::new(),
            callbacks: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    pub(crate) fn owner(&self) -> u64 {
        self.owner
    }

    /// Registers the callback of record `index` (before the record is
    /// counted as written, so the completer finds it: P1, P4).
    pub(crate) fn push_callback(&self, index: u32, callback: Callback) {
        let node = Box::into_raw(Box::new(CallbackNode {
            index,
            callback,
            next: std::ptr::null_mut(),
        }));
        // Relaxed: the CAS below decides.
        let mut head = self.callbacks.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the CAS publishes it.
            unsafe { (*node).next = head };
            // Release: pairs with the Acquire swap in `take_callbacks`: the
            // completer sees the node's fields.
            match self.callbacks.compare_exchange_weak(
                head,
                node,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Takes every registered callback, in record order.
    fn take_callbacks(&self) -> Vec<(u32, Callback)> {
        // Acquire: pairs with the Release CAS in `push_callback`.
        let mut node = self.callbacks.swap(std::ptr::null_mut(), Ordering::Acquire);
        let mut taken = Vec::new();
        while !node.is_null() {
            // SAFETY: the swap made the whole list ours; each node came from
            // `Box::into_raw` and is freed once, here.
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next;
            taken.push((boxed.index, boxed.callback));
        }
        taken.sort_unstable_by_key(|(index, _)| *index);
        taken
    }

    /// Completes the batch with `outcome`; `failed` turns record `index` into
    /// the record handed back on failure. Only the first call acts; returns
    /// whether this one did. `marked` runs under the waiters mutex once the
    /// batch is marked complete, before `done` is stored: the producer's
    /// pending-batch count is released there (P9), so a thread that sees
    /// `done` sees the count without this batch, and one that sees the count
    /// without it and then takes the mutex (`is_done`'s slow path) sees the
    /// batch complete.
    pub(crate) fn complete(
        &self,
        outcome: Outcome,
        failed: impl Fn(Sealed, u32) -> Option<RecordBytes>,
        marked: impl FnOnce(),
    ) -> bool {
        // AcqRel: one completer wins; the loser does nothing.
        if self.claimed.swap(true, Ordering::AcqRel) {
            return false;
        }
        for (index, callback) in self.take_callbacks() {
            let result = result_of(&outcome, index, &failed);
            // A panicking callback is caught: the flusher and the other
            // records' completions go on.
            let _panicked = run_user_code(self.owner, move || callback(result));
        }
        // Only the claimer sets it, once (a second `set` cannot happen).
        let _first = self.outcome.set(outcome);
        let wakers = {
            let mut waiters = self.waiters.lock();
            waiters.complete = true;
            marked();
            // Release: pairs with the Acquire load in `is_done`: a thread that
            // sees `done` finds the outcome set.
            self.done.store(true, Ordering::Release);
            waiters.free = Vec::new();
            std::mem::take(&mut waiters.wakers)
        };
        // After the mutex: a waiter that checked before we stored is parked on
        // the condvar by now (it held the mutex from its check to its wait).
        self.done_cv.notify_all();
        for waker in wakers.into_iter().flatten() {
            // A waker is user code too (an executor's): same protection.
            let _panicked = run_user_code(self.owner, move || waker.wake());
        }
        true
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // Not done yet by the flag: ask under the mutex, where `complete` is
        // set before `marked` runs (P9: a thread that learned of the
        // completion from the pending count finds it here).
        self.done_seen() || self.waiters.lock().complete
    }

    /// The lock-free half of `is_done`, for loops that poll it (a waiter's
    /// spin) and end under the mutex anyway.
    #[inline]
    pub(crate) fn done_seen(&self) -> bool {
        // Acquire: pairs with the Release store in `complete`.
        self.done.load(Ordering::Acquire)
    }

    /// The result of record `index`, if the batch is done (no lock).
    #[inline]
    pub(crate) fn result(
        &self,
        index: u32,
        failed: impl Fn(Sealed, u32) -> Option<RecordBytes>,
    ) -> Option<DeliveryResult> {
        if !self.is_done() {
            return None;
        }
        self.outcome
            .get()
            .map(|outcome| result_of(outcome, index, &failed))
    }

    /// Blocks until done or `deadline` (`None`: no limit); true if done.
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let waiters = self.waiters.lock();
        wait_until(&self.done_cv, waiters, deadline, POLL, |w| w.complete)
    }

    /// Registers `waker` for a handle unless the batch is done (then returns
    /// `None`): in the handle's own slot `slot` if it has one (replacing the
    /// waker it registered before unless that one `will_wake` the same task),
    /// else in a new one, whose number it returns. One slot per handle, so
    /// every task awaiting a clone is woken, and a handle polled by many tasks
    /// in turn keeps only the last one's waker.
    pub(crate) fn register(&self, slot: Option<usize>, waker: &Waker) -> Option<usize> {
        let mut waiters = self.waiters.lock();
        if waiters.complete {
            return None;
        }
        if let Some(known) = slot.and_then(|slot| waiters.wakers.get_mut(slot)) {
            if !known.as_ref().is_some_and(|known| known.will_wake(waker)) {
                *known = Some(waker.clone());
            }
            return slot;
        }
        let slot = match waiters.free.pop() {
            Some(free) => {
                waiters.wakers[free] = Some(waker.clone());
                free
            }
            None => {
                waiters.wakers.push(Some(waker.clone()));
                waiters.wakers.len() - 1
            }
        };
        Some(slot)
    }

    /// Forgets the waker a dropped handle registered in `slot`.
    pub(crate) fn deregister(&self, slot: usize) {
        let mut waiters = self.waiters.lock();
        if let Some(known) = waiters.wakers.get_mut(slot) {
            if known.take().is_some() {
                waiters.free.push(slot);
            }
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        // Callbacks of a batch dropped uncompleted (a send that failed after
        // registering none cannot leave any; this frees what a panic left).
        drop(self.take_callbacks());
    }
}

/// Record `index`'s result under `outcome`.
#[inline]
fn result_of(
    outcome: &Outcome,
    index: u32,
    failed: &impl Fn(Sealed, u32) -> Option<RecordBytes>,
) -> DeliveryResult {
    match outcome {
        Outcome::Appended {
            partition,
            base_offset,
            timestamp_ms,
            duplicate,
        } => Ok(RecordMetadata {
            partition: *partition,
            offset: base_offset.map(|base| base + u64::from(index)),
            timestamp_ms: *timestamp_ms,
            duplicate: *duplicate,
        }),
        Outcome::Failed {
            topic,
            partition,
            error,
            sealed,
        } => Err(DeliveryError::new(
            error.clone(),
            failed(*sealed, index).map(|(key, value)| FailedRecord {
                topic: std::sync::Arc::clone(topic),
                partition: Some(*partition),
                key,
                value,
            }),
        )),
    }
}
