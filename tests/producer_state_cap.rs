//! The cap on producer state (`LogConfig::max_producer_states`): reaching it
//! evicts the least recently used idle states, counted; a later retry of an
//! evicted producer is accepted as new data (the contract's documented
//! duplicate, as after expiry); recently active producers keep their dedup.
//! Every state is charged to the memory budget and returns its charge.

use std::sync::Arc;
use std::time::Duration;

use idemlog::{BatchHeader, Log, LogConfig, ManualClock, ProducerStateStats, Record};

fn header(producer: idemlog::ProducerId, base_sequence: i32) -> Option<BatchHeader> {
    Some(BatchHeader {
        producer_id: producer,
        epoch: 0,
        base_sequence,
    })
}

#[test]
fn the_cap_evicts_the_least_recently_used_states_first() {
    let clock = ManualClock::new(1_000);
    let log = Log::with_config(
        LogConfig::default()
            .max_producer_states(128)
            .housekeeping(None)
            .clock(Arc::new(clock.clone())),
    )
    .expect("config");
    log.create_topic("t", 1).expect("topic");
    let producers: Vec<_> = (0..200)
        .map(|_| log.init_producer_id().producer_id)
        .collect();
    for (i, producer) in producers.iter().enumerate() {
        let outcome = log
            .append("t", 0, header(*producer, 0), Record::new("x"))
            .expect("append");
        assert_eq!(outcome.base_offset, i as u64);
        clock.advance_ms(1);
    }
    let stats = log.producer_state_stats();
    // Each time the cap is reached, 128/64 = 2 of the oldest go: 200 states
    // admitted, 72 beyond the cap, so 72 evicted and exactly 128 left.
    assert_eq!((stats.entries, stats.evicted), (128, 72));
    // The newest producer keeps its dedup: its retry is a duplicate.
    let newest = producers[199];
    let retry = log
        .append("t", 0, header(newest, 0), Record::new("x"))
        .expect("retry");
    assert!(retry.duplicate && retry.base_offset == 199);
    // The oldest was evicted: its retry is accepted as new data (documented).
    let oldest = producers[0];
    assert_eq!(log.partition("t", 0).unwrap().producer_state(oldest), None);
    let late = log
        .append("t", 0, header(oldest, 0), Record::new("x"))
        .expect("late retry");
    assert_eq!((late.base_offset, late.duplicate), (200, false));
}

#[test]
fn producer_state_is_charged_to_the_budget() {
    let log = Log::with_config(LogConfig::default().housekeeping(None)).expect("config");
    log.create_topic("t", 1).expect("topic");
    let first = log.init_producer_id().producer_id;
    log.append("t", 0, header(first, 0), Record::new("x"))
        .expect("append");
    let before = log.memory_usage().used_bytes;
    let second = log.init_producer_id().producer_id;
    log.append("t", 0, header(second, 0), Record::new("x"))
        .expect("append");
    assert_eq!(
        log.memory_usage().used_bytes - before,
        ProducerStateStats::bytes_per_entry(5) as u64,
        "one new state, one charge (the segment was already there)"
    );
    // Expiry returns the charges.
    let clock = ManualClock::new(0);
    let expiring = Log::with_config(
        LogConfig::default()
            .housekeeping(None)
            .producer_id_expiration(Duration::from_millis(10))
            .clock(Arc::new(clock.clone())),
    )
    .expect("config");
    expiring.create_topic("t", 1).expect("topic");
    let empty = expiring.memory_usage().used_bytes;
    let producer = expiring.init_producer_id().producer_id;
    expiring
        .append("t", 0, header(producer, 0), Record::new("x"))
        .expect("append");
    let with_state = expiring.memory_usage().used_bytes;
    clock.advance_ms(10);
    assert_eq!(expiring.expire_producers(), 1);
    assert_eq!(
        with_state - expiring.memory_usage().used_bytes,
        ProducerStateStats::bytes_per_entry(5) as u64
    );
    assert!(
        expiring.memory_usage().used_bytes > empty,
        "the segment stays"
    );
}
