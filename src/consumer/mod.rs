//! Reading the log: by partition or many at once, by hand or in consumer
//! groups, non-blocking, blocking or as iterators, with owned records or
//! zero-copy views.
//!
//! | type | reads | errors |
//! |---|---|---|
//! | [`Consumer`] | one partition, by offset (the log-level reader, fastest) | [`LogError`](crate::LogError) |
//! | [`MultiConsumer`] from [`Log::multi_consumer`](crate::Log::multi_consumer) | partitions assigned by hand, of any topics | [`ConsumerError`] |
//! | [`MultiConsumer`] from [`Log::subscribe`](crate::Log::subscribe) | the partitions its consumer group assigns it | [`ConsumerError`] |
//!
//! Each has the same read forms: `poll_with` (zero-copy, never blocks, the
//! visitor may stop early: [`VisitFlow`]), `poll_with_timeout` (zero-copy,
//! blocks for the first record), owned `poll`/`poll_timeout`, `try_recv`,
//! `recv_timeout`, and the iterators `iter()` (blocking), `try_iter()` (until
//! caught up) and `for record in &mut consumer`.
//!
//! With the feature `async` (which depends on `futures-core` only), a
//! [`MultiConsumer`] also waits without a thread: `readable().await` and then
//! the zero-copy `poll_with`, or `stream()`, a `futures_core::Stream` of owned
//! records (`Readable`, `RecordStream`); both are woken by the append path and
//! by the group coordinator.

// Crate-visible for the Kafka backend (feature `kafka`).
pub(crate) mod commit_callbacks;
mod config;
mod lag;
mod log_consumer;
mod membership;
mod multi;
mod partition_consumer;
mod rebalance;
mod receive;
#[cfg(feature = "kafka")]
pub(crate) mod remote;
// Crate-visible for the Kafka backend (feature `kafka`): `Signal`,
// `WakeupHandle::new`, `RecordView` and `VisitFlow`.
pub(crate) mod signal;
#[cfg(feature = "async")]
mod stream;
pub(crate) mod view;
pub(crate) mod visit;

pub use crate::consumer_error::ConsumerError;
pub use crate::log::Assignor;
pub use crate::types::TopicPartition;
pub use commit_callbacks::MAX_PENDING_COMMIT_CALLBACKS;
pub use config::{ConsumerConfig, OffsetReset, KEYS};
pub use lag::PartitionLag;
pub use multi::MultiConsumer;
pub use partition_consumer::Consumer;
pub use rebalance::{Rebalance, Revocation};
pub use receive::{Iter, Receive, TryIter};
pub use signal::WakeupHandle;
#[cfg(feature = "async")]
pub use stream::{Readable, RecordStream};
pub use view::RecordView;
pub use visit::VisitFlow;
