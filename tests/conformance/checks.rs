//! The conformance checks, each written once against a [`Target`]. A check
//! returns [`Outcome::Pass`] or [`Outcome::NotApplicable`] (with the reason,
//! from the capability table) and panics, with a message saying what differed,
//! when the target does not conform. Each doc comment names a mutation of the
//! library that the check catches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idemlog::consumer::Rebalance;
use idemlog::producer::{partition_for_key, Producer, ProducerRecord, RecordMetadata};
use idemlog::{ConsumerRecord, MultiConsumer};

use crate::target::{LinkFault, Target};

/// What a check found, when the target conforms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The target behaves as the check requires.
    Pass,
    /// The check does not apply to this target (the capability table says so).
    NotApplicable(String),
}

/// Flush, close and the read deadlines: generous for a slow target, short
/// enough that a failing check fails fast.
const WAIT: Duration = Duration::from_secs(5);

/// Kafka producer properties: the idempotent default (acks=all, retries).
const IDEMPOTENT: &[(&str, &str)] = &[("enable.idempotence", "true")];

/// At-least-once: acks=all and retries, idempotence off.
const NOT_IDEMPOTENT: &[(&str, &str)] = &[("enable.idempotence", "false"), ("acks", "all")];

/// A consumer without a group that starts at the log start.
const FROM_START: &[(&str, &str)] = &[("auto.offset.reset", "earliest")];

/// One record to send: key, explicit partition, value.
struct Send<'a> {
    key: Option<&'a str>,
    partition: Option<u32>,
    value: &'a str,
}

impl<'a> Send<'a> {
    fn value(value: &'a str) -> Self {
        Self {
            key: None,
            partition: None,
            value,
        }
    }
    fn key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }
    fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }
}

fn producer(target: &dyn Target, properties: &[(&str, &str)], faults: &[LinkFault]) -> Producer {
    assert!(
        faults.is_empty() || target.capabilities().link_faults.is_none(),
        "a check with faults asks `without_link_faults` first"
    );
    target
        .producer(properties, faults)
        .unwrap_or_else(|error| panic!("producer {properties:?}: {error}"))
}

/// Sends every record, flushes, and returns each one's metadata (panics on a
/// failed send or delivery).
fn send_all(producer: &Producer, topic: &str, records: &[Send<'_>]) -> Vec<RecordMetadata> {
    let handles: Vec<_> = records
        .iter()
        .map(|record| {
            let mut built = ProducerRecord::new(topic, record.value);
            if let Some(key) = record.key {
                built = built.key(key);
            }
            if let Some(partition) = record.partition {
                built = built.partition(partition);
            }
            producer
                .send(built)
                .unwrap_or_else(|error| panic!("send {:?}: {:?}", record.value, error.error()))
        })
        .collect();
    producer.flush(WAIT).expect("flush");
    handles
        .iter()
        .zip(records)
        .map(|(handle, record)| {
            handle
                .wait()
                .unwrap_or_else(|error| panic!("delivery of {:?}: {}", record.value, error.error()))
        })
        .collect()
}

/// Sends one record and waits for it: one produce request each, so a fault
/// script's entry i meets the i-th record's first attempt.
fn send_one(producer: &Producer, topic: &str, value: &str) -> RecordMetadata {
    send_all(producer, topic, &[Send::value(value).partition(0)]).remove(0)
}

/// `Some(n.a.)` when `target` cannot inject link faults (the check needs them).
fn without_link_faults(target: &dyn Target) -> Option<Outcome> {
    target
        .capabilities()
        .link_faults
        .map(|why| Outcome::NotApplicable(format!("no fault injection: {why}")))
}

/// `Some(n.a.)` when `target` cannot lose a produce response.
fn without_lost_responses(target: &dyn Target) -> Option<Outcome> {
    without_link_faults(target).or_else(|| {
        target
            .capabilities()
            .lose_response
            .map(|why| Outcome::NotApplicable(format!("cannot lose a response: {why}")))
    })
}

/// Polls up to `max` records, waiting up to `timeout` for the first.
fn poll(consumer: &mut MultiConsumer, max: usize, timeout: Duration) -> Vec<ConsumerRecord> {
    let mut records = Vec::new();
    consumer
        .poll_with_timeout(max, timeout, |view| records.push(view.to_owned()))
        .expect("poll");
    records
}

fn caught_up(consumer: &MultiConsumer) -> bool {
    consumer.lag().iter().all(|lag| lag.lag() == Some(0))
}

/// Reads until it has at least `expected` records and is caught up on every
/// assigned partition (so extra copies in the log are read too), within
/// `WAIT` plus `extra`.
fn read_all(consumer: &mut MultiConsumer, expected: usize, extra: Duration) -> Vec<ConsumerRecord> {
    let within = WAIT + extra;
    let deadline = Instant::now() + within;
    let mut records = Vec::new();
    loop {
        records.extend(poll(consumer, 1000, Duration::from_millis(20)));
        if records.len() >= expected && caught_up(consumer) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "read {} of {expected} records within {within:?}; lag {:?}",
            records.len(),
            consumer.lag()
        );
    }
}

/// Everything in `topic`, read by a fresh consumer from the log start.
fn read_topic(target: &dyn Target, topic: &str, expected: usize) -> Vec<ConsumerRecord> {
    let mut consumer = target.consumer(FROM_START).expect("consumer");
    consumer.assign_topic(topic).expect("assign_topic");
    read_all(&mut consumer, expected, Duration::ZERO)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records.iter().map(|record| text(&record.value)).collect()
}

/// Where each record was read: (partition, offset).
fn places(records: &[ConsumerRecord]) -> Vec<(u32, u64)> {
    records
        .iter()
        .map(|record| (record.partition, record.offset))
        .collect()
}

/// Key -> partition: every keyed record lands on murmur2(key) as the Java
/// client computes it (reference values from Kafka's `UtilsTest`), the same
/// key always on the same partition number, and is read back there.
/// Mutation caught: another hash or seed in the partitioner, a partitioner that
/// ignores the key (sticky or round robin), or a backend left on librdkafka's
/// `consistent_random`.
pub(crate) fn key_to_partition(target: &dyn Target) -> Outcome {
    const PARTITIONS: u32 = 6;
    // (key, murmur2 of the Java client)
    const JAVA: &[(&str, i32)] = &[
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58897971,
        ),
        ("abc", 479470107),
    ];
    let topic = target.create_topic("key-to-partition", PARTITIONS);
    let generated: Vec<String> = (0..14).map(|i| format!("customer-{i}")).collect();
    let mut expected: BTreeMap<&str, u32> = JAVA
        .iter()
        .map(|(key, hash)| (*key, (*hash & 0x7fff_ffff) as u32 % PARTITIONS))
        .collect();
    for key in &generated {
        expected.insert(key, partition_for_key(key.as_bytes(), PARTITIONS));
    }
    let spread: BTreeSet<u32> = expected.values().copied().collect();
    assert!(spread.len() > 2, "the keys should cover several partitions");
    let producer = producer(target, IDEMPOTENT, &[]);
    // Every key twice, in two rounds.
    let records: Vec<Send<'_>> = (0..2)
        .flat_map(|_| expected.keys().map(|key| Send::value(key).key(key)))
        .collect();
    let metas = send_all(&producer, &topic, &records);
    for (record, meta) in records.iter().zip(&metas) {
        let key = record.key.unwrap();
        assert_eq!(
            meta.partition, expected[key],
            "key {key:?} was sent to partition {} (murmur2 says {})",
            meta.partition, expected[key]
        );
    }
    for record in read_topic(target, &topic, records.len()) {
        let key = text(
            record
                .key
                .as_deref()
                .expect("a keyed record read back without its key"),
        );
        assert_eq!(
            record.partition,
            expected[key.as_str()],
            "key {key:?} read back from partition {}",
            record.partition
        );
    }
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Offsets dense and in send order per partition: the handles of the records
/// sent to one partition report offsets 0, 1, 2, ... in the order they were
/// sent, across several batches (explicit partitions and keys mixed).
/// Mutation caught: a batch's records numbered from the wrong base (gaps or
/// overlaps), a partition's batches sent or appended out of order, an offset
/// reported for the wrong record of its batch.
pub(crate) fn offsets_dense_in_order(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("offsets-dense", 3);
    let names: Vec<String> = (0..45).map(|i| format!("v{i}")).collect();
    let records: Vec<Send<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| match i % 4 {
            3 => Send::value(name).key(name),
            _ => Send::value(name).partition(i as u32 % 3),
        })
        .collect();
    // Small batches: several per partition.
    let producer = producer(target, &[("batch.size", "64"), ("linger.ms", "2")], &[]);
    let metas = send_all(&producer, &topic, &records);
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for (record, meta) in records.iter().zip(&metas) {
        let expected = next.entry(meta.partition).or_insert(0);
        assert_eq!(
            meta.offset,
            Some(*expected),
            "{:?} on partition {}: offsets must be dense and in send order",
            record.value,
            meta.partition
        );
        *expected += 1;
    }
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Read back: a consumer assigned to every partition reads each record once,
/// at the offset its handle reported, with its key (or none) and value byte
/// for byte (keyless records, an empty value and a non-ASCII key among them).
/// Mutation caught: key and value swapped or truncated, a keyless record read
/// back with an empty key, a record skipped or read twice by the consumer.
pub(crate) fn read_back(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("read-back", 2);
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let vals: Vec<String> = (0..20)
        .map(|i| format!("value-{i}-{}", "x".repeat(i)))
        .collect();
    let mut records: Vec<Send<'_>> = (0..20)
        .map(|i| match i % 5 {
            0 => Send::value(&vals[i]).partition(i as u32 % 2),
            _ => Send::value(&vals[i]).key(&keys[i]),
        })
        .collect();
    records.push(Send::value("").key("empty-value"));
    let odd_key = "k\u{e9}";
    records.push(Send::value("odd").key(odd_key));
    let producer = producer(target, IDEMPOTENT, &[]);
    let metas = send_all(&producer, &topic, &records);
    let read = read_topic(target, &topic, records.len());
    assert_eq!(read.len(), records.len(), "read back: {:?}", values(&read));
    let mut found: BTreeMap<(u32, u64), &ConsumerRecord> = BTreeMap::new();
    for record in &read {
        assert!(
            found
                .insert((record.partition, record.offset), record)
                .is_none(),
            "offset {}-{} read twice",
            record.partition,
            record.offset
        );
    }
    for (sent, meta) in records.iter().zip(&metas) {
        let offset = meta.offset.expect("acks=all reports the offset");
        let got = found
            .get(&(meta.partition, offset))
            .unwrap_or_else(|| panic!("{:?} missing at {}-{offset}", sent.value, meta.partition));
        assert_eq!(
            text(&got.value),
            sent.value,
            "value at {}-{offset}",
            meta.partition
        );
        assert_eq!(
            got.key.as_deref(),
            sent.key.map(str::as_bytes),
            "key at {}-{offset}",
            meta.partition
        );
    }
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// acks=0: every record arrives, in send order, and the handles succeed with
/// the offset unknown (or known, where the capability table says so).
/// Mutation caught: acks=0 waiting for or inventing an offset, acks=0 records
/// dropped by the producer, or failed handles.
pub(crate) fn acks0(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("acks0", 1);
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let records: Vec<Send<'_>> = names.iter().map(|name| Send::value(name)).collect();
    let producer = producer(
        target,
        &[("acks", "0"), ("enable.idempotence", "false")],
        &[],
    );
    let metas = send_all(&producer, &topic, &records);
    let known = target.capabilities().acks0_offset_known;
    for (i, meta) in metas.iter().enumerate() {
        assert_eq!(
            meta.offset.is_some(),
            known,
            "acks=0 record {i}: offset {:?} (acks0_offset_known: {known})",
            meta.offset
        );
    }
    assert_eq!(values(&read_topic(target, &topic, names.len())), names);
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Idempotence, lost request: the first request never arrives (and its
/// connection breaks); the retry lands once, at offset 0, and the next
/// record follows at 1.
/// Mutation caught: no retry after a lost request (the record fails or is
/// lost), a retry with a new sequence that the broker refuses, a record sent
/// twice.
pub(crate) fn idempotent_lost_request(target: &dyn Target) -> Outcome {
    if let Some(not_applicable) = without_link_faults(target) {
        return not_applicable;
    }
    let topic = target.create_topic("lost-request", 1);
    let producer = producer(target, IDEMPOTENT, &[LinkFault::LoseRequest]);
    let first = send_one(&producer, &topic, "r0");
    let second = send_one(&producer, &topic, "r1");
    assert_eq!((first.offset, second.offset), (Some(0), Some(1)));
    assert_eq!(values(&read_topic(target, &topic, 2)), ["r0", "r1"]);
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Idempotence, lost response: the second record's response is lost, its
/// retry is deduplicated: one copy of each record, and the retry's handle
/// reports what `duplicate_offset` says (the original offset in process).
/// Mutation caught: the log accepting an exact retry as new data (dedup off,
/// a sequence re-stamped on retry), a duplicate answered with a new offset.
pub(crate) fn idempotent_lost_response(target: &dyn Target) -> Outcome {
    let capabilities = target.capabilities();
    if !capabilities.dedups_plain_idempotent_retries {
        return Outcome::NotApplicable(
            "the broker deduplicates retries only for transactional producers".into(),
        );
    }
    if let Some(not_applicable) = without_lost_responses(target) {
        return not_applicable;
    }
    let topic = target.create_topic("lost-response", 1);
    let faults = [LinkFault::Deliver, LinkFault::LoseResponse];
    let producer = producer(target, IDEMPOTENT, &faults);
    let first = send_one(&producer, &topic, "r0");
    let retried = send_one(&producer, &topic, "r1");
    let third = send_one(&producer, &topic, "r2");
    assert_eq!(first.offset, Some(0));
    if let Err(why) = capabilities.duplicate_offset.check(&retried, 1) {
        panic!("{why}");
    }
    assert_eq!(third.offset, Some(2));
    assert_eq!(
        values(&read_topic(target, &topic, 3)),
        ["r0", "r1", "r2"],
        "exactly one copy of each record"
    );
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Without idempotence (acks=all, retries): a lost response is retried and
/// the record is in the log twice; the handle reports the retry's offset.
/// Mutation caught: a non-idempotent producer that still stamps sequences (or
/// a log that deduplicates plain batches), so the documented duplicate is
/// hidden; a lost response not retried.
pub(crate) fn plain_lost_response_duplicates(target: &dyn Target) -> Outcome {
    if let Some(not_applicable) = without_lost_responses(target) {
        return not_applicable;
    }
    let topic = target.create_topic("plain-duplicate", 1);
    let producer = producer(target, NOT_IDEMPOTENT, &[LinkFault::LoseResponse]);
    let meta = send_one(&producer, &topic, "d0");
    assert_eq!(
        meta.offset,
        Some(1),
        "the acknowledged retry is the second copy"
    );
    assert_eq!(values(&read_topic(target, &topic, 2)), ["d0", "d0"]);
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Commit and resume: a group member reads part of a topic, commits and
/// closes; a new member of the same group resumes exactly after the commit,
/// so together they read every record once; `committed` reports the offsets.
/// Mutation caught: a commit not stored (the second member restarts from
/// `earliest` and reads duplicates), off by one (a record skipped or repeated),
/// committed offsets not used on assignment.
pub(crate) fn commit_and_resume(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("commit-resume", 2);
    let group = format!("{topic}-group");
    let names: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let records: Vec<Send<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Send::value(name).partition(i as u32 % 2))
        .collect();
    let producer = producer(target, IDEMPOTENT, &[]);
    send_all(&producer, &topic, &records);
    let properties = [
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        (
            "partition.assignment.strategy",
            target.capabilities().group_assignor,
        ),
    ];
    let join = target.capabilities().group_join_delay;
    let mut first = target.subscribe(&properties, &[&topic]).expect("subscribe");
    let deadline = Instant::now() + WAIT + join;
    let mut read = Vec::new();
    while read.len() < 7 {
        assert!(
            Instant::now() < deadline,
            "the first member read {}",
            read.len()
        );
        read.extend(poll(&mut first, 7 - read.len(), Duration::from_millis(20)));
    }
    first.commit().expect("commit");
    let mut positions: Vec<(u32, u64)> = (0..2)
        .map(|p| (p, first.position(&topic, p).expect("position")))
        .collect();
    positions.sort_unstable();
    for (partition, position) in &positions {
        assert_eq!(
            first.committed(&topic, *partition).expect("committed"),
            Some(*position),
            "committed offset of partition {partition}"
        );
    }
    first.close().expect("close");
    let mut second = target.subscribe(&properties, &[&topic]).expect("subscribe");
    let deadline = Instant::now() + WAIT + join;
    while read.len() < names.len() || second.assignment().len() < 2 || !caught_up(&second) {
        assert!(
            Instant::now() < deadline,
            "the second member read {} of {} records (committed {positions:?})",
            read.len(),
            names.len()
        );
        read.extend(poll(&mut second, 1000, Duration::from_millis(20)));
    }
    let mut got = values(&read);
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want, "every record once across the two members");
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Seek: reposition a consumer forward, backward, to the end; it reads from
/// exactly there, and `position` follows.
/// Mutation caught: seek ignored or off by one, `position` not moved by a
/// seek or a read, `seek_to_end` reading old records.
pub(crate) fn seek(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("seek", 1);
    let names: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let records: Vec<Send<'_>> = names.iter().map(|name| Send::value(name)).collect();
    let producer = producer(target, IDEMPOTENT, &[]);
    if target.capabilities().high_watermark_exact {
        send_all(&producer, &topic, &records);
    } else {
        // One record per batch: then the broker's high watermark is right.
        for name in &names {
            send_one(&producer, &topic, name);
        }
    }
    let mut consumer = target.consumer(FROM_START).expect("consumer");
    consumer.assign(&topic, 0).expect("assign");
    assert_eq!(values(&read_all(&mut consumer, 10, Duration::ZERO)), names);
    assert_eq!(consumer.position(&topic, 0).expect("position"), 10);
    consumer
        .seek(&topic, 0, 6)
        .expect("seek forward of the start");
    assert_eq!(consumer.position(&topic, 0).expect("position"), 6);
    let tail = read_all(&mut consumer, 4, Duration::ZERO);
    assert_eq!(values(&tail), &names[6..]);
    assert_eq!(tail[0].offset, 6);
    consumer.seek(&topic, 0, 2).expect("seek back");
    assert_eq!(
        values(&read_all(&mut consumer, 8, Duration::ZERO)),
        &names[2..]
    );
    consumer.seek(&topic, 0, 0).expect("seek to 0");
    consumer.seek_to_end();
    assert!(
        poll(&mut consumer, 100, Duration::from_millis(20)).is_empty(),
        "seek_to_end, then old records"
    );
    send_all(&producer, &topic, &[Send::value("s10")]);
    let after = read_all(&mut consumer, 1, Duration::ZERO);
    assert_eq!(
        (values(&after), after[0].offset),
        (vec!["s10".to_string()], 10)
    );
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// A group of two splitting partitions: one member reads a while, a second
/// joins; the first member's revoke listener commits, and the group splits
/// the four partitions into two disjoint, non-empty shares that together
/// cover the topic; across the rebalance every record is read exactly once.
/// Mutation caught: a revoked partition handed over before the revoke (read
/// by both), the new owner starting from `earliest` instead of the commit
/// (duplicates), an assignor that gives one member everything.
pub(crate) fn group_of_two_split(target: &dyn Target) -> Outcome {
    const PARTITIONS: u32 = 4;
    let topic = target.create_topic("group-split", PARTITIONS);
    let group = format!("{topic}-group");
    let names: Vec<String> = (0..40).map(|i| format!("g{i}")).collect();
    let send = |range: std::ops::Range<usize>| -> Vec<Send<'_>> {
        range
            .map(|i| Send::value(&names[i]).partition(i as u32 % PARTITIONS))
            .collect()
    };
    let producer = producer(target, IDEMPOTENT, &[]);
    send_all(&producer, &topic, &send(0..20));
    let properties = [
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        (
            "partition.assignment.strategy",
            target.capabilities().group_assignor,
        ),
    ];
    let join = target.capabilities().group_join_delay;
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let mut first = target.subscribe(&properties, &[&topic]).expect("subscribe");
    let seen = Arc::clone(&revoked);
    first
        .on_rebalance(move |event| {
            if let Rebalance::Revoked(revocation) = event {
                revocation.commit().expect("commit on revoke");
                seen.lock()
                    .unwrap()
                    .extend_from_slice(revocation.partitions());
            }
        })
        .expect("on_rebalance");
    let mut read: Vec<(u32, u64)> = Vec::new();
    let deadline = Instant::now() + WAIT + join;
    let mut before = 0;
    while before < 20 {
        assert!(
            Instant::now() < deadline,
            "the first member read {before} of 20"
        );
        let records = poll(&mut first, 1000, Duration::from_millis(20));
        before += records.len();
        read.extend(places(&records));
    }
    let mut second = target.subscribe(&properties, &[&topic]).expect("subscribe");
    send_all(&producer, &topic, &send(20..40));
    let deadline = Instant::now() + WAIT + 2 * join;
    loop {
        for member in [&mut first, &mut second] {
            read.extend(places(&poll(member, 1000, Duration::from_millis(10))));
        }
        let (a, b) = (first.assignment(), second.assignment());
        let done = read.len() >= names.len()
            && a.len() + b.len() == PARTITIONS as usize
            && !a.is_empty()
            && !b.is_empty()
            && caught_up(&first)
            && caught_up(&second);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "read {} of {}; assignments {a:?} / {b:?}",
            read.len(),
            names.len()
        );
    }
    let (a, b) = (first.assignment(), second.assignment());
    let shares: BTreeSet<u32> = a.iter().chain(&b).map(|tp| tp.partition).collect();
    assert_eq!(
        shares,
        (0..PARTITIONS).collect::<BTreeSet<u32>>(),
        "disjoint shares covering the topic: {a:?} / {b:?}"
    );
    assert!(
        !revoked.lock().unwrap().is_empty(),
        "the first member was never asked to revoke"
    );
    let mut unique = read.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        read.len(),
        "a record was read twice: {read:?}"
    );
    assert_eq!(unique.len(), names.len(), "every record once: {unique:?}");
    producer.close(WAIT).expect("close");
    Outcome::Pass
}

/// Close flushes: records still lingering in their batches when `close` is
/// called are all sent and acknowledged before it returns, and readable
/// afterwards; a send after close is refused.
/// Mutation caught: close failing (or dropping) what is batched but not yet
/// sent, close returning before the acknowledgements, sends accepted after
/// close.
pub(crate) fn close_flushes(target: &dyn Target) -> Outcome {
    let topic = target.create_topic("close-flushes", 2);
    let producer = producer(target, &[("linger.ms", "60000")], &[]);
    let names: Vec<String> = (0..20).map(|i| format!("z{i}")).collect();
    let handles: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let record = ProducerRecord::new(&topic, name).partition(i as u32 % 2);
            producer.send(record).expect("send")
        })
        .collect();
    producer.close(WAIT).expect("close");
    for (name, handle) in names.iter().zip(&handles) {
        assert!(
            handle.is_done(),
            "{name:?} not completed when close returned"
        );
        let meta = handle
            .wait()
            .unwrap_or_else(|error| panic!("{name:?} failed by close: {}", error.error()));
        assert!(
            meta.offset.is_some(),
            "{name:?} acknowledged without an offset"
        );
    }
    assert!(
        producer.send(ProducerRecord::new(&topic, "late")).is_err(),
        "a send after close was accepted"
    );
    let mut got = values(&read_topic(target, &topic, names.len()));
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);
    Outcome::Pass
}

/// Producer identity (epoch visibility): records of one idempotent producer
/// are read back with its producer id, epoch 0 and dense sequences from 0;
/// records of a non-idempotent producer carry none.
/// Mutation caught: sequences stamped per batch instead of per record, the
/// epoch or producer id lost in the batch header, plain records given an
/// identity.
pub(crate) fn producer_identity(target: &dyn Target) -> Outcome {
    if !target.capabilities().producer_identity_visible {
        return Outcome::NotApplicable("consumers do not see the producer id per record".into());
    }
    let topic = target.create_topic("producer-identity", 1);
    let names: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
    let records: Vec<Send<'_>> = names.iter().map(|name| Send::value(name)).collect();
    let idempotent = producer(target, &[("batch.size", "40"), ("linger.ms", "1")], &[]);
    send_all(&idempotent, &topic, &records);
    idempotent.close(WAIT).expect("close");
    let plain = producer(target, NOT_IDEMPOTENT, &[]);
    send_all(&plain, &topic, &[Send::value("plain")]);
    plain.close(WAIT).expect("close");
    let read = read_topic(target, &topic, names.len() + 1);
    let ids: Vec<_> = read[..names.len()]
        .iter()
        .map(|record| {
            record
                .producer
                .expect("an idempotent record without its producer")
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            (id.producer_id, id.epoch, id.sequence),
            (ids[0].producer_id, 0, i as i32),
            "record {i}'s producer identity"
        );
    }
    assert_eq!(
        read[names.len()].producer,
        None,
        "a plain record with an identity"
    );
    Outcome::Pass
}
