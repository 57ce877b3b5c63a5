//! [`ConsumerError`]: what a [`MultiConsumer`](crate::consumer::MultiConsumer)
//! and the group coordinator answer.

use std::fmt;
use std::sync::Arc;

use crate::error::LogError;
use crate::types::TopicPartition;

/// An error of a [`MultiConsumer`](crate::consumer::MultiConsumer): bad input,
/// a position the reset policy cannot resolve, a group membership that ended, or
/// an interrupted wait.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerError {
    /// What the log answered (an unknown topic or partition, ...).
    Log(LogError),
    /// An offset outside a partition's records: a poll's position there with
    /// `auto.offset.reset` = `none` (seek to recover), or an offset handed to
    /// `seek` or to a commit past the partition's log end.
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The position.
        offset: u64,
        /// The first offset still held.
        log_start: u64,
        /// The next offset to be written.
        log_end: u64,
    },
    /// The partition has no committed offset and `auto.offset.reset` is `none`
    /// (Kafka's `NoOffsetForPartitionException`): seek it to read it.
    NoOffset {
        /// The partition.
        partition: TopicPartition,
    },
    /// A blocking read (or a pending async wait, feature `async`) was
    /// interrupted by [`WakeupHandle::wakeup`](crate::consumer::WakeupHandle::wakeup)
    /// (Kafka's `WakeupException`). The consumer is unchanged.
    Woken,
    /// The partition is not assigned to this consumer.
    NotAssigned {
        /// The partition.
        partition: TopicPartition,
    },
    /// `assign` of a partition this consumer holds already.
    AlreadyAssigned {
        /// The partition.
        partition: TopicPartition,
    },
    /// A poll of a consumer with nothing assigned and no subscription (Kafka's
    /// "not subscribed to any topics or assigned any partitions").
    NoAssignment,
    /// `subscribe` with an empty topic list.
    EmptySubscription,
    /// `assign` on a group member (its partitions are the group's to assign),
    /// or a group operation on a consumer that is not a member.
    NotSubscribed,
    /// A group operation with no `group.id` configured.
    NoGroupId,
    /// The member was removed from its group: it did not poll within
    /// `max.poll.interval.ms`, so its partitions went to other members, which
    /// read them from the last committed offsets (the records it read and did not
    /// commit are read again there). Its next poll joins the group again.
    MemberExpired {
        /// The group.
        group: Arc<str>,
    },
    /// A commit of a partition the group no longer assigns to this member
    /// (Kafka's `CommitFailedException`): another member owns it now.
    NotOwner {
        /// The group.
        group: Arc<str>,
        /// The partition.
        partition: TopicPartition,
    },
    /// A member asked for an assignor other than the one the group uses
    /// (Kafka's `INCONSISTENT_GROUP_PROTOCOL`).
    InconsistentAssignor {
        /// The group.
        group: Arc<str>,
        /// The group's assignor.
        group_uses: &'static str,
        /// The one asked for.
        requested: &'static str,
    },
    /// A configuration key or value is not accepted.
    Config {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The Kafka backend: librdkafka or the cluster refused the operation.
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka_error::KafkaError),
    /// An operation this backend does not offer (the Kafka backend has no
    /// async `readable`/`stream`, for one); `reason` says what to use instead.
    #[cfg(feature = "kafka")]
    Unsupported {
        /// The operation.
        operation: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log(error) => error.fmt(f),
            Self::OffsetOutOfRange {
                partition,
                offset,
                log_start,
                log_end,
            } => write!(
                f,
                "offset {offset} of {partition} is out of range: it holds \
                 {log_start}..{log_end}"
            ),
            Self::NoOffset { partition } => write!(
                f,
                "{partition} has no committed offset and auto.offset.reset is none: seek it"
            ),
            Self::Woken => write!(f, "the wait was interrupted by wakeup()"),
            Self::NotAssigned { partition } => {
                write!(f, "{partition} is not assigned to this consumer")
            }
            Self::AlreadyAssigned { partition } => {
                write!(f, "{partition} is assigned to this consumer already")
            }
            Self::NoAssignment => write!(
                f,
                "this consumer has no partition assigned and no subscription"
            ),
            Self::EmptySubscription => write!(f, "a subscription needs at least one topic"),
            Self::NotSubscribed => write!(
                f,
                "a group member's partitions are assigned by its group (assign is for \
                 consumers that are not members; group operations need subscribe)"
            ),
            Self::NoGroupId => write!(f, "this needs a group.id in the consumer's config"),
            Self::MemberExpired { group } => write!(
                f,
                "removed from group '{group}': no poll within max.poll.interval.ms, so its \
                 partitions went to other members (the next poll joins again)"
            ),
            Self::NotOwner { group, partition } => write!(
                f,
                "commit failed: group '{group}' assigns {partition} to another member now"
            ),
            Self::InconsistentAssignor {
                group,
                group_uses,
                requested,
            } => write!(
                f,
                "group '{group}' uses the {group_uses} assignor; this member asked for {requested}"
            ),
            Self::Config { key, reason } => write!(f, "invalid consumer config '{key}': {reason}"),
            #[cfg(feature = "kafka")]
            Self::Kafka(error) => write!(f, "Kafka: {error}"),
            #[cfg(feature = "kafka")]
            Self::Unsupported { operation, reason } => {
                write!(f, "{operation} is not supported by this backend: {reason}")
            }
        }
    }
}

impl std::error::Error for ConsumerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Log(error) => Some(error),
            #[cfg(feature = "kafka")]
            Self::Kafka(error) => Some(error),
            _ => None,
        }
    }
}

impl From<LogError> for ConsumerError {
    fn from(error: LogError) -> Self {
        Self::Log(error)
    }
}
