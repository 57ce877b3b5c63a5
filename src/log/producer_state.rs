//! The dedup state of one producer on one partition: a single atomic state word
//! changed by compare-and-swap, or by plain stores of the appender holding its
//! lease (I12), and a window of recent batch metadata written only by whoever
//! set BUSY and read with a seqlock-style re-check (I1 in
//! `crate::implementation`).
//!
//! The broker rules of the contract (rules 2-4 of `crate::contract`) are decided
//! by `judge` (src/log/rules.rs), a pure function of the state word and the window; the rest of
//! this file is the protocol that makes the decision atomic.

use crate::error::LogError;
use crate::log::budget::{arc_block_bytes, heap_block_bytes};
use crate::log::lease::Lease;
use crate::log::rules::{judge, Verdict};
use crate::sync::{fence, Arc, AtomicI64, AtomicU64, Backoff, Ordering};
use crate::types::sequence_add;
use crate::types::{BatchHeader, ProducerId};

/// The metadata the window keeps for one appended batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of the batch's first record.
    pub first_sequence: i32,
    /// Sequence of the batch's last record.
    pub last_sequence: i32,
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// Log-append time of the batch.
    pub timestamp_ms: i64,
}

/// A consistent copy of one producer's state on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStateSnapshot {
    /// The producer.
    pub producer_id: ProducerId,
    /// Current epoch.
    pub epoch: u16,
    /// Last committed sequence.
    pub last_sequence: i32,
    /// Log-append time of the last batch (expiry counts from here).
    pub last_append_ms: i64,
    /// The dedup window, oldest first.
    pub window: Vec<BatchMetadata>,
}

// State word layout (one u64, I1):
//   bits  0..31  last committed sequence (0..=i32::MAX)
//   bits 31..47  epoch (0..=32767)
//   bit  47      INIT: at least one batch committed (else "no state")
//   bit  48      BUSY: the CAS winner is committing a batch
//   bit  49      DEAD: expired and being removed from the partition's map
//   bits 50..64  generation, +1 on every commit (defeats ABA for seqlock readers)
const SEQ_MASK: u64 = (1 << 31) - 1;
const EPOCH_SHIFT: u32 = 31;
const INIT: u64 = 1 << 47;
const BUSY: u64 = 1 << 48;
const DEAD: u64 = 1 << 49;
const GEN_SHIFT: u32 = 50;
const EPOCH_BITS: u64 = 0xFFFF << EPOCH_SHIFT;
const GEN_BITS: u64 = !((1 << GEN_SHIFT) - 1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word(u64);

impl Word {
    #[inline]
    fn last_sequence(self) -> i32 {
        (self.0 & SEQ_MASK) as i32
    }
    #[inline]
    fn epoch(self) -> u16 {
        ((self.0 >> EPOCH_SHIFT) & 0xFFFF) as u16
    }
    #[inline]
    fn is_init(self) -> bool {
        self.0 & INIT != 0
    }
    #[inline]
    fn is_busy(self) -> bool {
        self.0 & BUSY != 0
    }
    #[inline]
    fn is_dead(self) -> bool {
        self.0 & DEAD != 0
    }
    /// The committed word after a batch ending at `last_sequence`: the
    /// generation + 1 (wrapping off the top), INIT, the epoch and the sequence.
    #[inline]
    fn committed(self, epoch: u16, last_sequence: i32) -> Word {
        let generation = (self.0 & GEN_BITS).wrapping_add(1 << GEN_SHIFT);
        Word(
            generation
                | INIT
                | (u64::from(epoch) << EPOCH_SHIFT)
                | (last_sequence as u64 & SEQ_MASK),
        )
    }

    /// The common case of the broker rules, read off the word alone: the word is
    /// idle, live and initialised, and `header` is of its epoch with the base
    /// sequence right after its last one (without the wrap to 0, left to
    /// `judge`). Then `judge` says `Append { reset: false }` unless the state has
    /// expired (test `the_in_sequence_check_agrees_with_judge`).
    #[inline]
    fn is_followed_by(self, header: &BatchHeader) -> bool {
        const FIELDS: u64 = INIT | BUSY | DEAD | EPOCH_BITS | SEQ_MASK;
        header.base_sequence > 0
            && self.0 & FIELDS
                == INIT
                    | (u64::from(header.epoch) << EPOCH_SHIFT)
                    | (header.base_sequence as u64 - 1)
    }
}

/// One window slot; every field is an atomic so seqlock readers never race
/// non-atomic memory (they discard what they read if the word moved).
struct WindowEntry {
    /// `first << 32 | last`.
    sequences: AtomicU64,
    base_offset: AtomicU64,
    timestamp_ms: AtomicI64,
}

impl WindowEntry {
    /// `sequences` of a slot that holds no batch: first and last -1, which no
    /// batch has (base sequences are at least 0, rule 1).
    const EMPTY: u64 = u64::MAX;

    fn new() -> Self {
        Self {
            sequences: AtomicU64::new(Self::EMPTY),
            base_offset: AtomicU64::new(0),
            timestamp_ms: AtomicI64::new(0),
        }
    }

    #[inline]
    fn pack(first: i32, last: i32) -> u64 {
        (u64::from(first as u32) << 32) | u64::from(last as u32)
    }

    // Relaxed loads and stores: every access happens inside the seqlock protocol of
    // `ProducerState` (writers between the BUSY mark + Release fence and the Release
    // store of the word; readers between the Acquire load of the word and the
    // Acquire fence + re-check), which orders them (I1).
    #[inline]
    fn load(&self) -> Option<BatchMetadata> {
        let sequences = self.sequences.load(Ordering::Relaxed);
        (sequences != Self::EMPTY).then(|| BatchMetadata {
            first_sequence: (sequences >> 32) as i32,
            last_sequence: sequences as u32 as i32,
            base_offset: self.base_offset.load(Ordering::Relaxed),
            timestamp_ms: self.timestamp_ms.load(Ordering::Relaxed),
        })
    }

    #[inline]
    fn clear(&self) {
        self.sequences.store(Self::EMPTY, Ordering::Relaxed);
    }

    #[inline]
    fn store(&self, batch: &BatchMetadata) {
        self.sequences.store(
            Self::pack(batch.first_sequence, batch.last_sequence),
            Ordering::Relaxed,
        );
        self.base_offset.store(batch.base_offset, Ordering::Relaxed);
        self.timestamp_ms
            .store(batch.timestamp_ms, Ordering::Relaxed);
    }
}

/// Indices of a window of `len` slots whose next slot is `next`, newest first.
fn newest_first(next: usize, len: usize) -> impl Iterator<Item = usize> {
    (1..=len).map(move |age| (next + len - age) % len)
}

/// Window slots held inside the state itself (Kafka's fixed window is 5).
const INLINE_WINDOW: usize = 5;

/// The window's slots: inside the state for windows of up to `INLINE_WINDOW`
/// batches (one allocation per state), on the heap for longer ones.
enum WindowSlots {
    Inline([WindowEntry; INLINE_WINDOW]),
    Heap(Box<[WindowEntry]>),
}

/// The dedup state of one producer on one partition: ONE allocation (with the
/// default window), hot fields first and a cold tail of at least a cache line,
/// so the next allocation's hot fields never share a line with ours (no false
/// sharing between producers) without over-aligning, which would cost the
/// allocator's alignment slack on every state.
#[repr(C)]
pub(crate) struct ProducerState {
    word: AtomicU64,
    last_append_ms: AtomicI64,
    /// The window slot the next batch goes to (its older slots, newest first,
    /// hold the batches; slots that never held one are empty).
    cursor: AtomicU64,
    /// One appender's right to commit in-sequence batches without a CAS (I12).
    lease: Lease,
    /// Batches the window remembers (its slots beyond this are unused).
    window_len: usize,
    slots: WindowSlots,
    /// Never read: keeps the following allocation's first line clear of ours.
    _cold_tail: [u64; 8],
}

/// An appender's cache of its producer's state on one partition, and whether
/// it holds that state's lease (I12). Dropping it gives the lease up.
pub(crate) struct CachedState {
    state: Option<Arc<ProducerState>>,
    /// We hold `state`'s lease (never without a state).
    leased: bool,
    /// The cache lives across appends, so taking a lease pays off.
    may_lease: bool,
}

impl CachedState {
    /// The cache of an appender that appends many batches (it takes the
    /// lease of the state it caches).
    pub(crate) fn leasing() -> Self {
        Self {
            state: None,
            leased: false,
            may_lease: true,
        }
    }

    /// The cache of one append (it never takes a lease).
    pub(crate) fn one_shot() -> Self {
        Self {
            state: None,
            leased: false,
            may_lease: false,
        }
    }

    /// The cached state, and whether we hold its lease.
    #[inline]
    pub(crate) fn get(&self) -> Option<(&ProducerState, bool)> {
        self.state.as_deref().map(|state| (state, self.leased))
    }

    /// Caches `state` (a fresh lookup) and takes its lease if we may.
    pub(crate) fn set(&mut self, state: Arc<ProducerState>) {
        self.forget();
        self.leased = self.may_lease && state.lease.try_acquire();
        self.state = Some(state);
    }

    /// Forgets a lease that was revoked (for good: leases are granted once).
    pub(crate) fn forget_revoked_lease(&mut self) {
        if let Some(state) = &self.state {
            self.leased &= state.lease.is_held();
        }
    }

    /// Takes the cached state out, giving its lease up.
    pub(crate) fn take(&mut self) -> Option<Arc<ProducerState>> {
        if std::mem::take(&mut self.leased) {
            if let Some(state) = &self.state {
                state.lease.release();
            }
        }
        self.state.take()
    }

    fn forget(&mut self) {
        drop(self.take());
    }
}

impl Drop for CachedState {
    fn drop(&mut self) {
        self.forget();
    }
}

/// How an attempt to begin an idempotent append ended.
pub(crate) enum Begin<'a> {
    /// We won the CAS: commit (or drop to abort) while holding BUSY.
    Exclusive(Claim<'a>),
    /// The batch is a duplicate of one in the window.
    Duplicate(BatchMetadata),
    /// A broker rule rejected the batch.
    Rejected(LogError),
    /// The state was expired and removed: look the producer up again.
    Dead,
}

/// The exclusive right to commit one batch (the BUSY bit is ours).
/// Dropping it without `commit` restores the previous word: nothing changes.
pub(crate) struct Claim<'a> {
    state: &'a ProducerState,
    previous: Word,
    epoch: u16,
    first_sequence: i32,
    last_sequence: i32,
    reset: bool,
    /// Taken under the lease (`begin_leased`): the batch ends by lowering the
    /// lease's `active` flag after the word store (I12).
    leased: bool,
}

impl Claim<'_> {
    /// Records the batch in the window and releases the word with the new state.
    #[inline(always)]
    pub(crate) fn commit(self, base_offset: u64, now_ms: i64) {
        let state = self.state;
        let window = state.window();
        // Relaxed: `cursor` is only touched under BUSY (writers) or inside the
        // seqlock read section (readers), see WindowEntry (I1).
        let next = if self.reset {
            state.clear_window();
            0
        } else {
            state.cursor.load(Ordering::Relaxed) as usize
        };
        window[next].store(&BatchMetadata {
            first_sequence: self.first_sequence,
            last_sequence: self.last_sequence,
            base_offset,
            timestamp_ms: now_ms,
        });
        let after = if next + 1 == window.len() {
            0
        } else {
            next + 1
        };
        state.cursor.store(after as u64, Ordering::Relaxed);
        state.last_append_ms.store(now_ms, Ordering::Relaxed);
        // Release: pairs with the Acquire loads of the word in `begin_*` (next
        // winner and seqlock readers): they see the window and time written above.
        state.word.store(
            self.previous.committed(self.epoch, self.last_sequence).0,
            Ordering::Release,
        );
        if self.leased {
            state.lease.exit();
        }
        // The word is released as committed: the abandoning drop must not run.
        std::mem::forget(self);
    }
}

impl Drop for Claim<'_> {
    /// An abandoned claim (`commit` forgets its claim instead).
    #[inline]
    fn drop(&mut self) {
        // Release: pairs with the Acquire loads in `begin_*`; nothing was written
        // under BUSY, so the previous word describes the state exactly.
        self.state.word.store(self.previous.0, Ordering::Release);
        if self.leased {
            self.state.lease.exit();
        }
    }
}

impl ProducerState {
    /// Fresh state ("no state yet") with a window of `window` batches.
    pub(crate) fn new(window: usize) -> Self {
        Self {
            word: AtomicU64::new(0),
            last_append_ms: AtomicI64::new(0),
            cursor: AtomicU64::new(0),
            lease: Lease::new(),
            window_len: window,
            slots: if window <= INLINE_WINDOW {
                WindowSlots::Inline(std::array::from_fn(|_| WindowEntry::new()))
            } else {
                WindowSlots::Heap((0..window).map(|_| WindowEntry::new()).collect())
            },
            _cold_tail: [0; 8],
        }
    }

    /// Bytes of heap one state takes with a window of `window` batches, as a
    /// malloc-style allocator hands them out (8 bytes of chunk header, 16-byte
    /// granules): the `Arc` block (two counts and the state) and, for windows
    /// longer than the inline one, the window's own block.
    pub(crate) fn footprint(window: usize) -> usize {
        let arc_block = arc_block_bytes::<Self>();
        let heap_window = if window > INLINE_WINDOW {
            heap_block_bytes(
                window * std::mem::size_of::<WindowEntry>(),
                std::mem::align_of::<WindowEntry>(),
            )
        } else {
            0
        };
        (arc_block + heap_window) as usize
    }

    /// The window's slots in use.
    #[inline]
    fn window(&self) -> &[WindowEntry] {
        match &self.slots {
            WindowSlots::Inline(slots) => &slots[..self.window_len],
            WindowSlots::Heap(slots) => slots,
        }
    }

    /// Log-append time of the last batch (LRU order for eviction; a hint).
    pub(crate) fn last_append_ms(&self) -> i64 {
        // Relaxed: only orders eviction candidates; eviction itself is the CAS
        // in `try_expire`, which re-checks the word.
        self.last_append_ms.load(Ordering::Relaxed)
    }

    fn find_in_window(&self, first: i32, last: i32) -> Option<BatchMetadata> {
        // Relaxed: inside the seqlock read section (I1).
        let next = self.cursor.load(Ordering::Relaxed) as usize;
        let window = self.window();
        newest_first(next, window.len())
            .filter_map(|index| window[index].load())
            .find(|batch| batch.first_sequence == first && batch.last_sequence == last)
    }

    /// Empties every window slot (a reset: new epoch, or no state before).
    /// Only under BUSY (I1).
    #[cold]
    fn clear_window(&self) {
        self.window().iter().for_each(WindowEntry::clear);
    }

    #[inline]
    fn is_expired(word: Word, last_append_ms: i64, now_ms: i64, expiration_ms: i64) -> bool {
        word.is_init() && now_ms.saturating_sub(last_append_ms) >= expiration_ms
    }

    /// The steady state of [`begin_judged`](Self::begin_judged): the next
    /// batch in sequence of an idle word, decided from the word and the time
    /// alone and claimed by one CAS (I1). Only once the lease is closed (I12).
    /// `None` leaves every other case, and a lost CAS, to `begin_judged`;
    /// nothing changed.
    #[inline(always)]
    pub(crate) fn begin_in_sequence(
        &self,
        header: &BatchHeader,
        count: u64,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Option<Claim<'_>> {
        let before = self.followed_by(header, now_ms, expiration_ms)?;
        self.try_claim(
            before,
            header.epoch,
            header.base_sequence,
            sequence_add(header.base_sequence, count - 1),
            false,
            false,
        )
    }

    /// The word, if `header`'s batch is the next in sequence of an idle, live
    /// state that has not expired (the steady state's decision, I1).
    #[inline(always)]
    fn followed_by(&self, header: &BatchHeader, now_ms: i64, expiration_ms: i64) -> Option<Word> {
        // Acquire: pairs with the Release stores of the word in `commit` / Claim's
        // drop, so the window and last_append_ms read after it are at least as new.
        let before = Word(self.word.load(Ordering::Acquire));
        // Relaxed: ordered by the Acquire load above, validated by the CAS (I1)
        // or written under our lease (I12).
        let last_append_ms = self.last_append_ms.load(Ordering::Relaxed);
        (before.is_followed_by(header)
            && !Self::is_expired(before, last_append_ms, now_ms, expiration_ms))
        .then_some(before)
    }

    /// `begin_in_sequence` for the lease holder (I12): the same decision, and
    /// the claim by plain stores inside the lease's `active` bracket instead of
    /// a CAS. `None` (the lease is lost, or the batch is not the next in
    /// sequence of an idle word) leaves it to `begin_judged`; nothing changed.
    #[inline(always)]
    pub(crate) fn begin_leased(
        &self,
        header: &BatchHeader,
        count: u64,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Option<Claim<'_>> {
        if !self.lease.enter() {
            return None;
        }
        // No one else writes the word while we hold the lease (I12): it holds
        // our own last store, or the last CAS committer's from before the grant.
        let Some(before) = self.followed_by(header, now_ms, expiration_ms) else {
            self.lease.exit();
            return None;
        };
        self.try_claim(
            before,
            header.epoch,
            header.base_sequence,
            sequence_add(header.base_sequence, count - 1),
            false,
            true,
        )
    }

    /// Whether a caller that does not hold the lease may CAS the word now
    /// (`begin_in_sequence`): only once the lease is closed (I12).
    #[inline]
    pub(crate) fn lease_is_closed(&self) -> bool {
        !self.lease.is_open()
    }

    /// Marks the word BUSY, by a CAS from `before` or, for the lease holder
    /// (`leased`, inside its `active` bracket), by a plain store; on success
    /// the claim of a batch from `first_sequence` to `last_sequence` (I1, I12).
    #[inline(always)]
    fn try_claim(
        &self,
        before: Word,
        epoch: u16,
        first_sequence: i32,
        last_sequence: i32,
        reset: bool,
        leased: bool,
    ) -> Option<Claim<'_>> {
        if leased {
            // Relaxed: no one else writes the word while we hold the lease
            // (I12); `before` came from an Acquire load (`followed_by`).
            self.word.store(before.0 | BUSY, Ordering::Relaxed);
        } else {
            // Acquire on success: pairs with the previous committer's Release
            // store, so our window writes follow its writes. Relaxed on
            // failure: the caller retries from a fresh Acquire load.
            self.word
                .compare_exchange(
                    before.0,
                    before.0 | BUSY,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .ok()?;
        }
        // Release fence: orders the BUSY word before our Relaxed window writes;
        // pairs with the Acquire fence of seqlock readers (I1).
        fence(Ordering::Release);
        Some(Claim {
            state: self,
            previous: before,
            epoch,
            first_sequence,
            last_sequence,
            reset,
            leased,
        })
    }

    /// Begins every batch but the next in sequence of an idle word: the
    /// broker rules (`judge`) over the word and the window. A caller that does
    /// not hold the lease (`holder` false) closes it before it claims the word
    /// (I12), so no holder's plain store can land on the word it changes; a
    /// duplicate or a rejection is a seqlock read and leaves the lease alone.
    #[inline(never)]
    pub(crate) fn begin_judged(
        &self,
        header: &BatchHeader,
        count: u64,
        now_ms: i64,
        expiration_ms: i64,
        holder: bool,
    ) -> Begin<'_> {
        let last_in_batch = sequence_add(header.base_sequence, count - 1);
        let mut backoff = Backoff::new();
        loop {
            // Acquire: as in `begin_in_sequence`.
            let before = Word(self.word.load(Ordering::Acquire));
            if before.is_busy() {
                // Same-pid appends serialise here (I1); other producers never do.
                backoff.snooze();
                continue;
            }
            if before.is_dead() {
                return Begin::Dead;
            }
            // Relaxed: ordered by the Acquire load above and validated by the
            // re-check / CAS below (I1).
            let last_append_ms = self.last_append_ms.load(Ordering::Relaxed);
            let has_state = before.is_init()
                && !Self::is_expired(before, last_append_ms, now_ms, expiration_ms);
            let verdict = judge(
                before.epoch(),
                before.last_sequence(),
                has_state,
                header,
                last_in_batch,
                |first, last| self.find_in_window(first, last),
            );
            match verdict {
                Verdict::Append { reset } => {
                    if !holder && self.lease.is_open() {
                        // We are about to change the word: no holder may store
                        // into it from here on (I12). Closing may wait out a
                        // leased batch, which moves the word: decide afresh.
                        self.lease.close();
                        continue;
                    }
                    match self.try_claim(
                        before,
                        header.epoch,
                        header.base_sequence,
                        last_in_batch,
                        reset,
                        false,
                    ) {
                        Some(claim) => return Begin::Exclusive(claim),
                        None => continue,
                    }
                }
                answer => {
                    // Acquire fence: pairs with the committer's Release fence, so if we
                    // read any window value it wrote, the re-load below sees BUSY or
                    // later and we retry (I1).
                    fence(Ordering::Acquire);
                    let after = Word(self.word.load(Ordering::Relaxed));
                    if after != before {
                        continue;
                    }
                    return match answer {
                        Verdict::Duplicate(original) => Begin::Duplicate(original),
                        Verdict::Reject(error) => Begin::Rejected(error),
                        Verdict::Append { .. } => unreachable!("handled above"),
                    };
                }
            }
        }
    }

    /// Marks the state DEAD if it has been idle for `expiration_ms` (or never
    /// committed); returns whether it did. A DEAD state is never used again (I9).
    pub(crate) fn try_expire(&self, now_ms: i64, expiration_ms: i64) -> bool {
        // Acquire: pairs with the Release store in `commit`, for last_append_ms.
        let word = Word(self.word.load(Ordering::Acquire));
        if word.is_busy() || word.is_dead() {
            return false;
        }
        // Relaxed: validated by the CAS on the word below.
        let last_append_ms = self.last_append_ms.load(Ordering::Relaxed);
        if word.is_init() && !Self::is_expired(word, last_append_ms, now_ms, expiration_ms) {
            return false;
        }
        // Expired as far as we can see: no lease holder may store into the
        // word from here on (I12). Closing waits for a leased batch under way,
        // which may have made the state live again: decide afresh.
        if self.lease.is_open() {
            self.lease.close();
            return self.try_expire(now_ms, expiration_ms);
        }
        // Relaxed: DEAD publishes no data; appenders that see it re-look-up.
        self.word
            .compare_exchange(word.0, word.0 | DEAD, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Marks the state DEAD if no batch was ever committed to it (a first batch
    /// rejected after the state was created); returns whether it did (I9).
    pub(crate) fn try_discard_uncommitted(&self) -> bool {
        // Relaxed: a first look; decided below after the lease is closed.
        if Word(self.word.load(Ordering::Relaxed)).is_init() {
            return false;
        }
        // The caching appender that created the state may hold its lease:
        // close it, so no holder can store from here on (I12).
        self.lease.close();
        // Relaxed: DEAD publishes no data and an uncommitted state holds none.
        let word = Word(self.word.load(Ordering::Relaxed));
        !word.is_init()
            && !word.is_busy()
            && !word.is_dead()
            && self
                .word
                .compare_exchange(word.0, word.0 | DEAD, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// True once `try_expire` succeeded.
    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        // Relaxed: a hint for map clean-up; decisions re-check in `begin_judged`.
        Word(self.word.load(Ordering::Relaxed)).is_dead()
    }

    /// A consistent copy (seqlock read), or `None` if there is no live state.
    pub(crate) fn snapshot(
        &self,
        producer_id: ProducerId,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Option<ProducerStateSnapshot> {
        let mut backoff = Backoff::new();
        loop {
            // Acquire / Acquire fence / Relaxed re-check: the seqlock read (I1).
            let before = Word(self.word.load(Ordering::Acquire));
            if before.is_busy() {
                backoff.snooze();
                continue;
            }
            let last_append_ms = self.last_append_ms.load(Ordering::Relaxed);
            let next = self.cursor.load(Ordering::Relaxed) as usize;
            let slots = self.window();
            let mut window: Vec<BatchMetadata> = newest_first(next, slots.len())
                .filter_map(|index| slots[index].load())
                .collect();
            window.reverse();
            fence(Ordering::Acquire);
            if Word(self.word.load(Ordering::Relaxed)) != before {
                continue;
            }
            if !before.is_init()
                || before.is_dead()
                || Self::is_expired(before, last_append_ms, now_ms, expiration_ms)
            {
                return None;
            }
            return Some(ProducerStateSnapshot {
                producer_id,
                epoch: before.epoch(),
                last_sequence: before.last_sequence(),
                last_append_ms,
                window,
            });
        }
    }
}

#[cfg(all(test, not(all(loom, feature = "loom"))))]
mod tests {
    use super::*;
    use crate::types::tests::header;

    fn append(
        state: &ProducerState,
        epoch: u16,
        base: i32,
        count: u64,
        offset: u64,
    ) -> Result<(u64, bool), LogError> {
        match state.begin_judged(&header(epoch, base), count, 0, i64::MAX, false) {
            Begin::Exclusive(claim) => {
                claim.commit(offset, 0);
                Ok((offset, false))
            }
            Begin::Duplicate(original) => Ok((original.base_offset, true)),
            Begin::Rejected(error) => Err(error),
            Begin::Dead => panic!("not expired"),
        }
    }

    #[test]
    fn word_round_trips_its_fields() {
        let word = Word(0).committed(32767, i32::MAX);
        assert_eq!((word.epoch(), word.last_sequence()), (32767, i32::MAX));
        assert!(word.is_init() && !word.is_busy() && !word.is_dead());
        assert_eq!(word.0 >> GEN_SHIFT, 1);
        assert_eq!(word.committed(0, 0).0 >> GEN_SHIFT, 2);
        // The generation wraps within its bits, leaving the others alone.
        let last = Word(GEN_BITS).committed(3, 9);
        assert_eq!(
            (last.0 >> GEN_SHIFT, last.epoch(), last.last_sequence()),
            (0, 3, 9)
        );
        assert!(last.is_init() && !last.is_busy() && !last.is_dead());
    }

    #[test]
    fn the_in_sequence_check_agrees_with_judge() {
        // Every combination of flags, epochs and sequences near the edges: the
        // word-only check says "append" exactly when the word is idle, live and
        // initialised and `judge` says Append { reset: false }, except for the
        // wrap from i32::MAX to 0, which it leaves to `judge`.
        let epochs = [
            0,
            1,
            2,
            crate::types::MAX_EPOCH - 1,
            crate::types::MAX_EPOCH,
        ];
        let sequences = [0, 1, 2, 3, i32::MAX - 2, i32::MAX - 1, i32::MAX];
        let mut agreed = 0;
        for flags in 0..8u64 {
            let (init, busy, dead) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
            for &epoch in &epochs {
                for &last in &sequences {
                    let mut word = Word(GEN_BITS).committed(epoch, last);
                    word.0 &= !INIT;
                    word.0 |= [(init, INIT), (busy, BUSY), (dead, DEAD)]
                        .iter()
                        .filter(|(set, _)| *set)
                        .fold(0, |bits, (_, bit)| bits | bit);
                    for &batch_epoch in &epochs {
                        for &base in &sequences {
                            let batch = header(batch_epoch, base);
                            let verdict = judge(epoch, last, true, &batch, base, |_, _| None);
                            let appends_in_sequence = init
                                && !busy
                                && !dead
                                && verdict == Verdict::Append { reset: false };
                            let wraps = base == 0;
                            assert_eq!(
                                word.is_followed_by(&batch),
                                appends_in_sequence && !wraps,
                                "flags {flags:03b} epoch {epoch} last {last}, batch {batch_epoch}/{base}"
                            );
                            agreed += usize::from(appends_in_sequence && !wraps);
                        }
                    }
                }
            }
        }
        // Per epoch, one in-sequence batch for each `last` whose successor is
        // in the list (all but 3 and, the wrap, i32::MAX): the check was not
        // vacuous.
        assert_eq!(agreed, epochs.len() * 5);
    }

    #[test]
    fn hot_fields_lead_and_a_cold_line_follows() {
        // The state word first, and at least a cache line of never-written tail
        // after the window: the next allocation's hot fields start on a later
        // line than our last hot byte (no false sharing between producers).
        assert_eq!(std::mem::offset_of!(ProducerState, word), 0);
        let cold =
            std::mem::size_of::<ProducerState>() - std::mem::offset_of!(ProducerState, _cold_tail);
        assert!(cold >= 64, "{cold}");
        // One allocation per state with the default window.
        assert_eq!(
            ProducerState::footprint(5),
            (16 + std::mem::size_of::<ProducerState>() + 8).next_multiple_of(16)
        );
    }

    #[test]
    fn rejected_and_duplicate_batches_change_nothing() {
        let state = ProducerState::new(5);
        assert_eq!(append(&state, 0, 0, 3, 0), Ok((0, false)));
        let before = state.snapshot(ProducerId(1), 0, i64::MAX);
        assert_eq!(append(&state, 0, 0, 3, 99), Ok((0, true)));
        assert!(append(&state, 0, 9, 1, 99).is_err());
        assert_eq!(state.snapshot(ProducerId(1), 0, i64::MAX), before);
    }

    #[test]
    fn a_leased_claim_commits_as_a_cas_one_does_until_the_lease_is_closed() {
        let state = ProducerState::new(5);
        if !state.lease.try_acquire() {
            // No heavy fence here (Miri, non-Linux): leases are never granted.
            return;
        }
        match state.begin_judged(&header(0, 0), 1, 0, i64::MAX, true) {
            Begin::Exclusive(claim) => claim.commit(0, 0),
            _ => panic!("the first batch is appended"),
        }
        let claim = state
            .begin_leased(&header(0, 1), 2, 5, i64::MAX)
            .expect("the next batch in sequence, leased");
        claim.commit(1, 5);
        assert!(
            state.begin_leased(&header(0, 5), 1, 5, i64::MAX).is_none(),
            "a gap is left to judge"
        );
        assert!(
            state.begin_leased(&header(0, 1), 2, 5, i64::MAX).is_none(),
            "a duplicate is left to judge"
        );
        let snapshot = state.snapshot(ProducerId(1), 5, i64::MAX).expect("live");
        assert_eq!(snapshot.last_sequence, 2);
        assert_eq!(
            snapshot
                .window
                .iter()
                .map(|b| b.base_offset)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
        // A copy from someone else that is a duplicate is a seqlock read: the
        // lease stays with its holder.
        match state.begin_judged(&header(0, 1), 2, 5, i64::MAX, false) {
            Begin::Duplicate(original) => assert_eq!(original.base_offset, 1),
            _ => panic!("a duplicate"),
        }
        assert!(state.lease.is_held(), "a duplicate answer revokes nothing");
        // Anyone else closes the lease before changing the word: the holder is
        // told at its next batch, and the CAS protocol takes over.
        state.lease.close();
        assert!(state.begin_leased(&header(0, 3), 1, 5, i64::MAX).is_none());
        assert_eq!(append(&state, 0, 3, 1, 3), Ok((3, false)));
        assert_eq!(append(&state, 0, 1, 2, 99), Ok((1, true)));
    }

    #[test]
    fn dropped_claim_restores_the_word() {
        let state = ProducerState::new(5);
        match state.begin_judged(&header(0, 0), 1, 0, i64::MAX, false) {
            Begin::Exclusive(claim) => drop(claim),
            _ => panic!("first batch is appended"),
        }
        assert!(state.snapshot(ProducerId(1), 0, i64::MAX).is_none());
        assert_eq!(append(&state, 0, 4, 1, 0), Ok((0, false)), "still no state");
    }

    #[test]
    fn expiry_marks_dead_only_after_the_idle_time() {
        let state = ProducerState::new(5);
        match state.begin_judged(&header(0, 0), 1, 1_000, 100, false) {
            Begin::Exclusive(claim) => claim.commit(0, 1_000),
            _ => panic!("appended"),
        }
        assert!(!state.try_expire(1_099, 100));
        assert!(state.try_expire(1_100, 100));
        assert!(state.is_dead());
        assert!(matches!(
            state.begin_judged(&header(0, 1), 1, 1_100, 100, false),
            Begin::Dead
        ));
    }
}
