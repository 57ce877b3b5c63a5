//! The demo's sending phase, the same on every backend: `--threads` threads
//! send their share of the records through one producer, flush, and count
//! what was acknowledged.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use idemlog::producer::sim::SplitMix64;
use idemlog::producer::{DeliveryHandle, Producer, ProducerRecord};

use crate::demo::{Mode, Options};

/// What the sending phase reports.
pub(crate) struct Sent {
    /// Distinct records acknowledged: a delivery result `Ok` for at least one
    /// copy (with or without an offset: a broker may answer a deduplicated
    /// retry without one).
    pub(crate) acked: u64,
    /// Wall time of the phase (sends, flush, waits).
    pub(crate) elapsed: Duration,
}

/// A hand-written progress bar on stderr.
struct Progress {
    enabled: bool,
    total: u64,
    shown: AtomicU64,
    sent: AtomicU64,
}

impl Progress {
    /// Counts `n` more records sent and redraws if the percentage moved.
    fn add(&self, label: &str, n: u64) {
        // Relaxed: a progress counter only.
        let done = self.sent.fetch_add(n, Ordering::Relaxed) + n;
        self.show(label, done);
    }

    fn show(&self, label: &str, done: u64) {
        if !self.enabled {
            return;
        }
        let percent = done * 100 / self.total.max(1);
        // Relaxed: only throttles redraws; no data is published through it.
        let last = self.shown.swap(percent, Ordering::Relaxed);
        if last == percent && done != self.total {
            return;
        }
        let filled = (percent / 4) as usize;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{label:<20} [{}{}] {percent:>3}%",
            "#".repeat(filled),
            ".".repeat(25 - filled.min(25))
        );
        if done == self.total {
            let _ = writeln!(err);
        }
    }
}

/// Sends every record of `mode` to `topic` from `options.threads` threads,
/// each flushing `producer` (waiting up to `flush_timeout`) and then waiting
/// for its deliveries. The caller closes the producer.
pub(crate) fn send_all(
    producer: &Producer,
    topic: &str,
    options: &Options,
    mode: Mode,
    flush_timeout: Duration,
) -> Result<Sent, String> {
    let progress = Progress {
        enabled: options.progress,
        total: options.records,
        shown: AtomicU64::new(u64::MAX),
        sent: AtomicU64::new(0),
    };
    let started = Instant::now();
    let acked: Vec<Result<u64, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..options.threads as u64)
            .map(|t| {
                let sender = Sender {
                    producer,
                    topic,
                    options,
                    mode,
                    progress: &progress,
                };
                scope.spawn(move || sender.run(t, flush_timeout))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a sender panicked".into())))
            .collect()
    });
    let elapsed = started.elapsed();
    progress.show(mode.name(), options.records);
    let acked = acked.into_iter().sum::<Result<u64, String>>()?;
    Ok(Sent { acked, elapsed })
}

/// One sending thread's view of the phase.
#[derive(Clone, Copy)]
struct Sender<'a> {
    producer: &'a Producer,
    topic: &'a str,
    options: &'a Options,
    mode: Mode,
    progress: &'a Progress,
}

impl Sender<'_> {
    /// Thread `t`'s records "t:i", keyed "key-t-(i % 64)"; in the resend mode
    /// some are sent twice (the application's own timeout fired). Returns how
    /// many of its distinct records were acknowledged.
    fn run(self, t: u64, flush_timeout: Duration) -> Result<u64, String> {
        let mut rng = SplitMix64::new(self.options.seed.wrapping_add(t));
        let count = self.options.per_thread(t);
        let mut handles: Vec<(u64, DeliveryHandle)> = Vec::with_capacity(count as usize);
        let (mut value, mut key) = (String::new(), String::new());
        for i in 0..count {
            value.clear();
            key.clear();
            let _ = write!(value, "{t}:{i}");
            let _ = write!(key, "key-{t}-{}", i % 64);
            let record = ProducerRecord::new(self.topic, &value).key(&key);
            let copies = if self.mode == Mode::ExactlyOnceResend
                && rng.next_f64() < self.options.response_loss
            {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let handle = self.producer.send(record).map_err(|e| e.to_string())?;
                handles.push((i, handle));
            }
            if i % 4096 == 4095 {
                self.progress.add(self.mode.name(), 4096);
            }
        }
        // Virtual time (in process): linger ends with the flush (TimeSource docs).
        self.producer
            .flush(flush_timeout)
            .map_err(|e| e.to_string())?;
        let mut acked = vec![false; count as usize];
        for (i, handle) in handles {
            if handle.wait().is_ok() {
                acked[i as usize] = true;
            }
        }
        Ok(acked.iter().filter(|&&a| a).count() as u64)
    }
}
