//! Delivery handles: what `send` returns, and what a delivery reports.
//!
//! A [`DeliveryHandle`] is a batch and a record index (or, on the Kafka
//! backend, one message's delivery report): cloning it costs one reference
//! count, and every clone sees the same outcome. The one completion
//! (completion.rs) wakes every blocked `wait` and every task awaiting any clone.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::batch::ProducerBatch;
use super::completion::Completion;
use super::error::ProducerError;
#[cfg(feature = "kafka")]
use super::message_delivery::MessageDelivery;
use super::user_code::in_callback_of;
use crate::sync::{spin_loop, yield_now};
// std's Arc for batches even under loom (see batch_chain.rs).
use std::sync::Arc;

/// Where a record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: u32,
    /// The record's offset; `None` with `acks=0` (Kafka reports -1).
    pub offset: Option<u64>,
    /// Log-append time of its batch; `None` with `acks=0`.
    pub timestamp_ms: Option<i64>,
    /// True if the log answered a retry of this record as a duplicate (the
    /// offset is the original one).
    pub duplicate: bool,
}

/// A record whose send or delivery failed, handed back to the application
/// (as rdkafka's `(KafkaError, OwnedMessage)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRecord {
    /// The topic.
    pub topic: StdArc<str>,
    /// The partition it was sent to (a failed delivery), or its explicit
    /// partition, if any (a failed send).
    pub partition: Option<u32>,
    /// Its key.
    pub key: Option<Bytes>,
    /// Its value.
    pub value: Bytes,
}

/// Why a record's delivery failed, with the record itself.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig, ProducerError, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
/// let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
/// // A forced close fails what it did not see acknowledged; the record comes
/// // back, and `may_be_in_log` says whether it could have been written (the
/// // flusher may have sent it just before the close: `Abandoned`).
/// let _ = producer.close(std::time::Duration::ZERO);
/// if let Err(failure) = handle.wait() {
///     assert_eq!(failure.record().unwrap().value, "v");
///     let written = log.consumer("t", 0).unwrap().poll(1).unwrap().len() == 1;
///     assert!(failure.error().may_be_in_log() || !written);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError(Box<(ProducerError, Option<FailedRecord>)>);

impl DeliveryError {
    pub(crate) fn new(error: ProducerError, record: Option<FailedRecord>) -> Self {
        // Boxed: a `DeliveryResult` stays small on the success path.
        Self(Box::new((error, record)))
    }

    /// What went wrong.
    pub fn error(&self) -> &ProducerError {
        &self.0 .0
    }

    /// The record, to resend or to log; `None` only when the outcome is not
    /// known yet ([`ProducerError::InCallback`] from `wait`).
    pub fn record(&self) -> Option<&FailedRecord> {
        self.0 .1.as_ref()
    }

    /// The error and the record.
    pub fn into_parts(self) -> (ProducerError, Option<FailedRecord>) {
        *self.0
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record() {
            Some(record) => write!(
                f,
                "delivery to {}-{} failed: {}",
                record.topic,
                record.partition.unwrap_or_default(),
                self.error()
            ),
            None => write!(f, "delivery failed: {}", self.error()),
        }
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error())
    }
}

impl PartialEq<ProducerError> for DeliveryError {
    fn eq(&self, other: &ProducerError) -> bool {
        self.error() == other
    }
}

/// The outcome of one record.
pub type DeliveryResult = Result<RecordMetadata, DeliveryError>;

/// A delivery callback (see [`Producer::send_with_callback`](super::Producer::send_with_callback)).
pub(crate) type Callback = Box<dyn FnOnce(DeliveryResult) + Send + 'static>;

/// Under loom every spin would be one more interleaving to explore: park at once.
const LOOM: bool = cfg!(all(loom, feature = "loom"));
/// Spins of `wait` before it yields, then parks.
const WAIT_SPINS: u32 = if LOOM { 0 } else { 64 };
/// `yield_now` rounds of `wait` before it parks.
const WAIT_YIELDS: u32 = if LOOM { 0 } else { 8 };

/// The pending outcome of one `send`: a [`Future`] (no runtime needed) and a
/// blocking [`DeliveryHandle::wait`]. Clones are cheap (one reference count)
/// and all see the same outcome; any number of threads may wait and any
/// number of tasks may await clones: every one is woken. Dropping a handle is
/// always fine: the record still completes.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::exactly_once().linger_ms(0)).unwrap();
/// let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
/// let meta = handle.wait().unwrap();
/// assert_eq!((meta.partition, meta.offset), (0, Some(0)));
/// ```
pub struct DeliveryHandle {
    source: Source,
}

/// A handle's `waker_slot` before it was polled while pending.
const NO_WAKER_SLOT: u32 = u32::MAX;

impl Clone for DeliveryHandle {
    /// Another handle on the same record, with no waker registered yet.
    fn clone(&self) -> Self {
        let mut source = self.source.clone();
        *source.waker_slot() = NO_WAKER_SLOT;
        Self { source }
    }
}

impl Drop for DeliveryHandle {
    #[inline]
    fn drop(&mut self) {
        let slot = *self.source.waker_slot();
        if slot != NO_WAKER_SLOT {
            self.forget_waker(slot);
        }
    }
}

/// What a handle waits for, and the slot its waker holds in the completion's
/// list once it was polled while pending (freed when it is dropped; kept in
/// the variant, so a handle stays two words).
#[derive(Clone)]
enum Source {
    /// Record `index` of an in-process producer's batch.
    Batch {
        batch: Arc<ProducerBatch>,
        index: u32,
        waker_slot: u32,
    },
    /// One message of a remote producer (the Kafka backend).
    #[cfg(feature = "kafka")]
    Message {
        delivery: Arc<MessageDelivery>,
        waker_slot: u32,
    },
}

impl Source {
    fn waker_slot(&mut self) -> &mut u32 {
        match self {
            Self::Batch { waker_slot, .. } => waker_slot,
            #[cfg(feature = "kafka")]
            Self::Message { waker_slot, .. } => waker_slot,
        }
    }
}

impl std::fmt::Debug for DeliveryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("DeliveryHandle");
        match &self.source {
            Source::Batch { index, .. } => debug.field("index", index),
            #[cfg(feature = "kafka")]
            Source::Message { .. } => debug.field("remote", &true),
        };
        debug.field("done", &self.is_done()).finish()
    }
}

impl DeliveryHandle {
    pub(crate) fn new(batch: Arc<ProducerBatch>, index: u32) -> Self {
        Self {
            source: Source::Batch {
                batch,
                index,
                waker_slot: NO_WAKER_SLOT,
            },
        }
    }

    /// The handle of one message of a remote producer.
    #[cfg(feature = "kafka")]
    pub(crate) fn message(delivery: Arc<MessageDelivery>) -> Self {
        Self {
            source: Source::Message {
                delivery,
                waker_slot: NO_WAKER_SLOT,
            },
        }
    }

    /// Frees the waker slot of a handle that was polled while pending (only
    /// async waits have one: out of the way of the common drop).
    #[cold]
    #[inline(never)]
    fn forget_waker(&self, slot: u32) {
        self.completion().deregister(slot as usize);
    }

    #[inline]
    fn completion(&self) -> &Completion {
        match &self.source {
            Source::Batch { batch, .. } => &batch.completion,
            #[cfg(feature = "kafka")]
            Source::Message { delivery, .. } => delivery.completion(),
        }
    }

    /// The outcome if it is known.
    #[inline]
    pub fn try_result(&self) -> Option<DeliveryResult> {
        match &self.source {
            Source::Batch { batch, index, .. } => batch
                .completion
                .result(*index, |sealed, index| batch.failed_record(sealed, index)),
            #[cfg(feature = "kafka")]
            Source::Message { delivery, .. } => delivery.result(),
        }
    }

    /// True once the outcome is known.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.completion().is_done()
    }

    /// The result now that the batch is done.
    #[inline]
    fn finished(&self) -> DeliveryResult {
        self.try_result()
            .unwrap_or_else(|| Err(DeliveryError::new(ProducerError::Closed, None)))
    }

    /// Waiting from a delivery callback (or waker) of the same producer would
    /// wait for the thread we run on.
    fn in_callback(&self) -> Option<DeliveryResult> {
        in_callback_of(self.completion().owner()).then(|| {
            Err(DeliveryError::new(
                ProducerError::InCallback { operation: "wait" },
                None,
            ))
        })
    }

    /// Blocks until the outcome is known. It always comes: every record
    /// completes by its delivery timeout or when the producer closes. From a
    /// delivery callback of the same producer it returns
    /// [`ProducerError::InCallback`] at once unless the outcome is known (the
    /// callback runs on the thread that completes records).
    // Under loom both spin counts are 0 (no spinning in models), which clippy
    // flags as an empty range and an always-false comparison.
    #[cfg_attr(
        all(loom, feature = "loom"),
        allow(clippy::reversed_empty_ranges, clippy::absurd_extreme_comparisons)
    )]
    pub fn wait(&self) -> DeliveryResult {
        // Spin, then yield, before parking: the flusher completes a batch's
        // records in one go, so the wait is usually short.
        for round in 0..WAIT_SPINS + WAIT_YIELDS {
            // The flag only: a lock per spin would contend with the completer,
            // and the wait below decides under the mutex.
            if self.completion().done_seen() {
                return self.finished();
            }
            if round < WAIT_SPINS {
                spin_loop();
            } else {
                yield_now();
            }
        }
        if let Some(refused) = self.in_callback().filter(|_| !self.is_done()) {
            return refused;
        }
        self.completion().wait_until(None);
        self.finished()
    }

    /// Blocks up to `timeout` (real time); `None` if the outcome is still
    /// unknown. A timeout too large for the clock (e.g. `Duration::MAX`) waits
    /// like [`DeliveryHandle::wait`]; from a callback it acts as `wait` does.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        if let Some(refused) = self.in_callback().filter(|_| !self.is_done()) {
            return Some(refused);
        }
        let deadline = Instant::now().checked_add(timeout);
        self.completion()
            .wait_until(deadline)
            .then(|| self.finished())
    }
}

impl Future for DeliveryHandle {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let handle = self.get_mut();
        if handle.is_done() {
            return Poll::Ready(handle.finished());
        }
        let known = *handle.source.waker_slot();
        let known = (known != NO_WAKER_SLOT).then_some(known as usize);
        match handle.completion().register(known, cx.waker()) {
            Some(slot) => {
                // A slot past u32's range (four billion pending handles polled
                // at once) is left to the completion, which frees every slot.
                *handle.source.waker_slot() = u32::try_from(slot).unwrap_or(NO_WAKER_SLOT);
                Poll::Pending
            }
            None => Poll::Ready(handle.finished()),
        }
    }
}
