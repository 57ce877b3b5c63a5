//! loom: the sender -> flusher hand-off of the producer (P3, P5 and P9 in
//! `idemlog::implementation`). A `send` (which
//! links a new batch after the chain's start sentinel and wakes the flusher)
//! races the flusher going to sleep (`FlusherSignal`: the sender's SeqCst
//! fence + `sleeping` load vs the flusher's `sleeping` store + fence +
//! re-check) and `close` (drain, freeze the topic table, `BatchChain::terminate`):
//! the record is appended to the log exactly once and acknowledged at offset
//! 0, or `send` fails with `Closed` and the log stays empty; never lost, never
//! sent twice, and `close()` drains and returns. A send to a topic the flusher
//! has not seen yet must wake it by itself (the main thread closes only after
//! the handle completed). And `flush()` waits for a record sent just before it,
//! and `flush(Duration::ZERO)` answers `Ok` exactly when that record has
//! completed (P9: the pending-batch count against the flusher's completion).
//!
//! At-least-once (no producer-id handshake), `linger.ms = 0` (every record
//! wakes the flusher), `batch.size = 0` (a batch holds one record), virtual
//! time (the flusher never sleeps on a real clock; under loom its timed waits
//! are untimed, so a lost wake-up is a deadlock). Segments of 128 bytes: the
//! record's 1-record batch lands in segment 1.
#![cfg(loom)]

mod common;

use std::time::Duration;

use common::{assert_every_outcome, check, one_record_producer, read_all};
use idemlog::producer::{ProducerError, ProducerRecord};
use idemlog::Log;

/// (offset, value) of everything in partition 0 of "t".
fn log_contents(log: &Log) -> Vec<(u64, Vec<u8>)> {
    let mut consumer = log.consumer("t", 0).unwrap();
    read_all(&mut consumer, 0).unwrap()
}

/// Counts of the model's two outcomes over all executions (both must occur).
static ACKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static REFUSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn send_races_flusher_sleep_and_close() {
    check("producer_handoff_send_close", || {
        let (log, producer) = one_record_producer();
        let sender = {
            let producer = producer.clone();
            loom::thread::spawn(move || {
                producer
                    .send(ProducerRecord::new("t", "a"))
                    .map_err(ProducerError::from)
                    .map(|handle| handle.wait())
            })
        };
        // `Duration::MAX`: no timeout, so nothing is forced (under loom a timed
        // wait is untimed anyway): close must drain.
        producer.close(Duration::MAX).unwrap();
        let outcome = sender.join().unwrap();
        let contents = log_contents(&log);
        match outcome {
            Ok(Ok(meta)) => {
                assert_eq!((meta.partition, meta.offset), (0, Some(0)));
                assert!(!meta.duplicate);
                assert_eq!(contents, vec![(0, b"a".to_vec())], "acked once, at 0");
                ACKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(ProducerError::Closed) => {
                assert_eq!(contents, vec![], "refused, yet in the log");
                REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            // A record `send` accepted must be delivered by a close that did
            // not time out: a delivery error (even `Closed`) is a bug.
            other => panic!("unexpected {other:?}, log {contents:?}"),
        }
        // Closed for good.
        let late = producer.send(ProducerRecord::new("t", "b"));
        assert_eq!(
            late.map(|_| ()).map_err(ProducerError::from),
            Err(ProducerError::Closed)
        );
        assert_eq!(
            log.partition("t", 0).unwrap().log_end_offset(),
            contents.len() as u64
        );
    });
    let (acked, refused) = (
        ACKED.load(std::sync::atomic::Ordering::Relaxed),
        REFUSED.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!("send_races_flusher_sleep_and_close: acked {acked}, refused {refused}");
    assert!(
        acked > 0 && refused > 0,
        "both outcomes occur: {acked} {refused}"
    );
}

#[test]
fn flush_waits_for_a_concurrent_send() {
    check("producer_handoff_flush", || {
        let (log, producer) = one_record_producer();
        let handle = producer.send(ProducerRecord::new("t", "a")).unwrap();
        producer.flush(Duration::MAX).unwrap();
        // flush() returned: the record sent before it is complete, in the log.
        let meta = handle.try_result().expect("complete after flush").unwrap();
        assert_eq!((meta.partition, meta.offset), (0, Some(0)));
        assert_eq!(log_contents(&log), vec![(0, b"a".to_vec())]);
        producer.close(Duration::MAX).unwrap();
        assert_eq!(handle.wait().unwrap(), meta);
    });
}

/// How often `flush(Duration::ZERO)` answered `Ok` and `FlushTimeout`.
static ZERO_FLUSH: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

#[test]
fn a_zero_flush_answers_ok_only_after_the_record_completed() {
    check("producer_handoff_flush_zero", || {
        let (log, producer) = one_record_producer();
        let handle = producer.send(ProducerRecord::new("t", "a")).unwrap();
        let outcome = match producer.flush(Duration::ZERO) {
            Ok(()) => {
                // P9: no batch pending, so the record's batch completed.
                let meta = handle.try_result().expect("complete").unwrap();
                assert_eq!((meta.partition, meta.offset), (0, Some(0)));
                0
            }
            Err(ProducerError::FlushTimeout { .. }) => 1,
            Err(other) => panic!("unexpected {other:?}"),
        };
        ZERO_FLUSH[outcome].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // And the other way: once the handle reads done, nothing is pending.
        while !handle.is_done() {
            loom::thread::yield_now();
        }
        assert_eq!(producer.flush(Duration::ZERO), Ok(()));
        producer.close(Duration::MAX).unwrap();
        assert_eq!(log_contents(&log), vec![(0, b"a".to_vec())]);
    });
    assert_every_outcome(
        "a_zero_flush_answers_ok_only_after_the_record_completed",
        "ok, still pending",
        &ZERO_FLUSH,
    );
}

#[test]
fn send_wakes_the_sleeping_flusher() {
    // Only the sender's wake can wake the flusher here: the main thread closes
    // only after the record's handle completed.
    check("producer_handoff_send_wakes", || {
        let (log, producer) = one_record_producer();
        let sender = {
            let producer = producer.clone();
            loom::thread::spawn(move || {
                producer.send(ProducerRecord::new("t", "a")).unwrap().wait()
            })
        };
        let meta = sender.join().unwrap().unwrap();
        assert_eq!((meta.partition, meta.offset), (0, Some(0)));
        assert_eq!(log_contents(&log), vec![(0, b"a".to_vec())]);
        producer.close(Duration::MAX).unwrap();
    });
}
