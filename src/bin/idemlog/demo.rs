//! `idemlog demo`: the delivery modes side by side under injected faults.
//!
//! Several threads send records through one producer per mode into a
//! multi-partition topic over a link that drops requests and responses; then the
//! whole log is read back and checked: duplicates, records lost, per-partition
//! order. The producers run in virtual time (see `idemlog::producer::TimeSource`):
//! a lost response costs its request timeout on the virtual clock, not in real
//! time, so the demo takes seconds.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use idemlog::producer::sim::{LinkConfig, SplitMix64};
use idemlog::producer::{DeliveryHandle, Producer, ProducerConfig, ProducerRecord, TimeSource};
use idemlog::Log;

const HELP: &str = "usage: idemlog demo [OPTIONS]

Sends records from several threads through a producer per delivery mode, over a
link that loses requests and responses (seeded), then reads the log back and
prints one row per mode:
  mode        at-most-once (acks=1, retries=0), at-least-once (no idempotence),
              exactly-once (idempotent), exactly-once+resend (idempotent, but the
              application re-sends some records itself: the log cannot know, so
              those duplicate)
  sent        distinct records the application sent
  acked       of those, acknowledged (success reported)
  in log      records in the log (duplicates included)
  duplicates  records in the log more than once (extra copies)
  lost        sent records missing from the log (for exactly-once, where every
              record is acknowledged, that is acknowledged-but-missing)
  reordered   records that appear in their partition before an earlier record
              of the same sending thread; for exactly-once, those in a batch
              that starts a new producer epoch after later batches are marked
              with *: the contract's first-batch case (idemlog::implementation,
              P7: first batches refused with a retriable error while later
              ones were in flight land after them; nothing lost or doubled)
  records/s   sent / wall time of the sending phase
Exit status 1 if exactly-once shows any duplicate, loss or reordering (beyond
the first-batch case), or is not fully acknowledged. Producers run in virtual time (request.timeout.ms=200 on the
virtual clock), so lost responses cost no real time; batch.size=4096, other
settings are Kafka's defaults.

options:
  --threads N         sending threads per mode (default 4)
  --partitions N      partitions of the topic (default 8)
  --records N         records per mode (default 100000)
  --request-loss P    probability a request never reaches the log (default 0.05)
  --response-loss P   probability a response is lost (default 0.05)
  --refusals P        probability the log refuses a request with a retriable
                      error, writing nothing (default 0.02)
  --delay P           probability a request is delayed 1..50 ms (default 0.02)
  --seed N            seed of the faults and the re-sends (default 42)
  --json              one JSON object per mode: {\"mode\", \"sent\", \"acked\",
                      \"in_log\", \"duplicates\", \"lost\", \"reordered\",
                      \"reordered_first_batch\", \"records_per_sec\"}
  --progress          always show the progress bar (default: runs of 500000+
                      records per mode)
  --help              this text";

struct Options {
    threads: usize,
    partitions: u32,
    records: u64,
    request_loss: f64,
    response_loss: f64,
    refusals: f64,
    delay: f64,
    seed: u64,
    json: bool,
    progress: bool,
}

fn value<T: std::str::FromStr>(flag: &str, raw: Option<&String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{flag}: '{raw}' is not a valid value"))
}

fn rate(flag: &str, raw: Option<&String>) -> Result<f64, String> {
    let p: f64 = value(flag, raw)?;
    if (0.0..=0.5).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{flag}: {p} is outside 0..=0.5"))
    }
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        threads: 4,
        partitions: 8,
        records: 100_000,
        request_loss: 0.05,
        response_loss: 0.05,
        refusals: 0.02,
        delay: 0.02,
        seed: 42,
        json: false,
        progress: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = value(arg, args.next())?,
            "--partitions" => options.partitions = value(arg, args.next())?,
            "--records" => options.records = value(arg, args.next())?,
            "--request-loss" => options.request_loss = rate(arg, args.next())?,
            "--response-loss" => options.response_loss = rate(arg, args.next())?,
            "--refusals" => options.refusals = rate(arg, args.next())?,
            "--delay" => options.delay = rate(arg, args.next())?,
            "--seed" => options.seed = value(arg, args.next())?,
            "--json" => options.json = true,
            "--progress" => options.progress = true,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if !(1..=256).contains(&options.threads) {
        return Err(format!("--threads: {} is outside 1..=256", options.threads));
    }
    if !(1..=1024).contains(&options.partitions) {
        return Err(format!(
            "--partitions: {} is outside 1..=1024",
            options.partitions
        ));
    }
    if !(1..=50_000_000).contains(&options.records) {
        return Err(format!(
            "--records: {} is outside 1..=50000000",
            options.records
        ));
    }
    if options.records >= 500_000 {
        options.progress = true;
    }
    Ok(Some(options))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
    ExactlyOnceResend,
}

impl Mode {
    const ALL: [Mode; 4] = [
        Mode::AtMostOnce,
        Mode::AtLeastOnce,
        Mode::ExactlyOnce,
        Mode::ExactlyOnceResend,
    ];

    fn name(self) -> &'static str {
        match self {
            Mode::AtMostOnce => "at-most-once",
            Mode::AtLeastOnce => "at-least-once",
            Mode::ExactlyOnce => "exactly-once",
            Mode::ExactlyOnceResend => "exactly-once+resend",
        }
    }

    fn config(self) -> ProducerConfig {
        match self {
            Mode::AtMostOnce => ProducerConfig::at_most_once(),
            Mode::AtLeastOnce => ProducerConfig::at_least_once(),
            Mode::ExactlyOnce | Mode::ExactlyOnceResend => ProducerConfig::exactly_once(),
        }
    }
}

struct Row {
    mode: Mode,
    sent: u64,
    acked: u64,
    in_log: u64,
    duplicates: u64,
    lost: u64,
    reordered: u64,
    /// Of `reordered`, those of the first-batch case (a batch starting a new
    /// epoch, landing after later batches of the epoch before).
    reordered_first_batch: u64,
    records_per_sec: f64,
}

/// A hand-written progress bar on stderr.
struct Progress {
    enabled: bool,
    total: u64,
    shown: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn show(&self, label: &str, done: u64) {
        if !self.enabled {
            return;
        }
        let percent = done * 100 / self.total.max(1);
        // Relaxed: only throttles redraws; no data is published through it.
        let last = self
            .shown
            .swap(percent, std::sync::atomic::Ordering::Relaxed);
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

fn run_mode(options: &Options, mode: Mode) -> Result<Row, String> {
    let log = Log::new();
    log.create_topic("demo", options.partitions)
        .map_err(|e| e.to_string())?;
    let link = LinkConfig::new()
        .seed(options.seed ^ mode as u64)
        .drop_request_rate(options.request_loss)
        .drop_response_rate(options.response_loss)
        .retriable_error_rate(options.refusals)
        .delay_rate(options.delay, 50);
    let config = mode
        .config()
        .request_timeout_ms(200)
        .retry_backoff_ms(10)
        .batch_size(4096)
        .link(link)
        .time(TimeSource::virtual_time());
    let producer = Producer::new(&log, config).map_err(|e| e.to_string())?;
    let threads = options.threads as u64;
    let per_thread = |t: u64| options.records / threads + u64::from(t < options.records % threads);
    let progress = Progress {
        enabled: options.progress,
        total: options.records,
        shown: std::sync::atomic::AtomicU64::new(u64::MAX),
    };
    let sent_so_far = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let acked_per_thread: Vec<Result<Vec<bool>, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (producer, progress, sent_so_far) = (&producer, &progress, &sent_so_far);
                scope.spawn(move || {
                    let mut rng = SplitMix64::new(options.seed.wrapping_add(t));
                    let count = per_thread(t);
                    let mut handles: Vec<(u64, DeliveryHandle)> =
                        Vec::with_capacity(count as usize);
                    let (mut value, mut key) = (String::new(), String::new());
                    for i in 0..count {
                        use std::fmt::Write as _;
                        value.clear();
                        key.clear();
                        let _ = write!(value, "{t}:{i}");
                        let _ = write!(key, "key-{t}-{}", i % 64);
                        let record = ProducerRecord::new("demo", &value).key(&key);
                        let copies = if mode == Mode::ExactlyOnceResend
                            && rng.next_f64() < options.response_loss
                        {
                            2 // the application's own timeout fired: it re-sends
                        } else {
                            1
                        };
                        for _ in 0..copies {
                            let handle = producer.send(record).map_err(|e| e.to_string())?;
                            handles.push((i, handle));
                        }
                        if i % 4096 == 4095 {
                            // Relaxed: a progress counter only.
                            let done =
                                sent_so_far.fetch_add(4096, std::sync::atomic::Ordering::Relaxed);
                            progress.show(mode.name(), done + 4096);
                        }
                    }
                    // Virtual time: linger ends with the flush (TimeSource docs).
                    producer.flush(Duration::MAX).map_err(|e| e.to_string())?;
                    let mut acked = vec![false; count as usize];
                    for (i, handle) in handles {
                        if handle.wait().is_ok() {
                            acked[i as usize] = true;
                        }
                    }
                    Ok(acked)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a sender panicked".into())))
            .collect()
    });
    let elapsed = started.elapsed();
    progress.show(mode.name(), options.records);
    producer
        .close(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let acked_per_thread = acked_per_thread
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let acked = acked_per_thread
        .iter()
        .map(|a| a.iter().filter(|&&x| x).count() as u64)
        .sum();
    let audit = audit(&log, options, &per_thread)?;
    Ok(Row {
        mode,
        sent: options.records,
        acked,
        in_log: audit.in_log,
        duplicates: audit.duplicates,
        lost: audit.lost,
        reordered: audit.reordered,
        reordered_first_batch: audit.reordered_first_batch,
        records_per_sec: options.records as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}

/// The (pid, epoch) a record was written under, if idempotent.
type Stamp = Option<(idemlog::ProducerId, u16)>;

/// What reading the log back found.
struct Audit {
    in_log: u64,
    duplicates: u64,
    lost: u64,
    reordered: u64,
    reordered_first_batch: u64,
}

/// Reads the whole log back.
fn audit(log: &Log, options: &Options, per_thread: &dyn Fn(u64) -> u64) -> Result<Audit, String> {
    let threads = options.threads as u64;
    let mut seen: Vec<Vec<u32>> = (0..threads)
        .map(|t| vec![0; per_thread(t) as usize])
        .collect();
    let (mut in_log, mut reordered, mut first_batch, mut bad) = (0u64, 0u64, 0u64, 0u64);
    for p in 0..options.partitions {
        let mut consumer = log.consumer("demo", p).map_err(|e| e.to_string())?;
        // Per sending thread: its highest record index read so far in this
        // partition, and the (pid, epoch) that record was written under.
        let mut highest: Vec<Option<(u64, Stamp)>> = vec![None; threads as usize];
        loop {
            let read = consumer
                .poll_with(65_536, |view| {
                    in_log += 1;
                    let parsed = std::str::from_utf8(view.value).ok().and_then(|v| {
                        let (t, i) = v.split_once(':')?;
                        Some((t.parse::<u64>().ok()?, i.parse::<u64>().ok()?))
                    });
                    let Some((t, i)) = parsed.filter(|&(t, i)| t < threads && i < per_thread(t))
                    else {
                        bad += 1;
                        return;
                    };
                    let stamp = view.producer.map(|m| (m.producer_id, m.epoch));
                    let count = &mut seen[t as usize][i as usize];
                    *count += 1;
                    let high = &mut highest[t as usize];
                    if let Some((h, high_stamp)) = *high {
                        if *count == 1 && i < h {
                            reordered += 1;
                            // Written under another epoch than the later record
                            // before it: re-sequenced after an epoch bump.
                            first_batch += u64::from(stamp.is_some() && stamp != high_stamp);
                        }
                    }
                    if high.is_none_or(|(h, _)| i > h) {
                        *high = Some((i, stamp));
                    }
                })
                .map_err(|e| e.to_string())?;
            if read == 0 {
                break;
            }
        }
    }
    if bad > 0 {
        return Err(format!(
            "{bad} records in the log were not sent by the demo"
        ));
    }
    let distinct = seen.iter().flatten().filter(|&&c| c > 0).count() as u64;
    Ok(Audit {
        in_log,
        duplicates: in_log - distinct,
        lost: options.records - distinct,
        reordered,
        reordered_first_batch: first_batch,
    })
}

pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match super::options_or_exit("demo", HELP, parse(args)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if !options.json {
        println!(
            "{} threads, {} partitions, {} records per mode, request loss {}, response loss {}, \
             refusals {}, delay {}, seed {}",
            options.threads,
            options.partitions,
            options.records,
            options.request_loss,
            options.response_loss,
            options.refusals,
            options.delay,
            options.seed
        );
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>11}",
            "mode", "sent", "acked", "in log", "duplicates", "lost", "reordered", "records/s"
        );
    }
    let mut healthy = true;
    let mut first_batch_notes = 0;
    for mode in Mode::ALL {
        let row = match run_mode(&options, mode) {
            Ok(row) => row,
            Err(message) => {
                eprintln!("idemlog demo: {}: {message}", mode.name());
                return ExitCode::FAILURE;
            }
        };
        let unexplained = row.reordered - row.reordered_first_batch;
        if mode == Mode::ExactlyOnce
            && (row.duplicates > 0 || row.lost > 0 || unexplained > 0 || row.acked != row.sent)
        {
            healthy = false;
        }
        first_batch_notes += u64::from(row.reordered_first_batch > 0);
        if options.json {
            println!(
                "{{\"mode\":\"{}\",\"sent\":{},\"acked\":{},\"in_log\":{},\"duplicates\":{},\
                 \"lost\":{},\"reordered\":{},\"reordered_first_batch\":{},\
                 \"records_per_sec\":{:.0}}}",
                row.mode.name(),
                row.sent,
                row.acked,
                row.in_log,
                row.duplicates,
                row.lost,
                row.reordered,
                row.reordered_first_batch,
                row.records_per_sec
            );
        } else {
            let reordered = if row.reordered_first_batch > 0 && mode != Mode::AtLeastOnce {
                format!("{}*", row.reordered)
            } else {
                row.reordered.to_string()
            };
            println!(
                "{:<20} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>11.0}",
                row.mode.name(),
                row.sent,
                row.acked,
                row.in_log,
                row.duplicates,
                row.lost,
                reordered,
                row.records_per_sec
            );
        }
    }
    if first_batch_notes > 0 && !options.json {
        println!(
            "* the first-batch case (idemlog::implementation, P7): a partition's first batches \
             of an epoch, refused with a retriable error while later batches were in flight, \
             land after them under a new epoch; nothing lost or duplicated"
        );
    }
    if healthy {
        ExitCode::SUCCESS
    } else {
        eprintln!("idemlog demo: exactly-once broke its promise (see the row above)");
        ExitCode::FAILURE
    }
}
