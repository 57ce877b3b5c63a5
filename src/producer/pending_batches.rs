//! How many batches of a producer are made and not yet completed: what lets
//! `flush` answer at once when every record sent before it has completed
//! (`flush(Duration::ZERO)` included), without a per-record count (P9 in
//! `crate::implementation`).
//!
//! A sender counts a batch when it makes it, before it can link it into a
//! chain, and uncounts a made batch it did not link; the flusher uncounts a
//! linked batch as it completes it, under the batch's waiters mutex, after
//! marking it complete and before storing its `done` flag (or when it discards
//! it empty). A record's batch is counted before any sender can see the batch
//! (the link's Release CAS follows the count in program order, and the sender
//! that appends reached the batch through an Acquire load of the link), so a
//! reader that reads the count after its own sends returned, and finds 0, has
//! read it after every batch its records went into was marked complete (which
//! the handles' `is_done` finds, under that mutex if `done` is not yet
//! visible); and a thread that saw a handle done reads a count without its
//! batch.

use crate::sync::{AtomicU64, Ordering};

/// See the module comment.
#[derive(Debug, Default)]
pub(crate) struct PendingBatches {
    count: AtomicU64,
}

impl PendingBatches {
    /// A sender made a batch it may link.
    pub(crate) fn made(&self) {
        // Relaxed: ordered before the batch is visible by the Release link
        // CAS in `BatchChain::append`, after it in program order.
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// A made batch that was never linked (another sender's batch served).
    pub(crate) fn unused(&self) {
        // Relaxed: no record went into it; an RMW, so it continues the
        // release sequences of `completed`.
        self.count.fetch_sub(1, Ordering::Relaxed);
    }

    /// The flusher completed (under the batch's waiters mutex, before `done`)
    /// or discarded a linked batch.
    pub(crate) fn completed(&self) {
        // Release: pairs with the Acquire load in `none`: a reader that sees
        // this (or any later RMW) sees the batch's completion.
        self.count.fetch_sub(1, Ordering::Release);
    }

    /// True if no batch is pending: every record sent before this call (by a
    /// `send` that returned) has completed.
    pub(crate) fn none(&self) -> bool {
        // Acquire: pairs with the Release decrement in `completed`.
        self.count.load(Ordering::Acquire) == 0
    }
}
