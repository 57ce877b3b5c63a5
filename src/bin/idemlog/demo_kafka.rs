//! The demo on a Kafka cluster (feature `kafka`): per mode a fresh topic, the
//! same senders as in process (`demo_send`) with Kafka-side settings, then the
//! topic read back by a consumer and audited as in process (`demo_audit`).
//! With an upstream broker the demo runs the fault proxy (`fault_proxy`) on
//! the bootstrap address: it loses produce requests and responses at random.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use idemlog::consumer::ConsumerConfig;
use idemlog::producer::{ConfigError, ProducerConfig};
use idemlog::{Cluster, MultiConsumer};

use crate::demo::{print_table, Mode, Options, Row};
use crate::demo_audit::Auditor;
use crate::demo_send::send_all;
use crate::fault_proxy::FaultProxy;

/// The producers' `request.timeout.ms`: a lost response costs a second, not
/// Kafka's 30.
const REQUEST_TIMEOUT_MS: u64 = 1000;
/// The producers' `batch.size`, as in process.
const BATCH_SIZE: usize = 4096;
/// The producers' `reconnect.backoff.max.ms`: the proxy cuts the connection
/// on every fault, and librdkafka doubles its reconnect backoff on each cut
/// up to this (10 s by default, which would stall the demo for seconds per
/// fault once a few faults have come close together).
const RECONNECT_BACKOFF_MAX_MS: &str = "1000";
/// How long a sender's flush may wait: past the producers' delivery timeout
/// (Kafka's 120 s), by which every record has its result.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(150);
/// How long closing a producer may wait (everything is flushed by then).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one poll of the read-back waits for a record.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How long nothing new must arrive, once every acknowledged record may be
/// in and every partition's lag is 0, before the read-back ends: tansu's high
/// watermark is the newest batch's base offset + 1, so a lag of 0 alone does
/// not mean the end was read.
const QUIET: Duration = Duration::from_secs(1);
/// The bound on reading one topic back.
const READ_DEADLINE: Duration = Duration::from_secs(60);

/// The Kafka run: the settings line, the table, the proxy's counters.
pub(crate) fn run(
    options: &Options,
    bootstrap: &str,
    upstream: Option<&str>,
) -> Result<bool, String> {
    let mut demo = KafkaDemo::start(options, bootstrap, upstream)?;
    if !options.json {
        println!("{}", demo.settings(options));
    }
    let healthy = print_table(options, |mode| demo.run_mode(options, mode))?;
    demo.print_counters(options.json);
    Ok(healthy)
}

/// Produce requests and faults the proxy counted.
#[derive(Clone, Copy, Default)]
struct Counters {
    requests: u64,
    faults: u64,
}

/// The cluster, the proxy in front of it (if any), and what each mode cost.
struct KafkaDemo {
    // Before the proxy: the cluster's clients go before the proxy they use.
    cluster: Cluster,
    bootstrap: String,
    upstream: Option<String>,
    proxy: Option<FaultProxy>,
    /// Makes this run's topic names unique on a shared cluster.
    run: String,
    /// The proxy's counters of each mode's producer.
    per_mode: Vec<(Mode, Counters)>,
}

impl KafkaDemo {
    /// Starts the proxy (with an upstream), then connects to the cluster.
    fn start(options: &Options, bootstrap: &str, upstream: Option<&str>) -> Result<Self, String> {
        let proxy = upstream
            .map(|upstream| start_proxy(options, bootstrap, upstream))
            .transpose()?;
        let cluster = Cluster::kafka(bootstrap)
            .map_err(|e| format!("cannot reach the Kafka cluster at {bootstrap}: {e}"))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        Ok(KafkaDemo {
            cluster,
            bootstrap: bootstrap.to_string(),
            upstream: upstream.map(str::to_string),
            proxy,
            run: format!("{}-{nanos:x}", std::process::id()),
            per_mode: Vec::new(),
        })
    }

    /// The line before the table: backend, addresses, faults, sizes.
    fn settings(&self, options: &Options) -> String {
        let faults = match &self.upstream {
            Some(upstream) => format!(
                "fault proxy on {} to {upstream}: request loss {}, response loss {} (random, \
                 seed {})",
                self.bootstrap, options.request_loss, options.response_loss, options.seed
            ),
            None => format!(
                "bootstrap {}, no faults injected (no --upstream, no fault proxy)",
                self.bootstrap
            ),
        };
        format!(
            "backend kafka, {faults}; {} threads, {} partitions, {} records per mode, \
             request.timeout.ms={REQUEST_TIMEOUT_MS}, batch.size={BATCH_SIZE}, \
             reconnect.backoff.max.ms={RECONNECT_BACKOFF_MAX_MS}",
            options.threads, options.partitions, options.records
        )
    }

    fn counters(&self) -> Counters {
        self.proxy
            .as_ref()
            .map_or(Counters::default(), |proxy| Counters {
                requests: proxy.produce_requests(),
                faults: proxy.faults_applied(),
            })
    }

    /// One mode on a fresh topic.
    fn run_mode(&mut self, options: &Options, mode: Mode) -> Result<Row, String> {
        let topic = format!(
            "idemlog-demo-{}-{}",
            self.run,
            mode.name().replace('+', "-")
        );
        self.cluster
            .create_topic(&topic, options.partitions)
            .map_err(|e| format!("create topic {topic}: {e}"))?;
        let before = self.counters();
        let config = producer_config(mode).map_err(|e| e.to_string())?;
        let producer = self.cluster.producer(config).map_err(|e| e.to_string())?;
        let sent = send_all(&producer, &topic, options, mode, FLUSH_TIMEOUT)?;
        producer.close(CLOSE_TIMEOUT).map_err(|e| e.to_string())?;
        drop(producer);
        let after = self.counters();
        self.per_mode.push((
            mode,
            Counters {
                requests: after.requests - before.requests,
                faults: after.faults - before.faults,
            },
        ));
        let mut auditor = Auditor::new(&options.per_thread_counts(), options.partitions);
        read_back(&self.cluster, &topic, sent.acked, &mut auditor)?;
        Ok(Row::new(mode, options, &sent, &auditor.finish()?))
    }

    /// The line (or JSON object) after the table: the proxy's counters.
    fn print_counters(&self, json: bool) {
        let total = self.counters();
        if json {
            let upstream = self
                .upstream
                .as_ref()
                .map_or("null".to_string(), |u| format!("\"{u}\""));
            println!(
                "{{\"backend\":\"kafka\",\"bootstrap\":\"{}\",\"upstream\":{upstream},\
                 \"produce_requests\":{},\"faults_applied\":{}}}",
                self.bootstrap, total.requests, total.faults
            );
            return;
        }
        let Some(upstream) = &self.upstream else {
            println!(
                "backend kafka, bootstrap {}: no fault proxy, no faults injected",
                self.bootstrap
            );
            return;
        };
        let per_mode: Vec<String> = self
            .per_mode
            .iter()
            .map(|(mode, c)| format!("{} {}/{}", mode.name(), c.faults, c.requests))
            .collect();
        println!(
            "backend kafka, bootstrap {} (fault proxy to {upstream}): {} produce requests, {} \
             faults applied (lost requests and responses; per mode faults/requests: {})",
            self.bootstrap,
            total.requests,
            total.faults,
            per_mode.join(", ")
        );
        if total.requests == 0 {
            eprintln!(
                "idemlog demo: no produce request passed the fault proxy: does the broker \
                 advertise {} (--advertised-listener-url)?",
                self.bootstrap
            );
        }
    }
}

/// The mode's preset with the Kafka-side settings (no link, real time).
fn producer_config(mode: Mode) -> Result<ProducerConfig, ConfigError> {
    let mut config = mode
        .config()
        .request_timeout_ms(REQUEST_TIMEOUT_MS)
        .batch_size(BATCH_SIZE);
    config.set("reconnect.backoff.max.ms", RECONNECT_BACKOFF_MAX_MS)?;
    Ok(config)
}

/// The fault proxy on `bootstrap` (a local address) to `upstream`, with the
/// options' random faults.
fn start_proxy(options: &Options, bootstrap: &str, upstream: &str) -> Result<FaultProxy, String> {
    let listen = resolve("--bootstrap", bootstrap)?;
    let broker = resolve("--upstream", upstream)?;
    if listen == broker {
        return Err(format!(
            "--bootstrap {bootstrap} is --upstream {upstream}: the proxy listens on the \
             bootstrap address, the broker elsewhere"
        ));
    }
    TcpStream::connect_timeout(&broker, Duration::from_secs(5))
        .map_err(|e| format!("--upstream {upstream}: no broker answers there: {e}"))?;
    let proxy = FaultProxy::start_at(listen, broker).map_err(|e| {
        format!(
            "cannot run the fault proxy on {bootstrap} (the --bootstrap address must be a \
             local, free address with --upstream): {e}"
        )
    })?;
    proxy.set_random(options.seed, options.request_loss, options.response_loss);
    Ok(proxy)
}

/// `address` resolved, IPv4 first (brokers usually advertise 127.0.0.1).
fn resolve(flag: &str, address: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("{flag} {address}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{flag} {address}: no address"))
}

/// Reads `topic` from the start into `auditor`: until it has at least the
/// `acked` count, every partition's lag is 0, and nothing new came for
/// [`QUIET`]; or until [`READ_DEADLINE`] (a warning; the audit shows the gap).
fn read_back(
    cluster: &Cluster,
    topic: &str,
    acked: u64,
    auditor: &mut Auditor,
) -> Result<(), String> {
    let config = ConsumerConfig::from_properties([("auto.offset.reset", "earliest")])
        .map_err(|e| e.to_string())?;
    let mut consumer = cluster.multi_consumer(config).map_err(|e| e.to_string())?;
    consumer.assign_topic(topic).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut last_new = started;
    loop {
        let read = consumer
            .poll_with_timeout(65_536, POLL_WAIT, |view| auditor.view(view))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        if read > 0 {
            last_new = now;
        } else if now - last_new >= QUIET && caught_up(&consumer, auditor.in_log(), acked) {
            return Ok(());
        }
        if now - started >= READ_DEADLINE {
            eprintln!(
                "idemlog demo: {topic}: read {} records ({acked} acknowledged) in {READ_DEADLINE:?}, \
                 stopping",
                auditor.in_log()
            );
            return Ok(());
        }
    }
}

/// Whether the read-back may be complete: at least the acknowledged count
/// read, and no partition behind its high watermark.
fn caught_up(consumer: &MultiConsumer, read: u64, acked: u64) -> bool {
    read >= acked && consumer.lag().iter().all(|lag| lag.lag() == Some(0))
}
