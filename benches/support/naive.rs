//! Limit: the naive prototype, the least an idempotent copy-in log can do, in
//! the same harness. Per batch: one CAS on the producer's state word and one
//! `fetch_add` on the partition tail; per record: a wait for the slot's
//! previous lap to be published (a load of a line the record then writes), a
//! copy of the bytes into the slot, and a release store that publishes it. No
//! timestamps, segments, validation or window. Each partition is a ring of
//! [`RETAINED_RECORDS`] fixed-size slots, the engine's steady-state record
//! count. Records are copied in, so an overwrite leaves nothing to drop (an
//! owned record is dropped by the producer right after its copy, as by the
//! engine's callers).

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::utils::CachePadded;

use super::crew::{prefilled, task, wait_until, Crew, CrewRunner};
use super::payload::AppBuffer;
use super::shape::{AppendShape, Flavour};
use super::{PREFILL_LAPS, RETAINED_RECORDS};

/// A ring of `slots` records of `record_size` bytes and its tail.
pub(crate) struct NaiveLog {
    tail: CachePadded<AtomicU64>,
    /// Slot `s` holds the offset it is ready for: `o` while the writer of `o`
    /// may write it, `o + slots` once `o` is published.
    states: Box<[AtomicU64]>,
    bytes: Box<[UnsafeCell<u8>]>,
    record_size: usize,
    mask: u64,
}

// SAFETY: the only shared mutable state outside atomics is `bytes`, and a
// slot's bytes are written only by the writer of the offset that the slot's
// state names (see `write`), so no two threads access the same bytes at once.
unsafe impl Sync for NaiveLog {}

impl NaiveLog {
    /// An empty ring of `slots` (a power of two) slots.
    pub(crate) fn new(slots: usize, record_size: usize) -> Self {
        assert!(slots.is_power_of_two(), "ring size {slots}");
        Self {
            tail: CachePadded::new(AtomicU64::new(0)),
            states: (0..slots as u64).map(AtomicU64::new).collect(),
            bytes: (0..slots * record_size)
                .map(|_| UnsafeCell::new(0))
                .collect(),
            record_size,
            mask: slots as u64 - 1,
        }
    }

    /// Reserves `n` offsets; returns the first.
    #[inline]
    pub(crate) fn reserve(&self, n: u64) -> u64 {
        // AcqRel, as the engine's reservation; the other side is the previous
        // reserver's fetch_add (the RMWs on the tail form one chain). No data
        // travels through the tail (each slot has its own state word): the
        // ordering makes the prototype pay the engine's fence.
        self.tail.fetch_add(n, Ordering::AcqRel)
    }

    /// Copies `record` into the slot of `offset` (reserved by this thread) and
    /// publishes it.
    #[inline]
    pub(crate) fn write(&self, offset: u64, record: &[u8]) {
        assert_eq!(record.len(), self.record_size, "fixed-size slots");
        let slot = (offset & self.mask) as usize;
        let state = &self.states[slot];
        // Acquire: pairs with the Release store below by the writer of
        // `offset - slots` (the previous lap): its copy is complete before ours.
        wait_until(|| state.load(Ordering::Acquire) == offset);
        let start = slot * self.record_size;
        // `UnsafeCell<u8>` has the layout of `u8`; the pointer comes from the
        // whole slice, so it may address the whole slot.
        let target = UnsafeCell::raw_get(self.bytes[start..].as_ptr());
        // SAFETY: the state equals `offset`, which only this thread reserved
        // (`reserve` hands each offset out once), and no other writer may touch
        // the slot until we store `offset + slots` below; readers do not exist.
        // `start + record_size <= bytes.len()` because `slot <= mask`.
        unsafe { std::ptr::copy_nonoverlapping(record.as_ptr(), target, self.record_size) };
        // Release: pairs with the Acquire load above by the writer of the next
        // lap (and would with a reader's).
        state.store(offset + self.mask + 1, Ordering::Release);
    }
}

/// Producers appending `shape`'s records to their partition's ring.
pub(crate) fn append(shape: AppendShape) -> CrewRunner {
    let logs: Arc<Vec<NaiveLog>> = Arc::new(
        (0..shape.partitions())
            .map(|_| NaiveLog::new(RETAINED_RECORDS as usize, shape.record_size))
            .collect(),
    );
    let tasks = (0..shape.producers)
        .map(|index| {
            let logs = Arc::clone(&logs);
            let partition = shape.partition_of(index);
            let buffer = AppBuffer::new(shape.record_size, shape.batch);
            let word = CachePadded::new(AtomicU64::new(0));
            task(move |total: u64| {
                let log = &logs[partition];
                for _ in 0..shape.batches_per_producer(total) {
                    // Acquire load, AcqRel CAS, as the engine's state word; the
                    // other side is this producer's own CAS of the previous
                    // batch (the word is private, so the CAS always succeeds and
                    // its failure ordering, Relaxed, is never used). The
                    // orderings make the prototype pay the engine's fences.
                    let current = word.load(Ordering::Acquire);
                    let claimed = word.compare_exchange(
                        current,
                        current + shape.batch as u64,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    );
                    black_box(claimed.is_ok());
                    let base = black_box(log.reserve(shape.batch as u64));
                    for (index, offset) in (base..base + shape.batch as u64).enumerate() {
                        match shape.flavour {
                            Flavour::Borrowed => log.write(offset, buffer.bytes(index)),
                            Flavour::Owned => log.write(offset, &buffer.fresh(index)),
                        }
                    }
                }
            })
        })
        .collect();
    let runner = CrewRunner::new(Crew::new("naive", tasks), shape.unit(), Box::new(logs));
    prefilled(
        runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_writers_fill_every_slot_of_every_lap() {
        let log = Arc::new(NaiveLog::new(8, 4));
        let writers: Vec<_> = (0..2u8)
            .map(|writer| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let base = log.reserve(2);
                        for offset in base..base + 2 {
                            log.write(offset, &[writer; 4]);
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("writer");
        }
        // 80 offsets through 8 slots: every slot was published 10 times.
        for (slot, state) in log.states.iter().enumerate() {
            // Relaxed: the joins ordered the writers' stores before this load.
            assert_eq!(state.load(Ordering::Relaxed), slot as u64 + 80);
        }
    }
}
