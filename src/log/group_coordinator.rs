//! The group coordinator (broker side, as Kafka's): members of consumer groups,
//! their target assignment, which member owns each partition now, and the
//! committed offsets. One mutex per group: only consumers' polls, commits and
//! joins and the housekeeper take it, never an append. The hand-over rules are
//! G1-G4 in `crate::implementation`, a group's lifetime G5 (the registry of
//! groups is `super::group_registry`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::task::Waker;

use crate::consumer_error::ConsumerError;
use crate::error::LogError;
use crate::log::assignor::{Assignor, MemberView};
use crate::log::budget::{arc_block_bytes, named_entry_bytes, Budget};
use crate::sync::{AtomicI64, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::types::TopicPartition;

/// Bytes one committed offset is charged to the budget (I10): its hash-table
/// slot (the partition's name pointer and index and the offset, 24 bytes, and
/// a control byte) at the table's lowest load, just after it doubled past its
/// 7/8 maximum (2.3 slots per entry), rounded up.
const OFFSET_BYTES: u64 = 64;

/// Bytes the offsets table's smallest block (four slots and their control
/// bytes, 128 bytes from the allocator) takes beyond its first entry's
/// [`OFFSET_BYTES`]: charged with the group, so a group with one offset is
/// charged what it holds (tests/group_memory.rs; 200 000 groups of one
/// offset measured 523 resident bytes each).
const SMALLEST_OFFSETS_TABLE_BYTES: u64 = 64;

/// One consumer group.
pub(crate) struct Group {
    name: Arc<str>,
    /// Bumped (under `state`'s lock) by every change a member must sync for: a
    /// rebalance or a release. A member whose last sync saw the current value
    /// may skip its next one (G1).
    changes: AtomicU64,
    /// The log's budget: the group and its committed offsets are charged to it
    /// (I10, G5).
    budget: std::sync::Arc<Budget>,
    state: Mutex<GroupState>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("name", &self.name).finish()
    }
}

/// A member as the coordinator keeps it.
struct Member {
    topics: Vec<Arc<str>>,
    /// What the last rebalance assigns it (G1).
    target: Vec<TopicPartition>,
    /// When the member last polled, as the member itself records it at every
    /// poll (G1): a poll that skips the sync counts too.
    last_poll: std::sync::Arc<LastPoll>,
    max_poll_interval_ms: i64,
    /// Waiting inside a poll (blocked, or an async wait pending): polling, so
    /// never expired, however long it waits (G1).
    waiting: bool,
    /// Woken when the member should sync: a rebalance, or a partition of its
    /// target released by its previous owner (the consumer's own parking spot,
    /// which forwards to a waiting task).
    waker: Waker,
}

#[derive(Default)]
struct GroupState {
    /// Out of the registry for good: it takes no join and no commit, and holds
    /// no offset (G5).
    retired: bool,
    /// When the group last had no member, or had an offset committed while it
    /// had none: its offsets' retention counts from here (G5).
    idle_since_ms: i64,
    generation: u64,
    next_member_id: u64,
    /// The assignor the members agreed on (the first member's); `None` while empty.
    assignor: Option<Assignor>,
    members: BTreeMap<u64, Member>,
    /// Partition counts of every topic a member subscribed to.
    partition_counts: BTreeMap<Arc<str>, u32>,
    /// The member that owns each partition now (G2).
    owners: HashMap<TopicPartition, u64>,
    /// The committed offset of each partition: the next one the group reads.
    offsets: HashMap<TopicPartition, u64>,
}

/// What a member must do to follow the group's current assignment.
#[derive(Debug, Default)]
pub(crate) struct SyncPlan {
    /// Partitions it owns that the target gives to others: it revokes them
    /// (commit chance), stops reading them, then releases them (G3).
    pub(crate) revoke: Vec<TopicPartition>,
    /// Partitions it owns from now on, with their committed offsets (G4).
    pub(crate) acquire: Vec<(TopicPartition, Option<u64>)>,
    /// The group's generation (bumped by every rebalance).
    pub(crate) generation: u64,
    /// The change count as of this plan (G1): a member may skip syncs until it moves.
    pub(crate) changes: u64,
}

/// What a join asks for.
/// When a consumer last polled (log clock, ms): written by the consumer at
/// every poll without the group's lock, read by the group's expiry (G1).
#[derive(Debug)]
pub(crate) struct LastPoll(AtomicI64);

impl LastPoll {
    pub(crate) fn new(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    /// A poll at `now_ms` (a later one never moves it back).
    pub(crate) fn record(&self, now_ms: i64) {
        // Relaxed: a timestamp, read by `get` under the group's lock; nothing
        // is published with it (a poll racing its own expiry is that boundary).
        self.0.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        // Relaxed: pairs with `record`'s fetch_max (a timestamp, see there).
        self.0.load(Ordering::Relaxed)
    }
}

pub(crate) struct JoinRequest {
    pub(crate) topics: Vec<Arc<str>>,
    pub(crate) partition_counts: Vec<(Arc<str>, u32)>,
    pub(crate) assignor: Assignor,
    pub(crate) max_poll_interval_ms: i64,
    pub(crate) now_ms: i64,
    pub(crate) waker: Waker,
    /// The consumer's own poll clock (the same one across its rejoins).
    pub(crate) last_poll: std::sync::Arc<LastPoll>,
}

impl Group {
    /// An empty group, idle since `now_ms`, whose charges go to `budget`; the
    /// registry charges [`Group::footprint`] before it makes one (G5).
    pub(crate) fn new(name: &str, budget: std::sync::Arc<Budget>, now_ms: i64) -> Self {
        Self {
            name: name.into(),
            changes: AtomicU64::new(0),
            budget,
            state: Mutex::new(GroupState {
                idle_since_ms: now_ms,
                ..GroupState::default()
            }),
        }
    }

    /// Bytes a group named `name` is charged while it is registered (I10): its
    /// `Arc` block, its name twice (its own `Arc<str>` and the registry's key),
    /// its registry slot and its offsets table's smallest block. Its members
    /// belong to live consumers and are not charged; its committed offsets
    /// are, by [`OFFSET_BYTES`] each.
    pub(crate) fn footprint(name: &str) -> u64 {
        arc_block_bytes::<Self>() + named_entry_bytes(name) + SMALLEST_OFFSETS_TABLE_BYTES
    }

    /// The group's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The change count (G1): equal to what a member's last sync returned means
    /// nothing changed for anyone since.
    pub(crate) fn changes(&self) -> u64 {
        // Acquire: pairs with the Release increment in `changed`, so a member
        // that sees the new count also sees the state behind it when it syncs
        // (it takes the lock anyway; this only decides whether to).
        self.changes.load(Ordering::Acquire)
    }

    /// Ends a change of the state: if it woke members (they must sync), bumps
    /// the change count before unlocking, then wakes them outside the lock (a
    /// waker may run an executor's code).
    fn finish(&self, state: MutexGuard<'_, GroupState>, wake: Vec<Waker>) {
        if !wake.is_empty() {
            // Release: pairs with the Acquire load in `changes` (G1).
            self.changes.fetch_add(1, Ordering::Release);
        }
        drop(state);
        for waker in wake {
            waker.wake();
        }
    }

    /// Adds a member (a rebalance); returns its id, or `None` if the group was
    /// retired (G5: the caller looks the group up again).
    pub(crate) fn join(&self, request: &JoinRequest) -> Result<Option<u64>, ConsumerError> {
        let mut state = self.state.lock();
        if state.retired {
            return Ok(None);
        }
        let mut wake = Vec::new();
        state.expire(request.now_ms, &mut wake);
        match state.assignor {
            Some(assignor) if assignor != request.assignor => {
                let error = ConsumerError::InconsistentAssignor {
                    group: Arc::clone(&self.name),
                    group_uses: assignor.kafka_name(),
                    requested: request.assignor.kafka_name(),
                };
                // The expiry above may have rebalanced: wake (and count) it.
                self.finish(state, wake);
                return Err(error);
            }
            _ => state.assignor = Some(request.assignor),
        }
        state
            .partition_counts
            .extend(request.partition_counts.iter().cloned());
        let id = state.next_member_id;
        state.next_member_id += 1;
        state.members.insert(
            id,
            Member {
                topics: request.topics.clone(),
                target: Vec::new(),
                last_poll: {
                    request.last_poll.record(request.now_ms);
                    std::sync::Arc::clone(&request.last_poll)
                },
                max_poll_interval_ms: request.max_poll_interval_ms,
                waiting: false,
                waker: request.waker.clone(),
            },
        );
        state.rebalance(&mut wake);
        self.finish(state, wake);
        Ok(Some(id))
    }

    /// Removes a member (a rebalance); its partitions are free at once (G3: the
    /// caller has stopped reading them). Returns whether that retired the
    /// group: it has no member left and no committed offset (G5).
    pub(crate) fn leave(&self, member: u64, now_ms: i64) -> bool {
        let mut state = self.state.lock();
        let mut wake = Vec::new();
        if state.remove_member(member, now_ms) {
            state.rebalance(&mut wake);
        }
        let retired = self.retire_if_forgotten(&mut state, now_ms, None);
        self.finish(state, wake);
        retired
    }

    /// The housekeeper's pass over the group: expires the members past their
    /// `max.poll.interval.ms` (G1; the rebalance wakes the others, so a member
    /// waiting inside a poll takes over at once), then retires the group if it
    /// has no member and its offsets have been idle for `retention_ms` (G5).
    /// Returns whether it retired the group.
    pub(crate) fn housekeep(&self, now_ms: i64, retention_ms: i64) -> bool {
        let mut state = self.state.lock();
        let mut wake = Vec::new();
        state.expire(now_ms, &mut wake);
        let retired = self.retire_if_forgotten(&mut state, now_ms, Some(retention_ms));
        self.finish(state, wake);
        retired
    }

    /// Retires the group (G5) if it has no member and no committed offset:
    /// what a refused join or commit may leave (a group made for it). Returns
    /// whether it retired the group now.
    pub(crate) fn retire_if_unused(&self, now_ms: i64) -> bool {
        let mut state = self.state.lock();
        self.retire_if_forgotten(&mut state, now_ms, None)
    }

    /// Retires the group (G5) if it has no member and nothing to remember: no
    /// committed offset, or, with `retention_ms`, none committed since it has
    /// been idle that long. It forgets its offsets and returns its charges to
    /// the budget, once; returns whether it retired the group now.
    fn retire_if_forgotten(
        &self,
        state: &mut GroupState,
        now_ms: i64,
        retention_ms: Option<i64>,
    ) -> bool {
        let expired = retention_ms
            .is_some_and(|retention| now_ms.saturating_sub(state.idle_since_ms) >= retention);
        let forgotten = state.members.is_empty() && (state.offsets.is_empty() || expired);
        if !forgotten || std::mem::replace(&mut state.retired, true) {
            return false;
        }
        let offsets = std::mem::take(&mut state.offsets);
        self.budget
            .release(Self::footprint(&self.name) + offsets.len() as u64 * OFFSET_BYTES);
        true
    }

    /// A member's poll: expires members past `max.poll.interval.ms`, records the
    /// poll, and says what the member revokes and acquires (G2-G4).
    pub(crate) fn sync(&self, member: u64, now_ms: i64) -> Result<SyncPlan, ConsumerError> {
        let mut state = self.state.lock();
        let mut wake = Vec::new();
        // This poll keeps the caller alive before anyone is expired.
        if let Some(caller) = state.members.get(&member) {
            caller.last_poll.record(now_ms);
        }
        state.expire(now_ms, &mut wake);
        let mut plan = state.plan(member);
        if let Some(plan) = &mut plan {
            // Relaxed: every increment happens under the lock we hold, plus the
            // one `finish` below is about to make (counted here already).
            plan.changes = self.changes.load(Ordering::Relaxed) + u64::from(!wake.is_empty());
        }
        self.finish(state, wake);
        plan.ok_or_else(|| ConsumerError::MemberExpired {
            group: Arc::clone(&self.name),
        })
    }

    /// True while `member` is a member (not left, not expired: G1).
    pub(crate) fn is_member(&self, member: u64) -> bool {
        self.state.lock().members.contains_key(&member)
    }

    /// Records whether `member` now waits inside a poll (then it is not expired
    /// while it waits) or has stopped waiting (a poll at `now_ms`). Returns
    /// whether it is still a member: one expired since its last sync is not
    /// marked, and no rebalance will wake it (G1), so it must not wait.
    pub(crate) fn set_waiting(&self, member: u64, waiting: bool, now_ms: i64) -> bool {
        let mut state = self.state.lock();
        let Some(registered) = state.members.get_mut(&member) else {
            return false;
        };
        registered.waiting = waiting;
        registered.last_poll.record(now_ms);
        true
    }

    /// Gives up partitions the member revoked (G3) and wakes the members whose
    /// target holds them.
    pub(crate) fn release(&self, member: u64, partitions: &[TopicPartition]) {
        let mut state = self.state.lock();
        for partition in partitions {
            if state.owners.get(partition) == Some(&member) {
                state.owners.remove(partition);
            }
        }
        let wake: Vec<Waker> = state
            .members
            .values()
            .filter(|other| other.target.iter().any(|tp| partitions.contains(tp)))
            .map(|other| other.waker.clone())
            .collect();
        self.finish(state, wake);
    }

    /// Commits `offsets` for a member: every partition must be its own (Kafka's
    /// generation check); all or nothing.
    pub(crate) fn commit_owned(
        &self,
        member: u64,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), ConsumerError> {
        let mut state = self.state.lock();
        if !state.members.contains_key(&member) {
            return Err(ConsumerError::MemberExpired {
                group: Arc::clone(&self.name),
            });
        }
        if let Some((partition, _)) = offsets
            .iter()
            .find(|(partition, _)| state.owners.get(partition) != Some(&member))
        {
            return Err(ConsumerError::NotOwner {
                group: Arc::clone(&self.name),
                partition: partition.clone(),
            });
        }
        Ok(state.store_offsets(offsets, &self.budget)?)
    }

    /// Commits `offsets` with no membership check (a consumer that is not a
    /// member, or `Log::commit_offset`) at `now_ms`, all or nothing; `None` if
    /// the group was retired (G5: the caller looks it up again).
    pub(crate) fn commit(
        &self,
        offsets: &[(TopicPartition, u64)],
        now_ms: i64,
    ) -> Option<Result<(), LogError>> {
        let mut state = self.state.lock();
        if state.retired {
            return None;
        }
        if let Err(full) = state.store_offsets(offsets, &self.budget) {
            return Some(Err(full));
        }
        if state.members.is_empty() {
            // Kafka's retention of an empty group's offsets counts from the
            // last commit too.
            state.idle_since_ms = state.idle_since_ms.max(now_ms);
        }
        Some(Ok(()))
    }

    /// The committed offset of a partition, if any.
    pub(crate) fn committed(&self, partition: &TopicPartition) -> Option<u64> {
        self.state.lock().offsets.get(partition).copied()
    }
}

impl GroupState {
    /// Stores `offsets`, all or nothing: the new entries are charged to
    /// `budget` first ([`OFFSET_BYTES`] each, every partition once however
    /// often the list names it, as `Group::retire_if_forgotten` releases one per entry),
    /// so a full budget refuses the whole commit and stores nothing.
    fn store_offsets(
        &mut self,
        offsets: &[(TopicPartition, u64)],
        budget: &Budget,
    ) -> Result<(), LogError> {
        let new: HashSet<&TopicPartition> = offsets
            .iter()
            .map(|(partition, _)| partition)
            .filter(|partition| !self.offsets.contains_key(*partition))
            .collect();
        budget.try_charge(new.len() as u64 * OFFSET_BYTES)?;
        for (partition, offset) in offsets {
            self.offsets.insert(partition.clone(), *offset);
        }
        Ok(())
    }

    /// Removes the members that did not poll within their interval (their
    /// partitions are free: G3 holds because an expired member's next poll
    /// fails before reading), rebalancing if any left.
    fn expire(&mut self, now_ms: i64, wake: &mut Vec<Waker>) {
        let expired: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, member)| {
                !member.waiting
                    && now_ms.saturating_sub(member.last_poll.get()) > member.max_poll_interval_ms
            })
            .map(|(&id, _)| id)
            .collect();
        let mut changed = false;
        for id in expired {
            changed |= self.remove_member(id, now_ms);
        }
        if changed {
            self.rebalance(wake);
        }
    }

    /// Drops a member at `now_ms` and frees what it owns; false if it was not a
    /// member. The last one leaves the group idle, keeping only its offsets
    /// (the tables a membership needed are freed, G5).
    fn remove_member(&mut self, member: u64, now_ms: i64) -> bool {
        if self.members.remove(&member).is_none() {
            return false;
        }
        self.owners.retain(|_, owner| *owner != member);
        if self.members.is_empty() {
            self.assignor = None;
            self.idle_since_ms = now_ms;
            self.members = BTreeMap::new();
            self.owners = HashMap::new();
            self.partition_counts = BTreeMap::new();
        }
        true
    }

    /// A new generation: targets from the assignor, given what each member owns
    /// (so a sticky assignor keeps it), and every member woken to sync (G1).
    fn rebalance(&mut self, wake: &mut Vec<Waker>) {
        self.generation += 1;
        let Some(assignor) = self.assignor else {
            return;
        };
        let mut owned: BTreeMap<u64, Vec<(Arc<str>, u32)>> =
            self.members.keys().map(|&id| (id, Vec::new())).collect();
        for (partition, member) in &self.owners {
            if let Some(list) = owned.get_mut(member) {
                list.push((Arc::clone(&partition.topic), partition.partition));
            }
        }
        let views: Vec<MemberView<'_>> = self
            .members
            .iter()
            .map(|(&id, member)| MemberView {
                id,
                topics: &member.topics,
                owned: owned.get(&id).map_or(&[][..], Vec::as_slice),
            })
            .collect();
        let mut targets = assignor.assign(&views, &self.partition_counts);
        for (id, member) in &mut self.members {
            member.target = targets
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .map(|(topic, partition)| TopicPartition { topic, partition })
                .collect();
            wake.push(member.waker.clone());
        }
    }

    /// The member's revocations and acquisitions; `None` if it is no member.
    fn plan(&mut self, member: u64) -> Option<SyncPlan> {
        let target = &self.members.get(&member)?.target;
        let revoke = self
            .owners
            .iter()
            .filter(|(partition, owner)| **owner == member && !target.contains(partition))
            .map(|(partition, _)| partition.clone())
            .collect();
        let mut acquire = Vec::new();
        for partition in target {
            // G4: only a partition no one owns; one still owned by its previous
            // owner is taken at a later sync, after that owner released it.
            if !self.owners.contains_key(partition) {
                self.owners.insert(partition.clone(), member);
                acquire.push((partition.clone(), self.offsets.get(partition).copied()));
            }
        }
        Some(SyncPlan {
            revoke,
            acquire,
            generation: self.generation,
            changes: 0,
        })
    }
}
