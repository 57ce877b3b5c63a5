//! The broker side: the [`Log`] owns topics and partitions, hands out producer
//! ids, and applies Kafka's idempotent-producer rules on append.

pub(crate) mod assignor;
pub(crate) mod batch;
mod budget;
mod config;
mod group_coordinator;
mod group_registry;
mod handle;
mod housekeeper;
mod lease;
mod offsets;
mod partition;
mod producer_limits;
mod producer_state;
mod retention;
mod rules;
mod segment;
mod storage;
mod tail;
mod tail_cell;
mod wakeup;

use std::fmt;

use crate::clock::{Clock, EngineClock};
use crate::error::LogError;
use crate::record::IntoRecords;
use crate::sync::{Arc, AtomicU64, ConcurrentMap, Ordering};
use crate::ticker::TickerLease;
use crate::types::{BatchHeader, ProducerId, ProducerIdentity};

pub use assignor::Assignor;
use budget::{arc_block_bytes, named_entry_bytes, Budget};
pub use config::{LogConfig, TopicConfig, DEFAULT_MEMORY_BUDGET};
pub(crate) use group_coordinator::{Group, JoinRequest, LastPoll, SyncPlan};
use group_registry::Groups;
pub use handle::{PartitionHandle, ProducerAppender};
use housekeeper::Housekeeper;
pub(crate) use partition::Partition;
use producer_limits::ProducerLimits;
pub use producer_state::{BatchMetadata, ProducerStateSnapshot};
pub use retention::{RetentionPolicy, RetentionReport};
pub(crate) use storage::{CommittedPrefix, Cursor, ReadRecord};
pub(crate) use wakeup::Readiness;

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

/// State shared by the log and all its partitions.
pub(crate) struct LogShared {
    pub(crate) config: LogConfig,
    /// `config.max_batch_len()`, resolved once (read on every append).
    pub(crate) max_batch_records: usize,
    pub(crate) clock: EngineClock,
    /// Keeps the coarse clock's ticker running while this state lives (the
    /// log, its handles and consumers), if `clock` is the coarse clock.
    _ticker: Option<TickerLease>,
    /// The memory budget every partition charges (I10).
    pub(crate) budget: std::sync::Arc<Budget>,
    /// The count and cap of producer states (I11).
    pub(crate) producer_limits: ProducerLimits,
    /// The log's topics, for LRU eviction of producer state across partitions
    /// (weak: the topics own the partitions, which own this).
    topics: std::sync::Weak<Topics>,
    /// The next producer id to hand out; ids below it are issued.
    next_producer_id: AtomicU64,
    /// The consumer groups (their registry is shared with the housekeeper).
    pub(crate) groups: std::sync::Arc<Groups>,
}

impl LogShared {
    pub(crate) fn is_issued(&self, producer_id: ProducerId) -> bool {
        // Relaxed: the id reached the caller through whatever synchronisation
        // carried it from `init_producer_id`, which makes that fetch_add visible.
        producer_id.0 < self.next_producer_id.load(Ordering::Relaxed)
    }

    /// Frees the segment memory pooled by every partition but `except` (which
    /// needs the budget's room).
    pub(crate) fn release_pooled_segments(&self, except: &Partition) {
        let Some(topics) = self.topics.upgrade() else {
            return;
        };
        topics
            .all_partitions()
            .iter()
            .filter(|partition| !std::ptr::eq(partition.as_ref(), except))
            .for_each(|partition| partition.storage.release_pooled());
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

impl Topic {
    /// What a topic named `name` costs beside its partitions (each of which
    /// counts its own place in the list): its block, its name (shared by the
    /// partitions) and its entry in the topics map (key and slot). Charged
    /// with the partitions (I10).
    fn footprint(name: &str) -> u64 {
        arc_block_bytes::<Self>() + named_entry_bytes(name)
    }
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
        // The smallest useful log: a one-partition topic (named with one
        // byte) and its first segment, as `create_topic` and the first append
        // charge them (I10). A smaller budget would refuse that append.
        let smallest = config
            .segment_footprint()
            .saturating_add(Partition::footprint(config.max_segments))
            .saturating_add(Topic::footprint("t"));
        if config.memory_budget < smallest {
            return Err(LogError::InvalidConfig {
                setting: "memory_budget",
                reason: format!(
                    "{} bytes cannot hold one partition and its first segment ({smallest} bytes)",
                    config.memory_budget
                ),
            });
        }
        Ok(Self::build(config))
    }

    fn build(config: LogConfig) -> Self {
        let topics = std::sync::Arc::new(Topics(ConcurrentMap::new()));
        let budget = std::sync::Arc::new(Budget::new(config.memory_budget));
        let groups = std::sync::Arc::new(Groups::new(std::sync::Arc::clone(&budget)));
        let housekeeper = config.housekeeping.map(|interval| {
            std::sync::Arc::new(Housekeeper::start(
                std::sync::Arc::downgrade(&topics),
                std::sync::Arc::clone(&groups),
                config.offsets_retention_ms,
                std::sync::Arc::new(config.clock.clone()),
                interval,
            ))
        });
        Self {
            shared: Arc::new(LogShared {
                max_batch_records: config.max_batch_len(),
                clock: config.clock.clone(),
                _ticker: matches!(config.clock, EngineClock::Coarse).then(TickerLease::acquire),
                budget,
                producer_limits: ProducerLimits::new(
                    config.max_producer_states,
                    ProducerState::footprint(config.dedup_window) as u64,
                ),
                topics: std::sync::Arc::downgrade(&topics),
                config,
                next_producer_id: AtomicU64::new(0),
                groups,
            }),
            topics,
            _housekeeper: housekeeper,
        }
    }

    /// The log's clock, in milliseconds (what group liveness is measured by).
    pub(crate) fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// The consumer groups' coordinators.
    pub(crate) fn groups(&self) -> &Groups {
        &self.shared.groups
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
        config.retention.validate()?;
        // Each partition (its directory and fixed structures) and the topic's
        // own structures and name are charged to the budget before they are
        // allocated: a topic too large for it is refused, not an abort (I10).
        let topic_bytes = u64::from(config.partitions)
            .saturating_mul(Partition::footprint(self.shared.config.max_segments))
            .saturating_add(Topic::footprint(name));
        if self.topics.0.get(&name.to_string()).is_some() {
            return Err(LogError::TopicAlreadyExists {
                topic: name.to_string(),
            });
        }
        self.shared.budget.try_charge(topic_bytes)?;
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
            self.shared.budget.release(topic_bytes);
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
            .get(name)
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
            .map(|partition| PartitionHandle::new(Arc::clone(partition)))
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
    /// Bytes charged: segments (pooled ones included), partitions (directories
    /// and fixed structures), producer states, and consumer groups and their
    /// committed offsets.
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
