//! Committed offsets of consumer groups: the next offset each group reads on
//! each partition.

use crate::error::LogError;
use crate::log::Log;
use crate::sync::ConcurrentMap;

/// (group, topic, partition) -> the group's next offset to read.
#[derive(Debug)]
pub(crate) struct GroupOffsets(ConcurrentMap<(String, String, u32), u64>);

impl Default for GroupOffsets {
    fn default() -> Self {
        Self(ConcurrentMap::new())
    }
}

impl GroupOffsets {
    fn commit(&self, group: &str, topic: &str, partition: u32, offset: u64) {
        self.0
            .insert((group.to_string(), topic.to_string(), partition), offset);
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        self.0
            .get(&(group.to_string(), topic.to_string(), partition))
    }
}

impl Log {
    /// Stores `group`'s next offset to read on a partition.
    pub fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), LogError> {
        self.partition(topic, partition)?;
        self.shared
            .group_offsets
            .commit(group, topic, partition, offset);
        Ok(())
    }

    /// `group`'s committed offset on a partition, if any.
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
        self.partition(topic, partition)?;
        Ok(self.shared.group_offsets.committed(group, topic, partition))
    }
}
