//! The producer's errors: [`ConfigError`] for settings, [`ProducerError`] for
//! sends and deliveries.

use std::fmt;

use crate::error::LogError;

/// A bad producer setting. Every variant names the Kafka key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A key Kafka's producer (as modelled here) does not know.
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value that does not parse or is out of range.
    InvalidValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that contradict each other (e.g. idempotence set explicitly with
    /// `acks=1`).
    Conflict {
        /// The key at fault.
        key: String,
        /// The contradiction.
        reason: String,
    },
    /// A key of Kafka's Java producer client that idemlog cannot honour in
    /// process, or a value of it other than Kafka's default (see
    /// [`ProducerConfig::UNSUPPORTED_KEYS`](super::ProducerConfig::UNSUPPORTED_KEYS)).
    Unsupported {
        /// The key.
        key: String,
        /// Why it cannot be honoured, and what to do instead.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, value: &str, reason: &str) -> Self {
        Self::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey { key } => write!(f, "unknown producer config key '{key}'"),
            Self::InvalidValue { key, value, reason } => {
                write!(f, "invalid value '{value}' for '{key}': {reason}")
            }
            Self::Conflict { key, reason } => write!(f, "invalid '{key}': {reason}"),
            Self::Unsupported { key, reason } => {
                write!(f, "unsupported producer config key '{key}': {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why a send or a delivery failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProducerError {
    /// The configuration was rejected.
    Config(ConfigError),
    /// The log rejected the record or its batch (unknown topic or partition,
    /// batch too large, partition full, ...), or answered a sequence error after
    /// the retries ran out.
    Log(LogError),
    /// The log refused the record's batch (for good, or with no retry left)
    /// after an earlier attempt of it went unanswered (a lost request or
    /// response): that attempt may have been written, so the record may be in
    /// the log whatever the later answers were. `last_error` is the log's
    /// final answer (also [`source`](std::error::Error::source)).
    Unresolved {
        /// The log's answer to the batch's last attempt.
        last_error: LogError,
    },
    /// No response within `request.timeout.ms` and no retry left: the record may
    /// or may not be in the log.
    RequestTimeout {
        /// The request timeout.
        timeout_ms: u64,
    },
    /// Not delivered within `delivery.timeout.ms` of `send`. Unless
    /// `not_written` says otherwise, this means "not known", not "not
    /// written": the record may be in the log. `last_error` is the cause, if
    /// the log refused an attempt (also [`source`](std::error::Error::source)).
    #[non_exhaustive]
    DeliveryTimeout {
        /// The delivery timeout.
        timeout_ms: u64,
        /// The log's answer to the latest attempt of the record's batch that
        /// it answered with an error (each such answer appended nothing: e.g.
        /// [`LogError::LogFull`] while its memory budget stayed full, or
        /// [`LogError::Unavailable`]); `None` if no attempt was refused.
        last_error: Option<LogError>,
        /// True if the record is certainly not in the log: its batch was never
        /// sent, or every attempt of it was answered with a refusal. False
        /// (the outcome is unknown) once any attempt went unanswered (a lost
        /// request or response) or was still awaited at the timeout.
        not_written: bool,
    },
    /// `buffer.memory` stayed full for `max.block.ms`.
    BufferExhausted {
        /// The configured `max.block.ms`.
        max_block_ms: u64,
    },
    /// The record alone is larger than `buffer.memory`.
    RecordTooLarge {
        /// The record's size as counted against the buffer.
        size: usize,
        /// `buffer.memory`.
        limit: usize,
    },
    /// The producer is closed, or closed before the record was written: it
    /// was never sent, or the log refused every attempt. The record is
    /// certainly not in the log.
    Closed,
    /// The producer was closed (its `close` timed out) while the record's
    /// request was in flight, or after an attempt of it went unanswered: it
    /// may or may not be in the log. Resending it may create a duplicate.
    Abandoned,
    /// The allocator could not provide a batch's memory.
    AllocationFailed {
        /// The bytes asked for.
        bytes: usize,
    },
    /// `close` did not drain within its timeout; what was left failed with
    /// [`ProducerError::Closed`] (certainly not in the log) or
    /// [`ProducerError::Abandoned`] (may be), as `Producer::close` says.
    CloseTimeout {
        /// The timeout given to `close`.
        timeout_ms: u64,
    },
    /// `flush` did not see every record complete within its timeout (they
    /// go on: nothing is failed).
    FlushTimeout {
        /// The timeout given to `flush`.
        timeout_ms: u64,
    },
    /// The flusher thread could not be started.
    Spawn(String),
    /// `flush`, `close` or a handle's `wait` was called from a delivery
    /// callback (or a waker) of the same producer, which runs on its flusher
    /// thread: waiting there would wait for itself. `flush` and `wait` do
    /// nothing; `close` has stopped the producer accepting records, and the
    /// flusher drains the rest in the background.
    InCallback {
        /// `"flush"`, `"close"` or `"wait"`.
        operation: &'static str,
    },
    /// The Kafka backend: librdkafka or the cluster refused the send or the
    /// delivery ([`KafkaError::code`](crate::kafka_error::KafkaError::code) says
    /// which error; [`ProducerError::may_be_in_log`] whether the record may be
    /// in the log).
    #[cfg(feature = "kafka")]
    Kafka(crate::kafka_error::KafkaError),
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(err) => write!(f, "producer configuration: {err}"),
            Self::Log(err) => write!(f, "rejected by the log: {err}"),
            Self::RequestTimeout { timeout_ms } => write!(
                f,
                "no response within request.timeout.ms = {timeout_ms} and no retries left \
                 (the record may or may not be in the log)"
            ),
            Self::DeliveryTimeout {
                timeout_ms,
                last_error,
                not_written,
            } => {
                write!(
                    f,
                    "not acknowledged within delivery.timeout.ms = {timeout_ms} "
                )?;
                match (not_written, last_error) {
                    // Every attempt was answered, so the last error answered
                    // the last attempt.
                    (true, Some(error)) => write!(
                        f,
                        "(not written: every attempt was refused; last attempt: {error})"
                    ),
                    (true, None) => write!(f, "(not written: never sent)"),
                    (false, Some(error)) => write!(
                        f,
                        "(outcome unknown: the record may be in the log; last error: {error})"
                    ),
                    (false, None) => {
                        write!(f, "(outcome unknown: the record may be in the log)")
                    }
                }
            }
            Self::BufferExhausted { max_block_ms } => {
                write!(f, "buffer.memory full for max.block.ms = {max_block_ms}")
            }
            Self::RecordTooLarge { size, limit } => write!(
                f,
                "record of {size} bytes is larger than buffer.memory = {limit}"
            ),
            Self::Unresolved { last_error } => write!(
                f,
                "the log refused the last attempt ({last_error}) after an earlier attempt \
                 went unanswered (the record may be in the log)"
            ),
            Self::Closed => write!(f, "the producer is closed (the record was not written)"),
            Self::Abandoned => write!(
                f,
                "the producer closed while the record's request was in flight or unanswered \
                 (the record may be in the log)"
            ),
            Self::AllocationFailed { bytes } => {
                write!(f, "cannot allocate {bytes} bytes for a batch")
            }
            Self::CloseTimeout { timeout_ms } => write!(
                f,
                "close did not drain within {timeout_ms} ms; the remaining records failed"
            ),
            Self::FlushTimeout { timeout_ms } => write!(
                f,
                "flush: records sent before it still pending after {timeout_ms} ms"
            ),
            Self::Spawn(reason) => write!(f, "cannot start the flusher thread: {reason}"),
            Self::InCallback { operation } => write!(
                f,
                "{operation} called from a delivery callback of the same producer \
                 (its flusher thread) cannot wait for that thread"
            ),
            #[cfg(feature = "kafka")]
            Self::Kafka(err) => write!(f, "Kafka: {err}"),
        }
    }
}

impl std::error::Error for ProducerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(err) => Some(err),
            Self::Log(err)
            | Self::Unresolved { last_error: err }
            | Self::DeliveryTimeout {
                last_error: Some(err),
                ..
            } => Some(err),
            #[cfg(feature = "kafka")]
            Self::Kafka(err) => Some(err),
            _ => None,
        }
    }
}

impl ProducerError {
    /// True if a record that failed with this error may still be in the log
    /// (the outcome is unknown, as Kafka's timeouts are): resending it may
    /// create a duplicate. False means it is certainly not there.
    ///
    /// ```
    /// use idemlog::producer::ProducerError;
    /// assert!(ProducerError::Abandoned.may_be_in_log());
    /// assert!(ProducerError::RequestTimeout { timeout_ms: 1 }.may_be_in_log());
    /// assert!(!ProducerError::Closed.may_be_in_log());
    /// ```
    ///
    /// A [`ProducerError::DeliveryTimeout`] may be in the log unless it says
    /// `not_written`.
    pub fn may_be_in_log(&self) -> bool {
        match self {
            Self::Abandoned | Self::RequestTimeout { .. } | Self::Unresolved { .. } => true,
            Self::DeliveryTimeout { not_written, .. } => !not_written,
            #[cfg(feature = "kafka")]
            Self::Kafka(err) => err.outcome_unknown(),
            _ => false,
        }
    }
}

impl From<ConfigError> for ProducerError {
    fn from(err: ConfigError) -> Self {
        Self::Config(err)
    }
}

impl From<LogError> for ProducerError {
    fn from(err: LogError) -> Self {
        Self::Log(err)
    }
}
