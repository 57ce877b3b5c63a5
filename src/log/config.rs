//! The settings of a [`Log`] and of its topics, with their ranges.

use std::time::Duration;

#[cfg(doc)]
use crate::clock::CoarseClock;
use crate::clock::{Clock, EngineClock};
use crate::error::LogError;
use crate::log::retention::RetentionPolicy;
use crate::log::{batch, segment, tail};
#[cfg(doc)]
use crate::log::{Log, ProducerStateStats};
use crate::record::IntoRecords;

/// Settings of a [`Log`]. Built with chained setters and validated by
/// [`Log::with_config`].
///
/// ```
/// use idemlog::{Log, LogConfig};
/// let log = Log::with_config(LogConfig::default().dedup_window(8)).unwrap();
/// assert_eq!(log.config().dedup_window_len(), 8);
/// assert!(Log::with_config(LogConfig::default().dedup_window(0)).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct LogConfig {
    pub(crate) dedup_window: usize,
    /// `None`: the default, 65536.
    pub(crate) max_batch_records: Option<usize>,
    pub(crate) producer_id_expiration_ms: i64,
    pub(crate) segment_bytes: usize,
    pub(crate) max_segments: usize,
    pub(crate) memory_budget: u64,
    pub(crate) max_producer_states: usize,
    pub(crate) housekeeping: Option<Duration>,
    pub(crate) offsets_retention_ms: i64,
    // std's Arc even under loom: the clock is no part of any protocol, and loom's
    // Arc cannot hold a trait object built by unsized coercion.
    pub(crate) clock: EngineClock,
}

/// The default memory budget of a log: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            dedup_window: 5,
            max_batch_records: None,
            producer_id_expiration_ms: 86_400_000,
            segment_bytes: 1 << 20,
            max_segments: 256,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_producer_states: 1 << 20,
            housekeeping: Some(Duration::from_secs(1)),
            offsets_retention_ms: 7 * 86_400_000,
            clock: EngineClock::Coarse,
        }
    }
}

impl LogConfig {
    /// Smallest segment size in bytes.
    pub const MIN_SEGMENT_BYTES: usize = 128;
    /// Shortest housekeeping interval (a new-user trial found `1 ns` accepted,
    /// keeping a core busy on an idle log).
    pub const MIN_HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(1);
    /// Largest segment size in bytes.
    pub const MAX_SEGMENT_BYTES: usize = (tail::MAX_SEGMENT_UNITS as usize) * batch::UNIT_BYTES;
    /// Largest `max_segments`.
    pub const MAX_SEGMENTS: usize = 1 << 16;

    /// Batches remembered per (partition, producer) for dedup (default 5, Kafka's
    /// fixed value; 1..=1024 here).
    pub fn dedup_window(mut self, batches: usize) -> Self {
        self.dedup_window = batches;
        self
    }

    /// Largest batch in records (default 65536; a batch must also fit one segment).
    pub fn max_batch_records(mut self, records: usize) -> Self {
        self.max_batch_records = Some(records);
        self
    }

    /// Producer state is dropped after this much inactivity (default 1 day,
    /// Kafka's `transactional.id.expiration.ms`/`producer.id.expiration.ms`),
    /// in whole milliseconds, at least 1.
    pub fn producer_id_expiration(mut self, expiration: Duration) -> Self {
        self.producer_id_expiration_ms = i64::try_from(expiration.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Bytes per segment buffer, a power of two in
    /// [`MIN_SEGMENT_BYTES`](Self::MIN_SEGMENT_BYTES)..=[`MAX_SEGMENT_BYTES`](Self::MAX_SEGMENT_BYTES)
    /// (default 1 MiB). A batch (40 bytes of header, 8 per record, plus keys and
    /// values) must fit one segment; retention evicts whole segments.
    pub fn segment_bytes(mut self, bytes: usize) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Segments a partition can hold at once, a power of two in 2..=65536
    /// (default 256).
    pub fn max_segments(mut self, segments: usize) -> Self {
        self.max_segments = segments;
        self
    }

    /// The log's memory budget in bytes (default [`DEFAULT_MEMORY_BUDGET`], 1 GiB):
    /// segments (pooled ones included), partitions (each partition's directory
    /// and fixed structures, a few KiB, charged by `create_topic`), producer
    /// states and consumer groups (a few hundred bytes each, and 64 per
    /// committed offset) are charged against it before they are allocated.
    /// When it is full, retention runs first, and the other partitions' idle
    /// recycled segments (each partition keeps up to four for reuse) are
    /// freed; then an append answers
    /// [`LogError::LogFull`], and so do a commit of a new offset and a
    /// subscription that would make a new group.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// The most (partition, producer) states the log keeps (default 1048576,
    /// 1..=2^26). A new producer state beyond it first evicts the least recently
    /// used idle states (a slice of 1/64 of the cap at once), counted in
    /// [`ProducerStateStats::evicted`]. **A later retry of an evicted producer is
    /// accepted as new data, so it can duplicate**, exactly as after expiry. Only
    /// if nothing is idle does the append fail with [`LogError::ProducerStateFull`].
    /// "Least recently used" is read off each state's last-append time on the
    /// log's clock: the default clock never moves back (a system clock
    /// stepped back is held still, see [`CoarseClock`](crate::CoarseClock)),
    /// but a [`clock`](Self::clock) of your own that moves back (a
    /// [`ManualClock`](crate::ManualClock) set earlier, a raw
    /// [`SystemClock`](crate::SystemClock)) makes the states appended since look
    /// older than the idle ones, and they are evicted first.
    pub fn max_producer_states(mut self, states: usize) -> Self {
        self.max_producer_states = states;
        self
    }

    /// How often the background housekeeper runs retention (age limits
    /// included) and producer-state expiry on every partition, and expires
    /// consumer-group members that stopped polling and groups whose offsets
    /// are past [`offsets_retention`](Self::offsets_retention) (default every
    /// second); `None` runs no thread, leaving retention to appends that open a
    /// segment and to the sweeps ([`Log::enforce_retention`],
    /// [`Log::expire_producers`]), and a member that stopped polling to be
    /// expired at another member's poll or join (so a member blocked in a
    /// poll does not take over its partitions until its wait ends), and
    /// idle groups with committed offsets stay. The thread stops with the last
    /// `Log` clone.
    /// The interval is at least [`MIN_HOUSEKEEPING_INTERVAL`](Self::MIN_HOUSEKEEPING_INTERVAL);
    /// each pass visits every partition, so a short one costs CPU in
    /// proportion to the partition count.
    pub fn housekeeping(mut self, interval: Option<Duration>) -> Self {
        self.housekeeping = interval;
        self
    }

    /// How long a consumer group with no member keeps its committed offsets
    /// (default 7 days, Kafka's `offsets.retention.minutes`), counted from when
    /// its last member left or its last offset was committed since, in whole
    /// milliseconds, at least 1. The housekeeper then removes the group, and
    /// with it the offsets' charge to the memory budget. A group with no
    /// member and no committed offset is removed when its last member leaves.
    pub fn offsets_retention(mut self, retention: Duration) -> Self {
        self.offsets_retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The engine's clock (timestamps, expiry, age retention); default
    /// [`CoarseClock`].
    pub fn clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = EngineClock::Custom(clock);
        self
    }

    /// The dedup window length.
    pub fn dedup_window_len(&self) -> usize {
        self.dedup_window
    }

    /// The largest batch in records.
    pub fn max_batch_len(&self) -> usize {
        self.max_batch_records.unwrap_or(65_536)
    }

    /// Bytes per segment.
    pub fn segment_len(&self) -> usize {
        self.segment_bytes
    }

    /// The memory budget in bytes.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.memory_budget
    }

    /// Bytes of a batch's fixed header in a segment.
    pub const BATCH_HEADER_BYTES: usize = batch::HEADER_BYTES;

    /// Bytes the records of one batch take in a segment: 8 per record plus its
    /// key and value. The batch takes [`BATCH_HEADER_BYTES`](Self::BATCH_HEADER_BYTES)
    /// more, rounded up to a multiple of 8, and must fit one segment
    /// ([`segment_bytes`](Self::segment_bytes)), else the append answers
    /// [`LogError::BatchBytesTooLarge`] with this figure. Saturates at
    /// `usize::MAX`.
    ///
    /// ```
    /// use idemlog::{LogConfig, Record};
    /// assert_eq!(LogConfig::batch_bytes(&[Record::with_key("k", "value")]), 8 + 1 + 5);
    /// ```
    pub fn batch_bytes(records: &(impl IntoRecords + ?Sized)) -> usize {
        batch::records_len(records)
    }

    /// The most batches one segment holds (one commit word per 64 bytes of
    /// buffer, at least 2): a segment of small batches may fill by count first.
    pub fn batches_per_segment(&self) -> usize {
        (self.segment_bytes / 64).max(2)
    }

    /// Units per segment.
    pub(crate) fn segment_units(&self) -> u64 {
        (self.segment_bytes / batch::UNIT_BYTES) as u64
    }

    /// Batches one segment can hold.
    pub(crate) fn segment_batch_capacity(&self) -> u64 {
        self.batches_per_segment() as u64
    }

    /// Bytes one segment of this config takes: what the
    /// [`memory_budget`](Self::memory_budget) is charged for it (its buffer of
    /// [`segment_len`](Self::segment_len) bytes, a cache line of alignment and
    /// a commit word per batch it can hold), for sizing a budget.
    ///
    /// ```
    /// let config = idemlog::LogConfig::default();
    /// assert!(config.segment_footprint() > config.segment_len() as u64);
    /// ```
    pub fn segment_footprint(&self) -> u64 {
        segment::SegmentMemory::footprint(
            self.segment_units() as usize,
            self.segment_batch_capacity() as usize,
        )
    }

    /// Checks every setting's range ([`Log::with_config`] calls it, and also
    /// refuses a budget too small for one partition and its first segment).
    pub fn validate(&self) -> Result<(), LogError> {
        let invalid = |setting, reason: String| Err(LogError::InvalidConfig { setting, reason });
        if !(1..=1024).contains(&self.dedup_window) {
            return invalid(
                "dedup_window",
                format!("{} is outside 1..=1024", self.dedup_window),
            );
        }
        if !self.segment_bytes.is_power_of_two()
            || !(Self::MIN_SEGMENT_BYTES..=Self::MAX_SEGMENT_BYTES).contains(&self.segment_bytes)
        {
            return invalid(
                "segment_bytes",
                format!(
                    "{} is not a power of two in {}..={}",
                    self.segment_bytes,
                    Self::MIN_SEGMENT_BYTES,
                    Self::MAX_SEGMENT_BYTES
                ),
            );
        }
        if !self.max_segments.is_power_of_two()
            || !(2..=Self::MAX_SEGMENTS).contains(&self.max_segments)
        {
            return invalid(
                "max_segments",
                format!(
                    "{} is not a power of two in 2..={}",
                    self.max_segments,
                    Self::MAX_SEGMENTS
                ),
            );
        }
        let max_batch = self.max_batch_len();
        if !(1..=1 << 24).contains(&max_batch) {
            return invalid(
                "max_batch_records",
                format!("{max_batch} is outside 1..=16777216"),
            );
        }
        let segment_footprint = self.segment_footprint();
        if self.memory_budget < segment_footprint {
            return invalid(
                "memory_budget",
                format!(
                    "{} bytes cannot hold one segment ({segment_footprint} bytes)",
                    self.memory_budget
                ),
            );
        }
        if self.producer_id_expiration_ms <= 0 {
            return invalid(
                "producer_id_expiration",
                "must be at least 1 ms (it counts whole milliseconds)".to_string(),
            );
        }
        if self.offsets_retention_ms <= 0 {
            return invalid(
                "offsets_retention",
                "must be at least 1 ms (it counts whole milliseconds)".to_string(),
            );
        }
        if !(1..=1 << 26).contains(&self.max_producer_states) {
            return invalid(
                "max_producer_states",
                format!("{} is outside 1..=67108864", self.max_producer_states),
            );
        }
        if self
            .housekeeping
            .is_some_and(|interval| interval < Self::MIN_HOUSEKEEPING_INTERVAL)
        {
            return invalid(
                "housekeeping",
                "the interval must be at least 1 ms (None disables the housekeeper)".to_string(),
            );
        }
        Ok(())
    }
}

/// Settings of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// Number of partitions (>= 1).
    pub partitions: u32,
    /// Retention limits applied to each partition.
    pub retention: RetentionPolicy,
}

impl TopicConfig {
    /// `partitions` partitions, unlimited retention.
    pub fn new(partitions: u32) -> Self {
        Self {
            partitions,
            retention: RetentionPolicy::default(),
        }
    }

    /// Sets the retention limits.
    pub fn retention(mut self, retention: RetentionPolicy) -> Self {
        self.retention = retention;
        self
    }
}
