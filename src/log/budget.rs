//! The log-wide memory budget: segments (buffers and commit arrays, pooled ones
//! included) and segment directories are charged here before they are
//! allocated (producer state is not charged yet), so a full log answers `LogFull` instead of aborting on an
//! allocation failure.

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
