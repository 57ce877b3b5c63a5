//! # idemlog
//!
//! A lock-free, in-process partitioned log with Apache Kafka's idempotent-producer
//! guarantees and no broker: producer ids from a handshake, per-partition sequence
//! numbers, and broker-side deduplication, so a retry after a lost acknowledgement
//! is answered with the original offsets instead of being written twice.
//!
//! - [`Log`]: the in-process broker (topics, partitions, `init_producer_id`,
//!   idempotent and plain appends, retention, producer-state expiry).
//! - [`producer::Producer`]: Kafka's client model — sender-side batches, one flusher
//!   (I/O) thread, retries, at-most-once / at-least-once / exactly-once.
//! - [`Consumer`]: reads one partition by offset, blocking or not, zero-copy.
//! - [`MultiConsumer`]: many partitions, assigned by hand or by a consumer group
//!   ([`Log::subscribe`]), blocking until any has data, interruptible.
//! - [`Cluster`]: where producers and consumers connect, chosen by
//!   configuration: the in-process log, or with the `kafka` feature an Apache
//!   Kafka cluster (a `bootstrap.servers` property; `kafka` module), with the
//!   same `Producer` and `MultiConsumer` API.
//!
//! The behaviour contract is [`contract`] (Kafka's KIP-98/360 rules: the numbered
//! broker rules and public scenarios that the tests cite, and what is still in
//! progress); the memory-ordering protocol and invariants are in [`implementation`].
//!
//! ```
//! use idemlog::{BatchHeader, Log, LogError, Record};
//! let log = Log::new();
//! log.create_topic("orders", 1).unwrap();
//! let pid = log.init_producer_id().producer_id;
//! let header = |base_sequence| Some(BatchHeader { producer_id: pid, epoch: 0, base_sequence });
//! log.append("orders", 0, header(0), [Record::new("o-1")]).unwrap();
//! // A gap in the sequence is detected, not silently accepted:
//! let gap = log.append("orders", 0, header(2), [Record::new("o-3")]);
//! assert_eq!(gap, Err(LogError::OutOfOrderSequence { expected: 1, got: 2 }));
//! ```

mod asymmetric_fence;
mod client_keys;
mod client_properties;
pub mod clock;
mod cluster;
pub mod consumer;
mod consumer_error;
pub mod contract;
pub mod error;
pub mod implementation;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "kafka")]
mod kafka_error;
pub mod log;
pub mod producer;
pub mod record;
mod sync;
mod ticker;
mod types;

pub use clock::{Clock, CoarseClock, ManualClock, SystemClock};
pub use cluster::{Cluster, ClusterError};
pub use consumer::{Consumer, ConsumerError, MultiConsumer, RecordView, TopicPartition};
pub use error::LogError;
pub use log::{
    AppendOutcome, BatchMetadata, Log, LogConfig, MemoryUsage, PartitionHandle, ProduceRequest,
    ProducerAppender, ProducerStateSnapshot, ProducerStateStats, RetentionPolicy, RetentionReport,
    TopicConfig, DEFAULT_MEMORY_BUDGET,
};
pub use record::{AsRecord, ConsumerRecord, IntoRecords, ProducerMetadata, Record, RecordRef};
pub use types::{BatchHeader, ProducerId, ProducerIdentity, MAX_EPOCH};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
