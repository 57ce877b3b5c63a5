//! A target on the user's own Kafka cluster: `IDEMLOG_KAFKA_BOOTSTRAP=host:port`
//! runs every check there too (topics get unique names; nothing is deleted).
//! There is no proxy in front of it, so the fault checks are not applicable.

use std::time::Duration;

use crate::kafka_target::{KafkaTarget, NoFaults};
use crate::target::{Capabilities, DuplicateOffset};

/// The environment variable naming the cluster.
pub(crate) const BOOTSTRAP_ENV: &str = "IDEMLOG_KAFKA_BOOTSTRAP";

/// The cluster's bootstrap address, if one is configured.
pub(crate) fn bootstrap() -> Option<String> {
    std::env::var(BOOTSTRAP_ENV)
        .ok()
        .filter(|servers| !servers.trim().is_empty())
}

/// The target on the configured cluster.
pub(crate) fn external(bootstrap: &str) -> KafkaTarget<NoFaults> {
    let capabilities = Capabilities {
        // Apache Kafka answers a deduplicated retry with its original offset,
        // but a check needs faults to see one.
        duplicate_offset: DuplicateOffset::Original,
        dedups_plain_idempotent_retries: true,
        // Kafka's group.initial.rebalance.delay.ms default, plus a margin.
        group_join_delay: Duration::from_secs(5),
        acks0_offset_known: false,
        lose_response: None,
        group_assignor: "range",
        high_watermark_exact: true,
        link_faults: Some("a cluster given by its address has no proxy in front of it"),
        producer_identity_visible: false,
    };
    KafkaTarget::new("kafka", bootstrap, capabilities, &[], NoFaults)
}
