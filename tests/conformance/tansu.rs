//! Target (c): tansu 0.6.0, a Kafka-protocol broker, on loopback (the binary
//! named by `$IDEMLOG_TANSU`), behind a [`FaultProxy`] that loses produce
//! requests or responses and cuts the connection, as a network would.

use std::time::Duration;

use crate::fault_proxy::FaultProxy;
use crate::kafka_target::{InjectFaults, KafkaTarget};
use crate::tansu_broker::{free_port, TansuBroker, TANSU_ENV};
use crate::target::{Capabilities, DuplicateOffset, LinkFault};

/// The proxy, then the broker it fronts (dropped in that order).
pub(crate) struct ProxiedTansu {
    proxy: FaultProxy,
    _broker: TansuBroker,
}

impl InjectFaults for ProxiedTansu {
    fn inject(&self, faults: &[LinkFault]) {
        self.proxy.set_script(faults.to_vec());
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
        // Measured: joins take 3.2 to 4.0 s.
        group_join_delay: Duration::from_secs(5),
        acks0_offset_known: false,
        link_faults: None,
        producer_identity_visible: false,
    };
    KafkaTarget::new(
        "tansu",
        &bootstrap,
        capabilities,
        ProxiedTansu {
            proxy,
            _broker: broker,
        },
    )
}
