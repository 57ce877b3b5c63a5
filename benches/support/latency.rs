//! Latency of a record from its producer to its consumer: a log-bucketed
//! histogram each consumer thread fills without allocating (16 buckets per
//! power of two, so a quantile is within 6.25% of the true value), merged once
//! per round, and read by [`super::measure`] through
//! [`Runner::take_latency`](super::crew::Runner::take_latency).

use std::time::Instant;

/// Sub-buckets per power of two: 2^4 = 16.
const SUB_BITS: u32 = 4;
const SUBS: usize = 1 << SUB_BITS;
/// Buckets for every u64: values below 16 exactly, then 16 per power of two.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUBS;

/// Nanoseconds since `origin`, at least 1 (0 marks a record that carries no
/// timestamp).
#[inline]
pub(crate) fn stamp(origin: Instant) -> u64 {
    (origin.elapsed().as_nanos() as u64).max(1)
}

/// Counts of latencies in nanoseconds, log-bucketed.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64]>,
    samples: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            samples: 0,
        }
    }
}

impl Histogram {
    /// The bucket of `value`: below 16 the value itself; else 16 buckets per
    /// power of two, by the 4 bits after the leading one.
    #[inline]
    fn bucket(value: u64) -> usize {
        if value < SUBS as u64 {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros();
        let sub = (value >> (exponent - SUB_BITS)) as usize & (SUBS - 1);
        (exponent - SUB_BITS + 1) as usize * SUBS + sub
    }

    /// The middle of bucket `index`'s range.
    fn middle(index: usize) -> f64 {
        if index < SUBS {
            return index as f64;
        }
        let shift = (index / SUBS) as u32 - 1;
        let low = ((SUBS + index % SUBS) as u64) << shift;
        low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
    }

    /// Counts one latency of `nanos`.
    #[inline]
    pub(crate) fn record(&mut self, nanos: u64) {
        self.counts[Self::bucket(nanos)] += 1;
        self.samples += 1;
    }

    /// Latencies counted.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.samples += other.samples;
    }

    /// Forgets every count.
    pub(crate) fn clear(&mut self) {
        self.counts.fill(0);
        self.samples = 0;
    }

    /// The `q` quantile (0..=1) in nanoseconds (the middle of its bucket);
    /// `None` without samples.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        if self.samples == 0 {
            return None;
        }
        let rank = ((q * self.samples as f64).ceil() as u64).clamp(1, self.samples);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Self::middle(index));
            }
        }
        None
    }

    /// p50 and p99 (`None` without samples).
    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        Some(LatencySummary {
            p50_ns: self.quantile(0.50)?,
            p99_ns: self.quantile(0.99)?,
            samples: self.samples,
        })
    }
}

/// The quantiles a report shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LatencySummary {
    /// Median, nanoseconds.
    pub p50_ns: f64,
    /// 99th percentile, nanoseconds.
    pub p99_ns: f64,
    /// Latencies counted.
    pub samples: u64,
}

impl LatencySummary {
    /// `"p50 1.9 us, p99 41.0 us (31000 samples)"`.
    pub(crate) fn text(&self) -> String {
        format!(
            "p50 {:.1} us, p99 {:.1} us ({} samples)",
            self.p50_ns / 1e3,
            self.p99_ns / 1e3,
            self.samples
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_a_sixteenth() {
        let mut previous = 0;
        for value in 1..100_000u64 {
            let bucket = Histogram::bucket(value);
            assert!(bucket == previous || bucket == previous + 1, "{value}");
            previous = bucket;
            let middle = Histogram::middle(bucket);
            assert!(
                (middle - value as f64).abs() <= value as f64 / 16.0,
                "{value}"
            );
        }
        assert!(Histogram::bucket(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut histogram = Histogram::default();
        assert_eq!(histogram.summary(), None);
        for value in 1..=1000u64 {
            histogram.record(value * 1000);
        }
        let mut other = Histogram::default();
        other.merge(&histogram);
        let summary = other.summary().expect("samples");
        assert_eq!(summary.samples, 1000);
        assert!((summary.p50_ns / 500_000.0 - 1.0).abs() < 0.07);
        assert!((summary.p99_ns / 990_000.0 - 1.0).abs() < 0.07);
        other.clear();
        assert_eq!(other.samples(), 0);
    }
}
