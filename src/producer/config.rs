//! [`ProducerConfig`]: a typed builder and Kafka's own property keys, with
//! Kafka's defaults and Kafka's validation.

use std::fmt;

use super::error::ConfigError;
use super::link::LinkConfig;
use super::time::TimeSource;

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
/// in which a conflict with idempotence left unset has turned idempotence off.
///
/// ```
/// use idemlog::producer::{Acks, ProducerConfig};
/// let config = ProducerConfig::from_properties([("acks", "1"), ("linger.ms", "10")]).unwrap();
/// // acks=1 conflicts with idempotence, which was left unset: it is turned off.
/// assert!(!config.is_idempotent());
/// assert_eq!(config.acks_setting(), Acks::Leader);
/// // Set explicitly, the same conflict is an error naming the key.
/// let err = ProducerConfig::from_properties([("enable.idempotence", "true"), ("acks", "1")]);
/// assert!(err.unwrap_err().to_string().contains("enable.idempotence"));
/// let typed = ProducerConfig::exactly_once().linger_ms(0).batch_size(1024);
/// assert!(typed.is_idempotent());
/// ```
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub(crate) enable_idempotence: Option<bool>,
    pub(crate) acks: Acks,
    pub(crate) retries: u32,
    pub(crate) max_in_flight: u32,
    pub(crate) delivery_timeout_ms: u64,
    pub(crate) request_timeout_ms: u64,
    pub(crate) linger_ms: u64,
    pub(crate) batch_size: usize,
    pub(crate) retry_backoff_ms: u64,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block_ms: u64,
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
            request_timeout_ms: 30_000,
            linger_ms: 5,
            batch_size: 16_384,
            retry_backoff_ms: 100,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
            link: LinkConfig::default(),
            time: TimeSource::default(),
            start_epoch: 0,
        }
    }
}

impl ProducerConfig {
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

    /// `max.in.flight.requests.per.connection`: unacknowledged batches per partition.
    pub fn max_in_flight(mut self, batches: u32) -> Self {
        self.max_in_flight = batches;
        self
    }

    /// `delivery.timeout.ms`: upper bound from `send` to success or failure.
    pub fn delivery_timeout_ms(mut self, ms: u64) -> Self {
        self.delivery_timeout_ms = ms;
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

    /// `batch.size` in bytes (key + value + [`RECORD_OVERHEAD`](super::RECORD_OVERHEAD)
    /// per record); 0 sends every record alone.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// `retry.backoff.ms`.
    pub fn retry_backoff_ms(mut self, ms: u64) -> Self {
        self.retry_backoff_ms = ms;
        self
    }

    /// `buffer.memory` in bytes: `send` blocks while this much is unacknowledged.
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

    /// Parses Kafka properties over the defaults. Unknown keys and unparsable or
    /// out-of-range values are errors naming the key; conflicts are resolved as
    /// in [`ProducerConfig::resolve`] except the in-flight bound, which needs the
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

    /// Sets one Kafka property.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let value = value.trim();
        match key {
            "enable.idempotence" => {
                self.enable_idempotence = Some(match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ConfigError::invalid(key, value, "expected true or false")),
                });
            }
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
            "delivery.timeout.ms" => self.delivery_timeout_ms = parse(key, value, 0, MAX_MS)?,
            "request.timeout.ms" => self.request_timeout_ms = parse(key, value, 0, MAX_MS)?,
            "linger.ms" => self.linger_ms = parse(key, value, 0, MAX_MS)?,
            "batch.size" => self.batch_size = parse(key, value, 0, i32::MAX as u64)? as usize,
            "retry.backoff.ms" => self.retry_backoff_ms = parse(key, value, 0, MAX_MS)?,
            "buffer.memory" => self.buffer_memory = parse(key, value, 1, i64::MAX as u64)? as usize,
            "max.block.ms" => self.max_block_ms = parse(key, value, 0, MAX_MS)?,
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
    /// timeout must cover linger plus the request timeout.
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
            return Err(ConfigError::Conflict {
                key: "delivery.timeout.ms".to_string(),
                reason: format!(
                    "must be >= linger.ms + request.timeout.ms = {needed}, but it is {}",
                    self.delivery_timeout_ms
                ),
            });
        }
        Ok(self)
    }
}

/// The largest millisecond setting (keeps deadlines inside i64 arithmetic).
const MAX_MS: u64 = i32::MAX as u64 * 1000;

fn parse(key: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.parse::<i128>() {
        Ok(parsed) if (min as i128..=max as i128).contains(&parsed) => Ok(parsed as u64),
        Ok(_) => Err(ConfigError::invalid(
            key,
            value,
            &format!("must be in {min}..={max}"),
        )),
        Err(_) => Err(ConfigError::invalid(key, value, "not an integer")),
    }
}
