//! Retention by records, bytes and age: whole segments from the head, the log
//! start moves, readers are told, memory is bounded.

use std::sync::Arc;
use std::time::Duration;

use idemlog::{Log, LogConfig, ManualClock, Record, RetentionPolicy, TopicConfig};

fn log(retention: RetentionPolicy, clock: &ManualClock) -> Log {
    let log = Log::with_config(
        LogConfig::default()
            .segment_records(4)
            .max_segments(8)
            .clock(Arc::new(clock.clone())),
    )
    .unwrap();
    log.create_topic_with("t", TopicConfig::new(1).retention(retention))
        .unwrap();
    log
}

fn append(log: &Log, n: usize, size: usize) {
    let batch: Vec<Record> = (0..n).map(|_| Record::new(vec![7u8; size])).collect();
    log.append("t", 0, None, batch).unwrap();
}

#[test]
fn by_records_keeps_at_least_the_limit_and_evicts_whole_segments() {
    let clock = ManualClock::new(0);
    let log = log(RetentionPolicy::default().max_records(5), &clock);
    append(&log, 10, 1);
    let partition = log.partition("t", 0).unwrap();
    partition.enforce_retention();
    // 10 live: evicting segment 0 leaves 6 >= 5; evicting segment 1 would leave 2 < 5.
    assert_eq!(partition.log_start_offset(), 4);
    assert_eq!(log.consumer("t", 0).unwrap().poll(100).unwrap().len(), 6);
}

#[test]
fn by_bytes_counts_key_and_value() {
    let clock = ManualClock::new(0);
    let log = log(RetentionPolicy::default().max_bytes(40), &clock);
    append(&log, 12, 10);
    // The append opened new segments, so retention already ran on its own.
    let report = log.partition("t", 0).unwrap().enforce_retention();
    // 120 bytes in three segments of 40: evict while what remains >= 40.
    assert_eq!((report.log_start, report.segments), (8, 0));
    assert_eq!(log.consumer("t", 0).unwrap().poll(100).unwrap().len(), 4);
}

#[test]
fn explicit_retention_reports_what_it_evicted() {
    let clock = ManualClock::new(0);
    let log = log(
        RetentionPolicy::default().max_age(Duration::from_millis(10)),
        &clock,
    );
    append(&log, 12, 10);
    assert_eq!(
        log.partition("t", 0).unwrap().log_start_offset(),
        0,
        "nothing old yet"
    );
    clock.set_ms(11);
    let report = log.enforce_retention();
    // All three segments are sealed and old; the last one too (Kafka keeps the
    // active segment, ours keeps only what is not entirely below the watermark).
    assert_eq!((report.segments, report.records), (3, 12));
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(partition.log_start_offset(), 12);
    append(&log, 1, 1);
    assert_eq!(
        log.consumer("t", 0).unwrap().poll(10).unwrap()[0].offset,
        12
    );
}

#[test]
fn by_age_uses_the_newest_record_of_each_segment() {
    let clock = ManualClock::new(1_000);
    let log = log(
        RetentionPolicy::default().max_age(Duration::from_millis(100)),
        &clock,
    );
    append(&log, 4, 1);
    clock.set_ms(1_050);
    append(&log, 4, 1);
    append(&log, 1, 1);
    let partition = log.partition("t", 0).unwrap();
    clock.set_ms(1_101);
    assert_eq!(partition.enforce_retention().log_start, 4);
    clock.set_ms(1_151);
    // The second segment is now old, the third is not sealed below the watermark? It
    // is (one record, published) but it is the newest: it holds the clock's last record.
    assert_eq!(partition.enforce_retention().log_start, 8);
    assert_eq!(log.consumer("t", 0).unwrap().poll(10).unwrap().len(), 1);
}

#[test]
fn retention_runs_on_its_own_when_segments_roll_and_memory_stays_bounded() {
    let clock = ManualClock::new(0);
    let log = log(RetentionPolicy::default().max_records(8), &clock);
    let partition = log.partition("t", 0).unwrap();
    for _ in 0..1_000 {
        append(&log, 3, 16);
        let live = partition.log_end_offset() - partition.log_start_offset();
        assert!(live <= 8 + 4 + 3, "live records stay bounded: {live}");
    }
    assert!(partition.capacity() >= 12);
}

#[test]
fn unlimited_retention_evicts_nothing() {
    let clock = ManualClock::new(0);
    let log = log(RetentionPolicy::default(), &clock);
    append(&log, 20, 1);
    let report = log.enforce_retention();
    assert_eq!((report.segments, report.records), (0, 0));
}
