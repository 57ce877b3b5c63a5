//! The flusher: the producer's one I/O thread (Kafka's `Sender`).
//!
//! Each loop it takes due batches off the partitions' batch chains (sealed by
//! a sender, past `linger.ms`, asked for by a flush, or everything when
//! closing), hears the responses, expires timeouts, and ships what the
//! sequencing rules (sequencer.rs) allow through the broker [`Transport`].
//!
//! Time comes from the producer's [`TimeSource`]: in virtual time the flusher
//! jumps the clock to its next network deadline whenever it has nothing else
//! to do, so a lost response costs no real time.

mod finish;
mod sequencer;

use std::time::Duration;

use super::batch::SealedBatch;
use super::batch_chain::Taken;
use super::broker::{Metadata, Request, Response, Token, Transport};
use super::buffer_pool::BufferPool;
use super::config::{Acks, ProducerConfig};
use super::error::ProducerError;
use super::flusher_signal::FlusherSignal;
use super::metrics::Metrics;
use super::pending_batches::PendingBatches;
use super::time::TimeSource;
use super::topic_table::TopicTable;
use crate::error::LogError;
use crate::sync::{
    fence, wait_until, Arc, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, SegQueue,
};
use crate::types::{ProducerIdentity, MAX_EPOCH};
use finish::Finisher;
use sequencer::{stamp, Finish, InFlight, Last, Slot, State};

/// Longest idle sleep when no deadline is pending.
const IDLE_SLEEP: Duration = Duration::from_millis(100);
/// Idle sleep in virtual time while only linger is pending (lets a test that
/// advances the clock itself be noticed).
const VIRTUAL_POLL: Duration = Duration::from_millis(2);

/// Counts the partitions a `flush()` still waits for.
#[derive(Debug)]
pub(crate) struct FlushWaiter {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
    /// Its `flush()` timed out: no one waits for it any more, and the flusher
    /// drops its markers at the next `flush()` it takes.
    abandoned: AtomicBool,
}

impl FlushWaiter {
    pub(crate) fn new() -> Self {
        Self {
            remaining: AtomicUsize::new(0),
            done: Mutex::new(false),
            cv: Condvar::new(),
            abandoned: AtomicBool::new(false),
        }
    }

    /// Its caller gave up (a timed-out `flush()`).
    pub(crate) fn abandon(&self) {
        // Relaxed: a hint to drop markers; a stale read only keeps one a
        // little longer (firing an abandoned marker is harmless).
        self.abandoned.store(true, Ordering::Relaxed);
    }

    fn is_abandoned(&self) -> bool {
        // Relaxed: see `abandon`.
        self.abandoned.load(Ordering::Relaxed)
    }

    /// The flusher took the marker: it waits for `partitions` partitions.
    fn expect(&self, partitions: usize) {
        // AcqRel: pairs with the fetch_sub in `fire` (the flusher does both).
        self.remaining.fetch_add(partitions + 1, Ordering::AcqRel);
        self.fire();
    }

    /// One partition is complete up to the marker.
    fn fire(&self) {
        // AcqRel: the last fire() to arrive reads the decrements of the others
        // (their fetch_sub), then publishes `done` under the mutex to `wait`.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock() = true;
            self.cv.notify_all();
        }
    }

    /// Waits until the flusher fired the marker for every partition, until
    /// `deadline` (`None`: no limit), or until `gone` (the flusher exited
    /// without taking the marker); true if fired or gone.
    pub(crate) fn wait_until(
        &self,
        deadline: Option<std::time::Instant>,
        gone: impl Fn() -> bool,
    ) -> bool {
        let done = self.done.lock();
        // Polled every 100 ms for `gone` (the flusher's exit is not notified here).
        wait_until(
            &self.cv,
            done,
            deadline,
            Duration::from_millis(100),
            |done| *done || gone(),
        )
    }
}

/// The state a producer shares between its senders and its flusher.
pub(crate) struct Shared {
    pub(crate) owner: u64,
    pub(crate) topics: TopicTable,
    pub(crate) pool: BufferPool,
    pub(crate) signal: FlusherSignal,
    pub(crate) metrics: Metrics,
    /// Batches made and not yet completed (`flush`'s shortcut).
    pub(crate) pending: PendingBatches,
    /// `flush()` calls waiting for the flusher to take them.
    pub(crate) flushes: SegQueue<Arc<FlushWaiter>>,
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
    backoff: i64,
}

/// The flusher thread's state.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    time: TimeSource,
    metadata: std::sync::Arc<dyn Metadata>,
    transport: Box<dyn Transport>,
    s: Settings,
    slots: Vec<Slot>,
    known_topics: usize,
    /// The producer's current (pid, epoch); `None` without idempotence.
    identity: Option<ProducerIdentity>,
    next_batch_id: u64,
    heard: Vec<Response>,
    /// A due batch still had records being written: loop again soon.
    unfinished: bool,
    /// The most requests in transit at once (mirrored in the metrics).
    link_queue_peak: u64,
}

impl Flusher {
    pub(crate) fn new(
        shared: Arc<Shared>,
        config: &ProducerConfig,
        metadata: std::sync::Arc<dyn Metadata>,
        transport: Box<dyn Transport>,
        identity: Option<ProducerIdentity>,
    ) -> Self {
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            shared,
            time: config.time.clone(),
            metadata,
            transport,
            s: Settings {
                acks: config.acks,
                idempotent: config.is_idempotent(),
                retries: config.retries,
                max_in_flight: config.max_in_flight as usize,
                request_timeout: ms(config.request_timeout_ms),
                delivery_timeout: ms(config.delivery_timeout_ms),
                linger: ms(config.linger_ms),
                backoff: ms(config.retry_backoff_ms),
            },
            slots: Vec::new(),
            known_topics: 0,
            identity,
            next_batch_id: 0,
            heard: Vec::new(),
            unfinished: false,
            link_queue_peak: 0,
        }
    }

    fn finisher(&self) -> Finisher<'_> {
        Finisher {
            pool: &self.shared.pool,
            metrics: &self.shared.metrics,
            pending: &self.shared.pending,
        }
    }

    /// The thread body: runs until `close` drained everything (or forced).
    pub(crate) fn run(mut self) {
        loop {
            // SeqCst load (`is_closed`), then a SeqCst fence before the drain:
            // pairs with the store in `FlusherSignal::close` and the fence in
            // `wake`, so a sender that missed `closed` linked before our drain.
            let closing = self.shared.signal.is_closed();
            fence(Ordering::SeqCst);
            if self.shared.signal.is_forced() {
                break;
            }
            self.discover(false);
            let now = self.time.now_ms();
            let mut progress = self.take_flushes();
            progress |= self.drain(now, closing);
            self.transport.poll(now, &mut self.heard);
            for response in std::mem::take(&mut self.heard) {
                progress = true;
                self.on_response(now, response);
            }
            progress |= self.expire(now);
            for slot in 0..self.slots.len() {
                progress |= self.ship(slot, now);
            }
            // The gauges first: a flush that returns has them current.
            self.publish_gauges();
            self.fire_markers();
            if self.unfinished {
                crate::sync::yield_now();
                continue;
            }
            if !progress {
                // Closing also waits for the connection to deliver what it
                // holds (an acks=0 batch is done once sent), up to the close
                // timeout, after which a forced close drops it.
                let delivered = self.transport.in_transit() == 0;
                if closing && delivered && self.slots.iter().all(Slot::is_idle) {
                    if self.terminate_all() {
                        break;
                    }
                    // A sender linked a batch first: take it (P3).
                    continue;
                }
                self.idle(now, closing);
            }
        }
        // A forced close may leave acks=0 requests in transit: lost too.
        if self.abort_all() || self.transport.in_transit() > 0 {
            self.shared.signal.set_lost_records();
        }
        // Nothing is awaited any more (a forced close gave it up).
        self.publish_gauges();
        self.shared.signal.set_exited();
    }

    fn publish_gauges(&mut self) {
        let awaiting = self
            .slots
            .iter()
            .flat_map(|slot| slot.chain.iter())
            .filter(|batch| matches!(batch.state, State::Awaiting { .. }))
            .count();
        Metrics::set(&self.shared.metrics.in_flight, awaiting as u64);
        let queued = self.transport.in_transit() as u64;
        Metrics::set(&self.shared.metrics.link_queue, queued);
        if queued > self.link_queue_peak {
            self.link_queue_peak = queued;
            Metrics::set(&self.shared.metrics.link_queue_peak, queued);
        }
    }

    /// Picks up topics the senders started using; `freeze` (closing): no
    /// topic is made after these (P3).
    fn discover(&mut self, freeze: bool) {
        for topic in self.shared.topics.from(self.known_topics, freeze) {
            self.known_topics += 1;
            for index in 0..topic.partitions() {
                self.slots.push(Slot::new(Arc::clone(&topic), index));
            }
        }
    }

    /// Takes pending `flush()` calls: every batch linked now becomes due, and
    /// the marker fires once each partition completed up to it.
    fn take_flushes(&mut self) -> bool {
        let mut progress = false;
        while let Some(waiter) = self.shared.flushes.pop() {
            progress = true;
            // Topics made before the flush() call are in the table by now.
            self.discover(false);
            waiter.expect(self.slots.len());
            for slot in &mut self.slots {
                let last = slot.topic.chains[slot.index as usize].last_ordinal();
                slot.flush_through = slot.flush_through.max(last);
                // Markers of timed-out flushes wait for nobody: drop them, so
                // repeated timed-out flushes behind a stuck batch hold no more
                // than the flushes still waiting.
                slot.markers.retain(|(_, marked)| !marked.is_abandoned());
                if slot.markers.capacity() > 2 * slot.markers.len() + 8 {
                    slot.markers.shrink_to(slot.markers.len() + 4);
                }
                slot.markers.push((last, Arc::clone(&waiter)));
            }
        }
        progress
    }

    /// Moves due batches from the batch chains to the slots' ready queues.
    fn drain(&mut self, now: i64, closing: bool) -> bool {
        self.unfinished = false;
        let mut progress = false;
        let linger = self.s.linger;
        // A sender waits for buffer memory: every batch is due, so that the
        // lingering ones go out and give theirs back (P5).
        let exhausted = self.shared.pool.has_waiters();
        for slot_index in 0..self.slots.len() {
            loop {
                let slot = &self.slots[slot_index];
                let flush_through = slot.flush_through;
                let chain = &slot.topic.chains[slot.index as usize];
                let due = |batch: &super::batch::ProducerBatch| {
                    closing
                        || exhausted
                        || batch.ordinal() <= flush_through
                        || now >= batch.created_ms().saturating_add(linger)
                };
                match chain.take(due) {
                    Ok(Taken::Batch(batch)) => {
                        progress = true;
                        self.hold(slot_index, batch);
                    }
                    Ok(Taken::Terminated) => {
                        self.slots[slot_index].terminated = true;
                        break;
                    }
                    Ok(Taken::NotDue | Taken::Nothing) => break,
                    Err(()) => {
                        self.unfinished = true;
                        break;
                    }
                }
            }
        }
        progress
    }

    /// A batch taken off its chain joins its slot's ready queue.
    fn hold(&mut self, slot_index: usize, batch: SealedBatch) {
        if batch.len() == 0 {
            self.finisher().discard_empty(batch);
            return;
        }
        let in_flight = InFlight {
            id: self.next_batch_id,
            ordinal: batch.batch.ordinal(),
            created_ms: batch.batch.created_ms(),
            batch: Some(batch),
            header: None,
            attempts: 0,
            state: State::Idle {
                not_before: 0,
                last: Last::NeverSent,
            },
            maybe_written: false,
            unanswered: false,
            last_error: None,
        };
        self.next_batch_id += 1;
        self.slots[slot_index].ready.push_back(in_flight);
    }

    /// Sends chain batch `pos` of `slot` (a first attempt or a retry).
    fn transmit(&mut self, slot_index: usize, pos: usize, now: i64) {
        let slot = &mut self.slots[slot_index];
        let (topic, partition) = (std::sync::Arc::clone(&slot.topic.name), slot.index);
        let in_flight = &mut slot.chain[pos];
        let Some(batch) = in_flight.batch.clone() else {
            return;
        };
        let counter = if in_flight.attempts == 0 {
            &self.shared.metrics.sent
        } else {
            &self.shared.metrics.retries
        };
        Metrics::add(counter, batch.len());
        in_flight.attempts += 1;
        in_flight.state = State::Awaiting {
            attempt: in_flight.attempts,
            deadline: now.saturating_add(self.s.request_timeout),
        };
        let request = Request {
            token: Token {
                slot: slot_index,
                batch: in_flight.id,
                attempt: in_flight.attempts,
            },
            topic,
            partition,
            header: in_flight.header,
            batch,
        };
        self.transport.send(now, request);
    }

    /// Resolves sequences and sends what may go.
    fn ship(&mut self, slot_index: usize, now: i64) -> bool {
        if self.s.acks == Acks::None {
            return self.fire_and_forget(slot_index, now);
        }
        let mut progress = false;
        if self.s.idempotent && self.slots[slot_index].bump_ready() {
            self.bump(slot_index, now);
            progress = true;
        }
        // Re-sends, in chain order, never past an older request still awaited.
        // A batch rejected while the sequence is unresolved waits for the bump
        // (it is re-sequenced then); the ones behind it whose outcome is
        // unknown go on under the old epoch, to learn whether they are written.
        let mut pos = 0;
        while pos < self.slots[slot_index].chain.len() {
            let slot = &self.slots[slot_index];
            match &slot.chain[pos].state {
                State::Finished(_) => {
                    pos += 1;
                    continue;
                }
                State::Awaiting { .. } => break,
                State::Idle { not_before, last } => {
                    let batch = &slot.chain[pos];
                    if slot.unresolved.is_some()
                        && matches!(last, Last::Rejected)
                        && !batch.maybe_written
                    {
                        pos += 1;
                        continue;
                    }
                    if *not_before > now {
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
            if slot.chain.len() >= self.s.max_in_flight {
                break;
            }
            let Some(mut batch) = slot.ready.pop_front() else {
                break;
            };
            if let (true, Some(identity)) = (self.s.idempotent, identity) {
                if slot.chain.is_empty() && slot.view != Some(identity) {
                    slot.reset_view(identity);
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

    /// `acks=0`: send and report success at once, offset unknown. No answer
    /// comes back to wait for, so the connection's queue is the only bound on
    /// what is in transit: at most `max.in.flight.requests.per.connection`
    /// requests (as a socket's buffer bounds a real connection); the other
    /// batches wait, holding their `buffer.memory`, which pushes back on
    /// `send`.
    fn fire_and_forget(&mut self, slot_index: usize, now: i64) -> bool {
        let mut progress = false;
        while self.transport.in_transit() < self.s.max_in_flight {
            let Some(batch) = self.slots[slot_index].ready.pop_front() else {
                break;
            };
            progress = true;
            let slot = &mut self.slots[slot_index];
            slot.chain.push_back(batch);
            self.transmit(slot_index, 0, now);
            if self.transport.is_broken() {
                // Nothing to wait for with acks=0: the dead connection is
                // noticed at once (Kafka's client sees the socket close).
                self.transport.reconnect();
            }
            let slot = &mut self.slots[slot_index];
            let partition = slot.index;
            if let Some(batch) = slot.chain.pop_front().and_then(|b| b.batch) {
                self.finisher().succeed(partition, batch, None);
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
                self.transport.forget_producer(current.producer_id);
                self.metadata.init_producer_id()
            } else {
                ProducerIdentity {
                    producer_id: current.producer_id,
                    epoch: current.epoch + 1,
                }
            };
            self.identity = Some(current);
            Metrics::add(&self.shared.metrics.epoch_bumps, 1);
        }
        let slot = &mut self.slots[slot_index];
        slot.reset_view(current);
        let mut chain = std::mem::take(&mut slot.chain);
        // A finished batch (acknowledged under the old epoch, or failed) is
        // not re-sequenced: it waits to complete after the batches ahead of it.
        for batch in chain
            .iter_mut()
            .filter(|batch| !matches!(batch.state, State::Finished(_)))
        {
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
                let in_flight = &mut slot.chain[pos];
                in_flight.state = State::Finished(Finish::Acked(outcome));
                let ordinal = in_flight.ordinal;
                slot.acknowledged(ordinal);
                self.complete_finished_front(token.slot);
            }
            Err(error) if self.s.idempotent && error.is_sequence_error() => {
                // The log holds no copy of it within its window: not written.
                slot.chain[pos].maybe_written = false;
                let first = pos == 0;
                let fenced = matches!(error, LogError::InvalidProducerEpoch { .. });
                if fenced || (first && slot.unresolved.is_none()) {
                    // The log expects something else from this epoch: reset it.
                    let ordinal = slot.chain[pos].ordinal;
                    slot.mark_unresolved(ordinal);
                }
                self.attempt_failed(token.slot, pos, now, Some(error));
            }
            Err(error) if error.is_retriable() => {
                // Certainly not written (the log refused it for now: memory
                // budget, full partition): retry after the backoff.
                self.attempt_failed(token.slot, pos, now, Some(error));
            }
            Err(error) => {
                let error = final_refusal_error(&self.slots[token.slot].chain[pos], error);
                self.fail_at(token.slot, pos, &error, true);
            }
        }
    }

    /// Fails chain batch `pos`; `sent` if it may be written (the sequence is
    /// then unresolved). It completes now if it is the chain's first, else
    /// once the batches ahead of it did ([`State::Finished`]).
    fn fail_at(&mut self, slot_index: usize, pos: usize, error: &ProducerError, sent: bool) {
        let slot = &mut self.slots[slot_index];
        let Some(in_flight) = slot.chain.get_mut(pos) else {
            return;
        };
        in_flight.state = State::Finished(Finish::Failed(error.clone()));
        let ordinal = in_flight.ordinal;
        if self.s.idempotent && sent {
            slot.mark_unknown(ordinal);
        }
        self.complete_finished_front(slot_index);
    }

    /// Completes the finished batches at the front of `slot`'s chain, in
    /// send order (see [`State::Finished`]).
    fn complete_finished_front(&mut self, slot_index: usize) {
        let slot = &self.slots[slot_index];
        let (topic, partition) = (std::sync::Arc::clone(&slot.topic.name), slot.index);
        while let Some((batch, finish)) = self.slots[slot_index].pop_finished_front() {
            self.finisher().finish(&topic, partition, batch, finish);
        }
    }

    /// The latest attempt of chain batch `pos` failed: the log refused it
    /// with `refusal` (nothing appended), or it went unanswered (`None`: maybe
    /// written). Retry later, or fail it when the retries ran out. Returns
    /// true if the batch finished (failed: it is no longer awaited).
    fn attempt_failed(
        &mut self,
        slot_index: usize,
        pos: usize,
        now: i64,
        refusal: Option<LogError>,
    ) -> bool {
        let in_flight = &mut self.slots[slot_index].chain[pos];
        if refusal.is_none() {
            in_flight.maybe_written = true;
            in_flight.unanswered = true;
        }
        if in_flight.attempts <= self.s.retries {
            let last = match refusal {
                Some(error) => {
                    in_flight.last_error = Some(error);
                    Last::Rejected
                }
                None => Last::Unknown,
            };
            in_flight.state = State::Idle {
                not_before: now.saturating_add(self.s.backoff),
                last,
            };
            return false;
        }
        let error = match refusal {
            Some(refusal) => final_refusal_error(in_flight, refusal),
            None => ProducerError::RequestTimeout {
                timeout_ms: self.s.request_timeout as u64,
            },
        };
        self.fail_at(slot_index, pos, &error, true);
        true
    }

    /// Request timeouts (the connection is then reset, as Kafka's client
    /// does: every request on it fails and is retried) and delivery timeouts.
    fn expire(&mut self, now: i64) -> bool {
        let mut progress = false;
        let timed_out = self.slots.iter().any(|slot| {
            slot.chain.iter().any(
                |batch| matches!(batch.state, State::Awaiting { deadline, .. } if deadline <= now),
            )
        });
        // The connection is reset (once) when a request is given up.
        let mut reset = timed_out;
        if timed_out {
            progress = true;
            for slot_index in 0..self.slots.len() {
                let mut pos = 0;
                while pos < self.slots[slot_index].chain.len() {
                    let awaiting = matches!(
                        self.slots[slot_index].chain[pos].state,
                        State::Awaiting { .. }
                    );
                    if awaiting && self.attempt_failed(slot_index, pos, now, None) {
                        continue;
                    }
                    pos += 1;
                }
            }
        }
        let delivery = self.s.delivery_timeout;
        let timeout_ms = delivery as u64;
        // Elapsed time, not a deadline `created + delivery`: that saturates at
        // i64::MAX, where a virtual clock's saturating moves end, and every
        // record made there would expire the moment it was made. (A request's
        // deadline does saturate: at the end of time it fires, so a lost
        // response is still retried rather than awaited forever.)
        let expired = |batch: &InFlight| now.saturating_sub(batch.created_ms) >= delivery;
        for slot_index in 0..self.slots.len() {
            // The chain first: its batches were made before the ready ones, and
            // a partition's batches complete in send order.
            let mut pos = 0;
            while pos < self.slots[slot_index].chain.len() {
                let batch = &mut self.slots[slot_index].chain[pos];
                if !matches!(batch.state, State::Finished(_)) && expired(batch) {
                    progress = true;
                    let sent = batch.attempts > 0;
                    // An awaited request is given up as on a request timeout.
                    reset |= matches!(batch.state, State::Awaiting { .. });
                    let error = batch.delivery_timeout(timeout_ms);
                    self.fail_at(slot_index, pos, &error, sent);
                } else {
                    pos += 1;
                }
            }
            while self.slots[slot_index].ready.front().is_some_and(expired) {
                let slot = &mut self.slots[slot_index];
                let (topic, partition) = (std::sync::Arc::clone(&slot.topic.name), slot.index);
                if let Some(mut in_flight) = slot.ready.pop_front() {
                    // Never sent: certainly not written.
                    let error = in_flight.delivery_timeout(timeout_ms);
                    if let Some(batch) = in_flight.batch {
                        progress = true;
                        self.finisher().fail(&topic, partition, batch, &error);
                    }
                }
            }
        }
        if reset {
            self.transport.reconnect();
        }
        progress
    }

    fn fire_markers(&mut self) {
        for slot in &mut self.slots {
            if slot.markers.is_empty() {
                continue;
            }
            let done = slot.min_incomplete();
            slot.markers.retain(|(ordinal, waiter)| {
                let fire = *ordinal < done;
                if fire {
                    waiter.fire();
                }
                !fire
            });
        }
    }

    /// The earliest time a batch chain has a batch due (linger), if any.
    fn chains_due(&self, now: i64, closing: bool) -> Option<i64> {
        let exhausted = self.shared.pool.has_waiters();
        self.slots
            .iter()
            .filter_map(|slot| {
                let next = slot.topic.chains[slot.index as usize].peek()?;
                if next.is_sentinel() {
                    return Some(now); // a terminator to pass over
                }
                let due = closing
                    || exhausted
                    || next.is_sealed()
                    || next.ordinal() <= slot.flush_through;
                Some(if due {
                    now
                } else {
                    next.created_ms().saturating_add(self.s.linger)
                })
            })
            .min()
    }

    /// Nothing to do now: sleep, or in virtual time jump to the next deadline.
    fn idle(&self, now: i64, closing: bool) {
        let later = |t: i64| (t > now).then_some(t);
        let mut network = self.transport.next_arrival().and_then(later);
        let mut timer: Option<i64> = None;
        for slot in &self.slots {
            for batch in &slot.chain {
                let t = match batch.state {
                    State::Awaiting { deadline, .. } => deadline,
                    State::Idle { not_before, .. } => not_before,
                    State::Finished(_) => continue,
                };
                network = min_opt(network, later(t));
            }
            let oldest = slot
                .chain
                .iter()
                .chain(slot.ready.iter())
                .filter(|batch| !matches!(batch.state, State::Finished(_)))
                .map(|batch| batch.created_ms)
                .min();
            if let Some(created) = oldest {
                timer = min_opt(
                    timer,
                    later(created.saturating_add(self.s.delivery_timeout)),
                );
            }
        }
        let lingering = self.chains_due(now, closing);
        if lingering.is_some_and(|due| due <= now) {
            return; // a batch linked since the drain is due already
        }
        timer = min_opt(timer, lingering.and_then(later));
        let next = min_opt(network, timer);
        // Virtual time: jump to the next network deadline only when no batch
        // lingers. A lingering batch closes when full, on flush/close, or when
        // the clock is moved from outside, so every first attempt of records
        // sent before a flush goes out before any timeout fires, whatever the
        // thread timing (scripted tests are exact).
        if network.is_some() && lingering.is_none() && self.time.jump_to(next.unwrap_or(now)) {
            return;
        }
        let timeout = match (&self.time, next) {
            (TimeSource::Virtual(_), Some(_)) => VIRTUAL_POLL,
            (TimeSource::Real(_), Some(t)) => {
                Duration::from_millis(u64::try_from(t.saturating_sub(now)).unwrap_or(0))
                    .min(IDLE_SLEEP)
            }
            (_, None) => IDLE_SLEEP,
        };
        let planned = now.saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        self.shared.signal.sleep(timeout, closing, || {
            // A topic made since `discover` may hold a new batch (loom found
            // the first record to a new topic waiting out the idle sleep).
            self.shared.topics.count() > self.known_topics
                || !self.shared.flushes.is_empty()
                || self
                    .chains_due(now, closing)
                    .is_some_and(|due| due < planned && lingering.is_none_or(|known| due < known))
        });
    }

    /// Terminates every batch chain (closing, all drained): true when all are.
    fn terminate_all(&mut self) -> bool {
        let owner = self.shared.owner;
        self.discover(true);
        let mut all = true;
        for slot in &mut self.slots {
            if !slot.terminated {
                slot.terminated = slot.topic.chains[slot.index as usize].terminate(owner);
                all &= slot.terminated;
            }
        }
        all
    }

    /// Fails everything left (forced close, or the closing drain ended): the
    /// batches held, then whatever senders still link until every chain is
    /// terminated. Returns whether that failed any record.
    fn abort_all(&mut self) -> bool {
        let mut failed_any = false;
        loop {
            self.discover(false);
            let closed = ProducerError::Closed;
            let abandoned = ProducerError::Abandoned;
            for slot_index in 0..self.slots.len() {
                let slot = &mut self.slots[slot_index];
                let (topic, partition) = (std::sync::Arc::clone(&slot.topic.name), slot.index);
                let held: Vec<InFlight> =
                    slot.chain.drain(..).chain(slot.ready.drain(..)).collect();
                let chain = &slot.topic.chains[slot.index as usize];
                let mut queued = Vec::new();
                while let Ok(Taken::Batch(batch)) = chain.take(|_| true) {
                    queued.push(batch);
                }
                for (_, waiter) in slot.markers.drain(..) {
                    waiter.fire();
                }
                let finisher = self.finisher();
                for mut in_flight in held {
                    let Some(batch) = in_flight.batch.take() else {
                        continue;
                    };
                    if let State::Finished(finish) = in_flight.state {
                        // It finished before the close: it completes so,
                        // after the batches ahead of it failed.
                        finisher.finish(&topic, partition, batch, finish);
                        continue;
                    }
                    // Certainly not written (never sent, or every attempt
                    // refused) as a delivery timeout judges it: `Closed`.
                    let error = if in_flight.may_be_written() {
                        &abandoned
                    } else {
                        &closed
                    };
                    failed_any |= batch.len() > 0;
                    finisher.fail(&topic, partition, batch, error);
                }
                for batch in queued {
                    if batch.len() == 0 {
                        finisher.discard_empty(batch);
                    } else {
                        failed_any = true;
                        finisher.fail(&topic, partition, batch, &closed);
                    }
                }
            }
            while let Some(waiter) = self.shared.flushes.pop() {
                waiter.expect(0);
            }
            if self.terminate_all() {
                return failed_any;
            }
            crate::sync::yield_now();
        }
    }
}

/// The error of a batch the log answered with `refusal` for the last time:
/// the refusal itself if every attempt was answered (none was written), else
/// `Unresolved` (an unanswered attempt may have been written).
fn final_refusal_error(in_flight: &InFlight, refusal: LogError) -> ProducerError {
    if in_flight.unanswered {
        ProducerError::Unresolved {
            last_error: refusal,
        }
    } else {
        ProducerError::Log(refusal)
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
