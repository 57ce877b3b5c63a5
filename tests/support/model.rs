//! A plain, sequential reference model of the broker side of the contract
//! (`idemlog::contract`).
//!
//! [`Model`] answers every broker call the way the contract says the
//! [`Log`](idemlog::Log) must, with the same types (`Result<AppendOutcome, LogError>`
//! and friends), but written for reading rather than speed: `Vec`s, `VecDeque`s and
//! `HashMap`s, one thread, no atomics, no `unsafe`, and the broker rules as one `if`
//! chain in the order the contract lists them. It uses only idemlog's public API.
//!
//! Besides the contract, the model reproduces two behaviours of the real log that
//! the contract leaves to the implementation, so the two can be compared exactly:
//! - **segments**: batches are packed into segments of `segment_bytes` (a batch
//!   takes the units the log's batch layout gives it, and a segment holds at most
//!   `segment_bytes / 64` batches); a batch that does not fit opens the next
//!   segment; a partition holds at most `max_segments` segments and answers
//!   `PartitionFull` beyond that (checked after the broker rules, so a duplicate
//!   is still answered when the partition is full), after running retention once;
//! - **automatic retention**: when an appended batch opens a segment and the
//!   partition has a retention limit, retention runs right after the append
//!   (never evicting the segment being written), exactly as
//!   [`PartitionHandle::enforce_retention`](idemlog::PartitionHandle::enforce_retention)
//!   would.
//!
//! [`check`](super::check) applies the same operations to a real log and to the
//! model and reports the first disagreement; the fuzz target and the proptest both
//! use it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;

use idemlog::{
    AppendOutcome, BatchHeader, BatchMetadata, ConsumerRecord, LogConfig, LogError, ProducerId,
    ProducerIdentity, ProducerMetadata, ProducerStateSnapshot, Record, RetentionPolicy,
    RetentionReport, TopicConfig, MAX_EPOCH,
};

/// Sequences run 0..=i32::MAX and then wrap to 0: there are 2^31 of them.
const SEQUENCE_COUNT: u64 = 1 << 31;

/// The sequence after `sequence` (i32::MAX is followed by 0).
pub(crate) fn next_sequence(sequence: i32) -> i32 {
    if sequence == i32::MAX {
        0
    } else {
        sequence + 1
    }
}

/// The sequence `delta` records after `sequence`, wrapping from i32::MAX to 0.
/// `sequence` must be non-negative.
pub(crate) fn sequence_plus(sequence: i32, delta: u64) -> i32 {
    let wrapped = (sequence.max(0) as u64 + delta % SEQUENCE_COUNT) % SEQUENCE_COUNT;
    wrapped as i32
}

/// Settings of a [`Model`], with the meaning of the matching
/// [`LogConfig`] setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModelConfig {
    /// Batches remembered per (partition, producer) for dedup (W).
    pub(crate) dedup_window: usize,
    /// Largest batch, in records.
    pub(crate) max_batch_records: usize,
    /// Producer state idle this long (or longer) is gone.
    pub(crate) producer_id_expiration_ms: i64,
    /// Bytes per segment (a power of two).
    pub(crate) segment_bytes: usize,
    /// Segments a partition can address (a power of two >= 2).
    pub(crate) max_segments: usize,
    /// The clock's reading when the model starts.
    pub(crate) start_ms: i64,
}

impl Default for ModelConfig {
    /// The defaults of `LogConfig`, with the clock at 0.
    fn default() -> Self {
        Self {
            dedup_window: 5,
            max_batch_records: 65_536,
            producer_id_expiration_ms: 86_400_000,
            segment_bytes: 1 << 20,
            max_segments: 256,
            start_ms: 0,
        }
    }
}

impl ModelConfig {
    fn segment_units(&self) -> u64 {
        (self.segment_bytes / 8) as u64
    }

    fn segment_batches(&self) -> u64 {
        self.log_config().batches_per_segment() as u64
    }

    /// The configuration checks of `Log::with_config` (not the model's subject:
    /// it reuses them rather than restating them).
    fn validate(&self) -> Result<(), LogError> {
        self.log_config().validate()
    }

    /// The `LogConfig` with these settings.
    fn log_config(&self) -> LogConfig {
        LogConfig::default()
            .dedup_window(self.dedup_window)
            .max_batch_records(self.max_batch_records)
            .producer_id_expiration(std::time::Duration::from_millis(
                u64::try_from(self.producer_id_expiration_ms).unwrap_or(0),
            ))
            .segment_bytes(self.segment_bytes)
            .max_segments(self.max_segments)
    }
}

/// 8-byte units a batch with `record_bytes` of records takes (the layout
/// `LogConfig::batch_bytes` documents: a 40-byte header, rounded up to 8).
fn batch_units(record_bytes: usize) -> u64 {
    (LogConfig::BATCH_HEADER_BYTES as u64)
        .saturating_add(record_bytes as u64)
        .div_ceil(8)
}

/// One record as the model keeps it.
#[derive(Clone, Debug)]
struct StoredRecord {
    timestamp_ms: i64,
    key: Option<Bytes>,
    value: Bytes,
    producer: Option<ProducerMetadata>,
}

/// The dedup state of one producer on one partition.
#[derive(Clone, Debug)]
struct ProducerEntry {
    epoch: u16,
    last_sequence: i32,
    last_append_ms: i64,
    /// The last W batches, oldest first.
    window: VecDeque<BatchMetadata>,
}

/// What the model keeps of one segment.
#[derive(Clone, Debug, Default)]
struct SegmentModel {
    records: u64,
    units: u64,
    batches: u64,
    payload_bytes: u64,
    max_timestamp_ms: i64,
}

/// One partition: its live records and its producers' dedup state.
#[derive(Clone, Debug)]
struct PartitionModel {
    retention: RetentionPolicy,
    /// Offset of `records[0]`.
    log_start: u64,
    /// The live records, in offset order.
    records: VecDeque<StoredRecord>,
    /// The live segments, oldest first; the last one is being written.
    segments: VecDeque<SegmentModel>,
    /// Producer state; an entry may be expired but not yet swept.
    producers: HashMap<ProducerId, ProducerEntry>,
}

impl PartitionModel {
    fn new(retention: RetentionPolicy) -> Self {
        Self {
            retention,
            log_start: 0,
            records: VecDeque::new(),
            segments: VecDeque::new(),
            producers: HashMap::new(),
        }
    }

    fn log_end(&self) -> u64 {
        self.log_start + self.records.len() as u64
    }

    /// The producer's state if it has one that has not expired at `now_ms`.
    fn live_state(
        &self,
        producer_id: ProducerId,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Option<&ProducerEntry> {
        self.producers
            .get(&producer_id)
            .filter(|state| !is_expired(state, now_ms, expiration_ms))
    }

    /// Kafka's retention rule, one whole segment at a time from the head: the
    /// oldest segment goes if it is complete (not the one being written: the
    /// high-watermark scan has passed it) and any limit says so.
    fn enforce_retention(&mut self, now_ms: i64) -> RetentionReport {
        let mut report = RetentionReport::default();
        if !self.retention.is_limited() {
            return report;
        }
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let live_records = self.records.len() as u64;
            let live_bytes: u64 = self.segments.iter().map(|s| s.payload_bytes).sum();
            let by_records = self
                .retention
                .max_records
                .is_some_and(|max| live_records - oldest.records >= max);
            let by_bytes = self
                .retention
                .max_bytes
                .is_some_and(|max| live_bytes - oldest.payload_bytes >= max);
            let by_age = self
                .retention
                .max_age_ms
                .is_some_and(|max| now_ms.saturating_sub(oldest.max_timestamp_ms) > max);
            if !(by_records || by_bytes || by_age) {
                break;
            }
            let evicted = self.segments.pop_front().expect("more than one");
            self.records.drain(..evicted.records as usize);
            self.log_start += evicted.records;
            report.segments += 1;
            report.records += evicted.records;
        }
        report
    }
}

/// Expired: idle for at least the expiration time (the contract's boundary).
fn is_expired(state: &ProducerEntry, now_ms: i64, expiration_ms: i64) -> bool {
    now_ms.saturating_sub(state.last_append_ms) >= expiration_ms
}

/// The sequential reference model of the broker (see the module docs).
///
/// `model_answers_a_retry_and_a_gap` in `tests/model_regressions.rs` shows it
/// in use.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    config: ModelConfig,
    now_ms: i64,
    /// Producer ids below this one have been issued.
    next_producer_id: u64,
    topics: BTreeMap<String, Vec<PartitionModel>>,
}

impl Model {
    /// A model with `config`, validated like `Log::with_config`.
    pub(crate) fn new(config: ModelConfig) -> Result<Self, LogError> {
        config.validate()?;
        Ok(Self {
            now_ms: config.start_ms,
            config,
            next_producer_id: 0,
            topics: BTreeMap::new(),
        })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The model's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Moves the model's clock by `delta_ms` (saturating).
    pub(crate) fn advance_clock(&mut self, delta_ms: i64) {
        self.now_ms = self.now_ms.saturating_add(delta_ms);
    }

    /// Creates a topic (same checks and errors as `Log::create_topic_with`).
    pub(crate) fn create_topic(&mut self, name: &str, config: TopicConfig) -> Result<(), LogError> {
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
        if self.topics.contains_key(name) {
            return Err(LogError::TopicAlreadyExists {
                topic: name.to_string(),
            });
        }
        let partitions = (0..config.partitions)
            .map(|_| PartitionModel::new(config.retention.clone()))
            .collect();
        self.topics.insert(name.to_string(), partitions);
        Ok(())
    }

    /// Topic names, sorted.
    pub(crate) fn topics(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }

    /// Partition count of `topic`.
    pub(crate) fn partition_count(&self, topic: &str) -> Result<u32, LogError> {
        match self.topics.get(topic) {
            Some(partitions) => Ok(partitions.len() as u32),
            None => Err(LogError::UnknownTopic {
                topic: topic.to_string(),
            }),
        }
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<&PartitionModel, LogError> {
        let partitions = self
            .topics
            .get(topic)
            .ok_or_else(|| LogError::UnknownTopic {
                topic: topic.to_string(),
            })?;
        partitions
            .get(partition as usize)
            .ok_or_else(|| LogError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: partitions.len() as u32,
            })
    }

    fn partition_mut(
        &mut self,
        topic: &str,
        partition: u32,
    ) -> Result<&mut PartitionModel, LogError> {
        let partitions = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| LogError::UnknownTopic {
                topic: topic.to_string(),
            })?;
        let count = partitions.len() as u32;
        partitions
            .get_mut(partition as usize)
            .ok_or_else(|| LogError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: count,
            })
    }

    /// The producer-id handshake: ids 0, 1, 2, ... at epoch 0.
    pub(crate) fn init_producer_id(&mut self) -> ProducerIdentity {
        let producer_id = ProducerId(self.next_producer_id);
        self.next_producer_id += 1;
        ProducerIdentity {
            producer_id,
            epoch: 0,
        }
    }

    /// How many producer ids have been issued (ids `0..issued`).
    pub(crate) fn issued_producer_ids(&self) -> u64 {
        self.next_producer_id
    }

    /// Every rule-1 problem of a batch of `count` records with `header`, in the
    /// order [`Model::append`] reports them: empty, too large, negative base
    /// sequence, epoch above 32767, producer id never issued. Contract rule 1 does not
    /// order them, so when several apply the real log may name any one of them.
    pub(crate) fn malformed(
        &self,
        header: Option<&BatchHeader>,
        records: &[Record],
    ) -> Vec<LogError> {
        let mut problems = Vec::new();
        let count = records.len();
        if count == 0 {
            problems.push(LogError::EmptyBatch);
        }
        if count > self.config.max_batch_records {
            problems.push(LogError::BatchTooLarge {
                records: count,
                max: self.config.max_batch_records,
            });
        }
        let bytes = LogConfig::batch_bytes(records);
        if batch_units(bytes) > self.config.segment_units() {
            problems.push(LogError::BatchBytesTooLarge {
                bytes,
                max: self.config.segment_bytes - LogConfig::BATCH_HEADER_BYTES,
            });
        }
        if let Some(header) = header {
            if header.base_sequence < 0 {
                problems.push(LogError::InvalidSequence {
                    base_sequence: header.base_sequence,
                });
            }
            if header.epoch > MAX_EPOCH {
                problems.push(LogError::InvalidEpoch {
                    epoch: header.epoch,
                });
            }
            if header.producer_id.0 >= self.next_producer_id {
                problems.push(LogError::UnknownProducerId {
                    producer_id: header.producer_id,
                });
            }
        }
        problems
    }

    /// Appends one batch: idempotent with a header, plain without.
    ///
    /// Contract rules 1-5 (`idemlog::contract`), in order: malformed -> error; duplicate ->
    /// original offset and timestamp; lower epoch -> fenced; sequence checks;
    /// then (implementation limit) capacity; then commit.
    pub(crate) fn append(
        &mut self,
        topic: &str,
        partition: u32,
        header: Option<BatchHeader>,
        records: Vec<Record>,
    ) -> Result<AppendOutcome, LogError> {
        let now_ms = self.now_ms;
        let config = self.config.clone();
        self.partition(topic, partition)?;

        // Rule 1: malformed batches.
        if let Some(problem) = self.malformed(header.as_ref(), &records).into_iter().next() {
            return Err(problem);
        }
        let part = self.partition_mut(topic, partition)?;
        let count = records.len() as u64;
        // For an idempotent batch: whether to start a fresh window (new epoch or
        // no state), and the batch's last sequence.
        let mut reset_window = false;
        let mut last_sequence = 0;
        if let Some(header) = header {
            last_sequence = sequence_plus(header.base_sequence, count - 1);
            match part.live_state(header.producer_id, now_ms, config.producer_id_expiration_ms) {
                // Rule 4, no state (never, or expired): anything is accepted.
                None => reset_window = true,
                Some(state) => {
                    // Rule 2: duplicate of a batch in the window, same epoch.
                    if header.epoch == state.epoch {
                        let original = state.window.iter().find(|batch| {
                            batch.first_sequence == header.base_sequence
                                && batch.last_sequence == last_sequence
                        });
                        if let Some(original) = original {
                            return Ok(AppendOutcome {
                                base_offset: original.base_offset,
                                record_count: count,
                                timestamp_ms: original.timestamp_ms,
                                duplicate: true,
                            });
                        }
                    }
                    // Rule 3: fenced by a newer epoch.
                    if header.epoch < state.epoch {
                        return Err(LogError::InvalidProducerEpoch {
                            current: state.epoch,
                            got: header.epoch,
                        });
                    }
                    // Rule 4: sequence.
                    if header.epoch > state.epoch {
                        if header.base_sequence != 0 {
                            return Err(LogError::OutOfOrderSequence {
                                expected: 0,
                                got: header.base_sequence,
                            });
                        }
                        reset_window = true;
                    } else {
                        let expected = next_sequence(state.last_sequence);
                        if header.base_sequence != expected {
                            return Err(LogError::OutOfOrderSequence {
                                expected,
                                got: header.base_sequence,
                            });
                        }
                    }
                }
            }
        }

        // Room in the segment ring (an implementation limit): a batch that does
        // not fit the open segment opens the next one; a full ring runs
        // retention once, then answers PartitionFull.
        let units = batch_units(LogConfig::batch_bytes(&records));
        let fits = part.segments.back().is_some_and(|open| {
            open.units + units <= config.segment_units() && open.batches < config.segment_batches()
        });
        if !fits {
            if part.segments.len() >= config.max_segments {
                part.enforce_retention(now_ms);
            }
            if part.segments.len() >= config.max_segments {
                return Err(LogError::PartitionFull {
                    live_segments: config.max_segments as u64,
                    max_segments: config.max_segments as u64,
                });
            }
            part.segments.push_back(SegmentModel {
                max_timestamp_ms: i64::MIN,
                ..SegmentModel::default()
            });
        }
        let open = part.segments.back_mut().expect("opened above");
        open.records += count;
        open.units += units;
        open.batches += 1;
        open.payload_bytes += records.iter().map(|r| r.payload_len() as u64).sum::<u64>();
        open.max_timestamp_ms = open.max_timestamp_ms.max(now_ms);

        // Rule 5: commit.
        let base_offset = part.log_end();
        for (index, record) in records.into_iter().enumerate() {
            let producer = header.map(|header| ProducerMetadata {
                producer_id: header.producer_id,
                epoch: header.epoch,
                sequence: sequence_plus(header.base_sequence, index as u64),
            });
            part.records.push_back(StoredRecord {
                timestamp_ms: now_ms,
                key: record.key().cloned(),
                value: record.value().clone(),
                producer,
            });
        }
        if let Some(header) = header {
            let batch = BatchMetadata {
                first_sequence: header.base_sequence,
                last_sequence,
                base_offset,
                timestamp_ms: now_ms,
            };
            let state = part
                .producers
                .entry(header.producer_id)
                .or_insert_with(|| ProducerEntry {
                    epoch: header.epoch,
                    last_sequence,
                    last_append_ms: now_ms,
                    window: VecDeque::new(),
                });
            if reset_window {
                state.window.clear();
            }
            state.epoch = header.epoch;
            state.last_sequence = last_sequence;
            state.last_append_ms = now_ms;
            state.window.push_back(batch);
            while state.window.len() > config.dedup_window {
                state.window.pop_front();
            }
        }

        // The real log runs retention when a batch opens a new segment.
        if !fits {
            part.enforce_retention(now_ms);
        }

        Ok(AppendOutcome {
            base_offset,
            record_count: count,
            timestamp_ms: now_ms,
            duplicate: false,
        })
    }

    /// Up to `max` records from offset `from`; `OffsetOutOfRange` outside
    /// `log_start..=log_end`.
    pub(crate) fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>, LogError> {
        let part = self.partition(topic, partition)?;
        if from < part.log_start || from > part.log_end() {
            return Err(LogError::OffsetOutOfRange {
                offset: from,
                log_start: part.log_start,
                log_end: part.log_end(),
            });
        }
        let skip = (from - part.log_start) as usize;
        let records = part
            .records
            .iter()
            .enumerate()
            .skip(skip)
            .take(max)
            .map(|(index, record)| ConsumerRecord {
                topic: topic.into(),
                partition,
                offset: part.log_start + index as u64,
                timestamp_ms: record.timestamp_ms,
                key: record.key.clone(),
                value: record.value.clone(),
                producer: record.producer,
            })
            .collect();
        Ok(records)
    }

    /// The first offset still held.
    pub(crate) fn log_start_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Ok(self.partition(topic, partition)?.log_start)
    }

    /// The next offset to be assigned (also the high watermark: the model is sequential).
    pub(crate) fn log_end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Ok(self.partition(topic, partition)?.log_end())
    }

    /// The producer's live dedup state on a partition, if any (`None` once expired,
    /// swept or not).
    pub(crate) fn producer_state(
        &self,
        topic: &str,
        partition: u32,
        producer_id: ProducerId,
    ) -> Result<Option<ProducerStateSnapshot>, LogError> {
        let part = self.partition(topic, partition)?;
        let state = part.live_state(
            producer_id,
            self.now_ms,
            self.config.producer_id_expiration_ms,
        );
        Ok(state.map(|state| ProducerStateSnapshot {
            producer_id,
            epoch: state.epoch,
            last_sequence: state.last_sequence,
            last_append_ms: state.last_append_ms,
            window: state.window.iter().copied().collect(),
        }))
    }

    /// Runs retention on one partition now.
    pub(crate) fn enforce_retention(
        &mut self,
        topic: &str,
        partition: u32,
    ) -> Result<RetentionReport, LogError> {
        let now_ms = self.now_ms;
        Ok(self
            .partition_mut(topic, partition)?
            .enforce_retention(now_ms))
    }

    /// Runs retention on every partition; the totals.
    pub(crate) fn enforce_retention_all(&mut self) -> RetentionReport {
        let now_ms = self.now_ms;
        let mut total = RetentionReport::default();
        for part in self.topics.values_mut().flatten() {
            let report = part.enforce_retention(now_ms);
            total.segments += report.segments;
            total.records += report.records;
        }
        total
    }

    /// Drops producer state idle for the expiration time; returns how many
    /// (partition, producer) entries went.
    pub(crate) fn expire_producers(&mut self) -> usize {
        let now_ms = self.now_ms;
        let expiration_ms = self.config.producer_id_expiration_ms;
        let mut expired = 0;
        for part in self.topics.values_mut().flatten() {
            let before = part.producers.len();
            part.producers
                .retain(|_, state| !is_expired(state, now_ms, expiration_ms));
            expired += before - part.producers.len();
        }
        expired
    }

    /// (partition, producer) state entries held, expired-but-not-swept included.
    pub(crate) fn producer_state_entries(&self) -> usize {
        self.topics
            .values()
            .flatten()
            .map(|part| part.producers.len())
            .sum()
    }
}
