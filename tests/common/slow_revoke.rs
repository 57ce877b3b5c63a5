//! A group member whose `Revoked` listener is slow enough for the group to
//! expire it during its own poll (included with `#[path]`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use idemlog::consumer::{ConsumerConfig, OffsetReset, Rebalance};
use idemlog::{Log, LogConfig, ManualClock, MultiConsumer};

/// A log on `clock` (no housekeeper) with topic "t" of 2 partitions; member
/// `slow` of group "g" (interval 1 s) owns both, and member `other` has just
/// joined. `slow`'s next poll that syncs revokes a partition, and its
/// listener then lets 5 s pass and has `other` sync, which expires `slow`.
pub(crate) fn slow_revoker(
    clock: &Arc<ManualClock>,
) -> (Log, MultiConsumer, Arc<Mutex<MultiConsumer>>) {
    let log = Log::with_config(LogConfig::default().clock(clock.clone()).housekeeping(None))
        .expect("log");
    log.create_topic("t", 2).expect("topic");
    let group = ConsumerConfig::new()
        .group_id("g")
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
        .max_poll_interval(Duration::from_millis(1_000));
    let mut slow = log.subscribe(group.clone(), &["t"]).expect("slow");
    slow.poll(0).expect("first poll");
    assert_eq!(slow.assignment().len(), 2);
    let other = Arc::new(Mutex::new(log.subscribe(group, &["t"]).expect("other")));
    let (joined, clock) = (Arc::clone(&other), Arc::clone(clock));
    slow.on_rebalance(move |event| {
        if let Rebalance::Revoked(_) = event {
            clock.advance_ms(5_000);
            joined.lock().unwrap().poll(0).unwrap();
        }
    })
    .expect("listener");
    (log, slow, other)
}
