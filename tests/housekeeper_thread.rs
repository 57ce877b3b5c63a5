//! The housekeeper thread stops with the last `Log` clone. Its own test binary:
//! it counts the process's housekeeper threads, so no other test may run a log
//! beside it.

use std::time::Duration;

use idemlog::Log;

#[path = "common/eventually.rs"]
mod eventually;
use eventually::eventually;

/// Housekeeper threads of this process.
fn housekeepers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim() == "idemlog-houseke")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_housekeeper_stops_with_the_last_log_clone() {
    if !std::path::Path::new("/proc/self/task").exists() {
        return; // Not Linux: thread names cannot be listed this way.
    }
    let before = housekeepers();
    let log = Log::new();
    let clone = log.clone();
    assert!(eventually(|| housekeepers() > before));
    drop(log);
    std::thread::sleep(Duration::from_millis(20));
    assert!(housekeepers() > before, "a clone still lives");
    drop(clone);
    assert!(eventually(|| housekeepers() <= before));
}
