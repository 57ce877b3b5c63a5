//! The owner lease of a producer state (I12 in `crate::implementation`): one
//! appender's right to commit in-sequence batches to the state word with plain
//! stores instead of a compare-and-swap, revoked by anyone else who needs to
//! change the word.
//!
//! The owner brackets each leased batch with its `active` flag and checks the
//! lease after raising it, with only a compiler fence between (the light side
//! of `crate::asymmetric_fence`). A revoker marks the lease REVOKING, runs the
//! heavy fence and then waits for `active` to fall: either the owner's flag was
//! raised before the heavy fence's barrier, and the revoker sees it and waits
//! for the batch to end, or the owner's check comes after it and sees the
//! revocation. So no plain store of the owner ever lands after a revoker has
//! started changing the word. A lease is granted once per state: revoked or
//! released, it is FREE for good and every appender uses the CAS protocol (I1).

use crate::sync::{AtomicBool, AtomicU64, Backoff, Ordering};

/// No lease yet: one may be granted.
const NONE: u64 = 0;
/// An appender holds the lease.
const HELD: u64 = 1;
/// A revoker is waiting for the holder's current batch to end.
const REVOKING: u64 = 2;
/// No lease, and none will be granted: the CAS protocol only.
const FREE: u64 = 3;

/// A producer state's lease.
#[derive(Debug)]
pub(crate) struct Lease {
    state: AtomicU64,
    /// Raised by the holder for the length of a leased batch; written by the
    /// holder only (so a plain store of it never overwrites anyone else's).
    active: AtomicBool,
}

impl Lease {
    /// A lease that may be granted, or FREE from the start where the heavy
    /// fence does not exist (without it a revoker could not order itself
    /// against the holder's plain stores).
    pub(crate) fn new() -> Self {
        let state = if crate::asymmetric_fence::available() {
            NONE
        } else {
            FREE
        };
        Self {
            state: AtomicU64::new(state),
            active: AtomicBool::new(false),
        }
    }

    /// Takes the lease if none was ever granted; returns whether the caller
    /// now holds it.
    pub(crate) fn try_acquire(&self) -> bool {
        // Relaxed (load and CAS): the load is a hint that saves the CAS on a
        // FREE lease, and the grant has nothing to acquire or publish: a NONE
        // lease means no one has changed the state word yet (every change by
        // a non-holder closes the lease first), and later writers order
        // themselves against the holder through `close`.
        self.state.load(Ordering::Relaxed) == NONE
            && self
                .state
                .compare_exchange(NONE, HELD, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The holder, before a leased batch: raises `active` and returns whether
    /// the lease is still held. On false `active` is down again and the lease
    /// is lost for good (the caller uses the CAS protocol from now on).
    #[inline(always)]
    pub(crate) fn enter(&self) -> bool {
        // Relaxed: ordered before the load below by the asymmetric fence pair
        // (the revoker's heavy fence in `close`, I12).
        self.active.store(true, Ordering::Relaxed);
        crate::asymmetric_fence::light();
        // Relaxed: a REVOKING or FREE here is acted on by dropping `active`,
        // which orders us for the revoker (Release below).
        if self.state.load(Ordering::Relaxed) == HELD {
            return true;
        }
        self.exit();
        false
    }

    /// The holder, after a leased batch (committed or abandoned).
    #[inline(always)]
    pub(crate) fn exit(&self) {
        // Release: pairs with the revoker's Acquire load of `active` in
        // `close`: it sees every word store of the batch.
        self.active.store(false, Ordering::Release);
    }

    /// The holder gives the lease up (outside a batch, e.g. when its appender
    /// is dropped); a revocation under way finishes by itself.
    pub(crate) fn release(&self) {
        // Release: pairs with the Acquire load of FREE in `close`: the next
        // writer of the word sees our last word store.
        let _ = self
            .state
            .compare_exchange(HELD, FREE, Ordering::Release, Ordering::Relaxed);
    }

    /// Whether the lease is still held (the holder's check after a failed
    /// `enter`, or after its batch left the leased path).
    pub(crate) fn is_held(&self) -> bool {
        // Relaxed: a holder that reads HELD may keep using `enter`, which
        // re-checks; any other value is final for it.
        self.state.load(Ordering::Relaxed) == HELD
    }

    /// Whether a lease is held or may still be granted (not FREE): a caller
    /// that is not the holder must `close` it before changing the word.
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        // Acquire: a FREE from `release` or a revoker orders the holder's last
        // word store before the caller's change of the word.
        self.state.load(Ordering::Acquire) != FREE
    }

    /// Makes sure no lease is held or will be, before a caller that is not
    /// the holder changes the state word: closes a lease never granted, and
    /// revokes a held one, waiting for the holder's current batch to end
    /// (a bounded wait: a leased batch never blocks).
    pub(crate) fn close(&self) {
        let mut backoff = Backoff::new();
        loop {
            // Acquire: a FREE set by `release` or a revoker orders the holder's
            // last word store before our changes.
            match self.state.load(Ordering::Acquire) {
                FREE => return,
                NONE => {
                    // Relaxed: no holder ever existed, so there is nothing to
                    // order against; the word's own CASes order the rest.
                    if self
                        .state
                        .compare_exchange(NONE, FREE, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                    {
                        return;
                    }
                }
                HELD => {
                    // Relaxed: ordered before the heavy fence, which the
                    // holder's `enter` pairs with (I12).
                    if self
                        .state
                        .compare_exchange(HELD, REVOKING, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                    {
                        crate::asymmetric_fence::heavy();
                        // Acquire: pairs with the holder's Release in `exit`.
                        while self.active.load(Ordering::Acquire) {
                            backoff.snooze();
                        }
                        // Release: pairs with the Acquire load above of later
                        // closers, which then see the holder's last batch too.
                        self.state.store(FREE, Ordering::Release);
                        return;
                    }
                }
                // REVOKING: another revoker is waiting for the holder.
                _ => backoff.snooze(),
            }
        }
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_granted_once_and_closing_frees_it_for_good() {
        let lease = Lease::new();
        if !crate::asymmetric_fence::available() {
            assert!(!lease.try_acquire(), "no heavy fence, no lease");
            return;
        }
        assert!(lease.try_acquire());
        assert!(!lease.try_acquire(), "one holder");
        assert!(lease.enter());
        lease.exit();
        lease.close();
        assert!(!lease.is_held());
        assert!(!lease.enter(), "a revoked holder is told at its next batch");
        assert!(!lease.try_acquire(), "never granted again");
    }

    #[test]
    fn closing_a_lease_never_granted_prevents_one() {
        let lease = Lease::new();
        assert_eq!(lease.is_open(), crate::asymmetric_fence::available());
        lease.close();
        assert!(!lease.is_open());
        assert!(!lease.try_acquire());
    }

    #[test]
    fn a_revoker_waits_for_the_holders_batch() {
        if !crate::asymmetric_fence::available() {
            return;
        }
        let lease = Lease::new();
        assert!(lease.try_acquire());
        assert!(lease.enter());
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                lease.close();
                assert!(
                    done.load(Ordering::Acquire),
                    "close returned during the batch"
                );
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            done.store(true, Ordering::Release);
            lease.exit();
        });
        assert!(!lease.is_held());
    }
}
