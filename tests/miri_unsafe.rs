//! Small multi-threaded tests of the unsafe paths (slot writes and reads, the
//! segment ring, segment install races, eviction + crossbeam-epoch reclamation,
//! the producer-state seqlock, consumer wake-up), sized for Miri:
//!
//! ```text
//! MIRIFLAGS=-Zmiri-ignore-leaks CARGO_TARGET_DIR=/work/target-miri \
//!     cargo +nightly miri test --test miri_unsafe
//! ```
//!
//! They also run (fast) in the ordinary `cargo test`.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use idemlog::{
    BatchHeader, Log, LogConfig, LogError, ManualClock, Record, RetentionPolicy, TopicConfig,
};

/// A log on a manual clock (Miri's isolation forbids the system clock).
fn tiny_log(segment_records: usize, max_segments: usize) -> (Log, ManualClock) {
    let clock = ManualClock::new(1_000);
    let log = Log::with_config(
        LogConfig::default()
            .segment_records(segment_records)
            .max_segments(max_segments)
            .clock(Arc::new(clock.clone())),
    )
    .expect("valid config");
    (log, clock)
}

fn value(writer: u8, index: u8) -> Vec<u8> {
    vec![writer, index]
}

/// Two appenders of single-record batches over many segments while retention
/// evicts and frees old ones (crossbeam-epoch really frees them here) and a
/// reader walks the log: every record the reader gets is intact and in order.
#[test]
fn appends_reads_and_eviction_race() {
    const PER_WRITER: u8 = 8;
    let (log, _clock) = tiny_log(2, 4);
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
            assert!(slot.map_or(true, |last| index > last), "per-writer order");
            *slot = Some(index);
            assert!(previous_offset.map_or(true, |p| view.offset > p));
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

/// Two concurrent copies of one idempotent batch straddling a segment boundary:
/// one append, one duplicate with the same offsets, records stored once.
#[test]
fn concurrent_retries_of_one_batch() {
    let (log, _clock) = tiny_log(2, 4);
    log.create_topic("t", 1).expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    partition
        .append(None, Record::new("p"))
        .expect("offset 0, so the batch straddles");
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
    assert_eq!(&records[2].value[..], &value(b'x', 1)[..]);
}

/// A consumer blocked on an empty partition is woken by a concurrent append, and
/// the record it gets was written by the other thread.
#[test]
fn blocked_consumer_wakes_up() {
    let (log, _clock) = tiny_log(1, 4);
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
    partition.append(None, Record::new("a")).expect("append");
    partition.append(None, Record::new("b")).expect("append");
    let got = waiter.join().expect("waiter");
    assert_eq!(&got[0].value[..], b"a");
    assert_eq!(&got[1].value[..], b"b");
}

/// A log dropped with records still in its segments frees them (slot payload
/// drops), including after evictions moved the ring around.
#[test]
fn drop_after_ring_laps() {
    let (log, _clock) = tiny_log(1, 4);
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(1)),
    )
    .expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    for i in 0..6u8 {
        let outcome = partition
            .append(None, Record::with_key(vec![i], vec![i; 3]))
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
    drop(partition);
    drop(log);
}
