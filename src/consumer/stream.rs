//! The async consumer API (feature `async`, which depends on `futures-core`
//! only): [`MultiConsumer::readable`], a future that resolves once an assigned
//! partition has a record (then the synchronous zero-copy
//! [`poll_with`](MultiConsumer::poll_with) reads it), and
//! [`MultiConsumer::stream`], a [`Stream`] of owned records.
//!
//! Both are woken by the append path under I6 (`crate::implementation`): a
//! pending poll sets the task's [`Waker`] on the consumer's own parking spot
//! (`src/consumer/signal.rs`), registers that spot's waker on every assigned
//! partition and re-checks each partition after registering; an append that
//! finds registrations takes them all and wakes them, the spot forwards to the
//! task, and an appender pays one plain load when nobody waits. A group
//! member's coordinator wakes the same spot when the member must sync (a
//! rebalance, or a partition of its new target released by its previous
//! owner). Only the consumer's own waker is ever registered, so two consumers
//! polled by one task never share (and never remove each other's)
//! registrations.
//!
//! As the blocking reads:
//! - [`WakeupHandle::wakeup`](crate::consumer::WakeupHandle::wakeup) from
//!   another thread interrupts them: a pending `readable()` resolves to
//!   `Err(ConsumerError::Woken)`, the stream's next item is
//!   `Err(ConsumerError::Woken)` (and the stream goes on), and the wakeup is
//!   consumed. The spot forwards a wakeup to the task as it forwards an
//!   append's notification; the poll takes the wakeup after setting its task
//!   on the spot, so one that comes during the poll still wakes the task (I6).
//!   An async read can also be cancelled by dropping its future
//!   (`tokio::select!`, a timeout).
//! - As a blocked read, a pending async wait counts as polling: the group does
//!   not expire a member while it waits, however long (G1 in
//!   `crate::implementation`); it is woken to sync by a rebalance.
//!
//! The futures reach the consumer's backend through the facade
//! (src/consumer/multi.rs); the in-process backend's side, `LogConsumer`'s
//! `poll_readable` and `end_async_wait`, is here.
//!
//! Both are cancel safe: a record is taken from the log only by the poll that
//! returns it, so dropping a pending future loses nothing, and it removes the
//! task's registrations.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::consumer::log_consumer::LogConsumer;
use crate::consumer::multi::MultiConsumer;
use crate::consumer_error::ConsumerError;
use crate::log::Readiness;
use crate::record::ConsumerRecord;

/// How many times one `poll_next` looks for a record after the partitions said
/// one is readable, before it yields to the executor (a record evicted between
/// the check and the read, reset by `auto.offset.reset`, may need a second look;
/// this bounds the work of one poll).
const ROUNDS: usize = 4;

impl LogConsumer {
    /// Whether an assigned partition has a record, registering `cx`'s waker on
    /// every assigned partition (and with the group) if none has (I6).
    /// `Ready(Ok(()))` deregisters it again. A `wakeup()` (pending, or coming
    /// while the wait is) is taken and answered first: `Ready(Err(Woken))`.
    pub(crate) fn poll_readable(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ConsumerError>> {
        // The partitions and the group wake the consumer's own parking spot,
        // which forwards to the task set here: set before the sync, a rebalance
        // (or release) either comes before the sync, which applies it, or wakes
        // this task.
        self.signal.set_task(Some(cx.waker()));
        // After `set_task`: a `wakeup()` this misses wakes the task, whose
        // re-poll takes it here (I6). Checked first, as a blocking poll does:
        // a wakeup is answered even if a record is readable.
        if self.take_wakeup() {
            return Poll::Ready(Err(ConsumerError::Woken));
        }
        if let Err(error) = self.before_poll() {
            self.deregister_all();
            return Poll::Ready(Err(error));
        }
        if self.slots.is_empty() && self.membership.is_none() {
            return Poll::Ready(Err(ConsumerError::NoAssignment));
        }
        if self.slots.iter().any(|slot| slot.needs_offset) {
            // `auto.offset.reset=none` and no offset: `poll_with` has an error
            // to report (`NoOffset`) until a seek, so there is nothing to wait for.
            self.deregister_all();
            return Poll::Ready(Ok(()));
        }
        // A group member with no partitions yet registers with the group only:
        // the coordinator wakes it when it has some.
        match self.register_all() {
            Ok(Readiness::Readable) => {
                self.deregister_all();
                Poll::Ready(Ok(()))
            }
            // An appender has reserved a waited-for offset and is mid-append; it
            // may have looked at the waiters before our registration (I6), so it
            // may not wake us: yield (wake ourselves) instead of waiting.
            Ok(Readiness::Reserved) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            // Every appender that reserves a waited-for offset sees our
            // registration, takes it and wakes the task. Waiting inside the
            // poll is polling: the group does not expire the member (G1). A
            // member expired since this poll's sync would never be woken by
            // the group: poll again at once, which reports the expiry.
            Ok(Readiness::Empty) => {
                if !self.start_waiting() {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            Err(error) => {
                self.deregister_all();
                Poll::Ready(Err(error))
            }
        }
    }

    /// Takes a pending `wakeup()`, if any, and then ends the wait it
    /// interrupts (the registrations; no longer waiting for the group). The
    /// task stays set on the parking spot, as after any item of a stream.
    pub(super) fn take_wakeup(&mut self) -> bool {
        let woken = self.signal.take_wakeup();
        if woken {
            self.deregister_all();
            self.stop_waiting();
        }
        woken
    }

    /// Ends an async wait: removes the task's registrations from the
    /// partitions, and hands the group back the consumer's own waker (so the
    /// coordinator holds no waker of a task that stopped waiting).
    pub(super) fn end_async_wait(&mut self) {
        self.deregister_all();
        self.signal.set_task(None);
        self.stop_waiting();
    }
}

/// The future of [`MultiConsumer::readable`]: resolves once any assigned
/// partition has a record, or to [`ConsumerError::Woken`] after a
/// [`wakeup()`](crate::consumer::WakeupHandle::wakeup). Dropping it removes
/// its registrations.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Readable<'a> {
    consumer: &'a mut MultiConsumer,
}

impl<'a> Readable<'a> {
    /// The future of `consumer.readable()`.
    pub(super) fn new(consumer: &'a mut MultiConsumer) -> Self {
        Self { consumer }
    }
}

impl Future for Readable<'_> {
    type Output = Result<(), ConsumerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().consumer.poll_readable(cx)
    }
}

impl Drop for Readable<'_> {
    fn drop(&mut self) {
        self.consumer.end_async_wait();
    }
}

/// The [`Stream`] of [`MultiConsumer::stream`]: the consumer's records, owned.
/// It never ends; an error is an item and the stream goes on after it (a
/// [`wakeup()`](crate::consumer::WakeupHandle::wakeup) is the item
/// `Err(ConsumerError::Woken)`). Dropping it removes its registrations.
#[must_use = "streams do nothing unless polled"]
#[derive(Debug)]
pub struct RecordStream<'a> {
    consumer: &'a mut MultiConsumer,
}

impl<'a> RecordStream<'a> {
    /// The stream of `consumer.stream()`.
    pub(super) fn new(consumer: &'a mut MultiConsumer) -> Self {
        Self { consumer }
    }

    /// The consumer, between items: to commit what was processed, seek, look
    /// at the lag or the assignment.
    pub fn consumer(&mut self) -> &mut MultiConsumer {
        self.consumer
    }

    /// The next item (what `StreamExt::next` of the futures crates answers,
    /// without needing one): always `Some`, as the stream never ends. Cancel
    /// safe.
    pub async fn next(&mut self) -> Option<Result<ConsumerRecord, ConsumerError>> {
        /// Ends the wait if the `next()` future is dropped while pending.
        struct Pending<'s, 'c> {
            stream: &'s mut RecordStream<'c>,
            done: bool,
        }
        impl Drop for Pending<'_, '_> {
            fn drop(&mut self) {
                if !self.done {
                    self.stream.consumer.end_async_wait();
                }
            }
        }
        let mut pending = Pending {
            stream: self,
            done: false,
        };
        let item = std::future::poll_fn(|cx| Pin::new(&mut *pending.stream).poll_next(cx)).await;
        pending.done = true;
        item
    }
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord, ConsumerError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let consumer = &mut *self.get_mut().consumer;
        // A pending `wakeup()` first, as a blocking read (`recv_timeout`, the
        // blocking iterator) answers it before reading; one that comes later
        // is taken by `poll_readable`, before the stream waits.
        if consumer.take_wakeup() {
            return Poll::Ready(Some(Err(ConsumerError::Woken)));
        }
        for _ in 0..ROUNDS {
            match consumer.try_recv() {
                Ok(Some(record)) => {
                    // Reading, not waiting: leave no registration behind that
                    // would send the partitions' appenders down the slow path
                    // (a no-op unless a wait registered).
                    consumer.deregister_all();
                    return Poll::Ready(Some(Ok(record)));
                }
                Ok(None) => {}
                Err(error) => {
                    consumer.deregister_all();
                    return Poll::Ready(Some(Err(error)));
                }
            }
            match consumer.poll_readable(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                // Something to read now: read it.
                Poll::Ready(Ok(())) => {}
            }
        }
        // Readable, yet nothing read several times (records evicted under us):
        // let other tasks run, then look again.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for RecordStream<'_> {
    fn drop(&mut self) {
        self.consumer.end_async_wait();
    }
}
