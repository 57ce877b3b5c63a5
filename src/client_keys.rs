//! The Kafka client keys the producer and the consumer share that change
//! nothing in process: the client's identity and metrics, its network
//! connections and their security. Each config's `IGNORED_KEYS` starts with
//! them ([`with_connection_keys`]); the Kafka backend passes on the ones
//! librdkafka shares ([`librdkafka_key`]).

/// The shared keys, Kafka's exact spelling (Apache Kafka 3.x Java clients).
pub(crate) const CONNECTION_KEYS: [&str; 67] = [
    // Identity and metrics.
    "client.id",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.recording.level",
    "metrics.sample.window.ms",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
    // Network, connections and metadata.
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
    "connections.max.idle.ms",
    "client.dns.lookup",
    "metadata.max.age.ms",
    "metadata.recovery.strategy",
    // Security.
    "security.protocol",
    "security.providers",
    "ssl.protocol",
    "ssl.provider",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.endpoint.identification.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.login.retry.backoff.max.ms",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
    "sasl.kerberos.service.name",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.header.urlencode",
];

/// A config's ignored keys: [`CONNECTION_KEYS`], then its own `own`.
/// `ALL` must be their total count (checked at compile time where it is a
/// constant).
pub(crate) const fn with_connection_keys<const OWN: usize, const ALL: usize>(
    own: [&'static str; OWN],
) -> [&'static str; ALL] {
    assert!(
        ALL == CONNECTION_KEYS.len() + OWN,
        "ALL counts the connection keys and the config's own"
    );
    let mut all = [""; ALL];
    let mut i = 0;
    while i < CONNECTION_KEYS.len() {
        all[i] = CONNECTION_KEYS[i];
        i += 1;
    }
    let mut j = 0;
    while j < OWN {
        all[i + j] = own[j];
        j += 1;
    }
    all
}

/// The shared keys librdkafka honours, as (Java key, librdkafka key); the
/// others (metrics, Java classes, JKS stores) have no librdkafka setting and
/// are dropped.
#[cfg(feature = "kafka")]
const PASSED_CONNECTION_KEYS: &[(&str, &str)] = &[
    ("client.id", "client.id"),
    ("send.buffer.bytes", "socket.send.buffer.bytes"),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ("reconnect.backoff.ms", "reconnect.backoff.ms"),
    ("reconnect.backoff.max.ms", "reconnect.backoff.max.ms"),
    (
        "socket.connection.setup.timeout.ms",
        "socket.connection.setup.timeout.ms",
    ),
    ("connections.max.idle.ms", "connections.max.idle.ms"),
    ("metadata.max.age.ms", "metadata.max.age.ms"),
    ("security.protocol", "security.protocol"),
    ("sasl.mechanism", "sasl.mechanism"),
    ("ssl.key.password", "ssl.key.password"),
    ("ssl.keystore.location", "ssl.keystore.location"),
    ("ssl.keystore.password", "ssl.keystore.password"),
    (
        "ssl.endpoint.identification.algorithm",
        "ssl.endpoint.identification.algorithm",
    ),
    ("ssl.cipher.suites", "ssl.cipher.suites"),
];

/// librdkafka's name for the ignored key `key` a client passes on: from the
/// shared keys or the client's `own` (Java key, librdkafka key) table; `None`
/// for a key librdkafka has no setting for (dropped).
#[cfg(feature = "kafka")]
pub(crate) fn librdkafka_key(key: &str, own: &[(&str, &'static str)]) -> Option<&'static str> {
    PASSED_CONNECTION_KEYS
        .iter()
        .chain(own)
        .find(|(java, _)| *java == key)
        .map(|&(_, librdkafka)| librdkafka)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_keys_come_first_then_the_configs_own() {
        const ALL: [&str; CONNECTION_KEYS.len() + 2] = with_connection_keys(["a", "b"]);
        assert_eq!(ALL[..CONNECTION_KEYS.len()], CONNECTION_KEYS);
        assert_eq!(ALL[CONNECTION_KEYS.len()..], ["a", "b"]);
    }
}
