//! A producer over a link with an arbitrary fault script, in virtual time; after
//! `close` the whole log is read back and the mode's promise checked.
//!
//! Checked for every input (contract scenario 8 and the delivery table of the
//! contract, `idemlog::contract`):
//! - the producer and its flusher never panic, `close` drains within 5 s of real
//!   time (so no record fails with `Closed`) and every handle has completed;
//! - every record in the log is one we sent, in the partition it was sent to;
//!   an acknowledged offset holds that very record; the ack/error/duplicate
//!   counters match the handles;
//! - exactly-once (idempotence set explicitly): every acknowledged record is in
//!   the log exactly once, the records of a partition (acknowledged or not)
//!   are in send order, and no record is in the log twice at all;
//! - at-least-once (idempotence off, retries): no acknowledged record missing;
//! - at-most-once (acks=1, retries=0) and fire-and-forget (acks=0): no record
//!   twice; acks=0 reports success with the offset unknown, or a delivery
//!   timeout for a record that expired before it was sent;
//! - liveness: except at-most-once, with an unbounded delivery timeout and no
//!   delay longer than 16 request timeouts, every record is acknowledged (a
//!   livelock shows as a libFuzzer timeout).
//!
//! Executions stay short in virtual time: a long delay holds the FIFO link and
//! every request timeout behind it queues one more retry there, so the delivery
//! timeout is at most linger + 33 request timeouts unless no delay exceeds 16
//! request timeouts (then it may be "unbounded", `MAX_MS`).
//!
//! Byte format (every read yields 0 once the input runs out), 10 header bytes:
//! mode (`% 4`: exactly-once, at-least-once, at-most-once, acks=0), partitions
//! (`% 3 + 1`), dedup window (`% 5 + 1`), in-flight (`% 5 + 1`, at most the
//! window when idempotent), request timeout (`(b + 1) * 8` ms), retry backoff
//! (`(b % 4) * 25` ms), delivery timeout (`b % 4 == 3` and no long delay:
//! unbounded, else linger + request timeout + `(b / 4) * request timeout / 2`),
//! records per batch (`% 3 + 1`), linger (odd: 0 ms, even: 1000 ms), script length (`% 65`); then the script, one
//! fault per byte `% 8` (0-3 none, 4 drop request, 5 drop response, 6 delay
//! `next * 8` ms, 7 a long delay, see `fault`); then one send per byte until
//! the input ends (at most 48): bits 0-1 the partition (3: by key), bits 2-4
//! what follows it (0 flush, 1 move the clock by `next * 8` ms, ignored if a
//! delay exceeds 2^40 ms), bit 7 on the last send: no final flush before
//! `close`.
//! `fuzz/make_seeds.py` writes the hand-made seeds; `IDEMLOG_FUZZ_VERBOSE=1`
//! prints each run's results and log.
#![no_main]

use std::collections::HashMap;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use idemlog::producer::{
    partition_for_key, Acks, DeliveryResult, Fault, LinkConfig, Producer, ProducerConfig,
    ProducerError, ProducerRecord, TimeSource,
};
use idemlog::{Log, LogConfig, ManualClock};
use libfuzzer_sys::fuzz_target;

const MAX_SENDS: usize = 48;
const MAX_MS: u64 = i32::MAX as u64 * 1000;
/// Delays up to this many request timeouts keep the delivery timeout unbounded.
const LIVE_DELAY_TIMEOUTS: u64 = 16;
/// Delays beyond this rule out moving the clock from outside (it could wrap).
const CLOCK_SAFE_DELAY_MS: u64 = 1 << 40;

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
    script: Vec<Fault>,
    sends: Vec<(Target, After)>,
    final_flush: bool,
}

/// 7: a long delay, next byte `% 4`: 0 a 16-bit count of 100 ms, 1 u64::MAX,
/// 2 i64::MAX, 3 exactly the request timeout.
fn fault(u: &mut Unstructured<'_>, request_timeout_ms: u64) -> R<Fault> {
    Ok(match byte(u)? % 8 {
        0..=3 => Fault::None,
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
        let linger_ms = if byte(u)? % 2 == 1 { 0 } else { 1000 };
        let script_len = usize::from(byte(u)? % 65);
        let mut script = Vec::with_capacity(script_len);
        for _ in 0..script_len {
            script.push(fault(u, request_timeout_ms)?);
        }
        let longest_delay = script
            .iter()
            .map(|f| match f {
                Fault::Delay(ms) => *ms,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let unbounded =
            delivery % 4 == 3 && longest_delay <= LIVE_DELAY_TIMEOUTS * request_timeout_ms;
        let delivery_timeout_ms = (!unbounded).then(|| {
            linger_ms + request_timeout_ms + u64::from(delivery / 4) * request_timeout_ms / 2
        });
        let clock_safe = longest_delay <= CLOCK_SAFE_DELAY_MS;
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
        // Values are 4 bytes, keys 2, plus 16 bytes of overhead per record.
        base.max_in_flight(self.in_flight)
            .request_timeout_ms(self.request_timeout_ms)
            .retry_backoff_ms(self.backoff_ms)
            .linger_ms(self.linger_ms)
            .delivery_timeout_ms(self.delivery_timeout_ms.unwrap_or(MAX_MS))
            .batch_size(self.per_batch * 22)
            .link(LinkConfig::new().script(self.script.clone()))
            .time(TimeSource::Virtual(clock.clone()))
    }

    /// Whether every record must be acknowledged.
    fn must_deliver(&self) -> bool {
        self.mode != Mode::AtMostOnce && self.delivery_timeout_ms.is_none()
    }
}

fn value_index(value: &[u8]) -> usize {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a record we never sent: {value:?}"))
}

fn run(input: &Input) {
    let log_config = LogConfig::default()
        .dedup_window(input.window)
        .segment_bytes(16 << 10)
        .max_segments(8);
    let log = Log::with_config(log_config).expect("log config");
    log.create_topic("t", input.partitions).expect("topic");
    let clock = ManualClock::new(0);
    let producer = Producer::new(&log, input.config(&clock)).expect("producer config");

    let mut targets = Vec::with_capacity(input.sends.len());
    let mut handles = Vec::with_capacity(input.sends.len());
    for (i, (target, after)) in input.sends.iter().enumerate() {
        let record = ProducerRecord::new("t", format!("{i:04}"));
        let (record, partition) = match *target {
            Target::Partition(p) => (record.partition(p), p),
            Target::Key(k) => {
                let key = format!("k{k}");
                let p = partition_for_key(key.as_bytes(), input.partitions);
                (record.key(key), p)
            }
        };
        targets.push(partition);
        handles.push(producer.send(record).expect("send"));
        match *after {
            After::Nothing => {}
            After::Flush => producer.flush().expect("flush"),
            After::Advance(ms) => clock.advance_ms(ms),
        }
    }
    if input.final_flush {
        producer.flush().expect("final flush");
    }
    let closed = producer.close(Duration::from_secs(5));
    assert_eq!(closed, Ok(()), "close did not drain");
    let results: Vec<DeliveryResult> = handles
        .iter()
        .map(|h| h.try_result().expect("a handle still open after close"))
        .collect();
    let metrics = producer.metrics();
    drop(producer);

    // The log, per partition: record index at each offset.
    let mut logged: Vec<Vec<usize>> = Vec::new();
    for p in 0..input.partitions {
        let mut consumer = log.consumer("t", p).expect("consumer");
        let records = consumer.poll(usize::MAX).expect("poll");
        let mut indices = Vec::with_capacity(records.len());
        for (expected_offset, record) in records.iter().enumerate() {
            assert_eq!(record.offset, expected_offset as u64, "offsets not dense");
            let i = value_index(&record.value);
            assert!(i < targets.len(), "record {i} never sent");
            assert_eq!(targets[i], p, "record {i} in partition {p}");
            indices.push(i);
        }
        logged.push(indices);
    }
    if std::env::var_os("IDEMLOG_FUZZ_VERBOSE").is_some() {
        eprintln!("{input:?}\nresults: {results:?}\nlog: {logged:?}\n{metrics:?}");
    }
    let context = || format!("{input:?}\nresults: {results:#?}\nlog: {logged:?}\n{metrics:?}");

    let mut copies: HashMap<usize, usize> = HashMap::new();
    for indices in &logged {
        for &i in indices {
            *copies.entry(i).or_default() += 1;
        }
    }
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
                        logged[targets[i] as usize].get(offset as usize),
                        Some(&i),
                        "record {i} acknowledged at offset {offset}: {}",
                        context()
                    ),
                    None => assert_eq!(input.mode, Mode::FireAndForget, "{}", context()),
                }
            }
            Err(ProducerError::Closed) => panic!("record {i} failed Closed: {}", context()),
            Err(error) => {
                assert!(
                    !input.must_deliver(),
                    "record {i} not delivered: {}",
                    context()
                );
                if input.mode == Mode::FireAndForget {
                    // Only a record that expired before it was sent can fail.
                    assert!(
                        matches!(error, ProducerError::DeliveryTimeout { .. }),
                        "record {i}: {}",
                        context()
                    );
                }
            }
        }
    }

    let count = |i: usize| copies.get(&i).copied().unwrap_or(0);
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
            // a failed record's request arrives before any later one (FIFO link)
            // or is fenced after the epoch bump.
            for (p, indices) in logged.iter().enumerate() {
                assert!(
                    indices.windows(2).all(|w| w[0] < w[1]),
                    "partition {p} out of send order: {}",
                    context()
                );
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
