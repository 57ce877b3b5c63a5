//! loom: the accumulator -> flusher hand-off. A sender races the flusher going
//! to sleep and `close`: every record is appended exactly once or failed with
//! `Closed`, never lost, never sent twice, and `close()` drains and returns.
//!
//! Segments of 128 bytes: the single 1-byte record (7 units) lands in segment 1.
#![cfg(loom)]

mod common;

use std::time::Duration;

use common::check;
use idemlog::producer::{Producer, ProducerConfig, ProducerError, ProducerRecord, TimeSource};
use idemlog::{Log, LogConfig};

fn setup() -> (Log, Producer) {
    let log = Log::with_config(LogConfig::default().segment_bytes(128).max_segments(4)).unwrap();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::at_least_once()
        .linger_ms(0)
        .batch_size(0)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    (log, producer)
}

#[test]
fn send_races_flusher_sleep_and_close() {
    check("producer_handoff_send_close", || {
        let (log, producer) = setup();
        let sender = {
            let producer = producer.clone();
            loom::thread::spawn(move || {
                producer
                    .send(ProducerRecord::new("t", "a"))
                    .map(|h| h.wait().map_err(|e| e.error().clone()))
                    .map_err(|e| e.error().clone())
            })
        };
        producer.close(Duration::from_secs(60)).unwrap();
        let outcome = sender.join().unwrap();
        let in_log = log.partition("t", 0).unwrap().log_end_offset();
        match outcome {
            Ok(Ok(meta)) => assert_eq!((meta.offset, in_log), (Some(0), 1)),
            // `Closed`: never sent, so certainly not in the log.
            Ok(Err(ProducerError::Closed)) | Err(ProducerError::Closed) => assert_eq!(in_log, 0),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn flush_waits_for_a_concurrent_send() {
    check("producer_handoff_flush", || {
        let (log, producer) = setup();
        let handle = producer.send(ProducerRecord::new("t", "a")).unwrap();
        producer.flush(Duration::MAX).unwrap();
        assert!(handle.is_done());
        assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 1);
        producer.close(Duration::from_secs(60)).unwrap();
    });
}
