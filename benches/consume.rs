//! `consume/scan` (one consumer reading a filled partition) beside the
//! `mutex-vec` ring, and `consume/tail` (one consumer reading while one
//! producer writes) beside crossbeam-channel and the `mutex-vec` ring.
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

use common::{configured, measure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use support::workloads::{ScanTarget, TailTarget};

fn scan(c: &mut Criterion) {
    let mut group = configured(c, "consume/scan");
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
    let mut group = configured(c, "consume/tail");
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

criterion_group!(benches, scan, tail);
criterion_main!(benches);
