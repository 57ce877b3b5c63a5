//! The parking spot of a [`MultiConsumer`](super::MultiConsumer): a
//! [`Waker`](std::task::Waker) that partitions' appends and the group
//! coordinator wake (it wakes the consumer's blocked thread, and forwards to the
//! task of a pending async wait), plus the [`WakeupHandle`] that interrupts a
//! blocked read.

use std::sync::Arc;
use std::task::Wake;
use std::time::Instant;

use crate::sync::{Condvar, Mutex};

/// What woke the thread.
#[derive(Debug, Default)]
struct Flags {
    /// An append or the coordinator woke it since the last `prepare`.
    notified: bool,
    /// `wakeup()` was called and no blocking read has answered it yet.
    wakeup: bool,
    /// The task of a pending async wait: woken by every notification (the
    /// partitions and the group hold this consumer's own waker, never a task's,
    /// so two consumers polled by one task never share a registration).
    task: Option<std::task::Waker>,
}

/// A consumer thread's parking spot.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    flags: Mutex<Flags>,
    condvar: Condvar,
}

impl Signal {
    /// Forgets earlier notifications: call before the poll (and its group sync)
    /// whose empty result leads to `wait`, so a notification after that (even
    /// before `wait`) is kept.
    pub(crate) fn prepare(&self) {
        self.flags.lock().notified = false;
    }

    /// Sleeps until a notification, a `wakeup()` or `deadline` (`None`: no limit).
    pub(crate) fn wait(&self, deadline: Option<Instant>) {
        let mut flags = self.flags.lock();
        while !flags.notified && !flags.wakeup {
            let remaining = match deadline {
                None => std::time::Duration::MAX,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(remaining) if !remaining.is_zero() => remaining,
                    _ => return,
                },
            };
            flags = self.condvar.wait_timeout(flags, remaining);
        }
    }

    /// Takes a pending `wakeup()`: true once per call of it.
    pub(crate) fn take_wakeup(&self) -> bool {
        std::mem::take(&mut self.flags.lock().wakeup)
    }

    /// Sets (or, with `None`, clears) the task an async wait wakes.
    #[cfg(feature = "async")]
    pub(crate) fn set_task(&self, waker: Option<&std::task::Waker>) {
        let mut flags = self.flags.lock();
        match waker {
            Some(waker)
                if flags
                    .task
                    .as_ref()
                    .is_some_and(|task| task.will_wake(waker)) => {}
            Some(waker) => flags.task = Some(waker.clone()),
            None => flags.task = None,
        }
    }

    fn notify(&self, wakeup: bool) {
        let task = {
            let mut flags = self.flags.lock();
            flags.notified = true;
            flags.wakeup |= wakeup;
            // Under the lock: the sleeper checks the flags under it, so this cannot
            // fall between its check and its wait.
            self.condvar.notify_all();
            // `wakeup()` does not interrupt an async wait.
            if wakeup {
                None
            } else {
                flags.task.clone()
            }
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
/// (a blocking iterator ends). `Clone`, `Send` and `Sync`.
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

    /// Interrupts the consumer's blocking read (or its next one).
    pub fn wakeup(&self) {
        self.signal.notify(true);
    }
}
