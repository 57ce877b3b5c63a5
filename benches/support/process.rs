//! What the operating system counts for this process: CPU time (for the
//! CPU/wall check of two-thread rounds), minor page faults (to see that a timed
//! round faults no page) and the resident set (the memory rows).

use std::time::Duration;

/// CPU time consumed by all threads of this process so far
/// (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`, nanosecond resolution; the
/// 10 ms ticks of `/proc/self/stat` are too coarse for rounds of 40 ms).
pub(crate) fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, exclusively borrowed `timespec` for the call to
    // write into; CLOCK_PROCESS_CPUTIME_ID is supported on every Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Minor page faults of this process so far (`/proc/self/stat`; 0 if unreadable).
pub(crate) fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; minflt is field 10.
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Resident set size of this process in bytes (`/proc/self/statm`; 0 if unreadable).
pub(crate) fn resident_bytes() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a system value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move() {
        let before = cpu_time();
        let mut spin = 0u64;
        while cpu_time() - before < Duration::from_millis(5) {
            spin = std::hint::black_box(spin + 1);
        }
        assert!(resident_bytes() > 0);
        let faults = minor_faults();
        let touched = vec![1u8; 8 << 20];
        std::hint::black_box(&touched);
        assert!(minor_faults() > faults);
    }
}
