//! The translation of a [`ConsumerConfig`] into librdkafka's configuration
//! ([`client_config`]).

use rdkafka::ClientConfig;

use crate::client_keys::librdkafka_key;
use crate::consumer::{ConsumerConfig, OffsetReset};
use crate::consumer_error::ConsumerError;

/// The `group.id` librdkafka is given for a hand-assigned consumer configured
/// without one: librdkafka assigns partitions only in a consumer that has a
/// group. The backend never joins it and never commits to it (a commit without
/// a configured `group.id` is [`ConsumerError::NoGroupId`]), so nothing is ever
/// stored under it.
pub(crate) const ASSIGN_ONLY_GROUP: &str = "idemlog.assign-only";

/// librdkafka's settings for a consumer of `config`, per this table (keys not
/// listed are librdkafka's defaults):
///
/// | idemlog / Java key | librdkafka |
/// |---|---|
/// | `bootstrap.servers` | `bootstrap.servers` (required: [`ConsumerError::Config`] without it) |
/// | `group.id` | `group.id`; without one, [`ASSIGN_ONLY_GROUP`] (librdkafka assigns only in a group) |
/// | `auto.offset.reset` | `auto.offset.reset`: `earliest`, `latest`, `none` → `error` (the backend resolves start offsets itself; this covers a position that falls out of range) |
/// | `enable.auto.commit`, `auto.commit.interval.ms` | kept by the backend: it commits its own positions at the start of a poll once the interval passed, before a revocation and at `close` (as in process); librdkafka's `enable.auto.commit=false` |
/// | `max.poll.interval.ms` | `max.poll.interval.ms` |
/// | `partition.assignment.strategy` | `partition.assignment.strategy`: `range`, `roundrobin`, `cooperative-sticky` |
/// | `max.poll.records` | kept by the backend (the most records an owned poll returns) |
/// | `session.timeout.ms`, `heartbeat.interval.ms`, `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`, `isolation.level`, `check.crcs`, `client.rack`, `retry.backoff.ms`, `retry.backoff.max.ms` | the same key, as set ([`PASSED`]) |
/// | `fetch.max.wait.ms` | `fetch.wait.max.ms` |
/// | `client.id`, the socket, reconnect and metadata keys, `security.protocol`, `sasl.mechanism` and the `ssl.*` keys librdkafka shares ([`librdkafka_key`]) | passed as the producer passes them (`send.buffer.bytes` is `socket.send.buffer.bytes`) |
/// | the other ignored keys (deserializers, metrics, Java classes, JKS stores, `request.timeout.ms`, `default.api.timeout.ms`) | dropped: librdkafka has no such consumer setting; records are bytes |
///
/// And always: `enable.auto.offset.store=false` (the backend commits explicit
/// offsets from its own positions, never librdkafka's store),
/// `enable.partition.eof=false` (the end of a partition is not an event),
/// and short reconnect back-offs (`reconnect.backoff.ms=50`,
/// `reconnect.backoff.max.ms=1000`) so a restarted broker is found again
/// within a second.
pub(crate) fn client_config(config: &ConsumerConfig) -> Result<ClientConfig, ConsumerError> {
    let servers = config
        .client
        .bootstrap_servers()
        .ok_or_else(|| ConsumerError::Config {
            key: "bootstrap.servers".to_string(),
            reason: "the Kafka backend needs the cluster's address (host:port, ...)".to_string(),
        })?;
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", servers)
        .set("group.id", config.group().unwrap_or(ASSIGN_ONLY_GROUP))
        .set(
            "auto.offset.reset",
            match config.offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
                OffsetReset::None => "error",
            },
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set(
            "max.poll.interval.ms",
            config.max_poll_interval.as_millis().to_string(),
        )
        .set(
            "partition.assignment.strategy",
            config.assignor.kafka_name(),
        )
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000");
    for (key, value) in config.client.ignored() {
        if let Some(librdkafka) = librdkafka_key(key, PASSED) {
            client.set(librdkafka, value);
        }
    }
    Ok(client)
}

/// The consumer's own ignored keys (in process) that librdkafka honours, as
/// (Java key, librdkafka key), beside the shared ones.
const PASSED: &[(&str, &str)] = &[
    ("session.timeout.ms", "session.timeout.ms"),
    ("heartbeat.interval.ms", "heartbeat.interval.ms"),
    ("fetch.min.bytes", "fetch.min.bytes"),
    ("fetch.max.wait.ms", "fetch.wait.max.ms"),
    ("fetch.max.bytes", "fetch.max.bytes"),
    ("max.partition.fetch.bytes", "max.partition.fetch.bytes"),
    ("isolation.level", "isolation.level"),
    ("check.crcs", "check.crcs"),
    ("client.rack", "client.rack"),
    ("retry.backoff.ms", "retry.backoff.ms"),
    ("retry.backoff.max.ms", "retry.backoff.max.ms"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(properties: &[(&str, &str)]) -> ClientConfig {
        let config = ConsumerConfig::from_properties(properties.iter().copied()).unwrap();
        client_config(&config).unwrap()
    }

    #[test]
    fn needs_bootstrap_servers() {
        let error = client_config(&ConsumerConfig::new()).unwrap_err();
        assert!(
            matches!(&error, ConsumerError::Config { key, .. } if key == "bootstrap.servers"),
            "{error:?}"
        );
    }

    #[test]
    fn translates_the_table() {
        let client = translated(&[
            ("bootstrap.servers", "localhost:9092"),
            ("auto.offset.reset", "none"),
            ("enable.auto.commit", "true"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("max.poll.interval.ms", "6000"),
            ("fetch.max.wait.ms", "250"),
            ("client.id", "billing-1"),
            (
                "key.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer",
            ),
        ]);
        let get = |key| client.get(key);
        assert_eq!(get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(get("group.id"), Some(ASSIGN_ONLY_GROUP));
        assert_eq!(get("auto.offset.reset"), Some("error"));
        // The backend commits itself.
        assert_eq!(get("enable.auto.commit"), Some("false"));
        assert_eq!(get("enable.auto.offset.store"), Some("false"));
        assert_eq!(
            get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        assert_eq!(get("max.poll.interval.ms"), Some("6000"));
        assert_eq!(get("fetch.wait.max.ms"), Some("250"));
        assert_eq!(get("fetch.max.wait.ms"), None);
        assert_eq!(get("client.id"), Some("billing-1"));
        assert_eq!(get("key.deserializer"), None);
    }

    #[test]
    fn passes_the_shared_security_keys_and_drops_the_java_only_ones() {
        let client = translated(&[
            ("bootstrap.servers", "localhost:9092"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule",
            ),
            ("send.buffer.bytes", "131072"),
            ("default.api.timeout.ms", "60000"),
        ]);
        let get = |key| client.get(key);
        assert_eq!(get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(get("socket.send.buffer.bytes"), Some("131072"));
        for dropped in [
            "sasl.jaas.config",
            "send.buffer.bytes",
            "default.api.timeout.ms",
        ] {
            assert_eq!(get(dropped), None, "{dropped}");
        }
    }

    #[test]
    fn passes_the_group() {
        let client = translated(&[("bootstrap.servers", "h:1"), ("group.id", "billing")]);
        assert_eq!(client.get("group.id"), Some("billing"));
    }
}
