//! `append/direct` and `append/idempotence`: producer threads calling the log's
//! append directly, beside crossbeam-channel and `Mutex<Vec<Record>>` in the same
//! group. The workloads are `idemlog::benchkit` (shared with `idemlog bench`);
//! see its docs for the method (persistent threads released by a barrier,
//! steady-state pre-faulted memory, black_box). `IDEMLOG_BENCH_QUICK=1` shrinks
//! the grid and the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;

use common::{configured, measure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use idemlog::benchkit::{self, AppendShape, AppendTarget};

fn direct(c: &mut Criterion) {
    let mut group = configured(c, "append/direct");
    for shape in benchkit::direct_shapes() {
        let mut targets = vec![
            AppendTarget::Idempotent,
            AppendTarget::Channel,
            AppendTarget::MutexVec,
        ];
        if shape.batch > 1 {
            targets.push(AppendTarget::ChannelBatched);
        }
        for target in targets {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), shape.id()),
                target.runner(shape),
            );
        }
    }
    group.finish();
}

fn idempotence(c: &mut Criterion) {
    let mut group = configured(c, "append/idempotence");
    for batch in [1, 16, 64] {
        let shape = AppendShape::new(64, batch, 1, true);
        for target in [
            AppendTarget::Idempotent,
            AppendTarget::Plain,
            AppendTarget::IdempotentRetries,
        ] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), shape.id()),
                target.runner(shape),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, direct, idempotence);
criterion_main!(benches);
