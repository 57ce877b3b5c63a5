//! `produce/end-to-end`: application threads -> `Producer::send` -> accumulator ->
//! flusher -> log -> every delivery handle completed, idempotent and not, beside
//! crossbeam-channel carrying the same records from the same threads to one
//! receiver. Workloads: `idemlog::benchkit` (shared with `idemlog bench`).
//! `IDEMLOG_BENCH_QUICK=1` shrinks the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use idemlog::benchkit::{self, ProduceTarget, Runner};

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

fn end_to_end(c: &mut Criterion) {
    let mut group = configured(c, "produce/end-to-end");
    for threads in [1, 2] {
        for target in [
            ProduceTarget::Idempotent,
            ProduceTarget::Plain,
            ProduceTarget::Channel,
        ] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), format!("t{threads}-64B")),
                target.runner(threads, 64),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
