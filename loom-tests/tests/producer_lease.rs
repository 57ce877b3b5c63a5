//! Model (lease): the owner lease of a producer state (I12; contract rule 2
//! under concurrency, `idemlog::contract`).
//!
//! An appender that caches its producer's state takes the state's lease with
//! its first batch, and commits the next in-sequence batch with plain stores
//! inside its `active` bracket. Meanwhile another writer of the same state has
//! to close the lease before it claims the word (revoke it: REVOKING, the
//! heavy fence, a wait for `active`), and only then takes the CAS protocol
//! (I1); its duplicate answers are seqlock reads that leave the lease alone.
//! Under loom both asymmetric fences are SeqCst fences.
//!
//! - `a_leased_batch_races_its_copy_from_a_second_appender`: the holder sends
//!   batch 1 while a second appender of the same producer sends a copy of it.
//!   Exactly one is appended at offset 1, the other is answered as a duplicate
//!   with the same offset and timestamp, the log holds the records once, and
//!   the window records the batch once. A holder's plain store landing after
//!   the revoker's CAS would lose a commit or append the batch twice.
//! - `the_holder_appends_on_after_racing_a_second_appender`: the second
//!   appender's copy of batch 2 races the holder's (one is appended, the other
//!   is its duplicate), and afterwards the holder appends batch 3, by CAS if
//!   the second appender's append revoked its lease, still leased if its copy
//!   was the duplicate, and a gap is refused: the state ends with every batch,
//!   in sequence, each once.
#![cfg(loom)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{batch, check, one_producer, value};
use idemlog::LogError;
use loom::thread;

/// Executions in which the holder's copy / the second appender's was appended.
static HOLDER_APPENDED: AtomicUsize = AtomicUsize::new(0);
static SECOND_APPENDED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_leased_batch_races_its_copy_from_a_second_appender() {
    check("producer_lease", || {
        let (log, partition, pid) = one_producer(128);
        let mut holder = partition.producer(pid).expect("issued");
        // Batch 0 creates the state and takes its lease.
        holder.append(0, 0, batch('a', 1)).expect("seq 0");
        let mut second = partition.producer(pid).expect("issued");

        let racer = thread::spawn(move || second.append(0, 1, batch('b', 1)));
        let mine = holder.append(0, 1, batch('b', 1)).expect("accepted");
        let theirs = racer.join().expect("racer").expect("accepted");

        assert_ne!(
            mine.duplicate, theirs.duplicate,
            "one append, one duplicate"
        );
        assert_eq!((mine.base_offset, theirs.base_offset), (1, 1));
        assert_eq!(mine.timestamp_ms, theirs.timestamp_ms);
        let counter = if mine.duplicate {
            &SECOND_APPENDED
        } else {
            &HOLDER_APPENDED
        };
        counter.fetch_add(1, Ordering::Relaxed);

        assert_eq!(
            partition.log_end_offset(),
            2,
            "the batch is in the log once"
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
        let state = partition.producer_state(pid).expect("live state");
        assert_eq!(state.last_sequence, 1);
        let sequences: Vec<_> = state
            .window
            .iter()
            .map(|b| (b.first_sequence, b.base_offset))
            .collect();
        assert_eq!(sequences, vec![(0, 0), (1, 1)], "each batch recorded once");
    });
    // Both orders were explored: the holder's plain-store path and the
    // revoker's CAS path each won somewhere.
    assert!(HOLDER_APPENDED.load(Ordering::Relaxed) > 0);
    assert!(SECOND_APPENDED.load(Ordering::Relaxed) > 0);
}

#[test]
fn the_holder_appends_on_after_racing_a_second_appender() {
    check("producer_lease_after_race", || {
        let (_log, partition, pid) = one_producer(256);
        let mut holder = partition.producer(pid).expect("issued");
        holder.append(0, 0, batch('a', 1)).expect("seq 0");
        holder.append(0, 1, batch('b', 1)).expect("seq 1, leased");
        let mut second = partition.producer(pid).expect("issued");

        // The second appender sends batch 2 as the holder does: one of the
        // two copies is appended, the other is its duplicate.
        let racer = thread::spawn(move || second.append(0, 2, batch('c', 1)));
        let mine = holder.append(0, 2, batch('c', 1)).expect("accepted");
        let theirs = racer.join().expect("racer").expect("accepted");
        assert_ne!(mine.duplicate, theirs.duplicate);
        assert_eq!((mine.base_offset, theirs.base_offset), (2, 2));

        // Batch 3 goes by CAS if the second appender's append revoked the
        // lease, leased if its copy was the duplicate; a gap is refused either
        // way.
        assert_eq!(
            holder.append(0, 3, batch('d', 1)).map(|o| o.base_offset),
            Ok(3)
        );
        assert!(matches!(
            holder.append(0, 5, batch('e', 1)),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        let state = partition.producer_state(pid).expect("live state");
        assert_eq!(state.last_sequence, 3);
        let offsets: Vec<_> = state.window.iter().map(|b| b.base_offset).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3]);
        assert_eq!(partition.log_end_offset(), 4);
    });
}
