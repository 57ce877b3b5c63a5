//! Partition assignors of a consumer group: how the partitions of the topics a
//! group's members subscribe to are split among its live members on each
//! rebalance, as Kafka's `partition.assignment.strategy` does it.
//!
//! An assignor is a pure function of a snapshot (the members with their
//! subscriptions and current ownership, and each topic's partition count): the
//! group computes the target with [`Assignor::assign`] and then applies it. The
//! result is deterministic, so every caller holding the same snapshot agrees on
//! it, and it never depends on the order in which members are listed (they are
//! ordered by id, as Kafka orders member ids).
//!
//! - [`Assignor::Range`] splits each topic separately into contiguous ranges.
//! - [`Assignor::RoundRobin`] deals all partitions out in one circle.
//! - [`Assignor::Sticky`] balances like round robin but keeps partitions with
//!   their current owners wherever balance allows.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A partition of a topic, as assigned: (topic, partition index).
pub(crate) type TopicPartition = (Arc<str>, u32);

/// How a group splits its topics' partitions among its live members (Kafka's
/// `partition.assignment.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Assignor {
    /// Kafka's `range`: each topic on its own; its subscribers, ordered by id,
    /// get contiguous ranges of its partitions, the first ones one more when
    /// the count does not divide evenly (the default, as in Kafka).
    #[default]
    Range,
    /// Kafka's `roundrobin`: all partitions of all subscribed topics, ordered
    /// by (topic, partition), dealt one by one around the circle of members
    /// ordered by id, skipping members that do not subscribe to the topic.
    RoundRobin,
    /// Kafka's `cooperative-sticky` (also accepts `sticky`): balanced like
    /// round robin, and a partition stays with its current owner whenever
    /// balance allows, so a rebalance moves as few partitions as possible.
    Sticky,
}

/// The Java class names Kafka accepts for each strategy, lower-cased.
const CLASS_NAMES: [(&str, Assignor); 4] = [
    (
        "org.apache.kafka.clients.consumer.rangeassignor",
        Assignor::Range,
    ),
    (
        "org.apache.kafka.clients.consumer.roundrobinassignor",
        Assignor::RoundRobin,
    ),
    (
        "org.apache.kafka.clients.consumer.stickyassignor",
        Assignor::Sticky,
    ),
    (
        "org.apache.kafka.clients.consumer.cooperativestickyassignor",
        Assignor::Sticky,
    ),
];

impl Assignor {
    /// Kafka's name for it: "range", "roundrobin", "cooperative-sticky".
    pub fn kafka_name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "cooperative-sticky",
        }
    }

    /// Parses Kafka's names (trimmed, case-insensitive): "range",
    /// "roundrobin", "sticky", "cooperative-sticky", and the Java class names
    /// "org.apache.kafka.clients.consumer.RangeAssignor",
    /// "...RoundRobinAssignor", "...StickyAssignor",
    /// "...CooperativeStickyAssignor". None otherwise.
    pub fn from_kafka_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "range" => Some(Assignor::Range),
            "roundrobin" => Some(Assignor::RoundRobin),
            // Kafka's eager `sticky` differs from `cooperative-sticky` only in
            // how the move is carried out, not in the target it computes.
            "sticky" | "cooperative-sticky" => Some(Assignor::Sticky),
            _ => CLASS_NAMES
                .iter()
                .find(|(class, _)| *class == name)
                .map(|&(_, assignor)| assignor),
        }
    }
}

/// One live member as an assignor sees it.
#[derive(Debug)]
pub(crate) struct MemberView<'a> {
    /// The member's id (members are ordered by it, as Kafka orders member ids).
    pub(crate) id: u64,
    /// The topics it subscribed to (no duplicates, any order).
    pub(crate) topics: &'a [Arc<str>],
    /// What it owns now (used by `Sticky`; the others ignore it).
    pub(crate) owned: &'a [TopicPartition],
}

impl Assignor {
    /// The target assignment: every partition of every topic in
    /// `partition_counts` (topic -> partition count) that at least one member
    /// subscribes to goes to exactly one member that subscribes to its topic.
    /// Every member in `members` has an entry (possibly empty). Each member's
    /// list is sorted by (topic, partition). Deterministic: the same input
    /// gives the same output.
    pub(crate) fn assign(
        self,
        members: &[MemberView<'_>],
        partition_counts: &BTreeMap<Arc<str>, u32>,
    ) -> BTreeMap<u64, Vec<TopicPartition>> {
        let subscribers = subscribers(members, partition_counts);
        let topics = subscribed_topics(&subscribers, partition_counts);
        let lists = match self {
            Assignor::Range => range(subscribers.len(), &topics),
            Assignor::RoundRobin => round_robin(&subscribers, &topics),
            Assignor::Sticky => sticky(&subscribers, &topics, partition_counts),
        };
        subscribers
            .iter()
            .map(|subscriber| subscriber.id)
            .zip(lists)
            .collect()
    }
}

/// A member normalized for assigning; members are handled by their index in
/// the id-sorted list, so "smaller index" means "smaller id" in tie-breaks.
struct Subscriber<'a> {
    id: u64,
    /// Only the subscribed topics that exist, so no strategy ever has to
    /// consider a topic without a partition count.
    topics: BTreeSet<&'a str>,
    owned: &'a [TopicPartition],
}

impl Subscriber<'_> {
    fn subscribes(&self, topic: &str) -> bool {
        self.topics.contains(topic)
    }
}

/// The members sorted by id, with their subscriptions restricted to known
/// topics.
fn subscribers<'a>(
    members: &[MemberView<'a>],
    partition_counts: &BTreeMap<Arc<str>, u32>,
) -> Vec<Subscriber<'a>> {
    let mut subscribers: Vec<Subscriber<'a>> = members
        .iter()
        .map(|member| Subscriber {
            id: member.id,
            topics: member
                .topics
                .iter()
                .map(|topic| &**topic)
                .filter(|topic| partition_counts.contains_key(*topic))
                .collect(),
            owned: member.owned,
        })
        .collect();
    subscribers.sort_by_key(|subscriber| subscriber.id);
    subscribers
}

/// A topic that at least one member subscribes to.
struct Topic {
    name: Arc<str>,
    partitions: u32,
    /// Indices of its subscribers, ascending (so in id order); never empty.
    subscribers: Vec<usize>,
}

impl Topic {
    fn partition(&self, partition: u32) -> TopicPartition {
        (Arc::clone(&self.name), partition)
    }
}

/// The topics to assign, in name order: those of `partition_counts` that some
/// member subscribes to (the others are left unassigned).
fn subscribed_topics(
    subscribers: &[Subscriber<'_>],
    partition_counts: &BTreeMap<Arc<str>, u32>,
) -> Vec<Topic> {
    partition_counts
        .iter()
        .map(|(name, &partitions)| Topic {
            name: Arc::clone(name),
            partitions,
            subscribers: (0..subscribers.len())
                .filter(|&index| subscribers[index].subscribes(name))
                .collect(),
        })
        .filter(|topic| !topic.subscribers.is_empty())
        .collect()
}

/// Kafka's range assignor; returns one list per subscriber index. Topics come
/// in name order and each topic's partitions in index order, so every list is
/// sorted without a sort.
fn range(members: usize, topics: &[Topic]) -> Vec<Vec<TopicPartition>> {
    let mut lists = vec![Vec::new(); members];
    for topic in topics {
        // One iterator per topic, handed out in consecutive takes, makes the
        // ranges contiguous and disjoint by construction.
        let mut partitions = 0..topic.partitions;
        let sharers = topic.subscribers.len();
        for (rank, &member) in topic.subscribers.iter().enumerate() {
            let share = range_share(topic.partitions, sharers, rank);
            let taken = partitions.by_ref().take(share);
            lists[member].extend(taken.map(|partition| topic.partition(partition)));
        }
    }
    lists
}

/// How many of `partitions` the `rank`-th of `sharers` members gets: an equal
/// share, plus one for the first `partitions % sharers`, as Kafka does.
fn range_share(partitions: u32, sharers: usize, rank: usize) -> usize {
    // u32 always fits in usize on the platforms Rust's std supports; saturating
    // keeps this total anyway.
    let partitions = usize::try_from(partitions).unwrap_or(usize::MAX);
    let base = partitions.checked_div(sharers).unwrap_or(0);
    let extra = partitions.checked_rem(sharers).unwrap_or(0);
    base + usize::from(rank < extra)
}

/// Kafka's round-robin assignor; returns one list per subscriber index.
fn round_robin(subscribers: &[Subscriber<'_>], topics: &[Topic]) -> Vec<Vec<TopicPartition>> {
    let mut lists = vec![Vec::new(); subscribers.len()];
    // Where the circle stands: the member the next partition is offered to
    // first. It carries over between topics, as Kafka's circular iterator does.
    let mut next = 0;
    for topic in topics {
        for partition in 0..topic.partitions {
            if let Some(member) = next_subscriber(subscribers, next, &topic.name) {
                lists[member].push(topic.partition(partition));
                next = (member + 1) % subscribers.len();
            }
        }
    }
    lists
}

/// The first member at or after `from` in the circle that subscribes to
/// `topic`; one turn of the circle at most.
fn next_subscriber(subscribers: &[Subscriber<'_>], from: usize, topic: &str) -> Option<usize> {
    let len = subscribers.len();
    (0..len)
        .map(|step| (from + step) % len)
        .find(|&member| subscribers[member].subscribes(topic))
}

/// The partitions of one topic that one member holds during a sticky
/// assignment, split by how it came to hold them.
#[derive(Default)]
struct Held {
    /// Owned before this rebalance and kept.
    kept: BTreeSet<u32>,
    /// Given during this rebalance.
    given: BTreeSet<u32>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.given.is_empty()
    }

    /// The partition to move away when this member must give one up: a given
    /// one first, since moving it undoes no ownership, then the highest index.
    fn take_one(&mut self) -> Option<u32> {
        self.given.pop_last().or_else(|| self.kept.pop_last())
    }

    /// All of them, ascending (`BTreeSet::union` yields ascending order).
    fn sorted(&self) -> Vec<u32> {
        self.kept.union(&self.given).copied().collect()
    }
}

/// What one member holds during a sticky assignment.
#[derive(Default)]
struct Load {
    held: BTreeMap<Arc<str>, Held>,
    /// Total number of partitions held, across topics.
    count: usize,
}

impl Load {
    fn keep(&mut self, topic: &Arc<str>, partition: u32) {
        let held = self.held.entry(Arc::clone(topic)).or_default();
        if held.kept.insert(partition) {
            self.count += 1;
        }
    }

    fn give(&mut self, topic: &Arc<str>, partition: u32) {
        let held = self.held.entry(Arc::clone(topic)).or_default();
        if held.given.insert(partition) {
            self.count += 1;
        }
    }

    fn holds_any_of(&self, topic: &str) -> bool {
        self.held.get(topic).is_some_and(|held| !held.is_empty())
    }

    /// Removes one partition of `topic`, if it holds one.
    fn take_one(&mut self, topic: &str) -> Option<u32> {
        let partition = self.held.get_mut(topic)?.take_one()?;
        self.count = self.count.saturating_sub(1);
        Some(partition)
    }

    /// Everything held, sorted by (topic, partition): topics are the keys of a
    /// sorted map, and each topic's partitions come out ascending.
    fn into_list(self) -> Vec<TopicPartition> {
        let mut list = Vec::with_capacity(self.count);
        for (topic, held) in &self.held {
            list.extend(held.sorted().into_iter().map(|p| (Arc::clone(topic), p)));
        }
        list
    }
}

/// The sticky assignor; returns one list per subscriber index.
///
/// Three greedy steps: every member keeps what it validly owns, the partitions
/// nobody kept go one by one to the least-loaded eligible member, and then a
/// fix-up moves partitions from over-loaded to under-loaded eligible members
/// until the result is balanced. Keeping everything first and moving only what
/// balance demands is what makes it sticky; there is no per-member quota,
/// because with uneven subscriptions a fair quota is not a single number, and
/// the fix-up already removes exactly the excess.
fn sticky(
    subscribers: &[Subscriber<'_>],
    topics: &[Topic],
    partition_counts: &BTreeMap<Arc<str>, u32>,
) -> Vec<Vec<TopicPartition>> {
    let mut loads: Vec<Load> = subscribers.iter().map(|_| Load::default()).collect();
    let claimed = keep_owned(subscribers, partition_counts, &mut loads);
    place_unclaimed(topics, &claimed, &mut loads);
    rebalance(topics, &mut loads);
    loads.into_iter().map(Load::into_list).collect()
}

/// Lets every member keep the partitions it owns that still exist and whose
/// topic it still subscribes to; returns every partition so kept.
///
/// Members are visited in id order and a partition is kept only by its first
/// claimant, so a partition claimed by two members stays with the smaller id
/// (and one listed twice by the same member counts once).
fn keep_owned(
    subscribers: &[Subscriber<'_>],
    partition_counts: &BTreeMap<Arc<str>, u32>,
    loads: &mut [Load],
) -> BTreeSet<TopicPartition> {
    let mut claimed = BTreeSet::new();
    for (subscriber, load) in subscribers.iter().zip(loads.iter_mut()) {
        for (topic, partition) in subscriber.owned {
            if !subscriber.subscribes(topic) {
                continue;
            }
            // The map's own key, so all lists share one `Arc` per topic.
            let Some((name, &partitions)) = partition_counts.get_key_value(&**topic) else {
                continue;
            };
            if *partition < partitions && claimed.insert((Arc::clone(name), *partition)) {
                load.keep(name, *partition);
            }
        }
    }
    claimed
}

/// Gives every partition that nobody kept to the least-loaded member
/// subscribing to its topic (the smaller id on a tie): filling the emptiest
/// first already balances the common cases, leaving the fix-up little to do.
fn place_unclaimed(topics: &[Topic], claimed: &BTreeSet<TopicPartition>, loads: &mut [Load]) {
    for topic in topics {
        for partition in 0..topic.partitions {
            if claimed.contains(&topic.partition(partition)) {
                continue;
            }
            if let Some(member) = least_loaded(&topic.subscribers, loads) {
                loads[member].give(&topic.name, partition);
            }
        }
    }
}

/// The member of `candidates` holding the fewest partitions; the first (the
/// smaller id) on a tie, since `min_by_key` keeps the first minimum.
fn least_loaded(candidates: &[usize], loads: &[Load]) -> Option<usize> {
    candidates
        .iter()
        .copied()
        .min_by_key(|&member| loads[member].count)
}

/// A partition move the fix-up decided on: one partition of `topic` from
/// `from` to `to`.
struct Move<'t> {
    topic: &'t Arc<str>,
    from: usize,
    to: usize,
    /// `from`'s count minus `to`'s; at least 2.
    gap: usize,
}

/// Moves partitions until no partition could go to a member that subscribes to
/// its topic and holds at least 2 fewer partitions than its owner.
///
/// Termination: each move takes one partition from a member holding `x` to one
/// holding `y <= x - 2`, so the sum over members of the squared counts changes
/// by `(x-1)² + (y+1)² - x² - y² = 2(y - x + 1) <= -2`. That sum is a
/// non-negative integer (at most `total²` at the start), so the loop makes at
/// most `total² / 2` moves before `find_move` finds none. A move that cannot be
/// carried out (which the choice of `from` rules out) stops the loop rather
/// than retrying the same choice forever.
fn rebalance(topics: &[Topic], loads: &mut [Load]) {
    while let Some(planned) = find_move(topics, loads) {
        let Some(partition) = loads[planned.from].take_one(planned.topic) else {
            break;
        };
        loads[planned.to].give(planned.topic, partition);
    }
}

/// The move with the largest gap over all topics (the first topic on a tie),
/// or None once the assignment is balanced. Taking the largest gap makes the
/// fix-up move from the most to the least loaded member, which is what keeps
/// the number of moves minimal when all members subscribe to the same topics.
fn find_move<'t>(topics: &'t [Topic], loads: &[Load]) -> Option<Move<'t>> {
    topics
        .iter()
        .filter_map(|topic| topic_move(topic, loads))
        // `min_by_key` on the reversed gap keeps the first of the largest.
        .min_by_key(|planned| Reverse(planned.gap))
}

/// The most useful move within one topic: from the most-loaded member holding
/// one of its partitions to its least-loaded subscriber (the smaller id on
/// ties), if their counts differ by 2 or more.
fn topic_move<'t>(topic: &'t Topic, loads: &[Load]) -> Option<Move<'t>> {
    let from = topic
        .subscribers
        .iter()
        .copied()
        .filter(|&member| loads[member].holds_any_of(&topic.name))
        .min_by_key(|&member| Reverse(loads[member].count))?;
    let to = least_loaded(&topic.subscribers, loads)?;
    let gap = loads[from].count.checked_sub(loads[to].count)?;
    (gap >= 2).then_some(Move {
        topic: &topic.name,
        from,
        to,
        gap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::{select, subsequence};

    fn tp(topic: &str, partition: u32) -> TopicPartition {
        (Arc::from(topic), partition)
    }

    fn tps(list: &[(&str, u32)]) -> Vec<TopicPartition> {
        list.iter().map(|&(topic, p)| tp(topic, p)).collect()
    }

    fn names(list: &[&str]) -> Vec<Arc<str>> {
        list.iter().map(|&topic| Arc::from(topic)).collect()
    }

    fn counts(list: &[(&str, u32)]) -> BTreeMap<Arc<str>, u32> {
        list.iter()
            .map(|&(topic, n)| (Arc::from(topic), n))
            .collect()
    }

    /// An owned member, from which `MemberView`s are borrowed.
    #[derive(Clone, Debug)]
    struct Member {
        id: u64,
        topics: Vec<Arc<str>>,
        owned: Vec<TopicPartition>,
    }

    impl Member {
        fn new(id: u64, topics: &[&str], owned: &[(&str, u32)]) -> Self {
            Member {
                id,
                topics: names(topics),
                owned: tps(owned),
            }
        }

        fn view(&self) -> MemberView<'_> {
            MemberView {
                id: self.id,
                topics: &self.topics,
                owned: &self.owned,
            }
        }
    }

    type Assignment = BTreeMap<u64, Vec<TopicPartition>>;

    fn run(assignor: Assignor, members: &[Member], counts: &BTreeMap<Arc<str>, u32>) -> Assignment {
        let views: Vec<MemberView<'_>> = members.iter().map(Member::view).collect();
        assignor.assign(&views, counts)
    }

    /// The same members, each owning what `assignment` gives it.
    fn owning(members: &[Member], assignment: &Assignment) -> Vec<Member> {
        members
            .iter()
            .map(|member| Member {
                owned: assignment.get(&member.id).cloned().unwrap_or_default(),
                ..member.clone()
            })
            .collect()
    }

    fn expected(members: &[(u64, &[(&str, u32)])]) -> Assignment {
        members.iter().map(|&(id, list)| (id, tps(list))).collect()
    }

    const ALL: [Assignor; 3] = [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky];

    #[test]
    fn range_matches_kafkas_example() {
        let members = [
            Member::new(0, &["t0", "t1"], &[]),
            Member::new(1, &["t0", "t1"], &[]),
        ];
        let out = run(Assignor::Range, &members, &counts(&[("t0", 3), ("t1", 3)]));
        let want = expected(&[
            (0, &[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]),
            (1, &[("t0", 2), ("t1", 2)]),
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn range_gives_the_extra_partitions_to_the_first_members() {
        let members = [
            Member::new(9, &["t"], &[]),
            Member::new(2, &["t"], &[]),
            Member::new(5, &["t"], &[]),
        ];
        let out = run(Assignor::Range, &members, &counts(&[("t", 7)]));
        let want = expected(&[
            (2, &[("t", 0), ("t", 1), ("t", 2)]),
            (5, &[("t", 3), ("t", 4)]),
            (9, &[("t", 5), ("t", 6)]),
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn range_splits_each_topic_among_its_own_subscribers() {
        let members = [
            Member::new(0, &["a"], &[]),
            Member::new(1, &["a", "b"], &[]),
        ];
        let out = run(Assignor::Range, &members, &counts(&[("a", 2), ("b", 2)]));
        let want = expected(&[(0, &[("a", 0)]), (1, &[("a", 1), ("b", 0), ("b", 1)])]);
        assert_eq!(out, want);
    }

    #[test]
    fn round_robin_matches_kafkas_example() {
        let members = [
            Member::new(0, &["t0", "t1"], &[]),
            Member::new(1, &["t0", "t1"], &[]),
        ];
        let out = run(
            Assignor::RoundRobin,
            &members,
            &counts(&[("t0", 3), ("t1", 3)]),
        );
        let want = expected(&[
            (0, &[("t0", 0), ("t0", 2), ("t1", 1)]),
            (1, &[("t0", 1), ("t1", 0), ("t1", 2)]),
        ]);
        assert_eq!(out, want);
    }

    /// The uneven-subscriptions example of Kafka's `RoundRobinAssignor` docs.
    #[test]
    fn round_robin_matches_kafkas_uneven_subscriptions_example() {
        let members = [
            Member::new(0, &["t0"], &[]),
            Member::new(1, &["t0", "t1"], &[]),
            Member::new(2, &["t0", "t1", "t2"], &[]),
        ];
        let partitions = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let out = run(Assignor::RoundRobin, &members, &partitions);
        let want = expected(&[
            (0, &[("t0", 0)]),
            (1, &[("t1", 0)]),
            (2, &[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]),
        ]);
        assert_eq!(out, want);
    }

    /// Example 1 of Kafka's `StickyAssignor` docs: the documented first
    /// assignment, then C1 leaves and C0 and C2 keep everything they had.
    #[test]
    fn sticky_matches_kafkas_member_leaves_example() {
        let all = ["t0", "t1", "t2", "t3"];
        let partitions = counts(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let before = [
            Member::new(0, &all, &[]),
            Member::new(1, &all, &[]),
            Member::new(2, &all, &[]),
        ];
        let first = run(Assignor::Sticky, &before, &partitions);
        let want = expected(&[
            (0, &[("t0", 0), ("t1", 1), ("t3", 0)]),
            (1, &[("t0", 1), ("t2", 0), ("t3", 1)]),
            (2, &[("t1", 0), ("t2", 1)]),
        ]);
        assert_eq!(first, want);

        let after = owning(&[before[0].clone(), before[2].clone()], &first);
        let out = run(Assignor::Sticky, &after, &partitions);
        let want = expected(&[
            (0, &[("t0", 0), ("t1", 1), ("t2", 0), ("t3", 0)]),
            (2, &[("t0", 1), ("t1", 0), ("t2", 1), ("t3", 1)]),
        ]);
        assert_eq!(out, want);
    }

    /// Example 2 of Kafka's `StickyAssignor` docs: uneven subscriptions, then
    /// C0 leaves.
    #[test]
    fn sticky_matches_kafkas_uneven_subscriptions_example() {
        let partitions = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let members = [
            Member::new(0, &["t0"], &[]),
            Member::new(1, &["t0", "t1"], &[]),
            Member::new(2, &["t0", "t1", "t2"], &[]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        let want = expected(&[
            (0, &[("t0", 0)]),
            (1, &[("t1", 0), ("t1", 1)]),
            (2, &[("t2", 0), ("t2", 1), ("t2", 2)]),
        ]);
        assert_eq!(out, want);

        let remaining = owning(&members[1..], &out);
        let out = run(Assignor::Sticky, &remaining, &partitions);
        let want = expected(&[
            (1, &[("t0", 0), ("t1", 0), ("t1", 1)]),
            (2, &[("t2", 0), ("t2", 1), ("t2", 2)]),
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn sticky_ignores_invalid_ownership() {
        let partitions = counts(&[("a", 2), ("b", 1)]);
        let members = [
            // Owns a partition that no longer exists, one of a topic it no
            // longer subscribes to, one of an unknown topic, and one twice.
            Member::new(
                7,
                &["a"],
                &[("a", 5), ("b", 0), ("gone", 0), ("a", 1), ("a", 1)],
            ),
            Member::new(3, &["a", "b"], &[]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        let want = expected(&[(3, &[("a", 0), ("b", 0)]), (7, &[("a", 1)])]);
        assert_eq!(out, want);
    }

    #[test]
    fn sticky_gives_a_doubly_claimed_partition_to_the_smaller_id() {
        let partitions = counts(&[("a", 2)]);
        let members = [
            Member::new(5, &["a"], &[("a", 0)]),
            Member::new(3, &["a"], &[("a", 0)]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        assert_eq!(out, expected(&[(3, &[("a", 0)]), (5, &[("a", 1)])]));
    }

    #[test]
    fn sticky_keeps_owners_when_balanced_and_moves_only_the_excess() {
        let partitions = counts(&[("a", 4)]);
        let members = [
            Member::new(1, &["a"], &[("a", 0), ("a", 1), ("a", 2), ("a", 3)]),
            Member::new(2, &["a"], &[]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        assert_eq!(out[&1].len(), 2);
        assert_eq!(out[&2].len(), 2);
        assert!(out[&1].iter().all(|p| members[0].owned.contains(p)));
    }

    /// Member 1 keeps `t3` and is given `t2` and all of `u`, which only it
    /// subscribes to; balance then takes one `t` partition from it, and it
    /// must be the given `t2`, not the owned `t3`.
    #[test]
    fn sticky_moves_a_given_partition_before_an_owned_one() {
        let partitions = counts(&[("t", 4), ("u", 3)]);
        let members = [
            Member::new(1, &["t", "u"], &[("t", 3)]),
            Member::new(2, &["t"], &[("t", 0), ("t", 1)]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        let want = expected(&[
            (1, &[("t", 3), ("u", 0), ("u", 1), ("u", 2)]),
            (2, &[("t", 0), ("t", 1), ("t", 2)]),
        ]);
        assert_eq!(out, want);
    }

    /// Fixing the smaller imbalance first (member 2's, in the first topic)
    /// would make member 2 give up a partition that it later gets back from
    /// member 1; moving from the most loaded first revokes only member 1's
    /// excess.
    #[test]
    fn sticky_moves_from_the_most_loaded_member_first() {
        let partitions = counts(&[("a", 3), ("b", 5)]);
        let b: Vec<(&str, u32)> = (0..5).map(|p| ("b", p)).collect();
        let members = [
            Member::new(1, &["a", "b"], &b),
            Member::new(2, &["a", "b"], &[("a", 0), ("a", 1), ("a", 2)]),
            Member::new(3, &["a", "b"], &[]),
        ];
        let out = run(Assignor::Sticky, &members, &partitions);
        let want = expected(&[
            (1, &[("b", 0), ("b", 1), ("b", 2)]),
            (2, &[("a", 0), ("a", 1), ("a", 2)]),
            (3, &[("b", 3), ("b", 4)]),
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn no_members_give_an_empty_assignment() {
        for assignor in ALL {
            assert!(run(assignor, &[], &counts(&[("a", 3)])).is_empty());
        }
    }

    #[test]
    fn unsubscribed_empty_and_unknown_topics() {
        // "b" has no subscriber, "z" has no partitions, "gone" is unknown.
        let partitions = counts(&[("a", 2), ("b", 4), ("z", 0)]);
        let members = [
            Member::new(1, &["a", "z", "gone"], &[]),
            Member::new(2, &["gone"], &[]),
            Member::new(3, &["z"], &[]),
        ];
        for assignor in ALL {
            let out = run(assignor, &members, &partitions);
            let want = expected(&[(1, &[("a", 0), ("a", 1)]), (2, &[]), (3, &[])]);
            assert_eq!(out, want, "{assignor:?}");
        }
    }

    #[test]
    fn no_topics_give_every_member_an_empty_entry() {
        let members = [
            Member::new(u64::MAX, &["a"], &[("a", 0)]),
            Member::new(0, &[], &[]),
        ];
        for assignor in ALL {
            let out = run(assignor, &members, &BTreeMap::new());
            assert_eq!(out, expected(&[(0, &[]), (u64::MAX, &[])]), "{assignor:?}");
        }
    }

    #[test]
    fn kafka_names_round_trip() {
        for assignor in ALL {
            assert_eq!(
                Assignor::from_kafka_name(assignor.kafka_name()),
                Some(assignor)
            );
        }
        assert_eq!(Assignor::default(), Assignor::Range);
    }

    #[test]
    fn parses_kafkas_names_and_class_names() {
        let cases = [
            ("range", Assignor::Range),
            ("  RANGE\t", Assignor::Range),
            ("roundrobin", Assignor::RoundRobin),
            ("RoundRobin", Assignor::RoundRobin),
            ("sticky", Assignor::Sticky),
            ("cooperative-sticky", Assignor::Sticky),
            ("Cooperative-Sticky ", Assignor::Sticky),
            (
                "org.apache.kafka.clients.consumer.RangeAssignor",
                Assignor::Range,
            ),
            (
                "org.apache.kafka.clients.consumer.RoundRobinAssignor",
                Assignor::RoundRobin,
            ),
            (
                "org.apache.kafka.clients.consumer.StickyAssignor",
                Assignor::Sticky,
            ),
            (
                " org.apache.kafka.clients.consumer.CooperativeStickyAssignor ",
                Assignor::Sticky,
            ),
        ];
        for (name, assignor) in cases {
            assert_eq!(Assignor::from_kafka_name(name), Some(assignor), "{name:?}");
        }
        for name in [
            "",
            "round-robin",
            "ranges",
            "RangeAssignor",
            "org.apache.kafka.clients.consumer.",
        ] {
            assert_eq!(Assignor::from_kafka_name(name), None, "{name:?}");
        }
    }

    // --- Properties -------------------------------------------------------

    /// Topic names members draw from; the last never has a partition count.
    const POOL: [&str; 5] = ["a", "b", "c", "d", "unknown"];

    /// Some of the first four pool topics, each with 0 to 7 partitions.
    fn counts_strategy() -> impl Strategy<Value = BTreeMap<Arc<str>, u32>> {
        proptest::collection::vec(proptest::option::of(0u32..8), 4).prop_map(|counts| {
            POOL.iter()
                .zip(counts)
                .filter_map(|(topic, n)| n.map(|n| (Arc::from(*topic), n)))
                .collect()
        })
    }

    /// A subscription: distinct pool topics in any order.
    fn topics_strategy() -> impl Strategy<Value = Vec<Arc<str>>> {
        subsequence(POOL.as_slice(), 0..=POOL.len())
            .prop_shuffle()
            .prop_map(|topics| names(&topics))
    }

    /// Arbitrary ownership claims, valid or not, duplicates included.
    fn owned_strategy() -> impl Strategy<Value = Vec<TopicPartition>> {
        proptest::collection::vec((select(POOL.as_slice()), 0u32..9), 0..8)
            .prop_map(|owned| owned.into_iter().map(|(topic, p)| tp(topic, p)).collect())
    }

    /// Distinct ids (small ones and the extremes), listed in any order.
    fn ids_strategy(max: usize) -> impl Strategy<Value = Vec<u64>> {
        let id = prop_oneof![0u64..40, Just(u64::MAX)];
        proptest::collection::btree_set(id, 0..=max)
            .prop_map(|ids| ids.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
    }

    fn members_strategy() -> impl Strategy<Value = Vec<Member>> {
        ids_strategy(6).prop_flat_map(|ids| {
            let rest = proptest::collection::vec((topics_strategy(), owned_strategy()), ids.len());
            (Just(ids), rest).prop_map(|(ids, rest)| {
                ids.into_iter()
                    .zip(rest)
                    .map(|(id, (topics, owned))| Member { id, topics, owned })
                    .collect()
            })
        })
    }

    /// Members that all subscribe to the same topics, owning nothing.
    fn same_topics_strategy(max: usize) -> impl Strategy<Value = Vec<Member>> {
        (ids_strategy(max), topics_strategy()).prop_map(|(ids, topics)| {
            ids.into_iter()
                .map(|id| Member {
                    id,
                    topics: topics.clone(),
                    owned: Vec::new(),
                })
                .collect()
        })
    }

    fn subscribes(member: &Member, topic: &str) -> bool {
        member.topics.iter().any(|t| &**t == topic)
    }

    /// Every partition of every subscribed topic goes to exactly one member
    /// that subscribes to it, nothing else is assigned, every member has a
    /// sorted entry.
    fn check_valid(
        members: &[Member],
        counts: &BTreeMap<Arc<str>, u32>,
        out: &Assignment,
    ) -> Result<(), TestCaseError> {
        let ids: BTreeSet<u64> = members.iter().map(|m| m.id).collect();
        prop_assert_eq!(out.keys().copied().collect::<BTreeSet<_>>(), ids);
        let mut want = BTreeSet::new();
        for (topic, &n) in counts {
            if members.iter().any(|m| subscribes(m, topic)) {
                want.extend((0..n).map(|p| (Arc::clone(topic), p)));
            }
        }
        let mut seen = BTreeSet::new();
        for member in members {
            let list = &out[&member.id];
            prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "unsorted {:?}", list);
            for partition in list {
                prop_assert!(
                    subscribes(member, &partition.0),
                    "{:?} to {}",
                    partition,
                    member.id
                );
                prop_assert!(seen.insert(partition.clone()), "{:?} twice", partition);
            }
        }
        prop_assert_eq!(seen, want);
        Ok(())
    }

    /// No partition could move to a subscriber of its topic holding at least
    /// 2 fewer partitions than its owner.
    fn check_balanced(members: &[Member], out: &Assignment) -> Result<(), TestCaseError> {
        for owner in members {
            let owner_count = out[&owner.id].len();
            for (topic, _) in &out[&owner.id] {
                for other in members.iter().filter(|m| subscribes(m, topic)) {
                    let count = out[&other.id].len();
                    prop_assert!(
                        owner_count <= count + 1,
                        "{} holds {} and {} only {} of {}",
                        owner.id,
                        owner_count,
                        other.id,
                        count,
                        topic
                    );
                }
            }
        }
        Ok(())
    }

    fn spread(out: &Assignment) -> usize {
        let sizes = out.values().map(Vec::len);
        sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0)
    }

    /// Partitions that were in `before` and have another owner in `after`.
    fn moved(before: &Assignment, after: &Assignment) -> usize {
        let owner: BTreeMap<&TopicPartition, u64> = after
            .iter()
            .flat_map(|(&id, list)| list.iter().map(move |p| (p, id)))
            .collect();
        before
            .iter()
            .flat_map(|(&id, list)| list.iter().map(move |p| (p, id)))
            .filter(|(p, id)| owner.get(p) != Some(id))
            .count()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn every_assignor_is_valid_and_deterministic(
            members in members_strategy(),
            counts in counts_strategy(),
        ) {
            for assignor in ALL {
                let out = run(assignor, &members, &counts);
                check_valid(&members, &counts, &out)?;
                prop_assert_eq!(&run(assignor, &members, &counts), &out);
                let reversed: Vec<Member> = members.iter().rev().cloned().collect();
                prop_assert_eq!(&run(assignor, &reversed, &counts), &out);
            }
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn sticky_is_balanced(members in members_strategy(), counts in counts_strategy()) {
            let out = run(Assignor::Sticky, &members, &counts);
            check_balanced(&members, &out)?;
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn sticky_keeps_a_balanced_assignment_unchanged(
            members in members_strategy(),
            counts in counts_strategy(),
        ) {
            let first = run(Assignor::Sticky, &members, &counts);
            let again = run(Assignor::Sticky, &owning(&members, &first), &counts);
            prop_assert_eq!(again, first);
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn same_topics_are_spread_within_one(
            members in same_topics_strategy(6),
            counts in counts_strategy(),
        ) {
            prop_assert!(spread(&run(Assignor::Sticky, &members, &counts)) <= 1);
            prop_assert!(spread(&run(Assignor::RoundRobin, &members, &counts)) <= 1);
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn sticky_moves_at_most_a_share_when_a_member_joins(
            members in same_topics_strategy(6),
            counts in counts_strategy(),
            newcomer in 40u64..50,
        ) {
            let before = run(Assignor::Sticky, &members, &counts);
            let mut joined = owning(&members, &before);
            let topics = members.first().map(|m| m.topics.clone()).unwrap_or_default();
            joined.push(Member { id: newcomer, topics, owned: Vec::new() });
            let after = run(Assignor::Sticky, &joined, &counts);
            let total: usize = after.values().map(Vec::len).sum();
            prop_assert!(moved(&before, &after) <= total.div_ceil(joined.len()) + 1);
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn sticky_moves_nothing_of_the_others_when_a_member_leaves(
            members in same_topics_strategy(6),
            counts in counts_strategy(),
            leaver in any::<proptest::sample::Index>(),
        ) {
            prop_assume!(!members.is_empty());
            let before = run(Assignor::Sticky, &members, &counts);
            let mut left = owning(&members, &before);
            left.remove(leaver.index(members.len()));
            let after = run(Assignor::Sticky, &left, &counts);
            for member in &left {
                let kept = &after[&member.id];
                prop_assert!(member.owned.iter().all(|p| kept.contains(p)));
            }
        }

        /// From any valid partial ownership with the same topics everywhere,
        /// sticky revokes exactly as many owned partitions as balance demands:
        /// the r = total % members largest owners may keep ceil(total /
        /// members), the others floor.
        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn sticky_revokes_the_minimum_with_same_topics(
            members in same_topics_strategy(6),
            counts in counts_strategy(),
            picks in proptest::collection::vec(proptest::option::of(0usize..6), 32),
        ) {
            prop_assume!(!members.is_empty());
            let topics = &members[0].topics;
            let mut owners = members.clone();
            let all = counts
                .iter()
                .filter(|(topic, _)| topics.contains(topic))
                .flat_map(|(topic, &n)| (0..n).map(move |p| (Arc::clone(topic), p)));
            for (partition, pick) in all.zip(picks.iter().chain(std::iter::repeat(&None))) {
                if let Some(owner) = pick.and_then(|i| owners.get_mut(i)) {
                    owner.owned.push(partition);
                }
            }
            let before: Assignment = owners.iter().map(|m| (m.id, m.owned.clone())).collect();
            let after = run(Assignor::Sticky, &owners, &counts);
            let total: usize = after.values().map(Vec::len).sum();
            let (floor, extra) = (total / owners.len(), total % owners.len());
            let mut owned: Vec<usize> = owners.iter().map(|m| m.owned.len()).collect();
            owned.sort_unstable_by(|a, b| b.cmp(a));
            let minimum: usize = owned
                .iter()
                .enumerate()
                .map(|(rank, &n)| n.saturating_sub(floor + usize::from(rank < extra)))
                .sum();
            prop_assert_eq!(moved(&before, &after), minimum);
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, no unsafe; proptest needs the file system")]
        fn range_gives_contiguous_shares_in_id_order(
            members in members_strategy(),
            counts in counts_strategy(),
        ) {
            let out = run(Assignor::Range, &members, &counts);
            for (topic, &n) in &counts {
                let mut sharers: Vec<u64> =
                    members.iter().filter(|m| subscribes(m, topic)).map(|m| m.id).collect();
                sharers.sort_unstable();
                let mut next = 0;
                for (rank, id) in sharers.iter().enumerate() {
                    let mine: Vec<u32> =
                        out[id].iter().filter(|(t, _)| t == topic).map(|&(_, p)| p).collect();
                    let (n, m) = (n as usize, sharers.len());
                    let share = n / m + usize::from(rank < n % m);
                    let want: Vec<u32> = (next..).take(share).collect();
                    prop_assert_eq!(&mine, &want);
                    next += share as u32;
                }
            }
        }
    }
}
