//! Model (i): a reservation across a segment end (I2, I3, I4, I5).
//!
//! The open segment has room for either of two racing batches but not for both:
//! whichever reserves second must see (from the tail CAS it lost, or its first
//! load) that its batch no longer fits, install the next segment and reserve at
//! its start, in the same CAS that moves the tail there. Both appenders succeed
//! with dense offsets; a spawned reader polling from 0 sees a contiguous prefix
//! in order: when the batch in the new segment is published before the one at
//! the end of the old segment, it must stop at the unpublished one (it steps to
//! the next segment only when that segment's first batch starts where it
//! stands).
//!
//! 1. `by_units`: segments of 256 bytes (32 units, at most 4 batches); `p0` (7
//!    units) is in segment 1; `a` and `b` are 6-record batches of 13 units:
//!    7 + 13 + 13 = 33 > 32 units, while 3 batches would fit the 4 slots.
//! 2. `by_batch_count`: segments of 512 bytes (64 units, at most 8 batches);
//!    `p0..p6` (7 single-record batches, 49 units) are in segment 1; `a` and
//!    `b` are single-record batches: 49 + 7 + 7 = 63 units would fit, but 9
//!    batches do not fit the 8 commit slots.
//!
//! Asserts the reader stopped after the prefill only, after the first batch, and
//! after everything, in some execution each.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{
    assert_prefix_then_complete, batch, check, one_partition, rec, spawn_reader, tiled, value,
};
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

/// Reader outcomes (stopped after the prefill / after the first batch / after
/// both) of models 1 and 2.
static BY_UNITS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static BY_COUNT: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// `prefill` single-record batches `p0..` in segment 1, then `a` and `b` of `n`
/// records each race a reader; the second to reserve opens segment 2. Counts
/// the reader's stop in `outcomes`.
fn race_across_the_segment_end(
    segment_bytes: usize,
    prefill: u8,
    n: u8,
    outcomes: &[AtomicUsize; 3],
) {
    let (log, partition) = one_partition(
        LogConfig::default()
            .segment_bytes(segment_bytes)
            .max_segments(4),
        TopicConfig::new(1),
    );
    for i in 0..prefill {
        let outcome = partition.append(None, [rec('p', i)]).expect("prefill");
        assert_eq!(outcome.base_offset, u64::from(i));
    }
    assert_eq!(partition.live_segments(), 1);
    let mut consumer = log.consumer("t", 0).expect("consumer");

    let pa = partition.clone();
    let a = thread::spawn(move || pa.append(None, batch('a', n)).expect("append a"));
    let pb = partition.clone();
    let b = thread::spawn(move || pb.append(None, batch('b', n)).expect("append b"));
    let reader = spawn_reader(&partition, consumer.clone(), true);

    let a = a.join().expect("thread a");
    let b = b.join().expect("thread b");
    let seen = reader.join().expect("reader");
    let (k, n) = (u64::from(prefill), u64::from(n));
    let mut bases = [a.base_offset, b.base_offset];
    bases.sort_unstable();
    assert_eq!(bases, [k, k + n], "dense, disjoint reservations");
    let prefix: Vec<_> = (0..prefill)
        .map(|i| (u64::from(i), value('p', i)))
        .collect();
    let expected = tiled(&prefix, &[('a', a), ('b', b)]);
    assert_prefix_then_complete(&seen, &expected, &partition, &mut consumer);
    assert_eq!(
        partition.live_segments(),
        2,
        "the second batch opened segment 2"
    );
    // The reader only ever stops at a batch boundary.
    let stop = match seen.len() as u64 {
        len if len == k => 0,
        len if len == k + n => 1,
        len if len == k + 2 * n => 2,
        len => panic!("reader stopped inside a batch: {len} records"),
    };
    outcomes[stop].fetch_add(1, Ordering::Relaxed);
}

fn assert_all_stops(name: &str, outcomes: &[AtomicUsize; 3]) {
    let counts: Vec<usize> = outcomes
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    println!(
        "{name} outcomes: reader stopped after the prefill / the first batch / both: {counts:?}"
    );
    for (count, what) in counts.iter().zip([
        "after the prefill",
        "after the first batch",
        "after both batches",
    ]) {
        assert!(
            *count > 0,
            "{name}: never reached a reader that stopped {what}"
        );
    }
}

#[test]
fn by_units() {
    check("segment_end_by_units", || {
        race_across_the_segment_end(256, 1, 6, &BY_UNITS)
    });
    assert_all_stops("segment_end_by_units", &BY_UNITS);
}

#[test]
fn by_batch_count() {
    check("segment_end_by_batch_count", || {
        race_across_the_segment_end(512, 7, 1, &BY_COUNT)
    });
    assert_all_stops("segment_end_by_batch_count", &BY_COUNT);
}
