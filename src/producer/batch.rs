//! A producer batch: the records of one partition, written by the sending
//! threads straight into the log's record format (Kafka's
//! `MemoryRecordsBuilder`), so the flusher hands the log one contiguous area
//! and a retry resends the very same bytes.
//!
//! Many threads append to the open batch at once without a lock: one CAS on
//! the `reserved` word claims a record index and a byte range (P1 in
//! `crate::implementation`), the thread copies its record there, then counts it
//! in `written`. The flusher seals the word (no claim succeeds after) and takes
//! the area once `written` reaches the sealed count.

use super::buffer_pool::{Area, BufferPool};
use super::completion::Completion;
use crate::log::batch::{encode_record, encoded_len, EncodedRecords};
use crate::record::{IntoRecords, RecordRef};
use crate::sync::{AtomicPtr, AtomicU64, Mutex, Ordering};

/// `reserved` bit: the batch takes no more records.
const SEALED: u64 = 1 << 63;
/// `reserved` holds the record count above this shift and the bytes below.
const COUNT_SHIFT: u32 = 32;
const BYTES_MASK: u64 = (1 << COUNT_SHIFT) - 1;

/// What sealing a batch froze: its record count and the bytes they fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) records: u32,
    pub(crate) bytes: usize,
}

/// One batch of one partition (see the module comment).
// repr(C): `reserved` comes first, so it shares a cache line with the `Arc`
// counts in front of it; a sender's reservation and its handle's reference
// count then touch one line.
#[repr(C)]
pub(crate) struct ProducerBatch {
    /// SEALED | records << COUNT_SHIFT | bytes.
    reserved: AtomicU64,
    /// Records whose bytes are fully written.
    written: AtomicU64,
    /// The area's first byte (null for a sentinel) and its size; fixed.
    data: *mut u8,
    capacity: usize,
    max_records: u32,
    /// No record is ever appended: the chain's first node, or the terminator a
    /// closing flusher links last (`terminal`).
    sentinel: bool,
    terminal: bool,
    /// Creation order within the partition (the chain's order).
    ordinal: u64,
    /// When its first record was sent: linger and delivery timeout count from it.
    created_ms: i64,
    /// The next batch of the partition; set once (P2).
    next: AtomicPtr<ProducerBatch>,
    /// The memory behind `data`: taken back by the flusher once the batch is
    /// acknowledged, kept (with the records) when it failed.
    area: Mutex<Option<Area>>,
    /// Where the latest failed-record look-up found its record (index, byte
    /// offset in the area), taken under `area`'s lock: looking records up in
    /// order (the callbacks run in record order) walks the batch once. From
    /// the start each time, a failed batch of 65 536 records took seconds.
    failed_cursor: Mutex<(u32, usize)>,
    /// The batch's outcome, its waiters and its callbacks.
    pub(crate) completion: Completion,
}

// SAFETY: `data` points into `area`, which the batch owns; concurrent writers
// touch disjoint byte ranges handed out by the CAS on `reserved`, and readers
// read only after those writes are published (P1). Everything else is atomics,
// a mutex, or immutable after construction.
unsafe impl Send for ProducerBatch {}
// SAFETY: as above.
unsafe impl Sync for ProducerBatch {}

impl ProducerBatch {
    /// An open batch over `area` for records of at most `max_records` per batch.
    pub(crate) fn new(
        area: Area,
        ordinal: u64,
        created_ms: i64,
        max_records: u32,
        owner: u64,
    ) -> Self {
        Self {
            reserved: AtomicU64::new(0),
            written: AtomicU64::new(0),
            data: area.as_ptr(),
            capacity: area.capacity(),
            max_records,
            sentinel: false,
            terminal: false,
            ordinal,
            created_ms,
            next: AtomicPtr::new(std::ptr::null_mut()),
            area: Mutex::new(Some(area)),
            failed_cursor: Mutex::new((0, 0)),
            completion: Completion::new(owner),
        }
    }

    /// A node that takes no records: the start of a chain (`terminal` false)
    /// or the end of a closed one (`terminal` true).
    pub(crate) fn sentinel(ordinal: u64, terminal: bool, owner: u64) -> Self {
        Self {
            reserved: AtomicU64::new(SEALED),
            written: AtomicU64::new(0),
            data: std::ptr::null_mut(),
            capacity: 0,
            max_records: 0,
            sentinel: true,
            terminal,
            ordinal,
            created_ms: 0,
            next: AtomicPtr::new(std::ptr::null_mut()),
            area: Mutex::new(None),
            failed_cursor: Mutex::new((0, 0)),
            completion: Completion::new(owner),
        }
    }

    pub(crate) fn ordinal(&self) -> u64 {
        self.ordinal
    }

    /// Sets the ordinal of a batch no other thread can see yet.
    pub(crate) fn set_ordinal(&mut self, ordinal: u64) {
        self.ordinal = ordinal;
    }

    pub(crate) fn created_ms(&self) -> i64 {
        self.created_ms
    }

    pub(crate) fn is_sentinel(&self) -> bool {
        self.sentinel
    }

    pub(crate) fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Bytes of its area.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends `record` unless the batch is sealed, has `max_records` records,
    /// or lacks room; returns its index. `before_publish` runs with the index
    /// after the bytes are written and before the record is counted as
    /// written (the flusher completes the batch only after that).
    pub(crate) fn try_append(
        &self,
        record: RecordRef<'_>,
        before_publish: impl FnOnce(u32),
    ) -> Option<u32> {
        let len = encoded_len(record) as u64;
        // Relaxed: the CAS below decides; a stale value only fails it once.
        let mut current = self.reserved.load(Ordering::Relaxed);
        let (index, at) = loop {
            let records = (current & !SEALED) >> COUNT_SHIFT;
            let bytes = current & BYTES_MASK;
            if current & SEALED != 0
                || records >= u64::from(self.max_records)
                || bytes + len > (self.capacity as u64).min(BYTES_MASK)
            {
                return None;
            }
            // Relaxed: the claim publishes nothing (P1: the bytes are
            // published by the Release increment of `written` below); the
            // flusher's seal (`fetch_or`) is ordered against it by being an
            // RMW of the same word.
            match self.reserved.compare_exchange_weak(
                current,
                current + (1 << COUNT_SHIFT) + len,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break (records as u32, bytes as usize),
                Err(actual) => current = actual,
            }
        };
        // SAFETY: P1: the CAS gave this thread bytes `at..at + len` of the
        // area alone (capacity checked above), and the area stays allocated
        // until the flusher takes it, which is after `written` counts us.
        unsafe { encode_record(self.data.add(at), record) };
        before_publish(index);
        // Release: pairs with the Acquire load in `fully_written`: the
        // flusher that sees our count sees our bytes (and our callback).
        self.written.fetch_add(1, Ordering::Release);
        Some(index)
    }

    /// Seals the batch: no record is appended after this (P3). Idempotent.
    pub(crate) fn seal(&self) -> Sealed {
        // AcqRel: an RMW on the word every claim CASes, so each claim is
        // either before it (counted here) or after it (and fails).
        let word = self.reserved.fetch_or(SEALED, Ordering::AcqRel);
        Sealed {
            records: ((word & !SEALED) >> COUNT_SHIFT) as u32,
            bytes: (word & BYTES_MASK) as usize,
        }
    }

    /// True once sealed (by the flusher, or by a sender that opens the next batch).
    pub(crate) fn is_sealed(&self) -> bool {
        // Relaxed: a hint for the flusher's linger decision; `seal` decides.
        self.reserved.load(Ordering::Relaxed) & SEALED != 0
    }

    /// True once the `sealed.records` claimed records are all written.
    pub(crate) fn fully_written(&self, sealed: Sealed) -> bool {
        // Acquire: pairs with the Release increments in `try_append` (P1).
        self.written.load(Ordering::Acquire) == u64::from(sealed.records)
    }

    /// The sealed records, for sending.
    ///
    /// # Safety
    /// `sealed` came from [`ProducerBatch::seal`], [`ProducerBatch::fully_written`]
    /// returned true for it, and the area has not been recycled (`recycle_area`).
    pub(crate) unsafe fn records(&self, sealed: Sealed) -> EncodedRecords<'_> {
        let area: &[u8] = if sealed.bytes == 0 {
            &[]
        } else {
            // SAFETY: P1: every claimed byte was written and published to us
            // (the caller checked `fully_written`), nobody writes after the
            // seal, and the area is still allocated (the caller's promise).
            unsafe { std::slice::from_raw_parts(self.data, sealed.bytes) }
        };
        EncodedRecords::new(area, sealed.records)
    }

    /// Record `index` of a sealed batch that failed (and so kept its area).
    pub(crate) fn failed_record(
        &self,
        sealed: Sealed,
        index: u32,
    ) -> Option<(Option<bytes::Bytes>, bytes::Bytes)> {
        let area = self.area.lock();
        area.as_ref()?;
        // SAFETY: the area is still here (checked under its lock, and only
        // `recycle_area` removes it), and a batch reaches a failed outcome only
        // after it was sealed and fully written (`Completion`'s outcome is set
        // by the flusher from `sealed`).
        let records = unsafe { self.records(sealed) };
        let encoded = records.encoded()?;
        let mut cursor = self.failed_cursor.lock();
        // From the latest look-up's record if this one is not before it.
        let (mut at, mut offset) = if index >= cursor.0 { *cursor } else { (0, 0) };
        // The records from a record's start are an encoding of their own.
        let rest = EncodedRecords::new(encoded.get(offset..)?, sealed.records.checked_sub(at)?);
        for record in rest.iter() {
            if at == index {
                *cursor = (at, offset);
                return Some((
                    record.key.map(bytes::Bytes::copy_from_slice),
                    bytes::Bytes::copy_from_slice(record.value),
                ));
            }
            at += 1;
            offset += encoded_len(record);
        }
        None
    }

    /// Gives the area back to `pool` (the batch was acknowledged, discarded
    /// empty, or never shared: nothing reads the area again).
    pub(crate) fn recycle_area(&self, pool: &BufferPool) {
        if let Some(area) = self.area.lock().take() {
            pool.give_back(area);
        }
    }

    /// The next batch of the partition, if one was linked.
    pub(crate) fn next_ptr(&self) -> *mut ProducerBatch {
        // Acquire: pairs with the AcqRel CAS in `link` (P2): the node's fields
        // written before it was linked are visible.
        self.next.load(Ordering::Acquire)
    }

    /// Links `next` after this batch; false if another batch got there first.
    pub(crate) fn link(&self, next: *mut ProducerBatch) -> bool {
        // AcqRel: Release publishes the new node's construction to whoever
        // loads `next` (`next_ptr`); Acquire on failure is not needed for the
        // value, but keeps the failing thread's view of the winner current.
        self.next
            .compare_exchange(
                std::ptr::null_mut(),
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// A batch's place in the flusher's hands: the batch and what its seal froze.
#[derive(Clone)]
pub(crate) struct SealedBatch {
    // std's Arc for batches even under loom (see batch_chain.rs).
    pub(crate) batch: std::sync::Arc<ProducerBatch>,
    pub(crate) sealed: Sealed,
}

impl SealedBatch {
    /// Its records, to send.
    pub(crate) fn records(&self) -> EncodedRecords<'_> {
        // SAFETY: a `SealedBatch` is made by the flusher after `seal` and a
        // true `fully_written` (batch_chain.rs), and the area is recycled only
        // when the flusher completes it successfully, which consumes it.
        unsafe { self.batch.records(self.sealed) }
    }

    pub(crate) fn len(&self) -> u64 {
        u64::from(self.sealed.records)
    }
}
