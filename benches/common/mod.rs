//! Criterion plumbing shared by the bench targets: sample settings, quick mode,
//! one runner as one benchmark. The workloads are the shared harness in
//! `support` (also run by `idemlog bench`).
//!
//! Quick mode: `IDEMLOG_BENCH_QUICK=1` shrinks the default sample times and the
//! `append/direct` grid to 64 B records. Criterion's own `--quick` (after
//! `--`) also works: it runs each benchmark only until its estimate is stable
//! (at most the measurement time), over the full grid.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};

use crate::support::crew::Runner;

/// The environment variable that selects quick mode.
pub(crate) const QUICK_ENV: &str = "IDEMLOG_BENCH_QUICK";

/// True if `IDEMLOG_BENCH_QUICK` is set to something other than `0` or empty.
pub(crate) fn quick() -> bool {
    std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The bench targets' `Criterion` (their `criterion_group!` config): 10
/// samples over 2 s after 0.5 s of warm-up, or in quick mode 10 samples over
/// 0.3 s after 0.1 s. These are defaults on the `Criterion` itself, which
/// `configure_from_args` then overrides from the command line
/// (`--warm-up-time`, `--measurement-time`, `--sample-size`); set on a group
/// they would override the command line instead.
pub(crate) fn criterion() -> Criterion {
    let (warm_up, measurement) = if quick() {
        (Duration::from_millis(100), Duration::from_millis(300))
    } else {
        (Duration::from_millis(500), Duration::from_secs(2))
    };
    Criterion::default()
        .sample_size(10)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

/// Benchmarks the runner `build` makes, one criterion iteration being `unit`
/// records (a multiple of the runner's unit). The runner is built only if
/// criterion's filter selects `id`, and dropped before the next benchmark.
pub(crate) fn measure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    unit: u64,
    build: impl FnOnce() -> Box<dyn Runner>,
) {
    let mut build = Some(build);
    let mut runner: Option<Box<dyn Runner>> = None;
    group.throughput(Throughput::Elements(unit));
    group.bench_function(id, |b| {
        let runner = runner.get_or_insert_with(|| build.take().expect("built once")());
        assert_eq!(unit % runner.unit(), 0, "a whole number of runner units");
        b.iter_custom(|iters| runner.run(iters * unit).wall)
    });
}
