//! [`PartitionLag`]: how far a consumer is behind on one partition.

use crate::types::TopicPartition;

/// How far a consumer is behind on one assigned partition
/// ([`MultiConsumer::lag`](super::MultiConsumer::lag)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// The end of its readable records.
    pub high_watermark: u64,
    /// The consumer's position (`None` while it has none: `auto.offset.reset=none`
    /// and nothing committed).
    pub position: Option<u64>,
    /// The group's committed offset, if the consumer has a `group.id` and the
    /// group committed one.
    pub committed: Option<u64>,
}

impl PartitionLag {
    /// Records readable and not yet read by this consumer (Kafka's consumer lag):
    /// the high watermark minus the position.
    pub fn lag(&self) -> Option<u64> {
        self.position
            .map(|position| self.high_watermark.saturating_sub(position))
    }

    /// Records readable and not yet committed by the group: the high watermark
    /// minus the committed offset.
    pub fn committed_lag(&self) -> Option<u64> {
        self.committed
            .map(|committed| self.high_watermark.saturating_sub(committed))
    }
}
