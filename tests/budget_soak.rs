//! Soak of the memory budget: a writer that never stops, a stalled reader, and
//! a small budget. Memory stays under the budget (as charged and as resident),
//! the writer gets `LogFull` when retention cannot make room, and every record
//! that was acknowledged can be read back. Its own test binary, so the resident
//! set it measures is its own.

use std::time::{Duration, Instant};

use idemlog::{Log, LogConfig, LogError, Record, RecordRef, RetentionPolicy, TopicConfig};

const BUDGET: u64 = 32 << 20;

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// 64 KiB segments on a `BUDGET`-byte budget, with a ring larger than the
/// budget: the budget is what fills first.
fn budgeted_log() -> Log {
    Log::with_config(
        LogConfig::default()
            .segment_bytes(64 << 10)
            .max_segments(1024)
            .memory_budget(BUDGET),
    )
    .expect("config")
}

#[test]
fn a_stalled_reader_and_a_full_budget_keep_memory_bounded() {
    let seconds = std::env::var("IDEMLOG_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2u64);
    let log = budgeted_log();
    let retained = RetentionPolicy::default().max_records(20_000);
    log.create_topic_with("kept", TopicConfig::new(1).retention(retained))
        .expect("topic");
    log.create_topic("unbounded", 1).expect("topic");
    let before = resident_bytes();
    let mut peak = 0;

    // Phase 1: retention keeps rolling past a reader that read one record and
    // stalled, holding it (it pins that segment only).
    log.append("kept", 0, None, Record::new(vec![7u8; 100]))
        .expect("first");
    let stalled = log.consumer("kept", 0).unwrap().poll(1).unwrap();
    let payload = [3u8; 100];
    let batch = [RecordRef::new(&payload); 16];
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut appended = 0u64;
    while Instant::now() < deadline {
        for _ in 0..1024 {
            log.append("kept", 0, None, &batch[..])
                .expect("retention makes room");
            appended += 16;
        }
        let usage = log.memory_usage();
        assert!(usage.used_bytes <= BUDGET, "{usage:?}");
        peak = peak.max(resident_bytes().saturating_sub(before));
    }
    assert!(appended > 1_000_000, "the writer kept writing: {appended}");
    assert_eq!(
        &stalled[0].value[..],
        &[7u8; 100][..],
        "the held record is intact"
    );

    // Phase 2: no retention: the budget fills and the writer is told so.
    let mut acknowledged = 0u64;
    let mut refused = 0;
    while refused < 100 {
        match log.append("unbounded", 0, None, &batch[..]) {
            Ok(outcome) => {
                assert_eq!(outcome.base_offset, acknowledged);
                acknowledged += 16;
            }
            Err(LogError::LogFull { used, budget, .. }) => {
                assert!(used <= budget);
                refused += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
        peak = peak.max(resident_bytes().saturating_sub(before));
    }
    assert!(acknowledged > 0);
    assert!(
        peak <= BUDGET + BUDGET / 10 + (64 << 20),
        "resident growth {peak} B for a {BUDGET} B budget"
    );
    // Nothing acknowledged is lost.
    let mut consumer = log.consumer("unbounded", 0).unwrap();
    let mut read = 0u64;
    loop {
        let n = consumer
            .poll_with(4096, |view| {
                assert_eq!(view.offset, read);
                assert_eq!(view.value, &payload[..]);
                read += 1;
            })
            .unwrap();
        if n == 0 {
            break;
        }
    }
    assert_eq!(read, acknowledged);
}

/// The v1 hazard: a `poll_with` visitor that blocks kept the reclamation epoch
/// pinned for the whole process, so evicted segments were never freed and
/// memory grew without bound despite retention. Now the visitor runs unpinned:
/// while it blocks, a writer appends many times the budget through retention
/// and never runs out of room.
#[test]
fn a_blocked_visitor_does_not_hold_back_reclamation() {
    let log = budgeted_log();
    let retained = RetentionPolicy::default().max_records(10_000);
    log.create_topic_with("t", TopicConfig::new(1).retention(retained))
        .expect("topic");
    log.append("t", 0, None, Record::new("first"))
        .expect("append");
    let (entered, visitor_entered) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let mut consumer = log.consumer("t", 0).unwrap();
    let reader = std::thread::spawn(move || {
        consumer
            .poll_with(1, |_| {
                entered.send(()).unwrap();
                released.recv().unwrap();
            })
            .unwrap()
    });
    visitor_entered.recv().unwrap();
    let payload = [5u8; 100];
    let batch = [RecordRef::new(&payload); 16];
    // 8x the budget, every byte through retention, while the visitor blocks.
    let batches = 8 * BUDGET / (16 * 108);
    for _ in 0..batches {
        log.append("t", 0, None, &batch[..])
            .expect("retention keeps making room");
    }
    assert!(log.memory_usage().used_bytes <= BUDGET);
    release.send(()).unwrap();
    assert_eq!(reader.join().unwrap(), 1);
}
