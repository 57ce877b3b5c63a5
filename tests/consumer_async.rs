//! The async consumer API (feature `async`) under tokio: `MultiConsumer::stream`
//! and `readable().await` + `poll_with`, woken by appends from other threads
//! and by the group coordinator, cancel safe, leaving no registration behind.
//!
//! Every wait is bounded by a generous `tokio::time::timeout`, so a lost
//! wake-up fails the test instead of hanging it; nothing in the consumer polls
//! on a timer, so a record is only ever seen because its append woke the task.
#![cfg(feature = "async")]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures_core::Stream;
use idemlog::consumer::{ConsumerConfig, OffsetReset, Readable, RecordStream};
use idemlog::{ConsumerError, ConsumerRecord, Log, MultiConsumer, Record};
use tokio::time::timeout;

/// Long enough never to fire when the wake-ups work.
const GUARD: Duration = Duration::from_secs(20);

#[path = "common/slow_revoke.rs"]
mod slow_revoke;
use slow_revoke::slow_revoker;

fn log_with(partitions: u32) -> Log {
    let log = Log::new();
    log.create_topic("t", partitions).unwrap();
    log
}

/// A consumer of every partition of "t", from the log start.
fn assigned(log: &Log) -> MultiConsumer {
    let config = ConsumerConfig::new().offset_reset(OffsetReset::Earliest);
    let mut consumer = log.multi_consumer(config).unwrap();
    consumer.assign_topic("t").unwrap();
    consumer
}

/// A log on a manual clock (group liveness is measured by the log's clock).
fn manual_log(clock: &Arc<idemlog::ManualClock>) -> Log {
    Log::with_config(
        idemlog::LogConfig::default()
            .clock(clock.clone())
            .housekeeping(None),
    )
    .unwrap()
}

fn group_config(group: &str) -> ConsumerConfig {
    ConsumerConfig::new()
        .group_id(group)
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
}

fn text(record: &ConsumerRecord) -> String {
    String::from_utf8(record.value.to_vec()).unwrap()
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Relaxed: a count, read on the thread that woke it (a wake-up runs
        // inside the append or the rebalance that does it) or after that
        // thread's work is known to be done.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counter {
    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Polls `future` once with `waker`.
fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Polls `stream` once with `waker`.
fn poll_next_once<S: Stream + Unpin>(stream: &mut S, waker: &Waker) -> Poll<Option<S::Item>> {
    Pin::new(stream).poll_next(&mut Context::from_waker(waker))
}

/// Spins (on a std thread) until `flag` is set.
fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + GUARD;
    // Acquire: pairs with the task's Release store after its first Pending.
    while !flag.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the task never started waiting");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_futures_are_send() {
    fn send<T: Send>() {}
    send::<Readable<'_>>();
    send::<RecordStream<'_>>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_stream_is_woken_by_appends_from_a_thread() {
    let log = log_with(2);
    let mut consumer = assigned(&log);
    let waiting = Arc::new(AtomicBool::new(false));
    let task = {
        let waiting = Arc::clone(&waiting);
        tokio::spawn(async move {
            let mut records = consumer.stream();
            // The first poll finds nothing and registers: only an append can
            // wake the task from here on.
            let first = std::future::poll_fn(|cx| {
                let polled = Pin::new(&mut records).poll_next(cx);
                Poll::Ready(polled)
            })
            .await;
            assert!(first.is_pending(), "nothing appended yet");
            // Release: pairs with the appender's Acquire load in `wait_for`.
            waiting.store(true, Ordering::Release);
            let mut seen = Vec::new();
            while seen.len() < 6 {
                let record = timeout(GUARD, records.next())
                    .await
                    .expect("woken by the append")
                    .expect("the stream never ends")
                    .expect("a record");
                seen.push((record.partition, record.offset, text(&record)));
            }
            seen
        })
    };
    let appender = {
        let log = log.clone();
        thread::spawn(move || {
            wait_for(&waiting);
            for i in 0..6u32 {
                // Each append may find the task waiting (it reads them one by one).
                log.append("t", i % 2, None, Record::new(format!("v{i}")))
                    .unwrap();
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut seen = task.await.unwrap();
    appender.join().unwrap();
    seen.sort();
    assert_eq!(
        seen,
        [
            (0, 0, "v0".to_string()),
            (0, 1, "v2".to_string()),
            (0, 2, "v4".to_string()),
            (1, 0, "v1".to_string()),
            (1, 1, "v3".to_string()),
            (1, 2, "v5".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_then_poll_with_reads_zero_copy() {
    let log = log_with(2);
    let mut consumer = assigned(&log);
    let waiting = Arc::new(AtomicBool::new(false));
    let appender = {
        let log = log.clone();
        let waiting = Arc::clone(&waiting);
        thread::spawn(move || {
            wait_for(&waiting);
            // The second partition: the registration there must be live.
            log.append("t", 1, None, [Record::new("a"), Record::new("bb")])
                .unwrap();
        })
    };
    let mut readable = consumer.readable();
    // Pending while empty: registered on both partitions.
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut readable).poll(cx))).await;
    assert!(first.is_pending(), "nothing appended yet");
    // Release: pairs with the appender's Acquire load in `wait_for`.
    waiting.store(true, Ordering::Release);
    timeout(GUARD, readable)
        .await
        .expect("woken by the append")
        .expect("readable");
    let mut seen = Vec::new();
    let read = consumer
        .poll_with(10, |view| {
            // Borrowed from the log: no copy until we make one.
            seen.push((view.partition, view.offset, view.value.len()))
        })
        .unwrap();
    appender.join().unwrap();
    // A batch of two is published at once: both are there.
    assert_eq!((read, seen), (2, vec![(1, 0, 1), (1, 1, 2)]));
    assert_eq!(consumer.position("t", 1).unwrap(), 2);

    // With a record there already, `readable` is ready at the first poll.
    let waker = Waker::from(Arc::new(Counter::default()));
    log.append("t", 0, None, Record::new("c")).unwrap();
    assert!(matches!(
        poll_once(&mut consumer.readable(), &waker),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(consumer.poll(10).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_consumes_via_the_stream_commits_and_a_successor_resumes() {
    let log = log_with(3);
    let member = log.subscribe(group_config("billing"), &["t"]).unwrap();
    let appender = {
        let log = log.clone();
        thread::spawn(move || {
            for i in 0..12u32 {
                log.append("t", i % 3, None, Record::new(format!("o{i}")))
                    .unwrap();
                if i % 4 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    let first = tokio::spawn(async move {
        let mut member = member;
        let mut records = member.stream();
        let mut seen = Vec::new();
        while seen.len() < 8 {
            let record = timeout(GUARD, records.next())
                .await
                .expect("woken")
                .expect("never ends")
                .expect("a record");
            seen.push(text(&record));
            if seen.len() % 4 == 0 {
                records.consumer().commit().unwrap();
            }
        }
        drop(records);
        let committed: u64 = (0..3)
            .map(|p| member.committed("t", p).unwrap().unwrap_or(0))
            .sum();
        assert_eq!(member.assignment().len(), 3, "the only member has them all");
        (seen, committed)
        // Dropped here: leaves the group, commits nothing more.
    });
    let (first_seen, committed) = first.await.unwrap();
    appender.join().unwrap();
    assert_eq!(committed, 8, "committed after the 8th record");

    // Same group: resumes at the committed offsets.
    let mut successor = log.subscribe(group_config("billing"), &["t"]).unwrap();
    let mut records = successor.stream();
    let mut rest = Vec::new();
    while rest.len() < 4 {
        let record = timeout(GUARD, records.next())
            .await
            .expect("records are there")
            .expect("never ends")
            .expect("a record");
        rest.push(text(&record));
    }
    let mut all: Vec<String> = first_seen.into_iter().chain(rest).collect();
    all.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("o{i}")).collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "each record once: nothing skipped or repeated"
    );
    records.consumer().commit().unwrap();
    drop(records);
    assert!(successor.poll(10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_wakes_a_pending_member() {
    let log = log_with(2);
    let mut first = log.subscribe(group_config("g"), &["t"]).unwrap();
    first.poll(10).unwrap();
    assert_eq!(first.assignment().len(), 2);
    let waiting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let task = {
        let (waiting, stop) = (Arc::clone(&waiting), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut records = first.stream();
            let mut polls = 0;
            // Pending until woken; count the polls (each wake-up is one).
            std::future::poll_fn(|cx| {
                polls += 1;
                // Release: pairs with the Acquire load in `wait_for`.
                waiting.store(true, Ordering::Release);
                // Acquire: pairs with the Release store below.
                if stop.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                match Pin::new(&mut records).poll_next(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(item) => panic!("nothing was appended: {item:?}"),
                }
            })
            .await;
            drop(records);
            (first.assignment().len(), polls)
        })
    };
    wait_for(&waiting);
    // No append happens: only the coordinator can wake `first`, and unless it
    // does, `first` never revokes a partition for `second` to take.
    let mut second = log.subscribe(group_config("g"), &["t"]).unwrap();
    let deadline = Instant::now() + GUARD;
    while second.assignment().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the pending member was not woken to revoke"
        );
        second.poll(10).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(second.assignment().len(), 1);
    // Release: pairs with the task's Acquire load; the wake-up below ends it.
    stop.store(true, Ordering::Release);
    log.append("t", 0, None, Record::new("x")).unwrap();
    log.append("t", 1, None, Record::new("y")).unwrap();
    let (kept, polls) = timeout(GUARD, task)
        .await
        .expect("woken by an append")
        .unwrap();
    assert_eq!(kept, 1, "it revoked one of its two partitions");
    assert!(polls >= 2, "polled again after the rebalance: {polls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_pending_wait_leaves_no_registration() {
    let log = log_with(2);
    let mut member = log.subscribe(group_config("g"), &["t"]).unwrap();
    let mut other = assigned(&log);

    // Control: a pending wait that is kept is woken by an append.
    let kept = Arc::new(Counter::default());
    let kept_waker = Waker::from(Arc::clone(&kept));
    let mut pending = member.readable();
    assert!(poll_once(&mut pending, &kept_waker).is_pending());

    // A second consumer's task waits on the same partitions.
    let other_task = tokio::spawn(async move {
        timeout(GUARD, other.readable())
            .await
            .expect("woken by the append")
            .expect("readable");
        other.poll(10).unwrap().len()
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    log.append("t", 0, None, Record::new("a")).unwrap();
    assert_eq!(kept.count(), 1, "a kept registration is woken");
    drop(pending);
    assert_eq!(other_task.await.unwrap(), 1);
    assert_eq!(member.poll(10).unwrap().len(), 1);

    // A dropped `readable()`: neither an append nor a rebalance wakes it.
    let dropped = Arc::new(Counter::default());
    let dropped_waker = Waker::from(Arc::clone(&dropped));
    assert!(poll_once(&mut member.readable(), &dropped_waker).is_pending());
    // A dropped stream, with another waker.
    let dropped_stream = Arc::new(Counter::default());
    let stream_waker = Waker::from(Arc::clone(&dropped_stream));
    assert!(poll_next_once(&mut member.stream(), &stream_waker).is_pending());
    let mut again = assigned(&log);
    again.seek_to_end();
    let again_task = tokio::spawn(async move {
        timeout(GUARD, again.readable())
            .await
            .expect("still woken")
            .expect("readable");
        again.poll(10).unwrap().len()
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    log.append("t", 0, None, Record::new("b")).unwrap();
    log.append("t", 1, None, Record::new("c")).unwrap();
    let _rebalance = log.subscribe(group_config("g"), &["t"]).unwrap();
    assert!((1..=2).contains(&again_task.await.unwrap()));
    assert_eq!(dropped.count(), 0, "a dropped readable() is not woken");
    assert_eq!(dropped_stream.count(), 0, "a dropped stream is not woken");
    // The member reads on as usual (and a blocking read is woken as before).
    let mut records = 0;
    let deadline = Instant::now() + GUARD;
    while records < 1 {
        assert!(Instant::now() < deadline);
        records += member
            .poll_with_timeout(10, Duration::from_millis(20), |_| ())
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_unassigned_consumer_that_is_no_member_has_nothing_to_wait_for() {
    let log = log_with(1);
    let mut consumer = log.multi_consumer(ConsumerConfig::new()).unwrap();
    assert_eq!(consumer.readable().await, Err(ConsumerError::NoAssignment));
    let mut records = consumer.stream();
    // An error is an item, and the stream goes on (here: the same error).
    for _ in 0..2 {
        assert!(matches!(
            records.next().await,
            Some(Err(ConsumerError::NoAssignment))
        ));
    }
    drop(records);
    // Once assigned, it waits and reads.
    consumer.assign("t", 0).unwrap();
    log.append("t", 0, None, Record::new("late")).unwrap();
    consumer.seek("t", 0, 0).unwrap();
    let record = timeout(GUARD, consumer.stream().next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(text(&record), "late");
}

#[tokio::test(flavor = "current_thread")]
async fn a_member_without_partitions_waits_for_its_group() {
    let log = log_with(1);
    let mut first = log.subscribe(group_config("g"), &["t"]).unwrap();
    first.poll(10).unwrap();
    let mut second = log.subscribe(group_config("g"), &["t"]).unwrap();
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(Arc::clone(&counter));
    // One partition, two members: the second has none, and waits (no error).
    {
        let mut readable = second.readable();
        assert!(poll_once(&mut readable, &waker).is_pending());
        assert!(poll_once(&mut readable, &waker).is_pending());
        assert_eq!(counter.count(), 0);
        // The first leaves: the coordinator wakes the waiting member.
        drop(first);
        assert_eq!(counter.count(), 1, "woken by the rebalance");
        log.append("t", 0, None, Record::new("r")).unwrap();
        assert!(matches!(
            poll_once(&mut readable, &waker),
            Poll::Ready(Ok(()))
        ));
    }
    assert_eq!(second.assignment().len(), 1);
    assert_eq!(second.poll(10).unwrap().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_partition_without_a_position_is_reported_not_waited_for() {
    let log = log_with(1);
    let config = ConsumerConfig::new().offset_reset(OffsetReset::None);
    let mut consumer = log.multi_consumer(config).unwrap();
    consumer.assign("t", 0).unwrap();
    // `poll_with` has an error to report, so `readable` does not wait.
    timeout(GUARD, consumer.readable())
        .await
        .expect("not waiting")
        .expect("resolved");
    assert!(matches!(
        consumer.poll_with(10, |_| ()),
        Err(ConsumerError::NoOffset { .. })
    ));
    let mut records = consumer.stream();
    for _ in 0..2 {
        let item = timeout(GUARD, records.next()).await.expect("not waiting");
        assert!(matches!(item, Some(Err(ConsumerError::NoOffset { .. }))));
    }
    // After a seek it reads on.
    records.consumer().seek("t", 0, 0).unwrap();
    log.append("t", 0, None, Record::new("r")).unwrap();
    let record = timeout(GUARD, records.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(text(&record), "r");
}

/// A member waiting in `readable().await` far past `max.poll.interval.ms` is
/// polling: the group does not expire it, and it keeps its partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_awaiting_records_is_not_expired() {
    let clock = Arc::new(idemlog::ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    let config = group_config("g").max_poll_interval(Duration::from_millis(1_000));
    let mut active = log.subscribe(config.clone(), &["t"]).unwrap();
    let mut waiting = log.subscribe(config, &["t"]).unwrap();
    for _ in 0..4 {
        active.poll_with(0, |_| ()).unwrap();
        waiting.poll_with(0, |_| ()).unwrap();
    }
    let theirs = waiting.assignment()[0].partition;
    let task = tokio::spawn(async move {
        waiting.readable().await.unwrap();
        let mut read = Vec::new();
        waiting.poll_with(10, |r| read.push(r.partition)).unwrap();
        (read, waiting.assignment().len())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..10 {
        clock.advance_ms(1_000);
        active.poll_with(0, |_| ()).unwrap();
    }
    assert_eq!(
        active.assignment().len(),
        1,
        "the awaiting member kept its partition"
    );
    log.append("t", theirs, None, Record::new("for the waiter"))
        .unwrap();
    let (read, owned) = timeout(GUARD, task).await.unwrap().unwrap();
    assert_eq!((read, owned), (vec![theirs], 1));
}

/// Two consumers polled by one task (the same waker) that share a partition:
/// each registers its own parking spot, so when one finishes its wait the other
/// is still woken by an append to the shared partition (review finding F5).
#[test]
fn two_consumers_in_one_task_on_a_shared_partition_both_get_woken() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    #[derive(Default)]
    struct Counter(AtomicUsize);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let log = Log::new();
    log.create_topic("t", 2).unwrap();
    let mut c1 = log.multi_consumer(ConsumerConfig::new()).unwrap();
    c1.assign("t", 0).unwrap();
    c1.assign("t", 1).unwrap();
    let mut c2 = log.multi_consumer(ConsumerConfig::new()).unwrap();
    c2.assign("t", 0).unwrap();
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut r2 = Box::pin(c2.readable());
    assert!(r2.as_mut().poll(&mut cx).is_pending());
    {
        let mut r1 = Box::pin(c1.readable());
        assert!(r1.as_mut().poll(&mut cx).is_pending());
        log.append("t", 1, None, Record::new("for c1")).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(r1.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    } // c1's wait ends (its future is done and dropped)
    let before = counter.0.load(Ordering::SeqCst);
    log.append("t", 0, None, Record::new("for c2")).unwrap();
    assert!(
        counter.0.load(Ordering::SeqCst) > before,
        "c2 still waits on t-0: its task must be woken"
    );
    assert!(matches!(r2.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
}

/// Dropping a pending `RecordStream::next()` (a `select!` or timeout branch)
/// ends the wait: a member that then stops polling is expired (review finding
/// F3).
#[test]
fn dropping_a_pending_next_ends_the_wait() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let clock = Arc::new(idemlog::ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    let group = group_config("g").max_poll_interval(Duration::from_millis(1_000));
    let mut gone = log.subscribe(group.clone(), &["t"]).unwrap();
    let mut live = log.subscribe(group, &["t"]).unwrap();
    for _ in 0..4 {
        gone.poll_with(0, |_| ()).unwrap();
        live.poll_with(0, |_| ()).unwrap();
    }
    let mut stream = gone.stream();
    {
        let mut next = Box::pin(stream.next());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(next.as_mut().poll(&mut cx), Poll::Pending));
        // dropped here: e.g. tokio::time::timeout(d, stream.next()) elapsed
    }
    // The application now does something else for a long time, stream kept.
    for _ in 0..5 {
        clock.advance_ms(1_000);
        live.poll_with(0, |_| ()).unwrap();
    }
    assert_eq!(
        live.assignment().len(),
        2,
        "the member that stopped polling was expired"
    );
    drop(stream);
}

/// Well under `GUARD`: how soon an interrupted wait must resolve (the wakeup
/// comes as soon as the task is pending).
const PROMPT: Duration = Duration::from_secs(5);

/// A thread that calls `wakeup()` once `waiting` is set (the task is pending).
fn wakeup_when(consumer: &MultiConsumer, waiting: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let handle = consumer.wakeup_handle();
    let waiting = Arc::clone(waiting);
    thread::spawn(move || {
        wait_for(&waiting);
        handle.wakeup();
    })
}

/// The wakeup was consumed by the async wait it interrupted: a blocking poll
/// after it waits out its timeout (no `Woken`), and then reads a record.
fn next_blocking_poll_is_not_interrupted(log: &Log, consumer: &mut MultiConsumer) {
    assert_eq!(
        consumer
            .poll_timeout(Duration::from_millis(100))
            .map(|records| records.len()),
        Ok(0),
        "the wakeup was answered by the async wait, not kept for this poll"
    );
    log.append("t", 0, None, Record::new("after")).unwrap();
    let record = consumer.recv_timeout(GUARD).unwrap().expect("a record");
    assert_eq!(text(&record), "after");
}

/// `wakeup()` from another thread interrupts a pending `readable()` as it
/// interrupts a blocking poll: the future resolves to `Woken` promptly, and
/// the wakeup is consumed (the new-user trial's report: the future stayed
/// pending and the wakeup later interrupted an unrelated blocking poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeup_interrupts_a_pending_readable_once() {
    let log = log_with(2);
    let mut consumer = assigned(&log);
    let waiting = Arc::new(AtomicBool::new(false));
    let waker = wakeup_when(&consumer, &waiting);
    let mut readable = consumer.readable();
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut readable).poll(cx))).await;
    assert!(first.is_pending(), "nothing appended, no wakeup yet");
    let started = Instant::now();
    // Release: pairs with the waker thread's Acquire load in `wait_for`.
    waiting.store(true, Ordering::Release);
    let woken = timeout(GUARD, readable)
        .await
        .expect("wakeup() must interrupt the pending readable()");
    assert_eq!(woken, Err(ConsumerError::Woken));
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    waker.join().unwrap();
    next_blocking_poll_is_not_interrupted(&log, &mut consumer);
}

/// `wakeup()` from another thread interrupts a pending `stream().next()`: the
/// item is `Err(Woken)` promptly, the stream goes on after it (an error is an
/// item), and the wakeup is consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeup_interrupts_a_pending_stream_next_once() {
    let log = log_with(2);
    let mut consumer = assigned(&log);
    let waiting = Arc::new(AtomicBool::new(false));
    let waker = wakeup_when(&consumer, &waiting);
    let mut records = consumer.stream();
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut records).poll_next(cx))).await;
    assert!(first.is_pending(), "nothing appended, no wakeup yet");
    let started = Instant::now();
    // Release: pairs with the waker thread's Acquire load in `wait_for`.
    waiting.store(true, Ordering::Release);
    let woken = timeout(GUARD, records.next())
        .await
        .expect("wakeup() must interrupt the pending next()");
    assert!(
        matches!(woken, Some(Err(ConsumerError::Woken))),
        "{woken:?}"
    );
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    waker.join().unwrap();
    // The stream goes on: the next item is a record, not `Woken` again.
    log.append("t", 1, None, Record::new("on")).unwrap();
    let record = timeout(GUARD, records.next())
        .await
        .expect("woken by the append")
        .expect("the stream never ends")
        .expect("a record, not a second Woken");
    assert_eq!(text(&record), "on");
    drop(records);
    next_blocking_poll_is_not_interrupted(&log, &mut consumer);
}

/// A `wakeup()` no read has answered yet interrupts the next async wait at its
/// first poll, even with a record readable, as it does the next blocking poll;
/// once answered, the record is read.
#[tokio::test(flavor = "current_thread")]
async fn an_earlier_wakeup_interrupts_the_next_async_wait() {
    let log = log_with(1);
    let mut consumer = assigned(&log);
    log.append("t", 0, None, Record::new("r")).unwrap();
    let waker = Waker::from(Arc::new(Counter::default()));

    consumer.wakeup_handle().wakeup();
    assert_eq!(
        poll_once(&mut consumer.readable(), &waker),
        Poll::Ready(Err(ConsumerError::Woken))
    );
    assert!(matches!(
        poll_once(&mut consumer.readable(), &waker),
        Poll::Ready(Ok(()))
    ));

    consumer.wakeup_handle().wakeup();
    let mut records = consumer.stream();
    assert!(matches!(
        poll_next_once(&mut records, &waker),
        Poll::Ready(Some(Err(ConsumerError::Woken)))
    ));
    let record = records.next().await.unwrap().expect("the record");
    assert_eq!(text(&record), "r");
}

/// A pending `readable()` of the only member still polling resolves once the
/// housekeeper expires a member that stopped polling and the rebalance wakes
/// the task (review finding: expiry happened only at a member's poll or join,
/// so the wait stayed pending until something unrelated woke the task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_member_takes_over_from_a_stalled_one() {
    let log = log_with(1); // the default housekeeper, every second
    let group = group_config("g").max_poll_interval(Duration::from_millis(200));
    let mut stalled = log.subscribe(group.clone(), &["t"]).unwrap();
    stalled.poll(0).unwrap();
    let mut waiter = log.subscribe(group, &["t"]).unwrap();
    for _ in 0..4 {
        waiter.poll(0).unwrap();
        stalled.poll(0).unwrap();
    }
    assert_eq!(
        (stalled.assignment().len(), waiter.assignment().len()),
        (1, 0)
    );
    log.append("t", 0, None, Record::new("x")).unwrap();
    // `stalled` stops polling here (it stays alive, as a hung thread would).
    let start = Instant::now();
    let read = timeout(GUARD, async {
        loop {
            waiter.readable().await.unwrap();
            let records = waiter.poll(10).unwrap();
            if let Some(record) = records.first() {
                return text(record);
            }
        }
    })
    .await
    .expect("the wait resolved");
    assert_eq!(read, "x");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "200 ms interval, 1 s housekeeping: {:?}",
        start.elapsed()
    );
    drop(stalled);
}

/// A member the group expires between its poll's sync and its wait (its
/// `Revoked` listener is slow, and the other member syncs meanwhile): the
/// pending `readable()` is woken at once and then reports `MemberExpired` (it
/// stayed pending for good, marked waiting by itself but unknown to the
/// group, which wakes only its members).
#[test]
fn a_member_expired_during_its_own_poll_is_woken_to_report_it() {
    let clock = Arc::new(idemlog::ManualClock::new(0));
    let (_log, mut slow, _other) = slow_revoker(&clock);
    let counter = Arc::new(Counter::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut readable = slow.readable();
    // This poll syncs (the listener runs and the member is expired), then
    // finds it may not wait.
    assert!(poll_once(&mut readable, &waker).is_pending());
    assert!(counter.count() >= 1, "the task was not woken");
    let answer = poll_once(&mut readable, &waker);
    assert!(
        matches!(
            answer,
            Poll::Ready(Err(ConsumerError::MemberExpired { .. }))
        ),
        "{answer:?}"
    );
}
