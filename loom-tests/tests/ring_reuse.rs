//! Model (h): the exact capacity check and ring reuse (I2, I3, I7).
//!
//! Segments of ONE record, a ring of 4 cells: capacity 3 records. The
//! reservation is one CAS that checks `tail + n - log_start <= capacity`
//! exactly, so concurrent appenders can no longer overshoot the capacity into
//! the next ring lap (the old livelock), and a writer whose offset lands in a
//! reused cell always finds the previous lap already unlinked.
//!
//! 1. `racing_appenders_stop_exactly_at_capacity` (formerly the ignored
//!    `overshooting_writer_without_retention_livelocks`): two appenders race
//!    into an empty partition without retention; both terminate, exactly the
//!    batches that fit succeed, the rest get `PartitionFull`.
//! 2. `writer_in_a_reused_cell_races_age_retention_and_a_stale_reader`: the
//!    ring has wrapped; retention evicts the live segments while a writer
//!    appends into the cell of one of them (the next lap) and a reader polls
//!    from the oldest offset with a possibly stale log start. The reader gets
//!    the right records or `OffsetOutOfRange`, never the other lap's record.
//! 3. `writer_in_a_reused_cell_races_record_retention_and_a_reader`: the same
//!    with `max_records(1)`, where the writer's own retention pass (try_lock)
//!    races an explicit `enforce_retention`.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc as StdArc;
use std::time::Duration;

use common::{batch, check, one_partition, value};
use idemlog::{
    AppendOutcome, Consumer, Log, LogConfig, LogError, ManualClock, PartitionHandle,
    RetentionPolicy, TopicConfig,
};
use loom::thread;

const CAPACITY: u64 = 3;

/// Segments of one record, four cells: capacity 3.
fn ring_config() -> LogConfig {
    LogConfig::default().segment_records(1).max_segments(4)
}

/// A plain append that may find the partition full.
fn append(partition: &PartitionHandle, writer: char, n: u8) -> Result<AppendOutcome, u64> {
    match partition.append(None, batch(writer, n)) {
        Ok(outcome) => {
            assert_eq!(outcome.record_count, u64::from(n));
            Ok(outcome)
        }
        Err(LogError::PartitionFull {
            live_records,
            capacity,
        }) => {
            assert_eq!(capacity, CAPACITY);
            assert!(live_records <= CAPACITY, "live records within capacity");
            assert!(
                live_records + u64::from(n) > CAPACITY,
                "rejected although it fit"
            );
            Err(live_records)
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// (offset, value) of everything readable from `from`.
fn read_all(consumer: &mut Consumer, from: u64) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
    consumer.seek(from);
    let mut seen = Vec::new();
    consumer.poll_with(16, |view| seen.push((view.offset, view.value.to_vec())))?;
    Ok(seen)
}

/// Executions in which `a` / `b` won the race of model 1.
static A_WON: AtomicUsize = AtomicUsize::new(0);
static B_WON: AtomicUsize = AtomicUsize::new(0);

/// Two appenders of `na` and `nb` records race into an empty partition without
/// retention. Offsets are handed out in CAS order; a batch succeeds iff it fits
/// after the batches reserved before it. Returns which writers succeeded.
fn race_to_capacity(na: u8, nb: u8) -> (bool, bool) {
    let (log, partition) = one_partition(ring_config(), TopicConfig::new(1));
    assert_eq!(partition.capacity(), CAPACITY);

    let pa = partition.clone();
    let a = thread::spawn(move || append(&pa, 'a', na));
    let pb = partition.clone();
    let b = thread::spawn(move || append(&pb, 'b', nb));
    // Mid-race (a spawned observer: loom interleaves it far more than work
    // left on the model's main thread): never more live records than the
    // capacity, and the high watermark never passes the log end.
    let po = partition.clone();
    let observer = thread::spawn(move || {
        let hw = po.high_watermark();
        let end = po.log_end_offset();
        assert!(
            end - po.log_start_offset() <= CAPACITY,
            "overshoot: log end {end}"
        );
        assert!(hw <= end, "high watermark {hw} past the log end {end}");
    });

    // Both terminate (a livelock would exceed loom's branch limit).
    let a = a.join().expect("appender a");
    let b = b.join().expect("appender b");
    observer.join().expect("observer");
    let end = partition.log_end_offset();
    assert_eq!(partition.log_start_offset(), 0, "no retention");
    assert!(end <= CAPACITY);
    assert_eq!(partition.high_watermark(), end, "nothing left unpublished");

    // Successful batches tile 0..end in reservation order; a failed one saw
    // exactly the batches reserved before it (start is 0, so live == tail).
    let mut expected = Vec::new();
    let mut won = Vec::new();
    for (result, writer, n) in [(&a, 'a', na), (&b, 'b', nb)] {
        match result {
            Ok(outcome) => won.push((outcome.base_offset, writer, n)),
            Err(live) => {
                let other = if writer == 'a' { &b } else { &a };
                let other_n = if writer == 'a' { nb } else { na };
                match other {
                    Ok(o) if o.base_offset == 0 => assert_eq!(*live, u64::from(other_n)),
                    _ => assert_eq!(*live, 0),
                }
                assert!(
                    end + u64::from(n) > CAPACITY,
                    "{writer} fits but was rejected"
                );
            }
        }
    }
    won.sort();
    let mut next = 0;
    for (base, writer, n) in won {
        assert_eq!(base, next, "dense, disjoint offsets");
        expected.extend((0..n).map(|i| (base + u64::from(i), value(writer, i))));
        next += u64::from(n);
    }
    assert_eq!(next, end);

    let mut consumer = log.consumer("t", 0).expect("consumer");
    assert_eq!(read_all(&mut consumer, 0).expect("in range"), expected);
    if a.is_ok() && b.is_err() {
        A_WON.fetch_add(1, Ordering::Relaxed);
    }
    if b.is_ok() && a.is_err() {
        B_WON.fetch_add(1, Ordering::Relaxed);
    }
    (a.is_ok(), b.is_ok())
}

/// Formerly `overshooting_writer_without_retention_livelocks` (ignored): a 3-
/// and a 2-record append into an empty capacity-3 partition with no retention.
/// The first reservation CAS wins; the other batch no longer fits (2 + 3 > 3)
/// and gets PartitionFull instead of overshooting into cell 0's next lap and
/// spinning forever. Then a 2- and a 1-record append: both always fit.
#[test]
fn racing_appenders_stop_exactly_at_capacity() {
    check("ring_capacity_3_and_2", || {
        let (a, b) = race_to_capacity(3, 2);
        assert!(a != b, "exactly one of 3 + 2 records fits in 3");
    });
    assert!(
        A_WON.load(Ordering::Relaxed) > 0 && B_WON.load(Ordering::Relaxed) > 0,
        "both reservation orders explored"
    );
    check("ring_capacity_2_and_1", || {
        assert_eq!(
            race_to_capacity(2, 1),
            (true, true),
            "2 + 1 fill it exactly"
        );
    });
}

/// Value of the record at `offset` in model 2: `q0..q2` at offsets 3..5 (the
/// setup's second lap), `w0 w1` at 6..7 (the concurrent writer).
fn lap_value(offset: u64) -> Vec<u8> {
    match offset {
        3..=5 => value('q', (offset - 3) as u8),
        6..=7 => value('w', (offset - 6) as u8),
        _ => panic!("offset {offset} was never readable in this phase"),
    }
}

/// Reader outcomes of model 2 over all executions.
static STALE_READ_OK: AtomicUsize = AtomicUsize::new(0);
static STALE_READ_OUT_OF_RANGE: AtomicUsize = AtomicUsize::new(0);
static LAP_WRITE: AtomicUsize = AtomicUsize::new(0);
static LAP_WRITE_FULL: AtomicUsize = AtomicUsize::new(0);

/// Setup (sequential, ManualClock, max_age 500 ms): offsets 0..3 at t=0 fill
/// the ring's first lap (cells 0..2), retention at t=1000 evicts them, offsets
/// 3..6 (`q0..q2`) at t=1000 go to cells 3, 0, 1 — cells 0 and 1 are reused.
/// Then at t=2000 (all of 3..6 now too old), concurrently:
/// - retention evicts segments 3, 4, 5 (log start 3 -> 6);
/// - a writer appends `w0 w1` at 6..8: segment 6 reuses cell 2 and segment 7
///   reuses cell 3, which holds the live segment 3 when the model starts. The
///   CAS admits it only once the log start is >= 5, i.e. after segments 3 and
///   4 were unlinked (I3); before that it gets PartitionFull. Its own
///   after-publish retention pass (try_lock) may race too;
/// - a reader polls from offset 3; its first log-start load may be stale (3),
///   after which cell 3 may hold segment 3, nothing, or segment 7 (next lap):
///   it must answer with `q0..` from offset 3 or OffsetOutOfRange, never `w1`.
#[test]
fn writer_in_a_reused_cell_races_age_retention_and_a_stale_reader() {
    check("ring_reuse_age_retention", || {
        let clock = ManualClock::new(0);
        let log = Log::with_config(ring_config().clock(StdArc::new(clock.clone())))
            .expect("valid config");
        let policy = RetentionPolicy::default().max_age(Duration::from_millis(500));
        log.create_topic_with("t", TopicConfig::new(1).retention(policy))
            .expect("new topic");
        let partition = log.partition("t", 0).expect("partition 0");
        partition.append(None, batch('p', 3)).expect("first lap");
        clock.set_ms(1_000);
        assert_eq!(partition.enforce_retention().log_start, 3);
        for i in 0..3 {
            let outcome = partition
                .append(None, [common::rec('q', i)])
                .expect("second lap");
            assert_eq!(outcome.base_offset, 3 + u64::from(i));
        }
        assert_eq!(
            partition.log_start_offset(),
            3,
            "t=1000 records are not old yet"
        );
        clock.set_ms(2_000);
        let mut consumer = log.consumer("t", 0).expect("consumer");
        let mut stale = consumer.clone();
        let reader = thread::spawn(move || read_all(&mut stale, 3));
        let evictor = partition.clone();
        let retention = thread::spawn(move || evictor.enforce_retention());
        let pw = partition.clone();
        let writer = thread::spawn(move || append(&pw, 'w', 2));

        match reader.join().expect("reader") {
            Ok(seen) => {
                assert!(!seen.is_empty(), "an evicted offset must not read as empty");
                for (i, (offset, v)) in seen.iter().enumerate() {
                    assert_eq!(*offset, 3 + i as u64, "contiguous from the position");
                    assert_eq!(
                        *v,
                        lap_value(*offset),
                        "record of the right lap at {offset}"
                    );
                }
                STALE_READ_OK.fetch_add(1, Ordering::Relaxed);
            }
            Err(LogError::OffsetOutOfRange {
                offset, log_start, ..
            }) => {
                assert_eq!(offset, 3);
                assert!(log_start > 3, "out of range only below the log start");
                STALE_READ_OUT_OF_RANGE.fetch_add(1, Ordering::Relaxed);
            }
            Err(other) => panic!("unexpected {other:?}"),
        }

        // The explicit pass computes a high watermark >= 6 and evicts every
        // t=1000 segment the writer's pass has not (whichever runs first).
        assert_eq!(retention.join().expect("retention").log_start, 6);
        let written = writer.join().expect("writer");
        match &written {
            Ok(outcome) => {
                assert_eq!(outcome.base_offset, 6);
                LAP_WRITE.fetch_add(1, Ordering::Relaxed);
            }
            Err(live) => {
                assert!(*live >= 2, "admitted only with log start >= 5");
                LAP_WRITE_FULL.fetch_add(1, Ordering::Relaxed);
            }
        }

        // Both passes ran on a high watermark of at least 6 (the setup's), and
        // the explicit one took the lock after or instead of the writer's:
        // every t=1000 segment is gone, the writer's t=2000 ones stay.
        let end = if written.is_ok() { 8 } else { 6 };
        assert_eq!(partition.log_start_offset(), 6);
        assert_eq!(partition.log_end_offset(), end);
        assert_eq!(partition.high_watermark(), end);
        let expected: Vec<_> = (6..end).map(|o| (o, lap_value(o))).collect();
        assert_eq!(read_all(&mut consumer, 6).expect("in range"), expected);
        for old in 0..6 {
            assert!(matches!(
                read_all(&mut consumer, old),
                Err(LogError::OffsetOutOfRange { log_start: 6, .. })
            ));
        }
    });
    println!(
        "ring_reuse_age_retention outcomes: reader got records {}, OffsetOutOfRange {}; \
         writer in reused cell 3 {}, PartitionFull {}",
        STALE_READ_OK.load(Ordering::Relaxed),
        STALE_READ_OUT_OF_RANGE.load(Ordering::Relaxed),
        LAP_WRITE.load(Ordering::Relaxed),
        LAP_WRITE_FULL.load(Ordering::Relaxed)
    );
    for (what, count) in [
        ("a read of the old lap", &STALE_READ_OK),
        ("an OffsetOutOfRange read", &STALE_READ_OUT_OF_RANGE),
        ("a write into the reused cell 3", &LAP_WRITE),
        ("a PartitionFull writer", &LAP_WRITE_FULL),
    ] {
        assert!(count.load(Ordering::Relaxed) > 0, "never reached {what}");
    }
}

/// Executions of model 3 in which the passes left segments for a later pass.
static PASS_LEFT_SEGMENT: AtomicUsize = AtomicUsize::new(0);
/// Reader outcomes of model 3 over all executions.
static READ_OK: AtomicUsize = AtomicUsize::new(0);
static READ_OUT_OF_RANGE: AtomicUsize = AtomicUsize::new(0);

/// Setup (max_records 1): five single appends `p0..p4`, each followed by the
/// appender's retention pass, leave only offset 4, whose segment lives in cell 0
/// (the ring's second lap). Concurrently: a writer appends `w0 w1` at 5..7
/// (cells 1 and 2, reused) and then runs retention by try_lock; an explicit
/// `enforce_retention` runs; a reader polls from offset 4. Asserts the writer
/// always fits (7 - 4 <= 3), the reader gets `p4 [w0 [w1]]` or OffsetOutOfRange,
/// and the final contents are exact.
#[test]
fn writer_in_a_reused_cell_races_record_retention_and_a_reader() {
    check("ring_reuse_record_retention", || {
        let log = Log::with_config(ring_config()).expect("valid config");
        let policy = RetentionPolicy::default().max_records(1);
        log.create_topic_with("t", TopicConfig::new(1).retention(policy))
            .expect("new topic");
        let partition = log.partition("t", 0).expect("partition 0");
        for i in 0..5 {
            partition
                .append(None, [common::rec('p', i)])
                .expect("setup");
        }
        assert_eq!(partition.log_start_offset(), 4);

        let mut consumer = log.consumer("t", 0).expect("consumer");
        let mut old = consumer.clone();
        let reader = thread::spawn(move || read_all(&mut old, 4));
        let evictor = partition.clone();
        let retention = thread::spawn(move || evictor.enforce_retention());
        let pw = partition.clone();
        let writer = thread::spawn(move || append(&pw, 'w', 2));

        let expected_value = |offset: u64| match offset {
            4 => value('p', 4),
            5 | 6 => value('w', (offset - 5) as u8),
            _ => panic!("offset {offset} was never readable in this phase"),
        };
        match reader.join().expect("reader") {
            Ok(seen) => {
                assert!(!seen.is_empty(), "an evicted offset must not read as empty");
                for (i, (offset, v)) in seen.iter().enumerate() {
                    assert_eq!(*offset, 4 + i as u64, "contiguous from the position");
                    assert_eq!(*v, expected_value(*offset), "record of the right lap");
                }
                READ_OK.fetch_add(1, Ordering::Relaxed);
            }
            Err(LogError::OffsetOutOfRange {
                offset, log_start, ..
            }) => {
                assert_eq!(offset, 4);
                assert!(log_start > 4);
                READ_OUT_OF_RANGE.fetch_add(1, Ordering::Relaxed);
            }
            Err(other) => panic!("unexpected {other:?}"),
        }

        let outcome = writer.join().expect("writer").expect("always fits");
        assert_eq!(outcome.base_offset, 5);
        retention.join().expect("retention");
        assert_eq!(partition.log_end_offset(), 7);
        assert_eq!(partition.high_watermark(), 7);
        // If the explicit pass held the lock when the writer tried it (so the
        // writer's pass was skipped) and had computed its live count before the
        // writer's reservation (start 4) or its high watermark before w0 was
        // published (start 5), segments stay for the next pass (I7: legal).
        let start = partition.log_start_offset();
        assert!((4..=6).contains(&start), "log start {start}");
        if start < 6 {
            PASS_LEFT_SEGMENT.fetch_add(1, Ordering::Relaxed);
            assert_eq!(partition.enforce_retention().log_start, 6);
        }
        assert_eq!(
            read_all(&mut consumer, 6).expect("in range"),
            vec![(6, value('w', 1))]
        );
        assert!(matches!(
            read_all(&mut consumer, 5),
            Err(LogError::OffsetOutOfRange { log_start: 6, .. })
        ));
    });
    for (what, count) in [
        ("a read of offset 4", &READ_OK),
        ("an OffsetOutOfRange read", &READ_OUT_OF_RANGE),
        (
            "a pass that left segments for the next one",
            &PASS_LEFT_SEGMENT,
        ),
    ] {
        assert!(count.load(Ordering::Relaxed) > 0, "never reached {what}");
    }
}
