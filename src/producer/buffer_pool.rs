//! `buffer.memory`: the record areas of a producer's batches, counted against
//! the limit and recycled (Kafka's `BufferPool`).
//!
//! A sending thread takes an area when it opens a batch: `batch.size` bytes, or
//! one record's size if that is larger. Areas of exactly `batch.size` go back
//! to a free list when their batch is acknowledged, so a steady producer
//! allocates nothing; larger ones are freed. Only opening a batch can block
//! (up to `max.block.ms`, while the areas in use fill `buffer.memory`), so a
//! record that fits its partition's open batch never waits.

use std::alloc::{alloc, dealloc, Layout};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use super::error::ProducerError;
use crate::sync::{fence, AtomicUsize, Condvar, Mutex, Ordering, SegQueue};

/// One batch's record area: `capacity` bytes of uninitialised memory.
pub(crate) struct Area {
    ptr: NonNull<u8>,
    capacity: usize,
}

// SAFETY: an `Area` owns its allocation alone (no aliasing handle exists), so
// moving it to or sharing it with another thread is as safe as for a `Box<[u8]>`.
unsafe impl Send for Area {}
// SAFETY: `&Area` only gives out the pointer and the capacity; writes through
// the pointer are the batch's business (see `batch.rs`, P1).
unsafe impl Sync for Area {}

impl Area {
    fn layout(capacity: usize) -> Option<Layout> {
        Layout::array::<u8>(capacity.max(1)).ok()
    }

    /// A new area, or `None` if the allocator refuses.
    fn allocate(capacity: usize) -> Option<Self> {
        let layout = Self::layout(capacity)?;
        // SAFETY: the layout has a non-zero size (`max(1)`).
        let ptr = NonNull::new(unsafe { alloc(layout) })?;
        Some(Self { ptr, capacity })
    }

    /// The first byte.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Bytes it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        if let Some(layout) = Self::layout(self.capacity) {
            // SAFETY: allocated in `allocate` with this very layout, freed once.
            unsafe { dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

/// The producer's `buffer.memory`.
pub(crate) struct BufferPool {
    limit: usize,
    batch_size: usize,
    max_block: Duration,
    /// Bytes of areas allocated and not freed (pooled ones included).
    used: crossbeam::utils::CachePadded<AtomicUsize>,
    /// Areas of `batch_size` bytes ready for reuse.
    free: SegQueue<Area>,
    /// Senders waiting for space: while there are any, every batch is due
    /// (Kafka's `RecordAccumulator` "exhausted" rule), so lingering batches
    /// go out and give their memory back.
    waiters: AtomicUsize,
    space: Mutex<()>,
    space_cv: Condvar,
}

impl BufferPool {
    pub(crate) fn new(limit: usize, batch_size: usize, max_block_ms: u64) -> Self {
        Self {
            limit,
            batch_size,
            max_block: Duration::from_millis(max_block_ms),
            used: crossbeam::utils::CachePadded::new(AtomicUsize::new(0)),
            free: SegQueue::new(),
            waiters: AtomicUsize::new(0),
            space: Mutex::new(()),
            space_cv: Condvar::new(),
        }
    }

    /// An area for a batch whose first record takes `record_len` bytes. Blocks
    /// up to `max.block.ms` while the buffer is full (not at all when
    /// `no_wait`: a delivery callback, which the flusher is waiting for);
    /// `closed` ends the wait with [`ProducerError::Closed`]. A sender that
    /// waits counts in [`has_waiters`](Self::has_waiters) and then runs
    /// `wake_flusher`, which sends the batches that hold the memory.
    pub(crate) fn take(
        &self,
        record_len: usize,
        no_wait: bool,
        closed: impl Fn() -> bool,
        wake_flusher: impl Fn(),
    ) -> Result<Area, ProducerError> {
        let capacity = record_len.max(self.batch_size);
        if capacity > self.limit {
            return Err(ProducerError::RecordTooLarge {
                size: record_len,
                limit: self.limit,
            });
        }
        if let Some(area) = self.try_take(capacity)? {
            return Ok(area);
        }
        let max_block = if no_wait {
            Duration::ZERO
        } else {
            self.max_block
        };
        if max_block.is_zero() {
            // No wait: the answer is now, and a sender that does not wait
            // makes no batch due (Kafka's accumulator is "exhausted" only
            // while a thread waits for memory, P5).
            return Err(ProducerError::BufferExhausted { max_block_ms: 0 });
        }
        // `None`: a max.block.ms beyond the clock's range blocks without limit.
        let deadline = Instant::now().checked_add(max_block);
        // SeqCst: pairs with the fence in `release` (Dekker): either the
        // releaser sees us waiting or our re-check sees its space.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // After the count: the flusher's sleep re-checks `has_waiters` after
        // its fence (P5), so it either sees us or is woken here.
        wake_flusher();
        let mut guard = self.space.lock();
        let outcome = loop {
            // Closed first: a sender still waiting when `close` began is not
            // accepted, even if memory came back meanwhile (`close` wakes it:
            // `notify`).
            if closed() {
                break Err(ProducerError::Closed);
            }
            match self.try_take(capacity) {
                Ok(Some(area)) => break Ok(area),
                Ok(None) => {}
                Err(error) => break Err(error),
            }
            let left = deadline.map_or(Duration::from_secs(1), |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                break Err(ProducerError::BufferExhausted {
                    max_block_ms: max_block.as_millis().min(u128::from(u64::MAX)) as u64,
                });
            }
            guard = self.space_cv.wait_timeout(guard, left);
        };
        drop(guard);
        // Relaxed: only `release` reads it, to skip a needless notify.
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        outcome
    }

    /// A pooled area, or a new one if the limit allows; `None` if full.
    fn try_take(&self, capacity: usize) -> Result<Option<Area>, ProducerError> {
        if capacity == self.batch_size {
            if let Some(area) = self.free.pop() {
                return Ok(Some(area));
            }
        }
        if !self.try_reserve(capacity) {
            return Ok(None);
        }
        match Area::allocate(capacity) {
            Some(area) => Ok(Some(area)),
            None => {
                self.release(capacity);
                Err(ProducerError::AllocationFailed { bytes: capacity })
            }
        }
    }

    fn try_reserve(&self, size: usize) -> bool {
        // Relaxed: the counter is pure accounting and guards no data; the
        // blocking path orders it against `release` with SeqCst fences.
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used + size > self.limit {
                return false;
            }
            match self.used.compare_exchange_weak(
                used,
                used + size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => used = actual,
            }
        }
    }

    /// An acknowledged batch's area comes back: pooled if it has the common
    /// size, else freed.
    pub(crate) fn give_back(&self, area: Area) {
        if area.capacity() == self.batch_size {
            self.free.push(area);
            self.notify();
        } else {
            let capacity = area.capacity();
            drop(area);
            self.release(capacity);
        }
    }

    /// A failed batch keeps its area (its records are handed back to the
    /// application), which leaves `buffer.memory` now.
    pub(crate) fn forget(&self, capacity: usize) {
        self.release(capacity);
    }

    fn release(&self, size: usize) {
        // Relaxed RMW, then the SeqCst fence in `notify`: pairs with the fence
        // in `take`.
        self.used.fetch_sub(size, Ordering::Relaxed);
        self.notify();
    }

    /// True while a sender waits for space: the flusher then takes every
    /// batch as due.
    pub(crate) fn has_waiters(&self) -> bool {
        // SeqCst: pairs with the SeqCst increment in `take`, which then wakes
        // the flusher (its wake-up fence pairs with the one in the flusher's
        // sleep, after which this is read).
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Wakes the senders waiting for space, if any: space came back, or the
    /// producer closed (its SeqCst store of `closed` precedes this call, so a
    /// waiter either is woken here or finds it closed before it waits).
    pub(crate) fn notify(&self) {
        // SeqCst: pairs with the fence after the waiter count in `take`.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            let _space = self.space.lock();
            self.space_cv.notify_all();
        }
    }
}
