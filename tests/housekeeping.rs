//! The background housekeeper (`LogConfig::housekeeping`): retention by age and
//! producer-state expiry run without any append or sweep, and the thread stops
//! with the last `Log` clone.

use std::sync::Arc;
use std::time::Duration;

use idemlog::{BatchHeader, Log, LogConfig, ManualClock, Record, RetentionPolicy, TopicConfig};

#[path = "common/eventually.rs"]
mod eventually;
use eventually::eventually;

fn housekept_log(clock: &ManualClock) -> Log {
    Log::with_config(
        LogConfig::default()
            // 128-byte segments: two single-record batches of 1-byte values each.
            .segment_bytes(128)
            .producer_id_expiration(Duration::from_millis(100))
            .housekeeping(Some(Duration::from_millis(5)))
            .clock(Arc::new(clock.clone())),
    )
    .expect("valid config")
}

#[test]
fn age_retention_runs_without_appends() {
    let clock = ManualClock::new(1_000);
    let log = housekept_log(&clock);
    let retention = RetentionPolicy::default().max_age(Duration::from_millis(500));
    log.create_topic_with("t", TopicConfig::new(1).retention(retention))
        .expect("topic");
    for i in 0..6u8 {
        log.append("t", 0, None, Record::new(vec![i]))
            .expect("room");
    }
    let partition = log.partition("t", 0).expect("partition");
    assert_eq!(partition.live_segments(), 3);
    assert_eq!(partition.log_start_offset(), 0, "nothing is old yet");
    // Past the age limit with no append at all: the housekeeper evicts every
    // segment but the one being written (offsets 4 and 5).
    clock.advance_ms(600);
    assert!(
        eventually(|| partition.log_start_offset() == 4),
        "log start {}",
        partition.log_start_offset()
    );
    assert_eq!(partition.live_segments(), 1);
}

#[test]
fn expired_producer_state_is_swept_in_the_background() {
    let clock = ManualClock::new(1_000);
    let log = housekept_log(&clock);
    log.create_topic("t", 2).expect("topic");
    let producer = log.init_producer_id().producer_id;
    for partition in 0..2 {
        let header = BatchHeader {
            producer_id: producer,
            epoch: 0,
            base_sequence: 0,
        };
        log.append("t", partition, Some(header), Record::new("x"))
            .expect("append");
    }
    assert_eq!(log.producer_state_stats().entries, 2);
    let charged = log.memory_usage().used_bytes;
    clock.advance_ms(100);
    assert!(eventually(|| log.producer_state_stats().entries == 0));
    let entry = idemlog::ProducerStateStats::bytes_per_entry(5) as u64;
    assert_eq!(
        log.memory_usage().used_bytes,
        charged - 2 * entry,
        "expired state returns its budget charge"
    );
}
