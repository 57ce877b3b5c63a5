//! Soak: two exactly-once producer threads (each its own `Producer`, injected
//! request/response loss and delays at small rates, virtual time) and one
//! consumer per partition (`poll_timeout`) run for a bounded time on a topic
//! with record retention. Checked with the log's own accounting:
//! - memory stays bounded: `log_end_offset - log_start_offset` never exceeds
//!   the retention limit plus a few segments, and `producer_state_stats` stays
//!   at most one entry per (partition, producer);
//! - nothing acknowledged is lost: every acknowledged (partition, offset) was
//!   read by a consumer with the right value, or lay below the log start when
//!   the consumer got `OffsetOutOfRange` (it then seeks to the log start and
//!   counts the skipped range as evicted, not lost);
//! - nothing is duplicated: no value is read twice.
//!
//! Runs 3 s by default (about 4 s in all in a debug build); `IDEMLOG_SOAK_SECS=60 cargo test --release --test soak`
//! for a longer run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use idemlog::producer::sim::LinkConfig;
use idemlog::producer::{Producer, ProducerConfig, ProducerRecord, TimeSource};
use idemlog::{Consumer, Log, LogConfig, LogError, RetentionPolicy, TopicConfig};

const PARTITIONS: u32 = 2;
const PRODUCERS: u64 = 2;
/// Bytes per segment: 1 KiB, 128 units of 8 bytes, at most 16 batches.
const SEGMENT_BYTES: usize = 1_024;
/// The most records one segment can hold here: every batch has a 40-byte
/// header and every record 8 bytes of header plus at least 6 payload bytes (key
/// "k0", value "p0-0"), so a segment holds at most (1024 - 40) / 14 = 70 (some
/// 25 to 45 in practice: the producers' batches are small, and a segment takes
/// 16 batches at most).
const SEGMENT: u64 = (SEGMENT_BYTES as u64 - 40) / (8 + 6);
const RETAIN: u64 = 512;
/// Retention keeps at least RETAIN records and evicts whole segments only when
/// a batch opens a new one (a pass skipped because another runs is made up at
/// the next segment): a few segments of slack.
const LIVE_BOUND: u64 = RETAIN + 4 * SEGMENT;

fn soak_duration() -> Duration {
    let secs = std::env::var("IDEMLOG_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

#[derive(Default)]
struct ConsumerLog {
    /// offset -> value read.
    read: HashMap<u64, Bytes>,
    /// [from, to) ranges skipped because retention evicted them first.
    evicted: Vec<(u64, u64)>,
}

/// A slow consumer: stalls until retention has evicted its position, for at
/// most 2 s and not once the producers have stopped, so the soak takes the
/// eviction path however fast this machine runs the producers.
fn stall_until_overtaken(consumer: &Consumer, producing_stopped: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    // Relaxed: a stop hint that only ends the stall early; nothing is read
    // through it.
    while consumer.partition().log_start_offset() <= consumer.position()
        && Instant::now() < deadline
        && !producing_stopped.load(Ordering::Relaxed)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn soak_with_retention_faults_and_consumers() {
    let duration = soak_duration();
    let log = Log::with_config(LogConfig::default().segment_bytes(SEGMENT_BYTES)).unwrap();
    let retention = RetentionPolicy::default().max_records(RETAIN);
    log.create_topic_with("s", TopicConfig::new(PARTITIONS).retention(retention))
        .unwrap();
    let stop_producing = Arc::new(AtomicBool::new(false));
    let stop_consuming = Arc::new(AtomicBool::new(false));
    let max_live = Arc::new(AtomicU64::new(0));
    let max_entries = Arc::new(AtomicU64::new(0));
    // (partition, offset, value) of every acknowledged record.
    let acked: Arc<Mutex<Vec<(u32, u64, Bytes)>>> = Arc::default();
    let start = Instant::now();

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let (log, stop, acked) = (log.clone(), Arc::clone(&stop_producing), Arc::clone(&acked));
            std::thread::spawn(move || {
                let link = LinkConfig::new()
                    .seed(t + 1)
                    .drop_request_rate(0.01)
                    .drop_response_rate(0.01)
                    .delay_rate(0.01, 20);
                let config = ProducerConfig::exactly_once()
                    .linger_ms(0)
                    .batch_size(256)
                    .buffer_memory(16 * 1024)
                    .request_timeout_ms(50)
                    .retry_backoff_ms(5)
                    .link(link)
                    .time(TimeSource::virtual_time());
                let producer = Producer::new(&log, config).unwrap();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let value = Bytes::from(format!("p{t}-{sent}"));
                    let acked = Arc::clone(&acked);
                    let key = format!("k{}", sent % 13);
                    let record = ProducerRecord::new("s", &value).key(&key);
                    let value = value.clone();
                    producer
                        .send_with_callback(record, move |result| {
                            if let Ok(meta) = result {
                                let offset = meta.offset.expect("acks=all reports offsets");
                                acked.lock().unwrap().push((meta.partition, offset, value));
                            }
                        })
                        .unwrap();
                    sent += 1;
                    // Paced (~50k records/s per producer) so the audit at the
                    // end stays cheap in debug builds.
                    if sent % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                producer.close(Duration::from_secs(30)).unwrap();
                (sent, producer.metrics())
            })
        })
        .collect();

    let consumers: Vec<_> = (0..PARTITIONS)
        .map(|p| {
            let (log, stop) = (log.clone(), Arc::clone(&stop_consuming));
            let producing_stopped = Arc::clone(&stop_producing);
            std::thread::spawn(move || {
                let mut consumer = log.consumer("s", p).unwrap();
                let mut out = ConsumerLog::default();
                loop {
                    match consumer.poll_timeout(256, Duration::from_millis(20)) {
                        Ok(records) => {
                            let idle = records.is_empty();
                            for record in records {
                                assert!(out.read.insert(record.offset, record.value).is_none());
                                if out.read.len() % 2_000 == 0 {
                                    stall_until_overtaken(&consumer, &producing_stopped);
                                }
                            }
                            let end = consumer.partition().log_end_offset();
                            if idle && stop.load(Ordering::Acquire) && consumer.position() == end {
                                break;
                            }
                        }
                        Err(LogError::OffsetOutOfRange {
                            offset, log_start, ..
                        }) => {
                            assert!(offset < log_start, "only eviction moves us out of range");
                            out.evicted.push((offset, log_start));
                            consumer.seek(log_start);
                        }
                        Err(other) => panic!("consumer {p}: {other}"),
                    }
                }
                out
            })
        })
        .collect();

    // The monitor samples the log's own accounting while everything runs.
    let handles: Vec<_> = (0..PARTITIONS)
        .map(|p| log.partition("s", p).unwrap())
        .collect();
    while start.elapsed() < duration {
        for handle in &handles {
            let live = handle.log_end_offset() - handle.log_start_offset();
            max_live.fetch_max(live, Ordering::Relaxed);
        }
        let entries = log.producer_state_stats().entries as u64;
        max_entries.fetch_max(entries, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(5));
    }
    stop_producing.store(true, Ordering::Relaxed);
    let mut sent_total = 0;
    for producer in producers {
        let (sent, metrics) = producer.join().unwrap();
        sent_total += sent;
        assert_eq!(metrics.record_error_total, 0, "{metrics:?}");
    }
    // Release: the consumers' Acquire load then sees every record appended
    // before it (the producers were joined above).
    stop_consuming.store(true, Ordering::Release);
    let reads: Vec<ConsumerLog> = consumers.into_iter().map(|c| c.join().unwrap()).collect();

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert_eq!(
        acked.len() as u64,
        sent_total,
        "every record was acknowledged"
    );
    let (mut read_ok, mut evicted) = (0u64, 0u64);
    for (partition, offset, value) in &acked {
        let out = &reads[*partition as usize];
        match out.read.get(offset) {
            Some(read) => {
                assert_eq!(read, value, "p{partition}@{offset}");
                read_ok += 1;
            }
            None => {
                assert!(
                    out.evicted
                        .iter()
                        .any(|(from, to)| (from..to).contains(&offset)),
                    "acknowledged p{partition}@{offset} ({value:?}) was lost"
                );
                evicted += 1;
            }
        }
    }
    let mut seen: HashMap<&Bytes, u32> = HashMap::new();
    for out in &reads {
        for value in out.read.values() {
            *seen.entry(value).or_default() += 1;
        }
    }
    assert!(
        seen.values().all(|&count| count == 1),
        "a duplicate was read"
    );
    let live = max_live.load(Ordering::Relaxed);
    let entries = max_entries.load(Ordering::Relaxed);
    for handle in &handles {
        let now = handle.log_end_offset() - handle.log_start_offset();
        assert!(
            now <= LIVE_BOUND,
            "live records {now} > {LIVE_BOUND} at the end"
        );
    }
    eprintln!(
        "soak {:.1} s: {sent_total} acknowledged, {read_ok} read, {evicted} evicted before \
         being read, max live records per partition {live} (bound {LIVE_BOUND}), max \
         producer-state entries {entries}",
        start.elapsed().as_secs_f64()
    );
    assert!(live <= LIVE_BOUND, "live records {live} > {LIVE_BOUND}");
    assert!(
        entries <= u64::from(PARTITIONS) * PRODUCERS,
        "state entries {entries}"
    );
    assert!(sent_total > 1_000, "the soak did real work: {sent_total}");
    assert!(
        evicted > 0,
        "the consumers were overtaken by retention at least once"
    );
}
