//! ProducerConfig: Kafka's defaults, keys and validation (the settings table and
//! the validation rules of the contract, `idemlog::contract`).

use idemlog::producer::{Acks, ConfigError, Producer, ProducerConfig, ProducerError};
use idemlog::{Log, LogConfig};

#[test]
fn defaults_are_kafkas() {
    let c = ProducerConfig::default();
    assert!(c.is_idempotent());
    assert_eq!(c.idempotence_setting(), None);
    assert_eq!(c.acks_setting(), Acks::All);
    assert_eq!(c.retries_setting(), 2_147_483_647);
    assert_eq!(c.max_in_flight_setting(), 5);
    let empty: [(&str, &str); 0] = [];
    assert!(ProducerConfig::from_properties(empty)
        .unwrap()
        .is_idempotent());
}

#[test]
fn every_kafka_key_parses() {
    let props = [
        ("enable.idempotence", "true"),
        ("acks", "-1"),
        ("retries", "3"),
        ("max.in.flight.requests.per.connection", "2"),
        ("delivery.timeout.ms", "5000"),
        ("request.timeout.ms", "1000"),
        ("linger.ms", "0"),
        ("batch.size", "1024"),
        ("retry.backoff.ms", "10"),
        ("buffer.memory", "4096"),
        ("max.block.ms", "0"),
    ];
    assert_eq!(props.len(), idemlog::producer::KEYS.len());
    let c = ProducerConfig::from_properties(props).unwrap();
    assert_eq!((c.retries_setting(), c.max_in_flight_setting()), (3, 2));
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let err = ProducerConfig::from_properties([("acks.level", "1")]).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownKey {
            key: "acks.level".into()
        }
    );
    for (key, value) in [
        ("acks", "2"),
        ("retries", "-1"),
        ("linger.ms", "soon"),
        ("enable.idempotence", "yes"),
        ("max.in.flight.requests.per.connection", "0"),
        ("batch.size", "99999999999"),
    ] {
        let err = ProducerConfig::from_properties([(key, value)]).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn explicit_idempotence_conflicts_are_errors() {
    for conflict in [("acks", "1"), ("acks", "0"), ("retries", "0")] {
        let err = ProducerConfig::from_properties([("enable.idempotence", "true"), conflict])
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::Conflict { ref key, .. } if key == "enable.idempotence")
        );
    }
    let log = Log::new();
    let err = Producer::new(&log, ProducerConfig::exactly_once().max_in_flight(6)).unwrap_err();
    assert!(err.to_string().contains("enable.idempotence"), "{err}");
}

#[test]
fn unset_idempotence_is_turned_off_by_a_conflict() {
    let c = ProducerConfig::from_properties([("retries", "0")]).unwrap();
    assert_eq!(c.idempotence_setting(), Some(false));
    let log = Log::new();
    let producer = Producer::new(&log, ProducerConfig::default().max_in_flight(6)).unwrap();
    assert_eq!(producer.config().idempotence_setting(), Some(false));
    let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
    assert_eq!(producer.config().idempotence_setting(), Some(true));
}

#[test]
fn a_larger_dedup_window_allows_more_in_flight() {
    let log = Log::with_config(LogConfig::default().dedup_window(8)).unwrap();
    let producer = Producer::new(&log, ProducerConfig::exactly_once().max_in_flight(8)).unwrap();
    assert!(producer.config().is_idempotent());
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let err = ProducerConfig::from_properties([
        ("delivery.timeout.ms", "1000"),
        ("linger.ms", "100"),
        ("request.timeout.ms", "1000"),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("delivery.timeout.ms"), "{err}");
    let log = Log::new();
    let typed = ProducerConfig::default().delivery_timeout_ms(10);
    assert!(matches!(
        Producer::new(&log, typed),
        Err(ProducerError::Config(ConfigError::Conflict { .. }))
    ));
}

#[test]
fn presets() {
    let amo = ProducerConfig::at_most_once();
    assert!(!amo.is_idempotent());
    assert_eq!(
        (amo.acks_setting(), amo.retries_setting()),
        (Acks::Leader, 0)
    );
    assert!(!ProducerConfig::at_least_once().is_idempotent());
    assert!(ProducerConfig::exactly_once().is_idempotent());
    let log = Log::new();
    for preset in [
        amo,
        ProducerConfig::at_least_once(),
        ProducerConfig::exactly_once(),
    ] {
        assert!(Producer::new(&log, preset).is_ok());
    }
}

/// Finding 9: a delivery timeout left unset is raised to linger + request
/// timeout (as Kafka's client does), in the effective config too; set
/// explicitly, the same values stay a conflict naming `delivery.timeout.ms`.
#[test]
fn unset_delivery_timeout_is_raised_to_linger_plus_request_timeout() {
    let c = ProducerConfig::from_properties([("request.timeout.ms", "200000")]).unwrap();
    assert_eq!(c.delivery_timeout_ms_setting(), 200_005);
    let c = ProducerConfig::from_properties([("linger.ms", "100000")]).unwrap();
    assert_eq!(c.delivery_timeout_ms_setting(), 130_000);
    // Large enough already: not changed.
    let c = ProducerConfig::from_properties([("request.timeout.ms", "119995")]).unwrap();
    assert_eq!(c.delivery_timeout_ms_setting(), 120_000);
    // Typed setters, through Producer::new: the producer's effective config.
    let log = Log::new();
    let producer = Producer::new(
        &log,
        ProducerConfig::new()
            .linger_ms(10)
            .request_timeout_ms(200_000),
    )
    .unwrap();
    assert_eq!(producer.config().delivery_timeout_ms_setting(), 200_010);
    drop(producer);
    // The sum saturates.
    let c = ProducerConfig::new()
        .linger_ms(u64::MAX)
        .request_timeout_ms(1)
        .resolve(5)
        .unwrap();
    assert_eq!(c.delivery_timeout_ms_setting(), u64::MAX);
}

#[test]
fn explicit_delivery_timeout_below_linger_plus_request_timeout_is_a_conflict() {
    let delivery_conflict = |err: ConfigError| {
        assert!(
            matches!(err, ConfigError::Conflict { ref key, .. } if key == "delivery.timeout.ms"),
            "{err:?}"
        );
    };
    // Set to Kafka's default value is still set, in either order.
    for props in [
        [
            ("delivery.timeout.ms", "120000"),
            ("request.timeout.ms", "200000"),
        ],
        [
            ("request.timeout.ms", "200000"),
            ("delivery.timeout.ms", "120000"),
        ],
        [("delivery.timeout.ms", "120000"), ("linger.ms", "100000")],
    ] {
        delivery_conflict(ProducerConfig::from_properties(props).unwrap_err());
    }
    let typed = ProducerConfig::new()
        .delivery_timeout_ms(120_000)
        .request_timeout_ms(200_000);
    delivery_conflict(typed.resolve(5).unwrap_err());
    let mut c = ProducerConfig::new();
    c.set("delivery.timeout.ms", "120000").unwrap();
    c.set("linger.ms", "100000").unwrap();
    delivery_conflict(c.resolve(5).unwrap_err());
}

/// Finding 10: keys are trimmed as values are; errors name the trimmed key.
#[test]
fn keys_are_trimmed_like_values() {
    let c = ProducerConfig::from_properties([(" acks ", "1"), ("\tretries\n", " 3 ")]).unwrap();
    assert_eq!((c.acks_setting(), c.retries_setting()), (Acks::Leader, 3));
    let err = ProducerConfig::from_properties([(" retries ", "x")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidValue { ref key, .. } if key == "retries"),
        "{err:?}"
    );
    let err = ProducerConfig::from_properties([(" no.such.key ", "1")]).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownKey {
            key: "no.such.key".into()
        }
    );
}

/// Finding 10: an integer too large for any integer type is out of range, not
/// "not an integer"; the reason gives the allowed range.
#[test]
fn huge_integers_are_out_of_range_not_unparsable() {
    let digits44 = "12345678901234567890123456789012345678901234";
    for (key, value, range) in [
        ("linger.ms", digits44.to_string(), "0..=9223372036854775807"),
        (
            "linger.ms",
            format!("+{digits44}"),
            "0..=9223372036854775807",
        ),
        (
            "linger.ms",
            format!("-{digits44}"),
            "0..=9223372036854775807",
        ),
        ("retries", "-1".to_string(), "0..=2147483647"),
        (
            "buffer.memory",
            "9223372036854775808".to_string(),
            "1..=9223372036854775807",
        ),
        (
            "max.in.flight.requests.per.connection",
            format!(" {digits44} "),
            "1..=2147483647",
        ),
    ] {
        match ProducerConfig::from_properties([(key, value.as_str())]) {
            Err(ConfigError::InvalidValue { key: k, reason, .. }) => {
                assert_eq!(k, key);
                assert!(reason.contains("out of range"), "{key}={value}: {reason}");
                assert!(reason.contains(range), "{key}={value}: {reason}");
            }
            other => panic!("{key}={value}: {other:?}"),
        }
    }
    for value in ["1e40", "5.0", "+-5", "-", "", "0x10", "5ms"] {
        match ProducerConfig::from_properties([("linger.ms", value)]) {
            Err(ConfigError::InvalidValue { reason, .. }) => {
                assert!(reason.contains("not an integer"), "{value}: {reason}")
            }
            other => panic!("{value}: {other:?}"),
        }
    }
}

/// Finding 10: Java-client keys that change nothing in process are accepted
/// and ignored; `compression.type` still takes only Kafka's values.
#[test]
fn java_client_keys_that_change_nothing_are_ignored() {
    let base = ProducerConfig::new();
    let defaults = format!("{base:?}");
    for &key in ProducerConfig::IGNORED_KEYS {
        let value = if key == "compression.type" {
            "zstd"
        } else {
            "7"
        };
        let mut c = base.clone();
        assert_eq!(c.set(key, value), Ok(()), "{key}");
        // Only the record kept for the Kafka backend changes (`ClientProperties`).
        let recorded = defaults.replace("ignored: []", &format!("ignored: [({key:?}, {value:?})]"));
        assert_eq!(format!("{c:?}"), recorded, "{key} changed the config");
    }
    let java = ProducerConfig::from_properties([
        ("client.id", "orders"),
        (
            "key.serializer",
            "org.apache.kafka.common.serialization.StringSerializer",
        ),
        (
            "value.serializer",
            "org.apache.kafka.common.serialization.ByteArraySerializer",
        ),
        ("compression.type", "lz4"),
        ("security.protocol", "PLAINTEXT"),
        ("max.request.size", "1048576"),
        ("acks", "all"),
    ])
    .unwrap();
    assert!(java.is_idempotent());
    for value in ["none", "gzip", "snappy", "lz4", "zstd", " GZIP "] {
        assert!(
            ProducerConfig::from_properties([("compression.type", value)]).is_ok(),
            "{value}"
        );
    }
    let err = ProducerConfig::from_properties([("compression.type", "brotli")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidValue { ref key, .. } if key == "compression.type"),
        "{err:?}"
    );
    // Near misses of real keys stay unknown.
    for key in ["ssl.bogus", "bootstrap.server", "client_id", "metrics.foo"] {
        assert_eq!(
            ProducerConfig::from_properties([(key, "1")]).unwrap_err(),
            ConfigError::UnknownKey { key: key.into() }
        );
    }
}

/// Finding 10: Java-client keys idemlog cannot honour are errors naming them
/// (Kafka's default value, where one exists, is accepted).
#[test]
fn java_client_keys_idemlog_cannot_honour_are_unsupported() {
    let unsupported = |key: &str, value: &str, says: &str| {
        let mut c = ProducerConfig::new();
        let before = format!("{c:?}");
        match c.set(key, value) {
            Err(err @ ConfigError::Unsupported { .. }) => {
                let shown = err.to_string();
                assert!(shown.contains(key) && shown.contains(says), "{shown}");
            }
            other => panic!("{key}={value}: {other:?}"),
        }
        assert_eq!(format!("{c:?}"), before, "a failed set changed the config");
    };
    #[cfg(not(feature = "kafka"))]
    unsupported("bootstrap.servers", "localhost:9092", "Kafka backend");
    unsupported("transactional.id", "orders-tx", "transactions");
    unsupported(
        "partitioner.class",
        "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        "murmur2",
    );
    unsupported("partitioner.ignore.keys", "true", "murmur2");
    unsupported("interceptor.classes", "com.example.Audit", "interceptor");
    for &key in ProducerConfig::UNSUPPORTED_KEYS {
        unsupported(key, "true", key);
    }
    // Kafka's defaults of the conditional keys are accepted.
    assert!(ProducerConfig::from_properties([
        ("partitioner.ignore.keys", "false"),
        ("interceptor.classes", ""),
    ])
    .is_ok());
    let err = ProducerConfig::from_properties([("partitioner.ignore.keys", "maybe")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::InvalidValue { ref key, .. } if key == "partitioner.ignore.keys"),
        "{err:?}"
    );
    // The three lists are disjoint and without duplicates.
    let mut all: Vec<&str> = idemlog::producer::KEYS.to_vec();
    all.extend(ProducerConfig::IGNORED_KEYS);
    all.extend(ProducerConfig::UNSUPPORTED_KEYS);
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), total, "a key is listed twice");
}

#[test]
fn producer_errors_name_their_source() {
    use std::error::Error;
    let config = ProducerError::from(ConfigError::UnknownKey { key: "k".into() });
    let source = config.source().expect("a config error has a source");
    assert_eq!(source.to_string(), "unknown producer config key 'k'");
    let log = Log::new();
    let unknown = log.partition("missing", 0).unwrap_err();
    let rejected = ProducerError::from(unknown.clone());
    let source = rejected.source().expect("a log error has a source");
    assert_eq!(source.downcast_ref::<idemlog::LogError>(), Some(&unknown));
    assert!(ProducerError::Closed.source().is_none());
}
