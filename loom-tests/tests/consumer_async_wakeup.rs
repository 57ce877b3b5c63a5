//! Model (k): the async consumer (feature `async`, src/consumer/stream.rs) vs a
//! concurrent append (I6). A spawned thread drives a `MultiConsumer`'s
//! `readable()` (then the zero-copy `poll_with`) or its `stream()` with
//! `loom::future::block_on` while another spawned thread appends one record.
//! A lost wake-up leaves `block_on` waiting on a notification no one sends:
//! loom reports a deadlock.
//!
//! `block_on` is wrapped in a fair executor (`Fair`): a pending poll yields
//! to the other threads before `block_on` waits. Without it, a task that wakes
//! itself (the `Reserved` case: an appender is mid-append and may have missed
//! the registration, so the task re-polls instead of waiting) would be re-polled
//! at once, forever, in the executions where loom does not preempt it: loom's
//! branch limit, not a bug. A real executor runs other tasks and threads first.
//!
//! - `readable_is_woken_by_the_append`: one partition, loom's own `block_on`
//!   waker set on the consumer's parking spot as it is. That waker does not
//!   `will_wake` its clones (its vtable pointer differs from theirs; the model
//!   counts it, and clones do `will_wake` each other), so at every poll the
//!   spot replaces its task waker: the path of a task whose waker changes
//!   between polls (the partitions hold the consumer's own waker, which never
//!   changes). Asserts both outcomes: ready at the first poll, and pending then
//!   ready.
//! - `stream_is_woken_by_the_append_on_the_second_partition`: two partitions,
//!   the record appended to the second, so the append races the registration
//!   on partition 1 after the one on partition 0. The waker is a tap around
//!   `block_on`'s that tells a self-wake (the `Reserved` yield) from the
//!   appender's wake. Asserts all three outcomes: ready at once, woken by the
//!   appender, and yielded at least once because the offset was reserved.
//! - `member_without_partitions_is_woken_by_the_rebalance`: a group of two
//!   members on a one-partition topic holding one record; the second member
//!   owns nothing and awaits `readable()` while the first leaves (a rebalance:
//!   the coordinator wakes the members). The second must be woken, take the
//!   partition and read the record: the task is set on the parking spot
//!   (which the coordinator wakes) before the poll's sync, so a rebalance
//!   between the sync and the registration still wakes the task. Asserts both outcomes: ready at once (the first had
//!   left), and pending then ready.
//! - `readable_is_interrupted_by_wakeup`: one partition, `readable()` vs
//!   `WakeupHandle::wakeup()` from another thread. It must resolve to
//!   `Err(Woken)` whether the wakeup comes before the first poll, between its
//!   `set_task` and its check, or while it is pending (the spot forwards a
//!   wakeup to the task as it forwards an append's notification), and the
//!   wakeup is taken once: a blocking poll after it reads a record instead of
//!   answering `Woken` again. Asserts both outcomes: ready at once, and
//!   pending then ready.
//! - `stream_is_interrupted_by_wakeup`: the same for `stream().next()` on two
//!   partitions (its item is `Err(Woken)`, and the stream goes on to the
//!   record appended after it).
//!
//! Segments of 128 bytes, 4 at most, as the other models.
#![cfg(loom)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed as StdRelaxed};
use std::task::{Context, Poll, Wake, Waker};

use common::{assert_every_outcome, batch, check, rec, value};
use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::{ConsumerError, Log, LogConfig, MultiConsumer};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

/// A log of 128-byte segments with one topic "t" of `partitions`, and a
/// consumer assigned all of them from the log start.
fn consumer_of(partitions: u32) -> (Log, MultiConsumer) {
    let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4))
        .expect("valid config");
    log.create_topic("t", partitions).expect("new topic");
    let config = ConsumerConfig::new().offset_reset(OffsetReset::Earliest);
    let mut consumer = log.multi_consumer(config).expect("consumer");
    consumer.assign_topic("t").expect("assigned");
    (log, consumer)
}

/// A fair executor's view of one future: counts the polls, and after a pending
/// one lets the other threads run before `block_on` waits.
struct Fair<F> {
    future: F,
    polls: usize,
}

impl<F: Future + Unpin> Future for Fair<F> {
    type Output = (F::Output, usize);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        match Pin::new(&mut self.future).poll(cx) {
            Poll::Ready(output) => Poll::Ready((output, self.polls)),
            Poll::Pending => {
                thread::yield_now();
                Poll::Pending
            }
        }
    }
}

/// Drives `future` to completion with `loom::future::block_on`; the output and
/// how many polls it took.
fn block_on_fair<F: Future + Unpin>(future: F) -> (F::Output, usize) {
    loom::future::block_on(Fair { future, polls: 0 })
}

/// loom's `block_on` waker vs a clone, and a clone vs its clone: [original
/// false, original true, clones false, clones true].
static WILL_WAKE: [StdAtomicUsize; 4] = [
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
];

/// Executions of `readable_is_woken_by_the_append`: [ready at once, pending then ready].
static READABLE: [StdAtomicUsize; 2] = [StdAtomicUsize::new(0), StdAtomicUsize::new(0)];

#[test]
fn readable_is_woken_by_the_append() {
    check("consumer_async_readable", || {
        let (log, mut consumer) = consumer_of(1);
        let partition = log.partition("t", 0).expect("partition 0");

        let appender = thread::spawn(move || partition.append(None, batch('a', 1)));
        let reader = thread::spawn(move || {
            // Whether loom's waker dedups with its clones (`will_wake`), as the
            // consumer and the waker list compare them.
            let (original, clones) = loom::future::block_on(std::future::poll_fn(|cx| {
                let clone = cx.waker().clone();
                Poll::Ready((
                    cx.waker().will_wake(&clone),
                    clone.will_wake(&clone.clone()),
                ))
            }));
            WILL_WAKE[usize::from(original)].fetch_add(1, StdRelaxed);
            WILL_WAKE[2 + usize::from(clones)].fetch_add(1, StdRelaxed);

            let (readable, polls) = block_on_fair(consumer.readable());
            readable.expect("readable");
            let mut seen = Vec::new();
            let read = consumer
                .poll_with(4, |view| seen.push((view.offset, view.value.to_vec())))
                .expect("in range");
            assert_eq!(read, 1, "the record is there once readable() resolved");
            assert_eq!(seen, vec![(0, value('a', 0))]);
            polls
        });

        let polls = reader.join().expect("reader");
        let outcome = appender.join().expect("appender").expect("appended");
        assert_eq!(outcome.base_offset, 0);
        READABLE[usize::from(polls > 1)].fetch_add(1, StdRelaxed);
    });
    let will_wake = WILL_WAKE.each_ref().map(|n| n.load(StdRelaxed));
    println!(
        "loom's block_on waker will_wake [original false/true, clones false/true]: {will_wake:?}"
    );
    assert_every_outcome(
        "readable_is_woken_by_the_append",
        "at once, pending then ready",
        &READABLE,
    );
}

/// A waker around `block_on`'s that records who woke it: the polling thread
/// itself (a `Reserved` yield) or another thread (the appender).
struct Tap {
    inner: Waker,
    poller: thread::ThreadId,
    self_woken: AtomicBool,
    woken_by_other: AtomicBool,
}

impl Wake for Tap {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let flag = if thread::current().id() == self.poller {
            &self.self_woken
        } else {
            &self.woken_by_other
        };
        // Relaxed: only the polling thread reads these, after `block_on`
        // returned, which the wake-up below happens before (loom's notify).
        flag.store(true, Ordering::Relaxed);
        self.inner.wake_by_ref();
    }
}

/// Polls `future` with one `Tap` waker (built at the first poll, from
/// `block_on`'s), so every poll registers the same waker.
struct Tapped<F> {
    future: F,
    tap: Option<(std::sync::Arc<Tap>, Waker)>,
}

impl<F: Future + Unpin> Future for Tapped<F> {
    type Output = (F::Output, std::sync::Arc<Tap>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let (tap, waker) = this.tap.get_or_insert_with(|| {
            let tap = std::sync::Arc::new(Tap {
                inner: cx.waker().clone(),
                poller: thread::current().id(),
                self_woken: AtomicBool::new(false),
                woken_by_other: AtomicBool::new(false),
            });
            let waker = Waker::from(std::sync::Arc::clone(&tap));
            (tap, waker)
        });
        match Pin::new(&mut this.future).poll(&mut Context::from_waker(waker)) {
            Poll::Ready(output) => Poll::Ready((output, std::sync::Arc::clone(tap))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// How the stream's first item came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Came {
    /// At the first poll.
    AtOnce,
    /// Pending, then woken by the appender (or re-polled spuriously by
    /// `block_on`), never yielding.
    Woken,
    /// The offset was reserved at some poll: the task woke itself (and may have
    /// been woken by the appender too).
    AfterYield,
}

/// Executions of `stream_is_woken_by_the_append_on_the_second_partition` by `Came`.
static STREAM: [StdAtomicUsize; 3] = [
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
    StdAtomicUsize::new(0),
];

#[test]
fn stream_is_woken_by_the_append_on_the_second_partition() {
    check("consumer_async_stream_two_partitions", || {
        let (log, mut consumer) = consumer_of(2);
        let partition = log.partition("t", 1).expect("partition 1");

        let appender = thread::spawn(move || partition.append(None, batch('b', 1)));
        let reader = thread::spawn(move || {
            let mut records = consumer.stream();
            let ((item, tap), polls) = block_on_fair(Tapped {
                future: Box::pin(records.next()),
                tap: None,
            });
            let record = item.expect("the stream never ends").expect("a record");
            assert_eq!(
                (record.partition, record.offset, record.value.to_vec()),
                (1, 0, value('b', 0))
            );
            drop(records);
            // Read once: nothing more.
            assert!(consumer.try_recv().expect("in range").is_none());
            assert_eq!(consumer.position("t", 1).expect("assigned"), 1);
            // Pending then ready with neither flag: `block_on` may wake
            // spuriously (once), and the appender's wake may come after the
            // re-poll read its record.
            if polls == 1 {
                Came::AtOnce
            } else if tap.self_woken.load(Ordering::Relaxed) {
                Came::AfterYield
            } else {
                Came::Woken
            }
        });

        let came = reader.join().expect("reader");
        let outcome = appender.join().expect("appender").expect("appended");
        assert_eq!(outcome.base_offset, 0);
        STREAM[came as usize].fetch_add(1, StdRelaxed);
    });
    assert_every_outcome(
        "stream_is_woken_by_the_append_on_the_second_partition",
        "at once, woken, after a yield",
        &STREAM,
    );
}

/// Executions of `member_without_partitions_is_woken_by_the_rebalance`: [ready
/// at once, pending then ready].
static REBALANCE: [StdAtomicUsize; 2] = [StdAtomicUsize::new(0), StdAtomicUsize::new(0)];

#[test]
fn member_without_partitions_is_woken_by_the_rebalance() {
    check("consumer_async_rebalance", || {
        let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4))
            .expect("valid config");
        log.create_topic("t", 1).expect("new topic");
        log.append("t", 0, None, [rec('r', 0)]).expect("append");
        let config = ConsumerConfig::new()
            .group_id("g")
            .offset_reset(OffsetReset::Earliest)
            .auto_commit(false);
        let mut first = log.subscribe(config.clone(), &["t"]).expect("first");
        // Takes the partition (reads nothing).
        assert_eq!(first.poll(0).expect("synced").len(), 0);
        let mut second = log.subscribe(config, &["t"]).expect("second");

        let leaver = thread::spawn(move || drop(first));
        let reader = thread::spawn(move || {
            let (readable, polls) = block_on_fair(second.readable());
            readable.expect("readable");
            let mut seen = Vec::new();
            second
                .poll_with(4, |view| seen.push((view.offset, view.value.to_vec())))
                .expect("in range");
            assert_eq!(seen, vec![(0, value('r', 0))], "took the partition");
            polls
        });

        let polls = reader.join().expect("reader");
        leaver.join().expect("leaver");
        REBALANCE[usize::from(polls > 1)].fetch_add(1, StdRelaxed);
    });
    assert_every_outcome(
        "member_without_partitions_is_woken_by_the_rebalance",
        "at once, pending then ready",
        &REBALANCE,
    );
}

/// Long enough never to end a blocking poll under loom (a timed wait never
/// times out there): a poll that should return at once and does not shows as
/// a deadlock.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Executions of `readable_is_interrupted_by_wakeup`: [ready at once, pending
/// then ready].
static WAKEUP_READABLE: [StdAtomicUsize; 2] = [StdAtomicUsize::new(0), StdAtomicUsize::new(0)];

#[test]
fn readable_is_interrupted_by_wakeup() {
    check("consumer_async_readable_wakeup", || {
        let (log, mut consumer) = consumer_of(1);
        let handle = consumer.wakeup_handle();

        let waker = thread::spawn(move || handle.wakeup());
        let reader = thread::spawn(move || {
            let (readable, polls) = block_on_fair(consumer.readable());
            assert_eq!(readable, Err(ConsumerError::Woken));
            // Taken: a blocking poll now reads the record, no second `Woken`.
            log.append("t", 0, None, batch('w', 1)).expect("append");
            let mut seen = Vec::new();
            let read = consumer
                .poll_with_timeout(4, FOREVER, |view| {
                    seen.push((view.offset, view.value.to_vec()))
                })
                .expect("the wakeup was taken by readable()");
            assert_eq!((read, seen), (1, vec![(0, value('w', 0))]));
            polls
        });

        let polls = reader.join().expect("reader");
        waker.join().expect("waker");
        WAKEUP_READABLE[usize::from(polls > 1)].fetch_add(1, StdRelaxed);
    });
    assert_every_outcome(
        "readable_is_interrupted_by_wakeup",
        "at once, pending then ready",
        &WAKEUP_READABLE,
    );
}

/// Executions of `stream_is_interrupted_by_wakeup`: [ready at once, pending
/// then ready].
static WAKEUP_STREAM: [StdAtomicUsize; 2] = [StdAtomicUsize::new(0), StdAtomicUsize::new(0)];

#[test]
fn stream_is_interrupted_by_wakeup() {
    check("consumer_async_stream_wakeup", || {
        let (log, mut consumer) = consumer_of(2);
        let handle = consumer.wakeup_handle();

        let waker = thread::spawn(move || handle.wakeup());
        let reader = thread::spawn(move || {
            let mut records = consumer.stream();
            let (item, polls) = block_on_fair(Box::pin(records.next()));
            assert!(
                matches!(item, Some(Err(ConsumerError::Woken))),
                "interrupted: {item:?}"
            );
            // Taken, and the stream goes on: the next item is the record.
            log.append("t", 1, None, batch('s', 1)).expect("append");
            let (item, _) = block_on_fair(Box::pin(records.next()));
            let record = item.expect("the stream never ends").expect("a record");
            assert_eq!(
                (record.partition, record.offset, record.value.to_vec()),
                (1, 0, value('s', 0))
            );
            polls
        });

        let polls = reader.join().expect("reader");
        waker.join().expect("waker");
        WAKEUP_STREAM[usize::from(polls > 1)].fetch_add(1, StdRelaxed);
    });
    assert_every_outcome(
        "stream_is_interrupted_by_wakeup",
        "at once, pending then ready",
        &WAKEUP_STREAM,
    );
}
