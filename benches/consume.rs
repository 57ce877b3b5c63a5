//! `consume/scan` (one consumer reading a filled partition) and `consume/tail`
//! (one consumer reading while one producer writes), beside crossbeam-channel and
//! `Mutex<Vec<Record>>` in the same group. Workloads: `idemlog::benchkit`.
//! `IDEMLOG_BENCH_QUICK=1` shrinks the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use idemlog::benchkit::{self, Runner, ScanTarget, TailTarget};

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

fn scan(c: &mut Criterion) {
    let mut group = configured(c, "consume/scan");
    for size in [64, 1024] {
        for target in [
            ScanTarget::Engine,
            ScanTarget::MutexVec,
            ScanTarget::Channel,
        ] {
            measure(
                &mut group,
                BenchmarkId::new(target.name(), format!("{size}B")),
                target.runner(size),
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
                target.runner(64, batch),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, scan, tail);
criterion_main!(benches);
