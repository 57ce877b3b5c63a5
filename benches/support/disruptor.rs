//! Peer: `disruptor` (disruptor-rs), the strongest queue peer measured on the
//! reference VM. One producer: `build_single_producer`, one `try_publish` per
//! record at batch 1 or one `try_batch_publish` per batch; several producers:
//! `build_multi_producer`, a cloned `MultiProducer` each, the same calls. The
//! ring has [`RETAINED_RECORDS`] slots per engine partition (the engine's
//! steady-state record count) of pre-allocated `record_size`-byte buffers: a
//! borrowed record is copied into its slot (no allocation); an owned one
//! replaces the slot's buffer, and the buffer it replaces is dropped.
//!
//! One consumer, an `EventPoller` on a crew thread, reads every event of a
//! round (`black_box`ing its length) and sleeps [`POLLER_IDLE`] when it has
//! caught up, so it never busy-waits; a round ends when it has read all. A
//! producer that finds the ring full yields its core until the poller frees
//! slots (the `try_` calls; the plain ones would spin).

use std::hint::black_box;
use std::time::Duration;

use disruptor::{
    BusySpin, EventPoller, MultiProducerBarrier, Polling, Producer, SingleProducerBarrier,
};

use super::crew::{prefilled, task, Crew, CrewRunner, Task};
use super::payload::AppBuffer;
use super::shape::{AppendShape, Flavour};
use super::{PREFILL_LAPS, RETAINED_RECORDS};

/// How long the poller sleeps when it finds no event.
pub(crate) const POLLER_IDLE: Duration = Duration::from_micros(20);

/// The event in a ring slot: one record's bytes.
type Event = Vec<u8>;

/// Reads every available event, `black_box`ing each one's length; returns how
/// many (0 if none).
trait Drain: Send + 'static {
    fn drain(&mut self, max: u64) -> u64;
}

/// `Drain` for the pollers of both producer kinds (disruptor's barrier trait,
/// which `EventPoller::take` needs, is not public, so one impl per kind).
macro_rules! drain_for_poller {
    ($($barrier:ty),*) => {$(
        impl Drain for EventPoller<Event, $barrier> {
            #[inline]
            fn drain(&mut self, max: u64) -> u64 {
                match self.take(max) {
                    Ok(mut events) => {
                        let mut read = 0;
                        for event in &mut events {
                            black_box(event.len());
                            read += 1;
                        }
                        read
                    }
                    Err(Polling::NoEvents) => 0,
                    Err(Polling::Shutdown) => unreachable!("producers outlive the poller's rounds"),
                }
            }
        }
    )*};
}
drain_for_poller!(SingleProducerBarrier, MultiProducerBarrier);

/// The consumer: reads the round's `total` events.
fn polling(mut poller: impl Drain) -> Task {
    task(move |total: u64| {
        let mut read = 0;
        while read < total {
            let n = poller.drain(total - read);
            if n == 0 {
                std::thread::sleep(POLLER_IDLE);
            }
            read += n;
        }
    })
}

/// A producer thread publishing its share of `shape`'s records.
fn publishing<P: Producer<Event> + Send + 'static>(shape: AppendShape, mut producer: P) -> Task {
    let buffer = AppBuffer::new(shape.record_size, shape.batch);
    let mut staged: Vec<Vec<u8>> = Vec::with_capacity(shape.batch);
    task(move |total: u64| {
        for _ in 0..shape.batches_per_producer(total) {
            if shape.flavour == Flavour::Owned {
                staged.extend((0..shape.batch).map(|i| buffer.fresh(i)));
            }
            loop {
                let published = if shape.batch == 1 {
                    producer
                        .try_publish(|event| fill(event, &buffer, &mut staged, 0))
                        .is_ok()
                } else {
                    producer
                        .try_batch_publish(shape.batch, |events| {
                            for (index, event) in events.enumerate() {
                                fill(event, &buffer, &mut staged, index);
                            }
                        })
                        .is_ok()
                };
                if black_box(published) {
                    break;
                }
                std::thread::yield_now();
            }
            staged.clear();
        }
    })
}

/// Writes record `index` into `event`: a copy of the borrowed bytes, or the
/// owned buffer staged for it (the replaced buffer is dropped).
#[inline]
fn fill(event: &mut Event, buffer: &AppBuffer, staged: &mut [Vec<u8>], index: usize) {
    match staged.get_mut(index) {
        Some(owned) => *event = std::mem::take(owned),
        None => event.copy_from_slice(buffer.bytes(index)),
    }
}

/// `shape.producers` producers publishing `shape`'s records, one poller.
pub(crate) fn append(shape: AppendShape) -> CrewRunner {
    let slots = RETAINED_RECORDS as usize * shape.partitions();
    let factory = move || vec![0u8; shape.record_size];
    let mut tasks: Vec<Task> = Vec::with_capacity(shape.producers + 1);
    if shape.producers == 1 {
        let (poller, builder) =
            disruptor::build_single_producer(slots, factory, BusySpin).new_event_poller();
        tasks.push(publishing(shape, builder.build()));
        tasks.push(polling(poller));
    } else {
        let (poller, builder) =
            disruptor::build_multi_producer(slots, factory, BusySpin).new_event_poller();
        let producer = builder.build();
        for _ in 1..shape.producers {
            tasks.push(publishing(shape, producer.clone()));
        }
        tasks.push(publishing(shape, producer));
        tasks.push(polling(poller));
    }
    let runner = CrewRunner::new(Crew::new("disruptor", tasks), shape.unit(), Box::new(()))
        .busy(shape.producers);
    prefilled(
        runner,
        PREFILL_LAPS * RETAINED_RECORDS * shape.partitions() as u64,
    )
}
