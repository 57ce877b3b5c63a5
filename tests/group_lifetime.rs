//! How long a consumer group lives (G5 in `idemlog::implementation`): a group
//! is made on first use and charged to the memory budget; it is removed when
//! its last member leaves with nothing committed, or, holding committed
//! offsets, once it has had no member for `LogConfig::offsets_retention`. So
//! distinct group ids (a random `group.id` per instance, administrative
//! commits) neither pile up nor grow memory past the budget (review finding:
//! 50 000 subscribe-and-close rounds with fresh ids kept ~81 MB, 300 000
//! commits to fresh ids ~150 MB, none of it charged). The resident memory
//! behind these figures is measured in tests/group_memory.rs.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::{Log, LogConfig, LogError, ManualClock};

#[path = "common/eventually.rs"]
mod eventually;
use eventually::eventually;

fn member_of(group: &str) -> ConsumerConfig {
    ConsumerConfig::new()
        .group_id(group)
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
}

#[test]
fn members_that_leave_with_nothing_committed_leave_no_group_behind() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    log.subscribe(member_of("warm"), &["t"])
        .unwrap()
        .close()
        .unwrap();
    let charged = log.memory_usage().used_bytes;
    for round in 0..2 {
        for i in 0..50_000u32 {
            let group = format!("member-{round}-{i}");
            log.subscribe(member_of(&group), &["t"])
                .unwrap()
                .close()
                .unwrap();
        }
    }
    assert_eq!(
        log.memory_usage().used_bytes,
        charged,
        "every group was removed, and its charge returned"
    );
    assert_eq!(log.committed("member-0-7", "t", 0).unwrap(), None);
}

#[test]
fn committed_offsets_are_charged_and_a_full_budget_refuses_new_ones() {
    let budget = 4 << 20;
    let log = Log::with_config(
        LogConfig::default()
            .segment_bytes(4096)
            .memory_budget(budget),
    )
    .unwrap();
    log.create_topic("t", 64).unwrap();
    let before = log.memory_usage().used_bytes;
    log.commit_offset("first", "t", 0, 1).unwrap();
    let per_group = log.memory_usage().used_bytes - before;
    assert!(
        (64..4096).contains(&per_group),
        "a group with one offset is charged {per_group} bytes"
    );
    let mut groups = 1u64;
    let refused = loop {
        match log.commit_offset(&format!("group-{groups}"), "t", 0, groups) {
            Ok(()) => groups += 1,
            Err(error) => break error,
        }
        assert!(groups < budget / 64, "the budget never refused a commit");
    };
    assert!(
        matches!(refused, LogError::LogFull { .. }),
        "a clear error: {refused}"
    );
    assert!(log.memory_usage().used_bytes <= budget);
    assert!(
        groups * per_group >= (budget - before) * 9 / 10,
        "{groups} groups of {per_group} bytes filled the budget"
    );
    // What is there stays usable: an existing offset moves without a charge.
    log.commit_offset("group-1", "t", 0, 99).unwrap();
    assert_eq!(log.committed("group-1", "t", 0).unwrap(), Some(99));
    // A commit of a consumer that is no member is all or nothing: 63 new
    // entries do not fit, and the one that exists does not move either.
    let mut outsider = log
        .multi_consumer(ConsumerConfig::new().group_id("group-1"))
        .unwrap();
    outsider.assign_topic("t").unwrap();
    let everywhere: Vec<_> = (0..64)
        .map(|partition| (idemlog::TopicPartition::new("t", partition), 0))
        .collect();
    let refused = outsider.commit_offsets(&everywhere).unwrap_err();
    assert!(refused.to_string().contains("log full"), "{refused}");
    assert_eq!(log.committed("group-1", "t", 0).unwrap(), Some(99));
    assert_eq!(log.committed("group-1", "t", 1).unwrap(), None);
    // A subscription that would make a new group is refused the same way.
    let refused = log.subscribe(member_of("one-more"), &["t"]).err();
    assert!(
        refused
            .as_ref()
            .is_some_and(|error| error.to_string().contains("log full")),
        "{refused:?}"
    );
}

/// A commit that makes a group and is then refused its first offset by the
/// budget leaves no group behind: without a housekeeper nothing else would
/// remove it, and each refusal kept the group's charge (review finding: about
/// 7 KiB after one refusal near a full budget).
#[test]
fn a_first_commit_the_budget_refuses_leaves_no_group_charged() {
    let budget = 1 << 20;
    let log = Log::with_config(
        LogConfig::default()
            .segment_bytes(4096)
            .memory_budget(budget)
            .housekeeping(None),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    // Groups with long names until the budget refuses one.
    let mut filled = 0;
    while log
        .commit_offset(&format!("{filled:08}{}", "n".repeat(4000)), "t", 0, 0)
        .is_ok()
    {
        filled += 1;
    }
    // Names of every length down to one: each group's own charge is a little
    // more than its name, so some fit the budget but their first offset does
    // not. Every refusal leaves the charge as it was.
    let mut refusals = 0;
    let mut left_charged = Vec::new();
    for len in (1..=5000).rev() {
        let used = log.memory_usage().used_bytes;
        match log.commit_offset(&"q".repeat(len), "t", 0, 0) {
            Ok(()) => {}
            Err(LogError::LogFull { .. }) => {
                refusals += 1;
                let after = log.memory_usage().used_bytes;
                if after != used {
                    left_charged.push((len, after - used));
                }
            }
            Err(other) => panic!("a clear LogFull, not {other}"),
        }
    }
    assert!(
        filled > 0 && refusals > 0,
        "{filled} groups, {refusals} refusals"
    );
    assert!(
        left_charged.is_empty(),
        "refused first commits left {} groups charged, e.g. (name length, bytes) {:?}",
        left_charged.len(),
        &left_charged[..left_charged.len().min(3)]
    );
}

#[test]
fn an_idle_groups_offsets_are_kept_for_the_retention_then_removed() {
    let clock = Arc::new(ManualClock::new(1_000));
    let log = Log::with_config(
        LogConfig::default()
            .clock(clock.clone())
            .housekeeping(Some(Duration::from_millis(1)))
            .offsets_retention(Duration::from_secs(60)),
    )
    .unwrap();
    log.create_topic("t", 2).unwrap();
    let empty = log.memory_usage().used_bytes;
    let mut member = log.subscribe(member_of("g"), &["t"]).unwrap();
    member.poll_with(0, |_| ()).unwrap();
    // The same partition twice: one entry, charged once.
    let first = idemlog::TopicPartition::new("t", 0);
    member
        .commit_offsets(&[(first.clone(), 0), (first, 0)])
        .unwrap();
    clock.advance_ms(30_000);
    member.close().unwrap(); // idle from here: t = 31 s
    clock.advance_ms(59_999);
    log.commit_offset("g", "t", 1, 5).unwrap(); // a commit restarts the count
    clock.advance_ms(59_999);
    thread::sleep(Duration::from_millis(50)); // many housekeeping passes
    assert_eq!(log.committed("g", "t", 0).unwrap(), Some(0), "kept");
    assert_eq!(log.committed("g", "t", 1).unwrap(), Some(5), "kept");
    clock.advance_ms(1);
    assert!(
        eventually(|| log.committed("g", "t", 1).unwrap().is_none()),
        "removed once idle for the retention"
    );
    assert_eq!(log.committed("g", "t", 0).unwrap(), None);
    assert_eq!(
        log.memory_usage().used_bytes,
        empty,
        "and its charge returned"
    );
    // The name is free for a new group, which starts with nothing committed.
    let member = log.subscribe(member_of("g"), &["t"]).unwrap();
    assert_eq!(member.committed("t", 0).unwrap(), None);
}

/// Commits racing with members that join and leave the same group: a commit
/// never lands in a group that is being removed (it would be lost), and at the
/// end exactly one group holds everything committed.
#[test]
fn commits_racing_with_the_last_member_leaving_are_never_lost() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let empty = log.memory_usage().used_bytes;
    for round in 0..200u64 {
        let group = format!("g{round:03}"); // one length: one charge
        let churn = {
            let (log, group) = (log.clone(), group.clone());
            thread::spawn(move || {
                for _ in 0..20 {
                    log.subscribe(member_of(&group), &["t"])
                        .unwrap()
                        .close()
                        .unwrap();
                }
            })
        };
        for offset in 0..20 {
            log.commit_offset(&group, "t", 0, offset).unwrap();
        }
        churn.join().unwrap();
        assert_eq!(log.committed(&group, "t", 0).unwrap(), Some(19), "{group}");
    }
    let charged = log.memory_usage().used_bytes - empty;
    let one = {
        let before = log.memory_usage().used_bytes;
        log.commit_offset("g999", "t", 0, 0).unwrap();
        log.memory_usage().used_bytes - before
    };
    assert_eq!(charged, 200 * one, "one group per name, each charged once");
}

#[test]
fn the_offsets_retention_has_a_range() {
    let refused = Log::with_config(LogConfig::default().offsets_retention(Duration::ZERO));
    assert!(
        matches!(
            refused,
            Err(LogError::InvalidConfig {
                setting: "offsets_retention",
                ..
            })
        ),
        "{refused:?}"
    );
    let longest = LogConfig::default().offsets_retention(Duration::MAX);
    assert!(Log::with_config(longest).is_ok());
}
