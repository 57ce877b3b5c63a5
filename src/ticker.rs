//! The process-wide coarse-time ticker: one background thread (`idemlog-clock`)
//! that every millisecond stores the wall-clock milliseconds that
//! [`CoarseClock`](crate::CoarseClock) reads and the monotonic nanoseconds that
//! the producer's record stamps read, so neither pays a clock call per append.
//!
//! It runs only while someone holds a [`TickerLease`]: every `Log` on the
//! default clock (in its shared state, so as long as the log or a handle on
//! it lives) and every real-time producer. It exits at its first tick after the
//! last lease goes (within a tick or two), and the next lease starts a new one,
//! so an idle process has no ticking thread. Readers need no lease: while no
//! ticker runs the cached values are sentinels and the readers fall back to the
//! exact clock.
//!
//! The lease count, the `running` flag and every store that starts or stops the
//! ticker's values sit under one mutex. It is taken when a lease is made or
//! dropped (cold) and once per tick by the ticker (uncontended), never by a
//! reader. Under it the 0 -> 1 race while a ticker exits is decided one way or
//! the other: either the ticker has not checked the count yet, so the new lease
//! finds it `running` and it keeps ticking, or it has seen 0, cleared `running`
//! and stored the sentinels, so the new lease starts a new ticker. A restart is
//! never lost, and two tickers never store: the old one stores nothing after
//! it has released the lock. A lock-free count (a `running` CAS, a generation)
//! would save nothing that matters here and need its own argument for each of
//! those interleavings.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::sync::spawn_background;

/// The one ticker of the process.
static TICKER: Ticker = Ticker::new();

/// Keeps the ticker running while held; cheap to hold, a lock to make or drop.
#[derive(Debug)]
pub(crate) struct TickerLease {
    ticker: &'static Ticker,
}

impl TickerLease {
    /// A lease on the process's ticker, starting it if it does not run.
    pub(crate) fn acquire() -> Self {
        TICKER.lease()
    }
}

impl Drop for TickerLease {
    fn drop(&mut self) {
        self.ticker.lock().release();
    }
}

/// Wall-clock milliseconds as of the last tick; `None` while no ticker runs.
#[inline]
pub(crate) fn wall_ms() -> Option<i64> {
    TICKER.wall_ms()
}

/// The monotonic instant of the last tick; `None` while no ticker runs.
#[inline]
pub(crate) fn instant() -> Option<Instant> {
    TICKER.instant()
}

/// `Ticker::wall_ms` while no ticker runs.
const NO_MS: i64 = i64::MIN;
/// `Ticker::mono_ns` while no ticker runs (a tick stores at least 1).
const NO_NS: u64 = 0;

#[derive(Debug)]
struct Ticker {
    /// Wall-clock milliseconds at the last tick, or [`NO_MS`]. Never less
    /// than an earlier tick's, whatever the system clock does (`latest_ms`).
    wall_ms: AtomicI64,
    /// The latest wall-clock milliseconds any tick stored, kept across stops
    /// and restarts (only ever touched under `leases`, so a plain maximum).
    latest_ms: AtomicI64,
    /// Nanoseconds from `base` to the last tick, or [`NO_NS`].
    mono_ns: AtomicU64,
    /// The origin of `mono_ns`, set at the first start.
    base: OnceLock<Instant>,
    leases: Mutex<Leases>,
}

impl Ticker {
    const TICK: Duration = Duration::from_millis(1);

    const fn new() -> Self {
        Self {
            wall_ms: AtomicI64::new(NO_MS),
            latest_ms: AtomicI64::new(NO_MS),
            mono_ns: AtomicU64::new(NO_NS),
            base: OnceLock::new(),
            leases: Mutex::new(Leases::IDLE),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Leases> {
        // Nothing panics under this lock, so a poisoned one is still consistent.
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lease(&'static self) -> TickerLease {
        let mut leases = self.lock();
        if leases.acquire() && !self.start() {
            leases.not_started();
        }
        TickerLease { ticker: self }
    }

    /// Spawns the ticker thread and stores the first values (under the lock);
    /// false if there is none: never under Miri (no threads, and its isolation
    /// forbids the clock) nor under loom (`spawn_background` spawns nothing),
    /// or if the spawn fails. Without a ticker the values stay sentinels.
    fn start(&'static self) -> bool {
        if cfg!(miri) || !spawn_background("idemlog-clock".to_string(), move || self.run()) {
            return false;
        }
        // The new thread stores only once it has this lock, so these come first.
        self.refresh();
        true
    }

    /// The ticker thread: a tick per millisecond until no lease is held.
    fn run(&self) {
        loop {
            std::thread::sleep(Self::TICK);
            let mut leases = self.lock();
            if !leases.keep_ticking() {
                self.clear();
                return;
            }
            self.refresh();
        }
    }

    /// Stores the current times (the lock held).
    fn refresh(&self) {
        let base = *self.base.get_or_init(Instant::now);
        let ns = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Relaxed, both: plain timestamps read by the Relaxed loads of `wall_ms`
        // and `instant`; no other data travels with them. Their order against
        // `clear`'s stores is the lock's (all are made under it), so a stopping
        // ticker's sentinels never land after a restart's values.
        self.wall_ms
            .store(self.monotone_ms(SystemClock.now_ms()), Ordering::Relaxed);
        self.mono_ns.store(ns.max(1), Ordering::Relaxed);
    }

    /// `system_ms`, or the latest tick's time if the system clock stepped back
    /// below it (NTP, a VM resumed from a snapshot): the coarse clock then
    /// holds still until the system clock passes it again, so log-append
    /// times never decrease, and neither do the producer states' last-append
    /// times that LRU eviction orders them by (a step back made every state
    /// appended since look older than the idle ones). Under the lock.
    fn monotone_ms(&self, system_ms: i64) -> i64 {
        // Relaxed, both: only the ticker, under `leases`, touches `latest_ms`;
        // the lock orders one tick's accesses before the next's.
        let ms = system_ms.max(self.latest_ms.load(Ordering::Relaxed));
        self.latest_ms.store(ms, Ordering::Relaxed);
        ms
    }

    /// Stores the sentinels, sending readers to the exact clock (the lock held).
    fn clear(&self) {
        // Relaxed: as in `refresh`, against the same loads.
        self.wall_ms.store(NO_MS, Ordering::Relaxed);
        self.mono_ns.store(NO_NS, Ordering::Relaxed);
    }

    #[inline]
    fn wall_ms(&self) -> Option<i64> {
        // Relaxed: pairs with the stores of `refresh` and `clear`; any recent
        // value will do. A reader under a lease (a log's append) never reads
        // the sentinel: the lease was taken under the lock after the last
        // `clear` and with a `refresh` stored, the read happens after that
        // (same thread, or whatever handed over the lease's holder) and before
        // the lease is dropped, and the next `clear` comes only after that
        // drop; coherence keeps the load between the two.
        let ms = self.wall_ms.load(Ordering::Relaxed);
        (ms != NO_MS).then_some(ms)
    }

    fn instant(&self) -> Option<Instant> {
        // Relaxed: as in `wall_ms`, against the same stores.
        let ns = self.mono_ns.load(Ordering::Relaxed);
        if ns == NO_NS {
            return None;
        }
        // The Relaxed load does not order `base` before it: if `base` is not
        // yet visible here, read the exact clock like the sentinel does.
        Some(*self.base.get()? + Duration::from_nanos(ns))
    }
}

/// Who holds the ticker and whether a ticker thread runs; every change is
/// made under [`Ticker::leases`].
#[derive(Debug, PartialEq, Eq)]
struct Leases {
    held: usize,
    running: bool,
}

impl Leases {
    const IDLE: Self = Self {
        held: 0,
        running: false,
    };

    /// One more lease; true if the caller must start a ticker (none runs).
    fn acquire(&mut self) -> bool {
        self.held += 1;
        !std::mem::replace(&mut self.running, true)
    }

    /// One lease fewer; a running ticker sees it at its next tick.
    fn release(&mut self) {
        self.held -= 1;
    }

    /// The start failed: the next lease tries again.
    fn not_started(&mut self) {
        self.running = false;
    }

    /// The ticker's check at every tick: true to tick on, false (and no
    /// longer `running`) to exit because no lease is held.
    fn keep_ticking(&mut self) -> bool {
        self.running = self.held > 0;
        self.running
    }
}

#[cfg(test)]
#[path = "../tests/common/eventually.rs"]
mod eventually;

#[cfg(test)]
mod tests {
    use super::eventually::eventually;
    use super::*;

    /// The 0 -> 1 -> 0 -> 1 race, in both orders against the ticker's check:
    /// never a lost restart, never a second ticker.
    #[test]
    fn a_lease_racing_the_last_ones_release_keeps_or_restarts_the_ticker() {
        let mut leases = Leases::IDLE;
        assert!(leases.acquire(), "the first lease starts the ticker");
        leases.release();
        // A lease taken before the ticker's next check: it ticks on.
        assert!(!leases.acquire(), "a running ticker is never started twice");
        assert!(leases.keep_ticking());
        leases.release();
        // The ticker sees no lease and exits; the next lease starts a new one.
        assert!(!leases.keep_ticking());
        assert!(leases.acquire(), "a restart is never lost");
        assert!(leases.keep_ticking());
        // Two leases, one released: the ticker still runs for the other.
        assert!(!leases.acquire());
        leases.release();
        assert!(leases.keep_ticking());
        leases.release();
        assert!(!leases.keep_ticking());
        assert_eq!(leases, Leases::IDLE);
    }

    /// The coarse clock never moves back: a system clock stepped back is
    /// held at the latest time until it passes it, across a restart too.
    #[test]
    fn the_coarse_wall_time_never_steps_back() {
        let ticker = Ticker::new();
        let _held = ticker.lock();
        assert_eq!(ticker.monotone_ms(1_000_000), 1_000_000);
        assert_eq!(ticker.monotone_ms(5), 1_000_000, "a step back is held");
        ticker.clear();
        assert_eq!(ticker.monotone_ms(999_999), 1_000_000, "across a restart");
        assert_eq!(ticker.monotone_ms(1_000_001), 1_000_001, "then it moves on");
    }

    #[test]
    fn a_failed_start_is_retried_by_the_next_lease() {
        let mut leases = Leases::IDLE;
        assert!(leases.acquire());
        leases.not_started();
        assert!(leases.acquire(), "the second lease tries again");
        assert_eq!(leases.held, 2);
    }

    /// A private ticker (the process's one is shared with every other test):
    /// it runs and ticks while leased, stops once the leases are gone, and
    /// starts again with the next lease.
    #[test]
    #[cfg_attr(miri, ignore = "no ticker thread under Miri")]
    fn a_ticker_runs_while_leased_and_restarts_after_stopping() {
        let ticker: &'static Ticker = Box::leak(Box::new(Ticker::new()));
        assert_eq!((ticker.wall_ms(), ticker.instant()), (None, None));
        for _round in 0..2 {
            let before = SystemClock.now_ms();
            let lease = ticker.lease();
            let second = ticker.lease();
            assert!(ticker.lock().running);
            let first = ticker.wall_ms().expect("a value from the start");
            assert!(first >= before && first <= SystemClock.now_ms());
            assert!(ticker.instant().expect("a value from the start") <= Instant::now());
            assert!(eventually(|| ticker.wall_ms() > Some(first)), "it ticks");
            drop(lease);
            std::thread::sleep(Duration::from_millis(5));
            assert!(ticker.lock().running, "a lease is still held");
            drop(second);
            assert!(eventually(|| !ticker.lock().running), "it stops");
            assert_eq!((ticker.wall_ms(), ticker.instant()), (None, None));
        }
    }
}
