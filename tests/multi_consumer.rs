//! `MultiConsumer` assigned by hand: many partitions of several topics, fair
//! order, blocking until any has data, wakeup, positions, auto.offset.reset,
//! lag, iterators and bad input.

use std::ops::ControlFlow;
use std::thread;
use std::time::{Duration, Instant};

use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::{
    ConsumerError, Log, LogConfig, LogError, MultiConsumer, Record, RetentionPolicy, TopicConfig,
    TopicPartition,
};

fn earliest() -> ConsumerConfig {
    ConsumerConfig::new().offset_reset(OffsetReset::Earliest)
}

fn log_with(topic: &str, partitions: u32) -> Log {
    let log = Log::new();
    log.create_topic(topic, partitions).unwrap();
    log
}

fn fill(log: &Log, topic: &str, partition: u32, count: usize) {
    for i in 0..count {
        log.append(
            topic,
            partition,
            None,
            Record::new(format!("{partition}:{i}")),
        )
        .unwrap();
    }
}

/// (partition, offset) of each record a poll visits.
fn poll_offsets(consumer: &mut MultiConsumer, max: usize) -> Vec<(u32, u64)> {
    let mut seen = Vec::new();
    consumer
        .poll_with(max, |r| seen.push((r.partition, r.offset)))
        .unwrap();
    seen
}

#[test]
fn reads_every_assigned_partition_of_several_topics() {
    let log = log_with("a", 3);
    log.create_topic("b", 1).unwrap();
    for p in 0..3 {
        fill(&log, "a", p, 5);
    }
    fill(&log, "b", 0, 5);
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("a").unwrap();
    consumer.assign("b", 0).unwrap();
    let mut seen: Vec<(String, u32, u64)> = Vec::new();
    while consumer
        .poll_with(7, |r| {
            seen.push((r.topic.to_string(), r.partition, r.offset))
        })
        .unwrap()
        > 0
    {}
    assert_eq!(seen.len(), 20);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20, "each record once");
    for (topic, partition) in [("a", 0), ("a", 1), ("a", 2), ("b", 0)] {
        assert_eq!(consumer.position(topic, partition).unwrap(), 5);
    }
    assert_eq!(
        consumer.assignment(),
        [
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 1),
            TopicPartition::new("a", 2),
            TopicPartition::new("b", 0)
        ]
    );
}

#[test]
fn each_poll_starts_at_the_next_partition() {
    let log = log_with("t", 4);
    for p in 0..4 {
        fill(&log, "t", p, 100);
    }
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("t").unwrap();
    // A backlog everywhere and a small max: the polls rotate over the partitions.
    let firsts: Vec<u32> = (0..8)
        .map(|_| poll_offsets(&mut consumer, 3)[0].0)
        .collect();
    assert_eq!(firsts, [0, 1, 2, 3, 0, 1, 2, 3]);
    for p in 0..4 {
        assert_eq!(consumer.position("t", p).unwrap(), 6);
    }
}

#[test]
fn a_visitor_can_stop_the_poll_early() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 5);
    fill(&log, "t", 1, 5);
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("t").unwrap();
    let mut visited = 0;
    let read = consumer
        .poll_with(100, |r| {
            visited += 1;
            if r.offset == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(
        (read, visited),
        (3, 3),
        "stopped after the record it broke on"
    );
    assert_eq!(consumer.position("t", 0).unwrap(), 3);
    assert_eq!(
        consumer.position("t", 1).unwrap(),
        0,
        "the next partition untouched"
    );
}

#[test]
fn a_blocking_poll_wakes_for_an_append_to_any_partition() {
    let log = log_with("t", 8);
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("t").unwrap();
    for target in [5, 0, 7] {
        let writer = {
            let log = log.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                log.append("t", target, None, Record::new("late")).unwrap();
            })
        };
        let started = Instant::now();
        let mut got = Vec::new();
        let read = consumer
            .poll_with_timeout(10, Duration::from_secs(30), |r| got.push(r.partition))
            .unwrap();
        assert_eq!((read, got), (1, vec![target]));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by the append"
        );
        writer.join().unwrap();
    }
    // Nothing more: a short timeout returns empty.
    let read = consumer
        .poll_with_timeout(10, Duration::from_millis(5), |_| ())
        .unwrap();
    assert_eq!(read, 0);
}

#[test]
fn wakeup_interrupts_a_blocked_poll_and_is_kept_for_the_next_one() {
    let log = log_with("t", 2);
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("t").unwrap();
    let handle = consumer.wakeup_handle();
    let waker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        handle.wakeup();
    });
    assert_eq!(
        consumer.recv_timeout(Duration::from_secs(60)),
        Err(ConsumerError::Woken)
    );
    waker.join().unwrap();
    // Answered once: the next wait times out normally.
    assert_eq!(consumer.recv_timeout(Duration::from_millis(5)), Ok(None));
    // A wakeup with no poll running is answered by the next blocking poll.
    consumer.wakeup_handle().wakeup();
    fill(&log, "t", 0, 1);
    assert_eq!(
        consumer.poll_with_timeout(1, Duration::from_secs(1), |_| ()),
        Err(ConsumerError::Woken)
    );
    assert_eq!(
        consumer
            .recv_timeout(Duration::from_secs(1))
            .unwrap()
            .unwrap()
            .offset,
        0
    );
}

#[test]
fn iterators_read_until_caught_up_or_until_a_wakeup() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 3);
    fill(&log, "t", 1, 2);
    let mut consumer = log.multi_consumer(earliest()).unwrap();
    consumer.assign_topic("t").unwrap();
    assert_eq!(consumer.try_iter().count(), 5);
    assert_eq!(consumer.try_iter().count(), 0, "caught up");
    let handle = consumer.wakeup_handle();
    let writer = {
        let log = log.clone();
        thread::spawn(move || {
            for i in 0..4 {
                log.append("t", i % 2, None, Record::new("x")).unwrap();
            }
            thread::sleep(Duration::from_millis(20));
            handle.wakeup();
        })
    };
    let mut read = 0;
    for record in &mut consumer {
        record.unwrap();
        read += 1;
    }
    assert_eq!(
        read, 4,
        "the blocking iterator read all, then the wakeup ended it"
    );
    writer.join().unwrap();
}

#[test]
fn offset_reset_decides_where_a_partition_without_a_commit_starts() {
    let log = log_with("t", 1);
    fill(&log, "t", 0, 3);
    let mut latest = log.multi_consumer(ConsumerConfig::new()).unwrap();
    latest.assign("t", 0).unwrap();
    assert_eq!(
        latest.position("t", 0).unwrap(),
        3,
        "Kafka's default: latest"
    );
    let mut earliest_consumer = log.multi_consumer(earliest()).unwrap();
    earliest_consumer.assign("t", 0).unwrap();
    assert_eq!(earliest_consumer.position("t", 0).unwrap(), 0);
    let none = ConsumerConfig::new().offset_reset(OffsetReset::None);
    let mut strict = log.multi_consumer(none.clone()).unwrap();
    strict.assign("t", 0).unwrap();
    let no_offset = ConsumerError::NoOffset {
        partition: TopicPartition::new("t", 0),
    };
    assert_eq!(strict.poll(10), Err(no_offset.clone()));
    assert_eq!(strict.position("t", 0), Err(no_offset));
    strict.seek("t", 0, 1).unwrap();
    assert_eq!(strict.poll(10).unwrap().len(), 2);
    // A committed offset wins over the policy.
    log.commit_offset("g", "t", 0, 2).unwrap();
    let mut member = log.multi_consumer(none.group_id("g")).unwrap();
    member.assign("t", 0).unwrap();
    assert_eq!(member.position("t", 0).unwrap(), 2);
}

#[test]
fn offset_reset_applies_to_a_position_evicted_by_retention() {
    let config = LogConfig::default().segment_bytes(256).max_segments(4);
    let log = Log::with_config(config).unwrap();
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(8)),
    )
    .unwrap();
    let mut reset = log.multi_consumer(earliest()).unwrap();
    reset.assign("t", 0).unwrap();
    let mut strict = log
        .multi_consumer(ConsumerConfig::new().offset_reset(OffsetReset::None))
        .unwrap();
    strict.assign("t", 0).unwrap();
    strict.seek("t", 0, 0).unwrap();
    fill(&log, "t", 0, 200);
    let start = log.partition("t", 0).unwrap().log_start_offset();
    assert!(start > 0, "retention evicted the first records");
    let records = reset.poll(1000).unwrap();
    assert_eq!(records[0].offset, start, "earliest: from the log start");
    match strict.poll(10) {
        Err(ConsumerError::OffsetOutOfRange {
            partition, offset, ..
        }) => assert_eq!((partition, offset), (TopicPartition::new("t", 0), 0)),
        other => panic!("expected OffsetOutOfRange, got {other:?}"),
    }
}

#[test]
fn lag_is_the_high_watermark_minus_position_and_committed() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 10);
    fill(&log, "t", 1, 4);
    let mut consumer = log.multi_consumer(earliest().group_id("g")).unwrap();
    consumer.assign_topic("t").unwrap();
    consumer.seek("t", 0, 6).unwrap();
    consumer.commit().unwrap();
    consumer.seek("t", 1, 1).unwrap();
    let lag = consumer.lag();
    assert_eq!(lag.len(), 2);
    assert_eq!((lag[0].lag(), lag[0].committed_lag()), (Some(4), Some(4)));
    assert_eq!((lag[1].lag(), lag[1].committed_lag()), (Some(3), Some(4)));
    assert_eq!(consumer.committed("t", 1).unwrap(), Some(0));
}

#[test]
fn commits_of_a_hand_assigned_consumer_resume_a_new_one() {
    let log = log_with("t", 2);
    fill(&log, "t", 0, 5);
    fill(&log, "t", 1, 5);
    let config = earliest().group_id("resume").auto_commit(false);
    let mut first = log.multi_consumer(config.clone()).unwrap();
    first.assign_topic("t").unwrap();
    assert_eq!(first.poll(6).unwrap().len(), 6);
    first.commit().unwrap();
    drop(first);
    let mut second = log.multi_consumer(config).unwrap();
    second.assign_topic("t").unwrap();
    assert_eq!(
        second.try_iter().count(),
        4,
        "resumed after the committed six"
    );
}

#[test]
fn bad_input_gets_clear_errors() {
    let log = log_with("t", 2);
    let mut consumer = log.multi_consumer(ConsumerConfig::new()).unwrap();
    assert_eq!(consumer.poll(1), Err(ConsumerError::NoAssignment));
    assert!(matches!(
        consumer.assign("nope", 0),
        Err(ConsumerError::Log(LogError::UnknownTopic { .. }))
    ));
    assert!(matches!(
        consumer.assign("t", 2),
        Err(ConsumerError::Log(LogError::UnknownPartition { .. }))
    ));
    consumer.assign("t", 1).unwrap();
    let twice = Err(ConsumerError::AlreadyAssigned {
        partition: TopicPartition::new("t", 1),
    });
    assert_eq!(consumer.assign("t", 1), twice);
    assert_eq!(consumer.assign_topic("t"), twice, "all or none");
    assert_eq!(consumer.assignment().len(), 1);
    assert!(matches!(
        consumer.seek("t", 1, u64::MAX),
        Err(ConsumerError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        consumer.seek("t", 0, 0),
        Err(ConsumerError::NotAssigned {
            partition: TopicPartition::new("t", 0)
        })
    );
    assert_eq!(consumer.commit(), Err(ConsumerError::NoGroupId));
    assert_eq!(consumer.committed("t", 1), Err(ConsumerError::NoGroupId));
    assert_eq!(
        consumer.on_rebalance(|_| ()),
        Err(ConsumerError::NotSubscribed)
    );
    consumer.unassign("t", 1).unwrap();
    assert!(consumer.unassign("t", 1).is_err());
    for (key, value) in [
        ("max.poll.records", "0"),
        ("auto.offset.reset", "smallest"),
        ("group.id", " "),
        ("enable.auto.commit", "yes"),
        ("partition.assignment.strategy", "fastest"),
        // Kafka refuses an unknown entry anywhere in the list.
        ("partition.assignment.strategy", "range,fastest"),
        ("partition.assignment.strategy", "fastest,roundrobin"),
        ("no.such.key", "1"),
    ] {
        let error = ConsumerConfig::new().set(key, value).unwrap_err();
        assert!(error.to_string().contains(key.trim()), "{error}");
    }
    assert!(log
        .multi_consumer(ConsumerConfig::new().max_poll_records(0))
        .is_err());
    assert!(ConsumerConfig::new()
        .set("session.timeout.ms", "45000")
        .is_ok());
    let strategies = ConsumerConfig::new()
        .set("partition.assignment.strategy", "roundrobin, range")
        .unwrap();
    // The first of the list is used.
    assert!(
        format!("{strategies:?}").contains("assignor: RoundRobin"),
        "{strategies:?}"
    );
}

/// One set of Kafka client properties configures both clients: the keys every
/// client shares (identity, metrics, network, security) are ignored by the
/// consumer as by the producer (the consumer refused `security.protocol`,
/// every `ssl.*` and `sasl.*` key, the socket keys...), and each client's own
/// ignored keys stay its own.
#[test]
fn the_consumer_ignores_the_client_keys_the_producer_ignores() {
    use idemlog::producer::ProducerConfig;
    for &key in ConsumerConfig::IGNORED_KEYS {
        assert!(ConsumerConfig::new().set(key, "x").is_ok(), "{key}");
    }
    let shared = [
        ("client.id", "billing"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required;",
        ),
        ("ssl.truststore.location", "/etc/kafka/truststore.jks"),
        ("send.buffer.bytes", "131072"),
        ("reconnect.backoff.ms", "50"),
        ("metadata.max.age.ms", "300000"),
    ];
    let _consumer = ConsumerConfig::from_properties(shared).unwrap();
    let _producer = ProducerConfig::from_properties(shared).unwrap();
    let producer_only = ConsumerConfig::new().set("compression.type", "lz4");
    assert!(producer_only.is_err(), "{producer_only:?}");
    let consumer_only = ProducerConfig::new().set("fetch.min.bytes", "1");
    assert!(consumer_only.is_err(), "{consumer_only:?}");
}

/// A seek or a commit out of range says what is wrong with that offset, not
/// the reset policy (a new-user trial found "auto.offset.reset is none: seek to
/// recover" on a failed seek of an `earliest` consumer).
#[test]
fn out_of_range_seeks_and_commits_say_what_the_partition_holds() {
    let log = log_with("t", 1);
    fill(&log, "t", 0, 1);
    let mut consumer = log.multi_consumer(earliest().group_id("g")).unwrap();
    consumer.assign("t", 0).unwrap();
    let seek = consumer.seek("t", 0, 100).unwrap_err();
    let commit = consumer
        .commit_offsets(&[(TopicPartition::new("t", 0), 100)])
        .unwrap_err();
    for error in [seek, commit] {
        assert_eq!(
            error.to_string(),
            "offset 100 of t-0 is out of range: it holds 0..1"
        );
    }
}
