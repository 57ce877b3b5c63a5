//! Model (c): reservations that straddle segment boundaries (I2, I3).
//!
//! Segments of 2 records; offset 0 is taken before the threads start, so the two
//! 2-record batches land at 1..3 and 3..5: both straddle a boundary and both race
//! to install segment 1 (offsets 2 and 3) with a CAS; the loser drops its fresh
//! allocation and writes into the winner's segment. A reader polls concurrently.
//! Checks: dense disjoint offsets, every record in its place in the right
//! segment (a write into the loser's segment would be lost), the reader sees a
//! correct contiguous prefix, and the final log is exact.
#![cfg(loom)]

mod common;

use common::{batch, check, value};
use idemlog::{Log, LogConfig};
use loom::thread;

#[test]
fn straddling_batches_race_to_install_a_segment() {
    check("segment_boundary", || {
        let log = Log::with_config(LogConfig::default().segment_records(2).max_segments(4))
            .expect("valid config");
        log.create_topic("t", 1).expect("new topic");
        let partition = log.partition("t", 0).expect("partition 0");
        let first = partition.append(None, batch('p', 1)).expect("prefill");
        assert_eq!(first.base_offset, 0);
        let mut consumer = log.consumer("t", 0).expect("consumer");

        let pa = partition.clone();
        let a = thread::spawn(move || pa.append(None, batch('a', 2)).expect("append a"));
        let pb = partition.clone();
        let b = thread::spawn(move || pb.append(None, batch('b', 2)).expect("append b"));

        let mut seen = Vec::new();
        consumer
            .poll_with(8, |view| seen.push((view.offset, view.value.to_vec())))
            .expect("in range");

        let a = a.join().expect("thread a");
        let b = b.join().expect("thread b");
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
        assert_eq!(seen[..], expected[..seen.len()]);

        assert_eq!(partition.high_watermark(), 5);
        let mut all = Vec::new();
        consumer.seek(0);
        consumer
            .poll_with(8, |view| all.push((view.offset, view.value.to_vec())))
            .expect("in range");
        assert_eq!(all, expected);
    });
}
