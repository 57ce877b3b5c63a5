//! The Kafka backend (feature `kafka`): the same [`Producer`](crate::producer::Producer)
//! and [`MultiConsumer`](crate::MultiConsumer) over an Apache Kafka cluster, on
//! librdkafka (the `rdkafka` crate).
//!
//! An application chooses the backend by configuration: a `bootstrap.servers`
//! property picks Kafka ([`Cluster::from_properties`](crate::Cluster::from_properties)),
//! or [`Cluster::kafka`](crate::Cluster::kafka) says so explicitly. The rest of
//! the code stays the same.

mod consumer;
mod consumer_config;
mod error;

// used by the MultiConsumer facade (wired next)
#[allow(unused_imports)]
pub(crate) use consumer::KafkaConsumer;
pub use error::KafkaError;
