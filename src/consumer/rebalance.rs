//! What a group member's rebalance listener is told
//! ([`MultiConsumer::on_rebalance`](super::MultiConsumer::on_rebalance)):
//! partitions assigned, revoked (with a chance to commit), or lost.

use std::fmt;

use crate::consumer::membership::known;
use crate::consumer_error::ConsumerError;
use crate::types::TopicPartition;

/// A change of a group member's partitions, handed to its rebalance listener on
/// the polling thread, inside a poll (Kafka's `ConsumerRebalanceListener`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Rebalance<'a> {
    /// The member owns these partitions from now on (after any revocation of
    /// the same poll).
    Assigned(&'a [TopicPartition]),
    /// The member gives these partitions up: commit what was processed now
    /// ([`Revocation::commit`]); when the listener returns, the member stops
    /// reading them and another member reads them from the committed offsets.
    Revoked(&'a Revocation<'a>),
    /// The member was removed from the group (it did not poll within
    /// `max.poll.interval.ms`) and these partitions already belong to others: a
    /// commit would fail, and their uncommitted records are read again there.
    Lost(&'a [TopicPartition]),
}

/// Commits offsets of partitions the member still owns: the backend's commit.
/// In process it is the group's `commit_owned` for this member; a closure, so
/// that the Kafka backend (issue 11) can hand its own synchronous commit.
pub(crate) type CommitOwned<'a> = &'a dyn Fn(&[(TopicPartition, u64)]) -> Result<(), ConsumerError>;

/// Partitions being revoked, still owned while the listener runs.
pub struct Revocation<'a> {
    pub(crate) partitions: &'a [TopicPartition],
    /// The member's position on each, in the same order.
    pub(crate) positions: &'a [Option<u64>],
    pub(crate) commit: CommitOwned<'a>,
}

impl fmt::Debug for Revocation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("partitions", &self.partitions)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

impl Revocation<'_> {
    /// The partitions revoked.
    pub fn partitions(&self) -> &[TopicPartition] {
        self.partitions
    }

    /// The member's position on a revoked partition (`None` if it is not one of
    /// them, or has no position).
    pub fn position(&self, partition: &TopicPartition) -> Option<u64> {
        let index = self.partitions.iter().position(|p| p == partition)?;
        self.positions[index]
    }

    /// Commits the member's positions on the revoked partitions.
    pub fn commit(&self) -> Result<(), ConsumerError> {
        (self.commit)(&known(self.partitions, self.positions))
    }

    /// Commits chosen offsets of revoked partitions (the next offset to read on
    /// each, as Kafka commits), each at most its log end
    /// ([`ConsumerError::OffsetOutOfRange`] otherwise, as
    /// [`MultiConsumer::commit_offsets`](super::MultiConsumer::commit_offsets)).
    pub fn commit_offsets(&self, offsets: &[(TopicPartition, u64)]) -> Result<(), ConsumerError> {
        if let Some((partition, _)) = offsets.iter().find(|(p, _)| !self.partitions.contains(p)) {
            return Err(ConsumerError::NotAssigned {
                partition: partition.clone(),
            });
        }
        (self.commit)(offsets)
    }
}
