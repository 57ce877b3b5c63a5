//! The parking spot of a [`MultiConsumer`](super::MultiConsumer): a
//! [`Waker`](std::task::Waker) that partitions' appends and the group
//! coordinator wake (it wakes the consumer's blocked thread, and forwards to the
//! task of a pending async wait), plus the [`WakeupHandle`] that interrupts a
//! blocked read or a pending async wait.

use std::sync::Arc;
use std::task::Wake;
use std::time::Instant;

use crate::sync::{AtomicUsize, Condvar, Mutex, Ordering};

/// Flag bit: an append or the coordinator woke the spot since the last `prepare`.
const NOTIFIED: usize = 1;
/// Flag bit: `wakeup()` was called and no blocking read has answered it yet.
const WAKEUP: usize = 2;

/// A consumer thread's parking spot. The flags are one atomic word, so a poll
/// that finds records checks and clears them with plain loads; the mutex is
/// taken only to sleep and to wake a sleeper (I6 in `crate::implementation`).
#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// [`NOTIFIED`] | [`WAKEUP`].
    flags: AtomicUsize,
    /// The task of a pending async wait: woken by every notification, a
    /// `wakeup()` included (the
    /// partitions and the group hold this consumer's own waker, never a
    /// task's, so two consumers polled by one task never share a
    /// registration). The sleeper checks `flags` under this lock.
    task: Mutex<Option<std::task::Waker>>,
    condvar: Condvar,
}

impl Signal {
    /// Forgets earlier notifications: call before the poll (and its group sync)
    /// whose empty result leads to `wait`, so a notification after that (even
    /// before `wait`) is kept.
    #[inline]
    pub(crate) fn prepare(&self) {
        // Acquire (both): pairs with the Release `fetch_or` in `notify`, so
        // the poll after this sees what the notifier published before a
        // notification we erase. A notification the load does not see yet is
        // simply kept (the wait returns at once: harmless).
        if self.flags.load(Ordering::Acquire) & NOTIFIED != 0 {
            self.flags.fetch_and(!NOTIFIED, Ordering::Acquire);
        }
    }

    /// Sleeps until a notification, a `wakeup()` or `deadline` (`None`: no limit).
    pub(crate) fn wait(&self, deadline: Option<Instant>) {
        let mut task = self.task.lock();
        // Acquire: pairs with the Release `fetch_or` in `notify`. A notifier
        // sets the flag before it takes the lock, so either this check sees it
        // or the notifier's lock waits for our wait (no lost wake-up).
        while self.flags.load(Ordering::Acquire) & (NOTIFIED | WAKEUP) == 0 {
            let remaining = match deadline {
                None => std::time::Duration::MAX,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(remaining) if !remaining.is_zero() => remaining,
                    _ => return,
                },
            };
            task = self.condvar.wait_timeout(task, remaining);
        }
    }

    /// Takes a pending `wakeup()`: true once per call of it.
    #[inline]
    pub(crate) fn take_wakeup(&self) -> bool {
        // Relaxed load: a wakeup it misses is seen by the next check (or ends
        // the wait, which checks the flags under the lock). An async wait
        // checks after `set_task`: a `wakeup()` whose `fetch_or` this load
        // misses took the lock after `set_task` released it (had it taken it
        // before, its unlock would happen before `set_task`'s lock, and so
        // would its `fetch_or` before this load), so it wakes the task, whose
        // re-poll checks again. Acquire RMW: pairs with the Release `fetch_or`
        // of `wakeup()` (in `notify`); exactly one taker clears it.
        self.flags.load(Ordering::Relaxed) & WAKEUP != 0
            && self.flags.fetch_and(!WAKEUP, Ordering::Acquire) & WAKEUP != 0
    }

    /// Sets (or, with `None`, clears) the task an async wait wakes. A pending
    /// async wait sets it before it checks for a `wakeup()` (`take_wakeup`),
    /// so a `wakeup()` the check misses wakes the task.
    #[cfg(feature = "async")]
    pub(crate) fn set_task(&self, waker: Option<&std::task::Waker>) {
        let mut task = self.task.lock();
        match waker {
            Some(waker) if task.as_ref().is_some_and(|task| task.will_wake(waker)) => {}
            Some(waker) => *task = Some(waker.clone()),
            None => *task = None,
        }
    }

    fn notify(&self, wakeup: bool) {
        // Release: pairs with the Acquire loads and RMWs of the consumer
        // (`prepare`, `wait`, `take_wakeup`): what we published before this
        // wake-up is visible to the poll that follows it.
        self.flags.fetch_or(
            if wakeup { NOTIFIED | WAKEUP } else { NOTIFIED },
            Ordering::Release,
        );
        let task = {
            let task = self.task.lock();
            // Under the lock: the sleeper checks the flags under it, so this
            // cannot fall between its check and its wait.
            self.condvar.notify_all();
            // The task of a pending async wait, for a `wakeup()` too (its
            // re-poll takes it: `take_wakeup`). The poll sets its task under
            // this lock (`set_task`) before it checks `WAKEUP`, and we set
            // `WAKEUP` before taking the lock: either our lock comes after its
            // `set_task`, and we see (and wake) the task, or it comes before,
            // and its check sees the flag (I6).
            task.clone()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.notify(false);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify(false);
    }
}

/// Interrupts a [`MultiConsumer`](super::MultiConsumer)'s blocking read from
/// another thread (Kafka's `consumer.wakeup()`): the read in progress, or the
/// next one if none is, returns [`ConsumerError::Woken`](crate::ConsumerError::Woken)
/// (a blocking iterator ends). A pending async wait (feature `async`) is a
/// read in progress too: `readable()` resolves to `Err(Woken)` and a record
/// stream's `next()` to `Some(Err(Woken))` (the stream goes on after it). Each
/// `wakeup()` is answered once, by one read or wait; calls before it is
/// answered count as one. `Clone`, `Send` and `Sync`.
///
/// ```
/// use idemlog::{consumer::ConsumerConfig, ConsumerError, Log};
/// use std::time::Duration;
/// let log = Log::new();
/// log.create_topic("t", 2).unwrap();
/// let mut consumer = log.multi_consumer(ConsumerConfig::new()).unwrap();
/// consumer.assign_topic("t").unwrap();
/// let wakeup = consumer.wakeup_handle();
/// let waker = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(20));
///     wakeup.wakeup();
/// });
/// let blocked = consumer.poll_with_timeout(10, Duration::from_secs(60), |_| ());
/// assert_eq!(blocked, Err(ConsumerError::Woken));
/// waker.join().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct WakeupHandle {
    signal: Arc<Signal>,
}

impl WakeupHandle {
    pub(crate) fn new(signal: Arc<Signal>) -> Self {
        Self { signal }
    }

    /// Interrupts the consumer's blocking read (or its next one) with
    /// [`ConsumerError::Woken`](crate::ConsumerError::Woken); likewise a
    /// pending async wait (feature `async`: `readable()` resolves to
    /// `Err(Woken)`, a record stream's `next()` to `Some(Err(Woken))`), whose
    /// task it wakes. The read or wait that answers it consumes it: the one
    /// after is not interrupted.
    pub fn wakeup(&self) {
        self.signal.notify(true);
    }
}
