//! `consume/scan` (one consumer reading a filled partition) and `consume/tail`
//! (one consumer reading while one producer writes), beside crossbeam-channel and
//! `Mutex<Vec<Record>>` in the same group. Workloads: `idemlog::benchkit`.
//! `IDEMLOG_BENCH_QUICK=1` shrinks the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;

use common::{configured, measure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use idemlog::benchkit::{ScanTarget, TailTarget};

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
