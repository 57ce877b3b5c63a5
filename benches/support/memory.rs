//! The memory figures, from the resident set (`/proc/self/statm`), not from a
//! formula. Each wants a process in which nothing has been freed yet (freed
//! memory the allocator reuses would hide growth), so `idemlog bench` runs each
//! in a fresh child process (`--memory-probe`).

use std::hint::black_box;

use idemlog::{Log, RecordRef};

use super::engine::{appender, bench_log, next_sequence};
use super::payload::AppBuffer;
use super::process::resident_bytes;
use super::TOPIC;

/// Log bytes per record beyond the payload: the growth of the resident set
/// while `records` idempotent records of `record_size` bytes, borrowed, are
/// appended to a fresh partition in batches of `batch`, divided by the records,
/// minus `record_size`. It counts whatever the log keeps per record and per
/// batch (headers, slots, indexes, allocator overhead).
pub(crate) fn log_bytes_per_record(records: u64, record_size: usize, batch: usize) -> f64 {
    let log = bench_log(1, None);
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
    let plain = bench_log(1, None);
    let handle = plain.partition(TOPIC, 0).expect("partition");
    let plain_growth = grown(&plain, &mut |_| {
        black_box(handle.append(None, empty).expect("append"));
    });
    let idempotent = bench_log(1, None);
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
