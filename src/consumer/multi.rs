//! [`MultiConsumer`]: many partitions, of one or more topics, read by one
//! consumer: assigned by hand or by a consumer group, read in a fair order,
//! blocking until any has data, interruptible by a [`WakeupHandle`].
//!
//! The public type is a facade over a backend ([`Backend`]): today the
//! in-process [`LogConsumer`] (src/consumer/log_consumer.rs, with
//! src/consumer/membership.rs and src/consumer/stream.rs). Each primitive
//! method dispatches to the backend with one `match`; the owned-record reads
//! and the iterators are written once here, on top of `poll_with` and
//! `poll_with_timeout`.

use std::time::Duration;

use crate::consumer::config::ConsumerConfig;
use crate::consumer::lag::PartitionLag;
use crate::consumer::log_consumer::LogConsumer;
use crate::consumer::rebalance::Rebalance;
use crate::consumer::receive::Receive;
#[cfg(feature = "kafka")]
use crate::consumer::remote::RemoteConsumer;
use crate::consumer::signal::WakeupHandle;
#[cfg(feature = "async")]
use crate::consumer::stream::{Readable, RecordStream};
use crate::consumer::view::{owned_record, owned_records, RecordView};
use crate::consumer::visit::VisitFlow;
use crate::consumer_error::ConsumerError;
use crate::log::Log;
use crate::record::ConsumerRecord;
use crate::types::TopicPartition;
#[cfg(feature = "async")]
use std::task::{Context, Poll};

/// Reads many partitions, of one or more topics, as one consumer (Kafka's
/// `KafkaConsumer`): partitions are assigned by hand ([`assign`](Self::assign),
/// from [`Log::multi_consumer`]) or by a consumer group
/// ([`Log::subscribe`]). A poll reads the assigned partitions in a fair order
/// (each poll starts one partition further) and a blocking poll waits until any
/// of them has data. Positions are kept per partition; a position without a
/// committed offset, or outside the partition's records, follows
/// `auto.offset.reset` ([`OffsetReset`]).
///
/// ```
/// use idemlog::{consumer::{ConsumerConfig, OffsetReset}, Log, Record};
/// use std::time::Duration;
/// let log = Log::new();
/// log.create_topic("orders", 2).unwrap();
/// log.create_topic("refunds", 1).unwrap();
/// log.append("orders", 1, None, Record::new("o-1")).unwrap();
/// log.append("refunds", 0, None, Record::new("r-1")).unwrap();
/// let config = ConsumerConfig::new().offset_reset(OffsetReset::Earliest);
/// let mut consumer = log.multi_consumer(config).unwrap();
/// consumer.assign_topic("orders").unwrap();
/// consumer.assign("refunds", 0).unwrap();
/// let mut seen = Vec::new();
/// // Zero-copy and blocking: waits up to a second for the first record.
/// consumer
///     .poll_with_timeout(10, Duration::from_secs(1), |record| {
///         seen.push(format!("{}-{}@{}", record.topic, record.partition, record.offset))
///     })
///     .unwrap();
/// seen.sort();
/// assert_eq!(seen, ["orders-1@0", "refunds-0@0"]);
/// assert_eq!(consumer.position("orders", 1).unwrap(), 1);
/// ```
///
/// [`OffsetReset`]: super::OffsetReset
pub struct MultiConsumer {
    backend: Backend,
}

/// What a [`MultiConsumer`] reads: the in-process log (the Kafka variant is
/// added with the `kafka` feature).
// Not boxed: the in-process consumer is the common case, and one box more per
// poll would cost it; the remote one is boxed (a trait object).
#[cfg_attr(feature = "kafka", allow(clippy::large_enum_variant))]
pub(crate) enum Backend {
    /// The in-process [`Log`].
    Log(LogConsumer),
    /// A remote cluster, through its client (the Kafka backend's, src/kafka/).
    #[cfg(feature = "kafka")]
    Remote(Box<dyn RemoteConsumer>),
}

impl std::fmt::Debug for MultiConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Log(consumer) => std::fmt::Debug::fmt(consumer, f),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => std::fmt::Debug::fmt(remote, f),
        }
    }
}

impl Log {
    /// A consumer of many partitions, assigned by hand
    /// ([`MultiConsumer::assign`]); with a `group.id` it starts at, and commits
    /// to, that group's offsets without joining it.
    pub fn multi_consumer(&self, config: ConsumerConfig) -> Result<MultiConsumer, ConsumerError> {
        LogConsumer::new(self, config).map(MultiConsumer::of_log)
    }

    /// Joins the consumer group of `config`'s `group.id` with a subscription to
    /// `topics` (Kafka's `subscribe`): the group assigns the topics' partitions
    /// among its live members with its `partition.assignment.strategy`, and
    /// rebalances when a member joins, leaves (`close`, or dropping it) or stops
    /// polling for `max.poll.interval.ms`. A partition moves only after its
    /// previous owner's poll revoked it (the rebalance listener's commit chance),
    /// and its new owner starts at the committed offset, so a record is read by
    /// one live member at a time, and none is skipped. The first poll takes the
    /// member's partitions.
    ///
    /// Errors: [`ConsumerError::NoGroupId`], [`ConsumerError::EmptySubscription`],
    /// an unknown topic, [`ConsumerError::InconsistentAssignor`].
    ///
    /// ```
    /// use idemlog::{consumer::{ConsumerConfig, OffsetReset}, Log, Record};
    /// use std::time::Duration;
    /// let log = Log::new();
    /// log.create_topic("orders", 4).unwrap();
    /// let config = ConsumerConfig::new()
    ///     .group_id("billing")
    ///     .offset_reset(OffsetReset::Earliest)
    ///     .auto_commit(false);
    /// let mut first = log.subscribe(config.clone(), &["orders"]).unwrap();
    /// let mut second = log.subscribe(config, &["orders"]).unwrap();
    /// for p in 0..4 {
    ///     log.append("orders", p, None, Record::new(format!("order on {p}"))).unwrap();
    /// }
    /// let (mut a, mut b) = (0, 0);
    /// while a + b < 4 {
    ///     a += first.poll_with_timeout(10, Duration::from_millis(10), |_| ()).unwrap();
    ///     b += second.poll_with_timeout(10, Duration::from_millis(10), |_| ()).unwrap();
    /// }
    /// // The range assignor split the four partitions two and two.
    /// assert_eq!((first.assignment().len(), second.assignment().len()), (2, 2));
    /// assert_eq!((a, b), (2, 2));
    /// first.commit().unwrap();
    /// second.commit().unwrap();
    /// ```
    pub fn subscribe(
        &self,
        config: ConsumerConfig,
        topics: &[&str],
    ) -> Result<MultiConsumer, ConsumerError> {
        LogConsumer::subscribe(self, config, topics).map(MultiConsumer::of_log)
    }
}

impl MultiConsumer {
    /// The facade of an in-process consumer.
    fn of_log(consumer: LogConsumer) -> Self {
        Self {
            backend: Backend::Log(consumer),
        }
    }

    /// A consumer reading through a remote client (made by
    /// [`Cluster`](crate::Cluster) for a Kafka cluster).
    #[cfg(feature = "kafka")]
    pub(crate) fn remote(consumer: Box<dyn RemoteConsumer>) -> Self {
        Self {
            backend: Backend::Remote(consumer),
        }
    }

    /// Assigns one partition, positioned at the group's committed offset or by
    /// `auto.offset.reset`. Errors: unknown topic or partition,
    /// [`ConsumerError::AlreadyAssigned`], [`ConsumerError::NotSubscribed`] on a
    /// group member.
    pub fn assign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.assign(topic, partition),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.assign(topic, partition),
        }
    }

    /// Assigns every partition of `topic` (all or none: an error if any of them
    /// is assigned already).
    pub fn assign_topic(&mut self, topic: &str) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.assign_topic(topic),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.assign_topic(topic),
        }
    }

    /// Stops reading one partition (its position is forgotten; commit first to
    /// keep it).
    pub fn unassign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.unassign(topic, partition),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.unassign(topic, partition),
        }
    }

    /// The partitions assigned now, in assignment order.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        match &self.backend {
            Backend::Log(consumer) => consumer.assignment(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.assignment(),
        }
    }

    /// The next offset this consumer reads on a partition.
    pub fn position(&self, topic: &str, partition: u32) -> Result<u64, ConsumerError> {
        match &self.backend {
            Backend::Log(consumer) => consumer.position(topic, partition),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.position(topic, partition),
        }
    }

    /// Moves the position on a partition. An offset outside the partition's
    /// records (`log_start..=log_end`) is [`ConsumerError::OffsetOutOfRange`].
    pub fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.seek(topic, partition, offset),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.seek(topic, partition, offset),
        }
    }

    /// Moves every assigned partition to its log start.
    pub fn seek_to_beginning(&mut self) {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.seek_to_beginning(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.seek_to_beginning(),
        }
    }

    /// Moves every assigned partition to its log end: only records appended
    /// afterwards are read.
    pub fn seek_to_end(&mut self) {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.seek_to_end(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.seek_to_end(),
        }
    }

    /// Lag per assigned partition: high watermark, position and committed offset.
    pub fn lag(&self) -> Vec<PartitionLag> {
        match &self.backend {
            Backend::Log(consumer) => consumer.lag(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.lag(),
        }
    }

    /// A handle that interrupts this consumer's blocking reads (and, with the
    /// feature `async`, its pending async waits) from another thread.
    pub fn wakeup_handle(&self) -> WakeupHandle {
        match &self.backend {
            Backend::Log(consumer) => consumer.wakeup_handle(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.wakeup_handle(),
        }
    }

    /// Hands up to `max` readable records of the assigned partitions to `visit`,
    /// borrowed from the log; returns how many. Never blocks. Each poll starts at
    /// the partition after the one the previous poll started at, and reads each
    /// partition until it is caught up or `max` is reached. `visit` returns `()`
    /// to read on or a [`ControlFlow`](std::ops::ControlFlow) to stop early
    /// ([`VisitFlow`]). A group member first follows its group's assignment
    /// (revocations, acquisitions, the rebalance listener) and auto commit.
    ///
    /// A partition whose position cannot be resolved (`auto.offset.reset=none`)
    /// is an error, reported once the records read before it are returned: the
    /// poll that read records returns their count, the next one the error.
    pub fn poll_with<F: VisitFlow>(
        &mut self,
        max: usize,
        visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.poll_with(max, visit),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.poll_with(max, &mut control_flow(visit)),
        }
    }

    /// Like [`MultiConsumer::poll_with`], but waits up to `timeout` until any
    /// assigned partition has a record (zero-copy blocking read). Returns 0 if
    /// the timeout passed first, [`ConsumerError::Woken`] after a `wakeup()`.
    /// A group member keeps following its group while it waits (a rebalance
    /// wakes it), and waiting counts as polling for `max.poll.interval.ms`.
    pub fn poll_with_timeout<F: VisitFlow>(
        &mut self,
        max: usize,
        timeout: Duration,
        visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.poll_with_timeout(max, timeout, visit),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => {
                remote.poll_with_timeout(max, timeout, &mut control_flow(visit))
            }
        }
    }

    /// Up to `max` readable records, owned (payloads shared, not copied). Never blocks.
    pub fn poll(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        owned_records(|visit| self.poll_with(max, visit))
    }

    /// Up to `max.poll.records` records, owned, waiting up to `timeout` for the
    /// first (Kafka's `poll(Duration)`).
    pub fn poll_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        let max = self.max_poll_records();
        owned_records(|visit| self.poll_with_timeout(max, timeout, visit))
    }

    /// The backend's `max.poll.records`: what `poll_timeout` asks for.
    fn max_poll_records(&self) -> usize {
        match &self.backend {
            Backend::Log(consumer) => consumer.config.max_poll_records,
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.max_poll_records(),
        }
    }

    /// The next record, owned, if one is readable now.
    pub fn try_recv(&mut self) -> Result<Option<ConsumerRecord>, ConsumerError> {
        owned_record(|visit| self.poll_with(1, visit))
    }

    /// The next record, owned, waiting up to `timeout` for it (`None` if the
    /// timeout passed first).
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<ConsumerRecord>, ConsumerError> {
        owned_record(|visit| self.poll_with_timeout(1, timeout, visit))
    }

    /// A blocking iterator of owned records; a `wakeup()` ends it, an error is
    /// yielded once and ends it.
    pub fn iter(&mut self) -> crate::consumer::Iter<'_, Self> {
        crate::consumer::Iter::new(self)
    }

    /// An iterator of the records readable now: ends when caught up.
    pub fn try_iter(&mut self) -> crate::consumer::TryIter<'_, Self> {
        crate::consumer::TryIter::new(self)
    }

    /// Sets the rebalance listener of a group member: told, on the polling
    /// thread inside a poll, which partitions are revoked (with a chance to
    /// commit), assigned or lost. Errors with [`ConsumerError::NotSubscribed`]
    /// on a consumer that is not a member.
    ///
    /// ```
    /// use idemlog::{consumer::{ConsumerConfig, Rebalance}, Log};
    /// use std::sync::{Arc, Mutex};
    /// let log = Log::new();
    /// log.create_topic("t", 2).unwrap();
    /// let config = ConsumerConfig::new().group_id("g");
    /// let mut member = log.subscribe(config, &["t"]).unwrap();
    /// let events = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&events);
    /// member
    ///     .on_rebalance(move |event| match event {
    ///         Rebalance::Revoked(revocation) => {
    ///             revocation.commit().unwrap();
    ///             seen.lock().unwrap().push(format!("revoked {}", revocation.partitions().len()));
    ///         }
    ///         Rebalance::Assigned(partitions) => {
    ///             seen.lock().unwrap().push(format!("assigned {}", partitions.len()))
    ///         }
    ///         _ => {}
    ///     })
    ///     .unwrap();
    /// member.poll(10).unwrap();
    /// let _second = log.subscribe(ConsumerConfig::new().group_id("g"), &["t"]).unwrap();
    /// member.poll(10).unwrap();
    /// assert_eq!(*events.lock().unwrap(), ["assigned 2", "revoked 1"]);
    /// ```
    pub fn on_rebalance(
        &mut self,
        listener: impl FnMut(Rebalance<'_>) + Send + 'static,
    ) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.on_rebalance(listener),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.on_rebalance(Box::new(listener)),
        }
    }

    /// The group's generation as this member last followed it (bumped by every
    /// rebalance); `None` for a consumer that is not a member.
    pub fn generation(&self) -> Option<u64> {
        match &self.backend {
            Backend::Log(consumer) => consumer.generation(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.generation(),
        }
    }

    /// Commits this consumer's positions on its partitions to its group (Kafka's
    /// `commitSync`): the next offsets to read, so everything handed out before
    /// counts as processed. A member commits only partitions it owns
    /// ([`ConsumerError::NotOwner`], [`ConsumerError::MemberExpired`]); a
    /// consumer with partitions assigned by hand commits to its `group.id`
    /// without a membership check.
    pub fn commit(&mut self) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.commit(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.commit(),
        }
    }

    /// Commits chosen offsets (the next offset to read on each partition). Each
    /// partition must be assigned, and each offset at most its log end.
    pub fn commit_offsets(
        &mut self,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), ConsumerError> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.commit_offsets(offsets),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.commit_offsets(offsets),
        }
    }

    /// Like [`MultiConsumer::commit`], Kafka's `commitAsync` style: the call does
    /// not report the outcome; `on_done` is handed it on the polling thread at the
    /// next poll (or at [`close`](Self::close)). In process the commit itself is
    /// done by this call. At most [`MAX_PENDING_COMMIT_CALLBACKS`] wait for a
    /// poll: beyond that, the oldest is handed its result at once (memory stays
    /// bounded when an application commits without polling). Callbacks run
    /// oldest first; one that panics unwinds out of the call that ran it (the
    /// poll, `close` or this one), and those queued behind it wait for the next.
    ///
    /// [`MAX_PENDING_COMMIT_CALLBACKS`]: super::MAX_PENDING_COMMIT_CALLBACKS
    pub fn commit_async(
        &mut self,
        on_done: impl FnOnce(Result<(), ConsumerError>) + Send + 'static,
    ) {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.commit_async(on_done),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.commit_async(Box::new(on_done)),
        }
    }

    /// The group's committed offset on a partition (`None` if it has none).
    pub fn committed(&self, topic: &str, partition: u32) -> Result<Option<u64>, ConsumerError> {
        match &self.backend {
            Backend::Log(consumer) => consumer.committed(topic, partition),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.committed(topic, partition),
        }
    }

    /// Closes the consumer (Kafka's `close`): runs pending commit callbacks,
    /// commits the positions if auto commit is on, and a member revokes its
    /// partitions (the listener's commit chance) and leaves its group, which
    /// hands them over at once; a member the group has expired hears
    /// [`Rebalance::Lost`](super::Rebalance::Lost) instead, as at a poll (its
    /// partitions are another member's already). Dropping a consumer leaves too, but commits
    /// nothing and tells no listener (a drop during a panic must not commit
    /// records that were not processed).
    pub fn close(self) -> Result<(), ConsumerError> {
        match self.backend {
            Backend::Log(consumer) => consumer.close(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.close(),
        }
    }
}

#[cfg(feature = "async")]
impl MultiConsumer {
    /// A future that resolves once any assigned partition has a record; read it
    /// with the synchronous, zero-copy [`poll_with`](Self::poll_with) (the
    /// async form of [`poll_with_timeout`](Self::poll_with_timeout)). It
    /// resolves to an error if the consumer has nothing assigned and is no group
    /// member ([`ConsumerError::NoAssignment`]) or following its group fails; a
    /// group member with no partitions yet waits until its group gives it some
    /// and one of them has a record. It also resolves when `poll_with` has an
    /// error to report instead of records (a partition without a position under
    /// `auto.offset.reset=none`: [`ConsumerError::NoOffset`] until a seek). It
    /// may resolve spuriously, with nothing to read (a record evicted meanwhile,
    /// a partition revoked by the poll): then `poll_with` reads 0 and the caller
    /// waits again.
    ///
    /// A [`wakeup()`](WakeupHandle::wakeup) from another thread while it is
    /// pending (or before it is first polled, not answered yet) resolves it to
    /// [`ConsumerError::Woken`] at once, as it interrupts a blocking poll, even
    /// if a record is readable; the wakeup is consumed, so the next read is
    /// not interrupted.
    ///
    /// Dropping the future (e.g. in `tokio::select!`) removes its registrations.
    /// Needs the `async` feature.
    ///
    /// ```
    /// # use std::{future::Future, pin::pin, sync::Arc, task::{Context, Poll, Wake, Waker}};
    /// # /// The smallest executor: polls on this thread, parks while pending.
    /// # fn block_on<F: Future>(future: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark {
    /// #         fn wake(self: Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    /// #     let mut future = pin!(future);
    /// #     loop {
    /// #         if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
    /// #             return output;
    /// #         }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// use idemlog::{consumer::ConsumerConfig, Log, Record};
    /// use std::time::Duration;
    /// let log = Log::new();
    /// log.create_topic("orders", 2).unwrap();
    /// let mut consumer = log.multi_consumer(ConsumerConfig::new()).unwrap();
    /// consumer.assign_topic("orders").unwrap();
    /// let producer = {
    ///     let log = log.clone();
    ///     std::thread::spawn(move || {
    ///         std::thread::sleep(Duration::from_millis(10));
    ///         log.append("orders", 1, None, Record::new("o-1")).unwrap();
    ///     })
    /// };
    /// // `block_on` stands for any executor: `consumer.readable().await`.
    /// block_on(consumer.readable()).unwrap();
    /// // The record is there: read it zero-copy, without blocking.
    /// let mut total = 0;
    /// let read = consumer.poll_with(10, |record| total += record.value.len()).unwrap();
    /// assert_eq!((read, total), (1, 3));
    /// producer.join().unwrap();
    /// ```
    pub fn readable(&mut self) -> Readable<'_> {
        Readable::new(self)
    }

    /// The records of the assigned partitions, owned, as an async [`Stream`]
    /// (the async form of [`iter`](Self::iter)): each item is the next record,
    /// read as [`try_recv`](Self::try_recv) reads it, or waited for as
    /// [`readable`](Self::readable) waits. [`RecordStream::next`] awaits one
    /// item without any stream-extension crate, and
    /// [`RecordStream::consumer`] reaches the consumer between items (to
    /// [`commit`](Self::commit), seek, ...).
    ///
    /// The stream never ends. An error is an item, and the stream goes on after
    /// it, as the consumer does: a transient error (e.g.
    /// [`ConsumerError::MemberExpired`], after which the member has joined its
    /// group again) is followed by records, a lasting one (e.g.
    /// [`ConsumerError::NoOffset`] until a seek, [`ConsumerError::NoAssignment`])
    /// is the next item again, so a loop that does not fix it should stop.
    /// A [`wakeup()`](WakeupHandle::wakeup) from another thread (while `next()`
    /// is pending, or before it, not answered yet) makes the next item
    /// `Err(`[`ConsumerError::Woken`]`)`, as it ends a blocking [`iter`](Self::iter),
    /// even if a record is readable; it is consumed, and the stream goes on
    /// after it. Dropping the stream, or a pending [`RecordStream::next`], removes its
    /// registrations, ends the wait (a group member that then stops polling is
    /// expired as usual) and loses no record. A pending `next()` of a
    /// stream-extension crate (`StreamExt::next`) cannot tell the stream it was
    /// dropped: the member counts as waiting (never expired) until the stream
    /// is polled again or dropped. Needs the `async` feature.
    ///
    /// ```
    /// # use std::{future::Future, pin::pin, sync::Arc, task::{Context, Poll, Wake, Waker}};
    /// # /// The smallest executor: polls on this thread, parks while pending.
    /// # fn block_on<F: Future>(future: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark {
    /// #         fn wake(self: Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    /// #     let mut future = pin!(future);
    /// #     loop {
    /// #         if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
    /// #             return output;
    /// #         }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// use idemlog::{consumer::{ConsumerConfig, OffsetReset}, Log, Record};
    /// use std::time::Duration;
    /// let log = Log::new();
    /// log.create_topic("orders", 2).unwrap();
    /// let config = ConsumerConfig::new()
    ///     .group_id("billing")
    ///     .offset_reset(OffsetReset::Earliest)
    ///     .auto_commit(false);
    /// let mut consumer = log.subscribe(config, &["orders"]).unwrap();
    /// let producer = {
    ///     let log = log.clone();
    ///     std::thread::spawn(move || {
    ///         for i in 0..4 {
    ///             std::thread::sleep(Duration::from_millis(2));
    ///             log.append("orders", i % 2, None, Record::new(format!("o-{i}"))).unwrap();
    ///         }
    ///     })
    /// };
    /// // `block_on` stands for any executor: this is an `async` block.
    /// let values = block_on(async {
    ///     let mut records = consumer.stream();
    ///     let mut values = Vec::new();
    ///     while values.len() < 4 {
    ///         let record = records.next().await.unwrap().unwrap();
    ///         values.push(String::from_utf8(record.value.to_vec()).unwrap());
    ///         // Processed: commit (positions after the records read so far).
    ///         records.consumer().commit().unwrap();
    ///     }
    ///     values
    /// });
    /// let mut values = values;
    /// values.sort();
    /// assert_eq!(values, ["o-0", "o-1", "o-2", "o-3"]);
    /// assert_eq!(consumer.committed("orders", 0).unwrap(), Some(2));
    /// producer.join().unwrap();
    /// ```
    ///
    /// [`Stream`]: futures_core::Stream
    pub fn stream(&mut self) -> RecordStream<'_> {
        RecordStream::new(self)
    }

    /// Whether an assigned partition has a record, registering `cx`'s waker
    /// if none has: the backend's side of [`Readable`] and [`RecordStream`].
    pub(super) fn poll_readable(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ConsumerError>> {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.poll_readable(cx),
            #[cfg(feature = "kafka")]
            Backend::Remote(_) => Poll::Ready(Err(ConsumerError::Unsupported {
                operation: "readable / stream",
                reason: "the Kafka backend has no async reads; poll with a timeout \
                         (poll_with_timeout, recv_timeout) on a blocking thread",
            })),
        }
    }

    /// Takes a pending `wakeup()`, ending the wait it interrupts (the record
    /// stream answers it before it reads, as a blocking read does). A remote
    /// backend has no async reads (its `poll_readable` is `Unsupported`): false.
    pub(super) fn take_wakeup(&mut self) -> bool {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.take_wakeup(),
            #[cfg(feature = "kafka")]
            Backend::Remote(_) => false,
        }
    }

    /// Removes the registrations of an async wait that read a record instead.
    pub(super) fn deregister_all(&mut self) {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.deregister_all(),
            #[cfg(feature = "kafka")]
            // A remote backend never registered anything (its readable is
            // Unsupported).
            Backend::Remote(_) => {}
        }
    }

    /// Ends an async wait (a dropped [`Readable`] or [`RecordStream`]).
    pub(super) fn end_async_wait(&mut self) {
        match &mut self.backend {
            Backend::Log(consumer) => consumer.end_async_wait(),
            #[cfg(feature = "kafka")]
            // A remote backend never registered anything (its readable is
            // Unsupported).
            Backend::Remote(_) => {}
        }
    }
}

impl Receive for MultiConsumer {
    type Error = ConsumerError;

    fn try_recv(&mut self) -> Result<Option<ConsumerRecord>, ConsumerError> {
        MultiConsumer::try_recv(self)
    }

    fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ConsumerRecord>, ConsumerError> {
        MultiConsumer::recv_timeout(self, timeout)
    }

    fn is_interruption(error: &ConsumerError) -> bool {
        matches!(error, ConsumerError::Woken)
    }
}

impl<'a> IntoIterator for &'a mut MultiConsumer {
    type Item = Result<ConsumerRecord, ConsumerError>;
    type IntoIter = crate::consumer::Iter<'a, MultiConsumer>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A read callback as the remote backend's trait object takes it.
#[cfg(feature = "kafka")]
fn control_flow<F: VisitFlow>(
    mut visit: impl FnMut(RecordView<'_>) -> F,
) -> impl FnMut(RecordView<'_>) -> std::ops::ControlFlow<()> {
    move |view| {
        if visit(view).is_break() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }
}
