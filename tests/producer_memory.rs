//! What a producer holds for callers that gave up: a `flush()` that timed out
//! behind a stuck batch leaves nothing behind (review finding: every timed-out
//! call left a marker on every partition until the stuck record completed,
//! 134-207 MiB for 200 000 calls over 64 partitions). Its own test binary, so
//! the resident set it measures is its own.

use std::time::Duration;

use idemlog::producer::sim::LinkConfig;
use idemlog::producer::{Producer, ProducerConfig, ProducerError, ProducerRecord};
use idemlog::Log;

#[path = "common/resident.rs"]
mod resident;
use resident::resident_bytes;

#[test]
fn timed_out_flushes_behind_a_stuck_record_hold_no_memory() {
    let log = Log::new();
    log.create_topic("t", 64).unwrap();
    // Every request is lost and retried only after an hour: the record sticks.
    let config = ProducerConfig::new()
        .linger_ms(0)
        .request_timeout_ms(3_600_000)
        .delivery_timeout_ms(7_200_000)
        .link(LinkConfig::new().drop_request_rate(1.0));
    let producer = Producer::new(&log, config).unwrap();
    let _stuck = producer
        .send(ProducerRecord::new("t", "v").partition(0))
        .unwrap();
    // A first flush makes the flusher track every partition.
    assert!(producer.flush(Duration::from_millis(50)).is_err());
    let before = resident_bytes();
    for _ in 0..200_000 {
        assert!(matches!(
            producer.flush(Duration::ZERO),
            Err(ProducerError::FlushTimeout { .. })
        ));
    }
    // Let the flusher take the last of them.
    std::thread::sleep(Duration::from_millis(200));
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "200 000 timed-out flush() calls kept {} MiB",
        grown >> 20
    );
    assert!(matches!(
        producer.close(Duration::ZERO),
        Err(ProducerError::CloseTimeout { .. })
    ));
}
