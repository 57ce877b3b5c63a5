//! Small multi-threaded tests of the unsafe paths (batch writes into segment
//! buffers and their zero-copy reads, the segment ring, segment install races,
//! eviction + crossbeam-epoch reclamation + the segment pool's recycling, owned
//! records that outlive their segment, the producer-state seqlock, consumer
//! wake-up), sized for Miri:
//!
//! ```text
//! MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-permissive-provenance" \
//!     CARGO_TARGET_DIR=/work/target-miri cargo +nightly miri test --test miri_unsafe
//! ```
//!
//! They also run (fast) in the ordinary `cargo test`.
//!
//! Segments are the smallest there are: 128 bytes, 16 units of 8 bytes, at most
//! 2 batches. A single-record batch with a 2-byte value takes 40 + 8 + 2 = 50 ->
//! 56 bytes = 7 units, so two of them fill a segment; one with a 24-byte value
//! takes 72 bytes = 9 units, so each such record has a segment to itself.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use idemlog::{
    BatchHeader, ConsumerRecord, Log, LogConfig, LogError, ManualClock, Record, RetentionPolicy,
    TopicConfig,
};

/// A log of 128-byte segments on a manual clock (Miri's isolation forbids the
/// system clock).
fn tiny_log(max_segments: usize) -> (Log, ManualClock) {
    let clock = ManualClock::new(1_000);
    let log = Log::with_config(
        LogConfig::default()
            .segment_bytes(128)
            .max_segments(max_segments)
            .clock(Arc::new(clock.clone()))
            .housekeeping(None),
    )
    .expect("valid config");
    (log, clock)
}

/// A 2-byte value: single-record batches of these go two to a segment.
fn value(writer: u8, index: u8) -> Vec<u8> {
    vec![writer, index]
}

/// A 24-byte value: a single-record batch of it fills a segment on its own.
fn big(byte: u8) -> Vec<u8> {
    vec![byte; 24]
}

/// Two appenders of single-record batches (two to a segment) over many segments
/// while retention evicts old ones (crossbeam-epoch really reclaims them here,
/// and the pool hands their memory to later segments) and a reader walks the
/// log: every record the reader gets is intact and in order.
#[test]
fn appends_reads_and_eviction_race() {
    const PER_WRITER: u8 = 8;
    let (log, _clock) = tiny_log(4);
    let policy = RetentionPolicy::default().max_records(2);
    log.create_topic_with("t", TopicConfig::new(1).retention(policy))
        .expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");

    let writers: Vec<_> = [b'a', b'b']
        .into_iter()
        .map(|writer| {
            let partition = partition.clone();
            thread::spawn(move || {
                let mut offsets = Vec::new();
                for i in 0..PER_WRITER {
                    loop {
                        match partition.append(None, Record::new(value(writer, i))) {
                            Ok(outcome) => {
                                offsets.push(outcome.base_offset);
                                break;
                            }
                            Err(LogError::PartitionFull { .. }) => {
                                partition.enforce_retention();
                                thread::yield_now();
                            }
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                }
                offsets
            })
        })
        .collect();

    let mut consumer = log.consumer("t", 0).expect("consumer");
    let mut last_seen: [Option<u8>; 2] = [None, None];
    let mut previous_offset = None;
    while consumer.position() < 2 * u64::from(PER_WRITER) {
        let result = consumer.poll_with(4, |view| {
            let (writer, index) = (view.value[0], view.value[1]);
            assert!(writer == b'a' || writer == b'b', "garbage record");
            let slot = &mut last_seen[usize::from(writer - b'a')];
            assert!(slot.is_none_or(|last| index > last), "per-writer order");
            *slot = Some(index);
            assert!(previous_offset.is_none_or(|p| view.offset > p));
            previous_offset = Some(view.offset);
        });
        match result {
            Ok(_) => thread::yield_now(),
            Err(LogError::OffsetOutOfRange { log_start, .. }) => consumer.seek(log_start),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    let mut all: Vec<u64> = writers
        .into_iter()
        .flat_map(|handle| handle.join().expect("writer"))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * u64::from(PER_WRITER)).collect::<Vec<_>>());
    assert_eq!(partition.high_watermark(), 2 * u64::from(PER_WRITER));
}

/// Two concurrent copies of one idempotent batch that does not fit the open
/// segment, so it opens the next one (batches never span segments: this is the
/// old straddling case): one append, one duplicate with the same offsets,
/// records stored once.
#[test]
fn concurrent_retries_of_one_batch() {
    let (log, _clock) = tiny_log(4);
    log.create_topic("t", 1).expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    // 9 units at offset 0; the 2-record batch below takes 40 + 2 * 10 = 60 -> 64
    // bytes = 8 units, and 9 + 8 > 16.
    partition
        .append(None, Record::new(big(b'p')))
        .expect("offset 0, so the batch opens segment 2");
    let pid = log.init_producer_id().producer_id;
    let header = BatchHeader {
        producer_id: pid,
        epoch: 0,
        base_sequence: 0,
    };
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let partition = partition.clone();
            thread::spawn(move || {
                partition
                    .append(
                        Some(header),
                        vec![Record::new(value(b'x', 0)), Record::new(value(b'x', 1))],
                    )
                    .expect("accepted")
            })
        })
        .collect();
    let outcomes: Vec<_> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.duplicate).count(), 1);
    assert!(outcomes.iter().all(|o| o.base_offset == 1));
    let records = log
        .consumer("t", 0)
        .expect("consumer")
        .poll(8)
        .expect("read");
    assert_eq!(records.len(), 3);
    assert_eq!(&records[0].value[..], &big(b'p')[..]);
    assert_eq!(&records[1].value[..], &value(b'x', 0)[..]);
    assert_eq!(&records[2].value[..], &value(b'x', 1)[..]);
    assert_eq!(partition.live_segments(), 2);
}

/// A consumer blocked on an empty partition is woken by a concurrent append, and
/// the record it gets was written by the other thread (each record opens a
/// segment, so the reader also follows the installs).
#[test]
fn blocked_consumer_wakes_up() {
    let (log, _clock) = tiny_log(4);
    log.create_topic("t", 1).expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    let mut consumer = log.consumer("t", 0).expect("consumer");
    let waiter = thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < 2 {
            got.extend(
                consumer
                    .poll_timeout(2, Duration::from_secs(60))
                    .expect("in range"),
            );
        }
        got
    });
    partition
        .append(None, Record::new(big(b'a')))
        .expect("append");
    partition
        .append(None, Record::new(big(b'b')))
        .expect("append");
    let got = waiter.join().expect("waiter");
    assert_eq!(&got[0].value[..], &big(b'a')[..]);
    assert_eq!(&got[1].value[..], &big(b'b')[..]);
    assert_eq!(partition.live_segments(), 2);
}

/// A log dropped with records still in its segments frees them (segment buffers,
/// pooled memory, evicted segments awaiting reclamation), including after
/// evictions moved the ring around. Each record (1-byte key, 20-byte value: 40 +
/// 8 + 21 = 69 -> 72 bytes = 9 units) has a segment to itself.
#[test]
fn drop_after_ring_laps() {
    let (log, _clock) = tiny_log(4);
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(1)),
    )
    .expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    for i in 0..6u8 {
        let outcome = partition
            .append(None, Record::with_key(vec![i], vec![i; 20]))
            .expect("room after retention");
        assert_eq!(outcome.base_offset, u64::from(i));
    }
    let records = log
        .consumer("t", 0)
        .expect("consumer")
        .poll(8)
        .expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.as_deref(), Some(&[5u8][..]));
    assert_eq!(&records[0].value[..], &[5u8; 20][..]);
    // Six segments through a ring of four; retention kept only the last.
    assert_eq!(partition.log_start_offset(), 5);
    assert_eq!(partition.live_segments(), 1);
    drop(records);
    drop(partition);
    drop(log);
}

/// An owned record (its bytes are a slice of its segment) read on one thread
/// and kept while another thread appends, which evicts its segment and lets
/// later segments recycle evicted memory: the record's bytes stay intact, and
/// the record, dropped last (after the log), frees its segment.
#[test]
fn owned_record_outlives_its_segment() {
    let (log, _clock) = tiny_log(2);
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(1)),
    )
    .expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    partition
        .append(None, Record::with_key(vec![0], big(0)))
        .expect("segment 1");
    let mut consumer = log.consumer("t", 0).expect("consumer");
    let reader = thread::spawn(move || -> ConsumerRecord {
        loop {
            match consumer.poll(1) {
                Ok(mut records) if !records.is_empty() => return records.remove(0),
                Ok(_) => thread::yield_now(),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    });
    let held = reader.join().expect("reader");
    let writer = {
        let partition = partition.clone();
        thread::spawn(move || {
            // Each record opens a segment and evicts the one before it: with a
            // ring of two, segment memory is recycled from the pool.
            for i in 1..6u8 {
                partition
                    .append(None, Record::with_key(vec![i], big(i)))
                    .expect("room after retention");
            }
        })
    };
    assert_eq!(held.key.as_deref(), Some(&[0u8][..]));
    assert_eq!(&held.value[..], &big(0)[..]);
    writer.join().expect("writer");
    assert_eq!(partition.log_start_offset(), 5);
    assert_eq!((held.offset, held.key.as_deref()), (0, Some(&[0u8][..])));
    assert_eq!(&held.value[..], &big(0)[..]);
    drop(partition);
    drop(log);
    assert_eq!(&held.value[..], &big(0)[..]);
    drop(held);
}
