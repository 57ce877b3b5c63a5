//! The registry of a log's consumer groups, by name: a group is made (and
//! charged to the memory budget) on first use, and leaves when it has nothing
//! left to remember, so distinct group ids do not pile up (G5 in
//! `crate::implementation`).

use std::sync::Arc;

use crate::consumer_error::ConsumerError;
use crate::error::LogError;
use crate::log::budget::Budget;
use crate::log::group_coordinator::{Group, JoinRequest};
use crate::sync::ConcurrentMap;
use crate::types::TopicPartition;

/// Every live consumer group of a log, by name.
pub(crate) struct Groups {
    map: ConcurrentMap<String, Arc<Group>>,
    budget: std::sync::Arc<Budget>,
}

impl Groups {
    /// No groups; each one made is charged to `budget`.
    pub(crate) fn new(budget: std::sync::Arc<Budget>) -> Self {
        Self {
            map: ConcurrentMap::new(),
            budget,
        }
    }

    /// The group named `name`, if one is registered (it may be retiring: then
    /// it reads as empty).
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Group>> {
        self.map.get(name)
    }

    /// Adds a member to the group `name` (made if there is none); returns the
    /// group and the member's id.
    pub(crate) fn join(
        &self,
        name: &str,
        request: &JoinRequest,
    ) -> Result<(Arc<Group>, u64), ConsumerError> {
        self.on_live(name, request.now_ms, |group| {
            group
                .join(request)
                .map(|joined| joined.map(|member| (Arc::clone(group), member)))
                .transpose()
        })
    }

    /// Commits `group`'s `offsets` with no membership check, all or nothing
    /// (the group is made if there is none).
    pub(crate) fn commit(
        &self,
        group: &str,
        offsets: &[(TopicPartition, u64)],
        now_ms: i64,
    ) -> Result<(), LogError> {
        self.on_live(group, now_ms, |live| live.commit(offsets, now_ms))
    }

    /// Removes `member` from `group`; a group left with nothing to remember
    /// leaves the registry (G5).
    pub(crate) fn leave(&self, group: &Arc<Group>, member: u64, now_ms: i64) {
        if group.leave(member, now_ms) {
            self.forget(group);
        }
    }

    /// The housekeeper's pass: every group expires its members past their
    /// interval (G1), and a group with no member whose offsets have been idle
    /// for `retention_ms` leaves the registry (G5).
    pub(crate) fn housekeep(&self, now_ms: i64, retention_ms: i64) {
        // The groups first (no name copied): a group's lock is never taken
        // under the map's.
        let mut groups = Vec::with_capacity(self.map.len());
        self.map.for_each(|_, group| groups.push(Arc::clone(group)));
        for group in groups {
            if group.housekeep(now_ms, retention_ms) {
                self.forget(&group);
            }
        }
    }

    /// Runs `op` on the group `name`, made, charged and registered if there is
    /// none. `op` answers `None` when it found the group retired (G5): then that
    /// group leaves the registry, if it is still there, and `op` runs again on
    /// the group found or made next. So `op` only ever acts on a live group,
    /// and there is at most one per name. A group that `op` refused and left
    /// with no member and no offset is retired and leaves.
    fn on_live<T, E: From<LogError>>(
        &self,
        name: &str,
        now_ms: i64,
        mut op: impl FnMut(&Arc<Group>) -> Option<Result<T, E>>,
    ) -> Result<T, E> {
        loop {
            let group = match self.map.get(name) {
                Some(group) => group,
                None => {
                    self.budget.try_charge(Group::footprint(name))?;
                    let made = Arc::new(Group::new(
                        name,
                        std::sync::Arc::clone(&self.budget),
                        now_ms,
                    ));
                    if !self
                        .map
                        .insert_if_absent(name.to_string(), Arc::clone(&made))
                    {
                        // A racing maker registered one first: use it.
                        self.budget.release(Group::footprint(name));
                        continue;
                    }
                    made
                }
            };
            match op(&group) {
                Some(Ok(done)) => return Ok(done),
                Some(Err(refused)) => {
                    // A refused first use (a commit the budget refused, say)
                    // leaves no group with nothing to remember (G5).
                    if group.retire_if_unused(now_ms) {
                        self.forget(&group);
                    }
                    return Err(refused);
                }
                None => self.forget(&group),
            }
        }
    }

    /// Takes the retired `group` out of the registry, if it is still there
    /// (pointer-equal: a group made since under its name stays).
    fn forget(&self, group: &Arc<Group>) {
        self.map.remove_if(&group.name().to_string(), |current| {
            Arc::ptr_eq(current, group)
        });
    }
}
