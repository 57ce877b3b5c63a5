//! The broker side: the [`Log`] owns topics and partitions, hands out producer
//! ids, and applies Kafka's idempotent-producer rules on append.

mod batch;
mod budget;
mod housekeeper;
mod partition;
mod producer_limits;
mod producer_state;
mod retention;
mod segment;
mod storage;
mod tail;
mod wakeup;

use std::fmt;
use std::time::Duration;

use crate::clock::{Clock, CoarseClock};
use crate::consumer::Consumer;
use crate::error::LogError;
use crate::record::IntoRecords;
use crate::sync::{Arc, AtomicU64, ConcurrentMap, Ordering};
use crate::types::{BatchHeader, ProducerId, ProducerIdentity};

use budget::Budget;
use housekeeper::Housekeeper;
pub(crate) use partition::Partition;
use producer_limits::ProducerLimits;
pub use producer_state::{BatchMetadata, ProducerStateSnapshot};
pub use retention::{RetentionPolicy, RetentionReport};
use storage::SegmentLog;
pub(crate) use storage::{Cursor, ReadRecord};

use producer_state::ProducerState;

/// The answer to a successful append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Offset of the batch's first record (the original one for a duplicate).
    pub base_offset: u64,
    /// Records in the batch.
    pub record_count: u64,
    /// Log-append time of the batch (the original one for a duplicate).
    pub timestamp_ms: i64,
    /// True if the batch was a retry of one already in the log: nothing was appended.
    pub duplicate: bool,
}

impl AppendOutcome {
    fn appended(batch: &batch::BatchFields) -> Self {
        Self {
            base_offset: batch.base_offset,
            record_count: u64::from(batch.record_count),
            timestamp_ms: batch.timestamp_ms,
            duplicate: false,
        }
    }

    /// Offset of the batch's last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + self.record_count - 1
    }
}

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
    dedup_window: usize,
    /// `None`: the default, 65536.
    max_batch_records: Option<usize>,
    producer_id_expiration_ms: i64,
    segment_bytes: usize,
    max_segments: usize,
    memory_budget: u64,
    max_producer_states: usize,
    housekeeping: Option<Duration>,
    // std's Arc even under loom: the clock is no part of any protocol, and loom's
    // Arc cannot hold a trait object built by unsized coercion.
    clock: std::sync::Arc<dyn Clock>,
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
            clock: std::sync::Arc::new(CoarseClock),
        }
    }
}

impl LogConfig {
    /// Smallest segment size in bytes.
    pub const MIN_SEGMENT_BYTES: usize = 128;
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
    /// Kafka's `transactional.id.expiration.ms`/`producer.id.expiration.ms`).
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
    /// segments (pooled ones included) and segment directories are charged
    /// against it before they are allocated (producer state is not charged yet). When it is full,
    /// retention runs first; then an append answers [`LogError::LogFull`].
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
    pub fn max_producer_states(mut self, states: usize) -> Self {
        self.max_producer_states = states;
        self
    }

    /// How often the background housekeeper runs retention (age limits
    /// included) and producer-state expiry on every partition (default every
    /// second); `None` runs no thread, leaving retention to appends that open a
    /// segment and to the sweeps ([`Log::enforce_retention`],
    /// [`Log::expire_producers`]). The thread stops with the last `Log` clone.
    pub fn housekeeping(mut self, interval: Option<Duration>) -> Self {
        self.housekeeping = interval;
        self
    }

    /// The engine's clock (timestamps, expiry, age retention); default
    /// [`CoarseClock`].
    pub fn clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
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
    /// `usize::MAX` for a batch too large for the format.
    ///
    /// ```
    /// use idemlog::{LogConfig, Record};
    /// assert_eq!(LogConfig::batch_bytes(&[Record::with_key("k", "value")]), 8 + 1 + 5);
    /// ```
    pub fn batch_bytes(records: &(impl IntoRecords + ?Sized)) -> usize {
        batch::records_len(records).unwrap_or(usize::MAX)
    }

    /// The most batches one segment holds (one commit word per 64 bytes of
    /// buffer, at least 2): a segment of small batches may fill by count first.
    pub fn batches_per_segment(&self) -> usize {
        (self.segment_bytes / 64).max(2)
    }

    /// Units per segment.
    fn segment_units(&self) -> u64 {
        (self.segment_bytes / batch::UNIT_BYTES) as u64
    }

    /// Batches one segment can hold.
    fn segment_batch_capacity(&self) -> u64 {
        self.batches_per_segment() as u64
    }

    /// Checks every setting's range ([`Log::with_config`] calls it).
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
        let segment_footprint = segment::SegmentMemory::footprint(
            self.segment_units() as usize,
            self.segment_batch_capacity() as usize,
        );
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
            return invalid("producer_id_expiration", "must be positive".to_string());
        }
        if !(1..=1 << 26).contains(&self.max_producer_states) {
            return invalid(
                "max_producer_states",
                format!("{} is outside 1..=67108864", self.max_producer_states),
            );
        }
        if self.housekeeping.is_some_and(|interval| interval.is_zero()) {
            return invalid(
                "housekeeping",
                "the interval must be positive (None disables the housekeeper)".to_string(),
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

/// State shared by the log and all its partitions.
pub(crate) struct LogShared {
    pub(crate) config: LogConfig,
    /// `config.max_batch_len()`, resolved once (read on every append).
    pub(crate) max_batch_records: usize,
    pub(crate) clock: std::sync::Arc<dyn Clock>,
    /// The memory budget every partition charges (I10).
    pub(crate) budget: std::sync::Arc<Budget>,
    /// The count and cap of producer states (I11).
    pub(crate) producer_limits: ProducerLimits,
    /// The log's topics, for LRU eviction of producer state across partitions
    /// (weak: the topics own the partitions, which own this).
    topics: std::sync::Weak<Topics>,
    /// The next producer id to hand out; ids below it are issued.
    next_producer_id: AtomicU64,
    group_offsets: ConcurrentMap<(String, String, u32), u64>,
}

impl LogShared {
    pub(crate) fn is_issued(&self, producer_id: ProducerId) -> bool {
        // Relaxed: the id reached the caller through whatever synchronisation
        // carried it from `init_producer_id`, which makes that fetch_add visible.
        producer_id.0 < self.next_producer_id.load(Ordering::Relaxed)
    }

    /// Evicts up to `count` of the least recently used idle producer states of
    /// the whole log (I11); returns how many went.
    pub(crate) fn evict_lru_producer_states(&self, count: usize) -> usize {
        let Some(topics) = self.topics.upgrade() else {
            return 0;
        };
        // The `count` oldest by last append, kept in a max-heap of that size.
        let mut oldest: std::collections::BinaryHeap<lru::Candidate> =
            std::collections::BinaryHeap::with_capacity(count + 1);
        for partition in topics.all_partitions() {
            partition.for_each_producer_state(|producer_id, state| {
                oldest.push(lru::Candidate {
                    last_append_ms: state.last_append_ms(),
                    producer_id,
                    state: Arc::clone(state),
                    partition: Arc::clone(&partition),
                });
                if oldest.len() > count {
                    oldest.pop();
                }
            });
        }
        oldest
            .into_iter()
            .filter(|candidate| candidate.partition.evict_producer_state(candidate))
            .count()
    }
}

/// Candidates of LRU eviction.
pub(crate) mod lru {
    use super::{Arc, Partition, ProducerId};
    use crate::log::producer_state::ProducerState;

    /// One (partition, producer) state and when it last appended.
    pub(crate) struct Candidate {
        pub(crate) last_append_ms: i64,
        pub(crate) producer_id: ProducerId,
        pub(crate) state: Arc<ProducerState>,
        pub(crate) partition: Arc<Partition>,
    }

    impl PartialEq for Candidate {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other).is_eq()
        }
    }

    impl Eq for Candidate {}

    impl PartialOrd for Candidate {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Candidate {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.last_append_ms
                .cmp(&other.last_append_ms)
                .then(self.producer_id.cmp(&other.producer_id))
        }
    }
}

struct Topic {
    partitions: Box<[Arc<Partition>]>,
}

/// The topics of a log, by name.
pub(crate) struct Topics(ConcurrentMap<String, Arc<Topic>>);

impl Topics {
    /// Every partition of every topic.
    pub(crate) fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.0
            .snapshot()
            .into_iter()
            .flat_map(|(_, topic)| topic.partitions.to_vec())
            .collect()
    }
}

/// The in-process broker: topics of partitions, the producer-id handshake,
/// idempotent and plain appends, reads, retention, committed offsets.
/// Cheap to clone: clones share the same log.
///
/// ```
/// use idemlog::{BatchHeader, Log, Record};
/// let log = Log::new();
/// log.create_topic("events", 2).unwrap();
/// let producer = log.init_producer_id();
/// let header = BatchHeader { producer_id: producer.producer_id, epoch: 0, base_sequence: 0 };
/// let first = log.append("events", 0, Some(header), vec![Record::new("a"), Record::new("b")]).unwrap();
/// assert_eq!((first.base_offset, first.duplicate), (0, false));
/// // A retry after a lost acknowledgement is answered with the original offsets.
/// let retry = log.append("events", 0, Some(header), vec![Record::new("a"), Record::new("b")]).unwrap();
/// assert_eq!((retry.base_offset, retry.duplicate), (0, true));
/// let records = log.consumer("events", 0).unwrap().poll(10).unwrap();
/// assert_eq!(records.len(), 2);
/// ```
#[derive(Clone)]
pub struct Log {
    shared: Arc<LogShared>,
    topics: std::sync::Arc<Topics>,
    /// Stops the housekeeper when the last clone goes.
    _housekeeper: Option<std::sync::Arc<Housekeeper>>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("topics", &self.topics.0.len())
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Default for Log {
    fn default() -> Self {
        Self::new()
    }
}

impl Log {
    /// A log with the default configuration.
    pub fn new() -> Self {
        Self::build(LogConfig::default())
    }

    /// A log with `config`, validated.
    pub fn with_config(config: LogConfig) -> Result<Self, LogError> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: LogConfig) -> Self {
        let topics = std::sync::Arc::new(Topics(ConcurrentMap::new()));
        let housekeeper = config.housekeeping.map(|interval| {
            std::sync::Arc::new(Housekeeper::start(
                std::sync::Arc::downgrade(&topics),
                std::sync::Arc::clone(&config.clock),
                interval,
            ))
        });
        Self {
            shared: Arc::new(LogShared {
                max_batch_records: config.max_batch_len(),
                clock: std::sync::Arc::clone(&config.clock),
                budget: std::sync::Arc::new(Budget::new(config.memory_budget)),
                producer_limits: ProducerLimits::new(
                    config.max_producer_states,
                    ProducerState::footprint(config.dedup_window) as u64,
                ),
                topics: std::sync::Arc::downgrade(&topics),
                config,
                next_producer_id: AtomicU64::new(0),
                group_offsets: ConcurrentMap::new(),
            }),
            topics,
            _housekeeper: housekeeper,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// Creates a topic with `partitions` partitions and no retention limit.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<(), LogError> {
        self.create_topic_with(name, TopicConfig::new(partitions))
    }

    /// Creates a topic with the given settings.
    pub fn create_topic_with(&self, name: &str, config: TopicConfig) -> Result<(), LogError> {
        if name.is_empty() {
            return Err(LogError::InvalidConfig {
                setting: "topic",
                reason: "the name is empty".to_string(),
            });
        }
        if config.partitions == 0 {
            return Err(LogError::InvalidConfig {
                setting: "partitions",
                reason: "a topic needs at least one partition".to_string(),
            });
        }
        // Each partition's segment directory is charged to the budget before it
        // is allocated: a topic too large for it is refused, not an abort.
        let directory_bytes = u64::from(config.partitions)
            .saturating_mul(SegmentLog::directory_bytes(self.shared.config.max_segments));
        if self.topics.0.get(&name.to_string()).is_some() {
            return Err(LogError::TopicAlreadyExists {
                topic: name.to_string(),
            });
        }
        self.shared.budget.try_charge(directory_bytes)?;
        // std's Arc even under loom (immutable name, no protocol; loom has no Arc<str>).
        let topic_name: std::sync::Arc<str> = std::sync::Arc::from(name);
        let topic = Arc::new(Topic {
            partitions: (0..config.partitions)
                .map(|index| {
                    Arc::new(Partition::new(
                        std::sync::Arc::clone(&topic_name),
                        index,
                        config.retention.clone(),
                        Arc::clone(&self.shared),
                    ))
                })
                .collect(),
        });
        if self.topics.0.insert_if_absent(name.to_string(), topic) {
            Ok(())
        } else {
            // Lost a race with a concurrent create of the same name.
            self.shared.budget.release(directory_bytes);
            Err(LogError::TopicAlreadyExists {
                topic: name.to_string(),
            })
        }
    }

    /// Names of all topics, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .topics
            .0
            .snapshot()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        names
    }

    /// Partition count of `topic`.
    pub fn partition_count(&self, topic: &str) -> Result<u32, LogError> {
        Ok(self.topic(topic)?.partitions.len() as u32)
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, LogError> {
        self.topics
            .0
            .get(&name.to_string())
            .ok_or_else(|| LogError::UnknownTopic {
                topic: name.to_string(),
            })
    }

    /// A handle on one partition (look it up once, then append without map lookups).
    pub fn partition(&self, topic: &str, partition: u32) -> Result<PartitionHandle, LogError> {
        let found = self.topic(topic)?;
        let partitions = found.partitions.len() as u32;
        found
            .partitions
            .get(partition as usize)
            .map(|partition| PartitionHandle {
                partition: Arc::clone(partition),
            })
            .ok_or_else(|| LogError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions,
            })
    }

    /// The producer-id handshake (Kafka's `InitProducerId`): a fresh id at epoch 0.
    pub fn init_producer_id(&self) -> ProducerIdentity {
        // Relaxed: uniqueness comes from the RMW itself; see `LogShared::is_issued`.
        let id = self.shared.next_producer_id.fetch_add(1, Ordering::Relaxed);
        ProducerIdentity {
            producer_id: ProducerId(id),
            epoch: 0,
        }
    }

    /// Appends one batch to one partition: idempotent with a header, plain without.
    pub fn append(
        &self,
        topic: &str,
        partition: u32,
        header: Option<BatchHeader>,
        records: impl IntoRecords,
    ) -> Result<AppendOutcome, LogError> {
        self.partition(topic, partition)?.append(header, records)
    }

    /// Appends many batches (Kafka's produce request): one result per request, in
    /// order, with no atomicity across partitions.
    pub fn produce(&self, requests: Vec<ProduceRequest>) -> Vec<Result<AppendOutcome, LogError>> {
        requests
            .into_iter()
            .map(|request| {
                self.append(
                    &request.topic,
                    request.partition,
                    request.header,
                    request.records,
                )
            })
            .collect()
    }

    /// A consumer of one partition, positioned at its log start.
    pub fn consumer(&self, topic: &str, partition: u32) -> Result<Consumer, LogError> {
        Ok(Consumer::new(
            self.clone(),
            self.partition(topic, partition)?,
        ))
    }

    /// A consumer positioned at `group`'s committed offset (or the log start).
    pub fn consumer_for_group(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Consumer, LogError> {
        let mut consumer = self.consumer(topic, partition)?;
        if let Some(offset) = self.committed(group, topic, partition)? {
            consumer.seek(offset);
        }
        Ok(consumer)
    }

    /// Stores `group`'s next offset to read on a partition.
    pub fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), LogError> {
        self.partition(topic, partition)?;
        self.shared
            .group_offsets
            .insert((group.to_string(), topic.to_string(), partition), offset);
        Ok(())
    }

    /// `group`'s committed offset on a partition, if any.
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
        self.partition(topic, partition)?;
        Ok(self
            .shared
            .group_offsets
            .get(&(group.to_string(), topic.to_string(), partition)))
    }

    fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.topics.all_partitions()
    }

    /// Runs retention on every partition now; returns the totals.
    pub fn enforce_retention(&self) -> RetentionReport {
        self.all_partitions()
            .iter()
            .map(|partition| partition.enforce_retention())
            .fold(RetentionReport::default(), |total, report| {
                RetentionReport {
                    segments: total.segments + report.segments,
                    records: total.records + report.records,
                }
            })
    }

    /// Drops producer state idle for `producer_id_expiration`; returns how many
    /// (partition, producer) entries went. After that a late retry of theirs is
    /// accepted as new data, i.e. it can duplicate ([`crate::contract`], rule 4).
    pub fn expire_producers(&self) -> usize {
        let now_ms = self.shared.clock.now_ms();
        self.all_partitions()
            .iter()
            .map(|partition| partition.expire_producers(now_ms))
            .sum()
    }

    /// Bytes charged to the memory budget now, and the budget.
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage {
            used_bytes: self.shared.budget.used(),
            budget_bytes: self.shared.budget.limit(),
        }
    }

    /// Producer-state memory: entries, their bytes (the states as the allocator
    /// hands them out, plus the partitions' hash tables at their capacity), and
    /// how many were evicted to stay under [`LogConfig::max_producer_states`].
    pub fn producer_state_stats(&self) -> ProducerStateStats {
        let limits = &self.shared.producer_limits;
        let table_bytes: usize = self
            .all_partitions()
            .iter()
            .map(|partition| partition.producer_table_bytes())
            .sum();
        ProducerStateStats {
            entries: limits.entries(),
            bytes: limits.entries() * limits.entry_bytes() as usize + table_bytes,
            evicted: limits.evicted(),
        }
    }
}

/// The log's memory budget and what is charged to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes charged: segments (pooled ones included) and segment directories.
    pub used_bytes: u64,
    /// The budget ([`LogConfig::memory_budget`]).
    pub budget_bytes: u64,
}

/// Producer-state memory held by the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerStateStats {
    /// (partition, producer) entries.
    pub entries: usize,
    /// Their bytes: each state and its window as allocated, plus the hash
    /// tables that index them. Each entry is also charged to the memory budget.
    pub bytes: usize,
    /// Entries evicted least-recently-used to stay under the cap, so far.
    pub evicted: u64,
}

impl ProducerStateStats {
    /// Bytes one (partition, producer) entry takes with a window of `window`
    /// batches, not counting its hash-table slot (what the budget is charged).
    pub fn bytes_per_entry(window: usize) -> usize {
        ProducerState::footprint(window)
    }
}

/// One batch of a multi-partition [`Log::produce`] call.
#[derive(Clone, Debug)]
pub struct ProduceRequest {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Producer fields for an idempotent batch; `None` for a plain one.
    pub header: Option<BatchHeader>,
    /// The records.
    pub records: Vec<crate::record::Record>,
}

/// A handle on one partition: appends, reads and state without topic lookups.
#[derive(Clone)]
pub struct PartitionHandle {
    partition: Arc<Partition>,
}

impl fmt::Debug for PartitionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PartitionHandle({}-{})",
            self.partition.topic, self.partition.index
        )
    }
}

impl PartitionHandle {
    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.partition.topic
    }

    /// The partition index.
    pub fn index(&self) -> u32 {
        self.partition.index
    }

    /// Appends one batch: idempotent with a header (looks the producer's state up
    /// in the partition's map; use [`PartitionHandle::producer`] to cache it), plain
    /// without.
    pub fn append(
        &self,
        header: Option<BatchHeader>,
        records: impl IntoRecords,
    ) -> Result<AppendOutcome, LogError> {
        match header {
            Some(header) => {
                self.partition.check_issued(header.producer_id)?;
                self.partition
                    .append_idempotent(&mut None, header, &records)
            }
            None => self.partition.append_plain(&records),
        }
    }

    /// An appender for one producer on this partition that caches its dedup state:
    /// the steady-state append touches no map and no lock.
    pub fn producer(&self, producer_id: ProducerId) -> Result<ProducerAppender, LogError> {
        self.partition.check_issued(producer_id)?;
        Ok(ProducerAppender {
            partition: Arc::clone(&self.partition),
            producer_id,
            state: None,
        })
    }

    /// A consumer positioned at the log start.
    pub fn consumer(&self, log: &Log) -> Consumer {
        Consumer::new(log.clone(), self.clone())
    }

    /// The first offset still held.
    pub fn log_start_offset(&self) -> u64 {
        self.partition.storage.log_start()
    }

    /// The next offset to be assigned (some below it may not be readable yet).
    pub fn log_end_offset(&self) -> u64 {
        self.partition.storage.log_end()
    }

    /// The end of the contiguous published prefix: every offset below it is readable.
    pub fn high_watermark(&self) -> u64 {
        self.partition.storage.high_watermark()
    }

    /// Segments the partition holds now (at most `LogConfig::max_segments`).
    pub fn live_segments(&self) -> u64 {
        self.partition.storage.live_segments()
    }

    /// Runs retention on this partition now.
    pub fn enforce_retention(&self) -> RetentionReport {
        self.partition.enforce_retention()
    }

    /// A consistent copy of `producer_id`'s dedup state here, if it has a live one.
    pub fn producer_state(&self, producer_id: ProducerId) -> Option<ProducerStateSnapshot> {
        self.partition.producer_state(producer_id)
    }

    pub(crate) fn inner(&self) -> &Partition {
        &self.partition
    }
}

/// Appends one producer's idempotent batches to one partition, caching the
/// producer's dedup state (map lookups at most once per producer per partition,
/// and again after its state expired: I9 in [`crate::implementation`]).
pub struct ProducerAppender {
    partition: Arc<Partition>,
    producer_id: ProducerId,
    state: Option<Arc<ProducerState>>,
}

impl fmt::Debug for ProducerAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ProducerAppender({}-{}, producer {})",
            self.partition.topic, self.partition.index, self.producer_id
        )
    }
}

impl ProducerAppender {
    /// The producer this appender writes for.
    pub fn producer_id(&self) -> ProducerId {
        self.producer_id
    }

    /// Appends an idempotent batch with `epoch` and `base_sequence`.
    pub fn append(
        &mut self,
        epoch: u16,
        base_sequence: i32,
        records: impl IntoRecords,
    ) -> Result<AppendOutcome, LogError> {
        let header = BatchHeader {
            producer_id: self.producer_id,
            epoch,
            base_sequence,
        };
        self.partition
            .append_idempotent(&mut self.state, header, &records)
    }
}
