//! What the application sends: a borrowed [`ProducerRecord`] (the producer
//! copies its bytes into a batch, so nothing is allocated per record), and
//! the [`SendError`] that hands a copy back when `send` fails.

use std::fmt;

use bytes::Bytes;

use super::delivery::FailedRecord;
use super::error::ProducerError;
use super::TopicHandle;

/// Where a record goes: a topic name, looked up per send, or a
/// [`TopicHandle`] resolved once.
#[derive(Clone, Copy, Debug)]
pub enum TopicRef<'a> {
    /// By name.
    Name(&'a str),
    /// Resolved by [`Producer::topic`](super::Producer::topic).
    Handle(&'a TopicHandle),
}

impl TopicRef<'_> {
    /// The topic's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Handle(handle) => handle.name(),
        }
    }
}

impl<'a> From<&'a str> for TopicRef<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

impl<'a> From<&'a String> for TopicRef<'a> {
    fn from(name: &'a String) -> Self {
        Self::Name(name)
    }
}

impl<'a> From<&'a TopicHandle> for TopicRef<'a> {
    fn from(handle: &'a TopicHandle) -> Self {
        Self::Handle(handle)
    }
}

/// A record to send: topic, optional key, value, optional explicit partition.
/// It borrows the bytes: `send` copies them into the partition's open batch.
///
/// ```
/// use idemlog::producer::ProducerRecord;
/// let record = ProducerRecord::new("clicks", "page=/").key("user-1").partition(2);
/// assert_eq!((record.topic(), record.partition_setting()), ("clicks", Some(2)));
/// // The same, built up from the topic (a name or a `TopicHandle`):
/// let payload = vec![1u8, 2, 3];
/// let record = ProducerRecord::to("clicks").key(b"user-1").value(&payload);
/// assert_eq!(record.value_bytes(), &[1, 2, 3]);
/// ```
#[must_use = "a record does nothing until it is sent"]
#[derive(Clone, Copy, Debug)]
pub struct ProducerRecord<'a> {
    topic: TopicRef<'a>,
    partition: Option<u32>,
    key: Option<&'a [u8]>,
    value: &'a [u8],
}

impl<'a> ProducerRecord<'a> {
    /// A keyless record of `value` for the topic named `topic` (sticky partitioning).
    pub fn new(topic: &'a str, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self::to(topic).value(value)
    }

    /// An empty keyless record for `topic` (a name or a [`TopicHandle`]);
    /// set the value with [`ProducerRecord::value`].
    pub fn to(topic: impl Into<TopicRef<'a>>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: &[],
        }
    }

    /// Sets the value.
    pub fn value(mut self, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.value = value.as_ref();
        self
    }

    /// Sets the key: the partition is then `toPositive(murmur2(key)) % partitions`.
    pub fn key(mut self, key: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.key = Some(key.as_ref());
        self
    }

    /// Sends to this partition, whatever the key.
    pub fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        self.topic.name()
    }

    /// The topic as given.
    pub fn topic_ref(&self) -> TopicRef<'a> {
        self.topic
    }

    /// The explicit partition, if any.
    pub fn partition_setting(&self) -> Option<u32> {
        self.partition
    }

    /// The key, if any.
    pub fn key_bytes(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value.
    pub fn value_bytes(&self) -> &'a [u8] {
        self.value
    }
}

/// `send` failed: the error and the record, handed back as an owned copy (as
/// crossbeam's `TrySendError<T>` and rdkafka's `(KafkaError, OwnedMessage)`).
/// It is `'static`, so `?` turns it into a `Box<dyn Error>`, and converts
/// into [`ProducerError`] too.
///
/// ```
/// use idemlog::producer::{Producer, ProducerConfig, ProducerError, ProducerRecord};
/// use idemlog::Log;
/// let log = Log::new();
/// let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
/// let err = producer.send(ProducerRecord::new("missing", "v")).unwrap_err();
/// assert_eq!(err.record().value, "v");
/// assert!(matches!(err.error(), ProducerError::Log(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError(Box<(ProducerError, FailedRecord)>);

impl SendError {
    pub(crate) fn new(error: ProducerError, record: &ProducerRecord<'_>) -> Self {
        let record = FailedRecord {
            topic: std::sync::Arc::from(record.topic()),
            partition: record.partition_setting(),
            key: record.key_bytes().map(Bytes::copy_from_slice),
            value: Bytes::copy_from_slice(record.value_bytes()),
        };
        // Boxed: `send`'s `Result` stays two words on the success path.
        Self(Box::new((error, record)))
    }

    /// Why the record was not accepted.
    pub fn error(&self) -> &ProducerError {
        &self.0 .0
    }

    /// The record (its partition is the explicit one, if it had one).
    pub fn record(&self) -> &FailedRecord {
        &self.0 .1
    }

    /// The error and the record.
    pub fn into_parts(self) -> (ProducerError, FailedRecord) {
        *self.0
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "send to '{}' failed: {}",
            self.record().topic,
            self.error()
        )
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error())
    }
}

impl From<SendError> for ProducerError {
    fn from(err: SendError) -> Self {
        err.into_parts().0
    }
}

impl PartialEq<ProducerError> for SendError {
    fn eq(&self, other: &ProducerError) -> bool {
        self.error() == other
    }
}
