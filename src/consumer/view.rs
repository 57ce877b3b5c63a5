//! [`RecordView`]: a record lent by the log to a read callback.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::log::{CommittedPrefix, ReadRecord};
use crate::record::{ConsumerRecord, ProducerMetadata};

/// A record read from a partition, borrowed from the log's segment buffer (no
/// copy, no reference-count traffic). Valid for the duration of the read callback.
#[derive(Clone, Copy)]
pub struct RecordView<'a> {
    /// The topic it was read from.
    pub topic: &'a str,
    /// The partition it was read from.
    pub partition: u32,
    /// The record's offset in its partition.
    pub offset: u64,
    /// Log-append time of its batch, in milliseconds of the log's clock.
    pub timestamp_ms: i64,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
    /// The idempotent producer that wrote it, if any.
    pub producer: Option<ProducerMetadata>,
    origin: Origin<'a>,
}

/// What a view borrows from, for [`RecordView::to_owned`].
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// A record of the in-process log: the owned copy shares its segment.
    Log {
        committed: CommittedPrefix<'a>,
        topic: &'a Arc<str>,
    },
    /// Bytes lent by another backend (a Kafka message): the owned copy copies them.
    #[cfg(feature = "kafka")]
    Borrowed { topic: &'a Arc<str> },
}

impl fmt::Debug for RecordView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordView")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("key", &self.key)
            .field("value", &self.value)
            .field("producer", &self.producer)
            .finish()
    }
}

impl<'a> RecordView<'a> {
    pub(crate) fn new(record: ReadRecord<'a>, topic: &'a Arc<str>, partition: u32) -> Self {
        Self {
            topic,
            partition,
            offset: record.offset,
            timestamp_ms: record.timestamp_ms,
            key: record.decoded.record.key,
            value: record.decoded.record.value,
            producer: record.decoded.producer,
            origin: Origin::Log {
                committed: record.committed,
                topic,
            },
        }
    }

    /// A view of bytes another backend lends (a Kafka message, valid while the
    /// read callback runs); it carries no producer identity.
    #[cfg(feature = "kafka")]
    pub(crate) fn borrowed(
        topic: &'a Arc<str>,
        partition: u32,
        offset: u64,
        timestamp_ms: i64,
        key: Option<&'a [u8]>,
        value: &'a [u8],
    ) -> Self {
        Self {
            topic,
            partition,
            offset,
            timestamp_ms,
            key,
            value,
            producer: None,
            origin: Origin::Borrowed { topic },
        }
    }

    /// An owned copy. From the in-process log its key and value share the log's
    /// segment (no copy of the bytes: it keeps only that segment's memory alive
    /// while it lives); from the Kafka backend they are copied out of the
    /// message.
    pub fn to_owned(&self) -> ConsumerRecord {
        let (topic, shared) = match self.origin {
            Origin::Log { committed, topic } => (topic, Some(committed.to_bytes())),
            #[cfg(feature = "kafka")]
            Origin::Borrowed { topic } => (topic, None),
        };
        let own = |part: &[u8]| match &shared {
            Some(segment) => segment.slice_ref(part),
            None => Bytes::copy_from_slice(part),
        };
        ConsumerRecord {
            topic: Arc::clone(topic),
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: self.key.map(own),
            value: own(self.value),
            producer: self.producer,
        }
    }
}

/// The records a read hands to its visitor, owned: what the owned-record polls
/// of both consumers are (`read` is their zero-copy poll).
pub(crate) fn owned_records<E>(
    read: impl FnOnce(&mut dyn FnMut(RecordView<'_>)) -> Result<usize, E>,
) -> Result<Vec<ConsumerRecord>, E> {
    let mut records = Vec::new();
    read(&mut |view| records.push(view.to_owned()))?;
    Ok(records)
}

/// The record a read of at most one hands to its visitor, owned: what the
/// `try_recv` and `recv_timeout` of both consumers are.
pub(crate) fn owned_record<E>(
    read: impl FnOnce(&mut dyn FnMut(RecordView<'_>)) -> Result<usize, E>,
) -> Result<Option<ConsumerRecord>, E> {
    let mut record = None;
    read(&mut |view| record = Some(view.to_owned()))?;
    Ok(record)
}
