//! Target (b): rdkafka's `MockCluster`, librdkafka's in-process mock broker,
//! reached through the Kafka backend like any cluster. Faults are the mock's
//! own: an error response that says the batch was not written stands for a
//! lost request. It cannot lose a response (see the capability table).

use std::time::Duration;

use rdkafka::bindings as ffi;
use rdkafka::producer::{BaseProducer, Producer as _};
use rdkafka::ClientConfig;

use idemlog::Cluster;

use crate::kafka_target::{Broker, KafkaTarget};
use crate::target::{Capabilities, DuplicateOffset, LinkFault};

/// The mock's one broker.
const BROKER: i32 = 1;
/// Kafka's api key of Produce.
const PRODUCE: i16 = 0;

/// The client that owns the mock cluster (librdkafka's
/// `test.mock.num.brokers`): the mock lives as long as it does.
pub(crate) struct MockFaults {
    host: BaseProducer,
}

impl MockFaults {
    fn mock(&self) -> *mut ffi::rd_kafka_mock_cluster_t {
        // SAFETY: `host` is a live client created with `test.mock.num.brokers`,
        // so it has a mock cluster, which lives as long as `host`.
        unsafe { ffi::rd_kafka_handle_mock_cluster(self.host.client().native_ptr()) }
    }
}

impl Broker for MockFaults {
    /// Through the mock's own API: it does not serve CreateTopics (the admin
    /// request times out).
    fn create_topic(&self, _: &Cluster, name: &str, partitions: u32) -> Result<(), String> {
        let mock = self.host.client().mock_cluster().ok_or("no mock cluster")?;
        let partitions = i32::try_from(partitions).map_err(|error| error.to_string())?;
        mock.create_topic(name, partitions, 1)
            .map_err(|error| error.to_string())
    }

    fn inject(&self, faults: &[LinkFault]) {
        for fault in faults {
            let (error, rtt) = match fault {
                LinkFault::Deliver => (ffi::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR, 0),
                // Refused before the append: a retriable error, nothing written.
                LinkFault::LoseRequest => (
                    ffi::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                    0,
                ),
                LinkFault::LoseResponse => {
                    panic!("mock-cluster cannot lose a response (its capabilities say so)")
                }
            };
            // SAFETY: a live mock cluster (see `mock`), and the variadic
            // arguments are `cnt` = 1 pair of (rd_kafka_resp_err_t, int rtt_ms),
            // as librdkafka's rd_kafka_mock_broker_push_request_error_rtts reads them.
            let pushed = unsafe {
                ffi::rd_kafka_mock_broker_push_request_error_rtts(
                    self.mock(),
                    BROKER,
                    PRODUCE,
                    1,
                    error,
                    rtt,
                )
            };
            assert_eq!(
                pushed,
                ffi::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                "mock: push a produce error"
            );
        }
    }
}

/// A fresh mock cluster with one broker and no group join delay.
pub(crate) fn mock_cluster() -> KafkaTarget<MockFaults> {
    let host: BaseProducer = ClientConfig::new()
        .set("test.mock.num.brokers", "1")
        .create()
        .expect("mock cluster");
    let faults = MockFaults { host };
    // SAFETY: a live mock cluster (see `mock`); the call only sets an integer.
    unsafe { ffi::rd_kafka_mock_group_initial_rebalance_delay_ms(faults.mock(), 0) };
    let bootstrap = faults
        .host
        .client()
        .mock_cluster()
        .expect("the host client has a mock cluster")
        .bootstrap_servers();
    let capabilities = Capabilities {
        duplicate_offset: DuplicateOffset::Original,
        dedups_plain_idempotent_retries: false,
        group_join_delay: Duration::from_secs(1),
        acks0_offset_known: false,
        lose_response: Some("MockCluster can delay a request, not drop its response"),
        group_assignor: "cooperative-sticky",
        high_watermark_exact: true,
        link_faults: None,
        producer_identity_visible: false,
    };
    // The mock waits up to the session timeout (less a second) for members
    // to join again, and a member hears of a rebalance at its next heartbeat.
    let consumer_defaults = &[
        ("session.timeout.ms", "2000"),
        ("heartbeat.interval.ms", "100"),
    ];
    KafkaTarget::new(
        "mock-cluster",
        &bootstrap,
        capabilities,
        consumer_defaults,
        faults,
    )
}
