//! Every broker rule of the contract (contract rules 1-5 and producer-state
//! survival and expiry, `idemlog::contract`, src/contract.rs) beyond the public
//! scenarios: malformed input, rule order, epochs, the window, expiry, state
//! surviving retention, a full segment ring, multi-partition produce,
//! configuration errors.
//!
//! Segment layouts (storage v2): a batch takes 40 bytes of header plus, per
//! record, 8 bytes + key + value, rounded up to 8-byte units; a segment of B
//! bytes has B/8 units and holds at most max(B/64, 2) batches; a batch that does
//! not fit the open segment opens the next one.

use std::sync::Arc;
use std::time::Duration;

use idemlog::{
    BatchHeader, Log, LogConfig, LogError, ManualClock, ProduceRequest, ProducerId,
    ProducerStateStats, Record, RetentionPolicy, RetentionReport, TopicConfig,
    DEFAULT_MEMORY_BUDGET,
};

#[path = "common/topic_charges.rs"]
mod topic_charges;
use topic_charges::charges_of_a_partition_and_a_topic;

fn header(producer_id: ProducerId, epoch: u16, base_sequence: i32) -> Option<BatchHeader> {
    Some(BatchHeader {
        producer_id,
        epoch,
        base_sequence,
    })
}

fn records(n: usize) -> Vec<Record> {
    (0..n).map(|i| Record::new(format!("r{i}"))).collect()
}

fn log_with(config: LogConfig) -> Log {
    let log = Log::with_config(config).expect("valid config");
    log.create_topic("t", 2).expect("topic");
    log
}

/// Contract rule 1, and a rejected batch changes nothing.
#[test]
fn malformed_batches_are_rejected_with_clear_errors_and_leave_no_trace() {
    let log = log_with(LogConfig::default().max_batch_records(4));
    let pid = log.init_producer_id().producer_id;
    log.append("t", 0, header(pid, 0, 0), records(1))
        .expect("first");
    let before = log.partition("t", 0).unwrap().producer_state(pid);

    let cases: Vec<(Result<_, _>, LogError)> = vec![
        (
            log.append("t", 0, header(pid, 0, 1), records(0)),
            LogError::EmptyBatch,
        ),
        (
            log.append("t", 0, header(pid, 0, 1), records(5)),
            LogError::BatchTooLarge { records: 5, max: 4 },
        ),
        (
            log.append("t", 0, header(pid, 0, -3), records(1)),
            LogError::InvalidSequence { base_sequence: -3 },
        ),
        (
            log.append("t", 0, header(ProducerId(99), 0, 0), records(1)),
            LogError::UnknownProducerId {
                producer_id: ProducerId(99),
            },
        ),
        (
            log.append("t", 0, header(pid, 40_000, 0), records(1)),
            LogError::InvalidEpoch { epoch: 40_000 },
        ),
        (
            log.append("nope", 0, header(pid, 0, 1), records(1)),
            LogError::UnknownTopic {
                topic: "nope".into(),
            },
        ),
        (
            log.append("t", 7, header(pid, 0, 1), records(1)),
            LogError::UnknownPartition {
                topic: "t".into(),
                partition: 7,
                partitions: 2,
            },
        ),
        (
            log.append("t", 0, None, Vec::<Record>::new()),
            LogError::EmptyBatch,
        ),
        // One record of 1 MiB: 8 + 2^20 record bytes, more than a default segment
        // (1 MiB) holds after the 40-byte batch header.
        (
            log.append("t", 0, header(pid, 0, 1), Record::new(vec![0u8; 1 << 20])),
            LogError::BatchBytesTooLarge {
                bytes: 8 + (1 << 20),
                max: (1 << 20) - 40,
            },
        ),
        // Too many records and too many bytes: BatchTooLarge is checked first.
        (
            log.append("t", 0, None, vec![Record::new(vec![0u8; 1 << 20]); 5]),
            LogError::BatchTooLarge { records: 5, max: 4 },
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got, Err(expected.clone()));
        assert!(!expected.to_string().is_empty());
    }
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(partition.log_end_offset(), 1, "no offset was consumed");
    assert_eq!(partition.producer_state(pid), before, "no state changed");
}

/// Contract rule 1: the errors name the problem.
#[test]
fn error_messages_name_the_problem() {
    assert_eq!(
        LogError::OutOfOrderSequence {
            expected: 4,
            got: 9
        }
        .to_string(),
        "out of order sequence: expected 4, got 9"
    );
    assert!(LogError::UnknownPartition {
        topic: "t".into(),
        partition: 9,
        partitions: 2
    }
    .to_string()
    .contains("no partition 9"));
    assert!(LogError::BatchTooLarge { records: 5, max: 4 }
        .to_string()
        .contains("max_batch_records = 4"));
}

/// Contract rule 4 (higher epoch) and contract rule 3.
#[test]
fn higher_epoch_must_start_at_zero_and_clears_the_window() {
    let log = log_with(LogConfig::default());
    let pid = log.init_producer_id().producer_id;
    log.append("t", 0, header(pid, 0, 0), records(2)).unwrap();
    assert_eq!(
        log.append("t", 0, header(pid, 3, 5), records(1)),
        Err(LogError::OutOfOrderSequence {
            expected: 0,
            got: 5
        })
    );
    let bumped = log.append("t", 0, header(pid, 3, 0), records(1)).unwrap();
    assert_eq!(
        (bumped.base_offset, bumped.duplicate),
        (2, false),
        "epochs may jump 0 -> 3"
    );
    let state = log.partition("t", 0).unwrap().producer_state(pid).unwrap();
    assert_eq!(
        (state.epoch, state.last_sequence, state.window.len()),
        (3, 0, 1)
    );
    assert_eq!(
        log.append("t", 0, header(pid, 0, 0), records(2)),
        Err(LogError::InvalidProducerEpoch { current: 3, got: 0 })
    );
}

/// Contract rule 4 (same epoch): re-split retries and duplicates older than the
/// window are out of order; contract rule 2 inside the window.
#[test]
fn resplit_retries_and_duplicates_older_than_the_window_are_out_of_order() {
    let log = log_with(LogConfig::default().dedup_window(2));
    let pid = log.init_producer_id().producer_id;
    log.append("t", 0, header(pid, 0, 0), records(4)).unwrap();
    assert_eq!(
        log.append("t", 0, header(pid, 0, 0), records(2)),
        Err(LogError::OutOfOrderSequence {
            expected: 4,
            got: 0
        }),
        "a retry re-split into different boundaries is not a duplicate"
    );
    log.append("t", 0, header(pid, 0, 4), records(1)).unwrap();
    assert!(
        log.append("t", 0, header(pid, 0, 0), records(4))
            .unwrap()
            .duplicate
    );
    log.append("t", 0, header(pid, 0, 5), records(1)).unwrap();
    assert_eq!(
        log.append("t", 0, header(pid, 0, 0), records(4)),
        Err(LogError::OutOfOrderSequence {
            expected: 6,
            got: 0
        }),
        "window of 2: the first batch fell out"
    );
}

/// Contract rule 4 (no state): a first batch may start anywhere.
#[test]
fn first_batch_of_a_producer_may_start_anywhere() {
    let log = log_with(LogConfig::default());
    let pid = log.init_producer_id().producer_id;
    let outcome = log
        .append("t", 0, header(pid, 7, 1_000), records(3))
        .unwrap();
    assert!(!outcome.duplicate);
    assert_eq!(
        log.append("t", 0, header(pid, 7, 1_004), records(1)),
        Err(LogError::OutOfOrderSequence {
            expected: 1_003,
            got: 1_004
        })
    );
}

/// The contract's words: state is per (partition, pid).
#[test]
fn partitions_keep_independent_producer_state() {
    let log = log_with(LogConfig::default());
    let pid = log.init_producer_id().producer_id;
    log.append("t", 0, header(pid, 0, 0), records(3)).unwrap();
    let other = log.append("t", 1, header(pid, 0, 0), records(1)).unwrap();
    assert_eq!((other.base_offset, other.duplicate), (0, false));
}

/// The contract's producer-state expiry (boundary `now - last >= expiration`),
/// then contract rule 4 (no state): a very late retry duplicates.
#[test]
fn producer_state_expires_after_inactivity_at_the_boundary() {
    let clock = ManualClock::new(10_000);
    let log = log_with(
        LogConfig::default()
            .clock(Arc::new(clock.clone()))
            .housekeeping(None)
            .producer_id_expiration(Duration::from_millis(1_000)),
    );
    let pid = log.init_producer_id().producer_id;
    log.append("t", 0, header(pid, 0, 0), records(1)).unwrap();
    clock.advance_ms(999);
    assert_eq!(log.expire_producers(), 0);
    assert!(
        log.append("t", 0, header(pid, 0, 0), records(1))
            .unwrap()
            .duplicate
    );
    // The duplicate did not refresh the activity time: last append was at 10_000.
    clock.set_ms(11_000);
    assert_eq!(log.partition("t", 0).unwrap().producer_state(pid), None);
    // After expiry a very late retry is accepted as new data: it duplicates.
    let late = log.append("t", 0, header(pid, 0, 0), records(1)).unwrap();
    assert_eq!((late.base_offset, late.duplicate), (1, false));
}

/// The contract's producer-state expiry and memory report (entries, bytes).
#[test]
fn expiry_sweep_frees_state_and_cached_appenders_recover() {
    let clock = ManualClock::new(0);
    let log = log_with(
        LogConfig::default()
            .clock(Arc::new(clock.clone()))
            .housekeeping(None)
            .producer_id_expiration(Duration::from_millis(100)),
    );
    let pids: Vec<ProducerId> = (0..3).map(|_| log.init_producer_id().producer_id).collect();
    for pid in &pids {
        log.append("t", 0, header(*pid, 0, 0), records(1)).unwrap();
        log.append("t", 1, header(*pid, 0, 0), records(1)).unwrap();
    }
    let stats = log.producer_state_stats();
    assert_eq!(stats.entries, 6);
    // Six entries as allocated, plus the two partitions' hash tables (each a
    // fresh table holding three 16-byte slots: at most a few hundred bytes).
    let table_bytes = stats.bytes - 6 * ProducerStateStats::bytes_per_entry(5);
    assert!(table_bytes > 0 && table_bytes <= 2 * 1024, "{table_bytes}");
    assert!(ProducerStateStats::bytes_per_entry(5) <= 512);

    let mut appender = log.partition("t", 0).unwrap().producer(pids[0]).unwrap();
    appender.append(0, 1, records(1)).unwrap();
    clock.advance_ms(100);
    assert_eq!(log.expire_producers(), 6);
    assert_eq!(log.producer_state_stats().entries, 0);
    // The appender's cached state is dead: it looks the producer up again.
    let after = appender.append(0, 42, records(1)).unwrap();
    assert!(!after.duplicate);
    assert_eq!(log.producer_state_stats().entries, 1);
}

/// Two records of 20-byte values: 40 + 2 * (8 + 20) = 96 bytes = 12 units, so
/// a 128-byte segment (16 units) holds exactly one such batch.
fn wide_pair() -> Vec<Record> {
    vec![Record::new(vec![7u8; 20]); 2]
}

/// The contract's producer-state survival (KAFKA-7190), answered by contract
/// rule 2.
#[test]
fn producer_state_survives_retention_of_its_records() {
    // KAFKA-7190: evicting the records must not drop the producer's state.
    // Segments of 128 bytes hold one 2-record batch each: three batches fill
    // segments 1, 2 and 3 with offsets 0-1, 2-3 and 4-5.
    let log = Log::with_config(LogConfig::default().segment_bytes(128)).unwrap();
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(2)),
    )
    .unwrap();
    let pid = log.init_producer_id().producer_id;
    for seq in 0..3 {
        log.append("t", 0, header(pid, 0, seq * 2), wide_pair())
            .unwrap();
    }
    let partition = log.partition("t", 0).unwrap();
    // Retention already ran when batches 2 and 3 opened segments 2 and 3: each
    // time the oldest complete segment left >= 2 records behind, so segments 1
    // and 2 are gone; segment 3 is the one being written and stays.
    assert_eq!(
        partition.enforce_retention(),
        RetentionReport {
            segments: 0,
            records: 0
        },
        "nothing left to evict by hand"
    );
    assert_eq!(
        partition.log_start_offset(),
        4,
        "two whole segments evicted"
    );
    assert_eq!(partition.live_segments(), 1);
    let retry = log.append("t", 0, header(pid, 0, 0), wide_pair()).unwrap();
    assert_eq!(
        (retry.base_offset, retry.duplicate),
        (0, true),
        "original offset of an evicted batch"
    );
}

/// Contract rule 5 on a cached appender's steady state (the next batch in
/// sequence, claimed by the state word's CAS before the reservation fails):
/// `PartitionFull` changes nothing and leaves the state free for the next
/// batch. (`Log::append` looks the state up on every call, so the test above
/// does not take that path.)
#[test]
fn a_cached_appenders_in_sequence_batch_refused_as_full_changes_nothing() {
    // As below: 4 segments of two 1-record batches each.
    let config = LogConfig::default().segment_bytes(128).max_segments(4);
    let log = Log::with_config(config).unwrap();
    log.create_topic("t", 1).unwrap();
    let pid = log.init_producer_id().producer_id;
    let partition = log.partition("t", 0).unwrap();
    let mut appender = partition.producer(pid).unwrap();
    for seq in 0..8 {
        assert_eq!(
            appender.append(0, seq, records(1)).unwrap().base_offset,
            seq as u64
        );
    }
    let full = Err(LogError::PartitionFull {
        live_segments: 4,
        max_segments: 4,
    });
    assert_eq!(appender.append(0, 8, records(1)), full);
    assert_eq!(
        partition.producer_state(pid).unwrap().last_sequence,
        7,
        "rejection changed nothing"
    );
    assert_eq!(partition.log_end_offset(), 8, "no offset was consumed");
    // The word is free again: a retry of the last batch is a duplicate with its
    // offset, and the refused batch is refused again, not out of sequence.
    let retry = appender.append(0, 7, records(1)).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, 7);
    assert_eq!(appender.append(0, 8, records(1)), full);
}

/// Contract rule 5: `PartitionFull` rejects the batch and changes nothing.
#[test]
fn a_full_partition_is_an_error_until_retention_makes_room() {
    // Storage v2 has no record capacity: a partition is full when a batch must
    // open a segment while `max_segments` segments are live. Segments of 128
    // bytes (16 units) hold two 1-record batches of 7 units each, so 4 segments
    // take 8 batches and the 9th needs a 5th segment.
    let config = LogConfig::default().segment_bytes(128).max_segments(4);
    let log = Log::with_config(config).unwrap();
    log.create_topic("t", 1).unwrap();
    let pid = log.init_producer_id().producer_id;
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(
        partition.live_segments(),
        0,
        "no segment before the first append"
    );
    for seq in 0..8 {
        let outcome = log.append("t", 0, header(pid, 0, seq), records(1)).unwrap();
        assert_eq!(outcome.base_offset, seq as u64);
    }
    assert_eq!(partition.live_segments(), 4);
    assert_eq!(
        log.append("t", 0, header(pid, 0, 8), records(1)),
        Err(LogError::PartitionFull {
            live_segments: 4,
            max_segments: 4
        })
    );
    assert_eq!(
        partition.producer_state(pid).unwrap().last_sequence,
        7,
        "rejection changed nothing"
    );
    assert_eq!(partition.log_end_offset(), 8, "no offset was consumed");
    assert_eq!(partition.live_segments(), 4);
    // Retention is opt-in per topic; this topic has none, so nothing is evicted.
    assert_eq!(partition.enforce_retention().segments, 0);

    // The same appends on a topic with retention: every segment an append opens
    // runs retention, which evicts the oldest complete segment while >= 2 records
    // remain, so the ring never fills and the 9th batch is accepted.
    log.create_topic_with(
        "r",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(2)),
    )
    .unwrap();
    let retained = log.partition("r", 0).unwrap();
    for seq in 0..9 {
        let outcome = log.append("r", 0, header(pid, 0, seq), records(1)).unwrap();
        assert_eq!(outcome.base_offset, seq as u64);
    }
    // Batch 9 opened segment 5; segments 1-3 (offsets 0-5) were evicted.
    assert_eq!(retained.log_start_offset(), 6);
    assert_eq!(retained.live_segments(), 2);
    assert_eq!(retained.log_end_offset(), 9);
}

/// Contract rules 1-5 apply to each batch of a produce request on its own.
#[test]
fn produce_answers_each_request_independently() {
    let log = log_with(LogConfig::default());
    let pid = log.init_producer_id().producer_id;
    let request = |partition, header, n| ProduceRequest {
        topic: "t".into(),
        partition,
        header,
        records: records(n),
    };
    let results = log.produce(vec![
        request(0, header(pid, 0, 0), 2),
        request(1, header(pid, 0, 5), 1),
        request(0, header(pid, 0, 9), 1),
        request(3, None, 1),
        request(1, None, 1),
    ]);
    assert_eq!(results[0].as_ref().unwrap().base_offset, 0);
    assert_eq!(results[1].as_ref().unwrap().base_offset, 0);
    assert_eq!(
        results[2],
        Err(LogError::OutOfOrderSequence {
            expected: 2,
            got: 9
        })
    );
    assert!(matches!(
        results[3],
        Err(LogError::UnknownPartition { partition: 3, .. })
    ));
    assert_eq!(results[4].as_ref().unwrap().base_offset, 1);
}

/// The contract: non-idempotent batches are never deduplicated.
#[test]
fn plain_batches_are_never_deduplicated() {
    let log = log_with(LogConfig::default());
    let first = log.append("t", 0, None, records(2)).unwrap();
    let again = log.append("t", 0, None, records(2)).unwrap();
    assert_eq!(
        (first.base_offset, again.base_offset, again.duplicate),
        (0, 2, false)
    );
}

#[test]
fn invalid_configurations_and_topics_are_errors() {
    let bad = [
        LogConfig::default().dedup_window(0),
        LogConfig::default().dedup_window(5_000),
        LogConfig::default().segment_bytes(3),
        LogConfig::default().segment_bytes(64),
        LogConfig::default().segment_bytes(8 << 20),
        LogConfig::default().max_segments(1),
        LogConfig::default().max_segments(3),
        LogConfig::default().max_batch_records(0),
        // Was: a max_batch_records above the partition's record capacity. Storage
        // v2 has no record capacity (an oversized batch is BatchBytesTooLarge at
        // append time); the configuration-level conflict now is a memory budget
        // that cannot hold one segment.
        LogConfig::default()
            .segment_bytes(1 << 20)
            .memory_budget((1 << 20) - 1),
        LogConfig::default().producer_id_expiration(Duration::ZERO),
    ];
    for config in bad {
        let error = Log::with_config(config).unwrap_err();
        assert!(matches!(error, LogError::InvalidConfig { .. }), "{error}");
    }
    let log = Log::new();
    assert!(matches!(
        log.create_topic("", 1),
        Err(LogError::InvalidConfig {
            setting: "topic",
            ..
        })
    ));
    assert!(matches!(
        log.create_topic("x", 0),
        Err(LogError::InvalidConfig {
            setting: "partitions",
            ..
        })
    ));
    // Every partition's segment directory is charged to the memory budget: a
    // topic whose directories exceed it is LogFull (was InvalidConfig for a
    // fixed directory limit), and charges nothing.
    let huge = log.create_topic("huge", u32::MAX).unwrap_err();
    // The directories and the topic's own part (structures and name).
    let (directory, topic) = charges_of_a_partition_and_a_topic(&log);
    log.create_topic("x", 1).unwrap();
    assert_eq!(
        huge,
        LogError::LogFull {
            requested: u64::from(u32::MAX) * directory + topic,
            used: 0,
            budget: DEFAULT_MEMORY_BUDGET,
        }
    );
    assert_eq!(
        log.create_topic("x", 1),
        Err(LogError::TopicAlreadyExists { topic: "x".into() })
    );
    assert_eq!(log.topics(), ["hug1", "hug2", "x"]);
    assert_eq!(log.partition_count("x"), Ok(1));
    assert!(log.partition("t", 0).is_err());
    assert!(log
        .partition("x", 0)
        .unwrap()
        .producer(ProducerId(5))
        .is_err());
}
