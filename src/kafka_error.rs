//! [`KafkaError`]: what the Kafka backend (`src/kafka/`) reports when librdkafka or the
//! cluster refuses an operation.

use std::fmt;

use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};

/// An error of the Kafka backend: the operation that failed and librdkafka's
/// error (with the broker's error code, when there is one).
///
/// ```
/// use idemlog::kafka::KafkaError;
/// use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
/// let error = KafkaError::new("create topic", RdKafkaError::AdminOp(RDKafkaErrorCode::TopicAlreadyExists));
/// assert_eq!(error.code(), Some(RDKafkaErrorCode::TopicAlreadyExists));
/// assert!(error.to_string().starts_with("create topic: "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaError {
    operation: &'static str,
    error: RdKafkaError,
}

impl KafkaError {
    /// `operation` (what the backend was doing, e.g. `"subscribe"`) failed with
    /// librdkafka's `error`.
    pub fn new(operation: &'static str, error: RdKafkaError) -> Self {
        Self { operation, error }
    }

    /// What the backend was doing.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// librdkafka's error code (a broker error or one of librdkafka's own),
    /// if the error carries one.
    pub fn code(&self) -> Option<RDKafkaErrorCode> {
        match &self.error {
            // The `rdkafka` crate reports no code for an admin error; it has one.
            RdKafkaError::AdminOp(code) => Some(*code),
            error => error.rdkafka_error_code(),
        }
    }

    /// librdkafka's error, as the `rdkafka` crate reports it.
    pub fn rdkafka(&self) -> &RdKafkaError {
        &self.error
    }

    /// True if a record whose delivery failed with this error may still be in
    /// the log: its request may have reached the broker (a timeout, a lost
    /// connection, a purge of an in-flight request). False for errors that
    /// mean the broker refused or never saw it.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(
            self.code(),
            Some(
                RDKafkaErrorCode::MessageTimedOut
                    | RDKafkaErrorCode::RequestTimedOut
                    | RDKafkaErrorCode::OperationTimedOut
                    | RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::PurgeInflight
                    | RDKafkaErrorCode::NetworkException
                    | RDKafkaErrorCode::NotEnoughReplicasAfterAppend
            )
        )
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.error)
    }
}

impl std::error::Error for KafkaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
