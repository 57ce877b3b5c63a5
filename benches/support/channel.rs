//! Peer: `crossbeam-channel` bounded (the MPSC a Rust user picks first). Every
//! sender sends one message per record to ONE receiver thread, which receives,
//! `black_box`es and drops them. A channel stores nothing beyond its
//! [`CHANNEL_CAPACITY`], so it has no retained records to match. Senders park
//! on a full channel and the receiver on an empty one: no thread busy-waits.
//!
//! Messages: a borrowed record is copied into a `Bytes` (the channel needs an
//! owned message); an owned record travels as the application's `Vec<u8>` and
//! is freed by the receiver.

use std::hint::black_box;

use bytes::Bytes;
use crossbeam::channel;

use super::crew::{prefilled, task, Crew, CrewRunner, Task};
use super::payload::AppBuffer;
use super::shape::{AppendShape, Flavour};
use super::RETAINED_RECORDS;

/// Capacity of the bounded channels (messages).
pub(crate) const CHANNEL_CAPACITY: usize = 4096;

/// `shape.producers` senders of `shape`'s records (each batch as `batch`
/// messages) to one receiver.
pub(crate) fn append(shape: AppendShape) -> CrewRunner {
    match shape.flavour {
        Flavour::Borrowed => senders_to_one(shape, AppBuffer::copied),
        Flavour::Owned => senders_to_one(shape, AppBuffer::fresh),
    }
}

/// The senders build each message with `message(buffer, index)`.
fn senders_to_one<M, F>(shape: AppendShape, message: F) -> CrewRunner
where
    M: Send + 'static,
    F: Fn(&AppBuffer, usize) -> M + Copy + Send + 'static,
{
    let (sender, receiver) = channel::bounded::<M>(CHANNEL_CAPACITY);
    let mut tasks: Vec<Task> = (0..shape.producers)
        .map(|_| {
            let sender = sender.clone();
            let buffer = AppBuffer::new(shape.record_size, shape.batch);
            task(move |total: u64| {
                for _ in 0..shape.batches_per_producer(total) {
                    for index in 0..shape.batch {
                        sender
                            .send(message(&buffer, index))
                            .expect("receiver alive");
                    }
                }
            })
        })
        .collect();
    tasks.push(receiving(receiver));
    let runner = CrewRunner::new(Crew::new("channel", tasks), shape.unit(), Box::new(()))
        .busy(shape.producers);
    prefilled(runner, RETAINED_RECORDS)
}

/// Receives and drops every message of a round.
fn receiving<M: Send + 'static>(receiver: channel::Receiver<M>) -> Task {
    task(move |total: u64| {
        for _ in 0..total {
            black_box(receiver.recv().expect("senders alive"));
        }
    })
}

/// One sender of borrowed `record_size`-byte records (copied into `Bytes`), one
/// receiver: the channel as a tail.
pub(crate) fn tail(record_size: usize) -> CrewRunner {
    let (sender, receiver) = channel::bounded::<Bytes>(CHANNEL_CAPACITY);
    let buffer = AppBuffer::new(record_size, 1);
    let sending = task(move |total: u64| {
        for _ in 0..total {
            sender.send(buffer.copied(0)).expect("receiver alive");
        }
    });
    let runner = CrewRunner::new(
        Crew::new("channel-tail", vec![sending, receiving(receiver)]),
        1,
        Box::new(()),
    )
    .busy(1);
    prefilled(runner, RETAINED_RECORDS)
}
