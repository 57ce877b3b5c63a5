//! The real [`Log`](idemlog::Log) against the sequential reference model
//! (`tests/support/model.rs`), on random operation sequences: the same comparison
//! as the `log_model` fuzz target, run by `cargo test` on stable.

mod support;

use proptest::prelude::*;
use support::check::{
    BatchSpec, EpochSpec, Harness, HarnessConfig, Op, ReadFrom, RecordsSpec, RetentionSpec,
    SequenceSpec, TopicSpec,
};

fn retention() -> impl Strategy<Value = RetentionSpec> {
    prop_oneof![
        2 => Just(RetentionSpec::default()),
        3 => (
            proptest::option::of(0u8..24),
            proptest::option::of(0u8..64),
            proptest::option::of(0u16..400),
        )
            .prop_map(|(max_records, max_bytes, max_age_ms)| RetentionSpec {
                max_records,
                max_bytes,
                max_age_ms,
            }),
    ]
}

fn config() -> impl Strategy<Value = HarnessConfig> {
    (
        0u8..8,
        0u8..4,
        0u8..4,
        any::<u8>(),
        prop_oneof![0u16..100, 100u16..2000],
        proptest::collection::vec(
            (0u8..3, retention()).prop_map(|(partitions, retention)| TopicSpec {
                partitions,
                retention,
            }),
            3,
        ),
    )
        .prop_map(
            |(window, segment_shift, segments_shift, max_batch, expiration_ms, topics)| {
                HarnessConfig {
                    window,
                    segment_shift,
                    segments_shift,
                    max_batch,
                    expiration_ms,
                    topics,
                }
            },
        )
}

fn epoch() -> impl Strategy<Value = EpochSpec> {
    prop_oneof![
        6 => Just(EpochSpec::Current),
        2 => any::<u8>().prop_map(EpochSpec::Bump),
        1 => any::<u16>().prop_map(EpochSpec::Lower),
        1 => prop_oneof![0u16..4, 32_760u16..32_770].prop_map(EpochSpec::Exact),
    ]
}

fn sequence() -> impl Strategy<Value = SequenceSpec> {
    prop_oneof![
        8 => epoch().prop_map(SequenceSpec::Next),
        4 => any::<u8>().prop_map(|back| SequenceSpec::Retry { back }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(back, skip)| SequenceSpec::ReSplit { back, skip }),
        1 => (epoch(), prop_oneof![-2i32..8, Just(i32::MAX), any::<i32>()])
            .prop_map(|(epoch, base)| SequenceSpec::Exact(epoch, base)),
        1 => (epoch(), any::<u8>()).prop_map(|(epoch, below)| SequenceSpec::NearMax(epoch, below)),
    ]
}

fn batch() -> impl Strategy<Value = BatchSpec> {
    prop_oneof![
        1 => Just(BatchSpec::Plain),
        4 => prop_oneof![12 => 0u8..3, 1 => 3u8..8]
            .prop_flat_map(|producer| sequence()
                .prop_map(move |sequence| BatchSpec::Idempotent { producer, sequence })),
    ]
}

/// Mostly small valid batches; sometimes any count (empty and oversized included).
fn count() -> impl Strategy<Value = u8> {
    prop_oneof![8 => 1u8..4, 1 => any::<u8>()]
}

fn op() -> impl Strategy<Value = Op> {
    let topic = prop_oneof![12 => Just(0u8), 4 => 1u8..3, 1 => 3u8..5];
    let partition = prop_oneof![12 => Just(0u8), 4 => 1u8..3, 1 => Just(3u8)];
    prop_oneof![
        2 => Just(Op::InitProducerId),
        1 => (any::<u8>(), any::<u8>(), retention())
            .prop_map(|(name, partitions, retention)| Op::CreateTopic { name, partitions, retention }),
        16 => (topic.clone(), partition.clone(), batch(), count(), any::<u8>()).prop_map(
            |(topic, partition, batch, count, seed)| Op::Append {
                topic,
                partition,
                batch,
                records: RecordsSpec { count, seed },
            }
        ),
        2 => prop_oneof![0u16..50, 50u16..3000].prop_map(|ms| Op::AdvanceClock { ms }),
        1 => Just(Op::ExpireProducers),
        1 => (topic.clone(), partition.clone())
            .prop_map(|(topic, partition)| Op::EnforceRetention { topic, partition }),
        1 => Just(Op::EnforceRetentionAll),
        2 => (
            topic,
            partition,
            prop_oneof![
                any::<u8>().prop_map(|n| ReadFrom::Start(n % 8)),
                any::<u8>().prop_map(ReadFrom::BeforeStart),
                any::<u8>().prop_map(|n| ReadFrom::End(n % 8)),
                any::<u16>().prop_map(|n| ReadFrom::Raw(n % 200)),
            ],
            any::<u8>(),
        )
            .prop_map(|(topic, partition, from, max)| Op::Read { topic, partition, from, max }),
    ]
}

/// Most sequences start by issuing a few producer ids, so appends get past rule 1.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (1usize..4, proptest::collection::vec(op(), 0..60)).prop_map(|(producers, mut ops)| {
        let mut all = vec![Op::InitProducerId; producers];
        all.append(&mut ops);
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn real_log_agrees_with_the_model(config in config(), ops in ops()) {
        if let Err(disagreement) = Harness::run(&config, &ops) {
            prop_assert!(false, "{disagreement}");
        }
    }
}
