//! Target (a): the in-process [`Log`], with faults injected by the producer's
//! simulated link (`idemlog::producer::sim`) in virtual time, so a lost request
//! costs no real request timeout.

use std::time::Duration;

use idemlog::consumer::ConsumerConfig;
use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{Producer, ProducerConfig, ProducerError, TimeSource};
use idemlog::{ConsumerError, Log, MultiConsumer};

use crate::target::{Capabilities, DuplicateOffset, LinkFault, Properties, Target};

/// A fresh in-process log per check.
pub(crate) struct InProcess {
    log: Log,
    capabilities: Capabilities,
}

impl InProcess {
    pub(crate) fn new() -> Self {
        Self {
            log: Log::new(),
            capabilities: Capabilities {
                duplicate_offset: DuplicateOffset::Original,
                dedups_plain_idempotent_retries: true,
                group_join_delay: Duration::ZERO,
                acks0_offset_known: false,
                lose_response: None,
                group_assignor: "range",
                high_watermark_exact: true,
                link_faults: None,
                producer_identity_visible: true,
            },
        }
    }
}

impl Target for InProcess {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn create_topic(&self, name: &str, partitions: u32) -> String {
        self.log
            .create_topic(name, partitions)
            .unwrap_or_else(|error| panic!("in-process: create topic {name}: {error}"));
        name.to_string()
    }

    fn producer(
        &self,
        properties: Properties<'_>,
        faults: &[LinkFault],
    ) -> Result<Producer, ProducerError> {
        let mut config = ProducerConfig::from_properties(properties.iter().copied())
            .map_err(ProducerError::Config)?;
        if !faults.is_empty() {
            let script = faults
                .iter()
                .map(|fault| match fault {
                    LinkFault::Deliver => Fault::None,
                    LinkFault::LoseRequest => Fault::DropRequest,
                    LinkFault::LoseResponse => Fault::DropResponse,
                })
                .collect();
            // Virtual time: the request timeout after a lost request or
            // response passes at once.
            config = config
                .link(LinkConfig::new().script(script))
                .time(TimeSource::virtual_time());
        }
        Producer::new(&self.log, config)
    }

    fn consumer(&self, properties: Properties<'_>) -> Result<MultiConsumer, ConsumerError> {
        self.log
            .multi_consumer(ConsumerConfig::from_properties(properties.iter().copied())?)
    }

    fn subscribe(
        &self,
        properties: Properties<'_>,
        topics: &[&str],
    ) -> Result<MultiConsumer, ConsumerError> {
        let config = ConsumerConfig::from_properties(properties.iter().copied())?;
        self.log.subscribe(config, topics)
    }
}
