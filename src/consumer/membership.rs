//! Group membership of a [`LogConsumer`], the in-process backend of a
//! [`MultiConsumer`](super::MultiConsumer): joining ([`Log::subscribe`]),
//! following the group's assignment at each poll (G3, G4 in
//! `crate::implementation`), commits, and leaving.

use std::sync::Arc;

use crate::consumer::config::ConsumerConfig;
use crate::consumer::log_consumer::LogConsumer;
use crate::consumer::rebalance::{Rebalance, Revocation};
use crate::consumer_error::ConsumerError;
use crate::log::{Group, JoinRequest, LastPoll, Log, PartitionHandle, SyncPlan};
use crate::types::TopicPartition;

/// A rebalance listener ([`MultiConsumer::on_rebalance`](super::MultiConsumer::on_rebalance)).
pub(super) type Listener = Box<dyn FnMut(Rebalance<'_>) + Send>;

/// A consumer's membership of its group.
pub(super) struct Membership {
    group: Arc<Group>,
    member: u64,
    topics: Vec<Arc<str>>,
    generation: u64,
    /// The group's change count as of the last sync (G1), and when that was.
    seen_changes: u64,
    last_sync_ms: i64,
    /// Whether it told the coordinator it waits inside a poll (G1).
    waiting: bool,
    /// Its poll clock, which the group's expiry reads (G1): recorded at every
    /// poll, also one that skips the sync.
    last_poll: Arc<LastPoll>,
    listener: Option<Listener>,
}

impl Membership {
    /// Starts (`true`) or ends a wait inside a poll: a waiting member is
    /// polling, so it is not expired however long it waits (G1). Returns
    /// false if the group expired the member since its last sync (then it is
    /// not marked as waiting, and must poll again rather than wait).
    pub(super) fn set_waiting(&mut self, waiting: bool, now_ms: i64) -> bool {
        if self.waiting == waiting {
            return true;
        }
        let member = self.group.set_waiting(self.member, waiting, now_ms);
        self.waiting = waiting && member;
        member
    }
}

impl LogConsumer {
    /// [`Log::subscribe`] in process: joins the group of `config`'s `group.id`.
    pub(super) fn subscribe(
        log: &Log,
        config: ConsumerConfig,
        topics: &[&str],
    ) -> Result<Self, ConsumerError> {
        let group = config.group_id.clone().ok_or(ConsumerError::NoGroupId)?;
        if topics.is_empty() {
            return Err(ConsumerError::EmptySubscription);
        }
        let mut names: Vec<Arc<str>> = Vec::with_capacity(topics.len());
        for topic in topics {
            let name = log.topic_partition(topic, 0)?.topic;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut consumer = LogConsumer::new(log, config)?;
        let last_poll = Arc::new(LastPoll::new(log.now_ms()));
        let request = consumer.join_request(&names, &last_poll)?;
        let (group, member) = log.groups().join(&group, &request)?;
        consumer.membership = Some(Membership {
            group,
            member,
            topics: names,
            generation: 0,
            // Nothing seen yet: the first poll syncs.
            seen_changes: u64::MAX,
            last_sync_ms: 0,
            waiting: false,
            last_poll,
            listener: None,
        });
        Ok(consumer)
    }

    /// What joining the group with `topics` asks for.
    fn join_request(
        &self,
        topics: &[Arc<str>],
        last_poll: &Arc<LastPoll>,
    ) -> Result<JoinRequest, ConsumerError> {
        let partition_counts = topics
            .iter()
            .map(|topic| Ok((Arc::clone(topic), self.log.partition_count(topic)?)))
            .collect::<Result<_, ConsumerError>>()?;
        Ok(JoinRequest {
            topics: topics.to_vec(),
            partition_counts,
            assignor: self.config.assignor,
            max_poll_interval_ms: i64::try_from(self.config.max_poll_interval.as_millis())
                .unwrap_or(i64::MAX),
            now_ms: self.log.now_ms(),
            // The consumer's own parking spot: it forwards to a waiting task.
            waker: self.waker.clone(),
            last_poll: Arc::clone(last_poll),
        })
    }

    /// Tells the group this member starts a wait inside a poll (G1). Returns
    /// false if it may not wait: the group expired it after the poll's sync
    /// (a slow rebalance listener, say), so no rebalance would wake it; the
    /// caller polls again, which reports [`ConsumerError::MemberExpired`] and
    /// rejoins. True for a consumer that is not a member.
    #[must_use]
    pub(super) fn start_waiting(&mut self) -> bool {
        match &mut self.membership {
            Some(membership) if !membership.waiting => {
                membership.set_waiting(true, self.log.now_ms())
            }
            _ => true,
        }
    }

    /// Tells the group this member ended a wait inside a poll (G1).
    pub(super) fn stop_waiting(&mut self) {
        if let Some(membership) = &mut self.membership {
            if membership.waiting {
                // An expired member has nothing to unmark.
                let _member = membership.set_waiting(false, self.log.now_ms());
            }
        }
    }

    /// [`MultiConsumer::on_rebalance`](super::MultiConsumer::on_rebalance) in process.
    pub(super) fn on_rebalance(
        &mut self,
        listener: impl FnMut(Rebalance<'_>) + Send + 'static,
    ) -> Result<(), ConsumerError> {
        let membership = self
            .membership
            .as_mut()
            .ok_or(ConsumerError::NotSubscribed)?;
        membership.listener = Some(Box::new(listener));
        Ok(())
    }

    /// [`MultiConsumer::generation`](super::MultiConsumer::generation) in process.
    pub(super) fn generation(&self) -> Option<u64> {
        self.membership
            .as_ref()
            .map(|membership| membership.generation)
    }

    /// Before every poll: commit callbacks, the group's assignment, auto commit.
    pub(super) fn before_poll(&mut self) -> Result<(), ConsumerError> {
        // A consumer with no group reads no clock.
        if self.config.group_id.is_none() {
            self.commit_callbacks.run();
            return Ok(());
        }
        let now = self.log.now_ms();
        // First: a panicking callback below must not leave the member marked
        // as waiting (never expired).
        if let Some(membership) = &mut self.membership {
            // This poll counts for liveness even if it skips the sync (G1).
            membership.last_poll.record(now);
            // An expired member is reported by the sync below.
            let _member = membership.set_waiting(false, now);
        }
        self.commit_callbacks.run();
        self.follow_group(now)?;
        self.auto_commit_if_due(now);
        Ok(())
    }

    /// Syncs with the coordinator and applies what it says; an expired member
    /// loses its partitions, joins again and reports [`ConsumerError::MemberExpired`].
    /// Skips the sync (and the group's lock) when nothing changed for anyone
    /// since the last one and it is not yet time to tell the group this member
    /// is alive (a quarter of `max.poll.interval.ms`; G1).
    fn follow_group(&mut self, now: i64) -> Result<(), ConsumerError> {
        let Some(membership) = &self.membership else {
            return Ok(());
        };
        let keep_alive =
            i64::try_from(self.config.max_poll_interval.as_millis() / 4).unwrap_or(i64::MAX);
        if membership.seen_changes == membership.group.changes()
            && now.saturating_sub(membership.last_sync_ms) < keep_alive
        {
            return Ok(());
        }
        let (group, member) = (Arc::clone(&membership.group), membership.member);
        match group.sync(member, now) {
            Ok(plan) => {
                let changes = plan.changes;
                self.apply(&group, member, plan)?;
                // Only once applied: a listener that panicked mid-apply leaves
                // the next poll to sync (and finish the plan) again.
                if let Some(membership) = &mut self.membership {
                    membership.seen_changes = changes;
                    membership.last_sync_ms = now;
                }
                Ok(())
            }
            Err(expired @ ConsumerError::MemberExpired { .. }) => {
                self.lose_all();
                self.rejoin(&group)?;
                Err(expired)
            }
            Err(error) => Err(error),
        }
    }

    /// Revokes, releases and acquires as the group's plan says (G3, G4).
    fn apply(&mut self, group: &Group, member: u64, plan: SyncPlan) -> Result<(), ConsumerError> {
        // The coordinator recorded us as the owner of `acquire` already: take
        // them before any listener runs, so a panicking listener cannot leave
        // them owned and never read (no later plan offers them again).
        let mut assigned = Vec::with_capacity(plan.acquire.len());
        for (partition, committed) in plan.acquire {
            self.add_slot(partition.clone(), committed)?;
            assigned.push(partition);
        }
        if !plan.revoke.is_empty() {
            let positions = self.positions_of(&plan.revoke);
            if self.config.auto_commits() {
                // Still the owner until `release` below, so this cannot fail
                // with NotOwner; nothing else can fail it.
                let _ = group.commit_owned(member, &known(&plan.revoke, &positions));
            }
            self.tell_revoked(group, member, &plan.revoke, &positions);
            // G3: stop reading before releasing.
            for partition in &plan.revoke {
                if let Some(index) = self.slot_index(partition) {
                    self.remove_slot(index);
                }
            }
            group.release(member, &plan.revoke);
        }
        if !assigned.is_empty() {
            self.tell_listener(Rebalance::Assigned(&assigned));
        }
        if let Some(membership) = &mut self.membership {
            membership.generation = plan.generation;
        }
        Ok(())
    }

    /// Drops every partition of an expired member and tells the listener.
    fn lose_all(&mut self) {
        self.deregister_all();
        let lost: Vec<TopicPartition> = self.slots.drain(..).map(|slot| slot.partition).collect();
        if !lost.is_empty() {
            self.tell_listener(Rebalance::Lost(&lost));
        }
    }

    /// Joins `group`'s name again as a new member (after an expiry; the group
    /// may have been retired meanwhile and made again, G5).
    fn rejoin(&mut self, group: &Group) -> Result<(), ConsumerError> {
        let Some(membership) = &self.membership else {
            return Ok(());
        };
        let request = self.join_request(&membership.topics, &membership.last_poll)?;
        let (group, member) = self.log.groups().join(group.name(), &request)?;
        if let Some(membership) = &mut self.membership {
            membership.group = group;
            membership.member = member;
            membership.seen_changes = u64::MAX;
            membership.waiting = false;
        }
        Ok(())
    }

    fn tell_listener(&mut self, event: Rebalance<'_>) {
        if let Some(listener) = self.membership.as_mut().and_then(|m| m.listener.as_mut()) {
            listener(event);
        }
    }

    /// Tells the listener `partitions` are revoked; its commits go to `group`
    /// as `member`, which still owns them.
    fn tell_revoked(
        &mut self,
        group: &Group,
        member: u64,
        partitions: &[TopicPartition],
        positions: &[Option<u64>],
    ) {
        // The revoked partitions' handles, for the same log-end check as
        // `commit_offsets` (a commit past the end would make the next owner
        // skip the records up to it).
        let handles: Vec<Option<PartitionHandle>> = partitions
            .iter()
            .map(|partition| {
                let slot = &self.slots[self.slot_index(partition)?];
                Some(slot.reader.partition().clone())
            })
            .collect();
        let commit = |offsets: &[(TopicPartition, u64)]| {
            for (partition, offset) in offsets {
                let revoked = partitions.iter().position(|p| p == partition);
                if let Some(handle) = revoked.and_then(|index| handles[index].as_ref()) {
                    within_log_end(partition, handle, *offset)?;
                }
            }
            group.commit_owned(member, offsets)
        };
        self.tell_listener(Rebalance::Revoked(&Revocation {
            partitions,
            positions,
            commit: &commit,
        }));
    }

    /// This consumer's position on each of `partitions` (`None` where it has none).
    fn positions_of(&self, partitions: &[TopicPartition]) -> Vec<Option<u64>> {
        partitions
            .iter()
            .map(|partition| {
                let slot = &self.slots[self.slot_index(partition)?];
                (!slot.needs_offset).then(|| slot.reader.position())
            })
            .collect()
    }

    /// Commits the positions if auto commit is on and its interval has passed
    /// (failures are left to the next commit, as Kafka's auto commit does).
    fn auto_commit_if_due(&mut self, now: i64) {
        if !self.config.auto_commits() || self.config.group_id.is_none() {
            return;
        }
        let interval =
            i64::try_from(self.config.auto_commit_interval.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(self.last_auto_commit_ms) >= interval {
            self.last_auto_commit_ms = now;
            let _ = self.commit();
        }
    }

    /// [`MultiConsumer::commit`](super::MultiConsumer::commit) in process.
    pub(super) fn commit(&mut self) -> Result<(), ConsumerError> {
        let offsets: Vec<(TopicPartition, u64)> = self
            .slots
            .iter()
            .filter(|slot| !slot.needs_offset)
            .map(|slot| (slot.partition.clone(), slot.reader.position()))
            .collect();
        self.commit_to_group(&offsets)
    }

    /// [`MultiConsumer::commit_offsets`](super::MultiConsumer::commit_offsets) in process.
    pub(super) fn commit_offsets(
        &mut self,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), ConsumerError> {
        for (partition, offset) in offsets {
            let index = self
                .slot_index(partition)
                .ok_or_else(|| ConsumerError::NotAssigned {
                    partition: partition.clone(),
                })?;
            within_log_end(partition, self.slots[index].reader.partition(), *offset)?;
        }
        self.commit_to_group(offsets)
    }

    /// [`MultiConsumer::commit_async`](super::MultiConsumer::commit_async) in process.
    pub(super) fn commit_async(
        &mut self,
        on_done: impl FnOnce(Result<(), ConsumerError>) + Send + 'static,
    ) {
        let result = self.commit();
        self.commit_callbacks.push(Box::new(on_done), result);
    }

    fn commit_to_group(&self, offsets: &[(TopicPartition, u64)]) -> Result<(), ConsumerError> {
        if let Some(membership) = &self.membership {
            return membership.group.commit_owned(membership.member, offsets);
        }
        let group = self
            .config
            .group_id
            .as_deref()
            .ok_or(ConsumerError::NoGroupId)?;
        Ok(self
            .log
            .groups()
            .commit(group, offsets, self.log.now_ms())?)
    }

    /// [`MultiConsumer::committed`](super::MultiConsumer::committed) in process.
    pub(super) fn committed(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, ConsumerError> {
        if self.config.group_id.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        let partition = self.log.topic_partition(topic, partition)?;
        Ok(self.group_committed(&partition))
    }

    /// [`MultiConsumer::close`](super::MultiConsumer::close) in process.
    pub(super) fn close(mut self) -> Result<(), ConsumerError> {
        self.commit_callbacks.run();
        let committed = match (self.config.auto_commits(), &self.config.group_id) {
            (true, Some(_)) => self.commit(),
            _ => Ok(()),
        };
        if let Some(membership) = &self.membership {
            let (group, member) = (Arc::clone(&membership.group), membership.member);
            if group.is_member(member) {
                let partitions = self.assignment();
                if !partitions.is_empty() {
                    let positions = self.positions_of(&partitions);
                    self.tell_revoked(&group, member, &partitions, &positions);
                }
            } else {
                // Expired (G1): its partitions belong to others already, so
                // the listener hears `Lost`, as at a poll, not `Revoked`.
                self.lose_all();
            }
        }
        // Drop deregisters and leaves.
        committed
    }
}

impl Drop for LogConsumer {
    fn drop(&mut self) {
        self.deregister_all();
        if let Some(membership) = self.membership.take() {
            // G3: we read nothing more, so the group may hand everything over.
            self.log
                .groups()
                .leave(&membership.group, membership.member, self.log.now_ms());
        }
    }
}

/// The (partition, position) pairs where a position is known.
pub(super) fn known(
    partitions: &[TopicPartition],
    positions: &[Option<u64>],
) -> Vec<(TopicPartition, u64)> {
    partitions
        .iter()
        .zip(positions)
        .filter_map(|(partition, position)| Some((partition.clone(), (*position)?)))
        .collect()
}

/// A committed offset may be at most the partition's log end (the next offset
/// to be written): a commit past it would make the next owner skip the records
/// written up to it.
fn within_log_end(
    partition: &TopicPartition,
    handle: &PartitionHandle,
    offset: u64,
) -> Result<(), ConsumerError> {
    let log_end = handle.log_end_offset();
    if offset > log_end {
        return Err(ConsumerError::OffsetOutOfRange {
            partition: partition.clone(),
            offset,
            log_start: handle.log_start_offset(),
            log_end,
        });
    }
    Ok(())
}
