//! Retention: which whole segments to evict from the head of a partition.
//!
//! Kafka's rules, per partition: by records and bytes, delete the oldest segment
//! while what remains is still at least the limit; by age, delete segments whose
//! newest record is older than the limit. Only segments entirely below the high
//! watermark are candidates, so appenders never lose a segment they write (I7).

use std::time::Duration;

use crate::error::LogError;
use crate::log::storage::SegmentLog;

/// Per-partition retention limits; `None` means unlimited.
///
/// ```
/// use idemlog::RetentionPolicy;
/// use std::time::Duration;
/// let policy = RetentionPolicy::default()
///     .max_records(1_000_000)
///     .max_bytes(64 << 20)
///     .max_age(Duration::from_secs(3600));
/// assert_eq!(policy.max_records, Some(1_000_000));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep at least this many records, evicting older segments beyond it.
    pub max_records: Option<u64>,
    /// Keep at least this many payload bytes (key + value), evicting older segments beyond it.
    pub max_bytes: Option<u64>,
    /// Evict segments whose newest record is older than this (log clock);
    /// at least 0 (`create_topic_with` refuses a negative age).
    pub max_age_ms: Option<i64>,
}

impl RetentionPolicy {
    /// Sets the record limit.
    pub fn max_records(mut self, records: u64) -> Self {
        self.max_records = Some(records);
        self
    }

    /// Sets the byte limit.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Sets the age limit.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age_ms = Some(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        self
    }

    /// Refuses a negative age: the field is public, and Kafka's
    /// `retention.ms = -1` ("no age limit") is `None` here, whereas a negative
    /// age would evict every complete segment at once.
    pub(crate) fn validate(&self) -> Result<(), LogError> {
        match self.max_age_ms {
            Some(ms) if ms < 0 => Err(LogError::InvalidConfig {
                setting: "retention.max_age_ms",
                reason: format!("{ms} ms is negative; None means no age limit"),
            }),
            _ => Ok(()),
        }
    }

    /// True if any limit is set.
    pub fn is_limited(&self) -> bool {
        self.max_records.is_some() || self.max_bytes.is_some() || self.max_age_ms.is_some()
    }
}

/// What one retention pass evicted (read the partition's
/// [`log_start_offset`](crate::PartitionHandle::log_start_offset) for where it
/// now starts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments evicted.
    pub segments: u64,
    /// Records evicted.
    pub records: u64,
}

/// Evicts whole segments from the head of `storage` while `policy` says so. The caller holds the partition's retention lock (one
/// evictor at a time, I7). Only segments the high-watermark scan has passed are
/// candidates, so no appender still writes one.
pub(crate) fn enforce(
    storage: &SegmentLog,
    policy: &RetentionPolicy,
    now_ms: i64,
) -> RetentionReport {
    let mut report = RetentionReport::default();
    if !policy.is_limited() {
        return report;
    }
    let mut live_records = storage.high_watermark() - storage.log_start();
    let mut live_bytes = if policy.max_bytes.is_some() {
        storage.scanned_payload_bytes()
    } else {
        0
    };
    while let Some(oldest) = storage.oldest_complete() {
        let by_records = policy
            .max_records
            .is_some_and(|max| live_records.saturating_sub(oldest.records) >= max);
        let by_bytes = policy
            .max_bytes
            .is_some_and(|max| live_bytes.saturating_sub(oldest.bytes) >= max);
        let by_age = policy
            .max_age_ms
            .is_some_and(|max| now_ms.saturating_sub(oldest.max_timestamp_ms) > max);
        if !(by_records || by_bytes || by_age) {
            break;
        }
        storage.evict_oldest(&oldest);
        live_records = live_records.saturating_sub(oldest.records);
        live_bytes = live_bytes.saturating_sub(oldest.bytes);
        report.segments += 1;
        report.records += oldest.records;
    }
    report
}
