//! Reading a partition by offset: non-blocking and blocking polls, owned or
//! borrowed (zero-copy) records, committed offsets per consumer group.

use std::time::Duration;

use crate::error::LogError;
use crate::log::{Cursor, Log, Partition, PartitionHandle};
mod view;

pub use view::RecordView;

use crate::record::ConsumerRecord;

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
#[derive(Clone)]
pub struct Consumer {
    log: Log,
    partition: PartitionHandle,
    position: u64,
    /// Where `position` is in the partition's segments (kept between polls so a
    /// sequential read never searches; holds at most the segment it stands in).
    cursor: Option<Cursor>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("partition", &self.partition)
            .field("position", &self.position)
            .finish()
    }
}

impl Consumer {
    pub(crate) fn new(log: Log, partition: PartitionHandle) -> Self {
        let position = partition.log_start_offset();
        Self {
            log,
            partition,
            position,
            cursor: None,
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

    /// OffsetOutOfRange if the position is below the log start.
    fn check_in_range(&self) -> Result<(), LogError> {
        let storage = &self.partition.inner().storage;
        let log_start = storage.log_start();
        if self.position < log_start {
            return Err(LogError::OffsetOutOfRange {
                offset: self.position,
                log_start,
                log_end: storage.log_end(),
            });
        }
        Ok(())
    }

    /// Places the cursor at the position, (re)locating it if the position moved;
    /// returns the partition and the cursor (borrowed field by field,
    /// so a poll costs no reference-count traffic on the handle).
    fn located(&mut self) -> Result<(&Partition, &mut Cursor), LogError> {
        // Evicted since the last poll (or a seek below the start)?
        self.check_in_range()?;
        let partition = self.partition.inner();
        let stale = self
            .cursor
            .as_ref()
            .is_none_or(|cursor| cursor.offset() != self.position);
        if stale {
            self.cursor = Some(partition.storage.cursor_at(self.position)?);
        }
        Ok((partition, self.cursor.as_mut().expect("set above")))
    }

    /// Hands up to `max` readable records to `visit`, borrowed from the log (no
    /// copy, no reference counting); returns how many. Never blocks, and runs
    /// `visit` with no lock held and no reclamation epoch pinned: a slow visitor
    /// keeps only the segment it reads from being recycled.
    /// Below the log start: `OffsetOutOfRange` (seek to recover).
    pub fn poll_with(
        &mut self,
        max: usize,
        mut visit: impl FnMut(RecordView<'_>),
    ) -> Result<usize, LogError> {
        let (partition, cursor) = self.located()?;
        let read = partition.storage.read(cursor, max, |record| {
            visit(RecordView::new(record));
            std::ops::ControlFlow::Continue(())
        })?;
        if read == 0 {
            // Nothing read: perhaps the segment was evicted under us (the head
            // moves before the cell is freed, I7), which is OffsetOutOfRange.
            self.check_in_range()?;
        }
        self.position += read as u64;
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
        let (partition, cursor) = self.located()?;
        if partition
            .wakeup
            .wait_published(&partition.storage, cursor, timeout)
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

impl Log {
    /// A consumer of one partition, positioned at its log start.
    pub fn consumer(&self, topic: &str, partition: u32) -> Result<Consumer, LogError> {
        Ok(Consumer::new(
            self.clone(),
            self.partition(topic, partition)?,
        ))
    }

    /// A consumer positioned at `group`'s committed offset (or the log start).
    pub fn consumer_for_group(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<Consumer, LogError> {
        let mut consumer = self.consumer(topic, partition)?;
        if let Some(offset) = self.committed(group, topic, partition)? {
            consumer.seek(offset);
        }
        Ok(consumer)
    }
}

impl PartitionHandle {
    /// A consumer positioned at the log start.
    pub fn consumer(&self, log: &Log) -> Consumer {
        Consumer::new(log.clone(), self.clone())
    }
}
