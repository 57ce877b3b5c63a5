//! [`LogConsumer`]: the in-process backend of a
//! [`MultiConsumer`](super::MultiConsumer), reading the [`Log`] itself: many
//! partitions, of one or more topics, assigned by hand or by a consumer group
//! (src/consumer/membership.rs), read in a fair order, blocking until any has
//! data, interruptible by a [`WakeupHandle`].

use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::consumer::commit_callbacks::CommitCallbacks;
use crate::consumer::config::{ConsumerConfig, OffsetReset};
use crate::consumer::lag::PartitionLag;
use crate::consumer::membership::Membership;
use crate::consumer::signal::{Signal, WakeupHandle};
use crate::consumer::view::RecordView;
use crate::consumer::visit::VisitFlow;
use crate::consumer::Consumer;
use crate::consumer_error::ConsumerError;
use crate::error::LogError;
use crate::log::{Log, Readiness};
use crate::sync::Backoff;
use crate::types::TopicPartition;

/// The in-process backend of a [`MultiConsumer`](super::MultiConsumer): its
/// partitions' readers, positions, parking spot and group membership.
pub(crate) struct LogConsumer {
    pub(super) log: Log,
    pub(super) config: ConsumerConfig,
    /// The assigned partitions, in assignment order.
    pub(super) slots: Vec<Slot>,
    /// Where the next poll starts, for fairness.
    next: usize,
    pub(super) signal: Arc<Signal>,
    /// Wakes `signal`: what a blocking poll registers on its partitions.
    pub(super) waker: Waker,
    /// Whether `waker` is registered on the partitions now.
    registered: bool,
    /// Group membership, for a consumer made by `Log::subscribe`.
    pub(super) membership: Option<Membership>,
    /// Commit callbacks waiting for the next poll, with their results.
    pub(super) commit_callbacks: CommitCallbacks,
    /// When auto commit last committed, in milliseconds of the log's clock.
    pub(super) last_auto_commit_ms: i64,
}

/// One assigned partition.
pub(super) struct Slot {
    pub(super) reader: Consumer,
    pub(super) partition: TopicPartition,
    /// No committed offset and `auto.offset.reset=none`: reading it is an error
    /// until a seek.
    pub(super) needs_offset: bool,
}

/// Printed as the public type it backs (`MultiConsumer { group, assignment }`).
impl std::fmt::Debug for LogConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiConsumer")
            .field("group", &self.config.group())
            .field("assignment", &self.assignment())
            .finish()
    }
}

impl LogConsumer {
    /// A consumer of `log` with nothing assigned ([`Log::multi_consumer`]).
    pub(super) fn new(log: &Log, config: ConsumerConfig) -> Result<Self, ConsumerError> {
        config.validate()?;
        let signal = Arc::new(Signal::default());
        Ok(LogConsumer {
            log: log.clone(),
            config,
            slots: Vec::new(),
            next: 0,
            waker: Waker::from(Arc::clone(&signal)),
            signal,
            registered: false,
            membership: None,
            commit_callbacks: CommitCallbacks::default(),
            last_auto_commit_ms: log.now_ms(),
        })
    }

    /// [`MultiConsumer::assign`](super::MultiConsumer::assign) in process.
    pub(super) fn assign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        if self.membership.is_some() {
            return Err(ConsumerError::NotSubscribed);
        }
        let partition = self.log.topic_partition(topic, partition)?;
        if self.slot_index(&partition).is_some() {
            return Err(ConsumerError::AlreadyAssigned { partition });
        }
        let committed = self.group_committed(&partition);
        self.add_slot(partition, committed)
    }

    /// [`MultiConsumer::assign_topic`](super::MultiConsumer::assign_topic) in process.
    pub(super) fn assign_topic(&mut self, topic: &str) -> Result<(), ConsumerError> {
        let count = self.log.partition_count(topic)?;
        // Every assigned partition of the topic is one of its `count`.
        if let Some(slot) = self
            .slots
            .iter()
            .find(|slot| *slot.partition.topic == *topic)
        {
            return Err(ConsumerError::AlreadyAssigned {
                partition: slot.partition.clone(),
            });
        }
        (0..count).try_for_each(|index| self.assign(topic, index))
    }

    /// [`MultiConsumer::unassign`](super::MultiConsumer::unassign) in process.
    pub(super) fn unassign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        if self.membership.is_some() {
            return Err(ConsumerError::NotSubscribed);
        }
        let index = self.assigned_index(topic, partition)?;
        self.remove_slot(index);
        Ok(())
    }

    /// [`MultiConsumer::assignment`](super::MultiConsumer::assignment) in process.
    pub(super) fn assignment(&self) -> Vec<TopicPartition> {
        self.slots
            .iter()
            .map(|slot| slot.partition.clone())
            .collect()
    }

    /// [`MultiConsumer::position`](super::MultiConsumer::position) in process.
    pub(super) fn position(&self, topic: &str, partition: u32) -> Result<u64, ConsumerError> {
        let slot = &self.slots[self.assigned_index(topic, partition)?];
        if slot.needs_offset {
            return Err(ConsumerError::NoOffset {
                partition: slot.partition.clone(),
            });
        }
        Ok(slot.reader.position())
    }

    /// [`MultiConsumer::seek`](super::MultiConsumer::seek) in process.
    pub(super) fn seek(
        &mut self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), ConsumerError> {
        let index = self.assigned_index(topic, partition)?;
        let slot = &mut self.slots[index];
        let handle = slot.reader.partition();
        let (log_start, log_end) = (handle.log_start_offset(), handle.log_end_offset());
        if !(log_start..=log_end).contains(&offset) {
            return Err(ConsumerError::OffsetOutOfRange {
                partition: slot.partition.clone(),
                offset,
                log_start,
                log_end,
            });
        }
        slot.reader.seek(offset);
        slot.needs_offset = false;
        Ok(())
    }

    /// [`MultiConsumer::seek_to_beginning`](super::MultiConsumer::seek_to_beginning) in process.
    pub(super) fn seek_to_beginning(&mut self) {
        for slot in &mut self.slots {
            slot.reader.seek_to_beginning();
            slot.needs_offset = false;
        }
    }

    /// [`MultiConsumer::seek_to_end`](super::MultiConsumer::seek_to_end) in process.
    pub(super) fn seek_to_end(&mut self) {
        for slot in &mut self.slots {
            slot.reader.seek_to_end();
            slot.needs_offset = false;
        }
    }

    /// [`MultiConsumer::lag`](super::MultiConsumer::lag) in process.
    pub(super) fn lag(&self) -> Vec<PartitionLag> {
        self.slots
            .iter()
            .map(|slot| PartitionLag {
                partition: slot.partition.clone(),
                high_watermark: slot.reader.partition().high_watermark(),
                position: (!slot.needs_offset).then(|| slot.reader.position()),
                committed: self.group_committed(&slot.partition),
            })
            .collect()
    }

    /// [`MultiConsumer::wakeup_handle`](super::MultiConsumer::wakeup_handle) in process.
    pub(super) fn wakeup_handle(&self) -> WakeupHandle {
        WakeupHandle::new(Arc::clone(&self.signal))
    }

    /// [`MultiConsumer::poll_with`](super::MultiConsumer::poll_with) in process.
    pub(super) fn poll_with<F: VisitFlow>(
        &mut self,
        max: usize,
        mut visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, ConsumerError> {
        self.before_poll()?;
        if self.slots.is_empty() {
            return match self.membership {
                Some(_) => Ok(0),
                None => Err(ConsumerError::NoAssignment),
            };
        }
        let count = self.slots.len();
        let start = self.next % count;
        self.next = (start + 1) % count;
        let mut read = 0;
        for step in 0..count {
            if read >= max {
                break;
            }
            match self.read_slot((start + step) % count, max - read, &mut visit) {
                Ok((got, stopped)) => {
                    read += got;
                    if stopped {
                        break;
                    }
                }
                Err(_) if read > 0 => break,
                Err(error) => return Err(error),
            }
        }
        Ok(read)
    }

    /// Reads up to `max` records of one slot, applying `auto.offset.reset` to an
    /// evicted position; returns how many and whether `visit` stopped.
    fn read_slot<F: VisitFlow>(
        &mut self,
        index: usize,
        max: usize,
        visit: &mut impl FnMut(RecordView<'_>) -> F,
    ) -> Result<(usize, bool), ConsumerError> {
        let policy = self.config.offset_reset;
        let slot = &mut self.slots[index];
        if slot.needs_offset {
            return Err(ConsumerError::NoOffset {
                partition: slot.partition.clone(),
            });
        }
        // Eviction may pass a reset position again before we read it; a few
        // tries, then the partition waits for the next poll.
        for _ in 0..3 {
            match slot.reader.poll_with_stop(max, &mut *visit) {
                Ok(done) => return Ok(done),
                Err(LogError::OffsetOutOfRange {
                    offset,
                    log_start,
                    log_end,
                }) => match policy {
                    OffsetReset::Earliest => slot.reader.seek(log_start),
                    OffsetReset::Latest => slot.reader.seek(log_end),
                    OffsetReset::None => {
                        return Err(ConsumerError::OffsetOutOfRange {
                            partition: slot.partition.clone(),
                            offset,
                            log_start,
                            log_end,
                        })
                    }
                },
                Err(error) => return Err(error.into()),
            }
        }
        Ok((0, false))
    }

    /// [`MultiConsumer::poll_with_timeout`](super::MultiConsumer::poll_with_timeout) in process.
    pub(super) fn poll_with_timeout<F: VisitFlow>(
        &mut self,
        max: usize,
        timeout: Duration,
        mut visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, ConsumerError> {
        // Read when the first poll finds nothing: a poll that finds records
        // reads no clock.
        let mut wait_deadline: Option<Option<Instant>> = None;
        let mut backoff = Backoff::new();
        // Spin and yield over a few polls before parking: a consumer just behind
        // its producers then reads on without a sleep and a wake-up.
        let mut spin = Backoff::new();
        let result = loop {
            if self.signal.take_wakeup() {
                break Err(ConsumerError::Woken);
            }
            // Before the poll's group sync: a coordinator wake-up after that sync
            // (a rebalance, a release) is kept for the wait below, not erased.
            self.signal.prepare();
            match self.poll_with(max, &mut visit) {
                Ok(0) if max > 0 => {}
                done => break done,
            }
            let now = Instant::now();
            let deadline = *wait_deadline.get_or_insert_with(|| now.checked_add(timeout));
            if deadline.is_some_and(|deadline| now >= deadline) {
                break Ok(0);
            }
            if !spin.should_park() {
                spin.snooze();
                continue;
            }
            if let Err(error) = self.wait_any(deadline, &mut backoff) {
                break Err(error);
            }
        };
        self.deregister_all();
        self.stop_waiting();
        result
    }

    /// Sleeps until an assigned partition may have data, the group wants a sync,
    /// a `wakeup()`, or `deadline` (I6 for each partition). The caller has
    /// prepared the signal before its last poll, so a wake-up since is kept.
    fn wait_any(
        &mut self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<(), ConsumerError> {
        match self.register_all()? {
            Readiness::Readable => {}
            // An appender is mid-append on a partition: it may have missed our
            // registration, so spin instead of sleeping.
            Readiness::Reserved => backoff.snooze(),
            // Waiting inside the poll is polling: not expired (G1). A member
            // expired since the poll's sync polls again instead, which
            // reports it (no rebalance would end this wait).
            Readiness::Empty => {
                if self.start_waiting() {
                    self.signal.wait(deadline);
                }
            }
        }
        Ok(())
    }

    /// Registers this consumer's own waker on every assigned partition, then
    /// re-checks them (I6): readable if any is, else reserved if any is. Only
    /// the own waker is ever registered (an async wait's task is woken through
    /// it, `Signal::set_task`), so two consumers polled by one task never share
    /// a registration.
    pub(crate) fn register_all(&mut self) -> Result<Readiness, ConsumerError> {
        self.registered = true;
        let waker = &self.waker;
        let mut readiness = Readiness::Empty;
        for slot in self.slots.iter_mut().filter(|slot| !slot.needs_offset) {
            match slot.reader.register(waker) {
                // Evicted: the next poll resets the position.
                Ok(Readiness::Readable) | Err(LogError::OffsetOutOfRange { .. }) => {
                    return Ok(Readiness::Readable)
                }
                Ok(Readiness::Reserved) => readiness = Readiness::Reserved,
                Ok(Readiness::Empty) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(readiness)
    }

    /// Removes this consumer's registration from every assigned partition.
    pub(crate) fn deregister_all(&mut self) {
        if std::mem::take(&mut self.registered) {
            for slot in &self.slots {
                slot.reader.deregister(&self.waker);
            }
        }
    }

    /// The index of an assigned partition.
    pub(super) fn slot_index(&self, partition: &TopicPartition) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.partition == *partition)
    }

    fn assigned_index(&self, topic: &str, partition: u32) -> Result<usize, ConsumerError> {
        self.slots
            .iter()
            .position(|slot| {
                *slot.partition.topic == *topic && slot.partition.partition == partition
            })
            .ok_or_else(|| ConsumerError::NotAssigned {
                partition: TopicPartition::new(topic, partition),
            })
    }

    /// Adds a partition at `committed`, or where `auto.offset.reset` says.
    pub(super) fn add_slot(
        &mut self,
        partition: TopicPartition,
        committed: Option<u64>,
    ) -> Result<(), ConsumerError> {
        let mut reader = self.log.consumer(&partition.topic, partition.partition)?;
        let mut needs_offset = false;
        match (committed, self.config.offset_reset) {
            (Some(offset), _) => reader.seek(offset),
            (None, OffsetReset::Earliest) => reader.seek_to_beginning(),
            (None, OffsetReset::Latest) => reader.seek_to_end(),
            (None, OffsetReset::None) => needs_offset = true,
        }
        if self.registered {
            // A wait in progress covers the new partition too.
            let _ = reader.register(&self.waker);
        }
        self.slots.push(Slot {
            reader,
            partition,
            needs_offset,
        });
        Ok(())
    }

    /// Removes a partition (and this consumer's registration on it).
    pub(super) fn remove_slot(&mut self, index: usize) -> Slot {
        let slot = self.slots.remove(index);
        if self.registered {
            slot.reader.deregister(&self.waker);
        }
        slot
    }

    /// The `group.id`'s committed offset of a partition, if any.
    pub(super) fn group_committed(&self, partition: &TopicPartition) -> Option<u64> {
        let group = self.config.group_id.as_deref()?;
        self.log.groups().get(group)?.committed(partition)
    }
}
