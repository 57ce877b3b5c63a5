//! [`ProducerConfig`]: a typed builder and Kafka's own property keys, with
//! Kafka's defaults and Kafka's validation. Besides its own [`KEYS`], it accepts
//! the keys of Kafka's Java producer client that change nothing in process
//! ([`ProducerConfig::IGNORED_KEYS`]) and rejects, naming them, those it cannot
//! honour ([`ProducerConfig::UNSUPPORTED_KEYS`]).

use std::fmt;

use super::error::ConfigError;
use super::sim::LinkConfig;
use super::time::TimeSource;
use crate::client_keys::{with_connection_keys, CONNECTION_KEYS};

/// [`ProducerConfig::IGNORED_KEYS`]: the keys every client shares, then the
/// producer's own.
const PRODUCER_IGNORED_KEYS: [&str; CONNECTION_KEYS.len() + 12] = with_connection_keys([
    // Serializers.
    "key.serializer",
    "value.serializer",
    // Compression.
    "compression.type",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    // Metadata of idle topics.
    "metadata.max.idle.ms",
    // Requests, backoff, partitioner tuning, transactions.
    "max.request.size",
    "retry.backoff.max.ms",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "transaction.timeout.ms",
]);

/// How many acknowledgements the producer waits for (Kafka's `acks`).
///
/// The log is a single in-process replica, so `Leader` and `All` behave the
/// same; only `All` is accepted with idempotence, as in Kafka.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: fire-and-forget. Success is reported once the request leaves,
    /// with the offset unknown; nothing is retried.
    None,
    /// `acks=1`: the leader's acknowledgement.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica; the default.
    All,
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "0",
            Self::Leader => "1",
            Self::All => "all",
        })
    }
}

/// Kafka's property keys, in the order of the settings table of the contract
/// ([`crate::contract`]).
pub const KEYS: [&str; 11] = [
    "enable.idempotence",
    "acks",
    "retries",
    "max.in.flight.requests.per.connection",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "linger.ms",
    "batch.size",
    "retry.backoff.ms",
    "buffer.memory",
    "max.block.ms",
];

/// Settings of a [`Producer`](super::Producer): Kafka's keys and defaults, plus two
/// in-process extras that Kafka has no key for (the [`LinkConfig`] fault
/// injection and the [`TimeSource`]).
///
/// Build it with the typed setters, from Kafka properties, or from a preset.
/// [`Producer::new`](super::Producer::new) validates it against the log (the
/// dedup window bounds the in-flight batches) and keeps the *effective* config,
/// in which, as in Kafka:
///
/// - a conflict with idempotence left unset has turned idempotence off (set
///   explicitly, it is an error);
/// - a `delivery.timeout.ms` left unset (neither
///   [`delivery_timeout_ms`](Self::delivery_timeout_ms) nor the property) that
///   is smaller than `linger.ms + request.timeout.ms` has been raised to that
///   sum (saturating); set explicitly, it is an error.
///
/// Properties ([`set`](Self::set), [`from_properties`](Self::from_properties))
/// have their key and value trimmed. Besides [`KEYS`], the keys of Kafka's Java
/// producer client are accepted and ignored where they change nothing in process
/// ([`IGNORED_KEYS`](Self::IGNORED_KEYS): `client.id`, the serializers,
/// `compression.type`, network and security settings, ...), and rejected with
/// [`ConfigError::Unsupported`] naming the key where idemlog cannot honour them
/// ([`UNSUPPORTED_KEYS`](Self::UNSUPPORTED_KEYS): `transactional.id`, a
/// `partitioner.class`, ...). Any other key is [`ConfigError::UnknownKey`].
/// `bootstrap.servers` names a Kafka cluster: with the `kafka` feature it is
/// kept for [`Cluster`](crate::Cluster) (and [`Producer::new`](super::Producer::new)
/// on a [`Log`](crate::Log) refuses it); without, it is unsupported.
///
/// ```
/// use idemlog::producer::{Acks, ConfigError, ProducerConfig};
/// let config = ProducerConfig::from_properties([("acks", "1"), ("linger.ms", "10")]).unwrap();
/// // acks=1 conflicts with idempotence, which was left unset: it is turned off.
/// assert!(!config.is_idempotent());
/// assert_eq!(config.acks_setting(), Acks::Leader);
/// // Set explicitly, the same conflict is an error naming the key.
/// let err = ProducerConfig::from_properties([("enable.idempotence", "true"), ("acks", "1")]);
/// assert!(err.unwrap_err().to_string().contains("enable.idempotence"));
/// let typed = ProducerConfig::exactly_once().linger_ms(0).batch_size(1024);
/// assert!(typed.is_idempotent());
///
/// // delivery.timeout.ms left unset is raised to linger.ms + request.timeout.ms ...
/// let raised = ProducerConfig::from_properties([("request.timeout.ms", "200000")]).unwrap();
/// assert_eq!(raised.delivery_timeout_ms_setting(), 200_005);
/// // ... set explicitly, it is an error naming it.
/// let err = ProducerConfig::from_properties([
///     ("delivery.timeout.ms", "120000"),
///     ("request.timeout.ms", "200000"),
/// ]);
/// assert!(err.unwrap_err().to_string().contains("delivery.timeout.ms"));
///
/// // A Java client's properties: the keys that change nothing are ignored ...
/// let java = ProducerConfig::from_properties([
///     ("client.id", "orders"),
///     ("key.serializer", "org.apache.kafka.common.serialization.StringSerializer"),
///     ("value.serializer", "org.apache.kafka.common.serialization.StringSerializer"),
///     ("compression.type", "zstd"),
///     (" acks ", "all"),
/// ]);
/// assert!(java.unwrap().is_idempotent());
/// // ... those idemlog cannot honour are errors naming the key.
/// let err = ProducerConfig::from_properties([("transactional.id", "orders-1")]);
/// assert!(matches!(err, Err(ConfigError::Unsupported { key, .. }) if key == "transactional.id"));
/// ```
#[must_use = "a config does nothing until a producer is made with it"]
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub(crate) enable_idempotence: Option<bool>,
    pub(crate) acks: Acks,
    pub(crate) retries: u32,
    pub(crate) max_in_flight: u32,
    pub(crate) delivery_timeout_ms: u64,
    /// Whether the user set `delivery.timeout.ms` (typed or as a property): only
    /// a delivery timeout left unset is raised to linger + request timeout.
    pub(crate) delivery_timeout_set: bool,
    pub(crate) request_timeout_ms: u64,
    pub(crate) linger_ms: u64,
    pub(crate) batch_size: usize,
    pub(crate) retry_backoff_ms: u64,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block_ms: u64,
    /// `bootstrap.servers` and the ignored keys, for the Kafka backend.
    pub(crate) client: crate::client_properties::ClientProperties,
    pub(crate) link: LinkConfig,
    pub(crate) time: TimeSource,
    /// Test hook: the epoch the producer starts at (0 normally).
    pub(crate) start_epoch: u16,
}

impl Default for ProducerConfig {
    /// Kafka's defaults: idempotence (left unset, so on), acks=all, retries
    /// i32::MAX, 5 in flight, delivery timeout 120 s, request timeout 30 s,
    /// linger 5 ms, batch 16 KiB, backoff 100 ms, buffer 32 MiB, max block 60 s.
    fn default() -> Self {
        Self {
            enable_idempotence: None,
            acks: Acks::All,
            retries: i32::MAX as u32,
            max_in_flight: 5,
            delivery_timeout_ms: 120_000,
            delivery_timeout_set: false,
            request_timeout_ms: 30_000,
            linger_ms: 5,
            batch_size: 16_384,
            retry_backoff_ms: 100,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
            client: Default::default(),
            link: LinkConfig::default(),
            time: TimeSource::default(),
            start_epoch: 0,
        }
    }
}

impl ProducerConfig {
    /// Keys of Kafka's Java producer client (Apache Kafka 3.x) that idemlog
    /// accepts and ignores because, in process, they change nothing. Their
    /// values are not interpreted, except that `compression.type` must be one of
    /// Kafka's (`none`, `gzip`, `snappy`, `lz4`, `zstd`). By group:
    ///
    /// - Identity and metrics (`client.id`, `metric.reporters`, `metrics.*`,
    ///   `auto.include.jmx.reporter`, `enable.metrics.push`): they name and
    ///   report the client; idemlog's own counters are a [`MetricsSnapshot`](super::MetricsSnapshot).
    /// - Serializers (`key.serializer`, `value.serializer`): records are bytes
    ///   already; the application serializes.
    /// - Compression (`compression.type` and its levels): in-process batches are
    ///   never compressed, whatever the value.
    /// - Network, connections and metadata (`send.buffer.bytes`,
    ///   `receive.buffer.bytes`, `reconnect.backoff.*`, `socket.connection.setup.*`,
    ///   `connections.max.idle.ms`, `client.dns.lookup`, `metadata.*`): there is
    ///   no network; the log is in process and its metadata always current.
    /// - Security (`security.protocol`, `security.providers`, `ssl.*`, `sasl.*`,
    ///   Kafka's exact keys only): there is no connection to secure.
    /// - `max.request.size`: no request is serialized; a batch is bounded by
    ///   `batch.size` and the log's [`max_batch_records`](crate::LogConfig::max_batch_records).
    /// - `retry.backoff.max.ms`: the retry backoff is a constant
    ///   `retry.backoff.ms`, never growing towards a maximum.
    /// - Adaptive partitioning (`partitioner.adaptive.partitioning.enable`,
    ///   `partitioner.availability.timeout.ms`): there are no brokers whose load
    ///   or availability to adapt to.
    /// - `transaction.timeout.ms`: used only with `transactional.id`, which is
    ///   unsupported.
    pub const IGNORED_KEYS: &'static [&'static str] = &PRODUCER_IGNORED_KEYS;

    /// Keys of Kafka's Java producer client (Apache Kafka 3.x) that idemlog
    /// cannot honour: a value other than Kafka's default is
    /// [`ConfigError::Unsupported`] naming the key.
    ///
    /// - `bootstrap.servers`, in a build without the `kafka` feature: a
    ///   producer writes to the in-process log given to
    ///   [`Producer::new`](super::Producer::new). Every value is rejected. With
    ///   the feature it names the Kafka cluster of a [`Cluster`](crate::Cluster).
    /// - `transactional.id`: transactions are not supported (the idempotent
    ///   producer is). Every value is rejected.
    /// - `partitioner.class`: idemlog always uses Kafka's built-in partitioner
    ///   (murmur2 of the key, sticky for keyless records); no class can be
    ///   loaded. Every value is rejected: leave it unset.
    /// - `partitioner.ignore.keys`: keyed records always go to their murmur2
    ///   partition; only `false` (the default) is accepted.
    /// - `interceptor.classes`: no interceptor can be loaded; only the empty
    ///   list (the default) is accepted.
    pub const UNSUPPORTED_KEYS: &'static [&'static str] = &[
        "bootstrap.servers",
        "transactional.id",
        "partitioner.class",
        "partitioner.ignore.keys",
        "interceptor.classes",
    ];

    /// Kafka's defaults (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// At-most-once: `acks=1`, `retries=0`, idempotence off. A lost request loses
    /// the record (error reported); a lost response leaves it in the log once
    /// (error reported).
    pub fn at_most_once() -> Self {
        Self::default()
            .enable_idempotence(false)
            .acks(Acks::Leader)
            .retries(0)
    }

    /// At-least-once: idempotence off, `acks=all`, retries. A lost response is
    /// retried and lands in the log twice.
    pub fn at_least_once() -> Self {
        Self::default().enable_idempotence(false)
    }

    /// Exactly-once per partition (the idempotent producer, Kafka's default):
    /// retries are deduplicated by the log and answered with the original offsets.
    /// An application re-sending a record itself still duplicates it.
    pub fn exactly_once() -> Self {
        Self::default().enable_idempotence(true)
    }

    /// `enable.idempotence`. Set explicitly, a conflicting setting is an error;
    /// left unset, a conflict turns idempotence off.
    pub fn enable_idempotence(mut self, enabled: bool) -> Self {
        self.enable_idempotence = Some(enabled);
        self
    }

    /// `acks`.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// `retries` (0..=2147483647).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// `max.in.flight.requests.per.connection`: unacknowledged batches per
    /// partition (1..=2147483647).
    pub fn max_in_flight(mut self, batches: u32) -> Self {
        self.max_in_flight = batches;
        self
    }

    /// `delivery.timeout.ms`: upper bound from `send` to success or failure.
    /// Set this way (or as a property), it must cover `linger.ms +
    /// request.timeout.ms`; left unset, it is raised to that sum if smaller.
    pub fn delivery_timeout_ms(mut self, ms: u64) -> Self {
        self.delivery_timeout_ms = ms;
        self.delivery_timeout_set = true;
        self
    }

    /// `request.timeout.ms`: how long one request waits for its response.
    pub fn request_timeout_ms(mut self, ms: u64) -> Self {
        self.request_timeout_ms = ms;
        self
    }

    /// `linger.ms`: how long a batch waits for more records.
    pub fn linger_ms(mut self, ms: u64) -> Self {
        self.linger_ms = ms;
        self
    }

    /// `batch.size` in bytes (8 bytes of lengths + key + value per record, the
    /// log's record format), capped by `buffer.memory` and by what one log
    /// batch may hold; 0 sends every record alone.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// `retry.backoff.ms`.
    pub fn retry_backoff_ms(mut self, ms: u64) -> Self {
        self.retry_backoff_ms = ms;
        self
    }

    /// `buffer.memory` in bytes: the batches not yet acknowledged; `send`
    /// blocks (up to `max.block.ms`) when it must open a batch and this much
    /// is in use. While a sender waits, every batch is sent at once, lingering
    /// or not (Kafka's rule), so that memory comes back.
    ///
    /// A batch leaves `buffer.memory` when it completes. An acknowledged one
    /// gives its memory back; one that failed (its records are handed back
    /// from it) or was sent with `acks=0` keeps it until the last
    /// [`DeliveryHandle`](super::DeliveryHandle) into it is dropped, so
    /// handles kept of such records hold memory beyond this bound (P6 in
    /// [`crate::implementation`]).
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// `max.block.ms`: how long `send` blocks on a full buffer (real time).
    pub fn max_block_ms(mut self, ms: u64) -> Self {
        self.max_block_ms = ms;
        self
    }

    /// Fault injection between the flusher and the log (not a Kafka key).
    pub fn link(mut self, link: LinkConfig) -> Self {
        self.link = link;
        self
    }

    /// The producer's clock (not a Kafka key): real or virtual time.
    pub fn time(mut self, time: TimeSource) -> Self {
        self.time = time;
        self
    }

    /// Test hook, not part of the API: the idempotent producer starts at this
    /// epoch (clamped to 32767) instead of the handshake's 0, so tests can
    /// reach the pid renewal at epoch 32767 without 32767 real epoch bumps.
    /// A log with no state for a pid accepts any first epoch, so nothing else
    /// changes.
    #[doc(hidden)]
    pub fn test_hook_start_epoch(mut self, epoch: u16) -> Self {
        self.start_epoch = epoch.min(crate::types::MAX_EPOCH);
        self
    }

    /// Whether idempotence is on (unset counts as on, Kafka's default).
    pub fn is_idempotent(&self) -> bool {
        self.enable_idempotence.unwrap_or(true)
    }

    /// The `enable.idempotence` setting as given (`None` = left unset); in the
    /// effective config of a producer it is always set.
    pub fn idempotence_setting(&self) -> Option<bool> {
        self.enable_idempotence
    }

    /// `acks`.
    pub fn acks_setting(&self) -> Acks {
        self.acks
    }

    /// `retries`.
    pub fn retries_setting(&self) -> u32 {
        self.retries
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight_setting(&self) -> u32 {
        self.max_in_flight
    }

    /// `delivery.timeout.ms`. In a resolved config (the result of
    /// [`from_properties`](Self::from_properties) or [`resolve`](Self::resolve),
    /// and [`Producer::config`](super::Producer::config)) a value left unset has
    /// been raised to `linger.ms + request.timeout.ms` if it was smaller.
    pub fn delivery_timeout_ms_setting(&self) -> u64 {
        self.delivery_timeout_ms
    }

    /// Parses Kafka properties over the defaults, one by one as [`set`](Self::set)
    /// does. Unknown and unsupported keys and unparsable or out-of-range values
    /// are errors naming the key; conflicts are resolved as in
    /// [`ProducerConfig::resolve`] except the in-flight bound, which needs the
    /// log (checked by `Producer::new`).
    pub fn from_properties<K, V>(
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        for (key, value) in properties {
            config.set(key.as_ref(), value.as_ref())?;
        }
        config.resolve_with(None)
    }

    /// Sets one Kafka property; surrounding whitespace of the key and of the
    /// value is ignored. A key of [`KEYS`] sets its setting; one of
    /// [`IGNORED_KEYS`](Self::IGNORED_KEYS) changes nothing; one of
    /// [`UNSUPPORTED_KEYS`](Self::UNSUPPORTED_KEYS) with a value other than
    /// Kafka's default is [`ConfigError::Unsupported`]; any other key is
    /// [`ConfigError::UnknownKey`]. A value that is not an integer, or is out of
    /// the key's range, is [`ConfigError::InvalidValue`] saying which. On error
    /// the config is unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let key = key.trim();
        let value = value.trim();
        let unsupported = |reason: &str| {
            Err(ConfigError::Unsupported {
                key: key.to_string(),
                reason: reason.to_string(),
            })
        };
        match key {
            "enable.idempotence" => self.enable_idempotence = Some(parse_bool(key, value)?),
            "acks" => {
                self.acks = match value.to_ascii_lowercase().as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(ConfigError::invalid(key, value, "expected 0, 1, all or -1")),
                };
            }
            "retries" => self.retries = parse(key, value, 0, i32::MAX as u64)? as u32,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = parse(key, value, 1, i32::MAX as u64)? as u32;
            }
            "delivery.timeout.ms" => {
                self.delivery_timeout_ms = parse(key, value, 0, KAFKA_INT)?;
                self.delivery_timeout_set = true;
            }
            "request.timeout.ms" => self.request_timeout_ms = parse(key, value, 0, KAFKA_INT)?,
            "linger.ms" => self.linger_ms = parse(key, value, 0, KAFKA_LONG)?,
            "batch.size" => self.batch_size = parse(key, value, 0, i32::MAX as u64)? as usize,
            "retry.backoff.ms" => self.retry_backoff_ms = parse(key, value, 0, KAFKA_LONG)?,
            "buffer.memory" => self.buffer_memory = parse(key, value, 1, i64::MAX as u64)? as usize,
            "max.block.ms" => self.max_block_ms = parse(key, value, 0, KAFKA_LONG)?,
            // One of IGNORED_KEYS, but its value must still be one of Kafka's.
            "compression.type" => {
                if !["none", "gzip", "snappy", "lz4", "zstd"]
                    .iter()
                    .any(|kind| value.eq_ignore_ascii_case(kind))
                {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        "expected none, gzip, snappy, lz4 or zstd",
                    ));
                }
                self.client.record_ignored(key, value);
            }
            "bootstrap.servers" => match self.client.set_bootstrap_servers(value) {
                Ok(()) => {}
                Err(reason) if !cfg!(feature = "kafka") => return unsupported(reason),
                Err(reason) => return Err(ConfigError::invalid(key, value, reason)),
            },
            "transactional.id" => {
                return unsupported(
                    "transactions are not supported (the idempotent producer is): leave \
                     transactional.id unset",
                )
            }
            "partitioner.class" => {
                return unsupported(
                    "custom partitioners are not supported: idemlog always uses Kafka's \
                     built-in partitioner (murmur2 of the key, sticky for keyless records); \
                     leave partitioner.class unset",
                )
            }
            "partitioner.ignore.keys" => {
                if parse_bool(key, value)? {
                    return unsupported(
                        "true is not supported: keyed records always go to the partition of \
                         their key's murmur2 hash; only false (the default) is accepted",
                    );
                }
            }
            "interceptor.classes" => {
                if !value.is_empty() {
                    return unsupported(
                        "producer interceptors (Java classes) are not supported; only the empty \
                         list (the default) is accepted",
                    );
                }
            }
            _ if Self::IGNORED_KEYS.contains(&key) => self.client.record_ignored(key, value),
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_string(),
                })
            }
        }
        Ok(())
    }

    /// The effective configuration for a log whose dedup window holds
    /// `dedup_window` batches, as Kafka resolves it: idempotence needs
    /// `acks=all`, `retries > 0` and in-flight <= the window; set explicitly, a
    /// conflict is an error, left unset it turns idempotence off. The delivery
    /// timeout must cover linger plus the request timeout: set explicitly, a
    /// smaller one is an error, left unset it is raised to that sum (saturating).
    pub fn resolve(self, dedup_window: usize) -> Result<Self, ConfigError> {
        let mut config = self.resolve_with(Some(dedup_window))?;
        config.enable_idempotence = Some(config.is_idempotent());
        Ok(config)
    }

    fn resolve_with(mut self, dedup_window: Option<usize>) -> Result<Self, ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError::invalid(
                "max.in.flight.requests.per.connection",
                "0",
                "must be at least 1",
            ));
        }
        // Kafka's int range, which the properties enforce too (and librdkafka
        // takes nothing larger).
        for (key, value) in [
            ("retries", self.retries),
            ("max.in.flight.requests.per.connection", self.max_in_flight),
        ] {
            if value > i32::MAX as u32 {
                return Err(ConfigError::invalid(
                    key,
                    &value.to_string(),
                    "out of range: must be at most 2147483647",
                ));
            }
        }
        if self.buffer_memory == 0 {
            return Err(ConfigError::invalid(
                "buffer.memory",
                "0",
                "must be at least 1",
            ));
        }
        if self.is_idempotent() {
            let conflict = if self.acks != Acks::All {
                Some(format!("requires acks=all, but acks={}", self.acks))
            } else if self.retries == 0 {
                Some("requires retries > 0, but retries=0".to_string())
            } else {
                dedup_window
                    .filter(|&window| self.max_in_flight as usize > window)
                    .map(|window| {
                        format!(
                            "requires max.in.flight.requests.per.connection <= {window} (the log's \
                             dedup window), but it is {}",
                            self.max_in_flight
                        )
                    })
            };
            match (conflict, self.enable_idempotence) {
                (Some(reason), Some(true)) => {
                    return Err(ConfigError::Conflict {
                        key: "enable.idempotence".to_string(),
                        reason,
                    })
                }
                (Some(_), _) => self.enable_idempotence = Some(false),
                (None, _) => {}
            }
        }
        let needed = self.linger_ms.saturating_add(self.request_timeout_ms);
        if self.delivery_timeout_ms < needed {
            if self.delivery_timeout_set {
                return Err(ConfigError::Conflict {
                    key: "delivery.timeout.ms".to_string(),
                    reason: format!(
                        "must be >= linger.ms + request.timeout.ms = {needed}, but it is {}",
                        self.delivery_timeout_ms
                    ),
                });
            }
            // Left unset: raised, as Kafka's client does (it also logs a warning).
            self.delivery_timeout_ms = needed;
        }
        Ok(self)
    }
}

/// The largest value of a key that is an `int` in Kafka's producer config
/// (`delivery.timeout.ms`, `request.timeout.ms`): Kafka refuses more.
const KAFKA_INT: u64 = i32::MAX as u64;

/// The largest value of a key that is a `long` in Kafka's producer config
/// (`linger.ms`, `retry.backoff.ms`, `max.block.ms`; Kafka Connect sets
/// `max.block.ms` to `Long.MAX_VALUE`). Every time computed from one
/// saturates (or, for `max.block.ms`, blocks without limit past the clock's
/// range), as for the typed setters, which take any `u64`.
const KAFKA_LONG: u64 = i64::MAX as u64;

/// A decimal integer (ASCII digits, optionally signed) in `min..=max`. An
/// integer too large even for `i128` is out of range like any other.
fn parse(key: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::invalid(key, value, "not an integer"));
    }
    match value.parse::<i128>() {
        Ok(parsed) if (i128::from(min)..=i128::from(max)).contains(&parsed) => Ok(parsed as u64),
        _ => Err(ConfigError::invalid(
            key,
            value,
            &format!("out of range: must be in {min}..={max}"),
        )),
    }
}

/// `true` or `false`, in any case.
fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::invalid(key, value, "expected true or false"))
    }
}
