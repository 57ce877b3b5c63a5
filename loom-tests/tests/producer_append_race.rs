//! loom: senders appending straight into a partition's open batch
//! (`ProducerBatch::try_append`: the CAS on `reserved`, the bytes, the Release
//! `written` increment) and linking a new batch after a full or sealed one
//! (`BatchChain::append`: seal, the `link` CAS on `next`, `help` moves
//! `tail`), while the flusher drains the chain (`BatchChain::take`: seal with
//! `fetch_or`, wait for `written == sealed`, `advance`), sends and completes
//! each batch once: P1, P2 and P4 in `idemlog::implementation`, P1 and P2
//! only in part (below, and loom-tests/README.md).
//!
//! Both records end in the log exactly once, each handle (and a clone of it)
//! reports its own record's offset, the offsets are 0 and 1, and two records
//! sent by one thread one after the other get offsets in that order. Every
//! handle is waited for before `close`, so only the senders' wake-ups move the
//! flusher (a lost one is a deadlock under loom, whose timed waits are untimed).
//!
//! In the two-sender models the main thread sends A while a spawned thread
//! sends B (with two spawned senders the same races cost three times as much:
//! 128 s for the link model at LOOM_MAX_PREEMPTIONS=2); both orders occur.
//! Before the race, a `flush()` lets the flusher pick up the topic and finish
//! its start-up loop, and the producer and a resolved `TopicHandle` reach the
//! sender through a std `Arc` (not tracked by loom): the model's plumbing adds
//! no races of its own.
//!
//! At-least-once (no producer-id handshake), `linger.ms = 0` (every record is
//! due at once and wakes the flusher), virtual time. Values of 20 bytes: a
//! record is 28 bytes in a batch (8 of lengths), so `batch.size = 28` holds one
//! record and `batch.size = 56` two. Segments of 128 bytes (16 units of 8): a
//! 1-record log batch is 40 + 28 = 68 -> 72 bytes = 9 units, a 2-record one
//! 40 + 56 = 96 bytes = 12 units, so the records went in ONE producer batch
//! iff the log has one live segment (two 1-record batches need 18 units).
//!
//! Not checked here: the record bytes. The batch area is raw memory, not a
//! loom cell, and a sender cannot be preempted between its claim and its copy
//! (no loom operation in between), so a flusher that sent a batch without
//! waiting for `written == sealed` would still find the bytes (P1's wait is
//! not checked, see README). Nor P2's reclamation: the flusher retires taken
//! nodes through the epoch, which never runs deferred work under loom
//! (src/sync.rs), so no node is freed while a sender could still reach it.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::{check, read_all};
use idemlog::producer::{
    DeliveryHandle, Producer, ProducerConfig, ProducerRecord, RecordMetadata, TimeSource,
    TopicHandle,
};
use idemlog::{Log, LogConfig};
use loom::thread;

const A: &[u8] = b"aaaaaaaaaaaaaaaaaaaa";
const B: &[u8] = b"bbbbbbbbbbbbbbbbbbbb";
/// `batch.size` for one record per batch, and for two.
const ONE_RECORD: usize = 28;
const TWO_RECORDS: usize = 56;

fn setup(batch_size: usize) -> (Log, std::sync::Arc<(Producer, TopicHandle)>) {
    let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4)).unwrap();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::at_least_once()
        .linger_ms(0)
        .batch_size(batch_size)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let topic = producer.topic("t").unwrap();
    // The flusher has picked up the topic (and finished its start-up loop up
    // to the flush) before any record is sent: its start-up is not
    // interleaved with the race (a third of the state space).
    producer.flush(Duration::MAX).unwrap();
    (log, std::sync::Arc::new((producer, topic)))
}

/// A thread sending `values` one after the other to partition 0; its
/// handles, in order. The topic is resolved once beforehand and the
/// partition is explicit, so a `send` is the append hand-off alone (no topic
/// lookup, no sticky-partition counter). The producer and the topic handle
/// reach the thread through a std `Arc`, which loom does not track: the
/// model's own plumbing adds no reference-count races to explore.
fn spawn_sender(
    shared: &std::sync::Arc<(Producer, TopicHandle)>,
    values: &'static [&'static [u8]],
) -> thread::JoinHandle<Vec<DeliveryHandle>> {
    let shared = std::sync::Arc::clone(shared);
    thread::spawn(move || {
        let (producer, topic) = &*shared;
        values
            .iter()
            .map(|value| {
                let record = ProducerRecord::to(topic).partition(0).value(value);
                producer.send(record).unwrap()
            })
            .collect()
    })
}

/// A sent by the main thread while a spawned thread sends B: the handles of A
/// and B.
fn race(shared: &std::sync::Arc<(Producer, TopicHandle)>) -> (DeliveryHandle, DeliveryHandle) {
    let sender_b = spawn_sender(shared, &[B]);
    let (producer, topic) = &**shared;
    let a = producer
        .send(ProducerRecord::to(topic).partition(0).value(A))
        .unwrap();
    (a, sender_b.join().unwrap().remove(0))
}

/// Waits for `handle` and checks it reports `value`'s own place in `contents`.
fn delivered(handle: &DeliveryHandle, value: &[u8], contents: &[(u64, Vec<u8>)]) -> u64 {
    let meta: RecordMetadata = handle.wait().unwrap();
    assert_eq!((meta.partition, meta.duplicate), (0, false));
    let offset = meta.offset.expect("acks=all reports the offset");
    assert_eq!(
        contents.get(offset as usize),
        Some(&(offset, value.to_vec())),
        "a handle reports another record's offset: {contents:?}"
    );
    // A clone sees the same outcome.
    assert_eq!(handle.clone().wait().unwrap(), meta);
    offset
}

/// Waits for the handles of `A` and `B` (before `close`: only the senders'
/// wake-ups drive the flusher), then closes and checks the log holds exactly
/// the two records, each once, each handle reporting its own offset. Returns
/// (offset of A, offset of B, producer batches the records went in).
fn finish(
    log: &Log,
    producer: &Producer,
    a: &DeliveryHandle,
    b: &DeliveryHandle,
) -> (u64, u64, u64) {
    a.wait().unwrap();
    b.wait().unwrap();
    producer.close(Duration::MAX).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    let contents = read_all(&mut consumer, 0).unwrap();
    assert_eq!(
        contents.len(),
        2,
        "each record in the log exactly once: {contents:?}"
    );
    let (offset_a, offset_b) = (delivered(a, A, &contents), delivered(b, B, &contents));
    assert_eq!(
        (offset_a.min(offset_b), offset_a.max(offset_b)),
        (0, 1),
        "offsets 0 and 1"
    );
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(
        (partition.log_end_offset(), partition.high_watermark()),
        (2, 2)
    );
    let metrics = producer.metrics();
    assert_eq!(
        (
            metrics.record_send_total,
            metrics.record_ack_total,
            metrics.record_error_total
        ),
        (2, 2, 0)
    );
    (offset_a, offset_b, partition.live_segments())
}

/// Outcome counters of one model (over all its executions).
struct Outcomes([AtomicUsize; 4]);

impl Outcomes {
    const fn new() -> Self {
        Self([
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ])
    }

    fn count(&self, index: usize) {
        self.0[index].fetch_add(1, Relaxed);
    }

    fn get(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.0[i].load(Relaxed))
    }
}

#[test]
fn two_senders_race_to_link_one_record_batches() {
    // Each batch holds one record: both senders find the chain's start
    // sentinel (sealed) and race to link a batch after it; the loser's `link`
    // CAS fails, it finds the winner's batch full, seals it (racing the
    // flusher's seal and take) and links its own after it. The flusher may
    // also seal a just-linked batch before its record is in (it discards it
    // empty; that sender links another).
    static SEEN: Outcomes = Outcomes::new();
    check("producer_append_race_link", || {
        let (log, shared) = setup(ONE_RECORD);
        let (a, b) = race(&shared);
        let (offset_a, _, segments) = finish(&log, &shared.0, &a, &b);
        assert_eq!(segments, 2, "one record per batch");
        // [A first, B first]
        SEEN.count(usize::from(offset_a == 1));
    });
    let seen = SEEN.get();
    println!(
        "two_senders_race_to_link_one_record_batches: A first {}, B first {}",
        seen[0], seen[1]
    );
    assert!(seen[0] > 0 && seen[1] > 0, "both orders occur: {seen:?}");
}

#[test]
fn two_senders_race_for_one_open_batch() {
    // A batch holds two records: the senders race to link the first batch
    // and then claim its slots by CAS on `reserved`, while the flusher may
    // seal it after one record (the other sender then links a second batch).
    static SEEN: Outcomes = Outcomes::new();
    check("producer_append_race_shared", || {
        let (log, shared) = setup(TWO_RECORDS);
        let (a, b) = race(&shared);
        let (offset_a, _, segments) = finish(&log, &shared.0, &a, &b);
        assert!(segments == 1 || segments == 2);
        // [A first, B first] x [one batch, two batches]
        SEEN.count(usize::from(offset_a == 1) + 2 * usize::from(segments == 2));
    });
    let seen = SEEN.get();
    println!(
        "two_senders_race_for_one_open_batch: [A first, B first] x [one batch, two]: {seen:?}"
    );
    assert!(
        seen.iter().all(|&n| n > 0),
        "every outcome occurs: {seen:?}"
    );
}

#[test]
fn one_sender_gets_offsets_in_send_order() {
    // One thread sends A then B into batches of two records while the
    // flusher drains: B joins A's batch, or finds it sealed by the flusher
    // and links the next; either way A is at 0 and B at 1.
    static SEEN: Outcomes = Outcomes::new();
    check("producer_append_race_order", || {
        let (log, shared) = setup(TWO_RECORDS);
        let sender = spawn_sender(&shared, &[A, B]);
        let handles = sender.join().unwrap();
        let (offset_a, offset_b, segments) = finish(&log, &shared.0, &handles[0], &handles[1]);
        assert_eq!((offset_a, offset_b), (0, 1), "offsets in send order");
        SEEN.count(usize::from(segments == 2));
    });
    let seen = SEEN.get();
    println!(
        "one_sender_gets_offsets_in_send_order: one batch {}, two {}",
        seen[0], seen[1]
    );
    assert!(seen[0] > 0 && seen[1] > 0, "both batchings occur: {seen:?}");
}
