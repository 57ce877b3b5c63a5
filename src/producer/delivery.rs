//! Delivery handles: what `send` returns, completed by the flusher.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::error::ProducerError;
use crate::sync::{Arc, Condvar, Mutex};

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

/// The outcome of one record.
pub type DeliveryResult = Result<RecordMetadata, ProducerError>;

#[derive(Debug, Default)]
struct Slot {
    result: Option<DeliveryResult>,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    done: Condvar,
}

/// The pending outcome of one `send`: a [`Future`] (no runtime needed) and a
/// blocking [`DeliveryHandle::wait`]. Both may be used, any number of times.
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
#[derive(Debug, Clone)]
pub struct DeliveryHandle {
    shared: Arc<Shared>,
}

/// The flusher's side of a [`DeliveryHandle`].
#[derive(Debug)]
pub(crate) struct Completer {
    shared: Arc<Shared>,
}

/// A connected handle and completer.
pub(crate) fn channel() -> (DeliveryHandle, Completer) {
    let shared = Arc::new(Shared::default());
    (
        DeliveryHandle {
            shared: Arc::clone(&shared),
        },
        Completer { shared },
    )
}

impl Completer {
    /// Resolves the handle (consumes the completer: a record completes once).
    pub(crate) fn complete(self, result: DeliveryResult) {
        let waker = {
            let mut slot = self.shared.slot.lock();
            slot.result = Some(result);
            slot.waker.take()
        };
        self.shared.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl DeliveryHandle {
    /// The outcome if it is known.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.shared.slot.lock().result.clone()
    }

    /// True once the outcome is known.
    pub fn is_done(&self) -> bool {
        self.shared.slot.lock().result.is_some()
    }

    /// Blocks until the outcome is known. It always comes: every record completes
    /// by its delivery timeout or when the producer closes.
    pub fn wait(&self) -> DeliveryResult {
        let mut slot = self.shared.slot.lock();
        loop {
            if let Some(result) = &slot.result {
                return result.clone();
            }
            slot = self.shared.done.wait_timeout(slot, Duration::from_secs(1));
        }
    }

    /// Blocks up to `timeout` (real time); `None` if the outcome is still unknown.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        let deadline = std::time::Instant::now() + timeout;
        let mut slot = self.shared.slot.lock();
        loop {
            if let Some(result) = &slot.result {
                return Some(result.clone());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            slot = self.shared.done.wait_timeout(slot, left);
        }
    }
}

impl Future for DeliveryHandle {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let mut slot = self.shared.slot.lock();
        match &slot.result {
            Some(result) => Poll::Ready(result.clone()),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
