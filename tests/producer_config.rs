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
