//! Topic metadata from the cluster: a topic's partition count, with the
//! in-process log's errors for a topic that does not exist.

use std::time::Duration;

use rdkafka::client::Client;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::ClientContext;

use crate::error::LogError;
use crate::kafka_error::KafkaError;
use crate::producer::ProducerError;
use crate::ConsumerError;

/// Why a topic's partition count is not known.
#[derive(Debug)]
pub(crate) enum LookupError {
    /// The cluster says the topic does not exist (the same error as in process).
    Log(LogError),
    /// The metadata request failed (unreachable cluster, timeout, ...).
    Kafka(KafkaError),
}

impl From<LookupError> for ProducerError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::Log(error) => Self::Log(error),
            LookupError::Kafka(error) => Self::Kafka(error),
        }
    }
}

impl From<LookupError> for ConsumerError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::Log(error) => Self::Log(error),
            LookupError::Kafka(error) => Self::Kafka(error),
        }
    }
}

/// The partition count of `topic`, asking the cluster (waits up to `timeout`).
pub(crate) fn partition_count<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<u32, LookupError> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|error| LookupError::Kafka(KafkaError::new("fetch topic metadata", error)))?;
    let unknown = || {
        LookupError::Log(LogError::UnknownTopic {
            topic: topic.to_string(),
        })
    };
    let found = metadata
        .topics()
        .iter()
        .find(|candidate| candidate.name() == topic)
        .ok_or_else(unknown)?;
    match found.error() {
        None if !found.partitions().is_empty() => {
            Ok(u32::try_from(found.partitions().len()).unwrap_or(u32::MAX))
        }
        None
        | Some(
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
            | RDKafkaRespErr::RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
        ) => Err(unknown()),
        Some(code) => Err(LookupError::Kafka(KafkaError::new(
            "fetch topic metadata",
            rdkafka::error::KafkaError::MetadataFetch(code.into()),
        ))),
    }
}
