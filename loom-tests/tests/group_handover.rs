//! Model (g): a consumer group's hand-over (G3, G4 in `idemlog::implementation`;
//! the blocked-member model below: G1's wake-up of every member at a rebalance).
//! Member A owns both partitions of "t" and has read the record at offset 0 of
//! partition 1; member B joins from another thread (the range assignor gives it
//! partition 1) and polls, while A polls once more (revoking partition 1: its
//! listener commits the position, then A releases it). In every interleaving B
//! either does not own partition 1 yet or starts at A's commit (offset 1): B
//! never reads that record, which A processed and committed. The mutations
//! "acquire a partition still owned" and "release before the revoke commit" make
//! B read it in some interleaving. A B that owns partition 1 at the end stands
//! at offset 1 (it acquired it at A's commit). Asserts that B took partition 1
//! in some execution (else the check above is vacuous) and, in another, had not
//! yet (A's poll came before B's join, so A revoked nothing).
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_every_outcome, check, one_partition};
use idemlog::consumer::{ConsumerConfig, OffsetReset, Rebalance};
use idemlog::{LogConfig, Record, TopicConfig};
use loom::thread;

static HANDOVER: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

#[test]
fn a_joining_member_starts_at_the_commit_of_the_revoking_owner() {
    check("group_handover", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(2),
        );
        drop(partition);
        log.append("t", 1, None, Record::new("r0")).expect("append");
        let config = ConsumerConfig::new()
            .group_id("g")
            .offset_reset(OffsetReset::Earliest)
            .auto_commit(false);
        let mut owner = log.subscribe(config.clone(), &["t"]).expect("join");
        owner
            .on_rebalance(|event| {
                if let Rebalance::Revoked(revocation) = event {
                    revocation.commit().expect("still the owner");
                }
            })
            .expect("member");
        assert_eq!(owner.poll(10).expect("poll").len(), 1, "A read record 0");

        let joiner = thread::spawn(move || {
            let mut member = log.subscribe(config, &["t"]).expect("join");
            let mut read = Vec::new();
            for _ in 0..2 {
                member
                    .poll_with(10, |record| read.push((record.partition, record.offset)))
                    .expect("poll");
            }
            let took = member.assignment().iter().any(|tp| tp.partition == 1);
            let position = took.then(|| member.position("t", 1).expect("owned"));
            (read, position)
        });
        // A's next poll revokes (with B joined) or finds nothing to do.
        owner.poll_with(10, |_| ()).expect("poll");
        let (read, position) = joiner.join().expect("joiner");
        assert!(
            !read.contains(&(1, 0)),
            "B read 1@0, processed and committed by A: {read:?} (position {position:?})"
        );
        if let Some(position) = position {
            assert_eq!(position, 1, "B took partition 1 at A's commit");
        }
        HANDOVER[usize::from(position.is_some())].fetch_add(1, Ordering::Relaxed);
    });
    assert_every_outcome(
        "group_handover",
        "B without partition 1, B took it",
        &HANDOVER,
    );
}

/// A member blocked in `poll_with_timeout` with no partition (the other member
/// owns the only one) must be woken when the owner leaves: the coordinator's
/// wake-up may land between the blocked member's group sync and its sleep, and
/// must not be lost there (a lost one is a loom deadlock: timed waits never time
/// out under loom).
#[test]
fn a_blocked_member_is_woken_when_the_owner_leaves() {
    check("group_handover_blocked_member", || {
        let (log, partition) = one_partition(
            LogConfig::default().segment_bytes(128).max_segments(4),
            TopicConfig::new(1),
        );
        partition.append(None, Record::new("r0")).expect("append");
        let config = ConsumerConfig::new()
            .group_id("g")
            .offset_reset(OffsetReset::Earliest)
            .auto_commit(false);
        let mut owner = log.subscribe(config.clone(), &["t"]).expect("join");
        owner.poll_with(0, |_| ()).expect("takes the partition");
        let mut waiting = log.subscribe(config, &["t"]).expect("join");
        let waiter = thread::spawn(move || {
            let mut read = Vec::new();
            while read.is_empty() {
                waiting
                    .poll_with_timeout(10, std::time::Duration::from_secs(3_600), |record| {
                        read.push(record.offset)
                    })
                    .expect("poll");
            }
            read
        });
        drop(owner);
        assert_eq!(waiter.join().expect("waiter"), vec![0]);
    });
}
