//! Simulation: the fault-injecting link between the flusher and the broker,
//! and its seeded RNG. Tests, the demo and the fuzz targets use it to lose
//! requests and responses; a production producer runs over a perfect link
//! ([`LinkConfig::new`], the default).
//!
//! The link models one connection, as Kafka's client has one per broker:
//! - a lost request breaks the connection: the requests sent after it are
//!   lost too, until the flusher notices (a request timeout; at once with
//!   `acks=0`, which waits for nothing, as Kafka's client sees the socket
//!   close) and reconnects,
//!   so requests never reach the log out of send order;
//! - a lost response loses that response alone (the request was appended);
//! - a retriable error response refuses one batch alone;
//! - a delayed request holds back the ones behind it, as on a TCP stream.

mod fault_link;
mod rng;

pub(crate) use fault_link::FaultLink;
pub use rng::SplitMix64;

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Delivered; the response is heard.
    None,
    /// The request never reaches the log, and the connection breaks: the
    /// requests sent after it are lost too until the flusher reconnects.
    DropRequest,
    /// The request is appended, but its response is lost.
    DropResponse,
    /// The request reaches the broker `delay_ms` milliseconds later (0: at
    /// once; a delay holds back the requests behind it, as `Delay` does), and
    /// the broker answers [`LogError::Unavailable`](crate::LogError::Unavailable)
    /// (retriable) without appending: this batch alone is refused, the ones
    /// behind it on the connection are not.
    RetriableError {
        /// Milliseconds until it reaches the broker.
        delay_ms: u64,
    },
    /// The request reaches the log this many milliseconds later (and holds back
    /// the requests sent after it, as on a TCP connection); its response is heard
    /// when it arrives.
    Delay(u64),
}

/// Fault injection settings. Requests are numbered in the order the flusher
/// sends them (first attempts and retries alike); request `i` gets `script[i]`
/// while the script lasts, then a fault drawn from the rates with a SplitMix64
/// RNG seeded by `seed` (same seed, same faults for the same request order).
///
/// A request gets at most one fault: the rates are shares of one draw, taken
/// in the order drop request, drop response, retriable error, delay. Their
/// sum is the probability of a fault, so keep it below 1: at 1 no request goes
/// through unharmed (a share past what the earlier ones left of 1 counts only
/// that remainder).
///
/// ```
/// use idemlog::producer::sim::{Fault, LinkConfig};
/// // The first request's response is lost; afterwards 1% of requests are dropped.
/// let link = LinkConfig::new()
///     .script(vec![Fault::DropResponse])
///     .drop_request_rate(0.01)
///     .seed(42);
/// assert_eq!(link.scripted(), &[Fault::DropResponse]);
/// ```
#[must_use = "a link config does nothing until a producer config takes it"]
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    seed: u64,
    drop_request: f64,
    drop_response: f64,
    refuse: f64,
    delay: f64,
    max_delay_ms: u64,
    script: Vec<Fault>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            seed: 0x1de_b10c,
            drop_request: 0.0,
            drop_response: 0.0,
            refuse: 0.0,
            delay: 0.0,
            max_delay_ms: 0,
            script: Vec::new(),
        }
    }
}

/// Clamps a probability into 0..=1 (NaN counts as 0).
fn probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

impl LinkConfig {
    /// A perfect link.
    pub fn new() -> Self {
        Self::default()
    }

    /// The RNG seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Probability that a request never reaches the log (clamped to 0..=1).
    pub fn drop_request_rate(mut self, p: f64) -> Self {
        self.drop_request = probability(p);
        self
    }

    /// Probability that a response is lost (clamped to 0..=1).
    pub fn drop_response_rate(mut self, p: f64) -> Self {
        self.drop_response = probability(p);
        self
    }

    /// Probability that the broker refuses a request with a retriable error
    /// ([`Fault::RetriableError`], at once; clamped to 0..=1).
    pub fn retriable_error_rate(mut self, p: f64) -> Self {
        self.refuse = probability(p);
        self
    }

    /// Probability that a request is delayed by 1..=`max_delay_ms` milliseconds.
    pub fn delay_rate(mut self, p: f64, max_delay_ms: u64) -> Self {
        self.delay = probability(p);
        self.max_delay_ms = max_delay_ms;
        self
    }

    /// Faults for the first requests, in send order.
    pub fn script(mut self, faults: Vec<Fault>) -> Self {
        self.script = faults;
        self
    }

    /// The scripted faults.
    pub fn scripted(&self) -> &[Fault] {
        &self.script
    }

    /// True if it injects nothing (the producer then talks to the log directly).
    pub fn is_perfect(&self) -> bool {
        self.script.iter().all(|fault| *fault == Fault::None)
            && self.drop_request + self.drop_response + self.refuse + self.delay == 0.0
    }
}
