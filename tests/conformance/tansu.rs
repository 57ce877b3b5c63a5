//! Target (c): tansu 0.6.0, a Kafka-protocol broker, on loopback (the binary
//! named by `$IDEMLOG_TANSU`), behind a [`FaultProxy`] that loses produce
//! requests or responses and cuts the connection, as a network would.

use std::time::Duration;

use crate::fault_proxy::{FaultProxy, ProduceFault};
use crate::kafka_target::{Broker, KafkaTarget};
use crate::tansu_broker::{free_port, TansuBroker, TANSU_ENV};
use crate::target::{Capabilities, DuplicateOffset, LinkFault};

/// The proxy, then the broker it fronts (dropped in that order).
pub(crate) struct ProxiedTansu {
    proxy: FaultProxy,
    _broker: TansuBroker,
}

impl Broker for ProxiedTansu {
    fn inject(&self, faults: &[LinkFault]) {
        self.proxy
            .set_script(faults.iter().copied().map(produce_fault).collect());
    }
}

/// The proxy's fault for a check's.
fn produce_fault(fault: LinkFault) -> ProduceFault {
    match fault {
        LinkFault::Deliver => ProduceFault::Deliver,
        LinkFault::LoseRequest => ProduceFault::LoseRequest,
        LinkFault::LoseResponse => ProduceFault::LoseResponse,
    }
}

/// Whether a tansu binary is configured (`$IDEMLOG_TANSU`).
pub(crate) fn available() -> bool {
    std::env::var_os(TANSU_ENV).is_some()
}

/// A fresh tansu broker behind a fresh proxy (panics, failing the check, if
/// it does not start).
pub(crate) fn tansu() -> KafkaTarget<ProxiedTansu> {
    let port = free_port();
    let broker = TansuBroker::start(Some(port)).expect("start tansu");
    let proxy = FaultProxy::start_on(port, broker.listen_addr()).expect("start the fault proxy");
    let bootstrap = broker.bootstrap();
    let capabilities = Capabilities {
        // tansu answers a deduplicated retry with offset -1.
        duplicate_offset: DuplicateOffset::Unknown,
        dedups_plain_idempotent_retries: true,
        // Measured: a join takes about 3.6 s with the session timeout below
        // (tansu answers a JoinGroup after about half of it; with Kafka's
        // default 45 s, after more than 15 s).
        group_join_delay: Duration::from_secs(5),
        acks0_offset_known: false,
        lose_response: None,
        group_assignor: "range",
        high_watermark_exact: false,
        link_faults: None,
        producer_identity_visible: false,
    };
    KafkaTarget::new(
        "tansu",
        &bootstrap,
        capabilities,
        &[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
        ],
        ProxiedTansu {
            proxy,
            _broker: broker,
        },
    )
}
