//! The process's resident set, for the tests that check memory against it
//! (included with `#[path]`; each such test is its own binary, so the
//! resident set it measures is its own).

/// Resident bytes of this process now (0 if /proc is unreadable).
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
