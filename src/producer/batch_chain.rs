//! One partition's batches, oldest first: a lock-free singly linked chain
//! (a Michael-Scott queue whose last node is the open batch).
//!
//! Sending threads append records to the last batch; one that does not fit
//! seals it and links a new batch after it (P2 in `crate::implementation`).
//! The flusher alone walks the chain from its cursor, takes sealed (or
//! lingered) batches, and retires the nodes it has passed through
//! crossbeam-epoch. A closing flusher links a terminator after the last batch,
//! after which every append fails with `Closed` (P3).

use super::batch::{ProducerBatch, Sealed, SealedBatch};
use super::delivery::{Callback, DeliveryHandle};
use crate::log::batch::encoded_len;
use crate::record::RecordRef;
use crate::sync::{pin, AtomicPtr, Ordering};
// std's Arc for batches even under loom: retired chain nodes are dropped
// through the epoch, which the loom facade leaks (sync.rs), and loom's Arc
// would report that leak; the models check the chain's atomics instead.
use std::sync::Arc;

/// What one append attempt did.
pub(crate) enum AppendStep {
    /// The record is in; `opened` if this thread linked the batch it went into.
    Done {
        handle: DeliveryHandle,
        opened: bool,
    },
    /// The open batch is full: come back with a new (unlinked) batch able to
    /// hold the record.
    NeedBatch,
    /// The chain is terminated: the producer closed.
    Closed,
}

/// One partition's chain (see the module comment).
pub(crate) struct BatchChain {
    /// The last node, or one a little before it (senders help it forward).
    /// Never null, never a retired node (P2).
    tail: AtomicPtr<ProducerBatch>,
    /// The flusher's cursor: the last node it took. Written by the flusher only.
    head: AtomicPtr<ProducerBatch>,
}

impl BatchChain {
    /// A chain holding just a start sentinel.
    pub(crate) fn new(owner: u64) -> Self {
        let start = Arc::into_raw(Arc::new(ProducerBatch::sentinel(0, false, owner))).cast_mut();
        Self {
            tail: AtomicPtr::new(start),
            head: AtomicPtr::new(start),
        }
    }

    /// Moves `tail` from `from` to `to` if nobody did yet.
    fn help(&self, from: *mut ProducerBatch, to: *mut ProducerBatch) {
        // Release: pairs with the Acquire loads of `tail` in `append`; the
        // node was published by its `link` already, this only forwards.
        let _ = self
            .tail
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed);
    }

    /// Appends `record` to the open batch (the sender's side). `spare` is an
    /// unlinked batch this thread made for a previous `NeedBatch`; it is
    /// linked when needed, or left in `spare` for the caller to recycle.
    /// `callback` is taken when the record goes in.
    pub(crate) fn append(
        &self,
        record: RecordRef<'_>,
        callback: &mut Option<Callback>,
        spare: &mut Option<Arc<ProducerBatch>>,
    ) -> AppendStep {
        // P2: while pinned, no node reachable from `tail` is freed.
        let _guard = pin();
        let mut opened = false;
        loop {
            // Acquire: pairs with the Release CAS in `help` and the AcqRel
            // `link`: the node's fields are visible.
            let tail_ptr = self.tail.load(Ordering::Acquire);
            // SAFETY: P2: `tail` never points to a retired node, and we are
            // pinned, so the node outlives this borrow.
            let tail = unsafe { &*tail_ptr };
            let next = tail.next_ptr();
            if !next.is_null() {
                self.help(tail_ptr, next);
                continue;
            }
            let appended = tail.try_append(record, |index| {
                if let Some(callback) = callback.take() {
                    tail.completion.push_callback(index, callback);
                }
            });
            if let Some(index) = appended {
                // SAFETY: the chain holds a reference to the node (it is not
                // retired, P2), so the count is at least 1 while we add ours.
                let batch = unsafe {
                    Arc::increment_strong_count(tail_ptr);
                    Arc::from_raw(tail_ptr)
                };
                return AppendStep::Done {
                    handle: DeliveryHandle::new(batch, index),
                    opened,
                };
            }
            if tail.is_terminal() {
                return AppendStep::Closed;
            }
            let Some(mut batch) = spare
                .take()
                .filter(|batch| batch.capacity() >= encoded_len(record))
            else {
                return AppendStep::NeedBatch;
            };
            if let Some(unshared) = Arc::get_mut(&mut batch) {
                unshared.set_ordinal(tail.ordinal() + 1);
            }
            let raw = Arc::into_raw(batch).cast_mut();
            tail.seal();
            if tail.link(raw) {
                // The chain now owns the reference `into_raw` gave up.
                self.help(tail_ptr, raw);
                opened = true;
            } else {
                // SAFETY: the link failed, so `raw` was never shared: take
                // back the reference `into_raw` gave up.
                *spare = Some(unsafe { Arc::from_raw(raw) });
            }
        }
    }

    /// The ordinal of the last batch linked now (0: none yet).
    pub(crate) fn last_ordinal(&self) -> u64 {
        // P2: pinned while we walk.
        let _guard = pin();
        // Acquire: as in `append`.
        let mut node = self.tail.load(Ordering::Acquire);
        loop {
            // SAFETY: P2, as in `append`: `tail` and every node linked after
            // it are live while we are pinned.
            let next = unsafe { &*node }.next_ptr();
            if next.is_null() {
                // SAFETY: as above.
                return unsafe { &*node }.ordinal();
            }
            node = next;
        }
    }

    /// The batch after the flusher's cursor, if one is linked (flusher only).
    pub(crate) fn peek(&self) -> Option<&ProducerBatch> {
        // Relaxed: only the flusher writes `head` (this thread).
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: the cursor node is never retired while it is the cursor
        // (only `advance` retires, and it retires the old cursor).
        let next = unsafe { &*head }.next_ptr();
        // SAFETY: a linked node is owned by the chain until the cursor passes
        // it, which only this thread does.
        (!next.is_null()).then(|| unsafe { &*next })
    }

    /// Moves the cursor to the next batch and retires the old cursor node;
    /// returns the new cursor as a counted reference (flusher only; `peek`
    /// must have returned `Some`).
    fn advance(&self) -> Option<Arc<ProducerBatch>> {
        // Relaxed: only the flusher writes `head`.
        let old = self.head.load(Ordering::Relaxed);
        // SAFETY: as in `peek`.
        let next = unsafe { &*old }.next_ptr();
        if next.is_null() {
            return None;
        }
        // Relaxed: read by this thread and by `Drop`, which has `&mut self`.
        self.head.store(next, Ordering::Relaxed);
        // P2: `tail` must not point at the node we retire.
        self.help(old, next);
        // SAFETY: the chain holds a reference to `next` (count >= 1).
        let taken = unsafe {
            Arc::increment_strong_count(next);
            Arc::from_raw(next)
        };
        let retired = SendPtr(old);
        pin().defer(move || {
            let old = retired.into_inner();
            // SAFETY: P2: no thread pinned after `help` can reach `old`
            // (neither `tail` nor any live node's `next` points to it), and
            // the epoch waits out those pinned before: the chain's reference
            // is dropped once.
            drop(unsafe { Arc::from_raw(old) });
        });
        Some(taken)
    }

    /// Takes the next batch off the chain if it is due (flusher only): sealed
    /// by a sender, or `due` says so (linger over, flush, close). Sentinels
    /// are passed over. `Err(())` means a due batch still has records being
    /// written: try again shortly.
    pub(crate) fn take(&self, due: impl Fn(&ProducerBatch) -> bool) -> Result<Taken, ()> {
        loop {
            let Some(next) = self.peek() else {
                return Ok(Taken::Nothing);
            };
            if next.is_sentinel() {
                let terminal = next.is_terminal();
                drop(self.advance());
                if terminal {
                    return Ok(Taken::Terminated);
                }
                continue;
            }
            if !next.is_sealed() && !due(next) {
                return Ok(Taken::NotDue);
            }
            let sealed: Sealed = next.seal();
            if !next.fully_written(sealed) {
                return Err(());
            }
            let Some(batch) = self.advance() else {
                return Ok(Taken::Nothing);
            };
            return Ok(Taken::Batch(SealedBatch { batch, sealed }));
        }
    }

    /// Seals the chain for good (flusher only, once it took everything):
    /// links a terminator after the cursor. False if a batch was linked
    /// first: take it and try again.
    pub(crate) fn terminate(&self, owner: u64) -> bool {
        // Relaxed: only the flusher writes `head`.
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: as in `peek`.
        let cursor = unsafe { &*head };
        if cursor.is_terminal() {
            return true;
        }
        let terminator = ProducerBatch::sentinel(cursor.ordinal() + 1, true, owner);
        let raw = Arc::into_raw(Arc::new(terminator)).cast_mut();
        cursor.seal();
        if cursor.link(raw) {
            self.help(head, raw);
            drop(self.advance());
            true
        } else {
            // SAFETY: never shared (the link failed).
            drop(unsafe { Arc::from_raw(raw) });
            false
        }
    }
}

/// What [`BatchChain::take`] found.
pub(crate) enum Taken {
    /// A batch to send.
    Batch(SealedBatch),
    /// The next batch is still open and not due.
    NotDue,
    /// No batch after the cursor.
    Nothing,
    /// The chain is terminated (nothing more will come).
    Terminated,
}

/// A node pointer moved into the epoch's deferred drop.
struct SendPtr(*mut ProducerBatch);
// SAFETY: the pointer is an `Arc<ProducerBatch>` reference given up by the
// chain, and `ProducerBatch` is `Send + Sync`.
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so a closure captures the whole `SendPtr`).
    fn into_inner(self) -> *mut ProducerBatch {
        self.0
    }
}

impl Drop for BatchChain {
    fn drop(&mut self) {
        // `&mut self`: no sender or flusher uses the chain any more; free
        // every node from the cursor on (the ones before were retired).
        // Relaxed: `&mut self` orders everything before.
        let mut node = self.head.load(Ordering::Relaxed);
        while !node.is_null() {
            // SAFETY: each node from the cursor on holds one chain reference,
            // dropped once here.
            let owned = unsafe { Arc::from_raw(node) };
            node = owned.next_ptr();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The chain's unsafe code under concurrent senders (also run by Miri).
    use super::*;
    use crate::producer::buffer_pool::BufferPool;

    const OWNER: u64 = 7;

    fn batch(pool: &BufferPool, len: usize) -> Arc<ProducerBatch> {
        let area = pool.take(len, true, || false, || ()).unwrap();
        Arc::new(ProducerBatch::new(area, 0, 0, 1_000, OWNER))
    }

    /// Appends `value` from this thread, opening batches from `pool` as needed.
    fn append(chain: &BatchChain, pool: &BufferPool, value: &[u8]) -> DeliveryHandle {
        let record = RecordRef::new(value);
        let mut spare = None;
        loop {
            match chain.append(record, &mut None, &mut spare) {
                AppendStep::Done { handle, .. } => return handle,
                AppendStep::NeedBatch => spare = Some(batch(pool, encoded_len(record))),
                AppendStep::Closed => panic!("closed"),
            }
        }
    }

    #[test]
    fn concurrent_senders_fill_batches_in_order_and_the_flusher_takes_every_record() {
        // 24-byte batches hold two 4-byte records (8 + 4 bytes each).
        let pool = BufferPool::new(1 << 20, 24, 0);
        let chain = BatchChain::new(OWNER);
        let per_thread = if cfg!(miri) { 6 } else { 200 };
        let taken = std::thread::scope(|scope| {
            for t in 0..2u8 {
                let (chain, pool) = (&chain, &pool);
                scope.spawn(move || {
                    for i in 0..per_thread {
                        let _handle = append(chain, pool, &[t, i as u8, 0, 0]);
                    }
                });
            }
            let mut taken = Vec::new();
            while taken.iter().map(|b: &SealedBatch| b.len()).sum::<u64>() < 2 * per_thread as u64 {
                match chain.take(|_| true) {
                    Ok(Taken::Batch(batch)) => taken.push(batch),
                    Ok(_) | Err(()) => std::thread::yield_now(),
                }
            }
            taken
        });
        let mut next = [0u8; 2];
        let mut ordinal = 0;
        for batch in &taken {
            assert!(batch.batch.ordinal() > ordinal, "chain order");
            ordinal = batch.batch.ordinal();
            for record in batch.records().iter() {
                let (t, i) = (record.value[0] as usize, record.value[1]);
                assert_eq!(i, next[t], "each sender's records in its order");
                next[t] += 1;
            }
        }
        assert_eq!(next, [per_thread as u8; 2]);
        assert!(chain.terminate(OWNER));
        assert!(matches!(
            chain.append(RecordRef::new(b"late"), &mut None, &mut None),
            AppendStep::Closed
        ));
    }

    #[test]
    fn callbacks_are_run_once_in_record_order_and_handles_see_the_outcome() {
        let pool = BufferPool::new(1 << 20, 1024, 0);
        let chain = BatchChain::new(OWNER);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..3u64 {
            let seen = std::sync::Arc::clone(&seen);
            let mut callback: Option<Callback> = Some(Box::new(move |result| {
                seen.lock().unwrap().push((i, result.unwrap().offset));
            }));
            let mut spare = Some(batch(&pool, 1024));
            match chain.append(RecordRef::new(b"v"), &mut callback, &mut spare) {
                AppendStep::Done { handle, .. } => handles.push(handle),
                _ => panic!("appended"),
            }
            assert!(callback.is_none(), "taken with the record");
        }
        let Ok(Taken::Batch(sealed)) = chain.take(|_| true) else {
            panic!("one batch");
        };
        let outcome = crate::producer::completion::Outcome::Appended {
            partition: 0,
            base_offset: Some(10),
            timestamp_ms: Some(0),
            duplicate: false,
        };
        let batch = &sealed.batch;
        assert!(batch.completion.complete(
            outcome.clone(),
            |s, i| batch.failed_record(s, i),
            || ()
        ));
        assert!(
            !batch.completion.complete(outcome, |_, _| None, || ()),
            "once"
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [(0, Some(10)), (1, Some(11)), (2, Some(12))]
        );
        let offsets: Vec<_> = handles.iter().map(|h| h.wait().unwrap().offset).collect();
        assert_eq!(offsets, [Some(10), Some(11), Some(12)]);
    }
}
