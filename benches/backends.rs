//! `backends/*`: the same Producer and MultiConsumer code on the in-process
//! log and on a Kafka broker (tansu 0.6.0 on loopback, when `$IDEMLOG_TANSU`
//! names its binary), side by side in one run (feature `kafka`):
//!
//! - `backends/produce-100B`: one producer sends 1000 records of 100 bytes to
//!   one partition and flushes (idempotent, Kafka's defaults otherwise);
//! - `backends/consume-100B`: one consumer seeks to the start of a partition
//!   of 10 000 such records and reads 1000 (owned records), with
//!   `fetch.max.wait.ms=10` (ignored in process). tansu holds every Fetch for
//!   its max wait even when records are there, so at Kafka's default of
//!   500 ms the read measures that wait: about 0.9 s per 1000 records.
//!
//! `cargo bench --features kafka --bench backends`; `IDEMLOG_BENCH_QUICK=1`
//! shrinks the times.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

// Its own test needs the proxy, and is dropped here (a `harness = false`
// bench is compiled with cfg(test) but without the test harness).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../src/bin/idemlog/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[cfg_attr(test, allow(unused_imports))]
#[path = "../tests/conformance/tansu_broker.rs"]
mod tansu_broker;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use idemlog::consumer::ConsumerConfig;
use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
use idemlog::{Cluster, Log, MultiConsumer, RetentionPolicy, TopicConfig};

/// Records per criterion iteration.
const UNIT: u64 = 1000;
/// Records in the consumed partition.
const FILLED: u64 = 10_000;
/// The value of every record.
const VALUE: [u8; 100] = [7; 100];
/// Flush and read deadline (a failure, not a measurement, if reached).
const WAIT: Duration = Duration::from_secs(30);

/// One backend: its cluster, and the broker process behind it, if any.
struct Backend {
    name: &'static str,
    cluster: Cluster,
    /// The in-process log, for topics with retention.
    log: Option<Log>,
    _broker: Option<tansu_broker::TansuBroker>,
}

/// Records an in-process partition retains: the produce bench appends without
/// end, and a log without retention fills its memory budget (tansu keeps
/// everything; its memory grows for the bench's few seconds).
const RETAINED: u64 = 1 << 16;

impl Backend {
    /// A one-partition topic (in process with retention of [`RETAINED`]).
    fn create_topic(&self, name: &str) {
        match &self.log {
            Some(log) => log
                .create_topic_with(
                    name,
                    TopicConfig::new(1).retention(RetentionPolicy::default().max_records(RETAINED)),
                )
                .expect("create topic"),
            None => self.cluster.create_topic(name, 1).expect("create topic"),
        }
    }

    /// A fresh topic `name` and a producer with Kafka's defaults.
    fn topic_and_producer(&self, name: &str) -> Producer {
        self.create_topic(name);
        self.cluster
            .producer(ProducerConfig::default())
            .expect("producer")
    }
}

/// In process, and tansu when its binary is configured.
fn backends(log: &Log) -> Vec<Backend> {
    let mut backends = vec![Backend {
        name: "in-process",
        cluster: Cluster::in_process(log),
        log: Some(log.clone()),
        _broker: None,
    }];
    match tansu_broker::TansuBroker::start(None) {
        Ok(broker) => backends.push(Backend {
            name: "tansu",
            cluster: Cluster::kafka(&broker.bootstrap()).expect("connect to tansu"),
            log: None,
            _broker: Some(broker),
        }),
        Err(why) => eprintln!("backends: tansu skipped: {why}"),
    }
    backends
}

/// 10 samples over 3 s after 0.5 s of warm-up (`IDEMLOG_BENCH_QUICK=1`: 0.3 s
/// after 0.1 s), set on the `Criterion` so that `configure_from_args` lets the
/// command line (`--warm-up-time`, `--measurement-time`, `--sample-size`)
/// override them; set on a group they would override the command line.
fn criterion() -> Criterion {
    let quick = std::env::var("IDEMLOG_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 100 } else { 500 }))
        .measurement_time(Duration::from_millis(if quick { 300 } else { 3000 }))
}

/// A group whose throughput is [`UNIT`] records per iteration.
fn configured<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(UNIT));
    group
}

/// Sends `count` records to partition 0 of `topic` and flushes.
fn send(producer: &Producer, topic: &str, count: u64) {
    for _ in 0..count {
        producer
            .send(ProducerRecord::new(topic, &VALUE).partition(0))
            .map_err(|error| error.to_string())
            .expect("send");
    }
    producer.flush(WAIT).expect("flush");
}

/// Reads `count` records (owned), failing after [`WAIT`].
fn read(consumer: &mut MultiConsumer, count: u64) {
    let deadline = Instant::now() + WAIT;
    let mut read = 0;
    while read < count {
        assert!(Instant::now() < deadline, "read {read} of {count}");
        read += consumer
            .poll_with_timeout(
                (count - read) as usize,
                Duration::from_millis(100),
                |view| {
                    std::hint::black_box(view.to_owned());
                },
            )
            .expect("poll") as u64;
    }
}

fn produce(c: &mut Criterion) {
    let log = Log::new();
    let backends = backends(&log);
    let mut group = configured(c, "backends/produce-100B");
    for backend in &backends {
        let producer = backend.topic_and_producer("produce");
        group.bench_function(backend.name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                send(&producer, "produce", iters * UNIT);
                started.elapsed()
            })
        });
        producer.close(WAIT).expect("close");
    }
    group.finish();
}

fn consume(c: &mut Criterion) {
    let log = Log::new();
    let backends = backends(&log);
    let mut group = configured(c, "backends/consume-100B");
    for backend in &backends {
        let producer = backend.topic_and_producer("consume");
        send(&producer, "consume", FILLED);
        producer.close(WAIT).expect("close");
        let config = ConsumerConfig::new()
            .set("auto.offset.reset", "earliest")
            .and_then(|config| config.set("fetch.max.wait.ms", "10"))
            .expect("config");
        let mut consumer = backend.cluster.multi_consumer(config).expect("consumer");
        consumer.assign("consume", 0).expect("assign");
        group.bench_function(backend.name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    consumer.seek("consume", 0, 0).expect("seek");
                    read(&mut consumer, UNIT);
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = produce, consume
}
criterion_main!(benches);
