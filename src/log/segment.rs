//! A segment: one byte buffer of contiguous batches plus a commit array, and the
//! pool that recycles evicted segments' memory.
//!
//! Batch `i` of a segment occupies the units its reservation gave it (I2) and is
//! published by one Release store of `commits[i]`, tagged with the buffer's lap
//! (I4). The commit array is separate from the bytes, so no record byte is ever
//! read as a commit word, and a recycled buffer needs no clearing: a word of an
//! earlier lap never matches the current lap's tag.

use std::ptr::NonNull;

use crossbeam::utils::CachePadded;

use crate::log::batch::{self, BatchFields, UNIT_BYTES};
use crate::log::budget::Budget;
use crate::record::IntoRecords;
use crate::sync::{zeroed_words, AtomicI64, AtomicU64, Ordering, SegQueue};

/// Commit word bit: the batch is written.
// A commit word: COMMITTED (bit 63) | lap (bits 32..63) | the batch's record
// count if below 2^12, else 0 (bits 20..32) | the batch's units (bits 0..20).
const COMMITTED: u64 = 1 << 63;
const LAP_SHIFT: u32 = 32;
const LAP_MASK: u64 = (1 << 31) - 1;
const COUNT_SHIFT: u32 = 20;
const COUNT_LIMIT: u64 = 1 << 12;
const UNITS_MASK: u64 = (1 << COUNT_SHIFT) - 1;

/// Where batches start: on a cache line of the buffer.
const LINE: usize = 64;
/// The allocation's alignment: the allocator's own (malloc-sized), so a zeroed
/// allocation is `calloc`, whose fresh pages need no memset and stay
/// non-resident until written. The data starts at the first line inside it.
const ALLOC_ALIGN: usize = 16;

/// The memory of a segment: a zeroed byte buffer of `units` 8-byte units and
/// `batch_capacity` commit words. Moves between segments through the pool.
pub(crate) struct SegmentMemory {
    /// The allocation (`layout(units)`).
    allocation: NonNull<u8>,
    /// The buffer: the first cache line inside the allocation.
    data: NonNull<u8>,
    units: usize,
    commits: Box<[AtomicU64]>,
    /// Incarnations of this memory so far; the current segment's tag.
    lap: u64,
}

// SAFETY: the buffer is plain bytes owned by this value; access is coordinated by
// the commit protocol (I2, I4), as for a `Box<[u8]>` shared behind `&`.
unsafe impl Send for SegmentMemory {}
// SAFETY: see `Send`: shared access writes only reserved, unpublished regions.
unsafe impl Sync for SegmentMemory {}

impl SegmentMemory {
    fn layout(units: usize) -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(units * UNIT_BYTES + LINE, ALLOC_ALIGN)
            .expect("segment sizes are validated by LogConfig")
    }

    /// Bytes this memory takes (what the budget is charged).
    pub(crate) fn footprint(units: usize, batch_capacity: usize) -> u64 {
        (units * UNIT_BYTES + LINE + batch_capacity * std::mem::size_of::<u64>()) as u64
    }

    /// Fresh zeroed memory (pages are made resident only as they are written).
    fn new(units: usize, batch_capacity: usize) -> Self {
        let layout = Self::layout(units);
        // SAFETY: `units > 0` (validated by LogConfig), so the size is non-zero.
        let allocation = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(allocation) = NonNull::new(allocation) else {
            std::alloc::handle_alloc_error(layout);
        };
        let skip = allocation.as_ptr().align_offset(LINE);
        // SAFETY: `skip < LINE`, and the allocation has `LINE` bytes beyond the
        // buffer's `units * UNIT_BYTES`, so the buffer lies inside it.
        let data = unsafe { allocation.add(skip) };
        Self {
            allocation,
            data,
            units,
            commits: zeroed_words(batch_capacity),
            lap: 0,
        }
    }

    /// Starts this memory's next incarnation; returns its commit tag. The lap
    /// has 31 bits: when it would wrap, the commit words are cleared and the
    /// laps start again at 1, so a word written 2^31 incarnations ago (a batch
    /// slot that no later incarnation reached) can never pose as committed in
    /// this one (I4). The memory is ours alone here: it came out of the pool
    /// or was just made, and no segment refers to it any more.
    fn next_incarnation(&mut self) -> u64 {
        self.lap = (self.lap + 1) & LAP_MASK;
        if self.lap == 0 {
            // Relaxed: the words are unshared until the new segment is
            // installed, whose install CAS (AcqRel, `install_next`) publishes
            // them to every reader that Acquires the cell.
            self.commits
                .iter()
                .for_each(|word| word.store(0, Ordering::Relaxed));
            self.lap = 1;
        }
        COMMITTED | (self.lap << LAP_SHIFT)
    }
}

impl Drop for SegmentMemory {
    fn drop(&mut self) {
        // SAFETY: `allocation` was allocated in `new` with exactly this layout.
        unsafe { std::alloc::dealloc(self.allocation.as_ptr(), Self::layout(self.units)) };
    }
}

/// Totals of a segment's batches, as retention needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentTotals {
    pub(crate) records: u64,
    pub(crate) payload_bytes: u64,
    pub(crate) max_timestamp_ms: i64,
}

impl Default for SegmentTotals {
    fn default() -> Self {
        Self {
            records: 0,
            payload_bytes: 0,
            max_timestamp_ms: i64::MIN,
        }
    }
}

impl SegmentTotals {
    /// Counts one more batch.
    pub(crate) fn add(&mut self, batch: &BatchFields) {
        self.records += u64::from(batch.record_count);
        self.payload_bytes += batch.payload_bytes();
        self.max_timestamp_ms = self.max_timestamp_ms.max(batch.timestamp_ms);
    }
}

/// A segment's totals, stored once by the high-watermark scan when it has
/// passed every batch of the segment, read by retention (both under the scan
/// lock, which orders them).
#[derive(Debug)]
pub(crate) struct Summary {
    records: AtomicU64,
    payload_bytes: AtomicU64,
    max_timestamp_ms: AtomicI64,
}

impl Summary {
    fn new() -> Self {
        Self {
            records: AtomicU64::new(0),
            payload_bytes: AtomicU64::new(0),
            max_timestamp_ms: AtomicI64::new(i64::MIN),
        }
    }

    pub(crate) fn store(&self, totals: SegmentTotals) {
        // Relaxed (here and in `load`): both sides hold the scan lock.
        self.records.store(totals.records, Ordering::Relaxed);
        self.payload_bytes
            .store(totals.payload_bytes, Ordering::Relaxed);
        self.max_timestamp_ms
            .store(totals.max_timestamp_ms, Ordering::Relaxed);
    }

    pub(crate) fn load(&self) -> SegmentTotals {
        SegmentTotals {
            records: self.records.load(Ordering::Relaxed),
            payload_bytes: self.payload_bytes.load(Ordering::Relaxed),
            max_timestamp_ms: self.max_timestamp_ms.load(Ordering::Relaxed),
        }
    }
}

/// Where a walk over committed batches stopped ([`Segment::committed_run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommittedRun {
    /// The first batch not committed (or the batch capacity).
    pub(crate) index: u64,
    /// Its first unit.
    pub(crate) unit: u64,
    /// Records in the batches walked.
    pub(crate) records: u64,
}

/// One segment: number `number` of its partition, in memory of lap `lap`.
pub(crate) struct Segment {
    number: u64,
    /// The tag of this incarnation's commit words.
    tag: u64,
    /// Taken out only by `drop`, which hands it back to the pool.
    memory: std::mem::ManuallyDrop<SegmentMemory>,
    pub(crate) summary: Summary,
    pool: std::sync::Arc<SegmentPool>,
}

impl Segment {
    /// The segment number within its partition (segment 0 is virtual: never made).
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    #[inline]
    fn memory(&self) -> &SegmentMemory {
        &self.memory
    }

    /// Writes batch `index` at `unit` and publishes it.
    ///
    /// # Safety
    /// `(index, unit)` and the `fields.units()` units from `unit` were handed to
    /// the caller by one reservation (I2), so no one else writes them, and no
    /// reader reads them before the Release store below (I4).
    #[inline]
    pub(crate) unsafe fn write_batch(
        &self,
        index: u64,
        unit: u64,
        fields: &BatchFields,
        records: &(impl IntoRecords + ?Sized),
    ) {
        let memory = self.memory();
        debug_assert!(unit + fields.units() <= memory.units as u64);
        // Relaxed: a check of I2 (one reservation per slot and lap), no data.
        debug_assert!(
            memory.commits[index as usize].load(Ordering::Relaxed) & !(u32::MAX as u64) != self.tag,
            "batch {index} of segment {} was reserved twice in one lap (I2)",
            self.number
        );
        // SAFETY: the region lies inside the buffer (the reservation checked it
        // against `units()`) and is ours alone (see above); the batch start is
        // unit-aligned, the buffer 64-aligned.
        unsafe {
            batch::encode(
                memory.data.as_ptr().add(unit as usize * UNIT_BYTES),
                fields,
                records,
            );
        }
        // Release: pairs with the Acquire load in `committed_batch`: a reader that
        // sees this lap's word sees the bytes written above (I4).
        let count = u64::from(fields.record_count);
        let count = if count < COUNT_LIMIT { count } else { 0 };
        memory.commits[index as usize].store(
            self.tag | count << COUNT_SHIFT | fields.units(),
            Ordering::Release,
        );
    }

    /// Walks the committed batches from batch `index` (which starts at
    /// `unit`) up to the first one not committed in this lap; returns where
    /// that one is and how many records the walk passed. A batch's units and
    /// count come from its commit word (the count from its header when the word
    /// cannot hold it).
    #[inline]
    pub(crate) fn committed_run(&self, mut index: u64, mut unit: u64) -> CommittedRun {
        let mut records = 0;
        while let Some(word) = self.committed_word(index) {
            let count = match (word & u32::MAX as u64) >> COUNT_SHIFT {
                0 => match self.committed_batch(index, unit) {
                    Some(bytes) => u64::from(batch::decode_fields(bytes).record_count),
                    None => break,
                },
                count => count,
            };
            records += count;
            index += 1;
            unit += word & UNITS_MASK;
        }
        CommittedRun {
            index,
            unit,
            records,
        }
    }

    /// Batch `index`'s commit word if it is committed in this lap.
    #[inline]
    fn committed_word(&self, index: u64) -> Option<u64> {
        let word = self.memory().commits.get(index as usize)?;
        // Acquire: pairs with the Release store in `write_batch` (I4).
        let word = word.load(Ordering::Acquire);
        // Not yet written in this lap if the tag differs (an earlier lap's word,
        // or zero).
        (word & !(u32::MAX as u64) == self.tag).then_some(word)
    }

    /// The bytes of batch `index` (which starts at `unit`), if it is committed.
    #[inline]
    pub(crate) fn committed_batch(&self, index: u64, unit: u64) -> Option<&[u8]> {
        let memory = self.memory();
        let units = self.committed_word(index)? & UNITS_MASK;
        // SAFETY: this lap's committed word means the batch's bytes from `unit`
        // were fully written before the Release store we acquired, and they are
        // never written again in this lap; the memory lives as long as `&self`.
        Some(unsafe {
            std::slice::from_raw_parts(
                memory.data.as_ptr().add(unit as usize * UNIT_BYTES),
                units as usize * UNIT_BYTES,
            )
        })
    }

    /// The buffer's bytes before `unit`, every one of them in committed batches
    /// the caller has acquired.
    ///
    /// # Safety
    /// Every batch in units `0..unit` is committed and was acquired by the caller
    /// (`committed_batch`), so nothing writes those bytes any more in this lap.
    pub(crate) unsafe fn committed_prefix(&self, unit: u64) -> &[u8] {
        let memory = self.memory();
        // SAFETY: see the function's contract; within the buffer.
        unsafe { std::slice::from_raw_parts(memory.data.as_ptr(), unit as usize * UNIT_BYTES) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: `memory` is taken exactly once, here, and the segment is not
        // used after its drop.
        let memory = unsafe { std::mem::ManuallyDrop::take(&mut self.memory) };
        self.pool.give(memory);
    }
}

/// A partition's emptied segment memory, ready for reuse: reusing it saves the
/// allocation and its page faults, and it needs no clearing (lap tags, I4).
pub(crate) struct SegmentPool {
    memory: SegQueue<SegmentMemory>,
    /// Pooled memories (kept at most `SegmentPool::MAX`).
    len: CachePadded<AtomicU64>,
    units: usize,
    batch_capacity: usize,
    budget: std::sync::Arc<Budget>,
}

impl SegmentPool {
    const MAX: u64 = 4;

    pub(crate) fn new(units: usize, batch_capacity: usize, budget: std::sync::Arc<Budget>) -> Self {
        Self {
            memory: SegQueue::new(),
            len: CachePadded::new(AtomicU64::new(0)),
            units,
            batch_capacity,
            budget,
        }
    }

    /// Bytes one segment's memory is charged.
    pub(crate) fn segment_footprint(&self) -> u64 {
        SegmentMemory::footprint(self.units, self.batch_capacity)
    }

    /// Segment `number` in pooled memory, or in fresh memory charged to the
    /// budget (`LogFull` if it has no room).
    pub(crate) fn segment(
        self: &std::sync::Arc<Self>,
        number: u64,
    ) -> Result<Segment, crate::error::LogError> {
        let mut memory = match self.memory.pop() {
            Some(memory) => {
                // Relaxed: `len` only bounds the pool; the memory itself travels
                // through the queue, which orders push before pop.
                self.len.fetch_sub(1, Ordering::Relaxed);
                memory
            }
            None => {
                self.budget.try_charge(self.segment_footprint())?;
                SegmentMemory::new(self.units, self.batch_capacity)
            }
        };
        let tag = memory.next_incarnation();
        Ok(Segment {
            number,
            tag,
            memory: std::mem::ManuallyDrop::new(memory),
            summary: Summary::new(),
            pool: std::sync::Arc::clone(self),
        })
    }

    /// Takes back the memory of a dropped segment, or frees it (and its budget
    /// charge) if the pool is full.
    fn give(&self, memory: SegmentMemory) {
        // Relaxed: see `segment`; racing givers may overshoot MAX by their number.
        if self.len.fetch_add(1, Ordering::Relaxed) < Self::MAX {
            self.memory.push(memory);
        } else {
            self.len.fetch_sub(1, Ordering::Relaxed);
            drop(memory);
            self.budget.release(self.segment_footprint());
        }
    }

    /// Frees every pooled memory and returns its charge to the budget. A
    /// racing `give` may pool another one meanwhile.
    pub(crate) fn release_all(&self) {
        while let Some(memory) = self.memory.pop() {
            // Relaxed: see `segment`.
            self.len.fetch_sub(1, Ordering::Relaxed);
            drop(memory);
            self.budget.release(self.segment_footprint());
        }
    }

    /// Pooled memories now.
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> u64 {
        // Relaxed: see `segment`.
        self.len.load(Ordering::Relaxed)
    }
}

impl Drop for SegmentPool {
    fn drop(&mut self) {
        while let Some(memory) = self.memory.pop() {
            drop(memory);
            self.budget.release(self.segment_footprint());
        }
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;

    /// A batch slot written in one incarnation and never reached again (later
    /// incarnations held fewer batches) must not pose as committed when the
    /// 31-bit lap comes round to that incarnation's value again: the laps
    /// wrapped to 0 and then 1, the first lap's tag, in 2^31 incarnations.
    #[test]
    fn a_wrapped_lap_never_matches_a_stale_commit_word() {
        let mut memory = SegmentMemory::new(16, 4);
        let first = memory.next_incarnation();
        // Relaxed: one thread.
        memory.commits[3].store(first | 2, Ordering::Relaxed);
        // The incarnations in between reached batch 2 at most.
        memory.lap = LAP_MASK - 1;
        for _ in 0..4 {
            let tag = memory.next_incarnation();
            let stale = memory.commits[3].load(Ordering::Relaxed);
            assert_ne!(
                stale & !(u32::MAX as u64),
                tag,
                "lap {} reads the stale word of batch 3 as committed",
                memory.lap
            );
            assert_ne!(memory.lap, 0, "lap 0 is no incarnation's");
        }
    }
}
