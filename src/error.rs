//! Errors of the log (broker side). Every public entry point returns one of these
//! for bad input; nothing reachable from the public API panics on input.
//!
//! The producer client has its own error types in [`crate::producer`].

use std::fmt;

use crate::types::ProducerId;

/// An error answered by the [`Log`](crate::Log): bad input, a broker rule that
/// rejected a batch, or a read outside the partition.
///
/// A rejected append changes nothing at all: no record, no offset, no producer state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogError {
    /// No topic of that name exists.
    UnknownTopic {
        /// The name that was asked for.
        topic: String,
    },
    /// The topic exists but has no such partition.
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition that was asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// `create_topic` with a name that is already taken.
    TopicAlreadyExists {
        /// The name.
        topic: String,
    },
    /// A configuration value is out of range (names the setting).
    InvalidConfig {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A batch with no records.
    EmptyBatch,
    /// A batch with more records than the log's `max_batch_records`.
    BatchTooLarge {
        /// Records in the batch.
        records: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A negative base sequence.
    InvalidSequence {
        /// The base sequence that was sent.
        base_sequence: i32,
    },
    /// An epoch outside 0..=32767 (Kafka's non-negative i16 range).
    InvalidEpoch {
        /// The epoch that was sent.
        epoch: u16,
    },
    /// A producer id this log never issued (`init_producer_id`).
    UnknownProducerId {
        /// The id that was sent.
        producer_id: ProducerId,
    },
    /// Kafka's `OutOfOrderSequenceException`: the batch does not follow the last
    /// committed sequence of this producer on this partition.
    OutOfOrderSequence {
        /// The sequence the partition expected next.
        expected: i32,
        /// The base sequence of the rejected batch.
        got: i32,
    },
    /// Kafka's `InvalidProducerEpoch`: the producer is fenced by a newer epoch.
    InvalidProducerEpoch {
        /// The partition's current epoch for this producer.
        current: u16,
        /// The (older) epoch of the rejected batch.
        got: u16,
    },
    /// The broker could not take the batch now and wrote nothing (Kafka's
    /// retriable errors, such as `NOT_ENOUGH_REPLICAS`). The in-process log
    /// never answers it; the simulated link injects it
    /// ([`Fault::RetriableError`](crate::producer::sim::Fault::RetriableError)).
    Unavailable,
    /// The partition holds as many live records as its segment directory can
    /// address; retention must evict segments (or `max_segments` be raised).
    PartitionFull {
        /// Live segments.
        live_segments: u64,
        /// The most segments a partition holds (`LogConfig::max_segments`).
        max_segments: u64,
    },
    /// The log's memory budget has no room for what an append or a new topic
    /// needs, even after retention ran: configure retention, a larger
    /// `LogConfig::memory_budget`, or consume and let retention evict.
    LogFull {
        /// Bytes that were asked for.
        requested: u64,
        /// Bytes charged when they were.
        used: u64,
        /// The budget.
        budget: u64,
    },
    /// The log holds `LogConfig::max_producer_states` producer states and none
    /// of them is idle enough to evict (every one is mid-append).
    ProducerStateFull {
        /// The cap.
        cap: usize,
    },
    /// A batch whose bytes (record headers, keys and values) do not fit one
    /// segment.
    BatchBytesTooLarge {
        /// The batch's record bytes.
        bytes: usize,
        /// The most a segment holds (`LogConfig::segment_bytes` less the batch header).
        max: usize,
    },
    /// A read outside `log_start..=log_end`.
    OffsetOutOfRange {
        /// The offset that was asked for.
        offset: u64,
        /// The first offset still held (retention moves it).
        log_start: u64,
        /// The next offset to be written.
        log_end: u64,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTopic { topic } => write!(f, "unknown topic '{topic}'"),
            Self::UnknownPartition {
                topic,
                partition,
                partitions,
            } => write!(
                f,
                "topic '{topic}' has no partition {partition} (it has {partitions}: 0..{partitions})"
            ),
            Self::TopicAlreadyExists { topic } => write!(f, "topic '{topic}' already exists"),
            Self::InvalidConfig { setting, reason } => {
                write!(f, "invalid configuration '{setting}': {reason}")
            }
            Self::EmptyBatch => write!(f, "a batch must hold at least one record"),
            Self::BatchTooLarge { records, max } => write!(
                f,
                "batch of {records} records is larger than max_batch_records = {max}"
            ),
            Self::InvalidSequence { base_sequence } => write!(
                f,
                "base sequence {base_sequence} is negative (sequences run 0..=2147483647)"
            ),
            Self::InvalidEpoch { epoch } => {
                write!(f, "producer epoch {epoch} is outside 0..=32767")
            }
            Self::UnknownProducerId { producer_id } => write!(
                f,
                "producer id {producer_id} was never issued by this log (call init_producer_id)"
            ),
            Self::OutOfOrderSequence { expected, got } => write!(
                f,
                "out of order sequence: expected {expected}, got {got}"
            ),
            Self::InvalidProducerEpoch { current, got } => write!(
                f,
                "producer fenced: epoch {got} is older than the partition's current epoch {current}"
            ),
            Self::Unavailable => write!(
                f,
                "the broker could not take the batch now (retriable; nothing was written)"
            ),
            Self::PartitionFull {
                live_segments,
                max_segments,
            } => write!(
                f,
                "partition full: {live_segments} of {max_segments} segments live \
                 (retriable: retention evicts only segments below the high watermark, \
                 which a batch still being written holds back); configure retention \
                 or a larger max_segments"
            ),
            Self::LogFull {
                requested,
                used,
                budget,
            } => write!(
                f,
                "log full: {requested} more bytes needed, {used} of the {budget}-byte memory \
                 budget in use (by segments, partitions, producer state and consumer groups: \
                 retention frees segments no held record pins, expiry frees idle producer \
                 state, offsets_retention idle groups); configure retention, a shorter \
                 producer_id_expiration or a larger memory_budget"
            ),
            Self::ProducerStateFull { cap } => write!(
                f,
                "producer state full: {cap} (partition, producer) states and none idle to \
                 evict; configure a larger max_producer_states"
            ),
            Self::BatchBytesTooLarge { bytes, max } => write!(
                f,
                "batch of {bytes} record bytes does not fit a segment ({max} bytes); \
                 send smaller batches or configure larger segment_bytes"
            ),
            Self::OffsetOutOfRange {
                offset,
                log_start,
                log_end,
            } => write!(
                f,
                "offset {offset} is out of range: the partition holds {log_start}..{log_end}"
            ),
        }
    }
}

impl std::error::Error for LogError {}

impl LogError {
    /// True for the two sequence/epoch rejections a producer resolves by retrying
    /// or bumping its epoch (as opposed to bad input).
    pub fn is_sequence_error(&self) -> bool {
        matches!(
            self,
            Self::OutOfOrderSequence { .. } | Self::InvalidProducerEpoch { .. }
        )
    }

    /// True for a refusal that may pass later with the same batch, nothing
    /// written (the broker is unavailable, or the memory budget or the
    /// partition is full until retention or housekeeping frees room): a
    /// producer retries it after its backoff.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable | Self::LogFull { .. } | Self::PartitionFull { .. }
        )
    }
}
