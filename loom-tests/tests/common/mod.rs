//! Shared helpers of the loom models (included with `mod common;`).
#![allow(dead_code)] // each model uses a subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use idemlog::{
    AppendOutcome, Consumer, ConsumerRecord, Log, LogConfig, LogError, PartitionHandle, ProducerId,
    Record, TopicConfig,
};
use loom::thread::{self, JoinHandle};

/// Prints how often each outcome of a model occurred across its executions
/// (counted in `counts`, std atomics outside loom's view) and asserts that
/// every one did: a model whose interesting interleaving never happens checks
/// nothing.
pub(crate) fn assert_every_outcome(model: &str, outcomes: &str, counts: &[AtomicUsize]) {
    let seen: Vec<usize> = counts.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    println!("{model}: [{outcomes}]: {seen:?}");
    assert!(
        seen.iter().all(|&n| n > 0),
        "every outcome occurs: {seen:?}"
    );
}

/// Runs `model` under loom and prints how many executions it explored.
///
/// Settings come from loom's environment variables (LOOM_MAX_PREEMPTIONS,
/// LOOM_MAX_BRANCHES, LOOM_CHECKPOINT_FILE, LOOM_LOCATION, LOOM_LOG, ...);
/// without LOOM_MAX_PREEMPTIONS the bound defaults to 2 (the CI setting) so an
/// unbounded, hours-long search is never started by accident.
pub(crate) fn check<F>(name: &str, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let executions: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let bound = builder.preemption_bound;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LOOM_LOG"))
        .with_test_writer()
        .without_time()
        .finish();
    let started = Instant::now();
    let _log = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);
    builder.check(move || {
        executions.fetch_add(1, Ordering::Relaxed);
        model();
    });
    println!(
        "loom model {name}: {} executions explored (preemption bound {bound:?}) in {:.1?}",
        executions.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// A record whose value names its writer and index, e.g. `a1`.
pub(crate) fn rec(writer: char, index: u8) -> Record {
    Record::new(vec![writer as u8, b'0' + index])
}

/// `n` records `writer0 .. writer{n-1}`.
pub(crate) fn batch(writer: char, n: u8) -> Vec<Record> {
    (0..n).map(|i| rec(writer, i)).collect()
}

/// The value bytes of `rec(writer, index)`.
pub(crate) fn value(writer: char, index: u8) -> Vec<u8> {
    vec![writer as u8, b'0' + index]
}

/// (offset, value) pairs of owned records.
pub(crate) fn pairs(records: &[ConsumerRecord]) -> Vec<(u64, Vec<u8>)> {
    records
        .iter()
        .map(|record| (record.offset, record.value.to_vec()))
        .collect()
}

/// A log with `config` and one topic "t" of one partition (with `topic`'s
/// retention): the log and that partition.
pub(crate) fn one_partition(config: LogConfig, topic: TopicConfig) -> (Log, PartitionHandle) {
    let log = Log::with_config(config).expect("valid config");
    log.create_topic_with("t", topic).expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    (log, partition)
}

/// One partition of topic `t` (segments of `segment_bytes`, a ring of 4) and
/// a producer id issued by its log, for the idempotent-append models.
pub(crate) fn one_producer(segment_bytes: usize) -> (Log, PartitionHandle, ProducerId) {
    let (log, partition) = one_partition(
        LogConfig::default()
            .segment_bytes(segment_bytes)
            .max_segments(4),
        TopicConfig::new(1),
    );
    let pid = log.init_producer_id().producer_id;
    (log, partition, pid)
}

/// I4 + I5: a racing reader's `seen` is a prefix of `expected` (no hole, no wrong
/// record); once every appender returned, the partition holds exactly `expected`,
/// all published.
pub(crate) fn assert_prefix_then_complete(
    seen: &[(u64, Vec<u8>)],
    expected: &[(u64, Vec<u8>)],
    partition: &PartitionHandle,
    consumer: &mut Consumer,
) {
    assert!(seen.len() <= expected.len());
    assert_eq!(
        seen[..],
        expected[..seen.len()],
        "reader saw a hole or a wrong record"
    );
    let end = expected.len() as u64;
    assert_eq!(partition.log_end_offset(), end);
    assert_eq!(partition.high_watermark(), end);
    let mut all = Vec::new();
    consumer.seek(0);
    consumer
        .poll_with(usize::MAX, |view| {
            all.push((view.offset, view.value.to_vec()))
        })
        .expect("in range");
    assert_eq!(all, expected);
}

/// (offset, value) of everything readable from `from` (up to 16 records), or the
/// poll's error.
pub(crate) fn read_all(
    consumer: &mut Consumer,
    from: u64,
) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
    consumer.seek(from);
    let mut seen = Vec::new();
    let read = consumer.poll_with(16, |view| seen.push((view.offset, view.value.to_vec())))?;
    assert_eq!(read, seen.len());
    assert_eq!(consumer.position(), from + read as u64);
    Ok(seen)
}

/// A spawned reader that polls `consumer` once from its position (which must be
/// in range) and returns what it saw. With `check_high_watermark` it first
/// computes the high watermark and asserts the poll that follows reads at least
/// that far (I5: the high watermark is the end of the published prefix, which
/// only grows).
pub(crate) fn spawn_reader(
    partition: &PartitionHandle,
    mut consumer: Consumer,
    check_high_watermark: bool,
) -> JoinHandle<Vec<(u64, Vec<u8>)>> {
    let partition = partition.clone();
    thread::spawn(move || {
        let from = consumer.position();
        let hw_before = check_high_watermark.then(|| partition.high_watermark());
        let seen = read_all(&mut consumer, from).expect("in range");
        if let Some(hw) = hw_before {
            assert!(
                hw <= from + seen.len() as u64,
                "high watermark {hw} beyond the readable prefix {seen:?}"
            );
        }
        seen
    })
}

/// I2: the (offset, value) pairs of `prefix` followed by the batches `appended`
/// (writer letter, outcome; records `writer0..`), asserting that the batches tile
/// the offsets after `prefix` densely and disjointly, each contiguous and in
/// record order.
pub(crate) fn tiled(
    prefix: &[(u64, Vec<u8>)],
    appended: &[(char, AppendOutcome)],
) -> Vec<(u64, Vec<u8>)> {
    let mut batches = appended.to_vec();
    batches.sort_by_key(|(_, outcome)| outcome.base_offset);
    let mut expected = prefix.to_vec();
    for (writer, outcome) in batches {
        assert!(!outcome.duplicate);
        assert_eq!(
            outcome.base_offset,
            expected.len() as u64,
            "dense, disjoint offsets: {appended:?}"
        );
        for i in 0..outcome.record_count {
            expected.push((outcome.base_offset + i, value(writer, i as u8)));
        }
    }
    expected
}

/// A one-partition topic "t" on 128-byte segments and an at-least-once
/// producer in virtual time that sends every record alone at once
/// (`linger.ms=0`, `batch.size=0`): the producer models' common start.
pub(crate) fn one_record_producer() -> (Log, idemlog::producer::Producer) {
    use idemlog::producer::{Producer, ProducerConfig, TimeSource};
    let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4)).unwrap();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::at_least_once()
        .linger_ms(0)
        .batch_size(0)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    (log, producer)
}
