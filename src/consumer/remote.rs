//! [`RemoteConsumer`]: what a [`MultiConsumer`](super::MultiConsumer) needs
//! from a backend that reads a remote cluster instead of the in-process log.
//! The Kafka backend (`src/kafka/consumer.rs`) implements it; the consumer
//! module defines it, so it does not depend on the backend.

use std::ops::ControlFlow;
use std::time::Duration;

pub(crate) use super::commit_callbacks::CommitDone;
use super::lag::PartitionLag;
use super::rebalance::Rebalance;
use super::signal::WakeupHandle;
use super::view::RecordView;
use crate::consumer_error::ConsumerError;
use crate::types::TopicPartition;

/// A read callback, as a trait object: `Break` stops the poll after the
/// record it was handed (see [`VisitFlow`](super::VisitFlow)).
pub(crate) type Visit<'v> = &'v mut dyn FnMut(RecordView<'_>) -> ControlFlow<()>;

/// A rebalance listener, boxed.
pub(crate) type Listener = Box<dyn FnMut(Rebalance<'_>) + Send>;

/// A remote consumer client; each method is the same-named method of
/// [`MultiConsumer`](super::MultiConsumer), with the same contract.
pub(crate) trait RemoteConsumer: Send + std::fmt::Debug {
    /// `assign`.
    fn assign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError>;
    /// `assign_topic`.
    fn assign_topic(&mut self, topic: &str) -> Result<(), ConsumerError>;
    /// `unassign`.
    fn unassign(&mut self, topic: &str, partition: u32) -> Result<(), ConsumerError>;
    /// `assignment`.
    fn assignment(&self) -> Vec<TopicPartition>;
    /// `position`.
    fn position(&self, topic: &str, partition: u32) -> Result<u64, ConsumerError>;
    /// `seek`.
    fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> Result<(), ConsumerError>;
    /// `seek_to_beginning`.
    fn seek_to_beginning(&mut self);
    /// `seek_to_end`.
    fn seek_to_end(&mut self);
    /// `lag`.
    fn lag(&self) -> Vec<PartitionLag>;
    /// `wakeup_handle`.
    fn wakeup_handle(&self) -> WakeupHandle;
    /// `poll_with`.
    fn poll_with(&mut self, max: usize, visit: Visit<'_>) -> Result<usize, ConsumerError>;
    /// `poll_with_timeout`.
    fn poll_with_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
        visit: Visit<'_>,
    ) -> Result<usize, ConsumerError>;
    /// `on_rebalance`.
    fn on_rebalance(&mut self, listener: Listener) -> Result<(), ConsumerError>;
    /// `generation`.
    fn generation(&self) -> Option<u64>;
    /// `commit`.
    fn commit(&mut self) -> Result<(), ConsumerError>;
    /// `commit_offsets`.
    fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<(), ConsumerError>;
    /// `commit_async`.
    fn commit_async(&mut self, on_done: CommitDone);
    /// `committed`.
    fn committed(&self, topic: &str, partition: u32) -> Result<Option<u64>, ConsumerError>;
    /// `close`.
    fn close(self: Box<Self>) -> Result<(), ConsumerError>;
    /// `max.poll.records`, for the owned-record polls.
    fn max_poll_records(&self) -> usize;
}
