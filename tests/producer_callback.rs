//! The callback form of delivery (`Producer::send_with_callback`): where it
//! runs, what it receives, and that hostile callbacks (panicking ones, ones
//! that flush, close or drop the producer, a panicking waker) neither kill the
//! flusher nor lose or hang any other record's completion.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{
    DeliveryResult, Producer, ProducerConfig, ProducerError, ProducerRecord, TimeSource,
};
use idemlog::Log;

const LONG: Duration = Duration::from_secs(30);

fn log_with_topic(partitions: u32) -> Log {
    let log = Log::new();
    log.create_topic("t", partitions).unwrap();
    log
}

fn fast() -> ProducerConfig {
    ProducerConfig::exactly_once()
        .linger_ms(0)
        .time(TimeSource::virtual_time())
}

#[test]
fn callback_gets_the_handles_result_on_the_flusher_thread_before_the_handle_completes() {
    let log = log_with_topic(1);
    let producer = Producer::new(&log, fast()).unwrap();
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let tx = tx.clone();
            producer
                .send_with_callback(ProducerRecord::new("t", &format!("v{i}")), move |result| {
                    let thread = std::thread::current().name().map(str::to_string);
                    tx.send((i, result, thread)).unwrap();
                })
                .unwrap()
        })
        .collect();
    producer.flush(Duration::MAX).unwrap();
    // Every callback ran before its handle completed (flush waited for all).
    let mut seen: Vec<(usize, DeliveryResult, Option<String>)> = rx.try_iter().collect();
    assert_eq!(seen.len(), 20);
    seen.sort_by_key(|(i, _, _)| *i);
    for ((i, result, thread), handle) in seen.into_iter().zip(&handles) {
        assert_eq!(Some(result.clone()), handle.try_result(), "record {i}");
        assert_eq!(result.unwrap().offset, Some(i as u64));
        assert!(thread.unwrap().starts_with("idemlog-flusher"));
    }
    producer.close(LONG).unwrap();
}

#[test]
fn a_panicking_callback_does_not_kill_the_flusher_or_lose_other_completions() {
    let log = log_with_topic(2);
    // A lost response too: the retry and its duplicate answer go through the
    // same flusher after the panics.
    let config = fast()
        .batch_size(20)
        .link(LinkConfig::new().script(vec![Fault::None, Fault::DropResponse]));
    let producer = Producer::new(&log, config).unwrap();
    let called = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..40u32)
        .map(|i| {
            let called = Arc::clone(&called);
            let value = format!("{i:02}");
            let record = ProducerRecord::new("t", &value).partition(i % 2);
            producer
                .send_with_callback(record, move |result| {
                    called.fetch_add(1, Ordering::Relaxed);
                    assert!(result.is_ok());
                    if i % 3 == 0 {
                        panic!("callback {i} panics on purpose");
                    }
                })
                .unwrap()
        })
        .collect();
    producer.flush(Duration::MAX).unwrap();
    for handle in &handles {
        assert!(handle.wait().is_ok());
    }
    assert_eq!(called.load(Ordering::Relaxed), 40);
    // The flusher is alive: more records go through, exactly once.
    let later = producer.send(ProducerRecord::new("t", "later")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    assert!(later.wait().is_ok());
    let total: u64 = (0..2)
        .map(|p| log.partition("t", p).unwrap().log_end_offset())
        .sum();
    assert_eq!(total, 41);
    assert_eq!(producer.metrics().record_ack_total, 41);
    producer.close(LONG).unwrap();
}

#[test]
fn a_failed_send_never_calls_its_callback() {
    let log = log_with_topic(1);
    let producer = Producer::new(&log, fast().buffer_memory(64).max_block_ms(0)).unwrap();
    let called = Arc::new(AtomicUsize::new(0));
    let count = |called: &Arc<AtomicUsize>| {
        let called = Arc::clone(called);
        move |_: DeliveryResult| {
            called.fetch_add(1, Ordering::Relaxed);
        }
    };
    let unknown = producer.send_with_callback(ProducerRecord::new("nope", "v"), count(&called));
    assert!(matches!(
        unknown.unwrap_err().error(),
        ProducerError::Log(_)
    ));
    let big = vec![0u8; 100];
    let too_large = producer.send_with_callback(ProducerRecord::new("t", &big), count(&called));
    assert!(matches!(
        too_large.unwrap_err().error(),
        ProducerError::RecordTooLarge { .. }
    ));
    producer.close(LONG).unwrap();
    let closed = producer.send_with_callback(ProducerRecord::new("t", "v"), count(&called));
    assert_eq!(closed.unwrap_err(), ProducerError::Closed);
    assert_eq!(called.load(Ordering::Relaxed), 0);
}

#[test]
fn flush_and_close_from_a_callback_return_in_callback_instead_of_deadlocking() {
    let log = log_with_topic(1);
    let producer = Arc::new(Producer::new(&log, fast()).unwrap());
    let answers = Arc::new(Mutex::new(Vec::new()));
    let first = {
        let (producer2, answers) = (Arc::clone(&producer), Arc::clone(&answers));
        producer
            .send_with_callback(ProducerRecord::new("t", "a"), move |_| {
                let flush = producer2.flush(Duration::MAX);
                // Sending from a callback works (it never blocks there).
                let sent = producer2.send(ProducerRecord::new("t", "from-callback"));
                let close = producer2.close(LONG);
                answers.lock().unwrap().push((flush, sent.is_ok(), close));
            })
            .unwrap()
    };
    assert!(first.wait().is_ok());
    let answers = answers.lock().unwrap().clone();
    assert_eq!(
        answers,
        [(
            Err(ProducerError::InCallback { operation: "flush" }),
            true,
            Err(ProducerError::InCallback { operation: "close" })
        )]
    );
    // The close started in the callback drained the record sent from it.
    producer.close(LONG).unwrap();
    assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 2);
    assert_eq!(
        producer.send(ProducerRecord::new("t", "x")).unwrap_err(),
        ProducerError::Closed
    );
}

#[test]
fn dropping_the_last_producer_owner_inside_a_callback_does_not_hang() {
    let log = log_with_topic(1);
    let producer = Arc::new(Producer::new(&log, fast()).unwrap());
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let owner = Arc::clone(&producer);
            let tx = tx.clone();
            producer
                .send_with_callback(ProducerRecord::new("t", &format!("{i}")), move |result| {
                    // The last of these drops runs Producer::drop on the flusher.
                    drop(owner);
                    tx.send(result.is_ok()).unwrap();
                })
                .unwrap()
        })
        .collect();
    drop(producer);
    for handle in &handles {
        assert!(handle.wait_timeout(LONG).expect("completed").is_ok());
    }
    assert_eq!(rx.iter().take(5).filter(|ok| *ok).count(), 5);
    assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 5);
}

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker panics on purpose");
    }
}

#[test]
fn a_panicking_waker_does_not_kill_the_flusher() {
    let log = log_with_topic(1);
    // Lingering: the handle is pending when we poll it.
    let config = ProducerConfig::exactly_once()
        .linger_ms(60_000)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let handle = producer.send(ProducerRecord::new("t", "a")).unwrap();
    let waker = Waker::from(Arc::new(PanickingWaker));
    let mut future = pin!(handle.clone());
    assert!(future
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    producer.flush(Duration::MAX).unwrap();
    assert!(matches!(
        future.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(Ok(_))
    ));
    let after = producer.send(ProducerRecord::new("t", "b")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    assert_eq!(after.wait().unwrap().offset, Some(1));
    producer.close(LONG).unwrap();
}

#[test]
fn callbacks_of_records_failed_by_close_get_closed() {
    let log = log_with_topic(1);
    // Every request is lost and retried forever: close(0) must fail them.
    let config = ProducerConfig::exactly_once()
        .linger_ms(0)
        .request_timeout_ms(1_000)
        .link(LinkConfig::new().drop_request_rate(1.0));
    let producer = Producer::new(&log, config).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let tx = tx.clone();
        producer
            .send_with_callback(ProducerRecord::new("t", &format!("{i}")), move |result| {
                let _receiver_gone = tx.send(result);
            })
            .unwrap();
    }
    drop(tx);
    assert!(matches!(
        producer.close(Duration::ZERO),
        Err(ProducerError::CloseTimeout { .. })
    ));
    // All completed by the time close returns, even records the flusher had
    // not picked up yet (the topic was new to it): `Closed` if never sent,
    // `Abandoned` (may be in the log) if their request was in flight; each
    // record comes back.
    let results: Vec<_> = rx.try_iter().collect();
    assert_eq!(results.len(), 3);
    for (i, result) in results.iter().enumerate() {
        let failure = result.clone().unwrap_err();
        assert!(
            matches!(
                failure.error(),
                ProducerError::Closed | ProducerError::Abandoned
            ),
            "{failure}"
        );
        assert_eq!(failure.record().unwrap().value, format!("{i}"));
    }
}

/// A panic payload whose own drop panics (review finding).
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's drop panics on purpose");
        }
    }
}

/// A callback that panics with a payload whose drop panics too: the payload is
/// user code, dropped on the flusher thread. That second panic used to escape
/// `catch_unwind` and kill the flusher mid-completion: the record was in the
/// log but its handle never completed, later sends and flushes answered
/// `Closed`, and `close` answered `Ok`.
#[test]
fn a_callback_whose_panic_payload_panics_when_dropped_does_not_kill_the_flusher() {
    let log = log_with_topic(1);
    let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
    let first = producer
        .send_with_callback(ProducerRecord::new("t", "a"), |_| {
            std::panic::panic_any(PanicsWhenDropped)
        })
        .unwrap();
    let (done, finished) = mpsc::channel();
    let waited = first.clone();
    std::thread::spawn(move || done.send(waited.wait()).unwrap());
    let result = finished
        .recv_timeout(LONG)
        .expect("the handle completes: the flusher lived");
    assert_eq!(result.unwrap().offset, Some(0));
    let second = producer.send(ProducerRecord::new("t", "b")).unwrap();
    producer.flush(LONG).unwrap();
    assert_eq!(second.wait().unwrap().offset, Some(1));
    producer.close(LONG).unwrap();
}

/// A failed batch hands every record back, to its callback (run in record
/// order) and to its handle (asked in any order): the look-up walks on from
/// the previous record instead of from the batch's start each time (a failed
/// batch of 65 536 records took seconds of the flusher's time).
#[test]
fn a_failed_batch_hands_each_record_back_to_its_callback_and_handle() {
    let log = log_with_topic(1);
    let config = ProducerConfig::at_most_once()
        .batch_size(1 << 20)
        .linger_ms(60_000)
        .request_timeout_ms(100)
        .link(LinkConfig::new().drop_request_rate(1.0))
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let records = 20_000;
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = (0..records)
        .map(|i| {
            let tx = tx.clone();
            producer
                .send_with_callback(ProducerRecord::new("t", &format!("v{i}")), move |result| {
                    let value = result.unwrap_err().record().map(|r| r.value.clone());
                    tx.send(value).unwrap();
                })
                .unwrap()
        })
        .collect();
    producer.flush(Duration::MAX).unwrap();
    let handed_back: Vec<_> = rx.try_iter().collect();
    assert_eq!(handed_back.len(), records);
    for (i, value) in handed_back.iter().enumerate() {
        assert_eq!(
            value.as_deref(),
            Some(format!("v{i}").as_bytes()),
            "callback {i}"
        );
    }
    for i in (0..records).rev().step_by(7).chain([0, records / 2, 1]) {
        let failure = handles[i].wait().unwrap_err();
        assert_eq!(
            failure.record().unwrap().value,
            format!("v{i}"),
            "handle {i}"
        );
    }
    producer.close(LONG).unwrap();
}
