//! Criterion plumbing shared by the bench targets (the workloads themselves are
//! `idemlog::benchkit`, shared with `idemlog bench`).

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use idemlog::benchkit::{self, Runner};

/// A benchmark group with the sample settings of `benchkit::criterion_settings`
/// (`IDEMLOG_BENCH_QUICK=1` shrinks them).
pub(crate) fn configured<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let settings = benchkit::criterion_settings();
    let mut group = c.benchmark_group(name);
    group
        .sample_size(settings.sample_size)
        .warm_up_time(settings.warm_up)
        .measurement_time(settings.measurement);
    group
}

/// Benchmarks one runner; one criterion iteration is one `unit` of records.
pub(crate) fn measure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    mut runner: Box<dyn Runner>,
) {
    let unit = runner.unit();
    group.throughput(Throughput::Elements(unit));
    group.bench_function(id, |b| b.iter_custom(|iters| runner.run(iters * unit)));
}
