//! `consume-tail`: a pipeline of 2 producer threads and a consumer group of 2
//! members over the 8 partitions of one topic, in records per second and
//! producer-to-consumer latency, beside crossbeam-channel pipelines of the
//! same shape.
//!
//! # The engine
//! Each producer appends borrowed 64-byte records one at a time (plain
//! `PartitionHandle::append` of a batch of 1, idemlog's direct append path, so
//! that the row measures the consumer side and its wake-up path, not the
//! producer client) to the 8 partitions in turn (producer 0 starting at
//! partition 0, producer 1 at 4). The topic retains [`RETAINED_RECORDS`] in all
//! ([`RETAINED_RECORDS`] / 8 per partition: 1 Mi per partition of 112-byte
//! batches would be most of the log's 1 GiB memory budget), and
//! [`PREFILL_LAPS`] laps of it go through the pipeline before the first timed
//! round, so timed rounds evict and recycle segments inline. The consumers are
//! the members of one group (`Log::subscribe`, `auto.offset.reset=earliest`,
//! auto commit off), settled before anything is timed (each owns 4
//! partitions); each blocks in `poll_with_timeout` (zero-copy) for up to
//! [`POLL_MAX`] records and commits its positions after every
//! [`COMMIT_EVERY`] records it has read (a commit takes the group's mutex;
//! Kafka users commit per poll or every few seconds, this is in between).
//!
//! # The peer
//! Two bounded crossbeam channels of [`CHANNEL_CAPACITY`] `[u8; 64]` messages,
//! one per consumer thread; a producer sends the record of "partition" p to
//! channel p % 2. That, not 8 channels with each consumer `Select`ing over 4,
//! is the closest analogue a user would write: the partitions only decide
//! which consumer gets a record (and each partition's records stay in order,
//! read by one consumer), one MPSC channel per consumer does that with a plain
//! blocking `recv`, and 8 channels would only imitate the log's internals (a
//! weaker peer: on the reference VM 8 channels of 1024, drained with
//! `try_recv` and a `Select` to block, ran at about a quarter of the 2-channel
//! rate). Which consumer gets which partitions does not matter (p / 4, the
//! range assignor's split, measured no faster than p % 2). The message is the
//! 64 bytes by value: the borrowed record copied once, as the engine copies it
//! into its segment, and no allocation (a `Vec` or `Bytes` per message would
//! only slow the peer).
//!
//! # What both do alike
//! - The same records: 64 bytes from the producer thread's reusable buffer,
//!   whose first 8 bytes carry the send time (nanoseconds since an `Instant`
//!   shared by the runner's threads) on every [`SAMPLE_EVERY`]th record of a
//!   producer and 0 on the others (an odd period, so the samples visit all 8
//!   partitions; reading the clock for every record would add ~40 ns per record
//!   to both sides). Each consumer reads those 8 bytes of every record
//!   (`black_box`ed) and, for a stamped one, records now minus the stamp in its
//!   own [`Histogram`] (no allocation), merged once per round.
//! - The same queue depth: a channel holds at most [`CHANNEL_CAPACITY`]
//!   messages, so at most [`IN_FLIGHT`] records are between the producers and
//!   the consumers; the engine's producers are held to the same bound (a log
//!   applies no back-pressure; without it the producers would run ahead and
//!   every latency would be queueing). Each producer checks every
//!   [`CHECK_EVERY`] records, spinning briefly and then yielding its core while
//!   the bound would be passed (as a full channel's sender spins, yields, then
//!   parks).
//! - The same rounds: a round is `total` records, half from each producer, a
//!   multiple of 16 so each partition, and each consumer, gets exactly its
//!   share; it ends when both consumers have read theirs.
//!
//! # Four threads on two vCPUs
//! The two producers are the busy threads ([`Runner::busy_threads`] = 2, so
//! [`super::measure`] keeps only rounds with process CPU/wall >= 1.8, as for the
//! other two-thread rows). The consumers take CPU from them whenever they have
//! records to read: a round below 1.8 means the second vCPU was taken by the
//! host, or that both cores idled while every thread waited on another (a
//! wake-up gap of the pipeline itself). The row's note shows cpu/wall and how
//! many rounds were discarded; `/proc/stat`'s steal column tells the two apart.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel;
use crossbeam::utils::CachePadded;
use idemlog::consumer::{ConsumerConfig, MultiConsumer, OffsetReset};
use idemlog::{Log, PartitionHandle, RecordRef};
use parking_lot::Mutex;

use super::channel::CHANNEL_CAPACITY;
use super::crew::{prefilled, task, wait_until, Crew, CrewRunner, Runner, Task, Timing};
use super::engine::{bench_log, Holding};
use super::latency::{stamp, Histogram};
use super::payload::AppBuffer;
use super::{POLL_MAX, PREFILL_LAPS, RETAINED_RECORDS, TOPIC};

/// Producer threads.
pub(crate) const PRODUCERS: usize = 2;
/// Consumer threads (group members, or channel receivers).
pub(crate) const CONSUMERS: usize = 2;
/// Partitions of the topic (and "partitions" the channel producers route by).
pub(crate) const PARTITIONS: usize = 8;
/// Value bytes per record.
pub(crate) const RECORD_SIZE: usize = 64;
/// Every this many records of a producer carries its send time.
pub(crate) const SAMPLE_EVERY: u64 = 63;
/// The most records between the producers and the consumers: what the
/// channels hold.
pub(crate) const IN_FLIGHT: u64 = (CONSUMERS * CHANNEL_CAPACITY) as u64;
/// An engine producer checks the bound every this many records.
pub(crate) const CHECK_EVERY: u64 = 64;
/// A member commits its positions after reading this many records.
pub(crate) const COMMIT_EVERY: u64 = 64 << 10;
/// The consumer group.
const GROUP: &str = "consume-tail";
/// How long a consumer's blocking poll waits before it looks again.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Empty polls in a row after which records are taken to be lost (a bug).
const MAX_EMPTY_POLLS: u32 = 100;

/// Records per round unit: every producer's turn over every partition.
const UNIT: u64 = (PRODUCERS * PARTITIONS) as u64;

/// Records stamped by the producers and counted by the consumers: the
/// in-flight bound of the engine's producers. Each count has one writer.
#[derive(Default)]
struct Flow {
    produced: [CachePadded<AtomicU64>; PRODUCERS],
    consumed: [CachePadded<AtomicU64>; CONSUMERS],
}

impl Flow {
    /// Producer `index` has produced `mine` records in all: publishes that and
    /// waits (spinning, then yielding its core) until the records in flight,
    /// plus what both producers may append before their next check, fit
    /// [`IN_FLIGHT`].
    #[inline]
    fn room(&self, index: usize, mine: u64) {
        // Release: pairs with the Acquire loads of the other producer.
        self.produced[index].store(mine, Ordering::Release);
        let in_flight = || {
            // Acquire: a count read is at most the writer's latest (stale
            // consumed counts only make the estimate larger; a stale count of
            // the other producer is at most CHECK_EVERY behind, allowed for).
            let produced: u64 = self
                .produced
                .iter()
                .map(|count| count.load(Ordering::Acquire))
                .sum();
            let consumed: u64 = self
                .consumed
                .iter()
                .map(|count| count.load(Ordering::Acquire))
                .sum();
            produced.saturating_sub(consumed)
        };
        let limit = IN_FLIGHT - PRODUCERS as u64 * CHECK_EVERY;
        if in_flight() > limit {
            wait_until(|| in_flight() <= limit);
        }
    }

    /// Consumer `index` has read `total` records in all.
    #[inline]
    fn consumed(&self, index: usize, total: u64) {
        // Release: pairs with the producers' Acquire loads.
        self.consumed[index].store(total, Ordering::Release);
    }
}

/// The producer's record: its buffer's 64 bytes, the first 8 overwritten by
/// the send time on a sampled record, else by 0.
struct Stamper {
    bytes: [u8; RECORD_SIZE],
    origin: Instant,
    sent: u64,
}

impl Stamper {
    fn new(origin: Instant) -> Self {
        let mut bytes = [0u8; RECORD_SIZE];
        bytes.copy_from_slice(AppBuffer::new(RECORD_SIZE, 1).bytes(0));
        Self {
            bytes,
            origin,
            sent: 0,
        }
    }

    /// The next record's bytes.
    #[inline]
    fn next(&mut self) -> &[u8; RECORD_SIZE] {
        let stamp = if self.sent % SAMPLE_EVERY == 0 {
            stamp(self.origin)
        } else {
            0
        };
        self.sent += 1;
        self.bytes[..8].copy_from_slice(&stamp.to_le_bytes());
        &self.bytes
    }
}

/// The consumer's side of a record: reads its stamp and, if it has one,
/// counts the latency.
struct Receiving {
    histogram: Histogram,
    origin: Instant,
    merged: Arc<Mutex<Histogram>>,
}

impl Receiving {
    #[inline]
    fn seen(&mut self, value: &[u8]) {
        let sent = u64::from_le_bytes(value[..8].try_into().expect("8 bytes"));
        if sent != 0 {
            self.histogram
                .record(stamp(self.origin).saturating_sub(sent));
        }
        black_box(sent);
    }

    /// At the end of a round: hands the round's latencies to the runner.
    fn merge(&mut self) {
        self.merged.lock().merge(&self.histogram);
        self.histogram.clear();
    }
}

/// A [`CrewRunner`] whose consumers record latencies.
pub(crate) struct TailRunner {
    runner: CrewRunner,
    latency: Arc<Mutex<Histogram>>,
}

impl Runner for TailRunner {
    fn unit(&self) -> u64 {
        self.runner.unit()
    }
    fn busy_threads(&self) -> usize {
        self.runner.busy_threads()
    }
    fn run(&mut self, records: u64) -> Timing {
        self.runner.run(records)
    }
    fn take_latency(&mut self) -> Option<Histogram> {
        Some(std::mem::take(&mut *self.latency.lock()))
    }
}

/// Producer `index`'s first partition.
fn first_partition(index: usize) -> usize {
    index * PARTITIONS / PRODUCERS
}

/// A settled group of [`CONSUMERS`] members of [`GROUP`] over [`TOPIC`]: each
/// has polled until it owns its share of the partitions.
///
/// # Panics
/// If the group has not settled within 10 s.
pub(crate) fn settled_group(log: &Log) -> Vec<MultiConsumer> {
    let config = ConsumerConfig::new()
        .group_id(GROUP)
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false);
    let mut members: Vec<MultiConsumer> = (0..CONSUMERS)
        .map(|_| log.subscribe(config.clone(), &[TOPIC]).expect("subscribe"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while members
        .iter()
        .any(|member| member.assignment().len() != PARTITIONS / CONSUMERS)
    {
        assert!(Instant::now() < deadline, "the group did not settle");
        for member in &mut members {
            // max 0: follows the group's assignment, reads nothing.
            member.poll_with(0, |_| ()).expect("sync");
        }
    }
    members
}

/// The engine pipeline.
pub(crate) fn engine() -> TailRunner {
    let log = bench_log(
        PARTITIONS,
        Holding::retained(RETAINED_RECORDS / PARTITIONS as u64, RECORD_SIZE, 1),
    );
    let origin = Instant::now();
    let flow = Arc::new(Flow::default());
    let latency = Arc::new(Mutex::new(Histogram::default()));
    let partitions: Vec<PartitionHandle> = (0..PARTITIONS)
        .map(|index| log.partition(TOPIC, index as u32).expect("partition"))
        .collect();
    let mut tasks: Vec<Task> = (0..PRODUCERS)
        .map(|index| {
            let (flow, partitions) = (Arc::clone(&flow), partitions.clone());
            let mut stamper = Stamper::new(origin);
            let mut next = first_partition(index);
            let mut produced = 0u64;
            task(move |total: u64| {
                for sent in 0..total / PRODUCERS as u64 {
                    if sent % CHECK_EVERY == 0 {
                        flow.room(index, produced);
                    }
                    let record = RecordRef::new(stamper.next());
                    black_box(partitions[next].append(None, record).expect("append"));
                    next = (next + 1) % PARTITIONS;
                    produced += 1;
                }
            })
        })
        .collect();
    for (index, mut member) in settled_group(&log).into_iter().enumerate() {
        let flow = Arc::clone(&flow);
        let mut receiving = Receiving {
            histogram: Histogram::default(),
            origin,
            merged: Arc::clone(&latency),
        };
        let (mut consumed, mut since_commit) = (0u64, 0u64);
        tasks.push(task(move |total: u64| {
            let share = total / CONSUMERS as u64;
            let (mut read, mut empty) = (0u64, 0u32);
            while read < share {
                let want = POLL_MAX.min((share - read) as usize);
                let n = member
                    .poll_with_timeout(want, POLL_TIMEOUT, |view| receiving.seen(view.value))
                    .expect("poll") as u64;
                read += n;
                consumed += n;
                flow.consumed(index, consumed);
                since_commit += n;
                if since_commit >= COMMIT_EVERY {
                    member.commit().expect("commit");
                    since_commit = 0;
                }
                empty = if n == 0 { empty + 1 } else { 0 };
                assert!(empty < MAX_EMPTY_POLLS, "records lost");
            }
            receiving.merge();
        }));
    }
    let runner = TailRunner {
        runner: CrewRunner::new(Crew::new("consume-tail", tasks), UNIT, Box::new(log))
            .busy(PRODUCERS),
        latency,
    };
    prefilled(runner, PREFILL_LAPS * RETAINED_RECORDS)
}

/// The channel pipeline.
pub(crate) fn channel() -> TailRunner {
    let origin = Instant::now();
    let latency = Arc::new(Mutex::new(Histogram::default()));
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..CONSUMERS)
        .map(|_| channel::bounded::<[u8; RECORD_SIZE]>(CHANNEL_CAPACITY))
        .unzip();
    let mut tasks: Vec<Task> = (0..PRODUCERS)
        .map(|index| {
            let senders = senders.clone();
            let mut stamper = Stamper::new(origin);
            let mut next = first_partition(index);
            task(move |total: u64| {
                for _ in 0..total / PRODUCERS as u64 {
                    let message = *stamper.next();
                    senders[next % CONSUMERS]
                        .send(message)
                        .expect("receiver alive");
                    next = (next + 1) % PARTITIONS;
                }
            })
        })
        .collect();
    drop(senders);
    for receiver in receivers {
        let mut receiving = Receiving {
            histogram: Histogram::default(),
            origin,
            merged: Arc::clone(&latency),
        };
        tasks.push(task(move |total: u64| {
            for _ in 0..total / CONSUMERS as u64 {
                let message = receiver.recv().expect("senders alive");
                receiving.seen(&message);
            }
            receiving.merge();
        }));
    }
    let runner = TailRunner {
        runner: CrewRunner::new(Crew::new("channel-tail-group", tasks), UNIT, Box::new(()))
            .busy(PRODUCERS),
        latency,
    };
    prefilled(runner, PREFILL_LAPS * RETAINED_RECORDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pipelines_deliver_every_record_and_sample_latency() {
        for mut runner in [engine(), channel()] {
            runner.take_latency();
            runner.run(UNIT * 1000);
            let latency = runner.take_latency().expect("latency");
            // 8000 records per producer, every 63rd stamped (counted across
            // rounds): 126 or 127 each.
            assert!((2 * 126..=2 * 127).contains(&latency.samples()));
        }
    }

    #[test]
    fn the_group_settles_four_and_four() {
        let log = bench_log(PARTITIONS, Holding::filled(0, RECORD_SIZE, 1));
        let members = settled_group(&log);
        let mut all: Vec<_> = members.iter().flat_map(|m| m.assignment()).collect();
        all.sort_by_key(|tp| tp.partition);
        all.dedup();
        assert_eq!(all.len(), PARTITIONS);
    }
}
