//! [`KafkaProducer`]: the producer API on librdkafka (a `ThreadedProducer`,
//! whose polling thread is Kafka's I/O thread), behind
//! [`Producer`](crate::producer::Producer).
//!
//! Each `send` hands librdkafka one message whose delivery opaque is its
//! [`MessageDelivery`]; the context's delivery callback completes it.
//! librdkafka batches, retries and deduplicates (idempotence) by itself;
//! what idemlog adds is Kafka's Java semantics where librdkafka differs:
//! `max.block.ms` on a full queue, the murmur2 partitioner, and `close`
//! failing what it could not send as `Closed` (never sent) or `Abandoned`
//! (in flight), as in process.

use std::ffi::c_int;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::bindings as ffi;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult as RdDeliveryResult, Message};
use rdkafka::producer::{
    BaseRecord, Producer as _, ProducerContext, PurgeConfig, ThreadedProducer,
};
use rdkafka::ClientContext;

use super::metadata::partition_count;
use super::producer_config::{client_config, KAFKA_DEDUP_WINDOW};
use crate::kafka_error::KafkaError;
use crate::producer::{
    in_callback_of, new_owner, Callback, DeliveryHandle, MessageDelivery, Metrics, MetricsSnapshot,
    ProducerConfig, ProducerError, ProducerRecord, RemoteProducer, SendError, CLOSE_GRACE,
};

/// How long a `send` into librdkafka's full queue sleeps before trying again
/// (the polling thread frees room as deliveries are reported).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);

/// The producer context: completes each message's [`MessageDelivery`].
struct DeliveryReports {
    owner: u64,
    delivery_timeout_ms: u64,
    metrics: Metrics,
}

impl ClientContext for DeliveryReports {}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = Arc<MessageDelivery>;

    fn delivery(&self, result: &RdDeliveryResult<'_>, delivery: Arc<MessageDelivery>) {
        match result {
            Ok(message) => {
                Metrics::add(&self.metrics.acked, 1);
                delivery.succeeded(
                    partition_of(message),
                    u64::try_from(message.offset()).ok(),
                    message.timestamp().to_millis(),
                );
            }
            Err((error, message)) => {
                Metrics::add(&self.metrics.failed, 1);
                delivery.failed(
                    message.topic(),
                    partition_of(message),
                    self.producer_error("deliver", error),
                    message.key(),
                    message.payload().unwrap_or_default(),
                );
            }
        }
    }
}

impl DeliveryReports {
    /// librdkafka's error as idemlog's: the outcomes both backends share
    /// (a delivery timeout, a purge by `close`) keep their in-process names.
    fn producer_error(&self, operation: &'static str, error: &RdKafkaError) -> ProducerError {
        match error.rdkafka_error_code() {
            // librdkafka names no cause, so the outcome stays unknown.
            Some(RDKafkaErrorCode::MessageTimedOut) => ProducerError::DeliveryTimeout {
                timeout_ms: self.delivery_timeout_ms,
                last_error: None,
                not_written: false,
            },
            Some(RDKafkaErrorCode::PurgeQueue) => ProducerError::Closed,
            Some(RDKafkaErrorCode::PurgeInflight) => ProducerError::Abandoned,
            _ => ProducerError::Kafka(KafkaError::new(operation, error.clone())),
        }
    }
}

/// A message's partition (librdkafka reports -1 for one it never assigned).
fn partition_of(message: &impl Message) -> u32 {
    u32::try_from(message.partition()).unwrap_or_default()
}

/// See the module comment.
pub(crate) struct KafkaProducer {
    producer: ThreadedProducer<DeliveryReports>,
    config: ProducerConfig,
    closed: AtomicBool,
}

impl fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaProducer")
            .field("config", &self.config)
            .field("in_flight", &self.producer.in_flight_count())
            .finish()
    }
}

impl KafkaProducer {
    /// Waits up to `timeout` until every message handed to librdkafka has
    /// been reported (and its handle completed); true if none is left.
    ///
    /// librdkafka's `rd_kafka_flush` raises a "flushing" flag for as long as
    /// it waits, and broker threads treat `linger.ms` as elapsed while it is
    /// up. rdkafka's `flush` calls it with a zero timeout in a loop around its
    /// own poll, so the flag is up only for an instant: a broker thread that
    /// wakes after it drops holds the batch for the whole linger (with
    /// `linger.ms=60000`, `close` timed out about one run in three). So this
    /// calls `rd_kafka_flush` for the whole wait, while the polling thread of
    /// the `ThreadedProducer` serves the delivery reports.
    fn deliver_all(&self, timeout: Duration) -> bool {
        let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
        // SAFETY: `native_ptr` is the live `rd_kafka_t` of `self.producer`,
        // which outlives this call; `rd_kafka_flush` may be called from any
        // thread. The producer takes delivery reports as events
        // (`RD_KAFKA_EVENT_DR`), so librdkafka only waits here for the message
        // count to reach zero and never serves (and drops) a report itself:
        // the `ThreadedProducer`'s polling thread serves them.
        let code = unsafe { ffi::rd_kafka_flush(self.producer.client().native_ptr(), timeout_ms) };
        code == ffi::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// A producer on the cluster at `bootstrap_servers`, with `config`
    /// resolved as Kafka resolves it (a dedup window of 5).
    pub(crate) fn new(
        config: ProducerConfig,
        bootstrap_servers: &str,
    ) -> Result<Self, ProducerError> {
        let config = config.resolve(KAFKA_DEDUP_WINDOW)?;
        let context = DeliveryReports {
            owner: new_owner(),
            delivery_timeout_ms: config.delivery_timeout_ms,
            metrics: Metrics::default(),
        };
        let producer = client_config(&config, bootstrap_servers)?
            .create_with_context(context)
            .map_err(|error| ProducerError::Kafka(KafkaError::new("create producer", error)))?;
        Ok(Self {
            producer,
            config,
            closed: AtomicBool::new(false),
        })
    }

    fn context(&self) -> &DeliveryReports {
        self.producer.context()
    }
}

impl RemoteProducer for KafkaProducer {
    /// The producer's instance id (for `in_callback_of`).
    fn owner(&self) -> u64 {
        self.context().owner
    }

    /// Hands `record` to librdkafka; see [`Producer::send`](crate::producer::Producer::send).
    fn send(
        &self,
        record: ProducerRecord<'_>,
        callback: Option<Callback>,
    ) -> Result<DeliveryHandle, SendError> {
        // Acquire: pairs with the Release store in `close`: a send that
        // begins after it is refused (P8 in crate::implementation).
        if self.closed.load(Ordering::Acquire) {
            return Err(SendError::new(ProducerError::Closed, &record));
        }
        let delivery = Arc::new(MessageDelivery::new(self.owner()));
        if let Some(callback) = callback {
            delivery.completion().push_callback(0, callback);
        }
        let mut message = BaseRecord::with_opaque_to(record.topic(), Arc::clone(&delivery))
            .payload(record.value_bytes());
        if let Some(key) = record.key_bytes() {
            message = message.key(key);
        }
        if let Some(partition) = record.partition_setting() {
            match i32::try_from(partition) {
                Ok(partition) => message = message.partition(partition),
                Err(_) => {
                    let error = crate::LogError::UnknownPartition {
                        topic: record.topic().to_string(),
                        partition,
                        partitions: 0,
                    };
                    return Err(SendError::new(ProducerError::Log(error), &record));
                }
            }
        }
        // `max.block.ms` bounds the wait for room in librdkafka's queue; a
        // send from a delivery callback does not wait (the callback holds the
        // thread that frees room). The deadline is taken at the first
        // `QueueFull`: a send that finds room reads no clock.
        let mut deadline = None;
        loop {
            let (error, returned) = match self.producer.send(message) {
                Ok(()) => break,
                Err(refused) => refused,
            };
            let full = error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull);
            if full && !in_callback_of(self.owner()) {
                let now = Instant::now();
                let until =
                    *deadline.get_or_insert(now + Duration::from_millis(self.config.max_block_ms));
                if now < until {
                    message = returned;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                    continue;
                }
            }
            let error = if full {
                ProducerError::BufferExhausted {
                    max_block_ms: self.config.max_block_ms,
                }
            } else {
                ProducerError::Kafka(KafkaError::new("send", error))
            };
            return Err(SendError::new(error, &record));
        }
        Metrics::add(&self.context().metrics.sent, 1);
        Ok(DeliveryHandle::message(delivery))
    }

    /// The partition count of `topic`, from the cluster's metadata (waits up
    /// to `max.block.ms`, as Kafka's `partitionsFor` does).
    fn partitions(&self, topic: &str) -> Result<u32, ProducerError> {
        partition_count(
            self.producer.client(),
            topic,
            Duration::from_millis(self.config.max_block_ms),
        )
        .map_err(ProducerError::from)
    }

    /// See [`Producer::flush`](crate::producer::Producer::flush).
    fn flush(&self, timeout: Duration) -> Result<(), ProducerError> {
        // Acquire: pairs with the Release store in `close`.
        if self.closed.load(Ordering::Acquire) {
            return Err(ProducerError::Closed);
        }
        if in_callback_of(self.owner()) {
            return Err(ProducerError::InCallback { operation: "flush" });
        }
        if self.deliver_all(timeout) {
            Ok(())
        } else {
            Err(ProducerError::FlushTimeout {
                timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
            })
        }
    }

    /// See [`Producer::close`](crate::producer::Producer::close): stops
    /// accepting records, waits up to `timeout` for everything to be
    /// delivered, then purges what is left (librdkafka reports a queued
    /// message `Closed`, an in-flight one `Abandoned`) and waits up to
    /// [`CLOSE_GRACE`] for those reports.
    fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        // Release: pairs with the Acquire loads in `send` and `flush`.
        self.closed.store(true, Ordering::Release);
        if in_callback_of(self.owner()) {
            // librdkafka's flush would poll from inside its own callback; the
            // producer's drop purges what is left.
            return Err(ProducerError::InCallback { operation: "close" });
        }
        if self.deliver_all(timeout) {
            return Ok(());
        }
        self.producer
            .purge(PurgeConfig::default().queue().inflight());
        // Waits for the purged messages' reports (their handles complete).
        let _served = self.deliver_all(CLOSE_GRACE);
        Err(ProducerError::CloseTimeout {
            timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
        })
    }

    /// The counters librdkafka's reports feed: sends, acknowledgements and
    /// errors (retries and deduplication happen inside librdkafka and are not
    /// counted); in flight is librdkafka's queued plus unacknowledged count.
    fn metrics(&self) -> MetricsSnapshot {
        let mut snapshot = self.context().metrics.snapshot();
        snapshot.requests_in_flight = u64::try_from(self.producer.in_flight_count()).unwrap_or(0);
        snapshot
    }

    /// The effective configuration.
    fn config(&self) -> &ProducerConfig {
        &self.config
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        // As in process: everything completes by its delivery timeout anyway.
        let timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        let _closed = self.close(timeout);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use rdkafka::mocking::MockCluster;

    use super::*;
    use crate::producer::{partition_for_key, Producer};
    use crate::Log;

    const WAIT: Duration = Duration::from_secs(10);

    fn producer(bootstrap_servers: &str, properties: &[(&str, &str)]) -> Producer {
        let config = ProducerConfig::from_properties(properties.iter().copied()).unwrap();
        Producer::remote(Arc::new(
            KafkaProducer::new(config, bootstrap_servers).unwrap(),
        ))
    }

    fn mock_with_topic(
        name: &str,
        partitions: i32,
    ) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        let mock = MockCluster::new(1).unwrap();
        mock.create_topic(name, partitions, 1).unwrap();
        mock
    }

    /// Keyed records land on murmur2(key) (librdkafka's default partitioner
    /// would not), each partition's offsets are dense in send order, and the
    /// callbacks run with the same outcome the handles report.
    #[test]
    fn keyed_sends_land_on_the_murmur2_partition_in_order() {
        let mock = mock_with_topic("t", 6);
        let producer = producer(&mock.bootstrap_servers(), &[("linger.ms", "0")]);
        let (tx, rx) = mpsc::channel();
        let keys: Vec<String> = (0..24).map(|i| format!("customer-{}", i % 8)).collect();
        let handles: Vec<_> = keys
            .iter()
            .map(|key| {
                let tx = tx.clone();
                producer
                    .send_with_callback(ProducerRecord::new("t", "v").key(key), move |result| {
                        tx.send(result.map(|meta| meta.offset)).unwrap()
                    })
                    .unwrap()
            })
            .collect();
        producer.flush(WAIT).unwrap();
        let mut next = [0u64; 6];
        for (key, handle) in keys.iter().zip(&handles) {
            let meta = handle.wait().unwrap();
            assert_eq!(
                meta.partition,
                partition_for_key(key.as_bytes(), 6),
                "{key}"
            );
            let expected = &mut next[meta.partition as usize];
            assert_eq!(meta.offset, Some(*expected), "{key}");
            *expected += 1;
        }
        let called: Vec<_> = rx.try_iter().collect();
        assert_eq!(called.len(), keys.len());
        assert!(called.iter().all(Result::is_ok));
        let metrics = producer.metrics();
        assert_eq!(
            (metrics.record_send_total, metrics.record_ack_total),
            (24, 24)
        );
        producer.close(WAIT).unwrap();
        let refused = producer.send(ProducerRecord::new("t", "late")).unwrap_err();
        assert_eq!(refused.error(), &ProducerError::Closed);
    }

    /// `flush` sends at once whatever lingers. Under a one-minute
    /// `linger.ms`, twenty one-record flushes after a first (which waits for
    /// the connection and the metadata) take under 5 s together: each is
    /// acknowledged at once (well under a millisecond here). rdkafka's own
    /// flush raised librdkafka's "flushing" flag only for an instant every
    /// 100 ms, so its flushes took about a second each, and now and then one
    /// waited out the linger.
    #[test]
    fn flush_overrides_a_long_linger() {
        let mock = mock_with_topic("t", 2);
        let producer = producer(&mock.bootstrap_servers(), &[("linger.ms", "60000")]);
        let send_and_flush = |round: u32| {
            let handle = producer
                .send(ProducerRecord::new("t", "v").partition(round % 2))
                .unwrap();
            producer
                .flush(WAIT)
                .unwrap_or_else(|error| panic!("round {round}: {error}"));
            assert!(handle.is_done(), "round {round}: flush returned first");
            assert_eq!(handle.wait().unwrap().offset, Some(u64::from(round / 2)));
        };
        send_and_flush(0);
        let started = Instant::now();
        for round in 1..=20 {
            send_and_flush(round);
        }
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "20 flushes took {took:?}");
        producer.close(WAIT).unwrap();
    }

    /// No broker answers: a record fails with `DeliveryTimeout` (outcome
    /// unknown) within `delivery.timeout.ms`, and `flush` says it timed out
    /// rather than hanging.
    #[test]
    fn an_unreachable_cluster_fails_records_within_the_delivery_timeout() {
        let producer = producer(
            "127.0.0.1:1",
            &[
                ("delivery.timeout.ms", "1500"),
                ("linger.ms", "0"),
                ("request.timeout.ms", "1000"),
            ],
        );
        let started = Instant::now();
        let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
        assert!(matches!(
            producer.flush(Duration::from_millis(100)),
            Err(ProducerError::FlushTimeout { .. })
        ));
        let failure = handle.wait_timeout(WAIT).expect("completes").unwrap_err();
        assert_eq!(
            failure.error(),
            &ProducerError::DeliveryTimeout {
                timeout_ms: 1500,
                last_error: None,
                not_written: false,
            }
        );
        assert!(failure.error().may_be_in_log());
        assert_eq!(failure.record().unwrap().value, "v");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        producer.close(WAIT).unwrap();
    }

    /// `close` with a timeout fails what it could not send as `Closed` (it
    /// never left the queue) and returns `CloseTimeout` within the timeout
    /// plus [`CLOSE_GRACE`].
    #[test]
    fn close_past_its_timeout_fails_queued_records_as_closed() {
        let producer = producer("127.0.0.1:1", &[("linger.ms", "0")]);
        let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
        let started = Instant::now();
        assert_eq!(
            producer.close(Duration::from_millis(200)),
            Err(ProducerError::CloseTimeout { timeout_ms: 200 })
        );
        assert!(
            started.elapsed()
                < Duration::from_millis(200) + CLOSE_GRACE + Duration::from_millis(500)
        );
        let failure = handle.wait_timeout(WAIT).expect("completes").unwrap_err();
        assert!(
            matches!(
                failure.error(),
                ProducerError::Closed | ProducerError::Abandoned
            ),
            "{failure}"
        );
    }

    /// librdkafka's queue stays full (`buffer.memory` of 1 KiB, no broker):
    /// a send waits `max.block.ms`, then fails with `BufferExhausted`, handing
    /// the record back.
    #[test]
    fn a_full_queue_blocks_for_max_block_ms_then_fails() {
        let producer = producer(
            "127.0.0.1:1",
            &[
                ("buffer.memory", "1024"),
                ("max.block.ms", "200"),
                ("linger.ms", "0"),
            ],
        );
        let value = [0u8; 700];
        let _first = producer.send(ProducerRecord::new("t", &value)).unwrap();
        let started = Instant::now();
        let refused = producer.send(ProducerRecord::new("t", &value)).unwrap_err();
        let waited = started.elapsed();
        assert_eq!(
            refused.error(),
            &ProducerError::BufferExhausted { max_block_ms: 200 }
        );
        assert_eq!(refused.record().value.len(), 700);
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        let _ = producer.close(Duration::ZERO);
    }

    /// The in-process extras cannot apply to a real connection, and
    /// librdkafka's narrower ranges are errors naming the key.
    #[test]
    fn in_process_only_settings_are_refused() {
        let simulated = ProducerConfig::default().link(
            crate::producer::sim::LinkConfig::new()
                .script(vec![crate::producer::sim::Fault::DropRequest]),
        );
        let error = KafkaProducer::new(simulated, "127.0.0.1:1").unwrap_err();
        assert!(error.to_string().contains("'link'"), "{error}");
        let linger = ProducerConfig::from_properties([("linger.ms", "900001")]).unwrap();
        let error = KafkaProducer::new(linger, "127.0.0.1:1").unwrap_err();
        assert!(error.to_string().contains("linger.ms"), "{error}");
        // And a Log refuses a config meant for a cluster.
        let kafka = ProducerConfig::from_properties([("bootstrap.servers", "h:9092")]).unwrap();
        let error = Producer::new(&Log::new(), kafka).unwrap_err();
        assert!(error.to_string().contains("Cluster"), "{error}");
    }
}
