//! The target table of the benchmark targets (benches/support/targets.rs) as data: which engine workload is
//! measured beside which peers, with what target, under which workload id; the
//! limits shown beside them; the memory targets.

use super::crew::Runner;
use super::engine::Mode;
use super::limits::Limit;
use super::measure::Measured;
use super::report::Target;
use super::shape::AppendShape;
use super::workloads::{AppendTarget, GroupTailTarget, ProduceTarget, ScanTarget};

/// Every workload id of the benchmark target table, in its order.
pub(crate) const WORKLOAD_IDS: [&str; 14] = [
    "append-own-p2-64B-b64",
    "append-own-p2-64B-b64-owned",
    "append-p1-64B-b1",
    "append-shared-p2-64B-b1",
    "produce-e2e-t2-64B",
    "produce-e2e-plain-t2-64B",
    "idempotence-b16",
    "idempotence-b1",
    "consume-scan",
    "consume-tail",
    "consume-tail-latency-p50",
    "memory-log-bytes-per-record",
    "memory-producer-state-bytes",
    "memory-budget",
];

/// How the producer rows compare (the engine copies each record once, into its
/// batch; the channel copies each once, into a `Bytes`).
const PRODUCE_HOW: &str =
    "each record copied once (into the batch / into a Bytes) from the same 2 threads, to one receiver";

/// How `consume-tail` compares (benches/support/consume_tail.rs).
const CONSUME_TAIL_HOW: &str = concat!(
    "2 producer threads, borrowed 64 B records one at a time round-robin over 8 partitions ",
    "(engine: plain PartitionHandle::append of 1, the direct path, no Producer client), ",
    "2 consumer threads (engine: a group of 2 members, 4 partitions each, blocking zero-copy ",
    "poll_with_timeout, commit every 64 Ki records; peer: one bounded channel of [u8; 64] ",
    "per consumer, partition p to channel p % 2), at most 8192 records in flight on both; ",
    "4 threads on 2 vCPUs: rounds below cpu/wall 1.8 (host steal, or both cores idle in ",
    "a wake-up gap) are discarded"
);

/// How `consume-tail-latency-p50` compares.
const CONSUME_TAIL_LATENCY_HOW: &str = concat!(
    "the consume-tail pipelines (a second run of the peer); engine_rps and peer_rps are ",
    "1/p50 of the producer-to-consumer latency (send time stamped by the producer into the ",
    "value of every 63rd record, read by the consumer), so ratio = peer p50 / engine p50"
);

/// Builds a runner (threads spawned, memory pre-faulted) when its group starts.
pub(crate) type Build = Box<dyn Fn() -> Box<dyn Runner>>;

/// What a row compares: the figure its `engine_rps` and `peer_rps` hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    /// Median records per second.
    Throughput,
    /// 1 / (p50 producer-to-consumer latency), per second: the ratio
    /// engine/peer is then the peer's p50 over the engine's (>= 0.5: the
    /// engine's p50 within 2x of the peer's). NaN without latencies.
    InverseP50Latency,
}

impl Metric {
    /// The figure of `measured`.
    pub(crate) fn of(&self, measured: &Measured) -> f64 {
        match self {
            Self::Throughput => measured.rps,
            Self::InverseP50Latency => measured
                .latency
                .map_or(f64::NAN, |latency| 1e9 / latency.p50_ns),
        }
    }
}

/// One row: the group's engine beside `peer`.
pub(crate) struct Comparison {
    /// The workload id of the target table.
    pub workload: &'static str,
    /// The peer's name.
    pub peer: &'static str,
    /// How the peer is used, for the note.
    pub how: &'static str,
    /// Builds the peer's runner.
    pub build: Build,
    /// The target.
    pub target: Target,
    /// The figure compared.
    pub metric: Metric,
}

/// One engine runner measured beside its peers (interleaved).
pub(crate) struct Group {
    /// Builds the engine's runner.
    pub engine: Build,
    /// The rows.
    pub comparisons: Vec<Comparison>,
}

fn append(target: AppendTarget, shape: AppendShape) -> Build {
    Box::new(move || target.runner(shape))
}

fn compare(
    workload: &'static str,
    target: AppendTarget,
    how: &'static str,
    shape: AppendShape,
    goal: Target,
) -> Comparison {
    Comparison {
        workload,
        peer: target.name(),
        how,
        build: append(target, shape),
        target: goal,
        metric: Metric::Throughput,
    }
}

/// The comparison groups, in the order of the table.
pub(crate) fn groups() -> Vec<Group> {
    use AppendTarget::*;
    let own_b64 = AppendShape::new(64, 64, 2, false);
    let p1_b1 = AppendShape::new(64, 1, 1, true);
    let shared_b1 = AppendShape::new(64, 1, 2, true);
    let p1_b16 = AppendShape::new(64, 16, 1, true);
    let idemlog = Engine(Mode::Idempotent);
    let plain = Engine(Mode::Plain);
    vec![
        Group {
            engine: append(idemlog, own_b64),
            comparisons: vec![
                compare(
                    "append-own-p2-64B-b64",
                    Naive,
                    "same shape, copy-in ring",
                    own_b64,
                    Target::ratio(0.8),
                ),
                compare(
                    "append-own-p2-64B-b64",
                    Disruptor,
                    "multi-producer, try_batch_publish(64)",
                    own_b64,
                    Target::ratio(2.0),
                ),
                compare(
                    "append-own-p2-64B-b64",
                    Channel,
                    "a Bytes copy per record, to one receiver",
                    own_b64,
                    Target::ratio(10.0),
                ),
            ],
        },
        Group {
            engine: append(idemlog, own_b64.owned()),
            comparisons: vec![compare(
                "append-own-p2-64B-b64-owned",
                Channel,
                "the same Vec<u8> per record, to one receiver",
                own_b64.owned(),
                Target::ratio(3.0),
            )],
        },
        Group {
            engine: append(idemlog, p1_b1),
            comparisons: vec![
                compare(
                    "append-p1-64B-b1",
                    Naive,
                    "same shape, copy-in ring",
                    p1_b1,
                    Target::ratio(0.5),
                ),
                compare(
                    "append-p1-64B-b1",
                    Disruptor,
                    "single-producer, try_publish",
                    p1_b1,
                    Target::ratio(0.7),
                ),
                compare(
                    "idempotence-b1",
                    plain,
                    "plain batches of 1",
                    p1_b1,
                    Target::ratio(0.80),
                ),
            ],
        },
        Group {
            engine: append(idemlog, shared_b1),
            comparisons: vec![
                compare(
                    "append-shared-p2-64B-b1",
                    MutexVec,
                    "one ring, a Bytes copy per record",
                    shared_b1,
                    Target::ratio(1.0),
                ),
                compare(
                    "append-shared-p2-64B-b1",
                    Channel,
                    "a Bytes copy per record, to one receiver",
                    shared_b1,
                    Target::ratio(2.0),
                ),
            ],
        },
        Group {
            engine: Box::new(|| ProduceTarget::Idempotent.runner(2, 64)),
            comparisons: vec![Comparison {
                workload: "produce-e2e-t2-64B",
                peer: ProduceTarget::Channel.name(),
                how: PRODUCE_HOW,
                build: Box::new(|| ProduceTarget::Channel.runner(2, 64)),
                target: Target::ratio(1.5),
                metric: Metric::Throughput,
            }],
        },
        Group {
            engine: Box::new(|| ProduceTarget::Plain.runner(2, 64)),
            comparisons: vec![Comparison {
                workload: "produce-e2e-plain-t2-64B",
                peer: ProduceTarget::Channel.name(),
                how: PRODUCE_HOW,
                build: Box::new(|| ProduceTarget::Channel.runner(2, 64)),
                target: Target::NONE,
                metric: Metric::Throughput,
            }],
        },
        Group {
            engine: append(idemlog, p1_b16),
            comparisons: vec![compare(
                "idempotence-b16",
                plain,
                "plain batches of 16",
                p1_b16,
                Target::ratio(0.97),
            )],
        },
        Group {
            engine: Box::new(|| ScanTarget::Engine.runner(64)),
            comparisons: vec![Comparison {
                workload: "consume-scan",
                peer: ScanTarget::MutexVec.name(),
                how: "a filled ring iterated under its lock; both sides read the first byte of every value",
                build: Box::new(|| ScanTarget::MutexVec.runner(64)),
                target: Target::ratio(1.0).and_rps(200e6),
                metric: Metric::Throughput,
            }],
        },
        Group {
            engine: Box::new(|| GroupTailTarget::Engine.runner()),
            comparisons: vec![
                Comparison {
                    workload: "consume-tail",
                    peer: GroupTailTarget::Channel.name(),
                    how: CONSUME_TAIL_HOW,
                    build: Box::new(|| GroupTailTarget::Channel.runner()),
                    target: Target::ratio(1.0),
                    metric: Metric::Throughput,
                },
                Comparison {
                    workload: "consume-tail-latency-p50",
                    peer: GroupTailTarget::Channel.name(),
                    how: CONSUME_TAIL_LATENCY_HOW,
                    build: Box::new(|| GroupTailTarget::Channel.runner()),
                    target: Target::ratio(0.5),
                    metric: Metric::InverseP50Latency,
                },
            ],
        },
    ]
}

/// The limits, each shown beside the engine workload it bounds.
pub(crate) fn limits() -> Vec<(Limit, &'static str)> {
    vec![
        (
            Limit::Memcpy {
                size: 64,
                threads: 1,
            },
            "append-p1-64B-b1",
        ),
        (
            Limit::Memcpy {
                size: 64,
                threads: 2,
            },
            "append-own-p2-64B-b64",
        ),
        (Limit::SharedFetchAdd, "append-shared-p2-64B-b1"),
        (Limit::PingPong, "append-shared-p2-64B-b1"),
    ]
}

/// Instructions per record the callgrind recipe (benches/callgrind.sh) must
/// show: (workload id, most instructions).
pub(crate) const INSTRUCTION_TARGETS: [(&str, u64); 2] =
    [("append-p1-64B-b1", 120), ("produce-e2e-t2-64B", 600)];

/// `memory-log-bytes-per-record`: (batch, most bytes per 64 B record beyond
/// the payload).
pub(crate) const LOG_BYTES_TARGETS: [(usize, f64); 2] = [(64, 16.0), (1, 64.0)];

/// `memory-producer-state-bytes`: most bytes per (producer, partition).
pub(crate) const PRODUCER_STATE_MAX: f64 = 512.0;

/// `memory-producer-state-bytes`: how far the log's own figure may be from RSS.
pub(crate) const PRODUCER_STATE_TOLERANCE: f64 = 0.10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_comparison_is_a_benchmarks_md_workload() {
        for group in groups() {
            for comparison in &group.comparisons {
                assert!(WORKLOAD_IDS.contains(&comparison.workload));
            }
        }
        for (_, workload) in limits() {
            assert!(WORKLOAD_IDS.contains(&workload));
        }
        for (workload, _) in INSTRUCTION_TARGETS {
            assert!(WORKLOAD_IDS.contains(&workload));
        }
    }

    #[test]
    fn the_consume_tail_notes_say_what_the_workload_does() {
        use crate::support::consume_tail::{COMMIT_EVERY, IN_FLIGHT, SAMPLE_EVERY};
        assert!(CONSUME_TAIL_HOW.contains(&format!("at most {IN_FLIGHT} records")));
        assert!(CONSUME_TAIL_HOW.contains(&format!("every {} Ki", COMMIT_EVERY >> 10)));
        assert!(CONSUME_TAIL_LATENCY_HOW.contains(&format!("every {SAMPLE_EVERY}rd")));
    }
}
