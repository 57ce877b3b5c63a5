//! The link drops requests whose request timeout passed before they reached the
//! log (Kafka closes the connection on a request timeout), so a request stuck
//! behind a huge delay does not pile up one more copy per retry. Virtual time.

use std::time::Duration;

use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{Producer, ProducerConfig, ProducerRecord, TimeSource};
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
