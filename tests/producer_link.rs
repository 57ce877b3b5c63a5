//! What the link holds: it drops requests whose request timeout passed before
//! they reached the log (Kafka closes the connection on a request timeout), so
//! a request stuck behind a huge delay does not pile up one more copy per
//! retry (virtual time); with `acks=0`, which has no answer to wait for, the
//! connection holds at most `max.in.flight.requests.per.connection` requests
//! and `close` waits for it to deliver them.

use std::time::{Duration, Instant};

use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{
    Acks, Producer, ProducerConfig, ProducerError, ProducerRecord, TimeSource,
};
use idemlog::Log;

/// A one-record batch: values are 2 bytes + 16 overhead = 18 bytes.
const ONE_RECORD: usize = 20;

#[test]
fn timed_out_requests_leave_the_link_and_exactly_once_holds() {
    const STUCK: usize = 300;
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    // The first STUCK requests are delayed "forever"; without the drop, every
    // later request queued behind them (FIFO) and the queue grew by one copy
    // per request timeout.
    let config = ProducerConfig::exactly_once()
        .batch_size(ONE_RECORD)
        .linger_ms(60_000)
        .request_timeout_ms(30_000)
        .delivery_timeout_ms(1 << 40)
        .link(LinkConfig::new().script(vec![Fault::Delay(u64::MAX); STUCK]))
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let values: Vec<String> = (0..5).map(|i| format!("v{i}")).collect();
    let handles: Vec<_> = values
        .iter()
        .map(|v| producer.send(ProducerRecord::new("t", &v.clone())).unwrap())
        .collect();
    producer.flush(Duration::MAX).unwrap();
    let results: Vec<_> = handles
        .iter()
        .map(|h| h.wait_timeout(Duration::from_secs(20)))
        .collect();
    if results.iter().any(Option::is_none) {
        // Fail instead of hanging in drop (the delivery timeout is huge).
        let _ = producer.close(Duration::from_millis(100));
        panic!(
            "not delivered: peak link queue {:?}",
            producer.link_queue_len()
        );
    }
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().unwrap().offset, Some(i as u64));
    }
    let metrics = producer.metrics();
    assert!(metrics.record_retry_total >= STUCK as u64, "{metrics:?}");
    let (now, peak) = producer.link_queue_len();
    assert_eq!(now, 0);
    // At most the in-flight requests of the one partition, never one per timeout.
    assert!(peak <= 5, "link queue peaked at {peak}");
    producer.close(Duration::from_secs(10)).unwrap();
    let logged: Vec<String> = log
        .consumer("t", 0)
        .unwrap()
        .poll(1000)
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
        .collect();
    assert_eq!(logged, values, "each record exactly once, in order");
}

/// `acks=0` over a link that delays every request by an hour: sends push back
/// once `buffer.memory` is held by batches waiting for room on the connection,
/// which holds at most `max.in.flight` requests, and `close` reports that it
/// could not deliver them (review finding: the link queued ~30 000 requests,
/// ~200 MiB against a 64 KiB `buffer.memory`, and `close` answered `Ok` in
/// 10 ms having dropped them).
#[test]
fn acks_0_holds_the_link_to_max_in_flight_and_close_waits_for_it() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::new()
        .acks(Acks::None)
        .linger_ms(0)
        .batch_size(16 << 10)
        .buffer_memory(64 << 10)
        .max_block_ms(0)
        .link(LinkConfig::new().delay_rate(1.0, 3_600_000));
    let producer = Producer::new(&log, config).unwrap();
    let value = vec![7u8; 1000];
    let mut accepted = 0;
    for _ in 0..20_000 {
        match producer.send(ProducerRecord::new("t", &value)) {
            Ok(_) => accepted += 1,
            Err(refused) => {
                assert!(matches!(
                    refused.error(),
                    ProducerError::BufferExhausted { .. }
                ));
                std::thread::yield_now();
            }
        }
    }
    let (_, peak) = producer.link_queue_len();
    assert!(
        peak <= 5,
        "the connection held {peak} requests (max.in.flight 5)"
    );
    // 64 KiB of waiting batches and five in the link, 16 records each at most.
    assert!(accepted <= 64 + 5 * 16, "{accepted} records accepted");
    let started = Instant::now();
    assert!(matches!(
        producer.close(Duration::from_millis(200)),
        Err(ProducerError::CloseTimeout { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The same with a short delay: `close` waits for the connection, and every
/// record sent is in the log.
#[test]
fn acks_0_close_delivers_what_the_link_holds() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::new()
        .acks(Acks::None)
        .linger_ms(0)
        .link(LinkConfig::new().delay_rate(1.0, 50));
    let producer = Producer::new(&log, config).unwrap();
    for i in 0..100 {
        producer
            .send(ProducerRecord::new("t", &format!("v{i}")))
            .unwrap();
    }
    producer.close(Duration::from_secs(20)).unwrap();
    assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 100);
}
