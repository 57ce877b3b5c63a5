//! [`Cluster`]: where an application's producers and consumers connect — the
//! in-process [`Log`], or (feature `kafka`) an Apache Kafka cluster — chosen by
//! configuration, so moving from one to the other changes no code.

use std::fmt;

use crate::consumer::ConsumerConfig;
use crate::consumer_error::ConsumerError;
use crate::error::LogError;
use crate::log::Log;
use crate::producer::{Producer, ProducerConfig, ProducerError};
use crate::MultiConsumer;

/// The backend of a [`Cluster`].
#[derive(Clone, Debug)]
enum Backend {
    InProcess(Log),
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka::KafkaCluster),
}

/// Where producers and consumers connect: the in-process [`Log`], or a Kafka
/// cluster (feature `kafka`). Made from the application's properties, it is the
/// one place the choice is made: a `bootstrap.servers` property picks Kafka
/// ([`Cluster::from_properties`]), and the same [`Producer`] and
/// [`MultiConsumer`] API then runs over either.
///
/// ```
/// use std::time::Duration;
/// use idemlog::consumer::ConsumerConfig;
/// use idemlog::producer::{ProducerConfig, ProducerRecord};
/// use idemlog::{Cluster, Log};
///
/// // The application's properties; adding ("bootstrap.servers", "host:9092")
/// // (with the `kafka` feature) moves it to a Kafka cluster.
/// let properties = [("client.id", "orders-app")];
/// let log = Log::new();
/// let cluster = Cluster::from_properties(&log, properties)?;
/// cluster.create_topic("orders", 3)?;
///
/// let producer = cluster.producer(ProducerConfig::from_properties(properties)?)?;
/// producer.send(ProducerRecord::new("orders", "o-1").key("customer-7")).unwrap();
/// producer.flush(Duration::from_secs(5))?;
///
/// let config = ConsumerConfig::from_properties(properties)?.set("auto.offset.reset", "earliest")?;
/// let mut consumer = cluster.multi_consumer(config)?;
/// consumer.assign_topic("orders")?;
/// let records = consumer.poll_timeout(Duration::from_secs(5))?;
/// assert_eq!(records[0].value, "o-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Cluster {
    backend: Backend,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.backend.fmt(f)
    }
}

/// Why a [`Cluster`] could not be made, or refused a topic operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// What the log (in process) or the cluster (the same errors, mapped)
    /// answered: a topic that exists already, one that does not, a bad
    /// partition count.
    Log(LogError),
    /// A property was refused (`bootstrap.servers` in a build without the
    /// `kafka` feature, an empty value).
    Config {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The Kafka cluster could not be reached, or refused the operation.
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka::KafkaError),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log(error) => error.fmt(f),
            Self::Config { key, reason } => write!(f, "invalid cluster property '{key}': {reason}"),
            #[cfg(feature = "kafka")]
            Self::Kafka(error) => write!(f, "Kafka: {error}"),
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Log(error) => Some(error),
            Self::Config { .. } => None,
            #[cfg(feature = "kafka")]
            Self::Kafka(error) => Some(error),
        }
    }
}

impl From<LogError> for ClusterError {
    fn from(error: LogError) -> Self {
        Self::Log(error)
    }
}

#[cfg(feature = "kafka")]
impl From<crate::kafka::LookupError> for ClusterError {
    fn from(error: crate::kafka::LookupError) -> Self {
        match error {
            crate::kafka::LookupError::Log(error) => Self::Log(error),
            crate::kafka::LookupError::Kafka(error) => Self::Kafka(error),
        }
    }
}

impl Cluster {
    /// The in-process log.
    pub fn in_process(log: &Log) -> Self {
        Self {
            backend: Backend::InProcess(log.clone()),
        }
    }

    /// The Kafka cluster at `bootstrap_servers` (`host:port[,host:port...]`),
    /// checked reachable: fails within [`CLUSTER_TIMEOUT`](crate::kafka::CLUSTER_TIMEOUT)
    /// if no broker answers.
    #[cfg(feature = "kafka")]
    pub fn kafka(bootstrap_servers: &str) -> Result<Self, ClusterError> {
        let servers = bootstrap_servers.trim();
        if servers.is_empty() {
            return Err(ClusterError::Config {
                key: "bootstrap.servers".to_string(),
                reason: "expected a comma-separated list of host:port".to_string(),
            });
        }
        Ok(Self {
            backend: Backend::Kafka(
                crate::kafka::KafkaCluster::connect(servers).map_err(ClusterError::Kafka)?,
            ),
        })
    }

    /// The cluster the application's properties name: the Kafka cluster of
    /// their `bootstrap.servers` ([`Cluster::kafka`]), or without one the
    /// in-process `log`. Every other key is the clients' own (pass the same
    /// properties to [`ProducerConfig::from_properties`] and
    /// [`ConsumerConfig::from_properties`]) and is ignored here. Without the
    /// `kafka` feature a `bootstrap.servers` is [`ClusterError::Config`].
    pub fn from_properties<'a>(
        log: &Log,
        properties: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ClusterError> {
        let servers = properties
            .into_iter()
            .filter(|(key, _)| key.trim() == "bootstrap.servers")
            .last()
            .map(|(_, value)| value.trim());
        match servers {
            None => Ok(Self::in_process(log)),
            #[cfg(feature = "kafka")]
            Some(servers) => Self::kafka(servers),
            #[cfg(not(feature = "kafka"))]
            Some(_) => Err(ClusterError::Config {
                key: "bootstrap.servers".to_string(),
                reason: "this build of idemlog has no Kafka backend: enable its `kafka` feature"
                    .to_string(),
            }),
        }
    }

    /// The Kafka cluster's `bootstrap.servers`; `None` in process.
    pub fn bootstrap_servers(&self) -> Option<&str> {
        match &self.backend {
            Backend::InProcess(_) => None,
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => Some(kafka.bootstrap_servers()),
        }
    }

    /// Creates topic `name` with `partitions` partitions (on Kafka with
    /// replication factor 1 and the cluster's topic defaults). A name that is
    /// taken is [`LogError::TopicAlreadyExists`] on both backends.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<(), ClusterError> {
        match &self.backend {
            Backend::InProcess(log) => Ok(log.create_topic(name, partitions)?),
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => Ok(kafka.create_topic(name, partitions)?),
        }
    }

    /// `topic`'s partition count; an unknown topic is [`LogError::UnknownTopic`]
    /// on both backends.
    pub fn partition_count(&self, topic: &str) -> Result<u32, ClusterError> {
        match &self.backend {
            Backend::InProcess(log) => Ok(log.partition_count(topic)?),
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => Ok(kafka.partition_count(topic)?),
        }
    }

    /// A producer with `config`: [`Producer::new`] on the in-process log, or a
    /// Kafka producer (librdkafka) with `config` translated (see
    /// [`crate::kafka`]). A `bootstrap.servers` in `config` must name this
    /// cluster.
    pub fn producer(&self, config: ProducerConfig) -> Result<Producer, ProducerError> {
        match &self.backend {
            Backend::InProcess(log) => Producer::new(log, config),
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => {
                let servers = kafka.bootstrap_servers();
                check_same_cluster(config.client.bootstrap_servers(), servers)
                    .map_err(ProducerError::Config)?;
                Ok(Producer::remote(std::sync::Arc::new(
                    crate::kafka::KafkaProducer::new(config, servers)?,
                )))
            }
        }
    }

    /// A consumer of partitions assigned by hand ([`Log::multi_consumer`] in
    /// process).
    pub fn multi_consumer(&self, config: ConsumerConfig) -> Result<MultiConsumer, ConsumerError> {
        match &self.backend {
            Backend::InProcess(log) => log.multi_consumer(config),
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => {
                let config = kafka_consumer_config(config, kafka.bootstrap_servers())?;
                Ok(MultiConsumer::remote(Box::new(
                    crate::kafka::KafkaConsumer::assigned(&config)?,
                )))
            }
        }
    }

    /// A member of `config`'s consumer group subscribed to `topics`
    /// ([`Log::subscribe`] in process).
    pub fn subscribe(
        &self,
        config: ConsumerConfig,
        topics: &[&str],
    ) -> Result<MultiConsumer, ConsumerError> {
        match &self.backend {
            Backend::InProcess(log) => log.subscribe(config, topics),
            #[cfg(feature = "kafka")]
            Backend::Kafka(kafka) => {
                let config = kafka_consumer_config(config, kafka.bootstrap_servers())?;
                Ok(MultiConsumer::remote(Box::new(
                    crate::kafka::KafkaConsumer::subscribe(&config, topics)?,
                )))
            }
        }
    }
}

/// `config` with the cluster's `bootstrap.servers` (its own, if set, must be
/// the same).
#[cfg(feature = "kafka")]
fn kafka_consumer_config(
    mut config: ConsumerConfig,
    servers: &str,
) -> Result<ConsumerConfig, ConsumerError> {
    check_same_cluster(config.client.bootstrap_servers(), servers).map_err(|error| {
        ConsumerError::Config {
            key: "bootstrap.servers".to_string(),
            reason: error.to_string(),
        }
    })?;
    config
        .client
        .set_bootstrap_servers(servers)
        .map_err(|reason| ConsumerError::Config {
            key: "bootstrap.servers".to_string(),
            reason: reason.to_string(),
        })?;
    Ok(config)
}

/// A client config's own `bootstrap.servers` must be the cluster's, if set.
#[cfg(feature = "kafka")]
fn check_same_cluster(
    configured: Option<&str>,
    cluster: &str,
) -> Result<(), crate::producer::ConfigError> {
    match configured {
        Some(servers) if servers != cluster => Err(crate::producer::ConfigError::Conflict {
            key: "bootstrap.servers".to_string(),
            reason: format!("'{servers}' is not this cluster's bootstrap.servers '{cluster}'"),
        }),
        _ => Ok(()),
    }
}
