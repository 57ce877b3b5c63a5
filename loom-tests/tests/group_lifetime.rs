//! Model (n): a consumer group's lifetime (G5, and the group's budget charge of
//! I10, in `idemlog::implementation`).
//! A member joins group "g" and leaves having committed nothing (its leave
//! retires the group, which then leaves the registry), while another thread
//! commits an offset for "g" (`Log::commit_offset`, no membership). In every
//! interleaving the commit lands in the one live group: it is read back after
//! both, and exactly one group with one offset stays charged to the budget. A
//! commit that acted on the retiring group would be lost; two live groups
//! would be charged twice. Asserts that the member saw the commit (it came
//! first, so the leave did not retire) and did not (the commit found the
//! group retired, or made it anew) in some execution each.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_every_outcome, check, one_partition};
use idemlog::consumer::ConsumerConfig;
use idemlog::{LogConfig, TopicConfig};
use loom::thread;

static OUTCOMES: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

#[test]
fn a_commit_racing_with_the_last_leave_lands_in_the_live_group() {
    check("group_lifetime", || {
        let small_log = || {
            let config = LogConfig::default()
                .segment_bytes(128)
                .max_segments(2)
                .housekeeping(None);
            one_partition(config, TopicConfig::new(1)).0
        };
        let log = small_log();
        let empty = log.memory_usage().used_bytes;
        // What one group holding one offset is charged (another log, alike).
        let one_group = {
            let other = small_log();
            let before = other.memory_usage().used_bytes;
            other.commit_offset("g", "t", 0, 0).expect("commit");
            other.memory_usage().used_bytes - before
        };
        let committer = {
            let log = log.clone();
            thread::spawn(move || log.commit_offset("g", "t", 0, 7).expect("commit"))
        };
        let config = ConsumerConfig::new().group_id("g").auto_commit(false);
        let member = log.subscribe(config, &["t"]).expect("join");
        let saw = member.committed("t", 0).expect("committed");
        member.close().expect("close");
        committer.join().expect("committer");
        assert_eq!(
            log.committed("g", "t", 0).expect("read"),
            Some(7),
            "the commit is kept"
        );
        assert_eq!(
            log.memory_usage().used_bytes,
            empty + one_group,
            "one live group with one offset"
        );
        OUTCOMES[usize::from(saw.is_some())].fetch_add(1, Ordering::Relaxed);
    });
    assert_every_outcome("group_lifetime", "commit after the join, before", &OUTCOMES);
}
