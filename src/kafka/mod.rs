//! The Kafka backend (feature `kafka`): the same [`Producer`](crate::producer::Producer)
//! and [`MultiConsumer`](crate::MultiConsumer) over an Apache Kafka cluster, on
//! librdkafka (the `rdkafka` crate).
//!
//! An application chooses the backend by configuration: a `bootstrap.servers`
//! property picks Kafka ([`Cluster::from_properties`](crate::Cluster::from_properties)),
//! or [`Cluster::kafka`](crate::Cluster::kafka) says so explicitly. The rest of
//! the code stays the same.

mod admin;
mod consumer;
mod consumer_config;
mod metadata;
mod producer;
mod producer_config;

pub use crate::kafka_error::KafkaError;
pub(crate) use admin::KafkaCluster;
pub use admin::CLUSTER_TIMEOUT;
pub(crate) use consumer::KafkaConsumer;
pub(crate) use metadata::LookupError;
pub(crate) use producer::KafkaProducer;
