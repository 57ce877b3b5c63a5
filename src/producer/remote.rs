//! [`RemoteProducer`]: what a [`Producer`](super::Producer) needs from a
//! backend that sends to a remote cluster instead of the in-process log. The
//! Kafka backend (`src/kafka/producer.rs`) implements it; the producer module
//! defines it, so it does not depend on the backend.

use std::time::Duration;

use super::config::ProducerConfig;
use super::delivery::{Callback, DeliveryHandle};
use super::error::ProducerError;
use super::metrics::MetricsSnapshot;
use super::record::{ProducerRecord, SendError};

/// A remote producer client; each method is the same-named method of
/// [`Producer`](super::Producer), with the same contract.
pub(crate) trait RemoteProducer: Send + Sync + std::fmt::Debug {
    /// The producer instance id (`new_owner`), for the handles' callback checks.
    fn owner(&self) -> u64;
    /// `send` / `send_with_callback`.
    fn send(
        &self,
        record: ProducerRecord<'_>,
        callback: Option<Callback>,
    ) -> Result<DeliveryHandle, SendError>;
    /// The partition count of `topic` (for `topic`).
    fn partitions(&self, topic: &str) -> Result<u32, ProducerError>;
    /// `flush`.
    fn flush(&self, timeout: Duration) -> Result<(), ProducerError>;
    /// `close`.
    fn close(&self, timeout: Duration) -> Result<(), ProducerError>;
    /// `metrics`.
    fn metrics(&self) -> MetricsSnapshot;
    /// `config`.
    fn config(&self) -> &ProducerConfig;
}
