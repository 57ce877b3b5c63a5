//! Model (l), I6 in `idemlog::implementation`: a `MultiConsumer`'s thread
//! blocked in `poll_with_timeout` on its parking spot (src/consumer/signal.rs: one atomic flag word, the mutex and
//! condvar taken only to sleep and to wake), vs an append to the second of its
//! two partitions, and vs `WakeupHandle::wakeup()` from another thread. Under
//! loom a timed wait never times out (src/sync.rs) and the deadline here is an
//! hour, so a lost wake-up shows as a loom deadlock.
#![cfg(loom)]

mod common;

use std::time::Duration;

use common::{batch, check, value};
use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::{ConsumerError, Log, LogConfig, MultiConsumer};
use loom::thread;

const FOREVER: Duration = Duration::from_secs(3_600);

/// A log of 128-byte segments with one topic "t" of two partitions, and a
/// consumer assigned both from the log start.
fn consumer_of_two() -> (Log, MultiConsumer) {
    let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4))
        .expect("valid config");
    log.create_topic("t", 2).expect("new topic");
    let config = ConsumerConfig::new().offset_reset(OffsetReset::Earliest);
    let mut consumer = log.multi_consumer(config).expect("consumer");
    consumer.assign_topic("t").expect("assigned");
    (log, consumer)
}

/// The append's notification reaches the sleeper whether it comes before the
/// poll, between the poll and the registration, or after the sleep began; the
/// poll's own `prepare` must not erase one the poll did not see.
#[test]
fn blocked_multi_consumer_is_woken_by_the_append() {
    check("multi_consumer_wakeup_append", || {
        let (log, mut consumer) = consumer_of_two();
        let partition = log.partition("t", 1).expect("partition 1");
        let appender = thread::spawn(move || partition.append(None, batch('a', 1)));

        let mut got = Vec::new();
        let read = consumer
            .poll_with_timeout(4, FOREVER, |view| {
                got.push((view.partition, view.offset, view.value.to_vec()))
            })
            .expect("read");
        assert_eq!(read, 1, "woken with the record");
        assert_eq!(got, vec![(1, 0, value('a', 0))]);
        appender.join().expect("appender").expect("appended");
    });
}

/// `wakeup()` from another thread ends the blocked read with `Woken` (it comes
/// before the read, during its poll or during its sleep), exactly once: the
/// next read does not see it again.
#[test]
fn blocked_multi_consumer_is_woken_by_wakeup() {
    check("multi_consumer_wakeup_handle", || {
        let (log, mut consumer) = consumer_of_two();
        let handle = consumer.wakeup_handle();
        let waker = thread::spawn(move || handle.wakeup());

        let blocked = consumer.poll_with_timeout(4, FOREVER, |_| ());
        assert_eq!(blocked, Err(ConsumerError::Woken));
        waker.join().expect("waker");
        // Taken: a record appended now is read without a spurious `Woken`.
        log.append("t", 0, None, batch('b', 1)).expect("append");
        assert_eq!(consumer.poll_with_timeout(4, FOREVER, |_| ()), Ok(1));
    });
}
