//! Handles on one partition: [`PartitionHandle`] (appends, reads, state without
//! topic lookups) and [`ProducerAppender`] (one producer's appends, its dedup
//! state cached).

use std::fmt;

use crate::error::LogError;
use crate::log::producer_state::CachedState;
use crate::log::{AppendOutcome, Partition, ProducerStateSnapshot, RetentionReport};
use crate::record::IntoRecords;
use crate::sync::Arc;
use crate::types::{BatchHeader, ProducerId};

/// A handle on one partition: appends, reads and state without topic lookups.
#[derive(Clone)]
pub struct PartitionHandle {
    partition: Arc<Partition>,
}

impl PartitionHandle {
    pub(crate) fn new(partition: Arc<Partition>) -> Self {
        Self { partition }
    }
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
    #[inline]
    pub fn append(
        &self,
        header: Option<BatchHeader>,
        records: impl IntoRecords,
    ) -> Result<AppendOutcome, LogError> {
        match header {
            Some(header) => self.partition.append_one_shot(header, &records),
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
            state: CachedState::leasing(),
        })
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
    state: CachedState,
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
    #[inline]
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
