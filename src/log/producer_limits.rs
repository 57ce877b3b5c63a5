//! The log-wide bound on producer state: how many (partition, producer) entries
//! exist, the cap on them, their charge to the memory budget, and how many were
//! evicted least-recently-used to stay under the cap (I11).

use crate::error::LogError;
use crate::log::budget::Budget;
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

/// Counts producer-state entries against a cap and charges each to the budget.
#[derive(Debug)]
pub(crate) struct ProducerLimits {
    entries: AtomicUsize,
    evicted: AtomicU64,
    cap: usize,
    /// Bytes charged per entry.
    entry_bytes: u64,
    /// Serialises LRU eviction passes (never taken by an append that has state).
    eviction: Mutex<()>,
}

impl ProducerLimits {
    pub(crate) fn new(cap: usize, entry_bytes: u64) -> Self {
        Self {
            entries: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            cap,
            entry_bytes,
            eviction: Mutex::new(()),
        }
    }

    /// Admits one new entry: when the log is at the cap, `evict` is asked (under
    /// the eviction lock, by one thread at a time) to evict the least recently
    /// used idle entries and returns how many it evicted; then the entry is
    /// charged to `budget`. Fails with `LogFull` (nothing admitted) if the budget
    /// has no room, or `ProducerStateFull` if nothing could be evicted.
    pub(crate) fn admit(
        &self,
        budget: &Budget,
        evict: impl FnOnce(usize) -> usize,
    ) -> Result<(), LogError> {
        if self.entries() >= self.cap {
            let _evicting = self.eviction.lock();
            if self.entries() >= self.cap {
                // Evict a slice of the cap at once, so a full table pays one scan
                // per `cap / 64` admissions, not per admission.
                let evicted = evict((self.cap / 64).max(1));
                // Relaxed: a statistic.
                self.evicted.fetch_add(evicted as u64, Ordering::Relaxed);
                if evicted == 0 && self.entries() >= self.cap {
                    return Err(LogError::ProducerStateFull { cap: self.cap });
                }
            }
        }
        budget.try_charge(self.entry_bytes)?;
        // Relaxed: a count; the cap may be overshot by concurrent admissions by
        // at most their number (each re-checks after the next eviction).
        self.entries.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Returns an entry that was removed from its partition.
    pub(crate) fn release(&self, budget: &Budget) {
        // Relaxed: see `admit`.
        self.entries.fetch_sub(1, Ordering::Relaxed);
        budget.release(self.entry_bytes);
    }

    /// Entries now.
    pub(crate) fn entries(&self) -> usize {
        // Relaxed: see `admit`.
        self.entries.load(Ordering::Relaxed)
    }

    /// Entries evicted to stay under the cap, so far.
    pub(crate) fn evicted(&self) -> u64 {
        // Relaxed: a statistic.
        self.evicted.load(Ordering::Relaxed)
    }

    /// Bytes charged per entry.
    pub(crate) fn entry_bytes(&self) -> u64 {
        self.entry_bytes
    }
}
