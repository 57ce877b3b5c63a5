//! `idemlog demo`: the delivery modes side by side under injected faults.
//!
//! Several threads send records through one producer per mode into a
//! multi-partition topic; then the topic is read back and audited (the same
//! audit on every backend, `demo_audit`): duplicates, records lost,
//! per-partition order. In process (`demo_in_process`) the producers go over a
//! simulated link that drops requests and responses, in virtual time (see
//! `idemlog::producer::TimeSource`), so the demo takes seconds; on Kafka
//! (`demo_kafka`, feature `kafka`) faults come from a proxy in front of the
//! broker, in real time.

use std::process::ExitCode;

use idemlog::producer::ProducerConfig;

use crate::demo_audit::Audit;
use crate::demo_send::Sent;

const HELP: &str = "usage: idemlog demo [OPTIONS]
       idemlog demo --backend kafka --bootstrap HOST:PORT [--upstream HOST:PORT] [OPTIONS]

Sends records from several threads through a producer per delivery mode, over a
link that loses requests and responses (seeded), then reads the records back and
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
              ones were in flight land after them; nothing lost or doubled).
              A Kafka consumer does not see the epochs: no * there
  records/s   sent / wall time of the sending phase
Exit status 1 if exactly-once shows any duplicate, loss or reordering (beyond
the first-batch case), or is not fully acknowledged.

backends:
  in-process  (default) a fresh log per mode, over a simulated link that loses,
              refuses and delays requests and loses responses; the producers run
              in virtual time (request.timeout.ms=200 on the virtual clock), so
              lost responses cost no real time; batch.size=4096, other settings
              are Kafka's defaults
  kafka       a Kafka cluster (a build with --features kafka): a fresh topic per
              run and mode, in real time; request.timeout.ms=1000,
              batch.size=4096, reconnect.backoff.max.ms=1000 (the proxy cuts
              the connection on each fault), other settings are Kafka's
              defaults. With
              --upstream the demo runs its fault proxy on the --bootstrap address
              in front of the broker at --upstream: each produce request is lost
              (--request-loss), or its response (--response-loss), at random
              (--seed), and the proxy then cuts the connection, as a network
              would. The broker must advertise the --bootstrap address, or the
              clients bypass the proxy once they have its metadata. Without
              --upstream no faults are injected.
              Against tansu (a Kafka-protocol broker), two commands:
                tansu broker --listener-url tcp://127.0.0.1:9093 \\
                  --advertised-listener-url tcp://127.0.0.1:9092 \\
                  --storage-engine memory://tansu/
                cargo run --release --features kafka -- demo --backend kafka \\
                  --bootstrap 127.0.0.1:9092 --upstream 127.0.0.1:9093

options:
  --backend B         in-process (default) or kafka
  --bootstrap H:P     kafka: the cluster's bootstrap address; with --upstream,
                      where the fault proxy listens (a local address)
  --upstream H:P      kafka: the broker behind the fault proxy
  --threads N         sending threads per mode (default 4)
  --partitions N      partitions of the topic (default 8)
  --records N         records per mode (default 100000 in process, 20000 on
                      kafka)
  --request-loss P    probability a request never reaches the log (default 0.05;
                      on kafka only with --upstream)
  --response-loss P   probability a response is lost (default 0.05; on kafka
                      only with --upstream); also the share of records the
                      exactly-once+resend mode re-sends
  --refusals P        in process: probability the log refuses a request with a
                      retriable error, writing nothing (default 0.02)
  --delay P           in process: probability a request is delayed 1..50 ms
                      (default 0.02)
  --seed N            seed of the faults and the re-sends (default 42)
  --json              one JSON object per mode: {\"mode\", \"sent\", \"acked\",
                      \"in_log\", \"duplicates\", \"lost\", \"reordered\",
                      \"reordered_first_batch\", \"records_per_sec\"}; on kafka
                      then one more: {\"backend\", \"bootstrap\", \"upstream\",
                      \"produce_requests\", \"faults_applied\"}
  --progress          always show the progress bar (default: runs of 500000+
                      records per mode)
  --help              this text";

/// Where the demo runs.
pub(crate) enum Backend {
    /// The in-process log (`demo_in_process`).
    InProcess,
    /// A Kafka cluster (`demo_kafka`), through the fault proxy if `upstream`
    /// names the broker.
    #[cfg(feature = "kafka")]
    Kafka {
        bootstrap: String,
        upstream: Option<String>,
    },
}

pub(crate) struct Options {
    pub(crate) backend: Backend,
    pub(crate) threads: usize,
    pub(crate) partitions: u32,
    pub(crate) records: u64,
    pub(crate) request_loss: f64,
    pub(crate) response_loss: f64,
    pub(crate) refusals: f64,
    pub(crate) delay: f64,
    pub(crate) seed: u64,
    pub(crate) json: bool,
    pub(crate) progress: bool,
}

impl Options {
    /// Records sent by thread `t`: an even share, the remainder to the first.
    pub(crate) fn per_thread(&self, t: u64) -> u64 {
        let threads = self.threads as u64;
        self.records / threads + u64::from(t < self.records % threads)
    }

    /// [`Options::per_thread`] of every thread.
    pub(crate) fn per_thread_counts(&self) -> Vec<u64> {
        (0..self.threads as u64)
            .map(|t| self.per_thread(t))
            .collect()
    }
}

fn value<T: std::str::FromStr>(flag: &str, raw: Option<&String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse()
        .map_err(|_| format!("{flag}: '{raw}' is not a valid value"))
}

fn rate(flag: &str, raw: Option<&String>) -> Result<f64, String> {
    let p: f64 = value(flag, raw)?;
    if (0.0..=MAX_FAULT_RATE).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{flag}: {p} is outside 0..=0.5"))
    }
}

/// The flags that pick the backend, checked together once all are read.
#[derive(Default)]
struct BackendFlags {
    name: Option<String>,
    bootstrap: Option<String>,
    upstream: Option<String>,
}

impl BackendFlags {
    fn resolve(self) -> Result<Backend, String> {
        match self.name.as_deref().unwrap_or("in-process") {
            "in-process" if self.bootstrap.is_some() || self.upstream.is_some() => {
                Err("--bootstrap and --upstream need --backend kafka".to_string())
            }
            "in-process" => Ok(Backend::InProcess),
            "kafka" => self.kafka(),
            other => Err(format!("--backend: '{other}' is not in-process or kafka")),
        }
    }

    #[cfg(feature = "kafka")]
    fn kafka(self) -> Result<Backend, String> {
        let bootstrap = self
            .bootstrap
            .ok_or("--backend kafka needs --bootstrap HOST:PORT")?;
        Ok(Backend::Kafka {
            bootstrap,
            upstream: self.upstream,
        })
    }

    #[cfg(not(feature = "kafka"))]
    fn kafka(self) -> Result<Backend, String> {
        Err(
            "--backend kafka: this build of idemlog has no Kafka backend; build it with \
             `--features kafka` (cargo run --release --features kafka -- demo --backend kafka ...)"
                .to_string(),
        )
    }
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        backend: Backend::InProcess,
        threads: 4,
        partitions: 8,
        records: 0,
        request_loss: 0.05,
        response_loss: 0.05,
        refusals: 0.02,
        delay: 0.02,
        seed: 42,
        json: false,
        progress: false,
    };
    let (mut backend, mut records) = (BackendFlags::default(), None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => backend.name = Some(value(arg, args.next())?),
            "--bootstrap" => backend.bootstrap = Some(value(arg, args.next())?),
            "--upstream" => backend.upstream = Some(value(arg, args.next())?),
            "--threads" => options.threads = value(arg, args.next())?,
            "--partitions" => options.partitions = value(arg, args.next())?,
            "--records" => records = Some(value(arg, args.next())?),
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
    options.backend = backend.resolve()?;
    let default_records = match options.backend {
        Backend::InProcess => 100_000,
        #[cfg(feature = "kafka")]
        Backend::Kafka { .. } => 20_000,
    };
    options.records = records.unwrap_or(default_records);
    check(&mut options)?;
    Ok(Some(options))
}

/// The ranges of the numeric options.
fn check(options: &mut Options) -> Result<(), String> {
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
    // The link draws one fault per request from these as shares of one draw
    // (`LinkConfig`): at a sum of 1 no request would get through unharmed.
    let faults = options.request_loss + options.response_loss + options.refusals + options.delay;
    if faults > MAX_FAULT_RATE {
        return Err(format!(
            "--request-loss, --response-loss, --refusals and --delay add up to {faults}: \
             each request draws at most one of them, so together they must stay within \
             0..={MAX_FAULT_RATE}"
        ));
    }
    if options.records >= 500_000 {
        options.progress = true;
    }
    Ok(())
}

/// The largest fault rate, alone or summed over the kinds.
const MAX_FAULT_RATE: f64 = 0.5;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
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

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::AtMostOnce => "at-most-once",
            Mode::AtLeastOnce => "at-least-once",
            Mode::ExactlyOnce => "exactly-once",
            Mode::ExactlyOnceResend => "exactly-once+resend",
        }
    }

    pub(crate) fn config(self) -> ProducerConfig {
        match self {
            Mode::AtMostOnce => ProducerConfig::at_most_once(),
            Mode::AtLeastOnce => ProducerConfig::at_least_once(),
            Mode::ExactlyOnce | Mode::ExactlyOnceResend => ProducerConfig::exactly_once(),
        }
    }
}

pub(crate) struct Row {
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

impl Row {
    /// A mode's row: what was sent and acknowledged, what the audit found.
    pub(crate) fn new(mode: Mode, options: &Options, sent: &Sent, audit: &Audit) -> Row {
        Row {
            mode,
            sent: options.records,
            acked: sent.acked,
            in_log: audit.in_log,
            duplicates: audit.duplicates,
            lost: audit.lost,
            reordered: audit.reordered,
            reordered_first_batch: audit.reordered_first_batch,
            records_per_sec: options.records as f64 / sent.elapsed.as_secs_f64().max(1e-9),
        }
    }

    /// Whether the row keeps the mode's promise: exactly-once is fully
    /// acknowledged, with no duplicate, loss or reordering beyond the
    /// first-batch case; the other modes promise nothing the demo checks.
    fn healthy(&self) -> bool {
        let unexplained = self.reordered - self.reordered_first_batch;
        self.mode != Mode::ExactlyOnce
            || (self.duplicates == 0
                && self.lost == 0
                && unexplained == 0
                && self.acked == self.sent)
    }

    fn print(&self, json: bool) {
        if json {
            println!(
                "{{\"mode\":\"{}\",\"sent\":{},\"acked\":{},\"in_log\":{},\"duplicates\":{},\
                 \"lost\":{},\"reordered\":{},\"reordered_first_batch\":{},\
                 \"records_per_sec\":{:.0}}}",
                self.mode.name(),
                self.sent,
                self.acked,
                self.in_log,
                self.duplicates,
                self.lost,
                self.reordered,
                self.reordered_first_batch,
                self.records_per_sec
            );
            return;
        }
        let reordered = if self.reordered_first_batch > 0 && self.mode != Mode::AtLeastOnce {
            format!("{}*", self.reordered)
        } else {
            self.reordered.to_string()
        };
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>11.0}",
            self.mode.name(),
            self.sent,
            self.acked,
            self.in_log,
            self.duplicates,
            self.lost,
            reordered,
            self.records_per_sec
        );
    }
}

/// Runs every mode with `run_mode`, printing the table (or the JSON rows) as
/// the rows come; whether every row kept its promise, or the first mode's
/// failure.
pub(crate) fn print_table(
    options: &Options,
    mut run_mode: impl FnMut(Mode) -> Result<Row, String>,
) -> Result<bool, String> {
    if !options.json {
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>11}",
            "mode", "sent", "acked", "in log", "duplicates", "lost", "reordered", "records/s"
        );
    }
    let (mut healthy, mut first_batch_notes) = (true, 0);
    for mode in Mode::ALL {
        let row = run_mode(mode).map_err(|message| format!("{}: {message}", mode.name()))?;
        healthy &= row.healthy();
        first_batch_notes += u64::from(row.reordered_first_batch > 0);
        row.print(options.json);
    }
    if first_batch_notes > 0 && !options.json {
        println!(
            "* the first-batch case (idemlog::implementation, P7): a partition's first batches \
             of an epoch, refused with a retriable error while later batches were in flight, \
             land after them under a new epoch; nothing lost or duplicated"
        );
    }
    Ok(healthy)
}

/// The in-process run: the fault settings, then the table.
fn run_in_process(options: &Options) -> Result<bool, String> {
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
    }
    print_table(options, |mode| {
        crate::demo_in_process::run_mode(options, mode)
    })
}

pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match super::options_or_exit("demo", HELP, parse(args)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = match &options.backend {
        Backend::InProcess => run_in_process(&options),
        #[cfg(feature = "kafka")]
        Backend::Kafka {
            bootstrap,
            upstream,
        } => crate::demo_kafka::run(&options, bootstrap, upstream.as_deref()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("idemlog demo: exactly-once broke its promise (see the row above)");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("idemlog demo: {message}");
            ExitCode::FAILURE
        }
    }
}
