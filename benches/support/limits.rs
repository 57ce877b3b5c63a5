//! Limits the engine is compared with (beside the naive prototype, in
//! `naive`): what two cores can do at all for the work an append needs.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam::utils::CachePadded;

use super::crew::{task, wait_until, Crew, CrewRunner};
use super::payload::AppBuffer;

/// A ceiling, measured like any workload (one "record" is one operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Two threads doing relaxed `fetch_add`s on one shared counter: the price
    /// of a contended atomic (the shared-partition tail).
    SharedFetchAdd,
    /// `threads` threads copying `size`-byte records from their buffer into
    /// private 1 MiB buffers: the price of copying the payloads in.
    Memcpy {
        /// Record bytes.
        size: usize,
        /// Threads.
        threads: usize,
    },
    /// Two threads handing a counter back and forth: one "record" is one
    /// hand-off, the price of a cache line crossing cores.
    PingPong,
}

impl Limit {
    /// The name used in reports.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::SharedFetchAdd => "fetch_add-shared-t2".to_string(),
            Self::Memcpy { size, threads } => format!("memcpy-{size}B-t{threads}"),
            Self::PingPong => "ping-pong-t2".to_string(),
        }
    }

    /// Builds the runner.
    pub(crate) fn runner(&self) -> CrewRunner {
        match *self {
            Self::SharedFetchAdd => shared_fetch_add(),
            Self::Memcpy { size, threads } => memcpy(size, threads),
            Self::PingPong => ping_pong(),
        }
    }
}

fn shared_fetch_add() -> CrewRunner {
    let counter = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let tasks = (0..2)
        .map(|_| {
            let counter = Arc::clone(&counter);
            task(move |total: u64| {
                let counter = black_box(&*counter);
                for _ in 0..total / 2 {
                    // Relaxed: a bare counter, read by nobody; the crew's
                    // barrier orders the rounds.
                    black_box(counter.fetch_add(1, Ordering::Relaxed));
                }
            })
        })
        .collect();
    CrewRunner::new(Crew::new("fetch-add", tasks), 2, Box::new(()))
}

fn memcpy(size: usize, threads: usize) -> CrewRunner {
    let tasks = (0..threads)
        .map(|_| {
            let source = AppBuffer::new(size, 64);
            let mut target = vec![0u8; 1 << 20];
            let slots = target.len() / size;
            let mut next = 0usize;
            task(move |total: u64| {
                for record in 0..total / threads as u64 {
                    let at = next * size;
                    target[at..at + size]
                        .copy_from_slice(black_box(source.bytes(record as usize % 64)));
                    next = if next + 1 == slots { 0 } else { next + 1 };
                }
                black_box(&mut target);
            })
        })
        .collect();
    CrewRunner::new(Crew::new("memcpy", tasks), threads as u64, Box::new(()))
}

fn ping_pong() -> CrewRunner {
    let turn = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let tasks = (0..2u64)
        .map(|parity| {
            let turn = Arc::clone(&turn);
            task(move |total: u64| {
                for _ in 0..total / 2 {
                    let mut seen = 0;
                    // Acquire: pairs with the other thread's Release store below
                    // (the hand-off carries its whole history, as a real one would).
                    wait_until(|| {
                        seen = turn.load(Ordering::Acquire);
                        seen % 2 == parity
                    });
                    // Release: pairs with the other thread's Acquire load above.
                    turn.store(black_box(seen + 1), Ordering::Release);
                }
            })
        })
        .collect();
    CrewRunner::new(Crew::new("ping-pong", tasks), 2, Box::new(()))
}

#[cfg(test)]
mod tests {
    use super::super::crew::Runner;
    use super::*;

    #[test]
    fn ping_pong_hands_over_exactly_once_per_record() {
        let mut runner = Limit::PingPong.runner();
        runner.run(10);
        runner.run(4);
        assert_eq!(runner.unit(), 2);
    }
}
