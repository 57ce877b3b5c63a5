//! The producer client end to end: application threads -> `Producer::send`
//! (the record copied into its partition's open batch) -> flusher -> log,
//! until every record's delivery handle has completed. The application holds
//! its bytes in a reusable buffer; `send` borrows them and copies them once,
//! into the batch, as the channel peer copies each record once into a `Bytes`.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use idemlog::producer::{DeliveryHandle, Producer, ProducerConfig, ProducerRecord};

use super::crew::{prefilled, task, Crew, CrewRunner};
use super::engine::{bench_log, Holding};
use super::payload::AppBuffer;
use super::{RETAINED_RECORDS, TOPIC};

/// Delivery handles each sending thread keeps before it waits for the oldest.
pub(crate) const PRODUCE_OUTSTANDING: usize = 8192;

/// `threads` sending threads sharing one `Producer` with `config`, sending
/// `record_size`-byte values to a one-partition topic that retains
/// [`RETAINED_RECORDS`]. A round ends when each thread has flushed after its
/// last send and every one of its handles has completed (`black_box`ed).
pub(crate) fn end_to_end(threads: usize, record_size: usize, config: ProducerConfig) -> CrewRunner {
    // The producer's batches vary; at one record each they take the most room.
    let log = bench_log(1, Holding::retained(RETAINED_RECORDS, record_size, 1));
    let producer = Producer::new(&log, config).expect("producer");
    let tasks = (0..threads)
        .map(|_| {
            let producer = producer.clone();
            // Resolved once: a record `to` the handle skips the topic lookup.
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
                    let record = ProducerRecord::to(&topic).value(buffer.bytes(0));
                    pending.push_back(producer.send(record).expect("send"));
                }
                producer.flush(Duration::MAX).expect("flush");
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
