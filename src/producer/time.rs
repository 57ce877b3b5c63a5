//! The producer's clock: real time, or virtual time that the flusher moves itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use crate::clock::{Clock, ManualClock};

/// The coarse monotonic clock behind [`TimeSource::stamp_ms`]: nanoseconds
/// since [`COARSE_BASE`], refreshed every millisecond by one process-wide
/// ticker thread (`idemlog-producer-clock`, started on first use); 0 until the
/// ticker runs (then [`TimeSource::stamp_ms`] reads the exact clock).
static COARSE_NS: AtomicU64 = AtomicU64::new(0);
static COARSE_BASE: OnceLock<Instant> = OnceLock::new();
static COARSE_TICKER: Once = Once::new();

/// Now, up to a tick (plus scheduling delay) in the past; `None` without a ticker.
fn coarse_now() -> Option<Instant> {
    if cfg!(miri) {
        return None;
    }
    COARSE_TICKER.call_once(|| {
        let base = *COARSE_BASE.get_or_init(Instant::now);
        let tick = move || {
            let ns = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            // Relaxed: a plain timestamp; no other data travels with it (pairs
            // with the load below, which only needs some recent value).
            COARSE_NS.store(ns.max(1), Ordering::Relaxed);
        };
        tick();
        let spawned = std::thread::Builder::new()
            .name("idemlog-producer-clock".to_string())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(1));
                tick();
            });
        if spawned.is_err() {
            // Relaxed: as above; 0 sends every reader to the exact clock.
            COARSE_NS.store(0, Ordering::Relaxed);
        }
    });
    // Relaxed: pairs with the ticker's store (a timestamp, publishes nothing).
    let ns = COARSE_NS.load(Ordering::Relaxed);
    let base = COARSE_BASE.get()?;
    (ns != 0).then(|| *base + Duration::from_nanos(ns))
}

/// What drives the producer's timers (linger, request and delivery timeouts,
/// retry backoff).
///
/// - [`TimeSource::Real`] (the default): a monotonic clock; the flusher sleeps
///   until its next deadline.
/// - [`TimeSource::Virtual`]: a [`ManualClock`] that the flusher *advances
///   itself* to the next network deadline (a request timeout, the end of a retry
///   backoff, a delayed request's arrival) whenever it has nothing else to do,
///   as a discrete-event simulation would. A lost response then costs no real
///   time, so tests never sleep. `linger.ms` does not elapse on its own in
///   virtual time: a lingering batch is sent when full, on
///   [`Producer::flush`](super::Producer::flush) or `close`, or when the
///   caller moves the clock, and the flusher never jumps while a batch lingers.
///   So every first attempt of the records sent before a flush goes out before
///   any timeout fires, whatever the thread timing: scripted faults give exact
///   results. Call `flush()` before waiting on handles (or use `linger.ms=0`
///   with `batch.size=0`). The demo runs in virtual time.
///
/// ```
/// use idemlog::producer::TimeSource;
/// use idemlog::{Clock, ManualClock};
/// let clock = ManualClock::new(0);
/// let time = TimeSource::Virtual(clock.clone());
/// clock.advance_ms(7);
/// assert_eq!(time.now_ms(), 7);
/// ```
#[derive(Clone, Debug)]
pub enum TimeSource {
    /// Real monotonic time, measured from when the source was made.
    Real(Instant),
    /// Virtual time: the flusher jumps the clock instead of sleeping.
    Virtual(ManualClock),
}

impl Default for TimeSource {
    fn default() -> Self {
        Self::real()
    }
}

impl TimeSource {
    /// Real time starting now.
    pub fn real() -> Self {
        Self::Real(Instant::now())
    }

    /// Virtual time starting at 0.
    pub fn virtual_time() -> Self {
        Self::Virtual(ManualClock::new(0))
    }

    /// Milliseconds on this source.
    pub fn now_ms(&self) -> i64 {
        match self {
            Self::Real(start) => i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
            Self::Virtual(clock) => clock.now_ms(),
        }
    }

    /// The time `send` stamps a record with (its batch's linger and delivery
    /// timeout count from it). Virtual time: [`TimeSource::now_ms`]. Real time:
    /// a coarse clock refreshed every millisecond instead of a clock read per
    /// record, so a stamp can be a millisecond or so early (timers then fire
    /// that much sooner, never later); never later than `now_ms`.
    pub(crate) fn stamp_ms(&self) -> i64 {
        match self {
            Self::Real(start) => match coarse_now() {
                Some(now) => i64::try_from(now.saturating_duration_since(*start).as_millis())
                    .unwrap_or(i64::MAX),
                None => self.now_ms(),
            },
            Self::Virtual(clock) => clock.now_ms(),
        }
    }

    /// In virtual time, moves the clock forward to `deadline_ms` (never back) and
    /// returns true; in real time does nothing and returns false.
    pub(crate) fn jump_to(&self, deadline_ms: i64) -> bool {
        match self {
            Self::Real(_) => false,
            Self::Virtual(clock) => {
                let now = clock.now_ms();
                if deadline_ms > now {
                    clock.advance_ms(deadline_ms.saturating_sub(now));
                }
                true
            }
        }
    }
}
