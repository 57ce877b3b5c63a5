//! Waiting for background work in tests (included with `#[path]`).

use std::time::{Duration, Instant};

/// Waits up to 5 s for `done`.
pub(crate) fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}
