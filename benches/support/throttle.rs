//! How far the producer of a tail workload may run ahead of its reader, so that
//! it never laps the retained records the reader has yet to read (the engine's
//! and the `mutex-vec` ring's; a bounded channel has its own bound).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::utils::CachePadded;

use super::RETAINED_RECORDS;

/// The most records a tail producer may be ahead of its reader.
pub(crate) const TAIL_MAX_LAG: u64 = RETAINED_RECORDS / 4;

#[derive(Default)]
struct Counts {
    produced: CachePadded<AtomicU64>,
    consumed: CachePadded<AtomicU64>,
}

/// The producer's and the reader's record counts, shared by the two.
#[derive(Clone, Default)]
pub(crate) struct Throttle {
    counts: Arc<Counts>,
}

impl Throttle {
    /// Called by the producer before it writes record `done` of this round:
    /// waits (yielding the core) while it is more than [`TAIL_MAX_LAG`] ahead.
    #[inline]
    pub(crate) fn wait_for_reader(&self, done: u64) {
        // Relaxed: only the producer writes `produced` (in `produced`).
        let at = self.counts.produced.load(Ordering::Relaxed) + done;
        // Acquire: pairs with the reader's Release in `consumed`: the records it
        // counted are read before the producer may overwrite them.
        while at.saturating_sub(self.counts.consumed.load(Ordering::Acquire)) > TAIL_MAX_LAG {
            std::thread::yield_now();
        }
    }

    /// Called by the producer at the end of a round of `total` records.
    pub(crate) fn produced(&self, total: u64) {
        // Relaxed: read back only by the producer itself (`wait_for_reader`).
        self.counts.produced.fetch_add(total, Ordering::Relaxed);
    }

    /// Called by the reader after it has read `n` more records.
    #[inline]
    pub(crate) fn consumed(&self, n: u64) {
        // Release: pairs with the Acquire load in `wait_for_reader`.
        self.counts.consumed.fetch_add(n, Ordering::Release);
    }
}
