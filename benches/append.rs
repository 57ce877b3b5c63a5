//! `append/direct`, `append/owned` and `append/idempotence`: producer threads
//! calling the log's append directly, beside the naive prototype, disruptor,
//! crossbeam-channel and the `mutex-vec` ring in the same group. The workloads
//! are `support` (shared with `idemlog bench`; its docs give the method).
//! `IDEMLOG_BENCH_QUICK=1` shrinks the grid and the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;
// Each bench target uses its own part of the shared harness. A `harness =
// false` target is compiled with cfg(test) but no test harness, so the
// harness's unit tests (run by `cargo test --bin idemlog`) leave unused imports.
#[allow(dead_code)]
#[cfg_attr(test, allow(unused_imports))]
mod support;

use common::{measure, quick};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use support::engine::Mode;
use support::shape::AppendShape;
use support::workloads::AppendTarget;

/// Every peer an append is compared with.
const PEERS: [AppendTarget; 4] = [
    AppendTarget::Naive,
    AppendTarget::Disruptor,
    AppendTarget::Channel,
    AppendTarget::MutexVec,
];

/// Record sizes 16, 64, 256 and 1024 B (quick mode: 64 B) x batches 1, 16,
/// 64 x (1 producer, 2 producers on one partition, 2 on their own).
fn shapes() -> Vec<AppendShape> {
    let sizes: &[usize] = if quick() { &[64] } else { &[16, 64, 256, 1024] };
    let mut shapes = Vec::new();
    for &size in sizes {
        for batch in [1, 16, 64] {
            shapes.push(AppendShape::new(size, batch, 1, true));
            shapes.push(AppendShape::new(size, batch, 2, true));
            shapes.push(AppendShape::new(size, batch, 2, false));
        }
    }
    shapes
}

fn group(c: &mut Criterion, name: &str, shapes: Vec<AppendShape>) {
    let mut group = c.benchmark_group(name);
    for shape in shapes {
        for target in std::iter::once(AppendTarget::Engine(Mode::Idempotent)).chain(PEERS) {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), shape.id()),
                shape.unit(),
                || target.runner(shape),
            );
        }
    }
    group.finish();
}

fn direct(c: &mut Criterion) {
    group(c, "append/direct", shapes());
}

/// The owned flavour: 64 B records, batches 1 and 64, every layout.
fn owned(c: &mut Criterion) {
    let shapes = shapes()
        .into_iter()
        .filter(|shape| shape.record_size == 64 && shape.batch != 16)
        .map(AppendShape::owned)
        .collect();
    group(c, "append/owned", shapes);
}

fn idempotence(c: &mut Criterion) {
    let mut group = c.benchmark_group("append/idempotence");
    for batch in [1, 16, 64] {
        let shape = AppendShape::new(64, batch, 1, true);
        for mode in [Mode::Idempotent, Mode::Plain, Mode::IdempotentRetries] {
            let target = AppendTarget::Engine(mode);
            measure(
                &mut group,
                BenchmarkId::new(target.name(), shape.id()),
                shape.unit(),
                || target.runner(shape),
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = direct, owned, idempotence
}
criterion_main!(benches);
