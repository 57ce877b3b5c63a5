//! [`ConsumerConfig`]: the settings of a [`MultiConsumer`](super::MultiConsumer),
//! with Kafka's consumer keys and Kafka's defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::client_keys::{with_connection_keys, CONNECTION_KEYS};
use crate::client_properties::ClientProperties;
use crate::consumer_error::ConsumerError;
use crate::log::Assignor;

/// Where a consumer starts when it has no valid position: no committed offset
/// for a newly assigned partition, or a position outside the partition's records
/// (Kafka's `auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// `earliest`: the log start.
    Earliest,
    /// `latest`: the log end, so only records appended afterwards are read
    /// (Kafka's default).
    #[default]
    Latest,
    /// `none`: an error ([`ConsumerError::NoOffset`] or
    /// [`ConsumerError::OffsetOutOfRange`]) until the application seeks.
    None,
}

/// Kafka's consumer keys that a [`ConsumerConfig`] sets.
pub const KEYS: [&str; 7] = [
    "group.id",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "max.poll.interval.ms",
    "max.poll.records",
    "partition.assignment.strategy",
];

/// Why a duration below 1 ms is refused: the properties
/// `max.poll.interval.ms` and `auto.commit.interval.ms`, and their typed
/// setters (Kafka's `max.poll.interval.ms` is at least 1; the intervals are
/// used in whole milliseconds).
const POSITIVE_MILLIS: &str = "expected a positive number of milliseconds";

/// Why a `group.id` is refused, set as a property or typed.
const BLANK_GROUP: &str = "a group id is not empty or blank";

/// [`ConsumerConfig::IGNORED_KEYS`]: the keys every client shares, then the
/// consumer's own.
const CONSUMER_IGNORED_KEYS: [&str; CONNECTION_KEYS.len() + 15] = with_connection_keys([
    "key.deserializer",
    "value.deserializer",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "check.crcs",
    "client.rack",
    "isolation.level",
    "request.timeout.ms",
    "default.api.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
]);

/// Settings of a [`MultiConsumer`](super::MultiConsumer): typed setters or
/// Kafka's keys ([`KEYS`]), with Kafka's defaults. Keys of Kafka's Java consumer
/// that change nothing in process ([`ConsumerConfig::IGNORED_KEYS`]: the
/// connection and security keys the producer ignores too, the deserializers,
/// heartbeats and fetch tuning) are accepted and ignored; any other key is an
/// error naming it.
///
/// Making a consumer checks the values as Kafka does, set either way
/// ([`ConsumerError::Config`] naming the key): a `group.id` is not blank,
/// `max.poll.interval.ms` and `auto.commit.interval.ms` are at least 1 ms, and `enable.auto.commit=true` set
/// explicitly needs a `group.id` (left unset, auto commit is off without one).
///
/// ```
/// use idemlog::consumer::{ConsumerConfig, OffsetReset};
/// let config = ConsumerConfig::new()
///     .set("group.id", "billing")?
///     .set("auto.offset.reset", "earliest")?
///     .set("enable.auto.commit", "false")?;
/// assert_eq!(config.offset_reset_policy(), OffsetReset::Earliest);
/// assert!(ConsumerConfig::new().set("fetch.max.bytes.typo", "1").is_err());
/// # Ok::<(), idemlog::ConsumerError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ConsumerConfig {
    pub(crate) group_id: Option<Arc<str>>,
    pub(crate) offset_reset: OffsetReset,
    /// `enable.auto.commit` as set (a property or the typed setter); `None`
    /// left at its default, on with a `group.id` and off without one (an
    /// explicit `true` without a `group.id` is an error: Kafka's
    /// `maybeOverrideEnableAutoCommit`). Read through [`Self::auto_commits`].
    auto_commit: Option<bool>,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) max_poll_records: usize,
    pub(crate) assignor: Assignor,
    /// `bootstrap.servers` and the ignored keys, for the Kafka backend.
    pub(crate) client: ClientProperties,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsumerConfig {
    /// Keys of Kafka's Java consumer (Apache Kafka 3.x) accepted and ignored
    /// in process, because there they change nothing. Their values are not
    /// interpreted. By group:
    ///
    /// - The keys every client shares, as the producer's
    ///   [`IGNORED_KEYS`](crate::producer::ProducerConfig::IGNORED_KEYS) has
    ///   them: identity and metrics (`client.id`, `metric.reporters`,
    ///   `metrics.*`, ...), network, connections and metadata
    ///   (`send.buffer.bytes`, `reconnect.backoff.*`, `metadata.max.age.ms`,
    ///   ...) and security (`security.protocol`, `ssl.*`, `sasl.*`): there is
    ///   no network. So one set of properties configures both clients.
    /// - Deserializers (`key.deserializer`, `value.deserializer`): records
    ///   are bytes; the application deserializes.
    /// - Liveness (`session.timeout.ms`, `heartbeat.interval.ms`): a member's
    ///   liveness is `max.poll.interval.ms` and dropping the consumer; there
    ///   are no heartbeats.
    /// - Fetching (`fetch.min.bytes`, `fetch.max.wait.ms`, `fetch.max.bytes`,
    ///   `max.partition.fetch.bytes`, `check.crcs`, `client.rack`): a poll
    ///   reads the log's memory directly, up to `max.poll.records`.
    /// - `isolation.level`: there are no transactions, so every record is
    ///   committed.
    /// - Requests (`request.timeout.ms`, `default.api.timeout.ms`,
    ///   `retry.backoff.ms`, `retry.backoff.max.ms`): no request leaves the
    ///   process.
    pub const IGNORED_KEYS: &'static [&'static str] = &CONSUMER_IGNORED_KEYS;

    /// Kafka's defaults: no group, `auto.offset.reset=latest`, auto commit every
    /// 5 s (with a `group.id`: without one it is off), `max.poll.interval.ms=300000`,
    /// `max.poll.records=500`, the range assignor.
    pub fn new() -> Self {
        Self {
            group_id: None,
            offset_reset: OffsetReset::Latest,
            auto_commit: None,
            auto_commit_interval: Duration::from_secs(5),
            max_poll_interval: Duration::from_secs(300),
            max_poll_records: 500,
            assignor: Assignor::Range,
            client: ClientProperties::default(),
        }
    }

    /// `group.id`: the group whose committed offsets this consumer uses and
    /// commits, and which [`subscribe`](crate::Log::subscribe) joins. An empty
    /// or blank one is refused when the consumer is made
    /// ([`ConsumerError::Config`] naming `group.id`, as the property answers).
    pub fn group_id(mut self, group: &str) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// `auto.offset.reset`.
    pub fn offset_reset(mut self, policy: OffsetReset) -> Self {
        self.offset_reset = policy;
        self
    }

    /// `enable.auto.commit`: commit the positions at the start of a poll once
    /// `auto.commit.interval.ms` has passed, before partitions are revoked, and
    /// at [`close`](super::MultiConsumer::close) (the records handed out by earlier polls
    /// count as processed, as in Kafka: at-least-once). Auto commit needs a
    /// `group.id`: left unset, it is on with one and off without; set to `true`
    /// here (or by the property) without a `group.id`, making the consumer is
    /// an error ([`ConsumerError::Config`] naming `enable.auto.commit`), as
    /// Kafka's `InvalidConfigurationException`.
    pub fn auto_commit(mut self, enabled: bool) -> Self {
        self.auto_commit = Some(enabled);
        self
    }

    /// Whether positions are committed automatically: `enable.auto.commit`,
    /// on unless set to false (a consumer without a `group.id` has nowhere to
    /// commit, and its callers check the group too).
    pub(crate) fn auto_commits(&self) -> bool {
        self.auto_commit.unwrap_or(true)
    }

    /// `auto.commit.interval.ms`: how often a poll commits the positions.
    /// Whole milliseconds count: below 1 ms is refused when the consumer is
    /// made ([`ConsumerError::Config`] naming `auto.commit.interval.ms`, as the
    /// property `auto.commit.interval.ms=0` answers).
    pub fn auto_commit_interval(mut self, interval: Duration) -> Self {
        self.auto_commit_interval = interval;
        self
    }

    /// `max.poll.interval.ms`: a group member that does not poll for this long
    /// is removed from its group and its partitions are handed over. Waiting
    /// inside a poll (a blocking read, a pending async wait) is polling. Whole
    /// milliseconds count: below 1 ms (Kafka's minimum) is refused when the
    /// consumer is made ([`ConsumerError::Config`] naming
    /// `max.poll.interval.ms`, as the property `max.poll.interval.ms=0` answers).
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self
    }

    /// `max.poll.records`: the most records one owned-record poll returns.
    pub fn max_poll_records(mut self, records: usize) -> Self {
        self.max_poll_records = records;
        self
    }

    /// `partition.assignment.strategy`.
    pub fn assignor(mut self, assignor: Assignor) -> Self {
        self.assignor = assignor;
        self
    }

    /// The `group.id`, if any.
    pub fn group(&self) -> Option<&str> {
        self.group_id.as_deref()
    }

    /// The `auto.offset.reset` policy.
    pub fn offset_reset_policy(&self) -> OffsetReset {
        self.offset_reset
    }

    /// Sets one of Kafka's keys (trimmed); see the type's documentation.
    pub fn set(self, key: &str, value: &str) -> Result<Self, ConsumerError> {
        let (key, value) = (key.trim(), value.trim());
        let invalid = |reason: &str| ConsumerError::Config {
            key: key.to_string(),
            reason: format!("'{value}': {reason}"),
        };
        // Both interval keys are `int`s in Kafka's consumer config: above
        // i32::MAX ms Kafka refuses them (a typed `Duration` may be longer).
        let millis = || match value.parse::<u64>() {
            Ok(ms) if ms > i32::MAX as u64 => Err(invalid(&format!(
                "out of range: at most {} ms (Kafka's int)",
                i32::MAX
            ))),
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(invalid(POSITIVE_MILLIS)),
        };
        Ok(match key {
            "group.id" if value.is_empty() => return Err(invalid(BLANK_GROUP)),
            "group.id" => self.group_id(value),
            "auto.offset.reset" => self.offset_reset(match value.to_ascii_lowercase().as_str() {
                "earliest" => OffsetReset::Earliest,
                "latest" => OffsetReset::Latest,
                "none" => OffsetReset::None,
                _ => return Err(invalid("expected earliest, latest or none")),
            }),
            "enable.auto.commit" => self.auto_commit(match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid("expected true or false")),
            }),
            "auto.commit.interval.ms" => self.auto_commit_interval(millis()?),
            "max.poll.interval.ms" => self.max_poll_interval(millis()?),
            "max.poll.records" => self.max_poll_records(
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|&records| records > 0)
                    .ok_or_else(|| invalid("expected a positive number of records"))?,
            ),
            "partition.assignment.strategy" => {
                // Kafka takes a list in preference order and refuses an
                // unknown entry anywhere in it; the first one is used.
                let expected = "expected a list of range, roundrobin or cooperative-sticky";
                let assignors = value
                    .split(',')
                    .map(|name| Assignor::from_kafka_name(name).ok_or_else(|| invalid(expected)))
                    .collect::<Result<Vec<_>, _>>()?;
                // `split` yields at least one name.
                self.assignor(assignors[0])
            }
            "bootstrap.servers" => {
                let mut config = self;
                config
                    .client
                    .set_bootstrap_servers(value)
                    .map_err(invalid)?;
                config
            }
            ignored if Self::IGNORED_KEYS.contains(&ignored) => {
                let mut config = self;
                config.client.record_ignored(key, value);
                config
            }
            _ => {
                return Err(ConsumerError::Config {
                    key: key.to_string(),
                    reason: format!("unknown key (idemlog's consumer keys: {})", KEYS.join(", ")),
                })
            }
        })
    }

    /// Builds a config from Kafka properties, in order.
    pub fn from_properties<'a>(
        properties: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConsumerError> {
        properties
            .into_iter()
            .try_fold(Self::new(), |config, (key, value)| config.set(key, value))
    }
}

impl ConsumerConfig {
    /// What an in-process consumer checks: the values
    /// ([`validate_values`](Self::validate_values)), and no `bootstrap.servers`
    /// (that config is for the Kafka backend).
    pub(crate) fn validate(&self) -> Result<(), ConsumerError> {
        if let Some(servers) = self.client.bootstrap_servers() {
            return Err(ConsumerError::Config {
                key: "bootstrap.servers".to_string(),
                reason: format!(
                    "'{servers}': a config with bootstrap.servers is for a Kafka cluster; \
                     make the consumer with Cluster::from_properties, not from a Log"
                ),
            });
        }
        self.validate_values()
    }

    /// Rejects values set through the typed setters that Kafka would reject,
    /// with the property's reason where the property refuses the same value,
    /// and the combination Kafka refuses: `enable.auto.commit=true` set
    /// explicitly without a `group.id` (the properties are set one at a time,
    /// in any order, so only the whole config can be checked).
    pub(crate) fn validate_values(&self) -> Result<(), ConsumerError> {
        let invalid = |key: &str, reason: &str| {
            Err(ConsumerError::Config {
                key: key.to_string(),
                reason: reason.to_string(),
            })
        };
        if self.max_poll_records == 0 {
            return invalid("max.poll.records", "must be at least 1");
        }
        // Kafka's minimum is 1 ms; the interval is used in whole milliseconds,
        // so a shorter one would be 0 ms.
        if self.max_poll_interval.as_millis() == 0 {
            let interval = self.max_poll_interval;
            return invalid(
                "max.poll.interval.ms",
                &format!("'{interval:?}': {POSITIVE_MILLIS}"),
            );
        }
        // Whole milliseconds too: a shorter interval would commit at every poll.
        if self.auto_commit_interval.as_millis() == 0 {
            let interval = self.auto_commit_interval;
            return invalid(
                "auto.commit.interval.ms",
                &format!("'{interval:?}': {POSITIVE_MILLIS}"),
            );
        }
        if let Some(group) = self.group_id.as_deref() {
            // The property trims its value, so a blank one is empty there.
            if group.trim().is_empty() {
                return invalid("group.id", &format!("'{group}': {BLANK_GROUP}"));
            }
        } else if self.auto_commit == Some(true) {
            return invalid(
                "enable.auto.commit",
                "'true': auto commit needs a group.id (without a group.id, \
                 enable.auto.commit defaults to false); set group.id, or leave \
                 enable.auto.commit unset or false",
            );
        }
        Ok(())
    }
}
