//! `append/direct` and `append/idempotence`: producer threads calling the log's
//! append directly, beside crossbeam-channel and `Mutex<Vec<Record>>` in the same
//! group. The workloads are `idemlog::benchkit` (shared with `idemlog bench`);
//! see its docs for the method (persistent threads released by a barrier,
//! steady-state pre-faulted memory, black_box). `IDEMLOG_BENCH_QUICK=1` shrinks
//! the grid and the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use idemlog::benchkit::{self, AppendShape, AppendTarget, Runner};

fn configured<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let settings = benchkit::criterion_settings();
    let mut group = c.benchmark_group(name);
    group
        .sample_size(settings.sample_size)
        .warm_up_time(settings.warm_up)
        .measurement_time(settings.measurement);
    group
}

/// Benchmarks one runner; one criterion iteration is one `unit` of records.
fn measure(group: &mut BenchmarkGroup<'_, WallTime>, id: BenchmarkId, mut runner: Box<dyn Runner>) {
    let unit = runner.unit();
    group.throughput(Throughput::Elements(unit));
    group.bench_function(id, |b| b.iter_custom(|iters| runner.run(iters * unit)));
}

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
