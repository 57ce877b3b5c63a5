//! Delivery handles: what `send` returns, completed by the flusher, and the
//! callback form of delivery ([`Producer::send_with_callback`](super::Producer::send_with_callback)).
//!
//! User code that runs on the flusher thread (a delivery callback, or the
//! [`Waker`] of a task polling a handle) runs inside `catch_unwind`: a panic
//! there is caught (and reported by the panic hook as usual), the flusher goes
//! on, and every other record still completes. While it runs, the thread is
//! marked as being "inside a callback of this producer" so that `flush`,
//! `close` and `send` called from there do not wait for the very thread they run
//! on (see [`ProducerError::InCallback`]).

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::error::ProducerError;
use crate::sync::{spin_loop, yield_now, Arc, AtomicBool, Condvar, Mutex, Ordering};

/// Where a record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: u32,
    /// The record's offset; `None` with `acks=0` (Kafka reports -1).
    pub offset: Option<u64>,
    /// Log-append time of its batch; `None` with `acks=0`.
    pub timestamp_ms: Option<i64>,
    /// True if the log answered a retry of this record as a duplicate (the
    /// offset is the original one).
    pub duplicate: bool,
}

/// The outcome of one record.
pub type DeliveryResult = Result<RecordMetadata, ProducerError>;

#[derive(Debug, Default)]
struct Slot {
    result: Option<DeliveryResult>,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    done: Condvar,
    /// The result is in `slot` (set once, after it is stored): lets `wait`
    /// spin briefly before parking, and skip the futex wake-up when the
    /// flusher completes the record while the waiter still spins.
    ready: AtomicBool,
}

/// Under loom every spin would be one more interleaving to explore: park at once.
const LOOM: bool = cfg!(all(loom, feature = "loom"));
/// Spins of `wait` (checking `ready`) before it yields, then parks.
const WAIT_SPINS: u32 = if LOOM { 0 } else { 64 };
/// `yield_now` rounds of `wait` before it parks on the condvar.
const WAIT_YIELDS: u32 = if LOOM { 0 } else { 8 };

/// The pending outcome of one `send`: a [`Future`] (no runtime needed) and a
/// blocking [`DeliveryHandle::wait`]. Both may be used, any number of times.
/// Dropping a handle (also while unwinding from a panic) is always fine: the
/// record still completes, and the producer does not notice.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::exactly_once().linger_ms(0)).unwrap();
/// let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
/// let meta = handle.wait().unwrap();
/// assert_eq!((meta.partition, meta.offset), (0, Some(0)));
/// ```
#[derive(Debug, Clone)]
pub struct DeliveryHandle {
    shared: Arc<Shared>,
}

/// A delivery callback (see [`Producer::send_with_callback`](super::Producer::send_with_callback)).
pub(crate) type Callback = Box<dyn FnOnce(DeliveryResult) + Send + 'static>;

thread_local! {
    /// The producer (its accumulator's address) whose user code (a delivery
    /// callback or a waker) this thread is running now; 0 if none.
    static IN_CALLBACK_OF: Cell<usize> = const { Cell::new(0) };
}

/// True if this thread is running a delivery callback (or waker) of the
/// producer identified by `owner`: it must not wait for that producer's flusher.
pub(crate) fn in_callback_of(owner: usize) -> bool {
    owner != 0 && IN_CALLBACK_OF.with(Cell::get) == owner
}

/// Runs user code `f` for the producer `owner`, catching a panic; returns
/// whether it panicked.
fn run_user_code(owner: usize, f: impl FnOnce()) -> bool {
    let outer = IN_CALLBACK_OF.with(|cell| cell.replace(owner));
    let panicked = catch_unwind(AssertUnwindSafe(f)).is_err();
    IN_CALLBACK_OF.with(|cell| cell.set(outer));
    panicked
}

/// The flusher's side of a [`DeliveryHandle`]. Dropped without being
/// completed (a send that failed at once is `disarm`ed first; otherwise only a
/// flusher that died), it completes the handle with [`ProducerError::Closed`],
/// so no handle ever waits forever.
pub(crate) struct Completer {
    shared: Arc<Shared>,
    callback: Option<Callback>,
    /// The producer's identity for [`in_callback_of`].
    owner: usize,
    done: bool,
}

impl std::fmt::Debug for Completer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completer")
            .field("callback", &self.callback.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// A connected handle and completer for the producer `owner`, with an
/// optional callback.
pub(crate) fn channel(owner: usize, callback: Option<Callback>) -> (DeliveryHandle, Completer) {
    let shared = Arc::new(Shared::default());
    (
        DeliveryHandle {
            shared: Arc::clone(&shared),
        },
        Completer {
            shared,
            callback,
            owner,
            done: false,
        },
    )
}

impl Completer {
    /// Resolves the handle (consumes the completer: a record completes once).
    /// The callback runs first (so a thread that sees the handle done also sees
    /// what the callback did), then waiters are woken.
    pub(crate) fn complete(mut self, result: DeliveryResult) {
        self.finish(result);
    }

    /// The send failed at once and its error was returned to the caller: the
    /// callback is dropped uncalled and the handle (also dropped) stays empty.
    pub(crate) fn disarm(mut self) {
        self.done = true;
        self.callback = None;
    }

    fn finish(&mut self, result: DeliveryResult) {
        self.done = true;
        if let Some(callback) = self.callback.take() {
            let for_callback = result.clone();
            // A panicking callback is caught: the flusher and the other
            // records' completions go on (documented on `send_with_callback`).
            let _panicked = run_user_code(self.owner, move || callback(for_callback));
        }
        let waker = {
            let mut slot = self.shared.slot.lock();
            slot.result = Some(result);
            // Release: pairs with the Acquire load in `DeliveryHandle::wait`, which
            // then reads `result` (under the lock, released just after).
            self.shared.ready.store(true, Ordering::Release);
            slot.waker.take()
        };
        self.shared.done.notify_all();
        if let Some(waker) = waker {
            // A waker is user code too (an executor's): same protection.
            let _panicked = run_user_code(self.owner, move || waker.wake());
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Err(ProducerError::Closed));
        }
    }
}

impl DeliveryHandle {
    /// The outcome if it is known.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.shared.slot.lock().result.clone()
    }

    /// True once the outcome is known.
    pub fn is_done(&self) -> bool {
        self.shared.slot.lock().result.is_some()
    }

    /// Blocks until the outcome is known. It always comes: every record completes
    /// by its delivery timeout or when the producer closes.
    // Under loom both spin counts are 0 (no spinning in models), which clippy
    // flags as an empty range and an always-false comparison.
    #[cfg_attr(
        all(loom, feature = "loom"),
        allow(clippy::reversed_empty_ranges, clippy::absurd_extreme_comparisons)
    )]
    pub fn wait(&self) -> DeliveryResult {
        // Spin, then yield, before parking: the flusher completes a batch's
        // records in one go, so the wait is usually short and a futex
        // round-trip (sleep and wake) costs more than it saves.
        for round in 0..WAIT_SPINS + WAIT_YIELDS {
            // Acquire: pairs with the Release store in `Completer::finish`.
            if self.shared.ready.load(Ordering::Acquire) {
                break;
            }
            if round < WAIT_SPINS {
                spin_loop();
            } else {
                yield_now();
            }
        }
        let mut slot = self.shared.slot.lock();
        loop {
            if let Some(result) = &slot.result {
                return result.clone();
            }
            slot = self.shared.done.wait_timeout(slot, Duration::from_secs(1));
        }
    }

    /// Blocks up to `timeout` (real time); `None` if the outcome is still unknown.
    /// A timeout too large for the clock (e.g. `Duration::MAX`) waits like
    /// [`DeliveryHandle::wait`].
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return Some(self.wait());
        };
        let mut slot = self.shared.slot.lock();
        loop {
            if let Some(result) = &slot.result {
                return Some(result.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            slot = self.shared.done.wait_timeout(slot, left);
        }
    }
}

impl Future for DeliveryHandle {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let mut slot = self.shared.slot.lock();
        match &slot.result {
            Some(result) => Poll::Ready(result.clone()),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
