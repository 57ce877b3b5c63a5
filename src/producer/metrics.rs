//! Per-producer counters with Kafka-like names.

use crate::sync::{AtomicU64, Ordering};

/// The counters. Written by the flusher only; read by [`Metrics::snapshot`].
/// Every access is Relaxed: each counter is read for its own value and
/// publishes no other data (the flusher's increments / `snapshot`'s loads).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) epoch_bumps: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    /// Requests in the link's queue (in transit) after the flusher's last loop.
    pub(crate) link_queue: AtomicU64,
    /// The largest `link_queue` seen.
    pub(crate) link_queue_peak: AtomicU64,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        // Relaxed: see the type's comment (pairs with the loads in `snapshot`).
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set(counter: &AtomicU64, value: u64) {
        // Relaxed: see the type's comment (pairs with the loads in `snapshot`).
        counter.store(value, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        // Relaxed: see the type's comment (pairs with `add` / `set`).
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        // Relaxed: see the type's comment (pairs with `add` / `set`).
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            record_send_total: get(&self.sent),
            record_ack_total: get(&self.acked),
            record_error_total: get(&self.failed),
            record_retry_total: get(&self.retries),
            record_duplicate_total: get(&self.duplicates),
            producer_epoch_bump_total: get(&self.epoch_bumps),
            requests_in_flight: get(&self.in_flight),
        }
    }
}

/// A copy of a producer's counters. The fields follow Kafka's metric names
/// (`record-send-total` becomes `record_send_total`); [`MetricsSnapshot::named`]
/// lists them under the dashed names.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
/// producer.send(ProducerRecord::new("t", "v")).unwrap().wait().unwrap();
/// let metrics = producer.metrics();
/// assert_eq!((metrics.record_send_total, metrics.record_ack_total), (1, 1));
/// assert_eq!(metrics.named()[0], ("record-send-total", 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// `record-send-total`: records handed to the log (first attempts).
    pub record_send_total: u64,
    /// `record-ack-total`: records acknowledged (success reported).
    pub record_ack_total: u64,
    /// `record-error-total`: records completed with an error.
    pub record_error_total: u64,
    /// `record-retry-total`: records re-sent after a failed attempt.
    pub record_retry_total: u64,
    /// `record-duplicate-total`: records the log answered as duplicates.
    pub record_duplicate_total: u64,
    /// `producer-epoch-bump-total`: local epoch bumps (pid renewals included).
    pub producer_epoch_bump_total: u64,
    /// `requests-in-flight`: requests awaiting a response, as of the
    /// flusher's latest pass (a gauge: a handle that just completed may still
    /// be counted; after a `flush` that returned `Ok` it is current, and
    /// after the flusher exited it is 0).
    pub requests_in_flight: u64,
}

impl MetricsSnapshot {
    /// The counters under their Kafka-style names.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("record-send-total", self.record_send_total),
            ("record-ack-total", self.record_ack_total),
            ("record-error-total", self.record_error_total),
            ("record-retry-total", self.record_retry_total),
            ("record-duplicate-total", self.record_duplicate_total),
            ("producer-epoch-bump-total", self.producer_epoch_bump_total),
            ("requests-in-flight", self.requests_in_flight),
        ]
    }
}
