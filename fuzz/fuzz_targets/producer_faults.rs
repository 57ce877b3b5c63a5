//! A producer over a link with an arbitrary fault script, in virtual time; after
//! `close` the whole log is read back and the mode's promise checked.
//!
//! Checked for every input (contract scenario 8 and the delivery table of the
//! contract, `idemlog::contract`; the link is one connection, see
//! `idemlog::producer::sim`):
//! - the producer and its flusher never panic; `close` drains within 5 s of
//!   real time (so no record fails with `Closed` or `Abandoned`) and every
//!   handle has completed, and a clone of a handle sees the same outcome;
//!   with a forced close (a close timeout of a few ms, no final flush) every
//!   handle completes within 5 s of it;
//! - every callback runs once, and the callbacks of one partition's records
//!   run in send order (Kafka's promise, in every mode and on a forced close);
//! - every record in the log is one we sent, in the partition it was sent to
//!   (with the producer's metadata exactly when idempotent); an acknowledged
//!   offset holds that very record; the ack/error/duplicate counters match the
//!   handles; a failed record's `DeliveryError::record()` is the record sent
//!   (topic, partition, key, value);
//! - a record whose error says it is certainly not in the log
//!   (`!ProducerError::may_be_in_log()`: `Closed`, a log error, a
//!   `DeliveryTimeout` that says `not_written`, ...) is not in the log;
//!   `Abandoned` says "may be in the log";
//! - exactly-once (idempotence set explicitly): every acknowledged record is in
//!   the log exactly once, no record is in the log twice at all, and the
//!   records of a partition (acknowledged or not) are in send order, with one
//!   exception, the contract's first-batch case (P7): a fresh producer sends up
//!   to max.in.flight batches at once, so when the FIRST batch of an epoch on a
//!   partition where the log has no state for the producer is refused with a
//!   retriable error while later batches are in flight, the log accepts those
//!   (any sequence is accepted with no state), and the refused batch is
//!   re-sequenced under a new epoch and lands after them. This is allowed only
//!   when all of these hold (see `check_send_order`): the script holds a
//!   `RetriableError`; the partition's first logged record (the producer's
//!   first write there) does not have sequence 0 (the first batch of that
//!   epoch is missing: no other fault can cause it, since a lost or delayed
//!   request holds back or loses everything behind it); the log is that
//!   epoch's run X followed by the rest Y, each in send order, Y starting
//!   with a later epoch of the same producer at sequence 0; the records of Y
//!   sent before X's last record were all sent before X's first one (they are
//!   the front X skipped), and there are at most `per_batch` of them per
//!   `RetriableError` of the script (the contract: the refused batches ahead
//!   of the first batch the log accepted land after it; a partition has one
//!   such event at most, since only a log with no state for the producer
//!   takes a later batch first). The loss and duplicate checks are never
//!   relaxed;
//! - at-least-once (idempotence off, retries): no acknowledged record missing;
//! - at-most-once (acks=1, retries=0) and fire-and-forget (acks=0): no record
//!   twice; acks=0 reports success with the offset unknown, or a delivery
//!   timeout for a record that expired before it was sent (or, forced close,
//!   `Closed`/`Abandoned`);
//! - liveness: except at-most-once and a forced close, with an unbounded
//!   delivery timeout every record is acknowledged (a livelock shows as a
//!   libFuzzer timeout).
//!
//! Liveness bound: the link is one connection, so a lost request, a delay
//! longer than the request timeout, or a refused request answered after it,
//! costs one request timeout for everything in flight, not one per request:
//! the flusher then reconnects, which also drops every request still in
//! transit (delays included), and resends in order after at most the backoff.
//! Each such round uses up at least one scripted fault (requests on a dead
//! connection draw theirs too), and after the script (at most 64 faults)
//! every request is delivered, so everything is acknowledged within linger +
//! 65 * (request timeout + backoff) + the clock moves (at most 48 * 2040 ms),
//! about 4 minutes of virtual time, far below the "unbounded" delivery timeout
//! (`MAX_MS`, about 24 days), whatever the delays: unlike the old link (where
//! every request timeout behind a long delay queued one more retry there), no
//! delay length rules out an unbounded delivery timeout. Except with acks=0:
//! a loss is noticed at once, but nothing times out a delayed request, so the
//! flusher waits the delay out (jumping the virtual clock to its arrival);
//! after a delay near `u64::MAX` the clock sits at its end, where a record
//! still expires once the delivery timeout has passed since it was made
//! (elapsed time, so not at once) but no more time can pass. With acks=0 the
//! delivery timeout is therefore unbounded only if no delay exceeds 2^40 ms
//! (64 of them keep the clock far from its end). A bounded delivery timeout is linger + request timeout +
//! `(b / 4) * request timeout / 2`, at most linger + 33 request timeouts.
//!
//! Byte format (every read yields 0 once the input runs out), 10 header bytes:
//! mode (`% 4`: exactly-once, at-least-once, at-most-once, acks=0), partitions
//! (`% 3 + 1`), dedup window (`% 5 + 1`), in-flight (`% 5 + 1`, at most the
//! window when idempotent), request timeout (`(b + 1) * 8` ms), retry backoff
//! (`(b % 4) * 25` ms), delivery timeout (`b % 4 == 3`: unbounded, unless
//! acks=0 with a delay over 2^40 ms; else linger + request timeout +
//! `(b / 4) * request timeout / 2`), records per batch (`% 3 + 1`:
//! `batch.size` is that many keyed records, 8 + 2 + 4 bytes each, keyless
//! ones being 12), linger and close (bit 0: linger 0 ms if set,
//! else 1000 ms; bits 1-2 == 3: a forced close, with a timeout of bits 3-4 ms
//! and no final flush, else `close` gets 5 s), script length (`% 65`); then
//! the script, one fault per byte `% 8` (0-2 none, 3 retriable error answered
//! after `(b >> 3) * 8` ms, 4 drop request, 5 drop response, 6 delay
//! `next * 8` ms, 7 a long delay, see `fault`); then one send per byte until
//! the input ends (at most 48): bits 0-1 the partition (3: by key, bits 5-7
//! the key), bits 2-4 what follows it (0 flush, 1 move the clock by
//! `next * 8` ms, ignored if a delay exceeds 2^40 ms), bit 7 on the last send:
//! no final flush before `close`.
//! `fuzz/make_seeds.py` writes the hand-made seeds; `IDEMLOG_FUZZ_VERBOSE=1`
//! prints each run's results and log.
#![no_main]

use std::collections::HashMap;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{
    partition_for_key, Acks, DeliveryResult, Producer, ProducerConfig, ProducerError,
    ProducerRecord, TimeSource,
};
use idemlog::{Log, LogConfig, ManualClock, ProducerMetadata};
use libfuzzer_sys::fuzz_target;

const MAX_SENDS: usize = 48;
const MAX_MS: u64 = i32::MAX as u64 * 1000;
/// Delays beyond this rule out moving the clock from outside (it could wrap:
/// with acks=0 nothing times out a delayed request, and the flusher may jump
/// the clock to its arrival), and with acks=0 an unbounded delivery timeout.
const CLOCK_SAFE_DELAY_MS: u64 = 1 << 40;
/// Bytes of a keyed record in the log's format: 8 + key (2) + value (4).
const KEYED_RECORD_BYTES: usize = 14;

type R<T> = arbitrary::Result<T>;

fn byte(u: &mut Unstructured<'_>) -> R<u8> {
    u8::arbitrary(u)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    ExactlyOnce,
    AtLeastOnce,
    AtMostOnce,
    FireAndForget,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Partition(u32),
    Key(u8),
}

#[derive(Clone, Copy, Debug)]
enum After {
    Nothing,
    Flush,
    Advance(i64),
}

#[derive(Debug)]
struct Input {
    mode: Mode,
    partitions: u32,
    window: usize,
    in_flight: u32,
    request_timeout_ms: u64,
    backoff_ms: u64,
    delivery_timeout_ms: Option<u64>,
    per_batch: usize,
    linger_ms: u64,
    /// `Some(ms)`: a forced close with this timeout (and no final flush).
    forced_close_ms: Option<u64>,
    script: Vec<Fault>,
    sends: Vec<(Target, After)>,
    final_flush: bool,
}

/// 3: a retriable error, answered `(b >> 3) * 8` ms later. 7: a long delay,
/// next byte `% 4`: 0 a 16-bit count of 100 ms, 1 u64::MAX, 2 i64::MAX,
/// 3 exactly the request timeout.
fn fault(u: &mut Unstructured<'_>, request_timeout_ms: u64) -> R<Fault> {
    let b = byte(u)?;
    Ok(match b % 8 {
        0..=2 => Fault::None,
        3 => Fault::RetriableError {
            delay_ms: u64::from(b >> 3) * 8,
        },
        4 => Fault::DropRequest,
        5 => Fault::DropResponse,
        6 => Fault::Delay(u64::from(byte(u)?) * 8),
        _ => Fault::Delay(match byte(u)? % 4 {
            0 => u64::from(u16::from_le_bytes([byte(u)?, byte(u)?])) * 100,
            1 => u64::MAX,
            2 => i64::MAX as u64,
            _ => request_timeout_ms,
        }),
    })
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> R<Self> {
        let mode = [
            Mode::ExactlyOnce,
            Mode::AtLeastOnce,
            Mode::AtMostOnce,
            Mode::FireAndForget,
        ][usize::from(byte(u)? % 4)];
        let partitions = u32::from(byte(u)? % 3) + 1;
        let window = usize::from(byte(u)? % 5) + 1;
        let mut in_flight = u32::from(byte(u)? % 5) + 1;
        if mode == Mode::ExactlyOnce {
            in_flight = in_flight.min(window as u32);
        }
        let request_timeout_ms = (u64::from(byte(u)?) + 1) * 8;
        let backoff_ms = u64::from(byte(u)? % 4) * 25;
        let delivery = byte(u)?;
        let per_batch = usize::from(byte(u)? % 3) + 1;
        let linger_close = byte(u)?;
        let linger_ms = if linger_close & 1 == 1 { 0 } else { 1000 };
        let forced_close_ms =
            ((linger_close >> 1) & 3 == 3).then(|| u64::from((linger_close >> 3) & 3));
        let script_len = usize::from(byte(u)? % 65);
        let mut script = Vec::with_capacity(script_len);
        for _ in 0..script_len {
            script.push(fault(u, request_timeout_ms)?);
        }
        let longest_delay = script
            .iter()
            .map(|f| match f {
                Fault::Delay(ms) | Fault::RetriableError { delay_ms: ms } => *ms,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let clock_safe = longest_delay <= CLOCK_SAFE_DELAY_MS;
        let unbounded = delivery % 4 == 3 && (mode != Mode::FireAndForget || clock_safe);
        let delivery_timeout_ms = (!unbounded).then(|| {
            linger_ms + request_timeout_ms + u64::from(delivery / 4) * request_timeout_ms / 2
        });
        let mut sends = Vec::new();
        let mut final_flush = true;
        while !u.is_empty() && sends.len() < MAX_SENDS {
            let b = byte(u)?;
            let target = match b & 3 {
                3 => Target::Key(b >> 5),
                p => Target::Partition(u32::from(p) % partitions),
            };
            let after = match (b >> 2) & 7 {
                0 => After::Flush,
                1 => {
                    let ms = i64::from(byte(u)?) * 8;
                    if clock_safe {
                        After::Advance(ms)
                    } else {
                        After::Nothing
                    }
                }
                _ => After::Nothing,
            };
            final_flush = b & 0x80 == 0;
            sends.push((target, after));
        }
        if forced_close_ms.is_some() {
            final_flush = false;
        }
        Ok(Self {
            mode,
            partitions,
            window,
            in_flight,
            request_timeout_ms,
            backoff_ms,
            delivery_timeout_ms,
            per_batch,
            linger_ms,
            forced_close_ms,
            script,
            sends,
            final_flush,
        })
    }
}

impl Input {
    fn config(&self, clock: &ManualClock) -> ProducerConfig {
        let base = match self.mode {
            Mode::ExactlyOnce => ProducerConfig::exactly_once(),
            Mode::AtLeastOnce => ProducerConfig::at_least_once(),
            Mode::AtMostOnce => ProducerConfig::at_most_once(),
            Mode::FireAndForget => ProducerConfig::at_least_once().acks(Acks::None),
        };
        // `batch.size` counts the log's record format: 8 bytes of lengths plus
        // key and value. Values are 4 bytes and keys 2, so `per_batch` records
        // fit (12 or 14 bytes each) and one more never does.
        base.max_in_flight(self.in_flight)
            .request_timeout_ms(self.request_timeout_ms)
            .retry_backoff_ms(self.backoff_ms)
            .linger_ms(self.linger_ms)
            .delivery_timeout_ms(self.delivery_timeout_ms.unwrap_or(MAX_MS))
            .batch_size(self.per_batch * KEYED_RECORD_BYTES)
            .link(LinkConfig::new().script(self.script.clone()))
            .time(TimeSource::Virtual(clock.clone()))
    }

    /// Whether every record must be acknowledged.
    fn must_deliver(&self) -> bool {
        self.mode != Mode::AtMostOnce
            && self.delivery_timeout_ms.is_none()
            && self.forced_close_ms.is_none()
    }

    fn retriable_faults(&self) -> usize {
        self.script
            .iter()
            .filter(|f| matches!(f, Fault::RetriableError { .. }))
            .count()
    }
}

fn value_index(value: &[u8]) -> usize {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a record we never sent: {value:?}"))
}

/// One logged record: its send index and the producer metadata of its batch.
type Logged = (usize, Option<ProducerMetadata>);

fn increasing(records: &[Logged]) -> bool {
    records.windows(2).all(|w| w[0].0 < w[1].0)
}

/// Exactly-once send order on one partition, allowing only the first-batch
/// case (see the module comment); `Err` says what is wrong.
fn check_send_order(
    records: &[Logged],
    retriable_faults: usize,
    per_batch: usize,
) -> Result<(), String> {
    if increasing(records) {
        return Ok(());
    }
    if retriable_faults == 0 {
        return Err("out of send order, and the script has no RetriableError".into());
    }
    let meta = |r: &Logged| r.1.expect("idempotent records carry producer metadata");
    let first = meta(&records[0]);
    if first.sequence == 0 {
        return Err(format!(
            "out of send order, but the producer's first write here ({first:?}) has sequence 0: \
             not the first-batch case"
        ));
    }
    let split = records
        .iter()
        .position(|r| {
            let m = meta(r);
            (m.producer_id, m.epoch) != (first.producer_id, first.epoch)
        })
        .unwrap_or(records.len());
    let (x, y) = records.split_at(split);
    if !increasing(x) {
        return Err(format!("the first epoch's run {x:?} is out of send order"));
    }
    if !increasing(y) {
        return Err(format!(
            "the records after the first epoch's run, {y:?}, are out of send order"
        ));
    }
    let (x_min, x_max) = (x[0].0, x[x.len() - 1].0);
    let y0 = meta(&y[0]);
    if y0.producer_id != first.producer_id || y0.epoch <= first.epoch || y0.sequence != 0 {
        return Err(format!(
            "the run after the first epoch starts with {y0:?}, not a later epoch of {first:?} at sequence 0"
        ));
    }
    let displaced: Vec<usize> = y.iter().map(|r| r.0).filter(|&i| i < x_max).collect();
    if let Some(i) = displaced.iter().find(|&&i| i > x_min) {
        return Err(format!(
            "record {i} landed after the first epoch's run {x_min}..={x_max} though sent inside it"
        ));
    }
    if displaced.len() > per_batch * retriable_faults {
        return Err(format!(
            "records {displaced:?} landed after later ones: more than the refused batches \
             ({per_batch} records for each of {retriable_faults} refusals at most) out of send order"
        ));
    }
    Ok(())
}

fn run(input: &Input) {
    // The log on a manual clock and without the housekeeper thread: no
    // background thread outlives an input (the coarse clock's ticker thread,
    // stopped when its lease drops, exits asynchronously, and libFuzzer's
    // per-input leak check then reported its thread name and TLS list).
    let log_config = LogConfig::default()
        .dedup_window(input.window)
        .segment_bytes(16 << 10)
        .max_segments(8)
        .clock(std::sync::Arc::new(ManualClock::new(0)))
        .housekeeping(None);
    let log = Log::with_config(log_config).expect("log config");
    log.create_topic("t", input.partitions).expect("topic");
    let clock = ManualClock::new(0);
    let producer = Producer::new(&log, input.config(&clock)).expect("producer config");

    // The records borrow their bytes: keep them for the whole run.
    let values: Vec<String> = (0..input.sends.len()).map(|i| format!("{i:04}")).collect();
    let keys: Vec<Option<String>> = input
        .sends
        .iter()
        .map(|(target, _)| match *target {
            Target::Key(k) => Some(format!("k{k}")),
            Target::Partition(_) => None,
        })
        .collect();
    let mut targets = Vec::with_capacity(input.sends.len());
    let mut handles = Vec::with_capacity(input.sends.len());
    // Send indices in the order their callbacks ran.
    let completed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for (i, (target, after)) in input.sends.iter().enumerate() {
        let record = ProducerRecord::new("t", &values[i]);
        let (record, partition) = match (*target, &keys[i]) {
            (Target::Key(_), Some(key)) => (
                record.key(key),
                partition_for_key(key.as_bytes(), input.partitions),
            ),
            (Target::Partition(p), _) => (record.partition(p), p),
            (Target::Key(_), None) => unreachable!(),
        };
        targets.push(partition);
        let completed = std::sync::Arc::clone(&completed);
        let handle = producer
            .send_with_callback(record, move |_| completed.lock().unwrap().push(i))
            .expect("send");
        handles.push(handle);
        match *after {
            After::Nothing => {}
            After::Flush => producer.flush(Duration::MAX).expect("flush"),
            After::Advance(ms) => clock.advance_ms(ms),
        }
    }
    if input.final_flush {
        producer.flush(Duration::MAX).expect("final flush");
    }
    let results: Vec<DeliveryResult> = match input.forced_close_ms {
        None => {
            let closed = producer.close(Duration::from_secs(5));
            assert_eq!(closed, Ok(()), "close did not drain");
            handles
                .iter()
                .map(|h| h.try_result().expect("a handle still open after close"))
                .collect()
        }
        Some(ms) => {
            let closed = producer.close(Duration::from_millis(ms));
            assert!(
                matches!(closed, Ok(()) | Err(ProducerError::CloseTimeout { .. })),
                "forced close: {closed:?}"
            );
            handles
                .iter()
                .map(|h| {
                    h.wait_timeout(Duration::from_secs(5))
                        .expect("a handle still open 5 s after a forced close")
                })
                .collect()
        }
    };
    for (i, h) in handles.iter().enumerate() {
        assert_eq!(
            h.clone().try_result().as_ref(),
            Some(&results[i]),
            "record {i}: a clone of its handle sees another outcome"
        );
    }
    let metrics = producer.metrics();
    drop(producer);
    // Every callback ran once, and those of a partition in send order.
    let completed = std::mem::take(&mut *completed.lock().unwrap());
    let mut ran = completed.clone();
    ran.sort_unstable();
    assert!(
        ran.iter().copied().eq(0..targets.len()),
        "callbacks ran for {completed:?}"
    );
    for p in 0..input.partitions {
        let of_p: Vec<usize> = completed.iter().copied().filter(|&i| targets[i] == p).collect();
        assert!(
            of_p.windows(2).all(|w| w[0] < w[1]),
            "partition {p}'s callbacks ran out of send order: {of_p:?}\n{input:?}\n{results:?}"
        );
    }

    // The log, per partition: record index and producer metadata at each offset.
    let idempotent = input.mode == Mode::ExactlyOnce;
    let mut logged: Vec<Vec<Logged>> = Vec::new();
    for p in 0..input.partitions {
        let mut consumer = log.consumer("t", p).expect("consumer");
        let records = consumer.poll(usize::MAX).expect("poll");
        let mut indices = Vec::with_capacity(records.len());
        for (expected_offset, record) in records.iter().enumerate() {
            assert_eq!(record.offset, expected_offset as u64, "offsets not dense");
            let i = value_index(&record.value);
            assert!(i < targets.len(), "record {i} never sent");
            assert_eq!(targets[i], p, "record {i} in partition {p}");
            assert_eq!(
                record.key.as_deref(),
                keys[i].as_deref().map(str::as_bytes),
                "record {i}: key"
            );
            assert_eq!(
                record.producer.is_some(),
                idempotent,
                "record {i}: producer metadata {:?}",
                record.producer
            );
            indices.push((i, record.producer));
        }
        logged.push(indices);
    }
    let order: Vec<Vec<usize>> = logged
        .iter()
        .map(|records| records.iter().map(|r| r.0).collect())
        .collect();
    if std::env::var_os("IDEMLOG_FUZZ_VERBOSE").is_some() {
        eprintln!("{input:?}\nresults: {results:?}\nlog: {logged:?}\n{metrics:?}");
    }
    let context = || format!("{input:?}\nresults: {results:#?}\nlog: {logged:?}\n{metrics:?}");

    let mut copies: HashMap<usize, usize> = HashMap::new();
    for indices in &order {
        for &i in indices {
            *copies.entry(i).or_default() += 1;
        }
    }
    let count = |i: usize| copies.get(&i).copied().unwrap_or(0);
    let acked = results.iter().filter(|r| r.is_ok()).count() as u64;
    assert_eq!(metrics.record_ack_total, acked, "{}", context());
    assert_eq!(
        metrics.record_error_total,
        results.len() as u64 - acked,
        "{}",
        context()
    );
    let duplicates = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|m| m.duplicate))
        .count() as u64;
    assert_eq!(metrics.record_duplicate_total, duplicates, "{}", context());

    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(meta) => {
                assert_eq!(meta.partition, targets[i], "record {i}: {}", context());
                match meta.offset {
                    Some(offset) => assert_eq!(
                        order[targets[i] as usize].get(offset as usize),
                        Some(&i),
                        "record {i} acknowledged at offset {offset}: {}",
                        context()
                    ),
                    None => assert_eq!(input.mode, Mode::FireAndForget, "{}", context()),
                }
            }
            Err(failure) => {
                let error = failure.error();
                // The record handed back is the one sent.
                let record = failure.record().unwrap_or_else(|| {
                    panic!("record {i}: failed without its record: {}", context())
                });
                assert_eq!(&*record.topic, "t", "record {i}: {}", context());
                assert_eq!(
                    record.partition,
                    Some(targets[i]),
                    "record {i}: {}",
                    context()
                );
                assert_eq!(
                    record.key.as_deref(),
                    keys[i].as_deref().map(str::as_bytes),
                    "record {i}: {}",
                    context()
                );
                assert_eq!(
                    &record.value[..],
                    values[i].as_bytes(),
                    "record {i}: {}",
                    context()
                );
                match error {
                    ProducerError::Closed => {
                        assert!(!error.may_be_in_log());
                        assert!(
                            input.forced_close_ms.is_some(),
                            "record {i} failed Closed though close drained: {}",
                            context()
                        );
                    }
                    ProducerError::Abandoned => {
                        assert!(error.may_be_in_log());
                        assert!(
                            input.forced_close_ms.is_some(),
                            "record {i} failed Abandoned though close drained: {}",
                            context()
                        );
                    }
                    _ => {}
                }
                if !error.may_be_in_log() {
                    assert_eq!(
                        count(i),
                        0,
                        "record {i} failed with {error:?} (certainly not in the log) but is in the log: {}",
                        context()
                    );
                }
                assert!(
                    !input.must_deliver(),
                    "record {i} not delivered: {}",
                    context()
                );
                if input.mode == Mode::FireAndForget {
                    // Only a record that expired before it was sent can fail
                    // (and says so: not written), or, with a forced close,
                    // one the close failed.
                    assert!(
                        matches!(
                            error,
                            ProducerError::DeliveryTimeout {
                                not_written: true,
                                ..
                            }
                        ) || (input.forced_close_ms.is_some()
                            && matches!(error, ProducerError::Closed | ProducerError::Abandoned)),
                        "record {i}: {}",
                        context()
                    );
                }
            }
        }
    }

    match input.mode {
        Mode::ExactlyOnce => {
            for (i, result) in results.iter().enumerate() {
                let n = count(i);
                assert!(n <= 1, "record {i} in the log {n} times: {}", context());
                if result.is_ok() {
                    assert_eq!(n, 1, "acknowledged record {i} missing: {}", context());
                }
            }
            // Send order holds for every record in the log, acknowledged or not:
            // a failed record's request arrives before any later one (one FIFO
            // connection; a lost request loses what follows it) or is fenced
            // after the epoch bump; except the first-batch case.
            let retriable = input.retriable_faults();
            for (p, records) in logged.iter().enumerate() {
                if let Err(why) = check_send_order(records, retriable, input.per_batch) {
                    panic!("partition {p}: {why}: {}", context());
                }
            }
        }
        Mode::AtLeastOnce => {
            for (i, result) in results.iter().enumerate() {
                if result.is_ok() {
                    assert!(
                        count(i) >= 1,
                        "acknowledged record {i} missing: {}",
                        context()
                    );
                }
            }
        }
        Mode::AtMostOnce | Mode::FireAndForget => {
            for i in 0..results.len() {
                let n = count(i);
                assert!(n <= 1, "record {i} in the log {n} times: {}", context());
            }
        }
    }
}

fuzz_target!(|input: Input| {
    run(&input);
});
