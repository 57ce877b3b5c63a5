//! loom: one batch completion, many waiters (P4 in `idemlog::implementation`;
//! `Completion::complete`: the
//! outcome under the slot mutex, the Release store of `done`, `notify_all`,
//! then every registered waker; `DeliveryHandle::wait` parks on the condvar,
//! `DeliveryHandle::poll` registers its waker under the same mutex,
//! deduplicated by `will_wake`).
//!
//! Two threads wait on clones of ONE handle while the flusher sends its batch
//! and completes it: one blocks in `wait()`, one polls the handle as a
//! `Future` with a hand-made waker that counts its wake-ups, polls it twice
//! while pending (the same waker: registered once), then yields until woken
//! and polls again. Both see the same `Ok` (offset 0); a `wait` never misses
//! the notification (a lost one is a deadlock: loom's timed waits are
//! untimed); a future that returned `Pending` is woken exactly once (a lost
//! wake-up leaves the poller spinning until loom's branch limit), and after
//! the wake-up its next poll is `Ready` (the outcome is published before the
//! wakers run).
//!
//! At-least-once (no producer-id handshake), `linger.ms = 0`, `batch.size = 0`
//! (the batch holds the one record), virtual time; segments of 128 bytes.
#![cfg(loom)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed as StdRelaxed};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::{assert_every_outcome, check, one_record_producer, read_all};
use idemlog::producer::{DeliveryHandle, DeliveryResult, ProducerRecord};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// A waker that counts its wake-ups (in a loom atomic: the Release increment
/// publishes what the completer did before waking).
struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::Release);
    }
}

/// How the future got its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Polled {
    /// `Ready` at the first poll (never registered).
    AtOnce,
    /// `Pending`, then `Ready` at the second poll (registered: a wake-up follows).
    SecondPoll,
    /// `Pending` twice, then woken, then `Ready`.
    Woken,
}

/// Polls `handle` to completion the way an executor would, with a waker of
/// its own: twice (the same waker each time), then, if still pending, yields
/// until woken and polls once more.
fn await_by_polling(
    mut handle: DeliveryHandle,
    state: &std::sync::Arc<CountingWaker>,
) -> (DeliveryResult, Polled) {
    let waker = Waker::from(std::sync::Arc::clone(state));
    let mut cx = Context::from_waker(&waker);
    if let Poll::Ready(result) = Pin::new(&mut handle).poll(&mut cx) {
        return (result, Polled::AtOnce);
    }
    if let Poll::Ready(result) = Pin::new(&mut handle).poll(&mut cx) {
        return (result, Polled::SecondPoll);
    }
    // Pending twice with the same waker: it must be woken later.
    while state.wakes.load(Ordering::Acquire) == 0 {
        thread::yield_now();
    }
    match Pin::new(&mut handle).poll(&mut cx) {
        Poll::Ready(result) => (result, Polled::Woken),
        Poll::Pending => panic!("woken, but the outcome is not visible yet"),
    }
}

/// Executions by `Polled` outcome.
static SEEN: [StdAtomicUsize; 3] = [
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
];

#[test]
fn wait_and_future_on_one_handle() {
    check("producer_completion_two_waiters", || {
        let (log, producer) = one_record_producer();
        let handle = producer.send(ProducerRecord::new("t", "a")).unwrap();

        let blocking = {
            let handle = handle.clone();
            thread::spawn(move || handle.wait())
        };
        let state = std::sync::Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
        });
        let polling = {
            let handle = handle.clone();
            let state = std::sync::Arc::clone(&state);
            thread::spawn(move || await_by_polling(handle, &state))
        };
        let waited = blocking.join().unwrap();
        let (polled, how) = polling.join().unwrap();
        // The flusher has run every waker once `close` returns (it joins it).
        producer.close(Duration::MAX).unwrap();

        let meta = waited.expect("delivered");
        assert_eq!(
            (meta.partition, meta.offset, meta.duplicate),
            (0, Some(0), false)
        );
        assert_eq!(
            polled.expect("delivered"),
            meta,
            "both waiters see the same outcome"
        );
        assert_eq!(handle.try_result().unwrap().unwrap(), meta);
        // Registered once however often it was polled; woken iff registered.
        let wakes = state.wakes.load(Ordering::Relaxed);
        let registered = how != Polled::AtOnce;
        assert_eq!(wakes, usize::from(registered), "wake-ups ({how:?})");
        let mut consumer = log.consumer("t", 0).unwrap();
        assert_eq!(
            read_all(&mut consumer, 0).unwrap(),
            vec![(0, b"a".to_vec())]
        );
        SEEN[how as usize].fetch_add(1, StdRelaxed);
    });
    assert_every_outcome(
        "wait_and_future_on_one_handle",
        "at once, second poll, woken",
        &SEEN,
    );
}
