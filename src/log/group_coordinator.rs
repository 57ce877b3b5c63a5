//! The group coordinator (broker side, as Kafka's): members of consumer groups,
//! their target assignment, which member owns each partition now, and the
//! committed offsets. One mutex per group: only consumers' polls, commits and
//! joins take it, never an append. The hand-over rules are G1-G4 in
//! `crate::implementation`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::task::Waker;

use crate::consumer_error::ConsumerError;
use crate::log::assignor::{Assignor, MemberView};
use crate::sync::{AtomicU64, ConcurrentMap, Mutex, MutexGuard, Ordering};
use crate::types::TopicPartition;

/// Every consumer group of a log, by name.
pub(crate) struct Groups(ConcurrentMap<String, Arc<Group>>);

impl Default for Groups {
    fn default() -> Self {
        Self(ConcurrentMap::new())
    }
}

impl Groups {
    /// The group named `name`, if any member or commit ever used it.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Group>> {
        self.0.get(name)
    }

    /// The group named `name`, created empty on first use.
    pub(crate) fn get_or_create(&self, name: &str) -> Arc<Group> {
        if let Some(group) = self.0.get(name) {
            return group;
        }
        // A racing creator may win: take whichever is in the map.
        self.0
            .insert_if_absent(name.to_string(), Arc::new(Group::new(name)));
        self.0
            .get(name)
            .unwrap_or_else(|| Arc::new(Group::new(name)))
    }
}

/// One consumer group.
pub(crate) struct Group {
    name: Arc<str>,
    /// Bumped (under `state`'s lock) by every change a member must sync for: a
    /// rebalance or a release. A member whose last sync saw the current value
    /// may skip its next one (G1).
    changes: AtomicU64,
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
    last_poll_ms: i64,
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
pub(crate) struct JoinRequest {
    pub(crate) topics: Vec<Arc<str>>,
    pub(crate) partition_counts: Vec<(Arc<str>, u32)>,
    pub(crate) assignor: Assignor,
    pub(crate) max_poll_interval_ms: i64,
    pub(crate) now_ms: i64,
    pub(crate) waker: Waker,
}

impl Group {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            changes: AtomicU64::new(0),
            state: Mutex::new(GroupState::default()),
        }
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

    /// Adds a member (a rebalance); returns its id.
    pub(crate) fn join(&self, request: JoinRequest) -> Result<u64, ConsumerError> {
        let mut state = self.state.lock();
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
        state.partition_counts.extend(request.partition_counts);
        let id = state.next_member_id;
        state.next_member_id += 1;
        state.members.insert(
            id,
            Member {
                topics: request.topics,
                target: Vec::new(),
                last_poll_ms: request.now_ms,
                max_poll_interval_ms: request.max_poll_interval_ms,
                waiting: false,
                waker: request.waker,
            },
        );
        state.rebalance(&mut wake);
        self.finish(state, wake);
        Ok(id)
    }

    /// Removes a member (a rebalance); its partitions are free at once (G3: the
    /// caller has stopped reading them).
    pub(crate) fn leave(&self, member: u64) {
        let mut state = self.state.lock();
        let mut wake = Vec::new();
        if state.remove_member(member) {
            state.rebalance(&mut wake);
        }
        self.finish(state, wake);
    }

    /// A member's poll: expires members past `max.poll.interval.ms`, records the
    /// poll, and says what the member revokes and acquires (G2-G4).
    pub(crate) fn sync(&self, member: u64, now_ms: i64) -> Result<SyncPlan, ConsumerError> {
        let mut state = self.state.lock();
        let mut wake = Vec::new();
        // This poll keeps the caller alive before anyone is expired.
        if let Some(caller) = state.members.get_mut(&member) {
            caller.last_poll_ms = now_ms;
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

    /// Records whether `member` now waits inside a poll (then it is not expired
    /// while it waits) or has stopped waiting (a poll at `now_ms`).
    pub(crate) fn set_waiting(&self, member: u64, waiting: bool, now_ms: i64) {
        if let Some(registered) = self.state.lock().members.get_mut(&member) {
            registered.waiting = waiting;
            registered.last_poll_ms = registered.last_poll_ms.max(now_ms);
        }
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
        for (partition, offset) in offsets {
            state.offsets.insert(partition.clone(), *offset);
        }
        Ok(())
    }

    /// Commits an offset with no membership check (a consumer that is not a
    /// member, or `Log::commit_offset`).
    pub(crate) fn commit(&self, partition: TopicPartition, offset: u64) {
        self.state.lock().offsets.insert(partition, offset);
    }

    /// The committed offset of a partition, if any.
    pub(crate) fn committed(&self, partition: &TopicPartition) -> Option<u64> {
        self.state.lock().offsets.get(partition).copied()
    }
}

impl GroupState {
    /// Removes the members that did not poll within their interval (their
    /// partitions are free: G3 holds because an expired member's next poll
    /// fails before reading), rebalancing if any left.
    fn expire(&mut self, now_ms: i64, wake: &mut Vec<Waker>) {
        let expired: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, member)| {
                !member.waiting
                    && now_ms.saturating_sub(member.last_poll_ms) > member.max_poll_interval_ms
            })
            .map(|(&id, _)| id)
            .collect();
        let mut changed = false;
        for id in expired {
            changed |= self.remove_member(id);
        }
        if changed {
            self.rebalance(wake);
        }
    }

    /// Drops a member and frees what it owns; false if it was not a member.
    fn remove_member(&mut self, member: u64) -> bool {
        if self.members.remove(&member).is_none() {
            return false;
        }
        self.owners.retain(|_, owner| *owner != member);
        if self.members.is_empty() {
            self.assignor = None;
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
