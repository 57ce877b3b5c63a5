//! What consumer groups take: the budget charge of a group and of its committed
//! offsets against the resident memory they cause, and what a group that came
//! and went leaves behind (G5 in `idemlog::implementation`). Its own test
//! binary, so the resident set it measures is its own.

use idemlog::consumer::ConsumerConfig;
use idemlog::{Log, LogConfig};

#[path = "common/resident.rs"]
mod resident;
use resident::resident_bytes;

#[test]
fn a_groups_charge_matches_its_memory_and_a_removed_group_leaves_nothing() {
    let log = Log::with_config(LogConfig::default().memory_budget(4 << 30)).unwrap();
    log.create_topic("t", 4).unwrap();
    // Groups whose last member left with nothing committed are removed.
    let member = |group: &str| ConsumerConfig::new().group_id(group).auto_commit(false);
    log.subscribe(member("warm-up"), &["t"])
        .unwrap()
        .close()
        .unwrap();
    let before = resident_bytes();
    for i in 0..50_000u32 {
        let group = format!("member-{i:08}");
        log.subscribe(member(&group), &["t"])
            .unwrap()
            .close()
            .unwrap();
    }
    let left = resident_bytes().saturating_sub(before);
    assert!(
        left < 8 << 20,
        "50 000 groups that came and went left {left} resident bytes (~81 MB before G5)"
    );
    // Groups holding offsets: charged what they hold, within 15%.
    for offsets in [1u32, 4] {
        let (charged, resident) = (log.memory_usage().used_bytes, resident_bytes());
        let groups = 100_000u64;
        for i in 0..groups {
            for partition in 0..offsets {
                let group = format!("group-{offsets}-{i:08}");
                log.commit_offset(&group, "t", partition, 1).unwrap();
            }
        }
        let charged = (log.memory_usage().used_bytes - charged) / groups;
        let resident = resident_bytes().saturating_sub(resident) / groups;
        println!("a group of {offsets} offsets: charged {charged} bytes, resident {resident}");
        assert!(
            charged.abs_diff(resident) * 100 <= resident * 15,
            "a group of {offsets} offsets: charged {charged} bytes, resident {resident}"
        );
    }
}
