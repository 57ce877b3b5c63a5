//! The coarse clock's ticker thread runs only while something uses it: it stops
//! after the last log on the coarse clock goes, starts again with the next one,
//! and an idle process has none (issue 9, finding 6). Its own test binary: it
//! counts the process's ticker threads, so no other test may run a log beside
//! it; the tests here take turns.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
use idemlog::{Clock, CoarseClock, Log, LogConfig, ManualClock, Record, SystemClock};

#[path = "common/eventually.rs"]
mod eventually;
use eventually::eventually;

/// Ticker threads of this process: the clock's, and the producer's own one
/// that earlier versions ran (`idemlog-producer-clock`, cut to 15 bytes).
fn tickers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| {
                        matches!(name.trim(), "idemlog-clock" | "idemlog-produce")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

/// One test at a time, starting with no ticker; `None` if thread names cannot
/// be listed (not Linux).
fn alone() -> Option<MutexGuard<'static, ()>> {
    static SERIAL: Mutex<()> = Mutex::new(());
    if !std::path::Path::new("/proc/self/task").exists() {
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(eventually(|| tickers() == 0), "a ticker left running");
    Some(serial)
}

fn log_with_topic(config: LogConfig) -> Log {
    let log = Log::with_config(config).unwrap();
    log.create_topic("t", 1).unwrap();
    log
}

/// The log-append time of a new record.
fn append(log: &Log) -> i64 {
    log.append("t", 0, None, [Record::new("r")])
        .unwrap()
        .timestamp_ms
}

/// A log made after `before` on a stopped ticker: the ticker starts with the
/// log and its first time is taken then, so the first append is stamped no
/// earlier than `before` (no stale value from an earlier ticker) and no later
/// than now; then the ticker runs and moves.
fn assert_a_fresh_ticker_runs(log: &Log, before: i64) {
    let first = append(log);
    assert!(
        (before..=SystemClock.now_ms()).contains(&first),
        "{first} not from {before} to now"
    );
    assert!(eventually(|| tickers() == 1), "no ticker, or two");
    assert!(
        eventually(|| append(log) > first),
        "the ticker does not tick"
    );
}

#[test]
fn the_ticker_stops_with_the_last_log_clone_and_restarts_with_the_next_log() {
    let Some(_alone) = alone() else { return };
    for _round in 0..2 {
        let before = SystemClock.now_ms();
        let log = log_with_topic(LogConfig::default());
        assert_a_fresh_ticker_runs(&log, before);
        let clone = log.clone();
        drop(log);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(tickers(), 1, "a clone still lives");
        drop(clone);
        assert!(eventually(|| tickers() == 0), "the ticker outlives the log");
        // With no ticker the coarse clock reads the exact one.
        let before = SystemClock.now_ms();
        let coarse = CoarseClock.now_ms();
        assert!((before..=SystemClock.now_ms()).contains(&coarse));
    }
}

/// The last log goes and the next comes at once, again and again, whether the
/// old ticker has not yet checked its leases, is exiting, or has gone: every
/// new log finds exactly one ticker running and ticking.
#[test]
fn a_log_made_as_the_last_one_goes_always_finds_one_ticker() {
    let Some(_alone) = alone() else { return };
    let mut log = log_with_topic(LogConfig::default());
    for _round in 0..50 {
        drop(log);
        log = log_with_topic(LogConfig::default());
        let first = append(&log);
        assert!(eventually(|| tickers() == 1), "no ticker, or two");
        assert!(
            eventually(|| append(&log) > first),
            "the ticker does not tick"
        );
    }
    drop(log);
    assert!(eventually(|| tickers() == 0));
}

#[test]
fn a_coarse_clock_read_with_no_log_alive_is_exact_and_starts_no_ticker() {
    let Some(_alone) = alone() else { return };
    for _read in 0..100 {
        let before = SystemClock.now_ms();
        let coarse = CoarseClock.now_ms();
        assert!((before..=SystemClock.now_ms()).contains(&coarse));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(tickers(), 0);
}

#[test]
fn a_log_on_its_own_clock_runs_no_ticker() {
    let Some(_alone) = alone() else { return };
    let log = log_with_topic(LogConfig::default().clock(Arc::new(ManualClock::new(7))));
    assert_eq!(append(&log), 7);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(tickers(), 0);
}

/// The producer stamps its records on real time; nothing of it keeps ticking
/// once it and its log are gone.
#[test]
fn a_real_time_producer_leaves_no_ticker_behind() {
    let Some(_alone) = alone() else { return };
    let log = log_with_topic(LogConfig::default().clock(Arc::new(ManualClock::new(0))));
    let producer = Producer::new(&log, ProducerConfig::new().linger_ms(0)).unwrap();
    let handle = producer.send(ProducerRecord::new("t", "v")).unwrap();
    producer.flush(Duration::MAX).unwrap();
    assert_eq!(handle.try_result().unwrap().unwrap().offset, Some(0));
    drop(producer);
    drop(log);
    assert!(
        eventually(|| tickers() == 0),
        "a ticker outlives the producer"
    );
}
