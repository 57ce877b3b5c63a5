//! Disagreements found by the `log_model` fuzz target / the model proptest, kept
//! as plain tests. Each states the minimal op sequence that showed it.

mod support;

use std::sync::Arc;

use idemlog::{BatchHeader, Log, LogConfig, LogError, ManualClock, Record, TopicConfig};
use support::check::{
    BatchSpec, EpochSpec, Harness, HarnessConfig, Op, RecordsSpec, SequenceSpec, TopicSpec,
};
use support::model::{Model, ModelConfig};

/// The model on its own (formerly the doc example of `Model`): a retry of the
/// first batch is answered as a duplicate at its original offset, and a gap in
/// the sequence is refused.
#[test]
fn model_answers_a_retry_and_a_gap() {
    let mut model = Model::new(ModelConfig::default()).unwrap();
    model.create_topic("t", TopicConfig::new(1)).unwrap();
    let pid = model.init_producer_id().producer_id;
    let header = |base_sequence| {
        Some(BatchHeader {
            producer_id: pid,
            epoch: 0,
            base_sequence,
        })
    };
    let first = model
        .append("t", 0, header(0), vec![Record::new("a")])
        .unwrap();
    let retry = model
        .append("t", 0, header(0), vec![Record::new("a")])
        .unwrap();
    assert_eq!(
        (retry.base_offset, retry.duplicate),
        (first.base_offset, true)
    );
    assert_eq!(
        model.append("t", 0, header(5), vec![Record::new("b")]),
        Err(LogError::OutOfOrderSequence {
            expected: 1,
            got: 5
        })
    );
}

/// A producer's first batch on a partition, rejected with `PartitionFull`.
/// The contract (`idemlog::contract`, broker rules): "a rejected batch changes
/// nothing at all".
/// The real log used to keep the (partition, pid) entry it allocated before
/// judging the batch (found by the model comparison); it now removes it.
///
/// Storage v2: two segments of 128 bytes, each filled by one record of an
/// 80-byte value (40 + 8 + 80 = 128 bytes), so the first idempotent batch must
/// open a third segment while `max_segments` = 2 are live.
#[test]
fn rejected_first_batch_leaves_no_state_entry() {
    let clock = Arc::new(ManualClock::new(0));
    let log = Log::with_config(
        LogConfig::default()
            .segment_bytes(128)
            .max_segments(2)
            .max_batch_records(1)
            .clock(clock)
            .housekeeping(None),
    )
    .expect("config");
    log.create_topic("t", 1).expect("topic");
    let pid = log.init_producer_id().producer_id;
    for _ in 0..2 {
        log.append("t", 0, None, Record::new(vec![b'f'; 80]))
            .expect("fills a whole segment");
    }
    let partition = log.partition("t", 0).unwrap();
    assert_eq!(partition.live_segments(), 2);
    let header = BatchHeader {
        producer_id: pid,
        epoch: 0,
        base_sequence: 0,
    };
    assert_eq!(
        log.append("t", 0, Some(header), Record::new("x")),
        Err(LogError::PartitionFull {
            live_segments: 2,
            max_segments: 2
        })
    );
    assert_eq!(partition.log_end_offset(), 2, "nothing written");
    assert_eq!(log.partition("t", 0).unwrap().producer_state(pid), None);
    assert_eq!(log.producer_state_stats().entries, 0, "no state entry");
    assert_eq!(log.expire_producers(), 0, "nothing to expire");
}

/// The same sequence through the harness agrees with the model.
///
/// Storage v2: segments of 128 bytes (16 units), 2 of them. Five records of seed
/// 0 take 9 + 9 + 10 + 12 + 12 = 52 record bytes: a 92 -> 96-byte batch of 12
/// units, one per segment, so two plain batches fill the ring (4 units left in
/// segment 2); the first idempotent batch, 3 records of 28 bytes (68 -> 72 bytes
/// = 9 units), must open a third segment: PartitionFull.
#[test]
fn harness_agrees_after_a_partition_full_first_batch() {
    let config = HarnessConfig {
        window: 0,
        segment_shift: 0,  // segment_bytes = 128
        segments_shift: 0, // max_segments = 2
        max_batch: 11,     // max_batch_records = 1 + 11 % 12 = 12
        expiration_ms: 0,
        topics: vec![TopicSpec::default()],
    };
    let plain = Op::Append {
        topic: 0,
        partition: 0,
        batch: BatchSpec::Plain,
        records: RecordsSpec { count: 5, seed: 0 },
    };
    let ops = [
        Op::InitProducerId,
        plain.clone(),
        plain,
        Op::Append {
            topic: 0,
            partition: 0,
            batch: BatchSpec::Idempotent {
                producer: 0,
                sequence: SequenceSpec::Next(EpochSpec::Current),
            },
            records: RecordsSpec { count: 3, seed: 0 },
        },
        Op::ExpireProducers,
    ];
    let mut harness = Harness::new(&config).expect("setup agrees");
    for op in &ops {
        harness.apply(op).expect("the log and the model agree");
    }
    // The premise held: both plain batches went in, the idempotent one was full.
    assert_eq!(
        harness
            .outcomes()
            .iter()
            .map(|(label, count)| (label.as_str(), *count))
            .collect::<Vec<_>>(),
        vec![("PartitionFull", 1), ("appended", 2)]
    );
    let partition = harness.log().partition("t0", 0).unwrap();
    assert_eq!(
        (partition.log_end_offset(), partition.live_segments()),
        (10, 2)
    );
}

/// The issued-pid check moved before the batch checks in the real log (while this
/// work was under way): an empty batch of an unknown pid is now
/// `UnknownProducerId`, not `EmptyBatch`. The contract does not order the rule-1
/// problems, so the harness accepts any applicable one; this pins that.
#[test]
fn any_applicable_malformed_error_is_accepted() {
    let config = HarnessConfig {
        topics: vec![TopicSpec::default()],
        ..HarnessConfig::default()
    };
    let ops = [Op::Append {
        topic: 0,
        partition: 0,
        batch: BatchSpec::Idempotent {
            producer: 5,
            sequence: SequenceSpec::Exact(EpochSpec::Exact(40_000), -1),
        },
        records: RecordsSpec { count: 0, seed: 0 },
    }];
    Harness::run(&config, &ops).expect("agree up to rule-1 order");
}
