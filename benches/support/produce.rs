//! The producer client end to end: application threads -> `Producer::send_to`
//! -> accumulator -> flusher -> log, until every record's delivery handle has
//! completed. The application holds its bytes in a reusable buffer; `send_to`
//! takes an owned value, so each record is copied into a `Bytes`
//! (`Bytes::copy_from_slice`), the same price the channel peer pays.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;

use idemlog::producer::{DeliveryHandle, Producer, ProducerConfig};

use super::crew::{prefilled, task, Crew, CrewRunner};
use super::engine::bench_log;
use super::payload::AppBuffer;
use super::{RETAINED_RECORDS, TOPIC};

/// Delivery handles each sending thread keeps before it waits for the oldest.
pub(crate) const PRODUCE_OUTSTANDING: usize = 8192;

/// `threads` sending threads sharing one `Producer` with `config`, sending
/// `record_size`-byte values to a one-partition topic that retains
/// [`RETAINED_RECORDS`]. A round ends when each thread has flushed after its
/// last send and every one of its handles has completed (`black_box`ed).
pub(crate) fn end_to_end(threads: usize, record_size: usize, config: ProducerConfig) -> CrewRunner {
    let log = bench_log(1, Some(RETAINED_RECORDS));
    let producer = Arc::new(Producer::new(&log, config).expect("producer"));
    let tasks = (0..threads)
        .map(|_| {
            let producer = Arc::clone(&producer);
            // Resolved once: `send_to` skips the per-record topic lookup.
            let topic = producer.topic(TOPIC).expect("topic");
            let buffer = AppBuffer::new(record_size, 1);
            let mut pending: VecDeque<DeliveryHandle> =
                VecDeque::with_capacity(PRODUCE_OUTSTANDING);
            task(move |total: u64| {
                for _ in 0..total / threads as u64 {
                    if pending.len() == PRODUCE_OUTSTANDING {
                        let oldest = pending.pop_front().expect("non-empty");
                        black_box(oldest.wait().expect("delivered"));
                    }
                    let handle = producer.send_to(&topic, None, None, buffer.copied(0));
                    pending.push_back(handle.expect("send"));
                }
                producer.flush().expect("flush");
                for handle in pending.drain(..) {
                    black_box(handle.wait().expect("delivered"));
                }
            })
        })
        .collect();
    let runner = CrewRunner::new(
        Crew::new("produce", tasks),
        threads as u64,
        Box::new((producer, log)),
    );
    prefilled(runner, RETAINED_RECORDS)
}
