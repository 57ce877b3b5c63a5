//! The log's housekeeper: a background thread that runs retention (age limits
//! included) and producer-state expiry on every partition, and expires consumer
//! group members and idle groups (G1, G5), at a fixed interval, so none of it
//! waits for an append, a poll or a user's sweep. It holds the log's topics
//! only weakly and stops as soon as the last `Log` clone is dropped.

use std::sync::{Condvar, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::clock::Clock;
use crate::log::group_registry::Groups;
use crate::log::Topics;
use crate::sync::spawn_background;

/// Stops the housekeeper thread when dropped (with the last `Log` clone).
#[derive(Debug)]
pub(crate) struct Housekeeper {
    stop: std::sync::Arc<Stop>,
}

#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Sleeps up to `interval`; returns false once stopped.
    fn sleep(&self, interval: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, interval, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*stopped
    }
}

impl Housekeeper {
    /// Starts a housekeeper over `topics` and `groups` (whose idle offsets it
    /// drops after `offsets_retention_ms`) that wakes every `interval`.
    pub(crate) fn start(
        topics: Weak<Topics>,
        groups: std::sync::Arc<Groups>,
        offsets_retention_ms: i64,
        clock: std::sync::Arc<dyn Clock>,
        interval: Duration,
    ) -> Self {
        let stop = std::sync::Arc::new(Stop::default());
        let signal = std::sync::Arc::clone(&stop);
        // If the thread cannot be spawned the log still works: retention then
        // runs only when appends open segments, and expiry at each producer's
        // next append or a sweep, as documented on `LogConfig::housekeeping`.
        let _running = spawn_background("idemlog-housekeeper".to_string(), move || {
            while signal.sleep(interval) {
                let Some(topics) = topics.upgrade() else {
                    return;
                };
                let now_ms = clock.now_ms();
                for partition in topics.all_partitions() {
                    partition.housekeep(now_ms);
                }
                groups.housekeep(now_ms, offsets_retention_ms);
            }
        });
        Self { stop }
    }
}

impl Drop for Housekeeper {
    fn drop(&mut self) {
        *self
            .stop
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.stop.wake.notify_all();
    }
}
