//! The link: the in-process stand-in for the network between the flusher and
//! the log, with fault injection driven by a seeded RNG and by a script.
//!
//! The link is owned by the flusher thread, so it needs no synchronisation. A
//! request either reaches the log at once, reaches it after a delay (virtual or
//! real milliseconds of the producer's [`TimeSource`](super::TimeSource)), or
//! never; the response of a request that reached the log is either heard or
//! dropped. A dropped request or response is noticed by the flusher only through
//! its request timeout, as over a real network.
//!
//! A request still on its way when its request timeout passes is discarded, as
//! Kafka's client closes the connection on a request timeout and so drops the
//! requests written to it: the flusher has given that attempt up (and may have
//! sent a retry), so without this every timeout of a request stuck behind a
//! long delay would queue one more copy of its records, without bound. Only
//! undelivered copies are dropped: a request that reached the log stays
//! appended (a lost response), and a request that arrives exactly at its
//! timeout is still delivered (and answered) first.

use std::collections::{HashMap, VecDeque};

use crate::error::LogError;
use crate::log::{AppendOutcome, PartitionHandle, ProducerAppender};
use crate::record::Record;
use crate::types::{BatchHeader, ProducerId};

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Delivered; the response is heard.
    None,
    /// The request never reaches the log.
    DropRequest,
    /// The request is appended, but its response is lost.
    DropResponse,
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
/// ```
/// use idemlog::producer::{Fault, LinkConfig};
/// // The first request's response is lost; afterwards 1% of requests are dropped.
/// let link = LinkConfig::new()
///     .script(vec![Fault::DropResponse])
///     .drop_request_rate(0.01)
///     .seed(42);
/// assert_eq!(link.scripted(), &[Fault::DropResponse]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    seed: u64,
    drop_request: f64,
    drop_response: f64,
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
}

/// SplitMix64's finaliser: a good 64-bit mix of `x` (also the RNG's step).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A tiny seeded RNG (SplitMix64), so the same seed gives the same faults.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// An RNG seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let out = splitmix64(self.state);
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        out
    }

    /// A uniform value in `0.0..1.0`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Which attempt of which batch a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// The flusher's partition slot.
    pub(crate) slot: usize,
    /// The batch's id, unique within the producer.
    pub(crate) batch: u64,
    /// The attempt number of that batch.
    pub(crate) attempt: u32,
}

/// One produce request: a batch for one partition.
pub(crate) struct Request {
    pub(crate) token: Token,
    pub(crate) partition: PartitionHandle,
    pub(crate) header: Option<BatchHeader>,
    pub(crate) records: Vec<Record>,
}

/// The log's answer to one request.
pub(crate) struct Response {
    pub(crate) token: Token,
    pub(crate) result: Result<AppendOutcome, LogError>,
}

/// A request on its way to the log.
struct InTransit {
    /// When it reaches the log.
    arrival: i64,
    /// When its request timeout passes: dropped if it has not arrived by then.
    expires: i64,
    request: Request,
    /// Whether its response will be heard.
    respond: bool,
}

/// The link itself (flusher-owned).
pub(crate) struct Link {
    config: LinkConfig,
    rng: SplitMix64,
    requests: usize,
    /// `request.timeout.ms`: a request still in transit this long after it was
    /// sent is dropped.
    request_timeout: i64,
    /// Requests on their way, in send order. FIFO like a TCP connection: a
    /// delayed request holds back every request behind it.
    in_transit: VecDeque<InTransit>,
    appenders: HashMap<(usize, ProducerId), ProducerAppender>,
    heard: Vec<Response>,
}

impl Link {
    /// A link whose requests are dropped `request_timeout_ms` after being sent
    /// if they have not reached the log by then.
    pub(crate) fn new(config: LinkConfig, request_timeout_ms: i64) -> Self {
        Self {
            rng: SplitMix64::new(config.seed),
            config,
            requests: 0,
            request_timeout: request_timeout_ms,
            in_transit: VecDeque::new(),
            appenders: HashMap::new(),
            heard: Vec::new(),
        }
    }

    fn next_fault(&mut self) -> Fault {
        let scripted = self.config.script.get(self.requests).copied();
        self.requests += 1;
        if let Some(fault) = scripted {
            return fault;
        }
        let c = &self.config;
        if c.drop_request + c.drop_response + c.delay == 0.0 {
            return Fault::None;
        }
        let (drop_request, drop_response, delay, max_delay) =
            (c.drop_request, c.drop_response, c.delay, c.max_delay_ms);
        let draw = self.rng.next_f64();
        if draw < drop_request {
            Fault::DropRequest
        } else if draw < drop_request + drop_response {
            Fault::DropResponse
        } else if draw < drop_request + drop_response + delay && max_delay > 0 {
            Fault::Delay(1 + self.rng.next_u64() % max_delay)
        } else {
            Fault::None
        }
    }

    /// Sends `request` at `now_ms`.
    pub(crate) fn send(&mut self, now_ms: i64, request: Request) {
        let fault = self.next_fault();
        let delay = match fault {
            Fault::DropRequest => return,
            Fault::Delay(ms) => i64::try_from(ms).unwrap_or(i64::MAX),
            Fault::None | Fault::DropResponse => 0,
        };
        let respond = fault != Fault::DropResponse;
        let queued_until = self.in_transit.back().map_or(now_ms, |t| t.arrival);
        let arrival = now_ms.saturating_add(delay).max(queued_until);
        if arrival <= now_ms && self.in_transit.is_empty() {
            self.arrive(request, respond);
        } else {
            self.in_transit.push_back(InTransit {
                arrival,
                expires: now_ms.saturating_add(self.request_timeout),
                request,
                respond,
            });
        }
    }

    /// The request reaches the log; its answer is heard if `respond`.
    fn arrive(&mut self, request: Request, respond: bool) {
        let result = match request.header {
            None => request.partition.append(None, request.records),
            Some(header) => {
                let key = (request.token.slot, header.producer_id);
                let appender = match self.appenders.get_mut(&key) {
                    Some(appender) => Ok(appender),
                    None => request
                        .partition
                        .producer(header.producer_id)
                        .map(|appender| self.appenders.entry(key).or_insert(appender)),
                };
                appender.and_then(|appender| {
                    appender.append(header.epoch, header.base_sequence, request.records)
                })
            }
        };
        if respond {
            self.heard.push(Response {
                token: request.token,
                result,
            });
        }
    }

    /// Delivers the requests due by `now_ms`, drops those whose request timeout
    /// has passed (the flusher gave them up), and returns every response heard
    /// since the last call, in the order the log answered.
    pub(crate) fn poll(&mut self, now_ms: i64) -> Vec<Response> {
        while self.in_transit.front().is_some_and(|t| t.arrival <= now_ms) {
            if let Some(t) = self.in_transit.pop_front() {
                self.arrive(t.request, t.respond);
            }
        }
        // After the deliveries: one arriving exactly at its timeout is answered.
        // The flusher handles its responses before its timeouts (`run`), so an
        // attempt it times out at `now_ms` has no copy left here afterwards.
        if !self.in_transit.is_empty() {
            self.in_transit.retain(|t| t.expires > now_ms);
        }
        std::mem::take(&mut self.heard)
    }

    /// When the next request in transit arrives.
    pub(crate) fn next_arrival(&self) -> Option<i64> {
        self.in_transit.front().map(|t| t.arrival)
    }

    /// Requests in transit now.
    pub(crate) fn queue_len(&self) -> usize {
        self.in_transit.len()
    }

    /// Forgets the cached appenders of a producer id that is no longer used.
    pub(crate) fn forget_producer(&mut self, producer_id: ProducerId) {
        self.appenders.retain(|(_, pid), _| *pid != producer_id);
    }
}
