//! The fault-injecting link: a [`Transport`] that loses, delays and breaks
//! like one connection (see the module comment of [`super`]).
//!
//! The link is owned by the flusher thread, so it needs no synchronisation. A
//! request either reaches the broker at once, reaches it after a delay
//! (milliseconds of the producer's `TimeSource`), or never; the response of a
//! request that reached the broker is either heard or dropped. A loss is
//! noticed by the flusher only through its request timeout, as over a real
//! network; it then reconnects, and what was still on the old connection is
//! gone (requests that reached the broker stay appended).

use std::collections::VecDeque;

use super::{Fault, LinkConfig, SplitMix64};
use crate::error::LogError;
use crate::producer::broker::{LogBroker, Request, Response, Transport};
use crate::types::ProducerId;

/// A request on its way to the broker.
struct InTransit {
    /// When it reaches the broker.
    arrival: i64,
    request: Request,
    answer: Answer,
}

/// What happens once a request reaches the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Appended and answered.
    Heard,
    /// Appended; the response is lost.
    Lost,
    /// Refused with a retriable error, nothing appended.
    Refuse,
}

/// The link itself (flusher-owned).
pub(crate) struct FaultLink {
    broker: LogBroker,
    config: LinkConfig,
    rng: SplitMix64,
    /// Requests sent so far (the script's index).
    requests: usize,
    /// A request was lost: the connection is dead until `reconnect`.
    broken: bool,
    /// Requests on their way, in send order (FIFO like a TCP connection).
    in_transit: VecDeque<InTransit>,
    heard: Vec<Response>,
}

impl FaultLink {
    pub(crate) fn new(config: LinkConfig, broker: LogBroker) -> Self {
        Self {
            broker,
            rng: SplitMix64::new(config.seed),
            config,
            requests: 0,
            broken: false,
            in_transit: VecDeque::new(),
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
        if c.drop_request + c.drop_response + c.refuse + c.delay == 0.0 {
            return Fault::None;
        }
        let (drop_request, drop_response, refuse, delay, max_delay) = (
            c.drop_request,
            c.drop_response,
            c.refuse,
            c.delay,
            c.max_delay_ms,
        );
        let draw = self.rng.next_f64();
        let mut bound = drop_request;
        if draw < bound {
            return Fault::DropRequest;
        }
        bound += drop_response;
        if draw < bound {
            return Fault::DropResponse;
        }
        bound += refuse;
        if draw < bound {
            return Fault::RetriableError { delay_ms: 0 };
        }
        bound += delay;
        if draw < bound && max_delay > 0 {
            Fault::Delay(1 + self.rng.next_u64() % max_delay)
        } else {
            Fault::None
        }
    }

    /// The request reaches the broker, and `answer` happens.
    fn arrive(&mut self, request: Request, answer: Answer) {
        let result = match answer {
            Answer::Refuse => Err(LogError::Unavailable),
            Answer::Heard | Answer::Lost => self.broker.append(&request),
        };
        if answer != Answer::Lost {
            self.heard.push(Response {
                token: request.token,
                result,
            });
        }
    }
}

impl Transport for FaultLink {
    fn send(&mut self, now_ms: i64, request: Request) {
        // Drawn for every request, lost or not: same seed, same faults.
        let fault = self.next_fault();
        if self.broken {
            return; // written to a dead connection
        }
        let delay = match fault {
            Fault::DropRequest => {
                self.broken = true;
                return;
            }
            Fault::Delay(ms) | Fault::RetriableError { delay_ms: ms } => {
                i64::try_from(ms).unwrap_or(i64::MAX)
            }
            Fault::None | Fault::DropResponse => 0,
        };
        let answer = match fault {
            Fault::DropResponse => Answer::Lost,
            Fault::RetriableError { .. } => Answer::Refuse,
            _ => Answer::Heard,
        };
        let queued_until = self.in_transit.back().map_or(now_ms, |t| t.arrival);
        let arrival = now_ms.saturating_add(delay).max(queued_until);
        if arrival <= now_ms && self.in_transit.is_empty() {
            self.arrive(request, answer);
        } else {
            self.in_transit.push_back(InTransit {
                arrival,
                request,
                answer,
            });
        }
    }

    fn poll(&mut self, now_ms: i64, heard: &mut Vec<Response>) {
        while self.in_transit.front().is_some_and(|t| t.arrival <= now_ms) {
            if let Some(t) = self.in_transit.pop_front() {
                self.arrive(t.request, t.answer);
            }
        }
        heard.append(&mut self.heard);
    }

    fn next_arrival(&self) -> Option<i64> {
        self.in_transit.front().map(|t| t.arrival)
    }

    fn in_transit(&self) -> usize {
        self.in_transit.len()
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    fn reconnect(&mut self) {
        self.broken = false;
        self.in_transit.clear();
    }

    fn forget_producer(&mut self, producer_id: ProducerId) {
        self.broker.forget_producer(producer_id);
    }
}
