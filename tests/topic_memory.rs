//! What a topic's name takes: both of its copies (the partitions' shared name
//! and the topics map's key) are charged to the memory budget, within 10% of
//! the resident memory they cause, and long names fill the budget to a clear
//! `LogFull`. Its own test binary, so the resident set it measures is its own.

use idemlog::{Log, LogConfig, LogError};

#[path = "common/resident.rs"]
mod resident;
use resident::resident_bytes;

/// A topic's name is charged too, both of its copies (the partitions' shared
/// name and the topics map's key): 64 topics with 4 MiB names used to be
/// charged 292 KiB against 518 MiB resident under an 8 MiB budget, and never
/// refused (review finding).
#[test]
fn a_topics_name_is_charged_and_long_names_fill_the_budget() {
    const NAME_BYTES: usize = 1 << 20;
    let budget = 64 << 20;
    let log = Log::with_config(
        LogConfig::default()
            .max_segments(2)
            .memory_budget(budget)
            .housekeeping(None),
    )
    .expect("config");
    let before_rss = resident_bytes();
    let before = log.memory_usage().used_bytes;
    let mut created = 0u64;
    let refused = loop {
        let name = format!("{created:04}{}", "n".repeat(NAME_BYTES));
        match log.create_topic(&name, 1) {
            Ok(()) => created += 1,
            Err(error) => break error,
        }
        assert!(created < 64, "64 topics of 1 MiB names fit a 64 MiB budget");
    };
    assert!(matches!(refused, LogError::LogFull { .. }), "{refused}");
    let charged = log.memory_usage().used_bytes - before;
    let resident = resident_bytes().saturating_sub(before_rss);
    eprintln!("{created} topics: charged {charged} B, resident {resident} B");
    assert!(created >= 16, "{created} topics of 2 MiB in names each");
    let error = (resident as f64 - charged as f64).abs() / resident as f64;
    assert!(
        error <= 0.10,
        "charged {charged} B for {resident} B resident ({:.0}% off)",
        error * 100.0
    );
}
