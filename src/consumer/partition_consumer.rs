//! [`Consumer`]: one partition read in offset order, non-blocking or blocking,
//! owned or borrowed (zero-copy) records.

use std::task::Waker;
use std::time::Duration;

use crate::consumer::receive::Receive;
use crate::consumer::view::{owned_record, owned_records, RecordView};
use crate::consumer::visit::VisitFlow;
use crate::error::LogError;
use crate::log::{Cursor, Log, Partition, PartitionHandle, Readiness};
use crate::record::ConsumerRecord;

/// Reads one partition in offset order from a position it keeps: the log-level
/// reader (errors are [`LogError`]s). For many partitions, consumer groups, a
/// `wakeup` from another thread or async, use a
/// [`MultiConsumer`](crate::consumer::MultiConsumer).
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
/// // Iterators: `try_iter` reads until caught up, `iter` blocks for more.
/// consumer.seek_to_beginning();
/// let values: Vec<_> = consumer.try_iter().map(|r| r.unwrap().value).collect();
/// assert_eq!(values, ["a", "b"]);
/// ```
#[derive(Clone)]
pub struct Consumer {
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
    pub(crate) fn new(partition: PartitionHandle) -> Self {
        let position = partition.log_start_offset();
        Self {
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

    /// Moves the position (checked on the next poll: outside
    /// `log_start..=log_end` it answers `OffsetOutOfRange`; at the log end, a
    /// blocking poll waits for the next record).
    pub fn seek(&mut self, offset: u64) {
        self.position = offset;
    }

    /// Moves the position to the log start.
    pub fn seek_to_beginning(&mut self) {
        self.position = self.partition.log_start_offset();
    }

    /// Moves the position to the log end: the next poll reads only what is
    /// appended after this call.
    pub fn seek_to_end(&mut self) {
        self.position = self.partition.log_end_offset();
    }

    /// How far the position is behind the high watermark (Kafka's consumer lag):
    /// the records readable now that this consumer has not read.
    pub fn lag(&self) -> u64 {
        self.partition
            .high_watermark()
            .saturating_sub(self.position)
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
    /// copy, no reference counting); returns how many. `visit` returns `()` to
    /// read on or a [`ControlFlow`](std::ops::ControlFlow) to stop early
    /// ([`VisitFlow`]). Never blocks, and runs `visit` with no lock held and no
    /// reclamation epoch pinned: a slow visitor keeps only the segment it reads
    /// from being recycled.
    /// Below the log start: `OffsetOutOfRange` (seek to recover).
    pub fn poll_with<F: VisitFlow>(
        &mut self,
        max: usize,
        visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, LogError> {
        self.poll_with_stop(max, visit).map(|(read, _)| read)
    }

    /// [`Consumer::poll_with`], also saying whether `visit` stopped the poll (a
    /// multi-partition poll then stops too). `visit` gets each view straight
    /// from here: a wrapper closure around it would move every view once more.
    pub(crate) fn poll_with_stop<F: VisitFlow>(
        &mut self,
        max: usize,
        mut visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<(usize, bool), LogError> {
        let index = self.partition.index();
        let (partition, cursor) = self.located()?;
        let topic = &partition.topic;
        let mut stopped = false;
        let read = partition.storage.read(cursor, max, |record| {
            if visit(RecordView::new(record, topic, index)).is_break() {
                stopped = true;
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        if read == 0 {
            // Nothing read: perhaps the segment was evicted under us (the head
            // moves before the cell is freed, I7), which is OffsetOutOfRange.
            self.check_in_range()?;
        }
        self.position += read as u64;
        Ok((read, stopped))
    }

    /// Like [`Consumer::poll_with`], but waits up to `timeout` for the first
    /// record (zero-copy blocking read). A waiting consumer is woken by the append
    /// that publishes its record; appenders pay one load when no one waits.
    /// Returns 0 if the timeout passed first.
    pub fn poll_with_timeout<F: VisitFlow>(
        &mut self,
        max: usize,
        timeout: Duration,
        mut visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, LogError> {
        let read = self.poll_with(max, &mut visit)?;
        if read != 0 || max == 0 || !self.wait(timeout)? {
            return Ok(read);
        }
        self.poll_with(max, visit)
    }

    /// Waits up to `timeout` until the position is readable; returns whether it is.
    fn wait(&mut self, timeout: Duration) -> Result<bool, LogError> {
        let (partition, cursor) = self.located()?;
        Ok(partition
            .wakeup
            .wait_published(&partition.storage, cursor, timeout))
    }

    /// Up to `max` readable records, owned (payloads shared, not copied). Never blocks.
    pub fn poll(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, LogError> {
        owned_records(|visit| self.poll_with(max, visit))
    }

    /// Like [`Consumer::poll`], but waits up to `timeout` for the first record.
    pub fn poll_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<ConsumerRecord>, LogError> {
        owned_records(|visit| self.poll_with_timeout(max, timeout, visit))
    }

    /// The next record, owned, if one is readable now.
    pub fn try_recv(&mut self) -> Result<Option<ConsumerRecord>, LogError> {
        owned_record(|visit| self.poll_with(1, visit))
    }

    /// The next record, owned, waiting up to `timeout` for it (`None` if the
    /// timeout passed first).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ConsumerRecord>, LogError> {
        owned_record(|visit| self.poll_with_timeout(1, timeout, visit))
    }

    /// A blocking iterator of owned records: waits for each next record. It
    /// yields an error once and then ends (`OffsetOutOfRange`: seek to recover).
    pub fn iter(&mut self) -> crate::consumer::Iter<'_, Self> {
        crate::consumer::Iter::new(self)
    }

    /// An iterator of the records readable now: ends when caught up.
    pub fn try_iter(&mut self) -> crate::consumer::TryIter<'_, Self> {
        crate::consumer::TryIter::new(self)
    }

    /// Stores the position as `group`'s committed offset.
    pub fn commit(&self, group: &str) -> Result<(), LogError> {
        self.partition.commit_offset(group, self.position)
    }

    /// Registers `waker` to be woken by the next append here, re-checking the
    /// position after registering (I6).
    pub(crate) fn register(&mut self, waker: &Waker) -> Result<Readiness, LogError> {
        let (partition, cursor) = self.located()?;
        Ok(partition.wakeup.register(waker, &partition.storage, cursor))
    }

    /// Removes `waker`'s registration here, if an append has not taken it.
    pub(crate) fn deregister(&self, waker: &Waker) {
        self.partition.inner().wakeup.deregister(waker);
    }
}

impl Receive for Consumer {
    type Error = LogError;

    fn try_recv(&mut self) -> Result<Option<ConsumerRecord>, LogError> {
        Consumer::try_recv(self)
    }

    fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ConsumerRecord>, LogError> {
        Consumer::recv_timeout(self, timeout)
    }
}

impl<'a> IntoIterator for &'a mut Consumer {
    type Item = Result<ConsumerRecord, LogError>;
    type IntoIter = crate::consumer::Iter<'a, Consumer>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Log {
    /// A consumer of one partition, positioned at its log start.
    pub fn consumer(&self, topic: &str, partition: u32) -> Result<Consumer, LogError> {
        Ok(Consumer::new(self.partition(topic, partition)?))
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
    /// A consumer positioned at the log start. Its commits go to this
    /// partition's own log.
    pub fn consumer(&self) -> Consumer {
        Consumer::new(self.clone())
    }
}
