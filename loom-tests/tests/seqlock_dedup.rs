//! Model (f): a seqlock duplicate check racing a commit of the same producer on
//! the same partition (I1; contract rules 2 and 4, `idemlog::contract`).
//!
//! Dedup window of ONE batch: the commit of batch seq 1 overwrites the window
//! entry that the concurrent retry of batch seq 0 is reading (relaxed atomics
//! validated by the state word's re-check). The retry must be answered either as
//! a duplicate carrying seq 0's own offset and timestamp (0 and 100) or, once seq
//! 1 is committed and seq 0 has left the window, as OutOfOrderSequence{2, 0}. A
//! torn read (sequences of one batch, offset or timestamp of the other) is a
//! failure, as is any change to the log or state by the retry.
#![cfg(loom)]

mod common;

use std::sync::Arc as StdArc;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{batch, check, one_partition, value};
use idemlog::{BatchMetadata, LogConfig, LogError, ManualClock, TopicConfig};
use loom::thread;

/// Executions answered duplicate / out-of-order.
static DUPLICATE: AtomicUsize = AtomicUsize::new(0);
static OUT_OF_ORDER: AtomicUsize = AtomicUsize::new(0);

#[test]
fn duplicate_check_races_a_commit() {
    check("seqlock_dedup", || {
        let clock = ManualClock::new(100);
        let (log, partition) = one_partition(
            LogConfig::default()
                .segment_bytes(128)
                .max_segments(4)
                .dedup_window(1)
                .clock(StdArc::new(clock.clone())),
            TopicConfig::new(1),
        );
        let pid = log.init_producer_id().producer_id;

        // Two appenders with their state cached, so the threads touch no map.
        let mut next = partition.producer(pid).expect("issued");
        let mut retry = partition.producer(pid).expect("issued");
        let original = next.append(0, 0, batch('s', 1)).expect("seq 0");
        assert_eq!((original.base_offset, original.timestamp_ms), (0, 100));
        assert!(retry.append(0, 0, batch('s', 1)).expect("dup").duplicate);
        clock.set_ms(200);

        let committer = thread::spawn(move || next.append(0, 1, batch('t', 1)));
        let checker = thread::spawn(move || retry.append(0, 0, batch('s', 1)));

        let committed = committer.join().expect("committer").expect("seq 1");
        assert!(!committed.duplicate);
        assert_eq!((committed.base_offset, committed.timestamp_ms), (1, 200));
        match checker.join().expect("checker") {
            Ok(dup) => {
                assert!(dup.duplicate, "a retry is never appended: {dup:?}");
                assert_eq!(
                    (dup.base_offset, dup.timestamp_ms),
                    (0, 100),
                    "torn seqlock read"
                );
                DUPLICATE.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                assert_eq!(
                    error,
                    LogError::OutOfOrderSequence {
                        expected: 2,
                        got: 0
                    }
                );
                OUT_OF_ORDER.fetch_add(1, Ordering::Relaxed);
            }
        }

        assert_eq!(partition.log_end_offset(), 2);
        let records = log
            .consumer("t", 0)
            .expect("consumer")
            .poll(8)
            .expect("read");
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.offset, r.value.to_vec()))
            .collect();
        assert_eq!(got, vec![(0, value('s', 0)), (1, value('t', 0))]);
        let state = partition.producer_state(pid).expect("live state");
        assert_eq!((state.epoch, state.last_sequence), (0, 1));
        assert_eq!(
            state.window,
            vec![BatchMetadata {
                first_sequence: 1,
                last_sequence: 1,
                base_offset: 1,
                timestamp_ms: 200
            }]
        );
    });
    assert!(DUPLICATE.load(Ordering::Relaxed) > 0 && OUT_OF_ORDER.load(Ordering::Relaxed) > 0);
}
