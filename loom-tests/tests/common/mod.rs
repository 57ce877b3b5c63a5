//! Shared helpers of the loom models (included with `mod common;`).
#![allow(dead_code)] // each model uses a subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use idemlog::{Consumer, ConsumerRecord, Log, LogConfig, PartitionHandle, Record, TopicConfig};

/// Runs `model` under loom and prints how many executions it explored.
///
/// Settings come from loom's environment variables (LOOM_MAX_PREEMPTIONS,
/// LOOM_MAX_BRANCHES, LOOM_CHECKPOINT_FILE, LOOM_LOCATION, LOOM_LOG, ...);
/// without LOOM_MAX_PREEMPTIONS the bound defaults to 2 (the CI setting) so an
/// unbounded, hours-long search is never started by accident.
pub fn check<F>(name: &str, model: F)
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
pub fn rec(writer: char, index: u8) -> Record {
    Record::new(vec![writer as u8, b'0' + index])
}

/// `n` records `writer0 .. writer{n-1}`.
pub fn batch(writer: char, n: u8) -> Vec<Record> {
    (0..n).map(|i| rec(writer, i)).collect()
}

/// The value bytes of `rec(writer, index)`.
pub fn value(writer: char, index: u8) -> Vec<u8> {
    vec![writer as u8, b'0' + index]
}

/// (offset, value) pairs of owned records.
pub fn pairs(records: &[ConsumerRecord]) -> Vec<(u64, Vec<u8>)> {
    records
        .iter()
        .map(|record| (record.offset, record.value.to_vec()))
        .collect()
}

/// A log with `config` and one topic "t" of one partition (with `topic`'s
/// retention): the log and that partition.
pub fn one_partition(config: LogConfig, topic: TopicConfig) -> (Log, PartitionHandle) {
    let log = Log::with_config(config).expect("valid config");
    log.create_topic_with("t", topic).expect("new topic");
    let partition = log.partition("t", 0).expect("partition 0");
    (log, partition)
}

/// I4 + I5: a racing reader's `seen` is a prefix of `expected` (no hole, no wrong
/// record); once every appender returned, the partition holds exactly `expected`,
/// all published.
pub fn assert_prefix_then_complete(
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
