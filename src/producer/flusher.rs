//! The flusher: the producer's one I/O thread (Kafka's `Sender`).
//!
//! Per partition it keeps an *open* batch (filling), *ready* batches (closed,
//! not yet sent, no sequence) and the *chain*: batches sent and not yet
//! completed, in sequence order, at most `max.in.flight` of them. Each chain
//! batch is either awaiting the response of its latest attempt, or idle (to be
//! re-sent after its backoff), remembering what its last attempt learned: it was
//! rejected (OutOfOrderSequence: certainly not written) or nothing (timed out:
//! unknown).
//!
//! Rules (the contract, `crate::contract`, following Kafka's `Sender`/`TransactionManager`):
//! - A sequence is stamped when a batch first leaves (drain time) and reused by
//!   every retry in the same epoch.
//! - Re-sends go out in chain order and never overtake an older request still
//!   awaiting its response, so a rejected batch waits for the lost one before it.
//!   New batches wait while any chain batch is idle.
//! - OutOfOrderSequence for a batch behind a failed one: plain retry. For the
//!   first chain batch (the next one the log should expect), or a batch that
//!   failed after being sent (delivery timeout, retries exhausted, non-retriable
//!   error), the partition's sequence is *unresolved*: once nothing of the
//!   partition is awaiting a response and the first chain batch is known not
//!   written, the epoch is bumped (a new pid from the log after epoch 32767) and
//!   the chain is re-sequenced from 0 under it. A later batch acknowledged first
//!   resolves it instead (the failed batch was written after all). Other
//!   partitions move to the new epoch lazily, when they next start from an
//!   empty chain.
//! - The link is FIFO like a TCP connection (a delayed request holds back the
//!   ones behind it), so an answer tells us that every earlier request arrived.
//!
//! Time comes from the producer's [`TimeSource`]: in virtual time the flusher
//! jumps the clock to its next network deadline whenever it has nothing else to
//! do, so a lost response costs no real time.

use std::collections::VecDeque;
use std::time::Duration;

use super::accumulator::{Accumulator, FlushWaiter, Item, Pending, TopicQueues};
use super::config::{Acks, ProducerConfig};
use super::delivery::{Completer, RecordMetadata};
use super::error::ProducerError;
use super::link::{Link, Request, Response, Token};
use super::metrics::Metrics;
use super::time::TimeSource;
use crate::error::LogError;
use crate::log::{AppendOutcome, Log};
use crate::record::Record;
use crate::sync::{fence, Arc, Ordering};
use crate::types::{BatchHeader, ProducerIdentity, MAX_EPOCH};

/// Items taken from one partition queue per loop, so sending keeps up.
const DRAIN_LIMIT: usize = 4096;
/// Longest idle sleep when no deadline is pending.
const IDLE_SLEEP: Duration = Duration::from_millis(100);
/// Idle sleep in virtual time while only linger is pending (lets a test that
/// advances the clock itself be noticed).
const VIRTUAL_POLL: Duration = Duration::from_millis(2);

/// What the last attempt of an idle chain batch learned.
#[derive(Debug)]
enum Last {
    /// Re-sequenced after an epoch bump, not sent under it yet.
    NeverSent,
    /// The log rejected it with a sequence/epoch error: certainly not written.
    Rejected(LogError),
    /// No response in time: maybe written.
    Unknown,
}

#[derive(Debug)]
enum State {
    Awaiting {
        attempt: u32,
        deadline: i64,
    },
    Idle {
        not_before: i64,
        last: Last,
    },
    /// Completed while an earlier batch is not: kept as a placeholder so the
    /// in-flight bound counts from the oldest unacknowledged batch (which keeps
    /// that batch inside the log's dedup window).
    Acked,
}

struct Batch {
    id: u64,
    /// Creation order within the partition.
    ordinal: u64,
    records: Vec<Record>,
    completers: Vec<Completer>,
    bytes: usize,
    /// When its oldest record was sent (linger and delivery timeout count from it).
    created_ms: i64,
    header: Option<BatchHeader>,
    attempts: u32,
    state: State,
}

impl Batch {
    fn len(&self) -> u64 {
        self.records.len() as u64
    }
}

struct Slot {
    topic: Arc<TopicQueues>,
    index: u32,
    open: Option<Batch>,
    ready: VecDeque<Batch>,
    chain: VecDeque<Batch>,
    /// flush() markers: fire once every batch with a lower ordinal completed.
    markers: Vec<(u64, Arc<FlushWaiter>)>,
    /// The (pid, epoch) this partition's sequences belong to.
    view: Option<ProducerIdentity>,
    next_seq: i32,
    /// Ordinal of a batch whose failure left the sequence unresolved.
    unresolved: Option<u64>,
    /// The log acknowledged a batch under `view`. Until then one batch at a
    /// time: a log with no state for the pid accepts any sequence (KIP-360), so
    /// a second batch overtaking a lost first one would be accepted with a gap.
    confirmed: bool,
    next_ordinal: u64,
}

impl Slot {
    fn close_open(&mut self) {
        if let Some(batch) = self.open.take() {
            self.ready.push_back(batch);
        }
    }

    /// The lowest ordinal not yet completed (u64::MAX if none).
    fn min_incomplete(&self) -> u64 {
        self.chain
            .front()
            .or(self.ready.front())
            .or(self.open.as_ref())
            .map_or(u64::MAX, |batch| batch.ordinal)
    }

    /// Drops completed placeholders from the front of the chain.
    fn pop_acked(&mut self) {
        while self
            .chain
            .front()
            .is_some_and(|batch| matches!(batch.state, State::Acked))
        {
            self.chain.pop_front();
        }
    }

    fn awaiting(&self) -> bool {
        self.chain
            .iter()
            .any(|batch| matches!(batch.state, State::Awaiting { .. }))
    }

    /// An unresolved sequence can be reset: nothing is awaiting a response and
    /// the first chain batch (if any) is known not written under this epoch.
    fn bump_ready(&self) -> bool {
        self.unresolved.is_some()
            && !self.awaiting()
            && !self.chain.front().is_some_and(|batch| {
                matches!(
                    batch.state,
                    State::Idle {
                        last: Last::Unknown,
                        ..
                    }
                )
            })
    }

    fn mark_unresolved(&mut self, ordinal: u64) {
        self.unresolved = Some(self.unresolved.map_or(ordinal, |o| o.max(ordinal)));
    }

    fn is_empty(&self) -> bool {
        self.open.is_none() && self.ready.is_empty() && self.chain.is_empty()
    }
}

/// The settings the flusher uses, in its own units.
struct Settings {
    acks: Acks,
    idempotent: bool,
    retries: u32,
    max_in_flight: usize,
    request_timeout: i64,
    delivery_timeout: i64,
    linger: i64,
    batch_size: usize,
    backoff: i64,
    max_records: usize,
}

/// Completes batches: the handles, the buffer bytes, the counters.
struct Completion<'a> {
    acc: &'a Accumulator,
    metrics: &'a Metrics,
}

impl Completion<'_> {
    fn succeed(&self, partition: u32, batch: Batch, outcome: Option<AppendOutcome>) {
        let n = batch.len();
        Metrics::add(&self.metrics.acked, n);
        if outcome.is_some_and(|o| o.duplicate) {
            Metrics::add(&self.metrics.duplicates, n);
        }
        self.acc.release(batch.bytes);
        for (i, completer) in batch.completers.into_iter().enumerate() {
            completer.complete(Ok(RecordMetadata {
                partition,
                offset: outcome.map(|o| o.base_offset + i as u64),
                timestamp_ms: outcome.map(|o| o.timestamp_ms),
                duplicate: outcome.is_some_and(|o| o.duplicate),
            }));
        }
    }

    fn fail(&self, batch: Batch, error: &ProducerError) {
        Metrics::add(&self.metrics.failed, batch.len());
        self.acc.release(batch.bytes);
        for completer in batch.completers {
            completer.complete(Err(error.clone()));
        }
    }

    fn fail_item(&self, item: Item) {
        match item {
            Item::Record(pending) => {
                Metrics::add(&self.metrics.failed, 1);
                self.acc.release(pending.size);
                pending.completer.complete(Err(ProducerError::Closed));
            }
            Item::Marker(waiter) => waiter.fire(),
        }
    }
}

/// The flusher thread's state.
pub(crate) struct Flusher {
    acc: Arc<Accumulator>,
    metrics: Arc<Metrics>,
    time: TimeSource,
    log: Log,
    link: Link,
    s: Settings,
    slots: Vec<Slot>,
    known_topics: usize,
    /// The producer's current (pid, epoch); `None` without idempotence.
    identity: Option<ProducerIdentity>,
    next_batch_id: u64,
    /// The most requests the link held at once (mirrored in the metrics).
    link_queue_peak: u64,
}

impl Flusher {
    pub(crate) fn new(
        log: &Log,
        config: &ProducerConfig,
        identity: Option<ProducerIdentity>,
        acc: Arc<Accumulator>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            acc,
            metrics,
            time: config.time.clone(),
            log: log.clone(),
            link: Link::new(config.link.clone(), ms(config.request_timeout_ms)),
            s: Settings {
                acks: config.acks,
                idempotent: config.is_idempotent(),
                retries: config.retries,
                max_in_flight: config.max_in_flight as usize,
                request_timeout: ms(config.request_timeout_ms),
                delivery_timeout: ms(config.delivery_timeout_ms),
                linger: ms(config.linger_ms),
                batch_size: config.batch_size,
                backoff: ms(config.retry_backoff_ms),
                max_records: log.config().max_batch_len(),
            },
            slots: Vec::new(),
            known_topics: 0,
            identity,
            next_batch_id: 0,
            link_queue_peak: 0,
        }
    }

    fn completion(&self) -> Completion<'_> {
        Completion {
            acc: &self.acc,
            metrics: &self.metrics,
        }
    }

    /// The thread body: runs until `close` drained everything (or forced).
    pub(crate) fn run(mut self) {
        loop {
            // SeqCst load, then a SeqCst fence before the drain: pairs with the
            // store in `Accumulator::close` and the fence in `Accumulator::push`,
            // so a sender that missed `closed` pushed before our drain.
            let closing = self.acc.closed.load(Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // SeqCst: pairs with the store in `Producer::close` (then `wake`).
            if self.acc.force.load(Ordering::SeqCst) {
                break;
            }
            self.discover();
            let now = self.time.now_ms();
            let mut progress = self.drain();
            for response in self.link.poll(now) {
                progress = true;
                self.on_response(now, response);
            }
            progress |= self.expire(now);
            for slot in 0..self.slots.len() {
                progress |= self.ship(slot, now, closing);
            }
            self.fire_markers();
            let awaiting = self
                .slots
                .iter()
                .flat_map(|slot| slot.chain.iter())
                .filter(|batch| matches!(batch.state, State::Awaiting { .. }))
                .count();
            Metrics::set(&self.metrics.in_flight, awaiting as u64);
            let queued = self.link.queue_len() as u64;
            Metrics::set(&self.metrics.link_queue, queued);
            if queued > self.link_queue_peak {
                self.link_queue_peak = queued;
                Metrics::set(&self.metrics.link_queue_peak, queued);
            }
            if !progress {
                if closing && self.slots.iter().all(Slot::is_empty) {
                    break;
                }
                self.idle(now, closing);
            }
        }
        self.abort_all();
        self.acc.set_exited();
    }

    /// Picks up topics the senders started using.
    fn discover(&mut self) {
        for topic in self.acc.topics_from(self.known_topics) {
            self.known_topics += 1;
            for index in 0..topic.queues.len() as u32 {
                self.slots.push(Slot {
                    topic: Arc::clone(&topic),
                    index,
                    open: None,
                    ready: VecDeque::new(),
                    chain: VecDeque::new(),
                    markers: Vec::new(),
                    view: None,
                    next_seq: 0,
                    unresolved: None,
                    confirmed: false,
                    next_ordinal: 0,
                });
            }
        }
    }

    /// Moves queued records into open batches; registers flush markers.
    fn drain(&mut self) -> bool {
        let mut progress = false;
        for slot in 0..self.slots.len() {
            // Once per slot, not per record: `add` borrows the slots mutably.
            let topic = Arc::clone(&self.slots[slot].topic);
            let queue = &topic.queues[self.slots[slot].index as usize];
            for _ in 0..DRAIN_LIMIT {
                let Some(item) = queue.pop() else {
                    break;
                };
                progress = true;
                match item {
                    Item::Record(pending) => self.add(slot, pending),
                    Item::Marker(waiter) => {
                        let slot = &mut self.slots[slot];
                        slot.close_open();
                        slot.markers.push((slot.next_ordinal, waiter));
                    }
                }
            }
        }
        progress
    }

    fn add(&mut self, slot: usize, pending: Pending) {
        let (batch_size, max_records) = (self.s.batch_size, self.s.max_records);
        let slot = &mut self.slots[slot];
        if slot.open.as_ref().is_some_and(|open| {
            open.records.len() >= max_records || open.bytes + pending.size > batch_size
        }) {
            slot.close_open();
        }
        let open = slot.open.get_or_insert_with(|| {
            // Room for a full batch of records like this one (bounded), so
            // filling it does not reallocate.
            let expected = (batch_size / pending.size.max(1)).clamp(1, 1024);
            let expected = expected.min(max_records.max(1));
            let batch = Batch {
                id: self.next_batch_id,
                ordinal: slot.next_ordinal,
                records: Vec::with_capacity(expected),
                completers: Vec::with_capacity(expected),
                bytes: 0,
                created_ms: pending.enqueued_ms,
                header: None,
                attempts: 0,
                state: State::Idle {
                    not_before: 0,
                    last: Last::NeverSent,
                },
            };
            self.next_batch_id += 1;
            slot.next_ordinal += 1;
            batch
        });
        open.records.push(pending.record);
        open.completers.push(pending.completer);
        open.bytes += pending.size;
        if open.bytes >= batch_size || open.records.len() >= max_records {
            slot.close_open();
        }
    }

    /// Sends chain batch `pos` of `slot` (a first attempt or a retry).
    fn transmit(&mut self, slot: usize, pos: usize, now: i64) {
        let partition = {
            let slot = &self.slots[slot];
            slot.topic.handles[slot.index as usize].clone()
        };
        let batch = &mut self.slots[slot].chain[pos];
        let counter = if batch.attempts == 0 {
            &self.metrics.sent
        } else {
            &self.metrics.retries
        };
        Metrics::add(counter, batch.len());
        batch.attempts += 1;
        batch.state = State::Awaiting {
            attempt: batch.attempts,
            deadline: now.saturating_add(self.s.request_timeout),
        };
        let request = Request {
            token: Token {
                slot,
                batch: batch.id,
                attempt: batch.attempts,
            },
            partition,
            header: batch.header,
            records: batch.records.clone(),
        };
        self.link.send(now, request);
    }

    /// Closes due batches, resolves sequences, sends what may go.
    fn ship(&mut self, slot_index: usize, now: i64, closing: bool) -> bool {
        let mut progress = false;
        let linger = self.s.linger;
        let slot = &mut self.slots[slot_index];
        if slot
            .open
            .as_ref()
            .is_some_and(|open| closing || now >= open.created_ms.saturating_add(linger))
        {
            slot.close_open();
            progress = true;
        }
        if self.s.acks == Acks::None {
            return self.fire_and_forget(slot_index, now) || progress;
        }
        if self.s.idempotent && self.slots[slot_index].bump_ready() {
            self.bump(slot_index, now);
            progress = true;
        }
        // Re-sends, in chain order, never past an older request still awaited.
        let mut pos = 0;
        while pos < self.slots[slot_index].chain.len() {
            let slot = &self.slots[slot_index];
            match &slot.chain[pos].state {
                State::Acked => {
                    pos += 1;
                    continue;
                }
                State::Awaiting { .. } => break,
                State::Idle { not_before, last } => {
                    let blocked = (slot.unresolved.is_some() && matches!(last, Last::Rejected(_)))
                        || (self.s.idempotent && !slot.confirmed && pos > 0);
                    if *not_before > now || blocked {
                        break;
                    }
                }
            }
            self.transmit(slot_index, pos, now);
            progress = true;
            pos += 1;
        }
        // New batches, while nothing waits for a re-send.
        let slot = &self.slots[slot_index];
        if slot.unresolved.is_some()
            || slot
                .chain
                .iter()
                .any(|batch| matches!(batch.state, State::Idle { .. }))
        {
            return progress;
        }
        loop {
            let identity = self.identity;
            let slot = &mut self.slots[slot_index];
            let limit = if self.s.idempotent && !slot.confirmed {
                1
            } else {
                self.s.max_in_flight
            };
            if slot.chain.len() >= limit {
                break;
            }
            let Some(mut batch) = slot.ready.pop_front() else {
                break;
            };
            if let (true, Some(identity)) = (self.s.idempotent, identity) {
                if slot.chain.is_empty() && slot.view != Some(identity) {
                    slot.view = Some(identity);
                    slot.next_seq = 0;
                    slot.confirmed = false;
                }
                batch.header = Some(stamp(identity, &mut slot.next_seq, batch.len()));
            }
            slot.chain.push_back(batch);
            let pos = slot.chain.len() - 1;
            self.transmit(slot_index, pos, now);
            progress = true;
        }
        progress
    }

    /// `acks=0`: send and report success at once, offset unknown.
    fn fire_and_forget(&mut self, slot_index: usize, now: i64) -> bool {
        let mut progress = false;
        while let Some(batch) = self.slots[slot_index].ready.pop_front() {
            progress = true;
            let slot = &mut self.slots[slot_index];
            slot.chain.push_back(batch);
            self.transmit(slot_index, 0, now);
            let slot = &mut self.slots[slot_index];
            if let Some(batch) = slot.chain.pop_front() {
                let partition = slot.index;
                self.completion().succeed(partition, batch, None);
            }
        }
        // Answers to acks=0 requests find no batch in `on_response`: ignored.
        progress
    }

    /// Bumps the epoch (or renews the pid) and re-sequences the partition's chain.
    fn bump(&mut self, slot_index: usize, now: i64) {
        let Some(mut current) = self.identity else {
            return;
        };
        if self.slots[slot_index].view == Some(current) {
            current = if current.epoch >= MAX_EPOCH {
                self.link.forget_producer(current.producer_id);
                self.log.init_producer_id()
            } else {
                ProducerIdentity {
                    producer_id: current.producer_id,
                    epoch: current.epoch + 1,
                }
            };
            self.identity = Some(current);
            Metrics::add(&self.metrics.epoch_bumps, 1);
        }
        let slot = &mut self.slots[slot_index];
        slot.view = Some(current);
        slot.next_seq = 0;
        slot.unresolved = None;
        slot.confirmed = false;
        let mut chain = std::mem::take(&mut slot.chain);
        chain.retain(|batch| !matches!(batch.state, State::Acked));
        for batch in chain.iter_mut() {
            batch.header = Some(stamp(current, &mut slot.next_seq, batch.len()));
            batch.state = State::Idle {
                not_before: now,
                last: Last::NeverSent,
            };
        }
        slot.chain = chain;
    }

    fn on_response(&mut self, now: i64, response: Response) {
        let token = response.token;
        let Some(slot) = self.slots.get_mut(token.slot) else {
            return;
        };
        let Some(pos) = slot.chain.iter().position(|batch| batch.id == token.batch) else {
            return; // completed or expired meanwhile
        };
        if !matches!(slot.chain[pos].state, State::Awaiting { attempt, .. } if attempt == token.attempt)
        {
            return; // an answer to an attempt we gave up on
        }
        match response.result {
            Ok(outcome) => {
                let placeholder = Batch {
                    id: token.batch,
                    ordinal: slot.chain[pos].ordinal,
                    records: Vec::new(),
                    completers: Vec::new(),
                    bytes: 0,
                    created_ms: slot.chain[pos].created_ms,
                    header: None,
                    attempts: 0,
                    state: State::Acked,
                };
                let batch = std::mem::replace(&mut slot.chain[pos], placeholder);
                slot.pop_acked();
                slot.confirmed = true;
                if slot.unresolved.is_some_and(|o| batch.ordinal > o) {
                    slot.unresolved = None; // the failed batch was written after all
                }
                let partition = slot.index;
                self.completion().succeed(partition, batch, Some(outcome));
            }
            Err(error) if self.s.idempotent && error.is_sequence_error() => {
                let first = pos == 0;
                let fenced = matches!(error, LogError::InvalidProducerEpoch { .. });
                if fenced || (first && slot.unresolved.is_none()) {
                    // The log expects something else from this epoch: reset it.
                    let ordinal = slot.chain[pos].ordinal;
                    slot.mark_unresolved(ordinal);
                }
                self.attempt_failed(token.slot, pos, now, Last::Rejected(error));
            }
            Err(error) => {
                let Some(batch) = slot.chain.remove(pos) else {
                    return;
                };
                slot.pop_acked();
                if self.s.idempotent {
                    slot.mark_unresolved(batch.ordinal);
                }
                self.completion().fail(batch, &ProducerError::Log(error));
            }
        }
    }

    /// The latest attempt of chain batch `pos` failed: retry later, or fail it
    /// when the retries ran out. Returns true if the batch was removed.
    fn attempt_failed(&mut self, slot_index: usize, pos: usize, now: i64, last: Last) -> bool {
        let slot = &mut self.slots[slot_index];
        if slot.chain[pos].attempts <= self.s.retries {
            slot.chain[pos].state = State::Idle {
                not_before: now.saturating_add(self.s.backoff),
                last,
            };
            return false;
        }
        let Some(batch) = slot.chain.remove(pos) else {
            return false;
        };
        slot.pop_acked();
        if self.s.idempotent {
            slot.mark_unresolved(batch.ordinal);
        }
        let error = match last {
            Last::Rejected(error) => ProducerError::Log(error),
            Last::Unknown | Last::NeverSent => ProducerError::RequestTimeout {
                timeout_ms: self.s.request_timeout as u64,
            },
        };
        self.completion().fail(batch, &error);
        true
    }

    /// Request timeouts and delivery timeouts.
    fn expire(&mut self, now: i64) -> bool {
        let mut progress = false;
        let delivery = self.s.delivery_timeout;
        let timed_out = ProducerError::DeliveryTimeout {
            timeout_ms: delivery as u64,
        };
        for slot_index in 0..self.slots.len() {
            let mut pos = 0;
            while pos < self.slots[slot_index].chain.len() {
                let batch = &self.slots[slot_index].chain[pos];
                if matches!(batch.state, State::Awaiting { deadline, .. } if deadline <= now) {
                    progress = true;
                    if self.attempt_failed(slot_index, pos, now, Last::Unknown) {
                        continue;
                    }
                }
                pos += 1;
            }
            let expired = |batch: &Batch| batch.created_ms.saturating_add(delivery) <= now;
            let slot = &mut self.slots[slot_index];
            let mut dead = Vec::new();
            if slot.open.as_ref().is_some_and(expired) {
                dead.extend(slot.open.take());
            }
            while slot.ready.front().is_some_and(expired) {
                dead.extend(slot.ready.pop_front());
            }
            let mut pos = 0;
            while pos < slot.chain.len() {
                let placeholder = matches!(slot.chain[pos].state, State::Acked);
                if !placeholder && expired(&slot.chain[pos]) {
                    if let Some(batch) = slot.chain.remove(pos) {
                        if self.s.idempotent {
                            slot.mark_unresolved(batch.ordinal);
                        }
                        dead.push(batch);
                    }
                } else {
                    pos += 1;
                }
            }
            slot.pop_acked();
            progress |= !dead.is_empty();
            for batch in dead {
                self.completion().fail(batch, &timed_out);
            }
        }
        progress
    }

    fn fire_markers(&mut self) {
        for slot in &mut self.slots {
            let done = slot.min_incomplete();
            slot.markers.retain(|(ordinal, waiter)| {
                let fire = *ordinal <= done;
                if fire {
                    waiter.fire();
                }
                !fire
            });
        }
    }

    /// Nothing to do now: sleep, or in virtual time jump to the next deadline.
    fn idle(&self, now: i64, closing: bool) {
        let later = |t: i64| (t > now).then_some(t);
        let mut network = self.link.next_arrival().and_then(later);
        let mut timer: Option<i64> = None;
        for slot in &self.slots {
            for batch in &slot.chain {
                let t = match batch.state {
                    State::Awaiting { deadline, .. } => deadline,
                    State::Idle { not_before, .. } => not_before,
                    State::Acked => continue,
                };
                network = min_opt(network, later(t));
            }
            if let Some(open) = &slot.open {
                timer = min_opt(timer, later(open.created_ms.saturating_add(self.s.linger)));
            }
            let oldest = slot
                .chain
                .front()
                .into_iter()
                .chain(slot.ready.front())
                .chain(slot.open.as_ref())
                .map(|batch| batch.created_ms)
                .min();
            if let Some(created) = oldest {
                timer = min_opt(
                    timer,
                    later(created.saturating_add(self.s.delivery_timeout)),
                );
            }
        }
        let next = min_opt(network, timer);
        // Virtual time: jump to the next network deadline only when no batch
        // lingers. A lingering batch closes when full, on flush/close, or when
        // the clock is moved from outside, so every first attempt of records
        // sent before a flush goes out before any timeout fires, whatever the
        // thread timing (scripted tests are exact).
        let lingering = self.slots.iter().any(|slot| slot.open.is_some());
        if network.is_some() && !lingering && self.time.jump_to(next.unwrap_or(now)) {
            return;
        }
        let timeout = match (&self.time, next) {
            (TimeSource::Virtual(_), Some(_)) => VIRTUAL_POLL,
            (TimeSource::Real(_), Some(t)) => {
                Duration::from_millis(u64::try_from(t - now).unwrap_or(0)).min(IDLE_SLEEP)
            }
            (_, None) => IDLE_SLEEP,
        };
        self.acc.sleep(timeout, closing);
    }

    /// Fails everything left (forced close), including late queue items and
    /// the queues of topics the loop had not discovered yet (without this, a
    /// forced close right after the first send to a topic left its records,
    /// and their handles, pending until the producer was dropped).
    fn abort_all(&mut self) {
        self.discover();
        let completion = Completion {
            acc: &self.acc,
            metrics: &self.metrics,
        };
        for slot in &mut self.slots {
            while let Some(item) = slot.topic.queues[slot.index as usize].pop() {
                completion.fail_item(item);
            }
            let batches = slot
                .open
                .take()
                .into_iter()
                .chain(slot.ready.drain(..))
                .chain(slot.chain.drain(..));
            for batch in batches {
                completion.fail(batch, &ProducerError::Closed);
            }
            for (_, waiter) in slot.markers.drain(..) {
                waiter.fire();
            }
        }
    }
}

/// The header of a batch of `n` records under `view` at `*next_seq`, advancing
/// it (sequences wrap from i32::MAX to 0).
fn stamp(view: ProducerIdentity, next_seq: &mut i32, n: u64) -> BatchHeader {
    let base_sequence = *next_seq;
    *next_seq = ((i64::from(base_sequence) + n as i64) % (i64::from(i32::MAX) + 1)) as i32;
    BatchHeader {
        producer_id: view.producer_id,
        epoch: view.epoch,
        base_sequence,
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
