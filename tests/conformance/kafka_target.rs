//! What the Kafka targets share: a [`Cluster`] reached by a bootstrap address,
//! producers and consumers made through it from the checks' properties, and
//! the broker side ([`Broker`]: topics, faults on the producer's connection).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use idemlog::consumer::ConsumerConfig;
use idemlog::producer::{Producer, ProducerConfig, ProducerError};
use idemlog::{Cluster, ConsumerError, MultiConsumer};

use crate::target::{Capabilities, LinkFault, Properties, Target};

/// Producer properties every Kafka target adds (a check's own come after and
/// win): a short request timeout, so that a lost response costs a second, not
/// Kafka's 30.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[("request.timeout.ms", "1000")];

/// The broker side of a Kafka target.
pub(crate) trait Broker {
    /// Creates a topic (by default through the cluster's admin API).
    fn create_topic(&self, cluster: &Cluster, name: &str, partitions: u32) -> Result<(), String> {
        cluster
            .create_topic(name, partitions)
            .map_err(|error| error.to_string())
    }

    /// Arms `faults` for the producer's next produce requests, in order.
    fn inject(&self, faults: &[LinkFault]);
}

/// A Kafka target: a cluster, its fault injector and its capability table.
pub(crate) struct KafkaTarget<I> {
    /// The target's name, for messages.
    name: &'static str,
    cluster: Cluster,
    /// Makes this run's topic names unique on a shared cluster.
    run: String,
    topics: AtomicU64,
    capabilities: Capabilities,
    /// Consumer properties the target adds (a check's own come after and
    /// win): the broker's group timing.
    consumer_defaults: &'static [(&'static str, &'static str)],
    // Last: the cluster's clients go before the broker they talk to.
    broker: I,
}

impl<I: Broker> KafkaTarget<I> {
    /// A target on the cluster at `bootstrap_servers` (panics, failing the
    /// check, if it cannot be reached).
    pub(crate) fn new(
        name: &'static str,
        bootstrap_servers: &str,
        capabilities: Capabilities,
        consumer_defaults: &'static [(&'static str, &'static str)],
        broker: I,
    ) -> Self {
        let cluster = Cluster::kafka(bootstrap_servers)
            .unwrap_or_else(|error| panic!("{}: connect to {bootstrap_servers}: {error}", name));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        Self {
            name,
            cluster,
            run: format!("{}-{nanos:x}", std::process::id()),
            topics: AtomicU64::new(0),
            capabilities,
            consumer_defaults,
            broker,
        }
    }
}

impl<I> KafkaTarget<I> {
    fn consumer_config(&self, properties: Properties<'_>) -> Result<ConsumerConfig, ConsumerError> {
        ConsumerConfig::from_properties(self.consumer_defaults.iter().chain(properties).copied())
    }
}

impl<I: Broker> Target for KafkaTarget<I> {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn create_topic(&self, name: &str, partitions: u32) -> String {
        // Relaxed: a counter for unique names only.
        let n = self.topics.fetch_add(1, Ordering::Relaxed);
        let topic = format!("{name}-{}-{n}", self.run);
        self.broker
            .create_topic(&self.cluster, &topic, partitions)
            .unwrap_or_else(|error| panic!("{}: create topic {topic}: {error}", self.name));
        topic
    }

    fn producer(
        &self,
        properties: Properties<'_>,
        faults: &[LinkFault],
    ) -> Result<Producer, ProducerError> {
        let config =
            ProducerConfig::from_properties(PRODUCER_DEFAULTS.iter().chain(properties).copied())
                .map_err(ProducerError::Config)?;
        let producer = self.cluster.producer(config)?;
        self.broker.inject(faults);
        Ok(producer)
    }

    fn consumer(&self, properties: Properties<'_>) -> Result<MultiConsumer, ConsumerError> {
        self.cluster
            .multi_consumer(self.consumer_config(properties)?)
    }

    fn subscribe(
        &self,
        properties: Properties<'_>,
        topics: &[&str],
    ) -> Result<MultiConsumer, ConsumerError> {
        self.cluster
            .subscribe(self.consumer_config(properties)?, topics)
    }
}

/// No fault injection: a cluster given by its address
/// ([`crate::external`]).
pub(crate) struct NoFaults;

impl Broker for NoFaults {
    fn inject(&self, faults: &[LinkFault]) {
        assert!(faults.is_empty(), "this target cannot inject faults");
    }
}
