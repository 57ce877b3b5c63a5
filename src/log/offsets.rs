//! Committed offsets of consumer groups by name ([`Log::commit_offset`],
//! [`Log::committed`]): the next offset each group reads on each partition,
//! kept by the group's coordinator.

use std::sync::Arc;

use crate::error::LogError;
use crate::log::Log;
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
        let partition = self.topic_partition(topic, partition)?;
        self.shared
            .groups
            .get_or_create(group)
            .commit(partition, offset);
        Ok(())
    }

    /// `group`'s committed offset on a partition, if any (`None` for a group
    /// that never committed).
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
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
