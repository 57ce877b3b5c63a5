//! Waking consumers that wait on a partition (I6 in `crate::implementation`):
//! threads asleep on the condvar (one-partition blocking polls) and registered
//! [`Waker`]s (many-partition blocking polls, async tasks), both counted in
//! `waiters`.
//!
//! A producer pays one plain load of `waiters` per batch; it takes the mutex
//! only when someone actually waits.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Waker;
use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;

use crate::log::storage::{Cursor, SegmentLog};
use crate::sync::{AtomicUsize, Backoff, Condvar, Mutex, Ordering};

/// Whether a reader at some offset has something to read (I6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// A committed record is there (or the offset was evicted: the next read
    /// answers OffsetOutOfRange).
    Readable,
    /// An appender has reserved the offset and is mid-append: it may have looked
    /// at `waiters` before the registration, so the waiter must retry, not sleep.
    Reserved,
    /// Nothing reserved yet: every appender that reserves the offset will see the
    /// registration and wake it.
    Empty,
}

/// The waiting-consumer registry of one partition.
pub(crate) struct Wakeup {
    /// Sleeping threads plus registered wakers (I6).
    waiters: CachePadded<AtomicUsize>,
    /// The registered wakers, each counted once in `waiters` (a waker that
    /// `will_wake` one already here is not added again).
    wakers: Mutex<Vec<Waker>>,
    condvar: Condvar,
}

impl Wakeup {
    pub(crate) fn new() -> Self {
        Self {
            waiters: CachePadded::new(AtomicUsize::new(0)),
            wakers: Mutex::new(Vec::new()),
            condvar: Condvar::new(),
        }
    }

    /// Producer side, after publishing a batch whose offsets came from
    /// `SegmentLog::reserve`: wakes waiters, if there are any. A registered
    /// waker that panics does not keep the others asleep: all are woken, then
    /// the (first) panic goes on to the caller.
    #[inline]
    pub(crate) fn notify(&self) {
        // Acquire: our reservation RMW on the tail (AcqRel) read-from or followed a
        // waiter's tail RMW (`readiness`), which is ordered after its increment of
        // `waiters`, so a waiter that might sleep on our offset is counted here (I6).
        if self.waiters.load(Ordering::Acquire) != 0 {
            self.notify_waiters();
        }
    }

    /// The slow path of `notify`: someone is registered.
    #[cold]
    fn notify_waiters(&self) {
        // Taking the lock orders us after a registered waiter's check, so the
        // notification cannot fall between its check and its wait.
        let mut wakers = self.wakers.lock();
        self.condvar.notify_all();
        let woken = std::mem::take(&mut *wakers);
        if !woken.is_empty() {
            // Relaxed: a count; a waiter that re-registers does so under the lock
            // we hold, after this (I6).
            self.waiters.fetch_sub(woken.len(), Ordering::Relaxed);
        }
        drop(wakers);
        // Outside the lock: a waker runs foreign code (an executor's schedule),
        // which may panic. Its registration is taken already, so a waker
        // skipped by the unwinding would never be woken: its task would hang.
        // So every waker is woken, each under `catch_unwind` (a drop guard
        // waking the rest while unwinding would abort the process on a second
        // panicking waker), and then the first panic goes on.
        let mut panic = None;
        for waker in woken {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                match panic {
                    None => panic = Some(payload),
                    // A later panic's payload is leaked, not dropped: its drop
                    // is user code too, which could panic in turn.
                    Some(_) => std::mem::forget(payload),
                }
            }
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Whether the record at `cursor` can be read, as seen after an RMW on the
    /// tail: call it after registering (I6).
    fn readiness(storage: &SegmentLog, cursor: &Cursor) -> Readiness {
        if storage.readable(cursor) || cursor.offset() < storage.log_start() {
            Readiness::Readable
        } else if storage.log_end_synchronized() > cursor.offset() {
            // Reserved but perhaps not yet readable: look once more, as the
            // appender may have committed since the first look.
            if storage.readable(cursor) {
                Readiness::Readable
            } else {
                Readiness::Reserved
            }
        } else {
            Readiness::Empty
        }
    }

    /// Registers `waker` to be woken by the next append of this partition, then
    /// re-checks the record at `cursor` (I6). On `Empty` the waker stays
    /// registered until an append wakes it or [`Wakeup::deregister`]; otherwise
    /// it may stay registered too (a spurious wake-up later, never a lost one).
    pub(crate) fn register(
        &self,
        waker: &Waker,
        storage: &SegmentLog,
        cursor: &Cursor,
    ) -> Readiness {
        let mut wakers = self.wakers.lock();
        if !wakers.iter().any(|registered| registered.will_wake(waker)) {
            wakers.push(waker.clone());
            // Relaxed: ordered before the tail RMW in `readiness` by that RMW's
            // Release half (I6).
            self.waiters.fetch_add(1, Ordering::Relaxed);
        }
        drop(wakers);
        Self::readiness(storage, cursor)
    }

    /// Removes `waker`'s registration, if an append has not taken it already.
    pub(crate) fn deregister(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock();
        if let Some(index) = wakers
            .iter()
            .position(|registered| registered.will_wake(waker))
        {
            wakers.swap_remove(index);
            // Relaxed: only a count; producers may see a stale non-zero and take
            // the lock needlessly, never a stale zero while we wait (I6).
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Consumer side: waits until the record at `cursor` is committed or evicted
    /// (the next read then answers OffsetOutOfRange), or until `timeout` passes.
    /// Returns whether there is something to read.
    pub(crate) fn wait_published(
        &self,
        storage: &SegmentLog,
        cursor: &Cursor,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut backoff = Backoff::new();
        // Spin and yield a little before registering: a consumer just behind its
        // producers then reads on without a sleep, and they pay no wake-up.
        let mut spin = Backoff::new();
        loop {
            if storage.readable(cursor) || cursor.offset() < storage.log_start() {
                return true;
            }
            let remaining = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(remaining) if !remaining.is_zero() => remaining,
                    _ => return false,
                },
                None => Duration::MAX,
            };
            if !spin.should_park() {
                spin.snooze();
                continue;
            }
            let guard = self.wakers.lock();
            // Relaxed: ordered before the tail RMW below by its Release half (I6).
            self.waiters.fetch_add(1, Ordering::Relaxed);
            match Self::readiness(storage, cursor) {
                // An appender has reserved the offset but may have looked at
                // `waiters` before we registered: it is mid-append, so spin
                // instead of sleeping.
                Readiness::Reserved => {
                    drop(guard);
                    backoff.snooze();
                }
                Readiness::Empty => drop(self.condvar.wait_timeout(guard, remaining)),
                Readiness::Readable => drop(guard),
            }
            // Relaxed: only a count; producers may see a stale non-zero and take the
            // lock needlessly, never a stale zero while we sleep (I6).
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;
    use crate::log::budget::Budget;

    /// A waker whose `wake` panics.
    struct Panics;

    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a user waker panics");
        }
    }

    /// A waker that records it was woken.
    #[derive(Default)]
    struct Records(AtomicBool);

    impl Wake for Records {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            // Relaxed: the test's loads run on this thread, after `notify`.
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// A panicking waker registered before others does not leave them
    /// unwoken: `notify` wakes every registered waker, then the panic goes on
    /// to the appender.
    #[test]
    fn a_panicking_waker_does_not_strand_the_wakers_after_it() {
        let storage = SegmentLog::new(16, 2, 2, Arc::new(Budget::new(1 << 20)), false);
        let cursor = storage.cursor_at(0).expect("the log start");
        let wakeup = Wakeup::new();
        let first = Arc::new(Records::default());
        let last = Arc::new(Records::default());
        for waker in [
            Waker::from(Arc::clone(&first)),
            Waker::from(Arc::new(Panics)),
            Waker::from(Arc::new(Panics)),
            Waker::from(Arc::clone(&last)),
        ] {
            assert_eq!(wakeup.register(&waker, &storage, &cursor), Readiness::Empty);
        }
        let panic = catch_unwind(AssertUnwindSafe(|| wakeup.notify()))
            .expect_err("the waker's panic reaches the appender");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"a user waker panics"));
        // Relaxed: the stores in `Records::wake_by_ref` ran on this thread.
        assert!(first.0.load(Ordering::Relaxed), "woken before the panic");
        assert!(last.0.load(Ordering::Relaxed), "woken after the panics");
        // Every registration was taken: the next append finds nobody.
        // Relaxed: the `fetch_sub` in `notify_waiters` ran on this thread.
        assert_eq!(wakeup.waiters.load(Ordering::Relaxed), 0);
        assert!(wakeup.wakers.lock().is_empty());
    }
}
