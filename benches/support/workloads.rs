//! The workloads by name: what carries the records (the engine in some mode, or
//! a peer) and the runner that measures it. Criterion ids and `idemlog bench`
//! rows use these names.

use idemlog::producer::ProducerConfig;

use super::crew::Runner;
use super::engine::{self, Mode};
use super::shape::AppendShape;
use super::{channel, consume_tail, disruptor, mutex_vec, naive, produce};

/// What carries the records of an append workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppendTarget {
    /// The log (`idemlog`, `idemlog-retry-1%`, `non-idempotent`).
    Engine(Mode),
    /// The naive prototype (`naive-prototype`).
    Naive,
    /// disruptor-rs (`disruptor`).
    Disruptor,
    /// crossbeam-channel, one receiver (`crossbeam-channel`).
    Channel,
    /// `parking_lot::Mutex` ring per partition (`mutex-vec`).
    MutexVec,
}

impl AppendTarget {
    /// The name used in reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Engine(Mode::Idempotent) => "idemlog",
            Self::Engine(Mode::IdempotentRetries) => "idemlog-retry-1%",
            Self::Engine(Mode::Plain) => "non-idempotent",
            Self::Naive => "naive-prototype",
            Self::Disruptor => "disruptor",
            Self::Channel => "crossbeam-channel",
            Self::MutexVec => "mutex-vec",
        }
    }

    /// Builds the runner (threads spawned, memory pre-faulted).
    pub(crate) fn runner(&self, shape: AppendShape) -> Box<dyn Runner> {
        match *self {
            Self::Engine(mode) => Box::new(engine::append(shape, mode)),
            Self::Naive => Box::new(naive::append(shape)),
            Self::Disruptor => Box::new(disruptor::append(shape)),
            Self::Channel => Box::new(channel::append(shape)),
            Self::MutexVec => Box::new(mutex_vec::append(shape)),
        }
    }
}

/// What a scan reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanTarget {
    /// A consumer of a filled partition (`idemlog`).
    Engine,
    /// The `mutex-vec` ring, iterated under its lock (`mutex-vec`).
    MutexVec,
}

impl ScanTarget {
    /// The name used in reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Engine => "idemlog",
            Self::MutexVec => "mutex-vec",
        }
    }

    /// Builds the runner (filled before it returns).
    pub(crate) fn runner(&self, record_size: usize) -> Box<dyn Runner> {
        match self {
            Self::Engine => engine::scan(record_size),
            Self::MutexVec => mutex_vec::scan(record_size),
        }
    }
}

/// What a tailing consumer reads from while one producer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TailTarget {
    /// The log (`idemlog`).
    Engine,
    /// A bounded channel (`crossbeam-channel`).
    Channel,
    /// The `mutex-vec` ring (`mutex-vec`).
    MutexVec,
}

impl TailTarget {
    /// The name used in reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Engine => "idemlog",
            Self::Channel => "crossbeam-channel",
            Self::MutexVec => "mutex-vec",
        }
    }

    /// Builds the runner: one producer thread and one consumer thread.
    pub(crate) fn runner(&self, record_size: usize, batch: usize) -> Box<dyn Runner> {
        match self {
            Self::Engine => Box::new(engine::tail(record_size, batch)),
            Self::Channel => Box::new(channel::tail(record_size)),
            Self::MutexVec => Box::new(mutex_vec::tail(record_size, batch)),
        }
    }
}

/// What carries the records of `consume-tail` from 2 producer threads to 2
/// consumer threads over 8 partitions (benches/support/consume_tail.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupTailTarget {
    /// Plain appends of 1 record, a consumer group of 2 members (`idemlog`).
    Engine,
    /// A bounded channel per consumer, `[u8; 64]` messages (`crossbeam-channel`).
    Channel,
}

impl GroupTailTarget {
    /// The name used in reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Engine => "idemlog",
            Self::Channel => "crossbeam-channel",
        }
    }

    /// Builds the runner (threads spawned, group settled, prefilled); it
    /// records latencies (`Runner::take_latency`).
    pub(crate) fn runner(&self) -> Box<dyn Runner> {
        match self {
            Self::Engine => Box::new(consume_tail::engine()),
            Self::Channel => Box::new(consume_tail::channel()),
        }
    }
}

/// What carries the records from the sending threads end to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProduceTarget {
    /// One shared `Producer` (`ProducerConfig::exactly_once()`), every handle
    /// waited for (`idemlog-producer`).
    Idempotent,
    /// The same with `ProducerConfig::at_least_once()` (`non-idempotent`).
    Plain,
    /// The sending threads put the same records on one bounded channel to one
    /// receiver (`crossbeam-channel`).
    Channel,
}

impl ProduceTarget {
    /// The name used in reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Idempotent => "idemlog-producer",
            Self::Plain => "non-idempotent",
            Self::Channel => "crossbeam-channel",
        }
    }

    /// Builds the runner: `threads` sending threads, `record_size`-byte values.
    pub(crate) fn runner(&self, threads: usize, record_size: usize) -> Box<dyn Runner> {
        match self {
            Self::Idempotent => Box::new(produce::end_to_end(
                threads,
                record_size,
                ProducerConfig::exactly_once(),
            )),
            Self::Plain => Box::new(produce::end_to_end(
                threads,
                record_size,
                ProducerConfig::at_least_once(),
            )),
            Self::Channel => Box::new(channel::append(AppendShape::new(
                record_size,
                1,
                threads,
                true,
            ))),
        }
    }
}
