//! Model (g): producer-state expiry racing an append of the same producer (I9;
//! the contract's producer-state expiry, `idemlog::contract`).
//!
//! The producer's state is idle past the expiration time. `Log::expire_producers`
//! (which marks it DEAD by CAS and removes it from the map) races an append
//! through an appender that still caches the old state. Whatever the order, the
//! append succeeds exactly once at offset 1, and afterwards the map holds exactly
//! one live state that contains that append: a commit into a state that is being
//! expired would be lost, and a DEAD state must never be resurrected.
#![cfg(loom)]

mod common;

use std::sync::Arc as StdArc;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{batch, check, one_partition, value};
use idemlog::{BatchMetadata, LogConfig, ManualClock, TopicConfig};
use loom::thread;

/// Executions in which the sweeper expired the state first / the append won.
static EXPIRED_FIRST: AtomicUsize = AtomicUsize::new(0);
static APPENDED_FIRST: AtomicUsize = AtomicUsize::new(0);

#[test]
fn expiry_races_an_append() {
    check("producer_expiry", || {
        let clock = ManualClock::new(0);
        let (log, partition) = one_partition(
            LogConfig::default()
                .segment_bytes(128)
                .max_segments(4)
                .producer_id_expiration(Duration::from_millis(100))
                .clock(StdArc::new(clock.clone())),
            TopicConfig::new(1),
        );
        let pid = log.init_producer_id().producer_id;
        let mut appender = partition.producer(pid).expect("issued");
        appender.append(0, 0, batch('a', 1)).expect("seq 0");
        clock.set_ms(1_000);

        let sweeper_log = log.clone();
        let sweeper = thread::spawn(move || sweeper_log.expire_producers());
        let writer = thread::spawn(move || appender.append(0, 1, batch('b', 1)));

        let outcome = writer.join().expect("writer").expect("accepted");
        let expired = sweeper.join().expect("sweeper");
        assert!(!outcome.duplicate);
        assert_eq!((outcome.base_offset, outcome.timestamp_ms), (1, 1_000));
        match expired {
            0 => APPENDED_FIRST.fetch_add(1, Ordering::Relaxed),
            1 => EXPIRED_FIRST.fetch_add(1, Ordering::Relaxed),
            n => panic!("one state at most: {n}"),
        };

        assert_eq!(log.producer_state_stats().entries, 1, "one live state");
        let state = partition
            .producer_state(pid)
            .expect("the append's state is live, not lost with the expired one");
        assert_eq!((state.last_sequence, state.last_append_ms), (1, 1_000));
        assert_eq!(
            state.window,
            vec![BatchMetadata {
                first_sequence: 1,
                last_sequence: 1,
                base_offset: 1,
                timestamp_ms: 1_000
            }]
        );
        let records = log
            .consumer("t", 0)
            .expect("consumer")
            .poll(8)
            .expect("read");
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.offset, r.value.to_vec()))
            .collect();
        assert_eq!(got, vec![(0, value('a', 0)), (1, value('b', 0))]);
    });
    assert!(
        EXPIRED_FIRST.load(Ordering::Relaxed) > 0 && APPENDED_FIRST.load(Ordering::Relaxed) > 0
    );
}
