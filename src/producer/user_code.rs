//! Running application code on the flusher thread: delivery callbacks and the
//! wakers of tasks awaiting a [`DeliveryHandle`](super::DeliveryHandle).
//!
//! User code runs inside `catch_unwind`: a panic there is caught (and reported
//! by the panic hook as usual), the flusher goes on, and every other record
//! still completes. The panic's payload is user data too, dropped under
//! `catch_unwind` as well: a payload whose drop panics in turn is leaked
//! rather than let that second panic unwind the flusher. While it runs, the thread is marked as being "inside a
//! callback of this producer", so that `flush`, `close`, `wait` and a blocking
//! `send` called from there do not wait for the very thread they run on (see
//! [`ProducerError::InCallback`](super::ProducerError::InCallback)).

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

// std's atomic even under loom: a process-wide id counter (loom atomics cannot
// be statics), read for uniqueness only.
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(not(all(loom, feature = "loom")))]
thread_local! {
    /// The producer whose user code this thread is running now; 0 if none.
    static IN_CALLBACK_OF: Cell<u64> = const { Cell::new(0) };
}

// Loom runs every model thread on one OS thread: a std thread-local would be
// shared by all of them.
#[cfg(all(loom, feature = "loom"))]
loom::thread_local! {
    /// The producer whose user code this thread is running now; 0 if none.
    static IN_CALLBACK_OF: Cell<u64> = Cell::new(0);
}

/// Producer instance ids: unique for the process's life (never reused, unlike
/// an address), starting at 1.
static NEXT_PRODUCER: AtomicU64 = AtomicU64::new(1);

/// A new producer instance id.
pub(crate) fn new_owner() -> u64 {
    // Relaxed: only uniqueness matters; no data is published with the id.
    NEXT_PRODUCER.fetch_add(1, Ordering::Relaxed)
}

/// True if this thread is running a delivery callback (or waker) of the
/// producer `owner`: it must not wait for that producer's flusher.
pub(crate) fn in_callback_of(owner: u64) -> bool {
    owner != 0 && IN_CALLBACK_OF.with(Cell::get) == owner
}

/// Runs user code `f` for the producer `owner`, catching a panic; returns
/// whether it panicked.
pub(crate) fn run_user_code(owner: u64, f: impl FnOnce()) -> bool {
    let outer = IN_CALLBACK_OF.with(|cell| cell.replace(owner));
    let panicked = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => false,
        Err(payload) => {
            drop_payload(payload);
            true
        }
    };
    IN_CALLBACK_OF.with(|cell| cell.set(outer));
    panicked
}

/// Drops a caught panic's payload, whose `Drop` is user code that may panic
/// too; the payload of that second panic is leaked, not dropped (its drop
/// could panic again, without end).
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}
