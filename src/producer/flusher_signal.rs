//! The flusher's sleep and wake-up, and the close flags (P5 in
//! `crate::implementation`; checked by loom-tests/tests/producer_handoff.rs).
//!
//! - A sender that linked a new batch (or, with `linger.ms=0`, appended any
//!   record) issues a SeqCst fence and reads `sleeping`.
//! - The flusher, before it sleeps, sets `sleeping` under the idle mutex,
//!   issues a SeqCst fence and re-checks the chains; it sleeps only if nothing
//!   new is due before its timeout. By the fence-fence rule, either the sender
//!   sees `sleeping` (and wakes it, taking the mutex so the notification cannot
//!   fall between the check and the wait) or the flusher sees the batch.
//! - `close` sets `closed`; the flusher drains, then terminates every chain
//!   (P3), so no record is appended after its last drain.
//! - A `close` whose timeout ran out sets `force` and the first such timeout;
//!   the flusher fails what is left, says whether that was anything
//!   (`lost_records`), and exits. Each `close` reports `Ok` only if the
//!   flusher exited and lost nothing, whichever call forced it.

use std::time::{Duration, Instant};

use crate::sync::{fence, wait_until, AtomicBool, AtomicU64, Condvar, Mutex, Ordering};

/// `forced_after_ms` before any close timed out.
const NOT_FORCED: u64 = u64::MAX;

/// See the module comment.
#[derive(Debug)]
pub(crate) struct FlusherSignal {
    /// The flusher is asleep (or about to be) on `idle_cv`.
    sleeping: AtomicBool,
    idle: Mutex<()>,
    idle_cv: Condvar,
    /// `close` was called: no new records, drain and exit.
    closed: AtomicBool,
    /// `close` timed out: fail what is left and exit now.
    force: AtomicBool,
    /// The timeout of the first `close` that ran out, in ms ([`NOT_FORCED`]:
    /// none did).
    forced_after_ms: AtomicU64,
    /// The flusher failed records at its exit, or lost acks=0 requests still
    /// in transit, or died: not everything drained.
    lost_records: AtomicBool,
    exited: Mutex<bool>,
    exited_cv: Condvar,
}

impl FlusherSignal {
    pub(crate) fn new() -> Self {
        Self {
            sleeping: AtomicBool::new(false),
            idle: Mutex::new(()),
            idle_cv: Condvar::new(),
            closed: AtomicBool::new(false),
            force: AtomicBool::new(false),
            forced_after_ms: AtomicU64::new(NOT_FORCED),
            lost_records: AtomicBool::new(false),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
        }
    }

    /// Wakes the flusher if it sleeps: the sender's side, after it made work.
    pub(crate) fn wake(&self) {
        // SeqCst fence: pairs with the fence in `sleep` (after `sleeping` is
        // set): either we see the flag or the flusher sees our batch.
        fence(Ordering::SeqCst);
        // Relaxed load, ordered after our work by the fence above. Only the
        // flusher writes `sleeping`; a stale `true` costs one needless notify.
        // (Not a swap: loom 0.7 mis-orders a losing swap against the flusher's
        // later stores, tokio-rs/loom#254, and reports a false deadlock.)
        if self.sleeping.load(Ordering::Relaxed) {
            // Taking the mutex: the flusher holds it from setting `sleeping`
            // until it waits, so the notification cannot be lost.
            let _idle = self.idle.lock();
            self.idle_cv.notify_one();
        }
    }

    /// The flusher sleeps up to `timeout`, unless `work_due` (run after the
    /// fence) finds something, a forced close is pending, or `close` was
    /// called and `closing_known` is false.
    pub(crate) fn sleep(
        &self,
        timeout: Duration,
        closing_known: bool,
        work_due: impl Fn() -> bool,
    ) {
        let idle = self.idle.lock();
        // Relaxed store: ordered before the checks below by the fence.
        self.sleeping.store(true, Ordering::Relaxed);
        // SeqCst fence: pairs with the fence in `wake`.
        fence(Ordering::SeqCst);
        let stop = self.is_forced() || (!closing_known && self.is_closed());
        if stop || work_due() {
            self.sleeping.store(false, Ordering::Relaxed);
            return;
        }
        let _idle = self.idle_cv.wait_timeout(idle, timeout);
        // Relaxed: a stale `true` only costs a sender one needless notify.
        self.sleeping.store(false, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        // SeqCst: pairs with the store in `close`; the flusher then fences
        // before its drain (flusher/mod.rs).
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn is_forced(&self) -> bool {
        // SeqCst: pairs with the store in `force`.
        self.force.load(Ordering::SeqCst)
    }

    /// `close`: stop accepting records and let the flusher drain.
    pub(crate) fn close(&self) {
        // SeqCst: pairs with the loads in `send` and in the flusher's loop.
        self.closed.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// A `close` of `timeout_ms` timed out: the flusher fails what is left
    /// and exits.
    pub(crate) fn force(&self, timeout_ms: u64) {
        // Relaxed: read by `forced_after_ms` for the error's text only; the
        // first forcer's timeout wins.
        let _first = self.forced_after_ms.compare_exchange(
            NOT_FORCED,
            timeout_ms.min(NOT_FORCED - 1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.stop_now();
    }

    /// The flusher died (a bug): what it held is lost, and the producer acts
    /// as closed.
    pub(crate) fn died(&self) {
        self.set_lost_records();
        self.stop_now();
    }

    /// The flusher fails what is left and exits; no record is accepted.
    fn stop_now(&self) {
        // SeqCst: pairs with the loads in the flusher's loop and in `sleep`.
        self.force.store(true, Ordering::SeqCst);
        self.close();
    }

    /// The timeout of the first `close` that ran out, if one did.
    pub(crate) fn forced_after_ms(&self) -> Option<u64> {
        // Relaxed: see `force`.
        let ms = self.forced_after_ms.load(Ordering::Relaxed);
        (ms != NOT_FORCED).then_some(ms)
    }

    /// The flusher lost records (failed them at a forced close, or died):
    /// called before `set_exited`.
    pub(crate) fn set_lost_records(&self) {
        // Relaxed: published by the `exited` mutex, which `set_exited` takes
        // after this store and `wait_exited` before the load in
        // `lost_records`.
        self.lost_records.store(true, Ordering::Relaxed);
    }

    /// True if the flusher, which has exited, lost records.
    pub(crate) fn lost_records(&self) -> bool {
        // Relaxed: see `set_lost_records`.
        self.lost_records.load(Ordering::Relaxed)
    }

    /// The flusher has exited.
    pub(crate) fn set_exited(&self) {
        *self.exited.lock() = true;
        self.exited_cv.notify_all();
    }

    /// True once the flusher has exited.
    pub(crate) fn has_exited(&self) -> bool {
        *self.exited.lock()
    }

    /// Waits up to `timeout` for the flusher to exit; true if it did. A
    /// timeout beyond the clock's range (e.g. `Duration::MAX`) waits without limit.
    pub(crate) fn wait_exited(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let exited = self.exited.lock();
        wait_until(
            &self.exited_cv,
            exited,
            deadline,
            Duration::from_secs(1),
            |e| *e,
        )
    }
}
