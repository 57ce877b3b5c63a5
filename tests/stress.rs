//! Multi-thread stress: many producers, every batch sent more than once, the
//! whole log read back: no loss, no duplicate, per-producer order, dense offsets
//! (contract rules 2 and 5 under concurrency, `idemlog::contract`).

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::{
    BatchHeader, Log, LogConfig, LogError, ProducerId, Record, RecordRef, RetentionPolicy,
    TopicConfig,
};

const PRODUCERS: usize = 8;
const BATCHES: usize = 2_000;
const PARTITIONS: u32 = 2;

fn batch_len(producer: usize, batch: usize) -> usize {
    1 + (producer * 7 + batch * 13) % 4
}

fn value(pid: ProducerId, sequence: i32) -> Vec<u8> {
    format!("{pid}:{sequence}").into_bytes()
}

/// Reads a whole partition and checks it: dense offsets, each (pid, seq) once,
/// per-producer sequences in order, payloads intact. Returns records per pid.
fn check_partition(log: &Log, partition: u32) -> HashMap<ProducerId, usize> {
    let mut consumer = log.consumer("t", partition).unwrap();
    let mut next_offset = 0;
    let mut last_sequence: HashMap<ProducerId, i32> = HashMap::new();
    let mut counts: HashMap<ProducerId, usize> = HashMap::new();
    loop {
        let read = consumer
            .poll_with(1_000, |record| {
                assert_eq!(record.offset, next_offset, "offsets are dense and in order");
                next_offset += 1;
                let meta = record.producer.expect("idempotent record");
                let previous = last_sequence.insert(meta.producer_id, meta.sequence);
                assert_eq!(
                    previous.map_or(0, |p| p + 1),
                    meta.sequence,
                    "producer {} out of order or duplicated",
                    meta.producer_id
                );
                assert_eq!(record.value, &value(meta.producer_id, meta.sequence)[..]);
                *counts.entry(meta.producer_id).or_default() += 1;
            })
            .unwrap();
        if read == 0 {
            break;
        }
    }
    assert_eq!(
        next_offset,
        log.partition("t", partition).unwrap().log_end_offset()
    );
    counts
}

/// Values are "pid:seq" (at most 6 bytes here), so a batch of n records takes
/// 40 + 14n bytes or less: 7, 9, 11 or 12 units for n = 1..=4. A 2 KiB segment
/// (256 units, at most 32 batches) then holds about 26 batches, some 65 records,
/// and each partition's 20,000 records fill about 300 segments: 512 of them.
fn many_segments() -> LogConfig {
    LogConfig::default().segment_bytes(2_048).max_segments(512)
}

#[test]
fn every_batch_sent_twice_lands_once_in_order() {
    let log = Log::with_config(many_segments()).unwrap();
    log.create_topic("t", PARTITIONS).unwrap();
    let barrier = Arc::new(Barrier::new(PRODUCERS));
    let workers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let log = log.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let pid = log.init_producer_id().producer_id;
                let partition = producer as u32 % PARTITIONS;
                let mut appender = log
                    .partition("t", partition)
                    .unwrap()
                    .producer(pid)
                    .unwrap();
                let mut sent: Vec<(i32, usize, u64)> = Vec::new();
                let mut sequence = 0i32;
                barrier.wait();
                for batch in 0..BATCHES {
                    let n = batch_len(producer, batch);
                    let records = |base: i32| -> Vec<Record> {
                        (0..n as i32)
                            .map(|i| Record::new(value(pid, base + i)))
                            .collect()
                    };
                    let first = appender.append(0, sequence, records(sequence)).unwrap();
                    assert!(!first.duplicate);
                    let retry = appender.append(0, sequence, records(sequence)).unwrap();
                    assert!(retry.duplicate);
                    assert_eq!(retry.base_offset, first.base_offset);
                    sent.push((sequence, n, first.base_offset));
                    // A late retry of a batch still in the window (lost ack, resent).
                    if batch % 5 == 4 {
                        let (old_seq, old_n, old_offset) = sent[sent.len() - 4];
                        let header = BatchHeader {
                            producer_id: pid,
                            epoch: 0,
                            base_sequence: old_seq,
                        };
                        let resent: Vec<Record> = (0..old_n as i32)
                            .map(|i| Record::new(value(pid, old_seq + i)))
                            .collect();
                        // Through the uncached path, which shares the cached state.
                        let late = log.append("t", partition, Some(header), resent).unwrap();
                        assert!(late.duplicate);
                        assert_eq!(late.base_offset, old_offset);
                    }
                    sequence += n as i32;
                }
                (pid, sequence as usize)
            })
        })
        .collect();
    let expected: HashMap<ProducerId, usize> =
        workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut seen = HashMap::new();
    for partition in 0..PARTITIONS {
        seen.extend(check_partition(&log, partition));
    }
    assert_eq!(seen, expected, "no loss, no duplicate");
}

#[test]
fn concurrent_copies_of_one_producers_batches_append_exactly_once() {
    // Two threads race every batch of one producer; the window is large enough
    // that the slower copy always finds the batch in it. Single-record batches
    // of at most 8 value bytes take 7 units: a 2 KiB segment (256 units, at most
    // 32 batches) holds 32 of them, so the 1,000 batches roll 32 segments.
    let log = Log::with_config(
        LogConfig::default()
            .dedup_window(1_024)
            .segment_bytes(2_048),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let pid = log.init_producer_id().producer_id;
    const BATCHES: i32 = 1_000;
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let log = log.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut appender = log.partition("t", 0).unwrap().producer(pid).unwrap();
                barrier.wait();
                (0..BATCHES)
                    .map(|sequence| {
                        let outcome = appender
                            .append(0, sequence, Record::new(value(pid, sequence)))
                            .unwrap();
                        (outcome.base_offset, outcome.duplicate)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<Vec<(u64, bool)>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    for (sequence, (a, b)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(a.0, b.0, "both copies answered with the same offset");
        assert!(
            a.1 != b.1,
            "exactly one copy appended (seq {sequence}: {a:?} {b:?})"
        );
    }
    assert_eq!(check_partition(&log, 0)[&pid], BATCHES as usize);
    assert_eq!(log.partition("t", 0).unwrap().live_segments(), 32);
}

#[test]
fn a_lease_revoked_mid_stream_loses_and_duplicates_nothing() {
    // One appender streams single-record batches alone, holding its state's
    // lease (I12: in-sequence batches by plain stores, where the heavy fence
    // exists). Halfway, a second appender of the same producer joins at the
    // batch the stream has reached and sends copies of every later batch,
    // (the holder waits there for it to be ready, then streams on), which
    // revokes the lease under load, while a reader takes snapshots (the
    // seqlock read) throughout. The two stay within 256 batches of each other,
    // so a late copy is always in the window. Every batch is in the log once,
    // at the offset both copies were answered with, and no snapshot is torn.
    // The revocation's race itself is a window of a few instructions, which
    // real threads rarely hit: loom's producer_lease models check its
    // interleavings; this checks the protocol end to end on real threads with
    // the real heavy fence (membarrier).
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    const BATCHES: i64 = 20_000;
    const AHEAD: i64 = 256;
    let log = Log::with_config(
        LogConfig::default()
            .dedup_window(1_024)
            .segment_bytes(16_384),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let partition = log.partition("t", 0).unwrap();
    let pid = log.init_producer_id().producer_id;
    // The racer asks to join; the holder answers with the batch it is at.
    let join_asked = Arc::new(AtomicBool::new(false));
    let join_at = Arc::new(AtomicI64::new(-1));
    // The last batch each has had answered (-1: none).
    let holder_done = Arc::new(AtomicI64::new(-1));
    let racer_done = Arc::new(AtomicI64::new(-1));
    let stopped = Arc::new(AtomicBool::new(false));
    let wait_until = |condition: &dyn Fn() -> bool| {
        while !condition() {
            thread::yield_now();
        }
    };
    let append = |appender: &mut idemlog::ProducerAppender, sequence: i64| {
        let outcome = appender
            .append(0, sequence as i32, Record::new(value(pid, sequence as i32)))
            .unwrap();
        (outcome.base_offset, outcome.duplicate)
    };
    let answers = thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let mut appender = partition.producer(pid).unwrap();
            (0..BATCHES)
                .map(|sequence| {
                    // Acquire / Release on the handshake and progress atomics:
                    // plain flags between the test's threads.
                    if sequence == BATCHES / 2 {
                        wait_until(&|| join_asked.load(Ordering::Acquire));
                        join_at.store(sequence, Ordering::Release);
                    }
                    if join_at.load(Ordering::Acquire) >= 0 {
                        wait_until(&|| sequence - racer_done.load(Ordering::Acquire) <= AHEAD);
                    }
                    let answer = append(&mut appender, sequence);
                    holder_done.store(sequence, Ordering::Release);
                    answer
                })
                .collect::<Vec<_>>()
        });
        let racer = scope.spawn(|| {
            let mut appender = partition.producer(pid).unwrap();
            join_asked.store(true, Ordering::Release);
            wait_until(&|| join_at.load(Ordering::Acquire) >= 0);
            let start = join_at.load(Ordering::Acquire);
            racer_done.store(start - 1, Ordering::Release);
            (start..BATCHES)
                .map(|sequence| {
                    wait_until(&|| sequence - holder_done.load(Ordering::Acquire) <= AHEAD);
                    let (offset, duplicate) = append(&mut appender, sequence);
                    racer_done.store(sequence, Ordering::Release);
                    (sequence, offset, duplicate)
                })
                .collect::<Vec<_>>()
        });
        let reader = scope.spawn(|| {
            let mut last = -1;
            let mut snapshots = 0u64;
            while !stopped.load(Ordering::Acquire) {
                if let Some(state) = partition.producer_state(pid) {
                    assert!(state.last_sequence >= last, "the state went back");
                    last = state.last_sequence;
                    let newest = state.window.last().expect("a committed batch");
                    assert_eq!(newest.last_sequence, state.last_sequence, "{state:?}");
                    for batch in &state.window {
                        let offset = batch.first_sequence as u64;
                        assert_eq!(batch.base_offset, offset, "{state:?}");
                    }
                    snapshots += 1;
                }
            }
            snapshots
        });
        let held = holder.join().unwrap();
        let raced = racer.join().unwrap();
        stopped.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0, "the reader took snapshots");
        (held, raced)
    });
    let (held, raced) = answers;
    for (sequence, (offset, _)) in held.iter().enumerate() {
        assert_eq!(
            *offset, sequence as u64,
            "the holder's answer for seq {sequence}"
        );
    }
    assert_eq!(raced.len() as i64, BATCHES / 2, "the second half was raced");
    for (sequence, offset, duplicate) in &raced {
        assert_eq!(
            *offset, *sequence as u64,
            "the racer's answer for seq {sequence}"
        );
        assert_ne!(
            *duplicate, held[*sequence as usize].1,
            "exactly one copy of seq {sequence} appended"
        );
    }
    assert_eq!(check_partition(&log, 0)[&pid], BATCHES as usize);
}

#[test]
fn a_tailing_consumer_sees_a_dense_prefix_while_producers_write() {
    // Single-record batches of 8 value bytes take 7 units: a 1 KiB segment (128
    // units, at most 16 batches) holds 16 of them, so the 6,000 records roll
    // 375 segments (512 allowed).
    let log =
        Log::with_config(LogConfig::default().segment_bytes(1_024).max_segments(512)).unwrap();
    log.create_topic("t", 1).unwrap();
    const PER_WRITER: usize = 3_000;
    let reader = {
        let mut consumer = log.consumer("t", 0).unwrap();
        thread::spawn(move || {
            let mut next = 0u64;
            while next < 2 * PER_WRITER as u64 {
                for record in consumer.poll_timeout(256, Duration::from_secs(30)).unwrap() {
                    assert_eq!(record.offset, next, "no hole, no reordering");
                    next += 1;
                }
            }
            next
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let log = log.clone();
            thread::spawn(move || {
                for i in 0..PER_WRITER {
                    log.append("t", 0, None, Record::new(i.to_le_bytes().to_vec()))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(reader.join().unwrap(), 2 * PER_WRITER as u64);
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(partition.high_watermark(), 2 * PER_WRITER as u64);
    assert_eq!(partition.live_segments(), 375);
}

/// A 64-byte record value naming itself: the first 8 bytes are `id`, and
/// every later byte is a function of it, so a read of another record's bytes
/// (or of a recycled segment's next lap) cannot pass for a record.
fn stamped_value(id: u64) -> [u8; 64] {
    let mut value = [0u8; 64];
    value[..8].copy_from_slice(&id.to_le_bytes());
    let mix = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for (i, byte) in value.iter_mut().enumerate().skip(8) {
        *byte = (mix >> (i % 8 * 8)) as u8 ^ i as u8;
    }
    value
}

/// Asserts `value` is a [`stamped_value`] and returns its id.
fn check_stamped(value: &[u8]) -> u64 {
    let id = u64::from_le_bytes(value[..8].try_into().expect("64-byte values"));
    assert_eq!(value, stamped_value(id), "a record's bytes are its own");
    id
}

#[test]
fn readers_racing_eviction_never_see_a_recycled_segments_bytes() {
    // 1 KiB segments of 64-byte single-record batches (14 units each: 9 per
    // segment), 64 records retained per partition, two writers on each of two
    // partitions (racing reservations and segment installs): segments are
    // evicted and their memory comes back from the pool every few appends,
    // while a zero-copy multi-partition consumer and an owned-record consumer
    // (which keeps records across later appends) read behind the writers.
    // Under ThreadSanitizer (CI) this checks that every reuse of a segment's
    // memory happens after the last read of its previous lap (I7, I8);
    // mutation-checked: dropping the cell's reference at eviction instead of
    // deferring it gives data-race and use-after-free reports. Without TSan the
    // byte checks catch a reader that reads another lap's bytes.
    const PER_WRITER: u64 = 10_000;
    const WRITERS: u64 = 4;
    let log = Log::with_config(LogConfig::default().segment_bytes(1_024).max_segments(16)).unwrap();
    let retention = RetentionPolicy::default().max_records(64);
    log.create_topic_with("r", TopicConfig::new(2).retention(retention))
        .unwrap();
    let partition0 = log.partition("r", 0).unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let handle = log.partition("r", (writer % 2) as u32).unwrap();
            thread::spawn(move || {
                for sequence in 0..PER_WRITER {
                    let value = stamped_value(writer << 32 | sequence);
                    // A writer preempted mid-append holds the high watermark,
                    // so retention cannot evict past it and the ring can fill:
                    // PartitionFull, retriable (contract rule 5).
                    while let Err(error) = handle.append(None, RecordRef::new(&value)) {
                        assert!(error.is_retriable(), "{error}");
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let per_partition = WRITERS / 2 * PER_WRITER;
    let zero_copy = {
        let mut consumer = log
            .multi_consumer(ConsumerConfig::new().offset_reset(OffsetReset::Earliest))
            .unwrap();
        consumer.assign_topic("r").unwrap();
        thread::spawn(move || {
            let mut seen = 0u64;
            let mut ends = [0u64; 2];
            while ends.iter().any(|end| *end < per_partition) {
                consumer
                    .poll_with_timeout(64, Duration::from_millis(100), |view| {
                        check_stamped(view.value);
                        ends[view.partition as usize] = view.offset + 1;
                        seen += 1;
                    })
                    .unwrap();
            }
            seen
        })
    };
    let owned = {
        let mut consumer = log.consumer("r", 0).unwrap();
        thread::spawn(move || {
            let mut kept = Vec::new();
            while consumer.position() < per_partition {
                match consumer.poll_timeout(32, Duration::from_millis(100)) {
                    Ok(records) => kept.extend(records),
                    Err(LogError::OffsetOutOfRange { log_start, .. }) => consumer.seek(log_start),
                    Err(other) => panic!("{other}"),
                }
                // Records kept while their segments are evicted still hold
                // their own bytes (each pins only its segment).
                if kept.len() >= 256 {
                    for record in kept.drain(..) {
                        let writer = check_stamped(&record.value) >> 32;
                        assert_eq!(writer % 2, 0, "written by a writer of partition 0");
                    }
                }
            }
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(zero_copy.join().unwrap() > 0);
    owned.join().unwrap();
    assert!(partition0.log_start_offset() > 0, "segments were evicted");
}
