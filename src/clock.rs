//! The engine's clock. Timestamps, producer-state expiry and age retention all
//! read it, so tests hand the log a [`ManualClock`] and never sleep.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ticker;

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The default clock: wall-clock milliseconds, read from a process-wide value
/// that a background thread (`idemlog-clock`) refreshes every millisecond
/// while something uses it: a [`Log`](crate::Log) on this clock (as long as
/// the log or a handle on it lives) or a real-time producer. Reading it is one
/// relaxed load instead of a `clock_gettime` call (~20 ns), which matters on a
/// ~10 ns append path; the price is up to a couple of milliseconds of lag
/// (more if the thread is not scheduled). With no such user alive there is no
/// thread (it exits a millisecond or two after the last user goes) and
/// `now_ms` reads the exact [`SystemClock`] instead, so a caller with no log
/// alive still gets the current time. Use [`SystemClock`] for exact time.
///
/// While the thread runs the clock never moves back: if the system clock
/// steps back (NTP, a VM resumed from a snapshot), it holds its latest value
/// until the system clock passes it again, so a log's append times never
/// decrease (age retention, producer-state expiry and the producer-state cap's
/// least-recently-used order read them). With no thread it reads
/// [`SystemClock`] as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct CoarseClock;

impl Clock for CoarseClock {
    #[inline]
    fn now_ms(&self) -> i64 {
        ticker::wall_ms().unwrap_or_else(|| SystemClock.now_ms())
    }
}

/// The clock a log reads on its append path: the default [`CoarseClock`] read
/// directly (no dynamic call), or the user's clock.
#[derive(Clone, Debug)]
pub(crate) enum EngineClock {
    Coarse,
    Custom(Arc<dyn Clock>),
}

impl Clock for EngineClock {
    #[inline]
    fn now_ms(&self) -> i64 {
        match self {
            Self::Coarse => CoarseClock.now_ms(),
            Self::Custom(clock) => clock.now_ms(),
        }
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// ```
/// use idemlog::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance_ms(500);
/// assert_eq!(clock.now_ms(), 1_500);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    // Only ever read for its own value: no other data is published through it,
    // so Relaxed suffices on both sides (advance_ms / now_ms).
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start_ms)),
        }
    }

    /// Moves the clock forward (or backward, with a negative delta),
    /// saturating at `i64::MAX` and `i64::MIN` (it never wraps around).
    ///
    /// ```
    /// use idemlog::ManualClock;
    /// let clock = ManualClock::new(i64::MAX - 1);
    /// clock.advance_ms(10);
    /// assert_eq!(idemlog::Clock::now_ms(&clock), i64::MAX);
    /// ```
    pub fn advance_ms(&self, delta_ms: i64) {
        // Relaxed: as for every access to `now` (see the field).
        let _previous = self
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(delta_ms))
            });
    }

    /// Sets the clock.
    pub fn set_ms(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::Relaxed)
    }
}
