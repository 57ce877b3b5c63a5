//! [`KafkaCluster`]: the cluster side of [`Cluster`](crate::Cluster) on Kafka:
//! its bootstrap address, checked reachable, and topic administration through
//! librdkafka's admin client.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};

use super::metadata::{partition_count, LookupError};
use crate::error::LogError;
use crate::kafka_error::KafkaError;

/// The longest a call to the cluster waits for its answer: connecting (the
/// first metadata request), an admin operation, and the consumer's metadata,
/// watermark, committed-offset and seek calls.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(10);

/// A reachable Kafka cluster (see the module comment). Clones share the
/// admin client.
#[derive(Clone)]
pub(crate) struct KafkaCluster {
    bootstrap_servers: Arc<str>,
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl KafkaCluster {
    /// Connects to `bootstrap_servers`: fails within [`CLUSTER_TIMEOUT`] if
    /// no broker answers a metadata request.
    pub(crate) fn connect(bootstrap_servers: &str) -> Result<Self, KafkaError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            // A lookup of a missing topic must not create it.
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|error| KafkaError::new("create admin client", error))?;
        admin
            .inner()
            .fetch_metadata(None, CLUSTER_TIMEOUT)
            .map_err(|error| KafkaError::new("connect to bootstrap.servers", error))?;
        Ok(Self {
            bootstrap_servers: bootstrap_servers.into(),
            admin: Arc::new(admin),
        })
    }

    pub(crate) fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Creates `name` with `partitions` partitions (replication factor 1,
    /// the cluster's defaults otherwise), waiting up to [`CLUSTER_TIMEOUT`].
    /// An existing topic is [`LogError::TopicAlreadyExists`], as in process.
    pub(crate) fn create_topic(&self, name: &str, partitions: u32) -> Result<(), LookupError> {
        let partitions_i32 = i32::try_from(partitions).map_err(|_| {
            LookupError::Log(LogError::InvalidConfig {
                setting: "partitions",
                reason: "Kafka allows at most i32::MAX partitions".to_string(),
            })
        })?;
        let topic = NewTopic::new(name, partitions_i32, TopicReplication::Fixed(1));
        let options = AdminOptions::new()
            .operation_timeout(Some(CLUSTER_TIMEOUT))
            .request_timeout(Some(CLUSTER_TIMEOUT));
        let results = block_on(self.admin.create_topics([&topic], &options))
            .map_err(|error| LookupError::Kafka(KafkaError::new("create topic", error)))?;
        match results.into_iter().next() {
            Some(Ok(_)) | None => Ok(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                Err(LookupError::Log(LogError::TopicAlreadyExists {
                    topic: name.to_string(),
                }))
            }
            Some(Err((_, code))) => Err(LookupError::Kafka(KafkaError::new(
                "create topic",
                RdKafkaError::AdminOp(code),
            ))),
        }
    }

    /// `topic`'s partition count, waiting up to [`CLUSTER_TIMEOUT`].
    pub(crate) fn partition_count(&self, topic: &str) -> Result<u32, LookupError> {
        partition_count(self.admin.inner(), topic, CLUSTER_TIMEOUT)
    }
}

/// Unparks the thread blocked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread. The admin client's futures are
/// completed by librdkafka's own thread, within the operation's timeouts, so
/// this needs no runtime and cannot wait forever.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
