//! `consume/scan` (one consumer reading a filled partition) beside the
//! `mutex-vec` ring, `consume/tail` (one consumer reading while one
//! producer writes) beside crossbeam-channel and the `mutex-vec` ring, and
//! `consume/tail-group` (2 producers, a consumer group of 2 over 8 partitions:
//! the `consume-tail` row) beside crossbeam-channel.
//! Workloads: `support`. `IDEMLOG_BENCH_QUICK=1` shrinks the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;
// Each bench target uses its own part of the shared harness. A `harness =
// false` target is compiled with cfg(test) but no test harness, so the
// harness's unit tests (run by `cargo test --bin idemlog`) leave unused imports.
#[allow(dead_code)]
#[cfg_attr(test, allow(unused_imports))]
mod support;

use common::measure;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use support::workloads::{GroupTailTarget, ScanTarget, TailTarget};

fn scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("consume/scan");
    for size in [64, 1024] {
        for target in [ScanTarget::Engine, ScanTarget::MutexVec] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), format!("{size}B")),
                1,
                || target.runner(size),
            );
        }
    }
    group.finish();
}

fn tail(c: &mut Criterion) {
    let mut group = c.benchmark_group("consume/tail");
    for batch in [1, 16] {
        for target in [
            TailTarget::Engine,
            TailTarget::Channel,
            TailTarget::MutexVec,
        ] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), format!("64B-b{batch}")),
                batch as u64,
                || target.runner(64, batch),
            );
        }
    }
    group.finish();
}

/// Records per criterion iteration of `consume/tail-group`: each producer's
/// turn over the 8 partitions (the runner's unit).
const TAIL_GROUP_UNIT: u64 = 16;

fn tail_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("consume/tail-group");
    for target in [GroupTailTarget::Engine, GroupTailTarget::Channel] {
        measure(
            &mut group,
            BenchmarkId::new(target.name(), "p2-c2-8p-64B"),
            TAIL_GROUP_UNIT,
            || target.runner(),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = scan, tail, tail_group
}
criterion_main!(benches);
