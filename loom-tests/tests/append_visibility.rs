//! Model (a): two plain appenders and a concurrent reader (I2, I4, I5).
//!
//! Checks: offsets are unique and dense (every offset below the tail belongs to
//! exactly one batch, batches are contiguous and in record order); the reader
//! only ever sees published, untorn records (value and offset agree with the
//! final log; loom's UnsafeCell tracking flags any payload read that is not
//! ordered after its write); what it sees is a contiguous prefix starting at 0;
//! and the high watermark it computed just before reading is not beyond that
//! prefix. Segment size 2 makes the 2-record batch straddle a segment boundary when
//! it lands at offset 1.
//!
//! The reader is a spawned thread (work left on the model's main thread is
//! barely interleaved, README.md); the test asserts it saw every prefix length
//! 0, 1, 2 and 3 in some execution.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_prefix_then_complete, batch, check, one_partition, value};
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

/// Executions in which the racing reader saw exactly `n` records (index `n`).
static SEEN_LEN: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

#[test]
fn two_appenders_and_a_reader() {
    check("append_visibility", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_records(2).max_segments(4),
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
