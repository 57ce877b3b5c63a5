//! The sync facade: the ONE place that chooses between the production primitives
//! (std atomics, parking_lot, dashmap, crossbeam-epoch) and loom's model-checked ones.
//!
//! Everything else in the crate imports from here, so call sites carry no `cfg`.
//! The loom side is selected by `RUSTFLAGS="--cfg loom"` together with the `loom`
//! feature (see loom-tests/README.md).
//!
//! Memory reclamation is the one place where the two sides differ in behaviour:
//! in production, retired segments are freed by crossbeam-epoch once no pinned
//! reader can still hold them; under loom (which cannot model crossbeam-epoch's
//! global collector) retired memory is leaked, which is trivially safe, and the
//! models check the unlink protocol (invariants I7 and I8 in `implementation.rs`)
//! rather than the collector.

#[cfg(not(all(loom, feature = "loom")))]
mod imp {
    pub(crate) use portable_atomic::AtomicU128;
    pub(crate) use std::hint::spin_loop;
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread::{yield_now, JoinHandle};

    use std::hash::Hash;
    use std::time::Duration;

    /// `len` atomic words, all zero, from a zeroed allocation: pages the words
    /// never touch are never made resident (a segment's commit array is sized for
    /// its smallest possible batches and mostly unused by larger ones).
    pub(crate) fn zeroed_words(len: usize) -> Box<[AtomicU64]> {
        if len == 0 {
            return Box::new([]);
        }
        let layout = std::alloc::Layout::array::<AtomicU64>(len).expect("a small array");
        // SAFETY: `layout` has a non-zero size (len > 0).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<AtomicU64>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `ptr` is a fresh allocation of `len` AtomicU64s with the global
        // allocator and the array layout Box<[AtomicU64]> frees with; all-zero
        // bytes are a valid AtomicU64 (0).
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }
    }

    /// Spawns a detached background thread (the log's housekeeper, the clock
    /// ticker); returns whether it runs.
    pub(crate) fn spawn_background(name: String, body: impl FnOnce() + Send + 'static) -> bool {
        std::thread::Builder::new().name(name).spawn(body).is_ok()
    }

    /// Spawns a named thread (the producer's flusher).
    pub(crate) fn spawn_named<F>(name: String, body: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        std::thread::Builder::new().name(name).spawn(body)
    }

    /// A mutex for slow paths only (never the append path).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

    /// The guard of [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(parking_lot::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock()
        }
    }

    /// A condition variable paired with [`Mutex`].
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(parking_lot::Condvar::new())
        }

        /// Waits for a notification or `timeout`, whichever comes first.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> MutexGuard<'a, T> {
            let _timed_out = self.0.wait_for(&mut guard, timeout);
            guard
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    /// A concurrent hash map (dashmap) holding cheaply clonable values.
    #[derive(Debug)]
    pub(crate) struct ConcurrentMap<K: Eq + Hash, V>(dashmap::DashMap<K, V>);

    impl<K: Eq + Hash + Clone, V: Clone> ConcurrentMap<K, V> {
        pub(crate) fn new() -> Self {
            Self(dashmap::DashMap::new())
        }

        /// An empty map of `shards` shards (a power of two, at least 2), instead
        /// of dashmap's default of four per CPU.
        pub(crate) fn with_shards(shards: usize) -> Self {
            Self(dashmap::DashMap::with_shard_amount(shards))
        }

        /// The layout of the block an empty map of `shards` shards allocates:
        /// its shard array, each shard a cache-padded lock word and table header.
        pub(crate) fn shards_layout(shards: usize) -> std::alloc::Layout {
            std::alloc::Layout::array::<
                crossbeam::utils::CachePadded<(usize, std::collections::HashMap<K, V>)>,
            >(shards)
            .expect("a small shard count")
        }

        pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
        where
            K: std::borrow::Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            self.0.get(key).map(|entry| entry.value().clone())
        }

        /// Inserts `value` unless `key` is present; returns whether it inserted.
        pub(crate) fn insert_if_absent(&self, key: K, value: V) -> bool {
            match self.0.entry(key) {
                dashmap::mapref::entry::Entry::Occupied(_) => false,
                dashmap::mapref::entry::Entry::Vacant(vacant) => {
                    vacant.insert(value);
                    true
                }
            }
        }

        /// Removes `key` if `pred` holds for its value; returns whether it removed.
        pub(crate) fn remove_if(&self, key: &K, pred: impl FnOnce(&V) -> bool) -> bool {
            self.0.remove_if(key, |_, value| pred(value)).is_some()
        }

        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }

        /// A snapshot of the entries (slow path: reporting and sweeps).
        pub(crate) fn snapshot(&self) -> Vec<(K, V)> {
            self.0
                .iter()
                .map(|entry| (entry.key().clone(), entry.value().clone()))
                .collect()
        }

        /// Calls `visit` for every entry, holding each shard's read lock while it
        /// visits that shard's entries (slow path: sweeps; `visit` must not touch
        /// the map).
        pub(crate) fn for_each(&self, mut visit: impl FnMut(&K, &V)) {
            self.0
                .iter()
                .for_each(|entry| visit(entry.key(), entry.value()));
        }

        /// Bytes the map's tables take: every bucket slot (key and value) plus a
        /// control byte each, at the tables' current capacity.
        pub(crate) fn table_bytes(&self) -> usize {
            // hashbrown keeps at most 7/8 of its buckets full.
            self.0.capacity() * 8 / 7 * (std::mem::size_of::<(K, V)>() + 1)
        }
    }

    /// A reader's protection against reclamation: while a `Guard` lives, no memory
    /// retired after it was taken is freed.
    pub(crate) struct Guard(crossbeam::epoch::Guard);

    /// Pins the current thread (crossbeam-epoch).
    pub(crate) fn pin() -> Guard {
        Guard(crossbeam::epoch::pin())
    }

    impl Guard {
        /// Pushes this thread's deferred work to the collector and tries to
        /// advance the epoch and run what is due.
        pub(crate) fn flush(&self) {
            self.0.flush();
        }

        /// Runs `dispose` once every guard alive now is gone.
        pub(crate) fn defer(&self, dispose: impl FnOnce() + Send + 'static) {
            self.0.defer(dispose);
        }
    }

    /// An unbounded lock-free MPMC queue (crossbeam's `SegQueue`): the producer's
    /// pool of record areas and its pending flushes, and the log's pool of
    /// recycled segments.
    #[derive(Debug, Default)]
    pub(crate) struct SegQueue<T>(crossbeam::queue::SegQueue<T>);

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            Self(crossbeam::queue::SegQueue::new())
        }

        pub(crate) fn push(&self, value: T) {
            self.0.push(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.pop()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }
}

#[cfg(all(loom, feature = "loom"))]
mod imp {
    pub(crate) use loom::hint::spin_loop;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread::{yield_now, JoinHandle};

    use std::collections::HashMap;

    /// `len` atomic words, all zero.
    pub(crate) fn zeroed_words(len: usize) -> Box<[AtomicU64]> {
        (0..len).map(|_| AtomicU64::new(0)).collect()
    }

    /// loom has no 128-bit atomic: the partition tail is modelled as a word behind
    /// a loom mutex. Every operation is then linearisable with acquire and release
    /// edges, as the real `cmpxchg16b` is; loom explores the interleavings of the
    /// tail operations, but cannot weaken their orderings (the tail's Acquire and
    /// AcqRel are argued in `implementation.rs`, I2 and I6).
    #[derive(Debug)]
    pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(value: u128) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        fn word(&self) -> loom::sync::MutexGuard<'_, u128> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn load(&self, _order: Ordering) -> u128 {
            *self.word()
        }

        pub(crate) fn store(&self, value: u128, _order: Ordering) {
            *self.word() = value;
        }

        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _success: Ordering,
            _failure: Ordering,
        ) -> Result<u128, u128> {
            let mut word = self.word();
            if *word == current {
                *word = new;
                Ok(current)
            } else {
                Err(*word)
            }
        }

        pub(crate) fn fetch_or(&self, bits: u128, _order: Ordering) -> u128 {
            let mut word = self.word();
            let previous = *word;
            *word |= bits;
            previous
        }
    }
    use std::hash::Hash;
    use std::time::Duration;

    /// Under loom there are no background threads (a model would have to join
    /// them): the housekeeper does not run, and the models call the sweeps;
    /// no clock ticker runs, so the coarse clock reads the exact one.
    pub(crate) fn spawn_background(_name: String, _body: impl FnOnce() + Send + 'static) -> bool {
        false
    }

    /// Spawns a (loom) thread; the name is ignored by loom.
    pub(crate) fn spawn_named<F>(_name: String, body: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        Ok(loom::thread::spawn(body))
    }

    /// A mutex for slow paths only.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    /// A condition variable paired with [`Mutex`]. Under loom a timed wait is an
    /// untimed wait, so a lost wake-up shows up as a deadlock.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> MutexGuard<'a, T> {
            match self.0.wait_timeout(guard, timeout) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            }
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }

    /// The concurrent map, modelled as a loom mutex around a HashMap.
    #[derive(Debug)]
    pub(crate) struct ConcurrentMap<K, V>(loom::sync::Mutex<HashMap<K, V>>);

    impl<K: Eq + Hash + Clone, V: Clone> ConcurrentMap<K, V> {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Mutex::new(HashMap::new()))
        }

        /// One mutex under loom, whatever the shard count.
        pub(crate) fn with_shards(_shards: usize) -> Self {
            Self::new()
        }

        /// Under loom the map allocates nothing until an insert.
        pub(crate) fn shards_layout(_shards: usize) -> std::alloc::Layout {
            std::alloc::Layout::new::<()>()
        }

        fn map(&self) -> loom::sync::MutexGuard<'_, HashMap<K, V>> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
        where
            K: std::borrow::Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            self.map().get(key).cloned()
        }

        pub(crate) fn insert_if_absent(&self, key: K, value: V) -> bool {
            let mut map = self.map();
            if map.contains_key(&key) {
                return false;
            }
            map.insert(key, value);
            true
        }

        pub(crate) fn remove_if(&self, key: &K, pred: impl FnOnce(&V) -> bool) -> bool {
            let mut map = self.map();
            match map.get(key) {
                Some(value) if pred(value) => {
                    map.remove(key);
                    true
                }
                _ => false,
            }
        }

        pub(crate) fn len(&self) -> usize {
            self.map().len()
        }

        pub(crate) fn snapshot(&self) -> Vec<(K, V)> {
            self.map()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }

        pub(crate) fn for_each(&self, mut visit: impl FnMut(&K, &V)) {
            self.map().iter().for_each(|(k, v)| visit(k, v));
        }

        pub(crate) fn table_bytes(&self) -> usize {
            self.map().capacity() * (std::mem::size_of::<(K, V)>() + 1)
        }
    }

    /// The producer's per-partition queue, modelled as a loom mutex around a
    /// `VecDeque` (loom cannot see inside crossbeam's `SegQueue`).
    #[derive(Debug)]
    pub(crate) struct SegQueue<T>(loom::sync::Mutex<std::collections::VecDeque<T>>);

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Mutex::new(std::collections::VecDeque::new()))
        }

        fn queue(&self) -> loom::sync::MutexGuard<'_, std::collections::VecDeque<T>> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn push(&self, value: T) {
            self.queue().push_back(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.queue().pop_front()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.queue().is_empty()
        }
    }

    /// Under loom, a guard protects nothing because nothing is ever freed early.
    pub(crate) struct Guard;

    pub(crate) fn pin() -> Guard {
        Guard
    }

    /// Unpins: nothing to do under loom. The impl gives the guard the real one's
    /// drop glue (crossbeam's `Guard` unpins in its `Drop`), so code that ends a
    /// pin early with `drop(guard)` (`storage.rs`) means the same on both sides
    /// and type-checks and lints the same (clippy's `drop_non_drop` denies a
    /// `drop` of a type with no drop glue).
    impl Drop for Guard {
        fn drop(&mut self) {}
    }

    impl Guard {
        /// Nothing to flush: nothing is deferred.
        pub(crate) fn flush(&self) {}

        /// Never runs `dispose`: loom cannot model the epoch collector, and
        /// leaking is safe.
        pub(crate) fn defer(&self, dispose: impl FnOnce() + Send + 'static) {
            std::mem::forget(dispose);
        }
    }
}

pub(crate) use imp::*;

/// Waits on `cv` (with `guard` held) until `done` holds or `deadline` passes
/// (`None`: no deadline), re-checking at least every `poll`; true if `done`.
/// Callers' notifiers change what `done` reads under the same mutex and then
/// notify `cv`, so no notification is lost between a check and the wait.
pub(crate) fn wait_until<T>(
    cv: &Condvar,
    mut guard: MutexGuard<'_, T>,
    deadline: Option<std::time::Instant>,
    poll: std::time::Duration,
    mut done: impl FnMut(&T) -> bool,
) -> bool {
    while !done(&guard) {
        let left = deadline.map_or(poll, |deadline| {
            deadline.saturating_duration_since(std::time::Instant::now())
        });
        if left.is_zero() {
            return false;
        }
        guard = cv.wait_timeout(guard, left.min(poll));
    }
    true
}

/// Spins politely: a CPU hint first, then yielding the time slice (under loom,
/// every spin yields so the model checker can schedule the thread we wait for).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    const SPIN_LIMIT: u32 = 6;
    /// Snoozes before a waiter should park instead (crossbeam's `is_completed`):
    /// the spins, then a few yields.
    #[cfg(not(all(loom, feature = "loom")))]
    const PARK_AFTER: u32 = Self::SPIN_LIMIT + 2;

    pub(crate) fn new() -> Self {
        Self { step: 0 }
    }

    /// Whether a waiter has spun and yielded long enough: park (and make the
    /// other side pay a wake-up) only after this, so a consumer that is just
    /// behind its producers catches up without a sleep.
    #[cfg(not(all(loom, feature = "loom")))]
    pub(crate) fn should_park(&self) -> bool {
        self.step >= Self::PARK_AFTER
    }

    /// Under loom, at once (no snooze first): a model checks the parking
    /// protocol, and extra polls before it only multiply its executions.
    #[cfg(all(loom, feature = "loom"))]
    pub(crate) fn should_park(&self) -> bool {
        true
    }

    /// Waits a little longer each call.
    pub(crate) fn snooze(&mut self) {
        if cfg!(all(loom, feature = "loom")) || self.step > Self::SPIN_LIMIT {
            yield_now();
        } else {
            for _ in 0..(1u32 << self.step) {
                spin_loop();
            }
        }
        self.step = self.step.saturating_add(1);
    }
}
