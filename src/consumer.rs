//! Reading a partition by offset: non-blocking and blocking polls, owned or
//! borrowed (zero-copy) records, committed offsets per consumer group.

use std::time::Duration;

use crate::error::LogError;
use crate::log::{Log, PartitionHandle};
use crate::record::{ConsumerRecord, RecordView};

/// Reads one partition in offset order from a position it keeps.
///
/// ```
/// use idemlog::{Log, Record};
/// use std::time::Duration;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// log.append("t", 0, None, [Record::new("a"), Record::new("b")]).unwrap();
/// let mut consumer = log.consumer("t", 0).unwrap();
/// // Zero-copy: the callback borrows each record from the log.
/// let mut total = 0;
/// consumer.poll_with(10, |record| total += record.value.len()).unwrap();
/// assert_eq!((total, consumer.position()), (2, 2));
/// // Nothing more: a blocking poll times out empty.
/// assert!(consumer.poll_timeout(10, Duration::from_millis(1)).unwrap().is_empty());
/// consumer.commit("group-a").unwrap();
/// assert_eq!(log.consumer_for_group("group-a", "t", 0).unwrap().position(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Consumer {
    log: Log,
    partition: PartitionHandle,
    position: u64,
}

impl Consumer {
    pub(crate) fn new(log: Log, partition: PartitionHandle) -> Self {
        let position = partition.log_start_offset();
        Self {
            log,
            partition,
            position,
        }
    }

    /// The partition read.
    pub fn partition(&self) -> &PartitionHandle {
        &self.partition
    }

    /// The next offset to read.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves the position (checked on the next poll).
    pub fn seek(&mut self, offset: u64) {
        self.position = offset;
    }

    /// Moves the position to the log start.
    pub fn seek_to_beginning(&mut self) {
        self.position = self.partition.log_start_offset();
    }

    /// Hands up to `max` readable records to `visit`, borrowed from the log (no
    /// copy, no reference counting); returns how many. Never blocks.
    /// Below the log start: `OffsetOutOfRange` (seek to recover).
    pub fn poll_with(
        &mut self,
        max: usize,
        visit: impl FnMut(RecordView<'_>),
    ) -> Result<usize, LogError> {
        let next = self
            .partition
            .inner()
            .storage
            .read(self.position, max, visit)?;
        let read = (next - self.position) as usize;
        self.position = next;
        Ok(read)
    }

    /// Up to `max` readable records, owned (payloads shared, not copied). Never blocks.
    pub fn poll(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, LogError> {
        let mut records = Vec::new();
        self.poll_with(max, |view| records.push(view.to_owned()))?;
        Ok(records)
    }

    /// Like [`Consumer::poll`], but waits up to `timeout` for the first record.
    /// A waiting consumer is woken by the append that publishes its record;
    /// appenders pay nothing when no one waits.
    pub fn poll_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<ConsumerRecord>, LogError> {
        let records = self.poll(max)?;
        if !records.is_empty() || max == 0 {
            return Ok(records);
        }
        let partition = self.partition.inner();
        if partition
            .wakeup
            .wait_published(&partition.storage, self.position, timeout)
        {
            self.poll(max)
        } else {
            Ok(records)
        }
    }

    /// Stores the position as `group`'s committed offset.
    pub fn commit(&self, group: &str) -> Result<(), LogError> {
        self.log.commit_offset(
            group,
            self.partition.topic(),
            self.partition.index(),
            self.position,
        )
    }
}
