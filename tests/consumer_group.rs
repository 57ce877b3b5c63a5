//! Consumer groups in process: membership, assignors, rebalance hand-over at the
//! committed offset (G1-G4 in `idemlog::implementation`), expiry past
//! `max.poll.interval.ms`, commits, and bad input. The hand-over is checked
//! three ways: scenario tests, every interleaving of a small schedule of member
//! actions (a deterministic scheduler), and a threaded stress run.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use idemlog::consumer::{Assignor, ConsumerConfig, OffsetReset, Rebalance};
use idemlog::{
    ConsumerError, Log, LogConfig, LogError, ManualClock, MultiConsumer, Record, TopicPartition,
};

fn config(group: &str) -> ConsumerConfig {
    ConsumerConfig::new()
        .group_id(group)
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
}

fn log_with(topic: &str, partitions: u32) -> Log {
    let log = Log::new();
    log.create_topic(topic, partitions).unwrap();
    log
}

fn fill(log: &Log, topic: &str, partition: u32, count: usize) {
    for i in 0..count {
        log.append(topic, partition, None, Record::new(format!("{i}")))
            .unwrap();
    }
}

#[path = "common/slow_revoke.rs"]
mod slow_revoke;
use slow_revoke::slow_revoker;

fn manual_log(clock: &Arc<ManualClock>) -> Log {
    Log::with_config(LogConfig::default().clock(clock.clone()).housekeeping(None)).unwrap()
}

fn partitions(list: &[(&str, u32)]) -> Vec<TopicPartition> {
    list.iter()
        .map(|&(t, p)| TopicPartition::new(t, p))
        .collect()
}

/// Polls (non-blocking) until the member's assignment is stable.
fn settle(members: &mut [&mut MultiConsumer]) {
    for _ in 0..4 {
        for member in members.iter_mut() {
            member.poll_with(0, |_| ()).unwrap();
        }
    }
}

fn sorted(mut list: Vec<TopicPartition>) -> Vec<TopicPartition> {
    list.sort();
    list
}

#[test]
fn two_members_split_the_partitions_with_each_assignor() {
    for (assignor, first, second) in [
        (
            Assignor::Range,
            partitions(&[("a", 0), ("a", 1), ("b", 0), ("b", 1)]),
            partitions(&[("a", 2), ("b", 2)]),
        ),
        (
            Assignor::RoundRobin,
            partitions(&[("a", 0), ("a", 2), ("b", 1)]),
            partitions(&[("a", 1), ("b", 0), ("b", 2)]),
        ),
    ] {
        let log = log_with("a", 3);
        log.create_topic("b", 3).unwrap();
        let group = config("g").assignor(assignor);
        let mut one = log.subscribe(group.clone(), &["a", "b"]).unwrap();
        let mut two = log.subscribe(group, &["b", "a"]).unwrap();
        settle(&mut [&mut one, &mut two]);
        assert_eq!(sorted(one.assignment()), first, "{assignor:?}");
        assert_eq!(sorted(two.assignment()), second, "{assignor:?}");
        assert_eq!(one.generation(), two.generation());
    }
}

#[test]
fn the_sticky_assignor_moves_only_what_balance_needs() {
    let log = log_with("t", 6);
    let group = config("g").assignor(Assignor::Sticky);
    let mut one = log.subscribe(group.clone(), &["t"]).unwrap();
    settle(&mut [&mut one]);
    assert_eq!(one.assignment().len(), 6);
    let before: BTreeSet<_> = one.assignment().into_iter().collect();
    let mut two = log.subscribe(group, &["t"]).unwrap();
    settle(&mut [&mut one, &mut two]);
    let kept: BTreeSet<_> = one.assignment().into_iter().collect();
    assert_eq!((kept.len(), two.assignment().len()), (3, 3));
    assert!(kept.is_subset(&before), "the first member kept its own");
}

#[test]
fn a_join_hands_partitions_over_at_the_offset_committed_on_revoke() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 10);
    fill(&log, "t", 1, 10);
    let mut first = log.subscribe(config("g"), &["t"]).unwrap();
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&revoked);
    first
        .on_rebalance(move |event| {
            if let Rebalance::Revoked(revocation) = event {
                revocation.commit().unwrap();
                seen.lock()
                    .unwrap()
                    .extend(revocation.partitions().to_vec());
            }
        })
        .unwrap();
    // The first member reads 4 records of each partition.
    let mut read = BTreeMap::<u32, Vec<u64>>::new();
    while read.values().map(Vec::len).sum::<usize>() < 8 {
        first
            .poll_with(1, |r| read.entry(r.partition).or_default().push(r.offset))
            .unwrap();
        read.retain(|_, offsets| {
            offsets.truncate(4);
            true
        });
    }
    for p in 0..2 {
        first.seek("t", p, 4).unwrap();
    }
    let mut second = log.subscribe(config("g"), &["t"]).unwrap();
    // The newcomer owns nothing until the first member's poll revokes.
    assert_eq!(second.poll(100).unwrap(), vec![]);
    assert_eq!(second.assignment(), vec![]);
    first.poll_with(0, |_| ()).unwrap();
    assert_eq!(*revoked.lock().unwrap(), partitions(&[("t", 1)]));
    assert_eq!(log.committed("g", "t", 1).unwrap(), Some(4));
    let records = second.poll(100).unwrap();
    assert_eq!(second.assignment(), partitions(&[("t", 1)]));
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (4..10).collect::<Vec<_>>(),
        "from the committed offset"
    );
    assert_eq!(first.assignment(), partitions(&[("t", 0)]));
}

#[test]
fn leaving_hands_over_and_dropping_commits_nothing() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 5);
    fill(&log, "t", 1, 5);
    let mut first = log.subscribe(config("g"), &["t"]).unwrap();
    let mut second = log.subscribe(config("g"), &["t"]).unwrap();
    settle(&mut [&mut first, &mut second]);
    assert_eq!(first.poll(100).unwrap().len(), 5);
    first.commit().unwrap();
    assert_eq!(second.poll(100).unwrap().len(), 5);
    // Dropped without a commit: its records are read again by the survivor.
    drop(second);
    let again = first.poll(100).unwrap();
    assert_eq!(again.len(), 5);
    assert!(again.iter().all(|r| r.partition == 1 && r.offset < 5));
    // close() with auto commit commits, then leaves.
    let auto = config("h").auto_commit(true);
    let mut closing = log.subscribe(auto.clone(), &["t"]).unwrap();
    assert_eq!(closing.try_iter().count(), 10);
    closing.close().unwrap();
    assert_eq!(log.committed("h", "t", 0).unwrap(), Some(5));
    let mut next = log.subscribe(auto, &["t"]).unwrap();
    assert_eq!(
        next.try_iter().count(),
        0,
        "resumed at the commits of close"
    );
}

#[test]
fn a_member_that_stops_polling_is_expired_and_its_partitions_move() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    fill(&log, "t", 0, 3);
    fill(&log, "t", 1, 3);
    let group = config("g").max_poll_interval(Duration::from_millis(1_000));
    let mut stalled = log.subscribe(group.clone(), &["t"]).unwrap();
    let mut live = log.subscribe(group, &["t"]).unwrap();
    settle(&mut [&mut stalled, &mut live]);
    assert_eq!(stalled.poll(1).unwrap().len(), 1);
    let lost = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&lost);
    stalled
        .on_rebalance(move |event| {
            if let Rebalance::Lost(partitions) = event {
                seen.lock().unwrap().extend(partitions.to_vec());
            }
        })
        .unwrap();
    // The live member keeps polling; the stalled one does not, past the interval.
    for _ in 0..12 {
        clock.advance_ms(100);
        live.poll_with(0, |_| ()).unwrap();
    }
    assert_eq!(
        live.assignment().len(),
        2,
        "took the expired member's partition"
    );
    assert_eq!(
        live.try_iter().count(),
        3 + 3,
        "from the committed offsets (none)"
    );
    // The expired member learns it at its next poll, which joins again.
    assert!(matches!(
        stalled.commit(),
        Err(ConsumerError::MemberExpired { .. })
    ));
    assert!(matches!(
        stalled.poll(10),
        Err(ConsumerError::MemberExpired { .. })
    ));
    assert_eq!(lost.lock().unwrap().len(), 1);
    assert_eq!(stalled.assignment(), vec![]);
    settle(&mut [&mut live, &mut stalled]);
    assert_eq!(
        (live.assignment().len(), stalled.assignment().len()),
        (1, 1)
    );
}

#[test]
fn a_member_that_never_polls_holds_back_only_its_own_partitions_until_it_expires() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    fill(&log, "t", 0, 2);
    fill(&log, "t", 1, 2);
    let group = config("g").max_poll_interval(Duration::from_millis(500));
    let mut polling = log.subscribe(group.clone(), &["t"]).unwrap();
    let _silent = log.subscribe(group, &["t"]).unwrap();
    assert_eq!(polling.try_iter().count(), 2, "its own partition only");
    clock.advance_ms(501);
    assert_eq!(
        polling.try_iter().count(),
        2,
        "the silent member's, after it expired"
    );
}

#[test]
fn commits_are_checked_against_ownership() {
    let log = log_with("t", 2);
    let mut first = log.subscribe(config("g"), &["t"]).unwrap();
    let mut second = log.subscribe(config("g"), &["t"]).unwrap();
    settle(&mut [&mut first, &mut second]);
    let theirs = second.assignment()[0].clone();
    assert_eq!(
        first.commit_offsets(&[(theirs.clone(), 0)]),
        Err(ConsumerError::NotAssigned { partition: theirs })
    );
    let mine = first.assignment()[0].clone();
    assert!(matches!(
        first.commit_offsets(&[(mine.clone(), 99)]),
        Err(ConsumerError::OffsetOutOfRange { .. })
    ));
    first.commit_offsets(&[(mine.clone(), 0)]).unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    first.commit_async(move |result| sender.send(result).unwrap());
    assert!(receiver.try_recv().is_err(), "reported at the next poll");
    first.poll_with(0, |_| ()).unwrap();
    assert_eq!(receiver.try_recv().unwrap(), Ok(()));
}

/// A revoke listener's chosen offsets are checked like `commit_offsets`: an
/// offset past the log end is refused (it would make the next owner skip every
/// record written up to it), one at the end is taken.
#[test]
fn a_revoke_listeners_commit_past_the_log_end_is_refused() {
    let log = log_with("t", 1);
    fill(&log, "t", 0, 3);
    let tp = TopicPartition::new("t", 0);
    let mut first = log.subscribe(config("g"), &["t"]).unwrap();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&answers);
    let listened = tp.clone();
    first
        .on_rebalance(move |event| {
            if let Rebalance::Revoked(revocation) = event {
                let mut seen = seen.lock().unwrap();
                seen.push(revocation.commit_offsets(&[(listened.clone(), 999)]));
                seen.push(revocation.commit_offsets(&[(listened.clone(), 3)]));
            }
        })
        .unwrap();
    first.poll_with(0, |_| ()).unwrap();
    first.close().unwrap();
    assert_eq!(
        *answers.lock().unwrap(),
        vec![
            Err(ConsumerError::OffsetOutOfRange {
                partition: tp.clone(),
                offset: 999,
                log_start: 0,
                log_end: 3
            }),
            Ok(())
        ]
    );
    assert_eq!(log.committed("g", "t", 0).unwrap(), Some(3));
    // The next owner starts at the committed end: nothing written after it is skipped.
    fill(&log, "t", 0, 5);
    let mut second = log.subscribe(config("g"), &["t"]).unwrap();
    let offsets: Vec<u64> = second.poll(100).unwrap().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (3..8).collect::<Vec<_>>());
}

#[test]
fn bad_subscriptions_get_clear_errors() {
    let log = log_with("t", 2);
    assert_eq!(
        log.subscribe(ConsumerConfig::new(), &["t"]).unwrap_err(),
        ConsumerError::NoGroupId
    );
    assert_eq!(
        log.subscribe(config("g"), &[]).unwrap_err(),
        ConsumerError::EmptySubscription
    );
    assert!(matches!(
        log.subscribe(config("g"), &["t", "missing"]),
        Err(ConsumerError::Log(LogError::UnknownTopic { .. }))
    ));
    let mut member = log.subscribe(config("g"), &["t"]).unwrap();
    assert_eq!(member.assign("t", 0), Err(ConsumerError::NotSubscribed));
    assert_eq!(member.unassign("t", 0), Err(ConsumerError::NotSubscribed));
    let other = config("g").assignor(Assignor::RoundRobin);
    assert!(matches!(
        log.subscribe(other, &["t"]),
        Err(ConsumerError::InconsistentAssignor { .. })
    ));
    // A member with nothing assigned (more members than partitions) polls empty.
    let mut extra = Vec::new();
    for _ in 0..3 {
        extra.push(log.subscribe(config("g"), &["t"]).unwrap());
    }
    member.poll_with(0, |_| ()).unwrap();
    let mut empty = 0;
    for m in &mut extra {
        m.poll_with(0, |_| ()).unwrap();
        empty += usize::from(m.assignment().is_empty());
    }
    assert!(empty >= 2);
    assert_eq!(
        member.poll_with_timeout(1, Duration::from_millis(1), |_| ()),
        Ok(0)
    );
}

/// A deterministic scheduler: every interleaving of a small schedule of member
/// actions (polls that process and commit, a join, a close, a drop, appends),
/// each checked for G2-G4: no partition read by two live members, and every
/// record read at least once by the end, in order per partition from each
/// owner's starting point.
#[test]
fn every_interleaving_of_a_small_schedule_hands_over_without_loss_or_overlap() {
    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// Member `i` polls up to 2 records and commits what it read.
        Poll(usize),
        /// Member `i` polls up to 2 records and does not commit.
        PollNoCommit(usize),
        /// Member 1 joins.
        Join,
        /// Member 0 closes (commit on revoke by its listener).
        Close,
        /// Member 0 is dropped (no commit).
        Drop,
        /// An append to each partition.
        Append,
    }
    let steps = [
        Step::Poll(0),
        Step::Join,
        Step::Poll(1),
        Step::PollNoCommit(0),
        Step::Append,
        Step::Poll(1),
    ];
    let enders = [Step::Close, Step::Drop];
    let mut runs = 0;
    for ender in enders {
        // Interleave: all permutations of the schedule that keep Join before
        // member 1's polls, plus the ender at every position after the first poll.
        let mut schedule: Vec<Step> = steps.to_vec();
        schedule.push(ender);
        permutations(&mut schedule, 0, &mut |order| {
            if valid(order) {
                runs += 1;
                run_schedule(order);
            }
        });
    }
    assert!(runs > 1_000, "explored {runs} interleavings");

    fn valid(order: &[Step]) -> bool {
        let join = order.iter().position(|s| matches!(s, Step::Join)).unwrap();
        let member_one_polls_after_join = order
            .iter()
            .enumerate()
            .all(|(i, s)| !matches!(s, Step::Poll(1) | Step::PollNoCommit(1)) || i > join);
        let end = order
            .iter()
            .position(|s| matches!(s, Step::Close | Step::Drop))
            .unwrap();
        let member_zero_polls_before_end = order
            .iter()
            .enumerate()
            .all(|(i, s)| !matches!(s, Step::Poll(0) | Step::PollNoCommit(0)) || i < end);
        member_one_polls_after_join && member_zero_polls_before_end
    }

    fn permutations(items: &mut Vec<Step>, k: usize, visit: &mut impl FnMut(&[Step])) {
        if k == items.len() {
            visit(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permutations(items, k + 1, visit);
            items.swap(k, i);
        }
    }

    fn run_schedule(order: &[Step]) {
        let log = log_with("t", 2);
        fill(&log, "t", 0, 3);
        fill(&log, "t", 1, 3);
        let mut members: Vec<Option<MultiConsumer>> = vec![Some(member(&log)), None];
        // Per partition: the offsets each read saw, in order, and who read them.
        let mut reads: BTreeMap<u32, Vec<(usize, u64)>> = BTreeMap::new();
        let mut do_poll = |members: &mut Vec<Option<MultiConsumer>>, i: usize, commit: bool| {
            let Some(consumer) = members[i].as_mut() else {
                return;
            };
            let mut got = Vec::new();
            consumer
                .poll_with(2, |r| got.push((r.partition, r.offset)))
                .unwrap();
            let owned: BTreeSet<u32> = consumer
                .assignment()
                .iter()
                .map(|tp| tp.partition)
                .collect();
            for (partition, offset) in got {
                assert!(
                    owned.contains(&partition),
                    "{order:?}: read a partition it does not own"
                );
                reads.entry(partition).or_default().push((i, offset));
            }
            if commit {
                consumer.commit().unwrap();
            }
        };
        for step in order {
            match *step {
                Step::Poll(i) => do_poll(&mut members, i, true),
                Step::PollNoCommit(i) => do_poll(&mut members, i, false),
                Step::Join => members[1] = Some(member(&log)),
                Step::Close => {
                    if let Some(consumer) = members[0].take() {
                        consumer.close().unwrap();
                    }
                }
                Step::Drop => drop(members[0].take()),
                Step::Append => {
                    fill(&log, "t", 0, 1);
                    fill(&log, "t", 1, 1);
                }
            }
            // G2: the live members' assignments are disjoint.
            let owned: Vec<TopicPartition> = members
                .iter()
                .flatten()
                .flat_map(|m| m.assignment())
                .collect();
            let distinct: BTreeSet<_> = owned.iter().cloned().collect();
            assert_eq!(
                owned.len(),
                distinct.len(),
                "{order:?}: a partition owned twice"
            );
        }
        // Drain with whoever is left, then check nothing was skipped.
        let survivor = members[1].as_mut().expect("member 1 joined and stays");
        for _ in 0..10 {
            let mut got = Vec::new();
            survivor
                .poll_with(100, |r| got.push((r.partition, r.offset)))
                .unwrap();
            for (partition, offset) in got {
                reads.entry(partition).or_default().push((1, offset));
            }
        }
        for partition in 0..2u32 {
            let end = log.partition("t", partition).unwrap().log_end_offset();
            let seen: BTreeSet<u64> = reads
                .get(&partition)
                .map(|r| r.iter().map(|&(_, o)| o).collect())
                .unwrap_or_default();
            assert_eq!(
                seen,
                (0..end).collect(),
                "{order:?}: partition {partition} skipped a record"
            );
            // Each member's reads of a partition are in offset order (in these
            // schedules no member gets a partition back after losing it).
            for who in 0..2 {
                let mine: Vec<u64> = reads[&partition]
                    .iter()
                    .filter(|&&(w, _)| w == who)
                    .map(|&(_, o)| o)
                    .collect();
                assert!(
                    mine.windows(2).all(|w| w[0] < w[1]),
                    "{order:?}: out of order {mine:?}"
                );
            }
        }
    }

    fn member(log: &Log) -> MultiConsumer {
        let mut consumer = log.subscribe(config("g"), &["t"]).unwrap();
        consumer
            .on_rebalance(|event| {
                if let Rebalance::Revoked(revocation) = event {
                    revocation.commit().unwrap();
                }
            })
            .unwrap();
        consumer
    }
}

/// Threads: 2 appenders into 8 partitions while members join, poll, commit,
/// close and get dropped. Each record carries (partition, offset) implicitly;
/// every processing of a record marks its partition busy, and two live members
/// must never process the same partition at once (G2/G3). At the end a fresh
/// member drains from the committed offsets and every offset was processed.
#[test]
fn stress_members_come_and_go_while_records_flow() {
    const PARTITIONS: u32 = 8;
    const PER_PARTITION: u64 = 2_000;
    let log = log_with("t", PARTITIONS);
    let busy: Arc<Vec<AtomicUsize>> =
        Arc::new((0..PARTITIONS).map(|_| AtomicUsize::new(0)).collect());
    let processed: Arc<Vec<Mutex<BTreeSet<u64>>>> = Arc::new(
        (0..PARTITIONS)
            .map(|_| Mutex::new(BTreeSet::new()))
            .collect(),
    );
    let appended = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2u32)
        .map(|w| {
            let log = log.clone();
            let appended = Arc::clone(&appended);
            thread::spawn(move || {
                for i in 0..PER_PARTITION * u64::from(PARTITIONS) / 2 {
                    let partition = (i as u32 * 2 + w) % PARTITIONS;
                    log.append("t", partition, None, Record::new("r")).unwrap();
                    appended.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let total = PER_PARTITION * u64::from(PARTITIONS);
    let deadline = Instant::now() + Duration::from_secs(60);
    let members: Vec<_> = (0..3usize)
        .map(|id| {
            let log = log.clone();
            let busy = Arc::clone(&busy);
            let processed = Arc::clone(&processed);
            let appended = Arc::clone(&appended);
            thread::spawn(move || {
                let mut generation = 0u64;
                while appended.load(Ordering::Relaxed) < total && Instant::now() < deadline {
                    let mut member = log
                        .subscribe(config("g").assignor(Assignor::Sticky), &["t"])
                        .unwrap();
                    member
                        .on_rebalance(|event| {
                            if let Rebalance::Revoked(revocation) = event {
                                revocation.commit().unwrap();
                            }
                        })
                        .unwrap();
                    for _ in 0..(20 + 13 * (id + generation as usize) % 40) {
                        member
                            .poll_with_timeout(64, Duration::from_millis(2), |r| {
                                let slot = &busy[r.partition as usize];
                                assert_eq!(
                                    slot.swap(id + 1, Ordering::AcqRel),
                                    0,
                                    "two members process partition {} at once",
                                    r.partition
                                );
                                processed[r.partition as usize]
                                    .lock()
                                    .unwrap()
                                    .insert(r.offset);
                                slot.store(0, Ordering::Release);
                            })
                            .unwrap();
                        member.commit().unwrap();
                    }
                    if generation % 2 == 0 {
                        member.close().unwrap();
                    } else {
                        drop(member);
                    }
                    generation += 1;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for member in members {
        member.join().unwrap();
    }
    let mut last = log
        .subscribe(config("g").assignor(Assignor::Sticky), &["t"])
        .unwrap();
    while last
        .poll_with_timeout(10_000, Duration::from_millis(20), |r| {
            processed[r.partition as usize]
                .lock()
                .unwrap()
                .insert(r.offset);
        })
        .unwrap()
        > 0
    {}
    for partition in 0..PARTITIONS as usize {
        assert_eq!(
            processed[partition].lock().unwrap().len() as u64,
            PER_PARTITION,
            "partition {partition}: every record processed"
        );
    }
}

#[test]
fn dropping_a_member_mid_rebalance_hands_everything_over() {
    let log = log_with("t", 4);
    for p in 0..4 {
        fill(&log, "t", p, 3);
    }
    let mut first = log.subscribe(config("g"), &["t"]).unwrap();
    assert_eq!(first.poll(100).unwrap().len(), 12);
    first.commit().unwrap();
    fill(&log, "t", 0, 2);
    // A rebalance starts: the newcomer waits for the first member's revocation...
    let mut second = log.subscribe(config("g"), &["t"]).unwrap();
    assert_eq!(second.poll(100).unwrap().len(), 0);
    // ...which never comes: the first member is dropped mid-rebalance.
    drop(first);
    let records = second.poll(100).unwrap();
    assert_eq!(second.assignment().len(), 4);
    let offsets: Vec<(u32, u64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(offsets, [(0, 3), (0, 4)], "from the committed offsets");
}

#[test]
fn extreme_poll_arguments_return() {
    let log = log_with("t", 2);
    fill(&log, "t", 1, 3);
    let mut member = log.subscribe(config("g"), &["t"]).unwrap();
    assert_eq!(member.poll_with_timeout(0, Duration::MAX, |_| ()), Ok(0));
    assert_eq!(member.poll_with(usize::MAX, |_| ()), Ok(3));
    assert_eq!(
        member.poll_with_timeout(usize::MAX, Duration::ZERO, |_| ()),
        Ok(0)
    );
    assert_eq!(member.poll_timeout(Duration::ZERO), Ok(vec![]));
}

/// A log on `clock` with topic "t" of 2 partitions and two members of group
/// "g" (interval 1 s) that own one each.
fn two_settled_members(clock: &Arc<ManualClock>) -> (Log, MultiConsumer, MultiConsumer) {
    let log = manual_log(clock);
    log.create_topic("t", 2).unwrap();
    let group = config("g").max_poll_interval(Duration::from_millis(1_000));
    let mut first = log.subscribe(group.clone(), &["t"]).unwrap();
    let mut second = log.subscribe(group, &["t"]).unwrap();
    settle(&mut [&mut first, &mut second]);
    (log, first, second)
}

#[test]
fn a_member_waiting_inside_a_poll_is_not_expired() {
    let clock = Arc::new(ManualClock::new(0));
    let (log, mut active, mut waiting) = two_settled_members(&clock);
    let theirs = waiting.assignment()[0].partition;
    let blocked = thread::spawn(move || {
        let mut read = Vec::new();
        let got = waiting
            .poll_with_timeout(10, Duration::from_secs(60), |r| read.push(r.partition))
            .unwrap();
        (got, read, waiting.assignment().len())
    });
    thread::sleep(Duration::from_millis(100));
    // Far past the interval while it waits; the active member's syncs expire
    // no one.
    for _ in 0..10 {
        clock.advance_ms(1_000);
        active.poll_with(0, |_| ()).unwrap();
    }
    assert_eq!(
        active.assignment().len(),
        1,
        "the waiting member kept its partition"
    );
    log.append("t", theirs, None, Record::new("for the waiter"))
        .unwrap();
    assert_eq!(blocked.join().unwrap(), (1, vec![theirs], 1));
}

/// Liveness counts every poll, also one that skips the group sync (an idle
/// group's member syncs only every quarter interval): a member that polled
/// 752 ms ago with `max.poll.interval.ms` 1000 keeps its partition (its last
/// *sync* 1001 ms ago expired it, a quarter interval early).
#[test]
fn a_poll_that_skips_the_sync_still_keeps_the_member_alive() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let (_log, mut a, mut b) = two_settled_members(&clock);
    assert_eq!((a.assignment().len(), b.assignment().len()), (1, 1));
    clock.advance_ms(249);
    a.poll(1).unwrap(); // within a quarter interval of its last sync: no sync
    clock.advance_ms(752);
    b.poll(1).unwrap();
    b.poll(1).unwrap();
    assert_eq!(b.assignment().len(), 1, "b took a's partition");
    assert!(a.poll(1).is_ok());
    assert_eq!(a.assignment().len(), 1);
    // Past the interval since its last poll, it is expired.
    clock.advance_ms(1_001);
    b.poll(1).unwrap();
    assert!(matches!(
        a.poll(1),
        Err(ConsumerError::MemberExpired { .. })
    ));
}

/// A member the group expires during its own poll (its `Revoked` listener is
/// slow, and the other member syncs meanwhile) is no member when it would
/// start waiting, and no rebalance would end that wait: the blocking poll
/// reports `MemberExpired` at once. (Its spin before parking polls again and
/// finds the expiry here; `start_waiting` closes the window after the spin,
/// which the async twin in tests/consumer_async.rs hits deterministically.)
#[test]
fn a_member_expired_during_its_own_poll_reports_it_instead_of_waiting() {
    let clock = Arc::new(ManualClock::new(0));
    let (_log, mut slow, other) = slow_revoker(&clock);
    let started = Instant::now();
    let answer = slow.poll_timeout(Duration::from_secs(30));
    assert!(
        matches!(answer, Err(ConsumerError::MemberExpired { .. })),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "it waited");
    // Its next poll rejoined: it follows the group again.
    slow.poll(0).unwrap();
    settle(&mut [&mut slow, &mut other.lock().unwrap()]);
    assert_eq!(slow.assignment().len(), 1);
}

#[test]
fn commit_callbacks_waiting_for_a_poll_are_bounded() {
    let log = log_with("t", 1);
    let mut member = log.subscribe(config("g"), &["t"]).unwrap();
    member.poll_with(0, |_| ()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let total = idemlog::consumer::MAX_PENDING_COMMIT_CALLBACKS + 10;
    for _ in 0..total {
        let done = Arc::clone(&done);
        member.commit_async(move |result| {
            result.unwrap();
            done.fetch_add(1, Ordering::Relaxed);
        });
    }
    assert_eq!(done.load(Ordering::Relaxed), 10, "the oldest ran at once");
    member.poll_with(0, |_| ()).unwrap();
    assert_eq!(done.load(Ordering::Relaxed), total, "the rest at the poll");
}

/// A `commit_async` callback that panics reaches the poll that runs it; the
/// callbacks queued behind it still get their results, at the next poll and
/// at `close` (review finding: the queue was taken whole, and a panic dropped
/// the rest uncalled). Also when the panicking one is run early, by the bound.
#[test]
fn a_panicking_commit_callback_leaves_the_others_queued() {
    let log = log_with("t", 1);
    fill(&log, "t", 0, 3);
    let mut member = log.subscribe(config("g"), &["t"]).unwrap();
    member.poll_with(0, |_| ()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let counted = |done: &Arc<AtomicUsize>| {
        let done = Arc::clone(done);
        move |result: Result<(), ConsumerError>| {
            result.unwrap();
            done.fetch_add(1, Ordering::Relaxed);
        }
    };
    member.commit_async(|_| panic!("a callback that panics"));
    member.commit_async(counted(&done));
    member.commit_async(|_| panic!("a second one"));
    member.commit_async(counted(&done));
    let polled = catch_unwind(AssertUnwindSafe(|| member.poll_with(0, |_| ())));
    assert!(
        polled.is_err(),
        "the first callback's panic reaches the poll"
    );
    assert_eq!(done.load(Ordering::Relaxed), 0);
    assert!(catch_unwind(AssertUnwindSafe(|| member.poll_with(0, |_| ()))).is_err());
    assert_eq!(
        done.load(Ordering::Relaxed),
        1,
        "the one behind the first ran"
    );
    member.poll_with(0, |_| ()).unwrap();
    assert_eq!(
        done.load(Ordering::Relaxed),
        2,
        "and the one behind the second"
    );

    // The bound runs the oldest at `commit_async`: its panic loses no other.
    member.commit_async(|_| panic!("the oldest, run by the bound"));
    for _ in 1..idemlog::consumer::MAX_PENDING_COMMIT_CALLBACKS {
        member.commit_async(counted(&done));
    }
    let overflowed = catch_unwind(AssertUnwindSafe(|| member.commit_async(counted(&done))));
    assert!(overflowed.is_err(), "the oldest ran at once and panicked");
    assert_eq!(done.load(Ordering::Relaxed), 2);
    member.close().unwrap();
    assert_eq!(
        done.load(Ordering::Relaxed),
        2 + idemlog::consumer::MAX_PENDING_COMMIT_CALLBACKS,
        "every queued callback ran at close, the one whose commit overflowed too"
    );
}

/// Two settled members of "g" on "t": one with an hour's `max.poll.interval.ms`,
/// one with a second's (it expires once the clock moves past it).
fn alive_and_stalling(log: &Log) -> (MultiConsumer, MultiConsumer) {
    let hour = config("g").max_poll_interval(Duration::from_secs(3600));
    let second = config("g").max_poll_interval(Duration::from_millis(1_000));
    let mut alive = log.subscribe(hour, &["t"]).unwrap();
    let mut stalling = log.subscribe(second, &["t"]).unwrap();
    settle(&mut [&mut alive, &mut stalling]);
    (alive, stalling)
}

/// A join refused with `InconsistentAssignor` may already have expired a member
/// and rebalanced: the survivors are still woken and counted as changed, so a
/// polling survivor takes the expired member's partition (review finding F1).
#[test]
fn refused_join_that_expired_a_member_still_wakes_the_group() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    let (mut alive, stalled) = alive_and_stalling(&log);
    assert_eq!(alive.assignment().len(), 1);
    clock.advance_ms(2_000); // `stalled` is now past its interval
    let refused = log.subscribe(config("g").assignor(Assignor::RoundRobin), &["t"]);
    assert!(matches!(
        refused,
        Err(ConsumerError::InconsistentAssignor { .. })
    ));
    log.append("t", 0, None, Record::new("x")).unwrap();
    log.append("t", 1, None, Record::new("y")).unwrap();
    let mut read = 0;
    for _ in 0..10 {
        read += alive.poll_with(10, |_| ()).unwrap();
    }
    assert_eq!(
        alive.assignment().len(),
        2,
        "the expired member's partition goes to the live member"
    );
    assert_eq!(read, 2);
    drop(stalled);
}

/// Closing a member that was expired tells its listener `Lost` for the
/// partitions it still held, not `Revoked`: they belong to another member
/// already, and a commit from a `Revoked` listener failed with
/// `MemberExpired` (review finding; the README's listener
/// `revocation.commit().expect(..)` panicked on it).
#[test]
fn closing_an_expired_member_tells_lost_not_revoked() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    let (mut alive, mut stalled) = alive_and_stalling(&log);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let listener = Arc::clone(&heard);
    stalled
        .on_rebalance(move |event| {
            let heard = match event {
                Rebalance::Revoked(revocation) => {
                    format!("revoked, commit {:?}", revocation.commit())
                }
                Rebalance::Lost(lost) => format!("lost {}", lost.len()),
                _ => return,
            };
            listener.lock().unwrap().push(heard);
        })
        .unwrap();
    // Past `stalled`'s interval, and past a quarter of `alive`'s, so that
    // `alive`'s poll syncs with the group (G1), which expires `stalled`.
    clock.advance_ms(16 * 60_000);
    for _ in 0..10 {
        alive.poll_with(10, |_| ()).unwrap();
    }
    assert_eq!(alive.assignment().len(), 2, "the live member took both");
    stalled.close().unwrap();
    assert_eq!(*heard.lock().unwrap(), ["lost 1"]);
}

/// The same with the survivor blocked in `poll_with_timeout`: the refused join's
/// rebalance wakes it, and it reads the record on its new partition at once.
#[test]
fn refused_join_that_expired_a_member_wakes_a_blocked_member() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 2).unwrap();
    let (mut alive, stalled) = alive_and_stalling(&log);
    let theirs = stalled.assignment()[0].partition;
    log.append("t", theirs, None, Record::new("for whoever owns it"))
        .unwrap();
    let blocked = thread::spawn(move || {
        let start = Instant::now();
        let got = alive
            .poll_with_timeout(10, Duration::from_secs(3), |_| ())
            .unwrap();
        (got, start.elapsed())
    });
    thread::sleep(Duration::from_millis(200));
    clock.advance_ms(2_000);
    let refused = log.subscribe(config("g").assignor(Assignor::RoundRobin), &["t"]);
    assert!(matches!(
        refused,
        Err(ConsumerError::InconsistentAssignor { .. })
    ));
    let (got, elapsed) = blocked.join().unwrap();
    assert_eq!(
        got, 1,
        "woken by the rebalance, it acquires the partition and reads"
    );
    assert!(elapsed < Duration::from_secs(2), "slept {elapsed:?}");
    drop(stalled);
}

/// A listener that panics on `Revoked`, in a sync whose plan also acquires
/// partitions: the acquired partitions are taken before any listener runs, and
/// the interrupted sync is redone at the next poll, so no partition is left
/// owned and unread (review finding F2).
#[test]
fn a_panicking_revoke_listener_does_not_strand_acquired_partitions() {
    let clock = Arc::new(ManualClock::new(0));
    let log = manual_log(&clock);
    log.create_topic("t", 6).unwrap();
    let mut a = log.subscribe(config("g"), &["t"]).unwrap();
    let mut b = log.subscribe(config("g"), &["t"]).unwrap();
    let mut c = log.subscribe(config("g"), &["t"]).unwrap();
    for _ in 0..4 {
        a.poll_with(0, |_| ()).unwrap();
        b.poll_with(0, |_| ()).unwrap();
        c.poll_with(0, |_| ()).unwrap();
    }
    // range: a {0,1}, b {2,3}, c {4,5}
    assert_eq!(
        b.assignment(),
        vec![TopicPartition::new("t", 2), TopicPartition::new("t", 3)]
    );
    let panicked = Arc::new(AtomicBool::new(false));
    let once = Arc::clone(&panicked);
    b.on_rebalance(move |event| {
        if let Rebalance::Revoked(_) = event {
            if !once.swap(true, Ordering::SeqCst) {
                panic!("listener bug");
            }
        }
    })
    .unwrap();
    drop(a); // range over b, c: b {0,1,2}, c {3,4,5}: b revokes 3, acquires 0, 1
    let first = catch_unwind(AssertUnwindSafe(|| b.poll_with(0, |_| ())));
    assert!(first.is_err(), "the listener panicked");
    for p in 0..6 {
        log.append("t", p, None, Record::new("r")).unwrap();
    }
    let mut read = 0;
    for _ in 0..20 {
        // Past the keep-alive (max.poll.interval / 4 = 75 s) each round, so
        // every poll syncs; both members stay well within the interval.
        clock.advance_ms(100_000);
        read += b.poll_with(100, |_| ()).unwrap();
        read += c.poll_with(100, |_| ()).unwrap();
    }
    let mut assigned = b.assignment();
    assigned.sort();
    assert_eq!(
        assigned,
        vec![
            TopicPartition::new("t", 0),
            TopicPartition::new("t", 1),
            TopicPartition::new("t", 2)
        ]
    );
    assert_eq!(read, 6, "every record read by someone");
}

/// A member of `group` ("g", a 200 ms `max.poll.interval.ms`) that owns the
/// only partition of `t` and then stops polling (kept alive, as a hung thread
/// would be), beside a member that owns nothing; the record "x" waits on the
/// stalled member's partition.
fn stalled_owner_and_idle_member(log: &Log) -> (MultiConsumer, MultiConsumer) {
    log.create_topic("t", 1).unwrap();
    let group = config("g").max_poll_interval(Duration::from_millis(200));
    let mut stalled = log.subscribe(group.clone(), &["t"]).unwrap();
    stalled.poll_with(0, |_| ()).unwrap();
    let mut idle = log.subscribe(group, &["t"]).unwrap();
    settle(&mut [&mut stalled, &mut idle]);
    assert_eq!(
        (stalled.assignment().len(), idle.assignment().len()),
        (1, 0)
    );
    log.append("t", 0, None, Record::new("x")).unwrap();
    (stalled, idle)
}

/// The housekeeper expires a member that stopped polling even while the only
/// other member waits inside a blocking poll (which syncs no one), and the
/// rebalance wakes the waiter, which takes the partition over (review finding:
/// expiry used to happen only at another member's poll or join, so the waiter
/// slept out its whole timeout, and `iter()` forever).
#[test]
fn a_blocked_member_takes_over_from_a_stalled_one_within_its_interval() {
    let log = Log::new(); // the default housekeeper, every second
    let (stalled, mut waiter) = stalled_owner_and_idle_member(&log);
    let start = Instant::now();
    let got = waiter.recv_timeout(Duration::from_secs(20)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(got.map(|record| record.value), Some(b"x".to_vec().into()));
    assert!(
        elapsed < Duration::from_secs(5),
        "200 ms interval, 1 s housekeeping: took over after {elapsed:?}"
    );
    assert_eq!(waiter.assignment().len(), 1);
    drop(stalled);
}

/// The same through the blocking iterator, which waits with no timeout at all.
#[test]
fn the_blocking_iterator_of_a_member_takes_over_from_a_stalled_one() {
    let log = Log::new();
    let (stalled, mut waiter) = stalled_owner_and_idle_member(&log);
    let (done, finished) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let value = waiter.iter().next().map(|record| record.unwrap().value);
        let _ = done.send(());
        value
    });
    let ended = finished.recv_timeout(Duration::from_secs(20));
    drop(stalled); // ends the wait in any case (a leave rebalances)
    assert!(ended.is_ok(), "the iterator still waited after 20 s");
    assert_eq!(reader.join().unwrap(), Some(b"x".to_vec().into()));
}

/// Expiry by the housekeeper follows the log's clock: with a manual clock, a
/// stalled member goes when the clock passes its interval, not before.
#[test]
fn the_housekeeper_expires_members_by_the_logs_clock() {
    let clock = Arc::new(ManualClock::new(0));
    let log = Log::with_config(
        LogConfig::default()
            .clock(clock.clone())
            .housekeeping(Some(Duration::from_millis(1))),
    )
    .unwrap();
    let (stalled, mut waiter) = stalled_owner_and_idle_member(&log);
    let blocked = thread::spawn(move || {
        let got = waiter
            .poll_with_timeout(10, Duration::from_secs(20), |_| ())
            .unwrap();
        (got, waiter.assignment().len())
    });
    thread::sleep(Duration::from_millis(100));
    assert!(
        !blocked.is_finished(),
        "no one expired before the clock moved"
    );
    clock.advance_ms(201);
    assert_eq!(blocked.join().unwrap(), (1, 1));
    drop(stalled);
}
