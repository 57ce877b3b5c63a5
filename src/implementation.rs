//! Implementation notes: the memory-ordering protocol and the numbered
//! invariants that the code cites as I1..I9. Documentation only.
//!
//! # The append path (src/log/partition.rs)
//!
//! ```text
//! idempotent: validate -> state word CAS to BUSY -> tail.fetch_add(n) -> window + word (Release)
//!             -> write slots, publish each (Release) -> waiters.load (wake only if someone sleeps)
//! plain:      validate -> tail.fetch_add(n) -> write + publish -> waiters.load
//! ```
//! Locked instructions per idempotent batch: two (the CAS and the fetch_add);
//! per plain batch: one. No mutex, no channel, no allocation except when a batch
//! opens a new segment. Writers never pin a reclamation epoch (I7 makes it unnecessary).
//!
//! # Invariants
//!
//! **I1 — producer state (src/log/producer_state.rs).** The (partition, pid) state is one
//! `AtomicU64` word: last sequence, epoch, INIT, BUSY, DEAD and a 14-bit generation.
//! Only the thread whose CAS set BUSY writes the window, `batches` and `last_append_ms`,
//! and it ends BUSY with one Release store of the next word (generation + 1) or of the
//! unchanged previous word (abort). A decision that appends is validated by that CAS
//! (the word, hence everything the decision read, is unchanged). A decision that does
//! not append (duplicate or rejection) is a seqlock read: Acquire load of the word, Relaxed
//! loads of the window, Acquire fence, Relaxed re-load; equal words mean the window was
//! not written in between (the writer's Release fence after the BUSY CAS pairs with the
//! reader's Acquire fence). Hence: same-pid appends are serialised, a rejected or
//! duplicate batch changes nothing, and two concurrent copies of one batch yield
//! exactly one append and one duplicate answer with the same offsets.
//!
//! **I2 — reservation (src/log/storage.rs `reserve`).** Offsets are handed out only by
//! a compare-and-swap that moves the tail from `t` to `t + n`, so every offset below the
//! tail belongs to exactly one batch, whose appender is the only writer of its slots. An
//! idempotent appender reserves while holding BUSY, so one producer's batches get
//! offsets in sequence order.
//!
//! **I3 — ring capacity.** A partition addresses `max_segments` cells; segment `k`
//! lives in cell `k mod max_segments`. The reservation CAS succeeds only if
//! `t + n - log_start <= (max_segments - 1) * segment_records` for a `log_start` loaded
//! (Acquire) before it, else PartitionFull: the check is exact, a concurrent appender
//! cannot overshoot it. Hence a reserved offset's segment `k` satisfies
//! `k <= log_start/segment_records + max_segments - 2`, so segment `k - max_segments`
//! ended at least one segment before `log_start`; the evictor moved `log_start` past
//! the segment after it only after unlinking it (program order of the single evictor,
//! Release/Acquire on `log_start`). A writer therefore finds its cell empty or holding
//! its own segment, never the previous lap's.
//!
//! **I4 — publication (src/log/segment.rs).** A slot is written once, by its reserver, then
//! published with a Release store of its state word; readers Acquire that word before
//! touching the payload. Slots are never reused (segments are fresh allocations), so a
//! reader never sees a torn or stale record.
//!
//! **I5 — visibility.** Readers walk offsets in order and stop at the first unpublished
//! slot, so they see a contiguous prefix with no hole. The high watermark is the end of
//! that prefix; `hw_hint` is only ever a lower bound of it (advanced with `fetch_max`
//! by threads that acquired every slot below the value).
//!
//! **I6 — consumer wake-up (src/log/wakeup.rs).** A consumer about to sleep on offset `o`
//! takes the partition's wake-up mutex, increments `waiters`, then does an AcqRel RMW on
//! the tail. If the tail is past `o`, an appender has reserved `o` but may have missed the
//! registration: the consumer spins (the appender is mid-append) instead of sleeping. If
//! not, every appender that will reserve `o` does its tail RMW after ours in modification
//! order, so it reads-from our release sequence and its later Acquire load of `waiters`
//! sees the registration; it then takes the mutex (so it cannot notify between the
//! consumer's check and its wait) and notifies. No SeqCst is needed, and an appender pays
//! one plain load when nobody sleeps.
//!
//! **I7 — eviction (src/log/storage.rs `evict_oldest_if`, src/log/retention.rs).** Only one
//! evictor runs at a time (the partition's retention mutex, never waited on by appenders:
//! they `try_lock`, and if a pass is already running they leave the new segment to the
//! next pass). Only a segment entirely below the high watermark is evicted, so every slot
//! in it is published and no appender still writes it; appenders cache a segment's end
//! offset and never read a segment after publishing their last slot in it. Eviction moves
//! `log_start` first (Release), then unlinks the cell (Release): a reader that finds the
//! cell empty or holding a later lap re-reads `log_start` and answers OffsetOutOfRange,
//! and a blocked consumer whose offset was evicted returns so its next read says so.
//!
//! **I8 — reclamation.** Readers pin a crossbeam-epoch guard before loading a segment
//! pointer and hold it while they borrow records; the evictor retires a segment only
//! after unlinking it, so it is handed back after every guard that could have loaded it
//! is gone. It is then emptied (payloads dropped, slots unpublished) and put in the
//! partition's pool of at most four segments, or freed if the pool is full; an appender
//! that installs a segment takes one from the pool before allocating. A pooled segment is
//! reachable only from the pool, and it is published again only through the install CAS
//! (AcqRel), so a reader can never see a recycled slot under its old offset. Under loom,
//! retired segments are leaked instead (see src/sync.rs).
//!
//! **I9 — producer-state expiry.** `try_expire` sets DEAD by CAS only on an idle,
//! non-BUSY word; DEAD is terminal. An appender that meets DEAD (its CAS fails, it
//! re-loads) removes that exact state from the map (pointer-equal) and looks the
//! producer up again, getting a fresh "no state" entry. So an expired state is never
//! resurrected, and a cached state pointer is always either live or recognisably dead.
//!
//! # Why these choices
//! - Per-slot publish flags instead of an in-order commit counter: a preempted appender
//!   never blocks the others (lock-free), and a writer's publish is a plain store.
//! - A segment ring instead of a linked list: writers find their segment with one
//!   load and never need a reclamation guard; interior pointers are never freed.
//! - crossbeam-epoch for readers: a reader pays one pin per poll (not per record), and
//!   memory is freed promptly without reference counts on the read path.
