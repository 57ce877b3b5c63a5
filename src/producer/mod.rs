//! The producer client: Kafka's producer model over the in-process [`Log`].
//!
//! Application threads call [`Producer::send`]; records go into per-partition
//! lock-free queues (the accumulator) and one flusher thread per producer
//! (Kafka's I/O thread) batches them, stamps sequences, sends them to the log
//! through a [link](LinkConfig) that can drop requests and responses, retries,
//! and completes each record's [`DeliveryHandle`].
//!
//! | mode | config | lost request | lost response |
//! |---|---|---|---|
//! | at-most-once | [`ProducerConfig::at_most_once`] | lost, error reported | in the log once, error reported |
//! | fire-and-forget | `acks=0` | lost, success reported (offset unknown) | n/a |
//! | at-least-once | [`ProducerConfig::at_least_once`] | retried | retried: duplicate |
//! | exactly-once | [`ProducerConfig::exactly_once`] (the default) | retried | deduplicated, original offset |
//!
//! Even with idempotence, duplicates still come from the application re-sending
//! a record itself, from a new producer (new pid) re-sending, and from the log
//! expiring the producer's state before a late retry ([`crate::contract`]).
//!
//! Differences from Kafka: `acks=1` and `acks=all` behave alike (one in-process
//! replica); `batch.size` and `buffer.memory` count key + value +
//! [`RECORD_OVERHEAD`] bytes per record; `max.block.ms` and `close`'s timeout are
//! real time while the other timers follow the [`TimeSource`]; after an epoch
//! bump the batches of the partition whose sequence was unresolved are
//! re-sequenced and retried (as Kafka does for its in-flight batches), including
//! one the log rejected as out of order, which Kafka would fail.
//!
//! ```
//! use std::time::Duration;
//! use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
//! use idemlog::Log;
//!
//! let log = Log::new();
//! log.create_topic("orders", 3).unwrap();
//! let producer = Producer::new(&log, ProducerConfig::exactly_once()).unwrap();
//! let handle = producer.send(ProducerRecord::new("orders", "o-1").key("customer-7")).unwrap();
//! producer.flush().unwrap();
//! let meta = handle.wait().unwrap();
//! assert_eq!(meta.offset, Some(0));
//! producer.close(Duration::from_secs(5)).unwrap();
//! ```

mod accumulator;
mod config;
mod delivery;
mod error;
mod flusher;
mod link;
mod metrics;
mod partitioner;
mod time;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

pub use accumulator::RECORD_OVERHEAD;
pub use config::{Acks, ProducerConfig, KEYS};
use delivery::Callback;
pub use delivery::{DeliveryHandle, DeliveryResult, RecordMetadata};
pub use error::{ConfigError, ProducerError};
pub use link::{Fault, LinkConfig, SplitMix64};
pub use metrics::MetricsSnapshot;
pub use partitioner::{murmur2, partition_for_key};
pub use time::TimeSource;

use crate::log::Log;
use crate::sync::{spawn_named, Arc, JoinHandle, Mutex};
use crate::types::ProducerIdentity;
use accumulator::{Accumulator, TopicQueues};
use flusher::Flusher;
use metrics::Metrics;

/// A record to send: topic, optional key, value, optional explicit partition.
///
/// ```
/// use idemlog::producer::ProducerRecord;
/// let record = ProducerRecord::new("clicks", "page=/").key("user-1").partition(2);
/// assert_eq!((record.topic(), record.partition_setting()), ("clicks", Some(2)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    topic: String,
    partition: Option<u32>,
    key: Option<Bytes>,
    value: Bytes,
}

impl ProducerRecord {
    /// A keyless record for `topic` (sticky partitioning).
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: value.into(),
        }
    }

    /// Sets the key: the partition is then `toPositive(murmur2(key)) % partitions`.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sends to this partition, whatever the key.
    pub fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The explicit partition, if any.
    pub fn partition_setting(&self) -> Option<u32> {
        self.partition
    }

    /// The key, if any.
    pub fn key_bytes(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }

    /// The value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

/// A topic of one producer, resolved once: [`Producer::send_to`] skips the
/// per-record topic lookup (and the topic `String` of a [`ProducerRecord`]).
/// Cheap to clone; valid for the producer that made it.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 2).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
/// let topic = producer.topic("t").unwrap();
/// assert_eq!((topic.name(), topic.partitions()), ("t", 2));
/// let meta = producer.send_to(&topic, Some(1), None, "v").unwrap().wait().unwrap();
/// assert_eq!((meta.partition, meta.offset), (1, Some(0)));
/// ```
#[derive(Clone)]
pub struct TopicHandle {
    queues: Arc<TopicQueues>,
    /// The producer (its accumulator's address) the queues belong to.
    owner: usize,
}

impl TopicHandle {
    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.queues.name
    }

    /// Its partition count.
    pub fn partitions(&self) -> u32 {
        self.queues.queues.len() as u32
    }
}

impl fmt::Debug for TopicHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicHandle")
            .field("name", &self.name())
            .field("partitions", &self.partitions())
            .finish()
    }
}

/// A Kafka-style producer over a [`Log`]: thread-safe (`send` from many threads
/// at once), with one flusher thread doing all the I/O.
///
/// `send` never blocks, except while `buffer.memory` is full (then up to
/// `max.block.ms`). [`Producer::flush`] waits for everything sent before it;
/// [`Producer::close`] drains and stops the flusher. Dropping the producer
/// closes it with a timeout of `delivery.timeout.ms`, by which every record has
/// completed anyway, so acknowledged work is never lost and drop never hangs.
///
/// ```
/// use std::time::Duration;
/// use idemlog::producer::{Fault, LinkConfig, Producer, ProducerConfig, ProducerRecord, TimeSource};
/// use idemlog::Log;
///
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// // The first response is lost: the retry is answered as a duplicate with the
/// // original offset. Virtual time: the 30 s request timeout costs nothing.
/// let config = ProducerConfig::exactly_once()
///     .link(LinkConfig::new().script(vec![Fault::DropResponse]))
///     .time(TimeSource::virtual_time());
/// let producer = Producer::new(&log, config).unwrap();
/// let handle = producer.send(ProducerRecord::new("t", "once")).unwrap();
/// producer.flush().unwrap();
/// let meta = handle.wait().unwrap();
/// assert_eq!((meta.offset, meta.duplicate), (Some(0), true));
/// assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 1);
/// producer.close(Duration::from_secs(5)).unwrap();
/// ```
pub struct Producer {
    acc: Arc<Accumulator>,
    metrics: Arc<Metrics>,
    config: ProducerConfig,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.config)
            .field("metrics", &self.metrics.snapshot())
            .finish()
    }
}

impl Producer {
    /// Validates `config` against `log` (see [`ProducerConfig::resolve`]), does
    /// the producer-id handshake when idempotent, and starts the flusher thread.
    pub fn new(log: &Log, config: ProducerConfig) -> Result<Self, ProducerError> {
        let config = config.resolve(log.config().dedup_window_len())?;
        let identity = config.is_idempotent().then(|| ProducerIdentity {
            epoch: config.start_epoch,
            ..log.init_producer_id()
        });
        let acc = Arc::new(Accumulator::new(
            log.clone(),
            config.batch_size,
            config.buffer_memory,
            config.max_block_ms,
        ));
        let metrics = Arc::new(Metrics::default());
        let flusher = Flusher::new(
            log,
            &config,
            identity,
            Arc::clone(&acc),
            Arc::clone(&metrics),
        );
        let name = match identity {
            Some(identity) => format!("idemlog-flusher-pid{}", identity.producer_id),
            None => "idemlog-flusher".to_string(),
        };
        let exit = ExitGuard(Arc::clone(&acc));
        let thread = spawn_named(name, move || {
            let _exit = exit;
            flusher.run();
        })
        .map_err(|err| ProducerError::Spawn(err.to_string()))?;
        Ok(Self {
            acc,
            metrics,
            config,
            flusher: Mutex::new(Some(thread)),
        })
    }

    /// Queues `record` and returns its delivery handle. Errors at once for an
    /// unknown topic or partition, a record larger than `buffer.memory`, a full
    /// buffer for `max.block.ms`, or a closed producer.
    pub fn send(&self, record: ProducerRecord) -> Result<DeliveryHandle, ProducerError> {
        self.send_inner(record, None)
    }

    /// Resolves topic `name` once for [`Producer::send_to`]; errors for an
    /// unknown topic.
    pub fn topic(&self, name: &str) -> Result<TopicHandle, ProducerError> {
        Ok(TopicHandle {
            queues: self.acc.resolve(&name.to_string())?,
            owner: self.acc.owner(),
        })
    }

    /// Like [`Producer::send`] with a record of `topic` (explicit `partition`
    /// if any, else by `key`, else sticky), without looking the topic up. A
    /// handle of another producer is looked up by name instead.
    pub fn send_to(
        &self,
        topic: &TopicHandle,
        partition: Option<u32>,
        key: Option<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<DeliveryHandle, ProducerError> {
        let value = value.into();
        if topic.owner != self.acc.owner() {
            let mut record = ProducerRecord::new(topic.name(), value);
            record.partition = partition;
            record.key = key;
            return self.send(record);
        }
        // Relaxed: an early exit only; `Accumulator::push` re-checks with SeqCst.
        if self.acc.closed.load(crate::sync::Ordering::Relaxed) {
            return Err(ProducerError::Closed);
        }
        let (handle, completer) = delivery::channel(self.acc.owner(), None);
        self.acc.append_to(
            &topic.queues,
            partition,
            key,
            value,
            self.config.time.stamp_ms(),
            completer,
        )?;
        Ok(handle)
    }

    /// Like [`Producer::send`], and `callback` is called once with the record's
    /// outcome (Kafka's `send(record, callback)`); the handle is completed
    /// right after the callback returns.
    ///
    /// - The callback runs on the producer's flusher thread (the I/O thread, as
    ///   in Kafka), so it should be quick: while it runs no record of this
    ///   producer makes progress. (If the producer is closed while the record
    ///   is still queued, it may instead run on the thread whose `send` or
    ///   `close` fails the record.)
    /// - If `send_with_callback` itself returns an error, the callback is never
    ///   called (it is dropped); the error is the outcome.
    /// - A panicking callback is caught with `catch_unwind` (the panic hook
    ///   still prints it): the flusher goes on, and the record's handle and
    ///   every other record complete as usual. Its captured state may be left
    ///   half-updated, as with any caught panic.
    /// - From inside a callback, `send` never blocks on a full buffer (it fails
    ///   with [`ProducerError::BufferExhausted`] instead), `flush` returns
    ///   [`ProducerError::InCallback`] at once, and `close` (or dropping the
    ///   last owner of the producer) stops it accepting records and returns
    ///   without waiting: the flusher drains the rest in the background.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
    /// use idemlog::Log;
    /// let log = Log::new();
    /// log.create_topic("t", 1).unwrap();
    /// let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// producer
    ///     .send_with_callback(ProducerRecord::new("t", "v"), move |result| {
    ///         tx.send(result.map(|meta| meta.offset)).unwrap();
    ///     })
    ///     .unwrap();
    /// assert_eq!(rx.recv().unwrap(), Ok(Some(0)));
    /// ```
    pub fn send_with_callback(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(DeliveryResult) + Send + 'static,
    ) -> Result<DeliveryHandle, ProducerError> {
        self.send_inner(record, Some(Box::new(callback)))
    }

    fn send_inner(
        &self,
        record: ProducerRecord,
        callback: Option<Callback>,
    ) -> Result<DeliveryHandle, ProducerError> {
        // Relaxed: an early exit only; `Accumulator::push` re-checks with SeqCst.
        if self.acc.closed.load(crate::sync::Ordering::Relaxed) {
            return Err(ProducerError::Closed);
        }
        let (handle, completer) = delivery::channel(self.acc.owner(), callback);
        self.acc.append(
            &record.topic,
            record.partition,
            record.key,
            record.value,
            self.config.time.stamp_ms(),
            completer,
        )?;
        Ok(handle)
    }

    /// Sends everything queued now, ignoring `linger.ms`, and waits until every
    /// record sent before this call has completed (success or error).
    /// From a delivery callback of this producer it returns
    /// [`ProducerError::InCallback`] at once (it would wait for itself).
    pub fn flush(&self) -> Result<(), ProducerError> {
        // Relaxed: as in `send`; a flush racing `close` still returns (markers
        // are swept or fired by the exiting flusher).
        if self.acc.closed.load(crate::sync::Ordering::Relaxed) {
            return Err(ProducerError::Closed);
        }
        if delivery::in_callback_of(self.acc.owner()) {
            return Err(ProducerError::InCallback { operation: "flush" });
        }
        self.acc.flush();
        Ok(())
    }

    /// Stops accepting records, drains everything queued or in flight, and stops
    /// the flusher. If that takes longer than `timeout` (real time), what is left
    /// fails with [`ProducerError::Closed`] and `CloseTimeout` is returned.
    /// Closing twice is fine; a `timeout` too large for the clock (e.g.
    /// `Duration::MAX`) waits as long as the drain takes.
    ///
    /// From a delivery callback of this producer (its flusher thread) `close`
    /// cannot wait: it stops the producer accepting records, leaves the
    /// flusher to drain and exit by itself, and returns
    /// [`ProducerError::InCallback`]. Dropping the producer there does the same.
    pub fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        self.acc.close();
        if delivery::in_callback_of(self.acc.owner()) {
            // Detach: joining would wait for the thread we may be running on.
            drop(self.flusher.lock().take());
            return Err(ProducerError::InCallback { operation: "close" });
        }
        let drained = self.acc.wait_exited(timeout);
        if !drained {
            self.acc.force_close();
            while !self.acc.wait_exited(Duration::from_secs(1)) {}
        }
        if let Some(thread) = self.flusher.lock().take() {
            // The flusher body does not panic on input; a panic would be a bug,
            // and `ExitGuard` has then failed everything it held with `Closed`.
            let _joined = thread.join();
        }
        if drained {
            Ok(())
        } else {
            Err(ProducerError::CloseTimeout {
                timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
            })
        }
    }

    /// The counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// Test hook: requests in the link now (sent, not yet reached the log) and
    /// the most it has held at once.
    #[doc(hidden)]
    pub fn link_queue_len(&self) -> (u64, u64) {
        (
            Metrics::get(&self.metrics.link_queue),
            Metrics::get(&self.metrics.link_queue_peak),
        )
    }

    /// The effective configuration (idempotence resolved).
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }
}

/// Ends the flusher thread's life in every case: if the flusher panics (a bug),
/// the producer acts as closed, queued records fail with `Closed`, and `close`
/// does not wait forever.
struct ExitGuard(Arc<Accumulator>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.flusher_died();
        }
        self.0.set_exited();
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        // Records failed by a forced close report it through their handles.
        let _closed = self.close(timeout);
    }
}
