//! [`MessageDelivery`]: the outcome of one message of a remote producer (the
//! Kafka backend's, `src/kafka/producer.rs`), behind its [`DeliveryHandle`](super::DeliveryHandle).
//!
//! The remote client reports each message once (librdkafka: in the producer
//! context's delivery callback, on its polling thread or on a thread in
//! `flush`); the report completes the message's one [`Completion`], which runs
//! the record's callback and wakes every waiter, as for an in-process batch of
//! one record.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::batch::Sealed;
use super::completion::{Completion, Outcome, RecordBytes};
use super::delivery::DeliveryResult;
use super::error::ProducerError;

/// One message's outcome (see the module comment).
#[derive(Debug)]
pub(crate) struct MessageDelivery {
    completion: Completion,
    /// The key and value of a failed message, copied out of librdkafka's
    /// report before the completion is marked done (so a handle that sees it
    /// done finds it set).
    failed: OnceLock<RecordBytes>,
}

impl MessageDelivery {
    /// A pending delivery of producer `owner` (see `run_user_code`).
    pub(crate) fn new(owner: u64) -> Self {
        Self {
            completion: Completion::new(owner),
            failed: OnceLock::new(),
        }
    }

    pub(crate) fn completion(&self) -> &Completion {
        &self.completion
    }

    /// The outcome, once known.
    pub(crate) fn result(&self) -> Option<DeliveryResult> {
        self.completion.result(0, |_, _| self.failed.get().cloned())
    }

    /// The broker acknowledged the message (`offset` is `None` with `acks=0`,
    /// and for a retry the broker deduplicated without reporting its original
    /// offset).
    pub(crate) fn succeeded(&self, partition: u32, offset: Option<u64>, timestamp_ms: Option<i64>) {
        self.completion.complete(
            Outcome::Appended {
                partition,
                base_offset: offset,
                timestamp_ms,
                duplicate: false,
            },
            |_, _| None,
            || (),
        );
    }

    /// The message failed with `error`; its key and value are handed back.
    pub(crate) fn failed(
        &self,
        topic: &str,
        partition: u32,
        error: ProducerError,
        key: Option<&[u8]>,
        value: &[u8],
    ) {
        // Only this (the one report) sets it.
        let _first = self.failed.set((
            key.map(Bytes::copy_from_slice),
            Bytes::copy_from_slice(value),
        ));
        self.completion.complete(
            Outcome::Failed {
                topic: Arc::from(topic),
                partition,
                error,
                sealed: Sealed {
                    records: 1,
                    bytes: value.len() + key.map_or(0, <[u8]>::len),
                },
            },
            |_, _| self.failed.get().cloned(),
            || (),
        );
    }
}
