//! The real `Log` against the sequential reference model (`tests/support/model.rs`,
//! the same files the integration tests use) of contract rules 1-5
//! (`idemlog::contract`).
//!
//! The input decodes (a hand-written `Arbitrary`, byte by byte, so seeds are easy
//! to write by hand) into a log configuration and a list of
//! `support::check::Op`s, applied to both sides through
//! `support::check::Harness`, which compares every answer and the whole
//! observable state after every step. A disagreement panics with the step, the
//! op (as given and as resolved) and expected (model) vs got (real log).
//!
//! Byte format (every read yields 0 once the input runs out):
//! - config, 23 bytes: window, segment_shift, segments_shift, max_batch,
//!   expiration_ms (u16 LE), then 3 topics of [partitions, retention (4 bytes)];
//!   retention = [flags (bit 0 records, bit 1 bytes, bit 2 age), max_records,
//!   max_bytes, max_age / 4];
//! - producer ids issued up front: 1 byte, `% 4`;
//! - then ops until the input ends (at most 256): an opcode byte `% 32` and its
//!   arguments, see `op` below.
//!
//! `fuzz/make_seeds.py` writes the hand-made seeds; run one with
//! `IDEMLOG_FUZZ_VERBOSE=1` to see how its appends ended.
#![no_main]

// The reference model and its harness: the integration tests' own files (one copy).
#[path = "../../tests/support/mod.rs"]
mod support;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use support::check::{
    BatchSpec, EpochSpec, Harness, HarnessConfig, Op, ReadFrom, RecordsSpec, RetentionSpec,
    SequenceSpec, TopicSpec,
};

/// Operations per input, so one input stays fast.
const MAX_OPS: usize = 256;

type R<T> = arbitrary::Result<T>;

fn byte(u: &mut Unstructured<'_>) -> R<u8> {
    u8::arbitrary(u)
}

fn word(u: &mut Unstructured<'_>) -> R<u16> {
    Ok(u16::from_le_bytes([byte(u)?, byte(u)?]))
}

fn int(u: &mut Unstructured<'_>) -> R<i32> {
    Ok(i32::from_le_bytes([byte(u)?, byte(u)?, byte(u)?, byte(u)?]))
}

fn retention(u: &mut Unstructured<'_>) -> R<RetentionSpec> {
    let flags = byte(u)?;
    let (records, bytes, age) = (byte(u)?, byte(u)?, byte(u)?);
    Ok(RetentionSpec {
        max_records: (flags & 1 != 0).then_some(records),
        max_bytes: (flags & 2 != 0).then_some(bytes),
        max_age_ms: (flags & 4 != 0).then_some(u16::from(age) * 4),
    })
}

fn config(u: &mut Unstructured<'_>) -> R<HarnessConfig> {
    let (window, segment_shift, segments_shift, max_batch) =
        (byte(u)?, byte(u)?, byte(u)?, byte(u)?);
    let expiration_ms = word(u)?;
    let mut topics = Vec::new();
    for _ in 0..3 {
        topics.push(TopicSpec {
            partitions: byte(u)?,
            retention: retention(u)?,
        });
    }
    Ok(HarnessConfig {
        window,
        segment_shift,
        segments_shift,
        max_batch,
        expiration_ms,
        topics,
    })
}

/// Mostly topic 0; sometimes 1, 2, "t3" (not created up front) or "" (invalid).
fn topic(u: &mut Unstructured<'_>) -> R<u8> {
    Ok(match byte(u)? % 8 {
        0..=3 => 0,
        4 => 1,
        5 => 2,
        6 => 3,
        _ => 4,
    })
}

/// Mostly partition 0; sometimes 1, 2 or 3 (no topic has a fourth).
fn partition(u: &mut Unstructured<'_>) -> R<u8> {
    Ok(match byte(u)? % 8 {
        0..=4 => 0,
        5 => 1,
        6 => 2,
        _ => 3,
    })
}

fn epoch(u: &mut Unstructured<'_>) -> R<EpochSpec> {
    let e = byte(u)?;
    Ok(match e % 8 {
        0..=4 => EpochSpec::Current,
        5 => EpochSpec::Bump(e >> 3),
        6 => EpochSpec::Lower(u16::from(e >> 3)),
        _ => EpochSpec::Exact(word(u)?),
    })
}

/// Batch kind byte `% 16`: 0-2 plain; otherwise idempotent with a producer byte
/// and 3-7 next, 8-10 retry, 11-12 re-split, 13 exact base, 14-15 near i32::MAX.
fn batch(u: &mut Unstructured<'_>) -> R<BatchSpec> {
    let kind = byte(u)? % 16;
    if kind <= 2 {
        return Ok(BatchSpec::Plain);
    }
    let producer = byte(u)?;
    let sequence = match kind {
        3..=7 => SequenceSpec::Next(epoch(u)?),
        8..=10 => SequenceSpec::Retry { back: byte(u)? },
        11 | 12 => SequenceSpec::ReSplit {
            back: byte(u)?,
            skip: byte(u)?,
        },
        13 => SequenceSpec::Exact(epoch(u)?, int(u)?),
        _ => SequenceSpec::NearMax(epoch(u)?, byte(u)?),
    };
    Ok(BatchSpec::Idempotent { producer, sequence })
}

/// Count byte: below 224, 1..=4 records; otherwise the raw byte (the harness
/// takes it modulo max_batch + 2: empty and oversized batches).
fn records(u: &mut Unstructured<'_>) -> R<RecordsSpec> {
    let count = byte(u)?;
    Ok(RecordsSpec {
        count: if count < 224 { 1 + count % 4 } else { count },
        seed: byte(u)?,
    })
}

/// Opcode `% 32`: 0-15 and 27-31 append [topic, partition, batch.., count, seed];
/// 16-17 init_producer_id; 18 create_topic [name, partitions, retention(4)];
/// 19-20 advance clock [u16 LE]; 21 expire; 22 retention [topic, partition];
/// 23 retention on all; 24-26 read [topic, partition, from kind, from, max].
fn op(u: &mut Unstructured<'_>) -> R<Op> {
    Ok(match byte(u)? % 32 {
        16 | 17 => Op::InitProducerId,
        18 => Op::CreateTopic {
            name: byte(u)?,
            partitions: byte(u)?,
            retention: retention(u)?,
        },
        19 | 20 => Op::AdvanceClock { ms: word(u)? },
        21 => Op::ExpireProducers,
        22 => Op::EnforceRetention {
            topic: topic(u)?,
            partition: partition(u)?,
        },
        23 => Op::EnforceRetentionAll,
        24..=26 => {
            let (topic, partition) = (topic(u)?, partition(u)?);
            let (kind, n) = (byte(u)?, byte(u)?);
            let from = match kind % 4 {
                0 => ReadFrom::Start(n),
                1 => ReadFrom::BeforeStart(n),
                2 => ReadFrom::End(n),
                _ => ReadFrom::Raw(u16::from(n)),
            };
            Op::Read {
                topic,
                partition,
                from,
                max: byte(u)?,
            }
        }
        _ => Op::Append {
            topic: topic(u)?,
            partition: partition(u)?,
            batch: batch(u)?,
            records: records(u)?,
        },
    })
}

#[derive(Debug)]
struct Input {
    config: HarnessConfig,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> R<Self> {
        let config = config(u)?;
        let mut ops = vec![Op::InitProducerId; usize::from(byte(u)? % 4)];
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(op(u)?);
        }
        Ok(Self { config, ops })
    }
}

fuzz_target!(|input: Input| {
    let result = Harness::new(&input.config).and_then(|mut harness| {
        input.ops.iter().try_for_each(|op| harness.apply(op))?;
        if std::env::var_os("IDEMLOG_FUZZ_VERBOSE").is_some() {
            eprintln!("{} ops, appends: {:?}", input.ops.len(), harness.outcomes());
        }
        Ok(())
    });
    if let Err(disagreement) = result {
        panic!(
            "real log and model disagree: {disagreement}\nconfig: {:?}\nops: {:#?}",
            input.config, input.ops
        );
    }
});
