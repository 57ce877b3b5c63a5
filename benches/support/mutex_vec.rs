//! Peer: `mutex-vec`, the big-lock log a user would write: a
//! `parking_lot::Mutex` around a ring of [`RETAINED_RECORDS`] `Bytes` per
//! partition (the same steady-state record count as the engine), overwriting
//! the oldest record. A borrowed record is copied into a `Bytes` before the
//! lock is taken; an owned one is the application's `Vec<u8>` turned into
//! `Bytes` (no copy). The records a push overwrites are dropped after the lock
//! is released, so the lock is held for the slot writes only.

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::crew::{prefilled, task, Crew, CrewRunner, Runner, Task, Timing};
use super::payload::AppBuffer;
use super::shape::{AppendShape, Flavour};
use super::throttle::Throttle;
use super::{POLL_MAX, PREFILL_LAPS, RETAINED_RECORDS, SCAN_RECORDS};

/// A ring of records with offsets: the newest `capacity` records are kept.
pub(crate) struct Ring {
    slots: Vec<Bytes>,
    mask: u64,
    next: u64,
}

impl Ring {
    /// An empty ring of `capacity` (a power of two) slots.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity.is_power_of_two(), "ring capacity {capacity}");
        Self {
            slots: vec![Bytes::new(); capacity],
            mask: capacity as u64 - 1,
            next: 0,
        }
    }

    /// The offset the next push gets.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Stores `record` at the next offset; returns the record it overwrote, for
    /// the caller to drop once the lock is released.
    #[inline]
    pub(crate) fn push(&mut self, record: Bytes) -> Bytes {
        let slot = (self.next & self.mask) as usize;
        self.next += 1;
        std::mem::replace(&mut self.slots[slot], record)
    }

    /// Visits up to `max` retained records from offset `from` (moved up to the
    /// oldest retained one); returns the offset after the last visited.
    #[inline]
    pub(crate) fn read(&self, from: u64, max: usize, mut visit: impl FnMut(&Bytes)) -> u64 {
        let start = from.max(self.next.saturating_sub(self.mask + 1));
        let end = self.next.min(start + max as u64);
        for offset in start..end {
            visit(&self.slots[(offset & self.mask) as usize]);
        }
        end
    }
}

/// Producers appending `shape`'s records to their partition's ring.
pub(crate) fn append(shape: AppendShape) -> CrewRunner {
    match shape.flavour {
        Flavour::Borrowed => ring_appends(shape, AppBuffer::copied),
        Flavour::Owned => ring_appends(shape, |buffer: &AppBuffer, index| {
            Bytes::from(buffer.fresh(index))
        }),
    }
}

/// The producers build each record with `record(buffer, index)`.
fn ring_appends<F>(shape: AppendShape, record: F) -> CrewRunner
where
    F: Fn(&AppBuffer, usize) -> Bytes + Copy + Send + 'static,
{
    let rings: Arc<Vec<Mutex<Ring>>> = Arc::new(
        (0..shape.partitions())
            .map(|_| Mutex::new(Ring::new(RETAINED_RECORDS as usize)))
            .collect(),
    );
    let tasks: Vec<Task> = (0..shape.producers)
        .map(|index| {
            let rings = Arc::clone(&rings);
            let partition = shape.partition_of(index);
            let buffer = AppBuffer::new(shape.record_size, shape.batch);
            let mut staged: Vec<Bytes> = Vec::with_capacity(shape.batch);
            task(move |total: u64| {
                let ring = &rings[partition];
                for _ in 0..shape.batches_per_producer(total) {
                    if shape.batch == 1 {
                        let fresh = record(&buffer, 0);
                        let mut guard = ring.lock();
                        let old = guard.push(fresh);
                        black_box(guard.next());
                        drop(guard);
                        drop(old);
                    } else {
                        staged.extend((0..shape.batch).map(|i| record(&buffer, i)));
                        let mut guard = ring.lock();
                        for slot in staged.iter_mut() {
                            *slot = guard.push(std::mem::take(slot));
                        }
                        black_box(guard.next());
                        drop(guard);
                        staged.clear();
                    }
                }
            })
        })
        .collect();
    let runner = CrewRunner::new(Crew::new("mutex-vec", tasks), shape.unit(), Box::new(rings));
    prefilled(
        runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    )
}

/// One reader iterating a ring of [`SCAN_RECORDS`] borrowed records under the
/// lock, [`POLL_MAX`] per lock, wrapping to the oldest at the end, reading each
/// value's first byte as the engine's scan does (reading only the length kept
/// in each `Bytes` handle would skip the payloads' memory altogether; so would
/// `black_box(record.first())`, which passes a reference and loads nothing).
pub(crate) fn scan(record_size: usize) -> Box<dyn Runner> {
    let buffer = AppBuffer::new(record_size, 1);
    let mut ring = Ring::new(SCAN_RECORDS as usize);
    for _ in 0..SCAN_RECORDS {
        ring.push(buffer.copied(0));
    }
    Box::new(Scan {
        ring: Mutex::new(ring),
        position: 0,
    })
}

struct Scan {
    ring: Mutex<Ring>,
    position: u64,
}

impl Runner for Scan {
    fn unit(&self) -> u64 {
        1
    }
    fn busy_threads(&self) -> usize {
        1
    }
    fn run(&mut self, records: u64) -> Timing {
        Timing::of(|| {
            let mut remaining = records;
            while remaining > 0 {
                let ring = self.ring.lock();
                let want = (remaining as usize).min(POLL_MAX);
                let end = ring.read(self.position, want, |record| {
                    black_box(record.first().copied());
                });
                remaining -= end - self.position;
                self.position = if end == ring.next() { 0 } else { end };
            }
        })
    }
}

/// One producer pushing borrowed records (copied into `Bytes`) into a ring,
/// one reader reading behind it under the lock ([`POLL_MAX`] per lock,
/// spinning when it has caught up).
pub(crate) fn tail(record_size: usize, batch: usize) -> CrewRunner {
    let ring = Arc::new(Mutex::new(Ring::new(RETAINED_RECORDS as usize)));
    let throttle = Throttle::default();
    let (writer_ring, writer) = (Arc::clone(&ring), throttle.clone());
    let buffer = AppBuffer::new(record_size, batch);
    let mut staged: Vec<Bytes> = Vec::with_capacity(batch);
    let producing = task(move |total: u64| {
        for done in (0..total).step_by(batch) {
            writer.wait_for_reader(done);
            staged.extend((0..batch).map(|i| buffer.copied(i)));
            let mut guard = writer_ring.lock();
            for slot in staged.iter_mut() {
                *slot = guard.push(std::mem::take(slot));
            }
            drop(guard);
            staged.clear();
        }
        writer.produced(total);
    });
    let mut position = 0u64;
    let reading = task(move |total: u64| {
        let mut read = 0u64;
        while read < total {
            let want = POLL_MAX.min((total - read) as usize);
            let end = ring.lock().read(position, want, |record| {
                black_box(record.len());
            });
            let n = end - position;
            if n == 0 {
                std::hint::spin_loop();
            }
            position = end;
            read += n;
            throttle.consumed(n);
        }
    });
    let runner = CrewRunner::new(
        Crew::new("mutex-vec-tail", vec![producing, reading]),
        batch as u64,
        Box::new(()),
    );
    prefilled(runner, PREFILL_LAPS * RETAINED_RECORDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_hands_back_the_overwritten() {
        let mut ring = Ring::new(4);
        for value in 0u8..6 {
            let old = ring.push(Bytes::from(vec![value]));
            assert_eq!(old.first().copied(), value.checked_sub(4));
        }
        let mut seen = Vec::new();
        assert_eq!(ring.read(0, 10, |b| seen.push(b[0])), 6);
        assert_eq!(seen, [2, 3, 4, 5]);
        assert_eq!(ring.read(4, 1, |_| {}), 5);
    }
}
