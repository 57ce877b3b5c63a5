//! Model (j): retention evicts segments while an appender keeps writing, so a
//! later segment takes an evicted segment's ring cell (and, in production, its
//! pooled memory), racing a consumer that reads the evicted offsets (I4, I7;
//! of I8 only the unlink, see below).
//!
//! What loom can and cannot check here: in production an evicted segment's
//! memory goes back to the partition's pool once no reader holds it
//! (crossbeam-epoch, then the last `Arc`), and the next installed segment reuses
//! it without clearing: its commit words are tagged with the memory's lap, so a
//! word of the previous lap never reads as committed. Under loom, eviction
//! leaks the segment instead (src/sync.rs: loom cannot model the epoch
//! collector), so no memory is ever recycled, every segment is a fresh
//! allocation of lap 1, and the lap tags are not exercised; the pool's reuse and
//! the lap check are covered by the unit tests in `src/log/storage.rs` (a
//! recycled memory shows only its new batch) and, for the unsafe code, by Miri
//! (`tests/miri_unsafe.rs`; CI also runs it under ThreadSanitizer, with
//! tests/stress.rs `readers_racing_eviction_never_see_a_recycled_segments_bytes`).
//! What this model checks is the
//! unlink/tombstone protocol around the reused ring cell: eviction moves the log
//! start before it replaces the cell's segment by a tombstone, and a reader
//! accepts a cell's segment only if its number is the one it looks for, so
//! - a reader never sees an evicted offset's bytes under a newer offset, nor a
//!   newer segment's bytes under an evicted offset (each offset's value is
//!   unique and checked);
//! - a poll of an evicted offset answers `OffsetOutOfRange`, never an empty or
//!   short `Ok` from a segment found gone;
//! - a consumer whose segment is evicted under it (it holds the segment, so in
//!   production that memory is not recycled while it reads) continues
//!   contiguously, or gets `OffsetOutOfRange` once its position is evicted.
//!
//! Setup: segments of 128 bytes (2 single-record batches each), a ring of two
//! cells, `max_records(1)`; `p0 p1` fill segment 1 (cell 1). Concurrently:
//! - the writer appends `w0` (offset 2: opens segment 2 in cell 0; its pass
//!   evicts segment 1, log start 2), `w1` (3, fills segment 2), `w2` (4: opens
//!   segment 3 in cell 1, segment 1's cell; its pass evicts segment 2, log
//!   start 4);
//! - a consumer polls from offset 0, then polls again from where it stopped.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{batch, check, read_all, rec, value};
use idemlog::{Consumer, Log, LogConfig, LogError, RetentionPolicy, TopicConfig};
use loom::thread;

/// The value written at `offset`.
fn value_at(offset: u64) -> Vec<u8> {
    match offset {
        0 | 1 => value('p', offset as u8),
        2..=4 => value('w', (offset - 2) as u8),
        _ => panic!("offset {offset} was never written"),
    }
}

/// Outcomes over all executions: first poll Ok / OffsetOutOfRange, second poll
/// Ok with records / Ok empty (at the log end) / OffsetOutOfRange.
static FIRST_OK: AtomicUsize = AtomicUsize::new(0);
static FIRST_OUT_OF_RANGE: AtomicUsize = AtomicUsize::new(0);
static SECOND_RECORDS: AtomicUsize = AtomicUsize::new(0);
static SECOND_OUT_OF_RANGE: AtomicUsize = AtomicUsize::new(0);

/// Checks one poll from `from`: valid records contiguous from `from`, or
/// OffsetOutOfRange below the log start. Returns the records, or None.
fn poll_checked(consumer: &mut Consumer, from: u64) -> Option<usize> {
    match read_all(consumer, from) {
        Ok(seen) => {
            for (i, (offset, v)) in seen.iter().enumerate() {
                assert_eq!(*offset, from + i as u64, "contiguous from the position");
                assert_eq!(*v, value_at(*offset), "the bytes written at {offset}");
            }
            Some(seen.len())
        }
        Err(LogError::OffsetOutOfRange {
            offset, log_start, ..
        }) => {
            assert_eq!(offset, from);
            assert!(
                offset < log_start,
                "out of range only below the log start ({offset} >= {log_start})"
            );
            assert!(log_start == 2 || log_start == 4, "segment-aligned start");
            None
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn appends_reuse_evicted_cells_while_a_consumer_reads() {
    check("segment_recycling", || {
        let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(2))
            .expect("valid config");
        let policy = RetentionPolicy::default().max_records(1);
        log.create_topic_with("t", TopicConfig::new(1).retention(policy))
            .expect("new topic");
        let partition = log.partition("t", 0).expect("partition 0");
        for i in 0..2 {
            partition.append(None, [rec('p', i)]).expect("setup");
        }
        assert_eq!(partition.live_segments(), 1);
        let mut consumer = log.consumer("t", 0).expect("consumer");
        let mut racing = consumer.clone();

        let pw = partition.clone();
        let writer = thread::spawn(move || {
            (0..3)
                .map(|i| pw.append(None, [rec('w', i)]).expect("fits").base_offset)
                .collect::<Vec<_>>()
        });
        let reader = thread::spawn(move || {
            let first = poll_checked(&mut racing, 0);
            let second = first.map(|read| (read, poll_checked(&mut racing, read as u64)));
            (first, second)
        });

        assert_eq!(writer.join().expect("writer"), vec![2, 3, 4]);
        let (first, second) = reader.join().expect("reader");
        match first {
            Some(read) => {
                // Offsets 0 and 1 were published before the race, and a poll
                // that finds segment 1 answers from it (it may already be
                // unlinked: the reader holds it).
                assert!(read >= 2, "a poll of offset 0 read {read} records");
                FIRST_OK.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                FIRST_OUT_OF_RANGE.fetch_add(1, Ordering::Relaxed);
            }
        }
        match second {
            Some((_, Some(_))) => {
                SECOND_RECORDS.fetch_add(1, Ordering::Relaxed);
            }
            Some((_, None)) => {
                SECOND_OUT_OF_RANGE.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }

        // The writer's own passes (the only evictor) left segment 3 only.
        assert_eq!(partition.log_start_offset(), 4);
        assert_eq!(partition.log_end_offset(), 5);
        assert_eq!(partition.high_watermark(), 5);
        assert_eq!(partition.live_segments(), 1);
        assert_eq!(
            read_all(&mut consumer, 4).expect("in range"),
            vec![(4, value('w', 2))],
            "segment 3 in cell 1 holds w2, not segment 1's bytes"
        );
        for old in 0..4 {
            assert!(matches!(
                read_all(&mut consumer, old),
                Err(LogError::OffsetOutOfRange { log_start: 4, .. })
            ));
        }
        // A fresh batch after all this still lands where the tail says.
        assert_eq!(
            partition
                .append(None, batch('z', 1))
                .expect("z")
                .base_offset,
            5
        );
    });
    println!(
        "segment_recycling outcomes: first poll Ok {}, OffsetOutOfRange {}; \
         second poll Ok {}, OffsetOutOfRange {}",
        FIRST_OK.load(Ordering::Relaxed),
        FIRST_OUT_OF_RANGE.load(Ordering::Relaxed),
        SECOND_RECORDS.load(Ordering::Relaxed),
        SECOND_OUT_OF_RANGE.load(Ordering::Relaxed)
    );
    for (what, count) in [
        ("a first poll with records", &FIRST_OK),
        ("a first poll out of range", &FIRST_OUT_OF_RANGE),
        ("a second poll that continued", &SECOND_RECORDS),
        ("a second poll out of range", &SECOND_OUT_OF_RANGE),
    ] {
        assert!(count.load(Ordering::Relaxed) > 0, "never reached {what}");
    }
}
