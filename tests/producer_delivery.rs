//! The delivery table of the contract (`idemlog::contract`, src/contract.rs) and
//! contract scenario 8 under scripted faults, one at a time, with exact log
//! contents; ordering under retries; delivery timeout; epoch bump. Virtual time:
//! no test sleeps for a request timeout.
//!
//! Each record is its own batch (`batch.size` fits one record, so a batch closes
//! when the next record arrives; the last one on flush), and in virtual time no
//! timeout fires while a batch lingers, so request i of the script is exactly
//! the i-th request sent. The link is one connection (`idemlog::producer::sim`):
//! a lost request also loses the requests sent after it until the producer
//! reconnects on its request timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{
    Acks, DeliveryError, DeliveryResult, MetricsSnapshot, Producer, ProducerConfig, ProducerError,
    ProducerRecord, TimeSource,
};
use idemlog::{Log, LogConfig, LogError, Record};

/// A one-record batch: values are 2 bytes + 8 bytes of lengths = 10 bytes.
const ONE_RECORD: usize = 10;

struct Outcome {
    results: Vec<DeliveryResult>,
    log: Vec<String>,
    metrics: MetricsSnapshot,
    /// The records' values in the order their callbacks ran.
    completed: Vec<String>,
}

fn produce(config: ProducerConfig, script: Vec<Fault>, values: &[&str]) -> Outcome {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let config = config
        .batch_size(ONE_RECORD)
        .linger_ms(60_000)
        .delivery_timeout_ms(600_000)
        .link(LinkConfig::new().script(script))
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let completed = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = values
        .iter()
        .map(|v| {
            let completed = Arc::clone(&completed);
            let value = v.to_string();
            producer
                .send_with_callback(ProducerRecord::new("t", *v), move |_| {
                    completed.lock().unwrap().push(value);
                })
                .unwrap()
        })
        .collect();
    producer.flush(Duration::MAX).unwrap();
    let results = handles.iter().map(|h| h.wait()).collect();
    producer.close(Duration::from_secs(10)).unwrap();
    let completed = std::mem::take(&mut *completed.lock().unwrap());
    let log = log
        .consumer("t", 0)
        .unwrap()
        .poll(1000)
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
        .collect();
    Outcome {
        results,
        log,
        metrics: producer.metrics(),
        completed,
    }
}

fn offset(result: &DeliveryResult) -> Option<u64> {
    result.as_ref().ok().and_then(|m| m.offset)
}

#[test]
fn at_most_once_lost_request_loses_the_record_and_reports_it() {
    let out = produce(
        ProducerConfig::at_most_once(),
        vec![Fault::DropRequest],
        &["a0"],
    );
    let failure = out.results[0].clone().unwrap_err();
    assert!(matches!(
        failure.error(),
        ProducerError::RequestTimeout { .. }
    ));
    // The record comes back with the error.
    assert_eq!(failure.record().unwrap().value, "a0");
    assert!(out.log.is_empty());
}

#[test]
fn at_most_once_lost_response_keeps_the_record_once_and_reports_an_error() {
    let out = produce(
        ProducerConfig::at_most_once(),
        vec![Fault::DropResponse],
        &["a0"],
    );
    assert!(out.results[0].is_err());
    assert_eq!(out.log, ["a0"]);
}

#[test]
fn fire_and_forget_lost_request_reports_success_with_unknown_offset() {
    let config = ProducerConfig::default().acks(Acks::None);
    let out = produce(config, vec![Fault::DropRequest, Fault::None], &["a0", "a1"]);
    let meta = out.results[0].clone().unwrap();
    assert_eq!((meta.offset, meta.partition), (None, 0));
    assert!(out.results[1].is_ok());
    assert_eq!(out.log, ["a1"]);
}

#[test]
fn at_least_once_retries_a_lost_request_without_loss() {
    let out = produce(
        ProducerConfig::at_least_once(),
        vec![Fault::DropRequest],
        &["a0"],
    );
    assert_eq!(offset(&out.results[0]), Some(0));
    assert_eq!(out.log, ["a0"]);
    assert_eq!(out.metrics.record_retry_total, 1);
}

#[test]
fn at_least_once_lost_response_duplicates() {
    let out = produce(
        ProducerConfig::at_least_once(),
        vec![Fault::DropResponse],
        &["a0"],
    );
    assert_eq!(offset(&out.results[0]), Some(1));
    assert_eq!(out.log, ["a0", "a0"]);
}

#[test]
fn exactly_once_lost_request_is_retried() {
    let out = produce(
        ProducerConfig::exactly_once(),
        vec![Fault::DropRequest],
        &["a0"],
    );
    assert_eq!(offset(&out.results[0]), Some(0));
    assert_eq!(out.log, ["a0"]);
}

#[test]
fn exactly_once_lost_response_is_deduplicated_with_the_original_offset() {
    let out = produce(
        ProducerConfig::exactly_once(),
        vec![Fault::None, Fault::DropResponse],
        &["a0", "a1"],
    );
    let meta = out.results[1].clone().unwrap();
    assert_eq!((meta.offset, meta.duplicate), (Some(1), true));
    assert_eq!(out.log, ["a0", "a1"]);
    assert_eq!(out.metrics.record_duplicate_total, 1);
}

#[test]
fn five_in_flight_all_responses_lost_five_duplicates_with_original_offsets() {
    let mut script = vec![Fault::None];
    script.extend([Fault::DropResponse; 5]);
    let values = ["a0", "a1", "a2", "a3", "a4", "a5"];
    let out = produce(ProducerConfig::exactly_once(), script, &values);
    assert_eq!(out.log, values);
    for (i, result) in out.results.iter().enumerate().skip(1) {
        let meta = result.clone().unwrap();
        assert_eq!((meta.offset, meta.duplicate), (Some(i as u64), true));
    }
    assert_eq!(out.metrics.record_duplicate_total, 5);
    assert_eq!(out.metrics.producer_epoch_bump_total, 0);
}

#[test]
fn a_fresh_producer_with_every_first_response_lost_delivers_all_five_once() {
    // Issue 9, finding 7: a fresh producer used to send one batch at a time
    // until its first acknowledgement; with Kafka's default timeouts five
    // records whose first responses were all lost then failed with a delivery
    // timeout. Five in flight from the start, all retried, all deduplicated.
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let config = ProducerConfig::exactly_once()
        .batch_size(ONE_RECORD)
        .link(LinkConfig::new().script(vec![Fault::DropResponse; 5]))
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let values = ["a0", "a1", "a2", "a3", "a4"];
    let handles: Vec<_> = values
        .iter()
        .map(|v| producer.send(ProducerRecord::new("t", *v)).unwrap())
        .collect();
    producer.flush(Duration::MAX).unwrap();
    for (i, handle) in handles.iter().enumerate() {
        let meta = handle.wait().unwrap();
        assert_eq!((meta.offset, meta.duplicate), (Some(i as u64), true));
    }
    assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 5);
    assert_eq!(producer.metrics().producer_epoch_bump_total, 0);
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_lost_request_loses_the_connection_and_order_holds() {
    // a1's request is lost and breaks the connection: a2 and a3, sent behind
    // it, are lost too; after the request timeout the producer reconnects
    // and resends a1, a2, a3 in order (with or without idempotence).
    let script = vec![Fault::None, Fault::DropRequest];
    let values = ["a0", "a1", "a2", "a3"];
    for config in [
        ProducerConfig::exactly_once(),
        ProducerConfig::at_least_once(),
    ] {
        let out = produce(config, script.clone(), &values);
        assert_eq!(out.log, values);
        let offsets: Vec<_> = out.results.iter().map(offset).collect();
        assert_eq!(offsets, [Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(out.metrics.record_retry_total, 3);
    }
}

#[test]
fn idempotent_order_is_kept_when_an_earlier_batch_is_refused() {
    // a1 is refused with a retriable error; a2 and a3 arrive after the gap
    // (OutOfOrderSequence) and are retried after a1. (a0's delay holds the
    // connection, so all four are sent before any answer is heard.)
    let script = vec![Fault::Delay(1), Fault::RetriableError { delay_ms: 0 }];
    let values = ["a0", "a1", "a2", "a3"];
    let out = produce(ProducerConfig::exactly_once(), script, &values);
    assert_eq!(out.log, values);
    let offsets: Vec<_> = out.results.iter().map(offset).collect();
    assert_eq!(offsets, [Some(0), Some(1), Some(2), Some(3)]);
    assert_eq!(out.metrics.producer_epoch_bump_total, 0);
}

#[test]
fn without_idempotence_a_retry_lands_after_a_later_batch() {
    // a0's delay holds the connection: all three are sent before any answer.
    let script = vec![Fault::Delay(1), Fault::RetriableError { delay_ms: 0 }];
    let out = produce(ProducerConfig::at_least_once(), script, &["a0", "a1", "a2"]);
    assert_eq!(out.log, ["a0", "a2", "a1"]);
    // The log's order is not send order, but the callbacks' is (Kafka's).
    assert_eq!(out.completed, ["a0", "a1", "a2"]);
}

/// Kafka's promise: the callbacks of records sent to one partition run in
/// send order. Here a0's response is lost while a1's and a2's are heard (a0's
/// delay holds the connection, so all three are sent before any answer): a1
/// and a2 are in the log first-hand, but complete only after a0, whose retry
/// is answered (a duplicate with idempotence, a second copy without) or whose
/// failure is reported (no retries).
#[test]
fn callbacks_of_one_partition_run_in_send_order_when_an_earlier_response_is_lost() {
    let values = ["a0", "a1", "a2"];
    let script = vec![Fault::DropResponse, Fault::None, Fault::None];
    for (config, log) in [
        (ProducerConfig::exactly_once(), vec!["a0", "a1", "a2"]),
        (
            ProducerConfig::at_least_once(),
            vec!["a0", "a1", "a2", "a0"],
        ),
        (ProducerConfig::at_most_once(), vec!["a0", "a1", "a2"]),
    ] {
        let out = produce(config.clone(), script.clone(), &values);
        assert_eq!(out.log, log, "{config:?}");
        assert_eq!(out.completed, values, "{config:?}");
        // The handles agree with the log: a0 at 0 (its duplicate answer, or
        // its second copy), or failed without retries.
        let offsets: Vec<_> = out.results.iter().map(offset).collect();
        assert_eq!(offsets[1..], [Some(1), Some(2)], "{config:?}");
    }
}

/// The same order when the later batch fails: without retries, a1's refusal
/// fails it at once while a0's lost answer is still awaited; a1 completes
/// after a0 does (it completed first, out of send order).
#[test]
fn a_failure_behind_an_unanswered_batch_completes_after_it() {
    let script = vec![Fault::DropResponse, Fault::RetriableError { delay_ms: 0 }];
    let out = produce(ProducerConfig::at_most_once(), script, &["a0", "a1", "a2"]);
    assert_eq!(out.completed, ["a0", "a1", "a2"]);
    assert_eq!(out.log, ["a0", "a2"]);
    assert!(matches!(
        out.results[1].as_ref().unwrap_err().error(),
        ProducerError::Log(LogError::Unavailable)
    ));
}

#[test]
fn a_later_batch_reaching_a_log_with_no_state_is_accepted_and_the_first_follows_it() {
    // The first-batch case of the contract (P7): the log has no state for a
    // fresh producer, so it accepts a1 (sequence 1) while a0, refused with a
    // retriable error, is missing. a0's retry is then out of order for the
    // log: its sequence is reset under a new epoch and it lands after a1.
    // Nothing is lost or duplicated; this one batch is out of send order, as
    // with Kafka's client. (A lost request cannot cause it: the connection
    // loses what was sent behind it.)
    // a0's answer comes 1 ms later, so a1 is sent before it is heard.
    let out = produce(
        ProducerConfig::exactly_once(),
        vec![Fault::RetriableError { delay_ms: 1 }],
        &["a0", "a1"],
    );
    assert_eq!(out.log, ["a1", "a0"]);
    assert_eq!(offset(&out.results[0]), Some(1));
    assert_eq!(offset(&out.results[1]), Some(0));
    assert_eq!(out.metrics.producer_epoch_bump_total, 1);
}

#[test]
fn in_the_first_batch_case_a_later_batch_of_unknown_outcome_is_settled_before_the_bump() {
    // Found by the producer_faults fuzz target: a0 is refused, a1 reaches the
    // log (no state: any sequence) but its response is lost. Re-sequencing a1
    // under the new epoch would write it twice; it is retried under the old
    // epoch first, answered as a duplicate, and only a0 is re-sequenced.
    let script = vec![Fault::RetriableError { delay_ms: 1 }, Fault::DropResponse];
    let out = produce(ProducerConfig::exactly_once(), script, &["a0", "a1"]);
    assert_eq!(out.log, ["a1", "a0"]);
    let a1 = out.results[1].clone().unwrap();
    assert_eq!((a1.offset, a1.duplicate), (Some(0), true));
    assert_eq!(offset(&out.results[0]), Some(1));
    assert_eq!(out.metrics.producer_epoch_bump_total, 1);
}

#[test]
fn a_batch_of_unknown_outcome_stays_unsettled_when_its_retry_is_refused() {
    // Found by the producer_faults fuzz target: as above, but a1's retry is
    // itself refused with a retriable error. That says nothing of a1's first
    // attempt (which the log holds): a1 is retried again under the old epoch
    // until the log answers, and only then is a0 re-sequenced.
    let script = vec![
        Fault::RetriableError { delay_ms: 1 }, // a0: refused
        Fault::DropResponse,                   // a1: written, answer lost
        Fault::None,                           // a0's retry: out of order
        Fault::RetriableError { delay_ms: 0 }, // a1's retry: refused
    ];
    let out = produce(ProducerConfig::exactly_once(), script, &["a0", "a1"]);
    assert_eq!(out.log, ["a1", "a0"]);
    let a1 = out.results[1].clone().unwrap();
    assert_eq!((a1.offset, a1.duplicate), (Some(0), true));
    assert_eq!(offset(&out.results[0]), Some(1));
}

#[test]
fn in_the_first_batch_case_every_refused_batch_ahead_of_the_accepted_one_follows_it() {
    // a0 and a1 are refused, a2 is accepted by a log with no state: a0 and
    // a1 land after a2, in their order, nothing lost or duplicated.
    let script = vec![
        Fault::RetriableError { delay_ms: 1 },
        Fault::RetriableError { delay_ms: 0 },
    ];
    let out = produce(ProducerConfig::exactly_once(), script, &["a0", "a1", "a2"]);
    assert_eq!(out.log, ["a2", "a0", "a1"]);
    let offsets: Vec<_> = out.results.iter().map(offset).collect();
    assert_eq!(offsets, [Some(1), Some(2), Some(0)]);
}

/// Sends one record through `config` (virtual time, the record expires after
/// 1 s of it; a retry every 100 ms) to topic "t" of `log` and returns its
/// delivery failure.
fn expire_one(log: &Log, config: ProducerConfig) -> DeliveryError {
    let config = config
        .request_timeout_ms(300)
        .retry_backoff_ms(100)
        .linger_ms(0)
        .delivery_timeout_ms(1_000)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(log, config).unwrap();
    let handle = producer.send(ProducerRecord::new("t", "x")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    let failure = handle.wait().unwrap_err();
    assert_eq!(producer.metrics().record_error_total, 1);
    assert_eq!(failure.record().unwrap().value, "x");
    producer.close(Duration::from_secs(10)).unwrap();
    failure
}

/// The `last_error` and `not_written` of a delivery timeout.
fn timed_out(failure: &DeliveryError) -> (Option<&LogError>, bool) {
    match failure.error() {
        ProducerError::DeliveryTimeout {
            timeout_ms: 1_000,
            last_error,
            not_written,
            ..
        } => (last_error.as_ref(), *not_written),
        other => panic!("not a delivery timeout: {other}"),
    }
}

/// The log error `error` names as its source, if any.
fn source_of(error: &ProducerError) -> Option<&LogError> {
    std::error::Error::source(error).map(|source| source.downcast_ref::<LogError>().unwrap())
}

fn log_with_topic() -> Log {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    log
}

fn records_in(log: &Log) -> usize {
    log.consumer("t", 0).unwrap().poll(10).unwrap().len()
}

#[test]
fn delivery_timeout_reports_not_known() {
    // Every request is lost: no attempt is answered, so the outcome is unknown
    // and there is no cause to name.
    let log = log_with_topic();
    let failure = expire_one(
        &log,
        ProducerConfig::exactly_once().link(LinkConfig::new().drop_request_rate(1.0)),
    );
    assert_eq!(timed_out(&failure), (None, false));
    assert!(failure.error().may_be_in_log());
    assert_eq!(source_of(failure.error()), None);
    assert_eq!(
        failure.error().to_string(),
        "not acknowledged within delivery.timeout.ms = 1000 \
         (outcome unknown: the record may be in the log)"
    );
}

#[test]
fn a_full_log_budget_names_log_full_as_the_cause_of_the_delivery_timeout() {
    // The log's memory budget is full (no retention): every attempt is
    // answered LogFull, which appends nothing, so the record is certainly
    // not in the log, and LogFull is the cause.
    let log = Log::with_config(
        LogConfig::default()
            .segment_bytes(4096)
            .max_segments(64)
            .memory_budget(3 * 4096 + 65_536),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let filled = loop {
        match log.append("t", 0, None, Record::new("y")) {
            Ok(_) => {}
            Err(LogError::LogFull { .. }) => break records_in(&log),
            Err(other) => panic!("{other}"),
        }
    };
    let failure = expire_one(&log, ProducerConfig::exactly_once());
    let (last_error, not_written) = timed_out(&failure);
    assert!(
        matches!(last_error, Some(LogError::LogFull { .. })),
        "{last_error:?}"
    );
    assert!(not_written);
    assert!(!failure.error().may_be_in_log());
    assert_eq!(source_of(failure.error()), last_error);
    let message = failure.error().to_string();
    assert!(
        message.starts_with(
            "not acknowledged within delivery.timeout.ms = 1000 \
             (not written: every attempt was refused; last attempt: log full: "
        ),
        "{message}"
    );
    // The handle's error names the cause too, through its source chain.
    assert!(failure.to_string().contains("last attempt: log full: "));
    assert_eq!(records_in(&log), filled);
}

#[test]
fn a_link_refusing_every_request_says_not_written_and_names_the_refusal() {
    let log = log_with_topic();
    let failure = expire_one(
        &log,
        ProducerConfig::exactly_once().link(LinkConfig::new().retriable_error_rate(1.0)),
    );
    assert_eq!(timed_out(&failure), (Some(&LogError::Unavailable), true));
    assert!(!failure.error().may_be_in_log());
    assert_eq!(source_of(failure.error()), Some(&LogError::Unavailable));
    assert_eq!(
        failure.error().to_string(),
        format!(
            "not acknowledged within delivery.timeout.ms = 1000 \
             (not written: every attempt was refused; last attempt: {})",
            LogError::Unavailable
        )
    );
    assert_eq!(records_in(&log), 0);
}

#[test]
fn refusals_after_a_lost_response_name_the_cause_but_leave_the_outcome_unknown() {
    // The first attempt is appended and its response lost; every retry is
    // refused. The last answer is a refusal, yet the record IS in the log: the
    // error must not say "not written".
    let log = log_with_topic();
    let link = LinkConfig::new()
        .script(vec![Fault::DropResponse])
        .retriable_error_rate(1.0);
    let failure = expire_one(&log, ProducerConfig::exactly_once().link(link));
    assert_eq!(timed_out(&failure), (Some(&LogError::Unavailable), false));
    assert!(failure.error().may_be_in_log());
    assert_eq!(source_of(failure.error()), Some(&LogError::Unavailable));
    assert_eq!(
        failure.error().to_string(),
        format!(
            "not acknowledged within delivery.timeout.ms = 1000 \
             (outcome unknown: the record may be in the log; last error: {})",
            LogError::Unavailable
        )
    );
    assert_eq!(records_in(&log), 1);
}

#[test]
fn a_request_still_awaited_at_the_delivery_timeout_leaves_the_outcome_unknown() {
    // Eight attempts are refused (t = 0, 100, ..., 700); the ninth (t = 800) is
    // delayed past the delivery timeout (t = 1000) and is still awaited then,
    // before its request timeout: it may reach the log, so "outcome unknown".
    let log = log_with_topic();
    let mut script = vec![Fault::RetriableError { delay_ms: 0 }; 8];
    script.push(Fault::Delay(500));
    let failure = expire_one(
        &log,
        ProducerConfig::exactly_once().link(LinkConfig::new().script(script)),
    );
    assert_eq!(timed_out(&failure), (Some(&LogError::Unavailable), false));
    assert!(failure.error().may_be_in_log());
}

#[test]
fn a_record_expiring_before_it_is_sent_is_not_written() {
    // max.in.flight = 1 and the first record's requests are all lost: the
    // second record waits behind it, never sent, until its delivery timeout.
    // Both must be stamped at the same virtual time, so that they expire in one
    // pass: the linger keeps the clock still until the flush (a batch lingers
    // until the next record seals it, and in virtual time the flusher jumps
    // the clock only when none lingers). With linger.ms = 0 a slow test thread
    // (under TSan) sent the second record after the flusher had jumped to the
    // first request's timeout, so the second expired later, after it was sent.
    let log = log_with_topic();
    let config = ProducerConfig::exactly_once()
        .max_in_flight(1)
        .batch_size(ONE_RECORD)
        .request_timeout_ms(300)
        .retry_backoff_ms(100)
        .linger_ms(700)
        .delivery_timeout_ms(1_000)
        .link(LinkConfig::new().drop_request_rate(1.0))
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let first = producer.send(ProducerRecord::new("t", "a0")).unwrap();
    let second = producer.send(ProducerRecord::new("t", "a1")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    let (first, second) = (first.wait().unwrap_err(), second.wait().unwrap_err());
    assert_eq!(timed_out(&first), (None, false));
    assert_eq!(timed_out(&second), (None, true));
    assert!(!second.error().may_be_in_log());
    assert!(
        second
            .error()
            .to_string()
            .ends_with("(not written: never sent)"),
        "{}",
        second.error()
    );
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn unresolved_sequence_bumps_the_epoch_and_later_records_still_land_once() {
    // a0's request is lost until its delivery timeout: its sequence is unresolved,
    // so the producer bumps its epoch and a1 starts again at sequence 0.
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let link = LinkConfig::new().script(vec![Fault::DropRequest; 4]);
    let config = ProducerConfig::exactly_once()
        .request_timeout_ms(300)
        .retry_backoff_ms(0)
        .linger_ms(0)
        .delivery_timeout_ms(1_000)
        .link(link)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).unwrap();
    let first = producer.send(ProducerRecord::new("t", "a0")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    assert!(matches!(
        first.wait().unwrap_err().error(),
        ProducerError::DeliveryTimeout { .. }
    ));
    let second = producer.send(ProducerRecord::new("t", "a1")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    assert_eq!(second.wait().unwrap().offset, Some(0));
    assert_eq!(producer.metrics().producer_epoch_bump_total, 1);
    let state = log.partition("t", 0).unwrap();
    let records = log.consumer("t", 0).unwrap().poll(10).unwrap();
    assert_eq!(records.len(), 1);
    let written = records[0].producer.unwrap();
    assert_eq!((written.epoch, written.sequence), (1, 0));
    assert_eq!(state.log_end_offset(), 1);
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn send_errors_are_values() {
    let log = Log::new();
    log.create_topic("t", 2).unwrap();
    let config = ProducerConfig::default().buffer_memory(64).max_block_ms(0);
    let producer = Producer::new(&log, config).unwrap();
    let refused = |record: ProducerRecord<'_>| producer.send(record).unwrap_err().error().clone();
    assert!(matches!(
        refused(ProducerRecord::new("nope", "v")),
        ProducerError::Log(idemlog::LogError::UnknownTopic { .. })
    ));
    assert!(matches!(
        refused(ProducerRecord::new("t", "v").partition(2)),
        ProducerError::Log(idemlog::LogError::UnknownPartition { .. })
    ));
    let big = vec![0u8; 100];
    let err = producer.send(ProducerRecord::new("t", &big)).unwrap_err();
    assert!(matches!(err.error(), ProducerError::RecordTooLarge { .. }));
    // The record comes back.
    assert_eq!(err.record().value, &big[..]);
    producer.close(Duration::from_secs(10)).unwrap();
    assert_eq!(
        producer.send(ProducerRecord::new("t", "v")).unwrap_err(),
        ProducerError::Closed
    );
    assert!(producer.close(Duration::from_secs(1)).is_ok());
}

#[test]
fn keys_land_where_the_java_client_puts_them() {
    let log = Log::new();
    log.create_topic("t", 10).unwrap();
    let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
    let handle = producer
        .send(ProducerRecord::new("t", "v").key("foobar"))
        .unwrap();
    // murmur2("foobar") = -790332482; toPositive = 1357151166; % 10 = 6.
    assert_eq!(handle.wait().unwrap().partition, 6);
    drop(producer);
}

#[test]
fn a_topic_handle_works_like_a_name() {
    let log = Log::new();
    log.create_topic("t", 3).unwrap();
    let producer = Producer::new(&log, ProducerConfig::exactly_once().linger_ms(0)).unwrap();
    let other = Producer::new(&log, ProducerConfig::exactly_once().linger_ms(0)).unwrap();
    assert!(producer.topic("missing").is_err());
    let topic = producer.topic("t").unwrap();
    let keyed = producer
        .send(ProducerRecord::to(&topic).key("user-7").value("a"))
        .unwrap();
    let by_name = producer
        .send(ProducerRecord::new("t", "b").key("user-7"))
        .unwrap();
    let explicit = producer
        .send(ProducerRecord::to(&topic).partition(2).value("c"))
        .unwrap();
    // A handle of another producer falls back to the lookup by name.
    let foreign = other
        .send(ProducerRecord::to(&topic).partition(1).value("d"))
        .unwrap();
    assert!(matches!(
        producer
            .send(ProducerRecord::to(&topic).partition(9).value("x"))
            .unwrap_err()
            .error(),
        ProducerError::Log(_)
    ));
    let (keyed, by_name) = (keyed.wait().unwrap(), by_name.wait().unwrap());
    assert_eq!(keyed.partition, by_name.partition);
    assert_eq!(by_name.offset, keyed.offset.map(|o| o + 1));
    assert_eq!(explicit.wait().unwrap().partition, 2);
    assert_eq!(foreign.wait().unwrap().partition, 1);
    producer.close(Duration::from_secs(5)).unwrap();
    assert_eq!(
        producer
            .send(ProducerRecord::to(&topic).value("late"))
            .unwrap_err(),
        ProducerError::Closed
    );
    other.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_topic_handle_of_a_dropped_producer_is_looked_up_by_name() {
    // Issue 9, finding 3: handles identified their producer by the address of
    // its accumulator, which a new producer could reuse; the record then went
    // into an orphaned queue and its delivery never completed.
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    for _ in 0..50 {
        let old = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
        let stale = old.topic("t").unwrap();
        drop(old);
        let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
        let handle = producer
            .send(ProducerRecord::to(&stale).value("v"))
            .unwrap();
        let done = handle.wait_timeout(Duration::from_secs(10));
        assert!(matches!(done, Some(Ok(_))), "{done:?}");
    }
}

/// A lost response, then a refusal of the last retry: the first attempt was
/// written, so the record's error must say it may be in the log. It used to be
/// the plain refusal (`Log(Unavailable)`, "certainly not in the log") with the
/// record in the log (review finding), in both modes that retry.
#[test]
fn retries_that_run_out_on_a_refusal_after_a_lost_response_say_the_record_may_be_in_the_log() {
    for (mode, config) in [
        ("exactly-once", ProducerConfig::exactly_once()),
        ("at-least-once", ProducerConfig::at_least_once()),
    ] {
        let out = produce(
            config.retries(1),
            vec![Fault::DropResponse, Fault::RetriableError { delay_ms: 0 }],
            &["a0"],
        );
        assert_eq!(out.log, ["a0"], "{mode}: the first attempt was written");
        let failure = out.results[0].clone().unwrap_err();
        assert!(
            matches!(
                failure.error(),
                ProducerError::Unresolved {
                    last_error: LogError::Unavailable
                }
            ),
            "{mode}: {:?}",
            failure.error()
        );
        assert!(failure.error().may_be_in_log(), "{mode}");
        assert_eq!(failure.record().unwrap().value, "a0");
    }
}

/// Every attempt refused: the plain refusal, and certainly not in the log.
#[test]
fn retries_that_run_out_on_refusals_alone_say_the_record_is_not_in_the_log() {
    let out = produce(
        ProducerConfig::exactly_once().retries(1),
        vec![
            Fault::RetriableError { delay_ms: 0 },
            Fault::RetriableError { delay_ms: 0 },
        ],
        &["a0"],
    );
    assert!(out.log.is_empty());
    let failure = out.results[0].clone().unwrap_err();
    assert!(
        matches!(failure.error(), ProducerError::Log(LogError::Unavailable)),
        "{:?}",
        failure.error()
    );
    assert!(!failure.error().may_be_in_log());
}

/// A forced close fails what is left by what the log may hold: a record
/// whose every attempt was refused (the partition full, so nothing was
/// appended) is certainly not in the log, `Closed`, like a delivery timeout's
/// `not_written` (it was `Abandoned`, "may be in the log"); one whose answer
/// was lost is `Abandoned`. Real time: each waits in a 60 s retry backoff
/// when the close comes.
#[test]
fn a_forced_close_says_closed_for_a_refused_record_and_abandoned_for_an_unanswered_one() {
    let full_log = || {
        let log = Log::with_config(
            LogConfig::default()
                .segment_bytes(1024)
                .max_segments(2)
                .housekeeping(None),
        )
        .unwrap();
        log.create_topic("t", 1).unwrap();
        while log
            .append("t", 0, None, Record::new(vec![1u8; 100]))
            .is_ok()
        {}
        log
    };
    let backing_off = ProducerConfig::exactly_once()
        .linger_ms(0)
        .request_timeout_ms(100)
        .retry_backoff_ms(60_000);
    for (link, log, expected) in [
        (LinkConfig::new(), full_log(), ProducerError::Closed),
        (
            LinkConfig::new().script(vec![Fault::DropResponse]),
            log_with_topic(),
            ProducerError::Abandoned,
        ),
    ] {
        let end = log.partition("t", 0).unwrap().log_end_offset();
        let producer = Producer::new(&log, backing_off.clone().link(link)).unwrap();
        // As large as the records that filled the partition.
        let value = [3u8; 100];
        let handle = producer.send(ProducerRecord::new("t", &value[..])).unwrap();
        let sent = std::time::Instant::now();
        while producer.metrics().record_send_total == 0 {
            assert!(sent.elapsed() < Duration::from_secs(10), "never sent");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Past the request timeout: the answer was heard, or given up on.
        std::thread::sleep(Duration::from_millis(400));
        let closed = producer.close(Duration::ZERO);
        assert!(
            closed.is_err(),
            "{expected:?}: {closed:?} {:?} {:?}",
            handle.try_result(),
            producer.metrics()
        );
        let failure = handle.wait().unwrap_err();
        assert_eq!(failure.error(), &expected);
        assert_eq!(
            failure.error().may_be_in_log(),
            expected == ProducerError::Abandoned
        );
        let written = log.partition("t", 0).unwrap().log_end_offset() - end;
        assert_eq!(written, u64::from(expected == ProducerError::Abandoned));
    }
}
