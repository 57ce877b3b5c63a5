//! The translation of a [`ProducerConfig`] into librdkafka's properties: the
//! table of [`client_config`].

use rdkafka::config::ClientConfig;

use crate::client_keys::librdkafka_key;
use crate::producer::{Acks, ConfigError, ProducerConfig, TimeSource};

/// Kafka's broker-side dedup window: the most in-flight batches an idempotent
/// producer may have per connection (`max.in.flight.requests.per.connection`).
pub(crate) const KAFKA_DEDUP_WINDOW: usize = 5;

/// librdkafka's ceiling for `linger.ms` and `request.timeout.ms`.
const MAX_LIBRDKAFKA_MS: u64 = 900_000;

/// librdkafka's ceiling for `retry.backoff.ms`.
const MAX_RETRY_BACKOFF_MS: u64 = 300_000;

/// The producer's own ignored keys (in process) that librdkafka honours, as
/// (Java key, librdkafka key), beside the shared ones
/// ([`librdkafka_key`]).
const PASSED: &[(&str, &str)] = &[
    ("compression.type", "compression.type"),
    ("compression.gzip.level", "compression.level"),
    ("compression.lz4.level", "compression.level"),
    ("compression.zstd.level", "compression.level"),
    ("max.request.size", "message.max.bytes"),
    ("retry.backoff.max.ms", "retry.backoff.max.ms"),
];
/// librdkafka's properties for a producer with the effective (resolved)
/// `config` on the cluster at `bootstrap_servers`.
///
/// | idemlog / Java key | librdkafka |
/// |---|---|
/// | `bootstrap.servers` | `bootstrap.servers` |
/// | `enable.idempotence` | `enable.idempotence`, resolved as in process (on unless a conflict left unset turned it off); librdkafka's own default is off |
/// | `acks` | `acks` |
/// | `retries` | `retries` |
/// | `max.in.flight.requests.per.connection` | the same (idempotence allows at most 5, Kafka's window) |
/// | `delivery.timeout.ms` | `delivery.timeout.ms` |
/// | `request.timeout.ms`, `linger.ms` | the same; librdkafka takes at most 900000 (a larger value is an error) |
/// | `batch.size` | `batch.size` (0, "no batching" in Java, becomes 1 byte) |
/// | `retry.backoff.ms` | the same, within librdkafka's 1..=300000 (0 becomes 1) |
/// | `buffer.memory` | `queue.buffering.max.kbytes` (rounded up to KiB), with no message-count limit |
/// | `max.block.ms` | kept by the backend: a send into a full queue is retried until it passes, then fails with `BufferExhausted` |
/// | — | `allow.auto.create.topics=false`: a missing topic is an error, as in process (a producer's metadata request would have the broker create it) |
/// | — | `partitioner=murmur2_random`: a keyed record lands on murmur2(key) as with Java's client and in process ([`partition_for_key`](crate::producer::partition_for_key)); librdkafka's default `consistent_random` would not |
/// | `client.id`, `compression.type`, the socket, reconnect and metadata keys, `max.request.size` (`message.max.bytes`), `retry.backoff.max.ms`, `security.protocol`, `sasl.mechanism` and the `ssl.*` keys librdkafka shares ([`librdkafka_key`] and [`PASSED`] list them) | passed, renamed where librdkafka's name differs (`send.buffer.bytes` is `socket.send.buffer.bytes`, the compression levels are `compression.level`) |
/// | the other ignored keys (serializers, metrics, Java classes, JKS stores) | dropped: librdkafka has no such setting; records are bytes |
///
/// The in-process extras are refused: a simulated link ([`ProducerConfig::link`])
/// or virtual time cannot apply to a real connection.
pub(crate) fn client_config(
    config: &ProducerConfig,
    bootstrap_servers: &str,
) -> Result<ClientConfig, ConfigError> {
    if !config.link.is_perfect() {
        return Err(in_process_only("link", "a simulated link"));
    }
    if matches!(config.time, TimeSource::Virtual(_)) {
        return Err(in_process_only("time", "virtual time"));
    }
    for (key, value) in [
        ("request.timeout.ms", config.request_timeout_ms),
        ("linger.ms", config.linger_ms),
    ] {
        if value > MAX_LIBRDKAFKA_MS {
            return Err(ConfigError::invalid(
                key,
                &value.to_string(),
                "librdkafka (the Kafka backend) allows at most 900000",
            ));
        }
    }
    if config.retry_backoff_ms > MAX_RETRY_BACKOFF_MS {
        return Err(ConfigError::invalid(
            "retry.backoff.ms",
            &config.retry_backoff_ms.to_string(),
            "librdkafka (the Kafka backend) allows at most 300000",
        ));
    }
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", bootstrap_servers)
        .set("enable.idempotence", config.is_idempotent().to_string())
        .set("acks", acks(config.acks_setting()))
        .set("retries", config.retries.to_string())
        .set(
            "max.in.flight.requests.per.connection",
            config.max_in_flight.to_string(),
        )
        .set(
            "delivery.timeout.ms",
            config.delivery_timeout_ms.to_string(),
        )
        .set(
            "request.timeout.ms",
            config.request_timeout_ms.max(1).to_string(),
        )
        .set("linger.ms", config.linger_ms.to_string())
        .set("batch.size", config.batch_size.max(1).to_string())
        .set(
            "retry.backoff.ms",
            config.retry_backoff_ms.max(1).to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            config
                .buffer_memory
                .div_ceil(1024)
                .min(i32::MAX as usize)
                .to_string(),
        )
        .set("queue.buffering.max.messages", "0")
        .set("partitioner", "murmur2_random")
        // A lookup of a missing topic is an error, as in process; librdkafka's
        // producer default would have the broker create it.
        .set("allow.auto.create.topics", "false");
    for (key, value) in config.client.ignored() {
        if let Some(librdkafka) = librdkafka_key(key, PASSED) {
            client.set(librdkafka, value);
        }
    }
    Ok(client)
}

fn acks(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    }
}

fn in_process_only(key: &str, what: &str) -> ConfigError {
    ConfigError::Conflict {
        key: key.to_string(),
        reason: format!("{what} exists only in process; a Kafka producer talks to its cluster"),
    }
}
