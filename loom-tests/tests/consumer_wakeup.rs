//! Model (e): a consumer blocked in `poll_timeout` on an empty partition and an
//! appender (I6). Under loom a timed wait never times out (src/sync.rs), and the
//! real-time deadline used here is an hour, so a lost wake-up shows as a loom
//! deadlock and a wrong early return as an empty poll.
//!
//! Segments of 128 bytes (at most 2 single-record batches each). In
//! `consumer_at_a_full_segment_end_is_woken_by_the_next_segment` the consumer
//! has read all of a full segment 1 and blocks at its end (its cursor stands
//! after segment 1's last commit slot); the append that wakes it must install
//! segment 2, and the consumer must step into it.
#![cfg(loom)]

mod common;

use std::time::Duration;

use common::{batch, check, one_partition, pairs, rec, value};
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

const FOREVER: Duration = Duration::from_secs(3_600);

#[test]
fn blocked_consumer_is_woken_by_the_append() {
    check("consumer_wakeup", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        let mut consumer = log.consumer("t", 0).expect("consumer");

        let appender = thread::spawn(move || partition.append(None, batch('a', 1)));

        let records = consumer.poll_timeout(4, FOREVER).expect("in range");
        assert_eq!(records.len(), 1, "woken with the record");
        assert_eq!(
            (records[0].offset, records[0].value.to_vec()),
            (0, value('a', 0))
        );
        let outcome = appender.join().expect("appender").expect("appended");
        assert_eq!(outcome.base_offset, 0);
    });
}

#[test]
fn two_consumers_and_two_appends() {
    check("consumer_wakeup_two_consumers", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        let mut first = log.consumer("t", 0).expect("consumer");
        let mut second = first.clone();

        let appender = thread::spawn(move || {
            let a = partition.append(None, batch('a', 1)).expect("append a");
            let b = partition.append(None, batch('b', 1)).expect("append b");
            (a.base_offset, b.base_offset)
        });
        // Blocks on offset 0, then (usually) on offset 1 while `b` is appended.
        let waiter = thread::spawn(move || {
            let mut got = second.poll_timeout(1, FOREVER).expect("in range");
            got.extend(second.poll_timeout(1, FOREVER).expect("in range"));
            got
        });

        let records = first.poll_timeout(1, FOREVER).expect("in range");
        assert_eq!(records.len(), 1, "woken with the record");
        assert_eq!(
            (records[0].offset, records[0].value.to_vec()),
            (0, value('a', 0))
        );
        let got: Vec<_> = waiter
            .join()
            .expect("waiter")
            .iter()
            .map(|r| (r.offset, r.value.to_vec()))
            .collect();
        assert_eq!(got, vec![(0, value('a', 0)), (1, value('b', 0))]);
        assert_eq!(appender.join().expect("appender"), (0, 1));
    });
}

#[test]
fn consumer_at_a_full_segment_end_is_woken_by_the_next_segment() {
    check("consumer_wakeup_segment_end", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        for i in 0..2 {
            partition.append(None, [rec('p', i)]).expect("prefill");
        }
        assert_eq!(partition.live_segments(), 1, "segment 1 is full");
        let mut consumer = log.consumer("t", 0).expect("consumer");
        let prefix = consumer.poll(8).expect("in range");
        assert_eq!(pairs(&prefix), vec![(0, value('p', 0)), (1, value('p', 1))]);

        let pa = partition.clone();
        let appender = thread::spawn(move || pa.append(None, batch('a', 1)));
        // Blocks at the end of segment 1 (spawned, so it races the appender).
        let waiter = thread::spawn(move || consumer.poll_timeout(4, FOREVER));

        let records = waiter.join().expect("waiter").expect("in range");
        assert_eq!(
            pairs(&records),
            vec![(2, value('a', 0))],
            "woken with the record in segment 2"
        );
        let outcome = appender.join().expect("appender").expect("appended");
        assert_eq!(outcome.base_offset, 2);
        assert_eq!(partition.live_segments(), 2, "the append opened segment 2");
    });
}
