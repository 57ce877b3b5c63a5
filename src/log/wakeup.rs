//! Waking consumers that block on a partition (I6 in `crate::implementation`).
//!
//! A producer pays one plain load of `waiters` per batch; it takes the mutex
//! only when a consumer is actually asleep.

use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;

use crate::log::storage::{Cursor, SegmentLog};
use crate::sync::{AtomicUsize, Backoff, Condvar, Mutex, Ordering};

/// The sleeping-consumer registry of one partition.
pub(crate) struct Wakeup {
    /// Consumers between registration and the end of their wait.
    waiters: CachePadded<AtomicUsize>,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Wakeup {
    pub(crate) fn new() -> Self {
        Self {
            waiters: CachePadded::new(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Producer side, after publishing a batch whose offsets came from
    /// `SegmentLog::reserve`: wakes sleepers, if there are any.
    #[inline]
    pub(crate) fn notify(&self) {
        // Acquire: our reservation RMW on the tail (AcqRel) read-from or followed a
        // consumer's tail RMW, which is ordered after its increment below, so a
        // consumer that might sleep on our offset is counted here (I6).
        if self.waiters.load(Ordering::Acquire) != 0 {
            self.notify_sleepers();
        }
    }

    /// The slow path of `notify`: someone is registered.
    #[cold]
    fn notify_sleepers(&self) {
        // Taking the lock orders us after a registered consumer's check, so the
        // notification cannot fall between its check and its wait.
        let _guard = self.lock.lock();
        self.condvar.notify_all();
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
        let offset = cursor.offset();
        let deadline = Instant::now().checked_add(timeout);
        let mut backoff = Backoff::new();
        loop {
            if storage.readable(cursor) || offset < storage.log_start() {
                return true;
            }
            let remaining = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(remaining) if !remaining.is_zero() => remaining,
                    _ => return false,
                },
                None => Duration::MAX,
            };
            let guard = self.lock.lock();
            // Relaxed: ordered before the tail RMW below by its Release half (I6).
            self.waiters.fetch_add(1, Ordering::Relaxed);
            let reserved = storage.log_end_synchronized() > offset;
            if reserved {
                // An appender has reserved `offset` but may have looked at `waiters`
                // before we registered: it is mid-append, so spin instead of sleeping.
                drop(guard);
                backoff.snooze();
            } else if !storage.readable(cursor) {
                drop(self.condvar.wait_timeout(guard, remaining));
            } else {
                drop(guard);
            }
            // Relaxed: only a count; producers may see a stale non-zero and take the
            // lock needlessly, never a stale zero while we sleep (I6).
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
