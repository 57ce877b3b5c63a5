//! The memory figures, from the resident set (`/proc/self/statm`), not from a
//! formula. Each wants a process in which nothing has been freed yet (freed
//! memory the allocator reuses would hide growth), so `idemlog bench` runs each
//! in a fresh child process (`--memory-probe`).

use std::hint::black_box;

use idemlog::{Log, RecordRef};

use super::engine::{appender, bench_log, next_sequence, Holding};
use super::payload::AppBuffer;
use super::process::resident_bytes;
use super::TOPIC;

/// Log bytes per record beyond the payload: the growth of the resident set
/// while `records` idempotent records of `record_size` bytes, borrowed, are
/// appended to a fresh partition in batches of `batch`, divided by the records,
/// minus `record_size`. It counts whatever the log keeps per record and per
/// batch (headers, slots, indexes, allocator overhead).
pub(crate) fn log_bytes_per_record(records: u64, record_size: usize, batch: usize) -> f64 {
    let log = bench_log(1, Holding::filled(records, record_size, batch));
    let (_, mut appender) = appender(&log, 0);
    let buffer = AppBuffer::new(record_size, batch);
    let refs = buffer.refs();
    let batches = records / batch as u64;
    let before = resident_bytes();
    let mut sequence = 0;
    for _ in 0..batches {
        black_box(appender.append(0, sequence, &refs[..]).expect("append"));
        sequence = next_sequence(sequence, batch);
    }
    let grown = resident_bytes().saturating_sub(before);
    black_box(&log);
    grown as f64 / (batches * batch as u64) as f64 - record_size as f64
}

/// Producer-state bytes per (producer, partition), by RSS and as the log
/// reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ProducerStateBytes {
    /// Resident-set growth per entry.
    pub measured: f64,
    /// `Log::producer_state_stats().bytes` per entry.
    pub reported: f64,
}

/// Producer-state bytes per entry: `producers` producers append one empty
/// idempotent record each to one partition, and the same number of empty plain
/// records go to another log; the difference of the two logs' resident-set
/// growth, per producer, is what the producer state costs (the records' own
/// cost cancels). Both logs stay alive until both are measured, so nothing is
/// freed in between.
pub(crate) fn producer_state_bytes(producers: usize) -> ProducerStateBytes {
    let grown = |log: &Log, append: &mut dyn FnMut(&Log)| {
        let before = resident_bytes();
        for _ in 0..producers {
            append(log);
        }
        resident_bytes().saturating_sub(before)
    };
    let empty = RecordRef::new(&[]);
    let holding = Holding::filled(producers as u64, 0, 1);
    let plain = bench_log(1, holding);
    let handle = plain.partition(TOPIC, 0).expect("partition");
    let plain_growth = grown(&plain, &mut |_| {
        black_box(handle.append(None, empty).expect("append"));
    });
    let idempotent = bench_log(1, holding);
    let idempotent_growth = grown(&idempotent, &mut |log| {
        let (_, mut appender) = appender(log, 0);
        black_box(appender.append(0, 0, empty).expect("append"));
    });
    let stats = idempotent.producer_state_stats();
    assert_eq!(stats.entries, producers, "one entry per producer");
    black_box((&plain, &idempotent));
    ProducerStateBytes {
        measured: idempotent_growth.saturating_sub(plain_growth) as f64 / producers as f64,
        reported: stats.bytes as f64 / producers as f64,
    }
}

/// What the memory-budget probe saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BudgetFigures {
    /// Largest resident-set growth over the probe, in bytes.
    pub peak_growth: f64,
    /// Appends answered `LogFull` (the writer's back-pressure).
    pub log_full: f64,
}

/// A log with a memory budget of `budget` bytes under a writer that never stops
/// and a stalled reader. Phase 1: the topic has record retention, and the
/// reader holds an owned record of the first segment (pinning it) and never
/// reads again; the writer appends 4x the budget. Phase 2: a topic with no
/// retention fills the budget and the writer keeps trying. The resident set is
/// sampled every 4096 appends; the figures are its peak growth and how many
/// appends were refused with `LogFull` (never an abort).
pub(crate) fn budget_under_stalled_reader(budget: u64) -> BudgetFigures {
    use idemlog::{LogConfig, LogError, Record, RetentionPolicy, TopicConfig};
    let log = Log::with_config(LogConfig::default().memory_budget(budget)).expect("config");
    let retained = RetentionPolicy::default().max_records(1 << 16);
    log.create_topic_with("kept", TopicConfig::new(1).retention(retained))
        .expect("topic");
    log.create_topic("unbounded", 1).expect("topic");
    let buffer = AppBuffer::new(64, 64);
    let refs = buffer.refs();
    let before = resident_bytes();
    let mut peak = 0u64;
    let sample = |peak: &mut u64| *peak = (*peak).max(resident_bytes().saturating_sub(before));
    log.append("kept", 0, None, Record::new(vec![1u8; 64]))
        .expect("first");
    let stalled = log
        .consumer("kept", 0)
        .expect("consumer")
        .poll(1)
        .expect("read");
    let batches = 4 * budget / (64 * 64);
    for batch in 0..batches {
        black_box(
            log.append("kept", 0, None, &refs[..])
                .expect("retention makes room"),
        );
        if batch % 64 == 0 {
            sample(&mut peak);
        }
    }
    let mut log_full = 0u64;
    for batch in 0..batches {
        match log.append("unbounded", 0, None, &refs[..]) {
            Ok(outcome) => {
                black_box(outcome);
            }
            Err(LogError::LogFull { .. }) => log_full += 1,
            Err(other) => panic!("unexpected {other}"),
        }
        if batch % 64 == 0 {
            sample(&mut peak);
        }
    }
    sample(&mut peak);
    black_box(&stalled);
    BudgetFigures {
        peak_growth: peak as f64,
        log_full: log_full as f64,
    }
}
