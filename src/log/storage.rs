//! Segmented record storage of one partition: offset reservation, the segment
//! ring, slot writes and publication, reads, the high watermark and eviction.
//!
//! The invariants cited here (I1..I9) are stated in `crate::implementation`.
//!
//! Segments live in a ring of `max_segments` cells indexed by segment number
//! modulo the ring size. Writers never pin a reclamation guard: they only touch
//! segments that still hold an unpublished slot of theirs, and retention never
//! retires such a segment (I7). Readers pin, because they can race retention.

use crossbeam::utils::CachePadded;

use crate::error::LogError;
use crate::log::segment::{BatchStamp, Segment, SegmentStats, Stamp};
use crate::record::{IntoRecords, RecordView};
use crate::sync::{pin, Arc, AtomicPtr, AtomicU64, AtomicUsize, Guard, Ordering, SegQueue};

/// The records of one partition.
pub(crate) struct SegmentLog {
    /// log2 of the records per segment.
    segment_shift: u32,
    /// Segment cells; segment number `k` lives in `ring[k & ring_mask]`.
    ring: Box<[AtomicPtr<Segment>]>,
    ring_mask: u64,
    /// Next offset to reserve (the log end offset). Only ever `fetch_add`ed (I2).
    tail: CachePadded<AtomicU64>,
    /// First offset still held; segment-aligned, moved only by eviction (I7).
    log_start: CachePadded<AtomicU64>,
    /// A lower bound of the high watermark, advanced by readers (I5).
    hw_hint: CachePadded<AtomicU64>,
    /// Evicted segments, emptied and ready for reuse (I8).
    pool: Arc<SegmentPool>,
}

/// A small pool of emptied segments: reusing one saves its allocation, its
/// initialisation and its page faults.
struct SegmentPool {
    segments: SegQueue<Box<Segment>>,
    /// Segments in the pool (kept at most `SegmentPool::MAX`).
    len: AtomicUsize,
}

impl SegmentPool {
    const MAX: usize = 4;

    /// Takes an emptied segment, if one is pooled.
    fn take(&self) -> Option<Box<Segment>> {
        let segment = self.segments.pop()?;
        // Relaxed: `len` only bounds the pool's size; the segment itself travels
        // through the queue, which synchronises push and pop.
        self.len.fetch_sub(1, Ordering::Relaxed);
        Some(segment)
    }

    /// Pools an evicted segment (emptied) unless the pool is full.
    fn give(&self, mut segment: Box<Segment>) {
        // Relaxed: see `take`; racing givers may overshoot MAX by their number.
        if self.len.fetch_add(1, Ordering::Relaxed) < Self::MAX {
            segment.clear();
            self.segments.push(segment);
        } else {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl SegmentLog {
    /// Empty storage. `segment_records` and `max_segments` are powers of two,
    /// `max_segments >= 2` (validated by `LogConfig`).
    pub(crate) fn new(segment_records: usize, max_segments: usize) -> Self {
        debug_assert!(segment_records.is_power_of_two() && max_segments.is_power_of_two());
        Self {
            segment_shift: segment_records.trailing_zeros(),
            ring: (0..max_segments)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            ring_mask: max_segments as u64 - 1,
            tail: CachePadded::new(AtomicU64::new(0)),
            log_start: CachePadded::new(AtomicU64::new(0)),
            hw_hint: CachePadded::new(AtomicU64::new(0)),
            pool: Arc::new(SegmentPool {
                segments: SegQueue::new(),
                len: AtomicUsize::new(0),
            }),
        }
    }

    fn segment_records(&self) -> u64 {
        1 << self.segment_shift
    }

    /// log2 of the records per segment.
    pub(crate) fn segment_shift(&self) -> u32 {
        self.segment_shift
    }

    /// The most live records the ring can address: one segment is kept free so a
    /// reservation that passed the capacity check never needs an occupied cell.
    pub(crate) fn capacity(&self) -> u64 {
        self.ring_mask << self.segment_shift
    }

    /// The first offset still held.
    pub(crate) fn log_start(&self) -> u64 {
        // Acquire: pairs with the Release store in `evict_oldest_if` (I7).
        self.log_start.load(Ordering::Acquire)
    }

    /// The next offset to be reserved (Kafka's log end offset).
    pub(crate) fn log_end(&self) -> u64 {
        // Acquire: pairs with the AcqRel fetch_add in `reserve` (I2).
        self.tail.load(Ordering::Acquire)
    }

    /// Reserves `count` consecutive offsets and returns the first (I2).
    ///
    /// Fails with `PartitionFull` when the live records would exceed `capacity()`.
    /// The check and the reservation are one CAS, so the capacity is exact (I3).
    #[inline]
    pub(crate) fn reserve(&self, count: u64) -> Result<u64, LogError> {
        // Acquire: pairs with the Release store in `evict_oldest_if`; a reservation
        // made against this start finds every older ring lap already unlinked (I3).
        let start = self.log_start.load(Ordering::Acquire);
        // Relaxed: only the CAS below decides; a stale value just fails it.
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let live = tail.saturating_sub(start);
            if live + count > self.capacity() {
                return Err(LogError::PartitionFull {
                    live_records: live,
                    capacity: self.capacity(),
                });
            }
            // AcqRel on success: the Release half lets a consumer's tail RMW in
            // `Wakeup::wait_published` that reads this value see our reservation; the
            // Acquire half makes a consumer registration that precedes its tail RMW
            // visible to our later `waiters` load (I6). Relaxed on failure: we retry.
            match self.tail.compare_exchange_weak(
                tail,
                tail + count,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(base) => return Ok(base),
                Err(current) => tail = current,
            }
        }
    }

    /// A consumer-side RMW on the tail (I6): returns the log end, ordered after
    /// the caller's waiter registration.
    pub(crate) fn log_end_synchronized(&self) -> u64 {
        // AcqRel: see `reserve` (I6).
        self.tail.fetch_add(0, Ordering::AcqRel)
    }

    /// Writes and publishes `records` at the reserved offsets `base..`.
    ///
    /// # Safety
    /// `base .. base + records.record_count()` was returned by one call of
    /// `reserve` made by the caller, and is written only by this call (I2).
    pub(crate) unsafe fn write_batch(
        &self,
        base: u64,
        records: impl IntoRecords,
        timestamp_ms: i64,
        stamp: Option<Stamp>,
    ) {
        let batch = BatchStamp::new(timestamp_ms, stamp);
        let mut offset = base;
        let mut segment = self.segment_for_write(base);
        // Cached so we never read a segment's header after publishing its last
        // slot: from then on retention may retire it (I7).
        let mut segment_end = segment.end();
        records.for_each_record(|record| {
            let record = crate::record::Record {
                key: record.key.map(bytes::Bytes::copy_from_slice),
                value: bytes::Bytes::copy_from_slice(record.value),
            };
            if offset == segment_end {
                segment = self.segment_for_write(offset);
                segment_end = segment.end();
            }
            // SAFETY: `offset` is reserved by our caller (I2) and lies in `segment`.
            unsafe { segment.slot(offset).write(record, &batch, offset - base) };
            offset += 1;
        });
    }

    /// The segment holding `offset`, installing it if needed. Only for offsets the
    /// caller reserved and has not yet published (I7 keeps it alive).
    #[inline]
    fn segment_for_write(&self, offset: u64) -> &Segment {
        let number = offset >> self.segment_shift;
        // Acquire: pairs with the AcqRel install in `install_segment`, so the
        // segment's slots (initialised empty by its creator) are visible.
        let current = self.ring[(number & self.ring_mask) as usize].load(Ordering::Acquire);
        if current.is_null() {
            return self.install_segment(number);
        }
        // SAFETY: a non-empty cell holds segment `number`: its previous lap's
        // occupant was unlinked before our reservation (I3). It holds our
        // unpublished slot, so retention does not retire it while we write (I7).
        let segment = unsafe { &*current };
        debug_assert_eq!(segment.base(), number << self.segment_shift);
        segment
    }

    /// The slow path of `segment_for_write`: installs segment `number` if no
    /// other writer has. The cell's previous occupant (segment `number - ring_len`)
    /// is already unlinked: our reservation was checked against a log start past
    /// the end of the segment after it (I3).
    #[cold]
    fn install_segment(&self, number: u64) -> &Segment {
        let cell = &self.ring[(number & self.ring_mask) as usize];
        // Acquire: pairs with the AcqRel install below by another writer.
        let mut current = cell.load(Ordering::Acquire);
        if current.is_null() {
            let base = number << self.segment_shift;
            let fresh = match self.pool.take() {
                Some(mut pooled) => {
                    pooled.rebase(base);
                    pooled
                }
                None => Box::new(Segment::new(base, self.segment_records() as usize)),
            };
            let fresh = Box::into_raw(fresh);
            // AcqRel on success publishes the new segment's initialised slots to
            // the Acquire loads of other writers and readers; Acquire on failure
            // pairs with the winner's install.
            match cell.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => current = fresh,
                Err(winner) => {
                    // SAFETY: `fresh` came from Box::into_raw above and was never shared.
                    self.pool.give(unsafe { Box::from_raw(fresh) });
                    current = winner;
                }
            }
        }
        // SAFETY: the cell holds segment `number` (its previous occupant was
        // unlinked before our reservation, I3), and it holds our unpublished slot, so
        // retention does not retire it while we write (I7).
        let segment = unsafe { &*current };
        debug_assert_eq!(segment.base(), number << self.segment_shift);
        segment
    }

    /// The segment holding `offset`, for a reader holding `_guard` (I8).
    /// `None` if it is not installed yet, or already evicted.
    fn segment_for_read<'g>(&self, offset: u64, _guard: &'g Guard) -> Option<&'g Segment> {
        let number = offset >> self.segment_shift;
        let cell = &self.ring[(number & self.ring_mask) as usize];
        // Acquire: pairs with the AcqRel install in `segment_for_write`.
        let current = cell.load(Ordering::Acquire);
        if current.is_null() {
            return None;
        }
        // SAFETY: we are pinned (`_guard`) and loaded the pointer from a shared cell,
        // so it is not freed before the guard drops (I8); it may be a segment of a
        // later ring lap, hence the base check.
        let segment = unsafe { &*current };
        (segment.base() == number << self.segment_shift).then_some(segment)
    }

    /// Calls `visit` for up to `max` published records from `from`, in offset
    /// order, stopping at the first unpublished one (I5). Returns the next offset.
    pub(crate) fn read(
        &self,
        from: u64,
        max: usize,
        mut visit: impl FnMut(RecordView<'_>),
    ) -> Result<u64, LogError> {
        let guard = pin();
        let log_start = self.log_start();
        let log_end = self.log_end();
        if from < log_start || from > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset: from,
                log_start,
                log_end,
            });
        }
        let mut offset = from;
        let mut remaining = max;
        'segments: while remaining > 0 {
            let Some(segment) = self.segment_for_read(offset, &guard) else {
                if offset == from && offset < self.log_start() {
                    return Err(LogError::OffsetOutOfRange {
                        offset,
                        log_start: self.log_start(),
                        log_end: self.log_end(),
                    });
                }
                break;
            };
            while offset < segment.end() && remaining > 0 {
                match segment.slot(offset).read(offset) {
                    Some(view) => visit(view),
                    None => break 'segments,
                }
                offset += 1;
                remaining -= 1;
            }
        }
        Ok(offset)
    }

    /// True if the record at `offset` is published (false if not yet, or gone).
    pub(crate) fn is_published(&self, offset: u64) -> bool {
        let guard = pin();
        self.segment_for_read(offset, &guard)
            .is_some_and(|segment| segment.slot(offset).is_published())
    }

    /// The end of the contiguous published prefix (I5).
    pub(crate) fn high_watermark(&self) -> u64 {
        let guard = pin();
        // Acquire: pairs with the AcqRel fetch_max below by another reader, which
        // had acquired every slot below its value.
        let mut hw = self.hw_hint.load(Ordering::Acquire).max(self.log_start());
        let log_end = self.log_end();
        'segments: while hw < log_end {
            let Some(segment) = self.segment_for_read(hw, &guard) else {
                break;
            };
            let run = segment.published_run(hw);
            hw += run;
            if hw < segment.end() {
                break 'segments;
            }
        }
        // AcqRel: publishes our acquisitions to later readers of the hint.
        self.hw_hint.fetch_max(hw, Ordering::AcqRel);
        hw
    }

    /// Size and age of every live segment from the log start, oldest first.
    pub(crate) fn live_segment_stats(&self) -> Vec<SegmentStats> {
        let guard = pin();
        let mut stats = Vec::new();
        let mut offset = self.log_start();
        let log_end = self.log_end();
        while offset < log_end {
            match self.segment_for_read(offset, &guard) {
                Some(segment) => {
                    stats.push(segment.stats());
                    offset = segment.end();
                }
                None => break,
            }
        }
        stats
    }

    /// Evicts the oldest segment if it is entirely below `high_watermark` and
    /// `should_evict` agrees; returns its stats. The caller serialises evictions
    /// (one evictor at a time) and passes a high watermark it computed (I7).
    pub(crate) fn evict_oldest_if(
        &self,
        high_watermark: u64,
        should_evict: impl FnOnce(&Segment) -> bool,
    ) -> bool {
        let guard = pin();
        let start = self.log_start();
        let end = start + self.segment_records();
        if end > high_watermark {
            return false;
        }
        let cell = &self.ring[((start >> self.segment_shift) & self.ring_mask) as usize];
        // Acquire: pairs with the AcqRel install in `segment_for_write`.
        let current = cell.load(Ordering::Acquire);
        if current.is_null() {
            return false;
        }
        // SAFETY: only the (single) evictor retires segments and it has not retired
        // this one; we are pinned as well (I8).
        if !should_evict(unsafe { &*current }) {
            return false;
        }
        // Move the start first, then unlink (I7): a reader that finds the cell empty
        // (Acquire) then also finds the new start and answers OffsetOutOfRange; a
        // writer whose reservation saw a start one segment later sees the unlink
        // (I3). Release pairs with the Acquire loads of log_start and of the cell.
        self.log_start.store(end, Ordering::Release);
        cell.store(std::ptr::null_mut(), Ordering::Release);
        // Once no reader can hold it, the segment is emptied into the pool (or
        // freed if the pool is full).
        let pool = Arc::clone(&self.pool);
        // SAFETY: `current` came from Box::into_raw in install_segment, is now
        // unreachable from the ring, and this evictor retires it once (I8).
        unsafe { guard.retire(current, move |segment| pool.give(segment)) };
        // Eviction is the only regular source of garbage and writers never pin:
        // push it to the collector now so segments return to the pool promptly.
        guard.flush();
        true
    }
}

impl Drop for SegmentLog {
    fn drop(&mut self) {
        for cell in self.ring.iter() {
            // Acquire: we are the last owner; pairs with the install.
            let segment = cell.load(Ordering::Acquire);
            if !segment.is_null() {
                // SAFETY: installed segments came from Box::into_raw; with `&mut self`
                // no reader or writer remains, and evicted ones were nulled.
                drop(unsafe { Box::from_raw(segment) });
            }
        }
    }
}

/// `sequence + delta` with Kafka's wrap from i32::MAX to 0.
pub(crate) fn sequence_add(sequence: i32, delta: u64) -> i32 {
    // Modulo 2^31, computed modulo 2^32 and masked: 2^31 divides 2^32.
    ((sequence as u32).wrapping_add(delta as u32) & i32::MAX as u32) as i32
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;
    use crate::record::Record;

    fn collect(storage: &SegmentLog, from: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        storage
            .read(from, usize::MAX, |view| {
                out.push((view.offset, view.value.to_vec()))
            })
            .expect("in range");
        out
    }

    #[test]
    fn batches_span_segments_and_read_back_in_order() {
        let storage = SegmentLog::new(4, 8);
        for batch in 0..5u8 {
            let records: Vec<Record> = (0..3).map(|i| Record::new(vec![batch, i])).collect();
            let base = storage.reserve(3).expect("room");
            // SAFETY: just reserved by this thread.
            unsafe { storage.write_batch(base, records, 0, None) };
        }
        let read = collect(&storage, 0);
        assert_eq!(read.len(), 15);
        assert!(read
            .iter()
            .enumerate()
            .all(|(i, (offset, _))| *offset == i as u64));
        assert_eq!(read[14].1, vec![4, 2]);
        assert_eq!(storage.high_watermark(), 15);
    }

    #[test]
    fn high_watermark_stops_at_a_hole() {
        let storage = SegmentLog::new(4, 8);
        let first = storage.reserve(1).expect("room");
        let second = storage.reserve(1).expect("room");
        // SAFETY: reserved above; the first is deliberately left unwritten for now.
        unsafe { storage.write_batch(second, Record::new("b"), 0, None) };
        assert_eq!(storage.high_watermark(), 0);
        assert!(collect(&storage, 0).is_empty());
        // SAFETY: reserved above.
        unsafe { storage.write_batch(first, Record::new("a"), 0, None) };
        assert_eq!(storage.high_watermark(), 2);
    }

    #[test]
    fn full_ring_is_an_error_until_eviction() {
        let storage = SegmentLog::new(2, 4);
        assert_eq!(storage.capacity(), 6);
        let base = storage.reserve(6).expect("room");
        let records: Vec<Record> = (0..6).map(|_| Record::new("x")).collect();
        // SAFETY: reserved above.
        unsafe { storage.write_batch(base, records, 0, None) };
        assert!(matches!(
            storage.reserve(1),
            Err(LogError::PartitionFull {
                live_records: 6,
                capacity: 6
            })
        ));
        let hw = storage.high_watermark();
        assert!(storage.evict_oldest_if(hw, |_| true));
        assert!(storage.evict_oldest_if(hw, |_| true));
        assert_eq!(storage.log_start(), 4);
        // Offsets 6..10 are segments 3 and 4; segment 4 reuses segment 0's cell.
        let base = storage.reserve(4).expect("room after eviction");
        let records: Vec<Record> = (0..4).map(|i| Record::new(vec![i])).collect();
        // SAFETY: reserved above.
        unsafe { storage.write_batch(base, records, 0, None) };
        let read = collect(&storage, 4);
        assert_eq!(
            read.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            (4..10).collect::<Vec<_>>()
        );
        assert_eq!(read[5].1, vec![3]);
        assert!(matches!(
            storage.read(0, 1, |_| {}),
            Err(LogError::OffsetOutOfRange { log_start: 4, .. })
        ));
    }

    #[test]
    fn evicted_segments_are_emptied_and_reused() {
        let storage = SegmentLog::new(2, 8);
        let write = |records: Vec<Record>| {
            let base = storage.reserve(records.len() as u64).expect("room");
            // SAFETY: just reserved by this thread.
            unsafe { storage.write_batch(base, records, 0, None) };
        };
        write((0..6u8).map(|i| Record::new(vec![i])).collect());
        let hw = storage.high_watermark();
        assert!(storage.evict_oldest_if(hw, |_| true));
        // Let the epoch advance until the retired segment comes back to the pool.
        for _ in 0..10_000 {
            if storage.pool.len.load(Ordering::Relaxed) > 0 {
                break;
            }
            crate::sync::pin().flush();
        }
        assert_eq!(storage.pool.len.load(Ordering::Relaxed), 1, "recycled");
        write(vec![Record::new(vec![6]), Record::new(vec![7])]);
        assert_eq!(storage.pool.len.load(Ordering::Relaxed), 0, "reused");
        let read = collect(&storage, 2);
        assert_eq!(
            read.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            (2..8).collect::<Vec<_>>()
        );
        assert_eq!(
            read[5].1,
            vec![7],
            "the reused segment holds the new records only"
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(sequence_add(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(sequence_add(i32::MAX, 1), 0);
        assert_eq!(sequence_add(i32::MAX - 1, 3), 1);
        assert_eq!(sequence_add(5, 0), 5);
    }
}
