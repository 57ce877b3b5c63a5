//! A segment: a fixed-capacity array of record slots, written once each.
//!
//! A slot is written by the one appender that reserved its offset and then
//! published with a release store of its `state` word; a reader acquires that word
//! and only then touches the payload (invariant I4 in `implementation.rs`).

use std::mem::MaybeUninit;

use bytes::Bytes;

use crate::log::ProducerId;
use crate::record::{ProducerMetadata, Record, RecordView};
use crate::sync::{AtomicI64, AtomicU64, Ordering, UnsafeCell};

// `Slot::state` layout: bits 0..31 the record's sequence, bits 32..48 the producer
// epoch, bit 62 HAS_PRODUCER, bit 63 PUBLISHED.
/// `Slot::state` bit: the payload is written and may be read.
const PUBLISHED: u64 = 1 << 63;
/// `Slot::state` bit: the record belongs to an idempotent batch.
const HAS_PRODUCER: u64 = 1 << 62;
const EPOCH_SHIFT: u32 = 32;

/// Sentinel for "not computed yet" in the segment's sealed-size cache.
const UNKNOWN: u64 = u64::MAX;

/// What one record occupies besides the slot's state word.
struct Payload {
    key: Option<Bytes>,
    value: Bytes,
    timestamp_ms: i64,
    producer_id: u64,
}

/// One record's place in a segment. 88 bytes on 64-bit targets.
pub(crate) struct Slot {
    state: AtomicU64,
    payload: UnsafeCell<MaybeUninit<Payload>>,
}

/// The producer fields stamped on each record of an idempotent batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp {
    pub(crate) producer_id: ProducerId,
    pub(crate) epoch: u16,
    pub(crate) base_sequence: i32,
}

/// What every slot of one batch gets, encoded once per batch.
pub(crate) struct BatchStamp {
    timestamp_ms: i64,
    producer_id: u64,
    /// PUBLISHED, and for idempotent batches HAS_PRODUCER and the epoch.
    state: u64,
    base_sequence: u32,
    /// `i32::MAX` for idempotent batches (sequences wrap modulo 2^31), else 0.
    sequence_mask: u32,
}

impl BatchStamp {
    pub(crate) fn new(timestamp_ms: i64, stamp: Option<Stamp>) -> Self {
        match stamp {
            Some(stamp) => Self {
                timestamp_ms,
                producer_id: stamp.producer_id.0,
                state: PUBLISHED | HAS_PRODUCER | (u64::from(stamp.epoch) << EPOCH_SHIFT),
                base_sequence: stamp.base_sequence as u32,
                sequence_mask: i32::MAX as u32,
            },
            None => Self {
                timestamp_ms,
                producer_id: 0,
                state: PUBLISHED,
                base_sequence: 0,
                sequence_mask: 0,
            },
        }
    }

    /// The state word of the batch's `index`-th record: its sequence is
    /// `base + index` modulo 2^31 (computed modulo 2^32 and masked).
    #[inline]
    fn state(&self, index: u64) -> u64 {
        self.state | u64::from(self.base_sequence.wrapping_add(index as u32) & self.sequence_mask)
    }
}

impl Slot {
    fn empty() -> Self {
        Self {
            state: AtomicU64::new(0),
            payload: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Writes the record and publishes it; `index` is its position in the batch
    /// described by `stamp`.
    ///
    /// # Safety
    /// The caller reserved this slot's offset (I2: each offset is reserved by exactly
    /// one appender), so no one else writes it, and no reader reads the payload
    /// before the release store below.
    #[inline]
    pub(crate) unsafe fn write(&self, record: Record, stamp: &BatchStamp, index: u64) {
        self.payload.with_mut(|payload| {
            // SAFETY: exclusive access by the caller's reservation (see above).
            unsafe {
                (*payload).write(Payload {
                    key: record.key,
                    value: record.value,
                    timestamp_ms: stamp.timestamp_ms,
                    producer_id: stamp.producer_id,
                });
            }
        });
        // Release: pairs with the Acquire load in `read` / `is_published`, so a
        // reader that sees PUBLISHED also sees the payload written above (I4).
        self.state.store(stamp.state(index), Ordering::Release);
    }

    /// True once the record is readable.
    pub(crate) fn is_published(&self) -> bool {
        // Acquire: pairs with the Release store in `write` (I4).
        self.state.load(Ordering::Acquire) & PUBLISHED != 0
    }

    /// Borrows the record if it is published.
    pub(crate) fn read(&self, offset: u64) -> Option<RecordView<'_>> {
        // Acquire: pairs with the Release store in `write` (I4).
        let state = self.state.load(Ordering::Acquire);
        if state & PUBLISHED == 0 {
            return None;
        }
        self.payload.with(|payload| {
            // SAFETY: PUBLISHED was observed with Acquire, so the payload is fully
            // initialised and never written again (slots are write-once, I4); the
            // segment outlives `&self` (I7/I8: the caller holds a reader guard).
            let payload = unsafe { (*payload).assume_init_ref() };
            Some(RecordView {
                offset,
                timestamp_ms: payload.timestamp_ms,
                key: payload.key.as_ref(),
                value: &payload.value,
                producer: (state & HAS_PRODUCER != 0).then_some(ProducerMetadata {
                    producer_id: ProducerId(payload.producer_id),
                    epoch: (state >> EPOCH_SHIFT) as u16,
                    sequence: state as u32 as i32,
                }),
            })
        })
    }
}

impl Slot {
    /// Drops the payload, if any, and marks the slot empty again.
    fn clear(&mut self) {
        // We own the slot exclusively (`&mut self`); Acquire makes that explicit to
        // loom as well. Only published slots hold an initialised payload.
        if self.state.load(Ordering::Acquire) & PUBLISHED != 0 {
            self.payload.with_mut(|payload| {
                // SAFETY: published means initialised, and `&mut self` means no
                // reader or writer can touch it any more.
                unsafe { (*payload).assume_init_drop() }
            });
            // Relaxed: exclusive access; whoever gets the slot next receives it
            // through the AcqRel install of its segment.
            self.state.store(0, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A fixed-capacity run of slots covering offsets `base .. base + capacity`.
pub(crate) struct Segment {
    base: u64,
    slots: Box<[Slot]>,
    /// Sum of key+value bytes, cached once every slot is published (retention).
    sealed_bytes: AtomicU64,
    /// Largest timestamp, cached once every slot is published (retention).
    sealed_max_timestamp: AtomicI64,
}

/// Size and age of a segment, as retention sees them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentStats {
    pub(crate) bytes: u64,
    pub(crate) max_timestamp_ms: i64,
}

impl Segment {
    /// A segment of `capacity` empty slots starting at offset `base`.
    pub(crate) fn new(base: u64, capacity: usize) -> Self {
        Self {
            base,
            slots: (0..capacity).map(|_| Slot::empty()).collect(),
            sealed_bytes: AtomicU64::new(UNKNOWN),
            sealed_max_timestamp: AtomicI64::new(i64::MIN),
        }
    }

    /// Empties a retired segment (no reader can hold it: it comes back from the
    /// reclamation guard, I8), dropping its records' payloads.
    pub(crate) fn clear(&mut self) {
        self.slots.iter_mut().for_each(Slot::clear);
        // Relaxed: exclusive access (`&mut self`); see `stats`.
        self.sealed_bytes.store(UNKNOWN, Ordering::Relaxed);
        self.sealed_max_timestamp.store(i64::MIN, Ordering::Relaxed);
    }

    /// Moves an empty segment to offset `base` for reuse.
    pub(crate) fn rebase(&mut self, base: u64) {
        self.base = base;
    }

    /// The first offset this segment holds.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// One past the last offset this segment holds.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    /// The slot for `offset`, which must lie in `base()..end()`.
    #[inline]
    pub(crate) fn slot(&self, offset: u64) -> &Slot {
        &self.slots[(offset - self.base) as usize]
    }

    /// How many consecutive slots from `offset` (in `base()..end()`) are published.
    pub(crate) fn published_run(&self, offset: u64) -> u64 {
        self.slots[(offset - self.base) as usize..]
            .iter()
            .take_while(|slot| slot.is_published())
            .count() as u64
    }

    /// Bytes and largest timestamp of the published prefix; cached when the
    /// whole segment is published (it never changes after that).
    pub(crate) fn stats(&self) -> SegmentStats {
        // Relaxed: the cache holds values derived from slots this thread has
        // already acquired; a racing computation stores the same numbers.
        let cached = self.sealed_bytes.load(Ordering::Relaxed);
        if cached != UNKNOWN {
            return SegmentStats {
                bytes: cached,
                max_timestamp_ms: self.sealed_max_timestamp.load(Ordering::Relaxed),
            };
        }
        let mut bytes = 0u64;
        let mut max_timestamp_ms = i64::MIN;
        let mut complete = true;
        for (index, slot) in self.slots.iter().enumerate() {
            match slot.read(self.base + index as u64) {
                Some(view) => {
                    bytes += view.key.map_or(0, |k| k.len() as u64) + view.value.len() as u64;
                    max_timestamp_ms = max_timestamp_ms.max(view.timestamp_ms);
                }
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            // Relaxed: see the load above; timestamp first so a reader of a
            // known byte count finds the timestamp too (same thread computed both,
            // and racing writers store identical values).
            self.sealed_max_timestamp
                .store(max_timestamp_ms, Ordering::Relaxed);
            self.sealed_bytes.store(bytes, Ordering::Relaxed);
        }
        SegmentStats {
            bytes,
            max_timestamp_ms,
        }
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    #[test]
    fn slot_is_88_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 88);
    }

    #[test]
    fn unpublished_slots_read_as_none_and_drop_cleanly() {
        let segment = Segment::new(10, 4);
        // SAFETY: single-threaded test; offset 11 written once.
        unsafe {
            segment
                .slot(11)
                .write(Record::new("x"), &BatchStamp::new(5, None), 0)
        };
        assert!(segment.slot(10).read(10).is_none());
        let view = segment.slot(11).read(11).expect("published");
        assert_eq!(&view.value[..], b"x");
        assert_eq!(view.timestamp_ms, 5);
        assert!(view.producer.is_none());
        assert_eq!(segment.stats().bytes, 0, "prefix stops at the first hole");
    }

    #[test]
    fn stats_are_cached_once_sealed() {
        let segment = Segment::new(0, 2);
        let stamp = Stamp {
            producer_id: ProducerId(7),
            epoch: 3,
            base_sequence: 0,
        };
        for offset in 0..2 {
            // SAFETY: single-threaded test; each offset written once.
            unsafe {
                segment.slot(offset).write(
                    Record::with_key("k", "vv"),
                    &BatchStamp::new(offset as i64 * 10, Some(stamp)),
                    offset,
                );
            }
        }
        let stats = segment.stats();
        assert_eq!(stats.bytes, 6);
        assert_eq!(stats.max_timestamp_ms, 10);
        let meta = segment
            .slot(1)
            .read(1)
            .and_then(|v| v.producer)
            .expect("stamped");
        assert_eq!(
            (meta.producer_id, meta.epoch, meta.sequence),
            (ProducerId(7), 3, 1)
        );
    }
}
