//! What a topic's partitions take before any record: the budget charge of
//! `create_topic` against the resident memory it causes (the contract's
//! "within 10% of the resident set"), with a small and with the default
//! segment ring. Its own test binary, so the resident set it measures is its own.

use idemlog::{Log, LogConfig};

#[path = "common/resident.rs"]
mod resident;
use resident::resident_bytes;

/// Creates a topic of `partitions` partitions in a new log; returns the log
/// (kept alive, so a later measurement never reuses its freed memory), the bytes
/// charged and the resident growth.
fn charged_and_resident(config: LogConfig, partitions: u32) -> (Log, u64, u64) {
    let log = Log::with_config(config.housekeeping(None)).expect("config");
    let before_rss = resident_bytes();
    let before = log.memory_usage().used_bytes;
    log.create_topic("t", partitions).expect("fits the budget");
    let charged = log.memory_usage().used_bytes - before;
    let resident = resident_bytes().saturating_sub(before_rss);
    (log, charged, resident)
}

#[test]
fn a_topics_charge_matches_the_memory_its_partitions_take() {
    let mut logs = Vec::new();
    for (name, config, partitions) in [
        (
            "2-segment ring",
            LogConfig::default().max_segments(2),
            200_000,
        ),
        ("default ring", LogConfig::default(), 20_000),
    ] {
        let (log, charged, resident) = charged_and_resident(config, partitions);
        logs.push(log);
        let per_partition = |bytes: u64| bytes as f64 / f64::from(partitions);
        eprintln!(
            "{name}: charged {:.0} B, resident {:.0} B per partition",
            per_partition(charged),
            per_partition(resident)
        );
        let error = (resident as f64 - charged as f64).abs() / resident as f64;
        assert!(
            error <= 0.10,
            "{name}: charged {charged} B for {resident} B resident ({:.0}% off)",
            error * 100.0
        );
    }
}
