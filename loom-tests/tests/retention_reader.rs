//! Model (d): retention racing readers (I7; of I8 only the unlink, see below).
//!
//! Five single-record batches `p0..p4` in segments of 128 bytes (2 batches
//! each): segment 1 holds 0..2, segment 2 holds 2..4, segment 3 holds 4, all
//! older than the age limit; one thread runs `PartitionHandle::enforce_retention`
//! (evicting segments 1 and 2; segment 3 is the one being written, which
//! retention never takes) while two readers poll, one from offset 0 and one from
//! offset 3 (mid-segment). A reader either gets valid records (offset and value
//! right, contiguous from where it started) or `OffsetOutOfRange`; never garbage.
//! Retired segments are leaked under loom (src/sync.rs: `Guard::defer` never
//! runs its closure, and segments are counted by std's `Arc`, which loom does
//! not see), so this checks the unlink protocol (log start moved before the
//! cell is tombstoned; a reader's load, re-check and relocation), not the
//! reclamation: no segment is dropped, no memory goes to or comes from the
//! pool. That is tests/miri_unsafe.rs (Miri, and CI's ThreadSanitizer run) and
//! tests/stress.rs `readers_racing_eviction_never_see_a_recycled_segments_bytes`
//! (ThreadSanitizer).
#![cfg(loom)]

mod common;

use std::sync::Arc as StdArc;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{check, rec, value};
use idemlog::{Consumer, Log, LogConfig, LogError, ManualClock, RetentionPolicy, TopicConfig};
use loom::thread;

/// How often each reader outcome occurred, over all executions.
static OUTCOMES: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
/// The outcomes counted in `OUTCOMES`, in order.
const OUTCOME_NAMES: [&str; 5] = [
    "from 0: 2 records (segment 2 already gone)",
    "from 0: 5 records",
    "from 0: OffsetOutOfRange",
    "from 3: 2 records",
    "from 3: OffsetOutOfRange",
];

fn count(outcome: &str) {
    let index = OUTCOME_NAMES
        .iter()
        .position(|name| *name == outcome)
        .expect("known outcome");
    OUTCOMES[index].fetch_add(1, Ordering::Relaxed);
}

/// Polls once from `from` and checks the answer; returns how many records it got.
fn read_checked(mut consumer: Consumer, from: u64) -> Option<usize> {
    consumer.seek(from);
    let mut seen = Vec::new();
    match consumer.poll_with(8, |view| seen.push((view.offset, view.value.to_vec()))) {
        Ok(read) => {
            assert_eq!(read, seen.len());
            for (i, (offset, v)) in seen.iter().enumerate() {
                assert_eq!(*offset, from + i as u64, "contiguous from the position");
                assert_eq!(
                    *v,
                    value('p', *offset as u8),
                    "record at {offset} is intact"
                );
            }
            // Eviction moves the log start before it unlinks the cell (I7), so a
            // reader that finds its first segment gone answers OffsetOutOfRange:
            // an Ok read of an evicted offset is never empty. It stops at the
            // first segment already unlinked: from 0 that is 2 records (segment
            // 2 gone) or all 5 (segment 3 is never evicted); from 3, 2 records.
            let expected: &[usize] = if from == 0 { &[2, 5] } else { &[2] };
            assert!(
                expected.contains(&read),
                "read {read} records from {from}, expected one of {expected:?}"
            );
            count(match (from, read) {
                (0, 2) => OUTCOME_NAMES[0],
                (0, _) => OUTCOME_NAMES[1],
                _ => OUTCOME_NAMES[3],
            });
            Some(read)
        }
        Err(LogError::OffsetOutOfRange {
            offset,
            log_start,
            log_end,
        }) => {
            assert_eq!(offset, from);
            assert!(offset < log_start, "out of range only below the log start");
            assert!(log_start == 2 || log_start == 4, "segment-aligned start");
            assert_eq!(log_end, 5);
            count(if from == 0 {
                OUTCOME_NAMES[2]
            } else {
                OUTCOME_NAMES[4]
            });
            None
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn readers_see_valid_records_or_out_of_range() {
    check("retention_reader", || {
        let clock = ManualClock::new(0);
        let log = Log::with_config(
            LogConfig::default()
                .segment_bytes(128)
                .max_segments(4)
                .clock(StdArc::new(clock.clone())),
        )
        .expect("valid config");
        let policy = RetentionPolicy::default().max_age(Duration::from_millis(500));
        log.create_topic_with("t", TopicConfig::new(1).retention(policy))
            .expect("new topic");
        let partition = log.partition("t", 0).expect("partition 0");
        // One batch per record: a batch never spans segments.
        for i in 0..5 {
            let outcome = partition.append(None, [rec('p', i)]).expect("prefill");
            assert_eq!(outcome.base_offset, u64::from(i));
        }
        assert_eq!(partition.live_segments(), 3);
        assert_eq!(partition.log_start_offset(), 0, "nothing old yet");
        clock.set_ms(1_000);

        let evictor = partition.clone();
        let retention = thread::spawn(move || evictor.enforce_retention());
        let consumer = log.consumer("t", 0).expect("consumer");
        let second = consumer.clone();
        // Both readers are spawned threads: loom hardly interleaves work left on
        // the model's main thread (here the reader from 0 never raced retention).
        let reader = thread::spawn(move || read_checked(second, 3));
        let from_start = thread::spawn(move || read_checked(consumer, 0));
        reader.join().expect("reader");
        from_start.join().expect("reader from 0");

        let report = retention.join().expect("retention");
        assert_eq!((report.segments, report.records), (2, 4));
        // The report no longer carries the log start: the partition tells it.
        assert_eq!(partition.log_start_offset(), 4);
        assert_eq!(partition.live_segments(), 1);
        let from_start = log.consumer("t", 0).expect("consumer").poll(8);
        assert_eq!(
            common::pairs(&from_start.expect("in range")),
            vec![(4, value('p', 4))],
            "the segment being written stays"
        );
        let mut stale = log.consumer("t", 0).expect("consumer");
        stale.seek(0);
        assert!(matches!(
            stale.poll(1),
            Err(LogError::OffsetOutOfRange { log_start: 4, .. })
        ));
    });
    for (name, outcome) in OUTCOME_NAMES.iter().zip(&OUTCOMES) {
        println!(
            "retention_reader: {name}: {}",
            outcome.load(Ordering::Relaxed)
        );
    }
    for (name, outcome) in OUTCOME_NAMES.iter().zip(&OUTCOMES) {
        assert!(outcome.load(Ordering::Relaxed) > 0, "never reached {name}");
    }
}
