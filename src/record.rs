//! Records going into the log ([`Record`] owned, [`RecordRef`] borrowed, both
//! through [`IntoRecords`]) and coming out of it ([`ConsumerRecord`] owned; the
//! borrowed view is [`RecordView`](crate::RecordView)).
//!
//! Appends copy the key and value bytes into the partition's segment buffer, so
//! the log never keeps a caller's allocation: a borrowed [`RecordRef`] over a
//! reusable buffer costs no allocation at all.

use bytes::Bytes;

use crate::types::ProducerId;

/// A record to append, owning its key and value.
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
    #[inline]
    pub fn payload_len(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len) + self.value.len()
    }

    /// A borrowed view of this record.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            key: self.key.as_deref(),
            value: &self.value,
        }
    }
}

/// A record to append, borrowing its key and value: the log copies the bytes in,
/// so the caller may reuse its buffers as soon as the append returns.
///
/// ```
/// use idemlog::{Log, RecordRef};
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// let mut buffer = b"order-1".to_vec();
/// log.append("t", 0, None, RecordRef::new(&buffer)).unwrap();
/// buffer[6] = b'2'; // reuse the buffer: the log holds its own copy
/// log.append("t", 0, None, [RecordRef::with_key(b"k", &buffer)]).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordRef<'a> {
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// A record with a value and no key.
    pub fn new(value: &'a [u8]) -> Self {
        Self { key: None, value }
    }

    /// A record with a key and a value.
    pub fn with_key(key: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            key: Some(key),
            value,
        }
    }

    /// Key plus value length in bytes.
    #[inline]
    pub fn payload_len(&self) -> usize {
        self.key.map_or(0, <[u8]>::len) + self.value.len()
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// One record as the log copies it in: the key (if any) and the value.
pub trait AsRecord: sealed::Sealed {
    /// The borrowed form.
    fn as_record(&self) -> RecordRef<'_>;
}

impl sealed::Sealed for Record {}
impl AsRecord for Record {
    #[inline]
    fn as_record(&self) -> RecordRef<'_> {
        self.as_ref()
    }
}

impl sealed::Sealed for RecordRef<'_> {}
impl AsRecord for RecordRef<'_> {
    #[inline]
    fn as_record(&self) -> RecordRef<'_> {
        *self
    }
}

/// What an append accepts as a batch: one [`Record`] or [`RecordRef`], or a
/// `Vec`, array, slice or `Vec` drain of either. Sealed, so the record count and
/// the byte size the log reserves before copying are always exactly what it
/// then copies (offsets and bytes are reserved for the whole batch at once).
pub trait IntoRecords: sealed::Sealed {
    /// The exact number of records.
    fn record_count(&self) -> usize;
    /// Hands the records over in order, borrowed.
    #[doc(hidden)]
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>));
    /// The records already laid out in the log's record format (a producer
    /// client's batch), which an append then copies with one `memcpy`.
    #[doc(hidden)]
    #[inline]
    fn encoded(&self) -> Option<&[u8]> {
        None
    }
}

/// A single record is a batch of one.
macro_rules! single_record_batch {
    ($($record:ty),*) => {$(
        impl IntoRecords for $record {
            #[inline]
            fn record_count(&self) -> usize {
                1
            }
            #[inline]
            fn for_each_record(&self, mut f: impl FnMut(RecordRef<'_>)) {
                f(self.as_record());
            }
        }
    )*};
}
single_record_batch!(Record, RecordRef<'_>);

impl<R: AsRecord> sealed::Sealed for [R] {}
impl<R: AsRecord> IntoRecords for [R] {
    #[inline]
    fn record_count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn for_each_record(&self, mut f: impl FnMut(RecordRef<'_>)) {
        self.iter().for_each(|record| f(record.as_record()));
    }
}

impl<T: IntoRecords + ?Sized> sealed::Sealed for &T {}
impl<T: IntoRecords + ?Sized> IntoRecords for &T {
    #[inline]
    fn record_count(&self) -> usize {
        (**self).record_count()
    }
    #[inline]
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>)) {
        (**self).for_each_record(f);
    }
    #[inline]
    fn encoded(&self) -> Option<&[u8]> {
        (**self).encoded()
    }
}

impl<R: AsRecord> sealed::Sealed for Vec<R> {}
impl<R: AsRecord> IntoRecords for Vec<R> {
    #[inline]
    fn record_count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>)) {
        self.as_slice().for_each_record(f);
    }
}

impl<R: AsRecord, const N: usize> sealed::Sealed for [R; N] {}
impl<R: AsRecord, const N: usize> IntoRecords for [R; N] {
    #[inline]
    fn record_count(&self) -> usize {
        N
    }
    #[inline]
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>)) {
        self.as_slice().for_each_record(f);
    }
}

impl<R: AsRecord> sealed::Sealed for std::vec::Drain<'_, R> {}
impl<R: AsRecord> IntoRecords for std::vec::Drain<'_, R> {
    #[inline]
    fn record_count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>)) {
        self.as_slice().for_each_record(f);
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

/// A record read from a partition, owned: key and value are [`Bytes`] slices of
/// the reference-counted segment that holds them (not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic it was read from.
    pub topic: std::sync::Arc<str>,
    /// The partition it was read from.
    pub partition: u32,
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
