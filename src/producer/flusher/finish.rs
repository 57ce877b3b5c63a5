//! Completing batches: the outcome for their handles and callbacks, the
//! buffer memory back, the counters.

use std::sync::Arc as StdArc;

use super::super::batch::SealedBatch;
use super::super::buffer_pool::BufferPool;
use super::super::completion::Outcome;
use super::super::error::ProducerError;
use super::super::metrics::Metrics;
use super::super::pending_batches::PendingBatches;
use super::sequencer::Finish;
use crate::log::AppendOutcome;

/// Completes batches (borrowed from the flusher for one call).
pub(crate) struct Finisher<'a> {
    pub(crate) pool: &'a BufferPool,
    pub(crate) metrics: &'a Metrics,
    pub(crate) pending: &'a PendingBatches,
}

impl Finisher<'_> {
    /// `batch` is in the log (`outcome`), or was sent with `acks=0` (`None`).
    pub(crate) fn succeed(
        &self,
        partition: u32,
        batch: SealedBatch,
        outcome: Option<AppendOutcome>,
    ) {
        let n = batch.len();
        Metrics::add(&self.metrics.acked, n);
        let duplicate = outcome.is_some_and(|o| o.duplicate);
        if duplicate {
            Metrics::add(&self.metrics.duplicates, n);
        }
        let SealedBatch { batch, .. } = batch;
        // P6: an acknowledged batch has no request left in transit (the link
        // is FIFO and a retry goes out only after the attempt before it was
        // answered or its connection dropped), so nothing reads the area
        // again. With `acks=0` a request may still be in transit: the area
        // stays with the batch and is freed with it.
        if outcome.is_some() {
            batch.recycle_area(self.pool);
        } else {
            self.pool.forget(batch.capacity());
        }
        batch.completion.complete(
            Outcome::Appended {
                partition,
                base_offset: outcome.map(|o| o.base_offset),
                timestamp_ms: outcome.map(|o| o.timestamp_ms),
                duplicate,
            },
            |sealed, index| batch.failed_record(sealed, index),
            || self.pending.completed(),
        );
    }

    /// `batch` failed with `error`: its records go back to the application.
    pub(crate) fn fail(
        &self,
        topic: &StdArc<str>,
        partition: u32,
        batch: SealedBatch,
        error: &ProducerError,
    ) {
        Metrics::add(&self.metrics.failed, batch.len());
        self.pool.forget(batch.batch.capacity());
        let SealedBatch { batch, sealed } = batch;
        batch.completion.complete(
            Outcome::Failed {
                topic: StdArc::clone(topic),
                partition,
                error: error.clone(),
                sealed,
            },
            |sealed, index| batch.failed_record(sealed, index),
            || self.pending.completed(),
        );
    }

    /// `batch` completes as it finished ([`State::Finished`](super::sequencer::State::Finished)).
    pub(crate) fn finish(
        &self,
        topic: &StdArc<str>,
        partition: u32,
        batch: SealedBatch,
        finish: Finish,
    ) {
        match finish {
            Finish::Acked(outcome) => self.succeed(partition, batch, Some(outcome)),
            Finish::Failed(error) => self.fail(topic, partition, batch, &error),
        }
    }

    /// A batch sealed before any record went in: nothing to complete.
    pub(crate) fn discard_empty(&self, batch: SealedBatch) {
        batch.batch.recycle_area(self.pool);
        self.pending.completed();
    }
}
