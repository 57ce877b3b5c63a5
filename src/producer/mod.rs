//! The producer client: Kafka's producer model over the in-process [`Log`].
//!
//! Application threads call [`Producer::send`]: the sending thread copies the
//! record into its partition's open batch, already in the log's batch format
//! (Kafka's accumulator), with no lock. One flusher thread per producer
//! (Kafka's I/O thread) takes batches when they are full or have lingered,
//! stamps their sequences, sends them to the log through the broker seam (a
//! [perfect link](sim::LinkConfig) or one that drops requests and
//! responses), retries, and completes each batch once: every
//! [`DeliveryHandle`] into it learns the outcome.
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
//! An error says whether the record may be in the log
//! ([`ProducerError::may_be_in_log`]): resending after one that says so may
//! duplicate it.
//!
//! Differences from Kafka: `acks=1` and `acks=all` behave alike (one in-process
//! replica); `batch.size` and `buffer.memory` count the log's record format
//! (8 bytes of lengths plus key and value per record); `max.block.ms` and
//! `close`'s timeout are real time while the other timers follow the
//! [`TimeSource`]; after an epoch bump the batches of the partition whose
//! sequence was unresolved are re-sequenced and retried (as Kafka does for its
//! in-flight batches), including one the log rejected as out of order, which
//! Kafka would fail.
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
//! producer.flush(Duration::from_secs(5)).unwrap();
//! let meta = handle.wait().unwrap();
//! assert_eq!(meta.offset, Some(0));
//! producer.close(Duration::from_secs(5)).unwrap();
//! ```

mod batch;
mod batch_chain;
mod broker;
mod buffer_pool;
mod completion;
mod config;
mod delivery;
mod error;
mod flusher;
mod flusher_signal;
#[cfg(feature = "kafka")]
mod message_delivery;
mod metrics;
mod partitioner;
mod pending_batches;
mod record;
mod record_appender;
#[cfg(feature = "kafka")]
mod remote;
pub mod sim;
mod time;
mod topic_table;
mod user_code;

use std::fmt;
use std::time::{Duration, Instant};

pub use config::{Acks, ProducerConfig, KEYS};
pub use delivery::{DeliveryError, DeliveryHandle, DeliveryResult, FailedRecord, RecordMetadata};
pub use error::{ConfigError, ProducerError};
pub use metrics::MetricsSnapshot;
pub use partitioner::{murmur2, partition_for_key};
pub use record::{ProducerRecord, SendError, TopicRef};
pub use time::TimeSource;

// What a remote backend (src/kafka/producer.rs) builds on: the trait it
// implements, one message's completion, the callback runner and the counters
// (`Callback`, `Metrics`, `in_callback_of` and `new_owner` are among the
// imports below).
#[cfg(feature = "kafka")]
pub(crate) use {message_delivery::MessageDelivery, remote::RemoteProducer};

use crate::log::Log;
use crate::record::RecordRef;
use crate::sync::{spawn_named, Arc, JoinHandle, Mutex, SegQueue};
use crate::types::ProducerIdentity;
use broker::{LogBroker, Metadata, Transport};
use buffer_pool::BufferPool;
pub(crate) use delivery::Callback;
use flusher::{FlushWaiter, Flusher, Shared};
use flusher_signal::FlusherSignal;
pub(crate) use metrics::Metrics;
use pending_batches::PendingBatches;
use record_appender::AppendSettings;
use topic_table::{TopicBatches, TopicTable};
pub(crate) use user_code::{in_callback_of, new_owner};

/// How long `close` waits, after its timeout forced the flusher to fail
/// what is left, for the flusher to finish doing so before it returns
/// without it (a delivery callback that never returns holds the flusher).
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A topic of one producer, resolved once: a record built with
/// [`ProducerRecord::to`] from it skips the per-record topic lookup. Cheap to
/// clone; a handle of another producer is looked up by name instead.
///
/// ```
/// use std::time::Duration;
/// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 2).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
/// let topic = producer.topic("t").unwrap();
/// assert_eq!((topic.name(), topic.partitions()), ("t", 2));
/// let handle = producer.send(ProducerRecord::to(&topic).partition(1).value("v")).unwrap();
/// let meta = handle.wait().unwrap();
/// assert_eq!((meta.partition, meta.offset), (1, Some(0)));
/// ```
#[derive(Clone)]
pub struct TopicHandle {
    topic: HandleTopic,
    /// The producer instance it belongs to (never reused).
    owner: u64,
}

/// What a [`TopicHandle`] resolved.
#[derive(Clone)]
enum HandleTopic {
    /// An in-process producer's batch chains of the topic.
    Log(Arc<TopicBatches>),
    /// A remote (Kafka) topic: its name and partition count from the
    /// cluster's metadata.
    #[cfg(feature = "kafka")]
    Remote {
        name: std::sync::Arc<str>,
        partitions: u32,
    },
}

impl TopicHandle {
    /// The topic's name.
    pub fn name(&self) -> &str {
        match &self.topic {
            HandleTopic::Log(topic) => &topic.name,
            #[cfg(feature = "kafka")]
            HandleTopic::Remote { name, .. } => name,
        }
    }

    /// Its partition count.
    pub fn partitions(&self) -> u32 {
        match &self.topic {
            HandleTopic::Log(topic) => topic.partitions(),
            #[cfg(feature = "kafka")]
            HandleTopic::Remote { partitions, .. } => *partitions,
        }
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

/// What the clones of one producer share; dropping the last closes it.
struct Inner {
    shared: Arc<Shared>,
    config: ProducerConfig,
    settings: AppendSettings,
    flusher: Mutex<Option<JoinHandle<()>>>,
    /// Keeps the shared coarse clock ticking for `stamp_ms` (real time only).
    _ticker: Option<crate::ticker::TickerLease>,
}

/// A Kafka-style producer over a [`Log`] (or, with the `kafka` feature, over a
/// Kafka cluster: see [`Cluster`](crate::Cluster)): thread-safe (`send` from
/// many threads at once), with one flusher thread doing all the I/O. Clones
/// share the same producer (one `Arc`), as rdkafka's `FutureProducer` does.
///
/// `send` never blocks, except when it must open a batch while
/// `buffer.memory` is full (then up to `max.block.ms`). [`Producer::flush`]
/// waits for everything sent before it; [`Producer::close`] drains and stops
/// the flusher. Dropping the last clone closes it with a timeout of
/// `delivery.timeout.ms`, by which every record has completed anyway, so
/// acknowledged work is never lost and drop returns within that timeout plus
/// [`CLOSE_GRACE`] even if a delivery callback never returns.
///
/// ```
/// use std::time::Duration;
/// use idemlog::producer::sim::{Fault, LinkConfig};
/// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord, TimeSource};
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
/// producer.flush(Duration::from_secs(5)).unwrap();
/// let meta = handle.wait().unwrap();
/// assert_eq!((meta.offset, meta.duplicate), (Some(0), true));
/// assert_eq!(log.partition("t", 0).unwrap().log_end_offset(), 1);
/// producer.close(Duration::from_secs(5)).unwrap();
/// ```
#[derive(Clone)]
pub struct Producer {
    backend: Backend,
}

/// Where a [`Producer`] sends.
#[derive(Clone)]
enum Backend {
    /// The in-process log, through this module's flusher.
    Log(Arc<Inner>),
    /// A remote cluster, through its client (the Kafka backend's, src/kafka/).
    #[cfg(feature = "kafka")]
    Remote(std::sync::Arc<dyn RemoteProducer>),
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.backend {
            Backend::Log(_) => "log",
            #[cfg(feature = "kafka")]
            Backend::Remote(_) => "remote",
        };
        f.debug_struct("Producer")
            .field("backend", &backend)
            .field("config", self.config())
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Producer {
    /// Validates `config` against `log` (see [`ProducerConfig::resolve`]), does
    /// the producer-id handshake when idempotent, and starts the flusher thread.
    /// A config with `bootstrap.servers` is for a Kafka cluster (see
    /// [`Cluster`](crate::Cluster)) and is rejected here.
    pub fn new(log: &Log, config: ProducerConfig) -> Result<Self, ProducerError> {
        if let Some(servers) = config.client.bootstrap_servers() {
            return Err(ProducerError::Config(ConfigError::Conflict {
                key: "bootstrap.servers".to_string(),
                reason: format!(
                    "'{servers}': a config with bootstrap.servers is for a Kafka cluster; \
                     make the producer with Cluster::from_properties, not from a Log"
                ),
            }));
        }
        let metadata: std::sync::Arc<dyn Metadata> = std::sync::Arc::new(log.clone());
        let config = config.resolve(metadata.dedup_window())?;
        let identity = config.is_idempotent().then(|| ProducerIdentity {
            epoch: config.start_epoch,
            ..metadata.init_producer_id()
        });
        let owner = new_owner();
        let max_batch_bytes = metadata.max_batch_bytes();
        let settings = AppendSettings {
            // A batch never outgrows the log's batch or the whole buffer.
            batch_size: config
                .batch_size
                .min(max_batch_bytes)
                .min(config.buffer_memory),
            max_batch_bytes,
            max_records: u32::try_from(metadata.max_batch_records()).unwrap_or(u32::MAX),
            eager: config.linger_ms == 0,
        };
        let shared = Arc::new(Shared {
            owner,
            topics: TopicTable::new(std::sync::Arc::clone(&metadata), owner),
            pool: BufferPool::new(
                config.buffer_memory,
                settings.batch_size,
                config.max_block_ms,
            ),
            signal: FlusherSignal::new(),
            metrics: Metrics::default(),
            pending: PendingBatches::default(),
            flushes: SegQueue::new(),
        });
        let broker = LogBroker::new(log);
        let transport: Box<dyn Transport> = if config.link.is_perfect() {
            Box::new(broker)
        } else {
            Box::new(sim::FaultLink::new(config.link.clone(), broker))
        };
        let flusher = Flusher::new(Arc::clone(&shared), &config, metadata, transport, identity);
        let name = match identity {
            Some(identity) => format!("idemlog-flusher-pid{}", identity.producer_id),
            None => "idemlog-flusher".to_string(),
        };
        let exit = ExitGuard(Arc::clone(&shared));
        let thread = spawn_named(name, move || {
            let _exit = exit;
            flusher.run();
        })
        .map_err(|err| ProducerError::Spawn(err.to_string()))?;
        Ok(Self {
            backend: Backend::Log(Arc::new(Inner {
                shared,
                _ticker: matches!(config.time, TimeSource::Real(_))
                    .then(crate::ticker::TickerLease::acquire),
                config,
                settings,
                flusher: Mutex::new(Some(thread)),
            })),
        })
    }

    /// A producer sending through a remote client (made by
    /// [`Cluster`](crate::Cluster) for a Kafka cluster).
    #[cfg(feature = "kafka")]
    pub(crate) fn remote(client: std::sync::Arc<dyn RemoteProducer>) -> Self {
        Self {
            backend: Backend::Remote(client),
        }
    }

    /// Appends `record` to its partition's open batch and returns its delivery
    /// handle. Errors at once (handing the record back) for an unknown topic
    /// or partition, a record larger than `buffer.memory` or than one log
    /// batch, a full buffer for `max.block.ms`, or a closed producer.
    pub fn send(&self, record: ProducerRecord<'_>) -> Result<DeliveryHandle, SendError> {
        self.send_inner(record, None)
    }

    /// Like [`Producer::send`], and `callback` is called once with the record's
    /// outcome (Kafka's `send(record, callback)`); the handle is completed
    /// right after its batch's callbacks return.
    ///
    /// - The callback runs on the producer's flusher thread (the I/O thread, as
    ///   in Kafka), so it should be quick: while it runs no record of this
    ///   producer makes progress.
    /// - The callbacks of records sent to one partition run in send order, as
    ///   Kafka promises, also when an earlier batch's answer was lost and
    ///   a later one's heard first (the contract, "Ordering under retries").
    /// - If `send_with_callback` itself returns an error, the callback is never
    ///   called (it is dropped); the error is the outcome.
    /// - A panicking callback is caught with `catch_unwind` (the panic hook
    ///   still prints it): the flusher goes on, and every record completes as
    ///   usual. Its captured state may be left half-updated, as with any
    ///   caught panic.
    /// - From inside a callback, `send` never blocks on a full buffer (it fails
    ///   with [`ProducerError::BufferExhausted`] instead), `flush` and a
    ///   handle's `wait` return [`ProducerError::InCallback`] at once, and
    ///   `close` (or dropping the last clone of the producer) stops it
    ///   accepting records and returns without waiting: the flusher drains the
    ///   rest in the background.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
    /// use idemlog::Log;
    /// let log = Log::new();
    /// log.create_topic("t", 1).unwrap();
    /// let producer = Producer::new(&log, ProducerConfig::default().linger_ms(0)).unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let _handle = producer
    ///     .send_with_callback(ProducerRecord::new("t", "v"), move |result| {
    ///         tx.send(result.map(|meta| meta.offset).ok()).unwrap();
    ///     })
    ///     .unwrap();
    /// assert_eq!(rx.recv().unwrap(), Some(Some(0)));
    /// ```
    pub fn send_with_callback(
        &self,
        record: ProducerRecord<'_>,
        callback: impl FnOnce(DeliveryResult) + Send + 'static,
    ) -> Result<DeliveryHandle, SendError> {
        self.send_inner(record, Some(Box::new(callback)))
    }

    fn send_inner(
        &self,
        record: ProducerRecord<'_>,
        callback: Option<Callback>,
    ) -> Result<DeliveryHandle, SendError> {
        match &self.backend {
            Backend::Log(inner) => inner.send(record, callback),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.send(record, callback),
        }
    }

    /// Resolves topic `name` once, for [`ProducerRecord::to`]; errors for an
    /// unknown topic.
    pub fn topic(&self, name: &str) -> Result<TopicHandle, ProducerError> {
        match &self.backend {
            Backend::Log(inner) => Ok(TopicHandle {
                topic: HandleTopic::Log(inner.shared.topics.get(name)?),
                owner: inner.shared.owner,
            }),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => Ok(TopicHandle {
                topic: HandleTopic::Remote {
                    name: name.into(),
                    partitions: remote.partitions(name)?,
                },
                owner: remote.owner(),
            }),
        }
    }

    /// Sends everything batched now, ignoring `linger.ms`, and waits up to
    /// `timeout` (real time; `Duration::MAX` waits as long as it takes) until
    /// every record sent before this call has completed (success or error).
    /// When nothing is pending it returns `Ok` at once, with a zero
    /// `timeout` too; `flush(Duration::ZERO)` thus asks "has everything sent
    /// so far completed?". From a delivery callback of this producer it returns
    /// [`ProducerError::InCallback`] at once (it would wait for itself).
    pub fn flush(&self, timeout: Duration) -> Result<(), ProducerError> {
        match &self.backend {
            Backend::Log(inner) => inner.flush(timeout),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.flush(timeout),
        }
    }

    /// Stops accepting records, drains everything batched or in flight, and
    /// stops the flusher. If that takes longer than `timeout` (real time),
    /// what is left fails ([`ProducerError::Closed`] if it is certainly not
    /// in the log: never sent, or every attempt refused;
    /// [`ProducerError::Abandoned`] if its request was in flight or went
    /// unanswered: it may be in the log) and `CloseTimeout` is returned; `close` then waits at most
    /// [`CLOSE_GRACE`] more for the flusher to finish failing the records
    /// (it stays detached if a callback holds it). Closing twice, or from
    /// several clones, is fine; a `timeout` too large for the clock (e.g.
    /// `Duration::MAX`) waits as long as the drain takes. Each call answers
    /// `Ok` only if nothing was failed: a call whose own timeout has not run
    /// out still answers `CloseTimeout` (with the timeout that ran out) when
    /// another call's close forced the flusher to fail records.
    ///
    /// From a delivery callback of this producer (its flusher thread) `close`
    /// cannot wait: it stops the producer accepting records, leaves the
    /// flusher to drain and exit by itself, and returns
    /// [`ProducerError::InCallback`]. Dropping the last clone there does the same.
    pub fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        match &self.backend {
            Backend::Log(inner) => inner.close(timeout),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.close(timeout),
        }
    }

    /// The counters now. On the Kafka backend they count sends,
    /// acknowledgements and errors; retries and duplicates happen inside
    /// librdkafka and stay 0.
    pub fn metrics(&self) -> MetricsSnapshot {
        match &self.backend {
            Backend::Log(inner) => inner.shared.metrics.snapshot(),
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.metrics(),
        }
    }

    /// Test hook: requests in the link now (sent, not yet reached the log) and
    /// the most it has held at once.
    #[doc(hidden)]
    pub fn link_queue_len(&self) -> (u64, u64) {
        match &self.backend {
            Backend::Log(inner) => {
                let metrics = &inner.shared.metrics;
                (
                    Metrics::get(&metrics.link_queue),
                    Metrics::get(&metrics.link_queue_peak),
                )
            }
            // No simulated link: nothing is ever in one.
            #[cfg(feature = "kafka")]
            Backend::Remote(_) => (0, 0),
        }
    }

    /// The effective configuration (idempotence resolved).
    pub fn config(&self) -> &ProducerConfig {
        match &self.backend {
            Backend::Log(inner) => &inner.config,
            #[cfg(feature = "kafka")]
            Backend::Remote(remote) => remote.config(),
        }
    }
}

impl Inner {
    /// See [`Producer::send_with_callback`].
    fn send(
        &self,
        record: ProducerRecord<'_>,
        callback: Option<Callback>,
    ) -> Result<DeliveryHandle, SendError> {
        let shared = &*self.shared;
        if shared.signal.is_closed() {
            return Err(SendError::new(ProducerError::Closed, &record));
        }
        let looked_up;
        let topic: &TopicBatches = match record.topic_ref() {
            TopicRef::Handle(TopicHandle {
                topic: HandleTopic::Log(topic),
                owner,
            }) if *owner == shared.owner => topic,
            topic => match shared.topics.get(topic.name()) {
                Ok(found) => {
                    looked_up = found;
                    &looked_up
                }
                Err(error) => return Err(SendError::new(error, &record)),
            },
        };
        let bytes = RecordRef {
            key: record.key_bytes(),
            value: record.value_bytes(),
        };
        record_appender::append(
            shared,
            &self.settings,
            topic,
            record.partition_setting(),
            bytes,
            || self.config.time.stamp_ms(),
            callback,
        )
        .map_err(|error| SendError::new(error, &record))
    }

    /// See [`Producer::flush`].
    fn flush(&self, timeout: Duration) -> Result<(), ProducerError> {
        let shared = &*self.shared;
        if shared.signal.is_closed() {
            return Err(ProducerError::Closed);
        }
        if in_callback_of(shared.owner) {
            return Err(ProducerError::InCallback { operation: "flush" });
        }
        if shared.pending.none() {
            // Every record sent before this call has completed (P9).
            return Ok(());
        }
        let waiter = Arc::new(FlushWaiter::new());
        shared.flushes.push(Arc::clone(&waiter));
        shared.signal.wake();
        let deadline = Instant::now().checked_add(timeout);
        if waiter.wait_until(deadline, || shared.signal.has_exited()) {
            Ok(())
        } else {
            waiter.abandon();
            Err(ProducerError::FlushTimeout {
                timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
            })
        }
    }

    fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        let signal = &self.shared.signal;
        signal.close();
        // A sender blocked on `buffer.memory` fails with `Closed` now, not
        // once memory or `max.block.ms` runs out.
        self.shared.pool.notify();
        if in_callback_of(self.shared.owner) {
            // Detach: joining would wait for the thread we may be running on.
            drop(self.flusher.lock().take());
            return Err(ProducerError::InCallback { operation: "close" });
        }
        let timeout_ms = timeout.as_millis().min(u128::from(u64::MAX)) as u64;
        let exited = signal.wait_exited(timeout) || {
            signal.force(timeout_ms);
            signal.wait_exited(CLOSE_GRACE)
        };
        if exited {
            if let Some(thread) = self.flusher.lock().take() {
                // The flusher body does not panic on input; a panic would be a
                // bug, and `ExitGuard` has then failed what it could.
                let _joined = thread.join();
            }
        } else {
            // A callback holds the flusher: leave it detached; it fails the
            // rest once the callback returns.
            drop(self.flusher.lock().take());
        }
        // Whichever call's timeout ran out: `Ok` only if nothing was lost
        // (a forced flusher that found nothing left to fail lost nothing).
        if exited && !signal.lost_records() {
            Ok(())
        } else {
            Err(ProducerError::CloseTimeout {
                timeout_ms: signal.forced_after_ms().unwrap_or(timeout_ms),
            })
        }
    }
}

/// Ends the flusher thread's life in every case: if the flusher panics (a bug),
/// the producer acts as closed and `close` does not wait forever.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.signal.died();
        }
        self.0.signal.set_exited();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        // Records failed by a forced close report it through their handles.
        let _closed = self.close(timeout);
    }
}
