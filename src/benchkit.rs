//! Benchmark workloads shared by the criterion benches (`benches/*.rs`) and the
//! `idemlog bench` command, so both measure exactly the same code. Hidden from the
//! docs: this is not a stable API.
//!
//! # Method
//! - Every workload is a [`Runner`]: persistent threads (a [`Crew`]) parked on a
//!   barrier; [`Runner::run`] hands them a record count, releases them, and returns
//!   the span from the first worker's start to the last worker's end (each worker
//!   takes its own `Instant`s, so barrier wake-up latency is not counted). No thread
//!   is spawned inside the timing.
//! - Records are [`Record`]s whose value is `Bytes::from_static` of a leaked payload
//!   of the workload's size: building, moving and dropping one is the same few
//!   words for the engine and for every peer, and no refcount is shared between
//!   threads.
//! - Pre-faulted, steady-state memory: the engine's topic has a record-count
//!   retention ([`RETAINED_RECORDS`] per partition, ~4x the L3 of the reference VM),
//!   and each engine runner appends `PREFILL_LAPS` times that much before the first
//!   timed round. So the timed rounds run in steady state: new segments come from
//!   memory the allocator already got back from evicted ones (no first-touch page
//!   faults), eviction runs inline as it would in production, and the working set
//!   is larger than the cache. The `mutex-vec` peer keeps the same number of
//!   records (a pre-reserved `Vec`, cleared when full) and the naive prototype
//!   writes a ring of the same size. [`minor_faults`] lets callers check that a
//!   timed round faults (almost) no page.
//! - `std::hint::black_box` on every append outcome, and every consumer (engine or
//!   peer) loads each record's value length and black-boxes it.
//! - At most two busy threads: producers and consumers spin only where the
//!   workload has at most two of them; the channel peers block (crossbeam parks a
//!   sender on a full channel and a receiver on an empty one).
//!
//! Peers: `crossbeam-channel` (bounded, [`CHANNEL_CAPACITY`], one message per
//! record, every sender to ONE receiver thread that receives and drops them and
//! counts), `mutex-vec` (`parking_lot::Mutex<Vec<Record>>` per partition), and the
//! calibration ceilings (uncontended and shared `fetch_add`, a memcpy of the
//! payloads, and the naive CAS + fetch_add + slot-write prototype).
//!
//! Quick mode: set `IDEMLOG_BENCH_QUICK=1` ([`quick`]) to shrink criterion's sample
//! counts and times and the `append/direct` grid to 64 B records (criterion 0.5
//! has no `--quick`).
//!
//! # Running
//! ```text
//! cargo run --release -- bench [--quick] [--json]     # the targets, ~40 s (--quick ~10 s)
//! cargo bench                                         # every group (~10 min)
//! IDEMLOG_BENCH_QUICK=1 cargo bench                   # every group, short (~2 min)
//! cargo bench --bench append -- 'p2-own-64B-b64'      # criterion's name filter
//! ```
//! Criterion groups: `append/direct` (sizes x batches x producer layouts; peers
//! `crossbeam-channel`, `mutex-vec`, and `crossbeam-channel-vec` for batches > 1),
//! `append/idempotence` (`idemlog` vs `non-idempotent` vs `idemlog-retry-1%`),
//! `produce/end-to-end`, `consume/scan`, `consume/tail`. Each reports
//! `Throughput::Elements` (records); criterion takes one throughput per
//! benchmark, so bytes/s is records/s times the record size in the id.
//! One criterion iteration is one [`Runner::unit`] of records.

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel;
use crossbeam::utils::CachePadded;
use parking_lot::Mutex;

use crate::{Log, LogConfig, Record, RetentionPolicy, TopicConfig};

/// The environment variable that selects quick mode.
pub const QUICK_ENV: &str = "IDEMLOG_BENCH_QUICK";

/// Records each engine partition retains (and each peer keeps): 1 Mi records,
/// ~92 MB of slots, several times a 32 MB L3.
pub const RETAINED_RECORDS: u64 = 1 << 20;

/// Laps of [`RETAINED_RECORDS`] appended before the first timed round.
pub const PREFILL_LAPS: u64 = 2;

/// Capacity of the bounded crossbeam channels (messages).
pub const CHANNEL_CAPACITY: usize = 4096;

/// Records a consumer asks for per poll.
pub const POLL_MAX: usize = 1024;

/// Records filled into a partition for the scan workloads.
pub const SCAN_RECORDS: u64 = 1 << 20;

/// The topic every workload uses.
pub const TOPIC: &str = "bench";

/// True if `IDEMLOG_BENCH_QUICK` is set to something other than `0` or empty.
pub fn quick() -> bool {
    std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A leaked payload of `size` bytes (one per size for the life of the process).
pub fn payload(size: usize) -> &'static [u8] {
    static PAYLOADS: Mutex<Vec<(usize, &'static [u8])>> = Mutex::new(Vec::new());
    let mut payloads = PAYLOADS.lock();
    if let Some((_, bytes)) = payloads.iter().find(|(s, _)| *s == size) {
        return bytes;
    }
    let bytes: &'static [u8] = Box::leak(vec![0xA5u8; size].into_boxed_slice());
    payloads.push((size, bytes));
    bytes
}

/// A record whose value is `payload` (static: no allocation, no refcount).
#[inline]
pub fn record(payload: &'static [u8]) -> Record {
    Record::new(Bytes::from_static(payload))
}

/// `sequence + n` with Kafka's wrap from `i32::MAX` to 0.
#[inline]
pub fn next_sequence(sequence: i32, n: usize) -> i32 {
    ((sequence as u32).wrapping_add(n as u32) & i32::MAX as u32) as i32
}

/// Minor page faults of this process so far (`/proc/self/stat`; 0 if unreadable).
pub fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; minflt is field 10.
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Resident set size of this process in bytes (`/proc/self/statm`; 0 if unreadable).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

// ---------------------------------------------------------------------------
// Persistent worker threads
// ---------------------------------------------------------------------------

/// One worker's body: called once per round with the round's total record count
/// (each worker derives its own share from it).
pub type Task = Box<dyn FnMut(u64) + Send>;

/// Boxes a worker body with its captured state alone on its cache lines: the
/// bodies of different workers are allocated one after the other, and state they
/// mutate (a sequence number, a counter) must not share a line with a neighbour's
/// (false sharing would slow every workload down, engine and peers unequally).
pub fn task<F: FnMut(u64) + Send + 'static>(body: F) -> Task {
    let mut padded = CachePadded::new(body);
    Box::new(move |total| (*padded)(total))
}

const STOP: u64 = u64::MAX;

struct Control {
    start: Barrier,
    end: Barrier,
    job: AtomicU64,
    failed: AtomicBool,
    spans: Mutex<Vec<(Instant, Instant)>>,
}

/// Persistent threads released together by a barrier for each round.
#[allow(missing_debug_implementations)] // bench plumbing; leaves the library with the bench move
pub struct Crew {
    control: Arc<Control>,
    threads: Vec<JoinHandle<()>>,
}

impl Crew {
    /// Spawns one parked thread per task.
    pub fn new(name: &str, tasks: Vec<Task>) -> Self {
        let control = Arc::new(Control {
            start: Barrier::new(tasks.len() + 1),
            end: Barrier::new(tasks.len() + 1),
            job: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            spans: Mutex::new(Vec::with_capacity(tasks.len())),
        });
        let threads = tasks
            .into_iter()
            .enumerate()
            .map(|(index, mut task)| {
                let control = Arc::clone(&control);
                std::thread::Builder::new()
                    .name(format!("{name}-{index}"))
                    .spawn(move || loop {
                        control.start.wait();
                        // Relaxed: the barrier orders the store before our load.
                        let job = control.job.load(Ordering::Relaxed);
                        if job == STOP {
                            return;
                        }
                        if !control.failed.load(Ordering::Relaxed) {
                            let begin = Instant::now();
                            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| task(job)));
                            let end = Instant::now();
                            match outcome {
                                Ok(()) => control.spans.lock().push((begin, end)),
                                Err(_) => control.failed.store(true, Ordering::Relaxed),
                            }
                        }
                        control.end.wait();
                    })
                    .expect("spawn a benchmark thread")
            })
            .collect();
        Self { control, threads }
    }

    /// Runs one round of `records`; returns first start to last end.
    ///
    /// # Panics
    /// If a worker panicked (the message was printed by the panic hook).
    pub fn run(&mut self, records: u64) -> Duration {
        self.control.spans.lock().clear();
        self.control.job.store(records, Ordering::Relaxed);
        self.control.start.wait();
        self.control.end.wait();
        assert!(
            !self.control.failed.load(Ordering::Relaxed),
            "a benchmark worker panicked"
        );
        let spans = self.control.spans.lock();
        let start = spans.iter().map(|s| s.0).min().expect("workers ran");
        let end = spans.iter().map(|s| s.1).max().expect("workers ran");
        end - start
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.control.job.store(STOP, Ordering::Relaxed);
        self.control.start.wait();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A workload ready to run: persistent threads and pre-faulted state.
pub trait Runner {
    /// `run` must be given a multiple of this many records.
    fn unit(&self) -> u64;
    /// Moves `records` records (a multiple of [`Runner::unit`]); returns the time.
    fn run(&mut self, records: u64) -> Duration;
}

/// A [`Crew`] as a [`Runner`], with whatever it keeps alive.
#[allow(missing_debug_implementations)] // bench plumbing; leaves the library with the bench move
pub struct CrewRunner {
    crew: Crew,
    unit: u64,
    _keep: Box<dyn Send>,
}

impl CrewRunner {
    /// Wraps `crew`; `keep` is dropped after the threads stop.
    pub fn new(crew: Crew, unit: u64, keep: Box<dyn Send>) -> Self {
        Self {
            crew,
            unit,
            _keep: keep,
        }
    }
}

impl Runner for CrewRunner {
    fn unit(&self) -> u64 {
        self.unit
    }
    fn run(&mut self, records: u64) -> Duration {
        debug_assert_eq!(records % self.unit, 0);
        self.crew.run(records)
    }
}

/// Runs `records` (rounded up to a whole number of units) in rounds of at most
/// `round` records first, so a prefill does not ask one round for everything.
pub fn prefill(runner: &mut dyn Runner, records: u64) {
    let unit = runner.unit();
    let round = (RETAINED_RECORDS / 4).div_ceil(unit).max(1) * unit;
    let mut done = 0;
    while done < records {
        runner.run(round);
        done += round;
    }
}

// ---------------------------------------------------------------------------
// Append workloads
// ---------------------------------------------------------------------------

/// The shape of an append workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendShape {
    /// Value bytes per record.
    pub record_size: usize,
    /// Records per batch (per append call).
    pub batch: usize,
    /// Producer threads.
    pub producers: usize,
    /// True: all producers append to one partition; false: one partition each.
    pub shared_partition: bool,
}

impl AppendShape {
    /// A shape.
    pub const fn new(
        record_size: usize,
        batch: usize,
        producers: usize,
        shared_partition: bool,
    ) -> Self {
        Self {
            record_size,
            batch,
            producers,
            shared_partition,
        }
    }

    /// `p2-own-64B-b64` style name (`p1-...` for one producer).
    pub fn id(&self) -> String {
        let layout = match (self.producers, self.shared_partition) {
            (1, _) => String::new(),
            (_, true) => "-shared".to_string(),
            (_, false) => "-own".to_string(),
        };
        format!(
            "p{}{layout}-{}B-b{}",
            self.producers, self.record_size, self.batch
        )
    }

    /// Records per round unit: one batch from every producer.
    pub fn unit(&self) -> u64 {
        (self.batch * self.producers) as u64
    }

    /// Partitions the engine and the mutex-vec peer use.
    pub fn partitions(&self) -> usize {
        if self.shared_partition {
            1
        } else {
            self.producers
        }
    }
}

/// What carries the records in an append workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendTarget {
    /// The log, idempotent, through a cached `ProducerAppender`.
    Idempotent,
    /// The log, idempotent, with every 100th batch sent twice (the retry is
    /// answered from the dedup window; only appended records count).
    IdempotentRetries,
    /// The log, plain batches (`PartitionHandle::append(None, ..)`).
    Plain,
    /// A bounded crossbeam channel, one message per record, all producers to one receiver.
    Channel,
    /// The same channel carrying one `Vec<Record>` per batch (informational).
    ChannelBatched,
    /// `parking_lot::Mutex<Vec<Record>>` per partition.
    MutexVec,
    /// The naive prototype: producer-word CAS + tail fetch_add + slot write + release store.
    Naive,
}

impl AppendTarget {
    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idempotent => "idemlog",
            Self::IdempotentRetries => "idemlog-retry-1%",
            Self::Plain => "non-idempotent",
            Self::Channel => "crossbeam-channel",
            Self::ChannelBatched => "crossbeam-channel-vec",
            Self::MutexVec => "mutex-vec",
            Self::Naive => "naive-prototype",
        }
    }

    /// Builds the runner (threads spawned, memory pre-faulted).
    pub fn runner(&self, shape: AppendShape) -> Box<dyn Runner> {
        match self {
            Self::Idempotent => Box::new(engine_append(shape, true, None)),
            Self::IdempotentRetries => Box::new(engine_append(shape, true, Some(100))),
            Self::Plain => Box::new(engine_append(shape, false, None)),
            Self::Channel => Box::new(channel_append(shape, false)),
            Self::ChannelBatched => Box::new(channel_append(shape, true)),
            Self::MutexVec => Box::new(mutex_vec_append(shape)),
            Self::Naive => Box::new(naive_append(shape)),
        }
    }
}

/// A log whose topic [`TOPIC`] has `partitions` partitions retaining
/// `retained` records each (`None`: unlimited), default engine settings.
pub fn bench_log(partitions: usize, retained: Option<u64>) -> Log {
    let log = Log::with_config(LogConfig::default()).expect("default config is valid");
    let mut retention = RetentionPolicy::default();
    if let Some(records) = retained {
        retention = retention.max_records(records);
    }
    log.create_topic_with(
        TOPIC,
        TopicConfig::new(partitions as u32).retention(retention),
    )
    .expect("fresh topic");
    log
}

/// The engine: each producer appends its share with its own producer id
/// (idempotent) or plain batches, to its partition. With `retry_every: Some(k)`
/// every k-th idempotent batch is sent a second time (a duplicate).
pub fn engine_append(shape: AppendShape, idempotent: bool, retry_every: Option<u64>) -> CrewRunner {
    let log = bench_log(shape.partitions(), Some(RETAINED_RECORDS));
    let payload = payload(shape.record_size);
    let tasks = (0..shape.producers)
        .map(|index| {
            let partition = if shape.shared_partition { 0 } else { index };
            let handle = log.partition(TOPIC, partition as u32).expect("partition");
            let mut appender = handle
                .producer(log.init_producer_id().producer_id)
                .expect("issued");
            let mut sequence = 0i32;
            let mut buffer: Vec<Record> = Vec::with_capacity(shape.batch);
            let (batch, producers) = (shape.batch, shape.producers as u64);
            task(move |total: u64| {
                let batches = total / producers / batch as u64;
                for index in 0..batches {
                    let outcome = if batch == 1 {
                        if idempotent {
                            appender.append(0, sequence, record(payload))
                        } else {
                            handle.append(None, record(payload))
                        }
                    } else {
                        buffer.extend((0..batch).map(|_| record(payload)));
                        if idempotent {
                            appender.append(0, sequence, buffer.drain(..))
                        } else {
                            handle.append(None, buffer.drain(..))
                        }
                    };
                    black_box(outcome.expect("append"));
                    if retry_every.is_some_and(|every| index % every == every - 1) {
                        buffer.extend((0..batch).map(|_| record(payload)));
                        let retry = appender.append(0, sequence, buffer.drain(..));
                        debug_assert!(retry.as_ref().is_ok_and(|o| o.duplicate));
                        black_box(retry.expect("duplicate"));
                    }
                    sequence = next_sequence(sequence, batch);
                }
            })
        })
        .collect();
    let mut runner = CrewRunner::new(Crew::new("engine", tasks), shape.unit(), Box::new(log));
    prefill(
        &mut runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    );
    runner
}

/// crossbeam-channel: every producer sends its share (per record, or per batch
/// as a `Vec`) to one receiver thread, which receives, drops and counts all.
pub fn channel_append(shape: AppendShape, batched: bool) -> CrewRunner {
    let payload = payload(shape.record_size);
    let (batch, producers) = (shape.batch, shape.producers as u64);
    let mut tasks: Vec<Task> = Vec::new();
    if batched {
        let (sender, receiver) = channel::bounded::<Vec<Record>>(CHANNEL_CAPACITY / batch.max(1));
        for _ in 0..producers {
            let sender = sender.clone();
            tasks.push(task(move |total: u64| {
                for _ in 0..total / producers / batch as u64 {
                    let records: Vec<Record> = (0..batch).map(|_| record(payload)).collect();
                    sender.send(records).expect("receiver alive");
                }
            }));
        }
        tasks.push(task(move |total: u64| {
            let mut received = 0u64;
            while received < total {
                let records = receiver.recv().expect("senders alive");
                received += records.len() as u64;
                black_box(records);
            }
        }));
    } else {
        let (sender, receiver) = channel::bounded::<Record>(CHANNEL_CAPACITY);
        for _ in 0..producers {
            let sender = sender.clone();
            tasks.push(task(move |total: u64| {
                for _ in 0..total / producers {
                    sender.send(record(payload)).expect("receiver alive");
                }
            }));
        }
        tasks.push(task(move |total: u64| {
            for _ in 0..total {
                black_box(receiver.recv().expect("senders alive"));
            }
        }));
    }
    let mut runner = CrewRunner::new(Crew::new("channel", tasks), shape.unit(), Box::new(()));
    prefill(&mut runner, RETAINED_RECORDS);
    runner
}

/// `parking_lot::Mutex<Vec<Record>>` per partition, pre-reserved to
/// [`RETAINED_RECORDS`] and cleared (records dropped) under the lock when full.
pub fn mutex_vec_append(shape: AppendShape) -> CrewRunner {
    let payload = payload(shape.record_size);
    let logs: Arc<Vec<Mutex<Vec<Record>>>> = Arc::new(
        (0..shape.partitions())
            .map(|_| Mutex::new(Vec::with_capacity(RETAINED_RECORDS as usize)))
            .collect(),
    );
    let (batch, producers) = (shape.batch, shape.producers as u64);
    let tasks = (0..shape.producers)
        .map(|index| {
            let logs = Arc::clone(&logs);
            let partition = if shape.shared_partition { 0 } else { index };
            let mut buffer: Vec<Record> = Vec::with_capacity(batch);
            task(move |total: u64| {
                let log = &logs[partition];
                for _ in 0..total / producers / batch as u64 {
                    if batch == 1 {
                        let record = record(payload);
                        let mut guard = log.lock();
                        if guard.len() == guard.capacity() {
                            guard.clear();
                        }
                        guard.push(record);
                        black_box(guard.len());
                    } else {
                        buffer.extend((0..batch).map(|_| record(payload)));
                        let mut guard = log.lock();
                        if guard.len() + batch > guard.capacity() {
                            guard.clear();
                        }
                        guard.extend(buffer.drain(..));
                        black_box(guard.len());
                    }
                }
            })
        })
        .collect();
    let mut runner = CrewRunner::new(Crew::new("mutex-vec", tasks), shape.unit(), Box::new(logs));
    prefill(
        &mut runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    );
    runner
}

const NAIVE_PUBLISHED: u64 = 1 << 63;

struct NaiveSlot {
    state: AtomicU64,
    record: UnsafeCell<MaybeUninit<Record>>,
}

/// The bare prototype of the calibration (`naive-prototype`): a ring of slots and a tail.
struct NaiveLog {
    tail: CachePadded<AtomicU64>,
    slots: Box<[NaiveSlot]>,
}

// SAFETY: a slot's record is written only by the thread that reserved its offset
// with `tail.fetch_add` (one writer per lap), and never read; records hold only
// static payloads, so overwriting without dropping leaks nothing.
unsafe impl Sync for NaiveLog {}

impl NaiveLog {
    fn new(slots: usize) -> Self {
        let slots: Box<[NaiveSlot]> = (0..slots)
            .map(|_| NaiveSlot {
                state: AtomicU64::new(0),
                record: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            tail: CachePadded::new(AtomicU64::new(0)),
            slots,
        }
    }
}

/// Two threads doing relaxed `fetch_add`s on the counters `counter()` hands
/// each of them (its own, or one shared): the calibration ceilings.
fn fetch_add_pair(
    name: &'static str,
    counter: impl Fn() -> Arc<CachePadded<AtomicU64>>,
) -> Box<dyn Runner> {
    let tasks = (0..2)
        .map(|_| {
            let counter = counter();
            task(move |total: u64| {
                let counter = black_box(&*counter);
                for _ in 0..total / 2 {
                    // Relaxed: a bare counter; the crew's barrier orders the rounds.
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    Box::new(CrewRunner::new(Crew::new(name, tasks), 2, Box::new(())))
}

/// The naive prototype: per batch one CAS on the producer's state word and one
/// `fetch_add` on the partition tail; per record a slot write and a release store.
/// No timestamps, no segments, no validation, no window.
pub fn naive_append(shape: AppendShape) -> CrewRunner {
    let payload = payload(shape.record_size);
    let logs: Arc<Vec<NaiveLog>> = Arc::new(
        (0..shape.partitions())
            .map(|_| NaiveLog::new(RETAINED_RECORDS as usize))
            .collect(),
    );
    let (batch, producers) = (shape.batch, shape.producers as u64);
    let tasks = (0..shape.producers)
        .map(|index| {
            let logs = Arc::clone(&logs);
            let partition = if shape.shared_partition { 0 } else { index };
            let word = CachePadded::new(AtomicU64::new(0));
            task(move |total: u64| {
                let log = &logs[partition];
                let mask = log.slots.len() as u64 - 1;
                for _ in 0..total / producers / batch as u64 {
                    // The orderings mirror the engine's (state-word CAS AcqRel
                    // against the previous owner's release, tail fetch_add AcqRel,
                    // publish Release against a reader's Acquire) so the prototype
                    // pays the same fences; this word is private to the task.
                    let current = word.load(Ordering::Acquire);
                    let claimed = word
                        .compare_exchange(
                            current,
                            current + batch as u64,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        )
                        .is_ok();
                    black_box(claimed);
                    let base = log.tail.fetch_add(batch as u64, Ordering::AcqRel);
                    for offset in base..base + batch as u64 {
                        let slot = &log.slots[(offset & mask) as usize];
                        // SAFETY: `offset` was reserved by our fetch_add, so this
                        // thread is the slot's only writer in this lap; see the
                        // `Sync` impl for why the old record need not be dropped.
                        unsafe { (*slot.record.get()).write(record(payload)) };
                        slot.state
                            .store(offset | NAIVE_PUBLISHED, Ordering::Release);
                    }
                }
            })
        })
        .collect();
    let mut runner = CrewRunner::new(Crew::new("naive", tasks), shape.unit(), Box::new(logs));
    prefill(
        &mut runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    );
    runner
}

// ---------------------------------------------------------------------------
// Calibration
// ---------------------------------------------------------------------------

/// The ceilings the engine is a percentage of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calibration {
    /// One thread, `fetch_add` on its own counter.
    FetchAdd,
    /// Two threads, `fetch_add` each on its own counter (the machine's 2-core scaling).
    OwnFetchAdd,
    /// Two threads, `fetch_add` on one shared counter.
    SharedFetchAdd,
    /// `threads` threads copying `size`-byte payloads into private 1 MiB buffers.
    Memcpy {
        /// Payload bytes.
        size: usize,
        /// Threads.
        threads: usize,
    },
}

impl Calibration {
    /// The name used in reports.
    pub fn name(&self) -> String {
        match self {
            Self::FetchAdd => "fetch_add-t1".to_string(),
            Self::OwnFetchAdd => "fetch_add-own-t2".to_string(),
            Self::SharedFetchAdd => "fetch_add-shared-t2".to_string(),
            Self::Memcpy { size, threads } => format!("memcpy-{size}B-t{threads}"),
        }
    }

    /// Builds the runner.
    pub fn runner(&self) -> Box<dyn Runner> {
        match *self {
            Self::FetchAdd => {
                let counter = CachePadded::new(AtomicU64::new(0));
                let counting = task(move |total: u64| {
                    let counter = black_box(&counter);
                    for _ in 0..total {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
                Box::new(CrewRunner::new(
                    Crew::new("fetch-add", vec![counting]),
                    1,
                    Box::new(()),
                ))
            }
            Self::OwnFetchAdd => fetch_add_pair("fetch-add-own", || {
                Arc::new(CachePadded::new(AtomicU64::new(0)))
            }),
            Self::SharedFetchAdd => {
                let shared = Arc::new(CachePadded::new(AtomicU64::new(0)));
                fetch_add_pair("fetch-add-2", move || Arc::clone(&shared))
            }
            Self::Memcpy { size, threads } => {
                let payload = payload(size);
                let tasks = (0..threads)
                    .map(|_| {
                        let mut buffer = vec![0u8; 1 << 20];
                        let slots = buffer.len() / size;
                        let mut next = 0usize;
                        task(move |total: u64| {
                            for _ in 0..total / threads as u64 {
                                let at = next * size;
                                buffer[at..at + size].copy_from_slice(black_box(payload));
                                next = if next + 1 == slots { 0 } else { next + 1 };
                            }
                            black_box(&mut buffer);
                        })
                    })
                    .collect();
                Box::new(CrewRunner::new(
                    Crew::new("memcpy", tasks),
                    threads as u64,
                    Box::new(()),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Consume workloads
// ---------------------------------------------------------------------------

/// What a scan reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanTarget {
    /// A consumer of a partition filled with [`SCAN_RECORDS`] records, `poll_with`
    /// of [`POLL_MAX`] (borrowed records), wrapping to the log start at the end.
    Engine,
    /// Iterating the `Mutex<Vec<Record>>` under its lock.
    MutexVec,
    /// Receiving from a bounded channel filled (outside the timing) with the records.
    Channel,
}

impl ScanTarget {
    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Engine => "idemlog",
            Self::MutexVec => "mutex-vec",
            Self::Channel => "crossbeam-channel",
        }
    }

    /// Builds the runner (filled before it returns).
    pub fn runner(&self, record_size: usize) -> Box<dyn Runner> {
        let payload = payload(record_size);
        match self {
            Self::Engine => {
                let log = bench_log(1, None);
                let handle = log.partition(TOPIC, 0).expect("partition");
                let mut appender = handle
                    .producer(log.init_producer_id().producer_id)
                    .expect("issued");
                let mut buffer = Vec::with_capacity(64);
                for batch in 0..SCAN_RECORDS / 64 {
                    buffer.extend((0..64).map(|_| record(payload)));
                    appender
                        .append(0, (batch * 64) as i32, buffer.drain(..))
                        .expect("fill");
                }
                let consumer = handle.consumer(&log);
                Box::new(EngineScan { consumer })
            }
            Self::MutexVec => {
                let vec: Vec<Record> = (0..SCAN_RECORDS).map(|_| record(payload)).collect();
                Box::new(MutexVecScan {
                    log: Mutex::new(vec),
                    position: 0,
                })
            }
            Self::Channel => {
                let (sender, receiver) = channel::bounded(SCAN_RECORDS as usize);
                Box::new(ChannelScan {
                    sender,
                    receiver,
                    payload,
                })
            }
        }
    }
}

struct EngineScan {
    consumer: crate::Consumer,
}

impl Runner for EngineScan {
    fn unit(&self) -> u64 {
        1
    }
    fn run(&mut self, records: u64) -> Duration {
        let start = Instant::now();
        let mut remaining = records;
        while remaining > 0 {
            let want = (remaining as usize).min(POLL_MAX);
            let read = self
                .consumer
                .poll_with(want, |view| {
                    black_box(view.value.len());
                })
                .expect("in range");
            if read == 0 {
                self.consumer.seek_to_beginning();
            }
            remaining -= read as u64;
        }
        start.elapsed()
    }
}

struct MutexVecScan {
    log: Mutex<Vec<Record>>,
    position: usize,
}

impl Runner for MutexVecScan {
    fn unit(&self) -> u64 {
        1
    }
    fn run(&mut self, records: u64) -> Duration {
        let start = Instant::now();
        let mut remaining = records as usize;
        while remaining > 0 {
            let log = self.log.lock();
            let end = log.len().min(self.position + remaining.min(POLL_MAX));
            for record in &log[self.position..end] {
                black_box(record.value.len());
            }
            remaining -= end - self.position;
            self.position = if end == log.len() { 0 } else { end };
        }
        start.elapsed()
    }
}

struct ChannelScan {
    sender: channel::Sender<Record>,
    receiver: channel::Receiver<Record>,
    payload: &'static [u8],
}

impl Runner for ChannelScan {
    fn unit(&self) -> u64 {
        1
    }
    fn run(&mut self, records: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut remaining = records;
        while remaining > 0 {
            let chunk = remaining.min(SCAN_RECORDS);
            for _ in 0..chunk {
                self.sender.send(record(self.payload)).expect("room");
            }
            let start = Instant::now();
            for _ in 0..chunk {
                black_box(self.receiver.recv().expect("filled"));
            }
            total += start.elapsed();
            remaining -= chunk;
        }
        total
    }
}

/// What a tailing consumer reads from while one producer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailTarget {
    /// One idempotent producer appending batches; one consumer polling (spinning).
    Engine,
    /// One sender, one receiver on a bounded channel.
    Channel,
    /// One pusher; one consumer swapping the `Vec` out under the lock.
    MutexVec,
}

/// How far the tail producer may run ahead of its consumer (the engine and
/// mutex-vec; the channel's own bound is [`CHANNEL_CAPACITY`]).
pub const TAIL_MAX_LAG: u64 = RETAINED_RECORDS / 4;

impl TailTarget {
    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Engine => "idemlog",
            Self::Channel => "crossbeam-channel",
            Self::MutexVec => "mutex-vec",
        }
    }

    /// Builds the runner: one producer thread and one consumer thread.
    pub fn runner(&self, record_size: usize, batch: usize) -> Box<dyn Runner> {
        let payload = payload(record_size);
        let consumed = Arc::new(CachePadded::new(AtomicU64::new(0)));
        let produced_total = Arc::new(AtomicU64::new(0));
        // The producer waits (yielding) while more than TAIL_MAX_LAG ahead.
        let throttle = {
            let consumed = Arc::clone(&consumed);
            move |produced: u64| {
                while produced.saturating_sub(consumed.load(Ordering::Acquire)) > TAIL_MAX_LAG {
                    std::thread::yield_now();
                }
            }
        };
        let (tasks, keep): (Vec<Task>, Box<dyn Send>) = match self {
            Self::Engine => {
                let log = bench_log(1, Some(RETAINED_RECORDS));
                let handle = log.partition(TOPIC, 0).expect("partition");
                let mut appender = handle
                    .producer(log.init_producer_id().producer_id)
                    .expect("issued");
                let mut consumer = handle.consumer(&log);
                let mut sequence = 0;
                let mut buffer = Vec::with_capacity(batch);
                let produced_total = Arc::clone(&produced_total);
                let producer: Task = task(move |total: u64| {
                    // Relaxed: the producer is the only writer of `produced_total`;
                    // the round's barrier orders it against the next round.
                    let base = produced_total.load(Ordering::Relaxed);
                    for done in (0..total).step_by(batch) {
                        throttle(base + done);
                        buffer.extend((0..batch).map(|_| record(payload)));
                        black_box(
                            appender
                                .append(0, sequence, buffer.drain(..))
                                .expect("append"),
                        );
                        sequence = next_sequence(sequence, batch);
                    }
                    produced_total.store(base + total, Ordering::Relaxed);
                });
                let consumed = Arc::clone(&consumed);
                let reader: Task = task(move |total: u64| {
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
                        // Release: pairs with the Acquire load in `throttle`.
                        consumed.fetch_add(n as u64, Ordering::Release);
                    }
                });
                (vec![producer, reader], Box::new(log))
            }
            Self::Channel => {
                let (sender, receiver) = channel::bounded(CHANNEL_CAPACITY);
                let producer: Task = task(move |total: u64| {
                    for _ in 0..total {
                        sender.send(record(payload)).expect("receiver alive");
                    }
                });
                let reader: Task = task(move |total: u64| {
                    for _ in 0..total {
                        black_box(receiver.recv().expect("sender alive"));
                    }
                });
                (vec![producer, reader], Box::new(()))
            }
            Self::MutexVec => {
                let log = Arc::new(Mutex::new(Vec::<Record>::with_capacity(
                    TAIL_MAX_LAG as usize + batch,
                )));
                let writer_log = Arc::clone(&log);
                let produced_total = Arc::clone(&produced_total);
                let mut buffer = Vec::with_capacity(batch);
                let producer: Task = task(move |total: u64| {
                    // Relaxed: the producer is the only writer of `produced_total`;
                    // the round's barrier orders it against the next round.
                    let base = produced_total.load(Ordering::Relaxed);
                    for done in (0..total).step_by(batch) {
                        throttle(base + done);
                        buffer.extend((0..batch).map(|_| record(payload)));
                        writer_log.lock().extend(buffer.drain(..));
                    }
                    produced_total.store(base + total, Ordering::Relaxed);
                });
                let consumed = Arc::clone(&consumed);
                let mut local: Vec<Record> = Vec::with_capacity(TAIL_MAX_LAG as usize + batch);
                let reader: Task = task(move |total: u64| {
                    let mut read = 0u64;
                    while read < total {
                        std::mem::swap(&mut *log.lock(), &mut local);
                        let n = local.len() as u64;
                        if n == 0 {
                            std::hint::spin_loop();
                            continue;
                        }
                        for record in local.drain(..) {
                            black_box(record.value.len());
                        }
                        read += n;
                        consumed.fetch_add(n, Ordering::Release);
                    }
                });
                (vec![producer, reader], Box::new(()))
            }
        };
        let mut runner = CrewRunner::new(Crew::new("tail", tasks), batch as u64, keep);
        prefill(&mut runner, PREFILL_LAPS * RETAINED_RECORDS);
        Box::new(runner)
    }
}

// ---------------------------------------------------------------------------
// Side-by-side measurement (the CLI)
// ---------------------------------------------------------------------------

/// The result of several interleaved rounds of one runner.
#[derive(Clone, Copy, Debug, Default)]
pub struct Measured {
    /// Median records per second.
    pub rps: f64,
    /// Slowest round, records per second.
    pub min_rps: f64,
    /// Fastest round, records per second.
    pub max_rps: f64,
    /// Minor page faults of the process per million records during its rounds.
    pub faults_per_million: f64,
}

/// Records per round so that one round of `runner` takes about `round`.
pub fn round_size(runner: &mut dyn Runner, round: Duration) -> u64 {
    let unit = runner.unit();
    let mut records = 4096u64.div_ceil(unit) * unit;
    loop {
        let elapsed = runner.run(records);
        if elapsed >= round / 8 || records >= 1 << 34 {
            let scale = round.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            let wanted = (records as f64 * scale) as u64;
            return wanted.div_ceil(unit).max(1) * unit;
        }
        records *= 2;
    }
}

/// Sizes every runner to `round`, then runs them in turn `reps` times (engine,
/// peer, peer, engine, ...) and takes each one's median.
pub fn interleave(runners: &mut [Box<dyn Runner>], round: Duration, reps: usize) -> Vec<Measured> {
    let sizes: Vec<u64> = runners
        .iter_mut()
        .map(|runner| round_size(runner.as_mut(), round))
        .collect();
    let mut rates = vec![Vec::with_capacity(reps); runners.len()];
    let mut faults = vec![0u64; runners.len()];
    for _ in 0..reps.max(1) {
        for (index, runner) in runners.iter_mut().enumerate() {
            let before = minor_faults();
            let elapsed = runner.run(sizes[index]);
            faults[index] += minor_faults().saturating_sub(before);
            rates[index].push(sizes[index] as f64 / elapsed.as_secs_f64().max(1e-9));
        }
    }
    rates
        .into_iter()
        .zip(faults)
        .zip(sizes)
        .map(|((mut rates, faults), size)| {
            rates.sort_by(f64::total_cmp);
            Measured {
                rps: rates[rates.len() / 2],
                min_rps: rates[0],
                max_rps: rates[rates.len() - 1],
                faults_per_million: faults as f64 * 1e6 / (size as f64 * rates.len() as f64),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Memory figures
// ---------------------------------------------------------------------------

/// Log bytes per record beyond the payload, measured: the growth of the resident
/// set while `records` idempotent records with static (heap-free) payloads of
/// `record_size` bytes are appended to a fresh partition in batches of 64, divided
/// by `records`. It counts the slot (record handle, timestamp, producer fields,
/// state word), the segment headers and allocator overhead; the partition's fixed
/// ring of segment pointers is allocated before the first reading. Run it before
/// anything else frees memory into the allocator, or the growth under-counts.
pub fn log_bytes_per_record(records: u64, record_size: usize) -> f64 {
    let payload = payload(record_size);
    let log = bench_log(1, None);
    let handle = log.partition(TOPIC, 0).expect("partition");
    let mut appender = handle
        .producer(log.init_producer_id().producer_id)
        .expect("issued");
    let mut buffer = Vec::with_capacity(64);
    let before = resident_bytes();
    let mut sequence = 0;
    for _ in 0..records / 64 {
        buffer.extend((0..64).map(|_| record(payload)));
        appender
            .append(0, sequence, buffer.drain(..))
            .expect("append");
        sequence = next_sequence(sequence, 64);
    }
    let grown = resident_bytes().saturating_sub(before);
    black_box(&log);
    grown as f64 / (records / 64 * 64) as f64
}

// ---------------------------------------------------------------------------
// Criterion settings
// ---------------------------------------------------------------------------

/// Sample count and times the criterion benches use (shrunk in quick mode).
#[derive(Clone, Copy, Debug)]
pub struct CriterionSettings {
    /// Samples per benchmark.
    pub sample_size: usize,
    /// Warm-up time per benchmark.
    pub warm_up: Duration,
    /// Measurement time per benchmark.
    pub measurement: Duration,
}

/// The criterion settings for this run: 10 samples over 2 s after 0.5 s of
/// warm-up, or in quick mode ([`quick`]) 10 samples over 0.3 s after 0.1 s.
pub fn criterion_settings() -> CriterionSettings {
    if quick() {
        CriterionSettings {
            sample_size: 10,
            warm_up: Duration::from_millis(100),
            measurement: Duration::from_millis(300),
        }
    } else {
        CriterionSettings {
            sample_size: 10,
            warm_up: Duration::from_millis(500),
            measurement: Duration::from_secs(2),
        }
    }
}

/// The shapes of the `append/direct` criterion group: record sizes 16, 64, 256
/// and 1024 B x batches 1, 16, 64 x (1 producer, 2 producers on one partition,
/// 2 producers on their own partitions); quick mode keeps 64 B only.
pub fn direct_shapes() -> Vec<AppendShape> {
    let sizes: &[usize] = if quick() { &[64] } else { &[16, 64, 256, 1024] };
    let mut shapes = Vec::new();
    for &size in sizes {
        for batch in [1, 16, 64] {
            shapes.push(AppendShape::new(size, batch, 1, true));
            shapes.push(AppendShape::new(size, batch, 2, true));
            shapes.push(AppendShape::new(size, batch, 2, false));
        }
    }
    shapes
}

// ---------------------------------------------------------------------------
// End to end through the producer client
// ---------------------------------------------------------------------------

/// Delivery handles each sending thread keeps before it waits for the oldest.
pub const PRODUCE_OUTSTANDING: usize = 8192;

/// What carries the records from the sending threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProduceTarget {
    /// One shared `Producer` (`ProducerConfig::exactly_once()`, Kafka's defaults)
    /// sending to a one-partition topic; every record's handle is waited for.
    Idempotent,
    /// The same with `ProducerConfig::at_least_once()` (idempotence off).
    Plain,
    /// The sending threads put the records on one bounded channel; one receiver
    /// thread receives and drops them.
    Channel,
}

impl ProduceTarget {
    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idempotent => "idemlog-producer",
            Self::Plain => "non-idempotent",
            Self::Channel => "crossbeam-channel",
        }
    }

    /// Builds the runner: `threads` sending threads, `record_size`-byte values.
    /// A round ends when every record's delivery handle has completed (the engine:
    /// each thread flushes after its last send and waits for all its handles) or
    /// when the receiver has the last record (the channel).
    pub fn runner(&self, threads: usize, record_size: usize) -> Box<dyn Runner> {
        use crate::producer::{Producer, ProducerConfig};
        use std::collections::VecDeque;
        let config = match self {
            Self::Idempotent => ProducerConfig::exactly_once(),
            Self::Plain => ProducerConfig::at_least_once(),
            Self::Channel => {
                return Box::new(channel_append(
                    AppendShape::new(record_size, 1, threads, true),
                    false,
                ))
            }
        };
        let payload = payload(record_size);
        let log = bench_log(1, Some(RETAINED_RECORDS));
        let producer = Arc::new(Producer::new(&log, config).expect("producer"));
        let tasks = (0..threads)
            .map(|_| {
                let producer = Arc::clone(&producer);
                // Resolved once: `send_to` skips the per-record topic lookup.
                let topic = producer.topic(TOPIC).expect("topic");
                let mut pending = VecDeque::with_capacity(PRODUCE_OUTSTANDING);
                task(move |total: u64| {
                    for _ in 0..total / threads as u64 {
                        if pending.len() == PRODUCE_OUTSTANDING {
                            let handle: crate::producer::DeliveryHandle =
                                pending.pop_front().expect("non-empty");
                            black_box(handle.wait().expect("delivered"));
                        }
                        let value = Bytes::from_static(payload);
                        let handle = producer.send_to(&topic, None, None, value);
                        pending.push_back(handle.expect("send"));
                    }
                    producer.flush().expect("flush");
                    for handle in pending.drain(..) {
                        black_box(handle.wait().expect("delivered"));
                    }
                })
            })
            .collect();
        let mut runner = CrewRunner::new(
            Crew::new("produce", tasks),
            threads as u64,
            Box::new((producer, log)),
        );
        prefill(&mut runner, RETAINED_RECORDS);
        Box::new(runner)
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(next_sequence(5, 3), 8);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
        assert_eq!(next_sequence(i32::MAX - 1, 64), 62);
    }

    #[test]
    fn shape_ids_match_benchmarks_md() {
        assert_eq!(AppendShape::new(64, 64, 2, false).id(), "p2-own-64B-b64");
        assert_eq!(AppendShape::new(64, 1, 2, true).id(), "p2-shared-64B-b1");
        assert_eq!(AppendShape::new(64, 1, 1, true).id(), "p1-64B-b1");
        assert_eq!(AppendShape::new(64, 16, 2, false).unit(), 32);
    }

    #[test]
    fn crew_runs_every_task_each_round_and_stops() {
        let counter = Arc::new(AtomicU64::new(0));
        let tasks = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                task(move |total: u64| {
                    counter.fetch_add(total / 2, Ordering::Relaxed);
                })
            })
            .collect();
        let mut crew = Crew::new("test", tasks);
        crew.run(10);
        crew.run(4);
        drop(crew);
        assert_eq!(counter.load(Ordering::Relaxed), 14);
    }

    #[test]
    fn payloads_are_shared_per_size() {
        assert_eq!(payload(16).len(), 16);
        assert!(std::ptr::eq(payload(16), payload(16)));
        assert_eq!(record(payload(64)).value().len(), 64);
    }
}
