//! Side-by-side measurement (`idemlog bench`): every runner of a comparison is
//! sized to the same round time, then the runners take turns (engine, peer,
//! peer, engine, ...) and each one's median is taken. A round of a runner with
//! two or more busy threads counts only if the process got at least
//! [`MIN_CPU_PER_WALL`] seconds of CPU per second of wall time during it:
//! below that the second vCPU was taken by someone else, and the round measured
//! the host, not the code. Discarded rounds are re-run (up to a limit) and counted.

use std::time::Duration;

use super::crew::Runner;
use super::latency::{Histogram, LatencySummary};
use super::process::minor_faults;

/// Process CPU time per wall time a two-thread round must reach to count.
pub(crate) const MIN_CPU_PER_WALL: f64 = 1.8;

/// Rounds tried per runner, as a multiple of the rounds wanted, before giving up
/// on collecting enough rounds that pass the CPU check.
const MAX_TRIES_PER_ROUND: usize = 3;

/// The result of several interleaved rounds of one runner.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured {
    /// Median records per second of the rounds kept.
    pub rps: f64,
    /// Slowest kept round, records per second.
    pub min_rps: f64,
    /// Fastest kept round, records per second.
    pub max_rps: f64,
    /// Rounds that passed the CPU/wall check (or were not checked).
    pub kept: usize,
    /// Rounds that failed the CPU/wall check.
    pub discarded: usize,
    /// True if no round passed the check: the figures are then of the failed
    /// rounds, and say so.
    pub unchecked: bool,
    /// Median process CPU/wall of the rounds kept.
    pub cpu_per_wall: f64,
    /// Minor page faults of the process per million records, over all rounds.
    pub faults_per_million: f64,
    /// Producer-to-consumer latency over the same rounds as the rates (a
    /// runner that measures it: [`Runner::take_latency`]).
    pub latency: Option<LatencySummary>,
}

impl Measured {
    /// `"42.1 M/s (40.3-44.0), cpu/wall 1.96, 1 of 8 rounds discarded"`, with
    /// `", p50 1.9 us, p99 41.0 us (31000 samples)"` after the rates for a
    /// runner that measures latency.
    pub(crate) fn summary(&self) -> String {
        let mut text = format!(
            "{:.1} M/s ({:.1}-{:.1})",
            self.rps / 1e6,
            self.min_rps / 1e6,
            self.max_rps / 1e6,
        );
        if let Some(latency) = &self.latency {
            text.push_str(&format!(", {}", latency.text()));
        }
        text.push_str(&format!(", cpu/wall {:.2}", self.cpu_per_wall));
        let total = self.kept + self.discarded;
        if self.unchecked {
            text.push_str(&format!(
                ", no round of {total} reached cpu/wall {MIN_CPU_PER_WALL}: figures of all"
            ));
        } else if self.discarded > 0 {
            text.push_str(&format!(
                ", {} of {total} rounds discarded (cpu/wall < {MIN_CPU_PER_WALL})",
                self.discarded
            ));
        }
        text
    }
}

/// Records per round so that one round of `runner` takes about `round`.
pub(crate) fn round_size(runner: &mut dyn Runner, round: Duration) -> u64 {
    let unit = runner.unit();
    let mut records = 4096u64.div_ceil(unit) * unit;
    loop {
        let elapsed = runner.run(records).wall;
        if elapsed >= round / 8 || records >= 1 << 34 {
            let scale = round.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            let wanted = (records as f64 * scale) as u64;
            return wanted.div_ceil(unit).max(1) * unit;
        }
        records *= 2;
    }
}

/// One round's outcome.
#[derive(Clone, Copy)]
struct Round {
    rps: f64,
    cpu_per_wall: f64,
}

/// True if a round of a runner with `busy_threads` busy threads must pass the
/// CPU/wall check on a machine with `cores` cores.
fn checked(busy_threads: usize, cores: usize) -> bool {
    busy_threads >= 2 && cores >= 2
}

/// Sizes every runner to `round`, then runs them in turn until each has `reps`
/// rounds that pass the CPU/wall check (or has been tried
/// `MAX_TRIES_PER_ROUND * reps` times), and summarises each (latencies, for a
/// runner that records them, over the same rounds as its rates; those of the
/// sizing rounds are dropped).
pub(crate) fn interleave(
    runners: &mut [Box<dyn Runner>],
    round: Duration,
    reps: usize,
) -> Vec<Measured> {
    let reps = reps.max(1);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sizes: Vec<u64> = runners
        .iter_mut()
        .map(|runner| {
            let size = round_size(runner.as_mut(), round);
            runner.take_latency();
            size
        })
        .collect();
    // Latencies of the kept rounds and of the discarded ones, per runner.
    let mut latencies: Vec<[Option<Histogram>; 2]> = vec![[None, None]; runners.len()];
    let mut kept: Vec<Vec<Round>> = vec![Vec::with_capacity(reps); runners.len()];
    let mut discarded: Vec<Vec<Round>> = vec![Vec::new(); runners.len()];
    let mut faults = vec![0u64; runners.len()];
    for _ in 0..reps * MAX_TRIES_PER_ROUND {
        let mut pending = false;
        for (index, runner) in runners.iter_mut().enumerate() {
            if kept[index].len() >= reps {
                continue;
            }
            pending = true;
            let faults_before = minor_faults();
            let timing = runner.run(sizes[index]);
            let latency = runner.take_latency();
            faults[index] += minor_faults().saturating_sub(faults_before);
            let wall = timing.wall.as_secs_f64().max(1e-9);
            let outcome = Round {
                rps: sizes[index] as f64 / wall,
                cpu_per_wall: timing.cpu.as_secs_f64() / wall,
            };
            let discard =
                checked(runner.busy_threads(), cores) && outcome.cpu_per_wall < MIN_CPU_PER_WALL;
            if discard {
                discarded[index].push(outcome);
            } else {
                kept[index].push(outcome);
            }
            if let Some(latency) = latency {
                latencies[index][usize::from(discard)]
                    .get_or_insert_with(Histogram::default)
                    .merge(&latency);
            }
        }
        if !pending {
            break;
        }
    }
    kept.into_iter()
        .zip(discarded)
        .zip(faults.iter().zip(&sizes))
        .zip(latencies)
        .map(|(((kept, discarded), (&faults, &size)), latency)| {
            let (count, kept_count, discarded_count) =
                (kept.len() + discarded.len(), kept.len(), discarded.len());
            let unchecked = kept.is_empty();
            let [kept_latency, discarded_latency] = latency;
            let latency = if unchecked {
                discarded_latency
            } else {
                kept_latency
            };
            let mut rounds = if unchecked { discarded } else { kept };
            let median = |rounds: &mut Vec<Round>, key: fn(&Round) -> f64| {
                rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
                key(&rounds[rounds.len() / 2])
            };
            let cpu_per_wall = median(&mut rounds, |r| r.cpu_per_wall);
            let rps = median(&mut rounds, |r| r.rps);
            Measured {
                rps,
                min_rps: rounds[0].rps,
                max_rps: rounds[rounds.len() - 1].rps,
                kept: kept_count,
                discarded: discarded_count,
                unchecked,
                cpu_per_wall,
                faults_per_million: faults as f64 * 1e6 / (size as f64 * count as f64),
                latency: latency.as_ref().and_then(Histogram::summary),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_multi_threaded_rounds_on_multi_core_machines_are_checked() {
        assert!(!checked(1, 2));
        assert!(checked(2, 2));
        assert!(!checked(2, 1));
    }
}
