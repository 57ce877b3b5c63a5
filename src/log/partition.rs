//! The append protocol of one partition, in one place.
//!
//! Idempotent append (no lock anywhere; invariants in `crate::implementation`):
//! 1. validate the batch (malformed -> error, nothing touched);
//! 2. `ProducerState::begin_*`: read the (pid, partition) state word; decide with the
//!    broker rules; duplicates and rejections return here having changed nothing;
//!    an append CASes the word to BUSY (I1), or, under the state's lease, stores
//!    BUSY inside the lease's `active` bracket (I12);
//! 3. reserve the batch's offsets, units and commit slot with one CAS on the
//!    packed tail (I2), while BUSY, so one producer's batches get offsets in
//!    sequence order;
//! 4. commit: window entry + new word, Release (I1) — BUSY ends;
//! 5. copy the batch into its reserved region and publish it with one Release
//!    store of its commit word (I4);
//! 6. wake consumers only if one sleeps (I6).
//!
//! A plain (non-idempotent) append is steps 1, 3, 5 and 6.

use crate::clock::Clock;
use crate::error::LogError;
use crate::log::batch::{self, BatchFields, Stamp};
use crate::log::budget::{arc_block_bytes, heap_block_bytes};
use crate::log::producer_state::{Begin, CachedState, Claim, ProducerState, ProducerStateSnapshot};
use crate::log::retention::{self, RetentionPolicy, RetentionReport};
use crate::log::storage::{SegmentLog, Shortage};
use crate::log::wakeup::Wakeup;
use crate::log::{AppendOutcome, LogShared};
use crate::record::IntoRecords;
use crate::sync::{Arc, ConcurrentMap, Mutex};
use crate::types::{BatchHeader, ProducerId, MAX_EPOCH};

/// Shards of a partition's producer map. The map is off the append path
/// (appenders cache their state), so a few shards do, and an empty partition
/// stays small: dashmap's default is four per CPU, each shard two cache lines.
const PRODUCER_MAP_SHARDS: usize = 4;

/// One partition: its records, its producers' dedup state, its sleeping consumers.
pub(crate) struct Partition {
    pub(crate) topic: std::sync::Arc<str>,
    pub(crate) index: u32,
    pub(crate) storage: SegmentLog,
    pub(crate) wakeup: Wakeup,
    producers: ConcurrentMap<ProducerId, Arc<ProducerState>>,
    retention: RetentionPolicy,
    /// Serialises evictions (I7); never taken by an appender that would wait.
    retention_lock: Mutex<()>,
    pub(crate) shared: Arc<LogShared>,
}

impl Partition {
    pub(crate) fn new(
        topic: std::sync::Arc<str>,
        index: u32,
        retention: RetentionPolicy,
        shared: Arc<LogShared>,
    ) -> Self {
        Self {
            topic,
            index,
            storage: SegmentLog::new(
                shared.config.segment_units(),
                shared.config.segment_batch_capacity(),
                shared.config.max_segments,
                std::sync::Arc::clone(&shared.budget),
                retention.max_bytes.is_some() || retention.max_age_ms.is_some(),
            ),
            wakeup: Wakeup::new(),
            producers: ConcurrentMap::with_shards(PRODUCER_MAP_SHARDS),
            retention,
            retention_lock: Mutex::new(()),
            shared,
        }
    }

    /// Bytes one partition with a ring of `ring_len` segments takes before its
    /// first record (what `create_topic` charges, I10): its `Arc` block, its
    /// storage's directory and pool, its producer map's shards, and its slot in
    /// the topic's list (tests/partition_memory.rs checks the sum against the
    /// resident set).
    pub(crate) fn footprint(ring_len: usize) -> u64 {
        let shards =
            ConcurrentMap::<ProducerId, Arc<ProducerState>>::shards_layout(PRODUCER_MAP_SHARDS);
        arc_block_bytes::<Self>()
            + SegmentLog::heap_bytes(ring_len)
            + heap_block_bytes(shards.size(), shards.align())
            + std::mem::size_of::<Arc<Self>>() as u64
    }

    /// Rule 1 for any batch: returns its header fields less the offset and time.
    #[inline]
    fn check_batch(&self, records: &(impl IntoRecords + ?Sized)) -> Result<BatchFields, LogError> {
        let count = records.record_count();
        if count == 0 {
            return Err(LogError::EmptyBatch);
        }
        let max = self.shared.max_batch_records;
        if count > max {
            return Err(LogError::BatchTooLarge {
                records: count,
                max,
            });
        }
        // One comparison, in bytes: a record area that fits a segment also
        // fits the header's u32 length field.
        let records_len = batch::records_len(records);
        let max = self.storage.max_records_len();
        if records_len > max {
            return Err(LogError::BatchBytesTooLarge {
                bytes: records_len,
                max,
            });
        }
        Ok(BatchFields {
            base_offset: 0,
            timestamp_ms: 0,
            record_count: count as u32,
            records_len: records_len as u32,
            stamp: None,
        })
    }

    /// Rule 1 for an idempotent batch header, except the producer id, which
    /// `check_issued` checks once per appender.
    #[inline]
    fn check_header(&self, header: &BatchHeader) -> Result<(), LogError> {
        if header.base_sequence < 0 {
            return Err(LogError::InvalidSequence {
                base_sequence: header.base_sequence,
            });
        }
        if header.epoch > MAX_EPOCH {
            return Err(LogError::InvalidEpoch {
                epoch: header.epoch,
            });
        }
        Ok(())
    }

    /// Rule 1 for an idempotent batch (but its producer id), and its header
    /// fields, stamped with the producer's, less the offset.
    #[inline(always)]
    fn idempotent_fields(
        &self,
        header: &BatchHeader,
        records: &(impl IntoRecords + ?Sized),
        timestamp_ms: i64,
    ) -> Result<BatchFields, LogError> {
        let mut fields = self.check_batch(records)?;
        self.check_header(header)?;
        fields.timestamp_ms = timestamp_ms;
        fields.stamp = Some(Stamp {
            producer_id: header.producer_id,
            epoch: header.epoch,
            base_sequence: header.base_sequence,
        });
        Ok(fields)
    }

    /// Rule 1: the producer id was issued by this log.
    #[inline]
    pub(crate) fn check_issued(&self, producer_id: ProducerId) -> Result<(), LogError> {
        if self.shared.is_issued(producer_id) {
            Ok(())
        } else {
            Err(LogError::UnknownProducerId { producer_id })
        }
    }

    /// Appends a plain batch: never deduplicated.
    pub(crate) fn append_plain(
        &self,
        records: &(impl IntoRecords + ?Sized),
    ) -> Result<AppendOutcome, LogError> {
        let mut fields = self.check_batch(records)?;
        fields.timestamp_ms = self.shared.clock.now_ms();
        self.append_reserved(fields, records, |_| {})
    }

    /// Reserves the batch's offsets and room (I2), runs `before_write` with its
    /// final fields (the idempotent commit, I1), writes and publishes it (I4).
    /// A full partition or budget returns before `before_write`, which is
    /// dropped (a claim it holds restores the state word).
    #[inline(always)]
    fn append_reserved(
        &self,
        mut fields: BatchFields,
        records: &(impl IntoRecords + ?Sized),
        before_write: impl FnOnce(&BatchFields),
    ) -> Result<AppendOutcome, LogError> {
        let reservation =
            self.storage
                .reserve(u64::from(fields.record_count), fields.units(), |shortage| {
                    self.make_room_for(shortage)
                })?;
        fields.base_offset = reservation.base_offset;
        before_write(&fields);
        // SAFETY: the reservation was made for exactly these fields (I2).
        unsafe { self.storage.write(&reservation, &fields, records) };
        self.after_publish(reservation.opened_segment);
        Ok(AppendOutcome::appended(&fields))
    }

    /// Appends an idempotent batch with no cached state (a header passed to
    /// `PartitionHandle::append`): checks the producer id, looks its state up.
    /// Out of line, so that `PartitionHandle::append` inlines into its caller
    /// and a plain batch reaches `append_plain` with no frame of its own: the
    /// one-shot cache's drop glue made the handle's `append` save and restore
    /// five registers around a tail call on every plain batch (18
    /// instructions of a batch-1 plain append's 228, callgrind).
    #[inline(never)]
    pub(crate) fn append_one_shot(
        &self,
        header: BatchHeader,
        records: &(impl IntoRecords + ?Sized),
    ) -> Result<AppendOutcome, LogError> {
        self.check_issued(header.producer_id)?;
        self.append_idempotent(&mut CachedState::one_shot(), header, records)
    }

    /// Appends an idempotent batch of a producer id that `check_issued` accepted.
    /// `cached` holds this producer's state on this partition between calls (filled
    /// on first use, refreshed after expiry), so the steady state never touches the
    /// producer map, and, when it holds the state's lease, takes no locked
    /// instruction on the state word either (I12).
    #[inline]
    pub(crate) fn append_idempotent(
        &self,
        cached: &mut CachedState,
        header: BatchHeader,
        records: &(impl IntoRecords + ?Sized),
    ) -> Result<AppendOutcome, LogError> {
        let fields = self.idempotent_fields(&header, records, self.shared.clock.now_ms())?;
        // The steady state: the next batch of a cached, idle state, by plain
        // stores under its lease, or by CAS once the lease is closed (I12).
        if let Some((state, leased)) = cached.get() {
            let count = u64::from(fields.record_count);
            let expiration_ms = self.shared.config.producer_id_expiration_ms;
            let claim = if leased {
                state.begin_leased(&header, count, fields.timestamp_ms, expiration_ms)
            } else if state.lease_is_closed() {
                state.begin_in_sequence(&header, count, fields.timestamp_ms, expiration_ms)
            } else {
                None
            };
            if let Some(claim) = claim {
                // A refusal needs no clean-up: the state had committed batches.
                return self.append_claimed(claim, fields, records);
            }
        }
        self.append_judged(cached, header, fields.timestamp_ms, records)
    }

    /// Reserves, commits and writes a batch whose state `claim` holds (I1, I2,
    /// I4); a full partition or budget drops the claim, which restores the word.
    #[inline(always)]
    fn append_claimed(
        &self,
        claim: Claim<'_>,
        fields: BatchFields,
        records: &(impl IntoRecords + ?Sized),
    ) -> Result<AppendOutcome, LogError> {
        self.append_reserved(fields, records, move |fields| {
            claim.commit(fields.base_offset, fields.timestamp_ms);
        })
    }

    /// `append_idempotent` for every batch the steady state does not take: a
    /// state to look up or create, a duplicate, a rejection, a reset, an
    /// expired or contended state (I1, I9). It takes the batch's time, not its
    /// fields, and derives them again (rule 1 once more, which passed in the
    /// caller, so it cannot fail here; a walk of the records' lengths): a
    /// by-value `BatchFields` argument made the caller build them on the stack
    /// on every batch (10 stores per batch-1 append), and handing over the
    /// record-area length instead cost the steady state 9 instructions and 6
    /// loads per batch-1 append (callgrind), more than the walk costs here.
    #[inline(never)]
    fn append_judged(
        &self,
        cached: &mut CachedState,
        header: BatchHeader,
        timestamp_ms: i64,
        records: &(impl IntoRecords + ?Sized),
    ) -> Result<AppendOutcome, LogError> {
        let fields = self.idempotent_fields(&header, records, timestamp_ms)?;
        let count = u64::from(fields.record_count);
        let expiration_ms = self.shared.config.producer_id_expiration_ms;
        loop {
            if cached.get().is_none() {
                cached.set(self.live_state(header.producer_id)?);
            }
            cached.forget_revoked_lease();
            let Some((state, holder)) = cached.get() else {
                continue;
            };
            // `None`: the state expired and was marked DEAD (I9).
            let appended = match state.begin_judged(
                &header,
                count,
                fields.timestamp_ms,
                expiration_ms,
                holder,
            ) {
                Begin::Exclusive(claim) => Some(self.append_claimed(claim, fields, records)),
                Begin::Duplicate(original) => {
                    return Ok(AppendOutcome {
                        base_offset: original.base_offset,
                        record_count: count,
                        timestamp_ms: original.timestamp_ms,
                        duplicate: true,
                    })
                }
                Begin::Rejected(error) => return Err(error),
                Begin::Dead => None,
            };
            if let Some(appended) = appended {
                if appended.is_err() {
                    // A rejection leaves no trace: not even a state this batch
                    // created.
                    self.forget_if_uncommitted(header.producer_id, cached);
                }
                return appended;
            }
            // Drop the dead state from the map if the sweeper has not yet, and
            // look the producer up again.
            if let Some(dead) = cached.take() {
                self.remove_state(header.producer_id, &dead);
            }
        }
    }

    /// Removes `cached` from the map if no batch was ever committed to it: it is
    /// marked DEAD first, so other appenders caching it look the producer up again
    /// (I9).
    fn forget_if_uncommitted(&self, producer_id: ProducerId, cached: &mut CachedState) {
        let discarded = cached
            .get()
            .is_some_and(|(state, _)| state.try_discard_uncommitted());
        if let Some(state) = discarded.then(|| cached.take()).flatten() {
            self.remove_state(producer_id, &state);
        }
    }

    /// Removes exactly `state` from the map (pointer-equal, I9) and returns its
    /// charge (I11); returns whether it was still there.
    fn remove_state(&self, producer_id: ProducerId, state: &Arc<ProducerState>) -> bool {
        let removed = self
            .producers
            .remove_if(&producer_id, |current| Arc::ptr_eq(current, state));
        if removed {
            self.shared.producer_limits.release(&self.shared.budget);
        }
        removed
    }

    /// The live state of `producer_id` here, created empty if there is none
    /// (I9). A new state is admitted against the cap and the budget first (I11).
    fn live_state(&self, producer_id: ProducerId) -> Result<Arc<ProducerState>, LogError> {
        loop {
            if let Some(state) = self.producers.get(&producer_id) {
                if !state.is_dead() {
                    return Ok(state);
                }
                self.remove_state(producer_id, &state);
                continue;
            }
            self.shared
                .producer_limits
                .admit(&self.shared.budget, |count| {
                    self.shared.evict_lru_producer_states(count)
                })?;
            let fresh = Arc::new(ProducerState::new(self.shared.config.dedup_window));
            if self
                .producers
                .insert_if_absent(producer_id, Arc::clone(&fresh))
            {
                return Ok(fresh);
            }
            // A concurrent append of the same producer inserted first: use its
            // state, and return our admission.
            self.shared.producer_limits.release(&self.shared.budget);
        }
    }

    /// Calls `visit` for each producer state here (LRU eviction's scan).
    pub(crate) fn for_each_producer_state(
        &self,
        mut visit: impl FnMut(ProducerId, &Arc<ProducerState>),
    ) {
        self.producers
            .for_each(|producer_id, state| visit(*producer_id, state));
    }

    /// Evicts a candidate of LRU eviction if it is still idle and still here
    /// (I11): marked DEAD first, so an appender caching it looks it up again.
    pub(crate) fn evict_producer_state(&self, candidate: &crate::log::lru::Candidate) -> bool {
        candidate.state.try_expire(i64::MAX, 0)
            && self.remove_state(candidate.producer_id, &candidate.state)
    }

    /// Bytes of the producer map's table.
    pub(crate) fn producer_table_bytes(&self) -> usize {
        self.producers.table_bytes()
    }

    /// The housekeeper's pass: retention (if no pass is running) and expiry.
    pub(crate) fn housekeep(&self, now_ms: i64) {
        if self.retention.is_limited() {
            self.make_room();
        }
        self.expire_producers(now_ms);
    }

    /// Wakes consumers and, when the batch opened a new segment, runs retention if
    /// no one else is (try_lock: an appender never waits for it).
    #[inline]
    fn after_publish(&self, opened_segment: bool) {
        self.wakeup.notify();
        if opened_segment && self.retention.is_limited() {
            // A pass already running covers this segment's opening too.
            self.make_room();
        }
    }

    /// What an appender that could not install its next segment does before
    /// it looks again: retention here, and, when the budget refused the memory,
    /// frees the other partitions' pooled segments (idle memory still charged,
    /// which would otherwise answer `LogFull` while unused). Returns false if
    /// another thread's retention pass was running, so this one ran none: that
    /// pass may be making the room, and the appender looks again rather than
    /// answer `PartitionFull` or `LogFull` for it (it never waits on the lock).
    #[cold]
    fn make_room_for(&self, shortage: Shortage) -> bool {
        let ran = self.make_room();
        if shortage == Shortage::Memory {
            self.shared.release_pooled_segments(self);
        }
        ran
    }

    /// Runs retention unless a pass is already running (an appender that found
    /// the ring or the budget full, or opened a segment, never waits for it);
    /// returns whether it ran one.
    fn make_room(&self) -> bool {
        let Some(_evicting) = self.retention_lock.try_lock() else {
            return false;
        };
        self.enforce_retention_locked();
        true
    }

    fn enforce_retention_locked(&self) -> RetentionReport {
        retention::enforce(&self.storage, &self.retention, self.shared.clock.now_ms())
    }

    /// Runs retention now (waits for a concurrent pass to finish).
    pub(crate) fn enforce_retention(&self) -> RetentionReport {
        let _evicting = self.retention_lock.lock();
        self.enforce_retention_locked()
    }

    /// Removes producer states idle for the expiration time; returns how many.
    pub(crate) fn expire_producers(&self, now_ms: i64) -> usize {
        let expiration_ms = self.shared.config.producer_id_expiration_ms;
        // Mark under the map's read locks, remove after (removal takes a shard's
        // write lock); only the expired ones are collected.
        let mut expired = Vec::new();
        self.producers.for_each(|producer_id, state| {
            if state.try_expire(now_ms, expiration_ms) {
                expired.push((*producer_id, Arc::clone(state)));
            }
        });
        expired
            .iter()
            .filter(|(producer_id, state)| self.remove_state(*producer_id, state))
            .count()
    }

    /// A consistent copy of one producer's state, if it has a live one here.
    pub(crate) fn producer_state(&self, producer_id: ProducerId) -> Option<ProducerStateSnapshot> {
        self.producers.get(&producer_id)?.snapshot(
            producer_id,
            self.shared.clock.now_ms(),
            self.shared.config.producer_id_expiration_ms,
        )
    }
}
