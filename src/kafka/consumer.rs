//! [`KafkaConsumer`]: the Kafka backend of a
//! [`MultiConsumer`](crate::MultiConsumer), on librdkafka's `BaseConsumer` (no
//! async runtime). The facade calls it 1:1; each method has the semantics of
//! the `MultiConsumer` method of the same name.
//!
//! Design:
//! - **Positions are the backend's own**: a table of the assigned partitions
//!   with the next offset to hand out on each, moved as records are handed to
//!   the visitor. `position`, `lag` and every commit use it, so a commit covers
//!   exactly what was handed out (at-least-once, as in process). Start offsets
//!   are resolved by the backend (the group's committed offset, else the
//!   watermark `auto.offset.reset` names) and given to librdkafka explicitly.
//! - **Auto commit is the backend's**, as in process: at the start of a poll
//!   once `auto.commit.interval.ms` has passed, before a revocation and at
//!   `close`; librdkafka's own auto commit and offset store are off
//!   (`consumer_config`).
//! - **Hand assignment** uses librdkafka's `incremental_assign` and
//!   `incremental_unassign` with explicit offsets only (a full `assign` after an
//!   incremental one crashes librdkafka 2.12, issue #5573).
//! - **Group members** get their rebalances inside `poll`, on the polling
//!   thread, through [`Context`]'s `rebalance`, which tells the listener and
//!   assigns or revokes in librdkafka (incrementally with `cooperative-sticky`).
//!   The context and the consumer share the position table and the listener
//!   through one `Arc<Mutex<Shared>>`: the consumer locks it once per record
//!   handed out, uncontended (the context only runs inside the consumer's own
//!   poll), and never across a librdkafka call that may run the context.
//! - **Blocking** is bounded: a blocking poll waits on librdkafka in slices of
//!   [`POLL_SLICE`], checking the [`WakeupHandle`]; cluster calls wait at most
//!   [`CLUSTER_TIMEOUT`], `close` at most [`CLOSE_TIMEOUT`]. A synchronous
//!   commit waits for the broker's answer, which librdkafka bounds by its
//!   `socket.timeout.ms` (60 s by default).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::admin::CLUSTER_TIMEOUT;
use super::consumer_config::client_config;
use super::metadata::partition_count;
use crate::consumer::commit_callbacks::{CommitCallbacks, CommitDone};
use crate::consumer::remote::{Listener, RemoteConsumer, Visit};
use crate::consumer::signal::{Signal, WakeupHandle};
use crate::consumer::{
    ConsumerConfig, OffsetReset, PartitionLag, Rebalance, RecordView, Revocation, VisitFlow,
};
use crate::consumer_error::ConsumerError;
use crate::error::LogError;
use crate::kafka_error::KafkaError;
use crate::sync::Mutex;
use crate::types::TopicPartition;

/// The longest `close` (and a drop) waits for librdkafka to leave the group and
/// shut the consumer down.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest one wait on librdkafka inside a blocking poll: how late a
/// `wakeup()` may be noticed.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// The pause between tries of a seek librdkafka refuses because the partition's
/// fetcher has not started yet (it answers "Erroneous state" just after an
/// assign); the tries stop after [`CLUSTER_TIMEOUT`].
const SEEK_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Where the consumer is on one assigned partition.
#[derive(Clone, Debug)]
enum Position {
    /// The next offset to hand out.
    At(u64),
    /// No committed offset and `auto.offset.reset=none`: a seek is needed.
    NeedsOffset,
    /// The start offset could not be resolved when the group assigned the
    /// partition (this error); librdkafka starts at the group's offset or
    /// `auto.offset.reset`, and the first record handed out sets the position.
    Unresolved(ConsumerError),
}

/// One assigned partition.
#[derive(Debug)]
struct Slot {
    partition: TopicPartition,
    position: Position,
    /// Whether librdkafka fetches it: not while it needs an offset (a seek
    /// adds it then).
    fetching: bool,
}

/// What the consumer and its [`Context`] share (see the module comment).
#[derive(Default)]
struct Shared {
    /// The assigned partitions, in assignment order.
    slots: Vec<Slot>,
    listener: Option<Listener>,
    /// Assignments received from the group (the member's `generation()`).
    assignments: u64,
    /// Commit the positions of revoked partitions before the listener is told:
    /// auto commit, off once `close` committed or while a drop leaves.
    commit_on_revoke: bool,
    /// A failure inside a rebalance callback, reported by the next poll.
    error: Option<ConsumerError>,
}

impl Shared {
    fn index(&self, topic: &str, partition: u32) -> Option<usize> {
        self.slots.iter().position(|slot| {
            slot.partition.partition == partition && *slot.partition.topic == *topic
        })
    }

    fn assigned_index(&self, topic: &str, partition: u32) -> Result<usize, ConsumerError> {
        self.index(topic, partition)
            .ok_or_else(|| ConsumerError::NotAssigned {
                partition: TopicPartition::new(topic, partition),
            })
    }

    /// The (partition, position) pairs where a position is known.
    fn known_positions(&self, partitions: &[TopicPartition]) -> Vec<(TopicPartition, u64)> {
        partitions
            .iter()
            .filter_map(|partition| {
                let slot = &self.slots[self.index(&partition.topic, partition.partition)?];
                match slot.position {
                    Position::At(offset) => Some((partition.clone(), offset)),
                    _ => None,
                }
            })
            .collect()
    }

    /// The known positions of every assigned partition.
    fn all_known_positions(&self) -> Vec<(TopicPartition, u64)> {
        let partitions: Vec<TopicPartition> = self
            .slots
            .iter()
            .map(|slot| slot.partition.clone())
            .collect();
        self.known_positions(&partitions)
    }

    /// Moves the position past a record librdkafka handed over; false if the
    /// record is not to be handed out (its partition is no longer assigned, or
    /// it is from before a seek).
    fn advance(&mut self, topic: &str, partition: u32, offset: u64) -> bool {
        let Some(index) = self.index(topic, partition) else {
            return false;
        };
        let slot = &mut self.slots[index];
        if matches!(slot.position, Position::At(next) if offset < next) {
            return false;
        }
        slot.position = Position::At(offset + 1);
        true
    }
}

/// The librdkafka context of a [`KafkaConsumer`]: runs the group's rebalances
/// (inside `poll`, on the polling thread).
struct Context {
    shared: Arc<Mutex<Shared>>,
    /// A member's subscription: the topic names its partitions share.
    topics: Vec<Arc<str>>,
    policy: OffsetReset,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    // Instead of rdkafka's default: the start offsets are resolved here and
    // given to librdkafka explicitly, and the listener is told in between.
    fn rebalance(
        &self,
        base: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(base.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assigned(base, tpl, cooperative)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoked(base, tpl, cooperative, base.assignment_lost())
            }
            // librdkafka asks to drop the assignment (as rdkafka's default
            // handler does); the partitions may be owned by others already.
            other => self.revoked(base, tpl, cooperative, true).and(Err(kafka(
                "rebalance",
                RdKafkaError::Rebalance(other.into()),
            ))),
        };
        if let Err(error) = result {
            self.shared.lock().error.get_or_insert(error);
        }
    }
}

impl Context {
    /// The group assigned `tpl`: resolve where to start, assign, tell the listener.
    fn assigned(
        &self,
        base: &BaseConsumer<Self>,
        tpl: &TopicPartitionList,
        cooperative: bool,
    ) -> Result<(), ConsumerError> {
        let partitions: Vec<TopicPartition> = tpl
            .elements()
            .iter()
            .filter_map(|element| {
                Some(TopicPartition {
                    topic: interned(&self.topics, element.topic()),
                    partition: u32::try_from(element.partition()).ok()?,
                })
            })
            .collect();
        let (starts, resolve_error) = match start_positions(base, &partitions, self.policy, true) {
            Ok(starts) => (starts, None),
            Err(error) => (
                vec![Position::Unresolved(error.clone()); partitions.len()],
                Some(error),
            ),
        };
        let fetch = fetch_list(partitions.iter().zip(&starts))?;
        // Eager: the assignment is all of these (everything was revoked first).
        let assign = if cooperative {
            base.incremental_assign(&fetch)
        } else {
            base.assign(&fetch)
        };
        {
            let mut shared = self.shared.lock();
            for (partition, position) in partitions.iter().zip(starts) {
                let fetching = !matches!(position, Position::NeedsOffset);
                shared.slots.push(Slot {
                    partition: partition.clone(),
                    position,
                    fetching,
                });
            }
            shared.assignments += 1;
        }
        if !partitions.is_empty() {
            self.tell(Rebalance::Assigned(&partitions));
        }
        assign.map_err(|error| kafka("assign", error))?;
        resolve_error.map_or(Ok(()), Err)
    }

    /// The group revokes `tpl` (`lost`: it is owned by others already): commit
    /// (auto commit), tell the listener, stop reading them.
    fn revoked(
        &self,
        base: &BaseConsumer<Self>,
        tpl: &TopicPartitionList,
        cooperative: bool,
        lost: bool,
    ) -> Result<(), ConsumerError> {
        let (partitions, positions, commit_first) = {
            let shared = self.shared.lock();
            let partitions: Vec<TopicPartition> = tpl
                .elements()
                .iter()
                .filter_map(|element| {
                    let partition = u32::try_from(element.partition()).ok()?;
                    let index = shared.index(element.topic(), partition)?;
                    Some(shared.slots[index].partition.clone())
                })
                .collect();
            let positions: Vec<Option<u64>> = partitions
                .iter()
                .map(|partition| {
                    let index = shared.index(&partition.topic, partition.partition)?;
                    match shared.slots[index].position {
                        Position::At(offset) => Some(offset),
                        _ => None,
                    }
                })
                .collect();
            let known = shared.known_positions(&partitions);
            (
                partitions,
                positions,
                shared.commit_on_revoke.then_some(known),
            )
        };
        if partitions.is_empty() {
        } else if lost {
            self.tell(Rebalance::Lost(&partitions));
        } else {
            if let Some(offsets) = commit_first {
                // Failures are left to the listener's commit, as auto commit does.
                let _ = commit_sync(base, &offsets);
            }
            let commit = |offsets: &[(TopicPartition, u64)]| commit_sync(base, offsets);
            self.tell(Rebalance::Revoked(&Revocation {
                partitions: &partitions,
                positions: &positions,
                commit: &commit,
            }));
        }
        self.shared
            .lock()
            .slots
            .retain(|slot| !partitions.contains(&slot.partition));
        let unassign = if cooperative {
            base.incremental_unassign(tpl)
        } else {
            base.unassign()
        };
        unassign.map_err(|error| kafka("unassign", error))
    }

    /// Tells the listener, if any, with the shared state unlocked.
    fn tell(&self, event: Rebalance<'_>) {
        let listener = self.shared.lock().listener.take();
        if let Some(mut listener) = listener {
            listener(event);
            let mut shared = self.shared.lock();
            // A listener set while this one ran wins.
            if shared.listener.is_none() {
                shared.listener = Some(listener);
            }
        }
    }
}

/// A [`MultiConsumer`](crate::MultiConsumer) over a Kafka cluster: partitions
/// assigned by hand ([`KafkaConsumer::assigned`]) or by a consumer group
/// ([`KafkaConsumer::subscribe`]); see the module comment.
pub(crate) struct KafkaConsumer {
    base: BaseConsumer<Context>,
    /// Shared with `base`'s context.
    shared: Arc<Mutex<Shared>>,
    config: ConsumerConfig,
    /// Made by `subscribe`.
    member: bool,
    /// One name per topic assigned or subscribed, lent to every record of it.
    topics: Vec<Arc<str>>,
    signal: Arc<Signal>,
    commit_callbacks: CommitCallbacks,
    last_auto_commit: Instant,
    /// A failure after records were handed out, reported by the next poll.
    pending_error: Option<ConsumerError>,
    /// `close` shut librdkafka down already (the drop has nothing left to do).
    closed: bool,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("group", &self.config.group())
            .field("member", &self.member)
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

// used by the MultiConsumer facade (wired next)
#[allow(dead_code)]
impl KafkaConsumer {
    /// A consumer with partitions assigned by hand; with a `group.id` it starts
    /// at, and commits to, that group's offsets without joining it.
    pub(crate) fn assigned(config: &ConsumerConfig) -> Result<Self, ConsumerError> {
        Self::new(config, Vec::new(), false)
    }

    /// A member of `config`'s group subscribed to `topics`. Errors:
    /// [`ConsumerError::NoGroupId`], [`ConsumerError::EmptySubscription`], an
    /// unknown topic.
    pub(crate) fn subscribe(
        config: &ConsumerConfig,
        topics: &[&str],
    ) -> Result<Self, ConsumerError> {
        if config.group_id.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        if topics.is_empty() {
            return Err(ConsumerError::EmptySubscription);
        }
        let mut names: Vec<Arc<str>> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !names.iter().any(|name| **name == **topic) {
                names.push(Arc::from(*topic));
            }
        }
        let consumer = Self::new(config, names, true)?;
        for topic in &consumer.topics {
            consumer.partition_count(topic)?;
        }
        let names: Vec<&str> = consumer.topics.iter().map(|topic| &**topic).collect();
        consumer
            .base
            .subscribe(&names)
            .map_err(|error| kafka("subscribe", error))?;
        Ok(consumer)
    }

    fn new(
        config: &ConsumerConfig,
        topics: Vec<Arc<str>>,
        member: bool,
    ) -> Result<Self, ConsumerError> {
        config.validate_values()?;
        let client = client_config(config)?;
        let shared = Arc::new(Mutex::new(Shared {
            commit_on_revoke: config.auto_commits(),
            ..Shared::default()
        }));
        let context = Context {
            shared: Arc::clone(&shared),
            topics: topics.clone(),
            policy: config.offset_reset,
        };
        let base = client
            .create_with_context(context)
            .map_err(|error| kafka("create consumer", error))?;
        Ok(Self {
            base,
            shared,
            config: config.clone(),
            member,
            topics,
            signal: Arc::new(Signal::default()),
            commit_callbacks: CommitCallbacks::default(),
            last_auto_commit: Instant::now(),
            pending_error: None,
            closed: false,
        })
    }

    /// Assigns `topic`'s `partitions` (known to exist and not assigned).
    fn add(&mut self, topic: &str, partitions: std::ops::Range<u32>) -> Result<(), ConsumerError> {
        let topic = self.intern(topic);
        let partitions: Vec<TopicPartition> = partitions
            .map(|partition| TopicPartition {
                topic: Arc::clone(&topic),
                partition,
            })
            .collect();
        let group = self.config.group_id.is_some();
        let starts = start_positions(&self.base, &partitions, self.config.offset_reset, group)?;
        let fetch = fetch_list(partitions.iter().zip(&starts))?;
        if fetch.count() > 0 {
            self.base
                .incremental_assign(&fetch)
                .map_err(|error| kafka("assign", error))?;
        }
        let mut shared = self.shared.lock();
        for (partition, position) in partitions.into_iter().zip(starts) {
            let fetching = !matches!(position, Position::NeedsOffset);
            shared.slots.push(Slot {
                partition,
                position,
                fetching,
            });
        }
        Ok(())
    }

    fn seek_all(&mut self, choose: impl Fn((u64, u64)) -> u64) {
        for partition in self.assignment() {
            let moved = watermarks(&self.base, &partition)
                .and_then(|bounds| self.move_to(&partition, choose(bounds)));
            if let Err(error) = moved {
                self.pending_error.get_or_insert(error);
            }
        }
    }

    /// Points librdkafka's fetcher of an assigned partition at `offset` and
    /// makes it the position.
    fn move_to(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), ConsumerError> {
        let fetching = {
            let shared = self.shared.lock();
            shared.slots[shared.assigned_index(&partition.topic, partition.partition)?].fetching
        };
        let raw = i64::try_from(offset).map_err(|_| ConsumerError::OffsetOutOfRange {
            partition: partition.clone(),
            offset,
            log_start: 0,
            log_end: 0,
        })?;
        if fetching {
            seek_fetcher(&self.base, partition, raw)?;
        } else {
            self.start_fetching(partition, raw)?;
        }
        let mut shared = self.shared.lock();
        let index = shared.assigned_index(&partition.topic, partition.partition)?;
        shared.slots[index].position = Position::At(offset);
        shared.slots[index].fetching = true;
        Ok(())
    }

    /// Adds a partition librdkafka does not fetch yet (one that needed an
    /// offset) to its assignment at `offset`: incrementally, but an eager
    /// group member's assignment can only be set whole.
    fn start_fetching(&self, partition: &TopicPartition, offset: i64) -> Result<(), ConsumerError> {
        let mut tpl = TopicPartitionList::new();
        add_offset(&mut tpl, partition, Offset::Offset(offset))?;
        let assigned = if matches!(self.base.rebalance_protocol(), RebalanceProtocol::Eager) {
            let shared = self.shared.lock();
            let others = shared.slots.iter().filter(|slot| slot.fetching);
            for slot in others {
                add_offset(&mut tpl, &slot.partition, librdkafka_start(&slot.position))?;
            }
            self.base.assign(&tpl)
        } else {
            self.base.incremental_assign(&tpl)
        };
        assigned.map_err(|error| kafka("assign", error))
    }

    /// The read loop of both polls: `deadline` is `None` for a poll that does
    /// not block, `Some(None)` for one without a limit.
    fn read<F: VisitFlow>(
        &mut self,
        max: usize,
        deadline: Option<Option<Instant>>,
        mut visit: impl FnMut(RecordView<'_>) -> F,
    ) -> Result<usize, ConsumerError> {
        self.before_poll()?;
        let mut read = 0;
        // An empty answer to a poll that does not wait may mean librdkafka
        // served an event (a rebalance) instead: one more try before giving up.
        let mut empty_answers = 0;
        while read < max {
            let wait = match deadline {
                Some(deadline) if read == 0 => {
                    if self.signal.take_wakeup() {
                        return Err(ConsumerError::Woken);
                    }
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    match left {
                        Some(left) if left.is_zero() => break,
                        left => Some(left.map_or(POLL_SLICE, |left| left.min(POLL_SLICE))),
                    }
                }
                _ => None,
            };
            let error = match self.base.poll(wait.unwrap_or(Duration::ZERO)) {
                None if wait.is_some() => continue,
                None => {
                    empty_answers += 1;
                    if empty_answers > 1 {
                        break;
                    }
                    continue;
                }
                Some(Ok(message)) => {
                    empty_answers = 0;
                    if let Some(stop) = self.hand(&message, &mut visit) {
                        read += 1;
                        if stop {
                            break;
                        }
                    }
                    continue;
                }
                Some(Err(error)) => error,
            };
            let error = self.consumption_error(error);
            if read == 0 {
                return Err(error);
            }
            self.pending_error = Some(error);
            break;
        }
        Ok(read)
    }

    /// Hands one message to `visit` if it is to be handed out (see
    /// [`Shared::advance`]); `Some(whether the visitor stopped)` if it was.
    fn hand<F: VisitFlow>(
        &self,
        message: &BorrowedMessage<'_>,
        visit: &mut impl FnMut(RecordView<'_>) -> F,
    ) -> Option<bool> {
        let topic = self
            .topics
            .iter()
            .find(|name| ***name == *message.topic())?;
        let partition = u32::try_from(message.partition()).ok()?;
        let offset = u64::try_from(message.offset()).ok()?;
        if !self.shared.lock().advance(topic, partition, offset) {
            return None;
        }
        let view = RecordView::borrowed(
            topic,
            partition,
            offset,
            // Kafka's "no timestamp".
            message.timestamp().to_millis().unwrap_or(-1),
            message.key(),
            message.payload().unwrap_or(&[]),
        );
        Some(visit(view).is_break())
    }

    /// What a poll reports for an error librdkafka returned.
    fn consumption_error(&self, error: RdKafkaError) -> ConsumerError {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::PollExceeded) => ConsumerError::MemberExpired {
                group: self.config.group_id.clone().unwrap_or_else(|| "".into()),
            },
            // `auto.offset.reset=none` and a position outside the records.
            Some(RDKafkaErrorCode::AutoOffsetReset) => {
                self.out_of_range().unwrap_or_else(|| kafka("poll", error))
            }
            _ => kafka("poll", error),
        }
    }

    /// An assigned partition whose position is outside its records, as
    /// [`ConsumerError::OffsetOutOfRange`].
    fn out_of_range(&self) -> Option<ConsumerError> {
        let positions: Vec<(TopicPartition, u64)> = { self.shared.lock().all_known_positions() };
        positions.into_iter().find_map(|(partition, offset)| {
            let (log_start, log_end) = watermarks(&self.base, &partition).ok()?;
            (!(log_start..=log_end).contains(&offset)).then_some(ConsumerError::OffsetOutOfRange {
                partition,
                offset,
                log_start,
                log_end,
            })
        })
    }

    /// Before every poll: commit callbacks, errors left by the previous poll or
    /// a rebalance, auto commit, and the checks of what can be read.
    fn before_poll(&mut self) -> Result<(), ConsumerError> {
        self.commit_callbacks.run();
        let left = self.pending_error.take();
        if let Some(error) = left.or_else(|| self.shared.lock().error.take()) {
            return Err(error);
        }
        if self.config.auto_commits()
            && self.config.group_id.is_some()
            && self.last_auto_commit.elapsed() >= self.config.auto_commit_interval
        {
            self.last_auto_commit = Instant::now();
            // Failures are left to the next commit, as Kafka's auto commit does.
            let _ = self.commit();
        }
        let shared = self.shared.lock();
        if shared.slots.is_empty() && !self.member {
            return Err(ConsumerError::NoAssignment);
        }
        // As Kafka's poll: no records while a partition has no position.
        match shared
            .slots
            .iter()
            .find(|slot| matches!(slot.position, Position::NeedsOffset))
        {
            Some(slot) => Err(ConsumerError::NoOffset {
                partition: slot.partition.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Has librdkafka close the consumer (a member revokes its partitions and
    /// leaves its group), serving its events until it is closed or
    /// [`CLOSE_TIMEOUT`] has passed.
    fn shut_down(&self) -> Result<(), ConsumerError> {
        self.base
            .close_queue()
            .map_err(|error| kafka("close", error))?;
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while !self.base.closed() {
            if Instant::now() >= deadline {
                return Err(kafka(
                    "close",
                    RdKafkaError::ConsumerQueueClose(RDKafkaErrorCode::OperationTimedOut),
                ));
            }
            // Records still arriving are not handed out: nothing moves.
            let _ = self.base.poll(POLL_SLICE);
        }
        Ok(())
    }

    /// The shared name of `topic`, added on first use.
    fn intern(&mut self, topic: &str) -> Arc<str> {
        let name = interned(&self.topics, topic);
        if !self.topics.contains(&name) {
            self.topics.push(Arc::clone(&name));
        }
        name
    }

    /// The partition count of `topic` from the cluster's metadata;
    /// [`LogError::UnknownTopic`] if it has no such topic.
    fn partition_count(&self, topic: &str) -> Result<u32, ConsumerError> {
        Ok(partition_count(self.base.client(), topic, CLUSTER_TIMEOUT)?)
    }

    /// [`LogError::UnknownPartition`] (or `UnknownTopic`) unless the cluster
    /// has this partition.
    fn check_partition(&self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        let partitions = self.partition_count(topic)?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions,
            }
            .into());
        }
        Ok(())
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        {
            let mut shared = self.shared.lock();
            shared.listener = None;
            shared.commit_on_revoke = false;
        }
        // Best effort: librdkafka's own drop waits for the close without limit.
        let _ = self.shut_down();
    }
}

/// `ConsumerError::Kafka` of librdkafka's `error` in `operation`.
fn kafka(operation: &'static str, error: RdKafkaError) -> ConsumerError {
    ConsumerError::Kafka(KafkaError::new(operation, error))
}

/// The name in `topics` equal to `topic`, or a new one.
fn interned(topics: &[Arc<str>], topic: &str) -> Arc<str> {
    topics
        .iter()
        .find(|name| ***name == *topic)
        .map_or_else(|| Arc::from(topic), Arc::clone)
}

/// A partition's index as librdkafka takes it.
fn kafka_partition(partition: &TopicPartition) -> Result<i32, ConsumerError> {
    i32::try_from(partition.partition).map_err(|_| {
        ConsumerError::Log(LogError::UnknownPartition {
            topic: partition.topic.to_string(),
            partition: partition.partition,
            partitions: 0,
        })
    })
}

/// Adds `partition` at `offset` to `tpl`.
fn add_offset(
    tpl: &mut TopicPartitionList,
    partition: &TopicPartition,
    offset: Offset,
) -> Result<(), ConsumerError> {
    tpl.add_partition_offset(&partition.topic, kafka_partition(partition)?, offset)
        .map_err(|error| kafka("assign", error))
}

/// Where librdkafka starts fetching a partition at `position`.
fn librdkafka_start(position: &Position) -> Offset {
    match position {
        Position::At(offset) => i64::try_from(*offset).map_or(Offset::End, Offset::Offset),
        // The group's offset, else `auto.offset.reset`.
        Position::NeedsOffset | Position::Unresolved(_) => Offset::Stored,
    }
}

/// The partitions librdkafka is to fetch, with their start offsets: all but
/// those that need an offset.
fn fetch_list<'a>(
    starts: impl Iterator<Item = (&'a TopicPartition, &'a Position)>,
) -> Result<TopicPartitionList, ConsumerError> {
    let mut tpl = TopicPartitionList::new();
    for (partition, position) in starts {
        if !matches!(position, Position::NeedsOffset) {
            add_offset(&mut tpl, partition, librdkafka_start(position))?;
        }
    }
    Ok(tpl)
}

/// Where a consumer starts on newly assigned `partitions`: the group's
/// committed offset (if `group`), else the watermark `policy` names, else
/// [`Position::NeedsOffset`].
fn start_positions<C: ConsumerContext>(
    base: &BaseConsumer<C>,
    partitions: &[TopicPartition],
    policy: OffsetReset,
    group: bool,
) -> Result<Vec<Position>, ConsumerError> {
    let committed = match group {
        true => committed_offsets(base, partitions)?,
        false => vec![None; partitions.len()],
    };
    partitions
        .iter()
        .zip(committed)
        .map(|(partition, committed)| {
            Ok(match (committed, policy) {
                (Some(offset), _) => Position::At(offset),
                (None, OffsetReset::Earliest) => Position::At(watermarks(base, partition)?.0),
                (None, OffsetReset::Latest) => Position::At(watermarks(base, partition)?.1),
                (None, OffsetReset::None) => Position::NeedsOffset,
            })
        })
        .collect()
}

/// The group's committed offset of each of `partitions`, in order.
fn committed_offsets<C: ConsumerContext>(
    base: &BaseConsumer<C>,
    partitions: &[TopicPartition],
) -> Result<Vec<Option<u64>>, ConsumerError> {
    let mut tpl = TopicPartitionList::new();
    for partition in partitions {
        add_offset(&mut tpl, partition, Offset::Invalid)?;
    }
    let answer = base
        .committed_offsets(tpl, CLUSTER_TIMEOUT)
        .map_err(|error| kafka("fetch committed offsets", error))?;
    partitions
        .iter()
        .map(|partition| {
            let element = answer.find_partition(&partition.topic, kafka_partition(partition)?);
            Ok(match element.map(|element| element.offset()) {
                Some(Offset::Offset(offset)) => u64::try_from(offset).ok(),
                _ => None,
            })
        })
        .collect()
}

/// A partition's (log start, high watermark).
fn watermarks<C: ConsumerContext>(
    base: &BaseConsumer<C>,
    partition: &TopicPartition,
) -> Result<(u64, u64), ConsumerError> {
    let (low, high) = base
        .fetch_watermarks(
            &partition.topic,
            kafka_partition(partition)?,
            CLUSTER_TIMEOUT,
        )
        .map_err(|error| kafka("fetch watermarks", error))?;
    // librdkafka answers non-negative offsets here; clamp rather than trust.
    let offset = |raw: i64| u64::try_from(raw).unwrap_or(0);
    Ok((offset(low), offset(high)))
}

/// Seeks librdkafka's fetcher of a fetched partition, retrying while it
/// refuses because the fetcher has not started yet, up to [`CLUSTER_TIMEOUT`].
fn seek_fetcher<C: ConsumerContext>(
    base: &BaseConsumer<C>,
    partition: &TopicPartition,
    offset: i64,
) -> Result<(), ConsumerError> {
    let index = kafka_partition(partition)?;
    let deadline = Instant::now() + CLUSTER_TIMEOUT;
    loop {
        match base.seek(
            &partition.topic,
            index,
            Offset::Offset(offset),
            CLUSTER_TIMEOUT,
        ) {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() >= deadline => return Err(kafka("seek", error)),
            Err(_) => std::thread::sleep(SEEK_RETRY_PAUSE),
        }
    }
}

/// Commits `offsets` to the group through `base`, waiting for the answer.
fn commit_sync<C: ConsumerContext>(
    base: &BaseConsumer<C>,
    offsets: &[(TopicPartition, u64)],
) -> Result<(), ConsumerError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in offsets {
        let offset = i64::try_from(*offset).map_err(|_| ConsumerError::OffsetOutOfRange {
            partition: partition.clone(),
            offset: *offset,
            log_start: 0,
            log_end: 0,
        })?;
        add_offset(&mut tpl, partition, Offset::Offset(offset))?;
    }
    base.commit(&tpl, CommitMode::Sync)
        .map_err(|error| kafka("commit", error))
}

impl RemoteConsumer for KafkaConsumer {
    /// Assigns one partition, positioned at the group's committed offset or by
    /// `auto.offset.reset`. Errors: unknown topic or partition,
    /// [`ConsumerError::AlreadyAssigned`], [`ConsumerError::NotSubscribed`] on a
    /// group member.
    fn assign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        if self.member {
            return Err(ConsumerError::NotSubscribed);
        }
        if self.shared.lock().index(topic, partition).is_some() {
            return Err(ConsumerError::AlreadyAssigned {
                partition: TopicPartition::new(topic, partition),
            });
        }
        self.check_partition(topic, partition)?;
        self.add(topic, partition..partition + 1)
    }

    /// Assigns every partition of `topic` (all or none: an error if any of them
    /// is assigned already).
    fn assign_topic(&mut self, topic: &str) -> Result<(), ConsumerError> {
        if self.member {
            return Err(ConsumerError::NotSubscribed);
        }
        let count = self.partition_count(topic)?;
        if let Some(slot) = self
            .shared
            .lock()
            .slots
            .iter()
            .find(|slot| *slot.partition.topic == *topic)
        {
            return Err(ConsumerError::AlreadyAssigned {
                partition: slot.partition.clone(),
            });
        }
        self.add(topic, 0..count)
    }

    /// Stops reading one partition (its position is forgotten; commit first to
    /// keep it).
    fn unassign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError> {
        if self.member {
            return Err(ConsumerError::NotSubscribed);
        }
        let mut shared = self.shared.lock();
        let index = shared.assigned_index(topic, partition)?;
        if shared.slots[index].fetching {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(topic, kafka_partition(&shared.slots[index].partition)?);
            self.base
                .incremental_unassign(&tpl)
                .map_err(|error| kafka("unassign", error))?;
        }
        shared.slots.remove(index);
        Ok(())
    }

    /// The partitions assigned now, in assignment order.
    fn assignment(&self) -> Vec<TopicPartition> {
        let shared = self.shared.lock();
        shared
            .slots
            .iter()
            .map(|slot| slot.partition.clone())
            .collect()
    }

    /// The next offset this consumer reads on a partition.
    fn position(&self, topic: &str, partition: u32) -> Result<u64, ConsumerError> {
        let shared = self.shared.lock();
        let slot = &shared.slots[shared.assigned_index(topic, partition)?];
        match &slot.position {
            Position::At(offset) => Ok(*offset),
            Position::NeedsOffset => Err(ConsumerError::NoOffset {
                partition: slot.partition.clone(),
            }),
            Position::Unresolved(error) => Err(error.clone()),
        }
    }

    /// Moves the position on a partition. An offset outside the partition's
    /// records (`log_start..=log_end`) is [`ConsumerError::OffsetOutOfRange`].
    fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> Result<(), ConsumerError> {
        let target = {
            let shared = self.shared.lock();
            shared.slots[shared.assigned_index(topic, partition)?]
                .partition
                .clone()
        };
        let (log_start, log_end) = watermarks(&self.base, &target)?;
        if !(log_start..=log_end).contains(&offset) {
            return Err(ConsumerError::OffsetOutOfRange {
                partition: target,
                offset,
                log_start,
                log_end,
            });
        }
        self.move_to(&target, offset)
    }

    /// Moves every assigned partition to its log start. A failure is reported
    /// by the next poll.
    fn seek_to_beginning(&mut self) {
        self.seek_all(|(log_start, _)| log_start);
    }

    /// Moves every assigned partition to its log end: only records appended
    /// afterwards are read. A failure is reported by the next poll.
    fn seek_to_end(&mut self) {
        self.seek_all(|(_, log_end)| log_end);
    }

    /// Lag per assigned partition: high watermark, position and committed
    /// offset. A partition whose watermarks the cluster does not answer within
    /// [`CLUSTER_TIMEOUT`] is left out; the committed offsets are `None` if
    /// they cannot be fetched.
    fn lag(&self) -> Vec<PartitionLag> {
        let slots: Vec<(TopicPartition, Option<u64>)> = {
            let shared = self.shared.lock();
            shared
                .slots
                .iter()
                .map(|slot| {
                    let position = match slot.position {
                        Position::At(offset) => Some(offset),
                        _ => None,
                    };
                    (slot.partition.clone(), position)
                })
                .collect()
        };
        let partitions: Vec<TopicPartition> = slots.iter().map(|(p, _)| p.clone()).collect();
        let committed = match self.config.group_id {
            Some(_) => committed_offsets(&self.base, &partitions).ok(),
            None => None,
        };
        slots
            .into_iter()
            .enumerate()
            .filter_map(|(index, (partition, position))| {
                let (_, high_watermark) = watermarks(&self.base, &partition).ok()?;
                Some(PartitionLag {
                    partition,
                    high_watermark,
                    position,
                    committed: committed.as_ref().and_then(|offsets| offsets[index]),
                })
            })
            .collect()
    }

    /// A handle that interrupts this consumer's blocking reads from another thread.
    fn wakeup_handle(&self) -> WakeupHandle {
        WakeupHandle::new(Arc::clone(&self.signal))
    }

    /// Hands up to `max` records ready now to `visit`, lent from librdkafka's
    /// message (valid during the call); returns how many. Never blocks. The
    /// visitor may stop early ([`VisitFlow`]): records after the one it stopped
    /// at stay with librdkafka for the next poll. A group member's rebalances
    /// run inside. A partition with no position (`auto.offset.reset=none`) is
    /// [`ConsumerError::NoOffset`] before anything is read; an error after
    /// records were handed out is reported by the next poll.
    fn poll_with(&mut self, max: usize, visit: Visit<'_>) -> Result<usize, ConsumerError> {
        self.read(max, None, visit)
    }

    /// Like [`poll_with`](Self::poll_with), but waits up to `timeout` for the
    /// first record, then hands what is ready up to `max`. Returns 0 if the
    /// timeout passed first, [`ConsumerError::Woken`] after a `wakeup()`
    /// (noticed within [`POLL_SLICE`]).
    fn poll_with_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
        visit: Visit<'_>,
    ) -> Result<usize, ConsumerError> {
        if self.signal.take_wakeup() {
            return Err(ConsumerError::Woken);
        }
        // `None` inside: a timeout too long for the clock waits without limit.
        self.read(max, Some(Instant::now().checked_add(timeout)), visit)
    }

    /// Sets the rebalance listener of a group member (told inside a poll);
    /// [`ConsumerError::NotSubscribed`] on a consumer that is not a member.
    fn on_rebalance(&mut self, listener: Listener) -> Result<(), ConsumerError> {
        if !self.member {
            return Err(ConsumerError::NotSubscribed);
        }
        self.shared.lock().listener = Some(listener);
        Ok(())
    }

    /// A group member's count of assignments received (bumped by every
    /// rebalance that assigns it partitions; not Kafka's generation id, which
    /// librdkafka does not expose); `None` for a consumer that is not a member.
    fn generation(&self) -> Option<u64> {
        self.member.then(|| self.shared.lock().assignments)
    }

    /// Commits the positions (the next offsets to read, so everything handed
    /// out counts as processed) to the group, synchronously.
    fn commit(&mut self) -> Result<(), ConsumerError> {
        if self.config.group_id.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        let offsets = { self.shared.lock().all_known_positions() };
        commit_sync(&self.base, &offsets)
    }

    /// Commits chosen offsets (the next offset to read on each partition). Each
    /// partition must be assigned, and each offset at most its log end.
    fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<(), ConsumerError> {
        for (partition, offset) in offsets {
            self.shared
                .lock()
                .assigned_index(&partition.topic, partition.partition)?;
            let (log_start, log_end) = watermarks(&self.base, partition)?;
            if *offset > log_end {
                return Err(ConsumerError::OffsetOutOfRange {
                    partition: partition.clone(),
                    offset: *offset,
                    log_start,
                    log_end,
                });
            }
        }
        if self.config.group_id.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        commit_sync(&self.base, offsets)
    }

    /// Like [`commit`](Self::commit), but `on_done` is handed the outcome on the
    /// polling thread at the next poll (or at `close`). As in process, the
    /// commit itself is done by this call (the `rdkafka` crate reports no
    /// result of librdkafka's asynchronous commit). At most
    /// [`MAX_PENDING_COMMIT_CALLBACKS`] wait; beyond that the oldest is handed
    /// its result at once.
    fn commit_async(&mut self, on_done: CommitDone) {
        let result = self.commit();
        self.commit_callbacks.push(on_done, result);
    }

    /// The group's committed offset on a partition (`None` if it has none).
    fn committed(&self, topic: &str, partition: u32) -> Result<Option<u64>, ConsumerError> {
        if self.config.group_id.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        self.check_partition(topic, partition)?;
        let committed = committed_offsets(&self.base, &[TopicPartition::new(topic, partition)])?;
        Ok(committed.into_iter().next().flatten())
    }

    /// Closes the consumer: runs pending commit callbacks, commits the
    /// positions if auto commit is on, and a member's partitions are revoked
    /// (the listener's commit chance) as it leaves its group; all within
    /// [`CLOSE_TIMEOUT`] (and the commit's bound). Dropping the consumer leaves
    /// too, within the same bound, but commits nothing and tells no listener (a
    /// drop during a panic must not commit records that were not processed).
    fn close(mut self: Box<Self>) -> Result<(), ConsumerError> {
        self.commit_callbacks.run();
        let committed = match (self.config.auto_commits(), &self.config.group_id) {
            (true, Some(_)) => self.commit(),
            _ => Ok(()),
        };
        // Committed just now: the revocation at leaving need not commit again.
        self.shared.lock().commit_on_revoke = false;
        let closed = self.shut_down();
        self.closed = true;
        committed.and(closed)
    }

    /// `config.max_poll_records`, for the facade's owned polls.
    fn max_poll_records(&self) -> usize {
        self.config.max_poll_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MultiConsumer;
    use rdkafka::bindings::{
        rd_kafka_handle_mock_cluster, rd_kafka_mock_group_initial_rebalance_delay_ms,
    };
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::ops::ControlFlow;

    /// How long a test waits for records or a rebalance before failing.
    const PATIENCE: Duration = Duration::from_secs(15);

    /// An in-process mock cluster, owned by the producer that writes the test
    /// records (it lives as long as that producer's client).
    struct Cluster {
        producer: BaseProducer,
        servers: String,
    }

    impl Cluster {
        fn new(topics: &[(&str, i32)]) -> Self {
            let producer: BaseProducer = rdkafka::ClientConfig::new()
                .set("test.mock.num.brokers", "1")
                .create()
                .unwrap();
            let mock = producer.client().mock_cluster().unwrap();
            for (topic, partitions) in topics {
                mock.create_topic(topic, *partitions, 1).unwrap();
            }
            let servers = mock.bootstrap_servers();
            drop(mock);
            // SAFETY: `producer`'s client owns a live mock cluster (mock_cluster()
            // found it just above), so the handle is valid for this call, which
            // only sets the delay a new group waits before its first rebalance
            // (3 s by default; 0 keeps the group tests fast).
            unsafe {
                let handle = rd_kafka_handle_mock_cluster(producer.client().native_ptr());
                rd_kafka_mock_group_initial_rebalance_delay_ms(handle, 0);
            }
            Self { producer, servers }
        }

        fn produce(&self, topic: &str, partition: i32, values: &[&str]) {
            for value in values {
                let record = BaseRecord::<str, str>::to(topic)
                    .partition(partition)
                    .key("k")
                    .payload(*value);
                self.producer
                    .send(record)
                    .map_err(|(error, _)| error)
                    .unwrap();
            }
            self.producer.flush(Duration::from_secs(10)).unwrap();
        }

        /// Reads from the start, no auto commit. A group notices a member
        /// joining or leaving fast: the mock waits up to the session timeout
        /// less a second for all members to join again, and a member hears of
        /// a rebalance at its next heartbeat.
        fn config(&self) -> ConsumerConfig {
            ConsumerConfig::from_properties([
                ("bootstrap.servers", &*self.servers),
                ("session.timeout.ms", "2000"),
                ("heartbeat.interval.ms", "100"),
            ])
            .unwrap()
            .offset_reset(OffsetReset::Earliest)
            .auto_commit(false)
        }
    }

    /// A hand-assigned Kafka consumer behind the public facade.
    fn assigned(config: &ConsumerConfig) -> Result<MultiConsumer, ConsumerError> {
        Ok(MultiConsumer::remote(Box::new(KafkaConsumer::assigned(
            config,
        )?)))
    }

    /// A Kafka group member behind the public facade.
    fn subscribe(config: &ConsumerConfig, topics: &[&str]) -> Result<MultiConsumer, ConsumerError> {
        Ok(MultiConsumer::remote(Box::new(KafkaConsumer::subscribe(
            config, topics,
        )?)))
    }

    /// (partition, offset, value) of each record read.
    type Read = Vec<(u32, u64, String)>;

    /// Polls until `want` records were read (or [`PATIENCE`] passed).
    fn read(consumer: &mut MultiConsumer, want: usize) -> Read {
        let deadline = Instant::now() + PATIENCE;
        let mut records = Read::new();
        while records.len() < want && Instant::now() < deadline {
            consumer
                .poll_with_timeout(want - records.len(), Duration::from_millis(100), |r| {
                    let value = String::from_utf8_lossy(r.value).into_owned();
                    records.push((r.partition, r.offset, value));
                })
                .unwrap();
        }
        records
    }

    /// Polls every consumer until `done` (or [`PATIENCE`] passed, a failure).
    fn poll_until(
        consumers: &mut [&mut MultiConsumer],
        done: impl Fn(&[&mut MultiConsumer]) -> bool,
    ) {
        let deadline = Instant::now() + PATIENCE;
        while !done(consumers) {
            assert!(
                Instant::now() < deadline,
                "timed out: {:?}",
                consumers.iter().map(|c| c.assignment()).collect::<Vec<_>>()
            );
            for consumer in consumers.iter_mut() {
                consumer
                    .poll_with_timeout(10, Duration::from_millis(20), |_| ())
                    .unwrap();
            }
        }
    }

    #[test]
    fn assign_poll_position_seek_lag_unassign() {
        let cluster = Cluster::new(&[("t", 2)]);
        cluster.produce("t", 0, &["a", "b", "c"]);
        cluster.produce("t", 1, &["d", "e"]);
        let mut consumer = assigned(&cluster.config()).unwrap();
        assert_eq!(
            consumer.poll_with(10, |_| ()),
            Err(ConsumerError::NoAssignment)
        );
        consumer.assign_topic("t").unwrap();
        assert_eq!(consumer.generation(), None);
        assert!(matches!(
            consumer.assign("t", 0),
            Err(ConsumerError::AlreadyAssigned { .. })
        ));
        assert_eq!(
            (consumer.position("t", 0), consumer.position("t", 1)),
            (Ok(0), Ok(0))
        );
        let mut records = read(&mut consumer, 5);
        records.sort();
        assert_eq!(records.len(), 5, "{records:?}");
        assert_eq!(records[2], (0, 2, "c".to_string()));
        assert_eq!(
            (consumer.position("t", 0), consumer.position("t", 1)),
            (Ok(3), Ok(2))
        );
        let lag = consumer.lag();
        assert_eq!(lag.len(), 2);
        assert!(lag
            .iter()
            .all(|lag| lag.lag() == Some(0) && lag.committed.is_none()));
        assert_eq!(lag[0].high_watermark, 3);

        consumer.seek("t", 0, 1).unwrap();
        assert_eq!(consumer.position("t", 0), Ok(1));
        assert_eq!(consumer.lag()[0].lag(), Some(2));
        let records = read(&mut consumer, 2);
        assert_eq!(records, [(0, 1, "b".into()), (0, 2, "c".into())]);
        assert!(matches!(
            consumer.seek("t", 0, 4),
            Err(ConsumerError::OffsetOutOfRange {
                offset: 4,
                log_start: 0,
                log_end: 3,
                ..
            })
        ));

        consumer.unassign("t", 1).unwrap();
        assert_eq!(consumer.assignment(), [TopicPartition::new("t", 0)]);
        assert!(matches!(
            consumer.position("t", 1),
            Err(ConsumerError::NotAssigned { .. })
        ));
        cluster.produce("t", 1, &["f"]);
        cluster.produce("t", 0, &["g"]);
        assert_eq!(read(&mut consumer, 1), [(0, 3, "g".into())]);
        consumer.seek_to_beginning();
        assert_eq!(consumer.position("t", 0), Ok(0));
        consumer.seek_to_end();
        assert_eq!(consumer.position("t", 0), Ok(4));
        assert_eq!(consumer.commit(), Err(ConsumerError::NoGroupId));
        consumer.close().unwrap();
    }

    #[test]
    fn a_visitor_that_stops_early_loses_nothing() {
        let cluster = Cluster::new(&[("t", 1)]);
        cluster.produce("t", 0, &["0", "1", "2", "3", "4"]);
        let mut consumer = assigned(&cluster.config()).unwrap();
        consumer.assign("t", 0).unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut first = Vec::new();
        while first.is_empty() && Instant::now() < deadline {
            consumer
                .poll_with_timeout(10, Duration::from_millis(100), |r| {
                    first.push(r.offset);
                    if r.offset == 1 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
        }
        // Stopped after offset 1 (it counts as read), whatever the batch held.
        assert_eq!(first.last(), Some(&1));
        assert_eq!(consumer.position("t", 0), Ok(2));
        let rest: Vec<u64> = read(&mut consumer, 3).into_iter().map(|r| r.1).collect();
        assert_eq!(rest, [2, 3, 4]);
    }

    #[test]
    fn a_commit_is_where_the_next_consumer_resumes_and_close_commits() {
        let cluster = Cluster::new(&[("t", 1)]);
        cluster.produce("t", 0, &["0", "1", "2", "3", "4", "5"]);
        let config = cluster.config().group_id("g");
        let mut consumer = assigned(&config).unwrap();
        assert_eq!(consumer.committed("t", 0), Ok(None));
        consumer.assign("t", 0).unwrap();
        read(&mut consumer, 3);
        consumer.commit().unwrap();
        assert_eq!(consumer.committed("t", 0), Ok(Some(3)));
        assert_eq!(consumer.lag()[0].committed_lag(), Some(3));
        assert!(matches!(
            consumer.commit_offsets(&[(TopicPartition::new("t", 0), 7)]),
            Err(ConsumerError::OffsetOutOfRange { log_end: 6, .. })
        ));
        consumer.close().unwrap();

        let mut next = assigned(&config.clone().auto_commit(true)).unwrap();
        next.assign("t", 0).unwrap();
        assert_eq!(next.position("t", 0), Ok(3));
        assert_eq!(read(&mut next, 1), [(0, 3, "3".into())]);
        // Auto commit: close commits what was handed out.
        next.close().unwrap();
        let last = assigned(&config).unwrap();
        assert_eq!(last.committed("t", 0), Ok(Some(4)));
    }

    #[test]
    fn commit_async_hands_its_result_to_the_next_poll() {
        let cluster = Cluster::new(&[("t", 1)]);
        cluster.produce("t", 0, &["0", "1"]);
        let mut consumer = assigned(&cluster.config().group_id("g")).unwrap();
        consumer.assign("t", 0).unwrap();
        read(&mut consumer, 2);
        let (sender, results) = std::sync::mpsc::channel();
        consumer.commit_async(Box::new(move |result| sender.send(result).unwrap()));
        assert!(
            results.try_recv().is_err(),
            "handed out before the next poll"
        );
        consumer.poll_with(1, |_| ()).unwrap();
        assert_eq!(results.try_recv(), Ok(Ok(())));
        assert_eq!(consumer.committed("t", 0), Ok(Some(2)));
    }

    #[test]
    fn no_offset_until_a_seek() {
        let cluster = Cluster::new(&[("t", 1)]);
        cluster.produce("t", 0, &["0", "1"]);
        let config = cluster
            .config()
            .group_id("g")
            .offset_reset(OffsetReset::None);
        let mut consumer = assigned(&config).unwrap();
        consumer.assign("t", 0).unwrap();
        let no_offset = Err(ConsumerError::NoOffset {
            partition: TopicPartition::new("t", 0),
        });
        assert_eq!(consumer.position("t", 0), no_offset.clone().map(|()| 0));
        assert_eq!(consumer.poll_with(10, |_| ()), no_offset.map(|()| 0));
        consumer.seek("t", 0, 1).unwrap();
        assert_eq!(read(&mut consumer, 1), [(0, 1, "1".into())]);
    }

    #[test]
    fn wakeup_interrupts_a_blocking_poll() {
        let cluster = Cluster::new(&[("t", 1)]);
        let mut consumer = assigned(&cluster.config()).unwrap();
        consumer.assign("t", 0).unwrap();
        let wakeup = consumer.wakeup_handle();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            wakeup.wakeup();
        });
        let started = Instant::now();
        let blocked = consumer.poll_with_timeout(10, Duration::from_secs(60), |_| ());
        assert_eq!(blocked, Err(ConsumerError::Woken));
        assert!(started.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
        // Answered once: the next poll waits again.
        assert_eq!(
            consumer.poll_with_timeout(10, Duration::from_millis(10), |_| ()),
            Ok(0)
        );
    }

    #[test]
    fn unknown_topics_and_partitions_are_errors() {
        let cluster = Cluster::new(&[("t", 2)]);
        let mut consumer = assigned(&cluster.config()).unwrap();
        let unknown = ConsumerError::Log(LogError::UnknownTopic {
            topic: "nope".into(),
        });
        assert_eq!(consumer.assign("nope", 0), Err(unknown.clone()));
        assert_eq!(consumer.assign_topic("nope"), Err(unknown.clone()));
        assert_eq!(
            consumer.assign("t", 2),
            Err(ConsumerError::Log(LogError::UnknownPartition {
                topic: "t".into(),
                partition: 2,
                partitions: 2,
            }))
        );
        assert!(consumer.assignment().is_empty());
        let group = cluster.config().group_id("g");
        assert_eq!(subscribe(&group, &["nope"]).unwrap_err(), unknown);
        assert_eq!(
            subscribe(&cluster.config(), &["t"]).unwrap_err(),
            ConsumerError::NoGroupId
        );
        assert_eq!(
            subscribe(&group, &[]).unwrap_err(),
            ConsumerError::EmptySubscription
        );
        assert!(matches!(
            assigned(&ConsumerConfig::new()),
            Err(ConsumerError::Config { key, .. }) if key == "bootstrap.servers"
        ));
    }

    /// What a listener saw: "assigned N", "revoked N" (and whether its commit
    /// worked), "lost N".
    fn recording_listener(events: &Arc<Mutex<Vec<String>>>) -> Listener {
        let events = Arc::clone(events);
        Box::new(move |event| {
            let line = match event {
                Rebalance::Assigned(partitions) => format!("assigned {}", partitions.len()),
                Rebalance::Revoked(revocation) => format!(
                    "revoked {} commit {:?}",
                    revocation.partitions().len(),
                    revocation.commit()
                ),
                Rebalance::Lost(partitions) => format!("lost {}", partitions.len()),
            };
            events.lock().push(line);
        })
    }

    #[test]
    fn two_members_split_a_topic_eagerly() {
        let cluster = Cluster::new(&[("t", 4)]);
        for partition in 0..4 {
            cluster.produce("t", partition, &["x"]);
        }
        let config = cluster.config().group_id("g");
        let mut first = subscribe(&config, &["t"]).unwrap();
        assert!(matches!(
            first.assign("t", 0),
            Err(ConsumerError::NotSubscribed)
        ));
        let events = Arc::new(Mutex::new(Vec::new()));
        first.on_rebalance(recording_listener(&events)).unwrap();
        assert_eq!(read(&mut first, 4).len(), 4);
        assert_eq!(first.generation(), Some(1));

        let mut second = subscribe(&config, &["t"]).unwrap();
        poll_until(&mut [&mut first, &mut second], |members| {
            members.iter().all(|member| member.assignment().len() == 2)
        });
        // The range assignor is eager: everything was revoked, then half
        // assigned again. (The mock refuses commits while an eager rebalance
        // is joining, rdkafka_mock_cgrp.c, where a Kafka broker takes them
        // from the current generation: the commit is tested cooperatively.)
        let events = events.lock().clone();
        assert_eq!(events[0], "assigned 4");
        assert!(events[1].starts_with("revoked 4 commit"), "{events:?}");
        assert_eq!(events[2], "assigned 2");
        assert!(first.generation() >= Some(2));
        first.close().unwrap();
        second.close().unwrap();
    }

    #[test]
    fn cooperative_sticky_moves_only_what_it_must_and_commits_when_revoked() {
        let cluster = Cluster::new(&[("t", 4)]);
        for partition in 0..4 {
            cluster.produce("t", partition, &["x"]);
        }
        let config = cluster
            .config()
            .group_id("g")
            .assignor(crate::consumer::Assignor::Sticky);
        let mut first = subscribe(&config, &["t"]).unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        first.on_rebalance(recording_listener(&events)).unwrap();
        assert_eq!(read(&mut first, 4).len(), 4);
        let mut second = subscribe(&config, &["t"]).unwrap();
        poll_until(&mut [&mut first, &mut second], |members| {
            members.iter().all(|member| member.assignment().len() == 2)
        });
        // Incremental: two revoked (their positions committed by the
        // listener), none assigned again. Under load the mock may start a
        // further rebalance while the listener commits, and it refuses commits
        // while a rebalance is joining (rdkafka_mock_cgrp.c); then the second
        // member starts from the log start instead.
        let events = events.lock().clone();
        assert_eq!(events[0], "assigned 4", "{events:?}");
        assert!(events[1].starts_with("revoked 2 commit"), "{events:?}");
        if events[1] == "revoked 2 commit Ok(())" {
            for partition in second.assignment() {
                let position = second.position(&partition.topic, partition.partition);
                assert_eq!(position, Ok(1), "{partition} resumes from the commit");
            }
        }
        // A member that is dropped leaves: its partitions go to the other.
        drop(first);
        poll_until(&mut [&mut second], |members| {
            members[0].assignment().len() == 4
        });
        second.close().unwrap();
    }
}
