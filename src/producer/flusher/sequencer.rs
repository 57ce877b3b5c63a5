//! One partition's batches in the flusher's hands, and the sequencing rules
//! (the contract, `crate::contract`, following Kafka's `Sender` and
//! `TransactionManager`).
//!
//! Per partition the flusher keeps *ready* batches (sealed, not yet sent, no
//! sequence) and the *chain*: batches sent and not yet completed, in sequence
//! order, at most `max.in.flight` of them. Each chain batch is either awaiting
//! the response of its latest attempt, or idle (to be re-sent after its
//! backoff), remembering what its last attempt learned: rejected
//! (OutOfOrderSequence: certainly not written) or nothing (timed out: unknown).
//!
//! - A sequence is stamped when a batch first leaves (drain time) and reused
//!   by every retry in the same epoch.
//! - Re-sends go out in chain order and never overtake an older request still
//!   awaiting its response. New batches wait while any chain batch is idle.
//! - Batches complete in chain order: one acknowledged or failed behind an
//!   unfinished one stays in the chain ([`State::Finished`]) until the batches ahead of it
//!   completed (the contract's callback order).
//! - The connection keeps send order (a lost request breaks it: sim/), so a
//!   batch reaches the log only after every batch sent before it did. A fresh
//!   producer therefore sends up to `max.in.flight` batches at once from the
//!   start: a later batch never reaches a log that has no state for this
//!   producer before the first one (P7 in `crate::implementation`).
//! - OutOfOrderSequence for a batch behind a failed one: plain retry. For the
//!   first chain batch (the one the log should expect next), or a batch that
//!   failed after being sent (delivery timeout, retries exhausted,
//!   non-retriable error), the partition's sequence is *unresolved*, unless a
//!   later batch was acknowledged (Kafka's `isNextSequence` rule: the failed
//!   sequence is then known to be written). Once nothing of the partition is
//!   awaiting a response and the first chain batch is known not written, the
//!   epoch is bumped (a new pid from the log after epoch 32767) and the chain
//!   is re-sequenced from 0 under it. Other partitions move to the new epoch
//!   lazily, when they next start from an empty chain.

use std::collections::VecDeque;

use super::super::batch::SealedBatch;
use super::super::error::ProducerError;
use super::super::topic_table::TopicBatches;
use super::FlushWaiter;
use crate::error::LogError;
use crate::log::AppendOutcome;
use crate::sync::Arc;
use crate::types::{BatchHeader, ProducerIdentity};

/// What the last attempt of an idle chain batch learned.
#[derive(Debug)]
pub(super) enum Last {
    /// Re-sequenced after an epoch bump, not sent under it yet.
    NeverSent,
    /// The log refused it (a sequence/epoch error, or a retriable refusal;
    /// the error is the batch's `last_error`): that attempt wrote nothing.
    Rejected,
    /// No response in time: maybe written.
    Unknown,
}

#[derive(Debug)]
pub(super) enum State {
    Awaiting {
        attempt: u32,
        deadline: i64,
    },
    Idle {
        not_before: i64,
        last: Last,
    },
    /// Acknowledged or failed while an earlier batch of the chain is not
    /// done: kept, uncompleted, so that the partition's batches complete in
    /// send order (Kafka's callback order; an earlier batch's lost response is
    /// retried and answered later), and so that the in-flight bound counts
    /// from the oldest unfinished batch (which keeps that batch inside the
    /// log's dedup window). Never sent again nor re-sequenced. The chain's
    /// first batch is never `Finished`: a finished first batch is completed
    /// at once, with the `Finished` ones behind it
    /// ([`Slot::pop_finished_front`]).
    Finished(Finish),
}

/// How a [`State::Finished`] batch completes.
#[derive(Debug)]
pub(super) enum Finish {
    /// In the log, as the log answered.
    Acked(AppendOutcome),
    /// Failed with this error.
    Failed(ProducerError),
}

/// A batch the flusher holds.
pub(super) struct InFlight {
    /// Unique within the producer (the request token's batch id).
    pub(super) id: u64,
    /// Creation order within the partition.
    pub(super) ordinal: u64,
    /// `None` once handed to its completion (or, with `acks=0`, sent).
    pub(super) batch: Option<SealedBatch>,
    /// When its first record was sent (delivery timeout counts from it).
    pub(super) created_ms: i64,
    pub(super) header: Option<BatchHeader>,
    pub(super) attempts: u32,
    pub(super) state: State,
    /// An attempt under the current epoch ended without an answer, so the
    /// log may hold the batch: only an answer to a retry (a duplicate, or a
    /// sequence error, which the log gives only for a batch it does not hold
    /// within its window) settles it; a retriable refusal of the retry does not.
    pub(super) maybe_written: bool,
    /// Some attempt, under any epoch, ended without an answer: whatever the
    /// later attempts are answered, the log may hold the batch. Never cleared.
    pub(super) unanswered: bool,
    /// The log's latest error answer to an attempt (each appended nothing):
    /// the cause a delivery timeout reports.
    pub(super) last_error: Option<LogError>,
}

impl InFlight {
    pub(super) fn len(&self) -> u64 {
        self.batch.as_ref().map_or(0, SealedBatch::len)
    }

    /// The error of this batch failed by its delivery timeout: its last
    /// refusal as the cause, and "not written" only when that is certain:
    /// no attempt went unanswered and none is awaited now (so every attempt
    /// was refused, or none was sent).
    pub(super) fn delivery_timeout(&mut self, timeout_ms: u64) -> ProducerError {
        ProducerError::DeliveryTimeout {
            timeout_ms,
            not_written: !self.may_be_written(),
            last_error: self.last_error.take(),
        }
    }

    /// Whether the log may hold the batch: an attempt went unanswered or is
    /// awaited now (else none was sent, or every one was refused).
    pub(super) fn may_be_written(&self) -> bool {
        self.unanswered || matches!(self.state, State::Awaiting { .. })
    }
}

/// One partition in the flusher's hands.
pub(super) struct Slot {
    pub(super) topic: Arc<TopicBatches>,
    pub(super) index: u32,
    pub(super) ready: VecDeque<InFlight>,
    pub(super) chain: VecDeque<InFlight>,
    /// flush() markers: fire once every batch up to the ordinal completed.
    pub(super) markers: Vec<(u64, Arc<FlushWaiter>)>,
    /// Batches up to this ordinal are due now (a flush asked for them).
    pub(super) flush_through: u64,
    /// The (pid, epoch) this partition's sequences belong to.
    pub(super) view: Option<ProducerIdentity>,
    pub(super) next_seq: i32,
    /// Ordinal of a batch whose failure left the sequence unresolved.
    pub(super) unresolved: Option<u64>,
    /// The highest ordinal acknowledged under `view`.
    pub(super) last_acked: Option<u64>,
    /// The chain was terminated (closing): nothing more will come.
    pub(super) terminated: bool,
}

impl Slot {
    pub(super) fn new(topic: Arc<TopicBatches>, index: u32) -> Self {
        Self {
            topic,
            index,
            ready: VecDeque::new(),
            chain: VecDeque::new(),
            markers: Vec::new(),
            flush_through: 0,
            view: None,
            next_seq: 0,
            unresolved: None,
            last_acked: None,
            terminated: false,
        }
    }

    /// The lowest ordinal not yet completed, counting the batches still in
    /// the partition's batch chain (u64::MAX if none).
    pub(super) fn min_incomplete(&self) -> u64 {
        let held = self
            .chain
            .iter()
            .find(|batch| !matches!(batch.state, State::Finished(_)))
            .or(self.ready.front())
            .map(|batch| batch.ordinal);
        let queued = self.topic.chains[self.index as usize]
            .peek()
            .filter(|batch| !batch.is_sentinel())
            .map(|batch| batch.ordinal());
        held.or(queued).unwrap_or(u64::MAX)
    }

    /// Removes the chain's first batch if it is finished, with how it
    /// finished; the caller completes it, and asks again until `None`, so the
    /// batches complete in send order. Asked whenever the front may have
    /// finished, so only a batch with an unfinished batch ahead of it waits
    /// as `Finished`.
    pub(super) fn pop_finished_front(&mut self) -> Option<(SealedBatch, Finish)> {
        if !matches!(self.chain.front()?.state, State::Finished(_)) {
            return None;
        }
        let in_flight = self.chain.pop_front()?;
        let State::Finished(finish) = in_flight.state else {
            return None;
        };
        Some((in_flight.batch?, finish))
    }

    pub(super) fn awaiting(&self) -> bool {
        self.chain
            .iter()
            .any(|batch| matches!(batch.state, State::Awaiting { .. }))
    }

    /// An unresolved sequence can be reset: nothing is awaiting a response and
    /// no chain batch may be written under this epoch. A batch whose outcome
    /// is unknown (`maybe_written`) is first retried under the old epoch (a
    /// duplicate answer settles it): re-sequenced, a batch the log already
    /// holds would be written twice (the log takes any sequence while it has no state for
    /// the producer, so one known not written says nothing of those behind it).
    pub(super) fn bump_ready(&self) -> bool {
        self.unresolved.is_some()
            && !self.awaiting()
            && !self
                .chain
                .iter()
                .any(|batch| batch.maybe_written && !matches!(batch.state, State::Finished(_)))
    }

    /// The batch `ordinal` failed after it may have been sent: its sequence
    /// is unresolved unless a later batch was acknowledged (then it is known
    /// to be written: Kafka's `isNextSequence`).
    pub(super) fn mark_unknown(&mut self, ordinal: u64) {
        if self.last_acked.is_some_and(|acked| acked > ordinal) {
            return;
        }
        self.mark_unresolved(ordinal);
    }

    /// The log expects another sequence or epoch than batch `ordinal`'s
    /// (it was rejected, so certainly not written): reset the sequence.
    pub(super) fn mark_unresolved(&mut self, ordinal: u64) {
        self.unresolved = Some(self.unresolved.map_or(ordinal, |o| o.max(ordinal)));
    }

    /// Batch `ordinal` was acknowledged under the current view.
    pub(super) fn acknowledged(&mut self, ordinal: u64) {
        self.last_acked = Some(self.last_acked.map_or(ordinal, |o| o.max(ordinal)));
        if self.unresolved.is_some_and(|o| ordinal > o) {
            self.unresolved = None; // the failed batch was written after all
        }
    }

    /// Nothing held (the batch chain may still have batches).
    pub(super) fn is_idle(&self) -> bool {
        self.ready.is_empty() && self.chain.is_empty()
    }

    /// Starts a new view (epoch) for this partition: sequences from 0.
    pub(super) fn reset_view(&mut self, view: ProducerIdentity) {
        self.view = Some(view);
        self.next_seq = 0;
        self.unresolved = None;
        self.last_acked = None;
    }
}

/// The header of a batch of `n` records under `view` at `*next_seq`, advancing
/// it (sequences wrap from i32::MAX to 0).
pub(super) fn stamp(view: ProducerIdentity, next_seq: &mut i32, n: u64) -> BatchHeader {
    let base_sequence = *next_seq;
    *next_seq = crate::types::sequence_add(base_sequence, n);
    BatchHeader {
        producer_id: view.producer_id,
        epoch: view.epoch,
        base_sequence,
    }
}
