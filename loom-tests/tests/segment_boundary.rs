//! Model (c): two batches that both find the open segment full race to install
//! the next one (I2, I3; I4 and I5 for the racing reader).
//!
//! Segments of 128 bytes (16 units, at most 2 batches). Offsets 0 and 1 (two
//! single-record batches of 7 units) fill segment 1 before the threads start, so
//! neither 1-record batch of the race fits it (no commit slot left): both see the
//! tail at the end of segment 1 and race to install segment 2 in its ring cell by
//! CAS; the loser drops its fresh segment and both reserve (7 + 7 units) in the
//! winner's segment 2, at offsets 2 and 3. A spawned reader polls from offset 0
//! concurrently (work left on the model's main thread is barely interleaved,
//! README.md).
//! Checks: dense disjoint offsets, every record in its place in the installed
//! segment (a write into the loser's dropped segment would be lost), the reader
//! sees a correct contiguous prefix, and the final log is exact: two segments.
//! Asserts the reader stopped at the end of segment 1 (2 records), inside segment
//! 2 (3) and after everything (4). A batch that fits the open segment alone but
//! not after the other is `segment_end_reservation.rs`.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{
    assert_prefix_then_complete, batch, check, one_partition, rec, spawn_reader, tiled, value,
};
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

/// Executions in which the racing reader saw exactly `n` records (index `n`).
static SEEN_LEN: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];

#[test]
fn straddling_batches_race_to_install_a_segment() {
    check("segment_boundary", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        for i in 0..2 {
            let prefill = partition.append(None, [rec('p', i)]).expect("prefill");
            assert_eq!(prefill.base_offset, u64::from(i));
        }
        assert_eq!(partition.live_segments(), 1, "segment 1 is full");
        let mut consumer = log.consumer("t", 0).expect("consumer");

        let pa = partition.clone();
        let a = thread::spawn(move || pa.append(None, batch('a', 1)).expect("append a"));
        let pb = partition.clone();
        let b = thread::spawn(move || pb.append(None, batch('b', 1)).expect("append b"));
        let reader = spawn_reader(&partition, consumer.clone(), false);

        let a = a.join().expect("thread a");
        let b = b.join().expect("thread b");
        let seen = reader.join().expect("reader");
        let mut bases = [a.base_offset, b.base_offset];
        bases.sort_unstable();
        assert_eq!(bases, [2, 3], "dense, disjoint reservations");

        let prefix = [(0, value('p', 0)), (1, value('p', 1))];
        let expected = tiled(&prefix, &[('a', a), ('b', b)]);
        assert!(
            seen.len() >= 2,
            "offsets 0 and 1 were published before the race"
        );
        assert_prefix_then_complete(&seen, &expected, &partition, &mut consumer);
        assert_eq!(
            partition.live_segments(),
            2,
            "both batches in the one installed segment 2"
        );
        SEEN_LEN[seen.len()].fetch_add(1, Ordering::Relaxed);
    });
    let counts: Vec<usize> = SEEN_LEN
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    println!("segment_boundary outcomes: reader saw 0..=4 records: {counts:?}");
    for (len, what) in [
        (2, "at the end of segment 1"),
        (3, "inside segment 2"),
        (4, "after every record"),
    ] {
        assert!(
            counts[len] > 0,
            "never reached a reader that stopped {what} ({len} records)"
        );
    }
}
