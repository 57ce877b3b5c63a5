//! Contract scenarios 1-7 (the public scenarios of the contract,
//! `idemlog::contract`, src/contract.rs), in its notation:
//! append(pid, epoch, base_seq, n) -> OK a..b | DUP a..b | OOSE | FENCED.
//! (Contract scenario 8, under injected faults, is in the producer tests.)

use idemlog::{BatchHeader, Log, LogError, ProducerId, Record};

const TOPIC: &str = "t";

struct Broker {
    log: Log,
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Ok(u64, u64),
    Dup(u64, u64),
    Oose { expected: i32, got: i32 },
    Fenced,
}

impl Broker {
    fn new() -> Self {
        let log = Log::new();
        log.create_topic(TOPIC, 1).expect("topic");
        Self { log }
    }

    fn pid(&self) -> ProducerId {
        self.log.init_producer_id().producer_id
    }

    fn append(&self, pid: ProducerId, epoch: u16, base_sequence: i32, n: usize) -> Answer {
        let header = BatchHeader {
            producer_id: pid,
            epoch,
            base_sequence,
        };
        let records: Vec<Record> = (0..n)
            .map(|i| Record::new(format!("{pid}-{epoch}-{base_sequence}-{i}")))
            .collect();
        match self.log.append(TOPIC, 0, Some(header), records) {
            Ok(outcome) if outcome.duplicate => {
                Answer::Dup(outcome.base_offset, outcome.last_offset())
            }
            Ok(outcome) => Answer::Ok(outcome.base_offset, outcome.last_offset()),
            Err(LogError::OutOfOrderSequence { expected, got }) => Answer::Oose { expected, got },
            Err(LogError::InvalidProducerEpoch { .. }) => Answer::Fenced,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }

    fn log_len(&self) -> u64 {
        self.log
            .partition(TOPIC, 0)
            .expect("partition")
            .high_watermark()
    }
}

/// Contract scenario 1.
#[test]
fn scenario_1_chain() {
    let b = Broker::new();
    let p = b.pid();
    assert_eq!(b.append(p, 0, 0, 3), Answer::Ok(0, 2));
    assert_eq!(b.append(p, 0, 3, 2), Answer::Ok(3, 4));
}

/// Contract scenario 2.
#[test]
fn scenario_2_lost_ack_is_answered_with_the_original_offsets() {
    let b = Broker::new();
    let p = b.pid();
    assert_eq!(b.append(p, 0, 0, 3), Answer::Ok(0, 2));
    assert_eq!(b.append(p, 0, 0, 3), Answer::Dup(0, 2));
    assert_eq!(b.append(p, 0, 3, 1), Answer::Ok(3, 3));
    assert_eq!(b.log_len(), 4, "the duplicate appended nothing");
}

/// Contract scenario 2 with contract rule 2: the original timestamp comes back,
/// and the payload is not compared.
#[test]
fn scenario_2_duplicate_returns_the_original_timestamp() {
    let clock = idemlog::ManualClock::new(1_000);
    let log = Log::with_config(
        idemlog::LogConfig::default()
            .clock(std::sync::Arc::new(clock.clone()))
            .housekeeping(None),
    )
    .expect("config");
    log.create_topic(TOPIC, 1).expect("topic");
    let pid = log.init_producer_id().producer_id;
    let header = Some(BatchHeader {
        producer_id: pid,
        epoch: 0,
        base_sequence: 0,
    });
    let first = log
        .append(TOPIC, 0, header, Record::new("a"))
        .expect("append");
    clock.advance_ms(5_000);
    let retry = log
        .append(TOPIC, 0, header, Record::new("different payload"))
        .expect("dup");
    assert!(retry.duplicate);
    assert_eq!(
        (retry.base_offset, retry.timestamp_ms),
        (first.base_offset, 1_000)
    );
}

/// Contract scenario 3.
#[test]
fn scenario_3_gap_is_detected() {
    let b = Broker::new();
    let p = b.pid();
    assert_eq!(b.append(p, 0, 0, 1), Answer::Ok(0, 0));
    assert_eq!(
        b.append(p, 0, 2, 1),
        Answer::Oose {
            expected: 1,
            got: 2
        }
    );
    assert_eq!(b.append(p, 0, 1, 1), Answer::Ok(1, 1));
}

/// Contract scenario 4 (contract rule 3 before any duplicate check).
#[test]
fn scenario_4_fencing_beats_duplicate_detection() {
    let b = Broker::new();
    let p = b.pid();
    assert_eq!(b.append(p, 1, 0, 1), Answer::Ok(0, 0));
    assert_eq!(b.append(p, 0, 1, 1), Answer::Fenced);
    assert_eq!(b.append(p, 0, 0, 1), Answer::Fenced, "not DUP: older epoch");
}

/// Contract scenario 5.
#[test]
fn scenario_5_window_holds_five_batches() {
    let b = Broker::new();
    let p = b.pid();
    for seq in 0..5 {
        assert_eq!(b.append(p, 0, seq, 1), Answer::Ok(seq as u64, seq as u64));
    }
    assert_eq!(b.append(p, 0, 0, 1), Answer::Dup(0, 0));
    assert_eq!(b.append(p, 0, 4, 1), Answer::Dup(4, 4));
    assert_eq!(b.append(p, 0, 5, 1), Answer::Ok(5, 5));
    assert_eq!(
        b.append(p, 0, 0, 1),
        Answer::Oose {
            expected: 6,
            got: 0
        }
    );
}

/// Contract scenario 6.
#[test]
fn scenario_6_sequence_wraps_at_i32_max() {
    let b = Broker::new();
    let p = b.pid();
    assert_eq!(b.append(p, 0, i32::MAX - 1, 3), Answer::Ok(0, 2));
    assert_eq!(
        b.append(p, 0, 2, 1),
        Answer::Oose {
            expected: 1,
            got: 2
        }
    );
    assert_eq!(b.append(p, 0, 1, 1), Answer::Ok(3, 3));
    let records = b
        .log
        .consumer(TOPIC, 0)
        .expect("consumer")
        .poll(10)
        .expect("read");
    let sequences: Vec<i32> = records
        .iter()
        .map(|r| r.producer.expect("idempotent").sequence)
        .collect();
    assert_eq!(sequences, vec![i32::MAX - 1, i32::MAX, 0, 1]);
}

/// Contract scenario 7.
#[test]
fn scenario_7_two_producers_keep_their_own_chain_and_window() {
    let b = Broker::new();
    let (p, q) = (b.pid(), b.pid());
    assert_eq!(b.append(p, 0, 0, 2), Answer::Ok(0, 1));
    assert_eq!(b.append(q, 0, 0, 1), Answer::Ok(2, 2));
    assert_eq!(b.append(p, 0, 2, 1), Answer::Ok(3, 3));
    assert_eq!(b.append(q, 0, 0, 1), Answer::Dup(2, 2));
    assert_eq!(b.append(p, 0, 0, 2), Answer::Dup(0, 1));
    assert_eq!(
        b.append(q, 0, 2, 1),
        Answer::Oose {
            expected: 1,
            got: 2
        }
    );
    assert_eq!(b.append(q, 0, 1, 1), Answer::Ok(4, 4));
    let producers: Vec<ProducerId> = b
        .log
        .consumer(TOPIC, 0)
        .expect("consumer")
        .poll(10)
        .expect("read")
        .iter()
        .map(|r| r.producer.expect("idempotent").producer_id)
        .collect();
    assert_eq!(producers, vec![p, p, q, p, q]);
}
