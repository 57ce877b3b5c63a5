//! Model (a): two plain appenders and a concurrent reader (I2, I4, I5).
//!
//! Checks: offsets are unique and dense (every offset below the tail belongs to
//! exactly one batch, batches are contiguous and in record order); the reader
//! only ever sees published, untorn records (value and offset agree with the
//! final log; loom's UnsafeCell tracking flags any payload read that is not
//! ordered after its write); what it sees is a contiguous prefix starting at 0;
//! and the high watermark it computed just before reading is not beyond that
//! prefix. Segments of 128 bytes (16 units, at most 2 batches): the 1-record
//! batch (7 units) and the 2-record batch (8 units) share segment 1, in either
//! order, so the reader meets a committed batch behind an uncommitted one in the
//! same segment (commit slots 0 and 1) and must stop at the first. Both
//! appenders find the partition empty, so both race to install segment 1 (the
//! lazy first allocation). Batches that do not fit the open segment are models
//! (c) and `segment_end_reservation.rs`.
//!
//! The reader is a spawned thread (work left on the model's main thread is
//! barely interleaved, README.md); the test asserts it saw every prefix length
//! 0, 1, 2 and 3 in some execution.
//!
//! `reader_seeking_into_a_batch_being_written`: a reader seeks to offset 1,
//! the middle of a 2-record batch that is being appended, and polls: it gets
//! OffsetOutOfRange (not reserved yet: 1 > log end 0), nothing (reserved, not
//! published) or exactly `a1` at offset 1 — never `a0`, which is below its
//! position (the cursor must land on the record, not on the batch start).
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_prefix_then_complete, batch, check, one_partition, read_all, value};
use idemlog::{LogConfig, LogError, TopicConfig};
use loom::thread;

/// Executions in which the racing reader saw exactly `n` records (index `n`).
static SEEN_LEN: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

#[test]
fn two_appenders_and_a_reader() {
    check("append_visibility", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        let mut consumer = log.consumer("t", 0).expect("consumer");

        let pa = partition.clone();
        let a = thread::spawn(move || pa.append(None, batch('a', 1)).expect("append a"));
        let pb = partition.clone();
        let b = thread::spawn(move || pb.append(None, batch('b', 2)).expect("append b"));

        // The reader, racing both appenders.
        let pr = partition.clone();
        let mut racing = consumer.clone();
        let reader = thread::spawn(move || {
            let hw_before = pr.high_watermark();
            let mut seen = Vec::new();
            let read = racing
                .poll_with(8, |view| seen.push((view.offset, view.value.to_vec())))
                .expect("offset 0 is in range");
            assert_eq!(read, seen.len());
            assert_eq!(racing.position(), read as u64);
            // I5: the high watermark is the end of the published prefix, which
            // only grows: the read that follows finds at least that many records.
            assert!(
                hw_before <= read as u64,
                "high watermark {hw_before} beyond the readable prefix {seen:?}"
            );
            seen
        });

        let a = a.join().expect("thread a");
        let b = b.join().expect("thread b");
        let seen = reader.join().expect("reader");

        // I2: unique, dense offsets, each batch contiguous and in order.
        let mut by_offset: Vec<Option<Vec<u8>>> = vec![None; 3];
        for (writer, outcome) in [('a', a), ('b', b)] {
            assert!(!outcome.duplicate);
            for i in 0..outcome.record_count {
                let slot = &mut by_offset[(outcome.base_offset + i) as usize];
                assert!(slot.is_none(), "offset handed out twice");
                *slot = Some(value(writer, i as u8));
            }
        }
        let expected: Vec<(u64, Vec<u8>)> = by_offset
            .into_iter()
            .enumerate()
            .map(|(offset, v)| (offset as u64, v.expect("dense offsets")))
            .collect();

        // I4 + I5: the reader saw a contiguous prefix of exactly these records,
        // and everything is published once both appenders returned.
        assert_prefix_then_complete(&seen, &expected, &partition, &mut consumer);
        // 7 + 8 units of 16, 2 batches of 2: both batches share segment 1.
        assert_eq!(partition.live_segments(), 1, "both batches in segment 1");
        SEEN_LEN[seen.len()].fetch_add(1, Ordering::Relaxed);
    });
    let counts: Vec<usize> = SEEN_LEN
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    println!("append_visibility outcomes: reader saw 0 / 1 / 2 / 3 records: {counts:?}");
    for (len, count) in counts.iter().enumerate() {
        assert!(
            *count > 0,
            "never reached a reader that saw {len} of the 3 records"
        );
    }
}

/// Outcomes of the mid-batch seek: OffsetOutOfRange, empty, `a1`.
static MID_BATCH: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

#[test]
fn reader_seeking_into_a_batch_being_written() {
    check("append_visibility_mid_batch", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        let mut consumer = log.consumer("t", 0).expect("consumer");
        let pa = partition.clone();
        let a = thread::spawn(move || pa.append(None, batch('a', 2)).expect("append a"));
        let mut racing = consumer.clone();
        let reader = thread::spawn(move || read_all(&mut racing, 1));

        assert_eq!(a.join().expect("thread a").base_offset, 0);
        match reader.join().expect("reader") {
            Err(LogError::OffsetOutOfRange {
                offset: 1,
                log_start: 0,
                log_end: 0,
            }) => MID_BATCH[0].fetch_add(1, Ordering::Relaxed),
            Ok(seen) if seen.is_empty() => MID_BATCH[1].fetch_add(1, Ordering::Relaxed),
            Ok(seen) => {
                assert_eq!(seen, vec![(1, value('a', 1))], "read from the position");
                MID_BATCH[2].fetch_add(1, Ordering::Relaxed)
            }
            Err(other) => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            read_all(&mut consumer, 1).expect("in range"),
            vec![(1, value('a', 1))]
        );
    });
    let counts: Vec<usize> = MID_BATCH
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    println!("append_visibility_mid_batch outcomes: out of range / empty / a1: {counts:?}");
    for (count, what) in counts.iter().zip(["out of range", "empty", "a1"]) {
        assert!(
            *count > 0,
            "never reached a mid-batch read answering {what}"
        );
    }
}
