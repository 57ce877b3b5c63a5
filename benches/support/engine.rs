//! The engine's workloads: producers appending straight to the log (idempotent
//! through a cached `ProducerAppender`, or plain), a consumer scanning a filled
//! partition, and a consumer tailing a producer. Every append outcome and every
//! record a consumer sees is `black_box`ed.
//!
//! Steady state: the append workloads' topic retains [`RETAINED_RECORDS`] per
//! partition and each runner appends [`PREFILL_LAPS`] times that much before its
//! first timed round, so timed rounds evict inline, reuse memory the log already
//! has, fault (almost) no page, and work out of a working set larger than the cache.

use std::hint::black_box;

use idemlog::{
    AppendOutcome, Consumer, IntoRecords, Log, LogConfig, LogError, PartitionHandle,
    ProducerAppender, Record, RecordRef, RetentionPolicy, TopicConfig, DEFAULT_MEMORY_BUDGET,
};

use super::crew::{prefilled, task, Crew, CrewRunner, Runner, Task, Timing};
use super::payload::AppBuffer;
use super::shape::{AppendShape, Flavour};
use super::throttle::Throttle;
use super::{POLL_MAX, PREFILL_LAPS, RETAINED_RECORDS, SCAN_RECORDS, TOPIC};

/// How the engine is asked to append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Idempotent batches through a cached `ProducerAppender`.
    Idempotent,
    /// The same, with every 100th batch sent a second time (borrowed records
    /// only): the retry is answered from the dedup window; only appended records
    /// count.
    IdempotentRetries,
    /// Plain batches (`PartitionHandle::append(None, ..)`).
    Plain,
}

/// Every k-th batch is retried in [`Mode::IdempotentRetries`].
const RETRY_EVERY: u64 = 100;

/// What each partition of a bench log holds at most: `records` records of
/// `record_size` value bytes, appended in batches of `batch` (if the batches
/// vary, the smallest: it takes the most room per record).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Holding {
    records: u64,
    record_size: usize,
    batch: usize,
    /// True: the topic's retention keeps `records` (the steady state of a
    /// runner that appends without end); false: no retention, and `records`
    /// are all the partition is given.
    retained: bool,
}

/// The ring the published 64 B figures were measured with (`LogConfig`'s
/// default `max_segments`, which has no getter; a test checks that those
/// shapes still get the default config): a log gets a larger ring only when
/// its records need one.
const PUBLISHED_MAX_SEGMENTS: u64 = 256;

/// Recycled segments a partition keeps beside its live ones (`LogConfig::memory_budget`).
const RECYCLED_SEGMENTS: u64 = 4;

/// Budget beyond the segments: each partition's directory and fixed
/// structures, the producer states and groups (a few KiB at most each here).
const FIXED_BYTES: u64 = 64 << 20;

impl Holding {
    /// Retention keeps `records` per partition.
    pub(crate) fn retained(records: u64, record_size: usize, batch: usize) -> Self {
        Self {
            records,
            record_size,
            batch,
            retained: true,
        }
    }

    /// No retention; each partition is given `records` in all.
    pub(crate) fn filled(records: u64, record_size: usize, batch: usize) -> Self {
        Self {
            records,
            record_size,
            batch,
            retained: false,
        }
    }

    /// The most segments of `config`'s size one partition holds at once: its
    /// records' segments, the tail segment being written and the next one an
    /// append installs (retention evicts only complete segments, and only
    /// while the rest still holds `records`).
    fn segments(&self, config: &LogConfig) -> u64 {
        let value = vec![0u8; self.record_size];
        let batch = vec![RecordRef::new(&value); self.batch];
        // A batch takes its header and records rounded up to a multiple of 8
        // (`LogConfig::batch_bytes`), and never straddles two segments.
        let batch_bytes = (LogConfig::BATCH_HEADER_BYTES + LogConfig::batch_bytes(&batch[..]))
            .next_multiple_of(8);
        let batches = (config.segment_len() / batch_bytes).min(config.batches_per_segment());
        self.records.div_ceil((batches * self.batch) as u64) + 2
    }

    /// `LogConfig::default()` with a ring and a memory budget large enough for
    /// `partitions` partitions of these records: the default ring and budget
    /// unless they are too small (the 64 B shapes keep the default, under which
    /// their published figures were measured).
    fn config(&self, partitions: usize) -> LogConfig {
        let config = LogConfig::default();
        let segments = self.segments(&config);
        let segment_bytes = config.segment_footprint();
        let bytes =
            partitions as u64 * (segments + RECYCLED_SEGMENTS) * segment_bytes + FIXED_BYTES;
        config
            .max_segments(segments.next_power_of_two().max(PUBLISHED_MAX_SEGMENTS) as usize)
            .memory_budget(bytes.max(DEFAULT_MEMORY_BUDGET))
    }
}

/// A log whose topic [`TOPIC`] has `partitions` partitions, each holding
/// `holding` (with record retention if `holding` is retained), its ring and
/// memory budget sized for them ([`Holding::config`]).
pub(crate) fn bench_log(partitions: usize, holding: Holding) -> Log {
    let log = Log::with_config(holding.config(partitions)).unwrap_or_else(|error| {
        panic!("no log holds {partitions} partitions of {holding:?}: {error}")
    });
    let mut retention = RetentionPolicy::default();
    if holding.retained {
        retention = retention.max_records(holding.records);
    }
    log.create_topic_with(
        TOPIC,
        TopicConfig::new(partitions as u32).retention(retention),
    )
    .expect("fresh topic");
    log
}

/// An idempotent appender on partition `partition` of [`TOPIC`], new producer id.
pub(crate) fn appender(log: &Log, partition: usize) -> (PartitionHandle, ProducerAppender) {
    let handle = log.partition(TOPIC, partition as u32).expect("partition");
    let appender = handle
        .producer(log.init_producer_id().producer_id)
        .expect("issued");
    (handle, appender)
}

/// `sequence + n` with Kafka's wrap from `i32::MAX` to 0.
#[inline]
pub(crate) fn next_sequence(sequence: i32, n: usize) -> i32 {
    ((sequence as u32).wrapping_add(n as u32) & i32::MAX as u32) as i32
}

/// One producer thread's view of the log.
struct Appending {
    handle: PartitionHandle,
    appender: ProducerAppender,
    idempotent: bool,
    sequence: i32,
}

impl Appending {
    #[inline]
    fn append(&mut self, records: impl IntoRecords) -> Result<AppendOutcome, LogError> {
        if self.idempotent {
            self.appender.append(0, self.sequence, records)
        } else {
            self.handle.append(None, records)
        }
    }

    /// Appends a batch of one borrowed record, passed as a single `RecordRef`
    /// (as an application would pass it).
    #[inline(always)]
    fn append_one(&mut self, record: RecordRef<'_>) -> AppendOutcome {
        self.append(record).expect("append")
    }

    /// Appends one batch of borrowed records (`append_one` at batch 1).
    #[inline]
    fn append_refs(&mut self, refs: &[RecordRef<'_>]) -> AppendOutcome {
        if let [record] = refs {
            self.append_one(*record)
        } else {
            self.append(refs).expect("append")
        }
    }
}

/// The engine append workload: each producer appends its share of every round
/// with its own producer id (or plain batches) to its partition.
///
/// # Panics
/// For [`Mode::IdempotentRetries`] with owned records (not a workload).
pub(crate) fn append(shape: AppendShape, mode: Mode) -> CrewRunner {
    assert!(
        mode != Mode::IdempotentRetries || shape.flavour == Flavour::Borrowed,
        "retries are measured with borrowed records"
    );
    let log = bench_log(
        shape.partitions(),
        Holding::retained(RETAINED_RECORDS, shape.record_size, shape.batch),
    );
    let tasks = (0..shape.producers)
        .map(|index| {
            let (handle, appender) = appender(&log, shape.partition_of(index));
            let producer = Appending {
                handle,
                appender,
                idempotent: mode != Mode::Plain,
                sequence: 0,
            };
            let buffer = AppBuffer::new(shape.record_size, shape.batch);
            match shape.flavour {
                Flavour::Borrowed => borrowed_appends(shape, mode, producer, buffer),
                Flavour::Owned => owned_appends(shape, producer, buffer),
            }
        })
        .collect();
    let runner = CrewRunner::new(Crew::new("engine", tasks), shape.unit(), Box::new(log));
    prefilled(
        runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    )
}

/// A producer appending `RecordRef`s over its reusable buffer; with
/// [`Mode::IdempotentRetries`], every [`RETRY_EVERY`]th batch (counted over all
/// rounds) is sent again and must be answered as a duplicate.
fn borrowed_appends(
    shape: AppendShape,
    mode: Mode,
    producer: Appending,
    buffer: AppBuffer,
) -> Task {
    if mode != Mode::IdempotentRetries {
        return appends_then(shape, producer, buffer, |_, _| {});
    }
    let mut appended = 0u64;
    appends_then(shape, producer, buffer, move |producer, refs| {
        appended += 1;
        if appended % RETRY_EVERY == 0 {
            let retry = producer.append_refs(refs);
            assert!(retry.duplicate, "a retry is answered from the window");
            black_box(retry);
        }
    })
}

/// The borrowed append loop; `then` runs after each batch, before the
/// sequence moves on (a no-op closure costs nothing). At batch 1 the loop
/// appends its one `RecordRef` itself, as an application's loop would and as
/// the peers' loops publish theirs: through `append_refs` every batch was a
/// call that the compiler did not inline (it holds both the one-record and
/// the slice append), which the peers do not pay; the direct loop measured
/// 43.5-44.4 -> 45.8-48.3 M/s at append-p1-64B-b1 over two sets of
/// alternating `--only` runs.
fn appends_then<F>(shape: AppendShape, producer: Appending, buffer: AppBuffer, then: F) -> Task
where
    F: FnMut(&mut Appending, &[RecordRef<'_>]) + Send + 'static,
{
    let mut rounds = Batches {
        shape,
        producer,
        then,
    };
    task(move |total: u64| {
        let refs = buffer.refs();
        match refs[..] {
            [record] => rounds.run(total, &refs, |producer, _| producer.append_one(record)),
            _ => rounds.run(total, &refs, Appending::append_refs),
        }
    })
}

/// A producer's batches over the same borrowed records, and what runs after each.
struct Batches<F> {
    shape: AppendShape,
    producer: Appending,
    then: F,
}

impl<F: FnMut(&mut Appending, &[RecordRef<'_>])> Batches<F> {
    /// Appends this producer's share of `total` records with `append`.
    #[inline(always)]
    fn run(
        &mut self,
        total: u64,
        refs: &[RecordRef<'_>],
        mut append: impl FnMut(&mut Appending, &[RecordRef<'_>]) -> AppendOutcome,
    ) {
        for _ in 0..self.shape.batches_per_producer(total) {
            black_box(append(&mut self.producer, refs));
            (self.then)(&mut self.producer, refs);
            self.producer.sequence = next_sequence(self.producer.sequence, self.shape.batch);
        }
    }
}

/// A producer appending a fresh `Vec<u8>` per record (`Record::new(vec)`); the
/// records are dropped (freed) by the append's caller, as in an application.
fn owned_appends(shape: AppendShape, mut producer: Appending, buffer: AppBuffer) -> Task {
    let mut staged: Vec<Record> = Vec::with_capacity(shape.batch);
    task(move |total: u64| {
        for _ in 0..shape.batches_per_producer(total) {
            let outcome = if shape.batch == 1 {
                producer.append(Record::new(buffer.fresh(0)))
            } else {
                staged.extend((0..shape.batch).map(|i| Record::new(buffer.fresh(i))));
                producer.append(staged.drain(..))
            };
            black_box(outcome.expect("append"));
            producer.sequence = next_sequence(producer.sequence, shape.batch);
        }
    })
}

/// Records per batch of the scanned partition.
const SCAN_BATCH: usize = 64;

/// Fills partition 0 of a fresh unlimited log with [`SCAN_RECORDS`] borrowed
/// records of `record_size` bytes, in idempotent batches of [`SCAN_BATCH`].
fn filled_log(record_size: usize) -> Log {
    let log = bench_log(1, Holding::filled(SCAN_RECORDS, record_size, SCAN_BATCH));
    let (_, mut appender) = appender(&log, 0);
    let buffer = AppBuffer::new(record_size, SCAN_BATCH);
    let refs = buffer.refs();
    let mut sequence = 0;
    for _ in 0..SCAN_RECORDS / SCAN_BATCH as u64 {
        appender.append(0, sequence, &refs[..]).expect("fill");
        sequence = next_sequence(sequence, SCAN_BATCH);
    }
    log
}

/// One consumer reading a filled partition with `poll_with` of [`POLL_MAX`]
/// (borrowed records), wrapping to the log start at the end. It reads each
/// value's first byte (`first().copied()`: the byte, not a reference to it), as
/// the peer does (a scan that never looks at a payload does not read it).
pub(crate) fn scan(record_size: usize) -> Box<dyn Runner> {
    let log = filled_log(record_size);
    let consumer = log.consumer(TOPIC, 0).expect("partition");
    Box::new(Scan { consumer })
}

struct Scan {
    consumer: Consumer,
}

impl Runner for Scan {
    fn unit(&self) -> u64 {
        1
    }
    fn busy_threads(&self) -> usize {
        1
    }
    fn run(&mut self, records: u64) -> Timing {
        Timing::of(|| {
            let mut remaining = records;
            while remaining > 0 {
                let want = (remaining as usize).min(POLL_MAX);
                let read = self
                    .consumer
                    .poll_with(want, |view| {
                        black_box(view.value.first().copied());
                    })
                    .expect("in range");
                if read == 0 {
                    self.consumer.seek_to_beginning();
                }
                remaining -= read as u64;
            }
        })
    }
}

/// One idempotent producer appending borrowed batches of `batch`, one consumer
/// polling (spinning) behind it; the producer stays at most
/// [`super::throttle::TAIL_MAX_LAG`] records ahead.
pub(crate) fn tail(record_size: usize, batch: usize) -> CrewRunner {
    let log = bench_log(1, Holding::retained(RETAINED_RECORDS, record_size, batch));
    let (handle, appender) = appender(&log, 0);
    let throttle = Throttle::default();
    let buffer = AppBuffer::new(record_size, batch);
    let mut producer = Appending {
        handle,
        appender,
        idempotent: true,
        sequence: 0,
    };
    let writer = throttle.clone();
    let producing = task(move |total: u64| {
        let refs = buffer.refs();
        for done in (0..total).step_by(batch) {
            writer.wait_for_reader(done);
            black_box(producer.append(&refs[..]).expect("append"));
            producer.sequence = next_sequence(producer.sequence, batch);
        }
        writer.produced(total);
    });
    let mut consumer = log.consumer(TOPIC, 0).expect("partition");
    let reading = task(move |total: u64| {
        let mut read = 0u64;
        while read < total {
            let n = consumer
                .poll_with(POLL_MAX.min((total - read) as usize), |view| {
                    black_box(view.value.len());
                })
                .expect("the producer never outruns retention");
            if n == 0 {
                std::hint::spin_loop();
            }
            read += n as u64;
            throttle.consumed(n as u64);
        }
    });
    let runner = CrewRunner::new(
        Crew::new("tail", vec![producing, reading]),
        batch as u64,
        Box::new(log),
    );
    prefilled(runner, PREFILL_LAPS * RETAINED_RECORDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(next_sequence(5, 3), 8);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
        assert_eq!(next_sequence(i32::MAX - 1, 64), 62);
    }

    #[test]
    fn the_64_byte_shapes_keep_the_default_config() {
        // LogConfig has no PartialEq; its Debug shows every setting.
        let default = format!("{:?}", LogConfig::default());
        for (partitions, holding) in [
            (1, Holding::retained(RETAINED_RECORDS, 64, 1)),
            (2, Holding::retained(RETAINED_RECORDS, 64, 16)),
            (2, Holding::retained(RETAINED_RECORDS, 16, 64)),
            (8, Holding::retained(RETAINED_RECORDS / 8, 64, 1)),
            (1, Holding::filled(SCAN_RECORDS, 64, SCAN_BATCH)),
        ] {
            assert_eq!(
                format!("{:?}", holding.config(partitions)),
                default,
                "{holding:?}"
            );
        }
        let large = Holding::retained(RETAINED_RECORDS, 1024, 64).config(2);
        assert!(large.memory_budget_bytes() > DEFAULT_MEMORY_BUDGET);
        assert!(Log::with_config(large).is_ok());
    }

    #[test]
    fn a_partition_never_holds_more_segments_than_sized_for() {
        for (record_size, batch) in [(1024, 64), (256, 1), (0, 1)] {
            let records = 20_000;
            for holding in [
                Holding::filled(records, record_size, batch),
                Holding::retained(records, record_size, batch),
            ] {
                let log = bench_log(1, holding);
                let (handle, mut appender) = appender(&log, 0);
                let buffer = vec![7u8; record_size];
                let refs = vec![RecordRef::new(&buffer); batch];
                let laps = if holding.retained { 3 } else { 1 };
                let mut sequence = 0;
                let mut most = 0;
                for _ in 0..laps * records / batch as u64 {
                    appender.append(0, sequence, &refs[..]).expect("append");
                    sequence = next_sequence(sequence, batch);
                    most = most.max(handle.live_segments());
                }
                let sized = holding.segments(log.config());
                // The estimate is exact but for the two spare segments.
                assert!(
                    (sized - 2..=sized).contains(&most),
                    "{holding:?}: {most} of {sized}"
                );
            }
        }
    }

    #[test]
    fn owned_and_retried_appends_land_in_the_log() {
        let log = bench_log(1, Holding::filled(408, 16, 4));
        let producer = || {
            let (handle, appender) = appender(&log, 0);
            Appending {
                handle,
                appender,
                idempotent: true,
                sequence: 0,
            }
        };
        let shape = AppendShape::new(16, 4, 1, true);
        owned_appends(shape.owned(), producer(), AppBuffer::new(16, 4))(8);
        let handle = log.partition(TOPIC, 0).expect("partition");
        assert_eq!(handle.log_end_offset(), 8);
        // 100 batches in two rounds, the 100th sent twice: 400 records more, not 404.
        let mut retrying = borrowed_appends(
            shape,
            Mode::IdempotentRetries,
            producer(),
            AppBuffer::new(16, 4),
        );
        retrying(200);
        retrying(200);
        assert_eq!(handle.log_end_offset(), 408);
    }
}
