//! Reading by offset: positions, ranges, blocking polls, committed offsets.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use idemlog::{
    BatchHeader, Log, LogConfig, LogError, ManualClock, Record, RetentionPolicy, RetentionReport,
    TopicConfig,
};

/// Appends `records` as one batch to "t"-0 from another thread, 20 ms from now.
fn append_soon(log: &Log, records: Vec<Record>) -> thread::JoinHandle<()> {
    let log = log.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        log.append("t", 0, None, records).unwrap();
    })
}

#[test]
fn records_carry_offset_timestamp_key_value_and_producer() {
    let clock = ManualClock::new(1_234);
    let log = Log::with_config(
        LogConfig::default()
            .clock(Arc::new(clock))
            .housekeeping(None),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let pid = log.init_producer_id().producer_id;
    let header = BatchHeader {
        producer_id: pid,
        epoch: 2,
        base_sequence: 10,
    };
    log.append("t", 0, None, Record::new("plain")).unwrap();
    log.append(
        "t",
        0,
        Some(header),
        [Record::with_key("k1", "v1"), Record::new("v2")],
    )
    .unwrap();
    let records = log.consumer("t", 0).unwrap().poll(10).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].producer, None);
    assert_eq!(records[1].offset, 1);
    assert_eq!(records[1].timestamp_ms, 1_234);
    assert_eq!(records[1].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(&records[1].value[..], b"v1");
    let meta = records[2].producer.unwrap();
    assert_eq!((meta.producer_id, meta.epoch, meta.sequence), (pid, 2, 11));
}

#[test]
fn polls_respect_max_and_advance_the_position() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let batch: Vec<Record> = (0..10).map(|i| Record::new(vec![i])).collect();
    log.append("t", 0, None, batch).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    assert_eq!(consumer.poll(4).unwrap().len(), 4);
    assert_eq!(consumer.position(), 4);
    consumer.seek(8);
    let rest = consumer.poll(100).unwrap();
    assert_eq!(
        rest.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![8, 9]
    );
    assert!(consumer.poll(100).unwrap().is_empty());
    assert_eq!(consumer.poll(0).unwrap().len(), 0);
}

#[test]
fn reads_outside_the_log_are_offset_out_of_range() {
    // Batches never span segments: six 1-record batches of 1-byte values (7
    // units each) go two to a 128-byte segment (16 units): offsets 0-1, 2-3, 4-5.
    let log = Log::with_config(LogConfig::default().segment_bytes(128)).unwrap();
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(2)),
    )
    .unwrap();
    for i in 0..6u8 {
        let outcome = log.append("t", 0, None, Record::new(vec![i])).unwrap();
        assert_eq!(outcome.base_offset, u64::from(i));
    }
    let partition = log.partition("t", 0).unwrap();
    // Opening segment 3 already evicted segment 1 (5 - 2 >= 2 records left); by
    // hand, segment 2 goes too (4 - 2 >= 2); segment 3 is being written.
    assert_eq!(partition.log_start_offset(), 2);
    assert_eq!(
        partition.enforce_retention(),
        RetentionReport {
            segments: 1,
            records: 2
        }
    );
    assert_eq!(partition.log_start_offset(), 4);
    let mut consumer = log.consumer("t", 0).unwrap();
    assert_eq!(
        consumer.position(),
        4,
        "a new consumer starts at the log start"
    );
    consumer.seek(1);
    assert_eq!(
        consumer.poll(10),
        Err(LogError::OffsetOutOfRange {
            offset: 1,
            log_start: 4,
            log_end: 6
        })
    );
    consumer.seek(7);
    assert!(matches!(
        consumer.poll(10),
        Err(LogError::OffsetOutOfRange { offset: 7, .. })
    ));
    consumer.seek_to_beginning();
    let rest = consumer.poll(10).unwrap();
    assert_eq!(
        rest.iter()
            .map(|r| (r.offset, r.value[0]))
            .collect::<Vec<_>>(),
        vec![(4, 4), (5, 5)]
    );
}

#[test]
fn blocking_poll_wakes_when_a_record_is_published() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    let writer = append_soon(&log, vec![Record::new("wake")]);
    let started = Instant::now();
    let records = consumer.poll_timeout(10, Duration::from_secs(30)).unwrap();
    assert_eq!(records.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken, not timed out"
    );
    writer.join().unwrap();
}

#[test]
fn blocking_poll_times_out_empty() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    let records = consumer.poll_timeout(10, Duration::from_millis(5)).unwrap();
    assert!(records.is_empty());
    assert_eq!(consumer.position(), 0);
}

#[test]
fn many_blocking_consumers_each_see_every_record() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut consumer = log.consumer("t", 0).unwrap();
            thread::spawn(move || {
                let mut seen = Vec::new();
                while seen.len() < 200 {
                    for record in consumer.poll_timeout(64, Duration::from_secs(30)).unwrap() {
                        seen.push(record.offset);
                    }
                }
                seen
            })
        })
        .collect();
    for i in 0..200u32 {
        log.append("t", 0, None, Record::new(i.to_le_bytes().to_vec()))
            .unwrap();
    }
    for reader in readers {
        assert_eq!(reader.join().unwrap(), (0..200).collect::<Vec<u64>>());
    }
}

#[test]
fn committed_offsets_let_a_group_resume() {
    let log = Log::new();
    log.create_topic("t", 2).unwrap();
    log.append(
        "t",
        1,
        None,
        [Record::new("a"), Record::new("b"), Record::new("c")],
    )
    .unwrap();
    assert_eq!(log.committed("g", "t", 1), Ok(None));
    let mut consumer = log.consumer_for_group("g", "t", 1).unwrap();
    consumer.poll(2).unwrap();
    consumer.commit("g").unwrap();
    assert_eq!(log.committed("g", "t", 1), Ok(Some(2)));
    assert_eq!(log.committed("other", "t", 1), Ok(None));
    let mut resumed = log.consumer_for_group("g", "t", 1).unwrap();
    assert_eq!(&resumed.poll(10).unwrap()[0].value[..], b"c");
    assert!(log.commit_offset("g", "t", 9, 0).is_err());
    assert!(log.committed("g", "missing", 0).is_err());
}

#[test]
fn blocking_zero_copy_polls_and_recv_wait_for_the_next_record() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    let writer = append_soon(&log, vec![Record::new("a"), Record::new("b")]);
    let mut values = Vec::new();
    let read = consumer
        .poll_with_timeout(10, Duration::from_secs(30), |r| {
            values.push(r.value.to_vec())
        })
        .unwrap();
    writer.join().unwrap();
    assert_eq!(read, values.len());
    // The second record may or may not have been published with the first poll.
    while values.len() < 2 {
        values.push(
            consumer
                .recv_timeout(Duration::from_secs(5))
                .unwrap()
                .unwrap()
                .value
                .to_vec(),
        );
    }
    assert_eq!(values, [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(
        consumer.recv_timeout(Duration::from_millis(5)).unwrap(),
        None
    );
    assert_eq!(consumer.try_recv().unwrap(), None);
    assert_eq!(
        consumer
            .poll_with_timeout(10, Duration::from_millis(5), |_| ())
            .unwrap(),
        0
    );
}

#[test]
fn a_visitor_stops_early_and_the_position_follows_it() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let batch: Vec<Record> = (0..10).map(|i| Record::new(vec![i])).collect();
    log.append("t", 0, None, batch).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    let read = consumer
        .poll_with(100, |r| {
            if r.value == [3] {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!((read, consumer.position()), (4, 4));
    let next = consumer.try_recv().unwrap().unwrap();
    assert_eq!(
        (next.offset, next.topic.as_ref(), next.partition),
        (4, "t", 0)
    );
}

#[test]
fn iterators_seek_to_end_and_lag() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let batch: Vec<Record> = (0..6).map(|i| Record::new(vec![i])).collect();
    log.append("t", 0, None, batch).unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    assert_eq!(consumer.lag(), 6);
    let first_two: Vec<u64> = consumer
        .try_iter()
        .take(2)
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(first_two, [0, 1]);
    assert_eq!((consumer.position(), consumer.lag()), (2, 4));
    let mut blocking = Vec::new();
    for record in &mut consumer {
        blocking.push(record.unwrap().offset);
        if blocking.len() == 4 {
            break;
        }
    }
    assert_eq!(blocking, [2, 3, 4, 5]);
    assert_eq!(consumer.try_iter().count(), 0);
    consumer.seek(0);
    consumer.seek_to_end();
    assert_eq!((consumer.position(), consumer.lag()), (6, 0));
    log.append("t", 0, None, Record::new("new")).unwrap();
    assert_eq!(
        consumer
            .try_iter()
            .map(|r| r.unwrap().offset)
            .collect::<Vec<_>>(),
        [6]
    );
}

#[test]
fn an_iterator_yields_an_evicted_position_once_and_ends() {
    let log = Log::with_config(LogConfig::default().segment_bytes(256).max_segments(4)).unwrap();
    log.create_topic_with(
        "t",
        TopicConfig::new(1).retention(RetentionPolicy::default().max_records(8)),
    )
    .unwrap();
    let mut consumer = log.consumer("t", 0).unwrap();
    for i in 0..200u32 {
        log.append("t", 0, None, Record::new(i.to_le_bytes().to_vec()))
            .unwrap();
    }
    let mut iter = consumer.iter();
    assert!(matches!(
        iter.next(),
        Some(Err(LogError::OffsetOutOfRange { offset: 0, .. }))
    ));
    assert!(iter.next().is_none(), "ended after the error");
}
