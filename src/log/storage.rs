//! Segmented batch storage of one partition: the reservation on the packed tail,
//! the segment ring, batch publication, reads through cursors, the high
//! watermark and whole-segment eviction.
//!
//! The invariants cited here (I2..I8) are stated in `crate::implementation`.
//!
//! Segment `n` lives in ring cell `n mod ring_len`. A cell holds either a live
//! segment (an `Arc<Segment>` turned raw) or a tombstone naming the last segment
//! the cell held, so an installer that lost a race by a whole lap can tell. Writers
//! never pin a reclamation epoch: they touch only segments holding an uncommitted
//! batch of theirs, which eviction never takes (I7). Readers pin only to turn a
//! cell into an `Arc` (a few instructions, no user code), then read through it.

use crossbeam::utils::CachePadded;

use crate::error::LogError;
use crate::log::batch::{self, BatchFields};
use crate::log::budget::{arc_block_bytes, heap_block_bytes, Budget};
use crate::log::segment::{Segment, SegmentPool, SegmentTotals};
use crate::log::tail::{self, Tail};
use crate::log::tail_cell::TailCell;
use crate::record::IntoRecords;
use crate::sync::{pin, AtomicPtr, AtomicU128, Backoff, Mutex, Ordering};

/// A ring cell's content.
enum Cell {
    Live(*mut Segment),
    /// The cell is free; it last held segment `n` (0: never used).
    Free(u64),
}

#[inline]
fn tombstone(number: u64) -> *mut Segment {
    std::ptr::without_provenance_mut(((number << 1) | 1) as usize)
}

#[inline]
fn decode(pointer: *mut Segment) -> Cell {
    let bits = pointer as usize;
    if bits & 1 == 1 {
        Cell::Free((bits >> 1) as u64)
    } else {
        Cell::Live(pointer)
    }
}

/// Where a reservation put a batch.
pub(crate) struct Reservation<'a> {
    /// The batch's first offset.
    pub(crate) base_offset: u64,
    segment: &'a Segment,
    index: u64,
    unit: u64,
    /// True if the batch opened a new segment (retention may be due).
    pub(crate) opened_segment: bool,
}

/// A reader's position: the batch at `index` / `unit` of segment `number` starts
/// at offset `batch_base`; the reader's next record is `skip` records past that
/// (possibly past this batch, when the cursor was placed on an offset whose batch
/// was not committed yet: the skip then carries over to the following batches).
#[derive(Clone)]
pub(crate) struct Cursor {
    segment: Option<std::sync::Arc<Segment>>,
    number: u64,
    index: u64,
    unit: u64,
    batch_base: u64,
    skip: u64,
}

impl Cursor {
    /// The offset of the next record this cursor reads.
    pub(crate) fn offset(&self) -> u64 {
        self.batch_base + self.skip
    }
}

/// One record handed to a reader: borrowed from the segment `committed` names.
/// Handed over by value, so no reference to it escapes the read loop and the
/// record is built once, as the reader's view.
pub(crate) struct ReadRecord<'a> {
    pub(crate) offset: u64,
    pub(crate) timestamp_ms: i64,
    pub(crate) decoded: batch::DecodedRecord<'a>,
    /// What an owned copy of the record shares.
    pub(crate) committed: CommittedPrefix<'a>,
}

/// A segment and the end of the committed batches a reader acquired in it: the
/// bytes zero-copy owned records (`Bytes` slices) share.
#[derive(Clone, Copy)]
pub(crate) struct CommittedPrefix<'a> {
    segment: &'a std::sync::Arc<Segment>,
    units: u64,
}

impl CommittedPrefix<'_> {
    /// The committed prefix as `Bytes` that keep the segment alive (no copy);
    /// slice it with `Bytes::slice_ref` for a record's key and value.
    pub(crate) fn to_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from_owner(CommittedBytes {
            segment: std::sync::Arc::clone(self.segment),
            units: self.units,
        })
    }
}

/// The committed prefix of a segment, as a `Bytes` owner.
struct CommittedBytes {
    segment: std::sync::Arc<Segment>,
    units: u64,
}

impl AsRef<[u8]> for CommittedBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `units` is the end of batches the reader that built us acquired
        // (`read`), so they are committed and never written again in this lap,
        // and the Arc keeps the lap from ending.
        unsafe { self.segment.committed_prefix(self.units) }
    }
}

/// The high-watermark scan's state.
struct Scan {
    cursor: Cursor,
    /// Totals of the batches scanned so far in the cursor's segment.
    running: SegmentTotals,
}

/// What retention sees of the oldest segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OldestSegment {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) max_timestamp_ms: i64,
}

/// What a segment install lacked, for the caller's `make_room`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shortage {
    /// The ring's next cell still holds a live segment (retention may evict it).
    RingCell,
    /// The memory budget refused a fresh segment (retention may free one, and
    /// other partitions' pools may hold idle memory).
    Memory,
}

/// The records of one partition.
pub(crate) struct SegmentLog {
    /// The packed tail (I2, I3); every change is a CAS, so consumers can order
    /// themselves against appenders with an RMW on it (I6).
    tail: CachePadded<TailCell>,
    /// The log start offset (low half) and the segment holding it (high half);
    /// written only by the evictor (I7).
    head: CachePadded<AtomicU128>,
    ring: Box<[AtomicPtr<Segment>]>,
    ring_mask: u64,
    segment_units: u64,
    batch_capacity: u64,
    pool: std::sync::Arc<SegmentPool>,
    /// Whether the scan reads batch headers for payload bytes and timestamps
    /// (retention by bytes or age needs them; by records it does not).
    summarise_headers: bool,
    /// The high-watermark scan: the first batch not known to be committed, and
    /// the running summary of the segment being scanned. Readers only; never
    /// appenders.
    scan: Mutex<Scan>,
}

// SAFETY: the raw segment pointers in `ring` are `Arc<Segment>`s (Send + Sync)
// shared under the protocol of I7/I8.
unsafe impl Send for SegmentLog {}
// SAFETY: see `Send`.
unsafe impl Sync for SegmentLog {}

impl SegmentLog {
    /// Empty storage: segments of `segment_units` units and `batch_capacity`
    /// batches, `ring_len` (a power of two >= 2) of them at most, charged to
    /// `budget`; `summarise_headers` if retention needs payload bytes or
    /// timestamps. Allocates no segment until the first append.
    pub(crate) fn new(
        segment_units: u64,
        batch_capacity: u64,
        ring_len: usize,
        budget: std::sync::Arc<Budget>,
        summarise_headers: bool,
    ) -> Self {
        debug_assert!(ring_len.is_power_of_two() && ring_len >= 2);
        debug_assert!(segment_units <= tail::MAX_SEGMENT_UNITS);
        debug_assert!(batch_capacity <= tail::MAX_BATCH_CAPACITY);
        Self {
            tail: CachePadded::new(TailCell::new(Tail::empty(segment_units).pack())),
            head: CachePadded::new(AtomicU128::new(pack_head(0, 1))),
            ring: (0..ring_len)
                .map(|_| AtomicPtr::new(tombstone(0)))
                .collect(),
            ring_mask: ring_len as u64 - 1,
            segment_units,
            batch_capacity,
            summarise_headers,
            pool: std::sync::Arc::new(SegmentPool::new(
                segment_units as usize,
                batch_capacity as usize,
                budget,
            )),
            scan: Mutex::new(Scan {
                cursor: Cursor {
                    segment: None,
                    number: 1,
                    index: 0,
                    unit: 0,
                    batch_base: 0,
                    skip: 0,
                },
                running: SegmentTotals::default(),
            }),
        }
    }

    /// Heap bytes a storage with `ring_len` cells takes before its first
    /// segment: its directory and its segment pool (the storage itself lives
    /// inside its partition).
    pub(crate) fn heap_bytes(ring_len: usize) -> u64 {
        let directory = std::alloc::Layout::array::<AtomicPtr<Segment>>(ring_len)
            .expect("ring lengths are validated by LogConfig");
        heap_block_bytes(directory.size(), directory.align()) + arc_block_bytes::<SegmentPool>()
    }

    /// The largest record area of a batch that fits one segment: a batch takes
    /// `units_for(records_len)` units, at most `segment_units`. Below 4 MiB
    /// (`MAX_SEGMENT_UNITS`), so it fits the header's `u32` length field.
    #[inline]
    pub(crate) fn max_records_len(&self) -> usize {
        self.segment_units as usize * batch::UNIT_BYTES - batch::HEADER_BYTES
    }

    /// The most segments the ring holds.
    pub(crate) fn max_segments(&self) -> u64 {
        self.ring_mask + 1
    }

    fn head(&self) -> (u64, u64) {
        // Acquire: pairs with the Release store in `evict_oldest` (I7).
        unpack_head(self.head.load(Ordering::Acquire))
    }

    /// The first offset still held.
    pub(crate) fn log_start(&self) -> u64 {
        self.head().0
    }

    /// The next offset to be reserved (Kafka's log end offset).
    pub(crate) fn log_end(&self) -> u64 {
        // Acquire: pairs with the AcqRel CAS in `reserve` (I2).
        Tail::unpack(self.tail.load(Ordering::Acquire)).offset
    }

    /// A consumer-side RMW on the tail (I6): the log end, ordered after the
    /// caller's waiter registration.
    pub(crate) fn log_end_synchronized(&self) -> u64 {
        // AcqRel: an RMW in the tail's modification order, so every later
        // reservation CAS reads-from its release sequence (I6).
        Tail::unpack(self.tail.fetch_or(0, Ordering::AcqRel)).offset
    }

    /// Reserves offsets, units and a commit slot for a batch of `count` records
    /// taking `units` units (at most a segment), moving to a fresh segment when it
    /// does not fit the current one (I2, I3). `make_room` is called when the next
    /// segment cannot be installed, with what it lacked (a ring cell, or memory
    /// from the budget), then installation is retried; `make_room` answers
    /// false while someone else is making room (then it is called again after
    /// the retry, with a backoff), true once it made what room it could (then
    /// a second failure is the answer).
    #[inline]
    pub(crate) fn reserve(
        &self,
        count: u64,
        units: u64,
        make_room: impl Fn(Shortage) -> bool,
    ) -> Result<Reservation<'_>, LogError> {
        debug_assert!(units <= self.segment_units);
        let tail = self.tail.reserving();
        // Acquire: pairs with the AcqRel CAS of the previous reserver (I2), and
        // makes the segment it installed visible.
        let mut word = tail.load();
        loop {
            let current = Tail::unpack(word);
            let fits =
                current.unit + units <= self.segment_units && current.index < self.batch_capacity;
            let (number, unit, index) = if fits {
                (current.number, current.unit, current.index)
            } else {
                self.install_next(current.number, &make_room)?;
                ((current.number + 1) & tail::number_mask(), 0, 0)
            };
            let next = Tail {
                offset: current.offset + count,
                number,
                unit: unit + units,
                index: index + 1,
            };
            // AcqRel on success: Release publishes the segment we may have
            // installed to later reservers (they Acquire the tail), Acquire
            // continues the release sequence of a consumer's RMW (I6); Acquire on
            // failure: as the load above.
            match tail.compare_exchange(word, next.pack()) {
                Ok(_) => {
                    // SAFETY: the tail reached segment `number` only after the
                    // segment was installed (I3), and our uncommitted batch keeps
                    // it from eviction until we publish (I7).
                    let segment = unsafe { self.segment_for_write(number) };
                    return Ok(Reservation {
                        base_offset: current.offset,
                        segment,
                        index,
                        unit,
                        opened_segment: !fits,
                    });
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// The segment whose number has low bits `low`, for its reserver.
    ///
    /// # Safety
    /// The caller holds an uncommitted reservation in that segment (I7).
    #[inline]
    unsafe fn segment_for_write(&self, low: u64) -> &Segment {
        // Acquire: pairs with the AcqRel install CAS in `install_next` (I3).
        let cell = self.ring[(low & self.ring_mask) as usize].load(Ordering::Acquire);
        match decode(cell) {
            Cell::Live(segment) => {
                // SAFETY: the caller's reservation keeps the segment live (I7).
                let segment = unsafe { &*segment };
                debug_assert_eq!(
                    segment.number() & tail::number_mask(),
                    low,
                    "a reserved segment stays in its cell until its batches commit (I7)"
                );
                segment
            }
            Cell::Free(_) => unreachable!("a reserved segment is installed (I3)"),
        }
    }

    /// Makes sure the segment after the one with low bits `low` is installed,
    /// installing it if its cell is free (I3). Stale callers (the tail moved on)
    /// find a later segment or its tombstone in the cell and do nothing.
    #[cold]
    fn install_next(
        &self,
        low: u64,
        make_room: &impl Fn(Shortage) -> bool,
    ) -> Result<(), LogError> {
        let (_, start_segment) = self.head();
        let floor = start_segment - 1;
        let current = tail::expand(low, floor);
        if current - floor > self.max_segments() {
            // `low` is from a segment already evicted: the tail has moved on, and
            // the caller's CAS will fail.
            return Ok(());
        }
        let wanted = current + 1;
        let cell = &self.ring[(wanted & self.ring_mask) as usize];
        let mut tried_room = false;
        let mut backoff = Backoff::new();
        loop {
            // Acquire: pairs with the AcqRel install below by another writer and
            // with the evictor's Release tombstone store (I7).
            let current = cell.load(Ordering::Acquire);
            let occupant = match decode(current) {
                Cell::Free(last) => last,
                Cell::Live(segment) => {
                    let guard = pin();
                    // Re-check under the pin: only then may we dereference (I8).
                    // Acquire: as above.
                    if cell.load(Ordering::Acquire) != current {
                        continue;
                    }
                    // SAFETY: pinned, and the pointer was in the cell after we
                    // pinned, so its Arc is released only after the guard (I8).
                    let number = unsafe { &*segment }.number();
                    drop(guard);
                    if number >= wanted {
                        return Ok(());
                    }
                    // Segment `wanted - ring_len` is still live: the ring is full.
                    if !tried_room {
                        tried_room = make_room(Shortage::RingCell);
                        if !tried_room {
                            backoff.snooze();
                        }
                        continue;
                    }
                    return Err(LogError::PartitionFull {
                        live_segments: self.max_segments(),
                        max_segments: self.max_segments(),
                    });
                }
            };
            if occupant >= wanted {
                return Ok(());
            }
            let segment = match self.pool.segment(wanted) {
                Ok(segment) => segment,
                Err(_) if !tried_room => {
                    tried_room = make_room(Shortage::Memory);
                    if !tried_room {
                        backoff.snooze();
                    }
                    continue;
                }
                Err(full) => return Err(full),
            };
            let fresh = std::sync::Arc::into_raw(std::sync::Arc::new(segment)).cast_mut();
            // AcqRel on success: Release publishes the new segment to reservers
            // and readers (they Acquire the cell); Acquire on failure: pairs with
            // the winner's install.
            match cell.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(_) => {
                    // SAFETY: `fresh` came from Arc::into_raw above and was never
                    // shared; its memory goes back to the pool.
                    drop(unsafe { std::sync::Arc::from_raw(fresh) });
                }
            }
        }
    }

    /// Writes the reserved batch and publishes it (I4).
    ///
    /// # Safety
    /// `reservation` came from `reserve` with the same `fields.units()` and
    /// `fields.record_count`, and is written once.
    #[inline]
    pub(crate) unsafe fn write(
        &self,
        reservation: &Reservation<'_>,
        fields: &BatchFields,
        records: &(impl IntoRecords + ?Sized),
    ) {
        // SAFETY: forwarded from our contract (I2).
        unsafe {
            reservation
                .segment
                .write_batch(reservation.index, reservation.unit, fields, records);
        }
    }

    /// The live segment numbered `number`, if it is installed.
    fn segment_for_read(&self, number: u64) -> Option<std::sync::Arc<Segment>> {
        let cell = &self.ring[(number & self.ring_mask) as usize];
        let _guard = pin();
        // Acquire: pairs with the AcqRel install in `install_next`.
        match decode(cell.load(Ordering::Acquire)) {
            Cell::Live(segment) => {
                // SAFETY: pinned, and loaded from the cell after pinning: the
                // evictor releases the cell's Arc only after our guard (I8).
                let candidate = unsafe { &*segment };
                (candidate.number() == number).then(|| {
                    // SAFETY: `segment` came from Arc::into_raw and the cell's
                    // reference is still held (pinned, see above).
                    unsafe {
                        std::sync::Arc::increment_strong_count(segment);
                        std::sync::Arc::from_raw(segment)
                    }
                })
            }
            Cell::Free(_) => None,
        }
    }

    /// A cursor at `offset`, which must lie in `log_start..=log_end`.
    pub(crate) fn cursor_at(&self, offset: u64) -> Result<Cursor, LogError> {
        loop {
            let (log_start, start_segment) = self.head();
            let log_end = self.log_end();
            if offset < log_start || offset > log_end {
                return Err(LogError::OffsetOutOfRange {
                    offset,
                    log_start,
                    log_end,
                });
            }
            let mut cursor = Cursor {
                segment: None,
                number: start_segment,
                index: 0,
                unit: 0,
                batch_base: log_start,
                skip: 0,
            };
            if self.walk_to(&mut cursor, offset) {
                return Ok(cursor);
            }
            // A segment on the way was evicted meanwhile: start again from the
            // new head (I7).
        }
    }

    /// Moves `cursor` batch by batch (whole segments at a time where the next
    /// segment's first batch shows they lie before `offset`) to the batch holding
    /// `offset`, or to the first batch not committed yet, and sets the skip to
    /// `offset`. Returns false if a segment it needed was evicted.
    fn walk_to(&self, cursor: &mut Cursor, offset: u64) -> bool {
        while cursor.batch_base < offset {
            let Some(segment) = self.cursor_segment(cursor) else {
                if cursor.number < self.head().1 {
                    return false;
                }
                break;
            };
            if let Some(next) = self.segment_for_read(cursor.number + 1) {
                if let Some(first) = next.committed_batch(0, 0) {
                    let base = batch::decode_fields(first).base_offset;
                    if base <= offset {
                        *cursor = Cursor {
                            segment: Some(next),
                            number: cursor.number + 1,
                            index: 0,
                            unit: 0,
                            batch_base: base,
                            skip: 0,
                        };
                        continue;
                    }
                }
            }
            let Some(bytes) = segment.committed_batch(cursor.index, cursor.unit) else {
                break;
            };
            let fields = batch::decode_fields(bytes);
            let end = fields.base_offset + u64::from(fields.record_count);
            if offset < end {
                break;
            }
            cursor.index += 1;
            cursor.unit += fields.units();
            cursor.batch_base = end;
        }
        // Mid-batch, or beyond batches not committed yet: the reader skips the
        // records before `offset` once it can read them.
        cursor.skip = offset - cursor.batch_base;
        true
    }

    /// The cursor's segment, loaded into it if needed.
    fn cursor_segment(&self, cursor: &mut Cursor) -> Option<std::sync::Arc<Segment>> {
        if cursor.segment.is_none() {
            cursor.segment = self.segment_for_read(cursor.number);
        }
        cursor.segment.clone()
    }

    /// Calls `visit` for up to `max` committed records from `cursor`, in offset
    /// order, stopping at the first uncommitted batch (I5) or when `visit` says
    /// stop. Returns how many records were visited, or OffsetOutOfRange if the
    /// cursor's records were evicted before it could take its segment (I7).
    pub(crate) fn read(
        &self,
        cursor: &mut Cursor,
        max: usize,
        mut visit: impl FnMut(ReadRecord<'_>) -> std::ops::ControlFlow<()>,
    ) -> Result<usize, LogError> {
        let mut read = 0;
        while read < max {
            // The segment leaves the cursor while we read it, so the batches of
            // one segment cost no reference-count traffic.
            let segment = match cursor.segment.take() {
                Some(segment) => segment,
                None => match self.segment_for_read(cursor.number) {
                    Some(segment) => segment,
                    None if cursor.number < self.head().1 => {
                        // Evicted before we took it: relocate (or out of range).
                        *cursor = self.cursor_at(cursor.offset())?;
                        continue;
                    }
                    None => break,
                },
            };
            let mut stopped = false;
            while let Some(bytes) = segment.committed_batch(cursor.index, cursor.unit) {
                let fields = batch::decode_fields(bytes);
                debug_assert_eq!(fields.base_offset, cursor.batch_base);
                let count = u64::from(fields.record_count);
                let committed_units = cursor.unit + fields.units();
                if cursor.skip < count {
                    // The batch's records up to the reader's limit; the counts
                    // stay in registers and reach the cursor once per batch.
                    let from = cursor.skip;
                    let to = count.min(from.saturating_add((max - read) as u64));
                    let first_offset = cursor.offset();
                    let mut visited = 0;
                    for decoded in batch::records(bytes, fields, from as u32, to as u32) {
                        let record = ReadRecord {
                            offset: first_offset + visited,
                            timestamp_ms: fields.timestamp_ms,
                            decoded,
                            committed: CommittedPrefix {
                                segment: &segment,
                                units: committed_units,
                            },
                        };
                        visited += 1;
                        if visit(record).is_break() {
                            stopped = true;
                            break;
                        }
                    }
                    cursor.skip += visited;
                    read += visited as usize;
                    stopped |= read == max;
                }
                if cursor.skip >= count {
                    cursor.index += 1;
                    cursor.unit = committed_units;
                    cursor.batch_base += count;
                    cursor.skip -= count;
                }
                if stopped {
                    break;
                }
            }
            cursor.segment = Some(segment);
            if stopped || !self.step_to_next_segment(cursor) {
                break;
            }
        }
        Ok(read)
    }

    /// True if `cursor` has a committed record to read.
    pub(crate) fn readable(&self, cursor: &Cursor) -> bool {
        let mut probe = cursor.clone();
        // An evicted position is "readable": the next read answers OffsetOutOfRange.
        self.read(&mut probe, 1, |_| std::ops::ControlFlow::Continue(())) != Ok(0)
    }

    /// Moves `cursor` from the end of its segment to the start of the next one,
    /// if the next segment's first batch is committed and starts where the cursor
    /// stands (then every batch of this segment was read, I5).
    fn step_to_next_segment(&self, cursor: &mut Cursor) -> bool {
        let Some(next) = self.segment_for_read(cursor.number + 1) else {
            return false;
        };
        let Some(first) = next.committed_batch(0, 0) else {
            return false;
        };
        if batch::decode_fields(first).base_offset != cursor.batch_base {
            return false;
        }
        *cursor = Cursor {
            segment: Some(next),
            number: cursor.number + 1,
            index: 0,
            unit: 0,
            batch_base: cursor.batch_base,
            skip: cursor.skip,
        };
        true
    }

    /// The end of the contiguous committed prefix (I5), advancing the scan that
    /// also summarises each segment for retention: plain sums in the scan's own
    /// state, stored into the segment once the scan leaves it.
    pub(crate) fn high_watermark(&self) -> u64 {
        // Eviction follows the scan (`oldest_complete`), so the scan never stands
        // in an evicted segment.
        let mut guard = self.scan.lock();
        let Scan { cursor, running } = &mut *guard;
        while let Some(segment) = self.cursor_segment(cursor) {
            if self.summarise_headers {
                while let Some(bytes) = segment.committed_batch(cursor.index, cursor.unit) {
                    let fields = batch::decode_fields(bytes);
                    running.add(&fields);
                    cursor.index += 1;
                    cursor.unit += fields.units();
                    cursor.batch_base += u64::from(fields.record_count);
                }
            } else {
                // Only offsets and records are needed: the commit words say them.
                let run = segment.committed_run(cursor.index, cursor.unit);
                running.records += run.records;
                cursor.index = run.index;
                cursor.unit = run.unit;
                cursor.batch_base += run.records;
            }
            if !self.step_to_next_segment(cursor) {
                break;
            }
            segment.summary.store(std::mem::take(running));
        }
        cursor.batch_base
    }

    /// The oldest live segment, if the high-watermark scan has passed all of it
    /// (so every batch in it is committed and no appender writes it, I7).
    pub(crate) fn oldest_complete(&self) -> Option<OldestSegment> {
        self.high_watermark();
        let scan = self.scan.lock();
        let (_, start_segment) = self.head();
        if scan.cursor.number <= start_segment {
            return None;
        }
        let totals = self.segment_for_read(start_segment)?.summary.load();
        Some(OldestSegment {
            records: totals.records,
            bytes: totals.payload_bytes,
            max_timestamp_ms: totals.max_timestamp_ms,
        })
    }

    /// Evicts the oldest segment, which `oldest_complete` just described. The
    /// caller serialises evictions (one evictor at a time, I7).
    pub(crate) fn evict_oldest(&self, oldest: &OldestSegment) {
        let (log_start, start_segment) = self.head();
        let cell = &self.ring[(start_segment & self.ring_mask) as usize];
        // Move the head first, then free the cell (I7): a reader that finds the
        // cell free re-reads the head and answers OffsetOutOfRange. Release pairs
        // with the Acquire loads of the head.
        self.head.store(
            pack_head(log_start + oldest.records, start_segment + 1),
            Ordering::Release,
        );
        // Release: pairs with the Acquire loads of the cell (installers, readers).
        let previous = cell.swap(tombstone(start_segment), Ordering::AcqRel);
        if let Cell::Live(segment) = decode(previous) {
            let segment = SendPtr(segment);
            let guard = pin();
            // Readers that loaded the pointer before the swap are pinned; drop the
            // cell's reference after them (I8). Readers holding an Arc keep the
            // segment (and only it) alive until they drop it.
            guard.defer(move || {
                let segment = segment;
                // SAFETY: the cell's reference, taken out of the ring by the swap
                // above, is released exactly once, here.
                drop(unsafe { std::sync::Arc::from_raw(segment.0) });
            });
            guard.flush();
        }
    }

    /// Payload bytes of the batches the high-watermark scan has passed.
    pub(crate) fn scanned_payload_bytes(&self) -> u64 {
        self.high_watermark();
        let scan = self.scan.lock();
        let (_, start_segment) = self.head();
        let passed: u64 = (start_segment..scan.cursor.number)
            .filter_map(|number| self.segment_for_read(number))
            .map(|segment| segment.summary.load().payload_bytes)
            .sum();
        passed + scan.running.payload_bytes
    }

    /// Live segments (installed, not yet evicted).
    pub(crate) fn live_segments(&self) -> u64 {
        let (_, start_segment) = self.head();
        // Acquire: pairs with the AcqRel CAS in `reserve` (I2).
        let current = tail::expand(
            Tail::unpack(self.tail.load(Ordering::Acquire)).number,
            start_segment.saturating_sub(1),
        );
        current + 1 - start_segment
    }

    /// Pooled segment memories (tests of recycling).
    #[cfg(test)]
    fn pooled(&self) -> u64 {
        self.pool.pooled()
    }

    /// Frees the segment memory pooled for reuse, returning its charge to the
    /// budget (another partition needs the memory).
    pub(crate) fn release_pooled(&self) {
        self.pool.release_all();
    }
}

impl Drop for SegmentLog {
    fn drop(&mut self) {
        for cell in self.ring.iter() {
            // Acquire: we are the last owner; pairs with the install.
            if let Cell::Live(segment) = decode(cell.load(Ordering::Acquire)) {
                // SAFETY: installed segments came from Arc::into_raw; with `&mut
                // self` no writer remains, and the cell's reference is ours.
                drop(unsafe { std::sync::Arc::from_raw(segment) });
            }
        }
    }
}

struct SendPtr(*mut Segment);
// SAFETY: the pointee is an `Arc<Segment>`'s, and Segment is Send + Sync.
unsafe impl Send for SendPtr {}

fn pack_head(log_start: u64, start_segment: u64) -> u128 {
    u128::from(log_start) | u128::from(start_segment) << 64
}

fn unpack_head(word: u128) -> (u64, u64) {
    (word as u64, (word >> 64) as u64)
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::record::Record;

    /// Storage of `segment_bytes` segments, `ring` of them, on an ample budget.
    fn storage(segment_bytes: u64, ring: usize) -> SegmentLog {
        SegmentLog::new(
            segment_bytes / 8,
            (segment_bytes / 64).max(2),
            ring,
            std::sync::Arc::new(Budget::new(1 << 30)),
            true,
        )
    }

    fn append(storage: &SegmentLog, values: &[&[u8]]) -> Result<u64, LogError> {
        let records: Vec<Record> = values.iter().map(|v| Record::new(v.to_vec())).collect();
        let records_len = batch::records_len(&records);
        let mut fields = BatchFields {
            base_offset: 0,
            timestamp_ms: 7,
            record_count: records.len() as u32,
            records_len: records_len as u32,
            stamp: None,
        };
        let reservation = storage.reserve(records.len() as u64, fields.units(), |_| true)?;
        fields.base_offset = reservation.base_offset;
        // SAFETY: reserved above for exactly these fields.
        unsafe { storage.write(&reservation, &fields, &records) };
        Ok(fields.base_offset)
    }

    fn read_all(storage: &SegmentLog, from: u64) -> Vec<(u64, Vec<u8>)> {
        let mut cursor = storage.cursor_at(from).expect("in range");
        let mut out = Vec::new();
        storage
            .read(&mut cursor, usize::MAX, |record| {
                out.push((record.offset, record.decoded.record.value.to_vec()));
                ControlFlow::Continue(())
            })
            .expect("in range");
        out
    }

    #[test]
    fn batches_fill_segments_and_read_back_in_order() {
        // 128-byte segments: two single-record batches (7 units each) per segment.
        let storage = storage(128, 8);
        for i in 0..5u8 {
            assert_eq!(append(&storage, &[&[i, i]]), Ok(u64::from(i)));
        }
        assert_eq!(storage.live_segments(), 3);
        let read = read_all(&storage, 0);
        assert_eq!(read.len(), 5);
        assert!(read
            .iter()
            .enumerate()
            .all(|(i, (o, v))| *o == i as u64 && v == &[i as u8; 2]));
        assert_eq!(storage.high_watermark(), 5);
        // A cursor placed mid-log starts exactly there.
        assert_eq!(read_all(&storage, 3)[0], (3, vec![3, 3]));
    }

    /// The records-only watermark scan (no header summaries) takes each
    /// batch's count from its commit word, or from its header when the word
    /// cannot hold it (4096 records or more).
    #[test]
    fn the_commit_word_scan_counts_small_and_large_batches() {
        let storage = SegmentLog::new(
            (64 << 10) / 8,
            1024,
            4,
            std::sync::Arc::new(Budget::new(1 << 30)),
            false,
        );
        let large = vec![&b""[..]; 5000];
        assert_eq!(append(&storage, &[b"a", b"b"]), Ok(0));
        assert_eq!(append(&storage, &large), Ok(2));
        assert_eq!(append(&storage, &[b"c"]), Ok(5002));
        assert_eq!(storage.high_watermark(), 5003);
        assert_eq!(read_all(&storage, 5002), vec![(5002, b"c".to_vec())]);
    }

    #[test]
    fn the_largest_record_area_fills_a_segment_and_fits_the_header_field() {
        // Rule 1's one comparison (`Partition::check_batch`) stands for two
        // bounds: a record area of `max_records_len` bytes takes the whole
        // segment and one byte more does not fit, and at the largest segment
        // the area still fits the header's u32 length field.
        for segment_bytes in [128, 4 << 10, tail::MAX_SEGMENT_UNITS * 8] {
            let storage = storage(segment_bytes, 2);
            let max = storage.max_records_len();
            assert_eq!(batch::units_for(max), storage.segment_units);
            assert!(batch::units_for(max + 1) > storage.segment_units);
            assert!(u32::try_from(max).is_ok(), "{max}");
        }
    }

    #[test]
    fn an_uncommitted_batch_stops_readers_and_the_watermark() {
        let storage = storage(1024, 4);
        let first = storage.reserve(1, 7, |_| true).expect("room");
        assert_eq!(append(&storage, &[b"b"]), Ok(1));
        assert_eq!(storage.high_watermark(), 0);
        assert!(read_all(&storage, 0).is_empty());
        let records = [Record::new("a")];
        let fields = BatchFields {
            base_offset: 0,
            timestamp_ms: 7,
            record_count: 1,
            records_len: batch::records_len(&records) as u32,
            stamp: None,
        };
        // SAFETY: reserved above for a 7-unit single-record batch.
        unsafe { storage.write(&first, &fields, &records) };
        assert_eq!(storage.high_watermark(), 2);
        assert_eq!(read_all(&storage, 0).len(), 2);
    }

    #[test]
    fn a_full_ring_is_an_error_until_eviction_and_memory_is_recycled() {
        let storage = storage(128, 2);
        for i in 0..4u8 {
            append(&storage, &[&[i]]).expect("room in two segments");
        }
        assert_eq!(
            append(&storage, &[b"x"]),
            Err(LogError::PartitionFull {
                live_segments: 2,
                max_segments: 2
            })
        );
        let oldest = storage.oldest_complete().expect("segment 1 is complete");
        assert_eq!(oldest.records, 2);
        storage.evict_oldest(&oldest);
        assert_eq!(storage.log_start(), 2);
        assert!(matches!(
            storage.cursor_at(0),
            Err(LogError::OffsetOutOfRange { log_start: 2, .. })
        ));
        // Let the epoch advance until the evicted segment's memory is pooled
        // (other tests' threads may hold pins for a while).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while storage.pooled() == 0 && std::time::Instant::now() < deadline {
            pin().flush();
            std::thread::yield_now();
        }
        assert_eq!(storage.pooled(), 1, "evicted memory is recycled");
        assert_eq!(append(&storage, &[b"y"]), Ok(4));
        assert_eq!(storage.pooled(), 0, "and reused");
        let read = read_all(&storage, 2);
        assert_eq!(
            read,
            vec![(2, vec![2]), (3, vec![3]), (4, b"y".to_vec())],
            "the recycled memory shows only its new batch (lap tags)"
        );
    }

    #[test]
    fn an_owned_record_outlives_eviction() {
        let storage = storage(128, 2);
        append(&storage, &[b"kept"]).expect("room");
        let mut cursor = storage.cursor_at(0).expect("in range");
        let mut owned = None;
        storage
            .read(&mut cursor, 1, |record| {
                let value = record.decoded.record.value;
                owned = Some(record.committed.to_bytes().slice_ref(value));
                ControlFlow::Break(())
            })
            .expect("in range");
        drop(cursor);
        for i in 0..3u8 {
            append(&storage, &[&[i]]).expect("room");
        }
        let oldest = storage.oldest_complete().expect("complete");
        storage.evict_oldest(&oldest);
        for _ in 0..100 {
            pin().flush();
        }
        assert_eq!(&owned.expect("read")[..], b"kept");
    }
}
