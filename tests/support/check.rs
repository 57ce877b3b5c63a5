//! Differential checking: apply one [`Op`] to a real [`Log`] and to the
//! [`Model`], and describe any disagreement.
//!
//! The operation vocabulary is small raw numbers (so fuzzers and proptest
//! strategies can produce it directly) that the [`Harness`] resolves against
//! what it has sent so far: "the next sequence", "a retry of the k-th most
//! recent batch", "a retry re-split at another boundary", "an epoch bump", ...
//! Every resolved operation goes to both sides with identical arguments; after
//! every operation the harness also compares the whole observable state (topics,
//! offsets, every record, every producer's dedup state, state entry counts).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use idemlog::{
    BatchHeader, ConsumerRecord, Log, LogConfig, LogError, ManualClock, ProducerId, Record,
    RetentionPolicy, TopicConfig,
};

use super::model::{next_sequence, sequence_plus, Model, ModelConfig};

/// Topic names ops refer to by index (`index % 5`); the last one is invalid.
pub(crate) const TOPIC_NAMES: [&str; 5] = ["t0", "t1", "t2", "t3", ""];

/// The clock reading both sides start at.
pub(crate) const START_MS: i64 = 1_000_000;

/// Producer ids ops refer to: `ProducerId(producer % PRODUCER_IDS)`; ids not yet
/// issued are rejected as unknown.
pub(crate) const PRODUCER_IDS: u8 = 8;

/// Partitions ops refer to: `partition % PARTITIONS` (topics have 1..=3).
pub(crate) const PARTITIONS: u8 = 4;

/// Retention limits in small numbers (`None`: no limit of that kind).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RetentionSpec {
    /// `max_records`.
    pub(crate) max_records: Option<u8>,
    /// `max_bytes`.
    pub(crate) max_bytes: Option<u8>,
    /// `max_age` in milliseconds.
    pub(crate) max_age_ms: Option<u16>,
}

impl RetentionSpec {
    /// The policy this describes.
    pub(crate) fn policy(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_records: self.max_records.map(u64::from),
            max_bytes: self.max_bytes.map(u64::from),
            max_age_ms: self.max_age_ms.map(i64::from),
        }
    }
}

/// A topic created when the harness starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    /// Partitions: `1 + partitions % 3`.
    pub(crate) partitions: u8,
    /// Retention of each partition.
    pub(crate) retention: RetentionSpec,
}

/// The log configuration in small raw numbers; every value maps to a valid
/// configuration (see each field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HarnessConfig {
    /// Dedup window W = `1 + window % 8`.
    pub(crate) window: u8,
    /// `segment_bytes = 128 << (segment_shift % 4)`: 128, 256, 512 or 1024.
    pub(crate) segment_shift: u8,
    /// `max_segments = 2 << (segments_shift % 4)`: 2, 4, 8 or 16.
    pub(crate) segments_shift: u8,
    /// `max_batch_records = 1 + max_batch % 12`.
    pub(crate) max_batch: u8,
    /// `producer_id_expiration = 1 + expiration_ms` milliseconds.
    pub(crate) expiration_ms: u16,
    /// Topics created up front as "t0", "t1", ... (at most 4).
    pub(crate) topics: Vec<TopicSpec>,
}

impl HarnessConfig {
    fn model_config(&self) -> ModelConfig {
        let segment_bytes = 128usize << (self.segment_shift % 4);
        let max_segments = 2usize << (self.segments_shift % 4);
        ModelConfig {
            dedup_window: 1 + usize::from(self.window % 8),
            max_batch_records: 1 + usize::from(self.max_batch) % 12,
            producer_id_expiration_ms: 1 + i64::from(self.expiration_ms),
            segment_bytes,
            max_segments,
            start_ms: START_MS,
        }
    }
}

/// Which epoch an idempotent batch carries, relative to the last epoch this
/// producer used successfully on the partition (0 if none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EpochSpec {
    /// The current epoch.
    Current,
    /// Current + `1 + n % 3`.
    Bump(u8),
    /// Current - `1 + n % 3` (saturating at 0).
    Lower(u16),
    /// This exact epoch (may exceed 32767).
    Exact(u16),
}

/// Which sequence an idempotent batch carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SequenceSpec {
    /// The sequence after the producer's last accepted batch here (0 if none or
    /// if the epoch differs from that batch's).
    Next(EpochSpec),
    /// A retry of the `back % len`-th most recent accepted batch (same epoch,
    /// base sequence and record count; new payload). Without history: `Next(Current)`.
    Retry {
        /// How far back.
        back: u8,
    },
    /// A retry re-split at another boundary: same epoch, base moved `skip % n`
    /// records into the original batch, record count from the op.
    ReSplit {
        /// How far back.
        back: u8,
        /// Records skipped into the original batch.
        skip: u8,
    },
    /// Exactly this base sequence (may be negative).
    Exact(EpochSpec, i32),
    /// `i32::MAX - below % 8`, to exercise the wrap.
    NearMax(EpochSpec, u8),
}

/// A batch: plain, or idempotent for a producer id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchSpec {
    /// No producer: never deduplicated.
    Plain,
    /// Idempotent batch of `ProducerId(producer % PRODUCER_IDS)`.
    Idempotent {
        /// The producer id index.
        producer: u8,
        /// Its sequence.
        sequence: SequenceSpec,
    },
}

/// Records of a batch: `count % (max_batch_records + 2)` of them (so empty and
/// oversized batches happen), contents derived from `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordsSpec {
    /// Record count (see the type docs).
    pub(crate) count: u8,
    /// Payload seed: sizes 0..=4 bytes, some records keyed.
    pub(crate) seed: u8,
}

/// Where a read starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    /// Log start + n (past the end is out of range).
    Start(u8),
    /// Log start - 1 - n (out of range unless saturating at 0).
    BeforeStart(u8),
    /// Log end - n (saturating at 0).
    End(u8),
    /// This exact offset.
    Raw(u16),
}

/// One operation on the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `init_producer_id`.
    InitProducerId,
    /// `create_topic_with(TOPIC_NAMES[name % 5], 1 + partitions % 3 (0 if 255), retention)`.
    CreateTopic {
        /// Name index.
        name: u8,
        /// Partition count (see above).
        partitions: u8,
        /// Retention.
        retention: RetentionSpec,
    },
    /// An append.
    Append {
        /// Topic index.
        topic: u8,
        /// Partition (`% PARTITIONS`).
        partition: u8,
        /// Plain or idempotent.
        batch: BatchSpec,
        /// The records.
        records: RecordsSpec,
    },
    /// Moves the clock forward by `ms`.
    AdvanceClock {
        /// Milliseconds.
        ms: u16,
    },
    /// `expire_producers`.
    ExpireProducers,
    /// Retention on one partition.
    EnforceRetention {
        /// Topic index.
        topic: u8,
        /// Partition.
        partition: u8,
    },
    /// `Log::enforce_retention` (all partitions).
    EnforceRetentionAll,
    /// A consumer read: seek, then poll up to `max` (255: unlimited).
    Read {
        /// Topic index.
        topic: u8,
        /// Partition.
        partition: u8,
        /// Start offset.
        from: ReadFrom,
        /// Most records.
        max: u8,
    },
}

/// A disagreement between the real log and the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Disagreement {
    /// Index of the op in the sequence.
    pub(crate) step: usize,
    /// The op, and what the harness resolved it to.
    pub(crate) op: String,
    /// What differed: `<what>: model (expected) ..., real log ...`.
    pub(crate) detail: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}: {}", self.step, self.op, self.detail)
    }
}

impl std::error::Error for Disagreement {}

/// An accepted idempotent batch, as the "client" remembers it.
#[derive(Clone, Copy, Debug)]
struct Sent {
    epoch: u16,
    base_sequence: i32,
    count: u64,
}

/// A real log and the model, driven in lockstep.
#[derive(Debug)]
pub(crate) struct Harness {
    log: Log,
    clock: Arc<ManualClock>,
    model: Model,
    /// Accepted (non-duplicate) idempotent batches per (topic, partition, pid).
    history: HashMap<(String, u32, ProducerId), Vec<Sent>>,
    outcomes: BTreeMap<String, u64>,
    step: usize,
}

fn compare<T: PartialEq + fmt::Debug>(what: &str, model: &T, real: &T) -> Result<(), String> {
    compare_at(|| what.to_string(), model, real)
}

/// Like `compare`, naming what differed only when it did (keeps the fuzzer fast).
fn compare_at<T: PartialEq + fmt::Debug>(
    what: impl FnOnce() -> String,
    model: &T,
    real: &T,
) -> Result<(), String> {
    if model == real {
        Ok(())
    } else {
        Err(format!(
            "{}: model (expected) {model:?}, real log {real:?}",
            what()
        ))
    }
}

fn make_records(count: usize, seed: u8) -> Vec<Record> {
    (0..count)
        .map(|index| {
            let x = seed.wrapping_add(index as u8);
            let value = vec![x; usize::from(x % 5)];
            if x % 3 == 0 {
                Record::with_key(vec![index as u8], value)
            } else {
                Record::new(value)
            }
        })
        .collect()
}

fn topic_name(index: u8) -> &'static str {
    TOPIC_NAMES[usize::from(index) % TOPIC_NAMES.len()]
}

impl Harness {
    /// A fresh log and model with `config`, its topics created on both.
    pub(crate) fn new(config: &HarnessConfig) -> Result<Self, Disagreement> {
        let model_config = config.model_config();
        let clock = Arc::new(ManualClock::new(START_MS));
        let setup = |detail: String| Disagreement {
            step: 0,
            op: format!("setup {config:?}"),
            detail,
        };
        let log = Log::with_config(
            LogConfig::default()
                .dedup_window(model_config.dedup_window)
                .max_batch_records(model_config.max_batch_records)
                .producer_id_expiration(Duration::from_millis(
                    model_config.producer_id_expiration_ms as u64,
                ))
                .segment_bytes(model_config.segment_bytes)
                .max_segments(model_config.max_segments)
                // The model sweeps only when told to: no background housekeeper.
                .housekeeping(None)
                .clock(clock.clone()),
        )
        .map_err(|error| setup(format!("real log config rejected: {error}")))?;
        let model = Model::new(model_config)
            .map_err(|error| setup(format!("model config rejected: {error}")))?;
        let mut harness = Self {
            log,
            clock,
            model,
            history: HashMap::new(),
            outcomes: BTreeMap::new(),
            step: 0,
        };
        for (index, topic) in config.topics.iter().take(4).enumerate() {
            let op = Op::CreateTopic {
                name: index as u8,
                partitions: topic.partitions % 3,
                retention: topic.retention.clone(),
            };
            harness.apply(&op)?;
        }
        Ok(harness)
    }

    /// Runs `ops` on a fresh harness; the first disagreement, if any.
    pub(crate) fn run(config: &HarnessConfig, ops: &[Op]) -> Result<(), Disagreement> {
        let mut harness = Self::new(config)?;
        ops.iter().try_for_each(|op| harness.apply(op))
    }

    /// How many appends ended in each way so far ("appended", "duplicate", or
    /// the error variant's name): to see what a run exercised.
    pub(crate) fn outcomes(&self) -> &BTreeMap<String, u64> {
        &self.outcomes
    }

    /// The real log under test.
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// The model.
    pub(crate) fn model(&self) -> &Model {
        &self.model
    }

    /// Applies `op` to both sides, compares the answers, then compares the whole
    /// observable state.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), Disagreement> {
        let step = self.step;
        self.step += 1;
        let mut resolved = String::new();
        let result = self
            .apply_op(op, &mut resolved)
            .and_then(|()| self.compare_state());
        result.map_err(|detail| Disagreement {
            step,
            op: if resolved.is_empty() {
                format!("{op:?}")
            } else {
                format!("{op:?} resolved as {resolved}")
            },
            detail,
        })
    }

    fn apply_op(&mut self, op: &Op, resolved: &mut String) -> Result<(), String> {
        match op {
            Op::InitProducerId => {
                let model = self.model.init_producer_id();
                let real = self.log.init_producer_id();
                compare("init_producer_id", &model, &real)
            }
            Op::CreateTopic {
                name,
                partitions,
                retention,
            } => {
                let partitions = if *partitions == u8::MAX {
                    0
                } else {
                    1 + u32::from(*partitions % 3)
                };
                let config = TopicConfig::new(partitions).retention(retention.policy());
                let name = topic_name(*name);
                *resolved = format!("create_topic_with({name:?}, {config:?})");
                let model = self.model.create_topic(name, config.clone());
                let real = self.log.create_topic_with(name, config);
                compare("create_topic", &model, &real)
            }
            Op::Append {
                topic,
                partition,
                batch,
                records,
            } => self.append(
                topic_name(*topic),
                u32::from(*partition % PARTITIONS),
                batch,
                records,
                resolved,
            ),
            Op::AdvanceClock { ms } => {
                self.model.advance_clock(i64::from(*ms));
                self.clock.advance_ms(i64::from(*ms));
                Ok(())
            }
            Op::ExpireProducers => {
                let model = self.model.expire_producers();
                let real = self.log.expire_producers();
                compare("expire_producers", &model, &real)
            }
            Op::EnforceRetention { topic, partition } => {
                let topic = topic_name(*topic);
                let partition = u32::from(*partition % PARTITIONS);
                let model = self.model.enforce_retention(topic, partition);
                let real = self
                    .log
                    .partition(topic, partition)
                    .map(|handle| handle.enforce_retention());
                compare("enforce_retention", &model, &real)
            }
            Op::EnforceRetentionAll => {
                let model = self.model.enforce_retention_all();
                let real = self.log.enforce_retention();
                compare("Log::enforce_retention", &model, &real)
            }
            Op::Read {
                topic,
                partition,
                from,
                max,
            } => {
                let topic = topic_name(*topic);
                let partition = u32::from(*partition % PARTITIONS);
                let start = self.model.log_start_offset(topic, partition).unwrap_or(0);
                let end = self.model.log_end_offset(topic, partition).unwrap_or(0);
                let from = match *from {
                    ReadFrom::Start(n) => start + u64::from(n),
                    ReadFrom::BeforeStart(n) => start.saturating_sub(1 + u64::from(n)),
                    ReadFrom::End(n) => end.saturating_sub(u64::from(n)),
                    ReadFrom::Raw(n) => u64::from(n),
                };
                let max = if *max == u8::MAX {
                    usize::MAX
                } else {
                    usize::from(*max)
                };
                *resolved = format!("read({topic:?}, {partition}, from {from}, max {max})");
                let model = self.model.read(topic, partition, from, max);
                let real = self.read_real(topic, partition, from, max);
                compare("read", &model, &real)
            }
        }
    }

    fn read_real(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>, LogError> {
        let mut consumer = self.log.consumer(topic, partition)?;
        consumer.seek(from);
        consumer.poll(max)
    }

    /// The epoch `spec` names for a producer whose last accepted epoch is `current`.
    fn epoch(spec: EpochSpec, current: u16) -> u16 {
        match spec {
            EpochSpec::Current => current,
            EpochSpec::Bump(n) => current.saturating_add(1 + u16::from(n % 3)),
            EpochSpec::Lower(n) => current.saturating_sub(1 + n % 3),
            EpochSpec::Exact(epoch) => epoch,
        }
    }

    fn append(
        &mut self,
        topic: &str,
        partition: u32,
        batch: &BatchSpec,
        records: &RecordsSpec,
        resolved: &mut String,
    ) -> Result<(), String> {
        let max_batch = self.model.config().max_batch_records;
        let mut count = usize::from(records.count) % (max_batch + 2);
        let header = match *batch {
            BatchSpec::Plain => None,
            BatchSpec::Idempotent { producer, sequence } => {
                let producer_id = ProducerId(u64::from(producer % PRODUCER_IDS));
                let key = (topic.to_string(), partition, producer_id);
                let history = self.history.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                let last = history.last().copied();
                let current = last.map_or(0, |sent| sent.epoch);
                let next = |epoch: u16| match last {
                    Some(sent) if sent.epoch == epoch => {
                        next_sequence(sequence_plus(sent.base_sequence, sent.count - 1))
                    }
                    _ => 0,
                };
                let pick = |back: u8| {
                    (!history.is_empty())
                        .then(|| history[history.len() - 1 - usize::from(back) % history.len()])
                };
                let (epoch, base_sequence) = match sequence {
                    SequenceSpec::Next(epoch) => {
                        let epoch = Self::epoch(epoch, current);
                        (epoch, next(epoch))
                    }
                    SequenceSpec::Retry { back } => match pick(back) {
                        Some(sent) => {
                            count = sent.count as usize;
                            (sent.epoch, sent.base_sequence)
                        }
                        None => (current, next(current)),
                    },
                    SequenceSpec::ReSplit { back, skip } => match pick(back) {
                        Some(sent) => (
                            sent.epoch,
                            sequence_plus(sent.base_sequence, u64::from(skip) % sent.count),
                        ),
                        None => (current, next(current)),
                    },
                    SequenceSpec::Exact(epoch, base) => (Self::epoch(epoch, current), base),
                    SequenceSpec::NearMax(epoch, below) => {
                        (Self::epoch(epoch, current), i32::MAX - i32::from(below % 8))
                    }
                };
                Some(BatchHeader {
                    producer_id,
                    epoch,
                    base_sequence,
                })
            }
        };
        let batch_records = make_records(count, records.seed);
        *resolved = format!(
            "append({topic:?}, {partition}, {header:?}, {count} records, clock {})",
            self.model.now_ms()
        );
        let problems = self.model.malformed(header.as_ref(), &batch_records);
        let model = self
            .model
            .append(topic, partition, header, batch_records.clone());
        let mut real = self.log.append(topic, partition, header, batch_records);
        // Rule 1 does not order its problems: any one that applies will do.
        if let (Err(expected), Err(got)) = (&model, &real) {
            if problems.contains(expected) && problems.contains(got) {
                real = model.clone();
            }
        }
        resolved.push_str(&format!(" -> {model:?}"));
        let label = match &model {
            Ok(outcome) if outcome.duplicate => "duplicate".to_string(),
            Ok(_) => "appended".to_string(),
            Err(error) => format!("{error:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        *self.outcomes.entry(label).or_default() += 1;
        compare("append", &model, &real)?;
        if let (Ok(outcome), Some(header)) = (&model, header) {
            if !outcome.duplicate {
                self.history
                    .entry((topic.to_string(), partition, header.producer_id))
                    .or_default()
                    .push(Sent {
                        epoch: header.epoch,
                        base_sequence: header.base_sequence,
                        count: outcome.record_count,
                    });
            }
        }
        Ok(())
    }

    /// Compares everything observable: topics, partition offsets, every record,
    /// every issued producer's state on every partition, state entry counts.
    pub(crate) fn compare_state(&self) -> Result<(), String> {
        compare("topics()", &self.model.topics(), &self.log.topics())?;
        for topic in self.model.topics() {
            let partitions = self.model.partition_count(&topic);
            compare_at(
                || format!("partition_count({topic:?})"),
                &partitions,
                &self.log.partition_count(&topic),
            )?;
            for partition in 0..partitions.unwrap_or(0) {
                let handle = self
                    .log
                    .partition(&topic, partition)
                    .map_err(|error| format!("real log lost {topic}-{partition}: {error}"))?;
                let start = self.model.log_start_offset(&topic, partition);
                let end = self.model.log_end_offset(&topic, partition);
                let at = || format!("{topic}-{partition}");
                compare_at(
                    || format!("log_start_offset of {}", at()),
                    &start,
                    &Ok(handle.log_start_offset()),
                )?;
                compare_at(
                    || format!("log_end_offset of {}", at()),
                    &end,
                    &Ok(handle.log_end_offset()),
                )?;
                compare_at(
                    || format!("high_watermark of {}", at()),
                    &end,
                    &Ok(handle.high_watermark()),
                )?;
                let from = start.clone().unwrap_or(0);
                compare_at(
                    || format!("contents of {}", at()),
                    &self.model.read(&topic, partition, from, usize::MAX),
                    &self.read_real(&topic, partition, from, usize::MAX),
                )?;
                for id in 0..self.model.issued_producer_ids() {
                    let producer_id = ProducerId(id);
                    compare_at(
                        || format!("producer_state({producer_id}) on {}", at()),
                        &self.model.producer_state(&topic, partition, producer_id),
                        &Ok(handle.producer_state(producer_id)),
                    )?;
                }
            }
        }
        let entries = self.model.producer_state_entries();
        compare(
            "producer_state_stats().entries",
            &entries,
            &self.log.producer_state_stats().entries,
        )
    }
}
