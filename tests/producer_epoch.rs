//! Pid renewal at epoch 32767 (the contract, `idemlog::contract`, failure
//! handling: "at epoch 32767 asks the log for a new pid"). The producer starts
//! near the top of the epoch range through the
//! `#[doc(hidden)]` test hook `ProducerConfig::test_hook_start_epoch`; epoch
//! bumps come from delivery timeouts that leave a sequence unresolved, scripted
//! in virtual time (no real sleeps).

use std::collections::HashMap;
use std::time::Duration;

use idemlog::producer::sim::{Fault, LinkConfig};
use idemlog::producer::{
    DeliveryHandle, Producer, ProducerConfig, ProducerError, ProducerRecord, TimeSource,
};
use idemlog::{Log, ProducerId, MAX_EPOCH};

/// Request timeout 300, delivery timeout 1000, no backoff: a record whose
/// requests are all lost makes exactly 4 requests (t = 0, 300, 600, 900) and
/// fails at t = 1000 with its sequence unresolved.
fn config(start_epoch: u16, script: Vec<Fault>) -> ProducerConfig {
    ProducerConfig::exactly_once()
        .request_timeout_ms(300)
        .retry_backoff_ms(0)
        .linger_ms(0)
        .delivery_timeout_ms(1_000)
        .link(LinkConfig::new().script(script))
        .time(TimeSource::virtual_time())
        .test_hook_start_epoch(start_epoch)
}

fn send(producer: &Producer, partition: u32, value: &str) -> DeliveryHandle {
    let handle = producer
        .send(ProducerRecord::new("t", &value.to_string()).partition(partition))
        .unwrap();
    producer.flush(Duration::MAX).unwrap();
    handle
}

/// (value, pid, epoch, sequence) of every record of a partition.
fn written(log: &Log, partition: u32) -> Vec<(String, ProducerId, u16, i32)> {
    let mut consumer = log.consumer("t", partition).unwrap();
    consumer
        .poll(1_000)
        .unwrap()
        .into_iter()
        .map(|record| {
            let meta = record.producer.expect("idempotent");
            let value = String::from_utf8(record.value.to_vec()).unwrap();
            (value, meta.producer_id, meta.epoch, meta.sequence)
        })
        .collect()
}

#[test]
fn bumping_past_32767_renews_the_pid_restarts_sequences_and_keeps_exactly_once() {
    let log = Log::new();
    log.create_topic("t", 2).unwrap();
    let lost = [Fault::DropRequest; 4];
    let mut script = Vec::new();
    script.extend(lost); // a0: times out at 32766 -> bump to 32767
    script.push(Fault::None); // a1 at (P0, 32767, 0)
    script.extend(lost); // a2: times out at 32767 -> new pid
    script.push(Fault::None); // a3 at (P1, 0, 0)
    script.push(Fault::DropResponse); // a4 at (P1, 0, 1): ack lost, retried
    let producer = Producer::new(&log, config(MAX_EPOCH - 1, script)).unwrap();
    let first_pid = ProducerId(0);

    assert!(matches!(
        send(&producer, 0, "a0")
            .wait()
            .map_err(|e| e.error().clone()),
        Err(ProducerError::DeliveryTimeout { .. })
    ));
    assert_eq!(send(&producer, 0, "a1").wait().unwrap().offset, Some(0));
    assert!(matches!(
        send(&producer, 0, "a2")
            .wait()
            .map_err(|e| e.error().clone()),
        Err(ProducerError::DeliveryTimeout { .. })
    ));
    assert_eq!(send(&producer, 0, "a3").wait().unwrap().offset, Some(1));
    let a4 = send(&producer, 0, "a4").wait().unwrap();
    assert_eq!(
        (a4.offset, a4.duplicate),
        (Some(2), true),
        "deduplicated retry"
    );
    // Partition 1 was idle through both bumps: it moves to the new pid lazily.
    assert_eq!(send(&producer, 1, "b0").wait().unwrap().offset, Some(0));

    let new_pid = ProducerId(1);
    assert_eq!(
        written(&log, 0),
        [
            ("a1".to_string(), first_pid, MAX_EPOCH, 0),
            ("a3".to_string(), new_pid, 0, 0),
            ("a4".to_string(), new_pid, 0, 1),
        ]
    );
    assert_eq!(written(&log, 1), [("b0".to_string(), new_pid, 0, 0)]);
    let metrics = producer.metrics();
    assert_eq!(metrics.producer_epoch_bump_total, 2);
    assert_eq!(metrics.record_duplicate_total, 1);
    // The new pid was handed out by the log: the next handshake gets pid 2.
    assert_eq!(log.init_producer_id().producer_id, ProducerId(2));
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn starting_at_32767_the_first_bump_renews_the_pid() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let mut script = vec![Fault::None]; // a0 at (P0, 32767, 0)
    script.extend([Fault::DropRequest; 4]); // a1 lost until its delivery timeout
    let producer = Producer::new(&log, config(MAX_EPOCH, script)).unwrap();
    assert_eq!(send(&producer, 0, "a0").wait().unwrap().offset, Some(0));
    assert!(send(&producer, 0, "a1").wait().is_err());
    assert_eq!(send(&producer, 0, "a2").wait().unwrap().offset, Some(1));
    let rows = written(&log, 0);
    assert_eq!(rows[0], ("a0".to_string(), ProducerId(0), MAX_EPOCH, 0));
    assert_eq!(rows[1], ("a2".to_string(), ProducerId(1), 0, 0));
    assert_eq!(rows.len(), 2);
    // The old pid's state on the partition is left to expire, as in Kafka.
    let partition = log.partition("t", 0).unwrap();
    assert!(partition.producer_state(ProducerId(0)).is_some());
    assert_eq!(partition.producer_state(ProducerId(1)).unwrap().epoch, 0);
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn the_hook_clamps_to_the_epoch_range() {
    let log = Log::new();
    log.create_topic("t", 1).unwrap();
    let producer = Producer::new(&log, config(u16::MAX, Vec::new())).unwrap();
    assert!(send(&producer, 0, "a").wait().is_ok());
    assert_eq!(written(&log, 0)[0].2, MAX_EPOCH);
    producer.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn random_faults_across_many_renewals_keep_every_acknowledged_record_once_in_order() {
    // Every request is at risk and the delivery timeout is short, so sequences
    // go unresolved often: the producer starts 3 epochs below the top and
    // renews its pid several times. Acknowledged records: exactly once and in
    // send order per partition. Failed ones ("not known") may or may not be in
    // the log, but never twice.
    let log = Log::new();
    log.create_topic("t", 2).unwrap();
    let link = LinkConfig::new()
        .seed(11)
        .drop_request_rate(0.25)
        .drop_response_rate(0.1);
    let config = ProducerConfig::exactly_once()
        .request_timeout_ms(100)
        .retry_backoff_ms(0)
        .linger_ms(0)
        .delivery_timeout_ms(250)
        .batch_size(40)
        .link(link)
        .time(TimeSource::virtual_time())
        .test_hook_start_epoch(MAX_EPOCH - 3);
    let producer = Producer::new(&log, config).unwrap();
    let handles: Vec<(u32, String, DeliveryHandle)> = (0..600u32)
        .map(|i| {
            let value = format!("{i:04}");
            let handle = producer
                .send(ProducerRecord::new("t", &value.clone()).partition(i % 2))
                .unwrap();
            if i % 50 == 49 {
                producer.flush(Duration::MAX).unwrap();
            }
            (i % 2, value, handle)
        })
        .collect();
    producer.flush(Duration::MAX).unwrap();
    let metrics = producer.metrics();
    assert!(
        metrics.producer_epoch_bump_total >= 4,
        "the run must cross 32767: {metrics:?}"
    );
    for partition in 0..2 {
        let rows = written(&log, partition);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (value, _, _, _) in &rows {
            *counts.entry(value.as_str()).or_default() += 1;
        }
        assert!(counts.values().all(|&c| c == 1), "a duplicate in {rows:?}");
        let offsets: HashMap<&str, u64> = rows
            .iter()
            .enumerate()
            .map(|(offset, (value, ..))| (value.as_str(), offset as u64))
            .collect();
        let mut last = None;
        for (p, value, handle) in &handles {
            if *p != partition {
                continue;
            }
            if let Ok(meta) = handle.wait() {
                assert_eq!(meta.offset, offsets.get(value.as_str()).copied(), "{value}");
                assert!(meta.offset > last, "acknowledged records keep send order");
                last = meta.offset;
            }
        }
        let pids: std::collections::HashSet<_> = rows.iter().map(|row| row.1).collect();
        assert!(pids.len() >= 2, "records under several pids: {pids:?}");
    }
    producer.close(Duration::from_secs(10)).unwrap();
}
