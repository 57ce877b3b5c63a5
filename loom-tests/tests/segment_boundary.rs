//! Model (c): reservations that straddle segment boundaries (I2, I3).
//!
//! Segments of 2 records; offset 0 is taken before the threads start, so the two
//! 2-record batches land at 1..3 and 3..5: both straddle a boundary and both race
//! to install segment 1 (offsets 2 and 3) with a CAS; the loser drops its fresh
//! allocation and writes into the winner's segment. A spawned reader polls from
//! offset 0 concurrently (work left on the model's main thread is barely
//! interleaved, README.md).
//! Checks: dense disjoint offsets, every record in its place in the right
//! segment (a write into the loser's segment would be lost), the reader sees a
//! correct contiguous prefix, and the final log is exact. Asserts the reader
//! stopped inside segment 0 (1 record), at the boundary to segment 1 (2), inside
//! segment 1 (3), at the boundary to segment 2 (4) and after everything (5).
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_prefix_then_complete, batch, check, one_partition, value};
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

/// Executions in which the racing reader saw exactly `n` records (index `n`).
static SEEN_LEN: [AtomicUsize; 6] = [const { AtomicUsize::new(0) }; 6];

#[test]
fn straddling_batches_race_to_install_a_segment() {
    check("segment_boundary", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_records(2).max_segments(4),
            TopicConfig::new(1),
        );
        let first = partition.append(None, batch('p', 1)).expect("prefill");
        assert_eq!(first.base_offset, 0);
        let mut consumer = log.consumer("t", 0).expect("consumer");

        let pa = partition.clone();
        let a = thread::spawn(move || pa.append(None, batch('a', 2)).expect("append a"));
        let pb = partition.clone();
        let b = thread::spawn(move || pb.append(None, batch('b', 2)).expect("append b"));

        let mut racing = consumer.clone();
        let reader = thread::spawn(move || {
            let mut seen = Vec::new();
            let read = racing
                .poll_with(8, |view| seen.push((view.offset, view.value.to_vec())))
                .expect("in range");
            assert_eq!(read, seen.len());
            assert_eq!(racing.position(), read as u64);
            seen
        });

        let a = a.join().expect("thread a");
        let b = b.join().expect("thread b");
        let seen = reader.join().expect("reader");
        let mut bases = [a.base_offset, b.base_offset];
        bases.sort_unstable();
        assert_eq!(bases, [1, 3], "dense, disjoint reservations");

        let mut expected = vec![(0, value('p', 0))];
        let mut batches = [(a.base_offset, 'a'), (b.base_offset, 'b')];
        batches.sort_unstable();
        for (base, writer) in batches {
            expected.push((base, value(writer, 0)));
            expected.push((base + 1, value(writer, 1)));
        }
        assert!(!seen.is_empty(), "offset 0 was published before the race");
        assert_prefix_then_complete(&seen, &expected, &partition, &mut consumer);
        SEEN_LEN[seen.len()].fetch_add(1, Ordering::Relaxed);
    });
    let counts: Vec<usize> = SEEN_LEN
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    println!("segment_boundary outcomes: reader saw 0..=5 records: {counts:?}");
    for (len, what) in [
        (1, "inside segment 0"),
        (2, "at the boundary of segment 1"),
        (3, "inside segment 1"),
        (4, "at the boundary of segment 2"),
        (5, "after every record"),
    ] {
        assert!(
            counts[len] > 0,
            "never reached a reader that stopped {what} ({len} records)"
        );
    }
}
