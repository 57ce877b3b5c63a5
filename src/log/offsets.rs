//! Committed offsets of consumer groups by name ([`Log::commit_offset`],
//! [`Log::committed`]): the next offset each group reads on each partition,
//! kept by the group's coordinator.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::LogError;
use crate::log::{Log, PartitionHandle};
use crate::types::TopicPartition;

impl Log {
    /// Stores `group`'s next offset to read on a partition, with no membership
    /// check (an administrative commit; a group member commits through its
    /// [`MultiConsumer`](crate::consumer::MultiConsumer)).
    pub fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), LogError> {
        self.partition(topic, partition)?
            .commit_offset(group, offset)
    }

    /// `group`'s committed offset on a partition, if any (`None` for a group
    /// that never committed).
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
        check_group_id(group)?;
        let partition = self.topic_partition(topic, partition)?;
        Ok(self
            .shared
            .groups
            .get(group)
            .and_then(|group| group.committed(&partition)))
    }

    /// The partition as a [`TopicPartition`], sharing the log's topic name.
    pub(crate) fn topic_partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<TopicPartition, LogError> {
        let handle = self.partition(topic, partition)?;
        Ok(TopicPartition {
            topic: Arc::clone(&handle.inner().topic),
            partition,
        })
    }
}

impl PartitionHandle {
    /// Stores `group`'s next offset to read here, in this partition's own log
    /// (what [`Log::commit_offset`] and [`Consumer::commit`](crate::Consumer::commit) do).
    pub(crate) fn commit_offset(&self, group: &str, offset: u64) -> Result<(), LogError> {
        check_group_id(group)?;
        let partition = self.inner();
        let committed = TopicPartition {
            topic: Arc::clone(&partition.topic),
            partition: partition.index,
        };
        partition.shared.groups.commit(
            group,
            &[(committed, offset)],
            partition.shared.clock.now_ms(),
        )
    }
}

/// A group id is not empty or blank, as `ConsumerConfig` requires of
/// `group.id`: no member could ever read what such a one committed.
fn check_group_id(group: &str) -> Result<(), LogError> {
    if group.trim().is_empty() {
        return Err(LogError::InvalidConfig {
            setting: "group.id",
            reason: format!("'{group}': a group id is not empty or blank"),
        });
    }
    Ok(())
}
