//! The broker seam: what the producer client needs from a broker, as two
//! traits, and the in-process log behind them.
//!
//! - [`Metadata`] (shared by the sending threads): topic metadata and the
//!   producer-id handshake.
//! - [`Transport`] (owned by the flusher, Kafka's network client): produce
//!   requests out, responses back, in send order on one connection.
//!
//! [`LogBroker`] implements both over a [`Log`]; the fault-injecting link
//! ([`super::sim`]) implements [`Transport`] over any other transport. (The
//! Kafka backend replaces the whole client, behind the same public API.)

use std::collections::HashMap;
use std::sync::Arc as StdArc;

use super::batch::SealedBatch;
use crate::error::LogError;
use crate::log::{AppendOutcome, Log, PartitionHandle, ProducerAppender};
use crate::types::{BatchHeader, ProducerId, ProducerIdentity};

/// Topic metadata and the producer-id handshake.
pub(crate) trait Metadata: Send + Sync {
    /// Partitions of `topic`.
    fn partition_count(&self, topic: &str) -> Result<u32, LogError>;
    /// A fresh producer id at epoch 0 (Kafka's `InitProducerId`).
    fn init_producer_id(&self) -> ProducerIdentity;
    /// The most batches the broker remembers per producer and partition.
    fn dedup_window(&self) -> usize;
    /// The most records a batch may hold.
    fn max_batch_records(&self) -> usize;
    /// The most record bytes (headers included) a batch may hold.
    fn max_batch_bytes(&self) -> usize;
}

/// Which attempt of which batch a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// The flusher's partition slot.
    pub(crate) slot: usize,
    /// The batch's id, unique within the producer.
    pub(crate) batch: u64,
    /// The attempt number of that batch.
    pub(crate) attempt: u32,
}

/// One produce request: a batch for one partition.
pub(crate) struct Request {
    pub(crate) token: Token,
    pub(crate) topic: StdArc<str>,
    pub(crate) partition: u32,
    pub(crate) header: Option<BatchHeader>,
    pub(crate) batch: SealedBatch,
}

/// The broker's answer to one request.
pub(crate) struct Response {
    pub(crate) token: Token,
    pub(crate) result: Result<AppendOutcome, LogError>,
}

/// Produce requests out, responses back (one connection, in order).
pub(crate) trait Transport: Send {
    /// Sends `request` at `now_ms`.
    fn send(&mut self, now_ms: i64, request: Request);
    /// Moves the connection to `now_ms` and appends the responses heard since
    /// the last call to `heard`, in the order the broker answered.
    fn poll(&mut self, now_ms: i64, heard: &mut Vec<Response>);
    /// When the next request in transit arrives, if one is delayed.
    fn next_arrival(&self) -> Option<i64>;
    /// Requests in transit now.
    fn in_transit(&self) -> usize;
    /// True if the connection is known to be dead (a request was lost on it).
    fn is_broken(&self) -> bool;
    /// Closes the connection (a request timed out, as Kafka's client does)
    /// and opens a new one: requests not yet delivered are lost.
    fn reconnect(&mut self);
    /// Forgets what it cached for a producer id no longer used.
    fn forget_producer(&mut self, producer_id: ProducerId);
}

/// The in-process log as a broker.
pub(crate) struct LogBroker {
    log: Log,
    partitions: HashMap<(StdArc<str>, u32), PartitionHandle>,
    appenders: HashMap<(StdArc<str>, u32, ProducerId), ProducerAppender>,
    heard: Vec<Response>,
}

impl LogBroker {
    pub(crate) fn new(log: &Log) -> Self {
        Self {
            log: log.clone(),
            partitions: HashMap::new(),
            appenders: HashMap::new(),
            heard: Vec::new(),
        }
    }

    /// Appends `request` to the log; the outcome is the log's answer.
    pub(crate) fn append(&mut self, request: &Request) -> Result<AppendOutcome, LogError> {
        let key = (StdArc::clone(&request.topic), request.partition);
        let partition = match self.partitions.get(&key) {
            Some(partition) => partition,
            None => {
                let handle = self.log.partition(&request.topic, request.partition)?;
                self.partitions.entry(key.clone()).or_insert(handle)
            }
        };
        let records = request.batch.records();
        match request.header {
            None => partition.append(None, records),
            Some(header) => {
                let key = (key.0, key.1, header.producer_id);
                let appender = match self.appenders.get_mut(&key) {
                    Some(appender) => appender,
                    None => {
                        let appender = partition.producer(header.producer_id)?;
                        self.appenders.entry(key).or_insert(appender)
                    }
                };
                appender.append(header.epoch, header.base_sequence, records)
            }
        }
    }
}

impl Metadata for Log {
    fn partition_count(&self, topic: &str) -> Result<u32, LogError> {
        Log::partition_count(self, topic)
    }

    fn init_producer_id(&self) -> ProducerIdentity {
        Log::init_producer_id(self)
    }

    fn dedup_window(&self) -> usize {
        self.config().dedup_window_len()
    }

    fn max_batch_records(&self) -> usize {
        self.config().max_batch_len()
    }

    fn max_batch_bytes(&self) -> usize {
        self.config().segment_len() - crate::log::batch::HEADER_BYTES
    }
}

impl Transport for LogBroker {
    fn send(&mut self, _now_ms: i64, request: Request) {
        let result = self.append(&request);
        self.heard.push(Response {
            token: request.token,
            result,
        });
    }

    fn poll(&mut self, _now_ms: i64, heard: &mut Vec<Response>) {
        heard.append(&mut self.heard);
    }

    fn next_arrival(&self) -> Option<i64> {
        None
    }

    fn in_transit(&self) -> usize {
        0
    }

    fn is_broken(&self) -> bool {
        false
    }

    fn reconnect(&mut self) {}

    fn forget_producer(&mut self, producer_id: ProducerId) {
        self.appenders.retain(|(_, _, pid), _| *pid != producer_id);
    }
}
