//! The log-wide memory budget: segments (buffers and commit arrays, pooled ones
//! included), partitions (their directories and fixed structures) and producer
//! state are charged here before they are allocated, so a full log answers
//! `LogFull` instead of aborting on an allocation failure.

use crossbeam::utils::CachePadded;

use crate::error::LogError;
use crate::sync::{AtomicU64, Ordering};

/// Bytes in use against a fixed limit.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: CachePadded<AtomicU64>,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            used: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Charges `bytes`, or fails with `LogFull` (charging nothing) if that would
    /// pass the limit.
    pub(crate) fn try_charge(&self, bytes: u64) -> Result<(), LogError> {
        // Relaxed (here and below): the budget is a counter that orders no other
        // memory; the charge is atomic, so concurrent chargers never overshoot it
        // together (each CAS checks the sum it installs).
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let wanted = used.saturating_add(bytes);
            if wanted > self.limit {
                return Err(LogError::LogFull {
                    requested: bytes,
                    used,
                    budget: self.limit,
                });
            }
            match self.used.compare_exchange_weak(
                used,
                wanted,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => used = actual,
            }
        }
    }

    /// Returns `bytes` charged earlier.
    pub(crate) fn release(&self, bytes: u64) {
        // Relaxed: see `try_charge`.
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes charged now.
    pub(crate) fn used(&self) -> u64 {
        // Relaxed: see `try_charge`.
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit_and_no_further() {
        let budget = Budget::new(100);
        assert!(budget.try_charge(60).is_ok());
        assert!(matches!(
            budget.try_charge(41),
            Err(LogError::LogFull {
                requested: 41,
                used: 60,
                budget: 100
            })
        ));
        assert_eq!(budget.used(), 60, "a refused charge charges nothing");
        assert!(budget.try_charge(40).is_ok());
        budget.release(100);
        assert_eq!(budget.used(), 0);
    }
}

/// Bytes of one entry's slot in a table keyed by name (a `String` key and an
/// `Arc`, 32 bytes, and a control byte) at the table's lowest load, rounded
/// up.
const NAMED_SLOT_BYTES: u64 = 80;

/// What a name costs an entry of the registries of groups and of topics: the
/// entry's own `Arc<str>` copy of it, the map's `String` key and the slot.
pub(crate) fn named_entry_bytes(name: &str) -> u64 {
    heap_block_bytes(2 * std::mem::size_of::<usize>() + name.len(), 8)
        + heap_block_bytes(name.len(), 1)
        + NAMED_SLOT_BYTES
}

/// Bytes a heap block of `size` bytes aligned to `align` takes from a
/// malloc-style allocator (glibc's): an 8-byte chunk header and 16-byte
/// granules, and for an alignment beyond 16 the alignment once more, the slack
/// an aligned chunk leaves before it (tests/partition_memory.rs measures the
/// sum against the resident set).
pub(crate) fn heap_block_bytes(size: usize, align: usize) -> u64 {
    let slack = if align > 16 { align } else { 0 };
    ((size + 8).next_multiple_of(16) + slack) as u64
}

/// [`heap_block_bytes`] of an `Arc<T>`'s block: its two counts, then `T`.
pub(crate) fn arc_block_bytes<T>() -> u64 {
    let counts = std::alloc::Layout::new::<[usize; 2]>();
    let (block, _) = counts
        .extend(std::alloc::Layout::new::<T>())
        .expect("a type's layout fits");
    heap_block_bytes(block.pad_to_align().size(), block.align())
}
