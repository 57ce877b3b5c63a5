//! Model (b): the same idempotent batch appended concurrently twice (I1; contract
//! rule 2 under concurrency, `idemlog::contract`).
//!
//! Two threads send one batch (same producer id, epoch and base sequence). Exactly
//! one is appended; the other is answered as a duplicate carrying the same base
//! offset and timestamp; the log holds the records once, and the producer state
//! records the batch once.
#![cfg(loom)]

mod common;

use common::{batch, check, one_producer, value};
use idemlog::BatchHeader;
use loom::thread;

#[test]
fn concurrent_copies_of_one_batch_append_once() {
    check("idempotent_retry", || {
        let (log, partition, pid) = one_producer(128);
        let header = BatchHeader {
            producer_id: pid,
            epoch: 0,
            base_sequence: 0,
        };

        let handles: Vec<_> = (0..2)
            .map(|_| {
                let partition = partition.clone();
                thread::spawn(move || partition.append(Some(header), batch('x', 2)))
            })
            .collect();
        let outcomes: Vec<_> = handles
            .into_iter()
            .map(|handle| handle.join().expect("thread").expect("accepted"))
            .collect();

        let appended: Vec<_> = outcomes.iter().filter(|o| !o.duplicate).collect();
        let duplicates: Vec<_> = outcomes.iter().filter(|o| o.duplicate).collect();
        assert_eq!(appended.len(), 1, "exactly one append: {outcomes:?}");
        assert_eq!(duplicates.len(), 1, "exactly one duplicate: {outcomes:?}");
        let (original, retry) = (appended[0], duplicates[0]);
        assert_eq!(original.base_offset, 0);
        assert_eq!(original.record_count, 2);
        assert_eq!(retry.base_offset, original.base_offset);
        assert_eq!(retry.timestamp_ms, original.timestamp_ms);
        assert_eq!(retry.record_count, 2);

        // The log holds the batch once.
        assert_eq!(partition.log_end_offset(), 2);
        let records = log
            .consumer("t", 0)
            .expect("consumer")
            .poll(8)
            .expect("read");
        let got: Vec<_> = records
            .iter()
            .map(|r| {
                let meta = r.producer.expect("stamped");
                (r.offset, r.value.to_vec(), meta.producer_id, meta.sequence)
            })
            .collect();
        assert_eq!(
            got,
            vec![(0, value('x', 0), pid, 0), (1, value('x', 1), pid, 1)]
        );
        let state = partition.producer_state(pid).expect("live state");
        assert_eq!(state.last_sequence, 1);
        assert_eq!(state.window.len(), 1, "batch recorded once: {state:?}");
    });
}
