//! The producer's clock: real time, or virtual time that the flusher moves itself.

use std::time::Instant;

use crate::clock::{Clock, ManualClock};
use crate::ticker;

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
    /// Real monotonic time in milliseconds from this instant (negative
    /// before it, for an instant in the future), usually when the source
    /// was made.
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
            Self::Real(start) => signed_ms(*start, Instant::now()),
            Self::Virtual(clock) => clock.now_ms(),
        }
    }

    /// The time `send` stamps a record with (its batch's linger and delivery
    /// timeout count from it). Virtual time: [`TimeSource::now_ms`]. Real time:
    /// the process's coarse clock (`crate::ticker`, refreshed every millisecond
    /// while a lease is held) instead of a clock read per record, so a stamp
    /// can be a millisecond or so early (timers then fire that much sooner,
    /// never later); never later than `now_ms`. While no ticker runs, exactly
    /// `now_ms`.
    pub(crate) fn stamp_ms(&self) -> i64 {
        match self {
            Self::Real(start) => match ticker::instant() {
                Some(now) => signed_ms(*start, now),
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

/// Milliseconds from `origin` to `now`, negative if `now` is earlier (an
/// origin in the future), saturating at the ends of `i64`: a saturating
/// `elapsed()` would stand still at 0 until the origin passed, and with it
/// every linger and timeout.
fn signed_ms(origin: Instant, now: Instant) -> i64 {
    let millis = |later: Instant, earlier: Instant| {
        i64::try_from(later.duration_since(earlier).as_millis()).unwrap_or(i64::MAX)
    };
    if now >= origin {
        millis(now, origin)
    } else {
        -millis(origin, now)
    }
}
