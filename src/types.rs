//! Identifiers and per-batch producer fields shared by the log, the producer
//! client and the records, and the ONE sequence-wrap arithmetic.

use std::fmt;

/// The highest producer epoch (Kafka's `Short.MAX_VALUE`).
pub const MAX_EPOCH: u16 = i16::MAX as u16;

/// A producer id, unique for the life of the log and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProducerId(pub u64);

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the producer-id handshake hands out: a fresh id at epoch 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerIdentity {
    /// The id.
    pub producer_id: ProducerId,
    /// The epoch (0 from the handshake; producers bump it locally).
    pub epoch: u16,
}

/// The producer fields of an idempotent batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// The producer id (from [`Log::init_producer_id`](crate::Log::init_producer_id)).
    pub producer_id: ProducerId,
    /// The producer epoch, 0..=32767.
    pub epoch: u16,
    /// Sequence of the first record; the batch covers `base .. base + n - 1`
    /// (wrapping from i32::MAX to 0).
    pub base_sequence: i32,
}

/// `sequence + delta` with Kafka's wrap from i32::MAX to 0.
#[inline]
pub(crate) fn sequence_add(sequence: i32, delta: u64) -> i32 {
    // Modulo 2^31, computed modulo 2^32 and masked: 2^31 divides 2^32.
    ((sequence as u32).wrapping_add(delta as u32) & i32::MAX as u32) as i32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The header of producer 1's batch with `epoch` and `base_sequence`.
    pub(crate) fn header(epoch: u16, base_sequence: i32) -> BatchHeader {
        BatchHeader {
            producer_id: ProducerId(1),
            epoch,
            base_sequence,
        }
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(sequence_add(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(sequence_add(i32::MAX, 1), 0);
        assert_eq!(sequence_add(i32::MAX - 1, 3), 1);
        assert_eq!(sequence_add(5, 0), 5);
    }
}

/// One partition of a topic, as consumers assign, own and commit them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: std::sync::Arc<str>,
    /// The partition index.
    pub partition: u32,
}

impl TopicPartition {
    /// `topic`'s partition `partition`.
    pub fn new(topic: &str, partition: u32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
