//! `produce/end-to-end`: application threads -> `Producer::send` -> open batch
//! -> flusher -> log -> every delivery handle completed, idempotent and not,
//! beside crossbeam-channel carrying the same records from the same threads to
//! one receiver. Workloads: `support` (shared with `idemlog bench`).
//! `IDEMLOG_BENCH_QUICK=1` shrinks the times.

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
use support::workloads::ProduceTarget;

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("produce/end-to-end");
    for threads in [1, 2] {
        for target in [
            ProduceTarget::Idempotent,
            ProduceTarget::Plain,
            ProduceTarget::Channel,
        ] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), format!("t{threads}-64B")),
                threads as u64,
                || target.runner(threads, 64),
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = end_to_end
}
criterion_main!(benches);
