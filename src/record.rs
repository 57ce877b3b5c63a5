//! Records going into the log ([`Record`], [`IntoRecords`]) and coming out of it
//! ([`ConsumerRecord`] owned, [`RecordView`] borrowed).

use bytes::Bytes;

use crate::log::ProducerId;

/// A record to append: an optional key and a value, both zero-copy [`Bytes`].
///
/// ```
/// use idemlog::Record;
/// let plain = Record::new("hello");
/// let keyed = Record::with_key("user-7", "clicked");
/// assert_eq!(keyed.key().map(|k| &k[..]), Some(&b"user-7"[..]));
/// assert_eq!(&plain.value()[..], b"hello");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Bytes,
}

impl Record {
    /// A record with a value and no key.
    pub fn new(value: impl Into<Bytes>) -> Self {
        Self {
            key: None,
            value: value.into(),
        }
    }

    /// A record with a key and a value.
    pub fn with_key(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self {
            key: Some(key.into()),
            value: value.into(),
        }
    }

    /// The key, if any.
    pub fn key(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }

    /// The value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// Key plus value length in bytes (what retention by bytes counts).
    pub fn payload_len(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len) + self.value.len()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What an append accepts as a batch: a single [`Record`], a `Vec<Record>`, an
/// array `[Record; N]`, or a `Vec` drain. Sealed, so the record count given to
/// the log is always the exact number of records it will receive (offsets are
/// reserved for the whole batch before the records are written).
pub trait IntoRecords: sealed::Sealed {
    /// The exact number of records.
    fn record_count(&self) -> usize;
    /// Hands the records over in order.
    #[doc(hidden)]
    fn for_each_record(self, f: impl FnMut(Record));
}

impl sealed::Sealed for Record {}
impl IntoRecords for Record {
    fn record_count(&self) -> usize {
        1
    }
    fn for_each_record(self, mut f: impl FnMut(Record)) {
        f(self);
    }
}

impl sealed::Sealed for Vec<Record> {}
impl IntoRecords for Vec<Record> {
    fn record_count(&self) -> usize {
        self.len()
    }
    fn for_each_record(self, f: impl FnMut(Record)) {
        self.into_iter().for_each(f);
    }
}

impl<const N: usize> sealed::Sealed for [Record; N] {}
impl<const N: usize> IntoRecords for [Record; N] {
    fn record_count(&self) -> usize {
        N
    }
    fn for_each_record(self, f: impl FnMut(Record)) {
        self.into_iter().for_each(f);
    }
}

impl sealed::Sealed for std::vec::Drain<'_, Record> {}
impl IntoRecords for std::vec::Drain<'_, Record> {
    fn record_count(&self) -> usize {
        self.len()
    }
    fn for_each_record(self, f: impl FnMut(Record)) {
        self.for_each(f);
    }
}

/// The producer that wrote a record (idempotent batches only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerMetadata {
    /// The producer id.
    pub producer_id: ProducerId,
    /// The producer epoch of the batch.
    pub epoch: u16,
    /// This record's sequence number.
    pub sequence: i32,
}

/// A record read from a partition, borrowed from the log (no copy, no refcount
/// traffic). Valid for the duration of the read callback.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The record's offset in its partition.
    pub offset: u64,
    /// Log-append time of its batch, in milliseconds of the log's clock.
    pub timestamp_ms: i64,
    /// The key, if any.
    pub key: Option<&'a Bytes>,
    /// The value.
    pub value: &'a Bytes,
    /// The idempotent producer that wrote it, if any.
    pub producer: Option<ProducerMetadata>,
}

impl RecordView<'_> {
    /// An owned copy (clones the `Bytes` handles, not the payload).
    pub fn to_owned(&self) -> ConsumerRecord {
        ConsumerRecord {
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: self.key.cloned(),
            value: self.value.clone(),
            producer: self.producer,
        }
    }
}

/// A record read from a partition, owned (payloads shared with the log, not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The record's offset in its partition.
    pub offset: u64,
    /// Log-append time of its batch, in milliseconds of the log's clock.
    pub timestamp_ms: i64,
    /// The key, if any.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Bytes,
    /// The idempotent producer that wrote it, if any.
    pub producer: Option<ProducerMetadata>,
}
