//! The accumulator: application threads hand records to the flusher through one
//! lock-free queue per partition, with no global lock.
//!
//! Hand-off protocol (checked by loom-tests/tests/producer_handoff.rs):
//! - A sender pushes its record onto the partition's queue, then issues a SeqCst
//!   fence and reads two flags, `closed` and `sleeping`.
//! - The flusher, before it sleeps, sets `sleeping` under the idle mutex, issues a
//!   SeqCst fence and re-checks every queue; it sleeps only if all are empty. By
//!   the fence-fence rule, either the sender sees `sleeping` (and wakes it, taking
//!   the mutex so the notification cannot fall between the check and the wait)
//!   or the flusher sees the record. A busy flusher costs a sender one fence and
//!   two loads.
//! - On close, the closer sets `closed` (SeqCst); the flusher reads it (SeqCst),
//!   fences, and drains the queues a last time before it exits. A sender that
//!   pushed but did not see `closed` is therefore drained by the flusher; one that
//!   did see it sweeps the queue itself and fails what it pops with
//!   [`ProducerError::Closed`]. Every item is popped exactly once (the queue is
//!   MPMC), so no record is lost or completed twice.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::delivery::{self, Completer};
use super::error::ProducerError;
use super::partitioner::{partition_for_key, sticky_partition};
use crate::error::LogError;
use crate::log::{Log, PartitionHandle};
use crate::record::Record;
use crate::sync::{
    fence, Arc, AtomicBool, AtomicU64, AtomicUsize, ConcurrentMap, Condvar, Mutex, Ordering,
    SegQueue,
};

/// Bytes counted per record on top of key and value, against `batch.size` and
/// `buffer.memory` (a stand-in for Kafka's record framing).
pub const RECORD_OVERHEAD: usize = 16;

/// A record waiting in a partition queue.
pub(crate) struct Pending {
    pub(crate) record: Record,
    pub(crate) size: usize,
    pub(crate) enqueued_ms: i64,
    pub(crate) completer: Completer,
}

/// What a partition queue carries.
pub(crate) enum Item {
    Record(Pending),
    /// A `flush()` in progress: fires once every record queued before it completed.
    Marker(Arc<FlushWaiter>),
}

/// Counts the partitions a `flush()` still waits for.
#[derive(Debug)]
pub(crate) struct FlushWaiter {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl FlushWaiter {
    fn new(partitions: usize) -> Self {
        Self {
            remaining: AtomicUsize::new(partitions),
            done: Mutex::new(partitions == 0),
            cv: Condvar::new(),
        }
    }

    /// One partition is drained up to the marker.
    pub(crate) fn fire(&self) {
        // AcqRel: the last fire() to arrive reads the decrements of the others
        // (their fetch_sub), then publishes `done` under the mutex to `wait`.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock() = true;
            self.cv.notify_all();
        }
    }

    fn wait(&self) {
        let mut done = self.done.lock();
        while !*done {
            done = self.cv.wait_timeout(done, Duration::from_secs(1));
        }
    }
}

/// One topic's queues.
pub(crate) struct TopicQueues {
    // std's Arc even under loom: an immutable name (loom's Arc has no Arc<str>).
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) queues: Box<[SegQueue<Item>]>,
    pub(crate) handles: Box<[PartitionHandle]>,
    /// Keyless bytes sent to the topic (drives the sticky partition).
    sticky_bytes: AtomicU64,
}

/// The shared state between senders, the flusher and `close`.
pub(crate) struct Accumulator {
    log: Log,
    topics: ConcurrentMap<String, Arc<TopicQueues>>,
    /// Topics in creation order, for the flusher and `flush` (slow path).
    topic_list: Mutex<Vec<Arc<TopicQueues>>>,
    batch_size: usize,
    buffer_limit: usize,
    max_block: Duration,
    buffer_used: crossbeam::utils::CachePadded<AtomicUsize>,
    space_waiters: AtomicUsize,
    space: Mutex<()>,
    space_cv: Condvar,
    /// The flusher is asleep (or about to be) on `idle_cv`.
    sleeping: AtomicBool,
    idle: Mutex<()>,
    idle_cv: Condvar,
    /// `close` was called: no new records, drain and exit.
    pub(crate) closed: AtomicBool,
    /// `close` timed out: fail what is left and exit now.
    pub(crate) force: AtomicBool,
    exited: Mutex<bool>,
    exited_cv: Condvar,
}

impl Accumulator {
    pub(crate) fn new(log: Log, batch_size: usize, buffer_limit: usize, max_block_ms: u64) -> Self {
        Self {
            log,
            topics: ConcurrentMap::new(),
            topic_list: Mutex::new(Vec::new()),
            batch_size,
            buffer_limit,
            max_block: Duration::from_millis(max_block_ms),
            buffer_used: crossbeam::utils::CachePadded::new(AtomicUsize::new(0)),
            space_waiters: AtomicUsize::new(0),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
            sleeping: AtomicBool::new(false),
            idle: Mutex::new(()),
            idle_cv: Condvar::new(),
            closed: AtomicBool::new(false),
            force: AtomicBool::new(false),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
        }
    }

    /// The queues of `name`, made on first use (the log must have the topic).
    fn topic(&self, name: &String) -> Result<Arc<TopicQueues>, LogError> {
        if let Some(topic) = self.topics.get(name) {
            return Ok(topic);
        }
        let count = self.log.partition_count(name)?;
        let handles = (0..count)
            .map(|p| self.log.partition(name, p))
            .collect::<Result<Vec<_>, _>>()?;
        let made = Arc::new(TopicQueues {
            name: std::sync::Arc::from(name.as_str()),
            queues: (0..count).map(|_| SegQueue::new()).collect(),
            handles: handles.into_boxed_slice(),
            sticky_bytes: AtomicU64::new(0),
        });
        let mut list = self.topic_list.lock();
        if self
            .topics
            .insert_if_absent(name.clone(), Arc::clone(&made))
        {
            list.push(Arc::clone(&made));
            return Ok(made);
        }
        drop(list);
        Ok(self.topics.get(name).unwrap_or(made))
    }

    /// Topics known so far (slow path: the flusher's discovery, `flush`).
    pub(crate) fn topics_from(&self, known: usize) -> Vec<Arc<TopicQueues>> {
        self.topic_list
            .lock()
            .get(known..)
            .unwrap_or_default()
            .to_vec()
    }

    /// This producer's identity for callback detection (`delivery::in_callback_of`).
    pub(crate) fn owner(&self) -> usize {
        self as *const Self as usize
    }

    /// The queues of topic `name` (made on first use): what a
    /// [`TopicHandle`](super::TopicHandle) caches.
    pub(crate) fn resolve(&self, name: &String) -> Result<Arc<TopicQueues>, ProducerError> {
        Ok(self.topic(name)?)
    }

    /// Queues a record. On an error the completer is disarmed (its callback
    /// dropped uncalled): the error is returned to the caller instead.
    pub(crate) fn append(
        &self,
        topic: &String,
        partition: Option<u32>,
        key: Option<Bytes>,
        value: Bytes,
        now_ms: i64,
        completer: Completer,
    ) -> Result<(), ProducerError> {
        match self.topic(topic) {
            Ok(topic) => self.append_to(&topic, partition, key, value, now_ms, completer),
            Err(error) => {
                completer.disarm();
                Err(error.into())
            }
        }
    }

    /// [`Accumulator::append`] with the topic already resolved.
    pub(crate) fn append_to(
        &self,
        topic: &TopicQueues,
        partition: Option<u32>,
        key: Option<Bytes>,
        value: Bytes,
        now_ms: i64,
        completer: Completer,
    ) -> Result<(), ProducerError> {
        match self.place(topic, partition, key.as_ref(), &value) {
            Ok((partition, size)) => {
                let item = Item::Record(Pending {
                    record: Record { key, value },
                    size,
                    enqueued_ms: now_ms,
                    completer,
                });
                self.push(&topic.queues[partition as usize], item);
                Ok(())
            }
            Err(error) => {
                completer.disarm();
                Err(error)
            }
        }
    }

    /// Chooses the partition and reserves buffer space: (partition, size).
    fn place(
        &self,
        topic: &TopicQueues,
        partition: Option<u32>,
        key: Option<&Bytes>,
        value: &Bytes,
    ) -> Result<(u32, usize), ProducerError> {
        let partitions = topic.queues.len() as u32;
        let size = key.map_or(0, Bytes::len) + value.len() + RECORD_OVERHEAD;
        let partition = match (partition, key) {
            (Some(p), _) if p < partitions => p,
            (Some(p), _) => {
                return Err(ProducerError::Log(LogError::UnknownPartition {
                    topic: topic.name.to_string(),
                    partition: p,
                    partitions,
                }))
            }
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => {
                // Relaxed: only spreads keyless records; publishes nothing.
                let before = topic.sticky_bytes.fetch_add(size as u64, Ordering::Relaxed);
                sticky_partition(before, self.batch_size, partitions)
            }
        };
        self.reserve(size)?;
        Ok((partition, size))
    }

    /// Pushes an item and runs the sender's side of the hand-off protocol.
    fn push(&self, queue: &SegQueue<Item>, item: Item) {
        queue.push(item);
        // SeqCst fence: pairs with the flusher's fence in `sleep` (after it sets
        // `sleeping`) and in its loop (after it reads `closed`): either we see
        // their flag or they see our push.
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.sweep(queue);
        }
        self.wake();
    }

    /// Wakes the flusher if it sleeps (free when it does not).
    pub(crate) fn wake(&self) {
        // Relaxed check, then the swap: ordered after our push by the SeqCst
        // fence in `push` (or in `close`/`flush`), paired with `sleep`'s fence.
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::SeqCst) {
            // Taking the mutex: the flusher holds it from setting `sleeping`
            // until it waits, so the notification cannot be lost.
            let _idle = self.idle.lock();
            self.idle_cv.notify_one();
        }
    }

    /// The flusher sleeps up to `timeout` unless something is queued, `close`
    /// was called (and `closing_known` is false) or a forced close is pending:
    /// the flusher's side of the hand-off protocol.
    pub(crate) fn sleep(&self, timeout: Duration, closing_known: bool) {
        let idle = self.idle.lock();
        // Relaxed store: ordered before the checks below by the fence.
        self.sleeping.store(true, Ordering::Relaxed);
        // SeqCst fence: pairs with the fence in `push` and in `close`/`force_close`.
        fence(Ordering::SeqCst);
        let stop = self.force.load(Ordering::SeqCst)
            || (!closing_known && self.closed.load(Ordering::SeqCst));
        if stop || self.anything_queued() {
            self.sleeping.store(false, Ordering::Relaxed);
            return;
        }
        let _idle = self.idle_cv.wait_timeout(idle, timeout);
        // Relaxed: a stale `true` only costs a sender one needless notify.
        self.sleeping.store(false, Ordering::Relaxed);
    }

    fn anything_queued(&self) -> bool {
        self.topic_list
            .lock()
            .iter()
            .any(|topic| topic.queues.iter().any(|queue| !queue.is_empty()))
    }

    /// Fails everything in `queue` after close (a late sender's sweep).
    fn sweep(&self, queue: &SegQueue<Item>) {
        while let Some(item) = queue.pop() {
            match item {
                Item::Record(pending) => {
                    self.release(pending.size);
                    pending.completer.complete(Err(ProducerError::Closed));
                }
                Item::Marker(waiter) => waiter.fire(),
            }
        }
    }

    /// `flush()`: a marker behind every queued record, then wait for them all.
    pub(crate) fn flush(&self) {
        let topics = self.topics_from(0);
        let partitions = topics.iter().map(|topic| topic.queues.len()).sum();
        let waiter = Arc::new(FlushWaiter::new(partitions));
        for topic in &topics {
            for queue in topic.queues.iter() {
                self.push(queue, Item::Marker(Arc::clone(&waiter)));
            }
        }
        waiter.wait();
    }

    /// Reserves `size` bytes of `buffer.memory`, blocking up to `max.block.ms`.
    fn reserve(&self, size: usize) -> Result<(), ProducerError> {
        if size > self.buffer_limit {
            return Err(ProducerError::RecordTooLarge {
                size,
                limit: self.buffer_limit,
            });
        }
        if self.try_reserve(size) {
            return Ok(());
        }
        // From a delivery callback (the flusher thread) nothing can free space
        // while we wait: fail at once instead of stalling the flusher.
        let max_block = if delivery::in_callback_of(self.owner()) {
            Duration::ZERO
        } else {
            self.max_block
        };
        // `None`: a max.block.ms beyond the clock's range blocks without limit.
        let deadline = Instant::now().checked_add(max_block);
        // SeqCst: pairs with the fence in `release` (Dekker): either the
        // releaser sees us waiting or our re-check sees its space.
        self.space_waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut guard = self.space.lock();
        let outcome = loop {
            if self.try_reserve(size) {
                break Ok(());
            }
            // SeqCst: pairs with the store + fence in `close`.
            if self.closed.load(Ordering::SeqCst) {
                break Err(ProducerError::Closed);
            }
            let left = deadline.map_or(Duration::from_secs(1), |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                break Err(ProducerError::BufferExhausted {
                    max_block_ms: max_block.as_millis() as u64,
                });
            }
            guard = self.space_cv.wait_timeout(guard, left);
        };
        drop(guard);
        // Relaxed: only `release` reads it, to skip a needless notify.
        self.space_waiters.fetch_sub(1, Ordering::Relaxed);
        outcome
    }

    fn try_reserve(&self, size: usize) -> bool {
        // Relaxed: the counter is pure accounting and guards no data; the
        // blocking path orders it against `release` with SeqCst fences.
        let mut used = self.buffer_used.load(Ordering::Relaxed);
        loop {
            if used + size > self.buffer_limit {
                return false;
            }
            match self.buffer_used.compare_exchange_weak(
                used,
                used + size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => used = actual,
            }
        }
    }

    /// Gives `size` bytes back (a record completed).
    pub(crate) fn release(&self, size: usize) {
        // Relaxed RMW, then a SeqCst fence: pairs with the fence in `reserve`.
        self.buffer_used.fetch_sub(size, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.space_waiters.load(Ordering::Relaxed) > 0 {
            let _space = self.space.lock();
            self.space_cv.notify_all();
        }
    }

    /// `close`: stop accepting records and let the flusher drain.
    pub(crate) fn close(&self) {
        // SeqCst: pairs with the loads in `push` and in the flusher's loop.
        self.closed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.wake();
        // Wake senders blocked on buffer space so they see `closed`.
        let _space = self.space.lock();
        self.space_cv.notify_all();
    }

    /// `close` timed out: the flusher fails what is left and exits.
    pub(crate) fn force_close(&self) {
        // SeqCst: pairs with the loads in the flusher's loop and in `sleep`.
        self.force.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.wake();
    }

    /// The flusher thread is unwinding from a panic (a bug): act as closed, fail
    /// what is queued, and let `close` return. The flusher's own batches fail
    /// with `Closed` as their completers are dropped.
    pub(crate) fn flusher_died(&self) {
        // SeqCst: as in `close` (pairs with the loads in `push`): a sender that
        // misses it pushed before our sweep below, one that sees it sweeps itself.
        self.closed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        for topic in self.topics_from(0) {
            for queue in topic.queues.iter() {
                self.sweep(queue);
            }
        }
        let _space = self.space.lock();
        self.space_cv.notify_all();
    }

    /// The flusher has exited.
    pub(crate) fn set_exited(&self) {
        *self.exited.lock() = true;
        self.exited_cv.notify_all();
    }

    /// Waits up to `timeout` for the flusher to exit; true if it did.
    /// A timeout beyond the clock's range (e.g. `Duration::MAX`) waits without limit.
    pub(crate) fn wait_exited(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut exited = self.exited.lock();
        while !*exited {
            let left = deadline.map_or(Duration::from_secs(1), |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return false;
            }
            exited = self.exited_cv.wait_timeout(exited, left);
        }
        true
    }
}
